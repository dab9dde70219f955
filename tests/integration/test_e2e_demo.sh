#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make demo`'s script (hack/demo.sh) under its own prefix: it brings the
# simulated multi-cloud up with a pod on every node, its live checks pass,
# it prints the topology and how to look around, it leaves the cluster
# running (that is the point of a demo), a second `up` is refused, and
# `down` removes every namespace, process and state file it made.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/e2e_lib.sh"
need_root
e2e_need_tools
[ -x "$BIN/skeinctl" ] || { fail "e2e demo: bin/skeinctl is not built (make)"; exit 1; }

export SKEIN_DEMO_PREFIX=${T_PREFIX}d
demo() { "$SKEIN_ROOT/hack/demo.sh" "$@"; }
on_exit "SKEIN_DEMO_PREFIX=$SKEIN_DEMO_PREFIX $SKEIN_ROOT/hack/demo.sh down; rm -rf $SKEIN_ROOT/build/$SKEIN_DEMO_PREFIX"
prefix_ns() { ip netns list | awk '{print $1}' | grep -c "^$SKEIN_DEMO_PREFIX-"; }

out=$(demo up 2>&1)
rc=$?
echo "$out" | tail -25
check "demo up succeeds with every live check passing" test $rc -eq 0
check "demo prints the topology from skeinctl graph" grep -q 'graph skein' <<<"$out"
check "demo shows skeinctl status of a node" grep -q 'peer: .*(location/' <<<"$out"
says_how() { grep -q "exec aws-1 skeinctl status" <<<"$out" && grep -q "hack/demo.sh down" <<<"$out"; }
check "demo says how to look around and how to tear down" says_how
if command -v dot >/dev/null; then
	check "demo renders the topology as SVG (graphviz present)" grep -q '<svg' "$SKEIN_ROOT/build/$SKEIN_DEMO_PREFIX/topology.svg"
fi
agents=$(for ns in $(ip netns list | awk '{print $1}' | grep "^$SKEIN_DEMO_PREFIX-"); do ip netns pids "$ns"; done |
	xargs -r ps -o comm= -p | grep -c skein-agent)
check "demo leaves the cluster running: 6 agents" test "$agents" -eq 6
check "demo exec runs skeinctl status in a node" demo exec aws-1 skeinctl status
check "demo pod runs a command in a pod" demo pod web-aws-2 ping -c1 -W2 "$(jq -r '.ips[0].address' "/run/skein-mc/$SKEIN_DEMO_PREFIX/pods/web-gcp-2.json" | cut -d/ -f1)"
out=$(demo up 2>&1)
rc=$?
refused() { [ "$rc" -ne 0 ] && grep -q 'running already' <<<"$out"; }
check "a second demo up is refused while one runs" refused
demo down >/dev/null
check "demo down removes every namespace" test "$(prefix_ns)" -eq 0
check "demo down removes its state" test ! -e "/run/skein-mc/$SKEIN_DEMO_PREFIX"
