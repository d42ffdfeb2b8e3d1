/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-tokfile 1
 * SUMMARY
 *	libFuzzer target: token files
 * SYNOPSIS
 *	fuzz-tokfile [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Each input is a token file given to oa2_token_parse() as
 *	"fuzz.json".  Beyond the sanitizers, the target checks the contract
 *	and aborts when it does not hold:
 *
 *	A refusal leaves nothing behind and has one line that starts with
 *	the path, code "token_file", and never quotes jansson's "near '...'"
 *	context (which can hold a token).
 *
 *	A document that parses has a non-empty refresh token (unless its
 *	"grant" is an app-only one), a grant we know, and sane
 *	numbers.  Serialized as save would (indented, compact when that is
 *	too big) it parses back to an equal document with equal views.
 *	After oa2_token_update() (with a new refresh token or without,
 *	chosen by the first byte) the same round trip holds, the new values
 *	are there, the old refresh token is kept when no new one was given,
 *	and no unknown member was lost.
 *
 *	Seeds: fuzz/corpus/tokfile/; dictionary: fuzz/tokfile.dict.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_error.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define PATH		"fuzz.json"

/* same_str - both NULL, or equal strings */
static int
same_str(const char *a, const char *b)
{
	return ((a == NULL && b == NULL)
		|| (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* same_views - two tokens show the same fields */
static void
same_views(const struct oa2_token *a, const struct oa2_token *b)
{
	CHECK(same_str(a->refresh_token, b->refresh_token));
	CHECK(same_str(a->access_token, b->access_token));
	CHECK(same_str(a->user, b->user));
	CHECK(same_str(a->client_id, b->client_id));
	CHECK(same_str(a->client_secret, b->client_secret));
	CHECK(same_str(a->token_endpoint, b->token_endpoint));
	CHECK(same_str(a->proxy, b->proxy));
	CHECK(same_str(a->ca_bundle_file, b->ca_bundle_file));
	CHECK(same_str(a->ca_certs_dir, b->ca_certs_dir));
	CHECK(same_str(a->provider, b->provider));
	CHECK(same_str(a->tenant, b->tenant));
	CHECK(same_str(a->scope, b->scope));
	CHECK(same_str(a->client_auth, b->client_auth));
	CHECK(a->expiry == b->expiry);
	CHECK(a->refresh_window == b->refresh_window);
}

/* check_refusal - the shape of a failure */
static void
check_refusal(enum oa2_status st, const struct oa2_error *err,
	              const struct oa2_token *tok)
{
	CHECK(st == OA2_ERR_INPUT || st == OA2_ERR_NOMEM);
	CHECK(tok->root == NULL && tok->refresh_token == NULL);
	CHECK(strcmp(err->code, "token_file") == 0);
	CHECK(strncmp(err->msg, PATH ": ", sizeof(PATH ": ") - 1) == 0);
	CHECK(strchr(err->msg, '\n') == NULL);
	CHECK(strstr(err->msg, " near ") == NULL);
}

/* check_sane - what a parsed token must look like */
static void
check_sane(const struct oa2_token *tok)
{
	const struct oa2_setting_def *d;
	const json_t *v;

	enum oa2_grant_kind g;

	CHECK(json_is_object(tok->root));
	CHECK(oa2_grant_kind_parse(oa2_token_str(tok, OA2_S_GRANT), &g) == 0);
	CHECK(g != OA2_GRANT_REFRESH
	      || (tok->refresh_token != NULL && *tok->refresh_token != 0));
	CHECK(tok->expiry >= 0);
	CHECK(tok->refresh_window >= -1);
	CHECK(tok->client_auth == NULL || *tok->client_auth == 0
	      || strcmp(tok->client_auth, "post") == 0
	      || strcmp(tok->client_auth, "basic") == 0);
	/* An expiry is always held as the string that save writes. */
	v = json_object_get(tok->root, OA2_SETTING_NAME(OA2_S_EXPIRY));
	CHECK(v == NULL || json_is_string(v) || json_is_null(v));
	/* Every member the settings table lists has the table's type. */
	for (d = oa2_settings_table; d < oa2_settings_table + OA2_S_COUNT; d++) {
		if (!(d->where & OA2_IN_TOKEN))
			continue;
		v = json_object_get(tok->root, d->name);
		if (d->type == OA2_T_STRING || d->type == OA2_T_REQUIRED
		    || d->type == OA2_T_CLIENT_AUTH) {
			CHECK(v == NULL || json_is_null(v) || json_is_string(v));
			CHECK(oa2_token_str(tok, oa2_setting_id_of(d))
			      == json_string_value(v));
		}
	}
}

/* round_trip - serialize like save does, parse again, compare */
static void
round_trip(const struct oa2_token *tok)
{
	struct oa2_token back;
	struct oa2_error err;
	enum oa2_status st;
	char   *dump;
	size_t  len;

	dump = json_dumps(tok->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	CHECK(dump != NULL);
	len = strlen(dump);
	if (len + 1 > OA2_TOKFILE_MAX) {
		free(dump);
		dump = json_dumps(tok->root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		CHECK(dump != NULL);
		len = strlen(dump);
		if (len + 1 > OA2_TOKFILE_MAX) {
			/* save refuses this one, and says so */
			free(dump);
			return;
		}
	}
	st = oa2_token_parse(&back, PATH, dump, len, &err);
	CHECK(st == OA2_OK);
	CHECK(json_equal(back.root, tok->root));
	same_views(tok, &back);
	oa2_token_free(&back);
	oa2_wipe(dump, len);
	free(dump);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;
	char   *old_rt;
	size_t  members;
	int     rotate;

	oa2_error_clear(&err);
	st = oa2_token_parse(&tok, PATH, (const char *) data, size, &err);
	if (st != OA2_OK) {
		check_refusal(st, &err, &tok);
		oa2_token_free(&tok);
		return (0);
	}
	check_sane(&tok);
	round_trip(&tok);

	/* A refresh: new access token and expiry, maybe a new refresh token. */
	rotate = size > 0 && (data[0] & 1);
	old_rt = strdup(tok.refresh_token ? tok.refresh_token : "");
	CHECK(old_rt != NULL);
	members = json_object_size(tok.root);
	st = oa2_token_update(&tok, "fuzz-access", 1234567890LL,
			      rotate ? "fuzz-refresh" : NULL, &err);
	CHECK(st == OA2_OK);
	check_sane(&tok);
	CHECK(strcmp(tok.access_token, "fuzz-access") == 0);
	CHECK(tok.expiry == 1234567890LL);
	CHECK(rotate ? strcmp(tok.refresh_token, "fuzz-refresh") == 0
	      : (*old_rt == 0 ? tok.refresh_token == NULL
		 : strcmp(tok.refresh_token, old_rt) == 0));
	CHECK(json_object_size(tok.root) >= members
	      && json_object_size(tok.root)
	      <= members + 2 + (rotate && *old_rt == 0));
	round_trip(&tok);

	/* set_string on a known and an unknown member. */
	CHECK(oa2_token_set_string(&tok, OA2_SETTING_NAME(OA2_S_USER),
				   "fuzz@example.com", &err) == OA2_OK);
	CHECK(strcmp(tok.user, "fuzz@example.com") == 0);
	CHECK(oa2_token_set_string(&tok, OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN),
				   NULL, &err) == OA2_ERR_INPUT);
	CHECK(oa2_token_set_string(&tok, "fuzz_extra", "1", &err) == OA2_OK);
	round_trip(&tok);

	oa2_wipe(old_rt, strlen(old_rt));
	free(old_rt);
	oa2_token_free(&tok);
	return (0);
}
