#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# skein-agent programs a node for real: a node namespace ("node", with the
# test API server on its loopback) and an underlay namespace ("net", the
# default route's other end, where a real remote node's wireguard-go runs).
# The agent runs with the userspace backend against its own wireguard-go
# (UAPI socket directory bind-mounted in a private mount namespace).
# Checks: device peers/allowed IPs, address and MTU, routes, rules, table
# inet skein, conflist, annotations; a node of the same location in another
# subnet is reached over VXLAN; a resync with nothing changed writes
# nothing (and probes no peer); one remote's pod CIDR change touches only
# its peer; a route deleted by hand comes back; a NATed remote's endpoint is
# discovered and published; new peers with an endpoint are probed, so a
# remote that knew the node first has a handshake without any traffic;
# SIGTERM leaves the namespace byte for byte as before.
source "$(dirname "$0")/lib.sh"
need_root

AGENT=$BIN/skein-agent
API=$SKEIN_ROOT/tests/apiserver
need_tools wireguard-go wg nft curl python3 openssl bridge ping
if [ ! -x "$AGENT" ]; then fail "agent_node: $AGENT not built"; exit 1; fi

NODE=$T_PREFIX-an-node
NET=$T_PREFIX-an-net
RUN=/run/$T_PREFIX-an
mkdir -p "$RUN/wg-node" "$RUN/wg-r1" "$RUN/key" "$RUN/cni" /run/wireguard
on_exit "rm -rf $RUN"
netns_add "$NODE" && netns_add "$NET" || { fail "agent_node: namespaces"; exit 1; }
ip link add eth0 netns "$NODE" mtu 1400 type veth peer name "$T_PREFIX-up" netns "$NET" mtu 1400
ip -n "$NODE" addr add 192.168.91.2/24 dev eth0
ip -n "$NET" addr add 192.168.91.1/24 dev "$T_PREFIX-up"
ip -n "$NODE" link set eth0 up
ip -n "$NET" link set "$T_PREFIX-up" up
ip -n "$NODE" route add default via 192.168.91.1

in_node() { ip netns exec "$NODE" "$@"; }
# in_mount NS DIR CMD...: CMD in NS with DIR as its /run/wireguard.
in_mount() {
	local ns=$1 dir=$2; shift 2
	ip netns exec "$ns" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$dir" "$@"
}
wg_node() { in_mount "$NODE" "$RUN/wg-node" wg "$@"; }
kl() { in_node "$API/kubectl-lite" --state-dir "$RUN/api" "$@"; }

snapshot() { # FILE: what clean-up must restore
	# `ip -d link` may fail once on a veth whose peer namespace id is new.
	for _ in 1 2 3 4 5; do
		take_snapshot "$1"
		grep -q '^Error' "$1" || return 0
		sleep 0.2
	done
}
take_snapshot() {
	{
		ip -n "$NODE" -d link
		ip -n "$NODE" addr
		ip -n "$NODE" route show table all
		ip -n "$NODE" -6 route show table all
		ip -n "$NODE" rule
		ip -n "$NODE" -6 rule
		in_node nft list ruleset
	} >"$1" 2>&1
}
# eth0's link-local address must be past DAD, or the snapshots differ.
for _ in $(seq 50); do
	ip -n "$NODE" addr | grep -q tentative || break
	sleep 0.1
done
snapshot "$RUN/before"

# The API server on the node namespace's loopback.
in_node python3 "$API/server.py" --state-dir "$RUN/api" --listen 127.0.0.1:0 \
	--bookmark-interval 1 >"$RUN/api.log" 2>&1 &
on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
if ! kl wait --timeout 30 >/dev/null; then fail "agent_node: API server did not start"; exit 1; fi

