#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The plugin, loaded by libsasl2 (tests/sasl-driver, as Postfix loads it),
# facing bad token files and bad configuration: each case gives its one-line
# error through sasl_errdetail and the log callback, and nothing crashes.
# No servers needed.  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
DRIVER="$BUILD/tests/sasl-driver"
T=$(mktemp -d /tmp/oa2-files.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir "$T/plugin"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
export SASL_OAUTH2_CONFIG="$T/none.conf"

# drive FILE [MECH] - run one exchange; output on stdout (log lines included)
drive() {
	"$DRIVER" -p "$T/plugin" -m "${2:-XOAUTH2}" -u user@example.test -w "$1" 2>&1
	echo "exit: $?"
}

# case NAME FILE PATTERN - the exchange fails with PATTERN in the detail line
bad_file() {
	local name=$1 file=$2 pat=$3 out detail
	out=$(drive "$file")
	detail=$(printf '%s\n' "$out" | grep '^detail:')
	like "$detail" "$pat" "$name: one-line error says what is wrong"
	like "$detail" "$file" "$name: the error names the file"
	like "$out" "^exit: 0" "$name: no crash"
	is "$(printf '%s\n' "$out" | grep -c "$file")" "2" "$name: logged once (plus the detail line)"
	like "$out" "^start: (invalid parameter supplied|authentication failure)" "$name: exchange refused before anything is sent"
	unlike "$out" "SECRET" "$name: no secret in any output"
}

plugins=$(saslpluginviewer -c -p "$T/plugin" 2>&1)
like "$plugins" "XOAUTH2" "saslpluginviewer -c lists XOAUTH2"
like "$plugins" "OAUTHBEARER" "saslpluginviewer -c lists OAUTHBEARER"
like "$plugins" "NO_ANONYMOUS\|NO_PLAINTEXT" "security flags NOANONYMOUS|NOPLAINTEXT (Postfix's default security options accept it)"

f="$T/badjson.json"; printf '{"refresh_token": "SECRET-RT", ' >"$f"; chmod 600 "$f"
bad_file "bad JSON" "$f" "not valid JSON"
f="$T/nort.json"; printf '{"access_token": "SECRET-AT", "expiry": "0"}' >"$f"; chmod 600 "$f"
bad_file "missing refresh_token" "$f" 'refresh_token.*(missing|authorize)'
f="$T/type.json"; printf '{"refresh_token": "SECRET-RT", "expiry": [1]}' >"$f"; chmod 600 "$f"
bad_file "wrong type (expiry)" "$f" '"expiry"'
f="$T/type2.json"; printf '{"refresh_token": 42}' >"$f"; chmod 600 "$f"
bad_file "wrong type (refresh_token)" "$f" '"refresh_token"'
f="$T/empty.json"; : >"$f"; chmod 600 "$f"
bad_file "empty file" "$f" "empty"
f="$T/dir.json"; mkdir "$f"
bad_file "directory" "$f" "directory"
printf '{"refresh_token": "SECRET-RT"}' >"$T/real.json"; chmod 600 "$T/real.json"
ln -s "$T/real.json" "$T/link.json"
bad_file "symbolic link" "$T/link.json" "symbolic link"
f="$T/world.json"; printf '{"refresh_token": "SECRET-RT"}' >"$f"; chmod 644 "$f"
bad_file "world-readable file" "$f" "chmod 600"
f="$T/missing.json"
bad_file "missing file" "$f" "(No such file|cannot open)"

# Unreadable: as root everything is readable, so run the client as nobody.
f="$T/unreadable.json"; printf '{"refresh_token": "SECRET-RT"}' >"$f"; chmod 600 "$f"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$DRIVER" -p "$T/plugin" \
	-m XOAUTH2 -u user@example.test -w "$f" 2>&1; echo "exit: $?")
like "$(printf '%s\n' "$out" | grep '^detail:')" "Permission denied" "unreadable file: error says permission denied"
like "$out" "^exit: 0" "unreadable file: no crash"

# Not a path at all: somebody put a token or a password there.
out=$(drive "ya29.SECRET-not-a-path")
like "$(printf '%s\n' "$out" | grep '^detail:')" "not an absolute token file path" "password that is not a path: says so"
unlike "$out" "SECRET" "password that is not a path: not echoed"

# Bad global configuration: reported at every attempt, named.
printf '{"clinet_id": "x"}' >"$T/typo.conf"
out=$(SASL_OAUTH2_CONFIG="$T/typo.conf" "$DRIVER" -p "$T/plugin" -m XOAUTH2 -u u -w "$T/real.json" 2>&1)
like "$(printf '%s\n' "$out" | grep '^detail:')" 'unknown setting "clinet_id"' "config typo: named in the error"
like "$out" "typo.conf" "config typo: the file is named"

# Both mechanisms go through the same checks.
out=$(drive "$T/badjson.json" OAUTHBEARER)
like "$(printf '%s\n' "$out" | grep '^detail:')" "not valid JSON" "OAUTHBEARER: same one-line error"

# Interaction mode (as imtest/smtptest): the plugin asks, then reads the answers.
out=$("$DRIVER" -i -p "$T/plugin" -m XOAUTH2 -u user@example.test -w "$T/badjson.json" 2>&1)
like "$(printf '%s\n' "$out" | grep '^detail:')" "not valid JSON" "interaction prompts answered: the token file path is used"

done_testing
