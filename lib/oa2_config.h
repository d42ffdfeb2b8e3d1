/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_config 3h
 * SUMMARY
 *	the global configuration file (/etc/sasl-oauth2.conf)
 * DESCRIPTION
 *	A JSON object.  Its members are the settings that
 *	oa2_settings_table[] (oa2_settings(3)) marks OA2_IN_CONFIG: defaults
 *	for the token files' own fields, plus settings of their own
 *	(timeouts for requests to the token endpoint, the log level), each
 *	checked against its type there.  sasl-xoauth2's own settings are
 *	accepted and ignored (OA2_T_IGNORED), so its configuration file can
 *	be used as it is.  Any other member is an error naming it (a typo
 *	must not pass silently).  Seconds are at most OA2_CONFIG_SECONDS_MAX.
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
#include "oa2_limits.h"
#include "oa2_settings.h"

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
	long connect_timeout;		/* seconds, OA2_CONNECT_TIMEOUT_DEFAULT */
	long timeout;			/* seconds, OA2_TIMEOUT_DEFAULT */
	long refresh_window;		/* seconds, OA2_REFRESH_WINDOW_DEFAULT */
	int log_level;			/* default OA2_LOG_NOTICE */
};

const char *oa2_config_path(void);
void oa2_config_init(struct oa2_config *cfg);
enum oa2_status oa2_config_load(struct oa2_config *cfg, const char *path,
    int must_exist, struct oa2_error *err);
enum oa2_status oa2_config_parse(struct oa2_config *cfg, const char *path,
    const char *data, size_t len, struct oa2_error *err);
/* oa2_config_str - a setting's string member, or NULL (cfg may be NULL) */
const char *oa2_config_str(const struct oa2_config *cfg,
    enum oa2_setting_id id);
void oa2_config_free(struct oa2_config *cfg);

#endif
