/* Unit tests: the store on SQLite through apr_dbd — accounts, state,
 * blobs (binary-safe), emails, and all-or-nothing transactions. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "jm_schema.h"
#include "jm_store.h"

static apr_pool_t *pool;

static jm_db_t *open_db(const apr_dbd_driver_t *drv, const char *file)
{
    apr_dbd_t *h;
    jm_db_t *db;

    if (apr_dbd_open(drv, pool, file, &h) != APR_SUCCESS
        || jm_db_wrap(&db, drv, h, apr_hash_make(pool), pool, pool) != APR_SUCCESS) {
        return NULL;
    }
    return db;
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
    unsigned char bin[256];
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
    db = open_db(drv, file);
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
    db2 = open_db(drv, file);
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
    ok(jm_store_change(&st, db, acc, JM_TYPE_EMAIL, row.id, "created", pool) == APR_SUCCESS,
       "state bump inside txn");
    ok(jm_store_email_insert(db, acc, &row, pool) != APR_SUCCESS, "duplicate id fails");
    ok(jm_db_rollback(db) == APR_SUCCESS, "rollback");
    ok(jm_store_email_get(&got, db, acc, "Me1", pool) == APR_NOTFOUND, "email not there");
    ok(jm_store_state(&st, db, acc, JM_TYPE_EMAIL, pool) == APR_SUCCESS && !strcmp(st, "0"),
       "state unchanged after rollback");

    ok(jm_db_begin(db, pool) == APR_SUCCESS, "begin again");
    ok(jm_store_email_insert(db, acc, &row, pool) == APR_SUCCESS, "insert");
    ok(jm_store_change(&st, db, acc, JM_TYPE_EMAIL, row.id, "created", pool) == APR_SUCCESS,
       "bump");
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

    /* close both connections (apr_dbd does not tie them to the pool) */
    if (db) {
        apr_dbd_close(drv, db->handle);
    }
    if (db2) {
        apr_dbd_close(drv, db2->handle);
    }
    apr_file_remove(file, pool);
    apr_file_remove(apr_pstrcat(pool, file, "-wal", NULL), pool);
    apr_file_remove(apr_pstrcat(pool, file, "-shm", NULL), pool);
    apr_dir_remove(dir, pool);
    return done_testing();
}
