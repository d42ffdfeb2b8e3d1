#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-install.sh - "make install" and "make uninstall" from a build
# configured as a user of another system would (prefix /opt/oa2), into a
# DESTDIR: every file in its place, the refresh service naming the tool and
# the script where this install put them (not a fixed /usr/bin), the units in
# the directory configure was given, the defaults file kept when it is the
# administrator's; "make uninstall" leaves no file behind.  TAP.
#
# Env: BUILD is not used: this test configures its own build directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"

T=$(mktemp -d /tmp/oa2-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/dest
UNITS=/opt/oa2/lib/systemd/system

mkdir -p "$T/build"
if ! (cd "$T/build" && "$top/configure" --prefix=/opt/oa2 --sysconfdir=/opt/oa2/etc \
	--with-sasl-plugindir=/opt/oa2/lib/sasl2 --with-systemdsystemunitdir=$UNITS \
	>"$T/configure.log" 2>&1 && make -j"$(nproc)" >"$T/make.log" 2>&1); then
	_tap 1 "configure --prefix=/opt/oa2 && make"
	tail -20 "$T/configure.log" "$T/make.log" | sed 's/^/# /'
	done_testing
	exit 1
fi
_tap 0 "configure --prefix=/opt/oa2 && make"
make -C "$T/build" install DESTDIR="$D" >"$T/install.log" 2>&1
_tap $? "make install DESTDIR=..."
for f in /opt/oa2/bin/sasl-oauth2 /opt/oa2/lib/sasl2/libsasl-oauth2.so \
	$UNITS/sasl-oauth2-refresh.service $UNITS/sasl-oauth2-refresh.timer \
	/opt/oa2/libexec/sasl-oauth2/refresh-token-files \
	/opt/oa2/etc/ca-certificates/update.d/sasl-oauth2 /opt/oa2/etc/default/sasl-oauth2 \
	/opt/oa2/share/man/man1/sasl-oauth2.1 /opt/oa2/share/man/man7/sasl-oauth2-postfix.7; do
	check "installed: $f" test -f "$D$f"
done
check "the service script and the CA hook are executable" \
	test -x "$D/opt/oa2/libexec/sasl-oauth2/refresh-token-files" -a \
	-x "$D/opt/oa2/etc/ca-certificates/update.d/sasl-oauth2"
svc=$D$UNITS/sasl-oauth2-refresh.service
is "$(sed -n 's/^Environment=SASL_OAUTH2=//p' "$svc")" "/opt/oa2/bin/sasl-oauth2" \
	"the service names the installed tool (@bindir@)"
is "$(sed -n 's/^ExecStart=//p' "$svc")" "/opt/oa2/libexec/sasl-oauth2/refresh-token-files" \
	"the service runs the installed script (@pkglibexecdir@)"
is "$(sed -n 's/^EnvironmentFile=-//p' "$svc")" "/opt/oa2/etc/default/sasl-oauth2" \
	"the service reads the installed defaults file"
is "$(grep -c '@[a-z]*@\|/usr/bin' "$svc")" "0" "no template variable and no fixed /usr/bin left in the service"
if command -v systemd-analyze >/dev/null; then
	# verify wants the ExecStart path to exist on this system: check the
	# unit's syntax against a copy that points into DESTDIR.
	sed "s#/opt/oa2#$D/opt/oa2#g" "$svc" >"$T/sasl-oauth2-refresh.service"
	systemd-analyze verify --man=no "$T/sasl-oauth2-refresh.service" >"$T/verify.out" 2>&1
	_tap $? "systemd-analyze verify: the installed service"
	sed 's/^/# /' "$T/verify.out" | head -5
else
	skip "systemd-analyze verify: the installed service" "no systemd-analyze"
fi

# The administrator's defaults are theirs: a second install keeps them,
# uninstall keeps them.
echo 'TOKEN_DIRS="/srv/tokens"' >"$D/opt/oa2/etc/default/sasl-oauth2"
make -C "$T/build" install DESTDIR="$D" >"$T/install2.log" 2>&1
is "$(cat "$D/opt/oa2/etc/default/sasl-oauth2")" 'TOKEN_DIRS="/srv/tokens"' \
	"a second make install keeps a changed /etc/default/sasl-oauth2"
make -C "$T/build" uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1
_tap $? "make uninstall DESTDIR=..."
is "$(cd "$D" && find . -type f | sort | tr '\n' ' ')" "./opt/oa2/etc/default/sasl-oauth2 " \
	"make uninstall leaves only the administrator's changed defaults file"
rm -f "$D/opt/oa2/etc/default/sasl-oauth2"
make -C "$T/build" install DESTDIR="$D" >/dev/null 2>&1
make -C "$T/build" uninstall DESTDIR="$D" >/dev/null 2>&1
is "$(cd "$D" && find . -type f | wc -l)" "0" "install then uninstall: no file left"
done_testing
