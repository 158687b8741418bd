/* Foo/set (RFC 8620 §5.3) for any type: arguments, property checks,
 * references, patches, ordering, SetErrors and the reply. The type does
 * the work in callbacks; a store wraps jm_std_set in its transaction. */
#ifndef JM_STD_SET_H
#define JM_STD_SET_H

#include "std/jm_std_args.h"
#include "std/jm_std_patch.h"

typedef struct jm_set_t jm_set_t;

/** The type's current state string (called before and after the work). */
typedef apr_status_t jm_set_state_fn(const char **pstate, jm_set_t *set);

/** Create obj (checked against the table, references resolved). Success:
 *  *pcreated = the object as stored, with "id" (the framework answers the
 *  properties the client did not send). Rejection: *perr = a SetError. */
typedef apr_status_t jm_set_create_fn(jm_set_t *set, const char *creation_id,
                                      json_t *obj, json_t **pcreated,
                                      json_t **perr);

/** Optional: *pobj = the current object (new reference), NULL if none.
 *  With it, server-set properties may be patched with their own value and
 *  the update callback gets the patched object. */
typedef apr_status_t jm_set_lookup_fn(json_t **pobj, jm_set_t *set, const char *id);

/** Update id with patch (checked, references resolved); updated is the
 *  object with the patch applied (NULL without lookup). Success: *pchanged
 *  = properties that changed beyond the patch, or NULL. Rejection: *perr. */
typedef apr_status_t jm_set_update_fn(jm_set_t *set, const char *id,
                                      json_t *patch, json_t *updated,
                                      json_t **pchanged, json_t **perr);

/** Destroy id. Rejection (notFound too): *perr. */
typedef apr_status_t jm_set_destroy_fn(jm_set_t *set, const char *id,
                                       json_t **perr);

/** No accountId or ifInState argument, no accountId, oldState or newState
 *  in the reply; state may be NULL (PushSubscription/set, RFC 8620 §7.2.2). */
#define JM_SET_NO_ACCOUNT     0x1
/** created also answers the properties the server stored with another
 *  value than the client sent (a clamped expires, RFC 8620 §7.2.3). */
#define JM_SET_ANSWER_CHANGED 0x2

typedef struct {
    const char *name;
    const jm_prop_t *props;
    const jm_arg_t *extra_args;     /**< type-specific arguments, or NULL */
    jm_set_state_fn *state;
    jm_set_create_fn *create;       /**< NULL: creates are forbidden */
    jm_set_lookup_fn *lookup;       /**< may be NULL */
    jm_set_update_fn *update;       /**< NULL: updates are forbidden */
    jm_set_destroy_fn *destroy;     /**< NULL: destroys are forbidden */
    unsigned flags;                 /**< JM_SET_* */
} jm_set_type_t;

struct jm_set_t {
    jm_call_t *call;
    const jm_set_type_t *type;
    void *baton;
    const char *if_in_state;        /**< NULL if not given */
    json_t *create, *update;        /**< borrowed from the arguments, or NULL */
    apr_array_header_t *destroy;    /**< ids as given (const char *) */
    const char *old_state, *new_state;
    /* the reply, owned by call->pool */
    json_t *created, *updated, *destroyed;
    json_t *not_created, *not_updated, *not_destroyed;
};

/** A SetError {type, description[, properties]}; props is taken (may be
 *  NULL). New reference. */
json_t *jm_set_error(apr_pool_t *p, const char *type, json_t *props,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int jm_set_parse(jm_set_t *set, jm_call_t *call, const jm_set_type_t *type,
                 void *baton);
/** ifInState, then creates, updates, destroys (§5.3). */
apr_status_t jm_set_run(jm_set_t *set);
/** call->result = {accountId, oldState, newState, created, ...}. */
void jm_set_reply(jm_set_t *set);
apr_status_t jm_std_set(jm_call_t *call, const jm_set_type_t *type, void *baton);

#endif
