#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sendmail 8.17 (Debian's sendmail-bin, unpacked, never installed) relays
# with XOAUTH2 and OAUTHBEARER through our plugin: sendmail -> STARTTLS
# (verified against the test CA) -> AUTH at the loopback stack's pf-in ->
# Dovecot (token introspection) -> Maildir.  The token file starts with an
# expired access token: the plugin, inside sendmail, refreshes it.  TAP output.
#
# Traps, each found the hard way (man/sasl-oauth2-clients.7 repeats them):
#  - Debian's sendmail conflicts with postfix as a package: the test fetches
#    sendmail-bin/-base/-cf with `apt-get download` (or takes them from
#    $SENDMAIL_DEBS) and unpacks them with dpkg-deb -x; no maintainer script
#    runs, nothing is installed.
#  - sendmail clears its own environment at startup (main.c: environ =
#    emptyenviron), so SASL_PATH and SASL_OAUTH2_CONFIG given on the command
#    line never reach libsasl2.  What works: `E` lines in the .cf
#    (LOCAL_CONFIG `ESASL_PATH=dir`): sendmail puts them into its own
#    environment too, before libsasl2's client is initialised at the first
#    AUTH.  (With the plugin in libsasl2's own directory nothing is needed.)
#  - The .deb's binary is setgid mail; run as root, sendmail with the E lines
#    loads the plugin all the same (tried); the test runs a plain copy.
#  - sendmail checks every SASL plugin file with safefile(): a plugin under
#    /tmp (world-writable, sticky) is silently skipped -- "Temporary AUTH
#    failure", and `-d95.99` shows only "safesaslfile=..." -- unless
#    DontBlameSendmail has TrustStickyBit (the same for the access and
#    authinfo maps).  A plugin in /usr/lib/<multiarch>/sasl2 needs none.
#  - sendmail sleeps 60 s at startup when the host name is unqualified ("My
#    unqualified host name (vm) unknown; sleeping for retry"), before it
#    reads the .cf (confDOMAIN_NAME does not help).  The test runs it in its
#    own UTS namespace (unshare --uts) with a qualified host name.
#  - AuthInfo's "P:" is the token file's path; "M:" picks the mechanism
#    among confAUTH_MECHANISMS and what the server offers after STARTTLS.
#  - `sendmail -v` (and -d95) prints the AUTH command, i.e. the bearer token
#    in base64: never use it in production; the test does not.
#  - When AUTH fails (535: the server refused the token), sendmail goes on
#    WITHOUT AUTH; the smart host then rejects the recipient (554 relay
#    denied) and sendmail BOUNCES the mail.  The .mc's Local_tls_rcpt rule
#    (LOCAL_TLS_RCPT) defers every recipient when ${auth_type} is empty, so
#    the mail stays queued and the next queue run (fresh token) sends it.
#  - TLS: confCACERT verifies the server, but when verification fails
#    sendmail goes on, AUTH (the token) included, unless the access map says
#    "TLS_Srv:host VERIFY" (check 26-27 prove the map stops it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (the stack, unshare --uts)"; exit 0; fi
for p in m4 unshare dpkg-deb jq; do
	command -v "$p" >/dev/null 2>&1 || { echo "1..0 # SKIP $p is missing"; exit 0; }
done

. "$top/tests/lib/clients-common.bash"
clients_setup sendmail

# --- sendmail from Debian's packages, unpacked ---
mkdir "$T/debs" "$T/root"
if [ -n "${SENDMAIL_DEBS:-}" ]; then
	cp "$SENDMAIL_DEBS"/sendmail-*.deb "$T/debs/" 2>/dev/null
else
	(cd "$T/debs" && apt-get download sendmail-bin sendmail-base sendmail-cf) >"$T/download.log" 2>&1
fi
for d in "$T"/debs/sendmail-*.deb; do [ -f "$d" ] && dpkg-deb -x "$d" "$T/root"; done
SM_BIN="$T/root/usr/libexec/sendmail/sendmail"
CF_DIR="$T/root/usr/share/sendmail/cf"
if [ ! -x "$SM_BIN" ] || [ ! -f "$CF_DIR/m4/cf.m4" ]; then
	echo "1..0 # SKIP sendmail-bin/sendmail-cf could not be downloaded: $(tail -1 "$T/download.log" 2>/dev/null)"
	exit 0
