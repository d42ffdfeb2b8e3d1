/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor 3
 * SUMMARY
 *	sasl-oauth2 doctor --postfix: check a Postfix + plugin setup
 * SYNOPSIS
 *	#include "doctor.h"
 *
 *	int cmd_doctor(int argc, char **argv);
 * DESCRIPTION
 *	cmd_doctor() reads the Postfix configuration with postconf(1)
 *	(-c DIR, values with $names expanded: -x; master.cf: -M) and checks
 *	what makes mail fail, in this order:
 *
 *	the global configuration file the smtp client reads (SASL_OAUTH2_CONFIG
 *	in import_environment, else the default) parses;
 *	doctor-files.c: each plugin in libsasl2's plugin directory loads in a
 *	child process (a plugin that crashes is named, doctor goes on), exactly
 *	one of them claims XOAUTH2;
 *	doctor-relay.c: the smtp_sasl_* settings, TLS toward each relay
 *	(smtp_tls_security_level and smtp_tls_policy_maps), and for each relay
 *	(relayhost, transport_maps, sender_dependent_relayhost_maps) that
 *	smtp_sasl_password_maps answers the key Postfix looks up, from a map
 *	that is postmap'ed and newer than its source;
 *	doctor-files.c: each token file named in the maps as the smtp client
 *	sees it (inside the chroot, as mail_owner), the CA bundle its refresh
 *	uses, and /etc/resolv.conf and /etc/hosts inside the chroot.
 *
 *	One line per check, "✓" (passes) or "✗" (fails); below each "✗" the
 *	shell command that fixes it ("    fix: ...").  Standard output is
 *	line-buffered, so piped output is complete up to the last check even
 *	if something goes wrong later.  Exit 0 when all pass, EX_CONFIG (78)
 *	when a check fails or Postfix's configuration cannot be read,
 *	EX_USAGE (64) for a bad command line.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_config.h"
#include "doctor.h"
#include "sao.h"

#define OK_MARK "\u2713"
#define NO_MARK "\u2717"

/* doc_line - one check line with its mark */
static void
doc_line(const char *mark, const char *fmt, va_list ap)
{
	fputs(mark, stdout);
	putchar(' ');
	vprintf(fmt, ap);
	putchar('\n');
}

void
doc_good(struct doc *d, const char *fmt, ...)
{
	va_list ap;

	d->checks++;
	va_start(ap, fmt);
	doc_line(OK_MARK, fmt, ap);
	va_end(ap);
}

void
doc_bad(struct doc *d, const char *fix, const char *fmt, ...)
{
	va_list ap;

	d->checks++;
	d->failed++;
	va_start(ap, fmt);
	doc_line(NO_MARK, fmt, ap);
	va_end(ap);
	if (fix != NULL && *fix)
		printf("    fix: %s\n", fix);
}

