/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor-app 3
 * SUMMARY
 *	sasl-oauth2 doctor: an app-only token file's credential files
 * SYNOPSIS
 *	#include "doctor.h"
 *
 *	void doc_check_app_files(struct doc *d, const struct oa2_token *tok,
 *	    const char *tokpath);
 * DESCRIPTION
 *	doc_check_app_files() checks the credential files an app-only token
 *	file (grant client_credentials or jwt_bearer) names, as the smtp
 *	client will open them: client_key_file and service_account_file (a
 *	private key) and client_cert_file.  Each must be inside the chroot
 *	at the path the token file names (when smtp is chrooted), a regular
 *	file (the plugin refuses a symbolic link), readable by mail_owner
 *	(checked in a child running as mail_owner, every parent directory
 *	too); a key must moreover be owned by mail_owner with mode 0600 or
 *	stricter, as the plugin requires.  Then the contents: a private key
 *	in PEM form that OpenSSL reads, a certificate that belongs to it, a
 *	service account file that is a Google service account JSON key
 *	with a key that parses.
 *
 *	Each problem is one "✗" line naming the file and the token file's
 *	field, with the command that fixes it.  A key found outside the
 *	chroot is moved in, never copied: a copy left behind is one more
 *	place the key can leak from.  No message quotes a key.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_app.h"
#include "oa2_jwt.h"
#include "oa2_settings.h"
#include "oa2_tokfile.h"
#include "doctor.h"

/* One credential file of the token file. */
struct cred {
	const char *field;	/* the token file's member */
	const char *path;	/* as the smtp client sees it */
	int	secret;		/* a private key: owner and mode 0600 */
	const char *what;	/* what to install when it is missing */
	char	jail[2048];	/* from outside */
};

/* install_fix - the install command that puts a new file at c->jail */
static void
install_fix(const struct doc *d, const struct cred *c, char *fix,
    size_t size)
{
	snprintf(fix, size, "install -D -o %s -g %s -m %s %s %s", d->owner,
	    d->group, c->secret ? "600" : "644", c->what, doc_q(c->jail));
}

/* place - where the file is: 0 a regular file at c->jail, -1 reported */
static int
place(struct doc *d, const char *tokpath, struct cred *c, struct stat *st)
{
	char fix[4096], dir[2048], real[PATH_MAX];

	if (c->path[0] != '/') {
		doc_bad(d, "write the absolute path (as seen inside the smtp "
		    "chroot) in the token file, or run sasl-oauth2 connect-app "
		    "--force again", "%s \"%s\" %s is not an absolute path",
		    tokpath, c->field, c->path);
		return -1;
	}
	if (lstat(c->jail, st) < 0) {
		snprintf(dir, sizeof(dir), "%s", c->jail);
		if (d->chroot && lstat(c->path, st) == 0 && S_ISREG(st->st_mode)) {
			/* Move, never copy: a copy is one more place to leak from. */
			snprintf(fix, sizeof(fix), "mkdir -p %s && mv %s %s && "
			    "chown %s:%s %s && chmod %s %s", doc_q(dirname(dir)),
			    doc_q(c->path), doc_q(c->jail), d->owner, d->group,
			    doc_q(c->jail), c->secret ? "600" : "644",
			    doc_q(c->jail));
			doc_bad(d, fix, "%s \"%s\" %s is not inside the smtp chroot "
			    "(%s); it exists outside, where the smtp client cannot "
			    "see it: move it in", tokpath, c->field, c->path,
			    c->jail);
		} else {
			install_fix(d, c, fix, sizeof(fix));
			doc_bad(d, fix, "%s \"%s\" %s is missing%s (%s): no access "
			    "token can be had", tokpath, c->field, c->path,
			    d->chroot ? " in the chroot" : "", c->jail);
		}
		return -1;
	}
	if (S_ISLNK(st->st_mode)) {
		if (realpath(c->jail, real) != NULL && stat(real, st) == 0 &&
		    S_ISREG(st->st_mode))
			snprintf(fix, sizeof(fix), "rm %s && mv %s %s",
			    doc_q(c->jail), doc_q(real), doc_q(c->jail));
		else {
			install_fix(d, c, fix, sizeof(fix));
			snprintf(fix + strlen(fix), sizeof(fix) - strlen(fix),
			    " (after rm %s)", doc_q(c->jail));
		}
		doc_bad(d, fix, "%s \"%s\" %s is a symbolic link: the plugin opens "
		    "only the file itself", tokpath, c->field, c->jail);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		install_fix(d, c, fix, sizeof(fix));
		doc_bad(d, fix, "%s \"%s\" %s is not a regular file", tokpath,
		    c->field, c->jail);
		return -1;
	}
	return 0;
}

