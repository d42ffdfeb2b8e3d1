/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	authorize 3
 * SUMMARY
 *	sasl-oauth2 authorize: first consent, writing a token file
 * DESCRIPTION
 *	Finds the endpoints (a provider preset, OpenID discovery from
 *	--issuer, or --auth-url/--token-url), refuses to overwrite a token
 *	file whose refresh token still works (unless --force), gets the
 *	client secret from a file, standard input or the terminal, runs one
 *	of three flows and writes the token file (mode 0600, atomically)
 *	only when it holds a refresh token, then proves it with a refresh
 *	through oa2_access_token(), the plugin's own path:
 *
 *	loopback  RFC 8252 7.3: listen on 127.0.0.1, send the user to the
 *		  authorization URL (PKCE S256, RFC 7636; a random state),
 *		  take the code from the redirect, check the state.
 *	paste	  the same URL; the user opens it anywhere and pastes the
 *		  address the browser ends on (or the bare code).
 *	device	  RFC 8628: show the user code and the verification URL,
 *		  poll the token endpoint (authorization_pending, slow_down
 *		  adds 5 s, expired_token, access_denied).  Refused for Google:
 *		  it does not allow the Gmail scope there.
 * SECURITY
 *	The client secret never comes from argv.  The code, the verifier,
 *	the tokens and the secret live in wiped memory and are never
 *	printed; nothing is written when the state does not match, the user
 *	refuses, PKCE fails or the time runs out.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Application-specific. */
#include "oa2_explain.h"
#include "oa2_http.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "oa2_tokresp.h"
#include "sao.h"

#define URL_MAX 2048
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

enum flow { FLOW_LOOPBACK, FLOW_PASTE, FLOW_DEVICE };

struct az {
	const struct oa2_provider *preset;
	const char *provider;		/* preset name, or NULL */
	const char *issuer;
	const char *tenant;
	const char *client_id;
	const char *secret_file;
	char *secret;			/* owned, wiped */
	const char *client_auth;	/* "post" (default) or "basic" */
	const char *scope;
	const char *user;
	const char *redirect_uri;
	const char *ca_file;
	const char *owner;
	const char *file;
	const char *auth_params[16];
	int nauth_params;
	enum flow flow;
	unsigned port;
	int timeout;
	int force;
	int no_browser;
	char auth_url[URL_MAX];
	char token_url[URL_MAX];
	char device_url[URL_MAX];
	char revoke_url[URL_MAX];
};

/* ------------------------------------------------------------ endpoints */

/* copy_url - set dst from src when src is given */
static void
copy_url(char *dst, const char *src)
{
	if (src != NULL && *src)
		snprintf(dst, URL_MAX, "%s", src);
}

static void http_opts(const struct az *a, struct oa2_http_opts *o);

/* discover - fill the endpoints from the issuer's OpenID configuration */
static enum oa2_status
discover(struct az *a, struct oa2_error *err)
{
	char url[URL_MAX];
	struct oa2_http_opts o;
	struct oa2_http_resp resp = {0};
	json_error_t je;
	json_t *doc, *v;
	size_t n = strlen(a->issuer);
	enum oa2_status st;

	if (strstr(a->issuer, "/.well-known/") != NULL)
		snprintf(url, sizeof(url), "%s", a->issuer);
	else
		snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
		    (int)(n > 0 && a->issuer[n - 1] == '/' ? n - 1 : n), a->issuer);
	sao_info("reading the OpenID configuration at %s", url);
	http_opts(a, &o);
	if ((st = oa2_http_get(url, &o, &resp, err)) != OA2_OK)
		return st;
	if (resp.status != 200) {
		oa2_http_resp_free(&resp);
		return oa2_error_set(err, OA2_ERR_INPUT, "discovery",
		    "%s answered HTTP %ld: is --issuer the issuer's base URL?",
		    url, resp.status);
	}
	doc = json_loadb(resp.body.data, resp.body.len, 0, &je);
	oa2_http_resp_free(&resp);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return oa2_error_set(err, OA2_ERR_PROTO, "discovery",
		    "%s is not a JSON object", url);
	}
#define GET(field, dst) \
	if ((v = json_object_get(doc, field)) != NULL && json_is_string(v) && \
	    (dst)[0] == 0) \
		snprintf((dst), URL_MAX, "%s", json_string_value(v))
	GET("authorization_endpoint", a->auth_url);
	GET("token_endpoint", a->token_url);
	GET("device_authorization_endpoint", a->device_url);
	GET("revocation_endpoint", a->revoke_url);
#undef GET
	json_decref(doc);
	if (a->auth_url[0] == 0 || a->token_url[0] == 0)
		return oa2_error_set(err, OA2_ERR_PROTO, "discovery",
		    "%s lacks authorization_endpoint or token_endpoint: give "
		    "--auth-url and --token-url", url);
	return OA2_OK;
}

