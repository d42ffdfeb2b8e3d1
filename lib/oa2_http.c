/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_http 3
 * SUMMARY
 *	every HTTP request of plugin and tool (libcurl)
 * SYNOPSIS
 *	#include "oa2_http.h"
 *
 *	enum oa2_status oa2_http_post_form(const char *url, const char *form,
 *		size_t form_len, const char *basic_user,
 *		const char *basic_pass, const struct oa2_http_opts *opts,
 *		struct oa2_http_resp *resp, struct oa2_error *err)
 *
 *	enum oa2_status oa2_http_get(const char *url,
 *		const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
 *		struct oa2_error *err)
 *
 *	struct oa2_http_conn *oa2_http_conn_new(void)
 *
 *	void oa2_http_conn_free(struct oa2_http_conn *conn)
 *	void oa2_http_release(struct oa2_http_kept **keep)
 *
 *	enum oa2_status oa2_http_init(struct oa2_error *err)
 *
 *	void oa2_http_cleanup(void)
 * DESCRIPTION
 *	oa2_http_post_form() sends an application/x-www-form-urlencoded
 *	body, oa2_http_get() a GET (discovery); both collect the reply body
 *	(at most opts->max_body bytes) and HTTP status.  TLS peer and host
 *	verification are always on (lib/oa2_tls.c: one policy for all); the
 *	CA bundle file or directory may be chosen.  Only https:// URLs are
 *	accepted (http:// only to a loopback literal, for tests and RFC 8252
 *	style local servers, and only with allow_http); a URL with a control
 *	byte or a space is refused.  Redirects are not followed.
 *
 *	When basic_user is not NULL the client authenticates with HTTP Basic
 *	(RFC 6749 2.3.1, both parts form-encoded first).
 *
 *	Failures: OA2_ERR_TEMP with code "network" (connect, DNS, reset),
 *	"timeout"; OA2_ERR_PERM with code "tls" (certificate not trusted,
 *	wrong host name: a configuration problem, not a passing one);
 *	OA2_ERR_PROTO "too_large" when the body exceeds the cap;
 *	OA2_ERR_INPUT "url" for a refused URL, "ca_bundle" for an unreadable
 *	CA bundle.  A TLS refusal names its reason (lib/oa2_tls.c).  The
 *	message names the host, never the body or the form (they hold
 *	secrets).
 *
 *	One easy handle per request, one connection per handle, closed when
 *	the request ends: a refresh happens about once an hour, so a handle
 *	or connection kept for the next one would only hold a socket and an
 *	SSL connection in the host in between.  Creating and freeing a
 *	handle costs about 17 us (measured, Debian 12, libcurl 7.88), next
 *	to tens of milliseconds for the TLS handshake of a refresh.
 *
 *	The exception is a program that makes many requests in a row
 *	(sasl-oauth2 refresh-all): with opts->conn from oa2_http_conn_new()
 *	the easy handle, its open connection and its TLS session are kept
 *	for the next request through the same conn, so a thousand refreshes
 *	at one token endpoint cost one TLS handshake.  A conn is used by one
 *	thread at a time.  It is kept only for requests with the same trust
 *	anchors and proxy: a request with another CA bundle, CA directory or
 *	proxy closes the kept connection first, so a connection verified
 *	against one file's trust anchors never carries another file's
 *	request.
 *	With opts->keep set, the request ends without closing: the handle
 *	and its connection are left in *keep (NULL when there is nothing to
 *	keep), and oa2_http_release() closes them later.  A refresh uses it
 *	to save the reply before the TLS teardown (close_notify, freeing
 *	the SSL connection: hundreds of microseconds with a real CA bundle),
 *	which would otherwise sit between the provider's reply and the new
 *	token file being in place.  The caller must release what it keeps.
 *	With opts->conn, which keeps its connection anyway, keep is unused.
 *
 *	libcurl's global state is initialised by the first request, once
 *	per process (pthread_once), and never released by the plugin:
 *	curl_global_init() counts its callers, so a host that uses libcurl
 *	itself keeps a working library whatever order the two init and
 *	clean up.  The tool calls oa2_http_cleanup() at exit.  A program that
 *	runs requests in several threads calls oa2_http_init() before it
 *	starts them, so that the initialisation happens before any thread
 *	exists.
 *
 *	The TLS policy is lib/oa2_tls.c's, applied from
 *	CURLOPT_SSL_CTX_FUNCTION: libcurl is told no CA file or directory of
 *	its own (nor to cache a store), so the trust anchors are exactly
 *	what oa2_tls_ctx_setup() loads, as for tools/conntest.c.
 * SECURITY
 *	TLS verification cannot be turned off.  The form and the reply hold
 *	secrets: the reply goes from the write callback straight into the
 *	caller's wiped buffer, OpenSSL cleanses its record buffers
 *	(SSL_OP_CLEANSE_PLAINTEXT), the Basic credentials are wiped, and
 *	neither is ever copied into an error message; libcurl's own error
 *	text (connection level only) is.  Environment proxies are ignored
 *	unless opts->proxy_from_env says otherwise: a proxy is used only when
 *	the token file or the configuration names one.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Utility library. */
