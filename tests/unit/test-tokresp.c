/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	test-tokresp 1
 * SUMMARY
 *	unit tests for oa2_tokresp: token endpoint replies
 * SYNOPSIS
 *	test-tokresp
 * DESCRIPTION
 *	Table-driven TAP tests over real-looking replies of Google,
 *	Microsoft and oidc-provider, every RFC 6749 error word, HTTP
 *	errors with HTML bodies, and broken bodies.  Every case checks the
 *	class, err->code, the fields, that a failure leaves no grant
 *	behind, and that no token of any reply (nor its first bytes)
 *	appears in err->msg, error or error_description.  An allocation
 *	failure loop checks the out-of-memory paths.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_tokresp.h"
#include "oa2_wire.h"
#include "tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Tokens used in the bodies below: none may ever show in a message. */
#define G_AT	"ya29.a0AfB_byC5kZ2rQ8wVt9Yp3LmN7sXq1oJhU4eRfT6gKd0cBvA2iHzW8yE"
#define MS_AT	"EwBwA8l6BAAUbDba3x2OMJElkF7gJ4z/VbCPEz0AAQ+7Vkx/y4e6+K4aGn0ZT1wQ3xO5dUAAA="
#define MS_RT	"M.C507_BAY.0.U.-CvQ2Rz9!kX8Lp4*tN7mW3sF1yH6bJ0eD5aG2cV9uI8oP4qE$"
#define OP_AT	"Dq8fX4kG1m7Q2wE9rT5yU3iO6pA0sD8fG2hJ4kL6zXc"
#define OP_RT	"Rf9bK2mX7vQ4wZ1sY8tN3pL6cH0jD5gE2aU9iO4rT7e"
#define OP_ID	"eyJhbGciOiJSUzI1NiIsImtpZCI6InIxIn0.eyJzdWIiOiJ1QGV4YW1wbGUudGVzdCJ9.c2lnbmF0dXJl"
#define X_AT	"opaqueTokenValueFromATestServer0123456789"

static const char *const secrets[] = {
	G_AT, MS_AT, MS_RT, OP_AT, OP_RT, OP_ID, X_AT,
};

