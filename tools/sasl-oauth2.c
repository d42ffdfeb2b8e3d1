/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	sasl-oauth2 1
 * SUMMARY
 *	connect a mail account with OAuth 2.0, check it, test it, explain errors
 * SYNOPSIS
 *	see usage() below: it is the SYNOPSIS of man/sasl-oauth2.1, word for
 *	word (tests/e2e/tool-cli.sh compares them).
 * DESCRIPTION
 *	main() dispatches to one subcommand; each lives in its own file.
 *	"explain" and "version" are here.
 *
 *	The command is split by subcommand (authorize.c, status.c,
 *	conntest.c, revoke.c, import.c, doctor.c, token.c, refresh_all.c)
 *	over helpers in util.c (messages, exit codes, secrets from files or
 *	the terminal, time helpers), loopback.c (the RFC 8252 redirect listener) and qr.c
 *	(the QR code on a terminal).  What is said to the OAuth server, and
 *	read from it, is lib/oa2_grant.c's.
 *
 *	Messages go to stderr, prefixed "sasl-oauth2: "; results meant for
 *	scripts (the authorization URL, status --json) go to stdout.  No
 *	function of the command ever prints a token or a secret.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/* Application-specific. */
#include "oa2_explain.h"
#include "oa2_http.h"
#include "oa2_mem.h"
#include "sao.h"

static const char synopsis[] =
"usage: sasl-oauth2 authorize [-fnq] [--provider name | --issuer url |\n"
"           --auth-url url --token-url url] [--tenant tenant]\n"
"           [--client-id id] [--client-secret-file file]\n"
"           [--client-auth post | basic] [--scope scope] [--user address]\n"
"           [--flow loopback | paste | device] [--redirect-uri uri]\n"
"           [--port port] [--timeout seconds] [--device-url url]\n"
"           [--revoke-url url] [--auth-param name=value] [--ca-file file]\n"
"           [--owner user[:group]] [--chroot dir] file\n"
"       sasl-oauth2 connect-app [-fq] [--provider name [--tenant tenant] |\n"
"           --token-url url] [--client-id id] [--client-secret-file file\n"
"           [--client-auth post | basic] | --client-key-file file\n"
"           [--client-cert-file file] [--jwt-alg alg] |\n"
"           --service-account-file file] [--scope scope] --user mailbox\n"
"           [--ca-file file] [--owner user[:group]] [--chroot dir] file\n"
"       sasl-oauth2 status [--json] [--refresh] [--for-user user] file | dir ...\n"
"       sasl-oauth2 list [--json] [--refresh] [--for-user user] dir | file ...\n"
"       sasl-oauth2 refresh [-q] file ...\n"
"       sasl-oauth2 refresh-all [-fqv] [--jobs n] [--within seconds] [--json]\n"
"           [--syslog-prefix] file | directory ...\n"
"       sasl-oauth2 token file\n"
"       sasl-oauth2 test [--smtp host[:port] | --imap host[:port]]\n"
"           [--tls starttls | implicit] [--mech mechanism] [--user address]\n"
"           [--ca-file file] [--plugin-dir dir] [--timeout seconds] file\n"
"       sasl-oauth2 revoke file\n"
"       sasl-oauth2 explain [code]\n"
"       sasl-oauth2 import [-f] [--config file] [--owner user[:group]]\n"
"           source destination\n"
"       sasl-oauth2 doctor --postfix [--config-dir dir]\n"
"       sasl-oauth2 -V\n";

/* The subcommand being run (main()) and its argc, for its own usage text. */
static const char *current_cmd;
static int cmd_argc;

/*
 * print_synopsis - the SYNOPSIS lines of cmd (NULL: all) to f, the first
 * one beginning with "usage: "
 */
static void
print_synopsis(FILE *f, const char *cmd)
{
	const char *p, *nl, *name;
	size_t	n;
	int	in = 0, first = 1;

	for (p = synopsis; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		n = (size_t) (nl - p);
		/* "usage: sasl-oauth2 X" or "       sasl-oauth2 X" starts a block. */
		if ((name = strstr(p, PROG " ")) != NULL && name < nl &&
		    (size_t) (name - p) <= 7)
			in = cmd == NULL || (strncmp(name + sizeof(PROG), cmd,
			    strlen(cmd)) == 0 && (name[sizeof(PROG) + strlen(cmd)] == ' '
			    || name[sizeof(PROG) + strlen(cmd)] == '\n'));
		if (!in)
			continue;
		if (first && strncmp(p, "usage: ", 7) != 0)
			fprintf(f, "usage: %.*s\n", (int) (n - 7), p + 7);
		else
			fprintf(f, "%.*s\n", (int) n, p);
		first = 0;
	}
}

