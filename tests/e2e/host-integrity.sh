#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing left behind in the host (issue 9, section 5), on the real loopback
# stack.  tests/host-integrity is a host program that uses jansson (with its
# own allocator, set before the plugin loads; with -d, set only after the
# plugin is gone) and libcurl (file:// and HTTPS to oidc-provider on
# loopback) itself; it loads the plugin through libsasl2, authenticates at
# Dovecot's IMAP port with XOAUTH2 (a fresh token, and an expired one that
# the plugin refreshes at oidc-provider), calls sasl_client_done(), and then
# keeps using jansson and libcurl; every signal disposition and the signal
# mask must be as before.  Run plain, under valgrind (0 errors) and, when
# an ASan build is there (ASAN_BUILD, default _build-test/asan), under
# ASan+UBSan.  The same for the tool: `sasl-oauth2 doctor --postfix` with a
# config file present and a token file missing (it loads the plugin and
# then frees its own config document) must finish without a crash, also
# under valgrind.  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build}
ASAN_BUILD=${ASAN_BUILD:-$top/_build-test/asan}
export PORT_OFFSET=${PORT_OFFSET:-30000}
HOST="$BUILD/tests/host-integrity"
TOOL="$BUILD/tools/sasl-oauth2"
T=$(mktemp -d /tmp/oa2-host.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -d "$T/stack" ] && bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

if [ ! -x "$HOST" ]; then
	_tap 1 "tests/host-integrity is built (make check builds it)"; done_testing; exit 1
fi
mkdir "$T/plugin" "$T/asan-plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
printf '{ "log_level": "debug", "connect_timeout": 5, "timeout": 20, "refresh_window": 60 }\n' >"$T/oa2.conf"
chmod 600 "$T/oa2.conf"
export SASL_OAUTH2_CONFIG="$T/oa2.conf"

VG=(valgrind --tool=memcheck --leak-check=no --num-callers=40 --track-origins=yes
	--suppressions="$top/tests/valgrind.supp")
