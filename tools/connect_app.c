/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	connect_app 3
 * SUMMARY
 *	sasl-oauth2 connect-app: a token file for an app-only grant
 * SYNOPSIS
 *	int	cmd_connect_app(argc, argv)
 * DESCRIPTION
 *	Writes a token file whose "grant" is client_credentials (Microsoft
 *	Entra with Exchange Online, or any provider: a client secret read
 *	from a file, or a private key and its certificate for a client
 *	assertion) or jwt_bearer (a Google service account key file with
 *	domain-wide delegation), for one mailbox (--user).  The file names
 *	the credential files, never a key.  Then it proves the file works
 *	by minting an access token the plugin's way (oa2_access_token(),
 *	forced); with --owner it does so in a child process running as that
 *	user, so that the key file's mode and owner are checked as the mail
 *	system will see them.
 * SECURITY
 *	The client secret comes from a file (never argv) and lives in a
 *	wiped buffer.  The token file is written 0600 (oa2_token_save()).
 * SEE ALSO
 *	sasl-oauth2(1) CONNECT-APP, oa2_app(3)
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */

#include <sys/stat.h>
#include <sys/wait.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Application-specific. */

#include "oa2_app.h"
#include "oa2_provider.h"
#include "oa2_refresh.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "sao.h"

struct ca {
	const char *file, *provider, *tenant, *token_url, *client_id;
	const char *secret_file, *client_auth, *key_file, *cert_file;
	const char *sa_file, *jwt_alg, *scope, *user, *ca_file, *owner;
	char   *secret;
	int	force;
	struct sao_chroot root;	/* --chroot, or the queue directory of a file under it */
	/* The paths as the file records them (inside the chroot); owned. */
	char   *key_in, *cert_in, *sa_in, *ca_in;
};

enum {
	O_PROVIDER = 256, O_TENANT, O_TOKEN_URL, O_CLIENT_ID, O_SECRET_FILE,
	O_CLIENT_AUTH, O_KEY_FILE, O_CERT_FILE, O_SA_FILE, O_JWT_ALG, O_SCOPE,
	O_USER, O_CA_FILE, O_OWNER, O_CHROOT
};

static const struct option opts[] = {
	{"force", no_argument, NULL, 'f'},
	{"quiet", no_argument, NULL, 'q'},
	{"provider", required_argument, NULL, O_PROVIDER},
	{"tenant", required_argument, NULL, O_TENANT},
	{"token-url", required_argument, NULL, O_TOKEN_URL},
	{"client-id", required_argument, NULL, O_CLIENT_ID},
	{"client-secret-file", required_argument, NULL, O_SECRET_FILE},
	{"client-auth", required_argument, NULL, O_CLIENT_AUTH},
	{"client-key-file", required_argument, NULL, O_KEY_FILE},
	{"client-cert-file", required_argument, NULL, O_CERT_FILE},
	{"service-account-file", required_argument, NULL, O_SA_FILE},
	{"jwt-alg", required_argument, NULL, O_JWT_ALG},
	{"scope", required_argument, NULL, O_SCOPE},
	{"user", required_argument, NULL, O_USER},
	{"ca-file", required_argument, NULL, O_CA_FILE},
	{"owner", required_argument, NULL, O_OWNER},
	{"chroot", required_argument, NULL, O_CHROOT},
	{NULL, 0, NULL, 0}
};

/* absolute - credential paths are used by the plugin elsewhere: no relative ones */
static void
absolute(const char *opt, const char *path)
{
	if (path != NULL && path[0] != '/')
		sao_die(EX_USAGE, "--%s %s: give an absolute path (the mail system "
		    "reads it from another directory)", opt, path);
}

/* check_args - what each grant needs, each missing piece named */
static void
check_args(struct ca *a)
{
	const struct oa2_provider *p = oa2_provider_find(a->provider);

	if (a->user == NULL)
		sao_die(EX_USAGE, "connect-app: --user MAILBOX is required: the "
		    "mailbox the access tokens are for (the SASL user)");
	if (a->provider != NULL && p == NULL)
		sao_die(EX_USAGE, "--provider %s: use one of %s, or --token-url",
		    a->provider, oa2_provider_names());
	if (a->sa_file != NULL && (a->key_file != NULL || a->secret_file != NULL))
		sao_die(EX_USAGE, "connect-app: --service-account-file holds the "
		    "key: leave out --client-key-file and --client-secret-file");
	if (a->sa_file == NULL) {
		if (a->client_id == NULL)
			sao_die(EX_USAGE, "connect-app: --client-id is required "
			    "(the application's client ID)");
		if ((a->key_file == NULL) == (a->secret_file == NULL))
			sao_die(EX_USAGE, "connect-app: give one credential: "
			    "--client-secret-file FILE or --client-key-file FILE "
			    "(with --client-cert-file for Microsoft)");
		if (a->token_url == NULL && p == NULL)
			sao_die(EX_USAGE, "connect-app: --provider or --token-url is "
			    "required");
		if (p != NULL && p->has_tenant && (a->tenant == NULL ||
		    strcmp(a->tenant, "common") == 0 ||
		    strcmp(a->tenant, "organizations") == 0 ||
		    strcmp(a->tenant, "consumers") == 0))
			sao_die(EX_USAGE, "connect-app: --tenant is required for "
			    "app-only Microsoft tokens: the tenant ID or domain, "
			    "never common");
	}
	if (a->cert_file != NULL && a->key_file == NULL)
		sao_die(EX_USAGE, "connect-app: --client-cert-file goes with "
		    "--client-key-file");
	absolute("client-key-file", a->key_file);
	absolute("client-cert-file", a->cert_file);
	absolute("service-account-file", a->sa_file);
}

