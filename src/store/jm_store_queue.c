/* The submission queue: see jm_store_queue.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_queue.h"
#include "store/jm_store_int.h"
#include "core/jm_json.h"

static apr_status_t change(jm_db_t *db, const char *account_id, const char *id,
                           const char *kind, apr_pool_t *p)
{
    const char *st;

    return jm_store_change(&st, db, account_id, JM_TYPE_SUBMISSION, id, kind, p);
}

apr_status_t jm_store_submission_insert(jm_db_t *db, const char *account_id,
                                        const jm_sub_row_t *s, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    rv = EXEC(db, JM_SQL_SUB_INSERT, p, account_id, s->id, s->identity_id,
              s->email_id, s->thread_id, s->blob_id, s->message_id, s->mail_from,
              s->envelope, jm_i64(s->send_at, p), jm_i64(s->created, p),
              s->undo_status, "wait", jm_i64(s->send_at, p),
              jm_i64(s->give_up_at, p));
    for (i = 0; rv == APR_SUCCESS && i < s->rcpts->nelts; i++) {
        const jm_sub_rcpt_t *r = &APR_ARRAY_IDX(s->rcpts, i, jm_sub_rcpt_t);
        rv = EXEC(db, JM_SQL_SUB_RCPT_INSERT, p, account_id, s->id,
                  jm_i64(r->seq, p), r->address, r->delivered, r->smtp_reply,
                  r->displayed, r->blob_id ? r->blob_id : "");
    }
    return rv == APR_SUCCESS ? change(db, account_id, s->id, "created", p) : rv;
}

static apr_status_t read_rcpts(apr_array_header_t **prcpts, jm_db_t *db,
                               const char *account_id, const char *id,
                               apr_pool_t *p)
{
    apr_array_header_t *rows, *out;
    apr_status_t rv;
    int i;

    if ((rv = SELECT(&rows, db, JM_SQL_SUB_RCPTS, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts + 1, sizeof(jm_sub_rcpt_t));
    for (i = 0; i < rows->nelts; i++) {
        jm_sub_rcpt_t *r = apr_array_push(out);
        r->seq = atoi(COL(rows, i, 0));
        r->address = COL(rows, i, 1);
        r->delivered = COL(rows, i, 2);
        r->smtp_reply = COL(rows, i, 3);
        r->displayed = COL(rows, i, 4);
        r->blob_id = COL(rows, i, 5);
    }
    *prcpts = out;
    return APR_SUCCESS;
}

static apr_status_t row_of(jm_sub_row_t **ps, apr_array_header_t *rows, int i,
                           jm_db_t *db, const char *account_id, apr_pool_t *p)
{
    jm_sub_row_t *s = apr_pcalloc(p, sizeof(*s));

    s->id = COL(rows, i, 0);
    s->identity_id = COL(rows, i, 1);
    s->email_id = COL(rows, i, 2);
    s->thread_id = COL(rows, i, 3);
    s->envelope = COL(rows, i, 4);
    s->send_at = apr_atoi64(COL(rows, i, 5));
    s->undo_status = COL(rows, i, 6);
    s->dsn_blob_ids = COL(rows, i, 7);
    s->mdn_blob_ids = COL(rows, i, 8);
    *ps = s;
    return read_rcpts(&s->rcpts, db, account_id, s->id, p);
}

apr_status_t jm_store_submissions(apr_array_header_t **prows, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows, *out;
    apr_status_t rv;
    int i;

    if ((rv = SELECT(&rows, db, JM_SQL_SUB_LIST, p, account_id)) != APR_SUCCESS) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts + 1, sizeof(jm_sub_row_t *));
    for (i = 0; i < rows->nelts; i++) {
        if ((rv = row_of(apr_array_push(out), rows, i, db, account_id, p))
            != APR_SUCCESS) {
            return rv;
        }
    }
    *prows = out;
    return APR_SUCCESS;
}

apr_status_t jm_store_submission_get(jm_sub_row_t **ps, jm_db_t *db,
                                     const char *account_id, const char *id,
                                     apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if ((rv = SELECT(&rows, db, JM_SQL_SUB_GET, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    if (rows->nelts == 0) {
        return APR_NOTFOUND;
    }
    return row_of(ps, rows, 0, db, account_id, p);
}

/* list (a JSON array text) with blob_id added when it is not there; NULL
 * when nothing changes */
static const char *with_blob(const char *list, const char *blob_id, apr_pool_t *p)
{
    json_t *a = json_loads(list, 0, NULL);
    const char *out = NULL;
    json_t *v;
    size_t i;

    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    json_array_foreach(a, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), blob_id)) {
            json_decref(a);
            return NULL;
        }
    }
    json_array_append_new(a, json_string(blob_id));
    out = jm_json_dump(a, p);
    json_decref(a);
    return out;
}

