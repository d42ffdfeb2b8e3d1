#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-status.sh - sasl-oauth2 status (of files and directories), list,
# refresh, test and revoke against the real stack, with their exit codes;
# status and list search directories (links not followed, other files
# skipped and said); test catches a wrong user, a revoked
# token, a server without XOAUTH2, an untrusted certificate and a missing
# plugin, each with the right explanation.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
start_stack

F=$WORK/tok.json
setup_token_file "$F"

# ---- status
"$TOOL" status "$F" >"$WORK/st.out" 2>&1
ok $? "status of a fresh file: exit 0 (OK)"
check "status: says OK" has "$WORK/st.out" ': OK$'
check "status: shows the user" has "$WORK/st.out" 'user +user@example.test'
check "status: shows the access token expiry" has "$WORK/st.out" 'access token +valid until'
check "status: shows when it was authorized" has "$WORK/st.out" 'authorized +20'
"$TOOL" status --json "$F" >"$WORK/st.json" 2>/dev/null
ok $? "status --json: exit 0"
check "status --json: machine-readable state and times" \
	jq -e '.[0].state == "OK" and .[0].exit == 0 and (.[0].authorized_at > 0) and .[0].access_token_valid' "$WORK/st.json"
"$TOOL" status --for-user postfix "$F" >"$WORK/st.pf" 2>&1
rc=$?
ok $([[ $rc -eq 2 ]]; echo $?) "status --for-user postfix on a root-owned file: CRITICAL (got $rc)"
check "status --for-user: prints the chown fix" has "$WORK/st.pf" 'chown postfix'
"$TOOL" status "$WORK/missing.json" >"$WORK/st.miss" 2>&1
ok $([[ $? -eq 2 ]]; echo $?) "status of a missing file: CRITICAL"
cp "$F" "$WORK/open.json" && chmod 644 "$WORK/open.json"
"$TOOL" status "$WORK/open.json" >"$WORK/st.open" 2>&1
ok $([[ $? -eq 2 ]]; echo $?) "status of a mode 0644 file: CRITICAL"
check "status of a mode 0644 file: says chmod" has "$WORK/st.open" '0600|chmod'

# known deaths, from the file's fields and times
now=$(date +%s)
jq --arg t "$((now - 70 * 86400))" '.provider = "microsoft" | del(.token_endpoint, .revocation_endpoint, .refreshed_at) | .authorized_at = $t' "$F" >"$WORK/ms70.json"
chmod 600 "$WORK/ms70.json" && touch -d '70 days ago' "$WORK/ms70.json"
"$TOOL" status "$WORK/ms70.json" >"$WORK/ms70.out" 2>&1
ok $([[ $? -eq 1 ]]; echo $?) "Microsoft, unused 70 days: WARNING"
check "Microsoft, unused 70 days: names the 90-day rule" has "$WORK/ms70.out" '90 days'
cp -p "$WORK/ms70.json" "$WORK/ms100.json" && touch -d '100 days ago' "$WORK/ms100.json"
"$TOOL" status "$WORK/ms100.json" >"$WORK/ms100.out" 2>&1
ok $([[ $? -eq 2 ]]; echo $?) "Microsoft, unused 100 days: CRITICAL"
check "Microsoft, unused 100 days: AADSTS700082" has "$WORK/ms100.out" 'AADSTS700082'
jq --arg t "$((now - 6 * 86400 - 7200))" '.provider = "google" | del(.token_endpoint) | .authorized_at = $t | del(.refreshed_at)' "$F" >"$WORK/g6.json"
chmod 600 "$WORK/g6.json" && touch -d '6 days ago' "$WORK/g6.json"
"$TOOL" status --json "$WORK/g6.json" >"$WORK/g6.out" 2>&1
ok $([[ $? -eq 1 ]]; echo $?) "Google, 6 days after consent: WARNING"
check "Google, 6 days: the Testing 7-day rule and Publish app" \
	jq -e '.[0].warnings[0] | test("Testing") and test("Publish app")' "$WORK/g6.out"
"$TOOL" status "$F" "$WORK/ms70.json" "$WORK/ms100.json" >/dev/null 2>&1
ok $([[ $? -eq 2 ]]; echo $?) "status of several files: the worst state"
"$TOOL" status "$F" "$WORK/ms100.json" >"$WORK/sum.out" 2>&1
check "several files: the first line is the summary with the worst state (monitoring plugin)" \
	bash -c "head -1 '$WORK/sum.out' | grep -Eq '^SASL-OAUTH2 CRITICAL - 2 token files: 1 OK, 0 WARNING, 1 CRITICAL, 0 UNKNOWN \\|'"
