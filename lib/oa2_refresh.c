/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_refresh 3
 * SUMMARY
 *	get a usable access token for a token file, refreshing when due
 * SECURITY
 *	The request form and the reply hold the refresh token, the client
 *	secret and the access token: they live in wiped buffers only, and no
 *	message built here ever contains them.  The per-process token cache
 *	(oa2_access_token_use) holds access tokens only, never the refresh
 *	token or the client secret, each slot in one block that is wiped when
 *	it is replaced, dropped or cleared.
 *--*/
#include "config.h"

#include <sys/stat.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oa2_grant.h"
#include "oa2_mem.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tokresp.h"

/* say - log through the caller's sink, if any */
static void say(const struct oa2_refresh_opts *o, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
say(const struct oa2_refresh_opts *o, int level, const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	if (o == NULL || o->log == NULL)
		return;
	if (o->cfg != NULL && level > o->cfg->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->log(o->log_ctx, level, buf);
}

const char *
oa2_setting(const struct oa2_token *tok, const struct oa2_config *cfg,
    const char *name)
{
	json_t *v;

	if (tok != NULL && tok->root != NULL &&
	    (v = json_object_get(tok->root, name)) != NULL &&
	    json_is_string(v) && *json_string_value(v))
		return json_string_value(v);
	return oa2_config_str(cfg, name);
}

long long
oa2_refresh_margin(const struct oa2_token *tok, const struct oa2_config *cfg)
{
	if (tok->refresh_window >= 0)
		return tok->refresh_window;
	return cfg != NULL ? cfg->refresh_window : 300;
}

int
oa2_token_fresh(const struct oa2_token *tok, long long margin, time_t now)
{
	return tok->access_token != NULL && *tok->access_token &&
	    tok->expiry > (long long)now + margin;
}

/* endpoint_url - token endpoint from the file, the config or the provider preset */
static enum oa2_status
endpoint_url(const char *path, const struct oa2_token *tok,
    const struct oa2_config *cfg, char *buf, size_t size,
    struct oa2_error *err)
{
	const struct oa2_provider *p;
	const char *url, *name;

	if ((url = oa2_setting(tok, cfg, "token_endpoint")) != NULL) {
		if (strlen(url) >= size)
			return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
			    "%s: field \"token_endpoint\" is too long", path);
		snprintf(buf, size, "%s", url);
		return OA2_OK;
	}
	if ((name = oa2_setting(tok, cfg, "provider")) == NULL)
		return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
		    "%s: no token endpoint: set \"token_endpoint\" or \"provider\" "
		    "(%s) in the file or in %s", path, oa2_provider_names(),
		    cfg && cfg->path[0] ? cfg->path : oa2_config_path());
	if ((p = oa2_provider_find(name)) == NULL)
		return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
		    "%s: field \"provider\" is \"%.32s\": use one of %s, or set "
		    "\"token_endpoint\"", path, name, oa2_provider_names());
	if (oa2_provider_url(p->token_url, oa2_setting(tok, cfg, "tenant"), buf,
	    size) < 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
		    "%s: field \"tenant\" is not a tenant id, domain or one of "
		    "common, organizations, consumers", path);
	return OA2_OK;
}

/* post_refresh - one refresh_token grant (oa2_grant_refresh); fills tr */
static enum oa2_status
post_refresh(const char *path, const struct oa2_token *tok,
    const struct oa2_refresh_opts *o, struct oa2_tokresp *tr,
    long *elapsed_ms, struct oa2_error *err)
{
	const struct oa2_config *cfg = o->cfg;
	struct oa2_client c = {0};
	struct timespec t0, t1;
	char url[1024];
	enum oa2_status st;

	if ((st = endpoint_url(path, tok, cfg, url, sizeof(url), err)) != OA2_OK)
		return st;
	if ((c.client_id = oa2_setting(tok, cfg, "client_id")) == NULL)
		return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
		    "%s: no client id: set \"client_id\" in the file or in %s",
		    path, cfg && cfg->path[0] ? cfg->path : oa2_config_path());
	if (oa2_client_auth_parse(oa2_setting(tok, cfg, "client_auth"),
	    &c.client_auth) < 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
		    "%s: field \"client_auth\" must be \"post\" or \"basic\"", path);
	c.token_endpoint = url;
	c.client_secret = oa2_setting(tok, cfg, "client_secret");
	c.scope = oa2_setting(tok, cfg, "scope");
	c.http.ca_file = oa2_setting(tok, cfg, "ca_bundle_file");
	c.http.ca_dir = oa2_setting(tok, cfg, "ca_certs_dir");
	c.http.proxy = oa2_setting(tok, cfg, "proxy");
	c.http.connect_timeout_ms = (cfg ? cfg->connect_timeout : 10) * 1000;
	c.http.timeout_ms = (cfg ? cfg->timeout : 30) * 1000;
	c.http.max_body = 256 * 1024;
	c.http.allow_http = o->allow_http;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = oa2_grant_refresh(&c, tok->refresh_token, tr, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	return st;
}

