#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Throughput (iperf3 TCP) and ping RTT across locations in the simulated
# multi-cloud (hack/multicloud.sh), aws-1 -> gcp-1 through both NATs:
#   bare:  a plain wireguard-go tunnel between the two node namespaces, set
#          up with wg (the reference);
#   skein: pod to pod through skein between pods on the same two nodes
#          (both are their location's leader: one tunnel hop);
#   skein via members: pod to pod between aws-2 and gcp-2, which are not
#          leaders: one LAN hop to the leader on each side (informational).
# They are measured interleaved, round by round, the order alternating
# (ABBA), so machine noise and warm-up hit all alike; medians are compared
# (target: skein/bare >= 0.95). The MTUs of the paths are printed, since an
# MTU that differs from the bare tunnel's changes TCP's segment size.
# Env: BENCH_TUNNEL_ROUNDS (default 3), BENCH_TUNNEL_SECONDS (iperf3 -t, default 3).
set -u
cd "$(dirname "$0")/.." || exit 1
rounds=${BENCH_TUNNEL_ROUNDS:-3}
seconds=${BENCH_TUNNEL_SECONDS:-3}

for tool in wireguard-go wg iperf3 jq ping; do
	command -v "$tool" >/dev/null || { echo "bench_tunnel: skipped, no $tool"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench_tunnel: skipped, needs root"; exit 0; }

export SKEIN_MC_PREFIX=bt$$
. hack/multicloud.sh
trap mc_down EXIT
trap 'exit 130' INT TERM

client=aws-1 server=gcp-1
bare_net=10.98.0 bare_port=51821   # 51820 stays free for skein

# tcp_gbps NS_CLIENT SERVER_IP: one iperf3 run, Gbit/s received.
tcp_gbps() {
	ip netns exec "$1" iperf3 -c "$2" -t "$seconds" -J 2>/dev/null |
		jq -r '.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000'
}

# rtt_ms NS_CLIENT DEST: mean RTT of 200 pings at a 10 ms interval.
rtt_ms() {
	ip netns exec "$1" ping -q -c 200 -i 0.01 -W 1 "$2" 2>/dev/null |
		sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p'
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.3f\n", a / b}'; }

setup_bare_tunnel() {
	mc_bare_tunnel "$client" "$server" wgb0 "$bare_port" "$bare_net" &&
		mc_node_daemon "$server" iperf3-bare iperf3 -s -B "$bare_net.2" &&
		mc_wait 5 mc_node_exec "$client" ping -c1 -W1 "$bare_net.2" >/dev/null
}

# measure_bare_tunnel: prints "Gbit/s rtt_ms".
measure_bare_tunnel() {
	local ns
	ns=$(mc_ns "$client")
	echo "$(tcp_gbps "$ns" "$bare_net.2") $(rtt_ms "$ns" "$bare_net.2")"
}

# setup_skein_pods: the test API server, the four nodes registered with an
# agent each, a pod on each through the conflist the agent wrote, an iperf3
# server in the server pods. When this fails the benchmark reports the
# baseline alone.
members=(aws-2 gcp-2)
setup_skein_pods() {
	local node ip
	mc_start_apiserver || return 1
	for node in "$client" "$server" "${members[@]}"; do
		mc_register_node "$node" && mc_agent_start "$node" || return 1
	done
	for node in "$client" "$server" "${members[@]}"; do
		mc_wait 20 test -s "$(mc_node_dir "$node")/cni-net.d/$MC_CONFLIST" ||
			{ echo "bench_tunnel: $node's agent wrote no CNI config" >&2; return 1; }
	done
	mc_pod_add "$client" bench-client && mc_pod_add "$server" bench-server &&
		mc_pod_add "${members[0]}" bench-mclient && mc_pod_add "${members[1]}" bench-mserver || return 1
	for pod in bench-server bench-mserver; do
		ip=$(mc_pod_ip "$pod")
		mc_ns_daemon "$(mc_pod_ns "$pod")" iperf3 "$MC_STATE/log" iperf3 -s -B "$ip" || return 1
	done
	mc_wait 20 mc_pod_exec bench-client ping -c1 -W1 "$(mc_pod_ip bench-server)" >/dev/null &&
		mc_wait 20 mc_pod_exec bench-mclient ping -c1 -W1 "$(mc_pod_ip bench-mserver)" >/dev/null ||
		{ echo "bench_tunnel: pod to pod through skein does not answer" >&2; return 1; }
}

# measure_pods CLIENT_POD SERVER_POD: prints "Gbit/s rtt_ms" pod to pod,
# like measure_bare_tunnel.
measure_pods() {
	local ip
	ip=$(mc_pod_ip "$2") || return 1
	echo "$(tcp_gbps "$(mc_pod_ns "$1")" "$ip") $(rtt_ms "$(mc_pod_ns "$1")" "$ip")"
}

mtu_of() { ip -n "$1" -o link show "$2" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }

mc_up >/dev/null || { echo "bench_tunnel: multicloud set-up failed"; exit 1; }
setup_bare_tunnel || { echo "bench_tunnel: bare tunnel set-up failed"; exit 1; }
with_skein=0
if setup_skein_pods; then with_skein=1; fi

bare_tcp=() bare_rtt=() skein_tcp=() skein_rtt=() memb_tcp=() memb_rtt=()
run_bare() {
	read -r t p < <(measure_bare_tunnel)
	bare_tcp+=("$t") bare_rtt+=("$p")
	echo "round $r: bare tunnel         $t Gbit/s, rtt $p ms"
}
run_skein() {
	read -r t p < <(measure_pods bench-client bench-server)
	skein_tcp+=("$t") skein_rtt+=("$p")
	echo "round $r: skein pod-pod       $t Gbit/s, rtt $p ms"
	read -r t p < <(measure_pods bench-mclient bench-mserver)
	memb_tcp+=("$t") memb_rtt+=("$p")
	echo "round $r: skein via members   $t Gbit/s, rtt $p ms"
}
for r in $(seq "$rounds"); do
	if [ "$with_skein" = 0 ]; then run_bare; continue; fi
	if [ $((r % 2)) = 1 ]; then run_bare; run_skein; else run_skein; run_bare; fi
done

bt=$(printf '%s\n' "${bare_tcp[@]}" | median) br=$(printf '%s\n' "${bare_rtt[@]}" | median)
echo "bare wireguard-go tunnel $client -> $server across both NATs: TCP $bt Gbit/s, ping RTT $br ms (median of $rounds)"
if [ "$with_skein" = 1 ]; then
	st=$(printf '%s\n' "${skein_tcp[@]}" | median) sr=$(printf '%s\n' "${skein_rtt[@]}" | median)
	mt=$(printf '%s\n' "${memb_tcp[@]}" | median) mr=$(printf '%s\n' "${memb_rtt[@]}" | median)
	echo "MTU: bare wgb0 $(mtu_of "$(mc_ns "$client")" wgb0), skein0 $(mtu_of "$(mc_ns "$client")" skein0), pod eth0 $(mtu_of "$(mc_pod_ns bench-client)" eth0)"
	echo "skein pod to pod $client -> $server: TCP $st Gbit/s, ping RTT $sr ms (median of $rounds)"
	echo "skein pod to pod ${members[0]} -> ${members[1]} (through both leaders): TCP $mt Gbit/s, ping RTT $mr ms (median of $rounds)"
	echo "ratio skein/bare: TCP $(ratio "$st" "$bt") (target >= 0.95), RTT $(ratio "$sr" "$br")"
	echo "ratio skein via members/bare: TCP $(ratio "$mt" "$bt"), RTT $(ratio "$mr" "$br")"
else
	echo "skein pod to pod: not measured (setup_skein_pods failed, see above); baseline only"
fi
