/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokpriv 3h
 * SUMMARY
 *	what the token file's modules share, and nobody else uses
 *--*/
#ifndef OA2_TOKPRIV_H
#define OA2_TOKPRIV_H

#include <sys/stat.h>
#include <jansson.h>

#include "oa2_error.h"

#define TF_CODE		"token_file"

/* oa2_tokdoc.c */
json_t *oa2_tokdoc_loadb(const char *data, size_t len, json_error_t *je,
    int *nomem);
char   *oa2_tokdoc_dumps(json_t *root, size_t flags);
enum oa2_status oa2_tokdoc_check(const json_t *root, const char *who,
    struct oa2_error *err);

/* oa2_tokfile.c */
enum oa2_status oa2_tokfile_open_error(const char *path, int errnum,
    int writing, struct oa2_error *err);
enum oa2_status oa2_tokfile_check_type(int fd, const char *path,
    struct stat *st, struct oa2_error *err);

#endif
