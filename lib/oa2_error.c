/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_error 3
 * SUMMARY
 *	one-line error messages
 * SYNOPSIS
 *	#include "oa2_error.h"
 *
 *	enum oa2_status oa2_error_set(err, status, code, fmt, ...)
 *	void	oa2_error_clear(err)
 *	const char *oa2_status_name(status)
 * DESCRIPTION
 *	Every core function that can fail returns an enum oa2_status and,
 *	when it fails, fills a struct oa2_error with one line of text that
 *	names the file or field at fault and says what to do.  The text never
 *	holds a secret.  The SASL glue maps the class to a SASL result code;
 *	the tool maps it to an exit status.
 *
 *	code is a short machine word ("invalid_grant", "token_file",
 *	"network", ...) that `sasl-oauth2 explain CODE` knows about.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oa2_error.h"

/* oa2_error_set - record an error, forcing it onto one printable line */
enum oa2_status
oa2_error_set(struct oa2_error *err, enum oa2_status status, const char *code,
    const char *fmt, ...)
{
	char full[8192], *p;
	size_t n, head, tail;
	va_list ap;
	int len;

	if (err == NULL)
		return status;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	va_start(ap, fmt);
	len = vsnprintf(full, sizeof(full), fmt, ap);
	va_end(ap);
	n = len < 0 ? 0 : (size_t)len >= sizeof(full) ? sizeof(full) - 1 :
	    (size_t)len;
	if (n < sizeof(err->msg)) {
		memcpy(err->msg, full, n + 1);
	} else {
		/*
		 * Too long: a message starts with what (a file name, which may
		 * be long) and ends with why and what to do; keep both ends.
		 */
		head = 160;
		tail = sizeof(err->msg) - head - 4;
		memcpy(err->msg, full, head);
		memcpy(err->msg + head, "...", 3);
		memcpy(err->msg + head + 3, full + n - tail, tail);
		err->msg[sizeof(err->msg) - 1] = 0;
	}
	/* One line, printable: a peer's text may be quoted in here. */
	for (p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return status;
}

/* oa2_error_clear - reset */
void
oa2_error_clear(struct oa2_error *err)
{
	if (err == NULL)
		return;
	err->status = OA2_OK;
	err->code[0] = 0;
	err->msg[0] = 0;
}

/* oa2_status_name - printable class name */
const char *
oa2_status_name(enum oa2_status status)
{
	switch (status) {
	case OA2_OK:		return "ok";
	case OA2_ERR_TEMP:	return "temporary";
	case OA2_ERR_PERM:	return "permanent";
	case OA2_ERR_INPUT:	return "input";
	case OA2_ERR_AUTH:	return "refused";
	case OA2_ERR_PROTO:	return "protocol";
	case OA2_ERR_NOMEM:	return "memory";
	case OA2_ERR_INTERNAL:	return "internal";
	}
	return "unknown";
}
