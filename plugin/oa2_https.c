/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_https 3
 * SUMMARY
 *	the plugin's token endpoint POST over OpenSSL (the oa2_http.h contract)
 * DESCRIPTION
 *	This file implements oa2_http.h for the SASL plugin, in place of
 *	lib/oa2_http.c (libcurl), which the command-line tool keeps using.
 *
 *	Why: the plugin lives in every Postfix smtp process, and libsasl
 *	loads it before Postfix chroots, so everything a refresh may need must
 *	be mapped at load time: nothing can be loaded from disk later.  With
 *	libcurl that means libcurl and its whole dependency tree (nghttp2,
 *	ssh2, rtmp and through it GnuTLS, p11-kit, LDAP, ...): about 3.5 MiB
 *	more resident memory per smtp process even when no refresh ever
 *	happens.  Postfix's smtp already maps OpenSSL, so a client written
 *	on OpenSSL costs next to nothing until a refresh is due, and then
 *	needs no file but the CA bundle.
 *
 *	What it does, as lib/oa2_http.c does with libcurl: one HTTP/1.1 POST
 *	of a form (Connection: close), HTTP Basic client authentication when
 *	asked (user and password form-encoded first, RFC 6749 2.3.1),
 *	"https://" only ("http://" to 127.0.0.1 or [::1] with allow_http),
 *	TLS 1.2 or later with peer and host name (or IP address) verification
 *	always on, SNI, the CA bundle file and/or directory of the options or
 *	else the system bundle (OA2_DEFAULT_CA_FILE: the bundle file
 *	Debian's libcurl uses), redirects not followed, a connect
 *	timeout (TCP, proxy and TLS handshakes) and a total timeout, replies
 *	with Content-Length, chunked or delimited by the close, 1xx replies
 *	skipped, the body capped at max_body.  A proxy, when the token file
 *	or configuration names one (environment proxies are ignored), may be
 *	"http://[user:password@]host[:port]" (HTTP CONNECT; no scheme means
 *	http; port 1080 by default, as libcurl), "socks5://" (names resolved
 *	here) or "socks5h://" (names resolved by the proxy), with optional
 *	user and password; other proxy schemes are refused with a message.
 *	SIGPIPE is blocked in the calling thread during the request (and one
 *	that the request raised is consumed), so a peer that closes early
 *	cannot kill the host process.  Name resolution is getaddrinfo(3) and
 *	is not bounded by the timeouts.
 *
 *	Failures are classified as lib/oa2_http.c classifies libcurl's, and
 *	worded like libcurl's where that helps (the tool says the same):
 *	OA2_ERR_TEMP "network" (refused, reset, cut short, a weird reply),
 *	"timeout" (naming the limit that ran out: the connect timeout until
 *	TLS is up, then the total one), "dns"; OA2_ERR_PERM "tls" (the
 *	certificate or host name not accepted); OA2_ERR_INPUT "ca_bundle",
 *	"url"; OA2_ERR_PROTO "too_large" (more than max_body bytes arrived).
 * SECURITY
 *	The form, the Authorization header and the reply hold secrets: every
 *	buffer that held them is wiped before it is freed or goes out of
 *	scope.  Messages name the host, never the body or the form.  TLS
 *	verification cannot be turned off.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "oa2_http.h"

#ifndef OA2_DEFAULT_CA_FILE
#define OA2_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#endif

#define LINE_MAX_LEN	8192		/* one header line */
#define HEADERS_MAX	100		/* header lines per reply */
#define HOST_MAX	256

/* ------------------------------------------------------------ URLs */

struct url {
	int	tls;			/* https */
	char	host[HOST_MAX];		/* without brackets */
	char	port[8];
	int	ip;			/* host is an IP literal */
	int	v6;			/* ... an IPv6 one (bracketed in Host:) */
	int	default_port;		/* port was not given */
	const char *path;		/* "/..." incl. query, into the URL; "" = "/" */
	size_t	path_len;
	char	user[256];		/* userinfo, percent-decoded */
	char	pass[256];
	int	has_userinfo;
};

/* hexval - the value of a hex digit, or -1 */
static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* pct_decode - percent-decode s[0..n) into out; -1 if it does not fit */
static int
pct_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t	i, o = 0;

	for (i = 0; i < n; i++) {
		if (o + 1 >= size)
			return -1;
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = 0;
	return 0;
}

/*
 * parse_url - scheme://[user[:pass]@]host[:port][/path][?query][#frag]
 * Schemes: the ones in schemes (e.g. "https", "http"); which is which is
 * returned in *scheme_index.  Returns 0, or -1 for a URL we cannot use.
 */
static int
parse_url(const char *s, const char *const *schemes, int *scheme_index,
    const char *default_port, struct url *u)
{
	const char *p, *auth, *auth_end, *at, *host, *host_end, *colon;
	size_t	n;
	int	i;

	memset(u, 0, sizeof(*u));
	*scheme_index = -1;
	if ((p = strstr(s, "://")) != NULL) {
		for (i = 0; schemes[i] != NULL; i++)
			if (strlen(schemes[i]) == (size_t)(p - s) &&
			    strncasecmp(s, schemes[i], (size_t)(p - s)) == 0)
				*scheme_index = i;
		if (*scheme_index < 0)
			return -1;
		auth = p + 3;
	} else {
		/* No scheme: allowed for proxies only (the caller says so). */
		if (default_port == NULL)
			return -1;
		*scheme_index = 0;
		auth = s;
	}
	auth_end = auth + strcspn(auth, "/?#");
	u->path = auth_end;
	u->path_len = strcspn(auth_end, "#");

	/* userinfo: up to the last "@" of the authority */
	host = auth;
	for (at = auth; at < auth_end; at++)
		if (*at == '@')
			host = at + 1;
	if (host != auth) {
		const char *ui_end = host - 1;

		u->has_userinfo = 1;
		colon = memchr(auth, ':', (size_t)(ui_end - auth));
		if (pct_decode(auth, (size_t)((colon ? colon : ui_end) - auth),
		    u->user, sizeof(u->user)) < 0)
			return -1;
		if (colon != NULL && pct_decode(colon + 1,
		    (size_t)(ui_end - colon - 1), u->pass, sizeof(u->pass)) < 0)
			return -1;
	}

	if (*host == '[') {
		if ((host_end = memchr(host, ']', (size_t)(auth_end - host))) == NULL)
			return -1;
		n = (size_t)(host_end - host - 1);
		if (n == 0 || n >= sizeof(u->host))
			return -1;
		memcpy(u->host, host + 1, n);
		u->host[n] = 0;
		u->v6 = 1;
		p = host_end + 1;
		if (p < auth_end && *p != ':')
			return -1;
	} else {
		colon = memchr(host, ':', (size_t)(auth_end - host));
		host_end = colon ? colon : auth_end;
		n = (size_t)(host_end - host);
		if (n == 0 || n >= sizeof(u->host))
			return -1;
		memcpy(u->host, host, n);
		u->host[n] = 0;
		p = host_end;
	}
	if (p < auth_end && *p == ':' && p + 1 < auth_end) {
		n = (size_t)(auth_end - p - 1);
		if (n >= sizeof(u->port) || strspn(p + 1, "0123456789") < n)
			return -1;
		memcpy(u->port, p + 1, n);
		u->port[n] = 0;
		if (atoi(u->port) <= 0 || atoi(u->port) > 65535)
			return -1;
	} else {
		snprintf(u->port, sizeof(u->port), "%s", default_port ?
		    default_port : *scheme_index == 0 ? "443" : "80");
		u->default_port = 1;
	}
	for (i = 0; u->host[i]; i++)
		if ((unsigned char)u->host[i] <= ' ' || u->host[i] == '/')
			return -1;
	{
		struct in6_addr a6;
		struct in_addr a4;

		u->ip = inet_pton(AF_INET, u->host, &a4) == 1 ||
		    inet_pton(AF_INET6, u->host, &a6) == 1;
		if (u->v6 && inet_pton(AF_INET6, u->host, &a6) != 1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ forms */

/* put_basic - "PREFIX: Basic base64(u:p)\r\n"; escape: form-encode u and p first */
static int
put_basic(struct oa2_buf *b, const char *prefix, const char *user,
    const char *pass, int escape)
{
	struct oa2_buf cred;
	unsigned char *enc;
	size_t	enc_size;
	int	rc = -1, n;

	oa2_buf_init(&cred, 4096);
	if (escape ? (oa2_form_escape(&cred, user) < 0 ||
	    oa2_buf_putc(&cred, ':') < 0 || oa2_form_escape(&cred, pass) < 0) :
	    (oa2_buf_puts(&cred, user) < 0 || oa2_buf_putc(&cred, ':') < 0 ||
	    oa2_buf_puts(&cred, pass) < 0)) {
		oa2_buf_free(&cred);
		return -1;
	}
	enc_size = 4 * ((cred.len + 2) / 3) + 1;
	if ((enc = oa2_malloc(enc_size)) != NULL) {
		n = EVP_EncodeBlock(enc, (const unsigned char *)cred.data,
		    (int)cred.len);
		if (oa2_buf_puts(b, prefix) == 0 &&
		    oa2_buf_puts(b, ": Basic ") == 0 &&
		    oa2_buf_append(b, enc, (size_t)n) == 0 &&
		    oa2_buf_puts(b, "\r\n") == 0)
			rc = 0;
		oa2_wipe(enc, enc_size);
		oa2_free(enc);
	}
	oa2_buf_free(&cred);
	return rc;
}

/* ------------------------------------------------------------ time */

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ connection */

struct conn {
	int	fd;
	SSL_CTX *ctx;
	SSL	*ssl;
	long long start;		/* ms */
	long long connect_end;		/* connect phase deadline (ms) */
	long long total_end;		/* whole request deadline (ms) */
	long	timeout_ms;
	long	connect_timeout_ms;
	int	connecting;		/* in the connect phase */
	const char *phase;		/* what it is doing, for a timeout message */
	const char *host;		/* for messages (oa2_url_host form) */
	/* the reply reader */
	char	rbuf[8192];
	size_t	rpos, rlen;
	int	eof;
	int	got_any;		/* some reply byte arrived */
};

/* deadline - the one that applies now */
static long long
deadline(const struct conn *c)
{
	return c->connecting && c->connect_end < c->total_end ?
	    c->connect_end : c->total_end;
}

/*
 * timed_out - the timeout error for the current phase.  The limit named is
 * the one that ran out: the connect timeout until TLS is up (it covers the
 * TCP, proxy and TLS handshakes, as libcurl's does), then the total one.
 */
static enum oa2_status
timed_out(const struct conn *c, struct oa2_error *err)
{
	long	limit = c->connecting && c->connect_end < c->total_end ?
	    c->connect_timeout_ms : c->timeout_ms;

	return oa2_error_set(err, OA2_ERR_TEMP, "timeout",
	    "token endpoint %s did not answer within %ld s: %s after %lld ms",
	    c->host, (limit + 999) / 1000, c->phase, now_ms() - c->start);
}

/* net_error - a failure of the network or the peer: temporary */
static enum oa2_status
net_error(const struct conn *c, const char *what, int errnum,
    struct oa2_error *err)
{
	return oa2_error_set(err, OA2_ERR_TEMP, "network",
	    "cannot reach the token endpoint %s: %s%s%s", c->host, what,
	    errnum ? ": " : "", errnum ? strerror(errnum) : "");
}

/* wait_fd - poll fd for events until the deadline: 1 ready, 0 timeout, -1 error */
static int
wait_fd(const struct conn *c, short events)
{
	struct pollfd pfd;
	long long left;
	int	rc;

	for (;;) {
		if ((left = deadline(c) - now_ms()) <= 0)
			return 0;
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* tcp_connect - connect to host:port within the connect deadline */
static enum oa2_status
tcp_connect(struct conn *c, const char *host, const char *port, int numeric,
    struct oa2_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	enum oa2_status st;
	socklen_t len;
	int	rc, soerr = 0, last = 0, timeout = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = numeric ? AI_NUMERICHOST : AI_ADDRCONFIG;
	c->phase = "Failed to connect (timed out)";
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return oa2_error_set(err, OA2_ERR_TEMP, "dns",
		    "cannot resolve the token endpoint host %s: %s "
		    "(in a chroot, copy /etc/resolv.conf and /etc/hosts into it)",
		    c->host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (c->fd < 0) {
			last = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(c, POLLOUT);
			len = sizeof(soerr);
			if (rc > 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR,
			    &soerr, &len) == 0 && soerr == 0)
				break;
			if (rc == 0)
				timeout = 1;
			last = rc > 0 ? soerr : errno;
		} else
			last = errno;
		close(c->fd);
		c->fd = -1;
		if (timeout)
			break;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		if (timeout) {
			char	what[HOST_MAX + 80];

			snprintf(what, sizeof(what), "Failed to connect to %s port %s: "
			    "timed out", host, port);
			c->phase = what;
			st = timed_out(c, err);
			c->phase = "timed out";
			return st;
		}
		return oa2_error_set(err, OA2_ERR_TEMP, "network",
		    "cannot reach the token endpoint %s: connect to %s port %s: %s",
		    c->host, host, port, strerror(last ? last : ECONNREFUSED));
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return OA2_OK;
}

/* raw_write - all of buf on the socket (before TLS, or plain http) */
static enum oa2_status
raw_write(struct conn *c, const void *buf, size_t n, struct oa2_error *err)
{
	const char *p = buf;
	ssize_t	w;
	int	rc;

	while (n > 0) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(c, POLLOUT)) == 0)
				return timed_out(c, err);
			if (rc < 0)
				return net_error(c, "poll", errno, err);
			continue;
		}
		return net_error(c, "send", errno, err);
	}
	return OA2_OK;
}

/* raw_read - some bytes from the socket: >0, 0 at EOF; -1 with err set */
static ssize_t
raw_read(struct conn *c, void *buf, size_t n, struct oa2_error *err)
{
	ssize_t	r;
	int	rc;

	for (;;) {
		r = recv(c->fd, buf, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = wait_fd(c, POLLIN)) == 0) {
				timed_out(c, err);
				return -1;
			}
			if (rc < 0) {
				net_error(c, "poll", errno, err);
				return -1;
			}
			continue;
		}
		net_error(c, "recv", errno, err);
		return -1;
	}
}

