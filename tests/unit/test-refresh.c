/* SPDX-License-Identifier: MIT */
/* test-refresh - when to refresh, settings precedence, failures keep the file, opts->root */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oa2_mem.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "tap.h"

static char dir[] = "/tmp/test-refresh.XXXXXX";
static char path[600];

/* put - write the token file with a given body */
static void
put(const char *body)
{
	FILE *f = fopen(path, "w");

	fputs(body, f);
	fclose(f);
	chmod(path, 0600);
}

/* slurp - the file's bytes, for byte-identity checks */
static char *
slurp(void)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	buf[n] = 0;
	fclose(f);
	return buf;
}

/* token_json - a token file body with the given expiry and endpoint */
static const char *
token_json(long long expiry, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "{\"refresh_token\": \"RT-SECRET-1\", \"access_token\": \"AT-SECRET-1\", "
	    "\"expiry\": \"%lld\", \"user\": \"u@example.test\"%s%s}",
	    expiry, extra[0] ? ", " : "", extra);
	return buf;
}

/* ntmp - temporary files of the token file in the directory */
static int
ntmp(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "token.json.tmp.", 15) == 0;
	if (d != NULL)
		closedir(d);
	return n;
}

/*
 * A one-shot token endpoint on loopback (http, allowed in tests): answers
 * one request with the reply given, after it has sent SIGTERM to the
 * refreshing thread when asked (the signal arrives in the crash window).
 */
struct endpoint {
	int lfd;
	int port;
	const char *reply;		/* JSON body */
	int term;			/* pthread_kill(main, SIGTERM) before answering */
	pthread_t main, thr;
	int requests;
};

static char steps[256];		/* the save's hook steps, and "TERM" */

static void
note_step(const char *step)
{
	if (steps[0])
		strncat(steps, ",", sizeof(steps) - strlen(steps) - 1);
	strncat(steps, step, sizeof(steps) - strlen(steps) - 1);
}

static void
on_term(int sig)
{
	(void)sig;
	note_step("TERM");
}

/* serve - accept one connection, read the request, answer */
static void *
serve(void *arg)
{
	struct endpoint *e = arg;
	char buf[8192], hdr[256];
	size_t got = 0, want = 0;
	const char *end, *cl;
	sigset_t all;
	ssize_t n;
	int fd;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if ((fd = accept(e->lfd, NULL, NULL)) < 0)
		return NULL;
	e->requests++;
	for (;;) {
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		buf[got] = 0;
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strcasestr(buf, "content-length:")) != NULL)
			want = (size_t)atol(cl + 15);
		if (got >= (size_t)(end + 4 - buf) + want)
			break;
	}
	if (e->term)
		pthread_kill(e->main, SIGTERM);
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n\r\n",
	    strlen(e->reply));
	if (write(fd, hdr, strlen(hdr)) < 0 ||
	    write(fd, e->reply, strlen(e->reply)) < 0)
		perror("serve");
	/* The client closes first (it keeps the connection until its save). */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

