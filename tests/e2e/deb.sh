#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deb.sh - the Debian package, end to end: built from the tree with
# "dpkg-buildpackage -us -uc -b" (in a copy of the tree, as a fresh checkout
# has it), installed with "apt-get install ./...deb", the plugin used from
# where the package put it (libsasl2's own directory, no SASL_PATH) against
# the loopback stack -- Cyrus smtptest and imtest, sasl-oauth2 test, the
# chrooted Postfix smtp client -- the installed hook and refresh service
# run, then "apt-get purge", which must leave no file behind.  The machine
# ends as it began: a file the package replaced (an earlier "make install")
# is put back.  TAP.
#
# Env: PORT_OFFSET (default 50000), KEEP=1 keeps the run directory,
# DEB_BUILD_OPTIONS (e.g. nocheck) is passed on.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
export PORT_OFFSET=${PORT_OFFSET:-50000}
PKG=libsasl2-modules-oauth2

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (apt-get install, the stack)"
	exit 0
fi
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
	echo "1..0 # SKIP $PKG is installed on this machine; this test would have to remove it"
	exit 0
fi

T=$(mktemp -d /tmp/oa2-deb.XXXXXX)
chmod 755 "$T"
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
SASLDIR=/usr/lib/$MA/sasl2
installed=0
STACK=

diag() { sed 's/^/# /' "$@" 2>/dev/null | tail -25; }

