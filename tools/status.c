/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	status 3
 * SUMMARY
 *	sasl-oauth2 status and refresh
 * DESCRIPTION
 *	cmd_status() is the "token valid" tag: for each token file, the
 *	provider, user, scope, access token expiry, when the refresh token
 *	was authorized and last used, the known ways it dies (Google
 *	External+Testing apps: 7 days after consent; Google: 6 months unused;
 *	Microsoft: 90 days unused), and whether the file is readable and
 *	writable (and its directory writable, for the atomic rename) by the
 *	user that will refresh it.  Exit codes are the monitoring plugin
 *	ones: 0 ok, 1 warning, 2 critical, 3 unknown; --json for machines.
 *	It does not contact the provider unless --refresh is given.
 *	A directory argument stands for every token file under it
 *	(sao_is_token_file(): a JSON object with a "refresh_token" or "grant"
 *	member, or with another token file's member and not a service-account
 *	key, or a ".json" file that is not JSON; refresh-all takes the same);
 *	symbolic links under it are not followed, other files are
 *	skipped and said, a file or directory that cannot be read counts as
 *	UNKNOWN.  The first line is always the summary of all of them.
 *
 *	cmd_list() is the same over the same files, one line each.
 *
 *	"Last used" is the later of the file's "refreshed_at" (written by
 *	this tool) and its modification time: every refresh, by the plugin
 *	too, replaces the file.  The ages and their warnings are
 *	lifetime.c's, which refresh-all reports too.
 *
 *	cmd_refresh() refreshes now, with oa2_access_token(force), under the
 *	same lock and atomic write-back as the plugin; for a timer.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_app.h"
#include "oa2_explain.h"
#include "oa2_http.h"
#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "sao.h"

enum { ST_OK = 0, ST_WARNING = 1, ST_CRITICAL = 2, ST_UNKNOWN = 3 };
static const char *state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

struct report {
	int state;
	json_t *obj;		/* the --json object */
	json_t *warnings;
	json_t *errors;
};

/* raise_state - keep the worse state (UNKNOWN ranks below CRITICAL) */
static void
raise_state(struct report *r, int s)
{
	int rank[] = {0, 1, 3, 2};

	if (rank[s] > rank[r->state])
		r->state = s;
}

static void
add_warning(struct report *r, int s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
add_warning(struct report *r, int s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	raise_state(r, s);
	json_array_append_new(s == ST_WARNING ? r->warnings : r->errors,
	    json_string(buf));
}

/* may - can (uid, groups) do want (4 r, 2 w, 1 x) on st? */
static int
may(uid_t uid, const gid_t *groups, int ngroups, const struct stat *st, int want)
{
	int bits;

	if (uid == 0)
		return !(want & 1) || (st->st_mode & 0111) || S_ISDIR(st->st_mode);
	if (st->st_uid == uid)
		bits = (st->st_mode >> 6) & 7;
	else {
		bits = st->st_mode & 7;
		for (int i = 0; i < ngroups; i++)
			if (groups[i] == st->st_gid) {
				bits = (st->st_mode >> 3) & 7;
				break;
			}
	}
	return (bits & want) == want;
}

/* check_access - readable/writable file, writable directory, for user */
static void
check_access(struct report *r, const char *path, const struct stat *st,
    const char *user)
{
	struct passwd *pw = user ? getpwnam(user) : getpwuid(geteuid());
	gid_t groups[64];
	int ngroups = 64;
	struct stat dst;
	char dir[4096], *d;
	const char *name;

	if (pw == NULL) {
		add_warning(r, ST_UNKNOWN, "no such user %s", user ? user : "(me)");
		return;
	}
	name = pw->pw_name;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) < 0)
		ngroups = 0;
	json_object_set_new(r->obj, "checked_for_user", json_string(name));
	if (!may(pw->pw_uid, groups, ngroups, st, 4 | 2))
		add_warning(r, ST_CRITICAL, "%s cannot read and write the file "
		    "(owner uid %u, mode %04o): chown %s %s", name,
		    (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777), name, path);
	snprintf(dir, sizeof(dir), "%s", path);
	d = dirname(dir);
	if (stat(d, &dst) == 0 && !may(pw->pw_uid, groups, ngroups, &dst, 2 | 1))
		add_warning(r, ST_CRITICAL, "%s cannot create files in %s, so a "
		    "refreshed token cannot be stored: chown %s %s", name, d,
		    name, d);
}

