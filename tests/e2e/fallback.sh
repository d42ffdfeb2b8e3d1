#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Address fall-back (Happy Eyeballs) at the token endpoint (issue 9,
# section 1).  TAP.
#
# The token endpoint's name has two addresses: [::1] first (as getaddrinfo
# orders them, RFC 6724) whose listener never completes a handshake -- its
# accept queue is full, so the kernel drops new SYNs, as a host with broken
# IPv6 does -- and 127.0.0.1, which answers.  The plugin (through
# tests/sasl-driver) and `sasl-oauth2 refresh` must both get a token within
# 1.5 s although the connect timeout is 10 s.
#
# The name: oa2-fallback.test, in a hosts file of our own that is bind-mounted
# over /etc/hosts inside a private mount namespace (unshare --mount; as a
# non-root user, with a user namespace).  So the clients resolve it through
# the ordinary path (glibc's getaddrinfo and /etc/hosts, as on a user's
# host: no CURLOPT_RESOLVE, no LD_PRELOAD), and the real /etc/hosts is never
# touched.  "localhost" would not do: libcurl resolves it itself, 127.0.0.1
# first.
# Env: BUILD, KEEP=1, PORT_OFFSET (20000): port 3960+PORT_OFFSET.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build}
DRIVER=$BUILD/tests/sasl-driver
TOOL=$BUILD/tools/sasl-oauth2
PORT=$((3960 + ${PORT_OFFSET:-20000}))
NAME=oa2-fallback.test
T=$(mktemp -d /tmp/oa2-fallback.XXXXXX)
chmod 755 "$T"
mkdir "$T/plugin" "$T/tok"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
printf '{"connect_timeout": 10, "timeout": 20, "log_level": "notice"}\n' >"$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf
SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then NS=(unshare --mount); else NS=(unshare --user --map-root-user --mount); fi
printf '::1 %s\n127.0.0.1 %s\n' "$NAME" "$NAME" >"$T/hosts"
# in_ns CMD... - run CMD where /etc/hosts is ours
in_ns() { "${NS[@]}" sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T/hosts" "$@"; }
if ! in_ns getent ahosts "$NAME" >"$T/ahosts" 2>&1; then
	_tap 1 "a private mount namespace with our hosts file (${NS[*]})"
	sed 's/^/# /' "$T/ahosts"; done_testing; exit 1
fi
is "$(awk 'NR == 1 {print $1}' "$T/ahosts")" "::1" "$NAME resolves to ::1 first"
check "$NAME resolves to 127.0.0.1 too" grep -q '^127\.0\.0\.1 ' "$T/ahosts"
check "the real /etc/hosts does not know $NAME" sh -c "! getent hosts $NAME"

# A CA and a certificate for the name.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=fallback test CA" -keyout "$T/ca.key" -out "$T/ca.pem" \
	-addext basicConstraints=critical,CA:true >"$T/openssl.log" 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=$NAME" -keyout "$T/srv.key" -out "$T/srv.csr" >>"$T/openssl.log" 2>&1
printf 'subjectAltName=DNS:%s\n' "$NAME" >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 30 -extfile "$T/srv.ext" -out "$T/srv.pem" >>"$T/openssl.log" 2>&1

# The server: [::1]:PORT with a full accept queue, 127.0.0.1:PORT a token endpoint.
cat >"$T/server.py" <<'EOF'
import http.server, json, socket, ssl, sys, time
port, cert, key, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
dead = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
dead.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
dead.bind(("::1", port))
dead.listen(0)
fillers = []
for _ in range(8):		# fill the accept queue; never accept
    c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(("::1", port))
    except BlockingIOError:
        pass
    fillers.append(c)
time.sleep(0.2)
probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
probe.settimeout(0.5)
try:
    probe.connect(("::1", port))
    drops = "no"
except socket.timeout:
    drops = "yes"
except OSError as e:
    drops = "error " + str(e)

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({"access_token": "fallback-new-access-token",
                           "token_type": "Bearer", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(ready, "w") as f:
    f.write(drops + "\n")
srv.serve_forever()
EOF
python3 "$T/server.py" "$PORT" "$T/srv.pem" "$T/srv.key" "$T/ready" >"$T/server.log" 2>&1 &
SERVER=$!
if ! wait_for 10 test -s "$T/ready"; then
	_tap 1 "the test server starts"; sed 's/^/# /' "$T/server.log"; done_testing; exit 1
fi
is "$(cat "$T/ready")" yes "[::1]:$PORT drops SYNs (a connect there times out)"

token_file() {
	local f=$T/tok/$1.json
	jq -n --arg ep "https://$NAME:$PORT/token" --arg ca "$T/ca.pem" \
		'{refresh_token:"fallback-refresh-token", access_token:"fallback-old-at", expiry:1,
		  user:"user@example.test", token_endpoint:$ep, ca_bundle_file:$ca,
		  client_id:"fallback-client", client_secret:"fallback-secret"}' >"$f"
	chmod 600 "$f"
	echo "$f"
}
# timed WHAT CMD... - run CMD in the namespace; OUT and MS
timed() {
	local t0
	t0=${EPOCHREALTIME/./}
	OUT=$(in_ns "$@" 2>&1)
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

f=$(token_file plugin)
timed "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u user@example.test -w "$f"
like "$OUT" "^start: another step is needed in authentication" "plugin: the refresh through 127.0.0.1 succeeds"
is "$(jq -r .access_token "$f")" fallback-new-access-token "plugin: the new access token is stored"
check "plugin: done in $MS ms (at most 1500)" test "$MS" -le 1500
PLUGIN_MS=$MS

f=$(token_file refresh)
timed "$TOOL" refresh "$f"
like "$OUT" "refreshed; access token valid until" "sasl-oauth2 refresh: succeeds through 127.0.0.1"
is "$(jq -r .access_token "$f")" fallback-new-access-token "sasl-oauth2 refresh: the new access token is stored"
check "sasl-oauth2 refresh: done in $MS ms (at most 1500)" test "$MS" -le 1500

echo "# fall-back from a silent [::1] to 127.0.0.1: plugin $PLUGIN_MS ms, sasl-oauth2 refresh $MS ms (connect timeout 10 s)"
done_testing
