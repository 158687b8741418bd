/* Storage on top of jm_db. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

#define ARGS(...) (const char *[]){ __VA_ARGS__ }
#define NARGS(...) (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *))
#define EXEC(db, id, p, ...) jm_db_exec(db, NULL, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)
#define SELECT(rows, db, id, p, ...) jm_db_select(rows, db, id, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), p)
#define COL(rows, i, c) (APR_ARRAY_IDX(rows, i, const char **)[c])

static const char *const data_types[] = {
    JM_TYPE_MAILBOX, JM_TYPE_EMAIL, JM_TYPE_THREAD, JM_TYPE_IDENTITY,
    JM_TYPE_SUBMISSION, NULL
};

static const struct { const char *name, *role; } std_mailboxes[] = {
    { "Inbox", "inbox" }, { "Drafts", "drafts" }, { "Sent", "sent" },
    { "Archive", "archive" }, { "Junk", "junk" }, { "Trash", "trash" },
    { NULL, NULL }
};

/* The first column of every row (id lists). */
static apr_array_header_t *first_column(apr_array_header_t *rows, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, rows->nelts, sizeof(const char *));
    int i;

    for (i = 0; i < rows->nelts; i++) {
        APR_ARRAY_PUSH(out, const char *) = COL(rows, i, 0);
    }
    return out;
}

static const char *i64(apr_int64_t v, apr_pool_t *p)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

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
    const char *now = i64(apr_time_sec(apr_time_now()), p);

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
                                      std_mailboxes[i].role, i64(i + 1, p)))) {
            return rv;
        }
    }
    return APR_SUCCESS;
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

apr_status_t jm_store_change(const char **pnew_state, jm_db_t *db,
                             const char *account_id, const char *type,
                             const char *object_id, const char *kind,
                             apr_pool_t *p)
{
    apr_status_t rv;
    const char *state;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_STATE_BUMP, p, account_id, type))
        || APR_SUCCESS != (rv = jm_store_state(&state, db, account_id, type, p))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_CHANGE_INSERT, p, account_id, type,
                                     state, object_id, kind))) {
        return rv;
    }
    *pnew_state = state;
    return APR_SUCCESS;
}

apr_status_t jm_store_mailboxes(apr_array_header_t **pboxes, jm_db_t *db,
                                const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows, *counts, *boxes;
    apr_status_t rv;
    int i, j;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_LIST, p, account_id))
        || APR_SUCCESS != (rv = SELECT(&counts, db, JM_SQL_MAILBOX_COUNTS, p,
                                       account_id))) {
        return rv;
    }
    boxes = apr_array_make(p, rows->nelts, sizeof(jm_mailbox_row_t *));
    for (i = 0; i < rows->nelts; i++) {
        jm_mailbox_row_t *m = apr_pcalloc(p, sizeof(*m));
        m->id = COL(rows, i, 0);
        m->name = COL(rows, i, 1);
        m->parent_id = COL(rows, i, 2);
        m->role = COL(rows, i, 3);
        m->sort_order = atol(COL(rows, i, 4));
        for (j = 0; j < counts->nelts; j++) {
            if (strcmp(COL(counts, j, 0), m->id) == 0) {
                m->total_emails = atol(COL(counts, j, 1));
                m->unread_emails = atol(COL(counts, j, 2));
                m->total_threads = atol(COL(counts, j, 3));
                m->unread_threads = atol(COL(counts, j, 4));
            }
        }
        APR_ARRAY_PUSH(boxes, jm_mailbox_row_t *) = m;
    }
    *pboxes = boxes;
    return APR_SUCCESS;
}

apr_status_t jm_store_mailbox_ids(apr_array_header_t **pids, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_IDS, p, account_id))) {
        return rv;
    }
    *pids = first_column(rows, p);
    return APR_SUCCESS;
}

/* A failed statement's message lives in its pool: keep it in p before that
 * pool is cleared. */
static apr_status_t keep_error(apr_status_t rv, jm_db_t *db, apr_pool_t *p)
{
    if (rv != APR_SUCCESS && db->last_error) {
        db->last_error = apr_pstrdup(p, db->last_error);
    }
    return rv;
}

static apr_status_t put_chunks(jm_db_t *db, const char *account_id,
                               const char *blob_id, const unsigned char *data,
                               apr_size_t len, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t off, n;
    apr_int64_t seq;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    for (off = 0, seq = 0; rv == APR_SUCCESS && off < len; off += n, seq++) {
        n = len - off < JM_SQL_CHUNK_BYTES ? len - off : JM_SQL_CHUNK_BYTES;
        rv = keep_error(EXEC(db, JM_SQL_BLOB_CHUNK_INSERT, sub, account_id, blob_id,
                             i64(seq, sub), jm_util_base64(data + off, n, sub)),
                        db, p);
        apr_pool_clear(sub);
    }
    apr_pool_destroy(sub);
    return rv;
}

apr_status_t jm_store_blob_put(jm_db_t *db, const char *account_id,
                               const char *blob_id, const char *type,
                               const void *data, apr_size_t len, apr_pool_t *p)
{
    int own = !jm_db_in_transaction(db), nrows = 0;
    apr_status_t rv;

    if (own && APR_SUCCESS != (rv = jm_db_begin(db, p))) {
        return rv;
    }
    rv = jm_db_exec(db, &nrows, JM_SQL_BLOB_INSERT, 5,
                    ARGS(account_id, blob_id, i64((apr_int64_t)len, p), type,
                         i64(apr_time_sec(apr_time_now()), p)), p);
    if (rv == APR_SUCCESS && nrows > 0) {       /* 0: stored before */
        rv = put_chunks(db, account_id, blob_id, data, len, p);
    }
    if (own) {
        if (rv != APR_SUCCESS) {
            jm_db_rollback(db);
        }
        else {
            rv = jm_db_commit(db);
        }
    }
    return rv;
}