/* endpoint_start - listen on 127.0.0.1, serve one request in a thread */
static int
endpoint_start(struct endpoint *e, const char *reply, int term)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(e, 0, sizeof(*e));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->reply = reply;
	e->term = term;
	e->main = pthread_self();
	if ((e->lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(e->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(e->lfd, 4) < 0 ||
	    getsockname(e->lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	e->port = ntohs(a.sin_port);
	return pthread_create(&e->thr, NULL, serve, e) == 0 ? 0 : -1;
}

static void
endpoint_stop(struct endpoint *e)
{
	shutdown(e->lfd, SHUT_RDWR);
	pthread_join(e->thr, NULL);
	close(e->lfd);
}

/* mask_has - sig is blocked in this thread */
static int
mask_has(int sig)
{
	sigset_t cur;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	return sigismember(&cur, sig);
}

/* refresh_through - one forced refresh against a fresh endpoint */
static enum oa2_status
refresh_through(struct oa2_refresh_opts *o, const char *reply, int term,
    struct oa2_refresh_info *info, struct oa2_error *err, int *requests)
{
	struct endpoint e;
	struct oa2_token tok;
	enum oa2_status st;
	char extra[256];

	if (endpoint_start(&e, reply, term) < 0)
		return OA2_ERR_INTERNAL;
	snprintf(extra, sizeof(extra), "\"token_endpoint\": "
	    "\"http://127.0.0.1:%d/token\", \"client_id\": \"c\"", e.port);
	put(token_json(0, extra));
	steps[0] = 0;
	st = oa2_access_token(path, o, &tok, info, err);
	oa2_token_free(&tok);
	endpoint_stop(&e);
	*requests = e.requests;
	return st;
}

/* test_save_window - prepare before the request, signals held, mask restored */
static void
test_save_window(struct oa2_refresh_opts *o)
{
	static const char *rotating = "{\"access_token\": \"AT-NEW\", "
	    "\"token_type\": \"Bearer\", \"expires_in\": 3600, "
	    "\"refresh_token\": \"RT-NEW\"}";
	static const char *keeping = "{\"access_token\": \"AT-NEW\", "
	    "\"token_type\": \"Bearer\", \"expires_in\": 3600}";
	struct oa2_refresh_info info;
	struct oa2_token tok;
	struct oa2_error err;
	struct sigaction sa, old_sa;
	sigset_t host, now_mask, usr1;
	char sub[700], subpath[800], extra[256];
	int requests, lfd, port;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct pollfd pfd;

	o->allow_http = 1;
	oa2_token_save_hook = note_step;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, &old_sa);

	/* A host with its own mask: SIGUSR1 blocked, TERM not. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &host);
	pthread_sigmask(SIG_SETMASK, NULL, &host);

	is_int(refresh_through(o, rotating, 1, &info, &err, &requests), OA2_OK,
	    "refresh with rotation, SIGTERM sent while the reply is prepared");
	ok(info.refreshed && info.rotated && requests == 1, "one request, rotated");
	is_str(steps, "prepared,written,renamed,synced,TERM",
	    "temp file prepared before the request; rename before fsync; "
	    "the TERM is handled only after the save");
	pthread_sigmask(SIG_SETMASK, NULL, &now_mask);
	ok(mask_has(SIGUSR1) && !mask_has(SIGTERM) && !mask_has(SIGINT) &&
	    !mask_has(SIGHUP) && !mask_has(SIGQUIT),
	    "the host's signal mask is restored exactly (USR1 held, TERM not)");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK &&
	    tok.refresh_token != NULL && strcmp(tok.refresh_token, "RT-NEW") == 0,
	    "the rotated refresh token is on disk");
	oa2_token_free(&tok);
	is_int(ntmp(), 0, "no temporary file left");

	is_int(refresh_through(o, keeping, 0, &info, &err, &requests), OA2_OK,
	    "refresh without rotation");
	is_str(steps, "prepared,written,synced,renamed",
	    "no rotation: fsync before the rename");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK &&
	    strcmp(tok.refresh_token, "RT-SECRET-1") == 0 &&
	    strcmp(tok.access_token, "AT-NEW") == 0,
	    "the new access token is on disk, the refresh token kept");
	oa2_token_free(&tok);
	is_int(ntmp(), 0, "no temporary file left");

	/* A host that blocks TERM itself keeps it blocked. */
	{
		sigset_t t;

		sigemptyset(&t);
		sigaddset(&t, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &t, NULL);
		is_int(refresh_through(o, keeping, 0, &info, &err, &requests),
		    OA2_OK, "refresh in a host that blocks TERM");
		ok(mask_has(SIGTERM) && mask_has(SIGUSR1) && !mask_has(SIGINT),
		    "TERM still blocked after it, INT not");
		pthread_sigmask(SIG_UNBLOCK, &t, NULL);
	}

	/* A failed request: no temporary file, the mask restored. */
	put(token_json(0, "\"token_endpoint\": \"http://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\""));
	ok(oa2_access_token(path, o, &tok, &info, &err) == OA2_ERR_TEMP,
	    "unreachable endpoint: temporary failure");
	is_int(ntmp(), 0, "failed refresh: its temporary file removed");
	ok(mask_has(SIGUSR1) && !mask_has(SIGTERM), "failed refresh: mask restored");

	/*
	 * An unwritable directory fails before the request: the endpoint
	 * (a listening socket) never sees a connection.
	 */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ok(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    listen(lfd, 4) == 0 &&
	    getsockname(lfd, (struct sockaddr *)&a, &al) == 0, "a listener");
	port = ntohs(a.sin_port);
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	snprintf(subpath, sizeof(subpath), "%s/token.json", sub);
	mkdir(sub, 0700);
	snprintf(extra, sizeof(extra), "\"token_endpoint\": "
	    "\"http://127.0.0.1:%d/token\", \"client_id\": \"c\"", port);
	{
		FILE *f = fopen(subpath, "w");

		fputs(token_json(0, extra), f);
		fclose(f);
		chmod(subpath, 0600);
	}
	if (geteuid() == 0) {
		/* Root writes anywhere: the directory is refused as uid 65534. */
		pid_t pid;
		int status;

		ok(chmod(dir, 0711) == 0 && chown(sub, 0, 0) == 0 &&
		    chmod(sub, 0755) == 0 &&
		    chown(subpath, 65534, 65534) == 0,
		    "a directory of root's, 0755, the file uid 65534's");
		fflush(stdout);
		if ((pid = fork()) == 0) {
			enum oa2_status st;

			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(9);
			st = oa2_access_token(subpath, o, &tok, &info, &err);
			_exit(st == OA2_ERR_INPUT &&
			    strstr(err.msg, "cannot create a temporary file") &&
			    strstr(err.msg, "must be writable by uid 65534") ? 0 : 1);
		}
		ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0,
		    "unwritable directory (as uid 65534): input error naming "
		    "the directory and the fix");
	} else {
		chmod(sub, 0500);
		ok(oa2_access_token(subpath, o, &tok, &info, &err) ==
		    OA2_ERR_INPUT && strstr(err.msg, "cannot create a temporary "
		    "file") != NULL, "unwritable directory: input error naming "
		    "the directory and the fix");
		chmod(sub, 0700);
	}
	pfd.fd = lfd;
	pfd.events = POLLIN;
	is_int(poll(&pfd, 1, 200), 0,
	    "unwritable directory: no request was sent (the grant is unused)");
	close(lfd);
	chmod(dir, 0700);
	unlink(subpath);
	rmdir(sub);

	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	sigaction(SIGTERM, &old_sa, NULL);
	oa2_token_save_hook = NULL;
	o->allow_http = 0;
}

int
main(void)
{
	struct oa2_refresh_opts o = {0};
	struct oa2_refresh_info info;
	struct oa2_config cfg;
	struct oa2_token tok;
	struct oa2_error err;
	char before[8192];
	time_t now = time(NULL);
	const char *down = "\"token_endpoint\": \"https://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\"";

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/token.json", dir);
	oa2_config_init(&cfg);
	o.cfg = &cfg;

	/* 1. Fresh: no request at all (the endpoint is down and never asked). */
	put(token_json(now + 3600, down));
	strcpy(before, slurp());
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK, "fresh token used");
	is_str(tok.access_token, "AT-SECRET-1", "the stored access token");
	ok(!info.refreshed && !info.stale_ok, "no refresh attempted");
	oa2_token_free(&tok);
	is_str(slurp(), before, "file untouched");

	/* 2. Expired, endpoint down: temporary error, file byte-identical. */
	put(token_json(now - 10, down));
	strcpy(before, slurp());
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_TEMP,
	    "expired token + unreachable endpoint: temporary failure");
	has_str(err.msg, path, "message names the token file");
	has_str(err.msg, "temporary", "message says it is temporary");
	ok(strstr(err.msg, "SECRET") == NULL, "no secret in the message");
	is_str(slurp(), before, "failed refresh leaves the file byte-identical");

	/* 3. Inside the window but not expired: the old token keeps mail flowing. */
	put(token_json(now + 100, down));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK,
	    "token inside the refresh window, endpoint down: still usable");
	ok(info.stale_ok, "stale_ok reported");
	is_str(tok.access_token, "AT-SECRET-1", "the old access token is handed out");
	oa2_token_free(&tok);

	/* 4. refresh_window in the file moves the threshold. */
	put(token_json(now + 100, "\"refresh_window\": 30, \"token_endpoint\": "
	    "\"https://127.0.0.1:1/token\", \"client_id\": \"c\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK && !info.stale_ok,
	    "refresh_window 30: a token valid 100 s more is fresh");
	oa2_token_free(&tok);

	/* 5. Missing settings are named. */
	put(token_json(0, "\"token_endpoint\": \"https://127.0.0.1:1/token\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "no client_id: input error");
	has_str(err.msg, "\"client_id\"", "message names client_id");
	put(token_json(0, "\"client_id\": \"c\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "no endpoint and no provider: input error");
	has_str(err.msg, "\"token_endpoint\" or \"provider\"", "message says what to set");
	put(token_json(0, "\"client_id\": \"c\", \"provider\": \"hotmail\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "unknown provider refused");
	has_str(err.msg, "google, microsoft", "message lists the providers");
	put(token_json(0, "\"client_id\": \"c\", \"provider\": \"microsoft\", "
	    "\"tenant\": \"evil/../x\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "a tenant that changes the URL shape is refused");
	has_str(err.msg, "\"tenant\"", "message names tenant");
	put(token_json(0, "\"token_endpoint\": \"https://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\", \"client_auth\": \"jwt\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "bad client_auth refused");

	/* 6. Configuration defaults fill in what the file lacks. */
	{
		const char *c = "{\"client_id\": \"from-config\", "
		    "\"token_endpoint\": \"https://127.0.0.1:1/token\"}";
		struct oa2_config cfg2;

		ok(oa2_config_parse(&cfg2, "/etc/x.conf", c, strlen(c), &err) == OA2_OK,
		    "config parsed");
		o.cfg = &cfg2;
		put(token_json(0, ""));
		ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_TEMP,
		    "client_id and endpoint from the config: the request is attempted");
		has_str(err.msg, "127.0.0.1:1", "it went to the configured endpoint");
		oa2_config_free(&cfg2);
		o.cfg = &cfg;
	}

	/* 7. force: refresh even a fresh token; when it fails, keep using it. */
	put(token_json(now + 3600, down));
	o.force = 1;
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK && info.stale_ok,
	    "forced refresh failing temporarily falls back to the valid token");
	oa2_token_free(&tok);
	o.force = 0;

	/* 8. mark_stale only touches the token that was refused. */
	put(token_json(now + 3600, down));
	ok(oa2_mark_stale(path, "AT-OTHER", &err) == OA2_OK, "mark_stale other token");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK && tok.expiry == now + 3600,
	    "a different token leaves the expiry alone");
	oa2_token_free(&tok);
	ok(oa2_mark_stale(path, "AT-SECRET-1", &err) == OA2_OK, "mark_stale same token");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK && tok.expiry == 0,
	    "the refused token gets expiry 0");
	is_str(tok.refresh_token, "RT-SECRET-1", "refresh token kept");
	oa2_token_free(&tok);

	/* 10. The crash window: prepare, hold signals, commit, restore. */
	test_save_window(&o);

	/* 11. root (the tool outside a chroot): the file's paths opened under it. */
	{
		char sa[700];
		const char *app = "{\"grant\": \"jwt_bearer\", \"user\": "
		    "\"u@example.test\", \"token_endpoint\": "
		    "\"https://127.0.0.1:1/token\", \"service_account_file\": "
		    "\"/test-refresh-no-such-sa.json\"}";
		const char *app2 = "{\"grant\": \"jwt_bearer\", \"user\": "
		    "\"u@example.test\", \"token_endpoint\": "
		    "\"https://127.0.0.1:1/token\", \"service_account_file\": "
		    "\"/dev/null\"}";

		snprintf(sa, sizeof(sa), "%s/test-refresh-no-such-sa.json", dir);
		put(app);
		ok(oa2_access_token(path, &o, &tok, &info, &err) != OA2_OK &&
		    strstr(err.msg, "/test-refresh-no-such-sa.json") != NULL &&
		    strstr(err.msg, sa) == NULL, "no root: the path as named");
		o.root = dir;
		ok(oa2_access_token(path, &o, &tok, &info, &err) != OA2_OK &&
		    strstr(err.msg, sa) != NULL, "root: the path opened under it");
		o.root_if_missing = 1;
		ok(oa2_access_token(path, &o, &tok, &info, &err) != OA2_OK &&
		    strstr(err.msg, sa) != NULL,
		    "root_if_missing, missing as named: under the root");
		put(app2);
		snprintf(sa, sizeof(sa), "%s/dev/null", dir);
		ok(oa2_access_token(path, &o, &tok, &info, &err) != OA2_OK &&
		    strstr(err.msg, "/dev/null") != NULL && strstr(err.msg, sa) == NULL,
		    "root_if_missing, there as named: as named");
		o.root = NULL;
		o.root_if_missing = 0;
	}

	/* 9. A broken file is reported, not crashed on. */
	put("{\"access_token\": \"x\"}");
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "file without refresh_token refused");
	has_str(err.msg, "refresh_token", "message names the field");

	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