/* ssl_reason - OpenSSL's reason for the last failure, for a message */
static const char *
ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, size, "TLS failure");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

/* ssl_wait - after an SSL call failed with code: wait, or fail */
static enum oa2_status
ssl_wait(struct conn *c, int code, const char *what, struct oa2_error *err)
{
	char	why[256];
	int	rc;

	switch (code) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		rc = wait_fd(c, code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
		if (rc == 0)
			return timed_out(c, err);
		if (rc < 0)
			return net_error(c, "poll", errno, err);
		return OA2_OK;
	case SSL_ERROR_SYSCALL:
		if (errno != 0) {
			int	errnum = errno;

			ERR_clear_error();
			return net_error(c, what, errnum, err);
		}
		/* FALLTHROUGH */
	default:
		return oa2_error_set(err, OA2_ERR_TEMP, "network",
		    "cannot reach the token endpoint %s: %s: %s", c->host, what,
		    ssl_reason(why, sizeof(why)));
	}
}

/* io_write - all of buf, through TLS when it is up */
static enum oa2_status
io_write(struct conn *c, const void *buf, size_t n, struct oa2_error *err)
{
	const char *p = buf;
	enum oa2_status st;
	int	w;

	if (c->ssl == NULL)
		return raw_write(c, buf, n, err);
	while (n > 0) {
		ERR_clear_error();
		errno = 0;
		w = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if ((st = ssl_wait(c, SSL_get_error(c->ssl, w), "TLS write",
		    err)) != OA2_OK)
			return st;
	}
	return OA2_OK;
}

