#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every libFuzzer harness (fuzz/fuzz_*.c) runs briefly from its seed corpus,
# so a parser regression (crash, sanitizer report, leak, broken round trip)
# surfaces in `make test`. Longer runs: `make fuzz FUZZ_SECONDS=600`.
# FUZZ_SMOKE_SECONDS (default 3) is the time per harness.
source "$(dirname "$0")/lib.sh"
cd "$SKEIN_ROOT" || exit 1

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	skip "fuzz smoke (no clang)"
	exit 0
fi
if ! make -s fuzz-build >build/fuzz-build.log 2>&1; then
	fail "fuzz harnesses build (see build/fuzz-build.log)"
	exit 1
fi
expected=$(find fuzz -maxdepth 1 -name 'fuzz_*.c' | wc -l)
built=$(find build/fuzz -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | wc -l)
check "every harness built ($built of $expected)" test "$built" -eq "$expected"
fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-3}"
