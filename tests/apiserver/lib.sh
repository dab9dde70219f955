# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for scripts that need the test API server. Source after
# tests/integration/lib.sh (it uses on_exit):
#   apiserver_start DIR [server.py flags...]   starts it, waits, stops it on exit;
#        sets APISERVER_DIR, APISERVER_URL, APISERVER_PID, APISERVER_TOKEN
#   apiserver_stop                             SIGTERM and wait (saves store.json)
#   klite ARGS...                              tests/apiserver/kubectl-lite on it
#   kctl ARGS...                               real kubectl as admin, private cache
#   api METHOD PATH [BODY [CONTENT-TYPE [TOKEN]]]  curl as admin (or TOKEN);
#        body to $APISERVER_DIR/out, prints the HTTP status
#   jq_py FILE EXPR                            prints a Python expression on `d`,
#        the JSON in FILE (no jq here)
# With APISERVER_NETNS=NS set, the server and klite run inside network namespace NS.
APISERVER_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

apiserver_start() {
	local dir=$1; shift
	mkdir -p "$dir"
	# Started directly (not via a function), so $! is the server itself.
	local netns=()
	[ -n "${APISERVER_NETNS:-}" ] && netns=(ip netns exec "$APISERVER_NETNS")
	"${netns[@]}" python3 "$APISERVER_HOME/server.py" --state-dir "$dir" "$@" \
		>"$dir/server.log" 2>&1 &
	APISERVER_PID=$!
	APISERVER_DIR=$dir
	on_exit "kill $APISERVER_PID; wait $APISERVER_PID"
	if ! _apiserver_in "$APISERVER_HOME/kubectl-lite" --state-dir "$dir" wait --timeout 20; then
		cat "$dir/server.log" >&2
		return 1
	fi
	APISERVER_URL=$(jq_py "$dir/server.json" 'd["url"]')
	APISERVER_TOKEN=$(jq_py "$dir/server.json" 'd["adminToken"]')
}

apiserver_stop() {
	kill "$APISERVER_PID" 2>/dev/null
	wait "$APISERVER_PID" 2>/dev/null
	return 0
}

_apiserver_in() {
	if [ -n "${APISERVER_NETNS:-}" ]; then ip netns exec "$APISERVER_NETNS" "$@"; else "$@"; fi
}

klite() { _apiserver_in "$APISERVER_HOME/kubectl-lite" --state-dir "$APISERVER_DIR" "$@"; }

kctl() {
	kubectl --kubeconfig "$APISERVER_DIR/admin.kubeconfig" \
		--cache-dir "$APISERVER_DIR/kubectl-cache" "$@"
}

api() {
	local method=$1 path=$2 body=${3:-} ctype=${4:-application/json}
	local token=${5-$APISERVER_TOKEN}
	local args=(-sS --max-time 30 --cacert "$APISERVER_DIR/ca.crt" -X "$method"
		-o "$APISERVER_DIR/out" -w '%{http_code}' -D "$APISERVER_DIR/headers")
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$body" ] && args+=(-H "Content-Type: $ctype" --data-binary "$body")
	curl "${args[@]}" "$APISERVER_URL$path"
}

jq_py() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}
