/* SPDX-License-Identifier: MIT */
/* test-grant - PKCE and the authorization URL, the forms, client
 * authentication on the wire, every reply parser (good, bad, duplicate,
 * out of memory), the redirect, and the device polling decisions */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "oa2_grant.h"
#include "oa2_mem.h"
#include "oa2_provider.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ PKCE, URL */

static void
test_pkce(void)
{
	/* RFC 7636 Appendix B. */
	static const unsigned char octets[32] = {
		116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216,
		173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5,
		88, 83, 132, 141, 121,
	};
	struct oa2_pkce a, b;
	char buf[64];

	ok(oa2_b64url(octets, sizeof(octets), buf, sizeof(buf)) == 43,
	    "RFC 7636 B: 32 octets give 43 characters");
	is_str(buf, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
	    "RFC 7636 B: the code_verifier");
	ok(oa2_pkce_challenge(buf, buf, sizeof(buf)) == 43, "challenge length");
	is_str(buf, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
	    "RFC 7636 B: the S256 code_challenge");
	ok(oa2_b64url(octets, sizeof(octets), buf, 44) < 0,
	    "base64url refuses a buffer too small");
	ok(oa2_b64url((const unsigned char *)"\xfb\xff", 2, buf, sizeof(buf)) == 3,
	    "no padding");
	is_str(buf, "-_8", "the URL-safe alphabet");

	ok(oa2_pkce_new(&a) == 0 && oa2_pkce_new(&b) == 0, "two fresh PKCE sets");
	is_int((long long)strlen(a.verifier), 43, "verifier: 43 characters");
	is_int((long long)strlen(a.state), 22, "state: 22 characters");
	ok(strspn(a.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == 43, "verifier: unreserved characters only");
	ok(strcmp(a.verifier, b.verifier) != 0 && strcmp(a.state, b.state) != 0,
	    "each run draws new ones");
	oa2_pkce_challenge(a.verifier, buf, sizeof(buf));
	is_str(a.challenge, buf, "the challenge is the verifier's");
}

static void
test_authz_url(void)
{
	static const char *const params[] = {"domain_hint=example.org",
	    "x y=a&b", NULL};
	static const char *const bad[] = {"=v", NULL};
	struct oa2_pkce p = {.verifier = "v", .challenge = "CH", .state = "ST"};
	struct oa2_authz_req r = {
		.authorization_endpoint = "https://idp.example/authorize",
		.client_id = "client 1", .redirect_uri = "http://127.0.0.1:4242/",
		.scope = "openid email offline_access",
	};
	struct oa2_buf url;

	ok(oa2_authz_url(&r, &p, &url) == 0, "plain authorization URL");
	is_str(url.data, "https://idp.example/authorize?response_type=code"
	    "&client_id=client%201&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2F"
	    "&scope=openid%20email%20offline_access&state=ST&code_challenge=CH"
	    "&code_challenge_method=S256", "each parameter, encoded");
	oa2_buf_free(&url);

	r.authorization_endpoint = "https://login.microsoftonline.com/contoso.com/"
	    "oauth2/v2.0/authorize?p=1";
	r.login_hint = "u+1@example.org";
	r.extra = "access_type=offline&prompt=consent";
	r.params = params;
	ok(oa2_authz_url(&r, &p, &url) == 0, "URL with extras");
	is_str(url.data, "https://login.microsoftonline.com/contoso.com/oauth2/"
	    "v2.0/authorize?p=1&response_type=code&client_id=client%201"
	    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2F"
	    "&scope=openid%20email%20offline_access&state=ST&code_challenge=CH"
	    "&code_challenge_method=S256&login_hint=u%2B1%40example.org"
	    "&access_type=offline&prompt=consent&domain_hint=example.org"
	    "&x%20y=a%26b", "an endpoint with a query, login_hint, the preset's "
	    "extras as they are, the caller's parameters encoded");
	oa2_buf_free(&url);
	r.params = bad;
	ok(oa2_authz_url(&r, &p, &url) < 0, "a parameter without a name refused");
	oa2_buf_free(&url);
	r.params = NULL;
	r.scope = NULL;
	ok(oa2_authz_url(&r, &p, &url) < 0, "no scope: refused");
	oa2_buf_free(&url);
}

/* test_presets - the URL authorize builds for Google and a Microsoft tenant */
static void
test_presets(void)
{
	const struct oa2_provider *g = oa2_provider_find("google");
	const struct oa2_provider *m = oa2_provider_find("microsoft");
	struct oa2_pkce p = {.verifier = "v", .challenge = "CH", .state = "ST"};
	struct oa2_authz_req r = {.client_id = "c",
	    .redirect_uri = "http://127.0.0.1:1/"};
	struct oa2_buf url;
	char ep[512];

	r.authorization_endpoint = g->auth_url;
	r.scope = g->scope;
	r.extra = g->extra_auth_params;
	ok(oa2_authz_url(&r, &p, &url) == 0, "Google authorization URL");
	is_str(url.data, "https://accounts.google.com/o/oauth2/v2/auth?"
	    "response_type=code&client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1"
	    "%3A1%2F&scope=https%3A%2F%2Fmail.google.com%2F&state=ST"
	    "&code_challenge=CH&code_challenge_method=S256"
	    "&access_type=offline&prompt=consent",
	    "Google: offline access and consent, for a refresh token");
	oa2_buf_free(&url);
	ok(oa2_provider_url(m->auth_url, "contoso.onmicrosoft.com", ep,
	    sizeof(ep)) == 0, "Microsoft tenant expanded");
	r.authorization_endpoint = ep;
	r.scope = "offline_access";
	r.extra = m->extra_auth_params;
	ok(oa2_authz_url(&r, &p, &url) == 0, "Microsoft authorization URL");
	is_str(url.data, "https://login.microsoftonline.com/contoso.onmicrosoft."
	    "com/oauth2/v2.0/authorize?response_type=code&client_id=c"
	    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2F&scope=offline_access"
	    "&state=ST&code_challenge=CH&code_challenge_method=S256"
	    "&prompt=select_account", "Microsoft: the tenant's endpoint, "
	    "select_account");
	oa2_buf_free(&url);
}

static void
test_redirect(void)
{
	struct oa2_error err;
	char *code, *v;

	v = oa2_query_param("http://127.0.0.1:1/?a=1&code=4%2F0Ab+c&state=S#frag",
	    "code");
	is_str(v, "4/0Ab c", "query value decoded");
	oa2_free(v);
	ok(oa2_query_param("?codex=1&xcode=2", "code") == NULL,
	    "names match whole");
	v = oa2_query_param("a=1&b=%zz", "b");
	is_str(v, "%zz", "a bad escape is kept");
	oa2_free(v);

	code = oa2_authz_reply("/?code=C0DE-123&state=S1", "S1", 1, &err);
	is_str(code, "C0DE-123", "code with the right state");
	oa2_free_secret(&code);
	ok(oa2_authz_reply("/?code=C&state=S2", "S1", 1, &err) == NULL,
	    "wrong state refused");
	is_str(err.code, "state_mismatch", "code state_mismatch");
	ok(oa2_authz_reply("/?code=C", "S1", 1, &err) == NULL,
	    "no state refused when required");
	code = oa2_authz_reply("code=C", "S1", 0, &err);
	is_str(code, "C", "no state accepted for a pasted query");
	oa2_free_secret(&code);
	ok(oa2_authz_reply("/?state=S1&error=access_denied&error_description="
	    "AADSTS65004%3A+User+declined%0D%0A%1B%5B31m", "S1", 1, &err) == NULL,
	    "an error in the redirect");
	ok(err.status == OA2_ERR_PERM, "the refusal is permanent");
	is_str(err.code, "access_denied", "code is the error word");
	has_str(err.msg, "(\"AADSTS65004: User declined  [31m\")",
	    "description quoted, control bytes removed");
	oa2_authz_reply("/?state=S1&error=x%C2%C2%87%87y", "S1", 1, &err);
	ok(strstr(err.msg, "\xc2\x87") == NULL && strstr(err.msg, "xy") != NULL,
	    "dropping a C1 control joins no other (not UTF-8)");
	ok(oa2_authz_reply("/?state=S1", "S1", 1, &err) == NULL,
	    "neither code nor error");
	is_str(err.code, "bad_response", "code bad_response");
	ok(oa2_authz_reply("/?state=S1&code=", "S1", 1, &err) == NULL,
	    "an empty code refused");
}

/* ------------------------------------------------------------ forms, client */

static void
test_forms(void)
{
	struct oa2_buf f;

	oa2_buf_init(&f, 0);
	ok(oa2_grant_code_form(&f, "4/0A&b", "http://127.0.0.1:5/", "ver") == 0,
	    "code form");
	is_str(f.data, "grant_type=authorization_code&code=4%2F0A%26b"
	    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2F&code_verifier=ver",
	    "code form, exactly");
	oa2_buf_reset(&f);
	ok(oa2_grant_refresh_form(&f, "1//RT", NULL) == 0, "refresh form");
	is_str(f.data, "grant_type=refresh_token&refresh_token=1%2F%2FRT",
	    "refresh form without scope");
	oa2_buf_reset(&f);
	oa2_grant_refresh_form(&f, "RT", "https://outlook.office.com/SMTP.Send "
	    "offline_access");
	is_str(f.data, "grant_type=refresh_token&refresh_token=RT&scope=https%3A"
	    "%2F%2Foutlook.office.com%2FSMTP.Send%20offline_access",
	    "refresh form with scope");
	oa2_buf_reset(&f);
	oa2_grant_device_form(&f, "openid email");
	is_str(f.data, "scope=openid%20email", "device authorization form");
	oa2_buf_reset(&f);
	oa2_grant_device_poll_form(&f, "DC-1");
	is_str(f.data, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
	    "device_code&device_code=DC-1", "device poll form");
	oa2_buf_reset(&f);
	oa2_grant_revoke_form(&f, "RT", "refresh_token");
	is_str(f.data, "token=RT&token_type_hint=refresh_token", "revoke form");
	oa2_buf_free(&f);
	oa2_buf_init(&f, 16);
	ok(oa2_grant_refresh_form(&f, "0123456789abcdef", NULL) < 0,
	    "a form over its cap refused");
	oa2_buf_free(&f);
}

static void
test_client_auth(void)
{
	struct oa2_client c = {.client_id = "cid", .client_secret = "cs&1"};
	enum oa2_client_auth a;
	const char *u, *p;
	struct oa2_buf f;

	ok(oa2_client_auth_parse(NULL, &a) == 0 && a == OA2_AUTH_POST,
	    "no client_auth: post");
	ok(oa2_client_auth_parse("basic", &a) == 0 && a == OA2_AUTH_BASIC,
	    "basic");
	ok(oa2_client_auth_parse("Basic", &a) < 0, "anything else refused");
	is_str(oa2_client_auth_name(OA2_AUTH_BASIC), "basic", "its name");

	oa2_buf_init(&f, 0);
	oa2_grant_client_auth(&c, &f, &u, &p);
	is_str(f.data, "client_id=cid&client_secret=cs%261",
	    "post: id and secret in the form");
	ok(u == NULL && p == NULL, "post: no Basic header");
	oa2_buf_reset(&f);
	c.client_auth = OA2_AUTH_BASIC;
	oa2_grant_client_auth(&c, &f, &u, &p);
	ok(f.len == 0, "basic: nothing in the form");
	ok(u != NULL && p != NULL && strcmp(u, "cid") == 0 &&
	    strcmp(p, "cs&1") == 0, "basic: id and secret for the header");
	c.client_secret = "";
	oa2_grant_client_auth(&c, &f, &u, &p);
	is_str(f.data, "client_id=cid", "basic without a secret: a public "
	    "client sends its id in the form");
	ok(u == NULL, "public client: no Basic header");
	oa2_buf_reset(&f);
	/* A client assertion (RFC 7523 2.2) replaces any secret. */
	c.client_secret = "cs&1";
	c.client_assertion = "h.c.s";
	oa2_grant_client_auth(&c, &f, &u, &p);
	is_str(f.data, "client_id=cid&client_assertion_type=urn%3Aietf%3Aparams"
	    "%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=h.c.s",
	    "private_key_jwt: id, assertion type and assertion, no secret");
	ok(u == NULL && p == NULL, "private_key_jwt: no Basic header even with "
	    "client_auth basic");
	oa2_buf_free(&f);
}

static void
test_app_forms(void)
{
	struct oa2_buf f;

	oa2_buf_init(&f, 0);
	ok(oa2_grant_client_credentials_form(&f,
	    "https://outlook.office365.com/.default") == 0,
	    "client_credentials form");
	is_str(f.data, "grant_type=client_credentials&scope=https%3A%2F%2F"
	    "outlook.office365.com%2F.default", "client_credentials with scope");
	oa2_buf_reset(&f);
	oa2_grant_client_credentials_form(&f, NULL);
	is_str(f.data, "grant_type=client_credentials",
	    "client_credentials without scope");
	oa2_buf_reset(&f);
	ok(oa2_grant_jwt_bearer_form(&f, "h.c.s") == 0, "jwt-bearer form");
	is_str(f.data, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
	    "jwt-bearer&assertion=h.c.s", "jwt-bearer form, exactly (RFC 7523 2.1)");
	oa2_buf_free(&f);
}

/* ------------------------------------------------------------ on the wire */

struct server {
	int fd;
	pid_t pid;
	char url[64];
	char log[64];
};

/* serve_once - a loopback HTTP server that answers one request with reply */
static int
serve_once(struct server *s, int status, const char *reply)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char req[16384], out[8192];
	size_t n = 0;
	ssize_t r;
	long clen = -1;
	char *hdr, *cl;
	FILE *f;
	int c;

	snprintf(s->log, sizeof(s->log), "/tmp/test-grant.%d.req", (int)getpid());
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->fd, 1) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/ep",
	    ntohs(sa.sin_port));
	fflush(stdout);
	if ((s->pid = fork()) != 0) {
		close(s->fd);
		return s->pid < 0 ? -1 : 0;
	}
	if ((c = accept(s->fd, NULL, NULL)) < 0)
		_exit(1);
	while (n < sizeof(req) - 1 && (r = read(c, req + n,
	    sizeof(req) - 1 - n)) > 0) {
		n += (size_t)r;
		req[n] = 0;
		if ((hdr = strstr(req, "\r\n\r\n")) == NULL)
			continue;
		if (clen < 0 && ((cl = strstr(req, "Content-Length: ")) ||
		    (cl = strstr(req, "content-length: "))))
			clen = atol(cl + 16);
		if (n >= (size_t)(hdr + 4 - req) + (size_t)(clen < 0 ? 0 : clen))
			break;
	}
	if ((f = fopen(s->log, "w")) != NULL) {
		fwrite(req, 1, n, f);
		fclose(f);
	}
	snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n%s", status, strlen(reply), reply);
	if (write(c, out, strlen(out)) < 0)
		_exit(1);
	close(c);
	_exit(0);
}

