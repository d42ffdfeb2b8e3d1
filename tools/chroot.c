/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	chroot 3
 * SUMMARY
 *	authorize and connect-app --chroot: paths outside and inside
 * SYNOPSIS
 *	#include "sao.h"
 *
 *	void	sao_chroot_set(c, dir)
 *	void	sao_chroot_file(c, file, owner)
 *	char	*sao_chroot_in(c, opt, path, kind)
 *	char	*sao_chroot_out(c, path)
 *	void	sao_chroot_not_under(queue, opt, path)
 *	void	sao_outside(ro, file, buf, size)
 * DESCRIPTION
 *	The administrator names files by their paths outside the chroot
 *	(/var/spool/postfix/oauth2/app.key); the chrooted smtp client opens
 *	them by their paths inside (/oauth2/app.key).  The token file
 *	records the paths inside; the tool itself opens them outside.
 *
 *	sao_chroot_set() takes --chroot DIR: an existing directory, resolved
 *	(symbolic links, trailing slashes).  sao_chroot_file() requires the
 *	token file to lie under it.  sao_chroot_in() gives the path inside
 *	for an outside path given to --opt: the file must exist and, once
 *	resolved, lie under DIR (a symbolic link out of it would not be
 *	followed inside); else one line with the command that puts it there
 *	(by kind: a key, mode 0600 and the owner's; a certificate or a CA
 *	bundle, a copy) and exit 64.  sao_chroot_out() is the way back: DIR
 *	followed by a path read from a token file.
 *
 *	sao_chroot_not_under() is for a run without --chroot on a file under
 *	Postfix's queue directory: a path given there is an outside path the
 *	chrooted client cannot open as given (unless a link in the chroot
 *	makes it hold there too), so it is refused with the --chroot that
 *	records it right.
 *
 *	sao_outside() is for refresh, refresh-all, token and status
 *	--refresh, run outside the chroot: on a file under Postfix's queue
 *	directory, a path the file names (inside the chroot, as connect-app
 *	and authorize --chroot write them) that is not there outside is
 *	opened under the queue directory.  A path that is there is used as
 *	named, as before.
 * SEE ALSO
 *	sasl-oauth2(1), --chroot; mailsys(3).
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_refresh.h"
#include "sao.h"

/* under - path lies under dir (both resolved): its rest ("/x"), else NULL */
static const char *
under(const char *dir, const char *path)
{
	size_t	n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path;
	return strncmp(path, dir, n) == 0 && path[n] == '/' ? path + n : NULL;
}

void
sao_chroot_set(struct sao_chroot *c, const char *dir)
{
	memset(c, 0, sizeof(*c));
	if (dir[0] != '/')
		sao_die(EX_USAGE, "--chroot %s: give the absolute path of the "
		    "directory the mail system runs chrooted in (Postfix: postconf "
		    "-h queue_directory)", dir);
	if (realpath(dir, c->dir) == NULL)
		sao_die(EX_USAGE, "--chroot %s: %s: give the directory the mail "
		    "system runs chrooted in (Postfix: postconf -h "
		    "queue_directory)", dir, strerror(errno));
	c->given = 1;
}

void
sao_chroot_file(struct sao_chroot *c, const char *file, const char *owner)
{
	char	dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
	const char *rest;
	int	n;

	snprintf(c->user, sizeof(c->user), "%.*s", owner != NULL ?
	    (int)strcspn(owner, ":") : 0, owner != NULL ? owner : "");
	snprintf(dir, sizeof(dir), "%s", file);
	snprintf(base, sizeof(base), "%s", file);
	if (realpath(dirname(dir), real) == NULL)
		sao_die(EX_CANTCREAT, "%s: %s: its directory must exist (under "
		    "--chroot %s)", file, strerror(errno), c->dir);
	if ((rest = under(c->dir, real)) == NULL)
		sao_die(EX_USAGE, "%s: not under --chroot %s, where the mail "
		    "system opens and rewrites the token file: give a path under "
		    "it, e.g. %s/oauth2/%s", file, c->dir, c->dir, basename(base));
	snprintf(c->file_dir, sizeof(c->file_dir), "%s", real);
	n = snprintf(c->file_in, sizeof(c->file_in), "%s/%s", rest,
	    basename(base));
	if (n < 0 || (size_t)n >= sizeof(c->file_in))
		sao_die(EX_USAGE, "%s: path too long", file);
}

char   *
sao_chroot_in(const struct sao_chroot *c, const char *opt, const char *path,
    enum sao_chroot_kind kind)
{
	char	real[PATH_MAX], copy[PATH_MAX], fix[3 * PATH_MAX + 64];
	const char *rest;

	snprintf(copy, sizeof(copy), "%s", path);
	if (kind == SAO_CHROOT_KEY)
		snprintf(fix, sizeof(fix), "install -m 600%s%s %s %s/%s",
		    c->user[0] ? " -o " : "", c->user, path, c->file_dir,
		    basename(copy));
	else if (kind == SAO_CHROOT_CERT)
		snprintf(fix, sizeof(fix), "install -m 644 %s %s/%s", path,
		    c->file_dir, basename(copy));
	else			/* inside at its outside path, as mailsys.c's fix */
		snprintf(fix, sizeof(fix), "mkdir -p %s%s && cp %s %s%s", c->dir,
		    dirname(copy), path, c->dir, path);
	if (realpath(path, real) == NULL)
		sao_die(EX_NOINPUT, "--%s %s: %s: give the path of the file as "
		    "you see it, under --chroot %s", opt, path, strerror(errno),
		    c->dir);
	if ((rest = under(c->dir, real)) == NULL)
		sao_die(EX_USAGE, "--%s %s: outside --chroot %s, where the chrooted "
		    "mail system cannot open it: move it under %s: %s, and give "
		    "--%s that path", opt, path, c->dir, c->dir, fix, opt);
	if ((rest = oa2_strdup(rest)) == NULL)
		sao_die(EX_OSERR, "out of memory");
	return (char *)rest;
}

char   *
sao_chroot_out(const struct sao_chroot *c, const char *path)
{
	size_t	n = strlen(c->dir) + strlen(path) + 1;
	char   *out = oa2_malloc(n);

	if (out == NULL)
		sao_die(EX_OSERR, "out of memory");
	snprintf(out, n, "%s%s", strcmp(c->dir, "/") == 0 ? "" : c->dir, path);
	return out;
}

void
sao_outside(struct oa2_refresh_opts *ro, const char *file, char *buf,
    size_t size)
{
	if (sao_queue_of(file, buf, size)) {
		ro->root = buf;
		ro->root_if_missing = 1;
	}
}

void
sao_chroot_not_under(const char *queue, const char *opt, const char *path)
{
	char	real[PATH_MAX], inside[2 * PATH_MAX];
	const char *rest;

	if (path == NULL || realpath(path, real) == NULL ||
	    (rest = under(queue, real)) == NULL)
		return;
	/* A link in the chroot can make the path hold there too: then it works. */
	snprintf(inside, sizeof(inside), "%s%s", queue, path);
	if (access(inside, F_OK) == 0)
		return;
	sao_die(EX_USAGE, "--%s %s: under Postfix's queue directory %s, where "
	    "the chrooted smtp client would look for %s%s: add --chroot %s (the "
	    "file then records %s)", opt, path, queue, queue, path, queue, rest);
}
