/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_provider 3h
 * SUMMARY
 *	known OAuth providers: endpoints, scopes, quirks
 * DESCRIPTION
 *	See oa2_provider.c.
 *--*/
#ifndef OA2_PROVIDER_H
#define OA2_PROVIDER_H

#include <stddef.h>

struct oa2_provider {
	const char *name;
	const char *auth_url;
	const char *token_url;
	const char *device_url;		/* NULL: no device flow for mail */
	const char *revoke_url;		/* NULL: no RFC 7009 endpoint */
	const char *scope;		/* default scope for IMAP/SMTP/POP */
	const char *extra_auth_params;	/* appended to the authorization URL */
	int has_tenant;
	int oauthbearer;		/* the provider's mail servers offer OAUTHBEARER */
};

const struct oa2_provider *oa2_provider_find(const char *name);
/* oa2_provider_url - expand {tenant}; -1 if it does not fit */
int oa2_provider_url(const char *tmpl, const char *tenant, char *buf,
    size_t size);
/* oa2_provider_names - "google, microsoft, ..." for messages */
const char *oa2_provider_names(void);

#endif
