#!/bin/bash
# SPDX-License-Identifier: MIT
# doctor-postfix.sh - sasl-oauth2 doctor --postfix against a real Postfix
# configuration in a scratch config_directory (postconf -c / postmap -c read
# it; nothing touches /etc/postfix), with a chrooted smtp in master.cf, the
# built plugin in its own plugin directory and a token file owned by postfix.
# The setup first passes every check; then each broken setup a mail
# administrator meets (≈30) is made one at a time from a fresh copy, and
# doctor must exit 78 with a "✗" line naming it and the "fix:" line for it.
# Some fixes are run as printed and doctor passes again.  Also: a plugin that
# crashes while loading does not take doctor down; a configuration file
# present with the token file missing does not crash it and the output
# appears through a pipe; exit codes 64 (usage) and 78.  App-only token files
# (client_credentials with a certificate, jwt_bearer with a service account):
# their key, certificate and service account file inside the chroot, owned by
# postfix, mode 0600, readable as postfix, and parsed; each broken case named
# with its field and fix, some fixes run as printed; a loose app-only token
# file is said to expose its client secret or access token, not a refresh
# token.  No stack needed.  TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
command -v postconf >/dev/null || skip_all "no postconf"
command -v postmap >/dev/null || skip_all "no postmap"
[[ $EUID -eq 0 ]] || skip_all "needs root (files owned by postfix, checks as postfix)"
id postfix >/dev/null 2>&1 || skip_all "no postfix user"
[[ -f $PLUGIN_BUILD_DIR/libsasl-oauth2.so ]] || skip_all "plugin not built"

S=$WORK/s
PF=$S/pf
SP=$S/spool

# fresh - a working setup: every doctor check passes
fresh() {
	rm -rf "$S"
	mkdir -p "$PF" "$SP/etc/ssl/certs" "$SP/oauth2" "$S/plugins" "$S/outside"
	chmod 755 "$S" "$SP" "$SP/etc" "$SP/etc/ssl" "$SP/etc/ssl/certs" "$S/outside"
	cp "$PLUGIN_BUILD_DIR/libsasl-oauth2.so" "$S/plugins/"
	cp /etc/ssl/certs/ca-certificates.crt "$SP/etc/ssl/certs/ca.pem"
	printf 'nameserver 127.0.0.1\n' >"$SP/etc/resolv.conf"
	printf '127.0.0.1 localhost\n' >"$SP/etc/hosts"
	chmod 644 "$SP/etc/resolv.conf" "$SP/etc/hosts" "$SP/etc/ssl/certs/ca.pem"
	token "$SP/oauth2/tok.json"
	chown postfix:postfix "$SP/oauth2"
	chmod 700 "$SP/oauth2"
	printf '{"refresh_window": 300}\n' >"$S/sasl-oauth2.conf"
	cat >"$PF/main.cf" <<-EOF
		compatibility_level = 3.6
		myhostname = doctor.example.test
		queue_directory = $SP
		mail_owner = postfix
		relayhost = [smtp.example.test]:587
		smtp_sasl_auth_enable = yes
		smtp_sasl_password_maps = hash:$PF/sasl_passwd
		smtp_sasl_security_options = noplaintext, noanonymous
		smtp_sasl_tls_security_options = \$smtp_sasl_security_options
		smtp_sasl_mechanism_filter = xoauth2
		smtp_tls_security_level = encrypt
		import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$S/plugins SASL_OAUTH2_CONFIG=$S/sasl-oauth2.conf
	EOF
	printf 'smtp      unix  -       -       y       -       -       smtp\n' >"$PF/master.cf"
	printf '[smtp.example.test]:587 me@example.test:/oauth2/tok.json\n' >"$PF/sasl_passwd"
	postmap -c "$PF" "hash:$PF/sasl_passwd"
}

# token FILE - a token file owned by postfix, mode 0600
token() {
	jq -n '{refresh_token: "doctor-test-refresh-token", access_token: "doctor-test-access-token",
		expires_at: "1", client_id: "doctor-test-client",
		token_endpoint: "https://oauth2.example.test/token", ca_bundle_file: "/etc/ssl/certs/ca.pem"}' >"$1"
	chown postfix:postfix "$1"
	chmod 600 "$1"
}

