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
# The rounds and log checks are tests/lib/sender-relay.bash's (shared with
# sender-relay-app.sh, the app-only variant).
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
. "$here/../lib/sender-relay.bash"
sr_start sender
diag() { sed 's/^/# /' "$@" 2>/dev/null | tail -20; }

# --- the page's steps --------------------------------------------------------
. "$top/tests/lib/man-steps.bash"
man_steps sender-step "maps main.cf" \
	"sasl-oauth2-postfix(7) has the sender-dependent steps this test runs, in order"
cat >"$T/map" <<EOF
alice@example.com bob@example.com	${SENDERS[*]}
[smtp.gmail.com]:587	[127.0.0.1]:$SUBMISSION_PORT
/etc/postfix	$PF_OUT_DIR
/etc/ssl/certs/ca-certificates.crt	$CA_FILE
EOF
for step in maps main.cf; do
	[ -f "$T/steps/$step" ] || { _tap 1 "sender-step $step: not in the page"; continue; }
	man_step "$step"
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
SR_WHAT=refreshed
sr_round A "token files without an access token" "${ROUND_A[@]}"
for s in "${SENDERS[@]}"; do AT1[$s]=$(jq -r .access_token "$PF_OUT_TOKEN_DIR/$s.json" 2>/dev/null); done
sr_wait_expired
sr_round B "every access token expired" "${ROUND_B[@]}"
sr_no_refusal "no refresh request was refused (no refresh token lost or used twice)"
changed=0
for s in "${SENDERS[@]}"; do
	f=$PF_OUT_TOKEN_DIR/$s.json
	[ "$(jq -r .access_token "$f")" != "${AT1[$s]}" ] && [ "$(jq -r .refresh_token "$f")" != "${RT0[$s]}" ] &&
		[ "$(stat -c '%U %a' "$f")" = "postfix 600" ] && changed=$((changed + 1))
done
is "$changed" "${#SENDERS[@]}" "each token file holds a newer access token than after round A and a rotated refresh token, still postfix's, 0600"

# --- who sent what ------------------------------------------------------------------
sr_who_sent

# --- no secret in any log ---------------------------------------------------------------
sr_not_in_logs "no access or refresh token in the Postfix, Dovecot or provider logs" \
	"${AT1[@]}" "${RT0[@]}" $(for s in "${SENDERS[@]}"; do
		jq -r '.access_token, .refresh_token' "$PF_OUT_TOKEN_DIR/$s.json"; done)
sr_diag
done_testing
