/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_wire 3
 * SUMMARY
 *	XOAUTH2 and OAUTHBEARER client messages; server error challenges
 * SYNOPSIS
 *	#include "oa2_wire.h"
 *
 *	enum oa2_status oa2_wire_check_token(tok, len, err)
 *	const char *tok;
 *	size_t	len;
 *	struct oa2_error *err;
 *
 *	enum oa2_status oa2_wire_xoauth2(out, user, token, err)
 *	struct oa2_buf *out;
 *	const char *user;
 *	const char *token;
 *	struct oa2_error *err;
 *
 *	enum oa2_status oa2_wire_oauthbearer(out, user, host, port, token, err)
 *	struct oa2_buf *out;
 *	const char *user;
 *	const char *host;
 *	unsigned port;
 *	const char *token;
 *	struct oa2_error *err;
 *
 *	enum oa2_status oa2_wire_parse_challenge(in, len, out, err)
 *	const char *in;
 *	size_t	len;
 *	struct oa2_challenge *out;
 *	struct oa2_error *err;
 *
 *	int	oa2_wire_challenge_is_token_error(c)
 *	const struct oa2_challenge *c;
 * DESCRIPTION
 *	This module holds no state, does no I/O and knows nothing of SASL.
 *	It builds the raw (not yet base64) initial client response of the
 *	two bearer mechanisms and decodes the JSON a server sends back as
 *	an error challenge.
 *	The SASL library or the application does the base64 step.
 *
 *	oa2_wire_check_token() accepts tok[0..len) when it is 1 to
 *	OA2_TOKEN_MAX bytes of printable ASCII (%x21-7E).  That is RFC
 *	6750's b64token widened to every VCHAR: Google and Microsoft
 *	tokens and JWTs stay within b64token, but a provider that uses
 *	another visible character would break nothing on the wire.
 *
 *	oa2_wire_xoauth2() builds "user=" U ^A "auth=Bearer " T ^A ^A.
 *
 *	oa2_wire_oauthbearer() builds the RFC 7628 section 3.1 message:
 *	"n,a=" saslname "," ^A ["host=" H ^A] ["port=" P ^A] "auth=Bearer " T ^A ^A
 *	with "," and "=" in the user escaped as "=2C" and "=3D" (RFC 5801).
 *	host is omitted when NULL or empty, port when 0.
 *
 *	Both refuse (OA2_ERR_INPUT) an empty token, a token holding 0x01, CR
 *	or LF or any byte outside RFC 6750's b64token set plus those printable
 *	bytes providers really send; an empty user or a user holding 0x01, CR,
 *	LF or NUL; a host with such bytes.
 *
 *	oa2_wire_xoauth2() and oa2_wire_oauthbearer() check their inputs
 *	first and, when all is well, replace the content of out (which
 *	must have been set up with oa2_buf_init()) with the message.  The
 *	message is built aside and moved in only when complete, so on any
 *	failure out is left exactly as it was.  The old content is wiped.
 *
 *	oa2_wire_parse_challenge() decodes a server error challenge (already
 *	base64-decoded by the SASL library): a JSON object with "status"
 *	(XOAUTH2: "400"/"401"/...; OAUTHBEARER: "invalid_token",
 *	"insufficient_scope", "invalid_request"), and optional "schemes",
 *	"scope", "openid-configuration".  Missing optional fields are left as
 *	empty strings.  Not JSON, not an object, or
 *	no string "status" -> OA2_ERR_PROTO.
 *
 *	It reads at most OA2_CHALLENGE_MAX bytes
 *	of JSON.  "status" may be a string or (some servers send 401 bare)
 *	a number; it is stored as text.  The other members are optional
 *	and ignored unless they are strings.  Values longer than their
 *	field are cut on a UTF-8 character boundary; control characters
 *	are replaced with "?" since these fields end up in logs.  out is
 *	written only on success.
 *
 *	oa2_wire_challenge_is_token_error() is true for "401" (XOAUTH2)
 *	and "invalid_token" (OAUTHBEARER): the server refused the token
 *	itself, so a fresh one may help.  "400" (a malformed request),
 *	"403" and "insufficient_scope" (a token that will never do) and
 *	everything else are false.
 * DIAGNOSTICS
 *	OA2_ERR_INPUT, code "bad_token", "bad_user", "bad_host" or "bad_port"
 *	when an input cannot go on the wire, or "too_long" when the
 *	message would not fit in out; OA2_ERR_PROTO, code "bad_challenge",
 *	for a challenge that cannot be decoded; OA2_ERR_NOMEM, code
 *	"nomem"; OA2_ERR_INTERNAL, code "internal", for a NULL out.
 * SECURITY
 *	No message ever holds a token.  A refused token is described by
 *	its length and by the offset and kind of the first bad byte.
 * STANDARDS
 *	RFC 7628 (OAUTHBEARER), RFC 5801 section 4 (saslname), RFC 6750
 *	section 2.1 (b64token); Google's XOAUTH2 protocol description.
 * SEE ALSO
 *	oa2_tokresp(3), oa2_mem(3), oa2_error(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_wire.h"

#define OA2_CHALLENGE_MAX	(64 * 1024)	/* longest challenge we decode */
#define OA2_HOST_MAX		255		/* longest host name (RFC 1035: 253) */
#define OA2_PORT_MAX		65535U

/*
 * The character classes, one table for every check of this module.
 *
 * RFC 6750 section 2.1:
 *	b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * RFC 7628 section 3.1:
 *	kvsep	= %x01
 *	key	= 1*(ALPHA)
 *	value	= *(VCHAR / SP / HTAB / CR / LF )
 *	kvpair	= key "=" value kvsep
 *	client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep
 * RFC 5801 section 4:
 *	UTF8-1-safe = %x01-2B / %x2D-3C / %x3E-7F
 *		;; As UTF8-1 in RFC 3629 except NUL, "=", and ","
 *	saslname = 1*(UTF8-char-safe / "=2C" / "=3D")
 */
#define C_TOKEN		0x01	/* may appear in a token: VCHAR %x21-7E */
#define C_USER_BAD	0x02	/* never in a user name: NUL, %x01, CR, LF */
#define C_HOST		0x04	/* may appear in a host value: VCHAR but "," */
#define C_ESCAPE	0x08	/* escaped in a saslname: "," and "=" */

#define V_	(C_TOKEN | C_HOST)
#define U_	C_USER_BAD
#define CM_	(C_TOKEN | C_ESCAPE)		/* "," */
#define EQ_	(C_TOKEN | C_HOST | C_ESCAPE)	/* "=" */

static const unsigned char cclass[256] = {
	/* 0x00: NUL ^A ... LF ... CR ... */
	U_, U_, 0, 0, 0, 0, 0, 0, 0, 0, U_, 0, 0, U_, 0, 0,
	/* 0x10 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 0x20: SP ! " # $ % & ' ( ) * + , - . / */
	0, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, CM_, V_, V_, V_,
	/* 0x30: 0-9 : ; < = > ? */
	V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, EQ_, V_, V_,
	/* 0x40: @ A-O */
	V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_,
	/* 0x50: P-Z [ \ ] ^ _ */
	V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_,
	/* 0x60: ` a-o */
	V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_,
	/* 0x70: p-z { | } ~ DEL */
	V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, 0,
	/* 0x80-0xff: not ASCII, in no class */
};

#undef V_
#undef U_
#undef CM_
#undef EQ_

#define IS(c, cls)	((cclass[(unsigned char)(c)] & (cls)) != 0)

/* byte_name - describe a refused byte without quoting anything else */
static const char *
byte_name(unsigned char c, char *buf, size_t size)
{
	switch (c) {
	case 0x00:
		return "a NUL byte";
	case 0x01:
		return "a 0x01 byte (the SASL separator)";
	case '\r':
		return "a CR";
	case '\n':
		return "a LF";
	case ' ':
		return "a space";
	case '\t':
		return "a TAB";
	case 0x7f:
		return "a DEL byte";
	}
	if (c >= 0x80)
		snprintf(buf, size, "the non-ASCII byte 0x%02x", c);
	else
		snprintf(buf, size, "the control byte 0x%02x", c);
	return buf;
}

/* oa2_wire_check_token - OA2_OK if tok[0..len) may go on the wire */
enum oa2_status
oa2_wire_check_token(const char *tok, size_t len, struct oa2_error *err)
{
	char	name[40];
	size_t	i;

	if (tok == NULL || len == 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_token",
		    "access token is empty");
	if (len > OA2_TOKEN_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_token",
		    "access token is too long (%zu bytes, at most %d)",
		    len, OA2_TOKEN_MAX);

	/* token = 1*VCHAR, a superset of b64token (see the table above). */
	for (i = 0; i < len; i++)
		if (!IS(tok[i], C_TOKEN))
			return oa2_error_set(err, OA2_ERR_INPUT, "bad_token",
			    "access token holds %s at offset %zu "
			    "(token length %zu)",
			    byte_name((unsigned char)tok[i], name, sizeof(name)),
			    i, len);
	return OA2_OK;
}

/* check_token_str - check a NUL-terminated token without reading past the cap */
static enum oa2_status
check_token_str(const char *token, size_t *lenp, struct oa2_error *err)
{
	size_t	len;

	len = token ? strnlen(token, OA2_TOKEN_MAX + 1) : 0;
	*lenp = len;
	return oa2_wire_check_token(token, len, err);
}

/* check_user - a user name: 1..OA2_USER_MAX bytes, no NUL, 0x01, CR, LF */
static enum oa2_status
check_user(const char *user, size_t *lenp, struct oa2_error *err)
{
	char	name[40];
	size_t	len, i;

	len = user ? strnlen(user, OA2_USER_MAX + 1) : 0;
	if (len == 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_user",
		    "user name is empty");
	if (len > OA2_USER_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_user",
		    "user name is too long (more than %d bytes)",
		    OA2_USER_MAX);
	/* A C string holds no NUL; 0x01 is kvsep; CR and LF break logs. */
	for (i = 0; i < len; i++)
		if (IS(user[i], C_USER_BAD))
			return oa2_error_set(err, OA2_ERR_INPUT, "bad_user",
			    "user name holds %s at offset %zu",
			    byte_name((unsigned char)user[i], name,
			    sizeof(name)), i);
	*lenp = len;
	return OA2_OK;
}

/* check_host - a host value: visible ASCII but ",", at most OA2_HOST_MAX */
static enum oa2_status
check_host(const char *host, size_t *lenp, struct oa2_error *err)
{
	char	name[40];
	size_t	len, i;

	len = host ? strnlen(host, OA2_HOST_MAX + 1) : 0;
	if (len > OA2_HOST_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_host",
		    "server host name is too long (more than %d bytes)",
		    OA2_HOST_MAX);

	/* value = *(VCHAR / SP / HTAB / CR / LF ), narrowed to VCHAR but ",". */
	for (i = 0; i < len; i++) {
		if (IS(host[i], C_HOST))
			continue;
		if (host[i] == ',')
			return oa2_error_set(err, OA2_ERR_INPUT, "bad_host",
			    "server host name holds a \",\" at offset %zu", i);
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_host",
		    "server host name holds %s at offset %zu",
		    byte_name((unsigned char)host[i], name, sizeof(name)), i);
	}
	*lenp = len;
	return OA2_OK;
}