# wireguard-go for the node, and a real remote node r1 (NATed: keepalive).
start_wireguard_go() { # NS DIR IFNAME: sets wggo_pid
	# Not through a shell function: $! must be wireguard-go itself.
	ip netns exec "$1" sh -c 'mount --bind "$0" /run/wireguard &&
		WG_PROCESS_FOREGROUND=1 exec wireguard-go -f "$1"' "$2" "$3" >"$2.log" 2>&1 &
	wggo_pid=$!
	on_exit "kill $wggo_pid 2>/dev/null; wait $wggo_pid 2>/dev/null"
}
start_wireguard_go "$NODE" "$RUN/wg-node" skein0
wggo_node=$wggo_pid
start_wireguard_go "$NET" "$RUN/wg-r1" wgr1

r1_key=$(wg genkey); r1_pub=$(echo "$r1_key" | wg pubkey)
r2_pub=$(wg genkey | wg pubkey)
kl node add n1 --pod-cidr 10.244.1.0/24 --internal-ip 192.168.91.2 --location home >/dev/null
kl node add r1 --pod-cidr 10.244.2.0/24 --internal-ip 10.10.0.2 --location cloud-a \
	--annotation skein.dev/public-key="$r1_pub" --annotation skein.dev/endpoint=192.168.91.11:51821 \
	--annotation skein.dev/wireguard-ip=10.4.0.11/16 \
	--annotation skein.dev/persistent-keepalive=1 >/dev/null
kl node add r2 --pod-cidr 10.244.3.0/24 --internal-ip 10.20.0.2 --location cloud-b \
	--annotation skein.dev/public-key="$r2_pub" --annotation skein.dev/endpoint=192.168.91.12:51820 \
	--annotation skein.dev/wireguard-ip=10.4.0.12/16 >/dev/null

CONF=$RUN/cni/10-skein.conflist
start_agent() { # FLAGS...: sets agent
	ip netns exec "$NODE" "$AGENT" --kubeconfig "$RUN/api/node-n1.kubeconfig" --hostname n1 \
		--wireguard=userspace --uapi-dir "$RUN/wg-node" --key-dir "$RUN/key" --cni-conf "$CONF" \
		--cni-version=1.1.0 --resync-period=1s --listen=127.0.0.1:11071 --log-level debug "$@" \
		>>"$RUN/agent.log" 2>&1 &
	agent=$!
}
on_exit 'kill $agent 2>/dev/null; wait $agent 2>/dev/null'
on_exit "cp $RUN/agent.log $SKEIN_ROOT/build/test-logs/test_agent_node.agent.log"

if ip -n "$NODE" link add probe0 type wireguard 2>/dev/null; then
	ip -n "$NODE" link del probe0
	skip "--wireguard=kernel failure (this kernel has WireGuard)"
else
	check "--wireguard=kernel without kernel WireGuard: exits 1 naming the device" bash -c "
		! timeout 20 ip netns exec '$NODE' '$AGENT' --kubeconfig '$RUN/api/node-n1.kubeconfig' \\
			--hostname n1 --wireguard=kernel --interface skk0 --key-dir '$RUN/key' \\
			--cni-conf '$RUN/kernel.conflist' --listen= 2>'$RUN/kernel.err' &&
		grep -q 'skk0: creating wireguard link' '$RUN/kernel.err'"
fi

# wait_for SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
}
peers_dump() { wg_node show skein0 dump | tail -n +2; }
peer_line() { peers_dump | grep "^$1"; }
has_two_peers() { [ "$(peers_dump | wc -l)" -eq 2 ]; }
annotation() { kl get node n1 | python3 -c "import json,sys; print(json.load(sys.stdin)['metadata'].get('annotations',{}).get('$1',''))"; }
metric() { # NAME{LABELS}: its value from /metrics
	in_node curl -sf http://127.0.0.1:11071/metrics | awk -v m="$1" '$1 == m { print $2 }'
}
writes() {
	local k out=""
	for k in netlink wireguard nft cni; do out+="$(metric "skein_node_writes_total{kind=\"$k\"}") "; done
	echo "$out"
}