/* request_of - wait for the server; the request it read */
static const char *
request_of(struct server *s)
{
	static char buf[16384];
	size_t n = 0;
	FILE *f;

	waitpid(s->pid, NULL, 0);
	buf[0] = 0;
	if ((f = fopen(s->log, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	unlink(s->log);
	return buf;
}

/* body_of - the form after the headers */
static const char *
body_of(const char *req)
{
	const char *b = strstr(req, "\r\n\r\n");

	return b ? b + 4 : "";
}

static void
test_wire(void)
{
	struct oa2_client c = {.client_id = "my client",
	    .client_secret = "s3cr:et/+", .scope = "mail"};
	struct oa2_tokresp tr;
	struct oa2_device d;
	struct oa2_error err;
	struct server s;
	const char *req;
	char *user = NULL;
	enum oa2_status st;

	c.http.allow_http = 1;

	/* Refresh, client_secret_post. */
	if (serve_once(&s, 200, "{\"access_token\":\"AT-1234567890\","
	    "\"expires_in\":3600,\"token_type\":\"Bearer\"}") < 0) {
		ok(0, "cannot start a loopback server");
		return;
	}
	c.token_endpoint = s.url;
	st = oa2_grant_refresh(&c, "RT-SECRET-9", &tr, &err);
	req = request_of(&s);
	ok(st == OA2_OK, "refresh over the wire");
	is_str(tr.access_token, "AT-1234567890", "the access token");
	is_str(body_of(req), "grant_type=refresh_token&refresh_token=RT-SECRET-9"
	    "&scope=mail&client_id=my%20client&client_secret=s3cr%3Aet%2F%2B",
	    "post: the whole form as sent");
	ok(strstr(req, "Authorization:") == NULL, "post: no Authorization header");
	oa2_tokresp_free(&tr);

	/* Refresh refused, client_secret_basic; the description quotes the token. */
	c.client_auth = OA2_AUTH_BASIC;
	serve_once(&s, 400, "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"refresh token RT-SECRET-9 was revoked\"}");
	c.token_endpoint = s.url;
	st = oa2_grant_refresh(&c, "RT-SECRET-9", &tr, &err);
	req = request_of(&s);
	ok(st == OA2_ERR_PERM, "invalid_grant is permanent");
	is_str(err.code, "invalid_grant", "its code");
	ok(strstr(err.msg, "RT-SECRET") == NULL, "the echoed refresh token is "
	    "withheld: %s", err.msg);
	has_str(req, "Authorization: Basic bXklMjBjbGllbnQ6czNjciUzQWV0JTJGJTJC",
	    "basic: both parts form-encoded, then base64");
	is_str(body_of(req), "grant_type=refresh_token&refresh_token=RT-SECRET-9"
	    "&scope=mail", "basic: no client credentials in the form");
	oa2_tokresp_free(&tr);

	/* Code exchange: the user from the id_token. */
	c.client_auth = OA2_AUTH_POST;
	serve_once(&s, 200, "{\"access_token\":\"AT-1234567890\",\"refresh_token\":"
	    "\"RT-NEW-12345\",\"id_token\":\"eyJhbGciOiJub25lIn0."
	    "eyJlbWFpbCI6InVAZXhhbXBsZS5vcmcifQ.\"}");
	c.token_endpoint = s.url;
	st = oa2_grant_code(&c, "CODE-77777", "http://127.0.0.1:9/", "VERIFIER-8",
	    &tr, &user, &err);
	req = request_of(&s);
	ok(st == OA2_OK, "code exchange");
	is_str(user, "u@example.org", "the account from the id_token");
	has_str(body_of(req), "grant_type=authorization_code&code=CODE-77777&"
	    "redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&code_verifier=VERIFIER-8"
	    "&client_id=", "code form then client authentication");
	oa2_free(user);
	oa2_tokresp_free(&tr);

	/* Device authorization, then a pending poll. */
	serve_once(&s, 200, "{\"device_code\":\"DC-SECRET-1\",\"user_code\":"
	    "\"WDJB-MJHT\",\"verification_uri\":\"https://idp.example/device\","
	    "\"expires_in\":1800,\"interval\":5}");
	st = oa2_grant_device_start(&c, s.url, &d, &err);
	req = request_of(&s);
	ok(st == OA2_OK, "device authorization");
	is_str(body_of(req), "scope=mail&client_id=my%20client&client_secret="
	    "s3cr%3Aet%2F%2B", "device form with client authentication");
	serve_once(&s, 400, "{\"error\":\"authorization_pending\"}");
	c.token_endpoint = s.url;
	st = oa2_grant_device_poll(&c, &d, &tr, &user, &err);
	req = request_of(&s);
	ok(st == OA2_ERR_TEMP && strcmp(err.code, "authorization_pending") == 0,
	    "pending poll");
	has_str(body_of(req), "device_code=DC-SECRET-1&client_id=",
	    "poll form with the device code");
	ok(oa2_device_decide(&d, st, &err) == OA2_POLL_WAIT, "pending: wait");
	oa2_tokresp_free(&tr);
	oa2_device_free(&d);

	/* Revocation: 200 is success; an error reply is reported. */
	serve_once(&s, 200, "");
	st = oa2_grant_revoke(&c, s.url, "RT-SECRET-9", "refresh_token", &err);
	req = request_of(&s);
	ok(st == OA2_OK, "revocation");
	is_str(body_of(req), "token=RT-SECRET-9&token_type_hint=refresh_token"
	    "&client_id=my%20client&client_secret=s3cr%3Aet%2F%2B",
	    "revoke form with client authentication");
	serve_once(&s, 503, "{\"error\":\"temporarily_unavailable\"}");
	st = oa2_grant_revoke(&c, s.url, "RT-SECRET-9", "refresh_token", &err);
	request_of(&s);
	ok(st == OA2_ERR_TEMP, "revocation: temporarily_unavailable is temporary");
	has_str(err.msg, "revocation endpoint at 127.0.0.1:", "names the endpoint");
	serve_once(&s, 400, "{\"error\":\"unsupported_token_type\","
	    "\"error_description\":\"cannot revoke RT-SECRET-9 here\"}");
	st = oa2_grant_revoke(&c, s.url, "RT-SECRET-9", "refresh_token", &err);
	request_of(&s);
	ok(st == OA2_ERR_PERM && strstr(err.msg, "RT-SECRET") == NULL,
	    "revocation refused, the echoed token withheld: %s", err.msg);
	ok(oa2_grant_revoke(&c, "", "RT", NULL, &err) == OA2_ERR_INPUT,
	    "no endpoint: input error");
}

/* ------------------------------------------------------------ replies */

static void
test_error_parse(void)
{
	static const char *const secrets[] = {"CLIENT-SECRET", NULL};
	struct oa2_oauth_error e;
	struct oa2_error err;
	const char *b;

	b = "{\"error\":\"invalid_client\",\"error_description\":\"bad\\nclient\","
	    "\"error_uri\":\"https://idp.example/e\"}";
	ok(oa2_oauth_error_parse(b, strlen(b), 401, "token endpoint", secrets, &e,
	    &err) == OA2_ERR_PERM, "invalid_client: permanent");
	is_str(err.code, "invalid_client", "code");
	is_str(e.error_description, "bad client", "description cleaned");
	is_str(e.error_uri, "https://idp.example/e", "error_uri kept");
	has_str(err.msg, "the token endpoint refused the request (HTTP 401): "
	    "invalid_client (\"bad client\") (see https://idp.example/e)",
	    "one line with the description and the URI");
	oa2_oauth_error_free(&e);

	b = "{\"error\":\"invalid_request\",\"error_description\":\"secret "
	    "CLIENT-SECRET is wrong\"}";
	ok(oa2_oauth_error_parse(b, strlen(b), 400, "x", secrets, &e, &err) ==
	    OA2_ERR_PERM, "a description quoting a secret");
	ok(e.error_description == NULL && strstr(err.msg, "CLIENT-SECRET") == NULL,
	    "is withheld");
	has_str(err.msg, "withheld", "and the message says so");
	oa2_oauth_error_free(&e);
	b = "{\"error\":\"CLIENT-SECRET\"}";
	ok(oa2_oauth_error_parse(b, strlen(b), 400, "x", secrets, &e, &err) ==
	    OA2_ERR_PROTO && strstr(err.msg, "CLIENT-SECRET") == NULL &&
	    strstr(err.code, "CLIENT") == NULL, "an error word that is a secret");
	b = "{\"error\":\"invalid_grant\",\"error_description\":\"have "
	    "AT-OWN-TOKEN-1\",\"access_token\":\"AT-OWN-TOKEN-1\"}";
	oa2_oauth_error_parse(b, strlen(b), 400, "x", NULL, &e, &err);
	ok(strstr(err.msg, "AT-OWN") == NULL, "the reply's own token withheld");
	oa2_oauth_error_free(&e);

	b = "<html>busy</html>";
	ok(oa2_oauth_error_parse(b, strlen(b), 503, "x", NULL, &e, &err) ==
	    OA2_ERR_TEMP, "HTML under 503: temporary");
	is_str(err.code, "http_503", "code http_503");
	ok(oa2_oauth_error_parse(b, strlen(b), 404, "x", NULL, &e, &err) ==
	    OA2_ERR_PROTO, "HTML under 404: protocol error");
	b = "{\"error\":\"slow_down\",\"error\":\"access_denied\"}";
	ok(oa2_oauth_error_parse(b, strlen(b), 400, "x", NULL, &e, &err) ==
	    OA2_ERR_PROTO, "duplicate error member refused");
	has_str(err.msg, "duplicate", "message says duplicate");
	ok(e.error == NULL, "nothing kept");
	b = "{\"error\":42}";
	ok(oa2_oauth_error_parse(b, strlen(b), 400, "x", NULL, &e, &err) ==
	    OA2_ERR_PROTO, "a number for error");
	b = "{\"error\":\"weird word!\"}";
	ok(oa2_oauth_error_parse(b, strlen(b), 400, "x", NULL, &e, &err) ==
	    OA2_ERR_PERM, "an odd word under 400: permanent");
	is_str(err.code, "http_400", "code from the status");
	oa2_oauth_error_free(&e);
	ok(oa2_oauth_error_parse("{}", 2, 99, "x", NULL, &e, &err) ==
	    OA2_ERR_PROTO, "impossible HTTP status");
}

static void
test_device_parse(void)
{
	struct oa2_device d;
	struct oa2_error err;
	const char *b;

	/* Microsoft's shape. */
	b = "{\"user_code\":\"GQVQ5V4PM\",\"device_code\":\"GAQABAAEAAAB\","
	    "\"verification_uri\":\"https://microsoft.com/devicelogin\","
	    "\"expires_in\":900,\"interval\":5,\"message\":\"To sign in, use a "
	    "web browser\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_OK,
	    "Microsoft device authorization");
	is_str(d.user_code, "GQVQ5V4PM", "user_code");
	is_str(d.verification_uri, "https://microsoft.com/devicelogin", "uri");
	ok(d.expires_in == 900 && d.interval == 5, "expires_in, interval");
	oa2_device_free(&d);
	/* Google's older shape, numbers as strings. */
	b = "{\"device_code\":\"AH-1Ng\",\"user_code\":\"GQVQ-JKEC\","
	    "\"verification_url\":\"https://www.google.com/device\","
	    "\"expires_in\":\"1800\",\"interval\":0}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_OK,
	    "Google's verification_url");
	is_str(d.verification_uri, "https://www.google.com/device", "taken");
	ok(d.expires_in == 1800 && d.interval == 5,
	    "digit string expires_in; interval 0 becomes 5");
	oa2_device_free(&d);
	b = "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"V\","
	    "\"verification_uri_complete\":\"V?c=U\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_OK &&
	    d.expires_in == 600 && d.interval == 5 &&
	    strcmp(d.verification_uri_complete, "V?c=U") == 0,
	    "defaults, and verification_uri_complete");
	oa2_device_free(&d);

	b = "{\"device_code\":\"D\",\"verification_uri\":\"V\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO &&
	    d.device_code == NULL, "no user_code: refused, nothing kept");
	has_str(err.msg, "lacks device_code, user_code or verification_uri",
	    "message names the members");
	b = "{\"device_code\":\"D\",\"user_code\":\"U\x1b[2J\",\"verification_uri\":"
	    "\"V\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "raw control byte in JSON refused");
	b = "{\"device_code\":\"D\",\"user_code\":\"U\\u001b[2J\","
	    "\"verification_uri\":\"V\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "escaped terminal sequence in user_code refused");
	has_str(err.msg, "\"user_code\" with control characters", "named");
	b = "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":"
	    "\"V\\u009b2J\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "C1 control (CSI) in the URI refused");
	b = "{\"device_code\":\"D\",\"user_code\":\"U\",\"user_code\":\"W\","
	    "\"verification_uri\":\"V\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "duplicate user_code refused");
	has_str(err.msg, "duplicate", "message says duplicate");
	b = "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"V\","
	    "\"interval\":\"soon\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "interval not a number refused");
	b = "{\"device_code\":7,\"user_code\":\"U\",\"verification_uri\":\"V\"}";
	ok(oa2_device_parse(b, strlen(b), 200, &d, &err) == OA2_ERR_PROTO,
	    "device_code not a string refused");
	b = "{\"error\":\"invalid_scope\",\"error_description\":\"Invalid device "
	    "flow scope\"}";
	ok(oa2_device_parse(b, strlen(b), 400, &d, &err) == OA2_ERR_PERM,
	    "Google's invalid_scope: permanent");
	is_str(err.code, "invalid_scope", "its code");
	has_str(err.msg, "device authorization endpoint refused the request",
	    "names the endpoint");
	ok(oa2_device_parse("[1]", 3, 200, &d, &err) == OA2_ERR_PROTO,
	    "an array refused");
	ok(oa2_device_parse("", 0, 200, &d, &err) == OA2_ERR_PROTO,
	    "an empty body refused");
}

