/* SQL for the sqlite3 driver (the embedded default). */
#include <stddef.h>
#include <sqlite3.h>
#include <apr_time.h>
#include <apr_strings.h>
#include "store/sql/jm_sql.h"

/* apr-util's SQLite driver runs every statement of every connection of the
 * process under one process-wide mutex (apr_dbd_mutex_lock in
 * dbd/apr_dbd_sqlite3.c, 1.6.3). Whatever sqlite3_step waits for, the whole
 * process waits for: a busy handler that sleeps there for a lock another
 * process holds stalls every thread, readers included. So:
 *  - statements through apr_dbd wait at most 2 ms here (transient WAL-index
 *    locks); past that apr_dbd's own retry sleeps with its mutex released;
 *  - the write lock, the one lock another process holds for long, is taken
 *    with BEGIN IMMEDIATE on the native handle (txn_native below), outside
 *    apr_dbd's mutex, and jm_db_begin sleeps between attempts, bounded. */
static int busy_wait(void *ctx, int n)
{
    (void)ctx;
    if (n >= 10) {
        return 0;
    }
    apr_sleep(200);
    return 1;
}

static int sqlite_on_connect(void *native)
{
    /* txn_native uses the connection without apr_dbd's mutex: safe when
     * the library serialises its own use (SQLITE_THREADSAFE 1 or 2; each
     * connection serves one thread at a time anyway) */
    if (!sqlite3_threadsafe()) {
        return -1;
    }
    return sqlite3_busy_handler((sqlite3 *)native, busy_wait, NULL) == SQLITE_OK ? 0 : -1;
}

static int sqlite_txn(void *native, jm_txn_op_t op, char *err, apr_size_t errlen)
{
    static const char *const sql[] = { "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK" };
    sqlite3 *h = native;
    int rc;

    if (op == JM_TXN_ROLLBACK && sqlite3_get_autocommit(h)) {
        return JM_TXN_OK;       /* SQLite already rolled back after an error */
    }
    rc = sqlite3_exec(h, sql[op], NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        return JM_TXN_OK;
    }
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        return JM_TXN_BUSY;
    }
    apr_cpystrn(err, sqlite3_errmsg(h), errlen);
    return JM_TXN_FAILED;
}

/* Version 0 -> 1: the initial schema. WAL is set by jm_schema (it cannot
 * run inside a transaction). Blob bytes are stored base64-encoded: apr_dbd's
 * text interface is the one both drivers bind reliably. */
static const char *const v1[] = {
    "CREATE TABLE jm_schema (version INTEGER NOT NULL)",
    "INSERT INTO jm_schema (version) VALUES (0)",
    "CREATE TABLE jm_accounts (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE jm_states (account_id TEXT NOT NULL, type TEXT NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (account_id, type))",
    "CREATE TABLE jm_changes (account_id TEXT NOT NULL, type TEXT NOT NULL,"
    " state INTEGER NOT NULL, object_id TEXT NOT NULL, kind TEXT NOT NULL)",
    "CREATE INDEX jm_changes_by_state ON jm_changes (account_id, type, state)",
    "CREATE TABLE jm_mailboxes (id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
    " name TEXT NOT NULL, parent_id TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '',"
    " sort_order INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX jm_mailboxes_by_account ON jm_mailboxes (account_id)",
    "CREATE TABLE jm_blobs (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " size INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY (account_id, id))",
    "CREATE TABLE jm_emails (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " blob_id TEXT NOT NULL, thread_id TEXT NOT NULL, size INTEGER NOT NULL,"
    " received_at INTEGER NOT NULL, keywords TEXT NOT NULL, seen INTEGER NOT NULL,"
    " PRIMARY KEY (account_id, id))",
    "CREATE INDEX jm_emails_by_received ON jm_emails (account_id, received_at)",
    "CREATE TABLE jm_email_mailboxes (account_id TEXT NOT NULL, email_id TEXT NOT NULL,"
    " mailbox_id TEXT NOT NULL, PRIMARY KEY (account_id, email_id, mailbox_id))",
    NULL
};
/* Version 1 -> 2: blob bytes move out of jm_blobs.data into rows of
 * JM_SQL_CHUNK_BYTES bytes (JM_SQL_CHUNK_CHARS = 262144 characters of
 * base64, a multiple of 4, so every cut is a valid base64 text of its own),
 * read one row at a time when a blob is downloaded. jm_blobs is rebuilt
 * without the column (works on SQLite before 3.35's DROP COLUMN). */
static const char *const v2[] = {
    "CREATE TABLE jm_blob_chunks (account_id TEXT NOT NULL, blob_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, blob_id, seq))",
    "WITH RECURSIVE n(seq) AS (SELECT 0 UNION ALL SELECT seq + 1 FROM n"
    " WHERE (seq + 1) * 262144 < (SELECT MAX(length(data)) FROM jm_blobs))"
    " INSERT INTO jm_blob_chunks (account_id, blob_id, seq, data)"
    " SELECT b.account_id, b.id, n.seq, substr(b.data, n.seq * 262144 + 1, 262144)"
    " FROM jm_blobs b JOIN n ON n.seq * 262144 < length(b.data)",
    "CREATE TABLE jm_blobs_v2 (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " size INTEGER NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY (account_id, id))",
    "INSERT INTO jm_blobs_v2 (account_id, id, size, type, created)"
    " SELECT account_id, id, size, type, created FROM jm_blobs",
    "DROP TABLE jm_blobs",
    "ALTER TABLE jm_blobs_v2 RENAME TO jm_blobs",
    NULL
};
static const char *const *const migrations[] = { v1, v2, NULL };