/* set_time - "name": epoch and "name_text": readable, in the JSON object */
static void
set_time(json_t *o, const char *name, long long t)
{
	char buf[64], key[64];

	if (t <= 0)
		return;
	json_object_set_new(o, name, json_integer(t));
	sao_fmt_time(t, buf, sizeof(buf));
	snprintf(key, sizeof(key), "%s_text", name);
	json_object_set_new(o, key, json_string(buf));
}

/* lifetime_warning - sao_lifetime_checks()'s messages, into the report */
static void
lifetime_warning(void *ctx, int level, const char *msg)
{
	add_warning(ctx, level == SAO_LT_CRITICAL ? ST_CRITICAL : ST_WARNING,
	    "%s", msg);
}

/*
 * app_checks - an app-only token file: its credential is named and
 * readable here (the mode and owner rules are oa2_app_read_file()'s)
 */
static void
app_checks(struct report *r, const struct oa2_settings *set)
{
	const char *file = set->grant == OA2_GRANT_JWT_BEARER &&
	    set->service_account_file ? set->service_account_file :
	    set->client_key_file;
	struct oa2_error err;
	struct oa2_buf b;

	if (set->grant == OA2_GRANT_REFRESH)
		return;
	if (set->grant == OA2_GRANT_JWT_BEARER && (set->user == NULL || !*set->user))
		add_warning(r, ST_CRITICAL, "grant jwt_bearer without \"user\": "
		    "name the mailbox the tokens are for");
	if (file == NULL) {
		if (set->grant == OA2_GRANT_JWT_BEARER || set->client_secret == NULL)
			add_warning(r, ST_CRITICAL, "grant %s without a credential: "
			    "set \"%s\"", oa2_grant_kind_name(set->grant),
			    set->grant == OA2_GRANT_JWT_BEARER ? "service_account_file" :
			    "client_secret\" or \"client_key_file");
		return;
	}
	json_object_set_new(r->obj, "credential_file", json_string(file));
	if (oa2_app_read_file(file, file == set->client_key_file ?
	    OA2_SETTING_NAME(OA2_S_CLIENT_KEY_FILE) :
	    OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE), 1, &b, &err) != OA2_OK) {
		add_warning(r, ST_CRITICAL, "%s", err.msg);
		return;
	}
	oa2_buf_free(&b);
}

