/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	fuzz-config 1
 * SUMMARY
 *	libFuzzer target: the global configuration file
 * SYNOPSIS
 *	fuzz-config [libFuzzer options] [corpus...]
 * DESCRIPTION
 *	Each input is a configuration file given to oa2_config_parse() as
 *	"fuzz.conf".  Beyond the sanitizers, the target checks the contract
 *	of oa2_config(3h) and aborts when it does not hold:
 *
 *	A refusal keeps nothing (root NULL), has code "config", and one
 *	line of printable text that starts with the path.  It never quotes
 *	jansson's "near '...'" context for the input (asked of jansson
 *	itself: a key named " near x" may be named), and a file that is not JSON never
 *	has a piece of its content (a run of 12 or more token characters)
 *	in the message: such a run may be the client secret.
 *
 *	A file that parses is an object of known settings only, each of the
 *	right type; the numbers in effect are in range (timeouts at least
 *	1 s); the log level is one of the four names.  Dumped and parsed
 *	again it gives an equal document and the same numbers.
 *
 *	With FUZZ_OOM=1 in the environment, the same input is then parsed
 *	once more with memory running out at the k-th counted allocation
 *	(oa2_mem_fail_at(), k chosen from the input; inside the parse
 *	every later one fails too: oa2_json(3)): the result must be the first result, or a refusal with
 *	OA2_ERR_NOMEM that says "out of memory" -- never a wrong "fix your
 *	file" message and never a silently different configuration.  This
 *	found that oa2_config_parse() reported memory exhaustion as "not
 *	valid JSON".  It is off by default because it soon finds bugs in
 *	jansson 2.14 itself, which we cannot fix here: its lexer asserts
 *	(lex_unget_unsave(): "c == d") when a byte could not be saved for
 *	lack of memory, and after a single failed growth lex_scan_string()
 *	can lose the closing quote and copy past its buffer.
 *
 *	Seeds: fuzz/corpus/config/; dictionary: fuzz/config.dict.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Utility library. */

#include <jansson.h>

/* Application-specific. */

#include "oa2_config.h"
#include "oa2_error.h"
#include "oa2_mem.h"

#define FUZZ_INIT	config_init
#include "fuzz-seed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define PATH		"fuzz.conf"
#define RUN_MIN		12

/* config_row - the settings table's row for a configuration member, or NULL */
static const struct oa2_setting_def *
config_row(const char *name)
{
	const struct oa2_setting_def *d = oa2_setting_find(name);

	return (d != NULL && (d->where & OA2_IN_CONFIG) ? d : NULL);
}

/* is_tokchar - a byte a token or secret may be made of */
static int
is_tokchar(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		|| (c >= '0' && c <= '9') || c == '-' || c == '_'
		|| c == '.' || c == '~' || c == '+' || c == '/');
}

/* check_no_runs - no run of RUN_MIN+ token bytes of data shows in msg */
static void
check_no_runs(const char *msg, const uint8_t *data, size_t size)
{
	size_t	i = 0, j, mlen = strlen(msg);

	while (i < size) {
		if (!is_tokchar(data[i])) {
			i++;
			continue;
		}
		for (j = i; j < size && is_tokchar(data[j]); j++)
			;
		if (j - i >= RUN_MIN)
			CHECK(memmem(msg, mlen, data + i, j - i) == NULL);
		i = j;
	}
}

/*
 * check_no_jansson_context - msg does not quote jansson's "near '...'"
 * context for this input.  The oracle asks jansson itself what that context
 * is: a plain search for " near " would reject a message that names a key
 * the input spelled with " near " in it (the dictionary holds that word).
 */
static void
check_no_jansson_context(const char *msg, const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *root;
	const char *near;

	root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &je);
	if (root != NULL) {
		json_decref(root);
		return;
	}
	if ((near = strstr(je.text, " near '")) != NULL && near[7] != '\0')
		CHECK(strstr(msg, near) == NULL);
}

/* check_refusal - the shape of a failure */
static void
check_refusal(enum oa2_status st, const struct oa2_error *err,
	              const struct oa2_config *cfg,
	              const uint8_t *data, size_t size)
{
	const unsigned char *p;

	CHECK(st == OA2_ERR_INPUT || st == OA2_ERR_NOMEM);
	CHECK(err->status == st);
	CHECK(cfg->root == NULL);
	CHECK(strcmp(err->code, "config") == 0);
	CHECK(strncmp(err->msg, PATH ": ", sizeof(PATH ": ") - 1) == 0);
	for (p = (const unsigned char *) err->msg; *p != 0; p++)
		CHECK(*p >= 0x20 && *p != 0x7f);
	check_no_jansson_context(err->msg, data, size);
	if (st == OA2_ERR_NOMEM)
		CHECK(strstr(err->msg, "out of memory") != NULL);
	if (strncmp(err->msg, PATH ": not valid JSON (",
		    sizeof(PATH ": not valid JSON (") - 1) == 0)
		check_no_runs(err->msg, data, size);
}

