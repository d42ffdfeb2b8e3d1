/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-challenge 1
 * SUMMARY
 *	libFuzzer target: server error challenges and both client encoders
 * SYNOPSIS
 *	fuzz-challenge [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Each input is decoded with oa2_wire_parse_challenge(), and then cut
 *	at its NUL bytes into user, host and token (missing parts are
 *	NULL) for oa2_wire_xoauth2() and oa2_wire_oauthbearer(); the port
 *	comes from the input too.  Beyond the sanitizers, the target checks
 *	what the contract promises and aborts when it does not hold:
 *	challenge fields are terminated and free of control bytes; a built
 *	message has the RFC 7628 or XOAUTH2 shape and exactly the expected
 *	number of 0x01 separators; a refusal leaves the output buffer as
 *	it was; no error message quotes the token.
 *
 *	Seeds: fuzz/corpus/challenge/; dictionary: fuzz/challenge.dict.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Application-specific. */

#include "oa2_mem.h"
#include "oa2_wire.h"
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* check_field - a challenge field is terminated and holds no control byte */
static void
check_field(const char *f, size_t size)
{
	size_t	n = strnlen(f, size);

	CHECK(n < size);
	while (n-- > 0)
		CHECK((unsigned char)f[n] >= 0x20 && (unsigned char)f[n] != 0x7f);
}

/* count_byte - occurrences of c in s[0..len) */
static size_t
count_byte(const char *s, size_t len, int c)
{
	size_t	n = 0;

	while (len-- > 0)
		if ((unsigned char)*s++ == (unsigned char)c)
			n++;
	return n;
}

/* check_no_token - a long, space-free token never shows in a message */
static void
check_no_token(const char *msg, const char *token)
{
	size_t	len;

	if (token == NULL || (len = strlen(token)) < 16
	    || strchr(token, ' ') != NULL)
		return;
	CHECK(strstr(msg, token) == NULL);
}

/* fuzz_parse - the challenge decoder */
static void
fuzz_parse(const uint8_t *data, size_t size)
{
	struct oa2_challenge c;
	struct oa2_error err;
	enum oa2_status st;

	memset(&c, 0, sizeof(c));
	oa2_error_clear(&err);
	st = oa2_wire_parse_challenge((const char *)data, size, &c, &err);
	if (st == OA2_OK) {
		check_field(c.status, sizeof(c.status));
		check_field(c.schemes, sizeof(c.schemes));
		check_field(c.scope, sizeof(c.scope));
		check_field(c.openid_configuration,
		    sizeof(c.openid_configuration));
		(void)oa2_wire_challenge_is_token_error(&c);
	} else {
		CHECK(st == OA2_ERR_PROTO || st == OA2_ERR_NOMEM);
		CHECK(err.status == st && err.msg[0] != 0);
		for (size_t i = 0; i < sizeof(c); i++)
			CHECK(((const char *)&c)[i] == 0);
	}
}

/* fuzz_build - both encoders on user \0 host \0 token */
static void
fuzz_build(const uint8_t *data, size_t size)
{
	static const char sentinel[] = "old\001content";
	struct oa2_error err;
	struct oa2_buf out;
	const char *user, *host, *token;
	enum oa2_status st;
	unsigned port = 0;
	size_t	i, n, hlen;
	char   *copy, *p, *end;

	if ((copy = malloc(size + 1)) == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = 0;
	end = copy + size;
	user = copy;
	p = copy + strlen(copy);
	host = p < end ? ++p : NULL;
	if (host != NULL)
		p += strlen(p);
	token = p < end ? ++p : NULL;
	if (host != NULL && token == NULL) {
		/* Two parts: user and token, no host. */
		token = host;
		host = NULL;
	}
	for (i = 0; i < size; i++)
		port = port * 31 + data[i];
	port %= 70000;				/* some are out of range */

	/* XOAUTH2 */
	oa2_buf_init(&out, (size & 1) ? 0 : 64);
	CHECK(oa2_buf_append(&out, sentinel, sizeof(sentinel) - 1) == 0);
	st = oa2_wire_xoauth2(&out, user, token, &err);
	if (st == OA2_OK) {
		CHECK(out.len > 5 && memcmp(out.data, "user=", 5) == 0);
		CHECK(memcmp(out.data + out.len - 2, "\001\001", 2) == 0);
		CHECK(count_byte(out.data, out.len, 0x01) == 3);
		CHECK(count_byte(out.data, out.len, '\r') == 0);
		CHECK(count_byte(out.data, out.len, '\n') == 0);
		n = strlen(token);
		CHECK(memcmp(out.data + out.len - 2 - n, token, n) == 0);
		CHECK(memcmp(out.data + out.len - 2 - n - 12, "auth=Bearer ",
		    12) == 0);
	} else {
		CHECK(st == OA2_ERR_INPUT || st == OA2_ERR_NOMEM);
		CHECK(out.len == sizeof(sentinel) - 1
		    && memcmp(out.data, sentinel, out.len) == 0);
		check_no_token(err.msg, token);
	}
	oa2_buf_free(&out);

	/* OAUTHBEARER */
	oa2_buf_init(&out, (size & 2) ? 0 : 96);
	CHECK(oa2_buf_append(&out, sentinel, sizeof(sentinel) - 1) == 0);
	st = oa2_wire_oauthbearer(&out, user, host, port, token, &err);
	if (st == OA2_OK) {
		hlen = host ? strlen(host) : 0;
		CHECK(out.len > 4 && memcmp(out.data, "n,a=", 4) == 0);
		CHECK(memcmp(out.data + out.len - 2, "\001\001", 2) == 0);
		CHECK(count_byte(out.data, out.len, 0x01)
		    == (size_t)(3 + (hlen != 0) + (port != 0)));
		CHECK(count_byte(out.data, out.len, '\r') == 0);
		CHECK(count_byte(out.data, out.len, '\n') == 0);
		/* The saslname ends at the first ",": no bare "," in it. */
		p = memchr(out.data, 0x01, out.len);
		CHECK(p != NULL && p[-1] == ',');
		CHECK(count_byte(out.data + 4, (size_t)(p - out.data) - 5,
		    ',') == 0);
		n = strlen(token);
		CHECK(memcmp(out.data + out.len - 2 - n, token, n) == 0);
	} else {
		CHECK(st == OA2_ERR_INPUT || st == OA2_ERR_NOMEM);
		CHECK(out.len == sizeof(sentinel) - 1
		    && memcmp(out.data, sentinel, out.len) == 0);
		check_no_token(err.msg, token);
	}
	oa2_buf_free(&out);

	/* The checker on the raw bytes, NULs and all. */
	st = oa2_wire_check_token((const char *)data, size, &err);
	if (st == OA2_OK)
		for (i = 0; i < size; i++)
			CHECK(data[i] > 0x20 && data[i] < 0x7f);
	else if (size >= 16 && memchr(data, ' ', size) == NULL)
		CHECK(memmem(err.msg, strlen(err.msg), data, size) == NULL);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_build(data, size);
	return 0;
}
