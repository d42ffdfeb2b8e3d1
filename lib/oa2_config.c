/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_config 3
 * SUMMARY
 *	the global configuration file
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

static const char *const string_keys[] = {
	"client_id", "client_secret", "token_endpoint", "proxy",
	"ca_bundle_file", "ca_certs_dir", "provider", "tenant", "scope",
	"client_auth", "log_level", NULL
};
static const char *const number_keys[] = {
	"refresh_window", "connect_timeout", "timeout", NULL
};
static const char *const ignored_keys[] = {
	"log_to_syslog_on_failure", "log_full_trace_on_failure", NULL
};

/* in_list - name is one of list */
static int
in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

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
	cfg->connect_timeout = 10;
	cfg->timeout = 30;
	cfg->refresh_window = 300;
	cfg->log_level = OA2_LOG_NOTICE;
}

/* number_value - a non-negative integer, or a string of digits; -1 if neither */
static long
number_value(json_t *v)
{
	const char *s;
	long n = 0;

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000000 ? -1 :
		    (long)json_integer_value(v);
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (*s == 0 || strlen(s) > 9)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/* parse_level - log level name to number */
static int
parse_level(const char *s)
{
	static const struct { const char *name; int level; } map[] = {
		{"error", OA2_LOG_ERROR}, {"warning", OA2_LOG_WARNING},
		{"notice", OA2_LOG_NOTICE}, {"info", OA2_LOG_NOTICE},
		{"debug", OA2_LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].level;
	return -1;
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
	json_t *root, *v;
	char why[JSON_ERROR_TEXT_LENGTH], name[80];
	int nomem;
	long n;

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
		if (in_list(ignored_keys, key))
			continue;
		if (in_list(string_keys, key)) {
			if (!json_is_string(v))
				goto type;
			continue;
		}
		if (in_list(number_keys, key)) {
			if ((n = number_value(v)) < 0)
				goto type;
			if (strcmp(key, "refresh_window") == 0)
				cfg->refresh_window = n;
			else if (strcmp(key, "connect_timeout") == 0)
				cfg->connect_timeout = n ? n : 1;
			else
				cfg->timeout = n ? n : 1;
			continue;
		}
		oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: unknown setting \"%s\": remove it or fix its name; "
		    "see sasl-oauth2.conf(5)", path,
		    printable(key, name, sizeof(name), 64));
		oa2_json_wipe_decref(root);
		return OA2_ERR_INPUT;
	}
	if ((v = json_object_get(root, "log_level")) != NULL) {
		if ((cfg->log_level = parse_level(json_string_value(v))) < 0) {
			oa2_json_wipe_decref(root);
			return oa2_error_set(err, OA2_ERR_INPUT, "config",
			    "%s: setting \"log_level\" must be one of error, warning, "
			    "notice, debug", path);
		}
	}
	cfg->root = root;
	return OA2_OK;
type:
	oa2_error_set(err, OA2_ERR_INPUT, "config",
	    "%s: setting \"%s\" must be %s", path,
	    printable(key, name, sizeof(name), 64),
	    in_list(string_keys, key) ? "a string" :
	    "a whole number of seconds");
	oa2_json_wipe_decref(root);
	return OA2_ERR_INPUT;
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
	    oa2_config_str(cfg, "client_secret") != NULL) {
		oa2_config_free(cfg);
		rc = oa2_error_set(err, OA2_ERR_INPUT, "config",
		    "%s: holds client_secret but is readable by everyone (mode "
		    "%04o): run chmod o-rwx %s", path,
		    (unsigned)(st.st_mode & 07777), path);
	}
out:
	oa2_wipe(buf, len);
	oa2_free(buf);
	close(fd);
	return rc;
}

const char *
oa2_config_str(const struct oa2_config *cfg, const char *name)
{
	json_t *v;

	if (cfg == NULL || cfg->root == NULL)
		return NULL;
	v = json_object_get(cfg->root, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

void
oa2_config_free(struct oa2_config *cfg)
{
	if (cfg->root != NULL)
		oa2_json_wipe_decref(cfg->root);
	cfg->root = NULL;
}
