#!/bin/bash
# SPDX-License-Identifier: MIT
# refresh-all.sh - sasl-oauth2 refresh-all against the real stack's
# oidc-provider, with grants minted through its models (/__test/mint-grants):
# directories walked (subdirectories, *.json only, symbolic links not
# followed, a named symlink refused), a file named twice or hard-linked
# refreshed once, -f / default window / --within, --json, -v, -q,
# --syslog-prefix, the exit codes (66, 64, 75, a dead grant's code as
# "refresh" gives it), one bad file not stopping the others, as root files of
# three owners refreshed as their owners (no root-owned file left behind),
# the owners' processes at the same time within --jobs,
# stale temporary files cleaned, the progress line on a terminal only,
# connection reuse (TLS handshakes counted at the server: one per job), the
# warnings status gives (Google's Testing expiry, Microsoft's 90 idle days)
# in the text, --json and the timer's journal lines, and the systemd timer's
# script running it; a service-account key and other JSON in a token
# directory skipped (said with -v), a broken token file still failing.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
export AT_TTL=3600
start_stack

stats() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL"; }
reset_stats() { curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null; }
rt_ok() { stats | jq -r '.refresh_token.ok // 0'; }
# handshakes: the server's count of TLS handshakes (this query's own included)
handshakes() { stats | jq -r '.tls.handshakes'; }

# A CA file every owner may read.
cp "$CA_FILE" "$WORK/ca.pem" && chmod 0644 "$WORK/ca.pem"

# mint N: N fresh refresh tokens, one per line, in $WORK/rts (appended)
mint() {
	curl -s --cacert "$CA_FILE" -d "count=$1" -d "client_id=$CLIENT_ID_PUBLIC" \
		-d "account_prefix=ra$RANDOM" "$IDP_URL/__test/mint-grants" |
		jq -r '.refresh_tokens[]' >>"$WORK/rts"
}
: >"$WORK/rts"
mint 70
next_rt=0
mapfile -t RTS <"$WORK/rts"
# mkfile PATH [EXPIRY]: a token file with the next minted refresh token and
# an old access token expiring at EXPIRY (default: already expired); printf,
# not jq: the values are base64url and paths without quotes
mkfile() {
	mkdir -p "$(dirname "$1")"
	(umask 077 && printf '{"refresh_token": "%s", "access_token": "old-access-token", "expiry": "%s", "client_id": "%s", "token_endpoint": "%s", "ca_bundle_file": "%s", "user": "u@example.test"}\n' \
		"${RTS[next_rt]}" "${2:-1}" "$CLIENT_ID_PUBLIC" "$TOKEN_ENDPOINT" "$WORK/ca.pem" >"$1")
	next_rt=$((next_rt + 1))
}
at_of() { jq -r '.access_token' "$1"; }
refreshed() { [[ "$(at_of "$1")" != old-access-token && "$(jq -r .expiry "$1")" -gt $(date +%s) ]]; }
ra() { "$TOOL" refresh-all "$@" >"$WORK/out" 2>"$WORK/err"; }