pc() { postconf -c "$PF" -e "$@"; }
pm() { postmap -c "$PF" "hash:$1"; }

# run_doctor - doctor on the scratch configuration into $WORK/out; rc in $rc
run_doctor() {
	"$TOOL" doctor --postfix --config-dir "$PF" >"$WORK/out" 2>&1
	rc=$?
}

# broken NAME BAD-REGEX FIX-REGEX - doctor exits 78; a "✗" line matches
# BAD-REGEX and the "fix:" line right below it matches FIX-REGEX
broken() {
	local name=$1 bad=$2 fix=$3 got
	run_doctor
	got=$(grep -E -A1 -- "^✗ .*$bad" "$WORK/out" | sed -n '2p')
	if [[ $rc -eq 78 ]] && [[ "$got" =~ ^"    fix: " ]] && grep -Eq -- "$fix" <<<"$got"; then
		ok 0 "$name"
	else
		ok 1 "$name (rc $rc)"
		diag "$WORK/out"
	fi
}

# apply_fix BAD-REGEX - run the fix line below the matching "✗" line as printed
apply_fix() {
	grep -E -A1 -- "^✗ .*$1" "$WORK/out" | sed -n '2s/^    fix: //p' >"$WORK/fix.sh"
	bash -e "$WORK/fix.sh" >"$WORK/fix.out" 2>&1
}

# passes NAME - doctor exits 0 with no "✗"
passes() {
	run_doctor
	if [[ $rc -eq 0 ]] && ! grep -q '^✗' "$WORK/out" && grep -Eq '^all [0-9]+ checks pass' "$WORK/out"; then
		ok 0 "$1"
	else
		ok 1 "$1 (rc $rc)"
		diag "$WORK/out"
	fi
}

# ---- the working setup
fresh
passes "a working chrooted setup: every check passes, exit 0"
check "it names the relay's key" has "$WORK/out" '^✓ relay \[smtp\.example\.test\]:587 \(relayhost\): smtp_sasl_password_maps has key'
check "it checks the token file as postfix" has "$WORK/out" '^✓ postfix can read and write .*/oauth2/tok\.json'

# ---- the relay's key in the password map (the bounce of issue 10)
fresh
printf 'smtp.example.test:587 me@example.test:/oauth2/tok.json\n' >"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
broken "key smtp.example.test:587 for relayhost [smtp.example.test]:587: named, fix rewrites the key" \
	'relay \[smtp\.example\.test\]:587 \(relayhost\): smtp_sasl_password_maps has key smtp\.example\.test:587, but Postfix looks up' \
	"sed -i .*smtp.*example.*test.*587.* $PF/sasl_passwd && postmap -c $PF hash:$PF/sasl_passwd\$"
apply_fix 'relay \[smtp'
passes "after the printed key fix: every check passes"
check "the fixed key is the bracketed one" has "$PF/sasl_passwd" '^\[smtp\.example\.test\]:587 me@example\.test:/oauth2/tok\.json$'

fresh
pc 'relayhost = [smtp.example.test]'
broken "key with :587 for relayhost without a port: named" \
	'relay \[smtp\.example\.test\] \(relayhost\): smtp_sasl_password_maps has key \[smtp\.example\.test\]:587' \
	"sed -i "

fresh
pc 'relayhost =' "transport_maps = hash:$PF/transport"
printf 'example.com smtp:[smtp.other.test]:587\n' >"$PF/transport"
pm "$PF/transport"
broken "transport_maps next hop without a key: named" \
	'relay \[smtp\.other\.test\]:587 \(transport_maps\): smtp_sasl_password_maps has no entry' \
	'add the line "\[smtp\.other\.test\]:587 USER:/path/to/token\.json"'

fresh
pc "sender_dependent_relayhost_maps = hash:$PF/sender_relay"
printf 'me@example.test [smtp.sender.test]:587\n' >"$PF/sender_relay"
pm "$PF/sender_relay"
broken "sender_dependent_relayhost_maps next hop without a key: named" \
	'relay \[smtp\.sender\.test\]:587 \(sender_dependent_relayhost_maps\): smtp_sasl_password_maps has no entry' \
	'add the line "\[smtp\.sender\.test\]:587 '
