#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end on the simulated multi-cloud (hack/multicloud.sh, docs/e2e.md)
# with the real agent, CNI plugin, wireguard-go and nftables:
#   - pod to pod over ICMP and TCP: same node, same location, across
#     locations through the leaders, to and from the NATed home-1, each
#     listener seeing the client pod's own address;
#   - pod to a node of another location (no NAT), pod to the internet
#     (masqueraded: the listener sees the node's or router's address);
#   - an external peer (a "laptop" on the internet) configured from a Peer
#     object reaches every pod;
#   - a node leaving takes its peers and routes away everywhere; joining
#     again, the time from its Node object to the first pod packet;
#   - clean-up: after every agent stops (SIGTERM, --clean-up default true)
#     every node namespace is byte for byte as before the agents started.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/e2e_lib.sh"
need_root
e2e_need_tools

export SKEIN_MC_PREFIX=${T_PREFIX}c
. "$SKEIN_ROOT/hack/multicloud.sh"
e2e_multicloud_tweaks

# snapshot NODE: everything an agent may change in its node's namespace.
snapshot() {
	local ns
	ns=$(mc_ns "$1")
	{
		ip -n "$ns" -d link show
		ip -n "$ns" addr show
		ip -n "$ns" -4 route show table all
		ip -n "$ns" -6 route show table all
		ip -n "$ns" -4 rule show
		ip -n "$ns" -6 rule show
		ip netns exec "$ns" nft list ruleset
	} 2>/dev/null # ip complains about other tests' namespaces vanishing meanwhile
}

mc_up || { fail "multicloud up"; exit 1; }
# IPv6 duplicate address detection must be over, or the link-local
# addresses change state (and gain local routes) between the snapshots.
dad_done() { local n; for n in "${MC_NODES[@]}"; do ! ip -n "$(mc_ns "$n")" addr | grep -q tentative || return 1; done; }
mc_wait 10 dad_done || echo "IPv6 DAD still running in some node"
snapdir=$MC_STATE/snapshots
mkdir -p "$snapdir"
for node in "${MC_NODES[@]}"; do snapshot "$node" >"$snapdir/$node.before"; done
mc_cluster_up --resync-period=5s || { fail "cluster up (agents on every node)"; exit 1; }
e2e_pods || { fail "pods on every node through the CNI config the agents wrote"; exit 1; }
pass "cluster up: 6 agents, ${#E2E_PODS[@]} pods"

# ------------------------------------------------------------- pod to pod
for p in "${E2E_PODS[@]}"; do mc_listen "$(mc_pod_ns "$p")" "listen-$p" tcp 8080; done
ready() { local p; for p in "${E2E_PODS[@]}"; do ip netns exec "$(mc_pod_ns "$p")" ss -Hltn 'sport = :8080' | grep -q . || return 1; done; }
mc_wait 10 ready || fail "listeners in every pod"

# pair_ok FROM TO: ICMP, and TCP with the source address kept.
pair_icmp() { pod_pings "$1" "$(mc_pod_ip "$2")" "${3:-5}"; }
pair_tcp() {
	local seen
	seen=$(mc_probe "$(mc_pod_ns "$1")" tcp "$(mc_pod_ip "$2")" 8080)
	[ "${seen%:*}" = "$(mc_pod_ip "$1")" ] || { echo "$1 -> $2: listener saw '${seen}'"; return 1; }
}
pair_case() { # NAME FROM TO
	check "$1 ICMP ($2 -> $3)" pair_icmp "$2" "$3" 10
	check "$1 TCP keeps the pod's source address ($2 -> $3)" pair_tcp "$2" "$3"
}
pair_case "same node" p-aws-1 p-aws-1b
pair_case "same location, other node" p-aws-2 p-aws-1
pair_case "same location, other node" p-gcp-1 p-gcp-2
pair_case "other location, member to member through both leaders" p-aws-2 p-gcp-2
pair_case "other location, leader to leader" p-gcp-1 p-onprem-1
pair_case "to the NATed node" p-gcp-2 p-home-1
pair_case "from the NATed node" p-home-1 p-aws-2
pair_case "from the NATed node to a public node" p-home-1 p-onprem-1