static void
test_discovery_parse(void)
{
	struct oa2_discovery m;
	struct oa2_error err;
	const char *b;

	b = "{\"issuer\":\"https://127.0.0.1:4443\",\"authorization_endpoint\":"
	    "\"https://127.0.0.1:4443/auth\",\"token_endpoint\":"
	    "\"https://127.0.0.1:4443/token\",\"device_authorization_endpoint\":"
	    "\"https://127.0.0.1:4443/device/auth\",\"revocation_endpoint\":"
	    "\"https://127.0.0.1:4443/token/revocation\",\"scopes_supported\":"
	    "[\"openid\"],\"code_challenge_methods_supported\":[\"S256\"]}";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_OK,
	    "oidc-provider metadata");
	is_str(m.token_endpoint, "https://127.0.0.1:4443/token", "token_endpoint");
	is_str(m.device_authorization_endpoint,
	    "https://127.0.0.1:4443/device/auth", "device endpoint");
	is_str(m.revocation_endpoint, "https://127.0.0.1:4443/token/revocation",
	    "revocation endpoint");
	oa2_discovery_free(&m);
	b = "{\"issuer\":\"https://accounts.google.com\",\"token_endpoint\":"
	    "\"https://oauth2.googleapis.com/token\"}";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_OK &&
	    m.device_authorization_endpoint == NULL,
	    "an absent endpoint is NULL");
	oa2_discovery_free(&m);
	ok(oa2_discovery_parse(b, strlen(b), 404, "https://x/.well-known/o", &m,
	    &err) == OA2_ERR_INPUT, "HTTP 404: the issuer URL is wrong");
	has_str(err.msg, "https://x/.well-known/o answered HTTP 404", "named");
	b = "{\"token_endpoint\":\"a\",\"token_endpoint\":\"b\"}";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_ERR_PROTO,
	    "duplicate token_endpoint refused");
	is_str(err.code, "discovery", "code discovery");
	b = "{\"token_endpoint\":[\"a\"]}";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_ERR_PROTO &&
	    m.token_endpoint == NULL, "an endpoint that is not a string");
	b = "{\"token_endpoint\":\"https://a\\r\\nX: y\"}";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_ERR_PROTO,
	    "CR LF in an endpoint refused");
	b = "{\"token_endpoint\":\"https://a\"";
	ok(oa2_discovery_parse(b, strlen(b), 200, "u", &m, &err) == OA2_ERR_PROTO,
	    "truncated");
	has_str(err.msg, "truncated", "message says truncated");
}

