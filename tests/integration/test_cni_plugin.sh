#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bin/skein in network namespaces: a "node" namespace where the plugin runs
# (ip netns exec NODE bin/skein, as a runtime would) and pod namespaces.
# Nothing here touches the root namespace.
. "$(dirname "$0")/lib.sh"
need_root
if [ ! -x "$BIN/skein" ]; then fail "bin/skein is built"; exit 1; fi

NODE=$T_PREFIX-cni-node
WORK=$(mktemp -d /tmp/skein-cni.XXXXXX)
on_exit "rm -rf $WORK"
STATE=$WORK/state
CNIBIN=$WORK/bin
mkdir -p "$CNIBIN"
ln -s "$BIN/skein" "$CNIBIN/skein"
for p in portmap bandwidth; do [ -x /usr/lib/cni/$p ] && ln -s /usr/lib/cni/$p "$CNIBIN/$p"; done
netns_add "$NODE"
# A node address that is not on any pod link, to prove pods reach the node.
ip -n "$NODE" addr add 192.168.77.1/32 dev lo

CIDRS='["10.244.1.0/24","fd00:10:244:1::/64"]'
conf() { # VERSION [CIDRS-JSON]
	echo "{\"cniVersion\":\"$1\",\"name\":\"skein\",\"type\":\"skein\",\"podCIDRs\":${2:-$CIDRS},\"mtu\":1420,\"dataDir\":\"$STATE\"}"
}
# cni CMD CID IFNAME NETNS-PATH CONFIG [PLUGIN]: runs a plugin in the node.
cni() {
	echo "$5" | ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_IFNAME="$3" CNI_NETNS="$4" CNI_PATH="$CNIBIN" "$CNIBIN/${6:-skein}"
}
pod() { # NAME: a pod namespace (removed on exit)
	netns_add "$T_PREFIX-$1"
}
nspath() { echo "/var/run/netns/$T_PREFIX-$1"; }
allocations() { find "$STATE/skein" -name '*|*' 2>/dev/null | wc -l; }
host_veths() { ip -n "$NODE" -o link show | grep -c ': sk[0-9a-f]\{12\}@' ; }
with_prev() { jq -c --argjson prev "$2" '. + {prevResult: $prev}' <<<"$1"; }

# ---- ADD: address and routes (dual-stack) ----
pod a; pod b
RA=$(cni ADD ca eth0 "$(nspath a)" "$(conf 1.1.0)")
RB=$(cni ADD cb eth0 "$(nspath b)" "$(conf 1.1.0)")
A4=$(jq -r '.ips[] | select(.address | test("\\.")) | .address' <<<"$RA")
A6=$(jq -r '.ips[] | select(.address | test(":")) | .address' <<<"$RA")
B4=$(jq -r '.ips[] | select(.address | test("\\.")) | .address' <<<"$RB")
B6=$(jq -r '.ips[] | select(.address | test(":")) | .address' <<<"$RB")
HA=$(jq -r '.interfaces[0].name' <<<"$RA")
check "ADD returns one IPv4 and one IPv6 address" test -n "$A4" -a -n "$A6" -a "$A4" != "$B4" -a "$A6" != "$B6"
check "ADD result is cniVersion 1.1.0 with interface MTU" \
	test "$(jq -r '.cniVersion, .interfaces[1].mtu, .interfaces[1].sandbox' <<<"$RA" | tr '\n' ' ')" = "1.1.0 1420 $(nspath a) "
check "pod has its addresses on eth0" bash -c "ip -n $T_PREFIX-a addr show eth0 | grep -q 'inet $A4 ' && ip -n $T_PREFIX-a addr show eth0 | grep -q 'inet6 $A6 '"
check "pod has default routes via the gateways" bash -c "ip -n $T_PREFIX-a route | grep -q 'default via 10.244.1.1 dev eth0 onlink' && ip -n $T_PREFIX-a -6 route | grep -q 'default via fd00:10:244:1::1 dev eth0'"
check "pod link has the configured MTU" bash -c "ip -n $T_PREFIX-a link show eth0 | grep -q 'mtu 1420'"
check "node routes the pod's addresses to its veth" bash -c "ip -n $NODE route | grep -q '^${A4%/32} dev $HA' && ip -n $NODE -6 route | grep -q '^${A6%/128} dev $HA'"
check "ADD records one allocation per pod" test "$(allocations)" -eq 2
OUT=$(cni ADD cb eth0 "$(nspath b)" "$(conf 1.1.0)" 2>/dev/null)
check "a repeated ADD fails (interface exists) and keeps the first one's allocation" \
	bash -c "[ \"$(jq -r .code <<<"$OUT")\" = 5 ] && [ $(allocations) -eq 2 ] && ip -n $T_PREFIX-b addr show eth0 | grep -q 'inet $B4 '"

