#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mail-log.sh - a refresh leaves one line in the mail log at Postfix's
# default verbosity: the e2e Postfix (chrooted smtp, no -v) logs through
# syslog(3), and the plugin's line comes through the smtp process's own
# openlog() (ident postfix-out/smtp, facility mail, info) with the file,
# the token endpoint's host, the new expiry and whether the refresh token
# was rotated, never a token.  A failure reaches the same log as Postfix's
# warning.  "mail_log": false turns the line off; "sasl-oauth2 test" never
# writes it, while the same plugin in another host (sasl-driver, no
# openlog) does, under that host's name.  The machine's syslog is not
# touched: the test runs in its own mount namespace (unshare -m) with a
# tmpfs /dev that holds the machine's devices and our own /dev/log, a
# datagram receiver.  TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
TOOL=$BUILD/tools/sasl-oauth2

if [ -z "${MAIL_LOG_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (unshare -m, the stack)"; exit 0; fi
	exec unshare -m --propagation private env MAIL_LOG_NS=1 bash "$0" "$@"
fi

T=$(mktemp -d /tmp/oa2-maillog.XXXXXX)
chmod 755 "$T"
RECV_PID=
cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf --one-file-system "$T"
}
trap cleanup EXIT

# A private /dev: every device of the machine's, and /dev/log our own.
mkdir "$T/dev.real"
mount --rbind /dev "$T/dev.real"
mount -t tmpfs -o mode=755 tmpfs /dev
for e in "$T"/dev.real/* "$T"/dev.real/.[!.]*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	n=${e##*/}
	[ "$n" = log ] && continue
	# ptmx finds its devpts next to it: the usual symlink into ours.
	if [ "$n" = ptmx ]; then ln -s pts/ptmx /dev/ptmx
	elif [ -L "$e" ]; then cp -P "$e" "/dev/$n"
	elif [ -d "$e" ]; then mkdir "/dev/$n" && mount --rbind "$e" "/dev/$n"
	else : >"/dev/$n" && mount --bind "$e" "/dev/$n"
	fi
done
# The bind mounts stay; the view of the machine's /dev goes, so that no
# later rm can reach into it.
umount -R "$T/dev.real" && rmdir "$T/dev.real"
LOG=$T/syslog
python3 - "$LOG" "$T/recv.ready" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "ab", buffering=0)
open(sys.argv[2], "w").close()
while True:
    out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PY
RECV_PID=$!
wait_for 10 test -e "$T/recv.ready"
check "our /dev/log receiver listens (the machine's /dev untouched)" test -S /dev/log

# The plugin's defaults (no mail_log, no log_level in the configuration).
PF_OUT_SYSLOG=1 start_plugin_stack "$T" '{"connect_timeout": 5, "timeout": 15}' || { done_testing; exit 1; }
TOKEN="$PF_OUT_TOKEN_DIR/token.json"
tokjq() { jq -r "$1" "$TOKEN"; }
set_field() { jq --arg v "$2" ".$1 = \$v" "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"; }
send() { python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from sender@example.test \
	--to "$TEST_USER" --subject "$1" >/dev/null 2>&1; }
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" "${2:-30}" >/dev/null 2>&1; }
refreshed_lines() { grep -ac 'sasl-oauth2: .*: access token refreshed at ' "$LOG"; }
SECRETS=$T/secrets; : >"$SECRETS"
remember() { [ -n "$1" ] && [ "$1" != null ] && echo "$1" >>"$SECRETS"; }

json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>"$T/consent.err")
RT0=$(printf '%s' "$json" | jq -r .refresh_token); remember "$RT0"; remember "$CLIENT_SECRET"
remember "$(printf '%s' "$json" | jq -r .access_token)"
jq -n --arg rt "$RT0" --arg u "$TEST_USER" --arg ep "$TOKEN_ENDPOINT" \
	--arg ca "$PF_OUT_CA_IN_CHROOT" --arg cid "$CLIENT_ID" --arg cs "$CLIENT_SECRET" \
	'{refresh_token:$rt, user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:$cid, client_secret:$cs, client_auth:"basic"}' >"$TOKEN"
chown postfix:postfix "$TOKEN"; chmod 600 "$TOKEN"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1

# --- 1. the first mail: the plugin gets an access token; one line
send "maillog-1"
check "mail relayed by the chrooted smtp client (plugin) is delivered" delivered "maillog-1"
AT1=$(tokjq .access_token); RT1=$(tokjq .refresh_token); EXP1=$(tokjq .expiry)
remember "$AT1"; remember "$RT1"
check "Postfix itself logs through our /dev/log (the mail log at default verbosity)" \
	grep -aq 'postfix-out/smtp\[[0-9]*\]: .*status=sent' "$LOG"