/* explain_refresh_error - add what to do to a token endpoint error */
static void
explain_refresh_error(const char *path, struct oa2_error *err)
{
	char msg[OA2_ERR_MSG_MAX];
	const char *todo = NULL;

	if (strcmp(err->code, "invalid_grant") == 0)
		todo = "the refresh token is dead (expired, revoked, or replaced): "
		    "re-authorize with: sasl-oauth2 authorize --force";
	else if (strcmp(err->code, "invalid_client") == 0)
		todo = "the provider does not accept this client_id/client_secret: "
		    "check them";
	else if (strcmp(err->code, "unauthorized_client") == 0)
		todo = "the refresh token belongs to another client_id, or the "
		    "client may not refresh: re-authorize with this client";
	else if (strcmp(err->code, "invalid_scope") == 0)
		todo = "the scope in the file or config is not allowed for this "
		    "client: fix \"scope\"";
	else if (err->status == OA2_ERR_PROTO)
		todo = "check that token_endpoint is the provider's token URL; if "
		    "it is, the provider misbehaves: the mail is deferred and "
		    "retried";
	if (err->status == OA2_ERR_TEMP)
		todo = "temporary: the mail is deferred and retried";
	snprintf(msg, sizeof(msg), "%s: %s%s%s (see: sasl-oauth2 explain %s)",
	    path, err->msg, todo ? "; " : "", todo ? todo : "", err->code);
	memcpy(err->msg, msg, sizeof(err->msg));
}

/*
 * keep_rotated - the reply was unusable but carried a new refresh token:
 * store it (the old one may be retired already), with no access token.
 */
static void
keep_rotated(const char *path, struct oa2_token *tok, const char *rt,
    struct oa2_error *err)
{
	struct oa2_error e2;
	size_t n = strlen(err->msg);

	if (oa2_token_update(tok, "", 0, rt, &e2) == OA2_OK &&
	    oa2_token_save(tok, path, &e2) == OA2_OK)
		snprintf(err->msg + n, sizeof(err->msg) - n,
		    "; the new refresh token it sent was stored");
	else
		snprintf(err->msg + n, sizeof(err->msg) - n,
		    "; the new refresh token it sent could not be stored (%s)",
		    e2.msg);
}

static const struct oa2_refresh_opts defaults;

/*
 * access_token - oa2_access_token(); *sb_ok says whether *sb is the fstat of
 * the file the returned document was read from, unchanged by us (a token we
 * refreshed ourselves was written to a new file, whose identity we have not
 * looked at).
 */
