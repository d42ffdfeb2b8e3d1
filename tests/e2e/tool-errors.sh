#!/bin/bash
# SPDX-License-Identifier: MIT
# tool-errors.sh - each command's errors give that command's fix and the exit
# status sasl-oauth2(1) lists: authorize with a wrong client id, an
# unreachable issuer, a missing or wrong --ca-file, /dev/null as the secret
# file; refresh and token on an unreachable endpoint, a CA that does not
# sign the provider, a missing CA bundle; authorize --chroot (a CA outside
# DIR, a CA under the queue directory without it, the token file outside
# DIR; the file records the inside path, the tool opens the outside one,
# and authorize --force alone reconnects it).  None of them sends the admin to
# the token file's members (authorize), to doctor --postfix, or says the
# mail is retried.  The EXIT STATUS table of the man page against the code.
# TAP.
. "$(dirname "$0")/../lib/tool-common.bash"
require_tool
MAN=$top/man/sasl-oauth2.1

# plugin_words FILE: the file holds a fix meant for the plugin
plugin_words() { grep -Eq 'doctor --postfix|mail is (deferred|retried)|is retried|deferred' "$1"; }
# exit_is WANT NAME: the last command's status ($rc) is WANT
exit_is() { ok $([[ $rc -eq $1 ]]; echo $?) "$2: exit $1 (got $rc)"; }
# not CMD...: CMD fails
not() { ! "$@"; }

