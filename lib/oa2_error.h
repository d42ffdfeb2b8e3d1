/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_error 3h
 * SUMMARY
 *	result classes and one-line error messages of the core
 * DESCRIPTION
 *	See oa2_error.c.
 *--*/
#ifndef OA2_ERROR_H
#define OA2_ERROR_H

#include <stddef.h>

enum oa2_status {
	OA2_OK = 0,
	OA2_ERR_TEMP,		/* temporary: network, timeout, 5xx; retry later */
	OA2_ERR_PERM,		/* permanent at the provider: re-authorize or fix the client */
	OA2_ERR_INPUT,		/* bad local input: token file, config; the admin must fix it */
	OA2_ERR_AUTH,		/* the mail server refused the token */
	OA2_ERR_PROTO,		/* a peer spoke garbage */
	OA2_ERR_NOMEM,		/* out of memory */
	OA2_ERR_INTERNAL	/* a bug of ours */
};

#define OA2_ERR_CODE_MAX 64
#define OA2_ERR_MSG_MAX  512

struct oa2_error {
	enum oa2_status status;
	char code[OA2_ERR_CODE_MAX];
	char msg[OA2_ERR_MSG_MAX];
};

/* oa2_error_set - record an error; returns status for "return oa2_error_set(...)" */
enum oa2_status oa2_error_set(struct oa2_error *err, enum oa2_status status,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* oa2_error_clear - reset to OA2_OK with empty code and message */
void oa2_error_clear(struct oa2_error *err);

/* oa2_status_name - "ok", "temporary", "permanent", ... */
const char *oa2_status_name(enum oa2_status status);

#endif
