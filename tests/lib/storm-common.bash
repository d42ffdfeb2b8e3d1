# SPDX-License-Identifier: MIT
# storm-common.bash - sourced by storm.sh and short-tokens.sh (not a test).
# Needs: T (the run directory), TOKEN (the token file), PROCS, and the
# stack's environment (CA_FILE, TEST_STATS_URL, TEST_RESET_STATS_URL,
# TEST_REVOKE_AT_URL).
#   ok_count / err_count   refresh_token grants answered ok / refused
#   reset_stats            zero the provider's counters
#   expire                 the access token on disk: expired, and dead at
#                          the server
#   storm NAME CMD...      PROCS copies of CMD released at once; outputs in
#                          $T/NAME/, the wall time in STORM_MS; each copy
#                          has its number (1..PROCS) in $STORM_I
stats() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL"; }
ok_count() { stats | jq -r '.refresh_token.ok // 0'; }
err_count() { stats | jq -r '.refresh_token.error // 0'; }
reset_stats() { curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null; }
# expire - the access token on disk is past its expiry and dead at the server
expire() {
	local at
	at=$(jq -r '.access_token // empty' "$TOKEN")
	# The token goes through a pipe, never on a command line.
	[ -n "$at" ] && printf 'token=%s' "$at" | curl -s --cacert "$CA_FILE" --data-binary @- \
		"$TEST_REVOKE_AT_URL" >/dev/null
	jq '.expiry = "1"' "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"
	rm -f "$T/edit.json"
}
# storm NAME CMD... - run PROCS copies of CMD, all released at once; outputs in $T/NAME/
storm() {
	local name=$1 i t0
	shift
	mkdir -p "$T/$name"
	exec 9>"$T/gate"
	flock -x 9
	for ((i = 1; i <= PROCS; i++)); do
		STORM_I=$i flock -s "$T/gate" "$@" </dev/null >"$T/$name/out.$i" 2>"$T/$name/err.$i" 9>&- &
	done
	sleep 1			# every process is now waiting at the gate
	t0=${EPOCHREALTIME/./}
	flock -u 9
	exec 9>&-
	wait
	STORM_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}