static void
test_id_token(void)
{
	char *u;

	/* {"email":"u@example.org"} and {"preferred_username":"p@x.org"} */
	u = oa2_id_token_user("h.eyJlbWFpbCI6InVAZXhhbXBsZS5vcmcifQ.s");
	is_str(u, "u@example.org", "email claim");
	oa2_free(u);
	u = oa2_id_token_user("h.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJwQHgub3JnIn0.s");
	is_str(u, "p@x.org", "preferred_username claim");
	oa2_free(u);
	/* {"email":"a@b","email":"c@d"} */
	ok(oa2_id_token_user("h.eyJlbWFpbCI6ImFAYiIsImVtYWlsIjoiY0BkIn0.s") ==
	    NULL, "duplicate claims refused");
	/* {"email":"nobody"} */
	ok(oa2_id_token_user("h.eyJlbWFpbCI6Im5vYm9keSJ9.s") == NULL,
	    "a name without @ is no mail account");
	ok(oa2_id_token_user("not-a-jwt") == NULL, "not a JWT");
	ok(oa2_id_token_user(NULL) == NULL, "NULL");
}

/* ------------------------------------------------------------ out of memory */

enum which { P_ERROR, P_DEVICE, P_DISCOVERY };

/* parse_one - run parser w on body; 1 when its result holds nothing */
static enum oa2_status
parse_one(enum which w, const char *body, long http, int *empty,
    struct oa2_error *err)
{
	struct oa2_oauth_error e;
	struct oa2_discovery m;
	struct oa2_device d;
	enum oa2_status st;

