/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	crash-refresh 1
 * SUMMARY
 *	one refresh in a short-lived process, killed on cue (crash tests)
 * SYNOPSIS
 *	crash-refresh [-c config] [-u user] [-k step | -d usec | -r max -S seed]
 *		tokenfile
 *	crash-refresh -l tokenfile
 * DESCRIPTION
 *	Forks a child that does what the plugin does for one authentication
 *	in a fresh process, with the refresh forced: oa2_access_token() on
 *	tokenfile (load, lock, re-read, POST the refresh_token grant, write
 *	back atomically).  libcurl is initialised in the child, as in a new
 *	Postfix smtp process.
 *
 *	The child records, in memory it shares with the parent, the time of
 *	each step (microseconds since the fork, CLOCK_MONOTONIC):
 *	prepared (the temporary file is made, before the request),
 *	perform (the request starts), sent (the last request byte went out),
 *	first (the first byte of the reply came in), replied (the whole
 *	reply is in), written, synced, renamed (oa2_token_save_hook) and
 *	done.  The first four come from wrapping curl_easy_perform() at link
 *	time (-Wl,--wrap=curl_easy_perform) and watching it with
 *	CURLOPT_DEBUGFUNCTION; nothing of the request or reply is kept.
 *
 *	-k step	the child raises SIGKILL right after step (prepared,
 *		replied, written, synced, renamed).
 *	-d usec	the parent sends SIGKILL usec microseconds after the fork.
 *	-r max	the same with a delay drawn from [0, max) (seed -S).
 *	-u user	the child runs as that user (setgid, setgroups, setuid).
 *	-c file	the configuration file (connect_timeout, timeout, ...).
 *	-l	only load tokenfile with oa2_token_load() and report.
 *
 *	Prints one line of name=value pairs: outcome (killed, ok, fail),
 *	kill (when the parent sent SIGKILL, or -1), the step times (-1 when
 *	not reached), window (renamed - first: how long a reply that the
 *	server has committed to waits to be on disk), real0 (CLOCK_REALTIME
 *	of the fork in ns, to compare with server logs), status, code,
 *	refreshed, rotated, and last msg= with the error line.
 *	Exit status 0 unless the helper itself failed.
 *--*/
#include "config.h"

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "oa2_config.h"
#include "oa2_mem.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"

enum ev {
	EV_PREPARED, EV_PERFORM, EV_SENT, EV_FIRST, EV_REPLIED, EV_WRITTEN,
	EV_SYNCED, EV_RENAMED, EV_DONE, EV_MAX
};
static const char *ev_name[EV_MAX] = {
	"prepared", "perform", "sent", "first", "replied", "written",
	"synced", "renamed", "done"
};

struct shared {
	long long t[EV_MAX];		/* µs since t0, -1 when not reached */
	int status;			/* enum oa2_status of the refresh */
	int refreshed, rotated;
	char code[OA2_ERR_CODE_MAX];
	char msg[OA2_ERR_MSG_MAX];
};

static struct shared *sh;
static struct timespec t0;
static enum ev kill_after = EV_MAX;	/* EV_MAX: no self-kill */

/* since_t0 - microseconds since t0 */
static long long
since_t0(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0.tv_sec) * 1000000LL +
	    (now.tv_nsec - t0.tv_nsec) / 1000;
}

/* stamp - record a step; die there if asked to */
static void
stamp(enum ev e)
{
	__atomic_store_n(&sh->t[e], since_t0(), __ATOMIC_SEQ_CST);
	if (e == kill_after)
		raise(SIGKILL);
}

/* save_hook - oa2_token_save_hook: "prepared", "written", "synced", "renamed" */
static void
save_hook(const char *step)
{
	if (strcmp(step, "prepared") == 0)
		stamp(EV_PREPARED);
	else if (strcmp(step, "written") == 0)
		stamp(EV_WRITTEN);
	else if (strcmp(step, "synced") == 0)
		stamp(EV_SYNCED);
	else if (strcmp(step, "renamed") == 0)
		stamp(EV_RENAMED);
}

/* watch - libcurl debug callback: when the request left, when the reply came */
static int
watch(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	(void)c; (void)data; (void)size; (void)arg;
	if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
		__atomic_store_n(&sh->t[EV_SENT], since_t0(), __ATOMIC_SEQ_CST);
	else if ((type == CURLINFO_HEADER_IN || type == CURLINFO_DATA_IN) &&
	    sh->t[EV_FIRST] < 0)
		stamp(EV_FIRST);
	return 0;
}

CURLcode __real_curl_easy_perform(CURL *c);
CURLcode __wrap_curl_easy_perform(CURL *c);

/* __wrap_curl_easy_perform - the library's request, with timestamps */
CURLcode
__wrap_curl_easy_perform(CURL *c)
{
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, watch);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	stamp(EV_PERFORM);
	rc = __real_curl_easy_perform(c);
	if (rc == CURLE_OK)
		stamp(EV_REPLIED);
	return rc;
}

