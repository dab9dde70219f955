# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A node namespace for running the real skein-agent, shared by
# test_soak_agent.sh and test_valgrind.sh. Source after lib.sh and
# tests/apiserver/lib.sh; call agent_env_setup PREFIX. It makes:
#   $NODE  a namespace with eth0 (192.168.91.2/24) towards $NET, the test API
#          server on its loopback, and wireguard-go "skein0" whose UAPI socket
#          lives in $RUN/wg (bind-mounted over /run/wireguard);
#   node n1 (the agent's own node) in the API.
# events and settled (below) drive the cluster and wait for the agent.
# agent_start [--valgrind LOG] FLAGS... starts skein-agent in $NODE (sets
# AGENT_PID); agent_stop stops it; node_state FILE writes what the agent
# programmed (peers without counters, addresses, routes, rules, nftables).
AGENT_BIN=$BIN/skein-agent

agent_env_setup() {
	local prefix=$1
	NODE=$T_PREFIX-$prefix-node NET=$T_PREFIX-$prefix-net RUN=/run/$T_PREFIX-$prefix
	mkdir -p "$RUN/wg" "$RUN/key" /run/wireguard || return 1
	on_exit "rm -rf $RUN"
	netns_add "$NODE" && netns_add "$NET" || return 1
	ip link add eth0 netns "$NODE" type veth peer name "$T_PREFIX-up" netns "$NET" || return 1
	ip -n "$NODE" addr add 192.168.91.2/24 dev eth0
	ip -n "$NET" addr add 192.168.91.1/24 dev "$T_PREFIX-up"
	ip -n "$NODE" link set eth0 up
	ip -n "$NET" link set "$T_PREFIX-up" up
	ip -n "$NODE" route add default via 192.168.91.1
	# shellcheck disable=SC2034 # read by apiserver_start and klite
	APISERVER_NETNS=$NODE
	apiserver_start "$RUN/api" --bookmark-interval 1 || return 1
	# Not through a shell function: $! must be wireguard-go itself.
	ip netns exec "$NODE" sh -c 'mount --bind "$0" /run/wireguard &&
		WG_PROCESS_FOREGROUND=1 exec wireguard-go -f skein0' "$RUN/wg" >"$RUN/wg.log" 2>&1 &
	WGGO_PID=$!
	on_exit "kill $WGGO_PID 2>/dev/null; wait $WGGO_PID 2>/dev/null"
	# A copy: a rebuild of bin/skein-agent during the run must not matter.
	cp "$BIN/skein-agent" "$RUN/skein-agent" && AGENT_BIN=$RUN/skein-agent || return 1
	klite node add n1 --pod-cidr 10.244.0.0/24 --internal-ip 192.168.91.2 --location home >/dev/null &&
		for i in $(seq 0 39); do wg genkey | wg pubkey; done >"$RUN/keys"
}

agent_start() {
	local wrap=()
	if [ "${1:-}" = --valgrind ]; then
		wrap=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
		      --show-leak-kinds=definite --error-exitcode=99 --log-file="$2")
		shift 2
	fi
	ip netns exec "$NODE" "${wrap[@]}" "$AGENT_BIN" --kubeconfig "$RUN/api/node-n1.kubeconfig" \
		--hostname n1 --wireguard=userspace --uapi-dir "$RUN/wg" --key-dir "$RUN/key" \
		--cni-conf "$RUN/10-skein.conflist" --listen= --log-level debug "$@" >>"$RUN/agent.log" 2>&1 &
	AGENT_PID=$!
	on_exit "kill $AGENT_PID 2>/dev/null; wait $AGENT_PID 2>/dev/null"
}

agent_stop() { # exit status of the agent
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID"
}

agent_fds() { ls "/proc/$AGENT_PID/fd" 2>/dev/null | wc -l; }
agent_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status" 2>/dev/null; }

node_state() { # FILE
	{
		ip netns exec "$NODE" sh -c 'mount --bind "$0" /run/wireguard && wg show skein0 dump' "$RUN/wg" |
			awk -F'\t' 'NR == 1 { print $2, $3; next } { print $1, $2, $3, $4, $8 }' | sort
		ip -n "$NODE" addr show skein0 | grep inet
		ip -n "$NODE" route show table all | grep -v 'proto kernel\|table local' | sort
		ip -n "$NODE" -6 route show table all | grep -v 'proto kernel\|table local\|fe80::' | sort
		ip -n "$NODE" rule
		ip -n "$NODE" -6 rule
		ip netns exec "$NODE" nft list ruleset
		cat "$RUN/10-skein.conflist"
	} >"$1" 2>&1
}

# model_of DUMP: the nodes and peers of a --model-dump file, canonical JSON.
model_of() {
	python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps({"nodes": m["nodes"], "peers": m["peers"]}, sort_keys=True, indent=1))' "$1"
}

# events FROM TO TOTAL DROPS: applies events FROM..TO-1 of one fixed random
# sequence of TOTAL node adds, changes and deletes over 40 names, with DROPS
# forced watch drops spread over the TOTAL; prints how many nodes are alive
# (the pool is kept in $RUN/pool.json between calls).
events() {
	ip netns exec "$NODE" python3 - "$RUN" "$1" "$2" "$3" "$4" \
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
