# SPDX-License-Identifier: MIT
# TAP helpers for the end-to-end scripts (sourced).
#   check NAME CMD...    ok if CMD exits 0
#   is GOT WANT NAME     ok if the strings are equal
#   like TEXT PATTERN NAME   ok if TEXT matches the extended regex
#   unlike TEXT PATTERN NAME ok if it does not
#   done_testing         print the plan; exit 1 if anything failed
TAP_N=0
TAP_FAILED=0

_tap() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

check() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then _tap 0 "$name"; else _tap 1 "$name"; fi
}

is() {
	if [ "$1" = "$2" ]; then _tap 0 "$3"; else _tap 1 "$3"; echo "# got '$1', want '$2'"; fi
}

like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then _tap 0 "$3"
	else _tap 1 "$3"; printf '%s\n' "$1" | head -5 | sed 's/^/# got: /'; echo "# wanted match: $2"; fi
}

unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then _tap 1 "$3"; echo "# unwanted match: $2"
	else _tap 0 "$3"; fi
}

skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP ${2:-}"
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

# wait_for SECONDS CMD... - poll CMD every 0.2 s until it succeeds
wait_for() {
	local t=$1 i=0; shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -ge $((t * 5)) ] && return 1
		sleep 0.2
	done
}
