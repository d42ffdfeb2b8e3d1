/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-sakey 1
 * SUMMARY
 *	libFuzzer target: Google service account key files
 * SYNOPSIS
 *	fuzz-sakey [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Each input is a service account key file given to
 *	oa2_app_sa_parse() as "sa.json".  Beyond the sanitizers, the target
 *	checks the contract and aborts when it does not hold: a refusal is
 *	OA2_ERR_INPUT "app_key" (or OA2_ERR_NOMEM), one line starting with
 *	the name, nothing left allocated, and never quotes the private key;
 *	a key that parses has a non-empty client_email and private_key and
 *	a token_uri that is absent or https.
 *
 *	Seeds: fuzz/corpus/sakey/; dictionary: fuzz/sakey.dict.
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

#include "oa2_app.h"
#include "oa2_error.h"
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define WHO		"sa.json"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa2_error err;
	enum oa2_status st;
	struct oa2_sa sa;

	oa2_error_clear(&err);
	st = oa2_app_sa_parse((const char *) data, size, WHO, &sa, &err);
	if (st != OA2_OK) {
		CHECK(st == OA2_ERR_INPUT || st == OA2_ERR_NOMEM);
		CHECK(sa.client_email == NULL && sa.private_key == NULL
		      && sa.private_key_id == NULL && sa.token_uri == NULL);
		CHECK(st == OA2_ERR_NOMEM
		      || (strcmp(err.code, "app_key") == 0
			  && strncmp(err.msg, WHO ": ", sizeof(WHO ": ") - 1) == 0));
		CHECK(strchr(err.msg, '\n') == NULL);
		CHECK(strstr(err.msg, "PRIVATE KEY") == NULL);
		return (0);
	}
	CHECK(sa.client_email != NULL && *sa.client_email);
	CHECK(sa.private_key != NULL && *sa.private_key);
	CHECK(sa.token_uri == NULL || strncmp(sa.token_uri, "https://", 8) == 0);
	oa2_app_sa_free(&sa);
	return (0);
}
