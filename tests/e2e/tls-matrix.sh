#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS matrix: one trust policy for plugin, tool and connection test (issue 9,
# section 1).  TAP.
#
# One set of `openssl s_server` listeners on 127.0.0.1, each showing one
# certificate situation, is reached by the three TLS clients of the project:
#   plugin   the SASL plugin loaded by libsasl2 (tests/sasl-driver), which
#            refreshes an expired access token at that address;
#   refresh  `sasl-oauth2 refresh FILE` (the same token file);
#   test     `sasl-oauth2 test --smtp HOST:PORT --tls implicit` (the server
#            as the mail server: the connection test's own socket code).
# For every case the three verdicts must be the same: "accepted" (the TLS
# handshake passed and the failure, if any, came later: s_server is no
# token endpoint and no SMTP server) or "refused: REASON", REASON being what
# the message says after "not accepted:" / "failed:".  Each refusal must
# name its cause (the pattern in the case table).
#
# Names: "localhost" (libcurl resolves it itself to ::1 and 127.0.0.1; the
# listeners are on 127.0.0.1 only) and the literal 127.0.0.1.
# Env: BUILD, KEEP=1, PORT_OFFSET (20000): ports 3900+PORT_OFFSET onwards.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
BUILD=${BUILD:-$top/_build}
DRIVER=$BUILD/tests/sasl-driver
TOOL=$BUILD/tools/sasl-oauth2
PORT=$((3900 + ${PORT_OFFSET:-20000}))
T=$(mktemp -d /tmp/oa2-tlsm.XXXXXX)
mkdir "$T/plugin" "$T/pki" "$T/tok"
cp "$BUILD/plugin/.libs/libsasl-oauth2.so" "$T/plugin/"
# The total timeout (2 s) is named in a message only once TLS is up: before
# that the connect timeout (1 s) is the limit (lib/oa2_http.c).
printf '{"connect_timeout": 1, "timeout": 2, "log_level": "notice"}\n' >"$T/oa2.conf"
export SASL_OAUTH2_CONFIG=$T/oa2.conf
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# ------------------------------------------------------------ certificates
P=$T/pki
ossl() { openssl "$@" >>"$P/openssl.log" 2>&1; }
# key NAME - a P-256 key
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/$1.key"; }
# ca NAME SUBJECT [ISSUER] - a CA certificate (self-signed, or by ISSUER)
ca() {
	key "$1"
	printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$P/$1.ext"
	if [ -z "${3:-}" ]; then
		ossl req -x509 -new -key "$P/$1.key" -subj "$2" -days 30 -out "$P/$1.pem" \
			-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
	else
		ossl req -new -key "$P/$1.key" -subj "$2" -out "$P/$1.csr" &&
		ossl x509 -req -in "$P/$1.csr" -CA "$P/$3.pem" -CAkey "$P/$3.key" \
			-CAcreateserial -days 30 -extfile "$P/$1.ext" -out "$P/$1.pem"
	fi
}
# leaf NAME ISSUER EXTENSIONS [expired] - a server certificate, CN=localhost
leaf() {
	key "$1"
	printf 'basicConstraints=CA:false\n%b' "$3" >"$P/$1.ext"
	ossl req -new -key "$P/$1.key" -subj /CN=localhost -out "$P/$1.csr"
	if [ "$2" = self ]; then
		ossl x509 -req -in "$P/$1.csr" -signkey "$P/$1.key" -days 30 \
			-extfile "$P/$1.ext" -out "$P/$1.pem"
	elif [ -n "${4:-}" ]; then
		# openssl x509 cannot date backwards; openssl ca can.
		: >"$P/index.txt"
		echo 1000 >"$P/ca-serial"
		printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/ca-serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' \
			"$P" "$P" "$P" >"$P/ca.cnf"
		ossl ca -batch -notext -config "$P/ca.cnf" -cert "$P/$2.pem" -keyfile "$P/$2.key" \
			-in "$P/$1.csr" -startdate 20200101000000Z -enddate 20200201000000Z \
			-extfile "$P/$1.ext" -out "$P/$1.pem"
	else
		ossl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" \
			-CAcreateserial -days 30 -extfile "$P/$1.ext" -out "$P/$1.pem"
	fi
}
ca root "/CN=sasl-oauth2 matrix root"
ca inter "/CN=sasl-oauth2 matrix intermediate" root
leaf name root 'subjectAltName=DNS:localhost\n'
leaf ip root 'subjectAltName=IP:127.0.0.1\n'
leaf wrong root 'subjectAltName=DNS:mail.example.net\n'
leaf self self 'subjectAltName=DNS:localhost\n'
leaf expired root 'subjectAltName=DNS:localhost\n' expired
leaf nosan root ''
leaf viaint inter 'subjectAltName=DNS:localhost\n'
check "test certificates made" test -s "$P/viaint.pem" -a -s "$P/expired.pem" -a -s "$P/nosan.pem"

