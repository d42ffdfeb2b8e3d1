#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-doctor.sh - sasl-oauth2 doctor --postfix on the stack's chrooted
# Postfix client (pf-out): a broken setup (token file outside the chroot, CA
# bundle and resolv.conf missing in the chroot, token file with the wrong
# owner) is reported with a fix line per failure; after running the printed
# fixes every check passes and a mail goes through the plugin.  Then
# sasl-oauth2 import takes over a sasl-xoauth2 config + token file.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
start_stack
command -v postconf >/dev/null || skip_all "no postconf"

# a token file authorized by the loopback flow (ca_bundle_file = the host's CA path)
F=$WORK/tok.json
setup_token_file "$F"

# Break it the ways admins do.
OUT=$WORK/outside
mkdir -p "$OUT" && chmod 755 "$OUT"
cp -p "$F" "$OUT/token.json"                       # outside the chroot
cp -p "$F" "$PF_OUT_TOKEN_DIR/other.json"          # in the chroot, owned by root
rm -f "$PF_OUT_QUEUE/etc/resolv.conf"              # resolver file missing in the chroot
{
	printf '[127.0.0.1]:%s %s:%s\n' "$PF_IN_PORT" "$TEST_USER" "$OUT/token.json"
	printf '[backup.example.test]:587 %s:%s/other.json\n' "$TEST_USER" "$PF_OUT_TOKEN_DIR_IN_CHROOT"
} >"$PF_OUT_SASL_PASSWD"
bash "$STACK_SH" reload-pf-out "$STACK" >/dev/null 2>&1

"$TOOL" doctor --postfix --config-dir "$PF_OUT_DIR" >"$WORK/d1.out" 2>&1
rc=$?
ok $([[ $rc -eq 78 ]]; echo $?) "broken setup: doctor exits EX_CONFIG (got $rc)"
diag "$WORK/d1.out"
check "broken: token file outside the chroot is reported" has "$WORK/d1.out" '^✗ token file .*not inside the smtp chroot.*exists outside'
check "broken: the CA bundle missing in the chroot is reported" has "$WORK/d1.out" '^✗ CA bundle .*missing in the chroot'
check "broken: the wrong owner is reported" has "$WORK/d1.out" '^✗ .*other.json is owned by uid 0, not postfix'
check "broken: resolv.conf missing in the chroot is reported" has "$WORK/d1.out" '^✗ /etc/resolv.conf is missing in the chroot'
check "broken: the plugin is found" has "$WORK/d1.out" '^✓ libsasl2 loads one XOAUTH2 plugin'
check "broken: TLS toward the relay is enforced" has "$WORK/d1.out" '^✓ smtp_tls_security_level'
nx=$(grep -c '^✗' "$WORK/d1.out")
nf=$(grep -c '^    fix: ' "$WORK/d1.out")
ok $([[ $nx -gt 0 && $nx -eq $nf ]]; echo $?) "every ✗ has its fix line ($nx ✗, $nf fixes)"

# Apply the printed fixes, exactly as printed.
sed -n 's/^    fix: //p' "$WORK/d1.out" >"$WORK/fixes.sh"
bash -e "$WORK/fixes.sh" >"$WORK/fixes.out" 2>&1
ok $? "the printed fixes run"
diag "$WORK/fixes.out"
"$TOOL" doctor --postfix --config-dir "$PF_OUT_DIR" >"$WORK/d2.out" 2>&1
rc=$?
ok $rc "after the fixes: doctor exits 0"
check "after the fixes: no ✗ left" bash -c "! grep -q '^✗' '$WORK/d2.out'"
check "after the fixes: says all checks pass" has "$WORK/d2.out" '^all [0-9]+ checks pass'
[[ $rc -eq 0 ]] || diag "$WORK/d2.out"

# And a mail goes through the plugin in the chroot, refreshing the token there.
subj="tool-doctor $$ $RANDOM"
python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from "$TEST_USER" --to "$TEST_USER" --subject "$subj" >/dev/null 2>&1
check "after the fixes: a mail is delivered through pf-out and the plugin" \
	bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "$subj" 20

# ---- import: sasl-xoauth2's config and token file
XC=$WORK/sasl-xoauth2.conf
XT=$WORK/xo-token.json
jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg id "$CLIENT_ID_POST" \
	'{client_id: $id, client_secret: "mailsecret", token_endpoint: $ep, ca_bundle_file: $ca,
	  log_to_syslog_on_failure: "yes", log_full_trace_on_failure: "no"}' >"$XC"
chmod 600 "$XC"
bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID_POST" mailsecret post 2>/dev/null |
	jq '{access_token, refresh_token, expiry: "0"}' >"$XT"
chmod 600 "$XT"
check "import setup: a sasl-xoauth2 token file" jq -e '.refresh_token | length > 10' "$XT"
sum_before=$(cat "$XC" "$XT" | sha256sum)
D=$WORK/imported.json
"$TOOL" import --config "$XC" "$XT" "$D" >"$WORK/im.out" 2>&1
ok $? "import: exit 0"
check "import: file mode 0600" test "$(stat -c %a "$D")" = 600
check "import: client_id, secret, endpoint and CA merged from the config" \
	jq -e --arg ep "$TOKEN_ENDPOINT" '.client_id == "mailclient-post" and .client_secret == "mailsecret" and .token_endpoint == $ep and .ca_bundle_file' "$D"
check "import: records where it came from" jq -e '.imported_from and .imported_at' "$D"
check "import: the originals are untouched" test "$(cat "$XC" "$XT" | sha256sum)" = "$sum_before"
"$TOOL" refresh "$D" >"$WORK/im.rf" 2>&1
ok $? "import: the imported file refreshes"
"$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$PLUGIN_BUILD_DIR" --smtp "127.0.0.1:$PF_IN_PORT" \
	--user "$TEST_USER" "$D" >"$WORK/im.test" 2>&1
ok $? "import: the imported file logs in over SMTP"
"$TOOL" import --config "$XC" "$XT" "$D" >/dev/null 2>&1
ok $([[ $? -eq 73 ]]; echo $?) "import: an existing destination needs -f"
"$TOOL" import -f --config "$XC" "$XT" "$D" >/dev/null 2>&1
ok $? "import -f replaces it"
echo '{"foo": 1}' >"$WORK/notatoken.json"
"$TOOL" import "$WORK/notatoken.json" "$WORK/x.json" >/dev/null 2>&1
ok $([[ $? -eq 65 ]]; echo $?) "import of a file without refresh_token: EX_DATAERR"
check "no token or secret in any output" no_secret_in "$WORK"/*.out "$WORK/im.rf" "$WORK/im.test"

done_testing
