/* Every SQL statement the module runs, by id: the portable ones once
 * (sql/jm_sql_common.c), and per dialect (sql/jm_sql_<driver>.c) the schema
 * and what really differs. Placeholders are apr_dbd's (%s text, %lld 64-bit
 * integer); SQL is never built from strings at run time. */
#ifndef JM_SQL_H
#define JM_SQL_H

#include <apr.h>

typedef enum {
    JM_SQL_SCHEMA_EXISTS,       /* -> count of jm_schema tables (0 or 1) */
    JM_SQL_SCHEMA_VERSION,      /* -> version */
    JM_SQL_ACCOUNT_BY_USER,     /* username -> id */
    JM_SQL_ACCOUNT_INSERT,      /* id, username, created */
    JM_SQL_STATE_LIST,          /* account -> type, state */
    JM_SQL_STATE_INSERT,        /* account, type */
    JM_SQL_STATE_BUMP,          /* account, type */
    JM_SQL_STATE_GET,           /* account, type -> state, oldest */
    JM_SQL_STATE_SET_OLDEST,    /* oldest, account, type */
    JM_SQL_CHANGE_INSERT,       /* account, type, state, object id, kind, props */
    JM_SQL_CHANGES_SINCE,       /* account, type, since, limit -> object id, kind, state, props */
    JM_SQL_CHANGES_PRUNE,       /* account, type, up to state */
    JM_SQL_MAILBOX_LIST,        /* account -> id, name, parent, role, sort, subscribed,
                                 *            total, unread, threads, unread threads */
    JM_SQL_MAILBOX_INSERT,      /* id, account, name, parent, role, sort */
    JM_SQL_MAILBOX_UPDATE,      /* name, parent, role, sort, subscribed, account, id */
    JM_SQL_MAILBOX_DELETE,      /* account, id */
    JM_SQL_MAILBOX_CHILDREN,    /* account, parent -> count */
    JM_SQL_MAILBOX_EMAIL_IDS,   /* account, mailbox -> email id */
    JM_SQL_MAILBOX_IDS,         /* account -> id */
    JM_SQL_MAILBOX_ADJUST,      /* d total, d unread, d threads, d unread threads,
                                 * account, mailbox */
    JM_SQL_MBTHREAD_GET,        /* account, mailbox, thread -> emails, unread */
    JM_SQL_MBTHREAD_INSERT,     /* account, mailbox, thread, emails, unread */
    JM_SQL_MBTHREAD_UPDATE,     /* emails, unread, account, mailbox, thread */
    JM_SQL_MBTHREAD_DELETE,     /* account, mailbox, thread */
    JM_SQL_BLOB_INSERT,         /* account, id, size, type, created, content key
                                 * (nrows 0: the account has it) */
    JM_SQL_BLOB_INFO,           /* account, id -> size, type */
    JM_SQL_BLOB_LINK,           /* to account, created, from account, id (Blob/copy;
                                 * nrows 0: not in from, or already in to) */
    JM_SQL_CONTENT_INSERT,      /* content key, size, created (nrows 0: stored before) */
    JM_SQL_CONTENT_CHUNK_INSERT,/* content key, seq, data as %pDb: bytes, length
                                 * (decimal), table, column (apr_dbd's 4 values) */
    JM_SQL_BLOB_CHUNK_GET,      /* account, blob, seq -> data (binary; hex text where
                                 * the dialect says bytes_as_hex) */
    JM_SQL_EMAIL_INSERT,        /* (dialects without fts_in_email_row)
                                 * account, id, blob, thread, size, received, keywords,
                                 * seen, unread, subject, sort subject, thread subject,
                                 * from sort, to sort, from text, to text, cc text,
                                 * bcc text, sent at (-1: no Date), has attachment,
                                 * preview, from key, to key, view (NULL: none) */
    JM_SQL_EMAIL_MAILBOX_INSERT,/* account, email, mailbox, received */
    JM_SQL_EMAIL_KEYWORD_INSERT,/* account, email, keyword */
    JM_SQL_EMAIL_KEYWORD_DELETE,/* account, email, keyword */
    JM_SQL_EMAIL_FTS_INSERT,    /* subject, from, to, cc, bcc, body, account, email */
    JM_SQL_EMAIL_INSERT_FTS,    /* JM_SQL_EMAIL_INSERT's arguments, then subject, from,
                                 * to, cc, bcc, body (fts_in_email_row dialects only) */
    JM_SQL_THREAD_REF_GET,      /* account, msgid -> thread */
    JM_SQL_THREAD_REF_INSERT,   /* account, msgid, thread (existing: kept) */
    JM_SQL_THREAD_REFS_MOVE,    /* new thread, account, old thread */
    JM_SQL_THREAD_EMAIL_IDS,    /* account, thread -> id (oldest first) */
    JM_SQL_EMAIL_SET_THREAD,    /* thread, account, id */
    JM_SQL_MBTHREAD_BY_THREAD,  /* account, thread -> mailbox, emails, unread */
    JM_SQL_EMAIL_SET_KEYWORDS,  /* keywords, seen, unread, account, id */
    JM_SQL_EMAIL_KEYWORDS_DELETE,/* account, email */
    JM_SQL_EMAIL_MAILBOX_DELETE,/* account, email, mailbox */
    JM_SQL_EMAIL_FTS_DELETE,    /* account, email */
    JM_SQL_EMAIL_DELETE,        /* account, id */
    JM_SQL_THREAD_SIZE,         /* account, thread -> count */
    JM_SQL_THREAD_REFS_DELETE,  /* account, thread */
    JM_SQL_EMAIL_UNINDEXED,     /* limit -> account, id, blob, thread */
    JM_SQL_EMAIL_SET_COLS,      /* subject, sort subject, thread subject, from sort,
                                 * to sort, from/to/cc/bcc text, sent at, has
                                 * attachment, preview, from key, to key, account, id */
    JM_SQL_EMAIL_GET,           /* account, id -> id, blob, thread, size, received, keywords, view */
    JM_SQL_EMAIL_MAILBOXES,     /* account, email -> mailbox */
    JM_SQL_EMAIL_IDS,           /* account, limit -> id */
    JM_SQL_EMAIL_BY_BLOB,       /* account, blob -> id (at most one) */
    JM_SQL_MAILBOX_TOTALS,      /* account, mailbox -> total emails, total threads */
    JM_SQL_EMAIL_TEXTS,         /* account, id -> subject, preview */
    JM_SQL_EMAIL_HEADER_INSERT, /* account, email, seq, name (lower-case), value
                                 * (asText, case-folded) */
    JM_SQL_EMAIL_HEADERS_DELETE,/* account, email */
    JM_SQL_IDENTITY_LIST,       /* account -> id, email, is default, data (JSON) */
    JM_SQL_IDENTITY_INSERT,     /* account, id, email, is default, data, created */
    JM_SQL_IDENTITY_UPDATE,     /* data, account, id */
    JM_SQL_IDENTITY_DELETE,     /* account, id */
    JM_SQL_VACATION_GET,        /* account -> data (JSON) */
    JM_SQL_VACATION_PUT,        /* account, data (upsert) */
    JM_SQL_VACATION_REPLY_GET,  /* account, sender -> last replied (seconds) */
    JM_SQL_VACATION_REPLY_PUT,  /* account, sender, last replied (upsert) */
    JM_SQL_VACATION_REPLY_PRUNE,/* account, before (seconds) */
    JM_SQL_VACATION_OUTBOX_INSERT,/* account, mail from, rcpt, message, created */
    /* push subscriptions (RFC 8620 §7.2); times: expires s, others ms */
    JM_SQL_PUSH_INSERT,         /* id, username, device client id, url, p256dh, auth,
                                 * code sent, expires, types, next attempt, created */
    JM_SQL_PUSH_LIST,           /* username -> id, device client id, code sent,
                                 * verified, expires, types, url, p256dh, auth */
    JM_SQL_PUSH_COUNT,          /* username -> count */
    JM_SQL_PUSH_CREATIONS_PRUNE,/* username, before (ms) */
    JM_SQL_PUSH_CREATIONS_COUNT,/* username, since (ms) -> count */
    JM_SQL_PUSH_CREATION_ADD,   /* username, created (ms) */
    JM_SQL_PUSH_VERIFY,         /* pushed states, next attempt, username, id */
    JM_SQL_PUSH_SET_EXPIRES,    /* expires, username, id */
    JM_SQL_PUSH_SET_TYPES,      /* types, username, id */
    JM_SQL_PUSH_DESTROY,        /* username, id */
    JM_SQL_PUSH_EXPIRE,         /* now (s): deletes what has expired */
    JM_SQL_PUSH_CLAIM,          /* owner, lease until, now, now, now, now (s), limit:
                                 * per dialect (pgsql: FOR UPDATE SKIP LOCKED) */
    JM_SQL_PUSH_CLAIMED,        /* owner -> id, username, url, p256dh, auth, code sent,
                                 * verified, verify pending, types, pushed states,
                                 * failures */
    JM_SQL_PUSH_VERIFY_SENT,    /* next attempt, id, owner */
    JM_SQL_PUSH_CHECKED,        /* pushed states, next attempt, id, owner */
    JM_SQL_PUSH_RETRY,          /* failures, next attempt, id, owner */
    JM_SQL_PUSH_GONE,           /* id, owner */
    /* the submission queue (store/jm_store_queue.c) */
    JM_SQL_SUB_INSERT,          /* account, id, identity, email, thread, blob, message-id,
                                 * mail from, envelope, send at, created, undo status,
                                 * queue, next try, give up at */
    JM_SQL_SUB_RCPT_INSERT,     /* account, submission, seq, address, delivered,
                                 * smtp reply, displayed, blob ('' the message's) */
    JM_SQL_SUB_LIST,            /* account -> id, identity, email, thread, envelope,
                                 * send at, undo status, dsn blobs, mdn blobs
                                 * (not destroyed) */
    JM_SQL_SUB_GET,             /* account, id -> the same */
    JM_SQL_SUB_BY_REF,          /* account, id, message-id -> id, dsn blobs, mdn blobs */
    JM_SQL_SUB_SET_REPORTS,     /* dsn blobs, mdn blobs (JSON), account, id */
    JM_SQL_SUB_RCPT_DISPLAYED,  /* account, submission, address (any case) */
    JM_SQL_SUB_RCPTS,           /* account, submission -> seq, address, delivered,
                                 * smtp reply, displayed, blob */
    JM_SQL_SUB_CANCEL,          /* account, id (nrows 0: not pending and waiting) */
    JM_SQL_SUB_RCPTS_CANCEL,    /* smtp reply, account, submission (queued ones) */
    JM_SQL_SUB_DESTROY,         /* account, id (nrows 0: none) */
    JM_SQL_QUEUE_DUE,           /* now, now, limit -> account, id (PostgreSQL:
                                 * FOR UPDATE SKIP LOCKED) */
    JM_SQL_QUEUE_CLAIM,         /* owner, lease until, account, id, now, now
                                 * (nrows 0: taken by another) */
    JM_SQL_QUEUE_ITEM,          /* account, id -> blob, message-id, mail from, give up
                                 * at, tries, undo status, relay reply, queue,
                                 * lease owner, destroyed */
    JM_SQL_QUEUE_RCPT_SET,      /* delivered, smtp reply, account, submission, seq */
    JM_SQL_QUEUE_RELEASE,       /* queue, next try, undo status, relay reply, account,
                                 * id, owner (nrows 0: the lease was lost) */
    JM_SQL_BCC_COPY_INSERT,     /* account, email, address (lower-case), blob */
    JM_SQL_BCC_COPIES,          /* account, email -> address, blob */
    /* vacation replies waiting in jm_vacation_outbox (store/jm_store_queue.c) */
    JM_SQL_AUTOREPLY_DUE,       /* now, now, limit -> id (PostgreSQL: FOR UPDATE
                                 * SKIP LOCKED) */
    JM_SQL_AUTOREPLY_CLAIM,     /* owner, lease until, id, now, now (nrows 0: taken) */
    JM_SQL_AUTOREPLY_ITEM,      /* id, owner -> account, mail from, rcpt, message,
                                 * tries, created, last reply */
    JM_SQL_AUTOREPLY_DONE,      /* id, owner */
    JM_SQL_AUTOREPLY_RETRY,     /* next try, last reply, id, owner */
    JM_SQL__COUNT
} jm_sql_id_t;

