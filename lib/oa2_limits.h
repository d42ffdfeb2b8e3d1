/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_limits 3h
 * SUMMARY
 *	every size cap, default and timing constant of the core, once
 * DESCRIPTION
 *	The defaults of the settings (oa2_settings(3)), the size caps of
 *	the files and replies we read, and the timing constants of the token
 *	file's lock, save and cache live here and nowhere else: code, tests
 *	and the man pages' figures follow these numbers.
 *--*/
#ifndef OA2_LIMITS_H
#define OA2_LIMITS_H

/* Defaults of the settings (sasl-oauth2.conf(5), sasl-oauth2-token(5)). */
#define OA2_REFRESH_WINDOW_DEFAULT	300	/* s before expiry: refresh */
#define OA2_CONNECT_TIMEOUT_DEFAULT	10	/* s to connect to the endpoint */
#define OA2_TIMEOUT_DEFAULT		30	/* s for the whole request */
#define OA2_EXPIRES_IN_DEFAULT		3600	/* s, when a reply has none */

/* Value ranges. */
#define OA2_CONFIG_SECONDS_MAX		1000000000	/* largest seconds value in the config */

/* Size caps. */
#define OA2_TOKFILE_MAX		(64 * 1024)	/* a token file, bytes */
#define OA2_CONFIG_MAX		(64 * 1024)	/* the configuration file */
#define OA2_FORM_MAX		(64 * 1024)	/* a request body we build */
#define OA2_TOKEN_REPLY_MAX	(256 * 1024)	/* a token endpoint's reply */
#define OA2_URL_MAX		1024		/* a resolved endpoint URL */

/* The token file's lock and atomic save. */
#define OA2_LOCK_TRIES		100	/* path replaced while we waited */
#define OA2_TMP_STALE_SECS	10	/* a writer's temp file older than this, unlocked, is stale */

/* The per-process token cache (oa2_cache(3)). */
#define OA2_CACHE_SLOTS		4	/* token files remembered */
#define OA2_CACHE_RACY_SECS	2	/* a file changed this recently is not cached */

#endif