/* what_is_missing - the positional arguments cmd needs, or NULL */
static const char *
what_is_missing(const char *cmd, int left)
{
	static const struct {
		const char *cmd;
		int	need;
		const char *what;
	} req[] = {
		{"authorize", 1, "the token file to write"},
		{"connect-app", 1, "the token file to write"},
		{"status", 1, "a token file or directory (or several)"},
		{"list", 1, "a directory of token files (or several)"},
		{"refresh", 1, "a token file (or several)"},
		{"refresh-all", 1, "a token file or directory (or several)"},
		{"token", 1, "the token file"},
		{"test", 1, "the token file"},
		{"revoke", 1, "the token file"},
		{"import", 2, "the sasl-xoauth2 token file and the file to write"},
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (strcmp(req[i].cmd, cmd) == 0 && left < req[i].need)
			return (req[i].what);
	return (NULL);
}

/*
 * usage - the SYNOPSIS of the command being run (of all, outside one) on
 * stderr, after one line saying which argument is missing when that is
 * what went wrong; exit EX_USAGE
 */
void
usage(void)
{
	const char *what;

	if (current_cmd != NULL &&
	    (what = what_is_missing(current_cmd, cmd_argc - optind)) != NULL)
		fprintf(stderr, "%s: %s: missing %s\n", PROG, current_cmd, what);
	print_synopsis(stderr, current_cmd);
	if (current_cmd != NULL)
		fprintf(stderr, "(%s %s --help for this, %s --help for every "
		    "command; sasl-oauth2(1))\n", PROG, current_cmd, PROG);
	exit(EX_USAGE);
}

/* print_page - one explain page */
static void
print_page(const struct oa2_explain *e)
{
	const char *p, *nl;

	printf("%s: %s\n", e->code, e->summary);
	if (e->causes != NULL) {
		printf("\ncauses:\n");
		for (p = e->causes; *p; p = nl ? nl + 1 : p + strlen(p)) {
			nl = strchr(p, '\n');
			printf("  - %.*s\n", (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
			if (nl == NULL)
				break;
		}
	}
	printf("\nfix: %s\n", e->fix);
}

/* cmd_explain - sasl-oauth2 explain [code] */
static int
cmd_explain(int argc, char **argv)
{
	const struct oa2_explain *e;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1] != 0))
		usage();
	if (argc == 1) {
		for (size_t i = 0; i < oa2_explain_count(); i++) {
			e = oa2_explain_at(i);
			printf("%-24s %s\n", e->code, e->summary);
		}
		return EX_OK;
	}
	if ((e = oa2_explain_find(argv[1])) == NULL) {
		sao_warn("no page for \"%s\": run \"%s explain\" for the list",
		    argv[1], PROG);
		return EX_DATAERR;
	}
	print_page(e);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
		enum oa2_explain_ctx ctx;	/* whose fix the error pages give */
	} cmds[] = {
		{"authorize", cmd_authorize, OA2_CTX_AUTHORIZE},
		{"connect-app", cmd_connect_app, OA2_CTX_TOKEN},
		{"status", cmd_status, OA2_CTX_STATUS},
		{"list", cmd_list, OA2_CTX_STATUS},
		{"refresh", cmd_refresh, OA2_CTX_REFRESH},
		{"refresh-all", cmd_refresh_all, OA2_CTX_REFRESH},
		{"token", cmd_token, OA2_CTX_TOKEN},
		{"test", cmd_test, OA2_CTX_TEST},
		{"revoke", cmd_revoke, OA2_CTX_REFRESH},
		{"explain", cmd_explain, OA2_CTX_PLUGIN},
		{"import", cmd_import, OA2_CTX_STATUS},
		{"doctor", cmd_doctor, OA2_CTX_PLUGIN},
	};
	int ex;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROG, PACKAGE_VERSION);
		return EX_OK;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(synopsis, stdout);
		return EX_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			current_cmd = cmds[i].name;
			sao_ctx = cmds[i].ctx;
			if (argc > 2 && (strcmp(argv[2], "--help") == 0 ||
			    strcmp(argv[2], "-h") == 0)) {
				print_synopsis(stdout, current_cmd);
				printf("(the whole manual: man sasl-oauth2)\n");
				return EX_OK;
			}
			cmd_argc = argc - 1;
			ex = cmds[i].run(argc - 1, argv + 1);
			oa2_http_cleanup();
			return ex;
		}
	sao_warn("unknown command \"%s\"", argv[1]);
	usage();
}
