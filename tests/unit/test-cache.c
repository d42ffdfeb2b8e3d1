/* SPDX-License-Identifier: MIT */
/*
 * test-cache - the per-process token cache of oa2_access_token_use(): served
 * while the file is unchanged, never after any change on disk (rename, edit
 * in place, chmod, symlink, mark_stale), not for files changed within two
 * ticks of the file clock (a file written 30 ms ago is cached at once),
 * not inside the refresh window, and not with force.
 */
#include "config.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oa2_mem.h"
#include "oa2_cache.h"
#include "oa2_refresh.h"
#include "tap.h"

static char dir[] = "/tmp/test-cache.XXXXXX";

/* What use() saw, and what it should return. */
static char seen_at[256], seen_user[256];
static int use_calls;
static enum oa2_status use_result = OA2_OK;

static enum oa2_status
use(void *arg, const char *at, const char *user, struct oa2_error *err)
{
	(void)arg;
	use_calls++;
	snprintf(seen_at, sizeof(seen_at), "%s", at ? at : "(null)");
	snprintf(seen_user, sizeof(seen_user), "%s", user ? user : "(null)");
	if (use_result != OA2_OK)
		return oa2_error_set(err, use_result, "test", "use() refused");
	return OA2_OK;
}

/* path_of - a file in the test directory */
static const char *
path_of(const char *name)
{
	static char buf[8][600];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* body - a token file with access token at, expiring in secs */
static const char *
body(const char *at, long long secs)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "{\"refresh_token\": \"RT-1\", \"access_token\": \"%s\", "
	    "\"expiry\": \"%lld\", \"user\": \"file-user@example.test\", "
	    "\"token_endpoint\": \"https://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\"}", at, (long long)time(NULL) + secs);
	return buf;
}

/* app_body - an app-only token file: members (the grant's), access token at for an hour */
static const char *
app_body(const char *members, const char *at)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "{%s, \"access_token\": \"%s\", "
	    "\"expiry\": \"%lld\"}", members, at, (long long)time(NULL) + 3600);
	return buf;
}

/* put - write path in place (same inode when it exists) */
static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	close(fd);
	chmod(path, 0600);
}

/* replace - write a new file and rename it over path (a new inode) */
static void
replace(const char *path, const char *text)
{
	char tmp[700];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	put(tmp, text);
	rename(tmp, path);
}

/* get - one call; returns the status, fills info */
static enum oa2_status
get(const char *path, struct oa2_refresh_info *info, struct oa2_error *err)
{
	struct oa2_refresh_opts o = {0};

	seen_at[0] = 0;
	seen_user[0] = 0;
	return oa2_access_token_use(path, &o, use, NULL, info, err);
}

