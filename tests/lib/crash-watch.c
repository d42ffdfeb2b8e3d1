/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	crash-watch 1
 * SUMMARY
 *	LD_PRELOAD shim: time the crash window of a refresh in any host
 * SYNOPSIS
 *	CRASH_WATCH_OUT=file [CRASH_WATCH_AT=event CRASH_WATCH_SIG=KILL|TERM]
 *	LD_PRELOAD=crash-watch.so program ...
 * DESCRIPTION
 *	Watches what a process does around the save of a token file, from
 *	outside the library, so that the plugin's own path (a libsasl2
 *	client such as tests/sasl-driver) can be timed and killed like the
 *	tool's: it wraps mkostemp, the socket reads and writes (read, recv,
 *	write, send), fsync and rename.
 *
 *	Events (CLOCK_MONOTONIC, microseconds):
 *	prepared	mkostemp() of a "*.tmp.*" file returned;
 *	reply	a socket read that returned data after the socket was idle
 *		(after a write, or a read that found nothing): the latest
 *		such read before the rename is taken as the reply's first
 *		byte.  The TLS 1.3 session tickets that come before the
 *		reply are read, then the socket is found empty while the
 *		server works, so they do not count; a reply split into two
 *		segments that arrive apart would count from the second (on
 *		loopback, microseconds).  This works whether the temporary
 *		file is made before the request (now) or after the reply
 *		(before issue 11);
 *	writing	the first write() to the temporary file is about to start
 *		(the whole reply is in and parsed);
 *	written	that write returned;
 *	renamed	rename() of the temporary file returned;
 *	synced	an fsync() of the temporary file (or, after the rename,
 *		of the new file) returned.
 *
 *	The first socket write after "prepared" (the request is on its
 *	way) appends the line "sent" to CRASH_WATCH_OUT.  At each rename
 *	of a temporary file one line is appended to
 *	CRASH_WATCH_OUT: "window=N prepared=N reply=N writing=N renamed=N
 *	synced=N" (window = renamed - reply, in microseconds; times since
 *	the first event of the process; -1 when not seen).
 *
 *	With CRASH_WATCH_AT and CRASH_WATCH_SIG the process raises that
 *	signal (SIGKILL or SIGTERM) right after that event, once.
 *
 *	Nothing read or written is looked at or kept: only byte counts and
 *	the file descriptor's type.
 *--*/
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { E_PREPARED, E_REPLY, E_WRITING, E_WRITTEN, E_RENAMED, E_SYNCED, E_MAX };
static const char *names[E_MAX] = {
	"prepared", "reply", "writing", "written", "renamed", "synced"
};

static long long t[E_MAX] = { -1, -1, -1, -1, -1, -1 };
static int tmp_fd = -1;
static int idle;			/* the socket was written or found empty */
static int fired;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* event - record e; raise the signal asked for after it */
static void
event(int e)
{
	const char *at = getenv("CRASH_WATCH_AT");
	const char *sig = getenv("CRASH_WATCH_SIG");

	t[e] = now_us();
	if (!fired && at != NULL && strcmp(at, names[e]) == 0) {
		fired = 1;
		raise(sig != NULL && strcmp(sig, "TERM") == 0 ? SIGTERM : SIGKILL);
	}
}

static int
is_sock(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* REAL(name) - real_name, the next definition of name (libc's) */
#define REAL(name) \
	static __typeof__(&name) real_##name; \
	if (real_##name == NULL) \
		real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* note - append a line to CRASH_WATCH_OUT */
static void
note(const char *line)
{
	const char *out = getenv("CRASH_WATCH_OUT");
	int fd;

	if (out == NULL)
		return;
	if ((fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			perror("crash-watch");
		close(fd);
	}
}

/* report - one line per rename of a temporary file */
static void
report(void)
{
	long long base = t[E_PREPARED];
	char line[256];
	int i, n;

	n = snprintf(line, sizeof(line), "window=%lld",
	    t[E_REPLY] >= 0 && t[E_RENAMED] >= 0 ? t[E_RENAMED] - t[E_REPLY] : -1);
	for (i = 0; i < E_MAX; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%lld",
		    names[i], t[i] >= 0 && base >= 0 ? t[i] - base : -1);
	snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	note(line);
}

int
mkostemp(char *tmpl, int flags)
{
	REAL(mkostemp);
	int fd = real_mkostemp(tmpl, flags);

	if (fd >= 0 && strstr(tmpl, ".tmp.") != NULL) {
		tmp_fd = fd;
		t[E_WRITING] = t[E_WRITTEN] = -1;
		t[E_RENAMED] = t[E_SYNCED] = -1;
		event(E_PREPARED);
	}
	return fd;
}

/* got - a socket read of n bytes: data after an idle socket starts a reply */
static void
got(int fd, ssize_t n)
{
	int saved = errno;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && is_sock(fd))
		idle = 1;
	else if (n > 0 && idle && is_sock(fd)) {
		idle = 0;
		event(E_REPLY);
	}
	errno = saved;
}

/* sent - a socket write; the first one after "prepared" is noted */
static void
sent(int fd, ssize_t n)
{
	static int noted;
	int saved = errno;

	if (n > 0 && is_sock(fd)) {
		idle = 1;
		if (tmp_fd >= 0 && !noted) {
			noted = 1;
			note("sent\n");
		}
	}
	errno = saved;
}

ssize_t
read(int fd, void *buf, size_t count)
{
	REAL(read);
	ssize_t n = real_read(fd, buf, count);

	got(fd, n);
	return n;
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	REAL(recv);
	ssize_t n = real_recv(fd, buf, len, flags);

	got(fd, n);
	return n;
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	REAL(send);
	ssize_t n = real_send(fd, buf, len, flags);

	sent(fd, n);
	return n;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	REAL(write);
	ssize_t n;

	if (fd >= 0 && fd == tmp_fd && t[E_WRITING] < 0)
		event(E_WRITING);
	n = real_write(fd, buf, count);
	if (fd >= 0 && fd == tmp_fd && n > 0)
		event(E_WRITTEN);
	else
		sent(fd, n);
	return n;
}

int
fsync(int fd)
{
	REAL(fsync);
	int rc = real_fsync(fd);

	if (fd >= 0 && fd == tmp_fd && rc == 0)
		event(E_SYNCED);
	return rc;
}

int
close(int fd)
{
	REAL(close);

	if (fd >= 0 && fd == tmp_fd)
		tmp_fd = -1;
	return real_close(fd);
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	int rc = real_rename(from, to), saved = errno;

	if (rc == 0 && strstr(from, ".tmp.") != NULL) {
		event(E_RENAMED);
		report();
	}
	errno = saved;
	return rc;
}
