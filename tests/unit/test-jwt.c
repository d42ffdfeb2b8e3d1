/* SPDX-License-Identifier: MIT */
/* test-jwt - JWT signing (RS256, PS256, ES256) checked with OpenSSL's own
 * verification, the thumbprint headers, refused keys and certificates;
 * credential files (mode, owner, symlink) and the service account parser;
 * what an app-only grant needs before it sends anything */
#include "config.h"

#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "oa2_app.h"
#include "oa2_grant.h"
#include "oa2_jwt.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "tap.h"

/* b64url_decode - into out; length or -1 */
static int
b64url_decode(const char *in, size_t n, unsigned char *out, size_t size)
{
	char	buf[8192];
	size_t	i, m = n;
	int	len;

	if (n + 4 > sizeof(buf))
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	while (m % 4)
		buf[m++] = '=';
	if (size < m / 4 * 3)
		return -1;
	if ((len = EVP_DecodeBlock(out, (unsigned char *)buf, (int)m)) < 0)
		return -1;
	return len - (int)(m - n);
}

/* part - decode part i (0, 1) of a JWT as JSON */
static json_t *
part(const char *jwt, int i)
{
	unsigned char raw[4096];
	const char *p = jwt, *e;
	int	n;

	while (i-- > 0)
		p = strchr(p, '.') + 1;
	e = strchr(p, '.');
	if ((n = b64url_decode(p, (size_t)(e - p), raw, sizeof(raw))) < 0)
		return NULL;
	return json_loadb((const char *)raw, (size_t)n, 0, NULL);
}

/* verify - check the JWT's signature with OpenSSL */
static int
verify(const char *jwt, EVP_PKEY *pk, enum oa2_jwt_alg alg, int *siglen)
{
	unsigned char sig[1024], der[128];
	const char *dot = strrchr(jwt, '.');
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *es;
	unsigned char *pder = der;
	int	n, r = 0, dl;

	n = b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig));
	*siglen = n;
	if (n < 0)
		goto out;
	if (alg == OA2_JWT_ES256) {
		if (n != 64)
			goto out;
		es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
		    BN_bin2bn(sig + 32, 32, NULL));
		dl = i2d_ECDSA_SIG(es, &pder);
		ECDSA_SIG_free(es);
		memcpy(sig, der, (size_t)dl);
		n = dl;
	}
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pk) != 1)
		goto out;
	if (alg == OA2_JWT_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	r = EVP_DigestVerify(md, sig, (size_t)n, (const unsigned char *)jwt,
	    (size_t)(dot - jwt)) == 1;
out:
	EVP_MD_CTX_free(md);
	return r;
}

/* pem_key - a key as PKCS#8 PEM (malloc'ed) */
static char *
pem_key(EVP_PKEY *pk, const char *pass)
{
	BIO    *b = BIO_new(BIO_s_mem());
	char   *p, *out;
	long	n;

	PEM_write_bio_PrivateKey(b, pk, pass ? EVP_aes_128_cbc() : NULL,
	    NULL, 0, NULL, (void *)pass);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

/* cert_of - a self-signed certificate for pk, PEM, and its DER SHA-256 */
static char *
cert_of(EVP_PKEY *pk, unsigned char *s256)
{
	X509   *x = X509_new();
	BIO    *b = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char   *p, *out;
	long	n;
	int	dl;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"app", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, pk, EVP_sha256());
	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	dl = i2d_X509(x, &der);
	SHA256(der, (size_t)dl, s256);
	OPENSSL_free(der);
	BIO_free(b);
	X509_free(x);
	return out;
}

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
test_sign(const char *label, EVP_PKEY *pk, enum oa2_jwt_alg want,
    enum oa2_jwt_alg got_alg, int with_cert)
{
	struct oa2_jwt_claims c = {0};
	struct oa2_jwt_key k;
	struct oa2_error err;
	struct oa2_buf jwt;
	unsigned char s256[32];
	char	x5t[64], *kp = pem_key(pk, NULL), *cp = NULL;
	json_t *h, *p;
	int	siglen = 0;

