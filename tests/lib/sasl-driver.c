/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	sasl-driver 1
 * SUMMARY
 *	drive a SASL client mechanism through libsasl2, for tests
 * SYNOPSIS
 *	sasl-driver [-i] [-n count] [-p plugindir] [-s host] [-P port]
 *		-m mech -u user -w password [challenge-base64 | - ]...
 * DESCRIPTION
 *	Loads the plugins in plugindir (sasl_set_path), starts mech with the
 *	user name and password given either as callbacks or, with -i, as
 *	answers to the plugin's interaction prompts (as imtest does), and
 *	prints "start: RESULT OUT" where OUT is the client's first message in
 *	base64 ("-" when there is none).  Each further argument is a server
 *	challenge in base64 ("" for an empty one) passed to sasl_client_step;
 *	each prints "step: RESULT OUT".  Finally "detail: " sasl_errdetail().
 *	The log callback prints "log: LEVEL MESSAGE" on stderr.
 *	With -n, the whole exchange (new, start, dispose) is repeated count
 *	times and only the last one is printed (benchmarks).
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

typedef int (*cb_ft)(void);
#define CB(f) ((cb_ft)(void (*)(void))(f))

static const char *opt_user, *opt_pass;
static sasl_secret_t *secret;

static int
cb_log(void *ctx, int level, const char *msg)
{
	fprintf(stderr, "log: %d %s\n", level, msg);
	return SASL_OK;
}

static int
cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
	*result = opt_user;
	if (len)
		*len = (unsigned)strlen(opt_user);
	return SASL_OK;
}

static int
cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	*psecret = secret;
	return SASL_OK;
}

static void
print_out(const char *tag, int rc, const char *out, unsigned outlen)
{
	char enc[65536];
	unsigned n = 0;

	if (out == NULL) {
		printf("%s: %s -\n", tag, sasl_errstring(rc, NULL, NULL));
		return;
	}
	if (sasl_encode64(out, outlen, enc, sizeof(enc), &n) != SASL_OK)
		strcpy(enc, "(too long)");
	printf("%s: %s %s\n", tag, sasl_errstring(rc, NULL, NULL),
	    outlen ? enc : "\"\"");
}

/* answer - fill interaction prompts from the options */
static void
answer(sasl_interact_t *p)
{
	for (; p->id != SASL_CB_LIST_END; p++) {
		if (p->id == SASL_CB_PASS)
			p->result = opt_pass;
		else
			p->result = opt_user;
		p->len = (unsigned)strlen(p->result);
	}
}

int
main(int argc, char **argv)
{
	const char *plugindir = NULL, *mech = NULL, *host = "localhost";
	const char *port = NULL, *out, *used;
	unsigned outlen;
	long count = 1;
	int ch, rc = SASL_OK, interact = 0;
	sasl_conn_t *conn;
	sasl_interact_t *prompts;
	char remote[128];
	static sasl_callback_t global_cb[] = {
		{SASL_CB_LOG, CB(cb_log), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static sasl_callback_t cb[] = {
		{SASL_CB_AUTHNAME, CB(cb_simple), NULL},
		{SASL_CB_PASS, CB(cb_pass), NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	static sasl_callback_t cb_interact[] = {
		{SASL_CB_AUTHNAME, NULL, NULL},
		{SASL_CB_PASS, NULL, NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};

	while ((ch = getopt(argc, argv, "im:n:p:P:s:u:w:")) != -1) {
		switch (ch) {
		case 'i': interact = 1; break;
		case 'm': mech = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'p': plugindir = optarg; break;
		case 'P': port = optarg; break;
		case 's': host = optarg; break;
		case 'u': opt_user = optarg; break;
		case 'w': opt_pass = optarg; break;
		default:
			fprintf(stderr, "usage: sasl-driver [-i] [-n count] [-p plugindir] "
			    "[-s host] [-P port] -m mech -u user -w password "
			    "[challenge]...\n");
			return 2;
		}
	}
	if (mech == NULL || opt_user == NULL || opt_pass == NULL) {
		fprintf(stderr, "sasl-driver: -m, -u and -w are required\n");
		return 2;
	}
	secret = malloc(sizeof(*secret) + strlen(opt_pass) + 1);
	secret->len = strlen(opt_pass);
	memcpy(secret->data, opt_pass, secret->len + 1);
	if (plugindir != NULL)
		sasl_set_path(SASL_PATH_TYPE_PLUGIN, (char *)plugindir);
	if ((rc = sasl_client_init(global_cb)) != SASL_OK) {
		printf("init: %s\n", sasl_errstring(rc, NULL, NULL));
		return 1;
	}
	if (port != NULL)
		snprintf(remote, sizeof(remote), "127.0.0.1;%s", port);
	for (long i = 0; i < count; i++) {
		int last = i == count - 1;

		rc = sasl_client_new("smtp", host, NULL, port ? remote : NULL,
		    interact ? cb_interact : cb, 0, &conn);
		if (rc != SASL_OK) {
			printf("new: %s\n", sasl_errstring(rc, NULL, NULL));
			return 1;
		}
		prompts = NULL;
		out = NULL;
		outlen = 0;
		used = NULL;
		do {
			rc = sasl_client_start(conn, mech, &prompts, &out, &outlen,
			    &used);
			if (rc == SASL_INTERACT)
				answer(prompts);
		} while (rc == SASL_INTERACT);
		if (last)
			print_out("start", rc, out, outlen);
		for (int a = optind; last && a < argc &&
		    (rc == SASL_CONTINUE || rc == SASL_OK); a++) {
			char dec[65536];
			unsigned declen = 0;

			if (sasl_decode64(argv[a], (unsigned)strlen(argv[a]), dec,
			    sizeof(dec), &declen) != SASL_OK) {
				printf("step: bad base64 argument\n");
				return 2;
			}
			out = NULL;
			outlen = 0;
			rc = sasl_client_step(conn, dec, declen, NULL, &out, &outlen);
			print_out("step", rc, out, outlen);
		}
		if (last) {
			const char *d = sasl_errdetail(conn);
			printf("detail: %s\n", d ? d : "");
		}
		sasl_dispose(&conn);
	}
	sasl_client_done();
	free(secret);
	return 0;
}