/* status_one - fill r for one file */
static void
status_one(struct report *r, const char *path, const struct oa2_config *cfg,
    int refresh, const char *for_user)
{
	struct oa2_token tok = {0};
	struct oa2_settings set;
	struct oa2_error err;
	struct stat st;
	const char *provider, *ep;
	long long authorized, refreshed;
	int	app_only, sa;
	time_t now;

	json_object_set_new(r->obj, "file", json_string(path));
	if (lstat(path, &st) < 0) {
		add_warning(r, errno == EACCES ? ST_UNKNOWN : ST_CRITICAL,
		    "%s: %s", path, strerror(errno));
		return;
	}
	if (refresh) {
		struct oa2_refresh_opts ro = {.cfg = cfg, .by_hand = 1};
		struct oa2_refresh_info info;
		char	root[4096];

		sao_outside(&ro, path, root, sizeof(root));

		if (oa2_access_token(path, &ro, &tok, &info, &err) != OA2_OK) {
			add_warning(r, err.status == OA2_ERR_TEMP ? ST_UNKNOWN :
			    ST_CRITICAL, "%s", err.msg);
			json_object_set_new(r->obj, "error_code",
			    json_string(err.code));
			return;
		}
		json_object_set_new(r->obj, "refreshed", json_boolean(info.refreshed));
		oa2_token_free(&tok);
		if (info.refreshed && sao_stamp(path,
		    OA2_SETTING_NAME(OA2_S_REFRESHED_AT), &err) < 0)
			add_warning(r, ST_WARNING, "%s", err.msg);
		lstat(path, &st);
	}
	if (oa2_token_load(&tok, path, -1, NULL, &err) != OA2_OK) {
		add_warning(r, errno == EACCES && access(path, R_OK) < 0 ?
		    ST_UNKNOWN : ST_CRITICAL, "%s", err.msg);
		json_object_set_new(r->obj, "error_code", json_string(err.code));
		return;
	}
	now = time(NULL);
	oa2_settings_resolve(&set, &tok, cfg);
	provider = sao_provider_of(&set);
	ep = set.token_endpoint;
	if (provider != NULL)
		json_object_set_new(r->obj, "provider", json_string(provider));
	json_object_set_new(r->obj, "grant",
	    json_string(oa2_grant_kind_name(set.grant)));
	app_only = set.grant != OA2_GRANT_REFRESH;
	sa = set.grant == OA2_GRANT_JWT_BEARER && set.service_account_file;
	if (ep != NULL) {
		char host[256];

		oa2_url_host(ep, host, sizeof(host));
		json_object_set_new(r->obj, "token_endpoint_host", json_string(host));
	} else if (!sa)
		add_warning(r, ST_CRITICAL, "no token endpoint: set \"%s\" or "
		    "\"%s\"", OA2_SETTING_NAME(OA2_S_PROVIDER),
		    OA2_SETTING_NAME(OA2_S_TOKEN_ENDPOINT));
	app_checks(r, &set);
	if (set.client_id == NULL && sa)
		;
	else if (set.client_id == NULL)
		add_warning(r, ST_CRITICAL, "no %s in the file or %s",
		    OA2_SETTING_NAME(OA2_S_CLIENT_ID), oa2_config_path());
	else
		json_object_set_new(r->obj, "client_id",
		    json_string(set.client_id));
	if (tok.user != NULL)
		json_object_set_new(r->obj, "user", json_string(tok.user));
	if (set.scope != NULL)
		json_object_set_new(r->obj, "scope", json_string(set.scope));
	json_object_set_new(r->obj, "access_token_valid",
	    json_boolean(oa2_token_fresh(&tok, 0, now)));
	set_time(r->obj, "access_token_expires_at", tok.expiry);
	authorized = sao_token_time(&tok, OA2_S_AUTHORIZED_AT);
	refreshed = sao_token_time(&tok, OA2_S_REFRESHED_AT);
	set_time(r->obj, "authorized_at", authorized);
	set_time(r->obj, "refreshed_at", refreshed);
	if (!app_only)
		set_time(r->obj, "refresh_token_last_used",
		    sao_last_used(&tok, &st));
	{
		char mode[8];
		struct passwd *pw = getpwuid(st.st_uid);

		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		json_object_set_new(r->obj, "mode", json_string(mode));
		json_object_set_new(r->obj, "owner_uid",
		    json_integer((json_int_t)st.st_uid));
		if (pw != NULL)
			json_object_set_new(r->obj, "owner", json_string(pw->pw_name));
	}
	sao_lifetime_checks(&set, &tok, &st, now, lifetime_warning, r);
	check_access(r, path, &st, for_user);
	oa2_token_free(&tok);
}

