#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test API server behaves like a Kubernetes API server where skein and
# kubectl depend on it: tokens, resourceVersions, pagination, watches with
# bookmarks and 410, patches, validation, faults, counters, restarts.
. "$(dirname "$0")/lib.sh"
. "$SKEIN_ROOT/tests/apiserver/lib.sh"

D=$(mktemp -d /tmp/skein-apiserver.XXXXXX)
on_exit "rm -rf $D"
if ! apiserver_start "$D/srv" --compaction 30 --bookmark-interval 1; then
	fail "server starts"; exit 1
fi
pass "server starts"
out=$D/srv/out

check "state dir has CA, kubeconfig, pid" \
	test -s "$D/srv/ca.crt" -a -s "$D/srv/admin.kubeconfig" -a -s "$D/srv/server.pid"
check "certificate verifies against ca.crt" \
	openssl s_client -connect "${APISERVER_URL#https://}" -CAfile "$D/srv/ca.crt" \
	-verify_return_error -verify_ip 127.0.0.1 </dev/null >/dev/null 2>&1

# --- tokens ---------------------------------------------------------------
check "no token: 401" test "$(api GET /api/v1/nodes '' '' '')" = 401
check "wrong token: 401" test "$(api GET /api/v1/nodes '' '' wrongtoken)" = 401
check "/version open without token" test "$(api GET /version '' '' '')" = 200
klite node add n1 --pod-cidr 10.42.1.0/24 --internal-ip 10.0.0.1 >/dev/null
klite node add n2 --pod-cidr 10.42.2.0/24 --internal-ip 10.0.0.2 >/dev/null
check "node kubeconfig written when the node is created" test -s "$D/srv/node-n1.kubeconfig"
tok1=$(klite token n1 --show-token)
merge=application/merge-patch+json
check "node token reads nodes" test "$(api GET /api/v1/nodes '' '' "$tok1")" = 200
check "node token patches its own node" \
	test "$(api PATCH /api/v1/nodes/n1 '{"metadata":{"annotations":{"a":"1"}}}' $merge "$tok1")" = 200
check "node token patching another node: 403" \
	test "$(api PATCH /api/v1/nodes/n2 '{"metadata":{"annotations":{"a":"1"}}}' $merge "$tok1")" = 403
check "403 names the user" grep -q 'User \\"system:node:n1\\" cannot patch' "$out"
check "node token writing a ConfigMap: 403" \
	test "$(api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"x"}}' application/json "$tok1")" = 403
check "node token deleting its node: 403" test "$(api DELETE /api/v1/nodes/n1 '' '' "$tok1")" = 403
check "node token on /_test: 403" test "$(api GET /_test/requests '' '' "$tok1")" = 403
check "admin creates a ConfigMap" \
	test "$(api POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"x"},"data":{"k":"v"}}')" = 201
klite token n1 --rotate >/dev/null
check "rotated token: old one 401" test "$(api GET /api/v1/nodes '' '' "$tok1")" = 401
check "rotated token: new one 200" \
	test "$(api GET /api/v1/nodes '' '' "$(klite token n1 --show-token)")" = 200

sa_tok=$(klite sa-token default/nobody --show-token)
check "a ServiceAccount without RBAC bindings: 403" test "$(api GET /api/v1/nodes '' '' "$sa_tok")" = 403
check "403 names the ServiceAccount" grep -q 'system:serviceaccount:default:nobody' "$out"
api POST /apis/rbac.authorization.k8s.io/v1/clusterroles '{"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["list"]}]}' >/dev/null
api POST /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings '{"metadata":{"name":"b"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"nobody","namespace":"default"}]}' >/dev/null
check "a RoleBinding does not grant cluster-scoped nodes" test "$(api GET /api/v1/nodes '' '' "$sa_tok")" = 403
api POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{"metadata":{"name":"b"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},"subjects":[{"kind":"Group","name":"system:serviceaccounts:default"}]}' >/dev/null
check "a ClusterRoleBinding to its group grants list" test "$(api GET /api/v1/nodes '' '' "$sa_tok")" = 200
check "but not get" test "$(api GET /api/v1/nodes/n1 '' '' "$sa_tok")" = 403
old_file=$(cat "$D/srv/serviceaccount/default/nobody/token")
klite sa-token default/nobody --rotate >/dev/null
check "rotating a ServiceAccount token: old one 401, token file updated" \
	test "$(api GET /api/v1/nodes '' '' "$sa_tok")" = 401 -a \
	"$(cat "$D/srv/serviceaccount/default/nobody/token")" != "$old_file" -a \
	"$(api GET /api/v1/nodes '' '' "$(cat "$D/srv/serviceaccount/default/nobody/token")")" = 200

