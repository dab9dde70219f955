#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every libFuzzer harness (build/fuzz/fuzz_*, `make fuzz-build`) for
# SECONDS each, starting from its seed corpus fuzz/corpus/NAME/. New inputs
# go to build/fuzz/corpus/NAME (the committed seeds stay as they are); a
# crash leaves build/fuzz/crash-NAME-* and fails the run.
# Usage: fuzz/run.sh [SECONDS] [NAME-PATTERN]
set -u
cd "$(dirname "$0")/.." || exit 1
seconds=${1:-60}
pattern=${2:-}
failed=0
for bin in build/fuzz/fuzz_*; do
	[ -x "$bin" ] && [ -f "$bin" ] || continue
	name=$(basename "$bin")
	case "$name" in *.d) continue ;; *"$pattern"*) ;; *) continue ;; esac
	work=build/fuzz/corpus/$name
	log=build/fuzz/$name.log
	mkdir -p "$work"
	# ASan's leak check at exit catches leaks only the parser's error paths make.
	if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -max_len=65536 \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="build/fuzz/crash-$name-" "$work" "fuzz/corpus/$name" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "PASS: $name (${runs:-?} runs in ${seconds}s)"
	else
		echo "FAIL: $name (see $log)"
		grep -E 'ERROR: |SUMMARY: |property failed|Test unit written' "$log" | head -8 | sed 's/^/    /'
		failed=1
	fi
done
exit "$failed"
