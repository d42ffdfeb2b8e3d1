/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	free-scan 3
 * SUMMARY
 *	LD_PRELOAD shim: what secrets are left in memory given back to malloc
 * SYNOPSIS
 *	FREE_SCAN_OUT=report LD_PRELOAD=.../free-scan.so program ...
 * DESCRIPTION
 *	Replaces free(3) and realloc(3) of the whole process (glibc's own
 *	__libc_malloc/__libc_free underneath; this realloc always moves).
 *	Before a block is given back, its whole usable size is scanned for
 *	runs of 8 or more token bytes
 *	(letters, digits and "-._~", the unreserved URL bytes that OAuth
 *	tokens and client secrets are made of); every run is recorded as its
 *	64-bit FNV-1a hash and length, with the shared object that called
 *	free() (dladdr of the return address, resolved at once: the plugin
 *	may be unloaded before the process ends).  Then the block is zeroed,
 *	so that its next owner, which may not write all of it (opendir's
 *	buffer, say), does not later free the old bytes and take the blame.
 *
 *	At exit the records are written to $FREE_SCAN_OUT, one line each:
 *	"HASH LEN COUNT OBJECT" (hash in hex).  Nothing but hashes is
 *	written: the report holds no secret.  A test then hashes each token
 *	and secret it knows (also the ones a refresh created during the run)
 *	and looks them up: a hit with OBJECT libsasl-oauth2.so means the
 *	plugin freed a block that still held that secret, i.e. did not wipe
 *	it first.  Hits in other objects (libcurl, OpenSSL, libsasl2, the
 *	client) are theirs.
 *
 *	Without FREE_SCAN_OUT the shim only passes calls through.
 *
 *	To find the code that frees a given secret unwiped, set FREE_SCAN_TRAP
 *	to it and run under a debugger: the shim raises SIGTRAP in free()
 *	when a block holds those bytes (for developers; not used by tests).
 * LICENSE
 *	MIT
 *--*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

/* System library. */

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

void	free(void *);
void   *realloc(void *, size_t);

#define RUN_MIN		8
#define RUN_MAX		8192
#define MAX_REC		65536
#define OBJ_MAX		48

struct rec {
	uint64_t hash;
	uint32_t len;
	uint32_t count;
	char	obj[OBJ_MAX];
};

static struct rec recs[MAX_REC];
static unsigned long nrec, dropped;
static int lock_word;
static int enabled = -1;
static __thread int busy;

static void
lock(void)
{
	while (__atomic_test_and_set(&lock_word, __ATOMIC_ACQUIRE))
		;
}

static void
unlock(void)
{
	__atomic_clear(&lock_word, __ATOMIC_RELEASE);
}

/* is_tokchar - a byte tokens and secrets are made of */
static int
is_tokchar(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		|| (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
		|| c == '~');
}

/* fnv1a - 64-bit FNV-1a */
static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return (h);
}

/* base_of - base name of the shared object holding addr */
static const char *
base_of(void *addr)
{
	const char *name = "?", *slash;
	Dl_info	dl;

	if (dladdr(addr, &dl) != 0 && dl.dli_fname != NULL && *dl.dli_fname)
		name = dl.dli_fname;
	slash = strrchr(name, '/');
	return (slash ? slash + 1 : name);
}

/*
 * object_of - who freed: the object that called free(); when that is libc
 * itself (a libc function freeing on someone's behalf), "libc.so.6<-X"
 * with X the first caller outside libc and this shim.
 */
static void
object_of(void *addr, char *buf, size_t size)
{
	const char *name = base_of(addr), *up;
	void   *frames[24];
	int	n, i;

	if (strncmp(name, "libc.so", 7) != 0) {
		snprintf(buf, size, "%s", name);
		return;
	}
	n = backtrace(frames, 24);
	for (i = 0; i < n; i++) {
		up = base_of(frames[i]);
		if (strncmp(up, "libc.so", 7) != 0 && strstr(up, "free-scan") == NULL) {
			snprintf(buf, size, "%s<-%s", name, up);
			return;
		}
	}
	snprintf(buf, size, "%s", name);
}

