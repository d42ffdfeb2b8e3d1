/* SPDX-License-Identifier: MIT */
/*
 * test-json - oa2_json: out-of-memory told apart without a lasting
 * allocator, secrets wiped before jansson frees them, the host's
 * allocator left alone.
 */
#include "config.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oa2_json.h"
#include "oa2_mem.h"
#include "tap.h"

#define LONG_VALUE "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
#define DOC "{\"k\": \"" LONG_VALUE "\", \"n\": 12345}"

/* A host's jansson allocator: counts, fails on request, scans frees. */
static unsigned long host_allocs, host_frees, host_fail_at, host_secret_frees;
static int host_fail_all;
static const char *host_needle;

static void *
host_malloc(size_t n)
{
	void   *p;

	host_allocs++;
	if (host_fail_all || host_allocs == host_fail_at)
		return NULL;
	/*
	 * Cleared to its usable size: host_free() searches that much, and
	 * the slack of a reused block may hold what an earlier, deliberately
	 * unwiped free left there (test_wipe's plain json_decref).
	 */
	if ((p = malloc(n)) != NULL)
		memset(p, 0, malloc_usable_size(p));
	return p;
}

static void
host_free(void *p)
{
	if (p == NULL)
		return;
	host_frees++;
	if (host_needle != NULL && memmem(p, malloc_usable_size(p),
	    host_needle, strlen(host_needle)) != NULL)
		host_secret_frees++;
	free(p);
}

/* host_set - install the host allocator, counters cleared */
static void
host_set(void)
{
	host_allocs = host_frees = host_fail_at = host_secret_frees = 0;
	host_fail_all = 0;
	host_needle = NULL;
	json_set_alloc_funcs(host_malloc, host_free);
}

/* is_default - jansson's allocator is malloc/free again */
static int
is_default(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	return m == malloc && f == free;
}

/*
 * test_jansson_hides - the reason oa2_json_loadb() needs its window:
 * with one allocation failing, plain json_loadb() returns a document
 * that differs from the input and reports no error.
 */
static void
test_jansson_hides(void)
{
	json_error_t je;
	json_t *want, *got;
	unsigned long k, total, hidden = 0;

	want = json_loads(DOC, 0, &je);
	host_set();
	got = json_loads(DOC, 0, &je);
	total = host_allocs;
	json_decref(got);
	for (k = 1; k <= total; k++) {
		host_set();
		host_fail_at = k;
		got = json_loads(DOC, 0, &je);
		if (got != NULL && !json_equal(got, want))
			hidden++;
		json_decref(got);
	}
	json_set_alloc_funcs(malloc, free);
	ok(hidden > 0, "jansson 2.14 itself: %lu of %lu single allocation "
	    "failures give a different document and no error", hidden, total);
	json_decref(want);
}

/* test_loadb_nomem - every failure is "out of memory", never a wrong document */
static void
test_loadb_nomem(void)
{
	json_error_t je;
	json_t *want, *got;
	unsigned long k, failed = 0, wrong = 0, left = 0;
	int	nomem, done = 0;

	want = json_loads(DOC, 0, &je);
	for (k = 1; k < 1000 && !done; k++) {
		oa2_mem_fail_at(k);
		got = oa2_json_loadb(DOC, strlen(DOC), JSON_REJECT_DUPLICATES,
		    &je, &nomem);
		if (oa2_mem_count() < k)
			done = got != NULL && !nomem && json_equal(got, want);
		else if (failed++, got != NULL || !nomem)
			wrong++;
		if (!is_default())
			left++;
		oa2_mem_fail_at(0);
		oa2_json_wipe_decref(got);
	}
	ok(done && failed > 0 && wrong == 0, "oa2_json_loadb: each of %lu "
	    "failed allocations gives NULL and nomem, never a document", failed);
	ok(left == 0, "oa2_json_loadb: jansson's default allocator is back "
	    "after every parse");
	got = oa2_json_loadb("{\"a\": tru}", 10, 0, &je, &nomem);
	ok(got == NULL && !nomem, "bad JSON is not out of memory");
	json_decref(want);
}