/* io_fill - refill the reader: 1 more bytes, 0 EOF, -1 error */
static int
io_fill(struct conn *c, struct oa2_error *err)
{
	ssize_t	r;
	int	code;

	if (c->eof)
		return 0;
	c->rpos = 0;
	c->rlen = 0;
	if (c->ssl == NULL) {
		if ((r = raw_read(c, c->rbuf, sizeof(c->rbuf), err)) < 0)
			return -1;
		if (r == 0)
			c->eof = 1;
		c->rlen = (size_t)r;
		return r > 0;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_read(c->ssl, c->rbuf, (int)sizeof(c->rbuf));
		if (r > 0) {
			c->rlen = (size_t)r;
			return 1;
		}
		code = SSL_get_error(c->ssl, (int)r);
		if (code == SSL_ERROR_ZERO_RETURN ||
		    (code == SSL_ERROR_SYSCALL && errno == 0)) {
			ERR_clear_error();
			c->eof = 1;		/* closed, with or without close_notify */
			return 0;
		}
		if (ssl_wait(c, code, "TLS read", err) != OA2_OK)
			return -1;
	}
}

/* read_line - one line without its CR LF into line; -1 with err set */
static int
read_line(struct conn *c, struct oa2_buf *line, struct oa2_error *err)
{
	char	ch;
	int	rc;

	oa2_buf_reset(line);
	if (line->data == NULL && oa2_buf_append(line, "", 0) < 0) {
		oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
		return -1;
	}
	for (;;) {
		if (c->rpos == c->rlen) {
			if ((rc = io_fill(c, err)) < 0)
				return -1;
			if (rc == 0) {
				net_error(c, line->len == 0 && !c->got_any ?
				    "empty reply from server" : "transfer closed in "
				    "the middle of the reply", 0, err);
				return -1;
			}
		}
		c->got_any = 1;
		ch = c->rbuf[c->rpos++];
		if (ch == '\n')
			break;
		if (oa2_buf_putc(line, ch) < 0) {
			net_error(c, "weird server reply (a header line too long)",
			    0, err);
			return -1;
		}
	}
	if (line->len > 0 && line->data[line->len - 1] == '\r')
		line->data[--line->len] = 0;
	return 0;
}

