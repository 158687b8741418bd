/* JMAP errors as data (RFC 8620 §3.6): request-level problem details,
 * method-level errors and SetErrors. */
#ifndef JM_ERROR_H
#define JM_ERROR_H

#include <apr_pools.h>
#include "core/jm_json.h"

/** A request-level error (RFC 8620 §3.6.1, RFC 7807 problem details). */
typedef struct {
    int status;             /**< HTTP status */
    const char *type;       /**< "notJSON", "limit", ... (RFC 8620 §3.6.1);
                             *   other names become about:blank, logged as given */
    const char *detail;     /**< human text */
    const char *limit;      /**< for "limit": the limit's name */
} jm_problem_t;

/** Fill a problem; returns it. */
jm_problem_t *jm_problem(apr_pool_t *p, int status, const char *type,
                         const char *limit, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Problem as an application/problem+json body (new reference). */
json_t *jm_problem_json(const jm_problem_t *pr);

/** Method-level error object {"type": t, "description": d} (new ref). */
json_t *jm_error_method(const char *type, const char *description);

/** SetError {"type": t, "description": d[, "properties": [prop]]} (new ref). */
json_t *jm_error_set(const char *type, const char *property,
                     const char *description);

#endif
