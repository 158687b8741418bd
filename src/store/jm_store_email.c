/* Emails: rows, memberships, keywords, threads, full-text entries. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"
#include "store/sql/jm_sql_fold.h"
#include "core/jm_util.h"
#include "core/jm_log.h"
#include <jansson.h>

/* RFC 8621 §4.1.1: unread = neither $seen nor $draft (what the counts use). */
static int is_unread(json_t *kw)
{
    return !json_is_true(json_object_get(kw, "$seen"))
        && !json_is_true(json_object_get(kw, "$draft"));
}

/* Move every email of thread from into thread to (a late message joined
 * both): memberships and counts follow, each moved Email is updated (its
 * threadId changed), thread from is destroyed and thread to updated. */
static apr_status_t merge_thread(jm_db_t *db, const char *acc, const char *to,
                                 const char *from, apr_pool_t *p)
{
    apr_array_header_t *ids, *mb;
    const char *st;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = SELECT(&ids, db, JM_SQL_THREAD_EMAIL_IDS, p, acc, from))
        || APR_SUCCESS != (rv = SELECT(&mb, db, JM_SQL_MBTHREAD_BY_THREAD, p, acc, from))) {
        return rv;
    }
    for (i = 0; i < mb->nelts; i++) {
        int ne = atoi(COL(mb, i, 1)), nu = atoi(COL(mb, i, 2));

        if (APR_SUCCESS != (rv = jm_store_mailbox_count(db, acc, COL(mb, i, 0), from,
                                                        -ne, -nu, p))
            || APR_SUCCESS != (rv = jm_store_mailbox_count(db, acc, COL(mb, i, 0), to,
                                                           ne, nu, p))) {
            return rv;
        }
    }
    for (i = 0; i < ids->nelts; i++) {
        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_SET_THREAD, p, to, acc,
                                      COL(ids, i, 0)))
            || APR_SUCCESS != (rv = jm_store_change(&st, db, acc, JM_TYPE_EMAIL,
                                                    COL(ids, i, 0), "updated", p))) {
            return rv;
        }
    }
    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_THREAD_REFS_MOVE, p, to, acc, from))
        || APR_SUCCESS != (rv = jm_store_change(&st, db, acc, JM_TYPE_THREAD, from,
                                                "destroyed", p))) {
        return rv;
    }
    return APR_SUCCESS;
}

/* Every message id an email names: In-Reply-To and References first (its
 * ancestors), then its own. */
static apr_array_header_t *named_ids(const jm_email_cols_t *c, apr_pool_t *p)
{
    apr_array_header_t *all = apr_array_make(p, 8, sizeof(const char *));

    if (c && c->ref_ids) {
        apr_array_cat(all, c->ref_ids);
    }
    if (c && c->own_ids) {
        apr_array_cat(all, c->own_ids);
    }
    return all;
}

/* Point each of ids at thread (ids already leading elsewhere keep it). */
static apr_status_t point_ids(jm_db_t *db, const char *acc, apr_array_header_t *ids,
                              const char *thread, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);

        if (*id && APR_SUCCESS != (rv = EXEC(db, JM_SQL_THREAD_REF_INSERT, p, acc, id,
                                             thread))) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* The thread an email joins: the one of any message id it shares with
 * stored mail (its own ids, In-Reply-To, References), merging several;
 * a new one otherwise (*pnew). Then every id it names points at it. */
static apr_status_t pick_thread(const char **pthread, int *pnew, jm_db_t *db,
                                const char *acc, jm_email_row_t *e, apr_pool_t *p)
{
    apr_array_header_t *all = named_ids(e->cols, p);
    apr_hash_t *found = apr_hash_make(p);
    const char *thread = e->thread_id;
    apr_status_t rv;
    int i;

    for (i = 0; i < all->nelts; i++) {
        const char *id = APR_ARRAY_IDX(all, i, const char *);
        apr_array_header_t *rows;
        const char *t;

        if (!*id) {
            continue;
        }
        if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_THREAD_REF_GET, p, acc, id))) {
            return rv;
        }
        if (!rows->nelts || apr_hash_get(found, (t = COL(rows, 0, 0)), APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(found, t, APR_HASH_KEY_STRING, t);
        if (!thread) {
            thread = t;
        }
        else if (strcmp(thread, t)
                 && APR_SUCCESS != (rv = merge_thread(db, acc, thread, t, p))) {
            return rv;
        }
    }
    *pnew = !thread;
    if (!thread) {
        thread = apr_pstrcat(p, "T", e->id + 1, NULL);
    }
    if (APR_SUCCESS != (rv = point_ids(db, acc, all, thread, p))) {
        return rv;
    }
    *pthread = thread;
    return APR_SUCCESS;
}

