#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A simulated multi-cloud made of network namespaces, for the end-to-end
# tests, the benchmark and the demo. Source it for the mc_* functions, or run
#   hack/multicloud.sh up|down|status|exec NODE CMD...|pod-add NODE POD|pod-del POD
#
# Topology (every address lives only inside the namespaces made here):
#
#   internet (PREFIX-inet, a router): 198.51.100.1/24 "clouds", 203.0.113.1/24 "on-prem"
#     control plane PREFIX-cp   198.51.100.2   (the test API server)
#     aws router  PREFIX-aws-router   wan 198.51.100.10 (masquerade), lan 10.10.0.1/24
#       aws-1  10.10.0.11  1:1 NAT as 198.51.100.11, UDP 51820-51829 forwarded (leader)
#       aws-2  10.10.0.12
#     gcp router  PREFIX-gcp-router   wan 198.51.100.20 (masquerade), lan 10.20.0.1/24
#       gcp-1  10.20.0.11  1:1 NAT as 198.51.100.21, UDP 51820-51829 forwarded (leader)
#       gcp-2  10.20.0.12
#     home router PREFIX-home-router  wan 198.51.100.30 (masquerade only), lan 10.30.0.1/24
#       home-1 10.30.0.11  no inbound path at all: needs persistent keepalive
#     onprem-1  203.0.113.11 directly on the internet
#
# Node N (1-based, in the order above) owns the pod CIDR 10.244.N.0/24 and,
# with SKEIN_MC_DUALSTACK=1, fd00:10:244:N::/64.
#
# Each node has its own view of /run/wireguard (wireguard-go UAPI sockets),
# /etc/cni/net.d, /var/lib/cni, /var/lib/skein and /opt/cni/bin, bind-mounted
# from $SKEIN_MC_STATE/nodes/NODE/ inside the private mount namespace that
# `ip netns exec` creates; nothing is mounted in the root mount namespace.
#
# Environment:
#   SKEIN_MC_PREFIX     namespace name prefix (default "mc"; [a-z0-9-], at most 12)
#   SKEIN_MC_STATE      state directory (default /run/skein-mc/PREFIX)
#   SKEIN_MC_DUALSTACK  1: IPv6 pod CIDRs as well (default 0)
#
# Nothing here touches the root namespace's links, routes, rules or nftables:
# every `ip` command names its namespace, and nft/sysctl run inside one.

MC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MC_PREFIX=${SKEIN_MC_PREFIX:-mc}
MC_STATE=${SKEIN_MC_STATE:-/run/skein-mc/$MC_PREFIX}
MC_DUALSTACK=${SKEIN_MC_DUALSTACK:-0}
MC_PYTHON=${MC_PYTHON:-$(command -v python3)}

MC_WG_PORT=51820
MC_APISERVER_IP=198.51.100.2
MC_APISERVER_PORT=${SKEIN_MC_APISERVER_PORT:-6443}
MC_INTERNET_IP=198.51.100.1   # a host "on the internet" (the internet router itself)

# Locations with a NAT router: name -> "wan-ip lan-subnet-prefix".
declare -A MC_ROUTER_WAN=([aws]=198.51.100.10 [gcp]=198.51.100.20 [home]=198.51.100.30)
declare -A MC_ROUTER_LAN=([aws]=10.10.0 [gcp]=10.20.0 [home]=10.30.0)
MC_ROUTERS=(aws gcp home)

# Nodes, in index order (the index picks the pod CIDR).
MC_NODES=(aws-1 aws-2 gcp-1 gcp-2 home-1 onprem-1)
declare -A MC_NODE_LOCATION=([aws-1]=aws [aws-2]=aws [gcp-1]=gcp [gcp-2]=gcp [home-1]=home [onprem-1]=onprem)
declare -A MC_NODE_IP=([aws-1]=10.10.0.11 [aws-2]=10.10.0.12 [gcp-1]=10.20.0.11 [gcp-2]=10.20.0.12
	[home-1]=10.30.0.11 [onprem-1]=203.0.113.11)
# Public addresses: 1:1 NAT on the router (leaders), or the node's own address.
declare -A MC_NODE_PUBLIC_IP=([aws-1]=198.51.100.11 [gcp-1]=198.51.100.21 [onprem-1]=203.0.113.11)
# Nodes that nobody can reach first: they keep their NAT mapping alive.
declare -A MC_NODE_KEEPALIVE=([home-1]=25)

mc_log() { echo "multicloud: $*" >&2; }
mc_die() { mc_log "$*"; return 1; }

mc_check_prefix() {
	[[ $MC_PREFIX =~ ^[a-z0-9][a-z0-9-]{0,11}$ ]] ||
		mc_die "SKEIN_MC_PREFIX '$MC_PREFIX' must be 1-12 characters of [a-z0-9-]"
}