pc 'smtp_sender_dependent_authentication = yes'
printf 'me@example.test me@example.test:/oauth2/tok.json\n' >>"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
passes "smtp_sender_dependent_authentication with the sender as key: every check passes"
check "it names the sender key" has "$WORK/out" '^✓ relay \[smtp\.sender\.test\]:587 \(sender_dependent_relayhost_maps\): smtp_sasl_password_maps has key me@example\.test \(the sender\)'

# ---- maps postmap'ed and fresh
fresh
rm -f "$PF/sasl_passwd.db"
broken "sasl_passwd never postmap'ed: named" \
	"smtp_sasl_password_maps: $PF/sasl_passwd was never postmap'ed" \
	"^    fix: postmap -c $PF hash:$PF/sasl_passwd\$"

fresh
touch -d '1 hour ago' "$PF/sasl_passwd.db"
broken "sasl_passwd.db older than sasl_passwd: named" \
	"smtp_sasl_password_maps: $PF/sasl_passwd\.db is older than" \
	"^    fix: postmap -c $PF hash:$PF/sasl_passwd\$"
apply_fix 'smtp_sasl_password_maps: .* is older'
passes "after the printed postmap: every check passes"

# ---- token files as the chrooted smtp client sees them
fresh
mv "$SP/oauth2/tok.json" "$S/outside/tok.json"
printf '[smtp.example.test]:587 me@example.test:%s\n' "$S/outside/tok.json" >"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
broken "token file outside the chroot: the fix moves it" \
	"token file $S/outside/tok.json is not inside the smtp chroot .*move it" \
	"mv $S/outside/tok\.json $SP$S/outside/tok\.json"
check "the fix for a token file outside the chroot copies nothing" \
	bash -c "grep -A1 '^✗ token file' '$WORK/out' | grep -q '^    fix: ' && ! grep -A1 '^✗ token file' '$WORK/out' | grep -Eq '(^|[ &;])(cp|rsync|install [^&]*tok)'"
apply_fix 'token file .*not inside'
check "after the printed fix: one copy of the token file, inside the chroot" \
	bash -c "[[ ! -e '$S/outside/tok.json' && -f '$SP$S/outside/tok.json' ]]"
passes "after the printed move: every check passes"

fresh
rm -f "$SP/oauth2/tok.json"
broken "token file missing: authorize as postfix" \
	"token file /oauth2/tok\.json is not inside the smtp chroot \($SP/oauth2/tok\.json\)" \
	"sasl-oauth2 authorize --owner postfix .*$SP/oauth2/tok\.json"

fresh
chown root:root "$SP/oauth2/tok.json"
broken "token file owned by root: chown" \
	"$SP/oauth2/tok\.json is owned by uid 0, not postfix" \
	"^    fix: chown postfix:postfix $SP/oauth2/tok\.json\$"

fresh
chmod 644 "$SP/oauth2/tok.json"
broken "token file readable by others: chmod 600" \
	"$SP/oauth2/tok\.json has mode 644: others can read the refresh token\$" \
	"^    fix: chmod 600 $SP/oauth2/tok\.json\$"

fresh
chown root:root "$SP/oauth2"
chmod 755 "$SP/oauth2"
chown postfix:postfix "$SP/oauth2/tok.json"
broken "token directory not writable by postfix: chown it" \
	"postfix cannot create files in $SP/oauth2: a refreshed token cannot be stored" \
	"chown postfix:postfix $SP/oauth2 && chmod 700 $SP/oauth2"

fresh
chmod 700 "$SP"
broken "a parent directory postfix cannot enter: named" \
	"postfix cannot enter $SP\$" \
	"^    fix: chmod o\+x $SP\$"

fresh
printf 'not json\n' >"$SP/oauth2/tok.json"
broken "token file that is not a token file: named with status/authorize" \
	"tok\.json" \
	"sasl-oauth2 status $SP/oauth2/tok\.json"

fresh
printf '[smtp.example.test]:587 me@example.test:oauth2/tok.json\n' >"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
broken "relative token path in the map: named" \
	'oauth2/tok\.json: the SASL password must be the absolute path' \
	'absolute path'

fresh
rm -f "$SP/etc/ssl/certs/ca.pem"
broken "CA bundle missing in the chroot: copy it in" \
	"CA bundle /etc/ssl/certs/ca\.pem is missing in the chroot" \
	"cp -L .* $SP/etc/ssl/certs/ca\.pem"

