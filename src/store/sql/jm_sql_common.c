/* The statements both dialects run as they are: portable SQL (ON CONFLICT
 * ... DO NOTHING is understood by SQLite >= 3.24 and PostgreSQL >= 9.5). A
 * dialect overrides an entry only where its DDL or engine differs. */
#include <stddef.h>
#include "store/sql/jm_sql.h"

const char *const jm_sql_states_in[3] = {
    "SELECT account_id, type, state FROM jm_states WHERE account_id IN (%s",
    ", %s", ")"
};

const char *const jm_sql_emails_in[3] = {
    "SELECT id, blob_id, thread_id, size, received_at, keywords, view FROM jm_emails"
    " WHERE account_id = %s AND id IN (%s", ", %s", ")"
};

const char *const jm_sql_email_mailboxes_in[3] = {
    "SELECT email_id, mailbox_id FROM jm_email_mailboxes"
    " WHERE account_id = %s AND email_id IN (%s", ", %s", ")"
};

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
    /* a blob is a per-account reference to content stored once
     * (jm_contents, keyed by the SHA-256 of the bytes): access is checked
     * on the reference, every chunk read goes through it */
    [JM_SQL_BLOB_INSERT] = "INSERT INTO jm_blobs (account_id, id, size, type,"
        " created, content_key) VALUES (%s, %s, %lld, %s, %lld, %s)"
        " ON CONFLICT (account_id, id) DO NOTHING",
    [JM_SQL_BLOB_INFO] = "SELECT size, type FROM jm_blobs"
        " WHERE account_id = %s AND id = %s",
    /* (WHERE before ON CONFLICT: SQLite's parser needs it after a SELECT) */
    [JM_SQL_BLOB_LINK] = "INSERT INTO jm_blobs (account_id, id, size, type, created,"
        " content_key) SELECT %s, id, size, type, %lld, content_key FROM jm_blobs"
        " WHERE account_id = %s AND id = %s ON CONFLICT (account_id, id) DO NOTHING",
    [JM_SQL_CONTENT_INSERT] = "INSERT INTO jm_contents (content_key, size, created)"
        " VALUES (%s, %lld, %lld) ON CONFLICT (content_key) DO NOTHING",
    [JM_SQL_CONTENT_CHUNK_INSERT] = "INSERT INTO jm_content_chunks (content_key, seq,"
        " data) VALUES (%s, %lld, %pDb)",
    [JM_SQL_BLOB_CHUNK_GET] = "SELECT c.data FROM jm_blobs b JOIN jm_content_chunks c"
        " ON c.content_key = b.content_key"
        " WHERE b.account_id = %s AND b.id = %s AND c.seq = %lld",
    [JM_SQL_EMAIL_MAILBOX_INSERT] = "INSERT INTO jm_email_mailboxes (account_id,"
        " email_id, mailbox_id, received_at) VALUES (%s, %s, %s, %lld)",
    [JM_SQL_EMAIL_KEYWORD_INSERT] = "INSERT INTO jm_email_keywords (account_id,"
        " email_id, keyword) VALUES (%s, %s, %s)",
    [JM_SQL_EMAIL_KEYWORD_DELETE] = "DELETE FROM jm_email_keywords"
        " WHERE account_id = %s AND email_id = %s AND keyword = %s",
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
        " has_attachment = %lld, preview = %s, from_key = %s, to_key = %s, indexed = 1"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_GET] = "SELECT id, blob_id, thread_id, size, received_at, keywords,"
        " view FROM jm_emails WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_MAILBOXES] = "SELECT mailbox_id FROM jm_email_mailboxes"
        " WHERE account_id = %s AND email_id = %s",
    [JM_SQL_EMAIL_IDS] = "SELECT id FROM jm_emails WHERE account_id = %s"
        " ORDER BY received_at DESC, id LIMIT %lld",
    [JM_SQL_EMAIL_BY_BLOB] = "SELECT id FROM jm_emails WHERE account_id = %s"
        " AND blob_id = %s ORDER BY id LIMIT 1",
    [JM_SQL_MAILBOX_TOTALS] = "SELECT total_emails, total_threads FROM jm_mailboxes"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_TEXTS] = "SELECT subject, preview FROM jm_emails"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_EMAIL_HEADER_INSERT] = "INSERT INTO jm_email_headers (account_id, email_id,"
        " seq, name, value) VALUES (%s, %s, %lld, %s, %s)",
    [JM_SQL_EMAIL_HEADERS_DELETE] = "DELETE FROM jm_email_headers"
        " WHERE account_id = %s AND email_id = %s",
    /* identities (RFC 8621 §6) and the vacation response (§8): the JMAP
     * properties other than id, email and mayDelete are one JSON text */
    [JM_SQL_IDENTITY_LIST] = "SELECT id, email, is_default, data FROM jm_identities"
        " WHERE account_id = %s ORDER BY created, id",
    [JM_SQL_IDENTITY_INSERT] = "INSERT INTO jm_identities (account_id, id, email,"
        " is_default, data, created) VALUES (%s, %s, %s, %lld, %s, %lld)"
        " ON CONFLICT (account_id, id) DO NOTHING",
    [JM_SQL_IDENTITY_UPDATE] = "UPDATE jm_identities SET data = %s"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_IDENTITY_DELETE] = "DELETE FROM jm_identities WHERE account_id = %s AND id = %s",
    [JM_SQL_VACATION_GET] = "SELECT data FROM jm_vacation WHERE account_id = %s",
    [JM_SQL_VACATION_PUT] = "INSERT INTO jm_vacation (account_id, data) VALUES (%s, %s)"
        " ON CONFLICT (account_id) DO UPDATE SET data = excluded.data",
    [JM_SQL_VACATION_REPLY_GET] = "SELECT last_replied FROM jm_vacation_replies"
        " WHERE account_id = %s AND sender = %s",
    [JM_SQL_VACATION_REPLY_PUT] = "INSERT INTO jm_vacation_replies (account_id, sender,"
        " last_replied) VALUES (%s, %s, %lld) ON CONFLICT (account_id, sender)"
        " DO UPDATE SET last_replied = excluded.last_replied",
    [JM_SQL_VACATION_REPLY_PRUNE] = "DELETE FROM jm_vacation_replies"
        " WHERE account_id = %s AND last_replied < %lld",
    [JM_SQL_VACATION_OUTBOX_INSERT] = "INSERT INTO jm_vacation_outbox (account_id,"
        " mail_from, rcpt, message, created) VALUES (%s, %s, %s, %s, %lld)",
    [JM_SQL_PUSH_INSERT] = "INSERT INTO jm_push_subscriptions (id, username,"
        " device_client_id, url, p256dh, auth, code_sent, expires, types, next_attempt,"
        " created) VALUES (%s, %s, %s, %s, %s, %s, %s, %lld, %s, %lld, %lld)",
    [JM_SQL_PUSH_LIST] = "SELECT id, device_client_id, code_sent, verified, expires,"
        " types, url, p256dh, auth FROM jm_push_subscriptions WHERE username = %s"
        " ORDER BY created, id",
    [JM_SQL_PUSH_CREATIONS_PRUNE] = "DELETE FROM jm_push_creations WHERE username = %s"
        " AND created < %lld",
    [JM_SQL_PUSH_CREATIONS_COUNT] = "SELECT COUNT(*) FROM jm_push_creations"
        " WHERE username = %s AND created >= %lld",
    [JM_SQL_PUSH_CREATION_ADD] = "INSERT INTO jm_push_creations (username, created)"
        " VALUES (%s, %lld)",
    [JM_SQL_PUSH_COUNT] = "SELECT COUNT(*) FROM jm_push_subscriptions WHERE username = %s",
    [JM_SQL_PUSH_VERIFY] = "UPDATE jm_push_subscriptions SET verified = 1,"
        " pushed_states = %s, next_attempt = %lld WHERE username = %s AND id = %s",
    [JM_SQL_PUSH_SET_EXPIRES] = "UPDATE jm_push_subscriptions SET expires = %lld"
        " WHERE username = %s AND id = %s",
    [JM_SQL_PUSH_SET_TYPES] = "UPDATE jm_push_subscriptions SET types = %s"
        " WHERE username = %s AND id = %s",
    [JM_SQL_PUSH_DESTROY] = "DELETE FROM jm_push_subscriptions WHERE username = %s AND id = %s",
    [JM_SQL_PUSH_EXPIRE] = "DELETE FROM jm_push_subscriptions WHERE expires <= %lld",
    [JM_SQL_PUSH_CLAIMED] = "SELECT id, username, url, p256dh, auth, code_sent, verified,"
        " verify_pending, types, pushed_states, failures FROM jm_push_subscriptions"
        " WHERE lease_owner = %s ORDER BY next_attempt",
    [JM_SQL_PUSH_VERIFY_SENT] = "UPDATE jm_push_subscriptions SET verify_pending = 0,"
        " failures = 0, next_attempt = %lld, lease_until = 0, lease_owner = ''"
        " WHERE id = %s AND lease_owner = %s",
    [JM_SQL_PUSH_CHECKED] = "UPDATE jm_push_subscriptions SET pushed_states = %s,"
        " failures = 0, next_attempt = %lld, lease_until = 0, lease_owner = ''"
        " WHERE id = %s AND lease_owner = %s",
    [JM_SQL_PUSH_RETRY] = "UPDATE jm_push_subscriptions SET failures = %lld,"
        " next_attempt = %lld, lease_until = 0, lease_owner = ''"
        " WHERE id = %s AND lease_owner = %s",
    [JM_SQL_PUSH_GONE] = "DELETE FROM jm_push_subscriptions WHERE id = %s AND lease_owner = %s",
    [JM_SQL_SUB_INSERT] = "INSERT INTO jm_submissions (account_id, id, identity_id,"
        " email_id, thread_id, blob_id, message_id, mail_from, envelope, send_at,"
        " created, undo_status, queue, next_try, give_up_at) VALUES (%s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %lld, %lld, %s, %s, %lld, %lld)",
    [JM_SQL_SUB_RCPT_INSERT] = "INSERT INTO jm_submission_rcpts (account_id,"
        " submission_id, seq, address, delivered, smtp_reply, displayed, blob_id)"
        " VALUES (%s, %s, %lld, %s, %s, %s, %s, %s)",
    [JM_SQL_SUB_LIST] = "SELECT id, identity_id, email_id, thread_id, envelope,"
        " send_at, undo_status, dsn_blob_ids, mdn_blob_ids FROM jm_submissions"
        " WHERE account_id = %s AND destroyed = 0 ORDER BY created, id",
    [JM_SQL_SUB_GET] = "SELECT id, identity_id, email_id, thread_id, envelope,"
        " send_at, undo_status, dsn_blob_ids, mdn_blob_ids FROM jm_submissions"
        " WHERE account_id = %s AND id = %s AND destroyed = 0",
    /* a report names the submission by its id (Original-Envelope-Id, our
     * own DSNs) or by the Message-ID of the message it is about */
    [JM_SQL_SUB_BY_REF] = "SELECT id, dsn_blob_ids, mdn_blob_ids FROM jm_submissions"
        " WHERE account_id = %s AND destroyed = 0 AND (id = %s OR message_id = %s)",
    [JM_SQL_SUB_RCPT_DISPLAYED] = "UPDATE jm_submission_rcpts SET displayed = 'yes'"
        " WHERE account_id = %s AND submission_id = %s AND LOWER(address) = LOWER(%s)",
    [JM_SQL_SUB_SET_REPORTS] = "UPDATE jm_submissions SET dsn_blob_ids = %s,"
        " mdn_blob_ids = %s WHERE account_id = %s AND id = %s",
    [JM_SQL_SUB_RCPTS] = "SELECT seq, address, delivered, smtp_reply, displayed, blob_id"
        " FROM jm_submission_rcpts WHERE account_id = %s AND submission_id = %s"
        " ORDER BY seq",
    /* only a submission no worker holds: one being sent cannot be recalled */
    [JM_SQL_SUB_CANCEL] = "UPDATE jm_submissions SET undo_status = 'canceled',"
        " queue = 'done' WHERE account_id = %s AND id = %s AND destroyed = 0"
        " AND undo_status = 'pending' AND queue = 'wait'",
    [JM_SQL_SUB_RCPTS_CANCEL] = "UPDATE jm_submission_rcpts SET delivered = 'no',"
        " smtp_reply = %s WHERE account_id = %s AND submission_id = %s"
        " AND delivered = 'queued'",
    [JM_SQL_SUB_DESTROY] = "UPDATE jm_submissions SET destroyed = 1"
        " WHERE account_id = %s AND id = %s AND destroyed = 0",
    [JM_SQL_QUEUE_DUE] = "SELECT account_id, id FROM jm_submissions"
        " WHERE (queue = 'wait' AND next_try <= %lld)"
        " OR (queue = 'sending' AND lease_until < %lld) ORDER BY next_try LIMIT %lld",
    /* the claim is atomic on its own (the row is re-checked under its
     * lock), whatever the select before it saw */
    [JM_SQL_QUEUE_CLAIM] = "UPDATE jm_submissions SET queue = 'sending',"
        " lease_owner = %s, lease_until = %lld, tries = tries + 1"
        " WHERE account_id = %s AND id = %s AND ((queue = 'wait' AND next_try <= %lld)"
        " OR (queue = 'sending' AND lease_until < %lld))",
    [JM_SQL_QUEUE_ITEM] = "SELECT blob_id, message_id, mail_from, give_up_at, tries,"
        " undo_status, relay_reply, queue, lease_owner, destroyed FROM jm_submissions"
        " WHERE account_id = %s AND id = %s",
    [JM_SQL_QUEUE_RCPT_SET] = "UPDATE jm_submission_rcpts SET delivered = %s,"
        " smtp_reply = %s WHERE account_id = %s AND submission_id = %s AND seq = %lld",
    [JM_SQL_BCC_COPY_INSERT] = "INSERT INTO jm_email_bcc_copies (account_id, email_id,"
        " address, blob_id) VALUES (%s, %s, %s, %s)",
    [JM_SQL_BCC_COPIES] = "SELECT address, blob_id FROM jm_email_bcc_copies"
        " WHERE account_id = %s AND email_id = %s",
    /* a row is due when it waits (next_try passed) and no live lease
     * holds it; the claim re-checks that under the row's lock */
    [JM_SQL_AUTOREPLY_DUE] = "SELECT id FROM jm_vacation_outbox WHERE next_try <= %lld"
        " AND lease_until < %lld ORDER BY next_try, id LIMIT %lld",
    [JM_SQL_AUTOREPLY_CLAIM] = "UPDATE jm_vacation_outbox SET lease_owner = %s,"
        " lease_until = %lld, tries = tries + 1 WHERE id = %lld AND next_try <= %lld"
        " AND lease_until < %lld",
    [JM_SQL_AUTOREPLY_ITEM] = "SELECT account_id, mail_from, rcpt, message, tries,"
        " created, last_reply FROM jm_vacation_outbox WHERE id = %lld AND lease_owner = %s",
    [JM_SQL_AUTOREPLY_DONE] = "DELETE FROM jm_vacation_outbox WHERE id = %lld"
        " AND lease_owner = %s",
    [JM_SQL_AUTOREPLY_RETRY] = "UPDATE jm_vacation_outbox SET next_try = %lld,"
        " last_reply = %s, lease_until = 0 WHERE id = %lld AND lease_owner = %s",
    [JM_SQL_QUEUE_RELEASE] = "UPDATE jm_submissions SET queue = %s, next_try = %lld,"
        " undo_status = %s, relay_reply = %s, lease_until = 0"
        " WHERE account_id = %s AND id = %s AND lease_owner = %s AND queue = 'sending'",
};

