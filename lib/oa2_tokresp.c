/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokresp 3
 * SUMMARY
 *	parser for OAuth 2.0 token endpoint responses (RFC 6749 5.1, 5.2)
 * SYNOPSIS
 *	#include "oa2_tokresp.h"
 *
 *	enum oa2_status oa2_tokresp_parse(body, len, http_status, out, err)
 *	const char *body;
 *	size_t	len;
 *	long	http_status;
 *	struct oa2_tokresp *out;
 *	struct oa2_error *err;
 *
 *	void	oa2_tokresp_free(r)
 *	struct oa2_tokresp *r;
 * DESCRIPTION
 *	oa2_tokresp_parse() decodes the body of a token endpoint reply
 *	(at most 1 MiB of JSON) in the light of its HTTP status.  out is
 *	cleared first; whatever it held before is not freed.
 *
 *	A success is a 2xx status and a JSON object with a string
 *	"access_token" that oa2_wire_check_token() accepts and no "error"
 *	member (a JSON null "error" counts as none).  Then access_token,
 *	token_type and scope (NULL when absent or not strings),
 *	refresh_token (NULL when absent, null or empty: the old one stays
 *	valid, as Google does not rotate; when present the caller must
 *	persist it: Microsoft and oidc-provider rotate) and expires_in are
 *	filled; error and error_description are NULL.  expires_in is 0 when
 *	absent; a JSON integer, a JSON real
 *	(rounded down) or a string of 1 to 10 digits (old Azure AD) is
 *	accepted when it is not negative and at most ten years.
 *
 *	An OAuth error reply is any object with a string "error", whatever
 *	the status (a 2xx carrying "error" is an error too).  Then only
 *	error and error_description are filled, both cleaned as described
 *	below, and err->code is the error word when it is a plain word.
 *	The class comes from the word: OA2_ERR_PERM for invalid_request,
 *	invalid_client, invalid_grant, unauthorized_client,
 *	unsupported_grant_type, invalid_scope, access_denied and (RFC 8628)
 *	expired_token; OA2_ERR_TEMP for server_error,
 *	temporarily_unavailable and (RFC 8628) authorization_pending and
 *	slow_down.  An unknown word is OA2_ERR_TEMP under HTTP 5xx, 408 and
 *	429, OA2_ERR_PERM otherwise.
 *
 *	Anything else is not a usable reply.  Under HTTP 5xx, 408 and 429
 *	that is OA2_ERR_TEMP with code "http_NNN"; under another non-2xx
 *	status OA2_ERR_PROTO with code "http_NNN"; under 2xx (no JSON, a
 *	truncated body, not an object, no or a bad access_token, a bad
 *	expires_in or refresh_token) OA2_ERR_PROTO with code
 *	"bad_response".  On every failure the access token, token type and
 *	scope are NULL, and so is the refresh token, except after such an
 *	unusable 2xx reply that carried a usable new refresh token: a server
 *	that rotates may have retired the old one already, so the caller
 *	must store it (nothing lost).  Nothing else is left allocated in out
 *	but the two error fields.
 *
 *	oa2_tokresp_free() wipes every string, frees it and clears r; it
 *	may be called on a cleared, a filled or a failed result.
 * DIAGNOSTICS
 *	Messages are one line, for example
 * .nf
 *	token endpoint refused the request (HTTP 400): invalid_grant
 *	("Token has been expired or revoked.")
 *	token endpoint answered HTTP 503
 *	token endpoint reply is not JSON (line 1, column 1)
 * .fi
 *	error_description is quoted, cut to 200 bytes on a character
 *	boundary (ending in "..." when cut), with control characters
 *	removed (tabs and line breaks become spaces) and double quotes
 *	turned into single ones.  OA2_ERR_NOMEM with code "nomem" when
 *	memory runs out, OA2_ERR_INTERNAL "internal" for bad arguments.
 * SECURITY
 *	No message holds a token.  The decoder's own error text is never
 *	quoted (jansson shows the bytes near the error, and those may be
 *	a token in a truncated reply); a description that contains the
 *	reply's own access, refresh or ID token is withheld.  The parsed
 *	document is released with oa2_json_wipe_decref(), so its tokens are
 *	zeroed before jansson frees them (oa2_json(3) names what jansson's
 *	lexer still leaves).
 * STANDARDS
 *	RFC 6749 sections 5.1 and 5.2; RFC 8628 section 3.5.
 * SEE ALSO
 *	oa2_wire(3), oa2_http(3), oa2_refresh(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdio.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_tokresp.h"
#include "oa2_wire.h"

#define TOKRESP_MAX	OA2_BUF_DEFAULT_MAX	/* largest body we decode */
#define EXPIRES_MAX	(10LL * 365 * 24 * 3600)	/* ten years */
#define DESC_MAX	200			/* error_description, as shown */
#define WORD_MAX	(OA2_ERR_CODE_MAX - 1)	/* error word, as kept */

/* RFC 6749 5.2 and RFC 8628 3.5 error words, and what they mean to us. */
static const struct error_word {
	const char *word;
	enum oa2_status status;
} error_words[] = {
	{"invalid_request", OA2_ERR_PERM},
	{"invalid_client", OA2_ERR_PERM},
	{"invalid_grant", OA2_ERR_PERM},
	{"unauthorized_client", OA2_ERR_PERM},
	{"unsupported_grant_type", OA2_ERR_PERM},
	{"invalid_scope", OA2_ERR_PERM},
	{"access_denied", OA2_ERR_PERM},
	{"expired_token", OA2_ERR_PERM},
	{"server_error", OA2_ERR_TEMP},
	{"temporarily_unavailable", OA2_ERR_TEMP},
	{"authorization_pending", OA2_ERR_TEMP},
	{"slow_down", OA2_ERR_TEMP},
};

/* is_2xx - HTTP success */
static int
is_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* is_temp_status - HTTP statuses worth a retry later: 5xx, 408, 429 */
static int
is_temp_status(long status)
{
	return (status >= 500 && status <= 599) || status == 408
	    || status == 429;
}

/* is_code_word - a word fit for err->code: 1..WORD_MAX of [A-Za-z0-9_.-] */
static int
is_code_word(const char *s)
{
	size_t	n;

	for (n = 0; s[n] != 0; n++) {
		if (n >= WORD_MAX)
			return 0;
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
		    || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'
		    || s[n] == '-' || s[n] == '.'))
			return 0;
	}
	return n > 0;
}