/** The states of several accounts (store/jm_store_states.c): [0], then one
 *  placeholder per account id with [1] between two, then [2]; portable. */
extern const char *const jm_sql_states_in[3];

/** The rows (as JM_SQL_EMAIL_GET) and the mailboxes (email, mailbox) of
 *  several emails of one account (store/jm_store_email_batch.c): [0] with
 *  the account and the first id, [1] before each further id, then [2]. */
extern const char *const jm_sql_emails_in[3];
extern const char *const jm_sql_email_mailboxes_in[3];

/** Blob content is stored in binary rows (jm_content_chunks) of at most
 *  this many bytes. Schema versions 2 and 3 kept them base64-encoded, per
 *  account, in rows of JM_SQL_CHUNK_CHARS characters (3 * 65536 bytes are
 *  exactly that many), which the version 5 migration decodes row for row
 *  into rows of the same size. Readers never assume the size: they read
 *  rows by seq until the blob's stored size is reached. */
#define JM_SQL_CHUNK_BYTES 196608
#define JM_SQL_CHUNK_CHARS 262144

/** An entry of a migration list that is not SQL: the C step that moves
 *  base64 chunks (schema 4) into binary content rows (schema 5), for a
 *  dialect that cannot decode base64 in SQL (store/jm_schema_blob.c). */
