/* Foo/queryChanges (RFC 8620 §5.6). */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "std/jm_std_querychanges.h"

static const jm_arg_t querychanges_args[] = {
    { "filter",          JM_PT_OBJECT, JM_ARG_NULLABLE },
    { "sort",            JM_PT_ARRAY,  JM_ARG_NULLABLE },
    { "sinceQueryState", JM_PT_STRING, JM_ARG_REQUIRED },
    { "maxChanges",      JM_PT_UINT,   JM_ARG_NULLABLE },
    { "upToId",          JM_PT_ID,     JM_ARG_NULLABLE },
    { "calculateTotal",  JM_PT_BOOL,   0 },
    { NULL, 0, 0 }
};

int jm_querychanges_compute(apr_array_header_t **premoved,
                            apr_array_header_t **padded,
                            const apr_array_header_t *changed,
                            const apr_array_header_t *current,
                            const char *up_to_id, apr_size_t max,
                            apr_pool_t *p)
{
    apr_hash_t *set = apr_hash_make(p);
    apr_array_header_t *removed = apr_array_make(p, changed->nelts + 1,
                                                 sizeof(const char *));
    apr_array_header_t *added = apr_array_make(p, 8, sizeof(jm_added_item_t));
    int i, end = current->nelts;

    for (i = 0; i < changed->nelts; i++) {
        const char *id = APR_ARRAY_IDX(changed, i, const char *);
        if (!apr_hash_get(set, id, APR_HASH_KEY_STRING)) {
            apr_hash_set(set, id, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(removed, const char *) = id;
        }
    }
    if (up_to_id) {
        /* §5.6: added past upToId may be left out; an unknown one is ignored */
        for (i = 0; i < current->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(current, i, const char *), up_to_id) == 0) {
                end = i + 1;
                break;
            }
        }
    }
    for (i = 0; i < end; i++) {
        const char *id = APR_ARRAY_IDX(current, i, const char *);
        if (apr_hash_get(set, id, APR_HASH_KEY_STRING)) {
            jm_added_item_t *a = &APR_ARRAY_PUSH(added, jm_added_item_t);
            a->id = id;
            a->index = (apr_size_t)i;
        }
    }
    *premoved = removed;
    *padded = added;
    return max && (apr_size_t)(removed->nelts + added->nelts) > max ? -1 : 0;
}

int jm_querychanges_parse(jm_querychanges_t *qc, jm_call_t *call,
                          const jm_querychanges_type_t *type, void *baton)
{
    json_t *mc;

    memset(qc, 0, sizeof(*qc));
    qc->call = call;
    qc->type = type;
    qc->baton = baton;
    jm_query_init(&qc->q, call, type->query, baton);
    if (!jm_args_check(call, querychanges_args, type->extra_args)
        || !jm_query_parse_filter(&qc->q, jm_args_get(call, "filter"))
        || !jm_query_parse_sort(&qc->q, jm_args_get(call, "sort"))) {
        return 0;
    }
    qc->since_query_state = jm_args_str(call, "sinceQueryState");
    mc = jm_args_get(call, "maxChanges");
    qc->max_changes = mc ? (apr_size_t)json_integer_value(mc) : 0;
    qc->up_to_id = jm_args_str(call, "upToId");
    qc->calculate_total = jm_args_bool(call, "calculateTotal", 0);
    return 1;
}

apr_status_t jm_querychanges_run(jm_querychanges_t *qc)
{
    jm_call_t *call = qc->call;
    apr_status_t rv;

    if ((rv = qc->type->changes(qc)) != APR_SUCCESS || call->error) {
        return rv;
    }
    if (qc->cannot_calculate) {
        return jm_call_error(call, "cannotCalculateChanges", "The %s query "
                             "changes since %s are not known.",
                             qc->type->query->name, qc->since_query_state);
    }
    if (!qc->changed || !qc->current || !qc->new_query_state) {
        return APR_EGENERAL;
    }
    if (jm_querychanges_compute(&qc->removed, &qc->added, qc->changed, qc->current,
                                qc->up_to_id, qc->max_changes, call->pool) != 0) {
        return jm_call_error(call, "tooManyChanges", "%d changes; maxChanges "
                             "is %lu.", qc->removed->nelts + qc->added->nelts,
                             (unsigned long)qc->max_changes);
    }
    return APR_SUCCESS;
}

void jm_querychanges_reply(jm_querychanges_t *qc)
{
    jm_call_t *call = qc->call;
    json_t *removed = json_array(), *added = json_array();
    int i;

    for (i = 0; i < qc->removed->nelts; i++) {
        json_array_append_new(removed,
                              json_string(APR_ARRAY_IDX(qc->removed, i, const char *)));
    }
    for (i = 0; i < qc->added->nelts; i++) {
        jm_added_item_t *a = &APR_ARRAY_IDX(qc->added, i, jm_added_item_t);
        json_array_append_new(added, json_pack("{s:s, s:I}", "id", a->id,
                                               "index", (json_int_t)a->index));
    }
    call->result = json_pack("{s:s, s:s, s:s, s:o, s:o}", "accountId",
                             call->ctx->account->id, "oldQueryState",
                             qc->since_query_state, "newQueryState",
                             qc->new_query_state, "removed", removed, "added", added);
    if (qc->calculate_total) {
        json_object_set_new(call->result, "total",
                            json_integer((json_int_t)qc->current->nelts));
    }
}

apr_status_t jm_std_querychanges(jm_call_t *call,
                                 const jm_querychanges_type_t *type, void *baton)
{
    jm_querychanges_t qc;
    apr_status_t rv;

    if (!jm_querychanges_parse(&qc, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_querychanges_run(&qc)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_querychanges_reply(&qc);
    return APR_SUCCESS;
}