/* Email/query. A mailbox that every result must be in drives the query
 * (FROM_MAILBOX): rows come from the index (account_id, mailbox_id,
 * received_at, email_id) in receivedAt order, so "inMailbox, receivedAt
 * desc, limit 50" reads 50 index entries and 50 emails. */
#define IN_MB_EXISTS "EXISTS (SELECT 1 FROM jm_email_mailboxes x" \
    " WHERE x.account_id = e.account_id AND x.email_id = e.id"
#define KW_OF(t) "SELECT 1 FROM jm_email_keywords k WHERE k.account_id = " t \
    ".account_id AND k.email_id = " t ".id AND k.keyword = %s"

const char *const jm_sql_qfrag_common[JM_QF__COUNT] = {
    [JM_QF_SELECT_ID] = "SELECT e.id",
    [JM_QF_SELECT_COUNT] = "SELECT COUNT(*)",
    [JM_QF_SELECT_COUNT_THREADS] = "SELECT COUNT(DISTINCT e.thread_id)",
    [JM_QF_FROM_ACCOUNT] = " FROM jm_emails e WHERE e.account_id = %s",
    [JM_QF_FROM_MAILBOX] = " FROM jm_email_mailboxes m JOIN jm_emails e"
        " ON e.account_id = m.account_id AND e.id = m.email_id"
        " WHERE m.account_id = %s AND m.mailbox_id = %s",
    [JM_QF_AND] = " AND ", [JM_QF_OR] = " OR ", [JM_QF_NOT] = "NOT ",
    [JM_QF_OPEN] = "(", [JM_QF_CLOSE] = ")", [JM_QF_COMMA] = ", ",
    [JM_QF_TRUE] = "1 = 1", [JM_QF_FALSE] = "1 = 0", [JM_QF_PARAM] = "%s",
    [JM_QF_IN_MAILBOX] = IN_MB_EXISTS " AND x.mailbox_id = %s)",
    [JM_QF_IN_ANY_MAILBOX] = IN_MB_EXISTS ")",
    [JM_QF_IN_MAILBOX_NOT_IN] = IN_MB_EXISTS " AND x.mailbox_id NOT IN (",
    [JM_QF_CLOSE2] = "))",
    [JM_QF_BEFORE] = "e.received_at < %lld",
    [JM_QF_AFTER] = "e.received_at >= %lld",
    [JM_QF_MIN_SIZE] = "e.size >= %lld",
    [JM_QF_MAX_SIZE] = "e.size < %lld",
    [JM_QF_HAS_ATTACHMENT] = "e.has_attachment = %lld",
    [JM_QF_HAS_KEYWORD] = "EXISTS (" KW_OF("e") ")",
    [JM_QF_SOME_IN_THREAD] = "EXISTS (SELECT 1 FROM jm_emails t WHERE"
        " t.account_id = e.account_id AND t.thread_id = e.thread_id AND EXISTS ("
        KW_OF("t") "))",
    [JM_QF_ALL_IN_THREAD] = "NOT EXISTS (SELECT 1 FROM jm_emails t WHERE"
        " t.account_id = e.account_id AND t.thread_id = e.thread_id AND NOT EXISTS ("
        KW_OF("t") "))",
    /* header (RFC 8621 §4.4.1): the fields an email had when it was stored
     * (jm_email_headers, filled by the indexer in the same transaction);
     * the value is searched as case-folded text by the dialect's substring
     * function */
    [JM_QF_HEADER_HAS] = "EXISTS (SELECT 1 FROM jm_email_headers h WHERE"
        " h.account_id = e.account_id AND h.email_id = e.id AND h.name = %s)",
    [JM_QF_KEY_RECEIVED] = "e.received_at",
    [JM_QF_KEY_RECEIVED_MB] = "m.received_at",
    [JM_QF_KEY_SIZE] = "e.size",
    [JM_QF_KEY_FROM] = "e.from_sort",
    [JM_QF_KEY_TO] = "e.to_sort",
    [JM_QF_KEY_SUBJECT] = "e.sort_subject",
    [JM_QF_KEY_FROM_RAW] = "e.from_key",
    [JM_QF_KEY_TO_RAW] = "e.to_key",
    [JM_QF_KEY_SUBJECT_RAW] = "e.thread_subject",
    [JM_QF_KEY_SENT] = "e.sent_at",
    [JM_QF_TIE] = "e.id",
    [JM_QF_TIE_MB] = "m.email_id",
    [JM_QF_ASC] = " ASC", [JM_QF_DESC] = " DESC", [JM_QF_ORDER_BY] = " ORDER BY ",
    [JM_QF_LIMIT] = " LIMIT %lld OFFSET %lld",
    [JM_QF_COLL_UNICODE_PRE] = "", [JM_QF_COLL_UNICODE_POST] = "",
    [JM_QF_COLL_UNICODE_ORDER] = "",
    [JM_QF_COLL_ASCII_PRE] = "", [JM_QF_COLL_ASCII_POST] = "",
    [JM_QF_COLL_ASCII_ORDER] = "",
    [JM_QF_COLL_OCTET_PRE] = "", [JM_QF_COLL_OCTET_POST] = "",
    [JM_QF_COLL_OCTET_ORDER] = "",
    [JM_QF_NUM1_PRE] = "", [JM_QF_NUM1_POST] = "",
    [JM_QF_NUM2_PRE] = "", [JM_QF_NUM2_POST] = "",
    [JM_QF_COLLAPSE_INNER] = "SELECT e.id AS id",
    [JM_QF_ROW_NUMBER_THREAD] = ", ROW_NUMBER() OVER (PARTITION BY e.thread_id ORDER BY ",
    [JM_QF_RN_END] = ") AS jm_rn",
    [JM_QF_COLLAPSE_OPEN] = "SELECT id FROM (",
    [JM_QF_COLLAPSE_CLOSE] = ") q WHERE jm_rn = 1",
    [JM_QF_TIE_OUTER] = "id",
    [JM_QF_AS] = " AS ",
    [JM_QF_RANK_OPEN] = "SELECT jm_pos FROM (SELECT e.id AS id, ROW_NUMBER() OVER (ORDER BY ",
    [JM_QF_RANK_OPEN_COLLAPSED] = "SELECT jm_pos FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY ",
    [JM_QF_RANK_MID] = ") AS jm_pos",
    [JM_QF_RANK_MID_COLLAPSED] = ") AS jm_pos FROM (",
    [JM_QF_RANK_CLOSE] = ") r WHERE id = %s",
    [JM_QF_RANK_CLOSE_COLLAPSED] = ") q WHERE jm_rn = 1) r WHERE id = %s",
};

const char *const jm_sql_key_alias[JM_QF_MAX_KEYS] = {
    "jm_k0", "jm_k1", "jm_k2", "jm_k3", "jm_k4", "jm_k5",
    "jm_k6", "jm_k7", "jm_k8", "jm_k9", "jm_k10", "jm_k11",
    "jm_k12", "jm_k13", "jm_k14", "jm_k15"
};

const char *jm_sql_qfrag(const jm_sql_dialect_t *d, jm_qfrag_id_t id)
{
    return d->qfrag[id] ? d->qfrag[id] : jm_sql_qfrag_common[id];
}

const char *jm_sql_text(const jm_sql_dialect_t *d, jm_sql_id_t id)
{
    return d->stmt[id] ? d->stmt[id] : jm_sql_common[id];
}
