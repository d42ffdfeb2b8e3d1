#!/bin/bash
# SPDX-License-Identifier: MIT
# app-only.sh - app-only grants against the real stack (oidc-provider,
# Dovecot, chrooted Postfix with the plugin): token files with "grant"
# client_credentials (client secret; certificate-signed client assertion,
# private_key_jwt with x5t#S256) and jwt_bearer (a Google-style service
# account key, sub = the mailbox).  Each mints an access token with no
# refresh token; Dovecot accepts it (XOAUTH2, IMAPS); a fresh token is used
# again without a request; pf-out relays mail for 3 mailboxes from one
# service account (sender-dependent token files, written by connect-app
# --chroot: paths given outside the chroot, recorded inside; a key outside
# it refused with the install; refresh and refresh-all outside the chroot
# open its inside paths under the queue directory); a key file readable by
# others is refused with the chmod; a client the provider does not delegate
# gets unauthorized_client and the console fix (token, status --refresh,
# test and the plugin's SASL error line lead with domain-wide delegation; a
# client not allowed client_credentials gets Entra's API permissions and
# New-ServicePrincipal), nothing says re-authorize; "sasl-oauth2 test" on an
# app-only file mints a token and logs in, and a login refused for the
# mailbox gets New-ServicePrincipal / Add-MailboxPermission (the plugin's
# own line too; one the mail server refuses with 400 gets the grant's fix,
# a delegated file's the user-name hint); connect-app
# writes and proves such files (as --owner postfix: a key postfix cannot
# read is refused with the chown), status names the grant, revoke says how
# to withdraw an app's credential.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
export AT_TTL=3600
start_stack
export CA_FILE IMAPS_PORT

# grants NAME: the provider's count of successful token requests of a grant
grants() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" | jq -r --arg g "$1" '.[$g].ok // 0'; }

# imap_login USER TOKENFILE: XOAUTH2 over IMAPS; prints OK or the refusal
imap_login() {
	python3 - "$1" "$2" <<'PY'
import imaplib, os, ssl, sys
tok = open(sys.argv[2]).read().strip()
ctx = ssl.create_default_context(cafile=os.environ["CA_FILE"])
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["IMAPS_PORT"]), ssl_context=ctx)
try:
    m.authenticate("XOAUTH2", lambda _: ("user=%s\x01auth=Bearer %s\x01\x01" % (sys.argv[1], tok)).encode())
    print("OK")
except Exception as e:
    print("refused: %s" % e)
PY
}

K=$WORK/keys
mkdir -p "$K" && chmod 700 "$K"
cp -p "$IDP_APP_KEYS"/app.key "$IDP_APP_KEYS"/app.crt "$IDP_APP_KEYS"/sa.json "$K/"

# newfile FILE JSON: a token file, mode 0600
newfile() { printf '%s\n' "$2" >"$1" && chmod 600 "$1"; }

# ---- client_credentials with a client secret
F1=$WORK/secret.json
newfile "$F1" "$(jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg u "$APP_MAILBOX" \
	'{grant:"client_credentials", user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:"appclient", client_secret:"appsecret", client_auth:"basic"}')"
"$TOOL" token "$F1" >"$WORK/t1" 2>"$WORK/t1.err"
ok $? "client_credentials (secret): token prints an access token"
diag "$WORK/t1.err"
ok $([[ "$(grants client_credentials)" == 1 ]]; echo $?) "one client_credentials request at the provider"
ok $([[ "$(jq -r '.refresh_token // "none"' "$F1")" == none && "$(jq -r .access_token "$F1")" == "$(cat "$WORK/t1")" ]]; echo $?) \
	"the file holds the minted access token and no refresh token"
ok $([[ "$(imap_login "$APP_MAILBOX" "$WORK/t1")" == OK ]]; echo $?) "Dovecot accepts it for the app's mailbox (XOAUTH2, IMAPS)"
"$TOOL" token "$F1" >"$WORK/t1b" 2>/dev/null
ok $([[ "$(cat "$WORK/t1b")" == "$(cat "$WORK/t1")" && "$(grants client_credentials)" == 1 ]]; echo $?) \
	"a fresh token is used again: no second request"

# ---- client_credentials with a certificate (private_key_jwt)
F2=$WORK/cert.json
newfile "$F2" "$(jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg u "$APP_MAILBOX" \
	--arg k "$K/app.key" --arg c "$K/app.crt" \
	'{grant:"client_credentials", user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:"appjwt", client_key_file:$k, client_cert_file:$c}')"
