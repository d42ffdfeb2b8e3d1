/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_settings 3h
 * SUMMARY
 *	every setting once: the table, and the settings in effect for a token
 * DESCRIPTION
 *	See oa2_settings.c.
 *--*/
#ifndef OA2_SETTINGS_H
#define OA2_SETTINGS_H

#include <jansson.h>

#include "oa2_error.h"
#include "oa2_limits.h"

struct oa2_token;
struct oa2_config;
struct oa2_provider;

enum oa2_setting_id {
	OA2_S_REFRESH_TOKEN,
	OA2_S_ACCESS_TOKEN,
	OA2_S_EXPIRY,
	OA2_S_USER,
	OA2_S_CLIENT_ID,
	OA2_S_CLIENT_SECRET,
	OA2_S_TOKEN_ENDPOINT,
	OA2_S_PROXY,
	OA2_S_CA_BUNDLE_FILE,
	OA2_S_CA_CERTS_DIR,
	OA2_S_PROVIDER,
	OA2_S_TENANT,
	OA2_S_SCOPE,
	OA2_S_CLIENT_AUTH,
	OA2_S_REFRESH_WINDOW,
	OA2_S_EXPIRES_IN,
	OA2_S_REVOCATION_ENDPOINT,
	OA2_S_CONNECT_TIMEOUT,
	OA2_S_TIMEOUT,
	OA2_S_LOG_LEVEL,
	OA2_S_XO_LOG_SYSLOG,
	OA2_S_XO_LOG_TRACE,
	OA2_S_AUTHORIZED_AT,
	OA2_S_REFRESHED_AT,
	OA2_S_IMPORTED_FROM,
	OA2_S_IMPORTED_AT,
	OA2_S_ISSUER,
	OA2_S_AUTHORIZATION_ENDPOINT,
	OA2_S_DEVICE_ENDPOINT,
	OA2_S_REDIRECT_URI,
	/* App-only grants (oa2_app(3)): paths to the credentials, never a key inline. */
	OA2_S_GRANT,
	OA2_S_CLIENT_KEY_FILE,
	OA2_S_CLIENT_CERT_FILE,
	OA2_S_SERVICE_ACCOUNT_FILE,
	OA2_S_JWT_ALG,
	OA2_S_MAIL_LOG,
	OA2_S_COUNT
};

enum oa2_setting_type {
	OA2_T_STRING,		/* a string, may be empty */
	OA2_T_REQUIRED,		/* a non-empty string the token file must have */
	OA2_T_EPOCH,		/* epoch seconds: digit string (written) or integer >= 0 */
	OA2_T_SECONDS,		/* integer >= 0 or a string of digits */
	OA2_T_CLIENT_AUTH,	/* "post" or "basic" ("" in a token file: unset) */
	OA2_T_LOG_LEVEL,	/* "error", "warning", "notice" ("info"), "debug" */
	OA2_T_IGNORED,		/* accepted and ignored (sasl-xoauth2's own) */
	OA2_T_NOTE,		/* the tool's record: kept, never checked */
	OA2_T_GRANT,		/* "refresh_token", "client_credentials", "jwt_bearer" */
	OA2_T_BOOL		/* true or false; dflt: the default */
};

/* How the access token is obtained (the token file's "grant"). */
enum oa2_grant_kind {
	OA2_GRANT_REFRESH,		/* refresh_token (the default) */
	OA2_GRANT_CLIENT_CREDENTIALS,	/* RFC 6749 4.4, app-only */
	OA2_GRANT_JWT_BEARER		/* RFC 7523 2.1, app-only */
};

/* oa2_grant_kind_parse - a "grant" value (NULL or "": refresh_token); -1 otherwise */
int	oa2_grant_kind_parse(const char *name, enum oa2_grant_kind *out);
const char *oa2_grant_kind_name(enum oa2_grant_kind g);