/* body_add - append to the capped body */
static int
body_add(struct conn *c, struct oa2_buf *body, const char *p, size_t n,
    struct oa2_error *err)
{
	if (n > body->max || body->len > body->max - n) {
		oa2_error_set(err, OA2_ERR_PROTO, "too_large",
		    "token endpoint %s sent a reply larger than the limit", c->host);
		return -1;
	}
	if (oa2_buf_append(body, p, n) < 0) {
		oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
		return -1;
	}
	return 0;
}

/* read_body - n bytes of body (or up to EOF when n is -1) */
static int
read_body(struct conn *c, struct oa2_buf *body, long long n,
    struct oa2_error *err)
{
	size_t	take;
	int	rc;

	while (n != 0) {
		if (c->rpos == c->rlen) {
			if ((rc = io_fill(c, err)) < 0)
				return -1;
			if (rc == 0) {
				char	what[96];

				if (n < 0)
					return 0;
				snprintf(what, sizeof(what), "transfer closed with "
				    "%lld bytes remaining to read", n);
				net_error(c, what, 0, err);
				return -1;
			}
		}
		take = c->rlen - c->rpos;
		if (n >= 0 && (unsigned long long)take > (unsigned long long)n)
			take = (size_t)n;
		if (body_add(c, body, c->rbuf + c->rpos, take, err) < 0)
			return -1;
		c->rpos += take;
		if (n > 0)
			n -= (long long)take;
	}
	return 0;
}

