#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The skein demo (`make demo`): a simulated multi-cloud on this machine
# (hack/multicloud.sh: clouds aws and gcp behind NAT, a home site with no
# inbound path, an on-prem node with a public address), skein-agent on every
# node with its own wireguard-go, a pod on every node wired by the skein CNI
# plugin, then the topology and live pod-to-pod checks across locations.
# The cluster stays up for exploring until `hack/demo.sh down`.
#
# usage: hack/demo.sh [up|down|status|exec NODE CMD...|pod POD CMD...]
# Needs root. Everything lives in network namespaces named demo-*
# (SKEIN_DEMO_PREFIX); the root namespace's links, routes, rules and
# nftables are not touched, and no traffic leaves those namespaces.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SKEIN_MC_PREFIX=${SKEIN_DEMO_PREFIX:-demo}
# shellcheck source=hack/multicloud.sh
. "$ROOT/hack/multicloud.sh"
OUT=$ROOT/build/$SKEIN_MC_PREFIX   # build/demo by default
SKEINCTL=$ROOT/bin/skeinctl

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# skeinctl_admin ARGS...: skeinctl as the cluster admin, from the control
# plane's namespace (the API server is only routed there).
skeinctl_admin() {
	ip netns exec "$(mc_ns cp)" "$SKEINCTL" "$@" --kubeconfig "$MC_STATE/apiserver/admin.kubeconfig"
}

build_if_needed() {
	[ -x "$ROOT/bin/skein-agent" ] && [ -x "$ROOT/bin/skein" ] && [ -x "$SKEINCTL" ] && return 0
	say "building"
	make -C "$ROOT" all >/dev/null || die "make failed"
}

check_tools() {
	local t missing=()
	for t in wireguard-go wg jq python3 nft ping curl; do command -v "$t" >/dev/null || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run hack/install-deps.sh (or make demo)"
}

show_topology() {
	say "topology (skeinctl graph)"
	mkdir -p "$OUT"
	if ! skeinctl_admin graph >"$OUT/topology.dot"; then
		echo "skeinctl graph failed"
		return 0
	fi
	cat "$OUT/topology.dot"
	if command -v dot >/dev/null && dot -Tsvg "$OUT/topology.dot" -o "$OUT/topology.svg"; then
		echo "rendered: $OUT/topology.svg"
	else
		echo "(install graphviz to get it as SVG: apt-get install --no-install-recommends graphviz)"
	fi
}

