/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_app 3
 * SUMMARY
 *	app-only grants: credential files and the token request
 * SYNOPSIS
 *	#include "oa2_app.h"
 *
 *	enum oa2_status oa2_app_token(s, path, allow_http, tr, err)
 *	enum oa2_status oa2_app_read_file(path, field, secret, out, err)
 *	enum oa2_status oa2_app_sa_parse(data, len, who, out, err)
 *	void	oa2_app_sa_free(sa)
 * DESCRIPTION
 *	A token file whose "grant" is "client_credentials" or "jwt_bearer"
 *	holds no refresh token: every access token is minted anew from the
 *	application's own credential, under the same lock, cache and
 *	refresh window as a refresh (oa2_refresh(3) calls oa2_app_token()
 *	where it would post a refresh_token grant).
 *
 *	client_credentials (RFC 6749 4.4; Microsoft Entra with Exchange
 *	Online, scope https://outlook.office365.com/.default, the default
 *	for provider "microsoft"): the client authenticates with its
 *	client_secret (as client_auth says), or, when client_key_file is
 *	set, with a client assertion (RFC 7523 2.2, private_key_jwt): iss =
 *	sub = client_id, aud = the token endpoint, a random jti, valid for
 *	OA2_APP_ASSERTION_LIFETIME s, signed with the key; with
 *	client_cert_file its thumbprints go in the header (x5t#S256, x5t),
 *	as Entra requires for a certificate credential.
 *
 *	jwt_bearer (RFC 7523 2.1; Google service accounts with domain-wide
 *	delegation): an assertion with iss = the service account
 *	(client_email of service_account_file, else client_id with
 *	client_key_file), sub = the token file's "user" (the mailbox the
 *	access token is for), scope (default https://mail.google.com/), aud
 *	= the token endpoint (the token file's or configuration's, else the
 *	key file's token_uri, else Google's), valid for an hour, kid =
 *	private_key_id.  No client authentication is sent.
 *
 *	oa2_app_read_file() reads a credential file into a wiped buffer: a
 *	regular file (a symbolic link is refused), at most
 *	OA2_APP_FILE_MAX bytes; with secret (a private key, a service
 *	account key), its mode must be 0600 or stricter and its owner the
 *	reading user (the mail system's user: the plugin runs as postfix).
 *	Each refusal is one OA2_ERR_INPUT line naming the file, the
 *	setting and the command that fixes it; err->code is "app_key".
 *
 *	oa2_app_sa_parse() reads the JSON of a Google service account key
 *	file: an object without duplicate members, "type" (when present)
 *	"service_account", non-empty strings client_email and private_key,
 *	optional strings private_key_id and token_uri (an https URL).  No
 *	message quotes a value.  Each problem is OA2_ERR_INPUT "app_key"
 *	(OA2_ERR_NOMEM "nomem" when memory ran out), nothing left allocated.
 * SECURITY
 *	Keys live in wiped buffers; the JSON document is wiped before it is
 *	freed; the signed assertion is a credential and is wiped too.  The
 *	token file holds the paths only, never a key.
 * STANDARDS
 *	RFC 6749 4.4, RFC 7521, RFC 7523.
 * SEE ALSO
 *	oa2_jwt(3), the signature; oa2_grant(3), the requests.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_app.h"
#include "oa2_grant.h"
#include "oa2_json.h"
#include "oa2_jwt.h"
#include "oa2_provider.h"

#define CODE		"app_key"
#define MS_APP_SCOPE	"https://outlook.office365.com/.default"

/* open_error - why a credential file could not be opened */
static enum oa2_status
open_error(const char *path, const char *field, int errnum,
    struct oa2_error *err)
{
	if (errnum == ENOENT)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: no such file (setting \"%s\"): give the path of the "
		    "file as the mail system sees it (inside a chroot, below it)",
		    path, field);
	if (errnum == ELOOP)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: is a symbolic link (setting \"%s\"): name the file "
		    "itself", path, field);
	if (errnum == EACCES)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: uid %ld may not read it (setting \"%s\"): chown %ld %s "
		    "and chmod 600 %s", path, (long)geteuid(), field,
		    (long)geteuid(), path, path);
	return oa2_error_set(err, OA2_ERR_INPUT, CODE, "%s: cannot open "
	    "(setting \"%s\"): %s", path, field, strerror(errnum));
}

/* check_file - regular, small, and for a secret private to the reader */
static enum oa2_status
check_file(const struct stat *sb, const char *path, const char *field,
    int secret, struct oa2_error *err)
{
	if (!S_ISREG(sb->st_mode))
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: not a regular file (setting \"%s\")", path, field);
	if (sb->st_size <= 0 || sb->st_size > OA2_APP_FILE_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: %s (setting \"%s\")", path, sb->st_size <= 0 ?
		    "is empty" : "is larger than 64 KiB", field);
	if (!secret)
		return OA2_OK;
	if (sb->st_mode & 077)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: mode %04o lets other users read the key (setting "
		    "\"%s\"): chmod 600 %s", path,
		    (unsigned)(sb->st_mode & 07777), field, path);
	if (sb->st_uid != geteuid())
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: owned by uid %ld, not by uid %ld that uses it (setting "
		    "\"%s\"): chown %ld %s", path, (long)sb->st_uid,
		    (long)geteuid(), field, (long)geteuid(), path);
	return OA2_OK;
}

/* oa2_app_read_file - a credential file into a wiped buffer */
enum oa2_status
oa2_app_read_file(const char *path, const char *field, int secret,
    struct oa2_buf *out, struct oa2_error *err)
{
	struct stat sb;
	enum oa2_status st;
	char	chunk[4096];
	ssize_t n;
	int	fd;

	oa2_buf_init(out, OA2_APP_FILE_MAX);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0)
		return open_error(path, field, errno, err);
	if (fstat(fd, &sb) < 0) {
		st = open_error(path, field, errno, err);
		goto out;
	}
	if ((st = check_file(&sb, path, field, secret, err)) != OA2_OK)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = open_error(path, field, errno, err);
			break;
		}
		if (oa2_buf_append(out, chunk, (size_t)n) < 0) {
			st = out->len + (size_t)n > OA2_APP_FILE_MAX ?
			    oa2_error_set(err, OA2_ERR_INPUT, CODE,
			    "%s: is larger than 64 KiB (setting \"%s\")", path,
			    field) :
			    oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
			    "out of memory");
			break;
		}
	}