# --- resourceVersions and patches ------------------------------------------
api GET /api/v1/nodes/n1 >/dev/null
rv1=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
api PATCH /api/v1/nodes/n1 '{"metadata":{"annotations":{"b":"2","a":null},"labels":{"l":"x"}}}' $merge >/dev/null
rv2=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
check "write bumps the resourceVersion" test "$rv2" -gt "$rv1"
check "merge patch: null deletes, others merge" \
	test "$(jq_py "$out" 'sorted(d["metadata"]["annotations"].items()), d["metadata"]["labels"]["l"], d["spec"]["podCIDR"]')" \
	= "([('b', '2')], 'x', '10.42.1.0/24')"
api PATCH /api/v1/nodes/n1 '{"metadata":{"annotations":{"b":"2"}}}' $merge >/dev/null
check "no-op patch keeps the resourceVersion" test "$(jq_py "$out" 'd["metadata"]["resourceVersion"]')" = "$rv2"
check "stale resourceVersion precondition: 409" \
	test "$(api PATCH /api/v1/nodes/n1 '{"metadata":{"resourceVersion":"'"$rv1"'","annotations":{"c":"3"}}}' $merge)" = 409
check "JSON patch" test "$(api PATCH /api/v1/nodes/n1 '[{"op":"add","path":"/metadata/annotations/c","value":"3"}]' application/json-patch+json)" = 200 -a \
	"$(jq_py "$out" 'd["metadata"]["annotations"]["c"]')" = 3
check "unknown patch type: 415" test "$(api PATCH /api/v1/nodes/n1 '{}' text/plain)" = 415
api POST /apis/apps/v1/namespaces/default/daemonsets \
	'{"metadata":{"name":"ds"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"i1"},{"name":"b","image":"i2"}]}}}}' >/dev/null
api PATCH /apis/apps/v1/namespaces/default/daemonsets/ds \
	'{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"b","image":"i3"}]}}}}' \
	application/strategic-merge-patch+json >/dev/null
check "strategic merge patch merges containers by name" \
	test "$(jq_py "$out" '[c["image"] for c in d["spec"]["template"]["spec"]["containers"]]')" = '["i1", "i3"]'
api PATCH /api/v1/nodes/n2 '{"status":{"phase":"x"},"metadata":{"labels":{"s":"1"}}}' $merge >/dev/null
check "a PATCH of the Node ignores .status" test "$(jq_py "$out" 'd["status"].get("phase"), d["metadata"]["labels"]["s"]')" = "(None, '1')"
api PATCH /api/v1/nodes/n2/status '{"status":{"phase":"x"},"metadata":{"labels":{"s":"2"}}}' $merge >/dev/null
check "a PATCH of nodes/status changes only .status" test "$(jq_py "$out" 'd["status"].get("phase"), d["metadata"]["labels"]["s"]')" = "('x', '1')"
check "kubectl-lite sets Ready false" bash -c "
	$SKEIN_ROOT/tests/apiserver/kubectl-lite --state-dir $D/srv node ready n2 false >/dev/null &&
	$SKEIN_ROOT/tests/apiserver/kubectl-lite --state-dir $D/srv get node n2 | grep -q '\"status\": \"False\"'"

