/* The JMAP API request (RFC 8620 §3): validation of the Request object,
 * limits, method dispatch, result references (§3.7) and creation ids. */
#ifndef JM_REQUEST_H
#define JM_REQUEST_H

#include <apr_pools.h>
#include <apr_hash.h>
#include "core/jm_json.h"
#include "core/jm_error.h"
#include "store/jm_db.h"
#include "core/jm_account.h"
#include "smime/jm_cms.h"
#include "core/jm_budget.h"

struct jm_certdir_t;
struct jm_keystore_t;
struct jm_push_conf_t;
struct jm_submit_conf_t;

#define JM_CAP_CORE       "urn:ietf:params:jmap:core"
#define JM_CAP_MAIL       "urn:ietf:params:jmap:mail"
#define JM_CAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define JM_CAP_SMIME      "urn:ietf:params:jmap:smime-advanced"
#define JM_CAP_VACATION   "urn:ietf:params:jmap:vacationresponse"

/** Limits: the first seven are advertised in urn:ietf:params:jmap:core,
 *  max_size_attachments in urn:ietf:params:jmap:mail; the rest bound the
 *  work of one request (jm_budget.h). All enforced; all longs (the config
 *  resolves them as an array). */
typedef struct jm_limits_t {
    long max_size_upload;
    long max_concurrent_upload;
    long max_size_request;
    long max_concurrent_requests;
    long max_calls_in_request;
    long max_objects_in_get;
    long max_objects_in_set;
    long max_size_attachments;   /**< maxSizeAttachmentsPerEmail */
    long max_size_response;      /**< bytes of one Response object */
    long max_size_created;       /**< message bytes one request may build */
    long max_recipients;         /**< To+Cc+Bcc addresses of one Email */
    long max_header_items;       /**< items (ids, URLs, addresses) in one field */
    long max_mime_depth;         /**< nesting of body parts */
    long max_directory_seconds;  /**< directory time of one request */
    long max_mailboxes;          /**< Mailboxes of one account (beyond:
                                  *   overQuota): every Mailbox call reads
                                  *   them all, so this bounds its work */
} jm_limits_t;

/** S/MIME policy from configuration. */
typedef struct {
    jm_cms_encrypt_opts_t enc;
    int legacy_display;
} jm_smime_policy_t;

/** Everything a method may use; built per request by the glue. */
typedef struct {
    apr_pool_t *pool;                 /**< request pool */
    jm_account_t *account;            /**< the account being worked on: the
                                       *   user's own, or in a call's ctx
                                       *   (jm_ctx_for_account) the one the
                                       *   call names */
    jm_account_t *self;               /**< the authenticated user's own
                                       *   account; NULL: account is */
    apr_array_header_t *shared;       /**< jm_account_t*: accounts shared with
                                       *   the user (NULL: none) */
    jm_db_t *db;                      /**< the store connection */
    const jm_limits_t *limits;
    struct jm_certdir_t *certdir;     /**< NULL when no directory is configured */
    const struct jm_keystore_t *keystore;
    apr_array_header_t *send_as_rules;/**< jm_send_as_rule_t from configuration */
    const jm_smime_policy_t *smime;
    const struct jm_submit_conf_t *submit; /**< the relay; NULL: none */
    const char *session_state;        /**< for sessionState */
    const struct jm_push_conf_t *push;/**< push subscriptions (NULL: the
                                       *   defaults of jm_push_conf_default) */
    jm_budget_t budget;               /**< what this request may still use */
    struct jm_raw_t *raw;             /**< raw fragments of the answer
                                       *   (core/jm_raw.h); NULL: none, the
                                       *   answer is a plain jansson tree.
                                       *   The glue sets it and writes the
                                       *   answer with jm_raw_dump */
} jm_ctx_t;

/** A shared sending address from configuration (JMAPSendAs). */
typedef struct {
    const char *address;              /**< lower-cased */
    apr_array_header_t *users;        /**< const char* usernames */
} jm_send_as_rule_t;