check "the summary carries perfdata: seconds to expiry and refresh-token age per file" \
	bash -c "head -1 '$WORK/sum.out' | grep -Eq \"'tok_access_token_expires_in'=-?[0-9]+s 'tok_refresh_token_age'=[0-9]+s\""
"$TOOL" status "$F" >"$WORK/one.out" 2>&1
check "one good file: the summary line says OK" bash -c "head -1 '$WORK/one.out' | grep -q '^SASL-OAUTH2 OK - 1 token file: 1 OK'"
jq '.expiry = "'$(( $(date +%s) - 300 ))'"' "$F" >"$WORK/old.json" && chmod 600 "$WORK/old.json"
"$TOOL" status "$WORK/old.json" >"$WORK/old.out" 2>&1
check "an expired access token reads 'expired at ... (5 min ago)'" has "$WORK/old.out" 'expired at .* \(5 min ago\)'
"$TOOL" status --for-user root --json "$F" >"$WORK/own.json" 2>&1
check "--json: mode as an octal string, owner as a name" jq -e '.[0].mode == "0600" and .[0].owner == "root"' "$WORK/own.json"
"$TOOL" status --for-user root "$F" >"$WORK/own.out" 2>&1
check "text: the owner as a name" has "$WORK/own.out" 'mode 0600, owner root \(uid 0\)'

# ---- status DIR / list DIR: every token file under the directories
D=$WORK/dir
mkdir -p "$D/sub"
cp -p "$F" "$D/a.json"                      # OK
cp -p "$WORK/ms100.json" "$D/sub/b.json"    # CRITICAL, one level down
cp -p "$WORK/ms70.json" "$D/c-token"        # WARNING: a token file by its content, not its name
printf '{"refresh_token": "x", ' >"$D/broken.json" && chmod 600 "$D/broken.json"   # .json, not JSON: CRITICAL
echo '{"installed": {"client_id": "x"}}' >"$D/client_secret.json"   # JSON, not a token file
echo 'notes' >"$D/notes.txt"
ln -s "$F" "$D/link.json"                   # not followed
cp -p "$F" "$D/a.json.tmp.Ab12Cd"           # a writer's temporary file
"$TOOL" list "$D" >"$WORK/ls.out" 2>&1
rc=$?
ok $([[ $rc -eq 2 ]]; echo $?) "list DIR: exit 2, the worst state (got $rc)"
check "list DIR: summary line first, the four token files counted" \
	bash -c "head -1 '$WORK/ls.out' | grep -Eq '^SASL-OAUTH2 CRITICAL - 4 token files: 1 OK, 1 WARNING, 2 CRITICAL, 0 UNKNOWN \\|'"
check "list DIR: one line per token file, in name order, subdirectories searched" \
	bash -c "sed -n '2,5p' '$WORK/ls.out' | awk '{print \$1, \$2}' | diff - <(printf '%s\n' 'OK $D/a.json' 'CRITICAL $D/broken.json' 'WARNING $D/c-token' 'CRITICAL $D/sub/b.json')"
check "list DIR: a line has the user, the token endpoint's host and the expiry" \
	has "$WORK/ls.out" "^OK +$D/a.json user@example.test at [^ ]+, access token valid for "
check "list DIR: a problem's first message on its line" has "$WORK/ls.out" "^CRITICAL +$D/sub/b.json .* - critical: unused for 100 days"
check "list DIR: the symbolic link is skipped, not followed" has "$WORK/ls.out" "^skipped +$D/link.json: a symbolic link, not followed"
check "list DIR: the client secret file is skipped and said" has "$WORK/ls.out" "^skipped +$D/client_secret.json: JSON without a token file's members \\(\"refresh_token\", \"grant\""
check "list DIR: a non-JSON file is skipped and said" has "$WORK/ls.out" "^skipped +$D/notes.txt: not JSON"
check "list DIR: a writer's temporary file is skipped" has "$WORK/ls.out" "^skipped +$D/a.json.tmp.Ab12Cd: a writer's temporary file"
check "list DIR: exactly four file lines" test "$(grep -c "^[A-Z]\+ \+$D/" "$WORK/ls.out")" = 4
"$TOOL" list --json "$D" >"$WORK/ls.json" 2>"$WORK/ls.err"
check "list --json DIR: the four files with state and exit code" \
	jq -e 'length == 4 and ([.[].state] == ["OK", "CRITICAL", "WARNING", "CRITICAL"]) and ([.[].exit] == [0, 2, 1, 2])' "$WORK/ls.json"
