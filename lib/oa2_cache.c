/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_cache 3
 * SUMMARY
 *	the per-process cache of fresh access tokens
 * SYNOPSIS
 *	#include "oa2_cache.h"
 *
 *	enum oa2_status oa2_access_token_use(path, opts, use, arg, info, err)
 *	void	oa2_token_cache_forget(path)
 * DESCRIPTION
 *	oa2_access_token_use() gets a usable access token like
 *	oa2_access_token() (oa2_refresh(3)), but instead of returning the
 *	document it calls use(arg, access_token, user, err) (user: the file's
 *	"user", or NULL) and returns what use() returned; the strings are
 *	valid only during that call.  Before use() is called, info (as
 *	oa2_access_token() fills it) also holds the file's "grant"
 *	(info->grant: app-only when not OA2_GRANT_REFRESH).  It keeps a per-process cache of fresh
 *	access tokens (OA2_CACHE_SLOTS of them) keyed by the token file's
 *	path and identity (device, inode, size, mtime, ctime): while lstat
 *	of the path shows the very file a token came from and the token is
 *	fresh beyond the refresh window, that token is used without opening
 *	or parsing the file (one lstat, no allocation).  Any change of the
 *	file on disk (another process refreshed, the token was marked stale,
 *	an edit, chmod) makes the next call read it again.  Files changed
 *	within two ticks of the kernel's file clock (a few ms) before they
 *	were read are not cached; where file times have whole seconds only,
 *	within OA2_CACHE_RACY_SECS + 1 seconds (racy() below says why).
 *	Cached tokens are wiped when replaced or dropped;
 *	oa2_mark_stale() drops the path's entry and oa2_token_cache_forget()
 *	drops one (NULL: all).  With force set, the cache is neither used
 *	nor filled.
 * SECURITY
 *	The cache holds access tokens only, never the refresh token or the
 *	client secret, each slot in one block that is wiped when it is
 *	replaced, dropped or cleared.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* Application-specific. */
#include "oa2_cache.h"
#include "oa2_limits.h"
#include "oa2_mem.h"
#include "oa2_settings.h"

/*
 * The per-process cache of fresh access tokens (oa2_access_token_use).
 *
 * A slot holds what the hot path needs of one token file (the access token,
 * its expiry, the refresh window and the user) and the identity of the file
 * it was read from: device, inode, size, mtime and ctime, as fstat gave them
 * just before the read.  It is served only while lstat of the path gives
 * exactly that identity, so any change on disk -- another process's refresh
 * or mark_stale (a new file renamed over the path: another inode), an
 * administrator's edit in place (new size or times), chmod/chown (ctime) --
 * sends the next exchange to the full path, which reads the file again.
 *
 * Timestamps are only as fine as the kernel's clock for them: a change made
 * in the same tick as our read could keep every field.  So a file is cached
 * only when its mtime and ctime are older than the moment the read began by
 * more than that tick: any later change then carries a later time.  (This
 * also covers an inode number that is freed and reused by a new file of the
 * same size: its times are later.)  Linux stamps files from the coarse
 * real-time clock, whose tick clock_getres(CLOCK_REALTIME_COARSE) gives
 * (1 to 10 ms); on a file system that keeps nanoseconds a file is thus
 * cached from the first read a few milliseconds after it was written -- a
 * refresh no longer costs every process a parse per exchange for seconds.
 * Where the times carry no sub-second part (both nanosecond fields 0: a
 * file system with whole seconds, or a file stamped so by hand) the margin
 * is OA2_CACHE_RACY_SECS seconds, as before.
 *
 * Slots hold secrets: each is one block that is wiped when it is replaced,
 * dropped or cleared.  A mutex keeps threaded applications safe.
 */

struct cache_slot {
	char *blob;			/* path, access token, user; wiped */
	size_t blob_len;
	const char *path;		/* views into blob */
	const char *access_token;
	const char *user;		/* NULL when the file has none */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	struct timespec ctim;
	long long expiry;
	long long window;		/* the refresh window in effect */
	enum oa2_grant_kind grant;	/* the file's "grant" (info->grant) */
	unsigned long used;		/* for least-recently-used replacement */
};

static struct cache_slot cache[OA2_CACHE_SLOTS];
static unsigned long cache_clock;
static pthread_mutex_t cache_mutex = PTHREAD_MUTEX_INITIALIZER;

/* slot_release - wipe and free a slot's block; the slot becomes empty */
static void
slot_release(struct cache_slot *s)
{
	if (s->blob != NULL) {
		oa2_wipe(s->blob, s->blob_len);
		oa2_free(s->blob);
	}
	memset(s, 0, sizeof(*s));
}

/* same_file - sb (from lstat) names the file the slot was read from, unchanged */
static int
same_file(const struct cache_slot *s, const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_ino == s->ino &&
	    sb->st_dev == s->dev && sb->st_size == s->size &&
	    sb->st_mtim.tv_nsec == s->mtim.tv_nsec &&
	    sb->st_mtim.tv_sec == s->mtim.tv_sec &&
	    sb->st_ctim.tv_nsec == s->ctim.tv_nsec &&
	    sb->st_ctim.tv_sec == s->ctim.tv_sec;
}

/* file_tick_ns - how fine the kernel's file times are, in ns (cached) */
static long long
file_tick_ns(void)
{
	static long long tick;
	struct timespec res;

	if (tick == 0) {
		if (clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 &&
		    res.tv_sec == 0 && res.tv_nsec > 0)
			tick = res.tv_nsec;
		else
			tick = 1000000000LL;	/* unknown: a whole second */
	}
	return (tick);
}

