/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_settings 3
 * SUMMARY
 *	every setting once: the table, and the settings in effect for a token
 * SYNOPSIS
 *	#include "oa2_settings.h"
 *
 *	const struct oa2_setting_def oa2_settings_table[OA2_S_COUNT]
 *	const struct oa2_setting_def *oa2_setting_find(name)
 *	enum oa2_setting_id oa2_setting_id_of(def)
 *	int	oa2_setting_digits(v, max, out)
 *	const char *oa2_setting_type_name(v)
 *	int	oa2_setting_log_level(name)
 *	long long oa2_effective_window(configured, lifetime)
 *	void	oa2_settings_resolve(s, tok, cfg)
 *	enum oa2_status oa2_settings_require(s, path, err)
 * DESCRIPTION
 *	oa2_settings_table[] names each member a token file or the
 *	configuration file may hold, once: its JSON type, where it may appear
 *	(token file, configuration, provider preset), its default and whether
 *	it is a secret.  The token file's validation (oa2_tokdoc(3)), the
 *	configuration's (oa2_config(3)), the fuzzers' oracles and the tool
 *	(import, status, doctor) read it; nothing else lists setting names.
 *
 *	oa2_settings_resolve() fills a struct oa2_settings from a token file
 *	(either may be NULL), the configuration and the provider preset, in
 *	that order: the first that sets a value wins (an empty string in the
 *	token file counts as not set).  The strings point into the token
 *	document, the configuration or static storage and live as long as
 *	they do.  The preset only supplies the token and revocation
 *	endpoints (its default scope is authorize's, not a refresh's).
 *	Resolving never fails; what is missing or wrong is recorded, and
 *	oa2_settings_require() turns it into the one-line error a refresh
 *	reports (no token endpoint, unknown provider, bad tenant, no
 *	client_id), naming the token file and the field.
 *
 *	A setting's name is spelled here and in the code
 *	that uses it through its id (OA2_S_...), never again as a string.
 * SEE ALSO
 *	sasl-oauth2-token(5), sasl-oauth2.conf(5), oa2_limits.h.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Application-specific. */
#include "oa2_config.h"
#include "oa2_provider.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"

#define TOK	OA2_IN_TOKEN
#define CFG	OA2_IN_CONFIG
#define PRE	OA2_IN_PRESET

