#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lib/wg's userspace backend against Debian's wireguard-go, driven by wgctl:
# two namespaces joined by a veth, a wireguard-go in each with its own UAPI
# socket directory (bind-mounted over /run/wireguard in the private mount
# namespace of `ip netns exec`). Apply, read back (as `wg show` sees it),
# re-apply with zero writes, edit peers in place under a continuous ping,
# leave a roaming peer's learned endpoint alone, remove the device.
source "$(dirname "$0")/lib.sh"
need_root

WGCTL=$SKEIN_ROOT/build/tools/wgctl
need_tools wireguard-go wg ping
if [ ! -x "$WGCTL" ]; then fail "wg_uapi: $WGCTL not built (make test builds it)"; exit 1; fi

A=$T_PREFIX-wga
B=$T_PREFIX-wgb
RUN=/run/$T_PREFIX-wg
mkdir -p "$RUN/a" "$RUN/b" /run/wireguard
on_exit "rm -rf $RUN"
netns_add "$A" && netns_add "$B" && veth_pair "$A" 192.168.77.1/24 "$B" 192.168.77.2/24 ||
	{ fail "wg_uapi: namespaces"; exit 1; }

wgctl_a() { "$WGCTL" --backend userspace --uapi-dir "$RUN/a" "$@"; }
wgctl_b() { "$WGCTL" --backend userspace --uapi-dir "$RUN/b" "$@"; }

start_wireguard_go() { # NS DIR
	in_ns "$1" "$2" env WG_PROCESS_FOREGROUND=1 wireguard-go -f wg0 >"$2.log" 2>&1 &
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
}
start_wireguard_go "$A" "$RUN/a"
start_wireguard_go "$B" "$RUN/b"
check "ensure waits for wireguard-go's socket" \
	bash -c "'$WGCTL' --backend userspace --uapi-dir '$RUN/a' ensure wg0 5000 &&
		 '$WGCTL' --backend userspace --uapi-dir '$RUN/b' ensure wg0 5000"
# Auto-selection follows the kernel: userspace where it has no WireGuard.
if ip -n "$A" link add "$T_PREFIX-probe" type wireguard 2>/dev/null; then
	ip -n "$A" link del "$T_PREFIX-probe"; want_backend=kernel
else
	want_backend=userspace
fi
check "auto-selection picks the $want_backend backend" [ "$("$WGCTL" backend)" = "$want_backend" ]
ip -n "$A" addr add 10.99.0.1/24 dev wg0 && ip -n "$A" link set wg0 up
ip -n "$B" addr add 10.99.0.2/24 dev wg0 && ip -n "$B" link set wg0 up

key_a=$("$WGCTL" genkey); pub_a=$(echo "$key_a" | "$WGCTL" pubkey)
key_b=$("$WGCTL" genkey); pub_b=$(echo "$key_b" | "$WGCTL" pubkey)
other=()
for _ in 1 2 3 4; do other+=("$("$WGCTL" genkey | "$WGCTL" pubkey)"); done

# conf_a EXTRA_B_IPS PEERS...: A's config; peer specs are "N:ALLOWEDIPS[:KEEPALIVE]".
conf_a() {
	local extra=$1 spec; shift
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n' "$key_a"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.168.77.2:51820\nAllowedIPs = 10.99.0.2/32%s\n\n' \
		"$pub_b" "$extra"
	for spec in "$@"; do
		IFS=: read -r n ips ka <<<"$spec"
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "${other[$n]}" "$ips"
		[ -n "$ka" ] && printf 'PersistentKeepalive = %s\n' "$ka"
		echo
	done
}
# B dials nobody: it learns A's endpoint from A's handshake (a roaming peer).
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.1/32\n' \
	"$key_b" "$pub_a" >"$RUN/b.conf"

conf_a "" "0:10.50.0.0/24" "1:10.51.0.0/24,10.51.1.0/24" "2:10.52.0.0/24" >"$RUN/a1.conf"
out=$(wgctl_a apply wg0 "$RUN/a1.conf")
check "first apply configures device and 4 peers in one UAPI write" [ "$out" = "changes=5 writes=1" ]
out=$(wgctl_b apply wg0 "$RUN/b.conf")
check "apply on the second node" [ "$out" = "changes=2 writes=1" ]

# Handshake and transfer fields (5-7) may move between the two reads, and
# wireguard-go lists its peers in a different order on every get.
mine=$(wgctl_a show wg0 | cut -f1-4,8 | sort)
theirs=$(in_ns "$A" "$RUN/a" wg show wg0 dump | cut -f1-4,8 | sort)
check "read back equals wg show dump" [ "$mine" = "$theirs" ]
check "read back holds the 4 peers" [ "$(wgctl_a show wg0 | wc -l)" -eq 5 ]
check "read back has the private key's public key" \
	[ "$(wgctl_a show wg0 | head -1 | cut -f2)" = "$pub_a" ]

out=$(wgctl_a apply wg0 "$RUN/a1.conf")
check "re-apply: zero writes" [ "$out" = "changes=0 writes=0" ]

ping_ok() { ip netns exec "$A" ping -c 3 -i 0.2 -W 2 -q 10.99.0.2 >/dev/null; }
check "ping over the tunnel" ping_ok

