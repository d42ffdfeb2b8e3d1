/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_toklock 3
 * SUMMARY
 *	token file: the lock that makes N processes do one refresh
 * SYNOPSIS
 *	#include "oa2_tokfile.h"
 *
 *	enum oa2_status oa2_token_lock(path, fdp, err)
 *	void	oa2_token_unlock(fdp)
 * DESCRIPTION
 *	oa2_token_lock() opens the file read-write and returns a descriptor
 *	that holds an exclusive open-file-description lock (F_OFD_SETLKW) on
 *	the inode the path names at the moment the lock is granted: once
 *	held, it checks that the path still names the locked inode (a writer
 *	may have renamed a new file into place meanwhile) and starts over if
 *	not, at most OA2_LOCK_TRIES times.  Whoever gets it second re-reads
 *	the file (oa2_token_load() with the descriptor) and finds a fresh
 *	access token.  Where the kernel has no OFD locks it falls back to
 *	flock(2).  oa2_token_unlock() releases the lock and closes.
 * DIAGNOSTICS
 *	OA2_ERR_INPUT (code "token_file") for a path that cannot be opened
 *	for writing or is not a regular file, OA2_ERR_TEMP when the lock
 *	could not be settled.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_limits.h"
#include "oa2_tokfile.h"
#include "oa2_tokpriv.h"

/* clear_nonblock - drop O_NONBLOCK once we know the file is a regular file */
static void
clear_nonblock(int fd)
{
	int     fl;

	if ((fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
		(void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* OFD locks exist since Linux 3.15; remember when the kernel said EINVAL. */
static int no_ofd_locks;

/* lock_fd - exclusive lock on the whole file, waiting; 0 or -1 with errno */
static int
lock_fd(int fd)
{
#ifdef F_OFD_SETLKW
	struct flock fl;

	while (!no_ofd_locks) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 0;
		fl.l_pid = 0;
		if (fcntl(fd, F_OFD_SETLKW, &fl) == 0)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno != EINVAL)
			return (-1);
		no_ofd_locks = 1;
	}
#endif
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return (-1);
	return (0);
}

/* unlock_fd - release the lock even if a forked child shares the descriptor */
static void
unlock_fd(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	if (!no_ofd_locks) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void) fcntl(fd, F_OFD_SETLK, &fl);
		return;
	}
#endif
	(void) flock(fd, LOCK_UN);
}

/* oa2_token_lock - lock the inode that path names once the lock is ours */
enum oa2_status
oa2_token_lock(const char *path, int *fdp, struct oa2_error *err)
{
	struct stat held, now;
	enum oa2_status st;
	int     fd, tries;

	*fdp = -1;
	for (tries = 0; tries < OA2_LOCK_TRIES; tries++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return (oa2_tokfile_open_error(path, errno, 1, err));
		/* The mode is oa2_token_load's to judge; the type is ours. */
		if ((st = oa2_tokfile_check_type(fd, path, &held, err)) != OA2_OK) {
			(void) close(fd);
			return (st);
		}
		clear_nonblock(fd);
		if (lock_fd(fd) < 0) {
			st = oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
					   "%s: cannot lock: %s", path,
					   strerror(errno));
			(void) close(fd);
			return (st);
		}

		/*
		 * Whoever held the lock before us may have renamed a new file
		 * over the path: then we locked a dead inode, and must start
		 * over with the file that is there now.
		 */
		if (fstat(fd, &held) == 0 && lstat(path, &now) == 0
		    && held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			*fdp = fd;
			return (OA2_OK);
		}
		unlock_fd(fd);
		(void) close(fd);
	}
	return (oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
			      "%s: was replaced %d times while waiting for its "
			      "lock: try again later", path, OA2_LOCK_TRIES));
}

/* oa2_token_unlock - release the lock and close; *fdp becomes -1 */
void
oa2_token_unlock(int *fdp)
{
	if (fdp == NULL || *fdp < 0)
		return;
	unlock_fd(*fdp);
	(void) close(*fdp);
	*fdp = -1;
}