"$TOOL" token "$F2" >"$WORK/t2" 2>"$WORK/t2.err"
ok $? "client_credentials (certificate, private_key_jwt): access token"
diag "$WORK/t2.err"
ok $([[ "$(imap_login "$APP_MAILBOX" "$WORK/t2")" == OK ]]; echo $?) "Dovecot accepts it"
ok $(grep -q 'token grant_type=client_credentials client=appjwt status=200' "$IDP_LOG"; echo $?) \
	"the provider authenticated appjwt by its signed assertion"
ok $(! grep -q 'BEGIN' "$F2"; echo $?) "the token file holds paths, not the key"

# ---- a key file others can read: refused, with the fix
chmod 644 "$K/app.key"
jq '.expiry = "1"' "$F2" >"$WORK/e" && cat "$WORK/e" >"$F2"
"$TOOL" token "$F2" >"$WORK/t3" 2>"$WORK/t3.err"
rc=$?
ok $([[ $rc -ne 0 && ! -s "$WORK/t3" ]]; echo $?) "key mode 0644: token fails, nothing on stdout (exit $rc)"
ok $(has "$WORK/t3.err" "app.key: mode 0644 .*chmod 600 $K/app.key"; echo $?) "one line naming the file and the chmod"
diag "$WORK/t3.err"
chmod 600 "$K/app.key"

# ---- jwt_bearer: a service account, one token per mailbox
for u in alice bob carol; do
	newfile "$WORK/sa-$u.json" "$(jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" \
		--arg u "$u@example.test" --arg sa "$K/sa.json" \
		'{grant:"jwt_bearer", user:$u, token_endpoint:$ep, ca_bundle_file:$ca, service_account_file:$sa}')"
done
"$TOOL" token "$WORK/sa-alice.json" >"$WORK/t4" 2>"$WORK/t4.err"
ok $? "jwt_bearer (service account): access token for alice"
diag "$WORK/t4.err"
ok $([[ "$(grants urn:ietf:params:oauth:grant-type:jwt-bearer)" == 1 ]]; echo $?) "one jwt-bearer request"
ok $([[ "$(imap_login alice@example.test "$WORK/t4")" == OK ]]; echo $?) "Dovecot accepts it for alice"
ok $([[ "$(imap_login bob@example.test "$WORK/t4")" != OK ]]; echo $?) "and refuses it for bob (the token is alice's)"

# ---- not delegated: unauthorized_client, and explain's console fix
F5=$WORK/sa-outsider.json
newfile "$F5" "$(jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg sa "$K/sa.json" \
	'{grant:"jwt_bearer", user:"someone@elsewhere.test", token_endpoint:$ep, ca_bundle_file:$ca, service_account_file:$sa}')"
"$TOOL" token "$F5" >/dev/null 2>"$WORK/t5.err"
ok $([[ $? -ne 0 ]] && has "$WORK/t5.err" "unauthorized_client"; echo $?) "a mailbox outside the delegation: unauthorized_client"
diag "$WORK/t5.err"
"$TOOL" explain "$(grep -o 'unauthorized_client' "$WORK/t5.err" | head -1)" >"$WORK/x5" 2>&1
ok $(has "$WORK/x5" "Manage domain wide delegation"; echo $?) "explain names the Admin console's domain-wide delegation"
# The one-line fix leads with the console: an app-only grant has no consent to redo.
reauth() { grep -Eiq 're-?authori|sasl-oauth2 authorize|authorize (again|--force)' "$1"; }
DWD='Google Admin console > Security > API controls > Domain-wide delegation: add the service account.s client ID with the scope https://mail\.google\.com/'
ok $(head -1 "$WORK/t5.err" | grep -Eq -- "$F5: .*unauthorized_client.*; $DWD \(no consent to redo\) \(see: sasl-oauth2 explain domain_wide_delegation\)"; echo $?) \
	"token: the error line gives the delegation fix and its page"
ok $(grep -Eq '^  fix: Google Admin console > Security > Access and data control > API controls > Manage domain wide delegation > Add new' "$WORK/t5.err" &&
	! reauth "$WORK/t5.err"; echo $?) "token: the fix line leads with the Admin console, nothing says re-authorize"