# peer_field KEY N: field N of the peer's `wg show dump` line; allowed IPs sorted.
peer_field() {
	peers_dump | awk -F'\t' -v k="$1" -v n="$2" '$1 == k { print $n }' | tr , '\n' | sort | paste -sd,
}
wg_writes() { metric 'skein_node_writes_total{kind="wireguard"}'; }
net_writes() { metric 'skein_node_writes_total{kind="netlink"}'; }
applies() { metric skein_reconcile_applies_total; }
wait_applies() { # N: waits for N more resyncs
	local want=$(($(applies) + $1))
	wait_for 15 bash -c "[ \"\$(ip netns exec '$NODE' curl -sf http://127.0.0.1:11071/metrics | awk '\$1 == \"skein_reconcile_applies_total\" { print \$2 }')\" -ge $want ]"
}

# First without clean-up: SIGTERM leaves the node programmed, and the next
# agent finds nothing to change.
start_agent --clean-up=false
check "agent configures two peers" wait_for 20 has_two_peers
check "routes in place" wait_for 10 bash -c "[ \"\$(ip -n '$NODE' route show table 1107 | wc -l)\" = 6 ]"
probes() { grep -c 'skein0: probed' "$RUN/agent.log"; }
# r2's endpoint has nobody behind it, so it never answers: probed a moment
# after it was added.
check "the new peers are probed once: r2 (an endpoint to dial), not r1 (dials in)" wait_for 5 \
	bash -c "[ \"\$(grep -c 'skein0: probed' '$RUN/agent.log') \$(grep -c 'skein0: probed 1 new or moved peer that had no handshake yet' '$RUN/agent.log')\" = '1 1' ]"
wait_applies 1
kill -TERM "$agent"
wait "$agent"
check "--clean-up=false: SIGTERM leaves peers, routes, rules, table and conflist" \
	bash -c "[ \"\$(ip -n '$NODE' route show table 1107 | wc -l)\" = 6 ] && ip -n '$NODE' rule | grep -q 1107 &&
		ip netns exec '$NODE' nft list table inet skein >/dev/null && [ -e '$CONF' ]"
check "... and both peers" has_two_peers
start_agent
check "a restarted agent: first resync done" wait_for 15 bash -c "[ \"\$(ip netns exec '$NODE' curl -sf http://127.0.0.1:11071/metrics | awk '\$1 == \"skein_reconcile_applies_total\" { print \$2 }')\" -ge 2 ]"
check "... found the node programmed: zero writes" [ "$(writes)" = "0 0 0 0 " ]
node_pub=$(wg pubkey <"$RUN/key/private.key")
check "key file 0600, device carries its key and port 51820" \
	[ "$(stat -c %a "$RUN/key/private.key") $(wg_node show skein0 public-key) $(wg_node show skein0 listen-port)" = "600 $node_pub 51820" ]
check "peer r1 (NATed, dials in): no endpoint, allowed IPs of its location" \
	[ "$(peer_field "$r1_pub" 3) $(peer_field "$r1_pub" 4)" = "(none) 10.10.0.2/32,10.244.2.0/24,10.4.0.11/32" ]
check "peer r2: endpoint and allowed IPs" \
	[ "$(peer_field "$r2_pub" 3) $(peer_field "$r2_pub" 4)" = "192.168.91.12:51820 10.20.0.2/32,10.244.3.0/24,10.4.0.12/32" ]
check "MTU auto: underlay 1400 - 80 on the device" \
	[ "$(ip -n "$NODE" -o link show skein0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')" = 1320 ]
