/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_jwt 3
 * SUMMARY
 *	signed JSON Web Tokens for app-only grants (RFC 7515, RFC 7523)
 * SYNOPSIS
 *	#include "oa2_jwt.h"
 *
 *	enum oa2_status oa2_jwt_key_load(k, key_pem, key_len, cert_pem,
 *		cert_len, alg, who, err)
 *	void	oa2_jwt_key_free(k)
 *	enum oa2_status oa2_jwt_sign(k, c, out, err)
 *	int	oa2_jwt_alg_parse(name, out)
 *	const char *oa2_jwt_alg_name(alg)
 * DESCRIPTION
 *	An app-only grant proves who the client is with a JWT it signs
 *	itself: the client assertion of RFC 7523 2.2 (Microsoft Entra's
 *	certificate credentials, oidc-provider's private_key_jwt) and the
 *	authorization grant of RFC 7523 2.1 (Google's service accounts with
 *	domain-wide delegation).
 *
 *	oa2_jwt_key_load() reads an unencrypted private key in PEM (PKCS#8,
 *	PKCS#1 or SEC1) and, when cert_pem is not NULL, the X.509
 *	certificate that belongs to it.  The certificate must hold the
 *	key's public half; its SHA-256 and SHA-1 thumbprints (over the DER
 *	encoding, base64url) become the header parameters "x5t#S256" and
 *	"x5t" (RFC 7515 4.1.7, 4.1.8), which is how Entra finds the
 *	certificate registered for the application.  alg OA2_JWT_AUTO is
 *	RS256 for an RSA key and ES256 for a P-256 key; PS256 needs an RSA
 *	key, ES256 a P-256 key.  An encrypted key, a key of another type, a
 *	certificate that does not match: OA2_ERR_INPUT naming who.
 *
 *	oa2_jwt_sign() writes header.claims.signature into out (initialised
 *	here): header {"alg", "typ":"JWT", "kid" when k->kid is set,
 *	"x5t#S256" and "x5t" when there is a certificate}; claims iss, sub,
 *	aud, scope when given, iat, nbf when asked, exp = iat + lifetime and
 *	a random jti (16 bytes) when asked.  ES256 signatures are the raw
 *	32-byte r and s (RFC 7518 3.4), not DER.
 * SECURITY
 *	The PEM buffers are the caller's (read into wiped memory by
 *	oa2_app(3)); OpenSSL's copy of the key is freed with
 *	EVP_PKEY_free(), which clears it.  A signed JWT is a credential
 *	until it expires: out is a wiped buffer, and no message quotes it.
 * STANDARDS
 *	RFC 7515, RFC 7518, RFC 7519, RFC 7523.
 * SEE ALSO
 *	oa2_app(3), which reads the key files and builds the grants.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdio.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

/* Application-specific. */

#include "oa2_grant.h"
#include "oa2_json.h"
#include "oa2_jwt.h"

#define PART_MAX	3072		/* header or claims, before base64url */
#define JWT_MAX		(16 * 1024)

static const char *const alg_names[] = {"", "RS256", "PS256", "ES256"};

/* oa2_jwt_alg_parse - the JWS name of an algorithm we sign with */
int
oa2_jwt_alg_parse(const char *name, enum oa2_jwt_alg *out)
{
	int	i;

	if (name == NULL || *name == 0) {
		*out = OA2_JWT_AUTO;
		return 0;
	}
	for (i = OA2_JWT_RS256; i <= OA2_JWT_ES256; i++)
		if (strcmp(name, alg_names[i]) == 0) {
			*out = (enum oa2_jwt_alg)i;
			return 0;
		}
	return -1;
}

const char *
oa2_jwt_alg_name(enum oa2_jwt_alg alg)
{
	return alg_names[alg];
}

/* no_passphrase - refuse encrypted keys instead of prompting */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	(void) buf;
	(void) size;
	(void) rw;
	(void) u;
	return 0;
}

