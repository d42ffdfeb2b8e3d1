/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	refresh_all 3
 * SUMMARY
 *	sasl-oauth2 refresh-all: refresh many token files at once
 * SYNOPSIS
 *	int	cmd_refresh_all(argc, argv)
 * DESCRIPTION
 *	"sasl-oauth2 refresh-all [-fqv] [--jobs n] [--within seconds]
 *	[--json] [--syslog-prefix] file | directory ..." refreshes every token
 *	file it is given and every *.json regular file under every directory
 *	it is given (subdirectories included) that is a token file as status
 *	and list see it (sao_is_token_file()): one that is clearly not -- a
 *	service-account key, JSON without a token file's members -- is
 *	skipped, counted and, with -v, said; one that is a token file but
 *	broken fails as always, and so does any file named on the command
 *	line.  Symbolic links are never
 *	followed: one found in a directory is skipped, one named on the
 *	command line is an error.  A file reached twice (named twice, named
 *	and found in a directory, a hard link) is refreshed once.
 *
 *	Which files: by default those whose access token is missing or
 *	inside the refresh window, as the plugin would refresh them; with
 *	--within S those whose access token expires within S seconds; with
 *	-f every file.  Each refresh is oa2_access_token() -- the lock, the
 *	re-read under it, the atomic write-back -- so the plugin and other
 *	refreshers may run at the same time.
 *
 *	Concurrency: --jobs threads (default 8) take the files in turn.
 *	Each thread keeps its connection (oa2_http(3): opts->conn) from one
 *	request to the next, so the refreshes of thousands of files at one
 *	token endpoint cost one TLS handshake per thread.  The saves skip
 *	their per-save look for leftover temporary files
 *	(oa2_token_save_batch); every directory is cleaned once at the end
 *	(oa2_token_clean_dir()), which keeps a run linear in the number of
 *	files.
 *
 *	Owners: run as root, each file is refreshed by a child process that
 *	runs as the file's owner and group (initgroups, setgid, setuid), one
 *	child per owner and group; only files owned by root are refreshed by
 *	root itself, after the children.  So every new file is created by
 *	its owner and no root process writes into a directory that another
 *	user controls.  The children run at the same time within --jobs
 *	threads in all: the owner with the most files first, each child with
 *	min(its files, --jobs) threads, started when that many are free (so
 *	no owner gets fewer threads than it would alone).  Each child writes
 *	its results into a memory file (memfd_create()) that the parent reads
 *	when it has ended.
 *
 *	Output: failures always, one line each (file, reason, fix), on
 *	stderr; with -v one line per file.  A file whose refresh token is
 *	about to die (lifetime.c: the warnings of "status", looked at after
 *	the refresh, by the process that refreshed it) gets one more line,
 *	at warning priority (error when one is critical), unless -q.  On a
 *	terminal a progress line on stderr.  At the end a summary line on
 *	stdout: "refresh-all: N files: R refreshed, F fresh, X failed, T
 *	failed for now[, L symbolic links skipped][, O other files
 *	skipped][, W with warnings] (S s)".  --json instead prints one
 *	JSON object on stdout, a "files" array (file, result, owner,
 *	expires, rotated, warnings, critical, error, message) and a
 *	"summary" (with "warned", "symlinks_skipped", "others_skipped").
 *	--syslog-prefix starts each line with a
 *	syslog priority, <3> to <6>, for the journal; the summary's is <4>
 *	when a file was warned of and nothing failed.  -q: failures only.
 *	Warnings do not change the exit status.
 *
 *	Exit status: 0 when every file was refreshed or fresh; else the exit
 *	status of the first failure (sasl-oauth2(1)), 75 when every failure
 *	was temporary (or the stored access token is still valid); 66 when
 *	no token file was found.
 * SECURITY
 *	No token or secret reaches the output: the messages are the core's,
 *	which never hold one.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
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
#include "oa2_http.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "sao.h"

#define JOBS_DEFAULT	8
#define JOBS_MAX	64
#define DEPTH_MAX	16		/* directory levels walked */

enum result { R_NONE, R_REFRESHED, R_FRESH, R_TEMP, R_FAILED };
static const char *result_names[] = {"none", "refreshed", "fresh",
    "tempfail", "failed"};

