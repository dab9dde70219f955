#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Programs a node namespace through skein's modules (tests/tools/nodectl:
# routes and rules over rtnetlink, table inet skein over libnftnl, a VXLAN
# device with FDB entries, the CNI conflist) and checks: what the kernel
# holds afterwards, that a re-apply writes nothing, that a deleted route or
# flushed chain comes back with one write, that a change writes only
# itself, that MASQUERADE and the anti-spoofing rule act on real traffic,
# and that removal restores the namespace byte for byte.
#
#   pod (10.244.1.5) --veth-- node --veth-- out (198.51.100.2,
#                                            203.0.113.10 "internet",
#                                            10.244.9.10 "another node's pod")
source "$(dirname "$0")/lib.sh"
need_root

NODECTL=${NODECTL:-$SKEIN_ROOT/build/tools/nodectl}
if [ ! -x "$NODECTL" ]; then fail "nodectl built ($NODECTL missing)"; exit 1; fi
need_tools python3 nft bridge

NODE=${T_PREFIX}-np-node POD=${T_PREFIX}-np-pod OUT=${T_PREFIX}-np-out
DIR=$(mktemp -d /tmp/skein-np.XXXXXX)
on_exit "rm -rf $DIR"
netns_add "$NODE" && netns_add "$POD" && netns_add "$OUT" || { fail "namespaces"; exit 1; }

in_node() { ip netns exec "$NODE" "$@"; }
# No duplicate address detection: link-local addresses (and their local
# routes) appear at once, not in the middle of the before/after snapshots.
in_node sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0

# ---- underlay, set up by hand (not skein's) ----
ip -n "$NODE" link add vpod type veth peer name eth0 netns "$POD"
ip -n "$NODE" link add vout type veth peer name eth0 netns "$OUT"
ip -n "$NODE" addr add 10.244.1.1/24 dev vpod
ip -n "$NODE" addr add 198.51.100.1/24 dev vout
ip -n "$NODE" addr add fd00:51::1/64 dev vout nodad
ip -n "$NODE" addr add 10.4.0.1/32 dev lo          # the node's WireGuard IP
ip -n "$NODE" link set vpod up
ip -n "$NODE" link set vout up mtu 1450
ip -n "$NODE" route add default via 198.51.100.2
in_node sysctl -qw net.ipv4.ip_forward=1
ip -n "$POD" addr add 10.244.1.5/24 dev eth0
ip -n "$POD" link set eth0 up
ip -n "$POD" route add default via 10.244.1.1
ip -n "$OUT" addr add 198.51.100.2/24 dev eth0
ip -n "$OUT" addr add 203.0.113.10/32 dev lo
ip -n "$OUT" addr add 10.244.9.10/32 dev lo
ip -n "$OUT" link set eth0 up
ip -n "$OUT" route add 10.244.1.0/24 via 198.51.100.1
ip -n "$OUT" route add 10.4.0.1/32 via 198.51.100.1

# A TCP server that answers every connection with the peer's address, and
# a client that prints the answer (or "unreachable").
cat >"$DIR/server.py" <<'EOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
EOF
cat >"$DIR/client.py" <<'EOF'
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    print(c.recv(64).decode())
except OSError:
    print("unreachable")
EOF
ip netns exec "$OUT" python3 "$DIR/server.py" 7777 & on_exit "kill $!"
in_node python3 "$DIR/server.py" 7778 & on_exit "kill $!"
sleep 0.5

snapshot() { # NS FILE: everything skein may change, as the ip/nft tools print it
	{
		ip -n "$1" -d link; ip -n "$1" route show table all; ip -n "$1" -6 route show table all
		ip -n "$1" rule; ip -n "$1" -6 rule; ip netns exec "$1" nft list ruleset
	} >"$2" 2>&1
}
snapshot "$NODE" "$DIR/before"

