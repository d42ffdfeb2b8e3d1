#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sender-relay.sh - sender-dependent relaying (issue 12, item 4), the small
# version of bench/run's S2, on the real loopback stack.  TAP.
#
# The "MANY SENDERS, ONE TOKEN FILE EACH" section of sasl-oauth2-postfix(7):
# its blocks marked `.\" sender-step: NAME` are run as written on the stack's
# sending Postfix (pf-out, smtp chrooted), with /etc/postfix -> pf-out's
# config directory, the example senders -> 5 test senders and the relay
# [smtp.gmail.com]:587 -> Dovecot's submission service.  Each sender has its
# own token file in the chroot, as an admin writes it before the first use
# (a refresh token, no access token yet; the grants minted at the provider's
# /__test/mint-grants: the consent pages per account are tested by
# postfix-recipe.sh and tool-authorize.sh), and the plugin runs with its
# default settings (no configuration file).  Access tokens live AT (20) s:
#   round A  11 mails: each account refreshes once, at its first mail (at
#            most once more per half lifetime the round lasted);
#   then wait until every access token it got has expired;
#   round B  9 mails: each account refreshes once again (the same bound),
#            no request is refused.
# Every mail must be delivered, none deferred; Dovecot's log must show each
# relayed as its own sender (submission(USER) ... from=<USER>), as many per
# sender as it sent (2..6: a mix-up of two accounts changes the counts).
# Env: BUILD, PORT_OFFSET (default 22000), KEEP=1 keeps the run directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
export PORT_OFFSET=${PORT_OFFSET:-22000}
MAN=$top/man/sasl-oauth2-postfix.7
AT=20
HALF=$((AT / 2))	# the plugin's refresh window: half the lifetime
SENDERS=(s0@example.test s1@example.test s2@example.test s3@example.test s4@example.test)
ROUND_A=(1 2 2 3 3)
ROUND_B=(1 1 2 2 3)
RCPT=rcpt@example.test

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (Postfix and Dovecot instances)"
	exit 0