/** One method call being processed. */
typedef struct jm_call_t {
    jm_ctx_t *ctx;
    const char *name;          /**< "Email/set" */
    const char *call_id;
    json_t *args;              /**< arguments, result references resolved */
    json_t *created_ids;       /**< request-level creation id -> id map */
    json_t *using;             /**< the request's "using" (borrowed) */
    apr_pool_t *pool;          /**< scratch for this call */
    json_t *result;            /**< set by the method: response arguments */
    json_t *error;             /**< or: a method-level error object */
    json_t *extra_responses;   /**< optional: more [name, args] pairs after this one */
} jm_call_t;

typedef apr_status_t jm_method_fn(jm_call_t *call);

#define JM_METHOD_NEEDS_ACCOUNT 0x1   /**< validates accountId */
#define JM_METHOD_WRITES        0x2   /**< changes state (accountReadOnly applies) */

typedef struct {
    const char *name;
    const char *capability;
    jm_method_fn *fn;
    int flags;
} jm_method_t;

/** Find a method by name; NULL if unknown. */
const jm_method_t *jm_methods_find(const char *name);

/** Capabilities advertised in the session (NULL-terminated). */
extern const char *const jm_capabilities[];
/** Capabilities accepted in "using" (NULL-terminated). */
extern const char *const jm_capabilities_accepted[];

/**
 * Process one API request body. On a request-level error returns it in
 * *pproblem (and *presponse is NULL); otherwise *presponse is the Response
 * object. Method failures never become request-level errors.
 */
void jm_request_process(json_t **presponse, jm_problem_t **pproblem,
                        jm_ctx_t *ctx, const char *body, apr_size_t len);

/* ---- accounts ----------------------------------------------------------- */

/** The account with this id the user may use (its own or a shared one),
 *  NULL for any other (accountNotFound, RFC 8620 §3.6.2). */
jm_account_t *jm_ctx_find_account(const jm_ctx_t *ctx, const char *id);

/** The authenticated user's own account: sending rights and the name in
 *  the log follow the person, not the account worked on. */
jm_account_t *jm_ctx_self(const jm_ctx_t *ctx);

/** *out = ctx working on acc: a shallow copy (ctx is never changed). The
 *  budget is a copy too: give it back with jm_ctx_return when done. */
void jm_ctx_for_account(jm_ctx_t *out, const jm_ctx_t *ctx, jm_account_t *acc);

/** What sub (made by jm_ctx_for_account from ctx) used of the budget is
 *  used for ctx too. */
void jm_ctx_return(jm_ctx_t *ctx, const jm_ctx_t *sub);

/* ---- helpers for methods ------------------------------------------------ */

/** Set call->error to a method-level error; returns APR_SUCCESS. */
apr_status_t jm_call_error(jm_call_t *call, const char *type,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Whether the request lists capability cap in "using" (RFC 8620 §3.3). */
int jm_call_uses(const jm_call_t *call, const char *cap);

/** Resolve "#creationId" to the id created earlier in this request; other
 *  strings are returned unchanged; NULL for an unknown creation id. */
const char *jm_call_resolve_id(jm_call_t *call, const char *id);

/** Record a created id for later references. */
void jm_call_add_created(jm_call_t *call, const char *creation_id, const char *id);

/** Validate the common /get arguments (ids, properties) against
 *  maxObjectsInGet; sets call->error and returns 0 on bad input. */
int jm_call_check_get_args(jm_call_t *call, json_t **pids, json_t **pprops);

/** For Foo/get: keep only the properties in props (id always, RFC 8620
 *  §5.1); props NULL keeps all. Consumes obj, returns a new reference. */
json_t *jm_get_project(json_t *obj, json_t *props);

/** Validate "properties" against a NULL-terminated list of known names;
 *  sets invalidArguments and returns 0 on an unknown one. */
int jm_call_check_props(jm_call_t *call, json_t *props,
                        const char *const *known, const char *type);

#endif
