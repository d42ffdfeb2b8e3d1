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
#include <grp.h>
#include <pwd.h>
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
#include <openssl/rand.h>

/* Application-specific. */
#include "oa2_explain.h"
#include "oa2_grant.h"
#include "oa2_json.h"
#include "oa2_limits.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "oa2_tokresp.h"
#include "sao.h"

#define URL_MAX 2048
/* What authorize's user fixes when the provider's certificate is refused. */
#define AZ_CA_FIX "give --ca-file with the CA that signed it, or fix the " \
	"host name in the URL"

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
	struct oa2_client client;	/* what the grant module needs */
	const char *scope;
	const char *user;
	const char *redirect_uri;
	const char *ca_file;		/* as the tool opens it (outside a chroot) */
	char *ca_in;			/* as the file records it; owned */
	char *ca_out;			/* ca_file when made here; owned */
	struct sao_chroot root;		/* --chroot, or the queue directory of a file under it */
	const char *owner;
	const char *file;
	const char *auth_params[17];	/* NULL-ended */
	int nauth_params;
	enum flow flow;
	unsigned port;
	int timeout;
	int force;
	int no_browser;
	struct oa2_token prev;		/* the file being replaced, if it loads */
	int have_prev;
	char owner_buf[160];
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

/* discover - fill the endpoints from the issuer's OpenID configuration */
static enum oa2_status
discover(struct az *a, struct oa2_error *err)
{
	char url[URL_MAX];
	struct oa2_discovery d;
	struct oa2_http_opts o = {0};
	struct oa2_http_resp resp = {0};
	size_t n = strlen(a->issuer);
	enum oa2_status st;

	if (strstr(a->issuer, "/.well-known/") != NULL)
		snprintf(url, sizeof(url), "%s", a->issuer);
	else
		snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
		    (int)(n > 0 && a->issuer[n - 1] == '/' ? n - 1 : n), a->issuer);
	sao_info("reading the OpenID configuration at %s", url);
	o.ca_file = a->ca_file;
	o.ca_fix = AZ_CA_FIX;
	o.peer = "issuer";
	o.max_body = OA2_TOKEN_REPLY_MAX;
	if ((st = oa2_http_get(url, &o, &resp, err)) != OA2_OK)
		return st;
	st = oa2_discovery_parse(resp.body.data, resp.body.len, resp.status,
	    url, &d, err);
	oa2_http_resp_free(&resp);
	if (st != OA2_OK)
		return st;
	/* What the command line gave wins. */
	if (a->auth_url[0] == 0)
		copy_url(a->auth_url, d.authorization_endpoint);
	if (a->token_url[0] == 0)
		copy_url(a->token_url, d.token_endpoint);
	if (a->device_url[0] == 0)
		copy_url(a->device_url, d.device_authorization_endpoint);
	if (a->revoke_url[0] == 0)
		copy_url(a->revoke_url, d.revocation_endpoint);
	oa2_discovery_free(&d);
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