/* clean_text - copy peer text for display: no controls, '"' -> '\'', cut to max */
static char *
clean_text(const char *s, size_t len, size_t max)
{
	unsigned char c;
	size_t	i, n;
	int	cut = 0;
	char   *d;

	if ((d = oa2_malloc(max + 1)) == NULL)
		return NULL;
	for (n = i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		/*
		 * C1 controls (U+0080..U+009F) are two bytes in UTF-8: drop
		 * the pair as it stands in the copy, so that dropping bytes
		 * of text that is not UTF-8 (a query) cannot join one.
		 */
		if (c >= 0x80 && c <= 0x9f && n > 0
		    && (unsigned char)d[n - 1] == 0xc2) {
			n--;
			continue;
		}
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			continue;
		else if (c == '"')
			c = '\'';
		if (n == max) {
			cut = 1;
			break;
		}
		d[n++] = (char)c;
	}
	if (cut && max >= 3) {
		/* Drop whole characters only, then mark the cut. */
		n = max - 3;
		while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
			n--;
		memcpy(d + n, "...", 3);
		n += 3;
	}
	d[n] = 0;
	return d;
}

/* shows_token - true if text quotes a token of this very reply */
static int
shows_token(const char *text, json_t *root)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token",
	};
	json_t *v;
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(root, keys[i]);
		if (json_is_string(v) && json_string_length(v) >= 8
		    && strstr(text, json_string_value(v)) != NULL)
			return 1;
	}
	return 0;
}

