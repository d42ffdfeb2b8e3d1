#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mbsync (Debian's isync) syncs the loopback stack's Dovecot inbox to a local
# Maildir, logging in with XOAUTH2 and then OAUTHBEARER through our plugin
# (isync uses Cyrus libsasl2; SASL_PATH points it at the build's plugin).
# The token file starts with an expired access token: the plugin, inside
# mbsync, refreshes it.  Then the same through `sasl-oauth2 token FILE`:
# PassCmd runs it, and Debian's other XOAUTH2 plugin
# (libsasl2-modules-kdexoauth2, unpacked, never installed: it would be a
# second XOAUTH2 in libsasl2's directory) sends the access token it prints.
# TAP output.
#
# Traps:
#  - The password is the token file's PATH: PassCmd "echo /path" (or Pass).
#  - isync 1.4 checks the server's name against the certificate's DNS names
#    only, not IP addresses: connect to "localhost" (the test certificate has
#    DNS:localhost), not 127.0.0.1 ("certificate owner does not match").
#  - isync 1.4 spells it SSLType IMAPS or STARTTLS (TLSType is isync 1.5's).
#    The test uses implicit TLS, as Gmail and Microsoft 365 do (port 993).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}

. "$top/tests/lib/clients-common.bash"
clients_start mbsync "mbsync (isync)"
LOCAL="$T/mail"; mkdir "$LOCAL"
# write_rc MECH [PASSCMD] - the test's mbsyncrc with this run's values
write_rc() {
	sed -e "s|@HOST@|localhost|" -e "s|@PORT@|$IMAPS_PORT|" -e "s|@USER@|$TEST_USER|" \
		-e "s|@PASSCMD@|${2:-echo $TOKEN}|" -e "s|@MECH@|$1|" -e "s|@CA_FILE@|$CA_FILE|" \
		-e "s|@MAILDIR@|$LOCAL|" "$top/tests/clients/mbsyncrc" >"$T/mbsyncrc"
}
# mail SUBJECT - put a mail into the IMAP inbox (pf-in's plain port, LMTP)
mail() {
	python3 "$SEND_MAIL" --port "$PF_IN_PLAIN_PORT" --from sender@example.test \
		--to "$TEST_USER" --subject "$1" >/dev/null 2>&1 &&
		bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" 30 >/dev/null 2>&1
}
run_mbsync() {
	SASL_PATH="${SASL_DIR:-$T/plugin}" SASL_OAUTH2_CONFIG="$T/sasl-oauth2.conf" \
		timeout 30 mbsync -c "$T/mbsyncrc" -a >>"$T/mbsync.out" 2>&1
}
synced() { grep -rlx "Subject: $1" "$LOCAL/INBOX/new" "$LOCAL/INBOX/cur" 2>/dev/null | grep -c .; }
logins() { grep -c "imap-login: Info: Login: user=<$TEST_USER>, method=$1" "$DOVECOT_LOG"; }

check "two mails are in the server's inbox" eval 'mail mbsync-1 && mail mbsync-2'

# --- 1. XOAUTH2, expired access token: refreshed inside mbsync ---
start=$(date +%s)
write_rc XOAUTH2
run_mbsync; rc=$?
is "$rc" "0" "mbsync -a (XOAUTH2) exits 0"
is "$(synced mbsync-1)$(synced mbsync-2)" "11" "both mails are in the local Maildir"
is "$(logins XOAUTH2)" "1" "Dovecot logged one XOAUTH2 IMAP login of the right user"
AT1=$(jq -r .access_token "$TOKEN"); remember "$AT1"; remember "$(jq -r .refresh_token "$TOKEN")"
check "the plugin refreshed the expired access token: a new one is in the file" test "$AT1" != "$AT0"
check "the new expiry is in the future" test "$(jq -r .expiry "$TOKEN")" -gt "$start"
is "$(refresh_ok)" "1" "one refresh request reached the token endpoint"

