/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_grant 3
 * SUMMARY
 *	the OAuth client side: requests, client authentication, replies
 * SYNOPSIS
 *	#include "oa2_grant.h"
#include "oa2_json.h"
#include "oa2_limits.h"
 *
 *	enum oa2_status oa2_grant_post(c, url, form, resp, err)
 *	enum oa2_status oa2_grant_refresh(c, refresh_token, tr, err)
 *	enum oa2_status oa2_grant_code(c, code, redirect_uri, verifier, tr,
 *		user, err)
 *	enum oa2_status oa2_grant_device_start(c, device_endpoint, d, err)
 *	enum oa2_status oa2_grant_device_poll(c, d, tr, user, err)
 *	enum oa2_poll oa2_device_decide(d, st, err)
 *	enum oa2_status oa2_grant_revoke(c, url, token, hint, err)
 *
 *	int	oa2_pkce_new(p)
 *	int	oa2_authz_url(r, p, url)
 *	char	*oa2_authz_reply(query, state, require_state, err)
 *
 *	enum oa2_status oa2_oauth_error_parse(body, len, http_status, who,
 *		secrets, out, err)
 *	enum oa2_status oa2_device_parse(body, len, http_status, out, err)
 *	enum oa2_status oa2_discovery_parse(body, len, http_status, url,
 *		out, err)
 *	char	*oa2_id_token_user(id_token)
 * DESCRIPTION
 *	This module is what an OAuth client says and reads, without a
 *	user interface: the command's authorize and revoke, and the
 *	refresh of oa2_refresh(3), call it.
 *
 *	struct oa2_client holds the inputs: the token endpoint, client_id,
 *	client_secret (NULL or empty for a public client), how the client
 *	authenticates, the scope to send on a refresh, and the HTTP
 *	options.  oa2_grant_post() is the one way a request leaves: it
 *	adds the client authentication to the form with
 *	oa2_grant_client_auth() and calls oa2_http_post_form().  With
 *	OA2_AUTH_POST the form gets client_id and client_secret;
 *	with OA2_AUTH_BASIC the two go in an HTTP Basic header (RFC
 *	6749 2.3.1: both parts form-encoded first, done by the transport),
 *	and a public client always sends only client_id in the form.  With
 *	a client assertion (RFC 7523 2.2, private_key_jwt) the form gets
 *	client_id, client_assertion_type and client_assertion, and no secret.
 *
 *	The grants build their forms (oa2_grant_*_form(), in a wiped
 *	buffer), post them, and parse the reply: oa2_grant_refresh() (RFC
 *	6749 6, sending the client's scope when there is one),
 *	oa2_grant_code() (4.1.3 with the PKCE code_verifier; *user gets
 *	the email claim of an id_token when the caller asks),
 *	oa2_grant_device_start() and oa2_grant_device_poll() (RFC 8628 3.1
 *	and 3.4), oa2_grant_revoke() (RFC 7009: 200 is success), and the
 *	app-only grants: oa2_grant_client_credentials() (RFC 6749 4.4, with
 *	the client's scope) and oa2_grant_jwt_bearer() (RFC 7523 2.1, the
 *	assertion signed by oa2_app(3), which builds both).  Token
 *	replies go through oa2_tokresp_parse().  oa2_device_decide() is
 *	the polling rule of RFC 8628 3.5: done; wait again after
 *	authorization_pending or a passing failure; slow_down adds 5 s to
 *	d->interval; anything else (expired_token, access_denied, ...)
 *	stops.  The caller keeps the deadline.
 *
 *	oa2_pkce_new() draws a code_verifier (32 random bytes from
 *	OpenSSL, base64url: 43 characters), its S256 code_challenge and a
 *	state (16 random bytes).  oa2_authz_url() builds the authorization
 *	URL: response_type, client_id, redirect_uri, scope, state,
 *	code_challenge and its method, login_hint when given, then the
 *	preset's extra parameters as they are (Google's
 *	access_type=offline&prompt=consent) and the caller's name=value
 *	parameters, encoded.  oa2_authz_reply() reads the redirect's query:
 *	the state must match (and be present when require_state), an error
 *	is reported with its description cleaned, else the code.
 *
 *	The reply parsers read a body with its HTTP status.  Each refuses
 *	a body with a duplicate member, larger than 256 KiB, that is not a
 *	JSON object, or whose members have the wrong type, and reports
 *	running out of memory as OA2_ERR_NOMEM "nomem", leaving nothing
 *	allocated.  oa2_oauth_error_parse() reads an RFC 6749 5.2 error
 *	(error, error_description, error_uri) from who ("device
 *	authorization endpoint at HOST") and returns its class
 *	(OA2_ERR_PERM or OA2_ERR_TEMP, as oa2_tokresp(3) classes words);
 *	a reply that is no such error is OA2_ERR_TEMP under HTTP 5xx, 408
 *	and 429, else OA2_ERR_PROTO.  oa2_device_parse() reads RFC 8628 3.2
 *	(Google's verification_url accepted): the texts shown to the user
 *	must hold no control character.  oa2_discovery_parse() reads RFC
 *	8414 / OpenID Connect Discovery metadata: issuer and the four
 *	endpoints, each optional here.
 * SECURITY
 *	Forms hold the client secret, codes and tokens: they live in wiped
 *	buffers.  No message quotes a secret of the request (the secrets
 *	list, the client secret) or a token of the reply: a description
 *	that does is withheld.
 * STANDARDS
 *	RFC 6749, RFC 7636, RFC 8628, RFC 7009, RFC 8414, RFC 8252.
 * SEE ALSO
 *	oa2_tokresp(3), oa2_http(3), oa2_refresh(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdio.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* Application-specific. */

#include "oa2_grant.h"
#include "oa2_json.h"

#define DEVICE_GRANT	"urn:ietf:params:oauth:grant-type:device_code"
#define JWT_BEARER	"urn:ietf:params:oauth:grant-type:jwt-bearer"
#define ASSERTION_TYPE	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define FORM_MAX	(64 * 1024)	/* a request form */
#define AUTHZ_URL_MAX	(16 * 1024)	/* the authorization URL */
#define REPLY_MAX	(256 * 1024)	/* a reply body we decode */
#define TEXT_MAX	200		/* description, URI, as shown */
#define WORD_MAX	(OA2_ERR_CODE_MAX - 1)
#define URL_MAX		2048		/* an endpoint from a reply */
#define USER_CODE_MAX	64
#define DEVICE_CODE_MAX	4096
#define SECRET_MIN	6		/* shorter secrets match anything */
#define INTERVAL_MAX	300		/* slow_down stops adding here */

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* nomem - the one out-of-memory report */
static enum oa2_status
nomem(struct oa2_error *err)
{
	return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
}

/* is_2xx - HTTP success */
static int
is_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* plain_word - fit for err->code: 1..WORD_MAX of [A-Za-z0-9_.-] */
static int
plain_word(const char *s)
{
	size_t	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-");

	return n > 0 && n <= WORD_MAX && s[n] == 0;
}

/* quotes - text holds one of the secrets (NULL-ended list) */
static int
quotes(const char *text, const char *const *secrets)
{
	if (text == NULL || secrets == NULL)
		return 0;
	for (; *secrets != NULL; secrets++)
		if (strlen(*secrets) >= SECRET_MIN && strstr(text, *secrets))
			return 1;
	return 0;
}

/* withhold - keep the request's secrets out of err */
static void
withhold(struct oa2_error *err, const char *const *secrets)
{
	if (quotes(err->code, secrets))
		snprintf(err->code, sizeof(err->code), "bad_response");
	if (quotes(err->msg, secrets))
		snprintf(err->msg, sizeof(err->msg), "the server refused the "
		    "request (%s); its description is withheld: it quotes a "
		    "secret of the request", err->code);
}

/* ------------------------------------------------------------ client */

/* oa2_client_from_settings - c from resolved settings */
void
oa2_client_from_settings(struct oa2_client *c, const struct oa2_settings *s)
{
	memset(c, 0, sizeof(*c));
	c->token_endpoint = s->token_endpoint;
	c->client_id = s->client_id;
	c->client_secret = s->client_secret;
	c->client_auth = s->client_auth;
	c->scope = s->scope;
	c->http.ca_file = s->ca_file;
	c->http.ca_dir = s->ca_dir;
	c->http.proxy = s->proxy;
	c->http.connect_timeout_ms = s->connect_timeout * 1000;
	c->http.timeout_ms = s->timeout * 1000;
	c->http.max_body = OA2_TOKEN_REPLY_MAX;
}

/* oa2_client_auth_parse - "post" or "basic" (NULL: post); -1 otherwise */
int
oa2_client_auth_parse(const char *name, enum oa2_client_auth *out)
{
	if (name == NULL || strcmp(name, "post") == 0)
		*out = OA2_AUTH_POST;
	else if (strcmp(name, "basic") == 0)
		*out = OA2_AUTH_BASIC;
	else
		return -1;
	return 0;
}

/* oa2_client_auth_name - the setting's spelling */
const char *
oa2_client_auth_name(enum oa2_client_auth auth)
{
	return auth == OA2_AUTH_BASIC ? "basic" : "post";
}

/* oa2_grant_client_auth - add the client's authentication to a form */
int
oa2_grant_client_auth(const struct oa2_client *c, struct oa2_buf *form,
    const char **basic_user, const char **basic_pass)
{
	int	secret = c->client_secret != NULL && *c->client_secret;

	*basic_user = *basic_pass = NULL;
	if (c->client_assertion != NULL)
		return oa2_form_add(form, "client_id", c->client_id) < 0 ||
		    oa2_form_add(form, "client_assertion_type",
		    ASSERTION_TYPE) < 0 ||
		    oa2_form_add(form, "client_assertion",
		    c->client_assertion) < 0 ? -1 : 0;
	if (secret && c->client_id != NULL &&
	    c->client_auth == OA2_AUTH_BASIC) {
		*basic_user = c->client_id;
		*basic_pass = c->client_secret;
		return 0;
	}
	if (c->client_id != NULL &&
	    oa2_form_add(form, "client_id", c->client_id) < 0)
		return -1;
	if (secret && oa2_form_add(form, "client_secret", c->client_secret) < 0)
		return -1;
	return 0;
}

/* oa2_grant_post - the one POST: client authentication added */
enum oa2_status
oa2_grant_post(const struct oa2_client *c, const char *url,
    struct oa2_buf *form, struct oa2_http_resp *resp, struct oa2_error *err)
{
	const char *user, *pass;

	memset(resp, 0, sizeof(*resp));
	if (url == NULL || *url == 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "no endpoint URL for this request");
	if (oa2_grant_client_auth(c, form, &user, &pass) < 0)
		return nomem(err);
	return oa2_http_post_form(url, form->data, form->len, user, pass,
	    &c->http, resp, err);
}

/* ------------------------------------------------------------ forms */

/* oa2_grant_code_form - RFC 6749 4.1.3 with the PKCE verifier */
int
oa2_grant_code_form(struct oa2_buf *form, const char *code,
    const char *redirect_uri, const char *verifier)
{
	return oa2_form_add(form, "grant_type", "authorization_code") < 0 ||
	    oa2_form_add(form, "code", code) < 0 ||
	    oa2_form_add(form, "redirect_uri", redirect_uri) < 0 ||
	    oa2_form_add(form, "code_verifier", verifier) < 0 ? -1 : 0;
}

/* oa2_grant_refresh_form - RFC 6749 6 */
int
oa2_grant_refresh_form(struct oa2_buf *form, const char *refresh_token,
    const char *scope)
{
	return oa2_form_add(form, "grant_type", "refresh_token") < 0 ||
	    oa2_form_add(form, "refresh_token", refresh_token) < 0 ||
	    (scope != NULL && *scope &&
	    oa2_form_add(form, "scope", scope) < 0) ? -1 : 0;
}

/* oa2_grant_device_form - RFC 8628 3.1 */
int
oa2_grant_device_form(struct oa2_buf *form, const char *scope)
{
	return scope != NULL && *scope &&
	    oa2_form_add(form, "scope", scope) < 0 ? -1 : 0;
}

/* oa2_grant_device_poll_form - RFC 8628 3.4 */
int
oa2_grant_device_poll_form(struct oa2_buf *form, const char *device_code)
{
	return oa2_form_add(form, "grant_type", DEVICE_GRANT) < 0 ||
	    oa2_form_add(form, "device_code", device_code) < 0 ? -1 : 0;
}

/* oa2_grant_client_credentials_form - RFC 6749 4.4.2 */
int
oa2_grant_client_credentials_form(struct oa2_buf *form, const char *scope)
{
	return oa2_form_add(form, "grant_type", "client_credentials") < 0 ||
	    (scope != NULL && *scope &&
	    oa2_form_add(form, "scope", scope) < 0) ? -1 : 0;
}

/* oa2_grant_jwt_bearer_form - RFC 7523 2.1 */
int
oa2_grant_jwt_bearer_form(struct oa2_buf *form, const char *assertion)
{
	return oa2_form_add(form, "grant_type", JWT_BEARER) < 0 ||
	    oa2_form_add(form, "assertion", assertion) < 0 ? -1 : 0;
}

/* oa2_grant_revoke_form - RFC 7009 2.1 */
int
oa2_grant_revoke_form(struct oa2_buf *form, const char *token,
    const char *hint)
{
	return oa2_form_add(form, "token", token) < 0 ||
	    (hint != NULL && oa2_form_add(form, "token_type_hint", hint) < 0) ?
	    -1 : 0;
}

/* ------------------------------------------------------------ authorization URL */

/* oa2_b64url - unpadded base64url of in */
int
oa2_b64url(const unsigned char *in, size_t n, char *out, size_t size)
{
	int	len, i;

	if (n > 3 * 1024 || size < 4 * ((n + 2) / 3) + 1)
		return -1;
	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = 0;
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return len;
}

/* oa2_random_b64url - nbytes random bytes, base64url */
int
oa2_random_b64url(char *out, size_t size, size_t nbytes)
{
	unsigned char rnd[96];
	int	r;

	if (nbytes > sizeof(rnd) || RAND_bytes(rnd, (int)nbytes) != 1)
		return -1;
	r = oa2_b64url(rnd, nbytes, out, size);
	oa2_wipe(rnd, sizeof(rnd));
	return r;
}

/* oa2_pkce_challenge - BASE64URL(SHA256(verifier)), RFC 7636 4.2 */
int
oa2_pkce_challenge(const char *verifier, char *out, size_t size)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int	r;

	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	r = oa2_b64url(md, sizeof(md), out, size);
	oa2_wipe(md, sizeof(md));
	return r;
}

/* oa2_pkce_new - fresh verifier, challenge and state */
int
oa2_pkce_new(struct oa2_pkce *p)
{
	if (oa2_random_b64url(p->verifier, sizeof(p->verifier), 32) < 0 ||
	    oa2_random_b64url(p->state, sizeof(p->state), 16) < 0 ||
	    oa2_pkce_challenge(p->verifier, p->challenge,
	    sizeof(p->challenge)) < 0) {
		oa2_wipe(p, sizeof(*p));
		return -1;
	}
	return 0;
}

/* oa2_url_append - "?name=value" or "&name=value", percent-encoded */
int
oa2_url_append(struct oa2_buf *url, const char *name, const char *value)
{
	int	sep = url->data != NULL && strchr(url->data, '?') ? '&' : '?';

	if (oa2_buf_putc(url, sep) < 0 || oa2_form_escape(url, name) < 0 ||
	    oa2_buf_putc(url, '=') < 0 || oa2_form_escape(url, value) < 0)
		return -1;
	return 0;
}

/* add_param - append a caller's "name=value", both parts encoded */
static int
add_param(struct oa2_buf *url, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char   *name;
	int	r;

	if (eq == NULL || eq == pair)
		return -1;
	if ((name = oa2_strndup(pair, (size_t)(eq - pair))) == NULL)
		return -1;
	r = oa2_url_append(url, name, eq + 1);
	oa2_free(name);
	return r;
}

/* oa2_authz_url - the authorization request URL, RFC 6749 4.1.1 */
int
oa2_authz_url(const struct oa2_authz_req *r, const struct oa2_pkce *p,
    struct oa2_buf *url)
{
	const char *const *pp;

	oa2_buf_init(url, AUTHZ_URL_MAX);
	if (r->authorization_endpoint == NULL || r->client_id == NULL ||
	    r->redirect_uri == NULL || r->scope == NULL)
		return -1;
	if (oa2_buf_puts(url, r->authorization_endpoint) < 0 ||
	    oa2_url_append(url, "response_type", "code") < 0 ||
	    oa2_url_append(url, "client_id", r->client_id) < 0 ||
	    oa2_url_append(url, "redirect_uri", r->redirect_uri) < 0 ||
	    oa2_url_append(url, "scope", r->scope) < 0 ||
	    oa2_url_append(url, "state", p->state) < 0 ||
	    oa2_url_append(url, "code_challenge", p->challenge) < 0 ||
	    oa2_url_append(url, "code_challenge_method", "S256") < 0)
		return -1;
	if (r->login_hint != NULL &&
	    oa2_url_append(url, "login_hint", r->login_hint) < 0)
		return -1;
	if (r->extra != NULL && *r->extra &&
	    (oa2_buf_putc(url, '&') < 0 || oa2_buf_puts(url, r->extra) < 0))
		return -1;
	for (pp = r->params; pp != NULL && *pp != NULL; pp++)
		if (add_param(url, *pp) < 0)
			return -1;
	return 0;
}

/* hexval - value of a hex digit, -1 if none */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* oa2_query_param - decoded value of name in a query string */
char *
oa2_query_param(const char *s, const char *name)
{
	const char *q = strchr(s, '?'), *p, *end, *amp, *e;
	size_t	nlen = strlen(name);
	char   *out, *o;

	q = q ? q + 1 : s;
	end = q + strcspn(q, "#");
	for (p = q; p < end; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		e = amp ? amp : end;
		if ((size_t)(e - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			p += nlen + 1;
			if ((out = oa2_malloc((size_t)(e - p) + 1)) == NULL)
				return NULL;
			for (o = out; p < e; p++) {
				if (*p == '+')
					*o++ = ' ';
				else if (*p == '%' && e - p >= 3 && hexval(p[1]) >= 0
				    && hexval(p[2]) >= 0) {
					*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
					p += 2;
				} else
					*o++ = *p;
			}
			*o = 0;
			return out;
		}
		if (amp == NULL)
			break;
	}
	return NULL;
}

/* authz_error - the provider's refusal in a redirect, cleaned */
static void
authz_error(const char *error, const char *desc, struct oa2_error *err)
{
	char   *e = oa2_tokresp_clean(error, strlen(error), WORD_MAX);
	char   *d = desc ? oa2_tokresp_clean(desc, strlen(desc), TEXT_MAX) : NULL;

	if (e == NULL || (desc != NULL && d == NULL))
		nomem(err);
	else
		oa2_error_set(err, OA2_ERR_PERM, plain_word(error) ? error :
		    "access_denied", "the provider refused the authorization: "
		    "%s%s%s%s: nothing was written", e, d ? " (\"" : "",
		    d ? d : "", d ? "\")" : "");
	oa2_free(e);
	oa2_free(d);
}

/* oa2_authz_reply - the code from the redirect's query, state checked */
char *
oa2_authz_reply(const char *query, const char *state, int require_state,
    struct oa2_error *err)
{
	char   *got_state = oa2_query_param(query, "state");
	char   *error = oa2_query_param(query, "error");
	char   *desc = oa2_query_param(query, "error_description");
	char   *code = NULL;

	if (got_state == NULL && require_state)
		oa2_error_set(err, OA2_ERR_PERM, "state_mismatch",
		    "the redirect carries no state: nothing was written");
	else if (got_state != NULL && strcmp(got_state, state) != 0)
		oa2_error_set(err, OA2_ERR_PERM, "state_mismatch",
		    "the redirect's state does not match the one this run sent "
		    "(a stale or forged answer): nothing was written");
	else if (error != NULL)
		authz_error(error, desc, err);
	else if ((code = oa2_query_param(query, "code")) == NULL || *code == 0) {
		oa2_free_secret(&code);
		oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the redirect carries neither a code nor an error");
	}
	oa2_free(got_state);
	oa2_free(error);
	oa2_free(desc);
	return code;
}

/* ------------------------------------------------------------ replies */

/* json_why - why jansson refused a body, without quoting it */
static const char *
json_why(const json_error_t *je)
{
#if JANSSON_VERSION_HEX >= 0x020b00
	switch (json_error_code(je)) {
	case json_error_premature_end_of_input:
		return "is truncated JSON";
	case json_error_duplicate_key:
		return "has a duplicate JSON member";
	case json_error_invalid_utf8:
		return "is not valid UTF-8";
	case json_error_null_character:
		return "holds a NUL character";
	default:
		break;
	}
#endif
	(void)je;
	return "is not JSON";
}

/* load - a reply body that must be a JSON object; NULL with err set */
static json_t *
load(const char *body, size_t len, const char *who, struct oa2_error *err)
{
	json_error_t je;
	json_t *root;
	int	nomem_seen;

	if (body == NULL || len == 0) {
		oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s is empty", who);
		return NULL;
	}
	if (len > REPLY_MAX) {
		oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s is too large (%zu bytes)", who, len);
		return NULL;
	}
	if ((root = oa2_tokresp_load(body, len, &je, &nomem_seen)) == NULL) {
		if (nomem_seen)
			nomem(err);
		else
			oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
			    "the reply of the %s %s (line %d, column %d)", who,
			    json_why(&je), je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		oa2_json_wipe_decref(root);
		oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s is not a JSON object", who);
		return NULL;
	}
	return root;
}

/* printable - no control character (C0, DEL, C1 in UTF-8) */
static int
printable(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f))
			return 0;
	}
	return 1;
}

