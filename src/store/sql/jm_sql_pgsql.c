/* SQL for the pgsql driver (many users, several httpd nodes). */
#include <stddef.h>
#include "store/sql/jm_sql.h"
#include "store/sql/jm_sql_fold.h"

/* Version 0 -> 1: the initial schema. Blob bytes were base64 text until
 * version 5 (binary, see v5). */
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
/* Version 2 -> 3: the mail data model (see jm_sql_sqlite3.c for the
 * whole story). Full-text search is a tsvector column with a GIN index:
 * subject weighted A, from B, to/cc/bcc C, body D. */
static const char *const v3[] = {
    "ALTER TABLE jm_changes ADD COLUMN seq BIGSERIAL PRIMARY KEY",
    "ALTER TABLE jm_changes ADD COLUMN props TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_states ADD COLUMN oldest BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN is_subscribed INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE jm_mailboxes ADD COLUMN total_emails BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN unread_emails BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN total_threads BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_mailboxes ADD COLUMN unread_threads BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN num BIGSERIAL",
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
    "ALTER TABLE jm_emails ADD COLUMN sent_at BIGINT NOT NULL DEFAULT -1",
    "ALTER TABLE jm_emails ADD COLUMN has_attachment INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN preview TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jm_emails ADD COLUMN fts tsvector",
    "CREATE INDEX jm_emails_fts ON jm_emails USING GIN (fts)",
    "ALTER TABLE jm_email_mailboxes ADD COLUMN received_at BIGINT NOT NULL DEFAULT 0",

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
    " SELECT e.account_id, e.id, k FROM jm_emails e, jsonb_object_keys(e.keywords::jsonb) k",
    NULL
};
/* Version 3 -> 4: the header filter and the sort keys as written (see
 * jm_sql_sqlite3.c). Every email is indexed again at startup, which fills
 * both. */
static const char *const v4[] = {
    "CREATE TABLE jm_email_headers (account_id TEXT NOT NULL, email_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (account_id, email_id, seq))",
    "ALTER TABLE jm_emails ADD COLUMN from_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_emails ADD COLUMN to_key TEXT NOT NULL DEFAULT ''",
    "UPDATE jm_emails SET indexed = 0",
    NULL
};
/* Version 4 -> 5: blob content stored once, in binary (see
 * jm_sql_sqlite3.c): the key is the SHA-256 of the bytes in hex, the bytes
 * bytea rows of JM_SQL_CHUNK_BYTES. PostgreSQL decodes base64 itself, so
 * this is SQL: each blob's key from its decoded rows (sha256() needs
 * PostgreSQL 11; an empty blob has no rows: the hash of nothing), one
 * blob per key gives the rows (blobs with one key have the same bytes, cut
 * at the same places), the content's size is what its rows hold. A row
 * that is not base64 stops the migration (decode raises): the startup
 * fails with the statement and PostgreSQL's message. */