/* preset_urls - expand the preset's URLs for the tenant */
static enum oa2_status
preset_urls(struct az *a, struct oa2_error *err)
{
	const struct oa2_provider *p = a->preset;
	struct {
		const char *tmpl;
		char *dst;
	} u[] = {
		{p->auth_url, a->auth_url}, {p->token_url, a->token_url},
		{p->device_url, a->device_url}, {p->revoke_url, a->revoke_url},
	};

	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (u[i].tmpl == NULL || u[i].dst[0] != 0)
			continue;
		if (oa2_provider_url(u[i].tmpl, a->tenant, u[i].dst, URL_MAX) < 0)
			return oa2_error_set(err, OA2_ERR_INPUT, "config",
			    "--tenant %s: not a tenant id, a domain, or one of "
			    "common, organizations, consumers", a->tenant);
	}
	return OA2_OK;
}

/* ------------------------------------------------------------ token requests */

/* client_form - add client authentication to a form; sets *basic */
static int
client_form(const struct az *a, struct oa2_buf *form, int *basic)
{
	*basic = a->secret != NULL && strcmp(a->client_auth, "basic") == 0;
	if (!*basic && oa2_form_add(form, "client_id", a->client_id) < 0)
		return -1;
	if (!*basic && a->secret != NULL &&
	    oa2_form_add(form, "client_secret", a->secret) < 0)
		return -1;
	return 0;
}

/* http_opts - options for requests to the provider */
static void
http_opts(const struct az *a, struct oa2_http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ca_file = a->ca_file;
	o->max_body = 256 * 1024;
}

/* token_request - POST form (client auth added) to the token endpoint, parse */
static char *user_from_id_token(const char *idt);

static enum oa2_status
token_request(const struct az *a, const char *url, struct oa2_buf *form,
    struct oa2_tokresp *tr, char **user_out, struct oa2_error *err)
{
	struct oa2_http_opts o;
	struct oa2_http_resp resp = {0};
	enum oa2_status st;
	int basic;

	if (client_form(a, form, &basic) < 0)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	http_opts(a, &o);
	st = oa2_http_post_form(url, form->data, form->len,
	    basic ? a->client_id : NULL, basic ? a->secret : NULL, &o, &resp, err);
	if (st != OA2_OK)
		return st;
	st = oa2_tokresp_parse(resp.body.data, resp.body.len, resp.status, tr, err);
	if (st == OA2_OK && user_out != NULL) {
		json_t *doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		json_t *idt = json_object_get(doc, "id_token");

		if (json_is_string(idt))
			*user_out = user_from_id_token(json_string_value(idt));
		json_decref(doc);
	}
	oa2_http_resp_free(&resp);
	return st;
}

/* refine_code - a more precise code for a token endpoint error */
static void
refine_code(struct oa2_error *err, const struct oa2_tokresp *tr)
{
	const char *d = tr->error_description ? tr->error_description : "";
	const char *aad = strstr(d, "AADSTS");

	if (strcmp(err->code, "invalid_grant") == 0 &&
	    (strstr(d, "PKCE") || strstr(d, "code_verifier") ||
	    strstr(d, "code verifier")))
		snprintf(err->code, sizeof(err->code), "pkce");
	else if (aad != NULL && oa2_explain_find(aad) != NULL)
		snprintf(err->code, sizeof(err->code), "%s",
		    oa2_explain_find(aad)->code);
	else if (strstr(d, "out-of-band") != NULL || strstr(d, "OOB") != NULL)
		snprintf(err->code, sizeof(err->code), "oob_blocked");
}

/* ------------------------------------------------------------ the redirect */

struct redirect_ctx {
	const char *state;
};

/* page - what the browser shows after the redirect */
static const char *
page(const char *query, void *arg)
{
	struct redirect_ctx *r = arg;
	char *state = sao_query_param(query, "state");
	char *error = sao_query_param(query, "error");
	const char *out;

	if (state == NULL || strcmp(state, r->state) != 0)
		out = "<!doctype html><title>sasl-oauth2</title><h1>Refused</h1>"
		    "<p>This answer does not belong to the running sasl-oauth2 "
		    "authorize (state mismatch). Nothing was saved.</p>";
	else if (error != NULL)
		out = "<!doctype html><title>sasl-oauth2</title><h1>Not "
		    "authorized</h1><p>The provider said no. See the terminal for "
		    "what to do.</p>";
	else
		out = "<!doctype html><title>sasl-oauth2</title><h1>Done</h1>"
		    "<p>sasl-oauth2 received the authorization. You can close this "
		    "tab and go back to the terminal.</p>";
	oa2_free(state);
	oa2_free(error);
	return out;
}

/* take_code - check state and error in a redirect query; return the code */
static char *
take_code(const char *query, const char *state, int require_state,
    struct oa2_error *err)
{
	char *got_state = sao_query_param(query, "state");
	char *error = sao_query_param(query, "error");
	char *desc = sao_query_param(query, "error_description");
	char *code = NULL;

