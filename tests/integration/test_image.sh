#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The container image (hack/image.sh, `make image`): it builds here and its
# binaries run inside it. This machine reaches no image registry, so the
# image is the FROM scratch one (Containerfile.scratch: the binaries with the
# libraries ldd lists); the Debian multi-stage Containerfile is built only
# when a debian:12-slim image is present. Containers run with podman, or,
# where podman's runtime may not set rlimits (as in this sandbox), with
# `buildah run --isolation chroot`. Images get a tag of their own, removed
# on exit.
source "$(dirname "$0")/lib.sh"
need_root

if ! command -v podman >/dev/null && ! command -v buildah >/dev/null; then
	skip "image: neither podman nor buildah installed (apt-get install --no-install-recommends podman buildah)"
	exit 0
fi
for b in skein skein-agent skeinctl; do
	[ -x "$BIN/$b" ] || { fail "image: $BIN/$b not built (make)"; exit 1; }
done
VERSION=$(sed -n 's/^#define SKEIN_VERSION "\(.*\)"$/\1/p' "$SKEIN_ROOT/lib/version.h")
export IMAGE_REPO=localhost/$T_PREFIX-skein
IMAGE=$IMAGE_REPO:$VERSION
D=$(mktemp -d /tmp/skein-image.XXXXXX)
on_exit "rm -rf $D"
rmi() { if command -v podman >/dev/null; then podman rmi -f "$1"; else buildah rmi -f "$1"; fi; }
on_exit "rmi $IMAGE; rmi $IMAGE-kernel"

check "image builds (hack/image.sh scratch)" bash -c "'$SKEIN_ROOT/hack/image.sh' scratch >'$D/build.log' 2>&1"
tail -1 "$D/build.log"

# How containers run here: podman, or, where its runtime may not set
# rlimits (as in this sandbox), buildah's chroot isolation (which shares the
# host's network; the commands below use none).
if command -v podman >/dev/null && podman run --rm --network=none "$IMAGE" skein-agent --version \
	>/dev/null 2>"$D/podman.err"; then
	RUNNER=podman
	report "image: containers run with podman run --network=none"
else
	RUNNER=buildah
	report "image: containers run with buildah run --isolation chroot (podman run: $(head -1 "$D/podman.err" 2>/dev/null))"
fi
in_image() { # [-e VAR=VALUE] [-v HOST-DIR:DIR] IMAGE CMD...
	local opts=() c rc image
	while [ "$1" = -e ] || [ "$1" = -v ]; do
		case $1 in -e) opts+=(--env "$2") ;; -v) opts+=(--volume "$2") ;; esac
		shift 2
	done
	image=$1; shift
	if [ "$RUNNER" = podman ]; then podman run --rm --network=none "${opts[@]}" "$image" "$@"; return; fi
	c=$(buildah from "$image") || return 1
	buildah run --isolation chroot "${opts[@]}" "$c" -- "$@"; rc=$?
	buildah rm "$c" >/dev/null
	return $rc
}
check "skein-agent --version runs inside the image" \
	[ "$(in_image "$IMAGE" skein-agent --version)" = "skein-agent $VERSION" ]
check "skeinctl runs inside the image" [ "$(in_image "$IMAGE" skeinctl version)" = "skeinctl $VERSION" ]
check "the CNI plugin answers VERSION inside the image" \
	grep -q supportedVersions <<<"$(in_image -e CNI_COMMAND=VERSION "$IMAGE" skein 2>&1)"
check "wireguard-go is in the image (the userspace DaemonSet's sidecar)" \
	grep -q "wireguard-go v" <<<"$(in_image "$IMAGE" wireguard-go --version)"
# The init container's job: the image installs the plugin into a host
# directory, where it then runs with no library but its bundle's (a chroot
# whose root holds only the CNI bin dir).
mkdir -p "$D/host/opt/cni/bin"
check "the image installs the CNI plugin (skein-agent --install-cni, as the init container)" \
	in_image -v "$D/host/opt/cni/bin:/host/opt/cni/bin" "$IMAGE" skein-agent --install-cni=/host/opt/cni/bin
check "...which answers VERSION in a chroot holding nothing else" \
	[ "$(env -i CNI_COMMAND=VERSION "$(command -v chroot)" "$D/host" /opt/cni/bin/skein | jq -r .cniVersion)" = 1.1.0 ]
size=$( (podman image inspect --format '{{.Size}}' "$IMAGE" 2>/dev/null || buildah inspect --format '{{.Size}}' "$IMAGE") | head -1)
report "image: $IMAGE is $((size / 1024 / 1024)) MiB"

check "WIREGUARD_GO=no builds the kernel-only image" \
	bash -c "WIREGUARD_GO=no '$SKEIN_ROOT/hack/image.sh' scratch >'$D/build-kernel.log' 2>&1"
check "...which runs skein-agent but has no wireguard-go" \
	[ "$(in_image "$IMAGE-kernel" skein-agent --version)" = "skein-agent $VERSION" -a \
	  -z "$(in_image "$IMAGE-kernel" wireguard-go --version 2>/dev/null)" ]

if (podman image exists docker.io/library/debian:12-slim || buildah inspect --type image docker.io/library/debian:12-slim) >/dev/null 2>&1; then
	check "the Debian Containerfile builds" bash -c "'$SKEIN_ROOT/hack/image.sh' debian >'$D/build-debian.log' 2>&1"
else
	skip "image: Containerfile (Debian multi-stage) not built: no debian:12-slim image here and no registry to pull it from"
fi
exit 0
