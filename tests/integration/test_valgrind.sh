#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The release binaries under valgrind (memcheck): the CNI plugin through
# ADD, CHECK, DEL (also of a pod whose netns vanished), STATUS and GC in
# namespaces; the agent (userspace WireGuard, test API server) through a
# short scenario of node events, two watch drops and SIGTERM with clean-up.
# Each must end with no invalid access and no definite leak (valgrind's
# ERROR SUMMARY counts both), and the agent's fd count must not grow while
# it works.
source "$(dirname "$0")/lib.sh"
source "$SKEIN_ROOT/tests/apiserver/lib.sh"
source "$(dirname "$0")/agent_env.sh"
need_root
need_tools valgrind wireguard-go wg nft python3
for b in skein skein-agent; do [ -x "$BIN/$b" ] || { fail "valgrind: bin/$b not built"; exit 1; }; done

VG=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
# clean LOG: no error and no definite leak in a valgrind log.
clean() {
	[ -f "$1" ] && ! grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|Invalid \(read\|write\|free\)\|uninitialised' "$1"
}

agent_env_setup vg || { fail "valgrind: environment"; exit 1; }
LOGS=$SKEIN_ROOT/build/test-logs/valgrind
mkdir -p "$LOGS"
on_exit "cp $RUN/*.vg $RUN/agent.log $LOGS/ 2>/dev/null"

# ---- the CNI plugin ----
cp "$BIN/skein" "$RUN/skein"
CONF="{\"cniVersion\":\"1.1.0\",\"name\":\"skein\",\"type\":\"skein\",\"podCIDRs\":[\"10.244.0.0/24\",\"fd00:10:244::/64\"],\"dataDir\":\"$RUN/ipam\"}"
netns_add "$T_PREFIX-vg-pod"
netns_add "$T_PREFIX-vg-gone"
cni_vg() { # VERB ID NETNS CONF
	echo "$4" | ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
		CNI_IFNAME=eth0 CNI_NETNS="$3" CNI_PATH="$RUN" \
		"${VG[@]}" --error-exitcode=99 --log-file="$RUN/cni-$1-$2.vg" "$RUN/skein"
}
POD=/var/run/netns/$T_PREFIX-vg-pod
R=$(cni_vg ADD vg1 "$POD" "$CONF")
check "plugin ADD under valgrind: clean" clean "$RUN/cni-ADD-vg1.vg"
check "plugin ADD under valgrind: gives addresses" grep -q '"address":"10.244.0.' <<<"$R"
WITH_PREV=$(python3 -c 'import json, sys
c = json.loads(sys.argv[1]); c["prevResult"] = json.loads(sys.argv[2]); print(json.dumps(c))' "$CONF" "$R")
cni_vg CHECK vg1 "$POD" "$WITH_PREV" >/dev/null
check "plugin CHECK under valgrind: passes" test $? -eq 0
check "plugin CHECK under valgrind: clean" clean "$RUN/cni-CHECK-vg1.vg"
cni_vg ADD vg2 "/var/run/netns/$T_PREFIX-vg-gone" "$CONF" >/dev/null
ip netns del "$T_PREFIX-vg-gone"
for id in vg1 vg2; do
	ns=$POD
	[ $id = vg2 ] && ns=/var/run/netns/$T_PREFIX-vg-gone
	cni_vg DEL "$id" "$ns" "$CONF" >/dev/null
	rc=$?
	check "plugin DEL $id under valgrind: succeeds$([ $id = vg2 ] && echo ' (netns gone)')" test $rc -eq 0
	check "plugin DEL $id under valgrind: clean" clean "$RUN/cni-DEL-$id.vg"
done
cni_vg STATUS "" "" "$CONF" >/dev/null
check "plugin STATUS under valgrind: clean" clean "$RUN/cni-STATUS-.vg"
GC=$(python3 -c 'import json, sys
c = json.loads(sys.argv[1]); c["cni.dev/valid-attachments"] = [{"containerID": "x", "ifname": "eth0"}]
print(json.dumps(c))' "$CONF")
cni_vg GC "" "" "$GC" >/dev/null
check "plugin GC under valgrind: clean" clean "$RUN/cni-GC-.vg"
check "plugin left no allocation and no veth" \
	bash -c "[ \$(find '$RUN/ipam' -name '*|*' | wc -l) -eq 0 ] && ! ip -n '$NODE' -o link | grep -q ': sk[0-9a-f]\{12\}@'"

# ---- the agent ----
agent_start --valgrind "$RUN/agent.vg" --model-dump "$RUN/model.json" --resync-period=1s
if ! settled "$RUN/model.json"; then
	fail "agent under valgrind publishes a model"
else
	events 0 30 60 2 >/dev/null
	settled "$RUN/model.json"
	FD1=$(agent_fds)
	events 30 60 60 2 >/dev/null
	settled "$RUN/model.json"
	FD2=$(agent_fds)
	check "agent under valgrind: fd count flat over 60 events and 2 watch drops ($FD1 -> $FD2)" \
		test "$FD2" -le "$FD1"
fi
agent_stop
RC=$?
check "agent under valgrind: SIGTERM exits 0 (valgrind's error exit is 99) (got $RC)" test "$RC" -eq 0
check "agent under valgrind: no invalid access, no definite leak" clean "$RUN/agent.vg"
check "agent clean-up removed its peers" bash -c "[ -z \"\$(ip netns exec '$NODE' sh -c 'mount --bind \"\$0\" /run/wireguard && wg show skein0 peers' '$RUN/wg')\" ]"
grep -h 'definitely lost\|Invalid\|uninitialised' "$RUN"/*.vg | head -5 | sed 's/^/    /'