	if (got_state == NULL && require_state)
		oa2_error_set(err, OA2_ERR_PERM, "state_mismatch",
		    "the redirect carries no state: nothing was written");
	else if (got_state != NULL && strcmp(got_state, state) != 0)
		oa2_error_set(err, OA2_ERR_PERM, "state_mismatch",
		    "the redirect's state does not match the one this run sent "
		    "(a stale or forged answer): nothing was written");
	else if (error != NULL) {
		oa2_error_set(err, OA2_ERR_PERM, error, "the provider refused "
		    "the authorization: %.64s%s%.200s%s: nothing was written",
		    error, desc ? " (\"" : "", desc ? desc : "", desc ? "\")" : "");
		if (desc != NULL && strstr(desc, "AADSTS") != NULL &&
		    oa2_explain_find(strstr(desc, "AADSTS")) != NULL)
			snprintf(err->code, sizeof(err->code), "%s",
			    oa2_explain_find(strstr(desc, "AADSTS"))->code);
	} else if ((code = sao_query_param(query, "code")) == NULL || *code == 0) {
		oa2_free_secret(&code);
		oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the redirect carries neither a code nor an error");
	}
	oa2_free(got_state);
	oa2_free(error);
	oa2_free(desc);
	return code;
}

/* open_browser - start the desktop's browser on url, when there is one */
static void
open_browser(const char *url)
{
	const char *browser = getenv("BROWSER");
	const char *argv0 = NULL;
	pid_t pid;

	if (browser == NULL && getenv("DISPLAY") == NULL &&
	    getenv("WAYLAND_DISPLAY") == NULL)
		return;
	if (browser != NULL && *browser)
		argv0 = browser;
	else if (access("/usr/bin/xdg-open", X_OK) == 0)
		argv0 = "/usr/bin/xdg-open";
	else
		return;
	if ((pid = fork()) == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp(argv0, argv0, url, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		sao_info("opening the browser (%s)", argv0);
}

/* auth_url - build the authorization request URL */
static int
build_auth_url(const struct az *a, const char *redirect, const char *state,
    const char *challenge, struct oa2_buf *url)
{
	oa2_buf_init(url, 16 * 1024);
	if (oa2_buf_puts(url, a->auth_url) < 0 ||
	    sao_url_append(url, "response_type", "code") < 0 ||
	    sao_url_append(url, "client_id", a->client_id) < 0 ||
	    sao_url_append(url, "redirect_uri", redirect) < 0 ||
	    sao_url_append(url, "scope", a->scope) < 0 ||
	    sao_url_append(url, "state", state) < 0 ||
	    sao_url_append(url, "code_challenge", challenge) < 0 ||
	    sao_url_append(url, "code_challenge_method", "S256") < 0)
		return -1;
	if (a->user != NULL && sao_url_append(url, "login_hint", a->user) < 0)
		return -1;
	if (a->preset != NULL && a->preset->extra_auth_params != NULL &&
	    (oa2_buf_putc(url, '&') < 0 ||
	    oa2_buf_puts(url, a->preset->extra_auth_params) < 0))
		return -1;
	for (int i = 0; i < a->nauth_params; i++) {
		char name[128];
		const char *eq = strchr(a->auth_params[i], '=');

		snprintf(name, sizeof(name), "%.*s", (int)(eq - a->auth_params[i]),
		    a->auth_params[i]);
		if (sao_url_append(url, name, eq + 1) < 0)
			return -1;
	}
	return 0;
}

/* code_flow - loopback or paste; on OA2_OK tr holds the token reply */
static enum oa2_status
code_flow(struct az *a, struct oa2_tokresp *tr, char **user_out,
    struct oa2_error *err)
{
	char verifier[64], challenge[64], state[32], redirect[URL_MAX];
	struct sao_loopback lb = {.fd = {-1, -1}};
	struct redirect_ctx rctx;
	struct oa2_buf url, form;
	char *query = NULL, *code = NULL;
	enum oa2_status st;
	unsigned paste_port = 0;
	int tty = sao_isatty_err();

	if (sao_random_b64url(verifier, 32) < 0 || sao_random_b64url(state, 16) < 0 ||
	    sao_pkce_challenge(verifier, challenge, sizeof(challenge)) < 0)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
		    "no random bytes from OpenSSL");
	if (a->flow == FLOW_LOOPBACK) {
		if (sao_loopback_open(&lb, a->redirect_uri, a->port, err) < 0)
			return err->status;
		sao_loopback_uri(&lb, redirect, sizeof(redirect));
	} else {
		char host[64], path[256];
		unsigned port;

		if (sao_parse_redirect_uri(a->redirect_uri, host, sizeof(host), &port,
		    path, sizeof(path)) < 0)
			return oa2_error_set(err, OA2_ERR_INPUT, "redirect_uri_mismatch",
			    "--redirect-uri %s: must be a loopback http:// URI",
			    a->redirect_uri);
		if (a->port)
			port = a->port;
		if (port == 0) {
			unsigned char r[2];

			if (RAND_bytes(r, 2) != 1)
				return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
				    "no random bytes from OpenSSL");
			port = 49152 + ((unsigned)r[0] << 8 | r[1]) % 16000;
		}
		snprintf(redirect, sizeof(redirect), "http://%s:%u%s", host, port,
		    path);
		paste_port = port;
	}
	if (build_auth_url(a, redirect, state, challenge, &url) < 0) {
		oa2_buf_free(&url);
		sao_loopback_close(&lb);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}

	fprintf(stderr, "Open this URL in a browser, sign in as %s and allow "
	    "access:\n\n", a->user ? a->user : "the mail account");
	fflush(stderr);
	printf("%s\n", url.data);
	fflush(stdout);
	fputc('\n', stderr);
	sao_qr_print(stderr, url.data);

	if (a->flow == FLOW_LOOPBACK) {
		if (!a->no_browser)
			open_browser(url.data);
		if (!tty)
			sao_info("waiting for the browser to come back to %s "
			    "(timeout %d s)", redirect, a->timeout);
		sao_info("(browser on another machine? ssh -L %u:127.0.0.1:%u "
		    "this-host, or use --flow paste)", lb.port, lb.port);
		rctx.state = state;
		query = sao_loopback_wait(&lb, a->timeout, page, &rctx,
		    tty && !sao_quiet, err);
		sao_loopback_close(&lb);
		oa2_buf_free(&url);
		if (query == NULL)
			return err->status;
		code = take_code(query, state, 1, err);
	} else {
		fprintf(stderr, "After you allow access, the browser goes to %s... "
		    "and shows an error\n(nothing listens there). Copy the whole "
		    "address from the address bar and paste it here\n(or only the "
		    "value of code=). Alternative: ssh -L %u:127.0.0.1:%u to this "
		    "host\nand run authorize with --flow loopback --port %u.\n"
		    "Paste the address: ", redirect, paste_port, paste_port,
		    paste_port);
		fflush(stderr);
		oa2_buf_free(&url);
		query = sao_read_line(16 * 1024, a->timeout);
		if (query == NULL)
			return oa2_error_set(err, OA2_ERR_TEMP, "consent_timeout",
			    "nothing pasted within %d s: nothing was written",
			    a->timeout);
		if (strncmp(query, "http", 4) == 0 || strstr(query, "code=") != NULL)
			code = take_code(query, state,
			    strncmp(query, "http", 4) == 0, err);
		else if (*query) {
			sao_info("a bare code was pasted: its state cannot be "
			    "checked (PKCE still binds it to this run)");
			code = oa2_strdup(query);
		} else
			oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
			    "nothing was pasted");
	}
	oa2_free_secret(&query);
	if (code == NULL)
		return err->status != OA2_OK ? err->status :
		    oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");

	sao_info("exchanging the authorization code at %s", a->token_url);
	oa2_buf_init(&form, 64 * 1024);
	if (oa2_form_add(&form, "grant_type", "authorization_code") < 0 ||
	    oa2_form_add(&form, "code", code) < 0 ||
	    oa2_form_add(&form, "redirect_uri", redirect) < 0 ||
	    oa2_form_add(&form, "code_verifier", verifier) < 0)
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	else if ((st = token_request(a, a->token_url, &form, tr, user_out,
	    err)) != OA2_OK) {
		refine_code(err, tr);
		/* At the exchange, a refused grant is this run's code: PKCE. */
		if (strcmp(err->code, "invalid_grant") == 0 ||
		    strcmp(err->code, "pkce") == 0) {
			snprintf(err->code, sizeof(err->code), "pkce");
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) -
			    strlen(err->msg), ": the authorization code was refused "
			    "(PKCE code verifier mismatch, or the code was used "
			    "twice or expired): nothing was written");
		}
	}
	oa2_buf_free(&form);
	oa2_free_secret(&code);
	oa2_wipe(verifier, sizeof(verifier));
	return st;
}

