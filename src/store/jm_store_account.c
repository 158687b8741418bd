/* Accounts, data type states and the change log (RFC 8620 §5.2). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

static const char *const data_types[] = {
    JM_TYPE_MAILBOX, JM_TYPE_EMAIL, JM_TYPE_THREAD, JM_TYPE_IDENTITY,
    JM_TYPE_SUBMISSION, JM_TYPE_VACATION, JM_TYPE_EMAIL_DELIVERY, NULL
};

static const struct { const char *name, *role; } std_mailboxes[] = {
    { "Inbox", "inbox" }, { "Drafts", "drafts" }, { "Sent", "sent" },
    { "Archive", "archive" }, { "Junk", "junk" }, { "Trash", "trash" },
    { NULL, NULL }
};

static apr_status_t account_lookup(const char **pid, jm_db_t *db,
                                   const char *username, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_ACCOUNT_BY_USER, p, username))) {
        return rv;
    }
    *pid = rows->nelts ? COL(rows, 0, 0) : NULL;
    return APR_SUCCESS;
}

static apr_status_t account_create(int *pinserted, jm_db_t *db, const char *id,
                                   const char *username, apr_pool_t *p)
{
    apr_status_t rv;
    int nrows = 0, i;
    const char *now = jm_i64(apr_time_sec(apr_time_now()), p);

    if (APR_SUCCESS != (rv = jm_db_exec(db, &nrows, JM_SQL_ACCOUNT_INSERT, 3,
                                        ARGS(id, username, now), p))) {
        return rv;
    }
    *pinserted = nrows > 0;
    if (!*pinserted) {
        return APR_SUCCESS;     /* another thread or node won the race */
    }
    for (i = 0; data_types[i]; i++) {
        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_STATE_INSERT, p, id, data_types[i]))) {
            return rv;
        }
    }
    for (i = 0; std_mailboxes[i].name; i++) {
        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_MAILBOX_INSERT, p,
                                      jm_util_new_id('M', p), id,
                                      std_mailboxes[i].name, "",
                                      std_mailboxes[i].role, jm_i64(i + 1, p)))) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_account_find(const char **paccount_id, jm_db_t *db,
                                   const char *username, apr_pool_t *p)
{
    return account_lookup(paccount_id, db, username, p);
}

apr_status_t jm_store_account_ensure(const char **paccount_id, int *pcreated,
                                     jm_db_t *db, const char *username,
                                     apr_pool_t *p)
{
    const char *id = NULL;
    apr_status_t rv;
    int inserted = 0;

    *pcreated = 0;
    if (APR_SUCCESS != (rv = account_lookup(&id, db, username, p))) {
        return rv;
    }
    if (!id) {
        const char *new_id = jm_util_new_id('A', p);
        if (APR_SUCCESS != (rv = jm_db_begin(db, p))) {
            return rv;
        }
        rv = account_create(&inserted, db, new_id, username, p);
        if (rv != APR_SUCCESS || !inserted) {
            jm_db_rollback(db);
        }
        else {
            rv = jm_db_commit(db);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (inserted) {
            *pcreated = 1;
            id = new_id;
        }
        else if (APR_SUCCESS != (rv = account_lookup(&id, db, username, p)) || !id) {
            return rv != APR_SUCCESS ? rv : APR_EGENERAL;
        }
    }
    *paccount_id = id;
    return APR_SUCCESS;
}

apr_status_t jm_store_state(const char **pstate, jm_db_t *db,
                            const char *account_id, const char *type,
                            apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_STATE_GET, p, account_id, type))) {
        return rv;
    }
    if (rows->nelts != 1) {
        return APR_NOTFOUND;
    }
    *pstate = COL(rows, 0, 0);
    return APR_SUCCESS;
}

/* Pruning runs once every this many states of a type, inside the writing
 * transaction: bounded work, and no background job needed for it. */
#define PRUNE_EVERY 256

apr_status_t jm_store_change_props(const char **pnew_state, jm_db_t *db,
                                   const char *account_id, const char *type,
                                   const char *object_id, const char *kind,
                                   const char *props, apr_pool_t *p)
{
    apr_status_t rv;
    const char *state;
    apr_int64_t st;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_STATE_BUMP, p, account_id, type))
        || APR_SUCCESS != (rv = jm_store_state(&state, db, account_id, type, p))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_CHANGE_INSERT, p, account_id, type,
                                     state, object_id, kind, props ? props : ""))) {
        return rv;
    }
    st = apr_atoi64(state);
    if (st % PRUNE_EVERY == 0 && st > JM_STORE_CHANGES_KEPT
        && APR_SUCCESS != (rv = jm_store_changes_prune(db, account_id, type,
                                                       st - JM_STORE_CHANGES_KEPT, p))) {
        return rv;
    }
    *pnew_state = state;
    return APR_SUCCESS;
}

apr_status_t jm_store_change(const char **pnew_state, jm_db_t *db,
                             const char *account_id, const char *type,
                             const char *object_id, const char *kind,
                             apr_pool_t *p)
{
    return jm_store_change_props(pnew_state, db, account_id, type, object_id,
                                 kind, "", p);
}

apr_status_t jm_store_changes_prune(jm_db_t *db, const char *account_id,
                                    const char *type, apr_int64_t upto,
                                    apr_pool_t *p)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_CHANGES_PRUNE, p, account_id, type,
                                  jm_i64(upto, p)))) {
        return rv;
    }
    return EXEC(db, JM_SQL_STATE_SET_OLDEST, p, jm_i64(upto, p), account_id, type);
}

static jm_change_kind_t kind_of(const char *k)
{
    return !strcmp(k, "created") ? JM_CHANGE_CREATED
         : !strcmp(k, "destroyed") ? JM_CHANGE_DESTROYED : JM_CHANGE_UPDATED;
}

apr_status_t jm_store_changes_since(apr_array_header_t **pchanges, int *pmore,
                                    apr_int64_t *pcurrent, apr_int64_t *poldest,
                                    jm_db_t *db, const char *account_id,
                                    const char *type, apr_int64_t since,
                                    apr_int64_t limit, apr_pool_t *p)
{
    apr_array_header_t *rows, *out;
    apr_status_t rv;
    int i;

    *pchanges = NULL;
    *pmore = 0;
    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_STATE_GET, p, account_id, type))) {
        return rv;
    }
    if (rows->nelts != 1) {
        return APR_NOTFOUND;
    }
    *pcurrent = apr_atoi64(COL(rows, 0, 0));
    *poldest = apr_atoi64(COL(rows, 0, 1));
    if (since < *poldest || since > *pcurrent) {
        return APR_SUCCESS;             /* *pchanges NULL: cannot calculate */
    }
    /* one more than asked tells whether there are more */
    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_CHANGES_SINCE, p, account_id,
                                    type, jm_i64(since, p), jm_i64(limit + 1, p)))) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts, sizeof(jm_change_t));
    for (i = 0; i < rows->nelts && i < limit; i++) {
        jm_change_t *c = apr_array_push(out);
        c->id = COL(rows, i, 0);
        c->kind = kind_of(COL(rows, i, 1));
        c->state = apr_atoi64(COL(rows, i, 2));
        c->props = COL(rows, i, 3);
    }
    *pmore = rows->nelts > limit;
    *pchanges = out;
    return APR_SUCCESS;
}
