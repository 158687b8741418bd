/* Several emails read at once (Email/get): the rows and then their
 * mailboxes, each with one composed statement (jm_db_select_sql) whose
 * IN-list has a placeholder per id. */
#include <apr_hash.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"

/* Run sql[0] sql[1]... sql[2] with the account and the ids, the list
 * rounded up to a power of two with the last id repeated: at most seven
 * shapes of each statement per connection. */
static apr_status_t select_in(apr_array_header_t **prows, jm_db_t *db,
                              const char *const sql[3], const char *account_id,
                              const char *const *ids, int n, apr_pool_t *p)
{
    apr_array_header_t *parts;
    const char **args;
    int shape = 1, i;

    while (shape < n) {
        shape *= 2;
    }
    parts = apr_array_make(p, shape + 1, sizeof(const char *));
    args = apr_palloc(p, sizeof(*args) * (apr_size_t)(shape + 1));
    args[0] = account_id;
    APR_ARRAY_PUSH(parts, const char *) = sql[0];
    for (i = 0; i < shape; i++) {
        args[i + 1] = ids[i < n ? i : n - 1];
        if (i > 0) {
            APR_ARRAY_PUSH(parts, const char *) = sql[1];
        }
    }
    APR_ARRAY_PUSH(parts, const char *) = sql[2];
    return jm_db_select_sql(prows, db, apr_array_pstrcat(p, parts, '\0'),
                            shape + 1, args, p);
}

apr_status_t jm_store_emails_get(apr_array_header_t **prows, jm_db_t *db,
                                 const char *account_id,
                                 const char *const *ids, int n, apr_pool_t *p)
{
    apr_array_header_t *rows, *mrows, *out;
    apr_hash_t *byid;
    apr_status_t rv;
    int i;

    if (n <= 0 || n > JM_STORE_EMAIL_BATCH) {
        *prows = apr_array_make(p, 1, sizeof(jm_email_row_t *));
        return n <= 0 ? APR_SUCCESS : APR_EINVAL;
    }
    if (APR_SUCCESS != (rv = select_in(&rows, db, jm_sql_emails_in, account_id,
                                       ids, n, p))) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts + 1, sizeof(jm_email_row_t *));
    byid = apr_hash_make(p);
    for (i = 0; i < rows->nelts; i++) {
        jm_email_row_t *e = apr_pcalloc(p, sizeof(*e));

        e->id = COL(rows, i, 0);
        e->blob_id = COL(rows, i, 1);
        e->thread_id = COL(rows, i, 2);
        e->size = apr_atoi64(COL(rows, i, 3));
        e->received_at = apr_time_from_sec(apr_atoi64(COL(rows, i, 4)));
        e->keywords = COL(rows, i, 5);
        e->view = COL(rows, i, 6);
        e->mailbox_ids = apr_array_make(p, 2, sizeof(const char *));
        apr_hash_set(byid, e->id, APR_HASH_KEY_STRING, e);
        APR_ARRAY_PUSH(out, jm_email_row_t *) = e;
    }
    if (rows->nelts > 0) {
        if (APR_SUCCESS != (rv = select_in(&mrows, db, jm_sql_email_mailboxes_in,
                                           account_id, ids, n, p))) {
            return rv;
        }
        for (i = 0; i < mrows->nelts; i++) {
            jm_email_row_t *e = apr_hash_get(byid, COL(mrows, i, 0),
                                             APR_HASH_KEY_STRING);
            if (e) {
                APR_ARRAY_PUSH(e->mailbox_ids, const char *) = COL(mrows, i, 1);
            }
        }
    }
    *prows = out;
    return APR_SUCCESS;
}