#include <curl/curl.h>

/* Application-specific. */
#include "oa2_http.h"
#include "oa2_tls.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;
static int cleaned;

/* init_curl - curl_global_init(), run once */
static void
init_curl(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* http_init - initialise libcurl once, when the first request is made */
static enum oa2_status
http_init(struct oa2_error *err)
{
	pthread_once(&init_once, init_curl);
	if (init_rc != CURLE_OK || cleaned)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "curl",
		    "cannot initialise libcurl");
	return OA2_OK;
}

enum oa2_status
oa2_http_init(struct oa2_error *err)
{
	return http_init(err);
}

void
oa2_http_cleanup(void)
{
	if (init_rc == CURLE_OK && !cleaned)
		curl_global_cleanup();
	cleaned = 1;
}

/* A kept easy handle and what its connection was set up with. */
struct oa2_http_conn {
	CURL	*easy;
	char	*key;			/* trust anchors and proxy, or NULL */
};

struct oa2_http_conn *
oa2_http_conn_new(void)
{
	return oa2_calloc(1, sizeof(struct oa2_http_conn));
}

void
oa2_http_conn_free(struct oa2_http_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->easy != NULL)
		curl_easy_cleanup(conn->easy);
	oa2_free_secret(&conn->key);	/* a proxy URL may hold a password */
	oa2_free(conn);
}

/*
 * reset_quiet - curl_easy_reset(), then CURLOPT_NOSIGNAL again: a reset
 * handle is back at no_signal 0, and its later curl_easy_cleanup() would
 * set SIGPIPE to SIG_IGN and back, leaving the host's sigaction changed
 * (glibc adds SA_RESTORER when it puts the old action back).
 */