# --- the man page's EXIT STATUS table against the code (no stack needed) ---
# every EX_ name the tool's sources use, as its number (not a forked
# helper's own _exit() status, which the parent reads and reports)
sysexits=/usr/include/sysexits.h
grep -h 'EX_[A-Z]' "$top"/tools/*.c | grep -v '_exit(' | grep -o 'EX_[A-Z]*' |
	sort -u | grep -v '^EX_OK$' >"$WORK/ex.names"
while read -r name; do
	awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$sysexits"
done <"$WORK/ex.names" | sort -n >"$WORK/ex.code"
sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MAN" | awk '$1 == ".It" && $2 ~ /^[0-9]+$/ { print $2, $4 }' >"$WORK/ex.man"
check "EXIT STATUS: the table was found in $MAN" test -s "$WORK/ex.man"
missing=
while read -r num; do
	grep -q "^$num " "$WORK/ex.man" || missing="$missing $num"
done <"$WORK/ex.code"
ok $([[ -z "$missing" ]]; echo $?) "EXIT STATUS: every status the code uses is in the table (missing:${missing:- none})"
unused=
while read -r num name; do
	grep -qx "$num" "$WORK/ex.code" || unused="$unused $num"
	# the number and the Dv name agree with sysexits.h
	[[ "$(awk -v n="$name" '$1 == "#define" && $2 == n { print $3 }' "$sysexits")" == "$num" ]] || unused="$unused $num($name)"
done <"$WORK/ex.man"
ok $([[ -z "$unused" ]]; echo $?) "EXIT STATUS: every row is used by the code and names its sysexits.h constant (wrong:${unused:- none})"
check "EXIT STATUS: says TLS failures are 76" \
	bash -c "sed -n '/^\.It 76/,/^\.It/p' '$MAN' | grep -q TLS"

start_stack
AZ=("$TOOL" authorize --no-browser --timeout 20)
PUB=(--client-id "$CLIENT_ID_PUBLIC" --redirect-uri http://127.0.0.1/cb --user "$TEST_USER")
printf 'mailsecret\n' >"$WORK/secret"
chmod 600 "$WORK/secret"
DEAD=https://127.0.0.1:1	# nothing listens on port 1
# az NAME ARGS...: authorize ARGS $WORK/NAME.json, output in NAME.out/.err, status in rc
az() {
	local name=$1
	shift
	"${AZ[@]}" "$@" "$WORK/$name.json" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
}

# --- authorize: a client id the provider does not know ---
az wrongid --issuer "$IDP_URL" --ca-file "$CA_FILE" --client-id no-such-client --flow device --user "$TEST_USER"
exit_is 77 "authorize, wrong client id"
check "authorize, wrong client id: named invalid_client" has "$WORK/wrongid.err" 'explain invalid_client'
check "authorize, wrong client id: the fix names --client-id" has "$WORK/wrongid.err" '^  fix: .*--client-id'
check "authorize, wrong client id: the fix is to run authorize again" has "$WORK/wrongid.err" '^  fix: .*run authorize again'
check "authorize, wrong client id: no word of the token file" not has "$WORK/wrongid.err" 'token file'
check "authorize, wrong client id: no plugin fix" not plugin_words "$WORK/wrongid.err"
check "authorize, wrong client id: nothing written" test ! -e "$WORK/wrongid.json"

# --- authorize: a wrong client secret for a confidential client ---
printf 'not-the-secret\n' >"$WORK/badsecret"
chmod 600 "$WORK/badsecret"
az badsecret --issuer "$IDP_URL" --ca-file "$CA_FILE" --client-id "$CLIENT_ID" --client-secret-file "$WORK/badsecret" --client-auth basic --flow device --user "$TEST_USER"
exit_is 77 "authorize, wrong client secret"
check "authorize, wrong client secret: the fix names --client-secret-file" has "$WORK/badsecret.err" '^  fix: .*--client-secret-file'
check "authorize, wrong client secret: no word of the token file" not has "$WORK/badsecret.err" 'token file'

# --- authorize: an issuer nobody answers at ---
az dead --issuer "$DEAD" --ca-file "$CA_FILE" "${PUB[@]}"
exit_is 75 "authorize, unreachable issuer"
check "authorize, unreachable issuer: named network" has "$WORK/dead.err" 'explain network'
check "authorize, unreachable issuer: the message names the issuer" has "$WORK/dead.err" '^sasl-oauth2: cannot reach the issuer 127\.0\.0\.1:1: '
check "authorize, unreachable issuer: the fix names --issuer" has "$WORK/dead.err" '^  fix: .*--issuer'
check "authorize, unreachable issuer: no plugin fix" not plugin_words "$WORK/dead.err"
check "authorize, unreachable issuer: no word of the token file" not has "$WORK/dead.err" 'token file|token_endpoint'
check "authorize, unreachable issuer: nothing written" test ! -e "$WORK/dead.json"

# --- authorize: --ca-file names no file ---
az noca --issuer "$IDP_URL" --ca-file "$WORK/no-such-ca.pem" "${PUB[@]}"
exit_is 66 "authorize, missing --ca-file"
check "authorize, missing --ca-file: one line naming --ca-file and the path" \
	bash -c "[[ \$(wc -l <'$WORK/noca.err') -eq 1 ]] && grep -q -- '--ca-file $WORK/no-such-ca.pem: No such file' '$WORK/noca.err'"
check "authorize, missing --ca-file: says what to give" has "$WORK/noca.err" 'readable PEM file'
check "authorize, missing --ca-file: no plugin fix" not plugin_words "$WORK/noca.err"
check "authorize, missing --ca-file: no token file member" not has "$WORK/noca.err" 'ca_bundle_file'
check "authorize, missing --ca-file: nothing asked, nothing written" \
	bash -c "[[ ! -s '$WORK/noca.out' && ! -e '$WORK/noca.json' ]]"

# --- authorize: a CA bundle that does not hold the provider's CA: TLS, 76 ---
OTHER_CA=$WORK/other-ca.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other-ca.key" -out "$OTHER_CA" \
	-subj /CN=not-the-test-ca -days 2 >/dev/null 2>&1
az tls --issuer "$IDP_URL" --ca-file "$OTHER_CA" "${PUB[@]}"
exit_is 76 "authorize, CA that does not sign the provider (TLS)"
check "authorize, TLS: named tls" has "$WORK/tls.err" 'explain tls'
check "authorize, TLS: the fix names --ca-file" has "$WORK/tls.err" '^  fix: .*--ca-file'
check "authorize, TLS: no token file member, message or fix" not has "$WORK/tls.err" 'ca_bundle_file|ca_certs_dir|token_endpoint|token file'

# --- authorize: /dev/null as the client secret file ---
az devnull --issuer "$IDP_URL" --ca-file "$CA_FILE" --client-id "$CLIENT_ID" --client-secret-file /dev/null "${PUB[@]:2}"
exit_is 66 "authorize, --client-secret-file /dev/null"
check "authorize, /dev/null secret: must be a regular file" has "$WORK/devnull.err" '/dev/null: the client secret file must be a regular file'
check "authorize, /dev/null secret: no chmod advice" not has "$WORK/devnull.err" 'chmod'
check "authorize, /dev/null secret: one line" test "$(wc -l <"$WORK/devnull.err")" -eq 1
check "authorize, /dev/null secret: nothing written" test ! -e "$WORK/devnull.json"

# --- authorize: a secret on the command line ---
az argv --issuer "$IDP_URL" --client-id "$CLIENT_ID" --client-secret mailsecret
exit_is 64 "authorize --client-secret SECRET"
check "authorize --client-secret: points to --client-secret-file" has "$WORK/argv.err" '^sasl-oauth2: --client-secret: .*--client-secret-file FILE'

# --- refresh and token on a token file whose provider is gone ---
F=$WORK/tok.json
setup_token_file "$F"
# copy FILE JQ: a variant of the token file, mode 0600
variant() {
	jq "$2" "$F" >"$1" && chmod 600 "$1"
}
variant "$WORK/gone.json" ".token_endpoint = \"$DEAD/token\" | .expiry = 1"
"$TOOL" refresh "$WORK/gone.json" >"$WORK/r-gone.out" 2>"$WORK/r-gone.err"
rc=$?
exit_is 75 "refresh, unreachable token endpoint"
check "refresh, unreachable: says run the command again" has "$WORK/r-gone.err" 'run the command again'
check "refresh, unreachable: no plugin fix" not plugin_words "$WORK/r-gone.err"
check "refresh, unreachable: the fix names token_endpoint's host" has "$WORK/r-gone.err" '^  fix: .*token_endpoint'
check "refresh, unreachable: the refresh token is kept" \
	test "$(jq -r .refresh_token "$WORK/gone.json")" = "$(jq -r .refresh_token "$F")"
"$TOOL" token "$WORK/gone.json" >"$WORK/t-gone.out" 2>"$WORK/t-gone.err"
rc=$?
exit_is 75 "token, unreachable token endpoint"
check "token, unreachable: no plugin fix" not plugin_words "$WORK/t-gone.err"
check "token, unreachable: nothing on stdout" test ! -s "$WORK/t-gone.out"

# --- refresh, token and status --refresh with a CA that does not sign the provider ---
variant "$WORK/othca.json" ".ca_bundle_file = \"$OTHER_CA\" | .expiry = 1"
for cmd in refresh token; do
	"$TOOL" $cmd "$WORK/othca.json" >"$WORK/$cmd-tls.out" 2>"$WORK/$cmd-tls.err"
	rc=$?
	exit_is 76 "$cmd, TLS failure"
	check "$cmd, TLS failure: named tls, no plugin fix" \
		bash -c "grep -q 'explain tls' '$WORK/$cmd-tls.err' && ! grep -Eq 'doctor --postfix|deferred|retried' '$WORK/$cmd-tls.err'"
done

# --- refresh with a CA bundle path that does not exist ---
variant "$WORK/noca2.json" ".ca_bundle_file = \"$WORK/gone-ca.pem\" | .expiry = 1"
"$TOOL" refresh "$WORK/noca2.json" >"$WORK/r-noca.out" 2>"$WORK/r-noca.err"
rc=$?
exit_is 78 "refresh, missing CA bundle"
check "refresh, missing CA bundle: the path is named" has "$WORK/r-noca.err" "gone-ca\\.pem"
check "refresh, missing CA bundle: the fix names ca_bundle_file, not doctor" \
	bash -c "grep -q '^  fix: .*ca_bundle_file' '$WORK/r-noca.err' && ! grep -q 'doctor --postfix' '$WORK/r-noca.err'"

# --- authorize checks the file as the mail system will see it ---
# pf-out's Postfix: postconf reads MAIL_CONFIG; its queue directory is the
# smtp client's chroot, its mail_owner postfix.
export MAIL_CONFIG=$PF_OUT_DIR
Q=$(postconf -h queue_directory)
check "postconf sees pf-out's queue directory" test "$Q" = "$PF_OUT_QUEUE"
PFD=$Q/tool-errors			# postfix's, 0700, as Debian's token directory
install -d -o postfix -g postfix -m 0700 "$PFD"
# a root-owned file in postfix's 0700 directory: refused before any consent
az_in() { local name=$1 dir=$2; shift 2; "${AZ[@]}" "$@" "$dir/$name.json" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"; rc=$?; }
# az_consent NAME ARGS...: authorize ARGS in the background, the test as the user
# consenting; its output in $WORK/NAME.out and .err, its status in rc
az_consent() {
	local name=$1 pid loc; shift
	"${AZ[@]}" "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
	pid=$!
	loc=$(user_side "$WORK/$name.out") && curl -s -o /dev/null "$loc"
	wait_pid $pid 30
	rc=$?
}
az_in rootfile "$PFD" --issuer "$IDP_URL" --ca-file "$CA_FILE" "${PUB[@]}"
exit_is 64 "authorize into postfix's 0700 directory without --owner"
check "no --owner under the queue directory: names --owner postfix" has "$WORK/rootfile.err" 'give --owner postfix$'
check "no --owner under the queue directory: names the queue directory" has "$WORK/rootfile.err" "under Postfix's queue directory $Q"
check "no --owner under the queue directory: nothing asked, nothing written" \
	bash -c "[[ ! -s '$WORK/rootfile.out' && ! -e '$PFD/rootfile.json' ]]"

# --owner postfix, but the CA bundle is not inside the chroot: 78, with the copy command
CA_REAL=$WORK/ca/provider-ca.pem
install -d -m 0755 "$WORK/ca" && cp "$CA_FILE" "$CA_REAL" && chmod 0644 "$CA_REAL"
az_in noca-chroot "$PFD" --issuer "$IDP_URL" --ca-file "$CA_REAL" "${PUB[@]}" --owner postfix
exit_is 78 "authorize --owner postfix with the CA missing inside the chroot"
check "CA missing in the chroot: names the path inside the chroot" \
	has "$WORK/noca-chroot.err" "the CA bundle $CA_REAL is not there inside Postfix's chroot: $Q$CA_REAL"
check "CA missing in the chroot: the fix copies it there" \
	has "$WORK/noca-chroot.err" "^  fix: mkdir -p $Q$WORK/ca && cp $CA_REAL $Q$CA_REAL "
check "CA missing in the chroot: said before any consent, nothing written" \
	bash -c "[[ ! -s '$WORK/noca-chroot.out' && ! -e '$PFD/noca-chroot.json' ]] && grep -q 'nothing was asked or written' '$WORK/noca-chroot.err'"
check "CA missing in the chroot: never 'works'" not has "$WORK/noca-chroot.err" 'works'

# --owner postfix in a directory of root's inside the queue: postfix cannot write there
install -d -o root -m 0755 "$Q/rootdir"
az_in rootdir "$Q/rootdir" --issuer "$IDP_URL" --ca-file "$CA_REAL" "${PUB[@]}" --owner postfix
exit_is 78 "authorize --owner postfix into a root-owned directory"
check "root-owned directory: postfix cannot create files there, chown is the fix" \
	bash -c "grep -q 'will not work for postfix: cannot create files in $Q/rootdir' '$WORK/rootdir.err' && grep -q '^  fix: chown postfix $Q/rootdir ' '$WORK/rootdir.err'"

# the fix, as printed, then the --owner path that works
fix=$(sed -n 's/^  fix: \(mkdir -p .* && cp [^ ]* [^ ]*\) .*/\1/p' "$WORK/noca-chroot.err")
bash -c "$fix"
ok $? "the printed fix runs: $fix"
az_consent ok "${PUB[@]}" --issuer "$IDP_URL" --ca-file "$CA_REAL" --owner postfix "$PFD/ok.json"
exit_is 0 "authorize --owner postfix with the CA in the chroot"
check "--owner ok: checked as postfix, the path as the chrooted smtp client opens it" \
	has "$WORK/ok.err" "^checked as postfix: Postfix's smtp client \(chrooted in $Q\) will open /tool-errors/ok.json and the CA bundle $CA_REAL"
