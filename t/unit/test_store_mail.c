/* Unit tests: the mail data model in the store (schema 3) — mailbox counts
 * kept incrementally through inserts, keyword changes, moves and destroys
 * (checked against a recount), threads from message ids (including the
 * merge when a late message joins two threads), the change log
 * (jm_store_changes_since: order, limit, more) and its pruning.
 * SQLite always; PostgreSQL too when JMAP_TEST_PG_PORT is set (role
 * jmap/jmappw, t/lib/pg-start.sh). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "db_suite.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"

static apr_pool_t *pool;
static const char *acc;
static const char *inbox, *archive, *trash;

static apr_array_header_t *list(const char *a, const char *b)
{
    apr_array_header_t *l = apr_array_make(pool, 2, sizeof(const char *));

    if (a) {
        APR_ARRAY_PUSH(l, const char *) = a;
    }
    if (b) {
        APR_ARRAY_PUSH(l, const char *) = b;
    }
    return l;
}

static jm_email_row_t *email(const char *id, const char *kw, apr_array_header_t *boxes,
                             const char *own, const char *refs)
{
    jm_email_row_t *e = apr_pcalloc(pool, sizeof(*e));
    jm_email_cols_t *c = apr_pcalloc(pool, sizeof(*c));

    c->subject = c->sort_subject = c->thread_subject = id;
    c->from_sort = c->to_sort = c->from_text = c->to_text = "";
    c->cc_text = c->bcc_text = c->preview = c->body_text = "";
    c->sent_at = -1;
    c->own_ids = list(own, NULL);
    c->ref_ids = refs ? list(refs, NULL) : list(NULL, NULL);
    e->id = id;
    e->blob_id = apr_pstrcat(pool, "G", id, NULL);
    e->size = 100;
    e->received_at = apr_time_from_sec(1700000000);
    e->keywords = kw;
    e->mailbox_ids = boxes;
    e->cols = c;
    return e;
}

static jm_mailbox_row_t *box(jm_db_t *db, const char *id)
{
    apr_array_header_t *boxes;
    int i;

    if (jm_store_mailboxes(&boxes, db, acc, pool) != APR_SUCCESS) {
        return NULL;
    }
    for (i = 0; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (!strcmp(m->id, id)) {
            return m;
        }
    }
    return NULL;
}

static long recount(jm_db_t *db, const char *sql_fmt, const char *mb)
{
    const char *v = NULL;

    if (jm_db_select_literal(&v, db, apr_psprintf(pool, sql_fmt, acc, mb), pool)
        != APR_SUCCESS || !v) {
        return -1;
    }
    return atol(v);
}

/* The kept counts equal a count from scratch (RFC 8621 §2 definitions). */
static void counts_are_exact(jm_db_t *db, const char *mb, const char *what)
{
    jm_mailbox_row_t *m = box(db, mb);
    const char *mem = "FROM jm_email_mailboxes m JOIN jm_emails e ON e.account_id ="
        " m.account_id AND e.id = m.email_id WHERE m.account_id = '%s' AND m.mailbox_id = '%s'";

    ok(m != NULL, "%s: mailbox found", what);
    if (!m) {
        return;
    }
    is_int(m->total_emails, recount(db, apr_pstrcat(pool, "SELECT COUNT(*) ", mem, NULL), mb),
           "totalEmails");
    is_int(m->unread_emails, recount(db, apr_pstrcat(pool, "SELECT COUNT(*) ", mem,
                                                     " AND e.unread = 1", NULL), mb),
           "unreadEmails");
    is_int(m->total_threads, recount(db, apr_pstrcat(pool, "SELECT COUNT(DISTINCT e.thread_id) ",
                                                     mem, NULL), mb), "totalThreads");
    is_int(m->unread_threads, recount(db, apr_pstrcat(pool, "SELECT COUNT(DISTINCT"
                                                      " e.thread_id) ", mem,
                                                      " AND e.unread = 1", NULL), mb),
           "unreadThreads");
}

static const char *thread_of(jm_db_t *db, const char *id)
{
    jm_email_row_t *e;

    return jm_store_email_get(&e, db, acc, id, pool) == APR_SUCCESS ? e->thread_id : "?";
}

static int txn(jm_db_t *db, apr_status_t rv)
{
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        return 0;
    }
    return jm_db_commit(db) == APR_SUCCESS;
}

static apr_int64_t state_of(jm_db_t *db, const char *type)
{
    const char *st = "-1";

    jm_store_state(&st, db, acc, type, pool);
    return apr_atoi64(st);
}

