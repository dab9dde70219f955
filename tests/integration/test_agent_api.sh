#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# skein-agent's API side against the test API server (tests/apiserver):
# the model it dumps (--model-dump) follows the cluster through adds,
# changes, deletes, bad values, dropped watches, 410s and a 60 s outage; it
# writes its own Node only when a value differs. It runs as
# build/tools/agent_sync: skein-agent's own agent_init()/agent_run() with a
# reconcile hook that only publishes annotations, because the real
# reconcile would program this host's network. Talks to 127.0.0.1 only.
# SKEIN_OUTAGE_SECONDS shortens the outage (default 60) for quick runs.
. "$(dirname "$0")/lib.sh"

API=$SKEIN_ROOT/tests/apiserver
SYNC=$SKEIN_ROOT/build/tools/agent_sync
OUTAGE=${SKEIN_OUTAGE_SECONDS:-60}
for f in "$API/server.py" "$API/kubectl-lite" "$SYNC"; do
	[ -e "$f" ] || { skip "agent_api: $f missing (run make test)"; exit 0; }
done

D=$(mktemp -d /tmp/skein-agent-api.XXXXXX)
on_exit "rm -rf $D"
LOGS=$SKEIN_ROOT/build/test-logs/agent_api
mkdir -p "$LOGS"
on_exit "cp $D/*.log $D/*.json $D/api/server.json $LOGS/" # kept for diagnosis
K() { "$API/kubectl-lite" --state-dir "$D/api" "$@"; }

