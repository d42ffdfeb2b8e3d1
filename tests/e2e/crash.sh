#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Crash consistency of the refresh (issue 3, item 1; issue 11, item 2).  TAP.
#
# Each trial runs one forced refresh in a short-lived process and kills it:
# at each step and at random moments (fixed SEED: the same kills every run).
# The save is in two halves (oa2_toksave(3)): the temporary file is made
# (created, locked, 0600, owner) before the request; after the reply the
# document is written and renamed over the token file; with rotation the
# fsync follows the rename, without it precedes it.  From the request to the
# end of the save TERM, INT, HUP and QUIT are held.
#
# After every kill: the file parses (jq and our own loader), its mode is 0600
# and its owner nobody:nogroup, it is byte-identical when no rename happened
# and holds the new refresh token when one did, a temporary file is left only
# by a kill between the temporary file's creation and the rename, and a
# refresh with what is on disk still works, or the grant is counted lost.
# The stray temporary file check is done after the next save: a killed
# writer's temporary file may exist until a later save finds it stale.
#
#   A. tests/crash-refresh (oa2_access_token() as the plugin calls it)
#      against our fault server as a slow (SLOW_MS) endpoint that does not
#      rotate (Google) or rotates without revoking on reuse (Microsoft):
#      0 losses.
#   B. the same against the real oidc-provider (rotation + reuse detection
#      revokes the grant): losses are counted and each must fall between the
#      server's commit of the rotation and the rename; every kill there must
#      lose, a kill at the fsync (now after the rename) must not.
#   P. the plugin's own path: tests/sasl-driver (libsasl2 loading the built
#      plugin) with tests/lib/crash-watch.so (LD_PRELOAD) killing at an event
#      (prepared, writing, written, renamed, synced) or at a random moment,
#      against oidc-provider: the same checks; the reply-to-rename window of
#      the unkilled refreshes is printed.
#   S. termination signals through the plugin: TERM before the request ends
#      the process with the grant unused; TERM in the window (at writing,
#      written, renamed, or at random moments) is deferred until the new file
#      is in place; no grant is lost.
#
# Prints per group: crash trials: N, corrupt: N, lost: N, reply-to-rename
# window: N µs (median of the unkilled refreshes; from the first reply byte to
# the rename's return).
# Env: TRIALS per group A and B (50; bench/crash.sh: 1000), P_TRIALS (40% of
# TRIALS), S_RANDOM (10% of TRIALS), SEED (20261206), SLOW_MS (100), BUILD,
# KEEP=1 keeps the run directory, PORT_OFFSET (20000).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
. "$top/tests/fault-server/fault-server.bash"
BUILD=${BUILD:-$top/_build-test/gcc}
TRIALS=${TRIALS:-50}
SEED=${SEED:-20261206}
SLOW_MS=${SLOW_MS:-100}
export PORT_OFFSET=${PORT_OFFSET:-20000}
T=$(mktemp -d /tmp/oa2-crash.XXXXXX)
chmod 755 "$T"

