/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_refresh 3h
 * SUMMARY
 *	get a usable access token for a token file, refreshing when due
 * DESCRIPTION
 *	oa2_access_token() is what the plugin and the tool's "refresh" call.
 *	It loads the token file; when the access token is missing or
 *	expires within the refresh window (token file's refresh_window,
 *	else the configuration's, default 300 s), or when force is set, it
 *	takes the file's lock, reads the file again (another process may have
 *	refreshed it meanwhile: then that result is used and no request is
 *	made), posts a refresh_token grant to the token endpoint, and writes
 *	the new access token, its expiry and any rotated refresh token back
 *	(atomically) before it does anything else with the reply.
 *
 *	A failed refresh never changes the file.  When a temporary failure
 *	happens while the stored access token has not yet expired (it was
 *	only inside the refresh window), that token is used and
 *	info->stale_ok is set, so mail keeps flowing.
 *
 *	Settings come from the token file first, then the configuration,
 *	then the provider preset ("provider": google/microsoft fills in the
 *	token endpoint).  Missing token endpoint or client_id is an
 *	OA2_ERR_INPUT error naming the file and the field.
 *
 *	oa2_mark_stale() sets the expiry of the file's access token to 0 if
 *	the file still holds the token the server refused, so the next
 *	attempt refreshes (under the lock; best effort).
 *
 *	oa2_setting() returns a string setting by that same precedence.
 *
 *	oa2_access_token_use() is the plugin's hot path.  It gets a usable
 *	access token like oa2_access_token(), but instead of returning the
 *	document it calls use(arg, access_token, user, err) (user: the
 *	file's "user", or NULL) and returns what use() returned; the strings
 *	are valid only during that call.  It keeps a per-process cache of
 *	fresh access tokens keyed by the token file's path and identity
 *	(device, inode, size, mtime, ctime): while lstat of the path shows
 *	the very file a token came from and the token is fresh beyond the
 *	refresh window, that token is used without opening or parsing the
 *	file (one lstat, no allocation).  Any change of the file on disk
 *	(another process refreshed, the token was marked stale, an edit,
 *	chmod) makes the next call read it again.  Files changed less than
 *	about three seconds before they were read are not cached (file
 *	times are only as fine as the kernel's clock tick).  Cached tokens
 *	are wiped when replaced or dropped; oa2_mark_stale() drops the
 *	path's entry and oa2_token_cache_forget() drops one (NULL: all).
 *	With force set, the cache is neither used nor filled.
 *--*/
#ifndef OA2_REFRESH_H
#define OA2_REFRESH_H

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
	int cached;		/* oa2_access_token_use: served from the cache */
};

struct oa2_refresh_opts {
	const struct oa2_config *cfg;	/* may be NULL */
	int force;			/* refresh even when the access token is fresh */
	oa2_log_fn log;			/* may be NULL */
	void *log_ctx;
	int allow_http;			/* tests only: http://127.0.0.1 endpoints */
};

enum oa2_status oa2_access_token(const char *path,
    const struct oa2_refresh_opts *opts, struct oa2_token *tok,
    struct oa2_refresh_info *info, struct oa2_error *err);

enum oa2_status oa2_mark_stale(const char *path, const char *access_token,
    struct oa2_error *err);

typedef enum oa2_status (*oa2_token_use_fn)(void *arg,
    const char *access_token, const char *user, struct oa2_error *err);

enum oa2_status oa2_access_token_use(const char *path,
    const struct oa2_refresh_opts *opts, oa2_token_use_fn use, void *arg,
    struct oa2_refresh_info *info, struct oa2_error *err);

/* oa2_token_cache_forget - wipe and drop the cached token of path (NULL: all) */
void oa2_token_cache_forget(const char *path);

const char *oa2_setting(const struct oa2_token *tok,
    const struct oa2_config *cfg, const char *name);

/* oa2_token_fresh - the access token is present and valid for margin more seconds */
int oa2_token_fresh(const struct oa2_token *tok, long long margin, time_t now);

/* oa2_refresh_margin - refresh window in effect for tok */
long long oa2_refresh_margin(const struct oa2_token *tok,
    const struct oa2_config *cfg);

#endif
