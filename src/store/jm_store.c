/* Store helpers shared by the domain files (jm_store_*.c). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

apr_array_header_t *jm_store_first_column(apr_array_header_t *rows, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, rows->nelts, sizeof(const char *));
    int i;

    for (i = 0; i < rows->nelts; i++) {
        APR_ARRAY_PUSH(out, const char *) = COL(rows, i, 0);
    }
    return out;
}

apr_status_t jm_store_keep_error(apr_status_t rv, jm_db_t *db, apr_pool_t *p)
{
    if (rv != APR_SUCCESS && db->last_error) {
        db->last_error = apr_pstrdup(p, db->last_error);
    }
    return rv;
}
