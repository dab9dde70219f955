#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# skeinctl against the test API server (tests/apiserver), which runs inside
# namespace N1 (a cluster node) so a second namespace, LAPTOP, reaches it
# over their veth underlay:
#   graph     parses with dot, marks leaders, has the tunnels and the peer;
#   showconf  node and peer configs are accepted by `wg setconf` after
#             `wg-quick strip`; --as-peer prints a Peer the API accepts;
#   status    against N1's live wireguard-go names peers, exits 1 while an
#             expected peer has no handshake, 0 once it has;
#   connect   makes LAPTOP the Peer "laptop" (wireguard-go, own UAPI dir),
#             pings a pod-like address on N1 through the tunnel, and removes
#             its device and routes on SIGTERM.
# Every wireguard-go gets its own /run/wireguard (bind mount in the private
# mount namespace of `ip netns exec`). Traffic stays inside the namespaces.
source "$(dirname "$0")/lib.sh"
source "$SKEIN_ROOT/tests/apiserver/lib.sh"
need_root

CTL=$BIN/skeinctl
need_tools wireguard-go wg wg-quick dot ping
[ -x "$CTL" ] || { fail "skeinctl: $CTL not built (make)"; exit 1; }

N1=$T_PREFIX-ctl-n1
LAPTOP=$T_PREFIX-ctl-laptop
RUN=/run/$T_PREFIX-ctl
D=$(mktemp -d /tmp/skein-ctl.XXXXXX)
on_exit "rm -rf $RUN $D"
mkdir -p "$RUN/n1" "$RUN/laptop" /run/wireguard
netns_add "$N1" && netns_add "$LAPTOP" && veth_pair "$N1" 192.168.50.1/24 "$LAPTOP" 192.168.50.2/24 ||
	{ fail "skeinctl: namespaces"; exit 1; }
ip -n "$N1" addr add 10.10.1.5/32 dev lo # a pod-like address in n1's pod CIDR

APISERVER_NETNS=$N1 # klite runs there too
apiserver_start "$D/api" --listen 0.0.0.0:0 --advertise 192.168.50.1 ||
	{ fail "skeinctl: API server"; exit 1; }
export KUBECONFIG=$D/api/admin.kubeconfig
ctl() { ip netns exec "$N1" "$CTL" "$@"; }

key_n1=$(wg genkey); pub_n1=$(echo "$key_n1" | wg pubkey)
key_laptop=$(wg genkey); pub_laptop=$(echo "$key_laptop" | wg pubkey)
echo "$key_laptop" >"$D/laptop.key"; chmod 600 "$D/laptop.key"
pub_n2=$(wg genkey | wg pubkey); pub_n3=$(wg genkey | wg pubkey)
node() { # NAME POD-CIDR IP LOCATION KEY [more klite flags]
	local name=$1 cidr=$2 ip=$3 loc=$4 key=$5; shift 5
	klite node add "$name" --pod-cidr "$cidr" --internal-ip "$ip" --location "$loc" \
		--annotation "skein.dev/public-key=$key" --annotation "skein.dev/endpoint=$ip:51820" "$@" >/dev/null
}
node n1 10.10.1.0/24 192.168.50.1 aws "$pub_n1"
node n3 10.10.3.0/24 192.168.60.3 aws "$pub_n3"
klite peer add laptop --public-key "$pub_laptop" --allowed-ip 10.5.0.1/32 >/dev/null

# --- errors and help ---
check "every command has --help" bash -c "for c in graph showconf status connect; do
	'$CTL' \$c --help | grep -q \"Usage: skeinctl \$c\" || exit 1; done"
out=$("$CTL" showconf node 2>&1); rc=$?
check "showconf without a name: exit 1 and says what it wants" \
	[ "$rc" = 1 -a -n "$(echo "$out" | grep 'expected "node NAME" or "peer NAME"')" ]
out=$(ctl showconf node nosuch 2>&1)
check "an unknown node is named" grep -q "node nosuch: not found" <<<"$out"
out=$(ctl showconf peer n1 -o toml 2>&1)
check "a bad -o value is named" grep -q -- '-o: "toml" is not wireguard, json or yaml' <<<"$out"
out=$(ctl graph --mesh-granularity mesh 2>&1)
check "a bad topology flag is named" grep -q -- '--mesh-granularity: bad value "mesh"' <<<"$out"
out=$(KUBECONFIG=$D/nosuch.kubeconfig "$CTL" graph 2>&1)
check "a missing kubeconfig is named" grep -q "nosuch.kubeconfig" <<<"$out"

