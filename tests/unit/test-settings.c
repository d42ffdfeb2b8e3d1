/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	test-settings 1
 * SUMMARY
 *	unit tests of the settings table and their resolution (TAP)
 * SYNOPSIS
 *	test-settings
 * DESCRIPTION
 *	The table: names unique, every row somewhere, the secrets marked,
 *	defaults equal to oa2_limits.h.  Resolution: the token file beats
 *	the configuration beats the provider preset, an empty string in the
 *	token file counts as unset, defaults without either file, and the
 *	messages of oa2_settings_require().  The man pages state the
 *	figures of oa2_limits.h.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Application-specific. */
#include "oa2_config.h"
#include "oa2_limits.h"
#include "oa2_provider.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "tap.h"

/* tok_of - a token document from JSON text (the test fails on a bad one) */
static void
tok_of(struct oa2_token *tok, const char *json)
{
	struct oa2_error err;

	if (oa2_token_parse(tok, "t.json", json, strlen(json), &err) != OA2_OK) {
		printf("# %s\n", err.msg);
		ok(0, "token document parses");
	}
}

/* cfg_of - a configuration from JSON text */
static void
cfg_of(struct oa2_config *cfg, const char *json)
{
	struct oa2_error err;

	if (oa2_config_parse(cfg, "c.conf", json, strlen(json), &err) != OA2_OK) {
		printf("# %s\n", err.msg);
		ok(0, "configuration parses");
	}
}

/* test_table - the table's own properties */
static void
test_table(void)
{
	const struct oa2_setting_def *d, *e;
	int	dup = 0, nowhere = 0;

	for (d = oa2_settings_table; d < oa2_settings_table + OA2_S_COUNT; d++) {
		if (d->name == NULL || d->where == 0)
			nowhere++;
		for (e = d + 1; e < oa2_settings_table + OA2_S_COUNT; e++)
			if (d->name && e->name && strcmp(d->name, e->name) == 0)
				dup++;
		if (d->name && oa2_setting_find(d->name) != d)
			dup++;
	}
	is_int(nowhere, 0, "every row has a name and a place");
	is_int(dup, 0, "names are unique and found");
	ok(oa2_setting_find("clinet_id") == NULL, "an unknown name is NULL");
	ok(oa2_setting_find(NULL) == NULL, "NULL is NULL");
	is_int(oa2_setting_id_of(oa2_setting_find("timeout")), OA2_S_TIMEOUT,
	       "id_of");
	ok(oa2_settings_table[OA2_S_REFRESH_TOKEN].secret
	   && oa2_settings_table[OA2_S_ACCESS_TOKEN].secret
	   && oa2_settings_table[OA2_S_CLIENT_SECRET].secret,
	   "tokens and the client secret are secrets");
	ok(!oa2_settings_table[OA2_S_CLIENT_ID].secret
	   && !oa2_settings_table[OA2_S_USER].secret, "client_id, user are not");
	is_int(oa2_settings_table[OA2_S_REFRESH_WINDOW].dflt,
	       OA2_REFRESH_WINDOW_DEFAULT, "refresh_window default");
	is_int(oa2_settings_table[OA2_S_CONNECT_TIMEOUT].dflt,
	       OA2_CONNECT_TIMEOUT_DEFAULT, "connect_timeout default");
	is_int(oa2_settings_table[OA2_S_TIMEOUT].dflt, OA2_TIMEOUT_DEFAULT,
	       "timeout default");
	ok((oa2_settings_table[OA2_S_TOKEN_ENDPOINT].where & OA2_IN_PRESET)
	   && (oa2_settings_table[OA2_S_REVOCATION_ENDPOINT].where
	       & OA2_IN_PRESET), "the preset supplies the endpoints");
	ok(!(oa2_settings_table[OA2_S_REFRESH_TOKEN].where & OA2_IN_CONFIG),
	   "a refresh token is never a configuration setting");
	ok(oa2_settings_table[OA2_S_XO_LOG_SYSLOG].type == OA2_T_IGNORED
	   && oa2_settings_table[OA2_S_XO_LOG_TRACE].type == OA2_T_IGNORED,
	   "sasl-xoauth2's log settings are accepted and ignored");
	is_int(oa2_setting_log_level("info"), OA2_LOG_NOTICE, "info is notice");
	is_int(oa2_setting_log_level("loud"), -1, "unknown level");
}

