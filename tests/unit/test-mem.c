/* SPDX-License-Identifier: MIT */
/* test-mem - buffer caps, wiping, allocation failure injection */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "oa2_error.h"
#include "oa2_mem.h"
#include "tap.h"

static void
test_buf(void)
{
	struct oa2_buf b;

	oa2_buf_init(&b, 10);
	ok(oa2_buf_puts(&b, "hello") == 0, "append within cap");
	is_str(b.data, "hello", "content NUL-terminated");
	ok(oa2_buf_puts(&b, "world") == 0, "append up to the cap exactly");
	is_int((long long)b.len, 10, "length 10");
	ok(oa2_buf_putc(&b, '!') < 0, "append past the cap refused");
	is_str(b.data, "helloworld", "refused append leaves content unchanged");
	oa2_buf_reset(&b);
	is_int((long long)b.len, 0, "reset empties");
	is_str(b.data, "", "reset leaves an empty string");
	oa2_buf_free(&b);
	ok(b.data == NULL && b.len == 0, "free clears the struct");

	oa2_buf_init(&b, 0);
	is_int((long long)b.max, OA2_BUF_DEFAULT_MAX, "max 0 means the default cap");
	for (int i = 0; i < 1000; i++)
		oa2_buf_append(&b, "0123456789", 10);
	is_int((long long)b.len, 10000, "grows across many appends");
	ok(oa2_buf_append(&b, "x", (size_t)-1) < 0, "huge length refused without overflow");
	oa2_buf_free(&b);
}

static void
test_wipe(void)
{
	char buf[16] = "secret-secret";
	char *s;

	oa2_wipe(buf, sizeof(buf));
	ok(memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0,
	    "oa2_wipe zeroes every byte");
	s = oa2_strdup("token");
	oa2_free_secret(&s);
	ok(s == NULL, "oa2_free_secret sets the pointer to NULL");
	oa2_free_secret(&s);
	ok(1, "oa2_free_secret(NULL pointer) is a no-op");
}

static void
test_fail_at(void)
{
	struct oa2_buf b;
	char *a, *c;

	oa2_mem_fail_at(2);
	a = oa2_strdup("a");
	c = oa2_strdup("b");
	ok(a != NULL, "first allocation succeeds");
	ok(c == NULL, "second allocation fails on request");
	is_int((long long)oa2_mem_count(), 2, "allocations are counted");
	free(a);
	oa2_mem_fail_at(1);
	oa2_buf_init(&b, 100);
	ok(oa2_buf_puts(&b, "x") < 0, "buffer append reports allocation failure");
	ok(b.data == NULL && b.len == 0, "buffer unchanged after allocation failure");
	oa2_mem_fail_at(0);
	ok(oa2_buf_puts(&b, "x") == 0, "allocations succeed again after reset");
	oa2_buf_free(&b);
}

static void
test_error(void)
{
	struct oa2_error err;

	oa2_error_set(&err, OA2_ERR_TEMP, "network", "line one\nline two\r\x01");
	is_str(err.msg, "line one line two  ", "messages are forced onto one printable line");
	is_str(err.code, "network", "code kept");
	is_str(oa2_status_name(err.status), "temporary", "status name");
	oa2_error_clear(&err);
	ok(err.status == OA2_OK && err.msg[0] == 0, "clear");
	{
		char path[4100];

		memset(path, 'p', sizeof(path) - 1);
		path[0] = '/';
		path[sizeof(path) - 1] = 0;
		oa2_error_set(&err, OA2_ERR_INPUT, "token_file",
		    "%s: is empty: re-run sasl-oauth2 authorize", path);
		is_int((long long)strlen(err.msg), OA2_ERR_MSG_MAX - 1,
		    "an over-long message fills the buffer");
		has_str(err.msg, ": is empty: re-run sasl-oauth2 authorize",
		    "an over-long message keeps its end (why and what to do)");
		ok(strncmp(err.msg, "/ppp", 4) == 0 && strstr(err.msg, "...") != NULL,
		    "and its start, with the middle elided");
	}
}

int
main(void)
{
	test_buf();
	test_wipe();
	test_fail_at();
	test_error();
	return tap_done();
}
