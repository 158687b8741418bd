/* Domain-level storage: accounts, state, mailboxes, blobs, emails.
 * Every multi-statement change runs in one transaction. */
#ifndef JM_STORE_H
#define JM_STORE_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include "store/jm_db.h"

/** Data types whose state strings are tracked (RFC 8620 §1.6.3 / §5.2). */
#define JM_TYPE_MAILBOX   "Mailbox"
#define JM_TYPE_EMAIL     "Email"
#define JM_TYPE_THREAD    "Thread"
#define JM_TYPE_IDENTITY  "Identity"
#define JM_TYPE_SUBMISSION "EmailSubmission"
#define JM_TYPE_VACATION  "VacationResponse"
/** A state without a data type (RFC 8621 §1.5): it moves when mail is
 *  delivered into the account (LMTP), for push only. */
#define JM_TYPE_EMAIL_DELIVERY "EmailDelivery"

/** The account of username, created with its standard mailboxes on first
 *  use (RFC 8621 §2: roles inbox, drafts, sent, trash, junk, archive). */
apr_status_t jm_store_account_ensure(const char **paccount_id, int *pcreated,
                                     jm_db_t *db, const char *username,
                                     apr_pool_t *p);

/** The account of username if it exists (*paccount_id NULL if not);
 *  creates nothing (delivery: JMAPLMTPAccounts existing). */
apr_status_t jm_store_account_find(const char **paccount_id, jm_db_t *db,
                                   const char *username, apr_pool_t *p);

/** Current state string of one data type. */
apr_status_t jm_store_state(const char **pstate, jm_db_t *db,
                            const char *account_id, const char *type,
                            apr_pool_t *p);

/** Inside a transaction: advance type's state without logging a change
 *  (EmailDelivery: there is no /changes for it); the state row is made
 *  first if the account has none (accounts older than the type). */
apr_status_t jm_store_state_bump(jm_db_t *db, const char *account_id,
                                 const char *type, apr_pool_t *p);

/** One state row of jm_store_states_of. */
typedef struct {
    const char *account_id;
    const char *type;
    apr_int64_t state;
} jm_state_row_t;

/** Accounts jm_store_states_of asks for in one statement. */
#define JM_STORE_STATES_BATCH 64

/**
 * The current states of every type of the accounts (const char*), as
 * jm_state_row_t in *prows: one statement for up to JM_STORE_STATES_BATCH
 * accounts (the push watcher's read, once per tick). The statement's
 * shape is the list length rounded up to a power of two (the last id
 * repeated), so a connection keeps few prepared shapes.
 */
apr_status_t jm_store_states_of(apr_array_header_t **prows, jm_db_t *db,
                                const apr_array_header_t *accounts,
                                apr_pool_t *p);

/** Inside a transaction: advance type's state, log the change of object_id
 *  (kind "created"|"updated"|"destroyed"), return the new state. */
apr_status_t jm_store_change(const char **pnew_state, jm_db_t *db,
                             const char *account_id, const char *type,
                             const char *object_id, const char *kind,
                             apr_pool_t *p);

/** jm_store_change with the properties the change touched (props: "" for
 *  unknown/all, "counts" when only a mailbox's counts moved). */
apr_status_t jm_store_change_props(const char **pnew_state, jm_db_t *db,
                                   const char *account_id, const char *type,
                                   const char *object_id, const char *kind,
                                   const char *props, apr_pool_t *p);

/** How many states of changes a type keeps (older ones are pruned and
 *  /changes from before them answers cannotCalculateChanges). */
#define JM_STORE_CHANGES_KEPT 10000

/** A logged change (RFC 8620 §5.2). */
typedef enum {
    JM_CHANGE_CREATED = 1, JM_CHANGE_UPDATED = 2, JM_CHANGE_DESTROYED = 3
} jm_change_kind_t;

typedef struct {
    const char *id;
    jm_change_kind_t kind;
    apr_int64_t state;
    const char *props;          /**< "" or "counts" */
} jm_change_t;

/**
 * The changes of type after state since, in state order, at most limit
 * (jm_change_t; *pmore when there are more), with the current state and
 * the oldest state changes can be computed from (since below it:
 * cannotCalculateChanges).
 */
apr_status_t jm_store_changes_since(apr_array_header_t **pchanges, int *pmore,
                                    apr_int64_t *pcurrent, apr_int64_t *poldest,
                                    jm_db_t *db, const char *account_id,
                                    const char *type, apr_int64_t since,
                                    apr_int64_t limit, apr_pool_t *p);