CONF=$DIR/node.conf
CONFLIST=$DIR/net.d/10-skein.conflist
cat >"$CONF" <<EOF
vxlan skein.vx vni 1107 local 198.51.100.1 dev vout addr 10.5.0.1/24 mtu 1400
fdb 198.51.100.2
fdb 198.51.100.3
route 10.244.9.0/24 via 198.51.100.2 dev vout table 1107
route 10.244.8.0/24 via 10.5.0.8 dev skein.vx onlink table 1107
route 10.244.7.0/24 via 198.51.100.7 dev vout
route fd00:244:9::/64 via fd00:51::2 dev vout table 1107
rule from 10.244.1.0/24 table 1107 priority 1107
rule -6 from fd00:244:1::/64 table 1107 priority 1107
nft pod 10.244.1.0/24
nft pod fd00:244:1::/64
nft cluster 10.244.0.0/16
nft cluster 10.4.0.0/16
nft cluster 198.51.100.0/24
nft cluster fd00:244::/48
nft wireguard 10.4.0.1 skein0
conflist $CONFLIST mtu 1420
EOF

apply() { in_node "$NODECTL" apply "$CONF"; }
writes() { sed -n 's/^writes \([0-9]*\).*/\1/p'; }
# Only the lines skein owns, so a comparison shows what a change touched.
skein_state() {
	ip -n "$NODE" route show table all proto 107; ip -n "$NODE" -6 route show table all proto 107
	ip -n "$NODE" rule; ip -n "$NODE" -6 rule; bridge -n "$NODE" fdb show dev skein.vx
}

out=$(apply); rc=$?
check "first apply succeeds and writes" test "$rc" -eq 0 -a "$(echo "$out" | writes)" -gt 0
report "first apply: $out"

# ---- read back ----
routes=$(ip -n "$NODE" route show table 1107)
check "route in table 1107" grep -q "^10.244.9.0/24 via 198.51.100.2 dev vout proto 107" <<<"$routes"
check "onlink route over the VXLAN device" grep -q "^10.244.8.0/24 via 10.5.0.8 dev skein.vx proto 107 onlink" <<<"$routes"
check "route in main table" grep -q "^10.244.7.0/24 via 198.51.100.7 dev vout proto 107" <<<"$(ip -n "$NODE" route show)"
check "IPv6 route in table 1107" grep -q "^fd00:244:9::/64 via fd00:51::2 dev vout proto 107" <<<"$(ip -n "$NODE" -6 route show table 1107)"
check "IPv4 rule" grep -q "^1107:	from 10.244.1.0/24 lookup 1107 proto 107" <<<"$(ip -n "$NODE" rule)"
check "IPv6 rule" grep -q "^1107:	from fd00:244:1::/64 lookup 1107 proto 107" <<<"$(ip -n "$NODE" -6 rule)"
vx=$(ip -n "$NODE" -d link show skein.vx)
check "VXLAN device: vni, port, local, nolearning, mtu, up" \
	bash -c 'grep -q "vxlan id 1107 local 198.51.100.1 dev vout" <<<"$1" && grep -q "dstport 4789" <<<"$1" &&
		 grep -q nolearning <<<"$1" && grep -q "mtu 1400" <<<"$1" && grep -q ",UP," <<<"$1"' _ "$vx"
check "VXLAN address" grep -q "inet 10.5.0.1/24" <<<"$(ip -n "$NODE" addr show skein.vx)"
fdb=$(bridge -n "$NODE" fdb show dev skein.vx | grep '^00:00:00:00:00:00' | sort)
check "FDB: one all-zero entry per remote" test "$fdb" = "00:00:00:00:00:00 dst 198.51.100.2 self permanent
00:00:00:00:00:00 dst 198.51.100.3 self permanent"
ruleset=$(in_node nft list ruleset)
check "nft: only table inet skein" test "$(grep -c '^table' <<<"$ruleset")" -eq 1 -a "$(grep '^table' <<<"$ruleset")" = "table inet skein {"
check "nft: cluster sets with merged intervals" grep -q "elements = { 10.4.0.0/16, 10.244.0.0/16,$" <<<"$ruleset"
check "nft: IPv4 masquerade rule" grep -q "ip saddr 10.244.1.0/24 ip daddr != @cluster4 masquerade" <<<"$ruleset"
check "nft: IPv6 masquerade rule" grep -q "ip6 saddr fd00:244:1::/64 ip6 daddr != @cluster6 masquerade" <<<"$ruleset"
check "nft: anti-spoofing rule" grep -q 'iifname != "skein0" ip daddr 10.4.0.1 fib saddr type != local counter packets 0 bytes 0 drop' <<<"$ruleset"
check "nft: no forward chain unless asked" bash -c '! grep -q "chain forward" <<<"$1"' _ "$ruleset"
check "conflist written, 0644, with pod CIDRs and MTU" bash -c \
	'python3 -c "import json,sys; c=json.load(open(sys.argv[1])); p=c[\"plugins\"][0]; assert c[\"cniVersion\"]==\"1.0.0\" and p[\"podCIDRs\"]==[\"10.244.1.0/24\",\"fd00:244:1::/64\"] and p[\"mtu\"]==1420 and c[\"plugins\"][1][\"type\"]==\"portmap\"" "$1" &&
	 test "$(stat -c %a "$1")" = 644' _ "$CONFLIST"