/* saslname_len - length of user once "," and "=" become "=2C" and "=3D" */
static size_t
saslname_len(const char *user, size_t len)
{
	size_t	n, i;

	for (n = len, i = 0; i < len; i++)
		if (IS(user[i], C_ESCAPE))
			n += 2;
	return n;
}

/* put_saslname - append user as an RFC 5801 saslname; -1 on failure */
static int
put_saslname(struct oa2_buf *b, const char *user, size_t len)
{
	size_t	start, i;

	/* saslname = 1*(UTF8-char-safe / "=2C" / "=3D") */
	for (start = i = 0; i < len; i++) {
		if (!IS(user[i], C_ESCAPE))
			continue;
		if (oa2_buf_append(b, user + start, i - start) < 0
		    || oa2_buf_puts(b, user[i] == ',' ? "=2C" : "=3D") < 0)
			return -1;
		start = i + 1;
	}
	return oa2_buf_append(b, user + start, len - start);
}

/* put_bearer - append "auth=Bearer " token ^A ^A; -1 on failure */
static int
put_bearer(struct oa2_buf *b, const char *token, size_t len)
{
	if (oa2_buf_puts(b, "auth=Bearer ") < 0
	    || oa2_buf_append(b, token, len) < 0
	    || oa2_buf_append(b, "\001\001", 2) < 0)
		return -1;
	return 0;
}

