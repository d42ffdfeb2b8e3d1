#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crash consistency, long form (issue 3, item 1): tests/e2e/crash.sh with
# 1,000 trials per group (TRIALS), i.e. 100 kills at each step per group and
# 600 at random moments.  TAP; prints per group
#   crash trials: N, corrupt: N, lost: N, reply-to-rename window: N µs
# Takes about 10 minutes.  Env: TRIALS (1000), SEED, SLOW_MS, BUILD, KEEP=1.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
TRIALS=${TRIALS:-1000} exec bash "$top/tests/e2e/crash.sh"