#define JM_SQL_STEP_BLOB_CONTENTS "-- jm step: blob contents to binary"

/** Fragments that Email/query statements are composed of
 * (store/jm_store_query.c): constant texts, values only ever bound through
 * their placeholders. Aliases: e = jm_emails, m = jm_email_mailboxes (when
 * a mailbox drives the query). */
typedef enum {
    JM_QF_SELECT_ID,            /* the window: ids */
    JM_QF_SELECT_COUNT,         /* the total */
    JM_QF_SELECT_COUNT_THREADS, /* the total with collapseThreads */
    JM_QF_FROM_ACCOUNT,         /* account */
    JM_QF_FROM_MAILBOX,         /* account, mailbox: walks the mailbox index */
    JM_QF_AND, JM_QF_OR, JM_QF_NOT, JM_QF_OPEN, JM_QF_CLOSE, JM_QF_COMMA,
    JM_QF_TRUE, JM_QF_FALSE, JM_QF_PARAM,
    JM_QF_IN_MAILBOX,           /* mailbox */
    JM_QF_IN_ANY_MAILBOX,
    JM_QF_IN_MAILBOX_NOT_IN,    /* opens "... NOT IN (", closed by CLOSE2 */
    JM_QF_CLOSE2,
    JM_QF_BEFORE, JM_QF_AFTER, JM_QF_MIN_SIZE, JM_QF_MAX_SIZE, /* %lld */
    JM_QF_HAS_ATTACHMENT,       /* 0/1 */
    JM_QF_HAS_KEYWORD,          /* keyword: also a sort key (0/1, false/true) */
    JM_QF_SOME_IN_THREAD,       /* keyword */
    JM_QF_ALL_IN_THREAD,        /* keyword */
    JM_QF_TEXT_TERM,            /* one search phrase (tsquery) or the FTS5 query */
    JM_QF_TEXT_TERM_AND,        /* between TEXT_TERMs (tsquery) */
    JM_QF_HEADER_HAS,           /* name (lower-case): the email has such a field */
    JM_QF_HEADER_VALUE,         /* name, text (case-folded): one such field's
                                 * value contains the text */
    /* full text drives the query (a dialect whose engine returns matches in
     * receivedAt order; NULL: none does): account, FTS query */
    JM_QF_FROM_TEXT,
    JM_QF_KEY_TEXT_ORDER,       /* the sort key and tie of FROM_TEXT: receivedAt,
                                 * descending when ascending (a negated key) */
    JM_QF_KEY_RECEIVED, JM_QF_KEY_RECEIVED_MB, JM_QF_KEY_SIZE, JM_QF_KEY_FROM,
    JM_QF_KEY_TO, JM_QF_KEY_SUBJECT, JM_QF_KEY_SENT,
    /* the same keys as written (case kept), for the collations other than
     * i;unicode-casemap, whose keys (above) are folded at store time */
    JM_QF_KEY_FROM_RAW, JM_QF_KEY_TO_RAW, JM_QF_KEY_SUBJECT_RAW,
    JM_QF_TIE, JM_QF_TIE_MB,    /* the last sort key: id */
    JM_QF_ASC, JM_QF_DESC, JM_QF_ORDER_BY,
    JM_QF_LIMIT,                /* limit, offset */
    /* collations (RFC 4790) of a string key: PRE key POST is the value,
     * ORDER follows it (or its alias) in ORDER BY */
    JM_QF_COLL_UNICODE_PRE, JM_QF_COLL_UNICODE_POST, JM_QF_COLL_UNICODE_ORDER,
    JM_QF_COLL_ASCII_PRE, JM_QF_COLL_ASCII_POST, JM_QF_COLL_ASCII_ORDER,
    JM_QF_COLL_OCTET_PRE, JM_QF_COLL_OCTET_POST, JM_QF_COLL_OCTET_ORDER,
    /* i;ascii-numeric as two keys: no leading digit (1) last, then the value */
    JM_QF_NUM1_PRE, JM_QF_NUM1_POST, JM_QF_NUM2_PRE, JM_QF_NUM2_POST,
    /* collapseThreads: the first email of each thread in sort order */
    JM_QF_COLLAPSE_INNER,       /* "SELECT e.id AS id" */
    JM_QF_ROW_NUMBER_THREAD,    /* ", ROW_NUMBER() OVER (PARTITION BY thread ORDER BY " */
    JM_QF_RN_END,               /* ") AS jm_rn" */
    JM_QF_COLLAPSE_OPEN,        /* "SELECT id FROM (" */
    JM_QF_COLLAPSE_CLOSE,       /* ") q WHERE jm_rn = 1" */
    JM_QF_TIE_OUTER,            /* "id" */
    JM_QF_AS,                   /* " AS " before a key alias */
    /* the index of the anchor (1-based) */
    JM_QF_RANK_OPEN,            /* "SELECT jm_pos FROM (SELECT e.id AS id, ROW_NUMBER() OVER (ORDER BY " */
    JM_QF_RANK_OPEN_COLLAPSED,  /* "SELECT jm_pos FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY " */
    JM_QF_RANK_MID,             /* ") AS jm_pos" */
    JM_QF_RANK_MID_COLLAPSED,   /* ") AS jm_pos FROM (" */
    JM_QF_RANK_CLOSE,           /* ") r WHERE id = %s" */
    JM_QF_RANK_CLOSE_COLLAPSED, /* ") q WHERE jm_rn = 1) r WHERE id = %s" */
    JM_QF__COUNT
} jm_qfrag_id_t;