/* check_sane - what a parsed configuration must look like */
static void
check_sane(const struct oa2_config *cfg)
{
	const struct oa2_setting_def *d;
	const char *key;
	json_t *v;

	CHECK(json_is_object(cfg->root));
	json_object_foreach(cfg->root, key, v) {
		d = config_row(key);
		CHECK(d != NULL);
		switch (d->type) {
		case OA2_T_IGNORED:
			break;
		case OA2_T_SECONDS:
			CHECK(json_is_integer(v) || json_is_string(v));
			CHECK(oa2_config_str(cfg, oa2_setting_id_of(d)) == NULL
			      || json_is_string(v));
			break;
		case OA2_T_CLIENT_AUTH:
			CHECK(json_is_string(v));
			CHECK(strcmp(json_string_value(v), "post") == 0
			      || strcmp(json_string_value(v), "basic") == 0);
			/* FALLTHROUGH */
		default:
			CHECK(json_is_string(v));
			CHECK(oa2_config_str(cfg, oa2_setting_id_of(d))
			      == json_string_value(v));
			break;
		}
	}
	CHECK(cfg->connect_timeout >= 1
	      && cfg->connect_timeout <= OA2_CONFIG_SECONDS_MAX);
	CHECK(cfg->timeout >= 1 && cfg->timeout <= OA2_CONFIG_SECONDS_MAX);
	CHECK(cfg->refresh_window >= 0
	      && cfg->refresh_window <= OA2_CONFIG_SECONDS_MAX);
	CHECK(cfg->log_level == OA2_LOG_ERROR || cfg->log_level == OA2_LOG_WARNING
	      || cfg->log_level == OA2_LOG_NOTICE
	      || cfg->log_level == OA2_LOG_DEBUG);
	CHECK(strcmp(cfg->path, PATH) == 0);
}

/* same_numbers - two configurations are in effect the same */
static void
same_numbers(const struct oa2_config *a, const struct oa2_config *b)
{
	CHECK(a->connect_timeout == b->connect_timeout);
	CHECK(a->timeout == b->timeout);
	CHECK(a->refresh_window == b->refresh_window);
	CHECK(a->log_level == b->log_level);
}

/* round_trip - dump, parse again, compare */
static void
round_trip(const struct oa2_config *cfg)
{
	struct oa2_config back;
	struct oa2_error err;
	char   *dump;

	dump = json_dumps(cfg->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	CHECK(dump != NULL);
	CHECK(oa2_config_parse(&back, PATH, dump, strlen(dump), &err) == OA2_OK);
	CHECK(json_equal(back.root, cfg->root));
	same_numbers(cfg, &back);
	oa2_config_free(&back);
	CHECK(back.root == NULL);
	oa2_wipe(dump, strlen(dump));
	free(dump);
}

static int oom_mode;

/* pick_k - which allocation fails: 1..count+1, from the input */
static unsigned long
pick_k(const uint8_t *data, size_t size, unsigned long count)
{
	unsigned long h = 5381;
	size_t	i;

	for (i = 0; i < size; i++)
		h = h * 33 + data[i];
	return (1 + h % (count + 1));
}

/* under_oom - the same input with one allocation failing */
static void
under_oom(const uint8_t *data, size_t size, enum oa2_status first,
	          const struct oa2_config *cfg, const struct oa2_error *err1,
	          unsigned long count)
{
	struct oa2_config again;
	struct oa2_error err;
	enum oa2_status st;
	unsigned long k;
	int	failed;

	k = pick_k(data, size, count);
	oa2_error_clear(&err);
	oa2_mem_fail_at(k);
	st = oa2_config_parse(&again, PATH, (const char *) data, size, &err);
	failed = oa2_mem_count() >= k;
	oa2_mem_fail_at(0);
	if (!failed) {
		/* Nothing failed: the very same result. */
		CHECK(st == first);
	} else if (st == OA2_ERR_NOMEM) {
		check_refusal(st, &err, &again, data, size);
	} else if (first != OA2_OK) {
		/* The failure came after jansson had its say, or not at all. */
		CHECK(st == first && strcmp(err.msg, err1->msg) == 0);
	} else {
		/* An allocation failure must not pass as a different file. */
		CHECK(st == OA2_OK);
	}
	if (st == OA2_OK) {
		CHECK(first == OA2_OK);
		CHECK(json_equal(again.root, cfg->root));
		same_numbers(cfg, &again);
	} else {
		CHECK(again.root == NULL);
	}
	oa2_config_free(&again);
}

/* config_init - after the fixed seed (fuzz-seed.h): FUZZ_OOM=1, out of memory */
static void
config_init(void)
{
	oom_mode = getenv("FUZZ_OOM") != NULL && strcmp(getenv("FUZZ_OOM"), "1") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa2_config cfg;
	struct oa2_error err;
	enum oa2_status st;
	unsigned long count;

	oa2_error_clear(&err);
	oa2_mem_fail_at(0);
	st = oa2_config_parse(&cfg, PATH, (const char *) data, size, &err);
	count = oa2_mem_count();
	if (st != OA2_OK) {
		check_refusal(st, &err, &cfg, data, size);
		CHECK(st == OA2_ERR_INPUT);
	} else {
		check_sane(&cfg);
		round_trip(&cfg);
	}
	if (oom_mode)
		under_oom(data, size, st, &cfg, &err, count);
	oa2_config_free(&cfg);
	return (0);
}
