/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_cache 3h
 * SUMMARY
 *	the per-process cache of fresh access tokens (the plugin's hot path)
 * DESCRIPTION
 *	oa2_access_token_use() gets a usable access token like
 *	oa2_access_token() (oa2_refresh(3)), but instead of returning the
 *	document it calls use(arg, access_token, user, err) (user: the file's
 *	"user", or NULL) and returns what use() returned; the strings are
 *	valid only during that call.  It keeps a per-process cache of fresh
 *	access tokens (OA2_CACHE_SLOTS of them) keyed by the token file's
 *	path and identity (device, inode, size, mtime, ctime): while lstat
 *	of the path shows the very file a token came from and the token is
 *	fresh beyond the refresh window, that token is used without opening
 *	or parsing the file (one lstat, no allocation).  Any change of the
 *	file on disk (another process refreshed, the token was marked stale,
 *	an edit, chmod) makes the next call read it again.  Files changed
 *	within two ticks of the kernel's file clock (a few ms) before they
 *	were read are not cached; where file times have whole seconds only,
 *	within OA2_CACHE_RACY_SECS + 1 seconds (oa2_cache.c says why).
 *	Cached tokens are wiped when replaced or dropped;
 *	oa2_mark_stale() drops the path's entry and oa2_token_cache_forget()
 *	drops one (NULL: all).  With force set, the cache is neither used
 *	nor filled.
 *--*/
#ifndef OA2_CACHE_H
#define OA2_CACHE_H

#include "oa2_error.h"
#include "oa2_refresh.h"

typedef enum oa2_status (*oa2_token_use_fn)(void *arg,
    const char *access_token, const char *user, struct oa2_error *err);

enum oa2_status oa2_access_token_use(const char *path,
    const struct oa2_refresh_opts *opts, oa2_token_use_fn use, void *arg,
    struct oa2_refresh_info *info, struct oa2_error *err);

/* oa2_token_cache_forget - wipe and drop the cached token of path (NULL: all) */
void oa2_token_cache_forget(const char *path);

#endif
