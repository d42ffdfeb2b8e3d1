/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	tap 3h
 * SUMMARY
 *	a tiny TAP producer for the unit tests
 * DESCRIPTION
 *	ok(cond, name...) prints "ok N - name" or "not ok N - name";
 *	is_str(got, want, name...) and is_int(got, want, name...) print a
 *	"# got ..., want ..." diagnostic line when they fail.  tap_done()
 *	prints the plan and returns the exit status.  Every check counts.
 *--*/
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int tap_vok(int cond, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static int
tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

static int is_str(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond, r;

	cond = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);
	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("# got \"%s\", want \"%s\"\n", got ? got : "(null)",
		    want ? want : "(null)");
	return r;
}

static int is_int(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("# got %lld, want %lld\n", got, want);
	return r;
}

/* contains - strstr as a condition, with a diagnostic */
static int has_str(const char *hay, const char *needle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
has_str(const char *hay, const char *needle, const char *fmt, ...)
{
	va_list ap;
	int cond, r;

	cond = hay != NULL && strstr(hay, needle) != NULL;
	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("# \"%s\" does not contain \"%s\"\n",
		    hay ? hay : "(null)", needle);
	return r;
}

static int tap_done(void) __attribute__((unused));
static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
