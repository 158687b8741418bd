/* Push subscriptions in the store (RFC 8620 §7.2): the rows of
 * jm_push_subscriptions, for PushSubscription/get and /set and for the
 * worker that pushes. Times: expires in seconds, the others in ms. */
#ifndef JM_STORE_PUSH_H
#define JM_STORE_PUSH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "store/jm_db.h"
#include "core/jm_json.h"

typedef struct {
    const char *id, *username, *device_client_id, *url;
    const char *p256dh, *auth;      /**< "" without keys */
    const char *code_sent;          /**< the verificationCode pushed */
    int verified;                   /**< the client set code_sent */
    int verify_pending;             /**< the PushVerification is still to send */
    apr_int64_t expires;            /**< seconds since the epoch */
    const char *types;              /**< JSON array text, "" for null */
    const char *pushed_states;      /**< JSON account -> type -> state */
    long failures;
} jm_push_row_t;

/** Every subscription of username (jm_push_row_t*), oldest first. */
apr_status_t jm_store_push_list(apr_array_header_t **prows, jm_db_t *db,
                                const char *username, apr_pool_t *p);
apr_status_t jm_store_push_count(long *pcount, jm_db_t *db, const char *username,
                                 apr_pool_t *p);
/** A new subscription, due for its PushVerification at once, unless the
 *  user has max already (*pover = 1) or created per_hour in the last hour
 *  (*pover = 2; nothing stored either way). Creations are logged apart
 *  from the subscriptions, so destroying one does not give its creation
 *  back. */
apr_status_t jm_store_push_insert(int *pover, jm_db_t *db, const jm_push_row_t *row,
                                  long max, long per_hour, apr_int64_t now_ms,
                                  apr_pool_t *p);
/** The client set the right verificationCode: pushes start from states. */
apr_status_t jm_store_push_verify(jm_db_t *db, const char *username, const char *id,
                                  const char *states, apr_int64_t now_ms, apr_pool_t *p);
apr_status_t jm_store_push_set_expires(jm_db_t *db, const char *username,
                                       const char *id, apr_int64_t expires,
                                       apr_pool_t *p);
apr_status_t jm_store_push_set_types(jm_db_t *db, const char *username,
                                     const char *id, const char *types, apr_pool_t *p);
/** APR_NOTFOUND when username has no such subscription. */
apr_status_t jm_store_push_destroy(jm_db_t *db, const char *username, const char *id,
                                   apr_pool_t *p);

/* Every write runs in a transaction of its own (or the caller's). */

/* ---- the worker -------------------------------------------------------- */

/** Delete the subscriptions expired at now_s (RFC 8620 §7.2 "expires"). */
apr_status_t jm_store_push_expire(jm_db_t *db, apr_int64_t now_s, apr_pool_t *p);
/**
 * Claim at most limit due subscriptions for owner until lease_until_ms,
 * each in one statement that only takes rows whose lease has run out
 * (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time), so
 * that two nodes never hold one row; then read what owner holds. No
 * transaction stays open: the caller sends and then reports with one of
 * the calls below, each of which acts only while owner still holds it.
 */
apr_status_t jm_store_push_claim(apr_array_header_t **prows, jm_db_t *db,
                                 const char *owner, apr_int64_t now_ms,
                                 apr_int64_t lease_until_ms, long limit,
                                 apr_pool_t *p);
apr_status_t jm_store_push_verify_sent(jm_db_t *db, const char *id, const char *owner,
                                       apr_int64_t next_ms, apr_pool_t *p);
apr_status_t jm_store_push_checked(jm_db_t *db, const char *id, const char *owner,
                                   const char *states, apr_int64_t next_ms,
                                   apr_pool_t *p);
apr_status_t jm_store_push_retry(jm_db_t *db, const char *id, const char *owner,
                                 long failures, apr_int64_t next_ms, apr_pool_t *p);
apr_status_t jm_store_push_gone(jm_db_t *db, const char *id, const char *owner,
                                apr_pool_t *p);

/** Every (type, state) of an account: the TypeState of RFC 8620 §7.1, as a
 *  new JSON object. */
apr_status_t jm_store_push_states(json_t **pstates, jm_db_t *db,
                                  const char *account_id, apr_pool_t *p);

#endif
