/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_mem 3h
 * SUMMARY
 *	allocation, secret wiping and a bounded growable buffer
 * DESCRIPTION
 *	See oa2_mem.c.
 *--*/
#ifndef OA2_MEM_H
#define OA2_MEM_H

#include <stddef.h>

void *oa2_malloc(size_t n);
void *oa2_calloc(size_t n, size_t size);
void *oa2_realloc(void *p, size_t n);
void oa2_free(void *p);
char *oa2_strdup(const char *s);
char *oa2_strndup(const char *s, size_t n);

/* oa2_wipe - zero memory in a way the optimiser keeps */
void oa2_wipe(void *p, size_t n);

/* oa2_free_secret - wipe a NUL-terminated string, free it, set *sp to NULL */
void oa2_free_secret(char **sp);

/* oa2_mem_fail_at - make allocation number k (1-based, counted from now) fail; 0 = never */
void oa2_mem_fail_at(unsigned long k);
/* oa2_mem_count - allocations made since the last oa2_mem_fail_at() */
unsigned long oa2_mem_count(void);

struct oa2_buf {
	char *data;		/* NUL-terminated, may hold NULs before len */
	size_t len;
	size_t cap;
	size_t max;		/* hard cap on len; 0 = OA2_BUF_DEFAULT_MAX */
};

#define OA2_BUF_DEFAULT_MAX (1024 * 1024)

void oa2_buf_init(struct oa2_buf *b, size_t max);
/* oa2_buf_append - append n bytes; -1 on cap or allocation failure (buffer unchanged) */
int oa2_buf_append(struct oa2_buf *b, const void *p, size_t n);
int oa2_buf_puts(struct oa2_buf *b, const char *s);
int oa2_buf_putc(struct oa2_buf *b, int c);
/* oa2_buf_reset - wipe the content, keep the memory */
void oa2_buf_reset(struct oa2_buf *b);
/* oa2_buf_free - wipe and release */
void oa2_buf_free(struct oa2_buf *b);

#endif