/** Inside a transaction: forget the changes of type at or below state upto. */
apr_status_t jm_store_changes_prune(jm_db_t *db, const char *account_id,
                                    const char *type, apr_int64_t upto,
                                    apr_pool_t *p);

typedef struct {
    const char *id, *name, *parent_id, *role;
    long sort_order;
    int is_subscribed;
    long total_emails, unread_emails, total_threads, unread_threads;
} jm_mailbox_row_t;

/** All mailboxes of an account with their counts (jm_mailbox_row_t*); the
 *  counts are kept incrementally (jm_store_email_insert), not counted. */
apr_status_t jm_store_mailboxes(apr_array_header_t **pboxes, jm_db_t *db,
                                const char *account_id, apr_pool_t *p);

/** Inside a transaction: store a new mailbox (m->id set by the caller) or
 *  new values of an existing one (APR_NOTFOUND if it does not exist), and
 *  log the Mailbox change. Validation is the caller's (RFC 8621 §2.5); the
 *  unique index on (account, parent, name) refuses duplicate siblings even
 *  between nodes: APR_EEXIST then. */
apr_status_t jm_store_mailbox_insert(jm_db_t *db, const char *account_id,
                                     const jm_mailbox_row_t *m, apr_pool_t *p);
apr_status_t jm_store_mailbox_update(jm_db_t *db, const char *account_id,
                                     const jm_mailbox_row_t *m, apr_pool_t *p);

/** Inside a transaction: destroy a mailbox. APR_EEXIST (mailboxHasChild) when
 *  it has children; APR_EBUSY (mailboxHasEmail) when it holds emails and
 *  remove_emails is 0; with remove_emails, its emails leave it and those in
 *  no other mailbox are destroyed (RFC 8621 §2.5 onDestroyRemoveEmails). */
apr_status_t jm_store_mailbox_destroy(jm_db_t *db, const char *account_id,
                                      const char *id, int remove_emails,
                                      apr_pool_t *p);

/** Just the mailbox ids of an account (const char*): cheap, no counts. */
apr_status_t jm_store_mailbox_ids(apr_array_header_t **pids, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p);

/** Store blob bytes under id in an account (ids are content-addressed:
 *  same id, same bytes; a blob the account has is left as it is). The
 *  bytes are stored once whatever the account (keyed by their SHA-256), in
 *  binary rows of JM_SQL_CHUNK_BYTES; the account gets a reference. In the
 *  caller's transaction if one is open, else in one of its own
 *  (APR_TIMEUP: the store is busy, see jm_db_begin). */
apr_status_t jm_store_blob_put(jm_db_t *db, const char *account_id,
                               const char *blob_id, const char *type,
                               const void *data, apr_size_t len, apr_pool_t *p);

/** Give to_account the blob blob_id of from_account (Blob/copy of a whole
 *  blob): a reference to the same content, same id and type, no bytes
 *  read or written. APR_SUCCESS also when to_account has it already;
 *  APR_NOTFOUND if from_account has no such blob. */
apr_status_t jm_store_blob_link(jm_db_t *db, const char *to_account,
                                const char *from_account, const char *blob_id,
                                apr_pool_t *p);

/** Size and media type of a stored blob; APR_NOTFOUND if the account has
 *  no such blob. */
apr_status_t jm_store_blob_info(apr_int64_t *psize, const char **ptype,
                                jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_pool_t *p);

/** Receives a blob's bytes in order, one stored row at a time; data lives
 *  until it returns. Anything but APR_SUCCESS stops the read and is
 *  returned by jm_store_blob_read. */
typedef apr_status_t jm_store_chunk_fn(void *baton, const unsigned char *data,
                                       apr_size_t len);

/**
 * Read the size bytes of a blob (size from jm_store_blob_info) chunk by
 * chunk: one row per select, so memory stays at about one row whatever the
 * blob's size, and no database lock or snapshot is held while fn runs.
 * APR_EGENERAL (logged) when the rows do not add up to size (damaged).
 */
apr_status_t jm_store_blob_read(jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_int64_t size,
                                jm_store_chunk_fn *fn, void *baton,
                                apr_pool_t *p);

/** All bytes of a blob in one buffer (MIME parsing needs whole messages);
 *  APR_NOTFOUND if the account has no such blob. */
apr_status_t jm_store_blob_get(const unsigned char **pdata, apr_size_t *plen,
                               const char **ptype, jm_db_t *db,
                               const char *account_id, const char *blob_id,
                               apr_pool_t *p);

