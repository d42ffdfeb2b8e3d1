#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input everywhere gets a clear error: one line that says what is wrong
# and where, through the plugin as libsasl2 loads it (tests/sasl-driver).
#
#   Configuration file (SASL_OAUTH2_CONFIG): not JSON, a client secret in a
#   syntax error (never quoted back), not an object, wrong types, a bad log
#   level, a duplicate setting, control bytes in an unknown name, empty, a
#   directory, over 64 KiB, world-readable with a client secret, unreadable.
#   Oversized inputs: a token file over 64 KiB, an access token over 16 KiB
#   in the file and from the token endpoint, a token endpoint reply over its
#   256 KiB cap, a rotated refresh token too big to store, a 100 KiB
#   error_description with line breaks, JSON nested 100,000 deep, a user name
#   over 1 KiB, a 4 KiB token file path, a 60 KiB server error challenge.
#
# The token endpoint here is a small HTTPS server of this test (python3, a
# throw-away self-signed certificate), because the real provider cannot send
# such replies.  Token-file cases the plugin already covers
# (tests/e2e/plugin-files.sh, tests/unit/test-tokfile.c) are not repeated.
# TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
DRIVER="$BUILD/tests/sasl-driver"
T=$(mktemp -d /tmp/oa2-badinput.XXXXXX)
chmod 755 "$T"
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/plugin" "$T/tok"
chmod 700 "$T/tok"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
printf '{ "connect_timeout": 3, "timeout": 10 }\n' >"$T/ok.conf"

# drive FILE [CONF] [DRIVER-ARGS...] - one exchange; stdout+stderr, then "exit: N"
drive() {
	local file=$1 conf=${2:-$T/ok.conf}
	shift 2 2>/dev/null || shift $#
	SASL_OAUTH2_CONFIG="$conf" "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u user@example.test \
		-w "$file" "$@" 2>&1
	echo "exit: $?"
}
# one_line NAME OUT PATTERN [WHERE] - the exchange is refused with a one-line
# detail matching PATTERN (and naming WHERE), nothing crashed
one_line() {
	local name=$1 out=$2 pat=$3 where=${4:-} detail stray
	detail=$(printf '%s\n' "$out" | grep '^detail:')
	like "$detail" "$pat" "$name: says what is wrong"
	[ -n "$where" ] && like "$detail" "$where" "$name: names where"
	# Every line is the driver's own (start/step/detail/log/exit): a message
	# with a line break would leave a stray line.
	stray=$(printf '%s\n' "$out" | grep -cvE '^(start|step|detail|log|exit): ')
	is "$stray,$(printf '%s\n' "$out" | grep -c '^detail:')" "0,1" "$name: one line, no stray output"
	like "$out" "exit: 0" "$name: no crash"
	[ "${#detail}" -le 700 ] || { _tap 1 "$name: the line is short"; echo "# ${#detail} bytes"; }
}

# A valid token file with a fresh access token (the config cases need one).
good="$T/tok/good.json"
printf '{"refresh_token": "RT-good-0123456789", "access_token": "AT-good-0123456789", "expiry": "4102444800", "user": "user@example.test"}' >"$good"
chmod 600 "$good"
out=$(drive "$good")
like "$out" "start: another step" "a good token file and configuration: the exchange starts (control)"

# ===== configuration file =====
conf_case() {	# conf_case NAME CONTENT PATTERN [MODE]
	local name=$1 f="$T/$(echo "$1" | tr -c 'a-z0-9' '-').conf"
	printf '%s' "$2" >"$f"
	chmod "${4:-600}" "$f"
	one_line "config: $name" "$(drive "$good" "$f")" "$3" "$(basename "$f")"
}
conf_case "not JSON" '{ "client_id": "abc" "timeout": 5 }' 'not valid JSON \(line 1, column [0-9]+: .*\): fix the file'
conf_case "secret in a syntax error" '{ "client_secret": SECRETxSECRETxSECRET }' 'not valid JSON \(line 1'
unlike "$(drive "$good" "$T/config--secret-in-a-syntax-error.conf")" "SECRETxSECRET" \
	"config: secret in a syntax error: the secret is not quoted back (jansson's \"near '...'\" cut)"
