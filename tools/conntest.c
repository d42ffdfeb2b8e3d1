/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	conntest 3
 * SUMMARY
 *	sasl-oauth2 test: log in to an SMTP or IMAP server the way Postfix does
 * DESCRIPTION
 *	cmd_test() connects, speaks TLS through OpenSSL (STARTTLS, or
 *	implicit TLS on ports 465 and 993 or with --tls implicit) with the
 *	server certificate verified by the policy every request of plugin
 *	and tool uses (lib/oa2_tls.c: --ca-file or the system bundle,
 *	partial chains accepted, the host name or IP address checked against
 *	the subjectAltName), reads the server's
 *	capabilities (EHLO / CAPABILITY), then authenticates through
 *	libsasl2 and whatever plugin it loads (--plugin-dir, else SASL_PATH,
 *	else libsasl2's directory): the SASL password is the token file's
 *	path, exactly what Postfix hands the plugin.  Each step is printed
 *	on standard output; the last line is the verdict: "verdict: works"
 *	or "verdict: FAILED: what; fix: what to do".
 *
 *	When the server refuses the token, the plugin marks it stale; the
 *	test then refreshes it (oa2_access_token) and tries once more, as
 *	Postfix would: a dead refresh token shows up as invalid_grant, a
 *	second refusal of a fresh token as a user name or scope problem.
 * SECURITY
 *	The AUTH lines are never printed, only their length.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

/* Application-specific. */
#include "oa2_explain.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tls.h"
#include "oa2_tokfile.h"
#include "sao.h"

#define LINE_MAX_ 16384

enum proto { P_SMTP, P_IMAP };

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct oa2_tls_peer peer;	/* what the handshake ran into */
	int timeout;
	char in[LINE_MAX_];
	size_t inlen;
};

struct test {
	enum proto proto;
	char host[256];
	unsigned port;
	int implicit;
	const char *mech;
	const char *user;
	const char *ca_file;
	const char *plugin_dir;
	const char *file;
	int timeout;
	int step;
	/* results */
	char caps[4096];	/* AUTH mechanisms the server offers */
	int sasl_ir;
	char final[512];	/* the server's last reply */
	char detail[1024];	/* sasl_errdetail */
	const char *code;	/* explain code of the failure */
	char verdict[1024];
	int ex;
};

static char cb_user[1024];
static sasl_secret_t *cb_secret;

/* step - print one numbered step */
static void
step(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
step(struct test *t, const char *fmt, ...)
{
	va_list ap;

	printf("  [%d] ", ++t->step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* fail - record the failure verdict; returns -1 */
static int
fail(struct test *t, int ex, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
fail(struct test *t, int ex, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->verdict, sizeof(t->verdict), fmt, ap);
	va_end(ap);
	t->code = code;
	t->ex = ex;
	return -1;
}

/* ------------------------------------------------------------ connection */

static int
conn_connect(struct test *t, struct conn *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char port[16], host[256];
	int r, fd = -1;

	snprintf(port, sizeof(port), "%u", t->port);
	snprintf(host, sizeof(host), "%s", t->host);
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		return fail(t, EX_NOHOST, "dns", "cannot resolve %s: %s", host,
		    gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd p;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		p.fd = fd;
		p.events = POLLOUT;
		if (errno == EINPROGRESS && poll(&p, 1, t->timeout * 1000) == 1) {
			int e = 0;
			socklen_t l = sizeof(e);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
			if (e == 0)
				break;
			errno = e;
		} else if (errno == EINPROGRESS)
			errno = ETIMEDOUT;
		r = errno;
		close(fd);
		fd = -1;
		errno = r;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(t, EX_UNAVAILABLE, "connect", "cannot connect to %s "
		    "port %u: %s", host, t->port, strerror(errno));
	c->fd = fd;
	return 0;
}

/* wait_io - poll for fd readiness; 0 on timeout */
static int
wait_io(struct conn *c, short ev)
{
	struct pollfd p = {.fd = c->fd, .events = ev};

	return poll(&p, 1, c->timeout * 1000) > 0;
}

static int
conn_write(struct conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, s, (int)n);

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);

				if ((e == SSL_ERROR_WANT_READ && wait_io(c, POLLIN)) ||
				    (e == SSL_ERROR_WANT_WRITE && wait_io(c, POLLOUT)))
					continue;
				return -1;
			}
			w = r;
		} else {
			w = write(c->fd, s, n);
			if (w < 0 && errno == EAGAIN && wait_io(c, POLLOUT))
				continue;
			if (w <= 0)
				return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return conn_write(c, buf, (size_t)n);
}

/* conn_line - one line without CRLF into buf; -1 on EOF/timeout */
static int
conn_line(struct conn *c, char *buf, size_t size)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		ssize_t r;

		if (nl != NULL) {
			size_t n = (size_t)(nl - c->in);

			snprintf(buf, size, "%.*s", (int)(n > 0 && c->in[n - 1] == '\r' ?
			    n - 1 : n), c->in);
			memmove(c->in, nl + 1, c->inlen - n - 1);
			c->inlen -= n + 1;
			return 0;
		}
		if (c->inlen == sizeof(c->in))
			return -1;
		if (c->ssl != NULL) {
			int s = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(sizeof(c->in) - c->inlen));

			if (s <= 0) {
				int e = SSL_get_error(c->ssl, s);

				if ((e == SSL_ERROR_WANT_READ && wait_io(c, POLLIN)) ||
				    (e == SSL_ERROR_WANT_WRITE && wait_io(c, POLLOUT)))
					continue;
				return -1;
			}
			r = s;
		} else {
			if (!wait_io(c, POLLIN))
				return -1;
			r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0)
				return -1;
		}
		c->inlen += (size_t)r;
	}
}

