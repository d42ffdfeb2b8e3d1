#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# postfix-recipe.sh - follows sasl-oauth2-postfix(7) literally on a Postfix
# instance that runs as Debian ships it (stock main.cf and master.cf, smtp
# chrooted), and relays a mail through the real loopback stack: the plugin
# in the chrooted smtp client -> pf-in (STARTTLS, XOAUTH2 checked by Dovecot
# against oidc-provider) -> LMTP -> Maildir.  TAP.
#
# "Literally": every block of the page marked `.\" recipe-step: NAME` is
# taken from man/sasl-oauth2-postfix.7 and run as written, with these
# substitutions only (a fixed table, below):
#   - the system's paths the recipe writes to (/etc/postfix,
#     /var/spool/postfix, /etc/default/..., /root/, ...) live below a private
#     root $R: the instance is `postfix -c $R/etc/postfix` (exported as
#     MAIL_CONFIG, which postconf, postmap, postfix and sendmail honour);
#   - Gmail's relay, account, client id and provider are the stack's (the
#     relay is [localhost]:PORT, the name in the test server's certificate;
#     the paste flow's browser is curl);
#   - systemctl and journalctl are shell functions that do what systemd
#     does on Debian 12 (restart = Debian's configure-instance.sh, then
#     postfix start; the refresh unit's ExecStart with its EnvironmentFile);
#   - contrib/ is installed below $R by "make install-contrib", as the package
#     installs it below /.
# The instance starts as the package leaves it (main.cf.debian + main.cf.tls,
# master.cf.dist) plus test-only settings: paths below $R, a log file,
# loopback only, names from /etc/hosts, quick retries, the plugin from
# $BUILD; the port-25 listener is off (mail comes in through sendmail).
# The test CA of the stack must be in /etc/ssl/certs/ca-certificates.crt,
# which the recipe copies into the chroot: the test runs in a private mount
# namespace (unshare --mount) in which that one file is a bind mount of the
# system bundle plus the test CA.  Nothing outside the namespace changes.
#
# Not run here: step 1 (apt-get install), which tests/e2e/deb.sh covers; the
# plugin comes from $BUILD through import_environment SASL_PATH.  Steps that
# need the sasl-oauth2 command are skipped when it is not built (a token file
# is then made from the provider's reply directly).
#
# Env: BUILD (build directory), PORT_OFFSET (default 50000), KEEP=1 keeps
# the run directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
export PORT_OFFSET=${PORT_OFFSET:-50000}
MAN=$top/man/sasl-oauth2-postfix.7
TOOL=$BUILD/tools/sasl-oauth2
BUILD_PLUGIN_DIR=$BUILD/plugin/.libs
# The steps this test knows, in the page's order.
STEPS="secret tokdir cabundle authorize sasl_passwd main.cf restart doctor test send timer status"
NEED_TOOL=" authorize doctor test timer status "

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (Postfix instances, the stack)"
	exit 0
fi
# Into a private mount namespace (see above), once.
in_mount_namespace "$0" "$@"

T=$(mktemp -d /tmp/oa2-recipe.XXXXXX)
chmod 755 "$T"
R=$T/root
Q=$R/var/spool/postfix
export T R Q
mkdir -p "$T/log" "$T/run" "$T/journal" "$T/steps" "$T/work"
chmod 755 "$T/log"
PF_LOG=$T/log/postfix.log
export PF_LOG