	switch (w) {
	case P_ERROR:
		st = oa2_oauth_error_parse(body, strlen(body), http, "x", NULL, &e,
		    err);
		*empty = e.error == NULL && e.error_description == NULL &&
		    e.error_uri == NULL;
		oa2_oauth_error_free(&e);
		return st;
	case P_DEVICE:
		st = oa2_device_parse(body, strlen(body), http, &d, err);
		*empty = d.device_code == NULL && d.user_code == NULL &&
		    d.verification_uri == NULL;
		oa2_device_free(&d);
		return st;
	default:
		st = oa2_discovery_parse(body, strlen(body), http, "u", &m, err);
		*empty = m.token_endpoint == NULL && m.issuer == NULL;
		oa2_discovery_free(&m);
		return st;
	}
}

/* jansson_allocs - allocations jansson itself makes to decode body */
static unsigned long
jansson_allocs(const char *body)
{
	unsigned long n;
	json_t *doc;

	oa2_mem_fail_at(0);
	doc = json_loads(body, 0, NULL);
	n = oa2_mem_count();
	json_decref(doc);
	return n;
}

/*
 * jansson 2.14 writes past its lexer's buffer when growing it fails (a
 * string or key of 14 bytes or more), so only bodies without such strings
 * have jansson's own allocations fail; the others start after them.
 */
