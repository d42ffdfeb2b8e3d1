#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sender-relay-app.sh - sender-dependent relaying with one credential for
# many senders (issue 12, item 4, the app-only variant), on the real loopback
# stack.  TAP.
#
# The subsection "One credential, many senders" of sasl-oauth2-postfix(7):
# its blocks marked `.\" app-step: NAME` (the service account's key into the
# chroot; one token file per sender by `sasl-oauth2 connect-app --chroot`;
# doctor --postfix then finds nothing wrong with them), then the
# per-sender recipe's `.\" sender-step: NAME` blocks (both maps, main.cf) it
# refers to, are run as written on the stack's sending Postfix (pf-out, smtp
# chrooted), with /etc/postfix and /var/spool/postfix -> pf-out's, the
# example senders -> 4 test senders, the downloaded key -> the stack's
# service account key (its token_uri is the stack's provider, whose
# jwt-bearer grant checks the assertion as Google does) and the relay
# [smtp.gmail.com]:587 -> Dovecot's submission service.  The plugin runs
# with its defaults (no configuration file), so it verifies the provider
# with the system CA bundle, which in this test's private mount namespace
# (unshare --mount) also holds the test CA; the bundle is copied into the
# chroot as step 4 of the page does.  Access tokens live AT (14) s:
#   connect-app mints one token per sender (as postfix) to prove each file;
#   round A  8 mails: at most one more request per sender per half lifetime
#            since connect-app;
#   then wait until every access token has expired;
#   round B  7 mails: each sender's token is minted again (the same bound),
#            no request refused.
# Every mail delivered, none deferred; Dovecot's log shows each relayed as
# its own sender; no refresh token anywhere (files, provider); the key only
# in its own file (never in a token file, a log or the token directory).
# The rounds and log checks are tests/lib/sender-relay.bash's.
# Env: BUILD, PORT_OFFSET (default 23000), KEEP=1 keeps the run directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build-test/gcc}
export PORT_OFFSET=${PORT_OFFSET:-23000}
MAN=$top/man/sasl-oauth2-postfix.7
AT=14
HALF=$((AT / 2))
SENDERS=(a0@example.test a1@example.test a2@example.test a3@example.test)
ROUND_A=(1 2 2 3)
ROUND_B=(1 1 2 3)
RCPT=rcpt@example.test
JWT=urn:ietf:params:oauth:grant-type:jwt-bearer

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (Postfix and Dovecot instances, a mount namespace)"
	exit 0
fi
# Into a private mount namespace (the CA bundle below), once.
in_mount_namespace "$0" "$@"
. "$here/../lib/sender-relay.bash"
sr_start apprelay
diag() { sed 's/^/# /' "$@" 2>/dev/null | tail -20; }
Q=$PF_OUT_QUEUE

# The system bundle, in this namespace, + the test CA; and its copy in the
# chroot (step 4 of the page).
BUNDLE=/etc/ssl/certs/ca-certificates.crt
bind_ca_bundle "$CA_FILE" "$T" && install -m 644 "$BUNDLE" "$Q$BUNDLE"
is "$(grep -cF "$(sed -n 2p "$CA_FILE")" "$BUNDLE" "$Q$BUNDLE" | cut -d: -f2 | tr '\n' ' ')" "1 1 " \
	"the system CA bundle (in this mount namespace) and its copy in the chroot hold the test CA"

# --- the page's steps --------------------------------------------------------
. "$top/tests/lib/man-steps.bash"
perl "$top/tests/lib/man-blocks.pl" app-step "$MAN" "$T/steps" 2>"$T/extract.err" &&
	mv "$T/steps/.order" "$T/steps/.app-order" &&
	perl "$top/tests/lib/man-blocks.pl" sender-step "$MAN" "$T/steps" 2>>"$T/extract.err"
is "$(cat "$T/steps/.app-order" 2>/dev/null) / $(cat "$T/steps/.order" 2>/dev/null)" \
	"key token-files / maps main.cf" \
	"sasl-oauth2-postfix(7) has the app-only steps and the per-sender maps this test runs, in order"
[ -s "$T/extract.err" ] && diag "$T/extract.err"
cat >"$T/map" <<EOF
alice@example.com bob@example.com	${SENDERS[*]}
[smtp.gmail.com]:587	[127.0.0.1]:$SUBMISSION_PORT
/etc/postfix	$PF_OUT_DIR
/var/spool/postfix	$Q
/root/service-account.json	$IDP_APP_KEYS/sa.json
EOF
export PATH=$BUILD/tools:$PATH
for step in key token-files maps main.cf; do
	[ -f "$T/steps/$step" ] || { _tap 1 "step $step: not in the page"; continue; }
	[ "$step" = token-files ] && TF0=$(date +%s)
	man_step "$step"
	rc=$?
	_tap $rc "step $step runs as written: $(grep -v '^ ' "$T/steps/$step" | head -1 | cut -c1-50)"
	[ $rc = 0 ] || diag "$T/run/$step.out"
