#!/bin/bash
# stack-smoke.sh [DIR] — TAP test of the end-to-end test stack itself (no
# plugin involved): the authorization server, Dovecot and both Postfix
# instances behave as the plugin's end-to-end tests assume.
#
# With DIR (a running stack: tests/stack/stack.sh start DIR) it sources
# DIR/stack.env and uses that stack.  Without it, it starts its own stack in a
# new directory under /tmp, stops it at the end, and removes the directory if
# every check passed (KEEP_STACK_DIR=1 keeps it).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stack_sh=$here/../stack/stack.sh

own=0
if [[ $# -ge 1 ]]; then
	DIR=$1
	if [[ ! -r "$DIR/stack.env" ]]; then
		echo "Bail out! no $DIR/stack.env (start the stack first: $stack_sh start $DIR)"
		exit 1
	fi
else
	own=1
	DIR=$(mktemp -d /tmp/sasl-oauth2-smoke.XXXXXX)
	# Our own stack has no plugin: pf-out's SASL_PATH is an empty directory.
	if ! env -u PLUGIN_DIR -u OA2_CONF "$stack_sh" start "$DIR" >"$DIR/stack-start.out" 2>&1; then
		echo "Bail out! stack did not start: $(tail -5 "$DIR/stack-start.out" | tr '\n' ' ')"
		"$stack_sh" stop "$DIR" >/dev/null 2>&1
		exit 1
	fi
fi
# shellcheck disable=SC1091
. "$DIR/stack.env"

n=0
failed=0
work=$(mktemp -d)

finish() {
	echo "1..$n"
	if ((own)); then
		"$stack_sh" stop "$DIR" >/dev/null 2>&1
		if ((failed == 0)) && [[ "${KEEP_STACK_DIR:-0}" != 1 ]]; then
			rm -rf "$DIR"
		else
			echo "# stack directory kept: $DIR (logs in $DIR/log)"
		fi
	fi
	rm -rf "$work"
}
trap finish EXIT

# check NAME COMMAND...: run COMMAND (a function), print TAP; its stderr and
# "diag" lines become # comments on failure.
check() {
	local name=$1 t0=${EPOCHREALTIME/./}
	shift
	n=$((n + 1))
	if "$@" >"$work/out" 2>&1; then
		echo "ok $n - $name"
		[[ "${SMOKE_TIMING:-0}" == 1 ]] && echo "#   $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name"
		sed 's/^/#   /' "$work/out"
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
diag() { echo "$*"; }

# curl against the idp with the test CA; -w status to stdout after the body file.
icurl() { curl -sS --max-time 10 --cacert "$CA_FILE" "$@"; }
# token_post OUTFILE ARGS...: POST to the token endpoint as mailclient (basic)
token_post() {
	local out=$1
	shift
	icurl -o "$out" -w '%{http_code}' -u mailclient:mailsecret "$@" "$TOKEN_ENDPOINT"
}
refresh() { # refresh OUTFILE RT -> http status
	token_post "$1" --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$2"
}
introspect() { # introspect TOKEN -> JSON
	icurl -u dovecot:dovecotsecret --data-urlencode "token=$1" "$INTROSPECTION_ENDPOINT"
}
jfield() { jq -r "$2 // empty" "$1"; }

# Every token this script sees, to prove that no log holds one.
seen_tokens=()
remember() { local t; for t in "$@"; do [[ -n "$t" ]] && seen_tokens+=("$t"); done; }

icurl -o /dev/null -X POST "$TEST_RESET_STATS_URL"
exp_rt_ok=0 exp_rt_err=0 exp_code_ok=0

# ------------------------------------------------------------------ 1
t_discovery() {
	icurl -o "$work/disc" "$DISCOVERY_URL" || return 1
	[[ "$(jfield "$work/disc" .issuer)" == "$IDP_URL" ]] || { diag "issuer $(jfield "$work/disc" .issuer)"; return 1; }
	[[ "$(jfield "$work/disc" .token_endpoint)" == "$TOKEN_ENDPOINT" ]] || { diag "token_endpoint mismatch"; return 1; }
	[[ "$(jfield "$work/disc" .introspection_endpoint)" == "$INTROSPECTION_ENDPOINT" ]] || return 1
	[[ "$(jfield "$work/disc" .device_authorization_endpoint)" == "$DEVICE_AUTHORIZATION_ENDPOINT" ]] || return 1
	# Without the test CA the certificate must not verify (curl 60).
	curl -s --max-time 5 -o /dev/null "$DISCOVERY_URL"
	local rc=$?
	[[ $rc -eq 60 ]] || { diag "curl without the test CA exited $rc, expected 60"; return 1; }
}
check "idp discovery over verified TLS" t_discovery

# ------------------------------------------------------------------ 2
t_authcode() {
	"$GET_REFRESH_TOKEN" "$TEST_USER" mailclient mailsecret >"$work/tok1" || return 1
	exp_code_ok=$((exp_code_ok + 1))
	RT1=$(jfield "$work/tok1" .refresh_token)
	AT1=$(jfield "$work/tok1" .access_token)
	remember "$RT1" "$AT1" "$(jfield "$work/tok1" .id_token)"
	[[ -n "$RT1" && -n "$AT1" ]] || { diag "no refresh/access token"; return 1; }
	[[ "$(jfield "$work/tok1" .token_type)" == Bearer ]] || return 1
	[[ "$(jfield "$work/tok1" .expires_in)" == "$AT_TTL" ]] || { diag "expires_in != AT_TTL"; return 1; }
	grep -q "interaction login client=mailclient account=$TEST_USER" "$IDP_LOG" || { diag "no login interaction logged"; return 1; }
	grep -q "interaction consent client=mailclient" "$IDP_LOG" || { diag "no consent interaction logged"; return 1; }
}
check "refresh token obtained by driving /auth, login and consent" t_authcode

# ------------------------------------------------------------------ 3
t_rotate() {
	local st
	st=$(refresh "$work/tok2" "$RT1") || return 1
	exp_rt_ok=$((exp_rt_ok + 1))
	[[ "$st" == 200 ]] || { diag "HTTP $st $(cat "$work/tok2")"; return 1; }
	RT2=$(jfield "$work/tok2" .refresh_token)
	AT2=$(jfield "$work/tok2" .access_token)
	remember "$RT2" "$AT2" "$(jfield "$work/tok2" .id_token)"
	[[ -n "$RT2" && "$RT2" != "$RT1" ]] || { diag "refresh token not rotated"; return 1; }
	[[ -n "$AT2" && "$AT2" != "$AT1" ]] || { diag "no new access token"; return 1; }
}
check "a refresh rotates the refresh token" t_rotate

# ------------------------------------------------------------------ 4
t_replay() {
	local st
	st=$(refresh "$work/replay" "$RT1") || return 1
	exp_rt_err=$((exp_rt_err + 1))
	[[ "$st" == 400 && "$(jfield "$work/replay" .error)" == invalid_grant ]] ||
		{ diag "reuse of the consumed RT: HTTP $st $(cat "$work/replay")"; return 1; }
	st=$(refresh "$work/killed" "$RT2") || return 1
	exp_rt_err=$((exp_rt_err + 1))
	[[ "$st" == 400 && "$(jfield "$work/killed" .error)" == invalid_grant ]] ||
		{ diag "the rotated RT survived the replay: HTTP $st"; return 1; }
}
check "reusing a consumed refresh token: invalid_grant, and the new one dies too" t_replay

# ------------------------------------------------------------------ 5
t_introspection() {
	"$GET_REFRESH_TOKEN" >"$work/tok3" || return 1
	exp_code_ok=$((exp_code_ok + 1))
	RT3=$(jfield "$work/tok3" .refresh_token)
	AT3=$(jfield "$work/tok3" .access_token)
	remember "$RT3" "$AT3" "$(jfield "$work/tok3" .id_token)"
	introspect "$AT3" >"$work/i_at" || return 1
	jq -e --arg u "$TEST_USER" '.active == true and .email == $u and .sub == $u and .client_id == "mailclient" and .token_type == "Bearer"' \
		"$work/i_at" >/dev/null || { diag "access token: $(cat "$work/i_at")"; return 1; }
	introspect "$RT3" >"$work/i_rt" || return 1
	jq -e '. == {active: false}' "$work/i_rt" >/dev/null || { diag "refresh token: $(cat "$work/i_rt")"; return 1; }
	introspect "not-a-token" | jq -e '.active == false' >/dev/null || return 1
}
check "introspection (as dovecot): access token active with email, refresh token inactive" t_introspection

# ------------------------------------------------------------------ 6
t_revoke_at() {
	local st
	st=$(icurl -o "$work/rev" -w '%{http_code}' --data-urlencode "token=$AT3" "$TEST_REVOKE_AT_URL") || return 1
	[[ "$st" == 200 ]] || { diag "revoke endpoint HTTP $st"; return 1; }
	introspect "$AT3" | jq -e '.active == false' >/dev/null || { diag "revoked AT still active"; return 1; }
	st=$(refresh "$work/tok4" "$RT3") || return 1
	exp_rt_ok=$((exp_rt_ok + 1))
	[[ "$st" == 200 ]] || { diag "refresh after AT revocation: HTTP $st $(cat "$work/tok4")"; return 1; }
	AT4=$(jfield "$work/tok4" .access_token)
	RT4=$(jfield "$work/tok4" .refresh_token)
	remember "$AT4" "$RT4" "$(jfield "$work/tok4" .id_token)"
	introspect "$AT4" | jq -e '.active == true' >/dev/null || { diag "new AT not active"; return 1; }
}
check "/__test/revoke-access-token kills only that access token; the refresh token still refreshes" t_revoke_at

# ------------------------------------------------------------------ 7
t_post_client() {
	"$GET_REFRESH_TOKEN" "$TEST_USER" mailclient-post mailsecret post >"$work/tokp" || return 1
	exp_code_ok=$((exp_code_ok + 1))
	local rt st
	rt=$(jfield "$work/tokp" .refresh_token)
	remember "$rt" "$(jfield "$work/tokp" .access_token)" "$(jfield "$work/tokp" .id_token)"
	[[ -n "$rt" ]] || return 1
	# The registered method only: Basic auth is refused for this client.
	st=$(icurl -o "$work/wrongm" -w '%{http_code}' -u mailclient-post:mailsecret \
		--data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$rt" "$TOKEN_ENDPOINT")
	exp_rt_err=$((exp_rt_err + 1))
	[[ "$st" == 401 && "$(jfield "$work/wrongm" .error)" == invalid_client ]] || { diag "basic for a post client: HTTP $st"; return 1; }
	st=$(icurl -o "$work/tokp2" -w '%{http_code}' --data-urlencode client_id=mailclient-post \
		--data-urlencode client_secret=mailsecret --data-urlencode grant_type=refresh_token \
		--data-urlencode "refresh_token=$rt" "$TOKEN_ENDPOINT")
	exp_rt_ok=$((exp_rt_ok + 1))
	remember "$(jfield "$work/tokp2" .access_token)" "$(jfield "$work/tokp2" .refresh_token)" "$(jfield "$work/tokp2" .id_token)"
	[[ "$st" == 200 ]] || { diag "client_secret_post refresh: HTTP $st"; return 1; }
}
check "client_secret_post client: code flow and refresh with the secret in the body only" t_post_client

# ------------------------------------------------------------------ 8
t_public_client() {
	local port=$((30000 + RANDOM % 20000)) rt
	REDIRECT_URI="http://127.0.0.1:$port/cb" "$GET_REFRESH_TOKEN" "$TEST_USER" mailclient-public "" >"$work/tokpub" || return 1
	exp_code_ok=$((exp_code_ok + 1))
	rt=$(jfield "$work/tokpub" .refresh_token)
	remember "$rt" "$(jfield "$work/tokpub" .access_token)" "$(jfield "$work/tokpub" .id_token)"
	[[ -n "$rt" ]] || return 1
	REDIRECT_URI="http://[::1]:$((port + 1))/cb" "$GET_REFRESH_TOKEN" "$TEST_USER" mailclient-public "" >"$work/tokpub6" || return 1
	exp_code_ok=$((exp_code_ok + 1))
	remember "$(jfield "$work/tokpub6" .refresh_token)" "$(jfield "$work/tokpub6" .access_token)" "$(jfield "$work/tokpub6" .id_token)"
	# A non-loopback host is refused even for a native client.
	if REDIRECT_URI="http://127.0.0.2:$port/cb" "$GET_REFRESH_TOKEN" "$TEST_USER" mailclient-public "" >/dev/null 2>&1; then
		diag "redirect to 127.0.0.2 was accepted"
		return 1
	fi
}
check "public native client: PKCE, any loopback port on 127.0.0.1 and [::1]" t_public_client

# ------------------------------------------------------------------ 9
t_device() {
	"$GET_TOKEN_DEVICE" "$TEST_USER" >"$work/tokd" || return 1
	local rt at
	rt=$(jfield "$work/tokd" .refresh_token)
	at=$(jfield "$work/tokd" .access_token)
	remember "$rt" "$at" "$(jfield "$work/tokd" .id_token)"
	[[ -n "$rt" && -n "$at" ]] || return 1
	introspect "$at" | jq -e --arg u "$TEST_USER" '.active == true and .email == $u' >/dev/null || return 1
	DEVICE_ABORT=1 "$GET_TOKEN_DEVICE" "$TEST_USER" >"$work/tokda" 2>/dev/null
	[[ "$(jfield "$work/tokda" .error)" == access_denied ]] || { diag "abort: $(cat "$work/tokda")"; return 1; }
}
check "device flow: approve gives tokens, abort gives access_denied" t_device

# ------------------------------------------------------------------ 10-13 IMAP
export SMOKE_AT=$AT4 SMOKE_RT=$RT4
t_imaps_ok() {
	[[ "$("$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --token-env SMOKE_AT)" == OK ]]
}
check "Dovecot IMAPS accepts XOAUTH2 with a valid access token" t_imaps_ok

t_imaps_bad() {
	local out rc
	out=$("$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --token "bad-$RANDOM")
	rc=$?
	[[ $rc -eq 1 ]] || { diag "exit $rc: $out"; return 1; }
	# the RFC 7628-style error challenge came before the NO
	jq -e --arg d "$DISCOVERY_URL" '.status == "401" and .["openid-configuration"] == $d' \
		<<<"${out#REFUSED }" >/dev/null || { diag "challenge: $out"; return 1; }
}
check "Dovecot IMAPS refuses a bad token after the JSON error challenge" t_imaps_bad

t_imap_oauthbearer() {
	[[ "$("$OAUTH_LOGIN" imap --port "$IMAP_PORT" --tls starttls --mech OAUTHBEARER --token-env SMOKE_AT)" == OK ]] || return 1
	local out
	out=$("$OAUTH_LOGIN" imap --port "$IMAP_PORT" --tls starttls --mech OAUTHBEARER --token "bad-$RANDOM")
	[[ "$out" == 'REFUSED {"status":"invalid_token"'* ]] || { diag "$out"; return 1; }
}
check "Dovecot IMAP STARTTLS: OAUTHBEARER accepted, bad token gets invalid_token" t_imap_oauthbearer

t_imap_rt_bearer() {
	local out
	out=$("$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --token-env SMOKE_RT)
	[[ "$out" == REFUSED* ]] || { diag "$out"; return 1; }
	out=$("$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --user other@example.test --token-env SMOKE_AT)
	[[ "$out" == REFUSED* ]] || { diag "wrong user: $out"; return 1; }
}
check "Dovecot refuses a refresh token as bearer and a token of another user" t_imap_rt_bearer

# ------------------------------------------------------------------ 14-15 pf-in
t_pf_in_tls_only() {
	python3 - "$PF_IN_PORT" "$CA_FILE" <<-'EOF'
		import smtplib, ssl, sys
		port, ca = int(sys.argv[1]), sys.argv[2]
		with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
		    s.ehlo("smoke.example.test")
		    if s.has_extn("auth"):
		        sys.exit("AUTH offered before STARTTLS")
		    if not s.has_extn("starttls"):
		        sys.exit("no STARTTLS")
		    s.starttls(context=ssl.create_default_context(cafile=ca))
		    s.ehlo("smoke.example.test")
		    mechs = (s.esmtp_features.get("auth") or "").upper().split()
		    if "XOAUTH2" not in mechs or "OAUTHBEARER" not in mechs:
		        sys.exit(f"AUTH after STARTTLS: {mechs}")
	EOF
}
check "pf-in:$PF_IN_PORT offers AUTH XOAUTH2 OAUTHBEARER only after STARTTLS" t_pf_in_tls_only

t_pf_in_deliver() {
	local subject="smoke pf-in $$ $RANDOM" out
	out=$("$OAUTH_LOGIN" smtp --port "$PF_IN_PORT" --tls starttls --token-env SMOKE_AT --send-subject "$subject") ||
		{ diag "$out"; return 1; }
	[[ "$(head -1 <<<"$out")" == OK ]] || return 1
	"$WAIT_DELIVERED" "$TEST_MAILDIR" "$subject" 10 >/dev/null
}
check "pf-in:$PF_IN_PORT accepts AUTH XOAUTH2 after STARTTLS and delivers into the Maildir" t_pf_in_deliver

# ------------------------------------------------------------------ 16
t_deny() {
	local rc
	"$GET_REFRESH_TOKEN" deny-me@example.test >"$work/deny" 2>&1
	rc=$?
	[[ $rc -eq 2 ]] || { diag "exit $rc: $(cat "$work/deny")"; return 1; }
	jq -e '.error == "access_denied" and .stage == "authorization"' "$work/deny" >/dev/null || { cat "$work/deny"; return 1; }
}
check "login_hint deny... gives access_denied at the redirect" t_deny

# ------------------------------------------------------------------ 17
t_stats() {
	icurl -o "$work/stats" "$TEST_STATS_URL" || return 1
	jq -e --argjson ok "$exp_rt_ok" --argjson err "$exp_rt_err" --argjson code "$exp_code_ok" \
		'.refresh_token.ok == $ok and .refresh_token.error == $err and .authorization_code.ok == $code' \
		"$work/stats" >/dev/null || { diag "expected refresh_token ok=$exp_rt_ok error=$exp_rt_err, authorization_code ok=$exp_code_ok; got $(cat "$work/stats")"; return 1; }
}
check "/__test/stats counts token requests by grant type and outcome" t_stats

# ------------------------------------------------------------------ 18
t_no_secrets_logged() {
	local t f bad=0
	[[ ${#seen_tokens[@]} -ge 10 ]] || { diag "only ${#seen_tokens[@]} tokens seen"; return 1; }
	for f in "$IDP_LOG" "$LOG_DIR"/idp.out; do
		[[ -e "$f" ]] || continue
		for t in "${seen_tokens[@]}" mailsecret dovecotsecret; do
			if grep -qF -- "$t" "$f"; then
				diag "$(basename "$f") contains a token or secret"
				bad=1
				break
			fi
		done
	done
	return $bad
}
check "the idp log holds no token or secret" t_no_secrets_logged

# ------------------------------------------------------------------ 19
t_pf_out_chain() {
	local subject="smoke pf-out $$ $RANDOM" i
	postconf -c "$PF_OUT_DIR" -M smtp/unix | awk '$5 == "y" { ok = 1 } END { exit !ok }' ||
		{ diag "smtp is not chrooted in pf-out's master.cf"; return 1; }
	"$SEND_MAIL" --subject "$subject" >/dev/null || return 1
	for ((i = 0; i < 100; i++)); do
		grep -q "status=deferred (SASL authentication failed; cannot authenticate to server 127.0.0.1\[127.0.0.1\]: no mechanism available)" "$PF_OUT_LOG" && break
		sleep 0.1
	done
	((i < 100)) || { diag "no SASL deferral in $PF_OUT_LOG"; tail -5 "$PF_OUT_LOG"; return 1; }
	grep -q "Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$PF_IN_PORT" "$PF_OUT_LOG" ||
		{ diag "no verified TLS to pf-in"; return 1; }
	postsuper -c "$PF_OUT_DIR" -d ALL >/dev/null 2>&1
	return 0
}
if compgen -G "$PLUGIN_DIR/*.so" >/dev/null; then
	skip "pf-out (chrooted smtp) reaches AUTH: deferred for lack of a mechanism" "a plugin is installed in PLUGIN_DIR"
else
	check "pf-out (chrooted smtp) reaches AUTH over verified TLS: deferred for lack of a mechanism" t_pf_out_chain
fi

((failed == 0))