/* The settings, once.  Order: the token file's, then the config's own. */
const struct oa2_setting_def oa2_settings_table[OA2_S_COUNT] = {
	[OA2_S_REFRESH_TOKEN] = {"refresh_token", OA2_T_REQUIRED, TOK, 1, 0, 0},
	[OA2_S_ACCESS_TOKEN] = {"access_token", OA2_T_STRING, TOK, 1, 0, 0},
	[OA2_S_EXPIRY] = {"expiry", OA2_T_EPOCH, TOK, 0, 0, 0},
	[OA2_S_USER] = {"user", OA2_T_STRING, TOK, 0, 0, 0},
	[OA2_S_CLIENT_ID] = {"client_id", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_CLIENT_SECRET] = {"client_secret", OA2_T_STRING, TOK | CFG, 1, 0, 0},
	[OA2_S_TOKEN_ENDPOINT] = {"token_endpoint", OA2_T_STRING,
	TOK | CFG | PRE, 0, 0, 0},
	[OA2_S_PROXY] = {"proxy", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_CA_BUNDLE_FILE] = {"ca_bundle_file", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_CA_CERTS_DIR] = {"ca_certs_dir", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_PROVIDER] = {"provider", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_TENANT] = {"tenant", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_SCOPE] = {"scope", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_CLIENT_AUTH] = {"client_auth", OA2_T_CLIENT_AUTH, TOK | CFG, 0, 0, 0},
	[OA2_S_REFRESH_WINDOW] = {"refresh_window", OA2_T_SECONDS, TOK | CFG, 0,
	OA2_REFRESH_WINDOW_DEFAULT, 0},
	/* The lifetime of the last access token issued (written by a refresh). */
	[OA2_S_EXPIRES_IN] = {"expires_in", OA2_T_SECONDS, TOK, 0, 0, 0},
	[OA2_S_REVOCATION_ENDPOINT] = {"revocation_endpoint", OA2_T_STRING,
	TOK | PRE, 0, 0, 0},
	[OA2_S_CONNECT_TIMEOUT] = {"connect_timeout", OA2_T_SECONDS, CFG, 0,
	OA2_CONNECT_TIMEOUT_DEFAULT, 1},
	[OA2_S_TIMEOUT] = {"timeout", OA2_T_SECONDS, CFG, 0,
	OA2_TIMEOUT_DEFAULT, 1},
	[OA2_S_LOG_LEVEL] = {"log_level", OA2_T_LOG_LEVEL, CFG, 0, 0, 0},
	/* sasl-xoauth2's, so that its configuration file can be used as is. */
	[OA2_S_XO_LOG_SYSLOG] = {"log_to_syslog_on_failure", OA2_T_IGNORED, CFG,
	0, 0, 0},
	[OA2_S_XO_LOG_TRACE] = {"log_full_trace_on_failure", OA2_T_IGNORED, CFG,
	0, 0, 0},
	/* The tool's records in a token file (status reads them). */
	[OA2_S_AUTHORIZED_AT] = {"authorized_at", OA2_T_NOTE, TOK, 0, 0, 0},
	[OA2_S_REFRESHED_AT] = {"refreshed_at", OA2_T_NOTE, TOK, 0, 0, 0},
	[OA2_S_IMPORTED_FROM] = {"imported_from", OA2_T_NOTE, TOK, 0, 0, 0},
	[OA2_S_IMPORTED_AT] = {"imported_at", OA2_T_NOTE, TOK, 0, 0, 0},
	/* Where authorize went, so that "authorize --force FILE" can go again. */
	[OA2_S_ISSUER] = {"issuer", OA2_T_NOTE, TOK, 0, 0, 0},
	[OA2_S_AUTHORIZATION_ENDPOINT] = {"authorization_endpoint", OA2_T_NOTE,
	TOK, 0, 0, 0},
	[OA2_S_DEVICE_ENDPOINT] = {"device_authorization_endpoint", OA2_T_NOTE,
	TOK, 0, 0, 0},
	[OA2_S_REDIRECT_URI] = {"redirect_uri", OA2_T_NOTE, TOK, 0, 0, 0},
	/* App-only grants: the grant, and where the credentials are. */
	[OA2_S_GRANT] = {"grant", OA2_T_GRANT, TOK, 0, 0, 0},
	[OA2_S_CLIENT_KEY_FILE] = {"client_key_file", OA2_T_STRING, TOK | CFG,
	0, 0, 0},
	[OA2_S_CLIENT_CERT_FILE] = {"client_cert_file", OA2_T_STRING, TOK | CFG,
	0, 0, 0},
	[OA2_S_SERVICE_ACCOUNT_FILE] = {"service_account_file", OA2_T_STRING,
	TOK | CFG, 0, 0, 0},
	[OA2_S_JWT_ALG] = {"jwt_alg", OA2_T_STRING, TOK | CFG, 0, 0, 0},
	[OA2_S_MAIL_LOG] = {"mail_log", OA2_T_BOOL, CFG, 0, 1, 0},
};

static const char *const grant_names[] = {
	[OA2_GRANT_REFRESH] = "refresh_token",
	[OA2_GRANT_CLIENT_CREDENTIALS] = "client_credentials",
	[OA2_GRANT_JWT_BEARER] = "jwt_bearer",
};

/* oa2_grant_kind_parse - a "grant" value (NULL or "": refresh_token) */
int
oa2_grant_kind_parse(const char *name, enum oa2_grant_kind *out)
{
	size_t	i;

	*out = OA2_GRANT_REFRESH;
	if (name == NULL || *name == 0)
		return (0);
	for (i = 0; i < sizeof(grant_names) / sizeof(grant_names[0]); i++)
		if (strcmp(name, grant_names[i]) == 0) {
			*out = (enum oa2_grant_kind) i;
			return (0);
		}
	return (-1);
}

/* oa2_grant_kind_name - the "grant" spelling */
const char *
oa2_grant_kind_name(enum oa2_grant_kind g)
{
	return (grant_names[g]);
}

/* oa2_setting_find - the table row of a member name, or NULL */
const struct oa2_setting_def *
oa2_setting_find(const char *name)
{
	size_t  i;

	if (name == NULL)
		return (NULL);
	for (i = 0; i < OA2_S_COUNT; i++)
		if (strcmp(oa2_settings_table[i].name, name) == 0)
			return (&oa2_settings_table[i]);
	return (NULL);
}

