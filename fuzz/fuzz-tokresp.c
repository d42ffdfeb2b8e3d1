/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-tokresp 1
 * SUMMARY
 *	libFuzzer target: token endpoint replies
 * SYNOPSIS
 *	fuzz-tokresp [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first byte of each input chooses the HTTP status: below 0x80
 *	one of sixteen usual ones (0x00 and 0x01 are 200, 0x04 is 400,
 *	0x05 401, 0x0c 503, ...), from 0x80 on (byte - 0x80) * 5, which
 *	also gives impossible statuses.  The rest is the body for
 *	oa2_tokresp_parse().
 *
 *	Beyond the sanitizers, the target checks the contract and aborts
 *	when it does not hold: a success has an access token that
 *	oa2_wire_check_token() accepts, a sane expires_in and no error
 *	fields; a failure leaves no grant behind, and error fields only for
 *	a permanent or temporary OAuth error; descriptions are at most 200
 *	bytes without control bytes; no message quotes a token of the
 *	reply.
 *
 *	Seeds: fuzz/corpus/tokresp/; dictionary: fuzz/tokresp.dict.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_mem.h"
#include "oa2_tokresp.h"
#include "oa2_wire.h"
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static const long statuses[16] = {
	200, 200, 201, 204, 400, 401, 403, 404,
	408, 429, 500, 502, 503, 504, 302, 0,
};

/* check_text - peer text as kept: bounded, no control bytes */
static void
check_text(const char *s, size_t max)
{
	size_t	n;

	if (s == NULL)
		return;
	CHECK((n = strlen(s)) <= max);
	while (n-- > 0)
		CHECK((unsigned char)s[n] >= 0x20 && (unsigned char)s[n] != 0x7f);
}

/* check_no_token - no long, space-free token of the reply shows in msg */
static void
check_no_token(const char *msg, const char *body, size_t len)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token",
	};
	json_error_t jerr;
	const char *tok;
	json_t *root, *v;
	size_t	i;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(root, keys[i]);
		if (!json_is_string(v))
			continue;
		tok = json_string_value(v);
		if (strlen(tok) >= 16 && strchr(tok, ' ') == NULL)
			CHECK(strstr(msg, tok) == NULL);
	}
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa2_tokresp r;
	struct oa2_error err;
	enum oa2_status st;
	const char *body;
	long	http;
	size_t	len;

	if (size == 0)
		return 0;
	http = data[0] < 0x80 ? statuses[data[0] & 0x0f]
	    : (long)(data[0] - 0x80) * 5;
	body = (const char *)data + 1;
	len = size - 1;

	oa2_error_clear(&err);
	st = oa2_tokresp_parse(body, len, http, &r, &err);
	if (st == OA2_OK) {
		CHECK(http >= 200 && http <= 299);
		CHECK(r.access_token != NULL);
		CHECK(oa2_wire_check_token(r.access_token,
		    strlen(r.access_token), NULL) == OA2_OK);
		CHECK(r.refresh_token == NULL || r.refresh_token[0] != 0);
		CHECK(r.expires_in >= 0 && r.expires_in <= 315360000LL);
		CHECK(r.error == NULL && r.error_description == NULL);
		CHECK(err.msg[0] == 0);
	} else {
		CHECK(err.status == st && err.msg[0] != 0 && err.code[0] != 0);
		CHECK(r.access_token == NULL && r.token_type == NULL
		    && r.scope == NULL && r.expires_in == 0);
		/* Only an unusable 2xx reply may leave a usable rotated refresh token. */
		CHECK(r.refresh_token == NULL || (st == OA2_ERR_PROTO &&
		    http >= 200 && http <= 299 && oa2_wire_check_token(
		    r.refresh_token, strlen(r.refresh_token), NULL) == OA2_OK));
		if (st != OA2_ERR_PERM && st != OA2_ERR_TEMP)
			CHECK(r.error == NULL && r.error_description == NULL);
		check_text(r.error, OA2_ERR_CODE_MAX - 1);
		check_text(r.error_description, 200);
		check_text(err.msg, OA2_ERR_MSG_MAX - 1);
		check_no_token(err.msg, body, len);
	}
	oa2_tokresp_free(&r);
	CHECK(r.access_token == NULL && r.error == NULL);
	return 0;
}