/* The header fields of an email (none before: a new row, or deleted). */
static apr_status_t put_headers(jm_db_t *db, const char *acc, const char *id,
                                const jm_email_cols_t *c, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; c->headers && i < c->headers->nelts && rv == APR_SUCCESS; i++) {
        const jm_store_header_t *h = &APR_ARRAY_IDX(c->headers, i, jm_store_header_t);
        rv = EXEC(db, JM_SQL_EMAIL_HEADER_INSERT, p, acc, id, jm_i64(i, p), h->name,
                  h->value);
    }
    return rv;
}

/* The email's full-text entry, its text folded first where the dialect
 * wants that done here (see sql/jm_sql_fold.h). */
static void fts_texts(const char *t[6], const jm_db_t *db, const jm_email_cols_t *c,
                      apr_pool_t *p)
{
    int i;

    t[0] = c->subject;
    t[1] = c->from_text;
    t[2] = c->to_text;
    t[3] = c->cc_text;
    t[4] = c->bcc_text;
    t[5] = c->body_text;
    if (db->dialect->fts_fold_in_c) {
        for (i = 0; i < 6; i++) {
            t[i] = jm_sql_fold(t[i], p);
        }
    }
}

static apr_status_t fts_insert(jm_db_t *db, const char *account_id, const char *id,
                               const jm_email_cols_t *c, apr_pool_t *p)
{
    const char *t[6];

    fts_texts(t, db, c, p);
    return EXEC(db, JM_SQL_EMAIL_FTS_INSERT, p, t[0], t[1], t[2], t[3], t[4], t[5],
                account_id, id);
}

apr_status_t jm_store_email_insert(jm_db_t *db, const char *account_id,
                                   jm_email_row_t *e, apr_pool_t *p)
{
    static const jm_email_cols_t none = { .subject = "", .sort_subject = "",
        .thread_subject = "", .from_sort = "", .to_sort = "", .from_text = "",
        .to_text = "", .cc_text = "", .bcc_text = "", .preview = "", .body_text = "",
        .sent_at = -1 };
    const jm_email_cols_t *c = e->cols ? e->cols : &none;
    json_t *kw = json_loads(e->keywords, 0, NULL);
    const char *key, *st, *thread;
    const char *t[6];
    json_t *v;
    apr_status_t rv;
    int i, unread, seen, new_thread = 0;

    if (!json_is_object(kw)) {
        json_decref(kw);
        return APR_EINVAL;
    }
    seen = json_is_true(json_object_get(kw, "$seen"));
    unread = is_unread(kw);
    if (APR_SUCCESS != (rv = pick_thread(&thread, &new_thread, db, account_id, e, p))) {
        goto done;
    }
    e->thread_id = thread;
#define ROW_ARGS account_id, e->id, e->blob_id, thread, \
        jm_i64(e->size, p), jm_i64(apr_time_sec(e->received_at), p), \
        e->keywords, seen ? "1" : "0", unread ? "1" : "0", c->subject, \
        c->sort_subject, c->thread_subject, c->from_sort, c->to_sort, \
        c->from_text, c->to_text, c->cc_text, c->bcc_text, \
        jm_i64(c->sent_at, p), c->has_attachment ? "1" : "0", c->preview, \
        c->from_key ? c->from_key : "", c->to_key ? c->to_key : "", c->view
    /* the full-text entry in the row's INSERT where it is a column, or
     * its own INSERT below (FTS5) */
    if (db->dialect->fts_in_email_row) {
        fts_texts(t, db, c, p);
        rv = EXEC(db, JM_SQL_EMAIL_INSERT_FTS, p, ROW_ARGS, t[0], t[1], t[2], t[3],
                  t[4], t[5]);
    }
    else {
        rv = EXEC(db, JM_SQL_EMAIL_INSERT, p, ROW_ARGS);
    }
#undef ROW_ARGS
    if (rv != APR_SUCCESS) {
        goto done;
    }
    json_object_foreach(kw, key, v) {
        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_KEYWORD_INSERT, p, account_id,
                                      e->id, key))) {
            goto done;
        }
    }
    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        const char *mb = APR_ARRAY_IDX(e->mailbox_ids, i, const char *);

        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_MAILBOX_INSERT, p, account_id,
                                      e->id, mb, jm_i64(apr_time_sec(e->received_at), p)))
            || APR_SUCCESS != (rv = jm_store_mailbox_count(db, account_id, mb, thread,
                                                           1, unread, p))) {
            goto done;
        }
    }
    if ((!db->dialect->fts_in_email_row
         && APR_SUCCESS != (rv = fts_insert(db, account_id, e->id, c, p)))
        || APR_SUCCESS != (rv = put_headers(db, account_id, e->id, c, p))
        || APR_SUCCESS != (rv = jm_store_change(&st, db, account_id, JM_TYPE_EMAIL,
                                                e->id, "created", p))
        || APR_SUCCESS != (rv = jm_store_change(&st, db, account_id, JM_TYPE_THREAD,
                                                thread, new_thread ? "created"
                                                : "updated", p))) {
        goto done;
    }
