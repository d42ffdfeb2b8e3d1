/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor 3
 * SUMMARY
 *	sasl-oauth2 doctor --postfix: check a Postfix + plugin setup
 * DESCRIPTION
 *	cmd_doctor() reads the Postfix configuration with postconf(1)
 *	(-c DIR) and checks what a colleague would: libsasl2 loads an
 *	XOAUTH2 plugin from where Postfix's smtp client looks
 *	(import_environment SASL_PATH=..., else the default) and no second
 *	plugin claims XOAUTH2; the smtp_sasl_* settings; TLS enforced toward
 *	the relay; and for each token file named in smtp_sasl_password_maps:
 *	it exists at that path inside the smtp chroot (queue_directory) when
 *	master.cf runs smtp chrooted, it is a valid token file, it is owned
 *	(it is mode 0600) by mail_owner, its directory is writable by
 *	mail_owner (the refresh renames a new file into it) and every parent
 *	directory can be traversed; the CA bundle the refresh uses and
 *	/etc/resolv.conf and /etc/hosts exist inside the chroot.
 *
 *	One line per check, "✓" or "✗"; below each "✗" the exact shell
 *	command that fixes it ("    fix: ...").  Exit 0 when all pass,
 *	EX_CONFIG otherwise.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

/* Utility library. */
#include <curl/curl.h>
#include <sasl/sasl.h>

/* Application-specific. */
#include "oa2_config.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "sao.h"

#define OK_MARK "\u2713"
#define NO_MARK "\u2717"

struct doc {
	const char *dir;	/* -c DIR */
	int failed;
	int checks;
	int chroot;
	char queue[1024];
	char owner[64];
	char group[64];
	uid_t uid;
	gid_t gid;
};

