# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for integration scripts. Source it; it sets a unique prefix
# for namespaces, runs registered clean-ups on every exit, and reports cases.
set -u
SKEIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$SKEIN_ROOT/bin
# Every namespace a test makes starts with this prefix, so clean-up removes
# exactly what this run created and parallel runs never collide.
T_PREFIX=${T_PREFIX:-sk$$}
_cleanups=()

on_exit() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
	_cleanups=()
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
report() { echo "REPORT: $*"; }

# check NAME CMD...: runs CMD, reports NAME as passed or failed.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then skip "$(basename "$0"): needs root"; exit 0; fi
}

# need_tools TOOL...: skips the whole test unless every tool is installed.
need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { skip "$(basename "$0" .sh): $tool not installed"; exit 0; }
	done
}

# netns_add NAME: creates a namespace removed on exit, with loopback up.
netns_add() {
	ip netns add "$1" || return 1
	on_exit "ip netns pids $1 | xargs -r kill -9; ip netns del $1"
	ip -n "$1" link set lo up
}

# veth_pair NS1 ADDR1 NS2 ADDR2: a veth from NS1 ($T_PREFIX-v1) to NS2
# ($T_PREFIX-v2), each end with its address (ADDR/LEN), both up.
veth_pair() {
	ip link add "$T_PREFIX-v1" netns "$1" type veth peer name "$T_PREFIX-v2" netns "$3" &&
		ip -n "$1" addr add "$2" dev "$T_PREFIX-v1" && ip -n "$3" addr add "$4" dev "$T_PREFIX-v2" &&
		ip -n "$1" link set "$T_PREFIX-v1" up && ip -n "$3" link set "$T_PREFIX-v2" up
}

# in_ns NS DIR CMD...: CMD in NS with DIR bind-mounted over /run/wireguard
# (in the private mount namespace of `ip netns exec`), so that every
# wireguard-go has a UAPI socket directory of its own.
in_ns() {
	local ns=$1 dir=$2; shift 2
	ip netns exec "$ns" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$dir" "$@"
}

# vm_results NAME RC CONSOLE ERR: prints the result lines of a hack/kernel-vm.sh
# run; when the VM could not run at all (exit 125), reports SKIP and exits.
vm_results() {
	local name=$1 rc=$2 console=$3 err=$4
	# The console may put terminal escapes before a line: take the line's tail.
	tr -d '\r' <"$console" | grep -oE '(PASS|FAIL|SKIP|REPORT): .*'
	if [ "$rc" -eq 125 ]; then
		skip "$name: the VM could not run ($(tail -1 "$err"))"
		exit 0
	fi
}
