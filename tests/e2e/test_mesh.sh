#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Pods on every node reach each other in location granularity, after a
# switch to full granularity, and after switching back; the routes show the
# topology really changed (a non-leader sends to the other location through
# its leader in location mode, through its own tunnel in full mode).
. "$(dirname "$0")/lib.sh"

mapfile -t nodes < <(kind_nodes)
[ "${#nodes[@]}" -ge 4 ] || { fail "the cluster has ${#nodes[@]} nodes, the tests need 4"; e2e_finish; }
leader_a=${nodes[0]} member_a=${nodes[1]} member_b=${nodes[3]}

ok=1
for n in "${nodes[@]}"; do
	key=$(kubectl get node "$n" -o jsonpath='{.metadata.annotations.skein\.dev/public-key}')
	cidr=$(kubectl get node "$n" -o jsonpath='{.spec.podCIDR}')
	[ -n "$key" ] && [ -n "$cidr" ] || { ok=0; echo "node $n: public key '$key', pod CIDR '$cidr'"; }
done
check "every node has a pod CIDR and published its WireGuard key" test $ok = 1

check "test pods run on every node" e2e_deploy_workload
far_pod=$(pod_ip_on "$member_b")

check_pod_mesh "location"
check "location: $member_a reaches loc-b through its leader, not a tunnel of its own" \
	eval '! node_routes_via_tunnel "$member_a" "$far_pod"'
check "location: leader $leader_a reaches loc-b through the tunnel" \
	node_routes_via_tunnel "$leader_a" "$far_pod"

if set_granularity full; then
	pass "switched to full granularity"
	check "full: $member_a reaches loc-b through its own tunnel" \
		retry "$E2E_TIMEOUT" node_routes_via_tunnel "$member_a" "$far_pod"
	check_pod_mesh "full"
else
	fail "switched to full granularity"
fi

if set_granularity location; then
	pass "switched back to location granularity"
	check "location again: $member_a reaches loc-b through its leader" \
		retry "$E2E_TIMEOUT" eval '! node_routes_via_tunnel "$member_a" "$far_pod"'
	check_pod_mesh "location again"
else
	fail "switched back to location granularity"
fi
e2e_finish
