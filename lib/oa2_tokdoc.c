/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokdoc 3
 * SUMMARY
 *	token file: the document (parse, validate, views, edits)
 * SYNOPSIS
 *	#include "oa2_tokfile.h"
 *
 *	enum oa2_status oa2_token_parse(tok, path, data, len, err)
 *	enum oa2_status oa2_token_update(tok, access_token, expiry,
 *					refresh_token, err)
 *	enum oa2_status oa2_token_set_string(tok, name, value, err)
 *	enum oa2_status oa2_token_new(tok, err)
 *	const char *oa2_token_str(tok, id)
 *	void	oa2_token_free(tok)
 * DESCRIPTION
 *	oa2_token_parse() checks a document held in memory.  Members the
 *	settings table (oa2_settings(3)) lists for the token file must have
 *	their type there; a JSON null in an optional member counts as
 *	absent.  Every other member is kept, in order, and written back
 *	unchanged.  The views in struct oa2_token point into the document
 *	and are derived again after every change.
 *
 *	oa2_token_update() and oa2_token_set_string() change the document all
 *	at once or not at all: the new values are built first, applied to a
 *	shallow copy, and the copy replaces the document only when every step
 *	succeeded.  A NULL or empty new refresh token keeps the old one.  Each
 *	change counts in tok->edits.
 *
 *	oa2_token_update() sets access_token, expiry (as a string) and the
 *	new refresh token.
 *	oa2_token_str() is the string member of a setting, or NULL.
 *	oa2_token_free() releases the document with oa2_json_wipe_decref(),
 *	which wipes its strings.
 * DIAGNOSTICS
 *	Each failure fills *err with one line that starts with the file,
 *	names the field at fault and says what to do.  Status OA2_ERR_INPUT
 *	with code "token_file" for anything the administrator must fix,
 *	OA2_ERR_NOMEM when memory ran out (also when jansson hid an
 *	allocation failure: its lexer drops bytes rather than fail, so any
 *	failed allocation during a parse or a dump fails the operation),
 *	OA2_ERR_INTERNAL for a misuse by the caller.
 * SECURITY
 *	No message ever quotes a value from the file: jansson's error text
 *	is cut before its "near '...'" part, which can hold a token.
 *	Documents are released with oa2_json_wipe_decref(), which zeroes
 *	their strings first (oa2_json(3) says what jansson still leaves).
 * SEE ALSO
 *	oa2_tokfile(3); sasl-oauth2-token(5), the file format.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "oa2_tokpriv.h"

#define TF_REAUTH	"re-run sasl-oauth2 authorize"

#define VIEW(m)	offsetof(struct oa2_token, m)

/* The settings the document has a view for (0: none). */
static const size_t views[OA2_S_COUNT] = {
	[OA2_S_REFRESH_TOKEN] = VIEW(refresh_token),
	[OA2_S_ACCESS_TOKEN] = VIEW(access_token),
	[OA2_S_USER] = VIEW(user),
	[OA2_S_CLIENT_ID] = VIEW(client_id),
	[OA2_S_CLIENT_SECRET] = VIEW(client_secret),
	[OA2_S_TOKEN_ENDPOINT] = VIEW(token_endpoint),
	[OA2_S_PROXY] = VIEW(proxy),
	[OA2_S_CA_BUNDLE_FILE] = VIEW(ca_bundle_file),
	[OA2_S_CA_CERTS_DIR] = VIEW(ca_certs_dir),
	[OA2_S_PROVIDER] = VIEW(provider),
	[OA2_S_TENANT] = VIEW(tenant),
	[OA2_S_SCOPE] = VIEW(scope),
	[OA2_S_CLIENT_AUTH] = VIEW(client_auth),
};

/* token_row - the settings row of a token file member, or NULL */
static const struct oa2_setting_def *
token_row(const char *name)
{
	const struct oa2_setting_def *d = oa2_setting_find(name);

	return (d != NULL && (d->where & OA2_IN_TOKEN) ? d : NULL);
}

/* number_value - expiry/refresh_window as a number; -1 if malformed */
static int
number_value(const json_t *v, long long *out)
{
	return (oa2_setting_digits(v, LLONG_MAX, out));
}

/* utf8_valid - true if s is well-formed UTF-8 as jansson accepts it */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	unsigned long cp;
	int     n, i;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1, cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2, cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3, cp = *p & 0x07;
		} else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
		    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		p += n + 1;
	}
	return (1);
}