# ---- connectivity ----
check "pod a pings pod b (IPv4)" ip netns exec "$T_PREFIX-a" ping -c1 -W2 -q "${B4%/32}"
check "pod a pings pod b (IPv6)" ip netns exec "$T_PREFIX-a" ping -6 -c1 -W2 -q "${B6%/128}"
check "pod a pings the node" ip netns exec "$T_PREFIX-a" ping -c1 -W2 -q 192.168.77.1
check "the node pings pod b" ip netns exec "$NODE" ping -c1 -W2 -q "${B4%/32}"

# ---- CHECK ----
check "CHECK passes on a good attachment" cni CHECK ca eth0 "$(nspath a)" "$(with_prev "$(conf 1.1.0)" "$RA")"
ip -n "$T_PREFIX-a" addr del "$A4" dev eth0
OUT=$(cni CHECK ca eth0 "$(nspath a)" "$(with_prev "$(conf 1.1.0)" "$RA")" 2>/dev/null); RC=$?
check "CHECK fails after the address is removed, naming it" \
	test $RC -ne 0 -a "$(jq -r .code <<<"$OUT")" = 100 -a -n "$(jq -r .msg <<<"$OUT" | grep -F "$A4")"

# ---- DEL ----
check "DEL succeeds" cni DEL ca eth0 "$(nspath a)" "$(conf 1.1.0)"
check "DEL removed host veth, pod link and allocation" \
	bash -c "! ip -n $NODE link show $HA 2>/dev/null && ! ip -n $T_PREFIX-a link show eth0 2>/dev/null && [ $(allocations) -eq 1 ]"
check "DEL again is a no-op success" cni DEL ca eth0 "$(nspath a)" "$(conf 1.1.0)"
check "DEL without CNI_NETNS succeeds" cni DEL never eth0 "" "$(conf 1.1.0)"

# ---- DEL after the namespace is gone ----
pod gone
cni ADD cgone eth0 "$(nspath gone)" "$(conf 1.1.0)" >/dev/null
ip netns del "$T_PREFIX-gone"
check "DEL after the netns was deleted succeeds" cni DEL cgone eth0 "$(nspath gone)" "$(conf 1.1.0)"
check "... and released the address" test "$(allocations)" -eq 1

# ---- every CNI version ----
pod v
for v in 0.3.0 0.3.1 0.4.0 1.0.0; do
	R=$(cni ADD "cv${v//./}" eth0 "$(nspath v)" "$(conf $v)")
	want=$([ "${v%%.*}" = 0 ] && echo 4 || echo null)
	check "ADD with cniVersion $v answers in $v" \
		test "$(jq -r '.cniVersion, .ips[0].version' <<<"$R" | tr '\n' ' ')" = "$v $want "
	cni DEL "cv${v//./}" eth0 "$(nspath v)" "$(conf $v)"
done
OUT=$(cni CHECK cx eth0 "$(nspath v)" "$(with_prev "$(conf 0.3.1)" '{}')" 2>/dev/null)
check "CHECK with cniVersion 0.3.1 is refused (code 1)" test "$(jq -r .code <<<"$OUT")" = 1

# ---- STATUS ----
check "STATUS is 0 with pod CIDRs" cni STATUS "" "" "" "$(conf 1.1.0)"
OUT=$(cni STATUS "" "" "" "$(conf 1.1.0 '[]')" 2>/dev/null)
check "STATUS is 50 without pod CIDRs" test "$(jq -r .code <<<"$OUT")" = 50
OUT=$(cni ADD cz eth0 "$(nspath v)" "$(conf 1.1.0 '[]')" 2>/dev/null)
check "ADD without pod CIDRs says try again later (11)" test "$(jq -r .code <<<"$OUT")" = 11

# ---- errors: JSON on stdout, diagnostics on stderr ----
err_case() { # NAME WANT-CODE NEEDLE CMD CID IFNAME CONFIG
	local out rc
	out=$(cni "$4" "$5" "$6" "$(nspath v)" "$7" 2>"$WORK/stderr"); rc=$?
	if [ $rc -ne 0 ] && [ "$(jq -r .code <<<"$out")" = "$2" ] &&
	   jq -r .msg <<<"$out" | grep -qF -- "$3" && grep -qF -- "$3" "$WORK/stderr"; then
		pass "$1"
	else
		fail "$1 (rc=$rc out=$out)"
	fi
}
err_case "bad container ID is error 4 naming it" 4 '../../x' ADD '../../x' eth0 "$(conf 1.1.0)"
err_case "bad ifname is error 4 naming it" 4 'a/b' ADD cq 'a/b' "$(conf 1.1.0)"
err_case "bad JSON is error 6" 6 'JSON' ADD cq eth0 '{"cniVersion":'
err_case "unsupported version is error 1 naming it" 1 '0.2.0' ADD cq eth0 "$(conf 0.2.0)"
err_case "bad pod CIDR is error 7 naming it" 7 '10.0.0.0/33' ADD cq eth0 "$(conf 1.1.0 '["10.0.0.0/33"]')"
err_case "unknown command is error 4" 4 'BOGUS' BOGUS cq eth0 "$(conf 1.1.0)"
check "a failed ADD left no allocation behind" test "$(allocations)" -eq 1

