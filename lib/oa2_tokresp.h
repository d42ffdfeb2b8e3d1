/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokresp 3h
 * SUMMARY
 *	parser for OAuth 2.0 token endpoint responses (RFC 6749 5.1, 5.2)
 * DESCRIPTION
 *	See oa2_tokresp.c.
 *--*/
#ifndef OA2_TOKRESP_H
#define OA2_TOKRESP_H

#include <stddef.h>

#include <jansson.h>

#include "oa2_error.h"

struct oa2_tokresp {
	char *access_token;
	char *refresh_token;
	char *token_type;
	char *scope;
	long long expires_in;
	char *error;
	char *error_description;
};

enum oa2_status oa2_tokresp_parse(const char *body, size_t len,
    long http_status, struct oa2_tokresp *out, struct oa2_error *err);

void oa2_tokresp_free(struct oa2_tokresp *r);

/* Shared with oa2_grant(3). */
/* oa2_tokresp_load - json_loadb(JSON_REJECT_DUPLICATES); *nomem when any allocation failed */
json_t *oa2_tokresp_load(const char *body, size_t len, json_error_t *jerr,
    int *nomem);
/* oa2_tokresp_clean - copy peer text for a message: no controls, '"' -> '\'', cut to max */
char *oa2_tokresp_clean(const char *s, size_t len, size_t max);
/* oa2_tokresp_class - OA2_ERR_PERM or OA2_ERR_TEMP for an OAuth error word */
enum oa2_status oa2_tokresp_class(const char *word, long http_status);

#endif