# ---- a directory: subdirectories, *.json only, symbolic links not followed
D=$WORK/d1
mkfile "$D/a.json"; mkfile "$D/b.json"; mkfile "$D/c.json"; mkfile "$D/sub/d.json"
mkfile "$WORK/outside/o.json"
ln -s "$WORK/outside/o.json" "$D/link.json"
echo keep >"$D/notes.txt"
touch -d '-1 min' "$D/a.json.tmp.AbC123"      # a killed writer's leftover
touch "$D/b.json.tmp.XyZ789"                  # a live writer's, too new to remove
r0=$(rt_ok)
ra -f "$D"
ok $? "refresh-all -f DIR: exit 0"
diag "$WORK/err"
like_out() { grep -Eq -- "$1" "$WORK/out"; }
like_out '4 files: 4 refreshed, 0 fresh, 0 failed, 0 failed for now, 1 symbolic links skipped' ; ok $? "summary: 4 files, 4 refreshed, the symlink skipped"
n=0; for f in a b c sub/d; do refreshed "$D/$f.json" && n=$((n + 1)); done
ok $([[ $n -eq 4 ]]; echo $?) "the 4 token files under it (one in a subdirectory) hold new tokens ($n)"
ok $([[ "$(at_of "$WORK/outside/o.json")" == old-access-token ]]; echo $?) "the file behind the symbolic link is not refreshed"
ok $([[ -L "$D/link.json" && "$(cat "$D/notes.txt")" == keep ]]; echo $?) "the link and a non-.json file are left alone"
ok $([[ $(( $(rt_ok) - r0 )) -eq 4 ]]; echo $?) "4 requests to the token endpoint"
ok $([[ "$(stat -c %a "$D/a.json") $(stat -c %a "$D/sub/d.json")" == "600 600" ]]; echo $?) "the files stay 0600"
ok $([[ ! -e "$D/a.json.tmp.AbC123" && -e "$D/b.json.tmp.XyZ789" ]]; echo $?) "a stale temporary file is removed, a new one kept"
ok $([[ ! -s "$WORK/err" ]]; echo $?) "nothing on stderr without -v and without a terminal (no progress line)"
no_secret_in "$WORK/out" "$WORK/err"; ok $? "no token in the output"
rm -f "$D/b.json.tmp.XyZ789"

# ---- the same file twice, and a hard link: refreshed once
N=$WORK/named.json
mkfile "$N"
ln "$N" "$WORK/hard.json"
r0=$(rt_ok)
ra -f "$N" "$N" "$WORK/hard.json"
ok $? "a file named twice and its hard link: exit 0"
like_out '1 files: 1 refreshed'; ok $? "counted once (summary: $(cat "$WORK/out"))"
ok $([[ $(( $(rt_ok) - r0 )) -eq 1 ]]; echo $?) "one request for it"
rm -f "$WORK/hard.json"

# ---- a symbolic link or a missing file named on the command line
ra -f "$D/link.json"
rc=$?
ok $([[ $rc -eq 78 ]]; echo $?) "a named symbolic link: exit 78 (got $rc)"
grep -q "$D/link.json: is a symbolic link.*give the real path" "$WORK/err"; ok $? "one line naming the link and the fix"
diag "$WORK/err"
ok $([[ "$(at_of "$WORK/outside/o.json")" == old-access-token ]]; echo $?) "its target is still not refreshed"
ra -f "$WORK/nonexistent.json"
rc=$?
ok $([[ $rc -eq 78 ]] && grep -q "nonexistent.json: No such file" "$WORK/err"; echo $?) "a missing file: exit 78 and its name (got $rc)"
mkdir -p "$WORK/empty"
ra "$WORK/empty"
rc=$?
ok $([[ $rc -eq 66 ]] && grep -q "no token file" "$WORK/err"; echo $?) "a directory without token files: exit 66, says so (got $rc)"
ra --jobs 0 "$D"; rc1=$?
ra -f --within 60 "$D"; rc2=$?
ok $([[ $rc1 -eq 64 && $rc2 -eq 64 ]]; echo $?) "--jobs 0 and -f with --within: exit 64 ($rc1 $rc2)"

# ---- which files: the refresh window by default, --within S, -f every one
now=$(date +%s)
W=$WORK/w
mkfile "$W/soon.json" $((now + 100))        # inside the 300 s window
mkfile "$W/later.json" $((now + 1800))      # outside it, inside 3600
mkfile "$W/far.json" $((now + 7200))
r0=$(rt_ok)
ra "$W"
ok $? "default: exit 0"
ok $(refreshed "$W/soon.json" && [[ "$(at_of "$W/later.json")" == old-access-token && "$(at_of "$W/far.json")" == old-access-token ]]; echo $?) "default: only the token inside the refresh window is refreshed"
like_out '3 files: 1 refreshed, 2 fresh'; ok $? "summary: 1 refreshed, 2 fresh"
ra --within 3000 "$W"
ok $(refreshed "$W/later.json" && [[ "$(at_of "$W/far.json")" == old-access-token ]]; echo $?) "--within 3000: the token expiring in 30 min is refreshed, the one in 2 h (and the new one) not"
ok $([[ $(( $(rt_ok) - r0 )) -eq 2 ]]; echo $?) "2 requests for the two runs"

