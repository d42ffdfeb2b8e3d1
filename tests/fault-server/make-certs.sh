#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-certs.sh CA_CERT CA_KEY OUTDIR - certificates for the fault server
#   OUTDIR/wrong.pem  wrong.key   signed by the trusted CA, but only for
#                                 DNS:wrong-name.example.test (no IP, no localhost)
#   OUTDIR/unknown-ca.pem         a CA nobody is told to trust
#   OUTDIR/unknown.pem unknown.key  signed by it, for IP:127.0.0.1, IP:::1, DNS:localhost
# EC P-256, valid one day; takes about 0.05 s.
set -euo pipefail
[ $# -eq 3 ] || { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$3"
ca=$(realpath "$1") cakey=$(realpath "$2") out=$(realpath "$3")
cd "$out"
umask 077

leaf() { # NAME SAN SIGNER_CERT SIGNER_KEY
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$3" -CAkey "$4" -set_serial "0x$(openssl rand -hex 8)" \
		-days 1 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

leaf wrong "DNS:wrong-name.example.test" "$ca" "$cakey"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout unknown-ca.key -subj "/CN=fault-server unknown CA" -days 1 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-out unknown-ca.pem 2>/dev/null
leaf unknown "IP:127.0.0.1,IP:::1,DNS:localhost" unknown-ca.pem unknown-ca.key
chmod 644 ./*.pem
