/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_explain 3h
 * SUMMARY
 *	plain-words pages for error codes: what happened, what to click
 * DESCRIPTION
 *	Every error the core, the plugin and the tool report carries a short
 *	code (struct oa2_error.code): an OAuth error word ("invalid_grant"),
 *	a local class ("token_file", "network", "tls", ...), a Microsoft
 *	Entra code ("AADSTS700082"), or an SMTP enhanced status ("5.7.139").
 *	Each has a page here: a one-line summary, the known causes (one per
 *	line, "cause: what to do"), and the one thing to do first, naming
 *	the console page and the click that fixes it.  The plugin's log
 *	lines end with "(see: sasl-oauth2 explain CODE)"; the tool prints
 *	the same page when it meets the error.
 *
 *	oa2_explain_find() looks a code up after normalising it: case is
 *	ignored, surrounding blanks and a trailing ":" are dropped,
 *	"Error 400: redirect_uri_mismatch" finds redirect_uri_mismatch,
 *	"aadsts50011" and "50011" find AADSTS50011, "535 5.7.139 ..." finds
 *	5.7.139, "http_503" finds http_5xx and other "http_4NN" http_4xx.
 *	Aliases ("expired_token" for the device flow, ...) are entries of
 *	their own.  Returns NULL when nothing matches.
 *
 *	oa2_explain_count() and oa2_explain_at() enumerate the table (for
 *	"sasl-oauth2 explain" without a code, and for the tests).
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
