#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs.sh - the manual pages as a reader meets them: each renders through
# man(1) (groff, as on Debian) without warnings and without a flag macro
# swallowing the words after it (".Pq Fl -x , default y" once rendered as
# "-default -y"); mandoc -Tlint finds nothing but unresolved references to
# pages that are not installed yet; SEE ALSO of each page names every sibling
# page.  TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"

pages=("$top"/man/*.[1578])
names=()
for p in "${pages[@]}"; do
	b=$(basename "$p")
	names+=("${b%.*}(${b##*.})")
done

for p in "${pages[@]}"; do
	b=$(basename "$p")
	# Run as lintian's groff-message check runs it: even "can't break line"
	# (a synopsis group wider than 80 columns) is a lintian warning on the .deb.
	out=$(MANWIDTH=80 MANROFFSEQ='' LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l -Tutf8 -Z "$p" 2>&1 >/dev/null)
	is "$out" "" "$b: man renders it without a warning"
	text=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$p" 2>/dev/null | col -b)
	bad=$(printf '%s\n' "$text" | grep -oE "(^|[ (])-(the|and|or|default|of|to|is|for|in|with|when|if|not|it|port)( |$|[.,)])" | head -3 | tr '\n' ' ')
	is "$bad" "" "$b: no word rendered as a flag (a .Fl that ran on)"
	if command -v mandoc >/dev/null; then
		lint=$(mandoc -Tlint "$p" 2>&1 | grep -v -e "referenced manual not found: Xr sasl-oauth2" \
			-e "outdated mandoc.db" -e "referenced manual not found: Xr \(postconf\|smtp\|sendmail\|mutt\|neomutt\|mbsync\|msmtp\|muttrc\|neomuttrc\) ")
		is "$lint" "" "$b: mandoc -Tlint is clean"
	else
		skip "$b: mandoc -Tlint is clean" "no mandoc"
	fi
	see=$(printf '%s\n' "$text" | awk '/^SEE ALSO/{p=1;next} /^[A-Z]/{p=0} p' | tr -d '\n' | tr -s ' ')
	missing=
	for n in "${names[@]}"; do
		[ "$n" = "${b%.*}(${b##*.})" ] && continue
		[[ "$see" == *"$n"* ]] || missing="$missing $n"
	done
	is "$missing" "" "$b: SEE ALSO names every sibling page"
done
done_testing
