/* States without a change log (EmailDelivery) and the states of several
 * accounts at once (the push watcher, src/httpd/mod_jm_push.c). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"

apr_status_t jm_store_state_bump(jm_db_t *db, const char *account_id,
                                 const char *type, apr_pool_t *p)
{
    apr_status_t rv;

    /* the row lock of the UPDATE orders concurrent deliveries, as for
     * jm_store_change */
    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_STATE_INSERT, p, account_id, type))) {
        return rv;
    }
    return EXEC(db, JM_SQL_STATE_BUMP, p, account_id, type);
}

static apr_status_t states_batch(apr_array_header_t *out, jm_db_t *db,
                                 const char *const *ids, int n, apr_pool_t *p)
{
    apr_array_header_t *rows;
    const char **args;
    const char *sql;
    int shape = 1, i;
    apr_status_t rv;

    while (shape < n) {
        shape *= 2;
    }
    args = apr_palloc(p, sizeof(*args) * (apr_size_t)shape);
    sql = jm_sql_states_in[0];
    for (i = 0; i < shape; i++) {
        args[i] = ids[i < n ? i : n - 1];
        if (i > 0) {
            sql = apr_pstrcat(p, sql, jm_sql_states_in[1], NULL);
        }
    }
    sql = apr_pstrcat(p, sql, jm_sql_states_in[2], NULL);
    if (APR_SUCCESS != (rv = jm_db_select_sql(&rows, db, sql, shape, args, p))) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        jm_state_row_t *r = apr_array_push(out);
        r->account_id = COL(rows, i, 0);
        r->type = COL(rows, i, 1);
        r->state = apr_atoi64(COL(rows, i, 2));
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_states_of(apr_array_header_t **prows, jm_db_t *db,
                                const apr_array_header_t *accounts,
                                apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, accounts->nelts * 6 + 1,
                                             sizeof(jm_state_row_t));
    const char *const *ids = (const char *const *)accounts->elts;
    int i, n;
    apr_status_t rv;

    for (i = 0; i < accounts->nelts; i += n) {
        n = accounts->nelts - i;
        n = n > JM_STORE_STATES_BATCH ? JM_STORE_STATES_BATCH : n;
        if (APR_SUCCESS != (rv = states_batch(out, db, ids + i, n, p))) {
            return rv;
        }
    }
    *prows = out;
    return APR_SUCCESS;
}