# ---- one dead grant among good files; --json; --syslog-prefix
B=$WORK/bad
mkfile "$B/good1.json"; mkfile "$B/good2.json"
mkfile "$B/dead.json"
jq '.refresh_token = "not-a-refresh-token-of-this-server"' "$B/dead.json" >"$WORK/t" && cat "$WORK/t" >"$B/dead.json"
cp -p "$B/dead.json" "$WORK/dead-copy.json"
"$TOOL" refresh "$WORK/dead-copy.json" >/dev/null 2>&1
want=$?
ra -f --json "$B"
rc=$?
ok $([[ $rc -eq $want && $rc -ne 0 && $rc -ne 75 ]]; echo $?) "a dead grant: exit $rc, the code refresh gives for it ($want)"
ok $(refreshed "$B/good1.json" && refreshed "$B/good2.json"; echo $?) "the good files in the same run are refreshed"
jq -e '.summary.files == 3 and .summary.refreshed == 2 and .summary.failed == 1' "$WORK/out" >/dev/null
ok $? "--json: summary files 3, refreshed 2, failed 1"
jq -e --arg f "$B/dead.json" '.files[] | select(.file == $f) | .result == "failed" and .error == "invalid_grant" and (.message | contains("authorize"))' "$WORK/out" >/dev/null
ok $? "--json: the dead file: failed, invalid_grant, a message with the fix"
jq -e --arg f "$B/good1.json" '.files[] | select(.file == $f) | .result == "refreshed" and .expires > now and (.rotated | type) == "boolean"' "$WORK/out" >/dev/null
ok $? "--json: a good file: refreshed, its expiry, rotated"
no_secret_in "$WORK/out" "$WORK/err"; ok $? "no token in the JSON"
ra -f --syslog-prefix "$B"
grep -q "^<3>sasl-oauth2: $B/dead.json: " "$WORK/err" && grep -q '^<3>sasl-oauth2 refresh-all: 3 files' "$WORK/out"
ok $? "--syslog-prefix: the failure and the summary carry priority <3>"

# ---- a temporary failure only: 75
T=$WORK/temp
mkfile "$T/unreachable.json"
jq '.token_endpoint = "https://127.0.0.1:9/token"' "$T/unreachable.json" >"$WORK/t" && cat "$WORK/t" >"$T/unreachable.json"
ra -f "$T"
rc=$?
ok $([[ $rc -eq 75 ]]; echo $?) "only a temporary failure: exit 75 (got $rc)"
like_out '1 files: 0 refreshed, 0 fresh, 0 failed, 1 failed for now'; ok $? "summary: 1 failed for now"

# ---- what status warns of, in refresh-all's output too (lifetime.c)
# A Google file 6 days after consent (if the app is in Testing it dies on
# day 7), owned by nobody so its warning comes back from the owner's
# process; a healthy file; a Microsoft file whose refreshes keep failing
# for now, last used 70 days ago (dies at 90 days unused).
L=$WORK/life
mkdir -p "$L/nobody" && chown nobody: "$L/nobody" && chmod 0700 "$L/nobody"
mkfile "$L/nobody/testing.json"
jq --arg t "$(( $(date +%s) - 6 * 86400 - 7200 ))" '.provider = "google" | .authorized_at = $t' \
	"$L/nobody/testing.json" >"$WORK/t" && cat "$WORK/t" >"$L/nobody/testing.json"