done:
    json_decref(kw);
    return rv;
}

static int in_list(apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

/* The keyword rows follow the change: only the keywords removed and added
 * are written (a flag toggled on 50 emails is 50 one-row writes, not 50
 * rewrites of every keyword). */
static apr_status_t write_keywords(jm_db_t *db, const char *acc, const char *id,
                                   const char *text, json_t *old_kw, json_t *kw,
                                   apr_pool_t *p)
{
    const char *key;
    json_t *v;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_SET_KEYWORDS, p, text,
                                  json_is_true(json_object_get(kw, "$seen")) ? "1" : "0",
                                  is_unread(kw) ? "1" : "0", acc, id))) {
        return rv;
    }
    json_object_foreach(old_kw, key, v) {
        if (!json_object_get(kw, key)
            && APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_KEYWORD_DELETE, p, acc, id, key))) {
            return rv;
        }
    }
    json_object_foreach(kw, key, v) {
        if (!json_object_get(old_kw, key)
            && APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_KEYWORD_INSERT, p, acc, id, key))) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_email_update(jm_db_t *db, const char *account_id,
                                   const char *id, const char *keywords,
                                   apr_array_header_t *mailbox_ids, apr_pool_t *p)
{
    jm_email_row_t *e;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = jm_store_email_get(&e, db, account_id, id, p))) {
        return rv;
    }
    return jm_store_email_update_row(db, account_id, e, keywords, mailbox_ids, p);
}

apr_status_t jm_store_email_update_row(jm_db_t *db, const char *account_id,
                                       const jm_email_row_t *e, const char *keywords,
                                       apr_array_header_t *mailbox_ids, apr_pool_t *p)
{
    const char *id = e->id;
    json_t *old_kw = NULL, *new_kw = NULL;
    apr_array_header_t *boxes;
    const char *st;
    apr_status_t rv;
    int was, now, i;

    old_kw = json_loads(e->keywords, 0, NULL);
    new_kw = keywords ? json_loads(keywords, 0, NULL) : json_incref(old_kw);
    if (!json_is_object(old_kw) || !json_is_object(new_kw)) {
        rv = APR_EINVAL;
        goto done;
    }
    was = is_unread(old_kw);
    now = is_unread(new_kw);
    boxes = mailbox_ids ? mailbox_ids : e->mailbox_ids;
    if (keywords
        && APR_SUCCESS != (rv = write_keywords(db, account_id, id, keywords, old_kw,
                                               new_kw, p))) {
        goto done;
    }
    /* mailboxes it leaves lose it as it was; those it joins gain it as it
     * is now; those it stays in only see its unread status change */
    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        const char *mb = APR_ARRAY_IDX(e->mailbox_ids, i, const char *);

        if (!in_list(boxes, mb)) {
            rv = EXEC(db, JM_SQL_EMAIL_MAILBOX_DELETE, p, account_id, id, mb);
            if (rv == APR_SUCCESS) {
                rv = jm_store_mailbox_count(db, account_id, mb, e->thread_id, -1, -was, p);
            }
        }
        else if (was != now) {
            rv = jm_store_mailbox_count(db, account_id, mb, e->thread_id, 0, now - was, p);
        }
        if (rv != APR_SUCCESS) {
            goto done;
        }
    }
    for (i = 0; i < boxes->nelts; i++) {
        const char *mb = APR_ARRAY_IDX(boxes, i, const char *);

        if (!in_list(e->mailbox_ids, mb)
            && (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_MAILBOX_INSERT, p, account_id,
                                          id, mb, jm_i64(apr_time_sec(e->received_at), p)))
                || APR_SUCCESS != (rv = jm_store_mailbox_count(db, account_id, mb,
                                                               e->thread_id, 1, now, p)))) {
            goto done;
        }
    }
    rv = jm_store_change(&st, db, account_id, JM_TYPE_EMAIL, id, "updated", p);
done:
    json_decref(old_kw);
    json_decref(new_kw);
    return rv;
}