# Names. Every namespace starts with "$MC_PREFIX-" so `down` finds them all.
mc_ns() { echo "$MC_PREFIX-$1"; }                    # node or internal namespace
mc_router_ns() { echo "$MC_PREFIX-$1-router"; }
mc_pod_ns() { echo "$MC_PREFIX-pod-$1"; }
mc_node_dir() { echo "$MC_STATE/nodes/$1"; }
mc_node_index() {
	local i
	for i in "${!MC_NODES[@]}"; do
		[ "${MC_NODES[$i]}" = "$1" ] && { echo $((i + 1)); return 0; }
	done
	mc_die "unknown node '$1' (nodes: ${MC_NODES[*]})"
}
mc_node_location() { echo "${MC_NODE_LOCATION[$1]}"; }
mc_node_ip() { echo "${MC_NODE_IP[$1]}"; }
mc_node_public_ip() { echo "${MC_NODE_PUBLIC_IP[$1]:-}"; }
mc_node_keepalive() { echo "${MC_NODE_KEEPALIVE[$1]:-0}"; }
# mc_node_endpoint NODE: "ip:port" others can dial, or "" when behind NAT only.
mc_node_endpoint() {
	local ip=${MC_NODE_PUBLIC_IP[$1]:-}
	[ -n "$ip" ] && echo "$ip:$MC_WG_PORT"
	return 0
}
# mc_node_pod_cidrs NODE: one CIDR per line (IPv4, then IPv6 when dual-stack).
mc_node_pod_cidrs() {
	local n
	n=$(mc_node_index "$1") || return 1
	echo "10.244.$n.0/24"
	[ "$MC_DUALSTACK" = 1 ] && echo "fd00:10:244:$n::/64"
	return 0
}
mc_is_node() { [ -n "${MC_NODE_LOCATION[$1]:-}" ]; }

# ---------------------------------------------------------------- underlay

mc_netns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up
}

mc_sysctl() { # NS KEY=VALUE...
	local ns=$1; shift
	ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# mc_wire NS_A IF_A NS_B IF_B: a veth pair made directly inside both namespaces.
mc_wire() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

mc_bridge_add() { # NS NAME ADDR/LEN
	ip -n "$1" link add "$2" type bridge &&
		ip -n "$1" link set "$2" up &&
		ip -n "$1" addr add "$3" dev "$2"
}

mc_internet_up() {
	local inet cp
	inet=$(mc_ns inet) cp=$(mc_ns cp)
	mc_netns_add "$inet" &&
		mc_sysctl "$inet" net.ipv4.ip_forward=1 &&
		mc_bridge_add "$inet" clouds "$MC_INTERNET_IP/24" &&
		mc_bridge_add "$inet" onprem 203.0.113.1/24 &&
		mc_netns_add "$cp" &&
		mc_wire "$inet" to-cp "$cp" eth0 &&
		ip -n "$inet" link set to-cp master clouds &&
		ip -n "$cp" addr add "$MC_APISERVER_IP/24" dev eth0 &&
		ip -n "$cp" route add default via "$MC_INTERNET_IP"
}

# The router's nftables: masquerade of the LAN, 1:1 NAT for the nodes with a
# public address (outbound SNAT, inbound DNAT of the WireGuard ports only,
# like a cloud's elastic IP behind a security group), and a stateful filter
# that drops every other connection started from the internet.
mc_router_ruleset() { # LOCATION
	local loc=$1 lan=${MC_ROUTER_LAN[$1]} node ip pub dnat="" snat=""
	for node in "${MC_NODES[@]}"; do
		[ "${MC_NODE_LOCATION[$node]}" = "$loc" ] || continue
		pub=${MC_NODE_PUBLIC_IP[$node]:-}
		[ -n "$pub" ] || continue
		ip=${MC_NODE_IP[$node]}
		dnat+="		ip daddr $pub udp dport 51820-51829 dnat to $ip"$'\n'
		snat+="		oifname \"wan\" ip saddr $ip snat to $pub"$'\n'
	done
	cat <<EOF
table ip multicloud {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
$dnat	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
$snat		oifname "wan" ip saddr $lan.0/24 masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" ct status dnat accept
		iifname "wan" drop
	}
}
EOF
}

