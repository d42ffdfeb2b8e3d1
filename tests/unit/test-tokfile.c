/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	test-tokfile 1
 * SUMMARY
 *	unit tests of the token file module (TAP)
 * SYNOPSIS
 *	test-tokfile
 * DESCRIPTION
 *	Works in a fresh mkdtemp(3) directory below $TMPDIR (default /tmp)
 *	and removes it at the end.  Covers: round trips that keep unknown
 *	members and their order, sasl-xoauth2 files, every refusal with its
 *	message, that no message quotes a secret, update/set_string under
 *	injected allocation failures, atomic save (mode, owner, no temporary
 *	files left, SIGKILL after each step), cleanup of stale temporary
 *	files, and locking across processes (20 writers, inode re-check).
 *
 *	Run as root it also tests what happens to uid 65534, in forked
 *	children that drop privileges with setresuid(2).
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"
#include "tap.h"

/* Every secret in these tests contains SECRET, so messages can be checked. */
#define RT	"SECRET-RT-1//0gAbc"
#define AT	"SECRET-AT-ya29.a0Xyz"
#define CS	"SECRET-CS-GOCSPX"
#define NOBODY	65534

static char dir[PATH_MAX - 64];

/* P - a path in the test directory (eight rotating buffers) */
static const char *
P(const char *name)
{
	static char buf[8][PATH_MAX];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return (buf[i]);
}

/* write_file - create or replace a file with the given bytes and mode */
static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int     fd;

	(void) unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0
	    || write(fd, data, len) != (ssize_t) len || fchmod(fd, mode) < 0
	    || close(fd) < 0) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* put - write_file for a string */
static void
put(const char *path, const char *data, mode_t mode)
{
	write_file(path, data, strlen(data), mode);
}

/* slurp - a file's content as a string (static buffer), "" if unreadable */
static const char *
slurp(const char *path)
{
	static char buf[OA2_TOKFILE_MAX + 2];
	ssize_t n;
	int     fd;

	buf[0] = 0;
	if ((fd = open(path, O_RDONLY)) < 0)
		return (buf);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	(void) close(fd);
	return (buf);
}