/* good, bad - one check line; bad() adds the fix */
static void
good(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
good(struct doc *d, const char *fmt, ...)
{
	va_list ap;

	d->checks++;
	printf(OK_MARK " ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
bad(struct doc *d, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
bad(struct doc *d, const char *fix, const char *fmt, ...)
{
	va_list ap;

	d->checks++;
	d->failed++;
	printf(NO_MARK " ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (fix != NULL && *fix)
		printf("    fix: %s\n", fix);
}

/* q - shell-quote s (single quotes) into a rotating static buffer */
static const char *
q(const char *s)
{
	static char bufs[8][1200];
	static int i;
	char *b = bufs[i++ % 8], *o = b;

	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/._-+:=@,") == strlen(s)) {
		snprintf(b, sizeof(bufs[0]), "%s", s);
		return b;
	}
	*o++ = '\'';
	for (; *s && o < b + sizeof(bufs[0]) - 6; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *s;
	}
	*o++ = '\'';
	*o = 0;
	return b;
}

/* postconf - run postconf -c DIR ARGS..., first line of output into buf */
static int
postconf(const struct doc *d, char *buf, size_t size, const char *a1,
    const char *a2)
{
	const char *argv[8];
	int p[2], n = 0, status;
	ssize_t r;
	size_t len = 0;
	pid_t pid;

	argv[n++] = "postconf";
	argv[n++] = "-c";
	argv[n++] = d->dir;
	argv[n++] = a1;
	if (a2 != NULL)
		argv[n++] = a2;
	argv[n] = NULL;
	buf[0] = 0;
	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(127);
		execvp("postconf", (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && len + 1 < size &&
	    (r = read(p[0], buf + len, size - len - 1)) > 0)
		len += (size_t)r;
	close(p[0]);
	buf[len] = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* param - postconf -h NAME */
static const char *
param(const struct doc *d, const char *name)
{
	static char bufs[4][4096];
	static int i;
	char *b = bufs[i++ % 4];

	if (postconf(d, b, sizeof(bufs[0]), "-h", name) < 0)
		b[0] = 0;
	return b;
}

/* env_from_import - VALUE of NAME=VALUE in import_environment */
static const char *
env_from_import(const struct doc *d, const char *name, char *buf, size_t size)
{
	const char *ie = param(d, "import_environment"), *p;
	size_t n = strlen(name);

	for (p = ie; (p = strstr(p, name)) != NULL; p++)
		if ((p == ie || p[-1] == ' ' || p[-1] == ',') && p[n] == '=') {
			snprintf(buf, size, "%.*s", (int)strcspn(p + n + 1, " ,"),
			    p + n + 1);
			return buf;
		}
	return NULL;
}

/* jail - the path the chrooted smtp client sees as path */
static void
jail(const struct doc *d, const char *path, char *buf, size_t size)
{
	if (d->chroot && path[0] == '/')
		snprintf(buf, size, "%s%s", d->queue, path);
	else
		snprintf(buf, size, "%s", path);
}

/* may_owner - mail_owner may do want (r 4, w 2, x 1) on st */
static int
may_owner(const struct doc *d, const struct stat *st, int want)
{
	int bits;

	if (st->st_uid == d->uid)
		bits = (st->st_mode >> 6) & 7;
	else if (st->st_gid == d->gid)
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

/* ---------------------------------------------------------------- checks */

static void
check_plugin(struct doc *d)
{
	char path[1024], fix[1200];
	const char *sp = env_from_import(d, "SASL_PATH", path, sizeof(path));
	const char **mechs;
	int xo = 0, r;

	if (sp != NULL)
		sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)sp);
	if ((r = sasl_client_init(NULL)) != SASL_OK) {
		bad(d, NULL, "libsasl2 does not start: %s", sasl_errstring(r, NULL, NULL));
		return;
	}
	if ((mechs = sasl_global_listmech()) != NULL)
		for (size_t i = 0; mechs[i] != NULL; i++)
			xo += strcasecmp(mechs[i], "XOAUTH2") == 0;
	if (xo == 0) {
		snprintf(fix, sizeof(fix), "make install (the plugin goes to "
		    "libsasl2's plugin directory), or: postconf -c %s -e "
		    "'import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ "
		    "LANG=C SASL_PATH=/path/to/plugin/dir'", q(d->dir));
		bad(d, fix, "libsasl2 finds no XOAUTH2 plugin in %s", sp ? sp :
		    "its default directory");
	} else if (xo > 1)
		bad(d, "apt-get remove sasl-xoauth2 libsasl2-modules-kdexoauth2",
		    "two plugins claim XOAUTH2 in %s: libsasl2 may pick the other "
		    "one", sp ? sp : "libsasl2's directory");
	else
		good(d, "libsasl2 loads one XOAUTH2 plugin from %s", sp ? sp :
		    "its default directory");
	sasl_client_done();
}

static void
check_settings(struct doc *d)
{
	const char *v;
	char fix[512];

	v = param(d, "smtp_sasl_auth_enable");
	if (strcasecmp(v, "yes") == 0)
		good(d, "smtp_sasl_auth_enable = yes");
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e smtp_sasl_auth_enable=yes",
		    q(d->dir));
		bad(d, fix, "smtp_sasl_auth_enable is \"%s\": the smtp client does "
		    "not authenticate", v);
	}
	v = param(d, "smtp_sasl_password_maps");
	if (*v)
		good(d, "smtp_sasl_password_maps = %s", v);
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_sasl_password_maps=texthash:/etc/postfix/sasl_passwd", q(d->dir));
		bad(d, fix, "smtp_sasl_password_maps is empty: no token file is "
		    "named for the relay");
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "smtp_sasl_tls_security_options" :
		    "smtp_sasl_security_options";

		v = param(d, name);
		if (strstr(v, "noactive") || strstr(v, "nodictionary") ||
		    strstr(v, "mutual_auth") || strstr(v, "forward_secrecy")) {
			snprintf(fix, sizeof(fix), "postconf -c %s -e '%s = noanonymous'",
			    q(d->dir), name);
			bad(d, fix, "%s = %s excludes bearer-token mechanisms", name, v);
		} else
			good(d, "%s = %s", name, *v ? v : "(default)");
	}
	v = param(d, "smtp_sasl_mechanism_filter");
	if (*v == 0)
		good(d, "smtp_sasl_mechanism_filter is empty (the server's list "
		    "decides; xoauth2 pins it)");
	else if (strcasestr(v, "xoauth2") || strcasestr(v, "oauthbearer"))
		good(d, "smtp_sasl_mechanism_filter = %s", v);
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_sasl_mechanism_filter=xoauth2", q(d->dir));
		bad(d, fix, "smtp_sasl_mechanism_filter = %s leaves out XOAUTH2 "
		    "and OAUTHBEARER", v);
	}
	v = param(d, "smtp_tls_security_level");
	if (strcmp(v, "encrypt") == 0 || strcmp(v, "secure") == 0 ||
	    strcmp(v, "verify") == 0 || strncmp(v, "dane", 4) == 0 ||
	    strcmp(v, "fingerprint") == 0)
		good(d, "smtp_tls_security_level = %s: TLS is enforced toward the "
		    "relay", v);
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_tls_security_level=encrypt", q(d->dir));
		bad(d, fix, "smtp_tls_security_level = %s: the bearer token could "
		    "go out without TLS", *v ? v : "(none)");
	}
}

