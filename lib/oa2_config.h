/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_config 3h
 * SUMMARY
 *	the global configuration file (/etc/sasl-oauth2.conf)
 * DESCRIPTION
 *	See oa2_config.c.
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
	int mail_log;			/* a line per refresh to the mail log; default 1 */
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