chown nobody: "$L/nobody/testing.json"
mkfile "$L/healthy.json"
jq --arg t "$(date +%s)" '.provider = "google" | .authorized_at = $t' "$L/healthy.json" >"$WORK/t" &&
	cat "$WORK/t" >"$L/healthy.json"
ra -f --json "$L/nobody" "$L/healthy.json"
rc=$?
ok $([[ $rc -eq 0 ]]; echo $?) "a file near Google's Testing expiry and a healthy one, both refreshed: exit 0, a warning changes no exit status (got $rc)"
jq -e --arg f "$L/nobody/testing.json" '.files[] | select(.file == $f) | .result == "refreshed" and (.warnings | length) == 1 and (.warnings[0] | test("Testing") and test("Publish app")) and (has("critical") | not)' "$WORK/out" >/dev/null
ok $? "--json: the Testing file's warning (7 days after consent, Publish app), from the owner's process"
jq -e --arg f "$L/healthy.json" '.files[] | select(.file == $f) | .result == "refreshed" and (has("warnings") or has("critical") | not)' "$WORK/out" >/dev/null
ok $? "--json: the healthy file has no warning"
jq -e '.summary.warned == 1 and .summary.exit == 0' "$WORK/out" >/dev/null
ok $? "--json: summary warned 1, exit 0"
"$TOOL" status --json "$L/nobody/testing.json" >"$WORK/st.json" 2>/dev/null
ok $([[ -n "$(jq -r '.[0].warnings[0] // empty' "$WORK/st.json")" && "$(jq -r '.[0].warnings[0]' "$WORK/st.json")" == "$(jq -r --arg f "$L/nobody/testing.json" '.files[] | select(.file == $f) | .warnings[0]' "$WORK/out")" ]]; echo $?) "the same words as status gives for the file"
ra -f --syslog-prefix "$L/nobody" "$L/healthy.json"
rc=$?
ok $([[ $rc -eq 0 && $(grep -c "^<4>sasl-oauth2: $L/nobody/testing.json: warning: if the Google Cloud project's OAuth app is External and in Testing" "$WORK/err") -eq 1 ]]; echo $?) "text: one line at priority warning (<4>) for the file, naming it (exit $rc)"
ok $([[ $(grep -c warning "$WORK/err") -eq 1 ]] && ! grep -q healthy "$WORK/err"; echo $?) "no line for the healthy file"
grep -q '^<4>sasl-oauth2 refresh-all: 2 files: 2 refreshed, 0 fresh, 0 failed, 0 failed for now, 1 with warnings (' "$WORK/out"
ok $? "the summary counts it (1 with warnings) at priority warning ($(cat "$WORK/out"))"
ra -f -q "$L/nobody" "$L/healthy.json"
ok $([[ $? -eq 0 && ! -s "$WORK/out" && ! -s "$WORK/err" ]]; echo $?) "-q: no warning line either"
mkfile "$L/ms.json"
jq '.provider = "microsoft" | .token_endpoint = "https://127.0.0.1:9/token" | del(.refreshed_at)' "$L/ms.json" >"$WORK/t" &&
	cat "$WORK/t" >"$L/ms.json"
touch -d '-70 days' "$L/ms.json"
ra -f --json "$L/ms.json"
rc=$?
jq -e '.files[0] | .result == "tempfail" and (.warnings[0] | test("unused for 70 days: Microsoft refresh tokens die after 90 days"))' "$WORK/out" >/dev/null
ok $([[ $? -eq 0 && $rc -eq 75 ]]; echo $?) "a Microsoft file that keeps failing for now, last used 70 days ago: tempfail (75, got $rc) and the 90-day warning"
touch -d '-100 days' "$L/ms.json"
ra -f --syslog-prefix "$L/ms.json"
grep -q "^<3>sasl-oauth2: $L/ms.json: critical: unused for 100 days: .*AADSTS700082" "$WORK/err"
ok $? "100 days unused: the line is critical (<3>), as status's"
diag "$WORK/err"