out:
	oa2_wipe(chunk, sizeof(chunk));
	close(fd);
	if (st != OA2_OK)
		oa2_buf_free(out);
	return st;
}

void
oa2_app_sa_free(struct oa2_sa *sa)
{
	oa2_free(sa->client_email);
	oa2_free_secret(&sa->private_key);
	oa2_free(sa->private_key_id);
	oa2_free(sa->token_uri);
	memset(sa, 0, sizeof(*sa));
}

/* sa_str - a string member: required non-empty, or optional */
static enum oa2_status
sa_str(json_t *root, const char *key, int required, char **dst,
    const char *who, struct oa2_error *err)
{
	json_t *v = json_object_get(root, key);
	size_t	n;

	if (v == NULL && !required)
		return OA2_OK;
	if (v == NULL || !json_is_string(v) || (n = json_string_length(v)) == 0 ||
	    strlen(json_string_value(v)) != n)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: \"%s\" is %s: download a new JSON key for the service "
		    "account (Google Cloud console, IAM, Service accounts, "
		    "Keys)", who, key, v == NULL ? "missing" :
		    !json_is_string(v) ? "not a string" : "empty or holds NUL");
	if ((*dst = oa2_strndup(json_string_value(v), n)) == NULL)
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory");
	return OA2_OK;
}

/* oa2_app_sa_parse - a Google service account key file */
enum oa2_status
oa2_app_sa_parse(const char *data, size_t len, const char *who,
    struct oa2_sa *out, struct oa2_error *err)
{
	json_error_t je;
	enum oa2_status st;
	json_t *root, *type;
	int	nomem = 0;

