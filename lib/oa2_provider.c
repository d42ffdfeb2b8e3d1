/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_provider 3
 * SUMMARY
 *	known OAuth providers
 * SYNOPSIS
 *	#include "oa2_provider.h"
 *
 *	const struct oa2_provider *oa2_provider_find(name)
 *	int	oa2_provider_url(tmpl, tenant, buf, size)
 *	const char *oa2_provider_names()
 * DESCRIPTION
 *	oa2_provider_find() returns the preset for "google", "microsoft",
 *	"microsoft-us" (US Government cloud) or "microsoft-cn" (China, 21Vianet),
 *	or NULL.  URLs may contain "{tenant}", which oa2_provider_url()
 *	replaces (default "common").
 * SEE ALSO
 *	https://developers.google.com/identity/protocols/oauth2/native-app
 *	https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols
 *	https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "oa2_provider.h"

#define MS_SCOPE(host) \
	"https://" host "/IMAP.AccessAsUser.All https://" host \
	"/POP.AccessAsUser.All https://" host "/SMTP.Send offline_access"

static const struct oa2_provider providers[] = {
	{
		.name = "google",
		.auth_url = "https://accounts.google.com/o/oauth2/v2/auth",
		.token_url = "https://oauth2.googleapis.com/token",
		.device_url = NULL,	/* the Gmail scope is not allowed there */
		.revoke_url = "https://oauth2.googleapis.com/revoke",
		.scope = "https://mail.google.com/",
		.extra_auth_params = "access_type=offline&prompt=consent",
		.has_tenant = 0,
		.oauthbearer = 1,
	},
	{
		.name = "microsoft",
		.auth_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
		.token_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
		.device_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
		.revoke_url = NULL,
		.scope = MS_SCOPE("outlook.office.com"),
		.extra_auth_params = "prompt=select_account",
		.has_tenant = 1,
		.oauthbearer = 0,
	},
	{
		.name = "microsoft-us",
		.auth_url = "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/authorize",
		.token_url = "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token",
		.device_url = "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/devicecode",
		.revoke_url = NULL,
		.scope = MS_SCOPE("outlook.office365.us"),
		.extra_auth_params = "prompt=select_account",
		.has_tenant = 1,
		.oauthbearer = 0,
	},
	{
		.name = "microsoft-cn",
		.auth_url = "https://login.partner.microsoftonline.cn/{tenant}/oauth2/v2.0/authorize",
		.token_url = "https://login.partner.microsoftonline.cn/{tenant}/oauth2/v2.0/token",
		.device_url = "https://login.partner.microsoftonline.cn/{tenant}/oauth2/v2.0/devicecode",
		.revoke_url = NULL,
		.scope = MS_SCOPE("partner.outlook.cn"),
		.extra_auth_params = "prompt=select_account",
		.has_tenant = 1,
		.oauthbearer = 0,
	},
	/*
	 * The others with XOAUTH2 on IMAP and SMTP; their mail scopes as their
	 * consoles and the common mail clients' provider lists give them.
	 * None offers the device flow for mail, none an RFC 7009 endpoint.
	 */
	{
		.name = "yahoo",
		.auth_url = "https://api.login.yahoo.com/oauth2/request_auth",
		.token_url = "https://api.login.yahoo.com/oauth2/get_token",
		.scope = "mail-w",
	},
	{
		.name = "aol",
		.auth_url = "https://api.login.aol.com/oauth2/request_auth",
		.token_url = "https://api.login.aol.com/oauth2/get_token",
		.scope = "mail-w",
	},
	{
		.name = "fastmail",
		.auth_url = "https://api.fastmail.com/oauth/authorize",
		.token_url = "https://api.fastmail.com/oauth/refresh",
		.scope = "https://www.fastmail.com/dev/protocol-imap "
		    "https://www.fastmail.com/dev/protocol-smtp",
	},
	{
		.name = "yandex",
		.auth_url = "https://oauth.yandex.com/authorize",
		.token_url = "https://oauth.yandex.com/token",
		.scope = "mail:imap_full mail:smtp",
	},
	{
		.name = "mailru",
		.auth_url = "https://o2.mail.ru/login",
		.token_url = "https://o2.mail.ru/token",
		.scope = "mail.imap",
	},
};

const struct oa2_provider *
oa2_provider_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

const char *
oa2_provider_names(void)
{
	return "google, microsoft, microsoft-us, microsoft-cn, yahoo, aol, "
	    "fastmail, yandex, mailru";
}

int
oa2_provider_url(const char *tmpl, const char *tenant, char *buf, size_t size)
{
	const char *t = strstr(tmpl, "{tenant}");
	int n;

	if (tenant == NULL || *tenant == 0)
		tenant = "common";
	/* A tenant is a GUID, a domain or a keyword: nothing that changes the URL's shape. */
	if (strcspn(tenant, "/?#@%\\ ") != strlen(tenant))
		return -1;
	if (t == NULL)
		n = snprintf(buf, size, "%s", tmpl);
	else
		n = snprintf(buf, size, "%.*s%s%s", (int)(t - tmpl), tmpl, tenant,
		    t + 8);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
