/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor-files 3
 * SUMMARY
 *	sasl-oauth2 doctor: plugins, token files, CA bundle, resolver files
 * SYNOPSIS
 *	#include "doctor.h"
 *
 *	void doc_check_plugins(struct doc *d);
 *	void doc_check_tokens(struct doc *d);
 *	void doc_check_chroot_files(struct doc *d);
 * DESCRIPTION
 *	doc_check_plugins() loads each plugin file of libsasl2's plugin
 *	directory (SASL_PATH in import_environment, else libsasl2's own) alone,
 *	in a child process, and asks libsasl2 which mechanisms it brings: a
 *	plugin that crashes or hangs is named and doctor goes on; exactly one
 *	file may claim XOAUTH2 (Debian's libsasl2-modules-kdexoauth2 ships
 *	libkdexoauth2.so, sasl-xoauth2 libsasl-xoauth2.so: libsasl2 would use
 *	either).
 *
 *	doc_check_tokens() reads the source file of each file-backed
 *	smtp_sasl_password_maps and checks each token file it names, as the
 *	smtp client will open it: inside the chroot (queue_directory) when
 *	master.cf runs smtp chrooted; owned by mail_owner and not readable by
 *	others; readable and writable by mail_owner, checked in a child
 *	running as mail_owner (supplementary groups and ACLs count), every
 *	parent directory enterable and the directory writable (the refresh
 *	renames a new file into it); a valid token file; and the CA bundle or
 *	directory its refresh uses, inside the chroot.  A token file found
 *	outside the chroot is moved in, never copied: the refresh token
 *	rotates, and a copy left behind would be a second, stale grant.
 *
 *	An app-only token file's credential files are checked by
 *	doc_check_app_files() (doctor-app.c), with doc_as_owner() and
 *	doc_check_parents() from here.
 *
 *	doc_check_chroot_files() checks /etc/resolv.conf and /etc/hosts
 *	inside the chroot (the token endpoint's name is resolved there).
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Utility library. */
#include <curl/curl.h>
#include <sasl/sasl.h>

/* Application-specific. */
#include "oa2_config.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "doctor.h"
#include "sao.h"

#ifndef SAO_SASL_PLUGINDIR
#define SAO_SASL_PLUGINDIR "/usr/lib/sasl2"
#endif

#define PLUGIN_TIMEOUT 10	/* seconds a plugin may take to load */

/* ---------------------------------------------------------------- plugins */

/* What one plugin file brings, as its child process saw it. */
struct plug {
	char name[256];
	int xoauth2;		/* claims XOAUTH2 */
	int crashed;		/* signal number, or 0 */
	int failed;		/* libsasl2 did not start with it */
};

/* probe_child - in the child: load only file (via a one-file directory) */
static void
probe_child(const char *dir, int fd)
{
	const char **mechs;
	char r = '0';

	sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)dir);
	alarm(PLUGIN_TIMEOUT);
	if (sasl_client_init(NULL) != SASL_OK)
		r = 'F';
	else if ((mechs = sasl_global_listmech()) != NULL)
		for (size_t i = 0; mechs[i] != NULL; i++)
			if (strcasecmp(mechs[i], "XOAUTH2") == 0)
				r = 'X';
	if (write(fd, &r, 1) != 1)
		_exit(1);
	_exit(0);
}

/* probe - load one plugin file alone in a child process */
static void
probe(const char *dir, const char *name, struct plug *pl)
{
	char tmp[] = "/tmp/sasl-oauth2-doctor.XXXXXX", link[1200], src[1200];
	int p[2], status;
	char r = 0;
	pid_t pid;

	snprintf(pl->name, sizeof(pl->name), "%s", name);
	pl->xoauth2 = pl->crashed = pl->failed = 0;
	if (mkdtemp(tmp) == NULL || pipe(p) < 0) {
		pl->failed = 1;
		return;
	}
	snprintf(link, sizeof(link), "%s/%s", tmp, name);
	snprintf(src, sizeof(src), "%s/%s", dir, name);
	if (symlink(src, link) < 0) {
		pl->failed = 1;
		close(p[0]);
		close(p[1]);
		rmdir(tmp);
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(p[0]);
		probe_child(tmp, p[1]);
	}
	close(p[1]);
	if (pid > 0) {
		while (read(p[0], &r, 1) < 0 && errno == EINTR)
			;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			pl->crashed = WTERMSIG(status);
		else if (r == 'X')
			pl->xoauth2 = 1;
		else if (r != '0')
			pl->failed = 1;
	} else
		pl->failed = 1;
	close(p[0]);
	unlink(link);
	rmdir(tmp);
}