/* note - record one run */
static void
note(const unsigned char *run, size_t len, const char *obj)
{
	uint64_t h = fnv1a(run, len);
	unsigned long i;

	lock();
	for (i = 0; i < nrec; i++)
		if (recs[i].hash == h && recs[i].len == len
		    && strcmp(recs[i].obj, obj) == 0) {
			recs[i].count++;
			unlock();
			return;
		}
	if (nrec < MAX_REC) {
		recs[nrec].hash = h;
		recs[nrec].len = (uint32_t) len;
		recs[nrec].count = 1;
		snprintf(recs[nrec].obj, OBJ_MAX, "%s", obj);
		nrec++;
	} else {
		dropped++;
	}
	unlock();
}

/* scan - record the token runs of a block about to be freed */
static void scan_bytes(const unsigned char *, size_t, void *);

static void
scan(void *p, void *caller)
{
	static const char *trap;
	static int trap_set;

	if (!trap_set) {
		trap = getenv("FREE_SCAN_TRAP");
		trap_set = 1;
	}
	if (trap != NULL && *trap != 0
	    && memmem(p, malloc_usable_size(p), trap, strlen(trap)) != NULL)
		raise(SIGTRAP);
	if (enabled < 0)
		enabled = getenv("FREE_SCAN_OUT") != NULL;
	if (!enabled || busy)
		return;
	busy = 1;
	scan_bytes(p, malloc_usable_size(p), caller);
	busy = 0;
}

/*
 * free - scan, then zero the block: so that no later owner of the memory
 * (which may never write all of it: opendir's buffer, say) frees our
 * residue again and takes the blame for it.
 */
void
free(void *p)
{
	if (p != NULL) {
		scan(p, __builtin_return_address(0));
		if (enabled > 0)
			memset(p, 0, malloc_usable_size(p));
	}
	__libc_free(p);
}

/* scan_bytes - record the token runs of n bytes */
static void
scan_bytes(const unsigned char *b, size_t n, void *caller)
{
	size_t	i = 0, j;
	char	obj[OBJ_MAX];
	int	named = 0;

	while (i < n) {
		if (!is_tokchar(b[i])) {
			i++;
			continue;
		}
		for (j = i; j < n && is_tokchar(b[j]); j++)
			;
		if (j - i >= RUN_MIN && j - i <= RUN_MAX) {
			if (!named) {
				object_of(caller, obj, sizeof(obj));
				named = 1;
			}
			note(b + i, j - i, obj);
		}
		i = j;
	}
}

extern void *__libc_malloc(size_t);

/*
 * realloc - always moves: the old block is scanned and zeroed like a freed
 * one (a realloc that moved inside glibc would free it as it was).
 */
void   *
realloc(void *old, size_t n)
{
	size_t	oldsize;
	void   *p;

	if (old == NULL)
		return (__libc_malloc(n));
	if (n == 0) {
		free(old);
		return (NULL);
	}
	oldsize = malloc_usable_size(old);
	if ((p = __libc_malloc(n)) == NULL)
		return (NULL);
	memcpy(p, old, oldsize < n ? oldsize : n);
	scan(old, __builtin_return_address(0));
	memset(old, 0, oldsize);
	__libc_free(old);
	return (p);
}

/* report - write the records at exit */
__attribute__((destructor))
static void
report(void)
{
	const char *path = getenv("FREE_SCAN_OUT");
	char	line[160];
	unsigned long i;
	int	fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
		return;
	for (i = 0; i < nrec; i++) {
		n = snprintf(line, sizeof(line), "%016llx %u %u %s\n",
			     (unsigned long long) recs[i].hash, recs[i].len,
			     recs[i].count, recs[i].obj);
		if (n > 0 && write(fd, line, (size_t) n) < 0)
			break;
	}
	if (dropped) {
		n = snprintf(line, sizeof(line), "# dropped %lu records\n", dropped);
		if (n > 0)
			(void) !write(fd, line, (size_t) n);
	}
	close(fd);
}
