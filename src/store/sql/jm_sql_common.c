/* The statements both dialects run as they are: portable SQL (ON CONFLICT
 * ... DO NOTHING is understood by SQLite >= 3.24 and PostgreSQL >= 9.5). A
 * dialect overrides an entry only where its DDL or engine differs. */
#include <stddef.h>
#include "store/sql/jm_sql.h"

const char *const jm_sql_common[JM_SQL__COUNT] = {
    [JM_SQL_SCHEMA_VERSION] = "SELECT version FROM jm_schema",
    [JM_SQL_ACCOUNT_BY_USER] = "SELECT id FROM jm_accounts WHERE username = %s",
    [JM_SQL_ACCOUNT_INSERT] = "INSERT INTO jm_accounts (id, username, created)"
        " VALUES (%s, %s, %lld) ON CONFLICT (username) DO NOTHING",
    [JM_SQL_STATE_LIST] = "SELECT type, state FROM jm_states WHERE account_id = %s",
    [JM_SQL_STATE_INSERT] = "INSERT INTO jm_states (account_id, type, state)"
        " VALUES (%s, %s, 0) ON CONFLICT (account_id, type) DO NOTHING",
    /* the row lock this takes orders concurrent writers of one account and
     * type, across processes and nodes (PostgreSQL) or the database file
     * (SQLite): each change gets its own state */
    [JM_SQL_STATE_BUMP] = "UPDATE jm_states SET state = state + 1"
        " WHERE account_id = %s AND type = %s",
    [JM_SQL_STATE_GET] = "SELECT state, oldest FROM jm_states"
        " WHERE account_id = %s AND type = %s",
    [JM_SQL_STATE_SET_OLDEST] = "UPDATE jm_states SET oldest = %lld"
        " WHERE account_id = %s AND type = %s",
    [JM_SQL_CHANGE_INSERT] = "INSERT INTO jm_changes (account_id, type, state,"
        " object_id, kind, props) VALUES (%s, %s, %lld, %s, %s, %s)",
    [JM_SQL_CHANGES_SINCE] = "SELECT object_id, kind, state, props FROM jm_changes"
        " WHERE account_id = %s AND type = %s AND state > %lld"
        " ORDER BY state, seq LIMIT %lld",
    [JM_SQL_CHANGES_PRUNE] = "DELETE FROM jm_changes"
        " WHERE account_id = %s AND type = %s AND state <= %lld",
    [JM_SQL_MAILBOX_LIST] = "SELECT id, name, parent_id, role, sort_order,"
        " is_subscribed, total_emails, unread_emails, total_threads, unread_threads"
        " FROM jm_mailboxes WHERE account_id = %s ORDER BY sort_order, name",
    [JM_SQL_MAILBOX_INSERT] = "INSERT INTO jm_mailboxes (id, account_id, name,"
        " parent_id, role, sort_order) VALUES (%s, %s, %s, %s, %s, %lld)",
    [JM_SQL_MAILBOX_UPDATE] = "UPDATE jm_mailboxes SET name = %s, parent_id = %s,"
        " role = %s, sort_order = %lld, is_subscribed = %lld"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_MAILBOX_DELETE] = "DELETE FROM jm_mailboxes WHERE account_id = %s AND id = %s",
    [JM_SQL_MAILBOX_CHILDREN] = "SELECT COUNT(*) FROM jm_mailboxes"
        " WHERE account_id = %s AND parent_id = %s",
    [JM_SQL_MAILBOX_EMAIL_IDS] = "SELECT email_id FROM jm_email_mailboxes"
        " WHERE account_id = %s AND mailbox_id = %s",
    [JM_SQL_MAILBOX_IDS] = "SELECT id FROM jm_mailboxes WHERE account_id = %s",
    [JM_SQL_MAILBOX_ADJUST] = "UPDATE jm_mailboxes SET"
        " total_emails = total_emails + %lld, unread_emails = unread_emails + %lld,"
        " total_threads = total_threads + %lld, unread_threads = unread_threads + %lld"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_MBTHREAD_GET] = "SELECT emails, unread FROM jm_mailbox_threads"
        " WHERE account_id = %s AND mailbox_id = %s AND thread_id = %s",
    [JM_SQL_MBTHREAD_INSERT] = "INSERT INTO jm_mailbox_threads (account_id,"
        " mailbox_id, thread_id, emails, unread) VALUES (%s, %s, %s, %lld, %lld)",
    [JM_SQL_MBTHREAD_UPDATE] = "UPDATE jm_mailbox_threads SET emails = %lld,"
        " unread = %lld WHERE account_id = %s AND mailbox_id = %s AND thread_id = %s",
    [JM_SQL_MBTHREAD_DELETE] = "DELETE FROM jm_mailbox_threads"
        " WHERE account_id = %s AND mailbox_id = %s AND thread_id = %s",
    [JM_SQL_BLOB_INSERT] = "INSERT INTO jm_blobs (account_id, id, size, type,"
        " created) VALUES (%s, %s, %lld, %s, %lld)"
        " ON CONFLICT (account_id, id) DO NOTHING",
    [JM_SQL_BLOB_INFO] = "SELECT size, type FROM jm_blobs"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_BLOB_CHUNK_INSERT] = "INSERT INTO jm_blob_chunks (account_id, blob_id,"
        " seq, data) VALUES (%s, %s, %lld, %s)",
    [JM_SQL_BLOB_CHUNK_GET] = "SELECT data FROM jm_blob_chunks"
        " WHERE account_id = %s AND blob_id = %s AND seq = %lld",
    [JM_SQL_EMAIL_MAILBOX_INSERT] = "INSERT INTO jm_email_mailboxes (account_id,"
        " email_id, mailbox_id, received_at) VALUES (%s, %s, %s, %lld)",
    [JM_SQL_EMAIL_KEYWORD_INSERT] = "INSERT INTO jm_email_keywords (account_id,"
        " email_id, keyword) VALUES (%s, %s, %s)",
    [JM_SQL_THREAD_REF_GET] = "SELECT thread_id FROM jm_thread_refs"
        " WHERE account_id = %s AND msgid = %s",
    [JM_SQL_THREAD_REF_INSERT] = "INSERT INTO jm_thread_refs (account_id, msgid,"
        " thread_id) VALUES (%s, %s, %s) ON CONFLICT (account_id, msgid) DO NOTHING",
    [JM_SQL_THREAD_REFS_MOVE] = "UPDATE jm_thread_refs SET thread_id = %s"
        " WHERE account_id = %s AND thread_id = %s",
    [JM_SQL_THREAD_EMAIL_IDS] = "SELECT id FROM jm_emails"
        " WHERE account_id = %s AND thread_id = %s ORDER BY received_at, id",
    [JM_SQL_EMAIL_SET_THREAD] = "UPDATE jm_emails SET thread_id = %s"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_MBTHREAD_BY_THREAD] = "SELECT mailbox_id, emails, unread"
        " FROM jm_mailbox_threads WHERE account_id = %s AND thread_id = %s",
    [JM_SQL_EMAIL_SET_KEYWORDS] = "UPDATE jm_emails SET keywords = %s, seen = %lld,"
        " unread = %lld WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_KEYWORDS_DELETE] = "DELETE FROM jm_email_keywords"
        " WHERE account_id = %s AND email_id = %s",
    [JM_SQL_EMAIL_MAILBOX_DELETE] = "DELETE FROM jm_email_mailboxes"
        " WHERE account_id = %s AND email_id = %s AND mailbox_id = %s",
    [JM_SQL_EMAIL_DELETE] = "DELETE FROM jm_emails WHERE account_id = %s AND id = %s",
    [JM_SQL_THREAD_SIZE] = "SELECT COUNT(*) FROM jm_emails"
        " WHERE account_id = %s AND thread_id = %s",
    [JM_SQL_THREAD_REFS_DELETE] = "DELETE FROM jm_thread_refs"
        " WHERE account_id = %s AND thread_id = %s",
    [JM_SQL_EMAIL_UNINDEXED] = "SELECT account_id, id, blob_id, thread_id FROM jm_emails"
        " WHERE indexed = 0 LIMIT %lld",
    [JM_SQL_EMAIL_SET_COLS] = "UPDATE jm_emails SET subject = %s, sort_subject = %s,"
        " thread_subject = %s, from_sort = %s, to_sort = %s, from_text = %s,"
        " to_text = %s, cc_text = %s, bcc_text = %s, sent_at = %lld,"
        " has_attachment = %lld, preview = %s, indexed = 1"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_GET] = "SELECT id, blob_id, thread_id, size, received_at, keywords"
        " FROM jm_emails WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_MAILBOXES] = "SELECT mailbox_id FROM jm_email_mailboxes"
        " WHERE account_id = %s AND email_id = %s",
    [JM_SQL_EMAIL_IDS] = "SELECT id FROM jm_emails WHERE account_id = %s"
        " ORDER BY received_at DESC, id LIMIT %lld",
    [JM_SQL_EMAIL_BY_BLOB] = "SELECT id FROM jm_emails WHERE account_id = %s"
        " AND blob_id = %s ORDER BY id LIMIT 1",
};

const char *jm_sql_text(const jm_sql_dialect_t *d, jm_sql_id_t id)
{
    return d->stmt[id] ? d->stmt[id] : jm_sql_common[id];
}
