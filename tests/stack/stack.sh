#!/bin/bash
# stack.sh — the real end-to-end test stack for sasl-oauth2, on loopback only.
#
#   stack.sh start DIR          make PKI, start idp, Dovecot, Postfix pf-in and pf-out
#   stack.sh stop DIR           stop whatever of it runs (idempotent, quiet)
#   stack.sh status DIR         one line per component; exit 0 only if all run
#   stack.sh reload-pf-out DIR  postfix reload of pf-out (after sasl_passwd edits)
#
# DIR is the test run's own directory (created if missing, e.g. a mktemp -d).
# Everything the stack writes goes below DIR; DIR/stack.env (shell-sourceable)
# tells the tests where things are.  See README.md beside this file.
#
# Environment read by "start" (all optional):
#   PLUGIN_DIR    directory holding the built plugin .so; becomes SASL_PATH of
#                 pf-out's smtp client (default: an empty DIR/sasl-empty)
#   OA2_CONF      the plugin's config file; becomes SASL_OAUTH2_CONFIG of
#                 pf-out's smtp client (default: DIR/sasl-oauth2.conf)
#   PF_OUT_MECH   smtp_sasl_mechanism_filter of pf-out (default: xoauth2)
#   PF_OUT_VERBOSE=1  run pf-out's smtp with -v (SASL NOTE lines get logged)
#   PF_OUT_SYSLOG=1   pf-out logs through syslog(3) (/dev/log), not to its file
#   AT_TTL        access token lifetime in seconds (default: 60)
#   DOVECOT_DEBUG=1   Dovecot auth_debug (it logs bearer tokens: never in CI)
#   IDP_PORT (8443) IMAP_PORT (1143) IMAPS_PORT (1993) SUBMISSION_PORT (1587)
#   LMTP_PORT (2424) DOVECOT_AUTH_PORT (12345) PF_IN_PORT (2525)
#   PF_IN_PLAIN_PORT (2526) PF_OUT_PORT (2527)
#   PORT_OFFSET   added to every default port above (for parallel stacks)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=stack.sh

msg() { echo "$PROG: $*" >&2; }
T0=${EPOCHREALTIME/./}
# phase NAME: with STACK_DEBUG=1, print the time since the command began
phase() {
	[[ "${STACK_DEBUG:-0}" == 1 ]] || return 0
	local us=$((${EPOCHREALTIME/./} - T0))
	msg "$(printf '%6d ms' $((us / 1000))) $*"
}
die() { msg "$*"; exit 1; }