static const char *const v5[] = {
    "CREATE TABLE jm_contents (content_key TEXT PRIMARY KEY, size BIGINT NOT NULL,"
    " created BIGINT NOT NULL)",
    "CREATE TABLE jm_content_chunks (content_key TEXT NOT NULL, seq INTEGER NOT NULL,"
    " data BYTEA NOT NULL, PRIMARY KEY (content_key, seq))",
    "ALTER TABLE jm_blobs ADD COLUMN content_key TEXT",
    "UPDATE jm_blobs b SET content_key = (SELECT encode(sha256(COALESCE("
    "string_agg(decode(c.data, 'base64'), ''::bytea ORDER BY c.seq), ''::bytea)), 'hex')"
    " FROM jm_blob_chunks c WHERE c.account_id = b.account_id AND c.blob_id = b.id)",
    "INSERT INTO jm_content_chunks (content_key, seq, data)"
    " SELECT r.content_key, c.seq, decode(c.data, 'base64') FROM"
    " (SELECT DISTINCT ON (content_key) content_key, account_id, id FROM jm_blobs"
    " ORDER BY content_key, account_id, id) r"
    " JOIN jm_blob_chunks c ON c.account_id = r.account_id AND c.blob_id = r.id",
    "INSERT INTO jm_contents (content_key, size, created)"
    " SELECT b.content_key, COALESCE((SELECT SUM(length(k.data)) FROM jm_content_chunks k"
    " WHERE k.content_key = b.content_key), 0), MIN(b.created)"
    " FROM jm_blobs b GROUP BY b.content_key",
    "ALTER TABLE jm_blobs ALTER COLUMN content_key SET NOT NULL",
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
/* Version 6 -> 7: identities, the vacation response, its reply log and
 * outbox (see jm_sql_sqlite3.c). */
static const char *const v7_identity[] = {
    "CREATE TABLE jm_identities (account_id TEXT NOT NULL, id TEXT NOT NULL,"
    " email TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,"
    " data TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (account_id, id))",
    "CREATE TABLE jm_vacation (account_id TEXT PRIMARY KEY, data TEXT NOT NULL)",
    "CREATE TABLE jm_vacation_replies (account_id TEXT NOT NULL, sender TEXT NOT NULL,"
    " last_replied BIGINT NOT NULL, PRIMARY KEY (account_id, sender))",
    "CREATE TABLE jm_vacation_outbox (id BIGSERIAL PRIMARY KEY,"
    " account_id TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL,"
    " message TEXT NOT NULL, created BIGINT NOT NULL)",
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
    " expires BIGINT NOT NULL, types TEXT NOT NULL DEFAULT '',"
    " pushed_states TEXT NOT NULL DEFAULT '{}', next_attempt BIGINT NOT NULL,"
    " failures INTEGER NOT NULL DEFAULT 0, lease_until BIGINT NOT NULL DEFAULT 0,"
    " lease_owner TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL)",
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
    " envelope TEXT NOT NULL, send_at BIGINT NOT NULL, created BIGINT NOT NULL,"
    " undo_status TEXT NOT NULL, queue TEXT NOT NULL, next_try BIGINT NOT NULL,"
    " give_up_at BIGINT NOT NULL, lease_owner TEXT NOT NULL DEFAULT '',"
    " lease_until BIGINT NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0,"
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
    "ALTER TABLE jm_vacation_outbox ADD COLUMN next_try BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jm_vacation_outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0",
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
    "CREATE TABLE jm_push_creations (username TEXT NOT NULL, created BIGINT NOT NULL)",
    "CREATE INDEX jm_push_creations_by_user ON jm_push_creations (username, created)",
    NULL
};
static const char *const *const migrations[] = { v1, v2, v3, v4, v5, v6,
    v7_identity, v8_push, v9_submission, v10_push_creations, NULL };

static const char *const on_connect[] = {
    /* never wait forever on a lock held by a stuck node */
    "SET lock_timeout = '10s'",
    NULL
};

/* Accents and separators are folded before text reaches to_tsvector or a
 * tsquery: see sql/jm_sql_fold.h. Stored text is folded in C
 * (fts_fold_in_c); query terms, which are short, by translate(). */
#define FOLD(x) "lower(translate(" x ", '" FOLD_FROM JM_SQL_FOLD_SEPARATORS "', '" FOLD_TO "     '))"

/* jm_emails.fts from the six folded texts: subject (A), from (B), to, cc
 * and bcc (C), body (D) */
#define FTS_VECTOR "setweight(to_tsvector('simple', lower(%s)), 'A') ||" \
    " setweight(to_tsvector('simple', lower(%s)), 'B') || setweight(to_tsvector(" \
    "'simple', lower(%s || ' ' || %s || ' ' || %s)), 'C') ||" \
    " setweight(to_tsvector('simple', lower(%s)), 'D')"

/* Email/query: the tsvector jm_emails.fts has the subject at weight A,
 * from B, to+cc+bcc C, body D. A field condition needs the index's match
 * (fts @@ q) and the match within the field: ts_filter to its weight, or,
 * for to/cc/bcc (which share C), the field's own column. */
#define FTS_IN(w) { "(e.fts @@ (", ") AND ts_filter(e.fts, '{" w "}') @@ (", "))", NULL }
#define FTS_COL(c) { "(e.fts @@ (", ") AND to_tsvector('simple', " FOLD("e." c) \
                     ") @@ (", "))", NULL }
static const char *const fts_all[] = { "e.fts @@ (", ")", NULL };
static const char *const fts_from[] = FTS_IN("b");
static const char *const fts_to[] = FTS_COL("to_text");
static const char *const fts_cc[] = FTS_COL("cc_text");
static const char *const fts_bcc[] = FTS_COL("bcc_text");
static const char *const fts_subject[] = FTS_IN("a");
static const char *const fts_body[] = FTS_IN("d");