"$TOOL" status --refresh "$F5" >"$WORK/s5.out" 2>&1
ok $(grep -Eq -- "$DWD" "$WORK/s5.out" && grep -Eq '^  fix: Google Admin console' "$WORK/s5.out" && ! reauth "$WORK/s5.out"; echo $?) \
	"status --refresh: the same console fix, no re-authorize"
diag "$WORK/s5.out"
"$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$PLUGIN_BUILD_DIR" --imap "127.0.0.1:$IMAPS_PORT" --tls implicit "$F5" >"$WORK/x5t.out" 2>&1
rc=$?
ok $([[ $rc -ne 0 ]] && grep -Eq -- "^  plugin said: .*$DWD" "$WORK/x5t.out"; echo $?) \
	"test: the plugin's SASL error line (what mail.log shows) gives the delegation fix (exit $rc)"
ok $(grep -Eq '^verdict: FAILED: .*; fix: Google Admin console > .*Manage domain wide delegation' "$WORK/x5t.out" && ! reauth "$WORK/x5t.out"; echo $?) \
	"test: the verdict's fix leads with the Admin console"
diag "$WORK/x5t.out"

# ---- client_credentials the provider does not allow this client: Entra's console fix
F6=$WORK/cc-notallowed.json
newfile "$F6" "$(jq -n --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" --arg u "$APP_MAILBOX" \
	'{grant:"client_credentials", user:$u, token_endpoint:$ep, ca_bundle_file:$ca,
	  client_id:"appnoperm", client_secret:"appsecret", client_auth:"basic"}')"
"$TOOL" token "$F6" >/dev/null 2>"$WORK/t6.err"
ok $([[ $? -ne 0 ]] && head -1 "$WORK/t6.err" | grep -Eq "unauthorized_client.*; Microsoft Entra admin center > App registrations > the app > API permissions: Office 365 Exchange Online SMTP\.SendAsApp / IMAP\.AccessAsApp, Grant admin consent; then Exchange Online PowerShell: New-ServicePrincipal and Add-MailboxPermission for the mailbox \(no consent to redo\) \(see: sasl-oauth2 explain app_permission\)"; echo $?) \
	"client_credentials not allowed: the error line gives the Entra permission and New-ServicePrincipal / Add-MailboxPermission"
ok $(grep -Eq '^  fix: Microsoft Entra admin center > .*API permissions.*New-ServicePrincipal.*Add-MailboxPermission' "$WORK/t6.err" && ! reauth "$WORK/t6.err"; echo $?) \
	"client_credentials not allowed: the fix line leads with the Entra console, nothing says re-authorize"
diag "$WORK/t6.err"

# ---- sasl-oauth2 test on app-only files: it mints and logs in through the plugin
for f in "$F1" "$WORK/sa-bob.json"; do
	jq '.expiry = "1"' "$f" >"$WORK/e" && cat "$WORK/e" >"$f"
	n0=$(grants "$(jq -r 'if .grant == "jwt_bearer" then "urn:ietf:params:oauth:grant-type:jwt-bearer" else .grant end' "$f")")
	"$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$PLUGIN_BUILD_DIR" --imap "127.0.0.1:$IMAPS_PORT" --tls implicit "$f" >"$WORK/test.out" 2>&1
	ok $([[ $? -eq 0 ]] && has "$WORK/test.out" "^verdict: works: $(jq -r .user "$f") logged in to IMAP 127\.0\.0\.1"; echo $?) \
		"test $(basename "$f") ($(jq -r .grant "$f")): the login works"
	n1=$(grants "$(jq -r 'if .grant == "jwt_bearer" then "urn:ietf:params:oauth:grant-type:jwt-bearer" else .grant end' "$f")")
	ok $([[ $((n1 - n0)) -eq 1 ]]; echo $?) "test $(basename "$f"): the expired token was minted anew, one request (got $((n1 - n0)))"
	diag "$WORK/test.out"
done

