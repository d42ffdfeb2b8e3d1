/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokfile 3
 * SUMMARY
 *	token file: the one load, and lock -> load -> edit -> save
 * SYNOPSIS
 *	#include "oa2_tokfile.h"
 *
 *	enum oa2_status oa2_token_load(tok, path, fd, sb, err)
 *	enum oa2_status oa2_token_modify(path, fn, arg, held, err)
 * DESCRIPTION
 *	The SASL password the plugin receives is the path of a JSON token
 *	file.  Many Postfix smtp processes, each running as the postfix user
 *	and often inside a chroot, may read and refresh one file at the same
 *	time.  The token file modules -- this one, oa2_tokdoc(3) (the
 *	document), oa2_toklock(3) (the lock) and oa2_toksave(3) (the atomic
 *	save) -- are the only code that touches such a file.
 *
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
 *	OA2_ERR_INPUT with err->code "token_file".
 *
 *	It first checks the file itself (regular file, not a symbolic link,
 *	mode 0600 or stricter, not empty, at most OA2_TOKFILE_MAX bytes),
 *	then parses it with oa2_token_parse().  A
 *	load is open, fstat, one pread (the buffer is sized from fstat; a
 *	file that grew meanwhile is read on up to the cap) and close; with a
 *	descriptor (fd >= 0, a locked file) it is fstat and pread from offset
 *	0.  sb, when not NULL, receives that fstat: the identity of the file
 *	the document came from, which the plugin's token cache keys on
 *	(oa2_cache(3)).
 *
 *	oa2_token_modify() is the one way to change a token file in place:
 *	oa2_token_lock(), oa2_token_load() of the locked descriptor, the
 *	caller's edit, oa2_token_save() when the edit succeeded and changed
 *	the document (tok->edits) and did not save it itself (a refresh
 *	does, with oa2_token_save_commit(), and sets tok->saved_edits),
 *	oa2_token_unlock().  A refresh, marking
 *	a token stale and the tool's time stamps all go through it.  The
 *	edit is fn(tok, arg, err); the document is saved only when fn
 *	returned OA2_OK and changed it.  With held not NULL, held->tok
 *	receives the document as it is after fn (also when fn failed; the
 *	caller frees it), held->sb the fstat of the file it was read from,
 *	and held->locked says whether the lock was taken (a failure with
 *	locked 0 is the lock's).
 * DIAGNOSTICS
 *	Each failure fills *err with one line that starts with the file,
 *	names the field at fault and says what to do.  Status OA2_ERR_INPUT
 *	with code "token_file" for anything the administrator must fix,
 *	OA2_ERR_NOMEM when memory ran out, OA2_ERR_TEMP for a lock that
 *	could not be settled or a passing shortage (descriptors).
 * SECURITY
 *	Buffers that held the file are wiped before they are freed.
 * SEE ALSO
 *	oa2_tokdoc(3), oa2_toklock(3), oa2_toksave(3);
 *	sasl-oauth2-token(5), the file format.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"
#include "oa2_tokpriv.h"

/* oa2_tokfile_open_error - the one-line message for a failed open of the token file */
enum oa2_status
oa2_tokfile_open_error(const char *path, int errnum, int writing, struct oa2_error *err)
{
	struct stat st;
	const char *how = writing ? "cannot open for writing" : "cannot open";

	switch (errnum) {
	case ELOOP:
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				   "%s: is a symbolic link: give the real path",
					      path));
		break;
	case EISDIR:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
	case ENXIO:			/* a socket, or a device without one */
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			   "%s: is not a regular file (a FIFO, socket or "
				      "device): give the path of the token file",
				      path));
	case EACCES:
	case EPERM:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				"%s: %s: %s (running as uid %ld): make it %s",
				      path, how, strerror(errnum),
				      (long) geteuid(), writing ?
				      "readable and writable by that user "
				      "(needed to lock it)" :
				      "readable by that user"));
	case ENOENT:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			 "%s: %s: %s: check the path (inside a chroot, such "
			    "as Postfix's, it is relative to the chroot)",
				      path, how, strerror(errnum)));
	case EROFS:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: %s: %s: the token file must be on "
				      "a writable file system (the plugin "
				      "refreshes it)", path, how,
				      strerror(errnum)));
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case EINTR:
		return (oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
				      "%s: %s: %s: try again later", path, how,
				      strerror(errnum)));
	}
	return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE, "%s: %s: %s",
			      path, how, strerror(errnum)));
}

/* oa2_tokfile_check_type - fstat the open file; it must be a regular file */
enum oa2_status
oa2_tokfile_check_type(int fd, const char *path, struct stat *st, struct oa2_error *err)
{
	if (fstat(fd, st) < 0)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: cannot stat: %s", path,
				      strerror(errno)));
	if (S_ISDIR(st->st_mode))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
	if (!S_ISREG(st->st_mode))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			   "%s: is not a regular file (a FIFO, socket or "
				      "device): give the path of the token file",
				      path));
	return (OA2_OK);
}

