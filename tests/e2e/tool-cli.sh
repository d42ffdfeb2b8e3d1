#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-cli.sh - sasl-oauth2's command line without servers: usage() is the
# man page's SYNOPSIS, the man page is lint-clean, every explain code prints a
# page naming its fix, exit codes of bad invocations, no secret on argv.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
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
	# Not findings: the sibling pages are not installed on the build
	# machine, and a stale mandoc.db is the machine's, not the page's.
	mandoc -Tlint "$MAN" 2>&1 | grep -v -e 'outdated mandoc.db' \
		-e 'referenced manual not found: Xr sasl-oauth2' -e 'Xr postconf 5' >"$WORK/lint"
	[ ! -s "$WORK/lint" ]
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
"$TOOL" status >/dev/null 2>"$WORK/st-none"
ok $([[ $? -eq 64 ]]; echo $?) "status without a file: EX_USAGE"
check "status without a file: the first line says the file is missing" \
	bash -c "head -1 '$WORK/st-none' | grep -q 'status: missing a token file'"
check "status without a file: status's usage, not authorize's" \
	bash -c "grep -q '^usage: sasl-oauth2 status' '$WORK/st-none' && ! grep -q authorize '$WORK/st-none'"
"$TOOL" import only-one.json >/dev/null 2>"$WORK/imp-one"
ok $([[ $? -eq 64 ]]; echo $?) "import with one file: EX_USAGE"
check "import with one file: says both files are needed" has "$WORK/imp-one" \
	'import: missing the sasl-xoauth2 token file and the file to write'
for c in authorize status list refresh token test revoke explain import doctor; do
	"$TOOL" "$c" --help >"$WORK/h-$c" 2>"$WORK/h-$c.err"
	ok $? "$c --help exits 0"
	check "$c --help: that command's usage on stdout, nothing on stderr" \
		bash -c "head -1 '$WORK/h-$c' | grep -q '^usage: sasl-oauth2 $c' && [ ! -s '$WORK/h-$c.err' ]"
done
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

# Provider presets build the right authorization URL (no network: nobody
# answers, the run times out and writes nothing).
"$TOOL" authorize --provider google --client-id 1234.apps.googleusercontent.com --no-browser \
	--timeout 1 --user me@gmail.com "$WORK/g.json" </dev/null >"$WORK/g.url" 2>"$WORK/g.err"
ok $([[ $? -eq 75 ]]; echo $?) "google preset: times out with EX_TEMPFAIL when nobody comes"
check "google preset: Google's authorization endpoint" has "$WORK/g.url" '^https://accounts\.google\.com/o/oauth2/v2/auth\?'
check "google preset: the Gmail scope" has "$WORK/g.url" 'scope=https%3A%2F%2Fmail\.google\.com%2F'
check "google preset: access_type=offline and prompt=consent" has "$WORK/g.url" 'access_type=offline&prompt=consent'
check "google preset: loopback redirect on 127.0.0.1" has "$WORK/g.url" 'redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A[0-9]+%2F&'
check "google preset: login_hint" has "$WORK/g.url" 'login_hint=me%40gmail\.com'
check "google preset: nothing written" test ! -e "$WORK/g.json"
"$TOOL" authorize --provider microsoft --tenant contoso.com --client-id 00000000-0000-0000-0000-000000000000 \
	--no-browser --timeout 1 "$WORK/m.json" </dev/null >"$WORK/m.url" 2>"$WORK/m.err"
ok $([[ $? -eq 75 ]]; echo $?) "microsoft preset: times out with EX_TEMPFAIL"
check "microsoft preset: the tenant's v2.0 endpoint" has "$WORK/m.url" '^https://login\.microsoftonline\.com/contoso\.com/oauth2/v2\.0/authorize\?'
check "microsoft preset: IMAP, SMTP and offline_access scopes" has "$WORK/m.url" 'IMAP\.AccessAsUser\.All.*SMTP\.Send.*offline_access'
check "microsoft preset: redirect http://localhost" has "$WORK/m.url" 'redirect_uri=http%3A%2F%2Flocalhost%3A[0-9]+%2F&'
"$TOOL" authorize --provider microsoft --tenant 'a/b' --client-id x "$WORK/m.json" </dev/null >/dev/null 2>&1
ok $([[ $? -eq 78 ]]; echo $?) "microsoft preset: a tenant with a slash is refused"
"$TOOL" authorize --auth-url https://idp.invalid/auth --token-url https://idp.invalid/token --client-id x \
	--no-browser --timeout 1 --auth-param foo=bar "$WORK/e.json" </dev/null >"$WORK/e.url" 2>/dev/null
check "explicit endpoints and --auth-param" has "$WORK/e.url" '^https://idp\.invalid/auth\?.*&foo=bar$'
"$TOOL" authorize --provider google --client-id x --redirect-uri http://example.com/cb "$WORK/r.json" </dev/null >/dev/null 2>&1
ok $([[ $? -ne 0 ]]; echo $?) "a non-loopback --redirect-uri is refused"

done_testing