/* disable_fix - the command that takes a plugin file out of the directory */
static void
disable_fix(const char *dir, const char *name, char *fix, size_t size)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (strcmp(name, "libkdexoauth2.so") == 0)
		snprintf(fix, size, "apt-get remove libsasl2-modules-kdexoauth2 "
		    "2>/dev/null || mv %s %s.disabled", doc_q(path), doc_q(path));
	else
		snprintf(fix, size, "mv %s %s.disabled", doc_q(path), doc_q(path));
}

/* check_plugin_dir - every plugin file in dir, each alone in a child */
static void
check_plugin_dir(struct doc *d, const char *dir, int *nx, char *xo,
    size_t xosize)
{
	struct dirent *e;
	struct plug pl;
	char fix[2600], path[1200];
	dev_t dev[64];
	ino_t ino[64];
	int n = 0;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		size_t len = strlen(e->d_name);
		struct stat st;
		int dup = 0;

		/* libsasl2 loads NAME.so (and NAME.la) files only */
		if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		for (int i = 0; i < n; i++)
			dup |= dev[i] == st.st_dev && ino[i] == st.st_ino;
		if (dup)
			continue;
		if (n < 64) {
			dev[n] = st.st_dev;
			ino[n++] = st.st_ino;
		}
		probe(dir, e->d_name, &pl);
		if (pl.crashed) {
			disable_fix(dir, pl.name, fix, sizeof(fix));
			doc_bad(d, fix, "%s/%s crashes libsasl2 when it loads "
			    "(signal %d, %s): the smtp client dies before it "
			    "authenticates", dir, pl.name, pl.crashed,
			    strsignal(pl.crashed));
		} else if (pl.xoauth2) {
			if (*nx > 0) {
				disable_fix(dir, strcmp(pl.name, "libsasl-oauth2.so") ?
				    pl.name : xo, fix, sizeof(fix));
				doc_bad(d, fix, "%s/%s and %s/%s both claim XOAUTH2: "
				    "libsasl2 may use %s", dir, xo, dir, pl.name,
				    strcmp(pl.name, "libsasl-oauth2.so") ? pl.name :
				    xo);
			} else
				snprintf(xo, xosize, "%s", pl.name);
			++*nx;
		}
	}
	closedir(dp);
}

void
doc_check_plugins(struct doc *d)
{
	char path[1024], fix[1400], xo[256] = "", dir[1024];
	const char *sp = doc_env_import(d, "SASL_PATH", path, sizeof(path));
	const char *p;
	int nx = 0;

	if (sp == NULL || *sp == 0)
		sp = SAO_SASL_PLUGINDIR;
	for (p = sp; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		if (*dir)
			check_plugin_dir(d, dir, &nx, xo, sizeof(xo));
		p += n + (p[n] == ':');
	}
	if (nx == 0) {
		snprintf(fix, sizeof(fix), "make install (the plugin goes to "
		    "libsasl2's plugin directory), or: postconf -c %s -e "
		    "'import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ "
		    "LANG=C SASL_PATH=/path/to/plugin/dir'", doc_q(d->dir));
		doc_bad(d, fix, "libsasl2 finds no XOAUTH2 plugin in %s", sp);
	} else if (nx == 1)
		doc_good(d, "libsasl2 loads one XOAUTH2 plugin from %s (%s)", sp,
		    xo);
}

/* ------------------------------------------------------------ as the user */

struct access_args {
	const char *path;
	int	mode;
};