/* conn_tls - TLS handshake, verified by the shared policy (lib/oa2_tls.c) */
static int
conn_tls(struct test *t, struct conn *c)
{
	char subject[256] = "", issuer[256] = "";
	struct oa2_http_opts o = {0};
	struct oa2_error err;
	unsigned char b[16];
	X509 *cert;
	int r;

	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return fail(t, EX_SOFTWARE, "internal", "OpenSSL: cannot make a context");
	o.ca_file = t->ca_file;
	if (oa2_tls_ctx_setup(c->ctx, &o, t->host, &c->peer, &err) != OA2_OK)
		return fail(t, EX_CONFIG, err.code, "%s", err.msg);
	if ((c->ssl = SSL_new(c->ctx)) == NULL)
		return fail(t, EX_SOFTWARE, "internal", "OpenSSL: SSL_new failed");
	SSL_set_fd(c->ssl, c->fd);
	if (inet_pton(AF_INET, t->host, b) != 1 && inet_pton(AF_INET6, t->host, b) != 1)
		SSL_set_tlsext_host_name(c->ssl, t->host);
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		r = SSL_get_error(c->ssl, r);
		if ((r == SSL_ERROR_WANT_READ && wait_io(c, POLLIN)) ||
		    (r == SSL_ERROR_WANT_WRITE && wait_io(c, POLLOUT)))
			continue;
		if (oa2_tls_refused(&c->peer)) {
			oa2_tls_refusal(&c->peer, t->host, "give the CA with "
			    "--ca-file, or check the host name", &err);
			return fail(t, EX_PROTOCOL, "starttls", "%s", err.msg);
		}
		return fail(t, EX_PROTOCOL, "starttls", "TLS handshake failed: %s",
		    ERR_reason_error_string(ERR_peek_last_error()) ?
		    ERR_reason_error_string(ERR_peek_last_error()) : "closed");
	}
	if ((cert = SSL_get1_peer_certificate(c->ssl)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
		X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
		X509_free(cert);
	}
	step(t, "TLS: %s, %s; certificate verified for %s (subject %s, issuer %s)",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), t->host,
	    subject, issuer);
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

/* ------------------------------------------------------------ protocols */

/* smtp_reply - read a (multi-line) reply; code, last line text, caps */
static int
smtp_reply(struct test *t, struct conn *c, char *last, size_t size, int ehlo)
{
	char line[LINE_MAX_];

	for (;;) {
		if (conn_line(c, line, sizeof(line)) < 0)
			return fail(t, EX_PROTOCOL, "protocol", "the server closed the "
			    "connection or did not answer in %d s%s", t->timeout,
			    t->implicit ? "" : " (a TLS port? add --tls implicit)");
		if (strlen(line) < 3)
			return fail(t, EX_PROTOCOL, "protocol", "not an SMTP reply: "
			    "\"%.60s\"", line);
		if (ehlo && strlen(line) > 4) {
			const char *kw = line + 4;

			if (strncasecmp(kw, "AUTH ", 5) == 0 || strncasecmp(kw, "AUTH=", 5) == 0)
				snprintf(t->caps, sizeof(t->caps), "%s", kw + 5);
			if (strncasecmp(kw, "STARTTLS", 8) == 0)
				t->sasl_ir |= 2;
		}
		if (line[3] != '-') {
			snprintf(last, size, "%s", line);
			return atoi(line);
		}
	}
}