/* print_text - the human form of one report */
static void
print_text(const struct report *r)
{
	json_t *o = r->obj, *v;
	const char *g;
	char buf[64];
	size_t i;
	long long exp;

#define S(k) (json_is_string(json_object_get(o, k)) ? \
	json_string_value(json_object_get(o, k)) : NULL)
	printf("%s: %s\n", S("file"), state_names[r->state]);
	if (S("provider") || S("token_endpoint_host"))
		printf("  provider      %s%s%s%s\n", S("provider") ? S("provider") :
		    "(other)", S("token_endpoint_host") ? " (token endpoint " : "",
		    S("token_endpoint_host") ? S("token_endpoint_host") : "",
		    S("token_endpoint_host") ? ")" : "");
	if (S("user"))
		printf("  user          %s\n", S("user"));
	if ((g = S("grant")) != NULL && strcmp(g, "refresh_token") != 0)
		printf("  grant         %s (app-only: no refresh token; %s)\n", g,
		    S("credential_file") ? S("credential_file") : "client secret");
	if (S("client_id"))
		printf("  client        %s\n", S("client_id"));
	if (S("scope"))
		printf("  scope         %s\n", S("scope"));
	if ((v = json_object_get(o, "access_token_expires_at")) != NULL) {
		exp = json_integer_value(v);
		sao_fmt_delta(exp - (long long)time(NULL), buf, sizeof(buf));
		if (exp > time(NULL))
			printf("  access token  valid until %s (in %s)\n",
			    S("access_token_expires_at_text"), buf);
		else {
			sao_fmt_delta((long long)time(NULL) - exp, buf, sizeof(buf));
			printf("  access token  expired at %s (%s ago); the next use "
			    "refreshes it\n", S("access_token_expires_at_text"), buf);
		}
	} else if (S("file") && !json_object_get(o, "error_code") &&
	    json_array_size(r->errors) == 0)
		printf("  access token  none yet; the first use gets one\n");
	if ((v = json_object_get(o, "authorized_at")) != NULL) {
		sao_fmt_delta((long long)time(NULL) - json_integer_value(v), buf,
		    sizeof(buf));
		printf("  authorized    %s (%s ago)\n", S("authorized_at_text"), buf);
	}
	if ((v = json_object_get(o, "refresh_token_last_used")) != NULL) {
		sao_fmt_delta((long long)time(NULL) - json_integer_value(v), buf,
		    sizeof(buf));
		printf("  last refresh  %s (%s ago)\n",
		    S("refresh_token_last_used_text"), buf);
	}
	if (S("checked_for_user"))
		printf("  file          mode %s, owner %s (uid %lld); checked for "
		    "user %s\n", S("mode"), S("owner") ? S("owner") : "?",
		    (long long)json_integer_value(json_object_get(o,
		    "owner_uid")), S("checked_for_user"));
	json_array_foreach(r->errors, i, v)
		printf("  critical: %s\n", json_string_value(v));
	json_array_foreach(r->warnings, i, v)
		printf("  warning: %s\n", json_string_value(v));
	if (S("error_code")) {
		const struct oa2_explain *e = oa2_explain_find(S("error_code"));

		if (e != NULL)
			printf("  fix: %s\n  more: %s explain %s\n", oa2_explain_fix(e, sao_ctx), PROG,
			    e->code);
	}
#undef S
}

/* perf_label - a perfdata label from a file name: its base name, no ".json" */
static void
perf_label(const char *path, char *buf, size_t size)
{
	const char *b = strrchr(path, '/');
	size_t	n, i;

	b = b != NULL ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".json") == 0)
		n -= 5;
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		buf[i] = b[i] == '\'' || b[i] == '=' || b[i] == ' ' ? '_' : b[i];
	buf[n] = 0;
}

/*
 * print_summary - the monitoring plugin's first line: the worst state,
 * the count of each, and perfdata per file (seconds to the access token's
 * expiry, age of the refresh token's last use), as Nagios, Icinga and
 * their kin read it
 */
