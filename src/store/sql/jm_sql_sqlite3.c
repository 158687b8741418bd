/* SQL for the sqlite3 driver (the embedded default). */
#include <stddef.h>
#include <string.h>
#include <sqlite3.h>
#include <apr_time.h>
#include <apr_strings.h>
#include "store/sql/jm_sql.h"

/* apr-util's SQLite driver runs every statement of every connection of the
 * process under one process-wide mutex (apr_dbd_mutex_lock in
 * dbd/apr_dbd_sqlite3.c, 1.6.3). The store's statements therefore run on
 * the native handle (jm_sql_sqlite3_stmt.c, .native below); only the rare
 * literal statements (schema migration, connection PRAGMAs) still go
 * through apr_dbd, where a busy handler that sleeps would stall every
 * thread of the process. So:
 *  - a statement waits at most 2 ms here (transient WAL-index locks); past
 *    that the native runner (or apr_dbd's retry) sleeps and tries again,
 *    no mutex held;
 *  - the write lock, the one lock another process holds for long, is taken
 *    with BEGIN IMMEDIATE on the native handle (txn_native below), and
 *    jm_db_begin sleeps between attempts, bounded. */
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

/* A durable commit: the connection commits with synchronous = NORMAL
 * (frames appended to the WAL, no flush) and this flushes the WAL after
 * the write lock is given back, which is what synchronous = FULL does at
 * COMMIT, under the lock. Frames other writers appended since are flushed
 * too, harmlessly: recovery replays the WAL up to its last valid commit
 * frame (checksummed), so this commit survives a crash and no later one is
 * torn. If a checkpoint has moved the frames into the database meanwhile,
 * it flushed the database before the WAL could be reused. A database not
 * in WAL mode (jm_schema_migrate switches every one it opens; a scratch
 * file may not be) wrote its commit into the database file: that is
 * flushed instead. */
static int journal_mode_is_wal(void *baton, int ncols, char **vals, char **names)
{
    (void)names;
    *(int *)baton = ncols == 1 && vals[0] && !strcmp(vals[0], "wal");
    return 0;
}

static int sqlite_sync(void *native, char *err, apr_size_t errlen)
{
    sqlite3_file *f = NULL;
    int wal = 0, rc;

    rc = sqlite3_exec(native, "PRAGMA journal_mode", journal_mode_is_wal, &wal, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_file_control(native, "main", wal ? SQLITE_FCNTL_JOURNAL_POINTER
                                                      : SQLITE_FCNTL_FILE_POINTER, &f);
    }
    if (rc != SQLITE_OK || !f || !f->pMethods) {
        apr_cpystrn(err, rc != SQLITE_OK ? sqlite3_errmsg(native)
                         : "the database file is not open", errlen);
        return -1;
    }
    /* the unix VFS: fdatasync, and the directory once after the file
     * was created */
    rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK) {
        apr_cpystrn(err, sqlite3_errstr(rc), errlen);
        return -1;
    }
    return 0;
}

/* Version 0 -> 1: the initial schema. WAL is set by jm_schema (it cannot
 * run inside a transaction). Blob bytes were base64 text until version 5
 * (binary, see v5). */
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
/* Version 2 -> 3: the mail data model. The change log gets a key (seq),
 * the properties a change touched (props: "counts" when only a mailbox's
 * counts moved, RFC 8621 §2.2 updatedProperties) and a lower bound per type
 * (jm_states.oldest: changes at or below it are pruned, RFC 8620 §5.2
 * cannotCalculateChanges). Emails get parsed columns for sorting, threads
 * and search (filled by jm_store_reindex for rows of older versions:
 * indexed = 0), keywords and mailbox-thread counts get tables, full-text
 * search an FTS5 table whose rowid is jm_emails.num. */
