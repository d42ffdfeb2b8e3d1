/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	test-wire 1
 * SUMMARY
 *	unit tests for oa2_wire: client messages, refusals, error challenges
 * SYNOPSIS
 *	test-wire
 * DESCRIPTION
 *	Table-driven TAP tests.  The message tables hold the exact bytes
 *	each mechanism must send (RFC 7628 section 4.1, Google's XOAUTH2
 *	page); the refusal tables hold every input that must not reach the
 *	wire, and check that the output buffer is untouched and that no
 *	message quotes the token; the challenge tables hold what Google
 *	and Dovecot really send plus malformed variants.  An allocation
 *	failure loop checks that out-of-memory leaves out untouched too.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Application-specific. */

#include "oa2_mem.h"
#include "oa2_wire.h"
#include "tap.h"

#define BYTES(s)	s, sizeof(s) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

enum mech {
	XOAUTH2, OAUTHBEARER
};

/* escape - printable form of a byte string for a diagnostic */
static const char *
escape(const char *s, size_t len)
{
	static char buf[2][512];
	static int which;
	char   *d = buf[which ^= 1];
	size_t	i, n = 0;

	for (i = 0; i < len && n < sizeof(buf[0]) - 8; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 1)
			n += (size_t)snprintf(d + n, 8, "^A");
		else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(d + n, 8, "\\x%02x", c);
		else
			d[n++] = (char)c;
	}
	d[n] = 0;
	return d;
}