/* imap_until - read until the tagged reply; collects CAPABILITY */
static int
imap_until(struct test *t, struct conn *c, const char *tag, char *last,
    size_t size)
{
	char line[LINE_MAX_];
	size_t tl = strlen(tag);

	for (;;) {
		const char *cap;

		if (conn_line(c, line, sizeof(line)) < 0)
			return fail(t, EX_PROTOCOL, "protocol", "the server closed the "
			    "connection or did not answer in %d s", t->timeout);
		if ((cap = strcasestr(line, "CAPABILITY ")) != NULL &&
		    (line[0] == '*' || strncmp(line, tag, tl) == 0)) {
			char *p, *save, buf[LINE_MAX_];
			size_t n = 0;

			snprintf(buf, sizeof(buf), "%s", cap + 11);
			buf[strcspn(buf, "]")] = 0;
			t->caps[0] = 0;
			t->sasl_ir &= ~1;
			for (p = strtok_r(buf, " ", &save); p != NULL;
			    p = strtok_r(NULL, " ", &save)) {
				if (strncasecmp(p, "AUTH=", 5) == 0 &&
				    n + strlen(p) + 1 < sizeof(t->caps))
					n += (size_t)snprintf(t->caps + n,
					    sizeof(t->caps) - n, "%s%s", n ? " " : "", p + 5);
				if (strcasecmp(p, "SASL-IR") == 0)
					t->sasl_ir |= 1;
				if (strcasecmp(p, "STARTTLS") == 0)
					t->sasl_ir |= 2;
			}
		}
		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ') {
			snprintf(last, size, "%s", line + tl + 1);
			return strncasecmp(line + tl + 1, "OK", 2) == 0 ? 0 : 1;
		}
		if (line[0] == '+' && tag[0] == 0) {
			snprintf(last, size, "%s", line);
			return 2;
		}
	}
}