static const char *const v3[] = {
    "CREATE TABLE jm_changes_v3 (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " account_id TEXT NOT NULL, type TEXT NOT NULL, state INTEGER NOT NULL,"
    " object_id TEXT NOT NULL, kind TEXT NOT NULL, props TEXT NOT NULL DEFAULT '')",
    "INSERT INTO jm_changes_v3 (account_id, type, state, object_id, kind)"
    " SELECT account_id, type, state, object_id, kind FROM jm_changes ORDER BY state",
    "DROP TABLE jm_changes",
    "ALTER TABLE jm_changes_v3 RENAME TO jm_changes",
    "CREATE INDEX jm_changes_by_state ON jm_changes (account_id, type, state)",
    "ALTER TABLE jm_states ADD COLUMN oldest INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN is_subscribed INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE jm_mailboxes ADD COLUMN total_emails INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN unread_emails INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN total_threads INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN unread_threads INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN num INTEGER NOT NULL DEFAULT 0",
    "UPDATE jm_emails SET num = rowid",
    "CREATE UNIQUE INDEX jm_emails_by_num ON jm_emails (num)",
    "ALTER TABLE jm_emails ADD COLUMN unread INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN subject TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN sort_subject TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN thread_subject TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN from_sort TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN to_sort TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN from_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN to_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN cc_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN bcc_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN sent_at INTEGER NOT NULL DEFAULT -1",
    "ALTER TABLE jm_emails ADD COLUMN has_attachment INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN preview TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_email_mailboxes ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0",

    /* mail data model: counts kept per mailbox and per (mailbox, thread) */
    "CREATE UNIQUE INDEX jm_mailboxes_sibling_names ON jm_mailboxes (account_id, parent_id, name)",
    "UPDATE jm_emails SET unread = CASE WHEN seen = 0 AND keywords NOT LIKE '%\"$draft\"%'"
    " THEN 1 ELSE 0 END",
    "CREATE INDEX jm_emails_by_thread ON jm_emails (account_id, thread_id, received_at)",
    "CREATE INDEX jm_emails_unindexed ON jm_emails (indexed) WHERE indexed = 0",
    "CREATE INDEX jm_emails_by_blob ON jm_emails (account_id, blob_id)",
    "UPDATE jm_email_mailboxes SET received_at = (SELECT e.received_at FROM jm_emails e"
    " WHERE e.account_id = jm_email_mailboxes.account_id AND e.id = jm_email_mailboxes.email_id)",
    "CREATE INDEX jm_email_mailboxes_by_received ON jm_email_mailboxes"
    " (account_id, mailbox_id, received_at, email_id)",
    "CREATE TABLE jm_email_keywords (account_id TEXT NOT NULL, email_id TEXT NOT NULL,"
    " keyword TEXT NOT NULL, PRIMARY KEY (account_id, email_id, keyword))",
    "CREATE INDEX jm_email_keywords_by_keyword ON jm_email_keywords (account_id, keyword, email_id)",
    "CREATE TABLE jm_mailbox_threads (account_id TEXT NOT NULL, mailbox_id TEXT NOT NULL,"
    " thread_id TEXT NOT NULL, emails INTEGER NOT NULL, unread INTEGER NOT NULL,"
    " PRIMARY KEY (account_id, mailbox_id, thread_id))",
    "INSERT INTO jm_mailbox_threads (account_id, mailbox_id, thread_id, emails, unread)"
    " SELECT m.account_id, m.mailbox_id, e.thread_id, COUNT(*), SUM(e.unread)"
    " FROM jm_email_mailboxes m JOIN jm_emails e"
    " ON e.account_id = m.account_id AND e.id = m.email_id"
    " GROUP BY m.account_id, m.mailbox_id, e.thread_id",
    "UPDATE jm_mailboxes SET"
    " total_emails = (SELECT COALESCE(SUM(t.emails), 0) FROM jm_mailbox_threads t"
    " WHERE t.account_id = jm_mailboxes.account_id AND t.mailbox_id = jm_mailboxes.id),"
    " unread_emails = (SELECT COALESCE(SUM(t.unread), 0) FROM jm_mailbox_threads t"
    " WHERE t.account_id = jm_mailboxes.account_id AND t.mailbox_id = jm_mailboxes.id),"
    " total_threads = (SELECT COUNT(*) FROM jm_mailbox_threads t"
    " WHERE t.account_id = jm_mailboxes.account_id AND t.mailbox_id = jm_mailboxes.id),"
    " unread_threads = (SELECT COUNT(*) FROM jm_mailbox_threads t"
    " WHERE t.account_id = jm_mailboxes.account_id AND t.mailbox_id = jm_mailboxes.id"
    " AND t.unread > 0)",
    "CREATE TABLE jm_thread_refs (account_id TEXT NOT NULL, msgid TEXT NOT NULL,"
    " thread_id TEXT NOT NULL, PRIMARY KEY (account_id, msgid))",
    "CREATE INDEX jm_thread_refs_by_thread ON jm_thread_refs (account_id, thread_id)",
    "INSERT INTO jm_email_keywords (account_id, email_id, keyword)"
    " SELECT e.account_id, e.id, k.key FROM jm_emails e, json_each(e.keywords) k",
    "CREATE VIRTUAL TABLE jm_email_fts USING fts5(subject, from_, to_, cc, bcc, body,"
    " tokenize = 'unicode61 remove_diacritics 2')",
    NULL
};
/* Version 3 -> 4: the header filter and full text in receivedAt order.
 *  - jm_email_headers: every header field an email had when stored (name
 *    lower-case, value asText case-folded), for the "header" condition of
 *    RFC 8621 §4.4.1 without parsing messages at query time.
 *  - jm_emails.num, the FTS5 rowid, becomes -(received_at * 2^20 + k) (k
 *    the email's place among those received in the same second): FTS5
 *    reads a term's matches in rowid order, so a full-text query sorted by
 *    receivedAt stops after its window instead of sorting every match.
 *    Negated, so newest first is FTS5's forward order, where it skips
 *    through the account's long doclist faster than backwards (0.16 against
 *    0.27 ms at 100k emails).
 *  - The FTS5 table gets the account as a column, so a search reads only
 *    the account's matches.
 *  - from_key/to_key: the from/to sort keys as written, for the collations
 *    other than i;unicode-casemap (from_sort/to_sort are folded).
 * Every email is indexed again at startup (indexed = 0: jm_email_reindex_pending),
 * which fills both tables. */
