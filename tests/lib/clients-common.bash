# SPDX-License-Identifier: MIT
# Shared by the mail-client end-to-end tests (tests/e2e/sendmail.sh,
# mbsync.sh, msmtp.sh, mutt.sh); sourced after tap.sh, with $top and $BUILD set.
#   clients_start NAME WHAT  skip (TAP, exit 0) without the command NAME
#                        (WHAT: the words for it) or without root; then
#                        clients_setup NAME, TAP line 1 with NAME --version,
#                        and $TOKEN, the token file of clients_token
#   clients_setup NAME   temp dir $T, the plugin in $T/plugin, a config
#                        $T/sasl-oauth2.conf, the loopback stack started and
#                        its stack.env sourced; prints TAP line 1
#   clients_token FILE   a token file with a real refresh token and an
#                        EXPIRED access token ($AT0); mode 0600
#   refresh_ok           refresh requests the token endpoint answered
#   remember SECRET      note a token for clients_no_secrets
#   clients_no_secrets NAME FILE...  one TAP line: no noted token in the
#                        files nor in the servers' logs

# clients_setup - temp dir, plugin, config, stack
clients_setup() {
	T=$(mktemp -d "/tmp/oa2-$1.XXXXXX")
	chmod 755 "$T"
	trap clients_cleanup EXIT
	mkdir "$T/plugin"
	cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
	# refresh_window below the stack's AT_TTL (60 s): a fresh token is reused.
	echo '{ "log_level": "notice", "connect_timeout": 5, "timeout": 15, "refresh_window": 20 }' \
		>"$T/sasl-oauth2.conf"
	if ! bash "$top/tests/stack/stack.sh" start "$T/stack" >"$T/stack-start.log" 2>&1; then
		_tap 1 "stack starts"; sed 's/^/# /' "$T/stack-start.log" | tail -20
		done_testing; exit 1
	fi
	. "$T/stack/stack.env"
	SEEN="$T/secrets"; : >"$SEEN"
}

# clients_start NAME WHAT - skip or start; the stack, line 1, $TOKEN
clients_start() {
	if ! command -v "$1" >/dev/null 2>&1; then echo "1..0 # SKIP $2 is not installed"; exit 0; fi
	if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (the stack)"; exit 0; fi
	clients_setup "$1"
	_tap 0 "stack starts; $("$1" --version 2>&1 | head -1)"
	TOKEN="$T/token.json"
	clients_token "$TOKEN"
}

# clients_cleanup - stop the stack, remove the temp dir unless KEEP
clients_cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

remember() { [ -n "$1" ] && [ "$1" != null ] && echo "$1" >>"$SEEN"; }
refresh_ok() { curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" | jq -r '.refresh_token.ok // 0'; }

# clients_token FILE - consent at the provider, write the token file
clients_token() {
	local json
	json=$(bash "$GET_REFRESH_TOKEN" "$TEST_USER" "$CLIENT_ID" "$CLIENT_SECRET" basic 2>/dev/null)
	RT0=$(printf '%s' "$json" | jq -r .refresh_token)
	AT0=$(printf '%s' "$json" | jq -r .access_token)
	remember "$RT0"; remember "$AT0"
	jq -n --arg rt "$RT0" --arg at "$AT0" --arg u "$TEST_USER" --arg ep "$TOKEN_ENDPOINT" \
		--arg ca "$CA_FILE" --arg cid "$CLIENT_ID" --arg cs "$CLIENT_SECRET" \
		'{access_token:$at, expiry:"1", refresh_token:$rt, user:$u, token_endpoint:$ep,
		  ca_bundle_file:$ca, client_id:$cid, client_secret:$cs, client_auth:"basic"}' >"$1"
	chmod 600 "$1"
	curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null
}

# clients_no_secrets NAME FILE... - no token the test saw in a log
clients_no_secrets() {
	local name=$1 hits=0 s f
	shift
	while read -r s; do
		for f in "$@" "$PF_IN_LOG" "$DOVECOT_LOG" "$IDP_LOG"; do
			[ -f "$f" ] && grep -qF -- "$s" "$f" && { hits=$((hits + 1)); echo "# secret in $f"; }
		done
	done <"$SEEN"
	is "$hits" "0" "$name ($(wc -l <"$SEEN") tokens checked)"
}