/* free_grant - wipe and free the success fields only */
static void
free_grant(struct oa2_tokresp *r)
{
	oa2_free_secret(&r->access_token);
	oa2_free_secret(&r->refresh_token);
	oa2_free_secret(&r->token_type);
	oa2_free_secret(&r->scope);
	r->expires_in = 0;
}

/* oa2_tokresp_free - wipe the secrets and free everything */
void
oa2_tokresp_free(struct oa2_tokresp *r)
{
	if (r == NULL)
		return;
	free_grant(r);
	oa2_free_secret(&r->error);
	oa2_free_secret(&r->error_description);
}

/* nomem - the one out-of-memory report */
static enum oa2_status
nomem(struct oa2_error *err)
{
	return oa2_error_set(err, OA2_ERR_NOMEM, "nomem",
	    "out of memory while reading the token endpoint reply");
}

/* unusable - a reply that is neither a grant nor an OAuth error */
static enum oa2_status
unusable(long http_status, const char *what, struct oa2_error *err)
{
	char	code[OA2_ERR_CODE_MAX];

	if (is_2xx(http_status))
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "token endpoint reply %s", what);
	snprintf(code, sizeof(code), "http_%ld", http_status);
	if (is_temp_status(http_status))
		return oa2_error_set(err, OA2_ERR_TEMP, code,
		    "token endpoint answered HTTP %ld", http_status);
	return oa2_error_set(err, OA2_ERR_PROTO, code,
	    "token endpoint answered HTTP %ld, and its reply %s",
	    http_status, what);
}

/* not_json - describe why jansson refused the body, without its text */
static enum oa2_status
not_json(long http_status, const json_error_t *jerr, struct oa2_error *err)
{
	const char *what = "is not JSON";
	char	buf[96];

#if JANSSON_VERSION_HEX >= 0x020b00
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
		return nomem(err);
	case json_error_premature_end_of_input:
		what = "is truncated JSON";
		break;
	case json_error_duplicate_key:
		what = "has a duplicate JSON member";
		break;
	case json_error_numeric_overflow:
		what = "has a JSON number out of range";
		break;
	case json_error_invalid_utf8:
		what = "is not valid UTF-8";
		break;
	case json_error_null_character:
		what = "holds a NUL character";
		break;
	default:
		break;
	}
#endif
	snprintf(buf, sizeof(buf), "%s (line %d, column %d)", what,
	    jerr->line, jerr->column);
	return unusable(http_status, buf, err);
}

/* parse_expires - expires_in: integer, real (floored) or 1-10 digits; NULL or why not */
static const char *
parse_expires(json_t *v, long long *out)
{
	const char *s;
	long long n;
	size_t	len, i;
	double	d;

	if (v == NULL || json_is_null(v)) {
		*out = 0;
		return NULL;
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
		if (!(d >= 0))
			return "is negative";
		if (d > (double)EXPIRES_MAX)
			return "is more than ten years";
		n = (long long)d;		/* d >= 0: truncation is floor */
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
		if (len == 0 || len > 10)
			return "is not a string of 1 to 10 digits";
		for (n = 0, i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return "is not a string of 1 to 10 digits";
			n = n * 10 + (s[i] - '0');
		}
	} else {
		return "is neither a number nor a string of digits";
	}
	if (n < 0)
		return "is negative";
	if (n > EXPIRES_MAX)
		return "is more than ten years";
	*out = n;
	return NULL;
}

/* dup_member - copy obj[key] when it is a string; 0 absent, 1 copied, -1 no memory */
static int
dup_member(json_t *obj, const char *key, char **dst)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if ((*dst = oa2_strndup(json_string_value(v),
	    json_string_length(v))) == NULL)
		return -1;
	return 1;
}