static const char *const v4[] = {
    "CREATE TABLE jm_email_headers (account_id TEXT NOT NULL, email_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (account_id, email_id, seq))",
    "DROP INDEX jm_emails_by_num",
    "UPDATE jm_emails SET num = r.k FROM (SELECT rowid AS rid, -(received_at * 1048576"
    " + ROW_NUMBER() OVER (PARTITION BY received_at ORDER BY rowid) - 1) AS k"
    " FROM jm_emails) r WHERE jm_emails.rowid = r.rid",
    "CREATE UNIQUE INDEX jm_emails_by_num ON jm_emails (num)",
    "ALTER TABLE jm_emails ADD COLUMN from_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN to_key TEXT NOT NULL DEFAULT ''",
    "DROP TABLE jm_email_fts",
    "CREATE VIRTUAL TABLE jm_email_fts USING fts5(account, subject, from_, to_, cc, bcc,"
    " body, tokenize = 'unicode61 remove_diacritics 2')",
    "UPDATE jm_emails SET indexed = 0",
    NULL
};
/* Version 4 -> 5: blob content stored once, in binary. jm_blobs rows stay
 * per account (the reference access is checked on) and name their content
 * by key: the SHA-256 of the bytes, in lower-case hex. The content's bytes
 * are jm_content_chunks rows (BLOB) of JM_SQL_CHUNK_BYTES. SQLite has no
 * base64 decoder, so a C step (store/jm_schema_blob.c) decodes the old
 * rows one at a time; jm_blobs is then rebuilt with content_key NOT NULL
 * (SQLite cannot add the constraint to a column). */
static const char *const v5[] = {
    "CREATE TABLE jm_contents (content_key TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE jm_content_chunks (content_key TEXT NOT NULL, seq INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY (content_key, seq))",
    "ALTER TABLE jm_blobs ADD COLUMN content_key TEXT",
    JM_SQL_STEP_BLOB_CONTENTS,
    "CREATE TABLE jm_blobs_v5 (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " size INTEGER NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL,"
    " content_key TEXT NOT NULL, PRIMARY KEY (account_id, id))",
    "INSERT INTO jm_blobs_v5 (account_id, id, size, type, created, content_key)"
    " SELECT account_id, id, size, type, created, content_key FROM jm_blobs",
    "DROP TABLE jm_blobs",
    "ALTER TABLE jm_blobs_v5 RENAME TO jm_blobs",
    "CREATE INDEX jm_blobs_by_content ON jm_blobs (content_key)",
    "DROP TABLE jm_blob_chunks",
    NULL
};
/* v6: the default Email/get view of each message, made when it is stored
 * (jm_email_store.c), so Email/get with the default properties answers
 * without reading and parsing the message; NULL (emails stored before):
 * Email/get parses as before */
