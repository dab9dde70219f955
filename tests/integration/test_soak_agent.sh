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
for tool in wireguard-go wg nft python3; do
	command -v "$tool" >/dev/null || { skip "soak_agent: $tool not installed"; exit 0; }
done
[ -x "$AGENT_BIN" ] || { fail "soak_agent: $AGENT_BIN not built"; exit 1; }

EVENTS=${SOAK_AGENT_EVENTS:-1000}
DROPS=${SOAK_AGENT_DROPS:-20}
agent_env_setup sa || { fail "soak_agent: environment"; exit 1; }
on_exit "cp $RUN/agent.log $SKEIN_ROOT/build/test-logs/test_soak_agent.agent.log"
for i in $(seq 0 39); do wg genkey | wg pubkey; done >"$RUN/keys"

# events FROM TO: applies events FROM..TO-1 of one fixed random sequence
# (the pool state is kept in $RUN/pool.json between calls).
events() {
	ip netns exec "$NODE" python3 - "$RUN" "$1" "$2" "$EVENTS" "$DROPS" \
		"$SKEIN_ROOT/tests/apiserver/kubectl-lite" <<'PY'
import importlib.machinery, importlib.util, json, os, random, sys
run, start, end, total, drops, klite = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
loader = importlib.machinery.SourceFileLoader("klite", klite)
spec = importlib.util.spec_from_loader("klite", loader)
kl = importlib.util.module_from_spec(spec)
loader.exec_module(kl)
c = kl.Client(os.path.join(run, "api"))
keys = open(os.path.join(run, "keys")).read().split()
pool_file = os.path.join(run, "pool.json")
alive = json.load(open(pool_file)) if start else {}
rng = random.Random(7)
for _ in range(start * 4):  # the same draws as if every earlier event ran here
    rng.random()
drop_every = max(1, total // max(1, drops))

def node(i, loc):
    name = "s%02d" % i
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                         "annotations": {"skein.dev/location": loc,
                                         "skein.dev/public-key": keys[i],
                                         "skein.dev/endpoint": "192.168.91.%d:51820" % (i + 10)}},
            "spec": {"podCIDR": "10.245.%d.0/24" % i, "podCIDRs": ["10.245.%d.0/24" % i]},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.%d.0.2" % (i + 100)}],
                       "conditions": [kl.ready_condition(True)]}}

def patch(name, body, sub=""):
    c.request("PATCH", "/api/v1/nodes/%s%s" % (name, sub), body, "application/merge-patch+json")

for k in range(start, end):
    r = [rng.random() for _ in range(4)]
    i = int(r[0] * 40)
    name = "s%02d" % i
    if name not in alive:
        loc = ["aws", "gcp", "azure", name][int(r[1] * 4)]
        c.request("POST", "/api/v1/nodes", node(i, loc))
        alive[name] = loc
    elif r[1] < 0.3:
        c.request("DELETE", "/api/v1/nodes/" + name)
        del alive[name]
    else:
        what = int(r[2] * 5)
        ann = {}
        if what == 0:
            ann["skein.dev/endpoint"] = "192.168.91.%d:%d" % (i + 10, 51820 + int(r[3] * 100))
        elif what == 1:
            ann["skein.dev/persistent-keepalive"] = str(int(r[3] * 30)) if r[3] > 0.3 else None
        elif what == 2:
            ann["skein.dev/allowed-location-ips"] = "172.20.%d.0/24" % i if r[3] > 0.5 else None
        elif what == 3:
            patch(name, {"status": {"conditions": [kl.ready_condition(r[3] > 0.3)]}}, "/status")
        else:
            patch(name, {"metadata": {"labels": {"soak": str(k)}}})  # no reconcile needed
        if ann:
            patch(name, {"metadata": {"annotations": ann}})
    if (k + 1) % drop_every == 0 and (k + 1) // drop_every <= drops:
        c.request("POST", "/_test/faults", {"drop_watches": True})
json.dump(alive, open(pool_file, "w"))
print(len(alive))
PY
}

# settled DUMP: waits until the dump has not changed for 3 s (at most 60 s).
settled() {
	local last="" now i
	for i in $(seq 120); do
		now=$(md5sum "$1" 2>/dev/null)
		if [ -n "$now" ] && [ "$now" = "$last" ] && [ "$i" -ge 6 ]; then
			last_stable=$((last_stable + 1))
			[ "$last_stable" -ge 6 ] && return 0
		else
			last_stable=0
		fi
		last=$now
		sleep 0.5
	done
	return 1
}

agent_start --model-dump "$RUN/model-a.json" --resync-period=1s --clean-up=false
settled "$RUN/model-a.json" || fail "first agent publishes a model"
FD0=$(agent_fds) RSS0=$(agent_rss_kb)
half=$((EVENTS / 2))
events 0 "$half" >/dev/null || fail "events 1-$half applied"
settled "$RUN/model-a.json"
FD1=$(agent_fds) RSS1=$(agent_rss_kb)
ALIVE=$(events "$half" "$EVENTS") || fail "events $half-$EVENTS applied"
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
