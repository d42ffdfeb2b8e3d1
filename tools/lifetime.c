/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	lifetime 3
 * SUMMARY
 *	the known ways a refresh token dies, for status and refresh-all
 * SYNOPSIS
 *	#include "sao.h"
 *
 *	const char *sao_provider_of(set)
 *	const struct oa2_settings *set;
 *
 *	long long sao_token_time(tok, id)
 *	const struct oa2_token *tok;
 *	int	id;		(an enum oa2_setting_id)
 *
 *	long long sao_last_used(tok, st)
 *	const struct oa2_token *tok;
 *	const struct stat *st;
 *
 *	void	sao_lifetime_checks(set, tok, st, now, fn, ctx)
 *	const struct oa2_settings *set;
 *	const struct oa2_token *tok;
 *	const struct stat *st;
 *	time_t	now;
 *	sao_lifetime_fn fn;
 *	void	*ctx;
 *
 *	int	sao_lifetime_file(path, cfg, now, fn, ctx)
 *	const char *path;
 *	const struct oa2_config *cfg;
 *	time_t	now;
 *	sao_lifetime_fn fn;
 *	void	*ctx;
 * DESCRIPTION
 *	One place decides when a refresh token is about to die, so that
 *	"status" (on demand, for monitoring) and "refresh-all" (the timer,
 *	for the journal) say the same thing at the same age.
 *
 *	sao_provider_of() is the provider's name: the "provider" setting,
 *	else "google" or "microsoft" when the token endpoint says so, else
 *	NULL.
 *
 *	sao_token_time() is an epoch member of the token file as a number
 *	(a string of digits is accepted), else -1.
 *
 *	sao_last_used() is when the refresh token was last used: the later
 *	of "refreshed_at" and the file's modification time (every refresh,
 *	by the plugin too, replaces the file).
 *
 *	sao_lifetime_checks() calls fn(ctx, SAO_LT_WARNING or
 *	SAO_LT_CRITICAL, message) for each known way this refresh token
 *	dies that is near or past: Google External+Testing apps, 7 days
 *	after consent (warned from day 6 while it was not used after day
 *	7); Google, 6 months unused (warning after 150 days, critical after
 *	180); Microsoft, 90 days unused (warning after 60, critical after
 *	90).  An app-only grant has no refresh token: nothing is said.
 *
 *	sao_lifetime_file() is the same for the token file at path, read
 *	here (no lock: the writers replace it atomically) and resolved with
 *	cfg (may be NULL).  It returns the number of messages given to fn,
 *	or -1 when the file cannot be read (the caller reports that its
 *	own way).
 * SECURITY
 *	The messages hold dates, day counts and fixes, never a token.  What
 *	sao_lifetime_file() read is freed with the core's wiping free.
 *	Thread-safe: refresh-all calls it from its workers.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "sao.h"

#define DAY (24LL * 3600)

const char *
sao_provider_of(const struct oa2_settings *set)
{
	const char *ep = set->token_endpoint;

	if (set->provider != NULL)
		return set->provider;
	if (ep == NULL)
		return NULL;
	if (strstr(ep, "google") != NULL)
		return "google";
	if (strstr(ep, "microsoftonline") != NULL)
		return "microsoft";
	return NULL;
}

long long
sao_token_time(const struct oa2_token *tok, int id)
{
	json_t *v = json_object_get(tok->root, OA2_SETTING_NAME(id));

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return sao_parse_epoch(json_string_value(v));
	return -1;
}

long long
sao_last_used(const struct oa2_token *tok, const struct stat *st)
{
	long long refreshed = sao_token_time(tok, OA2_S_REFRESHED_AT);

	return refreshed > (long long)st->st_mtime ? refreshed :
	    (long long)st->st_mtime;
}

/* say - one message to fn */
static void say(sao_lifetime_fn fn, void *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
say(sao_lifetime_fn fn, void *ctx, int level, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(ctx, level, buf);
}

void
sao_lifetime_checks(const struct oa2_settings *set, const struct oa2_token *tok,
    const struct stat *st, time_t now, sao_lifetime_fn fn, void *ctx)
{
	const char *provider = sao_provider_of(set);
	long long authorized = sao_token_time(tok, OA2_S_AUTHORIZED_AT);
	long long last_used = sao_last_used(tok, st);
	long long idle = last_used > 0 ? now - last_used : -1;
	char	when[64];

	if (set->grant != OA2_GRANT_REFRESH || provider == NULL)
		return;
	if (strcmp(provider, "google") == 0) {
		if (authorized > 0 && now - authorized >= 6 * DAY &&
		    last_used < authorized + 7 * DAY) {
			sao_fmt_time(authorized + 7 * DAY, when, sizeof(when));
			say(fn, ctx, SAO_LT_WARNING, "if the Google Cloud project's "
			    "OAuth app is External and in Testing, this refresh "
			    "token dies 7 days after consent (%s): publish the "
			    "app (Google Auth Platform > Audience > Publish app) "
			    "or re-authorize; run sasl-oauth2 refresh to check",
			    when);
		}
		if (idle > 180 * DAY)
			say(fn, ctx, SAO_LT_CRITICAL, "unused for %lld days: Google "
			    "drops refresh tokens unused for 6 months; re-authorize",
			    idle / DAY);
		else if (idle > 150 * DAY)
			say(fn, ctx, SAO_LT_WARNING, "unused for %lld days: Google "
			    "drops it at 6 months; run sasl-oauth2 refresh", idle / DAY);
	} else if (strncmp(provider, "microsoft", 9) == 0) {
		if (idle > 90 * DAY)
			say(fn, ctx, SAO_LT_CRITICAL, "unused for %lld days: Microsoft "
			    "refresh tokens die after 90 days without use "
			    "(AADSTS700082); re-authorize", idle / DAY);
		else if (idle > 60 * DAY) {
			sao_fmt_time(last_used + 90 * DAY, when, sizeof(when));
			say(fn, ctx, SAO_LT_WARNING, "unused for %lld days: Microsoft "
			    "refresh tokens die after 90 days without use (%s); run "
			    "sasl-oauth2 refresh (weekly, from a timer)",
			    idle / DAY, when);
		}
	}
}

/* count_ctx - sao_lifetime_file()'s count of what it passed on */
struct count_ctx {
	sao_lifetime_fn fn;
	void	*ctx;
	int	n;
};

static void
count_fn(void *ctx, int level, const char *msg)
{
	struct count_ctx *c = ctx;

	c->n++;
	c->fn(c->ctx, level, msg);
}

int
sao_lifetime_file(const char *path, const struct oa2_config *cfg, time_t now,
    sao_lifetime_fn fn, void *ctx)
{
	struct count_ctx c = {.fn = fn, .ctx = ctx};
	struct oa2_token tok = {0};
	struct oa2_settings set;
	struct oa2_error err;
	struct stat st;

	if (oa2_token_load(&tok, path, -1, &st, &err) != OA2_OK)
		return -1;
	oa2_settings_resolve(&set, &tok, cfg);
	sao_lifetime_checks(&set, &tok, &st, now, count_fn, &c);
	oa2_token_free(&tok);
	return c.n;
}
