#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The plugin under valgrind (memcheck) inside real clients, against the real
# loopback stack: Cyrus smtptest (Postfix smtpd, STARTTLS, Dovecot behind it)
# and imtest (Dovecot IMAP), both mechanisms, a refresh at oidc-provider, a
# fresh token, the server's error challenge; and tests/sasl-driver (the
# callback interface Postfix uses) repeating the exchange 20 times, plus its
# error paths.  Each run must show 0 errors and no definite or indirect leak
# whose allocation stack goes through the plugin.  Suppressions for other
# people's code: tests/valgrind.supp (each one explained there).  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
export PORT_OFFSET=${PORT_OFFSET:-30000}
DRIVER="$BUILD/tests/sasl-driver"
T=$(mktemp -d /tmp/oa2-valgrind.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -d "$T/stack" ] && bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if ! command -v valgrind >/dev/null 2>&1; then
	skip "valgrind runs" "valgrind not installed"; done_testing; exit 0
fi
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
printf '{ "log_level": "debug", "connect_timeout": 5, "timeout": 20, "refresh_window": 60 }\n' >"$T/oa2.conf"
chmod 600 "$T/oa2.conf"
export SASL_OAUTH2_CONFIG="$T/oa2.conf"

if ! AT_TTL=900 bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts (PORT_OFFSET=$PORT_OFFSET)"; tail -5 "$T/stack-start.log" | sed 's/^/# /'
	done_testing; exit 1
fi
. "$T/stack/stack.env"

# token_file PATH [EXPIRED] - a token file with a new grant from oidc-provider
token_file() {
	local json rt at
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>/dev/null) || return 1
	rt=$(printf '%s' "$json" | jq -r .refresh_token)
	at=$(printf '%s' "$json" | jq -r .access_token)
	if [ -n "${2:-}" ]; then at="expired"; exp=1; else exp=$(( $(date +%s) + AT_TTL - 5 )); fi
	(umask 077; jq -n --arg rt "$rt" --arg at "$at" --arg exp "$exp" --arg u "$TEST_USER" \
		--arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg cid "$CLIENT_ID" \
		--arg cs "$CLIENT_SECRET" \
		'{refresh_token:$rt, access_token:$at, expiry:$exp, user:$u, token_endpoint:$ep,
		  ca_bundle_file:$ca, client_id:$cid, client_secret:$cs, client_auth:"basic"}' >"$1")
}

VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --keep-debuginfo=yes --num-callers=40
	--track-origins=yes --gen-suppressions=all --suppressions="$top/tests/valgrind.supp")

# vg_check NAME LOG - 0 errors; no definite/indirect leak through the plugin
vg_check() {
	local name=$1 log=$2 errs ours other
	errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
	# Leak records, one per paragraph; ours when a frame is in the plugin.
	ours=$(awk '/are (definitely|indirectly) lost in loss record/ { rec = 1; buf = "" }
		rec { buf = buf $0 "\n" }
		rec && /^==[0-9]+== *$/ { if (buf ~ /libsasl-oauth2|oa2_/) n++; rec = 0 }
		END { print n + 0 }' "$log")
	other=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
	is "${errs:-missing}" "0" "$name: valgrind reports 0 errors"
	is "$ours" "0" "$name: no definite or indirect leak allocated through the plugin"
	[ "${other:-0}" != 0 ] && echo "# $name: the client itself leaks ${other} bytes definitely (not the plugin's)"
	if [ "${errs:-1}" != 0 ] || [ "$ours" != 0 ]; then
		grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in)' "$log" \
			| head -8 | sed 's/^/# /'
		echo "# full log: $log (KEEP=1 keeps it)"
	fi
	ERRS_TOTAL=$((ERRS_TOTAL + ${errs:-0}))
	LEAKS_TOTAL=$((LEAKS_TOTAL + ours))
	RUNS=$((RUNS + 1))
}
ERRS_TOTAL=0 LEAKS_TOTAL=0 RUNS=0

