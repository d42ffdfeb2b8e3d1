/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	import 3
 * SUMMARY
 *	sasl-oauth2 import: take over a sasl-xoauth2 token file
 * DESCRIPTION
 *	cmd_import() reads a sasl-xoauth2 token file (access_token,
 *	refresh_token, expiry, perhaps user, client_id, ...) and
 *	sasl-xoauth2's configuration (/etc/sasl-xoauth2.conf, or --config):
 *	the configuration's string settings that a token file may hold too
 *	(oa2_settings_table[]: client_id, client_secret, token_endpoint,
 *	proxy, CA settings, ...) are merged into the token where the token
 *	does not set them, and the result is written to the
 *	destination (mode 0600, atomically, through oa2_token_save).  The
 *	originals are only read.  "imported_from" and "imported_at" record
 *	where the file came from.
 * SECURITY
 *	The serialized document is wiped; nothing from the files is printed.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"
#include "sao.h"

#define XO_CONFIG "/etc/sasl-xoauth2.conf"

/* read_all - the whole file into a wiped buffer (up to its cap); -1 on error */
static int
read_all(const char *path, struct oa2_buf *b)
{
	char	chunk[4096];
	ssize_t	n;
	int	fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || oa2_buf_append(b, chunk, (size_t)n) < 0) {
			if (n > 0)
				errno = EFBIG;
			rc = -1;
			break;
		}
	}
	oa2_wipe(chunk, sizeof(chunk));
	(void)close(fd);
	return rc;
}

/* load_json - a JSON object from path, or NULL (message printed) */
static json_t *
load_json(const char *path, const char *what)
{
	struct oa2_buf b;
	json_error_t je;
	json_t *doc;
	struct stat st;
	int nomem;

	if (stat(path, &st) == 0 && (st.st_mode & 004) && strcmp(what, "token") == 0)
		sao_warn("%s: warning: readable by everyone: the refresh token in it "
		    "should be treated as leaked", path);
	/* Not json_load_file(): stdio would free a copy of the file unwiped. */
	oa2_buf_init(&b, 0);
	if (read_all(path, &b) < 0) {
		sao_warn("%s: cannot read the %s file: %s", path, what,
		    strerror(errno));
		oa2_buf_free(&b);
		return NULL;
	}
	doc = oa2_json_loadb(b.data ? b.data : "", b.len,
	    JSON_REJECT_DUPLICATES, &je, &nomem);
	oa2_buf_free(&b);
	if (doc == NULL && nomem)
		sao_die(EX_OSERR, "out of memory");
	if (doc == NULL) {
		sao_warn("%s: cannot read the %s file: not valid JSON (line %d)",
		    path, what, je.line);
		return NULL;
	}
	if (!json_is_object(doc)) {
		sao_warn("%s: the %s file is not a JSON object", path, what);
		oa2_json_wipe_decref(doc);
		return NULL;
	}
	return doc;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"config", required_argument, NULL, 256},
		{"owner", required_argument, NULL, 257},
		{NULL, 0, NULL, 0}
	};
	const char *config = NULL, *owner = NULL, *src, *dst;
	struct oa2_token tok = {0};
	struct oa2_error err;
	struct stat st;
	json_t *doc, *conf = NULL;
	char *dump, now[32];
	int c, force = 0, n = 0;

	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 256: config = optarg; break;
		case 257: owner = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 2)
		usage();
	src = argv[optind];
	dst = argv[optind + 1];
	if (lstat(dst, &st) == 0 && !force) {
		sao_warn("%s exists: not replacing it (add -f)", dst);
		return EX_CANTCREAT;
	}
	if ((doc = load_json(src, "token")) == NULL)
		return EX_NOINPUT;
	if (!json_is_string(json_object_get(doc,
	    OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN)))) {
		sao_warn("%s: no refresh_token: not a sasl-xoauth2 token file", src);
		oa2_json_wipe_decref(doc);
		return EX_DATAERR;
	}
	if (config == NULL && access(XO_CONFIG, F_OK) == 0)
		config = XO_CONFIG;
	if (config != NULL && (conf = load_json(config, "sasl-xoauth2 configuration")) == NULL) {
		oa2_json_wipe_decref(doc);
		return EX_NOINPUT;
	}
	for (size_t i = 0; conf != NULL && i < OA2_S_COUNT; i++) {
		const struct oa2_setting_def *d = &oa2_settings_table[i];
		json_t *v;

		if (d->type != OA2_T_STRING || (d->where &
		    (OA2_IN_TOKEN | OA2_IN_CONFIG)) != (OA2_IN_TOKEN | OA2_IN_CONFIG))
			continue;
		v = json_object_get(conf, d->name);
		if (json_is_string(v) && *json_string_value(v) &&
		    json_object_get(doc, d->name) == NULL) {
			json_object_set(doc, d->name, v);
			n++;
		}
	}
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	json_object_set_new(doc, OA2_SETTING_NAME(OA2_S_IMPORTED_FROM),
	    json_string(src));
	json_object_set_new(doc, OA2_SETTING_NAME(OA2_S_IMPORTED_AT),
	    json_string(now));
	dump = oa2_json_dumps(doc, JSON_PRESERVE_ORDER | JSON_INDENT(2), NULL);
	oa2_json_wipe_decref(doc);
	oa2_json_wipe_decref(conf);
	if (dump == NULL)
		sao_die(EX_OSERR, "out of memory");
	if (oa2_token_parse(&tok, dst, dump, strlen(dump), &err) != OA2_OK ||
	    oa2_token_save(&tok, dst, &err) != OA2_OK) {
		oa2_json_free_dump(dump);
		oa2_token_free(&tok);
		return sao_report(&err);
	}
	oa2_json_free_dump(dump);
	oa2_token_free(&tok);
	if (owner != NULL && sao_chown_spec(dst, owner) < 0)
		return EX_NOPERM;
	sao_info("%s: imported from %s%s%s (%d setting%s merged); check it with: "
	    "%s refresh %s", dst, src, config ? " and " : "", config ? config : "",
	    n, n == 1 ? "" : "s", PROG, dst);
	return EX_OK;
}
