/* Identities (RFC 8621 §6): what other code needs of them. */
#ifndef JM_IDENTITY_H
#define JM_IDENTITY_H

#include "core/jm_request.h"

/** The stable id of the default identity of addr (lower-cased): "I" and
 *  the first 20 hex digits of its SHA-256. */
const char *jm_identity_default_id(const char *addr, apr_pool_t *p);

/** Make the person's default identities match the addresses granted now
 *  (mail/jm_sendauth.h), in a transaction of its own if anything changes.
 *  APR_EAGAIN: the directory is unreachable. */
apr_status_t jm_identity_ensure_defaults(jm_call_t *call);

/** The emails of every stored identity of an account (const char *; may
 *  hold "*@domain" wildcards): the addresses the account is known by
 *  where no request (no directory answer) is at hand, as in delivery. */
apr_status_t jm_identity_emails(apr_array_header_t **pemails, jm_db_t *db,
                                const char *account_id, apr_pool_t *p);

/** The email of the person's Identity id (mail/jm_sendauth.h rights as
 *  of now: a stored identity whose address is no longer granted is not
 *  found; a default identity of a granted address is found before it is
 *  stored). Reads only. APR_NOTFOUND: no such identity; APR_EAGAIN: the
 *  directory is unreachable. */
apr_status_t jm_identity_lookup(const char **pemail, jm_call_t *call, const char *id);

#endif
