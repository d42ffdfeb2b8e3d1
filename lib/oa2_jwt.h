/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_jwt 3h
 * SUMMARY
 *	signed JSON Web Tokens for app-only grants (RFC 7515, RFC 7523)
 * DESCRIPTION
 *	See oa2_jwt.c.
 *--*/
#ifndef OA2_JWT_H
#define OA2_JWT_H

#include <stddef.h>

#include "oa2_error.h"
#include "oa2_mem.h"

enum oa2_jwt_alg {
	OA2_JWT_AUTO,		/* RS256 for RSA, ES256 for P-256 */
	OA2_JWT_RS256,
	OA2_JWT_PS256,
	OA2_JWT_ES256
};

struct oa2_jwt_key {
	void   *pkey;			/* EVP_PKEY, owned */
	enum oa2_jwt_alg alg;		/* resolved: never OA2_JWT_AUTO */
	int	has_cert;
	char	x5t_s256[48];		/* base64url SHA-256 of the DER certificate */
	char	x5t[32];		/* base64url SHA-1 of it (Entra's x5t) */
	char	kid[128];		/* "" or the key id to send */
};

struct oa2_jwt_claims {
	const char *iss;
	const char *sub;
	const char *aud;
	const char *scope;		/* NULL: none (Google's jwt-bearer has one) */
	long long iat;
	long long lifetime;		/* exp = iat + lifetime */
	int	jti;			/* add a random jti (client assertions) */
	int	nbf;			/* add nbf = iat */
};

/* oa2_jwt_alg_parse - "RS256", "PS256", "ES256" (NULL or "": auto); -1 otherwise */
int	oa2_jwt_alg_parse(const char *name, enum oa2_jwt_alg *out);
const char *oa2_jwt_alg_name(enum oa2_jwt_alg alg);

/* oa2_jwt_key_load - a private key (PEM) and an optional certificate (PEM); who names them in messages */
enum oa2_status oa2_jwt_key_load(struct oa2_jwt_key *k, const char *key_pem,
    size_t key_len, const char *cert_pem, size_t cert_len,
    enum oa2_jwt_alg alg, const char *who, struct oa2_error *err);
void	oa2_jwt_key_free(struct oa2_jwt_key *k);

/* oa2_jwt_sign - header.claims.signature into out (a wiped buffer) */
enum oa2_status oa2_jwt_sign(const struct oa2_jwt_key *k,
    const struct oa2_jwt_claims *c, struct oa2_buf *out,
    struct oa2_error *err);

#endif