/* is_bytes - compare a byte string, with an escaped got/want diagnostic */
static int is_bytes(const char *got, size_t glen, const char *want,
    size_t wlen, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int
is_bytes(const char *got, size_t glen, const char *want, size_t wlen,
    const char *fmt, ...)
{
	char	name[256];
	va_list	ap;
	int	cond;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	cond = got != NULL && glen == wlen && memcmp(got, want, wlen) == 0;
	ok(cond, "%s", name);
	if (!cond)
		printf("# got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)\n",
		    got ? escape(got, glen) : "(null)", glen,
		    escape(want, wlen), wlen);
	return cond;
}

/* build - call the builder for one mechanism */
static enum oa2_status
build(enum mech mech, struct oa2_buf *out, const char *user, const char *host,
    unsigned port, const char *token, struct oa2_error *err)
{
	if (mech == XOAUTH2)
		return oa2_wire_xoauth2(out, user, token, err);
	return oa2_wire_oauthbearer(out, user, host, port, token, err);
}

/* ---- messages that must come out byte for byte ---- */

static const struct msg_case {
	const char *name;
	enum mech mech;
	const char *user;
	const char *host;
	unsigned port;
	const char *token;
	const char *want;
	size_t	want_len;
} msg_cases[] = {
	{"xoauth2: Google's example",
	    XOAUTH2, "someuser@example.com", NULL, 0,
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
	    BYTES("user=someuser@example.com\001auth=Bearer "
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\001\001")},
	{"xoauth2: \",\" and \"=\" in the user are sent as they are",
	    XOAUTH2, "a,b=c@example.com", NULL, 0, "tok",
	    BYTES("user=a,b=c@example.com\001auth=Bearer tok\001\001")},
	{"xoauth2: host and port are not part of XOAUTH2",
	    XOAUTH2, "u@example.com", "imap.example.com", 993, "tok",
	    BYTES("user=u@example.com\001auth=Bearer tok\001\001")},
	{"xoauth2: a Microsoft-style opaque token",
	    XOAUTH2, "user@contoso.onmicrosoft.com", NULL, 0,
	    "EwBwA8l6BAAUbDba3x2OMJElkF7gJ4z/VbCPEz0AAQ+7Vkx/y4e6+K4aGn0=",
	    BYTES("user=user@contoso.onmicrosoft.com\001auth=Bearer "
	    "EwBwA8l6BAAUbDba3x2OMJElkF7gJ4z/VbCPEz0AAQ+7Vkx/y4e6+K4aGn0="
	    "\001\001")},
	{"xoauth2: a JWT",
	    XOAUTH2, "u@example.com", NULL, 0,
	    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl-_",
	    BYTES("user=u@example.com\001auth=Bearer "
	    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl-_\001\001")},
	{"xoauth2: every printable ASCII byte is accepted in a token",
	    XOAUTH2, "u", NULL, 0, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
	    BYTES("user=u\001auth=Bearer !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	    "\001\001")},
	{"xoauth2: a user with a TAB and non-ASCII bytes is sent as it is",
	    XOAUTH2, "j\xc3\xb6rg\tx", NULL, 0, "t",
	    BYTES("user=j\xc3\xb6rg\tx\001auth=Bearer t\001\001")},
	{"oauthbearer: RFC 7628 section 4.1 example",
	    OAUTHBEARER, "user@example.com", "server.example.com", 143,
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	    BYTES("n,a=user@example.com,\001host=server.example.com\001"
	    "port=143\001auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
	    "\001\001")},
	{"oauthbearer: NULL host and port 0 leave both out",
	    OAUTHBEARER, "user@example.com", NULL, 0,
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	    BYTES("n,a=user@example.com,\001auth=Bearer "
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001")},
	{"oauthbearer: empty host is left out, port kept",
	    OAUTHBEARER, "user@example.com", "", 587, "tok",
	    BYTES("n,a=user@example.com,\001port=587\001auth=Bearer tok"
	    "\001\001")},
	{"oauthbearer: host without port (Postfix gives no port)",
	    OAUTHBEARER, "user@example.com", "smtp.gmail.com", 0, "tok",
	    BYTES("n,a=user@example.com,\001host=smtp.gmail.com\001"
	    "auth=Bearer tok\001\001")},
	{"oauthbearer: highest port",
	    OAUTHBEARER, "u", "h", 65535, "t",
	    BYTES("n,a=u,\001host=h\001port=65535\001auth=Bearer t\001\001")},
	{"oauthbearer: \",\" and \"=\" in the user become =2C and =3D",
	    OAUTHBEARER, "a,b=c@example.com", NULL, 0, "tok",
	    BYTES("n,a=a=2Cb=3Dc@example.com,\001auth=Bearer tok\001\001")},
	{"oauthbearer: a user made of nothing but escapes",
	    OAUTHBEARER, ",=,=", NULL, 0, "tok",
	    BYTES("n,a==2C=3D=2C=3D,\001auth=Bearer tok\001\001")},
	{"oauthbearer: escapes at both ends of the user",
	    OAUTHBEARER, "=user,", NULL, 0, "tok",
	    BYTES("n,a==3Duser=2C,\001auth=Bearer tok\001\001")},
	{"oauthbearer: an IPv6 literal host",
	    OAUTHBEARER, "u", "[::1]", 1993, "tok",
	    BYTES("n,a=u,\001host=[::1]\001port=1993\001auth=Bearer tok"
	    "\001\001")},
};

/* test_messages - exact bytes of every message in msg_cases */
static void
test_messages(void)
{
	struct oa2_error err;
	struct oa2_buf out;
	enum oa2_status st;
	size_t	i;

	for (i = 0; i < NELEM(msg_cases); i++) {
		const struct msg_case *c = msg_cases + i;

		oa2_buf_init(&out, 0);
		oa2_error_clear(&err);
		st = build(c->mech, &out, c->user, c->host, c->port, c->token,
		    &err);
		if (!is_int(st, OA2_OK, "%s: status", c->name))
			printf("# %s: %s\n", err.code, err.msg);
		is_bytes(out.data, out.len, c->want, c->want_len, "%s", c->name);
		oa2_buf_free(&out);
	}
}

/* test_replace - a success replaces what out held; a bounded out is respected */
static void
test_replace(void)
{
	struct oa2_error err;
	struct oa2_buf out;
	char   *token;
	enum oa2_status st;

	oa2_buf_init(&out, 0);
	oa2_buf_puts(&out, "an earlier, longer message that must disappear");
	st = oa2_wire_xoauth2(&out, "u", "t", &err);
	is_int(st, OA2_OK, "replace: status");
	is_bytes(out.data, out.len, BYTES("user=u\001auth=Bearer t\001\001"),
	    "replace: the old content is gone");
	st = oa2_wire_oauthbearer(&out, "u", NULL, 0, "t", &err);
	is_bytes(out.data, out.len, BYTES("n,a=u,\001auth=Bearer t\001\001"),
	    "replace: a second build replaces the first");
	oa2_buf_free(&out);

	/* A token of exactly OA2_TOKEN_MAX bytes is fine. */
	token = malloc(OA2_TOKEN_MAX + 1);
	memset(token, 'A', OA2_TOKEN_MAX);
	token[OA2_TOKEN_MAX] = 0;
	oa2_buf_init(&out, 0);
	st = oa2_wire_oauthbearer(&out, "u", "h", 1, token, &err);
	is_int(st, OA2_OK, "token of OA2_TOKEN_MAX bytes: accepted");
	is_int((long long)out.len,
	    (long long)(sizeof("n,a=u,\001host=h\001port=1\001auth=Bearer ") - 1
	    + OA2_TOKEN_MAX + 2), "token of OA2_TOKEN_MAX bytes: length");
	oa2_buf_free(&out);

	/* A message that would exceed out's own cap is refused. */
	oa2_buf_init(&out, 64);
	oa2_buf_puts(&out, "previous");
	oa2_error_clear(&err);
	st = oa2_wire_xoauth2(&out, "u", token, &err);
	is_int(st, OA2_ERR_INPUT, "over out's cap: refused");
	is_str(err.code, "too_long", "over out's cap: code");
	is_bytes(out.data, out.len, BYTES("previous"),
	    "over out's cap: out unchanged");
	ok(strstr(err.msg, "AAAAAAAA") == NULL,
	    "over out's cap: message holds no token");
	oa2_buf_free(&out);
	free(token);

	/* NULL out is a bug of the caller, not a crash. */
	st = oa2_wire_xoauth2(NULL, "u", "t", &err);
	is_int(st, OA2_ERR_INTERNAL, "NULL out: internal error");
	st = oa2_wire_oauthbearer(NULL, "u", NULL, 0, "t", &err);
	is_int(st, OA2_ERR_INTERNAL, "NULL out (oauthbearer): internal error");
}

/* ---- inputs that must never reach the wire ---- */

static const struct refuse_case {
	const char *name;
	enum mech mech;
	const char *user;
	const char *host;
	unsigned port;
	const char *token;
	const char *code;
	const char *msg_has;		/* a piece of the expected message */
} refuse_cases[] = {
	{"empty token", XOAUTH2, "u", NULL, 0, "", "bad_token", "empty"},
	{"NULL token", XOAUTH2, "u", NULL, 0, NULL, "bad_token", "empty"},
	{"token with 0x01", XOAUTH2, "u", NULL, 0, "ya29.ab\001cd",
	    "bad_token", "0x01 byte (the SASL separator) at offset 7"},
	{"token with CR", XOAUTH2, "u", NULL, 0, "ya29.abcd\r",
	    "bad_token", "a CR at offset 9 (token length 10)"},
	{"token with LF", XOAUTH2, "u", NULL, 0, "ya29.abcd\n",
	    "bad_token", "a LF at offset 9"},
	{"token with CRLF", OAUTHBEARER, "u", NULL, 0, "ya29.abcd\r\n",
	    "bad_token", "a CR at offset 9"},
	{"token with a space", XOAUTH2, "u", NULL, 0, "Bearer ya29.abcd",
	    "bad_token", "a space at offset 6"},
	{"token with a TAB", OAUTHBEARER, "u", NULL, 0, "ya29\tabcd",
	    "bad_token", "a TAB at offset 4"},
	{"token with ESC", XOAUTH2, "u", NULL, 0, "ya29\033[0m",
	    "bad_token", "control byte 0x1b at offset 4"},
	{"token with DEL", XOAUTH2, "u", NULL, 0, "ya29\177",
	    "bad_token", "DEL byte at offset 4"},
	{"token with non-ASCII", OAUTHBEARER, "u", "h", 1, "tok\xc3\xa9n",
	    "bad_token", "non-ASCII byte 0xc3 at offset 3"},
	{"token with a leading 0x80", XOAUTH2, "u", NULL, 0, "\x80tok",
	    "bad_token", "non-ASCII byte 0x80 at offset 0"},
	{"empty user", XOAUTH2, "", NULL, 0, "tok", "bad_user", "empty"},
	{"empty user (oauthbearer)", OAUTHBEARER, "", NULL, 0, "tok",
	    "bad_user", "empty"},
	{"NULL user", OAUTHBEARER, NULL, NULL, 0, "tok", "bad_user", "empty"},
	{"user with 0x01", XOAUTH2, "u\001auth=Bearer evil", NULL, 0, "tok",
	    "bad_user", "0x01 byte (the SASL separator) at offset 1"},
	{"user with CR", OAUTHBEARER, "u\r", NULL, 0, "tok", "bad_user",
	    "a CR at offset 1"},
	{"user with LF", XOAUTH2, "user@example.com\n", NULL, 0, "tok",
	    "bad_user", "a LF at offset 16"},
	{"host with \",\"", OAUTHBEARER, "u", "a,b", 1, "tok", "bad_host",
	    "\",\" at offset 1"},
	{"host with 0x01", OAUTHBEARER, "u", "a\001port=1", 1, "tok",
	    "bad_host", "0x01 byte (the SASL separator) at offset 1"},
	{"host with CR", OAUTHBEARER, "u", "host\r", 1, "tok", "bad_host",
	    "a CR at offset 4"},
	{"host with LF", OAUTHBEARER, "u", "host\n", 0, "tok", "bad_host",
	    "a LF at offset 4"},
	{"host with a space", OAUTHBEARER, "u", "a b", 0, "tok", "bad_host",
	    "a space at offset 1"},
	{"host with a control byte", OAUTHBEARER, "u", "a\002", 0, "tok",
	    "bad_host", "control byte 0x02 at offset 1"},
	{"host with non-ASCII", OAUTHBEARER, "u", "m\xc3\xbcnchen.de", 0,
	    "tok", "bad_host", "non-ASCII byte 0xc3 at offset 1"},
	{"port out of range", OAUTHBEARER, "u", "h", 65536, "tok", "bad_port",
	    "65536"},
	{"the user is checked before the token", XOAUTH2, "", NULL, 0, "",
	    "bad_user", "user name is empty"},
};

/* check_refusal - one refused build: status, code, message, out untouched */
static void
check_refusal(const char *name, enum mech mech, const char *user,
    const char *host, unsigned port, const char *token, const char *code,
    const char *msg_has)
{
	struct oa2_error err;
	struct oa2_buf out;
	enum oa2_status st;

	oa2_buf_init(&out, 0);
	oa2_buf_append(&out, BYTES("previous\0content"));
	oa2_error_clear(&err);
	st = build(mech, &out, user, host, port, token, &err);
	is_int(st, OA2_ERR_INPUT, "refuse %s: status", name);
	is_str(err.code, code, "refuse %s: code", name);
	has_str(err.msg, msg_has, "refuse %s: message", name);
	is_bytes(out.data, out.len, BYTES("previous\0content"),
	    "refuse %s: out unchanged", name);
	if (token != NULL && strlen(token) > 3)
		ok(strstr(err.msg, token) == NULL,
		    "refuse %s: message does not quote the token", name);
	oa2_buf_free(&out);
}

/* test_refusals - every refuse_case, plus the generated long inputs */
static void
test_refusals(void)
{
	char   *big;
	size_t	i;

	for (i = 0; i < NELEM(refuse_cases); i++) {
		const struct refuse_case *c = refuse_cases + i;

		check_refusal(c->name, c->mech, c->user, c->host, c->port,
		    c->token, c->code, c->msg_has);
	}

	big = malloc(OA2_TOKEN_MAX + 2);
	memset(big, 'k', OA2_TOKEN_MAX + 1);
	big[OA2_TOKEN_MAX + 1] = 0;
	check_refusal("token one byte too long", XOAUTH2, "u", NULL, 0, big,
	    "bad_token", "too long (16385 bytes, at most 16384)");
	check_refusal("token one byte too long (oauthbearer)", OAUTHBEARER,
	    "u", NULL, 0, big, "bad_token", "too long");
	big[OA2_USER_MAX + 1] = 0;
	check_refusal("user one byte too long", XOAUTH2, big, NULL, 0, "tok",
	    "bad_user", "too long");
	big[OA2_USER_MAX] = 0;
	check_refusal("user of OA2_USER_MAX bytes but a bad token", XOAUTH2,
	    big, NULL, 0, "t\r", "bad_token", "CR");
	big[256] = 0;
	check_refusal("host of 256 bytes", OAUTHBEARER, "u", big, 0, "tok",
	    "bad_host", "too long");
	free(big);
}

/* ---- oa2_wire_check_token() on explicit lengths ---- */

static const struct check_case {
	const char *name;
	const char *tok;
	size_t	len;
	enum oa2_status want;
	const char *msg_has;
} check_cases[] = {
	{"plain b64token", BYTES("abcDEF123-._~+/=="), OA2_OK, NULL},
	{"NUL inside", BYTES("abc\0def"), OA2_ERR_INPUT,
	    "a NUL byte at offset 3 (token length 7)"},
	{"NUL at the end", BYTES("abcdef\0"), OA2_ERR_INPUT,
	    "NUL byte at offset 6"},
	{"zero length", BYTES(""), OA2_ERR_INPUT, "empty"},
	{"NULL pointer", NULL, 0, OA2_ERR_INPUT, "empty"},
	{"one byte", BYTES("x"), OA2_OK, NULL},
	{"only \"=\"", BYTES("="), OA2_OK, NULL},
	{"0xff", BYTES("ab\xff"), OA2_ERR_INPUT, "0xff at offset 2"},
};

/* test_check_token - the table above, plus the length limit */
static void
test_check_token(void)
{
	struct oa2_error err;
	enum oa2_status st;
	char   *big;
	size_t	i;

	for (i = 0; i < NELEM(check_cases); i++) {
		const struct check_case *c = check_cases + i;

		oa2_error_clear(&err);
		st = oa2_wire_check_token(c->tok, c->len, &err);
		is_int(st, c->want, "check_token %s: status", c->name);
		if (c->msg_has != NULL)
			has_str(err.msg, c->msg_has, "check_token %s: message",
			    c->name);
		else
			is_str(err.msg, "", "check_token %s: err untouched",
			    c->name);
	}
	big = malloc(OA2_TOKEN_MAX + 1);
	memset(big, 'z', OA2_TOKEN_MAX + 1);
	is_int(oa2_wire_check_token(big, OA2_TOKEN_MAX, &err), OA2_OK,
	    "check_token: OA2_TOKEN_MAX bytes");
	is_int(oa2_wire_check_token(big, OA2_TOKEN_MAX + 1, &err),
	    OA2_ERR_INPUT, "check_token: OA2_TOKEN_MAX + 1 bytes");
	ok(strstr(err.msg, "zzzz") == NULL,
	    "check_token: too long message holds no token");
	is_int(oa2_wire_check_token(big, OA2_TOKEN_MAX, NULL), OA2_OK,
	    "check_token: err may be NULL");
	free(big);
	is_int(oa2_wire_check_token("a b", 3, NULL), OA2_ERR_INPUT,
	    "check_token: err may be NULL on refusal");
}

/* test_nomem - every allocation failure leaves out untouched */
static void
test_nomem(void)
{
	struct oa2_error err;
	struct oa2_buf out;
	enum oa2_status st;
	unsigned long k;
	int	mech, clean = 1, done = 0;

	for (mech = XOAUTH2; mech <= OAUTHBEARER; mech++) {
		for (k = 1; k < 100; k++) {
			oa2_buf_init(&out, 0);
			if (oa2_buf_puts(&out, "previous") < 0)
				abort();
			oa2_mem_fail_at(k);
			st = build((enum mech)mech, &out, "a,b=c", "host.example",
			    993, "tok", &err);
			oa2_mem_fail_at(0);
			if (st == OA2_OK) {
				done = 1;
				oa2_buf_free(&out);
				break;
			}
			if (st != OA2_ERR_NOMEM || strcmp(err.code, "nomem") != 0
			    || out.len != 8 || strcmp(out.data, "previous") != 0)
				clean = 0;
			oa2_buf_free(&out);
		}
		ok(done && clean, "%s: each failed allocation gives "
		    "OA2_ERR_NOMEM and leaves out untouched (%lu tried)",
		    mech == XOAUTH2 ? "xoauth2" : "oauthbearer", k - 1);
	}
}

/* ---- server error challenges ---- */

static const struct chal_case {
	const char *name;
	const char *in;
	size_t	len;
	enum oa2_status want;
	const char *status;
	const char *schemes;
	const char *scope;
	const char *openid;
	int	token_error;
} chal_cases[] = {
	{"Google XOAUTH2 401",
	    BYTES("{\"status\":\"401\",\"schemes\":\"bearer mac\","
	    "\"scope\":\"https://mail.google.com/\"}"),
	    OA2_OK, "401", "bearer mac", "https://mail.google.com/", "", 1},
	{"Google XOAUTH2 400",
	    BYTES("{\"status\":\"400\",\"schemes\":\"Bearer\","
	    "\"scope\":\"https://mail.google.com/\"}"),
	    OA2_OK, "400", "Bearer", "https://mail.google.com/", "", 0},
	{"Dovecot XOAUTH2",
	    BYTES("{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\","
	    "\"openid-configuration\":"
	    "\"https://127.0.0.1:8443/.well-known/openid-configuration\"}"),
	    OA2_OK, "401", "bearer", "mail",
	    "https://127.0.0.1:8443/.well-known/openid-configuration", 1},
	{"Dovecot OAUTHBEARER",
	    BYTES("{\"status\":\"invalid_token\",\"openid-configuration\":"
	    "\"https://127.0.0.1:8443/.well-known/openid-configuration\"}"),
	    OA2_OK, "invalid_token", "", "",
	    "https://127.0.0.1:8443/.well-known/openid-configuration", 1},
	{"Dovecot insufficient_scope",
	    BYTES("{\"status\":\"insufficient_scope\",\"scope\":\"mail\"}"),
	    OA2_OK, "insufficient_scope", "", "mail", "", 0},
	{"RFC 7628 invalid_request",
	    BYTES("{\"status\":\"invalid_request\"}"),
	    OA2_OK, "invalid_request", "", "", "", 0},
	{"numeric status 401",
	    BYTES("{\"status\":401,\"schemes\":\"bearer\"}"),
	    OA2_OK, "401", "bearer", "", "", 1},
	{"numeric status 403", BYTES("{\"status\":403}"),
	    OA2_OK, "403", "", "", "", 0},
	{"real status 401.0", BYTES("{\"status\":401.0}"),
	    OA2_OK, "401", "", "", "", 1},
	{"real status 401.5", BYTES("{\"status\":401.5}"),
	    OA2_OK, "401.5", "", "", "", 0},
	{"whitespace around the object",
	    BYTES(" \r\n{ \"status\" : \"401\" }\n"),
	    OA2_OK, "401", "", "", "", 1},
	{"unknown members are ignored",
	    BYTES("{\"status\":\"401\",\"x\":{\"y\":[1,2,3]},\"z\":null}"),
	    OA2_OK, "401", "", "", "", 1},
	{"non-string optional members are ignored",
	    BYTES("{\"status\":\"401\",\"schemes\":[\"bearer\"],\"scope\":7,"
	    "\"openid-configuration\":null}"),
	    OA2_OK, "401", "", "", "", 1},
	{"escapes are decoded",
	    BYTES("{\"status\":\"invalid\\u005ftoken\",\"scope\":\"a\\/b\"}"),
	    OA2_OK, "invalid_token", "", "a/b", "", 1},
	{"control characters become ?",
	    BYTES("{\"status\":\"401\",\"scope\":\"a\\nb\\u001b[31m\\u0085c\"}"),
	    OA2_OK, "401", "", "a?b?[31m?c", "", 1},
	{"empty status string", BYTES("{\"status\":\"\"}"),
	    OA2_OK, "", "", "", "", 0},
	{"not JSON", BYTES("authentication failed"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"empty input", BYTES(""), OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"a JSON array", BYTES("[\"status\",\"401\"]"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"a bare JSON string", BYTES("\"401\""), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"a bare JSON number", BYTES("401"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"missing status", BYTES("{\"schemes\":\"bearer\",\"scope\":\"x\"}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"status null", BYTES("{\"status\":null}"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"status true", BYTES("{\"status\":true}"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"status an object", BYTES("{\"status\":{\"code\":401}}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"duplicate status", BYTES("{\"status\":\"400\",\"status\":\"401\"}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"truncated", BYTES("{\"status\":\"401\",\"schemes\":\"bea"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"trailing garbage", BYTES("{\"status\":\"401\"}x"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"two objects", BYTES("{\"status\":\"401\"}{\"status\":\"400\"}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"raw NUL inside a string", BYTES("{\"status\":\"40\0001\"}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"escaped NUL inside a string", BYTES("{\"status\":\"40\\u00001\"}"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"NUL after the object", BYTES("{\"status\":\"401\"}\0"),
	    OA2_ERR_PROTO, NULL, NULL, NULL, NULL, 0},
	{"invalid UTF-8", BYTES("{\"status\":\"40\xff\"}"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
	{"a lone 0x01 (not a challenge)", BYTES("\001"), OA2_ERR_PROTO,
	    NULL, NULL, NULL, NULL, 0},
};

/* fill_sentinel - give out a content that a failed parse must keep */
static void
fill_sentinel(struct oa2_challenge *c)
{
	memset(c, 'S', sizeof(*c));
	c->status[sizeof(c->status) - 1] = 0;
	c->schemes[sizeof(c->schemes) - 1] = 0;
	c->scope[sizeof(c->scope) - 1] = 0;
	c->openid_configuration[sizeof(c->openid_configuration) - 1] = 0;
}

/* test_challenges - chal_cases */
static void
test_challenges(void)
{
	struct oa2_challenge c, sentinel;
	struct oa2_error err;
	enum oa2_status st;
	size_t	i;

	fill_sentinel(&sentinel);
	for (i = 0; i < NELEM(chal_cases); i++) {
		const struct chal_case *t = chal_cases + i;

		fill_sentinel(&c);
		oa2_error_clear(&err);
		st = oa2_wire_parse_challenge(t->in, t->len, &c, &err);
		if (!is_int(st, t->want, "challenge %s: status", t->name))
			printf("# %s\n", err.msg);
		if (t->want != OA2_OK) {
			is_str(err.code, "bad_challenge",
			    "challenge %s: code", t->name);
			ok(memcmp(&c, &sentinel, sizeof(c)) == 0,
			    "challenge %s: out unchanged", t->name);
			continue;
		}
		is_str(c.status, t->status, "challenge %s: status field",
		    t->name);
		is_str(c.schemes, t->schemes, "challenge %s: schemes", t->name);
		is_str(c.scope, t->scope, "challenge %s: scope", t->name);
		is_str(c.openid_configuration, t->openid,
		    "challenge %s: openid-configuration", t->name);
		is_int(oa2_wire_challenge_is_token_error(&c), t->token_error,
		    "challenge %s: is_token_error", t->name);
	}

	/* Messages say where the JSON broke. */
	st = oa2_wire_parse_challenge(BYTES("<html>"), &c, &err);
	is_str(err.msg, "server error challenge is not JSON (line 1, column 1)",
	    "challenge not JSON: message");
	st = oa2_wire_parse_challenge(BYTES("{}"), &c, &err);
	is_str(err.msg, "server error challenge has no \"status\"",
	    "challenge without status: message");
	st = oa2_wire_parse_challenge(NULL, 0, &c, &err);
	is_int(st, OA2_ERR_PROTO, "challenge NULL, 0: protocol error");
	is_str(err.msg, "server error challenge is empty",
	    "challenge NULL, 0: message");
	st = oa2_wire_parse_challenge(NULL, 5, &c, &err);
	is_int(st, OA2_ERR_INTERNAL, "challenge NULL, 5: internal error");
	st = oa2_wire_parse_challenge(BYTES("{\"status\":\"401\"}"), NULL, &err);
	is_int(st, OA2_ERR_INTERNAL, "challenge into NULL: internal error");
}

/* test_challenge_limits - long values are cut safely; long input is refused */
static void
test_challenge_limits(void)
{
	struct oa2_challenge c;
	struct oa2_error err;
	enum oa2_status st;
	size_t	n, i;
	char   *in;

	in = malloc(128 * 1024);

	/* status of 100 "4"s, scope of 2000 "s", schemes of 1000 "b". */
	n = (size_t)sprintf(in, "{\"status\":\"");
	for (i = 0; i < 100; i++)
		in[n++] = '4';
	n += (size_t)sprintf(in + n, "\",\"scope\":\"");
	for (i = 0; i < 2000; i++)
		in[n++] = 's';
	n += (size_t)sprintf(in + n, "\",\"schemes\":\"");
	for (i = 0; i < 1000; i++)
		in[n++] = 'b';
	n += (size_t)sprintf(in + n, "\",\"openid-configuration\":\"");
	for (i = 0; i < 600; i++)
		in[n++] = 'o';
	n += (size_t)sprintf(in + n, "\"}");
	st = oa2_wire_parse_challenge(in, n, &c, &err);
	is_int(st, OA2_OK, "oversized fields: accepted");
	is_int((long long)strlen(c.status), (long long)sizeof(c.status) - 1,
	    "oversized status: cut to the field");
	is_int((long long)strlen(c.scope), (long long)sizeof(c.scope) - 1,
	    "oversized scope: cut to the field");
	is_int((long long)strlen(c.schemes), (long long)sizeof(c.schemes) - 1,
	    "oversized schemes: cut to the field");
	is_int((long long)strlen(c.openid_configuration),
	    (long long)sizeof(c.openid_configuration) - 1,
	    "oversized openid-configuration: cut to the field");
	ok(strspn(c.scope, "s") == sizeof(c.scope) - 1,
	    "oversized scope: the kept part is the start");
	is_int(oa2_wire_challenge_is_token_error(&c), 0,
	    "oversized status: not a token error");

	/* A 2-byte character across the cut is dropped whole. */
	n = (size_t)sprintf(in, "{\"status\":\"");
	for (i = 0; i < sizeof(c.status) - 2; i++)
		in[n++] = 'x';
	n += (size_t)sprintf(in + n, "\xc3\xa9yyy\"}");
	st = oa2_wire_parse_challenge(in, n, &c, &err);
	is_int(st, OA2_OK, "cut inside a character: accepted");
	is_int((long long)strlen(c.status), (long long)sizeof(c.status) - 2,
	    "cut inside a character: the whole character goes");
	/* Exactly fitting 2-byte character is kept. */
	n = (size_t)sprintf(in, "{\"status\":\"");
	for (i = 0; i < sizeof(c.status) - 3; i++)
		in[n++] = 'x';
	n += (size_t)sprintf(in + n, "\xc3\xa9yyy\"}");
	st = oa2_wire_parse_challenge(in, n, &c, &err);
	ok(st == OA2_OK && strlen(c.status) == sizeof(c.status) - 1
	    && memcmp(c.status + sizeof(c.status) - 3, "\xc3\xa9", 2) == 0,
	    "character ending right at the cut: kept");
	/* A 4-byte character across the cut. */
	n = (size_t)sprintf(in, "{\"status\":\"");
	for (i = 0; i < sizeof(c.status) - 3; i++)
		in[n++] = 'x';
	n += (size_t)sprintf(in + n, "\xf0\x9f\x98\x80\"}");
	st = oa2_wire_parse_challenge(in, n, &c, &err);
	is_int((long long)strlen(c.status), (long long)sizeof(c.status) - 3,
	    "4-byte character across the cut: dropped whole");

	/* 64 KiB of input is the limit. */
	n = (size_t)sprintf(in, "{\"status\":\"401\",\"x\":\"");
	while (n < 64 * 1024 - 2)
		in[n++] = 'p';
	n += (size_t)sprintf(in + n, "\"}");
	st = oa2_wire_parse_challenge(in, n, &c, &err);
	is_int(st, OA2_OK, "challenge of exactly 64 KiB: accepted");
	memmove(in + 1, in, n);
	in[0] = ' ';
	st = oa2_wire_parse_challenge(in, n + 1, &c, &err);
	is_int(st, OA2_ERR_PROTO, "challenge of 64 KiB + 1: refused");
	has_str(err.msg, "too long (65537 bytes", "challenge too long: message");
	free(in);
}

/* ---- oa2_wire_challenge_is_token_error() ---- */

static const struct te_case {
	const char *status;
	int	want;
} te_cases[] = {
	{"401", 1},
	{"invalid_token", 1},
	{"INVALID_TOKEN", 1},
	{"400", 0},
	{"403", 0},
	{"insufficient_scope", 0},
	{"invalid_request", 0},
	{"", 0},
	{"4010", 0},
	{"40", 0},
	{" 401", 0},
	{"invalid_token ", 0},
	{"500", 0},
};

/* test_is_token_error - te_cases */
static void
test_is_token_error(void)
{
	struct oa2_challenge c;
	size_t	i;

	for (i = 0; i < NELEM(te_cases); i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.status, sizeof(c.status), "%s", te_cases[i].status);
		is_int(oa2_wire_challenge_is_token_error(&c), te_cases[i].want,
		    "is_token_error(\"%s\")", te_cases[i].status);
	}
	is_int(oa2_wire_challenge_is_token_error(NULL), 0,
	    "is_token_error(NULL)");
}

int
main(void)
{
	test_messages();
	test_replace();
	test_refusals();
	test_check_token();
	test_nomem();
	test_challenges();
	test_challenge_limits();
	test_is_token_error();
	return tap_done();
}
