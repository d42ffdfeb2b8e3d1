/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	alloc-fail 1
 * SUMMARY
 *	allocation-failure torture of the plugin's SASL exchange
 * SYNOPSIS
 *	alloc-fail [-CJSrvX] [-c cafile] [-e challenge] [-g command]
 *		[-k first[-last]] [-s stats-url] -m mech -u user -f tokenfile
 * DESCRIPTION
 *	Runs one whole client exchange through libsasl2 -- sasl_client_init,
 *	the plugin's plug_init, sasl_client_new, sasl_client_start, one
 *	sasl_client_step (an empty server message: success; with -e, the
 *	server's error challenge), sasl_dispose, sasl_client_done -- once
 *	for every k = 1, 2, ... with the k-th allocation of the plugin
 *	failing, until a run makes fewer than k allocations (the exchange
 *	completed with no failure injected).  Each run is a child process
 *	forked after a warm-up exchange, so that a crash is seen and counted
 *	and the lazily built global state of libcurl and OpenSSL exists
 *	before the child looks for leaks.
 *
 *	A run is clean when: the child was not killed by a signal; no
 *	block allocated while plugin code ran is still allocated after
 *	sasl_client_done (no leak: this program replaces malloc(3) and
 *	friends with wrappers around glibc's that keep the set of such
 *	blocks); the exchange either ended with
 *	a SASL error code and a one-line sasl_errdetail() saying "out of
 *	memory" (anything else is counted as misreported: an allocation
 *	failure must not send the admin to fix a file that is fine), or it
 *	still did exactly what the clean run does (the failure was absorbed
 *	by a best-effort step); the token file is byte-identical, or (after
 *	a refresh, or the stale mark of -e) a valid token file; it has mode
 *	0600 and its owner; no other file is left in its directory; and no
 *	log line or error detail holds a token or the client secret.
 *
 *	Which allocations count.  The plugin is compiled into this program
 *	with the core (plugin/oa2_plugin.c and liboa2) and registered with
 *	sasl_client_add_plugin(), so that oa2_mem_fail_at() reaches the
 *	very copy of the core the plugin uses: the installed .so exports only
 *	sasl_client_plug_init and should carry no test hook.  Counted are the
 *	core's oa2_malloc() family and jansson's allocations while plugin
 *	code runs (this program plays a host that set its own jansson
 *	allocator, which routes them to oa2_malloc(): the plugin installs
 *	none that lasts, see oa2_json(3)) and the plugin's own calls of
 *	utils->malloc
 *	(libsasl2's allocator, set with sasl_set_alloc; plug_init and
 *	mech_new/step/dispose/free are wrapped to know when plugin code
 *	runs).  -S also fails what libsasl2 allocates for the plugin
 *	(seterror, canon_user): libsasl2 2.1.28 itself does not survive that
 *	(sasl_errdetail() calls strlen() on the NULL buffer a failed
 *	seterror() leaves).  -C also fails libcurl's allocations during
 *	plugin code (curl_global_init_mem: thousands more points).  Allocations made
 *	inside json_loadb() are not failed (but are reported): jansson 2.14's
 *	parser does not survive a failing allocation (lex_unget_unsave()
 *	asserts; lex_scan_string() may copy past its buffer).  -J fails them
 *	too, and a crash inside json_loadb is then reported as jansson's.
 *	-X runs the exchange once, with -k's first k, in this process (for a
 *	debugger); -v prints every run and the blocks a leak consists of.
 *
 *	-r: the refresh case.  Before each run the file's expiry is set to
 *	"1", so the plugin refreshes at the token endpoint.  With -s (the
 *	oidc-provider's /__test/stats, CA file -c) the program sees whether
 *	the endpoint issued new tokens: if it did and the file was not
 *	rewritten, the rotated grant is lost (the reply-to-rename window);
 *	those k are counted, and -g's command (run by the shell with
 *	TOKEN_FILE in the environment) writes a file with a new grant.
 *
 *	Output: "# " lines with the figures, one line per unclean run, and a
 *	last line "alloc-fail: ..." with the counts.  Exit 0 when every run
 *	was clean, 1 when not, 2 on a usage or setup error.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */

#include <curl/curl.h>
#include <jansson.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

/* Application-specific. */

#include "oa2_error.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"

/* plugin/oa2_plugin.c, compiled into this program */
int	sasl_client_plug_init(const sasl_utils_t *, int, int *,
			              sasl_client_plug_t **, int *);

typedef int (*cb_ft) (void);
#define CB(f)	((cb_ft) (void (*)(void)) (f))

#define MAX_K		200000
#define LOG_MAX		8192
#define DETAIL_MAX	1024
#define OUT_MAX		20000

/* What a child reports (shared memory). */
struct report {
	int	start_rc;
	int	step_rc;		/* 1: not reached */
	unsigned long counted;		/* failable allocations made */
	unsigned long exempt;		/* allocations inside json_loadb */
	unsigned long leak_blocks;	/* plugin-time blocks still allocated */
	unsigned long leak_bytes;
	int	crash_sig;
	int	crash_in_load;
	size_t	outlen;			/* initial response */
	char	out[OUT_MAX];
	size_t	out2len;		/* answer to the error challenge */
	char	out2[16];
	char	detail[DETAIL_MAX];
	char	log[LOG_MAX];
};

