/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	host-integrity 1
 * SUMMARY
 *	a host that uses jansson and libcurl itself loads the plugin: nothing is left behind
 * SYNOPSIS
 *	host-integrity [-d] -p plugindir -u user -I imap-port
 *		[-U https-url -c ca-file] [-r refreshed-token-file]
 *		token-file...
 * DESCRIPTION
 *	A program in the role of a mail client that the plugin runs in:
 *
 *	Before: it installs a handler for SIGUSR1 and SIGALRM, blocks
 *	SIGUSR2, and records every signal's disposition (sigaction) and the
 *	signal mask.  It installs its own jansson allocator (with -d: not
 *	yet; jansson keeps malloc/free) that counts, and that puts a header
 *	in front of each block, so a block freed by the wrong allocator is
 *	caught (a foreign free is counted; a block of ours given to free(3)
 *	is an invalid free under ASan and valgrind).  It parses a JSON
 *	document and keeps it.  It calls curl_global_init() and fetches a
 *	file:// URL and, with -U, an HTTPS URL on loopback (CA file -c)
 *	with one easy handle that it keeps.
 *
 *	Then: libsasl2 loads the plugins in plugindir (sasl_set_path,
 *	sasl_client_init), and each token file authenticates user with
 *	XOAUTH2 at Dovecot's IMAP port on 127.0.0.1 (AUTHENTICATE; the
 *	server's error challenge is answered as the mechanism says): the
 *	server must say OK.  With -r, that file's expiry must have moved
 *	(the plugin refreshed it).  sasl_client_done() unloads the plugin.
 *
 *	After: the kept document is freed, and jansson parses, dumps and
 *	frees again: with the host's allocator still installed and its
 *	counts moved (with -d: jansson's default is still in place; then the
 *	host installs its allocator and uses it).  Every block the host's
 *	allocator handed out came back to it.  libcurl fetches the same URLs
 *	with the kept handle and with a new one.  Every signal disposition
 *	and the signal mask are as recorded.
 *
 *	Prints "ok N - what" / "not ok N - what" lines and "1..N" (TAP);
 *	exits 1 if any check failed, 2 on a usage error.
 *--*/
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

typedef int (*cb_ft)(void);
#define CB(f) ((cb_ft)(void (*)(void))(f))

static int tap_n, tap_failed;

/* check - one TAP line */
static int
check(int cond, const char *what)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
	fflush(stdout);
	return cond;
}

/* ---------------------------------------------------- the host's jansson allocator */

#define MAGIC	0x686f7374u	/* "host" */
#define HDR	16

static unsigned long host_allocs, host_frees, host_foreign;

/* host_malloc - a header, then the block */
static void *
host_malloc(size_t n)
{
	unsigned char *p = malloc(n + HDR);
	unsigned magic = MAGIC;

	if (p == NULL)
		return NULL;
	memcpy(p, &magic, sizeof(magic));
	host_allocs++;
	return p + HDR;
}

/* host_free - only blocks with our header are ours */
static void
host_free(void *q)
{
	unsigned char *p;
	unsigned magic;

	if (q == NULL)
		return;
	p = (unsigned char *)q - HDR;
	memcpy(&magic, p, sizeof(magic));
	if (magic != MAGIC) {
		host_foreign++;
		return;		/* not ours: leak it rather than corrupt */
	}
	memset(p, 0, sizeof(magic));
	host_frees++;
	free(p);
}

/* alloc_is - jansson's allocator is m and f */
static int
alloc_is(json_malloc_t m, json_free_t f)
{
	json_malloc_t m2;
	json_free_t f2;

	json_get_alloc_funcs(&m2, &f2);
	return m2 == m && f2 == f;
}

