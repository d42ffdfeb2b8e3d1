/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	test-explain - the plain-words error pages
 * DESCRIPTION
 *	Every page has a summary and a fix; each code's page names its own
 *	fix (a table of code -> words the page must hold); look-ups survive
 *	the forms codes come in (provider texts, AADSTS numbers, SMTP
 *	replies, http_NNN); and every code a core, plugin or tool source file
 *	puts into an error ("OA2_ERR_..., \"code\"", "EX_..., \"code\"",
 *	"explain code") has a page.  Each command run by hand gets its own
 *	fix (oa2_explain_fix()): none says the mail is retried or sends the
 *	admin to doctor --postfix, and authorize's name its flags, not the
 *	token file's members.
 *--*/
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oa2_explain.h"
#include "tap.h"

/* What each page must say: the console page, the click or the command. */
static const struct {
	const char *code;
	const char *want;	/* in fix or causes */
} expect[] = {
	{"invalid_grant", "sasl-oauth2 authorize --force"},
	{"invalid_grant", "Publish app"},
	{"invalid_grant", "6 months"},
	{"invalid_grant", "100 refresh tokens"},
	{"invalid_client", "Certificates & secrets"},
	{"unauthorized_client", "Allow public client flows"},
	{"invalid_scope", "--flow paste"},
	{"invalid_request", "out-of-band"},
	{"unsupported_grant_type", "token_endpoint"},
	{"access_denied", "Test users > Add users"},
	{"access_denied", "Grant admin consent"},
	{"redirect_uri_mismatch", "Desktop app"},
	{"redirect_uri_mismatch", "Mobile and desktop applications"},
	{"oob_blocked", "--flow paste"},
	{"org_internal", "User type: External"},
	{"admin_policy_enforced", "Manage Third-Party App Access"},
	{"disallowed_useragent", "real browser"},
	{"server_error", "retried"},
	{"temporarily_unavailable", "retried"},
	{"http_5xx", "status page"},
	{"http_4xx", "token_endpoint"},
	{"interaction_required", "authorize"},
	{"consent_required", "Grant admin consent"},
	{"login_required", "authorize"},
	{"authorization_pending", "enter the code"},
	{"slow_down", "slows down"},
	{"expired_token", "--flow device"},
	{"authorization_declined", "accept"},
	{"bad_verification_code", "type the code"},
	{"device_flow_gmail", "ssh -L"},
	{"state_mismatch", "run authorize again"},
	{"pkce", "run authorize again"},
	{"no_refresh_token", "prompt=consent"},
	{"no_refresh_token", "offline_access"},
	{"consent_timeout", "--timeout"},
	{"discovery", "--auth-url"},
	{"token_exists", "--force"},
	{"invalid_token", "sasl-oauth2 test"},
	{"insufficient_scope", "without --scope"},
	{"network", "proxy"},
	{"timeout", "\"timeout\""},
	{"dns", "/var/spool/postfix/etc/"},
	{"tls", "ca_bundle_file"},
	{"ca_bundle", "cp /etc/ssl/certs/ca-certificates.crt"},
	{"token_file", "chmod 600"},
	{"token_file", "chown postfix"},
	{"config", "chmod 640"},
	{"url", "https://"},
	{"too_large", "token_endpoint"},
	{"bad_response", "proxy"},
	{"curl", "reinstall"},
	{"nomem", "retry"},
	{"output", "sasl-oauth2 token FILE"},
	{"internal", "report"},
	{"callbacks", "sasl_passwd"},
	{"user", "sasl_passwd"},
	{"protocol", "sasl-oauth2 test"},
	{"ssf", "TLS"},
	{"bad_challenge", "sasl-oauth2 test"},
	{"bad_token", "sasl-oauth2 refresh"},
	{"bad_user", "user name"},
	{"bad_host", "host name"},
	{"bad_port", "port"},
	{"too_long", "token file"},
	{"5.7.139", "Authenticated SMTP"},
	{"5.7.139", "Set-CASMailbox"},
	{"5.7.3", "SMTP.Send"},
	{"5.7.8", "sasl-oauth2 test"},
	{"5.5.127", "refresh_window"},
	{"auth_refused", "sasl-oauth2 test"},
	{"no_mechanism", "smtp.office365.com:587"},
	{"plugin_missing", "saslpluginviewer"},
	{"plugin_duplicate", "apt-get remove"},
	{"starttls", "--ca-file"},
	{"connect", "nc -vz"},
	{"AADSTS50011", "http://localhost"},
	{"app_key", "chmod 600"},
	{"app_cert", "Certificates & secrets"},
	{"jwt", "jwt_alg"},
	{"grant", "sasl-oauth2 status"},
	{"exchange_service_principal", "New-ServicePrincipal"},
	{"domain_wide_delegation", "https://mail.google.com/"},
	{"app_permission", "Add-MailboxPermission"},
	{"app_invalid_grant", "Invalid JWT Signature"},
	{"AADSTS700027", "Upload certificate"},
	{"AADSTS7000215", "New client secret"},
	{"AADSTS1002012", "/.default"},
	{"unauthorized_client", "Manage domain wide delegation"},
	{"AADSTS50020", "--tenant consumers"},
	{"AADSTS50076", "authorize"},
	{"AADSTS50079", "aka.ms/mfasetup"},
	{"AADSTS50194", "--tenant"},
	{"AADSTS53003", "Conditional Access"},
	{"AADSTS54005", "authorize again"},
	{"AADSTS65001", "Grant admin consent"},
	{"AADSTS70000", "authorize"},
	{"AADSTS70043", "sign-in frequency"},
	{"AADSTS700016", "Application (client) ID"},
	{"AADSTS7000218", "Allow public client flows"},
	{"AADSTS700025", "client_secret"},
	{"AADSTS700082", "refresh timer"},
	{"AADSTS90009", "scope"},
	{"AADSTS900144", "authorize"},
};

