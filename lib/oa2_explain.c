/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_explain 3
 * SUMMARY
 *	plain-words pages for error codes
 * SYNOPSIS
 *	#include "oa2_explain.h"
 *
 *	const struct oa2_explain *oa2_explain_find(code)
 *	const char *oa2_explain_fix(e, ctx)
 *	const char *oa2_explain_ctx_name(ctx)
 *	size_t	oa2_explain_count()
 *	const struct oa2_explain *oa2_explain_at(i)
 * DESCRIPTION
 *	Every error the core, the plugin and the tool report carries a short
 *	code (struct oa2_error.code): an OAuth error word ("invalid_grant"),
 *	a local class ("token_file", "network", "tls", ...), a Microsoft
 *	Entra code ("AADSTS700082"), or an SMTP enhanced status ("5.7.139").
 *	Each has a page here: a one-line summary, the known causes (one per
 *	line, "cause: what to do"), and the one thing to do first, naming
 *	the console page and the click that fixes it.  The plugin's log
 *	lines end with "(see: sasl-oauth2 explain CODE)"; the tool prints
 *	the same page when it meets the error.
 *
 *	One table, one entry per code.  The texts name the console page and
 *	the click (Google Cloud console, Microsoft Entra admin center,
 *	Microsoft 365 admin center), or the exact command.  Facts and their
 *	sources: ../shared/PROVIDERS.md (sections A and B).
 *
 *	oa2_explain_find() looks a code up after normalising it: case is
 *	ignored, surrounding blanks and a trailing ":" are dropped,
 *	"Error 400: redirect_uri_mismatch" finds redirect_uri_mismatch,
 *	"aadsts50011" and "50011" find AADSTS50011, "535 5.7.139 ..." finds
 *	5.7.139, "http_503" finds http_5xx and other "http_4NN" http_4xx.
 *	Aliases ("expired_token" for the device flow, ...) are entries of
 *	their own.  Returns NULL when nothing matches.
 *
 *	oa2_explain_fix() gives the fix for the one who met the error: the
 *	table's own for the plugin (OA2_CTX_PLUGIN, a mail program's log),
 *	and for a command run by hand (OA2_CTX_AUTHORIZE, ..._REFRESH,
 *	..._TEST, ..._TOKEN, ..._STATUS) that command's fix where the
 *	plugin's does not fit: authorize names its flags, not the token
 *	file's members, and no command is retried like deferred mail.
 *
 *	oa2_explain_count() and oa2_explain_at() enumerate the table (for
 *	"sasl-oauth2 explain" without a code, and for the tests).
 * SEE ALSO
 *	sasl-oauth2(1), "explain".
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "oa2_explain.h"

#define REAUTH "sasl-oauth2 authorize --force FILE"
#define G_CONSENT "Google Cloud console > Google Auth Platform (APIs & Services > OAuth consent screen)"
#define G_CREDS "Google Cloud console > APIs & Services > Credentials"
#define MS_APP "Microsoft Entra admin center > App registrations > your app"
#define G_ADMIN_DWD "Google Admin console > Security > Access and data control > API controls > Manage domain wide delegation"
#define EXO_SP "Exchange Online PowerShell: New-ServicePrincipal -AppId CLIENT_ID -ServiceId OBJECT_ID (the object ID of the Enterprise application, not of the app registration), then Add-MailboxPermission -Identity MAILBOX -User OBJECT_ID -AccessRights FullAccess"

