/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_config 3h
 * SUMMARY
 *	the global configuration file (/etc/sasl-oauth2.conf)
 * DESCRIPTION
 *	A JSON object.  Its members are defaults for the token files' own
 *	fields (client_id, client_secret, token_endpoint, proxy,
 *	ca_bundle_file, ca_certs_dir, refresh_window, provider, tenant,
 *	scope, client_auth), plus settings of their own: connect_timeout and
 *	timeout (seconds, for requests to the token endpoint) and log_level
 *	("error", "warning", "notice", "debug").  sasl-xoauth2's
 *	log_to_syslog_on_failure and log_full_trace_on_failure are accepted
 *	and ignored, so its configuration file can be used as it is.  Any
 *	other member is an error naming it (a typo must not pass silently).
 *
 *	oa2_config_path() is the file to read: $SASL_OAUTH2_CONFIG when the
 *	process is not set-uid or set-gid, else the compiled-in
 *	OA2_CONFIG_FILE.  oa2_config_load() with must_exist 0 treats a missing
 *	file as an empty configuration.  A file holding client_secret must
 *	not be readable by others (mode & 004).
 *--*/
#ifndef OA2_CONFIG_H
#define OA2_CONFIG_H

#include <jansson.h>

#include "oa2_error.h"

#define OA2_CONFIG_MAX (64 * 1024)

enum oa2_log_level {
	OA2_LOG_ERROR = 1,
	OA2_LOG_FAIL = 2,
	OA2_LOG_WARNING = 3,
	OA2_LOG_NOTICE = 4,
	OA2_LOG_DEBUG = 5
};

struct oa2_config {
	json_t *root;			/* NULL when there is no file */
	char path[512];
	long connect_timeout;		/* seconds, default 10 */
	long timeout;			/* seconds, default 30 */
	long refresh_window;		/* seconds, default 300 */
	int log_level;			/* default OA2_LOG_NOTICE */
};

const char *oa2_config_path(void);
void oa2_config_init(struct oa2_config *cfg);
enum oa2_status oa2_config_load(struct oa2_config *cfg, const char *path,
    int must_exist, struct oa2_error *err);
enum oa2_status oa2_config_parse(struct oa2_config *cfg, const char *path,
    const char *data, size_t len, struct oa2_error *err);
/* oa2_config_str - a string member, or NULL */
const char *oa2_config_str(const struct oa2_config *cfg, const char *name);
void oa2_config_free(struct oa2_config *cfg);

#endif