# ------------------------------------------------------------ servers
# case NAME HOST CERT BUNDLE WANT [s_server options...]: the table, one row each
CASES=()
declare -A C_HOST C_PORT C_BUNDLE C_WANT
n=0
case_() {
	local name=$1 host=$2 cert=$3 bundle=$4 want=$5 port=$((PORT + n))
	shift 5
	n=$((n + 1))
	CASES+=("$name")
	C_HOST[$name]=$host C_PORT[$name]=$port C_BUNDLE[$name]=$P/$bundle.pem C_WANT[$name]=$want
	openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$P/$cert.pem" \
		-key "$P/$cert.key" "$@" </dev/null >"$T/s_server-$name.log" 2>&1 &
	PIDS+=($!)
}
case_ name-ok localhost name root accepted
case_ ip-ok 127.0.0.1 ip root accepted
case_ wrong-name localhost wrong root "refused: wrong host name: the certificate is not for localhost"
case_ self-signed localhost self root "refused: the certificate is self-signed"
case_ expired localhost expired root "refused: the certificate has expired"
case_ ip-dns-only 127.0.0.1 name root "refused: wrong host name: the certificate does not list the IP address 127.0.0.1"
case_ tls1.1-only localhost name root "refused: protocol version" -tls1_1 -cipher DEFAULT@SECLEVEL=0
case_ intermediate-only localhost viaint inter accepted -cert_chain "$P/inter.pem"
case_ no-san localhost nosan root "refused: wrong host name: the certificate has no subjectAltName"

listening() { ss -Hltn "sport = :$1" | grep -q .; }
for c in "${CASES[@]}"; do
	if ! wait_for 10 listening "${C_PORT[$c]}"; then
		_tap 1 "s_server for $c listens on 127.0.0.1:${C_PORT[$c]}"
		sed 's/^/# /' "$T/s_server-$c.log"
	fi
done

# ------------------------------------------------------------ clients
# token_file CASE WHO - an expired access token, so the plugin refreshes
token_file() {
	local f=$T/tok/$1-$2.json
	jq -n --arg ep "https://${C_HOST[$1]}:${C_PORT[$1]}/token" --arg ca "${C_BUNDLE[$1]}" \
		'{refresh_token:"matrix-refresh-token", access_token:"matrix-old-at", expiry:1,
		  user:"user@example.test", token_endpoint:$ep, ca_bundle_file:$ca,
		  client_id:"matrix-client", client_secret:"matrix-secret"}' >"$f"
	chmod 600 "$f"
	echo "$f"
}

# verdict TEXT - "accepted", "refused: REASON", or "unclear" with the text
verdict() {
	local r
	r=$(printf '%s\n' "$1" | sed -n -E 's/.*TLS (certificate of|handshake with) [^ ]+ (not accepted|failed): (.*) \((check|give) .*/\3/p' | head -1)
	if [ -n "$r" ]; then
		echo "refused: $r"
	elif printf '%s\n' "$1" | grep -Eq "$2"; then
		echo accepted
	else
		echo "unclear"
	fi
}

# After an accepted handshake: s_server -www never answers a POST, so the
# total timeout (2 s, counted only once TLS is up) runs out; the connection
# test prints its TLS step, then waits in vain for the SMTP greeting.
AFTER_TOKEN='did not answer within 2 s'
AFTER_TEST='certificate verified for'
declare -A V
ROWS=()
for c in "${CASES[@]}"; do
	f=$(token_file "$c" plugin)
	out=$("$DRIVER" -p "$T/plugin" -m XOAUTH2 -u user@example.test -w "$f" 2>&1)
	V[$c,plugin]=$(verdict "$out" "$AFTER_TOKEN")
	[ "${V[$c,plugin]}" = unclear ] && printf '%s\n' "$out" | sed "s/^/# $c plugin: /" | head -5
	f=$(token_file "$c" refresh)
	out=$("$TOOL" refresh "$f" 2>&1)
	V[$c,refresh]=$(verdict "$out" "$AFTER_TOKEN")
	[ "${V[$c,refresh]}" = unclear ] && printf '%s\n' "$out" | sed "s/^/# $c refresh: /" | head -5
	f=$(token_file "$c" test)
	out=$("$TOOL" test --smtp "${C_HOST[$c]}:${C_PORT[$c]}" --tls implicit \
		--ca-file "${C_BUNDLE[$c]}" --plugin-dir "$T/plugin" --timeout 1 "$f" 2>&1)
	V[$c,test]=$(verdict "$out" "$AFTER_TEST")
	[ "${V[$c,test]}" = unclear ] && printf '%s\n' "$out" | sed "s/^/# $c test: /" | head -8

	is "${V[$c,refresh]}" "${V[$c,plugin]}" "$c: refresh's verdict is the plugin's"
	is "${V[$c,test]}" "${V[$c,plugin]}" "$c: test's verdict is the plugin's"
	like "${V[$c,plugin]}" "^${C_WANT[$c]}" "$c: ${C_WANT[$c]}"
	ROWS+=("$(printf '%-18s %-9s | %s' "$c" "${C_HOST[$c]}" "${V[$c,plugin]}")")
done

echo "# TLS matrix (plugin = refresh = test):"
for r in "${ROWS[@]}"; do echo "#   $r"; done
done_testing