/* map_source - the text file behind a map "type:path" */
static int
map_source(const char *map, char *buf, size_t size)
{
	const char *colon = strchr(map, ':');

	if (colon == NULL)
		return -1;
	if (strncmp(map, "texthash:", 9) && strncmp(map, "hash:", 5) &&
	    strncmp(map, "btree:", 6) && strncmp(map, "lmdb:", 5) &&
	    strncmp(map, "cdb:", 4) && strncmp(map, "dbm:", 4))
		return -1;
	snprintf(buf, size, "%s", colon + 1);
	return 0;
}

/* check_ca - the CA bundle the refresh uses exists in the jail */
static void
check_ca(struct doc *d, const struct oa2_token *tok, const struct oa2_config *cfg)
{
	struct oa2_settings set;
	const char *ca, *capath;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	char j[2048], fix[4096], dir[2048];
	struct stat st;

	oa2_settings_resolve(&set, tok, cfg);
	ca = set.ca_file;
	capath = set.ca_dir;
	if (ca == NULL && capath == NULL)
		ca = cv->cainfo;
	if (ca == NULL && capath == NULL && cv->capath != NULL)
		capath = cv->capath;
	if (ca == NULL) {
		jail(d, capath, j, sizeof(j));
		if (stat(j, &st) == 0 && S_ISDIR(st.st_mode))
			good(d, "CA directory %s is there (%s)", capath, j);
		else {
			snprintf(fix, sizeof(fix), "mkdir -p %s && cp -L %s/*.pem %s/",
			    q(j), q(capath), q(j));
			bad(d, fix, "CA directory %s is missing in the chroot (%s)",
			    capath, j);
		}
		return;
	}
	jail(d, ca, j, sizeof(j));
	if (stat(j, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 004))
		good(d, "CA bundle %s is there (%s)", ca, j);
	else if (stat(j, &st) == 0) {
		snprintf(fix, sizeof(fix), "chmod 644 %s", q(j));
		bad(d, fix, "CA bundle %s is not readable by %s", j, d->owner);
	} else {
		snprintf(dir, sizeof(dir), "%s", j);
		snprintf(fix, sizeof(fix), "mkdir -p %s && cp -L %s %s",
		    q(dirname(dir)), q(access(ca, R_OK) == 0 ? ca :
		    "/etc/ssl/certs/ca-certificates.crt"), q(j));
		bad(d, fix, "CA bundle %s is missing%s (%s): the token cannot be "
		    "refreshed%s", ca, d->chroot ? " in the chroot" : "", j,
		    d->chroot ? "; Debian's postfix start replaces the chroot's "
		    "etc/ssl/certs, so also list the bundle in chroot_extra_files "
		    "in /etc/default/postfix (sasl-oauth2-postfix(7))" : "");
	}
}

