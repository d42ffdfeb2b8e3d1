/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_mem 3
 * SUMMARY
 *	allocation, secret wiping and a bounded growable buffer
 * SYNOPSIS
 *	#include "oa2_mem.h"
 *
 *	void	*oa2_malloc(n)
 *	void	*oa2_calloc(n, size)
 *	void	*oa2_realloc(p, n)
 *	void	oa2_free(p)
 *	char	*oa2_strdup(s)
 *	char	*oa2_strndup(s, n)
 *	void	oa2_wipe(p, n)
 *	void	oa2_free_secret(sp)
 *	void	oa2_mem_fail_at(k)
 *	unsigned long oa2_mem_count()
 *
 *	void	oa2_buf_init(b, max)
 *	int	oa2_buf_append(b, p, n)
 *	int	oa2_buf_puts(b, s)
 *	int	oa2_buf_putc(b, c)
 *	void	oa2_buf_reset(b)
 *	void	oa2_buf_free(b)
 * DESCRIPTION
 *	All core allocations go through oa2_malloc() and friends, so that a
 *	test can make the k-th allocation fail (oa2_mem_fail_at()).  Secrets
 *	are wiped with oa2_wipe(), which the compiler cannot optimise away,
 *	before their memory is released.
 *
 *	struct oa2_buf is a byte buffer with a hard size cap; it always keeps
 *	a NUL after the data, and oa2_buf_free() wipes what it held.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "oa2_mem.h"

static unsigned long alloc_count;
static unsigned long alloc_fail_at;

/*
 * may_alloc - count an allocation; false when a test asked it to fail.
 * Atomic: threads allocate at once (a threaded host, refresh-all's jobs).
 */
static int
may_alloc(void)
{
	unsigned long n = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	unsigned long k = __atomic_load_n(&alloc_fail_at, __ATOMIC_RELAXED);

	return k == 0 || n != k;
}

void
oa2_mem_fail_at(unsigned long k)
{
	__atomic_store_n(&alloc_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&alloc_fail_at, k, __ATOMIC_RELAXED);
}

unsigned long
oa2_mem_count(void)
{
	return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
}

void *
oa2_malloc(size_t n)
{
	return may_alloc() ? malloc(n ? n : 1) : NULL;
}

void *
oa2_calloc(size_t n, size_t size)
{
	return may_alloc() ? calloc(n ? n : 1, size ? size : 1) : NULL;
}

void *
oa2_realloc(void *p, size_t n)
{
	return may_alloc() ? realloc(p, n ? n : 1) : NULL;
}

void
oa2_free(void *p)
{
	free(p);
}

char *
oa2_strndup(const char *s, size_t n)
{
	char *d;

	if ((d = oa2_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

char *
oa2_strdup(const char *s)
{
	return oa2_strndup(s, strlen(s));
}

/* oa2_wipe - zero memory; explicit_bzero is not elided by the optimiser */
void
oa2_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	{
		volatile unsigned char *v = p;

		while (n--)
			*v++ = 0;
	}
#endif
}

void
oa2_free_secret(char **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	oa2_wipe(*sp, strlen(*sp));
	free(*sp);
	*sp = NULL;
}

void
oa2_buf_init(struct oa2_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : OA2_BUF_DEFAULT_MAX;
}

/* grow - make room for need more bytes plus the NUL; wipes the old block */
static int
grow(struct oa2_buf *b, size_t need)
{
	size_t want, cap;
	char *n;

	if (need > b->max || b->len > b->max - need)
		return -1;
	want = b->len + need + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	if ((n = oa2_malloc(cap)) == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(n, b->data, b->len + 1);
		oa2_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = n;
	b->cap = cap;
	return 0;
}

int
oa2_buf_append(struct oa2_buf *b, const void *p, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int
oa2_buf_puts(struct oa2_buf *b, const char *s)
{
	return oa2_buf_append(b, s, strlen(s));
}

int
oa2_buf_putc(struct oa2_buf *b, int c)
{
	char ch = (char)c;

	return oa2_buf_append(b, &ch, 1);
}

void
oa2_buf_reset(struct oa2_buf *b)
{
	if (b->data != NULL) {
		oa2_wipe(b->data, b->cap);
		b->data[0] = 0;
	}
	b->len = 0;
}

void
oa2_buf_free(struct oa2_buf *b)
{
	if (b->data != NULL) {
		oa2_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}
