/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_config 3
 * SUMMARY
 *	the global configuration file
 * SYNOPSIS
 *	#include "oa2_config.h"
 *
 *	const char *oa2_config_path()
 *	void	oa2_config_init(cfg)
 *	enum oa2_status oa2_config_load(cfg, path, must_exist, err)
 *	enum oa2_status oa2_config_parse(cfg, path, data, len, err)
 *	const char *oa2_config_str(cfg, id)
 *	void	oa2_config_free(cfg)
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
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oa2_config.h"
#include "oa2_json.h"
#include "oa2_mem.h"

const char *
oa2_config_path(void)
{
	const char *env;

	if (getuid() == geteuid() && getgid() == getegid() &&
	    (env = getenv("SASL_OAUTH2_CONFIG")) != NULL && *env)
		return env;
	return OA2_CONFIG_FILE;
}

void
oa2_config_init(struct oa2_config *cfg)
{
	cfg->root = NULL;
	cfg->path[0] = 0;
	cfg->connect_timeout = oa2_settings_table[OA2_S_CONNECT_TIMEOUT].dflt;
	cfg->timeout = oa2_settings_table[OA2_S_TIMEOUT].dflt;
	cfg->refresh_window = oa2_settings_table[OA2_S_REFRESH_WINDOW].dflt;
	cfg->log_level = OA2_LOG_NOTICE;
	cfg->mail_log = oa2_settings_table[OA2_S_MAIL_LOG].dflt;
}

/* set_seconds - store a seconds setting, raised to its minimum */
static void
set_seconds(struct oa2_config *cfg, const struct oa2_setting_def *def,
    long n)
{
	if (n < def->min)
		n = def->min;
	switch (oa2_setting_id_of(def)) {
	case OA2_S_REFRESH_WINDOW:
		cfg->refresh_window = n;
		break;
	case OA2_S_CONNECT_TIMEOUT:
		cfg->connect_timeout = n;
		break;
	case OA2_S_TIMEOUT:
		cfg->timeout = n;
		break;
	default:
		break;
	}
}

/* type_wanted - what a setting of def's type must be, for messages */
static const char *
type_wanted(const struct oa2_setting_def *def)
{
	switch (def->type) {
	case OA2_T_SECONDS:
		return "a whole number of seconds";
	case OA2_T_CLIENT_AUTH:
		return "\"post\" or \"basic\"";
	case OA2_T_LOG_LEVEL:
		return "one of error, warning, notice, debug";
	case OA2_T_BOOL:
		return "true or false";
	default:
		return "a string";
	}
}

/* check_value - v fits def; 0, or -1 */
static int
check_value(struct oa2_config *cfg, const struct oa2_setting_def *def,
    json_t *v)
{
	long long n;
	const char *s;

	switch (def->type) {
	case OA2_T_IGNORED:
		return 0;
	case OA2_T_SECONDS:
		if (oa2_setting_digits(v, OA2_CONFIG_SECONDS_MAX, &n) < 0)
			return -1;
		set_seconds(cfg, def, (long)n);
		return 0;
	case OA2_T_CLIENT_AUTH:
		s = json_string_value(v);
		return s != NULL && (strcmp(s, "post") == 0 ||
		    strcmp(s, "basic") == 0) ? 0 : -1;
	case OA2_T_LOG_LEVEL:
		if (!json_is_string(v))
			return -1;
		return oa2_setting_log_level(json_string_value(v)) < 0 ? -1 : 0;
	case OA2_T_BOOL:
		if (!json_is_boolean(v))
			return -1;
		if (oa2_setting_id_of(def) == OA2_S_MAIL_LOG)
			cfg->mail_log = json_is_true(v);
		return 0;
	default:
		return json_is_string(v) ? 0 : -1;
	}
}

/*
 * json_reason - jansson's error text without its "near '...'" part: that
 * quotes the file, and the file may hold client_secret.
 */
static void
json_reason(const json_error_t *je, char *out, size_t size)
{
	const char *near = strstr(je->text, " near ");
	size_t n = near ? (size_t)(near - je->text) : strlen(je->text);

	if (n >= size)
		n = size - 1;
	memcpy(out, je->text, n);
	out[n] = 0;
}