/* get_str - copy string member key (absent, null, "": *dst stays NULL) */
static enum oa2_status
get_str(json_t *root, const char *key, size_t max, int shown, char **dst,
    const char *who, struct oa2_error *err)
{
	json_t *v = json_object_get(root, key);
	size_t	n;

	if (v == NULL || json_is_null(v))
		return OA2_OK;
	if (!json_is_string(v))
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s has a \"%s\" that is not a string", who,
		    key);
	if ((n = json_string_length(v)) == 0)
		return OA2_OK;
	if (n > max)
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s has a \"%s\" longer than %zu bytes", who,
		    key, max);
	if (shown && !printable(json_string_value(v), n))
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s has a \"%s\" with control characters",
		    who, key);
	if ((*dst = oa2_strndup(json_string_value(v), n)) == NULL)
		return nomem(err);
	return OA2_OK;
}

/* get_num - a count of seconds: integer or 1-10 digits; def when absent */
static enum oa2_status
get_num(json_t *root, const char *key, long long def, long long *out,
    const char *who, struct oa2_error *err)
{
	json_t *v = json_object_get(root, key);
	const char *s;
	size_t	n, i;

	*out = def;
	if (v == NULL || json_is_null(v))
		return OA2_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 9999999999LL) {
		*out = json_integer_value(v);
		return OA2_OK;
	}
	if (json_is_string(v) && (n = json_string_length(v)) > 0 && n <= 10) {
		s = json_string_value(v);
		for (*out = 0, i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			*out = *out * 10 + (s[i] - '0');
		if (i == n)
			return OA2_OK;
	}
	*out = def;
	return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
	    "the reply of the %s has a \"%s\" that is not a number of seconds",
	    who, key);
}