fresh
rm -f "$SP/etc/resolv.conf"
broken "resolv.conf missing in the chroot" \
	'/etc/resolv\.conf is missing in the chroot' \
	"cp -L /etc/resolv\.conf $SP/etc/resolv\.conf"

fresh
rm -f "$SP/etc/hosts"
broken "hosts missing in the chroot" \
	'/etc/hosts is missing in the chroot' \
	"cp -L /etc/hosts $SP/etc/hosts"

# ---- settings
fresh
pc 'smtp_sasl_auth_enable = no'
broken "smtp_sasl_auth_enable = no" 'smtp_sasl_auth_enable is "no"' \
	"postconf -c $PF -e smtp_sasl_auth_enable=yes"

fresh
pc 'smtp_sasl_password_maps ='
broken "smtp_sasl_password_maps empty" 'smtp_sasl_password_maps is empty' \
	"postconf -c $PF -e smtp_sasl_password_maps=hash:"

fresh
pc 'smtp_sasl_mechanism_filter = plain, login'
broken "smtp_sasl_mechanism_filter without xoauth2" \
	'smtp_sasl_mechanism_filter = plain, login leaves out XOAUTH2' \
	"postconf -c $PF -e smtp_sasl_mechanism_filter=xoauth2"

fresh
pc 'smtp_sasl_security_options = noanonymous' 'smtp_sasl_mechanism_filter ='
broken "noanonymous without noplaintext and no filter: PLAIN could carry the path" \
	'smtp_sasl_mechanism_filter is empty and smtp_sasl_tls_security_options \(noanonymous\) lacks noplaintext' \
	"postconf -c $PF -e smtp_sasl_mechanism_filter=xoauth2"

fresh
pc 'smtp_sasl_tls_security_options = noanonymous, noactive'
broken "smtp_sasl_tls_security_options excluding bearer mechanisms" \
	'smtp_sasl_tls_security_options = noanonymous, noactive: "noactive" excludes XOAUTH2' \
	"postconf -c $PF -e 'smtp_sasl_tls_security_options = noplaintext, noanonymous'"

fresh
pc 'smtp_tls_security_level = may'
broken "smtp_tls_security_level = may" \
	'smtp_tls_security_level = may: the bearer token could go out without TLS' \
	"postconf -c $PF -e smtp_tls_security_level=encrypt"

fresh
pc "smtp_tls_policy_maps = hash:$PF/tls_policy"
printf '[smtp.example.test]:587 may\n' >"$PF/tls_policy"
pm "$PF/tls_policy"
broken "smtp_tls_policy_maps lowers TLS for the relay" \
	'relay \[smtp\.example\.test\]:587: smtp_tls_policy_maps .* sets TLS level "may"' \
	"sed -i .*encrypt.* $PF/tls_policy && postmap -c $PF hash:$PF/tls_policy"
apply_fix 'relay .*smtp_tls_policy_maps'
passes "after the printed TLS policy fix: every check passes"

fresh
pc 'relayhost = [smtp.example.test]:465'
printf '[smtp.example.test]:465 me@example.test:/oauth2/tok.json\n' >"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
broken "relay on port 465 without smtp_tls_wrappermode" \
	'relay \[smtp\.example\.test\]:465: port 465 speaks TLS from the first byte' \
	"postconf -c $PF -e smtp_tls_wrappermode=yes"

fresh
printf '{"no_such_setting": 1}\n' >"$S/sasl-oauth2.conf"
broken "a configuration file with an unknown member: named" \
	'no_such_setting' "sasl-oauth2 explain config; edit $S/sasl-oauth2\.conf"

# ---- plugins
fresh
cp "$S/plugins/libsasl-oauth2.so" "$S/plugins/libkdexoauth2.so"
broken "a second XOAUTH2 plugin (Debian's libkdexoauth2.so): named" \
	"both claim XOAUTH2: libsasl2 may use libkdexoauth2\.so" \
	"apt-get remove libsasl2-modules-kdexoauth2"