static const char *const v6[] = {
    "ALTER TABLE jm_emails ADD COLUMN view TEXT",
    NULL
};
/* Version 6 -> 7: identities (RFC 8621 §6) and the vacation response
 * (§8). An identity's JMAP properties beyond id and email are one JSON
 * text (data); is_default marks the identities the server keeps for each
 * address the user may send as (ids "I" + SHA-256 of the address, made on
 * first use, mayDelete false). jm_vacation holds the VacationResponse of an
 * account as JSON; jm_vacation_replies when each sender last got one
 * (RFC 3834 §2: at most one per period); jm_vacation_outbox the replies
 * built at delivery, for the submission queue to send (null reverse path,
 * RFC 3834 §4). */
static const char *const v7_identity[] = {
    "CREATE TABLE jm_identities (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " email TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,"
    " data TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (account_id, id))",
    "CREATE TABLE jm_vacation (account_id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE jm_vacation_replies (account_id TEXT NOT NULL, sender TEXT NOT NULL,"
    " last_replied INTEGER NOT NULL, PRIMARY KEY (account_id, sender))",
    "CREATE TABLE jm_vacation_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " account_id TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL,"
    " message TEXT NOT NULL, created INTEGER NOT NULL)",
    "CREATE INDEX jm_vacation_outbox_by_created ON jm_vacation_outbox (created)",
    NULL
};
/* Version 7 -> 8: push subscriptions (RFC 8620 §7.2). They belong to
 * the user, not to an account. url and the keys are kept until the row is
 * deleted (destroy, expiry, 404/410 from the push service); code_sent is
 * the verificationCode pushed, verified 1 once the client set it; the
 * worker's columns: pushed_states (the states last pushed, JSON account ->
 * type -> state), next_attempt (ms), failures (backoff), lease_until (ms)
 * and lease_owner (the claim of one node, see JM_SQL_PUSH_CLAIM). */
static const char *const v8_push[] = {
    "CREATE TABLE jm_push_subscriptions (id TEXT PRIMARY KEY, username TEXT NOT NULL,"
    " device_client_id TEXT NOT NULL, url TEXT NOT NULL, p256dh TEXT NOT NULL DEFAULT '',"
    " auth TEXT NOT NULL DEFAULT '', code_sent TEXT NOT NULL,"
    " verified INTEGER NOT NULL DEFAULT 0, verify_pending INTEGER NOT NULL DEFAULT 1,"
    " expires INTEGER NOT NULL, types TEXT NOT NULL DEFAULT '',"
    " pushed_states TEXT NOT NULL DEFAULT '{}', next_attempt INTEGER NOT NULL,"
    " failures INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL DEFAULT 0,"
    " lease_owner TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL)",
    "CREATE INDEX jm_push_by_user ON jm_push_subscriptions (username)",
    "CREATE INDEX jm_push_by_due ON jm_push_subscriptions (next_attempt)",
    NULL
};
/* Version 8 -> 9: the submission queue (EmailSubmission, RFC 8621 §7):
 * one row per submission and one per (submission, recipient), committed
 * before EmailSubmission/set answers; store/jm_store_queue.c. queue is
 * "wait" (due at next_try), "sending" (claimed by lease_owner until
 * lease_until) or "done"; dsn_blob_ids and mdn_blob_ids (JSON arrays)
 * the reports delivered about it (mail/jm_submit_reports.c). */