# ---- idempotence and repair ----
check "re-apply writes nothing" test "$(apply | writes)" -eq 0
ip -n "$NODE" route del 10.244.9.0/24 table 1107
check "deleted route: one write puts it back" test "$(apply | writes)" -eq 1
check "deleted route is back" grep -q "^10.244.9.0/24 via 198.51.100.2" <<<"$(ip -n "$NODE" route show table 1107)"
ip -n "$NODE" -6 rule del from fd00:244:1::/64 table 1107 priority 1107
check "deleted IPv6 rule: one write puts it back" test "$(apply | writes)" -eq 1
in_node nft flush chain inet skein postrouting
out=$(apply)
check "flushed nft chain: one batch reloads the table" test "$out" = "writes 1 (rtnl 0, nft 1, cni 0)"
bridge -n "$NODE" fdb del 00:00:00:00:00:00 dst 198.51.100.3 dev skein.vx
check "deleted FDB entry: one write puts it back" test "$(apply | writes)" -eq 1
ip -n "$NODE" route add 10.99.0.0/24 dev vout table 1107   # somebody else's route
check "a foreign route in skein's table is left alone" test "$(apply | writes)" -eq 0
check "the foreign route is still there" grep -q "^10.99.0.0/24 dev vout" <<<"$(ip -n "$NODE" route show table 1107)"
ip -n "$NODE" route del 10.99.0.0/24 table 1107

skein_state >"$DIR/s1"
sed -i 's/^route 10.244.7.0\/24 via 198.51.100.7/route 10.244.7.0\/24 via 198.51.100.8/' "$CONF"
out=$(apply)
skein_state >"$DIR/s2"
check "changed gateway: one route replaced, nothing else" test "$out" = "writes 1 (rtnl 1, nft 0, cni 0)"
check "changed gateway: only that line differs" test "$(diff "$DIR/s1" "$DIR/s2" | grep -c '^[<>]')" -eq 2
sed -i 's/^fdb 198.51.100.3/fdb 198.51.100.4/' "$CONF"
check "changed remote: one FDB entry out, one in" test "$(apply)" = "writes 2 (rtnl 2, nft 0, cni 0)"
sed -i 's/^vxlan skein.vx vni 1107/vxlan skein.vx vni 1108/' "$CONF"
out=$(apply)
check "changed VNI: the VXLAN device is recreated with it" grep -q "vxlan id 1108 " <<<"$(ip -n "$NODE" -d link show skein.vx)"
check "changed VNI: its address and FDB come back, routes through it too" bash -c \
	'grep -q "inet 10.5.0.1/24" <<<"$(ip -n "$1" addr show skein.vx)" &&
	 [ "$(bridge -n "$1" fdb show dev skein.vx | grep -c "^00:00:00:00:00:00")" -eq 2 ] &&
	 grep -q "^10.244.8.0/24 via 10.5.0.8 dev skein.vx" <<<"$(ip -n "$1" route show table 1107)"' _ "$NODE"
check "changed VNI: then nothing to do" test "$(apply | writes)" -eq 0
sed -i 's/^vxlan skein.vx vni 1108/vxlan skein.vx vni 1107/' "$CONF"
apply >/dev/null
sed -i 's/^conflist \(.*\) mtu 1420/conflist \1 mtu 1380/' "$CONF"
check "changed MTU: conflist rewritten alone" test "$(apply)" = "writes 1 (rtnl 0, nft 0, cni 1)"

