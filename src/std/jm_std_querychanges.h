/* Foo/queryChanges (RFC 8620 §5.6) for any type: from the ids changed
 * since a query state and the current sorted results, removed (every
 * changed id: §5.6 allows extra ones) and added (the changed ids in the
 * current results, with their index). */
#ifndef JM_STD_QUERYCHANGES_H
#define JM_STD_QUERYCHANGES_H

#include "std/jm_std_query.h"

typedef struct {
    const char *id;
    apr_size_t index;
} jm_added_item_t;

/** Pure: removed (const char *) and added (jm_added_item_t, by index).
 *  up_to_id, if in current, ends added after it (§5.6); max (0: none)
 *  bounds removed + added: -1 (tooManyChanges) past it, else 0. */
int jm_querychanges_compute(apr_array_header_t **premoved,
                            apr_array_header_t **padded,
                            const apr_array_header_t *changed,
                            const apr_array_header_t *current,
                            const char *up_to_id, apr_size_t max,
                            apr_pool_t *p);

typedef struct jm_querychanges_t jm_querychanges_t;

/** Set qc->changed (ids whose membership or position may have changed
 *  since qc->since_query_state), qc->current (the complete sorted results
 *  now) and qc->new_query_state; or qc->cannot_calculate = 1. */
typedef apr_status_t jm_querychanges_fn(jm_querychanges_t *qc);

typedef struct {
    const jm_query_type_t *query;     /**< name, properties, filter and sort */
    const jm_arg_t *extra_args;
    jm_querychanges_fn *changes;
} jm_querychanges_type_t;

struct jm_querychanges_t {
    jm_call_t *call;
    const jm_querychanges_type_t *type;
    void *baton;
    jm_query_t q;                     /**< filter and sort, parsed */
    const char *since_query_state;
    apr_size_t max_changes;           /**< 0: none */
    const char *up_to_id;
    int calculate_total;
    /* from the callback */
    apr_array_header_t *changed, *current;
    const char *new_query_state;
    int cannot_calculate;
    /* the answer */
    apr_array_header_t *removed, *added;
};

int jm_querychanges_parse(jm_querychanges_t *qc, jm_call_t *call,
                          const jm_querychanges_type_t *type, void *baton);
apr_status_t jm_querychanges_run(jm_querychanges_t *qc);
/** {accountId, oldQueryState, newQueryState, removed, added[, total]}. */
void jm_querychanges_reply(jm_querychanges_t *qc);
apr_status_t jm_std_querychanges(jm_call_t *call,
                                 const jm_querychanges_type_t *type, void *baton);

#endif