apr_status_t jm_store_submission_add_report(int *pn, jm_db_t *db, const char *account_id,
                                            const char *ref_id, const char *message_id,
                                            int mdn, const char *displayed,
                                            const char *blob_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    *pn = 0;
    if ((!ref_id || !*ref_id) && (!message_id || !*message_id)) {
        return APR_SUCCESS;
    }
    rv = SELECT(&rows, db, JM_SQL_SUB_BY_REF, p, account_id, ref_id ? ref_id : "",
                message_id && *message_id ? message_id : "\n");
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char *dsn = COL(rows, i, 1), *mdns = COL(rows, i, 2);
        const char *now = with_blob(mdn ? mdns : dsn, blob_id, p);

        ++*pn;
        if (!now) {
            continue;
        }
        rv = EXEC(db, JM_SQL_SUB_SET_REPORTS, p, mdn ? dsn : now, mdn ? now : mdns,
                  account_id, COL(rows, i, 0));
        if (rv == APR_SUCCESS && displayed && *displayed) {
            rv = EXEC(db, JM_SQL_SUB_RCPT_DISPLAYED, p, account_id, COL(rows, i, 0),
                      displayed);
        }
        if (rv == APR_SUCCESS) {
            rv = change(db, account_id, COL(rows, i, 0), "updated", p);
        }
    }
    return rv;
}

