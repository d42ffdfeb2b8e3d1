/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokresp 3h
 * SUMMARY
 *	parser for OAuth 2.0 token endpoint responses (RFC 6749 5.1, 5.2)
 * DESCRIPTION
 *	oa2_tokresp_parse() reads the body of a token endpoint reply together
 *	with its HTTP status.  On success (2xx and an "access_token") it fills
 *	access_token, token_type, scope, expires_in (a JSON number, or a
 *	string of digits as old Azure AD sends; 0 when absent) and
 *	refresh_token (NULL when absent: Google does not rotate; present:
 *	the caller must persist it, Microsoft and oidc-provider rotate).
 *
 *	On an error reply it fills error and error_description and returns
 *	OA2_ERR_PERM for invalid_grant, invalid_client, unauthorized_client,
 *	invalid_scope, unsupported_grant_type, invalid_request, access_denied;
 *	OA2_ERR_TEMP for temporarily_unavailable, server_error, HTTP 5xx, 429
 *	and HTTP 408; err->code is the OAuth error word (or "http_NNN").
 *	A body that is not JSON, a truncated one, an object without
 *	access_token on 2xx, an access token failing oa2_wire_check_token(),
 *	a negative or absurd expires_in -> OA2_ERR_PROTO ("bad_response")
 *	(OA2_ERR_TEMP if the HTTP status was 5xx).  Messages never contain a
 *	token; error_description is quoted, cut to 200 bytes, control bytes
 *	removed.
 *
 *	oa2_tokresp_free() wipes the secrets and frees everything.
 *--*/
#ifndef OA2_TOKRESP_H
#define OA2_TOKRESP_H

#include <stddef.h>

#include <jansson.h>

#include "oa2_error.h"

struct oa2_tokresp {
	char *access_token;
	char *refresh_token;
	char *token_type;
	char *scope;
	long long expires_in;
	char *error;
	char *error_description;
};

enum oa2_status oa2_tokresp_parse(const char *body, size_t len,
    long http_status, struct oa2_tokresp *out, struct oa2_error *err);

void oa2_tokresp_free(struct oa2_tokresp *r);

/* Shared with oa2_grant(3). */
/* oa2_tokresp_load - json_loadb(JSON_REJECT_DUPLICATES); *nomem when any allocation failed */
json_t *oa2_tokresp_load(const char *body, size_t len, json_error_t *jerr,
    int *nomem);
/* oa2_tokresp_clean - copy peer text for a message: no controls, '"' -> '\'', cut to max */
char *oa2_tokresp_clean(const char *s, size_t len, size_t max);
/* oa2_tokresp_class - OA2_ERR_PERM or OA2_ERR_TEMP for an OAuth error word */
enum oa2_status oa2_tokresp_class(const char *word, long http_status);

#endif
