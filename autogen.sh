#!/bin/sh
# Regenerate the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
for d in /usr/share/automake-*; do
	[ -f "$d/tap-driver.sh" ] && cp "$d/tap-driver.sh" build-aux/ && break
done
[ -f build-aux/tap-driver.sh ] || { echo "autogen.sh: tap-driver.sh not found: install automake" >&2; exit 1; }