mc_router_up() { # LOCATION
	local loc=$1 ns inet wan lan pub node
	ns=$(mc_router_ns "$loc") inet=$(mc_ns inet)
	wan=${MC_ROUTER_WAN[$loc]} lan=${MC_ROUTER_LAN[$loc]}
	mc_netns_add "$ns" &&
		mc_sysctl "$ns" net.ipv4.ip_forward=1 &&
		mc_wire "$inet" "to-$loc" "$ns" wan &&
		ip -n "$inet" link set "to-$loc" master clouds &&
		ip -n "$ns" addr add "$wan/24" dev wan &&
		ip -n "$ns" route add default via "$MC_INTERNET_IP" &&
		mc_bridge_add "$ns" lan "$lan.1/24" || return 1
	for node in "${MC_NODES[@]}"; do
		[ "${MC_NODE_LOCATION[$node]}" = "$loc" ] || continue
		pub=${MC_NODE_PUBLIC_IP[$node]:-}
		[ -z "$pub" ] || ip -n "$ns" addr add "$pub/32" dev wan || return 1
	done
	mc_router_ruleset "$loc" | ip netns exec "$ns" nft -f - ||
		mc_die "router $loc: nftables ruleset rejected"
}

# The mount points every node gets its own copy of. They must exist in the
# root file system to be mounted over (in private mount namespaces only);
# missing ones are created empty and left in place.
MC_NODE_MOUNTS=(
	"run-wireguard:/run/wireguard"
	"cni-net.d:/etc/cni/net.d"
	"cni-lib:/var/lib/cni"
	"skein-lib:/var/lib/skein"
	"cni-bin:/opt/cni/bin"
)

mc_node_dirs_make() { # NODE
	local d m p
	d=$(mc_node_dir "$1")
	mkdir -p "$d/log" "$d/pids" || return 1
	for m in "${MC_NODE_MOUNTS[@]}"; do
		mkdir -p "$d/${m%%:*}" "${m#*:}" || return 1
	done
	# The node's CNI binaries: the skein plugin as built (a link, so a
	# rebuild is picked up) plus the reference plugins for chaining.
	ln -sfn "$MC_ROOT/bin/skein" "$d/cni-bin/skein" || return 1
	for p in /usr/lib/cni/*; do
		[ -e "$p" ] && ln -sfn "$p" "$d/cni-bin/$(basename "$p")"
	done
	return 0
}

mc_node_up() { # NODE
	local node=$1 loc ns ip gw attach_ns attach_br
	loc=${MC_NODE_LOCATION[$node]} ns=$(mc_ns "$node") ip=${MC_NODE_IP[$node]}
	if [ -n "${MC_ROUTER_LAN[$loc]:-}" ]; then
		attach_ns=$(mc_router_ns "$loc") attach_br=lan gw=${MC_ROUTER_LAN[$loc]}.1
	else
		attach_ns=$(mc_ns inet) attach_br=onprem gw=203.0.113.1
	fi
	mc_node_dirs_make "$node" &&
		mc_netns_add "$ns" &&
		mc_sysctl "$ns" net.ipv4.ip_forward=1 &&
		mc_wire "$attach_ns" "to-$node" "$ns" eth0 &&
		ip -n "$attach_ns" link set "to-$node" master "$attach_br" &&
		ip -n "$ns" addr add "$ip/24" dev eth0 &&
		ip -n "$ns" route add default via "$gw" || return 1
	if [ "$MC_DUALSTACK" = 1 ]; then
		mc_sysctl "$ns" net.ipv6.conf.all.forwarding=1 || return 1
	fi
}

# mc_up: builds the whole topology; on any failure removes what it made.
mc_up() {
	local loc node
	mc_check_prefix || return 1
	[ "$(id -u)" -eq 0 ] || mc_die "needs root" || return 1
	if [ -n "$(mc_list_ns)" ]; then
		mc_die "namespaces with prefix '$MC_PREFIX-' exist already; run down first"
		return 1
	fi
	mkdir -p "$MC_STATE/pods" || return 1
	if ! mc_internet_up; then mc_down; mc_die "internet: set-up failed"; return 1; fi
	for loc in "${MC_ROUTERS[@]}"; do
		if ! mc_router_up "$loc"; then mc_down; mc_die "router $loc: set-up failed"; return 1; fi
	done
	for node in "${MC_NODES[@]}"; do
		if ! mc_node_up "$node"; then mc_down; mc_die "node $node: set-up failed"; return 1; fi
	done
}

mc_list_ns() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${MC_PREFIX}-" || true
}

# mc_ns_kill NS...: ends every process in those namespaces (TERM, then KILL
# after 2 s), so that removing a namespace leaves nothing running in it.
mc_ns_kill() {
	local ns pids all="" i
	for ns in "$@"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && all+=" $pids"
	done
	if [ -n "$all" ]; then
		# shellcheck disable=SC2086
		kill $all 2>/dev/null
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 $all 2>/dev/null || break
			sleep 0.2
		done
		# shellcheck disable=SC2086
		kill -9 $all 2>/dev/null
	fi
	return 0
}

# mc_down: kills every process in the prefix's namespaces, removes them and
# the state directory. Safe to call on a partial or absent set-up.
mc_down() {
	local ns
	# shellcheck disable=SC2046
	mc_ns_kill $(mc_list_ns)
	for ns in $(mc_list_ns); do
		ip netns del "$ns" 2>/dev/null
	done
	case "$MC_STATE" in /*/*) rm -rf "$MC_STATE" ;; esac
	return 0
}