# start_server [--listen ADDR]: starts the API server, waits until it answers.
start_server() {
	python3 "$API/server.py" --state-dir "$D/api" --bookmark-interval 1 "$@" >>"$D/server.log" 2>&1 &
	SERVER_PID=$!
	K wait --timeout 20 >/dev/null
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
on_exit 'stop_server'

# model_has EXPR [SECONDS]: waits until the Python expression holds for the
# dumped model m (nodes n{name: node}, peers p{name: peer}).
model_has() {
	local expr=$1 secs=${2:-5} dump=${3:-$D/model.json}
	python3 - "$dump" "$secs" "$expr" <<'PY'
import json, sys, time
path, secs, expr = sys.argv[1], float(sys.argv[2]), sys.argv[3]
end = time.time() + secs
while True:
    try:
        m = json.load(open(path))
        n = {x["name"]: x for x in m["nodes"]}
        p = {x["name"]: x for x in m["peers"]}
        if eval(expr):
            sys.exit(0)
    except (OSError, ValueError, KeyError):
        pass
    if time.time() > end:
        sys.exit(1)
    time.sleep(0.05)
PY
}
model_get() { python3 -c "import json,sys; m=json.load(open('$D/model.json')); print($1)"; }
requests() { K requests | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"; }

KEY1=8Rv7e8j3CrPmg7Q4hfPDO1YBrsTObkFDdXYE2nMvT0Y=
KEY2=HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=

start_server
K node add n1 --pod-cidr 10.10.1.0/24 --internal-ip 192.168.1.11 --location aws >/dev/null
K node add n2 --pod-cidr 10.10.2.0/24 --internal-ip 192.168.1.12 --location aws >/dev/null
K node add n3 --pod-cidr 10.10.3.0/24 --internal-ip 192.168.2.13 --location gcp >/dev/null
K peer add p1 --public-key $KEY1 --allowed-ip 10.5.0.1/32 --endpoint vpn.example.com:51820 >/dev/null
K token n1 >/dev/null

"$SYNC" -- --kubeconfig "$D/api/node-n1.kubeconfig" --hostname n1 --model-dump "$D/model.json" \
	--log-level debug >"$D/agent.log" 2>&1 &
AGENT_PID=$!
on_exit "kill $AGENT_PID"

check "initial list: 3 nodes and a peer" \
	model_has 'sorted(n) == ["n1", "n2", "n3"] and list(p) == ["p1"] and n["n3"]["location"] == "gcp"'

K node add n4 --pod-cidr 10.10.4.0/24 --internal-ip 192.168.2.14 >/dev/null
check "node added" model_has '"n4" in n and n["n4"]["podCIDRs"] == ["10.10.4.0/24"]'
K node set n2 --location azure --annotation skein.dev/endpoint=203.0.113.2:51820 >/dev/null
check "node modified" model_has 'n["n2"]["location"] == "azure" and n["n2"]["endpoint"] == "203.0.113.2:51820"'
K node ready n2 false >/dev/null
check "node readiness followed" model_has 'not n["n2"]["ready"]'
K node del n3 >/dev/null
check "node deleted" model_has '"n3" not in n'
K peer add p2 --public-key $KEY2 --allowed-ip 10.6.0.0/24 --keepalive 25 >/dev/null
check "peer added" model_has '"p2" in p and p["p2"]["persistentKeepalive"] == 25'
K peer set p2 --keepalive 10 >/dev/null
check "peer modified" model_has 'p["p2"]["persistentKeepalive"] == 10'
K peer del p1 >/dev/null
check "peer deleted" model_has '"p1" not in p'

# Change detection: a label and an annotation nobody reads change nothing.
gen=$(model_get 'm["generation"]')
K node set n2 --label tier=gold --annotation example.com/owner=team-a >/dev/null
K node set n4 --annotation kilo.squat.ai/last-seen=1700000000 >/dev/null
sleep 1.5
check "irrelevant updates trigger no model rebuild" [ "$(model_get 'm["generation"]')" = "$gen" ]

# A bad value leaves the node out with one log line; fixing it brings it back.
K node set n4 --annotation skein.dev/persistent-keepalive=often >/dev/null
check "bad annotation: node left out and named" model_has '"n4" not in n and "often" in m["rejected"].get("node/n4", "") and m["rejectedTotal"] == 1'
K node set n2 --label tier=silver >/dev/null
sleep 0.5
check "bad annotation logged once" [ "$(grep -c 'node n4: annotation skein.dev/persistent-keepalive: bad value "often"' "$D/agent.log")" = 1 ]
K node set n4 --annotation skein.dev/persistent-keepalive=25 >/dev/null
check "fixed annotation: node back" model_has '"n4" in n and n["n4"]["persistentKeepalive"] == 25 and not m["rejected"]'

# Dropped watches: the agent watches again from its resourceVersion and
# sees what happened meanwhile.
K drop-watches >/dev/null
K node add n5 --pod-cidr 10.10.5.0/24 >/dev/null
check "dropped watch: change made meanwhile seen" model_has '"n5" in n'

# 410 as an ERROR event on an open watch: listed again.
relists=$(model_get 'm["informers"]["nodes"]["relistsGone"]')
K expire >/dev/null
K node set n5 --location gcp >/dev/null
check "410 ERROR event: relisted and up to date" model_has "m['informers']['nodes']['relistsGone'] > $relists and n['n5']['location'] == 'gcp'"

# A deletion the agent never sees as an event: with the agent frozen, its
# watches are cut, the node goes and the history is compacted. Thawed, its
# watch from the old resourceVersion gets 410, and the fresh list, diffed
# against the cache, drops the node.
kill -STOP $AGENT_PID
K drop-watches >/dev/null
K node del n5 >/dev/null
K compact >/dev/null
relists=$(model_get 'm["informers"]["nodes"]["relistsGone"]')
check "frozen agent: n5 still cached" model_has '"n5" in n' 0
kill -CONT $AGENT_PID
check "deletion missed by the watch is found by the relist" model_has "'n5' not in n and m['informers']['nodes']['relistsGone'] > $relists" 5

# 500 and 429 with Retry-After on lists.
K faults '{"fail_next": 2, "fail_status": 429, "retry_after": 1, "fail_match": "limit="}' >/dev/null
K expire >/dev/null
K node add n6 --pod-cidr 10.10.6.0/24 >/dev/null
check "429 with Retry-After: recovered" model_has '"n6" in n' 8
K faults '{"fail_next": 0}' >/dev/null

check "without a reconcile hook the agent sends no writes" [ "$(requests 'r["byUser"].get("system:node:n1", {}).get("patch", 0)')" = 0 ]

# The API down for a minute, then back on the same port (the store is kept,
# old resourceVersions get 410): the agent resumes within 2 s.
PORT=$(cat "$D/api/port")
stop_server
sleep "$OUTAGE"
start_server --listen "127.0.0.1:$PORT"
t0=$(date +%s.%N)
K node add n7 --pod-cidr 10.10.7.0/24 >/dev/null
if model_has '"n7" in n' 10; then
	t=$(echo "$(date +%s.%N) - $t0" | bc)
	report "agent up to date $t s after the API came back from a ${OUTAGE} s outage"
	check "resumes within 2 s after a ${OUTAGE} s outage" [ "$(echo "$t < 2" | bc)" = 1 ]
else
	fail "resumes within 2 s after a ${OUTAGE} s outage (never caught up)"
fi
check "after the outage nothing was lost" model_has 'sorted(n) == ["n1", "n2", "n4", "n6", "n7"] and sorted(p) == ["p2"]'

# Writes: the agent loop with a hook that publishes two annotations at
# every reconcile (resync 1 s) patches its own Node once, and again only
# when someone changed one of the values.
check "no writes after the outage either" [ "$(requests 'r["byUser"].get("system:node:n1", {}).get("patch", 0)')" = 0 ]
K token n6 >/dev/null
K requests --reset >/dev/null
"$SYNC" skein.dev/public-key=$KEY2 skein.dev/endpoint=198.51.100.6:51820 -- \
	--kubeconfig "$D/api/node-n6.kubeconfig" --hostname n6 --model-dump "$D/model6.json" --resync 1 \
	>"$D/publisher.log" 2>&1 &
PUB_PID=$!
on_exit "kill $PUB_PID"
check "own annotations published" model_has 'n["n6"]["endpoint"] == "198.51.100.6:51820" and n["n6"]["publicKey"] is not None' 5 "$D/model6.json"
K node set n2 --location gcp >/dev/null
K node add n8 --pod-cidr 10.10.8.0/24 >/dev/null
sleep 3 # a few model changes and resyncs, each running the hook
patches=$(requests 'r["byUser"].get("system:node:n6", {}).get("patch", 0)')
check "own annotations PATCHed once, not rewritten when unchanged (got $patches)" [ "$patches" = 1 ]
K node set n6 --annotation skein.dev/endpoint=192.0.2.1:1 >/dev/null
check "a value changed by someone else is put back" model_has 'n["n6"]["endpoint"] == "198.51.100.6:51820"' 5 "$D/model6.json"
sleep 2
patches=$(requests 'r["byUser"].get("system:node:n6", {}).get("patch", 0)')
check "and patched exactly once more (got $patches)" [ "$patches" = 2 ]
check "the publisher's patches were all accepted" [ "$(grep -c 'error' "$D/publisher.log")" = 0 ]