# snapshot: the files a package install touches, with their checksums
snapshot() {
	local d
	for d in /etc/ca-certificates /etc/default /etc/systemd/system \
		/var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
		/usr/libexec /usr/share/doc/$PKG /usr/share/man/man1 /usr/share/man/man5 \
		/usr/share/man/man7 /usr/share/man/man8 "$SASLDIR" /usr/bin /lib/systemd/system \
		/usr/lib/systemd/system; do
		[ -e "$d" ] || continue
		find "$d" -printf '%p %m %U %l\n'
		find "$d" -type f -print0 | xargs -0 -r sha256sum
	done 2>/dev/null | sort
	for f in /var/lib/dpkg/info/"$PKG".* /var/lib/dpkg/info/"$PKG":*; do [ -e "$f" ] && echo "$f"; done
}
# put_back: files the package replaced, as they were
put_back() {
	[ -d "$T/backup" ] || return 0
	(cd "$T/backup" && find . -type f | while IFS= read -r f; do
		mkdir -p "$(dirname "/${f#./}")" && cp -a "$f" "/${f#./}"
	done)
}
cleanup() {
	[ -n "$STACK" ] && bash "$top/tests/stack/stack.sh" stop "$STACK" >/dev/null 2>&1
	if [ "$installed" = 1 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=120 "$PKG" >/dev/null 2>&1
		put_back
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# --- build -----------------------------------------------------------------
# The tree as a fresh checkout has it: tracked and new files, nothing
# generated or ignored.
mkdir -p "$T/src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" ls-files -co --exclude-standard -z | (cd "$top" && tar --null -T - -cf -) |
		tar -C "$T/src" -xf -
else
	tar -C "$top" --exclude='./_build*' --exclude=node_modules --exclude=autom4te.cache \
		--exclude=.git -cf - . | tar -C "$T/src" -xf -
fi
check "the tree has debian/ and contrib/" test -f "$T/src/debian/control" -a -f "$T/src/contrib/contrib.am"
(cd "$T/src" && dpkg-checkbuilddeps) >"$T/checkbuilddeps.out" 2>&1
rc=$?
_tap $rc "dpkg-checkbuilddeps: every build dependency is installed"
if [ $rc != 0 ]; then
	diag "$T/checkbuilddeps.out"
	done_testing
	exit 1
fi
t0=$(date +%s)
(cd "$T/src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
rc=$?
_tap $rc "dpkg-buildpackage -us -uc -b builds the package ($(($(date +%s) - t0)) s)"
DEB=$(ls "$T"/${PKG}_*_*.deb 2>/dev/null | head -1)
if [ $rc != 0 ] || [ -z "$DEB" ]; then
	diag "$T/build.log"
	done_testing
	exit 1
fi
dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's#^\./#/#' >"$T/contents"
for f in "$SASLDIR/libsasl-oauth2.so" /usr/bin/sasl-oauth2 \
	/usr/share/man/man1/sasl-oauth2.1.gz /usr/share/man/man5/sasl-oauth2-token.5.gz \
	/usr/share/man/man5/sasl-oauth2.conf.5.gz /usr/share/man/man7/sasl-oauth2-postfix.7.gz \
	/usr/share/man/man8/sasl-oauth2-plugin.8.gz /etc/ca-certificates/update.d/sasl-oauth2 \
	/etc/default/sasl-oauth2 /usr/libexec/sasl-oauth2/refresh-token-files \
	/lib/systemd/system/sasl-oauth2-refresh.service /lib/systemd/system/sasl-oauth2-refresh.timer; do
	check "the package holds $f" grep -qx -- "$f" "$T/contents"
done
is "$(grep -c '\.la$' "$T/contents")" "0" "the package holds no libtool archive"
for f in /usr/share/doc/$PKG/README.md.gz /usr/share/doc/$PKG/examples/sasl-oauth2.conf.example; do
	check "the package holds $f" grep -qx -- "$f" "$T/contents"
done
like "$(dpkg-deb -f "$DEB" Conflicts)" "libsasl2-modules-kdexoauth2" \
	"it conflicts with libsasl2-modules-kdexoauth2 (another XOAUTH2 plugin)"
if command -v lintian >/dev/null; then
	lintian --no-tag-display-limit "$DEB" >"$T/lintian.out" 2>&1
	is "$(grep -cE '^[EW]: ' "$T/lintian.out")" "0" "lintian: no error, no warning"
	grep -E '^[EW]: ' "$T/lintian.out" | head -10 | sed 's/^/# /'
	grep -E '^[IP]: ' "$T/lintian.out" | head -10 | sed 's/^/# lintian says: /'
else
	skip "lintian: no error, no warning" "no lintian (apt-get install lintian)"
fi

# --- install -----------------------------------------------------------------
# What would apt do?  Only this package: every dependency is already here.
apt-get install -s "$DEB" >"$T/simulate.out" 2>&1
is "$(grep -c '^Inst ' "$T/simulate.out")" "1" "apt-get would install this package and nothing else"
grep '^Inst ' "$T/simulate.out" | grep -v " $PKG " | sed 's/^/# would also install: /'
before=$(snapshot)
# Files at the package's paths that are not any package's (an earlier
# "make install"): kept, to be put back after the purge.
while IFS= read -r f; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	mkdir -p "$T/backup$(dirname "$f")" && cp -a "$f" "$T/backup$f"
	echo "# kept for later: $f (not from a package)"
done <"$T/contents"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=120 "$DEB" \
	>"$T/install.out" 2>&1
rc=$?
_tap $rc "apt-get install ./$(basename "$DEB")"
[ $rc = 0 ] || diag "$T/install.out"
is "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null)" "install ok installed" "dpkg says it is installed"
like "$(dpkg -S "$SASLDIR/libsasl-oauth2.so" 2>&1)" "^$PKG: " "the plugin in $SASLDIR is the package's"
like "$(saslpluginviewer -c 2>&1)" "XOAUTH2.*OAUTHBEARER|OAUTHBEARER.*XOAUTH2" \
	"libsasl2 lists XOAUTH2 and OAUTHBEARER from its own directory (no SASL_PATH)"
like "$(/usr/bin/sasl-oauth2 -V 2>&1)" "^sasl-oauth2 [0-9]" "/usr/bin/sasl-oauth2 -V"
check "man finds sasl-oauth2-postfix(7)" man -w 7 sasl-oauth2-postfix
if command -v mandoc >/dev/null; then
	out=$(for p in man1/sasl-oauth2.1 man5/sasl-oauth2-token.5 man5/sasl-oauth2.conf.5 \
		man7/sasl-oauth2-postfix.7 man8/sasl-oauth2-plugin.8; do
		mandoc -Tlint "/usr/share/man/$p.gz" 2>&1 || echo "$p: exit $?"
	done | grep -v 'outdated mandoc.db')
	is "$out" "" "mandoc -Tlint: the installed pages are clean, cross references found"
else
	skip "mandoc -Tlint: the installed pages are clean, cross references found" "no mandoc"
fi
check "the timer is enabled (timers.target.wants)" \
	test -L /etc/systemd/system/timers.target.wants/sasl-oauth2-refresh.timer
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/sasl-oauth2-refresh.service \
		/lib/systemd/system/sasl-oauth2-refresh.timer >"$T/verify.out" 2>&1
	rc=$?
	_tap $rc "systemd-analyze verify: the installed units (and their Documentation= pages)"
	[ $rc = 0 ] || diag "$T/verify.out"
else
	skip "systemd-analyze verify: the installed units" "no systemd-analyze"
fi

# --- the installed plugin against the stack ---------------------------------
STACK=$T/stack
if PLUGIN_DIR=$SASLDIR AT_TTL=3600 bash "$top/tests/stack/stack.sh" start "$STACK" \
	>"$T/stack-start.out" 2>&1; then
	_tap 0 "the loopback stack starts (pf-out's smtp with libsasl2's own plugin directory)"
	. "$STACK/stack.env"
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>/dev/null)
	TOK=$T/token.json
	printf '%s' "$json" | jq --arg u "$TEST_USER" --arg ep "$TOKEN_ENDPOINT" --arg ca "$CA_FILE" \
		--arg cid "$CLIENT_ID" --arg cs "$CLIENT_SECRET" \
		'{refresh_token, user: $u, token_endpoint: $ep, ca_bundle_file: $ca,
		  client_id: $cid, client_secret: $cs, client_auth: "basic"}' >"$TOK"
	chmod 600 "$TOK"
	check "a token file from the provider's consent pages" jq -e .refresh_token "$TOK"
	for mech in XOAUTH2 OAUTHBEARER; do
		out=$(env -u SASL_PATH SASL_OAUTH2_CONFIG="$T/none.conf" timeout 30 "$SMTPTEST" -m "$mech" \
			-a "$TEST_USER" -w "$TOK" -t "" -p "$PF_IN_PORT" 127.0.0.1 </dev/null 2>&1)
		like "$out" "Authenticated" "smtptest -m $mech, plugin from $SASLDIR, logs in to Postfix"
		out=$(env -u SASL_PATH SASL_OAUTH2_CONFIG="$T/none.conf" timeout 30 "$IMTEST" -m "$mech" \
			-a "$TEST_USER" -w "$TOK" -t "" -p "$IMAP_PORT" 127.0.0.1 </dev/null 2>&1)
		like "$out" "Authenticated" "imtest -m $mech, plugin from $SASLDIR, logs in to Dovecot"
	done
	out=$(env -u SASL_PATH SASL_OAUTH2_CONFIG="$T/none.conf" timeout 60 /usr/bin/sasl-oauth2 test \
		--smtp "127.0.0.1:$PF_IN_PORT" --ca-file "$CA_FILE" "$TOK" 2>&1)
	like "$out" "verdict: works" "/usr/bin/sasl-oauth2 test, through the installed plugin"
	[[ "$out" == *"verdict: works"* ]] || printf '%s\n' "$out" | sed 's/^/# /' | tail -8

	# Postfix's chrooted smtp client, the token file inside the chroot.
	PT=$PF_OUT_TOKEN_DIR/token.json
	jq --arg ca "$PF_OUT_CA_IN_CHROOT" '.ca_bundle_file = $ca' "$TOK" >"$PT"
	chown postfix:postfix "$PT"
	chmod 600 "$PT"
	python3 "$SEND_MAIL" --port "$PF_OUT_PORT" --from sender@example.test --to "$TEST_USER" \
		--subject "deb-installed-plugin" >/dev/null 2>&1
	check "Postfix's chrooted smtp client relays a mail with the installed plugin" \
		bash "$WAIT_DELIVERED" "$TEST_MAILDIR" "deb-installed-plugin" 30

	# The installed refresh service's command, as systemd runs it, on a
	# directory of token files that belong to postfix.
	mkdir -p "$T/tokens"
	chown postfix:postfix "$T/tokens"
	chmod 700 "$T/tokens"
	PT=$T/tokens/token.json
	jq . "$TOK" >"$PT"
	chown postfix:postfix "$PT"
	chmod 600 "$PT"
	at0=$(jq -r .access_token "$PT")
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SASL_OAUTH2=/usr/bin/sasl-oauth2 \
		TOKEN_DIRS="$T/tokens" TOKEN_FILES= SASL_OAUTH2_CONFIG="$T/none.conf" \
		/usr/libexec/sasl-oauth2/refresh-token-files >"$T/refresh.out" 2>&1
	rc=$?
	_tap $rc "the installed refresh-token-files refreshes the token files in TOKEN_DIRS"
	[ $rc = 0 ] || diag "$T/refresh.out"
	like "$(cat "$T/refresh.out")" "^<6>.*token\.json: refreshed" "it logs the refresh at priority info"
	check "the token file holds a new access token" test "$(jq -r .access_token "$PT")" != "$at0"
	is "$(stat -c '%U %a' "$PT")" "postfix 600" "refreshed as its owner: still postfix's, mode 0600"
else
	_tap 1 "the loopback stack starts"
	diag "$T/stack-start.out"
fi

# The installed hook, on a Postfix configuration of its own (not started).
mkdir -p "$T/pf/conf" "$T/pf/queue"
cat /usr/share/postfix/main.cf.debian /usr/share/postfix/main.cf.tls >"$T/pf/conf/main.cf"
cp /usr/share/postfix/master.cf.dist "$T/pf/conf/master.cf"
postconf -c "$T/pf/conf" -e "queue_directory = $T/pf/queue"
printf '+x.pem\n' | MAIL_CONFIG=$T/pf/conf /etc/ca-certificates/update.d/sasl-oauth2 >"$T/hook.out" 2>&1
rc=$?
_tap $rc "the installed CA hook runs as update-ca-certificates runs it"
check "it copies the CA bundle into the chroot of a chrooted instance" \
	cmp /etc/ssl/certs/ca-certificates.crt "$T/pf/queue/etc/ssl/certs/ca-certificates.crt"

[ -n "$STACK" ] && bash "$top/tests/stack/stack.sh" stop "$STACK" >/dev/null 2>&1
STACK=

# --- purge ---------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=120 "$PKG" \
	>"$T/purge.out" 2>&1
rc=$?
_tap $rc "apt-get purge $PKG"
[ $rc = 0 ] || diag "$T/purge.out"
installed=0
check "dpkg no longer knows it" bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q installed"
left=
while IFS= read -r f; do
	[ -d "$f" ] && continue
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$T/contents"
is "$left" "" "none of the package's files is left"
check "no timer symlink is left" test ! -e /etc/systemd/system/timers.target.wants/sasl-oauth2-refresh.timer
is "$(grep -rl sasl-oauth2 /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null)" "" \
	"no deb-systemd-helper state is left"
put_back
is "$(snapshot)" "$before" "the machine is as it was before the install (files the package replaced are back)"

done_testing
