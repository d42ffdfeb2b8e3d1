/* SPDX-License-Identifier: MIT */
/* test-http - form encoding, URL policy, CA bundle, network failures and timeouts */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oa2_http.h"
#include "oa2_limits.h"
#include "tap.h"

/* listener - a loopback listener that never accepts; url names it */
static int
listener(char *url, size_t size)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, 8) < 0 || getsockname(s, (struct sockaddr *)&sa, &sl) < 0) {
		ok(0, "cannot set up a listener");
		if (s >= 0)
			close(s);
		return -1;
	}
	snprintf(url, size, "https://127.0.0.1:%d/token", ntohs(sa.sin_port));
	return s;
}

static void
test_form(void)
{
	struct oa2_buf f;

	oa2_buf_init(&f, 0);
	ok(oa2_form_add(&f, "grant_type", "refresh_token") == 0, "first pair");
	ok(oa2_form_add(&f, "refresh_token", "1//0a+b/c=d&e f~g") == 0, "second pair");
	is_str(f.data, "grant_type=refresh_token&refresh_token=1%2F%2F0a%2Bb%2Fc%3Dd%26e%20f~g",
	    "pairs joined with & and percent-encoded");
	oa2_buf_free(&f);
	oa2_buf_init(&f, 20);
	ok(oa2_form_add(&f, "a", "0123456789012345678901234") < 0, "form cap enforced");
	oa2_buf_free(&f);
}

static void
test_host(void)
{
	char h[64];

	oa2_url_host("https://oauth2.googleapis.com/token", h, sizeof(h));
	is_str(h, "oauth2.googleapis.com", "host of a URL");
	oa2_url_host("https://user:pw@127.0.0.1:8443/token?x=1", h, sizeof(h));
	is_str(h, "127.0.0.1:8443", "userinfo never shown");
	oa2_url_host("https://[::1]:8443", h, sizeof(h));
	is_str(h, "[::1]:8443", "IPv6 literal");
}

static void
test_policy(void)
{
	struct oa2_http_resp r;
	struct oa2_error err;

	ok(oa2_http_post_form("http://example.com/token", "", 0, NULL, NULL, NULL,
	    &r, &err) == OA2_ERR_INPUT, "plain http refused");
	has_str(err.msg, "https://", "message says https is required");
	ok(oa2_http_post_form("http://127.0.0.1:1/token", "", 0, NULL, NULL, NULL,
	    &r, &err) == OA2_ERR_INPUT, "http to loopback refused unless allowed");
	ok(oa2_http_post_form("file:///etc/passwd", "", 0, NULL, NULL, NULL,
	    &r, &err) == OA2_ERR_INPUT, "file: URL refused");
	ok(oa2_http_post_form("https://127.0.0.1:1/token\r\nX-Injected: 1", "",
	    0, NULL, NULL, NULL, &r, &err) == OA2_ERR_INPUT,
	    "a URL with CR/LF is refused before any connection");
	is_str(err.code, "url", "code url");
	has_str(err.msg, "control character", "message names the control byte");
	ok(oa2_http_get("https://127.0.0.1:1/a\tb", NULL, &r, &err) ==
	    OA2_ERR_INPUT, "GET: a URL with a TAB is refused");
	ok(oa2_http_get("ftp://127.0.0.1:1/x", NULL, &r, &err) == OA2_ERR_INPUT,
	    "GET: ftp:// refused");
}

static void
test_allow_http(void)
{
	struct oa2_http_opts o = {0};
	struct oa2_http_resp r;
	struct oa2_error err;

	o.allow_http = 1;
	ok(oa2_http_post_form("http://127.0.0.1.example.com/token", "", 0, NULL,
	    NULL, &o, &r, &err) == OA2_ERR_INPUT,
	    "allow_http: a name that starts like 127.0.0.1 is no loopback literal");
	ok(oa2_http_post_form("http://localhost:1/token", "", 0, NULL, NULL, &o,
	    &r, &err) == OA2_ERR_INPUT, "allow_http: names are refused, only literals");
	ok(oa2_http_get("http://[::1]:1/x", &o, &r, &err) == OA2_ERR_TEMP,
	    "allow_http: http://[::1] is tried (refused connection: temporary)");
	is_str(err.code, "network", "code network");
}

static void
test_ca_bundle(void)
{
	struct oa2_http_opts o = {0};
	struct oa2_http_resp r;
	struct oa2_error err;
	char url[64];
	int s;

	/* A listener is enough: the CA bundle is read before the handshake. */
	if ((s = listener(url, sizeof(url))) < 0)
		return;
	o.ca_file = "/nonexistent/ca.pem";
	o.timeout_ms = 2000;
	ok(oa2_http_post_form(url, "a=b", 3, NULL, NULL, &o, &r, &err) ==
	    OA2_ERR_INPUT, "a missing CA bundle is a configuration error");
	is_str(err.code, "ca_bundle", "code ca_bundle");
	has_str(err.msg, "/nonexistent/ca.pem", "message names the file");
	close(s);
}

static void
test_refused(void)
{
	struct oa2_http_opts o = {0};
	struct oa2_http_resp r;
	struct oa2_error err;
	const char *form = "refresh_token=SECRETRT";

	/* Port 1 on loopback: nothing listens there. */
	ok(oa2_http_post_form("https://127.0.0.1:1/token", form, strlen(form),
	    "client", "SECRETCS", &o, &r, &err) == OA2_ERR_TEMP,
	    "connection refused is temporary");
	is_str(err.code, "network", "code network");
	has_str(err.msg, "127.0.0.1:1", "message names the host");
	ok(strstr(err.msg, "SECRET") == NULL, "no secret in the message");
}

static void
test_timeout(void)
{
	struct oa2_http_opts o = {0};
	struct oa2_http_resp r;
	struct oa2_error err;
	struct timespec t0, t1;
	char url[64];
	double secs;
	int s;

	/* A listener that never answers: the TLS handshake hangs. */
	if ((s = listener(url, sizeof(url))) < 0)
		return;
	o.timeout_ms = 700;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(oa2_http_post_form(url, "a=b", 3, NULL, NULL, &o, &r, &err) == OA2_ERR_TEMP,
	    "a server that never answers is a temporary failure");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	is_str(err.code, "timeout", "code timeout");
	/* The bound only tells 0.7 s from the 30 s default it would be if the
	 * option were lost: valgrind on a loaded 2-core machine took 5.7 s. */
	ok(secs >= 0.6 && secs < 20.0, "the total timeout holds (%.2f s for 0.7 s, default %d s)",
	    secs, OA2_TIMEOUT_DEFAULT);
	close(s);
}

int
main(void)
{
	test_form();
	test_host();
	test_policy();
	test_allow_http();
	test_ca_bundle();
	test_refused();
	test_timeout();
	oa2_http_cleanup();
	return tap_done();
}
