/* SQL for the sqlite3 driver (many users, several httpd nodes). */
#include <stddef.h>
#include "store/sql/jm_sql.h"

/* Version 0 -> 1: the initial schema. Blob bytes are stored base64-encoded: apr_dbd's
 * text interface is the one both drivers bind reliably. */
static const char *const v1[] = {
    "CREATE TABLE jm_schema (version INTEGER NOT NULL)",
    "INSERT INTO jm_schema (version) VALUES (0)",
    "CREATE TABLE jm_accounts (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE,"
    " created BIGINT NOT NULL)",
    "CREATE TABLE jm_states (account_id TEXT NOT NULL, type TEXT NOT NULL,"
    " state BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account_id, type))",
    "CREATE TABLE jm_changes (account_id TEXT NOT NULL, type TEXT NOT NULL,"
    " state BIGINT NOT NULL, object_id TEXT NOT NULL, kind TEXT NOT NULL)",
    "CREATE INDEX jm_changes_by_state ON jm_changes (account_id, type, state)",
    "CREATE TABLE jm_mailboxes (id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
    " name TEXT NOT NULL, parent_id TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '',"
    " sort_order INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX jm_mailboxes_by_account ON jm_mailboxes (account_id)",
    "CREATE TABLE jm_blobs (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " size BIGINT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,"
    " created BIGINT NOT NULL, PRIMARY KEY (account_id, id))",
    "CREATE TABLE jm_emails (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " blob_id TEXT NOT NULL, thread_id TEXT NOT NULL, size BIGINT NOT NULL,"
    " received_at BIGINT NOT NULL, keywords TEXT NOT NULL, seen INTEGER NOT NULL,"
    " PRIMARY KEY (account_id, id))",
    "CREATE INDEX jm_emails_by_received ON jm_emails (account_id, received_at)",
    "CREATE TABLE jm_email_mailboxes (account_id TEXT NOT NULL, email_id TEXT NOT NULL,"
    " mailbox_id TEXT NOT NULL, PRIMARY KEY (account_id, email_id, mailbox_id))",
    NULL
};
/* Version 1 -> 2: blob bytes move out of jm_blobs.data into rows of
 * JM_SQL_CHUNK_BYTES bytes (262144 characters of base64 each; every cut is
 * a multiple of 4 characters, so each row is valid base64 on its own), read
 * one row at a time when a blob is downloaded. */
static const char *const v2[] = {
    "CREATE TABLE jm_blob_chunks (account_id TEXT NOT NULL, blob_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, blob_id, seq))",
    "INSERT INTO jm_blob_chunks (account_id, blob_id, seq, data)"
    " SELECT b.account_id, b.id, s.seq, substr(b.data, s.seq * 262144 + 1, 262144)"
    " FROM jm_blobs b CROSS JOIN LATERAL"
    " generate_series(0, (length(b.data) - 1) / 262144) AS s(seq)"
    " WHERE length(b.data) > 0",
    "ALTER TABLE jm_blobs DROP COLUMN data",
    NULL
};
static const char *const *const migrations[] = { v1, v2, NULL };

static const char *const on_connect[] = {
    /* never wait forever on a lock held by a stuck node */
    "SET lock_timeout = '10s'",
    NULL
};

const jm_sql_dialect_t jm_sql_pgsql = {
    "pgsql",
    {
        [JM_SQL_SCHEMA_EXISTS] = "SELECT COUNT(*) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = 'jm_schema'",
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
    0,
    0,
    NULL,
    NULL
};
