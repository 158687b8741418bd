/* Email/query (RFC 8621 §4.4, RFC 8620 §5.5). */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "store/jm_store.h"
#include "store/jm_store_query.h"
#include "mail/jm_email_filter.h"
#include "core/jm_util.h"

#include "mail/jm_mail.h"
#include "std/jm_std_query.h"
#include "std/jm_std_querychanges.h"

/* Email's comparators are all the type's own (jm_email_comparator): the
 * table lists the filterable/sortable names only for the framework's
 * property checks, not for its equality filter or generic sort. */
static const jm_prop_t email_query_props[] = {
    { "id", JM_PT_ID, JM_PROP_SERVER_SET },
    { NULL, 0, 0 }
};

static const jm_arg_t email_query_args[] = {
    { "collapseThreads", JM_PT_BOOL, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

/* One FilterCondition of §4.4.1, parsed into a jm_email_cond_t kept on the
 * framework's tree node. */
static jm_cond_status_t email_cond(jm_query_t *q, json_t *cond, void **pdata,
                                   jm_path_t *path, const char **pwhy)
{
    jm_eq_error_t err;
    const void *c;

    if (!jm_email_filter_condition(&c, cond, jm_path_str(path), &err, q->call->pool)) {
        *pwhy = err.description;
        return !strcmp(err.type, "unsupportedFilter") ? JM_COND_UNSUPPORTED
                                                      : JM_COND_INVALID;
    }
    *pdata = (void *)c;
    return JM_COND_OK;
}

/* Every comparator of §4.4.2 (keyword sorts carry a "keyword" member). */
static int email_sort(jm_query_t *q, jm_comparator_t *c)
{
    jm_eq_error_t err;
    jm_sort_t s;

    if (jm_email_comparator(&s, c->raw, "sort", &err, q->call->pool)) {
        return 1;
    }
    /* unsupportedSort for what Email cannot sort by, invalidArguments for
     * a comparator it can with a bad member (a keyword sort without one) */
    jm_call_error(q->call, err.type, "%s", err.description);
    return 0;
}

/* The framework's filter tree as the store's; NULL when it holds more
 * search terms than one query may (*pterms counts them). */
static const jm_sq_filter_t *store_filter(const jm_filter_t *f, int *pterms,
                                          apr_pool_t *p)
{
    jm_sq_filter_t *out = apr_pcalloc(p, sizeof(*out));
    int i;

    if (f->op == JM_FILTER_COND) {
        out->op = JM_SQ_COND;
        out->cond = f->data;
        *pterms += jm_email_cond_terms(f->data);
        return *pterms > JM_SQ_FILTER_MAX_TERMS ? NULL : out;
    }
    out->op = f->op == JM_FILTER_AND ? JM_SQ_AND : f->op == JM_FILTER_OR ? JM_SQ_OR
                                                                        : JM_SQ_NOT;
    out->children = apr_array_make(p, f->conditions->nelts + 1, sizeof(jm_sq_filter_t *));
    for (i = 0; i < f->conditions->nelts; i++) {
        const jm_sq_filter_t *c = store_filter(APR_ARRAY_IDX(f->conditions, i,
                                                             jm_filter_t *), pterms, p);
        if (!c) {
            return NULL;
        }
        APR_ARRAY_PUSH(out->children, const jm_sq_filter_t *) = c;
    }
    return out;
}

/* Thread-keyword conditions and sorts depend on the other emails of a
 * thread, whose changes are not this email's: /queryChanges cannot
 * follow them from the change log (nor collapseThreads' choice). */
static int thread_dependent(const jm_filter_t *f)
{
    int i;

    if (!f) {
        return 0;
    }
    if (f->op == JM_FILTER_COND) {
        const jm_email_cond_t *c = f->data;
        return c->all_in_thread_kw || c->some_in_thread_kw || c->none_in_thread_kw;
    }
    for (i = 0; i < f->conditions->nelts; i++) {
        if (thread_dependent(APR_ARRAY_IDX(f->conditions, i, jm_filter_t *))) {
            return 1;
        }
    }
    return 0;
}

/* The framework's parsed query as the store's; 0 with call->error set. */
static int store_query(jm_sq_query_t *sq, int *pfollowable, jm_query_t *q,
                       int collapse)
{
    jm_call_t *call = q->call;
    apr_array_header_t *sort = apr_array_make(call->pool, q->sort->nelts + 1,
                                              sizeof(jm_sort_t));
    int i, terms = 0;

    memset(sq, 0, sizeof(*sq));
    *pfollowable = !collapse && !thread_dependent(q->filter);
    if (q->filter && !(sq->filter = store_filter(q->filter, &terms, call->pool))) {
        jm_call_error(call, "unsupportedFilter", "The filter has more than %d search "
                      "terms.", JM_SQ_FILTER_MAX_TERMS);
        return 0;
    }
    for (i = 0; i < q->sort->nelts; i++) {
        jm_comparator_t *c = &APR_ARRAY_IDX(q->sort, i, jm_comparator_t);
        jm_sort_t *s = apr_array_push(sort);
        jm_eq_error_t err;

        if (!jm_email_comparator(s, c->raw, "sort", &err, call->pool)) {
            jm_call_error(call, err.type, "%s", err.description);
            return 0;
        }
        if (s->prop == JM_SORT_ALL_IN_THREAD || s->prop == JM_SORT_SOME_IN_THREAD) {
            *pfollowable = 0;
        }
    }
    sq->sort = sort;
    sq->collapse_threads = collapse;
    return 1;
}

static apr_status_t email_run(jm_query_t *q)
{
    jm_call_t *call = q->call;
    jm_ctx_t *ctx = call->ctx;
    jm_sq_query_t sq;
    jm_sq_result_t res;
    const char *why;
    apr_status_t rv;
    int followable;

    if (!store_query(&sq, &followable, q, jm_args_bool(call, "collapseThreads", 0))) {
        return APR_SUCCESS;
    }
    sq.position = q->window.position;
    sq.anchor = q->window.anchor;
    sq.anchor_offset = q->window.anchor_offset;
    sq.limit = q->window.limit == JM_QUERY_NO_LIMIT ? -1 : (apr_int64_t)q->window.limit;
    sq.calculate_total = q->window.calculate_total;
    /* the state first: a change landing meanwhile shows in the next call */
    if (APR_SUCCESS != (rv = jm_store_state(&q->query_state, ctx->db, ctx->account->id,
                                            JM_TYPE_EMAIL, call->pool))) {
        return rv;
    }
    rv = jm_store_email_query(&res, &why, ctx->db, ctx->account->id, &sq, call->pool);
    if (rv == APR_NOTFOUND) {
        q->anchor_not_found = 1;
        q->ids = apr_array_make(call->pool, 1, sizeof(const char *));
        return APR_SUCCESS;
    }
    if (rv == APR_ENOTIMPL) {
        return jm_call_error(call, "unsupportedFilter", "%s", why);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    q->ids = res.ids;
    q->position = (apr_size_t)res.position;
    q->total = res.total >= 0 ? (apr_size_t)res.total : 0;
    if (res.limit_capped) {
        q->window.limit_capped = 1;
        q->window.limit = (apr_size_t)res.limit;
    }
    q->can_calculate_changes = followable;
    return APR_SUCCESS;
}

static const jm_query_type_t email_query_type = {
    "Email", email_query_props, email_query_args, email_cond, email_sort, email_run,
    0, JM_SQ_FILTER_MAX_DEPTH, 0
};

int jm_email_query_filter(const jm_sq_filter_t **pf, jm_call_t *call,
                          json_t *filter)
{
    jm_query_t q;
    int terms = 0;

    *pf = NULL;
    jm_query_init(&q, call, &email_query_type, NULL);
    if (!jm_query_parse_filter(&q, filter)) {
        return 0;
    }
    if (q.filter && !(*pf = store_filter(q.filter, &terms, call->pool))) {
        jm_call_error(call, "unsupportedFilter", "The filter has more than %d search "
                      "terms.", JM_SQ_FILTER_MAX_TERMS);
        return 0;
    }
    return 1;
}

/* RFC 8621 §4.4 on the standard /query (src/std): arguments, filter tree,
 * comparators and window are the framework's; the store runs one SQL
 * query per question with the window pushed down. */
apr_status_t jm_email_query(jm_call_t *call)
{
    jm_query_t q;
    apr_status_t rv;

    if (!jm_query_parse(&q, call, &email_query_type, NULL)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_query_run(&q)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_query_reply(&q);
    /* §4.4.3: the response repeats collapseThreads */
    json_object_set_new(call->result, "collapseThreads",
                        json_boolean(jm_args_bool(call, "collapseThreads", 0)));
    return APR_SUCCESS;
}

/* How many results Email/queryChanges compares (the whole current result
 * is its input): beyond, cannotCalculateChanges, and the client queries
 * again. */
#define QC_MAX_RESULTS 10000

/* RFC 8620 §5.6 from the change log: every Email changed since the state
 * (created, updated: keywords, mailboxes, thread; destroyed) may have
 * moved, and is removed; those in the current results are added at their
 * index. */
static apr_status_t qc_changes(jm_querychanges_t *qc)
{
    jm_call_t *call = qc->call;
    jm_ctx_t *ctx = call->ctx;
    apr_array_header_t *rec;
    apr_int64_t since, cur, oldest;
    jm_sq_query_t sq;
    jm_sq_result_t res;
    const char *why;
    apr_status_t rv;
    int more = 0, followable, i;

    if (!store_query(&sq, &followable, &qc->q, jm_args_bool(call, "collapseThreads", 0))) {
        return APR_SUCCESS;
    }
    if (!followable || !jm_changes_parse_state(qc->since_query_state, &since)) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    if ((rv = jm_store_changes_since(&rec, &more, &cur, &oldest, ctx->db,
                                     ctx->account->id, JM_TYPE_EMAIL, since,
                                     JM_MAIL_CHANGES_READ_MAX, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if (!rec || more) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    qc->changed = apr_array_make(call->pool, rec->nelts + 1, sizeof(const char *));
    for (i = 0; i < rec->nelts; i++) {
        APR_ARRAY_PUSH(qc->changed, const char *) = APR_ARRAY_IDX(rec, i, jm_change_t).id;
    }
    sq.limit = sq.max_limit = QC_MAX_RESULTS;
    sq.calculate_total = 1;
    rv = jm_store_email_query(&res, &why, ctx->db, ctx->account->id, &sq, call->pool);
    if (rv == APR_ENOTIMPL) {
        return jm_call_error(call, "unsupportedFilter", "%s", why);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (res.total > QC_MAX_RESULTS) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    qc->current = res.ids;
    qc->new_query_state = apr_psprintf(call->pool, "%" APR_INT64_T_FMT, cur);
    return APR_SUCCESS;
}

static const jm_querychanges_type_t email_qc_type = {
    &email_query_type, email_query_args, qc_changes
};

apr_status_t jm_email_querychanges(jm_call_t *call)
{
    return jm_std_querychanges(call, &email_qc_type, NULL);
}
