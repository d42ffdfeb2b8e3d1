/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_json 3h
 * SUMMARY
 *	jansson without a process-wide allocator: parse, wipe, dump
 * DESCRIPTION
 *	See oa2_json.c.
 *--*/
#ifndef OA2_JSON_H
#define OA2_JSON_H

#include <stddef.h>
#include <jansson.h>

/* oa2_json_loadb - json_loadb; NULL with *nomem set when memory ran out */
json_t *oa2_json_loadb(const char *data, size_t len, size_t flags,
    json_error_t *je, int *nomem);

/* oa2_json_wipe_decref - wipe the strings only this reference holds, then json_decref */
void oa2_json_wipe_decref(json_t *json);

/* oa2_json_dumps - json_dumpb into our own block (NUL-terminated); NULL on failure */
char *oa2_json_dumps(const json_t *json, size_t flags, size_t *lenp);

/* oa2_json_free_dump - wipe and release an oa2_json_dumps() result */
void oa2_json_free_dump(char *dump);

#endif