/* test_digits - the one number parser */
static void
test_digits(void)
{
	json_t *v;
	long long n = -7;

	v = json_string("0000000000000000000000001");
	ok(oa2_setting_digits(v, LLONG_MAX, &n) == 0 && n == 1,
	   "leading zeros");
	json_decref(v);
	v = json_string("1000000001");
	ok(oa2_setting_digits(v, OA2_CONFIG_SECONDS_MAX, &n) < 0, "over max");
	json_decref(v);
	v = json_integer(OA2_CONFIG_SECONDS_MAX);
	ok(oa2_setting_digits(v, OA2_CONFIG_SECONDS_MAX, &n) == 0
	   && n == OA2_CONFIG_SECONDS_MAX, "max itself");
	json_decref(v);
	v = json_string("");
	ok(oa2_setting_digits(v, LLONG_MAX, &n) < 0, "empty string");
	json_decref(v);
	v = json_integer(-1);
	ok(oa2_setting_digits(v, LLONG_MAX, &n) < 0, "negative");
	json_decref(v);
	v = json_real(1.0);
	ok(oa2_setting_digits(v, LLONG_MAX, &n) < 0, "a real");
	json_decref(v);
	v = json_string("9223372036854775808");
	ok(oa2_setting_digits(v, LLONG_MAX, &n) < 0, "overflow");
	json_decref(v);
}

/* test_defaults - neither file sets anything */
static void
test_defaults(void)
{
	struct oa2_settings s;
	struct oa2_error err;

	oa2_settings_resolve(&s, NULL, NULL);
	is_int(s.refresh_window, OA2_REFRESH_WINDOW_DEFAULT, "window default");
	is_int(s.connect_timeout, OA2_CONNECT_TIMEOUT_DEFAULT,
	       "connect timeout default");
	is_int(s.timeout, OA2_TIMEOUT_DEFAULT, "timeout default");
	is_int(s.client_auth, OA2_AUTH_POST, "client_auth default post");
	is_int(s.log_level, OA2_LOG_NOTICE, "log level default");
	ok(s.client_id == NULL && s.scope == NULL && s.preset == NULL,
	   "no strings");
	is_int(s.endpoint_problem, OA2_EP_MISSING, "no endpoint");
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_ERR_INPUT,
	       "require refuses");
	has_str(err.msg, "t.json: no token endpoint: set \"token_endpoint\" "
		"or \"provider\"", "the message names the file and fields");
	is_str(err.code, "token_file", "code token_file");
}