/* header_is - line is "name:" (any case); returns the value, spaces skipped */
static const char *
header_is(const char *line, const char *name)
{
	size_t	n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* parse_status - "HTTP/1.x NNN ..." -> NNN, or -1 */
static long
parse_status(const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0 || (line = strchr(line, ' ')) == NULL)
		return -1;
	while (*line == ' ')
		line++;
	if (line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (line[3] != 0 && line[3] != ' '))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/*
 * read_head - status line and headers (1xx replies skipped); fills *status,
 * *length (-1: none) and *chunked.
 */
static int
read_head(struct conn *c, struct oa2_buf *line, long *status,
    long long *length, int *chunked, struct oa2_error *err)
{
	const char *v;
	char	*end;
	int	i;

	for (;;) {
		*length = -1;
		*chunked = 0;
		if (read_line(c, line, err) < 0)
			return -1;
		if ((*status = parse_status(line->data)) < 0) {
			net_error(c, "weird server reply (not HTTP)", 0, err);
			return -1;
		}
		for (i = 0;; i++) {
			if (read_line(c, line, err) < 0)
				return -1;
			if (line->len == 0)
				break;
			if (i >= HEADERS_MAX) {
				net_error(c, "weird server reply (too many header "
				    "lines)", 0, err);
				return -1;
			}
			if ((v = header_is(line->data, "Content-Length")) != NULL) {
				errno = 0;
				*length = strtoll(v, &end, 10);
				if (errno != 0 || end == v || *length < 0) {
					net_error(c, "weird server reply (a bad "
					    "Content-Length)", 0, err);
					return -1;
				}
			} else if ((v = header_is(line->data,
			    "Transfer-Encoding")) != NULL) {
				size_t	n = strlen(v);

				while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
					n--;
				*chunked = n >= 7 &&
				    strncasecmp(v + n - 7, "chunked", 7) == 0;
			}
		}
		if (*status >= 200)
			return 0;
		/* 1xx: an interim reply (e.g. 100 Continue); the real one follows. */
	}
}

/* read_chunked - a chunked body (RFC 9112 7.1), trailers skipped */
static int
read_chunked(struct conn *c, struct oa2_buf *line, struct oa2_buf *body,
    struct oa2_error *err)
{
	unsigned long long size;
	char	*end;

	for (;;) {
		if (read_line(c, line, err) < 0)
			return -1;
		errno = 0;
		size = strtoull(line->data, &end, 16);
		if (end == line->data || errno != 0 ||
		    (*end != 0 && *end != ';' && *end != ' ' && *end != '\t')) {
			net_error(c, "weird server reply (a bad chunk)", 0, err);
			return -1;
		}
		if (size == 0)
			break;
		if (size > (unsigned long long)LLONG_MAX)
			size = (unsigned long long)LLONG_MAX;	/* the cap stops it */
		if (read_body(c, body, (long long)size, err) < 0 ||
		    read_line(c, line, err) < 0)
			return -1;
		if (line->len != 0) {
			net_error(c, "weird server reply (a bad chunk)", 0, err);
			return -1;
		}
	}
	do {				/* trailer section, up to the empty line */
		if (read_line(c, line, err) < 0)
			return -1;
	} while (line->len != 0);
	return 0;
}

/* ------------------------------------------------------------ proxies */

enum proxy_kind { PX_NONE, PX_HTTP, PX_SOCKS5, PX_SOCKS5H };

/* read_n - exactly n bytes of a proxy handshake */
static int
read_n(struct conn *c, unsigned char *buf, size_t n, struct oa2_error *err)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = raw_read(c, buf, n, err)) < 0)
			return -1;
		if (r == 0) {
			net_error(c, "the proxy closed the connection", 0, err);
			return -1;
		}
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* socks5 - RFC 1928 CONNECT (and RFC 1929 user/password) to u through c */
static enum oa2_status
socks5(struct conn *c, const struct url *px, const struct url *u,
    int remote_dns, struct oa2_error *err)
{
	unsigned char msg[600], *p;
	size_t	ul, pl, hl;
	enum oa2_status st;
	unsigned port = (unsigned)atoi(u->port);

	msg[0] = 5;
	msg[1] = px->has_userinfo ? 2 : 1;
	msg[2] = 0;			/* no authentication */
	msg[3] = 2;			/* user name and password */
	if ((st = raw_write(c, msg, 2 + msg[1], err)) != OA2_OK)
		return st;
	if (read_n(c, msg, 2, err) < 0)
		return err->status;
	if (msg[0] != 5 || (msg[1] != 0 && !(msg[1] == 2 && px->has_userinfo)))
		return net_error(c, "the SOCKS5 proxy accepts none of our "
		    "authentication methods", 0, err);
	if (msg[1] == 2) {
		ul = strlen(px->user);
		pl = strlen(px->pass);
		if (ul > 255 || pl > 255)
			return oa2_error_set(err, OA2_ERR_INPUT, "url",
			    "the proxy user name or password is too long");
		p = msg;
		*p++ = 1;
		*p++ = (unsigned char)ul;
		memcpy(p, px->user, ul);
		p += ul;
		*p++ = (unsigned char)pl;
		memcpy(p, px->pass, pl);
		p += pl;
		st = raw_write(c, msg, (size_t)(p - msg), err);
		oa2_wipe(msg, sizeof(msg));
		if (st != OA2_OK)
			return st;
		if (read_n(c, msg, 2, err) < 0)
			return err->status;
		if (msg[1] != 0)
			return net_error(c, "the SOCKS5 proxy refused our user "
			    "name and password", 0, err);
	}
	p = msg;
	*p++ = 5;
	*p++ = 1;			/* CONNECT */
	*p++ = 0;
	if (remote_dns && !u->ip) {
		if ((hl = strlen(u->host)) > 255)
			return oa2_error_set(err, OA2_ERR_INPUT, "url",
			    "host name too long for SOCKS5");
		*p++ = 3;
		*p++ = (unsigned char)hl;
		memcpy(p, u->host, hl);
		p += hl;
	} else {
		struct addrinfo hints, *res = NULL;
		int	rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = u->ip ? AI_NUMERICHOST : AI_ADDRCONFIG;
		if ((rc = getaddrinfo(u->host, NULL, &hints, &res)) != 0)
			return oa2_error_set(err, OA2_ERR_TEMP, "dns",
			    "cannot resolve the token endpoint host %s: %s",
			    c->host, gai_strerror(rc));
		if (res->ai_family == AF_INET) {
			*p++ = 1;
			memcpy(p, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
			p += 4;
		} else {
			*p++ = 4;
			memcpy(p, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
			    16);
			p += 16;
		}
		freeaddrinfo(res);
	}
	*p++ = (unsigned char)(port >> 8);
	*p++ = (unsigned char)(port & 255);
	if ((st = raw_write(c, msg, (size_t)(p - msg), err)) != OA2_OK)
		return st;
	if (read_n(c, msg, 4, err) < 0)
		return err->status;
	if (msg[0] != 5 || msg[1] != 0) {
		char	what[80];

		snprintf(what, sizeof(what), "the SOCKS5 proxy could not connect "
		    "(reply %u)", msg[1]);
		return net_error(c, what, 0, err);
	}
	/* The bound address: skip it. */
	switch (msg[3]) {
	case 1:
		hl = 4 + 2;
		break;
	case 4:
		hl = 16 + 2;
		break;
	case 3:
		if (read_n(c, msg, 1, err) < 0)
			return err->status;
		hl = (size_t)msg[0] + 2;
		break;
	default:
		return net_error(c, "the SOCKS5 proxy sent a bad reply", 0, err);
	}
	if (read_n(c, msg, hl, err) < 0)
		return err->status;
	return OA2_OK;
}

/* http_connect - an HTTP CONNECT tunnel to u through the proxy px */
static enum oa2_status
http_connect(struct conn *c, const struct url *px, const struct url *u,
    struct oa2_error *err)
{
	struct oa2_buf req, line;
	enum oa2_status st = OA2_OK;
	long	status;
	long long length;
	int	chunked;
	char	hp[HOST_MAX + 16];

	snprintf(hp, sizeof(hp), "%s%s%s:%s", u->v6 ? "[" : "", u->host,
	    u->v6 ? "]" : "", u->port);
	oa2_buf_init(&req, 16 * 1024);
	oa2_buf_init(&line, LINE_MAX_LEN);
	if (oa2_buf_puts(&req, "CONNECT ") < 0 || oa2_buf_puts(&req, hp) < 0 ||
	    oa2_buf_puts(&req, " HTTP/1.1\r\nHost: ") < 0 ||
	    oa2_buf_puts(&req, hp) < 0 || oa2_buf_puts(&req, "\r\n") < 0 ||
	    (px->has_userinfo && put_basic(&req, "Proxy-Authorization",
	    px->user, px->pass, 0) < 0) ||
	    oa2_buf_puts(&req, "User-Agent: " PACKAGE_NAME "/" PACKAGE_VERSION
	    "\r\n\r\n") < 0)
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	if (st == OA2_OK)
		st = raw_write(c, req.data, req.len, err);
	oa2_buf_free(&req);
	if (st == OA2_OK && read_head(c, &line, &status, &length, &chunked,
	    err) < 0)
		st = err->status;
	oa2_buf_free(&line);
	if (st != OA2_OK)
		return st;
	if (status < 200 || status > 299) {
		char	what[80];

		snprintf(what, sizeof(what), "the proxy answered %ld to CONNECT",
		    status);
		return net_error(c, what, 0, err);
	}
	if (c->rpos != c->rlen)
		return net_error(c, "the proxy sent data after its CONNECT reply",
		    0, err);
	return OA2_OK;
}

/* ------------------------------------------------------------ TLS */

/* load_trust - the CA bundle file and/or directory, else the system's */
static enum oa2_status
load_trust(struct conn *c, const struct oa2_http_opts *o,
    struct oa2_error *err)
{
	const char *file = o->ca_file && *o->ca_file ? o->ca_file : NULL;
	const char *dir = o->ca_dir && *o->ca_dir ? o->ca_dir : NULL;
	char	why[256];

	/*
	 * Nothing configured: the system bundle, as Debian's libcurl does.
	 * Its absence (typically inside a chroot) is reported by name: the
	 * hashed directory is no fallback there, Debian's postfix start
	 * copies *.pem files into it without their hash links.
	 */
	if (file == NULL && dir == NULL)
		file = OA2_DEFAULT_CA_FILE;
	ERR_clear_error();
	if ((file != NULL &&
	    SSL_CTX_load_verify_locations(c->ctx, file, NULL) != 1) ||
	    (dir != NULL && SSL_CTX_load_verify_locations(c->ctx, NULL, dir) != 1) ||
	    (dir != NULL && file == NULL && access(dir, X_OK) != 0))
		return oa2_error_set(err, OA2_ERR_INPUT, "ca_bundle",
		    "cannot read the CA bundle to verify %s: %s: %s (set "
		    "ca_bundle_file to a readable file; inside a chroot it must "
		    "exist there)", c->host, file ? file : dir,
		    ERR_peek_last_error() ? ssl_reason(why, sizeof(why)) :
		    strerror(errno));
	ERR_clear_error();
	return OA2_OK;
}

/* tls_start - handshake with peer and host name verification */
static enum oa2_status
tls_start(struct conn *c, const struct url *u, const struct oa2_http_opts *o,
    struct oa2_error *err)
{
	enum oa2_status st;
	long	vr;
	int	rc;

	ERR_clear_error();
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "cannot set up TLS for %s", c->host);
	(void)SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if ((st = load_trust(c, o, err)) != OA2_OK)
		return st;
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "cannot set up TLS for %s", c->host);
	if (u->ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    u->host) != 1)
			return oa2_error_set(err, OA2_ERR_INPUT, "url",
			    "token endpoint URL for %s is not usable", c->host);
	} else {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(c->ssl, u->host) != 1 ||
		    SSL_set_tlsext_host_name(c->ssl, u->host) != 1)
			return oa2_error_set(err, OA2_ERR_INPUT, "url",
			    "token endpoint URL for %s is not usable", c->host);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(c->ssl)) == 1)
			break;
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			ERR_clear_error();
			return oa2_error_set(err, OA2_ERR_PERM, "tls",
			    "TLS certificate of %s not accepted: %s%s (check "
			    "ca_bundle_file or ca_certs_dir, and the host name in "
			    "token_endpoint)", c->host,
			    X509_verify_cert_error_string(vr),
			    vr == X509_V_ERR_HOSTNAME_MISMATCH ||
			    vr == X509_V_ERR_IP_ADDRESS_MISMATCH ?
			    ": the certificate does not match the host name" : "");
		}
		if ((st = ssl_wait(c, SSL_get_error(c->ssl, rc), "TLS handshake",
		    err)) != OA2_OK)
			return st;
	}
	return OA2_OK;
}