static const char *const on_connect[] = {
    /* in WAL mode NORMAL keeps the database consistent on power loss and
     * saves an fsync per commit (the last commits may be lost, not torn) */
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    NULL
};

const jm_sql_dialect_t jm_sql_sqlite3 = {
    "sqlite3",
    {
        [JM_SQL_SCHEMA_EXISTS] = "SELECT COUNT(*) FROM sqlite_master"
            " WHERE type = 'table' AND name = 'jm_schema'",
        [JM_SQL_SCHEMA_VERSION] = "SELECT version FROM jm_schema",
        [JM_SQL_ACCOUNT_BY_USER] = "SELECT id FROM jm_accounts WHERE username = %s",
        [JM_SQL_ACCOUNT_INSERT] = "INSERT INTO jm_accounts (id, username, created)"
            " VALUES (%s, %s, %lld) ON CONFLICT (username) DO NOTHING",
        [JM_SQL_STATE_LIST] = "SELECT type, state FROM jm_states WHERE account_id = %s",
        [JM_SQL_STATE_INSERT] = "INSERT INTO jm_states (account_id, type, state)"
            " VALUES (%s, %s, 0) ON CONFLICT (account_id, type) DO NOTHING",
        [JM_SQL_STATE_BUMP] = "UPDATE jm_states SET state = state + 1"
            " WHERE account_id = %s AND type = %s",
        [JM_SQL_STATE_GET] = "SELECT state FROM jm_states WHERE account_id = %s AND type = %s",
        [JM_SQL_CHANGE_INSERT] = "INSERT INTO jm_changes (account_id, type, state,"
            " object_id, kind) VALUES (%s, %s, %lld, %s, %s)",
        [JM_SQL_MAILBOX_LIST] = "SELECT id, name, parent_id, role, sort_order"
            " FROM jm_mailboxes WHERE account_id = %s ORDER BY sort_order, name",
        [JM_SQL_MAILBOX_INSERT] = "INSERT INTO jm_mailboxes (id, account_id, name,"
            " parent_id, role, sort_order) VALUES (%s, %s, %s, %s, %s, %lld)",
        [JM_SQL_MAILBOX_IDS] = "SELECT id FROM jm_mailboxes WHERE account_id = %s",
        [JM_SQL_MAILBOX_COUNTS] = "SELECT m.mailbox_id, COUNT(*),"
            " SUM(CASE WHEN e.seen = 0 THEN 1 ELSE 0 END), COUNT(DISTINCT e.thread_id),"
            " COUNT(DISTINCT CASE WHEN e.seen = 0 THEN e.thread_id END)"
            " FROM jm_email_mailboxes m JOIN jm_emails e"
            " ON e.account_id = m.account_id AND e.id = m.email_id"
            " WHERE m.account_id = %s GROUP BY m.mailbox_id",
        [JM_SQL_BLOB_INSERT] = "INSERT INTO jm_blobs (account_id, id, size, type,"
            " created) VALUES (%s, %s, %lld, %s, %lld)"
            " ON CONFLICT (account_id, id) DO NOTHING",
        [JM_SQL_BLOB_INFO] = "SELECT size, type FROM jm_blobs"
            " WHERE account_id = %s AND id = %s",
        [JM_SQL_BLOB_CHUNK_INSERT] = "INSERT INTO jm_blob_chunks (account_id, blob_id,"
            " seq, data) VALUES (%s, %s, %lld, %s)",
        [JM_SQL_BLOB_CHUNK_GET] = "SELECT data FROM jm_blob_chunks"
            " WHERE account_id = %s AND blob_id = %s AND seq = %lld",
        [JM_SQL_EMAIL_INSERT] = "INSERT INTO jm_emails (account_id, id, blob_id,"
            " thread_id, size, received_at, keywords, seen)"
            " VALUES (%s, %s, %s, %s, %lld, %lld, %s, %lld)",
        [JM_SQL_EMAIL_MAILBOX_INSERT] = "INSERT INTO jm_email_mailboxes (account_id,"
            " email_id, mailbox_id) VALUES (%s, %s, %s)",
        [JM_SQL_EMAIL_GET] = "SELECT id, blob_id, thread_id, size, received_at, keywords"
            " FROM jm_emails WHERE account_id = %s AND id = %s",
        [JM_SQL_EMAIL_MAILBOXES] = "SELECT mailbox_id FROM jm_email_mailboxes"
            " WHERE account_id = %s AND email_id = %s",
        [JM_SQL_EMAIL_IDS] = "SELECT id FROM jm_emails WHERE account_id = %s"
            " ORDER BY received_at DESC, id LIMIT %lld",
    },
    migrations,
    2,
    on_connect,
    1,
    1,
    sqlite_on_connect,
    sqlite_txn
};