sed -i 's/^route fd00:244:9::\/64 via fd00:51::2/route fd00:244:9::\/64 via fd00:51::3/' "$CONF"
check "changed IPv6 gateway: one write" test "$(apply)" = "writes 1 (rtnl 1, nft 0, cni 0)"
check "changed IPv6 gateway: replaced in place" grep -q "^fd00:244:9::/64 via fd00:51::3 dev vout proto 107" <<<"$(ip -n "$NODE" -6 route show table 1107)"
cp "$CONF" "$DIR/bad.conf"
echo "route 10.244.6.0/24 dev nosuchdev table 1107" >>"$DIR/bad.conf"
out=$(in_node "$NODECTL" apply "$DIR/bad.conf" 2>&1); rc=$?
check "a route on a missing device fails, naming it" bash -c '[ "$1" -ne 0 ] && grep -q "no device nosuchdev" <<<"$2"' _ "$rc" "$out"
check "a route on a missing device does not disturb the others" grep -q "^writes 0 " <<<"$out"

# ---- traffic ----
# The far side of the VXLAN: "out" as another node of the location.
printf '%s\n' "vxlan skein.vx vni 1107 local 198.51.100.2 dev eth0 addr 10.5.0.2/24" \
	"fdb 198.51.100.1" >"$DIR/out.conf"
ip netns exec "$OUT" "$NODECTL" apply "$DIR/out.conf" >/dev/null
check "VXLAN carries traffic between the nodes" test "$(in_node python3 "$DIR/client.py" 10.5.0.2 7777)" = 10.5.0.1
ip netns exec "$OUT" "$NODECTL" remove "$DIR/out.conf" >/dev/null
pod_says() { ip netns exec "$POD" python3 "$DIR/client.py" "$1" "$2"; }
check "outside sees the node's address (masqueraded)" test "$(pod_says 203.0.113.10 7777)" = 198.51.100.1
check "a cluster destination sees the pod's own address" test "$(pod_says 10.244.9.10 7777)" = 10.244.1.5
check "spoofed packets to the WireGuard IP are dropped" \
	test "$(ip netns exec "$OUT" python3 "$DIR/client.py" 10.4.0.1 7778)" = unreachable
drop_counted() { ! in_node nft list chain inet skein preraw | grep -q "counter packets 0 "; }
check "the drop was counted" drop_counted
check "the node itself still reaches its WireGuard IP" test "$(in_node python3 "$DIR/client.py" 10.4.0.1 7778)" = 10.4.0.1
sed -i 's/^nft wireguard 10.4.0.1 skein0/nft wireguard 10.4.0.1 vout/' "$CONF"
check "WireGuard device renamed: one nft batch" test "$(apply)" = "writes 1 (rtnl 0, nft 1, cni 0)"
check "packets arriving on the WireGuard device pass" \
	test "$(ip netns exec "$OUT" python3 "$DIR/client.py" 10.4.0.1 7778)" = 198.51.100.2
echo "nft forward-accept" >>"$CONF"
apply >/dev/null
check "forward accepts on request" grep -q "ip saddr 10.244.1.0/24 accept" <<<"$(in_node nft list chain inet skein forward)"

# ---- --mtu=auto ----
check "auto MTU: the default route's link minus 80" test "$(in_node "$NODECTL" mtu)" = "mtu 1370"
check "auto MTU: the internal IP's link minus 80" test "$(in_node "$NODECTL" mtu 10.244.1.1)" = "mtu 1420"
check "auto MTU: an address no link holds is an error" bash -c '! ip netns exec "$1" "$2" mtu 192.0.2.99 2>/dev/null' _ "$NODE" "$NODECTL"

# ---- clean-up ----
out=$(in_node "$NODECTL" remove "$CONF"); rc=$?
check "remove succeeds" test "$rc" -eq 0
report "remove: $out"
check "second remove writes nothing" test "$(in_node "$NODECTL" remove "$CONF" | writes)" -eq 0
check "conflist removed" test ! -e "$CONFLIST"
snapshot "$NODE" "$DIR/after"
if cmp -s "$DIR/before" "$DIR/after"; then
	pass "clean-up restores links, routes (v4, v6), rules (v4, v6) and ruleset byte for byte"
else
	fail "clean-up restores links, routes (v4, v6), rules (v4, v6) and ruleset byte for byte"
	diff "$DIR/before" "$DIR/after" | head -20
fi