static const char *const v9_submission[] = {
    "CREATE TABLE jm_submissions (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " identity_id TEXT NOT NULL, email_id TEXT NOT NULL, thread_id TEXT NOT NULL,"
    " blob_id TEXT NOT NULL, message_id TEXT NOT NULL, mail_from TEXT NOT NULL,"
    " envelope TEXT NOT NULL, send_at INTEGER NOT NULL, created INTEGER NOT NULL,"
    " undo_status TEXT NOT NULL, queue TEXT NOT NULL, next_try INTEGER NOT NULL,"
    " give_up_at INTEGER NOT NULL, lease_owner TEXT NOT NULL DEFAULT '',"
    " lease_until INTEGER NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0,"
    " relay_reply TEXT NOT NULL DEFAULT '', destroyed INTEGER NOT NULL DEFAULT 0,"
    " dsn_blob_ids TEXT NOT NULL DEFAULT '[]', mdn_blob_ids TEXT NOT NULL DEFAULT '[]',"
    " PRIMARY KEY (account_id, id))",
    "CREATE INDEX jm_submissions_due ON jm_submissions (queue, next_try)",
    /* delivery reports (DSN, MDN) that arrive name the message they are about */
    "CREATE INDEX jm_submissions_by_msgid ON jm_submissions (account_id, message_id)",
    "CREATE TABLE jm_submission_rcpts (account_id TEXT NOT NULL,"
    " submission_id TEXT NOT NULL, seq INTEGER NOT NULL, address TEXT NOT NULL,"
    " delivered TEXT NOT NULL, smtp_reply TEXT NOT NULL, displayed TEXT NOT NULL,"
    " blob_id TEXT NOT NULL, PRIMARY KEY (account_id, submission_id, seq))",
    /* the vacation replies waiting to be sent get the queue's columns:
     * due at next_try (s), claimed by lease_owner until lease_until (s),
     * tries so far and the relay's last reply (mail/jm_submit_autoreply.c) */
    "ALTER TABLE jm_vacation_outbox ADD COLUMN next_try INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN tries INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN last_reply TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX jm_vacation_outbox_due ON jm_vacation_outbox (next_try)",
    /* a Bcc recipient's own copy of an encrypted Email (mail/jm_email_bcc.c) */
    "CREATE TABLE jm_email_bcc_copies (account_id TEXT NOT NULL,"
    " email_id TEXT NOT NULL, address TEXT NOT NULL, blob_id TEXT NOT NULL,"
    " PRIMARY KEY (account_id, email_id, address))",
    NULL
};
/* Version 9 -> 10: when each user created push subscriptions (ms), for
 * the creation rate limit (RFC 8620 §8.6); rows older than an hour are
 * pruned at the next creation. */
static const char *const v10_push_creations[] = {
    "CREATE TABLE jm_push_creations (username TEXT NOT NULL, created INTEGER NOT NULL)",
    "CREATE INDEX jm_push_creations_by_user ON jm_push_creations (username, created)",
    NULL
};
static const char *const *const migrations[] = { v1, v2, v3, v4, v5, v6,
    v7_identity, v8_push, v9_submission, v10_push_creations, NULL };

static const char *const on_connect[] = {
    /* in WAL mode NORMAL keeps the database consistent on power loss and
     * saves an fsync per commit (the last commits may be lost, not torn) */
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    /* An email create dirties ~48 pages (one or more in each of its tables
     * and indexes) and the committing request runs the checkpoint that
     * copies them into the database. At SQLite's default of 1000 WAL pages
     * that is every ~20 creates, and the hot pages (index interiors,
     * states, the FTS5 structure) are copied again each time; 8192 pages
     * (a WAL file of up to 32 MiB) copies each of them once per ~170
     * creates: about 18% more creates per second on one core (bench note
     * of issue 11). */
    "PRAGMA wal_autocheckpoint = 8192",
    NULL
};

/* Email/query: full text through FTS5 (rowid = jm_emails.num, v4). The search
 * is one FTS5 query string built by jm_store_query.c from quoted phrases
 * (quotes doubled), so nothing the user types is FTS5 syntax; a field is a
 * column filter before each phrase, and the account's column filter comes
 * first. */
static const char *const fts_match[] = {
    "e.num IN (SELECT rowid FROM jm_email_fts WHERE jm_email_fts MATCH ", ")", NULL
};
static const char *const fts5_columns[JM_SQL_TEXT_FIELDS] = {
    "{subject from_ to_ cc bcc body} : ", "{from_} : ", "{to_} : ", "{cc} : ",
    "{bcc} : ", "{subject} : ", "{body} : "
};