# An app-only token the mail server refuses for the mailbox (Exchange: the
# service principal is not registered or not given the mailbox): the IdP's
# client_credentials tokens are for app@example.test only, so bob's is refused.
F7=$WORK/cc-bob.json
jq '.user = "bob@example.test" | del(.access_token, .expiry)' "$F1" >"$F7" && chmod 600 "$F7"
"$TOOL" test --ca-file "$CA_FILE" --plugin-dir "$PLUGIN_BUILD_DIR" --imap "127.0.0.1:$IMAPS_PORT" --tls implicit "$F7" >"$WORK/t7.out" 2>&1
rc=$?
ok $([[ $rc -eq 77 ]] && grep -Eq '^verdict: FAILED: .*the provider issued the app-only token, but the mail server does not let the app use bob@example\.test; fix: register the service principal and give it the mailbox: Exchange Online PowerShell: New-ServicePrincipal .*Add-MailboxPermission' "$WORK/t7.out" && ! reauth "$WORK/t7.out"; echo $?) \
	"test: an app-only token refused at login gets New-ServicePrincipal / Add-MailboxPermission, not re-authorize (exit $rc)"
ok $(grep -Eq '^  plugin said: .*cc-bob\.json \(status 401, scope mail\): it is marked stale and the next attempt gets a new one; if that is refused too, the mail server does not let the app use this mailbox: register the app.s service principal in Exchange and give it the mailbox \(see: sasl-oauth2 explain exchange_service_principal\)$' "$WORK/t7.out" &&
	! grep -q 'authorized the token' "$WORK/t7.out"; echo $?) \
	"the plugin's own line (what Postfix logs) for that refusal: the service principal, no authorizing account"
diag "$WORK/t7.out"

