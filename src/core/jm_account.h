/* The accounts a request may use: the authenticated user's own, and the
 * accounts other users share with it (RFC 8620 §1.6.2, JMAPShareAccount). */
#ifndef JM_ACCOUNT_H
#define JM_ACCOUNT_H

#include <apr_tables.h>
#include "store/jm_db.h"

typedef struct {
    const char *id;               /**< JMAP accountId */
    const char *username;         /**< the owner: r->user for the own account */
    apr_array_header_t *send_as;  /**< const char*: lower-cased addresses (and
                                   *   "*@domain" wildcards) the person may
                                   *   send and sign as (mail/jm_sendauth.h) */
    int send_as_known;            /**< 0 until send_as has been resolved */
    int read_only;                /**< JMAPReadOnlyUsers, or a read-only share:
                                   *   no method may change it */
    int shared;                   /**< 1: another user's account (isPersonal
                                   *   false in the session) */
} jm_account_t;

/** One share from configuration: user may use owner's account. */
typedef struct {
    const char *owner;
    const char *user;
    int read_only;                /**< "USER:ro" */
} jm_share_rule_t;

/**
 * The accounts shared with user by rules (jm_share_rule_t), in rule order,
 * as jm_account_t* in *pshared (an empty array when there are none). Each
 * owner's account is looked up in the store and created on first use, as
 * the owner's own first request would; an owner listed in ro_users
 * (const char*, JMAPReadOnlyUsers, may be NULL) is read-only for everyone.
 */
apr_status_t jm_account_load_shared(apr_array_header_t **pshared, jm_db_t *db,
                                    const char *user,
                                    const apr_array_header_t *rules,
                                    const apr_array_header_t *ro_users,
                                    apr_pool_t *p);

#endif
