/* Foo/query (RFC 8620 §5.5) for any type: filter tree, comparators,
 * window; the type runs the query (a database can push the window down)
 * or hands all objects to the in-memory executor here. */
#ifndef JM_STD_QUERY_H
#define JM_STD_QUERY_H

#include "std/jm_std_args.h"
#include "std/jm_std_collation.h"

#define JM_FILTER_MAX_DEPTH  10      /**< default bound on operator nesting */
#define JM_FILTER_MAX_NODES  1000    /**< operators and conditions in one filter */
#define JM_QUERY_NO_LIMIT    ((apr_size_t)-1)

typedef enum {
    JM_FILTER_COND = 0, JM_FILTER_AND, JM_FILTER_OR, JM_FILTER_NOT
} jm_filter_op_t;

typedef struct jm_filter_t {
    jm_filter_op_t op;
    apr_array_header_t *conditions;  /**< jm_filter_t *, for operators */
    json_t *cond;                    /**< the FilterCondition (borrowed) */
    void *data;                      /**< what the type's condition parser made */
} jm_filter_t;

typedef struct {
    const char *property;
    int ascending;                   /**< isAscending, default true */
    jm_collation_t collation;        /**< i;unicode-casemap if not given */
    const jm_prop_t *prop;           /**< table row; NULL for the type's own */
    json_t *raw;                     /**< the Comparator (borrowed) */
} jm_comparator_t;

typedef struct {
    apr_int64_t position;            /**< as given; negative counts from the end */
    const char *anchor;              /**< NULL: position applies */
    apr_int64_t anchor_offset;
    apr_size_t limit;                /**< JM_QUERY_NO_LIMIT when none */
    int limit_capped;                /**< the server's cap applied: reply "limit" */
    int calculate_total;
} jm_query_window_t;

typedef struct jm_query_t jm_query_t;

typedef enum {
    JM_COND_OK = 0,
    JM_COND_INVALID,                 /**< invalidArguments (bad types) */
    JM_COND_UNSUPPORTED              /**< unsupportedFilter */
} jm_cond_status_t;

/** Check one FilterCondition; *pdata may keep what it parsed. On failure
 *  *pwhy describes it (path: where the condition is). */
typedef jm_cond_status_t jm_query_cond_fn(jm_query_t *q, json_t *cond,
                                          void **pdata, jm_path_t *path,
                                          const char **pwhy);
/** Accept a comparator the table does not list as SORT (or one with more
 *  members): 1 if it is supported. */
typedef int jm_query_sort_fn(jm_query_t *q, jm_comparator_t *c);
/** Run the query: set q->query_state and either q->all (the complete
 *  sorted result, const char * ids: the framework applies the window) or
 *  q->ids with q->position and q->total (the window itself; then
 *  q->anchor_not_found when the anchor is not in the results). */
typedef apr_status_t jm_query_run_fn(jm_query_t *q);

typedef struct {
    const char *name;
    const jm_prop_t *props;
    const jm_arg_t *extra_args;
    jm_query_cond_fn *condition;     /**< NULL: FILTER properties, by equality */
    jm_query_sort_fn *sort;          /**< NULL: SORT properties only */
    jm_query_run_fn *run;
    apr_size_t max_limit;            /**< the server's cap on limit; 0: none */
    int max_depth;                   /**< 0: JM_FILTER_MAX_DEPTH */
    int can_calculate_changes;
} jm_query_type_t;

struct jm_query_t {
    jm_call_t *call;
    const jm_query_type_t *type;
    void *baton;
    jm_filter_t *filter;             /**< NULL: everything */
    apr_array_header_t *sort;        /**< jm_comparator_t */
    jm_query_window_t window;
    int nodes;                       /**< filter size so far */
    /* set by the run callback */
    const char *query_state;
    int can_calculate_changes;
    apr_array_header_t *all;
    apr_array_header_t *ids;
    apr_size_t position, total;
    int anchor_not_found;
};

/** Only filter and sort (for /queryChanges too); 0 + call->error. */
int jm_query_parse_filter(jm_query_t *q, json_t *filter);
int jm_query_parse_sort(jm_query_t *q, json_t *sort);
/** Start q for call (no argument read). */
void jm_query_init(jm_query_t *q, jm_call_t *call, const jm_query_type_t *type,
                   void *baton);

int jm_query_parse(jm_query_t *q, jm_call_t *call, const jm_query_type_t *type,
                   void *baton);
apr_status_t jm_query_run(jm_query_t *q);
/** {accountId, queryState, canCalculateChanges, position, ids[, total][, limit]}. */
void jm_query_reply(jm_query_t *q);
apr_status_t jm_std_query(jm_call_t *call, const jm_query_type_t *type, void *baton);

/** §5.5 windowing of the complete result all: *pids and *pposition; -1
 *  when the anchor is not in all, else 0. */
int jm_query_window_apply(const apr_array_header_t *all, const jm_query_window_t *w,
                          apr_array_header_t **pids, apr_size_t *pposition,
                          apr_pool_t *p);

/* ---- the in-memory executor ------------------------------------------- */

/** Whether obj matches one condition node. */
typedef int jm_query_match_fn(jm_query_t *q, const jm_filter_t *cond,
                              const json_t *obj);

/** Whether obj matches the filter tree f (NULL matches). */
int jm_query_matches(jm_query_t *q, const jm_filter_t *f, const json_t *obj,
                     jm_query_match_fn *match);
/** Order of a and b under q->sort, then by id (the order is stable). */
int jm_query_compare(const jm_query_t *q, const json_t *a, const json_t *b);
/** q->all from objects (an array of objects with "id"): filtered with
 *  match (NULL: equality of every member of the condition) and sorted. */
apr_status_t jm_query_memory(jm_query_t *q, const json_t *objects,
                             jm_query_match_fn *match);

#endif
