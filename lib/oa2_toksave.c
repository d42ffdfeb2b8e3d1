/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_toksave 3
 * SUMMARY
 *	token file: the atomic save
 * SYNOPSIS
 *	#include "oa2_tokfile.h"
 *
 *	enum oa2_status oa2_token_save(tok, path, err)
 *
 *	enum oa2_status oa2_token_save_prepare(sv, path, err)
 *	enum oa2_status oa2_token_save_commit(sv, tok, rotated, err)
 *	void	oa2_token_save_abort(sv)
 *
 *	void	(*oa2_token_save_hook)(const char *step)
 *
 *	int	oa2_token_save_batch;
 *	void	oa2_token_clean_dir(const char *dir)
 * DESCRIPTION
 *	A token file is never written in place.  The save comes in two
 *	halves, so that a refresh can do the slow part before it sends its
 *	request and keep the time between the provider's reply and the new
 *	file being in place (the crash window: a rotating provider has
 *	retired the old refresh token by then) as short as it can.
 *
 *	oa2_token_save_prepare() creates "<path>.tmp.XXXXXX" (mkostemp),
 *	takes a write lock on it (so that no other writer removes it as
 *	stale), makes it 0600 and, as root, gives it the owner and group of
 *	the file it will replace.  A directory we cannot write fails here,
 *	before any request is sent.  On failure nothing is left behind.
 *
 *	oa2_token_save_commit() serializes the document (indented by two;
 *	compact when only that fits in OA2_TOKFILE_MAX, so that a file that
 *	loaded can always be saved after a refresh), checks that the text
 *	parses back to the same document, writes it and renames it over the
 *	path.  Without rotation (rotated 0: the old file still holds a
 *	working grant) it fsyncs the file before the rename; with rotation
 *	it renames first and then fsyncs the file.  Either way the directory
 *	is fsynced last.  On failure before the rename the temporary file is
 *	removed and the old file is untouched; a failure to fsync after the
 *	rename is OA2_ERR_TEMP, and its message says that the new file is in
 *	place.  Commit always releases sv.
 *
 *	oa2_token_save_abort() removes a prepared temporary file (a failed
 *	or unneeded refresh) and releases sv; it may be called on a released
 *	sv.
 *
 *	oa2_token_save() is prepare and commit with rotated 0.
 *
 *	A process killed between mkostemp and rename leaves its temporary
 *	file behind; the next successful save removes such leftovers once
 *	they are older than OA2_TMP_STALE_SECS (10) seconds and no live
 *	writer holds their lock.
 *
 *	That look for leftovers reads the whole directory, so over a directory
 *	of n token files n saves would read n*n entries.  A program that saves
 *	many files (sasl-oauth2 refresh-all) sets oa2_token_save_batch, which
 *	skips the look, and calls oa2_token_clean_dir() once per directory
 *	instead: one pass over it, removing the stale temporary files of
 *	every token file there by the same rule.
 *
 *	oa2_token_save_hook, when set (tests only), is called after each
 *	step: "prepared", "written", "synced", "renamed" ("synced" after
 *	"renamed" with rotation).
 * DIAGNOSTICS
 *	One line that starts with the file (or, for a failure to create or
 *	sync a file in it, the directory) and says what to do: OA2_ERR_INPUT
 *	(code "token_file"), OA2_ERR_NOMEM, OA2_ERR_TEMP (see above),
 *	OA2_ERR_INTERNAL for a document we would refuse to read back.
 * SECURITY
 *	The serialization is wiped before it is freed.  A token file is never
 *	created with any group or other permission.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_json.h"
#include "oa2_limits.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"
#include "oa2_tokpriv.h"

#define TF_TMP_SUFFIX	".tmp."
#define TF_TMP_RANDOM	6		/* the XXXXXX of mkostemp */

void    (*oa2_token_save_hook) (const char *step) = NULL;
int     oa2_token_save_batch;

/* oa2_write_all - write n bytes, riding out EINTR and short writes */
int
oa2_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (w == 0) {
			errno = EIO;
			return (-1);
		}
		p += w;
		n -= (size_t) w;
	}
	return (0);
}

/* hook - tell a test which step of save has just completed */
static void
hook(const char *step)
{
	if (oa2_token_save_hook != NULL)
		oa2_token_save_hook(step);
}