/* access_ok - owner, mode and mail_owner's access; 0 when all is well */
static int
access_ok(struct doc *d, const char *tokpath, const struct cred *c,
    const struct stat *st)
{
	char fix[4096], dir[2048];
	int bad = 0;

	if (c->secret && st->st_uid != d->uid) {
		snprintf(fix, sizeof(fix), "chown %s:%s %s", d->owner, d->group,
		    doc_q(c->jail));
		doc_bad(d, fix, "%s \"%s\" %s is owned by uid %u, not %s: the "
		    "plugin uses only a key its own user owns", tokpath, c->field,
		    c->jail, (unsigned)st->st_uid, d->owner);
		bad = 1;
	}
	if (c->secret && (st->st_mode & 077)) {
		snprintf(fix, sizeof(fix), "chmod 600 %s", doc_q(c->jail));
		doc_bad(d, fix, "%s \"%s\" %s has mode %03o: others can read the "
		    "key, and the plugin refuses it", tokpath, c->field, c->jail,
		    (unsigned)(st->st_mode & 0777));
		bad = 1;
	}
	snprintf(dir, sizeof(dir), "%s", c->jail);
	if (doc_check_parents(d, dirname(dir)) < 0)
		return -1;
	if (!bad && doc_as_owner(d, c->jail, R_OK) != 0) {
		if (c->secret)
			snprintf(fix, sizeof(fix), "chown %s:%s %s && chmod 600 %s",
			    d->owner, d->group, doc_q(c->jail), doc_q(c->jail));
		else
			snprintf(fix, sizeof(fix), "chmod 644 %s", doc_q(c->jail));
		doc_bad(d, fix, "%s \"%s\": %s cannot read %s", tokpath, c->field,
		    d->owner, c->jail);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* key_fix - what to do about a key whose contents do not serve */
static void
key_fix(const struct doc *d, const struct cred *c, char *fix, size_t size)
{
	if (strcmp(c->field, OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE)) == 0)
		snprintf(fix, size, "download a new JSON key (Google Cloud console "
		    "> IAM & Admin > Service accounts > the account > Keys > Add "
		    "key > JSON), then: install -o %s -g %s -m 600 KEY.json %s",
		    d->owner, d->group, doc_q(c->jail));
	else if (strcmp(c->field, OA2_SETTING_NAME(OA2_S_CLIENT_CERT_FILE)) == 0)
		snprintf(fix, size, "install -o %s -g %s -m 644 CERT.pem %s (the "
		    "certificate uploaded for the app with this key)", d->owner,
		    d->group, doc_q(c->jail));
	else
		snprintf(fix, size, "install -o %s -g %s -m 600 KEY.pem %s (the "
		    "app's unencrypted PEM private key; an encrypted one: openssl "
		    "pkey -in KEY -out KEY.pem)", d->owner, d->group,
		    doc_q(c->jail));
}

/* contents - the key parses (with its certificate); 0 when it does */
static int
contents(struct doc *d, const struct oa2_settings *s, const struct cred *c,
    const struct cred *cert)
{
	struct oa2_buf data, cb = {0};
	struct oa2_jwt_key k;
	struct oa2_sa sa = {0};
	struct oa2_error err;
	enum oa2_jwt_alg alg = OA2_JWT_AUTO;
	enum oa2_status st;
	char fix[4096];
	const struct cred *who = c;
	int sa_file = strcmp(c->field,
	    OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE)) == 0;

	if (oa2_app_read_file(c->jail, c->field, 0, &data, &err) != OA2_OK) {
		key_fix(d, c, fix, sizeof(fix));
		doc_bad(d, fix, "%s", err.msg);
		return -1;
	}
	if (sa_file) {
		st = oa2_app_sa_parse(data.data, data.len, c->jail, &sa, &err);
		if (st == OA2_OK)
			st = oa2_jwt_key_load(&k, sa.private_key,
			    strlen(sa.private_key), NULL, 0, OA2_JWT_AUTO, c->jail,
			    &err);
		oa2_app_sa_free(&sa);
	} else {
		if (oa2_jwt_alg_parse(s->jwt_alg, &alg) < 0)
			alg = OA2_JWT_AUTO;	/* the token file check names it */
		st = oa2_jwt_key_load(&k, data.data, data.len, NULL, 0, alg,
		    c->jail, &err);
		if (st == OA2_OK && cert != NULL) {
			oa2_jwt_key_free(&k);
			who = cert;
			if ((st = oa2_app_read_file(cert->jail, cert->field, 0, &cb,
			    &err)) == OA2_OK) {
				st = oa2_jwt_key_load(&k, data.data, data.len, cb.data,
				    cb.len, alg, cert->jail, &err);
				oa2_buf_free(&cb);
			}
		}
	}
	oa2_buf_free(&data);
	if (st != OA2_OK) {
		key_fix(d, who, fix, sizeof(fix));
		doc_bad(d, fix, "\"%s\" %s", who->field, err.msg);
		return -1;
	}
	doc_good(d, "\"%s\" %s holds %s (%s%s)", c->field, c->jail,
	    sa_file ? "a service account key" : "a private key",
	    oa2_jwt_alg_name(k.alg), cert != NULL ? "; the certificate fits it" :
	    "");
	oa2_jwt_key_free(&k);
	return 0;
}

