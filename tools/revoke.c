/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	revoke 3
 * SUMMARY
 *	sasl-oauth2 revoke: RFC 7009 token revocation
 * DESCRIPTION
 *	cmd_revoke() posts the file's refresh token to the provider's
 *	revocation endpoint (token=...&token_type_hint=refresh_token, with
 *	the client's authentication, RFC 7009 2.1): the file's
 *	"revocation_endpoint", else the provider preset's (Google).  Revoking
 *	a refresh token ends the whole grant: its access tokens die too.
 *	Microsoft has no such endpoint: the page to remove the consent is
 *	printed instead, and the exit status is EX_UNAVAILABLE.
 *
 *	The file itself is left in place: it now holds a dead refresh token,
 *	which is what "status --refresh" and "test" then report; delete it or
 *	run "authorize --force".
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "oa2_http.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "oa2_tokresp.h"
#include "sao.h"

int
cmd_revoke(int argc, char **argv)
{
	struct oa2_http_opts ho = {0};
	struct oa2_http_resp resp = {0};
	struct oa2_config cfg;
	struct oa2_token tok = {0};
	struct oa2_error err;
	struct oa2_buf form;
	const struct oa2_provider *p;
	struct oa2_settings set;
	const char *url, *client_id, *secret, *path;
	char host[256];
	int basic, ex;

	if (argc != 2 || argv[1][0] == '-')
		usage();
	path = argv[1];
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	if (oa2_token_load(&tok, path, -1, NULL, &err) != OA2_OK) {
		oa2_config_free(&cfg);
		return sao_report(&err);
	}
	oa2_settings_resolve(&set, &tok, &cfg);
	p = set.preset;
	url = set.revocation_endpoint;
	if (url == NULL) {
		if (p != NULL && p->has_tenant)
			sao_warn("%s: Microsoft has no revocation endpoint (RFC "
			    "7009). To end this grant: the user opens "
			    "https://myapps.microsoft.com (work/school) or "
			    "https://account.live.com/consent/Manage (personal) and "
			    "removes the app's permissions; a tenant admin can "
			    "revoke all sessions (Entra admin center > Users > the "
			    "user > Revoke sessions). Then delete %s.", path, path);
		else
			sao_warn("%s: no revocation endpoint known: add "
			    "\"%s\" to the file (authorize "
			    "--issuer stores it when the server has one), or "
			    "remove the app's access in the provider's account "
			    "page", path,
			    OA2_SETTING_NAME(OA2_S_REVOCATION_ENDPOINT));
		oa2_token_free(&tok);
		oa2_config_free(&cfg);
		return EX_UNAVAILABLE;
	}
	client_id = set.client_id;
	secret = set.client_secret;
	basic = set.client_auth == OA2_AUTH_BASIC && secret != NULL &&
	    client_id != NULL;
	oa2_buf_init(&form, 64 * 1024);
	if (oa2_form_add(&form, "token", tok.refresh_token) < 0 ||
	    oa2_form_add(&form, "token_type_hint", "refresh_token") < 0 ||
	    (!basic && client_id != NULL &&
	     oa2_form_add(&form, "client_id", client_id) < 0) ||
	    (!basic && secret != NULL &&
	     oa2_form_add(&form, "client_secret", secret) < 0)) {
		oa2_error_set(&err, OA2_ERR_NOMEM, "nomem", "out of memory");
		ex = sao_report(&err);
		goto out;
	}
	ho.ca_file = set.ca_file;
	ho.ca_dir = set.ca_dir;
	ho.proxy = set.proxy;
	ho.max_body = 64 * 1024;
	oa2_url_host(url, host, sizeof(host));
	if (oa2_http_post_form(url, form.data, form.len, basic ? client_id : NULL,
	    basic ? secret : NULL, &ho, &resp, &err) != OA2_OK) {
		ex = sao_report(&err);
		goto out;
	}
	if (resp.status != 200) {
		struct oa2_tokresp tr = {0};

		if (oa2_tokresp_parse(resp.body.data, resp.body.len, resp.status,
		    &tr, &err) == OA2_OK)
			oa2_error_set(&err, OA2_ERR_PROTO, "bad_response",
			    "revocation at %s answered HTTP %ld", host, resp.status);
		oa2_tokresp_free(&tr);
		ex = sao_report(&err);
		goto out;
	}
	sao_info("%s: the refresh token was revoked at %s (the grant's access "
	    "tokens die with it); the file now holds a dead token: delete it or "
	    "run sasl-oauth2 authorize --force", path, host);
	ex = EX_OK;
out:
	oa2_http_resp_free(&resp);
	oa2_buf_free(&form);
	oa2_token_free(&tok);
	oa2_config_free(&cfg);
	return ex;
}