/* dir_of - the directory part of path ("." or "/" when it has none) */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return (oa2_strdup("."));
	if (slash == path)
		return (oa2_strdup("/"));
	return (oa2_strndup(path, (size_t) (slash - path)));
}

/* try_lock_shared - non-blocking shared OFD lock; 1 if granted */
static int
try_lock_shared(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	return (fcntl(fd, F_OFD_SETLK, &fl) == 0);
#else
	(void) fd;
	return (0);
#endif
}

/* mark_tmp_live - a writer's OFD write lock on its own temporary file */
static void
mark_tmp_live(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	(void) fcntl(fd, F_OFD_SETLK, &fl);
#else
	(void) fd;
#endif
}

/* tmp_suffix_at - name ends in ".tmp.XXXXXX" (six letters or digits) at r */
static int
tmp_suffix_at(const char *r)
{
	size_t  sl = sizeof(TF_TMP_SUFFIX) - 1, i;

	if (strncmp(r, TF_TMP_SUFFIX, sl) != 0)
		return (0);
	for (i = 0, r += sl; r[i]; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z')
		      || (r[i] >= '0' && r[i] <= '9')))
			return (0);
	return (i == TF_TMP_RANDOM);
}

/* is_tmp_name - "<base>.tmp.XXXXXX"; base NULL: of any token file */
static int
is_tmp_name(const char *name, const char *base)
{
	size_t  bl, nl = strlen(name), tl = sizeof(TF_TMP_SUFFIX) - 1 + TF_TMP_RANDOM;

	if (base == NULL)
		return (nl > tl && tmp_suffix_at(name + nl - tl));
	bl = strlen(base);
	return (strncmp(name, base, bl) == 0 && tmp_suffix_at(name + bl));
}

/* clean_stale - remove temp files of writers that were killed; best effort */
static void
clean_stale(const char *dir, const char *base)
{
	struct dirent *de;
	struct stat st, fst;
	time_t  now = time(NULL);
	DIR    *d;
	int     fd;

	/*
	 * A temporary file is stale when it is older than OA2_TMP_STALE_SECS and no
	 * process holds the write lock its writer takes on it: OFD locks die
	 * with their last descriptor, so a killed writer holds none.
	 */
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!is_tmp_name(de->d_name, base))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(st.st_mode) || now - st.st_mtime <= OA2_TMP_STALE_SECS)
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &fst) == 0 && fst.st_dev == st.st_dev
		    && fst.st_ino == st.st_ino && try_lock_shared(fd))
			(void) unlinkat(dirfd(d), de->d_name, 0);
		(void) close(fd);
	}
	(void) closedir(d);
}

/* oa2_token_is_tmp_name - "<name>.tmp.XXXXXX": a save's temporary file */
int
oa2_token_is_tmp_name(const char *name)
{
	return (is_tmp_name(name, NULL));
}

/* oa2_token_clean_dir - one pass: the stale temp files of every token file in dir */
void
oa2_token_clean_dir(const char *dir)
{
	clean_stale(dir, NULL);
}

/* sync_dir - make the rename durable; 0, or -1 with errno for a real failure */
static int
sync_dir(const char *dir)
{
	int     fd, rc = 0;

	/* A directory we may write but not read, or one that cannot be
	 * synced (some network and FUSE file systems), is not an error. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (errno == EACCES || errno == EPERM ? 0 : -1);
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS
	    && errno != ENOTSUP && errno != EBADF)
		rc = -1;
	(void) close(fd);
	return (rc);
}

/* save_error - a failure before the rename: the old file is untouched */
static enum oa2_status
save_error(const char *dir, const char *path, const char *what, int errnum,
	           struct oa2_error *err)
{
	const char *fix;

	switch (errnum) {
	case EACCES:
	case EPERM:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				"%s: %s: %s: the directory must be writable by "
				      "uid %ld (the plugin replaces the file "
				      "atomically)", dir, what,
				      strerror(errnum), (long) geteuid()));
	case ENOSPC:
	case EDQUOT:
		fix = "free some space";
		break;
	case EROFS:
		fix = "the token file must be on a writable file system";
		break;
	default:
		fix = "check the file system";
		break;
	}
	return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			      "%s: %s: %s: %s; %s is unchanged", dir, what,
			      strerror(errnum), fix, path));
}

