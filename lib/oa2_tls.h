/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tls 3h
 * SUMMARY
 *	the one TLS trust policy of plugin, tool and connection test
 * DESCRIPTION
 *	See oa2_tls.c.
 *--*/
#ifndef OA2_TLS_H
#define OA2_TLS_H

#include <openssl/ssl.h>

#include "oa2_error.h"
#include "oa2_http.h"

#ifndef OA2_DEFAULT_CA_FILE
#define OA2_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#endif

/* What one handshake ran into, for the message that names the reason. */
struct oa2_tls_peer {
	char host[256];		/* the name or address checked */
	long verify_err;	/* first certificate error; X509_V_OK: none */
	int no_san;		/* the server certificate has no subjectAltName */
	int alert;		/* fatal TLS alert sent or received; -1: none */
};

/* oa2_tls_ctx_setup - trust, protocol floor, host check, hygiene on ctx */
enum oa2_status oa2_tls_ctx_setup(SSL_CTX *ctx,
    const struct oa2_http_opts *opts, const char *host,
    struct oa2_tls_peer *peer, struct oa2_error *err);

/* oa2_tls_verify_host - check host (a name or an IP literal) in param */
int oa2_tls_verify_host(X509_VERIFY_PARAM *param, const char *host);

/* oa2_tls_reason - the refusal in words ("the certificate has expired") */
const char *oa2_tls_reason(const struct oa2_tls_peer *peer, char *buf,
    size_t size);

/* oa2_tls_refused - peer recorded a refusal (certificate or alert) */
int oa2_tls_refused(const struct oa2_tls_peer *peer);

/* oa2_tls_refusal - OA2_ERR_PERM "tls": what refused shown, why, and fix */
enum oa2_status oa2_tls_refusal(const struct oa2_tls_peer *peer,
    const char *shown, const char *fix, struct oa2_error *err);

#endif
