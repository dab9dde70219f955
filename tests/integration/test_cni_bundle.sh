#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The plugin as a host gets it (docs/cni.md#on-the-host): skein-agent
# --install-cni copies the launcher and the bundle `make` staged in build/cni
# into a CNI bin dir. Installed into an otherwise empty directory used as a
# chroot root, the plugin must run with no library of the host; through the
# launcher it must wire pods as bin/skein does; a missing bundle is a CNI
# error; upgrades leave one bundle. Nothing here touches the root namespace.
. "$(dirname "$0")/lib.sh"
need_root
STAGE=$SKEIN_ROOT/build/cni
for f in "$BIN/skein-agent" "$BIN/skein-launcher" "$STAGE/skein"; do
	[ -x "$f" ] || { fail "$f is built (make)"; exit 1; }
done
VERSION=$(sed -n 's/^#define SKEIN_VERSION "\(.*\)"$/\1/p' "$SKEIN_ROOT/lib/version.h")
W=$(mktemp -d /tmp/skein-bundle.XXXXXX)
on_exit "rm -rf $W"

install_cni() { # DIR [FROM]: skein-agent --install-cni, its log in $W/install.log
	"$BIN/skein-agent" --install-cni="$1" --install-cni-from="${2:-$STAGE}" >"$W/install.log" 2>&1
}
bundles() { # DIR: the names of its skein-* directories, one a line
	find "$1" -mindepth 1 -maxdepth 1 -type d -name 'skein-*' -printf '%f\n' | sort
}
CHROOT=$(command -v chroot) || { fail "chroot(8) is installed"; exit 1; }
version_json() { # LAUNCHER [chroot ROOT]: the plugin's VERSION answer
	if [ $# -eq 3 ]; then env -i CNI_COMMAND=VERSION "$CHROOT" "$3" "$1"
	else env -i CNI_COMMAND=VERSION "$1"; fi
}
# (jq -e succeeds on empty input: compare the text instead.)
answers_version() {
	[ "$(version_json "$@" 2>/dev/null | jq -c .supportedVersions)" = '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' ]
}

# ---- the launcher needs nothing from the host ----
check "bin/skein-launcher is static: no loader, no dynamic section" \
	bash -c "! readelf -l '$BIN/skein-launcher' | grep -q INTERP && readelf -d '$BIN/skein-launcher' | grep -q 'no dynamic section'"
check "the staged bundle holds the plugin, its loader and its libraries" \
	bash -c "cd '$STAGE/skein-$VERSION' && [ -x skein ] && [ -x ld-linux-*.so.* ] && [ -f libc.so.6 ] && [ -f libjansson.so.4 ] && [ -f libmnl.so.0 ]"

ROOT=$W/root
mkdir -p "$ROOT/opt/cni/bin"
check "install into an empty CNI bin dir" install_cni "$ROOT/opt/cni/bin"
check "it wrote the launcher and one bundle, nothing else" test \
	"$(cd "$ROOT" && find . -mindepth 1 | sort | tr '\n' ' ')" = \
	"$(cd "$STAGE" && find . -mindepth 1 | sed 's|^\./|./opt/cni/bin/|' | sort |
	   cat <(printf './opt\n./opt/cni\n./opt/cni/bin\n') - | sort | tr '\n' ' ')"
check "the installed files are the staged ones, modes included" \
	bash -c "cd '$STAGE' && for f in skein skein-$VERSION/*; do cmp -s \$f '$ROOT/opt/cni/bin/'\$f &&
		[ \$(stat -c %a \$f) = \$(stat -c %a '$ROOT/opt/cni/bin/'\$f) ] || exit 1; done"
check "chroot with no library at all: VERSION lists the supported versions" \
	answers_version /opt/cni/bin/skein chroot "$ROOT"
out=$(echo '{"cniVersion":' | env -i CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_IFNAME=eth0 \
	CNI_NETNS=/nonexistent CNI_PATH=/opt/cni/bin "$CHROOT" "$ROOT" /opt/cni/bin/skein 2>/dev/null); rc=$?
check "chroot: stdin reaches the plugin and its error and exit status come back" \
	test "$rc" = 1 -a "$(jq -r .code <<<"$out")" = 6
mkdir -p "$W/link"
ln -s "$ROOT/opt/cni/bin/skein" "$W/link/skein"
check "run through a symlink, the launcher finds its bundle next to its target" \
	answers_version "$W/link/skein"