fresh
rm -f "$S/plugins/libsasl-oauth2.so"
broken "no XOAUTH2 plugin in SASL_PATH" "libsasl2 finds no XOAUTH2 plugin in $S/plugins" \
	"SASL_PATH="

fresh
printf 'int sasl_client_plug_init(void *u, int v, int *o, void **p, int *n)\n{ volatile int *z = 0; (void)u; (void)v; (void)o; (void)p; (void)n; return *z; }\n' >"$WORK/crash.c"
if cc -shared -fPIC -o "$S/plugins/libcrash.so" "$WORK/crash.c" 2>"$WORK/cc.err"; then
	"$TOOL" doctor --postfix --config-dir "$PF" 2>&1 | cat >"$WORK/out"
	rc=${PIPESTATUS[0]}
	ok $([[ $rc -eq 78 ]]; echo $?) "a plugin that crashes while loading: doctor survives and exits 78 (got $rc)"
	check "the crashing plugin is named with its fix" bash -c \
		"grep -A1 '^✗ $S/plugins/libcrash.so crashes libsasl2 when it loads (signal 11' '$WORK/out' | grep -q '^    fix: mv $S/plugins/libcrash.so $S/plugins/libcrash.so.disabled'"
	check "the other checks still run (our plugin found, summary printed)" bash -c \
		"grep -q '^✓ libsasl2 loads one XOAUTH2 plugin' '$WORK/out' && grep -q '^1 of [0-9]* checks failed' '$WORK/out'"
else
	ok 1 "a crashing test plugin compiles"
	diag "$WORK/cc.err"
fi

# ---- the segfault of issue 10: configuration present, token file missing; piped
fresh
rm -f "$SP/oauth2/tok.json"
"$TOOL" doctor --postfix --config-dir "$PF" 2>"$WORK/err" | cat >"$WORK/out"
rc=${PIPESTATUS[0]}
ok $([[ $rc -eq 78 ]]; echo $?) "configuration present, token file missing: exit 78, no crash (got $rc)"
check "piped: the output is all there, header to summary" bash -c \
	"head -1 '$WORK/out' | grep -q '^Postfix ' && grep -q '^✓ $S/sasl-oauth2.conf parses' '$WORK/out' && tail -1 '$WORK/out' | grep -q 'checks failed: run the fix lines'"
nx=$(grep -c '^✗' "$WORK/out")
nf=$(grep -c '^    fix: ' "$WORK/out")
ok $([[ $nx -gt 0 && $nx -eq $nf ]]; echo $?) "every ✗ has its fix line ($nx ✗, $nf fixes)"

# ---- without chroot the token file is checked at its real path
fresh
printf 'smtp      unix  -       -       n       -       -       smtp\n' >"$PF/master.cf"
mv "$SP/oauth2" "$S/outside/oauth2"
jq '.ca_bundle_file = "/etc/ssl/certs/ca-certificates.crt"' "$S/outside/oauth2/tok.json" >"$WORK/t.json" &&
	cat "$WORK/t.json" >"$S/outside/oauth2/tok.json"
printf '[smtp.example.test]:587 me@example.test:%s/oauth2/tok.json\n' "$S/outside" >"$PF/sasl_passwd"
pm "$PF/sasl_passwd"
passes "smtp without chroot: the token file at its own path passes"
check "smtp without chroot: says so" has "$WORK/out" '^smtp runs without chroot, as postfix'

# ---- app-only token files: their key, certificate and service account file
# as the chrooted smtp client opens them (issue 12 item 1)
AK=$WORK/appkeys
mkdir -p "$AK"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$AK/app.key" 2>/dev/null
openssl req -x509 -new -key "$AK/app.key" -sha256 -days 7 -subj "/CN=doctor-app" -out "$AK/app.crt" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$AK/other.key" 2>/dev/null
openssl req -x509 -new -key "$AK/other.key" -sha256 -days 7 -subj "/CN=other" -out "$AK/other.crt" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$AK/sa.pem" 2>/dev/null
jq -n --rawfile k "$AK/sa.pem" '{type: "service_account", client_email: "relay@doctor.iam.example.test",
	private_key: $k, private_key_id: "doctor-kid", token_uri: "https://oauth2.example.test/token"}' >"$AK/sa.json"