static void
print_summary(json_t *all, int worst)
{
	int	count[4] = {0, 0, 0, 0};
	char	label[64];
	size_t	i;
	json_t *o, *v, *seen = json_object();
	long long now = (long long)time(NULL);

	json_array_foreach(all, i, o)
		count[json_integer_value(json_object_get(o, "exit")) & 3]++;
	printf("SASL-OAUTH2 %s - %zu token file%s: %d OK, %d WARNING, %d "
	    "CRITICAL, %d UNKNOWN |", state_names[worst], json_array_size(all),
	    json_array_size(all) == 1 ? "" : "s", count[ST_OK],
	    count[ST_WARNING], count[ST_CRITICAL], count[ST_UNKNOWN]);
	json_array_foreach(all, i, o) {
		if (!json_is_string(json_object_get(o, "file")))
			continue;
		perf_label(json_string_value(json_object_get(o, "file")), label,
		    sizeof(label));
		/* Two files of one name in two directories: label_2, ... */
		for (int n = 2; json_object_get(seen, label) != NULL; n++) {
			char base[64];

			perf_label(json_string_value(json_object_get(o, "file")),
			    base, sizeof(base) - 8);
			snprintf(label, sizeof(label), "%s_%d", base, n);
		}
		json_object_set_new(seen, label, json_true());
		if ((v = json_object_get(o, "access_token_expires_at")) != NULL)
			printf(" '%s_access_token_expires_in'=%llds", label,
			    (long long)json_integer_value(v) - now);
		if ((v = json_object_get(o, "refresh_token_last_used")) != NULL)
			printf(" '%s_refresh_token_age'=%llds", label,
			    now - (long long)json_integer_value(v));
	}
	printf("\n");
	json_decref(seen);
}

enum { O_JSON = 256, O_REFRESH, O_FOR_USER };

/*
 * The files a status or list covers: each file argument as given; under
 * each directory argument, every token file, in name order, depth first.
 * Symbolic links met under a directory are not followed; what is not a
 * token file is skipped and said; a directory that cannot be listed is
 * reported as UNKNOWN, like a file that cannot be read.
 */
#define WALK_DEPTH_MAX	16

struct target {
	char   *path;
	char   *fail;			/* UNKNOWN with this reason, or NULL */
};

struct targets {
	struct target *v;
	size_t	n, cap;
	json_t *skipped;		/* [{"file", "reason"}] */
};

/* target_add - one more file (fail: why it cannot be looked at) */
static void
target_add(struct targets *t, const char *path, const char *fail)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		if ((t->v = realloc(t->v, t->cap * sizeof(*t->v))) == NULL)
			sao_die(EX_OSERR, "out of memory");
	}
	t->v[t->n].path = strdup(path);
	t->v[t->n].fail = fail ? strdup(fail) : NULL;
	if (t->v[t->n].path == NULL || (fail && t->v[t->n].fail == NULL))
		sao_die(EX_OSERR, "out of memory");
	t->n++;
}

/* target_skip - a file under a directory that is not reported on, and why */
static void
target_skip(struct targets *t, const char *path, const char *why)
{
	json_array_append_new(t->skipped, json_pack("{s:s, s:s}", "file", path,
	    "reason", why));
}

/* ends_with - does s end with suffix? */
static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* walk - the token files under dir */
static void
walk(struct targets *t, const char *dir, int depth)
{
	struct dirent **de;
	struct stat st;
	char	path[4096], why[256];
	int	n;

	if (depth > WALK_DEPTH_MAX) {
		target_skip(t, dir, "directory nested too deep, not searched");
		return;
	}
	if ((n = scandir(dir, &de, NULL, alphasort)) < 0) {
		snprintf(why, sizeof(why), "cannot list the directory: %s; run as "
		    "root or as its owner", strerror(errno));
		target_add(t, dir, why);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = de[i]->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", dir,
		    ends_with(dir, "/") ? "" : "/", name) >= (int)sizeof(path))
			target_skip(t, name, "path too long");
		else if (lstat(path, &st) < 0)
			target_skip(t, path, strerror(errno));
		else if (S_ISLNK(st.st_mode))
			target_skip(t, path, "a symbolic link, not followed");
		else if (S_ISDIR(st.st_mode))
			walk(t, path, depth + 1);
		else if (!S_ISREG(st.st_mode))
			target_skip(t, path, "not a regular file");
		else if (oa2_token_is_tmp_name(name))
			target_skip(t, path, "a writer's temporary file");
		else if (sao_is_token_file(path, why, sizeof(why)))
			target_add(t, path, NULL);
		else
			target_skip(t, path, why);
	}
	for (int i = 0; i < n; i++)
		free(de[i]);
	free(de);
}