# ----------------------------------------------------------- running things

# mc_node_cmd NODE CMD...: sets MC_CMD to the command line that runs CMD in
# the node's namespace with the node's own /run/wireguard, CNI and skein
# directories, and NODE_NAME, KUBECONFIG set. Every step execs the next, so
# the PID of the command line is CMD's.
mc_node_cmd() {
	local node=$1; shift
	mc_is_node "$node" || { mc_die "unknown node '$node' (nodes: ${MC_NODES[*]})"; return 1; }
	local m d
	d=$(mc_node_dir "$node")
	MC_CMD=(env NODE_NAME="$node" KUBECONFIG=/var/lib/skein/kubeconfig
		ip netns exec "$(mc_ns "$node")" /bin/sh -c '
		while [ "$1" != -- ]; do
			mount --bind "$1" "$2" || { echo "multicloud: cannot bind $1 on $2" >&2; exit 125; }
			shift 2
		done
		shift
		exec "$@"' mc-node-exec)
	for m in "${MC_NODE_MOUNTS[@]}"; do MC_CMD+=("$d/${m%%:*}" "${m#*:}"); done
	MC_CMD+=(-- "$@")
}

# mc_node_exec NODE CMD...: runs CMD as a process of the node (mc_node_cmd);
# stdin/stdout/stderr pass through, the exit status is CMD's.
mc_node_exec() {
	local MC_CMD
	mc_node_cmd "$@" || return 1
	"${MC_CMD[@]}"
}

# mc_ns_daemon NS TAG LOGDIR CMD...: starts CMD in the background in NS, its
# output in LOGDIR/TAG.log and its PID in $MC_STATE/pids/NS.TAG (the PID of
# CMD itself: `ip netns exec` execs it).
mc_ns_daemon() {
	local ns=$1 tag=$2 logdir=$3; shift 3
	mkdir -p "$MC_STATE/pids" "$logdir" || return 1
	ip netns exec "$ns" "$@" >"$logdir/$tag.log" 2>&1 </dev/null &
	echo $! >"$MC_STATE/pids/$ns.$tag"
}

# mc_node_daemon NODE TAG CMD...: mc_ns_daemon with the node's mounts.
mc_node_daemon() {
	local node=$1 tag=$2; shift 2
	mc_is_node "$node" || { mc_die "unknown node '$node'"; return 1; }
	local d ns MC_CMD
	d=$(mc_node_dir "$node") ns=$(mc_ns "$node")
	mc_node_cmd "$node" "$@" || return 1
	mkdir -p "$MC_STATE/pids" || return 1
	"${MC_CMD[@]}" >"$d/log/$tag.log" 2>&1 </dev/null &
	echo $! >"$MC_STATE/pids/$ns.$tag"
}

# mc_daemon_pid NS TAG: the PID if that daemon is still running in NS.
mc_daemon_pid() {
	local f=$MC_STATE/pids/$1.$2 pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	# A PID that left the namespace was reused by someone else.
	[ "$(ip netns identify "$pid" 2>/dev/null)" = "$1" ] || return 1
	echo "$pid"
}

# mc_daemon_stop NS TAG [SIGNAL]: signals the daemon (TERM by default) and
# waits up to 5 s for it to go, then kills it.
mc_daemon_stop() {
	local ns=$1 tag=$2 sig=${3:-TERM} pid i
	pid=$(mc_daemon_pid "$ns" "$tag") || { rm -f "$MC_STATE/pids/$ns.$tag"; return 0; }
	kill -s "$sig" "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$MC_STATE/pids/$ns.$tag"
	return 0
}

# mc_wait TIMEOUT_S CMD...: retries CMD every 0.1 s until it succeeds.
mc_wait() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------- wireguard-go

# mc_wg_start NODE [IFNAME]: a wireguard-go device (default wg0) in the node,
# its UAPI socket in the node's own /run/wireguard (outside:
# $SKEIN_MC_STATE/nodes/NODE/run-wireguard/IFNAME.sock). Configure it with
# `mc_node_exec NODE wg ...`.
mc_wg_start() {
	local node=$1 ifname=${2:-wg0} sock
	sock=$(mc_node_dir "$node")/run-wireguard/$ifname.sock
	mc_node_daemon "$node" "wireguard-go-$ifname" wireguard-go -f "$ifname" || return 1
	mc_wait 5 test -S "$sock" ||
		mc_die "node $node: wireguard-go $ifname did not create $sock"
}

mc_wg_stop() { mc_daemon_stop "$(mc_ns "$1")" "wireguard-go-${2:-wg0}"; }

# mc_wg_socket NODE [IFNAME]: the UAPI socket path as seen from outside.
mc_wg_socket() { echo "$(mc_node_dir "$1")/run-wireguard/${2:-wg0}.sock"; }

# mc_bare_tunnel NODE_A NODE_B IFNAME PORT NET: a plain wireguard-go tunnel
# configured with wg (no skein) between nodes of two locations (routers do
# no hairpin NAT), NODE_A at NET.1/24 and NODE_B at NET.2/24;
# each dials the other's public endpoint (forwarded PORT) when it has one,
# else waits for it, keeping its own NAT mapping alive when it is NATed.
mc_bare_tunnel() {
	local a=$1 b=$2 ifname=$3 port=$4 net=$5 node peer i
	local -A key addr
	addr[$a]=$net.1 addr[$b]=$net.2
	for node in "$a" "$b"; do
		mc_wg_start "$node" "$ifname" || return 1
		key[$node]=$(mc_node_exec "$node" sh -c \
			"umask 077; wg genkey >/var/lib/skein/$ifname.key && wg pubkey </var/lib/skein/$ifname.key") ||
			{ mc_die "node $node: wg genkey failed"; return 1; }
	done
	[ -n "${MC_NODE_PUBLIC_IP[$a]:-}${MC_NODE_PUBLIC_IP[$b]:-}" ] ||
		{ mc_die "tunnel $a-$b: neither node has a public address"; return 1; }
	for node in "$a" "$b"; do
		if [ "$node" = "$a" ]; then peer=$b; else peer=$a; fi
		local args=(peer "${key[$peer]}" allowed-ips "${addr[$peer]}/32")
		i=${MC_NODE_PUBLIC_IP[$peer]:-}
		[ -z "$i" ] || args+=(endpoint "$i:$port")
		[ "$(mc_node_keepalive "$node")" = 0 ] || args+=(persistent-keepalive "$(mc_node_keepalive "$node")")
		mc_node_exec "$node" wg set "$ifname" private-key "/var/lib/skein/$ifname.key" \
			listen-port "$port" "${args[@]}" &&
			mc_node_exec "$node" ip addr add "${addr[$node]}/24" dev "$ifname" ||
			{ mc_die "node $node: cannot configure $ifname"; return 1; }
	done
	# wireguard-go opens its port when the link goes up, and a keepalive
	# node sends its first handshake then: the listening side goes first.
	for node in $(for i in "$a" "$b"; do echo "$(mc_node_keepalive "$i") $i"; done | sort -n | cut -d' ' -f2); do
		mc_node_exec "$node" ip link set "$ifname" up &&
			mc_wait 5 mc_udp_bound "$(mc_ns "$node")" "$port" ||
			{ mc_die "node $node: $ifname is not up and listening on $port"; return 1; }
	done
}

mc_udp_bound() { [ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2")" ]; }

# ------------------------------------------------------- control plane/agent

# mc_start_apiserver [ARGS...]: starts the test API server
# (tests/apiserver/server.py, HTTPS) in the control-plane namespace at
# https://198.51.100.2:6443, with a token per node, and installs each node's
# kubeconfig (CA embedded) as its /var/lib/skein/kubeconfig. ARGS go to the
# server (fault injection: --delay, --fail-next...). Its state, including
# admin.kubeconfig and server.json, is in $SKEIN_MC_STATE/apiserver.
# shellcheck disable=SC2120 # ARGS are for callers outside this file
mc_start_apiserver() {
	local server=$MC_ROOT/tests/apiserver/server.py st=$MC_STATE/apiserver node args=()
	[ -f "$server" ] || { mc_die "no $server (the test API server)"; return 1; }
	for node in "${MC_NODES[@]}"; do args+=(--node-token "$node"); done
	rm -f "$st/server.json"
	mc_ns_daemon "$(mc_ns cp)" apiserver "$MC_STATE/log" "$MC_PYTHON" "$server" \
		--listen "$MC_APISERVER_IP:$MC_APISERVER_PORT" --state-dir "$st" --embed-ca \
		"${args[@]}" "$@" || return 1
	mc_wait 30 mc_apiserver_ready ||
		{ mc_die "API server did not answer on $(mc_apiserver_url) (see $MC_STATE/log/apiserver.log)"; return 1; }
	for node in "${MC_NODES[@]}"; do
		install -m 600 "$st/node-$node.kubeconfig" "$(mc_node_dir "$node")/skein-lib/kubeconfig" || return 1
	done
}

# mc_stop_apiserver [SIGNAL]: an outage; mc_start_apiserver again resumes
# from the store it saved (same tokens, same objects).
mc_stop_apiserver() { mc_daemon_stop "$(mc_ns cp)" apiserver "${1:-TERM}"; }
mc_apiserver_url() { echo "https://$MC_APISERVER_IP:$MC_APISERVER_PORT"; }
mc_apiserver_ready() {
	[ -s "$MC_STATE/apiserver/server.json" ] && mc_api GET /version >/dev/null
}

# mc_api METHOD PATH [CURL ARGS...]: an admin request to the API server, from
# the control-plane namespace (the root namespace has no route to it).
mc_api() {
	local method=$1 path=$2 st=$MC_STATE/apiserver token; shift 2
	token=$(jq -r .adminToken "$st/server.json") || return 1
	ip netns exec "$(mc_ns cp)" curl -fsS --max-time 5 --cacert "$st/ca.crt" \
		-H "Authorization: Bearer $token" -X "$method" "$@" "$(mc_apiserver_url)$path"
}

# mc_kubectl ARGS...: kubectl as admin against the test API server.
mc_kubectl() {
	ip netns exec "$(mc_ns cp)" kubectl --kubeconfig "$MC_STATE/apiserver/admin.kubeconfig" \
		--cache-dir "$MC_STATE/kubectl-cache" "$@"
}

# mc_node_object NODE: the Node object (JSON) the cluster would have: the
# location label, pod CIDRs, InternalIP, Ready, and for the nodes with a
# public endpoint or behind NAT, skein's annotations.
mc_node_object() {
	local node=$1 cidrs endpoint keepalive
	mc_is_node "$node" || { mc_die "unknown node '$node'"; return 1; }
	cidrs=$(mc_node_pod_cidrs "$node" | jq -R . | jq -sc .)
	endpoint=$(mc_node_endpoint "$node") keepalive=$(mc_node_keepalive "$node")
	jq -n --arg name "$node" --arg loc "${MC_NODE_LOCATION[$node]}" \
		--arg ip "${MC_NODE_IP[$node]}" --argjson cidrs "$cidrs" \
		--arg endpoint "$endpoint" --arg keepalive "$keepalive" '{
		apiVersion: "v1", kind: "Node",
		metadata: {
			name: $name,
			labels: {"kubernetes.io/hostname": $name, "topology.kubernetes.io/region": $loc},
			annotations: ({"skein.dev/location": $loc, "skein.dev/force-internal-ip": ($ip + "/24")}
				+ (if $endpoint != "" then {"skein.dev/force-endpoint": $endpoint} else {} end)
				+ (if $keepalive != "0" then {"skein.dev/persistent-keepalive": $keepalive} else {} end))
		},
		spec: {podCIDR: $cidrs[0], podCIDRs: $cidrs},
		status: {
			addresses: [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $name}],
			conditions: [{type: "Ready", status: "True", reason: "KubeletReady"}]
		}
	}'
}

