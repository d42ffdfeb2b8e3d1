/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	loopback 3
 * SUMMARY
 *	the one-shot loopback redirect listener of RFC 8252 section 7.3
 * DESCRIPTION
 *	sao_loopback_open() parses a redirect URI http://HOST[:PORT][/PATH]
 *	where HOST is 127.0.0.1, [::1] or localhost, and listens on that
 *	loopback address (both 127.0.0.1 and ::1 for localhost) on PORT, or
 *	on a port the kernel picks when PORT is 0 or absent.  Nothing ever
 *	listens on a non-loopback address.
 *
 *	sao_loopback_wait() accepts connections until one sends
 *	"GET PATH?query": it answers that request with the page answer()
 *	returns and hands back the query.  Other paths (a browser's
 *	/favicon.ico) get 404 and waiting goes on.  Each connection must send
 *	its request line within 10 s and at most 8 KiB of header.  On a
 *	terminal, a progress line counts down the time left.
 * SECURITY
 *	The query holds the authorization code; it is returned to the caller
 *	only and never printed.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Application-specific. */
#include "sao.h"

#define REQ_MAX 8192

int
sao_parse_redirect_uri(const char *uri, char *host, size_t hsz,
    unsigned *port, char *path, size_t psz)
{
	const char *p, *h, *e;
	size_t n;

	if (strncmp(uri, "http://", 7) != 0)
		return -1;
	h = uri + 7;
	if (*h == '[') {
		e = strchr(h, ']');
		if (e == NULL)
			return -1;
		e++;
	} else
		e = h + strcspn(h, ":/?#");
	n = (size_t)(e - h);
	if (n == 0 || n >= hsz)
		return -1;
	memcpy(host, h, n);
	host[n] = 0;
	if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "[::1]") != 0 &&
	    strcmp(host, "localhost") != 0)
		return -1;
	*port = 0;
	p = e;
	if (*p == ':') {
		char *end;
		long v = strtol(p + 1, &end, 10);

		if (end == p + 1 || v < 0 || v > 65535)
			return -1;
		*port = (unsigned)v;
		p = end;
	}
	if (*p == '?' || *p == '#')
		return -1;
	if (*p == 0)
		p = "/";
	if (strlen(p) >= psz || strchr(p, '?') || strchr(p, '#'))
		return -1;
	snprintf(path, psz, "%s", p);
	return 0;
}

/* listen_on - bind family's loopback address on port; fd or -1 */
static int
listen_on(int family, unsigned port, unsigned *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*bound = ntohs(family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

int
sao_loopback_open(struct sao_loopback *lb, const char *uri, unsigned port,
    struct oa2_error *err)
{
	unsigned want, got = 0;

	lb->fd[0] = lb->fd[1] = -1;
	if (sao_parse_redirect_uri(uri, lb->host, sizeof(lb->host), &want,
	    lb->path, sizeof(lb->path)) < 0) {
		oa2_error_set(err, OA2_ERR_INPUT, "redirect_uri_mismatch",
		    "--redirect-uri %s: must be http://127.0.0.1[:PORT][/PATH], "
		    "http://[::1]... or http://localhost... (RFC 8252 7.3)", uri);
		return -1;
	}
	if (port != 0)
		want = port;
	if (strcmp(lb->host, "[::1]") != 0) {
		lb->fd[0] = listen_on(AF_INET, want, &got);
		if (lb->fd[0] < 0) {
			oa2_error_set(err, OA2_ERR_TEMP, "network",
			    "cannot listen on 127.0.0.1:%u: %s%s", want,
			    strerror(errno), errno == EADDRINUSE ?
			    " (choose another --port, or leave it out)" : "");
			return -1;
		}
		want = got;
	}
	if (strcmp(lb->host, "127.0.0.1") != 0) {
		lb->fd[1] = listen_on(AF_INET6, want, &got);
		if (lb->fd[1] < 0 && lb->fd[0] < 0) {
			oa2_error_set(err, OA2_ERR_TEMP, "network",
			    "cannot listen on [::1]:%u: %s", want, strerror(errno));
			return -1;
		}
	}
	lb->port = got;
	return 0;
}

void
sao_loopback_uri(const struct sao_loopback *lb, char *buf, size_t size)
{
	snprintf(buf, size, "http://%s:%u%s", lb->host, lb->port, lb->path);
}

void
sao_loopback_close(struct sao_loopback *lb)
{
	for (int i = 0; i < 2; i++)
		if (lb->fd[i] >= 0) {
			close(lb->fd[i]);
			lb->fd[i] = -1;
		}
}

/* send_page - a complete HTTP/1.0 reply */
static void
send_page(int fd, int code, const char *reason, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.0 %d %s\r\nContent-Type: "
	    "text/html; charset=utf-8\r\nContent-Length: %zu\r\nConnection: "
	    "close\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\r\n",
	    code, reason, strlen(body));
	if (write(fd, head, (size_t)n) == n)
		(void)!write(fd, body, strlen(body));
}

/* read_request - the request line of one connection, or NULL */
static char *
read_request(int fd, struct oa2_buf *b)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	time_t deadline = time(NULL) + 10;
	char chunk[1024];
	ssize_t n;

	while (b->data == NULL || strstr(b->data, "\r\n\r\n") == NULL) {
		long left = (long)(deadline - time(NULL));

		if (left <= 0 || poll(&pfd, 1, (int)left * 1000) <= 0)
			return NULL;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (oa2_buf_append(b, chunk, (size_t)n) < 0)
			return NULL;
		if (memchr(chunk, '\n', (size_t)n) != NULL)
			break;
	}
	oa2_wipe(chunk, sizeof(chunk));
	return b->data;
}