/* start_message - set up the side buffer; refuse a message larger than out allows */
static enum oa2_status
start_message(struct oa2_buf *tmp, const struct oa2_buf *out, size_t need,
    struct oa2_error *err)
{
	oa2_buf_init(tmp, out->max);
	if (need > tmp->max)
		return oa2_error_set(err, OA2_ERR_INPUT, "too_long",
		    "client response would be %zu bytes, more than the "
		    "%zu the output buffer allows", need, tmp->max);
	return OA2_OK;
}

/* finish_message - move the complete message into out, wiping the old content */
static void
finish_message(struct oa2_buf *out, struct oa2_buf *tmp)
{
	oa2_buf_free(out);
	*out = *tmp;
	oa2_buf_init(tmp, tmp->max);
}

/* fail_message - drop a half-built message */
static enum oa2_status
fail_message(struct oa2_buf *tmp, struct oa2_error *err)
{
	oa2_buf_free(tmp);
	return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
	    "out of memory while building the client response");
}

/* oa2_wire_xoauth2 - "user=" U ^A "auth=Bearer " T ^A ^A */
enum oa2_status
oa2_wire_xoauth2(struct oa2_buf *out, const char *user, const char *token,
    struct oa2_error *err)
{
	struct oa2_buf tmp;
	size_t	ulen = 0, tlen = 0;
	enum oa2_status st;