/* count_tmp - entries named "<base>.tmp.*" in the test directory */
static int
count_tmp(const char *base)
{
	char    prefix[256];
	struct dirent *de;
	DIR    *d;
	int     n = 0;

	snprintf(prefix, sizeof(prefix), "%s.tmp.", base);
	if ((d = opendir(dir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	(void) closedir(d);
	return (n);
}

/* exists - lstat succeeds */
static int
exists(const char *path)
{
	struct stat st;

	return (lstat(path, &st) == 0);
}

/* age - set a file's times (without following a symlink) to secs ago */
static void
age(const char *path, int secs)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - secs;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	(void) utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* starts_with_path - msg is "<path>: ..." */
static int
starts_with_path(const char *msg, const char *path)
{
	size_t  n = strlen(path);

	return (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ');
}

/* check_refusal - st/err describe an input refusal of path with want1/want2 */
static void
check_refusal(enum oa2_status st, const struct oa2_error *err,
	              const char *path, const char *label, const char *want1,
	              const char *want2)
{
	if (!ok(st == OA2_ERR_INPUT && strcmp(err->code, "token_file") == 0,
		"%s: refused as input/token_file", label))
		printf("# status %s, code \"%s\", msg \"%s\"\n",
		       oa2_status_name(st), err->code, err->msg);
	if (!ok(starts_with_path(err->msg, path), "%s: message starts with "
		"the path", label))
		printf("# got \"%s\"\n", err->msg);
	has_str(err->msg, want1, "%s: message says what is wrong", label);
	if (want2 != NULL)
		has_str(err->msg, want2, "%s: message says what to do", label);
	ok(strstr(err->msg, "SECRET") == NULL && strchr(err->msg, '\n') == NULL,
	   "%s: message is one line and quotes no secret", label);
}

/* expect_load_fail - oa2_token_load refuses path */
static void
expect_load_fail(const char *path, const char *label, const char *want1,
		         const char *want2)
{
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;

	oa2_error_clear(&err);
	st = oa2_token_load(&tok, path, -1, NULL, &err);
	check_refusal(st, &err, path, label, want1, want2);
	ok(tok.root == NULL && tok.refresh_token == NULL, "%s: nothing loaded",
	   label);
	oa2_token_free(&tok);
}

/* expect_content_fail - a file with this content is refused */
static void
expect_content_fail(const char *content, const char *label, const char *want1,
		            const char *want2)
{
	char    path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", P("bad.json"));
	put(path, content, 0600);
	expect_load_fail(path, label, want1, want2);
}

/* load_ok - load must succeed */
static int
load_ok(struct oa2_token *tok, const char *path, const char *label)
{
	struct oa2_error err;

	oa2_error_clear(&err);
	if (oa2_token_load(tok, path, -1, NULL, &err) != OA2_OK) {
		ok(0, "%s: loads", label);
		printf("# %s\n", err.msg);
		return (0);
	}
	return (ok(1, "%s: loads", label));
}

/* A forked child's answer. */
struct cres {
	int     st;
	char    code[OA2_ERR_CODE_MAX];
	char    msg[OA2_ERR_MSG_MAX];
	char    extra[256];
};

typedef void (*child_fn) (const void *arg, struct cres *r);

/* drop_to - become uid/gid id for good; 0 on success */
static int
drop_to(uid_t id)
{
	if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0
	    || setresuid(id, id, id) < 0)
		return (-1);
	return (0);
}

/* run_child - run fn in a child, as uid (or as we are, with -1); 0 if it answered */
static int
run_child(uid_t uid, child_fn fn, const void *arg, struct cres *r)
{
	int     p[2], status;
	ssize_t n;
	pid_t   pid;

	memset(r, 0, sizeof(*r));
	if (pipe(p) < 0 || (pid = fork()) < 0)
		return (-1);
	if (pid == 0) {
		struct cres cr;

		memset(&cr, 0, sizeof(cr));
		(void) close(p[0]);
		if (uid != (uid_t) -1 && drop_to(uid) < 0) {
			cr.st = -1;
			snprintf(cr.msg, sizeof(cr.msg), "setresuid: %s",
				 strerror(errno));
		} else
			fn(arg, &cr);
		n = write(p[1], &cr, sizeof(cr));
		_exit(n == (ssize_t) sizeof(cr) ? 0 : 1);
	}
	(void) close(p[1]);
	n = read(p[0], r, sizeof(*r));
	(void) close(p[0]);
	if (waitpid(pid, &status, 0) < 0)
		return (-1);
	return (n == (ssize_t) sizeof(*r) && WIFEXITED(status)
		&& WEXITSTATUS(status) == 0 ? 0 : -1);
}

/* child_load - load arg (a path) and report */
static void
child_load(const void *arg, struct cres *r)
{
	struct oa2_token tok;
	struct oa2_error err;

	oa2_error_clear(&err);
	r->st = oa2_token_load(&tok, arg, -1, NULL, &err);
	snprintf(r->code, sizeof(r->code), "%s", err.code);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	oa2_token_free(&tok);
}

/* child_lock - lock arg (a path) and report */
static void
child_lock(const void *arg, struct cres *r)
{
	struct oa2_error err;
	int     fd;

	oa2_error_clear(&err);
	r->st = oa2_token_lock(arg, &fd, &err);
	snprintf(r->code, sizeof(r->code), "%s", err.code);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	oa2_token_unlock(&fd);
}

/* child_refresh_save - load, update, save arg (a path) and report */
static void
child_refresh_save(const void *arg, struct cres *r)
{
	struct oa2_token tok;
	struct oa2_error err;

	oa2_error_clear(&err);
	if ((r->st = oa2_token_load(&tok, arg, -1, NULL, &err)) == OA2_OK
	    && (r->st = oa2_token_update(&tok, "AT-child", 42, "RT-child",
					 &err)) == OA2_OK)
		r->st = oa2_token_save(&tok, arg, &err);
	snprintf(r->code, sizeof(r->code), "%s", err.code);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	oa2_token_free(&tok);
}

/* test_round_trip - unknown members and their order survive load/update/save */
static void
test_round_trip(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	const char *s, *keys[] = {"\"zeta\"", "\"refresh_token\"", "\"alpha\"",
	"\"access_token\"", "\"expiry\"", "\"mid\"", "\"client_secret\""};
	const char *prev;
	size_t  i;
	int     inorder = 1;

	snprintf(path, sizeof(path), "%s", P("rt.json"));
	put(path, "{\"zeta\": 1, \"refresh_token\": \"" RT "\", \"alpha\": "
	    "{\"x\": [1, 2.5, null, true]}, \"access_token\": \"old\", "
	    "\"expiry\": \"100\", \"mid\": \"m\", \"client_secret\": \"" CS
	    "\"}", 0600);
	if (!load_ok(&tok, path, "round trip"))
		return;
	is_str(tok.refresh_token, RT, "refresh_token view");
	is_str(tok.access_token, "old", "access_token view");
	is_str(tok.client_secret, CS, "client_secret view");
	is_int(tok.expiry, 100, "expiry view");
	is_int(tok.refresh_window, -1, "refresh_window absent is -1");
	ok(tok.user == NULL && tok.provider == NULL, "absent views are NULL");
	is_int(oa2_token_update(&tok, AT, 1700000000LL, NULL, &err), OA2_OK,
	       "update without a refresh token");
	is_str(tok.refresh_token, RT, "old refresh token kept");
	is_str(tok.access_token, AT, "new access token");
	is_int(tok.expiry, 1700000000LL, "new expiry");
	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save");
	oa2_token_free(&tok);

	s = slurp(path);
	prev = s;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *at = strstr(s, keys[i]);

		if (at == NULL || at < prev)
			inorder = 0;
		else
			prev = at;
	}
	ok(inorder, "members written in their original order");
	has_str(s, "\"expiry\": \"1700000000\"", "expiry written as a string");
	has_str(s, "\"alpha\": {\n    \"x\": [\n      1,\n      2.5,\n      "
		"null,\n      true\n    ]\n  }", "unknown nested member kept");
	has_str(s, "{\n  \"zeta\": 1,\n", "indented by two");
	ok(strlen(s) > 0 && s[strlen(s) - 1] == '\n', "ends with a newline");
	is_int(count_tmp("rt.json"), 0, "no temporary file left");
	if (load_ok(&tok, path, "round trip, again")) {
		is_str(tok.refresh_token, RT, "refresh token after reload");
		is_str(tok.access_token, AT, "access token after reload");
		is_int(tok.expiry, 1700000000LL, "expiry after reload");
	}
	oa2_token_free(&tok);
}

/* test_compat - sasl-xoauth2 files, numbers, our own members, nulls */
static void
test_compat(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;

	snprintf(path, sizeof(path), "%s", P("compat.json"));
	put(path, "{\"access_token\": \"" AT "\", \"refresh_token\": \"" RT
	    "\", \"expiry\": \"1699999999\", \"refresh_window\": 300, "
	    "\"user\": \"me@example.com\", \"client_id\": \"cid\", "
	    "\"client_secret\": \"" CS "\", \"token_endpoint\": "
	    "\"https://oauth2.googleapis.com/token\", \"proxy\": \"\", "
	    "\"ca_bundle_file\": \"/etc/ssl/ca.pem\", \"ca_certs_dir\": "
	    "\"/etc/ssl/certs\"}\n", 0600);
	if (load_ok(&tok, path, "sasl-xoauth2 file")) {
		is_int(tok.expiry, 1699999999LL, "expiry string");
		is_int(tok.refresh_window, 300, "refresh_window number");
		is_str(tok.user, "me@example.com", "user");
		is_str(tok.client_id, "cid", "client_id");
		is_str(tok.token_endpoint, "https://oauth2.googleapis.com/token",
		       "token_endpoint");
		is_str(tok.proxy, "", "empty proxy is an empty string");
		is_str(tok.ca_bundle_file, "/etc/ssl/ca.pem", "ca_bundle_file");
		is_str(tok.ca_certs_dir, "/etc/ssl/certs", "ca_certs_dir");
	}
	oa2_token_free(&tok);

	put(path, "{\"refresh_token\": \"" RT "\", \"expiry\": 1699999999, "
	    "\"refresh_window\": \"60\", \"provider\": \"microsoft\", "
	    "\"tenant\": \"common\", \"scope\": \"https://outlook.office.com/"
	    "SMTP.Send offline_access\", \"client_auth\": \"basic\"}", 0600);
	if (load_ok(&tok, path, "expiry as a number")) {
		is_int(tok.expiry, 1699999999LL, "expiry number");
		is_int(tok.refresh_window, 60, "refresh_window digit string");
		is_str(tok.provider, "microsoft", "provider");
		is_str(tok.tenant, "common", "tenant");
		has_str(tok.scope, "SMTP.Send", "scope");
		is_str(tok.client_auth, "basic", "client_auth");
		ok(tok.access_token == NULL, "no access token yet");
		is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save");
		has_str(slurp(path), "\"expiry\": \"1699999999\"",
			"number expiry written back as a string");
		has_str(slurp(path), "\"refresh_window\": \"60\"",
			"refresh_window kept as it was");
	}
	oa2_token_free(&tok);

	put(path, "{\"refresh_token\": \"" RT "\", \"expiry\": null, "
	    "\"refresh_window\": null, \"user\": null, \"client_auth\": "
	    "\"post\", \"proxy\": null}", 0600);
	if (load_ok(&tok, path, "null members")) {
		is_int(tok.expiry, 0, "null expiry is 0");
		is_int(tok.refresh_window, -1, "null refresh_window is -1");
		ok(tok.user == NULL && tok.proxy == NULL, "null strings are NULL");
	}
	oa2_token_free(&tok);

	put(path, "{\"refresh_token\": \"" RT "\", \"expiry\": "
	    "\"9223372036854775807\", \"refresh_window\": 0, "
	    "\"client_auth\": \"\"}", 0600);
	if (load_ok(&tok, path, "largest expiry")) {
		is_int(tok.expiry, 9223372036854775807LL, "expiry LLONG_MAX");
		is_int(tok.refresh_window, 0, "refresh_window 0");
	}
	oa2_token_free(&tok);

	put(path, "{\"refresh_token\": \"" RT "\", \"expiry\": 0}", 0400);
	if (load_ok(&tok, path, "mode 0400"))
		is_int(tok.expiry, 0, "expiry 0");
	oa2_token_free(&tok);
}

/* test_file_refusals - what the file is, not what it says */
static void
test_file_refusals(void)
{
	const char *good = "{\"refresh_token\": \"" RT "\"}";
	const char *path;
	char    big[OA2_TOKFILE_MAX + 2];
	struct oa2_token tok;
	struct stat st;
	char    want[PATH_MAX + 64];
	size_t  n;

	path = P("link.json");
	put(P("target.json"), good, 0600);
	ok(symlink(P("target.json"), path) == 0, "make a symlink");
	expect_load_fail(path, "symlink", ": is a symbolic link: give the real "
			 "path", NULL);

	path = P("adir.json");
	(void) mkdir(path, 0700);
	expect_load_fail(path, "directory", ": is a directory, not a token file",
			 NULL);

	path = P("fifo.json");
	(void) mkfifo(path, 0600);
	alarm(20);			/* a hang is a failure, not a stuck test */
	expect_load_fail(path, "FIFO", ": is not a regular file",
			 "give the path of the token file");
	alarm(0);

	path = P("mode.json");
	put(path, good, 0644);
	snprintf(want, sizeof(want), "%s: is readable by group or others (mode "
		 "0644): run chmod 600 %s", path, path);
	expect_load_fail(path, "mode 0644", want, NULL);
	put(path, good, 0640);
	expect_load_fail(path, "mode 0640", "readable by group or others (mode "
			 "0640)", "run chmod 600");
	put(path, good, 0620);
	expect_load_fail(path, "mode 0620", "writable or executable by group or "
			 "others (mode 0620)", "run chmod 600");
	put(path, good, 0601);
	expect_load_fail(path, "mode 0601", "(mode 0601)", "run chmod 600");

	expect_load_fail(P("missing.json"), "missing file", ": cannot open: "
			 "No such file or directory", "check the path");

	path = P("empty.json");
	put(path, "", 0600);
	expect_load_fail(path, "empty file", ": is empty", NULL);
	put(path, " \n\t\r\n", 0600);
	expect_load_fail(path, "whitespace only", ": is empty", NULL);

	/* Exactly the limit loads; one byte more is refused. */
	path = P("big.json");
	n = strlen(good);
	memcpy(big, good, n - 1);
	memset(big + n - 1, ' ', OA2_TOKFILE_MAX - n);
	big[OA2_TOKFILE_MAX - 1] = '}';
	write_file(path, big, OA2_TOKFILE_MAX, 0600);
	if (load_ok(&tok, path, "file of exactly 65536 bytes"))
		is_str(tok.refresh_token, RT, "its refresh token");
	oa2_token_free(&tok);
	big[OA2_TOKFILE_MAX - 1] = ' ';
	big[OA2_TOKFILE_MAX] = '}';
	write_file(path, big, OA2_TOKFILE_MAX + 1, 0600);
	expect_load_fail(path, "oversize", ": is larger than 65536 bytes", NULL);
	ok(stat(path, &st) == 0 && st.st_size == OA2_TOKFILE_MAX + 1,
	   "oversize file is untouched");
}

/* test_content_refusals - what the file says */
static void
test_content_refusals(void)
{
	static const char *str_fields[] = {"access_token", "user", "client_id",
		"client_secret", "token_endpoint", "proxy", "ca_bundle_file",
	"ca_certs_dir", "provider", "tenant", "scope", "client_auth"};
	static const char *bad_types[] = {"5", "true", "[]", "{}", "1.5"};
	static const char *bad_expiry[] = {"\"12a\"", "\"-5\"", "\"\"", "-5",
		"1.5", "true", "\"99999999999999999999\"", "\" 12\"",
	"\"SECRET\"", "[]", "\"1e9\""};
	static const char *bad_window[] = {"-1", "\"x\"", "1.5", "[]",
	"\"-3\"", "\"\"", "false"};
	char    doc[512], label[128], want[128];
	size_t  i, j;

	expect_content_fail("{\n  \"refresh_token\": \"" RT "\",\n  \"x\": "
			    "tru\n}\n", "bad JSON", ": not valid JSON (line 3, "
			    "column ", "invalid token");
	expect_content_fail("{\"refresh_token\": \"" RT, "unterminated secret",
			    ": not valid JSON (line 1, column ",
			    "premature end of input)");
	expect_content_fail("{\"refresh_token\": \"" RT "\\q\"}", "bad escape "
			    "in a secret", ": not valid JSON (", "invalid escape");
	expect_content_fail("{\"refresh_token\": \"" RT "\n\"}", "newline in a "
			    "secret", ": not valid JSON (", "unexpected newline");
	expect_content_fail("{\"refresh_token\": " RT "}", "bare secret",
			    ": not valid JSON (", "invalid token");
	expect_content_fail("{\"refresh_token\": \"" RT "\"} " RT,
			    "trailing garbage", ": not valid JSON (",
			    "end of file expected");
	expect_content_fail("{\"refresh_token\": \"a\", \"refresh_token\": \""
			    RT "\"}", "duplicate member", ": not valid JSON (",
			    "duplicate object key \"refresh_token\"");
	expect_content_fail("[\"" RT "\"]", "array", ": is not a JSON object",
			    NULL);
	expect_content_fail("\"" RT "\"", "bare string", ": not valid JSON (",
			    NULL);
	expect_content_fail("{\"a\": \"\\u0000\", \"refresh_token\": \"" RT
			    "\"}", "NUL in a string", ": not valid JSON (", NULL);

	expect_content_fail("{\"access_token\": \"" AT "\"}", "no refresh token",
			    ": field \"refresh_token\" is missing: re-run "
			    "sasl-oauth2 authorize", NULL);
	expect_content_fail("{\"refresh_token\": \"\", \"access_token\": \"" AT
			    "\"}", "empty refresh token", ": field "
			    "\"refresh_token\" is empty: re-run sasl-oauth2 "
			    "authorize", NULL);
	expect_content_fail("{\"refresh_token\": 12345}", "number refresh token",
			    ": field \"refresh_token\" must be a string, not an "
			    "integer", "re-run sasl-oauth2 authorize");
	expect_content_fail("{\"refresh_token\": null}", "null refresh token",
			    ": field \"refresh_token\" must be a string, not "
			    "null", "re-run sasl-oauth2 authorize");
	expect_content_fail("{\"refresh_token\": [\"" RT "\"]}", "array refresh "
			    "token", ": field \"refresh_token\" must be a string",
			    "re-run sasl-oauth2 authorize");

	for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		for (j = 0; j < sizeof(bad_types) / sizeof(bad_types[0]); j++) {
			snprintf(doc, sizeof(doc), "{\"refresh_token\": \"%s\", "
				 "\"access_token\": \"%s\", \"%s\": %s}", RT,
				 strcmp(str_fields[i], "access_token") ? AT : "",
				 str_fields[i], bad_types[j]);
			if (strcmp(str_fields[i], "access_token") == 0)
				snprintf(doc, sizeof(doc), "{\"refresh_token\": "
					 "\"%s\", \"access_token\": %s}", RT,
					 bad_types[j]);
			snprintf(label, sizeof(label), "%s = %s", str_fields[i],
				 bad_types[j]);
			snprintf(want, sizeof(want), ": field \"%s\" must be %s",
				 str_fields[i],
				 strcmp(str_fields[i], "client_auth") == 0 ?
				 "\"post\" or \"basic\"" : "a string, not ");
			expect_content_fail(doc, label, want, NULL);
		}
	expect_content_fail("{\"refresh_token\": \"" RT "\", \"client_auth\": "
			    "\"oops\"}", "client_auth = oops", ": field "
			    "\"client_auth\" must be \"post\" or \"basic\"", NULL);

	for (i = 0; i < sizeof(bad_expiry) / sizeof(bad_expiry[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"refresh_token\": \"%s\", "
			 "\"expiry\": %s}", RT, bad_expiry[i]);
		snprintf(label, sizeof(label), "expiry = %s", bad_expiry[i]);
		expect_content_fail(doc, label, ": field \"expiry\" must be a "
				    "string of digits (epoch seconds)", NULL);
	}
	for (i = 0; i < sizeof(bad_window) / sizeof(bad_window[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"refresh_token\": \"%s\", "
			 "\"refresh_window\": %s}", RT, bad_window[i]);
		snprintf(label, sizeof(label), "refresh_window = %s",
			 bad_window[i]);
		expect_content_fail(doc, label, ": field \"refresh_window\" must "
				    "be a number of seconds", NULL);
	}
}

/* test_compact_fallback - a file that fits only without indentation still saves */
static void
test_compact_fallback(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	struct stat st;
	static char doc[OA2_TOKFILE_MAX];
	size_t  n, i;

	snprintf(path, sizeof(path), "%s", P("compact.json"));
	n = (size_t) snprintf(doc, sizeof(doc), "{\"refresh_token\":\"" RT
			      "\",\"x\":[0");
	for (i = 0; i < 30000; i++) {
		doc[n++] = ',';
		doc[n++] = '0';
	}
	doc[n++] = ']';
	doc[n++] = '}';
	write_file(path, doc, n, 0600);
	if (load_ok(&tok, path, "a big compact file")) {
		is_int(oa2_token_update(&tok, AT, 5, "RT-rotated", &err), OA2_OK,
		       "update");
		is_int(oa2_token_save(&tok, path, &err), OA2_OK,
		       "it saves although it would not fit indented");
		memset(&st, 0, sizeof(st));
		(void) stat(path, &st);
		ok(st.st_size > 0 && st.st_size <= OA2_TOKFILE_MAX
		   && strstr(slurp(path), "\n  ") == NULL,
		   "written compact (%lld bytes)", (long long) st.st_size);
	}
	oa2_token_free(&tok);
	if (load_ok(&tok, path, "the compact file"))
		is_str(tok.refresh_token, "RT-rotated", "rotated token kept");
	oa2_token_free(&tok);
	is_int(count_tmp("compact.json"), 0, "no temporary file left");
}

/* test_parse_direct - oa2_token_parse on memory, including odd bytes */
static void
test_parse_direct(void)
{
	static const char nul_doc[] = "{\"refresh_token\": \"" RT "\"}\0junk";
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;

	st = oa2_token_parse(&tok, "mem.json", nul_doc, sizeof(nul_doc) - 1,
			     &err);
	check_refusal(st, &err, "mem.json", "NUL after the object",
		      ": not valid JSON (", NULL);
	st = oa2_token_parse(&tok, "mem.json", nul_doc, strlen(nul_doc), &err);
	is_int(st, OA2_OK, "the same without the NUL parses");
	oa2_token_free(&tok);
	st = oa2_token_parse(&tok, "mem.json", "{\"refresh_token\": \"\xff\"}",
			     22, &err);
	check_refusal(st, &err, "mem.json", "invalid UTF-8",
		      ": not valid JSON (", NULL);
	ok(tok.root == NULL, "nothing parsed");
	st = oa2_token_parse(&tok, "mem.json", "", 0, &err);
	check_refusal(st, &err, "mem.json", "zero bytes", ": is empty", NULL);
}

/* test_update - update and set_string, and what they refuse */
static void
test_update(void)
{
	static const char doc[] = "{\"x\": 1, \"refresh_token\": \"" RT "\", "
	"\"access_token\": \"old-at\", \"expiry\": \"5\", \"y\": [2]}";
	struct oa2_token tok;
	struct oa2_error err;
	char   *before, *after;

	if (oa2_token_parse(&tok, "u.json", doc, strlen(doc), &err) != OA2_OK) {
		ok(0, "update: parse");
		return;
	}
	is_int(oa2_token_update(&tok, "at2", 77, "rt2", &err), OA2_OK,
	       "update with a new refresh token");
	is_str(tok.refresh_token, "rt2", "new refresh token");
	is_str(tok.access_token, "at2", "new access token");
	is_int(tok.expiry, 77, "new expiry");
	is_int(oa2_token_update(&tok, "at3", 78, "", &err), OA2_OK,
	       "update with an empty refresh token");
	is_str(tok.refresh_token, "rt2", "empty refresh token keeps the old one");
	is_str(json_string_value(json_object_get(tok.root, "expiry")), "78",
	       "expiry stored as a string");

	before = json_dumps(tok.root, JSON_PRESERVE_ORDER);
	is_int(oa2_token_update(&tok, NULL, 1, NULL, &err), OA2_ERR_INTERNAL,
	       "update without an access token is a bug");
	is_int(oa2_token_update(&tok, "a", -1, NULL, &err), OA2_ERR_INTERNAL,
	       "update with a negative expiry is a bug");
	is_int(oa2_token_update(&tok, "a\xff", 1, NULL, &err), OA2_ERR_PROTO,
	       "update with invalid UTF-8 is refused");
	ok(strstr(err.msg, "not valid UTF-8") != NULL, "and says why");
	is_int(oa2_token_set_string(&tok, "refresh_token", NULL, &err),
	       OA2_ERR_INPUT, "set_string cannot remove the refresh token");
	has_str(err.msg, "field \"refresh_token\" cannot be removed", "message");
	is_int(oa2_token_set_string(&tok, "refresh_token", "", &err),
	       OA2_ERR_INPUT, "set_string cannot empty the refresh token");
	is_int(oa2_token_set_string(&tok, "expiry", "soon", &err),
	       OA2_ERR_INPUT, "set_string checks expiry");
	has_str(err.msg, "field \"expiry\" must be a string of digits",
		"message");
	is_int(oa2_token_set_string(&tok, "client_auth", "jwt", &err),
	       OA2_ERR_INPUT, "set_string checks client_auth");
	is_int(oa2_token_set_string(&tok, "user", "\xc3\x28", &err),
	       OA2_ERR_INPUT, "set_string refuses invalid UTF-8");
	is_int(oa2_token_set_string(&tok, "", "v", &err), OA2_ERR_INTERNAL,
	       "set_string refuses an empty name");
	after = json_dumps(tok.root, JSON_PRESERVE_ORDER);
	is_str(after, before, "refused changes changed nothing");
	free(before);
	free(after);

	is_int(oa2_token_set_string(&tok, "expiry", "123", &err), OA2_OK,
	       "set_string expiry");
	is_int(tok.expiry, 123, "expiry view follows");
	is_int(oa2_token_set_string(&tok, "refresh_window", "30", &err),
	       OA2_OK, "set_string refresh_window");
	is_int(tok.refresh_window, 30, "refresh_window view follows");
	is_int(oa2_token_set_string(&tok, "user", "u@example.com", &err),
	       OA2_OK, "set_string user");
	is_str(tok.user, "u@example.com", "user view follows");
	is_int(oa2_token_set_string(&tok, "user", NULL, &err), OA2_OK,
	       "set_string removes user");
	ok(tok.user == NULL && json_object_get(tok.root, "user") == NULL,
	   "user gone");
	is_int(oa2_token_set_string(&tok, "x", "one", &err), OA2_OK,
	       "set_string replaces an unknown member");
	is_int(oa2_token_set_string(&tok, "zz", "last", &err), OA2_OK,
	       "set_string adds a member");
	after = json_dumps(tok.root, JSON_PRESERVE_ORDER | JSON_COMPACT);
	is_str(after, "{\"x\":\"one\",\"refresh_token\":\"rt2\","
	       "\"access_token\":\"at3\",\"expiry\":\"123\",\"y\":[2],"
	       "\"refresh_window\":\"30\",\"zz\":\"last\"}",
	       "replaced members keep their place, new ones go last");
	free(after);
	oa2_token_free(&tok);
	ok(tok.root == NULL && tok.refresh_token == NULL, "free clears views");
	oa2_token_free(&tok);
	ok(1, "free twice is harmless");
}

/*
 * via_oa2 - jansson's allocator for the edit sweeps below: the core
 * installs none for good (oa2_json(3)), so this test, playing a host
 * that routes jansson through a failable allocator, reaches json_string()
 * and json_object() with oa2_mem_fail_at() this way.
 */
static void *
via_oa2(size_t n)
{
	return (oa2_malloc(n));
}

/* test_alloc_failures - no allocation failure loses or half-changes anything */
static void
test_alloc_failures(void)
{
	static const char doc[] = "{\"x\": 1, \"refresh_token\": \"" RT "\", "
	"\"access_token\": \"old-at\", \"expiry\": \"5\", \"y\": [2, {\"z\": "
	"\"w\"}]}";
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;
	unsigned long k;
	char   *before, *after, *file_before;
	int     bad, failures, done;

	snprintf(path, sizeof(path), "%s", P("alloc.json"));
	/* parse */
	bad = failures = done = 0;
	for (k = 1; k < 200 && !done; k++) {
		oa2_mem_fail_at(k);
		st = oa2_token_parse(&tok, "a.json", doc, strlen(doc), &err);
		oa2_mem_fail_at(0);
		if (st == OA2_OK) {
			done = 1;
			if (tok.refresh_token == NULL
			    || strcmp(tok.refresh_token, RT) != 0)
				bad++;
		} else {
			failures++;
			if ((st != OA2_ERR_NOMEM && st != OA2_ERR_INPUT)
			    || tok.root != NULL || strstr(err.msg, "SECRET")) {
				bad++;
				printf("# k=%lu: %s\n", k, err.msg);
			}
		}
		oa2_token_free(&tok);
	}
	if (!done || bad) printf("# done %d bad %d\n", done, bad);
	ok(done && failures > 0 && bad == 0, "parse: %d injected failures "
	   "handled, then success", failures);

	/* update */
	json_set_alloc_funcs(via_oa2, free);
	bad = failures = done = 0;
	for (k = 1; k < 200 && !done; k++) {
		if (oa2_token_parse(&tok, "a.json", doc, strlen(doc), &err))
			break;
		before = json_dumps(tok.root, JSON_PRESERVE_ORDER);
		oa2_mem_fail_at(k);
		st = oa2_token_update(&tok, "new-at", 99, "new-rt", &err);
		oa2_mem_fail_at(0);
		if (st == OA2_OK) {
			done = 1;
			if (strcmp(tok.refresh_token, "new-rt") != 0
			    || strcmp(tok.access_token, "new-at") != 0
			    || tok.expiry != 99)
				bad++;
		} else {
			failures++;
			after = json_dumps(tok.root, JSON_PRESERVE_ORDER);
			if (st != OA2_ERR_NOMEM || before == NULL || after == NULL
			    || strcmp(before, after) != 0
			    || strcmp(tok.refresh_token, RT) != 0
			    || strcmp(tok.access_token, "old-at") != 0
			    || tok.expiry != 5)
				bad++;
			free(after);
		}
		free(before);
		oa2_token_free(&tok);
	}
	ok(done && failures > 0 && bad == 0, "update: %d injected failures "
	   "left the document as it was", failures);

	/* set_string adding a member */
	bad = failures = done = 0;
	for (k = 1; k < 200 && !done; k++) {
		if (oa2_token_parse(&tok, "a.json", doc, strlen(doc), &err))
			break;
		oa2_mem_fail_at(k);
		st = oa2_token_set_string(&tok, "newkey", "v", &err);
		oa2_mem_fail_at(0);
		if (st == OA2_OK)
			done = 1;
		else {
			failures++;
			if (st != OA2_ERR_NOMEM
			    || json_object_get(tok.root, "newkey") != NULL
			    || json_object_size(tok.root) != 5
			    || strcmp(tok.refresh_token, RT) != 0)
				bad++;
		}
		oa2_token_free(&tok);
	}
	ok(done && failures > 0 && bad == 0, "set_string: %d injected failures "
	   "changed nothing", failures);
	json_set_alloc_funcs(malloc, free);

	/* save */
	put(path, doc, 0600);
	file_before = strdup(slurp(path));
	bad = failures = done = 0;
	for (k = 1; k < 200 && !done; k++) {
		if (oa2_token_load(&tok, path, -1, NULL, &err)
		    || oa2_token_update(&tok, "new-at", 99, NULL, &err))
			break;
		oa2_mem_fail_at(k);
		st = oa2_token_save(&tok, path, &err);
		oa2_mem_fail_at(0);
		if (st == OA2_OK)
			done = 1;
		else {
			failures++;
			if (st != OA2_ERR_NOMEM || file_before == NULL
			    || strcmp(slurp(path), file_before) != 0
			    || count_tmp("alloc.json") != 0
			    || !starts_with_path(err.msg, path))
				bad++;
		}
		oa2_token_free(&tok);
	}
	ok(done && failures > 0 && bad == 0, "save: %d injected failures left "
	   "the file alone and no temporary file", failures);
	has_str(slurp(path), "\"new-at\"", "then the save went through");
	free(file_before);
}

/* test_new_and_save - a new document, a new file, umask, relative path */
static void
test_new_and_save(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	struct stat st;
	char    cwd[PATH_MAX];
	mode_t  old;

	snprintf(path, sizeof(path), "%s", P("new.json"));
	is_int(oa2_token_new(&tok, &err), OA2_OK, "new document");
	ok(tok.root != NULL && tok.refresh_token == NULL && tok.expiry == 0
	   && tok.refresh_window == -1, "new document is empty");
	is_int(oa2_token_save(&tok, path, &err), OA2_ERR_INTERNAL,
	       "a document without a refresh token is not saved");
	has_str(err.msg, "refusing to save it", "and says so");
	ok(!exists(path) && count_tmp("new.json") == 0, "no file created");
	(void) oa2_token_set_string(&tok, "provider", "google", &err);
	(void) oa2_token_set_string(&tok, "refresh_token", RT, &err);
	old = umask(0);
	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save with umask 0");
	umask(old);
	memset(&st, 0, sizeof(st));
	(void) stat(path, &st);
	is_int(st.st_mode & 07777, 0600, "mode 0600 even with umask 0");
	ok(st.st_uid == geteuid(), "a new file belongs to us");
	old = umask(0777);
	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save with umask 0777");
	umask(old);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
	   "mode 0600 even with umask 0777");

	/* A relative path: the directory is "." */
	if (getcwd(cwd, sizeof(cwd)) != NULL && chdir(dir) == 0) {
		is_int(oa2_token_save(&tok, "rel.json", &err), OA2_OK,
		       "save to a relative path");
		ok(chdir(cwd) == 0, "back to where we were");
		has_str(slurp(P("rel.json")), RT, "relative save landed");
		is_int(count_tmp("rel.json"), 0, "no temporary file left");
	}

	/* Things save refuses to replace. */
	ok(symlink(P("new.json"), P("savelink.json")) == 0, "make a symlink");
	is_int(oa2_token_save(&tok, P("savelink.json"), &err), OA2_ERR_INPUT,
	       "save refuses to replace a symlink");
	has_str(err.msg, "is a symbolic link", "message");
	(void) mkdir(P("savedir.json"), 0700);
	is_int(oa2_token_save(&tok, P("savedir.json"), &err), OA2_ERR_INPUT,
	       "save refuses to replace a directory");
	is_int(oa2_token_save(&tok, P("nodir/x.json"), &err), OA2_ERR_INPUT,
	       "save into a missing directory fails");
	if (ok(starts_with_path(err.msg, P("nodir")), "message starts with "
	       "the directory"))
		has_str(err.msg, "cannot create a temporary file: No such file",
			"message says what failed");

	/* A document that would not fit is not written. */
	{
		char   *huge = malloc(OA2_TOKFILE_MAX);

		if (huge != NULL) {
			memset(huge, 'a', OA2_TOKFILE_MAX - 1);
			huge[OA2_TOKFILE_MAX - 1] = 0;
			(void) oa2_token_set_string(&tok, "huge", huge, &err);
			free(huge);
		}
		is_int(oa2_token_save(&tok, path, &err), OA2_ERR_INPUT,
		       "a document over the limit is not saved");
		has_str(err.msg, "would be larger than 65536 bytes", "message");
		ok(strstr(slurp(path), "\"huge\"") == NULL, "old file kept");
		is_int(count_tmp("new.json"), 0, "no temporary file left");
	}
	oa2_token_free(&tok);
}

static char steps[128];

/* record_step - a save hook that notes the steps */
static void
record_step(const char *step)
{
	if (steps[0])
		strncat(steps, ",", sizeof(steps) - strlen(steps) - 1);
	strncat(steps, step, sizeof(steps) - strlen(steps) - 1);
}

static const char *kill_step;

/* kill_at - a save hook that dies like the OOM killer at kill_step */
static void
kill_at(const char *step)
{
	if (strcmp(step, kill_step) == 0)
		raise(SIGKILL);
}

/* test_save_steps - hook order, and SIGKILL after each step */
static void
test_save_steps(void)
{
	static const char *kills[] = {"written", "synced", "renamed"};
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	char    label[64];
	size_t  i;
	pid_t   pid;
	int     status;

	snprintf(path, sizeof(path), "%s", P("kill.json"));
	put(path, "{\"refresh_token\": \"RT-old\", \"keep\": true}", 0600);
	if (load_ok(&tok, path, "hook file")) {
		steps[0] = 0;
		oa2_token_save_hook = record_step;
		is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save with hook");
		oa2_token_save_hook = NULL;
		is_str(steps, "prepared,written,synced,renamed",
		       "hook steps in order");
	}
	oa2_token_free(&tok);

	for (i = 0; i < sizeof(kills) / sizeof(kills[0]); i++) {
		fflush(stdout);
		if ((pid = fork()) == 0) {
			kill_step = kills[i];
			oa2_token_save_hook = kill_at;
			if (oa2_token_load(&tok, path, -1, NULL, &err) == OA2_OK
			    && oa2_token_update(&tok, "AT-new", 9, "RT-new",
						&err) == OA2_OK)
				(void) oa2_token_save(&tok, path, &err);
			oa2_token_free(&tok);
			_exit(3);
		}
		ok(pid > 0 && waitpid(pid, &status, 0) == pid
		   && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		   "killed after \"%s\"", kills[i]);
		snprintf(label, sizeof(label), "after a kill at \"%s\"",
			 kills[i]);
		if (load_ok(&tok, path, label) && tok.root) {
			is_str(tok.refresh_token, i < 2 ? "RT-old" : "RT-new",
			       "killed after \"%s\": %s file intact", kills[i],
			       i < 2 ? "old" : "new");
			ok(json_is_true(json_object_get(tok.root, "keep")),
			   "killed after \"%s\": unknown member intact", kills[i]);
		}
		oa2_token_free(&tok);
		/* Put the old token back for the next round. */
		put(path, "{\"refresh_token\": \"RT-old\", \"keep\": true}", 0600);
	}
	/* written and synced each left a temporary file behind. */
	is_int(count_tmp("kill.json"), 2, "kills before the rename leave a "
	       "temporary file");
}

/* lock_live - a fake live writer: an OFD write lock on path; the fd (one TAP line) */
static int
lock_live(const char *path)
{
	struct flock fl;
	int     fd = open(path, O_RDWR);

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	ok(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0, "lock a fake live "
	   "writer's temporary file");
	return (fd);
}

/* child_prepare - oa2_token_save_prepare() on arg (a path) and report */
static void
child_prepare(const void *arg, struct cres *r)
{
	struct oa2_token_save sv;
	struct oa2_error err;

	oa2_error_clear(&err);
	r->st = oa2_token_save_prepare(&sv, arg, &err);
	snprintf(r->code, sizeof(r->code), "%s", err.code);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	oa2_token_save_abort(&sv);
}

/* half_commit - load path, set RT-new, prepare and commit; the status */
static enum oa2_status
half_commit(const char *path, int rotated, struct oa2_error *err)
{
	struct oa2_token_save sv;
	struct oa2_token tok;
	enum oa2_status st;

	if ((st = oa2_token_save_prepare(&sv, path, err)) != OA2_OK)
		return (st);
	if ((st = oa2_token_load(&tok, path, -1, NULL, err)) == OA2_OK
	    && (st = oa2_token_update(&tok, "AT-new", 9, rotated ? "RT-new" :
				      NULL, err)) == OA2_OK)
		st = oa2_token_save_commit(&sv, &tok, rotated, err);
	else
		oa2_token_save_abort(&sv);
	oa2_token_free(&tok);
	return (st);
}

/* test_save_halves - prepare before the request, commit or abort after */
static void
test_save_halves(void)
{
	static const char *old = "{\"refresh_token\": \"RT-old\", \"keep\": true}";
	char    path[PATH_MAX], want[PATH_MAX + 256], sub[PATH_MAX];
	struct oa2_token_save sv;
	struct oa2_token tok;
	struct oa2_error err;
	struct stat st;
	struct cres r;
	int     status, rotated, fd0;
	pid_t   pid;

	snprintf(path, sizeof(path), "%s", P("half.json"));
	put(path, old, 0600);

	/* Prepare makes one private temporary file; abort removes it. */
	steps[0] = 0;
	oa2_token_save_hook = record_step;
	is_int(oa2_token_save_prepare(&sv, path, &err), OA2_OK, "prepare");
	is_int(count_tmp("half.json"), 1, "prepare: one temporary file");
	ok(sv.fd >= 0 && fstat(sv.fd, &st) == 0 && (st.st_mode & 07777) == 0600,
	   "prepare: the temporary file is 0600 before anything is written");
	ok(st.st_size == 0, "prepare: and empty");
	oa2_token_save_abort(&sv);
	is_str(steps, "prepared", "prepare: hook step");
	is_int(count_tmp("half.json"), 0, "abort: temporary file removed");
	is_str(slurp(path), old, "abort: the token file is byte-identical");
	ok(sv.fd == -1 && sv.tmp == NULL, "abort: sv released");
	fd0 = fcntl(0, F_GETFD) >= 0;
	oa2_token_save_abort(&sv);
	memset(&sv, 0, sizeof(sv));
	oa2_token_save_abort(&sv);
	ok((fcntl(0, F_GETFD) >= 0) == fd0,
	   "abort twice, and on a zeroed sv: harmless (fd 0 not closed)");
	is_int(oa2_token_save_commit(&sv, NULL, 1, &err), OA2_ERR_INTERNAL,
	       "commit without prepare: refused as a bug");

	/* Commit: the order of fsync and rename depends on rotation. */
	for (rotated = 0; rotated <= 1; rotated++) {
		put(path, old, 0600);
		steps[0] = 0;
		is_int(half_commit(path, rotated, &err), OA2_OK,
		       "commit (rotated %d)", rotated);
		is_str(steps, rotated ? "prepared,written,renamed,synced" :
		       "prepared,written,synced,renamed",
		       rotated ? "rotated: rename first, fsync after" :
		       "not rotated: fsync before the rename");
		if (load_ok(&tok, path, "after commit")) {
			is_str(tok.refresh_token, rotated ? "RT-new" : "RT-old",
			       "commit (rotated %d): refresh token", rotated);
			is_str(tok.access_token, "AT-new",
			       "commit (rotated %d): access token", rotated);
			ok(json_is_true(json_object_get(tok.root, "keep")),
			   "commit (rotated %d): unknown member kept", rotated);
		}
		oa2_token_free(&tok);
		ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
		   "commit (rotated %d): mode 0600", rotated);
		is_int(count_tmp("half.json"), 0,
		       "commit (rotated %d): no temporary file left", rotated);
	}
	oa2_token_save_hook = NULL;

	/* With rotation, a kill between rename and fsync leaves the new file. */
	put(path, old, 0600);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		kill_step = "renamed";
		oa2_token_save_hook = kill_at;
		(void) half_commit(path, 1, &err);
		_exit(3);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status),
	   "rotated: killed after the rename, before the fsync");
	if (load_ok(&tok, path, "after a kill before the fsync"))
		is_str(tok.refresh_token, "RT-new", "the new refresh token is "
		       "in place");
	oa2_token_free(&tok);
	is_int(count_tmp("half.json"), 0, "no temporary file left");

	/* A directory we cannot write fails at prepare: before any request. */
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	snprintf(path, sizeof(path), "%s/half.json", sub);
	ok(mkdir(sub, 0755) == 0, "a directory of root's, 0755");
	put(path, old, 0600);
	ok(chown(path, NOBODY, NOBODY) == 0 || geteuid() != 0, "file for 65534");
	if (geteuid() == 0) {
		ok(run_child(NOBODY, child_prepare, path, &r) == 0, "child ran");
		snprintf(want, sizeof(want), "%s: cannot create a temporary "
			 "file: Permission denied: the directory must be "
			 "writable by uid %d (the plugin replaces the file "
			 "atomically)", sub, NOBODY);
	} else {
		ok(chmod(sub, 0555) == 0, "directory read-only");
		ok(run_child((uid_t) -1, child_prepare, path, &r) == 0,
		   "child ran");
		snprintf(want, sizeof(want), "%s: cannot create a temporary "
			 "file: Permission denied: the directory must be "
			 "writable by uid %ld (the plugin replaces the file "
			 "atomically)", sub, (long) geteuid());
	}
	is_int(r.st, OA2_ERR_INPUT, "prepare in an unwritable directory fails");
	is_str(r.msg, want, "its message names the directory and the fix");
	is_str(slurp(path), old, "the token file is untouched");
	(void) chmod(sub, 0755);
	(void) unlink(path);
	(void) rmdir(sub);
}