wait_for 10 grep -aq 'access token refreshed at' "$LOG"
line=$(grep -a 'sasl-oauth2: .*: access token refreshed at ' "$LOG" | head -1)
like "$line" '^<22>' "the refresh line is at mail.info (priority <22>)"
like "$line" 'postfix-out/smtp\[[0-9]+\]: sasl-oauth2: ' "through smtp's own ident: postfix-out/smtp[pid]"
like "$line" "sasl-oauth2: $PF_OUT_TOKEN_DIR_IN_CHROOT/token.json: " "names the token file (as the chrooted smtp sees it)"
like "$line" "refreshed at 127\\.0\\.0\\.1:$IDP_PORT, " "names the provider's host (the token endpoint's)"
like "$line" "valid until $(date -u -d "@$EXP1" '+%Y-%m-%d %H:%M:%S') UTC, " "gives the new expiry, the one in the file"
like "$line" "refresh token rotated$" "says the refresh token was rotated (the IdP rotates)"
is "$(refreshed_lines)" 1 "one refresh, one line"
unlike "$(grep -ac 'SASL authentication info' "$LOG")" '^[1-9]' "no -v: the SASL notices stay out, as Postfix does by default"

# --- 2. a fresh token reused: no refresh, no line
send "maillog-2"
check "second mail delivered" delivered "maillog-2"
is "$(refreshed_lines)" 1 "no refresh, no new line"

# --- 3. "mail_log": false turns the line off
echo '{"connect_timeout": 5, "timeout": 15, "mail_log": false}' >"$T/sasl-oauth2.conf"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
set_field expiry 1
send "maillog-3"
check "mail_log false: mail delivered" delivered "maillog-3"
AT3=$(tokjq .access_token); remember "$AT3"; remember "$(tokjq .refresh_token)"
check "mail_log false: the plugin did refresh" test "$AT3" != "$AT1"
is "$(refreshed_lines)" 1 "mail_log false: no new line"

# --- 4. sasl-oauth2 test refreshes through the plugin but writes no mail log
# line (with the default mail_log; on a copy of the file that the tool, outside
# the chroot, can use)
echo '{}' >"$T/tool.conf"
jq --arg ca "$CA_FILE" '.ca_bundle_file = $ca | .expiry = "1"' "$TOKEN" >"$T/copy.json"
chmod 600 "$T/copy.json"
SASL_OAUTH2_CONFIG="$T/tool.conf" "$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$T/plugin" \
	--smtp "127.0.0.1:$PF_IN_PORT" "$T/copy.json" >"$T/test.out" 2>&1
ok_rc=$?
ATC=$(jq -r .access_token "$T/copy.json"); remember "$ATC"; remember "$(jq -r .refresh_token "$T/copy.json")"
check "sasl-oauth2 test: works, and refreshed the expired token" test "$ok_rc" = 0 -a "$ATC" != "$AT3"
is "$(refreshed_lines)" 1 "sasl-oauth2 test: no line in the mail log"
# The contrast: the same plugin in a host that sets no option (and never
# called openlog) writes its line, under that host's own name.
jq '.expiry = "1"' "$T/copy.json" >"$T/copy2.json" && cat "$T/copy2.json" >"$T/copy.json"
SASL_OAUTH2_CONFIG="$T/tool.conf" "$BUILD/tests/sasl-driver" -p "$T/plugin" -m XOAUTH2 \
	-u "$TEST_USER" -w "$T/copy.json" >"$T/driver.out" 2>&1
remember "$(jq -r .access_token "$T/copy.json")"; remember "$(jq -r .refresh_token "$T/copy.json")"
wait_for 10 grep -aq "sasl-driver: sasl-oauth2: $T/copy.json: access token refreshed" "$LOG"
check "a host without the option and without openlog: its line, under its own name, at mail.info" \
	grep -aq "^<22>.* sasl-driver: sasl-oauth2: $T/copy.json: access token refreshed at " "$LOG"

# --- 5. a failure reaches the mail log as Postfix's warning
echo '{"connect_timeout": 5, "timeout": 15}' >"$T/sasl-oauth2.conf"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
set_field refresh_token "not-a-grant-$RANDOM$RANDOM"
set_field expiry 1
send "maillog-4"
wait_for 40 grep -aq 'SASL authentication failure: sasl-oauth2: ' "$LOG"
fline=$(grep -a 'SASL authentication failure: sasl-oauth2: ' "$LOG" | head -1)
like "$fline" '^<20>.*postfix-out/smtp\[[0-9]+\]: warning: SASL authentication failure: sasl-oauth2: ' \
	"a refused refresh: one warning line (mail.warning) from smtp at default verbosity"
like "$fline" "token.json" "the failure names the token file"
is "$(refreshed_lines)" 2 "a failed refresh writes no 'refreshed' line (the two so far: pf-out's, sasl-driver's)"

# no token or secret in the mail log
leak=0
while read -r s; do [ -n "$s" ] && grep -aqF -- "$s" "$LOG" && leak=1; done <"$SECRETS"
is "$leak" 0 "no token or client secret in the mail log ($(wc -l <"$SECRETS") values checked)"
[ -n "${KEEP:-}" ] && echo "# kept $T"
done_testing
