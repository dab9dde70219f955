#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bin/skein against Debian's reference plugins doing the same job (a routed
# veth with one IPv4 address): ptp + host-local. ADD and DEL latency (median,
# p99) over BENCH_CNI_ITER (default 100) rounds, skein and the reference
# interleaved in every round, and peak RSS (the largest ru_maxrss over all
# calls; for the reference that covers ptp and the host-local it runs).
# The timing loop runs inside one `ip netns exec` of a node namespace, so
# the cost of entering it is not counted. Targets: median ADD+DEL at least
# 10x faster, peak RSS at most a tenth of the reference's.
# BENCH_CNI_SKEIN=PATH runs that plugin instead of bin/skein: the launcher as
# installed on hosts (skein-agent --install-cni=DIR --install-cni-from=build/cni,
# then BENCH_CNI_SKEIN=DIR/skein), to measure what the launcher adds.
set -u
SKEIN=${BENCH_CNI_SKEIN:+$(realpath -s "$BENCH_CNI_SKEIN")}
cd "$(dirname "$0")/.." || exit 1
N=${BENCH_CNI_ITER:-100}
REF=/usr/lib/cni
SKEIN=${SKEIN:-$PWD/bin/skein}
if [ "$(id -u)" -ne 0 ]; then echo "bench_cni: skipped, needs root"; exit 0; fi
if [ ! -x "$SKEIN" ] || [ ! -x $REF/ptp ] || [ ! -x $REF/host-local ]; then
	echo "bench_cni: skipped, needs $SKEIN and $REF/ptp, host-local"; exit 0
fi
echo "bench_cni: skein is $SKEIN"