/* child_log - the core's log lines, on stderr */
static void
child_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "log: %d %s\n", level, msg);
}

/* drop_to - become user */
static void
drop_to(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "crash-refresh: cannot become %s\n", user);
		_exit(3);
	}
}

/* child - one refresh, as the plugin does it */
static void
child(const char *path, const char *conf, const char *user)
{
	struct oa2_refresh_opts o = {0};
	struct oa2_refresh_info info;
	struct oa2_config cfg;
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;

	if (user != NULL)
		drop_to(user);
	oa2_config_init(&cfg);
	oa2_error_clear(&err);
	if (conf != NULL && oa2_config_load(&cfg, conf, 1, &err) != OA2_OK) {
		sh->status = err.status;
		snprintf(sh->code, sizeof(sh->code), "%s", err.code);
		snprintf(sh->msg, sizeof(sh->msg), "%s", err.msg);
		_exit(1);
	}
	oa2_token_save_hook = save_hook;
	o.cfg = &cfg;
	o.force = 1;
	o.log = child_log;
	st = oa2_access_token(path, &o, &tok, &info, &err);
	stamp(EV_DONE);
	sh->status = st;
	sh->refreshed = info.refreshed;
	sh->rotated = info.rotated;
	if (st != OA2_OK) {
		snprintf(sh->code, sizeof(sh->code), "%s", err.code);
		snprintf(sh->msg, sizeof(sh->msg), "%s", err.msg);
	} else {
		oa2_token_free(&tok);
	}
	_exit(st == OA2_OK ? 0 : 1);
}

/* load_only - -l: does our own loader accept the file? */
static int
load_only(const char *path)
{
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;

	oa2_error_clear(&err);
	st = oa2_token_load(&tok, path, -1, NULL, &err);
	printf("status=%s code=%s msg=%s\n", oa2_status_name(st),
	    st == OA2_OK ? "" : err.code, st == OA2_OK ? "" : err.msg);
	if (st == OA2_OK)
		oa2_token_free(&tok);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: crash-refresh [-c config] [-u user] "
	    "[-k prepared|replied|written|synced|renamed | -d usec | -r max -S seed] "
	    "tokenfile\n       crash-refresh -l tokenfile\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *user = NULL;
	long long delay = -1, max = 0, kill_at = -1;
	unsigned long seed = 1;
	struct timespec real0, when;
	int ch, wstatus, load = 0;
	pid_t pid;

	while ((ch = getopt(argc, argv, "c:d:k:lr:S:u:")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'd': delay = atoll(optarg); break;
		case 'l': load = 1; break;
		case 'r': max = atoll(optarg); break;
		case 'S': seed = strtoul(optarg, NULL, 10); break;
		case 'u': user = optarg; break;
		case 'k':
			for (kill_after = 0; kill_after < EV_MAX; kill_after++)
				if (strcmp(optarg, ev_name[kill_after]) == 0)
					break;
			if (kill_after == EV_MAX)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (load)
		return load_only(argv[optind]);
	if (max > 0) {
		srandom((unsigned)seed);
		delay = (long long)(((double)random() / ((double)RAND_MAX + 1)) * max);
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("crash-refresh: mmap");
		return 3;
	}
	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < EV_MAX; i++)
		sh->t[i] = -1;
	sh->status = -1;
	fflush(NULL);
	clock_gettime(CLOCK_REALTIME, &real0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) < 0) {
		perror("crash-refresh: fork");
		return 3;
	}
	if (pid == 0)
		child(argv[optind], conf, user);

	if (delay >= 0) {
		long long ns = t0.tv_nsec + (delay % 1000000) * 1000;

		when.tv_sec = t0.tv_sec + delay / 1000000 + ns / 1000000000;
		when.tv_nsec = ns % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when,
		    NULL) == EINTR)
			;
		kill_at = since_t0();
		/* A child that has exited is a zombie until reaped: no pid reuse. */
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (!(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL))
		kill_at = kill_at >= 0 && kill_at < sh->t[EV_DONE] ? kill_at : -1;
	printf("outcome=%s kill=%lld",
	    WIFSIGNALED(wstatus) ? "killed" :
	    WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 ? "ok" : "fail",
	    kill_at);
	for (int i = 0; i < EV_MAX; i++)
		printf(" %s=%lld", ev_name[i], sh->t[i]);
	printf(" window=%lld real0=%lld%09ld status=%s code=%s refreshed=%d "
	    "rotated=%d msg=%s\n",
	    sh->t[EV_RENAMED] >= 0 && sh->t[EV_FIRST] >= 0 ?
	    sh->t[EV_RENAMED] - sh->t[EV_FIRST] : -1,
	    (long long)real0.tv_sec, real0.tv_nsec,
	    sh->status < 0 ? "none" : oa2_status_name(sh->status), sh->code,
	    sh->refreshed, sh->rotated, sh->msg);
	return 0;
}
