#!/bin/bash
# get-token-device.sh [ACCOUNT] [CLIENT_ID] [SECRET] [AUTH_METHOD]
#
# Obtains a token set with the device authorization grant (RFC 8628) at the
# test authorization server: the device half (POST /device/auth, then polling
# /token) is done here with curl, the user half (code entry, confirmation,
# login, consent) by device-approve.py, which drives the provider's own pages.
# Prints the token endpoint's JSON on stdout.
#
# Arguments as for get-refresh-token.sh (ACCOUNT is sent as login_hint; an
# empty SECRET means a public client).  DEVICE_ABORT=1 presses Abort on the
# confirmation page instead (the token endpoint then answers access_denied).
#
# Environment: IDP_URL, CA_FILE (or STACK_DIR to source DIR/stack.env),
# SCOPE (default "openid email offline_access").
# Exit: 0 token JSON printed; 2 the token endpoint refused (error JSON
# printed); 1 other failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ -n "${STACK_DIR:-}" && -r "$STACK_DIR/stack.env" ]]; then
	# shellcheck disable=SC1091
	. "$STACK_DIR/stack.env"
fi
: "${IDP_URL:?IDP_URL not set (source DIR/stack.env or set STACK_DIR)}"
: "${CA_FILE:?CA_FILE not set (source DIR/stack.env or set STACK_DIR)}"
export IDP_URL CA_FILE

account=${1:-user@example.test}
client_id=${2:-mailclient}
secret=${3-mailsecret}
if [[ -n "${4:-}" ]]; then
	method=$4
elif [[ -z "$secret" ]]; then
	method=none
elif [[ "$client_id" == *-post ]]; then
	method=post
else
	method=basic
fi
scope=${SCOPE:-openid email offline_access}

die() { echo "get-token-device: $*" >&2; exit 1; }
# urlenc STRING: percent-encode all but RFC 3986 unreserved characters
urlenc() {
	local LC_ALL=C s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c"; out+=$c ;;
		esac
	done
	printf '%s' "$out"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

auth=()
case $method in
basic) auth=(-u "$(urlenc "$client_id"):$(urlenc "$secret")") ;;
post) auth=(--data-urlencode "client_id=$client_id" --data-urlencode "client_secret=$secret") ;;
none) auth=(--data-urlencode "client_id=$client_id") ;;
*) die "AUTH_METHOD must be basic, post or none" ;;
esac

status=$(curl -sS --cacert "$CA_FILE" -o "$work/device" -w '%{http_code}' "${auth[@]}" \
	--data-urlencode "scope=$scope" --data-urlencode "login_hint=$account" \
	"$IDP_URL/device/auth") || die "device authorization request failed"
if [[ "$status" != 200 ]]; then
	cat "$work/device"; echo
	exit 2
fi
device_code=$(jq -r .device_code "$work/device")
uri=$(jq -r .verification_uri_complete "$work/device")
interval=$(jq -r '.interval // 5' "$work/device")

if [[ "${DEVICE_ABORT:-0}" == 1 ]]; then
	"$here/device-approve.py" --abort "$uri" >&2 || die "could not abort on the user side"
else
	"$here/device-approve.py" "$uri" >&2 || die "the user side did not complete"
fi

for _ in $(seq 1 10); do
	status=$(curl -sS --cacert "$CA_FILE" -o "$work/token" -w '%{http_code}' "${auth[@]}" \
		--data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:device_code" \
		--data-urlencode "device_code=$device_code" "$IDP_URL/token") || die "token request failed"
	if [[ "$status" == 200 ]]; then
		cat "$work/token"; echo
		exit 0
	fi
	case $(jq -r '.error // ""' "$work/token") in
	authorization_pending) sleep "$interval" ;;
	slow_down) interval=$((interval + 5)); sleep "$interval" ;;
	*) cat "$work/token"; echo; exit 2 ;;
	esac
done
die "gave up polling"
