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
    JM_SQL_BLOB_INSERT,         /* account, id, size, type, created (nrows 0: exists) */
    JM_SQL_BLOB_INFO,           /* account, id -> size, type */
    JM_SQL_BLOB_CHUNK_INSERT,   /* account, blob, seq, data(base64 of <= JM_SQL_CHUNK_BYTES) */
    JM_SQL_BLOB_CHUNK_GET,      /* account, blob, seq -> data(base64) */
    JM_SQL_EMAIL_INSERT,        /* account, id, blob, thread, size, received, keywords,
                                 * seen, unread, subject, sort subject, thread subject,
                                 * from sort, to sort, from text, to text, cc text,
                                 * bcc text, sent at (-1: no Date), has attachment,
                                 * preview */
    JM_SQL_EMAIL_MAILBOX_INSERT,/* account, email, mailbox, received */
    JM_SQL_EMAIL_KEYWORD_INSERT,/* account, email, keyword */
    JM_SQL_EMAIL_FTS_INSERT,    /* subject, from, to, cc, bcc, body, account, email */
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
                                 * attachment, preview, account, id */
    JM_SQL_EMAIL_GET,           /* account, id -> id, blob, thread, size, received, keywords */
    JM_SQL_EMAIL_MAILBOXES,     /* account, email -> mailbox */
    JM_SQL_EMAIL_IDS,           /* account, limit -> id */
    JM_SQL_EMAIL_BY_BLOB,       /* account, blob -> id (at most one) */
    JM_SQL__COUNT
} jm_sql_id_t;

/** Blob bytes are stored in rows of at most this many bytes, base64-encoded
 *  (apr_dbd's text interface is the one both drivers bind reliably): 3 *
 *  65536 bytes are exactly JM_SQL_CHUNK_CHARS characters, so the schema 2
 *  migration can cut a version 1 blob's base64 text into the same rows
 *  with substr(). Readers never assume the size: they read rows by seq
 *  until the blob's stored size is reached. */
#define JM_SQL_CHUNK_BYTES 196608
#define JM_SQL_CHUNK_CHARS 262144

/** Native transaction control (jm_sql_dialect_t.txn_native). */
typedef enum { JM_TXN_BEGIN, JM_TXN_COMMIT, JM_TXN_ROLLBACK } jm_txn_op_t;
#define JM_TXN_OK     0
#define JM_TXN_BUSY   1     /**< locked by another connection: try again later */
#define JM_TXN_FAILED (-1)

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
} jm_sql_dialect_t;

/** The text of statement id in dialect d. */
const char *jm_sql_text(const jm_sql_dialect_t *d, jm_sql_id_t id);

extern const jm_sql_dialect_t jm_sql_sqlite3;
extern const jm_sql_dialect_t jm_sql_pgsql;

#endif