check "--owner ok: done, works" has "$WORK/ok.err" '^done: .* works'
check "--owner ok: the file is postfix's, mode 0600" test "$(stat -c '%U %a' "$PFD/ok.json")" = "postfix 600"
check "--owner ok: postfix can refresh it" runuser -u postfix -- env -u MAIL_CONFIG "$TOOL" refresh "$PFD/ok.json"

# --- authorize --chroot: --ca-file given outside (under DIR), recorded inside ---
CAQ=$Q/etc/tool-errors-ca/ca.pem	# only inside the chroot: not at /etc/tool-errors-ca outside
install -d -m 0755 "$Q/etc/tool-errors-ca" && install -m 0644 "$CA_FILE" "$CAQ"
check "the chroot's CA bundle has no copy at its inside path outside" test ! -e /etc/tool-errors-ca/ca.pem
az_in ch-out "$PFD" --chroot "$Q" --issuer "$IDP_URL" --ca-file "$CA_REAL" "${PUB[@]}" --owner postfix
exit_is 64 "authorize --chroot with a CA bundle outside DIR"
check "--chroot, CA outside DIR: one line with the copy into DIR, nothing asked or written" \
	bash -c "grep -q -- '^sasl-oauth2: --ca-file $CA_REAL: outside --chroot $Q, .*move it under $Q: mkdir -p $Q$WORK/ca && cp $CA_REAL $Q$CA_REAL, and give --ca-file that path\$' '$WORK/ch-out.err' && [[ ! -s '$WORK/ch-out.out' && ! -e '$PFD/ch-out.json' ]]"