# ---- ADD and DEL through the launcher ----
NODE=$T_PREFIX-bundle-node
POD=$T_PREFIX-bundle-pod
netns_add "$NODE" && netns_add "$POD"
conf='{"cniVersion":"1.1.0","name":"skein","type":"skein","podCIDRs":["10.244.9.0/24"],"mtu":1420,"dataDir":"'$W/state'"}'
cni() { # CMD: the installed launcher in the node namespace, as a runtime runs it
	echo "$conf" | ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID=cb \
		CNI_IFNAME=eth0 CNI_NETNS="/var/run/netns/$POD" CNI_PATH="$ROOT/opt/cni/bin" \
		"$ROOT/opt/cni/bin/skein"
}
R=$(cni ADD)
A=$(jq -r '.ips[0].address' <<<"$R")
H=$(jq -r '.interfaces[0].name' <<<"$R")
check "ADD through the launcher: the pod has its address" \
	bash -c "[ -n '$A' ] && ip -n '$POD' addr show eth0 | grep -q 'inet $A '"
cni DEL; rc=$?
check "DEL through the launcher: the host veth and the allocation are gone" \
	bash -c "[ $rc = 0 ] && ! ip -n '$NODE' link show '$H' 2>/dev/null && [ -z \"\$(find '$W/state' -name '*|*')\" ]"

# ---- a missing bundle is a CNI error naming what is missing ----
error_case() { # NAME DIR NEEDLE: DIR/skein must answer code 999 naming NEEDLE, exit 1
	local out rc
	out=$(env -i CNI_COMMAND=VERSION "$2/skein" 2>/dev/null); rc=$?
	if [ $rc = 1 ] && [ "$(jq -r .code <<<"$out")" = 999 ] && jq -r .msg <<<"$out" | grep -qF "$3"; then
		pass "$1"
	else
		fail "$1 (rc=$rc out=$out)"
	fi
}
mkdir -p "$W/lonely" "$W/noloader/skein-$VERSION"
cp "$STAGE/skein" "$W/lonely/"
error_case "no bundle: code 999 naming the plugin's path" "$W/lonely" "$W/lonely/skein-$VERSION/skein"
cp "$STAGE/skein" "$W/noloader/"
cp "$STAGE/skein-$VERSION/skein" "$W/noloader/skein-$VERSION/"
error_case "a bundle without its loader: code 999 naming the loader" "$W/noloader" \
	"$W/noloader/skein-$VERSION/ld-"

# ---- upgrades ----
UP=$W/up/opt/cni/bin
mkdir -p "$UP/skein-0.0.9" "$UP/.skein-$VERSION.new"
echo old >"$UP/skein"
touch "$UP/skein-0.0.9/skein" "$UP/.skein-$VERSION.new/half-written" "$UP/bridge" "$UP/skein-tools"
check "install over an older version" install_cni "$UP"
check "... leaves exactly one bundle, the new one" test "$(bundles "$UP")" = "skein-$VERSION"
check "... replaced the launcher, which runs the new plugin" answers_version "$UP/skein"
check "... removed a crashed install's leftovers and kept other plugins" \
	bash -c "! ls -A '$UP' | grep -q '^\.' && [ -f '$UP/bridge' ] && [ -f '$UP/skein-tools' ]"
install_cni "$UP"; rc=$?
check "install again over the same version: still one bundle" test "$rc" = 0 -a "$(bundles "$UP")" = "skein-$VERSION"
check "a failed install (no bundle to copy) changes nothing" \
	bash -c "mkdir -p '$W/empty' '$W/untouched' && ! '$BIN/skein-agent' --install-cni='$W/untouched' --install-cni-from='$W/empty' 2>/dev/null && [ -z \"\$(ls -A '$W/untouched')\" ]"

# Reinstalls racing executions: each execution must find a complete set.
( for i in $(seq 20); do install_cni "$UP" || echo "install $i failed" >&2; done; touch "$W/done" ) 2>"$W/race.err" &
runs=0 bad=0
while [ ! -e "$W/done" ]; do
	answers_version "$UP/skein" || bad=$((bad + 1))
	runs=$((runs + 1))
done
wait
check "20 reinstalls while the plugin ran $runs times: no run failed, no install failed" \
	test "$bad" = 0 -a "$runs" -gt 0 -a ! -s "$W/race.err"
exit 0