apr_status_t jm_store_email_destroy(jm_db_t *db, const char *account_id,
                                    const char *id, apr_pool_t *p)
{
    jm_email_row_t *e;
    json_t *kw;
    apr_array_header_t *rows;
    const char *st;
    apr_status_t rv;
    int i, unread, left;

    if (APR_SUCCESS != (rv = jm_store_email_get(&e, db, account_id, id, p))) {
        return rv;
    }
    kw = json_loads(e->keywords, 0, NULL);
    unread = is_unread(kw);
    json_decref(kw);
    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        const char *mb = APR_ARRAY_IDX(e->mailbox_ids, i, const char *);

        if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_MAILBOX_DELETE, p, account_id, id, mb))
            || APR_SUCCESS != (rv = jm_store_mailbox_count(db, account_id, mb,
                                                           e->thread_id, -1, -unread, p))) {
            return rv;
        }
    }
    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_KEYWORDS_DELETE, p, account_id, id))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_FTS_DELETE, p, account_id, id))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_HEADERS_DELETE, p, account_id, id))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_DELETE, p, account_id, id))
        || APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_THREAD_SIZE, p, account_id,
                                       e->thread_id))) {
        return rv;
    }
    left = rows->nelts ? atoi(COL(rows, 0, 0)) : 0;
    /* an empty thread is gone, and so are the message ids that led to it */
    if (!left && APR_SUCCESS != (rv = EXEC(db, JM_SQL_THREAD_REFS_DELETE, p, account_id,
                                           e->thread_id))) {
        return rv;
    }
    if (APR_SUCCESS != (rv = jm_store_change(&st, db, account_id, JM_TYPE_EMAIL, id,
                                             "destroyed", p))) {
        return rv;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_THREAD, e->thread_id,
                           left ? "updated" : "destroyed", p);
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
    e->view = COL(rows, 0, 6);
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
                                    jm_i64(limit, p)))) {
        return rv;
    }
    *pids = jm_store_first_column(rows, p);
    return APR_SUCCESS;
}

apr_status_t jm_store_email_by_blob(const char **pid, jm_db_t *db,
                                    const char *account_id, const char *blob_id,
                                    apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    *pid = NULL;
    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_EMAIL_BY_BLOB, p, account_id,
                                    blob_id))) {
        return rv;
    }
    *pid = rows->nelts ? COL(rows, 0, 0) : NULL;
    return APR_SUCCESS;
}

apr_status_t jm_store_thread_emails(apr_array_header_t **pids, jm_db_t *db,
                                    const char *account_id, const char *thread_id,
                                    apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_THREAD_EMAIL_IDS, p, account_id,
                                    thread_id))) {
        return rv;
    }
    *pids = jm_store_first_column(rows, p);
    return APR_SUCCESS;
}

apr_status_t jm_store_emails_unindexed(apr_array_header_t **prows, jm_db_t *db,
                                       apr_int64_t limit, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_EMAIL_UNINDEXED, p,
                                    jm_i64(limit, p)))) {
        return rv;
    }
    *prows = apr_array_make(p, rows->nelts + 1, sizeof(jm_store_unindexed_t));
    for (i = 0; i < rows->nelts; i++) {
        jm_store_unindexed_t *e = apr_array_push(*prows);
        e->account_id = COL(rows, i, 0);
        e->id = COL(rows, i, 1);
        e->blob_id = COL(rows, i, 2);
        e->thread_id = COL(rows, i, 3);
    }
    return APR_SUCCESS;
}

apr_status_t jm_store_email_set_cols(jm_db_t *db, const jm_store_unindexed_t *e,
                                     const jm_email_cols_t *c, apr_pool_t *p)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_SET_COLS, p, c->subject,
                                  c->sort_subject, c->thread_subject, c->from_sort,
                                  c->to_sort, c->from_text, c->to_text, c->cc_text,
                                  c->bcc_text, jm_i64(c->sent_at, p),
                                  c->has_attachment ? "1" : "0", c->preview,
                                  c->from_key ? c->from_key : "",
                                  c->to_key ? c->to_key : "", e->account_id, e->id))
        /* what an earlier index left (none after a migration) goes first */
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_FTS_DELETE, p, e->account_id, e->id))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_EMAIL_HEADERS_DELETE, p, e->account_id,
                                     e->id))
        || APR_SUCCESS != (rv = fts_insert(db, e->account_id, e->id, c, p))
        || APR_SUCCESS != (rv = put_headers(db, e->account_id, e->id, c, p))) {
        return rv;
    }
    return point_ids(db, e->account_id, named_ids(c, p), e->thread_id, p);
}
