/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-https 1
 * SUMMARY
 *	libFuzzer target: the plugin's own HTTP client reading a server's reply
 * DESCRIPTION
 *	The input is everything a token endpoint sends back: status line,
 *	headers, a Content-Length, chunked or close-delimited body, or
 *	garbage.  A server thread on 127.0.0.1 writes it to the client's
 *	connection and closes; the client (plugin/oa2_https.c, plain http
 *	to loopback as its tests allow) must return OA2_OK with a body no
 *	larger than the cap, or a classified error with a one-line message.
 *	The first input byte, when it is 'P', makes the request go through an
 *	HTTP proxy (CONNECT is then answered by the same input).
 *--*/
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oa2_http.h"

static int lfd = -1;
static unsigned short port;
static uint8_t *reply;		/* the harness's own copy of the input */
static size_t replylen;
static volatile int stop;

/* serve_once - accept the client's connection, read its request, send the reply */
static void *
serve_once(void *arg)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	char req[8192];
	int c;

	while (!stop) {
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if ((c = accept(lfd, NULL, NULL)) < 0)
			continue;
		(void)recv(c, req, sizeof(req), 0);
		(void)send(c, reply, replylen, MSG_NOSIGNAL);
		shutdown(c, SHUT_WR);
		close(c);
		break;
	}
	return arg;
}

static void
setup(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		abort();
	port = ntohs(sa.sin_port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa2_http_opts o = {0};
	struct oa2_http_resp r = {0};
	struct oa2_error err;
	enum oa2_status st;
	char url[64], proxy[64];

	if (lfd < 0)
		setup();
	if (size > 0 && data[0] == 'P') {
		snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", port);
		o.proxy = proxy;
		data++;
		size--;
	}
	pthread_t t;

	if ((reply = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(reply, data, size);
	replylen = size;
	stop = 0;
	pthread_create(&t, NULL, serve_once, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/token", port);
	o.allow_http = 1;
	o.max_body = 4096;
	o.timeout_ms = 2000;
	o.connect_timeout_ms = 2000;
	st = oa2_http_post_form(url, "a=b", 3, "client", "secret", &o, &r, &err);
	stop = 1;
	pthread_join(t, NULL);
	free(reply);
	if (st == OA2_OK) {
		if (r.body.len > 4096 || r.body.data == NULL || r.status < 100 ||
		    r.status > 999)
			abort();
		oa2_http_resp_free(&r);
	} else if (err.msg[0] == 0 || strchr(err.msg, '\n') != NULL ||
	    strstr(err.msg, "secret") != NULL) {
		abort();
	}
	return 0;
}
