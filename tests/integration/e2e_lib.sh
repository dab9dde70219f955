# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by the end-to-end scripts (test_e2e_*.sh): one simulated
# multi-cloud (hack/multicloud.sh) per script, its own namespace prefix,
# removed on exit. Source after lib.sh.

e2e_need_tools() {
	need_tools wireguard-go wg jq python3 nft ping ss "$@"
	[ -x "$BIN/skein-agent" ] && [ -x "$BIN/skein" ] ||
		{ fail "$(basename "$0" .sh): bin/skein-agent and bin/skein are not built (make)"; exit 1; }
}

# Source it at the top level (declare -A inside a function would be local):
#   export SKEIN_MC_PREFIX=...; . "$SKEIN_ROOT/hack/multicloud.sh"; e2e_multicloud_tweaks
# aws-2 gets an elastic IP of its own (198.51.100.12) like aws-1, as cloud
# nodes usually do: when aws-1 fails, the next leader of aws must be
# reachable from the other locations. (A location whose only public node
# dies has no reachable leader left; that is what the leader rule says.)
e2e_multicloud_tweaks() {
	# shellcheck disable=SC2034
	MC_NODE_PUBLIC_IP["aws-2"]=198.51.100.12 # read by hack/multicloud.sh
	on_exit mc_down
}

# e2e_pods: one pod per node (p-NODE) and a second one on aws-1 (p-aws-1b).
E2E_PODS=()
e2e_pods() {
	local node
	for node in "${MC_NODES[@]}"; do
		mc_pod_add "$node" "p-$node" >/dev/null || return 1
		E2E_PODS+=("p-$node")
	done
	mc_pod_add aws-1 p-aws-1b >/dev/null || return 1
	E2E_PODS+=(p-aws-1b)
}

# klite ARGS...: tests/apiserver/kubectl-lite as admin, from the control
# plane's namespace (only there is the API server routed).
klite() {
	ip netns exec "$(mc_ns cp)" "$SKEIN_ROOT/tests/apiserver/kubectl-lite" \
		--state-dir "$MC_STATE/apiserver" "$@"
}

# pod_pings POD DEST [TIMEOUT_S]: DEST answers a ping from POD within TIMEOUT_S (default 5).
pod_pings() {
	mc_wait "${3:-5}" mc_pod_exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1
}

# ns_pings NS DEST [TIMEOUT_S]
ns_pings() {
	mc_wait "${3:-5}" ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1
}

# now_ms: wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# node_pubkey NODE: the public key the node's agent published.
node_pubkey() {
	mc_api GET "/api/v1/nodes/$1" | jq -r '.metadata.annotations["skein.dev/public-key"] // empty'
}

# leader_of LOCATION: the node holding that location's tunnels (the one
# whose agent published a WireGuard IP).
leader_of() {
	mc_api GET /api/v1/nodes | jq -r --arg loc "$1" '.items[]
		| select(.metadata.annotations["skein.dev/location"] == $loc)
		| select(.metadata.annotations["skein.dev/wireguard-ip"] != null) | .metadata.name' | head -1
}

# ping_loss TAG_OUTPUT: from "TRANSMITTED RECEIVED" prints "LOST TRANSMITTED".
ping_lost() { awk '{print $1 - $2, $1}' <<<"$1"; }
