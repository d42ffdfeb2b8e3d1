/* SPDX-License-Identifier: MIT */
/* test-refresh - when to refresh, settings precedence, failures keep the file */
#include "config.h"

#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oa2_mem.h"
#include "oa2_refresh.h"
#include "tap.h"

static char dir[] = "/tmp/test-refresh.XXXXXX";
static char path[600];

/* put - write the token file with a given body */
static void
put(const char *body)
{
	FILE *f = fopen(path, "w");

	fputs(body, f);
	fclose(f);
	chmod(path, 0600);
}

/* slurp - the file's bytes, for byte-identity checks */
static char *
slurp(void)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	buf[n] = 0;
	fclose(f);
	return buf;
}

/* token_json - a token file body with the given expiry and endpoint */
static const char *
token_json(long long expiry, const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "{\"refresh_token\": \"RT-SECRET-1\", \"access_token\": \"AT-SECRET-1\", "
	    "\"expiry\": \"%lld\", \"user\": \"u@example.test\"%s%s}",
	    expiry, extra[0] ? ", " : "", extra);
	return buf;
}

int
main(void)
{
	struct oa2_refresh_opts o = {0};
	struct oa2_refresh_info info;
	struct oa2_config cfg;
	struct oa2_token tok;
	struct oa2_error err;
	char before[8192];
	time_t now = time(NULL);
	const char *down = "\"token_endpoint\": \"https://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\"";

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/token.json", dir);
	oa2_config_init(&cfg);
	o.cfg = &cfg;

	/* 1. Fresh: no request at all (the endpoint is down and never asked). */
	put(token_json(now + 3600, down));
	strcpy(before, slurp());
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK, "fresh token used");
	is_str(tok.access_token, "AT-SECRET-1", "the stored access token");
	ok(!info.refreshed && !info.stale_ok, "no refresh attempted");
	oa2_token_free(&tok);
	is_str(slurp(), before, "file untouched");

	/* 2. Expired, endpoint down: temporary error, file byte-identical. */
	put(token_json(now - 10, down));
	strcpy(before, slurp());
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_TEMP,
	    "expired token + unreachable endpoint: temporary failure");
	has_str(err.msg, path, "message names the token file");
	has_str(err.msg, "temporary", "message says it is temporary");
	ok(strstr(err.msg, "SECRET") == NULL, "no secret in the message");
	is_str(slurp(), before, "failed refresh leaves the file byte-identical");

	/* 3. Inside the window but not expired: the old token keeps mail flowing. */
	put(token_json(now + 100, down));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK,
	    "token inside the refresh window, endpoint down: still usable");
	ok(info.stale_ok, "stale_ok reported");
	is_str(tok.access_token, "AT-SECRET-1", "the old access token is handed out");
	oa2_token_free(&tok);

	/* 4. refresh_window in the file moves the threshold. */
	put(token_json(now + 100, "\"refresh_window\": 30, \"token_endpoint\": "
	    "\"https://127.0.0.1:1/token\", \"client_id\": \"c\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK && !info.stale_ok,
	    "refresh_window 30: a token valid 100 s more is fresh");
	oa2_token_free(&tok);

	/* 5. Missing settings are named. */
	put(token_json(0, "\"token_endpoint\": \"https://127.0.0.1:1/token\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "no client_id: input error");
	has_str(err.msg, "\"client_id\"", "message names client_id");
	put(token_json(0, "\"client_id\": \"c\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "no endpoint and no provider: input error");
	has_str(err.msg, "\"token_endpoint\" or \"provider\"", "message says what to set");
	put(token_json(0, "\"client_id\": \"c\", \"provider\": \"hotmail\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "unknown provider refused");
	has_str(err.msg, "google, microsoft", "message lists the providers");
	put(token_json(0, "\"client_id\": \"c\", \"provider\": \"microsoft\", "
	    "\"tenant\": \"evil/../x\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "a tenant that changes the URL shape is refused");
	has_str(err.msg, "\"tenant\"", "message names tenant");
	put(token_json(0, "\"token_endpoint\": \"https://127.0.0.1:1/token\", "
	    "\"client_id\": \"c\", \"client_auth\": \"jwt\""));
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "bad client_auth refused");

	/* 6. Configuration defaults fill in what the file lacks. */
	{
		const char *c = "{\"client_id\": \"from-config\", "
		    "\"token_endpoint\": \"https://127.0.0.1:1/token\"}";
		struct oa2_config cfg2;

		ok(oa2_config_parse(&cfg2, "/etc/x.conf", c, strlen(c), &err) == OA2_OK,
		    "config parsed");
		o.cfg = &cfg2;
		put(token_json(0, ""));
		ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_TEMP,
		    "client_id and endpoint from the config: the request is attempted");
		has_str(err.msg, "127.0.0.1:1", "it went to the configured endpoint");
		oa2_config_free(&cfg2);
		o.cfg = &cfg;
	}

	/* 7. force: refresh even a fresh token; when it fails, keep using it. */
	put(token_json(now + 3600, down));
	o.force = 1;
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_OK && info.stale_ok,
	    "forced refresh failing temporarily falls back to the valid token");
	oa2_token_free(&tok);
	o.force = 0;

	/* 8. mark_stale only touches the token that was refused. */
	put(token_json(now + 3600, down));
	ok(oa2_mark_stale(path, "AT-OTHER", &err) == OA2_OK, "mark_stale other token");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK && tok.expiry == now + 3600,
	    "a different token leaves the expiry alone");
	oa2_token_free(&tok);
	ok(oa2_mark_stale(path, "AT-SECRET-1", &err) == OA2_OK, "mark_stale same token");
	ok(oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK && tok.expiry == 0,
	    "the refused token gets expiry 0");
	is_str(tok.refresh_token, "RT-SECRET-1", "refresh token kept");
	oa2_token_free(&tok);

	/* 9. A broken file is reported, not crashed on. */
	put("{\"access_token\": \"x\"}");
	ok(oa2_access_token(path, &o, &tok, &info, &err) == OA2_ERR_INPUT,
	    "file without refresh_token refused");
	has_str(err.msg, "refresh_token", "message names the field");

	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