static enum oa2_status
access_token(const char *path, const struct oa2_refresh_opts *o,
    struct oa2_token *tok, struct oa2_refresh_info *info, struct stat *sb,
    int *sb_ok, struct oa2_error *err)
{
	struct oa2_tokresp tr = {0};
	long long margin, seen_expiry, expires_in;
	char *seen_at = NULL;
	enum oa2_status st;
	time_t now;
	int fd = -1, lock_failed = 0;

	*sb_ok = 0;
	if (o == NULL)
		o = &defaults;
	memset(info, 0, sizeof(*info));
	memset(tok, 0, sizeof(*tok));
	if ((st = oa2_token_load_stat(tok, path, sb, err)) != OA2_OK)
		return st;
	margin = oa2_refresh_margin(tok, o->cfg);
	now = time(NULL);
	if (!o->force && oa2_token_fresh(tok, margin, now)) {
		info->expires_at = tok->expiry;
		*sb_ok = 1;
		return OA2_OK;
	}
	seen_expiry = tok->expiry;
	if (tok->access_token != NULL &&
	    (seen_at = oa2_strdup(tok->access_token)) == NULL) {
		oa2_token_free(tok);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}

	/* One refresh for all: take the lock, then look again. */
	if ((st = oa2_token_lock(path, &fd, err)) != OA2_OK) {
		lock_failed = 1;
		goto fallback;
	}
	oa2_token_free(tok);
	if ((st = oa2_token_load_fd_stat(tok, fd, path, sb, err)) != OA2_OK)
		goto out;
	margin = oa2_refresh_margin(tok, o->cfg);
	now = time(NULL);
	if (oa2_token_fresh(tok, margin, now) && (!o->force ||
	    tok->expiry != seen_expiry || seen_at == NULL ||
	    strcmp(seen_at, tok->access_token) != 0)) {
		info->reused = 1;
		info->expires_at = tok->expiry;
		*sb_ok = 1;
		say(o, OA2_LOG_DEBUG, "%s: another process refreshed the token", path);
		goto out;
	}

	st = post_refresh(path, tok, o, &tr, &info->elapsed_ms, err);
	if (st != OA2_OK) {
		if (tr.refresh_token != NULL)
			keep_rotated(path, tok, tr.refresh_token, err);
		explain_refresh_error(path, err);
		goto fallback;
	}
	/* Write back before anything else is done with the reply. */
	expires_in = tr.expires_in > 0 ? tr.expires_in : 3600;
	now = time(NULL);
	if ((st = oa2_token_update(tok, tr.access_token, (long long)now + expires_in,
	    tr.refresh_token, err)) != OA2_OK ||
	    (st = oa2_token_save(tok, path, err)) != OA2_OK) {
		/* The provider may have rotated the refresh token: say so loudly. */
		if (tr.refresh_token != NULL)
			snprintf(err->msg + strlen(err->msg),
			    sizeof(err->msg) - strlen(err->msg),
			    "; the provider rotated the refresh token and the new one "
			    "could not be stored: re-authorize if refreshes now fail");
		goto out;
	}
	if (expires_in <= margin)
		say(o, OA2_LOG_WARNING, "%s: the provider's access tokens live %lld s, "
		    "not longer than the refresh window (%lld s), so every use "
		    "refreshes: set refresh_window below %lld", path, expires_in,
		    margin, expires_in / 2);
	info->refreshed = 1;
	info->rotated = tr.refresh_token != NULL;
	info->expires_at = tok->expiry;
	say(o, OA2_LOG_NOTICE, "%s: access token refreshed in %ld ms, valid for "
	    "%lld s%s", path, info->elapsed_ms, expires_in,
	    info->rotated ? ", refresh token rotated" : "");
	goto out;

fallback:
	/* A passing failure must not stop mail while the old token still works. */
	if ((st == OA2_ERR_TEMP || lock_failed) && tok->root != NULL &&
	    oa2_token_fresh(tok, 0, time(NULL))) {
		say(o, OA2_LOG_WARNING, "%s; using the current access token, "
		    "valid for %lld more s", err->msg,
		    tok->expiry - (long long)time(NULL));
		info->stale_ok = 1;
		info->expires_at = tok->expiry;
		st = OA2_OK;
	}
out:
	oa2_tokresp_free(&tr);
	oa2_free_secret(&seen_at);
	oa2_token_unlock(&fd);
	if (st != OA2_OK)
		oa2_token_free(tok);
	return st;
}

enum oa2_status
oa2_access_token(const char *path, const struct oa2_refresh_opts *o,
    struct oa2_token *tok, struct oa2_refresh_info *info,
    struct oa2_error *err)
{
	struct stat sb;
	int sb_ok;

	return access_token(path, o, tok, info, &sb, &sb_ok, err);
}

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
 * Timestamps are only as fine as the file system's clock tick: a change made
 * in the same tick as our read could keep every field.  So a file is cached
 * only when its mtime and ctime are more than CACHE_RACY_SECS older than the
 * moment the read began: any later change then carries a later time.  (This
 * also covers an inode number that is freed and reused by a new file of the
 * same size: its times are later.)  A file written moments ago is simply
 * parsed again on each use until it is old enough.
 *
 * Slots hold secrets: each is one block that is wiped when it is replaced,
 * dropped or cleared.  A mutex keeps threaded applications safe.
 */