static struct report *rep;

/* Options. */
static const char *opt_mech, *opt_user, *opt_file, *opt_challenge;
static const char *opt_stats, *opt_ca, *opt_grant;
static int opt_refresh, opt_curl, opt_jansson, opt_verbose;
static int opt_nofork_debug;
static char plugindir[] = "/tmp/alloc-fail-plugins.XXXXXX";

/* Allocation accounting (see DESCRIPTION). */
static int in_load;
static unsigned long arm_k;
static unsigned long counted_before;
static unsigned long exempt_count;

/* arm - the k-th failable allocation from now fails (0: none) */
static void
arm(unsigned long k)
{
	arm_k = k;
	counted_before = 0;
	exempt_count = 0;
	oa2_mem_fail_at(k);
}

/* counted - failable allocations since arm() */
static unsigned long
counted(void)
{
	return (counted_before + oa2_mem_count());
}

/*
 * The leak tracker: malloc(3) and friends of the whole process are
 * replaced by wrappers around glibc's own (__libc_malloc, ...), which
 * remember each block allocated while plugin code runs until it is freed.
 */
#if defined(__SANITIZE_ADDRESS__)
#define NO_TRACKER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_TRACKER	1
#endif
#endif

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

#define TRACK_BITS	18
#define TRACK_SLOTS	(1UL << TRACK_BITS)
#define TOMBSTONE	((void *) 1)

static void *track_ptr[TRACK_SLOTS];
static size_t track_len[TRACK_SLOTS];
static void *track_caller[TRACK_SLOTS];
static int tracking;
static int track_lock;
static unsigned long track_overflow;

static __attribute__((unused)) void
lock(void)
{
	while (__atomic_test_and_set(&track_lock, __ATOMIC_ACQUIRE))
		;
}

static __attribute__((unused)) void
unlock(void)
{
	__atomic_clear(&track_lock, __ATOMIC_RELEASE);
}

static __attribute__((unused)) size_t
slot_of(const void *p)
{
	unsigned long long h = (unsigned long long) (uintptr_t) p;

	h = (h >> 4) * 0x9E3779B97F4A7C15ULL;
	return ((size_t) (h >> (64 - TRACK_BITS)));
}

/* track_add - remember p (plugin-time allocation) */
static __attribute__((unused)) void
track_add(void *p, size_t n, void *caller)
{
	size_t	i, s = slot_of(p);

	lock();
	for (i = 0; i < TRACK_SLOTS; i++, s = (s + 1) & (TRACK_SLOTS - 1))
		if (track_ptr[s] == NULL || track_ptr[s] == TOMBSTONE) {
			track_ptr[s] = p;
			track_len[s] = n;
			track_caller[s] = caller;
			unlock();
			return;
		}
	track_overflow++;
	unlock();
}

/* track_del - forget p; true if it was remembered */
static __attribute__((unused)) int
track_del(void *p)
{
	size_t	i, s = slot_of(p);

	lock();
	for (i = 0; i < TRACK_SLOTS && track_ptr[s] != NULL;
	     i++, s = (s + 1) & (TRACK_SLOTS - 1))
		if (track_ptr[s] == p) {
			track_ptr[s] = TOMBSTONE;
			unlock();
			return (1);
		}
	unlock();
	return (0);
}

/* track_live - blocks (and bytes) still remembered; -v: print them */
static unsigned long
track_live(unsigned long *bytes, int show)
{
	unsigned long n = 0;
	Dl_info	dl;
	size_t	s;

	*bytes = 0;
	for (s = 0; s < TRACK_SLOTS; s++)
		if (track_ptr[s] != NULL && track_ptr[s] != TOMBSTONE) {
			n++;
			*bytes += track_len[s];
			if (show && dladdr(track_caller[s], &dl) != 0)
				printf("#   leaked %zu bytes, allocated from %s %s+%#lx\n",
				       track_len[s], dl.dli_fname,
				       dl.dli_sname ? dl.dli_sname : "?",
				       (unsigned long) ((char *) track_caller[s]
				    - (char *) (dl.dli_saddr ? dl.dli_saddr : dl.dli_fbase)));
		}
	return (n);
}

static int in_plugin;

#ifndef NO_TRACKER
/* (Under AddressSanitizer its own allocator stays: LeakSanitizer checks.) */
void   *malloc(size_t);
void   *calloc(size_t, size_t);
void   *realloc(void *, size_t);
void	free(void *);

void   *
malloc(size_t n)
{
	void   *p = __libc_malloc(n);

	if (p != NULL && tracking && in_plugin)
		track_add(p, n, __builtin_return_address(0));
	return (p);
}

void   *
calloc(size_t n, size_t m)
{
	void   *p = __libc_calloc(n, m);

	if (p != NULL && tracking && in_plugin)
		track_add(p, n * m, __builtin_return_address(0));
	return (p);
}