const char *
doc_q(const char *s)
{
	static char bufs[8][1200];
	static int i;
	char *b = bufs[i++ % 8], *o = b;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
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

int
doc_run(const char *const *argv, char *buf, size_t size)
{
	int p[2], status, devnull;
	ssize_t r;
	size_t len = 0;
	pid_t pid;
	char drain[512];

	buf[0] = 0;
	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
			dup2(devnull, 2);
			dup2(devnull, 0);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	while ((r = read(p[0], len + 1 < size ? buf + len : drain,
	    len + 1 < size ? size - len - 1 : sizeof(drain))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (len + 1 < size)
			len += (size_t)r;
	}
	close(p[0]);
	buf[len] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return -1;
	return WEXITSTATUS(status);
}

/* postconf - postconf -c DIR A1 [A2]: first line of its output into buf */
static int
postconf(const struct doc *d, char *buf, size_t size, const char *a1,
    const char *a2)
{
	const char *argv[] = {"postconf", "-c", d->dir, a1, a2, NULL};

	if (doc_run(argv, buf, size) != 0)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The parameters doctor reads, fetched with one postconf run. */
static const char *const params[] = {
	"mail_version", "mail_owner", "queue_directory", "import_environment",
	"smtp_sasl_auth_enable", "smtp_sasl_password_maps",
	"smtp_sasl_security_options", "smtp_sasl_tls_security_options",
	"smtp_sasl_mechanism_filter", "smtp_tls_security_level",
	"smtp_enforce_tls", "smtp_tls_wrappermode", "smtp_tls_policy_maps",
	"relayhost", "default_transport", "transport_maps",
	"sender_dependent_relayhost_maps", "smtp_sender_dependent_authentication",
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))
static char param_text[65536];
static const char *param_value[NPARAMS];

/* load_params - postconf -c DIR -x NAME...: every value, $names expanded */
static int
load_params(const struct doc *d)
{
	const char *argv[NPARAMS + 5];
	char *line, *save, *eq;
	size_t n = 0;

	argv[n++] = "postconf";
	argv[n++] = "-c";
	argv[n++] = d->dir;
	argv[n++] = "-x";
	for (size_t i = 0; i < NPARAMS; i++)
		argv[n++] = params[i];
	argv[n] = NULL;
	if (doc_run(argv, param_text, sizeof(param_text)) != 0)
		return -1;
	for (line = strtok_r(param_text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strstr(line, " =")) == NULL)
			continue;
		*eq = 0;
		eq += 2;
		eq += *eq == ' ';
		for (size_t i = 0; i < NPARAMS; i++)
			if (strcmp(line, params[i]) == 0)
				param_value[i] = eq;
	}
	return param_value[0] != NULL && *param_value[0] ? 0 : -1;
}

const char *
doc_param(const struct doc *d, const char *name)
{
	static char bufs[4][4096];
	static int i;
	char *b;

	for (size_t k = 0; k < NPARAMS; k++)
		if (strcmp(name, params[k]) == 0)
			return param_value[k] ? param_value[k] : "";
	b = bufs[i++ % 4];
	if (postconf(d, b, sizeof(bufs[0]), "-xh", name) < 0)
		b[0] = 0;
	return b;
}

int
doc_postmap_q(const struct doc *d, const char *key, const char *map,
    char *buf, size_t size)
{
	const char *argv[] = {"postmap", "-c", d->dir, "-q", key, map, NULL};
	int r = doc_run(argv, buf, size);

	buf[strcspn(buf, "\n")] = 0;
	return r == 0 ? 0 : r == 1 ? 1 : -1;
}

const char *
doc_env_import(const struct doc *d, const char *name, char *buf, size_t size)
{
	const char *ie = doc_param(d, "import_environment");
	char w[1024];
	size_t n = strlen(name);

	while (doc_next_word(&ie, w, sizeof(w)))
		if (strncmp(w, name, n) == 0 && w[n] == '=') {
			snprintf(buf, size, "%s", w + n + 1);
			return buf;
		}
	return NULL;
}

void
doc_jail(const struct doc *d, const char *path, char *buf, size_t size)
{
	if (d->chroot && path[0] == '/')
		snprintf(buf, size, "%s%s", d->queue, path);
	else
		snprintf(buf, size, "%s", path);
}

/* check_config - the global configuration the smtp client reads parses */
static void
check_config(struct doc *d, struct oa2_config *cfg)
{
	char confpath[1024], fix[1400];
	const char *cp = doc_env_import(d, "SASL_OAUTH2_CONFIG", confpath,
	    sizeof(confpath));
	struct oa2_error err;

	if (cp == NULL || *cp == 0)
		cp = OA2_CONFIG_FILE;
	if (oa2_config_load(cfg, cp, 0, &err) != OA2_OK) {
		snprintf(fix, sizeof(fix), "sasl-oauth2 explain config; edit %s",
		    doc_q(cp));
		doc_bad(d, fix, "%s", err.msg);
	} else if (access(cp, F_OK) == 0)
		doc_good(d, "%s parses", cp);
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
	const char *mc = getenv("MAIL_CONFIG");
	struct oa2_config cfg;
	struct passwd *pw;
	struct group *gr;
	char buf[1024];
	int c, postfix = 0;

	/* Piped output appears line by line, whatever happens later. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* As postconf(1) and postfix(1): MAIL_CONFIG names the instance. */
	if (mc != NULL && *mc == '/')
		d.dir = mc;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 256: postfix = 1; break;
		case 'c':
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
	if (load_params(&d) < 0)
		sao_die(EX_CONFIG, "postconf -c %s does not work: is Postfix "
		    "installed and %s its configuration directory (main.cf)? "
		    "Name it with --config-dir DIR", d.dir, d.dir);
	printf("Postfix %s, configuration %s\n", doc_param(&d, "mail_version"),
	    d.dir);
	snprintf(d.owner, sizeof(d.owner), "%s", doc_param(&d, "mail_owner"));
	if ((pw = getpwnam(d.owner)) == NULL)
		sao_die(EX_CONFIG, "mail_owner \"%s\" in %s/main.cf is not a user: "
		    "set it to the user Postfix runs as (postconf -c %s -e "
		    "mail_owner=postfix)", d.owner, d.dir, doc_q(d.dir));
	d.uid = pw->pw_uid;
	d.gid = pw->pw_gid;
	if ((gr = getgrgid(d.gid)) != NULL)
		snprintf(d.group, sizeof(d.group), "%s", gr->gr_name);
	else
		snprintf(d.group, sizeof(d.group), "%u", (unsigned)d.gid);
	snprintf(d.queue, sizeof(d.queue), "%s", doc_param(&d, "queue_directory"));
	if (postconf(&d, buf, sizeof(buf), "-M", "smtp/unix") == 0 && buf[0]) {
		char f[5][256];
		int n = sscanf(buf, "%255s %255s %255s %255s %255s", f[0], f[1],
		    f[2], f[3], f[4]);

		/* "-" is the default: n since Postfix 3.0 */
		d.chroot = n == 5 && strcmp(f[4], "y") == 0;
	}
	printf("smtp runs %s, as %s\n", d.chroot ? "chrooted" : "without chroot",
	    d.owner);
	if (d.chroot)
		printf("  (chroot: %s)\n", d.queue);

	oa2_config_init(&cfg);
	d.cfg = &cfg;
	check_config(&d, &cfg);
	doc_check_plugins(&d);
	doc_check_settings(&d);
	doc_check_relays(&d);
	doc_check_tokens(&d);
	doc_check_chroot_files(&d);
	oa2_config_free(&cfg);
	if (d.failed) {
		printf("%d of %d checks failed: run the fix lines, then \"postfix -c "
		    "%s reload\" and this check again\n", d.failed, d.checks, d.dir);
		return EX_CONFIG;
	}
	printf("all %d checks pass\n", d.checks);
	return EX_OK;
}