/* Where a setting may appear (bit mask). */
#define OA2_IN_TOKEN	1	/* the token file */
#define OA2_IN_CONFIG	2	/* the configuration file */
#define OA2_IN_PRESET	4	/* the provider preset supplies it (oa2_provider(3)) */

struct oa2_setting_def {
	const char *name;
	enum oa2_setting_type type;
	unsigned where;
	int	secret;		/* never in a message, log or argv; wiped */
	long	dflt;		/* OA2_T_SECONDS, OA2_T_BOOL: the default */
	long	min;		/* OA2_T_SECONDS: a smaller value is raised to this */
};

extern const struct oa2_setting_def oa2_settings_table[OA2_S_COUNT];

#define OA2_SETTING_NAME(id)	(oa2_settings_table[(id)].name)

/* oa2_setting_find - the table row of a member name, or NULL */
const struct oa2_setting_def *oa2_setting_find(const char *name);

/* oa2_setting_id_of - the id of a row */
enum oa2_setting_id oa2_setting_id_of(const struct oa2_setting_def *def);

/* oa2_setting_digits - integer >= 0 or digit string, at most max; -1 if not */
int	oa2_setting_digits(const json_t *v, long long max, long long *out);

/* oa2_setting_type_name - JSON type of a value for messages (never the value) */
const char *oa2_setting_type_name(const json_t *v);

/* oa2_setting_log_level - the level a log_level name stands for; -1 if none */
int	oa2_setting_log_level(const char *name);

enum oa2_client_auth {
	OA2_AUTH_POST,		/* client_id (and client_secret) in the form */
	OA2_AUTH_BASIC		/* HTTP Basic, when there is a client_secret */
};

enum oa2_endpoint_problem {
	OA2_EP_OK,
	OA2_EP_MISSING,		/* neither token_endpoint nor provider */
	OA2_EP_TOO_LONG,	/* token_endpoint longer than OA2_URL_MAX */
	OA2_EP_UNKNOWN_PROVIDER,
	OA2_EP_BAD_TENANT
};

struct oa2_settings {
	const char *token_endpoint;	/* NULL: see endpoint_problem */
	const char *revocation_endpoint;	/* NULL: none known */
	const char *client_id;
	const char *client_secret;
	const char *scope;
	const char *proxy;
	const char *ca_file;		/* ca_bundle_file */
	const char *ca_dir;		/* ca_certs_dir */
	const char *provider;
	const char *tenant;
	const char *user;		/* the token file's only */
	enum oa2_grant_kind grant;	/* the token file's only */
	const char *client_key_file;	/* PEM private key (private_key_jwt, jwt_bearer) */
	const char *client_cert_file;	/* its certificate: x5t#S256 header */
	const char *service_account_file;	/* Google's JSON key file */
	const char *jwt_alg;		/* RS256 (default for RSA), PS256, ES256 */
	const struct oa2_provider *preset;	/* provider's preset, or NULL */
	enum oa2_client_auth client_auth;
	long long refresh_window;	/* seconds, in effect (see below) */
	long long refresh_window_set;	/* seconds, as configured */
	long	connect_timeout;	/* seconds */
	long	timeout;		/* seconds */
	int	log_level;
	const char *config_path;	/* for messages: the file settings come from */
	enum oa2_endpoint_problem endpoint_problem;
	char	endpoint_buf[OA2_URL_MAX];
	char	revoke_buf[OA2_URL_MAX];
};

/*
 * oa2_effective_window - the refresh window in effect: the configured one,
 * but at most half the lifetime of the provider's access tokens (the
 * token file's expires_in, from the last refresh; < 0: unknown).  With
 * tokens that live 300 s (Keycloak's default) or 60 s a 300 s window would
 * make every use refresh, and concurrent users refresh one after another.
 */
long long oa2_effective_window(long long configured, long long lifetime);

void	oa2_settings_resolve(struct oa2_settings *s, const struct oa2_token *tok,
    const struct oa2_config *cfg);
enum oa2_status oa2_settings_require(const struct oa2_settings *s,
    const char *path, struct oa2_error *err);

#endif