/* unusable - a reply that is no OAuth error, under http_status */
static enum oa2_status
unusable(long http_status, const char *who, struct oa2_error *err)
{
	char	code[OA2_ERR_CODE_MAX];
	int	temp = (http_status >= 500 && http_status <= 599) ||
	    http_status == 408 || http_status == 429;

	char	why[OA2_ERR_MSG_MAX];

	if (err->status == OA2_ERR_NOMEM)
		return OA2_ERR_NOMEM;
	if (is_2xx(http_status))
		return err->status != OA2_OK ? err->status :
		    oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s holds no OAuth error", who);
	/* Keep what load() found wrong, if anything. */
	snprintf(why, sizeof(why), "%s", err->status != OA2_OK ? err->msg :
	    "it holds no OAuth error");
	snprintf(code, sizeof(code), "http_%ld", http_status);
	return oa2_error_set(err, temp ? OA2_ERR_TEMP : OA2_ERR_PROTO, code,
	    "the %s answered HTTP %ld: %s", who, http_status, why);
}

/* own_tokens - the reply's own secrets, to keep them out of messages */
static void
own_tokens(json_t *root, const char **list, size_t n)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token", "device_code",
	};
	json_t *v;
	size_t	i, k = 0;

	for (i = 0; i < NELEM(keys) && k + 1 < n; i++)
		if (json_is_string(v = json_object_get(root, keys[i])))
			list[k++] = json_string_value(v);
	list[k] = NULL;
}

