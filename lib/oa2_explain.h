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

const struct oa2_explain *oa2_explain_find(const char *code);
size_t oa2_explain_count(void);
const struct oa2_explain *oa2_explain_at(size_t i);

#endif