/** Text fields of a FilterCondition, in jm_text_field_t order: text, from,
 *  to, cc, bcc, subject, body. */
#define JM_SQL_TEXT_FIELDS 7

/** Aliases of collapseThreads' sort keys, in order (jm_k0 ...). */
#define JM_QF_MAX_KEYS 16
extern const char *const jm_sql_key_alias[JM_QF_MAX_KEYS];

/** The portable fragments (sql/jm_sql_common.c). */
extern const char *const jm_sql_qfrag_common[JM_QF__COUNT];

/** Native transaction control (jm_sql_dialect_t.txn_native). */
typedef enum { JM_TXN_BEGIN, JM_TXN_COMMIT, JM_TXN_ROLLBACK } jm_txn_op_t;
#define JM_TXN_OK     0
#define JM_TXN_BUSY   1     /**< locked by another connection: try again later */
#define JM_TXN_FAILED (-1)

/** Receives one row of a native statement: vals[i] NULL for SQL NULL, a
 *  blob as its bytes, lens[i] the bytes of each; non-zero skips the rest. */
typedef int jm_sql_cells_fn(void *baton, int ncols, const char *const *vals,
                            const apr_size_t *lens);

/** Statements on the native handle, kept for the connection's life
 *  (jm_sql_dialect_t.native). The SQL and the values are apr_dbd's: %s and
 *  %lld take one text value, %pDb four (bytes, length, table, column). */