/* oa2_oauth_error_free - free an error reply */
void
oa2_oauth_error_free(struct oa2_oauth_error *e)
{
	oa2_free_secret(&e->error);
	oa2_free_secret(&e->error_description);
	oa2_free_secret(&e->error_uri);
}

/* clean_member - cleaned copy of a string member, withheld when it quotes a secret */
static int
clean_member(json_t *root, const char *key, size_t max,
    const char *const *secrets, const char *const *own, char **dst,
    int *withheld)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if ((*dst = oa2_tokresp_clean(json_string_value(v),
	    json_string_length(v), max)) == NULL)
		return -1;
	if (quotes(*dst, secrets) || quotes(*dst, own) ||
	    quotes(json_string_value(v), secrets) ||
	    quotes(json_string_value(v), own)) {
		oa2_free_secret(dst);
		*withheld = 1;
	}
	return 0;
}

/* oa2_oauth_error_parse - an RFC 6749 5.2 error reply */
enum oa2_status
oa2_oauth_error_parse(const char *body, size_t len, long http_status,
    const char *who, const char *const *secrets, struct oa2_oauth_error *out,
    struct oa2_error *err)
{
	const char *own[5];
	json_t *root, *ev;
	enum oa2_status st;
	char	code[OA2_ERR_CODE_MAX];
	int	withheld = 0;

