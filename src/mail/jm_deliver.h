/* Mail delivery into the store (LMTP, RFC 2033): recipient address ->
 * user name -> account, and the message stored whole into each account's
 * Inbox (the mailbox with role "inbox") through jm_email_store_row, one
 * durable transaction per recipient. The answers are LMTP replies
 * (jm_lmtp_reply_t): what the MTA does with its copy depends on them. */
#ifndef JM_DELIVER_H
#define JM_DELIVER_H

#include <apr_tables.h>
#include "store/jm_db.h"
#include "lmtp/jm_lmtp.h"

typedef enum {
    JM_DELIVER_LOCALPART,       /**< "alice@example.com" -> "alice" */
    JM_DELIVER_ADDRESS          /**< -> "alice@example.com" */
} jm_deliver_user_t;

typedef struct {
    jm_deliver_user_t user_from;      /**< JMAPLMTPRecipientUser */
    const apr_array_header_t *domains;/**< const char*, lower-case
                                       *   (JMAPLMTPDomains); NULL or
                                       *   empty: every domain */
    int create_accounts;              /**< JMAPLMTPAccounts create */
    apr_int64_t vacation_period;      /**< JMAPVacationPeriod: seconds between
                                       *   vacation replies to one sender */
    int no_relay;                     /**< no JMAPSubmissionURL: no vacation
                                       *   reply is made (none could leave) */
} jm_deliver_conf_t;

/** The user name an address maps to: the rule's part, lower-cased (user
 *  names are matched in lower case); NULL with *r set (550 5.1.2 for a
 *  domain not accepted, 550 5.1.3 for a name JMAP cannot carry). */
const char *jm_deliver_username(const jm_deliver_conf_t *c, const char *address,
                                jm_lmtp_reply_t *r, apr_pool_t *p);

/** RCPT: the account of address in *paccount_id with *r 250 2.1.5, or
 *  NULL with *r 550 5.1.1 (no such account and accounts are not created),
 *  the refusal of jm_deliver_username, or 451 4.3.0 (the store failed:
 *  the MTA tries again later). */
void jm_deliver_rcpt(const char **paccount_id, jm_lmtp_reply_t *r,
                     const jm_deliver_conf_t *c, jm_db_t *db,
                     const char *address, apr_pool_t *p);

/** End of DATA: store msg into the Inbox of each of the n accounts, each
 *  in its own durable transaction (stored whole or not at all), replies[i]
 *  250 2.0.0 only once account i's commit returned; 451 4.3.0 when the
 *  store failed, 450 4.2.1 when the account has no Inbox. Bytes that are
 *  already an Email of the account (an MTA retrying after a lost 250) are
 *  not stored again, and answered 250. With addresses (the envelope
 *  recipients, addresses[i] that of account i; NULL: no vacation replies)
 *  and from (the envelope sender, "" for the null reverse path), each
 *  account's vacation response is decided in the same transaction
 *  (jm_vacation_deliver, c->vacation_period; c may be NULL: the default). */
void jm_deliver_message(jm_db_t *db, const jm_deliver_conf_t *c, const char *from,
                        int n, const char *const *addresses,
                        const char *const *account_ids, const char *msg,
                        apr_size_t len, jm_lmtp_reply_t *replies, apr_pool_t *p);

#endif
