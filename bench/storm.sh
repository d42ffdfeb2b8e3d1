#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Concurrency, long form (issue 3, item 2).  TAP.
#   1. the CI storm (tests/e2e/storm.sh): 64 processes at once, expired token
#   2. a soak: PROCS (64) processes x AUTHS (100) authentications each, spread
#      over SOAK_SECONDS (600), all on one token file, against the real stack
#      with AT_TTL (60) s access tokens: Cyrus smtptest -> Postfix smtpd ->
#      Dovecot -> introspection at oidc-provider (rotation + reuse detection).
#      0 failures; about one refresh per access token lifetime minus the
#      refresh window, never two for one expiry; the grant survives.
# Prints: soak: auths N, failures N, refresh requests N (refused N),
#         grant alive: yes
# Env: BUILD, PROCS, AUTHS, SOAK_SECONDS, AT_TTL, WINDOW (20), KEEP=1,
#      PORT_OFFSET (20000), SKIP_STORM=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/tests/lib/tap.sh"
BUILD=${BUILD:-$top/_build}
PROCS=${PROCS:-64}
AUTHS=${AUTHS:-100}
SOAK_SECONDS=${SOAK_SECONDS:-600}
export AT_TTL=${AT_TTL:-60}
WINDOW=${WINDOW:-20}
export PORT_OFFSET=${PORT_OFFSET:-20000}
DRIVER=$BUILD/tests/sasl-driver

if [ -z "${SKIP_STORM:-}" ]; then
	echo "# --- the storm (tests/e2e/storm.sh) ---"
	BUILD=$BUILD PROCS=$PROCS bash "$top/tests/e2e/storm.sh" | sed -e 's/^ok /# storm: ok /' \
		-e 's/^not ok /# storm: NOT OK /' -e 's/^1\.\./# storm plan 1../'
	storm_rc=${PIPESTATUS[0]}
	is "$storm_rc" 0 "the storm passes (tests/e2e/storm.sh)"
fi

echo "# --- the soak: $PROCS processes x $AUTHS auths over $SOAK_SECONDS s, access tokens live $AT_TTL s ---"
T=$(mktemp -d /tmp/oa2-soak.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin" "$T/res"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
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
_tap 0 "stack starts (AT_TTL $AT_TTL s)"

TOKEN=$T/tok/token.json
mkdir -m 700 "$T/tok"
printf '{"connect_timeout": 5, "timeout": 15, "refresh_window": %d, "log_level": "notice"}\n' \
	"$WINDOW" >"$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf
json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent.err")
{ printf '%s\n' "$json"; printf '{"client_secret":"%s"}\n' "$CLIENT_SECRET"; } |
	jq -s --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID" --arg u "$TEST_USER" \
	'.[0] + .[1] | {refresh_token, user:$u, token_endpoint:$ep, ca_bundle_file:$ca, client_id:$cid,
	  client_secret, client_auth:"basic"}' >"$TOKEN"
chmod 600 "$TOKEN"
curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null

# worker P - AUTHS authentications, evenly spaced, phase-shifted by P
worker() {
	local p=$1 j now due out rc
	local step_us=$((SOAK_SECONDS * 1000000 / AUTHS))
	local start=$((T0 + step_us * p / PROCS))
	for ((j = 0; j < AUTHS; j++)); do
		due=$((start + j * step_us))
		now=${EPOCHREALTIME/./}
		[ "$due" -gt "$now" ] && sleep "$(printf '%d.%06d' $(((due - now) / 1000000)) $(((due - now) % 1000000)))"
		out=$(SASL_PATH="$T/plugin" timeout 60 "$SMTPTEST" -m XOAUTH2 -a "$TEST_USER" -w "$TOKEN" \
			-t "" -p "$PF_IN_PORT" 127.0.0.1 </dev/null 2>&1)
		if printf '%s' "$out" | grep -q '^Authenticated'; then
			echo "${EPOCHREALTIME} ok"
		else
			echo "${EPOCHREALTIME} fail"
			printf '%s\n' "$out" | tail -4 | sed "s/^/  [$p.$j] /" >>"$T/failures.txt"
		fi
	done >"$T/res/$p"
}
T0=${EPOCHREALTIME/./}
for ((p = 0; p < PROCS; p++)); do
	worker "$p" &
done
wait
secs=$(((${EPOCHREALTIME/./} - T0) / 1000000))

total=$(cat "$T"/res/* | wc -l)
fails=$(cat "$T"/res/* | grep -c ' fail$')
stats=$(curl -s --cacert "$CA_FILE" "$TEST_STATS_URL")
req=$(printf '%s' "$stats" | jq -r '.refresh_token.ok // 0')
refused=$(printf '%s' "$stats" | jq -r '.refresh_token.error // 0')
is "$total" $((PROCS * AUTHS)) "all $((PROCS * AUTHS)) authentications ran ($secs s)"
is "$fails" 0 "0 failures"
[ "$fails" -gt 0 ] && head -20 "$T/failures.txt" | sed 's/^/# /'
is "$refused" 0 "no refresh request refused (no refresh token used twice)"
# One refresh each time the token enters the refresh window, plus the first.
expect=$((secs / (AT_TTL - WINDOW) + 1))
check "refresh requests ($req) about one per $((AT_TTL - WINDOW)) s: at most $((expect + 2))" test "$req" -le $((expect + 2))
check "and at least $((expect > 2 ? expect - 2 : 1))" test "$req" -ge $((expect > 2 ? expect - 2 : 1))
jq '.expiry = "1"' "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN" && rm -f "$T/edit.json"
grant=no
"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN" 2>/dev/null |
	grep -q '^start: another step is needed in authentication ' && grant=yes
is "$grant" yes "the grant survives: a refresh with the refresh token on disk works"
is "$(stat -c %a "$TOKEN")" 600 "token file mode still 0600"
is "$(find "$T/tok" -name '*.tmp.*' | wc -l)" 0 "no temporary file left"
echo "# soak: auths $total, failures $fails, refresh requests $req (refused $refused), grant alive: $grant" \
	"($PROCS processes x $AUTHS auths in $secs s, access tokens live $AT_TTL s, refresh window $WINDOW s)"
done_testing
