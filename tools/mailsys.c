/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	mailsys 3
 * SUMMARY
 *	authorize: the token file as the mail system will see it
 * SYNOPSIS
 *	#include "sao.h"
 *
 *	int	sao_mailsys_init(ms, file, owner)
 *	int	sao_mailsys_before(ms, ca_file)
 *	int	sao_mailsys_after(ms)
 * DESCRIPTION
 *	authorize writes the file as the one who runs it (root, mostly);
 *	the mail system opens it as another user, often inside Postfix's
 *	chroot.  This module checks, before anyone clicks anything and
 *	again once the file is written, what that user will meet.
 *
 *	sao_mailsys_init() finds who uses the file: --owner's user, or --
 *	when the path lies under Postfix's queue_directory (postconf -h
 *	queue_directory; MAIL_CONFIG is honoured) -- its mail_owner.  A file
 *	under the queue directory, or in a directory of another user, with
 *	no --owner is refused (EX_USAGE, naming the --owner to give); on a
 *	terminal the second case is asked instead.
 *
 *	sao_mailsys_before() checks, as that user (a forked child that takes
 *	the user's groups, gid and uid), that the directory can be entered
 *	and written (the refreshed token is written next to the file and
 *	renamed over it) and that the CA bundle can be read -- in the chroot
 *	(ms->root: the queue directory, or --chroot DIR, which the caller
 *	puts there after sao_mailsys_init()), at the path the chrooted smtp
 *	client opens: the chroot followed by the CA path as the file records
 *	it (or the system bundle).  sao_queue_of() says whether a file lies
 *	under the queue directory, and which it is.
 *	sao_mailsys_after() opens the written file for reading and writing
 *	as that user.
 *
 *	Each problem is one line naming the path, and a "fix:" line; the
 *	functions return EX_OK, EX_USAGE or EX_CONFIG (the setup will not
 *	work).  Without root, another user cannot be taken on: the checks
 *	say so and are left out.
 * SEE ALSO
 *	sasl-oauth2(1), authorize --owner; sasl-oauth2-postfix(7).
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_tls.h"
#include "sao.h"

/* postconf_value - "postconf -h NAME" into buf; 0, or -1 without Postfix */
static int
postconf_value(const char *name, char *buf, size_t size)
{
	int	pfd[2], status;
	ssize_t	n;
	size_t	len = 0;
	pid_t	pid;

	buf[0] = 0;
	if (pipe(pfd) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int	devnull = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		close(pfd[0]);
		execlp("postconf", "postconf", "-h", name, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (len + 1 < size && (n = read(pfd[0], buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && buf[0] ? 0 : -1;
}

/* problem - one line for what will not work, one for its fix */
static void
problem(struct sao_mailsys *ms, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct sao_mailsys *ms, const char *fix, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: %s: will not work for %s: ", PROG, ms->file,
	    ms->user);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  fix: %s\n", fix);
	ms->problems++;
}

/* ask_owner - on a terminal: make the file dir_user's? 1 yes */
static int
ask_owner(const char *dir, const char *dir_user)
{
	char	line[16];
	FILE   *tty;
	int	yes = 0;

	if (!isatty(0) || (tty = fopen("/dev/tty", "r+")) == NULL)
		return 0;
	fprintf(tty, "%s belongs to %s: give the token file to %s (--owner %s)? "
	    "[y/N] ", dir, dir_user, dir_user, dir_user);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) != NULL)
		yes = line[0] == 'y' || line[0] == 'Y';
	fclose(tty);
	return yes;
}

int
sao_queue_of(const char *file, char *buf, size_t size)
{
	static char real[PATH_MAX];	/* postconf once a process */
	static int known;		/* 1 real is it, -1 none */
	char	queue[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	size_t	qlen;

	snprintf(queue, sizeof(queue), "%s", file);
	if (realpath(dirname(queue), dir) == NULL)
		return 0;
	if (known == 0)
		known = postconf_value("queue_directory", queue, sizeof(queue)) == 0
		    && realpath(queue, real) != NULL ? 1 : -1;
	if (known < 0)
		return 0;
	qlen = strlen(real);
	snprintf(path, sizeof(path), "%s/", dir);
	if (strncmp(path, real, qlen) != 0 || path[qlen] != '/')
		return 0;
	snprintf(buf, size, "%s", real);
	return 1;
}

int
sao_mailsys_init(struct sao_mailsys *ms, const char *file, const char **owner)
{
	char	dir[PATH_MAX], real[PATH_MAX], mail_owner[64], base[PATH_MAX];
	struct passwd *pw;
	struct stat st;

	memset(ms, 0, sizeof(*ms));
	ms->file = file;
	snprintf(dir, sizeof(dir), "%s", file);
	snprintf(base, sizeof(base), "%s", file);
	if (realpath(dirname(dir), real) == NULL || stat(real, &st) < 0)
		return EX_OK;			/* authorize says it */
	snprintf(ms->dir, sizeof(ms->dir), "%s", real);
	snprintf(ms->path, sizeof(ms->path), "%s/%s", real, basename(base));

	/* Under Postfix's queue directory: its smtp client uses the file. */
	if (sao_queue_of(ms->path, ms->queue, sizeof(ms->queue))) {
		ms->under_queue = 1;
		snprintf(ms->root, sizeof(ms->root), "%s", ms->queue);
		if (postconf_value("mail_owner", mail_owner, sizeof(mail_owner)) < 0)
			snprintf(mail_owner, sizeof(mail_owner), "postfix");
	}
	if (*owner == NULL && ms->under_queue) {
		if ((pw = getpwnam(mail_owner)) != NULL && pw->pw_uid == geteuid())
			goto as_self;
		sao_warn("%s: under Postfix's queue directory %s: its smtp client "
		    "(user %s) reads and refreshes the file there: give --owner "
		    "%s", file, ms->queue, mail_owner, mail_owner);
		return EX_USAGE;
	}
	if (*owner == NULL && st.st_uid != geteuid()) {
		const char *who = (pw = getpwuid(st.st_uid)) != NULL ?
		    pw->pw_name : NULL;

		if (who != NULL && ask_owner(ms->dir, who)) {
			snprintf(ms->owner_buf, sizeof(ms->owner_buf), "%s", who);
			*owner = ms->owner_buf;
		} else {
			sao_warn("%s: the directory %s belongs to %s, not to you: "
			    "give --owner USER, the user that reads and refreshes "
			    "the file (--owner %s for the directory's owner)", file,
			    ms->dir, who ? who : "another user", who ? who : "USER");
			return EX_USAGE;
		}
	}
	if (*owner == NULL) {
as_self:
		return EX_OK;			/* the file is ours: nothing to see */
	}
	snprintf(ms->user, sizeof(ms->user), "%.*s",
	    (int)strcspn(*owner, ":"), *owner);
	if ((pw = getpwnam(ms->user)) == NULL) {
		sao_warn("--owner %s: no such user", ms->user);
		return EX_USAGE;
	}
	ms->uid = (unsigned)pw->pw_uid;
	ms->gid = (unsigned)pw->pw_gid;
	ms->active = 1;
	return EX_OK;
}

struct check_args {
	struct sao_mailsys *ms;
	void	(*check)(struct sao_mailsys *, const void *);
	const void *arg;
};

/* check_child - the check in the child that became ms->user: the count; 101 if it could not */
static int
check_child(void *arg, const char *why)
{
	const struct check_args *c = arg;

	if (why != NULL)
		return 101;
	c->ms->problems = 0;
	c->check(c->ms, c->arg);
	fflush(stderr);
	return c->ms->problems > 100 ? 100 : c->ms->problems;
}

/*
 * as_user - run check(ms, arg) in a child that is ms->user; its problems
 * come back as its exit status (the count, at most 100); -1 when we cannot
 * become the user
 */
static int
as_user(struct sao_mailsys *ms, void (*check)(struct sao_mailsys *, const void *),
    const void *arg)
{
	struct check_args c = {ms, check, arg};
	int	status;
	pid_t	pid;

	if (ms->uid != (unsigned)geteuid() && geteuid() != 0)
		return -1;
	if ((pid = sao_fork_as(ms->user, (uid_t)ms->uid, (gid_t)ms->gid,
	    check_child, &c)) < 0 || sao_wait(pid, &status) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 100)
		return -1;
	ms->problems += WEXITSTATUS(status);
	return 0;
}

/* first_closed - the first directory of path the user cannot enter, in buf */
static int
first_closed(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char	c = *p;

			*p = 0;
			if (access(buf, X_OK) < 0)
				return 1;
			if ((*p = c) == 0)
				break;
		}
	}
	return 0;
}

/* check_before - as the user: the directory and the CA bundle */
static void
check_before(struct sao_mailsys *ms, const void *arg)
{
	const char *ca = arg;
	char	buf[PATH_MAX + 256], fix[2 * PATH_MAX + 256];

	if (first_closed(ms->dir, buf, sizeof(buf))) {
		snprintf(fix, sizeof(fix), "let %s in: chmod o+x %s, or chgrp %s %s "
		    "&& chmod g+x %s", ms->user, buf, ms->user, buf, buf);
		problem(ms, fix, "cannot enter %s", buf);
	} else if (access(ms->dir, W_OK | X_OK) < 0) {
		snprintf(fix, sizeof(fix), "chown %s %s (the refreshed token is "
		    "written next to the file, then renamed over it)", ms->user,
		    ms->dir);
		problem(ms, fix, "cannot create files in %s", ms->dir);
	}
	if (ms->root[0]) {
		snprintf(buf, sizeof(buf), "%s%s", ms->root, ca);
		if (access(buf, R_OK) < 0) {
			char	cadir[PATH_MAX];

			snprintf(cadir, sizeof(cadir), "%s", buf);
			snprintf(fix, sizeof(fix), "mkdir -p %s && cp %s %s "
			    "(Postfix's smtp client runs chrooted in %s)",
			    dirname(cadir), ca, buf, ms->root);
			problem(ms, fix, "the CA bundle %s is not there inside "
			    "Postfix's chroot: %s: %s", ca, buf, strerror(errno));
		}
	} else if (access(ca, R_OK) < 0) {
		snprintf(fix, sizeof(fix), "chmod a+r %s, or give --ca-file a "
		    "bundle %s can read", ca, ms->user);
		problem(ms, fix, "cannot read the CA bundle %s: %s", ca,
		    strerror(errno));
	}
}

/* check_after - as the user: the written file opens for reading and writing */
static void
check_after(struct sao_mailsys *ms, const void *arg)
{
	char	fix[PATH_MAX + 128];
	int	fd;

	(void)arg;
	if ((fd = open(ms->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		close(fd);
		return;
	}
	snprintf(fix, sizeof(fix), "chown %s %s && chmod 600 %s", ms->user,
	    ms->path, ms->path);
	problem(ms, fix, "cannot open %s for reading and writing: %s", ms->path,
	    strerror(errno));
}

/* verdict - EX_CONFIG when the checks found problems; a note when they could not run */
static int
verdict(struct sao_mailsys *ms, int ran, const char *when)
{
	if (ran < 0) {
		sao_info("note: cannot check %s as %s %s (not root)", ms->file,
		    ms->user, when);
		return EX_OK;
	}
	if (ms->problems > 0)
		return EX_CONFIG;
	return EX_OK;
}

int
sao_mailsys_before(struct sao_mailsys *ms, const char *ca_file)
{
	const char *ca = ca_file != NULL ? ca_file : OA2_DEFAULT_CA_FILE;
	int	ex;

	if (!ms->active)
		return EX_OK;
	ex = verdict(ms, as_user(ms, check_before, ca), "before the consent");
	if (ex != EX_OK)
		fprintf(stderr, "nothing was asked or written: fix the above, then "
		    "run the command again\n");
	else if (ms->root[0] && strncmp(ms->path, ms->root, strlen(ms->root)) == 0)
		sao_info("checked as %s: Postfix's smtp client (chrooted in %s) "
		    "will open %s and the CA bundle %s", ms->user, ms->root,
		    ms->path + strlen(ms->root), ca);
	else
		sao_info("checked as %s: the directory %s and the CA bundle %s",
		    ms->user, ms->dir, ca);
	return ex;
}

int
sao_mailsys_after(struct sao_mailsys *ms)
{
	if (!ms->active)
		return EX_OK;
	return verdict(ms, as_user(ms, check_after, NULL), "once written");
}