void   *
realloc(void *old, size_t n)
{
	int	was = old != NULL && tracking && track_del(old);
	void   *p = __libc_realloc(old, n);

	if (p == NULL && was)
		track_add(old, 0, __builtin_return_address(0));
	else if (p != NULL && tracking && (was || in_plugin))
		track_add(p, n, __builtin_return_address(0));
	return (p);
}

void
free(void *p)
{
	if (p != NULL && tracking)
		(void) track_del(p);
	__libc_free(p);
}
#endif					/* NO_TRACKER */

typedef json_t *(*loadb_fn) (const char *, size_t, size_t, json_error_t *);

/*
 * json_loadb - the core's calls land here (this program's definition wins
 * over libjansson's): nothing fails inside unless -J; a crash inside is
 * marked as jansson's.
 */
json_t *
json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	static loadb_fn real;
	json_t *root;

	if (real == NULL && (real = (loadb_fn) dlsym(RTLD_NEXT, "json_loadb")) == NULL)
		abort();
	if (opt_jansson) {
		in_load = 1;
		root = real(buf, len, flags, err);
		in_load = 0;
		return (root);
	}
	counted_before += oa2_mem_count();
	oa2_mem_fail_at(0);
	in_load = 1;
	root = real(buf, len, flags, err);
	in_load = 0;
	exempt_count += oa2_mem_count();
	oa2_mem_fail_at(arm_k > counted_before ? arm_k - counted_before : 0);
	return (root);
}

/*
 * libsasl2's allocator (utils->malloc, ...): failable while plugin code
 * runs, when plugin code itself calls it (the caller is in this program).
 * libsasl2's own allocations, also those it makes for the plugin
 * (seterror, canon_user), fail only with -S: libsasl2 2.1.28 does not
 * survive that (sasl_errdetail() runs strlen() on the NULL error buffer
 * a failed seterror() leaves).  libcurl's (-C) fail whoever calls.
 */
extern char __executable_start[], etext[];
static int opt_sasl;

static int
failable(const void *caller)
{
	return (in_plugin && (opt_sasl || ((const char *) caller >= __executable_start
					  && (const char *) caller < etext)));
}

static void *
fa_malloc(size_t n)
{
	return (failable(__builtin_return_address(0)) ? oa2_malloc(n) : malloc(n));
}

static void *
fa_calloc(size_t n, size_t m)
{
	return (failable(__builtin_return_address(0)) ? oa2_calloc(n, m) : calloc(n, m));
}

static void *
fa_realloc(void *p, size_t n)
{
	return (failable(__builtin_return_address(0)) ? oa2_realloc(p, n) : realloc(p, n));
}

/* jf_malloc - jansson's allocator: failable whenever plugin code runs */
static void *
jf_malloc(size_t n)
{
	return (in_plugin ? oa2_malloc(n) : malloc(n));
}

/* cf_* - libcurl's allocator (-C): failable whenever plugin code runs */
static void *
cf_malloc(size_t n)
{
	return (in_plugin ? oa2_malloc(n) : malloc(n));
}

static void *
cf_calloc(size_t n, size_t m)
{
	return (in_plugin ? oa2_calloc(n, m) : calloc(n, m));
}

static void *
cf_realloc(void *p, size_t n)
{
	return (in_plugin ? oa2_realloc(p, n) : realloc(p, n));
}

static char *
cf_strdup(const char *s)
{
	return (in_plugin ? oa2_strdup(s) : strdup(s));
}

/* The plugin's entry points, wrapped to know when plugin code runs. */
static sasl_client_plug_t plugs[4];
static sasl_client_plug_t real_plug;

static int
w_new(void *g, sasl_client_params_t *p, void **cc)
{
	int	rc;

	in_plugin++;
	rc = real_plug.mech_new(g, p, cc);
	in_plugin--;
	return (rc);
}

static int
w_step(void *cc, sasl_client_params_t *p, const char *in, unsigned inlen,
       sasl_interact_t **pn, const char **out, unsigned *outlen,
       sasl_out_params_t *op)
{
	int	rc;

	in_plugin++;
	rc = real_plug.mech_step(cc, p, in, inlen, pn, out, outlen, op);
	in_plugin--;
	return (rc);
}

static void
w_dispose(void *cc, const sasl_utils_t *u)
{
	in_plugin++;
	real_plug.mech_dispose(cc, u);
	in_plugin--;
}

static void
w_free(void *g, const sasl_utils_t *u)
{
	in_plugin++;
	real_plug.mech_free(g, u);
	in_plugin--;
}

static int
w_init(const sasl_utils_t *u, int max, int *outv, sasl_client_plug_t **list,
       int *count)
{
	sasl_client_plug_t *orig;
	int	rc, i;

	in_plugin++;
	rc = sasl_client_plug_init(u, max, outv, &orig, count);
	in_plugin--;
	if (rc != SASL_OK)
		return (rc);
	if (*count > (int) (sizeof(plugs) / sizeof(plugs[0])))
		abort();
	real_plug = orig[0];
	for (i = 0; i < *count; i++) {
		plugs[i] = orig[i];
		plugs[i].mech_new = w_new;
		plugs[i].mech_step = w_step;
		plugs[i].mech_dispose = w_dispose;
		plugs[i].mech_free = orig[i].mech_free ? w_free : NULL;
	}
	*list = plugs;
	return (SASL_OK);
}