	oa2_error_clear(&err);
	if (with_cert)
		cp = cert_of(pk, s256);
	ok(oa2_jwt_key_load(&k, kp, strlen(kp), cp, cp ? strlen(cp) : 0, want,
	    "key.pem", &err) == OA2_OK, "%s: key loads (%s)", label, err.msg);
	is_str(oa2_jwt_alg_name(k.alg), oa2_jwt_alg_name(got_alg),
	    "%s: algorithm", label);
	c.iss = "app-id";
	c.sub = "mbox@example.test";
	c.aud = "https://idp.example/token";
	c.scope = with_cert ? NULL : "https://mail.google.com/";
	c.iat = 1700000000;
	c.lifetime = 300;
	c.jti = c.nbf = with_cert;
	ok(oa2_jwt_sign(&k, &c, &jwt, &err) == OA2_OK, "%s: signs", label);
	ok(jwt.data != NULL && verify(jwt.data, pk, got_alg, &siglen),
	    "%s: OpenSSL verifies the signature", label);
	if (got_alg == OA2_JWT_ES256)
		is_int(siglen, 64, "%s: ES256 signature is raw r||s", label);
	h = part(jwt.data, 0);
	p = part(jwt.data, 1);
	is_str(jstr(h, "alg"), oa2_jwt_alg_name(got_alg), "%s: header alg", label);
	is_str(jstr(h, "typ"), "JWT", "%s: header typ", label);
	if (with_cert) {
		oa2_b64url(s256, 32, x5t, sizeof(x5t));
		is_str(jstr(h, "x5t#S256"), x5t,
		    "%s: x5t#S256 is the certificate's SHA-256", label);
		ok(jstr(h, "x5t") != NULL && strlen(jstr(h, "x5t")) == 27,
		    "%s: x5t is a SHA-1 thumbprint", label);
		ok(jstr(p, "jti") != NULL && strlen(jstr(p, "jti")) == 22,
		    "%s: a random jti", label);
		is_int(json_integer_value(json_object_get(p, "nbf")), c.iat,
		    "%s: nbf", label);
		ok(json_object_get(p, "scope") == NULL, "%s: no scope", label);
	} else {
		ok(json_object_get(h, "x5t#S256") == NULL &&
		    json_object_get(p, "jti") == NULL,
		    "%s: no thumbprint, no jti without asking", label);
		is_str(jstr(p, "scope"), "https://mail.google.com/",
		    "%s: scope", label);
	}
	is_str(jstr(p, "iss"), "app-id", "%s: iss", label);
	is_str(jstr(p, "sub"), "mbox@example.test", "%s: sub", label);
	is_str(jstr(p, "aud"), "https://idp.example/token", "%s: aud", label);
	is_int(json_integer_value(json_object_get(p, "exp")) -
	    json_integer_value(json_object_get(p, "iat")), 300,
	    "%s: exp = iat + lifetime", label);
	json_decref(h);
	json_decref(p);
	oa2_buf_free(&jwt);
	oa2_jwt_key_free(&k);
	free(kp);
	free(cp);
}