fi
SM="$T/sendmail"
install -m 0755 "$SM_BIN" "$SM"
version=$(dpkg-deb -f "$T"/debs/sendmail-bin_*.deb Version)

_tap 0 "stack starts; sendmail $version unpacked from Debian's packages"

# --- the token file: a refresh token from the provider's pages, an expired access token ---
TOKEN="$T/token.json"
clients_token "$TOKEN"

# --- the .cf from the test's .mc, the authinfo and access maps ---
mkdir -m 0700 "$T/queue"; mkdir "$T/etc"
sed -e "s|@MYNAME@|client.example.test|" -e "s|@RELAY_HOST@|127.0.0.1|" \
	-e "s|@RELAY_PORT@|$PF_IN_PORT|" -e "s|@CA_DIR@|$(dirname "$CA_FILE")|" \
	-e "s|@CA_FILE@|$CA_FILE|" -e "s|@QUEUE_DIR@|$T/queue|" -e "s|@STATE_DIR@|$T|" \
	-e "s|@DONT_BLAME@|TrustStickyBit|" -e "s|@CONF_DIR@|$T/etc|" \
	-e "s|@SASL_PATH@|$T/plugin|" -e "s|@OA2_CONF@|$T/sasl-oauth2.conf|" \
	"$top/tests/clients/sendmail.mc" >"$T/etc/relay.mc"
m4 -D_CF_DIR_="$CF_DIR/" "$CF_DIR/m4/cf.m4" "$T/etc/relay.mc" >"$T/etc/relay.cf" 2>"$T/m4.err"
is "$(cat "$T/m4.err")" "" "m4 builds the .cf from the test's .mc without a warning"
# map NAME LINE - write a map's source and build it with sendmail's makemap
map() {
	printf '%s\n' "$2" >"$T/etc/$1"
	"$T/root/usr/libexec/sendmail/makemap" -C "$T/etc/relay.cf" hash "$T/etc/$1" <"$T/etc/$1" 2>>"$T/makemap.err"
}
map access "TLS_Srv:127.0.0.1 VERIFY"
# authinfo MECH - the credentials for the smart host: user, token file path, mechanism
authinfo() { map authinfo "AuthInfo:127.0.0.1 \"U:$TEST_USER\" \"P:$TOKEN\" \"M:$1\""; }
authinfo XOAUTH2
check "makemap builds the access and authinfo maps" test -f "$T/etc/access.db" -a -f "$T/etc/authinfo.db"

# send SUBJECT - submit one mail with sendmail, delivered at once (-odi)
send() {
	printf 'From: sender@example.test\nTo: %s\nSubject: %s\n\nbody\n' "$TEST_USER" "$1" |
		timeout 30 unshare --uts sh -c 'hostname client.example.test && exec "$0" "$@"' \
		"$SM" -C "$T/etc/relay.cf" -odi -f sender@example.test "$TEST_USER" >>"$T/sendmail.out" 2>&1
}
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" 30 >/dev/null 2>&1; }
queued() { find "$T/queue" -type f | wc -l; }

# --- 1. XOAUTH2, the access token in the file expired: refreshed inside sendmail ---
start=$(date +%s)
send "sendmail-xoauth2-1"; rc=$?
is "$rc" "0" "sendmail -odi exits 0 (mail accepted by the smart host)"
check "XOAUTH2: the mail is delivered to the Maildir" delivered "sendmail-xoauth2-1"
is "$(queued)" "0" "nothing left in sendmail's queue"
like "$(grep 'sasl_method=XOAUTH2' "$PF_IN_LOG")" "sasl_username=$TEST_USER" "pf-in logged sendmail's XOAUTH2 login as the right user"
like "$(grep 'Verified TLS\|TLS connection established from' "$PF_IN_LOG" | tail -1)" "TLSv1" "the connection was TLS (STARTTLS before AUTH)"
AT1=$(jq -r .access_token "$TOKEN"); remember "$AT1"; remember "$(jq -r .refresh_token "$TOKEN")"
check "the plugin refreshed the expired access token: a new one is in the file" test "$AT1" != "$AT0"
check "the new expiry is in the future" test "$(jq -r .expiry "$TOKEN")" -gt "$start"
check "the rotated refresh token was written back" test "$(jq -r .refresh_token "$TOKEN")" != "$RT0"
is "$(refresh_ok)" "1" "one refresh request reached the token endpoint"
is "$(stat -c %a "$TOKEN")" "600" "token file still mode 0600"