cleanup() {
	fs_stop
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# --- the helper: built by make (tests/crash-refresh) or here, by hand ---
HELPER=$BUILD/tests/crash-refresh
if [ ! -x "$HELPER" ]; then
	HELPER=$T/crash-refresh
	# shellcheck disable=SC2046
	if ! cc -std=gnu11 -O2 -Wall -I"$BUILD" -I"$top/lib" $(pkg-config --cflags libcurl jansson) \
		-o "$HELPER" "$top/tests/lib/crash-refresh.c" "$BUILD/lib/.libs/liboa2.a" \
		$(pkg-config --libs libcurl jansson) -Wl,--wrap=curl_easy_perform >"$T/cc.log" 2>&1; then
		_tap 1 "crash-refresh helper builds"; sed 's/^/# /' "$T/cc.log" | head
		done_testing; exit 1
	fi
fi

if ! bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts"; sed 's/^/# /' "$T/stack-start.log" | tail -20
	done_testing; exit 1
fi
. "$T/stack/stack.env"
if ! fs_start "$T/fs" --cert "$SERVER_CERT" --key "$STACK_DIR/pki/server.key"; then
	_tap 1 "fault server starts"; sed 's/^/# /' "$T/fs/server.out" | tail
	done_testing; exit 1
fi
_tap 0 "oidc-provider stack and fault server are up (seed $SEED, $TRIALS trials per group)"

TOKDIR=$T/tok
mkdir "$TOKDIR"
chown nobody:nogroup "$TOKDIR"
chmod 700 "$TOKDIR"
TOKEN=$TOKDIR/token.json

# run_helper ARGS... - run the helper once; its fields become R_<name>
run_helper() {
	local line head kv
	line=$("$HELPER" "$@" "$TOKEN" 2>>"$T/helper.err")
	head=${line%% msg=*}
	R_msg=${line#* msg=}
	for kv in $head; do
		printf -v "R_${kv%%=*}" '%s' "${kv#*=}"
	done
}

# put_token JSON - a new token file as an admin writes it: nobody's, 0600
put_token() {
	printf '%s\n' "$1" >"$TOKEN"
	chown nobody:nogroup "$TOKEN"
	chmod 600 "$TOKEN"
}

ntmp() { find "$TOKDIR" -maxdepth 1 -name 'token.json.tmp.*' | wc -l; }
tmp_modes_ok() { [ -z "$(find "$TOKDIR" -maxdepth 1 -name 'token.json.tmp.*' ! -perm 600)" ]; }
rt_of() { jq -r '.refresh_token // empty' "$TOKEN" 2>/dev/null; }
at_of() { jq -r '.access_token // empty' "$TOKEN" 2>/dev/null; }
sha() { sha256sum "$TOKEN" | cut -d' ' -f1; }
h16() { printf '%s' "$1" | sha256sum | cut -c1-16; }
idp_counts() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" |
	jq -r '"\(.refresh_token.ok // 0) \(.refresh_token.error // 0)"'; }

# stats FILE [COLUMN] - "median p90 max" of the numbers in COLUMN (1) of FILE
stats() {
	awk -v c="${2:-1}" '{print $c}' "$1" | sort -n | awk '{v[NR]=$1} END { if (NR == 0) { print "- - -"; exit }
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]; print m, p, v[NR] }'
}

STEPS="replied written synced renamed"
STEP_LIST=($STEPS)

