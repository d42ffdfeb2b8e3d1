#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Secret hygiene, proven on the real loopback stack.
#
# Real flows: the plugin inside Postfix's chrooted smtp client (refresh, then
# a fresh token; XOAUTH2 and OAUTHBEARER), Cyrus smtptest and imtest (refresh,
# fresh, the server's error challenge), tests/sasl-driver (the same paths),
# all with the plugin's log level at "debug".  Every refresh token, access
# token, ID token and client secret used is collected (also the new ones the
# refreshes wrote), and then looked for in every log of the stack (Postfix,
# Dovecot, the provider), in every captured stdout/stderr of this test, and
# in /proc/PID/cmdline and /proc/PID/environ of the stack's processes and of
# a running imtest: 0 hits.
#
# File modes: the token files end 0600 with their owner whatever the umask
# (000 here); under strace, every file the plugin creates in a token
# directory is created with mode 0600 (the temp file of the atomic
# write-back) and no chmod ever widens one.
#
# Wiping: tests/free-scan.so (LD_PRELOAD) hashes every token-like run in
# every block given back to malloc; a token or secret in a block that the
# plugin freed means it was not wiped first: 0 such hits.  Hits in other
# code (libcurl, OpenSSL, the client) are counted and shown.  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
export PORT_OFFSET=${PORT_OFFSET:-30000}
DRIVER="$BUILD/tests/sasl-driver"
T=$(mktemp -d /tmp/oa2-secrets.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -d "$T/stack" ] && bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/plugin" "$T/out" "$T/proc"
OUT="$T/out"			# every captured stdout/stderr goes here
SECRETS="$T/secrets.list"	# never printed; removed with $T
: >"$SECRETS"
chmod 600 "$SECRETS"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"