fi
T=$(mktemp -d /tmp/oa2-sender.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/plugin" "$T/steps" "$T/run"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"

cleanup() {
	bash "$top/tests/stack/stack.sh" stop "$T/stack" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
diag() { sed 's/^/# /' "$@" 2>/dev/null | tail -20; }

# No OA2_CONF file: the plugin runs with its defaults.
if ! AT_TTL=$AT PLUGIN_DIR="$T/plugin" bash "$top/tests/stack/stack.sh" start "$T/stack" \
	>"$T/stack-start.log" 2>&1; then
	_tap 1 "the loopback stack starts"
	diag "$T/stack-start.log"
	done_testing
	exit 1
fi
_tap 0 "the loopback stack starts (oidc-provider with AT_TTL=$AT, Dovecot submission, chrooted pf-out)"
. "$T/stack/stack.env"
export MAIL_CONFIG=$PF_OUT_DIR

# --- the page's steps --------------------------------------------------------
perl "$top/tests/lib/man-blocks.pl" sender-step "$MAN" "$T/steps" 2>"$T/extract.err"
is "$(cat "$T/steps/.order" 2>/dev/null)" "maps main.cf" \
	"sasl-oauth2-postfix(7) has the sender-dependent steps this test runs, in order"
cat >"$T/map" <<EOF
alice@example.com bob@example.com	${SENDERS[*]}
[smtp.gmail.com]:587	[127.0.0.1]:$SUBMISSION_PORT
/etc/postfix	$PF_OUT_DIR
/etc/ssl/certs/ca-certificates.crt	$CA_FILE
EOF
subst() { perl -i "$top/tests/lib/subst.pl" "$T/map" "$@"; }
for step in maps main.cf; do
	[ -f "$T/steps/$step" ] || { _tap 1 "sender-step $step: not in the page"; continue; }
	cp "$T/steps/$step" "$T/run/$step.sh"
	subst "$T/run/$step.sh"
	bash -e -o pipefail "$T/run/$step.sh" >"$T/run/$step.out" 2>&1
	rc=$?
	_tap $rc "sender-step $step runs as written: $(head -1 "$T/steps/$step" | cut -c1-50)"
	[ $rc = 0 ] || diag "$T/run/$step.out"
done
# Postfix sleeps on a map younger than a second (see tests/stack/README.md).
touch -d '-10 sec' "$PF_OUT_DIR"/*.cf "$PF_OUT_DIR"/sender_relay* "$PF_OUT_DIR"/sasl_passwd*
is "$(postconf -h smtp_sender_dependent_authentication sender_dependent_relayhost_maps | tr '\n' ' ')" \
	"yes hash:$PF_OUT_DIR/sender_relay " "pf-out: sender-dependent authentication and relay hosts are on"
like "$(postconf -M smtp/unix)" '^smtp +unix +- +- +y ' "pf-out's smtp client runs chrooted"

# --- one token file per sender, in the chroot ------------------------------------
n=$(python3 "$MINT_TOKEN_FILES" --owner postfix --ca "$PF_OUT_CA_IN_CHROOT" --prefix s \
	"$PF_OUT_TOKEN_DIR" ${#SENDERS[@]} 2>"$T/mint.err")
is "$n" "${#SENDERS[@]}" "a token file for each of the ${#SENDERS[@]} senders, minted at the provider"
[ "$n" = "${#SENDERS[@]}" ] || diag "$T/mint.err"
modes=$(for s in "${SENDERS[@]}"; do stat -c '%U %a' "$PF_OUT_TOKEN_DIR/$s.json" 2>&1; done | sort -u)
is "$modes" "postfix 600" "each token file is postfix's, mode 0600, inside the chroot"
declare -A AT1 RT0
for s in "${SENDERS[@]}"; do RT0[$s]=$(jq -r .refresh_token "$PF_OUT_TOKEN_DIR/$s.json" 2>/dev/null); done
curl -s --cacert "$CA_FILE" -X POST "$TEST_RESET_STATS_URL" >/dev/null

# --- the rounds ------------------------------------------------------------------
MAILDIR=$MAILDIR_ROOT/$RCPT/Maildir
delivered() { find "$MAILDIR/new" -type f 2>/dev/null | wc -l; }
delivered_ge() { [ "$(delivered)" -ge "$1" ]; }
# send_round NAME COUNT... - COUNT[i] mails from SENDERS[i], in one SMTP session
send_round() {
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
by_account() { curl -s --cacert "$CA_FILE" "$TEST_STATS_BY_ACCOUNT_URL"; }
# refreshes ACCOUNT ok|error
refreshes() { by_account | jq -r --arg a "$1" ".[\$a].$2 // 0"; }
sum() { local t=0 x; for x in "$@"; do t=$((t + x)); done; echo $t; }
NA=$(sum "${ROUND_A[@]}") NB=$(sum "${ROUND_B[@]}")

# once_per_lifetime ROUND SECONDS BEFORE... - each account's refreshes since
# BEFORE (its count then): at least 1, at most 1 + SECONDS / HALF
once_per_lifetime() {
	local round=$1 secs=$2 i r bad= all=
	shift 2
	for ((i = 0; i < ${#SENDERS[@]}; i++)); do
		r=$(($(refreshes "${SENDERS[$i]}" ok) - $1))
		shift
		all="$all $r"
		[ "$r" -ge 1 ] && [ "$r" -le $((1 + secs / HALF)) ] || bad="$bad ${SENDERS[$i]}:$r"
	done
	is "$bad" "" "round $round ($secs s): each account refreshed once, at most once more per half lifetime (refreshes:$all)"
}

TA0=$(date +%s)
send_round A "${ROUND_A[@]}"
wait_for 60 delivered_ge "$NA"
TA=$(date +%s)
is "$(delivered)" "$NA" "round A, token files without an access token: all $NA mails delivered"
once_per_lifetime A $((TA - TA0)) 0 0 0 0 0
RA=()
for s in "${SENDERS[@]}"; do
	RA+=("$(refreshes "$s" ok)")
	AT1[$s]=$(jq -r .access_token "$PF_OUT_TOKEN_DIR/$s.json" 2>/dev/null)
done

# Wait until every access token of round A has expired.
last=$(for s in "${SENDERS[@]}"; do jq -r '.expiry // 0' "$PF_OUT_TOKEN_DIR/$s.json"; done | sort -n | tail -1)
wait=$((last + 1 - $(date +%s)))
[ "$wait" -gt 0 ] && sleep "$wait"
TB0=$(date +%s)
send_round B "${ROUND_B[@]}"
wait_for 60 delivered_ge $((NA + NB))
TB=$(date +%s)
is "$(delivered)" "$((NA + NB))" "round B, every access token expired: all $((NA + NB)) mails delivered"
once_per_lifetime B $((TB - TB0)) "${RA[@]}"
errs=0
for s in "${SENDERS[@]}"; do errs=$((errs + $(refreshes "$s" error))); done
is "$errs" 0 "no refresh request was refused (no refresh token lost or used twice)"
changed=0
for s in "${SENDERS[@]}"; do
	f=$PF_OUT_TOKEN_DIR/$s.json
	[ "$(jq -r .access_token "$f")" != "${AT1[$s]}" ] && [ "$(jq -r .refresh_token "$f")" != "${RT0[$s]}" ] &&
		[ "$(stat -c '%U %a' "$f")" = "postfix 600" ] && changed=$((changed + 1))
done
is "$changed" "${#SENDERS[@]}" "each token file holds a newer access token than after round A and a rotated refresh token, still postfix's, 0600"

# --- who sent what ------------------------------------------------------------------
sent=$(grep -c "status=sent .*" "$PF_OUT_LOG")
is "$(grep -c "relay=127.0.0.1\[127.0.0.1\]:$SUBMISSION_PORT, .*status=sent" "$PF_OUT_LOG")" "$((NA + NB))" \
	"pf-out relayed all $((NA + NB)) mails to Dovecot's submission service (status=sent; $sent in all)"
is "$(grep -c 'status=deferred\|status=bounced' "$PF_OUT_LOG")" 0 "pf-out deferred or bounced nothing"
is "$(grep -c 'SASL authentication failure' "$PF_OUT_LOG")" 0 "pf-out logged no SASL authentication failure"
relayed=$(grep 'submission(.*Successfully relayed message: from=<' "$DOVECOT_LOG" |
	sed -n 's/.*submission(\([^)]*\)).*Successfully relayed message: from=<\([^>]*\)>.*/\1 \2/p')
is "$(printf '%s\n' "$relayed" | grep -c .)" "$((NA + NB))" "Dovecot's submission service relayed $((NA + NB)) mails"
is "$(printf '%s\n' "$relayed" | awk '$1 != $2' | wc -l)" 0 \
	"each was relayed in a session logged in as its own envelope sender (submission(USER) ... from=<USER>)"
want= got=
for ((i = 0; i < ${#SENDERS[@]}; i++)); do
	want="$want ${SENDERS[$i]}:$((ROUND_A[i] + ROUND_B[i]))"
	got="$got ${SENDERS[$i]}:$(grep -c "Login: user=<${SENDERS[$i]}>, method=XOAUTH2" "$DOVECOT_LOG")"
done
is "$got" "$want" "Dovecot logged one XOAUTH2 login per mail for each sender (no connection reused across senders)"

# --- no secret in any log ---------------------------------------------------------------
hits=0
for s in "${SENDERS[@]}"; do
	for v in "${AT1[$s]}" "${RT0[$s]}" $(jq -r '.access_token, .refresh_token' "$PF_OUT_TOKEN_DIR/$s.json"); do
		[ ${#v} -ge 16 ] || continue
		for f in "$PF_OUT_LOG" "$PF_IN_LOG" "$DOVECOT_LOG" "$IDP_LOG" "$LOG_DIR/idp.out"; do
			grep -qF -- "$v" "$f" && { hits=$((hits + 1)); echo "# a token of $s in $f"; }
		done
	done
done
is "$hits" 0 "no access or refresh token in the Postfix, Dovecot or provider logs"
[ "$TAP_FAILED" = 0 ] || { diag "$T/inject.err"; grep -v 'lost connection\|disconnect\|connect from' "$PF_OUT_LOG" | tail -15 | sed 's/^/# /'; }
done_testing