/** A header field of an email for the "header" filter. */
typedef struct {
    const char *name;              /**< lower-case */
    const char *value;             /**< as the filter compares it (folded) */
} jm_store_header_t;

/** The parsed columns of an email (for query, sort, threads, search). */
typedef struct {
    const char *subject, *sort_subject, *thread_subject;
    const char *from_sort, *to_sort; /**< i;unicode-casemap keys (folded) */
    const char *from_key, *to_key; /**< the same as written; NULL: "" */
    const char *from_text, *to_text, *cc_text, *bcc_text;
    const char *preview;
    const char *body_text;         /**< for the full-text index */
    apr_int64_t sent_at;           /**< seconds; -1: no usable Date */
    int has_attachment;
    apr_array_header_t *own_ids;   /**< const char*: Message-ID(s) */
    apr_array_header_t *ref_ids;   /**< const char*: In-Reply-To + References */
    const apr_array_header_t *headers; /**< jm_store_header_t, or NULL */
    const char *view;              /**< the default Email/get view of the
                                    *   message as JSON text (see
                                    *   jm_email_store.c), or NULL */
} jm_email_cols_t;

typedef struct {
    const char *id, *blob_id, *thread_id;
    apr_int64_t size;
    apr_time_t received_at;
    const char *keywords;          /**< JSON object text, keys lower-case */
    apr_array_header_t *mailbox_ids; /**< const char* */
    const jm_email_cols_t *cols;   /**< NULL: empty columns */
    const char *view;              /**< jm_store_email_get: the stored view,
                                    *   "" when there is none */
} jm_email_row_t;

/**
 * Inside the caller's transaction: store an email row, its mailbox
 * memberships (with the mailboxes' counts), keywords and full-text entry;
 * pick its thread when thread_id is NULL (by the ids it shares with stored
 * mail, merging threads it joins: RFC 8621 §3) and log the changes of
 * Email, Thread and Mailbox. e->thread_id is set on return.
 */
apr_status_t jm_store_email_insert(jm_db_t *db, const char *account_id,
                                   jm_email_row_t *e, apr_pool_t *p);

/**
 * Inside the caller's transaction: give a stored email new keywords (JSON
 * object text, keys lower-case; NULL: unchanged) and/or new mailboxes
 * (const char*; NULL: unchanged), keeping counts exact and logging the
 * Email (and Mailbox count) changes. APR_NOTFOUND if there is no such email.
 */
apr_status_t jm_store_email_update(jm_db_t *db, const char *account_id,
                                   const char *id, const char *keywords,
                                   apr_array_header_t *mailbox_ids, apr_pool_t *p);

/** jm_store_email_update of a row the caller read with jm_store_email_get
 *  in the same transaction (Email/set reads each email once). */
apr_status_t jm_store_email_update_row(jm_db_t *db, const char *account_id,
                                       const jm_email_row_t *e, const char *keywords,
                                       apr_array_header_t *mailbox_ids, apr_pool_t *p);

/** Inside the caller's transaction: remove an email (memberships, counts,
 *  keywords, full-text entry; its thread loses it or is destroyed with its
 *  last email) and log the changes. The message blob stays (a blob id may
 *  be used elsewhere). APR_NOTFOUND if there is no such email. */
apr_status_t jm_store_email_destroy(jm_db_t *db, const char *account_id,
                                    const char *id, apr_pool_t *p);

/** Inside a transaction: add (delta 1) or remove (-1) an email of thread
 *  from a mailbox, or change its unread status there (emails 0, unread
 *  +-1), keeping the four counts of RFC 8621 §2 exact. */
apr_status_t jm_store_mailbox_count(jm_db_t *db, const char *account_id,
                                    const char *mailbox_id, const char *thread_id,
                                    int d_emails, int d_unread, apr_pool_t *p);

/** An email stored before its columns existed (schema 2 and older). */
typedef struct {
    const char *account_id, *id, *blob_id, *thread_id;
} jm_store_unindexed_t;

/** Up to limit such emails (jm_store_unindexed_t). */
apr_status_t jm_store_emails_unindexed(apr_array_header_t **prows, jm_db_t *db,
                                       apr_int64_t limit, apr_pool_t *p);

/** Inside a transaction: give such an email its columns, full-text entry
 *  and thread references (its thread stays). */
apr_status_t jm_store_email_set_cols(jm_db_t *db, const jm_store_unindexed_t *e,
                                     const jm_email_cols_t *c, apr_pool_t *p);