struct item {
	char	*path;
	dev_t	dev;
	ino_t	ino;
	uid_t	uid;
	gid_t	gid;
	size_t	order;			/* as found */
	enum result result;
	int	ex;			/* exit status of a failure */
	int	rotated;
	long long expires_at;
	char	code[32];
	char	msg[OA2_ERR_MSG_MAX];
	json_t	*warn;			/* {"warnings": [...], "critical": [...]} or NULL */
};

struct run {
	struct item *items;
	size_t	n, cap;
	char	**dirs;			/* every directory walked */
	size_t	ndirs, dcap;
	size_t	symlinks;		/* skipped in directories */
	size_t	others;			/* *.json not token files, skipped */
	/* options */
	const struct oa2_config *cfg;
	int	force, verbose, json, syslog_prefix, progress;
	long long within;
	int	jobs;
	/* the pool */
	pthread_mutex_t mu;
	size_t	*todo;			/* indexes into items */
	size_t	ntodo, next, done, failed;
	struct timespec last_progress;
};

/* say - one line on stderr, with the syslog priority when asked */
static void say(struct run *r, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
say(struct run *r, int prio, const char *fmt, ...)
{
	char	buf[OA2_ERR_MSG_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r->syslog_prefix)
		fprintf(stderr, "<%d>%s: %s\n", prio, PROG, buf);
	else
		fprintf(stderr, "%s: %s\n", PROG, buf);
}

/* add_item - a token file to refresh; a failure already known when err is set */
static int
add_item(struct run *r, const char *path, const struct stat *st,
    const struct oa2_error *err)
{
	struct item *it;

	if (r->n == r->cap) {
		size_t	ncap = r->cap ? r->cap * 2 : 256;
		struct item *p = realloc(r->items, ncap * sizeof(*p));

		if (p == NULL)
			return -1;
		r->items = p;
		r->cap = ncap;
	}
	it = &r->items[r->n];
	memset(it, 0, sizeof(*it));
	if ((it->path = strdup(path)) == NULL)
		return -1;
	it->order = r->n++;
	if (st != NULL) {
		it->dev = st->st_dev;
		it->ino = st->st_ino;
		it->uid = st->st_uid;
		it->gid = st->st_gid;
	}
	if (err != NULL) {
		it->result = R_FAILED;
		it->ex = sao_exit_code(err->status, err->code);
		snprintf(it->code, sizeof(it->code), "%s", err->code);
		snprintf(it->msg, sizeof(it->msg), "%s", err->msg);
	}
	return 0;
}

/* add_dir - remember a directory for the cleaning pass */
static int
add_dir(struct run *r, const char *dir)
{
	if (r->ndirs == r->dcap) {
		size_t	ncap = r->dcap ? r->dcap * 2 : 16;
		char	**p = realloc(r->dirs, ncap * sizeof(*p));

		if (p == NULL)
			return -1;
		r->dirs = p;
		r->dcap = ncap;
	}
	return (r->dirs[r->ndirs] = strdup(dir)) == NULL ? -1 : (int)r->ndirs++;
}

/* ends_with_json - name ends in ".json" (and is more than that) */
static int
ends_with_json(const char *name)
{
	size_t	n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* walk - every *.json regular file under dir; symbolic links skipped */
static int
walk(struct run *r, const char *dir, int depth)
{
	struct dirent *de;
	struct stat st;
	char	path[PATH_MAX];
	DIR	*d;
	int	fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(fd)) == NULL) {
		struct oa2_error err;

		oa2_error_set(&err, OA2_ERR_INPUT, "token_file", "%s: cannot read "
		    "the directory: %s: run refresh-all as a user that may read it",
		    dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return add_item(r, dir, NULL, &err);
	}
	if (add_dir(r, dir) < 0)
		rc = -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", dir,
		    dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;		/* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			if (ends_with_json(de->d_name)) {
				r->symlinks++;
				if (r->verbose)
					say(r, 6, "%s: a symbolic link: not "
					    "followed, skipped", path);
			}
		} else if (S_ISDIR(st.st_mode)) {
			if (depth < DEPTH_MAX)
				rc = walk(r, path, depth + 1);
		} else if (S_ISREG(st.st_mode) && ends_with_json(de->d_name)) {
			char	why[256];

			if (sao_is_token_file(path, why, sizeof(why)))
				rc = add_item(r, path, &st, NULL);
			else {
				r->others++;
				if (r->verbose)
					say(r, 6, "%s: %s: skipped", path, why);
			}
		}
	}
	closedir(d);
	return rc;
}

/* add_arg - one command-line argument: a token file or a directory */
static int
add_arg(struct run *r, const char *arg)
{
	struct oa2_error err;
	struct stat st;

	if (lstat(arg, &st) < 0) {
		oa2_error_set(&err, OA2_ERR_INPUT, "token_file", "%s: %s: give an "
		    "existing token file or directory", arg, strerror(errno));
		return add_item(r, arg, NULL, &err);
	}
	if (S_ISLNK(st.st_mode)) {
		oa2_error_set(&err, OA2_ERR_INPUT, "token_file", "%s: is a symbolic "
		    "link, which refresh-all does not follow: give the real path",
		    arg);
		return add_item(r, arg, NULL, &err);
	}
	if (S_ISDIR(st.st_mode))
		return walk(r, arg, 0);
	if (!S_ISREG(st.st_mode)) {
		oa2_error_set(&err, OA2_ERR_INPUT, "token_file", "%s: is neither a "
		    "regular file nor a directory: give a token file", arg);
		return add_item(r, arg, NULL, &err);
	}
	/* Its directory is cleaned too. */
	{
		char	*dup = strdup(arg), *slash;

		if (dup == NULL)
			return -1;
		if ((slash = strrchr(dup, '/')) == NULL)
			strcpy(dup, ".");
		else if (slash == dup)
			slash[1] = 0;
		else
			*slash = 0;
		if (add_dir(r, dup) < 0) {
			free(dup);
			return -1;
		}
		free(dup);
	}
	return add_item(r, arg, &st, NULL);
}

/* by_inode - qsort: by device and inode, then as found */
static int
by_inode(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* by_order - qsort: as found */
static int
by_order(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* dedupe - one item per file (device and inode); failures kept as they are */
static void
dedupe(struct run *r)
{
	size_t	i, k = 0;

	if (r->n == 0)
		return;				/* r->items NULL: not for qsort() */
	qsort(r->items, r->n, sizeof(*r->items), by_inode);
	for (i = 0; i < r->n; i++) {
		if (k > 0 && r->items[i].result == R_NONE &&
		    r->items[k - 1].result == R_NONE &&
		    r->items[k - 1].dev == r->items[i].dev &&
		    r->items[k - 1].ino == r->items[i].ino) {
			free(r->items[i].path);
			continue;
		}
		r->items[k++] = r->items[i];
	}
	r->n = k;
	qsort(r->items, r->n, sizeof(*r->items), by_order);
}

/* by_name - qsort of directory names */
static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* clean_dirs - each directory once: its stale temporary files removed */
static void
clean_dirs(struct run *r)
{
	size_t	i;

	if (r->ndirs == 0)
		return;				/* r->dirs NULL: not for qsort() */
	qsort(r->dirs, r->ndirs, sizeof(*r->dirs), by_name);
	for (i = 0; i < r->ndirs; i++) {
		if (i == 0 || strcmp(r->dirs[i], r->dirs[i - 1]) != 0)
			oa2_token_clean_dir(r->dirs[i]);
		if (i > 0)
			free(r->dirs[i - 1]);
	}
	if (r->ndirs > 0)
		free(r->dirs[r->ndirs - 1]);
	free(r->dirs);
}

/* progress - the progress line on a terminal, at most ten times a second */
static void
progress(struct run *r, int last)
{
	struct timespec now;

	if (!r->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!last && (now.tv_sec - r->last_progress.tv_sec) * 1000 +
	    (now.tv_nsec - r->last_progress.tv_nsec) / 1000000 < 100)
		return;
	r->last_progress = now;
	if (last)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\r%s refresh-all: %zu/%zu files, %zu failed\033[K",
		    PROG, r->done, r->ntodo, r->failed);
	fflush(stderr);
}

/* item_warning - a lifetime warning (lifetime.c) for the item's report */
static void
item_warning(void *ctx, int level, const char *msg)
{
	struct item *it = ctx;
	const char *key = level == SAO_LT_CRITICAL ? "critical" : "warnings";
	json_t	*a;

	if (it->warn == NULL && (it->warn = json_object()) == NULL)
		return;
	if ((a = json_object_get(it->warn, key)) == NULL) {
		a = json_array();
		if (json_object_set_new(it->warn, key, a) < 0)
			return;
	}
	json_array_append_new(a, json_string(msg));
}

/* refresh_one - refresh one file through conn; fill in its result */
static void
refresh_one(struct run *r, struct item *it, struct oa2_http_conn *conn)
{
	struct oa2_refresh_opts ro = {.cfg = r->cfg, .force = r->force,
	    .due_within = r->within, .conn = conn, .by_hand = 1};
	struct oa2_refresh_info info;
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;
	char	root[4096];

	sao_outside(&ro, it->path, root, sizeof(root));
	oa2_error_clear(&err);
	st = oa2_access_token(it->path, &ro, &tok, &info, &err);
	if (st != OA2_OK) {
		it->result = st == OA2_ERR_TEMP ? R_TEMP : R_FAILED;
		it->ex = sao_exit_code(st, err.code);
	} else {
		oa2_token_free(&tok);
		it->expires_at = info.expires_at;
		it->rotated = info.rotated;
		if (info.stale_ok) {
			it->result = R_TEMP;
			it->ex = EX_TEMPFAIL;
		} else
			it->result = info.refreshed ? R_REFRESHED : R_FRESH;
	}
	if (it->result == R_TEMP || it->result == R_FAILED) {
		snprintf(it->code, sizeof(it->code), "%s", err.code);
		snprintf(it->msg, sizeof(it->msg), "%s", err.msg);
	}
	/* What status would warn of, on the file as it is now. */
	(void)sao_lifetime_file(it->path, r->cfg, time(NULL), item_warning, it);
}

/* worker - a pool thread: take the next file until none is left */
static void *
worker(void *arg)
{
	struct run *r = arg;
	struct oa2_http_conn *conn = oa2_http_conn_new();
	struct item *it;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		it = r->next < r->ntodo ? &r->items[r->todo[r->next++]] : NULL;
		pthread_mutex_unlock(&r->mu);
		if (it == NULL)
			break;
		refresh_one(r, it, conn);
		pthread_mutex_lock(&r->mu);
		r->done++;
		if (it->result == R_FAILED || it->result == R_TEMP)
			r->failed++;
		progress(r, 0);
		pthread_mutex_unlock(&r->mu);
	}
	oa2_http_conn_free(conn);
	return NULL;
}

/* run_pool - refresh the items listed in todo with up to r->jobs threads */
static void
run_pool(struct run *r, size_t *todo, size_t ntodo)
{
	pthread_t th[JOBS_MAX];
	int	i, n = r->jobs;

	if (ntodo == 0)
		return;
	r->todo = todo;
	r->ntodo = ntodo;
	r->next = r->done = r->failed = 0;
	if ((size_t)n > ntodo)
		n = (int)ntodo;
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, r) != 0)
			break;
	if (i == 0)
		worker(r);			/* no thread at all: do it here */
	while (i-- > 0)
		pthread_join(th[i], NULL);
	progress(r, 1);
}

/* clean1 - a line of the child's report: no tab or newline inside */
static void
clean1(char *s)
{
	for (; *s; s++)
		if (*s == '\t' || *s == '\n' || *s == '\r')
			*s = ' ';
}

/*
 * An owner's child: it refreshes the files of one owner and group with
 * "jobs" threads and writes one line per file into "fd", a memory file
 * (memfd_create()) that the parent reads once the child has ended; so
 * several children can run at once without the parent serving pipes.
 */
struct owner {
	struct run *r;
	size_t	*todo, ntodo;
	uid_t	uid;
	gid_t	gid;
	int	jobs;				/* its share of --jobs */
	int	fd;				/* the results, -1: none */
	pid_t	pid;				/* running: > 0 */
};

/* owner_child - in the child that became the owner: refresh, report on fd */
static int
owner_child(void *arg, const char *why)
{
	const struct owner *o = arg;
	struct run *r = o->r;
	size_t	i;
	FILE	*f;

	if (why != NULL) {
		dprintf(o->fd, "E\t%s\n", why);
		return EX_OSERR;
	}
	/* Alone (every job its own): its progress line; else the parent's. */
	if (o->jobs < r->jobs)
		r->progress = 0;
	r->jobs = o->jobs;
	run_pool(r, o->todo, o->ntodo);
	if ((f = fdopen(o->fd, "w")) == NULL)
		return EX_OSERR;
	for (i = 0; i < o->ntodo; i++) {
		struct item *it = &r->items[o->todo[i]];
		char	*w = it->warn ? json_dumps(it->warn, JSON_COMPACT) : NULL;

		clean1(it->msg);
		clean1(it->code);
		/* JSON escapes every tab and newline in a string. */
		fprintf(f, "%zu\t%d\t%d\t%d\t%lld\t%s\t%s\t%s\n", o->todo[i],
		    (int)it->result, it->ex, it->rotated, it->expires_at,
		    it->code[0] ? it->code : "-", w ? w : "-", it->msg);
		free(w);
	}
	return fclose(f) == 0 ? 0 : EX_IOERR;	/* _exit() status */
}

/* owner_start - the child for o; o->pid -1 when it could not start */
static void
owner_start(struct owner *o)
{
	o->pid = -1;
	if ((o->fd = memfd_create("refresh-all", MFD_CLOEXEC)) < 0)
		return;
	o->pid = sao_fork_as(NULL, o->uid, o->gid, owner_child, o);
}

/* owner_read - the results o's child wrote into its memory file */
static void
owner_read(struct owner *o, char *why, size_t size)
{
	struct run *r = o->r;
	char	*line = NULL;
	size_t	cap = 0, idx;
	FILE	*f;

	if (lseek(o->fd, 0, SEEK_SET) < 0 || (f = fdopen(o->fd, "r")) == NULL) {
		snprintf(why, size, "cannot read the results of uid %ld: %s",
		    (long)o->uid, strerror(errno));
		return;
	}
	o->fd = -1;				/* fclose() closes it */
	while (getline(&line, &cap, f) > 0) {
		char	*fld[8], *p = line, *e;
		int	k;

		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'E' && line[1] == '\t') {
			snprintf(why, size, "%s", line + 2);
			continue;
		}
		for (k = 0; k < 8 && p != NULL; k++) {
			fld[k] = p;
			if ((p = strchr(p, '\t')) != NULL && k < 7)
				*p++ = 0;
		}
		if (k < 8)
			continue;
		idx = strtoul(fld[0], &e, 10);
		if (*e || idx >= r->n)
			continue;
		r->items[idx].result = (enum result)atoi(fld[1]);
		r->items[idx].ex = atoi(fld[2]);
		r->items[idx].rotated = atoi(fld[3]);
		r->items[idx].expires_at = strtoll(fld[4], NULL, 10);
		snprintf(r->items[idx].code, sizeof(r->items[idx].code),
		    "%s", strcmp(fld[5], "-") ? fld[5] : "");
		if (strcmp(fld[6], "-") != 0 && r->items[idx].warn == NULL)
			r->items[idx].warn = json_loads(fld[6], 0, NULL);
		snprintf(r->items[idx].msg, sizeof(r->items[idx].msg),
		    "%s", fld[7]);
	}
	free(line);
	fclose(f);
}