/* ------------------------------------------------------------ the request */

/* proxy_kind - which proxy opts->proxy names; PX_NONE for none */
static enum oa2_status
proxy_parse(const char *proxy, struct url *px, enum proxy_kind *kind,
    struct oa2_error *err)
{
	static const char *const schemes[] = {"http", "socks5", "socks5h", NULL};
	static const enum proxy_kind kinds[] = {PX_HTTP, PX_SOCKS5, PX_SOCKS5H};
	char	name[HOST_MAX];
	int	i;

	*kind = PX_NONE;
	if (proxy == NULL || *proxy == 0)
		return OA2_OK;
	if (parse_url(proxy, schemes, &i, "1080", px) < 0) {
		oa2_url_host(proxy, name, sizeof(name));
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "proxy %s is not usable: give http://host:port, "
		    "socks5://host:port or socks5h://host:port", name);
	}
	*kind = kinds[i];
	return OA2_OK;
}

/* build_request - the POST head and body, into req (wiped by the caller) */
static int
build_request(struct oa2_buf *req, const struct url *u, int absolute,
    const char *form, size_t form_len, const char *user, const char *pass)
{
	char	num[32];

	if (oa2_buf_puts(req, "POST ") < 0)
		return -1;
	if (absolute && (oa2_buf_puts(req, "http://") < 0 ||
	    (u->v6 && oa2_buf_putc(req, '[') < 0) ||
	    oa2_buf_puts(req, u->host) < 0 ||
	    (u->v6 && oa2_buf_putc(req, ']') < 0) ||
	    oa2_buf_putc(req, ':') < 0 || oa2_buf_puts(req, u->port) < 0))
		return -1;
	if (u->path_len == 0 || u->path[0] != '/') {
		if (oa2_buf_putc(req, '/') < 0)
			return -1;
	}
	if (oa2_buf_append(req, u->path, u->path_len) < 0 ||
	    oa2_buf_puts(req, " HTTP/1.1\r\nHost: ") < 0 ||
	    (u->v6 && oa2_buf_putc(req, '[') < 0) ||
	    oa2_buf_puts(req, u->host) < 0 ||
	    (u->v6 && oa2_buf_putc(req, ']') < 0))
		return -1;
	if (!u->default_port && (oa2_buf_putc(req, ':') < 0 ||
	    oa2_buf_puts(req, u->port) < 0))
		return -1;
	snprintf(num, sizeof(num), "%zu", form_len);
	if (oa2_buf_puts(req, "\r\nUser-Agent: " PACKAGE_NAME "/" PACKAGE_VERSION
	    "\r\nAccept: application/json\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: ") < 0 || oa2_buf_puts(req, num) < 0 ||
	    oa2_buf_puts(req, "\r\n") < 0)
		return -1;
	if (user != NULL && put_basic(req, "Authorization", user,
	    pass ? pass : "", 1) < 0)
		return -1;
	if (u->has_userinfo && user == NULL && put_basic(req, "Authorization",
	    u->user, u->pass, 0) < 0)
		return -1;
	if (oa2_buf_puts(req, "Connection: close\r\n\r\n") < 0 ||
	    oa2_buf_append(req, form, form_len) < 0)
		return -1;
	return 0;
}