/* oa2_setting_id_of - the id of a row */
enum oa2_setting_id
oa2_setting_id_of(const struct oa2_setting_def *def)
{
	return ((enum oa2_setting_id) (def - oa2_settings_table));
}

/* oa2_setting_digits - integer >= 0 or digit string, at most max; -1 if not */
int
oa2_setting_digits(const json_t *v, long long max, long long *out)
{
	const char *s;
	long long n = 0;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || json_integer_value(v) > max)
			return (-1);
		*out = (long long) json_integer_value(v);
		return (0);
	}
	if (!json_is_string(v) || *(s = json_string_value(v)) == 0)
		return (-1);
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		if (n > (max - (*s - '0')) / 10)
			return (-1);
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return (0);
}

/* oa2_setting_type_name - JSON type of a value for messages (never the value) */
const char *
oa2_setting_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ("an object");
	case JSON_ARRAY:
		return ("an array");
	case JSON_STRING:
		return ("a string");
	case JSON_INTEGER:
		return ("an integer");
	case JSON_REAL:
		return ("a floating-point number");
	case JSON_TRUE:
	case JSON_FALSE:
		return ("a boolean");
	case JSON_NULL:
		return ("null");
	}
	return ("unknown");
}

/* oa2_setting_log_level - the level a log_level name stands for; -1 if none */
int
oa2_setting_log_level(const char *name)
{
	static const struct {
		const char *name;
		int     level;
	}       map[] = {
		{"error", OA2_LOG_ERROR}, {"warning", OA2_LOG_WARNING},
		{"notice", OA2_LOG_NOTICE}, {"info", OA2_LOG_NOTICE},
		{"debug", OA2_LOG_DEBUG},
	};
	size_t  i;

	for (i = 0; name != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i].name) == 0)
			return (map[i].level);
	return (-1);
}

/* pick - the token file's non-empty string, else the configuration's */
static const char *
pick(const struct oa2_token *tok, const struct oa2_config *cfg,
         enum oa2_setting_id id)
{
	const char *v = oa2_token_str(tok, id);

	if (v != NULL && *v)
		return (v);
	return (oa2_config_str(cfg, id));
}

/* oa2_effective_window - the refresh window, at most half the token lifetime */
long long
oa2_effective_window(long long configured, long long lifetime)
{
	if (lifetime > 0 && lifetime / 2 < configured)
		return (lifetime / 2);
	return (configured);
}