# The plugin's line for a refusal that is not the token's (Gmail answers a
# token it will not take for the user with status 400): an app-only file
# gets its grant's fix, a delegated one keeps the user-name hint.  The
# challenge is handed to the plugin directly (sasl-driver, no server), each
# exchange three times so the later ones are served from the token cache.
# drive_400 FILE: the last exchange's detail line
drive_400() {
	"$BUILD/tests/sasl-driver" -n 3 -p "$PLUGIN_BUILD_DIR" -m XOAUTH2 -u "$(jq -r .user "$1")" -w "$1" \
		"$(printf '{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}' | base64 -w0)" 2>&1 |
		sed -n 's/^detail: //p'
}
fresh='{"access_token": "AT-wording-0123456789", "expiry": "4102444800"}'
F8=$WORK/cc-400.json
newfile "$F8" "$(jq --argjson f "$fresh" '. + $f' "$F1")"
F9=$WORK/jb-400.json
newfile "$F9" "$(jq -n --argjson f "$fresh" --arg sa "$K/sa.json" '{grant: "jwt_bearer", user: "alice@example.test", service_account_file: $sa} + $f')"
F10=$WORK/delegated-400.json
newfile "$F10" "$(jq -n --argjson f "$fresh" '{refresh_token: "RT-wording-0123456789", user: "alice@example.test"} + $f')"
d=$(drive_400 "$F8")
ok $([[ "$d" =~ cc-400\.json\ \(status\ 400,\ scope\ https://mail\.google\.com/\):\ the\ app-only\ token\ was\ issued,\ but\ the\ mail\ server\ does\ not\ let\ the\ app\ use\ this\ mailbox:\ register\ the\ app.s\ service\ principal\ in\ Exchange\ and\ give\ it\ the\ mailbox\ \(see:\ sasl-oauth2\ explain\ exchange_service_principal\)$ && "$d" != *"authorized the token"* ]]; echo $?) \
	"plugin, client_credentials refused with 400: the service principal fix, not the authorizing account"
[[ $d == *exchange_service_principal* ]] || diag <(printf '%s\n' "$d")
d=$(drive_400 "$F9")
ok $([[ "$d" =~ jb-400\.json\ .*:\ the\ app-only\ token\ was\ issued,\ but\ the\ mail\ server\ does\ not\ let\ the\ service\ account\ use\ this\ mailbox:\ give\ it\ domain-wide\ delegation\ for\ the\ mailbox\ \(see:\ sasl-oauth2\ explain\ domain_wide_delegation\)$ && "$d" != *"authorized the token"* ]]; echo $?) \
	"plugin, jwt_bearer refused with 400: domain-wide delegation for the mailbox"
[[ $d == *domain_wide_delegation* ]] || diag <(printf '%s\n' "$d")
d=$(drive_400 "$F10")
ok $([[ "$d" == *"delegated-400.json (status 400, scope https://mail.google.com/): check that the user name matches the account that authorized the token and that the scope allows mail (see: sasl-oauth2 explain invalid_token)" && "$d" != *app-only* ]]; echo $?) \
	"plugin, a delegated (refresh token) file refused with 400: the user-name hint as before"
[[ $d == *invalid_token* ]] || diag <(printf '%s\n' "$d")

# ---- connect-app writes such files and proves them
C1=$WORK/connect-cert.json
"$TOOL" connect-app --token-url "$TOKEN_ENDPOINT" --ca-file "$CA_FILE" --client-id appjwt \
	--client-key-file "$K/app.key" --client-cert-file "$K/app.crt" --user "$APP_MAILBOX" "$C1" \
	>"$WORK/c1.out" 2>&1
ok $? "connect-app (certificate): exit 0"
ok $(has "$WORK/c1.out" "done: $C1 works for $APP_MAILBOX \(app-only grant client_credentials\)"; echo $?) "it says the file works"
diag "$WORK/c1.out"
ok $([[ "$(jq -r '.grant + " " + .client_key_file + " " + (.refresh_token // "none")' "$C1")" == "client_credentials $K/app.key none" && "$(stat -c %a "$C1")" == 600 ]]; echo $?) \
	"the file: grant, the key's path, no refresh token, mode 0600"
"$TOOL" connect-app --token-url "$TOKEN_ENDPOINT" --ca-file "$CA_FILE" --client-id appjwt \
	--client-key-file "$K/app.key" --user "$APP_MAILBOX" "$C1" >"$WORK/c1b.out" 2>&1
ok $([[ $? -ne 0 ]] && has "$WORK/c1b.out" "exists: --force replaces it"; echo $?) "an existing file is not replaced without --force"
"$TOOL" connect-app --token-url "$TOKEN_ENDPOINT" --client-id appjwt --client-key-file "$K/app.key" "$WORK/x.json" >"$WORK/c1c.out" 2>&1
ok $([[ $? -eq 64 ]] && has "$WORK/c1c.out" "--user MAILBOX is required"; echo $?) "no --user: usage error naming it"
# As the mail system: a postfix-owned directory, the key still root's.
P=$WORK/pf
mkdir -p "$P" && chown postfix:postfix "$P" && chmod 700 "$P"
cp -p "$K/app.key" "$P/app.key" && chown root:root "$P/app.key"
"$TOOL" connect-app --token-url "$TOKEN_ENDPOINT" --ca-file "$CA_FILE" --client-id appjwt \
	--client-key-file "$P/app.key" --user "$APP_MAILBOX" --owner postfix "$P/tok.json" >"$WORK/c2.out" 2>&1
ok $([[ $? -ne 0 ]] && has "$WORK/c2.out" "app.key: uid $(id -u postfix) may not read it .*chown $(id -u postfix) $P/app.key"; echo $?) \
	"--owner postfix: a key postfix does not own is refused with the chown"
diag "$WORK/c2.out"
chown postfix:postfix "$P/app.key"
"$TOOL" connect-app -f --token-url "$TOKEN_ENDPOINT" --ca-file "$CA_FILE" --client-id appjwt \
	--client-key-file "$P/app.key" --user "$APP_MAILBOX" --owner postfix "$P/tok.json" >"$WORK/c3.out" 2>&1
ok $? "--owner postfix with postfix's key: works, checked as postfix"
ok $([[ "$(stat -c %U "$P/tok.json")" == postfix ]] && has "$WORK/c3.out" "checked as postfix"; echo $?) "the file is postfix's"
C4=$WORK/connect-sa.json
"$TOOL" connect-app --service-account-file "$K/sa.json" --ca-file "$CA_FILE" --user carol@example.test "$C4" >"$WORK/c4.out" 2>&1
ok $? "connect-app (service account): works with the key file's token_uri"
diag "$WORK/c4.out"
"$TOOL" status "$C4" >"$WORK/s4.out" 2>&1
ok $(has "$WORK/s4.out" "grant +jwt_bearer \(app-only: no refresh token; $K/sa.json\)"; echo $?) "status names the grant and the credential file"
"$TOOL" revoke "$C4" >"$WORK/r4.out" 2>&1
ok $([[ $? -eq 69 ]] && has "$WORK/r4.out" "domain wide delegation"; echo $?) "revoke: nothing to revoke, says how to withdraw the credential"

# ---- connect-app --chroot: paths given outside pf-out's chroot, recorded inside
D=$PF_OUT_TOKEN_DIR
Q=$PF_OUT_QUEUE
export MAIL_CONFIG=$PF_OUT_DIR		# postconf: pf-out's queue directory
install -o postfix -g postfix -m 600 "$K/sa.json" "$D/sa.json"
# outside the chroot: refused, with the install that puts it inside
"$TOOL" connect-app --chroot "$Q" --service-account-file "$K/sa.json" --ca-file "$Q$PF_OUT_CA_IN_CHROOT" \
	--user alice@example.test --owner postfix "$D/alice.json" >"$WORK/ch1.out" 2>&1
ok $([[ $? -eq 64 && ! -e "$D/alice.json" ]] && has "$WORK/ch1.out" \
	"^sasl-oauth2: --service-account-file $K/sa.json: outside --chroot $Q, .*move it under $Q: install -m 600 -o postfix $K/sa.json $D/sa.json, and give --service-account-file that path$"; echo $?) \
	"--chroot: a key outside DIR is refused (64) with the install that moves it in; nothing written"
diag "$WORK/ch1.out"
# without --chroot, a path under the queue directory: refused, naming --chroot
"$TOOL" connect-app --service-account-file "$D/sa.json" --ca-file "$Q$PF_OUT_CA_IN_CHROOT" \
	--user alice@example.test --owner postfix "$D/alice.json" >"$WORK/ch2.out" 2>&1
ok $([[ $? -eq 64 && ! -e "$D/alice.json" ]] && has "$WORK/ch2.out" \
	"--service-account-file $D/sa.json: under Postfix's queue directory $Q, .*add --chroot $Q \(the file then records $PF_OUT_TOKEN_DIR_IN_CHROOT/sa.json\)"; echo $?) \
	"no --chroot, a key under the queue directory: refused (64), naming --chroot"
diag "$WORK/ch2.out"
# the token file outside DIR
"$TOOL" connect-app --chroot "$Q" --service-account-file "$D/sa.json" --user alice@example.test \
	--owner postfix "$WORK/outside.json" >"$WORK/ch3.out" 2>&1
ok $([[ $? -eq 64 && ! -e "$WORK/outside.json" ]] && has "$WORK/ch3.out" "$WORK/outside.json: not under --chroot $Q"; echo $?) \
	"--chroot: a token file outside DIR is refused (64)"
: >"$WORK/passwd"
for u in alice bob carol; do
	"$TOOL" connect-app --chroot "$Q" --service-account-file "$D/sa.json" \
		--ca-file "$Q$PF_OUT_CA_IN_CHROOT" --user "$u@example.test" --owner postfix "$D/$u.json" \
		>"$WORK/ch-$u.out" 2>&1
	ok $? "connect-app --chroot for $u: works (minted with the outside paths, as postfix)"
	diag "$WORK/ch-$u.out"
	echo "$u@example.test $u@example.test:$(sed -n 's/^the password in smtp_sasl_password_maps: //p' "$WORK/ch-$u.out")" >>"$WORK/passwd"
done
ok $([[ "$(jq -r '.service_account_file + " " + .ca_bundle_file' "$D/alice.json")" == "$PF_OUT_TOKEN_DIR_IN_CHROOT/sa.json $PF_OUT_CA_IN_CHROOT" ]]; echo $?) \
	"the file records the paths inside the chroot"
ok $([[ "$(stat -c '%U %a' "$D/alice.json")" == "postfix 600" ]] && has "$WORK/ch-alice.out" \
	"^the password in smtp_sasl_password_maps: $PF_OUT_TOKEN_DIR_IN_CHROOT/alice.json$"; echo $?) \
	"the file is postfix's (0600); the tool prints the path for sasl_passwd"
unset MAIL_CONFIG
# ---- Postfix relays for 3 mailboxes from one service account, with those files
# The minted tokens are dropped so that the plugin mints in the chroot, by the inside paths.
for u in alice bob carol; do
	jq 'del(.access_token, .expiry, .expires_in)' "$D/$u.json" >"$WORK/e" && cat "$WORK/e" >"$D/$u.json"
done
cat "$WORK/passwd" >"$PF_OUT_SASL_PASSWD"
postconf -c "$PF_OUT_DIR" -e smtp_sender_dependent_authentication=yes
touch -d '-10 sec' "$PF_OUT_DIR/main.cf"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
j0=$(grants urn:ietf:params:oauth:grant-type:jwt-bearer)
for u in alice bob carol; do
	python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from "$u@example.test" --to "$u@example.test" \
		--subject "app-only-$u" >/dev/null 2>&1
done
for u in alice bob carol; do
	check "mail from $u@example.test relayed with $u's token and delivered" \
		bash "$WAIT_DELIVERED" "$MAILDIR_ROOT/$u@example.test/Maildir" "app-only-$u" 45
done
j1=$(grants urn:ietf:params:oauth:grant-type:jwt-bearer)
ok $([[ $((j1 - j0)) -eq 3 ]]; echo $?) "one jwt-bearer request per mailbox (got $((j1 - j0)))"
ok $([[ "$(grep -c 'sasl_username=' "$PF_IN_LOG")" -ge 3 ]] && grep -q 'sasl_username=carol@example.test' "$PF_IN_LOG"; echo $?) \
	"pf-in saw each mailbox authenticate"

# A sender whose mailbox is outside the delegation: Postfix's log (mail.log)
# shows the plugin's line with the Admin console's fix, not "re-authorize".
jq --arg sa "$PF_OUT_TOKEN_DIR_IN_CHROOT/sa.json" --arg ca "$PF_OUT_CA_IN_CHROOT" \
	'.service_account_file = $sa | .ca_bundle_file = $ca | del(.access_token, .expiry, .expires_in)' \
	"$F5" >"$D/outsider.json"
chown postfix:postfix "$D/outsider.json" && chmod 600 "$D/outsider.json"
echo "someone@elsewhere.test someone@elsewhere.test:$PF_OUT_TOKEN_DIR_IN_CHROOT/outsider.json" >>"$WORK/passwd"
cat "$WORK/passwd" >"$PF_OUT_SASL_PASSWD"
bash "$STACK_SH" reload-pf-out "$STACK_DIR" >/dev/null 2>&1
python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from someone@elsewhere.test --to alice@example.test \
	--subject "app-only-outsider" >/dev/null 2>&1
for _ in $(seq 1 45); do
	grep -q 'SASL authentication failure: sasl-oauth2: .*outsider\.json: .*unauthorized_client' "$PF_OUT_LOG" && break
	sleep 1
done
grep 'SASL authentication failure: sasl-oauth2: .*outsider\.json' "$PF_OUT_LOG" | head -1 >"$WORK/maillog.line"
ok $(grep -Eq -- "unauthorized_client.*; $DWD \(no consent to redo\) \(see: sasl-oauth2 explain domain_wide_delegation\)" "$WORK/maillog.line" && ! reauth "$WORK/maillog.line"; echo $?) \
	"Postfix's log: the plugin's failure line for a mailbox outside the delegation gives the Admin console's fix"
diag "$WORK/maillog.line"
ok $(! grep -q "$(cat "$WORK/t4")" "$IDP_LOG" "$PF_OUT_LOG" "$DOVECOT_LOG"; echo $?) "no access token in the logs"

# ---- outside the chroot, the commands open those inside paths under the queue directory
jq '.expiry = "1"' "$D/bob.json" >"$WORK/e" && cat "$WORK/e" >"$D/bob.json"
runuser -u postfix -- env MAIL_CONFIG="$PF_OUT_DIR" "$TOOL" refresh "$D/bob.json" >"$WORK/o1.out" 2>&1
ok $? "refresh (outside, as postfix) of a --chroot file: its /oauth2/sa.json opened under the queue directory"
diag "$WORK/o1.out"
jq '.expiry = "1"' "$D/bob.json" >"$WORK/e" && cat "$WORK/e" >"$D/bob.json"
runuser -u postfix -- env -u MAIL_CONFIG "$TOOL" refresh "$D/bob.json" >"$WORK/o2.out" 2>&1
ok $([[ $? -ne 0 ]] && has "$WORK/o2.out" "$PF_OUT_TOKEN_DIR_IN_CHROOT/sa.json"; echo $?) \
	"the same from another Postfix's view (file not under its queue directory): the inside path is named, not found"
runuser -u postfix -- env MAIL_CONFIG="$PF_OUT_DIR" "$TOOL" refresh-all -v "$D/bob.json" >"$WORK/o3.out" 2>&1
ok $? "refresh-all (the timer's command) on it, outside the chroot"
diag "$WORK/o3.out"

done_testing
