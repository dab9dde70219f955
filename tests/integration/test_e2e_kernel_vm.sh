#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel WireGuard end to end: Debian's kernel under qemu (hack/kernel-vm.sh)
# runs two nodes of two locations as network namespaces, each with the real
# skein-agent using the kernel backend (--wireguard=kernel), a pod on each
# wired by the real CNI plugins from the config the agent wrote, and the
# pods ping each other across the kernel WireGuard tunnel. The userspace
# backend carries the same traffic in test_e2e_connectivity.sh.
#
# The agents need an API server and the VM has no python3: the test API
# server runs on this host's loopback (127.0.0.1), and qemu's user network
# (restrict=on) forwards the guest's connections to 10.0.2.100:PORT there;
# nothing else leaves the VM. Inside, the VM's root namespace routes
# between the two nodes' networks and masquerades their API traffic.
source "$(dirname "$0")/lib.sh"
need_root
need_tools qemu-system-x86_64 cpio depmod busybox python3 jq nft
for b in skein-agent skein; do
	[ -x "$BIN/$b" ] || { fail "e2e kernel VM: bin/$b not built (make)"; exit 1; }
done
portmap=/usr/lib/cni/portmap
[ -x "$portmap" ] || { skip "e2e kernel VM: no $portmap (containernetworking-plugins)"; exit 0; }

work=$(mktemp -d "/tmp/$T_PREFIX-e2evm.XXXXXX")
on_exit "rm -rf $work"
api=$work/apiserver
GUEST_API=10.0.2.100

# The test API server on loopback; kubeconfigs name the guest's address.
python3 "$SKEIN_ROOT/tests/apiserver/server.py" --listen 127.0.0.1:0 --state-dir "$api" \
	--advertise "$GUEST_API" --san "$GUEST_API" --embed-ca \
	--node-token vm-a --node-token vm-b >"$work/apiserver.log" 2>&1 &
server_pid=$!
on_exit "kill $server_pid; wait $server_pid" # before rm: it saves its store on exit
ready=0
for _ in $(seq 100); do
	if [ -s "$api/port" ] && [ -s "$api/node-vm-b.kubeconfig" ]; then ready=1; break; fi
	sleep 0.1
done
[ $ready = 1 ] || { fail "e2e kernel VM: the test API server did not start"; cat "$work/apiserver.log"; exit 1; }
port=$(cat "$api/port")
# kubectl-lite reads the URL from server.json, which names the advertised
# address; it talks to the loopback address instead.
jq --arg u "https://127.0.0.1:$port" '.url = $u' "$api/server.json" >"$work/server.json" &&
	mkdir -p "$work/klite" && cp "$work/server.json" "$work/klite/server.json"
klite() { "$SKEIN_ROOT/tests/apiserver/kubectl-lite" --state-dir "$work/klite" "$@"; }
klite node add vm-a --location a --pod-cidr 10.244.1.0/24 --internal-ip 192.168.1.2 >/dev/null &&
	klite node add vm-b --location b --pod-cidr 10.244.2.0/24 --internal-ip 192.168.2.2 >/dev/null ||
	{ fail "e2e kernel VM: Node objects"; exit 1; }

cat >"$work/guest.sh" <<'GUEST'
# Busybox prefers its own applets: the real tools are called by path.
IP=/usr/sbin/ip WG=/usr/bin/wg NFT=/usr/sbin/nft JQ=/usr/bin/jq
pass() { echo "PASS: kernel e2e: $*"; }
fail() { echo "FAIL: kernel e2e: $*"; }
check() { name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
# busybox sh has no local variables: every helper uses names of its own.
wait_for() { # TENTHS CMD...
	left=$1; shift
	while [ "$left" -gt 0 ]; do "$@" && return 0; sleep 0.1; left=$((left - 1)); done
	return 1
}

# The VM's root namespace: user network to the host, router for the nodes.
$IP addr add 10.0.2.15/24 dev eth0 && $IP link set eth0 up
echo 1 >/proc/sys/net/ipv4/ip_forward
$NFT -f - <<'EOF'
table ip vm {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" masquerade
	}
}
EOF
for n in a b; do
	case $n in a) i=1 ;; b) i=2 ;; esac
	$IP netns add node-$n
	$IP -n node-$n link set lo up
	$IP link add to-$n type veth peer name eth0 netns node-$n
	$IP addr add 192.168.$i.1/24 dev to-$n && $IP link set to-$n up
	$IP -n node-$n addr add 192.168.$i.2/24 dev eth0 && $IP -n node-$n link set eth0 up
	$IP -n node-$n route add default via 192.168.$i.1
	mkdir -p /nodes/$n/skein /nodes/$n/net.d /nodes/$n/cni-lib
	$IP netns exec node-$n /usr/bin/skein-agent --kubeconfig /kc/node-vm-$n.kubeconfig \
		--hostname vm-$n --wireguard=kernel --key-dir /nodes/$n/skein \
		--cni-conf /nodes/$n/net.d/10-skein.conflist --listen= --resync-period=5s \
		>/nodes/$n/agent.log 2>&1 &
	echo $! >/nodes/$n/agent.pid
done
has_conf() { [ -s /nodes/a/net.d/10-skein.conflist ] && [ -s /nodes/b/net.d/10-skein.conflist ]; }
if ! wait_for 600 has_conf; then
	fail "both agents wrote their CNI config"
	tail -20 /nodes/a/agent.log /nodes/b/agent.log
	exit 1