	memset(out, 0, sizeof(*out));
	if (len > OA2_APP_FILE_MAX)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: is larger than 64 KiB: not a service account key", who);
	root = oa2_json_loadb(data, len, JSON_REJECT_DUPLICATES, &je, &nomem);
	if (root == NULL)
		return nomem ? oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
		    "out of memory") : oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: not valid JSON (line %d, column %d): not a service "
		    "account key file", who, je.line, je.column);
	type = json_object_get(root, "type");
	if (!json_is_object(root))
		st = oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: is not a JSON object: not a service account key file",
		    who);
	else if (type != NULL && (!json_is_string(type) ||
	    strcmp(json_string_value(type), "service_account") != 0))
		st = oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: \"type\" is not \"service_account\": give the JSON key "
		    "of a service account", who);
	else if ((st = sa_str(root, "client_email", 1, &out->client_email, who,
	    err)) == OA2_OK &&
	    (st = sa_str(root, "private_key", 1, &out->private_key, who,
	    err)) == OA2_OK &&
	    (st = sa_str(root, "private_key_id", 0, &out->private_key_id, who,
	    err)) == OA2_OK &&
	    (st = sa_str(root, "token_uri", 0, &out->token_uri, who,
	    err)) == OA2_OK && out->token_uri != NULL &&
	    (strncmp(out->token_uri, "https://", 8) != 0 ||
	    strlen(out->token_uri) >= OA2_URL_MAX))
		st = oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: \"token_uri\" is not an https URL: download a new JSON "
		    "key", who);
	if (st == OA2_OK && out->private_key_id != NULL &&
	    strlen(out->private_key_id) >= 128)
		st = oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "%s: \"private_key_id\" is too long", who);
	oa2_json_wipe_decref(root);
	if (st != OA2_OK)
		oa2_app_sa_free(out);
	return st;
}

/* load_key - the signing key from a PEM file, with its certificate if any */
static enum oa2_status
load_key(const struct oa2_settings *s, const char *pem, size_t pem_len,
    const char *who, struct oa2_jwt_key *k, struct oa2_error *err)
{
	struct oa2_buf cert;
	enum oa2_jwt_alg alg;
	enum oa2_status st;

	if (oa2_jwt_alg_parse(s->jwt_alg, &alg) < 0)
		return oa2_error_set(err, OA2_ERR_INPUT, CODE,
		    "setting \"jwt_alg\" must be RS256, PS256 or ES256");
	if (s->client_cert_file == NULL || s->service_account_file != NULL)
		return oa2_jwt_key_load(k, pem, pem_len, NULL, 0, alg, who, err);
	if ((st = oa2_app_read_file(s->client_cert_file,
	    OA2_SETTING_NAME(OA2_S_CLIENT_CERT_FILE), 0, &cert, err)) != OA2_OK)
		return st;
	st = oa2_jwt_key_load(k, pem, pem_len, cert.data, cert.len, alg, who,
	    err);
	oa2_buf_free(&cert);
	return st;
}

/* need - a setting an app-only grant cannot do without */
static enum oa2_status
need(const char *path, const char *grant, const char *what,
    struct oa2_error *err)
{
	return oa2_error_set(err, OA2_ERR_INPUT, "token_file",
	    "%s: grant \"%s\" needs %s: sasl-oauth2 connect-app writes it",
	    path, grant, what);
}

/* sign - the assertion for the grant in s */
static enum oa2_status
sign(const struct oa2_settings *s, const char *aud,
    const struct oa2_sa *sa, struct oa2_buf *jwt, struct oa2_error *err)
{
	struct oa2_jwt_claims c = {0};
	struct oa2_jwt_key k;
	struct oa2_buf pem;
	enum oa2_status st;
	const char *who;

	c.aud = aud;
	c.iat = (long long)time(NULL);
	if (s->grant == OA2_GRANT_CLIENT_CREDENTIALS) {
		c.iss = c.sub = s->client_id;
		c.lifetime = OA2_APP_ASSERTION_LIFETIME;
		c.jti = c.nbf = 1;
	} else {
		c.iss = sa != NULL ? sa->client_email : s->client_id;
		c.sub = s->user;
		c.scope = s->scope != NULL ? s->scope : OA2_APP_GOOGLE_SCOPE;
		c.lifetime = OA2_APP_GRANT_LIFETIME;
	}
	if (sa != NULL) {
		who = s->service_account_file;
		st = oa2_jwt_key_load(&k, sa->private_key,
		    strlen(sa->private_key), NULL, 0, OA2_JWT_AUTO, who, err);
		if (st == OA2_OK && sa->private_key_id != NULL)
			snprintf(k.kid, sizeof(k.kid), "%s", sa->private_key_id);
	} else {
		who = s->client_key_file;
		if ((st = oa2_app_read_file(who,
		    OA2_SETTING_NAME(OA2_S_CLIENT_KEY_FILE), 1, &pem,
		    err)) != OA2_OK)
			return st;
		st = load_key(s, pem.data, pem.len, who, &k, err);
		oa2_buf_free(&pem);
	}
	if (st != OA2_OK)
		return st;
	st = oa2_jwt_sign(&k, &c, jwt, err);
	oa2_jwt_key_free(&k);
	return st;
}

