/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_json 3
 * SUMMARY
 *	jansson without a process-wide allocator: parse, wipe, dump
 * SYNOPSIS
 *	#include "oa2_json.h"
 *
 *	json_t	*oa2_json_loadb(const char *data, size_t len, size_t flags,
 *			json_error_t *je, int *nomem)
 *
 *	void	oa2_json_wipe_decref(json_t *json)
 *
 *	char	*oa2_json_dumps(const json_t *json, size_t flags, size_t *lenp)
 *
 *	void	oa2_json_free_dump(char *dump)
 * DESCRIPTION
 *	The plugin runs inside someone else's process, and jansson's
 *	allocator (json_set_alloc_funcs()) belongs to that whole process.
 *	An allocator of ours installed there outlives us: once libsasl2
 *	unloads the plugin, the host's next json_decref() jumps into
 *	unmapped code, and a host that set its own allocator would find
 *	ours in its place.  So nothing here installs an allocator for the
 *	life of the process.  Secrets are wiped by walking the document
 *	instead:
 *
 *	oa2_json_wipe_decref() releases one reference; when it is the last
 *	one, every string value and object key that only this document
 *	holds is zeroed in place first (a shared member, held elsewhere
 *	too, is left alone).  Every document that may hold a token or the
 *	client secret is released this way.
 *
 *	oa2_json_dumps() serializes with json_dumpb() into a block of our
 *	own, sized by a first json_dumpb() call: jansson's growing
 *	strbuffer (json_dumps()) would free copies of the text unwiped.
 *	Release the result with oa2_json_free_dump() (or oa2_wipe() and
 *	free()).  NULL when memory ran out or jansson failed.
 *
 *	oa2_json_loadb() is json_loadb() that tells out-of-memory apart
 *	from bad input: NULL with *nomem set means "out of memory", never
 *	"fix your file".  jansson 2.14 reports most allocation failures as
 *	json_error_out_of_memory, but not all: its lexer drops a byte it
 *	cannot save (lex_save() ignores a failed strbuffer growth) and
 *	parses on, so a document can come back with a string one byte
 *	short and no error at all (tests/unit/test-json.c shows it).  That
 *	cannot be seen from outside, so for the length of one parse or dump,
 *	and only if jansson's allocator is still its default (malloc/free,
 *	i.e. nobody in the process set one), a pair of ours is installed
 *	that is malloc() and free() underneath (its blocks are plain malloc
 *	blocks, fine for free() whoever frees them, and it frees plain
 *	malloc blocks).  In the thread that parses it notes a failure and
 *	after one failure fails the rest of that parse (jansson 2.14 can
 *	copy past its buffer when it goes on after a lost byte), and it
 *	wipes every block jansson frees meanwhile (malloc_usable_size()):
 *	the lexer's scratch text, which held every token read, and its
 *	copies of the object keys.  Other threads' calls pass straight
 *	through.  The pair is put back in the same call, as soon as the
 *	parse ends; threads of ours share one installation (a mutex and a
 *	user count), and it is restored only if it is still ours.  Another
 *	thread of the host that reads the pair half-swapped gets malloc()
 *	with free() either way.  This is the only json_set_alloc_funcs() of
 *	the product (test programs that play a host set their own).  The
 *	plugin is not pinned in memory: a host thread would have to stay
 *	inside window_malloc() from our parse until after
 *	sasl_client_done() unmapped it.  jansson asks a
 *	program to set its allocator before using jansson, so a host that
 *	sets one while the plugin parses is outside jansson's own contract.
 *	When the host did set an allocator, nothing is installed:
 *	out-of-memory is then known only from jansson's error code (a byte
 *	lost by the lexer under memory exhaustion goes unnoticed), and what
 *	jansson frees during the parse is not wiped.  Either way, jansson
 *	2.14 itself may still stop on an assertion (lex_unget_unsave(),
 *	"c == d") when the byte after a number is lost: fuzz-config's
 *	FUZZ_OOM mode finds that within a few hundred inputs.
 * SECURITY
 *	Not wiped: with a host allocator set, the lexer's scratch buffers
 *	(the head of the first long string of each parse, cut at 14, 30,
 *	62, ... bytes as the buffer grows, and the tail of the longest one
 *	left in the final buffer), also without malloc_usable_size(); a
 *	string that a caller replaces or deletes inside an object, unless
 *	it takes a reference first and releases it with
 *	oa2_json_wipe_decref() (oa2_tokfile does); a value jansson drops
 *	itself when json_object_set_new() fails.  tests/e2e/secrets.sh counts the blocks
 *	freed by libjansson that still hold a whole secret.
 * SEE ALSO
 *	jansson's "Custom memory allocation"; oa2_mem(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <pthread.h>
#include <stdlib.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_mem.h"
#include "oa2_json.h"

static pthread_mutex_t window_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned window_users;		/* parses of ours under our allocator */
static _Thread_local int in_window;	/* this thread is in a parse of ours */
static _Thread_local int window_failed;	/* ... and an allocation failed */