# app_token FILE JSON-EXTRA - an app-only token file owned by postfix, mode 0600
app_token() {
	jq -n --argjson x "$2" '{user: "me@example.test", token_endpoint: "https://oauth2.example.test/token",
		ca_bundle_file: "/etc/ssl/certs/ca.pem"} + $x' >"$1"
	chown postfix:postfix "$1"
	chmod 600 "$1"
}

# fresh_cert - a working setup whose token file is client_credentials with a
# certificate: the key and certificate inside the chroot, the key postfix's
fresh_cert() {
	fresh
	install -o postfix -g postfix -m 600 "$AK/app.key" "$SP/oauth2/app.key"
	install -o root -g root -m 644 "$AK/app.crt" "$SP/oauth2/app.crt"
	app_token "$SP/oauth2/tok.json" '{"grant": "client_credentials", "client_id": "doctor-app",
		"client_key_file": "/oauth2/app.key", "client_cert_file": "/oauth2/app.crt"}'
}

# fresh_sa - the same with jwt_bearer and a service account key file
fresh_sa() {
	fresh
	install -o postfix -g postfix -m 600 "$AK/sa.json" "$SP/oauth2/sa.json"
	app_token "$SP/oauth2/tok.json" '{"grant": "jwt_bearer", "service_account_file": "/oauth2/sa.json"}'
}

fresh_cert
passes "app-only (client_credentials, certificate), chrooted: every check passes"
check "it checks the key as postfix opens it" has "$WORK/out" "^✓ \"client_key_file\" $SP/oauth2/app\.key is there, postfix can read it and no one else"
check "it reads the key and checks the certificate belongs to it" has "$WORK/out" "^✓ \"client_key_file\" $SP/oauth2/app\.key holds a private key \(ES256; the certificate fits it\)"
fresh_sa
passes "app-only (jwt_bearer, service account), chrooted: every check passes"
check "it reads the service account key" has "$WORK/out" "^✓ \"service_account_file\" $SP/oauth2/sa\.json holds a service account key \(RS256\)"

fresh_cert
chmod 644 "$SP/oauth2/app.key"
broken "app key readable by others: named with its field, chmod 600" \
	"$SP/oauth2/tok\.json \"client_key_file\" $SP/oauth2/app\.key has mode 644: others can read the key" \
	"^    fix: chmod 600 $SP/oauth2/app\.key\$"
apply_fix '"client_key_file" .* has mode'
passes "after the printed chmod: every check passes"

# A loose app-only token file: the line says what is in it (there is no
# refresh token): the client secret when it holds one, else the access token.
fresh_cert
chmod 644 "$SP/oauth2/tok.json"
broken "app-only token file (certificate) readable by others: the access token, chmod 600" \
	"$SP/oauth2/tok\.json has mode 644: others can read the access token\$" \
	"^    fix: chmod 600 $SP/oauth2/tok\.json\$"
check "it does not speak of a refresh token for an app-only file" bash -c "! grep -q 'others can read the refresh token' '$WORK/out'"
fresh
app_token "$SP/oauth2/tok.json" '{"grant": "client_credentials", "client_id": "doctor-app", "client_secret": "doctor-app-secret"}'
chmod 640 "$SP/oauth2/tok.json"
broken "app-only token file with a client secret readable by the group: the client secret, chmod 600" \
	"$SP/oauth2/tok\.json has mode 640: others can read the client secret\$" \
	"^    fix: chmod 600 $SP/oauth2/tok\.json\$"
check "the secret itself is not printed" bash -c "! grep -q 'doctor-app-secret' '$WORK/out'"

fresh_cert
chown root:root "$SP/oauth2/app.key"
broken "app key owned by root: named, chown to postfix" \
	"\"client_key_file\" $SP/oauth2/app\.key is owned by uid 0, not postfix" \
	"^    fix: chown postfix:postfix $SP/oauth2/app\.key\$"
apply_fix '"client_key_file" .* is owned by'
passes "after the printed chown: every check passes"

fresh_cert
install -o postfix -g postfix -m 600 "$AK/app.key" "$S/outside/app.key"
rm -f "$SP/oauth2/app.key"
app_token "$SP/oauth2/tok.json" "$(jq -n --arg k "$S/outside/app.key" '{grant: "client_credentials", client_id: "doctor-app",
	client_key_file: $k, client_cert_file: "/oauth2/app.crt"}')"