/* parse_grant - the RFC 6749 5.1 success members */
static enum oa2_status
parse_grant(json_t *root, long http_status, struct oa2_tokresp *out,
    struct oa2_error *err)
{
	struct oa2_error why;
	const char *bad;
	char	buf[OA2_ERR_MSG_MAX];
	json_t *at, *rt;

	/*
	 * A server that rotates may already have retired the old refresh
	 * token: keep a usable new one even when the rest of the reply is
	 * not, so that the caller can store it (see oa2_tokresp_parse).
	 */
	rt = json_object_get(root, "refresh_token");
	if (json_is_string(rt) && json_string_length(rt) > 0 &&
	    oa2_wire_check_token(json_string_value(rt), json_string_length(rt),
	    &why) == OA2_OK && dup_member(root, "refresh_token",
	    &out->refresh_token) < 0)
		return nomem(err);
	at = json_object_get(root, "access_token");
	if (at == NULL || json_is_null(at))
		return unusable(http_status, "has no access_token", err);
	if (!json_is_string(at))
		return unusable(http_status,
		    "has an access_token that is not a string", err);
	if (oa2_wire_check_token(json_string_value(at),
	    json_string_length(at), &why) != OA2_OK) {
		/* why.msg describes the token by length and offset only. */
		snprintf(buf, sizeof(buf), "has an unusable access_token: %.200s",
		    why.msg);
		return unusable(http_status, buf, err);
	}
	if ((bad = parse_expires(json_object_get(root, "expires_in"),
	    &out->expires_in)) != NULL) {
		snprintf(buf, sizeof(buf), "has an expires_in that %s", bad);
		return unusable(http_status, buf, err);
	}
	if (rt != NULL && !json_is_null(rt) && !json_is_string(rt))
		return unusable(http_status,
		    "has a refresh_token that is not a string", err);

	if (dup_member(root, "access_token", &out->access_token) < 0
	    || (out->refresh_token == NULL &&
	    dup_member(root, "refresh_token", &out->refresh_token) < 0)
	    || dup_member(root, "token_type", &out->token_type) < 0
	    || dup_member(root, "scope", &out->scope) < 0)
		return nomem(err);
	return OA2_OK;
}

/* error_class - what an error word means, given the HTTP status */
static enum oa2_status
error_class(const char *word, long http_status)
{
	size_t	i;

	for (i = 0; i < sizeof(error_words) / sizeof(error_words[0]); i++)
		if (strcmp(word, error_words[i].word) == 0)
			return error_words[i].status;
	return is_temp_status(http_status) ? OA2_ERR_TEMP : OA2_ERR_PERM;
}

/* parse_error - the RFC 6749 5.2 error members */
static enum oa2_status
parse_error(json_t *root, long http_status, struct oa2_tokresp *out,
    struct oa2_error *err)
{
	json_t *ev, *dv;
	char	code[OA2_ERR_CODE_MAX];
	const char *why = "";

	ev = json_object_get(root, "error");
	if (!json_is_string(ev))
		return unusable(http_status,
		    "has an \"error\" that is not a string", err);
	if ((out->error = clean_text(json_string_value(ev),
	    json_string_length(ev), WORD_MAX)) == NULL)
		return nomem(err);
	dv = json_object_get(root, "error_description");
	if (json_is_string(dv) && json_string_length(dv) > 0) {
		if ((out->error_description = clean_text(json_string_value(dv),
		    json_string_length(dv), DESC_MAX)) == NULL)
			return nomem(err);
		if (shows_token(out->error_description, root)) {
			oa2_free_secret(&out->error_description);
			why = " (description withheld: it quotes a token)";
		}
	}
	if (shows_token(out->error, root)) {
		oa2_free_secret(&out->error);
		oa2_free_secret(&out->error_description);
		return unusable(http_status,
		    "has an \"error\" that quotes a token", err);
	}