/* use_jansson - parse, dump, free: 0 if all went right */
static int
use_jansson(void)
{
	static const char doc[] = "{\"a\": [1, 2, {\"b\": \"some text here\"}]}";
	json_error_t je;
	json_t *root;
	char   *dump;
	int	rc;

	if ((root = json_loads(doc, 0, &je)) == NULL)
		return -1;
	dump = json_dumps(root, JSON_COMPACT);
	rc = dump != NULL && strcmp(dump, "{\"a\":[1,2,{\"b\":\"some text here\"}]}")
	    == 0 ? 0 : -1;
	if (dump != NULL) {
		json_malloc_t m;
		json_free_t f;

		/* json_dumps() allocates with jansson's allocator. */
		json_get_alloc_funcs(&m, &f);
		f(dump);
	}
	json_decref(root);
	return rc;
}

/* --------------------------------------------------------------- signals */

struct sigsnap {
	int	rc[NSIG];
	struct sigaction act[NSIG];
	sigset_t mask;
};

/* snap - every signal's disposition and the mask */
static void
snap(struct sigsnap *s)
{
	int	i;

	memset(s, 0, sizeof(*s));
	for (i = 1; i < NSIG; i++)
		s->rc[i] = sigaction(i, NULL, &s->act[i]);
	sigprocmask(SIG_SETMASK, NULL, &s->mask);
}

/* same_set - two signal sets hold the same signals */
static int
same_set(const sigset_t *a, const sigset_t *b)
{
	int	i;

	for (i = 1; i < NSIG; i++)
		if (sigismember(a, i) != sigismember(b, i))
			return 0;
	return 1;
}

/* snap_diff - how many signals differ (names the first on stdout) */
static int
snap_diff(const struct sigsnap *a, const struct sigsnap *b)
{
	int	i, n = 0;

	for (i = 1; i < NSIG; i++) {
		if (a->rc[i] != b->rc[i] || (a->rc[i] == 0 &&
		    (a->act[i].sa_handler != b->act[i].sa_handler ||
		    a->act[i].sa_flags != b->act[i].sa_flags ||
		    !same_set(&a->act[i].sa_mask, &b->act[i].sa_mask)))) {
			if (n++ == 0)
				printf("# signal %d (%s) changed\n", i, strsignal(i));
		}
	}
	if (!same_set(&a->mask, &b->mask)) {
		printf("# the signal mask changed\n");
		n++;
	}
	return n;
}

static void
on_signal(int sig)
{
	(void)sig;
}

/* ---------------------------------------------------------------- libcurl */

struct sink {
	char	data[65536];
	size_t	len;
};

static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t	len = size * n;

	if (len > sizeof(s->data) - 1 - s->len)
		return 0;
	memcpy(s->data + s->len, p, len);
	s->len += len;
	s->data[s->len] = 0;
	return len;
}

/* fetch - one GET with h; the body, or NULL */
static const char *
fetch(CURL *h, const char *url, const char *ca, struct sink *s)
{
	s->len = 0;
	s->data[0] = 0;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	if (ca != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	return curl_easy_perform(h) == CURLE_OK ? s->data : NULL;
}

static const char *opt_file_url, *opt_https_url, *opt_ca;

/* use_curl - the file:// and the HTTPS URL with h: 0 if both worked */
static int
use_curl(CURL *h, const char *when)
{
	static struct sink s;
	const char *body;
	char	what[160];
	int	rc = 0;

	body = fetch(h, opt_file_url, NULL, &s);
	snprintf(what, sizeof(what), "%s: libcurl reads a file:// URL", when);
	rc |= !check(body != NULL && strcmp(body, "hello from the host\n") == 0, what);
	if (opt_https_url != NULL) {
		body = fetch(h, opt_https_url, opt_ca, &s);
		snprintf(what, sizeof(what), "%s: libcurl GETs the loopback HTTPS URL "
		    "(TLS verified)", when);
		rc |= !check(body != NULL && strstr(body, "token_endpoint") != NULL,
		    what);
	}
	return rc;
}

/* ------------------------------------------------------ SASL and IMAP */

static const char *opt_user;
static sasl_secret_t *secret;

static int
cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
	(void)ctx;
	(void)id;
	*result = opt_user;
	if (len)
		*len = (unsigned)strlen(opt_user);
	return SASL_OK;
}

static int
cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	(void)conn;
	(void)ctx;
	(void)id;
	*psecret = secret;
	return SASL_OK;
}

