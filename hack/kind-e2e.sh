#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test on a kind cluster (needs Docker, kind and kubectl):
#   1. a 4-node kind cluster without a default CNI (tests/e2e/kind-config.yaml);
#   2. the skein image built from the Containerfile, tagged as the manifests
#      name it, and loaded into the nodes (no registry involved);
#   3. nodes annotated into two locations with a leader each;
#   4. `kubectl apply -f manifests/` (plus manifests/userspace/ with
#      SKEIN_E2E_WIREGUARD=userspace, for Docker hosts without the
#      wireguard kernel module), then every node must turn Ready, which
#      it only does once skein's CNI config is in place;
#   5. tests/e2e/test_*.sh: pod-to-pod checks across nodes and a
#      location -> full -> location granularity switch.
# The cluster is deleted at the end, on failure and on Ctrl-C, unless
# KEEP_CLUSTER=1.
#
# Env: KIND_CLUSTER (default skein-e2e), KIND_NODE_IMAGE (kindest/node image,
# default: kind's own; Kubernetes >= 1.29 for the userspace variant's native
# sidecar), SKEIN_E2E_WIREGUARD (kernel|userspace, default kernel),
# KEEP_CLUSTER, E2E_TIMEOUT (seconds per connectivity check, default 60).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER=${KIND_CLUSTER:-skein-e2e}
WIREGUARD=${SKEIN_E2E_WIREGUARD:-kernel}
KEEP=${KEEP_CLUSTER:-0}

say() { echo "kind-e2e: $*" >&2; }
die() { say "$*"; exit 1; }

for tool in docker kind kubectl; do
	command -v "$tool" >/dev/null || die "needs $tool in PATH"
done
case "$WIREGUARD" in kernel | userspace) ;; *) die "SKEIN_E2E_WIREGUARD must be kernel or userspace, not '$WIREGUARD'" ;; esac
[ -f "$ROOT/Containerfile" ] || die "no $ROOT/Containerfile to build the image from"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
	die "a kind cluster named $CLUSTER exists already (kind delete cluster --name $CLUSTER)"
fi

# The image the manifests run, built locally under that very name.
image=$(grep -h '^ *image: *ghcr.io/skein-dev/skein' "$ROOT"/manifests/*.yaml "$ROOT"/manifests/userspace/*.yaml | awk '{print $2}' | sort -u)
[ "$(wc -l <<<"$image")" -eq 1 ] && [ -n "$image" ] ||
	die "expected one skein image in manifests/*.yaml, found: ${image:-none}"

work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig KIND_CLUSTER=$CLUSTER
cleanup() {
	local rc=$?
	if [ "$KEEP" = 1 ]; then
		say "keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG)"
	else
		kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building $image"
docker build -t "$image" -f "$ROOT/Containerfile" "$ROOT" >&2

say "creating cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --config "$ROOT/tests/e2e/kind-config.yaml" \
	--kubeconfig "$KUBECONFIG" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 0s >&2
kind load docker-image "$image" --name "$CLUSTER" >&2

# shellcheck source=tests/e2e/lib.sh
. "$ROOT/tests/e2e/lib.sh"
e2e_annotate_locations || die "cannot annotate nodes"

say "applying manifests/ ($WIREGUARD WireGuard)"
if [ "$WIREGUARD" = userspace ]; then
	for n in $(kind_nodes); do kubectl label --overwrite node "$n" skein.dev/wireguard=userspace >/dev/null; done
	kubectl apply -f "$ROOT/manifests/" -f "$ROOT/manifests/userspace/" >&2
	ds=skein-userspace
else
	kubectl apply -f "$ROOT/manifests/" >&2
	ds=$SKEIN_DAEMONSET
fi
kubectl -n "$SKEIN_NS" rollout status "daemonset/$ds" --timeout=300s >&2 ||
	{ kubectl -n "$SKEIN_NS" logs -l app.kubernetes.io/name=skein --all-containers --tail=50 >&2; die "agents did not start"; }
kubectl wait --for=condition=Ready node --all --timeout=300s >&2 ||
	die "nodes did not turn Ready (is the CNI config written?)"

failed=0
for t in "$ROOT"/tests/e2e/test_*.sh; do
	say "running $(basename "$t")"
	SKEIN_DAEMONSET=$ds bash "$t" || failed=1
done
if [ "$failed" -ne 0 ]; then
	kubectl -n "$SKEIN_NS" logs -l app.kubernetes.io/name=skein --all-containers --tail=30 >&2 || true
	die "FAILED"
fi
say "all passed"
