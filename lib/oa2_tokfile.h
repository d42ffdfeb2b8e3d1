/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokfile 3h
 * SUMMARY
 *	token file: the document, its lock, its atomic save, one load
 * DESCRIPTION
 *	See oa2_tokfile.c.
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
	unsigned long saved_edits;	/* edits when the edit function saved it itself */
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
/* oa2_write_all - write(2) all n bytes of p to fd (EINTR, short writes); -1 on error */
int	oa2_write_all(int fd, const char *p, size_t n);

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
/* oa2_token_save_batch - set: saves skip the look for stale temp files */
extern int oa2_token_save_batch;
/* oa2_token_is_tmp_name - name (no directory) is a save's temporary file, "<name>.tmp.XXXXXX" */
int	oa2_token_is_tmp_name(const char *name);
/* oa2_token_clean_dir - remove the stale temp files of every token file in dir */
void	oa2_token_clean_dir(const char *dir);

/* The save in two halves, around a request (oa2_toksave.c). */
struct oa2_token_save {
	char	*path;
	char	*tmp;		/* the temporary file; "" once renamed */
	char	*dir;
	int	fd;		/* -1: none */
	int	have_old;	/* old: lstat of the file it replaces */
	struct stat old;
};
enum oa2_status oa2_token_save_prepare(struct oa2_token_save *sv,
    const char *path, struct oa2_error *err);
enum oa2_status oa2_token_save_commit(struct oa2_token_save *sv,
    const struct oa2_token *tok, int rotated, struct oa2_error *err);
void	oa2_token_save_abort(struct oa2_token_save *sv);

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