/* access_child - access() in the child that became mail_owner: 0 or errno; 255 if it could not */
static int
access_child(void *arg, const char *why)
{
	const struct access_args *a = arg;

	if (why != NULL)
		return 255;
	return access(a->path, a->mode) == 0 ? 0 : errno & 0x7f;
}

/* as_owner - access(path, mode) as mail_owner (a child drops to it); 0 or errno */
static int
as_owner(const struct doc *d, const char *path, int mode)
{
	struct access_args a = {path, mode};
	int status, e;
	pid_t pid;

	if (geteuid() != 0) {
		/* Not root: only what the bits say for that uid/gid. */
		struct stat st;
		int bits;

		if (stat(path, &st) < 0)
			return errno;
		bits = st.st_uid == d->uid ? (st.st_mode >> 6) & 7 :
		    st.st_gid == d->gid ? (st.st_mode >> 3) & 7 : st.st_mode & 7;
		return (bits & mode) == mode ? 0 : EACCES;
	}
	if ((pid = sao_fork_as(d->owner, d->uid, d->gid, access_child, &a)) < 0 ||
	    sao_wait(pid, &status) < 0)
		return errno;
	e = WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
	return e == 255 ? EPERM : e;
}

/* ----------------------------------------------------------------- tokens */

/* check_ca - the CA bundle the refresh uses exists in the jail */
static void
check_ca(struct doc *d, const struct oa2_token *tok)
{
	struct oa2_settings set;
	const char *ca, *capath;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	char j[2048], fix[4096], dir[2048];
	struct stat st;

	oa2_settings_resolve(&set, tok, d->cfg);
	ca = set.ca_file;
	capath = set.ca_dir;
	if (ca == NULL && capath == NULL)
		ca = cv->cainfo;
	if (ca == NULL && capath == NULL)
		capath = cv->capath;
	if (ca == NULL && capath == NULL) {
		doc_bad(d, "add \"ca_bundle_file\": \"/etc/ssl/certs/ca-certificates.crt\""
		    " to /etc/sasl-oauth2.conf", "no CA bundle is set and libcurl "
		    "has no default: the token endpoint cannot be verified");
		return;
	}
	if (ca == NULL) {
		doc_jail(d, capath, j, sizeof(j));
		if (stat(j, &st) == 0 && S_ISDIR(st.st_mode))
			doc_good(d, "CA directory %s is there (%s)", capath, j);
		else {
			snprintf(fix, sizeof(fix), "mkdir -p %s && cp -L %s/*.pem %s/",
			    doc_q(j), doc_q(capath), doc_q(j));
			doc_bad(d, fix, "CA directory %s is missing in the chroot (%s)",
			    capath, j);
		}
		return;
	}
	doc_jail(d, ca, j, sizeof(j));
	if (stat(j, &st) == 0 && S_ISREG(st.st_mode) && as_owner(d, j, R_OK) == 0)
		doc_good(d, "CA bundle %s is there (%s)", ca, j);
	else if (stat(j, &st) == 0) {
		snprintf(fix, sizeof(fix), "chmod 644 %s", doc_q(j));
		doc_bad(d, fix, "CA bundle %s is not readable by %s", j, d->owner);
	} else {
		snprintf(dir, sizeof(dir), "%s", j);
		snprintf(fix, sizeof(fix), "mkdir -p %s && cp -L %s %s",
		    doc_q(dirname(dir)), doc_q(access(ca, R_OK) == 0 ? ca :
		    "/etc/ssl/certs/ca-certificates.crt"), doc_q(j));
		doc_bad(d, fix, "CA bundle %s is missing%s (%s): the token cannot be "
		    "refreshed%s", ca, d->chroot ? " in the chroot" : "", j,
		    d->chroot ? "; Debian's postfix start replaces the chroot's "
		    "etc/ssl/certs, so also list the bundle in chroot_extra_files "
		    "in /etc/default/postfix (sasl-oauth2-postfix(7))" : "");
	}
}