/* offers - the server's AUTH list holds mech */
static int
offers(const struct test *t, const char *mech)
{
	char buf[4096], *p, *save;

	snprintf(buf, sizeof(buf), "%s", t->caps);
	for (p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (strcasecmp(p, mech) == 0)
			return 1;
	return 0;
}

/* greet_and_tls - greeting, capabilities, STARTTLS, capabilities again */
static int
greet_and_tls(struct test *t, struct conn *c)
{
	char last[1024];
	int r;

	if (t->implicit && conn_tls(t, c) < 0)
		return -1;
	if (t->proto == P_SMTP) {
		if ((r = smtp_reply(t, c, last, sizeof(last), 0)) < 0)
			return -1;
		step(t, "greeting: %.200s", last);
		if (r != 220)
			return fail(t, EX_UNAVAILABLE, "connect", "the server does not "
			    "accept mail now: %.200s", last);
		if (conn_printf(c, "EHLO localhost\r\n") < 0 ||
		    (r = smtp_reply(t, c, last, sizeof(last), 1)) < 0)
			return -1;
		if (r != 250)
			return fail(t, EX_PROTOCOL, "protocol", "EHLO refused: %.200s",
			    last);
		if (!t->implicit) {
			if (!(t->sasl_ir & 2))
				return fail(t, EX_PROTOCOL, "starttls", "the server offers "
				    "no STARTTLS on port %u: use 587 (STARTTLS) or 465 "
				    "(TLS)", t->port);
			step(t, "EHLO: STARTTLS offered");
			if (conn_printf(c, "STARTTLS\r\n") < 0 ||
			    (r = smtp_reply(t, c, last, sizeof(last), 0)) < 0)
				return -1;
			if (r != 220)
				return fail(t, EX_PROTOCOL, "starttls", "STARTTLS "
				    "refused: %.200s", last);
			c->inlen = 0;
			if (conn_tls(t, c) < 0)
				return -1;
			t->caps[0] = 0;
			if (conn_printf(c, "EHLO localhost\r\n") < 0 ||
			    (r = smtp_reply(t, c, last, sizeof(last), 1)) < 0)
				return -1;
			if (r != 250)
				return fail(t, EX_PROTOCOL, "protocol", "EHLO refused: "
				    "%.200s", last);
		}
		step(t, "EHLO: AUTH %s", t->caps[0] ? t->caps : "(none)");
		t->sasl_ir = 1;		/* SMTP always allows an initial response */
		return 0;
	}
	/* IMAP */
	if (conn_line(c, last, sizeof(last)) < 0)
		return fail(t, EX_PROTOCOL, "protocol", "no IMAP greeting%s",
		    t->implicit ? "" : " (a TLS port? add --tls implicit)");
	step(t, "greeting: %.200s", last);
	if (strncasecmp(last, "* OK", 4) != 0)
		return fail(t, EX_UNAVAILABLE, "connect", "the server refuses: "
		    "%.200s", last);
	if (conn_printf(c, "a1 CAPABILITY\r\n") < 0 ||
	    imap_until(t, c, "a1", last, sizeof(last)) != 0)
		return t->code ? -1 : fail(t, EX_PROTOCOL, "protocol",
		    "CAPABILITY failed: %.200s", last);
	if (!t->implicit) {
		if (!(t->sasl_ir & 2))
			return fail(t, EX_PROTOCOL, "starttls", "the server offers "
			    "no STARTTLS on port %u: use 993 (TLS)", t->port);
		step(t, "CAPABILITY: STARTTLS offered");
		if (conn_printf(c, "a2 STARTTLS\r\n") < 0 ||
		    imap_until(t, c, "a2", last, sizeof(last)) != 0)
			return t->code ? -1 : fail(t, EX_PROTOCOL, "starttls",
			    "STARTTLS refused: %.200s", last);
		c->inlen = 0;
		if (conn_tls(t, c) < 0)
			return -1;
		if (conn_printf(c, "a3 CAPABILITY\r\n") < 0 ||
		    imap_until(t, c, "a3", last, sizeof(last)) != 0)
			return t->code ? -1 : fail(t, EX_PROTOCOL, "protocol",
			    "CAPABILITY failed: %.200s", last);
	}
	step(t, "CAPABILITY: AUTH=%s%s", t->caps[0] ? t->caps : "(none)",
	    t->sasl_ir & 1 ? ", SASL-IR" : "");
	return 0;
}

/* ------------------------------------------------------------ SASL */

static int
cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
	(void)ctx;
	if (id != SASL_CB_AUTHNAME && id != SASL_CB_USER)
		return SASL_BADPARAM;
	*result = cb_user;
	if (len != NULL)
		*len = (unsigned)strlen(cb_user);
	return SASL_OK;
}

static int
cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	(void)conn;
	(void)ctx;
	if (id != SASL_CB_PASS)
		return SASL_BADPARAM;
	*psecret = cb_secret;
	return SASL_OK;
}

/* cb_getopt - the plugin's options: no mail log line for a test (sasl-oauth2-plugin(8)) */
static int
cb_getopt(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	(void)ctx;
	(void)plugin;
	if (option == NULL || strcmp(option, "sasl_oauth2_mail_log") != 0)
		return SASL_FAIL;
	*result = "no";
	if (len != NULL)
		*len = 2;
	return SASL_OK;
}

/* see_code - the CODE of "(see: sasl-oauth2 explain CODE)" in s */
static const char *
see_code(const char *s)
{
	static char code[64];
	const char *p = strstr(s, "explain ");

	if (p == NULL)
		return NULL;
	snprintf(code, sizeof(code), "%.*s", (int)strcspn(p + 8, ") \t"), p + 8);
	return oa2_explain_find(code) ? code : NULL;
}

/* A callback is stored as int (*)(void) and called with its real type. */
#define CB(f) ((int (*)(void))(void (*)(void))(f))

/* send_b64 - base64 out and send it as a continuation line */
static int
send_b64(struct conn *c, const char *out, unsigned outlen)
{
	char *enc;
	unsigned n, cap = outlen * 4 / 3 + 8;
	int r;

	if ((enc = oa2_malloc(cap)) == NULL)
		return -1;
	if (sasl_encode64(out, outlen, enc, cap, &n) != SASL_OK) {
		oa2_free(enc);
		return -1;
	}
	r = conn_write(c, enc, n) < 0 || conn_write(c, "\r\n", 2) < 0 ? -1 : 0;
	oa2_wipe(enc, n);
	oa2_free(enc);
	return r;
}