/* page_has - fix or causes of code hold want */
static int
page_has(const struct oa2_explain *e, const char *want)
{
	return strstr(e->fix, want) != NULL ||
	    (e->causes != NULL && strstr(e->causes, want) != NULL);
}

/* scan_file - every literal code in path must have a page */
static void
scan_file(const char *path, int *checked)
{
	static const char *marks[] = {"OA2_ERR_", "fail(t, EX_", "explain "};
	char *buf, *flat, *p, *q;
	long n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	flat = malloc((size_t)n + 1);
	if (buf == NULL || flat == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		free(flat);
		return;
	}
	fclose(f);
	buf[n] = 0;
	/* Collapse runs of blanks and string splits ("a" "b") so a call spread
	 * over lines reads as one. */
	for (p = buf, q = flat; *p; p++) {
		if (isspace((unsigned char)*p)) {
			if (q > flat && q[-1] != ' ')
				*q++ = ' ';
			continue;
		}
		*q++ = *p;
	}
	*q = 0;
	for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		for (p = flat; (p = strstr(p, marks[m])) != NULL; p++) {
			char code[64];
			size_t len;
			const char *s = p + strlen(marks[m]);

			if (m < 2) {
				/* OA2_ERR_X, "code" / EX_X, "code" */
				s += strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
				if (strncmp(s, ", \"", 3) == 0)
					s += 3;
				else if (strncmp(s, ",\"", 2) == 0)
					s += 2;
				else
					continue;
				len = strcspn(s, "\"");
			} else {
				/* "(see: sasl-oauth2 explain CODE)" in a message */
				if (p - flat < 12 || strncmp(p - 12, "sasl-oauth2 ", 12) != 0)
					continue;
				len = strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789.");
				while (len > 0 && s[len - 1] == '.')
					len--;
			}
			if (len == 0 || len >= sizeof(code) || (m == 2 && len < 3))
				continue;
			memcpy(code, s, len);
			code[len] = 0;
			if (strcmp(code, "CODE") == 0 || strcmp(code, "code") == 0)
				continue;
			(*checked)++;
			ok(oa2_explain_find(code) != NULL, "%s: code \"%s\" has a page",
			    path + strlen(OA2_SRCDIR) + 1, code);
		}
	}
	free(buf);
	free(flat);
}

static void
scan_dir(const char *sub, int *checked)
{
	char dir[1024], path[2048];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/%s", OA2_SRCDIR, sub);
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		size_t l = strlen(d->d_name);

		if (l < 3 || strcmp(d->d_name + l - 2, ".c") != 0 ||
		    strcmp(d->d_name, "oa2_explain.c") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		scan_file(path, checked);
	}
	closedir(dp);
}