/* ------------------------------------------------------------ device flow */

/* show_code - the user code, large, with the page to open */
static void
show_code(const char *code, const char *uri, const char *complete)
{
	size_t n = strlen(code);
	char spaced[256];
	size_t j = 0;

	for (size_t i = 0; i < n && j + 3 < sizeof(spaced); i++) {
		spaced[j++] = code[i];
		if (i + 1 < n)
			spaced[j++] = ' ';
	}
	spaced[j] = 0;
	fprintf(stderr, "On any device, open\n\n    %s\n\nand enter the code\n\n",
	    uri);
	fprintf(stderr, "    +");
	for (size_t i = 0; i < j + 6; i++)
		fputc('-', stderr);
	fprintf(stderr, "+\n    |   %s   |\n    +", spaced);
	for (size_t i = 0; i < j + 6; i++)
		fputc('-', stderr);
	fprintf(stderr, "+\n\n");
	fflush(stderr);
	printf("%s\n", complete ? complete : uri);
	fflush(stdout);
	sao_qr_print(stderr, complete ? complete : uri);
}

/* jstr - a string member or NULL */
static const char *
jstr(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* jint - an integer member (or digit string), else def */
static long long
jint(json_t *o, const char *name, long long def)
{
	json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && sao_parse_epoch(json_string_value(v)) >= 0)
		return sao_parse_epoch(json_string_value(v));
	return def;
}

