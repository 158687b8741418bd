/* One request's budget: what a single JMAP request may make the server do.
 * The glue fills it from the limits when the request starts; every layer
 * draws on it (the dispatcher for bytes answered and result references,
 * Email/set for bytes built and recipients, the MIME builder for nesting,
 * the certificate directory for time). When something runs out the caller
 * turns that into the precise JMAP error; nothing here talks JMAP. */
#ifndef JM_BUDGET_H
#define JM_BUDGET_H

#include <apr_time.h>
#include "core/jm_json.h"

typedef struct {
    apr_size_t response_left;        /**< bytes the Response may still take */
    apr_size_t response_max;         /**< JMAPMaxSizeResponse */
    apr_size_t build_left;           /**< message bytes Email/set may still build */
    apr_size_t build_max;            /**< JMAPMaxSizeCreatedPerRequest */
    apr_size_t attachments_max;      /**< JMAPMaxSizeAttachmentsPerEmail, per Email */
    int recipients_max;              /**< JMAPMaxRecipients, per Email */
    int header_items_max;            /**< JMAPMaxHeaderItems, per header field */
    int mime_depth_max;              /**< JMAPMaxMimeDepth */
    apr_time_t directory_deadline;   /**< all directory work ends by then */
} jm_budget_t;

struct jm_limits_t;

/** Fill a budget from the limits for a request starting at now. */
void jm_budget_init(jm_budget_t *b, const struct jm_limits_t *l, apr_time_t now);

/**
 * Serialised size (compact JSON, as the response is written) of j, walking
 * at most until the size passes limit: the work is O(min(size, limit)) even
 * for a value that shares subtrees many times over (result references do).
 * @return the size, or limit + 1 when it is larger than limit.
 */
apr_size_t jm_json_size_bounded(const json_t *j, apr_size_t limit);

/** Take the size of j from the response budget: 1 if it fitted (and was
 *  taken), 0 if not (nothing taken). */
int jm_budget_take_response(jm_budget_t *b, const json_t *j);

/** Take n bytes from what may be built; 1 if they fitted, 0 if not. */
int jm_budget_take_build(jm_budget_t *b, apr_size_t n);

/** Time left for directory work (0 when it has run out), never more than
 *  per_op: the timeout to give the next directory operation. */
apr_interval_time_t jm_budget_directory_timeout(const jm_budget_t *b,
                                                apr_interval_time_t per_op);

#endif
