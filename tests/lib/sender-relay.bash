# SPDX-License-Identifier: MIT
# sender-relay.bash - the rounds and checks of sender-dependent relaying on
# the loopback stack, shared by tests/e2e/sender-relay.sh (one token file per
# sender, refresh tokens) and tests/e2e/sender-relay-app.sh (one service
# account, app-only token files).  Sourced after tap.sh and stack.env.
#
# The caller sets:
#   SENDERS   array of envelope senders (each its own token file)
#   RCPT      the recipient of every mail
#   top, BUILD  the source tree and build directory
#   AT        the access token lifetime, seconds
#   HALF      the plugin's refresh window: half the access token lifetime
#   SR_WHAT   what an account's token request is called in the TAP lines
#             ("refreshed", "minted a token")
#   PF_OUT_TOKEN_DIR/SENDER.json  each sender's token file
# A token request of an account is what the provider's stats-by-account
# counts for it (refresh_token and jwt-bearer requests).
SR_SENT=0
SR_BEFORE=()
SR_PER=()

# sr_start NAME - the run directory T (/tmp/oa2-NAME.*, removed at exit
# unless KEEP is set), the plugin of $BUILD, and the stack in T/stack with
# access tokens of AT seconds and no configuration file (the plugin runs
# with its defaults); stack.env sourced, MAIL_CONFIG = pf-out's.  One TAP
# line; exits (with the plan) if the stack does not start.
sr_start() {
	local i
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do SR_BEFORE+=(0); SR_PER+=(0); done
	T=$(mktemp -d "/tmp/oa2-$1.XXXXXX")
	chmod 755 "$T"
	mkdir -p "$T/plugin" "$T/steps" "$T/run"
	cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
	trap sr_cleanup EXIT
	if ! AT_TTL=$AT PLUGIN_DIR="$T/plugin" bash "$top/tests/stack/stack.sh" start "$T/stack" \
		>"$T/stack-start.log" 2>&1; then
		_tap 1 "the loopback stack starts"
		sed 's/^/# /' "$T/stack-start.log" | tail -20
		done_testing
		exit 1
	fi
	_tap 0 "the loopback stack starts (oidc-provider with AT_TTL=$AT, Dovecot submission, chrooted pf-out)"
	. "$T/stack/stack.env"
	export MAIL_CONFIG=$PF_OUT_DIR
}

sr_cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}

sr_delivered() { find "$MAILDIR_ROOT/$RCPT/Maildir/new" -type f 2>/dev/null | wc -l; }
sr_delivered_ge() { [ "$(sr_delivered)" -ge "$1" ]; }
sr_sum() { local t=0 x; for x in "$@"; do t=$((t + x)); done; echo $t; }

# sr_requests ACCOUNT ok|error - the provider's count of ACCOUNT's token requests
sr_requests() {
	curl -s --cacert "$CA_FILE" "$TEST_STATS_BY_ACCOUNT_URL" | jq -r --arg a "$1" ".[\$a].$2 // 0"
}

