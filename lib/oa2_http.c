/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_http 3
 * SUMMARY
 *	HTTPS POST of a form to an OAuth endpoint (libcurl)
 * SECURITY
 *	TLS verification cannot be turned off.  The form and the reply hold
 *	secrets: they are wiped, never logged, and never copied into error
 *	messages; libcurl's own error text (connection level only) is.
 *	Environment proxies are ignored: a proxy is used only when the token
 *	file or the configuration names one.
 *--*/
#include "config.h"

#include <string.h>
#include <stdio.h>
#include <curl/curl.h>

#include "oa2_http.h"

static int curl_ready;

/* http_init - initialise libcurl once, when the first request is made */
static enum oa2_status
http_init(struct oa2_error *err)
{
	if (curl_ready)
		return OA2_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "curl",
		    "cannot initialise libcurl");
	curl_ready = 1;
	return OA2_OK;
}

void
oa2_http_cleanup(void)
{
	if (curl_ready)
		curl_global_cleanup();
	curl_ready = 0;
}

/* What collect() appends to, and why it stopped. */
struct sink {
	struct oa2_buf *body;
	int nomem;		/* an allocation failed (else: the cap was hit) */
};

/* collect - libcurl write callback: append to the capped body buffer */
static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	struct oa2_buf *b = s->body;
	size_t n = size * nmemb;

	if (oa2_buf_append(b, ptr, n) < 0) {
		/* Within the cap, so memory ran out: not "too large". */
		s->nomem = n <= b->max && b->len <= b->max - n;
		return 0;		/* CURLE_WRITE_ERROR */
	}
	return n;
}

/* url_allowed - https anywhere; http only to a loopback literal when allowed */
static int
url_allowed(const char *url, int allow_http)
{
	if (strncmp(url, "https://", 8) == 0)
		return 1;
	if (allow_http && (strncmp(url, "http://127.0.0.1", 16) == 0 ||
	    strncmp(url, "http://[::1]", 12) == 0))
		return 1;
	return 0;
}

/* tls_up - the connection and its TLS handshake were complete */
static int
tls_up(CURL *c)
{
#if LIBCURL_VERSION_NUM >= 0x073d00
	curl_off_t us = 0;

	return curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &us) == CURLE_OK &&
	    us > 0;
#else
	double secs = 0;

	return curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME, &secs) == CURLE_OK &&
	    secs > 0;
#endif
}

/* map_curl_error - classify a libcurl failure */
static enum oa2_status
map_curl_error(CURLcode rc, const char *host, const char *detail,
    long timeout_ms, struct oa2_error *err)
{
	const char *what = detail[0] ? detail : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return oa2_error_set(err, OA2_ERR_TEMP, "timeout",
		    "token endpoint %s did not answer within %ld s: %s",
		    host, timeout_ms / 1000, what);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return oa2_error_set(err, OA2_ERR_TEMP, "dns",
		    "cannot resolve the token endpoint host %s: %s "
		    "(in a chroot, copy /etc/resolv.conf and /etc/hosts into it)",
		    host, what);
	case CURLE_PEER_FAILED_VERIFICATION:
		return oa2_error_set(err, OA2_ERR_PERM, "tls",
		    "TLS certificate of %s not accepted: %s (check ca_bundle_file "
		    "or ca_certs_dir, and the host name in token_endpoint)",
		    host, what);
	case CURLE_SSL_CACERT_BADFILE:
		return oa2_error_set(err, OA2_ERR_INPUT, "ca_bundle",
		    "cannot read the CA bundle to verify %s: %s (set ca_bundle_file "
		    "to a readable file; inside a chroot it must exist there)",
		    host, what);
	case CURLE_WRITE_ERROR:
		return oa2_error_set(err, OA2_ERR_PROTO, "too_large",
		    "token endpoint %s sent a reply larger than the limit", host);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "token endpoint URL for %s is not usable: %s", host, what);
	default:
		return oa2_error_set(err, OA2_ERR_TEMP, "network",
		    "cannot reach the token endpoint %s: %s", host, what);
	}
}

enum oa2_status
oa2_http_post_form(const char *url, const char *form, size_t form_len,
    const char *basic_user, const char *basic_pass,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err)
{
	static const struct oa2_http_opts defaults;
	char host[256], errbuf[CURL_ERROR_SIZE];
	char *u = NULL, *p = NULL;
	struct curl_slist *hdrs = NULL;
	struct sink sink;
	enum oa2_status st;
	CURL *c;
	CURLcode rc;
	long cto, to;

	if (opts == NULL)
		opts = &defaults;
	resp->status = 0;
	oa2_buf_init(&resp->body, opts->max_body ? opts->max_body : 1024 * 1024);
	oa2_url_host(url, host, sizeof(host));
	if (!url_allowed(url, opts->allow_http))
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "token endpoint must be an https:// URL (got one for %s)", host);
	if ((st = http_init(err)) != OA2_OK)
		return st;
	if ((c = curl_easy_init()) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory starting a request to %s", host);
	cto = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	to = opts->timeout_ms ? opts->timeout_ms : 30000;
	errbuf[0] = 0;
	hdrs = curl_slist_append(hdrs,
	    "Content-Type: application/x-www-form-urlencoded");
	hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (hdrs == NULL) {
		curl_easy_cleanup(c);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    opts->allow_http ? "https,http" : "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    CURLPROTO_HTTPS | (opts->allow_http ? CURLPROTO_HTTP : 0));
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts->ca_file != NULL && *opts->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file);
	if (opts->ca_dir != NULL && *opts->ca_dir)
		curl_easy_setopt(c, CURLOPT_CAPATH, opts->ca_dir);
	curl_easy_setopt(c, CURLOPT_PROXY,
	    opts->proxy != NULL ? opts->proxy : "");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cto);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, to);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form_len);
	sink.body = &resp->body;
	sink.nomem = 0;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
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
	if (rc == CURLE_WRITE_ERROR && sink.nomem) {
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory receiving the reply of the token endpoint %s",
		    host);
		oa2_buf_free(&resp->body);
		goto done;
	}
	if (rc != CURLE_OK) {
		/* Until TLS is up, libcurl's limit is the connect timeout. */
		st = map_curl_error(rc, host, errbuf,
		    rc == CURLE_OPERATION_TIMEDOUT && !tls_up(c) ? cto : to, err);
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
	curl_easy_cleanup(c);
	return st;
}

void
oa2_http_resp_free(struct oa2_http_resp *resp)
{
	oa2_buf_free(&resp->body);
	resp->status = 0;
}
