/* Push (RFC 8620 §7): PushSubscription/get and /set, and the worker that
 * sends PushVerification and StateChange objects (RFC 8030 application
 * server, RFC 8291 encryption, RFC 8292 VAPID). */
#ifndef JM_WEBPUSH_H
#define JM_WEBPUSH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_atomic.h>
#include <openssl/evp.h>
#include "core/jm_request.h"

#define JM_CAP_WEBPUSH_VAPID "urn:ietf:params:jmap:webpush-vapid"

/** Configuration (JMAPPush* directives), resolved: no unset values. */
typedef struct jm_push_conf_t {
    long max_subscriptions;          /**< per user (RFC 8620 §8.6 MUST limit) */
    long max_create_per_hour;        /**< creations per user in any hour (§8.6:
                                      *   "the rate of creation MUST also be
                                      *   limited") */
    long max_expiry;                 /**< seconds ahead an expires may be */
    int allow_private;               /**< JMAPPushAllowPrivateTargets */
    const char *ca_file;             /**< NULL: the system's store */
    long connect_timeout_ms, timeout_ms;
    long ttl;                        /**< TTL header (RFC 8030 §5.2), seconds */
    long batch;                      /**< subscriptions per tick */
    long retry_max;                  /**< longest backoff, seconds */
    long check_ms;                   /**< how often a verified one is looked at */
    EVP_PKEY *vapid_key;             /**< NULL: no VAPID */
    const char *vapid_public;        /**< base64url of its public point */
    const char *vapid_subject;       /**< mailto:/https: contact, or NULL */
} jm_push_conf_t;

/** The defaults (conf.d/jmap_smime.conf), for a ctx without push set. */
const jm_push_conf_t *jm_push_conf_default(void);

apr_status_t jm_push_subscription_get(jm_call_t *call);
apr_status_t jm_push_subscription_set(jm_call_t *call);

/** The session's urn:ietf:params:jmap:webpush-vapid capability object
 *  (RFC 9749 §3), or NULL when no VAPID key is configured. */
json_t *jm_push_session_capability(const jm_push_conf_t *conf);

/** What the worker needs besides the store: the accounts a user may use
 *  are computed again at each send (a share can be removed). */
typedef struct {
    const jm_push_conf_t *conf;
    const apr_array_header_t *shares;     /**< jm_share_rule_t, may be NULL */
    const apr_array_header_t *ro_users;   /**< const char*, may be NULL */
    const char *node;                     /**< this node's lease owner prefix */
    /** set when the process stops: the rest of a claimed batch is given
     *  back (due now) instead of sent; NULL: never */
    volatile apr_uint32_t *stop;
} jm_push_env_t;

/** One tick of the worker: delete expired subscriptions, claim at most
 *  conf->batch due ones, send what each is due and record the outcome.
 *  *pdone = subscriptions handled. */
apr_status_t jm_push_tick(int *pdone, jm_db_t *db, const jm_push_env_t *env,
                          apr_pool_t *p);

/** The StateChange for a user now (RFC 8620 §7.1): *pstates = every account
 *  the user may use -> its TypeState (new reference). */
apr_status_t jm_push_current_states(json_t **pstates, jm_db_t *db, const char *user,
                                    const jm_push_env_t *env, apr_pool_t *p);
/** The TypeStates of accounts (const char* ids): account -> type -> state. */
apr_status_t jm_push_account_states(json_t **pstates, jm_db_t *db,
                                    const apr_array_header_t *accounts, apr_pool_t *p);
/** changed = what differs between current and pushed, restricted to types
 *  (a JSON array, or NULL for all); a new object, empty when nothing did. */
json_t *jm_push_changed(const json_t *current, const json_t *pushed,
                        const json_t *types);

#endif