static const struct tr_case {
	const char *name;
	long	http;
	const char *body;
	enum oa2_status want;
	const char *code;		/* err->code on failure */
	const char *access;		/* the grant, on success */
	const char *refresh;
	const char *token_type;
	const char *scope;
	long long expires;
	const char *error;		/* out->error, out->error_description */
	const char *desc;
	const char *msg;		/* exact err->msg, or NULL */
	const char *msg_has;		/* a piece of err->msg, or NULL */
} cases[] = {

	/* ---- successes ---- */
	{"Google: no refresh_token (Google does not rotate)", 200,
	    "{\n  \"access_token\": \"" G_AT "\",\n  \"expires_in\": 3599,\n"
	    "  \"scope\": \"https://mail.google.com/\",\n"
	    "  \"token_type\": \"Bearer\"\n}",
	    OA2_OK, NULL, G_AT, NULL, "Bearer", "https://mail.google.com/",
	    3599, NULL, NULL, NULL, NULL},
	{"Microsoft: rotated refresh_token, expires_in as a string", 200,
	    "{\"token_type\":\"Bearer\",\"scope\":\"https://outlook.office.com/"
	    "IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send\","
	    "\"expires_in\":\"3599\",\"ext_expires_in\":\"3599\","
	    "\"access_token\":\"" MS_AT "\",\"refresh_token\":\"" MS_RT "\"}",
	    OA2_OK, NULL, MS_AT, MS_RT, "Bearer",
	    "https://outlook.office.com/IMAP.AccessAsUser.All "
	    "https://outlook.office.com/SMTP.Send", 3599,
	    NULL, NULL, NULL, NULL},
	{"Microsoft v2: expires_in as a number", 200,
	    "{\"token_type\":\"Bearer\",\"expires_in\":4872,"
	    "\"ext_expires_in\":4872,\"access_token\":\"" MS_AT "\","
	    "\"refresh_token\":\"" MS_RT "\"}",
	    OA2_OK, NULL, MS_AT, MS_RT, "Bearer", NULL, 4872,
	    NULL, NULL, NULL, NULL},
	{"oidc-provider: rotation, id_token", 200,
	    "{\"access_token\":\"" OP_AT "\",\"expires_in\":60,"
	    "\"id_token\":\"" OP_ID "\",\"refresh_token\":\"" OP_RT "\","
	    "\"scope\":\"openid email offline_access\",\"token_type\":\"Bearer\"}",
	    OA2_OK, NULL, OP_AT, OP_RT, "Bearer", "openid email offline_access",
	    60, NULL, NULL, NULL, NULL},
	{"only access_token", 200, "{\"access_token\":\"" X_AT "\"}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"201 is a success too", 201, "{\"access_token\":\"" X_AT "\"}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"escapes in the token are decoded", 200,
	    "{\"access_token\":\"ab\\u002ecd\\/ef\"}",
	    OA2_OK, NULL, "ab.cd/ef", NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, NULL},
	{"expires_in null", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":null}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"expires_in 0", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":0}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"expires_in real is floored", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":3599.9}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 3599, NULL, NULL, NULL, NULL},
	{"expires_in 1e3", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":1e3}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 1000, NULL, NULL, NULL, NULL},
	{"expires_in -0.0", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":-0.0}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"expires_in with leading zeros", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"0000003599\"}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 3599, NULL, NULL, NULL, NULL},
	{"expires_in of exactly ten years", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":315360000}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 315360000LL,
	    NULL, NULL, NULL, NULL},
	{"expires_in \"315360000\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"315360000\"}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 315360000LL,
	    NULL, NULL, NULL, NULL},
	{"empty refresh_token is no refresh_token", 200,
	    "{\"access_token\":\"" X_AT "\",\"refresh_token\":\"\"}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"null refresh_token is no refresh_token", 200,
	    "{\"access_token\":\"" X_AT "\",\"refresh_token\":null}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"\"error\": null is no error", 200,
	    "{\"access_token\":\"" X_AT "\",\"error\":null}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"non-string token_type and scope are dropped", 200,
	    "{\"access_token\":\"" X_AT "\",\"token_type\":5,"
	    "\"scope\":[\"a\",\"b\"]}",
	    OA2_OK, NULL, X_AT, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL},
	{"lower-case token_type is kept as sent", 200,
	    "{\"access_token\":\"" X_AT "\",\"token_type\":\"bearer\"}",
	    OA2_OK, NULL, X_AT, NULL, "bearer", NULL, 0, NULL, NULL, NULL, NULL},

	/* ---- RFC 6749 5.2 errors: the word decides the class ---- */
	{"Google invalid_grant", 400,
	    "{\n  \"error\": \"invalid_grant\",\n"
	    "  \"error_description\": \"Token has been expired or revoked.\"\n}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant", "Token has been expired or revoked.",
	    "token endpoint refused the request (HTTP 400): invalid_grant "
	    "(\"Token has been expired or revoked.\")", NULL},
	{"invalid_request", 400, "{\"error\":\"invalid_request\"}",
	    OA2_ERR_PERM, "invalid_request", NULL, NULL, NULL, NULL, 0,
	    "invalid_request", NULL,
	    "token endpoint refused the request (HTTP 400): invalid_request",
	    NULL},
	{"oidc-provider invalid_client (401)", 401,
	    "{\"error\":\"invalid_client\",\"error_description\":"
	    "\"client authentication failed\"}",
	    OA2_ERR_PERM, "invalid_client", NULL, NULL, NULL, NULL, 0,
	    "invalid_client", "client authentication failed", NULL,
	    "(HTTP 401): invalid_client (\"client authentication failed\")"},
	{"unauthorized_client", 400, "{\"error\":\"unauthorized_client\"}",
	    OA2_ERR_PERM, "unauthorized_client", NULL, NULL, NULL, NULL, 0,
	    "unauthorized_client", NULL, NULL, NULL},
	{"unsupported_grant_type", 400,
	    "{\"error\":\"unsupported_grant_type\"}",
	    OA2_ERR_PERM, "unsupported_grant_type", NULL, NULL, NULL, NULL, 0,
	    "unsupported_grant_type", NULL, NULL, NULL},
	{"invalid_scope", 400, "{\"error\":\"invalid_scope\"}",
	    OA2_ERR_PERM, "invalid_scope", NULL, NULL, NULL, NULL, 0,
	    "invalid_scope", NULL, NULL, NULL},
	{"access_denied", 400, "{\"error\":\"access_denied\"}",
	    OA2_ERR_PERM, "access_denied", NULL, NULL, NULL, NULL, 0,
	    "access_denied", NULL, NULL, NULL},
	{"expired_token (RFC 8628)", 400, "{\"error\":\"expired_token\"}",
	    OA2_ERR_PERM, "expired_token", NULL, NULL, NULL, NULL, 0,
	    "expired_token", NULL, NULL, NULL},
	{"temporarily_unavailable (503)", 503,
	    "{\"error\":\"temporarily_unavailable\"}",
	    OA2_ERR_TEMP, "temporarily_unavailable", NULL, NULL, NULL, NULL, 0,
	    "temporarily_unavailable", NULL, NULL, NULL},
	{"server_error (500)", 500, "{\"error\":\"server_error\"}",
	    OA2_ERR_TEMP, "server_error", NULL, NULL, NULL, NULL, 0,
	    "server_error", NULL, NULL, NULL},
	{"server_error under 400 is still temporary", 400,
	    "{\"error\":\"server_error\"}",
	    OA2_ERR_TEMP, "server_error", NULL, NULL, NULL, NULL, 0,
	    "server_error", NULL, NULL, NULL},
	{"invalid_grant under 500 is still permanent", 500,
	    "{\"error\":\"invalid_grant\"}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant", NULL, NULL, NULL},
	{"authorization_pending (RFC 8628)", 400,
	    "{\"error\":\"authorization_pending\"}",
	    OA2_ERR_TEMP, "authorization_pending", NULL, NULL, NULL, NULL, 0,
	    "authorization_pending", NULL, NULL, NULL},
	{"slow_down (RFC 8628)", 400, "{\"error\":\"slow_down\"}",
	    OA2_ERR_TEMP, "slow_down", NULL, NULL, NULL, NULL, 0,
	    "slow_down", NULL, NULL, NULL},
	{"unknown word under 400 is permanent", 400,
	    "{\"error\":\"interaction_required\",\"error_description\":"
	    "\"AADSTS50076: Due to a configuration change made by your "
	    "administrator, you must use multi-factor authentication.\","
	    "\"error_codes\":[50076],\"timestamp\":\"2024-05-01 10:00:00Z\"}",
	    OA2_ERR_PERM, "interaction_required", NULL, NULL, NULL, NULL, 0,
	    "interaction_required",
	    "AADSTS50076: Due to a configuration change made by your "
	    "administrator, you must use multi-factor authentication.",
	    NULL, "AADSTS50076"},
	{"unknown word under 503 is temporary", 503,
	    "{\"error\":\"overloaded\"}",
	    OA2_ERR_TEMP, "overloaded", NULL, NULL, NULL, NULL, 0,
	    "overloaded", NULL, NULL, NULL},
	{"2xx with an error is an error; the token is dropped", 200,
	    "{\"error\":\"invalid_grant\",\"access_token\":\"" G_AT "\"}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant", NULL,
	    "token endpoint refused the request (HTTP 200): invalid_grant",
	    NULL},
	{"error word with a space: code falls back to http_NNN", 400,
	    "{\"error\":\"invalid grant\"}",
	    OA2_ERR_PERM, "http_400", NULL, NULL, NULL, NULL, 0,
	    "invalid grant", NULL, NULL, "invalid grant"},
	{"error word with a line break is cleaned", 400,
	    "{\"error\":\"invalid_grant\\n\\u0007\"}",
	    OA2_ERR_PERM, "http_400", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant ", NULL, NULL, NULL},
	{"2xx with a bad error word: code bad_response", 200,
	    "{\"error\":\"no good\"}",
	    OA2_ERR_PERM, "bad_response", NULL, NULL, NULL, NULL, 0,
	    "no good", NULL, NULL, NULL},
	{"empty error word", 400, "{\"error\":\"\"}",
	    OA2_ERR_PERM, "http_400", NULL, NULL, NULL, NULL, 0,
	    "", NULL, NULL, "(empty error)"},
	{"description with control characters and quotes", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Token has been\\nexpired\\u0001 or \\u001b[31mrevoked\\u0085. "
	    "Say \\\"hi\\\".\\r\\n\"}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant",
	    "Token has been expired or [31mrevoked. Say 'hi'.  ",
	    NULL, "(\"Token has been expired or [31mrevoked. Say 'hi'.  \")"},
	{"non-string description is ignored", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":42}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant", NULL,
	    "token endpoint refused the request (HTTP 400): invalid_grant",
	    NULL},
	{"description quoting the reply's token is withheld", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"token "
	    G_AT " is revoked\",\"access_token\":\"" G_AT "\"}",
	    OA2_ERR_PERM, "invalid_grant", NULL, NULL, NULL, NULL, 0,
	    "invalid_grant", NULL, NULL, "withheld"},
	{"error word quoting the reply's token", 400,
	    "{\"error\":\"" X_AT "\",\"refresh_token\":\"" X_AT "\"}",
	    OA2_ERR_PROTO, "http_400", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "quotes a token"},

	/* ---- HTTP errors without an OAuth error ---- */
	{"HTTP 500 with HTML", 500,
	    "<html><head><title>500 Internal Server Error</title></head>"
	    "<body><h1>Internal Server Error</h1></body></html>",
	    OA2_ERR_TEMP, "http_500", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 500", NULL},
	{"HTTP 503 with HTML", 503,
	    "<!DOCTYPE html>\n<html><body>Service Unavailable</body></html>\n",
	    OA2_ERR_TEMP, "http_503", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 503", NULL},
	{"HTTP 429 with HTML", 429,
	    "<html><body>Too Many Requests</body></html>",
	    OA2_ERR_TEMP, "http_429", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 429", NULL},
	{"HTTP 408 with an empty body", 408, "",
	    OA2_ERR_TEMP, "http_408", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 408", NULL},
	{"HTTP 502 with JSON but no error", 502,
	    "{\"message\":\"Bad Gateway\"}",
	    OA2_ERR_TEMP, "http_502", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 502", NULL},
	{"HTTP 503 with a non-string error", 503, "{\"error\":503}",
	    OA2_ERR_TEMP, "http_503", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    NULL, NULL},
	{"HTTP 404 with HTML", 404, "<html><body>Not Found</body></html>",
	    OA2_ERR_PROTO, "http_404", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint answered HTTP 404, and its reply is not JSON "
	    "(line 1, column 1)", NULL},
	{"HTTP 400 with JSON but no error", 400, "{\"message\":\"nope\"}",
	    OA2_ERR_PROTO, "http_400", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    NULL, "holds no OAuth error"},
	{"HTTP 400 with a non-string error", 400, "{\"error\":{\"x\":1}}",
	    OA2_ERR_PROTO, "http_400", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    NULL, "not a string"},
	{"HTTP 302", 302, "", OA2_ERR_PROTO, "http_302", NULL, NULL, NULL,
	    NULL, 0, NULL, NULL, NULL, "HTTP 302"},
	{"HTTP status 0", 0, "{\"access_token\":\"" X_AT "\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "invalid HTTP status 0"},
	{"HTTP status 600", 600, "{}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "invalid HTTP status 600"},
	{"HTTP status -1", -1, "{}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, NULL},

	/* ---- 2xx replies we cannot use ---- */
	{"not JSON", 200, "<html><body>Welcome</body></html>",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply is not JSON (line 1, column 1)", NULL},
	{"form-encoded (GitHub style)", 200,
	    "access_token=" X_AT "&scope=&token_type=bearer",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "not JSON"},
	{"empty body", 200, "",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply is empty", NULL},
	{"truncated after the token", 200,
	    "{\"access_token\":\"" G_AT "\",\"expires_in\":35",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "is truncated JSON (line 1"},
	{"truncated inside the token", 200,
	    "{\"access_token\":\"ya29.a0AfB_byC5kZ2rQ8wVt9Yp",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "truncated"},
	{"trailing garbage", 200, "{\"access_token\":\"" X_AT "\"}x",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "not JSON"},
	{"a JSON array", 200, "[\"" X_AT "\"]",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply is not a JSON object", NULL},
	{"a bare JSON string", 200, "\"" X_AT "\"",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "not JSON"},
	{"no access_token", 200,
	    "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply has no access_token", NULL},
	{"access_token null", 200, "{\"access_token\":null}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "has no access_token"},
	{"access_token a number", 200, "{\"access_token\":1234567890123}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "not a string"},
	{"access_token empty", 200, "{\"access_token\":\"\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply has an unusable access_token: "
	    "access token is empty", NULL},
	{"access_token with a space", 200,
	    "{\"access_token\":\"Bearer " X_AT "\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "a space at offset 6"},
	{"access_token with CR LF", 200,
	    "{\"access_token\":\"" X_AT "\\r\\n\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "a CR at offset 41 (token length 43)"},
	{"access_token with 0x01", 200,
	    "{\"access_token\":\"abc\\u0001def\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "0x01 byte"},
	{"access_token with non-ASCII", 200,
	    "{\"access_token\":\"abc\\u00e9def\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "non-ASCII byte 0xc3 at offset 3"},
	{"access_token with an escaped NUL", 200,
	    "{\"access_token\":\"abc\\u0000def\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "NUL"},
	{"duplicate access_token", 200,
	    "{\"access_token\":\"" G_AT "\",\"access_token\":\"" X_AT "\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "duplicate"},
	{"invalid UTF-8", 200, "{\"access_token\":\"abc\xff\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "UTF-8"},
	{"refresh_token a number", 200,
	    "{\"access_token\":\"" X_AT "\",\"refresh_token\":42}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply has a refresh_token that is not a string",
	    NULL},

	/* ---- expires_in we refuse ---- */
	{"expires_in -1", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":-1}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	    "token endpoint reply has an expires_in that is negative", NULL},
	{"expires_in -0.5", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":-0.5}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "negative"},
	{"expires_in ten years and a second", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":315360001}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "more than ten years"},
	{"expires_in 1e300", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":1e300}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "more than ten years"},
	{"expires_in beyond 64 bits", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":99999999999999999999}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "number out of range"},
	{"expires_in \"9999999999\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"9999999999\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "more than ten years"},
	{"expires_in of 11 digits", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"00000000001\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \"12a\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"12a\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \"\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \" 3600\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\" 3600\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \"+3600\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"+3600\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \"-1\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"-1\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in \"3600.5\"", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":\"3600.5\"}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "1 to 10 digits"},
	{"expires_in true", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":true}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "neither a number nor a string of digits"},
	{"expires_in an object", 200,
	    "{\"access_token\":\"" X_AT "\",\"expires_in\":{\"s\":1}}",
	    OA2_ERR_PROTO, "bad_response", NULL, NULL, NULL, NULL, 0,
	    NULL, NULL, NULL, "neither"},
};

/* no_secret - true if s quotes none of the test tokens, nor their first 10 bytes */
static int
no_secret(const char *s)
{
	char	head[11];
	size_t	i;

	if (s == NULL)
		return 1;
	for (i = 0; i < NELEM(secrets); i++) {
		snprintf(head, sizeof(head), "%s", secrets[i]);
		if (strstr(s, secrets[i]) != NULL || strstr(s, head) != NULL)
			return 0;
	}
	return 1;
}

/* check_case - parse one body and check everything about the result */
static void
check_case(const char *name, long http, const char *body, size_t len,
    const struct tr_case *c)
{
	struct oa2_tokresp r;
	struct oa2_error err;
	enum oa2_status st;

	oa2_error_clear(&err);
	memset(&r, 0x5a, sizeof(r));		/* out is overwritten */
	st = oa2_tokresp_parse(body, len, http, &r, &err);
	if (!is_int(st, c->want, "%s: status", name))
		printf("# [%s] %s\n", err.code, err.msg);
	ok(no_secret(err.msg) && no_secret(err.code) && no_secret(r.error)
	    && no_secret(r.error_description),
	    "%s: no token in the message, code, error or description", name);
	if (c->want == OA2_OK) {
		is_str(err.msg, "", "%s: err untouched", name);
		is_str(r.access_token, c->access, "%s: access_token", name);
		is_str(r.refresh_token, c->refresh, "%s: refresh_token", name);
		is_str(r.token_type, c->token_type, "%s: token_type", name);
		is_str(r.scope, c->scope, "%s: scope", name);
		is_int(r.expires_in, c->expires, "%s: expires_in", name);
		ok(r.error == NULL && r.error_description == NULL,
		    "%s: no error fields", name);
	} else {
		if (c->code != NULL)
			is_str(err.code, c->code, "%s: code", name);
		ok(r.access_token == NULL && r.refresh_token == NULL
		    && r.token_type == NULL && r.scope == NULL
		    && r.expires_in == 0, "%s: no grant left behind", name);
		is_str(r.error, c->error, "%s: error", name);
		is_str(r.error_description, c->desc, "%s: error_description",
		    name);
		if (c->msg != NULL)
			is_str(err.msg, c->msg, "%s: message", name);
		if (c->msg_has != NULL)
			has_str(err.msg, c->msg_has, "%s: message", name);
	}
	oa2_tokresp_free(&r);
	ok(r.access_token == NULL && r.refresh_token == NULL
	    && r.token_type == NULL && r.scope == NULL && r.error == NULL
	    && r.error_description == NULL, "%s: free clears", name);
}

/* test_table - every case above */
static void
test_table(void)
{
	size_t	i;

	for (i = 0; i < NELEM(cases); i++)
		check_case(cases[i].name, cases[i].http, cases[i].body,
		    strlen(cases[i].body), cases + i);
}

/* test_generated - long descriptions, long tokens, large bodies */
static void
test_generated(void)
{
	struct oa2_tokresp r;
	struct oa2_error err;
	enum oa2_status st;
	char   *body;
	size_t	n, i;

	body = malloc(2 * 1024 * 1024);

	/* A description of 1000 bytes is cut to 200, ending in "...". */
	n = (size_t)sprintf(body, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"");
	for (i = 0; i < 1000; i++)
		body[n++] = 'd';
	n += (size_t)sprintf(body + n, "\"}");
	st = oa2_tokresp_parse(body, n, 400, &r, &err);
	is_int(st, OA2_ERR_PERM, "long description: permanent");
	is_int(r.error_description ? (long long)strlen(r.error_description) : -1,
	    200, "long description: cut to 200 bytes");
	ok(r.error_description != NULL
	    && strcmp(r.error_description + 197, "...") == 0
	    && strspn(r.error_description, "d") == 197,
	    "long description: 197 bytes and \"...\"");
	has_str(err.msg, "ddd...\")", "long description: message shows the cut");
	ok(strlen(err.msg) < 300, "long description: message stays short");
	oa2_tokresp_free(&r);

	/* A 2-byte character across the cut goes whole. */
	n = (size_t)sprintf(body, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"");
	for (i = 0; i < 196; i++)
		body[n++] = 'd';
	n += (size_t)sprintf(body + n, "\xc3\xa9xxxxxxxxxx\"}");
	st = oa2_tokresp_parse(body, n, 400, &r, &err);
	ok(st == OA2_ERR_PERM && r.error_description != NULL
	    && strlen(r.error_description) == 199
	    && strcmp(r.error_description + 196, "...") == 0,
	    "description cut inside a character: the character goes whole");
	oa2_tokresp_free(&r);

	/* A description that fits exactly is not cut. */
	n = (size_t)sprintf(body, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"");
	for (i = 0; i < 200; i++)
		body[n++] = 'e';
	n += (size_t)sprintf(body + n, "\"}");
	st = oa2_tokresp_parse(body, n, 400, &r, &err);
	ok(st == OA2_ERR_PERM && r.error_description != NULL
	    && strlen(r.error_description) == 200
	    && strspn(r.error_description, "e") == 200,
	    "description of exactly 200 bytes: kept whole");
	oa2_tokresp_free(&r);

	/* A very long error word is cut too and is no code. */
	n = (size_t)sprintf(body, "{\"error\":\"");
	for (i = 0; i < 300; i++)
		body[n++] = 'w';
	n += (size_t)sprintf(body + n, "\"}");
	st = oa2_tokresp_parse(body, n, 400, &r, &err);
	is_int(st, OA2_ERR_PERM, "long error word: permanent");
	is_str(err.code, "http_400", "long error word: code http_400");
	ok(r.error != NULL && strlen(r.error) == OA2_ERR_CODE_MAX - 1,
	    "long error word: cut");
	oa2_tokresp_free(&r);

	/* Access tokens of OA2_TOKEN_MAX and one more byte. */
	n = (size_t)sprintf(body, "{\"access_token\":\"");
	for (i = 0; i < OA2_TOKEN_MAX; i++)
		body[n++] = 'T';
	n += (size_t)sprintf(body + n, "\",\"expires_in\":3600}");
	st = oa2_tokresp_parse(body, n, 200, &r, &err);
	ok(st == OA2_OK && r.access_token != NULL
	    && strlen(r.access_token) == OA2_TOKEN_MAX && r.expires_in == 3600,
	    "access token of OA2_TOKEN_MAX bytes: accepted");
	oa2_tokresp_free(&r);
	n = (size_t)sprintf(body, "{\"access_token\":\"");
	for (i = 0; i < OA2_TOKEN_MAX + 1; i++)
		body[n++] = 'T';
	n += (size_t)sprintf(body + n, "\"}");
	st = oa2_tokresp_parse(body, n, 200, &r, &err);
	is_int(st, OA2_ERR_PROTO, "access token of OA2_TOKEN_MAX + 1: refused");
	has_str(err.msg, "too long (16385 bytes", "too long token: message");
	ok(strstr(err.msg, "TTTT") == NULL, "too long token: not quoted");
	oa2_tokresp_free(&r);

	/* A body over 1 MiB is refused before it is decoded. */
	n = (size_t)sprintf(body, "{\"access_token\":\"" X_AT "\",\"pad\":\"");
	while (n < 1024 * 1024 + 10)
		body[n++] = ' ';
	n += (size_t)sprintf(body + n, "\"}");
	st = oa2_tokresp_parse(body, n, 200, &r, &err);
	is_int(st, OA2_ERR_PROTO, "body over 1 MiB: refused");
	has_str(err.msg, "too large", "body over 1 MiB: message");
	st = oa2_tokresp_parse(body, n, 503, &r, &err);
	is_int(st, OA2_ERR_TEMP, "body over 1 MiB under 503: temporary");

	/* Deep nesting is not JSON we take. */
	n = (size_t)sprintf(body, "{\"access_token\":\"" X_AT "\",\"x\":");
	for (i = 0; i < 5000; i++)
		body[n++] = '[';
	for (i = 0; i < 5000; i++)
		body[n++] = ']';
	body[n++] = '}';
	st = oa2_tokresp_parse(body, n, 200, &r, &err);
	is_int(st, OA2_ERR_PROTO, "5000 nested arrays: refused");
	oa2_tokresp_free(&r);
	free(body);

	/* Bad arguments. */
	st = oa2_tokresp_parse("{}", 2, 200, NULL, &err);
	is_int(st, OA2_ERR_INTERNAL, "NULL out: internal");
	st = oa2_tokresp_parse(NULL, 5, 200, &r, &err);
	is_int(st, OA2_ERR_INTERNAL, "NULL body with a length: internal");
	st = oa2_tokresp_parse(NULL, 0, 200, &r, &err);
	is_int(st, OA2_ERR_PROTO, "NULL body of length 0: empty");
	st = oa2_tokresp_parse("{\"access_token\":\"" X_AT "\"}",
	    sizeof("{\"access_token\":\"" X_AT "\"}") - 1, 200, &r, NULL);
	is_int(st, OA2_OK, "err may be NULL");
	oa2_tokresp_free(&r);
	st = oa2_tokresp_parse("{}", 2, 200, &r, NULL);
	is_int(st, OA2_ERR_PROTO, "err may be NULL on failure");
	oa2_tokresp_free(&r);
	oa2_tokresp_free(NULL);
	ok(1, "oa2_tokresp_free(NULL) is harmless");
}

/* ---- out of memory at every allocation ---- */

/*
 * jansson's lexer ignores a failed allocation when it grows its token
 * buffer (16 bytes at first): it drops a byte, or aborts on an assert
 * (akheron/jansson#362).  So failures are injected into jansson only for
 * bodies whose every token, quotes included, is shorter than 16 bytes;
 * for the others only the allocations made after decoding are failed.
 */
static const struct nomem_case {
	const char *name;
	long	http;
	const char *body;
	enum oa2_status want;
	int	short_tokens;		/* safe to fail jansson's allocations */
} nomem_cases[] = {
	{"short success", 200,
	    "{\"access_token\":\"abcdefgh\",\"refresh_token\":\"rt\","
	    "\"expires_in\":\"3599\",\"token_type\":\"Bearer\","
	    "\"scope\":\"a b\"}",
	    OA2_OK, 1},
	{"short error", 400, "{\"error\":\"access_denied\"}",
	    OA2_ERR_PERM, 1},
	{"short 503", 503, "{\"x\":[1,2,{}]}", OA2_ERR_TEMP, 1},
	{"short bad expires_in", 200,
	    "{\"access_token\":\"abcdefgh\",\"expires_in\":-5}",
	    OA2_ERR_PROTO, 1},
	{"Microsoft success", 200,
	    "{\"token_type\":\"Bearer\",\"scope\":\"a b\",\"expires_in\":\"3599\","
	    "\"access_token\":\"" MS_AT "\",\"refresh_token\":\"" MS_RT "\"}",
	    OA2_OK, 0},
	{"invalid_grant with a description", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"Bad Request\"}",
	    OA2_ERR_PERM, 0},
	{"description quoting a token", 400,
	    "{\"error\":\"invalid_grant\",\"error_description\":\"" X_AT "\","
	    "\"access_token\":\"" X_AT "\"}",
	    OA2_ERR_PERM, 0},
	{"truncated", 200, "{\"access_token\":\"" G_AT "\",\"exp",
	    OA2_ERR_PROTO, 0},
	{"HTML 503", 503, "<html></html>", OA2_ERR_TEMP, 0},
};

/* json_allocs - how many allocations jansson makes to decode body */
static unsigned long
json_allocs(const char *body)
{
	json_error_t jerr;
	json_t *root;
	unsigned long n;
	int	nomem;

	oa2_mem_fail_at(0);
	root = oa2_json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, &jerr,
	    &nomem);
	n = oa2_mem_count();
	oa2_json_wipe_decref(root);
	return n;
}

/* test_nomem - each allocation fails once; no leak, nothing half-filled */
static void
test_nomem(void)
{
	struct oa2_tokresp r;
	struct oa2_error err;
	enum oa2_status st;
	unsigned long k, first, tried;
	size_t	i;
	int	clean, done;

	for (i = 0; i < NELEM(nomem_cases); i++) {
		const struct nomem_case *c = nomem_cases + i;

		first = c->short_tokens ? 1 : json_allocs(c->body) + 1;
		clean = 1;
		done = 0;
		tried = 0;
		for (k = first; k < 1000 && !done; k++) {
			oa2_mem_fail_at(k);
			st = oa2_tokresp_parse(c->body, strlen(c->body), c->http,
			    &r, &err);
			if (oa2_mem_count() < k) {
				/* No allocation failed: the normal result. */
				done = st == c->want;
			} else if (tried++, st != OA2_ERR_NOMEM
			    || strcmp(err.code, "nomem") != 0
			    || r.access_token != NULL || r.refresh_token != NULL
			    || r.token_type != NULL || r.scope != NULL
			    || r.error != NULL || r.error_description != NULL) {
				if (clean)
					printf("# allocation %lu: status %d [%s] %s\n",
					    k, st, err.code, err.msg);
				clean = 0;
			}
			oa2_mem_fail_at(0);
			oa2_tokresp_free(&r);
		}
		ok(done && clean, "out of memory, %s: each of %lu failed "
		    "allocations (from #%lu) gives OA2_ERR_NOMEM and an empty "
		    "result", c->name, tried, first);
	}
}

/* test_salvage - an unusable 2xx reply keeps a usable rotated refresh token */
static void
test_salvage(void)
{
	static const struct { const char *name, *body; const char *rt; } salv[] = {
		{ "bad access token, new refresh token",
		  "{\"access_token\": \"a b\", \"refresh_token\": \"RT-new\"}", "RT-new" },
		{ "no access token, new refresh token",
		  "{\"refresh_token\": \"RT-new\", \"expires_in\": 3600}", "RT-new" },
		{ "bad expires_in, new refresh token",
		  "{\"access_token\": \"AT\", \"expires_in\": -1, \"refresh_token\": \"RT-new\"}", "RT-new" },
		{ "bad access token, unusable refresh token",
		  "{\"access_token\": \"a b\", \"refresh_token\": \"R T\"}", NULL },
		{ "error reply never yields a refresh token",
		  "{\"error\": \"invalid_grant\", \"refresh_token\": \"RT-new\"}", NULL },
	};
	struct oa2_tokresp r;
	struct oa2_error err;

	for (size_t i = 0; i < sizeof(salv) / sizeof(salv[0]); i++) {
		long status = strstr(salv[i].body, "error") ? 400 : 200;

		ok(oa2_tokresp_parse(salv[i].body, strlen(salv[i].body), status,
		    &r, &err) != OA2_OK, "salvage, %s: still a failure", salv[i].name);
		is_str(r.refresh_token, salv[i].rt, "salvage, %s: refresh token",
		    salv[i].name);
		ok(r.access_token == NULL, "salvage, %s: no access token", salv[i].name);
		oa2_tokresp_free(&r);
	}
}

int
main(void)
{
	test_salvage();
	test_table();
	test_generated();
	test_nomem();
	return tap_done();
}
