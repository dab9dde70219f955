#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test API server is reachable from other network namespaces: listening
# on every address or on one, with a certificate and kubeconfigs naming the
# address clients use. Two namespaces joined by a veth; nothing in the root one.
. "$(dirname "$0")/lib.sh"
. "$SKEIN_ROOT/tests/apiserver/lib.sh"
need_root

srv=$T_PREFIX-api-srv cli=$T_PREFIX-api-cli
netns_add "$srv" && netns_add "$cli" || { fail "namespaces"; exit 1; }
ip -n "$srv" link add veth0 type veth peer name veth0 netns "$cli"
ip -n "$srv" addr add 10.199.0.1/24 dev veth0
ip -n "$cli" addr add 10.199.0.2/24 dev veth0
ip -n "$srv" link set veth0 up
ip -n "$cli" link set veth0 up
D=$(mktemp -d /tmp/skein-apiserver-netns.XXXXXX)
on_exit "rm -rf $D"

in_cli() { ip netns exec "$cli" "$@"; }

APISERVER_NETNS=$srv
if apiserver_start "$D/any" --listen 0.0.0.0:0 --advertise 10.199.0.1; then
	pass "server listens on 0.0.0.0 in a namespace"
else
	fail "server listens on 0.0.0.0 in a namespace"; exit 1
fi
klite node add n1 --pod-cidr 10.42.1.0/24 >/dev/null
check "kubeconfig names the advertised address" grep -q 'server: https://10.199.0.1:' "$D/any/admin.kubeconfig"
check "kubectl from another namespace verifies the certificate and lists nodes" bash -c \
	"ip netns exec $cli kubectl --kubeconfig $D/any/admin.kubeconfig --cache-dir $D/kc get nodes | grep -q '^n1 '"
check "a node token works from another namespace" bash -c \
	"ip netns exec $cli kubectl --kubeconfig $D/any/node-n1.kubeconfig --cache-dir $D/kc1 annotate node n1 a=b | grep -q annotated"
check "loopback in the server's namespace is served too" \
	ip netns exec "$srv" curl -sf --cacert "$D/any/ca.crt" "https://127.0.0.1:$(cat "$D/any/port")/version" -o /dev/null

port=$(( ($$ % 20000) + 30000 ))
if apiserver_start "$D/one" --listen "10.199.0.1:$port"; then
	pass "server listens on one address and a fixed port"
	check "reachable on that address from another namespace" \
		in_cli curl -sf --cacert "$D/one/ca.crt" "https://10.199.0.1:$port/version" -o /dev/null
	check "not on the server namespace's loopback" \
		bash -c "! ip netns exec $srv curl -s --max-time 2 -k https://127.0.0.1:$port/version -o /dev/null"
else
	fail "server listens on one address and a fixed port"
fi
