/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_refresh 3h
 * SUMMARY
 *	get a usable access token for a token file, refreshing when due
 * DESCRIPTION
 *	See oa2_refresh.c.
 *--*/
#ifndef OA2_REFRESH_H
#define OA2_REFRESH_H

#include <sys/stat.h>
#include <time.h>

#include "oa2_config.h"
#include "oa2_error.h"
#include "oa2_tokfile.h"

typedef void (*oa2_log_fn)(void *ctx, int level, const char *msg);

struct oa2_refresh_info {
	int refreshed;		/* we made the request */
	int reused;		/* another process refreshed while we waited */
	int rotated;		/* the server sent a new refresh token */
	int stale_ok;		/* refresh failed temporarily; the old token is still valid */
	long long expires_at;	/* expiry of the access token handed out */
	long elapsed_ms;	/* time spent in the request */
	int cached;		/* oa2_access_token_use (oa2_cache(3)): from the cache */
	enum oa2_grant_kind grant; /* oa2_access_token_use: the file's "grant"
				 * (app-only: no account authorized it) */
};

struct oa2_refresh_opts {
	const struct oa2_config *cfg;	/* may be NULL */
	int force;			/* refresh even when the access token is fresh */
	oa2_log_fn log;			/* may be NULL */
	void *log_ctx;
	/* One line per refresh for the mail log (the plugin's syslog), whatever log_level; unless the config's mail_log is false; may be NULL */
	oa2_log_fn mail_log;
	int allow_http;			/* tests only: http://127.0.0.1 endpoints */
	long long due_within;		/* > 0: refresh when the access token
					 * expires within this many s (instead
					 * of the refresh window) */
	struct oa2_http_conn *conn;	/* NULL: a connection per request */
	int by_hand;			/* a command run by hand: nothing retries a failure */
	const char *root;		/* the tool, outside a chroot: the files the
					 * settings name (CA, keys) are opened
					 * under this directory; NULL: as named */
	int root_if_missing;		/* root only for a path that is not there as named */
};

enum oa2_status oa2_access_token(const char *path,
    const struct oa2_refresh_opts *opts, struct oa2_token *tok,
    struct oa2_refresh_info *info, struct oa2_error *err);

enum oa2_status oa2_access_token_stat(const char *path,
    const struct oa2_refresh_opts *opts, struct oa2_token *tok,
    struct oa2_refresh_info *info, struct stat *sb, int *sb_ok,
    struct oa2_error *err);

enum oa2_status oa2_mark_stale(const char *path, const char *access_token,
    struct oa2_error *err);

/* oa2_token_fresh - the access token is present and valid for margin more seconds */
int oa2_token_fresh(const struct oa2_token *tok, long long margin, time_t now);

#endif