/* window_malloc - jansson's allocator while we parse: note a failure */
static void *
window_malloc(size_t n)
{
	void   *p;

	/* Another thread's JSON, while ours is being parsed: untouched. */
	if (!in_window)
		return malloc(n);
	/* After one failure, all: jansson must not go on with a lost byte. */
	if (window_failed)
		return NULL;
	if ((p = oa2_malloc(n)) == NULL)
		window_failed = 1;
	return p;
}

/* window_free - jansson's deallocator while we parse: wipe our thread's blocks */
static void
window_free(void *p)
{
#ifdef HAVE_MALLOC_USABLE_SIZE
	/* The lexer's scratch text, the key copies: they may hold a token. */
	if (p != NULL && in_window)
		oa2_wipe(p, malloc_usable_size(p));
#endif
	free(p);
}

/* window_open - install window_malloc if jansson has its default; 1 if so */
static int
window_open(void)
{
	json_malloc_t m;
	json_free_t f;
	int	mine = 0;

	pthread_mutex_lock(&window_lock);
	json_get_alloc_funcs(&m, &f);
	if (window_users > 0 && m == window_malloc) {
		window_users++;
		mine = 1;
	} else if (window_users == 0 && m == malloc && f == free) {
		json_set_alloc_funcs(window_malloc, window_free);
		window_users = 1;
		mine = 1;
	}
	pthread_mutex_unlock(&window_lock);
	in_window = 1;
	window_failed = 0;
	return mine;
}

/* window_close - the last parse of ours puts jansson's default back */
static int
window_close(int mine)
{
	json_malloc_t m;
	json_free_t f;
	int	failed = window_failed;

	in_window = 0;
	window_failed = 0;
	if (!mine)
		return failed;
	pthread_mutex_lock(&window_lock);
	if (--window_users == 0) {
		json_get_alloc_funcs(&m, &f);
		if (m == window_malloc && f == window_free)
			json_set_alloc_funcs(malloc, free);
	}
	pthread_mutex_unlock(&window_lock);
	return failed;
}

json_t *
oa2_json_loadb(const char *data, size_t len, size_t flags,
    json_error_t *je, int *nomem)
{
	json_t *root;
	int	failed, mine;

	memset(je, 0, sizeof(*je));
	mine = window_open();
	root = json_loadb(data, len, flags, je);
	failed = window_close(mine);

	/* No error text at all: jansson could not allocate its lexer. */
	*nomem = failed || (root == NULL && (je->text[0] == 0
#if JANSSON_VERSION_HEX >= 0x020b00
	    || json_error_code(je) == json_error_out_of_memory
#endif
	    ));
	if (*nomem && root != NULL) {
		oa2_json_wipe_decref(root);
		root = NULL;
	}
	return root;
}

/* wipe_owned - zero the strings and keys under json that nobody else holds */
static void
wipe_owned(json_t *json)
{
	void   *it;
	size_t	i;

	/* Shared (or one of jansson's constants): someone else's too. */
	if (json == NULL || json->refcount != 1)
		return;
	switch (json_typeof(json)) {
	case JSON_STRING:
		oa2_wipe((char *)json_string_value(json), json_string_length(json));
		break;
	case JSON_ARRAY:
		for (i = 0; i < json_array_size(json); i++)
			wipe_owned(json_array_get(json, i));
		break;
	case JSON_OBJECT:
		/* The keys are not looked up again: the object is going. */
		for (it = json_object_iter(json); it != NULL;
		    it = json_object_iter_next(json, it)) {
			wipe_owned(json_object_iter_value(it));
#if JANSSON_VERSION_HEX >= 0x020e00
			oa2_wipe((char *)json_object_iter_key(it),
			    json_object_iter_key_len(it));
#else
			oa2_wipe((char *)json_object_iter_key(it),
			    strlen(json_object_iter_key(it)));
#endif
		}
		break;
	default:
		break;
	}
}

void
oa2_json_wipe_decref(json_t *json)
{
	wipe_owned(json);
	json_decref(json);
}

char *
oa2_json_dumps(const json_t *json, size_t flags, size_t *lenp)
{
	size_t	n, got = 0;
	char   *buf = NULL;
	int	failed, mine;

	mine = window_open();
	n = json_dumpb(json, NULL, 0, flags);
	if (n > 0 && (buf = oa2_malloc(n + 1)) != NULL)
		got = json_dumpb(json, buf, n, flags);
	failed = window_close(mine);
	if (buf != NULL && (failed || got != n)) {
		oa2_wipe(buf, n);
		free(buf);
		buf = NULL;
	}
	if (buf == NULL)
		return NULL;
	buf[n] = 0;
	if (lenp != NULL)
		*lenp = n;
	return buf;
}

void
oa2_json_free_dump(char *dump)
{
	if (dump == NULL)
		return;
	oa2_wipe(dump, strlen(dump));
	free(dump);
}
