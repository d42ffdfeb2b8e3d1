#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault matrix at the token endpoint (issue 3, item 3).  TAP.
#
# Our fault server (tests/fault-server) misbehaves on cue; the plugin, loaded
# by libsasl2 through tests/sasl-driver exactly as Postfix loads it, must
# refresh an expired access token through it.  For each fault: the SASL
# result (temporary ones: SASL_TRYAGAIN, which Postfix defers on; a dead
# refresh token: SASL_EXPIRED, re-authorize), one named line of error text
# (asserted), the token file byte-identical (sha256), no secret in any
# output, and a bounded time: connect_timeout 2 s and timeout 3 s (config
# file given by SASL_OAUTH2_CONFIG) hold.
#
# Connect timeout, honestly, on loopback: a listener whose accept queue the
# fault server fills itself and never accepts from; Linux then drops new SYNs,
# so connect() waits in SYN-SENT until the client gives up.  The handshake
# timeout: a listener that accepts TCP and never says a word.  DNS failure: a
# host under .invalid (RFC 6761).  Wrong host name: a certificate from the
# trusted test CA for another name.  Unknown CA: a certificate from a CA of
# its own.
#
# Through Postfix (pf-out, chrooted smtp client with the plugin): while the
# endpoint answers 503, and then a non-JSON page, the mail is deferred (not
# bounced) and the token file does not change; once the endpoint works again
# (it relays to oidc-provider) the queue is flushed and the mail is delivered.
# Env: BUILD, KEEP=1, PORT_OFFSET (20000).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
. "$top/tests/fault-server/fault-server.bash"
BUILD=${BUILD:-$top/_build-test/gcc}
DRIVER=$BUILD/tests/sasl-driver
export PORT_OFFSET=${PORT_OFFSET:-20000}
T=$(mktemp -d /tmp/oa2-faults.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin" "$T/tok"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
CONNECT_TIMEOUT=2 TIMEOUT=3
printf '{"connect_timeout": %d, "timeout": %d, "refresh_window": 20, "log_level": "notice"}\n' \
	$CONNECT_TIMEOUT $TIMEOUT >"$T/oa2.conf"
chmod 644 "$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf

cleanup() {
	fs_stop
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if ! PLUGIN_DIR="$T/plugin" OA2_CONF="$T/oa2.conf" \
	bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts"; sed 's/^/# /' "$T/stack-start.log" | tail -20
	done_testing; exit 1
fi
. "$T/stack/stack.env"
if ! bash "$top/tests/fault-server/make-certs.sh" "$CA_FILE" "$STACK_DIR/pki/ca.key" "$T/certs" ||
	! fs_start "$T/fs" --cert "$SERVER_CERT" --key "$STACK_DIR/pki/server.key" \
		--wrong-cert "$T/certs/wrong.pem" --wrong-key "$T/certs/wrong.key" \
		--unknown-cert "$T/certs/unknown.pem" --unknown-key "$T/certs/unknown.key" \
		--upstream "$TOKEN_ENDPOINT" --upstream-ca "$CA_FILE"; then
	_tap 1 "fault server starts"; sed 's/^/# /' "$T/fs/server.out" | tail
	done_testing; exit 1
fi
_tap 0 "stack and fault server are up"
check "sasl-driver is built" test -x "$DRIVER"

RT=$(fs_grant "$CA_FILE")
OLD_AT=old-access-token-$RANDOM$RANDOM
# token_file NAME URL [EXPIRY] - a token file whose access token is due
token_file() {
	local f=$T/tok/$1.json
	# Secrets go through a pipe, never on a command line.
	printf '%s\n%s\n' "$RT" "$OLD_AT" | jq -Rn --arg ep "$2" --arg ca "$CA_FILE" \
		--arg exp "${3:-1}" --arg u "$TEST_USER" \
		'[inputs] as [$rt, $at] | {refresh_token:$rt, access_token:$at, expiry:$exp, user:$u,
		  token_endpoint:$ep, ca_bundle_file:$ca, client_id:"fault-client",
		  client_secret:"fault-secret"}' >"$f"
	chmod 600 "$f"
	echo "$f"
}

# drive FILE - one exchange; sets OUT (stdout+stderr) and MS (elapsed)
drive() {
	local t0
	t0=${EPOCHREALTIME/./}
	OUT=$("$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$1" 2>&1)
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

# no_secret TEXT - none of the secrets (kept in a 0600 file, not in argv) in TEXT
printf '%s\n%s\nfault-secret\n' "$RT" "$OLD_AT" >"$T/secrets"
chmod 600 "$T/secrets"
no_secret() { ! printf '%s' "$1" | grep -qFf "$T/secrets"; }

SUMMARY=()
# fault NAME URL RESULT CODE PATTERN MAX_MS - one row of the matrix
fault() {
	local name=$1 url=$2 result=$3 code=$4 pat=$5 max=$6 f sum detail
	f=$(token_file "$name" "$url")
	sum=$(sha256sum "$f" | cut -d' ' -f1)
	drive "$f"
	detail=$(printf '%s\n' "$OUT" | sed -n 's/^detail: //p')
	like "$OUT" "^start: $result( \(.*\))?(, has to be reset)? -\$" "$name: SASL result \"$result\""
	like "$detail" "$pat" "$name: the error line says what happened"
	like "$detail" "^SASL\([-0-9]+\): [^:]+: sasl-oauth2: $f: .*\(see: sasl-oauth2 explain $code\)\$" \
		"$name: one line, naming the file and the code ($code)"
	is "$(printf '%s\n' "$OUT" | grep -c "$f")" 2 "$name: logged once (plus the detail line)"
	is "$(sha256sum "$f" | cut -d' ' -f1)" "$sum" "$name: token file byte-identical"
	check "$name: done in ${MS} ms (at most $max ms)" test "$MS" -le "$max"
	check "$name: no token or secret in any output" no_secret "$OUT"
	SUMMARY+=("$(printf '%-16s %-24s %5d ms  %s' "$name" "$result" "$MS" "${detail#*sasl-oauth2: "$f": }")")
}

P=$FS_PORT_HTTPS
TEMP="transient failure" EXPIRED="passphrase expired" BADAUTH="authentication failure"
BADPROT="bad protocol / cancel"
FAST=1500					# ms: no timeout involved
CT_MAX=$(((CONNECT_TIMEOUT + 1) * 1000))	# connect timeout + 1 s
TO_MAX=$(((TIMEOUT + 1) * 1000))		# total timeout + 1 s

# The control case: the same files work against a well-behaved endpoint.
f=$(token_file control "$(fs_url google)")
drive "$f"
like "$OUT" "^start: another step is needed in authentication " "control: a good endpoint refreshes and the exchange starts"
check "control: the new access token is on disk" test "$(jq -r .access_token "$f")" != "$OLD_AT"

# (With net.ipv4.tcp_abort_on_overflow=1 the kernel would answer RST instead.)
if [ "$(cat /proc/sys/net/ipv4/tcp_abort_on_overflow 2>/dev/null)" = 1 ]; then
	skip "connect-timeout" "net.ipv4.tcp_abort_on_overflow=1: a full backlog resets"
else
	fault connect-timeout "$(fs_url google "$FS_PORT_BACKLOG")" "$TEMP" timeout \
		"did not answer within $CONNECT_TIMEOUT s: Failed to connect .* after 2[0-9]{3} ms" $CT_MAX
fi
# libcurl's connect timeout covers the TLS handshake too.
fault tls-hang "$(fs_url google "$FS_PORT_NOHANDSHAKE")" "$TEMP" timeout \
	"did not answer within $CONNECT_TIMEOUT s: SSL connection timeout" $CT_MAX
fault read-hang "$(fs_url hang)" "$TEMP" timeout "did not answer within $TIMEOUT s" $TO_MAX
fault trickle "$(fs_url trickle)" "$TEMP" timeout "did not answer within $TIMEOUT s" $TO_MAX
fault reset "$(fs_url reset)" "$TEMP" network "cannot reach the token endpoint 127.0.0.1:$P: .*(reset|Recv failure)" $FAST
fault cut "$(fs_url cut)" "$TEMP" network "cannot reach the token endpoint .*(transfer closed|bytes remaining)" $FAST
fault http-500 "$(fs_url 500)" "$TEMP" http_500 "token endpoint answered HTTP 500; temporary" $FAST
fault http-503 "$(fs_url 503)" "$TEMP" http_503 "token endpoint answered HTTP 503; temporary" $FAST
fault server_error "$(fs_url server_error)" "$TEMP" server_error \
	"refused the request \(HTTP 500\): server_error .*temporary" $FAST
fault invalid_grant "$(fs_url invalid_grant)" "$EXPIRED" invalid_grant \
	"HTTP 400\): invalid_grant \(\"Token has been expired or revoked.\"\); the refresh token is dead .*re-authorize with: sasl-oauth2 authorize" $FAST
fault invalid_client "$(fs_url invalid_client)" "$BADAUTH" invalid_client \
	"HTTP 401\): invalid_client .*does not accept this client_id/client_secret" $FAST
fault not-json "$(fs_url notjson)" "$BADPROT" bad_response "reply is not JSON \(line 1" $FAST
fault truncated "$(fs_url truncated)" "$BADPROT" bad_response "reply is truncated JSON" $FAST
fault 10MB-body "$(fs_url huge)" "$BADPROT" too_large "sent a reply larger than the limit" $FAST
fault no-access_token "$(fs_url noaccess)" "$BADPROT" bad_response "reply has no access_token" $FAST
fault unknown-CA "$(fs_url google "$FS_PORT_UNKNOWNCA")" "$BADAUTH" tls \
	"TLS certificate of 127.0.0.1:$FS_PORT_UNKNOWNCA not accepted: .*(certificate|issuer)" $FAST
fault wrong-host "$(fs_url google "$FS_PORT_WRONGNAME")" "$BADAUTH" tls \
	"TLS certificate of 127.0.0.1:$FS_PORT_WRONGNAME not accepted: .*(subject name|host name|does not match)" $FAST
fault dns "https://token-endpoint.invalid/token" "$TEMP" dns \
	"cannot resolve the token endpoint host token-endpoint.invalid" $CT_MAX

# A temporary failure while the stored access token is still valid (only
# inside the refresh window): that token is used, mail keeps flowing.
f=$(token_file stale-ok "$(fs_url 503)" $(($(date +%s) + 15)))
sum=$(sha256sum "$f" | cut -d' ' -f1)
drive "$f"
like "$OUT" "^start: another step is needed in authentication " "503 inside the refresh window: the still-valid access token is used"
like "$OUT" "answered HTTP 503.*using the current access token, valid for [0-9]+ more s" "503 inside the refresh window: a warning says so"
is "$(sha256sum "$f" | cut -d' ' -f1)" "$sum" "503 inside the refresh window: token file byte-identical"

echo "# fault matrix (connect_timeout $CONNECT_TIMEOUT s, timeout $TIMEOUT s):"
for s in "${SUMMARY[@]}"; do echo "#   $s"; done

# ------------------------------------------------------------ through Postfix
json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent.err")
PF_TOKEN=$PF_OUT_TOKEN_DIR/token.json
{ printf '%s\n' "$json"; printf '{"client_secret":"%s"}\n' "$CLIENT_SECRET"; } |
	jq -s --arg ep "$(fs_url switch)" --arg ca "$PF_OUT_CA_IN_CHROOT" --arg cid "$CLIENT_ID" \
	--arg u "$TEST_USER" '.[0] + .[1] | {refresh_token, user:$u, token_endpoint:$ep,
	  ca_bundle_file:$ca, client_id:$cid, client_secret, client_auth:"basic"}' >"$PF_TOKEN"
chown postfix:postfix "$PF_TOKEN"
chmod 600 "$PF_TOKEN"
echo "[127.0.0.1]:$PF_IN_PORT $TEST_USER:$PF_OUT_TOKEN_DIR_IN_CHROOT/token.json" >"$PF_OUT_SASL_PASSWD"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
fs_switch "$CA_FILE" 503
sum=$(sha256sum "$PF_TOKEN" | cut -d' ' -f1)
before=$(fs_total "$CA_FILE")
python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from sender@example.test --to "$TEST_USER" \
	--subject fault-503 >/dev/null 2>&1
deferred() { grep -q "status=deferred" "$PF_OUT_LOG"; }
check "503 phase: Postfix defers the mail" wait_for 30 deferred
line=$(grep "status=deferred" "$PF_OUT_LOG" | head -1)
like "$line" "dsn=4\.[0-9.]+" "503 phase: the delivery status is temporary (4.x.x): $(printf '%s' "$line" | grep -o 'dsn=[0-9.]*')"
like "$(grep 'sasl-oauth2' "$PF_OUT_LOG" | head -3)" "answered HTTP 503; temporary" "503 phase: pf-out's log has the plugin's line"
unlike "$(cat "$PF_OUT_LOG")" "status=bounced" "503 phase: nothing bounced"
check "503 phase: the fault server saw the refresh attempt" test "$(fs_total "$CA_FILE")" -gt "$before"
is "$(postqueue -c "$PF_OUT_DIR" -j 2>/dev/null | jq -r .queue_name | sort -u | tr '\n' ' ')" "deferred " \
	"503 phase: the mail sits in the deferred queue"
is "$(sha256sum "$PF_TOKEN" | cut -d' ' -f1)" "$sum" "503 phase: token file byte-identical"
# A reply that is not JSON (SASL_BADPROT): Postfix defers on it too.
fs_switch "$CA_FILE" notjson
postqueue -c "$PF_OUT_DIR" -f >/dev/null 2>&1
check "non-JSON phase: the retry meets the non-JSON reply" wait_for 30 grep -q "reply is not JSON" "$PF_OUT_LOG"
deferred2() { [ "$(grep -c 'status=deferred' "$PF_OUT_LOG")" -ge 2 ]; }
check "non-JSON phase: deferred again" wait_for 30 deferred2
like "$(grep 'status=deferred' "$PF_OUT_LOG" | tail -1)" "dsn=4\.7\.0, status=deferred \(SASL authentication failed; .*bad protocol" \
	"non-JSON phase: temporary (4.7.0), with SASL's \"bad protocol\""
is "$(sha256sum "$PF_TOKEN" | cut -d' ' -f1)" "$sum" "non-JSON phase: token file byte-identical"
unlike "$(cat "$PF_OUT_LOG")" "status=bounced" "non-JSON phase: nothing bounced"
# The fault clears: the endpoint relays to oidc-provider again.
fs_switch "$CA_FILE" pass
postqueue -c "$PF_OUT_DIR" -f >/dev/null 2>&1
check "after the fault clears and the queue is flushed, the mail is delivered" \
	bash "$WAIT_DELIVERED" "$TEST_MAILDIR" fault-503 40
is "$(postqueue -c "$PF_OUT_DIR" -j 2>/dev/null | wc -l)" 0 "the queue is empty"
check "the refreshed access token is on disk" test -n "$(jq -r '.access_token // empty' "$PF_TOKEN")"
is "$(stat -c '%U %a' "$PF_TOKEN")" "postfix 600" "the token file is still postfix's, mode 0600"
unlike "$(cat "$PF_OUT_LOG")" "status=bounced" "nothing bounced at any time"

done_testing
