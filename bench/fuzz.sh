#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/fuzz.sh [DIR] - the long form of the fuzz smoke run: every libFuzzer
# target for 10 minutes on its seeds and dictionary, printing execs and
# crashes per target.
#
#   DIR   build directory (default _build-bench/fuzz); the grown corpora are
#         kept in DIR/corpus/NAME and reused by the next run (copy the
#         interesting ones into fuzz/corpus/NAME/ by hand).
#
# Environment: FUZZ_SECONDS (default 600 per target), FUZZ_JOBS (targets at
# the same time, default 1: the machine's other users), FUZZ_TARGETS, FUZZ_OOM
# (see fuzz/run-smoke.sh, which does the work).
#
# Prints the TAP of fuzz/run-smoke.sh, then one line per target
#   fuzz NAME: execs N, crashes N, exec/s N, corpus N
# and exits nonzero when any target crashed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/_build-bench/fuzz}
mkdir -p "$dir/corpus"
dir=$(cd "$dir" && pwd)
seconds=${FUZZ_SECONDS:-600}

out=$(FUZZ_RANDOM=1 FUZZ_SECONDS=$seconds FUZZ_BUDGET=0 FUZZ_CORPUS_DIR="$dir/corpus" \
	bash "$top/fuzz/run-smoke.sh" "$dir")
rc=$?
printf '%s\n' "$out"
echo
echo "fuzz bench: $seconds s per target, $(date -u +%Y-%m-%dT%H:%MZ), $(clang --version | head -1)"
printf '%s\n' "$out" | sed -n 's/^# \([a-z0-9_-]*\): execs \([0-9]*\), crashes \([0-9]*\), corpus \([0-9]*\), \([0-9]*\) s$/\1 \2 \3 \4 \5/p' |
while read -r name execs crashes corpus secs; do
	printf 'fuzz %-10s execs %10d, crashes %d, exec/s %7d, corpus %d\n' \
		"$name:" "$execs" "$crashes" $((execs / (secs > 0 ? secs : 1))) "$corpus"
done
printf '%s\n' "$out" | sed -n 's/^# all targets: /fuzz total:      /p'
exit $rc