az_in ch-q "$PFD" --issuer "$IDP_URL" --ca-file "$CAQ" "${PUB[@]}" --owner postfix
exit_is 64 "authorize without --chroot, a CA bundle under the queue directory"
check "no --chroot, CA under the queue directory: names --chroot and the path it records" \
	has "$WORK/ch-q.err" "--ca-file $CAQ: under Postfix's queue directory $Q, .*add --chroot $Q \(the file then records /etc/tool-errors-ca/ca.pem\)"
az_in ch-file "$WORK" --chroot "$Q" --issuer "$IDP_URL" --ca-file "$CAQ" "${PUB[@]}" --owner postfix
exit_is 64 "authorize --chroot, the token file outside DIR"
check "--chroot, token file outside DIR: named" has "$WORK/ch-file.err" "$WORK/ch-file.json: not under --chroot $Q"
az_consent ch "${PUB[@]}" --chroot "$Q" --issuer "$IDP_URL" --ca-file "$CAQ" --owner postfix "$PFD/ch.json"
exit_is 0 "authorize --chroot: the verifying refresh opens the CA by its outside path"
diag "$WORK/ch.err"
check "--chroot: the file records the CA's path inside the chroot" \
	test "$(jq -r .ca_bundle_file "$PFD/ch.json")" = /etc/tool-errors-ca/ca.pem