broken "app key outside the chroot: the fix moves it in" \
	"\"client_key_file\" $S/outside/app\.key is not inside the smtp chroot \($SP$S/outside/app\.key\); it exists outside" \
	"mv $S/outside/app\.key $SP$S/outside/app\.key && chown postfix:postfix $SP$S/outside/app\.key && chmod 600 "
check "the fix for a key outside the chroot copies nothing" \
	bash -c "grep -A1 '^✗ .*\"client_key_file\"' '$WORK/out' | sed -n 2p | grep -q '^    fix: ' && ! grep -A1 '^✗ .*\"client_key_file\"' '$WORK/out' | sed -n 2p | grep -Eq '(^|[ &;])(cp|rsync|install|cat|tee) '"
apply_fix '"client_key_file" .* not inside'
check "after the printed fix: one copy of the key, inside the chroot" \
	bash -c "[[ ! -e '$S/outside/app.key' && -f '$SP$S/outside/app.key' ]]"
passes "after the printed move: every check passes"

fresh_cert
rm -f "$SP/oauth2/app.key"
broken "app key missing: install it for postfix, mode 600" \
	"\"client_key_file\" /oauth2/app\.key is missing in the chroot \($SP/oauth2/app\.key\)" \
	"^    fix: install -D -o postfix -g postfix -m 600 KEY\.pem $SP/oauth2/app\.key\$"

fresh_cert
mv "$SP/oauth2/app.key" "$SP/oauth2/real.key"
ln -s "$SP/oauth2/real.key" "$SP/oauth2/app.key"
broken "app key a symbolic link: named, the fix puts the file in its place" \
	"\"client_key_file\" $SP/oauth2/app\.key is a symbolic link" \
	"^    fix: rm $SP/oauth2/app\.key && mv $SP/oauth2/real\.key $SP/oauth2/app\.key\$"
apply_fix '"client_key_file" .* symbolic link'
passes "after the printed fix for the link: every check passes"

fresh_cert
rm -f "$SP/oauth2/app.key"
mkdir "$SP/oauth2/app.key"
broken "app key a directory: not a regular file" \
	"\"client_key_file\" $SP/oauth2/app\.key is not a regular file" \
	"install -D -o postfix -g postfix -m 600 KEY\.pem $SP/oauth2/app\.key"

fresh_cert
mkdir -m 700 "$SP/keys"
install -o postfix -g postfix -m 600 "$AK/app.key" "$SP/keys/app.key"
app_token "$SP/oauth2/tok.json" '{"grant": "client_credentials", "client_id": "doctor-app",
	"client_key_file": "/keys/app.key", "client_cert_file": "/oauth2/app.crt"}'
broken "app key in a directory postfix cannot enter: named" \
	"postfix cannot enter $SP/keys\$" "^    fix: chmod o\+x $SP/keys\$"
apply_fix "postfix cannot enter $SP/keys"
passes "after the printed chmod of the directory: every check passes"

fresh_cert
printf 'not a key\n' >"$SP/oauth2/app.key"
broken "app key that is not a PEM private key: named with its field" \
	"\"client_key_file\" $SP/oauth2/app\.key: no unencrypted private key in PEM form" \
	"install -o postfix -g postfix -m 600 KEY\.pem $SP/oauth2/app\.key"

fresh_cert
install -o root -g root -m 644 "$AK/other.crt" "$SP/oauth2/app.crt"
broken "certificate of another key: named with its field" \
	"\"client_cert_file\" $SP/oauth2/app\.crt: the certificate does not belong to the private key" \
	"install -o postfix -g postfix -m 644 CERT\.pem $SP/oauth2/app\.crt"

fresh_cert
chmod 600 "$SP/oauth2/app.crt"
broken "certificate postfix cannot read: chmod 644" \
	"\"client_cert_file\": postfix cannot read $SP/oauth2/app\.crt" \
	"^    fix: chmod 644 $SP/oauth2/app\.crt\$"
apply_fix '"client_cert_file": postfix cannot read'
passes "after the printed chmod of the certificate: every check passes"

