/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokfile 3h
 * SUMMARY
 *	token file: read, validate, lock, write back atomically
 * DESCRIPTION
 *	A token file is a JSON object, field-compatible with sasl-xoauth2:
 *	"refresh_token" (required, non-empty string), "access_token",
 *	"expiry" (epoch seconds as a string of digits; a JSON number is
 *	accepted on read, a string is always written), "user", "client_id",
 *	"client_secret", "token_endpoint", "proxy", "ca_bundle_file",
 *	"ca_certs_dir", "refresh_window" (seconds; number or digit string);
 *	ours: "provider" ("google", "microsoft"), "tenant", "scope",
 *	"client_auth" ("post" or "basic").  Every other member is kept as it
 *	is and written back unchanged (order preserved).
 *
 *	oa2_token_load() opens the file without following a symbolic link
 *	and refuses, each with one line naming the file, the field and the
 *	fix: a symlink, anything but a regular file, a file with any group or
 *	other permission bit (mode & 077), an unreadable file, an empty file,
 *	a file over OA2_TOKFILE_MAX bytes, invalid JSON (with line and
 *	column), a non-object, a missing/empty/non-string refresh_token, and
 *	any known field of the wrong type.  All these are OA2_ERR_INPUT with
 *	err->code "token_file".
 *
 *	oa2_token_lock() opens the file read-write and takes an exclusive
 *	open-file-description lock (F_OFD_SETLKW) on it; once held, it checks
 *	that the path still names the locked inode (a writer may have renamed
 *	a new file into place meanwhile) and starts over if not.  The lock is
 *	what makes N processes that find one expired token do one refresh:
 *	whoever gets it second re-reads the file (oa2_token_load_fd()) and
 *	finds a fresh access token.
 *
 *	oa2_token_save() writes the document to a temporary file in the same
 *	directory (mkstemp, mode 0600, the original owner and group kept
 *	when we may), fsyncs it, renames it over the path and fsyncs the
 *	directory.  On any failure the temporary file is removed and the
 *	old file is untouched.  oa2_token_save_hook, when set (tests only),
 *	is called after each step: "written", "synced", "renamed".
 *
 *	oa2_token_update() sets access_token, expiry (now + expires_in, as a
 *	string) and, when refresh_token is not NULL, the new refresh token.
 *	oa2_token_free() releases the document with oa2_json_wipe_decref(),
 *	which wipes its strings.
 *--*/
#ifndef OA2_TOKFILE_H
#define OA2_TOKFILE_H

#include <sys/types.h>
#include <sys/stat.h>
#include <jansson.h>

#include "oa2_error.h"

#define OA2_TOKFILE_MAX (64 * 1024)

struct oa2_token {
	json_t *root;		/* the whole document, owned */
	/* Views into root, valid until the next update or free; NULL when absent. */
	const char *refresh_token;
	const char *access_token;
	const char *user;
	const char *client_id;
	const char *client_secret;
	const char *token_endpoint;
	const char *proxy;
	const char *ca_bundle_file;
	const char *ca_certs_dir;
	const char *provider;
	const char *tenant;
	const char *scope;
	const char *client_auth;
	long long expiry;		/* 0 when absent */
	long long refresh_window;	/* -1 when absent */
};

enum oa2_status oa2_token_parse(struct oa2_token *tok, const char *path,
    const char *data, size_t len, struct oa2_error *err);
enum oa2_status oa2_token_load(struct oa2_token *tok, const char *path,
    struct oa2_error *err);
enum oa2_status oa2_token_load_fd(struct oa2_token *tok, int fd,
    const char *path, struct oa2_error *err);
/* The same, also giving the fstat of the file that was read (for caches). */
enum oa2_status oa2_token_load_stat(struct oa2_token *tok, const char *path,
    struct stat *sb, struct oa2_error *err);
enum oa2_status oa2_token_load_fd_stat(struct oa2_token *tok, int fd,
    const char *path, struct stat *sb, struct oa2_error *err);

enum oa2_status oa2_token_lock(const char *path, int *fdp,
    struct oa2_error *err);
void oa2_token_unlock(int *fdp);

enum oa2_status oa2_token_update(struct oa2_token *tok,
    const char *access_token, long long expiry, const char *refresh_token,
    struct oa2_error *err);
/* oa2_token_set_string - set (or with value NULL remove) any string member, e.g. for the tool */
enum oa2_status oa2_token_set_string(struct oa2_token *tok, const char *name,
    const char *value, struct oa2_error *err);

/* oa2_token_new - an empty document (the tool fills it with set_string) */
enum oa2_status oa2_token_new(struct oa2_token *tok, struct oa2_error *err);

enum oa2_status oa2_token_save(const struct oa2_token *tok, const char *path,
    struct oa2_error *err);

extern void (*oa2_token_save_hook)(const char *step);

void oa2_token_free(struct oa2_token *tok);

#endif