# remember VALUE... - secrets to look for (8 bytes and more)
remember() {
	local v
	for v in "$@"; do
		[ -n "$v" ] && [ "$v" != null ] && [ ${#v} -ge 8 ] && printf '%s\n' "$v" >>"$SECRETS"
	done
}
# remember_file FILE - every secret member of a token file
remember_file() {
	[ -f "$1" ] || return 0
	remember "$(jq -r '.refresh_token // empty' "$1")" "$(jq -r '.access_token // empty' "$1")" \
		"$(jq -r '.client_secret // empty' "$1")"
	label refresh_token "$(jq -r '.refresh_token // empty' "$1")"
	label access_token "$(jq -r '.access_token // empty' "$1")"
	label client_secret "$(jq -r '.client_secret // empty' "$1")"
}
# label KIND VALUE - what a secret is, for the free-scan report (never printed)
LABELS="$T/labels.list"
label() { [ -n "$2" ] && printf '%s %s\n' "$1" "$2" >>"$LABELS"; }

# --- the free-scan shim: built with the tests, else by hand ---
SHIM="$BUILD/tests/.libs/free-scan.so"
[ -f "$SHIM" ] || SHIM="$BUILD/tests/.libs/libfree-scan.so"
if [ ! -f "$SHIM" ]; then
	SHIM="$T/free-scan.so"
	${CC:-cc} -shared -fPIC -O1 -g -o "$SHIM" "$top/tests/lib/free-scan.c" -ldl >"$OUT/shim-build.txt" 2>&1 \
		|| SHIM=
fi

# The plugin's global config: it holds the client secret for the imtest and
# smtptest flows, and asks for the most verbose logging.
(umask 077; printf '{ "log_level": "debug", "connect_timeout": 5, "timeout": 20, "refresh_window": 60, "client_secret": "%s" }\n' \
	"mailsecret" >"$T/oa2.conf")
export SASL_OAUTH2_CONFIG="$T/oa2.conf"

if ! PLUGIN_DIR="$T/plugin" OA2_CONF="$T/oa2.conf" AT_TTL=900 \
	bash "$top/tests/stack/stack.sh" start "$T/stack" >"$OUT/stack-start.txt" 2>&1; then
	_tap 1 "stack starts (PORT_OFFSET=$PORT_OFFSET)"; tail -5 "$OUT/stack-start.txt" | sed 's/^/# /'
	done_testing; exit 1
fi
_tap 0 "stack starts: oidc-provider, Dovecot, Postfix pf-in and chrooted pf-out with the plugin"
. "$T/stack/stack.env"
# stack.env exports the test client's secret: keep it a shell variable only,
# so that it reaches no process's environment (they are scanned below).
export -n CLIENT_SECRET
remember "$CLIENT_SECRET"

# grant FILE CLIENT [expired] - a token file with a new grant (secret in it or not)
grant() {
	local file=$1 client=$2 json rt at idt exp
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$client" "$CLIENT_SECRET" 2>>"$OUT/grant.err") || return 1
	rt=$(printf '%s' "$json" | jq -r .refresh_token)
	at=$(printf '%s' "$json" | jq -r .access_token)
	idt=$(printf '%s' "$json" | jq -r '.id_token // empty')
	remember "$rt" "$at" "$idt"
	label refresh_token "$rt"; label access_token "$at"; label id_token "$idt"
	if [ -n "${3:-}" ]; then exp=1; else exp=$(( $(date +%s) + 800 )); fi
	(umask 077; jq -n --arg rt "$rt" --arg at "$at" --arg exp "$exp" --arg u "$TEST_USER" \
		--arg ep "$TOKEN_ENDPOINT" --arg ca "${CA:-$CA_FILE}" --arg cid "$client" \
		'{refresh_token:$rt, access_token:$at, expiry:$exp, user:$u, token_endpoint:$ep,
		  ca_bundle_file:$ca, client_id:$cid}' >"$file")
}
mode_of() { stat -c '%a %U' "$1"; }

# ===== 1. Postfix: the plugin inside the chrooted smtp client =====
TOKEN="$PF_OUT_TOKEN_DIR/token.json"
CA="$PF_OUT_CA_IN_CHROOT" grant "$TOKEN" "$CLIENT_ID" expired
# The secret in the token file this time, Basic authentication.
jq --arg cs "$CLIENT_SECRET" '.client_secret = $cs | .client_auth = "basic"' "$TOKEN" >"$T/edit.json" \
	&& cat "$T/edit.json" >"$TOKEN" && rm -f "$T/edit.json"
chown postfix:postfix "$TOKEN"; chmod 600 "$TOKEN"
echo "[127.0.0.1]:$PF_IN_PORT $TEST_USER:$PF_OUT_TOKEN_DIR_IN_CHROOT/token.json" >"$PF_OUT_SASL_PASSWD"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >"$OUT/reload1.txt" 2>&1
send() {
	python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from sender@example.test --to "$TEST_USER" \
		--subject "$1" >>"$OUT/send.txt" 2>&1
}
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" 40 >>"$OUT/wait.txt" 2>&1; }
send "secrets-xoauth2-refresh"
check "Postfix + plugin (XOAUTH2, expired token: refreshed in the chroot): mail delivered" \
	delivered "secrets-xoauth2-refresh"
remember_file "$TOKEN"
is "$(mode_of "$TOKEN")" "600 postfix" "Postfix's refresh: the token file stays 0600, owned by postfix"
postconf -c "$PF_OUT_DIR" -e smtp_sasl_mechanism_filter=oauthbearer
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >"$OUT/reload2.txt" 2>&1
send "secrets-oauthbearer-fresh"
check "Postfix + plugin (OAUTHBEARER, fresh token): mail delivered" delivered "secrets-oauthbearer-fresh"
remember_file "$TOKEN"
# The server refuses the access token (revoked at the provider; the token
# goes in on stdin, not on a command line): the plugin answers the error
# challenge, logs it, marks the token stale; the retry refreshes.
printf 'token=%s' "$(jq -r .access_token "$TOKEN")" | curl -s --cacert "$CA_FILE" -X POST -d @- \
	"$TEST_REVOKE_AT_URL" >"$OUT/revoke.txt" 2>&1
send "secrets-revoked"
wait_for 40 grep -q "refused the access token" "$PF_OUT_LOG"
postqueue -c "$PF_OUT_DIR" -f >"$OUT/flush.txt" 2>&1
check "Postfix + plugin: token refused by the server, marked stale, refreshed on retry, delivered" \
	delivered "secrets-revoked"
remember_file "$TOKEN"

# The stack's processes: their command lines and environments, while running.
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = $$ ] && continue
	if { tr '\0' '\n' <"$p/environ" | grep -qF "$T" \
	    || tr '\0' ' ' <"$p/cmdline" | grep -qF "$T" \
	    || readlink "$p/cwd" | grep -qF "$T"; } 2>/dev/null; then
		{ tr '\0' ' ' <"$p/cmdline"; echo; tr '\0' '\n' <"$p/environ"; } >"$T/proc/$pid" 2>/dev/null
	fi
done

# ===== 2. Cyrus clients, umask 000 =====
mkdir -m 700 "$T/tok"
grant "$T/tok/smtp.json" "$CLIENT_ID_POST" expired	# secret from the config file
chmod 600 "$T/tok/smtp.json"
out=$(umask 000; SASL_PATH="$T/plugin" timeout 60 "$SMTPTEST" -m XOAUTH2 -a "$TEST_USER" \
	-w "$T/tok/smtp.json" -t "" -p "$PF_IN_PORT" 127.0.0.1 </dev/null 2>&1)
printf '%s\n' "$out" >"$OUT/smtptest-refresh.txt"
like "$out" "Authenticated" "smtptest XOAUTH2 (expired token, refreshed) authenticates"
remember_file "$T/tok/smtp.json"
is "$(mode_of "$T/tok/smtp.json")" "600 root" "refresh under umask 000: the token file is 0600"

grant "$T/tok/imap.json" "$CLIENT_ID_POST"
chmod 600 "$T/tok/imap.json"
# imtest held open on a fifo, to read its /proc while it is logged in.
mkfifo "$T/imtest.in"
(SASL_PATH="$T/plugin" exec timeout 60 "$IMTEST" -m OAUTHBEARER -a "$TEST_USER" -w "$T/tok/imap.json" \
	-t "" -p "$IMAP_PORT" 127.0.0.1 <"$T/imtest.in" >"$OUT/imtest-fresh.txt" 2>&1) &
exec 3>"$T/imtest.in"
wait_for 20 grep -q "Authenticated" "$OUT/imtest-fresh.txt"
ipid=$(pgrep -f "imtest -m OAUTHBEARER -a $TEST_USER -w $T/tok/imap.json" | head -1)
if [ -n "$ipid" ]; then
	{ tr '\0' ' ' <"/proc/$ipid/cmdline"; echo; tr '\0' '\n' <"/proc/$ipid/environ"; } >"$T/proc/imtest.$ipid"
fi
exec 3>&-
wait
like "$(cat "$OUT/imtest-fresh.txt")" "Authenticated" "imtest OAUTHBEARER (fresh token) authenticates"
check "the running imtest's command line and environment were read" test -s "$T/proc/imtest.${ipid:-none}"

out=$(umask 000; SASL_PATH="$T/plugin" timeout 60 "$IMTEST" -m XOAUTH2 -a "other@example.test" \
	-w "$T/tok/imap.json" -t "" -p "$IMAP_PORT" 127.0.0.1 </dev/null 2>&1)
printf '%s\n' "$out" >"$OUT/imtest-refused.txt"
like "$out" "(NO|failed)" "imtest with the wrong user: refused after the error challenge"
is "$(jq -r .expiry "$T/tok/imap.json"),$(mode_of "$T/tok/imap.json")" "0,600 root" \
	"the stale mark was written under umask 000: file 0600"

# ===== 3. sasl-driver under strace: how files are created in the token dir =====
if [ -x "$DRIVER" ] && command -v strace >/dev/null 2>&1; then
	mkdir -m 700 "$T/stok"
	grant "$T/stok/token.json" "$CLIENT_ID_POST" expired
	chmod 600 "$T/stok/token.json"
	(umask 000; strace -f -qq -o "$OUT/strace.txt" \
		-e trace=open,openat,creat,chmod,fchmod,fchmodat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat \
		"$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$T/stok/token.json" "" \
		>"$OUT/driver-strace.txt" 2>&1)
	like "$(cat "$OUT/driver-strace.txt")" "step: successful result" "sasl-driver refresh (XOAUTH2) under strace, umask 000"
	remember_file "$T/stok/token.json"
	created=$(grep -F "$T/stok/" "$OUT/strace.txt" | grep -E 'O_CREAT|creat\(' )
	n=$(printf '%s\n' "$created" | grep -c . )
	wide=$(printf '%s\n' "$created" | grep -vE ', 0600\)|, 0400\)|S_IRUSR\|S_IWUSR\)' | grep -c .)
	check "the plugin created files in the token dir during the refresh ($n)" test "$n" -ge 1
	is "$wide" "0" "every file created in the token dir is created 0600 (umask 000 does not matter)"
	printf '%s\n' "$created" | sed -E 's/^[0-9]+ +//; s/"[^"]*\/stok\//"STOK\//' | head -3 | sed 's/^/#   /'
	chm=$(grep -E 'chmod' "$OUT/strace.txt" | grep -vE '0600|0400' | grep -c .)
	is "$chm" "0" "no chmod/fchmod to anything but 0600 while refreshing"
	is "$(mode_of "$T/stok/token.json")" "600 root" "after the refresh the token file is 0600"
	is "$(ls -A "$T/stok" | grep -vc '^token.json$')" "0" "no temp file left in the token dir"
else
	skip "sasl-driver under strace" "sasl-driver or strace missing"
fi

# ===== 4. wiping: every block the plugin frees, scanned =====
if [ -x "$DRIVER" ] && [ -n "$SHIM" ]; then
	mkdir -m 700 "$T/wtok"
	grant "$T/wtok/refresh.json" "$CLIENT_ID_POST" expired
	grant "$T/wtok/fresh.json" "$CLIENT_ID_POST"
	grant "$T/wtok/stale.json" "$CLIENT_ID_POST"
	chmod 600 "$T"/wtok/*.json
	scan() {	# scan NAME CMD... - run under the shim
		local name=$1; shift
		FREE_SCAN_OUT="$T/scan.$name" LD_PRELOAD="$SHIM" "$@" >"$OUT/scan-$name.txt" 2>&1
	}
	scan refresh "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u "$TEST_USER" -w "$T/wtok/refresh.json" ""
	like "$(cat "$OUT/scan-refresh.txt")" "step: successful result" "free-scan: sasl-driver refresh (XOAUTH2)"
	scan fresh "$DRIVER" -n 5 -p "$T/plugin" -m OAUTHBEARER -u "$TEST_USER" -w "$T/wtok/fresh.json" -P 143 ""
	like "$(cat "$OUT/scan-fresh.txt")" "step: successful result" "free-scan: sasl-driver fresh token x5 (OAUTHBEARER)"
	scan stale "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u other@example.test -w "$T/wtok/stale.json" \
		"$(printf '{"status":"401","schemes":"bearer"}' | base64 -w0)"
	like "$(cat "$OUT/scan-stale.txt")" "step: another step" "free-scan: sasl-driver error challenge (stale mark written)"
	grant "$T/wtok/imtest.json" "$CLIENT_ID_POST" expired
	chmod 600 "$T/wtok/imtest.json"
	scan imtest env SASL_PATH="$T/plugin" timeout 60 "$IMTEST" -m XOAUTH2 -a "$TEST_USER" \
		-w "$T/wtok/imtest.json" -t "" -p "$IMAP_PORT" 127.0.0.1 </dev/null
	like "$(cat "$OUT/scan-imtest.txt")" "Authenticated" "free-scan: imtest refresh (XOAUTH2) inside a real client"
	for f in "$T"/wtok/*.json; do remember_file "$f"; done
	sort -u "$SECRETS" -o "$SECRETS"
	# Hash each secret as the shim does (FNV-1a 64) and look it up.
	label client_secret "$CLIENT_SECRET"
	res=$(python3 - "$SECRETS" "$LABELS" "$T"/scan.* <<'PY'
import sys
def fnv(b):
    h = 14695981039346656037
    for c in b:
        h ^= c
        h = (h * 1099511628211) & 0xffffffffffffffff
    return '%016x' % h
secrets = [l.rstrip('\n') for l in open(sys.argv[1]) if l.strip()]
want = {fnv(s.encode()): len(s) for s in secrets}
kind = {}
for l in open(sys.argv[2]):
    k, _, v = l.rstrip('\n').partition(' ')
    if v:
        kind[fnv(v.encode())] = k
ours = 0
other = {}
for path in sys.argv[3:]:
    for line in open(path):
        if line.startswith('#'):
            continue
        h, n, count, obj = line.split()[:4]
        if h in want and want[h] == int(n):
            what = '%s %s' % (obj, kind.get(h, 'other secret'))
            if obj.startswith('libsasl-oauth2'):
                ours += int(count)
                what = 'OURS: ' + what
            other[what] = other.get(what, 0) + int(count)
print(ours, ', '.join('%s x%d' % kv for kv in sorted(other.items())) or 'none')
PY
)
	ours=${res%% *}; others=${res#* }
	is "$ours" "0" "no block freed by the plugin still held a token or the client secret (wiped first)"
	# Residue outside our code is reported, not failed: libcurl's request
	# and receive buffers, say (README, "Secrets left in freed memory").
	echo "# secret copies freed unwiped, by the object that freed them and the kind (blocks): $others"
else
	skip "free-scan" "sasl-driver or the shim missing"
fi

# ===== 5. the scan: logs, captured output, /proc =====
# Raw, and base64-encoded (all three alignments): the AUTH line of a client
# transcript is the base64 of the initial response, which holds the token.
sort -u "$SECRETS" -o "$SECRETS"
nsec=$(grep -c . "$SECRETS")
scan_out=$(python3 - "$SECRETS" "$LOG_DIR" "$OUT" "$T/proc" <<'PY'
import base64, os, sys
secrets = [l.rstrip('\n').encode() for l in open(sys.argv[1]) if l.strip()]
def cores(s):
    out = []
    for o in range(3):
        e = base64.b64encode(b'\0' * o + s)
        skip = (0, 2, 3)[o]
        core = e[skip:len(e) - 4]
        if len(core) >= 6:
            out.append(core)
    return out
b64 = [(s, cores(s)) for s in secrets]
for cls, d in (('logs', sys.argv[2]), ('outputs', sys.argv[3]), ('proc', sys.argv[4])):
    raw = enc = 0
    names = []
    files = sorted(os.listdir(d))
    for name in files:
        data = open(os.path.join(d, name), 'rb').read()
        r = sum(1 for s in secrets if s in data)
        e = sum(1 for s, cs in b64 if any(c in data for c in cs))
        raw += r
        enc += e
        if r or e:
            names.append('%s(%d raw, %d base64)' % (name, r, e))
    print(cls, len(files), raw, enc, ' '.join(names) or '-')
PY
)
read -r _ nlog raw_log enc_log where_log <<<"$(printf '%s\n' "$scan_out" | grep '^logs ')"
read -r _ nout raw_out enc_out where_out <<<"$(printf '%s\n' "$scan_out" | grep '^outputs ')"
read -r _ nproc raw_proc enc_proc where_proc <<<"$(printf '%s\n' "$scan_out" | grep '^proc ')"
check "tokens and secrets collected from the flows ($nsec)" test "$nsec" -ge 10
is "$raw_log,$enc_log" "0,0" "no token or secret, raw or base64, in the $nlog logs (Postfix, Dovecot, provider)"
[ "$where_log" != - ] && echo "# found in: $where_log"
is "$raw_proc,$enc_proc" "0,0" "none in /proc/PID/cmdline and environ of $nproc processes (stack, imtest)"
[ "$where_proc" != - ] && echo "# found in: $where_proc"
is "$raw_out" "0" "none in the $nout captured outputs of this test (plugin log lines included)"
[ "$where_out" != - ] && echo "# found in: $where_out"
echo "# base64 forms in captured outputs: $enc_out (the clients print the AUTH exchange, whose base64"
echo "# payload is the bearer token: smtptest/imtest 'C:' lines and sasl-driver 'start:' lines)"
check "the plugin did log (log_level debug): its lines are in the Postfix log" grep -q "sasl-oauth2" "$PF_OUT_LOG"
echo "# secret scan: $nsec secrets x $((nlog + nout + nproc)) files: $((raw_log + raw_out + raw_proc)) raw hits," \
	"$((enc_log + enc_proc)) base64 hits outside client transcripts"

done_testing
