/* Email/query execution (RFC 8621 §4.4): a filter tree and a sort become
 * one SQL statement per question (ids in the window, total, anchor index),
 * composed only from constant fragments of the dialect with every value
 * bound as a parameter; the database applies the window, so a call costs
 * O(limit) memory whatever the size of the account. The types here are the
 * store's view of a query; mail/jm_email_filter.c builds them from JSON. */
#ifndef JM_STORE_QUERY_H
#define JM_STORE_QUERY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "store/jm_db.h"
#include "std/jm_std_collation.h"

/** The text properties of a FilterCondition (§4.4.1). */
typedef enum {
    JM_TEXT_ALL,        /**< "text": every field and the body */
    JM_TEXT_FROM, JM_TEXT_TO, JM_TEXT_CC, JM_TEXT_BCC, JM_TEXT_SUBJECT,
    JM_TEXT_BODY,
    JM_TEXT__COUNT
} jm_text_field_t;

/** One FilterCondition; every property is optional (all must apply). */
typedef struct {
    const char *in_mailbox;                  /**< NULL: absent */
    apr_array_header_t *in_mailbox_other_than; /**< const char*; NULL: absent */
    int has_before, has_after, has_min_size, has_max_size;
    apr_int64_t before, after;               /**< seconds since the epoch */
    apr_int64_t min_size, max_size;
    /** keywords, lower-case; NULL: absent */
    const char *all_in_thread_kw, *some_in_thread_kw, *none_in_thread_kw;
    const char *has_kw, *not_kw;
    int has_attachment;                      /**< -1: absent, else 0/1 */
    /** Search terms per field: each a phrase (its words in order), never
     *  without a word; NULL: absent; no terms: no restriction. */
    apr_array_header_t *text[JM_TEXT__COUNT];
    const char *header_name, *header_value;  /**< header: name NULL = absent */
} jm_email_cond_t;

typedef enum {
    JM_SQ_COND, JM_SQ_AND, JM_SQ_OR, JM_SQ_NOT
} jm_sq_op_t;

/** A filter tree (RFC 8620 §5.5): an operator over children, or a condition.
 *  NOT matches when none of its children does. */
typedef struct jm_sq_filter_t {
    jm_sq_op_t op;
    apr_array_header_t *children;            /**< jm_sq_filter_t*, operators */
    const jm_email_cond_t *cond;             /**< JM_SQ_COND */
} jm_sq_filter_t;

/** Nesting and size bounds of a filter (deeper or bigger: unsupportedFilter). */
#define JM_SQ_FILTER_MAX_DEPTH 10
#define JM_SQ_FILTER_MAX_NODES 100
#define JM_SQ_FILTER_MAX_TERMS 32     /**< search phrases in one filter */

typedef enum {
    JM_SORT_RECEIVED_AT, JM_SORT_SIZE, JM_SORT_FROM, JM_SORT_TO,
    JM_SORT_SUBJECT, JM_SORT_SENT_AT, JM_SORT_HAS_KEYWORD,
    JM_SORT_ALL_IN_THREAD, JM_SORT_SOME_IN_THREAD
} jm_sort_prop_t;

/* jm_collation_t: the collations of src/std (std/jm_std_collation.h) */

typedef struct {
    jm_sort_prop_t prop;
    int ascending;
    jm_collation_t collation;                /**< strings only */
    const char *keyword;                     /**< keyword sorts, lower-case */
} jm_sort_t;

#define JM_SORT_MAX 8                        /**< comparators in one sort */

/** The largest limit a query may have; a bigger or absent one is cut to it
 *  (and the answer says so, RFC 8620 §5.5). */
#define JM_QUERY_MAX_LIMIT 1000

typedef struct {
    const jm_sq_filter_t *filter;               /**< NULL: every email */
    const apr_array_header_t *sort;          /**< jm_sort_t; NULL/empty: receivedAt desc */
    apr_int64_t position;                    /**< negative: from the end */
    const char *anchor;                      /**< NULL: use position */
    apr_int64_t anchor_offset;
    apr_int64_t limit;                       /**< -1: none given */
    int calculate_total;
    int collapse_threads;
    apr_int64_t max_limit;                   /**< the cap; 0: JM_QUERY_MAX_LIMIT */
} jm_sq_query_t;

typedef struct {
    apr_array_header_t *ids;                 /**< const char* */
    apr_int64_t position;                    /**< index of ids[0] */
    apr_int64_t total;                       /**< -1: not computed */
    apr_int64_t limit;                       /**< the limit applied */
    int limit_capped;                        /**< limit differs from the asked one */
} jm_sq_result_t;

/**
 * Run an Email query in account_id. APR_NOTFOUND: the anchor is not in the
 * results (anchorNotFound); APR_ENOTIMPL: the filter cannot be processed
 * (unsupportedFilter, *pwhy says why); anything else is a store failure.
 * The total is computed when asked or when a negative position needs it:
 * for a filter that is exactly {inMailbox} from the mailbox's kept counts.
 */
apr_status_t jm_store_email_query(jm_sq_result_t *res, const char **pwhy,
                                  jm_db_t *db, const char *account_id,
                                  const jm_sq_query_t *q, apr_pool_t *p);

/** The statement jm_store_email_query runs for its window (from the
 *  position if not negative, without anchor), with its values (const
 *  char*): to EXPLAIN it (tests, bench/query). APR_ENOTIMPL as above. */
apr_status_t jm_store_email_query_sql(const char **psql, apr_array_header_t **pargs,
                                      jm_db_t *db, const char *account_id,
                                      const jm_sq_query_t *q, apr_pool_t *p);

/** Subject and preview of an email (SearchSnippet/get); APR_NOTFOUND. */
apr_status_t jm_store_email_texts(const char **psubject, const char **ppreview,
                                  jm_db_t *db, const char *account_id,
                                  const char *id, apr_pool_t *p);

#endif