fresh_sa
jq -n '{type: "authorized_user", client_id: "x", client_secret: "doctor-test-client-secret", refresh_token: "doctor-test-refresh-token"}' >"$SP/oauth2/sa.json"
broken "service account file that is not a service account key: named" \
	"\"service_account_file\" $SP/oauth2/sa\.json: \"type\" is not \"service_account\"" \
	"download a new JSON key \(Google Cloud console > IAM & Admin > Service accounts > the account > Keys > Add key > JSON\), then: install -o postfix -g postfix -m 600 KEY\.json $SP/oauth2/sa\.json"

fresh_sa
jq '.private_key = "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"' "$AK/sa.json" >"$SP/oauth2/sa.json"
broken "service account key whose private key does not parse: named" \
	"\"service_account_file\" $SP/oauth2/sa\.json: no unencrypted private key in PEM form" \
	"download a new JSON key"

fresh_sa
chmod 640 "$SP/oauth2/sa.json"
broken "service account file readable by the group: chmod 600" \
	"\"service_account_file\" $SP/oauth2/sa\.json has mode 640" \
	"^    fix: chmod 600 $SP/oauth2/sa\.json\$"

fresh
app_token "$SP/oauth2/tok.json" '{"grant": "jwt_bearer"}'
broken "jwt_bearer naming no credential file: named" \
	"grant jwt_bearer names no credential file \(\"service_account_file\"\)" "connect-app"

check "no key in any output" bash -c "! grep -q 'PRIVATE KEY\|doctor-test-client-secret' '$WORK/out'"

# ---- command line and unusable configurations
"$TOOL" doctor >/dev/null 2>&1
is_rc=$?
ok $([[ $is_rc -eq 64 ]]; echo $?) "doctor without --postfix: exit 64 (got $is_rc)"
"$TOOL" doctor --postfix --bogus >/dev/null 2>&1
is_rc=$?
ok $([[ $is_rc -eq 64 ]]; echo $?) "unknown option: exit 64 (got $is_rc)"
"$TOOL" doctor --postfix --config-dir "$WORK/nonexistent" >"$WORK/out" 2>&1
is_rc=$?
ok $([[ $is_rc -eq 78 ]]; echo $?) "a config dir without main.cf: exit 78 (got $is_rc)"
check "a config dir without main.cf: one line naming it and --config-dir" has "$WORK/out" "$WORK/nonexistent.*--config-dir DIR"
MAIL_CONFIG=$WORK/nonexistent "$TOOL" doctor --postfix >"$WORK/out" 2>&1
is_rc=$?
ok $([[ $is_rc -eq 78 ]] && has "$WORK/out" "$WORK/nonexistent.*--config-dir DIR"; echo $?) \
	"MAIL_CONFIG names the configuration when --config-dir is not given (exit $is_rc)"
MAIL_CONFIG=$WORK/nonexistent "$TOOL" doctor --postfix --config-dir "$PF" >"$WORK/out" 2>&1
ok $(has "$WORK/out" "^Postfix .*, configuration $PF\$"; echo $?) "--config-dir wins over MAIL_CONFIG"
fresh
pc 'mail_owner = nosuchuser-doctor'
"$TOOL" doctor --postfix --config-dir "$PF" >"$WORK/out" 2>&1
is_rc=$?
ok $([[ $is_rc -eq 78 ]]; echo $?) "mail_owner not a user: exit 78 (got $is_rc)"
check "mail_owner not a user: named with the fix" has "$WORK/out" 'mail_owner "nosuchuser-doctor" .* is not a user.*postconf -c .* -e mail_owner=postfix'

# ---- the manual page shows the marks and lines doctor prints
mandoc -Tutf8 "$top/man/sasl-oauth2.1" | col -b >"$WORK/man.txt"
check "sasl-oauth2(1) shows doctor's marks ✓ and ✗ and its fix and summary lines" bash -c \
	"grep -q '^[[:space:]]*✓[[:space:]]*the check passes' '$WORK/man.txt' && grep -q '^[[:space:]]*✗[[:space:]]*it fails' '$WORK/man.txt' && grep -q '“    fix: command”' '$WORK/man.txt' && grep -q 'all N checks pass' '$WORK/man.txt'"

check "no token or secret in any output" bash -c "! grep -rq 'doctor-test-refresh-token\|doctor-test-access-token' '$WORK/out' '$WORK/err'"

done_testing