	if (out == NULL)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
		    "oa2_wire_xoauth2: no output buffer");
	if ((st = check_user(user, &ulen, err)) != OA2_OK
	    || (st = check_token_str(token, &tlen, err)) != OA2_OK)
		return st;
	if ((st = start_message(&tmp, out,
	    5 + ulen + 1 + 12 + tlen + 2, err)) != OA2_OK)
		return st;
	if (oa2_buf_puts(&tmp, "user=") < 0
	    || oa2_buf_append(&tmp, user, ulen) < 0
	    || oa2_buf_putc(&tmp, 0x01) < 0
	    || put_bearer(&tmp, token, tlen) < 0)
		return fail_message(&tmp, err);
	finish_message(out, &tmp);
	return OA2_OK;
}

/* oa2_wire_oauthbearer - the RFC 7628 section 3.1 client response */
enum oa2_status
oa2_wire_oauthbearer(struct oa2_buf *out, const char *user, const char *host,
    unsigned port, const char *token, struct oa2_error *err)
{
	struct oa2_buf tmp;
	char	portbuf[16];
	size_t	ulen = 0, hlen = 0, tlen = 0, plen = 0, need;
	enum oa2_status st;

	if (out == NULL)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
		    "oa2_wire_oauthbearer: no output buffer");
	if ((st = check_user(user, &ulen, err)) != OA2_OK
	    || (st = check_host(host, &hlen, err)) != OA2_OK
	    || (st = check_token_str(token, &tlen, err)) != OA2_OK)
		return st;
	if (port > OA2_PORT_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, "bad_port",
		    "server port %u is out of range", port);
	if (port != 0)
		plen = (size_t)snprintf(portbuf, sizeof(portbuf), "%u", port);

	/*
	 * gs2-header = "n," "a=" saslname ","; then kvsep, the optional
	 * host and port kvpairs, the auth kvpair and the final kvsep.
	 */
	need = 4 + saslname_len(user, ulen) + 1 + 1
	    + (hlen ? 5 + hlen + 1 : 0) + (plen ? 5 + plen + 1 : 0)
	    + 12 + tlen + 2;
	if ((st = start_message(&tmp, out, need, err)) != OA2_OK)
		return st;
	if (oa2_buf_puts(&tmp, "n,a=") < 0
	    || put_saslname(&tmp, user, ulen) < 0
	    || oa2_buf_append(&tmp, ",\001", 2) < 0)
		return fail_message(&tmp, err);
	if (hlen != 0
	    && (oa2_buf_puts(&tmp, "host=") < 0
		|| oa2_buf_append(&tmp, host, hlen) < 0
		|| oa2_buf_putc(&tmp, 0x01) < 0))
		return fail_message(&tmp, err);
	if (plen != 0
	    && (oa2_buf_puts(&tmp, "port=") < 0
		|| oa2_buf_append(&tmp, portbuf, plen) < 0
		|| oa2_buf_putc(&tmp, 0x01) < 0))
		return fail_message(&tmp, err);
	if (put_bearer(&tmp, token, tlen) < 0)
		return fail_message(&tmp, err);
	finish_message(out, &tmp);
	return OA2_OK;
}