/* token_missing - the token file is not where the smtp client looks */
static void
token_missing(struct doc *d, const char *path, const char *j)
{
	char dir[2048], fix[4096];
	const char *parent;
	int outside = d->chroot && access(path, F_OK) == 0;

	snprintf(dir, sizeof(dir), "%s", j);
	parent = dirname(dir);
	if (outside)
		/* Move, never copy: the refresh token rotates. */
		snprintf(fix, sizeof(fix), "install -d -o %s -g %s -m 700 %s "
		    "&& mv %s %s && chown %s:%s %s", d->owner, d->group,
		    doc_q(parent), doc_q(path), doc_q(j), d->owner, d->group,
		    doc_q(j));
	else
		snprintf(fix, sizeof(fix), "install -d -o %s -g %s -m 700 %s && "
		    "sasl-oauth2 authorize --owner %s --provider NAME --client-id "
		    "ID --user %s %s", d->owner, d->group, doc_q(parent), d->owner,
		    "ADDRESS", doc_q(j));
	doc_bad(d, fix, "token file %s is not %s (%s)%s", path, d->chroot ?
	    "inside the smtp chroot" : "there", j, outside ? "; it exists "
	    "outside the chroot, where the smtp client cannot see it: move it "
	    "(a copy would leave a second refresh token that goes stale when "
	    "the provider rotates it)" : "");
}

/* check_parents - mail_owner can enter every directory above path */
static int
check_parents(struct doc *d, const char *parent)
{
	char cur[2048], fix[2400];
	char *slash;

	snprintf(cur, sizeof(cur), "%s", parent);
	for (;;) {
		if (as_owner(d, cur, X_OK) != 0) {
			/* Report the topmost directory that stops it. */
			char up[2048];

			snprintf(up, sizeof(up), "%s", cur);
			while ((slash = strrchr(up, '/')) != NULL && slash != up) {
				*slash = 0;
				if (as_owner(d, up, X_OK) == 0)
					break;
				snprintf(cur, sizeof(cur), "%s", up);
			}
			snprintf(fix, sizeof(fix), "chmod o+x %s", doc_q(cur));
			doc_bad(d, fix, "%s cannot enter %s", d->owner, cur);
			return -1;
		}
		if ((slash = strrchr(cur, '/')) == NULL || slash == cur)
			break;
		*slash = 0;
	}
	return 0;
}

/*
 * exposed_secret - what others could read in the token file at j: "the
 * refresh token", or for an app-only file (a "grant" other than
 * refresh_token) "the client secret" when it holds one, else "the access
 * token".  Read as it is (the load refuses loose modes); the copy is wiped.
 */