static enum oa2_status
device_flow(struct az *a, struct oa2_tokresp *tr, char **user_out,
    struct oa2_error *err)
{
	struct oa2_http_resp resp = {0};
	struct oa2_http_opts o;
	struct oa2_buf form;
	json_error_t je;
	json_t *doc = NULL;
	char *device_code = NULL;
	long long interval, expires_in;
	time_t deadline;
	enum oa2_status st;
	int basic, tty = sao_isatty_err() && !sao_quiet;

	if (a->device_url[0] == 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "unsupported_grant_type",
		    "no device authorization endpoint known for this provider: "
		    "give --device-url, or use --flow loopback or paste");
	oa2_buf_init(&form, 16 * 1024);
	if (oa2_form_add(&form, "scope", a->scope) < 0 ||
	    client_form(a, &form, &basic) < 0) {
		oa2_buf_free(&form);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}
	http_opts(a, &o);
	st = oa2_http_post_form(a->device_url, form.data, form.len,
	    basic ? a->client_id : NULL, basic ? a->secret : NULL, &o, &resp, err);
	oa2_buf_free(&form);
	if (st != OA2_OK)
		return st;
	doc = json_loadb(resp.body.data, resp.body.len, 0, &je);
	if (resp.status / 100 != 2) {
		struct oa2_tokresp etr = {0};

		st = oa2_tokresp_parse(resp.body.data, resp.body.len, resp.status,
		    &etr, err);
		if (st == OA2_OK)
			st = oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
			    "device authorization endpoint answered HTTP %ld",
			    resp.status);
		refine_code(err, &etr);
		oa2_tokresp_free(&etr);
		goto out;
	}
	if (doc == NULL || jstr(doc, "device_code") == NULL ||
	    jstr(doc, "user_code") == NULL || (jstr(doc, "verification_uri") ==
	    NULL && jstr(doc, "verification_url") == NULL)) {
		st = oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "the device authorization reply lacks device_code, user_code "
		    "or verification_uri");
		goto out;
	}
	device_code = oa2_strdup(jstr(doc, "device_code"));
	interval = jint(doc, "interval", 5);
	if (interval < 1 || interval > 60)
		interval = 5;
	expires_in = jint(doc, "expires_in", 600);
	if (expires_in > a->timeout)
		expires_in = a->timeout;
	deadline = time(NULL) + (time_t)expires_in;
	show_code(jstr(doc, "user_code"), jstr(doc, "verification_uri") ?
	    jstr(doc, "verification_uri") : jstr(doc, "verification_url"),
	    jstr(doc, "verification_uri_complete"));
	if (!tty)
		sao_info("waiting for the code to be entered (%lld s)", expires_in);

	for (;;) {
		long left = (long)(deadline - time(NULL));

		if (left <= 0) {
			st = oa2_error_set(err, OA2_ERR_PERM, "expired_token",
			    "the code was not entered in time: nothing was written");
			break;
		}
		for (long long s = 0; s < interval && time(NULL) < deadline; s++) {
			left = (long)(deadline - time(NULL));
			if (tty) {
				fprintf(stderr, "\rwaiting for the code to be entered "
				    "... %ld:%02ld left ", left / 60, left % 60);
				fflush(stderr);
			}
			sleep(1);
		}
		oa2_buf_init(&form, 16 * 1024);
		if (oa2_form_add(&form, "grant_type", DEVICE_GRANT) < 0 ||
		    oa2_form_add(&form, "device_code", device_code) < 0) {
			oa2_buf_free(&form);
			st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
			break;
		}
		st = token_request(a, a->token_url, &form, tr, user_out, err);
		oa2_buf_free(&form);
		if (st == OA2_OK)
			break;
		if (strcmp(err->code, "authorization_pending") == 0 ||
		    (st == OA2_ERR_TEMP && strcmp(err->code, "slow_down") != 0)) {
			oa2_tokresp_free(tr);
			continue;
		}
		if (strcmp(err->code, "slow_down") == 0) {
			interval += 5;	/* RFC 8628 3.5 */
			oa2_tokresp_free(tr);
			continue;
		}
		refine_code(err, tr);
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) -
		    strlen(err->msg), ": nothing was written");
		break;
	}
	if (tty)
		fputc('\n', stderr);
out:
	oa2_free_secret(&device_code);
	json_decref(doc);
	oa2_http_resp_free(&resp);
	return st;
}

/* ------------------------------------------------------------ the token file */

/* user_from_id_token - the email (or preferred_username) claim, unverified:
 * the id_token came straight from the token endpoint over TLS. */