/* check_token - one token file named in the password map */
static void
check_token(struct doc *d, const char *path, const struct oa2_config *cfg)
{
	char j[2048], dir[2048], fix[4096], cur[2048];
	struct oa2_token tok = {0};
	struct oa2_error err;
	struct stat st, dst;
	const char *parent;

	if (path[0] != '/') {
		bad(d, NULL, "%s: the SASL password must be the absolute path of "
		    "a token file", path);
		return;
	}
	jail(d, path, j, sizeof(j));
	if (lstat(j, &st) < 0) {
		snprintf(dir, sizeof(dir), "%s", j);
		parent = dirname(dir);
		if (d->chroot && access(path, F_OK) == 0)
			snprintf(fix, sizeof(fix), "install -d -o %s -g %s -m 700 %s "
			    "&& cp -p %s %s && chown %s:%s %s", d->owner, d->group,
			    q(parent), q(path), q(j), d->owner, d->group, q(j));
		else
			snprintf(fix, sizeof(fix), "install -d -o %s -m 700 %s && "
			    "sasl-oauth2 authorize --owner %s ... %s", d->owner,
			    q(parent), d->owner, q(j));
		bad(d, fix, "token file %s is not %s (%s)%s", path, d->chroot ?
		    "inside the smtp chroot" : "there", j, d->chroot &&
		    access(path, F_OK) == 0 ? "; it exists outside the chroot, "
		    "where the smtp client cannot see it" : "");
		return;
	}
	good(d, "token file %s is there%s%s", path, d->chroot ? " in the chroot: " :
	    "", d->chroot ? j : "");
	if (st.st_uid != d->uid) {
		snprintf(fix, sizeof(fix), "chown %s:%s %s", d->owner, d->group,
		    q(j));
		bad(d, fix, "%s is owned by uid %u, not %s: the smtp client cannot "
		    "read or refresh it", j, (unsigned)st.st_uid, d->owner);
	} else if (!may_owner(d, &st, 6)) {
		snprintf(fix, sizeof(fix), "chmod 600 %s", q(j));
		bad(d, fix, "%s is not readable and writable by %s", j, d->owner);
	} else
		good(d, "%s is readable and writable by %s", j, d->owner);
	if (oa2_token_load(&tok, j, -1, NULL, &err) != OA2_OK) {
		snprintf(fix, sizeof(fix), "chmod 600 %s; sasl-oauth2 status %s",
		    q(j), q(j));
		bad(d, fix, "%s", err.msg);
	} else
		good(d, "%s is a valid token file", j);

	snprintf(dir, sizeof(dir), "%s", j);
	parent = dirname(dir);
	if (stat(parent, &dst) == 0 && may_owner(d, &dst, 3))
		good(d, "%s can replace files in %s (refresh by rename)", d->owner,
		    parent);
	else {
		snprintf(fix, sizeof(fix), "chown %s %s && chmod u+rwx %s", d->owner,
		    q(parent), q(parent));
		bad(d, fix, "%s cannot create files in %s: a refreshed token cannot "
		    "be stored", d->owner, parent);
	}
	/* Every parent must be traversable. */
	snprintf(cur, sizeof(cur), "%s", parent);
	while (strcmp(cur, "/") != 0 && strcmp(cur, ".") != 0) {
		char *slash;

		if (stat(cur, &dst) == 0 && !may_owner(d, &dst, 1)) {
			snprintf(fix, sizeof(fix), "chmod o+x %s", q(cur));
			bad(d, fix, "%s cannot enter %s", d->owner, cur);
		}
		if ((slash = strrchr(cur, '/')) == NULL)
			break;
		if (slash == cur)
			slash[1] = 0;
		else
			*slash = 0;
	}
	if (tok.root != NULL)
		check_ca(d, &tok, cfg);
	oa2_token_free(&tok);
}

static void
check_tokens(struct doc *d, const struct oa2_config *cfg)
{
	char maps[4096], *m, *save, src[1024], line[4096];
	int n = 0;

	snprintf(maps, sizeof(maps), "%s", param(d, "smtp_sasl_password_maps"));
	for (m = strtok_r(maps, " ,", &save); m != NULL; m = strtok_r(NULL, " ,", &save)) {
		FILE *f;

		if (map_source(m, src, sizeof(src)) < 0) {
			good(d, "%s: not a file map; its token files are not checked", m);
			continue;
		}
		if ((f = fopen(src, "r")) == NULL) {
			bad(d, NULL, "%s: cannot read %s: %s", m, src, strerror(errno));
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			char *k, *v, *pass, *s2;

			if ((k = strtok_r(line, " \t\r\n", &s2)) == NULL || *k == '#')
				continue;
			if ((v = strtok_r(NULL, " \t\r\n", &s2)) == NULL ||
			    (pass = strchr(v, ':')) == NULL)
				continue;
			n++;
			check_token(d, pass + 1, cfg);
		}
		fclose(f);
	}
	if (n == 0)
		bad(d, NULL, "no \"[relay]:port user:/path/to/token.json\" entry in "
		    "smtp_sasl_password_maps");
}