out=$(wgctl_b apply wg0 "$RUN/b.conf")
check "roaming: learned endpoint left alone (zero writes)" [ "$out" = "changes=0 writes=0" ]
check "roaming: the learned endpoint is still there" \
	bash -c "'$WGCTL' --backend userspace --uapi-dir '$RUN/b' show wg0 | grep -q '192.168.77.1:51820'"

# Edits while a ping runs: grow B's allowed IPs (no replace), remove peer 0,
# shrink peer 1 (replace), add peer 3, keepalive on peer 2; then shrink B's
# own list (replace, in one transaction).
peer_field() { wgctl_a show wg0 | awk -F'\t' -v k="$1" -v f="$2" '$1 == k { print $f }'; }
hs_before=$(peer_field "$pub_b" 5)
ip netns exec "$A" ping -i 0.02 -c 250 -W 1 10.99.0.2 >"$RUN/ping.log" 2>&1 &
ping_pid=$!
sleep 0.5
conf_a ",10.97.0.0/24" "1:10.51.0.0/24" "2:10.52.0.0/24:25" "3:10.53.0.0/24" >"$RUN/a2.conf"
out=$(wgctl_a apply wg0 "$RUN/a2.conf")
check "edit: exactly the 5 changed peers in one write" [ "$out" = "changes=5 writes=1" ]
sleep 1
conf_a "" "1:10.51.0.0/24" "2:10.52.0.0/24:25" "3:10.53.0.0/24" >"$RUN/a3.conf"
out=$(wgctl_a apply wg0 "$RUN/a3.conf")
check "edit: shrinking B's list is one change" [ "$out" = "changes=1 writes=1" ]
wait "$ping_pid"
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$RUN/ping.log")
report "ping loss while peers were edited: ${loss:-?}%"
check "no ping lost while peers were edited in place" [ "$loss" = "0" ]

after=$(wgctl_a show wg0)
has_peer() { grep -q "^$1.*	$2" <<<"$after"; }
edit_result_ok() {
	has_peer "${other[1]}" '10.51.0.0/24	' && has_peer "${other[2]}" '25$' &&
		has_peer "${other[3]}" '10.53.0.0/24	' && has_peer "$pub_b" '10.99.0.2/32	' &&
		! has_peer "${other[0]}" ''
}
check "edit: result equals the config" edit_result_ok
# A replaced peer would have lost its session: a new handshake, and its
# counters restarted (250 pings of 128 bytes each arrived in all).
session_kept() {
	awk -F'\t' -v k="$pub_b" -v hs="$hs_before" '$1 == k && $5 == hs && $6 >= 250 * 128' \
		<<<"$after" | grep -q .
}
check "edit: peer B's session survived (handshake and counters kept)" session_kept

# With no traffic, editing another peer leaves B's line exactly as it was.
peer_line() { wgctl_a show wg0 | grep "^$1"; }
b_before=$(peer_line "$pub_b"); p1_before=$(peer_line "${other[1]}")
conf_a "" "1:10.51.0.0/24" "2:10.52.0.0/24:25" "3:10.54.0.0/24" >"$RUN/a4.conf"
out=$(wgctl_a apply wg0 "$RUN/a4.conf")
check "edit of one peer: one change" [ "$out" = "changes=1 writes=1" ]
check "edit of one peer: the others' handshake and counters untouched" \
	[ "$(peer_line "$pub_b")" = "$b_before" ] && [ "$(peer_line "${other[1]}")" = "$p1_before" ]
out=$(wgctl_a apply wg0 "$RUN/a4.conf")
check "re-apply after edits: zero writes" [ "$out" = "changes=0 writes=0" ]

# fails_with MESSAGE CMD...: CMD must fail and say MESSAGE on stderr.
fails_with() {
	local msg=$1 err; shift
	if err=$("$@" 2>&1 >/dev/null); then return 1; fi
	grep -qF "$msg" <<<"$err"
}
printf '[Peer]\nPublicKey = nope\n' >"$RUN/bad.conf"
check "bad config is refused, naming the line" \
	fails_with "bad.conf:2: bad PublicKey" wgctl_a apply wg0 "$RUN/bad.conf"
check "missing device is an error naming it" \
	fails_with "nosuch0: UAPI connect" wgctl_a show nosuch0
check "bad interface name is refused" fails_with 'bad interface name' wgctl_a show "a/b"

# The private key file.
kf=$RUN/state/skein/private.key
out=$("$WGCTL" keyfile "$kf")
check "key file: created on first start" [ "${out%% *}" = created ]
check "key file: mode 0600" [ "$(stat -c %a "$kf")" = 600 ]
check "key file: a key wg accepts, public key matches" \
	[ "$(wg pubkey <"$kf")" = "${out#* }" ]
chmod 0644 "$kf"
out2=$("$WGCTL" keyfile "$kf" 2>"$RUN/kf.err")
check "key file: loaded again, same key" [ "$out2" = "loaded ${out#* }" ]
check "key file: a readable file is fixed to 0600 with a warning" \
	bash -c "[ \"\$(stat -c %a '$kf')\" = 600 ] && grep -q 'readable by group or others' '$RUN/kf.err'"
check "key file: the key is never logged" bash -c "! grep -qF \"\$(cat '$kf')\" '$RUN/kf.err'"

check "remove deletes the device" ip netns exec "$A" "$WGCTL" --backend userspace remove wg0
sleep 0.3
check "device gone" bash -c "! ip -n '$A' link show wg0 >/dev/null 2>&1"
check "remove of a missing device succeeds" ip netns exec "$A" "$WGCTL" remove wg0
