/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_app 3h
 * SUMMARY
 *	app-only grants: credential files and the token request
 * DESCRIPTION
 *	See oa2_app.c.
 *--*/
#ifndef OA2_APP_H
#define OA2_APP_H

#include <stddef.h>

#include "oa2_error.h"
#include "oa2_mem.h"
#include "oa2_settings.h"
#include "oa2_tokresp.h"

#define OA2_APP_FILE_MAX	(64 * 1024)
#define OA2_APP_GOOGLE_SCOPE	"https://mail.google.com/"
#define OA2_APP_GOOGLE_TOKEN_URI	"https://oauth2.googleapis.com/token"
#define OA2_APP_ASSERTION_LIFETIME	300	/* s, a client assertion */
#define OA2_APP_GRANT_LIFETIME	3600	/* s, Google's maximum */

/* A Google service account key file (the fields we use). */
struct oa2_sa {
	char   *client_email;
	char   *private_key;		/* PEM; secret */
	char   *private_key_id;		/* NULL when absent */
	char   *token_uri;		/* NULL when absent */
};

/* oa2_app_read_file - a credential file; secret: mode 0600 or stricter and owned by the reader */
enum oa2_status oa2_app_read_file(const char *path, const char *field,
    int secret, struct oa2_buf *out, struct oa2_error *err);

/* oa2_app_sa_parse - a service account key file's JSON; who names it */
enum oa2_status oa2_app_sa_parse(const char *data, size_t len,
    const char *who, struct oa2_sa *out, struct oa2_error *err);
void	oa2_app_sa_free(struct oa2_sa *sa);

/* oa2_app_token - one token request for an app-only grant (s->grant) */
enum oa2_status oa2_app_token(const struct oa2_settings *s, const char *path,
    int allow_http, struct oa2_tokresp *tr, struct oa2_error *err);

#endif