int
main(void)
{
	size_t n = oa2_explain_count();
	int bad = 0, checked = 0;

	ok(n >= 80, "the table has pages (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		const struct oa2_explain *e = oa2_explain_at(i);

		if (e->code == NULL || !*e->code || e->summary == NULL ||
		    !*e->summary || e->fix == NULL || strlen(e->fix) < 10 ||
		    oa2_explain_find(e->code) != e || strchr(e->summary, '\n'))
			bad++;
	}
	ok(bad == 0, "every page has a code, a one-line summary and a fix, and "
	    "its code finds it (%d bad)", bad);
	ok(oa2_explain_at(n) == NULL, "past the end is NULL");

	/* Each code's page names its fix. */
	for (size_t i = 0; i < n; i++) {
		const struct oa2_explain *e = oa2_explain_at(i);
		int tested = 0;

		for (size_t j = 0; j < sizeof(expect) / sizeof(expect[0]); j++)
			if (strcmp(expect[j].code, e->code) == 0)
				tested = 1;
		ok(tested, "%s: has a fix expectation below", e->code);
	}
	for (size_t j = 0; j < sizeof(expect) / sizeof(expect[0]); j++) {
		const struct oa2_explain *e = oa2_explain_find(expect[j].code);

		ok(e != NULL && page_has(e, expect[j].want), "%s: names \"%s\"",
		    expect[j].code, expect[j].want);
	}

	/* The forms codes come in. */
	{
		static const struct {
			const char *in, *want;
		} forms[] = {
			{"invalid_grant", "invalid_grant"},
			{"INVALID_GRANT", "invalid_grant"},
			{"  access_denied:  ", "access_denied"},
			{"Error 400: redirect_uri_mismatch", "redirect_uri_mismatch"},
			{"Error 403: access_denied", "access_denied"},
			{"error=access_denied", "access_denied"},
			{"aadsts50011", "AADSTS50011"},
			{"AADSTS700082: The refresh token has expired", "AADSTS700082"},
			{"7000218", "AADSTS7000218"},
			{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled", "5.7.139"},
			{"535 5.7.3 Authentication unsuccessful", "5.7.3"},
			{"AADSTS700027: Client assertion failed signature validation", "AADSTS700027"},
			{"501 5.5.127 Token will expire soon", "5.5.127"},
			{"http_503", "http_5xx"},
			{"http_404", "http_4xx"},
			{"invalid_grant (Token has been expired or revoked.)", "invalid_grant"},
		};

		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			const struct oa2_explain *e = oa2_explain_find(forms[i].in);

			is_str(e ? e->code : NULL, forms[i].want, "find \"%s\"",
			    forms[i].in);
		}
		ok(oa2_explain_find("no_such_code_here") == NULL, "unknown code: NULL");
		ok(oa2_explain_find("") == NULL, "empty: NULL");
		ok(oa2_explain_find(NULL) == NULL, "NULL: NULL");
		ok(oa2_explain_find("55.55.555x") == NULL, "not an SMTP status: NULL");
	}

	/* Each command's fix (oa2_explain_fix()). */
	{
		/* What authorize meets at the provider and on its flags. */
		static const char *const az_codes[] = {
			"invalid_client", "unauthorized_client", "invalid_request",
			"invalid_scope", "unsupported_grant_type", "server_error",
			"temporarily_unavailable", "http_5xx", "http_4xx", "network",
			"timeout", "dns", "tls", "ca_bundle", "token_file", "url",
			"too_large", "bad_response", "user", "AADSTS700025",
			"AADSTS90009", "discovery", "access_denied", "pkce",
		};
		static const char *const not_by_hand[] = {
			"mail is", "retried", "deferred", "doctor --postfix",
		};
		static const struct {
			enum oa2_explain_ctx ctx;
			const char *code, *want;
		} names[] = {
			{OA2_CTX_AUTHORIZE, "invalid_client", "--client-id"},
			{OA2_CTX_AUTHORIZE, "invalid_client", "run authorize again"},
			{OA2_CTX_AUTHORIZE, "network", "--issuer"},
			{OA2_CTX_AUTHORIZE, "dns", "getent hosts"},
			{OA2_CTX_AUTHORIZE, "tls", "--ca-file"},
			{OA2_CTX_AUTHORIZE, "ca_bundle", "--ca-file"},
			{OA2_CTX_AUTHORIZE, "server_error", "nothing was written"},
			{OA2_CTX_REFRESH, "network", "run the command again"},
			{OA2_CTX_TOKEN, "timeout", "run the command again"},
			{OA2_CTX_REFRESH, "ca_bundle", "ca_bundle_file"},
			{OA2_CTX_STATUS, "token_file", "authorize --force"},
			{OA2_CTX_PLUGIN, "network", "the mail is retried"},
			{OA2_CTX_PLUGIN, "dns", "doctor --postfix"},
		};
		int same = 0, leaks = 0;

		for (size_t i = 0; i < n; i++) {
			const struct oa2_explain *e = oa2_explain_at(i);

			same += oa2_explain_fix(e, OA2_CTX_PLUGIN) == e->fix &&
			    oa2_explain_fix(e, OA2_CTX_COUNT) == e->fix;
			for (int c = OA2_CTX_AUTHORIZE; c < OA2_CTX_COUNT; c++) {
				const char *fix = oa2_explain_fix(e, (enum oa2_explain_ctx)c);

				for (size_t k = 0; k < sizeof(not_by_hand) /
				    sizeof(not_by_hand[0]); k++)
					if (strstr(fix, not_by_hand[k]) != NULL) {
						printf("# %s, %s: \"%s\"\n", e->code,
						    oa2_explain_ctx_name((enum oa2_explain_ctx)c),
						    fix);
						leaks++;
					}
			}
		}
		ok((size_t)same == n, "the plugin (and an unknown context) gets "
		    "the page's own fix (%d of %zu)", same, n);
		ok(leaks == 0, "no command run by hand is told the mail is "
		    "retried or to run doctor --postfix (%d)", leaks);
		for (size_t i = 0; i < sizeof(az_codes) / sizeof(az_codes[0]); i++) {
			const struct oa2_explain *e = oa2_explain_find(az_codes[i]);
			const char *fix = oa2_explain_fix(e, OA2_CTX_AUTHORIZE);

			ok(e != NULL && strstr(fix, "token file") == NULL &&
			    strstr(fix, "token_endpoint") == NULL &&
			    strstr(fix, "refresh FILE") == NULL,
			    "authorize, %s: the fix names no token file member: %s",
			    az_codes[i], fix ? fix : "(none)");
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const char *fix = oa2_explain_fix(oa2_explain_find(
			    names[i].code), names[i].ctx);

			ok(fix != NULL && strstr(fix, names[i].want) != NULL,
			    "%s, %s: the fix says \"%s\"",
			    oa2_explain_ctx_name(names[i].ctx), names[i].code,
			    names[i].want);
		}
		/* An app-only grant's refusal: the console first, no consent to redo. */
		{
			static const struct {
				const char *code, *lead;
			} app[] = {
				{"domain_wide_delegation", "Google Admin console > Security > "
				    "Access and data control > API controls > Manage domain "
				    "wide delegation > Add new: the service account's client "
				    "ID with the scope https://mail.google.com/"},
				{"app_permission", "Microsoft Entra admin center > App "
				    "registrations > your app > API permissions: Office 365 "
				    "Exchange Online SMTP.SendAsApp / IMAP.AccessAsApp and "
				    "Grant admin consent, then Exchange Online PowerShell: "
				    "New-ServicePrincipal"},
				{"app_invalid_grant", "check that \"user\" is a mailbox"},
				{"exchange_service_principal", "register the service "
				    "principal"},
				{"AADSTS700027", "upload the certificate"},
				{"AADSTS7000215", "put a new client secret"},
			};

			for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++)
				for (int c = OA2_CTX_PLUGIN; c < OA2_CTX_COUNT; c++) {
					const char *fix = oa2_explain_fix(oa2_explain_find(
					    app[i].code), (enum oa2_explain_ctx)c);

					ok(fix != NULL && strncmp(fix, app[i].lead,
					    strlen(app[i].lead)) == 0 &&
					    strstr(fix, "authorize") == NULL &&
					    strstr(fix, "re-auth") == NULL,
					    "%s, %s: the fix leads with \"%.40s...\", "
					    "nothing to re-authorize", oa2_explain_ctx_name(
					    (enum oa2_explain_ctx)c), app[i].code, app[i].lead);
				}
			ok(strstr(oa2_explain_find("app_permission")->fix,
			    "Add-MailboxPermission") != NULL,
			    "app_permission: the fix names Add-MailboxPermission");
			ok(strstr(oa2_explain_find("unauthorized_client")->fix,
			    "domain_wide_delegation") != NULL &&
			    strstr(oa2_explain_find("unauthorized_client")->fix,
			    "app_permission") != NULL, "unauthorized_client: the "
			    "fix points an app-only grant to its pages");
			ok(strstr(oa2_explain_fix(oa2_explain_find("AADSTS700016"),
			    OA2_CTX_TOKEN), "token_endpoint") != NULL &&
			    strstr(oa2_explain_fix(oa2_explain_find("AADSTS700016"),
			    OA2_CTX_AUTHORIZE), "token_endpoint") == NULL,
			    "AADSTS700016: the tenant in token_endpoint, for "
			    "authorize in --tenant");
		}
		ok(oa2_explain_fix(NULL, OA2_CTX_AUTHORIZE) == NULL, "no page: NULL");
		is_str(oa2_explain_ctx_name(OA2_CTX_AUTHORIZE), "authorize",
		    "context names");
	}

	/* Every code the sources emit has a page. */
	scan_dir("lib", &checked);
	scan_dir("plugin", &checked);
	scan_dir("tools", &checked);
	ok(checked > 40, "scanned the sources' error codes (%d)", checked);
	return tap_done();
}
