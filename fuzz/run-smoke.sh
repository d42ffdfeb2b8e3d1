#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz/run-smoke.sh DIR - build the libFuzzer targets with clang in DIR (out
# of tree) and run each on its seed corpus and dictionary for a short while.
#
# By default the run is deterministic: a fixed seed (-seed=1) and a fixed
# number of inputs per target (-runs=FUZZ_RUNS) from a fresh work corpus plus
# the seeds in the tree, with address-space randomisation off (setarch -R),
# so CI executes the same inputs every time and a result repeats.  Long random runs are bench/fuzz.sh's (FUZZ_RANDOM=1).
#
#   DIR             build directory (created; configured once with
#                   CC=clang --with-fuzzer=clang --enable-sanitizers)
#
# Every fuzz/fuzz-NAME.c is a target; its seeds are fuzz/corpus/NAME/ and its
# dictionary fuzz/NAME.dict.  The objects, the core library included, are
# compiled with -fsanitize=fuzzer-no-link (coverage feedback from the parsers
# themselves) plus ASan and UBSan; the targets link -fsanitize=fuzzer.
#
# TAP: one "ok" per target, with "# NAME: execs N, crashes N"; "not ok" and a
# nonzero exit when a target crashed (ASan/UBSan report, abort() from a
# contract check, leak, timeout), failed to build, or ran nothing.  The
# input that crashed is kept in DIR/artifacts/ and the line to reproduce it
# is printed; add it to fuzz/corpus/NAME/ as regress-*.* once fixed.
#
# Environment:
#   FUZZ_RUNS=60000     inputs per target (deterministic mode)
#   FUZZ_SEED=1         libFuzzer's -seed (deterministic mode)
#   FUZZ_RANDOM=1       time-bound random runs instead (bench/fuzz.sh)
#   FUZZ_SECONDS=15     time per target (FUZZ_RANDOM=1); in deterministic
#                       mode a cap of 8x this, reported as a failure
#   FUZZ_BUDGET=100     time for all targets together (0: no limit); the
#                       time per target shrinks to fit, never below 5 s
#   FUZZ_TARGETS="a b"  only these targets (names without "fuzz-")
#   FUZZ_CORPUS_DIR=D   keep each target's grown corpus in D/NAME (bench)
#   FUZZ_JOBS=1         targets fuzzed at the same time (bench)
#   FUZZ_OOM=1          passed through: fuzz-config's out-of-memory mode
#   CC=clang            the compiler
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
[ $# -eq 1 ] || { echo "usage: fuzz/run-smoke.sh BUILD-DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir" || exit 2
dir=$(cd "$dir" && pwd)
seconds=${FUZZ_SECONDS:-15}
budget=${FUZZ_BUDGET:-100}
jobs=${FUZZ_JOBS:-1}
runs=${FUZZ_RUNS:-60000}
seed=${FUZZ_SEED:-1}
random=${FUZZ_RANDOM:-0}
cc=${CC:-clang}
n=0
failed=0

say() { echo "$@"; }

# --- which targets ---
names=()
for src in "$top"/fuzz/fuzz-*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	name=${name#fuzz-}
	if [ -n "${FUZZ_TARGETS:-}" ] && ! [[ " $FUZZ_TARGETS " == *" $name "* ]]; then
		continue
	fi
	names+=("$name")
done
if [ ${#names[@]} -eq 0 ]; then
	say "1..0 # SKIP no fuzz targets"
	exit 0
fi
if ! command -v "$cc" >/dev/null 2>&1; then
	say "1..0 # SKIP $cc not found (apt-get install clang libclang-rt-14-dev)"
	exit 0
fi

# --- configure once, build the targets ---
t0=$SECONDS
if [ ! -f "$dir/config.status" ]; then
	if ! (cd "$dir" && "$top/configure" CC="$cc" --with-fuzzer=clang \
		--enable-sanitizers >"$dir/configure.log" 2>&1); then
		say "not ok 1 - configure CC=$cc --with-fuzzer=clang in $dir"
		tail -5 "$dir/configure.log" | sed 's/^/# /'
		say "1..1"
		exit 1
	fi
fi
fuzz_cflags="-g -O1 -gdwarf-4 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
declare -A built
for name in "${names[@]}"; do
	if make -C "$dir" -j"$(nproc 2>/dev/null || echo 2)" CFLAGS="$fuzz_cflags" \
	    "fuzz/fuzz-$name" >"$dir/build-$name.log" 2>&1; then
		built[$name]=1
	elif grep -q "No rule to make target" "$dir/build-$name.log"; then
		built[$name]=norule
	else
		built[$name]=0
	fi
done
say "# built in $((SECONDS - t0)) s with $cc ($($cc --version | head -1))"

# --- time per target ---
count=${#names[@]}
if [ "$budget" -gt 0 ]; then
	per=$(( budget * jobs / count ))
	[ "$per" -lt "$seconds" ] && seconds=$per
	[ "$seconds" -lt 5 ] && seconds=5
fi

# Deterministic mode also turns address-space randomisation off for the
# targets: the coverage instrumentation records compared values, pointers
# among them, so with ASLR the same seed grows a different corpus each run.
norand=
if [ "$random" != 1 ]; then
	if setarch "$(uname -m)" -R true 2>/dev/null; then
		norand="setarch $(uname -m) -R"
	else
		say "# setarch -R refused here: the runs repeat their inputs only up to ASLR"
	fi
fi

mkdir -p "$dir/artifacts" "$dir/run"
# fuzz_one NAME - run one target; writes $dir/run/NAME.{log,result}
fuzz_one() {
	local name=$1 bin="$dir/fuzz/fuzz-$name" seeds="$top/fuzz/corpus/$name"
	local dict="$top/fuzz/$name.dict" work args=() rc execs crashes
	if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
		work="$FUZZ_CORPUS_DIR/$name"
	else
		work="$dir/run/corpus-$name"
		rm -rf "$work"
	fi
	mkdir -p "$work"
	rm -f "$dir/artifacts/$name-"*
	[ -f "$dict" ] && args+=("-dict=$dict")
	[ -d "$seeds" ] || seeds=
	# The first corpus directory receives new inputs: never the tree.
	if [ "$random" = 1 ]; then
		args+=("-max_total_time=$seconds")
	else
		# The cap only guards against a hang; reaching it fails the run.
		# -reload=0: libFuzzer re-reads its corpus every second by
		# default, which makes the inputs depend on the clock.
		args+=("-seed=$seed" "-runs=$runs" "-reload=0"
			"-max_total_time=$((seconds * 8))")
	fi
	$norand "$bin" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-" \
		"${args[@]}" "$work" ${seeds:+"$seeds"} >"$dir/run/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/run/$name.log" | tail -1)
	crashes=$(find "$dir/artifacts" -name "$name-*" -type f | wc -l)
	echo "$rc ${execs:-0} $crashes $(find "$work" -type f | wc -l)" >"$dir/run/$name.result"
}

runnable=()
for name in "${names[@]}"; do
	[ "${built[$name]}" = 1 ] && runnable+=("$name")
done
running=0
for name in "${runnable[@]}"; do
	fuzz_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

total_execs=0
total_crashes=0
for name in "${names[@]}"; do
	n=$((n + 1))
	case ${built[$name]} in
	norule)
		say "ok $n - fuzz-$name # SKIP not in Makefile.am yet (FUZZ_TARGETS)"
		continue ;;
	0)
		say "not ok $n - fuzz-$name builds"
		grep -E "error" "$dir/build-$name.log" | head -5 | sed 's/^/# /'
		failed=$((failed + 1))
		continue ;;
	esac
	read -r rc execs crashes corpus <"$dir/run/$name.result"
	total_execs=$((total_execs + execs))
	total_crashes=$((total_crashes + crashes))
	if [ "$random" = 1 ]; then
		what="${seconds} s on its seeds and dictionary"
		enough=$([ "$execs" -gt 0 ] && echo 1 || echo 0)
	else
		what="$runs inputs, -seed=$seed, on its seeds and dictionary"
		# libFuzzer counts the seeds it loads too: at least the runs asked.
		enough=$([ "$execs" -ge "$runs" ] && echo 1 || echo 0)
	fi
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] && [ "$enough" = 1 ]; then
		say "ok $n - fuzz-$name: $what"
	else
		say "not ok $n - fuzz-$name: $what (exit $rc, execs $execs)"
		failed=$((failed + 1))
		grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$dir/run/$name.log" \
			| head -5 | sed 's/^/# /'
		for a in "$dir/artifacts/$name-"*; do
			[ -f "$a" ] && say "# reproduce: $dir/fuzz/fuzz-$name $a"
		done
	fi
	say "# $name: execs $execs, crashes $crashes, corpus $corpus"
done
say "# all targets: execs $total_execs, crashes $total_crashes"
say "1..$n"
[ "$failed" -eq 0 ]