/* SASL callbacks */
static sasl_secret_t *secret;

static int
cb_log(void *ctx, int level, const char *msg)
{
	size_t	n = strlen(rep->log);

	if (n + strlen(msg) + 2 < LOG_MAX) {
		memcpy(rep->log + n, msg, strlen(msg));
		rep->log[n + strlen(msg)] = '\n';
		rep->log[n + strlen(msg) + 1] = 0;
	}
	return (SASL_OK);
}

static int
cb_user(void *ctx, int id, const char **result, unsigned *len)
{
	*result = opt_user;
	if (len)
		*len = (unsigned) strlen(opt_user);
	return (SASL_OK);
}

static int
cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **ps)
{
	*ps = secret;
	return (SASL_OK);
}

/* on_crash - note where the child died, then die of the same signal */
static void
on_crash(int sig)
{
	rep->crash_sig = sig;
	rep->crash_in_load = in_load;
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * clear_openssl_errors - release OpenSSL's per-thread state (its error
 * queue).  That queue keeps the text of the last errors (at most 16)
 * libcurl left there, e.g. when the server closed the connection: bounded
 * state of OpenSSL's, reused by the next error, not a leak; and
 * ERR_clear_error() keeps the buffers.  (Looked up at run time: no link
 * dependency on libcrypto, which libcurl loads anyway.)
 */
static void
clear_openssl_errors(void)
{
	void    (*stop) (void);

	*(void **) &stop = dlsym(RTLD_DEFAULT, "OPENSSL_thread_stop");
	if (stop != NULL)
		stop();
}

/* exchange - one whole client lifecycle; fills rep */
static void
exchange(unsigned long k)
{
	static sasl_callback_t global_cb[] = {
		{SASL_CB_LOG, CB(cb_log), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static sasl_callback_t cb[] = {
		{SASL_CB_AUTHNAME, CB(cb_user), NULL},
		{SASL_CB_PASS, CB(cb_pass), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	sasl_conn_t *conn = NULL;
	const char *out, *used, *d;
	unsigned outlen;
	int	rc;

	memset(rep, 0, sizeof(*rep));
	rep->start_rc = rep->step_rc = 1;
	memset(track_ptr, 0, sizeof(track_ptr));
	track_overflow = 0;
	tracking = 1;
	sasl_set_path(SASL_PATH_TYPE_PLUGIN, plugindir);
	if ((rc = sasl_client_init(global_cb)) != SASL_OK) {
		rep->start_rc = rc;
		snprintf(rep->detail, DETAIL_MAX, "sasl_client_init: %s",
			 sasl_errstring(rc, NULL, NULL));
		tracking = 0;
		return;
	}
	arm(k);
	rc = sasl_client_add_plugin("sasl-oauth2", w_init);
	if (rc == SASL_OK)
		rc = sasl_client_new("smtp", "mail.example.test", NULL,
				     "127.0.0.1;587", cb, 0, &conn);
	if (rc == SASL_OK) {
		out = NULL;
		outlen = 0;
		rc = sasl_client_start(conn, opt_mech, NULL, &out, &outlen, &used);
		rep->start_rc = rc;
		if (out != NULL && outlen <= OUT_MAX) {
			memcpy(rep->out, out, outlen);
			rep->outlen = outlen;
		}
		if (rc == SASL_CONTINUE) {
			out = NULL;
			outlen = 0;
			rc = sasl_client_step(conn, opt_challenge ? opt_challenge : "",
				 opt_challenge ? (unsigned) strlen(opt_challenge) : 0,
					      NULL, &out, &outlen);
			rep->step_rc = rc;
			if (out != NULL && outlen <= sizeof(rep->out2)) {
				memcpy(rep->out2, out, outlen);
				rep->out2len = outlen;
			}
		}
		if ((d = sasl_errdetail(conn)) != NULL)
			snprintf(rep->detail, DETAIL_MAX, "%s", d);
	} else {
		rep->start_rc = rc;
		snprintf(rep->detail, DETAIL_MAX, "before start: %s",
			 sasl_errstring(rc, NULL, NULL));
	}
	if (conn != NULL)
		sasl_dispose(&conn);
	sasl_client_done();
	clear_openssl_errors();
	rep->counted = counted();
	rep->exempt = exempt_count;
	arm(0);
	tracking = 0;
	rep->leak_blocks = track_live(&rep->leak_bytes, opt_verbose) + track_overflow;
}

/* run_child - exchange() in a child; returns its wait status */
static int
run_child(unsigned long k)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("alloc-fail: fork");
		exit(2);
	}
	if (pid == 0) {
		signal(SIGSEGV, on_crash);
		signal(SIGABRT, on_crash);
		signal(SIGBUS, on_crash);
		signal(SIGFPE, on_crash);
		signal(SIGILL, on_crash);
		exchange(k);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			perror("alloc-fail: waitpid");
			exit(2);
		}
	return (status);
}

/* The token file as it was before a run. */
struct snap {
	char   *data;
	size_t	len;
	struct stat st;
};

static char *
read_file(const char *path, size_t *lenp)
{
	FILE   *f;
	char   *buf;
	size_t	n, cap = 1 << 16, len = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	buf = malloc(cap + 1);
	while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap && (buf = realloc(buf, (cap *= 2) + 1)) == NULL)
			break;
	}
	fclose(f);
	if (buf != NULL) {
		buf[len] = 0;
		*lenp = len;
	}
	return (buf);
}

