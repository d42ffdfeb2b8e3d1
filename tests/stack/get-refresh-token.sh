#!/bin/bash
# get-refresh-token.sh [ACCOUNT] [CLIENT_ID] [SECRET] [AUTH_METHOD]
#
# Obtains a first token set from the test authorization server the way a
# person would: it drives the provider's own /auth -> interaction (login,
# consent) -> redirect chain with curl and a cookie jar, takes the code from
# the final redirect, and exchanges it at the token endpoint.  The token
# endpoint's JSON is printed on stdout.
#
#   ACCOUNT      login_hint (default user@example.test); one starting with
#                "deny" makes the test server refuse (access_denied)
#   CLIENT_ID    default mailclient
#   SECRET       default mailsecret; an empty string means a public client
#   AUTH_METHOD  basic | post | none  (default: none without a secret, post
#                for a client id ending in -post, else basic)
#
# Environment: IDP_URL and CA_FILE (sourced from $STACK_DIR/stack.env when
# STACK_DIR is set), REDIRECT_URI (default http://127.0.0.1:9/cb for
# confidential clients, http://127.0.0.1:<random port>/cb for public ones),
# SCOPE (default "openid email offline_access"), PKCE=1 to force PKCE (always
# on for public clients).
#
# Exit: 0 token JSON printed; 2 the authorization was refused (the error JSON
# from the redirect is printed); 1 any other failure (JSON printed if any).
set -euo pipefail

if [[ -n "${STACK_DIR:-}" && -r "$STACK_DIR/stack.env" ]]; then
	# shellcheck disable=SC1091
	. "$STACK_DIR/stack.env"
fi
: "${IDP_URL:?IDP_URL not set (source DIR/stack.env or set STACK_DIR)}"
: "${CA_FILE:?CA_FILE not set (source DIR/stack.env or set STACK_DIR)}"

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
pkce=${PKCE:-0}
if [[ "$method" == none ]]; then
	pkce=1
	redirect_uri=${REDIRECT_URI:-http://127.0.0.1:$((20000 + RANDOM % 20000))/cb}
else
	redirect_uri=${REDIRECT_URI:-http://127.0.0.1:9/cb}
fi

die() { echo "get-refresh-token: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jar=$work/cookies

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
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
# query_param URL NAME -> the decoded value (empty if absent)
query_param() {
	local query=${1#*\?} pair v
	[[ "$1" == *\?* ]] || return 0
	query=${query%%#*}
	local - IFS='&'
	set -f
	for pair in $query; do
		if [[ "${pair%%=*}" == "$2" ]]; then
			v=${pair#*=}
			v=${v//+/ }
			printf '%b\n' "${v//%/\\x}"
			return 0
		fi
	done
}

state=$(openssl rand 16 | b64url)
auth_url="$IDP_URL/auth?response_type=code&client_id=$(urlenc "$client_id")"
auth_url+="&redirect_uri=$(urlenc "$redirect_uri")&scope=$(urlenc "$scope")"
auth_url+="&state=$state&prompt=consent&login_hint=$(urlenc "$account")"
if [[ "$pkce" == 1 ]]; then
	verifier=$(openssl rand 32 | b64url)
	challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
	auth_url+="&code_challenge=$challenge&code_challenge_method=S256"
fi

# Follow the redirect chain by hand (curl must not contact the redirect URI).
url=$auth_url
final=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	out=$(curl -sS --cacert "$CA_FILE" -b "$jar" -c "$jar" -o "$work/body" \
		-w '%{http_code} %{redirect_url}' "$url") || die "request failed"
	code=${out%% *}
	next=${out#* }
	if [[ "$code" != 30[0-9] || -z "$next" ]]; then
		cat "$work/body" >&2 || true
		echo >&2
		die "unexpected HTTP $code in the authorization chain"
	fi
	if [[ "$next" == "$redirect_uri"* ]]; then
		final=$next
		break
	fi
	url=$next
done
[[ -n "$final" ]] || die "too many redirects"

[[ "$(query_param "$final" state)" == "$state" ]] || die "state mismatch in the redirect"
err=$(query_param "$final" error)
if [[ -n "$err" ]]; then
	jq -cn --arg e "$err" --arg d "$(query_param "$final" error_description)" \
		'{error: $e, error_description: $d, stage: "authorization"}'
	exit 2
fi
code=$(query_param "$final" code)
[[ -n "$code" ]] || die "no code in the redirect"

args=(-sS --cacert "$CA_FILE" -o "$work/token" -w '%{http_code}'
	--data-urlencode grant_type=authorization_code
	--data-urlencode "code=$code"
	--data-urlencode "redirect_uri=$redirect_uri")
[[ "$pkce" == 1 ]] && args+=(--data-urlencode "code_verifier=$verifier")
case $method in
basic) args+=(-u "$(urlenc "$client_id"):$(urlenc "$secret")") ;;
post) args+=(--data-urlencode "client_id=$client_id" --data-urlencode "client_secret=$secret") ;;
none) args+=(--data-urlencode "client_id=$client_id") ;;
*) die "AUTH_METHOD must be basic, post or none" ;;
esac
status=$(curl "${args[@]}" "$IDP_URL/token") || die "token request failed"
cat "$work/token"
echo
[[ "$status" == 200 ]] || exit 1
jq -e 'has("access_token")' "$work/token" >/dev/null || exit 1
