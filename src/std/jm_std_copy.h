/* Foo/copy (RFC 8620 §5.4) for any type: the arguments, the two accounts
 * and their states, each creation's "id" and properties, the reply, and
 * the implicit Foo/set that destroys the originals. The type copies in
 * callbacks; one that stores in a batch (one transaction) answers from its
 * store callback. Blob/copy (§6.3) has another shape and uses only
 * jm_copy_from_account. */
#ifndef JM_STD_COPY_H
#define JM_STD_COPY_H

#include <apr_hash.h>
#include "std/jm_std_args.h"

typedef struct jm_copy_t jm_copy_t;

/** The type's state string in the account ctx works on: the from account
 *  (ifFromInState) or the call's (oldState, newState, ifInState). */
typedef apr_status_t jm_copy_state_fn(const char **pstate, jm_copy_t *copy,
                                      jm_ctx_t *ctx);

/** One creation. from_id is the original's id in copy->from (a
 *  "#creationId" resolved), obj the creation as given (its properties
 *  checked against the table). Answer at once with *pcreated (the new
 *  object, with its new "id": the reply's created entry) or *perr (a
 *  SetError), both new references; or leave both NULL and answer it from
 *  the store callback. */
typedef apr_status_t jm_copy_one_fn(jm_copy_t *copy, const char *creation_id,
                                    const char *from_id, json_t *obj,
                                    json_t **pcreated, json_t **perr);

/** Optional: store what the copy callback left unanswered, check
 *  copy->if_in_state where it stores (stateMismatch: jm_call_error) and
 *  answer each with jm_copy_answer. May set copy->old_state/new_state to
 *  the states its transaction saw. */
typedef apr_status_t jm_copy_store_fn(jm_copy_t *copy);

typedef struct {
    const char *name;               /**< "Email" */
    const jm_prop_t *props;         /**< what a creation may hold besides "id" */
    const jm_arg_t *extra_args;     /**< type-specific arguments, or NULL */
    jm_copy_state_fn *state;
    jm_copy_one_fn *copy;
    jm_copy_store_fn *store;        /**< may be NULL */
    jm_method_fn *set;              /**< Foo/set, for onSuccessDestroyOriginal */
} jm_copy_type_t;

struct jm_copy_t {
    jm_call_t *call;
    const jm_copy_type_t *type;
    void *baton;
    jm_account_t *from;
    jm_ctx_t from_ctx;              /**< reads the from account; reading takes
                                     *   nothing from the budget, so it is
                                     *   never returned to call->ctx */
    const char *if_from_in_state, *if_in_state, *destroy_from_if_in_state;
    int destroy_original;
    json_t *create;                 /**< borrowed from the arguments */
    const char *old_state, *new_state;
    /* the reply, owned by call->pool */
    json_t *created, *not_created;
    json_t *originals;              /**< ids of the originals copied, in order */
    apr_hash_t *pending;            /**< creation id -> original id, unanswered */
};

/** RFC 8620 §5.4: fromAccountId names an account the user may use
 *  (fromAccountNotFound otherwise) and, when must_differ, not the call's
 *  (invalidArguments). NULL with call->error set when it does not. */
jm_account_t *jm_copy_from_account(jm_call_t *call, int must_differ);

/** The SetError alreadyExists with existingId (§5.4; RFC 8621 §4.8 for
 *  Email/import too), new reference. */
json_t *jm_copy_already_exists(apr_pool_t *p, const char *existing_id,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Answer creation_id: created (with "id") or err (a SetError); takes the
 *  reference. The id becomes known to "#creationId" references. */
apr_status_t jm_copy_answer(jm_copy_t *copy, const char *creation_id,
                            json_t *created, json_t *err);

int jm_copy_parse(jm_copy_t *copy, jm_call_t *call, const jm_copy_type_t *type,
                  void *baton);
/** States, creations, store (§5.4). */
apr_status_t jm_copy_run(jm_copy_t *copy);
/** call->result = {fromAccountId, accountId, oldState, newState, created,
 *  notCreated}. */
void jm_copy_reply(jm_copy_t *copy);
/** onSuccessDestroyOriginal: the implicit Foo/set in the from account,
 *  its answer in call->extra_responses (none when nothing was copied). */
void jm_copy_destroy_originals(jm_copy_t *copy);
apr_status_t jm_std_copy(jm_call_t *call, const jm_copy_type_t *type, void *baton);

#endif
