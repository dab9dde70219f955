#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end on the simulated multi-cloud (hack/multicloud.sh, docs/e2e.md),
# what happens to pod traffic between locations when things fail, measured
# with continuous pings every 10 ms:
#   - the leader of aws crashes (agent and wireguard-go killed, Node set
#     NotReady): traffic moves to the next leader; the outage is reported;
#     it comes back and takes the lead again;
#   - the same with the new leader configured last (its agent paused until
#     the other location's leader had sent it a handshake initiation, which
#     it drops): the outage once its agent resumes is reported;
#   - a leader's agent alone dies (the node stays Ready): nothing is lost;
#   - every agent restarted in turn, as a DaemonSet upgrade does (SIGTERM,
#     --clean-up=false): nothing is lost; with the default --clean-up=true
#     the loss is reported;
#   - the API server is down for 60 s (E2E_API_OUTAGE_SECONDS): nothing is
#     lost, and a change made once it is back reaches every leader.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/e2e_lib.sh"
need_root
e2e_need_tools
outage_s=${E2E_API_OUTAGE_SECONDS:-60}
agent_args=(--clean-up=false --resync-period=5s)

export SKEIN_MC_PREFIX=${T_PREFIX}r
. "$SKEIN_ROOT/hack/multicloud.sh"
e2e_multicloud_tweaks

mc_up || { fail "multicloud up"; exit 1; }
mc_cluster_up "${agent_args[@]}" || { fail "cluster up (agents on every node)"; exit 1; }
e2e_pods || { fail "pods on every node through the CNI config the agents wrote"; exit 1; }
pass "cluster up: 6 agents (${agent_args[*]}), ${#E2E_PODS[@]} pods"

# Pairs across locations, each through two leaders, one through the NAT.
PAIRS=("p-gcp-2 p-aws-2" "p-home-1 p-onprem-1" "p-aws-1b p-gcp-1")
all_pairs_answer() {
	local pair a b
	for pair in "${PAIRS[@]}"; do
		read -r a b <<<"$pair"
		pod_pings "$a" "$(mc_pod_ip "$b")" 10 || { echo "$a -> $b does not answer"; return 1; }
	done
}
check "every pair answers before the faults" all_pairs_answer

# pings_start TAG: a continuous ping for every pair; pings_stop TAG sets
# LOST and SENT summed over the pairs, and PINGS_DETAIL per pair.
pings_start() {
	local i a b
	for i in "${!PAIRS[@]}"; do
		read -r a b <<<"${PAIRS[$i]}"
		mc_ping_start "$(mc_pod_ns "$a")" "$1-$i" "$(mc_pod_ip "$b")"
	done
}
pings_stop() {
	local i a b out l s
	LOST=0 SENT=0 PINGS_DETAIL=""
	for i in "${!PAIRS[@]}"; do
		read -r a b <<<"${PAIRS[$i]}"
		out=$(mc_ping_stop "$(mc_pod_ns "$a")" "$1-$i") || out="0 0"
		read -r l s < <(ping_lost "$out")
		LOST=$((LOST + l)) SENT=$((SENT + s))
		PINGS_DETAIL+="$a->$b $l/$s lost; "
	done
}