/** The ids of a thread's emails, oldest first (none: no such thread). */
apr_status_t jm_store_thread_emails(apr_array_header_t **pids, jm_db_t *db,
                                    const char *account_id, const char *thread_id,
                                    apr_pool_t *p);

/** APR_NOTFOUND if absent. */
apr_status_t jm_store_email_get(jm_email_row_t **pe, jm_db_t *db,
                                const char *account_id, const char *id,
                                apr_pool_t *p);

/** Emails jm_store_emails_get reads with one pair of statements. */
#define JM_STORE_EMAIL_BATCH 64

/** The emails of ids[0..n) that exist (n at most JM_STORE_EMAIL_BATCH), as
 *  jm_store_email_get gives them, into *prows (jm_email_row_t*) in no
 *  particular order: two statements (the rows, their mailboxes) whatever
 *  n, their shape n rounded up to a power of two (the last id repeated). */
apr_status_t jm_store_emails_get(apr_array_header_t **prows, jm_db_t *db,
                                 const char *account_id,
                                 const char *const *ids, int n, apr_pool_t *p);

/** The id of an email of the account whose message is blob_id (the same
 *  bytes), or NULL when there is none. */
apr_status_t jm_store_email_by_blob(const char **pid, jm_db_t *db,
                                    const char *account_id, const char *blob_id,
                                    apr_pool_t *p);

/** Up to limit email ids, newest first. */
apr_status_t jm_store_email_ids(apr_array_header_t **pids, jm_db_t *db,
                                const char *account_id, long limit,
                                apr_pool_t *p);

/* ---- identities and the vacation response (store/jm_store_identity.c) -- */

/** The state of type, its row made first if the account has none (a type
 *  added after the account was created). */
apr_status_t jm_store_state_ensure(const char **pstate, jm_db_t *db,
                                   const char *account_id, const char *type,
                                   apr_pool_t *p);

/** One stored Identity (RFC 8621 §6). */
typedef struct {
    const char *id;
    const char *email;          /**< as stored (lower-cased domain) */
    int is_default;             /**< kept by the server for an allowed address */
    const char *data;           /**< JSON text: name, replyTo, bcc,
                                 *   textSignature, htmlSignature */
} jm_identity_row_t;

/** All identities of an account (jm_identity_row_t *), oldest first. */
apr_status_t jm_store_identities(apr_array_header_t **prows, jm_db_t *db,
                                 const char *account_id, apr_pool_t *p);

/** Inside a transaction: store a new identity and log it; APR_EEXIST when
 *  the id exists already (a default made meanwhile by another request). */
apr_status_t jm_store_identity_insert(jm_db_t *db, const char *account_id,
                                      const jm_identity_row_t *row, apr_pool_t *p);

/** Inside a transaction: new data of an identity, logged; APR_NOTFOUND. */
apr_status_t jm_store_identity_update(jm_db_t *db, const char *account_id,
                                      const char *id, const char *data,
                                      apr_pool_t *p);

/** Inside a transaction: remove an identity, logged; APR_NOTFOUND. */
apr_status_t jm_store_identity_destroy(jm_db_t *db, const char *account_id,
                                       const char *id, apr_pool_t *p);

/** The account's VacationResponse as JSON text, *pdata NULL if never set. */
apr_status_t jm_store_vacation_get(const char **pdata, jm_db_t *db,
                                   const char *account_id, apr_pool_t *p);

/** Inside a transaction: store it and log the change of "singleton". */
apr_status_t jm_store_vacation_put(jm_db_t *db, const char *account_id,
                                   const char *data, apr_pool_t *p);

/** When sender last got a vacation reply from the account (seconds since
 *  the epoch), 0 if never (or longer ago than what was pruned). */
apr_status_t jm_store_vacation_replied(apr_int64_t *plast, jm_db_t *db,
                                       const char *account_id, const char *sender,
                                       apr_pool_t *p);

/** Inside the delivery's transaction: sender got a reply at now; entries
 *  older than forget_before are dropped. */
apr_status_t jm_store_vacation_mark(jm_db_t *db, const char *account_id,
                                    const char *sender, apr_int64_t now,
                                    apr_int64_t forget_before, apr_pool_t *p);

/** Inside a transaction: queue a built reply (mail_from "" is the null
 *  reverse path) in jm_vacation_outbox. */
apr_status_t jm_store_vacation_outbox_add(jm_db_t *db, const char *account_id,
                                          const char *mail_from, const char *rcpt,
                                          const char *msg, apr_int64_t now,
                                          apr_pool_t *p);

#endif
