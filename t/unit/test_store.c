/* Unit tests: the store on SQLite through apr_dbd — accounts, state,
 * blobs (binary-safe, in chunks, read one chunk at a time, damage
 * detected), emails, all-or-nothing transactions, and the bounded wait for
 * a write lock that another connection holds (readers not held up). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>
#include "tap.h"
#include "db_suite.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"

static apr_pool_t *pool;

/* What jm_store_blob_read handed over. */
typedef struct {
    unsigned char *buf;
    apr_size_t used, cap;
    int calls;
    apr_size_t largest;
    int stop_after;             /* >0: fail the read after this many calls */
} sink_t;

static apr_status_t sink(void *baton, const unsigned char *data, apr_size_t len)
{
    sink_t *s = baton;

    if (s->used + len > s->cap) {
        return APR_ENOSPC;
    }
    memcpy(s->buf + s->used, data, len);
    s->used += len;
    s->largest = len > s->largest ? len : s->largest;
    if (++s->calls == s->stop_after) {
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

/* A writer waiting for the write lock, in a thread of its own. */
typedef struct {
    jm_db_t *db;
    apr_interval_time_t max_wait;
    apr_status_t rv;
    apr_time_t took;
} waiter_t;

static void *APR_THREAD_FUNC wait_for_write(apr_thread_t *t, void *data)
{
    waiter_t *w = data;
    apr_pool_t *p;
    apr_time_t start = apr_time_now();

    apr_pool_create(&p, NULL);
    w->rv = jm_db_begin_within(w->db, w->max_wait, p);
    w->took = apr_time_now() - start;
    if (w->rv == APR_SUCCESS) {
        jm_db_rollback(w->db);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    jm_db_t *db, *db2;
    const char *err = NULL, *dir, *file, *acc, *acc2, *st, *st2, *type;
    const unsigned char *data;
    apr_size_t len;
    apr_array_header_t *boxes, *ids;
    jm_email_row_t row, *got;
    unsigned char bin[256], *big;
    apr_size_t big_len = 3 * JM_SQL_CHUNK_BYTES + 5;
    apr_int64_t size;
    sink_t sk;
    waiter_t w;
    apr_thread_t *thr;
    apr_status_t trv;
    apr_time_t t0;
    jm_db_t *db3 = NULL;
    int from, created, i;

    apr_initialize();
    atexit(apr_terminate);   /* runs the pool cleanups: nothing left for LeakSanitizer */
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    if (apr_dbd_get_driver(pool, "sqlite3", &drv) != APR_SUCCESS) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    dir = apr_psprintf(pool, "/tmp/jm-test-store.%d", (int)getpid());
    apr_dir_make_recursive(dir, APR_OS_DEFAULT, pool);
    file = apr_pstrcat(pool, dir, "/t.db", NULL);
    db = tdb_open(pool, drv, file);
    ok(db != NULL, "open");
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema");

    ok(jm_store_account_ensure(&acc, &created, db, "carol", pool) == APR_SUCCESS, "provision");
    ok(created, "first time: created");
    ok(jm_store_account_ensure(&acc2, &created, db, "carol", pool) == APR_SUCCESS && !created,
       "second time: found, not created");
    is_str(acc2, acc, "same id");
    ok(jm_store_mailboxes(&boxes, db, acc, pool) == APR_SUCCESS, "mailboxes");
    is_int(boxes->nelts, 6, "six role mailboxes");
    ok(jm_store_state(&st, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS, "state");
    is_str(st, "0", "initial state 0");
    ok(jm_store_state(&st, db, acc, "Bogus", pool) == APR_NOTFOUND, "unknown type: notfound");

    /* a second connection sees the same account (no per-connection state) */
    db2 = tdb_open(pool, drv, file);
    ok(jm_store_account_ensure(&acc2, &created, db2, "carol", pool) == APR_SUCCESS
       && !created && !strcmp(acc2, acc), "second connection finds the account");

    for (i = 0; i < 256; i++) {
        bin[i] = (unsigned char)i;
    }
    ok(jm_store_blob_put(db, acc, "Gbin", "application/octet-stream", bin, sizeof(bin),
                         pool) == APR_SUCCESS, "blob put (binary, with NULs)");
    ok(jm_store_blob_put(db, acc, "Gbin", "application/octet-stream", bin, sizeof(bin),
                         pool) == APR_SUCCESS, "same blob again is fine (content-addressed)");
    ok(jm_store_blob_get(&data, &len, &type, db, acc, "Gbin", pool) == APR_SUCCESS, "blob get");
    ok(len == sizeof(bin) && memcmp(data, bin, len) == 0, "bytes identical");
    is_str(type, "application/octet-stream", "type kept");
    ok(jm_store_blob_get(&data, &len, &type, db, "Aother", "Gbin", pool) == APR_NOTFOUND,
       "blobs are per account");

    /* chunks: a blob of 3 full chunks and 5 bytes */
    big = apr_palloc(pool, big_len);
    for (i = 0; i < (int)big_len; i++) {
        big[i] = (unsigned char)((i * 7919) ^ (i >> 11));
    }
    ok(jm_store_blob_put(db, acc, "Gbig", "application/x-big", big, big_len, pool)
       == APR_SUCCESS, "big blob put (own transaction)");
    ok(!jm_db_in_transaction(db), "... and that transaction is closed");
    ok(jm_store_blob_info(&size, &type, db, acc, "Gbig", pool) == APR_SUCCESS
       && size == (apr_int64_t)big_len, "info: the stored size");
    is_str(type, "application/x-big", "info: the type");
    memset(&sk, 0, sizeof(sk));
    sk.cap = big_len;
    sk.buf = apr_palloc(pool, sk.cap);
    ok(jm_store_blob_read(db, acc, "Gbig", size, sink, &sk, pool) == APR_SUCCESS,
       "read chunk by chunk");
    is_int(sk.calls, 4, "four chunks");
    is_int(sk.largest, JM_SQL_CHUNK_BYTES, "none larger than JM_SQL_CHUNK_BYTES");
    ok(sk.used == big_len && memcmp(sk.buf, big, big_len) == 0, "bytes identical");
    ok(jm_store_blob_get(&data, &len, NULL, db2, acc, "Gbig", pool) == APR_SUCCESS
       && len == big_len && memcmp(data, big, len) == 0,
       "jm_store_blob_get: the whole blob, from the chunks (other connection)");
    memset(&sk, 0, sizeof(sk));
    sk.cap = big_len;
    sk.buf = apr_palloc(pool, sk.cap);
    sk.stop_after = 2;
    ok(jm_store_blob_read(db, acc, "Gbig", size, sink, &sk, pool) == APR_ECONNABORTED
       && sk.calls == 2, "the callback's failure stops the read and is returned");
    ok(jm_store_blob_put(db, acc, "Gempty", "text/plain", "", 0, pool) == APR_SUCCESS
       && jm_store_blob_get(&data, &len, &type, db, acc, "Gempty", pool) == APR_SUCCESS
       && len == 0, "empty blob: no chunks, reads as empty");

    /* inside the caller's transaction: rolled back with it */
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin (blob in a caller's transaction)");
    ok(jm_store_blob_put(db, acc, "Grolled", "text/plain", big, 2 * JM_SQL_CHUNK_BYTES,
                         pool) == APR_SUCCESS, "put inside it");
    ok(jm_db_in_transaction(db), "the caller's transaction stays open");
    ok(jm_db_rollback(db) == APR_SUCCESS, "rollback");
    ok(jm_store_blob_info(&size, NULL, db, acc, "Grolled", pool) == APR_NOTFOUND,
       "the blob went with the rollback");
    ok(jm_db_select_literal(&st, db, "SELECT COUNT(*) FROM jm_contents c JOIN"
                            " jm_content_chunks k ON k.content_key = c.content_key"
                            " WHERE c.size = 393216", pool) == APR_SUCCESS
       && st && !strcmp(st, "0"), "... and so did its content");

    /* damage is detected, never served as a short or wrong blob */
    ok(jm_db_exec_literal(db, "DELETE FROM jm_content_chunks WHERE seq = 2 AND content_key"
                          " = (SELECT content_key FROM jm_blobs WHERE id = 'Gbig')", pool)
       == APR_SUCCESS, "remove chunk 2 of Gbig's content");
    ok(jm_store_blob_get(&data, &len, NULL, db, acc, "Gbig", pool) == APR_EGENERAL,
       "a missing chunk: error");
    ok(jm_db_exec_literal(db, "UPDATE jm_blobs SET size = 10 WHERE id = 'Gbin'", pool)
       == APR_SUCCESS, "make Gbin's stored size too small");
    ok(jm_store_blob_get(&data, &len, NULL, db, acc, "Gbin", pool) == APR_EGENERAL,
       "chunks longer than the size: error");
    ok(jm_db_exec_literal(db, "UPDATE jm_blobs SET size = 256 WHERE id = 'Gbin'", pool)
       == APR_SUCCESS, "(restored)");

    /* the write lock: held by db; db2 waits, bounded; db3 reads meanwhile */
    db3 = tdb_open(pool, drv, file);
    ok(db3 != NULL, "third connection");
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "db holds the write lock");
    t0 = apr_time_now();
    ok(jm_db_begin_within(db2, apr_time_from_msec(300), pool) == APR_TIMEUP,
       "a second writer gives up with APR_TIMEUP");
    ok(apr_time_now() - t0 >= apr_time_from_msec(250)
       && apr_time_now() - t0 < apr_time_from_sec(2), "... after about the bound");
    ok(!jm_db_in_transaction(db2), "... with no transaction open");
    w.db = db2;
    w.max_wait = apr_time_from_sec(2);
    w.rv = APR_EGENERAL;
    apr_thread_create(&thr, NULL, wait_for_write, &w, pool);
    apr_sleep(apr_time_from_msec(100));
    t0 = apr_time_now();
    ok(jm_store_state(&st, db3, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS
       && jm_store_blob_get(&data, &len, NULL, db3, acc, "Gbin", pool) == APR_SUCCESS,
       "reads on another connection while a writer waits");
    ok(apr_time_now() - t0 < apr_time_from_msec(500),
       "... are not held up by the waiting writer (apr_dbd's process-wide lock is free)");
    diag("read while a writer waits: %" APR_TIME_T_FMT " us", apr_time_now() - t0);
    apr_sleep(apr_time_from_msec(200));
    ok(jm_db_commit(db) == APR_SUCCESS, "db commits");
    apr_thread_join(&trv, thr);
    ok(w.rv == APR_SUCCESS, "the waiting writer then gets the lock");
    ok(w.took >= apr_time_from_msec(250) && w.took < apr_time_from_sec(2),
       "... after waiting for it, within its bound");

    memset(&row, 0, sizeof(row));
    row.id = "Me1";
    row.blob_id = "Gbin";
    row.thread_id = "Te1";
    row.size = 256;
    row.received_at = apr_time_from_sec(1700000000);
    row.keywords = "{\"$seen\":true}";
    row.mailbox_ids = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(row.mailbox_ids, const char *) =
        APR_ARRAY_IDX(boxes, 1, jm_mailbox_row_t *)->id;

    /* a failed transaction leaves nothing behind */
    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin");
    ok(jm_store_email_insert(db, acc, &row, pool) == APR_SUCCESS, "insert inside txn");
    ok(jm_store_state(&st, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS && !strcmp(st, "1"),
       "the insert bumped the Email state inside the txn");
    ok(jm_store_email_insert(db, acc, &row, pool) != APR_SUCCESS, "duplicate id fails");
    ok(jm_db_rollback(db) == APR_SUCCESS, "rollback");
    ok(jm_store_email_get(&got, db, acc, "Me1", pool) == APR_NOTFOUND, "email not there");
    ok(jm_store_state(&st, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS && !strcmp(st, "0"),
       "state unchanged after rollback");

    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin again");
    ok(jm_store_email_insert(db, acc, &row, pool) == APR_SUCCESS, "insert");
    ok(jm_store_state(&st, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS, "state");
    ok(jm_db_commit(db) == APR_SUCCESS, "commit");
    is_str(st, "1", "new state 1");
    ok(jm_store_email_get(&got, db2, acc, "Me1", pool) == APR_SUCCESS, "other connection reads it");
    is_str(got->blob_id, "Gbin", "blob id");
    is_int(got->size, 256, "size");
    ok(got->received_at == row.received_at, "receivedAt");
    is_int(got->mailbox_ids->nelts, 1, "one mailbox");
    ok(jm_store_mailboxes(&boxes, db, acc, pool) == APR_SUCCESS
       && APR_ARRAY_IDX(boxes, 1, jm_mailbox_row_t *)->total_emails == 1
       && APR_ARRAY_IDX(boxes, 1, jm_mailbox_row_t *)->unread_emails == 0,
       "mailbox counts: 1 total, 0 unread ($seen)");
    ok(jm_store_email_ids(&ids, db, acc, 10, pool) == APR_SUCCESS && ids->nelts == 1, "ids");
    ok(jm_store_state(&st2, db, acc, JM_TYPE_MAILBOX, pool) == APR_SUCCESS, "mailbox state readable");

    /* close every connection (apr_dbd does not tie them to the pool) */
    if (db) {
        jm_db_close(db);
    }
    if (db2) {
        jm_db_close(db2);
    }
    if (db3) {
        jm_db_close(db3);
    }
    apr_file_remove(file, pool);
    apr_file_remove(apr_pstrcat(pool, file, "-wal", NULL), pool);
    apr_file_remove(apr_pstrcat(pool, file, "-shm", NULL), pool);
    apr_dir_remove(dir, pool);
    return done_testing();
}