/* oa2_settings_resolve - token file, then configuration, then preset */
void
oa2_settings_resolve(struct oa2_settings *s, const struct oa2_token *tok,
		             const struct oa2_config *cfg)
{
	const char *auth, *ep;

	memset(s, 0, sizeof(*s));
	s->client_id = pick(tok, cfg, OA2_S_CLIENT_ID);
	s->client_secret = pick(tok, cfg, OA2_S_CLIENT_SECRET);
	s->scope = pick(tok, cfg, OA2_S_SCOPE);
	s->proxy = pick(tok, cfg, OA2_S_PROXY);
	s->ca_file = pick(tok, cfg, OA2_S_CA_BUNDLE_FILE);
	s->ca_dir = pick(tok, cfg, OA2_S_CA_CERTS_DIR);
	s->provider = pick(tok, cfg, OA2_S_PROVIDER);
	s->tenant = pick(tok, cfg, OA2_S_TENANT);
	s->user = oa2_token_str(tok, OA2_S_USER);
	(void) oa2_grant_kind_parse(oa2_token_str(tok, OA2_S_GRANT), &s->grant);
	s->client_key_file = pick(tok, cfg, OA2_S_CLIENT_KEY_FILE);
	s->client_cert_file = pick(tok, cfg, OA2_S_CLIENT_CERT_FILE);
	s->service_account_file = pick(tok, cfg, OA2_S_SERVICE_ACCOUNT_FILE);
	s->jwt_alg = pick(tok, cfg, OA2_S_JWT_ALG);
	s->preset = oa2_provider_find(s->provider);
	auth = pick(tok, cfg, OA2_S_CLIENT_AUTH);
	s->client_auth = auth != NULL && strcmp(auth, "basic") == 0 ?
		OA2_AUTH_BASIC : OA2_AUTH_POST;
	s->refresh_window_set = tok != NULL && tok->refresh_window >= 0 ?
		tok->refresh_window : cfg != NULL ? cfg->refresh_window :
		oa2_settings_table[OA2_S_REFRESH_WINDOW].dflt;
	s->refresh_window = oa2_effective_window(s->refresh_window_set,
		tok != NULL ? tok->expires_in : -1);
	s->connect_timeout = cfg != NULL ? cfg->connect_timeout :
		oa2_settings_table[OA2_S_CONNECT_TIMEOUT].dflt;
	s->timeout = cfg != NULL ? cfg->timeout :
		oa2_settings_table[OA2_S_TIMEOUT].dflt;
	s->log_level = cfg != NULL ? cfg->log_level : OA2_LOG_NOTICE;
	s->config_path = cfg != NULL && cfg->path[0] ? cfg->path :
		oa2_config_path();

	/* The token endpoint: set, else the preset's for the tenant. */
	if ((ep = pick(tok, cfg, OA2_S_TOKEN_ENDPOINT)) != NULL) {
		if (strlen(ep) >= sizeof(s->endpoint_buf))
			s->endpoint_problem = OA2_EP_TOO_LONG;
		else
			s->token_endpoint = ep;
	} else if (s->provider == NULL)
		s->endpoint_problem = OA2_EP_MISSING;
	else if (s->preset == NULL)
		s->endpoint_problem = OA2_EP_UNKNOWN_PROVIDER;
	else if (oa2_provider_url(s->preset->token_url, s->tenant,
			   s->endpoint_buf, sizeof(s->endpoint_buf)) < 0)
		s->endpoint_problem = OA2_EP_BAD_TENANT;
	else
		s->token_endpoint = s->endpoint_buf;

	/* The revocation endpoint: the file's, else the preset's. */
	if ((ep = oa2_token_str(tok, OA2_S_REVOCATION_ENDPOINT)) != NULL && *ep)
		s->revocation_endpoint = ep;
	else if (s->preset != NULL && s->preset->revoke_url != NULL
		 && oa2_provider_url(s->preset->revoke_url,
				     s->preset->has_tenant ? s->tenant : NULL,
			     s->revoke_buf, sizeof(s->revoke_buf)) == 0)
		s->revocation_endpoint = s->revoke_buf;
}

/* oa2_settings_require - what a request to the token endpoint needs */
enum oa2_status
oa2_settings_require(const struct oa2_settings *s, const char *path,
		             struct oa2_error *err)
{
	const char *code = "token_file";

	switch (s->endpoint_problem) {
	case OA2_EP_OK:
		break;
	case OA2_EP_TOO_LONG:
		return (oa2_error_set(err, OA2_ERR_INPUT, code,
			      "%s: field \"%s\" is too long", path,
			      OA2_SETTING_NAME(OA2_S_TOKEN_ENDPOINT)));
	case OA2_EP_MISSING:
		return (oa2_error_set(err, OA2_ERR_INPUT, code,
		       "%s: no token endpoint: set \"%s\" or \"%s\" (%s) in "
			      "the file or in %s", path,
			      OA2_SETTING_NAME(OA2_S_TOKEN_ENDPOINT),
			      OA2_SETTING_NAME(OA2_S_PROVIDER),
			      oa2_provider_names(), s->config_path));
	case OA2_EP_UNKNOWN_PROVIDER:
		return (oa2_error_set(err, OA2_ERR_INPUT, code,
			"%s: field \"%s\" is \"%.32s\": use one of %s, or set "
			      "\"%s\"", path, OA2_SETTING_NAME(OA2_S_PROVIDER),
			      s->provider, oa2_provider_names(),
			      OA2_SETTING_NAME(OA2_S_TOKEN_ENDPOINT)));
	case OA2_EP_BAD_TENANT:
		return (oa2_error_set(err, OA2_ERR_INPUT, code,
			  "%s: field \"%s\" is not a tenant id, domain or one "
			      "of common, organizations, consumers", path,
			      OA2_SETTING_NAME(OA2_S_TENANT)));
	}
	if (s->client_id == NULL)
		return (oa2_error_set(err, OA2_ERR_INPUT, code,
			   "%s: no client id: set \"%s\" in the file or in %s",
			      path, OA2_SETTING_NAME(OA2_S_CLIENT_ID),
			      s->config_path));
	return (OA2_OK);
}