have_vg=0; command -v valgrind >/dev/null 2>&1 && have_vg=1
# vg_errors LOG - valgrind's error count
vg_errors() { sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$1" | tail -1; }

# ===== 1. the tool: doctor --postfix with a config present =====
if command -v postconf >/dev/null 2>&1 && [ -x "$TOOL" ]; then
	mkdir "$T/pf"
	cp /etc/postfix/master.cf "$T/pf/" 2>/dev/null || : >"$T/pf/master.cf"
	cat >"$T/pf/main.cf" <<-EOF
	compatibility_level = 3.6
	smtp_sasl_auth_enable = yes
	smtp_sasl_password_maps = texthash:$T/pf/sasl_passwd
	import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$T/plugin SASL_OAUTH2_CONFIG=$T/oa2.conf
	EOF
	echo "[127.0.0.1]:25 user@example.test:$T/missing-token.json" >"$T/pf/sasl_passwd"
	"$TOOL" doctor --postfix --config-dir "$T/pf" >"$T/doctor.out" 2>&1
	rc=$?
	ok_rc=1; [ "$rc" -eq 0 ] || [ "$rc" -eq 78 ] && ok_rc=0
	_tap $ok_rc "doctor --postfix, config present, token file missing: no crash (exit $rc, 0 or 78 expected)"
	[ $ok_rc = 0 ] || tail -5 "$T/doctor.out" | sed 's/^/# /'
	like "$(cat "$T/doctor.out")" "libsasl2 loads one XOAUTH2 plugin" "doctor: the plugin was loaded (and unloaded) in the tool"
	like "$(cat "$T/doctor.out")" "missing-token.json" "doctor: the missing token file is reported"
	if [ $have_vg = 1 ]; then
		"${VG[@]}" --log-file="$T/vg-doctor.log" "$TOOL" doctor --postfix --config-dir "$T/pf" \
			>"$T/doctor-vg.out" 2>&1
		is "$(vg_errors "$T/vg-doctor.log")" "0" "doctor under valgrind: 0 errors"
	else
		skip "doctor under valgrind" "valgrind not installed"
	fi
else
	skip "doctor --postfix" "no postconf or no tool"
fi

# ===== 2. the host program, against the stack =====
if ! AT_TTL=900 bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
	_tap 1 "stack starts (PORT_OFFSET=$PORT_OFFSET)"; tail -5 "$T/stack-start.log" | sed 's/^/# /'
	done_testing; exit 1
fi
_tap 0 "stack starts: oidc-provider and Dovecot on loopback"
. "$T/stack/stack.env"

# token_file PATH [EXPIRED] - a token file with a new grant from oidc-provider
token_file() {
	local json rt at exp
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

# run_host NAME PREFIX... -- HOST-OPTIONS: a fresh and an expired token file each run
N=0
run_host() {
	local name=$1; shift
	local pre=() rc
	while [ "$1" != "--" ]; do pre+=("$1"); shift; done
	shift
	N=$((N + 1))
	token_file "$T/tok/fresh$N.json" && token_file "$T/tok/expired$N.json" expired \
		|| { _tap 1 "$name: a grant from oidc-provider"; return; }
	chmod 600 "$T"/tok/*.json
	"${pre[@]}" "$@" -u "$TEST_USER" -I "$IMAP_PORT" -U "$DISCOVERY_URL" -c "$CA_FILE" \
		-r "$T/tok/expired$N.json" "$T/tok/fresh$N.json" "$T/tok/expired$N.json" \
		>"$T/host-$N.out" 2>"$T/host-$N.err"
	rc=$?
	is "$rc" "0" "$name: every check of the host program passes"
	grep -E '^(not ok|# )' "$T/host-$N.out" | head -8 | sed 's/^/# /'
	[ "$rc" = 0 ] || tail -3 "$T/host-$N.err" | sed 's/^/# /'
	echo "# $name: $(grep -c '^ok' "$T/host-$N.out") checks ok, $(grep -c '^not ok' "$T/host-$N.out") not ok"
	LAST_OUT="$T/host-$N.out"
}
mkdir -m 700 "$T/tok"

run_host "plain, host allocator set first" -- "$HOST" -p "$T/plugin"
like "$(cat "$LAST_OUT")" "ok [0-9]+ - the plugin refreshed" "plain: the expired token was refreshed by the plugin"
like "$(cat "$LAST_OUT")" "ok [0-9]+ - after: the host's jansson allocator is the one installed" "plain: the host's allocator is still installed after sasl_client_done"
like "$(cat "$LAST_OUT")" "ok [0-9]+ - after: every signal" "plain: signal dispositions and mask unchanged"
run_host "plain, host allocator set after (-d)" -- "$HOST" -d -p "$T/plugin"
like "$(cat "$LAST_OUT")" "ok [0-9]+ - after: jansson's allocator is still its default" "plain -d: jansson's default allocator is back after sasl_client_done"

if [ $have_vg = 1 ]; then
	for mode in "" -d; do
		run_host "valgrind${mode:+ $mode}" "${VG[@]}" --log-file="$T/vg-host$mode.log" -- \
			"$HOST" $mode -p "$T/plugin"
		is "$(vg_errors "$T/vg-host$mode.log")" "0" "valgrind${mode:+ $mode}: 0 errors"
		if [ "$(vg_errors "$T/vg-host$mode.log")" != 0 ]; then
			grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Jump)' \
				"$T/vg-host$mode.log" | head -5 | sed 's/^/# /'
		fi
	done
else
	skip "host program under valgrind" "valgrind not installed"
fi

if [ -x "$ASAN_BUILD/tests/host-integrity" ] && [ -f "$ASAN_BUILD/plugin/.libs/libsasl-oauth2.so" ]; then
	cp "$ASAN_BUILD/plugin/.libs/libsasl-oauth2.so" "$T/asan-plugin/"
	for mode in "" -d; do
		run_host "ASan+UBSan${mode:+ $mode}" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 -- \
			"$ASAN_BUILD/tests/host-integrity" $mode -p "$T/asan-plugin"
		unlike "$(cat "$T/host-$N.err")" "ERROR: AddressSanitizer|runtime error:" \
			"ASan+UBSan${mode:+ $mode}: no report"
	done
	if command -v postconf >/dev/null 2>&1 && [ -x "$ASAN_BUILD/tools/sasl-oauth2" ]; then
		sed -i "s#SASL_PATH=$T/plugin #SASL_PATH=$T/asan-plugin #" "$T/pf/main.cf"
		ASAN_OPTIONS=detect_leaks=0 "$ASAN_BUILD/tools/sasl-oauth2" doctor --postfix \
			--config-dir "$T/pf" >"$T/doctor-asan.out" 2>&1
		rc=$?
		ok_rc=1; [ "$rc" -eq 0 ] || [ "$rc" -eq 78 ] && ok_rc=0
		_tap $ok_rc "doctor --postfix under ASan: no crash (exit $rc)"
		unlike "$(cat "$T/doctor-asan.out")" "ERROR: AddressSanitizer|runtime error:" "doctor under ASan+UBSan: no report"
	fi
else
	skip "host program under ASan" "no ASan build at $ASAN_BUILD (configure --enable-sanitizers; make check)"
fi

done_testing
