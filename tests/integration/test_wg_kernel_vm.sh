#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# lib/wg's kernel backend against real kernel WireGuard: one boot of Debian's
# cloud kernel under qemu (hack/kernel-vm.sh) running wgctl through every
# check: create the link, a few hundred peers (split across netlink
# messages), read back, zero-write re-apply, one peer changed in place, a
# peer whose allowed IPs span several messages, clean-up, and two namespaces
# pinging over kernel WireGuard while another peer is edited.
source "$(dirname "$0")/lib.sh"
need_root

WGCTL=$SKEIN_ROOT/build/tools/wgctl
if [ ! -x "$WGCTL" ]; then fail "kernel_vm: $WGCTL not built (make test builds it)"; exit 1; fi
need_tools qemu-system-x86_64 cpio depmod busybox wg

work=$(mktemp -d "/tmp/$T_PREFIX-kvm.XXXXXX")
on_exit "rm -rf $work"

# The guest's script, run by busybox sh as root of the VM. Busybox prefers
# its own applets, so the real ip and wg are called by path.
cat >"$work/guest.sh" <<'GUEST'
IP=/usr/sbin/ip WG=/usr/bin/wg W=/usr/bin/wgctl
pass() { echo "PASS: kernel: $*"; }
fail() { echo "FAIL: kernel: $*"; }
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
is_wireguard_link() { $IP -d link show wg0 | grep -q wireguard; }
no_link() { ! $IP link show wg0 >/dev/null 2>&1; }
dump() { $W show wg0 | cut -f1-4,8; }
peer_pairs() { # config -> "key ip" lines, sorted
	awk -F' = ' '/^PublicKey/ { k = $2 } /^AllowedIPs/ { print k, $2 }' "$1" | sort
}
shown_pairs() { $W show wg0 | awk -F'\t' 'NR > 1 { print $1, $4 }' | sort; }
nth_peer_key() { awk -F' = ' -v n="$2" '/^PublicKey/ { if (++i == n) print $2 }' "$1"; }

check "auto-selection picks the kernel backend" [ "$($W backend)" = kernel ]
check "ensure creates the link" $W --backend kernel ensure wg0
check "the link is of kind wireguard" is_wireguard_link
check "ensure on an existing link succeeds" $W ensure wg0

{ printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n\n' "$($W genkey)"
  $W genpeers 300 10.200.0.1; } >/tmp/big.conf
