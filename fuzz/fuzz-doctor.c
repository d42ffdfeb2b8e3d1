/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-doctor 1
 * SUMMARY
 *	libFuzzer target: doctor's parsers of Postfix values
 * SYNOPSIS
 *	fuzz-doctor [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Each input, cut at its first NUL, is given to every parser of
 *	tools/doctor-parse.c: doc_nexthop() (a relayhost or transport next
 *	hop), doc_map_line() (a line of a map source file such as
 *	sasl_passwd), doc_map_source() (a map "type:name"), doc_next_word()
 *	and doc_has_word() (a list value of main.cf).  Beyond the sanitizers,
 *	the target aborts when a contract does not hold:
 *
 *	doc_nexthop(): on success the host is not empty and holds no ":"
 *	unless bracketed, and "[host]:port", "host:port" (or without
 *	":port" when the port is empty) put back together is the input.
 *
 *	doc_map_line(): on success key and value are not empty, the key
 *	holds no white space, the value neither starts nor ends with it.
 *
 *	doc_map_source(): on success the path starts with "/" and is the
 *	input after its first ":".
 *
 *	doc_next_word(): the words of the input joined are its characters
 *	other than white space and commas; every word is found by
 *	doc_has_word().
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"

#define MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_nexthop - the next hop splits and joins back to the input */
static void
check_nexthop(const char *in)
{
	char host[256], port[32], back[320];
	int br;

	if (doc_nexthop(in, host, sizeof(host), port, sizeof(port), &br) < 0)
		return;
	if (*host == 0 || (!br && strchr(host, ':') != NULL))
		abort();
	snprintf(back, sizeof(back), "%s%s%s%s%s", br ? "[" : "", host,
	    br ? "]" : "", *port ? ":" : "", port);
	if (strcmp(back, in) != 0)
		abort();
}

/* check_map_line - key and value are trimmed and not empty */
static void
check_map_line(const char *in)
{
	char line[MAX_INPUT + 1], *k, *v;
	size_t n;

	snprintf(line, sizeof(line), "%s", in);
	if (doc_map_line(line, &k, &v) < 0)
		return;
	if (*k == 0 || *v == 0 || strpbrk(k, " \t\r\n") != NULL)
		abort();
	n = strlen(v);
	if (strchr(" \t\r\n", v[0]) || strchr(" \t\r\n", v[n - 1]))
		abort();
}

/* check_words - the words are the input without separators */
static void
check_words(const char *in)
{
	char w[MAX_INPUT + 1], joined[MAX_INPUT + 1], want[MAX_INPUT + 1];
	const char *p = in;
	size_t j = 0, o = 0;

	while (doc_next_word(&p, w, sizeof(w))) {
		if (*w == 0 || !doc_has_word(in, w))
			abort();
		memcpy(joined + j, w, strlen(w));
		j += strlen(w);
	}
	joined[j] = 0;
	for (const char *c = in; *c; c++)
		if (!strchr(" \t\r\n,", *c))
			want[o++] = *c;
	want[o] = 0;
	if (strcmp(joined, want) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[MAX_INPUT + 1], path[1024];
	const char *suffix = NULL;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	memcpy(in, data, size);
	in[size] = 0;
	check_nexthop(in);
	check_map_line(in);
	check_words(in);
	if (doc_map_source(in, path, sizeof(path), &suffix) == 0 &&
	    (path[0] != '/' || suffix == NULL ||
	    strcmp(path, strchr(in, ':') + 1) != 0))
		abort();
	return 0;
}
