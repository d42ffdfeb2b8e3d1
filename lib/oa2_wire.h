/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_wire 3h
 * SUMMARY
 *	XOAUTH2 and OAUTHBEARER (RFC 7628) client messages; server error challenges
 * DESCRIPTION
 *	See oa2_wire.c.
 *--*/
#ifndef OA2_WIRE_H
#define OA2_WIRE_H

#include "oa2_error.h"
#include "oa2_mem.h"

#define OA2_TOKEN_MAX  16384	/* longest access token we accept */
#define OA2_USER_MAX   1024

/* oa2_wire_check_token - OA2_OK if tok[0..len) may go on the wire */
enum oa2_status oa2_wire_check_token(const char *tok, size_t len,
    struct oa2_error *err);

enum oa2_status oa2_wire_xoauth2(struct oa2_buf *out, const char *user,
    const char *token, struct oa2_error *err);

enum oa2_status oa2_wire_oauthbearer(struct oa2_buf *out, const char *user,
    const char *host, unsigned port, const char *token,
    struct oa2_error *err);

struct oa2_challenge {
	char status[64];
	char schemes[128];
	char scope[512];
	char openid_configuration[512];
};

enum oa2_status oa2_wire_parse_challenge(const char *in, size_t len,
    struct oa2_challenge *out, struct oa2_error *err);

/* oa2_wire_challenge_is_token_error - true if the status says the token itself was refused (401, invalid_token) */
int oa2_wire_challenge_is_token_error(const struct oa2_challenge *c);

#endif