/*
 * reserve - give an empty buffer its memory now.  The reply's buffers are
 * allocated before the request is sent, so that running out of memory
 * after the token endpoint has answered (and may have rotated the refresh
 * token) is as unlikely as it can be made here.
 */
static int
reserve(struct oa2_buf *b, size_t cap)
{
	if (b->data != NULL || cap > b->max + 1)
		return 0;
	if ((b->data = oa2_malloc(cap)) == NULL)
		return -1;
	b->data[0] = 0;
	b->cap = cap;
	return 0;
}

/* exchange - connect, (tunnel,) TLS, send the request, read the reply */
static enum oa2_status
exchange(struct conn *c, const struct url *u, const struct oa2_http_opts *o,
    const char *form, size_t form_len, const char *user, const char *pass,
    struct oa2_http_resp *resp, struct oa2_error *err)
{
	struct url px;
	struct oa2_buf req, line;
	enum proxy_kind kind;
	enum oa2_status st;
	long long length;
	int	chunked;

	if ((st = proxy_parse(o->proxy, &px, &kind, err)) != OA2_OK)
		return st;
	c->connecting = 1;
	if (kind == PX_NONE)
		st = tcp_connect(c, u->host, u->port, u->ip, err);
	else if ((st = tcp_connect(c, px.host, px.port, px.ip, err)) == OA2_OK) {
		c->phase = "proxy handshake timed out";
		if (kind == PX_HTTP && u->tls)
			st = http_connect(c, &px, u, err);
		else if (kind == PX_SOCKS5 || kind == PX_SOCKS5H)
			st = socks5(c, &px, u, kind == PX_SOCKS5H, err);
	}
	oa2_wipe(&px, sizeof(px));
	c->phase = "SSL connection timeout";
	if (st == OA2_OK && u->tls)
		st = tls_start(c, u, o, err);
	c->connecting = 0;
	c->phase = "no complete reply (timed out)";
	if (st != OA2_OK)
		return st;