/* test_order - token file, then configuration, then preset */
static void
test_order(void)
{
	struct oa2_token tok;
	struct oa2_config cfg;
	struct oa2_settings s;
	struct oa2_error err;

	cfg_of(&cfg, "{\"client_id\": \"cfg-cid\", \"client_secret\": "
	       "\"cfg-cs\", \"scope\": \"cfg-scope\", \"provider\": "
	       "\"google\", \"refresh_window\": 120, \"timeout\": 7, "
	       "\"connect_timeout\": 0, \"client_auth\": \"basic\", "
	       "\"proxy\": \"http://cfg-proxy:3128\"}");
	tok_of(&tok, "{\"refresh_token\": \"rt\", \"client_id\": \"tok-cid\", "
	       "\"client_secret\": \"\", \"refresh_window\": \"60\", "
	       "\"user\": \"u@example.com\"}");
	oa2_settings_resolve(&s, &tok, &cfg);
	is_str(s.client_id, "tok-cid", "token file beats config");
	is_str(s.client_secret, "cfg-cs", "an empty string in the file is unset");
	is_str(s.scope, "cfg-scope", "config when the file has none");
	is_str(s.proxy, "http://cfg-proxy:3128", "proxy from config");
	is_str(s.user, "u@example.com", "user from the file");
	is_int(s.refresh_window, 60, "token file's window beats config's");
	is_int(s.timeout, 7, "timeout from config");
	is_int(s.connect_timeout, 1, "connect_timeout 0 means 1");
	is_int(s.client_auth, OA2_AUTH_BASIC, "client_auth from config");
	is_str(s.token_endpoint, "https://oauth2.googleapis.com/token",
	       "preset's endpoint when neither file sets one");
	is_str(s.revocation_endpoint, "https://oauth2.googleapis.com/revoke",
	       "preset's revocation endpoint");
	ok(s.preset != NULL && strcmp(s.preset->name, "google") == 0, "preset");
	is_str(s.config_path, "c.conf", "messages name the config");
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_OK,
	       "require passes");
	oa2_token_free(&tok);

	tok_of(&tok, "{\"refresh_token\": \"rt\", \"token_endpoint\": "
	       "\"https://tok.example/token\", \"revocation_endpoint\": "
	       "\"https://tok.example/revoke\"}");
	oa2_settings_resolve(&s, &tok, &cfg);
	is_str(s.token_endpoint, "https://tok.example/token",
	       "the file's endpoint beats the preset");
	is_str(s.revocation_endpoint, "https://tok.example/revoke",
	       "the file's revocation endpoint beats the preset");
	is_int(s.refresh_window, 120, "config's window when the file has none");
	oa2_token_free(&tok);
	oa2_config_free(&cfg);

	cfg_of(&cfg, "{\"token_endpoint\": \"https://cfg.example/token\", "
	       "\"provider\": \"microsoft\", \"client_id\": \"c\"}");
	tok_of(&tok, "{\"refresh_token\": \"rt\"}");
	oa2_settings_resolve(&s, &tok, &cfg);
	is_str(s.token_endpoint, "https://cfg.example/token",
	       "the config's endpoint beats the preset");
	ok(s.revocation_endpoint == NULL, "microsoft has no revocation endpoint");
	oa2_token_free(&tok);
	oa2_config_free(&cfg);

	tok_of(&tok, "{\"refresh_token\": \"rt\", \"provider\": \"microsoft\", "
	       "\"tenant\": \"contoso.example\", \"client_id\": \"c\"}");
	oa2_settings_resolve(&s, &tok, NULL);
	is_str(s.token_endpoint, "https://login.microsoftonline.com/"
	       "contoso.example/oauth2/v2.0/token", "the tenant fills the URL");
	oa2_token_free(&tok);
}

/* test_require - what a refresh needs, and the messages */
static void
test_require(void)
{
	struct oa2_token tok;
	struct oa2_settings s;
	struct oa2_error err;
	char	json[2048];

	tok_of(&tok, "{\"refresh_token\": \"rt\", \"provider\": \"hotmail\"}");
	oa2_settings_resolve(&s, &tok, NULL);
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_ERR_INPUT,
	       "unknown provider");
	has_str(err.msg, "t.json: field \"provider\" is \"hotmail\": use one of "
		"google", "names the field and the choices");
	oa2_token_free(&tok);

	tok_of(&tok, "{\"refresh_token\": \"rt\", \"provider\": \"microsoft\", "
	       "\"tenant\": \"a/b\"}");
	oa2_settings_resolve(&s, &tok, NULL);
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_ERR_INPUT,
	       "bad tenant");
	has_str(err.msg, "t.json: field \"tenant\" is not a tenant id",
		"names the tenant");
	oa2_token_free(&tok);

	tok_of(&tok, "{\"refresh_token\": \"rt\", \"provider\": \"google\"}");
	oa2_settings_resolve(&s, &tok, NULL);
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_ERR_INPUT,
	       "no client id");
	has_str(err.msg, "t.json: no client id: set \"client_id\" in the file "
		"or in ", "names client_id");
	oa2_token_free(&tok);

	snprintf(json, sizeof(json), "{\"refresh_token\": \"rt\", "
		 "\"client_id\": \"c\", \"token_endpoint\": \"https://x/%0*d\"}",
		 OA2_URL_MAX, 0);
	tok_of(&tok, json);
	oa2_settings_resolve(&s, &tok, NULL);
	is_int(oa2_settings_require(&s, "t.json", &err), OA2_ERR_INPUT,
	       "endpoint too long");
	has_str(err.msg, "t.json: field \"token_endpoint\" is too long",
		"names token_endpoint");
	oa2_token_free(&tok);
}