apr_status_t jm_store_blob_info(apr_int64_t *psize, const char **ptype,
                                jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_BLOB_INFO, p, account_id,
                                    blob_id))) {
        return rv;
    }
    if (rows->nelts != 1) {
        return APR_NOTFOUND;
    }
    *psize = apr_atoi64(COL(rows, 0, 0));
    if (ptype) {
        *ptype = COL(rows, 0, 1);
    }
    return APR_SUCCESS;
}

static apr_status_t damaged(const char *account_id, const char *blob_id,
                            const char *why, apr_int64_t seq, apr_pool_t *p)
{
    jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                  JMLOGNO(01030) "blob %s of account %s is damaged in the "
                  "database: %s at chunk %" APR_INT64_T_FMT, blob_id, account_id,
                  why, seq);
    return APR_EGENERAL;
}

apr_status_t jm_store_blob_read(jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_int64_t size,
                                jm_store_chunk_fn *fn, void *baton,
                                apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t got = 0, seq;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    for (seq = 0; rv == APR_SUCCESS && got < size; seq++) {
        apr_array_header_t *rows;
        const unsigned char *data;
        apr_size_t len = 0;

        apr_pool_clear(sub);
        rv = keep_error(SELECT(&rows, db, JM_SQL_BLOB_CHUNK_GET, sub, account_id,
                               blob_id, i64(seq, sub)), db, p);
        if (rv != APR_SUCCESS) {
            break;
        }
        if (rows->nelts != 1) {
            rv = damaged(account_id, blob_id, "missing", seq, p);
        }
        else if (!(data = jm_util_unbase64(COL(rows, 0, 0), &len, sub)) || len == 0) {
            rv = damaged(account_id, blob_id, "not base64", seq, p);
        }
        else if ((apr_int64_t)len > size - got) {
            rv = damaged(account_id, blob_id, "longer than the stored size", seq, p);
        }
        else {
            got += (apr_int64_t)len;
            rv = fn(baton, data, len);
        }
    }
    apr_pool_destroy(sub);
    return rv;
}

typedef struct {
    unsigned char *buf;
    apr_size_t used;
} collect_t;

static apr_status_t collect(void *baton, const unsigned char *data, apr_size_t len)
{
    collect_t *c = baton;

    memcpy(c->buf + c->used, data, len);
    c->used += len;
    return APR_SUCCESS;
}

apr_status_t jm_store_blob_get(const unsigned char **pdata, apr_size_t *plen,
                               const char **ptype, jm_db_t *db,
                               const char *account_id, const char *blob_id,
                               apr_pool_t *p)
{
    apr_int64_t size;
    collect_t c;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = jm_store_blob_info(&size, ptype, db, account_id,
                                                blob_id, p))) {
        return rv;
    }
    if (size < 0 || (apr_uint64_t)size >= APR_SIZE_MAX) {
        return damaged(account_id, blob_id, "impossible size", 0, p);
    }
    c.buf = apr_palloc(p, (apr_size_t)size + 1);
    c.used = 0;
    if (APR_SUCCESS != (rv = jm_store_blob_read(db, account_id, blob_id, size,
                                                collect, &c, p))) {
        return rv;
    }
    c.buf[c.used] = '\0';
    *pdata = c.buf;
    *plen = c.used;
    return APR_SUCCESS;
}

apr_status_t jm_store_email_insert(jm_db_t *db, const char *account_id,
                                   const jm_email_row_t *e, apr_pool_t *p)
{
    apr_status_t rv;
    int i, seen = strstr(e->keywords, "\"$seen\"") != NULL;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_INSERT, p, account_id, e->id,
                                  e->blob_id, e->thread_id, i64(e->size, p),
                                  i64(apr_time_sec(e->received_at), p),
                                  e->keywords, seen ? "1" : "0"))) {
        return rv;
    }
    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_MAILBOX_INSERT, p, account_id,
                                      e->id, APR_ARRAY_IDX(e->mailbox_ids, i,
                                                           const char *)))) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_email_get(jm_email_row_t **pe, jm_db_t *db,
                                const char *account_id, const char *id,
                                apr_pool_t *p)
{
    apr_array_header_t *rows, *mrows;
    jm_email_row_t *e;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_EMAIL_GET, p, account_id, id))) {
        return rv;
    }
    if (rows->nelts != 1) {
        return APR_NOTFOUND;
    }
    if (APR_SUCCESS != (rv = SELECT(&mrows, db, JM_SQL_EMAIL_MAILBOXES, p,
                                    account_id, id))) {
        return rv;
    }
    e = apr_pcalloc(p, sizeof(*e));
    e->id = COL(rows, 0, 0);
    e->blob_id = COL(rows, 0, 1);
    e->thread_id = COL(rows, 0, 2);
    e->size = apr_atoi64(COL(rows, 0, 3));
    e->received_at = apr_time_from_sec(apr_atoi64(COL(rows, 0, 4)));
    e->keywords = COL(rows, 0, 5);
    e->mailbox_ids = apr_array_make(p, mrows->nelts, sizeof(const char *));
    for (i = 0; i < mrows->nelts; i++) {
        APR_ARRAY_PUSH(e->mailbox_ids, const char *) = COL(mrows, i, 0);
    }
    *pe = e;
    return APR_SUCCESS;
}

apr_status_t jm_store_email_ids(apr_array_header_t **pids, jm_db_t *db,
                                const char *account_id, long limit,
                                apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_EMAIL_IDS, p, account_id,
                                    i64(limit, p)))) {
        return rv;
    }
    *pids = first_column(rows, p);
    return APR_SUCCESS;
}
