#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The vertical slice, end to end, on the real loopback stack:
#   oidc-provider (refresh rotation + replay detection) -> our plugin inside
#   Postfix's CHROOTED smtp client -> Postfix smtpd (pf-in) -> Dovecot (token
#   introspection) -> LMTP -> Maildir; and Cyrus smtptest/imtest.
# TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
T=$(mktemp -d /tmp/oa2-e2e.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
# The global config: read by the plugin at init, before Postfix's chroot.
cat >"$T/sasl-oauth2.conf" <<'CONF'
{ "log_level": "notice", "connect_timeout": 5, "timeout": 15, "refresh_window": 20 }
CONF
chmod 644 "$T/sasl-oauth2.conf"

cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if ! PLUGIN_DIR="$T/plugin" OA2_CONF="$T/sasl-oauth2.conf" \
	bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts"; sed 's/^/# /' "$T/stack-start.log" | tail -20
	done_testing; exit 1
fi
_tap 0 "stack starts (oidc-provider, Dovecot, Postfix pf-in and chrooted pf-out)"
. "$T/stack/stack.env"
SEEN_SECRETS="$T/secrets"	# every token the test saw, for the final log scan
: >"$SEEN_SECRETS"

stats() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL"; }
refresh_ok() { stats | jq -r '.refresh_token.ok // 0'; }
refresh_err() { stats | jq -r '.refresh_token.error // 0'; }
# tokjq FILTER - read the chrooted token file
TOKEN="$PF_OUT_TOKEN_DIR/token.json"
tokjq() { jq -r "$1" "$TOKEN"; }
remember() { [ -n "$1" ] && [ "$1" != null ] && echo "$1" >>"$SEEN_SECRETS"; }
# set_field NAME VALUE - edit the token file as an admin would (keeps owner, mode)
set_field() {
	jq --arg v "$2" ".$1 = \$v" "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"
}
send() { python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from sender@example.test \
	--to "$TEST_USER" --subject "$1" >/dev/null 2>&1; }
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" "${2:-30}" >/dev/null 2>&1; }
flush() { postqueue -c "$PF_OUT_DIR" -f >/dev/null 2>&1; }
queued() { postqueue -c "$PF_OUT_DIR" -j 2>/dev/null | grep -c queue_id; }

# --- first consent: a real refresh token from the provider's own pages ---
json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent.err")
RT0=$(printf '%s' "$json" | jq -r .refresh_token)
remember "$RT0"; remember "$(printf '%s' "$json" | jq -r .access_token)"
like "$RT0" "^[A-Za-z0-9_-]{20,}$" "refresh token obtained by driving the provider's login and consent pages"

# The token file as an admin writes it: no access token yet, inside the chroot.
jq -n --arg rt "$RT0" --arg u "$TEST_USER" --arg ep "$TOKEN_ENDPOINT" \
	--arg ca "$PF_OUT_CA_IN_CHROOT" --arg cid "$CLIENT_ID" --arg cs "$CLIENT_SECRET" \
	'{refresh_token:$rt, user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:$cid, client_secret:$cs, client_auth:"basic", x_note:"kept"}' >"$TOKEN"
chown postfix:postfix "$TOKEN"; chmod 600 "$TOKEN"
echo "[127.0.0.1]:$PF_IN_PORT $TEST_USER:$PF_OUT_TOKEN_DIR_IN_CHROOT/token.json" >"$PF_OUT_SASL_PASSWD"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null

# --- 1. XOAUTH2 through the chrooted Postfix smtp client ---
send "e2e-xoauth2-1"
check "XOAUTH2: mail relayed by chrooted Postfix smtp + plugin is delivered to the Maildir" delivered "e2e-xoauth2-1"
AT1=$(tokjq .access_token); RT1=$(tokjq .refresh_token); EXP1=$(tokjq .expiry)
remember "$AT1"; remember "$RT1"
like "$AT1" "^[A-Za-z0-9_-]{20,}$" "token file now holds an access token"
now=$(date +%s)
check "expiry is in the future (epoch seconds as a string)" test "$EXP1" -gt "$now"
check "the rotated refresh token was persisted (differs from the first)" test "$RT1" != "$RT0"
is "$(stat -c %a "$TOKEN")" "600" "token file mode 0600 after write-back"
is "$(stat -c %U "$TOKEN")" "postfix" "token file owner kept (postfix)"
is "$(tokjq .x_note)" "kept" "unknown fields preserved on write-back"
is "$(refresh_ok)" "1" "exactly one refresh request reached the token endpoint"
is "$(ls "$PF_OUT_TOKEN_DIR" | grep -c tmp)" "0" "no temporary file left in the token directory"
like "$(grep 'sasl_method=XOAUTH2' "$PF_IN_LOG")" "sasl_username=$TEST_USER" "pf-in logged the XOAUTH2 login of the right user"

# --- 2. the fresh token is reused: no refresh for the next mail ---
send "e2e-xoauth2-2"
check "second mail delivered" delivered "e2e-xoauth2-2"
is "$(refresh_ok)" "1" "fresh access token reused: still one refresh request"
is "$(tokjq .access_token)" "$AT1" "same access token on disk"

# --- 3. OAUTHBEARER through Postfix ---
postconf -c "$PF_OUT_DIR" -e smtp_sasl_mechanism_filter=oauthbearer
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
send "e2e-oauthbearer-1"
check "OAUTHBEARER: mail delivered" delivered "e2e-oauthbearer-1"
like "$(grep 'sasl_method=OAUTHBEARER' "$PF_IN_LOG")" "sasl_username=$TEST_USER" "pf-in logged an OAUTHBEARER login"
postconf -c "$PF_OUT_DIR" -e smtp_sasl_mechanism_filter=xoauth2
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1

# --- 4. expired access token: the plugin refreshes, delivery succeeds ---
set_field expiry 1
# Make the old access token truly useless at the server too.
curl -s --cacert "$CA_FILE" -X POST -d "token=$AT1" "$TEST_REVOKE_AT_URL" >/dev/null
send "e2e-expired"
check "expired access token: refreshed and delivered" delivered "e2e-expired"
AT2=$(tokjq .access_token); RT2=$(tokjq .refresh_token); remember "$AT2"; remember "$RT2"
check "a new access token is on disk" test "$AT2" != "$AT1"
check "a later expiry is on disk" test "$(tokjq .expiry)" -gt "$now"
check "the refresh token rotated again" test "$RT2" != "$RT1"
is "$(refresh_ok)" "2" "two refreshes in all"
is "$(refresh_err)" "0" "no refresh was refused: an old (consumed) refresh token was never reused"

# --- 5. access token revoked before its expiry: fail once, then succeed ---
curl -s --cacert "$CA_FILE" -X POST -d "token=$AT2" "$TEST_REVOKE_AT_URL" >/dev/null
send "e2e-revoked-at"
wait_for 30 grep -q "refused the access token" "$PF_OUT_LOG"
like "$(grep 'refused the access token' "$PF_OUT_LOG" | tail -1)" "marked stale" "server refused the revoked access token: plugin logs it and marks it stale"
is "$(tokjq .expiry)" "0" "the refused access token is marked stale on disk"
flush
check "the next attempt refreshes and the mail is delivered" delivered "e2e-revoked-at" 40
AT3=$(tokjq .access_token); remember "$AT3"; remember "$(tokjq .refresh_token)"
check "after the retry a new access token is on disk" test "$AT3" != "$AT2"

# --- 6. revoked refresh token (grant revoked): deferred, not bounced; file untouched ---
RT3=$(tokjq .refresh_token)
curl -s --cacert "$CA_FILE" -u "$CLIENT_ID:$CLIENT_SECRET" \
	-d "token=$RT3" -d token_type_hint=refresh_token "$REVOCATION_ENDPOINT" >/dev/null
set_field expiry 1
sum_before=$(sha256sum "$TOKEN" | cut -d' ' -f1)
send "e2e-revoked-rt"
wait_for 30 grep -q "re-authorize" "$PF_OUT_LOG"
line=$(grep "re-authorize" "$PF_OUT_LOG" | tail -1)
like "$line" "invalid_grant" "revoked refresh token: log line names invalid_grant"
like "$line" "sasl-oauth2 authorize" "revoked refresh token: log line says how to re-authorize"
like "$line" "token.json" "revoked refresh token: log line names the token file"
sleep 1
is "$(sha256sum "$TOKEN" | cut -d' ' -f1)" "$sum_before" "revoked refresh token: token file byte-identical"
check "the mail stays queued (deferred)" test "$(queued)" -ge 1
unlike "$(cat "$PF_OUT_LOG")" "status=bounced" "nothing bounced"
like "$(grep 'e2e-revoked-rt\|status=deferred' "$PF_OUT_LOG" | tail -3)" "status=deferred" "Postfix logged status=deferred"

# --- 7. Cyrus smtptest and imtest, both mechanisms (interaction prompts) ---
json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID_POST" "$CLIENT_SECRET" post 2>/dev/null)
RTC=$(printf '%s' "$json" | jq -r .refresh_token); remember "$RTC"
CT="$T/client-token.json"
jq -n --arg rt "$RTC" --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID_POST" \
	'{refresh_token:$rt, token_endpoint:$ep, ca_bundle_file:$ca, client_id:$cid}' >"$CT"
chmod 600 "$CT"
# The client secret comes from the global config file this time.
printf '{"client_secret": "%s"}\n' "$CLIENT_SECRET" >"$T/client.conf"; chmod 600 "$T/client.conf"
for mech in XOAUTH2 OAUTHBEARER; do
	out=$(SASL_PATH="$T/plugin" SASL_OAUTH2_CONFIG="$T/client.conf" timeout 30 \
		"$SMTPTEST" -m "$mech" -a "$TEST_USER" -w "$CT" -t "" -p "$PF_IN_PORT" 127.0.0.1 </dev/null 2>&1)
	like "$out" "Authenticated" "smtptest -m $mech authenticates against Postfix smtpd"
	out=$(SASL_PATH="$T/plugin" SASL_OAUTH2_CONFIG="$T/client.conf" timeout 30 \
		"$IMTEST" -m "$mech" -a "$TEST_USER" -w "$CT" -t "" -p "$IMAP_PORT" 127.0.0.1 </dev/null 2>&1)
	like "$out" "Authenticated" "imtest -m $mech authenticates against Dovecot IMAP (STARTTLS)"
done
remember "$(jq -r .access_token "$CT")"
# A wrong user with a good token: Dovecot answers with the JSON challenge.
out=$(SASL_PATH="$T/plugin" SASL_OAUTH2_CONFIG="$T/client.conf" timeout 30 \
	"$IMTEST" -m OAUTHBEARER -a "other@example.test" -w "$CT" -t "" -p "$IMAP_PORT" 127.0.0.1 </dev/null 2>&1)
like "$out" "(NO|failed)" "imtest with the wrong user is refused after the error challenge is answered"
unlike "$out" "BAD" "the error challenge was answered correctly (no BAD / aborted exchange)"

# --- 8. no secret in any log ---
hits=0
while read -r s; do
	[ -n "$s" ] || continue
	for f in "$PF_OUT_LOG" "$PF_IN_LOG" "$DOVECOT_LOG" "$IDP_LOG"; do
		[ -f "$f" ] && grep -qF -- "$s" "$f" && { hits=$((hits + 1)); echo "# secret found in $f"; }
	done
done <"$SEEN_SECRETS"
is "$hits" "0" "no refresh or access token in the Postfix, Dovecot or provider logs ($(wc -l <"$SEEN_SECRETS") tokens checked)"

done_testing
