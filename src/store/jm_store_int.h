/* Shared by the store's files: statement helpers. Not for callers. */
#ifndef JM_STORE_INT_H
#define JM_STORE_INT_H

#include <apr_strings.h>
#include "store/jm_store.h"

#define ARGS(...) (const char *[]){ __VA_ARGS__ }
#define NARGS(...) (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))
#define EXEC(db, id, p, ...) jm_db_exec(db, NULL, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)
#define EXECN(db, pn, id, p, ...) jm_db_exec(db, pn, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)
#define SELECT(rows, db, id, p, ...) jm_db_select(rows, db, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)
#define COL(rows, i, c) (APR_ARRAY_IDX(rows, i, const char **)[c])

static inline const char *jm_i64(apr_int64_t v, apr_pool_t *p)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/** The first column of every row (id lists). */
apr_array_header_t *jm_store_first_column(apr_array_header_t *rows, apr_pool_t *p);

/** A failed statement's message lives in its pool: keep it in p. */
apr_status_t jm_store_keep_error(apr_status_t rv, jm_db_t *db, apr_pool_t *p);

#endif