static void
reset_quiet(CURL *c)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* conn_key - what a kept connection must share with a request: "ca\ndir\nproxy" */
static char *
conn_key(const struct oa2_http_opts *o)
{
	struct oa2_buf b;

	oa2_buf_init(&b, 3 * 4096 + 16);
	if (oa2_buf_puts(&b, o->ca_file ? o->ca_file : "-") < 0 ||
	    oa2_buf_puts(&b, "\n") < 0 ||
	    oa2_buf_puts(&b, o->ca_dir ? o->ca_dir : "-") < 0 ||
	    oa2_buf_puts(&b, o->proxy_from_env ? "\ne\n" : "\np\n") < 0 ||
	    oa2_buf_puts(&b, o->proxy ? o->proxy : "") < 0) {
		oa2_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/*
 * conn_take - the conn's handle for a request with opts, reset to no
 * options; a new one when there was none or it served other trust anchors
 */
static CURL *
conn_take(struct oa2_http_conn *conn, const struct oa2_http_opts *opts)
{
	char	*key;

	if ((key = conn_key(opts)) == NULL)
		return NULL;
	if (conn->easy != NULL && (conn->key == NULL || strcmp(conn->key, key) != 0)) {
		curl_easy_cleanup(conn->easy);
		conn->easy = NULL;
	}
	oa2_free_secret(&conn->key);
	conn->key = key;
	if (conn->easy == NULL)
		conn->easy = curl_easy_init();
	else
		reset_quiet(conn->easy);
	return conn->easy;
}

/* A finished request left open for oa2_http_release(). */
struct oa2_http_kept {
	CURL	*c;
};

/* One request: where the reply goes and what TLS ran into. */
struct req {
	struct oa2_buf *body;
	int	nomem;			/* an allocation failed (else: the cap was hit) */
	const struct oa2_http_opts *opts;
	char	host[256];		/* name or address, no brackets, no port */
	struct oa2_tls_peer peer;
	enum oa2_status setup_st;	/* oa2_tls_ctx_setup()'s verdict */
	struct oa2_error setup_err;
};

/* collect - libcurl write callback: append to the capped body buffer */
static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	struct oa2_buf *b = r->body;
	size_t	n = size * nmemb;

	if (oa2_buf_append(b, ptr, n) < 0) {
		/* Within the cap, so memory ran out: not "too large". */
		r->nomem = n <= b->max && b->len <= b->max - n;
		return 0;			/* CURLE_WRITE_ERROR */
	}
	return n;
}

/* tls_setup - CURLOPT_SSL_CTX_FUNCTION: the shared trust policy */
static CURLcode
tls_setup(CURL *c, void *ctx, void *arg)
{
	struct req *r = arg;

	(void)c;
	r->setup_st = oa2_tls_ctx_setup(ctx, r->opts, r->host, &r->peer,
	    &r->setup_err);
	return r->setup_st == OA2_OK ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

/* url_check - https anywhere; http only to a loopback literal when allowed */
static enum oa2_status
url_check(const char *url, int allow_http, struct req *r, const char *shown,
    struct oa2_error *err)
{
	enum oa2_status st = OA2_OK;
	char	*scheme = NULL, *host = NULL;
	const unsigned char *p;
	CURLU	*u;
	size_t	n;

	for (p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return oa2_error_set(err, OA2_ERR_INPUT, "url",
			    "the URL for %s holds a space or control character "
			    "(a line break?): remove it", shown);
	if ((u = curl_url()) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		st = oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "the URL for %s is not usable: give https://host/path", shown);
	else if (strcmp(scheme, "https") != 0 && !(allow_http &&
	    strcmp(scheme, "http") == 0 && (strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "[::1]") == 0)))
		st = oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "token endpoint must be an https:// URL (got one for %s)", shown);
	else {
		/* Brackets of an IPv6 literal off: the certificate lists the bare address. */
		n = strlen(host);
		if (host[0] == '[' && n > 2)
			snprintf(r->host, sizeof(r->host), "%.*s", (int)(n - 2), host + 1);
		else
			snprintf(r->host, sizeof(r->host), "%s", host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return st;
}

/* tls_up - the connection and its TLS handshake were complete */
static int
tls_up(CURL *c)
{
	curl_off_t us = 0;

	return curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &us) == CURLE_OK &&
	    us > 0;
}

/* map_curl_error - classify a libcurl failure */
static enum oa2_status
map_curl_error(CURLcode rc, struct req *r, const char *host,
    const char *detail, long timeout_ms, const char *ca_fix,
    struct oa2_error *err)
{
	const char *what = detail[0] ? detail : curl_easy_strerror(rc);
	const char *peer = r->opts != NULL && r->opts->peer != NULL ?
	    r->opts->peer : "token endpoint";

	if (ca_fix == NULL)
		ca_fix = "check ca_bundle_file or ca_certs_dir, and the host name "
		    "in the URL";

	if (rc == CURLE_SSL_CERTPROBLEM && r->setup_st != OA2_OK) {
		*err = r->setup_err;
		return r->setup_st;
	}
	if ((rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_SSL_CACERT || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_SEND_ERROR) && oa2_tls_refused(&r->peer))
		return oa2_tls_refusal(&r->peer, host, ca_fix, err);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return oa2_error_set(err, OA2_ERR_TEMP, "timeout",
		    "%s %s did not answer within %ld s: %s",
		    peer, host, timeout_ms / 1000, what);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return oa2_error_set(err, OA2_ERR_TEMP, "dns",
		    "cannot resolve the %s host %s: %s "
		    "(in a chroot, copy /etc/resolv.conf and /etc/hosts into it)",
		    peer, host, what);
	case CURLE_PEER_FAILED_VERIFICATION:
		return oa2_error_set(err, OA2_ERR_PERM, "tls",
		    "TLS certificate of %s not accepted: %s (%s)", host, what,
		    ca_fix);
	case CURLE_WRITE_ERROR:
		return oa2_error_set(err, OA2_ERR_PROTO, "too_large",
		    "%s %s sent a reply larger than the limit", peer, host);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "%s URL for %s is not usable: %s", peer, host, what);
	default:
		return oa2_error_set(err, OA2_ERR_TEMP, "network",
		    "cannot reach the %s %s: %s", peer, host, what);
	}
}

/* keep_handle - leave c and its connection for oa2_http_release(); 0 if kept */
static int
keep_handle(struct oa2_http_kept **keep, CURL *c)
{
	struct oa2_http_kept *k;

	oa2_http_release(keep);
	if ((k = oa2_malloc(sizeof(*k))) == NULL)
		return -1;			/* closed now instead */
	/* Options off, the connection kept: no pointer into this call's stack. */
	reset_quiet(c);
	k->c = c;
	*keep = k;
	return 0;
}

void
oa2_http_release(struct oa2_http_kept **keep)
{
	if (keep == NULL || *keep == NULL)
		return;
	curl_easy_cleanup((*keep)->c);
	oa2_free(*keep);
	*keep = NULL;
}

