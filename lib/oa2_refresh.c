/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_refresh 3
 * SUMMARY
 *	get a usable access token for a token file, refreshing when due
 * SYNOPSIS
 *	#include "oa2_refresh.h"
 *
 *	enum oa2_status oa2_access_token(path, opts, tok, info, err)
 *	enum oa2_status oa2_access_token_stat(path, opts, tok, info, sb, sb_ok,
 *			err)
 *	enum oa2_status oa2_mark_stale(path, access_token, err)
 *	int	oa2_token_fresh(tok, margin, now)
 * DESCRIPTION
 *	oa2_access_token() is what the tool's "refresh" calls; the plugin
 *	calls it through the token cache (oa2_access_token_use(),
 *	oa2_cache(3)).  It loads the token file; when the access token is
 *	missing or expires within the refresh window (token file's
 *	refresh_window, else the configuration's, default
 *	OA2_REFRESH_WINDOW_DEFAULT; at most half the access token's
 *	lifetime, oa2_effective_window()), or when force is set, it takes
 *	the file's lock, reads the file again (another process may have
 *	refreshed it meanwhile: then that result is used and no request is
 *	made), posts a refresh_token grant to the token endpoint (for an
 *	app-only token file, "grant" client_credentials or jwt_bearer, it
 *	mints a new access token with oa2_app_token() instead), and
 *	writes the new access token, its expiry and any rotated refresh
 *	token back (atomically) before it does anything else with the
 *	reply.
 *
 *	The save is split around the request (oa2_toksave(3)): the temporary
 *	file is prepared before it is sent (an unwritable directory fails
 *	with the grant unused), and after the reply only the write and the
 *	rename come before the new file is in place; the fsyncs, the unlock
 *	and the TLS teardown (the request's connection is kept open until
 *	then, oa2_http_release()) follow.  From the request to the end of
 *	the save the calling thread holds SIGTERM, SIGINT, SIGHUP and SIGQUIT
 *	(pthread_sigmask), then restores the mask it found; a signal that
 *	came meanwhile is delivered then.  In a host with other threads that
 *	do not block them, such a signal may still be taken by one of those.
 *
 *	A failed refresh never changes the file.  When a temporary failure
 *	happens while the stored access token has not yet expired (it was
 *	only inside the refresh window), that token is used and
 *	info->stale_ok is set, so mail keeps flowing.
 *
 *	Settings are resolved once per read of the file
 *	(oa2_settings_resolve(): token file, then the configuration, then the
 *	provider preset).  A missing token endpoint or client_id is an
 *	OA2_ERR_INPUT error naming the file and the field.
 *
 *	opts->due_within, when positive, takes the place of the refresh
 *	window: the token is refreshed when it expires within that many
 *	seconds (sasl-oauth2 refresh-all --within).  opts->conn, when set, is
 *	the connection the request goes through, kept for the next one
 *	(oa2_http(3)).  opts->root, when set (the sasl-oauth2 tool, run
 *	outside the chroot the file's paths are meant for), is put before the
 *	absolute paths of the CA bundle or directory and the credential files
 *	for this request only; the file keeps them as they are.  With
 *	opts->root_if_missing, only before a path that is not there as named.
 *
 *	oa2_mark_stale() sets the expiry of the file's access token to 0 if
 *	the file still holds the token the server refused, so the next
 *	attempt refreshes (through oa2_token_modify(); best effort).
 *
 *	oa2_access_token_stat() is oa2_access_token() for the token cache
 *	(oa2_cache(3)): *sb_ok says whether *sb is the fstat of the file the
 *	document was read from, unchanged by us.
 * SECURITY
 *	The request form and the reply hold the refresh token, the client
 *	secret and the access token: they live in wiped buffers only, and no
 *	message built here ever contains them.  The per-process token cache
 *	is oa2_cache(3)'s.
 * SEE ALSO
 *	oa2_settings(3), where every setting comes from; oa2_tokfile(3),
 *	oa2_token_modify(), which holds the lock around a refresh.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oa2_app.h"
#include "oa2_cache.h"
#include "oa2_grant.h"
#include "oa2_http.h"
#include "oa2_limits.h"
#include "oa2_mem.h"
#include "oa2_refresh.h"
#include "oa2_settings.h"
#include "oa2_tokresp.h"

/* say - log through the caller's sink, if any */
static void say(const struct oa2_refresh_opts *o, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
say(const struct oa2_refresh_opts *o, int level, const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	if (o == NULL || o->log == NULL)
		return;
	if (o->cfg != NULL && level > o->cfg->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->log(o->log_ctx, level, buf);
}

/*
 * mail_log_line - the one line of a refresh for the mail log: the file,
 * the token endpoint's host, the new expiry, rotated or not; never a
 * token.  The sink is the caller's (the plugin's syslog).
 */
static void
mail_log_line(const struct oa2_refresh_opts *o, const char *path,
    const struct oa2_token *tok, const struct oa2_refresh_info *info)
{
	char	buf[600], host[256], when[64];
	time_t	t = (time_t)info->expires_at;
	struct oa2_settings s;
	struct tm tm;

	if (o->mail_log == NULL || (o->cfg != NULL && !o->cfg->mail_log))
		return;
	/* The document saved under the lock: the first one is gone. */
	oa2_settings_resolve(&s, tok, o->cfg);
	oa2_url_host(s.token_endpoint ? s.token_endpoint : "", host,
	    sizeof(host));
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", info->expires_at);
	snprintf(buf, sizeof(buf), "%s: access token refreshed at %s, valid "
	    "until %s, refresh token %s", path, host[0] ? host : "(unknown)",
	    when, info->rotated ? "rotated" : "not rotated");
	o->mail_log(o->log_ctx, OA2_LOG_NOTICE, buf);
}

int
oa2_token_fresh(const struct oa2_token *tok, long long margin, time_t now)
{
	return tok->access_token != NULL && *tok->access_token &&
	    tok->expiry > (long long)now + margin;
}

/*
 * reroot - the settings' file paths as seen from outside a chroot: root
 * followed by each absolute path (the paths are the chrooted mail system's);
 * the copies are in held[], which unroot() frees
 */
static enum oa2_status
reroot(struct oa2_settings *s, const char *root, int if_missing,
    char *held[5], struct oa2_error *err)
{
	const char **path[5] = {&s->ca_file, &s->ca_dir, &s->client_key_file,
	    &s->client_cert_file, &s->service_account_file};

	for (int i = 0; i < 5; i++) {
		size_t	n;

		held[i] = NULL;
		if (*path[i] == NULL || **path[i] != '/' ||
		    (if_missing && access(*path[i], F_OK) == 0))
			continue;
		n = strlen(root) + strlen(*path[i]) + 1;
		if ((held[i] = oa2_malloc(n)) == NULL)
			return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
			    "out of memory");
		snprintf(held[i], n, "%s%s", root, *path[i]);
		*path[i] = held[i];
	}
	return OA2_OK;
}

static void
unroot(char *held[5])
{
	for (int i = 0; i < 5; i++)
		oa2_free(held[i]);
}

/*
 * post_refresh - one refresh_token grant to the resolved token endpoint,
 * or for an app-only token file one client_credentials or jwt_bearer grant
 * (oa2_app(3)); fills tr on OA2_OK.  The request and the reply's parse are
 * here only.
 */
static enum oa2_status
post_refresh(const struct oa2_settings *s, const char *path,
    const char *refresh_token,
    const struct oa2_refresh_opts *o, struct oa2_tokresp *tr,
    struct oa2_http_kept **keep, long *elapsed_ms, struct oa2_error *err)
{
	struct oa2_client c;
	struct timespec t0, t1;
	enum oa2_status st;

	oa2_client_from_settings(&c, s);
	c.http.allow_http = o->allow_http;
	c.http.conn = o->conn;		/* refresh-all: kept for the next one */
	c.http.keep = keep;		/* else: closed after the save */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (s->grant != OA2_GRANT_REFRESH)
		st = oa2_app_token(s, path, o->allow_http, tr, err);
	else
		st = oa2_grant_refresh(&c, refresh_token, tr, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	return st;
}

/*
 * An app-only grant refused: the fix is in a console, there is no consent
 * to redo.  Matched on the error word or, for Entra, the AADSTS number in
 * the description; code: the explain page that says more (oa2_explain(3)).
 */
static const struct {
	enum oa2_grant_kind grant;
	const char *word;		/* the OAuth error word, or NULL */
	const char *aadsts;		/* "AADSTS..." in the message, or NULL */
	const char *code;		/* the explain page */
	const char *todo;
} app_refusals[] = {
	{OA2_GRANT_CLIENT_CREDENTIALS, NULL, "AADSTS700016", "AADSTS700016",
	 "Microsoft Entra admin center > App registrations > the app > "
	 "Overview: check client_id and that token_endpoint names this "
	 "tenant (no consent to redo)"},
	{OA2_GRANT_CLIENT_CREDENTIALS, NULL, "AADSTS7000215", "AADSTS7000215",
	 "Microsoft Entra admin center > App registrations > the app > "
	 "Certificates & secrets: a new client secret (its Value) in the "
	 "token file (no consent to redo)"},
	{OA2_GRANT_CLIENT_CREDENTIALS, NULL, "AADSTS700027", "AADSTS700027",
	 "Microsoft Entra admin center > App registrations > the app > "
	 "Certificates & secrets > Certificates: upload the certificate of "
	 "client_cert_file (no consent to redo)"},
	{OA2_GRANT_JWT_BEARER, "unauthorized_client", NULL,
	 "domain_wide_delegation",
	 "Google Admin console > Security > API controls > Domain-wide "
	 "delegation: add the service account's client ID with the scope "
	 "https://mail.google.com/ (no consent to redo)"},
	{OA2_GRANT_CLIENT_CREDENTIALS, "unauthorized_client", NULL,
	 "app_permission",
	 "Microsoft Entra admin center > App registrations > the app > API "
	 "permissions: Office 365 Exchange Online SMTP.SendAsApp / "
	 "IMAP.AccessAsApp, Grant admin consent; then Exchange Online "
	 "PowerShell: New-ServicePrincipal and Add-MailboxPermission for the "
	 "mailbox (no consent to redo)"},
	{OA2_GRANT_JWT_BEARER, "invalid_grant", NULL, "app_invalid_grant",
	 "check that \"user\" is a mailbox of the Workspace domain and that "
	 "the service account's key still exists (Google Cloud console > IAM "
	 "& Admin > Service accounts > Keys) (no consent to redo)"},
};

/* app_refusal - the console fix for an app-only grant's refusal; *code: its page */
static const char *
app_refusal(enum oa2_grant_kind grant, const struct oa2_error *err,
    const char **code)
{
	for (size_t i = 0; i < sizeof(app_refusals) / sizeof(app_refusals[0]);
	    i++)
		if (app_refusals[i].grant == grant &&
		    (app_refusals[i].word == NULL ||
		    strcmp(app_refusals[i].word, err->code) == 0) &&
		    (app_refusals[i].aadsts == NULL ||
		    strstr(err->msg, app_refusals[i].aadsts) != NULL)) {
			*code = app_refusals[i].code;
			return app_refusals[i].todo;
		}
	return "the provider refuses the application's credential or grant: "
	    "fix it in the provider's console (no consent to redo)";
}

/*
 * explain_refresh_error - add what to do to a token endpoint error; by hand
 * (o->by_hand, a command) nothing retries it, in a mail program the mail
 * is deferred and retried.  A message too long keeps both ends
 * (oa2_error_set()): the file and what to do.
 */
static void
explain_refresh_error(const char *path, enum oa2_grant_kind grant,
    const struct oa2_refresh_opts *o, struct oa2_error *err)
{
	char full[2 * OA2_ERR_MSG_MAX], code[OA2_ERR_CODE_MAX];
	const char *todo = NULL, *again = "", *refined = NULL;

	if (grant != OA2_GRANT_REFRESH && err->status == OA2_ERR_PERM)
		todo = app_refusal(grant, err, &refined);
	else if (strcmp(err->code, "invalid_grant") == 0)
		todo = "the refresh token is dead (expired, revoked, or replaced): "
		    "re-authorize with: sasl-oauth2 authorize --force";
	else if (strcmp(err->code, "invalid_client") == 0)
		todo = "the provider does not accept this client_id/client_secret: "
		    "check them";
	else if (strcmp(err->code, "unauthorized_client") == 0)
		todo = "the refresh token belongs to another client_id, or the "
		    "client may not refresh: re-authorize with this client";
	else if (strcmp(err->code, "invalid_scope") == 0)
		todo = "the scope in the file or config is not allowed for this "
		    "client: fix \"scope\"";
	else if (err->status == OA2_ERR_PROTO)
		todo = "check that token_endpoint is the provider's token URL; if "
		    "it is, the provider misbehaves";
	if (err->status == OA2_ERR_TEMP)
		todo = "temporary";
	if (err->status == OA2_ERR_TEMP || err->status == OA2_ERR_PROTO)
		again = o->by_hand ? ": run the command again later" :
		    ": the mail is deferred and retried";
	snprintf(code, sizeof(code), "%s", refined ? refined : err->code);
	snprintf(full, sizeof(full), "%s: %s%s%s%s (see: sasl-oauth2 explain %s)",
	    path, err->msg, todo ? "; " : "", todo ? todo : "", todo ? again : "",
	    code);
	oa2_error_set(err, err->status, code, "%s", full);
}

/*
 * keep_rotated - the reply was unusable but carried a new refresh token:
 * store it (the old one may be retired already), with no access token.
 */
static void
keep_rotated(struct oa2_token_save *sv, struct oa2_token *tok, const char *rt,
    struct oa2_error *err)
{
	struct oa2_error e2;
	size_t n = strlen(err->msg);

	if (oa2_token_update(tok, "", 0, rt, &e2) == OA2_OK &&
	    oa2_token_save_commit(sv, tok, 1, &e2) == OA2_OK)
		snprintf(err->msg + n, sizeof(err->msg) - n,
		    "; the new refresh token it sent was stored");
	else
		snprintf(err->msg + n, sizeof(err->msg) - n,
		    "; the new refresh token it sent could not be stored (%s)",
		    e2.msg);
}

/* rotated_lost - a new refresh token could not be stored: say so loudly */
static void
rotated_lost(const struct oa2_tokresp *tr, struct oa2_error *err)
{
	if (tr->refresh_token != NULL)
		snprintf(err->msg + strlen(err->msg),
		    sizeof(err->msg) - strlen(err->msg),
		    "; the provider rotated the refresh token and the new one "
		    "could not be stored: re-authorize if refreshes now fail");
}

static const struct oa2_refresh_opts defaults;

/* What the refresh edit (refresh_edit) needs and reports. */
struct refresh_edit {
	const char *path;
	const struct oa2_refresh_opts *o;
	struct oa2_refresh_info *info;
	struct oa2_tokresp tr;
	const char *seen_at;		/* access token before the lock, or NULL */
	long long seen_expiry;
	long long margin;		/* refresh window in effect */
	long long expires_in;		/* of the new token */
	int	updated;		/* the document holds the new token */
	struct oa2_token_save sv;	/* the new file, prepared before the request */
	struct oa2_http_kept *kept;	/* the request's connection, closed after the save */
	sigset_t host_mask;		/* the signal mask to restore */
	int	masked;			/* termination signals are held */
};

/*
 * hold_signals - from the request to the end of the save, the catchable
 * termination signals (postfix stop sends TERM) wait: a kill there would
 * lose a grant the provider has just rotated.  release_signals() restores
 * the host's mask exactly; a signal that came meanwhile is delivered then.
 */
static void
hold_signals(struct refresh_edit *r)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	sigaddset(&term, SIGQUIT);
	r->masked = pthread_sigmask(SIG_BLOCK, &term, &r->host_mask) == 0;
}

/* release_signals - the host's signal mask as it was */
static void
release_signals(struct refresh_edit *r)
{
	if (r->masked)
		(void)pthread_sigmask(SIG_SETMASK, &r->host_mask, NULL);
	r->masked = 0;
}

/*
 * refresh_edit - under the lock, with the file read again: use what another
 * process refreshed meanwhile, else refresh and put the reply into the
 * document (oa2_token_modify() then saves it before anything else is done
 * with the reply).
 */
static enum oa2_status
refresh_edit(struct oa2_token *tok, void *arg, struct oa2_error *err)
{
	struct refresh_edit *r = arg;
	const struct oa2_refresh_opts *o = r->o;
	struct oa2_settings s;
	enum oa2_status st;
	char	num[32], *held[5] = {NULL};
	int	changed;
	time_t now;

	oa2_settings_resolve(&s, tok, o->cfg);
	r->margin = o->due_within > 0 ? o->due_within : s.refresh_window;
	now = time(NULL);
	changed = tok->expiry != r->seen_expiry || r->seen_at == NULL ||
	    tok->access_token == NULL || strcmp(r->seen_at, tok->access_token) != 0;
	/*
	 * Another process refreshed while we waited for the lock: its token is
	 * good enough when it is beyond the window, or -- not forced -- simply
	 * new and not expired.  The second rule keeps 64 processes that found
	 * one expired token at one request even when the provider's tokens
	 * live no longer than the window and the file does not say how long
	 * they live (expires_in), e.g. one written by another tool.
	 */
	if ((oa2_token_fresh(tok, r->margin, now) && (!o->force || changed)) ||
	    (!o->force && changed && oa2_token_fresh(tok, 0, now))) {
		r->info->reused = 1;
		r->info->expires_at = tok->expiry;
		say(o, OA2_LOG_DEBUG, "%s: another process refreshed the token",
		    r->path);
		return OA2_OK;
	}
	if (s.grant == OA2_GRANT_REFRESH &&
	    (st = oa2_settings_require(&s, r->path, err)) != OA2_OK)
		return st;
	if (o->root != NULL && (st = reroot(&s, o->root, o->root_if_missing,
	    held, err)) != OA2_OK) {
		unroot(held);
		return st;
	}
	/*
	 * The new file is made ready before the request: a directory we
	 * cannot write fails here, with the grant unused, and what is left
	 * after the reply is only write and rename.
	 */
	if ((st = oa2_token_save_prepare(&r->sv, r->path, err)) != OA2_OK) {
		unroot(held);
		return st;
	}
	hold_signals(r);
	st = post_refresh(&s, r->path, tok->refresh_token, o, &r->tr, &r->kept,
	    &r->info->elapsed_ms, err);
	unroot(held);
	if (st != OA2_OK) {
		if (r->tr.refresh_token != NULL)
			keep_rotated(&r->sv, tok, r->tr.refresh_token, err);
		oa2_token_save_abort(&r->sv);
		explain_refresh_error(r->path, s.grant, o, err);
		return st;
	}
	r->expires_in = r->tr.expires_in > 0 ? r->tr.expires_in :
	    OA2_EXPIRES_IN_DEFAULT;
	now = time(NULL);
	if ((st = oa2_token_update(tok, r->tr.access_token,
	    (long long)now + r->expires_in, r->tr.refresh_token, err)) != OA2_OK) {
		oa2_token_save_abort(&r->sv);
		rotated_lost(&r->tr, err);
		return st;
	}
	/*
	 * The lifetime, for the window of the next reads (best effort: a file
	 * without it still works, oa2_effective_window()).
	 */
	snprintf(num, sizeof(num), "%lld", r->expires_in);
	if (r->tr.expires_in > 0 && tok->expires_in != r->expires_in)
		(void) oa2_token_set_string(tok,
		    OA2_SETTING_NAME(OA2_S_EXPIRES_IN), num, err);
	oa2_error_clear(err);
	r->updated = 1;
	/*
	 * Rotated: the old file is worthless now, so rename first and fsync
	 * after; otherwise fsync first (oa2_token_save_commit()).
	 */
	if ((st = oa2_token_save_commit(&r->sv, tok, r->tr.refresh_token != NULL,
	    err)) == OA2_OK || st == OA2_ERR_TEMP)
		tok->saved_edits = tok->edits;
	return st;
}

/*
 * oa2_access_token_stat - oa2_access_token(); *sb_ok says whether *sb is
 * the fstat of the file the returned document was read from, unchanged by
 * us (a token we refreshed ourselves was written to a new file, whose
 * identity we have not looked at).
 */
enum oa2_status
oa2_access_token_stat(const char *path, const struct oa2_refresh_opts *o,
    struct oa2_token *tok, struct oa2_refresh_info *info, struct stat *sb,
    int *sb_ok, struct oa2_error *err)
{
	struct refresh_edit r = {0};
	struct oa2_token_held held;
	struct oa2_settings s;
	char *seen_at = NULL;
	enum oa2_status st;

	*sb_ok = 0;
	if (o == NULL)
		o = &defaults;
	memset(info, 0, sizeof(*info));
	memset(tok, 0, sizeof(*tok));
	if ((st = oa2_token_load(tok, path, -1, sb, err)) != OA2_OK)
		return st;
	oa2_settings_resolve(&s, tok, o->cfg);
	if (!o->force && oa2_token_fresh(tok, o->due_within > 0 ? o->due_within :
	    s.refresh_window, time(NULL))) {
		info->expires_at = tok->expiry;
		*sb_ok = 1;
		return OA2_OK;
	}
	if (tok->access_token != NULL &&
	    (seen_at = oa2_strdup(tok->access_token)) == NULL) {
		oa2_token_free(tok);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}

	/* One refresh for all: take the lock, then look again. */
	r.path = path;
	r.o = o;
	r.info = info;
	r.seen_at = seen_at;
	r.seen_expiry = tok->expiry;
	r.sv.fd = -1;
	st = oa2_token_modify(path, refresh_edit, &r, &held, err);
	/* Saved and unlocked: now the TLS teardown, then the host's mask. */
	oa2_token_save_abort(&r.sv);
	oa2_http_release(&r.kept);
	release_signals(&r);
	if (held.locked) {
		/* The document read under the lock replaces the first one. */
		oa2_token_free(tok);
		*tok = held.tok;
		*sb = held.sb;
	}
	if (st == OA2_OK && !r.updated) {
		*sb_ok = 1;			/* reused: as read */
		goto out;
	}
	if (st == OA2_OK) {
		info->refreshed = 1;
		info->rotated = r.tr.refresh_token != NULL;
		info->expires_at = tok->expiry;
		say(o, OA2_LOG_NOTICE, "%s: access token refreshed in %ld ms, "
		    "valid for %lld s%s", path, info->elapsed_ms, r.expires_in,
		    info->rotated ? ", refresh token rotated" : "");
		mail_log_line(o, path, tok, info);
		goto out;
	}
	if (r.updated) {
		/* The save failed: the provider may have rotated the token. */
		rotated_lost(&r.tr, err);
		goto out;
	}
	/* A passing failure must not stop mail while the old token still works. */
	if ((st == OA2_ERR_TEMP || !held.locked) && tok->root != NULL &&
	    oa2_token_fresh(tok, 0, time(NULL))) {
		say(o, OA2_LOG_WARNING, "%s; using the current access token, "
		    "valid for %lld more s", err->msg,
		    tok->expiry - (long long)time(NULL));
		info->stale_ok = 1;
		info->expires_at = tok->expiry;
		st = OA2_OK;
	}
out:
	oa2_tokresp_free(&r.tr);
	oa2_free_secret(&seen_at);
	if (st != OA2_OK)
		oa2_token_free(tok);
	return st;
}

enum oa2_status
oa2_access_token(const char *path, const struct oa2_refresh_opts *o,
    struct oa2_token *tok, struct oa2_refresh_info *info,
    struct oa2_error *err)
{
	struct stat sb;
	int sb_ok;

	return oa2_access_token_stat(path, o, tok, info, &sb, &sb_ok, err);
}

/* stale_edit - expiry 0 if the file still holds the refused access token */
static enum oa2_status
stale_edit(struct oa2_token *tok, void *arg, struct oa2_error *err)
{
	const char *access_token = arg;
	enum oa2_status st = OA2_OK;
	char *at;

	if (tok->access_token == NULL || access_token == NULL ||
	    strcmp(tok->access_token, access_token) != 0 || tok->expiry == 0)
		return OA2_OK;
	if ((at = oa2_strdup(access_token)) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	st = oa2_token_update(tok, at, 0, NULL, err);
	oa2_free_secret(&at);
	return st;
}

enum oa2_status
oa2_mark_stale(const char *path, const char *access_token,
    struct oa2_error *err)
{
	/* Whatever this process remembers of the file is stale now. */
	oa2_token_cache_forget(path);
	return oa2_token_modify(path, stale_edit, (void *)access_token, NULL,
	    err);
}