/* read_line - one line from the server (CRLF cut); -1 on error */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t	n = 0;
	char	c;

	while (n + 1 < size) {
		if (recv(fd, &c, 1, 0) != 1)
			return -1;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

/* send_all - the whole string; -1 on error */
static int
send_all(int fd, const char *s, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = send(fd, s, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* imap_connect - a connection to 127.0.0.1:port with its greeting read */
static int
imap_connect(int port)
{
	struct sockaddr_in sin;
	struct timeval tv = {20, 0};
	char	line[1024];
	int	fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0
	    || read_line(fd, line, sizeof(line)) < 0 || strncmp(line, "* OK", 4)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* authenticate - XOAUTH2 through the plugin at the IMAP server: 0 if OK */
static int
authenticate(int port, const char *token_file, char *why, size_t whysize)
{
	static char line[65536], enc[65536];
	sasl_callback_t cb[] = {
		{SASL_CB_AUTHNAME, CB(cb_simple), NULL},
		{SASL_CB_PASS, CB(cb_pass), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	sasl_conn_t *conn = NULL;
	const char *out = NULL, *mech = NULL;
	unsigned outlen = 0, enclen = 0, declen;
	int	fd = -1, rc, result = -1;

	free(secret);
	secret = malloc(sizeof(*secret) + strlen(token_file) + 1);
	secret->len = strlen(token_file);
	memcpy(secret->data, token_file, secret->len + 1);
	snprintf(why, whysize, "?");
	if ((rc = sasl_client_new("imap", "localhost", NULL, NULL, cb, 0, &conn))
	    != SASL_OK) {
		snprintf(why, whysize, "sasl_client_new: %s", sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	rc = sasl_client_start(conn, "XOAUTH2", NULL, &out, &outlen, &mech);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		snprintf(why, whysize, "sasl_client_start: %s", sasl_errdetail(conn));
		goto out;
	}
	if (sasl_encode64(out, outlen, enc, sizeof(enc), &enclen) != SASL_OK)
		goto out;
	if ((fd = imap_connect(port)) < 0) {
		snprintf(why, whysize, "no IMAP server at 127.0.0.1:%d", port);
		goto out;
	}
	snprintf(line, sizeof(line), "a1 AUTHENTICATE XOAUTH2 %s\r\n", enc);
	if (send_all(fd, line, strlen(line)) < 0 || read_line(fd, line, sizeof(line)) < 0)
		goto out;
	if (strncmp(line, "+ ", 2) == 0) {
		/* The server's error challenge: the mechanism answers, it fails. */
		if (sasl_decode64(line + 2, (unsigned)strlen(line + 2), enc,
		    sizeof(enc), &declen) == SASL_OK)
			(void)sasl_client_step(conn, enc, declen, NULL, &out, &outlen);
		if (send_all(fd, "\r\n", 2) < 0 || read_line(fd, line, sizeof(line)) < 0)
			goto out;
	}
	snprintf(why, whysize, "server: %.200s", line);
	if (strncmp(line, "a1 OK", 5) == 0)
		result = 0;
	(void)send_all(fd, "a2 LOGOUT\r\n", 11);
out:
	if (fd >= 0)
		close(fd);
	sasl_dispose(&conn);
	return result;
}

/* expiry_of - the token file's expiry, read with the host's jansson */
static long long
expiry_of(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL);
	json_t *v = json_object_get(root, "expiry");
	long long e = -1;

	if (json_is_string(v))
		e = atoll(json_string_value(v));
	else if (json_is_integer(v))
		e = json_integer_value(v);
	json_decref(root);
	return e;
}

int
main(int argc, char **argv)
{
	const char *plugindir = NULL, *refreshed = NULL;
	char	file_url[600], tmpl[] = "/tmp/host-integrity.XXXXXX", what[400], why[300];
	struct sigsnap before, after;
	struct sigaction sa;
	sigset_t block;
	unsigned long allocs_mid, allocs_end;
	long long exp_before = -1;
	json_error_t je;
	json_t *kept;
	CURL   *h, *h2;
	int	ch, port = 0, late = 0, fd, rc, i;

	while ((ch = getopt(argc, argv, "c:dI:p:r:u:U:")) != -1) {
		switch (ch) {
		case 'c': opt_ca = optarg; break;
		case 'd': late = 1; break;
		case 'I': port = atoi(optarg); break;
		case 'p': plugindir = optarg; break;
		case 'r': refreshed = optarg; break;
		case 'u': opt_user = optarg; break;
		case 'U': opt_https_url = optarg; break;
		default:
			fprintf(stderr, "usage: host-integrity [-d] -p plugindir -u user "
			    "-I imap-port [-U url -c ca] [-r file] token-file...\n");
			return 2;
		}
	}
	if (plugindir == NULL || opt_user == NULL || port <= 0 || optind >= argc) {
		fprintf(stderr, "host-integrity: -p, -u, -I and a token file are required\n");
		return 2;
	}

	/* ---- before ---- */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	snap(&before);

	if (!late)
		json_set_alloc_funcs(host_malloc, host_free);
	kept = json_loads("{\"kept\": \"across the plugin's life\"}", 0, &je);
	check(kept != NULL && use_jansson() == 0 && (late || host_allocs > 0),
	    late ? "before: jansson works with its default allocator" :
	    "before: jansson works with the host's allocator");

	if ((fd = mkstemp(tmpl)) < 0 || write(fd, "hello from the host\n", 20) != 20) {
		perror("host-integrity: temp file");
		return 2;
	}
	close(fd);
	snprintf(file_url, sizeof(file_url), "file://%s", tmpl);
	opt_file_url = file_url;
	check(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "before: curl_global_init");
	h = curl_easy_init();
	use_curl(h, "before");
	if (refreshed != NULL)
		exp_before = expiry_of(refreshed);

	/* ---- the plugin ---- */
	allocs_mid = host_allocs;
	sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)plugindir);
	rc = sasl_client_init(NULL);
	check(rc == SASL_OK, "libsasl2 loads the plugins");
	for (i = optind; i < argc; i++) {
		rc = authenticate(port, argv[i], why, sizeof(why));
		snprintf(what, sizeof(what), "XOAUTH2 through the plugin with %s: "
		    "the IMAP server says OK (%s)", argv[i], why);
		check(rc == 0, what);
	}
	if (refreshed != NULL) {
		long long e = expiry_of(refreshed);

		snprintf(what, sizeof(what), "the plugin refreshed %s (expiry %lld -> %lld)",
		    refreshed, exp_before, e);
		check(e > exp_before, what);
	}
	if (!late) {
		snprintf(what, sizeof(what), "the plugin's JSON went through the "
		    "host's allocator (%lu blocks)", host_allocs - allocs_mid);
		check(host_allocs > allocs_mid, what);
	}
	sasl_client_done();
	free(secret);

	/* ---- after ---- */
	json_decref(kept);
	if (late) {
		check(alloc_is(malloc, free), "after: jansson's allocator is "
		    "still its default (malloc/free)");
		check(use_jansson() == 0, "after: jansson works with its default allocator");
		json_set_alloc_funcs(host_malloc, host_free);
	}
	check(alloc_is(host_malloc, host_free), "after: the host's jansson allocator is "
	    "the one installed");
	allocs_end = host_allocs;
	check(use_jansson() == 0 && host_allocs > allocs_end,
	    "after: jansson parses, dumps and frees with the host's allocator "
	    "(its count moved)");
	snprintf(what, sizeof(what), "after: every block the host's allocator "
	    "gave out came back to it (%lu allocated, %lu freed, %lu foreign frees)",
	    host_allocs, host_frees, host_foreign);
	check(host_allocs == host_frees && host_foreign == 0, what);

	use_curl(h, "after, the kept handle");
	h2 = curl_easy_init();
	use_curl(h2, "after, a new handle");
	curl_easy_cleanup(h2);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	unlink(tmpl);

	snap(&after);
	check(snap_diff(&before, &after) == 0, "after: every signal's disposition "
	    "(sigaction) and the signal mask are as before");
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
