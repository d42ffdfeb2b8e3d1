/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokfile 3h
 * SUMMARY
 *	token file: the document, its lock, its atomic save, one load
 * DESCRIPTION
 *	A token file is a JSON object, field-compatible with sasl-xoauth2;
 *	its members, their types and which of them are secrets are listed
 *	once, in oa2_settings_table[] (oa2_settings(3)).  "refresh_token" is
 *	required; every member the table does not know is kept as it is and
 *	written back unchanged (order preserved).
 *
 *	Four modules implement it:
 *	oa2_tokdoc(3), the document: oa2_token_parse(), the views, the
 *	edits (oa2_token_update(), oa2_token_set_string(), oa2_token_new()),
 *	oa2_token_free();
 *	oa2_toklock(3), the lock: oa2_token_lock() takes an exclusive
 *	open-file-description lock on the inode the path names once the lock
 *	is granted, oa2_token_unlock() releases it;
 *	oa2_toksave(3), the atomic save: oa2_token_save() (temporary file,
 *	fsync, rename, directory fsync, removal of stale temporary files);
 *	oa2_tokfile(3), the file: oa2_token_load(), the one load, and
 *	oa2_token_modify(), lock -> load -> edit -> save.
 *
 *	oa2_token_load() reads path (fd < 0: opened without following a
 *	symbolic link) or the open descriptor fd (a locked file, read from
 *	offset 0), and refuses, each with one line naming the file, the
 *	field and the fix: a symlink, anything but a regular file, a file
 *	with any group or other permission bit (mode & 077), an unreadable
 *	file, an empty file, a file over OA2_TOKFILE_MAX bytes, invalid JSON
 *	(with line and column), a non-object, a missing/empty/non-string
 *	refresh_token, and any known field of the wrong type.  All these are
 *	OA2_ERR_INPUT with err->code "token_file".  When sb is not NULL it
 *	receives the fstat of the file that was read (for caches).
 *
 *	oa2_token_modify() locks path, loads it, calls fn(tok, arg, err) and,
 *	when fn returned OA2_OK and changed the document, saves it, then
 *	unlocks.  With held not NULL, held->tok receives the document as it
 *	is after fn (also when fn failed; the caller frees it), held->sb the
 *	fstat of the file it was read from, and held->locked says whether
 *	the lock was taken (a failure with locked 0 is the lock's).
 *
 *	oa2_token_save() writes the document to a temporary file in the same
 *	directory, fsyncs it, renames it over the path and fsyncs the
 *	directory.  On any failure the temporary file is removed and the
 *	old file is untouched.  oa2_token_save_hook, when set (tests only),
 *	is called after each step: "written", "synced", "renamed".
 *
 *	oa2_token_update() sets access_token, expiry (as a string) and, when
 *	refresh_token is not NULL or empty, the new refresh token.
 *	oa2_token_str() is the string member of a setting, or NULL.
 *	oa2_token_free() releases the document with oa2_json_wipe_decref(),
 *	which wipes its strings.
 *--*/
#ifndef OA2_TOKFILE_H
#define OA2_TOKFILE_H

#include <sys/types.h>
#include <sys/stat.h>
#include <jansson.h>

#include "oa2_error.h"
#include "oa2_limits.h"
#include "oa2_settings.h"

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
	long long expires_in;		/* lifetime of the last access token; -1 when absent */
	unsigned long edits;		/* changes since the parse (oa2_token_modify) */
};

/* The document (oa2_tokdoc.c). */
enum oa2_status oa2_token_parse(struct oa2_token *tok, const char *path,
    const char *data, size_t len, struct oa2_error *err);
enum oa2_status oa2_token_update(struct oa2_token *tok,
    const char *access_token, long long expiry, const char *refresh_token,
    struct oa2_error *err);
/* oa2_token_set_string - set (or with value NULL remove) any string member, e.g. for the tool */
enum oa2_status oa2_token_set_string(struct oa2_token *tok, const char *name,
    const char *value, struct oa2_error *err);
/* oa2_token_new - an empty document (the tool fills it with set_string) */
enum oa2_status oa2_token_new(struct oa2_token *tok, struct oa2_error *err);
/* oa2_token_str - the string member of a setting, or NULL (tok may be NULL) */
const char *oa2_token_str(const struct oa2_token *tok, enum oa2_setting_id id);
void oa2_token_free(struct oa2_token *tok);

/* The lock (oa2_toklock.c). */
enum oa2_status oa2_token_lock(const char *path, int *fdp,
    struct oa2_error *err);
void oa2_token_unlock(int *fdp);

/* The atomic save (oa2_toksave.c). */
enum oa2_status oa2_token_save(const struct oa2_token *tok, const char *path,
    struct oa2_error *err);
extern void (*oa2_token_save_hook)(const char *step);

/* The file (oa2_tokfile.c). */
enum oa2_status oa2_token_load(struct oa2_token *tok, const char *path,
    int fd, struct stat *sb, struct oa2_error *err);

typedef enum oa2_status (*oa2_token_edit_fn)(struct oa2_token *tok,
    void *arg, struct oa2_error *err);

struct oa2_token_held {
	struct oa2_token tok;	/* the document after the edit; caller frees */
	struct stat sb;		/* fstat of the file it was read from */
	int	locked;		/* the lock was taken */
};

enum oa2_status oa2_token_modify(const char *path, oa2_token_edit_fn fn,
    void *arg, struct oa2_token_held *held, struct oa2_error *err);

#endif
