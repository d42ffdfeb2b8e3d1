/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	sao 3h
 * SUMMARY
 *	shared declarations of the sasl-oauth2 command's modules
 * DESCRIPTION
 *	See sasl-oauth2.c.
 *--*/
#ifndef SAO_H
#define SAO_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "oa2_config.h"
#include "oa2_error.h"
#include "oa2_explain.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"

#define PROG "sasl-oauth2"

/* Subcommands: argv[0] is the subcommand's name. */
int cmd_authorize(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_refresh(int argc, char **argv);
int cmd_refresh_all(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_connect_app(int argc, char **argv);

/* usage - print the SYNOPSIS of sasl-oauth2(1) and exit EX_USAGE */
void usage(void) __attribute__((noreturn));

/* Messages (util.c). */
extern int sao_quiet;
/* sao_ctx - the command being run: its errors give its own fix (oa2_explain_fix()) */
extern enum oa2_explain_ctx sao_ctx;
void sao_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sao_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sao_die(int ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* sao_explain - print the "why / fix / more" lines for code to f; 0 if unknown */
int sao_explain(FILE *f, const char *code, const char *indent);
/* sao_report - print err (and its explanation) to stderr; return its exit code */
int sao_report(const struct oa2_error *err);
/* sao_exit_code - sysexits(3) value for a core status and error code ("tls": 76) */
int sao_exit_code(enum oa2_status st, const char *code);

/* Secrets (util.c): never from argv. */
/* sao_read_secret_file - first line of path ("-": standard input); NULL on error (message printed) */
char *sao_read_secret_file(const char *path);
/* sao_secret_file_usable - path ("-" too) can be read for a secret, before any request; 0 (message printed) if not */
int sao_secret_file_usable(const char *path);
/* sao_read_line - one line from fd 0 without stdio buffering; NULL at EOF/timeout */
char *sao_read_line(size_t max, int timeout_s);
/* sao_prompt_secret - ask on /dev/tty with echo off; NULL if no terminal */
char *sao_prompt_secret(const char *prompt);


/* Time (util.c). */
void sao_fmt_time(long long t, char *buf, size_t size);	/* "2025-11-25 11:06:00 UTC" */
void sao_fmt_delta(long long secs, char *buf, size_t size);	/* "3 d 4 h", "59 min" */
long long sao_parse_epoch(const char *s);		/* digits -> value, else -1 */
int sao_isatty_err(void);

/* Token file helpers (util.c). */
/* sao_stamp - under the file's lock, set name to now (epoch string) */
int sao_stamp(const char *path, const char *name, struct oa2_error *err);
/* A member of a token file being written: left out when value is NULL or "". */
struct sao_member {
	enum oa2_setting_id id;
	const char *value;
};
/* sao_token_write - set tok's members m[0..n), authorized_at to now, save it
 * to path (0600, atomically) and free tok, whatever happens */
enum oa2_status sao_token_write(struct oa2_token *tok, const struct sao_member *m,
    size_t n, const char *path, struct oa2_error *err);
/* sao_owner_spec - "user[:group]" (--owner): the user's name, uid and gid; 0 ok, -1 (message printed) */
int sao_owner_spec(const char *spec, char *user, size_t size, uid_t *uid,
    gid_t *gid);
/* sao_chown_spec - chown path to "user[:group]"; 0 ok, -1 (message printed) */
int sao_chown_spec(const char *path, const char *spec);
/* Other users (util.c): the checks and refreshes done as the mail system's user. */
/*
 * sao_become - drop root for uid:gid with the groups of user (NULL: of
 * uid's name; no supplementary group when it has none), and make sure
 * root cannot come back; a process that is uid already (not root) stays
 * as it is.  0, or -1 with the reason in why
 */
int sao_become(const char *user, uid_t uid, gid_t gid, char *why, size_t size);
/*
 * sao_fork_as - a child that becomes uid:gid (sao_become()) and _exits with
 * fn(arg, why): why is NULL, or why it could not become them (fn reports
 * that its own way).  stdio is flushed first.  The pid, or -1 (errno)
 */
pid_t sao_fork_as(const char *user, uid_t uid, gid_t gid,
    int (*fn)(void *arg, const char *why), void *arg);
/* sao_wait - waitpid(pid) past EINTR: 0 with *status, or -1 (errno) */
int sao_wait(pid_t pid, int *status);

/* sao_is_token_file - a token file (1), or clearly not one (0, why said): status, list, refresh-all */
int sao_is_token_file(const char *path, char *why, size_t size);

/* sao_load_config - load the global configuration (missing file is fine) */
int sao_load_config(struct oa2_config *cfg);

/* The known ways a refresh token dies (lifetime.c): status and refresh-all say the same. */
struct oa2_settings;
struct oa2_token;
struct stat;
enum { SAO_LT_WARNING = 1, SAO_LT_CRITICAL = 2 };
typedef void (*sao_lifetime_fn)(void *ctx, int level, const char *msg);
/* sao_provider_of - "provider", else google/microsoft from the token endpoint, else NULL */
const char *sao_provider_of(const struct oa2_settings *set);
/* sao_token_time - an epoch member (string digits accepted), else -1 */
long long sao_token_time(const struct oa2_token *tok, int id);
/* sao_last_used - the later of "refreshed_at" and the file's modification time */
long long sao_last_used(const struct oa2_token *tok, const struct stat *st);
/* sao_lifetime_checks - fn(ctx, SAO_LT_*, message) per way it dies that is near */
void sao_lifetime_checks(const struct oa2_settings *set,
    const struct oa2_token *tok, const struct stat *st, time_t now,
    sao_lifetime_fn fn, void *ctx);
/* sao_lifetime_file - the same for the file at path; messages given, -1 if unreadable */
int sao_lifetime_file(const char *path, const struct oa2_config *cfg,
    time_t now, sao_lifetime_fn fn, void *ctx);

/* The token file as the mail system sees it (mailsys.c): authorize --owner. */
struct sao_mailsys {
	const char *file;		/* as given */
	char	path[4096];		/* absolute, its directory resolved */
	char	dir[4096];
	char	queue[4096];		/* Postfix's queue_directory, resolved */
	char	root[4096];		/* the chroot the file's paths are opened in: --chroot, else the queue directory; "" none */
	int	under_queue;		/* path lies under it: the smtp client's chroot */
	int	active;			/* there is a user to check as */
	char	user[64];
	char	owner_buf[64];		/* --owner given on the terminal */
	unsigned uid, gid;
	int	problems;
};
/* sao_queue_of - file lies under Postfix's queue_directory: 1, with it (resolved) in buf */
int sao_queue_of(const char *file, char *buf, size_t size);
/* sao_mailsys_init - who will use file; may set *owner (asked); EX_OK or EX_USAGE (message printed) */
int sao_mailsys_init(struct sao_mailsys *ms, const char *file, const char **owner);
/* sao_mailsys_before - as that user: directory and CA bundle (chroot); EX_OK or EX_CONFIG */
int sao_mailsys_before(struct sao_mailsys *ms, const char *ca_file);
/* sao_mailsys_after - as that user: the written file opens; EX_OK or EX_CONFIG */
int sao_mailsys_after(struct sao_mailsys *ms);

struct oa2_refresh_opts;
/* --chroot (chroot.c): paths given outside, recorded as the chrooted mail system opens them. */
struct sao_chroot {
	char	dir[4096];		/* resolved; "" without --chroot */
	int	given;			/* --chroot DIR */
	char	user[64];		/* --owner's user, for the fixes */
	char	file_dir[4096];		/* the token file's directory, resolved */
	char	file_in[4096];		/* the token file's path inside */
};
enum sao_chroot_kind { SAO_CHROOT_KEY, SAO_CHROOT_CERT, SAO_CHROOT_CA };
/* sao_chroot_set - --chroot DIR, resolved; exits EX_USAGE when it is no directory */
void sao_chroot_set(struct sao_chroot *c, const char *dir);
/* sao_chroot_file - the token file lies under DIR (else exit 64); owner names the user in fixes */
void sao_chroot_file(struct sao_chroot *c, const char *file, const char *owner);
/* sao_chroot_in - the path inside for the outside path of --opt (malloc'ed); outside DIR: exit 64 with the fix */
char *sao_chroot_in(const struct sao_chroot *c, const char *opt, const char *path,
    enum sao_chroot_kind kind);
/* sao_chroot_out - DIR followed by a path inside (malloc'ed) */
char *sao_chroot_out(const struct sao_chroot *c, const char *path);
/* sao_chroot_not_under - without --chroot: a path of --opt under the queue directory: exit 64, "add --chroot" */
void sao_chroot_not_under(const char *queue, const char *opt, const char *path);

/* sao_outside - a command run outside the chroot on a file under Postfix's
 * queue directory: a path the file names that is not there is opened under
 * the queue directory (ro->root in buf) */
void sao_outside(struct oa2_refresh_opts *ro, const char *file, char *buf,
    size_t size);

/* QR code (qr.c): draws text as a QR code on f when f is a terminal and libqrencode is there. */
void sao_qr_print(FILE *f, const char *text);

/* Loopback redirect listener (loopback.c), RFC 8252 7.3. */
struct sao_loopback {
	int fd[2];		/* IPv4 and IPv6 sockets, -1 when absent */
	unsigned port;
	char host[64];		/* as in the redirect URI: 127.0.0.1, [::1], localhost */
	char path[256];
};
/* sao_loopback_open - parse uri (http://HOST[:PORT][/PATH]), listen; -1 with err */
int sao_loopback_open(struct sao_loopback *lb, const char *uri, unsigned port,
    struct oa2_error *err);
/* sao_loopback_uri - the redirect URI with the real port */
void sao_loopback_uri(const struct sao_loopback *lb, char *buf, size_t size);
/* sao_loopback_wait - wait for GET PATH?query; returns malloc'ed query, NULL on timeout/error (err set).
 * answer() gives the page to send back for that query. */
char *sao_loopback_wait(struct sao_loopback *lb, int timeout_s,
    const char *(*answer)(const char *query, void *ctx), void *ctx,
    int progress, struct oa2_error *err);
void sao_loopback_close(struct sao_loopback *lb);
/* sao_parse_redirect_uri - split a loopback URI; -1 if it is not one */
int sao_parse_redirect_uri(const char *uri, char *host, size_t hsz,
    unsigned *port, char *path, size_t psz);

#endif
