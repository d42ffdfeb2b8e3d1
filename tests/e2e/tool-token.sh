#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-token.sh - sasl-oauth2 token FILE against the real stack: on stdout
# exactly one line, the access token, and nothing else; an expired token is
# refreshed first (one request), under the same lock and write-back as the
# plugin, so the file holds what was printed; the token logs in to Dovecot
# (XOAUTH2 over IMAPS, the way a program fed by passwordeval/PassCmd would);
# a fresh token is printed again without a request; 16 concurrent calls on an
# expired token make one request; a broken file prints nothing on stdout, one
# line with the fix on stderr, and the documented exit code.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
# Access tokens of an hour, as Google's and Microsoft's: with the stack's
# short default a "fresh" token is always inside the 300 s refresh window
# (short-lived tokens are the adaptive window's test, not this one's).
export AT_TTL=3600
start_stack

F=$WORK/tok.json
setup_token_file "$F"

# requests: the token endpoint's refresh count, from the provider's log
requests() { grep -c 'token grant_type=refresh_token ' "$IDP_LOG" 2>/dev/null; }

# imap_login TOKENFILE: XOAUTH2 over IMAPS with the token read from a file
# (never argv); prints OK or the server's answer
imap_login() {
	python3 - "$1" <<'PY'
import base64, imaplib, os, ssl, sys
tok = open(sys.argv[1]).read().strip()
ctx = ssl.create_default_context(cafile=os.environ["CA_FILE"])
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["IMAPS_PORT"]), ssl_context=ctx)
try:
    user = os.environ["TEST_USER"]
    m.authenticate("XOAUTH2", lambda _: ("user=%s\x01auth=Bearer %s\x01\x01" % (user, tok)).encode())
    print("OK")
except Exception as e:
    print("refused: %s" % e)
PY
}
export CA_FILE IMAPS_PORT TEST_USER

# ---- an expired access token: refreshed, printed, stored
jq '.expiry = "1"' "$F" >"$WORK/t" && cat "$WORK/t" >"$F"
old_at=$(jq -r '.access_token // ""' "$F")
"$TOOL" token "$F" >"$WORK/tk.out" 2>"$WORK/tk.err"
ok $? "token on an expired access token: exit 0"
is_lines=$(wc -l <"$WORK/tk.out")
ok $([[ $is_lines -eq 1 ]]; echo $?) "stdout is exactly one line (got $is_lines)"
ok $([[ ! -s "$WORK/tk.err" ]]; echo $?) "stderr is empty"
diag "$WORK/tk.err"
printed=$(cat "$WORK/tk.out")
ok $([[ -n "$printed" && "$printed" != "$old_at" ]]; echo $?) "a new access token was printed"
ok $([[ "$(jq -r .access_token "$F")" == "$printed" ]]; echo $?) "the file holds the token that was printed"
ok $([[ "$(jq -r .expiry "$F")" -gt $(date +%s) ]]; echo $?) "the file's expiry is in the future"
ok $([[ "$(stat -c %a "$F")" == 600 ]]; echo $?) "the file is still mode 0600"
ok $([[ "$(imap_login "$WORK/tk.out")" == OK ]]; echo $?) "the printed token logs in to Dovecot (XOAUTH2, IMAPS)"

# ---- a fresh token: the same one, no request
r0=$(requests)
"$TOOL" token "$F" >"$WORK/tk2.out" 2>/dev/null
ok $? "token on a fresh access token: exit 0"
ok $([[ "$(cat "$WORK/tk2.out")" == "$printed" ]]; echo $?) "the same token again"
ok $([[ "$(requests)" == "$r0" ]]; echo $?) "no request to the token endpoint for a fresh token"

# ---- 16 concurrent calls on an expired token: one request, one token
jq '.expiry = "1"' "$F" >"$WORK/t" && cat "$WORK/t" >"$F"
r0=$(requests)
pids=()
for i in $(seq 1 16); do
	"$TOOL" token "$F" >"$WORK/c$i.out" 2>"$WORK/c$i.err" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
ok $([[ $fails -eq 0 ]]; echo $?) "16 concurrent token calls: all exit 0 (failures: $fails)"
distinct=$(cat "$WORK"/c*.out | sort -u | wc -l)
ok $([[ $distinct -eq 1 ]]; echo $?) "they all print the same token (distinct: $distinct)"
ok $([[ $(( $(requests) - r0 )) -eq 1 ]]; echo $?) "exactly one request to the token endpoint (got $(( $(requests) - r0 )))"

# ---- failures: nothing on stdout, one line with the fix on stderr
"$TOOL" token "$WORK/missing.json" >"$WORK/m.out" 2>"$WORK/m.err"
rc=$?
ok $([[ $rc -ne 0 ]]; echo $?) "a missing file: nonzero exit (got $rc)"
ok $([[ ! -s "$WORK/m.out" ]]; echo $?) "a missing file: nothing on stdout"
check "a missing file: stderr names the file" has "$WORK/m.err" 'missing\.json'
cp "$F" "$WORK/open.json" && chmod 644 "$WORK/open.json"
"$TOOL" token "$WORK/open.json" >"$WORK/o.out" 2>"$WORK/o.err"
ok $([[ $? -ne 0 && ! -s "$WORK/o.out" ]]; echo $?) "a mode 0644 file: refused, nothing on stdout"
check "a mode 0644 file: the fix is chmod 600" has "$WORK/o.err" 'chmod 600|0600'
jq '.expiry = "1" | .refresh_token = "revoked-or-unknown"' "$F" >"$WORK/bad.json" && chmod 600 "$WORK/bad.json"
"$TOOL" token "$WORK/bad.json" >"$WORK/b.out" 2>"$WORK/b.err"
rc=$?
ok $([[ $rc -ne 0 && ! -s "$WORK/b.out" ]]; echo $?) "a refused refresh token: nonzero exit ($rc), nothing on stdout"
check "a refused refresh token: says invalid_grant and to authorize again" \
	bash -c "grep -q invalid_grant '$WORK/b.err' && grep -q 'authorize' '$WORK/b.err'"
ok $([[ "$(jq -r .refresh_token "$WORK/bad.json")" == revoked-or-unknown ]]; echo $?) \
	"a refused refresh leaves the file's refresh token as it was"
"$TOOL" token >"$WORK/u.out" 2>"$WORK/u.err"
ok $([[ $? -eq 64 ]]; echo $?) "no file: exit 64 (usage)"
check "no file: says which argument is missing first" bash -c "head -1 '$WORK/u.err' | grep -q 'missing the token file'"
ok $(no_secret_in "$WORK"/*.err; echo $?) "no token or secret in any error output"
done_testing
