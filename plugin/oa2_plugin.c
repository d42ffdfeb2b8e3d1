/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_plugin 8
 * SUMMARY
 *	Cyrus SASL client plugin: XOAUTH2 and OAUTHBEARER with self-refreshing tokens
 * DESCRIPTION
 *	The application gives a user name (SASL_CB_AUTHNAME, or an
 *	interaction prompt) and a password (SASL_CB_PASS, or a prompt); the
 *	password is the path of a token file (sasl-oauth2-token(5)).  The
 *	plugin gets a usable access token for that file
 *	(oa2_access_token_use(), oa2_access_token() behind the cache:
 *	refreshing it at the provider's token endpoint when it is missing or
 *	about to expire) and sends the initial client response.
 *
 *	The hot path (a fresh token, the usual case): the token comes from
 *	the core's per-process cache (oa2_access_token_use(): one lstat of
 *	the token file shows it unchanged, so it is not read or parsed
 *	again; Postfix reuses an smtp process for many deliveries), the
 *	path is kept inline in the connection context, and the access token
 *	that may have to be marked stale is found again inside the initial
 *	response rather than copied.
 *
 *	Exchange: step 1 sends the initial response and returns
 *	SASL_CONTINUE with doneflag clear.  An empty server message then
 *	means success (SASL_OK).  A non-empty one is the server's error
 *	challenge (base64-decoded JSON): the plugin answers it as the
 *	mechanism requires (XOAUTH2: an empty response; OAUTHBEARER: a single
 *	0x01, RFC 7628 3.2.3), marks the stored access token stale so that the
 *	next attempt refreshes, logs one line saying what happened, and
 *	returns SASL_CONTINUE; the server's final failure follows.
 * SECURITY
 *	Security flags: SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT, max_ssf 0.
 *	A bearer token is sent as it is, so it is exposed to an eavesdropper
 *	like a password would be; but it is short-lived (about an hour) and
 *	limited to mail scopes, not the account password, and every
 *	provider requires TLS before AUTH.  Declaring NOPLAINTEXT is what lets
 *	Postfix's default smtp_sasl_security_options (noplaintext,
 *	noanonymous) accept the mechanism, and it ranks XOAUTH2/OAUTHBEARER
 *	above PLAIN and LOGIN when an application lets libsasl choose.
 *	The application must still use TLS; sasl-oauth2-postfix(7) says how.
 *
 *	The plugin runs inside someone else's process: it never exits, never
 *	writes to stdout or stderr, logs through the SASL log callback and,
 *	for each successful refresh, one syslog(3) line at mail.info through
 *	the host's own openlog() (mail_log, default on; off with the setting
 *	"mail_log": false or the SASL option sasl_oauth2_mail_log=no), and
 *	never logs a token or secret at any level.
 * DIAGNOSTICS
 *	One line per failure, recorded with utils->seterror (libsasl2 logs it
 *	once at SASL_LOG_FAIL and returns it from sasl_errdetail()).
 *	SASL_TRYAGAIN: temporary (network, timeout, 5xx); SASL_EXPIRED: the
 *	refresh token is dead (invalid_grant), re-authorize; SASL_BADAUTH:
 *	the provider refused the client; SASL_BADPARAM: a bad token file or
 *	configuration.  Postfix defers the mail on all of these.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "oa2_config.h"
#include "oa2_mem.h"
#include "oa2_cache.h"
#include "oa2_refresh.h"
#include "oa2_wire.h"

enum oa2_mech {
	MECH_XOAUTH2,
	MECH_OAUTHBEARER
};

enum conn_state {
	ST_START,		/* nothing sent yet (or waiting for prompts) */
	ST_SENT,		/* initial response sent */
	ST_ANSWERED		/* error challenge answered */
};

struct oa2_conn {
	enum oa2_mech mech;
	enum conn_state state;
	char *path;		/* token file (the SASL password): pathbuf or allocated */
	char *user;		/* copy of the file's "user" when that was sent, else NULL */
	size_t tok_off;		/* the access token we sent is out.data[tok_off..+tok_len) */
	size_t tok_len;		/* (kept to mark it stale; 0: none) */
	enum oa2_grant_kind grant;	/* the token file's "grant" */
	struct oa2_buf out;	/* what *clientout points at */
	char pathbuf[240];	/* the usual path fits: no allocation */
};