check "--chroot: checked as postfix inside the chroot; the path for sasl_passwd printed" \
	bash -c "grep -q 'chrooted in $Q) will open /tool-errors/ch.json and the CA bundle /etc/tool-errors-ca/ca.pem' '$WORK/ch.err' && grep -q '^the password in smtp_sasl_password_maps: /tool-errors/ch.json\$' '$WORK/ch.err'"
# reconnect: authorize --force FILE alone maps the recorded path back
rt0=$(jq -r .refresh_token "$PFD/ch.json")
az_consent ch2 --force "$PFD/ch.json"
exit_is 0 "authorize --force FILE on a --chroot file (the CA opened at $Q + its recorded path)"
diag "$WORK/ch2.err"
rt1=$(jq -r .refresh_token "$PFD/ch.json")
check "reconnect: a new grant, the CA's inside path kept, still postfix's" \
	bash -c "[[ '$rt1' != '$rt0' && \$(jq -r .ca_bundle_file '$PFD/ch.json') == /etc/tool-errors-ca/ca.pem && \$(stat -c %U '$PFD/ch.json') == postfix ]] && grep -q '^done: .* works' '$WORK/ch2.err'"
rm -rf "$Q/etc/tool-errors-ca"

# a directory of another user outside Postfix, no --owner, no terminal: refused
install -d -o nobody -m 0755 "$WORK/nobodys"
az_in other "$WORK/nobodys" --issuer "$IDP_URL" --ca-file "$CA_FILE" "${PUB[@]}"
exit_is 64 "authorize into another user's directory without --owner"
check "another user's directory: names --owner nobody" has "$WORK/other.err" "belongs to nobody, not to you: give --owner USER.*--owner nobody"
unset MAIL_CONFIG
rm -rf "$PFD" "$Q/rootdir" "${Q:?}$WORK"