static void
test_refused(EVP_PKEY *rsa, EVP_PKEY *ec)
{
	struct oa2_jwt_key k;
	struct oa2_error err;
	unsigned char s256[32];
	char   *enc = pem_key(rsa, "pass"), *kp = pem_key(rsa, NULL);
	char   *other = cert_of(ec, s256);
	enum oa2_jwt_alg a;

	ok(oa2_jwt_key_load(&k, enc, strlen(enc), NULL, 0, OA2_JWT_AUTO,
	    "enc.pem", &err) == OA2_ERR_INPUT &&
	    strstr(err.msg, "enc.pem: no unencrypted private key") != NULL,
	    "an encrypted key is refused, naming the file: %s", err.msg);
	ok(oa2_jwt_key_load(&k, "junk", 4, NULL, 0, OA2_JWT_AUTO, "junk.pem",
	    &err) == OA2_ERR_INPUT && strcmp(err.code, "app_key") == 0,
	    "no PEM: app_key");
	ok(oa2_jwt_key_load(&k, kp, strlen(kp), NULL, 0, OA2_JWT_ES256,
	    "rsa.pem", &err) == OA2_ERR_INPUT && strstr(err.msg, "ES256"),
	    "ES256 with an RSA key is refused: %s", err.msg);
	ok(oa2_jwt_key_load(&k, kp, strlen(kp), other, strlen(other),
	    OA2_JWT_AUTO, "rsa.pem", &err) == OA2_ERR_INPUT &&
	    strcmp(err.code, "app_cert") == 0 &&
	    strstr(err.msg, "does not belong to the private key"),
	    "a certificate of another key is refused: %s", err.msg);
	ok(oa2_jwt_alg_parse("PS256", &a) == 0 && a == OA2_JWT_PS256 &&
	    oa2_jwt_alg_parse(NULL, &a) == 0 && a == OA2_JWT_AUTO &&
	    oa2_jwt_alg_parse("HS256", &a) < 0, "jwt_alg names");
	free(enc);
	free(kp);
	free(other);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE   *f;

	unlink(path);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_files(const char *dir)
{
	char	path[512], link[512];
	struct oa2_buf b;
	struct oa2_error err;

	snprintf(path, sizeof(path), "%s/key.pem", dir);
	write_file(path, "KEY", 0644);
	ok(oa2_app_read_file(path, "client_key_file", 1, &b, &err) ==
	    OA2_ERR_INPUT && strstr(err.msg, "mode 0644") &&
	    strstr(err.msg, "chmod 600") && strstr(err.msg, "client_key_file"),
	    "a key readable by others: refused with the fix: %s", err.msg);
	ok(oa2_app_read_file(path, "client_cert_file", 0, &b, &err) == OA2_OK &&
	    b.len == 3, "a certificate may be 0644");
	oa2_buf_free(&b);
	chmod(path, 0600);
	ok(oa2_app_read_file(path, "client_key_file", 1, &b, &err) == OA2_OK &&
	    strcmp(b.data, "KEY") == 0, "0600 and ours: read");
	oa2_buf_free(&b);
	snprintf(link, sizeof(link), "%s/link.pem", dir);
	unlink(link);
	ok(symlink(path, link) == 0 &&
	    oa2_app_read_file(link, "client_key_file", 1, &b, &err) ==
	    OA2_ERR_INPUT && strstr(err.msg, "symbolic link"),
	    "a symbolic link is refused: %s", err.msg);
	snprintf(link, sizeof(link), "%s/missing.pem", dir);
	ok(oa2_app_read_file(link, "service_account_file", 1, &b, &err) ==
	    OA2_ERR_INPUT && strstr(err.msg, "no such file") &&
	    strstr(err.msg, "service_account_file"), "missing: %s", err.msg);
	if (geteuid() == 0) {
		ok(chown(path, 1, 1) == 0 &&
		    oa2_app_read_file(path, "client_key_file", 1, &b, &err) ==
		    OA2_ERR_INPUT && strstr(err.msg, "owned by uid 1") &&
		    strstr(err.msg, "chown 0"),
		    "a key owned by another user: refused: %s", err.msg);
	} else
		ok(1, "# SKIP the owner check needs root to chown");
}

static void
test_sa(void)
{
	static const char good[] = "{\"type\":\"service_account\","
	    "\"client_email\":\"relay@proj.iam.gserviceaccount.com\","
	    "\"private_key\":\"-----BEGIN PRIVATE KEY-----SECRETPEM\","
	    "\"private_key_id\":\"abc123\","
	    "\"token_uri\":\"https://oauth2.googleapis.com/token\"}";
	static const struct {
		const char *json, *want;
	} bad[] = {
		{"{\"client_email\":\"a@b\"}", "\"private_key\" is missing"},
		{"{\"private_key\":\"SECRETPEM\"}", "\"client_email\" is missing"},
		{"{\"type\":\"authorized_user\",\"client_email\":\"a\","
		    "\"private_key\":\"SECRETPEM\"}", "not \"service_account\""},
		{"{\"client_email\":\"a\",\"private_key\":\"SECRETPEM\","
		    "\"private_key\":\"SECRETPEM2\"}", "not valid JSON"},
		{"{\"client_email\":\"a\",\"private_key\":\"SECRETPEM\","
		    "\"token_uri\":\"http://evil/token\"}", "not an https URL"},
		{"{\"client_email\":\"a\",\"private_key\":5}", "not a string"},
		{"[1]", "not a JSON object"},
		{"{\"client_email\":\"a\",\"private_key\":\"SECRETPEM", "not valid JSON"},
	};
	struct oa2_sa sa;
	struct oa2_error err;
	size_t	i;

	ok(oa2_app_sa_parse(good, strlen(good), "sa.json", &sa, &err) == OA2_OK,
	    "a service account key parses");
	is_str(sa.client_email, "relay@proj.iam.gserviceaccount.com",
	    "client_email");
	is_str(sa.private_key_id, "abc123", "private_key_id");
	is_str(sa.token_uri, "https://oauth2.googleapis.com/token", "token_uri");
	oa2_app_sa_free(&sa);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(oa2_app_sa_parse(bad[i].json, strlen(bad[i].json), "sa.json",
		    &sa, &err) == OA2_ERR_INPUT && strstr(err.msg, bad[i].want) &&
		    strncmp(err.msg, "sa.json: ", 9) == 0 &&
		    strstr(err.msg, "SECRETPEM") == NULL && sa.private_key == NULL,
		    "bad key file %zu: %s", i, err.msg);
}

static void
test_needs(void)
{
	struct oa2_settings s;
	struct oa2_tokresp tr;
	struct oa2_error err;

	memset(&s, 0, sizeof(s));
	s.grant = OA2_GRANT_JWT_BEARER;
	s.service_account_file = "/nonexistent/sa.json";
	ok(oa2_app_token(&s, "t.json", 0, &tr, &err) == OA2_ERR_INPUT &&
	    strstr(err.msg, "t.json: grant \"jwt_bearer\" needs \"user\""),
	    "jwt_bearer without a mailbox: %s", err.msg);
	s.user = "mbox@example.test";
	ok(oa2_app_token(&s, "t.json", 0, &tr, &err) == OA2_ERR_INPUT &&
	    strstr(err.msg, "/nonexistent/sa.json: no such file"),
	    "jwt_bearer with a missing key file: %s", err.msg);
	memset(&s, 0, sizeof(s));
	s.grant = OA2_GRANT_CLIENT_CREDENTIALS;
	s.token_endpoint = "https://127.0.0.1:1/token";
	s.client_id = "appclient";
	ok(oa2_app_token(&s, "t.json", 0, &tr, &err) == OA2_ERR_INPUT &&
	    strstr(err.msg, "needs \"client_secret\" or \"client_key_file\""),
	    "client_credentials without a credential: %s", err.msg);
	ok(oa2_grant_kind_parse("jwt_bearer", &s.grant) == 0 &&
	    s.grant == OA2_GRANT_JWT_BEARER &&
	    oa2_grant_kind_parse(NULL, &s.grant) == 0 &&
	    s.grant == OA2_GRANT_REFRESH &&
	    oa2_grant_kind_parse("password", &s.grant) < 0, "grant names");
}

int
main(void)
{
	char	dir[] = "/tmp/test-jwt.XXXXXX";
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");

	test_sign("RS256", rsa, OA2_JWT_AUTO, OA2_JWT_RS256, 1);
	test_sign("PS256", rsa, OA2_JWT_PS256, OA2_JWT_PS256, 0);
	test_sign("ES256", ec, OA2_JWT_AUTO, OA2_JWT_ES256, 1);
	test_refused(rsa, ec);
	if (mkdtemp(dir) != NULL) {
		test_files(dir);
		char	cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			ok(0, "cleanup of %s", dir);
	}
	test_sa();
	test_needs();
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	return tap_done();
}