# live_checks: every pod pings every other pod (RTT in ms, or FAIL), then
# TCP from a pod in each location to a pod in another, showing the source
# address the far side sees (the pod's own: no NAT between pods), and one
# connection to the "internet" (masqueraded to the node's public address).
live_checks() {
	local a b rtt pods=() seen failed=0
	for a in "${MC_NODES[@]}"; do pods+=("web-$a"); done
	say "live pod-to-pod checks (ping RTT in ms)"
	printf '%-14s' "from \\ to"
	for b in "${pods[@]}"; do printf '%-14s' "${b#web-}"; done
	echo
	for a in "${pods[@]}"; do
		printf '%-14s' "${a#web-}"
		for b in "${pods[@]}"; do
			rtt=$(mc_pod_exec "$a" ping -c2 -i0.2 -W2 "$(mc_pod_ip "$b")" 2>/dev/null |
				sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p')
			[ -n "$rtt" ] || { rtt=FAIL; failed=1; }
			printf '%-14s' "$rtt"
		done
		echo
	done
	say "TCP: what the other side sees as the client's address"
	for b in "${pods[@]}"; do mc_listen "$(mc_pod_ns "$b")" "listen-$b" tcp 8080; done
	mc_listen "$(mc_ns inet)" listen-internet tcp 8080
	sleep 0.5
	for pair in "web-aws-2 web-gcp-2" "web-gcp-2 web-home-1" "web-home-1 web-onprem-1" "web-onprem-1 web-aws-1"; do
		read -r a b <<<"$pair"
		seen=$(mc_probe "$(mc_pod_ns "$a")" tcp "$(mc_pod_ip "$b")" 8080)
		printf '  %-14s %-15s -> %-14s %-15s sees %s\n' "$a" "$(mc_pod_ip "$a")" "$b" "$(mc_pod_ip "$b")" "${seen:-FAIL}"
		[ -n "$seen" ] || failed=1
	done
	seen=$(mc_probe "$(mc_pod_ns web-aws-2)" tcp "$MC_INTERNET_IP" 8080)
	printf '  %-14s %-15s -> internet %-15s sees %s (masqueraded by aws NAT)\n' web-aws-2 "$(mc_pod_ip web-aws-2)" "$MC_INTERNET_IP" "${seen:-FAIL}"
	for b in "${pods[@]}" internet; do
		if [ "$b" = internet ]; then mc_daemon_stop "$(mc_ns inet)" listen-internet
		else mc_daemon_stop "$(mc_pod_ns "$b")" "listen-$b"; fi
	done
	return $failed
}

show_status() {
	say "skeinctl status on aws-1 (the leader of aws)"
	mc_node_exec aws-1 "$SKEINCTL" status
}

explain() {
	cat <<EOF

The demo cluster stays up. Look around:
  $0 status                          namespaces, processes, pods and their IPs
  $0 exec aws-1 skeinctl status      aws-1's WireGuard peers, named by location
  $0 exec aws-2 ip route show table all
  $0 exec gcp-1 nft list table inet skein
  $0 exec home-1 wg show
  $0 pod web-aws-2 ping $(mc_pod_ip web-gcp-2)     (pod on aws-2 -> pod on gcp-2)
  ip netns exec $(mc_pod_ns web-home-1) bash       a shell inside the pod on home-1
  ip netns exec $(mc_ns cp) kubectl --kubeconfig $MC_STATE/apiserver/admin.kubeconfig get nodes
Agent logs: $MC_STATE/nodes/NODE/log/agent.log
Topology:   $OUT/topology.dot$( [ -f "$OUT/topology.svg" ] && echo " and $OUT/topology.svg")
Tear it down (removes every demo namespace, process and file in $MC_STATE):
  $0 down
EOF
}

demo_up() {
	local node
	[ "$(id -u)" -eq 0 ] || die "needs root (it creates network namespaces)"
	check_tools
	build_if_needed
	[ -z "$(mc_list_ns)" ] || die "a demo is running already: '$0 down' first (or '$0 status')"
	trap 'echo; echo "demo: interrupted, removing it"; mc_down; exit 130' INT TERM
	say "simulated multi-cloud: namespaces $SKEIN_MC_PREFIX-*"
	mc_up || { mc_down; die "set-up failed"; }
	sed -n '/^#   internet/,/^#     onprem-1/p' "$ROOT/hack/multicloud.sh" | sed 's/^#//'
	say "test API server, Node objects, skein-agent on every node"
	mc_cluster_up || { mc_down; die "agents did not come up"; }
	for node in "${MC_NODES[@]}"; do
		echo "  $node: location $(mc_node_location "$node"), pod CIDR $(mc_node_pod_cidrs "$node" | head -1)"
	done
	say "a pod on every node, wired by the skein CNI plugin"
	for node in "${MC_NODES[@]}"; do
		mc_pod_add "$node" "web-$node" >/dev/null || { mc_down; die "pod on $node failed"; }
		echo "  web-$node on $node: $(mc_pod_ip "web-$node")  (namespace $(mc_pod_ns "web-$node"))"
	done
	trap - INT TERM
	local ok=0
	live_checks || ok=1
	show_topology
	show_status
	explain
	[ $ok = 0 ] || { echo "demo: some checks FAILED (see above; agent logs in $MC_STATE/nodes/*/log)"; return 1; }
}

case "${1:-up}" in
up) demo_up ;;
down) mc_down; echo "demo: removed" ;;
status) mc_status ;;
exec)
	shift
	[ $# -ge 2 ] || die "usage: $0 exec NODE CMD..."
	node=$1; shift
	# skeinctl in a node: the one built here.
	[ "$1" != skeinctl ] || set -- "$SKEINCTL" "${@:2}"
	mc_node_exec "$node" "$@"
	;;
pod)
	shift
	[ $# -ge 2 ] || die "usage: $0 pod POD CMD..."
	pod=$1; shift
	[ -f "$MC_STATE/pods/$pod.node" ] || die "no pod '$pod' (see $0 status)"
	mc_pod_exec "$pod" "$@"
	;;
*) die "usage: $0 [up|down|status|exec NODE CMD...|pod POD CMD...]" ;;
esac
