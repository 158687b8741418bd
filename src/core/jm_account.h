/* The authenticated user's account and what it may do. */
#ifndef JM_ACCOUNT_H
#define JM_ACCOUNT_H

#include <apr_tables.h>

typedef struct {
    const char *id;               /**< JMAP accountId */
    const char *username;         /**< r->user */
    apr_array_header_t *send_as;  /**< const char*: lower-cased addresses the
                                   *   account may send and sign as */
    int send_as_known;            /**< 0 until send_as has been resolved */
    int read_only;                /**< JMAPReadOnlyUsers: no method may change it */
} jm_account_t;

#endif
