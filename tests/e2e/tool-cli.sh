#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-cli.sh - sasl-oauth2's command line without servers: usage() is the
# man page's SYNOPSIS, the man page is lint-clean, every explain code prints a
# page naming its fix, exit codes of bad invocations, no secret on argv.  TAP.
. "$(dirname "$0")/tool-common.bash"
require_tool
MAN=$top/man/sasl-oauth2.1

# normalise: one line of words, "usage:" dropped
norm() { tr -s ' \t\n' '   ' | sed 's/^ *//; s/ *$//; s/^usage: //'; }

"$TOOL" >/dev/null 2>"$WORK/usage"
rc=$?
ok $([[ $rc -eq 64 ]]; echo $?) "no arguments: usage on stderr, EX_USAGE (got $rc)"
if command -v mandoc >/dev/null; then
	MANWIDTH=200 mandoc -Tascii "$MAN" | col -b |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | norm >"$WORK/syn.man"
	norm <"$WORK/usage" >"$WORK/syn.usage"
	if cmp -s "$WORK/syn.man" "$WORK/syn.usage"; then ok 0 "usage() matches the man page SYNOPSIS"; else
		ok 1 "usage() matches the man page SYNOPSIS"
		diff <(tr ' ' '\n' <"$WORK/syn.man") <(tr ' ' '\n' <"$WORK/syn.usage") | sed 's/^/# /' | head -20
	fi
	mandoc -Tlint "$MAN" >"$WORK/lint" 2>&1
	ok $? "mandoc -Tlint is clean"
	diag "$WORK/lint"
else
	ok 0 "usage() matches the man page SYNOPSIS # SKIP no mandoc"
	ok 0 "mandoc -Tlint is clean # SKIP no mandoc"
fi
"$TOOL" --help >"$WORK/help" 2>&1
ok $? "--help exits 0"
check "--help prints the synopsis" cmp -s <(norm <"$WORK/help") "$WORK/syn.usage"
"$TOOL" -V >"$WORK/v" 2>&1
ok $? "-V exits 0"
check "-V prints the version" has "$WORK/v" '^sasl-oauth2 [0-9]+\.[0-9]+'
"$TOOL" frobnicate >/dev/null 2>&1
ok $([[ $? -eq 64 ]]; echo $?) "unknown command: EX_USAGE"
"$TOOL" status >/dev/null 2>&1
ok $([[ $? -eq 64 ]]; echo $?) "status without a file: EX_USAGE"
"$TOOL" authorize --client-secret mailsecret --client-id x f.json >/dev/null 2>&1
ok $([[ $? -eq 64 ]]; echo $?) "no option takes a client secret on the command line"
check "usage offers only --client-secret-file" bash -c "! grep -q -- '--client-secret[^-]' '$WORK/usage'"
"$TOOL" authorize --provider nosuch --client-id x "$WORK/x.json" >/dev/null 2>"$WORK/np"
ok $([[ $? -eq 64 ]]; echo $?) "unknown provider: EX_USAGE"
check "unknown provider: lists the presets" has "$WORK/np" 'google, microsoft'
"$TOOL" authorize --provider google "$WORK/x.json" >/dev/null 2>"$WORK/nc"
ok $([[ $? -eq 64 ]]; echo $?) "authorize without --client-id: EX_USAGE"
"$TOOL" authorize --provider google --client-id x --flow device "$WORK/x.json" >/dev/null 2>"$WORK/gd"
ok $([[ $? -eq 64 ]]; echo $?) "device flow refused for google"
check "device flow for google: why and fix" has "$WORK/gd" 'fix: use --flow paste'
"$TOOL" authorize --provider google --tenant x --client-id x "$WORK/x.json" >/dev/null 2>&1
ok $([[ $? -eq 64 ]]; echo $?) "--tenant with google: EX_USAGE"
"$TOOL" authorize --provider google --client-id x --client-secret-file /nonexistent "$WORK/x.json" >/dev/null 2>"$WORK/ns"
ok $([[ $? -eq 66 ]]; echo $?) "unreadable secret file: EX_NOINPUT"
"$TOOL" authorize --provider google --client-id x /nonexistent-dir/t.json >/dev/null 2>&1
ok $([[ $? -eq 73 ]]; echo $?) "token file in a missing directory: EX_CANTCREAT before any consent"
"$TOOL" explain no_such_code >/dev/null 2>&1
ok $([[ $? -eq 65 ]]; echo $?) "explain of an unknown code: EX_DATAERR"

# Every code explain lists prints its page, with a fix.
"$TOOL" explain >"$WORK/codes"
ok $? "explain lists the codes"
n=0 bad=0
while read -r code _; do
	n=$((n + 1))
	if ! "$TOOL" explain "$code" >"$WORK/page" 2>&1 || ! grep -q '^fix: ..........' "$WORK/page" ||
		! grep -q "^$code: " "$WORK/page"; then
		bad=$((bad + 1))
		echo "# explain $code: no page with a fix"
	fi
done <"$WORK/codes"
ok $([[ $n -gt 80 && $bad -eq 0 ]]; echo $?) "each of the $n codes prints a page with a fix"
for code in invalid_grant invalid_client network timeout dns tls ca_bundle token_file config; do
	"$TOOL" explain "$code" >"$WORK/page" 2>&1
	ok $? "explain $code (a code the plugin's log lines point to)"
done
"$TOOL" explain "Error 400: redirect_uri_mismatch" >"$WORK/page"
check "explain takes Google's error text" has "$WORK/page" 'Desktop app'
"$TOOL" explain "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant." >"$WORK/page"
check "explain takes an SMTP reply: 5.7.139 names Authenticated SMTP" has "$WORK/page" 'Authenticated SMTP'
"$TOOL" explain AADSTS700082 >"$WORK/page"
check "explain AADSTS700082 names the 90 days" has "$WORK/page" '90 days'

done_testing