# ------------------------------------------------------------ leader crash
# aws-1 leads aws (public endpoint, first by name). It crashes: its agent
# and wireguard-go die, then the node controller marks it NotReady (done at
# once here; a real cluster waits its grace period first). The pair
# gcp-2 -> aws-2 must move to aws-2 as the new leader.
crash_aws1() {
	mc_agent_stop aws-1 KILL
	mc_wg_stop aws-1 skein0
	klite node ready aws-1 false >/dev/null
}
check "aws-1 leads aws before the crash" test "$(leader_of aws)" = aws-1
dest=$(mc_pod_ip p-aws-2)
mc_ping_start "$(mc_pod_ns p-gcp-2)" failover "$dest"
sleep 0.5
t0=$(now_ms)
crash_aws1
t_notready=$(now_ms)
recovered=0
if pod_pings p-gcp-2 "$dest" 30; then recovered=1; fi
t1=$(now_ms)
sleep 0.5
out=$(mc_ping_stop "$(mc_pod_ns p-gcp-2)" failover)
read -r lost sent < <(ping_lost "$out")
check "leader crash: traffic moves to a new leader (gcp-2 -> aws-2 answers again)" test $recovered = 1
report "leader crash: pod traffic back $((t1 - t0)) ms after the crash, $((t1 - t_notready)) ms after the NotReady write returned; $lost of $sent pings lost at 10 ms (~$((lost * 10)) ms)"
new_leader_holds_tunnels() {
	[ "$(mc_node_exec aws-2 wg show skein0 peers | wc -l)" -ge 3 ] &&
		mc_node_exec gcp-1 wg show skein0 peers | grep -qF "$(node_pubkey aws-2)"
}
check "leader crash: aws-2 holds the tunnels of aws, gcp-1's peer for aws is aws-2" mc_wait 10 new_leader_holds_tunnels

# aws-1 comes back (agent restarted, Ready again): it leads again.
back_to_aws1() {
	mc_node_exec gcp-1 wg show skein0 peers | grep -qF "$(node_pubkey aws-1)" &&
		pod_pings p-gcp-2 "$dest" 1
}
aws1_back() { # TAG
	mc_ping_start "$(mc_pod_ns p-gcp-2)" "$1" "$dest"
	sleep 0.5
	t0=$(now_ms)
	mc_agent_start aws-1 "${agent_args[@]}" && klite node ready aws-1 true >/dev/null
	check "leader back ($1): aws-1 leads aws again and traffic flows" mc_wait 30 back_to_aws1
	t1=$(now_ms)
	sleep 1
	out=$(mc_ping_stop "$(mc_pod_ns p-gcp-2)" "$1")
	read -r lost sent < <(ping_lost "$out")
	report "leader back ($1): lead handed back to aws-1 within $((t1 - t0)) ms; $lost of $sent pings lost at 10 ms"
}
aws1_back failback
check "after failover and back, every pair answers" all_pairs_answer

# ----------------------------------------- the new leader configured last
# The crash again, with aws-2's agent paused (SIGSTOP) until gcp-1 holds
# aws-2 as its peer for aws and the pings have made it send aws-2 a
# handshake initiation, which aws-2 drops: it does not know gcp-1 yet. That
# order made about one failover in six take 5 s, WireGuard's REKEY_TIMEOUT
# before it retries an initiation. Once resumed, aws-2's agent adds gcp-1
# and probes it (docs/agent.md), starting the handshake itself.
aws2_agent=$(mc_daemon_pid "$(mc_ns aws-2)" agent)
mc_ping_start "$(mc_pod_ns p-gcp-2)" configured-last "$dest"
sleep 0.5
kill -STOP "$aws2_agent"
crash_aws1
gcp1_initiated_to_aws2() { # gcp-1 sent aws-2's peer something, had no handshake with it
	local k
	k=$(node_pubkey aws-2)
	mc_node_exec gcp-1 wg show skein0 transfer | awk -v k="$k" '$1 == k && $3 > 0 { f = 1 } END { exit !f }' &&
		mc_node_exec gcp-1 wg show skein0 latest-handshakes | awk -v k="$k" '$1 == k && $2 == 0 { f = 1 } END { exit !f }'
}
check "configured last: gcp-1 sent aws-2 a handshake initiation aws-2 dropped" mc_wait 10 gcp1_initiated_to_aws2
sleep 1 # WireGuard's retry is due 5 s after that initiation
t0=$(now_ms)
kill -CONT "$aws2_agent"
recovered=0
if pod_pings p-gcp-2 "$dest" 30; then recovered=1; fi
t1=$(now_ms)
sleep 0.5
out=$(mc_ping_stop "$(mc_pod_ns p-gcp-2)" configured-last)
read -r lost sent < <(ping_lost "$out")
check "configured last: traffic moves to aws-2" test $recovered = 1
report "new leader configured last (agent paused until gcp-1's first initiation was dropped): pod traffic back $((t1 - t0)) ms after its agent resumed; $lost of $sent pings lost at 10 ms in all"
aws1_back configured-last
check "after the second failover and back, every pair answers" all_pairs_answer