static int
take_snap(struct snap *s)
{
	free(s->data);
	s->data = read_file(opt_file, &s->len);
	return (s->data != NULL && lstat(opt_file, &s->st) == 0 ? 0 : -1);
}

/* write_back - put bytes at the path (temp + rename), mode 0600, owner kept */
static int
write_back(const char *data, size_t len, const struct stat *st)
{
	char	tmp[4096];
	int	fd;

	snprintf(tmp, sizeof(tmp), "%s.alloc-fail-restore", opt_file);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return (-1);
	if (write(fd, data, len) != (ssize_t) len || fchmod(fd, 0600) < 0
	    || (st != NULL && fchown(fd, st->st_uid, st->st_gid) < 0 && geteuid() == 0)
	    || close(fd) < 0 || rename(tmp, opt_file) < 0) {
		unlink(tmp);
		return (-1);
	}
	return (0);
}

/* expire - set the file's expiry to "1" so that the plugin refreshes */
static int
expire(const struct snap *s)
{
	json_error_t je;
	json_t *root, *v;
	char   *dump;
	int	rc;

	if ((root = json_loadb(s->data, s->len, 0, &je)) == NULL)
		return (-1);
	v = json_object_get(root, "expiry");
	if (json_is_string(v) && strcmp(json_string_value(v), "1") == 0) {
		json_decref(root);
		return (0);
	}
	json_object_set_new(root, "expiry", json_string("1"));
	dump = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (dump == NULL)
		return (-1);
	rc = write_back(dump, strlen(dump), &s->st);
	oa2_wipe(dump, strlen(dump));
	free(dump);
	return (rc);
}

/* Secrets seen in token files, to look for in messages. */
static char *secrets[256];
static int nsecrets;

static void
remember(const char *s)
{
	int	i;

	if (s == NULL || strlen(s) < 8)
		return;
	for (i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], s) == 0)
			return;
	if (nsecrets < (int) (sizeof(secrets) / sizeof(secrets[0])))
		secrets[nsecrets++] = strdup(s);
}

/* parse_tok - parse a token file's bytes; remember its secrets */
static int
parse_tok(const char *data, size_t len, struct oa2_token *tok)
{
	struct oa2_error err;

	if (oa2_token_parse(tok, opt_file, data, len, &err) != OA2_OK)
		return (-1);
	remember(tok->refresh_token);
	remember(tok->access_token);
	remember(tok->client_secret);
	return (0);
}

/* leftovers - files in the token directory other than the token file */
static int
leftovers(char *names, size_t size)
{
	char	buf[4096], base[1024];
	struct dirent *e;
	DIR    *d;
	int	n = 0;

	snprintf(buf, sizeof(buf), "%s", opt_file);
	snprintf(base, sizeof(base), "%s", basename(buf));
	snprintf(buf, sizeof(buf), "%s", opt_file);
	if ((d = opendir(dirname(buf))) == NULL)
		return (-1);
	names[0] = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
		    || strcmp(e->d_name, base) == 0)
			continue;
		n++;
		if (strlen(names) + strlen(e->d_name) + 2 < size) {
			strcat(names, " ");
			strcat(names, e->d_name);
		}
	}
	closedir(d);
	return (n);
}

/* idp_refresh_ok - the token endpoint's count of refresh grants issued */
static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct {
		char	b[8192];
		size_t	len;
	}      *acc = arg;

	if (acc->len + size * n < sizeof(acc->b)) {
		memcpy(acc->b + acc->len, p, size * n);
		acc->len += size * n;
	}
	return (size * n);
}

static long
idp_refresh_ok(void)
{
	struct {
		char	b[8192];
		size_t	len;
	}	acc = {{0}, 0};
	json_error_t je;
	json_t *root;
	CURL   *c;
	long	ok = -1;

	if (opt_stats == NULL || (c = curl_easy_init()) == NULL)
		return (-1);
	curl_easy_setopt(c, CURLOPT_URL, opt_stats);
	if (opt_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, opt_ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &acc);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK
	    && (root = json_loadb(acc.b, acc.len, 0, &je)) != NULL) {
		json_t *v = json_object_get(json_object_get(root, "refresh_token"), "ok");

		ok = json_is_integer(v) ? (long) json_integer_value(v) : 0;
		json_decref(root);
	}
	curl_easy_cleanup(c);
	return (ok);
}

/* new_grant - run the -g command for a fresh grant */
static int
new_grant(void)
{
	if (opt_grant == NULL)
		return (-1);
	setenv("TOKEN_FILE", opt_file, 1);
	return (system(opt_grant) == 0 ? 0 : -1);
}