/* thumbprints - x5t#S256 and x5t of a certificate */
static int
thumbprints(struct oa2_jwt_key *k, X509 *x)
{
	unsigned char *der = NULL, s256[SHA256_DIGEST_LENGTH], s1[SHA_DIGEST_LENGTH];
	int	n, r;

	if ((n = i2d_X509(x, &der)) <= 0)
		return -1;
	SHA256(der, (size_t)n, s256);
	SHA1(der, (size_t)n, s1);
	OPENSSL_free(der);
	r = oa2_b64url(s256, sizeof(s256), k->x5t_s256, sizeof(k->x5t_s256)) < 0 ||
	    oa2_b64url(s1, sizeof(s1), k->x5t, sizeof(k->x5t)) < 0 ? -1 : 0;
	return r;
}

/* key_alg - the algorithm for this key, or -1 */
static int
key_alg(EVP_PKEY *pk, enum oa2_jwt_alg want)
{
	char	group[64];
	size_t	glen = 0;

	if (EVP_PKEY_is_a(pk, "RSA"))
		return want == OA2_JWT_AUTO ? OA2_JWT_RS256 :
		    want == OA2_JWT_ES256 ? -1 : (int)want;
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group),
	    &glen) == 1 && strcmp(group, "prime256v1") == 0)
		return want == OA2_JWT_AUTO || want == OA2_JWT_ES256 ?
		    OA2_JWT_ES256 : -1;
	return -1;
}

/* oa2_jwt_key_load - key (and certificate) from PEM */
enum oa2_status
oa2_jwt_key_load(struct oa2_jwt_key *k, const char *key_pem, size_t key_len,
    const char *cert_pem, size_t cert_len, enum oa2_jwt_alg alg,
    const char *who, struct oa2_error *err)
{
	EVP_PKEY *pk = NULL;
	X509   *x = NULL;
	BIO    *b;
	int	a;

	memset(k, 0, sizeof(*k));
	if (key_len > 64 * 1024 ||
	    (b = BIO_new_mem_buf(key_pem, (int)key_len)) == NULL)
		return oa2_error_set(err, OA2_ERR_INPUT, "app_key",
		    "%s: the private key cannot be read", who);
	pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (pk == NULL)
		return oa2_error_set(err, OA2_ERR_INPUT, "app_key",
		    "%s: no unencrypted private key in PEM form (an encrypted "
		    "one: decrypt it with openssl pkey -in KEY -out KEY.new)",
		    who);
	if ((a = key_alg(pk, alg)) < 0) {
		EVP_PKEY_free(pk);
		return oa2_error_set(err, OA2_ERR_INPUT, "app_key",
		    "%s: the key is not an RSA or P-256 key%s%s", who,
		    alg != OA2_JWT_AUTO ? " usable with " : "",
		    alg != OA2_JWT_AUTO ? alg_names[alg] : "");
	}
	k->pkey = pk;
	k->alg = (enum oa2_jwt_alg)a;
	if (cert_pem == NULL)
		return OA2_OK;
	if (cert_len > 64 * 1024 ||
	    (b = BIO_new_mem_buf(cert_pem, (int)cert_len)) == NULL ||
	    ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)), BIO_free(b),
	    x == NULL)) {
		oa2_jwt_key_free(k);
		return oa2_error_set(err, OA2_ERR_INPUT, "app_cert",
		    "%s: no X.509 certificate in PEM form", who);
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), pk) != 1) {
		X509_free(x);
		oa2_jwt_key_free(k);
		return oa2_error_set(err, OA2_ERR_INPUT, "app_cert",
		    "%s: the certificate does not belong to the private key "
		    "(give the certificate uploaded with this key)", who);
	}
	if (thumbprints(k, x) < 0) {
		X509_free(x);
		oa2_jwt_key_free(k);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory");
	}
	X509_free(x);
	k->has_cert = 1;
	return OA2_OK;
}

void
oa2_jwt_key_free(struct oa2_jwt_key *k)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

/* put_part - base64url of a JSON object's compact dump, then sep */
static int
put_part(struct oa2_buf *out, json_t *obj, int sep)
{
	char	enc[4 * PART_MAX / 3 + 8];
	size_t	len;
	char   *d;
	int	r = -1;

	if (obj == NULL ||
	    (d = oa2_json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER,
	    &len)) == NULL)
		return -1;
	if (len <= PART_MAX &&
	    oa2_b64url((const unsigned char *)d, len, enc, sizeof(enc)) >= 0 &&
	    oa2_buf_puts(out, enc) == 0 && (sep == 0 || oa2_buf_putc(out, sep) == 0))
		r = 0;
	oa2_json_free_dump(d);
	return r;
}