# mc_register_node NODE: creates the node's Node object in the API server.
mc_register_node() {
	mc_node_object "$1" | mc_api POST /api/v1/nodes -o /dev/null \
		-H 'Content-Type: application/json' --data-binary @- ||
		mc_die "node $1: API server refused its Node object"
}

# mc_unregister_node NODE: deletes the Node object (a node leaving).
mc_unregister_node() { mc_api DELETE "/api/v1/nodes/$1" -o /dev/null; }

# mc_agent_start NODE [ARGS...]: starts bin/skein-agent in the node with
# the userspace WireGuard backend against the node's own wireguard-go
# (skein0, started first unless running: it outlives agent restarts, as the
# userspace DaemonSet's sidecar does), its own kubeconfig, key and CNI
# config. /healthz and /metrics on 127.0.0.1:1107 in the node. Extra ARGS go
# to the agent (e.g. --mesh-granularity=full, --resync-period=1s).
mc_agent_start() {
	local node=$1; shift
	[ -x "$MC_ROOT/bin/skein-agent" ] || { mc_die "no $MC_ROOT/bin/skein-agent (make)"; return 1; }
	mc_daemon_pid "$(mc_ns "$node")" wireguard-go-skein0 >/dev/null || mc_wg_start "$node" skein0 || return 1
	mc_node_daemon "$node" agent "$MC_ROOT/bin/skein-agent" \
		--kubeconfig /var/lib/skein/kubeconfig --hostname "$node" \
		--wireguard=userspace --listen=127.0.0.1:1107 "$@"
}

