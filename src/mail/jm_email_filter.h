/* Email/query's filter and sort arguments (RFC 8621 §4.4.1, §4.4.2; RFC
 * 8620 §5.5) from JSON into the store's query types. The per-condition and
 * per-comparator parsers have the shape a generic /query framework calls
 * per data type; the filter tree is std's (jm_query_parse_filter, through
 * jm_email_query_filter for callers outside /query); jm_email_sort_parse
 * does the whole sort argument. */
#ifndef JM_EMAIL_FILTER_H
#define JM_EMAIL_FILTER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "core/jm_json.h"
#include "store/jm_store_query.h"
#include "core/jm_request.h"

/** Why an argument was refused: a method-level error type
 *  ("invalidArguments", "unsupportedFilter", "unsupportedSort") and text
 *  naming the property. */
typedef struct {
    const char *type;
    const char *description;
} jm_eq_error_t;

/** Parse one FilterCondition (an object without "operator"); path names
 *  it in error texts ("filter", "filter/conditions/0"). 1 on success, else
 *  0 with *err: unknown property -> unsupportedFilter, wrong value ->
 *  invalidArguments. */
typedef int jm_eq_cond_fn(const void **pcond, const json_t *obj,
                              const char *path, jm_eq_error_t *err,
                              apr_pool_t *p);

/** jm_eq_cond_fn for Email: *pcond is a jm_email_cond_t. */
int jm_email_filter_condition(const void **pcond, const json_t *obj,
                              const char *path, jm_eq_error_t *err,
                              apr_pool_t *p);

/** A "filter" argument of Email (FilterOperator | FilterCondition | null:
 *  *pf NULL) as Email/query reads its own (mail/jm_email_query.c: std's
 *  tree parser with jm_email_filter_condition, the same depth, node and
 *  JM_SQ_FILTER_MAX_TERMS bounds), as the store's tree. For
 *  SearchSnippet/get (RFC 8621 §5.1). 0 with call->error set
 *  (invalidArguments or unsupportedFilter). */
int jm_email_query_filter(const jm_sq_filter_t **pf, jm_call_t *call,
                          json_t *filter);

/** One Comparator (§4.4.2) into *s: unknown property or collation ->
 *  unsupportedSort; a bad value, an unknown member or a keyword sort
 *  without a valid keyword -> invalidArguments. */
int jm_email_comparator(jm_sort_t *s, const json_t *obj, const char *path,
                        jm_eq_error_t *err, apr_pool_t *p);

/** The whole "sort" argument (Comparator[] | null: *psort NULL). */
int jm_email_sort_parse(apr_array_header_t **psort, const json_t *sort,
                        jm_eq_error_t *err, apr_pool_t *p);

/**
 * Split search text into phrases (RFC 8621 §4.4.1): white space separates
 * words; text between matched single or double quotes is one phrase, in
 * which a backslash escapes ' " and \. Phrases without a letter or digit
 * are dropped (nothing to look for). const char* each.
 */
apr_array_header_t *jm_email_search_terms(const char *text, apr_pool_t *p);

/** How many search phrases a condition holds (JM_SQ_FILTER_MAX_TERMS
 *  bounds them in one filter). */
int jm_email_cond_terms(const jm_email_cond_t *c);

/** Keyword syntax (RFC 8621 §4.1.1): 1-255 of %x21-7E but ( ) { ] % * " \.
 *  The lower-cased keyword, or NULL if invalid. */
const char *jm_email_keyword(const char *s, apr_pool_t *p);

#endif