/* check_member - one known member against its type; who prefixes the message */
static enum oa2_status
check_member(const struct oa2_setting_def *f, const json_t *v,
	             const char *who, struct oa2_error *err)
{
	enum oa2_grant_kind g;
	const char *s;
	long long n;

	if (f->type == OA2_T_REQUIRED) {
		if (v == NULL)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			       "%s: field \"%s\" is missing: " TF_REAUTH,
					      who, f->name));
		if (!json_is_string(v))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			     "%s: field \"%s\" must be a string, not %s: "
					      TF_REAUTH, who, f->name,
					      oa2_setting_type_name(v)));
		if (*json_string_value(v) == 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			       "%s: field \"%s\" is empty: " TF_REAUTH,
					      who, f->name));
		return (OA2_OK);
	}
	/* Optional members: absent or null means "not set". */
	if (v == NULL || json_is_null(v))
		return (OA2_OK);
	switch (f->type) {
	case OA2_T_STRING:
		if (!json_is_string(v))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: field \"%s\" must be a string, not %s",
					      who, f->name,
					      oa2_setting_type_name(v)));
		break;
	case OA2_T_CLIENT_AUTH:
		s = json_string_value(v);
		if (s == NULL || (*s && strcmp(s, "post") != 0
				  && strcmp(s, "basic") != 0))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: field \"%s\" must be \"post\" or \"basic\"",
					      who, f->name));
		break;
	case OA2_T_EPOCH:
		if (number_value(v, &n) < 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			"%s: field \"%s\" must be a string of digits (epoch "
					      "seconds)", who, f->name));
		break;
	case OA2_T_SECONDS:
		if (number_value(v, &n) < 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: field \"%s\" must be a number of seconds (an "
					"integer or a string of digits >= 0)",
					      who, f->name));
		break;
	case OA2_T_GRANT:
		if (oa2_grant_kind_parse(json_string_value(v), &g) < 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			       "%s: field \"%s\" must be \"refresh_token\", "
				   "\"client_credentials\" or \"jwt_bearer\"",
					      who, f->name));
		break;
	case OA2_T_REQUIRED:
	case OA2_T_LOG_LEVEL:
	case OA2_T_BOOL:
	case OA2_T_IGNORED:
	case OA2_T_NOTE:
		break;
	}
	return (OA2_OK);
}

/* app_only - the document names an app-only grant (no refresh token) */
static int
app_only(const json_t *root)
{
	enum oa2_grant_kind g;

	return (oa2_grant_kind_parse(json_string_value(json_object_get(root,
			   OA2_SETTING_NAME(OA2_S_GRANT))), &g) == 0
		&& g != OA2_GRANT_REFRESH);
}

/* oa2_tokdoc_check - every known member of root; who prefixes the message */
enum oa2_status
oa2_tokdoc_check(const json_t *root, const char *who, struct oa2_error *err)
{
	const struct oa2_setting_def *f;
	enum oa2_status st;

	if (!json_is_object(root))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is not a JSON object: a token file "
				      "holds one {...} object", who));
	for (f = oa2_settings_table; f < oa2_settings_table + OA2_S_COUNT; f++)
		if ((f->where & OA2_IN_TOKEN)
		    && !(f->type == OA2_T_REQUIRED && app_only(root)
			 && json_object_get(root, f->name) == NULL)
		    && (st = check_member(f, json_object_get(root, f->name),
					  who, err)) != OA2_OK)
			return (st);
	return (OA2_OK);
}

/* sync_views - derive every view of tok from tok->root (checked already) */
static void
sync_views(struct oa2_token *tok)
{
	const json_t *v;
	size_t  i;
	long long n;

	tok->expiry = 0;
	tok->refresh_window = -1;
	tok->expires_in = -1;
	if ((v = json_object_get(tok->root, OA2_SETTING_NAME(OA2_S_EXPIRES_IN)))
	    != NULL && number_value(v, &n) == 0)
		tok->expires_in = n;
	if ((v = json_object_get(tok->root, OA2_SETTING_NAME(OA2_S_EXPIRY)))
	    != NULL && number_value(v, &n) == 0)
		tok->expiry = n;
	if ((v = json_object_get(tok->root,
			       OA2_SETTING_NAME(OA2_S_REFRESH_WINDOW))) != NULL
	    && number_value(v, &n) == 0)
		tok->refresh_window = n;
	for (i = 0; i < OA2_S_COUNT; i++)
		if (views[i] != 0)
			*(const char **) ((char *) tok + views[i]) =
				json_string_value(json_object_get(tok->root,
					       oa2_settings_table[i].name));
}

/*
 * oa2_tokdoc_loadb - json_loadb that tells out-of-memory apart: jansson's
 * lexer can drop a byte of a string when an allocation fails and still
 * return a document; oa2_json_loadb() catches that (oa2_json(3)), and such
 * a document must never be saved.
 */