check "list --json DIR: skipped files said on stderr, stdout stays JSON" has "$WORK/ls.err" "skipped $D/notes.txt: not JSON"
"$TOOL" status "$D" "$F" >"$WORK/sd.out" 2>&1
rc=$?
ok $([[ $rc -eq 2 ]]; echo $?) "status DIR FILE: exit 2 (got $rc)"
check "status DIR FILE: the summary covers the directory's files and the file" \
	bash -c "head -1 '$WORK/sd.out' | grep -Eq '^SASL-OAUTH2 CRITICAL - 5 token files: 2 OK, 1 WARNING, 2 CRITICAL'"
check "status DIR: each file's details (the 90-day rule of c-token)" \
	bash -c "grep -A12 '^$D/c-token: WARNING' '$WORK/sd.out' | grep -q '90 days'"
check "status DIR: perfdata for the file found by content" has "$WORK/sd.out" "'c-token_access_token_expires_in'="
mkdir -p "$WORK/empty-dir"
"$TOOL" list "$WORK/empty-dir" >"$WORK/ls0.out" 2>&1
rc=$?
ok $([[ $rc -eq 3 ]]; echo $?) "list of a directory without token files: UNKNOWN, exit 3 (got $rc)"
check "no token file: the summary and the reason" \
	bash -c "head -1 '$WORK/ls0.out' | grep -q '^SASL-OAUTH2 UNKNOWN - 0 token files' && grep -q 'no token file under $WORK/empty-dir' '$WORK/ls0.out'"
# What the caller cannot read is UNKNOWN, and counted.
U=$(mktemp -d /tmp/sasl-oauth2-unreadable.XXXXXX)
cp -p "$F" "$U/root.json"
mkdir -m 700 "$U/private" && cp -p "$F" "$U/private/p.json"
chown nobody "$U"
setpriv --reuid=nobody --regid=nogroup --clear-groups env -u SASL_OAUTH2_CONFIG \
	"$TOOL" list "$U" >"$WORK/lsu.out" 2>&1
rc=$?
ok $([[ $rc -eq 3 ]]; echo $?) "list as a user who cannot read: UNKNOWN, exit 3 (got $rc)"
check "unreadable file and directory: both counted UNKNOWN" \
	bash -c "head -1 '$WORK/lsu.out' | grep -Eq '^SASL-OAUTH2 UNKNOWN - 2 token files: 0 OK, 0 WARNING, 0 CRITICAL, 2 UNKNOWN'"
check "unreadable directory: says why and what to do" has "$WORK/lsu.out" "^UNKNOWN +$U/private .*cannot list the directory: Permission denied; run as root"
rm -rf "$U"

# ---- refresh
at1=$(jq -r .access_token "$F")
rt1=$(jq -r .refresh_token "$F")
sleep 1
"$TOOL" refresh "$F" >"$WORK/rf.out" 2>&1
ok $? "refresh: exit 0"
check "refresh: a new access token" test "$(jq -r .access_token "$F")" != "$at1"
check "refresh: the rotated refresh token is stored" test "$(jq -r .refresh_token "$F")" != "$rt1"
check "refresh: refreshed_at recorded" jq -e '(.refreshed_at | tonumber) >= (.authorized_at | tonumber)' "$F"
check "refresh: file still 0600" test "$(stat -c %a "$F")" = 600
"$TOOL" refresh "$WORK/missing.json" >"$WORK/rf.miss" 2>&1
ok $([[ $? -eq 78 ]]; echo $?) "refresh of a missing file: EX_CONFIG"
"$TOOL" status --refresh "$F" >/dev/null 2>&1
ok $? "status --refresh: OK"