# ---- GC ----
pod g1; pod g2; pod g3
for g in g1 g2 g3; do cni ADD "c$g" eth0 "$(nspath $g)" "$(conf 1.1.0)" >/dev/null; done
GCCONF=$(jq -c '. + {"cni.dev/valid-attachments": [{"containerID":"cb","ifname":"eth0"},{"containerID":"cg1","ifname":"eth0"}]}' <<<"$(conf 1.1.0)")
OUT=$(cni GC "" "" "" "$(conf 1.1.0)" 2>/dev/null)
check "GC without valid-attachments is refused (7) and releases nothing" \
	test "$(jq -r .code <<<"$OUT")" = 7 -a "$(allocations)" -eq 4
check "GC succeeds" cni GC "" "" "" "$GCCONF"
check "GC released the allocations not listed" test "$(allocations)" -eq 2
check "GC removed the host veths not listed" test "$(host_veths)" -eq 2
check "GC kept the listed pods wired" ip netns exec "$T_PREFIX-g1" ping -c1 -W2 -q "${B4%/32}"

# ---- chaining with portmap and bandwidth ----
# A tiny runtime: each plugin gets name, cniVersion, runtimeConfig and the
# previous result; DEL runs in reverse order. IPv4 only: Debian's portmap
# 1.1.1 CHECK looks for its IPv4 rules in the IPv6 table on dual-stack.
LIST=$(cat <<EOF
{"cniVersion":"1.0.0","name":"skein","plugins":[
 {"type":"skein","podCIDRs":["10.244.1.0/24"],"mtu":1420,"dataDir":"$STATE"},
 {"type":"portmap","capabilities":{"portMappings":true}},
 {"type":"bandwidth","capabilities":{"bandwidth":true}}]}
EOF
)
RUNTIME='{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":100000000,"ingressBurst":1000000,"egressRate":100000000,"egressBurst":1000000}}'
plugin_conf() { # INDEX PREV
	jq -c --argjson i "$1" --argjson prev "${2:-null}" --argjson rt "$RUNTIME" '
		.plugins[$i] + {name, cniVersion}
		| if $prev then . + {prevResult: $prev} else . end
		| if .capabilities then . + {runtimeConfig: ($rt | with_entries(select(.key as $k | $k == "portMappings" or $k == "bandwidth")))} else . end' <<<"$LIST"
}
chain() { # CMD CID NETNS [PREV [INDEXES]] -> final result of ADD
	local cmd=$1 prev=${4:-} out i order types
	types=(skein portmap bandwidth)
	order=(${5:-0 1 2}); [ "$cmd" = DEL ] && order=(2 1 0)
	for i in "${order[@]}"; do
		out=$(cni "$cmd" "$2" eth0 "$3" "$(plugin_conf "$i" "$prev")" "${types[$i]}") || { echo "${types[$i]} $cmd: $out" >&2; return 1; }
		[ "$cmd" = ADD ] && prev=$out
	done
	[ "$cmd" = ADD ] && echo "$prev"
	return 0
}
if [ -x "$CNIBIN/portmap" ] && [ -x "$CNIBIN/bandwidth" ]; then
	pod ch
	FINAL=$(chain ADD cch "$(nspath ch)")
	check "chain ADD skein -> portmap -> bandwidth succeeds" test -n "$FINAL"
	CH_HOST=$(jq -r '.interfaces[0].name' <<<"$FINAL")
	check "portmap installed its DNAT in the node" bash -c "ip netns exec $NODE iptables-save -t nat 2>/dev/null | grep -q 'dport 18080' || ip netns exec $NODE nft list ruleset | grep -q 18080"
	check "bandwidth shaped the host veth" bash -c "tc -n $NODE qdisc show dev $CH_HOST | grep -q tbf"
	check "chain CHECK passes for skein and bandwidth" chain CHECK cch "$(nspath ch)" "$FINAL" "0 2"
	skip "portmap CHECK (Debian's 1.1.1 looks for an IPv6 chain it never made)"
	check "chain DEL succeeds" chain DEL cch "$(nspath ch)" "$FINAL"
	check "chain DEL removed the veth and the allocation" \
		bash -c "! ip -n $NODE link show $CH_HOST 2>/dev/null && [ $(allocations) -eq 2 ]"
