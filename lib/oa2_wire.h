/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_wire 3h
 * SUMMARY
 *	XOAUTH2 and OAUTHBEARER (RFC 7628) client messages; server error challenges
 * DESCRIPTION
 *	Pure functions: no I/O, no SASL headers.  The output is the raw
 *	(not base64) client response; the SASL library or the application
 *	does the base64 step.
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
 *	LF or NUL; a host with such bytes.  Nothing is written to out then.
 *
 *	oa2_wire_parse_challenge() decodes a server error challenge (already
 *	base64-decoded by the SASL library): a JSON object with "status"
 *	(XOAUTH2: "400"/"401"/...; OAUTHBEARER: "invalid_token",
 *	"insufficient_scope", "invalid_request"), and optional "schemes",
 *	"scope", "openid-configuration".  Missing optional fields are left as
 *	empty strings; over-long values are cut.  Not JSON, not an object, or
 *	no string "status" -> OA2_ERR_PROTO.
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