/*
 * owner_done - o's child ended with status (or never started: why set);
 * read its results; the files it did not report fail, with the reason
 */
static void
owner_done(struct owner *o, int status, char *why, size_t size)
{
	struct run *r = o->r;
	size_t	i;

	if (o->pid > 0) {
		owner_read(o, why, size);
		if (!why[0] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			snprintf(why, size, "the process refreshing the files of "
			    "uid %ld ended abnormally (%s %d)", (long)o->uid,
			    WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	o->pid = 0;
	for (i = 0; i < o->ntodo; i++) {
		struct item *it = &r->items[o->todo[i]];

		if (it->result == R_FAILED || it->result == R_TEMP)
			r->failed++;
		r->done++;
		if (it->result != R_NONE)
			continue;
		r->failed++;
		it->result = R_FAILED;
		it->ex = EX_OSERR;
		snprintf(it->code, sizeof(it->code), "internal");
		snprintf(it->msg, sizeof(it->msg), "%s: not refreshed: %s",
		    it->path, why[0] ? why : "no result");
	}
	progress(r, 0);
}

/*
 * as_owners - the files of each owner (o[0..n), largest first) in a child
 * running as that owner.  The children run at the same time, within
 * --jobs threads in all: each gets min(its files, --jobs) threads and
 * starts when that many are free, so no owner gets fewer threads than it
 * would alone.
 */
static void
as_owners(struct run *r, struct owner *o, size_t n)
{
	size_t	next = 0, running = 0, i;
	int	free_jobs = r->jobs, status;
	char	why[256];
	pid_t	pid;

	while (next < n || running > 0) {
		while (next < n && (size_t)free_jobs >= (o[next].ntodo <
		    (size_t)r->jobs ? o[next].ntodo : (size_t)r->jobs)) {
			struct owner *c = &o[next++];

			c->jobs = c->ntodo < (size_t)r->jobs ? (int)c->ntodo :
			    r->jobs;
			owner_start(c);
			if (c->pid < 0) {
				snprintf(why, sizeof(why), "cannot start a "
				    "process for uid %ld: %s", (long)c->uid,
				    strerror(errno));
				owner_done(c, 0, why, sizeof(why));
				continue;
			}
			free_jobs -= c->jobs;
			running++;
		}
		if (running == 0)
			continue;
		while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR)
			;
		if (pid < 0) {
			/* No child left to wait for (cannot be): fail the rest. */
			for (i = 0; i < n; i++)
				if (o[i].pid > 0) {
					snprintf(why, sizeof(why), "cannot wait "
					    "for the process of uid %ld: %s",
					    (long)o[i].uid, strerror(errno));
					o[i].pid = -1;
					owner_done(&o[i], 0, why, sizeof(why));
				}
			running = 0;
			continue;
		}
		for (i = 0; i < n; i++)
			if (o[i].pid == pid) {
				why[0] = 0;
				owner_done(&o[i], status, why, sizeof(why));
				free_jobs += o[i].jobs;
				running--;
				break;
			}
	}
}

/* by_owner - qsort of indexes: by owner, group, then as found */
static struct run *sort_run;
static int
by_owner(const void *a, const void *b)
{
	const struct item *x = &sort_run->items[*(const size_t *)a];
	const struct item *y = &sort_run->items[*(const size_t *)b];

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->gid != y->gid)
		return x->gid < y->gid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* by_size - qsort of owners: most files first, then by owner */
static int
by_size(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	if (x->ntodo != y->ntodo)
		return x->ntodo > y->ntodo ? -1 : 1;
	return x->todo[0] < y->todo[0] ? -1 : x->todo[0] > y->todo[0];
}

/* refresh_items - every item not yet failed: by owner when root, else here */
static int
refresh_items(struct run *r)
{
	struct owner *o;
	size_t	*todo, n = 0, i, j, no = 0;

	if ((todo = calloc(r->n + 1, sizeof(*todo))) == NULL)
		return -1;
	for (i = 0; i < r->n; i++)
		if (r->items[i].result == R_NONE)
			todo[n++] = i;
	if (geteuid() != 0) {
		run_pool(r, todo, n);
		free(todo);
		return 0;
	}
	sort_run = r;
	qsort(todo, n, sizeof(*todo), by_owner);
	if ((o = calloc(n + 1, sizeof(*o))) == NULL) {
		free(todo);
		return -1;
	}
	/* Other owners first, in children: this process has no thread yet. */
	for (i = 0; i < n; i = j) {
		const struct item *it = &r->items[todo[i]];

		for (j = i; j < n && r->items[todo[j]].uid == it->uid &&
		    r->items[todo[j]].gid == it->gid; j++)
			;
		if (it->uid != 0)
			o[no++] = (struct owner){.r = r, .todo = todo + i,
			    .ntodo = j - i, .uid = it->uid, .gid = it->gid,
			    .fd = -1};
	}
	qsort(o, no, sizeof(*o), by_size);
	r->ntodo = n;
	r->done = r->failed = 0;
	as_owners(r, o, no);
	if (no > 0)
		progress(r, 1);
	free(o);
	for (i = j = 0; i < n; i++)
		if (r->items[todo[i]].uid == 0)
			todo[j++] = todo[i];
	run_pool(r, todo, j);
	free(todo);
	return 0;
}

/*
 * report_warnings - the line of a file whose refresh token is about to
 * die (lifetime.c, as status says it): priority warning, error when one of
 * them is critical; not with -q
 */
static void
report_warnings(struct run *r, const struct item *it)
{
	json_t	*c, *w, *v;
	char	buf[4096];
	size_t	i, len = 0;

	if (it->warn == NULL || sao_quiet || r->json)
		return;
	c = json_object_get(it->warn, "critical");
	w = json_object_get(it->warn, "warnings");
	buf[0] = 0;
	json_array_foreach(c, i, v)
		len += (size_t)snprintf(buf + len, len < sizeof(buf) ?
		    sizeof(buf) - len : 0, "%scritical: %s", len ? "; " : "",
		    json_string_value(v));
	json_array_foreach(w, i, v)
		len += (size_t)snprintf(buf + len, len < sizeof(buf) ?
		    sizeof(buf) - len : 0, "%swarning: %s", len ? "; " : "",
		    json_string_value(v));
	if (len > 0)
		say(r, json_array_size(c) ? 3 : 4, "%s: %s", it->path, buf);
}

/* report_file - the line of one file (failures always, the rest with -v) */
static void
report_file(struct run *r, const struct item *it)
{
	char	when[64], in[64];

	switch (it->result) {
	case R_FAILED:
		say(r, 3, "%s", it->msg);
		break;
	case R_TEMP:
		say(r, 4, "%s%s", it->msg, it->expires_at > 0 ?
		    " (the stored access token is still valid)" : "");
		break;
	case R_REFRESHED:
	case R_FRESH:
		if (!r->verbose)
			break;
		sao_fmt_time(it->expires_at, when, sizeof(when));
		sao_fmt_delta(it->expires_at - (long long)time(NULL), in, sizeof(in));
		say(r, 6, "%s: %s, valid until %s (%s)%s", it->path,
		    it->result == R_REFRESHED ? "refreshed" : "fresh, not refreshed",
		    when, in, it->rotated ? ", refresh token rotated" : "");
		break;
	case R_NONE:
		break;
	}
	report_warnings(r, it);
}

/* json_report - the --json object on stdout */
static int
json_report(struct run *r, const size_t *count, size_t warned, double secs,
    int ex)
{
	json_t	*files = json_array(), *o, *sum;
	size_t	i;
	int	rc;

	for (i = 0; i < r->n; i++) {
		const struct item *it = &r->items[i];

		o = json_pack("{s:s, s:s}", "file", it->path, "result",
		    result_names[it->result]);
		if (o == NULL)
			continue;
		if (it->result != R_FAILED || it->dev != 0 || it->ino != 0)
			json_object_set_new(o, "owner", json_integer(it->uid));
		if (it->expires_at > 0)
			json_object_set_new(o, "expires",
			    json_integer(it->expires_at));
		if (it->result == R_REFRESHED)
			json_object_set_new(o, "rotated", json_boolean(it->rotated));
		if (it->warn != NULL)
			json_object_update(o, it->warn);
		if (it->result == R_FAILED || it->result == R_TEMP) {
			json_object_set_new(o, "error", json_string(it->code));
			json_object_set_new(o, "message", json_string(it->msg));
			json_object_set_new(o, "exit", json_integer(it->ex));
		}
		json_array_append_new(files, o);
	}
	sum = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:i}",
	    "files", (json_int_t)r->n, "refreshed", (json_int_t)count[R_REFRESHED],
	    "fresh", (json_int_t)count[R_FRESH], "failed",
	    (json_int_t)count[R_FAILED], "tempfail", (json_int_t)count[R_TEMP],
	    "warned", (json_int_t)warned,
	    "symlinks_skipped", (json_int_t)r->symlinks,
	    "others_skipped", (json_int_t)r->others, "seconds", secs,
	    "exit", ex);
	o = json_pack("{s:o, s:o}", "files", files, "summary", sum);
	rc = o != NULL && json_dumpf(o, stdout, JSON_INDENT(2)) == 0 ? 0 : -1;
	fputc('\n', stdout);
	json_decref(o);
	return rc;
}

