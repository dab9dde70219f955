#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the skein image with podman (or buildah), tagged as the manifests
# expect: ghcr.io/skein-dev/skein:VERSION (VERSION from lib/version.h).
#
#   hack/image.sh [debian|scratch]     (make image; IMAGE_FROM=debian|scratch)
#
# debian:  Containerfile, a multi-stage build on debian:12-slim that compiles
#          skein itself. Needs a registry with Debian base images.
# scratch: Containerfile.scratch, for machines that reach no image registry
#          (like the CI machines, which reach only Debian's apt mirror): the
#          binaries built here by `make`, the shared libraries `ldd` lists for
#          them, the dynamic loader, wireguard-go and the CNI plugin's host
#          tree (build/cni, for skein-agent --install-cni), FROM scratch.
# The default is debian when a debian:12-slim image is present locally,
# else scratch. WIREGUARD_GO=no leaves wireguard-go out (tag VERSION-kernel:
# for nodes whose kernel has WireGuard; the manifests' userspace variant
# runs wireguard-go from the default image).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^#define SKEIN_VERSION "\(.*\)"$/\1/p' "$ROOT/lib/version.h")
REPO=${IMAGE_REPO:-ghcr.io/skein-dev/skein}
WIREGUARD_GO=${WIREGUARD_GO:-yes}
TAG=$REPO:$VERSION
[ "$WIREGUARD_GO" = yes ] || TAG=$TAG-kernel

if command -v podman >/dev/null; then BUILD=(podman build); EXISTS=(podman image exists)
elif command -v buildah >/dev/null; then BUILD=(buildah bud); EXISTS=(buildah inspect --type image)
else echo "image: neither podman nor buildah is installed (apt-get install --no-install-recommends podman)" >&2; exit 1
fi

from=${1:-}
if [ -z "$from" ]; then
	if "${EXISTS[@]}" docker.io/library/debian:12-slim >/dev/null 2>&1; then from=debian; else from=scratch; fi
fi

# rootfs DIR: the scratch image's files.
stage_rootfs() {
	local dir=$1 bins=("$ROOT/bin/skein" "$ROOT/bin/skein-agent" "$ROOT/bin/skeinctl")
	[ "$WIREGUARD_GO" = yes ] && bins+=("$(command -v wireguard-go)")
	rm -rf "$dir" && mkdir -p "$dir/usr/local/bin" "$dir/etc" "$dir/tmp" "$dir/var/lib/skein" \
		"$dir/run/wireguard" "$dir/opt/cni/bin" "$dir/etc/cni/net.d"
	chmod 1777 "$dir/tmp"
	for b in "${bins[@]}"; do
		[ -x "$b" ] || { echo "image: $b missing (run make)" >&2; exit 1; }
		cp "$b" "$dir/usr/local/bin/"
		# Every library with its path, and the loader, as the binary asks for them.
		ldd "$b" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | while read -r lib; do
			mkdir -p "$dir$(dirname "$lib")"
			cp -L "$lib" "$dir$lib"
		done
	done
	# The launcher and bundle the init container installs on the host.
	[ -x "$ROOT/build/cni/skein" ] || { echo "image: $ROOT/build/cni missing (run make)" >&2; exit 1; }
	mkdir -p "$dir/usr/local/lib/skein"
	cp -a "$ROOT/build/cni" "$dir/usr/local/lib/skein/cni"
	[ -e "$dir/lib64" ] || [ ! -d "$dir/usr/lib64" ] || ln -s usr/lib64 "$dir/lib64"
	echo 'hosts: files dns' >"$dir/etc/nsswitch.conf"
	echo 'root:x:0:0:root:/:/nonexistent' >"$dir/etc/passwd"
}

case $from in
debian)
	"${BUILD[@]}" --build-arg "WIREGUARD_GO=$WIREGUARD_GO" -t "$TAG" -f "$ROOT/Containerfile" "$ROOT"
	;;
scratch)
	ctx=$ROOT/build/image
	stage_rootfs "$ctx/rootfs"
	cp "$ROOT/Containerfile.scratch" "$ctx/Containerfile"
	"${BUILD[@]}" -t "$TAG" -f "$ctx/Containerfile" "$ctx"
	;;
*) echo "image: unknown base \"$from\" (debian or scratch)" >&2; exit 2 ;;
esac
echo "image: built $TAG ($from)"