const jm_sql_dialect_t jm_sql_pgsql = {
    .driver = "pgsql",
    .stmt = {
        /* claim due subscriptions for one node (RFC 8620 §7.2 push worker) */
        [JM_SQL_PUSH_CLAIM] = "UPDATE jm_push_subscriptions SET lease_owner = %s,"
            " lease_until = %lld WHERE lease_until <= %lld AND id IN (SELECT id FROM"
            " jm_push_subscriptions WHERE next_attempt <= %lld AND lease_until <= %lld"
            " AND expires > %lld AND (verify_pending = 1 OR verified = 1)"
            " ORDER BY next_attempt LIMIT %lld FOR UPDATE SKIP LOCKED)",
        [JM_SQL_SCHEMA_EXISTS] = "SELECT COUNT(*) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = 'jm_schema'",
        /* the text arrives folded (fts_fold_in_c); re-indexing only
         * (jm_email_reindex), a new email gets it in its INSERT (which
         * fts_in_email_row makes the only one: no JM_SQL_EMAIL_INSERT) */
        [JM_SQL_EMAIL_FTS_INSERT] = "UPDATE jm_emails SET fts = " FTS_VECTOR " WHERE"
            " account_id = %s AND id = %s",
        [JM_SQL_EMAIL_INSERT_FTS] = "INSERT INTO jm_emails (account_id, id, blob_id, thread_id,"
            " size, received_at, keywords, seen, unread, subject, sort_subject,"
            " thread_subject, from_sort, to_sort, from_text, to_text, cc_text,"
            " bcc_text, sent_at, has_attachment, preview, from_key, to_key, view, indexed,"
            " fts) VALUES (%s, %s, %s, %s, %lld, %lld, %s, %lld, %lld, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %lld, %lld, %s, %s, %s, %s, 1, " FTS_VECTOR ")",
        /* text results (see bytes_as_hex): hex whatever bytea_output says */
        [JM_SQL_BLOB_CHUNK_GET] = "SELECT encode(c.data, 'hex') FROM jm_blobs b"
            " JOIN jm_content_chunks c ON c.content_key = b.content_key"
            " WHERE b.account_id = %s AND b.id = %s AND c.seq = %lld",
        /* the vector lives in the row: nothing of its own to delete */
        /* rows another node is claiming are passed over, not waited for */
        [JM_SQL_QUEUE_DUE] = "SELECT account_id, id FROM jm_submissions"
            " WHERE (queue = 'wait' AND next_try <= %lld)"
            " OR (queue = 'sending' AND lease_until < %lld) ORDER BY next_try"
            " LIMIT %lld FOR UPDATE SKIP LOCKED",
        [JM_SQL_AUTOREPLY_DUE] = "SELECT id FROM jm_vacation_outbox WHERE next_try <= %lld"
            " AND lease_until < %lld ORDER BY next_try, id LIMIT %lld"
            " FOR UPDATE SKIP LOCKED",
        [JM_SQL_EMAIL_FTS_DELETE] = "UPDATE jm_emails SET fts = NULL"
            " WHERE account_id = %s AND id = %s",
    },
    .migrations = migrations,
    .schema_version = 10,
    .on_connect = on_connect,
    .buffered_selects = 1,
    /* commits are durable with the server's defaults (synchronous_commit
     * on); relaxed: this transaction does not wait for its WAL flush */
    .relaxed_in_txn = "SET LOCAL synchronous_commit TO OFF",
    .bytes_as_hex = 1,
    .fts_fold_in_c = 1,
    .fts_in_email_row = 1,
    .qfrag = {
        [JM_QF_TEXT_TERM] = "phraseto_tsquery('simple', " FOLD("%s") ")",
        [JM_QF_TEXT_TERM_AND] = " && ",
        [JM_QF_HEADER_VALUE] = "EXISTS (SELECT 1 FROM jm_email_headers h WHERE"
            " h.account_id = e.account_id AND h.email_id = e.id AND h.name = %s"
            " AND strpos(h.value, %s) > 0)",
        /* i;unicode-casemap keys are folded at store time (RFC 5051:
         * casefold + NFKD) and compare as octets, whatever the locale;
         * i;ascii-casemap folds A-Z only, on the keys as written */
        [JM_QF_COLL_UNICODE_ORDER] = " COLLATE \"C\"",
        [JM_QF_COLL_ASCII_PRE] = "translate(",
        [JM_QF_COLL_ASCII_POST] = ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
        [JM_QF_COLL_ASCII_ORDER] = " COLLATE \"C\"",
        [JM_QF_COLL_OCTET_ORDER] = " COLLATE \"C\"",
        [JM_QF_NUM1_PRE] = "(CASE WHEN ",
        [JM_QF_NUM1_POST] = " ~ '^[0-9]' THEN 0 ELSE 1 END)",
        [JM_QF_NUM2_PRE] = "CAST(substring(",
        [JM_QF_NUM2_POST] = " FROM '^[0-9]+') AS NUMERIC)",
    },
    .text_parts = { fts_all, fts_from, fts_to, fts_cc, fts_bcc, fts_subject, fts_body },
    .fts5_columns = NULL,
};
