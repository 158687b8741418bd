/* The submission queue (EmailSubmission, RFC 8621 §7): a submission row
 * and one row per recipient, written in the caller's transaction before
 * EmailSubmission/set answers; claims with a lease for the background
 * worker (src/mail/jm_submit_worker.c), so that no transaction is held
 * while a message goes over SMTP and one submission is worked on by one
 * worker at a time, whichever process or node it runs in. */
#ifndef JM_STORE_QUEUE_H
#define JM_STORE_QUEUE_H

#include "store/jm_store.h"

/** One recipient: delivered is "queued", "yes", "no" or "unknown". */
typedef struct {
    int seq;
    const char *address;
    const char *delivered, *smtp_reply, *displayed;
    const char *blob_id;             /**< its own copy (a Bcc recipient of an
                                      *   encrypted Email), "": the message */
} jm_sub_rcpt_t;

/** A submission as EmailSubmission/get shows it (times in seconds). */
typedef struct {
    const char *id, *identity_id, *email_id, *thread_id;
    const char *envelope;            /**< JSON text of the Envelope */
    apr_int64_t send_at;
    const char *undo_status;         /**< pending | final | canceled */
    apr_array_header_t *rcpts;       /**< jm_sub_rcpt_t */
    const char *dsn_blob_ids, *mdn_blob_ids;  /**< JSON arrays of blob ids */
    /* for the insert only */
    const char *blob_id, *message_id, *mail_from;
    apr_int64_t created, give_up_at;
} jm_sub_row_t;

/** Inside the caller's transaction: store s and its recipients (all
 *  "queued"), due at s->send_at, and log the EmailSubmission change. */
apr_status_t jm_store_submission_insert(jm_db_t *db, const char *account_id,
                                        const jm_sub_row_t *s, apr_pool_t *p);

/** Every submission of the account the client has not destroyed
 *  (jm_sub_row_t *, with recipients), oldest first. */
apr_status_t jm_store_submissions(apr_array_header_t **prows, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p);

/** One of them; APR_NOTFOUND if there is none. */
apr_status_t jm_store_submission_get(jm_sub_row_t **ps, jm_db_t *db,
                                     const char *account_id, const char *id,
                                     apr_pool_t *p);

/** Inside the caller's transaction: cancel a pending submission that no
 *  worker holds (its queued recipients become "no" with reply); APR_EBUSY
 *  when it cannot be canceled (being sent, or sent). */
apr_status_t jm_store_submission_cancel(jm_db_t *db, const char *account_id,
                                        const char *id, const char *reply,
                                        apr_pool_t *p);

/** Inside the caller's transaction: hide a submission from the client
 *  (RFC 8621 §7.5: its deliveries go on); APR_NOTFOUND if there is none. */
apr_status_t jm_store_submission_destroy(jm_db_t *db, const char *account_id,
                                         const char *id, apr_pool_t *p);

/** A claimed submission, as the worker needs it. */
typedef struct {
    const char *account_id, *id;
    const char *blob_id, *message_id, *mail_from;
    const char *undo_status, *relay_reply;
    apr_int64_t give_up_at, tries;
    int destroyed;                   /**< hidden from the client (no change
                                      *   is logged for it then) */
    apr_array_header_t *rcpts;       /**< jm_sub_rcpt_t: the worker sets
                                      *   delivered and smtp_reply */
} jm_queue_item_t;

/**
 * In a transaction of its own: claim up to limit due submissions (waiting
 * ones whose time has come, and ones whose lease ran out: a worker that
 * stopped in the middle) for owner until now + lease seconds; the claim
 * commits before anything is sent, and is the mark that an attempt is
 * under way. *pclaimed: jm_queue_item_t *.
 */
apr_status_t jm_store_queue_claim(apr_array_header_t **pclaimed, jm_db_t *db,
                                  const char *owner, apr_int64_t now,
                                  apr_int64_t lease, int limit, apr_pool_t *p);

/**
 * In a transaction of its own: record the recipients of it (delivered,
 * smtp_reply), then queue ("wait" again at next_try, or "done"),
 * undo_status and relay_reply, and log the EmailSubmission change; only
 * while owner still holds the lease (APR_EBUSY otherwise, nothing
 * written).
 */
apr_status_t jm_store_queue_finish(jm_db_t *db, const jm_queue_item_t *it,
                                   const char *owner, const char *queue,
                                   apr_int64_t next_try, apr_pool_t *p);

/** Inside the caller's transaction: record blob_id as address's own copy
 *  of email_id (address lower-case). */
apr_status_t jm_store_bcc_copy_insert(jm_db_t *db, const char *account_id,
                                      const char *email_id, const char *address,
                                      const char *blob_id, apr_pool_t *p);

/** The copies of email_id: lower-case address -> blob id. */
apr_status_t jm_store_bcc_copies(apr_hash_t **pcopies, jm_db_t *db,
                                 const char *account_id, const char *email_id,
                                 apr_pool_t *p);

/** Inside the caller's transaction: blob_id (a delivery status
 *  notification when mdn is 0, a disposition notification when 1, just
 *  stored in the account) is a report about the account's submissions
 *  whose id is ref_id or whose Message-ID is message_id (either may be
 *  NULL); added to their dsnBlobIds / mdnBlobIds once, each change
 *  logged; displayed (an MDN's final recipient whose disposition is
 *  "displayed", or NULL): that recipient's displayed becomes "yes"
 *  (RFC 8621 §7). *pn: how many submissions it named. */
apr_status_t jm_store_submission_add_report(int *pn, jm_db_t *db, const char *account_id,
                                            const char *ref_id, const char *message_id,
                                            int mdn, const char *displayed,
                                            const char *blob_id, apr_pool_t *p);

/* ---- vacation replies (jm_vacation_outbox) --------------------------------
 * Built at delivery (mail/jm_vacation_deliver.c) and sent by the same
 * worker as submissions (mail/jm_submit_autoreply.c), claimed the same way. */

/** One reply waiting (times in seconds). */
typedef struct {
    apr_int64_t id;
    const char *account_id, *mail_from, *rcpt, *message, *last_reply;
    apr_int64_t tries, created;
} jm_autoreply_row_t;

/** In a transaction of its own: claim up to limit due replies for owner
 *  until now + lease (PostgreSQL: rows other nodes hold are passed over).
 *  *pclaimed: jm_autoreply_row_t *. */
apr_status_t jm_store_autoreply_claim(apr_array_header_t **pclaimed, jm_db_t *db,
                                      const char *owner, apr_int64_t now,
                                      apr_int64_t lease, int limit, apr_pool_t *p);

/** The reply is finished (sent, refused for good or given up): deleted,
 *  while owner holds it (APR_EBUSY: the lease was lost). */
apr_status_t jm_store_autoreply_done(jm_db_t *db, const jm_autoreply_row_t *a,
                                     const char *owner, apr_pool_t *p);

/** Try again at next_try; reply: the relay's last answer. APR_EBUSY as
 *  jm_store_autoreply_done. */
apr_status_t jm_store_autoreply_retry(jm_db_t *db, const jm_autoreply_row_t *a,
                                      const char *owner, apr_int64_t next_try,
                                      const char *reply, apr_pool_t *p);

#endif