/* header - the JOSE header */
static json_t *
header(const struct oa2_jwt_key *k)
{
	json_t *h = json_object();

	if (h == NULL ||
	    json_object_set_new(h, "alg", json_string(alg_names[k->alg])) ||
	    json_object_set_new(h, "typ", json_string("JWT")) ||
	    (*k->kid && json_object_set_new(h, "kid", json_string(k->kid))) ||
	    (k->has_cert &&
	    (json_object_set_new(h, "x5t#S256", json_string(k->x5t_s256)) ||
	    json_object_set_new(h, "x5t", json_string(k->x5t))))) {
		json_decref(h);
		return NULL;
	}
	return h;
}

/* claims - the JWT claims set */
static json_t *
claims(const struct oa2_jwt_claims *c)
{
	json_t *o = json_object();
	char	jti[32];

	if (o == NULL ||
	    json_object_set_new(o, "iss", json_string(c->iss)) ||
	    (c->sub && json_object_set_new(o, "sub", json_string(c->sub))) ||
	    json_object_set_new(o, "aud", json_string(c->aud)) ||
	    (c->scope && json_object_set_new(o, "scope", json_string(c->scope))) ||
	    json_object_set_new(o, "iat", json_integer(c->iat)) ||
	    (c->nbf && json_object_set_new(o, "nbf", json_integer(c->iat))) ||
	    json_object_set_new(o, "exp", json_integer(c->iat + c->lifetime)) ||
	    (c->jti && (oa2_random_b64url(jti, sizeof(jti), 16) < 0 ||
	    json_object_set_new(o, "jti", json_string(jti))))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* es256_raw - an ECDSA DER signature as r || s, 32 bytes each */
static int
es256_raw(const unsigned char *der, size_t len, unsigned char *raw)
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int	ok;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok ? 64 : -1;
}

/* sign_input - the signature of out's content so far, base64url, appended */
static int
sign_input(const struct oa2_jwt_key *k, struct oa2_buf *out)
{
	unsigned char sig[1024], raw[64];
	char	enc[4 * sizeof(sig) / 3 + 8];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md;
	size_t	slen = sizeof(sig);
	int	r = -1, n;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
	    (k->alg == OA2_JWT_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
	    EVP_DigestSign(md, sig, &slen, (const unsigned char *)out->data,
	    out->len) != 1)
		goto done;
	if (k->alg == OA2_JWT_ES256) {
		if ((n = es256_raw(sig, slen, raw)) < 0)
			goto done;
		memcpy(sig, raw, (size_t)n);
		slen = (size_t)n;
	}
	if (oa2_b64url(sig, slen, enc, sizeof(enc)) >= 0 &&
	    oa2_buf_putc(out, '.') == 0 && oa2_buf_puts(out, enc) == 0)
		r = 0;
done:
	EVP_MD_CTX_free(md);
	oa2_wipe(enc, sizeof(enc));
	return r;
}

/* oa2_jwt_sign - header.claims.signature */
enum oa2_status
oa2_jwt_sign(const struct oa2_jwt_key *k, const struct oa2_jwt_claims *c,
    struct oa2_buf *out, struct oa2_error *err)
{
	json_t *h, *p;
	int	r;

	oa2_buf_init(out, JWT_MAX);
	if (k->pkey == NULL || c->iss == NULL || c->aud == NULL)
		return oa2_error_set(err, OA2_ERR_INTERNAL, "jwt",
		    "a JWT needs a key, an issuer and an audience");
	h = header(k);
	p = claims(c);
	r = put_part(out, h, '.') < 0 || put_part(out, p, 0) < 0 ? -1 : 0;
	json_decref(h);
	json_decref(p);
	if (r == 0 && sign_input(k, out) < 0) {
		oa2_buf_free(out);
		return oa2_error_set(err, OA2_ERR_INPUT, "jwt",
		    "signing with the %s key failed", alg_names[k->alg]);
	}
	if (r < 0) {
		oa2_buf_free(out);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory (or a claim too long for a JWT)");
	}
	return OA2_OK;
}
