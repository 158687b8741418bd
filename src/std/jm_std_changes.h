/* Foo/changes (RFC 8620 §5.2) for any type: the store hands change
 * records; folding them into created/updated/destroyed is pure. */
#ifndef JM_STD_CHANGES_H
#define JM_STD_CHANGES_H

#include "std/jm_std_args.h"
#include "store/jm_store.h"

/* jm_change_kind_t and jm_change_t (one change record: id, kind, state,
 * props) are the store's: store/jm_store.h. Records come in increasing
 * state order, and one state may have several. */

/** The folded changes of states (since, new_state]. */
typedef struct {
    apr_array_header_t *created, *updated, *destroyed;  /**< const char * */
    apr_int64_t new_state;
    int has_more;
} jm_changes_fold_t;

/** Fold records (state > since, increasing) per §5.2: created then
 *  updated is created; created then destroyed is left out; updated then
 *  destroyed is destroyed; each id in one list. max (0: none) bounds the
 *  ids of the three lists together; records of one state are never split,
 *  so a stop is after a whole state (has_more, new_state = that state).
 *  current is the type's state, new_state when all records fit and the
 *  records are complete (truncated 0). Returns 0, or -1 when the first
 *  state alone has more than max ids (no intermediate state exists). */
int jm_changes_fold(jm_changes_fold_t *out, const apr_array_header_t *records,
                    apr_size_t max, apr_int64_t since, apr_int64_t current,
                    int truncated, apr_pool_t *p);

typedef struct jm_changes_t jm_changes_t;

/** The records with state > since (jm_change_t), in increasing state;
 *  the callback may stop early after the records of a whole state once it
 *  has more than hint ids (then *ptruncated = 1). *poldest: the oldest
 *  sinceState still answerable; *pcurrent: the current state. */
typedef apr_status_t jm_changes_fetch_fn(jm_changes_t *ch, apr_int64_t since,
                                         apr_size_t hint,
                                         apr_array_header_t **precords,
                                         int *ptruncated, apr_int64_t *poldest,
                                         apr_int64_t *pcurrent);

/** Optional, after folding: set ch->updated_properties (RFC 8621 §2.2
 *  Mailbox/changes: only counts changed), or leave it NULL. */
typedef apr_status_t jm_changes_finish_fn(jm_changes_t *ch);

typedef struct {
    const char *name;
    const jm_arg_t *extra_args;
    jm_changes_fetch_fn *fetch;
    jm_changes_finish_fn *finish;      /**< may be NULL */
    apr_size_t max_changes;            /**< the server's own bound; 0: none */
    int updated_properties;            /**< reply has "updatedProperties" */
} jm_changes_type_t;

struct jm_changes_t {
    jm_call_t *call;
    const jm_changes_type_t *type;
    void *baton;
    const char *since_state;           /**< as given */
    apr_int64_t since;
    apr_size_t max;                    /**< effective bound, 0: none */
    apr_array_header_t *records;       /**< what fetch gave */
    jm_changes_fold_t fold;
    json_t *updated_properties;        /**< set by finish (owned by call->pool) */
};

/** State strings are decimal: 1 and *pstate if s is one. */
int jm_changes_parse_state(const char *s, apr_int64_t *pstate);

int jm_changes_parse(jm_changes_t *ch, jm_call_t *call,
                     const jm_changes_type_t *type, void *baton);
/** Fetch and fold; cannotCalculateChanges as a method error. */
apr_status_t jm_changes_run(jm_changes_t *ch);
/** {accountId, oldState, newState, hasMoreChanges, created, updated,
 *  destroyed[, updatedProperties]}. */
void jm_changes_reply(jm_changes_t *ch);
apr_status_t jm_std_changes(jm_call_t *call, const jm_changes_type_t *type,
                            void *baton);

#endif