/* sasl_auth - AUTH through libsasl2; 0 success, 1 refused, -1 other */
static int
sasl_auth(struct test *t, struct conn *c, const char *mech)
{
	static sasl_callback_t cbs[] = {
		{SASL_CB_AUTHNAME, CB(cb_simple), NULL},
		{SASL_CB_USER, CB(cb_simple), NULL},
		{SASL_CB_PASS, CB(cb_pass), NULL},
		{SASL_CB_GETOPT, CB(cb_getopt), NULL},
		{SASL_CB_LIST_END, NULL, NULL}
	};
	sasl_security_properties_t props = {0};
	sasl_conn_t *sc = NULL;
	sasl_interact_t *interact = NULL;
	const char *out = NULL, *chosen = NULL;
	unsigned outlen = 0;
	char line[LINE_MAX_], *dec = NULL;
	int r, ret = -1;

	if ((r = sasl_client_new(t->proto == P_SMTP ? "smtp" : "imap", t->host,
	    NULL, NULL, cbs, 0, &sc)) != SASL_OK)
		return fail(t, EX_SOFTWARE, "internal", "sasl_client_new: %s",
		    sasl_errstring(r, NULL, NULL));
	props.max_ssf = 0;
	props.security_flags = SASL_SEC_NOANONYMOUS;
	sasl_setprop(sc, SASL_SEC_PROPS, &props);
	r = sasl_client_start(sc, mech, &interact, &out, &outlen, &chosen);
	if (r != SASL_OK && r != SASL_CONTINUE) {
		const char *d = sasl_errdetail(sc);

		snprintf(t->detail, sizeof(t->detail), "%s", d ? d : "");
		if (r == SASL_NOMECH)
			fail(t, EX_CONFIG, "plugin_missing", "libsasl2 has no %s "
			    "mechanism: the plugin is not in its plugin directory",
			    mech);
		else
			fail(t, r == SASL_TRYAGAIN ? EX_TEMPFAIL : EX_NOPERM,
			    see_code(t->detail) ? see_code(t->detail) :
			    r == SASL_BADPARAM ? "token_file" : "internal",
			    "the plugin could not start %s: %s", mech, t->detail);
		goto out;
	}
	step(t, "AUTH %s through libsasl2 and the plugin (initial response "
	    "%u bytes, not shown)", chosen ? chosen : mech, outlen);
	if (t->proto == P_SMTP) {
		if (conn_printf(c, "AUTH %s ", mech) < 0 ||
		    send_b64(c, out, outlen) < 0)
			goto io;
	} else if (t->sasl_ir & 1) {
		if (conn_printf(c, "a4 AUTHENTICATE %s ", mech) < 0 ||
		    send_b64(c, out, outlen) < 0)
			goto io;
	} else {
		if (conn_printf(c, "a4 AUTHENTICATE %s\r\n", mech) < 0 ||
		    conn_line(c, line, sizeof(line)) < 0 || line[0] != '+' ||
		    send_b64(c, out, outlen) < 0)
			goto io;
	}
	for (int rounds = 0; rounds < 10; rounds++) {
		const char *b64;
		unsigned declen;

		if (conn_line(c, line, sizeof(line)) < 0)
			goto io;
		if (t->proto == P_SMTP && strncmp(line, "334", 3) == 0)
			b64 = line[3] == ' ' ? line + 4 : "";
		else if (t->proto == P_IMAP && line[0] == '+')
			b64 = line[1] == ' ' ? line + 2 : "";
		else if (t->proto == P_IMAP && line[0] == '*')
			continue;
		else {
			snprintf(t->final, sizeof(t->final), "%s",
			    t->proto == P_IMAP && strncmp(line, "a4 ", 3) == 0 ?
			    line + 3 : line);
			ret = (t->proto == P_SMTP && strncmp(line, "235", 3) == 0) ||
			    (t->proto == P_IMAP && strncmp(line, "a4 OK", 5) == 0) ?
			    0 : 1;
			break;
		}
		declen = (unsigned)strlen(b64);
		oa2_free(dec);
		if ((dec = oa2_malloc(declen + 1)) == NULL ||
		    sasl_decode64(b64, declen, dec, declen + 1, &declen) != SASL_OK) {
			fail(t, EX_PROTOCOL, "bad_challenge", "the server's challenge "
			    "is not base64");
			goto out;
		}
		step(t, "server challenge: %.*s", (int)(declen > 300 ? 300 : declen),
		    dec);
		r = sasl_client_step(sc, dec, declen, &interact, &out, &outlen);
		if (r != SASL_OK && r != SASL_CONTINUE) {
			if (conn_write(c, "*\r\n", 3) < 0)
				goto io;
			continue;
		}
		if (send_b64(c, out, outlen) < 0)
			goto io;
	}
	{
		const char *d = sasl_errdetail(sc);

		snprintf(t->detail, sizeof(t->detail), "%s", d ? d : "");
	}
	step(t, "server: %.300s", t->final);
	goto out;
io:
	fail(t, EX_PROTOCOL, "protocol", "the connection broke during AUTH");
out:
	oa2_free(dec);
	sasl_dispose(&sc);
	return ret;
}