# run_group NAME - the trials of one group; uses the group's hooks:
#   conf_trial I / conf_recover I  config file for the killed / recovery run
#   reseed                          make a fresh token file (new grant)
#   check_new                       after a renamed trial: is it the new token?
#   committed_wait                  group B: did the server commit the rotation?
run_group() {
	local g=$1 i step kspec user killus sha_before rt_before at_before
	local corrupt=0 badmode=0 badowner=0 wrong=0 tmpbad=0 tmpleft=0 lost=0
	local steplost=0 inwin=0 after_reply=0 at_server=0 unexplained=0 unstamped=0
	local survived=0 stepbad=0 randkills=0 randinwin=0 lost_random=0 committed
	local tmps_before n d unprepared=0
	: >"$T/windows-$g"

	# Calibrate: unkilled refreshes, how long one takes (median: one slow
	# outlier must not push the random kills past the end of most runs).
	: >"$T/durations-$g"
	for i in 1 2 3 4 5; do
		run_helper -c "$(conf_trial 0)"
		[ "$R_outcome" = ok ] && echo "$R_done" >>"$T/durations-$g"
		record_window
	done
	is "$(wc -l <"$T/durations-$g")" 5 "$g: 5 unkilled refreshes through the trial endpoint succeed"
	read -r d _ _ < <(stats "$T/durations-$g")
	RANDMAX=$((d * 3 / 2))
	echo "# $g: an unkilled refresh takes $d µs (median of 5); random kills fall in [0, $RANDMAX) µs"

	nstep=$((TRIALS / 10)); [ "$nstep" -lt 1 ] && nstep=1
	for ((i = 1; i <= TRIALS; i++)); do
		step=""
		if [ "$i" -le $((4 * nstep)) ]; then
			step=${STEP_LIST[(i - 1) / nstep]}
			kspec=(-k "$step")
		else
			kspec=(-r "$RANDMAX" -S $((SEED + i)))
			randkills=$((randkills + 1))
		fi
		user=(); [ $((i % 2)) = 0 ] && user=(-u nobody)
		sha_before=$(sha); rt_before=$(rt_of); at_before=$(at_of)
		tmps_before=$(ntmp)
		read -r C_OK C_ERR < <(group_counts)

		run_helper -c "$(conf_trial "$i")" "${user[@]}" "${kspec[@]}"
		# A kill between rename() and the hook's time stamp: the file is
		# new, the stamp missing.  What is on disk decides, and it must
		# then be a whole new document holding the new token.
		if [ "$R_renamed" -lt 0 ] && [ "$(sha)" != "$sha_before" ]; then
			unstamped=$((unstamped + 1)); R_renamed=$R_kill
			echo "# $g trial $i: killed at $R_kill µs between rename() and its time stamp"
		fi
		KILL_RENAMED=$R_renamed KILL_FIRST=$R_first KILL_SENT=$R_sent
		killus=$R_kill
		[ -n "$step" ] && eval "killus=\$R_$step"
		if [ -n "$step" ] && { [ "$R_outcome" != killed ] || [ "$killus" -lt 0 ]; }; then
			stepbad=$((stepbad + 1))
			echo "# $g trial $i: the kill at $step did not happen: $R_outcome $R_code $R_msg"
		fi

		# The file after the kill.
		if ! jq -e '.refresh_token | type == "string" and length > 0' "$TOKEN" >/dev/null 2>&1 ||
			[ "$("$HELPER" -l "$TOKEN" | cut -d' ' -f1)" != status=ok ]; then
			corrupt=$((corrupt + 1)); echo "# $g trial $i: the token file does not load"
		fi
		[ "$(stat -c %a "$TOKEN")" = 600 ] || { badmode=$((badmode + 1)); echo "# $g trial $i: mode $(stat -c %a "$TOKEN")"; }
		[ "$(stat -c %U:%G "$TOKEN")" = nobody:nogroup ] || { badowner=$((badowner + 1)); echo "# $g trial $i: owner $(stat -c %U:%G "$TOKEN")"; }
		if [ "$R_renamed" -lt 0 ]; then
			[ "$(sha)" = "$sha_before" ] || { wrong=$((wrong + 1)); corrupt=$((corrupt + 1))
				echo "# $g trial $i: no rename, yet the file changed"; }
		elif ! check_new "$rt_before" "$at_before"; then
			wrong=$((wrong + 1)); corrupt=$((corrupt + 1))
			echo "# $g trial $i: renamed, but the file does not hold the new token"
		fi
		n=$(ntmp)
		if [ "$n" -gt "$tmps_before" ]; then
			tmpleft=$((tmpleft + n - tmps_before))
			# A kill between mkostemp() and the "prepared" stamp (after
			# chmod, chown) leaves a file with no stamp: then the request
			# must not have started either.
			if [ "$R_prepared" -lt 0 ] && [ "$R_kill" -ge 0 ] && [ "$R_perform" -lt 0 ] &&
				[ "$R_renamed" -lt 0 ]; then
				unprepared=$((unprepared + 1))
				echo "# $g trial $i: killed at $R_kill µs between mkostemp() and its time stamp"
			elif ! [ "$R_prepared" -ge 0 ] || [ "$R_renamed" -ge 0 ]; then
				tmpbad=$((tmpbad + 1)); echo "# $g trial $i: a temporary file left by a kill outside prepare..rename"
			fi
		fi
		tmp_modes_ok || { tmpbad=$((tmpbad + 1)); echo "# $g trial $i: a temporary file wider than 0600"; }

		# Did the server commit this request?  (group B counts; A does not care)
		committed_wait
		committed=$COMMITTED

		# Recovery: a refresh with what is on disk.
		run_helper -c "$(conf_recover "$i")"
		if [ "$R_outcome" = ok ]; then
			record_window
			[ "$committed" = 1 ] && [ "$KILL_RENAMED" -lt 0 ] && survived=$((survived + 1))
		else
			lost=$((lost + 1))
			echo "# $g trial $i: lost (${step:-random kill at $killus µs}): $R_code; committed=$committed"
			if [ "$committed" = 1 ] && [ "$KILL_RENAMED" -lt 0 ]; then
				inwin=$((inwin + 1))
				if [ "$KILL_FIRST" -ge 0 ] && [ "$killus" -ge "$KILL_FIRST" ]; then
					after_reply=$((after_reply + 1))
				else
					at_server=$((at_server + 1))
				fi
			else
				unexplained=$((unexplained + 1))
			fi
			if [ -n "$step" ]; then steplost=$((steplost + 1)); else lost_random=$((lost_random + 1)); fi
			reseed
		fi
		[ -z "$step" ] && [ "$committed" = 1 ] && [ "$KILL_RENAMED" -lt 0 ] && randinwin=$((randinwin + 1))
	done

	# Leftover temporary files: the next save removes them once stale.
	if [ "$(ntmp)" -gt 0 ]; then
		find "$TOKDIR" -maxdepth 1 -name 'token.json.tmp.*' -exec touch -d '-2 min' {} +
	fi
	run_helper -c "$(conf_recover 0)"
	is "$R_outcome $(ntmp)" "ok 0" "$g: $tmpleft temporary files left by kills; the next refresh removes them once stale"

	is "$corrupt" 0 "$g: after each of $TRIALS kills the file parses (jq, oa2_token_load) and holds the old or the new token"
	is "$wrong" 0 "$g: byte-identical when no rename happened, the new token when it did"
	is "$badmode" 0 "$g: mode 0600 after every kill"
	is "$badowner" 0 "$g: owner nobody:nogroup kept after every kill (helper as root and as nobody)"
	is "$tmpbad" 0 "$g: temporary files only from kills between the temporary file's creation (before the request) and the rename, never wider than 0600"
	is "$stepbad" 0 "$g: every step kill (${STEPS// /, }) happened at its step"
	read -r wmed wp90 wmax < <(stats "$T/windows-$g")
	group_verdict
	echo "# crash trials: $TRIALS, corrupt: $corrupt, lost: $lost, reply-to-rename window: $wmed µs ($GROUP_LABEL)"
	echo "#   reply-to-rename window over $(wc -l <"$T/windows-$g") unkilled refreshes: median $wmed," \
		"p90 $wp90, max $wmax µs; of it (medians): reply to temp file written $(stats "$T/windows-$g" 2 | cut -d' ' -f1)," \
		"temp file written to rename $(stats "$T/windows-$g" 3 | cut -d' ' -f1), request sent to rename $(stats "$T/windows-$g" 4 | cut -d' ' -f1) µs;" \
		"temporary files left by kills: $tmpleft; kills between rename() and its time stamp: $unstamped," \
		"between mkostemp() and its time stamp: $unprepared"
	TOTAL_TRIALS=$((TOTAL_TRIALS + TRIALS)); TOTAL_CORRUPT=$((TOTAL_CORRUPT + corrupt)); TOTAL_LOST=$((TOTAL_LOST + lost))
}
TOTAL_TRIALS=0 TOTAL_CORRUPT=0 TOTAL_LOST=0