out=$($W apply wg0 /tmp/big.conf)
echo "REPORT: kernel: 300 peers applied: $out"
writes=${out##*writes=}
check "300 peers are split across several netlink messages" [ "${writes:-0}" -gt 1 ]
check "read back: 300 peers" [ "$($W show wg0 | wc -l)" -eq 301 ]
check "read back equals wg show dump" [ "$(dump)" = "$($WG show wg0 dump | cut -f1-4,8)" ]
peer_pairs /tmp/big.conf >/tmp/want.pairs
shown_pairs >/tmp/have.pairs
check "read back equals the config" cmp -s /tmp/want.pairs /tmp/have.pairs
out=$($W apply wg0 /tmp/big.conf)
check "re-apply: zero writes" [ "$out" = "changes=0 writes=0" ]

# Peer 150 gains an allowed IP: one change, one message, the others untouched.
key150=$(nth_peer_key /tmp/big.conf 150)
$WG show wg0 dump | grep -v "^$key150" >/tmp/others.before
awk -v k="$key150" '{ print } $0 == "PublicKey = " k { print "AllowedIPs = 10.201.0.0/24" }' \
	/tmp/big.conf >/tmp/big2.conf
out=$($W apply wg0 /tmp/big2.conf)
check "one peer changed: one change in one message" [ "$out" = "changes=1 writes=1" ]
check "the changed peer has both allowed IPs" \
	sh -c "$WG show wg0 allowed-ips | grep '^$key150' | grep -q '10.201.0.0/24'"
$WG show wg0 dump | grep -v "^$key150" >/tmp/others.after
check "the other 299 peers are untouched" cmp -s /tmp/others.before /tmp/others.after
out=$($W apply wg0 /tmp/big.conf)
check "shrinking it back: one change" [ "$out" = "changes=1 writes=1" ]
check "shrunk atomically to the old list" \
	sh -c "[ \"\$($WG show wg0 allowed-ips | grep '^$key150' | cut -f2)\" = 10.200.0.150/32 ]"

# One peer with 1000 allowed IPs: the set and the dump both span messages.
{ printf '[Peer]\nPublicKey = %s\n' "$($W genkey | $W pubkey)"
  i=0; while [ $i -lt 1000 ]; do
	echo "AllowedIPs = 10.210.$((i / 256)).$((i % 256))/32"; i=$((i + 1)); done; } >/tmp/huge.conf
out=$($W apply wg0 /tmp/huge.conf)
echo "REPORT: kernel: 1000 allowed IPs of one peer (and 300 peers removed): $out"
check "a peer with 1000 allowed IPs reads back whole" \
	[ "$($W show wg0 | awk -F'\t' 'NR == 2 { print $4 }' | tr ',' '\n' | wc -l)" -eq 1000 ]
check "and equals wg's view" [ "$(dump)" = "$($WG show wg0 dump | cut -f1-4,8)" ]
check "the 300 other peers were removed" [ "$($W show wg0 | wc -l)" -eq 2 ]

check "remove deletes the link" $W remove wg0
check "link gone" no_link

# Two namespaces over kernel WireGuard.
$IP netns add a && $IP netns add b
$IP link add va netns a type veth peer name vb netns b
for n in a b; do $IP -n $n link set lo up; done
$IP -n a addr add 192.168.5.1/24 dev va && $IP -n a link set va up
$IP -n b addr add 192.168.5.2/24 dev vb && $IP -n b link set vb up
ka=$($W genkey); kb=$($W genkey)
pa=$(echo "$ka" | $W pubkey); pb=$(echo "$kb" | $W pubkey)
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nEndpoint = 192.168.5.2:51820\nAllowedIPs = 10.9.0.2/32\n' \
	"$ka" "$pb" >/tmp/a.conf
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.0.1/32\n' \
	"$kb" "$pa" >/tmp/b.conf
for n in a b; do
	$IP netns exec $n $W ensure wg0 && $IP netns exec $n $W apply wg0 /tmp/$n.conf >/dev/null
done
$IP -n a addr add 10.9.0.1/24 dev wg0 && $IP -n a link set wg0 up
$IP -n b addr add 10.9.0.2/24 dev wg0 && $IP -n b link set wg0 up
ping_ok() { $IP netns exec a ping -c 3 -W 3 -q 10.9.0.2 >/dev/null; }
check "two namespaces ping over kernel WireGuard" ping_ok
$IP netns exec a ping -c 40 -i 0.1 -W 2 10.9.0.2 >/tmp/ping.log 2>&1 &
ping_pid=$!
sleep 1
{ cat /tmp/a.conf; printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.0.3/32\n' "$($W genkey | $W pubkey)"; } >/tmp/a2.conf
out=$($IP netns exec a $W apply wg0 /tmp/a2.conf)
check "adding a peer beside a live one: one change" [ "$out" = "changes=1 writes=1" ]
sleep 1
out=$($IP netns exec a $W apply wg0 /tmp/a.conf)
check "removing it again: one change" [ "$out" = "changes=1 writes=1" ]
wait $ping_pid
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' /tmp/ping.log)
echo "REPORT: kernel: ping loss while a neighbouring peer was added and removed: ${loss:-?}%"
check "no ping lost while another peer was edited" [ "$loss" = 0 ]
out=$($IP netns exec b $W apply wg0 /tmp/b.conf)
check "roaming: B keeps the endpoint it learned (zero writes)" [ "$out" = "changes=0 writes=0" ]
for n in a b; do $IP netns exec $n $W remove wg0; done
check "both links removed" sh -c "! $IP -n a link show wg0 2>/dev/null && ! $IP -n b link show wg0 2>/dev/null"
GUEST

"$SKEIN_ROOT/hack/kernel-vm.sh" --timeout 600 \
	--bin "$WGCTL" --bin /usr/sbin/ip:/usr/sbin/ip --bin "$(command -v wg)" \
	"$work/guest.sh" >"$work/console.log" 2>"$work/vm.err"
rc=$?
vm_results kernel_vm "$rc" "$work/console.log" "$work/vm.err"
if ! tr -d '\r' <"$work/console.log" | grep -q 'KERNEL-VM-RESULT'; then
	fail "kernel_vm: the VM reported no result (rc $rc); console tail:"
	tr -d '\r' <"$work/console.log" | tail -30
fi
check "kernel_vm: the guest script ran to its end" [ "$rc" -eq 0 ]
