#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# skeinctl status --probe against two nodes of two locations, each with its
# own wireguard-go in its own namespace (N1, N2), configured from
# `skeinctl showconf node NAME` and then left idle (no traffic, no
# keepalive), so neither ever handshakes by itself:
#   without --probe  exit 1, and a hint names the idle peer and --probe;
#   --probe          one datagram into the tunnel starts the handshake: exit 0,
#                    the other side has the handshake too;
#   a peer whose other side is down (n3: nobody at its endpoint): --probe=2
#                    still exits 1, after about 2 seconds, not longer;
#   a Peer that dials in (no endpoint) is named as not probed.
# The test API server runs in N1, where skeinctl runs. Traffic stays inside
# the namespaces.
source "$(dirname "$0")/lib.sh"
source "$SKEIN_ROOT/tests/apiserver/lib.sh"
need_root

CTL=$BIN/skeinctl
need_tools wireguard-go wg wg-quick
[ -x "$CTL" ] || { fail "skeinctl probe: $CTL not built (make)"; exit 1; }

N1=$T_PREFIX-prb-n1
N2=$T_PREFIX-prb-n2
RUN=/run/$T_PREFIX-prb
D=$(mktemp -d /tmp/skein-probe.XXXXXX)
on_exit "rm -rf $RUN $D"
mkdir -p "$RUN/n1" "$RUN/n2" /run/wireguard
netns_add "$N1" && netns_add "$N2" && veth_pair "$N1" 192.168.52.1/24 "$N2" 192.168.52.2/24 ||
	{ fail "skeinctl probe: namespaces"; exit 1; }

APISERVER_NETNS=$N1
apiserver_start "$D/api" || { fail "skeinctl probe: API server"; exit 1; }
export KUBECONFIG=$D/api/admin.kubeconfig
ctl() { ip netns exec "$N1" "$CTL" "$@"; }
status() { ctl status --hostname n1 --interface wg0 --wireguard userspace --uapi-dir "$RUN/n1" "$@"; }

declare -A key pub
for n in n1 n2 n3; do key[$n]=$(wg genkey); pub[$n]=$(echo "${key[$n]}" | wg pubkey); done
node() { # NAME LOCATION ENDPOINT-IP
	klite node add "$1" --pod-cidr "10.11.${1#n}.0/24" --internal-ip "$3" --location "$2" \
		--annotation "skein.dev/public-key=${pub[$1]}" --annotation "skein.dev/endpoint=$3:51820" >/dev/null
}
node n1 aws 192.168.52.1
node n2 gcp 192.168.52.2

# wg_up NODE NS: wireguard-go "wg0" in NS, configured as `showconf node NODE`
# says (after wg-quick strip, with the private key), address set, up.
wg_up() {
	local n=$1 ns=$2
	# Not through a shell function: $! must be wireguard-go itself.
	ip netns exec "$ns" sh -c 'mount --bind "$0" /run/wireguard &&
		WG_PROCESS_FOREGROUND=1 exec wireguard-go -f wg0' "$RUN/$n" >"$D/wg-$n.log" 2>&1 &
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
	for _ in $(seq 50); do [ -S "$RUN/$n/wg0.sock" ] && break; sleep 0.1; done
	wg_sync "$n" "$ns" || return 1
	ip -n "$ns" addr add "$(sed -n 's/^Address = //p' "$D/$n.conf")" dev wg0 &&
		ip -n "$ns" link set wg0 up
}
# wg_sync NODE NS: the device follows `showconf node NODE` (wg syncconf
# changes only what differs, so other peers keep their sessions).
wg_sync() {
	local n=$1 ns=$2
	ctl showconf node "$n" >"$D/$n.conf" && cp "$D/$n.conf" "$D/strip.conf" &&
		wg-quick strip "$D/strip.conf" | sed "/^\[Interface\]$/a PrivateKey = ${key[$n]}" >"$D/$n.wg" &&
		in_ns "$ns" "$RUN/$n" wg syncconf wg0 "$D/$n.wg"
}
wg_up n1 "$N1" && wg_up n2 "$N2" || { fail "skeinctl probe: devices from showconf"; exit 1; }
# latest_handshake NS NODE PEER: seconds since the epoch, 0 when none.
latest_handshake() {
	in_ns "$1" "$RUN/$2" wg show wg0 latest-handshakes | awk -v k="${pub[$3]}" '$1 == k { print $2 }'
}