json_t *
oa2_tokdoc_loadb(const char *data, size_t len, json_error_t *je, int *nomem)
{
	return (oa2_json_loadb(data, len, JSON_REJECT_DUPLICATES, je, nomem));
}

/* oa2_tokdoc_dumps - the text of root in a malloc'ed block, or NULL */
char   *
oa2_tokdoc_dumps(json_t *root, size_t flags)
{
	return (oa2_json_dumps(root, flags, NULL));
}

/* token_init - an empty, safely freeable token */
static void
token_init(struct oa2_token *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->root = NULL;
	tok->refresh_window = -1;
	tok->expires_in = -1;
}

/* normalize_expiry - a numeric expiry becomes the string we always write */
static enum oa2_status
normalize_expiry(json_t *root, const char *path, struct oa2_error *err)
{
	json_t *v = json_object_get(root, OA2_SETTING_NAME(OA2_S_EXPIRY));
	char    num[32];

	if (!json_is_integer(v))
		return (OA2_OK);
	snprintf(num, sizeof(num), "%lld", (long long) json_integer_value(v));
	/* Replacing a member allocates nothing but the new string. */
	if (json_object_set_new(root, OA2_SETTING_NAME(OA2_S_EXPIRY),
	    json_string(num)) < 0)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				  "%s: out of memory while parsing it", path));
	return (OA2_OK);
}

/* json_reason - jansson's error text without anything quoted from the input */
static void
json_reason(const json_error_t *je, char *out, size_t outsz)
{
	static const char dup[] = "duplicate object key";
	const struct oa2_setting_def *f;
	const char *near;
	char    key[32];
	size_t  n;

	near = strstr(je->text, " near ");
	n = near ? (size_t) (near - je->text) : strlen(je->text);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, je->text, n);
	out[n] = 0;

	/*
	 * What follows "near" is input, and may be a token.  Only for a
	 * duplicate key that is one of our own field names is it worth (and
	 * safe) to repeat: name that field.
	 */
	if (near == NULL || strcmp(out, dup) != 0
	    || sscanf(near, " near '\"%31[a-z_]\"'", key) != 1)
		return;
	n = strlen(key);
	if (strncmp(near + 8 + n, "\"'", 3) == 0 && (f = token_row(key)) != NULL)
		snprintf(out, outsz, "%s \"%s\"", dup, f->name);
}

/* oa2_token_parse - check a document in memory and fill tok */
enum oa2_status
oa2_token_parse(struct oa2_token *tok, const char *path, const char *data,
		        size_t len, struct oa2_error *err)
{
	json_error_t je;
	json_t *root;
	char    why[JSON_ERROR_TEXT_LENGTH];
	enum oa2_status st;
	size_t  i;
	int     nomem;

	token_init(tok);

	for (i = 0; i < len; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n'
		    && data[i] != '\r')
			break;
	if (i == len)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is empty", path));
	if (len > OA2_TOKFILE_MAX)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is larger than %d bytes", path,
				      OA2_TOKFILE_MAX));

	memset(&je, 0, sizeof(je));
	if ((root = oa2_tokdoc_loadb(data, len, &je, &nomem)) == NULL) {
		if (nomem)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				  "%s: out of memory while parsing it", path));
		json_reason(&je, why, sizeof(why));
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: not valid JSON (line %d, column %d: %s)",
				      path, je.line, je.column, why));
	}
	if ((st = oa2_tokdoc_check(root, path, err)) != OA2_OK
	    || (st = normalize_expiry(root, path, err)) != OA2_OK) {
		oa2_json_wipe_decref(root);
		return (st);
	}
	tok->root = root;
	sync_views(tok);
	return (OA2_OK);
}


/* shallow_copy - same members in the same order; NULL on failure */
static json_t *
shallow_copy(json_t *root)
{
	const char *key;
	json_t *copy, *v;

	/* Not json_copy(): it ignores failures to add a member. */
	if ((copy = json_object()) == NULL)
		return (NULL);
	json_object_foreach(root, key, v) {
		if (json_object_set_nocheck(copy, key, v) < 0) {
			oa2_json_wipe_decref(copy);
			return (NULL);
		}
	}
	if (json_object_size(copy) != json_object_size(root)) {
		oa2_json_wipe_decref(copy);
		return (NULL);
	}
	return (copy);
}

/* oa2_token_update - new access token and expiry, maybe a new refresh token */
enum oa2_status
oa2_token_update(struct oa2_token *tok, const char *access_token,
		         long long expiry, const char *refresh_token,
		         struct oa2_error *err)
{
	json_t *at = NULL, *ex = NULL, *rt = NULL, *copy = NULL;
	char    num[32];
	int     ok;