# Every pod to every other pod, both protocols.
bad=()
for a in "${E2E_PODS[@]}"; do
	for b in "${E2E_PODS[@]}"; do
		[ "$a" != "$b" ] || continue
		pair_icmp "$a" "$b" 3 || bad+=("icmp:$a->$b")
		pair_tcp "$a" "$b" >/dev/null || bad+=("tcp:$a->$b")
	done
done
check "every pod reaches every pod, ICMP and TCP with its own address (${#E2E_PODS[@]}x$((${#E2E_PODS[@]} - 1)))" \
	test ${#bad[@]} -eq 0
[ ${#bad[@]} -eq 0 ] || echo "failed pairs: ${bad[*]}"

# ------------------------------------------------- pod to node, internet
mc_listen "$(mc_ns gcp-2)" listen-node tcp 8081
mc_listen "$(mc_ns inet)" listen-inet tcp 8082
mc_wait 5 sh -c "ip netns exec $(mc_ns inet) ss -Hltn 'sport = :8082' | grep -q ." || true
check "pod to a node of another location: ICMP (p-aws-2 -> gcp-2)" pod_pings p-aws-2 "$(mc_node_ip gcp-2)"
seen=$(mc_probe "$(mc_pod_ns p-aws-2)" tcp "$(mc_node_ip gcp-2)" 8081)
check "pod to a node of another location: TCP keeps the pod's address (saw ${seen:-nothing})" \
	test "${seen%:*}" = "$(mc_pod_ip p-aws-2)"
masq_ok=1
for node in "${MC_NODES[@]}"; do
	want=$(mc_node_public_ip "$node")
	[ -n "$want" ] || want=${MC_ROUTER_WAN[$(mc_node_location "$node")]}
	seen=$(mc_probe "$(mc_pod_ns "p-$node")" tcp "$MC_INTERNET_IP" 8082)
	echo "p-$node -> internet: seen as ${seen:-nothing} (want $want)"
	[ "${seen%:*}" = "$want" ] || masq_ok=0
done
check "pod to the internet is masqueraded (the listener sees the node's public or its router's address)" \
	test $masq_ok = 1

# ----------------------------------------------------------- external peer
# A laptop on the internet with its own wireguard-go (its own UAPI socket
# directory, bind-mounted in a private mount namespace) and a Peer object.
laptop=$(mc_ns laptop) lapdir=$MC_STATE/laptop laptop_ip=198.51.100.50
lap() { ip netns exec "$laptop" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$lapdir/run" "$@"; }
# wg-quick's own fields are not wg's: strip them as wg-quick does, and the
# interface's key and port, which are the laptop's own.
strip_wg_quick() { grep -viE '^[[:space:]]*(Address|DNS|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig|PrivateKey|ListenPort)[[:space:]]*='; }
# conf_from_api: the peer's [Peer] sections built from the Node annotations,
# used only while bin/skeinctl does not exist yet.
conf_from_api() {
	mc_api GET /api/v1/nodes | jq -r '
	  [.items[] | {loc: .metadata.annotations["skein.dev/location"], a: .metadata.annotations, cidrs: .spec.podCIDRs}]
	  | group_by(.loc)[] | . as $nodes
	  | ($nodes[] | select(.a["skein.dev/wireguard-ip"] != null)) as $l
	  | "[Peer]\nPublicKey = \($l.a["skein.dev/public-key"])\nAllowedIPs = \(([$nodes[].cidrs[]] + [($l.a["skein.dev/wireguard-ip"] | sub("/.*"; "/32"))]) | join(", "))"
	    + (if $l.a["skein.dev/persistent-keepalive"] == null then "\nEndpoint = \($l.a["skein.dev/endpoint"])" else "" end)
	    + "\nPersistentKeepalive = 25\n"'
}
laptop_up() {
	mkdir -p "$lapdir/run" &&
		mc_netns_add "$laptop" &&
		mc_wire "$(mc_ns inet)" to-laptop "$laptop" eth0 &&
		ip -n "$(mc_ns inet)" link set to-laptop master clouds &&
		ip -n "$laptop" addr add "$laptop_ip/24" dev eth0 &&
		ip -n "$laptop" route add default via "$MC_INTERNET_IP" &&
		(umask 077 && wg genkey >"$lapdir/private.key") &&
		klite peer add laptop --public-key "$(wg pubkey <"$lapdir/private.key")" \
			--allowed-ip 10.5.0.1/32 --endpoint "$laptop_ip:51820" >/dev/null &&
		mc_ns_daemon "$laptop" wireguard-go "$MC_STATE/log" sh -c \
			'mount --bind "$0" /run/wireguard && exec wireguard-go -f wg0' "$lapdir/run" &&
		mc_wait 5 test -S "$lapdir/run/wg0.sock"
}
laptop_conf() { # -> $lapdir/showconf (as printed) and $lapdir/wg.conf (for wg setconf)
	if [ -x "$BIN/skeinctl" ]; then
		ip netns exec "$(mc_ns cp)" "$BIN/skeinctl" showconf peer laptop \
			--kubeconfig "$MC_STATE/apiserver/admin.kubeconfig" >"$lapdir/showconf" || return 1
		conf_source="skeinctl showconf peer laptop"
	else
		{ printf '[Interface]\nAddress = 10.5.0.1/32\n\n'; conf_from_api; } >"$lapdir/showconf" || return 1
		conf_source="the Node annotations (bin/skeinctl is not built yet)"
	fi
	{
		if ! grep -qi '^\[Interface\]' "$lapdir/showconf"; then printf '[Interface]\n'; fi
		strip_wg_quick <"$lapdir/showconf" |
			sed "s|^\[Interface\].*|[Interface]\nPrivateKey = $(cat "$lapdir/private.key")\nListenPort = 51820|I"
	} >"$lapdir/wg.conf"
}
laptop_apply() {
	local cidr endpoints
	lap wg setconf wg0 "$lapdir/wg.conf" || return 1
	for cidr in $(sed -n 's/^[[:space:]]*Address[[:space:]]*=//Ip' "$lapdir/showconf" | tr ',' ' '); do
		ip -n "$laptop" addr add "$cidr" dev wg0 || return 1
	done
	ip -n "$laptop" link set wg0 up || return 1
	# A route over the tunnel to a peer's own endpoint would loop its
	# packets into the tunnel (onprem-1's private IP is its endpoint); the
	# agent leaves such routes out too.
	endpoints=$(sed -n 's/^[[:space:]]*Endpoint[[:space:]]*=[[:space:]]*\(.*\):[0-9]*$/\1\/32/Ip' "$lapdir/wg.conf")
	for cidr in $(sed -n 's/^[[:space:]]*AllowedIPs[[:space:]]*=//Ip' "$lapdir/wg.conf" | tr ',' ' '); do
		if grep -qxF "$cidr" <<<"$endpoints"; then
			report "external peer: no route for $cidr over the tunnel, it is a peer's endpoint (showconf lists it in AllowedIPs)"
			continue
		fi
		ip -n "$laptop" route replace "$cidr" dev wg0 || return 1
	done
}
laptop_is_peer_of_leaders() {
	local key node
	key=$(wg pubkey <"$lapdir/private.key")
	for node in aws-1 gcp-1 home-1 onprem-1; do
		mc_node_exec "$node" wg show skein0 peers | grep -qF "$key" || return 1
	done
}
# Separate checks, so a slow set-up on a loaded machine is told apart from
# a Peer the agents did not pick up (they resync every 5 s, so 30 s is ample).
if ! laptop_up; then
	fail "external peer: laptop namespace, Peer object and its wireguard-go"
elif mc_wait 30 laptop_is_peer_of_leaders; then
	pass "external peer: the Peer object is a peer of the leaders"
else
	fail "external peer: the Peer object is a peer of the leaders"
	for node in aws-1 gcp-1 home-1 onprem-1; do
		echo "$node peers: $(mc_node_exec "$node" wg show skein0 peers | tr '\n' ' ')"
	done
fi
if laptop_conf && laptop_apply; then
	pass "external peer: config from $conf_source applied with wg setconf"
	report "external peer config from $conf_source"
else
	fail "external peer: config from ${conf_source:-skeinctl} applied with wg setconf"
fi
bad=()
for p in "${E2E_PODS[@]}"; do
	ns_pings "$laptop" "$(mc_pod_ip "$p")" 10 || { bad+=("icmp:$p"); continue; }
	seen=$(mc_probe "$laptop" tcp "$(mc_pod_ip "$p")" 8080)
	[ "${seen%:*}" = 10.5.0.1 ] || bad+=("tcp:$p(saw $seen)")
done
check "external peer reaches every pod (ICMP, and TCP seen from its own address 10.5.0.1)" test ${#bad[@]} -eq 0
[ ${#bad[@]} -eq 0 ] || echo "laptop failed: ${bad[*]}"

# ------------------------------------------------------- node leave, join
# onprem-1 leaves: its Node object goes (its agent and pods with it).
leaver=onprem-1 leaver_cidr=10.244.6.0/24
leaver_key=$(node_pubkey "$leaver")
known_everywhere() { # every other node routes its pod CIDR, every leader has its peer
	local node
	for node in "${MC_NODES[@]}"; do
		[ "$node" != "$leaver" ] || continue
		ip -n "$(mc_ns "$node")" route show table all | grep -q "^${leaver_cidr%/*}" || return 1
	done
	for node in aws-1 gcp-1 home-1; do
		mc_node_exec "$node" wg show skein0 peers | grep -qF "$leaver_key" || return 1
	done
}
check "before removal: every node routes $leaver's pod CIDR, every leader has its peer" \
	test -n "$leaver_key" -a -n "$(known_everywhere && echo yes)"
mc_pod_del "p-$leaver" >/dev/null
mc_agent_stop "$leaver"
mc_wg_stop "$leaver" skein0
mc_unregister_node "$leaver"
gone_everywhere() {
	local node
	for node in "${MC_NODES[@]}"; do
		[ "$node" != "$leaver" ] || continue
		if mc_node_exec "$node" wg show skein0 peers 2>/dev/null | grep -qF "$leaver_key"; then return 1; fi
		if ip -n "$(mc_ns "$node")" route show table all | grep -q "^${leaver_cidr%/*}"; then return 1; fi
	done
}
t0=$(now_ms)
if mc_wait 15 gone_everywhere; then
	pass "node removal: its peer and its pod CIDR's routes are gone from every node"
	report "node removal: peers and routes gone everywhere $(($(now_ms) - t0)) ms after the Node object was deleted"
else
	fail "node removal: its peer and its pod CIDR's routes are gone from every node"
	for node in aws-1 gcp-1 home-1; do mc_node_exec "$node" wg show skein0 | grep -A3 -F "$leaver_key"; done
	for node in "${MC_NODES[@]}"; do ip -n "$(mc_ns "$node")" route show table all | grep "${leaver_cidr%/*}"; done
fi

# It joins again: Node object (with its pod CIDR) -> agent -> CNI config ->
# pod -> the first packet from a pod in another location answered.
t0=$(now_ms)
joined=0
if mc_register_node "$leaver" && mc_agent_start "$leaver" --resync-period=5s &&
	mc_wait 20 test -s "$(mc_node_dir "$leaver")/cni-net.d/$MC_CONFLIST" &&
	mc_pod_add "$leaver" "p-$leaver" >/dev/null; then
	t_pod=$(now_ms)
	dest=$(mc_pod_ip "p-$leaver")
	for _ in $(seq 3000); do
		if mc_pod_exec p-aws-2 ping -c1 -W0.01 -i 0.01 "$dest" >/dev/null 2>&1; then joined=1; break; fi
	done
fi
t1=$(now_ms)
check "node join: a pod on the new node answers a pod in another location" test $joined = 1
if [ $joined = 1 ]; then
	report "node join: $((t1 - t0)) ms from the Node object to the first pod packet answered across locations ($((t_pod - t0)) ms of it until the pod was wired)"
fi

# --------------------------------------------------------------- clean-up
# Every agent stops with clean-up (SIGTERM, the default --clean-up=true);
# the pods are deleted through CNI and the wireguard-go processes (the
# userspace device's owner, not the agent) are stopped. Then every node is
# byte for byte what it was before the agents started.
for p in $(cd "$MC_STATE/pods" && ls -- *.node 2>/dev/null); do mc_pod_del "${p%.node}" >/dev/null; done
for node in "${MC_NODES[@]}"; do mc_agent_stop "$node"; mc_wg_stop "$node" skein0; done
diffs=()
for node in "${MC_NODES[@]}"; do
	snapshot "$node" >"$snapdir/$node.after"
	if ! cmp -s "$snapdir/$node.before" "$snapdir/$node.after"; then
		diffs+=("$node")
		diff "$snapdir/$node.before" "$snapdir/$node.after" | head -20
	fi
done
check "clean-up: every node's links, addresses, routes (all tables), rules and nft ruleset are as before" \
	test ${#diffs[@]} -eq 0