else
	skip "chaining (portmap/bandwidth not in /usr/lib/cni)"
fi

# ---- 64 parallel ADDs ----
PAR=$WORK/par; mkdir -p "$PAR"
for i in $(seq 64); do ip netns add "$T_PREFIX-p$i"; done
on_exit "for i in \$(seq 64); do ip netns del $T_PREFIX-p\$i; done"
CONF=$(conf 1.1.0)
ip netns exec "$NODE" env -i PATH="$PATH" CONF="$CONF" PAR="$PAR" CNIBIN="$CNIBIN" P="$T_PREFIX" bash -c '
	for i in $(seq 64); do
		echo "$CONF" | CNI_COMMAND=ADD CNI_CONTAINERID=par$i CNI_IFNAME=eth0 \
			CNI_NETNS=/var/run/netns/$P-p$i CNI_PATH=$CNIBIN $CNIBIN/skein >$PAR/$i 2>&1 &
	done
	wait'
N_OK=$(cat "$PAR"/* | jq -r '.ips[0].address // empty' | wc -l)
N_UNIQ=$(cat "$PAR"/* | jq -r '.ips[0].address // empty' | sort -u | wc -l)
check "64 parallel ADDs all succeed" test "$N_OK" -eq 64
check "64 parallel ADDs get 64 distinct addresses" test "$N_UNIQ" -eq 64
ip netns exec "$NODE" env -i PATH="$PATH" CONF="$CONF" CNIBIN="$CNIBIN" bash -c '
	for i in $(seq 64); do
		echo "$CONF" | CNI_COMMAND=DEL CNI_CONTAINERID=par$i CNI_IFNAME=eth0 \
			CNI_PATH=$CNIBIN $CNIBIN/skein &
	done
	wait'
check "64 parallel DELs leave only the earlier allocations" test "$(allocations)" -eq 2

# ---- no descriptor left open by ADD or DEL ----
if command -v valgrind >/dev/null; then
	pod fd
	for cmd in ADD DEL; do
		echo "$CONF" | ip netns exec "$NODE" env -i CNI_COMMAND=$cmd CNI_CONTAINERID=cfd \
			CNI_IFNAME=eth0 CNI_NETNS="$(nspath fd)" CNI_PATH="$CNIBIN" \
			valgrind --track-fds=yes "$BIN/skein" >/dev/null 2>"$WORK/vg.$cmd"
		own=$(grep -c '^==[0-9]*== Open ' "$WORK/vg.$cmd")
		inherited=$(grep -c 'inherited from parent' "$WORK/vg.$cmd")
		check "$cmd closes every descriptor it opens" test "$own" -eq "$inherited"
	done
else
	skip "descriptor check (no valgrind)"
fi

# ---- 1,000 ADD/DEL cycles ----
pod cyc
START=$(date +%s.%N)
FAILS=$(ip netns exec "$NODE" env -i PATH="$PATH" CONF="$CONF" CNIBIN="$CNIBIN" NS="$(nspath cyc)" bash -c '
	fails=0
	for i in $(seq 1000); do
		echo "$CONF" | CNI_COMMAND=ADD CNI_CONTAINERID=cyc$i CNI_IFNAME=eth0 CNI_NETNS=$NS \
			CNI_PATH=$CNIBIN $CNIBIN/skein >/dev/null 2>&1 || fails=$((fails + 1))
		echo "$CONF" | CNI_COMMAND=DEL CNI_CONTAINERID=cyc$i CNI_IFNAME=eth0 CNI_NETNS=$NS \
			CNI_PATH=$CNIBIN $CNIBIN/skein >/dev/null 2>&1 || fails=$((fails + 1))
	done
	echo $fails')
END=$(date +%s.%N)
check "1,000 ADD/DEL cycles all succeed" test "$FAILS" -eq 0
check "1,000 cycles leave no allocation" test "$(allocations)" -eq 2
check "1,000 cycles leave no veth" test "$(host_veths)" -eq 2
check "1,000 cycles leave no interface in the pod" bash -c "[ \$(ip -n $T_PREFIX-cyc -o link | wc -l) -eq 1 ]"
check "1,000 cycles leave no file but allocations, cursors and the lock" \
	test "$(ls "$STATE/skein" | grep -v '|' | grep -vc '^last-\|^lock$')" -eq 0
report "1,000 ADD/DEL cycles took $(awk "BEGIN { printf \"%.1f\", $END - $START }") s"
