/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_http 3h
 * SUMMARY
 *	every HTTP request of plugin and tool (libcurl)
 * DESCRIPTION
 *	See oa2_http.c.
 *--*/
#ifndef OA2_HTTP_H
#define OA2_HTTP_H

#include "oa2_error.h"
#include "oa2_mem.h"

/* A connection kept for the next request (oa2_http.c); one per thread. */
struct oa2_http_conn;

struct oa2_http_opts {
	const char *ca_file;		/* NULL: libcurl's default bundle */
	const char *ca_dir;		/* NULL: libcurl's default */
	const char *proxy;		/* NULL: none (environment is ignored) */
	int proxy_from_env;		/* proxy NULL: honour http(s)_proxy, no_proxy */
	long connect_timeout_ms;	/* 0: 10 s */
	long timeout_ms;		/* 0: 30 s */
	size_t max_body;		/* 0: 1 MiB */
	int allow_http;			/* allow http://127.0.0.1 and http://[::1] */
	struct oa2_http_conn *conn;	/* NULL: one connection per request */
	const char *ca_fix;		/* a refused certificate's fix; NULL: the token file's */
	struct oa2_http_kept **keep;	/* not NULL: the finished handle and its
					 * connection are left here, closed by
					 * oa2_http_release() */
	const char *peer;		/* what is asked, in messages; NULL: "token endpoint" */
};

struct oa2_http_kept;

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

/* oa2_http_release - close a kept handle and its connection; *keep NULL after */
void oa2_http_release(struct oa2_http_kept **keep);

/* oa2_http_resp_free - wipe and free the body */
void oa2_http_resp_free(struct oa2_http_resp *resp);

/* oa2_form_escape - append s percent-encoded (RFC 3986 unreserved kept); -1 on failure */
int oa2_form_escape(struct oa2_buf *form, const char *s);

/* oa2_form_add - append a percent-encoded name=value pair; -1 on failure */
int oa2_form_add(struct oa2_buf *form, const char *name, const char *value);

/* oa2_url_host - copy the host part of url into buf for messages */
void oa2_url_host(const char *url, char *buf, size_t size);

/* oa2_http_conn_new - a connection cache for one thread's requests; NULL: no memory */
struct oa2_http_conn *oa2_http_conn_new(void);

/* oa2_http_conn_free - close its connection and free it (NULL is fine) */
void oa2_http_conn_free(struct oa2_http_conn *conn);

/* oa2_http_init - libcurl's global state now (else: at the first request); before a program starts threads */
enum oa2_status oa2_http_init(struct oa2_error *err);

/* oa2_http_cleanup - release libcurl's global state (tools, tests; never the plugin) */
void oa2_http_cleanup(void);

#endif
