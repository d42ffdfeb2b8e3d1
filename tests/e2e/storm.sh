#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Concurrency (issue 3, item 2).  TAP.
#
# N (64) processes authenticate at the same moment with one token file whose
# access token has expired (and is revoked at the server), against the real
# oidc-provider: rotation on every refresh, and reuse of a consumed refresh
# token revokes the whole grant.  Exactly one refresh request may reach the
# token endpoint, all N must authenticate, and the grant must survive.
#   round 1: N sasl-driver processes (the plugin through libsasl2, as Postfix
#            drives it); the N initial responses carry one access token, and
#            that token logs in to Dovecot.
#   round 2: N Cyrus smtptest processes AUTH against Postfix smtpd (pf-in),
#            which asks Dovecot, which introspects at oidc-provider.
# A gate (flock) holds every process until all of them are started.
# Prints: storm: requests N, successes N/64, grant alive: yes
# Env: PROCS (64), BUILD, KEEP=1, PORT_OFFSET (20000).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
PROCS=${PROCS:-64}
export PORT_OFFSET=${PORT_OFFSET:-20000}
T=$(mktemp -d /tmp/oa2-storm.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
DRIVER=$BUILD/tests/sasl-driver

cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if ! bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts"; sed 's/^/# /' "$T/stack-start.log" | tail -20
	done_testing; exit 1
fi
. "$T/stack/stack.env"
_tap 0 "stack starts (oidc-provider with rotation and reuse detection, Dovecot, Postfix)"
check "sasl-driver is built" test -x "$DRIVER"

TOKEN=$T/tok/token.json
mkdir -m 700 "$T/tok"
# Access tokens live 60 s (AT_TTL): the refresh window must be shorter.
printf '{"log_level": "debug", "connect_timeout": 5, "timeout": 15, "refresh_window": 20}\n' >"$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf

json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent.err")
{ printf '%s\n' "$json"; printf '{"client_secret":"%s"}\n' "$CLIENT_SECRET"; } |
	jq -s --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID" --arg u "$TEST_USER" \
	'.[0] + .[1] | {refresh_token, access_token, expiry: "1", user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:$cid, client_secret, client_auth:"basic"}' >"$TOKEN"
chmod 600 "$TOKEN"
like "$(jq -r .refresh_token "$TOKEN")" '^[A-Za-z0-9_-]{20,}$' "a refresh token from the provider's login and consent pages"

. "$here/../lib/storm-common.bash"
alive() {
	# A refresh with what is on disk: works only if the grant was not revoked.
	expire
	"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" 2>/dev/null | grep -q '^start: another step is needed in authentication '
}

# --- round 1: sasl-driver processes ---
"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" >/dev/null 2>&1	# first access token
expire
reset_stats
storm driver "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN"
succ=$(cat "$T"/driver/out.* | grep -c '^start: another step is needed in authentication ')
req=$(ok_count); errs=$(err_count)
is "$req" 1 "sasl-driver x $PROCS at once, access token expired: exactly one refresh request reached oidc-provider"
is "$errs" 0 "no refresh request was refused (no refresh token was used twice)"
is "$succ" "$PROCS" "all $PROCS processes produced an initial response ($STORM_MS ms)"
is "$(cat "$T"/driver/err.* | grep -c 'access token refreshed')" 1 "exactly one process logged a refresh"
echo "# $(cat "$T"/driver/err.* | grep -c 'another process refreshed') processes waited for the lock, read the file again and used the new token"
# The N initial responses carry one access token, and it is good at Dovecot.
tokens=$(sed -n 's/^start: another step is needed in authentication //p' "$T"/driver/out.* | sort -u)
is "$(printf '%s\n' "$tokens" | grep -c .)" 1 "the $PROCS initial responses all carry the same (new) access token"
AT=$(printf '%s' "$tokens" | head -1 | base64 -d 2>/dev/null | tr '\001' '\n' | sed -n 's/^auth=Bearer //p')
is "$AT" "$(jq -r .access_token "$TOKEN")" "it is the access token now on disk"
out=$(AT="$AT" python3 "$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --user "$TEST_USER" \
	--token-env AT --mech XOAUTH2 --ca "$CA_FILE" 2>&1)
is "$out" OK "that access token logs in to Dovecot IMAP (introspection at oidc-provider)"
unset AT
grant=no; alive && grant=yes
is "$grant" yes "the grant survives: a refresh with the refresh token on disk works"
is "$(err_count)" 0 "still no refused refresh request"
echo "# storm: requests $req, successes $succ/$PROCS, grant alive: $grant (sasl-driver, $STORM_MS ms)"

# --- round 2: smtptest processes against Postfix smtpd -> Dovecot -> oidc-provider ---
expire
reset_stats
storm smtptest env SASL_PATH="$T/plugin" timeout 60 "$SMTPTEST" -m XOAUTH2 -a "$TEST_USER" \
	-w "$TOKEN" -t "" -p "$PF_IN_PORT" 127.0.0.1
succ=$(grep -l 'Authenticated' "$T"/smtptest/out.* 2>/dev/null | wc -l)
req=$(ok_count); errs=$(err_count)
is "$req" 1 "smtptest x $PROCS at once against Postfix: exactly one refresh request"
is "$errs" 0 "no refresh request was refused"
is "$succ" "$PROCS" "all $PROCS smtptest processes authenticated at Postfix smtpd ($STORM_MS ms)"
if [ "$succ" != "$PROCS" ]; then
	for f in "$T"/smtptest/out.*; do
		grep -q Authenticated "$f" || { tail -3 "$f" | sed 's/^/# /'; break; }
	done
fi
grant=no; alive && grant=yes
is "$grant" yes "the grant survives"
is "$(err_count)" 0 "still no refused refresh request"
is "$(stat -c %a "$TOKEN")" 600 "token file mode still 0600"
is "$(find "$T/tok" -name '*.tmp.*' | wc -l)" 0 "no temporary file left"
echo "# storm: requests $req, successes $succ/$PROCS, grant alive: $grant (smtptest via Postfix and Dovecot, $STORM_MS ms)"

done_testing