# --- graph ---
ctl graph >"$D/graph.dot"
check "graph parses with dot" dot -Tsvg -o "$D/graph.svg" "$D/graph.dot"
check "graph: location as a cluster, n1 leads it" \
	grep -q '"node/n1" \[label="n1\\n(leader)' "$D/graph.dot"
check "graph: the peer is drawn and tunnelled to the leader" \
	grep -q '"node/n1" -- "peer/laptop"' "$D/graph.dot"

# --- showconf ---
ctl showconf node n1 >"$D/n1.conf"
ctl showconf peer laptop >"$D/laptop.conf"
check "showconf node: [Interface] with Address and ListenPort" \
	grep -qzP '\[Interface\]\n# PrivateKey = .*\nAddress = 10\.4\.[0-9.]+/16\nListenPort = 51820\n' "$D/n1.conf"
# n1's private IP is its endpoint: in AllowedIPs, wg-quick would route the
# tunnel's own packets into it, so it is left out (with a comment).
check "showconf peer: the location's leader with its networks and endpoint" \
	grep -qzP "\\[Peer\\]\\n# location/aws\\nPublicKey = ${pub_n1//+/\\+}\\nAllowedIPs = 10\\.4\\.[0-9.]+/32, 10\\.10\\.1\\.0/24, 10\\.10\\.3\\.0/24, 192\\.168\\.60\\.3/32\\n# not in AllowedIPs: 192\\.168\\.50\\.1/32 holds a peer's endpoint, reached directly\\nEndpoint = 192\\.168\\.50\\.1:51820" "$D/laptop.conf"
in_ns "$N1" "$RUN/n1" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wg0 >"$D/wg-n1.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do [ -S "$RUN/n1/wg0.sock" ] && break; sleep 0.1; done
# wg-quick strip: what wg setconf takes; the key goes in as wg-quick users add it.
strip_conf() { # CONF KEY: CONF.wg is what wg setconf gets
	cp "$1" "$D/strip.conf" && wg-quick strip "$D/strip.conf" |
		sed "/^\[Interface\]$/a PrivateKey = $2" >"$1.wg"
}
strip_conf "$D/laptop.conf" "$key_laptop"
check "showconf peer is accepted by wg setconf (after wg-quick strip)" \
	in_ns "$N1" "$RUN/n1" wg setconf wg0 "$D/laptop.conf.wg"
strip_conf "$D/n1.conf" "$key_n1"
check "showconf node is accepted by wg setconf (after wg-quick strip)" \
	in_ns "$N1" "$RUN/n1" wg setconf wg0 "$D/n1.conf.wg"
check "...and the device then holds the peer's AllowedIPs" \
	bash -c "ip netns exec $N1 sh -c 'mount --bind $RUN/n1 /run/wireguard && wg show wg0 allowed-ips' | grep -q '10.5.0.1/32'"
ip -n "$N1" addr add "$(sed -n 's/^Address = //p' "$D/n1.conf")" dev wg0
ip -n "$N1" link set wg0 up
ip -n "$N1" route add 10.5.0.1/32 dev wg0 # what skein-agent would add

ctl showconf node n1 --as-peer -o yaml >"$D/n1-peer.yaml"
check "--as-peer -o yaml: a Peer object of n1's location" \
	grep -qzP "apiVersion: skein.dev/v1alpha1\nkind: Peer\nmetadata:\n  name: n1\nspec:\n  publicKey: ${pub_n1//+/\\+}\n" "$D/n1-peer.yaml"
ctl showconf node n1 --as-peer -o json | sed 's/"name": "n1"/"name": "other-cluster-n1"/' >"$D/n1-peer.json"
create_peer() { ip netns exec "$N1" kubectl --kubeconfig "$KUBECONFIG" --cache-dir "$D/kcache" create -f "$1" >/dev/null; }
check "--as-peer -o json: the API accepts it as a Peer" create_peer "$D/n1-peer.json"
klite peer del other-cluster-n1 >/dev/null
out=$(ctl showconf node n3 --as-peer 2>&1)
check "--as-peer of a non-leader names its leader" grep -q "n1 leads location/aws" <<<"$out"