/* test_host_allocator - a host's allocator is used and stays in place */
static void
test_host_allocator(void)
{
	json_malloc_t m;
	json_free_t f;
	json_error_t je;
	json_t *got;
	char   *dump;
	int	nomem;

	host_set();
	got = oa2_json_loadb(DOC, strlen(DOC), 0, &je, &nomem);
	ok(got != NULL && !nomem && host_allocs > 0, "with a host allocator "
	    "set, the parse uses it (%lu allocations)", host_allocs);
	dump = oa2_json_dumps(got, JSON_COMPACT, NULL);
	ok(dump != NULL && strstr(dump, LONG_VALUE) != NULL,
	    "dump with a host allocator");
	oa2_json_free_dump(dump);
	oa2_json_wipe_decref(got);
	ok(host_frees == host_allocs, "every block the host allocated, the "
	    "host freed (%lu)", host_frees);
	json_get_alloc_funcs(&m, &f);
	ok(m == host_malloc && f == host_free, "the host's allocator is still "
	    "installed");
	host_fail_all = 1;
	got = oa2_json_loadb(DOC, strlen(DOC), 0, &je, &nomem);
	ok(got == NULL && nomem, "the host's allocator failing: nomem");
	json_set_alloc_funcs(malloc, free);
}

/* test_wipe - strings and keys only this document holds are zeroed */
static void
test_wipe(void)
{
	static const char doc[] = "{\"secretKeyAAAA\": \"secretValue1111\", "
	    "\"arr\": [\"secretValue2222\", {\"x\": \"secretValue3333\"}], "
	    "\"shared\": \"keptValue4444\", \"n\": 1.5, \"t\": true}";
	json_error_t je;
	json_t *root, *shared;
	unsigned long plain;
	int	nomem;

	host_set();
	root = oa2_json_loadb(doc, strlen(doc), 0, &je, &nomem);
	host_needle = "secret";
	json_decref(root);
	plain = host_secret_frees;

	host_set();
	root = oa2_json_loadb(doc, strlen(doc), 0, &je, &nomem);
	shared = json_incref(json_object_get(root, "shared"));
	host_needle = "secret";
	oa2_json_wipe_decref(root);
	ok(plain > 0 && host_secret_frees == 0, "json_decref frees %lu blocks "
	    "holding a secret; oa2_json_wipe_decref none", plain);
	is_str(json_string_value(shared), "keptValue4444",
	    "a member held elsewhere too is not wiped");
	json_decref(shared);
	json_set_alloc_funcs(malloc, free);
	oa2_json_wipe_decref(NULL);
	ok(1, "oa2_json_wipe_decref(NULL) is a no-op");
}

/* test_dump - json_dumpb into our block; failures are NULL */
static void
test_dump(void)
{
	json_error_t je;
	json_t *root;
	char   *want, *got;
	size_t	len = 0;
	unsigned long k, failed = 0, wrong = 0;
	int	done = 0;

	root = json_loads(DOC, 0, &je);
	want = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	got = oa2_json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, &len);
	ok(got != NULL && strcmp(got, want) == 0 && len == strlen(want),
	    "oa2_json_dumps gives json_dumps' text and length");
	oa2_json_free_dump(got);
	for (k = 1; k < 100 && !done; k++) {
		oa2_mem_fail_at(k);
		got = oa2_json_dumps(root, JSON_COMPACT, NULL);
		if (oa2_mem_count() < k)
			done = got != NULL;
		else if (failed++, got != NULL)
			wrong++;
		oa2_mem_fail_at(0);
		oa2_json_free_dump(got);
	}
	ok(done && failed > 0 && wrong == 0, "oa2_json_dumps: each of %lu "
	    "failed allocations gives NULL", failed);
	free(want);
	json_decref(root);
}

int
main(void)
{
	test_jansson_hides();
	test_loadb_nomem();
	test_host_allocator();
	test_wipe();
	test_dump();
	return tap_done();
}