#define CACHE_SLOTS		4
#define CACHE_RACY_SECS		2

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
	long long window;		/* -1: the configuration's */
	unsigned long used;		/* for least-recently-used replacement */
};

static struct cache_slot cache[CACHE_SLOTS];
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

/* racy - the file changed too close to t0 for its times to tell later changes */
static int
racy(const struct stat *sb, const struct timespec *t0)
{
	return sb->st_mtim.tv_sec > t0->tv_sec - CACHE_RACY_SECS - 1 ||
	    sb->st_ctim.tv_sec > t0->tv_sec - CACHE_RACY_SECS - 1;
}

/* cache_slot_of - the slot for path, or NULL (call with the mutex held) */
static struct cache_slot *
cache_slot_of(const char *path)
{
	int i;

	for (i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].blob != NULL && strcmp(cache[i].path, path) == 0)
			return &cache[i];
	return NULL;
}

/* cache_store - remember tok, read from the file sb describes (mutex held) */
static void
cache_store(const char *path, const struct oa2_token *tok,
    const struct stat *sb)
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
		for (i = 1; i < CACHE_SLOTS; i++)
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
	victim->window = tok->refresh_window;
	victim->used = ++cache_clock;
}

enum oa2_status
oa2_access_token_use(const char *path, const struct oa2_refresh_opts *o,
    oa2_token_use_fn use, void *arg, struct oa2_refresh_info *info,
    struct oa2_error *err)
{
	struct cache_slot *s;
	struct oa2_token tok;
	struct timespec t0;
	struct stat sb;
	enum oa2_status st;
	long long margin;
	int sb_ok;

	if (o == NULL)
		o = &defaults;
	/* The hot path: one lstat, no parse, no allocation. */
	if (!o->force && lstat(path, &sb) == 0) {
		pthread_mutex_lock(&cache_mutex);
		if ((s = cache_slot_of(path)) != NULL) {
			margin = s->window >= 0 ? s->window :
			    o->cfg != NULL ? o->cfg->refresh_window : 300;
			if (same_file(s, &sb) &&
			    s->expiry > (long long)time(NULL) + margin) {
				s->used = ++cache_clock;
				memset(info, 0, sizeof(*info));
				info->cached = 1;
				info->expires_at = s->expiry;
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
	if ((st = access_token(path, o, &tok, info, &sb, &sb_ok, err)) != OA2_OK)
		return st;
	st = use(arg, tok.access_token, tok.user, err);
	if (st == OA2_OK && sb_ok && !o->force && !racy(&sb, &t0)) {
		pthread_mutex_lock(&cache_mutex);
		cache_store(path, &tok, &sb);
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
		for (i = 0; i < CACHE_SLOTS; i++)
			slot_release(&cache[i]);
	} else if ((s = cache_slot_of(path)) != NULL)
		slot_release(s);
	pthread_mutex_unlock(&cache_mutex);
}

enum oa2_status
oa2_mark_stale(const char *path, const char *access_token,
    struct oa2_error *err)
{
	struct oa2_token tok = {0};
	enum oa2_status st;
	int fd = -1;

	/* Whatever this process remembers of the file is stale now. */
	oa2_token_cache_forget(path);
	if ((st = oa2_token_lock(path, &fd, err)) != OA2_OK)
		return st;
	if ((st = oa2_token_load_fd(&tok, fd, path, err)) == OA2_OK &&
	    tok.access_token != NULL && access_token != NULL &&
	    strcmp(tok.access_token, access_token) == 0 && tok.expiry != 0) {
		char *at = oa2_strdup(access_token);

		if (at == NULL)
			st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
		else if ((st = oa2_token_update(&tok, at, 0, NULL, err)) == OA2_OK)
			st = oa2_token_save(&tok, path, err);
		oa2_free_secret(&at);
	}
	oa2_token_free(&tok);
	oa2_token_unlock(&fd);
	return st;
}