# --- pagination --------------------------------------------------------------
for i in 3 4 5 6 7; do klite node add n$i >/dev/null; done
names="" pages=0 cont=""
while :; do
	api GET "/api/v1/nodes?limit=3${cont:+&continue=$cont}" >/dev/null
	names="$names $(jq_py "$out" '" ".join(i["metadata"]["name"] for i in d["items"])')"
	pages=$((pages + 1))
	cont=$(jq_py "$out" 'd["metadata"].get("continue", "")')
	[ -n "$cont" ] && [ $pages -lt 10 ] || break
done
check "pagination: 7 nodes in 3 pages of 3, in order, none twice" \
	test "$pages $(echo $names)" = "3 n1 n2 n3 n4 n5 n6 n7"
api GET "/api/v1/nodes?limit=3" >/dev/null
check "remainingItemCount" test "$(jq_py "$out" 'd["metadata"]["remainingItemCount"]')" = 4
first_continue=$(jq_py "$out" 'd["metadata"]["continue"]')
check "a bad limit: 400" test "$(api GET '/api/v1/nodes?limit=x')" = 400
check "labelSelector" test "$(api GET '/api/v1/nodes?labelSelector=l%3Dx' >/dev/null; jq_py "$out" '[i["metadata"]["name"] for i in d["items"]]')" = '["n1"]'
check "fieldSelector" test "$(api GET '/api/v1/nodes?fieldSelector=metadata.name%3Dn3' >/dev/null; jq_py "$out" '[i["metadata"]["name"] for i in d["items"]]')" = '["n3"]'

# --- watch -----------------------------------------------------------------------
api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
watch_to() { # FILE QUERY: a watch in the background, curl's exit status in FILE.rc
	(curl -sS -N --max-time 20 --cacert "$D/srv/ca.crt" -H "Authorization: Bearer $APISERVER_TOKEN" \
		"$APISERVER_URL/api/v1/nodes?watch=1&$2" >"$1" 2>"$1.err"; echo $? >"$1.rc") &
}
watch_done() { # FILE: waits (at most 20 s) for the watch writing FILE to end
	local i
	for i in $(seq 200); do [ -s "$1.rc" ] && return 0; sleep 0.1; done
	return 1
}
wait_grep() { # PATTERN FILE: waits (at most 10 s) until FILE has PATTERN
	local i
	for i in $(seq 100); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
watch_to "$D/w1" "resourceVersion=$rv&timeoutSeconds=5"
klite node set n3 --annotation x=y >/dev/null
klite node del n4 >/dev/null
klite node add n8 >/dev/null
api PATCH /api/v1/nodes/n5 '{"metadata":{"labels":{"z":"1"}}}' $merge >/dev/null
watch_done "$D/w1"
check "watch: MODIFIED, DELETED, ADDED, MODIFIED in order" \
	test "$(python3 -c 'import json,sys
print(" ".join(e["type"] + ":" + e["object"]["metadata"]["name"] for e in map(json.loads, open(sys.argv[1]))))' "$D/w1")" \
	= "MODIFIED:n3 DELETED:n4 ADDED:n8 MODIFIED:n5"
check "watch ends cleanly at timeoutSeconds" test "$(cat "$D/w1.rc" 2>/dev/null)" = 0
check "watch without resourceVersion starts with ADDED for all" test "$(
	curl -sS -N --max-time 5 --cacert "$D/srv/ca.crt" -H "Authorization: Bearer $APISERVER_TOKEN" \
	"$APISERVER_URL/api/v1/nodes?watch=1&timeoutSeconds=1" | grep -c '"type":"ADDED"')" = 7

api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
watch_to "$D/w2" "resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=3"
watch_to "$D/w3" "resourceVersion=$rv&timeoutSeconds=3"
watch_done "$D/w2"; watch_done "$D/w3"
check "bookmarks on a quiet watch that allows them" \
	grep -q '"type":"BOOKMARK".*"resourceVersion":"'"$rv"'"' "$D/w2"
check "no bookmarks unless allowed" test ! -s "$D/w3"