done
touch -d '-10 sec' "$PF_OUT_DIR"/*.cf "$PF_OUT_DIR"/sender_relay* "$PF_OUT_DIR"/sasl_passwd*
is "$(grep -c 'done: .* works for a[0-3]@example.test (app-only grant jwt_bearer, checked as postfix)' \
	"$T/run/token-files.out")" "${#SENDERS[@]}" \
	"connect-app proved each sender's file as postfix (a token minted with the service account)"
is "$(grep -c "the password in smtp_sasl_password_maps: /oauth2/a[0-3]@example.test.json$" "$T/run/token-files.out")" \
	"${#SENDERS[@]}" "connect-app --chroot printed each sender's password for the map (its path inside the chroot)"
files=$(for s in "${SENDERS[@]}"; do
	jq -r '[.grant, .service_account_file, (.refresh_token // "no-refresh-token")] | join(" ")' \
		"$PF_OUT_TOKEN_DIR/$s.json" 2>&1
	stat -c '%U %a' "$PF_OUT_TOKEN_DIR/$s.json" 2>&1; done | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
is "$files" "4 jwt_bearer /oauth2-keys/sa.json no-refresh-token 4 postfix 600 " \
	"each sender's token file: grant jwt_bearer, names the key by its path inside the chroot, no refresh token, postfix's, 0600"
mints=$(curl -s --cacert "$CA_FILE" "$TEST_STATS_URL" | jq -r --arg g "$JWT" '.[$g].ok // 0')
is "$mints" "${#SENDERS[@]}" "the provider answered one jwt-bearer request per sender so far"

# Step 9 of the page: doctor sees the key where the chrooted client opens it.
sasl-oauth2 doctor --postfix --config-dir "$PF_OUT_DIR" >"$T/doctor.out" 2>&1
is "$(grep -c '✓ "service_account_file" '"$Q"'/oauth2-keys/sa.json is there, postfix can read it and no one else' \
	"$T/doctor.out"):$(grep '✗' "$T/doctor.out" | grep -c 'a[0-3]@example.test\|oauth2-keys\|service_account')" \
	"${#SENDERS[@]}:0" "doctor --postfix: each sender's key inside the chroot, postfix's alone; nothing wrong with them"
[ "$TAP_FAILED" = 0 ] || diag "$T/doctor.out"

# --- the rounds: the first from connect-app's tokens on ------------------------
SR_WHAT="minted a token"
declare -A AT1
SR_T0=$TF0 sr_round A "the tokens connect-app minted" "${ROUND_A[@]}"
for s in "${SENDERS[@]}"; do AT1[$s]=$(jq -r .access_token "$PF_OUT_TOKEN_DIR/$s.json" 2>/dev/null); done
sr_wait_expired
sr_round B "every access token expired" "${ROUND_B[@]}"
sr_no_refusal "no token request was refused"
changed=0
for s in "${SENDERS[@]}"; do
	f=$PF_OUT_TOKEN_DIR/$s.json
	[ "$(jq -r .access_token "$f")" != "${AT1[$s]}" ] && [ "$(jq -r '.refresh_token // "none"' "$f")" = none ] &&
		[ "$(stat -c '%U %a' "$f")" = "postfix 600" ] && changed=$((changed + 1))
done
is "$changed" "${#SENDERS[@]}" "each token file holds a newer access token than after round A, still no refresh token, postfix's, 0600"
stats=$(curl -s --cacert "$CA_FILE" "$TEST_STATS_URL")
is "$(jq -r '[.refresh_token.ok // 0, .authorization_code.ok // 0] | join(" ")' <<<"$stats") $(jq -r --arg g "$JWT" '.[$g].ok' <<<"$stats")" \
	"0 0 $(sr_sum "${SR_BEFORE[@]}")" \
	"no refresh token or consent at the provider; its jwt-bearer requests are the senders' (stats-by-account)"

# --- who sent what ------------------------------------------------------------------
sr_who_sent

# --- the key stays in its file ---------------------------------------------------------
# A line from the middle of the PEM key: in no token file, log or other file.
keyline=$(jq -r .private_key "$IDP_APP_KEYS/sa.json" | sed -n 5p)
is "${#keyline}" 64 "the service account key has a PEM body line to look for"
hits=$(grep -rlF -- "$keyline" "$Q" "$LOG_DIR" "$PF_OUT_DIR" "$T/run" 2>/dev/null | grep -vxF "$Q/oauth2-keys/sa.json")
is "$hits" "" "the key is in its own file only: not in a token file, a log, the maps or any output"
sr_not_in_logs "no access token in the Postfix, Dovecot or provider logs" "${AT1[@]}" \
	$(for s in "${SENDERS[@]}"; do jq -r .access_token "$PF_OUT_TOKEN_DIR/$s.json"; done)
sr_diag
done_testing
