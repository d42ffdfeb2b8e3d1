#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mutt and neomutt (Debian's) send mail through the loopback stack's pf-in
# (STARTTLS, AUTH checked by Dovecot) in batch mode, and under tmux read the
# Dovecot inbox over IMAP and send from the compose menu, with XOAUTH2 and
# OAUTHBEARER, from a sasl-oauth2 token file that is expired each time (so
# imap_ and smtp_oauth_refresh_command each have to refresh it).  TAP output.
#
# The blocker, proved by check 2: Debian 12 builds mutt and neomutt with GNU
# SASL (libgsasl), not Cyrus libsasl2, so neither can load our plugin; with
# smtp_authenticators="xoauth2" and smtp_pass = the token file's path they
# stop at "No OAUTH refresh command defined" and never open SASL_PATH.
# What works with these builds, and is tested here: their own XOAUTH2 /
# OAUTHBEARER code with {smtp,imap}_oauth_refresh_command running
# `sasl-oauth2 token FILE` (a refresh when due, under
# the file's lock, the same write-back as the plugin; a token file can be
# shared with Postfix).
#
# Traps: the user in smtp_url is URL-encoded (user%40example.test); the
# server's name must match the certificate (localhost here); TLS is verified
# against ssl_ca_certificates_file; mutt and neomutt need a terminal to read
# a mailbox, hence tmux (its own server socket, -L) for the IMAP checks.
# Under tmux the test's editor is "true" with abort_unmodified=no, so that
# m, To, Subject lead straight to the compose menu, where y sends.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}

progs=""
for p in mutt neomutt; do command -v "$p" >/dev/null 2>&1 && progs="$progs $p"; done
if [ -z "$progs" ]; then echo "1..0 # SKIP neither mutt nor neomutt is installed"; exit 0; fi
if ! command -v tmux >/dev/null 2>&1; then echo "1..0 # SKIP tmux is not installed"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (the stack)"; exit 0; fi
. "$top/tests/lib/clients-common.bash"
clients_setup mutt
TMUX_SOCK="oa2-mutt-$$"
cleanup_all() {
	tmux -L "$TMUX_SOCK" kill-server >/dev/null 2>&1
	clients_cleanup
}
trap cleanup_all EXIT
versions=$(for p in $progs; do "$p" -v 2>/dev/null | head -1; done | paste -sd, -)
_tap 0 "stack starts; $versions"

TOKEN="$T/token.json"
clients_token "$TOKEN"
mkdir -m 0700 "$T/home"
echo "body" >"$T/body"
# write_rc MECH - the test's muttrc with this run's values
write_rc() {
	sed -e "s|@FROM@|sender@example.test|" -e "s|@USER_URL@|user%40example.test|" \
		-e "s|@SMTP_HOST@|localhost|" -e "s|@SMTP_PORT@|$PF_IN_PORT|" \
		-e "s|@IMAP_HOST@|localhost|" -e "s|@IMAP_PORT@|$IMAPS_PORT|" -e "s|@USER@|$TEST_USER|" \
		-e "s|@MECH@|$1|" -e "s|@SASL_OAUTH2@|$BUILD/tools/sasl-oauth2|" \
		-e "s|@TOKEN_FILE@|$TOKEN|g" -e "s|@CA_FILE@|$CA_FILE|" \
		"$top/tests/clients/muttrc" >"$T/muttrc"
}
# run PROG ARGS... - mutt or neomutt with the test's muttrc, no system muttrc
run() {
	local p=$1; shift
	HOME="$T/home" SASL_OAUTH2_CONFIG="$T/sasl-oauth2.conf" SASL_PATH="$T/plugin" \
		timeout 30 "$p" -n -F "$T/muttrc" "$@"
}
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" 30 >/dev/null 2>&1; }
logins() { grep -c "imap-login: Info: Login: user=<$TEST_USER>, method=$1" "$DOVECOT_LOG"; }
smtp_logins() { grep -c "sasl_method=$1, sasl_username=$TEST_USER\$" "$PF_IN_LOG"; }