/* copy_field - copy a string, cut on a UTF-8 boundary, controls made "?" */
static void
copy_field(char *dst, size_t size, const char *src, size_t len)
{
	unsigned char c;
	size_t	n, i, o;

	n = len < size - 1 ? len : size - 1;
	/* Never keep the first bytes of a character whose tail was cut. */
	if (n < len)
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	for (i = o = 0; i < n; i++) {
		c = (unsigned char)src[i];
		/* C1 controls (U+0080..U+009F) are 0xc2 0x80..0x9f in UTF-8. */
		if (c == 0xc2 && i + 1 < n
		    && ((unsigned char)src[i + 1] & 0xe0) == 0x80) {
			dst[o++] = '?';
			i++;
		} else {
			dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
	}
	dst[o] = 0;
}

/* copy_member - copy obj[key] into dst when it is a string, else leave it empty */
static void
copy_member(char *dst, size_t size, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		copy_field(dst, size, json_string_value(v),
		    json_string_length(v));
}

/* status_text - "status" as text: a string, or a number printed in decimal */
static int
status_text(json_t *v, char *dst, size_t size)
{
	char	num[64];
	double	d;

	if (json_is_string(v)) {
		copy_field(dst, size, json_string_value(v),
		    json_string_length(v));
		return 0;
	}
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	} else if (json_is_real(v)) {
		/* 401.0 is 401; anything else is kept as the server wrote it. */
		d = json_real_value(v);
		if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
			snprintf(num, sizeof(num), "%lld", (long long)d);
		else
			snprintf(num, sizeof(num), "%.17g", d);
	} else {
		return -1;
	}
	copy_field(dst, size, num, strlen(num));
	return 0;
}

/* oa2_wire_parse_challenge - decode a server error challenge */
enum oa2_status
oa2_wire_parse_challenge(const char *in, size_t len,
    struct oa2_challenge *out, struct oa2_error *err)
{
	struct oa2_challenge c;
	json_error_t jerr;
	json_t *root, *status;

	if (out == NULL || (in == NULL && len != 0))
		return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
		    "oa2_wire_parse_challenge: bad arguments");
	if (len > OA2_CHALLENGE_MAX)
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge is too long (%zu bytes, at most %d)",
		    len, OA2_CHALLENGE_MAX);
	if (len == 0)
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge is empty");
	memset(&jerr, 0, sizeof(jerr));
	if ((root = json_loadb(in, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		/* No text: jansson could not even allocate its lexer. */
		if (jerr.text[0] == 0
#if JANSSON_VERSION_HEX >= 0x020b00
		    || json_error_code(&jerr) == json_error_out_of_memory
#endif
		    )
			return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
			    "out of memory while decoding the server "
			    "error challenge");
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge is not JSON (line %d, column %d)",
		    jerr.line, jerr.column);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge is not a JSON object");
	}
	memset(&c, 0, sizeof(c));
	if ((status = json_object_get(root, "status")) == NULL) {
		json_decref(root);
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge has no \"status\"");
	}
	if (status_text(status, c.status, sizeof(c.status)) < 0) {
		json_decref(root);
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_challenge",
		    "server error challenge has a \"status\" that is neither "
		    "a string nor a number");
	}
	copy_member(c.schemes, sizeof(c.schemes), root, "schemes");
	copy_member(c.scope, sizeof(c.scope), root, "scope");
	copy_member(c.openid_configuration, sizeof(c.openid_configuration),
	    root, "openid-configuration");
	json_decref(root);
	*out = c;
	return OA2_OK;
}

/* oa2_wire_challenge_is_token_error - true if the status says the token itself was refused (401, invalid_token) */
int
oa2_wire_challenge_is_token_error(const struct oa2_challenge *c)
{
	if (c == NULL)
		return 0;
	return strcmp(c->status, "401") == 0
	    || strcasecmp(c->status, "invalid_token") == 0;
}
