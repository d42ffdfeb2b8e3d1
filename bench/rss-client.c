/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	rss-client 1
 * SUMMARY
 *	a bare libsasl2 client that reports its memory (bench/run p4)
 * SYNOPSIS
 *	rss-client [-t host:port] -p plugindir -m mech -u user -w password
 * DESCRIPTION
 *	Stands for a host such as Postfix's smtp: libsasl2, libssl and
 *	libcrypto are mapped and OpenSSL is initialised before anything
 *	else.  Then it prints what the process holds (base_*), initialises
 *	libsasl2 with only plugindir in its plugin path, runs one client
 *	exchange (sasl_client_new, sasl_client_start, sasl_dispose: with an
 *	expired token file, a refresh), and prints, while libsasl2 and its
 *	plugins are still loaded:
 *
 *	    loaded_private_dirty_kib: N	(after sasl_client_init: plugins loaded)
 *	    result: RESULT	(what sasl_client_start returned)
 *	    rss_kib: N		(VmRSS from /proc/self/status)
 *	    private_dirty_kib: N	(Private_Dirty, /proc/self/smaps_rollup)
 *	    libs: N		(shared objects mapped)
 *
 *	With -t, the host has also done one TLS handshake (certificate not
 *	checked) with host:port before base_*, as Postfix's smtp has done
 *	STARTTLS with the relay before it authenticates: OpenSSL's caches of
 *	fetched algorithms are then the host's, not the plugin's.
 *
 *	The difference to base_private_dirty_kib and base_libs is what
 *	loading the plugins and the exchange added: memory of this process
 *	alone, as opposed to read-only library pages shared with every
 *	other process.
 *
 *	Exit status 0 when the exchange started (SASL_OK or SASL_CONTINUE).
 *--*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sasl/sasl.h>

typedef int (*cb_ft)(void);
#define CB(f) ((cb_ft)(void (*)(void))(f))

static const char *opt_user, *opt_pass;
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
cb_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= SASL_LOG_WARN)
		fprintf(stderr, "log: %d %s\n", level, msg);
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

/* rss_kib - VmRSS of this process */
static long
rss_kib(void)
{
	char	line[256];
	long	kib = -1;
	FILE	*f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* handshake - one TLS client handshake with hostport, as a TLS host does */
static int
handshake(const char *hostport)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO	*b = NULL;
	SSL	*ssl;
	int	ok = 0;

	if (ctx != NULL && (b = BIO_new_ssl_connect(ctx)) != NULL &&
	    BIO_get_ssl(b, &ssl) == 1 && BIO_set_conn_hostname(b, hostport) == 1)
		ok = BIO_do_handshake(b) == 1;
	BIO_free_all(b);
	SSL_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* private_dirty_kib - Private_Dirty of this process (all mappings) */
static long
private_dirty_kib(void)
{
	char	line[256];
	long	kib = -1;
	FILE	*f;

	if ((f = fopen("/proc/self/smaps_rollup", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Private_Dirty:", 14) == 0)
			kib = strtol(line + 14, NULL, 10);
	fclose(f);
	return kib;
}

/* libs - how many distinct shared objects are mapped */
static int
libs(void)
{
	char	line[4096], seen[256][256];
	int	n = 0, i;
	char	*p;
	FILE	*f;

	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = 0;
		if ((p = strchr(line, '/')) == NULL || strstr(p, ".so") == NULL)
			continue;
		for (i = 0; i < n && strcmp(seen[i], p) != 0; i++)
			;
		if (i == n && n < 256)
			snprintf(seen[n++], sizeof(seen[0]), "%s", p);
	}
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	static sasl_callback_t cb[] = {
		{SASL_CB_LOG, CB(cb_log), NULL},
		{SASL_CB_AUTHNAME, CB(cb_simple), NULL},
		{SASL_CB_PASS, CB(cb_pass), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	const char *plugindir = NULL, *mech = NULL, *out = NULL, *used = NULL;
	const char *tls_peer = NULL;
	sasl_interact_t *prompts = NULL;
	sasl_conn_t *conn;
	unsigned outlen = 0;
	int	ch, rc;

	while ((ch = getopt(argc, argv, "m:p:t:u:w:")) != -1) {
		switch (ch) {
		case 't': tls_peer = optarg; break;
		case 'm': mech = optarg; break;
		case 'p': plugindir = optarg; break;
		case 'u': opt_user = optarg; break;
		case 'w': opt_pass = optarg; break;
		default:
			fprintf(stderr, "usage: rss-client [-t host:port] -p plugindir "
			    "-m mech -u user -w password\n");
			return 2;
		}
	}
	if (plugindir == NULL || mech == NULL || opt_user == NULL ||
	    opt_pass == NULL) {
		fprintf(stderr, "rss-client: -p, -m, -u and -w are required\n");
		return 2;
	}
	if ((secret = malloc(sizeof(*secret) + strlen(opt_pass) + 1)) == NULL)
		return 1;
	secret->len = strlen(opt_pass);
	memcpy(secret->data, opt_pass, secret->len + 1);
	/*
	 * A host like Postfix's smtp: OpenSSL mapped and initialised, and a
	 * client SSL_CTX made once (as tls_client_init() does at start).
	 */
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
	SSL_CTX_free(SSL_CTX_new(TLS_client_method()));
	if (tls_peer != NULL && handshake(tls_peer) < 0) {
		printf("result: no TLS handshake with %s\n", tls_peer);
		return 1;
	}
	printf("base_private_dirty_kib: %ld\n", private_dirty_kib());
	printf("base_libs: %d\n", libs());
	sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)plugindir);
	if ((rc = sasl_client_init(NULL)) != SASL_OK) {
		printf("result: init %s\n", sasl_errstring(rc, NULL, NULL));
		return 1;
	}
	printf("loaded_private_dirty_kib: %ld\n", private_dirty_kib());
	if ((rc = sasl_client_new("smtp", "localhost", NULL, NULL, cb, 0,
	    &conn)) != SASL_OK) {
		printf("result: new %s\n", sasl_errstring(rc, NULL, NULL));
		return 1;
	}
	rc = sasl_client_start(conn, mech, &prompts, &out, &outlen, &used);
	printf("result: %s\n", sasl_errstring(rc, NULL, NULL));
	sasl_dispose(&conn);
	printf("rss_kib: %ld\n", rss_kib());
	printf("private_dirty_kib: %ld\n", private_dirty_kib());
	printf("libs: %d\n", libs());
	fflush(stdout);
	sasl_client_done();
	free(secret);
	return rc == SASL_OK || rc == SASL_CONTINUE ? 0 : 1;
}