usage() {
	sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
DIR=$2
[[ "$DIR" == /* ]] || DIR=$(pwd)/$DIR
DIR=${DIR%/}

# PORT_OFFSET shifts every default port (parallel stacks on one machine).
PO=${PORT_OFFSET:-0}
IDP_PORT=${IDP_PORT:-$((8443 + PO))}
IMAP_PORT=${IMAP_PORT:-$((1143 + PO))}
IMAPS_PORT=${IMAPS_PORT:-$((1993 + PO))}
SUBMISSION_PORT=${SUBMISSION_PORT:-$((1587 + PO))}
LMTP_PORT=${LMTP_PORT:-$((2424 + PO))}
DOVECOT_AUTH_PORT=${DOVECOT_AUTH_PORT:-$((12345 + PO))}
PF_IN_PORT=${PF_IN_PORT:-$((2525 + PO))}
PF_IN_PLAIN_PORT=${PF_IN_PLAIN_PORT:-$((2526 + PO))}
PF_OUT_PORT=${PF_OUT_PORT:-$((2527 + PO))}
AT_TTL=${AT_TTL:-60}
[[ ${DOVECOT_DEBUG:-0} == 1 ]] && DOVECOT_DEBUG_YN=yes || DOVECOT_DEBUG_YN=no
PF_OUT_MECH=${PF_OUT_MECH:-xoauth2}

LOOP=127.0.0.1
IDP_URL=https://$LOOP:$IDP_PORT
PKI=$DIR/pki
CA_FILE=$PKI/ca.pem
LOGDIR=$DIR/log
IDP_LOG=$LOGDIR/idp.log
IDP_PIDFILE=$DIR/idp/idp.pid
DOVECOT_DIR=$DIR/dovecot
DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
DOVECOT_LOG=$LOGDIR/dovecot.log
MAILDIR_ROOT=$DOVECOT_DIR/mail
PF_IN_DIR=$DIR/pf-in
PF_OUT_DIR=$DIR/pf-out
PF_IN_QUEUE=$DIR/spool/pf-in
PF_OUT_QUEUE=$DIR/spool/pf-out
PF_IN_LOG=$LOGDIR/pf-in.log
PF_OUT_LOG=$LOGDIR/pf-out.log
PF_OUT_SASL_PASSWD=$PF_OUT_DIR/sasl_passwd
PF_OUT_TOKEN_DIR_IN_CHROOT=/oauth2
PF_OUT_TOKEN_DIR=$PF_OUT_QUEUE$PF_OUT_TOKEN_DIR_IN_CHROOT
PF_OUT_CA_IN_CHROOT=/etc/ssl/certs/ca.pem
TEST_USER=user@example.test

# ------------------------------------------------------------------ helpers

# port_open PORT: something listens on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/$LOOP/$1") 2>/dev/null; }

# wait_until SECONDS CMD...: poll CMD every 50 ms
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

idp_pid() {
	local pid port cmd env
	[[ -r "$IDP_PIDFILE" ]] || return 1
	pid=$(<"$IDP_PIDFILE")
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	# Read whole, then matched: "tr ... | grep -q" fails at random under
	# pipefail when grep exits before tr's last write (SIGPIPE): /proc
	# hands the environment out a page per read, and a stop that took this
	# for "not our IdP" left it running (short-tokens.sh's next stack then
	# found its port taken).
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[[ $cmd == *idp.mjs* ]] || return 1
	# This stack's IdP, not another stack's that took over a stale PID.
	# (its port as recorded at start: stop works without the starter's PORT_OFFSET)
	port=$(cat "$DIR/idp/idp.port" 2>/dev/null) || return 1
	env=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ") || return 1
	[[ $'\n'$env$'\n' == *$'\n'"IDP_PORT=$port"$'\n'* ]] || return 1
	echo "$pid"
}
# idp_wait SECONDS - 0 once the IdP answers; 1 (IDP_WHY says why) when its
# process is gone, or after SECONDS (node takes seconds to load
# oidc-provider on a busy 2-core machine)
idp_wait() {
	local end=$((SECONDS + $1)) pid st
	while :; do
		idp_up && return 0
		pid=$(cat "$IDP_PIDFILE" 2>/dev/null) || { IDP_WHY="no pid file"; return 1; }
		st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
		if [[ -z "$st" || "$st" == Z ]]; then
			IDP_WHY="its process $pid has exited"
			return 1
		fi
		if ((SECONDS >= end)); then
			if idp_pid >/dev/null; then
				local last lis="it never logged 'listening'"
				# What the probe got (curl's error or the HTTP status), and
				# whether node got as far as listening: the two ways to hang.
				last=$(curl -sS --max-time 5 --cacert "$CA_FILE" -o /dev/null -w 'HTTP %{http_code}' \
					"$IDP_URL/.well-known/openid-configuration" 2>&1 | tr '\n' ' ')
				grep -q ' listening ' "$IDP_LOG" 2>/dev/null && lis="it logged 'listening'"
				IDP_WHY="process $pid runs but gave no answer in $1 s ($lis; a last probe: $last)"
			else
				IDP_WHY="process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) is not recognised as this stack's IdP"
			fi
			return 1
		fi
		sleep 0.05
	done
}
idp_up() { idp_pid >/dev/null && curl -fs --max-time 2 --cacert "$CA_FILE" -o /dev/null "$IDP_URL/.well-known/openid-configuration" 2>/dev/null; }
dovecot_pid() {
	local pid
	pid=$(cat "$DOVECOT_DIR/run/master.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}
pf_up() { [[ -r "$1/main.cf" ]] && postfix -c "$1" status >/dev/null 2>&1; }

# backdate FILE...: set mtime 10 s into the past (see pf_start)
backdate() { touch -c -d "@$(($(date +%s) - 10))" "$@"; }

# q VALUE: single-quote for a shell-sourceable file
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# ------------------------------------------------------------------ PKI

make_pki() {
	mkdir -p "$PKI"
	chmod 0755 "$PKI"
	(
		cd "$PKI" || exit 1
		umask 077
		openssl ecparam -name prime256v1 -genkey -noout -out ca.key &&
			openssl req -x509 -new -key ca.key -sha256 -days 7 -subj "/CN=sasl-oauth2 test CA" \
				-addext "basicConstraints=critical,CA:TRUE" \
				-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem &&
			openssl ecparam -name prime256v1 -genkey -noout -out server.key &&
			openssl req -new -key server.key -subj "/CN=localhost" -out server.csr &&
			printf '%s\n' "basicConstraints=critical,CA:FALSE" \
				"keyUsage=critical,digitalSignature" \
				"extendedKeyUsage=serverAuth" \
				"subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
				-sha256 -days 7 -extfile server.ext -out server.pem 2>/dev/null &&
			chmod 0644 ca.pem server.pem &&
			rm -f server.csr server.ext &&
			make_app_keys
	) >"$LOGDIR/pki.out" 2>&1 || { cat "$LOGDIR/pki.out" >&2; return 1; }
}

# make_app_keys: the app-only credentials (IDP_APP_KEYS): app.key + app.crt,
# the certificate of client appjwt (private_key_jwt); sa.json, a service
# account key file as Google issues it (client_email, private_key,
# private_key_id, token_uri) for the jwt-bearer grant.  The idp reads the
# public halves.  Mode 0600, root's: a test copies them for the mail system.
make_app_keys() {
	mkdir -p app && chmod 0755 app &&
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out app/app.key &&
		openssl req -x509 -new -key app/app.key -sha256 -days 7 -subj "/CN=appjwt" -out app/app.crt &&
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out app/sa.key &&
		jq -n --rawfile k app/sa.key --arg uri "$IDP_URL/token" --arg kid "$(openssl rand -hex 20)" \
			'{type: "service_account", project_id: "sasl-oauth2-test", private_key_id: $kid,
			  private_key: $k, client_email: "relay@sasl-oauth2-test.iam.gserviceaccount.com",
			  client_id: "100000000000000000001", token_uri: $uri}' >app/sa.json &&
		rm -f app/sa.key && chmod 0600 app/app.key app/sa.json && chmod 0644 app/app.crt
}

# ------------------------------------------------------------------ idp

start_idp() {
	if [[ ! -d "$HERE/node_modules/oidc-provider" ]]; then
		msg "installing node modules (npm ci) in $HERE"
		(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >"$LOGDIR/npm-ci.out" 2>&1 ||
			{ cat "$LOGDIR/npm-ci.out" >&2; return 1; }
	fi
	mkdir -p "$DIR/idp"
	echo "$IDP_PORT" >"$DIR/idp/idp.port"
	# setsid: own session, so the test's process group signals don't reach it.
	IDP_PORT=$IDP_PORT IDP_HOST=$LOOP AT_TTL=$AT_TTL IDP_LOG=$IDP_LOG \
		IDP_CERT=$PKI/server.pem IDP_KEY=$PKI/server.key IDP_APP_KEYS=$PKI/app \
		setsid node "$HERE/idp.mjs" </dev/null >>"$LOGDIR/idp.out" 2>&1 &
	echo $! >"$IDP_PIDFILE"
}

# ------------------------------------------------------------------ Dovecot

write_dovecot() {
	mkdir -p "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" "$MAILDIR_ROOT"
	chown nobody:nogroup "$MAILDIR_ROOT"
	chmod 0755 "$DOVECOT_DIR" "$MAILDIR_ROOT"
	cat >"$DOVECOT_DIR/oauth2.conf.ext" <<-EOF
		# Dovecot oauth2 passdb: RFC 7662 introspection at the test idp.
		introspection_mode = post
		introspection_url = https://dovecot:dovecotsecret@$LOOP:$IDP_PORT/token/introspection
		tls_ca_cert_file = $CA_FILE
		username_attribute = email
		active_attribute = active
		active_value = true
		force_introspection = yes
		issuers = $IDP_URL
		openid_configuration_url = $IDP_URL/.well-known/openid-configuration
		timeout_msecs = 5000
		debug = $DOVECOT_DEBUG_YN
	EOF
	chmod 0644 "$DOVECOT_DIR/oauth2.conf.ext"
	cat >"$DOVECOT_CONF" <<-EOF
		# Generated by tests/stack/stack.sh for one test run; does not use /etc/dovecot.
		base_dir = $DOVECOT_DIR/run
		state_dir = $DOVECOT_DIR/state
		instance_name = sasl-oauth2-e2e
		log_path = $DOVECOT_LOG
		listen = 127.0.0.1, ::1
		protocols = imap submission lmtp
		hostname = mail.example.test
		postmaster_address = postmaster@example.test

		ssl = yes
		ssl_cert = <$PKI/server.pem
		ssl_key = <$PKI/server.key
		ssl_client_ca_file = $CA_FILE
		disable_plaintext_auth = no

		auth_mechanisms = xoauth2 oauthbearer
		auth_failure_delay = 0
		auth_verbose = yes
		# Dovecot's auth debug output logs bearer tokens: off unless DOVECOT_DEBUG=1.
		auth_debug = $DOVECOT_DEBUG_YN
		passdb {
		  driver = oauth2
		  mechanisms = xoauth2 oauthbearer
		  args = $DOVECOT_DIR/oauth2.conf.ext
		}
		userdb {
		  driver = static
		  args = uid=nobody gid=nogroup home=$MAILDIR_ROOT/%u allow_all_users=yes
		}
		mail_location = maildir:~/Maildir
		first_valid_uid = 1

		submission_relay_host = 127.0.0.1
		submission_relay_port = $PF_IN_PLAIN_PORT
		submission_relay_trusted = yes

		service imap-login {
		  inet_listener imap {
		    port = $IMAP_PORT
		  }
		  inet_listener imaps {
		    port = $IMAPS_PORT
		    ssl = yes
		  }
		}
		service submission-login {
		  inet_listener submission {
		    port = $SUBMISSION_PORT
		  }
		}
		service lmtp {
		  inet_listener lmtp {
		    address = 127.0.0.1
		    port = $LMTP_PORT
		  }
		}
		service auth {
		  inet_listener auth-inet {
		    address = 127.0.0.1
		    port = $DOVECOT_AUTH_PORT
		  }
		  unix_listener auth-postfix {
		    mode = 0666
		  }
		}
		# No auth penalty: failed logins from 127.0.0.1 must not slow later tests.
		service anvil {
		  unix_listener anvil-auth-penalty {
		    mode = 0
		  }
		}
	EOF
}

# ------------------------------------------------------------------ Postfix

# master_cf SMTP_CHROOT: the services both instances need; chroot only for smtp
# when asked (pf-out runs it chrooted, as Debian ships it).
master_common() {
	local smtp_chroot=$1 smtp_args=${2:-}
	cat <<-EOF
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		tlsmgr    unix  -       -       n       1000?   1       tlsmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		proxywrite unix -       -       n       -       1       proxymap
		smtp      unix  -       -       $smtp_chroot       -       -       smtp$smtp_args
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		lmtp      unix  -       -       n       -       -       lmtp
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

main_common() {
	local name=$1 queue=$2 log=$3
	cat <<-EOF
		# Generated by tests/stack/stack.sh for one test run; does not use /etc/postfix.
		compatibility_level = 3.6
		queue_directory = $queue
		data_directory = $queue-data
		maillog_file = $log
		maillog_file_prefixes = $DIR
		syslog_name = $name
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		mydomain = example.test
		mydestination =
		relay_domains =
		alias_maps =
		alias_database =
		local_recipient_maps =
		biff = no
		append_dot_mydomain = no
		readme_directory = no
		smtputf8_enable = no
		delay_warning_time = 0
		maximal_queue_lifetime = 1h
		bounce_queue_lifetime = 1h
	EOF
}

write_pf_in() {
	mkdir -p "$PF_IN_DIR" "$PF_IN_QUEUE" "$PF_IN_QUEUE-data"
	chown postfix "$PF_IN_QUEUE-data"
	{
		main_common postfix-in "$PF_IN_QUEUE" "$PF_IN_LOG"
		cat <<-EOF
			myhostname = mx.example.test
			smtpd_banner = \$myhostname ESMTP pf-in
			virtual_mailbox_domains = example.test
			virtual_mailbox_maps = static:ok
			virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
			smtpd_sasl_type = dovecot
			smtpd_sasl_path = inet:127.0.0.1:$DOVECOT_AUTH_PORT
			smtpd_tls_cert_file = $PKI/server.pem
			smtpd_tls_key_file = $PKI/server.key
			smtpd_tls_security_level = may
			smtpd_tls_loglevel = 1
			smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
		EOF
	} >"$PF_IN_DIR/main.cf"
	{
		cat <<-EOF
			# Generated by tests/stack/stack.sh.  Receiving instance (MSA).
			$LOOP:$PF_IN_PORT inet n - n - - smtpd
			  -o syslog_name=postfix-in/msa
			  -o smtpd_sasl_auth_enable=yes
			  -o smtpd_tls_security_level=encrypt
			  -o smtpd_tls_auth_only=yes
			  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
			  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
			$LOOP:$PF_IN_PLAIN_PORT inet n - n - - smtpd
			  -o syslog_name=postfix-in/plain
		EOF
		master_common n
	} >"$PF_IN_DIR/master.cf"
}

write_pf_out() {
	local plugin_dir=$1 oa2_conf=$2 verbose=
	[[ "${PF_OUT_VERBOSE:-0}" == 1 ]] && verbose=' -v'
	mkdir -p "$PF_OUT_DIR" "$PF_OUT_QUEUE" "$PF_OUT_QUEUE-data"
	chown postfix "$PF_OUT_QUEUE-data"
	{
		main_common postfix-out "$PF_OUT_QUEUE" "$PF_OUT_LOG"
		# Debian's default: the mail log through syslog(3), no postlogd file.
		[[ "${PF_OUT_SYSLOG:-0}" == 1 ]] && echo "maillog_file ="
		cat <<-EOF
			myhostname = client.example.test
			smtpd_banner = \$myhostname ESMTP pf-out
			smtpd_relay_restrictions = permit_mynetworks, reject
			relayhost = [127.0.0.1]:$PF_IN_PORT
			smtp_sasl_auth_enable = yes
			smtp_sasl_password_maps = texthash:$PF_OUT_SASL_PASSWD
			smtp_sasl_security_options = noanonymous
			smtp_sasl_tls_security_options = noanonymous
			smtp_sasl_mechanism_filter = $PF_OUT_MECH
			smtp_tls_security_level = secure
			smtp_tls_CAfile = $CA_FILE
			smtp_tls_secure_cert_match = nexthop
			smtp_tls_loglevel = 1
			# master(8) clears the environment: this is how the chrooted smtp
			# client learns where the plugin and its config are.
			import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C SASL_PATH=$plugin_dir SASL_OAUTH2_CONFIG=$oa2_conf
			queue_run_delay = 5s
			minimal_backoff_time = 5s
			maximal_backoff_time = 10s
		EOF
	} >"$PF_OUT_DIR/main.cf"
	{
		cat <<-EOF
			# Generated by tests/stack/stack.sh.  Sending instance: its smtp client
			# (chrooted in $PF_OUT_QUEUE) authenticates with Cyrus SASL.
			$LOOP:$PF_OUT_PORT inet n - n - - smtpd
			  -o syslog_name=postfix-out/inject
		EOF
		master_common y "$verbose"
	} >"$PF_OUT_DIR/master.cf"
	if [[ ! -e "$PF_OUT_SASL_PASSWD" ]]; then
		printf '[127.0.0.1]:%s %s:%s/token.json\n' "$PF_IN_PORT" "$TEST_USER" \
			"$PF_OUT_TOKEN_DIR_IN_CHROOT" >"$PF_OUT_SASL_PASSWD"
	fi
	chmod 0600 "$PF_OUT_SASL_PASSWD"
}

# The jail of pf-out's smtp client: what a plugin needs at authentication time.
setup_pf_out_chroot() {
	local f
	mkdir -p "$PF_OUT_QUEUE/etc/ssl/certs"
	for f in resolv.conf hosts nsswitch.conf services localtime host.conf; do
		[[ -e /etc/$f ]] && cp -L "/etc/$f" "$PF_OUT_QUEUE/etc/$f"
	done
	cp "$CA_FILE" "$PF_OUT_QUEUE$PF_OUT_CA_IN_CHROOT"
	chmod 0755 "$PF_OUT_QUEUE/etc" "$PF_OUT_QUEUE/etc/ssl" "$PF_OUT_QUEUE/etc/ssl/certs"
	chmod 0644 "$PF_OUT_QUEUE$PF_OUT_CA_IN_CHROOT"
	mkdir -p "$PF_OUT_TOKEN_DIR"
	chown postfix:postfix "$PF_OUT_TOKEN_DIR"
	chmod 0700 "$PF_OUT_TOKEN_DIR"
}

# pf_start CONFIG_DIR: start under script(1) so that a fatal error is
# printed (postfix says nothing without a tty or syslog).
pf_start() {
	local dir=$1 name out
	name=$(basename "$dir")
	out=$LOGDIR/$name.start.out
	# Postfix re-reads a config file (sleeping 300 ms each time) until its
	# mtime is more than a second old; a fresh file costs 2-3 s of start-up.
	backdate "$dir"/*.cf
	# "postfix start" runs its own integrity check and creates the queue.
	if ! script -qec "postfix -c $dir start" /dev/null >"$out" 2>&1; then
		msg "postfix -c $dir start failed:"
		cat "$out" >&2
		return 1
	fi
	phase "$name started"
}

# ------------------------------------------------------------------ stack.env

write_env() {
	local plugin_dir=$1 oa2_conf=$2 f=$DIR/stack.env
	{
		echo "# Generated by tests/stack/stack.sh start; source it (. DIR/stack.env)."
		for kv in \
			"STACK_DIR=$DIR" \
			"STACK_HOME=$HERE" \
			"STACK_SH=$HERE/stack.sh" \
			"IDP_URL=$IDP_URL" \
			"IDP_PORT=$IDP_PORT" \
			"DISCOVERY_URL=$IDP_URL/.well-known/openid-configuration" \
			"TOKEN_ENDPOINT=$IDP_URL/token" \
			"INTROSPECTION_ENDPOINT=$IDP_URL/token/introspection" \
			"REVOCATION_ENDPOINT=$IDP_URL/token/revocation" \
			"DEVICE_AUTHORIZATION_ENDPOINT=$IDP_URL/device/auth" \
			"AUTHORIZATION_ENDPOINT=$IDP_URL/auth" \
			"TEST_REVOKE_AT_URL=$IDP_URL/__test/revoke-access-token" \
			"TEST_STATS_URL=$IDP_URL/__test/stats" \
			"TEST_RESET_STATS_URL=$IDP_URL/__test/reset-stats" \
			"TEST_STATS_BY_ACCOUNT_URL=$IDP_URL/__test/stats-by-account" \
			"TEST_MINT_GRANTS_URL=$IDP_URL/__test/mint-grants" \
			"MINT_TOKEN_FILES=$HERE/mint-token-files.py" \
			"AT_TTL=$AT_TTL" \
			"CA_FILE=$CA_FILE" \
			"SERVER_CERT=$PKI/server.pem" \
			"TEST_USER=$TEST_USER" \
			"CLIENT_ID=mailclient" \
			"CLIENT_SECRET=mailsecret" \
			"CLIENT_ID_POST=mailclient-post" \
			"CLIENT_ID_PUBLIC=mailclient-public" \
			"IDP_APP_KEYS=$PKI/app" \
			"APP_CLIENT_ID=appclient" \
			"APP_CLIENT_SECRET=appsecret" \
			"APP_JWT_CLIENT_ID=appjwt" \
			"APP_MAILBOX=app@example.test" \
			"APP_SA_EMAIL=relay@sasl-oauth2-test.iam.gserviceaccount.com" \
			"IMAP_PORT=$IMAP_PORT" \
			"IMAPS_PORT=$IMAPS_PORT" \
			"SUBMISSION_PORT=$SUBMISSION_PORT" \
			"LMTP_PORT=$LMTP_PORT" \
			"DOVECOT_AUTH_PORT=$DOVECOT_AUTH_PORT" \
			"PF_IN_PORT=$PF_IN_PORT" \
			"PF_IN_PLAIN_PORT=$PF_IN_PLAIN_PORT" \
			"PF_OUT_PORT=$PF_OUT_PORT" \
			"DOVECOT_CONF=$DOVECOT_CONF" \
			"MAILDIR_ROOT=$MAILDIR_ROOT" \
			"TEST_MAILDIR=$MAILDIR_ROOT/$TEST_USER/Maildir" \
			"PF_IN_DIR=$PF_IN_DIR" \
			"PF_OUT_DIR=$PF_OUT_DIR" \
			"PF_IN_QUEUE=$PF_IN_QUEUE" \
			"PF_OUT_QUEUE=$PF_OUT_QUEUE" \
			"PF_OUT_TOKEN_DIR=$PF_OUT_TOKEN_DIR" \
			"PF_OUT_TOKEN_DIR_IN_CHROOT=$PF_OUT_TOKEN_DIR_IN_CHROOT" \
			"PF_OUT_CA_IN_CHROOT=$PF_OUT_CA_IN_CHROOT" \
			"PF_OUT_SASL_PASSWD=$PF_OUT_SASL_PASSWD" \
			"PF_OUT_MECH=$PF_OUT_MECH" \
			"PLUGIN_DIR=$plugin_dir" \
			"OA2_CONF=$oa2_conf" \
			"LOG_DIR=$LOGDIR" \
			"IDP_LOG=$IDP_LOG" \
			"DOVECOT_LOG=$DOVECOT_LOG" \
			"PF_IN_LOG=$PF_IN_LOG" \
			"PF_OUT_LOG=$PF_OUT_LOG" \
			"GET_REFRESH_TOKEN=$HERE/get-refresh-token.sh" \
			"GET_TOKEN_DEVICE=$HERE/get-token-device.sh" \
			"DEVICE_APPROVE=$HERE/device-approve.py" \
			"SEND_MAIL=$HERE/send-mail.py" \
			"WAIT_DELIVERED=$HERE/wait-delivered.sh" \
			"OAUTH_LOGIN=$HERE/oauth-login.py" \
			"IMTEST=/usr/lib/cyrus/bin/imtest" \
			"SMTPTEST=/usr/lib/cyrus/bin/smtptest"; do
			echo "export ${kv%%=*}=$(q "${kv#*=}")"
		done
	} >"$f.tmp" && mv "$f.tmp" "$f"
	chmod 0644 "$f"
}

# ------------------------------------------------------------------ commands

# Make DIR and every parent traversable by user postfix (chroot, logs) and by
# dovecot (its auth process reads oauth2.conf.ext).
make_traversable() {
	local d=$DIR
	chmod 0755 "$DIR"
	while [[ "$d" != / && -n "$d" ]]; do
		d=$(dirname "$d")
		if (((8#$(stat -c %a "$d") & 1) == 0)); then
			msg "note: chmod o+x $d (user postfix must traverse it)"
			chmod o+x "$d" || return 1
		fi
	done
}

do_start() {
	local t0 plugin_dir oa2_conf pid busy=() p
	t0=${EPOCHREALTIME/./}
	[[ $EUID -eq 0 ]] || die "must run as root (Postfix and Dovecot instances)"
	mkdir -p "$DIR" || die "cannot create $DIR"
	if idp_pid >/dev/null || dovecot_pid >/dev/null || pf_up "$PF_IN_DIR" || pf_up "$PF_OUT_DIR"; then
		die "a stack already runs in $DIR (stack.sh stop $DIR first)"
	fi
	for p in "$IDP_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$SUBMISSION_PORT" "$LMTP_PORT" \
		"$DOVECOT_AUTH_PORT" "$PF_IN_PORT" "$PF_IN_PLAIN_PORT" "$PF_OUT_PORT"; do
		port_open "$p" && busy+=("$p")
	done
	[[ ${#busy[@]} -eq 0 ]] || die "ports already in use on 127.0.0.1: ${busy[*]} (another stack running?)"

	make_traversable || die "cannot make $DIR traversable for user postfix"
	mkdir -p "$LOGDIR"
	chmod 0755 "$LOGDIR"
	rm -f "$DIR/stack.env"

	plugin_dir=${PLUGIN_DIR:-$DIR/sasl-empty}
	oa2_conf=${OA2_CONF:-$DIR/sasl-oauth2.conf}
	[[ -n "${PLUGIN_DIR:-}" ]] || mkdir -p "$plugin_dir"
	[[ -d "$plugin_dir" ]] || die "PLUGIN_DIR $plugin_dir is not a directory"

	phase begin
	make_pki || die "PKI creation failed"
	phase pki
	start_idp || { do_stop; die "idp did not start"; }

	phase idp-spawned
	write_dovecot
	if ! dovecot -c "$DOVECOT_CONF" >"$LOGDIR/dovecot.start.out" 2>&1; then
		cat "$LOGDIR/dovecot.start.out" >&2
		do_stop
		die "dovecot did not start (see $DOVECOT_LOG)"
	fi

	phase dovecot
	write_pf_in
	write_pf_out "$plugin_dir" "$oa2_conf"
	setup_pf_out_chroot
	pf_start "$PF_IN_DIR" & pid=$!
	pf_start "$PF_OUT_DIR" || { wait "$pid"; do_stop; die "pf-out did not start"; }
	wait "$pid" || { do_stop; die "pf-in did not start"; }

	phase postfix
	if ! idp_wait 60; then
		cat "$LOGDIR/idp.out" >&2 2>/dev/null
		do_stop
		die "idp does not answer at $IDP_URL: $IDP_WHY"
	fi
	for p in "$IMAP_PORT" "$IMAPS_PORT" "$SUBMISSION_PORT" "$LMTP_PORT" "$DOVECOT_AUTH_PORT" \
		"$PF_IN_PORT" "$PF_IN_PLAIN_PORT" "$PF_OUT_PORT"; do
		if ! wait_until 10 port_open "$p"; then
			do_stop
			die "nothing listens on 127.0.0.1:$p"
		fi
	done

	phase ports
	write_env "$plugin_dir" "$oa2_conf"
	local ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	msg "stack up in $DIR in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s; source $DIR/stack.env"
}

do_stop() {
	local pid pids=() i d
	# Signal everything first, then wait: Dovecot's master alone takes 1-2 s
	# to exit after SIGTERM.
	for d in "$PF_OUT_DIR" "$PF_IN_DIR"; do
		pf_up "$d" && { postfix -c "$d" stop >/dev/null 2>&1 & }
	done
	if pid=$(dovecot_pid); then
		doveadm -c "$DOVECOT_CONF" stop >/dev/null 2>&1 & pids+=("$pid")
	fi
	if pid=$(idp_pid); then
		kill "$pid" 2>/dev/null && pids+=("$pid")
	fi
	wait
	for ((i = 0; i < 200; i++)); do
		local alive=0
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		((alive)) || break
		sleep 0.05
	done
	for pid in "${pids[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	rm -f "$IDP_PIDFILE" "$DIR/idp/idp.port"
	return 0
}

do_status() {
	local rc=0
	if idp_up; then echo "idp      up   $IDP_URL (pid $(idp_pid))"; else echo "idp      down"; rc=3; fi
	if dovecot_pid >/dev/null; then echo "dovecot  up   imap $IMAP_PORT imaps $IMAPS_PORT submission $SUBMISSION_PORT lmtp $LMTP_PORT auth $DOVECOT_AUTH_PORT"; else echo "dovecot  down"; rc=3; fi
	if pf_up "$PF_IN_DIR"; then echo "pf-in    up   $PF_IN_PORT (STARTTLS+SASL) $PF_IN_PLAIN_PORT (plain)"; else echo "pf-in    down"; rc=3; fi
	if pf_up "$PF_OUT_DIR"; then echo "pf-out   up   $PF_OUT_PORT (injection), relay [127.0.0.1]:$PF_IN_PORT"; else echo "pf-out   down"; rc=3; fi
	return $rc
}

do_reload_pf_out() {
	pf_up "$PF_OUT_DIR" || die "pf-out is not running in $DIR"
	# A texthash file younger than a second makes every new smtp process
	# sleep until it is older (Postfix's "file is being edited" guard).
	[[ -e "$PF_OUT_SASL_PASSWD" ]] && backdate "$PF_OUT_SASL_PASSWD"
	postfix -c "$PF_OUT_DIR" reload >/dev/null 2>&1 || die "postfix reload failed"
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
reload-pf-out) do_reload_pf_out ;;
*) usage ;;
esac
