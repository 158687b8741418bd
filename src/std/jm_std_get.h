/* Foo/get (RFC 8620 §5.1) for any type: parse, fetch through the type's
 * callback, reply. */
#ifndef JM_STD_GET_H
#define JM_STD_GET_H

#include "std/jm_std_args.h"

typedef struct jm_get_t jm_get_t;

/** The type's current state string. */
typedef apr_status_t jm_get_state_fn(const char **pstate, jm_get_t *get);

/** Append objects (JSON objects with "id"; whole or just what
 *  jm_get_wants() asks) to list. With ids: those of ids that exist, in any
 *  order (the framework answers the rest in notFound). With ids NULL: all
 *  objects, one batch of at most limit in a stable order; offset objects
 *  (the last one with id after) were returned before. Fewer than limit
 *  ends the listing. An object may be a stand-in for JSON text
 *  (core/jm_raw.h, with call->ctx->raw): an object with "id" that stands
 *  for the whole object, already as jm_get_wants() asks; it is listed
 *  as it is. */
typedef apr_status_t jm_get_fetch_fn(jm_get_t *get, const apr_array_header_t *ids,
                                     apr_size_t offset, const char *after,
                                     apr_size_t limit, json_t *list);

/** Read the type's own arguments (extra_args, already checked for their
 *  types) once "properties" is parsed, before ids are; further checks of
 *  their values belong here. 0 with call->error set on bad input. */
typedef int jm_get_args_fn(jm_get_t *get);

#define JM_GET_NO_ALL 0x1   /**< ids null is requestTooLarge: no listing */
/** No accountId argument and no accountId or state in the reply (state may
 *  be NULL): PushSubscription/get, RFC 8620 §7.2.1. */
#define JM_GET_NO_ACCOUNT 0x2

typedef struct {
    const char *name;             /**< "Mailbox": used in messages */
    const jm_prop_t *props;
    const jm_arg_t *extra_args;   /**< type-specific arguments, or NULL */
    jm_get_state_fn *state;
    jm_get_fetch_fn *fetch;
    unsigned flags;
    apr_size_t batch;             /**< objects per listing fetch; 0: all at once */
    jm_prop_name_fn *extra_props; /**< names beyond props, or NULL */
    jm_get_args_fn *read_args;    /**< for extra_args, or NULL */
} jm_get_type_t;

struct jm_get_t {
    jm_call_t *call;
    const jm_get_type_t *type;
    void *baton;                  /**< the type's, passed through */
    apr_array_header_t *ids;      /**< resolved, unique (const char *); NULL: all */
    apr_hash_t *given;            /**< resolved id → "#creationId" it was asked as */
    apr_hash_t *want;             /**< "properties"; NULL: the defaults */
    const char *state;
    json_t *list;                 /**< owned by call->pool */
    json_t *not_found;            /**< owned by call->pool */
};

/** Parse the arguments; 0 with call->error set on bad input. */
int jm_get_parse(jm_get_t *get, jm_call_t *call, const jm_get_type_t *type,
                 void *baton);
/** Fetch and project; may set call->error (requestTooLarge; the fetch
 *  callback may set one too, and nothing is projected then). */
apr_status_t jm_get_run(jm_get_t *get);
/** call->result = {accountId, state, list, notFound}. */
void jm_get_reply(jm_get_t *get);
/** All three. */
apr_status_t jm_std_get(jm_call_t *call, const jm_get_type_t *type, void *baton);

/** For the fetch callback: whether prop is asked (id always is; a name
 *  beyond the table only when "properties" lists it). */
int jm_get_wants(const jm_get_t *get, const char *prop);

#endif