/* choose_mech - --mech, else XOAUTH2, else OAUTHBEARER among the server's */
static const char *
choose_mech(struct test *t)
{
	if (t->mech != NULL)
		return offers(t, t->mech) ? t->mech : NULL;
	if (offers(t, "XOAUTH2"))
		return "XOAUTH2";
	if (offers(t, "OAUTHBEARER"))
		return "OAUTHBEARER";
	return NULL;
}

/* attempt - one connection and login; 0 works, 1 refused, -1 other */
static int
attempt(struct test *t)
{
	struct conn c = {.fd = -1, .timeout = t->timeout};
	const char *mech;
	char last[512];
	int r;

	t->caps[0] = 0;
	t->sasl_ir = 0;
	if (conn_connect(t, &c) < 0)
		return -1;
	step(t, "connected to %s port %u (%s)", t->host, t->port,
	    t->implicit ? "implicit TLS" : "STARTTLS");
	if (greet_and_tls(t, &c) < 0) {
		conn_close(&c);
		return -1;
	}
	if ((mech = choose_mech(t)) == NULL) {
		conn_close(&c);
		return fail(t, EX_UNAVAILABLE, "no_mechanism", "the server offers "
		    "no %s after TLS (it offers: %s)", t->mech ? t->mech :
		    "XOAUTH2 or OAUTHBEARER", t->caps[0] ? t->caps : "nothing");
	}
	r = sasl_auth(t, &c, mech);
	if (r == 0) {
		if (t->proto == P_SMTP)
			conn_printf(&c, "QUIT\r\n");
		else if (conn_printf(&c, "a5 LOGOUT\r\n") == 0)
			imap_until(t, &c, "a5", last, sizeof(last));
	}
	conn_close(&c);
	return r;
}

/* reply_code - explain code of an SMTP enhanced status in the reply, if any */
static const char *
reply_code(const char *reply)
{
	const struct oa2_explain *e = oa2_explain_find(reply);

	if (e != NULL && strchr(e->code, '.') != NULL)
		return e->code;
	return NULL;
}

/* parse_target - "host[:port]" or "[v6]:port" */
static void
parse_target(struct test *t, const char *s, unsigned def_port)
{
	const char *colon;

	t->port = def_port;
	if (*s == '[') {
		const char *e = strchr(s, ']');

		if (e == NULL)
			sao_die(EX_USAGE, "%s: missing ]", s);
		snprintf(t->host, sizeof(t->host), "%.*s", (int)(e - s - 1), s + 1);
		colon = e[1] == ':' ? e + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL;	/* a bare IPv6 address */
		snprintf(t->host, sizeof(t->host), "%.*s",
		    (int)(colon ? (size_t)(colon - s) : strlen(s)), s);
	}
	if (colon != NULL) {
		char *end;
		long v = strtol(colon + 1, &end, 10);

		if (*end || v < 1 || v > 65535)
			sao_die(EX_USAGE, "%s: bad port", s);
		t->port = (unsigned)v;
	}
}

enum { O_SMTP = 256, O_IMAP, O_TLS, O_MECH, O_USER, O_CA, O_PLUGIN, O_TIMEOUT };

