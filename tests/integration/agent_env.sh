# SPDX-License-Identifier: GPL-2.0-or-later
# A node namespace for running the real skein-agent, shared by
# test_soak_agent.sh and test_valgrind.sh. Source after lib.sh and
# tests/apiserver/lib.sh; call agent_env_setup PREFIX. It makes:
#   $NODE  a namespace with eth0 (192.168.91.2/24) towards $NET, the test API
#          server on its loopback, and wireguard-go "skein0" whose UAPI socket
#          lives in $RUN/wg (bind-mounted over /run/wireguard);
#   node n1 (the agent's own node) in the API.
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
	APISERVER_NETNS=$NODE
	apiserver_start "$RUN/api" --bookmark-interval 1 || return 1
	# Not through a shell function: $! must be wireguard-go itself.
	ip netns exec "$NODE" sh -c 'mount --bind "$0" /run/wireguard &&
		WG_PROCESS_FOREGROUND=1 exec wireguard-go -f skein0' "$RUN/wg" >"$RUN/wg.log" 2>&1 &
	WGGO_PID=$!
	on_exit "kill $WGGO_PID 2>/dev/null; wait $WGGO_PID 2>/dev/null"
	klite node add n1 --pod-cidr 10.244.0.0/24 --internal-ip 192.168.91.2 --location home >/dev/null
}

agent_start() {
	local wrap=()
	if [ "${1:-}" = --valgrind ]; then
		wrap=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
		      --show-leak-kinds=definite --track-fds=no --log-file="$2")
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