/*
 * paths - the credential and CA paths the file records.  With --chroot
 * DIR they are given outside, under DIR, and recorded inside; the token
 * file must lie under DIR.  Without it they are recorded as given, and
 * one under Postfix's queue directory, with the file under it too, is
 * refused: --chroot is what was meant.
 */
static void
paths(struct ca *a, const char *chroot_dir)
{
	struct {
		const char *opt, *path;
		char  **in;
		enum sao_chroot_kind kind;
	} p[] = {
		{"client-key-file", a->key_file, &a->key_in, SAO_CHROOT_KEY},
		{"client-cert-file", a->cert_file, &a->cert_in, SAO_CHROOT_CERT},
		{"service-account-file", a->sa_file, &a->sa_in, SAO_CHROOT_KEY},
		{"ca-file", a->ca_file, &a->ca_in, SAO_CHROOT_CA},
	};
	char	queue[4096];
	int	q = 0;

	if (chroot_dir != NULL) {
		sao_chroot_set(&a->root, chroot_dir);
		sao_chroot_file(&a->root, a->file, a->owner);
	} else if ((q = sao_queue_of(a->file, queue, sizeof(queue))) != 0)
		snprintf(a->root.dir, sizeof(a->root.dir), "%s", queue);
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		if (p[i].path == NULL)
			continue;
		if (q)
			sao_chroot_not_under(queue, p[i].opt, p[i].path);
		*p[i].in = a->root.given ? sao_chroot_in(&a->root, p[i].opt,
		    p[i].path, p[i].kind) : oa2_strdup(p[i].path);
		if (*p[i].in == NULL)
			sao_die(EX_OSERR, "out of memory");
	}
}

/* write_file - the token file */
static enum oa2_status
write_file(const struct ca *a, struct oa2_error *err)
{
	struct oa2_token tok;
	enum oa2_status st;
	const struct sao_member m[] = {
		{OA2_S_GRANT, a->sa_file ? "jwt_bearer" : "client_credentials"},
		{OA2_S_USER, a->user},
		{OA2_S_PROVIDER, a->provider},
		{OA2_S_TENANT, a->tenant},
		{OA2_S_TOKEN_ENDPOINT, a->token_url},
		{OA2_S_CLIENT_ID, a->client_id},
		{OA2_S_CLIENT_SECRET, a->secret},
		{OA2_S_CLIENT_AUTH, a->secret != NULL ? a->client_auth : NULL},
		{OA2_S_CLIENT_KEY_FILE, a->key_in},
		{OA2_S_CLIENT_CERT_FILE, a->cert_in},
		{OA2_S_SERVICE_ACCOUNT_FILE, a->sa_in},
		{OA2_S_JWT_ALG, a->jwt_alg},
		{OA2_S_SCOPE, a->scope},
		{OA2_S_CA_BUNDLE_FILE, a->ca_in},
	};

	if ((st = oa2_token_new(&tok, err)) != OA2_OK)
		return st;
	return sao_token_write(&tok, m, sizeof(m) / sizeof(m[0]), a->file, err);
}

/* verify - mint one access token the plugin's way; the exit code */
static int
verify(const struct ca *a, const struct oa2_config *cfg)
{
	struct oa2_refresh_opts ro = {0};
	struct oa2_refresh_info info;
	struct oa2_token tok;
	struct oa2_error err;
	char	when[64];

	ro.cfg = cfg;
	ro.force = 1;
	ro.root = a->root.dir[0] ? a->root.dir : NULL;
	if (oa2_access_token(a->file, &ro, &tok, &info, &err) != OA2_OK) {
		sao_warn("%s was written, but no access token could be minted%s%s",
		    a->file, a->owner ? " as " : "", a->owner ? a->owner : "");
		return sao_report(&err);
	}
	oa2_token_free(&tok);
	sao_fmt_time(info.expires_at, when, sizeof(when));
	sao_info("done: %s works for %s (app-only grant %s%s%s); access token "
	    "valid until %s", a->file, a->user, a->sa_file ? "jwt_bearer" :
	    "client_credentials", a->owner ? ", checked as " : "",
	    a->owner ? a->owner : "", when);
	if (!sao_quiet) {
		fprintf(stderr, "next: sasl-oauth2 test %s --smtp HOST:PORT\n",
		    a->file);
		if (a->root.given)
			fprintf(stderr, "the password in smtp_sasl_password_maps: "
			    "%s\n", a->root.file_in);
	}
	return EX_OK;
}

