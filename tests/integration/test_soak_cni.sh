#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# CNI soak: SOAK_CNI_CYCLES ADD/DEL cycles (default 2,000 in `make test`;
# `make soak` runs 10,000) by SOAK_CNI_PARALLEL workers at once (32), each
# with its own pod namespace, dual-stack. At random a worker deletes its
# pod's namespace before DEL (the pod's netns vanished) and repeats a DEL of
# a pod already deleted. Every address a worker holds is marked with an
# atomic mkdir, so two live pods with one address show up at once. At the
# end: 0 duplicates, 0 failed verbs, 0 allocations, 0 host veths left.
source "$(dirname "$0")/lib.sh"
need_root
if [ ! -x "$BIN/skein" ]; then fail "bin/skein is built"; exit 1; fi

CYCLES=${SOAK_CNI_CYCLES:-2000}
PAR=${SOAK_CNI_PARALLEL:-32}
NODE=$T_PREFIX-soak-node
WORK=$(mktemp -d /tmp/skein-soak-cni.XXXXXX)
on_exit "rm -rf $WORK"
STATE=$WORK/state HELD=$WORK/held
mkdir -p "$HELD" "$WORK/bin"
# A copy: a rebuild of bin/skein during the run must not fail a cycle.
cp "$BIN/skein" "$WORK/bin/skein"
netns_add "$NODE"
PODS=$(for i in $(seq "$PAR"); do echo "$T_PREFIX-soak-p$i-0 $T_PREFIX-soak-p$i-1"; done)
on_exit "for ns in $(echo $PODS); do ip netns del \$ns 2>/dev/null; done"
for ns in $PODS; do ip netns add "$ns" || { fail "pod namespace $ns"; exit 1; }; done

CONF="{\"cniVersion\":\"1.1.0\",\"name\":\"skein\",\"type\":\"skein\",\"podCIDRs\":[\"10.244.1.0/24\",\"fd00:10:244:1::/64\"],\"dataDir\":\"$STATE\"}"

# worker N CYCLES: prints one line of counters at the end. A worker keeps
# two pods (namespaces pN-0, pN-1) alive at once: each ADD happens before
# the DEL of the previous pod, so every pod lives across another's ADD.
worker() {
	local n=$1 cycles=$2 i id out ip prev="" prev_ns=""
	local add_fail=0 del_fail=0 dup=0 vanished=0 redel=0
	local re='"address":"([0-9a-f.:]+)/'
	local -a ips prev_ips=()
	cni() { # CMD ID NETNS
		echo "$CONF" | nsenter --net="/var/run/netns/$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" \
			CNI_CONTAINERID="$2" CNI_IFNAME=eth0 CNI_NETNS="/var/run/netns/$3" \
			CNI_PATH="$WORK/bin" "$WORK/bin/skein" 2>>"$WORK/err-$n"
	}
	del_prev() {
		[ -n "$prev" ] || return 0
		# Unmark before DEL releases the addresses, never after.
		for ip in "${prev_ips[@]}"; do rmdir "$HELD/$ip" 2>/dev/null; done
		if ((RANDOM % 10 == 0)); then
			ip netns del "$prev_ns" && vanished=$((vanished + 1))
		fi
		cni DEL "$prev" "$prev_ns" >/dev/null || del_fail=$((del_fail + 1))
		if ((RANDOM % 10 == 0)); then
			cni DEL "$prev" "$prev_ns" >/dev/null || del_fail=$((del_fail + 1))
			redel=$((redel + 1))
		fi
		[ -e "/var/run/netns/$prev_ns" ] || ip netns add "$prev_ns"
	}
	for ((i = 0; i < cycles; i++)); do
		id=w$n-c$i
		if ! out=$(cni ADD "$id" "$T_PREFIX-soak-p$n-$((i % 2))"); then
			add_fail=$((add_fail + 1))
			echo "ADD $id: $out" >>"$WORK/err-$n"
		fi
		ips=()
		while [[ $out =~ $re ]]; do
			ips+=("${BASH_REMATCH[1]}")
			out=${out#*"${BASH_REMATCH[0]}"}
		done
		for ip in "${ips[@]}"; do
			mkdir "$HELD/$ip" 2>/dev/null || { dup=$((dup + 1)); echo "duplicate $ip ($id)" >>"$WORK/err-$n"; }
		done
		del_prev
		prev=$id prev_ns=$T_PREFIX-soak-p$n-$((i % 2)) prev_ips=("${ips[@]}")
	done
	del_prev
	echo "$add_fail $del_fail $dup $vanished $redel"
}

START=$(date +%s.%N)
per=$((CYCLES / PAR)) extra=$((CYCLES % PAR))
for i in $(seq "$PAR"); do
	worker "$i" $((per + (i <= extra ? 1 : 0))) >"$WORK/count-$i" &
done
wait
END=$(date +%s.%N)

read -r ADD_FAIL DEL_FAIL DUP VANISHED REDEL < <(cat "$WORK"/count-* |
	awk '{ a += $1; d += $2; u += $3; v += $4; r += $5 } END { print a, d, u, v, r }')
ALLOCS=$(find "$STATE/skein" -name '*|*' | wc -l)
VETHS=$(ip -n "$NODE" -o link show | grep -c ': sk[0-9a-f]\{12\}@')
POD_LINKS=0
for ns in $PODS; do
	POD_LINKS=$((POD_LINKS + $(ip -n "$ns" -o link show | grep -vc ': lo:')))
done
check "$CYCLES ADDs all succeed ($ADD_FAIL failed)" test "$ADD_FAIL" -eq 0
check "every DEL succeeds, $VANISHED after the netns vanished, $REDEL repeated ($DEL_FAIL failed)" \
	test "$DEL_FAIL" -eq 0
check "0 duplicate addresses among live pods ($DUP)" test "$DUP" -eq 0
check "0 leaked allocations ($ALLOCS)" test "$ALLOCS" -eq 0
check "0 leaked host veths ($VETHS)" test "$VETHS" -eq 0
check "0 interfaces left in pod namespaces ($POD_LINKS)" test "$POD_LINKS" -eq 0
check "no stray files in the IPAM store" \
	test "$(find "$STATE/skein" -mindepth 1 ! -name lock ! -name 'last-*' | wc -l)" -eq 0
if [ "$ADD_FAIL$DEL_FAIL$DUP" != 000 ]; then cat "$WORK"/err-* | sort | uniq -c | sort -rn | head -5; fi
report "$CYCLES ADD/DEL cycles, $PAR in parallel, took $(awk "BEGIN { printf \"%.1f\", $END - $START }") s"
