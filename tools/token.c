/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	token 3
 * SUMMARY
 *	sasl-oauth2 token: a fresh access token for a program that is not a
 *	Cyrus SASL client
 * SYNOPSIS
 *	int	cmd_token(argc, argv)
 * DESCRIPTION
 *	"sasl-oauth2 token FILE" writes the access token of the token file
 *	FILE, followed by a newline, to standard output and nothing else.
 *	When the stored token is missing or inside the refresh window it is
 *	refreshed first, exactly as the plugin does it (oa2_access_token_use():
 *	the same lock, the same atomic write-back, the same window), so Postfix
 *	and a desktop mail program can share one token file: whoever comes
 *	first refreshes, the other finds the new token.  For msmtp's
 *	"passwordeval", neomutt's "imap_oauth_refresh_command" and
 *	"smtp_oauth_refresh_command", mbsync's "PassCmd".
 *
 *	Failures go to standard error, one line with the file, the reason and
 *	the fix (sao_report()), and the exit status is that of sasl-oauth2(1)
 *	(75 for a temporary failure: the program may simply try again).
 *	Nothing is written to standard output then, so a program never takes
 *	an error message for a token.
 * SECURITY
 *	The token is written with write(2) straight from the core's buffer:
 *	no stdio buffer keeps a copy.  It is never put in argv or the
 *	environment.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_cache.h"
#include "oa2_refresh.h"
#include "oa2_tokfile.h"
#include "sao.h"

/* print_token - oa2_access_token_use() callback: the token to stdout */
static enum oa2_status
print_token(void *arg, const char *access_token, const char *user,
	            struct oa2_error *err)
{
	const char *path = arg;

	(void) user;
	if (oa2_write_all(STDOUT_FILENO, access_token, strlen(access_token)) < 0
	    || oa2_write_all(STDOUT_FILENO, "\n", 1) < 0)
		return (oa2_error_set(err, OA2_ERR_TEMP, "output",
		    "%s: cannot write the access token to standard output: %s",
		    path, strerror(errno)));
	return (OA2_OK);
}

/* cmd_token - sasl-oauth2 token file */
int
cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	struct oa2_refresh_info info;
	struct oa2_config cfg;
	struct oa2_error err;
	int	c, ex = EX_OK;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s token file\n", PROG);
			return (EX_OK);
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();		/* says the file is missing */
	if (argc - optind > 1) {
		sao_warn("token: one token file at a time (%s token FILE)", PROG);
		usage();
	}
	if (sao_load_config(&cfg) < 0)
		return (EX_CONFIG);
	{
		struct oa2_refresh_opts ro = {.cfg = &cfg, .by_hand = 1};
		char	root[4096];

		sao_outside(&ro, argv[optind], root, sizeof(root));
		oa2_error_clear(&err);
		if (oa2_access_token_use(argv[optind], &ro, print_token,
					 argv[optind], &info, &err) != OA2_OK)
			ex = sao_report(&err);
	}
	oa2_token_cache_forget(NULL);
	oa2_config_free(&cfg);
	return (ex);
}
