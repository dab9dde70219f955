#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every benchmark: bench/bench_*.sh scripts and the C programs built
# from bench/bench_*.c (into build/bench/). Each prints its own figures and
# its ratio against the reference tool measured in the same run.
# Usage: bench/run.sh [pattern]
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
status=0
for b in bench/bench_*.sh build/bench/bench_*; do
	case "$b" in *.sh) [ -f "$b" ] ;; *) [ -x "$b" ] && [ -f "$b" ] ;; esac || continue
	case "$b" in *"$pattern"*) ;; *) continue ;; esac
	echo "=== $(basename "$b")"
	case "$b" in
	*.sh) bash "$b" || status=1 ;;
	*) "$b" || status=1 ;;
	esac
done
exit $status