cleanup() {
	if [ -f "$R/etc/postfix/main.cf" ] && postfix -c "$R/etc/postfix" status >/dev/null 2>&1; then
		postfix -c "$R/etc/postfix" stop >/dev/null 2>&1
	fi
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

diag() { sed 's/^/# /' "$@" 2>/dev/null | tail -25; }
have_tool() { [ -x "$TOOL" ]; }

# --- the stack --------------------------------------------------------------
if ! AT_TTL=3600 bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/log/stack-start.out" 2>&1; then
	_tap 1 "the loopback stack starts"
	diag "$T/log/stack-start.out"
	done_testing
	exit 1
fi
_tap 0 "the loopback stack starts (oidc-provider, Dovecot, Postfix pf-in)"
. "$T/stack/stack.env"

# --- the system CA bundle, as seen in this namespace: + the test CA ----------
BUNDLE=/etc/ssl/certs/ca-certificates.crt
if bind_ca_bundle "$CA_FILE" "$T"; then
	_tap 0 "in this mount namespace, $BUNDLE also holds the stack's test CA"
else
	_tap 1 "in this mount namespace, $BUNDLE also holds the stack's test CA"
	done_testing
	exit 1
fi

# --- the man pages: lint-clean, cross references resolved among them --------
if command -v mandoc >/dev/null 2>&1; then
	mp=$T/manpath
	for p in "$top"/man/*.[1-8]; do
		s=${p##*.}
		mkdir -p "$mp/man$s" && cp "$p" "$mp/man$s/"
	done
	mandoc -Tlint -W style -M "$mp:/usr/share/man" "$top"/man/sasl-oauth2-token.5 \
		"$top"/man/sasl-oauth2.conf.5 "$top"/man/sasl-oauth2-postfix.7 \
		"$top"/man/sasl-oauth2-plugin.8 >"$T/log/lint" 2>&1
	rc=$?
	grep -v 'outdated mandoc.db' "$T/log/lint" >"$T/log/lint.msgs"
	is "$rc:$(wc -l <"$T/log/lint.msgs")" "0:0" "mandoc -Tlint: the four pages are clean"
	[ "$rc" = 0 ] || diag "$T/log/lint.msgs"
else
	skip "mandoc -Tlint: the four pages are clean" "no mandoc"
fi

# --- the recipe's steps, from the page ---------------------------------------
. "$top/tests/lib/man-steps.bash"
if ! man_steps recipe-step "$STEPS" "the page's recipe steps are the ones this test runs, in order"; then
	done_testing
	exit 1
fi

# The substitutions: a private root, and the stack for Gmail.
cat >"$T/map" <<EOF
[smtp.gmail.com]:587	[localhost]:$PF_IN_PORT
smtp.gmail.com:587	127.0.0.1:$PF_IN_PORT
you@gmail.com	$TEST_USER
--provider google	--issuer $IDP_URL --redirect-uri http://127.0.0.1:9/cb
1234567890-abcdefghijklmnop.apps.googleusercontent.com	$CLIENT_ID_POST
/etc/default/postfix	$R/etc/default/postfix
/etc/default/sasl-oauth2	$R/etc/default/sasl-oauth2
/etc/ca-certificates/update.d/sasl-oauth2	$R/etc/ca-certificates/update.d/sasl-oauth2
/usr/libexec/sasl-oauth2/	$R/usr/libexec/sasl-oauth2/
/lib/systemd/system/	$R/lib/systemd/system/
/etc/postfix	$R/etc/postfix
/var/spool/postfix	$R/var/spool/postfix
/var/lib/postfix	$R/var/lib/postfix
/etc/sasl-oauth2.conf	$R/etc/sasl-oauth2.conf
/usr/bin/sasl-oauth2	$TOOL
/root/	$R/root/
EOF

# --- the machine as Debian leaves it after "apt-get install postfix" ---------
mkdir -p "$R/etc/postfix" "$R/etc/default" "$Q" "$R/var/lib/postfix" "$R/root"
chmod 700 "$R/root"
chown postfix "$R/var/lib/postfix"
make -s -C "$BUILD" install-contrib DESTDIR="$R" prefix=/usr sysconfdir=/etc \
	libexecdir=/usr/libexec systemdsystemunitdir=/lib/systemd/system >/dev/null
subst "$R/etc/ca-certificates/update.d/sasl-oauth2" "$R/etc/default/sasl-oauth2" \
	"$R/usr/libexec/sasl-oauth2/refresh-token-files" "$R"/lib/systemd/system/sasl-oauth2-refresh.*
# Debian's start script, reading our /etc/default/postfix.
sed "s#/etc/default/postfix#$R/etc/default/postfix#g" /usr/lib/postfix/configure-instance.sh \
	>"$T/configure-instance.sh"
chmod 755 "$T/configure-instance.sh"
export MAIL_CONFIG=$R/etc/postfix
# main.cf as the package writes it ("Internet Site"), then this test's own
# settings: paths below $R, a log file (no syslog here), loopback only, no
# local delivery, names from /etc/hosts (no DNS here: the relay is
# [localhost], the name in the test server's certificate), quick retries,
# the plugin and config from the build.
cat /usr/share/postfix/main.cf.debian /usr/share/postfix/main.cf.tls >"$MAIL_CONFIG/main.cf"
cp /usr/share/postfix/master.cf.dist "$MAIL_CONFIG/master.cf"
postconf -e "myhostname = client.example.test" "mydomain = example.test" \
	"mydestination =" "relayhost =" "alias_maps =" "alias_database =" \
	"local_recipient_maps =" "mynetworks = 127.0.0.0/8" \
	"inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
	"queue_directory = $Q" "data_directory = $R/var/lib/postfix" \
	"syslog_name = postfix-recipe" "maillog_file = $PF_LOG" "maillog_file_prefixes = $T" \
	"smtp_host_lookup = native" "smtp_tls_loglevel = 1" "queue_run_delay = 5s" "minimal_backoff_time = 5s" \
	"maximal_backoff_time = 10s" \
	"import_environment = $(postconf -dh import_environment) SASL_PATH=$BUILD_PLUGIN_DIR SASL_OAUTH2_CONFIG=$R/etc/sasl-oauth2.conf"
# Mail comes in through sendmail only: no listener on port 25.
postconf -M# smtp/inet
check "master.cf is Debian's, smtp client chrooted (column 5 y)" \
	grep -Eq '^smtp +unix +- +- +y +- +- +smtp$' "$MAIL_CONFIG/master.cf"

# The environment of the steps.
export SASL_PATH=$BUILD_PLUGIN_DIR SASL_OAUTH2_CONFIG=$R/etc/sasl-oauth2.conf
have_tool && export PATH=$BUILD/tools:$PATH
cat >"$T/shims.sh" <<'EOF'
# systemctl and journalctl, as systemd on Debian 12 would act (test shims).
pf_restart() {
	# postfix.service -> postfix@-.service: ExecStop (postfix stop),
	# ExecStartPre=/usr/lib/postfix/configure-instance.sh -, ExecStart (start)
	if postfix status >/dev/null 2>&1; then
		postfix stop >/dev/null 2>&1 || return 1
		for _ in $(seq 100); do postfix status >/dev/null 2>&1 || break; sleep 0.1; done
	fi
	"$T/configure-instance.sh" - || return 1
	touch -d '-10 sec' "$MAIL_CONFIG"/*.cf   # Postfix waits for fresh files
	script -qec "postfix start" /dev/null >"$T/log/postfix-start.out" 2>&1 ||
		{ cat "$T/log/postfix-start.out" >&2; return 1; }
}
unit_enable() {
	local u=$R/lib/systemd/system/$1
	[ -f "$u" ] || { echo "Failed to enable unit: Unit file $1 does not exist." >&2; return 1; }
	grep -q '^WantedBy=timers.target$' "$u" || { echo "$1: no [Install] WantedBy=timers.target" >&2; return 1; }
	echo "Created symlink /etc/systemd/system/timers.target.wants/$1 → /lib/systemd/system/$1."
}
unit_start() {
	local u=$R/lib/systemd/system/$1 envfile cmd
	[ -f "$u" ] || { echo "Failed to start $1: Unit $1 not found." >&2; return 5; }
	envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$u")
	cmd=$(sed -n 's/^ExecStart=//p' "$u")
	(
		for kv in $(sed -n 's/^Environment=//p' "$u"); do export "$kv"; done
		if [ -n "$envfile" ] && [ -f "$envfile" ]; then
			while IFS= read -r line; do
				case $line in '' | '#'* | ';'*) continue ;; esac
				k=${line%%=*} v=${line#*=}
				v=${v#\"} v=${v%\"}
				export "$k=$v"
			done <"$envfile"
		fi
		exec $cmd
	) >>"$T/journal/$1" 2>&1 ||
		{ echo "Job for $1 failed (test shim)." >&2; return 1; }
}
systemctl() {
	case "$*" in
	"restart postfix") pf_restart ;;
	"enable --now sasl-oauth2-refresh.timer") unit_enable sasl-oauth2-refresh.timer ;;
	"start sasl-oauth2-refresh.service") unit_start sasl-oauth2-refresh.service ;;
	*) echo "systemctl (test shim): not emulated: $*" >&2; return 1 ;;
	esac
}
journalctl() {
	local unit='' n=10
	while [ $# -gt 0 ]; do
		case $1 in
		-u) unit=$2; shift 2 ;;
		-n) n=$2; shift 2 ;;
		*) echo "journalctl (test shim): not emulated: $1" >&2; return 1 ;;
		esac
	done
	case $unit in
	postfix@- | postfix@-.service) tail -n "$n" "$PF_LOG" ;;
	*) sed 's/^<[0-7]>//' "$T/journal/$unit" | tail -n "$n" ;;
	esac
}
EOF
# man_step (tests/lib/man-steps.bash) runs the steps in $T/work, with the shims
STEP_DIR=$T/work STEP_PRELUDE=$T/shims.sh
step_title() { head -1 "$T/steps/$1" | sed 's/ *\\$//' | cut -c1-60; }
# ok_step NAME RC: one TAP line for a step; its output when it failed
ok_step() {
	_tap "$2" "recipe step $1: $(step_title "$1")"
	[ "$2" = 0 ] || diag "$T/run/$1.out"
}
. "$T/shims.sh"
pf_restart >"$T/log/first-start.out" 2>&1
check "Postfix starts the way Debian starts it (configure-instance.sh, postfix start)" \
	postfix status

TOKEN=$Q/oauth2/$TEST_USER.json
SUBJECT="sasl-oauth2 test"
# delivered_count: messages with the recipe's Subject in the Maildir
delivered_count() {
	local n=0 f
	for f in "$TEST_MAILDIR"/new/*; do
		[ -f "$f" ] && grep -q "^Subject: $SUBJECT" "$f" && n=$((n + 1))
	done
	echo $n
}
delivered_at_least() { [ "$(delivered_count)" -ge "$1" ]; }
wait_delivered() { wait_for 40 delivered_at_least "$1"; }
# authorize_paste: the authorize step with a person at the browser
authorize_paste() {
	local url='' loc='' next i pid
	rm -f "$T/paste"
	mkfifo "$T/paste"
	man_step authorize "$T/paste" &
	pid=$!
	exec 7>"$T/paste"
	for ((i = 0; i < 100; i++)); do
		url=$(grep -m1 '^https://' "$T/run/authorize.out" 2>/dev/null) && [ -n "$url" ] && break
		sleep 0.1
	done
	next=$url
	for ((i = 0; i < 12; i++)); do
		[ -n "$next" ] || break
		loc=$(curl -s --cacert "$CA_FILE" -b "$T/jar" -c "$T/jar" -o /dev/null \
			-w '%{redirect_url}' "$next") || break
		case $loc in http://127.0.0.1:9/cb*) break ;; esac
		next=$loc
	done
	printf '%s\n' "$loc" >&7
	exec 7>&-
	wait $pid
}

# make_token_without_tool: what the authorize step writes, from the
# provider's reply (only when the sasl-oauth2 command is not built)
make_token_without_tool() {
	local json
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID_POST" "$CLIENT_SECRET" post 2>/dev/null)
	printf '%s' "$json" | jq --arg u "$TEST_USER" --arg ep "$TOKEN_ENDPOINT" \
		--arg cid "$CLIENT_ID_POST" --arg cs "$CLIENT_SECRET" --arg now "$(date +%s)" \
		'{refresh_token, access_token, expiry: (($now | tonumber) + .expires_in | tostring),
		  user: $u, token_endpoint: $ep, client_id: $cid, client_secret: $cs}' >"$TOKEN"
	chown postfix:postfix "$TOKEN"
	chmod 600 "$TOKEN"
}

# --- the recipe ----------------------------------------------------------------
for name in $STEPS; do
	if [[ "$NEED_TOOL" == *" $name "* ]] && ! have_tool; then
		skip "recipe step $name: $(step_title "$name")" "$TOOL is not built"
		[ "$name" = authorize ] && make_token_without_tool
		continue
	fi
	[ "$name" = timer ] && at_before=$(jq -r .access_token "$TOKEN" 2>/dev/null)
	case $name in
	secret)
		printf '%s\n' "$CLIENT_SECRET" >"$T/secret.in"
		man_step secret "$T/secret.in"
		ok_step secret $?
		;;
	authorize)
		authorize_paste
		ok_step authorize $?
		;;
	*)
		man_step "$name"
		ok_step "$name" $?
		;;
	esac
	case $name in
	tokdir)
		is "$(stat -c '%U %a' "$Q/oauth2" 2>/dev/null)" "postfix 700" \
			"the token directory is postfix's, mode 0700"
		;;
	authorize)
		is "$(stat -c '%U %a' "$TOKEN" 2>/dev/null)" "postfix 600" \
			"the token file is in the chroot, owner postfix, mode 0600"
		check "the token file names no CA bundle: libcurl's default is used, inside the chroot" \
			jq -e 'has("ca_bundle_file") | not' "$TOKEN"
		;;
	cabundle)
		check "the CA bundle is in the chroot, the same as the system's" \
			cmp "$BUNDLE" "$Q/etc/ssl/certs/ca-certificates.crt"
		is "$(stat -c %a "$Q/etc/ssl/certs/ca-certificates.crt" 2>/dev/null)" "644" \
			"the bundle in the chroot is mode 0644"
		unlike "$(cat "$T/run/cabundle.out")" "note:" \
			"the hook finds the bundle named in chroot_extra_files (no note)"
		;;
	restart)
		check "after the restart, the bundle is still in the chroot" \
			cmp "$BUNDLE" "$Q/etc/ssl/certs/ca-certificates.crt"
		check "Debian's start script copied resolv.conf into the chroot" \
			test -f "$Q/etc/resolv.conf"
		;;
	timer)
		check "the timer's service refreshed the token file" \
			test "$(jq -r .access_token "$TOKEN" 2>/dev/null)" != "$at_before"
		is "$(stat -c '%U %a' "$TOKEN" 2>/dev/null)" "postfix 600" \
			"refreshed as its owner: still postfix's, mode 0600"
		;;
	send)
		check "the mail is relayed and delivered to the Maildir" wait_delivered 1
		like "$(grep 'sasl_method=XOAUTH2' "$PF_IN_LOG")" "sasl_username=$TEST_USER" \
			"pf-in logged the XOAUTH2 login of $TEST_USER"
		like "$(grep 'status=sent' "$PF_LOG")" "relay=localhost\[127\.0\.0\.1\]:$PF_IN_PORT" \
			"the Postfix instance logged status=sent through the relay"
		like "$(cat "$PF_LOG")" "Verified TLS connection established to localhost\[127\.0\.0\.1\]" \
			"TLS to the relay was verified (smtp_tls_security_level = secure)"
		n=0
		for p in /proc/[0-9]*; do
			[ "$(cat "$p/comm" 2>/dev/null)" = smtp ] || continue
			[ "$(readlink "$p/root")" = "$Q" ] && n=$((n + 1))
		done
		check "the smtp client that relayed it runs chrooted in the queue directory" test "$n" -gt 0
		;;
	esac
done

# --- the CA bundle across restarts and CA updates --------------------------------
# Without chroot_extra_files, Debian's start script removes the copy...
postfix stop >/dev/null 2>&1
wait_for 10 bash -c '! postfix status'
mv "$R/etc/default/postfix" "$T/default-postfix.saved"
"$T/configure-instance.sh" - >/dev/null 2>&1
check "control: without chroot_extra_files, Debian's start script removes the bundle from the chroot" \
	test ! -e "$Q/etc/ssl/certs/ca-certificates.crt"
"$R/etc/ca-certificates/update.d/sasl-oauth2" </dev/null >/dev/null 2>"$T/log/hook-note"
like "$(cat "$T/log/hook-note")" "note: .*chroot_extra_files" \
	"the hook says so when chroot_extra_files does not name the bundle"
# ... and with it, the next start puts it back.
mv "$T/default-postfix.saved" "$R/etc/default/postfix"
rm -f "$Q/etc/ssl/certs/ca-certificates.crt"
systemctl restart postfix >"$T/log/restart2.out" 2>&1
check "with chroot_extra_files, a restart puts the bundle back into the chroot" \
	cmp "$BUNDLE" "$Q/etc/ssl/certs/ca-certificates.crt"
# update-ca-certificates changed the bundle: the hook copies the new one.
printf '# a new CA set\n' >>"$T/ca-bundle.crt"
printf '+new-ca.pem\n' | "$R/etc/ca-certificates/update.d/sasl-oauth2" >"$T/log/hook.out" 2>&1
rc=$?
check "the hook (run as update-ca-certificates runs it) exits 0" test "$rc" = 0
check "the hook copied the changed bundle into the running Postfix's chroot" \
	cmp "$BUNDLE" "$Q/etc/ssl/certs/ca-certificates.crt"
is "$(find "$Q/etc/ssl/certs" -name 'ca-certificates.crt.*' | wc -l)" "0" \
	"the hook left no temporary file"

# The plugin refreshes inside the chroot, with that bundle, after the restart.
if [ -f "$TOKEN" ]; then
	at0=$(jq -r .access_token "$TOKEN")
	jq '.expiry = "1"' "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"
	man_step send
	rc=$?
	_tap $rc "recipe step send, again after the restart, with the access token expired"
	[ $rc = 0 ] || diag "$T/run/send.out"
	check "a mail after the restart: the plugin refreshed the token inside the chroot, and it is delivered" \
		wait_delivered 2
	check "the token file holds a new access token" test "$(jq -r .access_token "$TOKEN")" != "$at0"
	is "$(stat -c '%U %a' "$TOKEN")" "postfix 600" "the refreshed token file is still postfix's, mode 0600"
	# Control: without the bundle in the chroot the same refresh fails,
	# the mail waits; the hook puts the bundle back and it goes.
	rm -f "$Q/etc/ssl/certs/ca-certificates.crt"
	jq '.expiry = "1"' "$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"
	man_step send
	wait_for 30 grep -q 'SASL authentication failure: sasl-oauth2: .*ca-certificates' "$PF_LOG"
	check "control: without the bundle in the chroot the refresh fails, naming the bundle, and the mail is deferred" \
		grep -q 'SASL authentication failure: sasl-oauth2: .*ca-certificates' "$PF_LOG"
	"$R/etc/ca-certificates/update.d/sasl-oauth2" </dev/null >/dev/null 2>&1
	postqueue -f >/dev/null 2>&1
	check "after the hook ran again, the deferred mail is delivered" wait_delivered 3
else
	_tap 1 "a mail after the restart: no token file to work with"
fi

# --- the refresh service: failures go to the journal ---------------------------------
if have_tool && [ -f "$TOKEN" ]; then
	like "$(cat "$T/journal/sasl-oauth2-refresh.service" 2>/dev/null)" "^<6>.*$TEST_USER\.json: refreshed" \
		"the refresh service logged the refresh at priority info"
	jq '.refresh_token = "a-refresh-token-the-provider-never-issued"' "$TOKEN" >"$Q/oauth2/dead.json"
	chown postfix:postfix "$Q/oauth2/dead.json"
	chmod 600 "$Q/oauth2/dead.json"
	jq '.expiry = "1"' "$Q/oauth2/dead.json" >"$T/edit.json" && cat "$T/edit.json" >"$Q/oauth2/dead.json"
	# What status warns of reaches the journal too: the account's file as
	# a Google app's in Testing, 6 days after consent (dies on day 7).
	auth0=$(jq -c '.authorized_at' "$TOKEN")
	jq --arg t "$(( $(date +%s) - 6 * 86400 - 7200 ))" '.provider = "google" | .authorized_at = $t' \
		"$TOKEN" >"$T/edit.json" && cat "$T/edit.json" >"$TOKEN"
	: >"$T/journal/sasl-oauth2-refresh.service"
	systemctl start sasl-oauth2-refresh.service >"$T/log/refresh-fail.out" 2>&1
	rc=$?
	check "a dead refresh token: the service fails" test "$rc" != 0
	j=$(cat "$T/journal/sasl-oauth2-refresh.service")
	like "$j" "^<3>.*dead\.json.*invalid_grant" "the journal gets an error (priority 3) naming the file and invalid_grant"
	like "$j" "^<6>.*$TEST_USER\.json: refreshed" "the other token file is refreshed all the same"
	like "$j" "^<4>sasl-oauth2: [^ ]*/$TEST_USER\.json: warning: .*External and in Testing.*dies 7 days after consent" \
		"the journal gets status's warning (priority 4) for the file 6 days after a Testing app's consent"
	is "$(grep -c ': warning: ' <<<"$j")" "1" "one warning line, none for the other file"
	jq --argjson t "$auth0" 'del(.provider) | .authorized_at = $t' "$TOKEN" >"$T/edit.json" &&
		cat "$T/edit.json" >"$TOKEN"
	rm -f "$Q/oauth2/dead.json"
elif ! have_tool; then
	skip "the refresh service logged the refresh at priority info" "$TOOL is not built"
	skip "a dead refresh token: the service fails" "$TOOL is not built"
	skip "the journal gets an error (priority 3) naming the file and invalid_grant" "$TOOL is not built"
	skip "the other token file is refreshed all the same" "$TOOL is not built"
	skip "the journal gets status's warning (priority 4) for the file 6 days after a Testing app's consent" "$TOOL is not built"
	skip "one warning line, none for the other file" "$TOOL is not built"
else
	_tap 1 "the refresh service: no token file to work with"
fi

# --- no secret in any log --------------------------------------------------------
hits=0
for s in $(jq -r '.refresh_token, .access_token' "$TOKEN" 2>/dev/null) "$CLIENT_SECRET"; do
	[ ${#s} -ge 8 ] || continue
	for f in "$PF_LOG" "$PF_IN_LOG" "$IDP_LOG" "$T"/journal/* "$T"/run/*.out; do
		[ -f "$f" ] && grep -qF -- "$s" "$f" && { hits=$((hits + 1)); echo "# secret found in $f"; }
	done
done
is "$hits" "0" "no token or client secret in the Postfix, provider or journal logs, or in the steps' output"

done_testing
