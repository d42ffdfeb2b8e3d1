#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# short-tokens.sh - access tokens that live no longer than the refresh
# window, with the settings users run (no refresh_window anywhere: 300 s).
# For access-token lifetimes (the provider's AT_TTL) of 60, 300 and 3600 s:
#   - a token file written by another program (no "expires_in"), its access
#     token expired: PROCS (64) plugin processes at once make exactly one
#     request to the token endpoint, all authenticate, the grant survives
#     (oidc-provider rotates refresh tokens and revokes the grant on reuse);
#   - then 10 logins one after another make no request while the token is
#     valid: the window in effect is at most half the stored lifetime.
# Before the adaptive window, AT_TTL 60 and 300 made 64 serialized requests
# (each process took the lock, found the new token "inside the window" and
# refreshed again), and every later login refreshed too.  TAP.
# Env: PROCS (64), TTLS ("60 300 3600"), BUILD, KEEP=1, PORT_OFFSET (21000).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
PROCS=${PROCS:-64}
TTLS=${TTLS:-60 300 3600}
export PORT_OFFSET=${PORT_OFFSET:-21000}
T=$(mktemp -d /tmp/oa2-short.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
DRIVER=$BUILD/tests/sasl-driver
STACK=

cleanup() {
	[ -n "$STACK" ] && bash "$top/tests/stack/stack.sh" stop "$STACK" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$here/../lib/storm-common.bash"

# The configuration users run: nothing about the window.
printf '{"log_level": "notice"}\n' >"$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf
login() { "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" 2>/dev/null |
	grep -q '^start: another step is needed in authentication '; }

for ttl in $TTLS; do
	STACK=$T/stack-$ttl
	if ! AT_TTL=$ttl bash "$top/tests/stack/stack.sh" start "$STACK" >"$T/start-$ttl.log" 2>&1; then
		_tap 1 "AT_TTL $ttl: the stack starts"; sed 's/^/# /' "$T/start-$ttl.log" | tail -10
		continue
	fi
	. "$STACK/stack.env"
	TOKEN=$T/tok-$ttl/token.json
	mkdir -m 700 "$T/tok-$ttl"
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent-$ttl.err")
	# As another program writes it: no expires_in, the access token expired.
	{ printf '%s\n' "$json"; printf '{"client_secret":"%s"}\n' "$CLIENT_SECRET"; } |
		jq -s --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID" --arg u "$TEST_USER" \
		'.[0] + .[1] | {refresh_token, access_token, expiry: "1", user:$u, token_endpoint:$ep,
		  ca_bundle_file:$ca, client_id:$cid, client_secret, client_auth:"basic"}' >"$TOKEN"
	chmod 600 "$TOKEN"
	check "AT_TTL $ttl: a token file without expires_in" bash -c "! jq -e 'has(\"expires_in\")' '$TOKEN'"
	expire
	reset_stats
	storm "storm-$ttl" "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN"
	succ=$(cat "$T/storm-$ttl"/out.* | grep -c '^start: another step is needed in authentication ')
	req=$(ok_count)
	is "$req" 1 "AT_TTL $ttl: $PROCS processes on an expired token make exactly one request"
	is "$succ" "$PROCS" "AT_TTL $ttl: all $PROCS authenticate ($STORM_MS ms)"
	is "$(err_count)" 0 "AT_TTL $ttl: no refresh refused (no refresh token used twice)"
	is "$(jq -r .expires_in "$TOKEN")" "$ttl" "AT_TTL $ttl: the refresh stored the lifetime (expires_in)"
	for i in $(seq 1 10); do login || echo "login $i failed" >>"$T/seq-$ttl.err"; done
	is "$(cat "$T/seq-$ttl.err" 2>/dev/null | wc -l)" 0 "AT_TTL $ttl: 10 logins one after another succeed"
	is "$(ok_count)" 1 "AT_TTL $ttl: and make no further request while the token is valid"
	grant=no
	expire
	login && grant=yes
	is "$grant" yes "AT_TTL $ttl: the grant survives (a refresh with the token on disk works)"
	is "$(err_count)" 0 "AT_TTL $ttl: still no refused refresh"
	echo "# AT_TTL $ttl: requests $req for $PROCS concurrent logins, $(( $(ok_count) - req - 1 )) for 10 sequential ones"
	bash "$top/tests/stack/stack.sh" stop "$STACK" >/dev/null 2>&1
	STACK=
done
done_testing