# ---- test: works over SMTP (STARTTLS), IMAPS (implicit) and IMAP+OAUTHBEARER
T=("$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$PLUGIN_BUILD_DIR")
"${T[@]}" --smtp "127.0.0.1:$PF_IN_PORT" "$F" >"$WORK/t1.out" 2>&1
ok $? "test --smtp (STARTTLS, XOAUTH2): exit 0"
check "test --smtp: certificate verified" has "$WORK/t1.out" 'certificate verified'
check "test --smtp: ends with verdict works" bash -c "tail -1 '$WORK/t1.out' | grep -q '^verdict: works'"
"${T[@]}" --imap "127.0.0.1:$IMAPS_PORT" --tls implicit "$F" >"$WORK/t2.out" 2>&1
ok $? "test --imap implicit TLS: exit 0"
"${T[@]}" --imap "127.0.0.1:$IMAP_PORT" --mech oauthbearer "$F" >"$WORK/t3.out" 2>&1
ok $? "test --imap STARTTLS with OAUTHBEARER: exit 0"
check "test: no token or secret printed" no_secret_in "$WORK/t1.out" "$WORK/t2.out" "$WORK/t3.out"

# wrong user
"${T[@]}" --smtp "127.0.0.1:$PF_IN_PORT" --user other@example.test "$F" >"$WORK/t4.out" 2>&1
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "test with a wrong user: EX_NOPERM (got $rc)"
check "wrong user: verdict names both users" has "$WORK/t4.out" 'verdict: FAILED: .*authorized for user@example.test, not other@example.test'
check "wrong user: explain invalid_token" has "$WORK/t4.out" 'explain invalid_token'

# a server without XOAUTH2 (pf-in's plain port offers no AUTH)
"${T[@]}" --smtp "127.0.0.1:$PF_IN_PLAIN_PORT" "$F" >"$WORK/t5.out" 2>&1
rc=$?
ok $([[ $rc -eq 69 ]]; echo $?) "server without XOAUTH2: EX_UNAVAILABLE (got $rc)"
check "server without XOAUTH2: explain no_mechanism" has "$WORK/t5.out" 'explain no_mechanism'

# untrusted certificate (no --ca-file: the test CA is not in the system store)
"$TOOL" test --plugin-dir "$PLUGIN_BUILD_DIR" --smtp "127.0.0.1:$PF_IN_PORT" "$F" >"$WORK/t6.out" 2>&1
rc=$?
ok $([[ $rc -eq 76 ]]; echo $?) "untrusted certificate: EX_PROTOCOL (got $rc)"
check "untrusted certificate: says so and names --ca-file" has "$WORK/t6.out" 'not accepted: unknown CA.*--ca-file'

# no plugin where libsasl2 looks
mkdir -p "$WORK/empty"
"$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$WORK/empty" --smtp "127.0.0.1:$PF_IN_PORT" "$F" >"$WORK/t7.out" 2>&1
rc=$?
ok $([[ $rc -eq 78 ]]; echo $?) "no plugin: EX_CONFIG (got $rc)"
check "no plugin: explain plugin_missing" has "$WORK/t7.out" 'explain plugin_missing'

# nothing listening
"${T[@]}" --smtp "127.0.0.1:9" "$F" >"$WORK/t8.out" 2>&1
ok $([[ $? -eq 69 ]]; echo $?) "nothing listening: EX_UNAVAILABLE"

# ---- revoke, then everything reports the dead token
"$TOOL" revoke "$F" >"$WORK/rv.out" 2>&1
ok $? "revoke: exit 0"
check "revoke: says revoked" has "$WORK/rv.out" 'revoked'
"${T[@]}" --smtp "127.0.0.1:$PF_IN_PORT" "$F" >"$WORK/t9.out" 2>&1
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "test after revoke: EX_NOPERM (got $rc)"
check "test after revoke: explained as invalid_grant" has "$WORK/t9.out" 'explain invalid_grant'
"$TOOL" refresh "$F" >"$WORK/rf2.out" 2>&1
rc=$?
ok $([[ $rc -eq 77 ]]; echo $?) "refresh after revoke: EX_NOPERM (got $rc)"
check "refresh after revoke: tells to re-authorize" has "$WORK/rf2.out" 'authorize --force'
"$TOOL" status --refresh "$F" >"$WORK/st2.out" 2>&1
ok $([[ $? -eq 2 ]]; echo $?) "status --refresh after revoke: CRITICAL"
"$TOOL" revoke "$WORK/ms70.json" >"$WORK/rv2.out" 2>&1
ok $([[ $? -eq 69 ]]; echo $?) "revoke of a Microsoft file: EX_UNAVAILABLE"
check "revoke of a Microsoft file: names the consent page" has "$WORK/rv2.out" 'myapps.microsoft.com'
check "no token or secret in any output" no_secret_in "$WORK"/*.out

done_testing