conf_case "not an object" '["client_id", "abc"]' 'must hold a JSON object'
conf_case "string setting not a string" '{ "client_id": 42 }' 'setting "client_id" must be a string'
conf_case "number setting not a number" '{ "timeout": "ten" }' 'setting "timeout" must be a whole number of seconds'
conf_case "negative number" '{ "refresh_window": -1 }' 'setting "refresh_window" must be a whole number'
conf_case "absurd number" '{ "connect_timeout": 99999999999 }' 'setting "connect_timeout" must be a whole number'
conf_case "bad log level" '{ "log_level": "verbose" }' 'setting "log_level" must be one of error, warning, notice, debug'
conf_case "duplicate setting" '{ "timeout": 5, "timeout": 6 }' 'duplicate object key'
conf_case "control bytes in an unknown name" '{ "client\nid": "x" }' 'unknown setting "client\?id"'
conf_case "empty file" '' 'not valid JSON'
mkdir "$T/dir.conf"
one_line "config: a directory" "$(drive "$good" "$T/dir.conf")" 'is not a regular file' 'dir.conf'
{ printf '{ "client_id": "x", "scope": "'; head -c 70000 /dev/zero | tr '\0' 'a'; printf '" }'; } >"$T/big.conf"
one_line "config: over 64 KiB" "$(drive "$good" "$T/big.conf")" 'is larger than 65536 bytes' 'big.conf'
conf_case "world-readable with a client secret" '{ "client_secret": "s3cr3t-world" }' \
	'holds client_secret but is readable by everyone \(mode 0644\): run chmod o-rwx' 644
printf '{ "client_id": "x" }' >"$T/unreadable.conf"; chmod 600 "$T/unreadable.conf"
out=$(SASL_OAUTH2_CONFIG="$T/unreadable.conf" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u user@example.test -w "$good" 2>&1; echo "exit: $?")
one_line "config: unreadable (as nobody)" "$out" 'cannot open: Permission denied \(running as uid [0-9]+\)' 'unreadable.conf'

