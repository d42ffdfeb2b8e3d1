/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor-parse 3
 * SUMMARY
 *	sasl-oauth2 doctor: parsers of Postfix values (no I/O)
 * SYNOPSIS
 *	#include "doctor.h"
 *
 *	int doc_map_source(const char *map, char *buf, size_t size,
 *	    const char **suffix);
 *	int doc_nexthop(const char *nh, char *host, size_t hsz, char *port,
 *	    size_t psz, int *bracketed);
 *	int doc_map_line(char *line, char **key, char **value);
 *	int doc_has_word(const char *list, const char *word);
 *	int doc_next_word(const char **p, char *buf, size_t size);
 * DESCRIPTION
 *	The parts of doctor that take text apart, kept apart from the parts
 *	that run postconf(1) and look at files, so that fuzz/fuzz-doctor.c
 *	can feed them anything.  Every output is bounded by its size and
 *	NUL-terminated; nothing is allocated.
 *
 *	doc_map_source() takes a Postfix map "type:name" and gives the file
 *	behind it (the source text file) and the suffix of the file postmap(1)
 *	compiles from it; texthash: maps are read directly (suffix "").
 *
 *	doc_nexthop() splits a next hop as in relayhost, transport(5) or
 *	sender_dependent_relayhost_maps: "[host]:port" (no MX lookup),
 *	"host:port", "host".  The password map key Postfix looks up for it is
 *	the next hop exactly as written, then the server's host name
 *	(SASL_README, "Enabling SASL authentication in the Postfix SMTP
 *	client").
 *
 *	doc_map_line() splits a line of a map source file into key and value
 *	as postmap(1) does: leading white space continues the previous line,
 *	"#" starts a comment line.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "doctor.h"

/* Map types whose data lives in a file next to a source text file. */
static const struct {
	const char *type;
	const char *suffix;
} file_maps[] = {
	{"texthash", ""},
	{"hash", ".db"},
	{"btree", ".db"},
	{"lmdb", ".lmdb"},
	{"cdb", ".cdb"},
	{"dbm", ".pag"},
	{"sdbm", ".pag"},
};

int
doc_map_source(const char *map, char *buf, size_t size, const char **suffix)
{
	const char *colon = strchr(map, ':');
	size_t tlen;

	if (colon == NULL || colon[1] != '/' || size == 0)
		return -1;
	tlen = (size_t)(colon - map);
	for (size_t i = 0; i < sizeof(file_maps) / sizeof(file_maps[0]); i++)
		if (strlen(file_maps[i].type) == tlen &&
		    strncasecmp(map, file_maps[i].type, tlen) == 0) {
			if (strlen(colon + 1) >= size)
				return -1;
			snprintf(buf, size, "%s", colon + 1);
			if (suffix != NULL)
				*suffix = file_maps[i].suffix;
			return 0;
		}
	return -1;
}

int
doc_nexthop(const char *nh, char *host, size_t hsz, char *port, size_t psz,
    int *bracketed)
{
	const char *end, *p;
	size_t n;

	if (hsz == 0 || psz == 0)
		return -1;
	host[0] = port[0] = 0;
	*bracketed = 0;
	if (nh[0] == '[') {
		if ((end = strchr(nh, ']')) == NULL || end == nh + 1)
			return -1;
		*bracketed = 1;
		n = (size_t)(end - nh - 1);
		p = nh + 1;
		end++;
		if (*end == ':' && end[1] != 0)
			end++;
		else if (*end != 0)
			return -1;
	} else {
		/* host:port; a bare IPv6 address is not a valid next hop here */
		if ((end = strrchr(nh, ':')) != NULL && strchr(nh, ':') != end)
			return -1;
		if (end != NULL && end[1] == 0)
			return -1;
		n = end ? (size_t)(end - nh) : strlen(nh);
		p = nh;
		end = end ? end + 1 : nh + n;
	}
	if (n == 0 || n >= hsz || strlen(end) >= psz)
		return -1;
	memcpy(host, p, n);
	host[n] = 0;
	for (const char *c = end; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return -1;
	snprintf(port, psz, "%s", end);
	return 0;
}

int
doc_map_line(char *line, char **key, char **value)
{
	char *k = line, *e;

	if (*k == 0 || isspace((unsigned char)*k) || *k == '#')
		return -1;
	e = k + strcspn(k, " \t\r\n");
	if (*e == 0)
		return -1;
	*e++ = 0;
	e += strspn(e, " \t\r\n");
	if (*e == 0)
		return -1;
	*key = k;
	*value = e;
	e += strlen(e);
	/* Postfix's white space is " \t\r\n", the split above's too */
	while (e > *value && strchr(" \t\r\n", e[-1]) != NULL)
		*--e = 0;
	return 0;
}

int
doc_next_word(const char **p, char *buf, size_t size)
{
	const char *s = *p;
	size_t n;

	s += strspn(s, " \t\r\n,");
	n = strcspn(s, " \t\r\n,");
	if (n == 0 || size == 0) {
		*p = s;
		return 0;
	}
	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), s);
	*p = s + n;
	return 1;
}

int
doc_has_word(const char *list, const char *word)
{
	size_t wlen = strlen(word), n;

	for (;;) {
		list += strspn(list, " \t\r\n,");
		if ((n = strcspn(list, " \t\r\n,")) == 0)
			return 0;
		if (n == wlen && strncasecmp(list, word, n) == 0)
			return 1;
		list += n;
	}
}
