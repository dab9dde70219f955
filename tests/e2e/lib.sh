# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Helpers for the kind end-to-end tests (tests/e2e/test_*.sh), run by
# hack/kind-e2e.sh with KUBECONFIG pointing at the kind cluster and
# KIND_CLUSTER naming it. Cases print "PASS: name" / "FAIL: name" like the
# integration tests; a script ends with e2e_finish, non-zero when a case failed.
set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_NS=skein-e2e
SKEIN_NS=skein-system
SKEIN_CONFIGMAP=skein
SKEIN_DAEMONSET=${SKEIN_DAEMONSET:-skein}   # skein-userspace for the userspace variant
SKEIN_WG_IFNAME=skein0
E2E_TIMEOUT=${E2E_TIMEOUT:-60}   # seconds to wait for connectivity to settle
_e2e_failed=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; _e2e_failed=1; }
e2e_finish() { exit "$_e2e_failed"; }
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# retry SECONDS CMD...: runs CMD every 2 s until it succeeds or time is up.
retry() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 2
	done
}

# e2e_pods: "POD IP NODE" per line for the netexec DaemonSet's pods.
e2e_pods() {
	kubectl -n "$E2E_NS" get pods -l app=netexec -o \
		jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{"\n"}{end}'
}

e2e_deploy_workload() {
	kubectl apply -f "$E2E_DIR/workload.yaml" >/dev/null &&
		kubectl -n "$E2E_NS" rollout status daemonset/netexec --timeout=300s >/dev/null
}

# pod_sees_source SRC_POD SRC_IP DST_IP: TCP from SRC_POD to DST_IP, and the
# server saw SRC_IP (no NAT between pods).
pod_sees_source() {
	local got
	got=$(kubectl -n "$E2E_NS" exec "$1" -- curl -fsS --max-time 3 "http://$3:8080/clientip" 2>/dev/null)
	[ "${got%:*}" = "$2" ]
}

pod_pings() { kubectl -n "$E2E_NS" exec "$1" -- ping -c1 -W2 "$2" >/dev/null 2>&1; }

# check_pod_mesh LABEL: every pod reaches every other pod (TCP with its own
# source address, and ICMP), each pair retried until E2E_TIMEOUT.
check_pod_mesh() {
	local label=$1 src sip snode dst dip dnode pods
	pods=$(e2e_pods)
	[ "$(wc -l <<<"$pods")" -ge 2 ] || { fail "$label: fewer than two test pods"; return; }
	while read -r src sip snode; do
		while read -r dst dip dnode; do
			[ "$src" != "$dst" ] || continue
			check "$label: TCP $snode -> $dnode keeps the pod source address" \
				retry "$E2E_TIMEOUT" pod_sees_source "$src" "$sip" "$dip"
			check "$label: ICMP $snode -> $dnode" retry "$E2E_TIMEOUT" pod_pings "$src" "$dip"
		done <<<"$pods"
	done <<<"$pods"
}

# set_granularity location|full: the ConfigMap value, then a rolling restart
# of the agents (they read it as a flag).
set_granularity() {
	kubectl -n "$SKEIN_NS" patch configmap "$SKEIN_CONFIGMAP" --type merge \
		-p "{\"data\":{\"mesh-granularity\":\"$1\"}}" >/dev/null &&
		kubectl -n "$SKEIN_NS" rollout restart daemonset/"$SKEIN_DAEMONSET" >/dev/null &&
		kubectl -n "$SKEIN_NS" rollout status daemonset/"$SKEIN_DAEMONSET" --timeout=300s >/dev/null
}

# node_routes_via_tunnel NODE IP: the node's route to IP leaves through the
# WireGuard interface (kind nodes are containers: docker exec).
node_routes_via_tunnel() {
	docker exec "$1" ip route get "$2" 2>/dev/null | grep -q "dev $SKEIN_WG_IFNAME"
}

# pod_ip_on NODE: the test pod's address on NODE.
pod_ip_on() { e2e_pods | awk -v n="$1" '$3 == n {print $2; exit}'; }

# kind_nodes: the cluster's node names, sorted.
kind_nodes() { kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort; }

# e2e_annotate_locations: the sorted nodes split into two locations, loc-a
# (first half) and loc-b, the first node of each its leader. The tests rely
# on this layout: nodes 0,1 in loc-a (leader 0), nodes 2,3 in loc-b (leader 2).
e2e_annotate_locations() {
	local nodes i=0 n half loc
	mapfile -t nodes < <(kind_nodes)
	half=$(((${#nodes[@]} + 1) / 2))
	for n in "${nodes[@]}"; do
		if [ "$i" -lt "$half" ]; then loc="loc-a"; else loc="loc-b"; fi
		kubectl annotate --overwrite node "$n" "skein.dev/location=$loc" >/dev/null || return 1
		if [ "$i" -eq 0 ] || [ "$i" -eq "$half" ]; then
			kubectl annotate --overwrite node "$n" skein.dev/leader=true >/dev/null || return 1
		fi
		i=$((i + 1))
	done
}
