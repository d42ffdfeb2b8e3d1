# SPDX-License-Identifier: MIT
# tool-common.bash - sourced by tests/e2e/tool-*.sh (not a test itself).
#
# TAP helpers, the built tool, and a private stack:
#   ok COND-EXIT NAME       (use: check NAME CMD...)
#   start_stack             stack.sh start in a mktemp dir; stopped by the trap
#   setup_token_file FILE   a token file by the loopback flow (one TAP line)
#   user_side OUTFILE [HINT] the "user": follow the authorization URL printed
#                            in OUTFILE (its first https:// line) through the
#                            provider's redirects; print the final loopback URL
# BUILD is the build directory (default: the source tree's _build-test/gcc,
# as scripts/test sets it).  PORT_OFFSET=N (read by stack.sh) moves every stack port by N,
# so a developer's run does not collide with another stack on the defaults.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$top/_build-test/gcc}
TOOL=$BUILD/tools/sasl-oauth2
PLUGIN_BUILD_DIR=$BUILD/plugin/.libs
STACK_SH=$top/tests/stack/stack.sh
tap_n=0
tap_failed=0
WORK=$(mktemp -d /tmp/sasl-oauth2-e2e.XXXXXX)
chmod 0755 "$WORK"
STACK=

cleanup() {
	[[ -n "$STACK" ]] && bash "$STACK_SH" stop "$STACK" >/dev/null 2>&1
	[[ -n "${KEEP_E2E:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT

# ok STATUS NAME: one TAP line (STATUS 0 = pass)
ok() {
	tap_n=$((tap_n + 1))
	if [[ "$1" == 0 ]]; then
		echo "ok $tap_n - $2"
	else
		tap_failed=$((tap_failed + 1))
		echo "not ok $tap_n - $2"
	fi
}

# check NAME CMD...: pass when CMD succeeds
check() {
	local name=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$name"
}

# has FILE REGEX: FILE matches REGEX (extended)
has() { grep -Eq -- "$2" "$1"; }

# diag FILE: show FILE as TAP comments
diag() { sed 's/^/# /' "$1" 2>/dev/null; }

done_testing() {
	echo "1..$tap_n"
	[[ $tap_failed -eq 0 ]]
}

# skip_all REASON
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

require_tool() {
	[[ -x "$TOOL" ]] || skip_all "$TOOL not built (set BUILD)"
}

start_stack() {
	[[ $EUID -eq 0 ]] || skip_all "the stack needs root"
	export PLUGIN_DIR=$PLUGIN_BUILD_DIR
	STACK=$WORK/stack
	if ! bash "$STACK_SH" start "$STACK" >"$WORK/stack.out" 2>&1; then
		ok 1 "the test stack starts"
		diag "$WORK/stack.out"
		done_testing
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$STACK/stack.env"
}

user_side() {
	local out=$1 hint=${2:-} url= jar loc next i
	for ((i = 0; i < 100; i++)); do
		url=$(grep -m1 '^https://' "$out" 2>/dev/null) && [[ -n "$url" ]] && break
		sleep 0.1
	done
	[[ -n "$url" ]] || return 1
	[[ -n "$hint" ]] && url=$(printf '%s' "$url" | sed "s/login_hint=[^&]*/login_hint=$hint/")
	[[ -n "${USER_SIDE_EDIT:-}" ]] && url=$(printf '%s' "$url" | sed "$USER_SIDE_EDIT")
	jar=$(mktemp "$WORK/jar.XXXXXX")
	next=$url
	for ((i = 0; i < 12; i++)); do
		loc=$(curl -s --cacert "$CA_FILE" -b "$jar" -c "$jar" -o /dev/null \
			-w '%{redirect_url}' "$next") || break
		case "$loc" in
		http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*)
			printf '%s\n' "$loc"
			return 0
			;;
		"") break ;;
		esac
		next=$loc
	done
	return 1
}

# setup_token_file FILE: authorize FILE by the loopback flow, the test acting
# as the user; one TAP line
setup_token_file() {
	local pid loc
	"$TOOL" authorize --issuer "$IDP_URL" --ca-file "$CA_FILE" --no-browser \
		--client-id "$CLIENT_ID_PUBLIC" --redirect-uri http://127.0.0.1/cb \
		--user "$TEST_USER" --timeout 20 "$1" </dev/null >"$WORK/az.out" 2>"$WORK/az.err" &
	pid=$!
	loc=$(user_side "$WORK/az.out") && curl -s -o /dev/null "$loc"
	wait_pid $pid 30
	ok $? "setup: a token file by the loopback flow"
}

# wait_pid PID SECONDS: wait for a background job; 124 if it did not end
wait_pid() {
	local pid=$1 t=$2 i
	for ((i = 0; i < t * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 124
}

# no_secret_in FILE...: none of the files holds a token or secret of $WORK/*.json
no_secret_in() {
	local f s
	for s in $(cat "$WORK"/*.json 2>/dev/null | jq -r '.refresh_token?, .access_token?, .client_secret? // empty' 2>/dev/null) mailsecret; do
		[[ ${#s} -ge 8 ]] || continue
		for f in "$@"; do
			grep -qF -- "$s" "$f" 2>/dev/null && return 1
		done
	done
	return 0
}
