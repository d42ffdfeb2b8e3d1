/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_http 3h
 * SUMMARY
 *	every HTTP request of plugin and tool (libcurl)
 * DESCRIPTION
 *	oa2_http_post_form() sends an application/x-www-form-urlencoded
 *	body, oa2_http_get() a GET (discovery); both collect the reply body
 *	(at most opts->max_body bytes) and HTTP status.  TLS peer and host
 *	verification are always on (lib/oa2_tls.c: one policy for all); the
 *	CA bundle file or directory may be chosen.  Only https:// URLs are
 *	accepted (http:// only to a loopback literal, for tests and RFC 8252
 *	style local servers, and only with allow_http); a URL with a control
 *	byte or a space is refused.  Redirects are not followed.  libcurl is
 *	initialised here once, lazily and thread-safely, by the first
 *	request; only oa2_http_cleanup() (tools at exit) undoes it.
 *
 *	When basic_user is not NULL the client authenticates with HTTP Basic
 *	(RFC 6749 2.3.1, both parts form-encoded first).
 *
 *	Failures: OA2_ERR_TEMP with code "network" (connect, DNS, reset),
 *	"timeout"; OA2_ERR_PERM with code "tls" (certificate not trusted,
 *	wrong host name: a configuration problem, not a passing one);
 *	OA2_ERR_PROTO "too_large" when the body exceeds the cap;
 *	OA2_ERR_INPUT "url" for a refused URL, "ca_bundle" for an unreadable
 *	CA bundle.  A TLS refusal names its reason (lib/oa2_tls.c).  The message names the host,
 *	never the body or the form (they hold secrets).
 *
 *	oa2_form_add() appends name=value with both parts percent-encoded
 *	(and "&" when the form is not empty).
 *--*/
#ifndef OA2_HTTP_H
#define OA2_HTTP_H

#include "oa2_error.h"
#include "oa2_mem.h"

struct oa2_http_opts {
	const char *ca_file;		/* NULL: libcurl's default bundle */
	const char *ca_dir;		/* NULL: libcurl's default */
	const char *proxy;		/* NULL: none (environment is ignored) */
	int proxy_from_env;		/* proxy NULL: honour http(s)_proxy, no_proxy */
	long connect_timeout_ms;	/* 0: 10 s */
	long timeout_ms;		/* 0: 30 s */
	size_t max_body;		/* 0: 1 MiB */
	int allow_http;			/* allow http://127.0.0.1 and http://[::1] */
};

struct oa2_http_resp {
	long status;
	struct oa2_buf body;
};

enum oa2_status oa2_http_post_form(const char *url, const char *form,
    size_t form_len, const char *basic_user, const char *basic_pass,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err);

enum oa2_status oa2_http_get(const char *url,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err);

/* oa2_http_resp_free - wipe and free the body */
void oa2_http_resp_free(struct oa2_http_resp *resp);

/* oa2_form_escape - append s percent-encoded (RFC 3986 unreserved kept); -1 on failure */
int oa2_form_escape(struct oa2_buf *form, const char *s);

/* oa2_form_add - append a percent-encoded name=value pair; -1 on failure */
int oa2_form_add(struct oa2_buf *form, const char *name, const char *value);

/* oa2_url_host - copy the host part of url into buf for messages */
void oa2_url_host(const char *url, char *buf, size_t size);

/* oa2_http_cleanup - release libcurl's global state (tools, tests; never the plugin) */
void oa2_http_cleanup(void);

#endif