static const char *
exposed_secret(const char *j)
{
	static char buf[OA2_TOKFILE_MAX];
	struct oa2_token tok = {0};
	struct oa2_error err;
	enum oa2_grant_kind g = OA2_GRANT_REFRESH;
	const char *what = "the refresh token";
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(j, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return what;
	while (len < sizeof(buf) &&
	    ((n = read(fd, buf + len, sizeof(buf) - len)) > 0 ||
	    (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(fd);
	if (oa2_token_parse(&tok, j, buf, len, &err) == OA2_OK &&
	    oa2_grant_kind_parse(oa2_token_str(&tok, OA2_S_GRANT), &g) == 0 &&
	    g != OA2_GRANT_REFRESH)
		what = tok.client_secret != NULL ? "the client secret" :
		    "the access token";
	oa2_token_free(&tok);
	oa2_wipe(buf, len);
	return what;
}

/* check_token - one token file named in the password map */
static void
check_token(struct doc *d, const char *path)
{
	char j[2048], dir[2048], fix[4096];
	struct oa2_token tok = {0};
	struct oa2_error err;
	struct stat st;
	const char *parent;

	if (path[0] != '/') {
		doc_bad(d, "write the absolute path of the token file after the "
		    "user name and \":\" in the map, then postmap it", "%s: the "
		    "SASL password must be the absolute path of a token file", path);
		return;
	}
	doc_jail(d, path, j, sizeof(j));
	if (lstat(j, &st) < 0) {
		token_missing(d, path, j);
		return;
	}
	doc_good(d, "token file %s is there%s%s", path, d->chroot ?
	    " in the chroot: " : "", d->chroot ? j : "");
	snprintf(dir, sizeof(dir), "%s", j);
	parent = dirname(dir);
	if (st.st_uid != d->uid) {
		snprintf(fix, sizeof(fix), "chown %s:%s %s", d->owner, d->group,
		    doc_q(j));
		doc_bad(d, fix, "%s is owned by uid %u, not %s: the smtp client "
		    "cannot read or refresh it", j, (unsigned)st.st_uid, d->owner);
	} else if (st.st_mode & 077) {
		snprintf(fix, sizeof(fix), "chmod 600 %s", doc_q(j));
		doc_bad(d, fix, "%s has mode %03o: others can read %s", j,
		    (unsigned)(st.st_mode & 0777), exposed_secret(j));
	}
	if (check_parents(d, parent) < 0)
		;
	else if (as_owner(d, j, R_OK | W_OK) != 0) {
		snprintf(fix, sizeof(fix), "chown %s:%s %s && chmod 600 %s",
		    d->owner, d->group, doc_q(j), doc_q(j));
		doc_bad(d, fix, "%s cannot read and write %s", d->owner, j);
	} else
		doc_good(d, "%s can read and write %s", d->owner, j);
	if (as_owner(d, parent, W_OK | X_OK) == 0)
		doc_good(d, "%s can replace files in %s (refresh by rename)",
		    d->owner, parent);
	else {
		snprintf(fix, sizeof(fix), "chown %s:%s %s && chmod 700 %s",
		    d->owner, d->group, doc_q(parent), doc_q(parent));
		doc_bad(d, fix, "%s cannot create files in %s: a refreshed token "
		    "cannot be stored", d->owner, parent);
	}
	if (oa2_token_load(&tok, j, -1, NULL, &err) != OA2_OK) {
		snprintf(fix, sizeof(fix), "sasl-oauth2 status %s; sasl-oauth2 "
		    "authorize --force %s", doc_q(j), doc_q(j));
		doc_bad(d, fix, "%s", err.msg);
	} else {
		doc_good(d, "%s is a valid token file", j);
		check_ca(d, &tok);
		doc_check_app_files(d, &tok, j);
	}
	oa2_token_free(&tok);
}

void
doc_check_tokens(struct doc *d)
{
	char maps[4096], m[1024], src[1024], line[4096];
	const char *mp, *suffix;
	int n = 0;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_sasl_password_maps"));
	for (mp = maps; doc_next_word(&mp, m, sizeof(m));) {
		FILE *f;

		if (doc_map_source(m, src, sizeof(src), &suffix) < 0) {
			doc_good(d, "%s: not a file map; its token files are not "
			    "checked", m);
			n++;
			continue;
		}
		if ((f = fopen(src, "r")) == NULL) {
			doc_bad(d, NULL, "%s: cannot read %s: %s", m, src,
			    strerror(errno));
			n++;
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *k, *v, *pass;

			if (doc_map_line(line, &k, &v) < 0 ||
			    (pass = strchr(v, ':')) == NULL)
				continue;
			n++;
			check_token(d, pass + 1);
		}
		fclose(f);
	}
	if (n == 0 && maps[0])
		doc_bad(d, NULL, "no \"[relay]:port user:/path/to/token.json\" entry "
		    "in smtp_sasl_password_maps");
}

void
doc_check_chroot_files(struct doc *d)
{
	static const char *files[] = {"/etc/resolv.conf", "/etc/hosts"};
	char j[1200], fix[2600];

	if (!d->chroot)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		doc_jail(d, files[i], j, sizeof(j));
		if (access(j, F_OK) == 0 && as_owner(d, j, R_OK) == 0)
			doc_good(d, "%s is in the chroot", files[i]);
		else {
			snprintf(fix, sizeof(fix), "mkdir -p %s/etc && cp -L %s %s",
			    doc_q(d->queue), files[i], doc_q(j));
			doc_bad(d, fix, "%s is missing in the chroot (%s): the token "
			    "endpoint's name cannot be resolved", files[i], j);
		}
	}
}

int
doc_as_owner(const struct doc *d, const char *path, int mode)
{
	return as_owner(d, path, mode);
}

int
doc_check_parents(struct doc *d, const char *dir)
{
	return check_parents(d, dir);
}