static void
check_chroot_files(struct doc *d)
{
	static const char *files[] = {"/etc/resolv.conf", "/etc/hosts"};
	char j[1200], fix[2600];

	if (!d->chroot)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		jail(d, files[i], j, sizeof(j));
		if (access(j, R_OK) == 0)
			good(d, "%s is in the chroot", files[i]);
		else {
			snprintf(fix, sizeof(fix), "mkdir -p %s/etc && cp -L %s %s",
			    q(d->queue), files[i], q(j));
			bad(d, fix, "%s is missing in the chroot (%s): the token "
			    "endpoint's name cannot be resolved", files[i], j);
		}
	}
}

int
cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{"postfix", no_argument, NULL, 256},
		{"config-dir", required_argument, NULL, 257},
		{NULL, 0, NULL, 0}
	};
	struct doc d = {.dir = "/etc/postfix"};
	struct oa2_config cfg;
	struct oa2_error err;
	struct passwd *pw;
	struct group *gr;
	char buf[1024], confpath[1024];
	const char *cp;
	int c, postfix = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 256: postfix = 1; break;
		case 257: d.dir = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (!postfix) {
		sao_warn("doctor checks Postfix only for now: add --postfix");
		return EX_USAGE;
	}
	if (postconf(&d, buf, sizeof(buf), "-h", "mail_version") < 0)
		sao_die(EX_CONFIG, "postconf -c %s does not work: is Postfix "
		    "installed and %s its configuration directory?", d.dir, d.dir);
	printf("Postfix %s, configuration %s\n", buf, d.dir);
	snprintf(d.owner, sizeof(d.owner), "%s", param(&d, "mail_owner"));
	if ((pw = getpwnam(d.owner)) == NULL)
		sao_die(EX_CONFIG, "mail_owner %s is not a user", d.owner);
	d.uid = pw->pw_uid;
	d.gid = pw->pw_gid;
	if ((gr = getgrgid(d.gid)) != NULL)
		snprintf(d.group, sizeof(d.group), "%s", gr->gr_name);
	else
		snprintf(d.group, sizeof(d.group), "%u", (unsigned)d.gid);
	snprintf(d.queue, sizeof(d.queue), "%s", param(&d, "queue_directory"));
	if (postconf(&d, buf, sizeof(buf), "-M", "smtp/unix") == 0 && buf[0]) {
		char f[8][256];
		int n = sscanf(buf, "%255s %255s %255s %255s %255s", f[0], f[1],
		    f[2], f[3], f[4]);

		/* "-" is the default: n since Postfix 3.0 */
		d.chroot = n == 5 && strcmp(f[4], "y") == 0;
	}
	printf("smtp runs %s, as %s\n", d.chroot ? "chrooted" : "without chroot",
	    d.owner);
	if (d.chroot)
		printf("  (chroot: %s)\n", d.queue);

	cp = env_from_import(&d, "SASL_OAUTH2_CONFIG", confpath, sizeof(confpath));
	oa2_config_init(&cfg);
	if (oa2_config_load(&cfg, cp ? cp : OA2_CONFIG_FILE, 0, &err) != OA2_OK) {
		char fix[1200];

		snprintf(fix, sizeof(fix), "sasl-oauth2 explain config; edit %s",
		    q(cp ? cp : OA2_CONFIG_FILE));
		bad(&d, fix, "%s", err.msg);
	}
	check_plugin(&d);
	check_settings(&d);
	check_tokens(&d, &cfg);
	check_chroot_files(&d);
	oa2_config_free(&cfg);
	if (d.failed) {
		printf("%d of %d checks failed: run the fix lines, then \"postfix -c "
		    "%s reload\" and this check again\n", d.failed, d.checks, d.dir);
		return EX_CONFIG;
	}
	printf("all %d checks pass\n", d.checks);
	return EX_OK;
}