# ---- -v and -q
ra -f -v "$D"
ok $([[ $(grep -c ': refreshed, valid until ' "$WORK/err") -eq 4 ]]; echo $?) "-v: one line per refreshed file"
ra -f -q "$D"
ok $([[ $? -eq 0 && ! -s "$WORK/out" && ! -s "$WORK/err" ]]; echo $?) "-q: nothing printed when all went well"

# ---- a terminal: the progress line
script -qec "$TOOL refresh-all -f $D" /dev/null >"$WORK/tty.out" 2>&1
grep -q 'refresh-all: [0-9]*/4 files, 0 failed' "$WORK/tty.out"
ok $? "on a terminal: a progress line"

# ---- as root: three owners, each refreshed as itself
O=$WORK/own
mkdir -p "$O/nobody" "$O/daemon" "$O/u4242"
chown nobody: "$O/nobody"; chown daemon: "$O/daemon"; chown 4242:4242 "$O/u4242"
chmod 0700 "$O"/*
mkfile "$O/nobody/n.json"; chown nobody: "$O/nobody/n.json"
mkfile "$O/daemon/d.json"; chown daemon: "$O/daemon/d.json"
mkfile "$O/u4242/x.json"; chown 4242:4242 "$O/u4242/x.json"
mkfile "$O/root.json"
ra -f "$O"
ok $? "as root over files of nobody, daemon, uid 4242 and root: exit 0"
diag "$WORK/err"
n=0; for f in nobody/n daemon/d u4242/x root; do refreshed "$O/$f.json" && n=$((n + 1)); done
ok $([[ $n -eq 4 ]]; echo $?) "all 4 refreshed ($n)"
owners=$(stat -c %U:%G "$O/nobody/n.json" "$O/daemon/d.json" "$O/u4242/x.json" | tr '\n' ' ')
ok $([[ "$owners" == "nobody:nogroup daemon:daemon UNKNOWN:UNKNOWN " ]]; echo $?) "each file keeps its owner ($owners)"
left=$(find "$O" -mindepth 2 -user root | wc -l)
ok $([[ $left -eq 0 ]]; echo $?) "no root-owned file in the owners' directories ($left)"

# ---- as root: the owners' processes run at the same time, within --jobs.
# uid 4401 has two files, 4402 one; a1's lock is held (a POSIX lock, which
# the refresher's OFD lock waits for) until b1 holds a new token: b1 can
# only be refreshed meanwhile if 4402's process does not wait for 4401's.
P=$WORK/par
mkdir -p "$P/a" "$P/b"
chown 4401:4401 "$P/a"; chown 4402:4402 "$P/b"; chmod 0700 "$P/a" "$P/b"
mkfile "$P/a/a1.json"; mkfile "$P/a/a2.json"; mkfile "$P/b/b1.json"
chown 4401:4401 "$P/a/a1.json" "$P/a/a2.json"; chown 4402:4402 "$P/b/b1.json"
rm -f "$WORK/held"
python3 - "$P/a/a1.json" "$P/b/b1.json" "$WORK/held" >"$WORK/holder.out" 2>&1 <<'PY' &
import fcntl, json, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[3], "w").close()
def refreshed():
    try:
        return json.load(open(sys.argv[2]))["access_token"] != "old-access-token"
    except (OSError, ValueError, KeyError):
        return False
end = time.time() + 60
while not refreshed() and time.time() < end:
    time.sleep(0.05)
print("b1 refreshed while a1 was locked" if refreshed() else "b1 still old after 60 s")
PY
holder=$!
for _ in $(seq 200); do [[ -e "$WORK/held" ]] && break; sleep 0.05; done
ra -f --jobs 4 --json "$P"
rc=$?
wait "$holder"
ok $([[ $rc -eq 0 ]] && jq -e '.summary.refreshed == 3' "$WORK/out" >/dev/null; echo $?) "two owners, --jobs 4: all 3 files refreshed (exit $rc)"
grep -q 'b1 refreshed while a1 was locked' "$WORK/holder.out"
ok $? "the second owner's file is refreshed while the first owner's process waits ($(cat "$WORK/holder.out"))"
owners=$(stat -c %u "$P/a/a1.json" "$P/a/a2.json" "$P/b/b1.json" | tr '\n' ' ')
ok $([[ "$owners" == "4401 4401 4402 " ]]; echo $?) "each file keeps its owner ($owners)"

# ---- connection reuse: one TLS handshake per job
C=$WORK/many
for i in $(seq 1 24); do mkfile "$C/t$i.json"; done
# Each query of the counter is a handshake of its own: h1 - h0 - 1 is the run's.
reset_stats
h0=$(handshakes)
ra -f --jobs 4 "$C"
ok $? "24 files, --jobs 4: exit 0"
h=$(( $(handshakes) - h0 - 1 ))
ok $([[ "$(rt_ok)" -eq 24 ]]; echo $?) "24 requests"
ok $([[ $h -ge 1 && $h -le 4 ]]; echo $?) "at most 4 TLS handshakes at the server for 24 refreshes ($h)"
reset_stats
h0=$(handshakes)
ra -f --jobs 1 "$C"
h=$(( $(handshakes) - h0 - 1 ))
ok $([[ $h -eq 1 && "$(rt_ok)" -eq 24 ]]; echo $?) "--jobs 1: 24 refreshes over one TLS handshake ($h)"

# ---- files in a token directory that are not token files: skipped, said with -v
# (the same recognition as status and list); a broken token file still fails
K=$WORK/keys
mkfile "$K/t1.json"; mkfile "$K/sub/t2.json"
(umask 077 && printf '{"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": "-----BEGIN PRIVATE KEY-----\\nnot-a-real-key\\n-----END PRIVATE KEY-----\\n", "client_email": "sa@p.iam.gserviceaccount.com", "client_id": "1234", "token_uri": "https://oauth2.googleapis.com/token"}\n' >"$K/sa-key.json")
printf '{"name": "unrelated", "version": "1.0.0"}\n' >"$K/package.json"
sums=$(cat "$K/sa-key.json" "$K/package.json" | sha256sum)
r0=$(rt_ok)
ra -f -v "$K"
rc=$?
ok $([[ $rc -eq 0 ]]; echo $?) "a service-account key and an unrelated JSON file in the directory: exit 0 (got $rc)"
diag "$WORK/err"
ok $(refreshed "$K/t1.json" && refreshed "$K/sub/t2.json" && [[ $(( $(rt_ok) - r0 )) -eq 2 ]]; echo $?) "the 2 token files beside them are refreshed, 2 requests"
like_out '2 files: 2 refreshed, 0 fresh, 0 failed, 0 failed for now, 2 other files skipped'; ok $? "summary: 2 files, 2 other files skipped ($(cat "$WORK/out"))"
grep -q "^sasl-oauth2: $K/sa-key.json: a service-account key, not a token file.*service_account_file.*: skipped$" "$WORK/err"; ok $? "-v: one line naming the key and why it is skipped"
grep -q "^sasl-oauth2: $K/package.json: JSON without a token file's members.*refresh_token.*: skipped$" "$WORK/err"; ok $? "-v: one line naming the unrelated file and why"
ok $([[ "$(cat "$K/sa-key.json" "$K/package.json" | sha256sum)" == "$sums" ]]; echo $?) "the skipped files are left as they were"
ra -f "$K"
ok $([[ $? -eq 0 && ! -s "$WORK/err" ]]; echo $?) "without -v: nothing said of them on stderr"
ra -f --json "$K"
jq -e '.summary.files == 2 and .summary.refreshed == 2 and .summary.others_skipped == 2 and ([.files[].file | select(test("sa-key|package"))] | length) == 0' "$WORK/out" >/dev/null
ok $? "--json: summary others_skipped 2, the skipped files not among files"
"$TOOL" list "$K" >"$WORK/list.out" 2>&1
grep -q "skipped.*sa-key.json: a service-account key" "$WORK/list.out" && ! grep -q "^[^s].*sa-key.json" "$WORK/list.out"
ok $? "list skips the key with the same reason (one recognition)"
diag "$WORK/list.out"
ra -f "$K/sa-key.json"
rc=$?
ok $([[ $rc -ne 0 && $rc -ne 75 ]] && grep -q "sa-key.json" "$WORK/err"; echo $?) "the key named on the command line is not skipped: it fails (exit $rc)"
# broken token files: no refresh token but a token file's members; cut short
(umask 077 && printf '{"access_token": "old-access-token", "expiry": "1", "token_endpoint": "%s", "client_id": "%s"}\n' "$TOKEN_ENDPOINT" "$CLIENT_ID_PUBLIC" >"$K/norefresh.json")
cp "$K/t1.json" "$K/cut.json" && truncate -s 40 "$K/cut.json"
ra -f -v "$K"
rc=$?
ok $([[ $rc -ne 0 && $rc -ne 75 ]]; echo $?) "a broken token file among them still fails the run (exit $rc)"
grep -v ': skipped$' "$WORK/err" | grep -q "norefresh.json" && grep -v ': skipped$' "$WORK/err" | grep -q "cut.json"
ok $? "both broken files are named as failures, not skipped"
like_out '4 files: 2 refreshed, 0 fresh, 2 failed, 0 failed for now, 2 other files skipped'; ok $? "summary: 2 failed, 2 skipped ($(cat "$WORK/out"))"
diag "$WORK/err"
rm -f "$K/norefresh.json" "$K/cut.json"
TOKEN_DIRS="$K" TOKEN_FILES="" SASL_OAUTH2=$TOOL sh "$top/contrib/refresh-token-files" >"$WORK/timer.out" 2>&1
ok $([[ $? -eq 0 ]] && grep -q "^<6>sasl-oauth2: $K/sa-key.json: a service-account key.*: skipped$" "$WORK/timer.out" &&
	grep -q 'refresh-all: 2 files: 2 refreshed.*2 other files skipped' "$WORK/timer.out"; echo $?) "the timer's script over that directory: exit 0, the key named at priority info"
diag "$WORK/timer.out"

# ---- the systemd timer's script
r0=$(rt_ok)
TOKEN_DIRS="$D $WORK/nothing-here" TOKEN_FILES="$N" SASL_OAUTH2=$TOOL \
	sh "$top/contrib/refresh-token-files" >"$WORK/timer.out" 2>&1
ok $? "contrib/refresh-token-files: exit 0"
ok $([[ $(( $(rt_ok) - r0 )) -eq 5 ]] && grep -q 'refresh-all: 5 files: 5 refreshed' "$WORK/timer.out"; echo $?) "it refreshes the 4 files of TOKEN_DIRS and the one of TOKEN_FILES through refresh-all"
ok $([[ $(grep -c '^<6>.*\.json: refreshed, valid until' "$WORK/timer.out") -eq 5 ]]; echo $?) "it logs each refreshed file at priority info (<6>), for the journal"
diag "$WORK/timer.out"
TOKEN_DIRS="$L/nobody" TOKEN_FILES="$L/healthy.json" SASL_OAUTH2=$TOOL \
	sh "$top/contrib/refresh-token-files" >"$WORK/timer.out" 2>&1
ok $([[ $? -eq 0 ]] && grep -q "^<4>sasl-oauth2: $L/nobody/testing.json: warning: .*Testing" "$WORK/timer.out" &&
	[[ $(grep -c '^<4>' "$WORK/timer.out") -eq 2 ]]; echo $?) "the timer's script: the Testing warning reaches the journal at priority warning, the summary too, exit 0"

done_testing