const jm_sql_dialect_t jm_sql_sqlite3 = {
    .driver = "sqlite3",
    .stmt = {
        /* claim due subscriptions for one node (RFC 8620 §7.2 push worker) */
        [JM_SQL_PUSH_CLAIM] = "UPDATE jm_push_subscriptions SET lease_owner = %s,"
            " lease_until = %lld WHERE lease_until <= %lld AND id IN (SELECT id FROM"
            " jm_push_subscriptions WHERE next_attempt <= %lld AND lease_until <= %lld"
            " AND expires > %lld AND (verify_pending = 1 OR verified = 1)"
            " ORDER BY next_attempt LIMIT %lld)",
        [JM_SQL_SCHEMA_EXISTS] = "SELECT COUNT(*) FROM sqlite_master"
            " WHERE type = 'table' AND name = 'jm_schema'",
        /* num: the next free in the bucket of its received second (see
         * v4), under the write lock every SQLite writer holds; a second
         * with 2^20 emails makes the next one fail on the unique index */
        [JM_SQL_EMAIL_INSERT] = "INSERT INTO jm_emails (account_id, id, blob_id, thread_id, size,"
            " received_at, keywords, seen, unread, subject, sort_subject,"
            " thread_subject, from_sort, to_sort, from_text, to_text, cc_text,"
            " bcc_text, sent_at, has_attachment, preview, from_key, to_key, view, indexed,"
            " num) SELECT v.*, 1, (SELECT COALESCE(MIN(num) - 1, -v.r * 1048576) FROM jm_emails"
            " WHERE num <= -v.r * 1048576 AND num > -(v.r + 1) * 1048576) FROM (SELECT"
            " %s, %s, %s, %s, %lld, %lld AS r, %s, %lld, %lld, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %lld, %lld, %s, %s, %s, %s) v",
        [JM_SQL_EMAIL_FTS_INSERT] = "INSERT INTO jm_email_fts (rowid, account, subject, from_,"
            " to_, cc, bcc, body) SELECT num, account_id, %s, %s, %s, %s, %s, %s"
            " FROM jm_emails WHERE account_id = %s AND id = %s",
        [JM_SQL_EMAIL_FTS_DELETE] = "DELETE FROM jm_email_fts WHERE rowid ="
            " (SELECT num FROM jm_emails WHERE account_id = %s AND id = %s)",
    },
    .migrations = migrations,
    .schema_version = 10,
    .on_connect = on_connect,
    .on_connect_returns_rows = 1,
    .serialize_writers = 1,
    .on_connect_native = sqlite_on_connect,
    /* WAL with synchronous = NORMAL may lose the last commits at a power
     * failure (never corrupts); a durable commit flushes the WAL after it */
    .sync_native = sqlite_sync,
    .txn_native = sqlite_txn,
    .native = &jm_sql_sqlite3_native,
    .qfrag = {
        [JM_QF_TEXT_TERM] = "%s",
        /* i;unicode-casemap keys are folded at store time (RFC 5051:
         * casefold + NFKD) and compare as octets; NOCASE folds ASCII only,
         * which is i;ascii-casemap on the keys as written */
        [JM_QF_COLL_UNICODE_ORDER] = " COLLATE BINARY",
        [JM_QF_COLL_ASCII_ORDER] = " COLLATE NOCASE",
        [JM_QF_COLL_OCTET_ORDER] = " COLLATE BINARY",
        [JM_QF_NUM1_PRE] = "(CASE WHEN substr(",
        [JM_QF_NUM1_POST] = ", 1, 1) BETWEEN '0' AND '9' THEN 0 ELSE 1 END)",
        [JM_QF_NUM2_PRE] = "CAST(",
        [JM_QF_NUM2_POST] = " AS INTEGER)",
        [JM_QF_HEADER_VALUE] = "EXISTS (SELECT 1 FROM jm_email_headers h WHERE"
            " h.account_id = e.account_id AND h.email_id = e.id AND h.name = %s"
            " AND instr(h.value, %s) > 0)",
        /* FTS5 reads the matches in rowid (= receivedAt descending, v4)
         * order and the LIMIT stops it: no sort of every match */
        [JM_QF_FROM_TEXT] = " FROM jm_email_fts f JOIN jm_emails e ON e.num = f.rowid"
            " WHERE e.account_id = %s AND jm_email_fts MATCH %s",
        [JM_QF_KEY_TEXT_ORDER] = "f.rowid",
    },
    .text_parts = { fts_match, fts_match, fts_match, fts_match, fts_match,
                    fts_match, fts_match },
    .fts5_columns = fts5_columns,
    .fts5_account = "{account} : ",
};