fi
pass "both agents wrote their CNI config"
is_kernel_wg() { $IP -n node-$1 -d link show skein0 | grep -q wireguard; }
check "node a's skein0 is a kernel WireGuard link" is_kernel_wg a
check "node b's skein0 is a kernel WireGuard link" is_kernel_wg b
# No traffic yet: the agents' probes (lib/probe.c, bound to the kernel
# link) start the handshake.
handshake() { [ "$($IP netns exec node-$1 $WG show skein0 latest-handshakes | awk '{print $2}' | head -1)" -gt 0 ]; }
check "before any traffic, the agents' probes gave the kernel peers a handshake" \
	wait_for 100 eval 'handshake a && handshake b'

# cni NODE COMMAND POD: the node's conflist plugin by plugin, as a runtime
# does, with the node's own /var/lib/cni.
cni() {
	conf=/nodes/$1/net.d/10-skein.conflist prev=null out=""
	count=$($JQ '.plugins | length' "$conf")
	i=0
	while [ "$i" -lt "$count" ]; do
		cfg=$($JQ -c --argjson i "$i" --argjson prev "$prev" \
			'.plugins[$i] + {name: .name, cniVersion: .cniVersion}
			 + (if $prev != null then {prevResult: $prev} else {} end)' "$conf")
		type=$(echo "$cfg" | $JQ -r .type)
		out=$(echo "$cfg" | $IP netns exec node-$1 sh -c 'mount --bind "$0" /var/lib/cni && exec "$@"' \
			/nodes/$1/cni-lib env CNI_COMMAND=$2 CNI_CONTAINERID=vm-$3 CNI_NETNS=/run/netns/$3 \
			CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/$type) ||
			{ echo "CNI $2 $type on node $1: $out"; return 1; }
		prev=$out
		i=$((i + 1))
	done
	echo "$out" >/nodes/$1/$3.json
}
mkdir -p /var/lib/cni
for n in a b; do
	$IP netns add pod-$n && $IP -n pod-$n link set lo up
	check "pod on node $n wired by the CNI plugins" cni $n ADD pod-$n
done
ip_a=$($JQ -r '.ips[0].address' /nodes/a/pod-a.json | cut -d/ -f1)
ip_b=$($JQ -r '.ips[0].address' /nodes/b/pod-b.json | cut -d/ -f1)
echo "pods: $ip_a on node a, $ip_b on node b"
pod_pings() { $IP netns exec pod-$1 ping -c1 -W1 "$2" >/dev/null 2>&1; }
check "pod a -> pod b across kernel WireGuard" wait_for 300 pod_pings a "$ip_b"
check "pod b -> pod a across kernel WireGuard" wait_for 50 pod_pings b "$ip_a"
# The packets really crossed the tunnel: a handshake and bytes on the device.
check "node a's kernel peer has a handshake" handshake a
check "node b's kernel peer has a handshake" handshake b
echo "REPORT: kernel e2e: node a's peer (key, bytes received, sent): $($IP netns exec node-a $WG show skein0 transfer)"
# TCP, and the pod's source address is kept (no masquerade between pods).
printf '#!/bin/sh\nnetstat -tn | awk '"'"'$4 ~ /:8080$/ { print $5 }'"'"'\n' >/tmp/peer.sh
chmod +x /tmp/peer.sh
$IP netns exec pod-b nc -l -p 8080 -e /tmp/peer.sh >/dev/null 2>&1 &
sleep 0.5
seen=$($IP netns exec pod-a timeout 10 nc "$ip_b" 8080 </dev/null 2>/dev/null)
echo "server in pod b saw the client as: $seen"
case "$seen" in
*"$ip_a":*) pass "TCP pod a -> pod b keeps the pod's source address" ;;
*) fail "TCP pod a -> pod b keeps the pod's source address" ;;
esac

# Clean-up (SIGTERM, --clean-up default true): the kernel links are deleted.
for n in a b; do cni $n DEL pod-$n >/dev/null; kill -TERM "$(cat /nodes/$n/agent.pid)"; done
no_link() { ! $IP -n node-$1 link show skein0 >/dev/null 2>&1; }
check "clean-up deletes node a's kernel WireGuard link" wait_for 100 no_link a
check "clean-up deletes node b's kernel WireGuard link" wait_for 100 no_link b
grep -h 'error' /nodes/a/agent.log /nodes/b/agent.log | head -5
true
GUEST

"$SKEIN_ROOT/hack/kernel-vm.sh" --timeout 600 --mem 768 \
	--forward "$GUEST_API:$port=$port" \
	--module nf_tables --module nft_chain_nat --module nft_masq --module nft_fib_inet \
	--module nft_fib_ipv4 --module nft_fib_ipv6 \
	--bin "$BIN/skein-agent" --bin "$BIN/skein:/opt/cni/bin/skein" --bin "$portmap:/opt/cni/bin/portmap" \
	--bin /usr/sbin/ip:/usr/sbin/ip --bin "$(command -v wg):/usr/bin/wg" \
	--bin "$(command -v nft):/usr/sbin/nft" --bin "$(command -v jq):/usr/bin/jq" \
	--file "$api/node-vm-a.kubeconfig:/kc/node-vm-a.kubeconfig" \
	--file "$api/node-vm-b.kubeconfig:/kc/node-vm-b.kubeconfig" \
	"$work/guest.sh" >"$work/console.log" 2>"$work/vm.err"
rc=$?
vm_results "e2e kernel VM" "$rc" "$work/console.log" "$work/vm.err"
if tr -d '\r' <"$work/console.log" | grep -q '^FAIL: '; then
	echo "console tail:"
	tr -d '\r' <"$work/console.log" | tail -40
fi
if ! tr -d '\r' <"$work/console.log" | grep -q 'KERNEL-VM-RESULT'; then
	fail "e2e kernel VM: the VM reported no result (rc $rc); console tail:"
	tr -d '\r' <"$work/console.log" | tail -30
fi
check "e2e kernel VM: the guest script ran to its end" [ "$rc" -eq 0 ]