/* ts_ns - a timespec in ns */
static long long
ts_ns(const struct timespec *ts)
{
	return ((long long)ts->tv_sec * 1000000000LL + ts->tv_nsec);
}

/*
 * racy - the file changed too close to t0 for its times to tell a later
 * change: within two ticks of the file clock (one for its lag behind the
 * fine clock t0 comes from, one for safety), or, for whole-second times,
 * within OA2_CACHE_RACY_SECS seconds.
 */
static int
racy(const struct stat *sb, const struct timespec *t0)
{
	long long margin, limit;

	if (sb->st_mtim.tv_nsec == 0 && sb->st_ctim.tv_nsec == 0)
		return (sb->st_mtim.tv_sec > t0->tv_sec - OA2_CACHE_RACY_SECS - 1 ||
		    sb->st_ctim.tv_sec > t0->tv_sec - OA2_CACHE_RACY_SECS - 1);
	margin = 2 * file_tick_ns();
	limit = ts_ns(t0) - margin;
	return (ts_ns(&sb->st_mtim) >= limit || ts_ns(&sb->st_ctim) >= limit);
}

/* cache_slot_of - the slot for path, or NULL (call with the mutex held) */
static struct cache_slot *
cache_slot_of(const char *path)
{
	int i;

	for (i = 0; i < OA2_CACHE_SLOTS; i++)
		if (cache[i].blob != NULL && strcmp(cache[i].path, path) == 0)
			return &cache[i];
	return NULL;
}

/* cache_store - remember tok, read from the file sb describes (mutex held) */
static void
cache_store(const char *path, const struct oa2_token *tok, long long window,
    enum oa2_grant_kind grant, const struct stat *sb)
{
	struct cache_slot *victim;
	size_t plen, alen, ulen, n;
	char *b;
	int i;

	if (tok->access_token == NULL || *tok->access_token == 0)
		return;
	/* The path's own slot, else an empty one (used 0), else the oldest. */
	if ((victim = cache_slot_of(path)) == NULL) {
		victim = &cache[0];
		for (i = 1; i < OA2_CACHE_SLOTS; i++)
			if (cache[i].used < victim->used)
				victim = &cache[i];
	}
	slot_release(victim);

	plen = strlen(path);
	alen = strlen(tok->access_token);
	ulen = tok->user != NULL ? strlen(tok->user) : 0;
	n = plen + 1 + alen + 1 + (tok->user != NULL ? ulen + 1 : 0);
	if ((b = oa2_malloc(n)) == NULL)
		return;			/* no cache this time: not an error */
	victim->blob = b;
	victim->blob_len = n;
	memcpy(b, path, plen + 1);
	victim->path = b;
	b += plen + 1;
	memcpy(b, tok->access_token, alen + 1);
	victim->access_token = b;
	b += alen + 1;
	if (tok->user != NULL) {
		memcpy(b, tok->user, ulen + 1);
		victim->user = b;
	}
	victim->dev = sb->st_dev;
	victim->ino = sb->st_ino;
	victim->size = sb->st_size;
	victim->mtim = sb->st_mtim;
	victim->ctim = sb->st_ctim;
	victim->expiry = tok->expiry;
	victim->window = window;
	victim->grant = grant;
	victim->used = ++cache_clock;
}

enum oa2_status
oa2_access_token_use(const char *path, const struct oa2_refresh_opts *o,
    oa2_token_use_fn use, void *arg, struct oa2_refresh_info *info,
    struct oa2_error *err)
{
	static const struct oa2_refresh_opts defaults;
	struct oa2_settings set;
	struct cache_slot *s;
	struct oa2_token tok;
	struct timespec t0;
	struct stat sb;
	enum oa2_status st;
	int sb_ok;

	if (o == NULL)
		o = &defaults;
	/* The hot path: one lstat, no parse, no allocation. */
	if (!o->force && lstat(path, &sb) == 0) {
		pthread_mutex_lock(&cache_mutex);
		if ((s = cache_slot_of(path)) != NULL) {
			if (same_file(s, &sb) &&
			    s->expiry > (long long)time(NULL) + s->window) {
				s->used = ++cache_clock;
				memset(info, 0, sizeof(*info));
				info->cached = 1;
				info->expires_at = s->expiry;
				info->grant = s->grant;
				st = use(arg, s->access_token, s->user, err);
				pthread_mutex_unlock(&cache_mutex);
				return st;
			}
			/* Changed on disk, or due for a refresh: never again. */
			slot_release(s);
		}
		pthread_mutex_unlock(&cache_mutex);
	}

	clock_gettime(CLOCK_REALTIME, &t0);
	if ((st = oa2_access_token_stat(path, o, &tok, info, &sb, &sb_ok, err))
	    != OA2_OK)
		return st;
	oa2_settings_resolve(&set, &tok, o->cfg);
	info->grant = set.grant;
	st = use(arg, tok.access_token, tok.user, err);
	if (st == OA2_OK && sb_ok && !o->force && !racy(&sb, &t0)) {
		pthread_mutex_lock(&cache_mutex);
		cache_store(path, &tok, set.refresh_window, set.grant, &sb);
		pthread_mutex_unlock(&cache_mutex);
	}
	oa2_token_free(&tok);
	return st;
}

void
oa2_token_cache_forget(const char *path)
{
	struct cache_slot *s;
	int i;

	pthread_mutex_lock(&cache_mutex);
	if (path == NULL) {
		for (i = 0; i < OA2_CACHE_SLOTS; i++)
			slot_release(&cache[i]);
	} else if ((s = cache_slot_of(path)) != NULL)
		slot_release(s);
	pthread_mutex_unlock(&cache_mutex);
}