# --- 1. the blocker: GNU SASL, so the plugin cannot be used ---
first=${progs# }; first=${first%% *}
write_rc xoauth2
grep -v oauth_refresh_command "$T/muttrc" >"$T/muttrc.plugin"
echo "set smtp_pass = \"$TOKEN\"" >>"$T/muttrc.plugin"
out=$(HOME="$T/home" SASL_PATH="$T/plugin" strace -f -e trace=openat -o "$T/strace" \
	timeout 30 "$first" -n -F "$T/muttrc.plugin" -s "plugin-attempt" "$TEST_USER" <"$T/body" 2>&1)
if ldd "$(command -v "$first")" | grep -q 'libsasl2\.so' || grep -q libsasl-oauth2 "$T/strace"; then
	_tap 1 "$first links Cyrus libsasl2 now: use the plugin recipe (smtp_pass = token file) and update this test"
else
	like "$out" "No OAUTH refresh command defined" \
		"$first uses GNU SASL, not Cyrus libsasl2: the plugin is never loaded (blocker; refresh command used instead)"
fi

# --- 2. batch send, each program, both mechanisms ---
mechs="xoauth2 oauthbearer"
n=0
for p in $progs; do
	for m in $mechs; do
		n=$((n + 1))
		write_rc "$m"
		# Expired, so that the refresh command has to refresh it.
		jq '.expiry = "1"' "$TOKEN" >"$T/t.json" && cat "$T/t.json" >"$TOKEN"
		before=$(refresh_ok); at_before=$(jq -r .access_token "$TOKEN")
		run "$p" -s "$p-$m" "$TEST_USER" <"$T/body" >>"$T/mutt.out" 2>&1
		is "$?" "0" "$p sends with $m (batch mode) and exits 0"
		check "$p/$m: the mail is delivered to the Maildir" delivered "$p-$m"
		M=$(echo "$m" | tr a-z A-Z)
		like "$(grep "sasl_method=$M" "$PF_IN_LOG" | tail -1)" "sasl_username=$TEST_USER" \
			"$p/$m: pf-in logged the $M login of the right user"
		AT=$(jq -r .access_token "$TOKEN"); remember "$AT"; remember "$(jq -r .refresh_token "$TOKEN")"
		check "$p/$m: the refresh command refreshed the token file (new access token)" test "$AT" != "$at_before"
		is "$(refresh_ok)" "$((before + 1))" "$p/$m: one refresh request"
	done
done

# --- 3. under tmux: the inbox over IMAP, then a mail sent from the compose menu ---
# Each session starts from an expired access token, revoked at the provider:
# imap_oauth_refresh_command has to refresh it to open the inbox; then it is
# expired again and smtp_oauth_refresh_command has to refresh it to send.
. "$top/tests/lib/storm-common.bash"	# expire, ok_count
for p in $progs; do
	for m in $mechs; do
		write_rc "$m"
		# The test's editor leaves the body empty; the compose menu appears.
		printf 'set editor = "true"\nset abort_unmodified = no\n' >>"$T/muttrc"
		M=$(echo "$m" | tr a-z A-Z)
		s="$p-$m"
		expire
		before=$(logins "$M"); req=$(ok_count); at_before=$(jq -r .access_token "$TOKEN")
		tmux -L "$TMUX_SOCK" new-session -d -s "$s" -x 160 -y 40 \
			"env HOME='$T/home' SASL_OAUTH2_CONFIG='$T/sasl-oauth2.conf' $p -n -F '$T/muttrc'"
		pane() { tmux -L "$TMUX_SOCK" capture-pane -p -t "$s"; }
		keys() { tmux -L "$TMUX_SOCK" send-keys -t "$s" "$@"; }
		wait_for 30 eval 'pane | grep -Eq "[ )]$s( |\$)"'
		screen=$(pane)
		like "$screen" "[ )]$s( |\$)" "$p/$m over IMAP (tmux): the inbox lists the mail $p sent"
		like "$screen" "INBOX" "$p/$m: the status line shows INBOX"
		wait_for 10 eval '[ "$(logins "$M")" -gt "$before" ]'
		is "$(logins "$M")" "$((before + 1))" "$p/$m: Dovecot logged an IMAP login with $M"
		AT=$(jq -r .access_token "$TOKEN"); remember "$AT"; remember "$(jq -r .refresh_token "$TOKEN")"
		check "$p/$m: imap_oauth_refresh_command refreshed the expired token (new access token)" \
			test "$AT" != "$at_before"
		is "$(ok_count)" "$((req + 1))" "$p/$m: one refresh request for the IMAP login"
		echo "$screen" >>"$T/screens"
		# m, To, Subject, (editor), y in the compose menu
		expire
		req=$(ok_count); at_before=$(jq -r .access_token "$TOKEN"); sent=$(smtp_logins "$M")
		keys m
		wait_for 10 eval 'pane | tail -1 | grep -q "^To:"' && keys "$TEST_USER" Enter
		wait_for 10 eval 'pane | tail -1 | grep -q "^Subject:"' && keys "tmux-$s" Enter
		wait_for 10 eval 'pane | grep -q "y:Send"' && keys y
		wait_for 30 eval 'pane | grep -q "Mail sent"'
		like "$(pane)" "Mail sent" "$p/$m: sent from the compose menu (tmux), $p says 'Mail sent'"
		pane >>"$T/screens"
		check "$p/$m: the mail sent from the compose menu is delivered" delivered "tmux-$s"
		is "$(smtp_logins "$M")" "$((sent + 1))" "$p/$m: pf-in logged one more $M login of $TEST_USER"
		AT=$(jq -r .access_token "$TOKEN"); remember "$AT"; remember "$(jq -r .refresh_token "$TOKEN")"
		check "$p/$m: smtp_oauth_refresh_command refreshed the expired token (new access token)" \
			test "$AT" != "$at_before"
		is "$(ok_count)" "$((req + 1))" "$p/$m: one refresh request for the send"
		tmux -L "$TMUX_SOCK" kill-session -t "$s" >/dev/null 2>&1
	done
done

clients_no_secrets "no token in the programs' output, the screens or the servers' logs" \
	"$T/mutt.out" "$T/screens"
done_testing