	memset(out, 0, sizeof(*out));
	oa2_error_clear(err);
	if (http_status < 100 || http_status > 599)
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the %s answered with the invalid HTTP status %ld", who,
		    http_status);
	if ((root = load(body, len, who, err)) == NULL)
		return unusable(http_status, who, err);
	ev = json_object_get(root, "error");
	if (!json_is_string(ev) || json_string_length(ev) == 0) {
		oa2_json_wipe_decref(root);
		return unusable(http_status, who, err);
	}
	own_tokens(root, own, NELEM(own));
	if (clean_member(root, "error", WORD_MAX, secrets, own, &out->error,
	    &withheld) < 0 ||
	    clean_member(root, "error_description", TEXT_MAX, secrets, own,
	    &out->error_description, &withheld) < 0 ||
	    clean_member(root, "error_uri", TEXT_MAX, secrets, own,
	    &out->error_uri, &withheld) < 0) {
		oa2_json_wipe_decref(root);
		oa2_oauth_error_free(out);
		return nomem(err);
	}
	if (out->error == NULL) {
		/* The word itself quotes a secret. */
		oa2_json_wipe_decref(root);
		oa2_oauth_error_free(out);
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the %s refused the request (HTTP %ld) with an error that "
		    "quotes a secret", who, http_status);
	}
	if (plain_word(json_string_value(ev)))
		snprintf(code, sizeof(code), "%s", json_string_value(ev));
	else
		snprintf(code, sizeof(code), "http_%ld", http_status);
	oa2_json_wipe_decref(root);
	st = oa2_tokresp_class(out->error, http_status);
	return oa2_error_set(err, st, code, "the %s refused the request (HTTP "
	    "%ld): %s%s%s%s%s%s%s%s", who, http_status, out->error,
	    out->error_description ? " (\"" : "",
	    out->error_description ? out->error_description : "",
	    out->error_description ? "\")" : "",
	    out->error_uri ? " (see " : "", out->error_uri ? out->error_uri : "",
	    out->error_uri ? ")" : "", withheld ? " (text withheld: it quotes "
	    "a secret)" : "");
}