# --- status (before anybody connects) ---
status() { ctl status --hostname n1 --interface wg0 --wireguard userspace --uapi-dir "$RUN/n1" "$@"; }
status >"$D/status0.txt"; rc=$?
check "status: exit 1 while peer/laptop has no handshake" [ "$rc" = 1 ]
check "status: peers named by the topology" grep -q "^peer: $pub_laptop (peer/laptop)$" "$D/status0.txt"
check "status: wg show's fields" grep -qzP "interface: wg0\n  public key: ${pub_n1//+/\\+}\n  private key: \(hidden\)\n  listening port: 51820\n" "$D/status0.txt"

# --- connect ---
in_ns "$LAPTOP" "$RUN/laptop" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wg0 >"$D/wg-laptop.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
ip netns exec "$LAPTOP" "$CTL" connect laptop --private-key "$D/laptop.key" --interface wg0 \
	--wireguard userspace --uapi-dir "$RUN/laptop" --resync-period 1s >"$D/connect.log" 2>&1 &
CONNECT=$!
on_exit "kill $CONNECT 2>/dev/null"
for _ in $(seq 100); do ip -n "$LAPTOP" route show dev wg0 2>/dev/null | grep -q 10.10.1.0/24 && break; sleep 0.1; done
check "connect: routes the cluster's pod CIDRs into wg0" \
	bash -c "ip -n $LAPTOP route show dev wg0 | grep -q '^10.10.1.0/24'"
check "connect: no route for the leader's endpoint (it would loop)" \
	bash -c "! ip -n $LAPTOP route show dev wg0 | grep -q '^192.168.50.1 '"
check "connect: the Peer's address is on wg0" bash -c "ip -n $LAPTOP addr show wg0 | grep -q 10.5.0.1/32"
check "connect: a pod-like address answers through the tunnel" \
	bash -c "ip netns exec $LAPTOP ping -c 2 -W 2 10.10.1.5 >/dev/null"
status >"$D/status1.txt"; rc=$?
check "status: exit 0 once every expected peer had a handshake" [ "$rc" = 0 ]
check "status: handshake and transfer in wg's words" \
	grep -qzP "latest handshake: ([0-9]+ seconds?|Now)( ago)?\n  transfer: [0-9.]+ (B|KiB) received, [0-9.]+ (B|KiB) sent\n" "$D/status1.txt"
sleep 2
status --handshake-timeout 1 >/dev/null; rc=$?
check "status: a handshake older than --handshake-timeout is unhealthy" [ "$rc" = 1 ]
node n2 10.10.2.0/24 192.168.70.2 gcp "$pub_n2"
status >"$D/status2.txt"; rc=$?
check "status: a new location's leader missing from the device: exit 1, named" \
	[ "$rc" = 1 -a -n "$(grep -A1 "(location/gcp)" "$D/status2.txt" | grep 'missing from the device')" ]
out=$("$CTL" status --handshake-timeout 0 2>&1); rc=$?
check "status: a bad --handshake-timeout is named (exit 2)" \
	[ "$rc" = 2 -a -n "$(grep -F -- '--handshake-timeout: "0" is not' <<<"$out")" ]
for _ in $(seq 50); do ip -n "$LAPTOP" route show dev wg0 | grep -q 10.10.2.0/24 && break; sleep 0.1; done
check "connect: follows the cluster (a new location's pod CIDR is routed)" \
	bash -c "ip -n $LAPTOP route show dev wg0 | grep -q '^10.10.2.0/24'"
kill -TERM "$CONNECT"
wait "$CONNECT"; rc=$?
check "connect: SIGTERM exits 0" [ "$rc" = 0 ]
check "connect: clean-up removed the device and its routes" \
	bash -c "! ip -n $LAPTOP link show wg0 2>/dev/null && ! ip -n $LAPTOP route | grep -q 10.10."
klite peer set laptop --public-key "$pub_n2" >/dev/null
in_ns "$LAPTOP" "$RUN/laptop" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wg0 >>"$D/wg-laptop.log" 2>&1 &
on_exit "kill $! 2>/dev/null"
out=$(ip netns exec "$LAPTOP" timeout 3 "$CTL" connect laptop --private-key "$D/laptop.key" \
	--interface wg0 --wireguard userspace --uapi-dir "$RUN/laptop" --resync-period 1s 2>&1)
check "connect: a Peer with another key says which key to set" \
	grep -qF "set the Peer's publicKey to $pub_laptop" <<<"$out"
exit 0