	oa2_buf_init(&req, 1024 * 1024);
	oa2_buf_init(&line, LINE_MAX_LEN);
	if (reserve(&line, 1024) < 0 || reserve(&resp->body, 16 * 1024) < 0 ||
	    build_request(&req, u, kind == PX_HTTP && !u->tls, form, form_len,
	    user, pass) < 0)
		st = oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	else
		st = io_write(c, req.data, req.len, err);
	oa2_buf_free(&req);
	if (st != OA2_OK) {
		oa2_buf_free(&line);
		return st;
	}

	if (read_head(c, &line, &resp->status, &length, &chunked, err) < 0)
		st = err->status;
	else if (resp->status == 204 || resp->status == 304)
		st = OA2_OK;
	else if (chunked)
		st = read_chunked(c, &line, &resp->body, err) < 0 ? err->status :
		    OA2_OK;
	else
		st = read_body(c, &resp->body, length, err) < 0 ? err->status :
		    OA2_OK;
	oa2_buf_free(&line);
	return st;
}

enum oa2_status
oa2_http_post_form(const char *url, const char *form, size_t form_len,
    const char *basic_user, const char *basic_pass,
    const struct oa2_http_opts *opts, struct oa2_http_resp *resp,
    struct oa2_error *err)
{
	static const struct oa2_http_opts defaults;
	static const char *const schemes[] = {"https", "http", NULL};
	char	host[HOST_MAX];
	struct conn *c;
	struct url u;
	enum oa2_status st;
	sigset_t pipe_set, old_set, pending;
	int	i, pipe_was_pending;

	if (opts == NULL)
		opts = &defaults;
	resp->status = 0;
	oa2_buf_init(&resp->body, opts->max_body ? opts->max_body : 1024 * 1024);
	oa2_url_host(url, host, sizeof(host));
	if (parse_url(url, schemes, &i, NULL, &u) < 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "token endpoint must be an https:// URL (got one for %s)", host);
	u.tls = i == 0;
	/* http:// only to a loopback literal, and only when allowed (tests). */
	if (!u.tls && !(opts->allow_http && (strcmp(u.host, "127.0.0.1") == 0 ||
	    strcmp(u.host, "::1") == 0))) {
		oa2_wipe(&u, sizeof(u));
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "token endpoint must be an https:// URL (got one for %s)", host);
	}
	if ((c = oa2_calloc(1, sizeof(*c))) == NULL) {
		oa2_wipe(&u, sizeof(u));
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory starting a request to %s", host);
	}
	c->fd = -1;
	c->host = host;
	c->start = now_ms();
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
	c->connect_timeout_ms = opts->connect_timeout_ms ?
	    opts->connect_timeout_ms : 10000;
	c->total_end = c->start + c->timeout_ms;
	c->connect_end = c->start + c->connect_timeout_ms;
	c->phase = "timed out";

	/* A peer that closes early must not kill the host process. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	pipe_was_pending = sigismember(&pending, SIGPIPE);

	st = exchange(c, &u, opts, form, form_len, basic_user, basic_pass, resp,
	    err);

	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);	/* close_notify, best effort */
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	if (!pipe_was_pending) {
		static const struct timespec zero = {0, 0};

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE))
			(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	oa2_wipe(c, sizeof(*c));
	oa2_free(c);
	oa2_wipe(&u, sizeof(u));

	if (st != OA2_OK) {
		oa2_buf_free(&resp->body);
		resp->status = 0;
		return st;
	}
	if (resp->body.data == NULL && oa2_buf_append(&resp->body, "", 0) < 0)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	return OA2_OK;
}

void
oa2_http_resp_free(struct oa2_http_resp *resp)
{
	oa2_buf_free(&resp->body);
	resp->status = 0;
}

void
oa2_http_cleanup(void)
{
	/* Nothing global: each request has its own TLS context. */
}