struct verify_args {
	const struct ca *a;
	const struct oa2_config *cfg;
};

/* verify_child - verify() in the child that became --owner */
static int
verify_child(void *arg, const char *why)
{
	const struct verify_args *v = arg;

	if (why != NULL) {
		sao_warn("--owner %s: cannot become that user to check the "
		    "file as the mail system will", v->a->owner);
		return EX_NOPERM;
	}
	return verify(v->a, v->cfg);
}

/* verify_as_owner - verify() in a child running as --owner */
static int
verify_as_owner(const struct ca *a, const struct oa2_config *cfg)
{
	struct verify_args v = {a, cfg};
	char	user[256];
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
	int	status;

	if (sao_owner_spec(a->owner, user, sizeof(user), &uid, &gid) < 0)
		return EX_NOPERM;
	if ((pid = sao_fork_as(user, uid, gid, verify_child, &v)) < 0)
		sao_die(EX_OSERR, "fork: %m");
	if (sao_wait(pid, &status) < 0)
		return EX_SOFTWARE;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

/* cmd_connect_app - sasl-oauth2 connect-app [options] file */
int
cmd_connect_app(int argc, char **argv)
{
	struct ca a = {0};
	struct oa2_config cfg;
	struct oa2_error err;
	struct stat sb;
	struct sao_mailsys ms;
	const char *chroot_dir = NULL;
	int	c, ex;

	while ((c = getopt_long(argc, argv, "fq", opts, NULL)) != -1) {
		switch (c) {
		case 'f': a.force = 1; break;
		case 'q': sao_quiet = 1; break;
		case O_PROVIDER: a.provider = optarg; break;
		case O_TENANT: a.tenant = optarg; break;
		case O_TOKEN_URL: a.token_url = optarg; break;
		case O_CLIENT_ID: a.client_id = optarg; break;
		case O_SECRET_FILE: a.secret_file = optarg; break;
		case O_CLIENT_AUTH: a.client_auth = optarg; break;
		case O_KEY_FILE: a.key_file = optarg; break;
		case O_CERT_FILE: a.cert_file = optarg; break;
		case O_SA_FILE: a.sa_file = optarg; break;
		case O_JWT_ALG: a.jwt_alg = optarg; break;
		case O_SCOPE: a.scope = optarg; break;
		case O_USER: a.user = optarg; break;
		case O_CA_FILE: a.ca_file = optarg; break;
		case O_OWNER: a.owner = optarg; break;
		case O_CHROOT: chroot_dir = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 1)
		usage();
	a.file = argv[optind];
	check_args(&a);
	if (a.client_auth != NULL && strcmp(a.client_auth, "post") != 0 &&
	    strcmp(a.client_auth, "basic") != 0)
		sao_die(EX_USAGE, "--client-auth %s: use post or basic",
		    a.client_auth);
	if (lstat(a.file, &sb) == 0 && !a.force)
		sao_die(EX_CANTCREAT, "%s exists: --force replaces it (an app-only "
		    "file holds no refresh token, nothing is lost)", a.file);
	paths(&a, chroot_dir);
	/* As the mail system will see it: the user, the chroot. */
	if ((ex = sao_mailsys_init(&ms, a.file, &a.owner)) != EX_OK)
		return ex;
	if (a.root.given)
		snprintf(ms.root, sizeof(ms.root), "%s", a.root.dir);
	if ((ex = sao_mailsys_before(&ms, a.ca_in)) != EX_OK)
		return ex;
	if (sao_load_config(&cfg) < 0)
		return EX_CONFIG;
	if (a.secret_file != NULL &&
	    (a.secret = sao_read_secret_file(a.secret_file)) == NULL) {
		oa2_config_free(&cfg);
		return EX_NOINPUT;
	}
	if (write_file(&a, &err) != OA2_OK) {
		ex = sao_report(&err);
		goto out;
	}
	if (a.owner != NULL && sao_chown_spec(a.file, a.owner) < 0) {
		ex = EX_NOPERM;
		goto out;
	}
	sao_info("wrote %s (mode 0600); verifying it: one token request", a.file);
	ex = a.owner != NULL ? verify_as_owner(&a, &cfg) : verify(&a, &cfg);
out:
	oa2_free(a.key_in);
	oa2_free(a.cert_in);
	oa2_free(a.sa_in);
	oa2_free(a.ca_in);
	oa2_free_secret(&a.secret);
	oa2_config_free(&cfg);
	return ex;
}