# --- on a terminal (tmux): another user's directory is asked about ---
SOCK=oa2-tool-errors-$$
tty_az() {	# tty_az NAME: authorize into $WORK/asked-NAME (nobody's) in a tmux pane
	install -d -o nobody -m 0755 "$WORK/asked-$1"
	tmux -L "$SOCK" new-session -d -s "$1" -x 200 -y 50 \
		"'$TOOL' authorize --no-browser --timeout 20 --issuer '$IDP_URL' --ca-file '$CA_REAL' \
		 --client-id '$CLIENT_ID_PUBLIC' --redirect-uri http://127.0.0.1/cb --user '$TEST_USER' \
		 '$WORK/asked-$1/t.json' >'$WORK/asked-$1.out' 2>'$WORK/asked-$1.err'; echo \$? >'$WORK/asked-$1.rc'; sleep 30"
}
pane() { tmux -L "$SOCK" capture-pane -p -t "$1" 2>/dev/null; }
wait_pane() {	# wait_pane SESSION REGEX
	local i
	for ((i = 0; i < 100; i++)); do pane "$1" | grep -Eq -- "$2" && return 0; sleep 0.1; done
	return 1
}
if command -v tmux >/dev/null; then
	tty_az yes
	check "terminal: asks whether the file goes to the directory's owner" \
		wait_pane yes "asked-yes belongs to nobody: give the token file to nobody \\(--owner nobody\\)\\? \\[y/N\\]"
	tmux -L "$SOCK" send-keys -t yes y Enter
	wait_pane yes 'Client secret' && tmux -L "$SOCK" send-keys -t yes Enter
	loc=$(user_side "$WORK/asked-yes.out") && curl -s -o /dev/null "$loc"
	for ((i = 0; i < 300; i++)); do [[ -s "$WORK/asked-yes.rc" ]] && break; sleep 0.1; done
	rc=$(cat "$WORK/asked-yes.rc" 2>/dev/null || echo none)
	exit_is 0 "terminal, answered y: authorize"
	check "terminal, answered y: checked as nobody, the file is nobody's" \
		bash -c "grep -q '^checked as nobody: the directory $WORK/asked-yes' '$WORK/asked-yes.err' && [[ \$(stat -c %U '$WORK/asked-yes/t.json') == nobody ]]"
	tty_az no
	wait_pane no '\[y/N\]' && tmux -L "$SOCK" send-keys -t no n Enter
	for ((i = 0; i < 100; i++)); do [[ -s "$WORK/asked-no.rc" ]] && break; sleep 0.1; done
	rc=$(cat "$WORK/asked-no.rc" 2>/dev/null || echo none)
	exit_is 64 "terminal, answered n: refused"
	check "terminal, answered n: nothing written" test ! -e "$WORK/asked-no/t.json"
	tmux -L "$SOCK" kill-server >/dev/null 2>&1
else
	ok 1 "tmux is installed (the terminal checks need it)"
fi

# --- the plugin's own words are still the plugin's (explain CODE) ---
"$TOOL" explain network >"$WORK/explain.out"
check "explain network: the page keeps the mail program's fix" has "$WORK/explain.out" '^fix: .*the mail is retried'

check "no token or secret in any output" no_secret_in "$WORK"/*.err "$WORK"/*.out
done_testing
