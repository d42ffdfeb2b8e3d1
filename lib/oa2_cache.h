/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_cache 3h
 * SUMMARY
 *	the per-process cache of fresh access tokens (the plugin's hot path)
 * DESCRIPTION
 *	See oa2_cache.c.
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
