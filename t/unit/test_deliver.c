/* Unit tests: delivery into the store (src/mail/jm_deliver.c) — address to
 * user name (local part / address, domains, case, bad names), accounts
 * found or created, the message in the Inbox with its counts and bytes,
 * the same bytes twice, no Inbox (450), and the durable commit (SQLite:
 * the WAL flushed after COMMIT with the write lock given back, a failed
 * flush a failed commit; relaxed and rolled-back transactions unflushed).
 * SQLite always; PostgreSQL too when JMAP_TEST_PG_PORT is set. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "wal_spy.h"
#include "tap.h"
#include "db_suite.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"
#include "mail/jm_deliver.h"
#include "mime/jm_mime.h"

static apr_pool_t *pool;

static const char *sync_mode(jm_db_t *db)
{
    const char *v = NULL;

    jm_db_select_literal(&v, db, "PRAGMA synchronous", pool);
    return v;
}

static void test_username(void)
{
    apr_array_header_t *doms = apr_array_make(pool, 2, sizeof(const char *));
    jm_deliver_conf_t c = { JM_DELIVER_LOCALPART, NULL, 0, 0, 0 };
    jm_lmtp_reply_t r = { 0, NULL, NULL };

    is_str(jm_deliver_username(&c, "Alice@Example.com", &r, pool), "alice",
           "local part, lower-cased");
    is_str(jm_deliver_username(&c, "postmaster", &r, pool), "postmaster",
           "an address without a domain is its own local part");
    is_str(jm_deliver_username(&c, "\"a@b\"@example.com", &r, pool), "\"a@b\"",
           "the last @ separates the domain");
    ok(!jm_deliver_username(&c, "@example.com", &r, pool) && r.code == 550
       && !strcmp(r.status, "5.1.3"), "an empty local part: 550 5.1.3");
    ok(!jm_deliver_username(&c, "caf\xc3@example.com", &r, pool) && r.code == 550
       && !strcmp(r.status, "5.1.3"), "not UTF-8: 550 5.1.3");
    c.user_from = JM_DELIVER_ADDRESS;
    is_str(jm_deliver_username(&c, "Alice@Example.com", &r, pool), "alice@example.com",
           "the whole address");
    APR_ARRAY_PUSH(doms, const char *) = "example.com";
    APR_ARRAY_PUSH(doms, const char *) = "example.org";
    c.domains = doms;
    is_str(jm_deliver_username(&c, "bob@EXAMPLE.org", &r, pool), "bob@example.org",
           "an accepted domain (any case)");
    r.code = 0;
    ok(!jm_deliver_username(&c, "bob@example.net", &r, pool) && r.code == 550
       && !strcmp(r.status, "5.1.2"), "another domain: 550 5.1.2");
    ok(!jm_deliver_username(&c, "bob", &r, pool) && r.code == 550,
       "no domain when domains are listed: 550");
}

static void run(jm_db_t *db, const char *label)
{
    jm_deliver_conf_t c = { JM_DELIVER_LOCALPART, NULL, 0, 0, 0 };
    jm_lmtp_reply_t r = { 0, NULL, NULL }, rep[3];
    const char *user = apr_psprintf(pool, "deliv%d", (int)getpid());
    const char *addr = apr_pstrcat(pool, user, "@example.com", NULL);
    const char *newuser = apr_pstrcat(pool, user, "new", NULL);
    const char *err = NULL, *acc = NULL, *acc2 = NULL, *id = NULL, *found = NULL, *st0, *st1;
    const char *dst = NULL;
    const char *ids[3];
    apr_array_header_t *boxes;
    jm_mailbox_row_t *in = NULL;
    int from, created, i, sqlite = !strcmp(label, "sqlite3");
    const char *msg = "From: a@example.org\r\nSubject: hello delivery\r\n"
                      "Message-ID: <d1@example.org>\r\n\r\nunusualword body\r\n";

    diag("--- %s", label);
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema (%s)", err ? err : "");
    jm_deliver_rcpt(&acc, &r, &c, db, addr, pool);
    ok(!acc && r.code == 550 && !strcmp(r.status, "5.1.1"), "no account yet: 550 5.1.1");
    ok(jm_store_account_ensure(&acc2, &created, db, user, pool) == APR_SUCCESS, "account");
    jm_deliver_rcpt(&acc, &r, &c, db, apr_pstrcat(pool, "X", addr + 1, NULL), pool);
    ok(acc == NULL, "another user is still unknown");
    jm_deliver_rcpt(&acc, &r, &c, db, addr, pool);
    ok(acc && !strcmp(acc, acc2) && r.code == 250 && !strcmp(r.status, "2.1.5"),
       "the user's account: 250 2.1.5");
    c.create_accounts = 1;
    jm_deliver_rcpt(&acc2, &r, &c, db, apr_pstrcat(pool, newuser, "@x", NULL), pool);
    ok(acc2 && r.code == 250, "JMAPLMTPAccounts create: an account is made");
    ok(jm_store_account_find(&found, db, newuser, pool) == APR_SUCCESS && found
       && !strcmp(found, acc2), "... and stays");

    ok(jm_store_state(&st0, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS, "state before");
    ok(jm_store_state(&dst, db, acc, JM_TYPE_EMAIL_DELIVERY, pool) == APR_SUCCESS
       && !strcmp(dst, "0"), "a new account's EmailDelivery state is 0");
    ids[0] = acc;
    ids[1] = acc2;
    for (i = 0; i < 2; i++) {
        rep[i].code = 0;
    }
    jm_deliver_message(db, NULL, "", 2, NULL, ids, msg, strlen(msg), rep, pool);
    ok(rep[0].code == 250 && !strcmp(rep[0].status, "2.0.0")
       && !strncmp(rep[0].text, "Delivered as Email M", 20), "first recipient: 250 (%s)",
       rep[0].text ? rep[0].text : "");
    ok(rep[1].code == 250, "second recipient: 250");
    id = rep[0].text + strlen("Delivered as Email ");
    ok(jm_store_state(&st1, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS
       && strcmp(st0, st1) != 0, "the Email state moved");
    ok(jm_store_state(&dst, db, acc, JM_TYPE_EMAIL_DELIVERY, pool) == APR_SUCCESS
       && !strcmp(dst, "1"), "so did EmailDelivery (RFC 8621 §1.5), by one");
    {
        /* an account older than EmailDelivery has no row: the first
         * delivery makes it */
        const char *gone = NULL;
        ok(jm_db_exec_literal(db, apr_psprintf(pool, "DELETE FROM jm_states WHERE "
                              "account_id = '%s' AND type = 'EmailDelivery'", acc2),
                              pool) == APR_SUCCESS
           && jm_store_state(&gone, db, acc2, JM_TYPE_EMAIL_DELIVERY, pool) == APR_NOTFOUND,
           "without its EmailDelivery row");
        ids[0] = acc2;
        jm_deliver_message(db, NULL, "", 1, NULL, ids, "Subject: old account\r\n\r\nz\r\n", 27, rep, pool);
        ok(rep[0].code == 250 && jm_store_state(&gone, db, acc2, JM_TYPE_EMAIL_DELIVERY,
                                                pool) == APR_SUCCESS
           && !strcmp(gone, "1"), "a delivery makes the row and moves it to 1");
        ids[0] = acc;
    }
    ok(jm_store_mailboxes(&boxes, db, acc, pool) == APR_SUCCESS, "mailboxes");
    for (i = 0; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (m->role && !strcmp(m->role, "inbox")) {
            in = m;
        }
    }
    ok(in && in->total_emails == 1 && in->unread_emails == 1 && in->total_threads == 1,
       "in the Inbox, unread, one thread");
    {
        jm_email_row_t *e = NULL;
        ok(jm_store_email_get(&e, db, acc, id, pool) == APR_SUCCESS && e
           && e->size == (apr_int64_t)strlen(msg) && !strcmp(e->keywords, "{}"),
           "the Email row: size, no keywords");
    }
    {
        const unsigned char *raw = NULL;
        apr_size_t len = 0;
        jm_email_row_t *e = NULL;
        jm_store_email_get(&e, db, acc, id, pool);
        ok(e && jm_store_blob_get(&raw, &len, NULL, db, acc, e->blob_id, pool) == APR_SUCCESS
           && len == strlen(msg) && !memcmp(raw, msg, len), "the blob is the message's bytes");
    }

    /* the same bytes again: the existing Email */
    jm_deliver_message(db, NULL, "", 1, NULL, ids, msg, strlen(msg), rep, pool);
    ok(rep[0].code == 250 && !strcmp(rep[0].text + strlen("Delivered as Email "), id),
       "the same bytes again: 250 with the existing id");
    ok(jm_store_mailboxes(&boxes, db, acc, pool) == APR_SUCCESS, "mailboxes again");
    for (i = 0, in = NULL; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (m->role && !strcmp(m->role, "inbox")) {
            in = m;
        }
    }
    is_int(in ? in->total_emails : -1, 1, "no second copy");

    /* no Inbox: 450 4.2.1, and the account is untouched */
    {
        apr_array_header_t *b2;
        jm_store_mailboxes(&b2, db, acc2, pool);
        for (i = 0; i < b2->nelts; i++) {
            jm_mailbox_row_t *m = APR_ARRAY_IDX(b2, i, jm_mailbox_row_t *);
            if (m->role && !strcmp(m->role, "inbox")) {
                jm_db_begin(db, pool);
                ok(jm_store_mailbox_destroy(db, acc2, m->id, 1, pool) == APR_SUCCESS
                   && jm_db_commit(db) == APR_SUCCESS, "destroy the second account's Inbox");
            }
        }
    }
    ids[0] = acc2;
    jm_deliver_message(db, NULL, "", 1, NULL, ids, "Subject: x\r\n\r\ny\r\n", 17, rep, pool);
    ok(rep[0].code == 450 && !strcmp(rep[0].status, "4.2.1"), "no Inbox: 450 4.2.1");

    /* the durable commit */
    if (sqlite) {
        const char *ckpt = NULL;
        int n0;

        /* a row that changes (rewriting a row with the same values dirties
         * no page, and SQLite then writes and flushes nothing) */
        jm_db_exec_literal(db, "CREATE TABLE spy_writes (x)", pool);
        wal_spy_db = sqlite3_db_filename(apr_dbd_native_handle(db->driver, db->handle),
                                         "main");
        is_str(sync_mode(db), "1", "SQLite: synchronous NORMAL (1)");
        jm_db_select_literal(&ckpt, db, "PRAGMA wal_autocheckpoint", pool);
        is_str(ckpt, "8192", "checkpoint every 8192 WAL pages, not SQLite's 1000");
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS, "durable transaction");
        is_str(sync_mode(db), "1", "NORMAL inside it too: COMMIT does not flush");
        ok(jm_db_exec_literal(db, "INSERT INTO spy_writes VALUES (1)", pool)
           == APR_SUCCESS, "a write in it");
        n0 = wal_spy_syncs;
        wal_spy_unlocked = 0;
        ok(jm_db_commit(db) == APR_SUCCESS, "commit");
        ok(wal_spy_syncs > n0, "the WAL was flushed (%d)", wal_spy_syncs - n0);
        ok(wal_spy_unlocked == wal_spy_syncs - n0,
           "with the write lock given back: another connection could begin");
        n0 = wal_spy_syncs;
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS, "durable transaction");
        jm_db_rollback(db);
        ok(wal_spy_syncs == n0, "a rollback flushes nothing");

        /* a flush that fails: committed, but the caller hears it failed */
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS
           && jm_db_exec_literal(db, "INSERT INTO spy_writes VALUES (1)", pool)
              == APR_SUCCESS, "durable transaction with a write");
        wal_spy_fail = 1;
        ok(jm_db_commit(db) == APR_EGENERAL, "a failed flush fails the commit");
        ok(db->last_error && strstr(db->last_error, "could not be flushed"),
           "and says so (%s)", db->last_error ? db->last_error : "");
        ok(!jm_db_in_transaction(db), "no transaction left open");
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS && jm_db_commit(db) == APR_SUCCESS,
           "the next durable transaction commits");
    }
    else {
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS && jm_db_commit(db) == APR_SUCCESS,
           "PostgreSQL: a durable transaction is a transaction");
    }

    /* JMAPDurability: full by default, relaxed only when set */
    if (sqlite) {
        int n0 = wal_spy_syncs;

        ok(jm_db_begin(db, pool) == APR_SUCCESS
           && jm_db_exec_literal(db, "INSERT INTO spy_writes VALUES (1)", pool)
              == APR_SUCCESS && jm_db_commit(db) == APR_SUCCESS,
           "a write transaction (default)");
        ok(wal_spy_syncs > n0, "durable by default: the WAL flushed after it");
        jm_db_set_relaxed(db, 1);
        n0 = wal_spy_syncs;
        ok(jm_db_begin(db, pool) == APR_SUCCESS
           && jm_db_exec_literal(db, "INSERT INTO spy_writes VALUES (1)", pool)
              == APR_SUCCESS && jm_db_commit(db) == APR_SUCCESS,
           "a relaxed write transaction");
        ok(wal_spy_syncs == n0, "relaxed: nothing flushed");
        ok(jm_db_begin_durable(db, pool) == APR_SUCCESS
           && jm_db_exec_literal(db, "INSERT INTO spy_writes VALUES (1)", pool)
              == APR_SUCCESS && jm_db_commit(db) == APR_SUCCESS,
           "durable while relaxed");
        ok(wal_spy_syncs > n0, "flushed: jm_db_begin_durable is durable either way");
        jm_db_set_relaxed(db, 0);
        wal_spy_db = NULL;
    }
    else {
        const char *v = NULL;

        ok(jm_db_begin(db, pool) == APR_SUCCESS
           && jm_db_select_literal(&v, db, "SHOW synchronous_commit", pool) == APR_SUCCESS
           && v && !strcmp(v, "on"), "PostgreSQL: durable by default (synchronous_commit on)");
        jm_db_rollback(db);
        jm_db_set_relaxed(db, 1);
        v = NULL;
        ok(jm_db_begin(db, pool) == APR_SUCCESS
           && jm_db_select_literal(&v, db, "SHOW synchronous_commit", pool) == APR_SUCCESS
           && v && !strcmp(v, "off"), "relaxed: synchronous_commit off in the transaction");
        jm_db_rollback(db);
        v = NULL;
        ok(jm_db_select_literal(&v, db, "SHOW synchronous_commit", pool) == APR_SUCCESS
           && v && !strcmp(v, "on"), "and on again after it (SET LOCAL)");
        jm_db_set_relaxed(db, 0);
    }
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "open a transaction");
    ok(jm_db_begin_durable(db, pool) != APR_SUCCESS, "a durable one cannot nest");
    jm_db_rollback(db);
    ok(!jm_db_in_transaction(db), "closed");
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    jm_mime_global_init();
    test_username();
    if (!(drv = tdb_on_sqlite(pool, "deliver", run, &dir))) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    tdb_on_pgsql(pool, "deliver", run);
    tdb_remove_dir(pool, dir);
    return done_testing();
}
