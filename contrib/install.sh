#!/bin/sh
# SPDX-License-Identifier: MIT
#
# install.sh DESTDIR - install the files of contrib/ where a Debian system
# wants them, below DESTDIR (debian/rules uses it; so does
# tests/e2e/postfix-recipe.sh, to run the recipe on a private tree):
#
#   /etc/ca-certificates/update.d/sasl-oauth2      CA bundle into Postfix's chroot
#   /etc/default/sasl-oauth2                       token files the timer refreshes
#   /usr/libexec/sasl-oauth2/refresh-token-files   what the service runs
#   $UNITDIR/sasl-oauth2-refresh.service           (UNITDIR default /lib/systemd/system)
#   $UNITDIR/sasl-oauth2-refresh.timer
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DESTDIR" >&2; exit 2; }
dest=$1
src=$(cd "$(dirname "$0")" && pwd)
unitdir=${UNITDIR:-/lib/systemd/system}

install -d "$dest/etc/ca-certificates/update.d" "$dest/etc/default" \
	"$dest/usr/libexec/sasl-oauth2" "$dest$unitdir"
install -m 0755 "$src/ca-certificates-hook" "$dest/etc/ca-certificates/update.d/sasl-oauth2"
install -m 0644 "$src/sasl-oauth2.default" "$dest/etc/default/sasl-oauth2"
install -m 0755 "$src/refresh-token-files" "$dest/usr/libexec/sasl-oauth2/refresh-token-files"
install -m 0644 "$src/sasl-oauth2-refresh.service" "$src/sasl-oauth2-refresh.timer" "$dest$unitdir/"
