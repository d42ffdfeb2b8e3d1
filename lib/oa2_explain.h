/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_explain 3h
 * SUMMARY
 *	plain-words pages for error codes: what happened, what to click
 * DESCRIPTION
 *	See oa2_explain.c.
 *--*/
#ifndef OA2_EXPLAIN_H
#define OA2_EXPLAIN_H

#include <stddef.h>

struct oa2_explain {
	const char *code;	/* canonical code, as printed */
	const char *summary;	/* one line: what it means */
	const char *causes;	/* lines "cause: what to do", '\n'-separated; may be NULL */
	const char *fix;	/* the first thing to do: the page and the click */
};

/*
 * Who meets the error: the fix differs.  The table's own fix is the
 * plugin's (a mail program's log line; also "sasl-oauth2 explain CODE");
 * a command run by hand gets the fix for that command's flags.
 */
enum oa2_explain_ctx {
	OA2_CTX_PLUGIN = 0,
	OA2_CTX_AUTHORIZE,
	OA2_CTX_REFRESH,
	OA2_CTX_TEST,
	OA2_CTX_TOKEN,
	OA2_CTX_STATUS,
	OA2_CTX_COUNT
};

const struct oa2_explain *oa2_explain_find(const char *code);
/* oa2_explain_fix - the first thing to do about e, for the one who met it */
const char *oa2_explain_fix(const struct oa2_explain *e, enum oa2_explain_ctx ctx);
/* oa2_explain_ctx_name - "plugin", "authorize", ... */
const char *oa2_explain_ctx_name(enum oa2_explain_ctx ctx);
size_t oa2_explain_count(void);
const struct oa2_explain *oa2_explain_at(size_t i);

#endif