static void run(jm_db_t *db, const char *label)
{
    apr_array_header_t *boxes, *ch;
    const char *err = NULL, *t1, *t3;
    apr_int64_t s0, cur, oldest, since;
    int from, created, more, i, n_destroyed = 0, n_updated = 0;

    diag("--- %s", label);
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema (%s)", err ? err : "");
    ok(jm_store_account_ensure(&acc, &created, db, apr_psprintf(pool, "u%d", (int)getpid()),
                               pool) == APR_SUCCESS, "account");
    ok(jm_store_mailboxes(&boxes, db, acc, pool) == APR_SUCCESS && boxes->nelts == 6,
       "six role mailboxes");
    for (i = 0; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (!strcmp(m->role, "inbox")) inbox = m->id;
        if (!strcmp(m->role, "archive")) archive = m->id;
        if (!strcmp(m->role, "trash")) trash = m->id;
    }
    s0 = state_of(db, JM_TYPE_EMAIL);

    /* e1 and e2 (replying to e1) share a thread; e3 starts its own */
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
    ok(txn(db, jm_store_email_insert(db, acc, email("Me1", "{}", list(inbox, NULL),
                                                    "a@x", NULL), pool)), "e1");
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc,
           email("Me2", "{\"$seen\":true}", list(inbox, NULL), "b@x", "a@x"), pool)), "e2");
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc,
           email("Me3", "{}", list(inbox, NULL), "c@x", NULL), pool)), "e3");
    t1 = thread_of(db, "Me1");
    t3 = thread_of(db, "Me3");
    is_str(thread_of(db, "Me2"), t1, "a reply joins its parent's thread");
    ok(strcmp(t1, t3) != 0, "an unrelated message has a thread of its own");
    is_int(box(db, inbox)->total_emails, 3, "inbox: 3 emails");
    is_int(box(db, inbox)->total_threads, 2, "inbox: 2 threads");
    is_int(box(db, inbox)->unread_emails, 2, "inbox: 2 unread");
    counts_are_exact(db, inbox, "after inserts");

    /* a draft is not unread (RFC 8621 §2: neither $seen nor $draft) */
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc,
           email("Md", "{\"$draft\":true}", list(trash, NULL), "d@x", NULL), pool)), "draft");
    is_int(box(db, trash)->unread_emails, 0, "a draft does not count as unread");
    counts_are_exact(db, trash, "draft");

    /* e4 references e2 and e3: their two threads become one */
    since = state_of(db, JM_TYPE_THREAD);
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc,
           email("Me4", "{}", list(inbox, archive), "e@x", "c@x"), pool)), "e4 -> e3");
    is_str(thread_of(db, "Me4"), t3, "e4 joins e3's thread");
    {
        jm_email_row_t *late = email("Me5", "{}", list(inbox, NULL), "f@x", "b@x");
        APR_ARRAY_PUSH(late->cols->ref_ids, const char *) = "c@x";
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc, late, pool)),
           "e5 names messages of both threads");
    }
    is_str(thread_of(db, "Me3"), thread_of(db, "Me1"), "the threads are merged");
    is_str(thread_of(db, "Me4"), thread_of(db, "Me1"), "with all their emails");
    is_int(box(db, inbox)->total_threads, 1, "inbox: one thread now");
    counts_are_exact(db, inbox, "after the merge");
    counts_are_exact(db, archive, "archive after the merge");
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_THREAD, since,
                              100, pool) == APR_SUCCESS && ch, "Thread changes");
    for (i = 0; ch && i < ch->nelts; i++) {
        jm_change_t *c = &APR_ARRAY_IDX(ch, i, jm_change_t);
        n_destroyed += c->kind == JM_CHANGE_DESTROYED;
        ok(i == 0 || c->state > APR_ARRAY_IDX(ch, i - 1, jm_change_t).state,
           "changes in state order");
    }
    is_int(n_destroyed, 1, "one thread destroyed by the merge");

    /* keywords: e1 read; mailboxes: e3 leaves the inbox for the archive */
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_update(db, acc, "Me1",
           "{\"$seen\":true,\"$flagged\":true}", NULL, pool)), "e1 seen+flagged");
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_update(db, acc, "Me3", NULL,
           list(archive, NULL), pool)), "e3 moved");
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_update(db, acc, "Me4",
           "{\"$seen\":true}", list(archive, trash), pool)), "e4: seen, moved, copied");
    counts_are_exact(db, inbox, "after updates");
    counts_are_exact(db, archive, "archive after updates");
    counts_are_exact(db, trash, "trash after updates");
    is_int(recount(db, "SELECT COUNT(*) FROM jm_email_keywords WHERE account_id = '%s'"
                   " AND keyword = '%s'", "$flagged"), 1, "keyword rows follow");
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
    ok(jm_store_email_update(db, acc, "Mnope", "{}", NULL, pool) == APR_NOTFOUND,
       "updating a missing email: APR_NOTFOUND");
    jm_db_rollback(db);

    /* destroy: counts, thread, change log */
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_destroy(db, acc, "Me4", pool)), "e4 gone");
    counts_are_exact(db, archive, "archive after destroy");
    counts_are_exact(db, trash, "trash after destroy");
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_destroy(db, acc, "Md", pool)),
       "the draft gone");
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
    ok(jm_store_email_destroy(db, acc, "Md", pool) == APR_NOTFOUND, "twice: APR_NOTFOUND");
    jm_db_rollback(db);
    is_int(recount(db, "SELECT COUNT(*) FROM jm_thread_refs WHERE account_id = '%s'"
                   " AND msgid = '%s'", "d@x"), 0, "an emptied thread's ids are forgotten");

    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL, s0, 1000,
                              pool) == APR_SUCCESS && ch, "Email changes since the start");
    is_int(cur, state_of(db, JM_TYPE_EMAIL), "current state");
    ok(!more, "all of them");
    for (i = 0, n_updated = 0; ch && i < ch->nelts; i++) {
        n_updated += APR_ARRAY_IDX(ch, i, jm_change_t).kind == JM_CHANGE_UPDATED;
    }
    ok(n_updated >= 4, "updates logged (%d)", n_updated);
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL, s0, 3,
                              pool) == APR_SUCCESS && ch && ch->nelts == 3 && more,
       "a limit of 3: three, and more");
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL, cur + 5, 3,
                              pool) == APR_SUCCESS && !ch, "a future state: cannot calculate");
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_MAILBOX,
                              0, 1000, pool) == APR_SUCCESS && ch && ch->nelts > 0
       && !strcmp(APR_ARRAY_IDX(ch, 0, jm_change_t).props, "counts"),
       "mailbox count changes say \"counts\"");

    /* mailboxes: create, duplicate sibling names, destroy rules */
    {
        jm_mailbox_row_t m = { "Mf1", "Folder", "", "", 5, 1, 0, 0, 0, 0 };
        jm_mailbox_row_t c = { "Mf2", "Child", "Mf1", "", 0, 0, 0, 0, 0, 0 };
        jm_mailbox_row_t d = { "Mf3", "Folder", "", "", 0, 1, 0, 0, 0, 0 };

        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_mailbox_insert(db, acc, &m, pool)),
           "a top-level mailbox");
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_mailbox_insert(db, acc, &c, pool)),
           "a child");
        ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
        ok(jm_store_mailbox_insert(db, acc, &d, pool) == APR_EEXIST,
           "a second sibling of the same name: APR_EEXIST");
        jm_db_rollback(db);
        d.parent_id = "Mf1";
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_mailbox_insert(db, acc, &d, pool)),
           "the same name under another parent is fine");
        is_int(box(db, "Mf2")->is_subscribed, 0, "isSubscribed stored");
        is_int(box(db, "Mf1")->sort_order, 5, "sortOrder stored");
        ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
        ok(jm_store_mailbox_destroy(db, acc, "Mf1", 1, pool) == APR_EEXIST,
           "a mailbox with children: APR_EEXIST (mailboxHasChild)");
        jm_db_rollback(db);
        c.name = "Renamed";
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_mailbox_update(db, acc, &c, pool)),
           "rename");
        is_str(box(db, "Mf2")->name, "Renamed", "renamed");
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_update(db, acc, "Me1", NULL,
               list("Mf2", inbox), pool)), "e1 also in the child");
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_email_insert(db, acc,
               email("Me9", "{}", list("Mf2", NULL), "g@x", NULL), pool)), "e9 only there");
        ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
        ok(jm_store_mailbox_destroy(db, acc, "Mf2", 0, pool) == APR_EBUSY,
           "a mailbox with emails: APR_EBUSY (mailboxHasEmail)");
        jm_db_rollback(db);
        ok(txn(db, jm_db_begin(db, pool) ?: jm_store_mailbox_destroy(db, acc, "Mf2", 1, pool)),
           "onDestroyRemoveEmails");
        ok(box(db, "Mf2") == NULL, "gone");
        is_str(thread_of(db, "Me9"), "?", "an email only there is destroyed");
        is_str(thread_of(db, "Me1"), thread_of(db, "Me2"), "one also elsewhere stays");
        counts_are_exact(db, inbox, "inbox after the mailbox went");
        ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
        ok(jm_store_mailbox_destroy(db, acc, "Mnone", 1, pool) == APR_NOTFOUND,
           "destroying a missing mailbox: APR_NOTFOUND");
        ok(jm_store_mailbox_update(db, acc, &c, pool) == APR_NOTFOUND,
           "updating it: APR_NOTFOUND");
        jm_db_rollback(db);
    }

    /* pruning: what is forgotten cannot be calculated any more */
    ok(txn(db, jm_db_begin(db, pool) ?: jm_store_changes_prune(db, acc, JM_TYPE_EMAIL,
                                                               s0 + 2, pool)), "prune");
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL, s0 + 1, 100,
                              pool) == APR_SUCCESS && !ch, "before the pruned state: cannot");
    is_int(oldest, s0 + 2, "oldest computable state");
    ok(jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL, s0 + 2, 100,
                              pool) == APR_SUCCESS && ch
       && APR_ARRAY_IDX(ch, 0, jm_change_t).state == s0 + 3, "from it: the rest");
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    if (!(drv = tdb_on_sqlite(pool, "store-mail", run, &dir))) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    tdb_on_pgsql(pool, "store_mail", run);
    tdb_remove_dir(pool, dir);
    return done_testing();
}
