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

#include "oa2_grant.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "sao.h"

int
cmd_revoke(int argc, char **argv)
{
	struct oa2_client c = {0};
	struct oa2_config cfg;
	struct oa2_token tok = {0};
	struct oa2_error err;
	const struct oa2_provider *p;
	struct oa2_settings set;
	const char *url, *path;
	char host[256];
	int ex;

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
	if (set.grant != OA2_GRANT_REFRESH) {
		sao_warn("%s: grant %s is app-only: there is no refresh token to "
		    "revoke, and a new access token can be minted until the "
		    "credential is withdrawn. To end it: Microsoft, delete the "
		    "client secret or certificate (Entra admin center > App "
		    "registrations > the app > Certificates & secrets) or "
		    "Remove-ServicePrincipal in Exchange Online; Google, remove "
		    "the client ID from the Admin console's domain wide "
		    "delegation or delete the key (IAM > Service accounts > "
		    "Keys). Then delete %s.", path,
		    oa2_grant_kind_name(set.grant), path);
		ex = EX_UNAVAILABLE;
		goto out;
	}
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
		ex = EX_UNAVAILABLE;
		goto out;
	}
	oa2_client_from_settings(&c, &set);
	if (oa2_grant_revoke(&c, url, tok.refresh_token, "refresh_token",
	    &err) != OA2_OK) {
		ex = sao_report(&err);
		goto out;
	}
	oa2_url_host(url, host, sizeof(host));
	sao_info("%s: the refresh token was revoked at %s (the grant's access "
	    "tokens die with it); the file now holds a dead token: delete it or "
	    "run sasl-oauth2 authorize --force", path, host);
	ex = EX_OK;
out:
	oa2_token_free(&tok);
	oa2_config_free(&cfg);
	return ex;
}