check "device is up" bash -c "ip -n '$NODE' -o link show skein0 | grep -q ',UP'"
wgip=$(ip -n "$NODE" -4 -o addr show skein0 | awk '{ print $4 }')
check "device address is in --subnet 10.4.0.0/16" [ "${wgip#10.4.}" != "$wgip" -a "${wgip#*/}" = 16 ]
check "annotations: public key, endpoint, internal IP, WireGuard IP" wait_for 10 \
	bash -c "$(declare -f annotation kl in_node); NODE='$NODE' API='$API' RUN='$RUN'
	[ \"\$(annotation skein.dev/public-key)\" = '$node_pub' ] &&
	[ \"\$(annotation skein.dev/endpoint)\" = 192.168.91.2:51820 ] &&
	[ \"\$(annotation skein.dev/internal-ip)\" = 192.168.91.2/24 ] &&
	[ \"\$(annotation skein.dev/wireguard-ip)\" = '$wgip' ]"
routes=$(ip -n "$NODE" route show table 1107)
want_routes=""
for dst in 10.4.0.11 10.4.0.12 10.10.0.2 10.20.0.2 10.244.2.0/24 10.244.3.0/24; do
	want_routes+="$dst dev skein0 proto 107 scope link src ${wgip%/*} "$'\n'
done
check "routes: table 1107 holds the remote pod CIDRs, private and WireGuard IPs" \
	[ "$routes"$'\n' = "$want_routes" ]
check "rule: lookup 1107 at priority 1107" bash -c "ip -n '$NODE' rule | grep -q '^1107:	from all lookup 1107 proto 107'"
ruleset=$(in_node nft list ruleset)
check "nft: only table inet skein, masquerading the local pod CIDR" \
	bash -c "[ \"\$(grep -c '^table' <<<'$ruleset')\" = 1 ] && grep -q '^table inet skein' <<<'$ruleset' &&
		grep -q 'ip saddr 10.244.1.0/24 ip daddr != @cluster4 masquerade' <<<'$ruleset'"
check "nft: anti-spoofing rule for the WireGuard IP" \
	bash -c "grep -q 'iifname != \"skein0\" ip daddr ${wgip%/*} fib saddr type != local .*drop' <<<'$ruleset'"
check "conflist: pod CIDR and MTU 1320" \
	bash -c "python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))[\"plugins\"][0]; assert p[\"podCIDRs\"]==[\"10.244.1.0/24\"] and p[\"mtu\"]==1320' '$CONF'"
# A runtime hands the list's first plugin its entry with the list's name
# and cniVersion; STATUS needs 1.1.0.
status_through_conflist() {
	python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); p=l["plugins"][0]
assert l["cniVersion"] == "1.1.0", l["cniVersion"]
p.update(name=l["name"], cniVersion=l["cniVersion"]); print(json.dumps(p))' "$CONF" |
		CNI_COMMAND=STATUS "$BIN/skein"
}
check "conflist: cniVersion 1.1.0 as --cni-version asks; the plugin answers STATUS 0 through it" \
	status_through_conflist
check "/healthz answers ok" [ "$(in_node curl -sf http://127.0.0.1:11071/healthz)" = ok ]
check "/metrics: 3 nodes, 2 peers, leader" \
	[ "$(metric skein_nodes) $(metric skein_peers) $(metric skein_is_leader)" = "3 2 1" ]

# r1 is NATed: it dials n1, which learns and publishes r1's endpoint.
printf '%s\n' "$r1_key" >"$RUN/r1.key"
in_mount "$NET" "$RUN/wg-r1" wg set wgr1 private-key "$RUN/r1.key" listen-port 51821 \
	peer "$node_pub" endpoint 192.168.91.2:51820 allowed-ips "${wgip%/*}/32" persistent-keepalive 1
ip -n "$NET" addr add 10.4.0.11/16 dev wgr1
ip -n "$NET" link set wgr1 up
# Its packets come from 192.168.91.1, not the endpoint it published.
want_disc="{\"$r1_pub\":\"192.168.91.1:51821\"}"
check "discovered endpoint of the NATed node is published" wait_for 15 \
	bash -c "$(declare -f annotation kl in_node); NODE='$NODE' API='$API' RUN='$RUN'
	[ \"\$(annotation skein.dev/discovered-endpoints)\" = '$want_disc' ]"
check "ping over the tunnel to the NATed node's WireGuard IP" \
	bash -c "ip netns exec '$NODE' ping -c 2 -i 0.2 -W 2 -q 10.4.0.11 >/dev/null"
wait_applies 2
check "the learned endpoint survives resyncs" [ "$(peer_field "$r1_pub" 3)" = 192.168.91.1:51821 ]

# A node joins n1's location from another subnet: reached through VXLAN,
# and no WireGuard peer changes.
wgw=$(wg_writes)
kl node add r3 --pod-cidr 10.244.5.0/24 --internal-ip 10.30.0.2 --location home \
	--annotation skein.dev/public-key="$(wg genkey | wg pubkey)" >/dev/null
check "same location, other subnet: pod CIDR routed through the VXLAN device" wait_for 10 \
	bash -c "ip -n '$NODE' route show table 1107 | grep -q '^10.244.5.0/24 via 10.30.0.2 dev skein-vx proto 107 onlink'"
check "... which floods to r3's private IP only" \
	[ "$(bridge -n "$NODE" fdb show dev skein-vx | grep dst | cut -d' ' -f1-3)" = "00:00:00:00:00:00 dst 10.30.0.2" ]
check "... over the underlay, up, VNI 1107" \
	bash -c "ip -n '$NODE' -d link show skein-vx | grep -q 'vxlan id 1107 .*local 192.168.91.2 dev eth0' &&
		ip -n '$NODE' -o link show skein-vx | grep -q ',UP'"
check "... and no WireGuard write" [ "$(wg_writes)" = "$wgw" ]

# A resync with nothing to change writes nothing.
node_patches() { kl requests | python3 -c 'import json,sys; print(json.load(sys.stdin)["nodePatches"].get("n1", 0))'; }
w1=$(writes)
p1=$(node_patches)
wait_applies 3
w2=$(writes)
report "writes of the restarted agent so far (netlink wireguard nft cni): $w1"
check "resyncs with nothing changed: zero writes" [ "$w1" = "$w2" ]
check "... and no probe" [ "$(probes)" = 1 ]
check "... and no annotation patch" [ -n "$p1" -a "$(node_patches)" = "$p1" ]
errors=$(in_node curl -sf http://127.0.0.1:11071/metrics | awk '/^skein_reconcile_errors_total/ { n += $2 } END { print n + 0 }')
check "no reconcile step failed" [ "$errors" = 0 ]

# One remote's pod CIDR changes: only its peer changes.
r1_before="$(peer_field "$r1_pub" 1) $(peer_field "$r1_pub" 3) $(peer_field "$r1_pub" 4)"
changes_before=$(grep -c 'skein0: 1 change to the device' "$RUN/agent.log")
wgw=$(wg_writes)
kl node set r2 --pod-cidr 10.244.4.0/24 >/dev/null
check "pod CIDR change reaches r2's peer" wait_for 10 \
	bash -c "$(declare -f peers_dump wg_node in_mount peer_field); NODE='$NODE' RUN='$RUN'
	[ \"\$(peer_field '$r2_pub' 4)\" = 10.20.0.2/32,10.244.4.0/24,10.4.0.12/32 ]"
check "... in one WireGuard write of one peer" \
	[ "$(wg_writes)" = $((wgw + 1)) -a \
	  "$(grep -c 'skein0: 1 change to the device' "$RUN/agent.log")" = $((changes_before + 1)) ]
check "... r1's peer untouched" \
	[ "$(peer_field "$r1_pub" 1) $(peer_field "$r1_pub" 3) $(peer_field "$r1_pub" 4)" = "$r1_before" ]
check "... routes follow" bash -c "ip -n '$NODE' route show table 1107 | grep -q '^10.244.4.0/24 dev skein0' &&
	! ip -n '$NODE' route show table 1107 | grep -q '^10.244.3.0/24'"

# A route deleted by hand comes back at the next resync, in one write.
nw=$(net_writes)
ip -n "$NODE" route del 10.244.2.0/24 table 1107
check "a deleted route is put back" wait_for 10 \
	bash -c "ip -n '$NODE' route show table 1107 | grep -q '^10.244.2.0/24 dev skein0'"
wait_applies 1
check "... with one netlink write" [ "$(net_writes)" = $((nw + 1)) ]

# r4 knows n1 before n1 knows r4, and nobody sends it traffic nor keeps
# the tunnel alive: n1's agent adding the peer starts the handshake itself.
r4_key=$(wg genkey); r4_pub=$(echo "$r4_key" | wg pubkey)
printf '%s\n' "$r4_key" >"$RUN/r4.key"
mkdir -p "$RUN/wg-r4"
start_wireguard_go "$NET" "$RUN/wg-r4" wgr4
for _ in $(seq 50); do [ -S "$RUN/wg-r4/wgr4.sock" ] && break; sleep 0.1; done
in_mount "$NET" "$RUN/wg-r4" wg set wgr4 private-key "$RUN/r4.key" listen-port 51824 \
	peer "$node_pub" allowed-ips "${wgip%/*}/32"
ip -n "$NET" link set wgr4 up
r4_handshake() { # the peer n1's latest handshake, in seconds since the epoch, is not 0
	local t
	t=$(in_mount "$NET" "$RUN/wg-r4" wg show wgr4 latest-handshakes | cut -f2)
	[ -n "$t" ] && [ "$t" -gt 0 ]
}
t0=$(date +%s%N)
kl node add r4 --pod-cidr 10.244.6.0/24 --internal-ip 10.40.0.2 --location cloud-c \
	--annotation skein.dev/public-key="$r4_pub" --annotation skein.dev/endpoint=192.168.91.1:51824 \
	--annotation skein.dev/wireguard-ip=10.4.0.14/16 >/dev/null
if wait_for 10 r4_handshake; then
	pass "a new peer that knew n1 first: handshake without any traffic (n1's agent probed it)"
	report "Node object to the first handshake with the new peer: $((($(date +%s%N) - t0) / 1000000)) ms"
else
	fail "a new peer that knew n1 first: handshake without any traffic (n1's agent probed it)"
fi

# SIGTERM: everything goes, the node is as before.
kill -TERM "$agent"
wait "$agent"
rc=$?
check "SIGTERM: the agent exits 0" [ "$rc" = 0 ]
check "clean-up: no peers left on the device" [ -z "$(wg_node show skein0 peers)" ]
check "clean-up: no address left on the device" [ -z "$(ip -n "$NODE" -4 addr show skein0)" ]
check "clean-up: no skein routes or rules" \
	[ -z "$(ip -n "$NODE" route show table all proto 107; ip -n "$NODE" -6 route show table all proto 107; ip -n "$NODE" rule | grep 1107)" ]
check "clean-up: no nft table" [ -z "$(in_node nft list ruleset)" ]
check "clean-up: no conflist" [ ! -e "$CONF" ]
check "clean-up: annotations removed" [ -z "$(kl get node n1 | grep -o 'skein.dev/[a-z-]*' | grep -v location)" ]
check "clean-up: the agent's log names no private key" bash -c "! grep -qF '$(cat "$RUN/key/private.key")' '$RUN/agent.log'"
kill "$wggo_node"
wait "$wggo_node" 2>/dev/null
for _ in $(seq 50); do ip -n "$NODE" link show skein0 >/dev/null 2>&1 || break; sleep 0.1; done
snapshot "$RUN/after"
check "clean-up: links, addresses, routes, rules and ruleset exactly as before" \
	diff -u "$RUN/before" "$RUN/after"