static const struct oa2_explain table[] = {
	/* ---- OAuth 2.0 token endpoint and authorization errors (RFC 6749) ---- */
	{"invalid_grant",
	 "the provider no longer accepts the refresh token (or the authorization code)",
	 "Google \"Token has been expired or revoked\" 7 days after consent: the project's "
	 "OAuth app is External and in Testing: " G_CONSENT " > Audience > Publish app "
	 "(In production), then re-authorize\n"
	 "the user or an admin removed the app's access (myaccount.google.com/permissions, "
	 "Microsoft My Apps): re-authorize\n"
	 "the user changed the password (Google, with the Gmail scope): re-authorize\n"
	 "unused for 6 months (Google) or 90 days (Microsoft, AADSTS700082): re-authorize, "
	 "then refresh at least weekly (a timer running sasl-oauth2 refresh)\n"
	 "more than 100 refresh tokens issued for this account and client (Google): the oldest "
	 "die; stop re-authorizing in loops, reuse one token file\n"
	 "a rotated refresh token was lost and the old one replayed (Microsoft, many "
	 "servers): the whole grant is revoked; re-authorize and let only one program "
	 "refresh the file\n"
	 "Workspace session control or re-authentication policy (\"invalid_rapt\"): the "
	 "Workspace admin must exempt the app (Admin console > Security > Google Cloud "
	 "session control), then re-authorize\n"
	 "at code exchange: the code was used twice, expired, the redirect URI or the PKCE "
	 "verifier did not match: run authorize again",
	 "run: " REAUTH " (the refresh token is dead; nothing else brings it back)"},
	{"invalid_client",
	 "the provider does not know this client_id, or the client secret is wrong or missing",
	 "client_id mistyped or the OAuth client was deleted: copy it again from "
	 G_CREDS " or " MS_APP " > Overview (Application (client) ID)\n"
	 "client secret wrong, expired (Microsoft secrets expire) or missing: "
	 MS_APP " > Certificates & secrets > New client secret; Google: " G_CREDS
	 " > your client > Add secret\n"
	 "token sent to the wrong provider's endpoint (a Microsoft token file with Google's "
	 "token_endpoint): fix \"token_endpoint\"/\"provider\" in the token file\n"
	 "the server expects the secret in the other place: set \"client_auth\" to \"basic\" "
	 "or \"post\" in the token file",
	 "check client_id and client_secret in the token file (or /etc/sasl-oauth2.conf) "
	 "against the console, then run sasl-oauth2 refresh FILE"},
	{"unauthorized_client",
	 "this client may not use this grant, or the refresh token belongs to another client",
	 "the refresh token was issued to another client_id (file copied, client replaced): "
	 "re-authorize with this client\n"
	 "Google service account (grant jwt_bearer), \"client not authorized for any of the "
	 "scopes requested\": domain-wide delegation is missing or lists other scopes: "
	 G_ADMIN_DWD " > Add new: the service account's client ID (its OAuth2 client ID, "
	 "a number) with the scope https://mail.google.com/\n"
	 "app-only (grant client_credentials): the app may not use that grant; Microsoft: "
	 "use a confidential client (a secret or a certificate)\n"
	 "Microsoft: device flow or a desktop redirect needs a public client: " MS_APP
	 " > Authentication > Allow public client flows: Yes\n"
	 "Google: the client type does not allow this flow (a Web client in the device "
	 "flow): create a Desktop app client in " G_CREDS,
	 "re-authorize with the client_id that will refresh: " REAUTH "; an app-only "
	 "grant has no consent to redo: see sasl-oauth2 explain domain_wide_delegation "
	 "(jwt_bearer) or app_permission (client_credentials)"},
	{"invalid_scope",
	 "the scope asked for is not allowed for this client or flow",
	 "Google device flow with https://mail.google.com/ (\"Invalid device flow scope\"): "
	 "Google does not allow the Gmail scope there; use --flow loopback or --flow paste\n"
	 "Microsoft: IMAP/SMTP scopes mixed with Graph scopes (Mail.Send) in one request: "
	 "ask for the outlook.office.com scopes only\n"
	 "the \"scope\" in the token file is wider than what was granted: remove it or "
	 "re-authorize",
	 "use the provider's default scope (leave --scope out), then re-authorize"},
	{"invalid_request",
	 "the provider refused the request as malformed",
	 "Google \"The out-of-band (OOB) flow has been blocked\": OOB is gone since 2023; "
	 "use --flow loopback or --flow paste (they use a 127.0.0.1 redirect)\n"
	 "\"Could not determine client ID from request\": client_id is empty in the token "
	 "file: set it\n"
	 "Microsoft AADSTS900144 (a required parameter missing): a bug; report it with the "
	 "log line",
	 "check client_id, token_endpoint and scope in the token file; see the description "
	 "the provider gave"},
	{"unsupported_grant_type",
	 "the token endpoint does not support this grant type",
	 "the URL is not a token endpoint (an authorization URL in \"token_endpoint\"): fix it\n"
	 "device flow against a server without it: use --flow loopback",
	 "check \"token_endpoint\" in the token file against the provider's documentation"},
	{"access_denied",
	 "the user (or a policy) said no on the consent page",
	 "Google \"Error 403: access_denied ... can only be accessed by developer-approved "
	 "testers\": the app is in Testing and this account is not a test user: "
	 G_CONSENT " > Audience > Test users > Add users (or Publish app)\n"
	 "the user clicked Cancel/Deny: run authorize again and click Allow (Continue)\n"
	 "a Workspace admin blocked the app or the Gmail scope (admin_policy_enforced): "
	 "Admin console > Security > Access and data control > API controls > Manage "
	 "Third-Party App Access > trust the client ID\n"
	 "Microsoft: the tenant requires admin consent: an admin clicks " MS_APP
	 " > API permissions > Grant admin consent",
	 "add the account as a test user (Google) or get admin consent (Microsoft), then "
	 "run authorize again"},
	{"redirect_uri_mismatch",
	 "the provider does not accept the redirect URI the tool sent (Google Error 400)",
	 "the OAuth client is a Web application client: loopback redirects need a Desktop app "
	 "client: " G_CREDS " > Create credentials > OAuth client ID > Application type: "
	 "Desktop app (a Web client only takes its registered URIs: the Odoo FAQ case)\n"
	 "Microsoft AADSTS50011: register the redirect on " MS_APP " > Authentication > Add a "
	 "platform > Mobile and desktop applications > custom URI http://localhost (the port "
	 "is ignored for localhost)\n"
	 "a fixed redirect was registered with a path: pass the same one with --redirect-uri",
	 "use a Desktop app (Google) or Mobile and desktop (Microsoft) client, or pass the "
	 "registered URI with --redirect-uri"},
	{"oob_blocked",
	 "Google blocked the out-of-band (copy/paste urn:ietf:wg:oauth:2.0:oob) flow",
	 "since 2023-01-31 no client may use OOB: the tool's paste mode uses a 127.0.0.1 "
	 "redirect instead: the browser shows \"cannot connect\"; copy that page's URL and "
	 "paste it",
	 "run: sasl-oauth2 authorize --flow paste ... (or loopback with ssh -L)"},
	{"org_internal",
	 "the Google app is Internal: only accounts of its Workspace organisation may use it",
	 "an outside account tried to consent: " G_CONSENT " > Audience > User type: External "
	 "(then add test users or publish)",
	 "consent with an account of the organisation, or make the app External"},
	{"admin_policy_enforced",
	 "a Google Workspace admin policy blocks this app or the Gmail scope",
	 "the admin has not trusted the client: Admin console > Security > Access and data "
	 "control > API controls > Manage Third-Party App Access > Add app > OAuth App Name "
	 "Or Client ID > Trusted",
	 "ask the Workspace admin to trust the OAuth client ID, then run authorize again"},
	{"disallowed_useragent",
	 "Google refuses sign-in inside an embedded browser",
	 "the URL was opened in an app's web view: open it in a real browser (copy it)",
	 "open the printed URL in Chrome/Firefox/Safari"},
	{"server_error",
	 "the provider failed (RFC 6749 server_error)",
	 "a passing failure at the provider: the plugin keeps the refresh token and the mail "
	 "is retried",
	 "nothing, unless it lasts: then check the provider's status page"},
	{"temporarily_unavailable",
	 "the provider is overloaded or in maintenance",
	 "passing: the mail is deferred and retried",
	 "nothing, unless it lasts: then check the provider's status page"},
	{"http_5xx",
	 "the token endpoint answered with an HTTP 5xx error",
	 "a passing failure at the provider or a proxy between: retried later",
	 "nothing, unless it lasts: check \"proxy\" and the provider's status page"},
	{"http_4xx",
	 "the token endpoint answered with an HTTP 4xx error without an OAuth error word",
	 "\"token_endpoint\" points to the wrong URL (404), or a proxy refused (403/407): "
	 "fix the URL or \"proxy\"",
	 "check \"token_endpoint\" and \"proxy\" in the token file"},
	{"interaction_required",
	 "the provider wants the user to sign in again (MFA, terms, password change)",
	 "Microsoft AADSTS50076/50079 (MFA required or to register), Conditional Access "
	 "sign-in frequency (AADSTS70043): re-authorize interactively",
	 "run: " REAUTH},
	{"consent_required",
	 "the user or the tenant has not consented to the app's permissions",
	 "Microsoft AADSTS65001: the user consents during authorize; if users may not consent, "
	 "an admin clicks " MS_APP " > API permissions > Grant admin consent for <tenant>",
	 "get consent (user or admin), then run authorize again"},
	{"login_required",
	 "the provider needs an interactive sign-in",
	 "prompt=none or a silent request was refused: run authorize",
	 "run: " REAUTH},
	/* ---- device flow (RFC 8628) ---- */
	{"authorization_pending",
	 "device flow: the user has not entered the code yet",
	 "normal while waiting; the tool keeps polling",
	 "open the verification page and enter the code shown"},
	{"slow_down",
	 "device flow: polling too fast; the interval grows by 5 s (RFC 8628 3.5)",
	 "normal; the tool slows down by itself",
	 "nothing to do"},
	{"expired_token",
	 "device flow: the code expired before the user entered it",
	 "the code lives about 15 minutes: start again and enter it sooner",
	 "run authorize --flow device again"},
	{"authorization_declined",
	 "device flow: the user declined (Microsoft)",
	 "the user clicked No/Cancel on the device page",
	 "run authorize again and accept"},
	{"bad_verification_code",
	 "device flow: the code typed was not recognised (Microsoft)",
	 "a typo in the user code: start again",
	 "run authorize --flow device again and type the code exactly"},
	{"device_flow_gmail",
	 "Google does not allow the Gmail scope in the device flow",
	 "Google's \"TVs and Limited Input devices\" flow accepts a short list of scopes "
	 "(openid, email, profile, some Drive/YouTube); https://mail.google.com/ is refused "
	 "with invalid_scope",
	 "use --flow paste on a headless server, or --flow loopback with ssh -L PORT:127.0.0.1:PORT"},
	/* ---- the tool's consent flows ---- */
	{"state_mismatch",
	 "the redirect carried a state that is not the one this run sent",
	 "a redirect from an older run or another tab was pasted or reached the listener: "
	 "finish the newest run only\n"
	 "someone tried to inject an authorization code (CSRF, RFC 6749 10.12): nothing was "
	 "written",
	 "run authorize again and use only the URL it prints"},
	{"pkce",
	 "the provider refused the authorization code at the exchange (PKCE)",
	 "the code was issued for another code_challenge than this run's verifier (the URL "
	 "was changed, or the code came from another run): run authorize again\n"
	 "the code was used twice or expired (codes live a few minutes): run it again\n"
	 "the client is registered to require a different method: the tool sends S256",
	 "run authorize again and finish it in one go"},
	{"no_refresh_token",
	 "the provider returned no refresh token",
	 "Google: consent without access_type=offline and prompt=consent (the tool sends "
	 "both for --provider google; with --auth-url pass them in --auth-param)\n"
	 "Microsoft: offline_access missing from the scope: keep the default scope\n"
	 "other servers: the client may not use the refresh_token grant or offline_access "
	 "scope: allow it in the server's client settings",
	 "keep the default scope for the provider and run authorize again"},
	{"consent_timeout",
	 "nobody finished the consent in the browser before the timeout",
	 "the browser was not opened, or the redirect to 127.0.0.1 did not reach this "
	 "machine (browser on another host): use --flow paste, or ssh -L PORT:127.0.0.1:PORT "
	 "with --port PORT",
	 "run authorize again (--timeout SECONDS for more time)"},
	{"discovery",
	 "the issuer's OpenID configuration could not be read",
	 "wrong --issuer URL: it is the base, e.g. https://idp.example (the tool adds "
	 "/.well-known/openid-configuration)\n"
	 "the document lacks authorization_endpoint or token_endpoint: pass --auth-url "
	 "and --token-url",
	 "check the --issuer URL in a browser, or give the endpoints explicitly"},
	{"token_exists",
	 "the token file already holds a refresh token that works",
	 "authorize refuses to throw a working token away",
	 "add --force to replace it, or write to another FILE"},
	/* ---- the plugin and the core ---- */
	{"invalid_token",
	 "the mail server refused the access token",
	 "the user name sent (SASL user, Postfix sasl_passwd user) is not the account that "
	 "authorized the token: use the same address (or the shared mailbox address for "
	 "Microsoft shared mailboxes)\n"
	 "the scope does not allow mail: Google needs https://mail.google.com/, Microsoft "
	 "IMAP.AccessAsUser.All/SMTP.Send: re-authorize with the default scope\n"
	 "the token was revoked or expired early: the plugin marks it stale and the next "
	 "attempt refreshes it",
	 "check the user name against the token file's \"user\", then run sasl-oauth2 test FILE"},
	{"insufficient_scope",
	 "the access token is valid but its scope does not allow this service",
	 "token authorized for SMTP only used for IMAP (or the reverse): re-authorize with "
	 "the provider's default scope",
	 "run: " REAUTH " (without --scope)"},
	{"network",
	 "the token endpoint could not be reached",
	 "no route, firewall, or a proxy needed: set \"proxy\" in the token file or "
	 "/etc/sasl-oauth2.conf\n"
	 "in Postfix's chroot the resolver files are missing: see sasl-oauth2 doctor --postfix",
	 "check with: curl -sI https://HOST/ from the mail host; the mail is retried"},
	{"timeout",
	 "the token endpoint (or the mail server) did not answer in time",
	 "slow network or provider: raise \"timeout\" in /etc/sasl-oauth2.conf\n"
	 "a firewall drops the packets silently: allow outgoing HTTPS (443)",
	 "passing timeouts are retried; lasting ones: check the firewall"},
	{"dns",
	 "the token endpoint's host name could not be resolved",
	 "inside Postfix's chroot (/var/spool/postfix) /etc/resolv.conf, /etc/hosts and "
	 "/etc/nsswitch.conf are missing: cp /etc/resolv.conf /etc/hosts /etc/nsswitch.conf "
	 "/var/spool/postfix/etc/\n"
	 "no DNS server reachable: fix /etc/resolv.conf",
	 "run: sasl-oauth2 doctor --postfix (it prints the copy commands)"},
	{"tls",
	 "the token endpoint's TLS certificate was not accepted",
	 "the CA bundle does not hold the issuer of the certificate (a TLS-inspecting proxy's "
	 "CA): set \"ca_bundle_file\" to a bundle that has it\n"
	 "the host name in \"token_endpoint\" does not match the certificate: fix the URL\n"
	 "the machine's clock is wrong: fix the time (NTP)",
	 "check \"ca_bundle_file\"/\"ca_certs_dir\" and the host in \"token_endpoint\""},
	{"ca_bundle",
	 "the CA bundle to verify the token endpoint cannot be read",
	 "inside Postfix's chroot the bundle path does not exist: mkdir -p "
	 "/var/spool/postfix/etc/ssl/certs && cp /etc/ssl/certs/ca-certificates.crt "
	 "/var/spool/postfix/etc/ssl/certs/\n"
	 "\"ca_bundle_file\" names a missing or unreadable file: fix the path",
	 "run: sasl-oauth2 doctor --postfix (it prints the copy command)"},
	{"token_file",
	 "the token file cannot be used as it is",
	 "wrong permissions: it must be mode 0600 (chmod 600 FILE) and owned by the user that "
	 "refreshes it (chown postfix FILE for Postfix)\n"
	 "not found at that path: inside Postfix's chroot the path is relative to "
	 "/var/spool/postfix\n"
	 "a symbolic link: give the real path\n"
	 "broken JSON or a field of the wrong type (the message names it): fix it, or "
	 "re-authorize\n"
	 "no refresh_token: run sasl-oauth2 authorize\n"
	 "the directory is not writable, so the refreshed token cannot be stored: chown "
	 "postfix DIR",
	 "run: sasl-oauth2 status FILE (and doctor --postfix for Postfix)"},
	{"config",
	 "the configuration file /etc/sasl-oauth2.conf (or $SASL_OAUTH2_CONFIG) is wrong",
	 "not valid JSON or an unknown member (a typo): the message names it\n"
	 "it holds client_secret and is readable by others: chmod 640 and chgrp postfix",
	 "fix the file as the message says; sasl-oauth2 status FILE checks it"},
	{"url",
	 "a URL was refused",
	 "only https:// endpoints are used (http:// only to 127.0.0.1 in tests): fix "
	 "\"token_endpoint\" or the --auth-url/--token-url given",
	 "use the https:// URL from the provider's documentation"},
	{"too_large",
	 "a server sent a reply larger than the limit",
	 "the URL points to a web page, not an OAuth endpoint: fix it",
	 "check \"token_endpoint\""},
	{"bad_response",
	 "the token endpoint answered with something that is not a token reply",
	 "a captive portal or proxy answered instead: check \"proxy\"\n"
	 "the URL is not the token endpoint: fix \"token_endpoint\"",
	 "check \"token_endpoint\" and \"proxy\""},
	{"curl",
	 "libcurl could not be initialised",
	 "out of memory or a broken libcurl installation: reinstall libcurl4",
	 "reinstall libcurl and try again"},
	{"nomem",
	 "out of memory",
	 "the process hit a memory limit",
	 "retry; if it persists, check the process limits"},
	{"output",
	 "sasl-oauth2 token could not write the access token to its standard output",
	 "the program that ran it (msmtp passwordeval, neomutt's oauth refresh command, "
	 "mbsync PassCmd) closed the pipe before reading\n"
	 "standard output is a full disk or a closed descriptor",
	 "run the program's command by hand (sasl-oauth2 token FILE) to see the token "
	 "is printed; the token file itself is unchanged or holds the new token"},
	{"internal",
	 "a bug in sasl-oauth2",
	 "please report it with the log line",
	 "report it: the log line holds no secret"},
	{"callbacks",
	 "the application gave the plugin no user name or no password",
	 "Postfix: smtp_sasl_password_maps has no entry for this relay (the key must match "
	 "relayhost exactly, brackets and port included)\n"
	 "imtest/smtptest: pass -a USER and -w /path/to/token.json",
	 "add \"[relay]:port user@example.com:/path/to/token.json\" to the sasl_passwd map"},
	{"user",
	 "no user name for the mail login",
	 "neither the application nor the token file's \"user\" gives one: set \"user\" or "
	 "the user part of the sasl_passwd entry",
	 "set the mail address in sasl_passwd (user:password) or \"user\" in the token file"},
	{"protocol",
	 "the mail server's SASL exchange went wrong",
	 "the server sent data the mechanism does not expect: check that it supports "
	 "XOAUTH2/OAUTHBEARER (sasl-oauth2 test shows its list)",
	 "run: sasl-oauth2 test FILE --smtp HOST"},
	{"ssf",
	 "the application asked for a SASL security layer; bearer tokens give none",
	 "Postfix: max_ssf is 0 already; another application asked for min_ssf > 0: allow "
	 "min_ssf 0 and rely on TLS",
	 "use TLS and set the application's minimum SASL SSF to 0"},
	{"bad_challenge",
	 "the mail server's error challenge could not be read",
	 "a server that is not RFC 7628 conformant: the login failed anyway",
	 "run: sasl-oauth2 test FILE --smtp HOST to see the server's answer"},
	{"bad_token",
	 "the access token has bytes that cannot be sent",
	 "the token file's access_token was edited by hand: run sasl-oauth2 refresh FILE",
	 "run: sasl-oauth2 refresh FILE"},
	{"bad_user",
	 "the user name has bytes that cannot be sent (control characters)",
	 "fix the user part of the sasl_passwd entry or \"user\" in the token file",
	 "fix the user name"},
	{"bad_host",
	 "the server host name has bytes that cannot be sent",
	 "fix the host name the application connects to",
	 "fix the host name"},
	{"bad_port",
	 "the server port is not a number",
	 "fix the port the application connects to",
	 "fix the port"},
	{"too_long",
	 "a value is longer than the limit",
	 "a user name or token over the limit: check the token file",
	 "check the token file"},
	/* ---- mail servers ---- */
	{"5.7.139",
	 "Microsoft 365: SMTP AUTH is disabled for the tenant or the mailbox (535 5.7.139)",
	 "\"SmtpClientAuthentication is disabled for the Tenant\": Exchange admin center > "
	 "Settings > Mail flow > untick \"Turn off SMTP AUTH protocol for your organization\", "
	 "or PowerShell: Set-TransportConfig -SmtpClientAuthenticationDisabled $false\n"
	 "disabled for the mailbox: Microsoft 365 admin center > Users > Active users > the "
	 "user > Mail > Manage email apps > tick Authenticated SMTP, or "
	 "Set-CASMailbox -Identity USER -SmtpClientAuthenticationDisabled $false\n"
	 "\"locked by your organization's security defaults policy\": Entra admin center > "
	 "Overview > Properties > Manage security defaults (or a Conditional Access policy "
	 "that does not block legacy authentication for this user)",
	 "enable Authenticated SMTP for the mailbox (Microsoft 365 admin center > Users > "
	 "Active users > Mail > Manage email apps)"},
	{"5.7.3",
	 "Microsoft 365: authentication unsuccessful (535 5.7.3)",
	 "the SMTP user name is not the account that consented: use that address\n"
	 "the token lacks SMTP.Send: re-authorize with the default scope\n"
	 "SMTP AUTH disabled for the mailbox (see: sasl-oauth2 explain 5.7.139)\n"
	 "an app-only token (grant client_credentials) and the app's service principal is "
	 "not registered in Exchange, or has no permission on this mailbox: " EXO_SP "\n",
	 "check the user name against the token file's \"user\", then run sasl-oauth2 test FILE"},
	{"5.7.8",
	 "the SMTP server refused the credentials (535 5.7.8)",
	 "wrong user name for the token, a revoked or expired access token (the plugin then "
	 "refreshes on the next attempt), or the wrong scope",
	 "run: sasl-oauth2 test FILE --smtp HOST (it tells which)"},
	{"5.5.127",
	 "Microsoft HVE: \"Token will expire soon\": the access token is too close to expiry",
	 "the refresh window is shorter than what the server wants: set \"refresh_window\": "
	 "\"900\" in the token file or /etc/sasl-oauth2.conf",
	 "raise refresh_window to 900 seconds"},
	{"auth_refused",
	 "the mail server refused the login",
	 "wrong user for the token, revoked token, scope without mail, or the account may "
	 "not use IMAP/SMTP (Gmail: IMAP disabled in Gmail settings; Microsoft: 5.7.139)",
	 "run: sasl-oauth2 test FILE --smtp HOST or --imap HOST"},
	{"no_mechanism",
	 "the mail server does not offer XOAUTH2 or OAUTHBEARER",
	 "AUTH is only offered after STARTTLS: the tool does that; if still missing, the "
	 "server has no OAuth login (Microsoft offers XOAUTH2 only, Gmail both)\n"
	 "Dovecot: auth_mechanisms = xoauth2 oauthbearer and an oauth2 passdb",
	 "connect to the provider's documented host and port (smtp.gmail.com:587, "
	 "smtp.office365.com:587, imap.gmail.com:993, outlook.office365.com:993)"},
	{"plugin_missing",
	 "libsasl2 found no XOAUTH2/OAUTHBEARER plugin",
	 "the plugin is not installed in libsasl2's plugin directory (Debian: "
	 "/usr/lib/x86_64-linux-gnu/sasl2): make install, or set SASL_PATH (Postfix: "
	 "import_environment = ... SASL_PATH=DIR)",
	 "run: saslpluginviewer -c and check that XOAUTH2 is listed"},
	{"plugin_duplicate",
	 "two SASL plugins offer XOAUTH2; libsasl2 may pick the other one",
	 "sasl-xoauth2 or libsasl2-modules-kdexoauth2 is installed too: remove it "
	 "(apt-get remove sasl-xoauth2 libsasl2-modules-kdexoauth2)",
	 "remove the other plugin package"},
	{"starttls",
	 "the server offered no STARTTLS, or TLS failed",
	 "plain-text port: use the submission port 587 (STARTTLS) or 465/993 (TLS)\n"
	 "certificate not trusted: pass --ca-file, or fix the server's chain",
	 "use the documented port, and --ca-file for a private CA"},
	{"connect",
	 "the mail server could not be reached",
	 "wrong host or port, or a firewall: outgoing 587/465/993 must be allowed",
	 "check with: nc -vz HOST PORT"},
	/* ---- app-only grants (client_credentials, jwt_bearer) ---- */
	{"app_key",
	 "the app-only credential file cannot be used (private key or service account key)",
	 "mode wider than 0600, or owned by another user than the mail system's: the "
	 "message gives the chmod or chown\n"
	 "the path is wrong as the mail system sees it (Postfix's smtp is chrooted: the "
	 "file must be below the queue directory and named as seen from there)\n"
	 "an encrypted key: openssl pkey -in KEY -out KEY.new, then chmod 600\n"
	 "a service account key file that is not Google's JSON key: Google Cloud console > "
	 "IAM & Admin > Service accounts > the account > Keys > Add key > JSON",
	 "fix the file as the message says, then run: sasl-oauth2 test FILE"},
	{"app_cert",
	 "the certificate file for the client assertion cannot be used",
	 "not a PEM certificate, or not the certificate of client_key_file: give the one "
	 "uploaded under " MS_APP " > Certificates & secrets > Certificates",
	 "point client_cert_file at the certificate of the key, then run: sasl-oauth2 test FILE"},
	{"jwt",
	 "the client assertion could not be signed",
	 "the key does not fit jwt_alg (ES256 needs a P-256 key, RS256/PS256 an RSA key)",
	 "remove jwt_alg from the token file, or give a key of that type"},
	{"grant",
	 "the token file's grant does not fit the request (a bug)",
	 NULL,
	 "report it with the output of sasl-oauth2 status FILE"},
	{"exchange_service_principal",
	 "Microsoft 365: an app-only token is refused: the service principal is not registered "
	 "in Exchange (IMAP \"AUTHENTICATE failed\", SMTP 535 5.7.3)",
	 "the token was issued (Entra knows the app) but Exchange Online does not know its "
	 "service principal: " EXO_SP "\n"
	 "the API permission is missing: " MS_APP " > API permissions > Add > APIs my "
	 "organization uses > Office 365 Exchange Online > Application permissions > "
	 "SMTP.SendAsApp / IMAP.AccessAsApp, then Grant admin consent\n"
	 "the mailbox is not the one given the permission: the SASL user (\"user\") is the "
	 "mailbox address",
	 "register the service principal and give it the mailbox: " EXO_SP},
	{"domain_wide_delegation",
	 "Google: the service account may not act for this mailbox (grant jwt_bearer: "
	 "unauthorized_client, \"client not authorized for any of the scopes requested\")",
	 "domain-wide delegation is missing for the service account's client ID, or it lists "
	 "other scopes than https://mail.google.com/: " G_ADMIN_DWD " > Add new (or Edit): "
	 "the client ID (a number: the key file's client_id) and the scope "
	 "https://mail.google.com/\n"
	 "\"user\" is not a mailbox of the Workspace domain that delegated: name one of its "
	 "mailboxes\n"
	 "the delegation was just added: it can take some minutes, at most a day, to apply",
	 G_ADMIN_DWD " > Add new: the service account's client ID with the scope "
	 "https://mail.google.com/ (there is no consent to redo), then run: sasl-oauth2 test "
	 "FILE"},
	{"app_permission",
	 "the provider does not let this application get tokens on its own (grant "
	 "client_credentials: unauthorized_client)",
	 "Microsoft Entra: the app lacks the application permission or its admin consent: "
	 MS_APP " > API permissions > Add a permission > APIs my organization uses > Office "
	 "365 Exchange Online > Application permissions > SMTP.SendAsApp / IMAP.AccessAsApp, "
	 "then Grant admin consent\n"
	 "Microsoft: AADSTS700016, the app is not in the tenant named in token_endpoint: use "
	 "the tenant ID of the app's directory (never common)\n"
	 "Exchange Online must know the app too, or the server refuses its tokens: " EXO_SP "\n"
	 "other providers: allow the client_credentials grant for this client in the "
	 "provider's console",
	 MS_APP " > API permissions: Office 365 Exchange Online SMTP.SendAsApp / "
	 "IMAP.AccessAsApp and Grant admin consent, then " EXO_SP " (there is no consent to "
	 "redo); then run: sasl-oauth2 test FILE"},
	{"app_invalid_grant",
	 "Google: the service account's assertion was refused (grant jwt_bearer: invalid_grant)",
	 "\"Invalid email or User ID\": \"user\" is not a mailbox of the Workspace domain: "
	 "fix \"user\"\n"
	 "\"Invalid JWT Signature\": the key was deleted or disabled: Google Cloud console > "
	 "IAM & Admin > Service accounts > the account > Keys > Add key > JSON, and point "
	 "service_account_file at it (mode 0600, owned by the mail system's user)\n"
	 "\"Invalid JWT: Token must be a short-lived token\" or \"in a reasonable "
	 "timeframe\": this host's clock is off: timedatectl set-ntp true",
	 "check that \"user\" is a mailbox of the Workspace domain and that the service "
	 "account's key still exists (Google Cloud console > IAM & Admin > Service accounts > "
	 "Keys); there is no consent to redo; then run: sasl-oauth2 test FILE"},
	{"AADSTS700027",
	 "Microsoft: the client assertion's signature or certificate was not accepted",
	 "the certificate (thumbprint in x5t#S256) is not uploaded for this app, expired, "
	 "or client_key_file is not its key: " MS_APP " > Certificates & secrets > "
	 "Certificates > Upload certificate",
	 "upload the certificate of client_cert_file, then run: sasl-oauth2 test FILE"},
	{"AADSTS7000215",
	 "Microsoft: the client secret is wrong or expired",
	 "the secret's Value (not its Secret ID) must be used; secrets expire: " MS_APP
	 " > Certificates & secrets > New client secret",
	 "put a new client secret in the token file, then run: sasl-oauth2 test FILE"},
	{"AADSTS1002012",
	 "Microsoft: a client_credentials request needs a scope ending in /.default",
	 "app-only tokens for Exchange use https://outlook.office365.com/.default, never "
	 "the delegated SMTP.Send or offline_access",
	 "set \"scope\" to https://outlook.office365.com/.default (or remove it)"},
	/* ---- Microsoft Entra (AADSTS) ---- */
	{"AADSTS50011",
	 "Microsoft: the redirect URI is not registered for the app",
	 "register http://localhost under " MS_APP " > Authentication > Add a platform > "
	 "Mobile and desktop applications (the port is ignored for localhost)",
	 "register http://localhost as a Mobile and desktop redirect URI"},
	{"AADSTS50020",
	 "Microsoft: the account is not in the tenant the request went to",
	 "a personal account (outlook.com) or a guest against a tenant endpoint: use "
	 "--tenant consumers (personal) or common, or invite the user as a guest",
	 "authorize again with the right --tenant"},
	{"AADSTS50076",
	 "Microsoft: multi-factor authentication is required",
	 "a policy asks for MFA (new location, changed rules): re-authorize interactively",
	 "run: " REAUTH},
	{"AADSTS50079",
	 "Microsoft: the user must register for multi-factor authentication",
	 "sign in once at https://aka.ms/mfasetup, then re-authorize",
	 "register MFA, then run: " REAUTH},
	{"AADSTS50194",
	 "Microsoft: a single-tenant app was used with the common endpoint",
	 "the app's Supported account types is \"this organizational directory only\": use "
	 "--tenant with the tenant ID or domain, or " MS_APP " > Authentication > Supported "
	 "account types: multitenant",
	 "authorize again with --tenant YOUR-TENANT-ID"},
	{"AADSTS53003",
	 "Microsoft: blocked by Conditional Access",
	 "a policy blocks this sign-in (location, device, legacy authentication or device "
	 "code flow): Entra admin center > Protection > Conditional Access > Sign-in logs "
	 "show which; the admin must exempt the app or user",
	 "ask the tenant admin to exempt the app from the blocking policy"},
	{"AADSTS54005",
	 "Microsoft: the authorization code was already redeemed",
	 "the same code was sent twice: run authorize again",
	 "run authorize again"},
	{"AADSTS65001",
	 "Microsoft: consent required (the user or admin has not consented)",
	 "users may not consent to apps in this tenant: an admin clicks " MS_APP
	 " > API permissions > Grant admin consent for <tenant>",
	 "get admin consent, then run authorize again"},
	{"AADSTS70000",
	 "Microsoft: the grant is invalid (code expired, scopes not authorized)",
	 "the code or refresh token is dead, or the scope was not consented: re-authorize "
	 "with the default scope",
	 "run: " REAUTH},
	{"AADSTS70043",
	 "Microsoft: the refresh token expired by a Conditional Access sign-in frequency",
	 "a sign-in frequency policy caps token life: re-authorize; the admin may exclude "
	 "the app from that policy",
	 "run: " REAUTH},
	{"AADSTS700016",
	 "Microsoft: application (client_id) not found in the directory",
	 "client_id mistyped, the app lives in another tenant, or it is single-tenant and "
	 "you used common: check " MS_APP " > Overview (Application (client) ID, Directory "
	 "(tenant) ID); an app-only token file names the tenant in token_endpoint "
	 "(login.microsoftonline.com/TENANT/oauth2/v2.0/token)",
	 "check client_id and the tenant against " MS_APP " > Overview: fix client_id, or "
	 "--tenant (an app-only file: the tenant in token_endpoint)"},
	{"AADSTS7000218",
	 "Microsoft: the request needs a client secret (the app is treated as confidential)",
	 "a public client (desktop, device flow) needs " MS_APP " > Authentication > Allow "
	 "public client flows: Yes\n"
	 "or the redirect URI is registered under Web: move it to Mobile and desktop "
	 "applications, or give the secret with --client-secret-file",
	 "set Allow public client flows to Yes, then run authorize again"},
	{"AADSTS700025",
	 "Microsoft: the client is public, so no client secret may be sent",
	 "remove \"client_secret\" from the token file (or do not give --client-secret-file)",
	 "remove client_secret from the token file"},
	{"AADSTS700082",
	 "Microsoft: the refresh token expired after 90 days without use",
	 "nothing refreshed the token for 90 days: re-authorize, then keep it alive: a "
	 "timer running sasl-oauth2 refresh FILE weekly",
	 "run: " REAUTH " and add a weekly sasl-oauth2 refresh timer"},
	{"AADSTS90009",
	 "Microsoft: the app asked a token for itself (no resource scope)",
	 "the refresh request lacked the outlook.office.com scope: keep \"scope\" in the "
	 "token file (authorize writes it)",
	 "set \"scope\" in the token file to the IMAP/SMTP scopes"},
	{"AADSTS900144",
	 "Microsoft: a required parameter is missing from the request",
	 "an empty client_id or refresh_token in the token file: re-authorize",
	 "run: " REAUTH},
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

/*
 * The fix for a command run by hand, where the table's (the plugin's) does
 * not fit: authorize takes its settings from flags, not from a token file,
 * and nothing retries a command's failure the way Postfix retries mail.
 */
#define C(x)	(1u << OA2_CTX_##x)
#define HAND	(C(REFRESH) | C(TEST) | C(TOKEN) | C(STATUS))
#define AZ	C(AUTHORIZE)
#define AZ_URL	"the --issuer URL (or --auth-url and --token-url)"

static const struct {
	const char *code;
	unsigned ctx;
	const char *fix;
} by_ctx[] = {
	{"invalid_client", AZ,
	 "check --client-id against the console (" G_CREDS ", or " MS_APP
	 " > Overview) and the secret in --client-secret-file, then run "
	 "authorize again"},
	{"unauthorized_client", AZ,
	 "use a client of the type this flow needs (Google: Desktop app; "
	 "Microsoft: Allow public client flows: Yes), then run authorize again"},
	{"invalid_request", AZ,
	 "check --client-id, --scope and " AZ_URL "; see the description the "
	 "provider gave"},
	{"invalid_scope", AZ,
	 "leave --scope out (the provider's default scope), then run authorize "
	 "again"},
	{"unsupported_grant_type", AZ,
	 "check " AZ_URL " against the provider's documentation; without a "
	 "device endpoint use --flow loopback or paste"},
	{"server_error", AZ,
	 "nothing was written: run authorize again in a few minutes; if it lasts, "
	 "check the provider's status page"},
	{"temporarily_unavailable", AZ,
	 "nothing was written: run authorize again in a few minutes; if it lasts, "
	 "check the provider's status page"},
	{"http_5xx", AZ,
	 "nothing was written: run authorize again in a few minutes; if it lasts, "
	 "check the provider's status page"},
	{"server_error", HAND,
	 "run the command again in a few minutes (the token file is unchanged); "
	 "if it lasts, check the provider's status page"},
	{"temporarily_unavailable", HAND,
	 "run the command again in a few minutes (the token file is unchanged); "
	 "if it lasts, check the provider's status page"},
	{"http_5xx", HAND,
	 "run the command again in a few minutes (the token file is unchanged); "
	 "if it lasts, check \"proxy\" and the provider's status page"},
	{"http_4xx", AZ,
	 "check " AZ_URL ": a 404 is a wrong path; a proxy from https_proxy may "
	 "refuse (403/407)"},
	{"network", AZ,
	 "check that the host and port of " AZ_URL " are right and reachable "
	 "from here (curl -sI URL), then run authorize again"},
	{"network", HAND,
	 "check with: curl -sI https://HOST/ from this host (HOST of "
	 "\"token_endpoint\"), then run the command again"},
	{"timeout", AZ,
	 "run authorize again; if it lasts, check that the firewall lets "
	 "outgoing HTTPS (443) through"},
	{"timeout", HAND,
	 "run the command again; if it lasts, check that the firewall lets "
	 "outgoing HTTPS (443) through"},
	{"dns", AZ,
	 "check the host name in " AZ_URL " and this host's resolver: getent "
	 "hosts HOST"},
	{"dns", HAND,
	 "check the host name in \"token_endpoint\" and this host's resolver: "
	 "getent hosts HOST"},
	{"tls", AZ,
	 "give --ca-file with the CA that signed the server's certificate, or "
	 "fix the host name in " AZ_URL},
	{"ca_bundle", AZ,
	 "give --ca-file the path of a readable PEM file (ls -l PATH), or leave "
	 "it out for the system's CA bundle"},
	{"ca_bundle", HAND,
	 "set \"ca_bundle_file\" in the token file to a readable PEM file (ls -l "
	 "PATH), or remove it for the system's CA bundle"},
	{"token_file", AZ,
	 "fix the path or its directory as the message says, then run authorize "
	 "again"},
	{"token_file", C(REFRESH) | C(TEST) | C(TOKEN),
	 "fix the file as the message says; sasl-oauth2 status FILE lists what "
	 "else is wrong"},
	{"token_file", C(STATUS),
	 "fix the file as the message says, or write it anew: sasl-oauth2 "
	 "authorize --force FILE"},
	{"url", AZ,
	 "give the provider's documented https:// URL in " AZ_URL},
	{"too_large", AZ,
	 "check " AZ_URL ": it points to a web page, not an OAuth endpoint"},
	{"bad_response", AZ,
	 "check " AZ_URL ", and https_proxy if one is set"},
	{"user", AZ,
	 "give the mail address with --user"},
	{"AADSTS700016", AZ,
	 "check --client-id and --tenant against " MS_APP " > Overview "
	 "(Application (client) ID, Directory (tenant) ID)"},
	{"AADSTS700025", AZ,
	 "leave --client-secret-file out: the client is public"},
	{"AADSTS90009", AZ,
	 "leave --scope out: the default scope holds the IMAP/SMTP scopes"},
};

#undef C

const char *
oa2_explain_fix(const struct oa2_explain *e, enum oa2_explain_ctx ctx)
{
	if (e == NULL)
		return NULL;
	if (ctx > OA2_CTX_PLUGIN && ctx < OA2_CTX_COUNT)
		for (size_t i = 0; i < sizeof(by_ctx) / sizeof(by_ctx[0]); i++)
			if ((by_ctx[i].ctx & (1u << ctx)) &&
			    strcmp(by_ctx[i].code, e->code) == 0)
				return by_ctx[i].fix;
	return e->fix;
}

const char *
oa2_explain_ctx_name(enum oa2_explain_ctx ctx)
{
	static const char *const names[OA2_CTX_COUNT] = {
		"plugin", "authorize", "refresh", "test", "token", "status",
	};

	return ctx < OA2_CTX_COUNT ? names[ctx] : "plugin";
}

size_t
oa2_explain_count(void)
{
	return NTABLE;
}

const struct oa2_explain *
oa2_explain_at(size_t i)
{
	return i < NTABLE ? &table[i] : NULL;
}

/* lookup - exact, case-insensitive match on the canonical code */
static const struct oa2_explain *
lookup(const char *code)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (strcasecmp(table[i].code, code) == 0)
			return &table[i];
	return NULL;
}