/* request - one GET (form NULL) or form POST */
static enum oa2_status
request(const char *url, const char *form, size_t form_len,
    const char *basic_user, const char *basic_pass,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err)
{
	static const struct oa2_http_opts defaults;
	char	shown[256], errbuf[CURL_ERROR_SIZE];
	char	*u = NULL, *p = NULL;
	struct curl_slist *hdrs = NULL, *next;
	struct req r;
	enum oa2_status st;
	CURL	*c;
	CURLcode rc;
	long	cto, to;

	if (opts == NULL)
		opts = &defaults;
	resp->status = 0;
	oa2_buf_init(&resp->body, opts->max_body ? opts->max_body : 1024 * 1024);
	memset(&r, 0, sizeof(r));
	r.body = &resp->body;
	r.opts = opts;
	r.peer.alert = -1;
	oa2_url_host(url, shown, sizeof(shown));
	if ((st = http_init(err)) != OA2_OK ||
	    (st = url_check(url, opts->allow_http, &r, shown, err)) != OA2_OK)
		return st;
	if ((c = opts->conn != NULL ? conn_take(opts->conn, opts) :
	    curl_easy_init()) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory starting a request to %s", shown);
	cto = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	to = opts->timeout_ms ? opts->timeout_ms : 30000;
	errbuf[0] = 0;
	if (form != NULL)
		hdrs = curl_slist_append(NULL,
		    "Content-Type: application/x-www-form-urlencoded");
	next = form == NULL || hdrs != NULL ?
	    curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (next == NULL) {
		curl_slist_free_all(hdrs);
		if (opts->conn == NULL)
			curl_easy_cleanup(c);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}
	hdrs = next;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    opts->allow_http ? "https,http" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Trust anchors: only what tls_setup() loads. */
	curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
#if LIBCURL_VERSION_NUM >= 0x075700
	curl_easy_setopt(c, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, tls_setup);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &r);
	/*
	 * The environment (http(s)_proxy, no_proxy) only when asked: a
	 * proxy named in the options is used for every host, and "" is none.
	 */
	if (opts->proxy != NULL)
		curl_easy_setopt(c, CURLOPT_PROXY, opts->proxy);
	else if (!opts->proxy_from_env)
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (!opts->proxy_from_env)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cto);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, to);
	/* Closed as the request ends, unless kept (conn) or closed later (keep). */
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE,
	    opts->conn == NULL && opts->keep == NULL ? 1L : 0L);
	/* Replies are small: less heap in the host than the 16/64 KiB defaults. */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 8192L);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form_len);
	} else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (basic_user != NULL) {
		u = curl_easy_escape(c, basic_user, 0);
		p = curl_easy_escape(c, basic_pass ? basic_pass : "", 0);
		if (u == NULL || p == NULL) {
			st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
			goto done;
		}
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, u);
		curl_easy_setopt(c, CURLOPT_PASSWORD, p);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_WRITE_ERROR && r.nomem) {
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory receiving the reply of %s", shown);
		oa2_buf_free(&resp->body);
		goto done;
	}
	if (rc != CURLE_OK) {
		/* Until TLS is up, libcurl's limit is the connect timeout. */
		st = map_curl_error(rc, &r, shown, errbuf,
		    rc == CURLE_OPERATION_TIMEDOUT && !tls_up(c) ? cto : to,
		    opts != NULL ? opts->ca_fix : NULL, err);
		oa2_buf_free(&resp->body);
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body.data == NULL && oa2_buf_append(&resp->body, "", 0) < 0) {
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
		goto done;
	}
	st = OA2_OK;
done:
	if (u != NULL) {
		oa2_wipe(u, strlen(u));
		curl_free(u);
	}
	if (p != NULL) {
		oa2_wipe(p, strlen(p));
		curl_free(p);
	}
	curl_slist_free_all(hdrs);
	if (opts->conn == NULL && opts->keep != NULL && keep_handle(opts->keep, c) == 0)
		return st;
	if (opts->conn == NULL)
		curl_easy_cleanup(c);
	else
		reset_quiet(c);	/* no pointer into this call's stack kept */
	return st;
}

enum oa2_status
oa2_http_post_form(const char *url, const char *form, size_t form_len,
    const char *basic_user, const char *basic_pass,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err)
{
	return request(url, form ? form : "", form_len, basic_user, basic_pass,
	    opts, resp, err);
}

enum oa2_status
oa2_http_get(const char *url, const struct oa2_http_opts *opts,
    struct oa2_http_resp *resp, struct oa2_error *err)
{
	return request(url, NULL, 0, NULL, NULL, opts, resp, err);
}

void
oa2_http_resp_free(struct oa2_http_resp *resp)
{
	oa2_buf_free(&resp->body);
	resp->status = 0;
}