typedef struct {
    /** A statement, or NULL with the driver's message in err. */
    void *(*prepare)(void *native, const char *sql, char *err, apr_size_t errlen);
    /** Bind, step every row to fn (may be NULL), reset; *pchanges (may be
     *  NULL) the rows a write changed. 0, or -1 with the message in err. */
    int (*run)(void *native, void *stmt, int nargs, const char *const *args,
               jm_sql_cells_fn *fn, void *baton, int *pchanges, char *err,
               apr_size_t errlen);
    void (*finalize)(void *stmt);
} jm_sql_native_t;

/** SQLite's (sql/jm_sql_sqlite3_stmt.c). */
extern const jm_sql_native_t jm_sql_sqlite3_native;

/** The statements both dialects run as they are (sql/jm_sql_common.c). */
extern const char *const jm_sql_common[JM_SQL__COUNT];

typedef struct {
    const char *driver;             /**< apr_dbd driver name */
    /** What this dialect says differently (DDL-dependent, upserts, full-text
     *  search); NULL entries use jm_sql_common. */
    const char *stmt[JM_SQL__COUNT];
    /** Schema migrations: migrations[v] moves version v to v+1; each entry is
     *  a NULL-terminated list of statements run in one transaction. */
    const char *const *const *migrations;
    int schema_version;             /**< the version these statements expect */
    const char *const *on_connect;  /**< per-connection setup, NULL-terminated */
    int on_connect_returns_rows;    /**< SQLite PRAGMAs answer with a row */
    /** 1: one write transaction per process at a time (see jm_db_begin). */
    int serialize_writers;
    /** Driver-level setup on the native handle (apr_dbd_native_handle), or NULL. */
    int (*on_connect_native)(void *native);
    /** Start/end a write transaction on the native handle without waiting
     *  (JM_TXN_OK, JM_TXN_BUSY or JM_TXN_FAILED with the driver's message
     *  in err), or NULL to use apr_dbd's transactions. jm_db_begin waits
     *  between attempts, outside every apr_dbd lock. */
    int (*txn_native)(void *native, jm_txn_op_t op, char *err, apr_size_t errlen);
    /** jm_db_exec, jm_db_select, jm_db_select_bytes and jm_db_select_sql
     *  run their statements on the native handle with these, or NULL:
     *  through apr_dbd. apr-util's sqlite3 driver steps every statement of
     *  the process under one mutex: the threads of a process would run
     *  their SQL one at a time. A composed select past jm_db_select_sql's
     *  per-connection cache is prepared for its one call and finalized
     *  (apr_dbd's sqlite3 driver would keep it until the connection
     *  closes); without native, apr_dbd prepares it without a label, which
     *  pgsql runs unnamed and does not keep. */
    const jm_sql_native_t *native;
    /** 1: JM_SQL_BLOB_CHUNK_GET returns the bytes as hex text. apr-util
     *  1.6's pgsql driver asks for text results (PQexecPrepared with
     *  resultFormat 0), so a bytea comes back escaped; its statement says
     *  encode(data, 'hex') so the form does not depend on bytea_output.
     *  0: the driver hands over the stored bytes (apr_dbd_datum_get with
     *  APR_DBD_TYPE_BLOB: sqlite3_column_blob and its length). */
    int bytes_as_hex;
    /** 1: the text of JM_SQL_EMAIL_FTS_INSERT is passed through jm_sql_fold
     *  first (PostgreSQL); 0: the engine folds it itself (FTS5). */
    int fts_fold_in_c;
    /** 1: the full-text entry is a column of jm_emails, written by the
     *  email's INSERT (JM_SQL_EMAIL_INSERT_FTS) instead of a later
     *  JM_SQL_EMAIL_FTS_INSERT (PostgreSQL: an UPDATE of the new row would
     *  write a second version of it into the heap and, the tsvector being
     *  GIN-indexed, into every index of the table). */
    int fts_in_email_row;
    /** 1: selects fetch their whole result at once (apr_dbd "seek"). The
     *  pgsql driver's row-by-row mode sleeps 0.1 s on every empty result
     *  (dbd_pgsql_get_row, apr-util 1.6) and every select is drained into
     *  the pool anyway. */
    int buffered_selects;
    /** Make the last commit of this connection reach stable storage
     *  (a durable transaction, jm_db_begin_durable), or NULL: every commit
     *  is durable already. Called after COMMIT with the write lock given
     *  back, so the next writer commits while this one waits for the disk:
     *  the lock is held for the commit itself, not for the flush.
     *  0, or -1 with the driver's message in err. */
    int (*sync_native)(void *native, char *err, apr_size_t errlen);
    /** Run inside a relaxed write transaction (jm_db_set_relaxed) right
     *  after BEGIN, or NULL: the connection's setting is relaxed already. */
    const char *relaxed_in_txn;
    /** Email/query fragments this dialect says differently; NULL entries
     *  use jm_sql_qfrag_common. */
    const char *qfrag[JM_QF__COUNT];
    /** A text condition on one field: these parts with the search query
     *  (TEXT_TERMs) between each two, NULL-terminated. */
    const char *const *text_parts[JM_SQL_TEXT_FIELDS];
    /** FTS5: the column filter of each text field ("" for all); the search
     *  query is then one FTS5 string built in C and bound once. NULL
     *  (tsquery): one TEXT_TERM per phrase. */
    const char *const *fts5_columns;
    /** FTS5: the column filter of the account column, which every search
     *  query starts with ("{account} : " then the quoted account id). */
    const char *fts5_account;
} jm_sql_dialect_t;

/** Fragment id of dialect d. */
const char *jm_sql_qfrag(const jm_sql_dialect_t *d, jm_qfrag_id_t id);

/** The text of statement id in dialect d. */
const char *jm_sql_text(const jm_sql_dialect_t *d, jm_sql_id_t id);

extern const jm_sql_dialect_t jm_sql_sqlite3;
extern const jm_sql_dialect_t jm_sql_pgsql;

#endif