static void
test_nomem(void)
{
	static const struct {
		const char *name;
		enum which w;
		long http;
		const char *body;
		enum oa2_status want;
		int short_strings;
	} cases[] = {
		{"short error reply", P_ERROR, 400, "{\"error\":\"slow_down\"}",
		    OA2_ERR_TEMP, 1},
		{"short discovery", P_DISCOVERY, 200, "{\"issuer\":\"https://i\","
		    "\"x\":\"https://i/t\"}", OA2_OK, 1},
		{"error reply", P_ERROR, 400, "{\"error\":\"invalid_grant\","
		    "\"error_description\":\"Token has been expired or revoked.\","
		    "\"error_uri\":\"https://idp.example/help\"}", OA2_ERR_PERM, 0},
		{"device reply", P_DEVICE, 200, "{\"device_code\":\"GmRhmhcxhwAzk"
		    "oEqiMEg_DnyEysNkuNhszIySk9eS\",\"user_code\":\"WDJB-MJHT\","
		    "\"verification_uri\":\"https://example.com/device\","
		    "\"verification_uri_complete\":\"https://example.com/device?"
		    "user_code=WDJB-MJHT\",\"expires_in\":1800,\"interval\":5}",
		    OA2_OK, 0},
		{"device error", P_DEVICE, 400, "{\"error\":\"invalid_client\"}",
		    OA2_ERR_PERM, 0},
		{"discovery", P_DISCOVERY, 200, "{\"issuer\":\"https://i.example\","
		    "\"authorization_endpoint\":\"https://i.example/auth\","
		    "\"token_endpoint\":\"https://i.example/token\","
		    "\"device_authorization_endpoint\":\"https://i.example/dev\","
		    "\"revocation_endpoint\":\"https://i.example/rev\"}", OA2_OK, 0},
	};
	struct oa2_error err;
	enum oa2_status st;
	unsigned long k, tried;
	size_t i;
	int clean, done, empty;

	for (i = 0; i < NELEM(cases); i++) {
		clean = 1;
		done = 0;
		tried = 0;
		k = cases[i].short_strings ? 1 : jansson_allocs(cases[i].body) + 1;
		for (; k < 2000 && !done; k++) {
			oa2_mem_fail_at(k);
			st = parse_one(cases[i].w, cases[i].body, cases[i].http,
			    &empty, &err);
			if (oa2_mem_count() < k) {
				done = st == cases[i].want;
			} else if (tried++, st != OA2_ERR_NOMEM ||
			    strcmp(err.code, "nomem") != 0 || !empty) {
				if (clean)
					printf("# allocation %lu: status %d [%s] %s\n",
					    k, st, err.code, err.msg);
				clean = 0;
			}
			oa2_mem_fail_at(0);
		}
		ok(done && clean && tried > 0, "out of memory, %s: each of %lu "
		    "failed allocations gives OA2_ERR_NOMEM and an empty result",
		    cases[i].name, tried);
	}
}

