#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-authorize.sh - sasl-oauth2 authorize against the real stack: loopback,
# paste and device flows end in a token file that the plugin (in pf-out's
# chrooted smtp client) then uses to deliver mail; state mismatch, PKCE
# mismatch, user denial and timeout each give their message and write nothing;
# a working token file is not replaced without --force.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
start_stack

AZ=("$TOOL" authorize --issuer "$IDP_URL" --ca-file "$CA_FILE" --no-browser)
PUB=(--client-id "$CLIENT_ID_PUBLIC" --redirect-uri http://127.0.0.1/cb)
F=$WORK/tok.json

# run_loopback NAME FILE [HINT] [extra args]: authorize in the background, act as the user
run_loopback() {
	local name=$1 file=$2 hint=$3 loc pid
	shift 3
	"${AZ[@]}" "${PUB[@]}" --user "$TEST_USER" --timeout 20 "$@" "$file" \
		</dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
	pid=$!
	loc=$(user_side "$WORK/$name.out" "$hint")
	if [[ -n "${LOC_EDIT:-}" ]]; then loc=$(printf '%s' "$loc" | sed "$LOC_EDIT"); fi
	[[ -n "$loc" ]] && curl -s -o "$WORK/$name.page" --max-time 10 "$loc"
	wait_pid $pid 30
}

# 1-9: loopback flow with a public client (PKCE, state)
run_loopback loopback "$F" ""
rc=$?
ok $rc "loopback: authorize exits 0"
[[ $rc -eq 0 ]] || diag "$WORK/loopback.err"
check "loopback: the browser page says done" has "$WORK/loopback.page" 'Done'
check "loopback: URL carries PKCE S256" has "$WORK/loopback.out" 'code_challenge_method=S256'
check "loopback: URL carries state" has "$WORK/loopback.out" '[?&]state=[A-Za-z0-9_-]{16,}'
check "loopback: redirect is 127.0.0.1 with a port" has "$WORK/loopback.out" 'redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A[0-9]+%2Fcb'
check "loopback: file mode is 0600" test "$(stat -c %a "$F")" = 600
check "loopback: file has refresh_token, user, token_endpoint" \
	jq -e '.refresh_token and .user == "user@example.test" and (.token_endpoint | endswith("/token"))' "$F"
check "loopback: authorized_at and refreshed_at recorded" jq -e '.authorized_at and .refreshed_at' "$F"
check "loopback: verified with a refresh before done" has "$WORK/loopback.err" '^done: .* works'

# 10-12: no secret leaks to the terminal output
check "loopback: no token or secret on stdout/stderr" no_secret_in "$WORK/loopback.out" "$WORK/loopback.err"

# 11-13: a working file is not replaced without --force
"${AZ[@]}" "${PUB[@]}" --user "$TEST_USER" --timeout 5 "$F" </dev/null >"$WORK/exists.out" 2>"$WORK/exists.err"
rc=$?
ok $([[ $rc -eq 73 ]]; echo $?) "existing working file: refused with EX_CANTCREAT (got $rc)"
check "existing working file: message says --force" has "$WORK/exists.err" 'force'
before=$(jq -r .authorized_at "$F")
sleep 1
run_loopback force "$F" "" --force
ok $? "--force replaces it"
check "--force: a new authorized_at" test "$(jq -r .authorized_at "$F")" != "$before"

# state mismatch: the redirect that reaches the listener carries another state
LOC_EDIT='s/state=[^&]*/state=forged/' run_loopback state "$WORK/state.json" ""
rc=$?
ok $([[ $rc -ne 0 ]]; echo $?) "state mismatch: authorize fails (exit $rc)"
check "state mismatch: message names it" has "$WORK/state.err" 'state'
check "state mismatch: explain page printed" has "$WORK/state.err" 'explain state_mismatch'
check "state mismatch: nothing written" test ! -e "$WORK/state.json"
check "state mismatch: the browser is told" has "$WORK/state.page" 'state mismatch'

# PKCE mismatch: the user's browser is sent with another code_challenge
USER_SIDE_EDIT='s/code_challenge=[^&]*/code_challenge=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/' \
	run_loopback pkce "$WORK/pkce.json" ""
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "PKCE mismatch: authorize fails with EX_NOPERM (got $rc)"
check "PKCE mismatch: explained as pkce" has "$WORK/pkce.err" 'explain pkce'
check "PKCE mismatch: nothing written" test ! -e "$WORK/pkce.json"

# user denial: login_hint deny... makes the test server refuse
run_loopback deny "$WORK/deny.json" "deny%40example.test"
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "denial: authorize fails with EX_NOPERM (got $rc)"
check "denial: message says access_denied" has "$WORK/deny.err" 'access_denied'
check "denial: the fix names test users" has "$WORK/deny.err" 'fix: .*test user'
check "denial: nothing written" test ! -e "$WORK/deny.json"

# timeout: nobody comes back
"${AZ[@]}" "${PUB[@]}" --user "$TEST_USER" --timeout 2 "$WORK/late.json" </dev/null >"$WORK/late.out" 2>"$WORK/late.err"
rc=$?
ok $([[ $rc -eq 75 ]]; echo $?) "timeout: EX_TEMPFAIL (got $rc)"
check "timeout: message and explanation" has "$WORK/late.err" 'explain consent_timeout'
check "timeout: the URL was printed anyway" has "$WORK/late.out" '^https://'
check "timeout: nothing written" test ! -e "$WORK/late.json"

# paste mode fed on standard input (after the client secret on line 1)
P=$WORK/paste.json
mkfifo "$WORK/fifo"
printf 'mailsecret\n' >"$WORK/secret"
chmod 600 "$WORK/secret"
"${AZ[@]}" --client-id "$CLIENT_ID_POST" --client-secret-file - --redirect-uri http://127.0.0.1:9/cb \
	--flow paste --user "$TEST_USER" --timeout 20 "$P" <"$WORK/fifo" >"$WORK/paste.out" 2>"$WORK/paste.err" &
pid=$!
exec 7>"$WORK/fifo"
printf 'mailsecret\n' >&7
loc=$(user_side "$WORK/paste.out")
printf '%s\n' "$loc" >&7
exec 7>&-
wait_pid $pid 30
rc=$?
ok $rc "paste: authorize exits 0 with the secret and the URL on stdin"
[[ $rc -eq 0 ]] || diag "$WORK/paste.err"
check "paste: prompt explains ssh -L" has "$WORK/paste.err" 'ssh -L'
check "paste: secret stored for the confidential client" jq -e '.client_secret == "mailsecret" and .client_id == "mailclient-post"' "$P"
check "paste: no token or secret on the terminal" no_secret_in "$WORK/paste.out" "$WORK/paste.err"

# paste: a pasted URL from another run (state mismatch) writes nothing
"${AZ[@]}" "${PUB[@]}" --flow paste --user "$TEST_USER" --timeout 10 "$WORK/p2.json" \
	<<<"http://127.0.0.1:9/cb?code=abc&state=notours" >"$WORK/p2.out" 2>"$WORK/p2.err"
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "paste: foreign state refused (got $rc)"
check "paste: foreign state wrote nothing" test ! -e "$WORK/p2.json"

# device flow with a confidential client (HTTP Basic), the user half by device-approve.py
# (in a directory of postfix's: the file's user must be able to write next to it)
install -d -o postfix -m 0700 "$WORK/pf"
D=$WORK/pf/device.json
"${AZ[@]}" --client-id "$CLIENT_ID" --client-secret-file "$WORK/secret" --client-auth basic \
	--flow device --user "$TEST_USER" --owner postfix --timeout 60 "$D" </dev/null >"$WORK/device.out" 2>"$WORK/device.err" &
pid=$!
for ((i = 0; i < 100; i++)); do
	u=$(grep -m1 '^https://' "$WORK/device.out") && break
	sleep 0.1
done
python3 "$DEVICE_APPROVE" --ca "$CA_FILE" "$u" >"$WORK/device-approve.out" 2>&1
wait_pid $pid 60
rc=$?
ok $rc "device: authorize exits 0"
[[ $rc -eq 0 ]] || diag "$WORK/device.err"
check "device: the user code is shown framed" has "$WORK/device.err" '^    \|   .* .*   \|$'
check "device: client_auth basic stored" jq -e '.client_auth == "basic"' "$D"
check "device: --owner postfix gave the file to postfix" test "$(stat -c %U "$D")" = postfix

# explicit endpoints instead of discovery
"$TOOL" authorize --auth-url "$AUTHORIZATION_ENDPOINT" --token-url "$TOKEN_ENDPOINT" \
	--ca-file "$CA_FILE" --no-browser "${PUB[@]}" --user "$TEST_USER" --timeout 20 \
	"$WORK/explicit.json" </dev/null >"$WORK/explicit.out" 2>"$WORK/explicit.err" &
pid=$!
loc=$(user_side "$WORK/explicit.out") && curl -s -o /dev/null "$loc"
wait_pid $pid 30
ok $? "explicit --auth-url/--token-url: authorize exits 0"
check "explicit endpoints: token_endpoint stored" jq -e --arg t "$TOKEN_ENDPOINT" '.token_endpoint == $t' "$WORK/explicit.json"

# device flow aborted by the user
"${AZ[@]}" --client-id "$CLIENT_ID" --client-secret-file "$WORK/secret" --client-auth basic \
	--flow device --timeout 60 "$WORK/dev2.json" </dev/null >"$WORK/dev2.out" 2>"$WORK/dev2.err" &
pid=$!
for ((i = 0; i < 100; i++)); do
	u=$(grep -m1 '^https://' "$WORK/dev2.out") && break
	sleep 0.1
done
python3 "$DEVICE_APPROVE" --abort --ca "$CA_FILE" "$u" >/dev/null 2>&1
wait_pid $pid 60
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "device: abort gives EX_NOPERM (got $rc)"
check "device: abort explained (access_denied)" has "$WORK/dev2.err" 'access_denied'
check "device: abort wrote nothing" test ! -e "$WORK/dev2.json"

# Google refuses the Gmail scope in the device flow: the tool refuses first
"$TOOL" authorize --provider google --client-id x --flow device "$WORK/g.json" </dev/null >/dev/null 2>"$WORK/g.err"
rc=$?
ok $([[ $rc -eq 64 ]]; echo $?) "device flow for google refused with EX_USAGE (got $rc)"
check "device flow for google: explained" has "$WORK/g.err" 'Google does not allow the Gmail scope'

# reconnect in one command: the grant revoked at the provider, then
# "authorize --force FILE" and no setting flag takes them all from the file
R=$WORK/reconnect.json
run_loopback rc1 "$R" ""
ok $? "reconnect: a first authorization"
jq '.x_admin_note = "keep me" | .refresh_window = "120"' "$R" >"$R.t" && cat "$R.t" >"$R" && rm -f "$R.t"
before_rt=$(jq -r .refresh_token "$R")
"$TOOL" revoke "$R" >"$WORK/rc-revoke.out" 2>&1
ok $? "reconnect: the grant is revoked at the provider"
"$TOOL" refresh "$R" >/dev/null 2>"$WORK/rc-dead.err"
ok $([[ $? -ne 0 ]]; echo $?) "reconnect: the revoked file no longer refreshes"
"$TOOL" authorize --force --no-browser "$R" </dev/null >"$WORK/rc2.out" 2>"$WORK/rc2.err" &
pid=$!
loc=$(user_side "$WORK/rc2.out") && curl -s -o "$WORK/rc2.page" --max-time 10 "$loc"
wait_pid $pid 30
rc=$?
ok $rc "reconnect: 'authorize --force FILE' with no setting flag exits 0"
[[ $rc -eq 0 ]] || diag "$WORK/rc2.err"
check "reconnect: it says it took the file's settings" has "$WORK/rc2.err" 'with its settings'
check "reconnect: the same client, user, issuer, token endpoint and CA" \
	jq -e --arg cid "$CLIENT_ID_PUBLIC" --arg u "$TEST_USER" --arg iss "$IDP_URL" --arg ca "$CA_FILE" \
	'.client_id == $cid and .user == $u and .issuer == $iss and .ca_bundle_file == $ca
	 and (.token_endpoint | endswith("/token"))' "$R"
check "reconnect: a new grant (another refresh token)" test "$(jq -r .refresh_token "$R")" != "$before_rt"
check "reconnect: the admin's own members are kept" \
	jq -e '.x_admin_note == "keep me" and .refresh_window == "120"' "$R"
"$TOOL" refresh "$R" >/dev/null 2>"$WORK/rc3.err"
ok $? "reconnect: the new file refreshes"
check "reconnect: no token or secret in the output" no_secret_in "$WORK/rc2.out" "$WORK/rc2.err"

# the plugin uses the authorized file: pf-out's chrooted smtp client delivers a mail
T=$PF_OUT_TOKEN_DIR/token.json
jq --arg ca "$PF_OUT_CA_IN_CHROOT" '.ca_bundle_file = $ca' "$F" >"$T.new" && chmod 600 "$T.new" &&
	chown postfix:postfix "$T.new" && mv "$T.new" "$T"
subj="tool-authorize $$ $RANDOM"
python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from "$TEST_USER" --to "$TEST_USER" --subject "$subj" >/dev/null 2>&1
check "the loopback-authorized file delivers mail through Postfix and the plugin" \
	bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$subj" 20
check "no token or secret in the Postfix log" no_secret_in "$PF_OUT_LOG"

done_testing