mkdir -m 700 "$T/tok"
token_file "$T/tok/smtp.json" expired || { _tap 1 "a grant from oidc-provider"; done_testing; exit 1; }
token_file "$T/tok/imap.json" || { _tap 1 "a grant from oidc-provider"; done_testing; exit 1; }
chmod 600 "$T"/tok/*.json
ok_before=$(curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" | jq -r '.refresh_token.ok // 0')

# smtptest: XOAUTH2 with an expired token: the plugin refreshes inside valgrind.
out=$(SASL_PATH="$T/plugin" timeout 120 "${VG[@]}" --log-file="$T/vg-smtptest-xoauth2.log" \
	"$SMTPTEST" -m XOAUTH2 -a "$TEST_USER" -w "$T/tok/smtp.json" -t "" -p "$PF_IN_PORT" \
	127.0.0.1 </dev/null 2>&1)
like "$out" "Authenticated" "smtptest -m XOAUTH2 (expired token, refreshed) authenticates at Postfix under valgrind"
is "$(curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" | jq -r '.refresh_token.ok // 0')" "$((ok_before + 1))" \
	"smtptest: the plugin refreshed once at oidc-provider (under valgrind)"
vg_check "smtptest XOAUTH2 + refresh" "$T/vg-smtptest-xoauth2.log"

# smtptest OAUTHBEARER with the token just refreshed (fresh path).
out=$(SASL_PATH="$T/plugin" timeout 120 "${VG[@]}" --log-file="$T/vg-smtptest-oauthbearer.log" \
	"$SMTPTEST" -m OAUTHBEARER -a "$TEST_USER" -w "$T/tok/smtp.json" -t "" -p "$PF_IN_PORT" \
	127.0.0.1 </dev/null 2>&1)
like "$out" "Authenticated" "smtptest -m OAUTHBEARER (fresh token) authenticates under valgrind"
vg_check "smtptest OAUTHBEARER" "$T/vg-smtptest-oauthbearer.log"

# imtest against Dovecot: both mechanisms, then the error challenge (wrong user).
for mech in XOAUTH2 OAUTHBEARER; do
	out=$(SASL_PATH="$T/plugin" timeout 120 "${VG[@]}" --log-file="$T/vg-imtest-$mech.log" \
		"$IMTEST" -m "$mech" -a "$TEST_USER" -w "$T/tok/imap.json" -t "" -p "$IMAP_PORT" \
		127.0.0.1 </dev/null 2>&1)
	like "$out" "Authenticated" "imtest -m $mech authenticates at Dovecot under valgrind"
	vg_check "imtest $mech" "$T/vg-imtest-$mech.log"
done
out=$(SASL_PATH="$T/plugin" timeout 120 "${VG[@]}" --log-file="$T/vg-imtest-refused.log" \
	"$IMTEST" -m OAUTHBEARER -a "other@example.test" -w "$T/tok/imap.json" -t "" -p "$IMAP_PORT" \
	127.0.0.1 </dev/null 2>&1)
like "$out" "(NO|failed)" "imtest with the wrong user: refused after the error challenge (under valgrind)"
unlike "$out" "BAD" "imtest: the error challenge was answered (no BAD)"
vg_check "imtest error challenge" "$T/vg-imtest-refused.log"

# sasl-driver: the callback interface (as Postfix), 20 exchanges in one
# process (a per-exchange leak shows 20 times), then its error paths.
if [ -x "$DRIVER" ]; then
	out=$("${VG[@]}" --log-file="$T/vg-driver-repeat.log" "$DRIVER" -n 20 -p "$T/plugin" \
		-m XOAUTH2 -u "$TEST_USER" -w "$T/tok/imap.json" -P 587 "" 2>&1)
	like "$out" "step: successful result" "sasl-driver: 20 XOAUTH2 exchanges under valgrind"
	vg_check "sasl-driver x20" "$T/vg-driver-repeat.log"
	json=$(printf '{"status":"invalid_token"}' | base64 -w0)
	out=$("${VG[@]}" --log-file="$T/vg-driver-challenge.log" "$DRIVER" -i -p "$T/plugin" \
		-m OAUTHBEARER -u "$TEST_USER" -w "$T/tok/imap.json" -P 587 "$json" 2>&1)
	like "$out" "step: another step is needed in authentication AQ==" "sasl-driver -i: error challenge answered with 0x01 under valgrind"
	vg_check "sasl-driver error challenge" "$T/vg-driver-challenge.log"
	printf '{"refresh_token": "x", "expiry": [1]}' >"$T/tok/bad.json"; chmod 600 "$T/tok/bad.json"
	out=$("${VG[@]}" --log-file="$T/vg-driver-bad.log" "$DRIVER" -p "$T/plugin" \
		-m XOAUTH2 -u "$TEST_USER" -w "$T/tok/bad.json" 2>&1)
	like "$out" "detail: .*expiry" "sasl-driver: a bad token file is refused under valgrind"
	vg_check "sasl-driver bad file" "$T/vg-driver-bad.log"
else
	skip "sasl-driver under valgrind" "$DRIVER not built"
fi

echo "# valgrind: $RUNS client runs, errors $ERRS_TOTAL, definite/indirect leaks through the plugin $LEAKS_TOTAL"
done_testing
