#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Agent soak: the real skein-agent (userspace WireGuard) in a node namespace
# against the test API server, through SOAK_AGENT_EVENTS node add/modify/
# delete events (1,000) with SOAK_AGENT_DROPS forced watch drops (20) spread
# among them. Afterwards its model (--model-dump) and the node's state
# (WireGuard peers, addresses, routes, rules, nftables, conflist) must equal
# what a fresh agent computes from the same cluster, and its fd count and
# RSS must be flat: the same after the second half of the events as after
# the first.
source "$(dirname "$0")/lib.sh"
source "$SKEIN_ROOT/tests/apiserver/lib.sh"
source "$(dirname "$0")/agent_env.sh"
need_root
need_tools wireguard-go wg nft python3
[ -x "$AGENT_BIN" ] || { fail "soak_agent: $AGENT_BIN not built"; exit 1; }

EVENTS=${SOAK_AGENT_EVENTS:-1000}
DROPS=${SOAK_AGENT_DROPS:-20}
agent_env_setup sa || { fail "soak_agent: environment"; exit 1; }
on_exit "cp $RUN/agent.log $SKEIN_ROOT/build/test-logs/test_soak_agent.agent.log"
agent_start --model-dump "$RUN/model-a.json" --resync-period=1s --clean-up=false
settled "$RUN/model-a.json" || fail "first agent publishes a model"
FD0=$(agent_fds) RSS0=$(agent_rss_kb)
half=$((EVENTS / 2))
events 0 "$half" "$EVENTS" "$DROPS" >/dev/null || fail "events 1-$half applied"
settled "$RUN/model-a.json"
FD1=$(agent_fds) RSS1=$(agent_rss_kb)
ALIVE=$(events "$half" "$EVENTS" "$EVENTS" "$DROPS") || fail "events $half-$EVENTS applied"
check "the agent survives $EVENTS events and $DROPS watch drops" kill -0 "$AGENT_PID"
settled "$RUN/model-a.json" || fail "the model settles after the events"
sleep 2 # one more resync (1 s) with nothing new
FD2=$(agent_fds) RSS2=$(agent_rss_kb)
report "agent fds $FD0 -> $FD1 -> $FD2, RSS $RSS0 -> $RSS1 -> $RSS2 KiB (start, half, end)"
check "the model holds the $ALIVE live nodes and n1" test "$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))["nodes"]))' "$RUN/model-a.json")" -eq $((ALIVE + 1))
check "fd count flat: $FD1 after the first half, $FD2 after the second" test "$FD2" -le "$FD1"
check "RSS flat: the second half grew it by $((RSS2 - RSS1)) KiB (at most 1024)" \
	test $((RSS2 - RSS1)) -le 1024
check "the agent logged no errors" bash -c "! grep -q ' error: ' '$RUN/agent.log'"
node_state "$RUN/state-a"
model_of "$RUN/model-a.json" >"$RUN/model-a.canon"
agent_stop

# A fresh agent on the same node and cluster: the same model, and nothing
# on the node to change.
agent_start --model-dump "$RUN/model-b.json" --resync-period=1s --clean-up=false
settled "$RUN/model-b.json" || fail "fresh agent publishes a model"
sleep 2
node_state "$RUN/state-b"
model_of "$RUN/model-b.json" >"$RUN/model-b.canon"
agent_stop
check "model after the soak equals a fresh agent's" diff -u "$RUN/model-a.canon" "$RUN/model-b.canon"
check "node state after the soak equals a fresh agent's" diff -u "$RUN/state-a" "$RUN/state-b"
check "the node state holds WireGuard peers" test "$(grep -c '^[A-Za-z0-9+/]\{43\}= ' "$RUN/state-a")" -gt 1
