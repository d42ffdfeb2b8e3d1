/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-grant 1
 * SUMMARY
 *	libFuzzer target: the grant module's replies
 * SYNOPSIS
 *	fuzz-grant [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	The first byte of each input chooses the parser (its value modulo
 *	5): 0 the device authorization reply, 1 discovery metadata, 2 an
 *	OAuth error reply, 3 the authorization redirect's query, 4 the
 *	claims of an ID token.  The second byte chooses the HTTP status
 *	(one of sixteen usual ones, or byte * 3 from 0x80 on, which also
 *	gives impossible statuses).  The rest is the body.
 *
 *	Beyond the sanitizers, the target checks the contract and aborts
 *	when it does not hold: a failure leaves nothing allocated and sets
 *	a one-line message and a code; a success fills what it promises;
 *	nothing is read from a body with a duplicate member (as jansson
 *	sees it);
 *	texts meant for a terminal (user code, URIs, endpoints, messages)
 *	hold no control byte; no message quotes a token of the reply, and
 *	no error reply's message the request's secret (SECRET_CANARY, which
 *	the dictionary offers).
 *
 *	Seeds: fuzz/corpus/grant/; dictionary: fuzz/grant.dict.
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

#include "oa2_grant.h"
#include "oa2_mem.h"
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define SECRET_CANARY	"CANARY-s3cr3t-42"

static const long statuses[16] = {
	200, 200, 201, 204, 400, 401, 403, 404,
	408, 429, 500, 502, 503, 504, 302, 0,
};

/* check_line - NULL, or text without control bytes (C0, DEL, UTF-8 C1) */
static void
check_line(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return;
	for (; *p; p++) {
		CHECK(*p >= 0x20 && *p != 0x7f);
		CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f));
	}
}

/* duplicated - jansson refuses body for a duplicate member */
static int
duplicated(const char *body, size_t len)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);

	json_decref(root);
	return root == NULL && json_error_code(&je) == json_error_duplicate_key;
}

/* check_no_token - no long, space-free token of the reply shows in msg */
static void
check_no_token(const char *msg, const char *body, size_t len)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token", "device_code",
	};
	json_t *root, *v;
	size_t	i;

	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(root, keys[i]);
		if (json_is_string(v) && json_string_length(v) >= 8 &&
		    strchr(json_string_value(v), ' ') == NULL)
			CHECK(strstr(msg, json_string_value(v)) == NULL);
	}
	json_decref(root);
}

/* check_failure - err is a one-line report of st */
static void
check_failure(enum oa2_status st, const struct oa2_error *err,
    const char *body, size_t len)
{
	CHECK(st != OA2_OK && err->status == st);
	CHECK(err->code[0] != 0 && err->msg[0] != 0);
	check_line(err->msg);
	check_line(err->code);
	check_no_token(err->msg, body, len);
}

/* device - RFC 8628 3.2 */
static void
device(const char *body, size_t len, long http)
{
	struct oa2_device d;
	struct oa2_error err;
	enum oa2_status st;

	st = oa2_device_parse(body, len, http, &d, &err);
	if (st == OA2_OK) {
		CHECK(http >= 200 && http <= 299 && !duplicated(body, len));
		CHECK(d.device_code && d.user_code && d.verification_uri);
		CHECK(d.device_code[0] && d.user_code[0] && d.verification_uri[0]);
		check_line(d.user_code);
		check_line(d.verification_uri);
		check_line(d.verification_uri_complete);
		CHECK(d.interval >= 1 && d.interval <= 60 && d.expires_in > 0);
	} else {
		check_failure(st, &err, body, len);
		CHECK(d.device_code == NULL && d.user_code == NULL &&
		    d.verification_uri == NULL &&
		    d.verification_uri_complete == NULL);
	}
	oa2_device_free(&d);
}

/* discovery - RFC 8414 metadata */
static void
discovery(const char *body, size_t len, long http)
{
	struct oa2_discovery m;
	struct oa2_error err;
	enum oa2_status st;

	st = oa2_discovery_parse(body, len, http, "https://issuer.example/", &m,
	    &err);
	if (st == OA2_OK) {
		CHECK(http == 200 && !duplicated(body, len));
		check_line(m.issuer);
		check_line(m.authorization_endpoint);
		check_line(m.token_endpoint);
		check_line(m.device_authorization_endpoint);
		check_line(m.revocation_endpoint);
	} else {
		check_failure(st, &err, body, len);
		CHECK(m.issuer == NULL && m.token_endpoint == NULL &&
		    m.authorization_endpoint == NULL &&
		    m.device_authorization_endpoint == NULL &&
		    m.revocation_endpoint == NULL);
	}
	oa2_discovery_free(&m);
}

/* error_reply - RFC 6749 5.2 */
static void
error_reply(const char *body, size_t len, long http)
{
	static const char *const secrets[] = {SECRET_CANARY, NULL};
	struct oa2_oauth_error e;
	struct oa2_error err;
	enum oa2_status st;

	st = oa2_oauth_error_parse(body, len, http, "token endpoint", secrets,
	    &e, &err);
	check_failure(st, &err, body, len);
	/* Only this parser is told the secret; the grants tell the others. */
	CHECK(strstr(err.msg, SECRET_CANARY) == NULL);
	CHECK(strstr(err.code, SECRET_CANARY) == NULL);
	/* A 5xx is temporary whatever its body: nothing is read from it. */
	if (duplicated(body, len))
		CHECK(e.error == NULL);
	if (e.error != NULL) {
		CHECK(st == OA2_ERR_PERM || st == OA2_ERR_TEMP);
		CHECK(strlen(e.error) < OA2_ERR_CODE_MAX);
		check_line(e.error);
		check_line(e.error_description);
		check_line(e.error_uri);
		CHECK(e.error_description == NULL ||
		    strlen(e.error_description) <= 200);
	} else {
		CHECK(e.error_description == NULL && e.error_uri == NULL);
	}
	oa2_oauth_error_free(&e);
}

/* redirect - the authorization response's query */
static void
redirect(const char *body, size_t len)
{
	struct oa2_error err;
	char   *q, *code;

	if ((q = oa2_strndup(body, len)) == NULL)
		return;
	oa2_error_clear(&err);
	code = oa2_authz_reply(q, "STATE-1", len & 1, &err);
	if (code != NULL) {
		CHECK(code[0] != 0 && err.status == OA2_OK);
	} else {
		CHECK(err.status != OA2_OK && err.msg[0] != 0);
		check_line(err.msg);
		check_line(err.code);
	}
	oa2_free_secret(&code);
	oa2_free(q);
}

/* id_token - the account named by an ID token's claims */
static void
id_token(const char *body, size_t len)
{
	char   *jwt, *u;

	if ((jwt = oa2_malloc(len + 3)) == NULL)
		return;
	memcpy(jwt, "h.", 2);
	memcpy(jwt + 2, body, len);
	jwt[len + 2] = 0;
	if ((u = oa2_id_token_user(jwt)) != NULL) {
		CHECK(strchr(u, '@') != NULL);
		check_line(u);
	}
	oa2_free(u);
	oa2_free(jwt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	long	http;
	size_t	len;

	if (size < 2)
		return 0;
	http = data[1] < 0x80 ? statuses[data[1] & 0x0f] : (long)data[1] * 3;
	body = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 5) {
	case 0:
		device(body, len, http);
		break;
	case 1:
		discovery(body, len, http);
		break;
	case 2:
		error_reply(body, len, http);
		break;
	case 3:
		redirect(body, len);
		break;
	default:
		id_token(body, len);
		break;
	}
	return 0;
}