# ------------------------------------------------- a leader's agent dies
# The node stays Ready (kubelet is fine, only the agent crashed): its device
# stays as programmed and nobody needs to move.
pings_start agent-crash
sleep 0.5
mc_agent_stop gcp-1 KILL
sleep 2
mc_agent_start gcp-1 "${agent_args[@]}"
sleep 2
pings_stop agent-crash
report "leader's agent killed and restarted (node Ready): $LOST of $SENT pings lost (${PINGS_DETAIL%; })"
check "a leader's agent crash loses no packet" test "$LOST" -eq 0

# ---------------------------------------------------------- agent restart
# Every agent in turn: SIGTERM with --clean-up=false (as an upgrade's
# rolling restart would run it), start again, wait for /healthz.
healthz() { mc_node_exec "$1" curl -fsS --max-time 1 http://127.0.0.1:1107/healthz >/dev/null 2>&1; }
pings_start restart
sleep 0.5
restarted=0
for node in "${MC_NODES[@]}"; do
	mc_agent_stop "$node" &&
		mc_agent_start "$node" "${agent_args[@]}" &&
		mc_wait 10 healthz "$node" && restarted=$((restarted + 1))
	sleep 1
done
sleep 1
pings_stop restart
check "all 6 agents restarted in turn" test $restarted -eq 6
report "agent restart on every node in turn (--clean-up=false): $LOST of $SENT pings lost (${PINGS_DETAIL%; })"
check "agent restarts with --clean-up=false lose no packet" test "$LOST" -eq 0

# The same for one leader with the default --clean-up=true: SIGTERM takes
# its peers, routes and rules away and the new agent puts them back.
mc_agent_stop aws-1 && mc_agent_start aws-1 --resync-period=5s && mc_wait 10 healthz aws-1
sleep 1
pings_start restart-cleanup
sleep 0.5
t0=$(now_ms)
mc_agent_stop aws-1 && mc_agent_start aws-1 "${agent_args[@]}" && mc_wait 10 healthz aws-1
check "leader restarted with --clean-up=true: traffic flows again" all_pairs_answer
t1=$(now_ms)
sleep 0.5
pings_stop restart-cleanup
report "leader agent restart with --clean-up=true (SIGTERM undoes the node): $LOST of $SENT pings lost (${PINGS_DETAIL%; }), $((t1 - t0)) ms until every pair answered"

# ------------------------------------------------------ API server outage
pings_start api-outage
sleep 0.5
mc_stop_apiserver
sleep "$outage_s"
alive=0
for node in "${MC_NODES[@]}"; do mc_daemon_pid "$(mc_ns "$node")" agent >/dev/null && alive=$((alive + 1)); done
pings_stop api-outage
check "API server outage: every agent is still running after ${outage_s}s" test $alive -eq 6
report "API server down ${outage_s}s: $LOST of $SENT pings lost (${PINGS_DETAIL%; })"
check "API server outage: the datapath loses no packet" test "$LOST" -eq 0

# It returns; a Peer created afterwards reaches every leader.
mc_start_apiserver || fail "API server restart"
peer_key=$(wg genkey | wg pubkey)
t0=$(now_ms)
klite peer add after-outage --public-key "$peer_key" --allowed-ip 10.5.0.9/32 >/dev/null
peer_everywhere() {
	local node
	for node in aws-1 gcp-1 home-1 onprem-1; do
		mc_node_exec "$node" wg show skein0 peers | grep -qF "$peer_key" || return 1
	done
}
if mc_wait 60 peer_everywhere; then
	pass "API server back: agents resync, a Peer created after the outage is on every leader"
	report "API server back: new Peer on every leader $(($(now_ms) - t0)) ms after it was created"
else
	fail "API server back: agents resync, a Peer created after the outage is on every leader"
fi
check "after everything, every pair answers" all_pairs_answer