/* client_credentials - RFC 6749 4.4 with a secret or an assertion */
static enum oa2_status
client_credentials(const struct oa2_settings *s, const char *path,
    struct oa2_client *c, struct oa2_tokresp *tr, struct oa2_error *err)
{
	struct oa2_buf jwt = {0};
	enum oa2_status st;

	if ((st = oa2_settings_require(s, path, err)) != OA2_OK)
		return st;
	if (c->scope == NULL && s->preset != NULL &&
	    strcmp(s->preset->name, "microsoft") == 0)
		c->scope = MS_APP_SCOPE;
	if (s->client_key_file != NULL) {
		if ((st = sign(s, c->token_endpoint, NULL, &jwt,
		    err)) != OA2_OK)
			return st;
		c->client_assertion = jwt.data;
		c->client_secret = NULL;
	} else if (s->client_secret == NULL)
		return need(path, "client_credentials",
		    "\"client_secret\" or \"client_key_file\"", err);
	st = oa2_grant_client_credentials(c, tr, err);
	oa2_buf_free(&jwt);
	return st;
}

/* jwt_bearer - RFC 7523 2.1 for the mailbox in "user" */
static enum oa2_status
jwt_bearer(const struct oa2_settings *s, const char *path,
    struct oa2_client *c, struct oa2_tokresp *tr, struct oa2_error *err)
{
	struct oa2_buf data, jwt = {0};
	struct oa2_sa sa = {0};
	enum oa2_status st;
	int	have_sa = s->service_account_file != NULL;

	if (s->user == NULL || *s->user == 0)
		return need(path, "jwt_bearer", "\"user\", the mailbox", err);
	if (!have_sa && (s->client_key_file == NULL || s->client_id == NULL))
		return need(path, "jwt_bearer", "\"service_account_file\" (or "
		    "\"client_key_file\" and \"client_id\")", err);
	if (have_sa) {
		if ((st = oa2_app_read_file(s->service_account_file,
		    OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE), 1, &data,
		    err)) != OA2_OK)
			return st;
		st = oa2_app_sa_parse(data.data, data.len,
		    s->service_account_file, &sa, err);
		oa2_buf_free(&data);
		if (st != OA2_OK)
			return st;
	}
	if (c->token_endpoint == NULL)
		c->token_endpoint = sa.token_uri != NULL ? sa.token_uri :
		    s->endpoint_problem == OA2_EP_MISSING ?
		    OA2_APP_GOOGLE_TOKEN_URI : NULL;
	if (c->token_endpoint == NULL)
		st = oa2_settings_require(s, path, err);
	else
		st = sign(s, c->token_endpoint, have_sa ? &sa : NULL,
		    &jwt, err);
	if (st == OA2_OK) {
		st = oa2_grant_jwt_bearer(c, jwt.data, tr, err);
		oa2_buf_free(&jwt);
	}
	oa2_app_sa_free(&sa);
	return st;
}

/* oa2_app_token - one token request for an app-only grant */
enum oa2_status
oa2_app_token(const struct oa2_settings *s, const char *path,
    int allow_http, struct oa2_tokresp *tr, struct oa2_error *err)
{
	struct oa2_client c;

	memset(tr, 0, sizeof(*tr));
	oa2_client_from_settings(&c, s);
	c.http.allow_http = allow_http;
	switch (s->grant) {
	case OA2_GRANT_CLIENT_CREDENTIALS:
		return client_credentials(s, path, &c, tr, err);
	case OA2_GRANT_JWT_BEARER:
		return jwt_bearer(s, path, &c, tr, err);
	case OA2_GRANT_REFRESH:
		break;
	}
	return oa2_error_set(err, OA2_ERR_INTERNAL, "grant",
	    "%s: oa2_app_token() called for a refresh_token grant (a bug)",
	    path);
}