/* slurp - a file of the source tree, or NULL */
static char *
slurp(const char *rel)
{
	char	path[1024], *buf;
	FILE   *f;
	long	n;

	snprintf(path, sizeof(path), "%s/%s", OA2_SRCDIR, rel);
	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	(void) fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || (buf = calloc(1, (size_t) n + 1)) == NULL
	    || fread(buf, 1, (size_t) n, f) != (size_t) n) {
		fclose(f);
		return (NULL);
	}
	fclose(f);
	return (buf);
}

/* test_man - the man pages state oa2_limits.h's figures */
static void
test_man(void)
{
	char   *conf = slurp("man/sasl-oauth2.conf.5");
	char   *tok = slurp("man/sasl-oauth2-token.5");
	char	want[256];

	ok(conf != NULL && tok != NULL, "man pages read");
	snprintf(want, sizeof(want), "refresh_window\nRefresh when the access "
		 "token expires within this many seconds.\nDefault: %d.",
		 OA2_REFRESH_WINDOW_DEFAULT);
	has_str(conf, want, "sasl-oauth2.conf(5): refresh_window default");
	snprintf(want, sizeof(want), "0 means 1.\nDefault: %d.",
		 OA2_CONNECT_TIMEOUT_DEFAULT);
	has_str(conf, want, "sasl-oauth2.conf(5): connect_timeout default");
	snprintf(want, sizeof(want), "0 means 1.\nDefault: %d.",
		 OA2_TIMEOUT_DEFAULT);
	has_str(conf, want, "sasl-oauth2.conf(5): timeout default");
	snprintf(want, sizeof(want), "at most %d", OA2_CONFIG_SECONDS_MAX);
	has_str(conf, want, "sasl-oauth2.conf(5): seconds cap");
	snprintf(want, sizeof(want), "older than %d seconds",
		 OA2_TMP_STALE_SECS);
	has_str(tok, want, "sasl-oauth2-token(5): stale temporary file age");
	snprintf(want, sizeof(want), "%d bytes", OA2_TOKFILE_MAX);
	has_str(tok, want, "sasl-oauth2-token(5): size cap");
	free(conf);
	free(tok);
}

/* test_presets - every preset: https endpoints, a mail scope, listed by name */
static void
test_presets(void)
{
	static const struct {
		const char *name, *token_url, *scope;
	} want[] = {
		{"google", "https://oauth2.googleapis.com/token", "https://mail.google.com/"},
		{"yahoo", "https://api.login.yahoo.com/oauth2/get_token", "mail-w"},
		{"aol", "https://api.login.aol.com/oauth2/get_token", "mail-w"},
		{"fastmail", "https://api.fastmail.com/oauth/refresh",
		 "https://www.fastmail.com/dev/protocol-imap https://www.fastmail.com/dev/protocol-smtp"},
		{"yandex", "https://oauth.yandex.com/token", "mail:imap_full mail:smtp"},
		{"mailru", "https://o2.mail.ru/token", "mail.imap"},
	};
	const struct oa2_provider *p;
	struct oa2_token tok;
	struct oa2_settings s;
	struct oa2_error err;
	char	json[256];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = oa2_provider_find(want[i].name);
		ok(p != NULL, "preset %s exists", want[i].name);
		if (p == NULL)
			continue;
		is_str(p->token_url, want[i].token_url, "%s: token endpoint", want[i].name);
		is_str(p->scope, want[i].scope, "%s: mail scope", want[i].name);
		ok(strncmp(p->auth_url, "https://", 8) == 0, "%s: https authorization endpoint",
		   want[i].name);
		ok(strstr(oa2_provider_names(), want[i].name) != NULL,
		   "%s: named in the list messages give", want[i].name);
		snprintf(json, sizeof(json), "{\"refresh_token\": \"rt\", "
			 "\"client_id\": \"c\", \"provider\": \"%s\"}", want[i].name);
		tok_of(&tok, json);
		oa2_settings_resolve(&s, &tok, NULL);
		ok(oa2_settings_require(&s, "t.json", &err) == OA2_OK &&
		   s.token_endpoint != NULL && strcmp(s.token_endpoint, want[i].token_url) == 0,
		   "%s: a token file naming it resolves to its token endpoint", want[i].name);
		oa2_token_free(&tok);
	}
}

int
main(void)
{
	test_table();
	test_digits();
	test_defaults();
	test_order();
	test_require();
	test_man();
	test_presets();
	return (tap_done());
}
