/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_grant 3h
 * SUMMARY
 *	the OAuth client side: requests, client authentication, replies
 * DESCRIPTION
 *	See oa2_grant.c.
 *--*/
#ifndef OA2_GRANT_H
#define OA2_GRANT_H

#include <stddef.h>

#include "oa2_error.h"
#include "oa2_http.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "oa2_tokresp.h"

/*
 * Client authentication (RFC 6749 2.3) is the settings model's enum
 * oa2_client_auth (oa2_settings.h): OA2_AUTH_POST, client_id and
 * client_secret in the form; OA2_AUTH_BASIC, HTTP Basic with the parts
 * form-encoded (2.3.1).  With client_assertion set, a signed JWT
 * (RFC 7523 2.2, private_key_jwt; oa2_app(3) builds it) goes in the form
 * instead of any secret.
 */

struct oa2_client {
	const char *token_endpoint;
	const char *client_id;
	const char *client_secret;	/* NULL or "": a public client */
	enum oa2_client_auth client_auth;
	const char *client_assertion;	/* NULL: none; else RFC 7523 2.2 */
	const char *scope;		/* NULL: none sent on refresh */
	struct oa2_http_opts http;
};

/* oa2_client_from_settings - c from resolved settings (endpoint, client, CA, proxy, timeouts) */
void oa2_client_from_settings(struct oa2_client *c,
    const struct oa2_settings *s);

/* oa2_client_auth_parse - "post" or "basic" (NULL: post); -1 otherwise */
int oa2_client_auth_parse(const char *name, enum oa2_client_auth *out);
/* oa2_client_auth_name - "post" or "basic" */
const char *oa2_client_auth_name(enum oa2_client_auth auth);

/* oa2_grant_client_auth - add c's authentication to form; Basic credentials to *user, *pass */
int oa2_grant_client_auth(const struct oa2_client *c, struct oa2_buf *form,
    const char **basic_user, const char **basic_pass);
/* oa2_grant_post - the one POST: client authentication added, form wiped by the caller */
enum oa2_status oa2_grant_post(const struct oa2_client *c, const char *url,
    struct oa2_buf *form, struct oa2_http_resp *resp, struct oa2_error *err);

/* The forms (without client authentication); -1 when they do not fit. */
int oa2_grant_code_form(struct oa2_buf *form, const char *code,
    const char *redirect_uri, const char *verifier);
int oa2_grant_refresh_form(struct oa2_buf *form, const char *refresh_token,
    const char *scope);
int oa2_grant_device_form(struct oa2_buf *form, const char *scope);
int oa2_grant_device_poll_form(struct oa2_buf *form, const char *device_code);
int oa2_grant_revoke_form(struct oa2_buf *form, const char *token,
    const char *hint);

/* The authorization request (RFC 6749 4.1.1, PKCE S256 RFC 7636). */
struct oa2_pkce {
	char verifier[48];		/* 43 characters from 32 random bytes */
	char challenge[48];		/* BASE64URL(SHA256(verifier)) */
	char state[32];			/* 22 characters from 16 random bytes */
};

struct oa2_authz_req {
	const char *authorization_endpoint;
	const char *client_id;
	const char *redirect_uri;
	const char *scope;
	const char *login_hint;		/* NULL: none */
	const char *extra;		/* encoded "a=b&c=d" of a preset, or NULL */
	const char *const *params;	/* "name=value" to encode; NULL-ended */
};

/* oa2_pkce_new - fresh verifier, challenge and state; -1 without random bytes */
int oa2_pkce_new(struct oa2_pkce *p);
/* oa2_pkce_challenge - S256 challenge of verifier into out; -1 if it does not fit */
int oa2_pkce_challenge(const char *verifier, char *out, size_t size);
/* oa2_b64url - unpadded base64url of in into out; length or -1 */
int oa2_b64url(const unsigned char *in, size_t n, char *out, size_t size);
/* oa2_random_b64url - nbytes random bytes, base64url, into out; -1 on failure */
int oa2_random_b64url(char *out, size_t size, size_t nbytes);
/* oa2_authz_url - the authorization URL into url (initialised here) */
int oa2_authz_url(const struct oa2_authz_req *r, const struct oa2_pkce *p,
    struct oa2_buf *url);
