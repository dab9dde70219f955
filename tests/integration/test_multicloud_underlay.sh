#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The simulated multi-cloud's underlay (hack/multicloud.sh), before any skein
# code runs on it: NAT as the clouds do it, per-node wireguard-go sockets and
# mounts, a bare WireGuard tunnel across both NATs, a keepalive tunnel from a
# node nobody can reach, CNI plumbing for pods, and a clean teardown.
. "$(dirname "$0")/lib.sh"
need_root
need_tools wireguard-go wg jq python3 nft ping

export SKEIN_MC_PREFIX=${T_PREFIX}mc
. "$SKEIN_ROOT/hack/multicloud.sh"
on_exit mc_down

# Bad input is refused with a message naming it.
out=$(SKEIN_MC_PREFIX=Bad_Prefix "$SKEIN_ROOT/hack/multicloud.sh" up 2>&1)
check "bad prefix is refused by name" \
	test $? -ne 0 -a -z "$(ip netns list | grep Bad_Prefix)" -a "${out/Bad_Prefix/}" != "$out"
out=$(mc_node_exec nosuch true 2>&1)
check "unknown node is refused by name" test $? -ne 0 -a "${out/nosuch/}" != "$out"

# A set-up that fails half way, or is interrupted, leaves nothing behind.
(
	export SKEIN_MC_PREFIX=${T_PREFIX}mf
	. "$SKEIN_ROOT/hack/multicloud.sh"
	on_exit mc_down
	eval "orig_$(declare -f mc_node_up)"
	mc_node_up() { [ "$1" != gcp-2 ] && orig_mc_node_up "$1"; }
	! mc_up 2>/dev/null && [ -z "$(mc_list_ns)" ] && [ ! -e "$MC_STATE" ]
)
check "a set-up failing half way removes what it made" test $? -eq 0
(
	export SKEIN_MC_PREFIX=${T_PREFIX}mi
	. "$SKEIN_ROOT/hack/multicloud.sh"
	on_exit mc_down
	"$SKEIN_ROOT/hack/multicloud.sh" up 2>/dev/null &
	mc_wait 5 ip netns pids "$(mc_ns inet)" 2>/dev/null
	kill -TERM $!
	wait $!
	rc=$?
	[ "$rc" -eq 130 ] && [ -z "$(mc_list_ns)" ] && [ ! -e "$MC_STATE" ]
)
check "an interrupted set-up removes what it made" test $? -eq 0

if ! mc_up; then fail "multicloud up"; exit 1; fi
pass "multicloud up"