	if (tok == NULL || tok->root == NULL || access_token == NULL
	    || expiry < 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				   "oa2_token_update: bad arguments (a bug)"));
	if (!utf8_valid(access_token)
	    || (refresh_token != NULL && !utf8_valid(refresh_token)))
		return (oa2_error_set(err, OA2_ERR_PROTO, TF_CODE,
				  "the new token is not valid UTF-8: the token "
				      "file was not changed"));
	snprintf(num, sizeof(num), "%lld", expiry);

	/* Build everything first; the document changes only at the end. */
	at = json_string(access_token);
	ex = json_string(num);
	if (refresh_token != NULL && *refresh_token != 0)
		rt = json_string(refresh_token);
	ok = at != NULL && ex != NULL
		&& (rt != NULL || refresh_token == NULL || *refresh_token == 0);
	if (ok)
		copy = shallow_copy(tok->root);
	if (!ok || copy == NULL) {
		oa2_json_wipe_decref(at);
		oa2_json_wipe_decref(ex);
		oa2_json_wipe_decref(rt);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
		    "out of memory updating the token: nothing was changed"));
	}
	/* json_object_set_new() consumes the value even when it fails. */
	ok = json_object_set_new(copy, OA2_SETTING_NAME(OA2_S_ACCESS_TOKEN),
				 at) == 0;
	ok = (json_object_set_new(copy, OA2_SETTING_NAME(OA2_S_EXPIRY), ex)
	      == 0) && ok;
	if (rt != NULL)
		ok = (json_object_set_new(copy,
				  OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN), rt)
		      == 0) && ok;
	if (!ok) {
		oa2_json_wipe_decref(copy);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
		    "out of memory updating the token: nothing was changed"));
	}
	oa2_json_wipe_decref(tok->root);
	tok->root = copy;
	tok->edits++;
	sync_views(tok);
	return (OA2_OK);
}

/* oa2_token_set_string - set or remove one member, checked like the file */
enum oa2_status
oa2_token_set_string(struct oa2_token *tok, const char *name,
		             const char *value, struct oa2_error *err)
{
	const struct oa2_setting_def *f;
	enum oa2_status st;
	json_t *v, *old;

	if (tok == NULL || tok->root == NULL || name == NULL || *name == 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
			       "oa2_token_set_string: bad arguments (a bug)"));
	if (!utf8_valid(name) || (value != NULL && !utf8_valid(value)))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "token file: field \"%s\": not valid "
				      "UTF-8", utf8_valid(name) ? name : "?"));
	f = token_row(name);
	if (value == NULL) {
		if (f != NULL && f->type == OA2_T_REQUIRED)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				 "token file: field \"%s\" cannot be removed",
					      name));
		/* The old value may be a secret: wiped, not just freed. */
		old = json_incref(json_object_get(tok->root, name));
		if (json_object_del(tok->root, name) == 0)
			tok->edits++;
		oa2_json_wipe_decref(old);
		sync_views(tok);
		return (OA2_OK);
	}
	if ((v = json_string(value)) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			   "out of memory setting field \"%s\": nothing was "
				      "changed", name));
	if (f != NULL && (st = check_member(f, v, "token file", err)) != OA2_OK) {
		oa2_json_wipe_decref(v);
		return (st);
	}
	/* Replacing a member allocates nothing; adding one fails cleanly. */
	old = json_incref(json_object_get(tok->root, name));
	if (json_object_set_new(tok->root, name, v) < 0) {
		json_decref(old);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			   "out of memory setting field \"%s\": nothing was "
				      "changed", name));
	}
	oa2_json_wipe_decref(old);
	tok->edits++;
	sync_views(tok);
	return (OA2_OK);
}

/* oa2_token_new - an empty document */
enum oa2_status
oa2_token_new(struct oa2_token *tok, struct oa2_error *err)
{
	token_init(tok);
	if ((tok->root = json_object()) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				 "out of memory creating a token document"));
	return (OA2_OK);
}

/* oa2_token_free - release the document (its strings are wiped) */
void
oa2_token_free(struct oa2_token *tok)
{
	if (tok == NULL)
		return;
	oa2_json_wipe_decref(tok->root);
	token_init(tok);
}


/* oa2_token_str - the string member of a setting, or NULL */
const char *
oa2_token_str(const struct oa2_token *tok, enum oa2_setting_id id)
{
	if (tok == NULL || tok->root == NULL || id >= OA2_S_COUNT)
		return (NULL);
	return (json_string_value(json_object_get(tok->root,
					      oa2_settings_table[id].name)));
}