/* Global state shared by both mechanisms: the configuration file, read
 * in sasl_client_plug_init() (as root, before Postfix's chroot). */
static struct oa2_config config;
static struct oa2_error config_err;
static int config_refs;

/* plog - log one line through the application's SASL log callback */
static void
plog(const sasl_utils_t *utils, int level, const char *msg)
{
	if (utils != NULL && utils->log != NULL)
		utils->log(utils->conn, level, "sasl-oauth2: %s", msg);
}

/*
 * mail_log - the refresh's line for the mail log: syslog(3) at mail.info,
 * without openlog(): the line goes out under the host's own ident and
 * connection (Postfix: "postfix/smtp[pid]"), whose syslog state is left
 * as it is.  Postfix logs the SASL callback's notices only with -v.
 */
static void
mail_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	syslog(LOG_MAIL | LOG_INFO, "sasl-oauth2: %s", msg);
}

/* mail_log_wanted - not turned off by the application's SASL option */
static int
mail_log_wanted(const sasl_utils_t *utils)
{
	const char *v = NULL;
	unsigned len = 0;

	if (utils->getopt == NULL || utils->getopt(utils->getopt_context,
	    "sasl-oauth2", "sasl_oauth2_mail_log", &v, &len) != SASL_OK ||
	    v == NULL)
		return 1;
	return !(len > 0 && strchr("nNfF0", v[0]) != NULL) &&
	    !(len >= 3 && strncasecmp(v, "off", 3) == 0);
}

/* refresh_log - log sink for the core: map our levels to SASL levels */
static void
refresh_log(void *ctx, int level, const char *msg)
{
	static const int map[] = {
		[OA2_LOG_ERROR] = SASL_LOG_ERR,
		[OA2_LOG_FAIL] = SASL_LOG_FAIL,
		[OA2_LOG_WARNING] = SASL_LOG_WARN,
		[OA2_LOG_NOTICE] = SASL_LOG_NOTE,
		[OA2_LOG_DEBUG] = SASL_LOG_DEBUG,
	};

	plog(ctx, level >= 1 && level <= 5 ? map[level] : SASL_LOG_DEBUG, msg);
}

/* fail - report err through seterror and the log; return its SASL code */
static int
fail(const sasl_client_params_t *params, const struct oa2_error *err)
{
	int code;

	switch (err->status) {
	case OA2_ERR_TEMP:
		code = SASL_TRYAGAIN;
		break;
	case OA2_ERR_PERM:
		code = strcmp(err->code, "invalid_grant") == 0 ?
		    SASL_EXPIRED : SASL_BADAUTH;
		break;
	case OA2_ERR_INPUT:
		code = SASL_BADPARAM;
		break;
	case OA2_ERR_NOMEM:
		code = SASL_NOMEM;
		break;
	case OA2_ERR_PROTO:
		code = SASL_BADPROT;
		break;
	default:
		code = SASL_FAIL;
		break;
	}
	/* libsasl2 logs what seterror records (SASL_LOG_FAIL): one line, once. */
	params->utils->seterror(params->utils->conn, 0, "sasl-oauth2: %s",
	    err->msg);
	return code;
}

/* fail_msg - fail with a message of our own */
static int
fail_msg(const sasl_client_params_t *params, enum oa2_status st,
    const char *code, const char *msg)
{
	struct oa2_error err;

	oa2_error_set(&err, st, code, "%s", msg);
	return fail(params, &err);
}

/* find_prompt - the answer to an earlier prompt with this id, or NULL */
static sasl_interact_t *
find_prompt(sasl_interact_t **prompt_need, unsigned long id)
{
	sasl_interact_t *p;

	if (prompt_need == NULL || *prompt_need == NULL)
		return NULL;
	for (p = *prompt_need; p->id != SASL_CB_LIST_END; p++)
		if (p->id == id)
			return p;
	return NULL;
}

/*
 * get_simple - the user name: an earlier prompt's answer, then the
 * callback.  Returns SASL_OK, SASL_INTERACT (ask), or an error.
 */