# --- 2. the fresh token is reused ---
send "sendmail-xoauth2-2"
check "second mail delivered" delivered "sendmail-xoauth2-2"
is "$(refresh_ok)" "1" "the fresh access token was reused: still one refresh"
is "$(jq -r .access_token "$TOKEN")" "$AT1" "same access token in the file"

# --- 3. OAUTHBEARER, chosen with M: in AuthInfo ---
authinfo OAUTHBEARER
send "sendmail-oauthbearer"
check "OAUTHBEARER: mail delivered" delivered "sendmail-oauthbearer"
like "$(grep 'sasl_method=OAUTHBEARER' "$PF_IN_LOG")" "sasl_username=$TEST_USER" "pf-in logged an OAUTHBEARER login"

# --- 4. a revoked access token at the server: the mail is deferred, never bounced ---
authinfo XOAUTH2
curl -s --cacert "$CA_FILE" -X POST -d "token=$AT1" "$TEST_REVOKE_AT_URL" >/dev/null
send "sendmail-revoked"
is "$(queued)" "2" "revoked access token: the mail stays in sendmail's queue (qf + df)"
check "the queued mail is the original, not a bounce" grep -q "sendmail-revoked" "$T"/queue/qf*
unlike "$(cat "$PF_IN_LOG")" "Client host rejected" "sendmail never went on without AUTH (Local_tls_rcpt defers instead)"
check "the plugin marked the refused token stale in the file" test "$(jq -r .expiry "$TOKEN")" = 0
# The queue run retries: the plugin refreshes, the mail goes out.
timeout 30 unshare --uts sh -c 'hostname client.example.test && exec "$0" "$@"' \
	"$SM" -C "$T/etc/relay.cf" -q >>"$T/sendmail.out" 2>&1
check "the queue run refreshes and delivers it" delivered "sendmail-revoked"
AT2=$(jq -r .access_token "$TOKEN"); remember "$AT2"; remember "$(jq -r .refresh_token "$TOKEN")"
check "a new access token after the retry" test "$AT2" != "$AT1"
is "$(queued)" "0" "queue empty after the retry"

# --- 5. a server certificate that does not verify: nothing is sent, no AUTH ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other-ca \
	-keyout "$T/other-ca.key" -out "$T/other-ca.pem" >/dev/null 2>&1
mkdir -m 0700 "$T/queue2"
sed -e "s|$CA_FILE|$T/other-ca.pem|" -e "s|$(dirname "$CA_FILE")|$T/etc|" -e "s|$T/queue|$T/queue2|" \
	"$T/etc/relay.cf" >"$T/etc/other-ca.cf"
auths=$(grep -c 'sasl_method=' "$PF_IN_LOG")
printf 'From: sender@example.test\nTo: %s\nSubject: sendmail-bad-ca\n\nbody\n' "$TEST_USER" |
	timeout 30 unshare --uts sh -c 'hostname client.example.test && exec "$0" "$@"' \
	"$SM" -C "$T/etc/other-ca.cf" -odi -f sender@example.test "$TEST_USER" >>"$T/sendmail.out" 2>&1
is "$(find "$T/queue2" -type f | wc -l)" "2" "server certificate not verified (TLS_Srv VERIFY): the mail stays queued"
is "$(grep -c 'sasl_method=' "$PF_IN_LOG")" "$auths" "and no AUTH was sent to that server"

# --- 6. no secret in sendmail's output or the servers' logs ---
clients_no_secrets "no token in sendmail's output or the pf-in, Dovecot, provider logs" "$T/sendmail.out"

done_testing