# mc_cluster_up [AGENT ARGS...]: the API server, every node registered and
# running its agent, until every agent has written its CNI config.
mc_cluster_up() {
	local node
	mc_start_apiserver || return 1
	for node in "${MC_NODES[@]}"; do
		mc_register_node "$node" && mc_agent_start "$node" "$@" || return 1
	done
	for node in "${MC_NODES[@]}"; do
		mc_wait 30 test -s "$(mc_node_dir "$node")/cni-net.d/$MC_CONFLIST" ||
			{ mc_die "node $node: the agent wrote no CNI config (see $(mc_agent_log "$node"))"; return 1; }
	done
}

# mc_agent_stop NODE [SIGNAL]: TERM by default; KILL simulates a crash.
mc_agent_stop() { mc_daemon_stop "$(mc_ns "$1")" agent "${2:-TERM}"; }
mc_agent_log() { echo "$(mc_node_dir "$1")/log/agent.log"; }

# ----------------------------------------------------------------------- pods

# mc_cni NODE COMMAND POD: runs the node's conflist (the one the agent wrote,
# /etc/cni/net.d/10-skein.conflist in the node's view) plugin by plugin as a
# runtime does: name and cniVersion injected, prevResult chained on ADD,
# reverse order on DEL. Prints the last result.
MC_CONFLIST=10-skein.conflist
mc_cni() {
	local node=$1 cmd=$2 pod=$3 conf n i order cfg type out prev=null
	conf=$(mc_node_dir "$node")/cni-net.d/$MC_CONFLIST
	[ -f "$conf" ] || { mc_die "node $node: no CNI config $conf"; return 1; }
	n=$(jq '.plugins | length' "$conf") || { mc_die "node $node: $conf is not JSON"; return 1; }
	if [ "$cmd" = DEL ]; then order=$(seq $((n - 1)) -1 0); else order=$(seq 0 $((n - 1))); fi
	for i in $order; do
		cfg=$(jq -c --argjson i "$i" --argjson prev "$prev" \
			'.plugins[$i] + {name: .name, cniVersion: .cniVersion}
			 + (if $prev != null then {prevResult: $prev} else {} end)' "$conf") || return 1
		type=$(jq -r .type <<<"$cfg")
		out=$(mc_node_exec "$node" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$MC_PREFIX-$pod" \
			CNI_NETNS="/run/netns/$(mc_pod_ns "$pod")" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin \
			timeout "${SKEIN_MC_CNI_TIMEOUT:-30}" "/opt/cni/bin/$type" <<<"$cfg") || {
			mc_die "pod $pod on $node: CNI $cmd ($type) failed: $out"; return 1; }
		[ "$cmd" = ADD ] && prev=$out
	done
	[ "$cmd" != ADD ] || echo "$prev"
}

# mc_pod_add NODE POD: a pod namespace wired into NODE by the CNI config.
mc_pod_add() {
	local node=$1 pod=$2 ns result
	[[ $pod =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]] || { mc_die "pod name '$pod' must be [a-z0-9-]"; return 1; }
	mc_is_node "$node" || { mc_die "unknown node '$node'"; return 1; }
	ns=$(mc_pod_ns "$pod")
	mc_netns_add "$ns" || return 1
	echo "$node" >"$MC_STATE/pods/$pod.node"
	if ! result=$(mc_cni "$node" ADD "$pod"); then
		mc_pod_del "$pod"
		return 1
	fi
	echo "$result" >"$MC_STATE/pods/$pod.json"
}

# mc_pod_del POD: CNI DEL on its node, then the namespace goes.
mc_pod_del() {
	local pod=$1 node rc=0
	node=$(cat "$MC_STATE/pods/$pod.node" 2>/dev/null)
	[ -z "$node" ] || mc_cni "$node" DEL "$pod" || rc=1
	# A process left in the namespace would keep it (and itself) alive.
	mc_ns_kill "$(mc_pod_ns "$pod")"
	ip netns del "$(mc_pod_ns "$pod")" 2>/dev/null
	rm -f "$MC_STATE/pods/$pod.node" "$MC_STATE/pods/$pod.json"
	return $rc
}

# mc_pod_ip POD [4|6]: the pod's address (no prefix length) from its result.
mc_pod_ip() {
	local fam=${2:-4}
	jq -r '.ips[].address' "$MC_STATE/pods/$1.json" 2>/dev/null | sed 's|/.*||' |
		if [ "$fam" = 6 ]; then grep -m1 :; else grep -m1 -v :; fi
}

mc_pod_exec() { local pod=$1; shift; ip netns exec "$(mc_pod_ns "$pod")" "$@"; }

# ------------------------------------------------------------- small probes

# mc_listen NS TAG PROTO PORT: a listener that answers every TCP connection
# or UDP datagram with the peer's "ip:port", so a test sees what NAT did.
mc_listen() {
	local ns=$1 tag=$2 proto=$3 port=$4
	mc_ns_daemon "$ns" "$tag" "$MC_STATE/log" "$MC_PYTHON" -c '
import socket, sys
proto, port = sys.argv[1], int(sys.argv[2])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
if proto == "tcp":
    s.listen(16)
    while True:
        c, peer = s.accept()
        c.sendall(("%s:%d\n" % peer).encode()); c.close()
else:
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(("%s:%d\n" % peer).encode(), peer)
' "$proto" "$port"
}

# mc_probe NS PROTO HOST PORT [SRCPORT]: prints what a listener reports as
# our address; fails after 2 s without an answer.
mc_probe() {
	local ns=$1 proto=$2 host=$3 port=$4 sport=${5:-0}
	ip netns exec "$ns" "$MC_PYTHON" -c '
import socket, sys
proto, host, port, sport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.connect((host, port))
if proto == "udp":
    s.send(b"?")
print(s.recv(128).decode().strip())
' "$proto" "$host" "$port" "$sport" 2>/dev/null
}

# mc_ping_start NS TAG DEST [INTERVAL]: a continuous ping (default every
# 10 ms) in the background, one line per reply; mc_ping_stop NS TAG ends it
# and prints "TRANSMITTED RECEIVED", for outage and restart measurements.
# ping counts the request still in flight when it is stopped as lost; that
# last request is left out unless its reply came, and the sequence numbers
# really lost go to stderr.
mc_ping_start() {
	mc_ns_daemon "$1" "$2" "$MC_STATE/log" ping -n -i "${4:-0.01}" -W 1 "$3"
}

mc_ping_stop() {
	local log=$MC_STATE/log/$2.log
	mc_daemon_stop "$1" "$2" INT
	awk -v tag="$2" '
		match($0, /icmp_seq=[0-9]+/) { got[substr($0, RSTART + 9, RLENGTH - 9)] = 1 }
		/ packets transmitted, / { sent = $1 }
		END {
			if (sent == "") exit 1
			if (sent > 0 && !(sent in got)) sent--
			for (i = 1; i <= sent; i++)
				if (i in got) received++; else lost = lost " " i
			if (lost != "") printf "ping %s: no reply to icmp_seq%s\n", tag, lost > "/dev/stderr"
			print sent, received + 0
		}' "$log" ||
		{ mc_die "ping $2 in $1: no statistics in $log"; return 1; }
}

# ---------------------------------------------------------------------- CLI

mc_status() {
	local ns pids f
	echo "prefix $MC_PREFIX, state $MC_STATE"
	for ns in $(mc_list_ns); do
		pids=$(ip netns pids "$ns" | xargs -r ps -o pid=,comm= -p | awk '{printf "%s(%s) ", $2, $1}')
		printf '  %-24s %s\n' "$ns" "$pids"
	done
	for f in "$MC_STATE"/pods/*.node; do
		[ -f "$f" ] || continue
		f=$(basename "$f" .node)
		printf '  pod %-20s on %-10s %s\n' "$f" "$(cat "$MC_STATE/pods/$f.node")" "$(mc_pod_ip "$f")"
	done
}

mc_usage() {
	cat >&2 <<EOF
usage: $0 up|down|status
       $0 agents [AGENT ARGS...]  after up: API server, Node objects, an agent on every node
       $0 exec NODE CMD...        run CMD in NODE with its own mounts
       $0 pod-add NODE POD        wire a pod namespace through NODE's CNI config
       $0 pod-del POD
       $0 node-object NODE        print the Node object for NODE
nodes: ${MC_NODES[*]}
env: SKEIN_MC_PREFIX=$MC_PREFIX SKEIN_MC_STATE=$MC_STATE SKEIN_MC_DUALSTACK=$MC_DUALSTACK
EOF
	return 2
}

mc_main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	mc_check_prefix || return 1
	case "$cmd" in
	up)
		# A failed or interrupted set-up leaves nothing behind.
		trap 'mc_down; exit 130' INT TERM
		mc_up || return 1
		trap - INT TERM
		mc_log "up: $(mc_list_ns | wc -l) namespaces; '$0 down' removes them"
		;;
	agents)
		trap 'mc_down; exit 130' INT TERM
		mc_cluster_up "$@" || return 1
		trap - INT TERM
		mc_log "agents: running on ${MC_NODES[*]}; API: $(mc_apiserver_url) (admin: $MC_STATE/apiserver/admin.kubeconfig)"
		;;
	down) mc_down ;;
	status) mc_status ;;
	exec) [ $# -ge 2 ] || mc_usage || return; mc_node_exec "$@" ;;
	pod-add) [ $# -eq 2 ] || mc_usage || return; mc_pod_add "$@" ;;
	pod-del) [ $# -eq 1 ] || mc_usage || return; mc_pod_del "$@" ;;
	node-object) [ $# -eq 1 ] || mc_usage || return; mc_node_object "$@" ;;
	*) mc_usage ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	mc_main "$@"
fi
