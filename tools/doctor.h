/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor 3h
 * SUMMARY
 *	shared declarations of sasl-oauth2 doctor's modules
 * DESCRIPTION
 *	See doctor.c (the command and its output), doctor-relay.c (the relay,
 *	its password map key, maps and TLS), doctor-files.c (plugins, token
 *	files, CA bundle and resolver files as the smtp client sees them) and
 *	doctor-parse.c (parsers of Postfix's values, without I/O).
 * LICENSE
 *	MIT
 *--*/
#ifndef DOCTOR_H
#define DOCTOR_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "oa2_config.h"

/* The Postfix instance under examination. */
struct doc {
	const char *dir;	/* config_directory (postconf -c DIR) */
	int failed;
	int checks;
	int chroot;		/* master.cf runs smtp chrooted */
	char queue[1024];	/* queue_directory: the chroot */
	char owner[64];		/* mail_owner */
	char group[64];
	uid_t uid;
	gid_t gid;
	const struct oa2_config *cfg;
};

/* Output (doctor.c): one line per check; doc_bad() adds "    fix: FIX". */
void doc_good(struct doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void doc_bad(struct doc *d, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* doc_q - s shell-quoted, in a rotating static buffer */
const char *doc_q(const char *s);

/* Postfix (doctor.c). */
/* doc_run - run argv (stderr to /dev/null), its stdout into buf; exit code, -1 if it did not run */
int doc_run(const char *const *argv, char *buf, size_t size);
/* doc_param - postconf -c DIR -xh NAME: the value with $names expanded, "" if unset */
const char *doc_param(const struct doc *d, const char *name);
/* doc_postmap_q - postmap -c DIR -q KEY MAP: 0 found (value in buf), 1 not found, -1 error */
int doc_postmap_q(const struct doc *d, const char *key, const char *map,
    char *buf, size_t size);
/* doc_jail - path as the chrooted smtp client sees it, from outside */
void doc_jail(const struct doc *d, const char *path, char *buf, size_t size);
/* doc_env_import - VALUE of NAME=VALUE in import_environment, NULL if absent */
const char *doc_env_import(const struct doc *d, const char *name, char *buf,
    size_t size);

/* Checks. */
void doc_check_plugins(struct doc *d);		/* doctor-files.c */
void doc_check_tokens(struct doc *d);		/* doctor-files.c */
void doc_check_chroot_files(struct doc *d);	/* doctor-files.c */
void doc_check_settings(struct doc *d);		/* doctor-relay.c */
void doc_check_relays(struct doc *d);		/* doctor-relay.c */
struct oa2_token;
/* doc_check_app_files - an app-only token file's key, certificate, service account file (doctor-app.c) */
void doc_check_app_files(struct doc *d, const struct oa2_token *tok,
    const char *tokpath);
/* doc_as_owner - access(path, mode) as mail_owner: 0 or errno (doctor-files.c) */
int doc_as_owner(const struct doc *d, const char *path, int mode);
/* doc_check_parents - mail_owner can enter every directory above and at dir; -1 reported (doctor-files.c) */
int doc_check_parents(struct doc *d, const char *dir);

/* Parsers (doctor-parse.c), pure: no I/O, bounded output. */
/* doc_map_source - "type:path" of a file-backed map: path into buf, its
 * compiled file's suffix (".db", ".lmdb", ".cdb", "" for texthash) into *suffix; -1 if not a file map */
int doc_map_source(const char *map, char *buf, size_t size,
    const char **suffix);
/* doc_nexthop - split a Postfix next hop "[host]:port", "host:port", "host",
 * "transport:nexthop": host, port ("" if none), bracketed; -1 if empty/bad */
int doc_nexthop(const char *nh, char *host, size_t hsz, char *port,
    size_t psz, int *bracketed);
/* doc_map_line - split one map source line into key and value (in place);
 * 0 if it is an entry, -1 for blank/comment/continuation lines */
int doc_map_line(char *line, char **key, char **value);
/* doc_has_word - list (space/comma separated) holds word (case-insensitive) */
int doc_has_word(const char *list, const char *word);
/* doc_next_word - next word of a space/comma separated list into buf; p advanced; 0 at end */
int doc_next_word(const char **p, char *buf, size_t size);

#endif