/* check_fd - the open file must be a regular file with mode 0600 or stricter */
static enum oa2_status
check_fd(int fd, const char *path, struct stat *st, struct oa2_error *err)
{
	enum oa2_status rc;
	unsigned mode;

	if ((rc = oa2_tokfile_check_type(fd, path, st, err)) != OA2_OK)
		return (rc);
	mode = (unsigned) (st->st_mode & 07777);
	if (mode & 077)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			     "%s: is %s by group or others (mode %04o): run "
				      "chmod 600 %s", path,
				      (mode & 044) ? "readable" :
				      "writable or executable", mode, path));
	return (OA2_OK);
}

/*
 * read_fd - read the whole file from offset 0; *bufp must be wiped and freed.
 *
 * The buffer is sized from fstat (size_hint) so that the usual file is read
 * with one pread into one small block: a read shorter than asked for is the
 * end of a regular file.  A file that grew since fstat is read on, up to the
 * cap.
 */
static enum oa2_status
read_fd(int fd, const char *path, off_t size_hint, char **bufp,
	        size_t *lenp, struct oa2_error *err)
{
	char   *buf, *nbuf;
	size_t  len = 0, cap, want;
	ssize_t n;

	*bufp = NULL;
	*lenp = 0;
	cap = size_hint >= 0 && size_hint < OA2_TOKFILE_MAX ?
		(size_t) size_hint + 1 : OA2_TOKFILE_MAX + 1;
	if ((buf = oa2_malloc(cap)) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				    "%s: out of memory reading it", path));
	for (;;) {
		want = cap - len;
		n = pread(fd, buf + len, want, (off_t) len);
		if (n < 0) {
			int     errnum = errno;

			if (errnum == EINTR)
				continue;
			oa2_wipe(buf, len);
			oa2_free(buf);
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
					      "%s: cannot read: %s", path,
					      strerror(errnum)));
		}
		len += (size_t) n;
		if ((size_t) n < want)
			break;			/* end of file */
		if (cap == OA2_TOKFILE_MAX + 1)
			break;			/* too large: refused below */
		/* It grew since fstat: read on into a block at the cap. */
		if ((nbuf = oa2_malloc(OA2_TOKFILE_MAX + 1)) == NULL) {
			oa2_wipe(buf, len);
			oa2_free(buf);
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					    "%s: out of memory reading it", path));
		}
		memcpy(nbuf, buf, len);
		oa2_wipe(buf, len);
		oa2_free(buf);
		buf = nbuf;
		cap = OA2_TOKFILE_MAX + 1;
	}
	if (len > OA2_TOKFILE_MAX) {
		oa2_wipe(buf, len);
		oa2_free(buf);
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is larger than %d bytes", path,
				      OA2_TOKFILE_MAX));
	}
	*bufp = buf;
	*lenp = len;
	return (OA2_OK);
}

/* read_parse - read and parse a checked file whose fstat is *st */
static enum oa2_status
read_parse(struct oa2_token *tok, int fd, const char *path,
	           const struct stat *st, struct oa2_error *err)
{
	enum oa2_status rc;
	char   *buf;
	size_t  len;

	if ((rc = read_fd(fd, path, st->st_size, &buf, &len, err)) != OA2_OK)
		return (rc);
	rc = oa2_token_parse(tok, path, buf, len, err);
	oa2_wipe(buf, len);
	oa2_free(buf);
	return (rc);
}

/*
 * oa2_token_load - check and parse path, or the open (locked) fd.  Without
 * fd: open (no symlinks, no FIFO hang), fstat, pread, close (O_NONBLOCK
 * means nothing for the regular file it must be, so it is not cleared).
 */
enum oa2_status
oa2_token_load(struct oa2_token *tok, const char *path, int fd,
	               struct stat *sb, struct oa2_error *err)
{
	enum oa2_status st;
	struct stat own;
	int     ofd = fd;

	memset(tok, 0, sizeof(*tok));
	tok->refresh_window = -1;
	if (sb == NULL)
		sb = &own;
	if (fd < 0) {
		ofd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (ofd < 0)
			return (oa2_tokfile_open_error(path, errno, 0, err));
	}
	if ((st = check_fd(ofd, path, sb, err)) == OA2_OK)
		st = read_parse(tok, ofd, path, sb, err);
	if (fd < 0)
		(void) close(ofd);
	return (st);
}

/* oa2_token_modify - lock, load, edit, save when changed, unlock */
enum oa2_status
oa2_token_modify(const char *path, oa2_token_edit_fn fn, void *arg,
		         struct oa2_token_held *held, struct oa2_error *err)
{
	struct oa2_token_held own;
	enum oa2_status st;
	unsigned long before;
	int     fd = -1;

	if (held == NULL)
		held = &own;
	memset(held, 0, sizeof(*held));
	held->tok.refresh_window = -1;
	held->tok.expires_in = -1;
	if ((st = oa2_token_lock(path, &fd, err)) != OA2_OK)
		return (st);
	held->locked = 1;
	if ((st = oa2_token_load(&held->tok, path, fd, &held->sb, err))
	    == OA2_OK) {
		before = held->tok.edits;
		st = fn(&held->tok, arg, err);
		/* Saved unless fn saved it itself (oa2_token_save_commit()). */
		if (st == OA2_OK && held->tok.edits != before
		    && held->tok.edits != held->tok.saved_edits)
			st = oa2_token_save(&held->tok, path, err);
	}
	oa2_token_unlock(&fd);
	if (held == &own)
		oa2_token_free(&own.tok);
	return (st);
}
