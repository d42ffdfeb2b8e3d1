/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tls 3
 * SUMMARY
 *	the one TLS trust policy of plugin, tool and connection test
 * SYNOPSIS
 *	#include "oa2_tls.h"
 *
 *	enum oa2_status oa2_tls_ctx_setup(SSL_CTX *ctx,
 *		const struct oa2_http_opts *opts, const char *host,
 *		struct oa2_tls_peer *peer, struct oa2_error *err)
 *
 *	int oa2_tls_verify_host(X509_VERIFY_PARAM *param, const char *host)
 *
 *	const char *oa2_tls_reason(const struct oa2_tls_peer *peer,
 *		char *buf, size_t size)
 *
 *	int oa2_tls_refused(const struct oa2_tls_peer *peer)
 *
 *	enum oa2_status oa2_tls_refusal(const struct oa2_tls_peer *peer,
 *		const char *shown, const char *fix, struct oa2_error *err)
 * DESCRIPTION
 *	Every TLS client of this project verifies its peer here: the token
 *	endpoint requests of plugin and tool (lib/oa2_http.c calls
 *	oa2_tls_ctx_setup() from libcurl's CURLOPT_SSL_CTX_FUNCTION) and the
 *	SMTP/IMAP connection test (tools/conntest.c, on its own socket).
 *	So a certificate that one of them accepts, all accept.
 *
 *	oa2_tls_ctx_setup() prepares a client SSL_CTX that serves one
 *	connection to host (a DNS name or an IP literal, without brackets):
 * .IP \(bu
 *	trust: the CA bundle file opts->ca_file and/or the hashed directory
 *	opts->ca_dir; with neither, the system bundle OA2_DEFAULT_CA_FILE
 *	(the file Debian's libcurl and ca-certificates use).  A missing or
 *	unreadable bundle is OA2_ERR_INPUT "ca_bundle", naming the file.
 * .IP \(bu
 *	partial chains are accepted (X509_V_FLAG_PARTIAL_CHAIN): any
 *	certificate in the bundle is a trust anchor, an intermediate too.
 *	This is libcurl's default since 7.68; an administrator who puts an
 *	intermediate in the bundle means to trust what it issued.
 * .IP \(bu
 *	TLS 1.2 or later, peer verification on, and the host checked by
 *	OpenSSL during the handshake (oa2_tls_verify_host()): a name
 *	against the subjectAltName DNS entries only (no fall-back to the
 *	subject CN, no partial wildcards), an IP literal against the
 *	subjectAltName IP entries only.
 * .IP \(bu
 *	SSL_OP_CLEANSE_PLAINTEXT: OpenSSL wipes its record buffers of
 *	decrypted data (the reply holds tokens) once they are consumed.
 * .PP
 *	peer (may be NULL) records what the handshake ran into: the first
 *	certificate error, whether the leaf had a subjectAltName, a fatal
 *	alert.  It must live as long as the SSL_CTX.  oa2_tls_refused()
 *	says whether it holds a refusal, oa2_tls_reason() puts it in words
 *	that name the cause (expired, self-signed, wrong host name, unknown
 *	CA, no subjectAltName, protocol version), and oa2_tls_refusal()
 *	makes the one message all clients print: "TLS certificate of SHOWN
 *	not accepted: REASON (FIX)" or "TLS handshake with SHOWN failed:
 *	REASON (FIX)", class OA2_ERR_PERM, code "tls".
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Utility library. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Application-specific. */
#include "oa2_tls.h"

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int peer_index = -1;

/* new_index - the SSL_CTX slot that points at the peer record */
static void
new_index(void)
{
	peer_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* peer_of - the peer record of the connection ssl belongs to */
static struct oa2_tls_peer *
peer_of(const SSL *ssl)
{
	if (ssl == NULL || peer_index < 0)
		return NULL;
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), peer_index);
}

/* on_verify - note the first certificate error (OpenSSL's verdict stands) */
static int
on_verify(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct oa2_tls_peer *peer = peer_of(ssl);
	X509 *leaf;

	if (!ok && peer != NULL && peer->verify_err == X509_V_OK) {
		peer->verify_err = X509_STORE_CTX_get_error(xs);
		leaf = X509_STORE_CTX_get0_cert(xs);
		peer->no_san = leaf != NULL &&
		    X509_get_ext_by_NID(leaf, NID_subject_alt_name, -1) < 0;
	}
	return ok;
}

/* on_info - note a fatal alert, sent or received */
static void
on_info(const SSL *ssl, int where, int ret)
{
	struct oa2_tls_peer *peer;

	if ((where & SSL_CB_ALERT) == 0 || (ret >> 8) != SSL3_AL_FATAL)
		return;
	if ((peer = peer_of(ssl)) != NULL && peer->alert < 0)
		peer->alert = ret & 0xff;
}

int
oa2_tls_verify_host(X509_VERIFY_PARAM *param, const char *host)
{
	unsigned char b[16];

	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
	return X509_VERIFY_PARAM_set1_host(param, host, 0) == 1 ? 0 : -1;
}

/* ssl_reason - OpenSSL's last error in words */
static const char *
ssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : strerror(errno);
}

enum oa2_status
oa2_tls_ctx_setup(SSL_CTX *ctx, const struct oa2_http_opts *opts,
    const char *host, struct oa2_tls_peer *peer, struct oa2_error *err)
{
	const char *file = opts && opts->ca_file && *opts->ca_file ?
	    opts->ca_file : NULL;
	const char *dir = opts && opts->ca_dir && *opts->ca_dir ?
	    opts->ca_dir : NULL;

	if (peer != NULL) {
		snprintf(peer->host, sizeof(peer->host), "%s", host);
		peer->verify_err = X509_V_OK;
		peer->no_san = 0;
		peer->alert = -1;
		pthread_once(&index_once, new_index);
		if (peer_index < 0 || !SSL_CTX_set_ex_data(ctx, peer_index, peer))
			return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
			    "cannot set up TLS for %s", host);
		SSL_CTX_set_info_callback(ctx, on_info);
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
#ifdef SSL_OP_CLEANSE_PLAINTEXT
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
#endif
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
	    X509_V_FLAG_PARTIAL_CHAIN);
	if (oa2_tls_verify_host(SSL_CTX_get0_param(ctx), host) < 0)
		return oa2_error_set(err, OA2_ERR_INPUT, "url",
		    "%s is not a usable host name", host);

	/*
	 * Nothing configured: the system bundle.  Its absence (typically
	 * inside a chroot) is reported by name: the hashed directory is no
	 * fallback there, Debian's postfix start copies *.pem files into it
	 * without their hash links.
	 */
	if (file == NULL && dir == NULL)
		file = OA2_DEFAULT_CA_FILE;
	ERR_clear_error();
	errno = 0;
	if ((file != NULL &&
	    SSL_CTX_load_verify_locations(ctx, file, NULL) != 1) ||
	    (dir != NULL && access(dir, X_OK) != 0) ||
	    (dir != NULL && SSL_CTX_load_verify_locations(ctx, NULL, dir) != 1))
		return oa2_error_set(err, OA2_ERR_INPUT, "ca_bundle",
		    "cannot read the CA bundle to verify %s: %s: %s (set "
		    "ca_bundle_file to a readable file; inside a chroot it must "
		    "exist there)", host, file != NULL ? file : dir, ssl_reason());
	ERR_clear_error();
	return OA2_OK;
}

int
oa2_tls_refused(const struct oa2_tls_peer *peer)
{
	return peer->verify_err != X509_V_OK || peer->alert >= 0;
}

const char *
oa2_tls_reason(const struct oa2_tls_peer *peer, char *buf, size_t size)
{
	switch (peer->verify_err) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "the certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "the certificate is not yet valid";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "the certificate is self-signed and not in the CA bundle";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "unknown CA: the certificate's issuer is not in the CA bundle";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		if (peer->no_san)
			snprintf(buf, size, "wrong host name: the certificate has no "
			    "subjectAltName (a name only in its subject CN is not "
			    "accepted for %s)", peer->host);
		else
			snprintf(buf, size, "wrong host name: the certificate is not "
			    "for %s", peer->host);
		return buf;
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(buf, size, "wrong host name: the certificate does not "
		    "list the IP address %s", peer->host);
		return buf;
	default:
		snprintf(buf, size, "certificate not accepted: %s",
		    X509_verify_cert_error_string(peer->verify_err));
		return buf;
	}
	if (peer->alert == SSL_AD_PROTOCOL_VERSION)
		return "protocol version: the server speaks no TLS version this "
		    "client accepts (TLS 1.2 or later)";
	if (peer->alert >= 0) {
		snprintf(buf, size, "TLS handshake refused: %s",
		    SSL_alert_desc_string_long(SSL3_AL_FATAL << 8 | peer->alert));
		return buf;
	}
	return "TLS handshake failed";
}

enum oa2_status
oa2_tls_refusal(const struct oa2_tls_peer *peer, const char *shown,
    const char *fix, struct oa2_error *err)
{
	char	why[512];
	int	cert = peer->verify_err != X509_V_OK;

	return oa2_error_set(err, OA2_ERR_PERM, "tls", "TLS %s %s %s: %s (%s)",
	    cert ? "certificate of" : "handshake with", shown,
	    cert ? "not accepted" : "failed",
	    oa2_tls_reason(peer, why, sizeof(why)), fix);
}