# --- an idle pair ---
sleep 1 # nothing would handshake by itself, however long we wait
check "idle pair: neither side has a handshake" \
	[ "$(latest_handshake "$N1" n1 n2) $(latest_handshake "$N2" n2 n1)" = "0 0" ]
status >"$D/idle.txt"; rc=$?
check "idle pair: status without --probe exits 1" [ "$rc" = 1 ]
check "... and suggests --probe for the idle peer" \
	grep -q '^1 of them may just be idle (WireGuard handshakes only when it has traffic to send): `skeinctl status --probe` starts their handshakes$' "$D/idle.txt"
status --probe >"$D/probe.txt" 2>"$D/probe.err"; rc=$?
check "idle pair: status --probe exits 0" [ "$rc" = 0 ]
check "... saying what it probed" grep -q '^--probe: 1 peer probed, every one had a handshake within [0-9.]* seconds$' "$D/probe.txt"
check "... and prints no hint" bash -c "! grep -q 'may just be idle' '$D/probe.txt'"
check "... and the other side has the handshake too" [ "$(latest_handshake "$N2" n2 n1)" -gt 0 ]
status --probe=1 >"$D/fresh.txt"; rc=$?
check "every peer fresh: --probe sends nothing, exit 0" \
	[ "$rc" = 0 -a -n "$(grep -x -- '--probe: no peer to probe' "$D/fresh.txt")" ]

# --- a peer whose other side is down ---
node n3 onprem 192.168.52.3 # nobody there
wg_sync n1 "$N1" || fail "skeinctl probe: n1's device follows the topology with n3"
t0=$(date +%s%N)
status --probe=2 >"$D/down.txt" 2>"$D/down.err"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "other side down: --probe=2 still exits 1" [ "$rc" = 1 ]
check "... after waiting for it (2 s), not longer (took $ms ms)" [ "$ms" -ge 2000 -a "$ms" -lt 4000 ]
check "... naming the probed peer still without a handshake" \
	grep -q '^--probe: 1 peer probed, 1 still without a handshake after 2 seconds$' "$D/down.txt"
check "... n2 still fresh, n3 without a handshake" \
	grep -qzP "\(location/gcp\)\n  endpoint: 192\.168\.52\.2:51820\n  allowed ips: [^\n]*\n  latest handshake: [^\n]*(seconds? ago|Now)\n(.|\n)*\(location/onprem\)\n  endpoint: 192\.168\.52\.3:51820\n  allowed ips: [^\n]*\n  latest handshake: \(none\)\n" "$D/down.txt"
report "status --probe with one peer down at --probe=2: exit $rc after $ms ms"

# --- a peer that dials in ---
klite peer add laptop --public-key "$(wg genkey | wg pubkey)" --allowed-ip 10.5.0.1/32 >/dev/null
wg_sync n1 "$N1" || fail "skeinctl probe: n1's device follows the topology with the laptop"
status --probe=1 >/dev/null 2>"$D/dialin.err"
check "a Peer without endpoint is named as not probed" \
	grep -qx 'skeinctl status: peer/laptop: not probed: no endpoint to dial (it dials in)' "$D/dialin.err"
out=$(status --probe=0 2>&1); rc=$?
check "a bad --probe value is named (exit 2)" \
	[ "$rc" = 2 -a -n "$(grep -F -- '--probe: "0" is not a number of seconds in 1-300' <<<"$out")" ]
exit 0