# record_window - an unkilled refresh's window and its parts, from R_*
record_window() {
	[ "$R_window" -ge 0 ] 2>/dev/null || return 0
	echo "$R_window $((R_written - R_first)) $((R_renamed - R_written)) $((R_renamed - R_sent))" >>"$T/windows-$g"
}

# Group hooks with no work to do in group A.
group_counts() { echo 0 0; }

# ---------------------------------------------------------------- group A
CONF_DIR=$T/conf
mkdir "$CONF_DIR"
for mode in google ms; do
	for speed in slow fast; do
		flags=$mode; [ $speed = slow ] && flags="$mode,delay=$SLOW_MS"
		jq -n --arg ep "$(fs_url "$flags")" --arg ca "$CA_FILE" \
			'{token_endpoint:$ep, ca_bundle_file:$ca, client_id:"crash-client",
			  connect_timeout:2, timeout:10, log_level:"warning"}' >"$CONF_DIR/$mode-$speed.json"
	done
done
chmod 644 "$CONF_DIR"/*.json
# Odd trials: Google (no rotation); even: Microsoft (rotation, old stays valid).
a_mode() { if [ $(($1 % 2)) = 1 ]; then echo google; else echo ms; fi; }
conf_trial() { echo "$CONF_DIR/$(a_mode "$1")-slow.json"; }
conf_recover() { echo "$CONF_DIR/$(a_mode "$1")-fast.json"; }
reseed() {
	# Secrets go through pipes, never on a command line.
	put_token "$(fs_grant "$CA_FILE" | jq -R --arg u "$TEST_USER" \
		'{refresh_token: ., user:$u, x_note:"kept"}')"
}
# check_new RT_BEFORE AT_BEFORE: Google keeps the refresh token and changes
# the access token; Microsoft's new refresh token is one the server issued.
check_new() {
	local rt at i
	rt=$(rt_of); at=$(at_of)
	[ -n "$at" ] && [ "$at" != "$2" ] || return 1
	[ "$rt" = "$1" ] && return 0
	for i in $(seq 50); do
		grep -q "\"rt_out\": \"$(h16 "$rt")\"" "$FS_STATE/requests.log" && return 0
		sleep 0.02
	done
	return 1
}
committed_wait() { COMMITTED=0; }
group_verdict() {
	is "$lost" 0 "A: the refresh token on disk still works after every kill: 0 lost"
}
GROUP_LABEL="fault server, ${SLOW_MS} ms slow, Google-like no rotation and Microsoft-like rotation without reuse detection"
reseed
run_group A

# ---------------------------------------------------------------- group B
printf '{"connect_timeout": 2, "timeout": 10, "log_level": "warning"}\n' >"$CONF_DIR/oidc.json"
chmod 644 "$CONF_DIR/oidc.json"
conf_trial() { echo "$CONF_DIR/oidc.json"; }
conf_recover() { echo "$CONF_DIR/oidc.json"; }
RESEEDS=0
reseed() {
	local json
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>>"$T/consent.err")
	put_token "$({ printf '%s\n' "$json"; printf '{"client_secret":"%s"}\n' "$CLIENT_SECRET"; } |
		jq -s --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID" --arg u "$TEST_USER" \
		'.[0] + .[1] | {refresh_token, user:$u, token_endpoint:$ep, ca_bundle_file:$ca, client_id:$cid,
		  client_secret, client_auth:"basic", x_note:"kept"}')"
	RESEEDS=$((RESEEDS + 1))
}
check_new() { local rt; rt=$(rt_of); [ -n "$rt" ] && [ "$rt" != "$1" ]; }
group_counts() { idp_counts; }
# committed_wait: COMMITTED=1 if oidc-provider answered the killed request
# with a new token set (its refresh_token ok count went up).  A request that
# left before the kill is answered a few ms later: wait for it (up to 1 s).
committed_wait() {
	local ok err i
	for i in $(seq 50); do
		read -r ok err < <(idp_counts)
		[ $((ok + err)) -gt $((C_OK + C_ERR)) ] && break
		[ "$KILL_SENT" -lt 0 ] && break
		sleep 0.02
	done
	COMMITTED=0
	[ "$ok" -gt "$C_OK" ] && COMMITTED=1
}
group_verdict() {
	local nstep=$((TRIALS / 10)); [ "$nstep" -lt 1 ] && nstep=1
	is "$unexplained" 0 "B: every loss ($inwin of $lost) was a kill after the request left, whose rotation the server committed, before the rename"
	is "$survived" 0 "B: every kill between the commit and the rename lost the grant (strict rotation, reuse detection)"
	# With rotation the new file is renamed first and fsynced after: a kill
	# at "synced" comes after the rename and must not lose.
	is "$steplost" $((2 * nstep)) "B: kills after the reply and the temp write lose the grant; after the rename, and at the fsync that now follows it, none does"
	echo "#   B losses: $steplost by step kills (replied/written), $lost_random of $randkills random kills" \
		"($randinwin random kills fell in the window); $after_reply after the reply began to arrive," \
		"$at_server before the reply reached the process (the server commits the rotation anyway); $RESEEDS grants made"
}
GROUP_LABEL="oidc-provider, strict rotation with reuse detection"
reseed
run_group B

# ------------------------------------------------- groups P and S: the plugin
# The plugin's own path: tests/sasl-driver (a libsasl2 client that loads the
# built plugin, as Postfix's smtp does) starts XOAUTH2 with the token file's
# access token expired, so the plugin refreshes against oidc-provider (strict
# rotation, reuse detection).  tests/lib/crash-watch.so (LD_PRELOAD) times
# the reply's first byte and the rename, and raises a signal after an event:
# prepared (temporary file made, before the request), writing (reply in and
# parsed, before the write), written, renamed, synced (with rotation the
# fsync comes after the rename).
DRIVER=$BUILD/tests/sasl-driver
WATCH=$BUILD/tests/.libs/crash-watch.so
if [ ! -f "$WATCH" ]; then
	WATCH=$T/crash-watch.so
	cc -O2 -Wall -shared -fPIC -o "$WATCH" "$top/tests/lib/crash-watch.c" -ldl >>"$T/cc.log" 2>&1
fi
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
ok_cmd=0; [ -x "$DRIVER" ] && [ -f "$WATCH" ] || ok_cmd=1
_tap $ok_cmd "plugin path: sasl-driver, the built plugin and crash-watch.so are there"
P_TRIALS=${P_TRIALS:-$((TRIALS * 2 / 5))}
RANDOM=$SEED

# expire - the access token in the file expired (in place: owner and mode kept)
expire() { jq '.expiry = "0"' "$TOKEN" >"$T/t" && cat "$T/t" >"$TOKEN"; }
# drive [-t seconds] [CRASH_WATCH_AT=event CRASH_WATCH_SIG=sig] - one XOAUTH2
# start through the plugin (expire first to make it refresh); D_rc is the exit
# status (128+N: killed by signal N), D_ok 1 when the plugin produced the
# client's first message, D_win the reply-to-rename window (or -).
drive() {
	local to=()
	[ "${1:-}" = -t ] && { to=(timeout -s KILL "$2"); shift 2; }
	: >"$T/watch"
	env "$@" CRASH_WATCH_OUT="$T/watch" LD_PRELOAD="$WATCH" \
		SASL_OAUTH2_CONFIG="$CONF_DIR/oidc.json" \
		"${to[@]}" "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" \
		>"$T/drive.out" 2>>"$T/drive.err"
	D_rc=$?
	D_ok=0; grep -q '^start: another step is needed' "$T/drive.out" && D_ok=1
	D_win=$(sed -n 's/^window=\([0-9]*\) .*/\1/p' "$T/watch" | tail -1)
	D_win=${D_win:--}
}
# file_ok - the token file loads, is 0600 and nobody's
file_ok() {
	[ "$("$HELPER" -l "$TOKEN" | cut -d' ' -f1)" = status=ok ] &&
		[ "$(stat -c %a:%U "$TOKEN")" = 600:nobody ]
}
# sent_mark - "sent" when the killed process had begun its request
# (crash-watch notes its first socket write after the temporary file), else "no"
sent_mark() { if grep -q '^sent' "$T/watch"; then echo sent; else echo no; fi; }
# committed_since sent|no C_OK C_ERR - did oidc-provider commit a rotation
# since?  A request that left is answered within a few ms: wait for it (up
# to 1 s); with none sent, look once after 0.3 s (a request the process
# should not have sent would be answered by then).
committed_since() {
	local ok err i
	[ "$1" = sent ] || sleep 0.3
	for i in $(seq 50); do
		read -r ok err < <(idp_counts)
		[ $((ok + err)) -gt $(($2 + $3)) ] && break
		[ "$1" = sent ] || break
		sleep 0.02
	done
	[ "$ok" -gt "$2" ]
}