/* test_stale_cleanup - which leftovers the next save removes */
static void
test_stale_cleanup(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	struct dirent *de;
	char    leftovers[2][PATH_MAX];
	int     n = 0, lfd;
	DIR    *d;

	snprintf(path, sizeof(path), "%s", P("kill.json"));
	/* The two leftovers of test_save_steps. */
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL && n < 2)
			if (strncmp(de->d_name, "kill.json.tmp.", 14) == 0)
				snprintf(leftovers[n++], PATH_MAX, "%s",
					 P(de->d_name));
		(void) closedir(d);
	}
	if (!ok(n == 2, "found the two leftovers"))
		return;
	has_str(slurp(leftovers[0]), "RT-new", "a leftover holds the new token");

	if (!load_ok(&tok, path, "stale file"))
		return;
	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save");
	ok(exists(leftovers[0]) && exists(leftovers[1]),
	   "young leftovers are kept (their writer may be alive)");

	put(P("kill.json.tmp.LOCKED"), "x", 0600);
	put(P("kill.json.tmp.YOUNG1"), "x", 0600);
	put(P("kill.json.tmp.ABC"), "x", 0600);
	put(P("kill.json.tmp.ABCDEFG"), "x", 0600);
	put(P("kill.json.tmp.ab-cde"), "x", 0600);
	put(P("other.json.tmp.ABCDEF"), "x", 0600);
	put(P("victim"), "x", 0600);
	ok(symlink(P("victim"), P("kill.json.tmp.SYMLNK")) == 0,
	   "make a symlink named like a temporary file");
	age(leftovers[0], 120);
	age(leftovers[1], 120);
	age(P("kill.json.tmp.LOCKED"), 120);
	age(P("kill.json.tmp.ABC"), 120);
	age(P("kill.json.tmp.ABCDEFG"), 120);
	age(P("kill.json.tmp.ab-cde"), 120);
	age(P("other.json.tmp.ABCDEF"), 120);
	age(P("kill.json.tmp.SYMLNK"), 120);

	/* A live writer holds an OFD write lock on its temporary file. */
	lfd = lock_live(P("kill.json.tmp.LOCKED"));

	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save again");
	ok(!exists(leftovers[0]) && !exists(leftovers[1]),
	   "stale leftovers of killed writers are removed");
	ok(exists(P("kill.json.tmp.LOCKED")), "a locked one is kept");
	ok(exists(P("kill.json.tmp.YOUNG1")), "a young one is kept");
	ok(exists(P("kill.json.tmp.ABC")) && exists(P("kill.json.tmp.ABCDEFG"))
	   && exists(P("kill.json.tmp.ab-cde")),
	   "names that mkostemp cannot make are kept");
	ok(exists(P("other.json.tmp.ABCDEF")), "another file's are kept");
	ok(exists(P("kill.json.tmp.SYMLNK")) && exists(P("victim")),
	   "a symlink is kept, and so is its target");
	if (lfd >= 0)
		(void) close(lfd);
	oa2_token_free(&tok);
	(void) unlink(P("kill.json.tmp.LOCKED"));
	(void) unlink(P("kill.json.tmp.YOUNG1"));
	(void) unlink(P("kill.json.tmp.ABC"));
	(void) unlink(P("kill.json.tmp.ABCDEFG"));
	(void) unlink(P("kill.json.tmp.ab-cde"));
	(void) unlink(P("kill.json.tmp.SYMLNK"));
	is_int(count_tmp("kill.json"), 0, "clean again");
}