/* oa2_url_append - append "?name=value" or "&name=value", percent-encoded */
int oa2_url_append(struct oa2_buf *url, const char *name, const char *value);
/* oa2_query_param - decoded value of name in a query (after '?' or whole); NULL */
char *oa2_query_param(const char *url_or_query, const char *name);
/* oa2_authz_reply - the code from a redirect query, state checked; NULL with err */
char *oa2_authz_reply(const char *query, const char *state,
    int require_state, struct oa2_error *err);

/* Replies.  Each refuses duplicate members and reports running out of memory
 * as OA2_ERR_NOMEM "nomem"; messages hold no secret of the request. */
struct oa2_oauth_error {
	char *error;
	char *error_description;
	char *error_uri;
};

/* oa2_oauth_error_parse - an RFC 6749 5.2 error reply from who; the class as status */
enum oa2_status oa2_oauth_error_parse(const char *body, size_t len,
    long http_status, const char *who, const char *const *secrets,
    struct oa2_oauth_error *out, struct oa2_error *err);
void oa2_oauth_error_free(struct oa2_oauth_error *e);

struct oa2_device {
	char *device_code;		/* secret */
	char *user_code;
	char *verification_uri;		/* or Google's verification_url */
	char *verification_uri_complete;	/* NULL when absent */
	long long expires_in;		/* 600 when absent */
	long long interval;		/* 5 when absent or out of 1..60 */
};

/* oa2_device_parse - an RFC 8628 3.2 device authorization reply */
enum oa2_status oa2_device_parse(const char *body, size_t len,
    long http_status, struct oa2_device *out, struct oa2_error *err);
void oa2_device_free(struct oa2_device *d);

struct oa2_discovery {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *device_authorization_endpoint;
	char *revocation_endpoint;
};

/* oa2_discovery_parse - RFC 8414 / OpenID Connect Discovery metadata from url */
enum oa2_status oa2_discovery_parse(const char *body, size_t len,
    long http_status, const char *url, struct oa2_discovery *out,
    struct oa2_error *err);
void oa2_discovery_free(struct oa2_discovery *d);

/* oa2_id_token_user - the email (or preferred_username) claim, unverified; NULL */
char *oa2_id_token_user(const char *id_token);

/* The grants. */
enum oa2_status oa2_grant_refresh(const struct oa2_client *c,
    const char *refresh_token, struct oa2_tokresp *tr, struct oa2_error *err);
enum oa2_status oa2_grant_code(const struct oa2_client *c, const char *code,
    const char *redirect_uri, const char *verifier, struct oa2_tokresp *tr,
    char **user, struct oa2_error *err);
enum oa2_status oa2_grant_device_start(const struct oa2_client *c,
    const char *device_endpoint, struct oa2_device *d, struct oa2_error *err);
enum oa2_status oa2_grant_device_poll(const struct oa2_client *c,
    const struct oa2_device *d, struct oa2_tokresp *tr, char **user,
    struct oa2_error *err);
enum oa2_status oa2_grant_revoke(const struct oa2_client *c, const char *url,
    const char *token, const char *hint, struct oa2_error *err);
/* App-only: RFC 6749 4.4 (c->scope sent), RFC 7523 2.1 (assertion signed by oa2_app(3)). */
int oa2_grant_client_credentials_form(struct oa2_buf *form, const char *scope);
int oa2_grant_jwt_bearer_form(struct oa2_buf *form, const char *assertion);
enum oa2_status oa2_grant_client_credentials(const struct oa2_client *c,
    struct oa2_tokresp *tr, struct oa2_error *err);
enum oa2_status oa2_grant_jwt_bearer(const struct oa2_client *c,
    const char *assertion, struct oa2_tokresp *tr, struct oa2_error *err);

/* What the device flow does after a poll (RFC 8628 3.5). */
enum oa2_poll {
	OA2_POLL_DONE,			/* tokens granted */
	OA2_POLL_WAIT,			/* poll again after d->interval s */
	OA2_POLL_FAIL			/* stop: err says why */
};

/* oa2_device_decide - the next step after a poll that returned st, err */
enum oa2_poll oa2_device_decide(struct oa2_device *d, enum oa2_status st,
    const struct oa2_error *err);

#endif