: >"$T/windows-P"
for i in 1 2 3; do
	expire; drive
	[ "$D_ok" = 1 ] && [ "$D_win" != - ] && echo "$D_win" >>"$T/windows-P"
done
is "$(wc -l <"$T/windows-P")" 3 "P: 3 unkilled refreshes through the plugin succeed, each timed"
d=$( { for i in 1 2 3; do expire; s0=$(date +%s%N); drive; echo $(( ($(date +%s%N) - s0) / 1000 )); done; } | sort -n | sed -n 2p)
RANDMAX=$((d * 3 / 2))
echo "# P: an unkilled XOAUTH2 start with a refresh takes $d µs (median of 3); random kills fall in [0, $RANDMAX) µs"

P_EVENTS="prepared writing written renamed synced"
pev=($P_EVENTS)
p_corrupt=0 p_wrong=0 p_lost=0 p_unexplained=0 p_steplost=0 p_stepsafe_lost=0 p_randkills=0 p_randlost=0
p_notkilled=0
for ((i = 1; i <= P_TRIALS; i++)); do
	expire
	sha_before=$(sha); rt_before=$(rt_of)
	read -r C_OK C_ERR < <(idp_counts)
	step=""
	if [ "$i" -le $((2 * ${#pev[@]})) ]; then
		step=${pev[(i - 1) % ${#pev[@]}]}
		drive CRASH_WATCH_AT="$step" CRASH_WATCH_SIG=KILL
		[ "$D_rc" = 137 ] || { p_notkilled=$((p_notkilled + 1)); echo "# P trial $i: not killed at $step (rc $D_rc)"; }
	else
		delay=$(( (RANDOM * 32768 + RANDOM) % RANDMAX ))
		p_randkills=$((p_randkills + 1))
		drive -t "$(awk -v u="$delay" 'BEGIN {printf "%.6f", u / 1e6}')"
	fi
	file_ok || { p_corrupt=$((p_corrupt + 1)); echo "# P trial $i: the token file does not load, or lost its mode or owner"; }
	renamed=0; [ "$(sha)" != "$sha_before" ] && renamed=1
	if [ "$renamed" = 1 ] && [ "$(rt_of)" = "$rt_before" ]; then
		p_wrong=$((p_wrong + 1)); echo "# P trial $i: the file changed but holds the old refresh token"
	fi
	committed=0; committed_since "$(sent_mark)" "$C_OK" "$C_ERR" && committed=1
	expire; drive
	if [ "$D_ok" = 1 ]; then
		[ "$D_win" != - ] && echo "$D_win" >>"$T/windows-P"
	else
		p_lost=$((p_lost + 1))
		echo "# P trial $i: lost (${step:-random kill at $delay µs}); committed=$committed renamed=$renamed"
		[ "$committed" = 1 ] && [ "$renamed" = 0 ] || p_unexplained=$((p_unexplained + 1))
		case $step in
		writing|written) p_steplost=$((p_steplost + 1)) ;;
		"") p_randlost=$((p_randlost + 1)) ;;
		*) p_stepsafe_lost=$((p_stepsafe_lost + 1)) ;;
		esac
		reseed
	fi
done
is "$p_notkilled" 0 "P: every step kill (${P_EVENTS// /, }) happened at its event"
is "$p_corrupt" 0 "P: after each of $P_TRIALS kills the file loads, mode 0600, owner kept"
is "$p_wrong" 0 "P: a file that changed holds the new refresh token"
is "$p_unexplained" 0 "P: every loss ($p_lost) was a kill after the server committed the rotation and before the rename"
is "$p_stepsafe_lost" 0 "P: kills before the request (prepared), after the rename and at the fsync after it lose nothing"
is "$p_steplost" 4 "P: kills between the reply and the rename (writing, written) lose the grant (strict rotation)"
# The stray-file check comes after the next save: a killed writer's
# temporary file stays until a save finds it older than 10 s and unlocked.
n=$(ntmp)
echo "# P: $n temporary files left by kills (a killed writer's temporary file stays until a later save finds it stale)"
find "$TOKDIR" -maxdepth 1 -name 'token.json.tmp.*' -exec touch -d '-2 min' {} +
expire; drive
is "$D_ok $(ntmp)" "1 0" "P: the next save through the plugin removes the stale temporary files ($n)"
read -r wmed wp90 wmax < <(stats "$T/windows-P")
echo "# crash trials: $P_TRIALS, corrupt: $p_corrupt, lost: $p_lost, reply-to-rename window: $wmed µs (plugin path, oidc-provider, strict rotation)"
echo "#   plugin path window over $(wc -l <"$T/windows-P") unkilled refreshes: median $wmed, p90 $wp90, max $wmax µs;" \
	"losses: $p_steplost by step kills (writing, written), $p_randlost of $p_randkills random kills"
TOTAL_TRIALS=$((TOTAL_TRIALS + P_TRIALS)); TOTAL_CORRUPT=$((TOTAL_CORRUPT + p_corrupt)); TOTAL_LOST=$((TOTAL_LOST + p_lost))

# Group S: termination signals.  postfix stop sends TERM; from the request to
# the end of the save the plugin holds TERM, INT, HUP and QUIT, so a TERM in
# the window is deferred (the process dies once the file is saved), and one
# before the request ends the process at once with the grant unused.
s_bad=0 s_trials=0 s_lost=0 s_early=0 s_deferred=0
s_check() {	# s_check LABEL EXPECT(early|deferred|either)
	local label=$1 want=$2 got
	s_trials=$((s_trials + 1))
	file_ok || { s_bad=$((s_bad + 1)); echo "# S $label: the token file does not load"; }
	if [ "$D_rc" = 143 ] && [ "$(sha)" = "$sha_before" ] && ! committed_since "$KSENT" "$C_OK" "$C_ERR"; then
		got=early
	elif [ "$D_rc" = 143 ] && [ "$(sha)" != "$sha_before" ] && [ "$(rt_of)" != "$rt_before" ] && [ "$D_win" != - ]; then
		got=deferred
	elif [ "$D_rc" = 0 ] && [ "$D_ok" = 1 ]; then
		got=finished	# the TERM came after the process was done
	else
		got="rc=$D_rc renamed=$([ "$(sha)" != "$sha_before" ] && echo 1 || echo 0)"
	fi
	case $want:$got in
	early:early|deferred:deferred|either:early|either:deferred|either:finished) ;;
	*) s_bad=$((s_bad + 1)); echo "# S $label: expected $want, got $got" ;;
	esac
	[ "$got" = early ] && s_early=$((s_early + 1))
	[ "$got" = deferred ] && s_deferred=$((s_deferred + 1))
	expire; drive
	if [ "$D_ok" != 1 ]; then
		s_lost=$((s_lost + 1)); echo "# S $label: the grant is lost"; reseed
	fi
}
for ev in prepared writing written renamed; do
	expire
	sha_before=$(sha); rt_before=$(rt_of)
	read -r C_OK C_ERR < <(idp_counts)
	drive CRASH_WATCH_AT="$ev" CRASH_WATCH_SIG=TERM
	KSENT=$(sent_mark)
	if [ "$ev" = prepared ]; then s_check "TERM at $ev" early; else s_check "TERM at $ev" deferred; fi
done
S_RANDOM=${S_RANDOM:-$((TRIALS / 10))}
for ((i = 1; i <= S_RANDOM; i++)); do
	expire
	sha_before=$(sha); rt_before=$(rt_of)
	read -r C_OK C_ERR < <(idp_counts)
	delay=$(( (RANDOM * 32768 + RANDOM) % RANDMAX ))
	: >"$T/watch"
	CRASH_WATCH_OUT="$T/watch" LD_PRELOAD="$WATCH" SASL_OAUTH2_CONFIG="$CONF_DIR/oidc.json" \
		timeout -s TERM "$(awk -v u="$delay" 'BEGIN {printf "%.6f", u / 1e6}')" \
		"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" >"$T/drive.out" 2>>"$T/drive.err"
	D_rc=$?
	# timeout(1) exits 124 when it sent the signal and the command then died of it.
	[ "$D_rc" = 124 ] && D_rc=143
	D_ok=0; grep -q '^start: another step is needed' "$T/drive.out" && D_ok=1
	D_win=$(sed -n 's/^window=\([0-9]*\) .*/\1/p' "$T/watch" | tail -1); D_win=${D_win:--}
	KSENT=$(sent_mark)
	s_check "TERM at $delay µs" either
done
is "$s_bad" 0 "S: TERM before the request ends the process with the grant unused and the file untouched; TERM in the window is deferred until the new file is in place ($s_trials trials)"
is "$s_lost" 0 "S: no grant lost to a TERM ($s_early ended before the request, $s_deferred deferred past the save)"

echo "# crash trials: $TOTAL_TRIALS, corrupt: $TOTAL_CORRUPT, lost: $TOTAL_LOST (all groups)"
done_testing