static char *
user_from_id_token(const char *idt)
{
	const char *p = idt ? strchr(idt, '.') : NULL, *e;
	unsigned char *raw;
	char *b64, *out = NULL;
	json_t *doc;
	size_t n;
	int len;

	if (p == NULL || (e = strchr(p + 1, '.')) == NULL)
		return NULL;
	n = (size_t)(e - p - 1);
	if (n > 16384 || (b64 = oa2_malloc(n + 4)) == NULL)
		return NULL;
	memcpy(b64, p + 1, n);
	for (size_t i = 0; i < n; i++)
		b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = 0;
	raw = oa2_malloc(n);
	len = raw ? EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n) : -1;
	oa2_free(b64);
	if (len > 0) {
		while (len > 0 && raw[len - 1] == 0)
			len--;
		if ((doc = json_loadb((char *)raw, (size_t)len, 0, NULL)) != NULL) {
			const char *u = jstr(doc, "email");

			if (u == NULL)
				u = jstr(doc, "preferred_username");
			if (u != NULL && strchr(u, '@') != NULL)
				out = oa2_strdup(u);
			json_decref(doc);
		}
	}
	oa2_free(raw);
	return out;
}

/* existing_token_works - 1 refuse (works or cannot tell), 0 replace, -1 error printed */
static int
existing_token_check(const struct az *a, const struct oa2_config *cfg)
{
	struct oa2_refresh_opts ro = {.cfg = cfg, .force = 1};
	struct oa2_refresh_info info;
	struct oa2_token tok;
	struct oa2_error err;
	struct stat st;
	enum oa2_status s;

	if (lstat(a->file, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		sao_warn("%s: exists and is not a regular file", a->file);
		return -1;
	}
	if (a->force)
		return 0;
	sao_info("%s exists: checking whether its refresh token still works",
	    a->file);
	s = oa2_access_token(a->file, &ro, &tok, &info, &err);
	if (s == OA2_OK) {
		oa2_token_free(&tok);
		sao_warn("%s holds a refresh token that works (it was just "
		    "refreshed): not replacing it", a->file);
		sao_explain(stderr, "token_exists", "  ");
		return 1;
	}
	if (s == OA2_ERR_TEMP) {
		sao_warn("%s: cannot tell whether its refresh token works: %s",
		    a->file, err.msg);
		sao_explain(stderr, "token_exists", "  ");
		return 1;
	}
	sao_info("%s: its refresh token does not work (%s): replacing it",
	    a->file, err.code);
	return 0;
}

/* write_token - a new token file from the reply */
static enum oa2_status
write_token(const struct az *a, const struct oa2_tokresp *tr, const char *user,
    struct oa2_error *err)
{
	struct oa2_token tok;
	char now[32];
	enum oa2_status st;
	long long expires_in = tr->expires_in > 0 ? tr->expires_in : 3600;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if ((st = oa2_token_new(&tok, err)) != OA2_OK)
		return st;
#define SET(name, value) \
	if (st == OA2_OK && (value) != NULL && *(value)) \
		st = oa2_token_set_string(&tok, name, value, err)
	SET("refresh_token", tr->refresh_token);
	if (st == OA2_OK)
		st = oa2_token_update(&tok, tr->access_token,
		    (long long)time(NULL) + expires_in, NULL, err);
	SET("user", user);
	SET("provider", a->provider);
	SET("tenant", a->preset && a->preset->has_tenant ? a->tenant : NULL);
	SET("client_id", a->client_id);
	SET("client_secret", a->secret);
	if (st == OA2_OK && a->secret != NULL && strcmp(a->client_auth, "basic") == 0)
		st = oa2_token_set_string(&tok, "client_auth", "basic", err);
	if (a->preset == NULL)
		SET("token_endpoint", a->token_url);
	/* Refresh asks for what was granted: Microsoft needs its resource
	 * scope sent (AADSTS90009); others may have granted less than asked. */
	if (a->preset != NULL && a->preset->has_tenant) {
		SET("scope", a->scope);
	} else {
		SET("scope", tr->scope);
	}
	SET("ca_bundle_file", a->ca_file);
	if (a->preset == NULL || a->preset->revoke_url == NULL)
		SET("revocation_endpoint", a->revoke_url);
	SET("authorized_at", now);
#undef SET
	if (st == OA2_OK)
		st = oa2_token_save(&tok, a->file, err);
	oa2_token_free(&tok);
	return st;
}

/* ------------------------------------------------------------ main */

enum {
	O_PROVIDER = 256, O_ISSUER, O_AUTH_URL, O_TOKEN_URL, O_DEVICE_URL,
	O_REVOKE_URL, O_TENANT, O_CLIENT_ID, O_SECRET_FILE, O_CLIENT_AUTH,
	O_SCOPE, O_USER, O_FLOW, O_REDIRECT, O_PORT, O_TIMEOUT, O_AUTH_PARAM,
	O_CA_FILE, O_OWNER
};

static const struct option opts[] = {
	{"force", no_argument, NULL, 'f'},
	{"no-browser", no_argument, NULL, 'n'},
	{"quiet", no_argument, NULL, 'q'},
	{"provider", required_argument, NULL, O_PROVIDER},
	{"issuer", required_argument, NULL, O_ISSUER},
	{"auth-url", required_argument, NULL, O_AUTH_URL},
	{"token-url", required_argument, NULL, O_TOKEN_URL},
	{"device-url", required_argument, NULL, O_DEVICE_URL},
	{"revoke-url", required_argument, NULL, O_REVOKE_URL},
	{"tenant", required_argument, NULL, O_TENANT},
	{"client-id", required_argument, NULL, O_CLIENT_ID},
	{"client-secret-file", required_argument, NULL, O_SECRET_FILE},
	{"client-auth", required_argument, NULL, O_CLIENT_AUTH},
	{"scope", required_argument, NULL, O_SCOPE},
	{"user", required_argument, NULL, O_USER},
	{"flow", required_argument, NULL, O_FLOW},
	{"redirect-uri", required_argument, NULL, O_REDIRECT},
	{"port", required_argument, NULL, O_PORT},
	{"timeout", required_argument, NULL, O_TIMEOUT},
	{"auth-param", required_argument, NULL, O_AUTH_PARAM},
	{"ca-file", required_argument, NULL, O_CA_FILE},
	{"owner", required_argument, NULL, O_OWNER},
	{NULL, 0, NULL, 0}
};

/* number - a decimal option value in [lo, hi] */
static long
number(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		sao_die(EX_USAGE, "--%s %s: want a number from %ld to %ld", opt, s,
		    lo, hi);
	return v;
}

int
cmd_authorize(int argc, char **argv)
{
	struct az a = {.client_auth = "post", .timeout = 300};
	struct oa2_refresh_opts ro;
	struct oa2_refresh_info info;
	struct oa2_tokresp tr = {0};
	struct oa2_token tok;
	struct oa2_config cfg;
	struct oa2_error err;
	const char *flow = NULL;
	char *user = NULL, dir[4096], when[64];
	enum oa2_status st;
	int c, ex;

	while ((c = getopt_long(argc, argv, "fnq", opts, NULL)) != -1) {
		switch (c) {
		case 'f': a.force = 1; break;
		case 'n': a.no_browser = 1; break;
		case 'q': sao_quiet = 1; break;
		case O_PROVIDER: a.provider = optarg; break;
		case O_ISSUER: a.issuer = optarg; break;
		case O_AUTH_URL: copy_url(a.auth_url, optarg); break;
		case O_TOKEN_URL: copy_url(a.token_url, optarg); break;
		case O_DEVICE_URL: copy_url(a.device_url, optarg); break;
		case O_REVOKE_URL: copy_url(a.revoke_url, optarg); break;
		case O_TENANT: a.tenant = optarg; break;
		case O_CLIENT_ID: a.client_id = optarg; break;
		case O_SECRET_FILE: a.secret_file = optarg; break;
		case O_CLIENT_AUTH: a.client_auth = optarg; break;
		case O_SCOPE: a.scope = optarg; break;
		case O_USER: a.user = optarg; break;
		case O_FLOW: flow = optarg; break;
		case O_REDIRECT: a.redirect_uri = optarg; break;
		case O_PORT: a.port = (unsigned)number("port", optarg, 1, 65535); break;
		case O_TIMEOUT: a.timeout = (int)number("timeout", optarg, 1, 86400); break;
		case O_AUTH_PARAM:
			if (strchr(optarg, '=') == NULL || *optarg == '=' ||
			    a.nauth_params >= 16)
				sao_die(EX_USAGE, "--auth-param wants name=value "
				    "(at most 16)");
			a.auth_params[a.nauth_params++] = optarg;
			break;
		case O_CA_FILE: a.ca_file = optarg; break;
		case O_OWNER: a.owner = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	a.file = argv[optind];

	/* Where to go. */
	if (a.provider != NULL && (a.preset = oa2_provider_find(a.provider)) == NULL)
		sao_die(EX_USAGE, "--provider %s: use one of %s, or --issuer URL",
		    a.provider, oa2_provider_names());
	if (a.preset != NULL && a.issuer != NULL)
		sao_die(EX_USAGE, "give --provider or --issuer, not both");
	if (a.client_id == NULL)
		sao_die(EX_USAGE, "--client-id is required: the OAuth client's id "
		    "from the provider's console (see sasl-oauth2(1), EXAMPLES)");
	if (strcmp(a.client_auth, "post") != 0 && strcmp(a.client_auth, "basic") != 0)
		sao_die(EX_USAGE, "--client-auth must be post or basic");
	if (a.tenant != NULL && (a.preset == NULL || !a.preset->has_tenant))
		sao_die(EX_USAGE, "--tenant goes with --provider microsoft only");
	if (flow == NULL || strcmp(flow, "loopback") == 0)
		a.flow = FLOW_LOOPBACK;
	else if (strcmp(flow, "paste") == 0)
		a.flow = FLOW_PASTE;
	else if (strcmp(flow, "device") == 0)
		a.flow = FLOW_DEVICE;
	else
		sao_die(EX_USAGE, "--flow must be loopback, paste or device");
	if (a.flow == FLOW_DEVICE && a.preset != NULL &&
	    strcmp(a.preset->name, "google") == 0) {
		sao_warn("Google does not allow the Gmail scope in the device flow: "
		    "use --flow loopback, or --flow paste on a headless server");
		sao_explain(stderr, "device_flow_gmail", "  ");
		return EX_USAGE;
	}
	if (a.redirect_uri == NULL)
		a.redirect_uri = a.preset != NULL && a.preset->has_tenant ?
		    "http://localhost/" : "http://127.0.0.1/";
	if (a.scope == NULL)
		a.scope = a.preset != NULL ? a.preset->scope : "openid email offline_access";

	if (a.preset != NULL && preset_urls(&a, &err) != OA2_OK)
		return sao_report(&err);
	if (a.issuer != NULL && discover(&a, &err) != OA2_OK)
		return sao_report(&err);
	if (a.token_url[0] == 0 || (a.flow != FLOW_DEVICE && a.auth_url[0] == 0))
		sao_die(EX_USAGE, "no endpoints: give --provider NAME, --issuer URL, "
		    "or --auth-url URL and --token-url URL");

	/* Before anyone clicks anything: can we write, must we? */
	snprintf(dir, sizeof(dir), "%s", a.file);
	if (access(dirname(dir), W_OK | X_OK) < 0)
		sao_die(EX_CANTCREAT, "%s: cannot create files in %s: %s", a.file,
		    dir, strerror(errno));
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	if ((c = existing_token_check(&a, &cfg)) != 0) {
		oa2_config_free(&cfg);
		return c > 0 ? EX_CANTCREAT : EX_CONFIG;
	}

	/* The client secret: a file, standard input, the terminal, or none. */
	if (a.secret_file != NULL) {
		if ((a.secret = sao_read_secret_file(a.secret_file)) == NULL)
			return EX_NOINPUT;
	} else if (isatty(0)) {
		a.secret = sao_prompt_secret("Client secret (empty for a public "
		    "client): ");
		if (a.secret != NULL && *a.secret == 0)
			oa2_free_secret(&a.secret);
	}

	st = a.flow == FLOW_DEVICE ? device_flow(&a, &tr, &user, &err) :
	    code_flow(&a, &tr, &user, &err);
	if (st != OA2_OK) {
		ex = sao_report(&err);
		goto out;
	}
	if (tr.refresh_token == NULL || *tr.refresh_token == 0) {
		oa2_error_set(&err, OA2_ERR_PERM, "no_refresh_token",
		    "the provider granted access but sent no refresh token: "
		    "nothing was written");
		ex = sao_report(&err);
		goto out;
	}
	if (a.user != NULL) {
		if (user != NULL && strcasecmp(user, a.user) != 0)
			sao_warn("warning: the provider says the account is %s, not "
			    "--user %s: the mail server will refuse %s", user,
			    a.user, a.user);
		oa2_free(user);
		user = oa2_strdup(a.user);
	}

	if ((st = write_token(&a, &tr, user, &err)) != OA2_OK) {
		ex = sao_report(&err);
		goto out;
	}
	if (a.owner != NULL && sao_chown_spec(a.file, a.owner) < 0) {
		ex = EX_NOPERM;
		goto out;
	}
	sao_info("wrote %s (mode 0600); verifying it with a refresh", a.file);

	/* Prove it: the plugin's own path. */
	memset(&ro, 0, sizeof(ro));
	ro.cfg = &cfg;
	ro.force = 1;
	if ((st = oa2_access_token(a.file, &ro, &tok, &info, &err)) != OA2_OK) {
		sao_warn("the token was written but the verifying refresh failed");
		ex = sao_report(&err);
		goto out;
	}
	oa2_token_free(&tok);
	if (sao_stamp(a.file, "refreshed_at", &err) < 0)
		sao_report(&err);
	sao_fmt_time(info.expires_at, when, sizeof(when));
	sao_info("done: %s works%s%s; access token valid until %s%s", a.file,
	    user ? " for " : "", user ? user : "", when,
	    info.rotated ? " (the provider rotates refresh tokens: let only the "
	    "plugin and sasl-oauth2 refresh this file)" : "");
	if (!sao_quiet) {
		fprintf(stderr, "next: sasl-oauth2 test %s --smtp HOST:PORT\n",
		    a.file);
		if (user == NULL)
			fprintf(stderr, "note: no --user given: the login name must "
			    "come from the application (Postfix sasl_passwd user)\n");
	}
	ex = EX_OK;
out:
	oa2_free(user);
	oa2_tokresp_free(&tr);
	oa2_free_secret(&a.secret);
	oa2_config_free(&cfg);
	return ex;
}