/* all_digits - s[0..n) are decimal digits, n > 0 */
static int
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* enhanced_status - find "D.D.D" (RFC 3463) in s; copy it into buf */
static int
enhanced_status(const char *s, char *buf, size_t size)
{
	for (const char *p = s; *p; p++) {
		size_t a, b, c;

		if ((p != s && isalnum((unsigned char)p[-1])) || !isdigit((unsigned char)*p))
			continue;
		a = strspn(p, "0123456789");
		if (a != 1 || p[a] != '.')
			continue;
		b = strspn(p + a + 1, "0123456789");
		if (b < 1 || b > 3 || p[a + 1 + b] != '.')
			continue;
		c = strspn(p + a + 1 + b + 1, "0123456789");
		if (c < 1 || c > 3)
			continue;
		if (a + b + c + 2 >= size)
			return 0;
		memcpy(buf, p, a + b + c + 2);
		buf[a + b + c + 2] = 0;
		return 1;
	}
	return 0;
}

const struct oa2_explain *
oa2_explain_find(const char *code)
{
	const struct oa2_explain *e;
	char buf[128], tmp[32];
	const char *p;
	size_t n;

	if (code == NULL)
		return NULL;
	while (isspace((unsigned char)*code))
		code++;
	n = strlen(code);
	while (n > 0 && (isspace((unsigned char)code[n - 1]) || code[n - 1] == ':'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return NULL;
	memcpy(buf, code, n);
	buf[n] = 0;
	if ((e = lookup(buf)) != NULL)
		return e;

	/* "AADSTS700082: ..." or bare "700082" */
	if (strncasecmp(buf, "aadsts", 6) == 0 || all_digits(buf, strlen(buf))) {
		p = strncasecmp(buf, "aadsts", 6) == 0 ? buf + 6 : buf;
		n = strspn(p, "0123456789");
		if (n > 0 && n < 12) {
			snprintf(tmp, sizeof(tmp), "AADSTS%.*s", (int)n, p);
			if ((e = lookup(tmp)) != NULL)
				return e;
		}
	}
	/* "http_503" */
	if (strncasecmp(buf, "http_", 5) == 0 && all_digits(buf + 5, strlen(buf + 5)) &&
	    strlen(buf + 5) == 3)
		return lookup(buf[5] == '5' ? "http_5xx" : "http_4xx");
	/* "535 5.7.139 Authentication unsuccessful" */
	if (enhanced_status(buf, tmp, sizeof(tmp)) && (e = lookup(tmp)) != NULL)
		return e;
	/* "Error 400: redirect_uri_mismatch", "error=access_denied" */
	if ((p = strrchr(buf, ':')) != NULL || (p = strrchr(buf, '=')) != NULL) {
		p++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p && (e = oa2_explain_find(p)) != NULL)
			return e;
	}
	/* "invalid_grant (Token has been expired or revoked.)" */
	n = strcspn(buf, " \t(");
	if (n > 0 && n < strlen(buf)) {
		buf[n] = 0;
		return lookup(buf);
	}
	return NULL;
}