/* refused - an error reply from who (never OA2_OK) */
static enum oa2_status
refused(const char *body, size_t len, long http_status, const char *who,
    const char *const *secrets, struct oa2_error *err)
{
	struct oa2_oauth_error e;
	enum oa2_status st;

	st = oa2_oauth_error_parse(body, len, http_status, who, secrets, &e, err);
	oa2_oauth_error_free(&e);
	return st;
}

/* oa2_device_free - wipe and free a device authorization */
void
oa2_device_free(struct oa2_device *d)
{
	oa2_free_secret(&d->device_code);
	oa2_free_secret(&d->user_code);
	oa2_free_secret(&d->verification_uri);
	oa2_free_secret(&d->verification_uri_complete);
	d->expires_in = d->interval = 0;
}

/* oa2_device_parse - RFC 8628 3.2 */
enum oa2_status
oa2_device_parse(const char *body, size_t len, long http_status,
    struct oa2_device *out, struct oa2_error *err)
{
	static const char who[] = "device authorization endpoint";
	json_t *root;
	enum oa2_status st;

	memset(out, 0, sizeof(*out));
	oa2_error_clear(err);
	if (!is_2xx(http_status))
		return refused(body, len, http_status, who, NULL, err);
	if ((root = load(body, len, who, err)) == NULL)
		return err->status;
	if (json_object_get(root, "error") != NULL &&
	    !json_is_null(json_object_get(root, "error"))) {
		oa2_json_wipe_decref(root);
		return refused(body, len, http_status, who, NULL, err);
	}
	if ((st = get_str(root, "device_code", DEVICE_CODE_MAX, 0,
	    &out->device_code, who, err)) == OA2_OK &&
	    (st = get_str(root, "user_code", USER_CODE_MAX, 1,
	    &out->user_code, who, err)) == OA2_OK &&
	    (st = get_str(root, "verification_uri", URL_MAX, 1,
	    &out->verification_uri, who, err)) == OA2_OK &&
	    (out->verification_uri != NULL ||
	    (st = get_str(root, "verification_url", URL_MAX, 1,
	    &out->verification_uri, who, err)) == OA2_OK) &&
	    (st = get_str(root, "verification_uri_complete", URL_MAX, 1,
	    &out->verification_uri_complete, who, err)) == OA2_OK &&
	    (st = get_num(root, "expires_in", 600, &out->expires_in, who,
	    err)) == OA2_OK &&
	    (st = get_num(root, "interval", 5, &out->interval, who,
	    err)) == OA2_OK &&
	    (out->device_code == NULL || out->user_code == NULL ||
	    out->verification_uri == NULL))
		st = oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the reply of the %s lacks device_code, user_code or "
		    "verification_uri", who);
	oa2_json_wipe_decref(root);
	if (st != OA2_OK) {
		oa2_device_free(out);
		return st;
	}
	if (out->expires_in == 0)
		out->expires_in = 600;
	if (out->interval < 1 || out->interval > 60)
		out->interval = 5;
	return OA2_OK;
}

/* oa2_discovery_free - free the metadata */
void
oa2_discovery_free(struct oa2_discovery *d)
{
	oa2_free(d->issuer);
	oa2_free(d->authorization_endpoint);
	oa2_free(d->token_endpoint);
	oa2_free(d->device_authorization_endpoint);
	oa2_free(d->revocation_endpoint);
	memset(d, 0, sizeof(*d));
}