/* refine_code - a more precise code for a refusal, from its description */
static void
refine_code(struct oa2_error *err)
{
	const char *aad = strstr(err->msg, "AADSTS");

	if (strcmp(err->code, "invalid_grant") == 0 &&
	    (strstr(err->msg, "PKCE") || strstr(err->msg, "code_verifier") ||
	    strstr(err->msg, "code verifier")))
		snprintf(err->code, sizeof(err->code), "pkce");
	else if (aad != NULL && oa2_explain_find(aad) != NULL)
		snprintf(err->code, sizeof(err->code), "%s",
		    oa2_explain_find(aad)->code);
	else if (strstr(err->msg, "out-of-band") != NULL ||
	    strstr(err->msg, "OOB") != NULL)
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
	char *state = oa2_query_param(query, "state");
	char *error = oa2_query_param(query, "error");
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

/* code_flow - loopback or paste; on OA2_OK tr holds the token reply */
static enum oa2_status
code_flow(struct az *a, struct oa2_tokresp *tr, char **user_out,
    struct oa2_error *err)
{
	char redirect[URL_MAX];
	struct sao_loopback lb = {.fd = {-1, -1}};
	struct redirect_ctx rctx;
	struct oa2_authz_req req;
	struct oa2_pkce pkce;
	struct oa2_buf url;
	char *query = NULL, *code = NULL;
	enum oa2_status st;
	unsigned paste_port = 0;
	int tty = sao_isatty_err();

	if (oa2_pkce_new(&pkce) < 0)
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
	req = (struct oa2_authz_req){
		.authorization_endpoint = a->auth_url, .client_id = a->client_id,
		.redirect_uri = redirect, .scope = a->scope, .login_hint = a->user,
		.extra = a->preset ? a->preset->extra_auth_params : NULL,
		.params = a->auth_params,
	};
	if (oa2_authz_url(&req, &pkce, &url) < 0) {
		oa2_buf_free(&url);
		sao_loopback_close(&lb);
		oa2_wipe(&pkce, sizeof(pkce));
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
		rctx.state = pkce.state;
		query = sao_loopback_wait(&lb, a->timeout, page, &rctx,
		    tty && !sao_quiet, err);
		sao_loopback_close(&lb);
		oa2_buf_free(&url);
		if (query == NULL)
			return err->status;
		code = oa2_authz_reply(query, pkce.state, 1, err);
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
			code = oa2_authz_reply(query, pkce.state,
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
	if (code == NULL) {
		oa2_wipe(&pkce, sizeof(pkce));
		refine_code(err);
		return err->status != OA2_OK ? err->status :
		    oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}

	sao_info("exchanging the authorization code at %s", a->token_url);
	if ((st = oa2_grant_code(&a->client, code, redirect, pkce.verifier, tr,
	    user_out, err)) != OA2_OK) {
		refine_code(err);
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
	oa2_free_secret(&code);
	oa2_wipe(&pkce, sizeof(pkce));
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

/* device_flow - RFC 8628: show the code, poll; on OA2_OK tr holds the reply */
static enum oa2_status
device_flow(struct az *a, struct oa2_tokresp *tr, char **user_out,
    struct oa2_error *err)
{
	struct oa2_device d;
	long long expires_in;
	time_t deadline;
	enum oa2_status st;
	enum oa2_poll next;
	int tty = sao_isatty_err() && !sao_quiet;

	memset(tr, 0, sizeof(*tr));
	if (a->device_url[0] == 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "unsupported_grant_type",
		    "no device authorization endpoint known for this provider: "
		    "give --device-url, or use --flow loopback or paste");
	if ((st = oa2_grant_device_start(&a->client, a->device_url, &d,
	    err)) != OA2_OK) {
		refine_code(err);
		return st;
	}
	expires_in = d.expires_in < a->timeout ? d.expires_in : a->timeout;
	deadline = time(NULL) + (time_t)expires_in;
	show_code(d.user_code, d.verification_uri, d.verification_uri_complete);
	if (!tty)
		sao_info("waiting for the code to be entered (%lld s)", expires_in);

	for (;;) {
		long left = (long)(deadline - time(NULL));

		if (left <= 0) {
			st = oa2_error_set(err, OA2_ERR_PERM, "expired_token",
			    "the code was not entered in time: nothing was written");
			break;
		}
		for (long long s = 0; s < d.interval && time(NULL) < deadline; s++) {
			left = (long)(deadline - time(NULL));
			if (tty) {
				fprintf(stderr, "\rwaiting for the code to be entered "
				    "... %ld:%02ld left ", left / 60, left % 60);
				fflush(stderr);
			}
			sleep(1);
		}
		st = oa2_grant_device_poll(&a->client, &d, tr, user_out, err);
		if ((next = oa2_device_decide(&d, st, err)) == OA2_POLL_DONE)
			break;
		if (next == OA2_POLL_WAIT) {
			oa2_tokresp_free(tr);
			continue;
		}
		refine_code(err);
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) -
		    strlen(err->msg), ": nothing was written");
		break;
	}
	if (tty)
		fputc('\n', stderr);
	oa2_device_free(&d);
	return st;
}

/* ------------------------------------------------------------ the token file */

/*
 * prefill_from_file - re-authorizing an existing token file: every setting
 * no flag gave comes from the file (provider or issuer or endpoints,
 * tenant, client id, client secret, client_auth, scope, user, CA file,
 * revocation endpoint) and its owner stays the owner, so that
 * "sasl-oauth2 authorize --force FILE" alone reconnects the account.  A
 * file that does not load leaves everything to the flags.
 */
static void
prefill_from_file(struct az *a)
{
	struct oa2_error err;
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	const char *v;

	if (lstat(a->file, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if (oa2_token_load(&a->prev, a->file, -1, NULL, &err) != OA2_OK) {
		sao_info("%s: %s: nothing taken from it", a->file, err.msg);
		return;
	}
	a->have_prev = 1;
#define TAKE(field, id) \
	if (a->field == NULL && (v = oa2_token_str(&a->prev, (id))) != NULL && *v) \
		a->field = v
	/* Where to go: only when no flag says where. */
	if (a->provider == NULL && a->issuer == NULL && a->auth_url[0] == 0 &&
	    a->token_url[0] == 0) {
		TAKE(provider, OA2_S_PROVIDER);
		TAKE(issuer, OA2_S_ISSUER);
		if (a->provider == NULL && a->issuer == NULL) {
			copy_url(a->auth_url,
			    oa2_token_str(&a->prev, OA2_S_AUTHORIZATION_ENDPOINT));
			copy_url(a->token_url,
			    oa2_token_str(&a->prev, OA2_S_TOKEN_ENDPOINT));
			copy_url(a->device_url,
			    oa2_token_str(&a->prev, OA2_S_DEVICE_ENDPOINT));
		}
		TAKE(tenant, OA2_S_TENANT);
	}
	TAKE(client_id, OA2_S_CLIENT_ID);
	TAKE(client_auth, OA2_S_CLIENT_AUTH);
	TAKE(scope, OA2_S_SCOPE);
	TAKE(user, OA2_S_USER);
	TAKE(ca_file, OA2_S_CA_BUNDLE_FILE);
	TAKE(redirect_uri, OA2_S_REDIRECT_URI);
#undef TAKE
	if (a->revoke_url[0] == 0)
		copy_url(a->revoke_url,
		    oa2_token_str(&a->prev, OA2_S_REVOCATION_ENDPOINT));
	if (a->secret_file == NULL &&
	    (v = oa2_token_str(&a->prev, OA2_S_CLIENT_SECRET)) != NULL && *v)
		a->secret = oa2_strdup(v);
	if (a->owner == NULL && st.st_uid != geteuid() &&
	    (pw = getpwuid(st.st_uid)) != NULL) {
		gr = getgrgid(st.st_gid);
		snprintf(a->owner_buf, sizeof(a->owner_buf), "%s%s%s", pw->pw_name,
		    gr != NULL ? ":" : "", gr != NULL ? gr->gr_name : "");
		a->owner = a->owner_buf;
	}
	sao_info("%s exists: authorizing again with its settings (client %s%s%s); "
	    "a flag overrides any of them", a->file,
	    a->client_id != NULL ? a->client_id : "?",
	    a->user != NULL ? ", user " : "", a->user != NULL ? a->user : "");
}

/* existing_token_check - 1 refuse (works or cannot tell), 0 replace, -1 error printed */
static int
existing_token_check(const struct az *a, const struct oa2_config *cfg)
{
	struct oa2_refresh_opts ro = {.cfg = cfg, .force = 1, .by_hand = 1,
	    .root = a->root.dir[0] ? a->root.dir : NULL};
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
	enum oa2_status st;
	long long expires_in = tr->expires_in > 0 ? tr->expires_in : 3600;
	const int generic = a->preset == NULL;
	/* Refresh asks for what was granted: Microsoft needs its resource
	 * scope sent (AADSTS90009); others may have granted less than asked. */
	const int tenanted = !generic && a->preset->has_tenant;
	const struct sao_member m[] = {
		{OA2_S_USER, user},
		{OA2_S_PROVIDER, a->provider},
		{OA2_S_TENANT, tenanted ? a->tenant : NULL},
		{OA2_S_CLIENT_ID, a->client_id},
		{OA2_S_CLIENT_SECRET, a->secret},
		{OA2_S_CLIENT_AUTH, a->secret != NULL &&
		    a->client.client_auth == OA2_AUTH_BASIC ? "basic" : NULL},
		{OA2_S_TOKEN_ENDPOINT, generic ? a->token_url : NULL},
		{OA2_S_SCOPE, tenanted ? a->scope : tr->scope},
		{OA2_S_CA_BUNDLE_FILE, a->ca_in},
		{OA2_S_REVOCATION_ENDPOINT, generic || a->preset->revoke_url == NULL ?
		    a->revoke_url : NULL},
		{OA2_S_ISSUER, generic ? a->issuer : NULL},
		{OA2_S_AUTHORIZATION_ENDPOINT, generic ? a->auth_url : NULL},
		{OA2_S_DEVICE_ENDPOINT, generic ? a->device_url : NULL},
		{OA2_S_REDIRECT_URI, a->flow != FLOW_DEVICE ? a->redirect_uri : NULL},
	};

	/*
	 * Replacing a file: its members that this command does not write
	 * (proxy, refresh_window, ca_certs_dir, notes of the admin's) stay;
	 * those it writes are cleared first, so none is left from before.
	 */
	if (a->have_prev && oa2_token_load(&tok, a->file, -1, NULL, err) == OA2_OK) {
		static const enum oa2_setting_id ours[] = {
			OA2_S_ACCESS_TOKEN, OA2_S_EXPIRY, OA2_S_EXPIRES_IN,
			OA2_S_USER, OA2_S_PROVIDER, OA2_S_TENANT, OA2_S_CLIENT_ID,
			OA2_S_CLIENT_SECRET, OA2_S_CLIENT_AUTH, OA2_S_TOKEN_ENDPOINT,
			OA2_S_SCOPE, OA2_S_CA_BUNDLE_FILE, OA2_S_REVOCATION_ENDPOINT,
			OA2_S_REFRESHED_AT, OA2_S_ISSUER,
			OA2_S_AUTHORIZATION_ENDPOINT, OA2_S_DEVICE_ENDPOINT,
			OA2_S_REDIRECT_URI,
		};

		st = OA2_OK;
		for (size_t i = 0; st == OA2_OK && i < sizeof(ours) / sizeof(ours[0]); i++)
			st = oa2_token_set_string(&tok, OA2_SETTING_NAME(ours[i]),
			    NULL, err);
		if (st != OA2_OK) {
			oa2_token_free(&tok);
			return st;
		}
	} else if ((st = oa2_token_new(&tok, err)) != OA2_OK)
		return st;
	if (st == OA2_OK && tr->refresh_token != NULL && *tr->refresh_token)
		st = oa2_token_set_string(&tok,
		    OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN), tr->refresh_token, err);
	if (st == OA2_OK)
		st = oa2_token_update(&tok, tr->access_token,
		    (long long)time(NULL) + expires_in, NULL, err);
	if (st != OA2_OK) {
		oa2_token_free(&tok);
		return st;
	}
	return sao_token_write(&tok, m, sizeof(m) / sizeof(m[0]), a->file, err);
}

/*
 * ca_file_check - the CA bundle to verify the provider with is a readable
 * regular file; else one line naming where the path came from (--ca-file,
 * or the ca_bundle_file of the token file being replaced) and EX_NOINPUT
 */
static int
ca_file_check(const char *path, const char *from_file)
{
	struct stat st;
	const char *why = NULL;
	char	where[4200];

	if (from_file != NULL)
		snprintf(where, sizeof(where), "%s: \"ca_bundle_file\" %s", from_file,
		    path);
	else
		snprintf(where, sizeof(where), "--ca-file %s", path);
	if (stat(path, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (access(path, R_OK) < 0)
		why = strerror(errno);
	if (why == NULL)
		return EX_OK;
	sao_warn("%s: %s: give --ca-file the path of a readable PEM file with "
	    "the CA that signed the provider's certificate, or leave it out for "
	    "the system's CA bundle", where, why);
	return EX_NOINPUT;
}

/*
 * paths - the CA bundle's path as the tool opens it and as the file records
 * it.  With --chroot DIR, --ca-file is the path outside (under DIR) and the
 * file records it inside; the token file must lie under DIR.  Without it,
 * --ca-file is recorded as given, and refused when it lies under Postfix's
 * queue directory while the file does (--chroot is what was meant).  A path
 * taken from the file being replaced is one inside the chroot (--chroot, or
 * the queue directory of a file under it): the tool opens it there.
 */
static void
paths(struct az *a, const char *chroot_dir, int ca_flag)
{
	char	queue[4096];

	if (chroot_dir != NULL) {
		sao_chroot_set(&a->root, chroot_dir);
		sao_chroot_file(&a->root, a->file, a->owner);
	} else if (sao_queue_of(a->file, queue, sizeof(queue))) {
		snprintf(a->root.dir, sizeof(a->root.dir), "%s", queue);
		if (ca_flag)
			sao_chroot_not_under(queue, "ca-file", a->ca_file);
	}
	if (a->ca_file == NULL)
		return;
	if (ca_flag && a->root.given) {
		a->ca_in = sao_chroot_in(&a->root, "ca-file", a->ca_file,
		    SAO_CHROOT_CA);
	} else if (ca_flag || a->root.dir[0] == 0) {
		a->ca_in = oa2_strdup(a->ca_file);
	} else {
		a->ca_in = oa2_strdup(a->ca_file);
		a->ca_file = a->ca_out = sao_chroot_out(&a->root, a->ca_in);
	}
	if (a->ca_in == NULL)
		sao_die(EX_OSERR, "out of memory");
}

/* ------------------------------------------------------------ main */

enum {
	O_PROVIDER = 256, O_ISSUER, O_AUTH_URL, O_TOKEN_URL, O_DEVICE_URL,
	O_REVOKE_URL, O_TENANT, O_CLIENT_ID, O_SECRET_FILE, O_CLIENT_AUTH,
	O_SCOPE, O_USER, O_FLOW, O_REDIRECT, O_PORT, O_TIMEOUT, O_AUTH_PARAM,
	O_CA_FILE, O_OWNER, O_SECRET_ARGV, O_CHROOT
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
	/* Named so that getopt does not take it for --client-secret-file. */
	{"client-secret", required_argument, NULL, O_SECRET_ARGV},
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
	{"chroot", required_argument, NULL, O_CHROOT},
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
	struct az a = {.timeout = 300};
	struct oa2_refresh_opts ro;
	struct oa2_refresh_info info;
	struct oa2_tokresp tr = {0};
	struct oa2_token tok;
	struct oa2_config cfg;
	struct oa2_error err;
	struct sao_mailsys ms;
	const char *flow = NULL, *ca_flag, *chroot_dir = NULL;
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
		case O_SECRET_ARGV:
			sao_die(EX_USAGE, "--client-secret: no secret is taken on "
			    "the command line (ps shows it to every user): put it "
			    "in a file and give --client-secret-file FILE, or "
			    "--client-secret-file - to read it on standard input");
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
		case O_CHROOT: chroot_dir = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	a.file = argv[optind];
	ca_flag = a.ca_file;
	prefill_from_file(&a);
	paths(&a, chroot_dir, ca_flag != NULL);
	if (a.client_auth == NULL)
		a.client_auth = "post";

	/* Where to go. */
	if (a.provider != NULL && (a.preset = oa2_provider_find(a.provider)) == NULL)
		sao_die(EX_USAGE, "--provider %s: use one of %s, or --issuer URL",
		    a.provider, oa2_provider_names());
	if (a.preset != NULL && a.issuer != NULL)
		sao_die(EX_USAGE, "give --provider or --issuer, not both");
	if (a.client_id == NULL)
		sao_die(EX_USAGE, "--client-id is required (%s has none to reuse): "
		    "the OAuth client's id from the provider's console (see "
		    "sasl-oauth2(1), EXAMPLES)", a.file);
	if (oa2_client_auth_parse(a.client_auth, &a.client.client_auth) < 0)
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

	if (a.ca_file != NULL && (ex = ca_file_check(a.ca_file, ca_flag == NULL ?
	    a.file : NULL)) != EX_OK)
		return ex;
	if (a.secret_file != NULL && !sao_secret_file_usable(a.secret_file))
		return EX_NOINPUT;

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
	/* As the mail system will see it: the user, the chroot. */
	if ((ex = sao_mailsys_init(&ms, a.file, &a.owner)) != EX_OK)
		return ex;
	if (a.root.given)
		snprintf(ms.root, sizeof(ms.root), "%s", a.root.dir);
	if ((ex = sao_mailsys_before(&ms, a.ca_in)) != EX_OK)
		return ex;
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
	} else if (!a.have_prev && isatty(0)) {
		a.secret = sao_prompt_secret("Client secret (empty for a public "
		    "client): ");
		if (a.secret != NULL && *a.secret == 0)
			oa2_free_secret(&a.secret);
	}

	a.client.token_endpoint = a.token_url;
	a.client.client_id = a.client_id;
	a.client.client_secret = a.secret;
	a.client.scope = a.scope;
	a.client.http.ca_file = a.ca_file;
	a.client.http.ca_fix = AZ_CA_FIX;
	a.client.http.max_body = 256 * 1024;
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
	ro.by_hand = 1;
	ro.root = a.root.dir[0] ? a.root.dir : NULL;
	if ((st = oa2_access_token(a.file, &ro, &tok, &info, &err)) != OA2_OK) {
		sao_warn("the token was written but the verifying refresh failed");
		ex = sao_report(&err);
		goto out;
	}
	oa2_token_free(&tok);
	if (sao_stamp(a.file, OA2_SETTING_NAME(OA2_S_REFRESHED_AT), &err) < 0)
		sao_report(&err);
	sao_fmt_time(info.expires_at, when, sizeof(when));
	if ((ex = sao_mailsys_after(&ms)) != EX_OK) {
		sao_warn("%s holds a working grant (access token valid until %s), "
		    "but %s cannot use the file: fix the above; nothing needs "
		    "to be authorized again", a.file, when, ms.user);
		goto out;
	}
	sao_info("done: %s works%s%s; access token valid until %s%s", a.file,
	    user ? " for " : "", user ? user : "", when,
	    info.rotated ? " (the provider rotates refresh tokens: let only the "
	    "plugin and sasl-oauth2 refresh this file)" : "");
	if (!sao_quiet) {
		fprintf(stderr, "next: sasl-oauth2 test %s --smtp HOST:PORT\n",
		    a.file);
		if (a.root.given)
			fprintf(stderr, "the password in smtp_sasl_password_maps: "
			    "%s\n", a.root.file_in);
		if (user == NULL)
			fprintf(stderr, "note: no --user given: the login name must "
			    "come from the application (Postfix sasl_passwd user)\n");
	}
	ex = EX_OK;
out:
	oa2_free(user);
	oa2_tokresp_free(&tr);
	oa2_free_secret(&a.secret);
	oa2_token_free(&a.prev);
	oa2_free(a.ca_in);
	oa2_free(a.ca_out);
	oa2_config_free(&cfg);
	return ex;
}
