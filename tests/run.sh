#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every unit test binary (cmocka) and every integration script, counts
# individual test cases and ends with one line: "N passed, N failed".
# Integration scripts report each case as a line "PASS: name" or "FAIL: name"
# (tests/integration/lib.sh); a script that exits non-zero without reporting a
# failure counts as one failure. Usage: tests/run.sh [pattern]
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
passed=0 failed=0 skipped=0
failures=()
logdir=build/test-logs
mkdir -p "$logdir"

count_cmocka() { # log -> "passed failed"
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	echo "${p:-0} ${f:-0}"
}

run_unit() {
	local bin=$1 name log rc p f
	name=$(basename "$bin")
	log=$logdir/unit-$name.log
	timeout 300 "$bin" >"$log" 2>&1
	rc=$?
	read -r p f < <(count_cmocka "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f))
	printf '%-40s %3d passed %3d failed\n' "unit/$name" "$p" "$f"
	if [ "$f" -ne 0 ]; then failures+=("unit/$name (see $log)"); grep -E '^\[  (FAILED|ERROR) \]|ERROR|Sanitizer' "$log" | head -20; fi
}

run_script() {
	local script=$1 name log rc p f s
	name=$(basename "$script" .sh)
	log=$logdir/integration-$name.log
	timeout "${SKEIN_TEST_TIMEOUT:-900}" bash "$script" >"$log" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^PASS: ' "$log"); f=$(grep -c '^FAIL: ' "$log"); s=$(grep -c '^SKIP: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name exited $rc" >>"$log"; fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-40s %3d passed %3d failed %3d skipped\n' "integration/$name" "$p" "$f" "$s"
	if [ "$f" -ne 0 ]; then failures+=("integration/$name (see $log)"); grep -E '^FAIL: ' "$log" | head -20; fi
	grep -E '^(SKIP|REPORT): ' "$log" | sed 's/^/    /'
}

for bin in build/tests/test_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *"$pattern"*) run_unit "$bin" ;; esac
done
for script in tests/integration/test_*.sh; do
	[ -f "$script" ] || continue
	case "$script" in *"$pattern"*) run_script "$script" ;; esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"; printf '  %s\n' "${failures[@]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