/* oa2_discovery_parse - RFC 8414 / OpenID Connect Discovery 1.0 metadata */
enum oa2_status
oa2_discovery_parse(const char *body, size_t len, long http_status,
    const char *url, struct oa2_discovery *out, struct oa2_error *err)
{
	static const char who[] = "discovery document";
	struct {
		const char *key;
		char  **dst;
	} f[] = {
		{"issuer", &out->issuer},
		{"authorization_endpoint", &out->authorization_endpoint},
		{"token_endpoint", &out->token_endpoint},
		{"device_authorization_endpoint",
		    &out->device_authorization_endpoint},
		{"revocation_endpoint", &out->revocation_endpoint},
	};
	enum oa2_status st = OA2_OK;
	json_t *root;
	size_t	i;

	memset(out, 0, sizeof(*out));
	oa2_error_clear(err);
	if (http_status != 200)
		return oa2_error_set(err, (http_status >= 500 &&
		    http_status <= 599) ? OA2_ERR_TEMP : OA2_ERR_INPUT,
		    "discovery", "%.200s answered HTTP %ld: is the issuer URL "
		    "right?", url, http_status);
	if ((root = load(body, len, who, err)) != NULL) {
		for (i = 0; i < NELEM(f) && st == OA2_OK; i++)
			st = get_str(root, f[i].key, URL_MAX, 1, f[i].dst, who, err);
		oa2_json_wipe_decref(root);
	} else
		st = err->status;
	if (st != OA2_OK) {
		oa2_discovery_free(out);
		if (st != OA2_ERR_NOMEM)
			snprintf(err->code, sizeof(err->code), "discovery");
	}
	return st;
}

/* oa2_id_token_user - the email (or preferred_username) claim, unverified:
 * the id_token came straight from the token endpoint over TLS */
char *
oa2_id_token_user(const char *idt)
{
	const char *p = idt ? strchr(idt, '.') : NULL, *e, *u;
	json_error_t je;
	unsigned char *raw;
	char   *b64, *out = NULL;
	json_t *doc, *v;
	size_t	n, i;
	int	len, nomem_seen;

	if (p == NULL || (e = strchr(p + 1, '.')) == NULL)
		return NULL;
	n = (size_t)(e - p - 1);
	if (n > 16384 || (b64 = oa2_malloc(n + 4)) == NULL)
		return NULL;
	memcpy(b64, p + 1, n);
	for (i = 0; i < n; i++)
		b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = 0;
	raw = oa2_malloc(n);
	len = raw ? EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n) : -1;
	oa2_free(b64);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (len > 0 && raw[len - 1] == 0)
		len--;
	if (len > 0 && (doc = oa2_tokresp_load((char *)raw, (size_t)len, &je,
	    &nomem_seen)) != NULL) {
		if (!json_is_string(v = json_object_get(doc, "email")))
			v = json_object_get(doc, "preferred_username");
		u = json_is_string(v) ? json_string_value(v) : NULL;
		if (u != NULL && strchr(u, '@') != NULL && strlen(u) <= 254 &&
		    printable(u, strlen(u)))
			out = oa2_strdup(u);
		oa2_json_wipe_decref(doc);
	}
	oa2_free(raw);
	return out;
}

/* ------------------------------------------------------------ grants */

/* user_of - the account an id_token in the reply names, or NULL */
static char *
user_of(const struct oa2_buf *body)
{
	json_error_t je;
	json_t *doc, *v;
	char   *u = NULL;
	int	nomem_seen;

	if ((doc = oa2_tokresp_load(body->data, body->len, &je,
	    &nomem_seen)) == NULL)
		return NULL;
	if (json_is_string(v = json_object_get(doc, "id_token")))
		u = oa2_id_token_user(json_string_value(v));
	oa2_json_wipe_decref(doc);
	return u;
}

/* token_call - post form (built: 0, or -1 when it did not fit) to the
 * token endpoint and read the reply */
static enum oa2_status
token_call(const struct oa2_client *c, struct oa2_buf *form, int built,
    const char *const *secrets, struct oa2_tokresp *tr, char **user,
    struct oa2_error *err)
{
	struct oa2_http_resp resp;
	enum oa2_status st;

	memset(tr, 0, sizeof(*tr));
	if (user != NULL)
		*user = NULL;
	st = built < 0 ? nomem(err) :
	    oa2_grant_post(c, c->token_endpoint, form, &resp, err);
	oa2_buf_free(form);
	if (st != OA2_OK)
		return st;
	st = oa2_tokresp_parse(resp.body.data, resp.body.len, resp.status, tr,
	    err);
	if (st == OA2_OK && user != NULL)
		*user = user_of(&resp.body);
	else if (st != OA2_OK)
		withhold(err, secrets);
	oa2_http_resp_free(&resp);
	return st;
}

/* oa2_grant_refresh - the refresh_token grant */
enum oa2_status
oa2_grant_refresh(const struct oa2_client *c, const char *refresh_token,
    struct oa2_tokresp *tr, struct oa2_error *err)
{
	const char *secrets[] = {c->client_secret, refresh_token, NULL};
	struct oa2_buf form;

	oa2_buf_init(&form, FORM_MAX);
	return token_call(c, &form, oa2_grant_refresh_form(&form, refresh_token,
	    c->scope), c->client_secret ? secrets : secrets + 1, tr, NULL, err);
}