P=skbench$$
W=$(mktemp -d /tmp/skein-bench-cni.XXXXXX)
cleanup() {
	for ns in node pod-skein pod-ref; do ip netns del "$P-$ns" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ns in node pod-skein pod-ref; do ip netns add "$P-$ns" || exit 1; done
ip -n "$P-node" link set lo up
mkdir -p "$W/bin"
ln -s "$SKEIN" "$W/bin/skein"
ln -s $REF/ptp $REF/host-local "$W/bin/"
# The timer is built static with musl: a child's ru_maxrss includes the
# spawning process's pages until exec, a few KiB for musl, ~500 KiB for a
# static glibc program, which would hide a plugin smaller than that.
TIMER=$W/cni_time
musl-gcc -O2 -static -o "$TIMER" bench/cni_time.c || { echo "bench_cni: cannot build $TIMER (musl-tools)"; exit 1; }

SKEIN_CONF="{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"type\":\"skein\",\"podCIDRs\":[\"10.246.1.0/24\"],\"mtu\":1420,\"dataDir\":\"$W/skein\"}"
REF_CONF="{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"type\":\"ptp\",\"mtu\":1420,\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.247.1.0/24\"}]],\"dataDir\":\"$W/host-local\"}}"

echo "$SKEIN_CONF" >"$W/skein.json"
echo "$REF_CONF" >"$W/ptp.json"

# One line per call: "PLUGIN VERB WALL_US MAXRSS_KIB". cni_time spawns the
# plugin and measures only it (wall time, peak RSS via wait4); a "floor DEL"
# line per round is the kernel's veth deletion alone (below).
ip netns exec "$P-node" env -i PATH="$PATH" N="$N" W="$W" P="$P" T="$TIMER" bash -c '
	call() { # PLUGIN VERB CID POD
		local out
		out=$(CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_IFNAME=eth0 CNI_NETNS=/var/run/netns/$4 \
			CNI_PATH=$W/bin $T $W/$1.json $W/bin/$1 2>/dev/null)
		[ "${out##* }" = 0 ] || { echo "$1 $2 failed: $out" >&2; exit 1; }
		echo "$1 $2 ${out% *}"
	}
	for i in $(seq "$N"); do
		call skein ADD b$i $P-pod-skein
		call ptp ADD b$i $P-pod-ref
		call skein DEL b$i $P-pod-skein
		call ptp DEL b$i $P-pod-ref
		read -r floor _ < <(build/bench/veth_floor /var/run/netns/$P-pod-skein 1) &&
			[ -n "$floor" ] || { echo "veth_floor failed" >&2; exit 1; }
		echo "floor DEL $floor 0"
	done' >"$W/times" || { echo "bench_cni: a plugin failed"; exit 1; }
# The floors no plugin can go below here, measured now: the kernel's veth
# deletion alone (bench/veth_floor.c, "floor DEL" above, in every round as
# RCU grace periods vary with the machine's load), and the peak RSS of an
# empty C program, dynamically linked as skein is (Debian ships no static
# libmnl), and linked statically against glibc (what skein could at best be
# with a static libmnl; only musl goes lower, and Debian builds neither
# jansson nor libmnl for musl).
printf 'int main(void) { return 0; }\n' >"$W/empty.c"
${CC:-cc} -O2 -o "$W/empty" "$W/empty.c" &&
	${CC:-cc} -O2 -static -o "$W/empty-static" "$W/empty.c" || { echo "bench_cni: cannot build $W/empty"; exit 1; }
RSS_EMPTY=$("$TIMER" "$W/skein.json" "$W/empty" | awk '{ print $2 }')
RSS_EMPTY_STATIC=$("$TIMER" "$W/skein.json" "$W/empty-static" | awk '{ print $2 }')
RSS_SKEIN_MAX=$(awk '$1 == "skein" && $4 > m { m = $4 } END { print m }' "$W/times")
RSS_REF_MAX=$(awk '$1 == "ptp" && $4 > m { m = $4 } END { print m }' "$W/times")

# pct "PLUGIN VERB" FRACTION: that percentile of the calls, in microseconds.
pct() {
	grep "^$1 " "$W/times" | awk '{print $3}' | sort -n |
		awk -v p="$2" '{ a[NR] = $1 } END { print a[int(p * (NR - 1) + 0.5) + 1] }'
}
printf '%-14s %10s %10s\n' "" median_us p99_us
for key in "skein ADD" "ptp ADD" "skein DEL" "ptp DEL" "floor DEL"; do
	printf '%-14s %10d %10d\n' "$key" "$(pct "$key" 0.5)" "$(pct "$key" 0.99)"
done
awk -v sa="$(pct "skein ADD" 0.5)" -v sd="$(pct "skein DEL" 0.5)" \
    -v ra="$(pct "ptp ADD" 0.5)" -v rd="$(pct "ptp DEL" 0.5)" \
    -v rs="$RSS_SKEIN_MAX" -v rr="$RSS_REF_MAX" -v n="$N" -v fd="$(pct "floor DEL" 0.5)" -v re="$RSS_EMPTY" -v rt="$RSS_EMPTY_STATIC" 'BEGIN {
	printf "ADD: skein %.2f ms, ptp+host-local %.2f ms: %.1fx faster\n", sa / 1000, ra / 1000, ra / sa
	printf "DEL: skein %.2f ms, ptp+host-local %.2f ms: %.1fx faster\n", sd / 1000, rd / 1000, rd / sd
	printf "ADD+DEL median over %d rounds: %.1fx faster (target >= 10x)\n", n, (ra + rd) / (sa + sd)
	printf "peak RSS: skein %d KiB, ptp+host-local %d KiB: %.2f of the reference (target <= 0.10)\n", rs, rr, rs / rr
	printf "floor: the kernel alone deletes a veth pair in %.2f ms (median, one RTM_DELLINK):\n", fd / 1000
	printf "  a plugin that removes the veth before DEL returns is at best %.1fx faster than\n", (ra + rd) / (sa + fd)
	printf "  the reference with skein'"'"'s ADD, %.1fx with an ADD that costs nothing\n", (ra + rd) / fd
	printf "floor: an empty dynamically linked C program peaks at %d KiB: %.2f of the reference\n", re, re / rr
	printf "  (linked statically against glibc: %d KiB, %.2f)\n", rt, rt / rr
}'