/* ------------------------------------------------------------ device polling */

static void
test_decide(void)
{
	static const struct {
		enum oa2_status st;
		const char *code;
		enum oa2_poll want;
		long long interval;
	} table[] = {
		{OA2_OK, "", OA2_POLL_DONE, 5},
		{OA2_ERR_TEMP, "authorization_pending", OA2_POLL_WAIT, 5},
		{OA2_ERR_TEMP, "slow_down", OA2_POLL_WAIT, 10},
		{OA2_ERR_TEMP, "network", OA2_POLL_WAIT, 5},
		{OA2_ERR_TEMP, "http_503", OA2_POLL_WAIT, 5},
		{OA2_ERR_PERM, "expired_token", OA2_POLL_FAIL, 5},
		{OA2_ERR_PERM, "access_denied", OA2_POLL_FAIL, 5},
		{OA2_ERR_PERM, "authorization_declined", OA2_POLL_FAIL, 5},
		{OA2_ERR_PERM, "invalid_client", OA2_POLL_FAIL, 5},
		{OA2_ERR_PROTO, "bad_response", OA2_POLL_FAIL, 5},
		{OA2_ERR_NOMEM, "nomem", OA2_POLL_FAIL, 5},
	};
	struct oa2_device d = {0};
	struct oa2_error err;
	size_t i;
	int n;

	for (i = 0; i < NELEM(table); i++) {
		d.interval = 5;
		oa2_error_set(&err, table[i].st, table[i].code, "m");
		ok(oa2_device_decide(&d, table[i].st, &err) == table[i].want &&
		    d.interval == table[i].interval, "poll after %s: %s, "
		    "interval %lld", table[i].code[0] ? table[i].code : "success",
		    table[i].want == OA2_POLL_DONE ? "done" : table[i].want ==
		    OA2_POLL_WAIT ? "wait" : "stop", table[i].interval);
	}
	d.interval = 5;
	oa2_error_set(&err, OA2_ERR_TEMP, "slow_down", "m");
	for (n = 0; n < 3; n++)
		oa2_device_decide(&d, OA2_ERR_TEMP, &err);
	is_int(d.interval, 20, "slow_down adds 5 s each time (RFC 8628 3.5)");
	for (n = 0; n < 100; n++)
		oa2_device_decide(&d, OA2_ERR_TEMP, &err);
	is_int(d.interval, 300, "and stops growing at 300 s");
}

int
main(void)
{
	test_pkce();
	test_authz_url();
	test_presets();
	test_redirect();
	test_forms();
	test_client_auth();
	test_app_forms();
	test_wire();
	test_error_parse();
	test_device_parse();
	test_discovery_parse();
	test_id_token();
	test_nomem();
	test_decide();
	oa2_http_cleanup();
	return tap_done();
}
