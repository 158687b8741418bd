/* Push subscriptions (RFC 8620 §7.2): SQL for the methods and the worker. */
#include <stdlib.h>
#include "store/jm_store_int.h"
#include "store/jm_store_push.h"
#include "core/jm_json.h"

/* Every write is a transaction of its own (jm_db_begin: on SQLite the
 * process's writers queue and a busy store is APR_TIMEUP), or part of the
 * caller's if one is open. */
static apr_status_t write_one(int *pn, jm_db_t *db, jm_sql_id_t id, int nargs,
                          const char **args, apr_pool_t *p)
{
    int own = !jm_db_in_transaction(db);
    apr_status_t rv;

    if (own && (rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = jm_db_exec(db, pn, id, nargs, args, p);
    if (own) {
        if (rv == APR_SUCCESS) {
            rv = jm_db_commit(db);
        }
        else {
            jm_db_rollback(db);
        }
    }
    return rv;
}
#define WRITE(db, pn, id, p, ...) write_one(pn, db, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)

static jm_push_row_t *list_row(const char **c, const char *username, apr_pool_t *p)
{
    jm_push_row_t *r = apr_pcalloc(p, sizeof(*r));

    r->id = c[0];
    r->username = username;
    r->device_client_id = c[1];
    r->code_sent = c[2];
    r->verified = atoi(c[3]) != 0;
    r->expires = apr_atoi64(c[4]);
    r->types = c[5];
    r->url = c[6];
    r->p256dh = c[7];
    r->auth = c[8];
    r->pushed_states = "{}";
    return r;
}

apr_status_t jm_store_push_list(apr_array_header_t **prows, jm_db_t *db,
                                const char *username, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    if ((rv = SELECT(&rows, db, JM_SQL_PUSH_LIST, p, username)) != APR_SUCCESS) {
        return rv;
    }
    *prows = apr_array_make(p, rows->nelts + 1, sizeof(jm_push_row_t *));
    for (i = 0; i < rows->nelts; i++) {
        APR_ARRAY_PUSH(*prows, jm_push_row_t *)
            = list_row(APR_ARRAY_IDX(rows, i, const char **), username, p);
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_push_count(long *pcount, jm_db_t *db, const char *username,
                                 apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if ((rv = SELECT(&rows, db, JM_SQL_PUSH_COUNT, p, username)) != APR_SUCCESS) {
        return rv;
    }
    *pcount = rows->nelts ? atol(COL(rows, 0, 0)) : 0;
    return APR_SUCCESS;
}

apr_status_t jm_store_push_insert(int *pover, jm_db_t *db, const jm_push_row_t *r,
                                  long max, long per_hour, apr_int64_t now_ms,
                                  apr_pool_t *p)
{
    const char *since = jm_i64(now_ms - 3600 * 1000, p);
    apr_array_header_t *rows;
    long count = 0;
    apr_status_t rv;

    *pover = 0;
    /* the count and the insert in one transaction: the limit holds when
     * requests of one user race */
    if ((rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = EXEC(db, JM_SQL_PUSH_CREATIONS_PRUNE, p, r->username, since))
            == APR_SUCCESS
        && (rv = SELECT(&rows, db, JM_SQL_PUSH_CREATIONS_COUNT, p, r->username, since))
            == APR_SUCCESS
        && (rv = jm_store_push_count(&count, db, r->username, p)) == APR_SUCCESS) {
        if (count >= max) {
            *pover = 1;
        }
        else if (rows->nelts && apr_atoi64(COL(rows, 0, 0)) >= per_hour) {
            *pover = 2;
        }
        else if ((rv = EXEC(db, JM_SQL_PUSH_CREATION_ADD, p, r->username,
                            jm_i64(now_ms, p))) == APR_SUCCESS) {
            rv = EXEC(db, JM_SQL_PUSH_INSERT, p, r->id, r->username,
                      r->device_client_id, r->url, r->p256dh, r->auth, r->code_sent,
                      jm_i64(r->expires, p), r->types, jm_i64(now_ms, p),
                      jm_i64(now_ms, p));
        }
    }
    if (rv == APR_SUCCESS && !*pover) {
        return jm_db_commit(db);
    }
    jm_db_rollback(db);
    return rv;
}

static apr_status_t exec_one(jm_db_t *db, jm_sql_id_t id, int nargs,
                             const char **args, apr_pool_t *p)
{
    int n = 0;
    apr_status_t rv = write_one(&n, db, id, nargs, args, p);

    return rv != APR_SUCCESS ? rv : n ? APR_SUCCESS : APR_NOTFOUND;
}
#define EXEC1(db, id, p, ...) exec_one(db, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)

apr_status_t jm_store_push_verify(jm_db_t *db, const char *username, const char *id,
                                  const char *states, apr_int64_t now_ms, apr_pool_t *p)
{
    return EXEC1(db, JM_SQL_PUSH_VERIFY, p, states, jm_i64(now_ms, p), username, id);
}

apr_status_t jm_store_push_set_expires(jm_db_t *db, const char *username,
                                       const char *id, apr_int64_t expires,
                                       apr_pool_t *p)
{
    return EXEC1(db, JM_SQL_PUSH_SET_EXPIRES, p, jm_i64(expires, p), username, id);
}

apr_status_t jm_store_push_set_types(jm_db_t *db, const char *username,
                                     const char *id, const char *types, apr_pool_t *p)
{
    return EXEC1(db, JM_SQL_PUSH_SET_TYPES, p, types, username, id);
}

apr_status_t jm_store_push_destroy(jm_db_t *db, const char *username, const char *id,
                                   apr_pool_t *p)
{
    return EXEC1(db, JM_SQL_PUSH_DESTROY, p, username, id);
}

apr_status_t jm_store_push_expire(jm_db_t *db, apr_int64_t now_s, apr_pool_t *p)
{
    return WRITE(db, NULL, JM_SQL_PUSH_EXPIRE, p, jm_i64(now_s, p));
}

apr_status_t jm_store_push_claim(apr_array_header_t **prows, jm_db_t *db,
                                 const char *owner, apr_int64_t now_ms,
                                 apr_int64_t lease_until_ms, long limit,
                                 apr_pool_t *p)
{
    const char *now = jm_i64(now_ms, p);
    apr_array_header_t *rows;
    apr_status_t rv;
    int n = 0, i;

    *prows = apr_array_make(p, 4, sizeof(jm_push_row_t *));
    rv = WRITE(db, &n, JM_SQL_PUSH_CLAIM, p, owner, jm_i64(lease_until_ms, p), now,
               now, now, jm_i64(now_ms / 1000, p), jm_i64(limit, p));
    if (rv != APR_SUCCESS || n == 0) {
        return rv;
    }
    if ((rv = SELECT(&rows, db, JM_SQL_PUSH_CLAIMED, p, owner)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **c = APR_ARRAY_IDX(rows, i, const char **);
        jm_push_row_t *r = apr_pcalloc(p, sizeof(*r));
        r->id = c[0];
        r->username = c[1];
        r->url = c[2];
        r->p256dh = c[3];
        r->auth = c[4];
        r->code_sent = c[5];
        r->verified = atoi(c[6]) != 0;
        r->verify_pending = atoi(c[7]) != 0;
        r->types = c[8];
        r->pushed_states = c[9];
        r->failures = atol(c[10]);
        APR_ARRAY_PUSH(*prows, jm_push_row_t *) = r;
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_push_verify_sent(jm_db_t *db, const char *id, const char *owner,
                                       apr_int64_t next_ms, apr_pool_t *p)
{
    return WRITE(db, NULL, JM_SQL_PUSH_VERIFY_SENT, p, jm_i64(next_ms, p), id, owner);
}

apr_status_t jm_store_push_checked(jm_db_t *db, const char *id, const char *owner,
                                   const char *states, apr_int64_t next_ms,
                                   apr_pool_t *p)
{
    return WRITE(db, NULL, JM_SQL_PUSH_CHECKED, p, states, jm_i64(next_ms, p), id, owner);
}

apr_status_t jm_store_push_retry(jm_db_t *db, const char *id, const char *owner,
                                 long failures, apr_int64_t next_ms, apr_pool_t *p)
{
    return WRITE(db, NULL, JM_SQL_PUSH_RETRY, p, jm_i64(failures, p),
                 jm_i64(next_ms, p), id, owner);
}

apr_status_t jm_store_push_gone(jm_db_t *db, const char *id, const char *owner,
                                apr_pool_t *p)
{
    return WRITE(db, NULL, JM_SQL_PUSH_GONE, p, id, owner);
}

apr_status_t jm_store_push_states(json_t **pstates, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    if ((rv = SELECT(&rows, db, JM_SQL_STATE_LIST, p, account_id)) != APR_SUCCESS) {
        return rv;
    }
    *pstates = json_object();
    for (i = 0; i < rows->nelts; i++) {
        json_object_set_new(*pstates, COL(rows, i, 0), json_string(COL(rows, i, 1)));
    }
    return APR_SUCCESS;
}