static int
get_simple(const sasl_client_params_t *params, sasl_interact_t **prompt_need,
    unsigned long id, const char **out)
{
	sasl_getsimple_t *proc = NULL;
	sasl_interact_t *p;
	void *ctx = NULL;
	unsigned len;
	int rc;

	*out = NULL;
	if ((p = find_prompt(prompt_need, id)) != NULL) {
		*out = p->result;
		return p->result != NULL ? SASL_OK : SASL_BADPARAM;
	}
	rc = params->utils->getcallback(params->utils->conn, id,
	    (sasl_callback_ft *)&proc, &ctx);
	if (rc == SASL_INTERACT)
		return SASL_INTERACT;
	if (rc != SASL_OK || proc == NULL)
		return rc == SASL_OK ? SASL_FAIL : rc;
	return proc(ctx, (int)id, out, &len);
}

/* get_password - the password (token file path): prompt answer, then callback */
static int
get_password(const sasl_client_params_t *params, sasl_interact_t **prompt_need,
    const char **out, size_t *outlen)
{
	sasl_getsecret_t *proc = NULL;
	sasl_secret_t *secret = NULL;
	sasl_interact_t *p;
	void *ctx = NULL;
	int rc;

	*out = NULL;
	if ((p = find_prompt(prompt_need, SASL_CB_PASS)) != NULL) {
		*out = p->result;
		*outlen = p->len;
		return p->result != NULL ? SASL_OK : SASL_BADPARAM;
	}
	rc = params->utils->getcallback(params->utils->conn, SASL_CB_PASS,
	    (sasl_callback_ft *)&proc, &ctx);
	if (rc == SASL_INTERACT)
		return SASL_INTERACT;
	if (rc != SASL_OK || proc == NULL)
		return rc == SASL_OK ? SASL_FAIL : rc;
	if ((rc = proc(params->utils->conn, ctx, SASL_CB_PASS, &secret)) != SASL_OK)
		return rc;
	if (secret == NULL)
		return SASL_BADPARAM;
	*out = (const char *)secret->data;
	*outlen = secret->len;
	return SASL_OK;
}

/* make_prompts - ask the application for what is missing */
static int
make_prompts(const sasl_client_params_t *params, sasl_interact_t **prompt_need,
    int need_user, int need_pass)
{
	sasl_interact_t *p;
	int n = need_user + need_pass + 1;

	p = params->utils->malloc(sizeof(*p) * (size_t)n);
	if (p == NULL)
		return SASL_NOMEM;
	memset(p, 0, sizeof(*p) * (size_t)n);
	*prompt_need = p;
	if (need_user) {
		p->id = SASL_CB_AUTHNAME;
		p->challenge = "Authentication Name";
		p->prompt = "Mail account (user name)";
		p++;
	}
	if (need_pass) {
		p->id = SASL_CB_PASS;
		p->challenge = "Password";
		p->prompt = "Token file path";
		p++;
	}
	p->id = SASL_CB_LIST_END;
	return SASL_INTERACT;
}

/* port_of - the port in an "addr;port" string, or 0 */
static unsigned
port_of(const char *ipport)
{
	const char *semi;
	unsigned long n;
	char *end;

	if (ipport == NULL || (semi = strrchr(ipport, ';')) == NULL)
		return 0;
	n = strtoul(semi + 1, &end, 10);
	return *end == 0 && n > 0 && n < 65536 ? (unsigned)n : 0;
}

/* What start() hands to use_token() through oa2_access_token_use(). */
struct use_ctx {
	struct oa2_conn *c;
	const sasl_client_params_t *params;
	const char *user;	/* the application's user name, or NULL */
	const char *sent;	/* out: the user name in the message */
	int wire_failed;	/* out: the token could not go on the wire */
};

/*
 * use_token - build the initial response from a usable access token.  The
 * strings may live in the token cache, valid only during this call: what
 * must outlive it is copied (the message; the file's user name when that is
 * the one sent).
 */
static enum oa2_status
use_token(void *arg, const char *access_token, const char *file_user,
    struct oa2_error *err)
{
	struct use_ctx *u = arg;
	struct oa2_conn *c = u->c;
	const char *user = u->user;
	enum oa2_status st;