# ===== oversized inputs without a server =====
{ printf '{"refresh_token": "RT-x", "x_pad": "'; head -c 70000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$T/tok/big.json"
chmod 600 "$T/tok/big.json"
one_line "token file over 64 KiB" "$(drive "$T/tok/big.json")" 'is larger than 65536 bytes' 'big.json'
{ printf '{"refresh_token": "RT-x", "expiry": "4102444800", "user": "u@example.test", "access_token": "'
  head -c 17000 /dev/zero | tr '\0' 'A'; printf '"}'; } >"$T/tok/bigat.json"
chmod 600 "$T/tok/bigat.json"
one_line "access token over 16 KiB in the token file" "$(drive "$T/tok/bigat.json")" \
	'access token is too long \([0-9]+ bytes, at most 16384\)' 'bigat.json'
u=$(head -c 2000 /dev/zero | tr '\0' 'u')
out=$(SASL_OAUTH2_CONFIG="$T/ok.conf" "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$u@example.test" -w "$good" 2>&1; echo "exit: $?")
one_line "user name over 1 KiB" "$out" 'user name is too long \(more than 1024 bytes\)'
unlike "$out" "uuuuuuuuuuuuuuuuuuuuuuuu" "user name over 1 KiB: not echoed"
p="/$(head -c 4000 /dev/zero | tr '\0' 'p')/token.json"
out=$(drive "$p")
detail=$(printf '%s\n' "$out" | grep '^detail:')
is "$(printf '%s\n' "$out" | grep -cvE '^(start|step|detail|log|exit): '),$(printf '%s\n' "$out" | grep -c '^detail:')" \
	"0,1" "token file path of 4 KiB: one line, no stray output"
like "$out" "exit: 0" "token file path of 4 KiB: no crash"
like "$detail" '(File name too long|too long|cannot open)' "token file path of 4 KiB: says what is wrong (long messages keep their end)"
ch=$( { printf '{"status":"'; head -c 61000 /dev/zero | tr '\0' 's'; printf '","scope":"mail"}'; } | base64 -w0)
out=$(drive "$good" "$T/ok.conf" "$ch")
like "$out" "step: another step is needed in authentication \"\"" "60 KiB error challenge: answered (XOAUTH2: empty response)"
one_line "60 KiB error challenge" "$out" 'refused the access token .*status s+'

# ===== oversized replies from the token endpoint =====
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/srv.key" -out "$T/srv.pem" >/dev/null 2>&1
cat >"$T/srv.py" <<'PY'
import http.server, json, ssl, sys
T = sys.argv[1]
def token(n, c='A'):
    return c * n
REPLIES = {
    '/big-at': (200, json.dumps({'access_token': token(17000), 'token_type': 'Bearer', 'expires_in': 3600})),
    '/big-body': (200, json.dumps({'access_token': 'AT-ok-0123456789', 'expires_in': 3600,
                                   'x_pad': 'x' * 300000})),
    '/big-rt': (200, json.dumps({'access_token': 'AT-ok-0123456789', 'expires_in': 3600,
                                 'refresh_token': token(70000, 'R')})),
    '/big-desc': (400, json.dumps({'error': 'invalid_grant',
                                   'error_description': ('bad grant\nfix it\r\n' * 5000)})),
    '/big-error': (400, json.dumps({'error': 'e' * 5000})),
    '/deep': (200, '[' * 100000 + ']' * 100000),
}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        code, body = REPLIES.get(self.path, (404, '{}'))
        body = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(T + '/srv.pem', T + '/srv.key')
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(T + '/srv.port', 'w').write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$T/srv.py" "$T" >"$T/srv.log" 2>&1 &
srv_pid=$!
wait_for 10 test -s "$T/srv.port"
port=$(cat "$T/srv.port" 2>/dev/null)
check "the test's HTTPS token endpoint runs" test -n "$port"

# endpoint NAME PATH PATTERN - a token file that must refresh at PATH
endpoint() {
	local name=$1 path=$2 pat=$3 f sum out
	f="$T/tok/$(echo "$path" | tr -c 'a-z0-9\n' '-' | sed 's/^-//').json"
	printf '{"refresh_token": "RT-old-0123456789", "access_token": "AT-old", "expiry": "1", "user": "user@example.test", "client_id": "c", "token_endpoint": "https://127.0.0.1:%s%s", "ca_bundle_file": "%s"}' \
		"$port" "$path" "$T/srv.pem" >"$f"
	chmod 600 "$f"
	sum=$(sha256sum <"$f")
	out=$(drive "$f")
	one_line "token endpoint: $name" "$out" "$pat" "$(basename "$f")"
	is "$(sha256sum <"$f")" "$sum" "token endpoint: $name: the token file is untouched"
	unlike "$out" "AAAAAAAAAAAAAAAA|RRRRRRRRRRRRRRRR" "token endpoint: $name: no token from the reply in any output"
}
endpoint "access token over 16 KiB" /big-at 'access_token'
endpoint "reply over the 256 KiB cap" /big-body 'larger than the limit'
endpoint "rotated refresh token too big to store" /big-rt '(larger than 65536|too long|refresh_token)'
endpoint "100 KiB error_description with line breaks" /big-desc 'invalid_grant'
endpoint "5 KiB error code" /big-error '(error|http_400)'
endpoint "JSON nested 100,000 deep" /deep '(not JSON|depth|bad_response|unusable|JSON)'

done_testing
