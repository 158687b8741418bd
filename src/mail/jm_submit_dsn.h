/* The worker's bounce (jm_submit_dsn.c). */
#ifndef JM_SUBMIT_DSN_H
#define JM_SUBMIT_DSN_H

#include "store/jm_store_queue.h"

/** An RFC 3464 report for the failed recipients (const jm_sub_rcpt_t *). */
const char *jm_submit_dsn(apr_size_t *plen, const jm_queue_item_t *it,
                          const apr_array_header_t *failed, apr_pool_t *p);

/** Store that report into the Inbox of it's account (nothing when none
 *  failed); a failure is logged, never retried. */
void jm_submit_bounce(jm_db_t *db, const jm_queue_item_t *it,
                      const apr_array_header_t *failed, apr_pool_t *p);

#endif