	if (user == NULL || *user == 0) {
		if (file_user == NULL || *file_user == 0)
			return oa2_error_set(err, OA2_ERR_INPUT, "user",
			    "no user name: give one to the application (the SASL "
			    "user name) or set \"user\" in the token file");
		if ((c->user = oa2_strdup(file_user)) == NULL)
			return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
			    "out of memory");
		user = c->user;
	}
	if (c->mech == MECH_XOAUTH2)
		st = oa2_wire_xoauth2(&c->out, user, access_token, err);
	else
		st = oa2_wire_oauthbearer(&c->out, user, u->params->serverFQDN,
		    port_of(u->params->ipremoteport), access_token, err);
	if (st != OA2_OK) {
		u->wire_failed = 1;
		return st;
	}
	/* Both messages end with the token and ^A ^A. */
	c->tok_len = strlen(access_token);
	c->tok_off = c->out.len - 2 - c->tok_len;
	u->sent = user;
	return OA2_OK;
}

/* set_path - keep the token file path (inline when it fits) */
static int
set_path(struct oa2_conn *c, const char *pass, size_t passlen)
{
	if (c->path != NULL && c->path != c->pathbuf)
		oa2_free(c->path);
	c->path = NULL;
	if (passlen < sizeof(c->pathbuf))
		c->path = c->pathbuf;
	else if ((c->path = oa2_malloc(passlen + 1)) == NULL)
		return SASL_NOMEM;
	memcpy(c->path, pass, passlen);
	c->path[passlen] = 0;
	return SASL_OK;
}

/* start - first step: credentials, token, initial response */
static int
start(struct oa2_conn *c, const sasl_client_params_t *params,
    sasl_interact_t **prompt_need, const char **clientout,
    unsigned *clientoutlen, sasl_out_params_t *oparams)
{
	struct oa2_refresh_opts ropts = {0};
	struct oa2_refresh_info info;
	struct oa2_error err;
	struct use_ctx u = {0};
	const char *user = NULL, *pass = NULL;
	size_t passlen = 0;
	int ru, rp, rc;
	enum oa2_status st;

	if (config_err.status != OA2_OK)
		return fail(params, &config_err);

	ru = get_simple(params, prompt_need, SASL_CB_AUTHNAME, &user);
	rp = get_password(params, prompt_need, &pass, &passlen);
	/* Answers point into the application's memory; the list itself is ours. */
	if (prompt_need != NULL && *prompt_need != NULL) {
		params->utils->free(*prompt_need);
		*prompt_need = NULL;
	}
	if (ru == SASL_INTERACT || rp == SASL_INTERACT) {
		if (prompt_need == NULL)
			return fail_msg(params, OA2_ERR_INPUT, "callbacks",
			    "the application gives neither a user name/password "
			    "callback nor interaction");
		return make_prompts(params, prompt_need, ru == SASL_INTERACT,
		    rp == SASL_INTERACT);
	}
	if (rp != SASL_OK || pass == NULL || passlen == 0)
		return fail_msg(params, OA2_ERR_INPUT, "callbacks",
		    "no password given: the SASL password must be the path of a "
		    "token file (e.g. in smtp_sasl_password_maps: "
		    "[relay]:587 user@example.com:/var/spool/postfix/oauth2/token.json)");
	if (set_path(c, pass, passlen) != SASL_OK)
		return SASL_NOMEM;
	if (strlen(c->path) != passlen || c->path[0] != '/')
		return fail_msg(params, OA2_ERR_INPUT, "token_file",
		    "the SASL password is not an absolute token file path: give "
		    "the full path of the token file, not a token or a password");
	if (c->user != NULL) {
		oa2_free(c->user);
		c->user = NULL;
	}
	c->tok_len = 0;

	ropts.cfg = &config;
	ropts.log = refresh_log;
	ropts.log_ctx = (void *)params->utils;
	ropts.mail_log = mail_log_wanted(params->utils) ? mail_log : NULL;
	u.c = c;
	u.params = params;
	u.user = ru == SASL_OK ? user : NULL;
	st = oa2_access_token_use(c->path, &ropts, use_token, &u, &info, &err);
	if (st != OA2_OK) {
		/* A token the provider handed us that cannot go on the wire. */
		if (u.wire_failed)
			snprintf(err.msg + strlen(err.msg),
			    sizeof(err.msg) - strlen(err.msg), " (%s)", c->path);
		return fail(params, &err);
	}
	c->grant = info.grant;
	rc = params->canon_user(params->utils->conn, u.sent, 0,
	    SASL_CU_AUTHID | SASL_CU_AUTHZID, oparams);
	if (rc != SASL_OK)
		return rc;
	*clientout = c->out.data;
	*clientoutlen = (unsigned)c->out.len;
	c->state = ST_SENT;
	return SASL_CONTINUE;
}

