/* Email/query (RFC 8621 §4.4, RFC 8620 §5.5). */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "store/jm_store.h"
#include "store/jm_store_query.h"
#include "mail/jm_email_filter.h"
#include "core/jm_util.h"

#define MAX_INT 9007199254740991LL      /* 2^53-1 (RFC 8620 §1.3) */

static int get_int(apr_int64_t *pv, const json_t *v, int is_unsigned)
{
    if (!json_is_integer(v) || json_integer_value(v) > MAX_INT
        || json_integer_value(v) < (is_unsigned ? 0 : -MAX_INT)) {
        return 0;
    }
    *pv = json_integer_value(v);
    return 1;
}

/* The arguments into q (until the shared /query framework parses them):
 * 0 with call->error set on bad input. */
static int parse_query_args(jm_call_t *call, jm_query_t *q)
{
    static const char *const known[] = {
        "accountId", "filter", "sort", "position", "anchor", "anchorOffset",
        "limit", "calculateTotal", "collapseThreads", NULL
    };
    jm_query_error_t err;
    const char *k;
    json_t *v;
    apr_array_header_t *sort;
    int i;

    json_object_foreach(call->args, k, v) {
        for (i = 0; known[i] && strcmp(known[i], k); i++) {
        }
        if (!known[i]) {
            jm_call_error(call, "invalidArguments", "Unknown argument \"%s\".", k);
            return 0;
        }
    }
    memset(q, 0, sizeof(*q));
    q->limit = -1;
    if (!jm_email_filter_parse(&q->filter, json_object_get(call->args, "filter"),
                               &err, call->pool)
        || !jm_email_sort_parse(&sort, json_object_get(call->args, "sort"), &err,
                                call->pool)) {
        jm_call_error(call, err.type, "%s", err.description);
        return 0;
    }
    q->sort = sort;
    if ((v = json_object_get(call->args, "position")) && !get_int(&q->position, v, 0)) {
        jm_call_error(call, "invalidArguments", "\"position\" must be an Int.");
        return 0;
    }
    v = json_object_get(call->args, "anchor");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !jm_util_is_valid_id(json_string_value(v))) {
            jm_call_error(call, "invalidArguments", "\"anchor\" must be an Id or null.");
            return 0;
        }
        q->anchor = json_string_value(v);
    }
    if ((v = json_object_get(call->args, "anchorOffset"))
        && !get_int(&q->anchor_offset, v, 0)) {
        jm_call_error(call, "invalidArguments", "\"anchorOffset\" must be an Int.");
        return 0;
    }
    v = json_object_get(call->args, "limit");
    if (v && !json_is_null(v) && !get_int(&q->limit, v, 1)) {
        jm_call_error(call, "invalidArguments",
                      "\"limit\" must be an UnsignedInt or null.");
        return 0;
    }
    if (jm_json_opt_bool(call->args, "calculateTotal", &q->calculate_total) < 0
        || jm_json_opt_bool(call->args, "collapseThreads", &q->collapse_threads) < 0) {
        jm_call_error(call, "invalidArguments",
                      "\"calculateTotal\" and \"collapseThreads\" must be Booleans.");
        return 0;
    }
    return 1;
}

apr_status_t jm_email_query(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    jm_query_t q;
    jm_query_result_t res;
    const char *state, *why;
    json_t *ids;
    apr_status_t rv;
    int i;

    if (!parse_query_args(call, &q)) {
        return APR_SUCCESS;
    }
    /* the state first: a change landing meanwhile shows in the next call */
    if (APR_SUCCESS != (rv = jm_store_state(&state, ctx->db, ctx->account->id,
                                            JM_TYPE_EMAIL, call->pool))) {
        return rv;
    }
    rv = jm_store_email_query(&res, &why, ctx->db, ctx->account->id, &q, call->pool);
    if (rv == APR_NOTFOUND) {
        return jm_call_error(call, "anchorNotFound",
                             "The anchor is not in the results of the query.");
    }
    if (rv == APR_ENOTIMPL) {
        return jm_call_error(call, "unsupportedFilter", "%s", why);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ids = json_array();
    for (i = 0; i < res.ids->nelts; i++) {
        json_array_append_new(ids, json_string(APR_ARRAY_IDX(res.ids, i, const char *)));
    }
    call->result = json_pack("{s:s, s:s, s:b, s:I, s:o, s:b}",
                             "accountId", ctx->account->id, "queryState", state,
                             "canCalculateChanges", 0,
                             "position", (json_int_t)res.position, "ids", ids,
                             "collapseThreads", q.collapse_threads);
    if (res.total >= 0 && q.calculate_total) {
        json_object_set_new(call->result, "total", json_integer(res.total));
    }
    if (res.limit_capped) {
        json_object_set_new(call->result, "limit", json_integer(res.limit));
    }
    return APR_SUCCESS;
}