/*
 * test_clean_dir - batch saves (refresh-all) leave leftovers to one pass of
 * oa2_token_clean_dir() over the directory, which takes every token file's
 */
static void
test_clean_dir(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	int     lfd;

	snprintf(path, sizeof(path), "%s", P("kill.json"));
	if (!load_ok(&tok, path, "file for the batch save"))
		return;
	put(P("kill.json.tmp.QWERTY"), "x", 0600);
	put(P("third.json.tmp.Young2"), "x", 0600);
	put(P("third.json.tmp.Locked"), "x", 0600);
	put(P("third.json.tmp.AB"), "x", 0600);
	put(P("third.json"), "{}", 0600);
	age(P("kill.json.tmp.QWERTY"), 120);
	age(P("third.json.tmp.Locked"), 120);
	age(P("third.json.tmp.AB"), 120);
	age(P("third.json"), 120);
	/* other.json.tmp.ABCDEF, aged, is left over from test_stale_cleanup. */
	lfd = lock_live(P("third.json.tmp.Locked"));

	oa2_token_save_batch = 1;
	is_int(oa2_token_save(&tok, path, &err), OA2_OK, "a batch save");
	oa2_token_save_batch = 0;
	ok(exists(P("kill.json.tmp.QWERTY")), "a batch save leaves a stale "
	   "leftover (no scan of the directory per save)");

	oa2_token_clean_dir(dir);
	ok(!exists(P("kill.json.tmp.QWERTY")) && !exists(P("other.json.tmp.ABCDEF")),
	   "oa2_token_clean_dir removes the stale leftovers of every token file");
	ok(exists(P("third.json.tmp.Young2")), "a young one is kept");
	ok(exists(P("third.json.tmp.Locked")), "a locked one is kept");
	ok(exists(P("third.json.tmp.AB")) && exists(P("third.json")) &&
	   exists(path), "other names and the token files are kept");
	if (lfd >= 0)
		(void) close(lfd);
	oa2_token_free(&tok);
	(void) unlink(P("third.json.tmp.Young2"));
	(void) unlink(P("third.json.tmp.Locked"));
	(void) unlink(P("third.json.tmp.AB"));
	(void) unlink(P("third.json"));
	is_int(count_tmp("kill.json"), 0, "clean again");
}