/*
 * app_fix - for an app-only token file, what lets the app use the mailbox
 * (there is no account that authorized the token); NULL for refresh_token
 */
static const char *
app_fix(enum oa2_grant_kind grant)
{
	switch (grant) {
	case OA2_GRANT_CLIENT_CREDENTIALS:
		return "the mail server does not let the app use this mailbox: "
		    "register the app's service principal in Exchange and give "
		    "it the mailbox (see: sasl-oauth2 explain "
		    "exchange_service_principal)";
	case OA2_GRANT_JWT_BEARER:
		return "the mail server does not let the service account use this "
		    "mailbox: give it domain-wide delegation for the mailbox (see: "
		    "sasl-oauth2 explain domain_wide_delegation)";
	default:
		return NULL;
	}
}

/* answer_error - the server refused the token: answer, mark stale, explain */
static int
answer_error(struct oa2_conn *c, const sasl_client_params_t *params,
    const char *serverin, unsigned serverinlen, const char **clientout,
    unsigned *clientoutlen)
{
	struct oa2_challenge ch;
	struct oa2_error err;
	char msg[OA2_ERR_MSG_MAX];
	struct oa2_buf sent = c->out;	/* the initial response, with the token */
	const char *access_token = NULL;
	const char *app;
	int stale = 0;

	oa2_buf_init(&c->out, sent.max);
	if ((c->mech == MECH_OAUTHBEARER && oa2_buf_putc(&c->out, 0x01) < 0) ||
	    (c->mech == MECH_XOAUTH2 && oa2_buf_append(&c->out, "", 0) < 0)) {
		oa2_buf_free(&c->out);
		c->out = sent;
		return SASL_NOMEM;
	}
	*clientout = c->out.data;
	*clientoutlen = (unsigned)c->out.len;
	c->state = ST_ANSWERED;
	/* The token we sent, cut out of the old message (its ^A becomes NUL). */
	if (c->tok_len > 0 && sent.data != NULL &&
	    c->tok_off + c->tok_len < sent.len) {
		sent.data[c->tok_off + c->tok_len] = 0;
		access_token = sent.data + c->tok_off;
	}

	if (oa2_wire_parse_challenge(serverin, serverinlen, &ch, &err) != OA2_OK) {
		snprintf(msg, sizeof(msg), "the mail server refused "
		    "authentication with a challenge that is not JSON (%s)",
		    err.msg);
		params->utils->seterror(params->utils->conn, 0, "sasl-oauth2: %s",
		    msg);
		oa2_buf_free(&sent);
		return SASL_CONTINUE;
	}
	if (oa2_wire_challenge_is_token_error(&ch) &&
	    oa2_mark_stale(c->path, access_token, &err) == OA2_OK)
		stale = 1;
	oa2_buf_free(&sent);
	app = app_fix(c->grant);
	snprintf(msg, sizeof(msg), "the mail server refused the access token from "
	    "%s (status %s%s%s)%s%s", c->path, ch.status,
	    ch.scope[0] ? ", scope " : "", ch.scope,
	    stale && app != NULL ? ": it is marked stale and the next attempt "
	    "gets a new one; if that is refused too, " :
	    stale ? ": it is marked stale and the next attempt refreshes it" :
	    oa2_wire_challenge_is_token_error(&ch) ? "" :
	    app != NULL ? ": the app-only token was issued, but " :
	    ": check that the user name matches the account that authorized "
	    "the token and that the scope allows mail (see: sasl-oauth2 explain "
	    "invalid_token)",
	    app != NULL && (stale || !oa2_wire_challenge_is_token_error(&ch)) ?
	    app : "");
	params->utils->seterror(params->utils->conn, 0, "sasl-oauth2: %s", msg);
	return SASL_CONTINUE;
}

/* mech_new - per-connection context */
static int
mech_new(void *glob_context, sasl_client_params_t *params, void **conn_context)
{
	struct oa2_conn *c;

	if ((c = params->utils->malloc(sizeof(*c))) == NULL)
		return SASL_NOMEM;
	memset(c, 0, sizeof(*c));
	c->mech = (enum oa2_mech)(long)glob_context;
	c->state = ST_START;
	oa2_buf_init(&c->out, 64 * 1024);
	*conn_context = c;
	return SASL_OK;
}