/* Figures. */
static unsigned long n_runs, n_crash, n_crash_jansson, n_leak, n_damaged;
static unsigned long n_leftover, n_misreported, n_absorbed, n_lost;
static unsigned long n_secret, n_multiline, n_mode, n_unclean;
static unsigned long rc_hist[32];
static char lost_ks[512];
static char misreport_seen[8][160];
static int nmisreport_seen;

/* complain - one line for an unclean run */
static void
complain(unsigned long k, const char *fmt,...)
{
	va_list ap;

	printf("# k=%lu: ", k);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* rc_slot - histogram slot of a SASL result code */
static int
rc_slot(int rc)
{
	return (rc >= 1 ? 0 : (-rc < 31 ? -rc : 31));
}

/* is_expected - the exchange did what the clean run does */
static int
is_expected(const struct report *r, const struct report *clean)
{
	if (r->start_rc != clean->start_rc || r->step_rc != clean->step_rc)
		return (0);
	if (r->out2len != clean->out2len
	    || memcmp(r->out2, clean->out2, r->out2len) != 0)
		return (0);
	if (opt_refresh) {
		/* A new access token each time: same shape, same user part. */
		const char *a = memchr(r->out, 0x01, r->outlen);
		const char *b = memchr(clean->out, 0x01, clean->outlen);

		return (a != NULL && b != NULL && a - r->out == b - clean->out
			&& memcmp(r->out, clean->out, (size_t) (a - r->out)) == 0
			&& r->outlen > 2 && r->out[r->outlen - 1] == 0x01
			&& r->out[r->outlen - 2] == 0x01);
	}
	return (r->outlen == clean->outlen
		&& memcmp(r->out, clean->out, r->outlen) == 0);
}

/* check_messages - one line each, and no secret in them */
static int
check_messages(unsigned long k, const struct report *r)
{
	int	i, bad = 0;

	if (strchr(r->detail, '\n') != NULL) {
		n_multiline++;
		complain(k, "error detail has more than one line");
		bad = 1;
	}
	for (i = 0; i < nsecrets; i++)
		if (strstr(r->detail, secrets[i]) != NULL
		    || strstr(r->log, secrets[i]) != NULL) {
			n_secret++;
			complain(k, "a token or secret of the token file is in a log line "
				 "or the error detail");
			bad = 1;
			break;
		}
	return (bad);
}

static void
usage(void)
{
	fprintf(stderr, "usage: alloc-fail [-CJSrvX] [-c cafile] [-e challenge] "
		"[-g command] [-k first[-last]] [-s stats-url] -m mech -u user "
		"-f tokenfile\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct report clean, *r;
	struct snap before = {0}, pre_run = {0};
	struct oa2_token tok;
	struct stat st;
	unsigned long k, first = 1, last = MAX_K, points = 0, exempt = 0;
	unsigned long max_counted = 0;
	long	ok_before = -1, ok_after;
	char	names[512], *end;
	size_t	plen;
	int	ch, status, bad, changed, final = 0, i;
	unsigned long other;

	while ((ch = getopt(argc, argv, "CJSXc:e:f:g:k:m:rs:u:v")) != -1) {
		switch (ch) {
		case 'S':
			opt_sasl = 1;
			break;
		case 'X':
			opt_nofork_debug = 1;
			break;
		case 'C':
			opt_curl = 1;
			break;
		case 'J':
			opt_jansson = 1;
			break;
		case 'c':
			opt_ca = optarg;
			break;
		case 'e':
			opt_challenge = optarg;
			break;
		case 'f':
			opt_file = optarg;
			break;
		case 'g':
			opt_grant = optarg;
			break;
		case 'k':
			first = strtoul(optarg, &end, 10);
			last = *end == '-' ? strtoul(end + 1, NULL, 10) : first;
			if (first == 0 || last < first)
				usage();
			break;
		case 'm':
			opt_mech = optarg;
			break;
		case 'r':
			opt_refresh = 1;
			break;
		case 's':
			opt_stats = optarg;
			break;
		case 'u':
			opt_user = optarg;
			break;
		case 'v':
			opt_verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (opt_mech == NULL || opt_user == NULL || opt_file == NULL)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED || mkdtemp(plugindir) == NULL) {
		perror("alloc-fail: setup");
		return (2);
	}
	plen = strlen(opt_file);
	secret = malloc(sizeof(*secret) + plen + 1);
	secret->len = (unsigned) plen;
	memcpy(secret->data, opt_file, plen + 1);

	/*
	 * Global state first: libc's time zone (loaded on the first
	 * localtime(), which an error path may be the first to call: not a
	 * leak of ours), libcurl (gated allocators with -C), libsasl2.
	 */
	tzset();
	if (opt_curl)
		curl_global_init_mem(CURL_GLOBAL_DEFAULT, cf_malloc, free,
				     cf_realloc, cf_strdup, cf_calloc);
	else
		curl_global_init(CURL_GLOBAL_DEFAULT);
	sasl_set_alloc(fa_malloc, fa_calloc, fa_realloc, free);
	json_set_alloc_funcs(jf_malloc, free);

	if (take_snap(&before) < 0 || parse_tok(before.data, before.len, &tok) < 0) {
		fprintf(stderr, "alloc-fail: %s: not a readable token file\n", opt_file);
		return (2);
	}
	oa2_token_free(&tok);
	if (opt_refresh && expire(&before) < 0) {
		fprintf(stderr, "alloc-fail: %s: cannot set its expiry\n", opt_file);
		return (2);
	}

	/* Warm-up in this process: lazy global state exists before the forks. */
	exchange(0);
	if (opt_refresh || opt_challenge) {
		/* The warm-up used the grant or marked the token stale: start over. */
		if (opt_challenge != NULL && write_back(before.data, before.len,
							&before.st) < 0)
			return (2);
		if (take_snap(&before) < 0 || (opt_refresh && expire(&before) < 0))
			return (2);
	}
	/* The clean run, in a child like the others: its figures are the reference. */
	if (take_snap(&pre_run) < 0)
		return (2);
	if (opt_nofork_debug) {
		/* -X: one run in this very process, for a debugger. */
		exchange(first);
		printf("# -X k=%lu: start %d step %d counted %lu: %s\n", first,
		       rep->start_rc, rep->step_rc, rep->counted, rep->detail);
		return (0);
	}
	status = run_child(0);
	clean = *rep;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0
	    || clean.start_rc != SASL_CONTINUE
	    || clean.step_rc != (opt_challenge ? SASL_CONTINUE : SASL_OK)) {
		printf("# the exchange fails with no allocation failing: start %s, "
		       "step %s: %s\n", sasl_errstring(clean.start_rc, NULL, NULL),
		       clean.step_rc == 1 ? "-" :
		       sasl_errstring(clean.step_rc, NULL, NULL), clean.detail);
		printf("alloc-fail: setup failed\n");
		return (1);
	}
	points = clean.counted;
	ok_before = idp_refresh_ok();
	printf("# %s%s%s: the exchange makes %lu failable allocations "
	       "(+%lu inside json_loadb, %s); %lu blocks (%lu bytes) left "
	       "allocated\n",
	       opt_mech, opt_refresh ? ", refresh" : "",
	       opt_challenge ? ", error challenge" : "", clean.counted,
	       clean.exempt, opt_jansson ? "failed too" : "not failed",
	       clean.leak_blocks, clean.leak_bytes);
	if (clean.leak_blocks != 0) {
		printf("alloc-fail: the exchange leaks with no failure injected\n");
		return (1);
	}
	(void) check_messages(0, &clean);

	for (k = first; k <= last; k++) {
		/* Put the file in its starting state. */
		if (opt_challenge != NULL && (take_snap(&pre_run) < 0
		    || pre_run.len != before.len
		    || memcmp(pre_run.data, before.data, before.len) != 0))
			write_back(before.data, before.len, &before.st);
		if (take_snap(&pre_run) < 0 || (opt_refresh && (expire(&pre_run) < 0
						  || take_snap(&pre_run) < 0))) {
			printf("alloc-fail: k=%lu: cannot prepare the token file\n", k);
			return (2);
		}
		status = run_child(k);
		r = rep;
		n_runs++;
		bad = 0;
		if (r->counted > max_counted)
			max_counted = r->counted;
		if (r->exempt > exempt)
			exempt = r->exempt;
		if (WIFSIGNALED(status)) {
			if (r->crash_in_load) {
				n_crash_jansson++;
				complain(k, "killed by signal %d inside jansson's json_loadb",
					 WTERMSIG(status));
			} else {
				n_crash++;
				complain(k, "killed by signal %d", WTERMSIG(status));
			}
			bad = 1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			n_crash++;
			complain(k, "child exited with status %d", WEXITSTATUS(status));
			bad = 1;
		}
		if (!bad && r->leak_blocks != 0) {
			n_leak++;
			complain(k, "%lu blocks (%lu bytes) allocated by plugin code "
				 "are never freed", r->leak_blocks, r->leak_bytes);
			bad = 1;
		}

		/* The token file. */
		if (lstat(opt_file, &st) < 0) {
			n_damaged++;
			complain(k, "the token file is gone");
			bad = 1;
			goto next;
		}
		if ((st.st_mode & 07777) != 0600 || st.st_uid != pre_run.st.st_uid
		    || st.st_gid != pre_run.st.st_gid) {
			n_mode++;
			complain(k, "token file mode %04o owner %ld:%ld (was %04o %ld:%ld)",
				 (unsigned) (st.st_mode & 07777), (long) st.st_uid,
				 (long) st.st_gid, (unsigned) (pre_run.st.st_mode & 07777),
				 (long) pre_run.st.st_uid, (long) pre_run.st.st_gid);
			bad = 1;
		}
		if (leftovers(names, sizeof(names)) != 0) {
			n_leftover++;
			complain(k, "left in the token directory:%s", names);
			bad = 1;
		}
		{
			struct snap after = {0};

			if (take_snap(&after) < 0) {
				n_damaged++;
				complain(k, "the token file cannot be read");
				bad = 1;
				goto next;
			}
			changed = after.len != pre_run.len
				|| memcmp(after.data, pre_run.data, after.len) != 0;
			if (changed && parse_tok(after.data, after.len, &tok) < 0) {
				n_damaged++;
				complain(k, "the token file no longer parses");
				bad = 1;
			} else if (changed) {
				if (!opt_refresh && !(opt_challenge && tok.expiry == 0)) {
					n_damaged++;
					complain(k, "the token file changed");
					bad = 1;
				}
				oa2_token_free(&tok);
			}
			free(after.data);
		}
		if (opt_refresh) {
			ok_after = idp_refresh_ok();
			if (ok_after > ok_before && !changed) {
				/* Issued, not stored: the rotated grant is gone. */
				n_lost++;
				if (strlen(lost_ks) + 12 < sizeof(lost_ks))
					snprintf(lost_ks + strlen(lost_ks),
						 sizeof(lost_ks) - strlen(lost_ks),
						 "%s%lu", lost_ks[0] ? " " : "", k);
				if (new_grant() < 0) {
					printf("alloc-fail: k=%lu: the grant was lost and no "
					       "new one could be had (-g)\n", k);
					return (2);
				}
				ok_after = idp_refresh_ok();
			}
			ok_before = ok_after;
		}
		bad |= check_messages(k, r);

		/* The result. */
		if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			goto next;
		if (r->counted < k) {
			/* Nothing failed: this was a clean run again. */
			if (!is_expected(r, &clean)) {
				complain(k, "run without a failure did not succeed: %s",
					 r->detail);
				bad = 1;
			}
			if (bad)
				n_unclean++;
			final = 1;
			break;
		}
		if (is_expected(r, &clean)) {
			n_absorbed++;
		} else {
			int	rc = r->step_rc != 1 && r->start_rc == SASL_CONTINUE ?
			r->step_rc : r->start_rc;

			rc_hist[rc_slot(rc)]++;
			if (rc >= SASL_OK && !bad) {
				complain(k, "the exchange went on (start %d, step %d) "
					 "but differs from the clean run",
					 r->start_rc, r->step_rc);
				bad = 1;
			} else if (rc != SASL_NOMEM && strstr(r->detail, "out of memory") == NULL) {
				n_misreported++;
				for (i = 0; i < nmisreport_seen; i++)
					if (strncmp(misreport_seen[i], r->detail,
						sizeof(misreport_seen[i]) - 1) == 0)
						break;
				if (i == nmisreport_seen && i < 8) {
					snprintf(misreport_seen[nmisreport_seen++],
						 sizeof(misreport_seen[0]), "%s", r->detail);
					complain(k, "misreported as %s: \"%s\"",
						 sasl_errstring(rc, NULL, NULL), r->detail);
				}
				bad = 1;
			}
		}
next:
		if (bad)
			n_unclean++;
		if (opt_verbose)
			printf("# k=%lu: start %d step %d counted %lu exempt %lu leak %lu%s\n",
			       k, r->start_rc, r->step_rc, r->counted, r->exempt,
			       r->leak_blocks, bad ? " UNCLEAN" : "");
	}
	if (opt_challenge != NULL)
		write_back(before.data, before.len, &before.st);

	printf("# failure points: k=%lu..%lu of %lu (+%lu allocations inside "
	       "json_loadb %s)\n", first, final ? k - 1 : last, points,
	       exempt, opt_jansson ? "failed too" : "exempt");
	if (!final && last == MAX_K) {
		printf("alloc-fail: no run completed without a failure up to k=%lu\n",
		       last);
		n_unclean++;
	}
	for (other = 0, i = 0; i < 32; i++)
		if (i != rc_slot(SASL_NOMEM) && i != rc_slot(SASL_FAIL)
		    && i != rc_slot(SASL_TRYAGAIN) && i != rc_slot(SASL_BADPARAM))
			other += rc_hist[i];
	printf("# results: NOMEM %lu, FAIL %lu, TRYAGAIN %lu, BADPARAM %lu, "
	       "other %lu, absorbed (exchange still correct) %lu, crashed %lu%s\n",
	       rc_hist[rc_slot(SASL_NOMEM)], rc_hist[rc_slot(SASL_FAIL)],
	       rc_hist[rc_slot(SASL_TRYAGAIN)], rc_hist[rc_slot(SASL_BADPARAM)],
	       other, n_absorbed, n_crash + n_crash_jansson,
	       final ? ", then one run with no failure left" : "");
	if (opt_refresh)
		printf("# rotated grants lost (issued by the endpoint, not stored): "
		       "%lu%s%s%s\n", n_lost, n_lost ? " at k=" : "", lost_ks,
		       opt_stats ? "" : " (not measured: no -s)");
	printf("alloc-fail: runs %lu, unclean %lu, crashes %lu, crashes in "
	       "jansson %lu, leaks %lu, file damaged %lu, mode/owner %lu, "
	       "leftovers %lu, misreported %lu, secrets in messages %lu, "
	       "multi-line %lu, lost grants %lu\n", n_runs, n_unclean, n_crash,
	       n_crash_jansson, n_leak, n_damaged, n_mode, n_leftover,
	       n_misreported, n_secret, n_multiline, n_lost);
	rmdir(plugindir);
	return (n_unclean == 0 ? 0 : 1);
}
