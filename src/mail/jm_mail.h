/* What the mail types (RFC 8621) share: limits advertised in the mail
 * capability, the methods, and reading the change log for /changes. */
#ifndef JM_MAIL_H
#define JM_MAIL_H

#include "core/jm_request.h"
#include "std/jm_std_changes.h"

/** maxMailboxDepth and maxSizeMailboxName (octets) of RFC 8621 §1.3.1. */
#define JM_MAILBOX_MAX_DEPTH 10
#define JM_MAILBOX_MAX_NAME  255
/* The number of Mailboxes of one account is a limit:
 * JMAPMaxMailboxesPerAccount (jm_limits_t.max_mailboxes). */

/** How many change records one /changes or /queryChanges reads at most:
 *  the work is bounded whatever the client asks (beyond it: hasMoreChanges,
 *  or cannotCalculateChanges for /queryChanges). */
#define JM_MAIL_CHANGES_READ_MAX 5000

/** A jm_changes_fetch_fn body over the store's change log of type. */
apr_status_t jm_mail_changes_fetch(jm_changes_t *ch, const char *type,
                                   apr_int64_t since, apr_size_t hint,
                                   apr_array_header_t **precords,
                                   int *ptruncated, apr_int64_t *poldest,
                                   apr_int64_t *pcurrent);

/** The same over the change log of another account (Identity: the
 *  person's own account, whichever account the call names). */
apr_status_t jm_mail_changes_fetch_in(jm_changes_t *ch, const char *account_id,
                                      const char *type, apr_int64_t since,
                                      apr_size_t hint, apr_array_header_t **precords,
                                      int *ptruncated, apr_int64_t *poldest,
                                      apr_int64_t *pcurrent);

apr_status_t jm_mailbox_get(jm_call_t *call);
apr_status_t jm_mailbox_set(jm_call_t *call);
apr_status_t jm_mailbox_changes(jm_call_t *call);
apr_status_t jm_mailbox_query(jm_call_t *call);
apr_status_t jm_mailbox_querychanges(jm_call_t *call);
apr_status_t jm_email_changes(jm_call_t *call);
apr_status_t jm_email_querychanges(jm_call_t *call);
apr_status_t jm_thread_get(jm_call_t *call);
apr_status_t jm_thread_changes(jm_call_t *call);

#endif