/* mech_step - one step of the exchange (see DESCRIPTION) */
static int
mech_step(void *conn_context, sasl_client_params_t *params,
    const char *serverin, unsigned serverinlen, sasl_interact_t **prompt_need,
    const char **clientout, unsigned *clientoutlen,
    sasl_out_params_t *oparams)
{
	struct oa2_conn *c = conn_context;
	int rc;

	*clientout = NULL;
	*clientoutlen = 0;
	switch (c->state) {
	case ST_START:
		if (serverinlen > 0)
			return fail_msg(params, OA2_ERR_PROTO, "protocol",
			    "the server sent data before the client's first message");
		if (params->props.min_ssf > params->external_ssf)
			return fail_msg(params, OA2_ERR_INPUT, "ssf",
			    "the application asks for a security layer, which "
			    "bearer token mechanisms do not provide");
		rc = start(c, params, prompt_need, clientout, clientoutlen, oparams);
		return rc;
	case ST_SENT:
		oparams->doneflag = 0;
		if (serverinlen == 0) {
			oparams->doneflag = 1;
			oparams->mech_ssf = 0;
			oparams->maxoutbuf = 0;
			oparams->encode = NULL;
			oparams->decode = NULL;
			oparams->param_version = 0;
			return SASL_OK;
		}
		return answer_error(c, params, serverin, serverinlen, clientout,
		    clientoutlen);
	case ST_ANSWERED:
	default:
		return fail_msg(params, OA2_ERR_PROTO, "protocol",
		    "the server sent another challenge after the error was "
		    "answered");
	}
}

/* mech_dispose - wipe and free the connection context */
static void
mech_dispose(void *conn_context, const sasl_utils_t *utils)
{
	struct oa2_conn *c = conn_context;

	if (c == NULL)
		return;
	if (c->path != NULL && c->path != c->pathbuf)
		oa2_free(c->path);
	if (c->user != NULL)
		oa2_free(c->user);
	oa2_buf_free(&c->out);
	utils->free(c);
}

/* mech_free - release the global state when libsasl shuts down */
static void
mech_free(void *glob_context, const sasl_utils_t *utils)
{
	if (config_refs > 0 && --config_refs == 0) {
		oa2_config_free(&config);
		oa2_token_cache_forget(NULL);	/* wipes the cached tokens */
	}
}

static sasl_client_plug_t plugins[] = {
	{
		.mech_name = "XOAUTH2",
		.max_ssf = 0,
		.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT,
		.features = SASL_FEAT_WANT_CLIENT_FIRST,
		.required_prompts = NULL,
		.glob_context = (void *)(long)MECH_XOAUTH2,
		.mech_new = mech_new,
		.mech_step = mech_step,
		.mech_dispose = mech_dispose,
		.mech_free = mech_free,
	},
	{
		.mech_name = "OAUTHBEARER",
		.max_ssf = 0,
		.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT,
		.features = SASL_FEAT_WANT_CLIENT_FIRST,
		.required_prompts = NULL,
		.glob_context = (void *)(long)MECH_OAUTHBEARER,
		.mech_new = mech_new,
		.mech_step = mech_step,
		.mech_dispose = mech_dispose,
		.mech_free = mech_free,
	},
};

int sasl_client_plug_init(const sasl_utils_t *utils, int maxversion,
    int *out_version, sasl_client_plug_t **pluglist, int *plugcount);

/* sasl_client_plug_init - entry point: check the ABI, read the configuration */
int
sasl_client_plug_init(const sasl_utils_t *utils, int maxversion,
    int *out_version, sasl_client_plug_t **pluglist, int *plugcount)
{
	if (maxversion < SASL_CLIENT_PLUG_VERSION) {
		plog(utils, SASL_LOG_ERR, "libsasl2 is too old for this plugin "
		    "(client plugin ABI version below 4)");
		return SASL_BADVERS;
	}
	if (config_refs == 0) {
		oa2_error_clear(&config_err);
		if (oa2_config_load(&config, oa2_config_path(), 0, &config_err)
		    != OA2_OK)
			plog(utils, SASL_LOG_ERR, config_err.msg);
	}
	config_refs += (int)(sizeof(plugins) / sizeof(plugins[0]));
	*out_version = SASL_CLIENT_PLUG_VERSION;
	*pluglist = plugins;
	*plugcount = (int)(sizeof(plugins) / sizeof(plugins[0]));
	return SASL_OK;
}
