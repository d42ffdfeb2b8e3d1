/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_form 3
 * SUMMARY
 *	form encoding and URL host for messages
 * SYNOPSIS
 *	#include "oa2_http.h"
 *
 *	int	oa2_form_escape(form, s)
 *	int	oa2_form_add(form, name, value)
 *	void	oa2_url_host(url, buf, size)
 * DESCRIPTION
 *	What oa2_http.h declares that does not depend on libcurl: the form
 *	encoder (oa2_form_add, oa2_form_escape) and the host part of a URL
 *	for messages (oa2_url_host, never showing userinfo).
 *
 *	oa2_form_add() appends name=value with both parts percent-encoded
 *	(and "&" when the form is not empty).
 * SEE ALSO
 *	oa2_http(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <string.h>

#include "oa2_http.h"

void
oa2_url_host(const char *url, char *buf, size_t size)
{
	const char *p, *e;
	size_t n;

	p = strstr(url, "://");
	p = p ? p + 3 : url;
	e = p + strcspn(p, "/?#");
	/* Never show user:password@ if someone put it in the URL. */
	for (const char *q = p; q < e; q++)
		if (*q == '@')
			p = q + 1;
	n = (size_t)(e - p);
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = 0;
}

/* oa2_form_escape - percent-encode s (RFC 3986 unreserved kept) onto form */
int
oa2_form_escape(struct oa2_buf *form, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char enc[3];

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			if (oa2_buf_putc(form, *p) < 0)
				return -1;
		} else {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			if (oa2_buf_append(form, enc, 3) < 0)
				return -1;
		}
	}
	return 0;
}

int
oa2_form_add(struct oa2_buf *form, const char *name, const char *value)
{
	if (form->len > 0 && oa2_buf_putc(form, '&') < 0)
		return -1;
	if (oa2_form_escape(form, name) < 0 || oa2_buf_putc(form, '=') < 0 ||
	    oa2_form_escape(form, value) < 0)
		return -1;
	return 0;
}
