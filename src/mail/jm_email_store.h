/* Storing a message as an Email: the one path every way of adding mail
 * takes (Email/set create, Email/import, Email/copy, delivery), so every
 * Email gets the same parsed columns, thread and counts. */
#ifndef JM_EMAIL_STORE_H
#define JM_EMAIL_STORE_H

#include "store/jm_store.h"

/** Fill row for the message bytes: a new id, the blob id, the size and
 *  the parsed columns (subject, addresses, dates, message ids for the
 *  thread, preview, text for search). mailbox_ids, keywords and
 *  received_at are the caller's. Outside any transaction (parsing). */
apr_status_t jm_email_prepare_row(jm_email_row_t *row, const char *bytes,
                                  apr_size_t len, apr_pool_t *p);

/** Inside the caller's transaction: store the bytes as a message blob and
 *  the Email (jm_store_email_insert: thread, counts, change log). */
apr_status_t jm_email_store_row(jm_db_t *db, const char *account_id,
                                jm_email_row_t *row, const char *bytes,
                                apr_size_t len, apr_pool_t *p);

/** Give emails stored before schema 3 their columns (parsing each stored
 *  message), in batches, each in a transaction of its own; *pdone says how
 *  many. Run once after a migration, before serving. */
apr_status_t jm_email_reindex_pending(int *pdone, jm_db_t *db, apr_pool_t *p);

#endif