# --- 2. OAUTHBEARER, the fresh token reused, a new mail fetched ---
mail mbsync-3
write_rc OAUTHBEARER
run_mbsync; rc=$?
is "$rc" "0" "mbsync -a (OAUTHBEARER) exits 0"
is "$(synced mbsync-3)" "1" "the new mail is in the local Maildir"
is "$(logins OAUTHBEARER)" "1" "Dovecot logged an OAUTHBEARER IMAP login"
is "$(refresh_ok)" "1" "the fresh access token was reused: still one refresh"
is "$(jq -r .access_token "$TOKEN")" "$AT1" "same access token in the file"

# --- 3. a revoked access token: mbsync fails, the next run refreshes ---
curl -s --cacert "$CA_FILE" -X POST -d "token=$AT1" "$TEST_REVOKE_AT_URL" >/dev/null
run_mbsync; rc=$?
check "revoked access token: mbsync fails (exit $rc)" test "$rc" -ne 0
is "$(jq -r .expiry "$TOKEN")" "0" "the plugin marked the refused token stale in the file"
mail mbsync-4
run_mbsync; rc=$?
is "$rc" "0" "the next mbsync run refreshes and logs in"
is "$(synced mbsync-4)" "1" "and fetches the new mail"
AT2=$(jq -r .access_token "$TOKEN"); remember "$AT2"; remember "$(jq -r .refresh_token "$TOKEN")"
check "a new access token in the file" test "$AT2" != "$AT1"

# --- 4. the same through `sasl-oauth2 token FILE` and another XOAUTH2 plugin ---
mkdir "$T/debs" "$T/kde"
if [ -n "${KDEXOAUTH2_DEB:-}" ]; then
	cp "$KDEXOAUTH2_DEB" "$T/debs/" 2>/dev/null
else
	(cd "$T/debs" && apt-get download libsasl2-modules-kdexoauth2) >"$T/download.log" 2>&1
fi
for d in "$T"/debs/*.deb; do [ -f "$d" ] && dpkg-deb -x "$d" "$T/kde"; done
KDE_DIR=$(dirname "$(find "$T/kde" -name 'libkdexoauth2.so*' -type f 2>/dev/null | head -1)")
if [ ! -f "$KDE_DIR/libkdexoauth2.so" ] && [ ! -L "$KDE_DIR/libkdexoauth2.so" ]; then
	for i in 1 2 3 4 5; do
		skip "mbsync with PassCmd 'sasl-oauth2 token FILE' ($i)" \
			"libsasl2-modules-kdexoauth2 could not be downloaded: $(tail -1 "$T/download.log" 2>/dev/null)"
	done
else
	. "$top/tests/lib/storm-common.bash"
	expire	# expired on disk and revoked at the provider
	before=$(ok_count); at_before=$(jq -r .access_token "$TOKEN"); n=$(logins XOAUTH2)
	mail mbsync-5
	write_rc XOAUTH2 "$BUILD/tools/sasl-oauth2 token $TOKEN"
	SASL_DIR=$KDE_DIR run_mbsync; rc=$?
	is "$rc" "0" "PassCmd 'sasl-oauth2 token FILE', AuthMechs XOAUTH2 (kdexoauth2 plugin): mbsync -a exits 0"
	is "$(synced mbsync-5)" "1" "the new mail is in the local Maildir"
	is "$(logins XOAUTH2)" "$((n + 1))" "Dovecot logged one more XOAUTH2 IMAP login"
	AT3=$(jq -r .access_token "$TOKEN"); remember "$AT3"; remember "$(jq -r .refresh_token "$TOKEN")"
	check "token refreshed the expired access token: a new one is in the file" test "$AT3" != "$at_before"
	is "$(ok_count)" "$((before + 1))" "one refresh request reached the token endpoint"
fi

clients_no_secrets "no token in mbsync's output or the Dovecot, pf-in, provider logs" "$T/mbsync.out"
done_testing