apr_status_t jm_store_submission_cancel(jm_db_t *db, const char *account_id,
                                        const char *id, const char *reply,
                                        apr_pool_t *p)
{
    apr_status_t rv;
    int n = 0;

    if ((rv = EXECN(db, &n, JM_SQL_SUB_CANCEL, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    if (n == 0) {
        return APR_EBUSY;
    }
    if ((rv = EXEC(db, JM_SQL_SUB_RCPTS_CANCEL, p, reply, account_id, id))
        != APR_SUCCESS) {
        return rv;
    }
    return change(db, account_id, id, "updated", p);
}

apr_status_t jm_store_submission_destroy(jm_db_t *db, const char *account_id,
                                         const char *id, apr_pool_t *p)
{
    apr_status_t rv;
    int n = 0;

    if ((rv = EXECN(db, &n, JM_SQL_SUB_DESTROY, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    return n == 0 ? APR_NOTFOUND : change(db, account_id, id, "destroyed", p);
}

static apr_status_t read_item(jm_queue_item_t **pit, jm_db_t *db,
                              const char *account_id, const char *id, apr_pool_t *p)
{
    jm_queue_item_t *it = apr_pcalloc(p, sizeof(*it));
    apr_array_header_t *rows;
    apr_status_t rv;

    if ((rv = SELECT(&rows, db, JM_SQL_QUEUE_ITEM, p, account_id, id)) != APR_SUCCESS) {
        return rv;
    }
    if (rows->nelts == 0) {
        return APR_NOTFOUND;
    }
    it->account_id = account_id;
    it->id = id;
    it->blob_id = COL(rows, 0, 0);
    it->message_id = COL(rows, 0, 1);
    it->mail_from = COL(rows, 0, 2);
    it->give_up_at = apr_atoi64(COL(rows, 0, 3));
    it->tries = apr_atoi64(COL(rows, 0, 4));
    it->undo_status = COL(rows, 0, 5);
    it->relay_reply = COL(rows, 0, 6);
    it->destroyed = atoi(COL(rows, 0, 9));
    *pit = it;
    return read_rcpts(&it->rcpts, db, account_id, id, p);
}

/* The end of a claiming transaction: committed, or nothing claimed. */
static apr_status_t end_claim(jm_db_t *db, apr_array_header_t *out, apr_status_t rv)
{
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        out->nelts = 0;
        return rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        out->nelts = 0;
    }
    return rv;
}

apr_status_t jm_store_queue_claim(apr_array_header_t **pclaimed, jm_db_t *db,
                                  const char *owner, apr_int64_t now,
                                  apr_int64_t lease, int limit, apr_pool_t *p)
{
    apr_array_header_t *rows, *out = apr_array_make(p, limit + 1,
                                                    sizeof(jm_queue_item_t *));
    const char *snow = jm_i64(now, p);
    apr_status_t rv;
    int i;

    *pclaimed = out;
    if ((rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = SELECT(&rows, db, JM_SQL_QUEUE_DUE, p, snow, snow, jm_i64(limit, p));
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char *acc = COL(rows, i, 0), *id = COL(rows, i, 1);
        jm_queue_item_t *it;
        int n = 0;

        rv = EXECN(db, &n, JM_SQL_QUEUE_CLAIM, p, owner, jm_i64(now + lease, p),
                   acc, id, snow, snow);
        if (rv == APR_SUCCESS && n == 1
            && (rv = read_item(&it, db, acc, id, p)) == APR_SUCCESS) {
            APR_ARRAY_PUSH(out, jm_queue_item_t *) = it;
        }
    }
    return end_claim(db, out, rv);
}

apr_status_t jm_store_queue_finish(jm_db_t *db, const jm_queue_item_t *it,
                                   const char *owner, const char *queue,
                                   apr_int64_t next_try, apr_pool_t *p)
{
    apr_status_t rv;
    int n = 0, i;

    if ((rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = EXECN(db, &n, JM_SQL_QUEUE_RELEASE, p, queue, jm_i64(next_try, p),
               it->undo_status, it->relay_reply, it->account_id, it->id, owner);
    if (rv == APR_SUCCESS && n == 0) {
        rv = APR_EBUSY;
    }
    for (i = 0; rv == APR_SUCCESS && i < it->rcpts->nelts; i++) {
        const jm_sub_rcpt_t *r = &APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t);
        rv = EXEC(db, JM_SQL_QUEUE_RCPT_SET, p, r->delivered, r->smtp_reply,
                  it->account_id, it->id, jm_i64(r->seq, p));
    }
    if (rv == APR_SUCCESS && !it->destroyed) {
        rv = change(db, it->account_id, it->id, "updated", p);
    }
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    return jm_db_commit(db);
}

apr_status_t jm_store_bcc_copy_insert(jm_db_t *db, const char *account_id,
                                      const char *email_id, const char *address,
                                      const char *blob_id, apr_pool_t *p)
{
    return EXEC(db, JM_SQL_BCC_COPY_INSERT, p, account_id, email_id, address, blob_id);
}

apr_status_t jm_store_bcc_copies(apr_hash_t **pcopies, jm_db_t *db,
                                 const char *account_id, const char *email_id,
                                 apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    *pcopies = apr_hash_make(p);
    if ((rv = SELECT(&rows, db, JM_SQL_BCC_COPIES, p, account_id, email_id))
        != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        apr_hash_set(*pcopies, COL(rows, i, 0), APR_HASH_KEY_STRING, COL(rows, i, 1));
    }
    return APR_SUCCESS;
}

/* ---- vacation replies -------------------------------------------------------- */

apr_status_t jm_store_autoreply_claim(apr_array_header_t **pclaimed, jm_db_t *db,
                                      const char *owner, apr_int64_t now,
                                      apr_int64_t lease, int limit, apr_pool_t *p)
{
    apr_array_header_t *rows, *item, *out = apr_array_make(p, limit + 1,
                                                           sizeof(jm_autoreply_row_t *));
    const char *snow = jm_i64(now, p);
    apr_status_t rv;
    int i;

    *pclaimed = out;
    if ((rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = SELECT(&rows, db, JM_SQL_AUTOREPLY_DUE, p, snow, snow, jm_i64(limit, p));
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char *id = COL(rows, i, 0);
        jm_autoreply_row_t *a;
        int n = 0;

        rv = EXECN(db, &n, JM_SQL_AUTOREPLY_CLAIM, p, owner, jm_i64(now + lease, p),
                   id, snow, snow);
        if (rv != APR_SUCCESS || n != 1
            || (rv = SELECT(&item, db, JM_SQL_AUTOREPLY_ITEM, p, id, owner))
               != APR_SUCCESS
            || item->nelts != 1) {
            continue;
        }
        a = apr_pcalloc(p, sizeof(*a));
        a->id = apr_atoi64(id);
        a->account_id = COL(item, 0, 0);
        a->mail_from = COL(item, 0, 1);
        a->rcpt = COL(item, 0, 2);
        a->message = COL(item, 0, 3);
        a->tries = apr_atoi64(COL(item, 0, 4));
        a->created = apr_atoi64(COL(item, 0, 5));
        a->last_reply = COL(item, 0, 6);
        APR_ARRAY_PUSH(out, jm_autoreply_row_t *) = a;
    }
    return end_claim(db, out, rv);
}

/* one statement in a transaction of its own, on the row owner holds */
static apr_status_t autoreply_exec(jm_db_t *db, jm_sql_id_t id, const char **args,
                                   int nargs, apr_pool_t *p)
{
    apr_status_t rv;
    int n = 0;

    if ((rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = jm_db_exec(db, &n, id, nargs, args, p);
    if (rv == APR_SUCCESS && n == 0) {
        rv = APR_EBUSY;
    }
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    return jm_db_commit(db);
}

apr_status_t jm_store_autoreply_done(jm_db_t *db, const jm_autoreply_row_t *a,
                                     const char *owner, apr_pool_t *p)
{
    const char *args[] = { jm_i64(a->id, p), owner };

    return autoreply_exec(db, JM_SQL_AUTOREPLY_DONE, args, 2, p);
}

apr_status_t jm_store_autoreply_retry(jm_db_t *db, const jm_autoreply_row_t *a,
                                      const char *owner, apr_int64_t next_try,
                                      const char *reply, apr_pool_t *p)
{
    const char *args[] = { jm_i64(next_try, p), reply ? reply : "",
                           jm_i64(a->id, p), owner };

    return autoreply_exec(db, JM_SQL_AUTOREPLY_RETRY, args, 4, p);
}