# --- compaction and 410 ------------------------------------------------------
for i in $(seq 1 31); do api PATCH /api/v1/nodes/n6 '{"metadata":{"annotations":{"i":"'$i'"}}}' $merge >/dev/null; done
check "watch from a compacted RV: ERROR 410 Expired" bash -c "
	curl -sS -N --max-time 5 --cacert $D/srv/ca.crt -H 'Authorization: Bearer $APISERVER_TOKEN' \
	'$APISERVER_URL/api/v1/nodes?watch=1&resourceVersion=$rv' | grep -q '\"type\":\"ERROR\".*\"code\":410'"
check "continue from a compacted list: 410" test "$(api GET "/api/v1/nodes?limit=3&continue=$first_continue")" = 410
check "410 is a Status with reason Expired" test "$(jq_py "$out" 'd["reason"]')" = Expired
api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
watch_to "$D/w4" "resourceVersion=$rv&timeoutSeconds=10"
sleep 0.5
klite compact >/dev/null
check "compact: an open watch gets ERROR 410" wait_grep '"type":"ERROR".*"code":410' "$D/w4"
check "compact: the old RV now gets 410, a fresh list's RV works" bash -c "
	curl -sS -N --max-time 5 --cacert $D/srv/ca.crt -H 'Authorization: Bearer $APISERVER_TOKEN' \
	'$APISERVER_URL/api/v1/nodes?watch=1&resourceVersion=$rv' | grep -q '\"code\":410' &&
	! curl -sS -N --max-time 5 --cacert $D/srv/ca.crt -H 'Authorization: Bearer $APISERVER_TOKEN' \
	'$APISERVER_URL/api/v1/nodes?watch=1&timeoutSeconds=1&resourceVersion='\$($SKEIN_ROOT/tests/apiserver/kubectl-lite --state-dir $D/srv get nodes | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"metadata\"][\"resourceVersion\"])') | grep -q ERROR"

# --- many watches at once ----------------------------------------------------
# 200 watch connections from one process; one write must reach every one.
api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
python3 -c '
import http.client, ssl, sys, threading
url, token, ca, rv, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
host, port = url[len("https://"):].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
got, lock = [], threading.Lock()
def watch():
    c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=20)
    c.request("GET", "/api/v1/nodes?watch=1&timeoutSeconds=15&resourceVersion=" + rv,
              headers={"Authorization": "Bearer " + token})
    line = c.getresponse().readline()
    with lock:
        got.append(b"\"MODIFIED\"" in line)
threads = [threading.Thread(target=watch) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(got))' "$APISERVER_URL" "$APISERVER_TOKEN" "$D/srv/ca.crt" "$rv" 200 >"$D/many" 2>&1 &
many=$!
for i in $(seq 150); do
	api GET /_test/requests >/dev/null
	open_watches=$(jq_py "$out" 'd["watchesOpen"]')
	[ "$open_watches" -ge 200 ] && break
	sleep 0.1
done
api PATCH /api/v1/nodes/n7 '{"metadata":{"labels":{"many":"1"}}}' $merge >/dev/null
wait $many
check "200 concurrent watches are open" test "$open_watches" -ge 200
check "200 concurrent watches all get the event" test "$(tail -1 "$D/many")" = 200

# --- faults ------------------------------------------------------------------
klite faults '{"fail_next":2,"fail_status":429,"retry_after":3}' >/dev/null
c1=$(api GET /api/v1/nodes); h1=$(grep -i '^retry-after:' "$D/srv/headers" | tr -d '\r')
c2=$(api GET /api/v1/nodes); c3=$(api GET /api/v1/nodes)
check "fail_next 2 x 429, then 200" test "$c1 $c2 $c3" = "429 429 200"
check "429 carries Retry-After" test "$h1" = "Retry-After: 3"
klite faults '{"fail_next":1,"fail_status":500,"fail_match":"/nodes/n1"}' >/dev/null
c1=$(api GET /api/v1/nodes/n2); c2=$(api GET /api/v1/nodes/n1); c3=$(api GET /api/v1/nodes/n1)
check "fail_match limits failures to matching paths" test "$c1 $c2 $c3" = "200 500 200"
klite faults '{"delay":0.6}' >/dev/null
t0=$(date +%s%N); api GET /version >/dev/null; t1=$(date +%s%N)
klite faults '{"delay":0}' >/dev/null
check "delay slows responses" test $(((t1 - t0) / 1000000)) -ge 600
watch_to "$D/w5" "timeoutSeconds=15"
wait_grep ADDED "$D/w5"
klite drop-watches >/dev/null
watch_done "$D/w5"
check "drop_watches cuts the stream (curl sees a broken transfer)" \
	test -s "$D/w5.rc" -a "$(cat "$D/w5.rc" 2>/dev/null)" != 0