/* serialize - the text to write, checked to parse back to the same document */
static enum oa2_status
serialize(json_t *root, const char *path, char **dumpp, size_t *lenp,
	          struct oa2_error *err)
{
	json_error_t je;
	json_t *back;
	char   *dump;
	size_t  len;
	int     nomem, same;

	*dumpp = NULL;
	*lenp = 0;
	if ((dump = oa2_tokdoc_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
	    == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			 "%s: out of memory saving it: it is unchanged", path));
	len = strlen(dump);

	/*
	 * A file that loaded must still fit after a refresh, or a rotated
	 * refresh token would be lost: when indenting is what makes it too
	 * big, write it compact.
	 */
	if (len + 1 > OA2_TOKFILE_MAX) {
		oa2_wipe(dump, len);
		free(dump);
		if ((dump = oa2_tokdoc_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER))
		    == NULL)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					      "%s: out of memory saving it: it "
					      "is unchanged", path));
		len = strlen(dump);
		if (len + 1 > OA2_TOKFILE_MAX) {
			oa2_wipe(dump, len);
			free(dump);
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: the new content would be larger than %d "
					 "bytes: remove unknown fields; it is "
					      "unchanged", path, OA2_TOKFILE_MAX));
		}
	}

	/* What goes to disk must read back as exactly this document. */
	back = oa2_tokdoc_loadb(dump, len, &je, &nomem);
	same = back != NULL && json_equal(back, root);
	oa2_json_wipe_decref(back);
	if (!same) {
		oa2_wipe(dump, len);
		free(dump);
		if (nomem)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					      "%s: out of memory saving it: it "
					      "is unchanged", path));
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				      "%s: the serialized document does not "
				      "read back the same (a bug): it is "
				      "unchanged", path));
	}
	*dumpp = dump;
	*lenp = len;
	return (OA2_OK);
}

/* oa2_token_save_prepare - the temporary file, ready before the request */
enum oa2_status
oa2_token_save_prepare(struct oa2_token_save *sv, const char *path,
		               struct oa2_error *err)
{
	enum oa2_status st;
	size_t  plen;
	int     errnum;

	memset(sv, 0, sizeof(*sv));
	sv->fd = -1;
	if (path == NULL || *path == 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
			    "oa2_token_save_prepare: bad arguments (a bug)"));
	if (lstat(path, &sv->old) == 0) {
		if (S_ISLNK(sv->old.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				   "%s: is a symbolic link: give the real path",
					      path));
		if (S_ISDIR(sv->old.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
		sv->have_old = S_ISREG(sv->old.st_mode);
	}
	plen = strlen(path);
	if ((sv->path = oa2_strdup(path)) == NULL
	    || (sv->tmp = oa2_malloc(plen + sizeof(TF_TMP_SUFFIX) + TF_TMP_RANDOM))
	    == NULL || (sv->dir = dir_of(path)) == NULL) {
		if (sv->tmp != NULL)
			sv->tmp[0] = 0;		/* no file yet: nothing to unlink */
		oa2_token_save_abort(sv);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			  "%s: out of memory saving it: it is unchanged", path));
	}
	memcpy(sv->tmp, path, plen);
	memcpy(sv->tmp + plen, TF_TMP_SUFFIX "XXXXXX",
	       sizeof(TF_TMP_SUFFIX) + TF_TMP_RANDOM);

	if ((sv->fd = mkostemp(sv->tmp, O_CLOEXEC)) < 0) {
		st = save_error(sv->dir, path, "cannot create a temporary file",
				errno, err);
		/* Nothing was created: nothing to remove. */
		sv->tmp[0] = 0;
		oa2_token_save_abort(sv);
		return (st);
	}
	mark_tmp_live(sv->fd);
	if (fchmod(sv->fd, S_IRUSR | S_IWUSR) < 0) {
		st = save_error(sv->dir, path, "cannot chmod a temporary file",
				errno, err);
		oa2_token_save_abort(sv);
		return (st);
	}
	/* As root, a file the postfix user can no longer read is a lost file. */
	if (sv->have_old && geteuid() == 0
	    && fchown(sv->fd, sv->old.st_uid, sv->old.st_gid) < 0) {
		errnum = errno;
		st = oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: cannot give a temporary file the owner %ld:%ld "
				   "of %s: %s; %s is unchanged", sv->dir,
				   (long) sv->old.st_uid, (long) sv->old.st_gid,
				   path, strerror(errnum), path);
		oa2_token_save_abort(sv);
		return (st);
	}
	hook("prepared");
	return (OA2_OK);
}

