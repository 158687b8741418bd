/* Mailboxes and their counts (RFC 8621 §2). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

apr_status_t jm_store_mailboxes(apr_array_header_t **pboxes, jm_db_t *db,
                                const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows, *boxes;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_LIST, p, account_id))) {
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
        m->is_subscribed = atoi(COL(rows, i, 5)) != 0;
        m->total_emails = atol(COL(rows, i, 6));
        m->unread_emails = atol(COL(rows, i, 7));
        m->total_threads = atol(COL(rows, i, 8));
        m->unread_threads = atol(COL(rows, i, 9));
        APR_ARRAY_PUSH(boxes, jm_mailbox_row_t *) = m;
    }
    *pboxes = boxes;
    return APR_SUCCESS;
}

/* The (mailbox, thread) row says how many emails of the thread are in the
 * mailbox and how many of those are unread (neither $seen nor $draft,
 * RFC 8621 §2 unreadEmails); the mailbox's totalThreads counts such rows,
 * unreadThreads those with unread > 0 (the "simplest solution" of §2). */
apr_status_t jm_store_mailbox_count(jm_db_t *db, const char *account_id,
                                    const char *mailbox_id, const char *thread_id,
                                    int d_emails, int d_unread, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_int64_t emails = 0, unread = 0, ne, nu;
    const char *st;
    apr_status_t rv = APR_SUCCESS;
    int had, has;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MBTHREAD_GET, p, account_id,
                                    mailbox_id, thread_id))) {
        return rv;
    }
    had = rows->nelts > 0;
    if (had) {
        emails = apr_atoi64(COL(rows, 0, 0));
        unread = apr_atoi64(COL(rows, 0, 1));
    }
    ne = emails + d_emails;
    nu = unread + d_unread;
    if (ne < 0 || nu < 0 || nu > ne) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01053) "mailbox %s of account %s: thread %s counts "
                      "would become %" APR_INT64_T_FMT "/%" APR_INT64_T_FMT,
                      mailbox_id, account_id, thread_id, ne, nu);
        return APR_EGENERAL;
    }
    has = ne > 0;
    if (!had && has) {
        rv = EXEC(db, JM_SQL_MBTHREAD_INSERT, p, account_id, mailbox_id, thread_id,
                  jm_i64(ne, p), jm_i64(nu, p));
    }
    else if (had && !has) {
        rv = EXEC(db, JM_SQL_MBTHREAD_DELETE, p, account_id, mailbox_id, thread_id);
    }
    else if (had) {
        rv = EXEC(db, JM_SQL_MBTHREAD_UPDATE, p, jm_i64(ne, p), jm_i64(nu, p),
                  account_id, mailbox_id, thread_id);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_MAILBOX_ADJUST, p, jm_i64(d_emails, p),
                                  jm_i64(d_unread, p), jm_i64(has - had, p),
                                  jm_i64((nu > 0) - (unread > 0), p), account_id,
                                  mailbox_id))) {
        return rv;
    }
    /* only counts moved: Mailbox/changes can say so (RFC 8621 §2.2) */
    return jm_store_change_props(&st, db, account_id, JM_TYPE_MAILBOX, mailbox_id,
                                 "updated", "counts", p);
}

apr_status_t jm_store_mailbox_ids(apr_array_header_t **pids, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_IDS, p, account_id))) {
        return rv;
    }
    *pids = jm_store_first_column(rows, p);
    return APR_SUCCESS;
}


/* A constraint the database refused: the unique sibling name index. The
 * drivers report it differently; the caller has checked every other
 * constraint, so a failed statement here means a racing duplicate. */
static apr_status_t write_failed(apr_status_t rv, jm_db_t *db)
{
    const char *e = db->last_error ? db->last_error : "";

    return (strstr(e, "UNIQUE") || strstr(e, "unique") || strstr(e, "duplicate"))
           ? APR_EEXIST : rv;
}

apr_status_t jm_store_mailbox_insert(jm_db_t *db, const char *account_id,
                                     const jm_mailbox_row_t *m, apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = EXEC(db, JM_SQL_MAILBOX_INSERT, p, m->id, account_id,
                                  m->name, m->parent_id, m->role,
                                  jm_i64(m->sort_order, p)))
        || APR_SUCCESS != (rv = EXEC(db, JM_SQL_MAILBOX_UPDATE, p, m->name, m->parent_id,
                                     m->role, jm_i64(m->sort_order, p),
                                     m->is_subscribed ? "1" : "0", account_id, m->id))) {
        return write_failed(rv, db);
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_MAILBOX, m->id, "created", p);
}

apr_status_t jm_store_mailbox_update(jm_db_t *db, const char *account_id,
                                     const jm_mailbox_row_t *m, apr_pool_t *p)
{
    const char *st;
    apr_status_t rv;
    int n = 0;

    if (APR_SUCCESS != (rv = EXECN(db, &n, JM_SQL_MAILBOX_UPDATE, p, m->name,
                                   m->parent_id, m->role, jm_i64(m->sort_order, p),
                                   m->is_subscribed ? "1" : "0", account_id, m->id))) {
        return write_failed(rv, db);
    }
    if (n == 0) {
        return APR_NOTFOUND;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_MAILBOX, m->id, "updated", p);
}

apr_status_t jm_store_mailbox_destroy(jm_db_t *db, const char *account_id,
                                      const char *id, int remove_emails,
                                      apr_pool_t *p)
{
    apr_array_header_t *rows, *ids;
    const char *st;
    apr_status_t rv;
    apr_pool_t *sub;
    int i, n = 0;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_CHILDREN, p, account_id, id))) {
        return rv;
    }
    if (rows->nelts && atol(COL(rows, 0, 0)) > 0) {
        return APR_EEXIST;
    }
    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_EMAIL_IDS, p, account_id, id))) {
        return rv;
    }
    if (rows->nelts && !remove_emails) {
        return APR_EBUSY;
    }
    ids = jm_store_first_column(rows, p);
    apr_pool_create(&sub, p);
    for (i = 0; i < ids->nelts && rv == APR_SUCCESS; i++) {
        const char *eid = APR_ARRAY_IDX(ids, i, const char *);
        jm_email_row_t *e;
        apr_array_header_t *rest;
        int j;

        apr_pool_clear(sub);
        if (APR_SUCCESS != (rv = jm_store_email_get(&e, db, account_id, eid, sub))) {
            break;
        }
        rest = apr_array_make(sub, e->mailbox_ids->nelts, sizeof(const char *));
        for (j = 0; j < e->mailbox_ids->nelts; j++) {
            const char *mb = APR_ARRAY_IDX(e->mailbox_ids, j, const char *);
            if (strcmp(mb, id)) {
                APR_ARRAY_PUSH(rest, const char *) = mb;
            }
        }
        rv = rest->nelts ? jm_store_email_update(db, account_id, eid, NULL, rest, sub)
                         : jm_store_email_destroy(db, account_id, eid, sub);
        rv = jm_store_keep_error(rv, db, p);
    }
    apr_pool_destroy(sub);
    if (rv != APR_SUCCESS
        || APR_SUCCESS != (rv = EXECN(db, &n, JM_SQL_MAILBOX_DELETE, p, account_id, id))) {
        return rv;
    }
    if (n == 0) {
        return APR_NOTFOUND;
    }
    return jm_store_change(&st, db, account_id, JM_TYPE_MAILBOX, id, "destroyed", p);
}
