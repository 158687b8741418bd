/* Identities (RFC 8621 §6), the vacation response (§8), its reply log and
 * outbox (RFC 3834). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"

apr_status_t jm_store_state_ensure(const char **pstate, jm_db_t *db,
                                   const char *account_id, const char *type,
                                   apr_pool_t *p)
{
    apr_status_t rv = jm_store_state(pstate, db, account_id, type, p);

    if (rv != APR_NOTFOUND) {
        return rv;
    }
    /* ON CONFLICT DO NOTHING: a racing request may make it first */
    if ((rv = EXEC(db, JM_SQL_STATE_INSERT, p, account_id, type)) != APR_SUCCESS) {
        return rv;
    }
    return jm_store_state(pstate, db, account_id, type, p);
}

apr_status_t jm_store_identities(apr_array_header_t **prows, jm_db_t *db,
                                 const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows, *out;
    apr_status_t rv;
    int i;

    if ((rv = SELECT(&rows, db, JM_SQL_IDENTITY_LIST, p, account_id)) != APR_SUCCESS) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts + 1, sizeof(jm_identity_row_t *));
    for (i = 0; i < rows->nelts; i++) {
        jm_identity_row_t *r = apr_pcalloc(p, sizeof(*r));
        r->id = COL(rows, i, 0);
        r->email = COL(rows, i, 1);
        r->is_default = atoi(COL(rows, i, 2)) != 0;
        r->data = COL(rows, i, 3);
        APR_ARRAY_PUSH(out, jm_identity_row_t *) = r;
    }
    *prows = out;
    return APR_SUCCESS;
}

apr_status_t jm_store_identity_insert(jm_db_t *db, const char *account_id,
                                      const jm_identity_row_t *row, apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;
    int n = 0;

    if ((rv = EXECN(db, &n, JM_SQL_IDENTITY_INSERT, p, account_id, row->id,
                    row->email, row->is_default ? "1" : "0", row->data,
                    jm_i64(apr_time_now(), p))) != APR_SUCCESS) {
        return rv;
    }
    if (n == 0) {
        return APR_EEXIST;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_IDENTITY, row->id,
                           "created", p);
}

apr_status_t jm_store_identity_update(jm_db_t *db, const char *account_id,
                                      const char *id, const char *data,
                                      apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;
    int n = 0;

    if ((rv = EXECN(db, &n, JM_SQL_IDENTITY_UPDATE, p, data, account_id, id))
        != APR_SUCCESS) {
        return rv;
    }
    if (n == 0) {
        return APR_NOTFOUND;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_IDENTITY, id, "updated", p);
}

apr_status_t jm_store_identity_destroy(jm_db_t *db, const char *account_id,
                                       const char *id, apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;
    int n = 0;

    if ((rv = EXECN(db, &n, JM_SQL_IDENTITY_DELETE, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    if (n == 0) {
        return APR_NOTFOUND;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_IDENTITY, id, "destroyed", p);
}

apr_status_t jm_store_vacation_get(const char **pdata, jm_db_t *db,
                                   const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if ((rv = SELECT(&rows, db, JM_SQL_VACATION_GET, p, account_id)) != APR_SUCCESS) {
        return rv;
    }
    *pdata = rows->nelts ? COL(rows, 0, 0) : NULL;
    return APR_SUCCESS;
}

apr_status_t jm_store_vacation_put(jm_db_t *db, const char *account_id,
                                   const char *data, apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;

    /* the state row first: the change below bumps it */
    if ((rv = jm_store_state_ensure(&st, db, account_id, JM_TYPE_VACATION, p))
        != APR_SUCCESS
        || (rv = EXEC(db, JM_SQL_VACATION_PUT, p, account_id, data)) != APR_SUCCESS) {
        return rv;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_VACATION, "singleton",
                           "updated", p);
}

apr_status_t jm_store_vacation_replied(apr_int64_t *plast, jm_db_t *db,
                                       const char *account_id, const char *sender,
                                       apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if ((rv = SELECT(&rows, db, JM_SQL_VACATION_REPLY_GET, p, account_id, sender))
        != APR_SUCCESS) {
        return rv;
    }
    *plast = rows->nelts ? apr_atoi64(COL(rows, 0, 0)) : 0;
    return APR_SUCCESS;
}

apr_status_t jm_store_vacation_mark(jm_db_t *db, const char *account_id,
                                    const char *sender, apr_int64_t now,
                                    apr_int64_t forget_before, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = EXEC(db, JM_SQL_VACATION_REPLY_PRUNE, p, account_id,
                   jm_i64(forget_before, p))) != APR_SUCCESS) {
        return rv;
    }
    return EXEC(db, JM_SQL_VACATION_REPLY_PUT, p, account_id, sender, jm_i64(now, p));
}

apr_status_t jm_store_vacation_outbox_add(jm_db_t *db, const char *account_id,
                                          const char *mail_from, const char *rcpt,
                                          const char *msg, apr_int64_t now,
                                          apr_pool_t *p)
{
    return EXEC(db, JM_SQL_VACATION_OUTBOX_INSERT, p, account_id, mail_from, rcpt,
                msg, jm_i64(now, p));
}