# sr_send NAME COUNT... - COUNT[i] mails from SENDERS[i], in one SMTP session
sr_send() {
	local name=$1 i j list=
	shift
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do
		for ((j = 0; j < $1; j++)); do list=$list,${SENDERS[$i]}; done
		shift
	done
	list=${list#,}
	python3 "$top/bench/inject.py" "$PF_OUT_PORT" "$(tr ',' '\n' <<<"$list" | wc -l)" "sender-relay $name" \
		"$list" "$RCPT" >/dev/null 2>>"$T/inject.err" || echo "inject failed: round $name" >>"$T/inject.err"
}

# sr_round NAME STATE COUNT... - one round: COUNT[i] mails from SENDERS[i];
# two TAP lines: every mail sent so far is delivered (STATE says what the
# token files were like), and each account made at least one token request
# since the last round and at most one more per half lifetime the round took
# (from SR_T0, the epoch second its tokens' story began, if set)
sr_round() {
	local name=$1 state=$2 t0 secs i r bad= all= counts
	shift 2
	counts=("$@")
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do SR_PER[i]=$((SR_PER[i] + counts[i])); done
	SR_SENT=$((SR_SENT + $(sr_sum "$@")))
	t0=${SR_T0:-$(date +%s)}
	sr_send "$name" "$@"
	wait_for 60 sr_delivered_ge "$SR_SENT"
	secs=$(($(date +%s) - t0))
	is "$(sr_delivered)" "$SR_SENT" "round $name, $state: all $SR_SENT mails delivered"
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do
		r=$(sr_requests "${SENDERS[$i]}" ok)
		all="$all $((r - SR_BEFORE[i]))"
		[ $((r - SR_BEFORE[i])) -ge 1 ] && [ $((r - SR_BEFORE[i])) -le $((1 + secs / HALF)) ] ||
			bad="$bad ${SENDERS[$i]}:$((r - SR_BEFORE[i]))"
		SR_BEFORE[i]=$r
	done
	is "$bad" "" "round $name ($secs s): each account $SR_WHAT once, at most once more per half lifetime (requests:$all)"
}

# sr_wait_expired - sleep until every sender's access token has expired
sr_wait_expired() {
	local s last wait
	last=$(for s in "${SENDERS[@]}"; do jq -r '.expiry // 0' "$PF_OUT_TOKEN_DIR/$s.json"; done | sort -n | tail -1)
	wait=$((last + 1 - $(date +%s)))
	[ "$wait" -gt 0 ] && sleep "$wait"
}

# sr_no_refusal - no token request of any sender was refused
sr_no_refusal() {
	local s errs=0
	for s in "${SENDERS[@]}"; do errs=$((errs + $(sr_requests "$s" error))); done
	is "$errs" 0 "$1"
}

# sr_who_sent - the logs: every mail relayed to Dovecot's submission service
# in a session logged in as its own sender, one XOAUTH2 login per mail
sr_who_sent() {
	local sent relayed want= got= i
	sent=$(grep -c "status=sent" "$PF_OUT_LOG")
	is "$(grep -c "relay=127.0.0.1\[127.0.0.1\]:$SUBMISSION_PORT, .*status=sent" "$PF_OUT_LOG")" "$SR_SENT" \
		"pf-out relayed all $SR_SENT mails to Dovecot's submission service (status=sent; $sent in all)"
	is "$(grep -c 'status=deferred\|status=bounced' "$PF_OUT_LOG")" 0 "pf-out deferred or bounced nothing"
	is "$(grep -c 'SASL authentication failure' "$PF_OUT_LOG")" 0 "pf-out logged no SASL authentication failure"
	relayed=$(grep 'submission(.*Successfully relayed message: from=<' "$DOVECOT_LOG" |
		sed -n 's/.*submission(\([^)]*\)).*Successfully relayed message: from=<\([^>]*\)>.*/\1 \2/p')
	is "$(printf '%s\n' "$relayed" | grep -c .)" "$SR_SENT" "Dovecot's submission service relayed $SR_SENT mails"
	is "$(printf '%s\n' "$relayed" | awk '$1 != $2' | wc -l)" 0 \
		"each was relayed in a session logged in as its own envelope sender (submission(USER) ... from=<USER>)"
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do
		want="$want ${SENDERS[$i]}:${SR_PER[i]}"
		got="$got ${SENDERS[$i]}:$(grep -c "Login: user=<${SENDERS[$i]}>, method=XOAUTH2" "$DOVECOT_LOG")"
	done
	is "$got" "$want" "Dovecot logged one XOAUTH2 login per mail for each sender (no connection reused across senders)"
}

# sr_not_in_logs NAME VALUE... - none of the VALUEs (16 characters or more)
# in the Postfix, Dovecot or provider logs
sr_not_in_logs() {
	local name=$1 v f hits=0
	shift
	for v in "$@"; do
		[ ${#v} -ge 16 ] || continue
		for f in "$PF_OUT_LOG" "$PF_IN_LOG" "$DOVECOT_LOG" "$IDP_LOG" "$LOG_DIR/idp.out"; do
			grep -qF -- "$v" "$f" && { hits=$((hits + 1)); echo "# a secret in $f"; }
		done
	done
	is "$hits" 0 "$name"
}

# sr_diag - on failure, what went wrong in the injection and at pf-out
sr_diag() {
	[ "$TAP_FAILED" = 0 ] && return
	sed 's/^/# /' "$T/inject.err" 2>/dev/null | tail -20
	grep -v 'lost connection\|disconnect\|connect from' "$PF_OUT_LOG" | tail -15 | sed 's/^/# /'
}
