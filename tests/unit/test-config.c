/* SPDX-License-Identifier: MIT */
/* test-config - the global configuration file */
#include "config.h"

#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oa2_config.h"
#include "tap.h"

static char dir[] = "/tmp/test-config.XXXXXX";

/* write_file - create dir/name with mode and content; returns the path */
static const char *
write_file(const char *name, const char *content, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void
check_error(const char *name, const char *content, mode_t mode, const char *want)
{
	struct oa2_config cfg;
	struct oa2_error err;
	const char *path = write_file(name, content, mode);

	ok(oa2_config_load(&cfg, path, 1, &err) == OA2_ERR_INPUT,
	    "%s: refused", name);
	has_str(err.msg, path, "%s: message names the file", name);
	has_str(err.msg, want, "%s: message says \"%s\"", name, want);
	ok(cfg.root == NULL, "%s: nothing kept", name);
}

int
main(void)
{
	struct oa2_config cfg;
	struct oa2_error err;
	const char *path;

	if (mkdtemp(dir) == NULL)
		return 1;
	path = write_file("good.conf",
	    "{\"client_id\": \"abc\", \"client_secret\": \"s3cr3t\", "
	    "\"token_endpoint\": \"https://127.0.0.1:8443/token\", "
	    "\"refresh_window\": \"120\", \"timeout\": 7, \"log_level\": \"debug\", "
	    "\"log_to_syslog_on_failure\": \"yes\"}", 0640);
	ok(oa2_config_load(&cfg, path, 1, &err) == OA2_OK, "valid config loads");
	is_str(oa2_config_str(&cfg, OA2_S_CLIENT_ID), "abc", "client_id read");
	is_int(cfg.refresh_window, 120, "refresh_window as a digit string");
	is_int(cfg.timeout, 7, "timeout as a number");
	is_int(cfg.connect_timeout, 10, "connect_timeout default");
	is_int(cfg.log_level, OA2_LOG_DEBUG, "log_level debug");
	is_int(cfg.mail_log, 1, "mail_log: on by default");
	ok(oa2_config_str(&cfg, OA2_S_SCOPE) == NULL, "absent setting is NULL");
	oa2_config_free(&cfg);

	ok(oa2_config_load(&cfg, "/nonexistent/sasl-oauth2.conf", 0, &err) == OA2_OK,
	    "missing file is an empty configuration when allowed");
	is_int(cfg.refresh_window, 300, "default refresh window 300 s");
	ok(oa2_config_load(&cfg, "/nonexistent/sasl-oauth2.conf", 1, &err) == OA2_ERR_INPUT,
	    "missing file is an error when required");
	has_str(err.msg, "No such file", "missing file message says why");

	check_error("typo.conf", "{\"clinet_id\": \"x\"}", 0600, "unknown setting \"clinet_id\"");
	check_error("badjson.conf", "{\"client_id\": ", 0600, "not valid JSON (line 1");
	check_error("array.conf", "[1,2]", 0600, "must hold a JSON object");
	check_error("type.conf", "{\"client_id\": 5}", 0600, "\"client_id\" must be a string");
	check_error("num.conf", "{\"timeout\": \"ten\"}", 0600, "\"timeout\" must be a whole number");
	check_error("neg.conf", "{\"refresh_window\": -5}", 0600, "\"refresh_window\" must be a whole number");
	check_error("level.conf", "{\"log_level\": \"loud\"}", 0600, "\"log_level\" must be one of");
	check_error("maillog.conf", "{\"mail_log\": \"no\"}", 0600,
	    "setting \"mail_log\" must be true or false");
	{
		struct oa2_config c3;
		struct oa2_error e3;

		ok(oa2_config_load(&c3, write_file("maillogoff.conf",
		    "{\"mail_log\": false}", 0600), 1, &e3) == OA2_OK &&
		    c3.mail_log == 0, "mail_log false turns the mail log line off");
		oa2_config_free(&c3);
	}
	check_error("dup.conf", "{\"scope\": \"a\", \"scope\": \"b\"}", 0600, "duplicate");
	check_error("auth.conf", "{\"client_auth\": \"jwt\"}", 0600,
	    "setting \"client_auth\" must be \"post\" or \"basic\"");
	check_error("levelnum.conf", "{\"log_level\": 3}", 0600,
	    "\"log_level\" must be one of error, warning, notice, debug");
	check_error("tokonly.conf", "{\"refresh_token\": \"x\"}", 0600,
	    "unknown setting \"refresh_token\"");
	check_error("big.conf", "{\"timeout\": \"1000000001\"}", 0600,
	    "\"timeout\" must be a whole number of seconds");
	{
		struct oa2_config c2;
		struct oa2_error e2;
		const char *p2 = write_file("xo.conf", "{\"log_to_syslog_on_failure\": "
		    "\"yes\", \"log_full_trace_on_failure\": [1], \"timeout\": 0, "
		    "\"connect_timeout\": \"1000000000\", \"client_auth\": "
		    "\"basic\", \"log_level\": \"info\"}", 0600);

		ok(oa2_config_load(&c2, p2, 1, &e2) == OA2_OK,
		    "sasl-xoauth2's settings accepted and ignored");
		is_int(c2.timeout, 1, "timeout 0 means 1");
		is_int(c2.connect_timeout, 1000000000, "the largest number of seconds");
		is_int(c2.log_level, OA2_LOG_NOTICE, "info is notice");
		is_str(oa2_config_str(&c2, OA2_S_CLIENT_AUTH), "basic",
		    "client_auth read");
		ok(oa2_config_str(&c2, OA2_S_REFRESH_TOKEN) == NULL,
		    "a token-file-only setting is never the config's");
		oa2_config_free(&c2);
	}
	check_error("world.conf", "{\"client_secret\": \"s3cr3t\"}", 0644, "chmod o-rwx");
	{
		struct oa2_config c2;
		struct oa2_error e2;
		const char *p2 = write_file("world-nosecret.conf", "{\"client_id\": \"x\"}", 0644);

		ok(oa2_config_load(&c2, p2, 1, &e2) == OA2_OK,
		    "world-readable file without a secret is fine");
		oa2_config_free(&c2);
	}
	ok(strstr(err.msg, "s3cr3t") == NULL, "secret never in a message");

	setenv("SASL_OAUTH2_CONFIG", "/some/where.conf", 1);
	is_str(oa2_config_path(), "/some/where.conf", "environment overrides the path");
	unsetenv("SASL_OAUTH2_CONFIG");
	is_str(oa2_config_path(), OA2_CONFIG_FILE, "compiled-in default path");

	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