klite faults '{"drop_watches_after":1}' >/dev/null
watch_to "$D/w6" "timeoutSeconds=15"
watch_done "$D/w6"
klite faults '{"drop_watches_after":0}' >/dev/null
check "drop_watches_after cuts each watch" test -s "$D/w6.rc" -a "$(cat "$D/w6.rc" 2>/dev/null)" != 0
check "unknown fault switch: 400" test "$(api POST /_test/faults '{"nope":1}')" = 400

# --- counters ---------------------------------------------------------------------
api DELETE /_test/requests >/dev/null
tok2=$(klite token n2 --show-token)
api PATCH /api/v1/nodes/n2 '{"metadata":{"annotations":{"k":"1"}}}' $merge "$tok2" >/dev/null
api PATCH /api/v1/nodes/n2 '{"metadata":{"annotations":{"k":"1"}}}' $merge "$tok2" >/dev/null
api GET '/_test/requests?log=5' >/dev/null
check "counters: PATCHes per node and per user" \
	test "$(jq_py "$out" 'd["nodePatches"], d["byUser"]["system:node:n2"]["patch"]')" = "({'n2': 2}, 2)"

# --- custom resources -------------------------------------------------------------
key=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
check "a valid Peer: 201" test "$(api POST /apis/skein.dev/v1alpha1/peers \
	'{"apiVersion":"skein.dev/v1alpha1","kind":"Peer","metadata":{"name":"p1"},"spec":{"publicKey":"'"$key"'","allowedIPs":["10.5.0.1/32"],"endpoint":{"dns":"vpn.example.com","port":51820}}}')" = 201
check "a Peer with a bad key: 422 naming the field" test "$(api POST /apis/skein.dev/v1alpha1/peers \
	'{"apiVersion":"skein.dev/v1alpha1","kind":"Peer","metadata":{"name":"p2"},"spec":{"publicKey":"short","allowedIPs":["10.5.0.1/32"]}}')" = 422 -a \
	"$(jq_py "$out" 'd["details"]["causes"][0]["field"]')" = spec.publicKey
check "unknown fields are pruned" test "$(api PATCH /apis/skein.dev/v1alpha1/peers/p1 '{"spec":{"bogus":1}}' $merge)" = 200 -a \
	"$(jq_py "$out" '"bogus" in d["spec"]')" = false
check "namespaced object in a missing namespace: 404" \
	test "$(api POST /api/v1/namespaces/nope/configmaps '{"metadata":{"name":"x"}}')" = 404

# --- kubectl ----------------------------------------------------------------------
check "kubectl get nodes" bash -c "kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/kc get nodes 2>&1 | grep -q '^n1 .*Ready'"
check "kubectl get nodes -o wide shows addresses" bash -c "kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/kc get nodes -o wide | grep -q '10.0.0.1'"
check "kubectl annotate node" bash -c "kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/kc annotate node n1 skein.dev/leader=true >/dev/null &&
	$SKEIN_ROOT/tests/apiserver/kubectl-lite --state-dir $D/srv get node n1 | grep -q 'skein.dev/leader'"
check "kubectl as node n1 cannot annotate n2" bash -c "! kubectl --kubeconfig $D/srv/node-n1.kubeconfig --cache-dir $D/kc1 annotate node n2 x=y 2>&1 | grep -q annotated"
check "kubectl get peers shows printer columns" bash -c "kubectl --kubeconfig $D/srv/admin.kubeconfig --cache-dir $D/kc get peers | grep -q '^p1 .*vpn.example.com\\|^p1 .*10.5.0.1/32'"

