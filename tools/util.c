/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	util 3
 * SUMMARY
 *	helpers of the sasl-oauth2 command
 * DESCRIPTION
 *	Messages and exit codes, secrets read from files, standard input or
 *	the terminal (never argv), time formatting, small token-file
 *	edits under the file's lock, and the child processes that run as
 *	another user (the mail system's).
 * SECURITY
 *	Secrets read here live in memory the caller wipes with
 *	oa2_free_secret(); the line buffers are wiped before they are freed.
 *	The terminal echo is restored on every path.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_explain.h"
#include "oa2_http.h"
#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "sao.h"

int sao_quiet;
enum oa2_explain_ctx sao_ctx;

void
sao_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
sao_info(const char *fmt, ...)
{
	va_list ap;

	if (sao_quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
sao_die(int ex, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(ex);
}

int
sao_explain(FILE *f, const char *code, const char *indent)
{
	const struct oa2_explain *e = oa2_explain_find(code);

	if (e == NULL)
		return 0;
	fprintf(f, "%swhy: %s\n", indent, e->summary);
	fprintf(f, "%sfix: %s\n", indent, oa2_explain_fix(e, sao_ctx));
	fprintf(f, "%smore: %s explain %s\n", indent, PROG, e->code);
	return 1;
}

int
sao_exit_code(enum oa2_status st, const char *code)
{
	/* A certificate or handshake refused is a TLS failure for every command. */
	if (code != NULL && strcmp(code, "tls") == 0)
		return EX_PROTOCOL;
	switch (st) {
	case OA2_OK:		return EX_OK;
	case OA2_ERR_TEMP:	return EX_TEMPFAIL;
	case OA2_ERR_PERM:	return EX_NOPERM;
	case OA2_ERR_INPUT:	return EX_CONFIG;
	case OA2_ERR_AUTH:	return EX_NOPERM;
	case OA2_ERR_PROTO:	return EX_PROTOCOL;
	case OA2_ERR_NOMEM:	return EX_OSERR;
	case OA2_ERR_INTERNAL:	return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}

int
sao_report(const struct oa2_error *err)
{
	sao_warn("%s", err->msg);
	if (err->code[0])
		sao_explain(stderr, err->code, "  ");
	return sao_exit_code(err->status, err->code);
}

/* ------------------------------------------------------------ secrets */

/* chomp - drop a trailing CR/LF */
static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

char *
sao_read_line(size_t max, int timeout_s)
{
	struct oa2_buf b;
	struct pollfd pfd = {.fd = 0, .events = POLLIN};
	time_t deadline = timeout_s > 0 ? time(NULL) + timeout_s : 0;
	char c, *out;
	ssize_t n;

	oa2_buf_init(&b, max);
	for (;;) {
		if (deadline) {
			long left = (long)(deadline - time(NULL));
			int r;

			if (left <= 0)
				break;
			r = poll(&pfd, 1, (int)(left > 1000 ? 1000000 : left * 1000));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				continue;
		}
		n = read(0, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (c == '\n') {
			if (b.data == NULL && oa2_buf_append(&b, "", 0) < 0)
				break;
			goto done;
		}
		if (oa2_buf_putc(&b, c) < 0) {
			oa2_buf_free(&b);
			return NULL;
		}
	}
	if (b.len == 0) {
		oa2_buf_free(&b);
		return NULL;
	}
done:
	out = oa2_strdup(b.data);
	oa2_buf_free(&b);
	if (out != NULL)
		chomp(out);
	return out;
}

/* secret_file_regular - /dev/null, a FIFO, a terminal hold no secret: 0 and a message */
static int
secret_file_regular(const char *path, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 1;
	sao_warn("%s: the client secret file must be a regular file: put the "
	    "client secret on the first line of a file of its own (mode 600) "
	    "and give that to --client-secret-file, or \"-\" for standard "
	    "input", path);
	return 0;
}

int
sao_secret_file_usable(const char *path)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return 1;
	if (stat(path, &st) < 0) {
		sao_warn("%s: cannot open the client secret file: %s", path,
		    strerror(errno));
		return 0;
	}
	return secret_file_regular(path, &st);
}

char *
sao_read_secret_file(const char *path)
{
	char buf[8192], *s;
	struct stat st;
	FILE *f;
	int fd;

	if (strcmp(path, "-") == 0) {
		if ((s = sao_read_line(8192, 0)) == NULL || *s == 0) {
			oa2_free_secret(&s);
			sao_warn("no client secret on standard input");
			return NULL;
		}
		return s;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0) {
		sao_warn("%s: cannot open the client secret file: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !secret_file_regular(path, &st)) {
		close(fd);
		return NULL;
	}
	if (st.st_mode & 004)
		sao_warn("%s: warning: the client secret file is readable by "
		    "everyone (chmod 600 %s)", path, path);
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		sao_warn("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		sao_warn("%s: the client secret file is empty", path);
		return NULL;
	}
	fclose(f);
	chomp(buf);
	s = buf[0] ? oa2_strdup(buf) : NULL;
	oa2_wipe(buf, sizeof(buf));
	if (s == NULL)
		sao_warn("%s: the client secret file's first line is empty", path);
	return s;
}

char *
sao_prompt_secret(const char *prompt)
{
	struct termios old, noecho;
	char buf[8192], *s = NULL;
	FILE *tty;
	int restore = 0;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return NULL;
	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &noecho) == 0;
	}
	if (fgets(buf, sizeof(buf), tty) != NULL) {
		chomp(buf);
		s = oa2_strdup(buf);
	}
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	oa2_wipe(buf, sizeof(buf));
	fclose(tty);
	return s;
}

/* ------------------------------------------------------------ time */

void
sao_fmt_time(long long t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, size, "never");
		return;
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void
sao_fmt_delta(long long s, char *buf, size_t size)
{
	if (s < 0)
		s = -s;
	if (s >= 86400)
		snprintf(buf, size, "%lld d %lld h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lld h %lld min", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lld min", s / 60);
	else
		snprintf(buf, size, "%lld s", s);
}

long long
sao_parse_epoch(const char *s)
{
	long long v = 0;

	if (s == NULL || *s == 0)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > 1000000000000LL)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int
sao_isatty_err(void)
{
	return isatty(2);
}

/* ------------------------------------------------------------ token files */

/* stamp_edit - set the member arg points to to the time now */
static enum oa2_status
stamp_edit(struct oa2_token *tok, void *arg, struct oa2_error *err)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return oa2_token_set_string(tok, arg, now, err);
}

int
sao_stamp(const char *path, const char *name, struct oa2_error *err)
{
	return oa2_token_modify(path, stamp_edit, (void *)name, NULL, err) ==
	    OA2_OK ? 0 : -1;
}

enum oa2_status
sao_token_write(struct oa2_token *tok, const struct sao_member *m, size_t n,
    const char *path, struct oa2_error *err)
{
	enum oa2_status st = OA2_OK;
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	for (size_t i = 0; st == OA2_OK && i < n; i++)
		if (m[i].value != NULL && *m[i].value)
			st = oa2_token_set_string(tok, OA2_SETTING_NAME(m[i].id),
			    m[i].value, err);
	if (st == OA2_OK)
		st = oa2_token_set_string(tok, OA2_SETTING_NAME(OA2_S_AUTHORIZED_AT),
		    now, err);
	if (st == OA2_OK)
		st = oa2_token_save(tok, path, err);
	oa2_token_free(tok);
	return st;
}

int
sao_owner_spec(const char *spec, char *user, size_t size, uid_t *uid,
    gid_t *gid)
{
	const char *colon = strchr(spec, ':');
	struct passwd *pw;
	struct group *gr;

	snprintf(user, size, "%.*s",
	    (int)(colon ? (size_t)(colon - spec) : strlen(spec)), spec);
	if ((pw = getpwnam(user)) == NULL) {
		sao_warn("--owner %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (colon != NULL && colon[1]) {
		if ((gr = getgrnam(colon + 1)) == NULL) {
			sao_warn("--owner %s: no such group", colon + 1);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

int
sao_chown_spec(const char *path, const char *spec)
{
	char user[256];
	uid_t uid;
	gid_t gid;

	if (sao_owner_spec(spec, user, sizeof(user), &uid, &gid) < 0)
		return -1;
	if (lchown(path, uid, gid) < 0) {
		sao_warn("%s: cannot chown to %s: %s", path, spec, strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ other users */

int
sao_become(const char *user, uid_t uid, gid_t gid, char *why, size_t size)
{
	struct passwd *pw;

	if (uid == geteuid() && uid != 0)
		return 0;			/* not root: nothing to drop */
	if (user == NULL && (pw = getpwuid(uid)) != NULL)
		user = pw->pw_name;
	if ((user != NULL ? initgroups(user, gid) : setgroups(0, NULL)) < 0 ||
	    setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(why, size, "cannot become uid %ld gid %ld: %s",
		    (long)uid, (long)gid, strerror(errno));
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		snprintf(why, size, "uid %ld could become root again", (long)uid);
		return -1;
	}
	return 0;
}

pid_t
sao_fork_as(const char *user, uid_t uid, gid_t gid,
    int (*fn)(void *arg, const char *why), void *arg)
{
	char	why[256];
	pid_t	pid;

	fflush(NULL);
	if ((pid = fork()) == 0)
		_exit(fn(arg, sao_become(user, uid, gid, why, sizeof(why)) < 0 ?
		    why : NULL));
	return pid;
}

int
sao_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
sao_load_config(struct oa2_config *cfg)
{
	struct oa2_error err;

	oa2_config_init(cfg);
	if (oa2_config_load(cfg, oa2_config_path(), 0, &err) != OA2_OK) {
		sao_report(&err);
		return -1;
	}
	return 0;
}

/*
 * sao_is_token_file - is the file at path a token file (1) or clearly not
 * one (0, with why)?  For status, list and refresh-all, over what they find
 * in a directory.  A token file: a JSON object with a "refresh_token" or
 * "grant" member; else, unless it is a service-account key ("type":
 * "service_account" or a "private_key" member), one with an
 * "access_token", "expiry", "token_endpoint" or "service_account_file"
 * member (a broken token file, reported as such); also a ".json" file that
 * is not JSON at all, and a file that cannot be opened: the caller says
 * what is wrong with it.  Not one: other JSON, a file larger than a token
 * file can be, a file not named .json that is not JSON.  What was read is
 * wiped: it may hold secrets.  Exits 71 when out of memory.
 */
int
sao_is_token_file(const char *path, char *why, size_t size)
{
	static const enum oa2_setting_id broken[] = {OA2_S_ACCESS_TOKEN,
	    OA2_S_EXPIRY, OA2_S_TOKEN_ENDPOINT, OA2_S_SERVICE_ACCOUNT_FILE};
	json_error_t je;
	json_t *doc, *type;
	char   *buf;
	size_t	len = 0, n = strlen(path), i;
	ssize_t	got;
	int	fd, nomem = 0, yes = 0;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
		return 1;
	if ((buf = oa2_malloc(OA2_TOKFILE_MAX + 1)) == NULL)
		sao_die(EX_OSERR, "out of memory");
	while (len <= OA2_TOKFILE_MAX && (got = read(fd, buf + len,
	    OA2_TOKFILE_MAX + 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	if (len > OA2_TOKFILE_MAX)
		snprintf(why, size, "larger than a token file can be (%d bytes)",
		    OA2_TOKFILE_MAX);
	else if ((doc = oa2_json_loadb(buf, len, 0, &je, &nomem)) == NULL) {
		if (nomem)
			sao_die(EX_OSERR, "out of memory");
		yes = n >= 5 && strcmp(path + n - 5, ".json") == 0;
		snprintf(why, size, "not JSON");
	} else if (!json_is_object(doc)) {
		snprintf(why, size, "JSON, but not an object");
		json_decref(doc);
	} else {
		type = json_object_get(doc, "type");
		if (json_object_get(doc, OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN)) ||
		    json_object_get(doc, OA2_SETTING_NAME(OA2_S_GRANT)))
			yes = 1;
		else if ((json_is_string(type) && strcmp(json_string_value(type),
		    "service_account") == 0) || json_object_get(doc, "private_key"))
			snprintf(why, size, "a service-account key, not a token "
			    "file (a token file names it in \"%s\")",
			    OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE));
		else {
			for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
				if (json_object_get(doc, OA2_SETTING_NAME(broken[i])))
					yes = 1;
			snprintf(why, size, "JSON without a token file's members "
			    "(\"%s\", \"%s\", \"%s\", \"%s\")",
			    OA2_SETTING_NAME(OA2_S_REFRESH_TOKEN),
			    OA2_SETTING_NAME(OA2_S_GRANT),
			    OA2_SETTING_NAME(OA2_S_ACCESS_TOKEN),
			    OA2_SETTING_NAME(OA2_S_TOKEN_ENDPOINT));
		}
		oa2_json_wipe_decref(doc);
	}
	oa2_wipe(buf, len);
	oa2_free(buf);
	return yes;
}