/* collect - the files of argv: files as given, directories searched */
static void
collect(struct targets *t, int argc, char **argv)
{
	struct stat st;

	t->skipped = json_array();
	for (int i = 0; i < argc; i++) {
		/* An argument that names a directory through a link is searched. */
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			walk(t, argv[i], 0);
		else
			target_add(t, argv[i], NULL);
	}
}

static void
targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path);
		free(t->v[i].fail);
	}
	free(t->v);
	json_decref(t->skipped);
}

/* unprefixed - msg without a leading "file: ", which the line has said */
static const char *
unprefixed(const char *msg, const char *file)
{
	size_t	n = strlen(file);

	return strncmp(msg, file, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ?
	    msg + n + 2 : msg;
}

/* print_line - the one-line form of one report, for list */
static void
print_line(const struct report *r)
{
	json_t *o = r->obj, *v;
	const char *file = json_string_value(json_object_get(o, "file"));
	const char *user = json_string_value(json_object_get(o, "user"));
	const char *host = json_string_value(json_object_get(o,
	    "token_endpoint_host"));
	long long now = (long long)time(NULL), exp;
	char	delta[64];

	printf("%-8s %s", state_names[r->state], file);
	if (user != NULL || host != NULL)
		printf(" %s at %s", user ? user : "(no user)", host ? host :
		    "(no token endpoint)");
	if ((v = json_object_get(o, "access_token_expires_at")) != NULL) {
		exp = json_integer_value(v);
		sao_fmt_delta(exp > now ? exp - now : now - exp, delta,
		    sizeof(delta));
		printf(exp > now ? ", access token valid for %s" :
		    ", access token expired %s ago", delta);
	}
	if ((v = json_array_get(r->errors, 0)) != NULL)
		printf(" - %s: %s", r->state == ST_UNKNOWN ? "unknown" :
		    "critical", unprefixed(json_string_value(v), file));
	else if ((v = json_array_get(r->warnings, 0)) != NULL)
		printf(" - warning: %s", unprefixed(json_string_value(v), file));
	printf("\n");
}

/* show - status (long) or list (one line each), summary line first */
static int
show(int argc, char **argv, int list)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, O_JSON},
		{"refresh", no_argument, NULL, O_REFRESH},
		{"for-user", required_argument, NULL, O_FOR_USER},
		{NULL, 0, NULL, 0}
	};
	struct oa2_config cfg;
	struct targets t = {0};
	const char *for_user = NULL;
	json_t *all, *v;
	size_t	i;
	int c, json = 0, refresh = 0, worst = ST_OK, cfg_ok;
	int rank[] = {0, 1, 3, 2};

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = 1; break;
		case O_REFRESH: refresh = 1; break;
		case O_FOR_USER: for_user = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	if (for_user != NULL && getpwnam(for_user) == NULL) {
		sao_warn("--for-user %s: no such user", for_user);
		return ST_UNKNOWN;
	}
	cfg_ok = sao_load_config(&cfg) == 0;
	collect(&t, argc - optind, argv + optind);
	all = json_array();
	/* Every file first, so that the summary line can come first. */
	for (i = 0; i < t.n; i++) {
		struct report r = {.state = ST_OK};

		r.obj = json_object();
		r.warnings = json_array();
		r.errors = json_array();
		if (!cfg_ok)
			add_warning(&r, ST_CRITICAL, "the configuration file %s is "
			    "not usable (see above)", oa2_config_path());
		if (t.v[i].fail != NULL) {
			json_object_set_new(r.obj, "file", json_string(t.v[i].path));
			add_warning(&r, ST_UNKNOWN, "%s: %s", t.v[i].path,
			    t.v[i].fail);
		} else
			status_one(&r, t.v[i].path, cfg_ok ? &cfg : NULL, refresh,
			    for_user);
		json_object_set_new(r.obj, "state", json_string(state_names[r.state]));
		json_object_set_new(r.obj, "exit", json_integer(r.state));
		json_object_set(r.obj, "warnings", r.warnings);
		json_object_set(r.obj, "critical", r.errors);
		if (rank[r.state] > rank[worst])
			worst = r.state;
		json_array_append(all, r.obj);
		json_decref(r.warnings);
		json_decref(r.errors);
		json_decref(r.obj);
	}
	/* Directories without a single token file: nothing is watched. */
	if (t.n == 0)
		worst = ST_UNKNOWN;
	if (json) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_array_foreach(t.skipped, i, v)
			sao_warn("skipped %s: %s",
			    json_string_value(json_object_get(v, "file")),
			    json_string_value(json_object_get(v, "reason")));
	} else {
		json_t *o;

		print_summary(all, worst);
		json_array_foreach(all, i, o) {
			struct report r = {.obj = o,
			    .warnings = json_object_get(o, "warnings"),
			.errors = json_object_get(o, "critical")};

			r.state = (int)json_integer_value(json_object_get(o, "exit"));
			if (list)
				print_line(&r);
			else
				print_text(&r);
		}
		if (t.n == 0)
			printf("no token file under %s%s\n", argv[optind],
			    argc - optind > 1 ? " and the other directories" : "");
		json_array_foreach(t.skipped, i, v)
			printf("skipped  %s: %s\n",
			    json_string_value(json_object_get(v, "file")),
			    json_string_value(json_object_get(v, "reason")));
	}
	json_decref(all);
	targets_free(&t);
	oa2_config_free(&cfg);
	return worst;
}