int
cmd_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{"smtp", required_argument, NULL, O_SMTP},
		{"imap", required_argument, NULL, O_IMAP},
		{"tls", required_argument, NULL, O_TLS},
		{"mech", required_argument, NULL, O_MECH},
		{"user", required_argument, NULL, O_USER},
		{"ca-file", required_argument, NULL, O_CA},
		{"plugin-dir", required_argument, NULL, O_PLUGIN},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{NULL, 0, NULL, 0}
	};
	struct test t = {.timeout = 30};
	struct oa2_config cfg;
	struct oa2_token tok = {0};
	struct oa2_error err;
	const char *smtp = NULL, *imap = NULL, *tls = NULL, **mechs;
	char mechlist[1024] = "";
	int c, r, n_xo = 0, n_ob = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SMTP: smtp = optarg; break;
		case O_IMAP: imap = optarg; break;
		case O_TLS: tls = optarg; break;
		case O_MECH: t.mech = optarg; break;
		case O_USER: t.user = optarg; break;
		case O_CA: t.ca_file = optarg; break;
		case O_PLUGIN: t.plugin_dir = optarg; break;
		case O_TIMEOUT:
			t.timeout = atoi(optarg);
			if (t.timeout < 1 || t.timeout > 3600)
				sao_die(EX_USAGE, "--timeout wants 1 to 3600 seconds");
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (smtp && imap))
		usage();
	if (tls != NULL && strcmp(tls, "starttls") != 0 && strcmp(tls, "implicit") != 0)
		usage();
	/* Postfix hands the plugin an absolute path: so do we. */
	if ((t.file = realpath(argv[optind], NULL)) == NULL)
		t.file = argv[optind];
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	printf("%s test: token file %s\n", PROG, t.file);
	if (oa2_token_load(&tok, t.file, -1, NULL, &err) != OA2_OK) {
		sao_explain(stdout, err.code, "  ");
		printf("verdict: FAILED: %s\n", err.msg);
		oa2_config_free(&cfg);
		return sao_exit_code(err.status, err.code);
	}
	if (t.user == NULL)
		t.user = tok.user;
	if (t.user == NULL)
		sao_die(EX_USAGE, "%s has no \"user\": give --user ADDRESS", t.file);
	snprintf(cb_user, sizeof(cb_user), "%s", t.user);
	/* The SASL password is the token file's path, as in Postfix's sasl_passwd. */
	if ((cb_secret = oa2_calloc(1, sizeof(*cb_secret) + strlen(t.file) + 1)) == NULL)
		sao_die(EX_OSERR, "out of memory");
	cb_secret->len = strlen(t.file);
	memcpy(cb_secret->data, t.file, cb_secret->len);
	if (smtp == NULL && imap == NULL) {
		struct oa2_settings set;
		const char *p;

		oa2_settings_resolve(&set, &tok, &cfg);
		p = set.provider;

		if (p != NULL && strcmp(p, "google") == 0)
			smtp = "smtp.gmail.com:587";
		else if (p != NULL && strncmp(p, "microsoft", 9) == 0)
			smtp = "smtp.office365.com:587";
		else
			sao_die(EX_USAGE, "give --smtp HOST[:PORT] or --imap HOST[:PORT]");
	}
	if (t.mech != NULL) {
		for (char *p = (char *)t.mech; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	}
	t.proto = smtp ? P_SMTP : P_IMAP;
	parse_target(&t, smtp ? smtp : imap, smtp ? 587 : 993);
	t.implicit = tls ? strcmp(tls, "implicit") == 0 :
	    (t.port == 465 || t.port == 993);
	printf("  user %s; %s server %s port %u\n", t.user, smtp ? "SMTP" : "IMAP",
	    t.host, t.port);

	/* The plugin, found as Postfix finds it. */
	if (t.plugin_dir != NULL)
		sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)t.plugin_dir);
	if ((r = sasl_client_init(NULL)) != SASL_OK)
		sao_die(EX_SOFTWARE, "sasl_client_init: %s",
		    sasl_errstring(r, NULL, NULL));
	if ((mechs = sasl_global_listmech()) != NULL)
		for (size_t i = 0; mechs[i] != NULL; i++) {
			size_t n = strlen(mechlist);

			snprintf(mechlist + n, sizeof(mechlist) - n, "%s%s",
			    n ? " " : "", mechs[i]);
			n_xo += strcasecmp(mechs[i], "XOAUTH2") == 0;
			n_ob += strcasecmp(mechs[i], "OAUTHBEARER") == 0;
		}
	step(&t, "libsasl2: plugins from %s: %s", t.plugin_dir ? t.plugin_dir : getenv("SASL_PATH") ?
	    getenv("SASL_PATH") : "the default directory", mechlist);
	if (n_xo == 0 && n_ob == 0) {
		fail(&t, EX_CONFIG, "plugin_missing", "libsasl2 found no "
		    "XOAUTH2/OAUTHBEARER plugin");
		goto verdict;
	}
	if (n_xo > 1 || n_ob > 1)
		printf("  warning: two plugins offer the same mechanism (%s); "
		    "libsasl2 may use the other one (see: %s explain "
		    "plugin_duplicate)\n", mechlist, PROG);

	r = attempt(&t);
	if (r == 1) {
		/* Refused: like the next Postfix attempt, refresh and try again. */
		struct oa2_refresh_opts ro = {.cfg = &cfg, .by_hand = 1};
		struct oa2_refresh_info info;
		struct oa2_token tk;
		const char *rc = reply_code(t.final);

		if (rc != NULL && strcmp(rc, "5.7.8") != 0) {
			fail(&t, EX_NOPERM, rc, "the server refused the login: %s",
			    t.final);
			goto verdict;
		}
		if (oa2_access_token(t.file, &ro, &tk, &info, &err) != OA2_OK) {
			step(&t, "refresh after the refusal: %s", err.msg);
			fail(&t, sao_exit_code(err.status, err.code), err.code, "the server "
			    "refused the access token and a new one cannot be had: "
			    "%s", err.code);
			goto verdict;
		}
		oa2_token_free(&tk);
		if (info.refreshed) {
			step(&t, "the server refused the access token; the plugin "
			    "marked it stale and a new one was fetched: trying again");
			t.final[0] = 0;
			r = attempt(&t);
		}
		if (r == 1) {
			struct oa2_settings set;
			char why[512];

			oa2_settings_resolve(&set, &tok, &cfg);
			snprintf(why, sizeof(why), "the server refused a %saccess "
			    "token for %s: %s", info.refreshed ? "fresh " : "",
			    t.user, t.final);
			if (set.grant == OA2_GRANT_CLIENT_CREDENTIALS)
				/* Issued, then refused: the mailbox is not the app's. */
				fail(&t, EX_NOPERM, "exchange_service_principal", "%s; "
				    "the provider issued the app-only token, but the "
				    "mail server does not let the app use %s", why,
				    t.user);
			else if (tok.user != NULL && strcasecmp(tok.user, t.user) != 0)
				fail(&t, EX_NOPERM, "invalid_token", "%s; the token "
				    "file was authorized for %s, not %s", why,
				    tok.user, t.user);
			else
				fail(&t, EX_NOPERM, reply_code(t.final) ?
				    reply_code(t.final) : "invalid_token", "%s; is "
				    "%s the account that authorized the token, and "
				    "may it use %s?", why, t.user, smtp ? "SMTP" : "IMAP");
		}
	}
	if (r == 0) {
		snprintf(t.verdict, sizeof(t.verdict), "works: %s logged in to %s "
		    "%s port %u with %s through libsasl2 and the plugin", t.user,
		    smtp ? "SMTP" : "IMAP", t.host, t.port, t.mech ? t.mech :
		    offers(&t, "XOAUTH2") ? "XOAUTH2" : "OAUTHBEARER");
		t.ex = EX_OK;
	}
verdict:
	if (t.ex == EX_OK && r == 0)
		printf("verdict: %s\n", t.verdict);
	else {
		const struct oa2_explain *e = t.code ? oa2_explain_find(t.code) : NULL;

		if (t.detail[0])
			printf("  plugin said: %s\n", t.detail);
		if (e != NULL)
			printf("  why: %s\n", e->summary);
		printf("verdict: FAILED: %s%s%s%s%s%s\n", t.verdict, e ? "; fix: " :
		    "", e ? oa2_explain_fix(e, sao_ctx) : "", e ? " (more: " PROG " explain " : "",
		    e ? e->code : "", e ? ")" : "");
		if (t.ex == EX_OK)
			t.ex = EX_SOFTWARE;
	}
	oa2_token_free(&tok);
	oa2_config_free(&cfg);
	oa2_free(cb_secret);
	if (t.file != argv[optind])
		free((char *)t.file);
	sasl_client_done();
	return t.ex;
}
