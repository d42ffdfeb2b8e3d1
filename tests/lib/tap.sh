# SPDX-License-Identifier: MIT
# TAP helpers for the end-to-end scripts (sourced).
#   check NAME CMD...    ok if CMD exits 0
#   is GOT WANT NAME     ok if the strings are equal
#   like TEXT PATTERN NAME   ok if TEXT matches the extended regex
#   unlike TEXT PATTERN NAME ok if it does not
#   done_testing         print the plan; exit 1 if anything failed
#   (and helpers for the stack and a private mount namespace, below)
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

# start_plugin_stack DIR [CONFIG_JSON] - the plugin built in $BUILD copied to
# DIR/plugin, CONFIG_JSON (default {}) as DIR/sasl-oauth2.conf, the stack
# started in DIR/stack with them (environment such as PF_OUT_SYSLOG passes
# through) and its stack.env sourced; one TAP line; 1 if it did not start
start_plugin_stack() {
	local dir=$1 conf=${2:-'{}'} top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	mkdir -p "$dir/plugin"
	cp "${BUILD:-$top/_build-test/gcc}/plugin/.libs/libsasl-oauth2.so" "$dir/plugin/"
	printf '%s\n' "$conf" >"$dir/sasl-oauth2.conf"
	chmod 644 "$dir/sasl-oauth2.conf"
	if ! PLUGIN_DIR="$dir/plugin" OA2_CONF="$dir/sasl-oauth2.conf" \
		bash "$top/tests/stack/stack.sh" start "$dir/stack" >"$dir/stack-start.log" 2>&1; then
		_tap 1 "stack starts"; sed 's/^/# /' "$dir/stack-start.log" | tail -20
		return 1
	fi
	_tap 0 "stack starts (oidc-provider, Dovecot, Postfix pf-in and chrooted pf-out)"
	. "$dir/stack/stack.env"
}

# in_mount_namespace SCRIPT [ARG...] - run this test script again in a
# private mount namespace (unshare --mount), once: returns there; prints a
# failing plan and exits if the namespace cannot be made
in_mount_namespace() {
	[ "${OA2_MOUNT_NS:-}" = "$1" ] && return 0
	if unshare --mount --propagation private true 2>/dev/null; then
		OA2_MOUNT_NS=$1 exec unshare --mount --propagation private -- bash "$@"
	fi
	echo "not ok 1 - a private mount namespace: unshare --mount failed (needs CAP_SYS_ADMIN)"
	echo "1..1"
	exit 1
}

# bind_ca_bundle CA DIR - in this (private) mount namespace, the system CA
# bundle becomes itself plus the certificate CA (a copy in DIR bind-mounted
# over it); 1 if it did not take
bind_ca_bundle() {
	local bundle=/etc/ssl/certs/ca-certificates.crt
	cat "$bundle" "$1" >"$2/ca-bundle.crt" && chmod 644 "$2/ca-bundle.crt" &&
		mount --bind "$2/ca-bundle.crt" "$bundle" && grep -qF "$(sed -n 2p "$1")" "$bundle"
}