int
main(void)
{
	struct oa2_refresh_opts force = {0};
	struct oa2_refresh_info info;
	struct oa2_error err;
	const char *p;
	char name[32];
	int i;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* Files the cache may take must be older than two file-clock ticks. */
	put(path_of("hit.json"), body("AT-HIT-0001", 3600));
	put(path_of("inplace.json"), body("AT-INPLACE-1", 3600));
	put(path_of("rename.json"), body("AT-RENAME-01", 3600));
	put(path_of("chmod.json"), body("AT-CHMOD-001", 3600));
	put(path_of("link.json"), body("AT-LINK-0001", 3600));
	put(path_of("other.json"), body("AT-OTHER-001", 3600));
	put(path_of("stale.json"), body("AT-STALE-001", 3600));
	put(path_of("window.json"), body("AT-WINDOW-01", 200));
	put(path_of("force.json"), body("AT-FORCE-001", 3600));
	put(path_of("app-cc.json"), app_body("\"grant\": \"client_credentials\", "
	    "\"client_id\": \"c\", \"client_secret\": \"s\", \"token_endpoint\": "
	    "\"https://127.0.0.1:1/token\"", "AT-APP-CC-01"));
	put(path_of("app-jb.json"), app_body("\"grant\": \"jwt_bearer\", "
	    "\"service_account_file\": \"/nonexistent/sa.json\", \"user\": "
	    "\"m@example.test\"", "AT-APP-JB-01"));
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "many%d.json", i);
		snprintf(seen_at, sizeof(seen_at), "AT-MANY-%d", i);
		put(path_of(name), body(seen_at, 3600));
	}
	usleep(30000);

	/*
	 * 0. A file written just now (this file system keeps nanoseconds) is
	 * cached from its first read once the file clock has ticked past its
	 * times: no three-second wait after every refresh.
	 */
	p = path_of("new.json");
	put(p, body("AT-NEW-00001", 3600));
	usleep(30000);
	ok(get(p, &info, &err) == OA2_OK && !info.cached,
	    "a file written 30 ms ago: the first use reads it");
	ok(get(p, &info, &err) == OA2_OK && info.cached,
	    "a file written 30 ms ago: the second use is served from the cache");
	put(p, body("AT-NEW-00002", 3600));
	ok(get(p, &info, &err) == OA2_OK && !info.cached,
	    "rewritten in place right after: read again, not the cached token");
	is_str(seen_at, "AT-NEW-00002", "rewritten in place: the new token");

	/* 1. Unchanged: the second use comes from the cache. */
	p = path_of("hit.json");
	ok(get(p, &info, &err) == OA2_OK, "first use of a fresh token");
	is_str(seen_at, "AT-HIT-0001", "the file's access token");
	is_str(seen_user, "file-user@example.test", "the file's user");
	ok(!info.cached, "the first use reads the file");
	ok(get(p, &info, &err) == OA2_OK && info.cached, "the second use is served from the cache");
	is_str(seen_at, "AT-HIT-0001", "same token from the cache");
	is_str(seen_user, "file-user@example.test", "same user from the cache");
	ok(info.expires_at > time(NULL) + 3000, "the expiry comes with it");
	ok(info.grant == OA2_GRANT_REFRESH, "a refresh-token file: info.grant refresh_token (cached)");

	/* 1a. The file's grant comes with the token, read or cached (the
	 * plugin's message for a refused app-only token depends on it). */
	p = path_of("app-cc.json");
	ok(get(p, &info, &err) == OA2_OK && !info.cached &&
	    info.grant == OA2_GRANT_CLIENT_CREDENTIALS,
	    "client_credentials file, read: info.grant client_credentials");
	is_str(seen_at, "AT-APP-CC-01", "client_credentials file: its access token, no request");
	ok(get(p, &info, &err) == OA2_OK && info.cached &&
	    info.grant == OA2_GRANT_CLIENT_CREDENTIALS,
	    "client_credentials file, cached: info.grant client_credentials");
	p = path_of("app-jb.json");
	ok(get(p, &info, &err) == OA2_OK && !info.cached &&
	    info.grant == OA2_GRANT_JWT_BEARER, "jwt_bearer file, read: info.grant jwt_bearer");
	ok(get(p, &info, &err) == OA2_OK && info.cached &&
	    info.grant == OA2_GRANT_JWT_BEARER, "jwt_bearer file, cached: info.grant jwt_bearer");
	p = path_of("hit.json");
	oa2_token_cache_forget(p);
	ok(get(p, &info, &err) == OA2_OK && !info.cached && info.grant == OA2_GRANT_REFRESH,
	    "a refresh-token file read after app-only ones: info.grant refresh_token");

	/* 2. Edited in place, same size: never the old token. */
	p = path_of("inplace.json");
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached, "in-place: cached first");
	put(p, body("AT-INPLACE-2", 3600));
	ok(get(p, &info, &err) == OA2_OK && !info.cached, "in-place edit: read again");
	is_str(seen_at, "AT-INPLACE-2", "in-place edit: the new token");

	/* 3. Replaced by rename (another process refreshed). */
	p = path_of("rename.json");
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached, "rename: cached first");
	replace(p, body("AT-RENAME-02", 3600));
	ok(get(p, &info, &err) == OA2_OK && !info.cached, "replaced file: read again");
	is_str(seen_at, "AT-RENAME-02", "replaced file: the new token");
	/* Once the file clock has ticked past the new file: cached again. */
	usleep(30000);
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached,
	    "the replaced file, 30 ms later: cached again");
	is_str(seen_at, "AT-RENAME-02", "and still gives its token");

	/* 4. chmod: the file is refused again, as without the cache. */
	p = path_of("chmod.json");
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached, "chmod: cached first");
	chmod(p, 0644);
	ok(get(p, &info, &err) == OA2_ERR_INPUT, "mode 0644 after chmod: refused");
	ok(strstr(err.msg, "chmod 600") != NULL, "with the usual message");
	chmod(p, 0600);
	ok(get(p, &info, &err) == OA2_OK, "chmod 600 again: usable");

	/* 5. Replaced by a symbolic link: refused, as without the cache. */
	p = path_of("link.json");
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached, "symlink: cached first");
	unlink(p);
	if (symlink(path_of("other.json"), p) < 0)
		perror("symlink");
	ok(get(p, &info, &err) == OA2_ERR_INPUT, "a symbolic link in its place: refused");
	ok(strstr(err.msg, "symbolic link") != NULL, "with the usual message");

	/* 6. Marked stale: the next use refreshes (here: fails, no endpoint). */
	p = path_of("stale.json");
	get(p, &info, &err);
	ok(get(p, &info, &err) == OA2_OK && info.cached, "stale: cached first");
	ok(oa2_mark_stale(p, "AT-STALE-001", &err) == OA2_OK, "mark_stale");
	ok(get(p, &info, &err) == OA2_ERR_TEMP, "after mark_stale the token is not used: a refresh is tried");
	is_str(err.code, "network", "and fails at the unreachable endpoint");
	ok(use_calls > 0, "use() was called along the way");

	/* 7. Inside the refresh window: never from the cache. */
	p = path_of("window.json");
	ok(get(p, &info, &err) == OA2_OK && info.stale_ok && !info.cached,
	    "inside the window: refresh tried, the valid token used");
	ok(get(p, &info, &err) == OA2_OK && info.stale_ok && !info.cached,
	    "inside the window: again not from the cache");

	/*
	 * 7b. The window adapts to the provider's token lifetime (expires_in,
	 * written by the last refresh): tokens of 60 s and 100 s left are
	 * fresh with a 300 s window (effective 30 s), so no refresh is tried
	 * (the endpoint here is unreachable: a try would show as stale_ok).
	 */
	p = path_of("short.json");
	put(p, "{\"refresh_token\": \"RT-1\", \"access_token\": \"AT-SHORT-01\", "
	    "\"expires_in\": \"60\", \"token_endpoint\": \"https://127.0.0.1:1/t\", "
	    "\"client_id\": \"c\", \"expiry\": \"0\"}");
	{
		char text[400];

		snprintf(text, sizeof(text), "{\"refresh_token\": \"RT-1\", "
		    "\"access_token\": \"AT-SHORT-01\", \"expires_in\": \"60\", "
		    "\"token_endpoint\": \"https://127.0.0.1:1/t\", "
		    "\"client_id\": \"c\", \"expiry\": \"%lld\"}",
		    (long long)time(NULL) + 45);
		put(p, text);
	}
	ok(get(p, &info, &err) == OA2_OK && !info.stale_ok && !info.refreshed,
	    "expires_in 60, 45 s left: fresh (window 30 s, not 300 s), no refresh");
	is_str(seen_at, "AT-SHORT-01", "expires_in 60: the file's token is used");

	/* 8. force: the cache is neither used nor filled. */
	p = path_of("force.json");
	get(p, &info, &err);
	force.force = 1;
	ok(oa2_access_token_use(p, &force, use, NULL, &info, &err) == OA2_OK &&
	    info.stale_ok && !info.cached,
	    "force: a refresh is tried (it fails here), not the cache");

	/* 9. More files than slots: each still gives its own token. */
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "many%d.json", i);
		get(path_of(name), &info, &err);
	}
	for (i = 5; i >= 0; i--) {
		char want[32];

		snprintf(name, sizeof(name), "many%d.json", i);
		snprintf(want, sizeof(want), "AT-MANY-%d", i);
		ok(get(path_of(name), &info, &err) == OA2_OK, "file %d of 6", i);
		is_str(seen_at, want, "file %d: its own token", i);
	}

	/* 10. use()'s failure is the result; forget drops everything. */
	p = path_of("hit.json");
	get(p, &info, &err);		/* back in the cache after the six */
	use_result = OA2_ERR_INPUT;
	ok(get(p, &info, &err) == OA2_ERR_INPUT && info.cached, "use() failing: its status");
	use_result = OA2_OK;
	oa2_token_cache_forget(NULL);
	ok(get(p, &info, &err) == OA2_OK && !info.cached, "after forget(NULL): read again");
	ok(get(p, &info, &err) == OA2_OK && info.cached, "and cached again");
	oa2_token_cache_forget(p);
	ok(get(p, &info, &err) == OA2_OK && !info.cached, "after forget(path): read again");

	/* 11. A file that is gone: the usual error. */
	unlink(p);
	ok(get(p, &info, &err) == OA2_ERR_INPUT && strstr(err.msg, "No such file") != NULL,
	    "a file removed: refused with the usual message");

	oa2_token_cache_forget(NULL);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			perror("rm");
	}
	return tap_done();
}