/* printable - copy s for a message: at most max bytes, control bytes as '?' */
static const char *
printable(const char *s, char *out, size_t size, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max && i + 1 < size; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = 0;
	return out;
}

enum oa2_status
oa2_config_parse(struct oa2_config *cfg, const char *path, const char *data,
    size_t len, struct oa2_error *err)
{
	json_error_t jerr;
	const char *key;
	const struct oa2_setting_def *def;
	json_t *root, *v;
	char why[JSON_ERROR_TEXT_LENGTH], name[80];
	int nomem;

	oa2_config_init(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	root = oa2_json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr, &nomem);
	if (root == NULL && nomem)
		return oa2_error_set(err, OA2_ERR_NOMEM, "config",
		    "%s: out of memory while parsing it", path);
	if (root == NULL) {
		json_reason(&jerr, why, sizeof(why));
		return oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: not valid JSON (line %d, column %d: %s): fix the file; "
		    "see sasl-oauth2.conf(5)", path, jerr.line, jerr.column, why);
	}
	if (!json_is_object(root)) {
		oa2_json_wipe_decref(root);
		return oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: must hold a JSON object { \"setting\": value, ... }", path);
	}
	json_object_foreach(root, key, v) {
		def = oa2_setting_find(key);
		if (def == NULL || !(def->where & OA2_IN_CONFIG)) {
			oa2_error_set(err, OA2_ERR_INPUT, "config",
			    "%s: unknown setting \"%s\": remove it or fix its "
			    "name; see sasl-oauth2.conf(5)", path,
			    printable(key, name, sizeof(name), 64));
			oa2_json_wipe_decref(root);
			return OA2_ERR_INPUT;
		}
		if (check_value(cfg, def, v) < 0) {
			oa2_error_set(err, OA2_ERR_INPUT, "config",
			    "%s: setting \"%s\" must be %s", path, def->name,
			    type_wanted(def));
			oa2_json_wipe_decref(root);
			return OA2_ERR_INPUT;
		}
	}
	if ((v = json_object_get(root,
	    OA2_SETTING_NAME(OA2_S_LOG_LEVEL))) != NULL)
		cfg->log_level = oa2_setting_log_level(json_string_value(v));
	cfg->root = root;
	return OA2_OK;
}

enum oa2_status
oa2_config_load(struct oa2_config *cfg, const char *path, int must_exist,
    struct oa2_error *err)
{
	struct stat st;
	enum oa2_status rc;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	oa2_config_init(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		if (errno == ENOENT && !must_exist)
			return OA2_OK;
		return oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: cannot open: %s (running as uid %ld)", path,
		    strerror(errno), (long)getuid());
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: is not a regular file", path);
	}
	if (st.st_size > OA2_CONFIG_MAX) {
		close(fd);
		return oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: is larger than %d bytes", path, OA2_CONFIG_MAX);
	}
	if ((buf = oa2_malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return oa2_error_set(err, OA2_ERR_NOMEM, "nomem", "out of memory");
	}
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = oa2_error_set(err, OA2_ERR_INPUT, "config",
			    "%s: read error: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	rc = oa2_config_parse(cfg, path, buf, len, err);
	if (rc == OA2_OK && (st.st_mode & S_IROTH) &&
	    oa2_config_str(cfg, OA2_S_CLIENT_SECRET) != NULL) {
		oa2_config_free(cfg);
		rc = oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: holds %s but is readable by everyone (mode "
		    "%04o): run chmod o-rwx %s", path,
	    OA2_SETTING_NAME(OA2_S_CLIENT_SECRET),
		    (unsigned)(st.st_mode & 07777), path);
	}
out:
	oa2_wipe(buf, len);
	oa2_free(buf);
	close(fd);
	return rc;
}

const char *
oa2_config_str(const struct oa2_config *cfg, enum oa2_setting_id id)
{
	json_t *v;

	if (cfg == NULL || cfg->root == NULL || id >= OA2_S_COUNT ||
	    !(oa2_settings_table[id].where & OA2_IN_CONFIG))
		return NULL;
	v = json_object_get(cfg->root, oa2_settings_table[id].name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

void
oa2_config_free(struct oa2_config *cfg)
{
	if (cfg->root != NULL)
		oa2_json_wipe_decref(cfg->root);
	cfg->root = NULL;
}