char *
sao_loopback_wait(struct sao_loopback *lb, int timeout_s,
    const char *(*answer)(const char *query, void *ctx), void *ctx,
    int progress, struct oa2_error *err)
{
	time_t deadline = time(NULL) + timeout_s;
	long last_shown = -1;

	for (;;) {
		struct pollfd pfd[2];
		long left = (long)(deadline - time(NULL));
		int n = 0, r;

		if (left <= 0)
			break;
		if (progress && left != last_shown) {
			fprintf(stderr, "\rwaiting for the browser at http://%s:%u%s "
			    "... %ld:%02ld left ", lb->host, lb->port, lb->path,
			    left / 60, left % 60);
			fflush(stderr);
			last_shown = left;
		}
		for (int i = 0; i < 2; i++)
			if (lb->fd[i] >= 0) {
				pfd[n].fd = lb->fd[i];
				pfd[n].events = POLLIN;
				n++;
			}
		r = poll(pfd, (nfds_t)n, 1000);
		if (r < 0 && errno != EINTR)
			break;
		for (int i = 0; r > 0 && i < n; i++) {
			struct oa2_buf req;
			char *line, *q, *sp, *out;
			int c;

			if (!(pfd[i].revents & POLLIN))
				continue;
			if ((c = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
				continue;
			oa2_buf_init(&req, REQ_MAX);
			line = read_request(c, &req);
			if (line == NULL || strncmp(line, "GET ", 4) != 0) {
				if (line != NULL)
					send_page(c, 405, "Method Not Allowed",
					    "<p>GET only.</p>");
				oa2_buf_free(&req);
				close(c);
				continue;
			}
			line += 4;
			line[strcspn(line, " \r\n")] = 0;
			q = strchr(line, '?');
			sp = q ? q : line + strlen(line);
			if ((size_t)(sp - line) != strlen(lb->path) ||
			    strncmp(line, lb->path, (size_t)(sp - line)) != 0) {
				send_page(c, 404, "Not Found", "<p>Not found.</p>");
				oa2_buf_free(&req);
				close(c);
				continue;
			}
			out = oa2_strdup(q ? q + 1 : "");
			send_page(c, 200, "OK", answer(out ? out : "", ctx));
			oa2_buf_free(&req);
			close(c);
			if (progress)
				fputc('\n', stderr);
			if (out == NULL)
				oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
				    "out of memory");
			return out;
		}
	}
	if (progress)
		fputc('\n', stderr);
	oa2_error_set(err, OA2_ERR_TEMP, "consent_timeout",
	    "no answer from the browser at http://%s:%u%s within %d s: nothing "
	    "was written", lb->host, lb->port, lb->path, timeout_s);
	return NULL;
}
