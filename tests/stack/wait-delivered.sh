#!/bin/bash
# wait-delivered.sh MAILDIR SUBJECT [TIMEOUT]
#
# Waits until a message whose Subject header equals SUBJECT (exact) sits in
# MAILDIR/new (MAILDIR is a Maildir, e.g. $TEST_MAILDIR from stack.env; a
# user's home holding Maildir/ is accepted too).  TIMEOUT in seconds, default
# 10, fractions allowed.  Prints the file's path.  Exit 0 found, 1 timed out.
set -uo pipefail

[[ $# -ge 2 ]] || { echo "usage: wait-delivered.sh MAILDIR SUBJECT [TIMEOUT]" >&2; exit 2; }
maildir=$1
subject=$2
timeout=${3:-10}

# deadline in milliseconds
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
to_ms() { awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }'; }
deadline=$(($(now_ms) + $(to_ms "$timeout")))

while :; do
	for d in "$maildir/new" "$maildir/Maildir/new"; do
		[[ -d "$d" ]] || continue
		# Header lines end at the first empty line; match Subject there only.
		for f in "$d"/*; do
			[[ -f "$f" ]] || continue
			if awk -v s="Subject: $subject" '/^\r?$/ { exit 1 } { sub(/\r$/, "") } $0 == s { found = 1; exit 0 } END { exit !found }' "$f"; then
				echo "$f"
				exit 0
			fi
		done
	done
	(($(now_ms) < deadline)) || break
	sleep 0.1
done
echo "wait-delivered: no message with Subject: $subject in $maildir/new after ${timeout}s" >&2
exit 1