void
doc_check_app_files(struct doc *d, const struct oa2_token *tok,
    const char *tokpath)
{
	struct oa2_settings s;
	struct cred c[3];
	struct stat st;
	int n = 0, ok[3] = {0}, key = -1, cert = -1;

	oa2_settings_resolve(&s, tok, d->cfg);
	if (s.grant == OA2_GRANT_REFRESH)
		return;
	if (s.service_account_file != NULL)
		c[n++] = (struct cred){OA2_SETTING_NAME(OA2_S_SERVICE_ACCOUNT_FILE),
		    s.service_account_file, 1, "KEY.json", ""};
	if (s.client_key_file != NULL && s.service_account_file == NULL) {
		key = n;
		c[n++] = (struct cred){OA2_SETTING_NAME(OA2_S_CLIENT_KEY_FILE),
		    s.client_key_file, 1, "KEY.pem", ""};
		if (s.client_cert_file != NULL) {
			cert = n;
			c[n++] = (struct cred){OA2_SETTING_NAME(OA2_S_CLIENT_CERT_FILE),
			    s.client_cert_file, 0, "CERT.pem", ""};
		}
	}
	if (n == 0) {
		if (s.grant == OA2_GRANT_CLIENT_CREDENTIALS && s.client_secret)
			doc_good(d, "%s: grant client_credentials with the client "
			    "secret in the token file itself", tokpath);
		else
			doc_bad(d, "sasl-oauth2 connect-app --force ... (it writes "
			    "the credential's path)", "%s: grant %s names no "
			    "credential file (\"%s\")", tokpath,
			    oa2_grant_kind_name(s.grant), s.grant ==
			    OA2_GRANT_JWT_BEARER ? "service_account_file" :
			    "client_key_file");
		return;
	}
	for (int i = 0; i < n; i++) {
		doc_jail(d, c[i].path, c[i].jail, sizeof(c[i].jail));
		if (place(d, tokpath, &c[i], &st) == 0 &&
		    access_ok(d, tokpath, &c[i], &st) == 0) {
			ok[i] = 1;
			doc_good(d, "\"%s\" %s is there, %s can read it%s",
			    c[i].field, c[i].jail, d->owner, c[i].secret ?
			    " and no one else" : "");
		}
	}
	for (int i = 0; i < n; i++)
		if (ok[i] && i != cert)
			contents(d, &s, &c[i], i == key && cert >= 0 && ok[cert] ?
			    &c[cert] : NULL);
}