/* oa2_token_save_abort - remove the temporary file; sv is released */
void
oa2_token_save_abort(struct oa2_token_save *sv)
{
	/* A zeroed sv holds nothing: its fd 0 is not ours. */
	if (sv->tmp != NULL && sv->fd >= 0)
		(void) close(sv->fd);
	if (sv->tmp != NULL && sv->tmp[0] != 0)
		(void) unlink(sv->tmp);
	oa2_free(sv->tmp);
	oa2_free(sv->dir);
	oa2_free(sv->path);
	memset(sv, 0, sizeof(*sv));
	sv->fd = -1;
}

/* sync_tmp - fsync the temporary file; with close, 0 or -1 with errno */
static int
sync_tmp(struct oa2_token_save *sv, int do_close)
{
	int     errnum = 0;

	if (fsync(sv->fd) < 0)
		errnum = errno;
	else
		hook("synced");
	if (do_close) {
		if (close(sv->fd) < 0 && errnum == 0)
			errnum = errno;
		sv->fd = -1;
	}
	errno = errnum;
	return (errnum ? -1 : 0);
}

/* oa2_token_save_commit - write, rename over the path, make it durable */
enum oa2_status
oa2_token_save_commit(struct oa2_token_save *sv, const struct oa2_token *tok,
		              int rotated, struct oa2_error *err)
{
	struct oa2_error why;
	enum oa2_status st;
	const char *path = sv->path, *what;
	char   *dump = NULL;
	size_t  dlen = 0;

	if (sv->tmp == NULL || sv->fd < 0 || tok == NULL || tok->root == NULL)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				      "oa2_token_save_commit: nothing prepared "
				      "(a bug)"));
	/* Never write what we would refuse to read back. */
	if (oa2_tokdoc_check(tok->root, path, &why) != OA2_OK) {
		st = oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				   "%s (refusing to save it: a bug)", why.msg);
		goto out;
	}
	if ((st = serialize(tok->root, path, &dump, &dlen, err)) != OA2_OK)
		goto out;
	if (oa2_write_all(sv->fd, dump, dlen) < 0
	    || oa2_write_all(sv->fd, "\n", 1) < 0) {
		st = save_error(sv->dir, path, "cannot write a temporary file",
				errno, err);
		goto out;
	}
	hook("written");

	/*
	 * Without rotation the old file still holds a working grant: the new
	 * one replaces it only once it is on disk.  With rotation the old
	 * file is worthless from the moment the provider answered, so the
	 * new one goes into place first and is made durable after.
	 */
	if (!rotated) {
		if (sync_tmp(sv, 1) < 0) {
			st = save_error(sv->dir, path, "cannot sync a temporary "
					"file", errno, err);
			goto out;
		}
	}
	if (rename(sv->tmp, path) < 0) {
		st = save_error(sv->dir, path, "cannot rename a temporary file "
				"over the token file", errno, err);
		goto out;
	}
	sv->tmp[0] = 0;				/* nothing to remove now */
	hook("renamed");
	what = NULL;
	if (rotated && sync_tmp(sv, 1) < 0)
		what = "cannot sync the new file";
	else if (sync_dir(sv->dir) < 0)
		what = "cannot sync the directory";
	if (what != NULL) {
		st = oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
				   "%s: %s: %s: %s was replaced but may not "
				   "survive a crash", sv->dir, what,
				   strerror(errno), path);
		goto out;
	}
	if (!oa2_token_save_batch)
		clean_stale(sv->dir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	st = OA2_OK;

out:
	if (dump != NULL) {
		oa2_wipe(dump, dlen);
		free(dump);
	}
	oa2_token_save_abort(sv);
	return (st);
}

/* oa2_token_save - prepare and commit in one: fsync before the rename */
enum oa2_status
oa2_token_save(const struct oa2_token *tok, const char *path,
	               struct oa2_error *err)
{
	struct oa2_token_save sv;
	enum oa2_status st;

	if (tok == NULL || tok->root == NULL || path == NULL || *path == 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				    "oa2_token_save: bad arguments (a bug)"));
	if ((st = oa2_token_save_prepare(&sv, path, err)) != OA2_OK)
		return (st);
	return (oa2_token_save_commit(&sv, tok, 0, err));
}