int
cmd_status(int argc, char **argv)
{
	return show(argc, argv, 0);
}

int
cmd_list(int argc, char **argv)
{
	return show(argc, argv, 1);
}

/* refresh_log - the core's notices, on stderr */
static void
refresh_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= OA2_LOG_WARNING)
		sao_warn("%s", msg);
}

int
cmd_refresh(int argc, char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}
	};
	struct oa2_config cfg;
	int c, ex = EX_OK;

	while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
		switch (c) {
		case 'q': sao_quiet = 1; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	for (int i = optind; i < argc; i++) {
		struct oa2_refresh_opts ro = {.cfg = &cfg, .force = 1, .by_hand = 1,
		    .log = refresh_log};
		struct oa2_refresh_info info;
		struct oa2_token tok;
		struct oa2_error err;
		char when[64], in[64], root[4096];
		int e;

		sao_outside(&ro, argv[i], root, sizeof(root));

		if (oa2_access_token(argv[i], &ro, &tok, &info, &err) != OA2_OK) {
			e = sao_report(&err);
			if (ex == EX_OK)
				ex = e;
			continue;
		}
		oa2_token_free(&tok);
		if (info.stale_ok) {
			if (ex == EX_OK)
				ex = EX_TEMPFAIL;
			continue;
		}
		if (info.refreshed && sao_stamp(argv[i],
		    OA2_SETTING_NAME(OA2_S_REFRESHED_AT), &err) < 0)
			sao_report(&err);
		sao_fmt_time(info.expires_at, when, sizeof(when));
		sao_fmt_delta(info.expires_at - (long long)time(NULL), in, sizeof(in));
		sao_info("%s: %s; access token valid until %s (in %s)%s", argv[i],
		    info.reused ? "another process had just refreshed it" :
		    "refreshed", when, in, info.rotated ?
		    "; the provider rotated the refresh token (stored)" : "");
	}
	oa2_config_free(&cfg);
	return ex;
}