	if (is_code_word(json_string_value(ev)))
		snprintf(code, sizeof(code), "%s", json_string_value(ev));
	else if (is_2xx(http_status))
		snprintf(code, sizeof(code), "bad_response");
	else
		snprintf(code, sizeof(code), "http_%ld", http_status);

	if (out->error_description != NULL)
		return oa2_error_set(err, error_class(out->error, http_status),
		    code, "token endpoint refused the request (HTTP %ld): "
		    "%s (\"%s\")", http_status,
		    out->error[0] ? out->error : "(empty error)",
		    out->error_description);
	return oa2_error_set(err, error_class(out->error, http_status), code,
	    "token endpoint refused the request (HTTP %ld): %s%s",
	    http_status, out->error[0] ? out->error : "(empty error)", why);
}

/* oa2_tokresp_parse - read a token endpoint reply */
enum oa2_status
oa2_tokresp_parse(const char *body, size_t len, long http_status,
    struct oa2_tokresp *out, struct oa2_error *err)
{
	json_error_t jerr;
	json_t *root, *ev;
	enum oa2_status st;
	char	buf[64];
	int	nomem_seen;

	if (out == NULL || (body == NULL && len != 0))
		return oa2_error_set(err, OA2_ERR_INTERNAL, "internal",
		    "oa2_tokresp_parse: bad arguments");
	memset(out, 0, sizeof(*out));
	if (http_status < 100 || http_status > 599)
		return oa2_error_set(err, OA2_ERR_PROTO, "bad_response",
		    "token endpoint answered with the invalid HTTP status %ld",
		    http_status);
	if (len > TOKRESP_MAX) {
		snprintf(buf, sizeof(buf), "is too large (%zu bytes)", len);
		return unusable(http_status, buf, err);
	}

	if (len == 0)
		return unusable(http_status, "is empty", err);

	if ((root = oa2_json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr,
	    &nomem_seen)) == NULL)
		return nomem_seen ? nomem(err) : not_json(http_status, &jerr, err);
	if (!json_is_object(root))
		st = unusable(http_status, "is not a JSON object", err);
	else if ((ev = json_object_get(root, "error")) != NULL
	    && !json_is_null(ev))
		st = parse_error(root, http_status, out, err);
	else if (!is_2xx(http_status))
		st = unusable(http_status, "holds no OAuth error", err);
	else
		st = parse_grant(root, http_status, out, err);
	oa2_json_wipe_decref(root);

	/*
	 * On failure only a server's error and its description may stay, and
	 * after an unusable 2xx reply a usable rotated refresh token.
	 */
	if (st != OA2_OK) {
		char *keep = NULL;

		/* Only a PROTO failure keeps it; any other frees (wipes) it. */
		if (st == OA2_ERR_PROTO) {
			keep = out->refresh_token;
			out->refresh_token = NULL;
		}
		free_grant(out);
		out->refresh_token = keep;
		if (st == OA2_ERR_NOMEM) {
			oa2_free_secret(&out->error);
			oa2_free_secret(&out->error_description);
		}
	}
	return st;
}

/*
 * Shared with oa2_grant(3), whose replies (device authorization,
 * discovery, errors) follow the same rules.
 */

/* oa2_tokresp_load - json_loadb() that refuses duplicates and cannot lose an allocation failure */
json_t *
oa2_tokresp_load(const char *body, size_t len, json_error_t *jerr,
    int *nomemp)
{
	return oa2_json_loadb(body, len, JSON_REJECT_DUPLICATES, jerr, nomemp);
}

/* oa2_tokresp_clean - peer text made fit for a message */
char *
oa2_tokresp_clean(const char *s, size_t len, size_t max)
{
	return clean_text(s, len, max);
}

/* oa2_tokresp_class - what an OAuth error word means, given the HTTP status */
enum oa2_status
oa2_tokresp_class(const char *word, long http_status)
{
	return error_class(word, http_status);
}