# --- restart --------------------------------------------------------------------
api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
apiserver_stop
apiserver_start "$D/srv" --compaction 30 --bookmark-interval 1 || fail "server restarts"
check "restart keeps objects, CA and tokens" test "$(api GET /api/v1/nodes/n3 '' '' "$(klite token n3 --show-token)")" = 200
check "restart: RV continues" test "$(api GET /api/v1/nodes >/dev/null; jq_py "$out" 'd["metadata"]["resourceVersion"]')" -ge "$rv"

# --- kubeconfig variants and IPv6 ---------------------------------------------
apiserver_start "$D/v6" --listen '[::1]:0' --kubeconfig-format json --embed-ca ||
	fail "server listens on [::1]"
check "JSON kubeconfig with embedded CA, IPv6 server: kubectl works" bash -c "
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[\"clusters\"][0][\"cluster\"]; sys.exit(not (c[\"server\"].startswith(\"https://[::1]:\") and \"certificate-authority-data\" in c))' $D/v6/admin.kubeconfig &&
	kubectl --kubeconfig $D/v6/admin.kubeconfig --cache-dir $D/kc6 get ns default -o name | grep -q namespace/default"

# --- pod CIDR allocation ---------------------------------------------------------
apiserver_start "$D/alloc" --cluster-cidr 10.244.0.0/23 --cluster-cidr fd00:10::/63 ||
	fail "server with --cluster-cidr starts"
out=$APISERVER_DIR/out
api GET /api/v1/nodes >/dev/null
rv=$(jq_py "$out" 'd["metadata"]["resourceVersion"]')
klite node add a1 >/dev/null; klite node add a2 >/dev/null; klite node add a3 >/dev/null
klite node add a0 --pod-cidr 10.9.0.0/24 >/dev/null
check "allocation: first free subnets per family, given CIDRs kept, exhaustion leaves none" \
	test "$(klite get nodes | python3 -c 'import json,sys; print(" ".join("%s=%s" % (n["metadata"]["name"], ",".join(n["spec"].get("podCIDRs", ["-"]))) for n in json.load(sys.stdin)["items"]))')" \
	= "a0=10.9.0.0/24 a1=10.244.0.0/24,fd00:10::/64 a2=10.244.1.0/24,fd00:10:0:1::/64 a3=-"
check "allocation arrives as MODIFIED after ADDED" test "$(
	curl -sS -N --max-time 5 --cacert "$D/alloc/ca.crt" -H "Authorization: Bearer $APISERVER_TOKEN" \
	"$APISERVER_URL/api/v1/nodes?watch=1&timeoutSeconds=1&resourceVersion=$rv&fieldSelector=metadata.name%3Da1" |
	python3 -c 'import json,sys; print(" ".join(e["type"] + ("+cidr" if e["object"]["spec"].get("podCIDRs") else "") for e in map(json.loads, sys.stdin)))')" \
	= "ADDED MODIFIED+cidr"
klite node del a1 >/dev/null; klite node add a4 >/dev/null
check "a deleted node's subnet is reused" test "$(klite get node a4 | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["podCIDR"])')" = 10.244.0.0/24

# --- scale (a figure, not a timed assertion) ---------------------------------------
apiserver_start "$D/big" || fail "second server starts"
t0=$(date +%s%N); klite node add-many 5000 >/dev/null; t1=$(date +%s%N)
api GET /api/v1/nodes >/dev/null; t2=$(date +%s%N)
check "5000 nodes listed" test "$(jq_py "$APISERVER_DIR/out" 'len(d["items"])')" = 5000
report "apiserver: bulk-created 5000 nodes in $(((t1 - t0) / 1000000)) ms, listed them in $(((t2 - t1) / 1000000)) ms ($(stat -c %s "$APISERVER_DIR/out") bytes)"
