#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The agent's Kubernetes side at scale, against the test API server
# (tests/apiserver) holding BENCH_KUBE_NODES (default 5000) kubelet-like Nodes:
#   - time from start to a synced model (paginated list + model dump),
#     target < 1 s, and the agent's CPU time for it;
#   - peak RSS (VmHWM), target < 32 MiB, and again after a relist forced by
#     410 Gone (the old cache and the new list coexist: what the
#     DaemonSet's memory limit must leave room for);
#   - CPU per watch event: 1000 irrelevant updates (labels: filtered by the
#     digest), then 1000 relevant ones (an annotation: model rebuilds), then
#     single relevant changes one at a time (a whole rebuild each);
# next to the reference: `kubectl get nodes -o name` listing the same nodes
# (wall time and peak RSS). The agent runs as build/tools/agent_sync, the
# agent's API side without node programming. The API server is Python, so
# wall times include its serialisation; the CPU times are the agent's own.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${BENCH_KUBE_NODES:-5000}
EVENTS=1000
SYNC=build/tools/agent_sync
API=tests/apiserver
[ -x "$SYNC" ] || { echo "bench_kube: skipped, $SYNC not built (make bench builds it)"; exit 0; }

D=$(mktemp -d /tmp/skein-bench-kube.XXXXXX)
SERVER_PID= AGENT_PID=
cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
K() { "$API/kubectl-lite" --state-dir "$D/api" "$@"; }
TICK=$(getconf CLK_TCK)

python3 "$API/server.py" --state-dir "$D/api" >"$D/server.log" 2>&1 &
SERVER_PID=$!
K wait --timeout 30 >/dev/null || { echo "bench_kube: API server did not start"; exit 1; }
K node add-many "$N" --locations 10 --annotation skein.dev/persistent-keepalive=25 >/dev/null

# model_nodes EXPR TIMEOUT: waits until the dump satisfies EXPR (m = model).
wait_model() {
	python3 - "$D/model.json" "$2" "$1" <<'PY'
import json, sys, time
path, secs, expr = sys.argv[1], float(sys.argv[2]), sys.argv[3]
end = time.time() + secs
while time.time() < end:
    try:
        m = json.load(open(path))
        if eval(expr):
            sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.005)
sys.exit(1)
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# Reference: kubectl lists the same nodes (warm discovery cache).
kc=(kubectl --kubeconfig "$D/api/admin.kubeconfig" --cache-dir "$D/kcache")
"${kc[@]}" get nodes -o name --chunk-size 500 >/dev/null 2>&1
read -r k_wall k_rss < <(/usr/bin/time -f "%e %M" "${kc[@]}" get nodes -o name --chunk-size 500 2>&1 >/dev/null | tail -1)

start=$(date +%s.%N)
"$SYNC" -- --kubeconfig "$D/api/admin.kubeconfig" --hostname node-0 --model-dump "$D/model.json" \
	--log-level warn >"$D/agent.log" 2>&1 &
AGENT_PID=$!
wait_model "len(m['nodes']) == $N" 60 || { echo "bench_kube: model never synced"; cat "$D/agent.log"; exit 1; }
sync_s=$(echo "$(date +%s.%N) - $start" | bc)
sync_cpu=$(cpu_ticks $AGENT_PID)
sync_hwm=$(hwm_kib $AGENT_PID)

# bulk_update KIND VALUE: replaces the first $EVENTS nodes with a changed
# label (irrelevant) or location annotation (relevant), in one request.
bulk_update() {
	K get nodes | python3 -c "
import json, sys
items = json.load(sys.stdin)['items'][:$EVENTS]
for o in items:
    o['metadata'].pop('resourceVersion', None)
    if '$1' == 'label':
        o['metadata'].setdefault('labels', {})['bench'] = '$2'
    else:
        o['metadata'].setdefault('annotations', {})['skein.dev/location'] = '$2'
print(json.dumps({'objects': items}))" >"$D/bulk.json"
	python3 - "$D/api/server.json" "$D/bulk.json" <<'PY'
import http.client, json, ssl, sys
info = json.load(open(sys.argv[1]))
host, port = info["url"][len("https://"):].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=info["ca"])
ctx.check_hostname = False
c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=120)
c.request("POST", "/_test/bulk", open(sys.argv[2], "rb").read(),
          {"Authorization": "Bearer " + info["adminToken"], "Content-Type": "application/json"})
r = c.getresponse()
r.read()
sys.exit(0 if r.status in (200, 201) else 1)
PY
}

events0=$(python3 -c "import json; print(json.load(open('$D/model.json'))['informers']['nodes']['events'])")
c0=$(cpu_ticks $AGENT_PID)
bulk_update label x1 || { echo "bench_kube: bulk update failed"; exit 1; }
# One relevant change marks the end of the irrelevant batch.
K node set node-0 --location marker >/dev/null
wait_model "m['informers']['nodes']['events'] >= $events0 + $EVENTS + 1" 60
c1=$(cpu_ticks $AGENT_PID)
bulk_update annotation benchloc || { echo "bench_kube: bulk update failed"; exit 1; }
wait_model "sum(1 for n in m['nodes'] if n['location'] == 'benchloc') == $EVENTS" 120
c2=$(cpu_ticks $AGENT_PID)
# One relevant change at a time: each costs a whole model rebuild (and dump).
for i in 1 2 3 4 5; do
	K node set node-1 --location single$i >/dev/null
	wait_model "any(n['name'] == 'node-1' and n['location'] == 'single$i' for n in m['nodes'])" 30
done
c3=$(cpu_ticks $AGENT_PID)
rss=$(hwm_kib $AGENT_PID)
lists0=$(python3 -c "import json; print(json.load(open('$D/model.json'))['informers']['nodes']['lists'])")
K expire >/dev/null
K node set node-1 --location relist >/dev/null
wait_model "m['informers']['nodes']['lists'] > $lists0 and any(n['name'] == 'node-1' and n['location'] == 'relist' for n in m['nodes'])" 60 ||
	{ echo "bench_kube: no relist after 410 Gone"; exit 1; }
relist_rss=$(hwm_kib $AGENT_PID)

us_per() { echo "scale=1; ($1) * 1000000 / $TICK / $EVENTS" | bc; }
echo "bench_kube: $N nodes"
echo "  synced model:  ${sync_s} s wall (target < 1 s), agent CPU $(echo "scale=3; $sync_cpu / $TICK" | bc) s"
echo "  reference:     kubectl get nodes: ${k_wall} s wall, peak RSS $((k_rss / 1024)) MiB"
echo "  peak RSS:      $((rss / 1024)) MiB (target < 32 MiB; $((sync_hwm / 1024)) MiB at sync), $(echo "scale=2; $rss / $k_rss" | bc)x kubectl's"
echo "                 $((relist_rss / 1024)) MiB through a relist after 410 Gone"
echo "  CPU per event: irrelevant $(us_per "$c1 - $c0") us, relevant $(us_per "$c2 - $c1") us in a burst (rebuilds coalesce),"
echo "                 a lone relevant change $(echo "scale=1; ($c3 - $c2) * 1000 / $TICK / 5" | bc) ms (model rebuild + dump of $N nodes)"
echo "  sync time vs kubectl list: $(echo "scale=2; $sync_s / $k_wall" | bc)x"