/* parse_count - a positive integer argument no larger than max; -1 if not */
static long long
parse_count(const char *s, long long max)
{
	char	*e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || e == s || *e || v <= 0 || v > max)
		return -1;
	return v;
}

/* cmd_refresh_all - sasl-oauth2 refresh-all */
int
cmd_refresh_all(int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"jobs", required_argument, NULL, 'j'},
		{"within", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'J'},
		{"syslog-prefix", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0}
	};
	struct run r;
	struct oa2_config cfg;
	struct timespec t0, t1;
	size_t	count[5] = {0}, i, warned = 0;
	double	secs;
	int	c, ex = EX_OK, first_fail = 0;
	long long v;

	memset(&r, 0, sizeof(r));
	r.jobs = JOBS_DEFAULT;
	pthread_mutex_init(&r.mu, NULL);
	while ((c = getopt_long(argc, argv, "fqvj:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': r.force = 1; break;
		case 'q': sao_quiet = 1; break;
		case 'v': r.verbose = 1; break;
		case 'J': r.json = 1; break;
		case 'S': r.syslog_prefix = 1; break;
		case 'j':
			if ((v = parse_count(optarg, JOBS_MAX)) < 0)
				sao_die(EX_USAGE, "refresh-all: --jobs %s: give a "
				    "number from 1 to %d", optarg, JOBS_MAX);
			r.jobs = (int)v;
			break;
		case 'w':
			if ((v = parse_count(optarg, OA2_CONFIG_SECONDS_MAX)) < 0)
				sao_die(EX_USAGE, "refresh-all: --within %s: give "
				    "a number of seconds, at least 1", optarg);
			r.within = v;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (r.force && r.within > 0)
		sao_die(EX_USAGE, "refresh-all: -f refreshes every file and "
		    "--within only those due: give one of them");
	if (sao_quiet)
		r.verbose = 0;
	r.progress = !sao_quiet && !r.json && sao_isatty_err();
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	r.cfg = &cfg;
	/* Postfix's queue directory (sao_outside()): postconf once, before
	 * any worker or thread. */
	{
		char	queue[4096];

		(void)sao_queue_of("/", queue, sizeof(queue));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (add_arg(&r, argv[i]) < 0)
			sao_die(EX_OSERR, "refresh-all: out of memory listing the "
			    "token files");
	dedupe(&r);
	/*
	 * What libraries set up lazily is set up now, before any thread:
	 * libcurl's global state and jansson's hash seed.
	 */
	{
		struct oa2_error err;

		if (oa2_http_init(&err) != OA2_OK)
			return sao_report(&err);
		json_object_seed(0);
	}
	oa2_token_save_batch = 1;
	if (refresh_items(&r) < 0)
		sao_die(EX_OSERR, "refresh-all: out of memory");
	clean_dirs(&r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	for (i = 0; i < r.n; i++) {
		struct item *it = &r.items[i];

		count[it->result]++;
		if (it->warn != NULL)
			warned++;
		if (!r.json || it->result == R_FAILED || it->result == R_TEMP)
			report_file(&r, it);
		if (it->result == R_FAILED && !first_fail)
			first_fail = it->ex;
	}
	if (r.n == 0) {
		say(&r, 5, "refresh-all: no token file (*.json) found in %s%s%s: "
		    "nothing to refresh", argv[optind], argc - optind > 1 ?
		    " and the others" : "", r.others ? " (only other JSON "
		    "files, skipped: -v names them)" : "");
		ex = EX_NOINPUT;
	} else if (first_fail)
		ex = first_fail;
	else if (count[R_TEMP])
		ex = EX_TEMPFAIL;
	if (r.json)
		json_report(&r, count, warned, secs, ex);
	else if (!sao_quiet || ex != EX_OK) {
		if (r.syslog_prefix)
			printf("<%d>", ex == EX_OK ? (warned ? 4 : 6) :
			    ex == EX_TEMPFAIL ? 4 : 3);
		printf("%s refresh-all: %zu files: %zu refreshed, %zu fresh, "
		    "%zu failed, %zu failed for now", PROG, r.n, count[R_REFRESHED],
		    count[R_FRESH], count[R_FAILED], count[R_TEMP]);
		if (r.symlinks)
			printf(", %zu symbolic links skipped", r.symlinks);
		if (r.others)
			printf(", %zu other files skipped", r.others);
		if (warned)
			printf(", %zu with warnings", warned);
		printf(" (%.1f s)\n", secs);
	}
	fflush(stdout);
	for (i = 0; i < r.n; i++) {
		free(r.items[i].path);
		json_decref(r.items[i].warn);
	}
	free(r.items);
	oa2_config_free(&cfg);
	pthread_mutex_destroy(&r.mu);
	return ex;
}
