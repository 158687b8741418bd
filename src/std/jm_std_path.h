/* A path stack for argument parsing: every error names the exact place
 * ("create/c1/mailboxIds/x", "filter/conditions/2/operator"). Segments are
 * kept JSON-Pointer-escaped (RFC 6901: ~ as ~0, / as ~1), as /set patch
 * keys and SetError "properties" use the same form (RFC 8620 §5.3). */
#ifndef JM_STD_PATH_H
#define JM_STD_PATH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "core/jm_json.h"

typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *segs;     /**< escaped segments (const char *) */
    apr_array_header_t *invalid;  /**< recorded invalid paths, no repeats */
    const char *why;              /**< reason given with the first one */
} jm_path_t;

void jm_path_init(jm_path_t *path, apr_pool_t *pool);
/** Enter a member (escaped here) or an array index. */
void jm_path_push(jm_path_t *path, const char *name);
void jm_path_push_index(jm_path_t *path, size_t i);
void jm_path_pop(jm_path_t *path);
/** The current path joined with "/" ("" at the root). */
const char *jm_path_str(const jm_path_t *path);
/** Record the current path, extended by name if not NULL, as invalid;
 *  why (may be NULL) is kept for the first one only. */
void jm_path_invalid(jm_path_t *path, const char *name, const char *why);
/** The same with ptr, already a pointer (a PatchObject key), appended
 *  as it is. */
void jm_path_invalid_ptr(jm_path_t *path, const char *ptr, const char *why);
/** How many invalid paths were recorded. */
int jm_path_nerrors(const jm_path_t *path);
/** The invalid paths as a JSON array (new reference). */
json_t *jm_path_invalid_json(const jm_path_t *path);
/** "a/b (why)" for the first invalid path; NULL when none. */
const char *jm_path_first(const jm_path_t *path);

/** RFC 6901 escaping of one segment. */
const char *jm_pointer_escape(const char *s, apr_pool_t *p);
/** Split a pointer without its leading "/" into decoded segments (const
 *  char *); NULL when a "~" is not followed by 0 or 1. */
apr_array_header_t *jm_pointer_split(const char *ptr, apr_pool_t *p);

#endif
