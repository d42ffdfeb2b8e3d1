#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# msmtp (Debian's) sends mail through the loopback stack with OAUTHBEARER
# and XOAUTH2, its password from `passwordeval "sasl-oauth2 token FILE"`:
# to Dovecot submission and to pf-in's smtpd, STARTTLS verified against the
# stack's CA.  Each send starts from an expired (and revoked) access token,
# so `token` has to refresh the file: one request at the provider, a new
# access token in the file, the mail delivered.  Then the token command
# and the plugin (sasl-driver, as in Postfix) share one expired file at
# the same moment: one request, and both log in.  TAP output.
#
# Traps: msmtp's own OAUTHBEARER/XOAUTH2 code (GNU SASL is not asked for
# them) takes the access token as the password, so msmtp never loads our
# plugin; it strips the newline `token` prints.  msmtp runs passwordeval
# before it connects, so a certificate that does not verify stops it after
# a refresh but before AUTH: the token is never sent (check 3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}

. "$top/tests/lib/clients-common.bash"
clients_start msmtp msmtp
TOOL="$BUILD/tools/sasl-oauth2"
DRIVER="$BUILD/tests/sasl-driver"
PROCS=8
. "$top/tests/lib/storm-common.bash"

# write_rc MECH [CA_FILE] - the test's msmtprc with this run's values
write_rc() {
	sed -e "s|@CA_FILE@|${2:-$CA_FILE}|" -e "s|@MECH@|$1|" -e "s|@USER@|$TEST_USER|" \
		-e "s|@SASL_OAUTH2@|$TOOL|" -e "s|@TOKEN_FILE@|$TOKEN|" -e "s|@FROM@|sender@example.test|" \
		-e "s|@HOST@|127.0.0.1|" -e "s|@SUBMISSION_PORT@|$SUBMISSION_PORT|" \
		-e "s|@RELAY_PORT@|$PF_IN_PORT|" "$top/tests/clients/msmtprc" >"$T/msmtprc"
	chmod 600 "$T/msmtprc"	# msmtp refuses a config others can read
}
# send ACCOUNT SUBJECT - one mail to the test user; msmtp's exit code
send() {
	printf 'From: sender@example.test\nTo: %s\nSubject: %s\n\nbody\n' "$TEST_USER" "$2" |
		timeout 30 msmtp -C "$T/msmtprc" -a "$1" --logfile="$T/msmtp.log" "$TEST_USER" >>"$T/msmtp.out" 2>&1
}
delivered() { bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$1" 30 >/dev/null 2>&1; }
# logins ACCOUNT MECH - how many MECH logins of the test user the server logged
logins() {
	if [ "$1" = submission ]; then
		grep -c "submission-login: Info: Login: user=<$TEST_USER>, method=$2," "$DOVECOT_LOG"
	else
		grep -c "sasl_method=$2, sasl_username=$TEST_USER\$" "$PF_IN_LOG"
	fi
}

# --- 1. each mechanism to each server, the access token expired ---
for m in oauthbearer xoauth2; do
	M=$(echo "$m" | tr a-z A-Z)
	write_rc "$m"
	for a in submission relay; do
		expire
		before=$(ok_count); at_before=$(jq -r .access_token "$TOKEN"); n=$(logins "$a" "$M")
		send "$a" "msmtp-$m-$a"
		is "$?" 0 "msmtp -a $a (auth $m) exits 0"
		check "$m to $a: the mail is delivered to the Maildir" delivered "msmtp-$m-$a"
		is "$(logins "$a" "$M")" "$((n + 1))" "$m to $a: the server logged one more $M login of $TEST_USER"
		AT=$(jq -r .access_token "$TOKEN"); remember "$AT"; remember "$(jq -r .refresh_token "$TOKEN")"
		check "$m to $a: token refreshed the file (a new access token in it)" test "$AT" != "$at_before"
		is "$(ok_count)" "$((before + 1))" "$m to $a: one refresh request at the provider"
	done
done

# --- 2. the fresh access token is reused ---
before=$(ok_count)
send relay msmtp-reuse
is "$?" 0 "a second send with a fresh access token exits 0"
check "and is delivered" delivered msmtp-reuse
is "$(ok_count)" "$before" "no refresh request for a fresh access token"
is "$(jq -r .access_token "$TOKEN")" "$AT" "the access token in the file is unchanged"

# --- 3. TLS is verified: a CA bundle without the stack's CA stops msmtp ---
# msmtp runs passwordeval before it connects (a refresh may happen); what
# matters is that the access token never reaches a server not verified.
expire
before=$(logins submission XOAUTH2); asked=$(grep -c 'introspection client=dovecot' "$IDP_LOG")
write_rc xoauth2 /etc/ssl/certs/ca-certificates.crt
: >"$T/msmtp.out"
send submission msmtp-untrusted; rc=$?
check "server certificate not signed by tls_trust_file's CAs: msmtp fails (exit $rc)" test "$rc" -ne 0
like "$(cat "$T/msmtp.out")" "certificate verification failed" "msmtp says the certificate did not verify"
wait_for 10 eval 'grep submission-login "$DOVECOT_LOG" | tail -1 | grep -q "no auth attempts"'
like "$(grep submission-login "$DOVECOT_LOG" | tail -1)" "no auth attempts" "Dovecot saw no AUTH on that connection"
is "$(grep -c 'introspection client=dovecot' "$IDP_LOG")" "$asked" "no token reached Dovecot (no introspection at the provider)"
is "$(logins submission XOAUTH2)" "$before" "no login"
remember "$(jq -r .access_token "$TOKEN")"; remember "$(jq -r .refresh_token "$TOKEN")"

# --- 4. token and the plugin share one expired file at the same moment ---
# Half the processes are `sasl-oauth2 token FILE` (a desktop client), half
# the plugin inside sasl-driver (Postfix's smtp client), released at once.
check "sasl-driver is built" test -x "$DRIVER"
expire
reset_stats
export TOOL DRIVER TOKEN TEST_USER PLUGIN="$T/plugin"
storm mixed bash -c 'if [ $((STORM_I % 2)) = 0 ]; then exec "$TOOL" token "$TOKEN"
	else exec "$DRIVER" -p "$PLUGIN" -m XOAUTH2 -u "$TEST_USER" -w "$TOKEN"; fi'
is "$(ok_count)" 1 "$PROCS processes (token and the plugin) on an expired file: one refresh request"
is "$(err_count)" 0 "no refresh request refused (no refresh token used twice)"
AT=$(jq -r .access_token "$TOKEN"); remember "$AT"; remember "$(jq -r .refresh_token "$TOKEN")"
printed=$(for ((i = 2; i <= PROCS; i += 2)); do cat "$T/mixed/out.$i"; done | sort | uniq -c)
is "$printed" "      $((PROCS / 2)) $AT" "the $((PROCS / 2)) token processes each printed the file's new access token, only it"
sent=$(for ((i = 1; i <= PROCS; i += 2)); do
	sed -n 's/^start: another step is needed in authentication //p' "$T/mixed/out.$i" | base64 -d |
		tr '\001' '\n' | sed -n 's/^auth=Bearer //p'
done | sort | uniq -c)
is "$sent" "      $((PROCS / 2)) $AT" "the $((PROCS / 2)) plugin processes each sent that same access token"
out=$(AT="$AT" python3 "$OAUTH_LOGIN" imap --port "$IMAPS_PORT" --tls implicit --user "$TEST_USER" \
	--token-env AT --mech XOAUTH2 --ca "$CA_FILE" 2>&1)
is "$out" OK "the plugin's access token logs in to Dovecot IMAP"
write_rc xoauth2
send submission msmtp-shared
is "$?" 0 "msmtp with token sends with the shared file"
check "and the mail is delivered" delivered msmtp-shared
is "$(ok_count)" 1 "still one refresh request"

# --- 5. token's error reaches msmtp's user ---
sed -e "s|$TOKEN|$T/missing.json|" "$T/msmtprc" >"$T/msmtprc.missing"
chmod 600 "$T/msmtprc.missing"
: >"$T/msmtp.out"
printf 'Subject: msmtp-missing\n\nbody\n' |
	timeout 30 msmtp -C "$T/msmtprc.missing" -a submission "$TEST_USER" >"$T/msmtp.out" 2>&1
rc=$?
check "a token file that does not exist: msmtp fails (exit $rc)" test "$rc" -ne 0
like "$(cat "$T/msmtp.out")" "$T/missing.json" "msmtp shows token's error naming the file"

clients_no_secrets "no token in msmtp's output and log, nor the servers' logs" "$T/msmtp.out" "$T/msmtp.log"
done_testing
