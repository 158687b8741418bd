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

/** The account of username, created with its standard mailboxes on first
 *  use (RFC 8621 §2: roles inbox, drafts, sent, trash, junk, archive). */
apr_status_t jm_store_account_ensure(const char **paccount_id, int *pcreated,
                                     jm_db_t *db, const char *username,
                                     apr_pool_t *p);

/** Current state string of one data type. */
apr_status_t jm_store_state(const char **pstate, jm_db_t *db,
                            const char *account_id, const char *type,
                            apr_pool_t *p);

/** Inside a transaction: advance type's state, log the change of object_id
 *  (kind "created"|"updated"|"destroyed"), return the new state. */
apr_status_t jm_store_change(const char **pnew_state, jm_db_t *db,
                             const char *account_id, const char *type,
                             const char *object_id, const char *kind,
                             apr_pool_t *p);

typedef struct {
    const char *id, *name, *parent_id, *role;
    long sort_order;
    long total_emails, unread_emails, total_threads, unread_threads;
} jm_mailbox_row_t;

/** All mailboxes of an account with their counts (jm_mailbox_row_t*). */
apr_status_t jm_store_mailboxes(apr_array_header_t **pboxes, jm_db_t *db,
                                const char *account_id, apr_pool_t *p);

/** Just the mailbox ids of an account (const char*): cheap, no counts. */
apr_status_t jm_store_mailbox_ids(apr_array_header_t **pids, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p);

/** Store blob bytes under id (content-addressed: same id, same bytes; a
 *  blob already stored is left as it is). The bytes go into rows of
 *  JM_SQL_CHUNK_BYTES; in the caller's transaction if one is open, else in
 *  one of its own (APR_TIMEUP: the store is busy, see jm_db_begin). */
apr_status_t jm_store_blob_put(jm_db_t *db, const char *account_id,
                               const char *blob_id, const char *type,
                               const void *data, apr_size_t len, apr_pool_t *p);

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

typedef struct {
    const char *id, *blob_id, *thread_id;
    apr_int64_t size;
    apr_time_t received_at;
    const char *keywords;          /**< JSON object text */
    apr_array_header_t *mailbox_ids; /**< const char* */
} jm_email_row_t;

/** Insert an email row and its mailbox memberships (caller's transaction). */
apr_status_t jm_store_email_insert(jm_db_t *db, const char *account_id,
                                   const jm_email_row_t *e, apr_pool_t *p);

/** APR_NOTFOUND if absent. */
apr_status_t jm_store_email_get(jm_email_row_t **pe, jm_db_t *db,
                                const char *account_id, const char *id,
                                apr_pool_t *p);

/** Up to limit email ids, newest first. */
apr_status_t jm_store_email_ids(apr_array_header_t **pids, jm_db_t *db,
                                const char *account_id, long limit,
                                apr_pool_t *p);

#endif