ns() { mc_ns "$1"; }
pings() { ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
quiet() { "$@" >/dev/null 2>&1; }

ok=1
for node in "${MC_NODES[@]}"; do
	loc=$(mc_node_location "$node")
	gw=${MC_ROUTER_LAN[$loc]:-203.0.113}.1
	pings "$(ns "$node")" "$gw" || { ok=0; echo "$node cannot reach its gateway $gw"; }
done
check "every node reaches its router" test $ok = 1
check "nodes of one location reach each other on their LAN" \
	pings "$(ns aws-1)" "$(mc_node_ip aws-2)"

# What the internet sees as each node's source address.
mc_listen "$(ns inet)" peer-tcp tcp 8000
mc_listen "$(ns cp)" apiserver-port tcp "$MC_APISERVER_PORT"
mc_wait 5 mc_probe "$(ns aws-1)" tcp "$MC_INTERNET_IP" 8000 >/dev/null
ok=1
for node in "${MC_NODES[@]}"; do
	want=$(mc_node_public_ip "$node")
	[ -n "$want" ] || want=${MC_ROUTER_WAN[$(mc_node_location "$node")]}
	got=$(mc_probe "$(ns "$node")" tcp "$MC_INTERNET_IP" 8000)
	[ "${got%:*}" = "$want" ] || { ok=0; echo "$node seen as '$got', want $want"; }
done
check "NATed nodes reach the internet as their router's (or 1:1) public address" test $ok = 1
ok=1
for node in "${MC_NODES[@]}"; do
	mc_probe "$(ns "$node")" tcp "$MC_APISERVER_IP" "$MC_APISERVER_PORT" >/dev/null ||
		{ ok=0; echo "$node cannot reach the control plane"; }
done
check "every node reaches the control plane at $MC_APISERVER_IP:$MC_APISERVER_PORT" test $ok = 1

# The public node is reachable; NATed nodes are not, except forwarded ports.
mc_listen "$(ns onprem-1)" peer-tcp tcp 8000
mc_listen "$(ns aws-1)" peer-tcp tcp 8000
mc_listen "$(ns aws-1)" peer-udp udp 51820
mc_listen "$(ns aws-2)" peer-tcp tcp 8000
mc_listen "$(ns home-1)" peer-udp udp 51820
mc_wait 5 mc_probe "$(ns aws-2)" tcp 203.0.113.11 8000 >/dev/null
got=$(mc_probe "$(ns aws-2)" tcp 203.0.113.11 8000)
check "public node reachable from a NATed node (seen as ${got%:*})" \
	test "${got%:*}" = "${MC_ROUTER_WAN[aws]}"
mc_wait 5 mc_probe "$(ns aws-2)" tcp "$(mc_node_ip aws-2)" 8000 >/dev/null
check "public node cannot reach a NATed node's private address" \
	test -z "$(mc_probe "$(ns onprem-1)" tcp "$(mc_node_ip aws-2)" 8000)"
check "NAT router forwards no unasked TCP" \
	test -z "$(mc_probe "$(ns onprem-1)" tcp "${MC_ROUTER_WAN[aws]}" 8000)"
check "home router forwards no WireGuard port" \
	test -z "$(mc_probe "$(ns onprem-1)" udp "${MC_ROUTER_WAN[home]}" 51820)"
check "leader's 1:1 public address does not forward TCP" \
	test -z "$(mc_probe "$(ns onprem-1)" tcp "$(mc_node_public_ip aws-1)" 8000)"
got=$(mc_probe "$(ns onprem-1)" udp "$(mc_node_public_ip aws-1)" 51820)
check "leader's WireGuard port is forwarded through its 1:1 NAT (peer seen as ${got%:*})" \
	test "${got%:*}" = 203.0.113.11
for node in aws-1 home-1; do mc_daemon_stop "$(ns "$node")" peer-udp; done

# A bare wireguard-go tunnel between two leaders, across both NATs.
if mc_bare_tunnel aws-1 gcp-1 wg0 51820 10.98.0; then
	pass "bare wireguard-go tunnel aws-1 <-> gcp-1 configured with wg"
	check "ping through the tunnel across both NATs" \
		quiet mc_wait 10 mc_node_exec aws-1 ping -c1 -W1 10.98.0.2
	got=$(mc_node_exec gcp-1 wg show wg0 endpoints | awk '{print $2}')
	check "gcp-1 sees aws-1 at its public endpoint ($got)" \
		test "$got" = "$(mc_node_endpoint aws-1)"
	check "each node's UAPI socket is in its own directory, none in /run/wireguard" \
		test -S "$(mc_wg_socket aws-1)" -a -S "$(mc_wg_socket gcp-1)" -a ! -e /run/wireguard/wg0.sock
else
	fail "bare wireguard-go tunnel aws-1 <-> gcp-1 configured with wg"
fi

# The NATed node dials out and keeps its mapping alive; the public node has
# no endpoint for it and answers through the mapping.
if mc_bare_tunnel home-1 onprem-1 wg1 51821 10.97.0; then
	check "public node pings the NATed node through its keepalive mapping" \
		quiet mc_wait 10 mc_node_exec onprem-1 ping -c1 -W1 10.97.0.1
	got=$(mc_node_exec onprem-1 wg show wg1 endpoints | awk '{print $2}')
	check "learned endpoint of the NATed node is its router's address ($got)" \
		test "${got%:*}" = "${MC_ROUTER_WAN[home]}"
else
	fail "keepalive tunnel home-1 <-> onprem-1"
fi

# Pod plumbing: the node's own CNI config, binaries and IPAM directory. The
# reference ptp + host-local plugins stand in for skein's until the agent
# writes its conflist.
node=aws-2
cidr=$(mc_node_pod_cidrs $node | head -1)
cat >"$(mc_node_dir $node)/cni-net.d/$MC_CONFLIST" <<EOF
{"cniVersion": "1.0.0", "name": "mc-underlay", "plugins": [
 {"type": "ptp", "ipMasq": false,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "$cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
 {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
out=$(mc_pod_add aws-1 nocfg 2>&1)
check "pod on a node without CNI config is refused naming the file" \
	test $? -ne 0 -a "${out/$MC_CONFLIST/}" != "$out" -a -z "$(ip netns list | grep -- -pod-nocfg)"
if mc_pod_add $node pod-a; then
	ip=$(mc_pod_ip pod-a)
	pass "pod added through $node's conflist ($ip)"
	check "pod address is from $node's pod CIDR" test "${ip%.*}.0/24" = "$cidr"
	check "IPAM state is in the node's own /var/lib/cni" \
		test -e "$(mc_node_dir $node)/cni-lib/networks/mc-underlay/$ip" -a ! -e "/var/lib/cni/networks/mc-underlay"
	check "pod reaches its node" pings "$(mc_pod_ns pod-a)" "$(mc_node_ip $node)"
	check "pod removed through CNI DEL releases its address" \
		eval 'mc_pod_del pod-a && test ! -e "$(mc_node_dir $node)/cni-lib/networks/mc-underlay/$ip"'
else
	fail "pod added through $node's conflist"
fi

# Teardown leaves nothing: namespaces, processes, mounts, state.
pids=$(for n in $(mc_list_ns); do ip netns pids "$n"; done)
state=$MC_STATE
mc_down
check "teardown removes every namespace with the prefix" test -z "$(mc_list_ns)"
left=""
for p in $pids; do [ -d "/proc/$p" ] && left+=" $p"; done
check "teardown stops every process it started (${pids//$'\n'/ })" test -z "$left"
check "teardown leaves no mount of the state directory" \
	eval '! grep -qs "$state" /proc/[0-9]*/mountinfo'
check "teardown removes the state directory" test ! -e "$state"