/* oa2_grant_code - the authorization_code grant with PKCE */
enum oa2_status
oa2_grant_code(const struct oa2_client *c, const char *code,
    const char *redirect_uri, const char *verifier, struct oa2_tokresp *tr,
    char **user, struct oa2_error *err)
{
	const char *secrets[] = {code, verifier, c->client_secret, NULL};
	struct oa2_buf form;

	oa2_buf_init(&form, FORM_MAX);
	return token_call(c, &form, oa2_grant_code_form(&form, code, redirect_uri,
	    verifier), secrets, tr, user, err);
}

/* oa2_grant_device_poll - one device_code grant request */
enum oa2_status
oa2_grant_device_poll(const struct oa2_client *c, const struct oa2_device *d,
    struct oa2_tokresp *tr, char **user, struct oa2_error *err)
{
	const char *secrets[] = {d->device_code, c->client_secret, NULL};
	struct oa2_buf form;

	oa2_buf_init(&form, FORM_MAX);
	return token_call(c, &form, oa2_grant_device_poll_form(&form,
	    d->device_code), secrets, tr, user, err);
}

/* oa2_grant_client_credentials - RFC 6749 4.4 */
enum oa2_status
oa2_grant_client_credentials(const struct oa2_client *c,
    struct oa2_tokresp *tr, struct oa2_error *err)
{
	const char *secrets[] = {c->client_secret, c->client_assertion, NULL};
	struct oa2_buf form;

	if (c->client_secret == NULL || *c->client_secret == 0)
		secrets[0] = c->client_assertion, secrets[1] = NULL;
	oa2_buf_init(&form, FORM_MAX);
	return token_call(c, &form, oa2_grant_client_credentials_form(&form,
	    c->scope), secrets, tr, NULL, err);
}

/* oa2_grant_jwt_bearer - RFC 7523 2.1: no client authentication of its own */
enum oa2_status
oa2_grant_jwt_bearer(const struct oa2_client *c, const char *assertion,
    struct oa2_tokresp *tr, struct oa2_error *err)
{
	const char *secrets[] = {assertion, NULL};
	struct oa2_client bare = *c;
	struct oa2_buf form;

	/* Google wants only the assertion: no client_id, no secret. */
	bare.client_id = NULL;
	bare.client_secret = NULL;
	bare.client_assertion = NULL;
	oa2_buf_init(&form, FORM_MAX);
	return token_call(&bare, &form, oa2_grant_jwt_bearer_form(&form,
	    assertion), secrets, tr, NULL, err);
}

/* endpoint_name - "NAME at HOST" for messages */
static void
endpoint_name(const char *name, const char *url, char *buf, size_t size)
{
	char	host[256];

	oa2_url_host(url, host, sizeof(host));
	snprintf(buf, size, "%s at %s", name, host);
}

/* oa2_grant_device_start - the device authorization request */
enum oa2_status
oa2_grant_device_start(const struct oa2_client *c,
    const char *device_endpoint, struct oa2_device *d, struct oa2_error *err)
{
	const char *secrets[] = {c->client_secret, NULL};
	struct oa2_http_resp resp;
	struct oa2_buf form;
	enum oa2_status st;

	memset(d, 0, sizeof(*d));
	oa2_buf_init(&form, FORM_MAX);
	if (oa2_grant_device_form(&form, c->scope) < 0)
		st = nomem(err);
	else
		st = oa2_grant_post(c, device_endpoint, &form, &resp, err);
	oa2_buf_free(&form);
	if (st != OA2_OK)
		return st;
	if ((st = oa2_device_parse(resp.body.data, resp.body.len, resp.status,
	    d, err)) != OA2_OK)
		withhold(err, secrets);
	oa2_http_resp_free(&resp);
	return st;
}

/* oa2_grant_revoke - RFC 7009 revocation of token */
enum oa2_status
oa2_grant_revoke(const struct oa2_client *c, const char *url,
    const char *token, const char *hint, struct oa2_error *err)
{
	const char *secrets[] = {token, c->client_secret, NULL};
	struct oa2_http_resp resp;
	struct oa2_buf form;
	enum oa2_status st;
	char	who[320];

	oa2_buf_init(&form, FORM_MAX);
	if (oa2_grant_revoke_form(&form, token, hint) < 0)
		st = nomem(err);
	else
		st = oa2_grant_post(c, url, &form, &resp, err);
	oa2_buf_free(&form);
	if (st != OA2_OK)
		return st;
	if (resp.status != 200) {
		endpoint_name("revocation endpoint", url, who, sizeof(who));
		st = refused(resp.body.data, resp.body.len, resp.status, who,
		    secrets, err);
	}
	oa2_http_resp_free(&resp);
	return st;
}

/* oa2_device_decide - RFC 8628 3.5: the next step after a poll */
enum oa2_poll
oa2_device_decide(struct oa2_device *d, enum oa2_status st,
    const struct oa2_error *err)
{
	if (st == OA2_OK)
		return OA2_POLL_DONE;
	if (strcmp(err->code, "slow_down") == 0) {
		/* For this and every later request. */
		if (d->interval + 5 <= INTERVAL_MAX)
			d->interval += 5;
		return OA2_POLL_WAIT;
	}
	if (strcmp(err->code, "authorization_pending") == 0 ||
	    st == OA2_ERR_TEMP)
		return OA2_POLL_WAIT;
	return OA2_POLL_FAIL;
}