/* test_tmp_name - the temporary files' names, as status and the cleanup see them */
static void
test_tmp_name(void)
{
	static const struct {
		const char *name;
		int	tmp;
	} c[] = {
		{"tok.json.tmp.Ab12yZ", 1},	/* what the save makes */
		{"x.tmp.json.tmp.QWERTY", 1},	/* the last ".tmp." counts */
		{"a.tmp.000000", 1},
		{".tmp.ABCDEF", 0},		/* no file name before it */
		{"tok.json", 0},
		{"tok.json.tmp.ABCDE", 0},	/* five */
		{"tok.json.tmp.ABCDEFG", 0},	/* seven */
		{"tok.json.tmp.ab-cde", 0},	/* not a letter or digit */
		{"tok.json.tmp.ABCDEF.json", 0},
		{"tok.json.TMP.ABCDEF", 0},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		is_int(oa2_token_is_tmp_name(c[i].name), c[i].tmp,
		    "oa2_token_is_tmp_name(\"%s\")", c[i].name);
}

/* test_privileges - unreadable files, owners, unwritable directories */
static void
test_privileges(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	struct stat st;
	struct cres r;
	char    want[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s", P("priv.json"));
	put(path, "{\"refresh_token\": \"" RT "\"}", 0600);
	if (geteuid() == 0) {
		/* Root reads anything: test as uid 65534 in a child. */
		ok(run_child(NOBODY, child_load, path, &r) == 0, "child ran");
		snprintf(want, sizeof(want), "%s: cannot open: Permission denied "
			 "(running as uid %d): make it readable by that user",
			 path, NOBODY);
		is_int(r.st, OA2_ERR_INPUT, "unreadable file refused");
		is_str(r.msg, want, "unreadable file message");
		is_str(r.code, "token_file", "unreadable file code");

		ok(run_child(NOBODY, child_lock, path, &r) == 0, "child ran");
		is_int(r.st, OA2_ERR_INPUT, "lock on an unwritable file refused");
		snprintf(want, sizeof(want), "%s: cannot open for writing: "
			 "Permission denied (running as uid %d): make it "
			 "readable and writable by that user (needed to lock "
			 "it)", path, NOBODY);
		is_str(r.msg, want, "lock on an unwritable file message");

		/* Owner kept when root rewrites the file. */
		ok(chown(path, NOBODY, NOBODY) == 0, "chown to 65534");
		if (load_ok(&tok, path, "owner file")) {
			is_int(oa2_token_update(&tok, "at", 1, NULL, &err),
			       OA2_OK, "update");
			is_int(oa2_token_save(&tok, path, &err), OA2_OK, "save");
		}
		oa2_token_free(&tok);
		ok(stat(path, &st) == 0 && st.st_uid == NOBODY
		   && st.st_gid == NOBODY && (st.st_mode & 07777) == 0600,
		   "root's save keeps owner and group 65534 and mode 0600");

		/* The directory (root's, 0711) is not writable by 65534. */
		ok(run_child(NOBODY, child_refresh_save, path, &r) == 0,
		   "child ran");
		is_int(r.st, OA2_ERR_INPUT, "save into an unwritable directory "
		       "fails");
		snprintf(want, sizeof(want), "%s: cannot create a temporary "
			 "file: Permission denied: the directory must be "
			 "writable by uid %d (the plugin replaces the file "
			 "atomically)", dir, NOBODY);
		is_str(r.msg, want, "unwritable directory message");
		has_str(slurp(path), RT, "old file intact after the failure");
		ok(strstr(slurp(path), "RT-child") == NULL, "new token not there");
		is_int(count_tmp("priv.json"), 0, "no temporary file left");

		/* A writable directory: the same child succeeds. */
		ok(chmod(dir, 0777) == 0, "make the directory writable");
		ok(run_child(NOBODY, child_refresh_save, path, &r) == 0,
		   "child ran");
		is_int(r.st, OA2_OK, "uid 65534 saves its own file");
		ok(chmod(dir, 0711) == 0, "directory back to 0711");
		has_str(slurp(path), "RT-child", "the new token is there");
		ok(stat(path, &st) == 0 && st.st_uid == NOBODY,
		   "file still belongs to 65534");
	} else {
		ok(chmod(path, 0) == 0, "chmod 0");
		snprintf(want, sizeof(want), "(running as uid %ld): make it "
			 "readable by that user", (long) geteuid());
		expect_load_fail(path, "unreadable file", ": cannot open: "
				 "Permission denied", want);
		ok(chmod(path, 0600) == 0 && chmod(dir, 0500) == 0,
		   "directory read-only");
		ok(run_child((uid_t) -1, child_refresh_save, path, &r) == 0,
		   "child ran");
		is_int(r.st, OA2_ERR_INPUT, "save into an unwritable directory "
		       "fails");
		has_str(r.msg, "cannot create a temporary file: Permission "
			"denied: the directory must be writable by uid",
			"unwritable directory message");
		ok(chmod(dir, 0711) == 0, "directory back");
		has_str(slurp(path), RT, "old file intact after the failure");
		is_int(count_tmp("priv.json"), 0, "no temporary file left");
		printf("ok %d - # SKIP owner kept on save: needs root\n", ++tap_n);
	}
}

/* test_lock_refusals - what oa2_token_lock will not lock */
static void
test_lock_refusals(void)
{
	struct oa2_error err;
	enum oa2_status st;
	int     fd;

	st = oa2_token_lock(P("link.json"), &fd, &err);
	check_refusal(st, &err, P("link.json"), "lock symlink",
		      ": is a symbolic link: give the real path", NULL);
	ok(fd == -1, "no descriptor");
	st = oa2_token_lock(P("adir.json"), &fd, &err);
	check_refusal(st, &err, P("adir.json"), "lock directory",
		      ": is a directory, not a token file", NULL);
	alarm(20);
	st = oa2_token_lock(P("fifo.json"), &fd, &err);
	alarm(0);
	check_refusal(st, &err, P("fifo.json"), "lock FIFO",
		      ": is not a regular file", NULL);
	st = oa2_token_lock(P("missing.json"), &fd, &err);
	check_refusal(st, &err, P("missing.json"), "lock missing file",
		      ": cannot open for writing: No such file or directory",
		      "check the path");
	ok(fd == -1, "no descriptor");
}

/* test_load_fd - re-read a locked file; same checks as load */
static void
test_load_fd(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	enum oa2_status st;
	int     fd;

	snprintf(path, sizeof(path), "%s", P("fd.json"));
	put(path, "{\"refresh_token\": \"" RT "\"}", 0600);
	is_int(oa2_token_lock(path, &fd, &err), OA2_OK, "lock");
	ok(fd >= 0, "descriptor");
	(void) lseek(fd, 0, SEEK_END);
	is_int(oa2_token_load(&tok, path, fd, NULL, &err), OA2_OK,
	       "load_fd reads from offset 0");
	is_str(tok.refresh_token, RT, "load_fd refresh token");
	oa2_token_free(&tok);
	oa2_token_unlock(&fd);
	is_int(fd, -1, "unlock sets -1");
	oa2_token_unlock(&fd);
	ok(1, "unlock twice is harmless");

	put(path, "{\"refresh_token\": \"" RT "\"}", 0644);
	is_int(oa2_token_lock(path, &fd, &err), OA2_OK,
	       "lock does not judge the mode");
	st = oa2_token_load(&tok, path, fd, NULL, &err);
	check_refusal(st, &err, path, "load_fd mode 0644",
		      ": is readable by group or others (mode 0644)",
		      "run chmod 600");
	oa2_token_free(&tok);
	oa2_token_unlock(&fd);

	put(path, "{\"refresh_token\": 5}", 0600);
	is_int(oa2_token_lock(path, &fd, &err), OA2_OK, "lock");
	st = oa2_token_load(&tok, path, fd, NULL, &err);
	check_refusal(st, &err, path, "load_fd bad content",
		      ": field \"refresh_token\" must be a string", NULL);
	oa2_token_unlock(&fd);
}

/* now_ms - a monotonic clock in milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* test_lock_wait - a waiter blocks, then finds the file its holder renamed */
static void
test_lock_wait(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	struct oa2_error err;
	struct pollfd pfd;
	struct stat before, after;
	char    buf[256], go;
	int     fd, ready[2], res[2], status;
	ssize_t n;
	pid_t   pid;

	snprintf(path, sizeof(path), "%s", P("wait.json"));
	put(path, "{\"refresh_token\": \"RT-old\"}", 0600);
	is_int(oa2_token_lock(path, &fd, &err), OA2_OK, "holder locks");
	(void) stat(path, &before);
	if (pipe(ready) < 0 || pipe(res) < 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct oa2_token t;
		struct oa2_error e;
		long long t0;
		int     wfd;

		(void) close(ready[0]);
		(void) close(res[0]);
		/* Close our copy; unlocking it would release the holder's lock,
		 * which belongs to the open file description we share. */
		(void) close(fd);
		go = 'g';
		if (write(ready[1], &go, 1) != 1)
			_exit(1);
		t0 = now_ms();
		if (oa2_token_lock(path, &wfd, &e) != OA2_OK)
			n = snprintf(buf, sizeof(buf), "lock: %s", e.msg);
		else if (oa2_token_load(&t, path, wfd, NULL, &e) != OA2_OK)
			n = snprintf(buf, sizeof(buf), "load: %s", e.msg);
		else
			n = snprintf(buf, sizeof(buf), "%s %lld",
				     t.refresh_token, now_ms() - t0);
		oa2_token_free(&t);
		oa2_token_unlock(&wfd);
		_exit(write(res[1], buf, (size_t) n) == n ? 0 : 1);
	}
	(void) close(ready[1]);
	(void) close(res[1]);
	n = read(ready[0], &go, 1);
	usleep(500 * 1000);
	pfd.fd = res[0];
	pfd.events = POLLIN;
	ok(n == 1 && poll(&pfd, 1, 0) == 0, "the waiter is blocked while the "
	   "lock is held");

	/* Holder refreshes: a new inode replaces the one the waiter waits on. */
	if (oa2_token_load(&tok, path, fd, NULL, &err) == OA2_OK
	    && oa2_token_update(&tok, "AT-new", 1, "RT-new", &err) == OA2_OK)
		is_int(oa2_token_save(&tok, path, &err), OA2_OK, "holder saves");
	oa2_token_free(&tok);
	(void) stat(path, &after);
	ok(before.st_ino != after.st_ino, "the path names a new inode");
	oa2_token_unlock(&fd);

	memset(buf, 0, sizeof(buf));
	n = read(res[0], buf, sizeof(buf) - 1);
	(void) waitpid(pid, &status, 0);
	(void) close(ready[0]);
	(void) close(res[0]);
	ok(n > 0 && strncmp(buf, "RT-new ", 7) == 0, "the waiter re-checked "
	   "the inode and read the new file (%s)", buf);
	ok(n > 7 && atoll(buf + 7) >= 400, "the waiter waited for the holder");
}

/* counter_edit - read counter, sleep, increment (under oa2_token_modify) */
static enum oa2_status
counter_edit(struct oa2_token *t, void *arg, struct oa2_error *e)
{
	struct timespec ms = {0, 1000000};
	const char *s;
	char    num[32];

	(void) arg;
	if ((s = json_string_value(json_object_get(t->root, "counter"))) == NULL)
		return (oa2_error_set(e, OA2_ERR_INTERNAL, "test", "no counter"));
	nanosleep(&ms, NULL);
	snprintf(num, sizeof(num), "%lld", atoll(s) + 1);
	return (oa2_token_set_string(t, "counter", num, e));
}

/* counter_child - lock, read counter, sleep, increment, save, unlock */
static int
counter_child(const char *path)
{
	struct oa2_error e;

	return (oa2_token_modify(path, counter_edit, NULL, NULL, &e) == OA2_OK ?
		0 : 10);
}

/* user_edit - set "user" to arg; arg NULL: change nothing */
static enum oa2_status
user_edit(struct oa2_token *t, void *arg, struct oa2_error *e)
{
	if (arg == NULL)
		return (OA2_OK);
	if (strcmp(arg, "fail") == 0) {
		(void) oa2_token_set_string(t, "user", "not-saved", e);
		return (oa2_error_set(e, OA2_ERR_TEMP, "test", "edit failed"));
	}
	return (oa2_token_set_string(t, "user", arg, e));
}

/* test_modify - lock, load, edit, save when changed, unlock */
static void
test_modify(void)
{
	struct oa2_token_held held;
	struct oa2_error err;
	struct stat before, after;
	char    path[PATH_MAX];
	enum oa2_status st;
	int     fd;

	snprintf(path, sizeof(path), "%s", P("modify.json"));
	put(path, "{\"refresh_token\": \"" RT "\", \"x\": 1}", 0600);
	is_int(oa2_token_modify(path, user_edit, "a@example.com", &held, &err),
	       OA2_OK, "modify: edit and save");
	ok(held.locked, "modify: the lock was taken");
	is_str(held.tok.user, "a@example.com", "modify: held document edited");
	oa2_token_free(&held.tok);
	has_str(slurp(path), "\"user\": \"a@example.com\"", "modify: saved");
	has_str(slurp(path), "\"x\": 1", "modify: unknown member kept");

	(void) stat(path, &before);
	is_int(oa2_token_modify(path, user_edit, NULL, &held, &err), OA2_OK,
	       "modify: no change");
	(void) stat(path, &after);
	ok(before.st_ino == after.st_ino, "modify: no change, no new file");
	ok(held.sb.st_ino == before.st_ino, "modify: held stat is the file's");
	oa2_token_free(&held.tok);

	st = oa2_token_modify(path, user_edit, "fail", &held, &err);
	is_int(st, OA2_ERR_TEMP, "modify: the edit's failure is returned");
	is_str(err.msg, "edit failed", "modify: the edit's message");
	ok(held.locked && held.tok.root != NULL,
	   "modify: the document is handed back after a failed edit");
	oa2_token_free(&held.tok);
	(void) stat(path, &after);
	ok(before.st_ino == after.st_ino
	   && strstr(slurp(path), "not-saved") == NULL,
	   "modify: a failed edit saves nothing");

	st = oa2_token_modify(P("modify-missing.json"), user_edit, "b", &held,
			      &err);
	is_int(st, OA2_ERR_INPUT, "modify: missing file");
	ok(!held.locked && held.tok.root == NULL, "modify: not locked");
	has_str(err.msg, "cannot open for writing", "modify: the lock's message");

	/* Another holder keeps modify waiting; NULL held is allowed. */
	is_int(oa2_token_lock(path, &fd, &err), OA2_OK, "lock for modify");
	oa2_token_unlock(&fd);
	is_int(oa2_token_modify(path, user_edit, "c@example.com", NULL, &err),
	       OA2_OK, "modify with held NULL");
	has_str(slurp(path), "c@example.com", "modify with held NULL saved");
}

/* test_lock_counter - 20 processes increment one counter without losing one */
static void
test_lock_counter(void)
{
	char    path[PATH_MAX];
	struct oa2_token tok;
	pid_t   pids[20];
	int     i, status, good = 0;

	snprintf(path, sizeof(path), "%s", P("counter.json"));
	put(path, "{\"refresh_token\": \"" RT "\", \"counter\": \"0\"}", 0600);
	fflush(stdout);
	for (i = 0; i < 20; i++)
		if ((pids[i] = fork()) == 0)
			_exit(counter_child(path));
	for (i = 0; i < 20; i++)
		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i]
		    && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			good++;
	is_int(good, 20, "all 20 writers succeeded");
	if (load_ok(&tok, path, "counter file")) {
		is_str(json_string_value(json_object_get(tok.root, "counter")),
		       "20", "counter is 20: no update was lost");
		is_str(tok.refresh_token, RT, "refresh token intact");
	}
	oa2_token_free(&tok);
	is_int(count_tmp("counter.json"), 0, "no temporary file left");
}

/* test_fuzz_regressions - inputs the fuzzer found (see fuzz/corpus/tokfile) */
static void
test_fuzz_regressions(void)
{
	/*
	 * fuzz/corpus/tokfile/regress-dup-key-near.json (crash-0613878b): a
	 * duplicate key is input too; the message repeated it verbatim.  Now
	 * only our own field names are repeated.
	 */
	static const char dup_near[] = "{\"re$$fresh_token\": \"M0\", "
	"\"p near rovider\": \"x\", \"p near rovider\": \"y\"}";
	static const char dup_secret[] = "{\"refresh_token\": \"a\", \""
	RT "\": 1, \"" RT "\": 2}";
	static const char dup_long[] = "{\"refresh_token\": \"a\", "
	"\"refresh_token_and_some_more_letters\": 1, "
	"\"refresh_token_and_some_more_letters\": 2}";
	struct oa2_token t;
	struct oa2_error e;
	enum oa2_status s;
	static const struct {
		const char *data;
		size_t  len;
		enum oa2_status want;
	}       cases[] = {
		{"{\"refresh_token\":\"a\",\"expiry\":-0}", 0, OA2_OK},
		{"{\"refresh_token\":\"a\",\"refresh_window\":"
		"\"0000000000000000000000001\"}", 0, OA2_OK},
		{"{\"refresh_token\":\"a\",\"expiry\":\"9223372036854775808\"}",
		0, OA2_ERR_INPUT},
		{"{\"refresh_token\":\"\\u00e9\\ud83d\\ude00\"}", 0, OA2_OK},
	};
	struct oa2_token tok;
	struct oa2_error err;
	size_t  i;

	s = oa2_token_parse(&t, "fuzz.json", dup_near, strlen(dup_near), &e);
	check_refusal(s, &e, "fuzz.json", "duplicate unknown key",
		      "not valid JSON (line 1, column ", "duplicate object key)");
	ok(strstr(e.msg, "near") == NULL, "the key is not repeated");
	s = oa2_token_parse(&t, "fuzz.json", dup_secret, strlen(dup_secret), &e);
	check_refusal(s, &e, "fuzz.json", "duplicate secret-looking key",
		      "duplicate object key)", NULL);
	s = oa2_token_parse(&t, "fuzz.json", dup_long, strlen(dup_long), &e);
	check_refusal(s, &e, "fuzz.json", "duplicate long key",
		      "duplicate object key)", NULL);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(oa2_token_parse(&tok, "fuzz.json", cases[i].data,
				       cases[i].len ? cases[i].len :
				       strlen(cases[i].data), &err),
		       cases[i].want,
		       "fuzz regression %zu", i);
		oa2_token_free(&tok);
	}
}

/* rm_tree - remove the test directory (flat, plus the few subdirectories) */
static void
rm_tree(void)
{
	struct dirent *de;
	DIR    *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			if (unlink(P(de->d_name)) < 0)
				(void) rmdir(P(de->d_name));
	(void) closedir(d);
	(void) rmdir(dir);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/oa2-tokfile.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || chmod(dir, 0711) < 0) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return (1);
	}
	umask(077);

	test_round_trip();
	test_compat();
	test_file_refusals();
	test_content_refusals();
	test_parse_direct();
	test_compact_fallback();
	test_update();
	test_alloc_failures();
	test_new_and_save();
	test_save_steps();
	test_save_halves();
	test_stale_cleanup();
	test_clean_dir();
	test_tmp_name();
	test_privileges();
	test_lock_refusals();
	test_load_fd();
	test_lock_wait();
	test_lock_counter();
	test_modify();
	test_fuzz_regressions();

	rm_tree();
	return (tap_done());
}
