/* Foo/query (RFC 8620 §5.5): filters, comparators, windows, and an
 * in-memory executor for small types. */
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_query.h"
#include "core/jm_util.h"

static const jm_arg_t query_args[] = {
    { "filter",         JM_PT_OBJECT, JM_ARG_NULLABLE },
    { "sort",           JM_PT_ARRAY,  JM_ARG_NULLABLE },
    { "position",       JM_PT_INT,    0 },
    { "anchor",         JM_PT_ID,     JM_ARG_NULLABLE },
    { "anchorOffset",   JM_PT_INT,    0 },
    { "limit",          JM_PT_UINT,   JM_ARG_NULLABLE },
    { "calculateTotal", JM_PT_BOOL,   0 },
    { NULL, 0, 0 }
};

void jm_query_init(jm_query_t *q, jm_call_t *call, const jm_query_type_t *type,
                   void *baton)
{
    memset(q, 0, sizeof(*q));
    q->call = call;
    q->type = type;
    q->baton = baton;
    q->sort = apr_array_make(call->pool, 2, sizeof(jm_comparator_t));
    q->window.limit = JM_QUERY_NO_LIMIT;
    q->can_calculate_changes = type->can_calculate_changes;
}

static int bad_arg(jm_query_t *q, jm_path_t *path, const char *why)
{
    jm_call_error(q->call, "invalidArguments", "Invalid argument %s (%s).",
                  jm_path_str(path), why);
    return 0;
}

/* The default condition: FILTER properties compared for equality. */
static jm_cond_status_t default_cond(jm_query_t *q, json_t *cond, jm_path_t *path,
                                     const char **pwhy)
{
    const char *k;
    json_t *v;

    json_object_foreach(cond, k, v) {
        const jm_prop_t *prop = jm_prop_find(q->type->props, k);
        if (!prop || !(prop->flags & JM_PROP_FILTER)) {
            *pwhy = apr_psprintf(q->call->pool, "%s cannot be filtered on %s",
                                 q->type->name, k);
            return JM_COND_UNSUPPORTED;
        }
        if (!jm_prop_check(prop, v, path)) {
            *pwhy = jm_path_first(path);
            return JM_COND_INVALID;
        }
    }
    return JM_COND_OK;
}

static jm_filter_t *parse_node(jm_query_t *q, json_t *v, int depth, jm_path_t *path)
{
    int max_depth = q->type->max_depth ? q->type->max_depth : JM_FILTER_MAX_DEPTH;
    jm_filter_t *f = apr_pcalloc(q->call->pool, sizeof(*f));
    json_t *op, *conds, *e;
    const char *k, *why = NULL;
    size_t i;

    if (!json_is_object(v)) {
        bad_arg(q, path, "not a FilterOperator or FilterCondition");
        return NULL;
    }
    if (++q->nodes > JM_FILTER_MAX_NODES) {
        jm_call_error(q->call, "unsupportedFilter", "The filter has more than "
                      "%d operators and conditions.", JM_FILTER_MAX_NODES);
        return NULL;
    }
    if (!(op = json_object_get(v, "operator"))) {
        jm_cond_status_t st = q->type->condition
            ? q->type->condition(q, v, &f->data, path, &why)
            : default_cond(q, v, path, &why);
        if (st == JM_COND_INVALID) {
            jm_call_error(q->call, "invalidArguments", "Invalid FilterCondition "
                          "%s: %s.", jm_path_str(path), why ? why : "bad value");
            return NULL;
        }
        if (st == JM_COND_UNSUPPORTED) {
            jm_call_error(q->call, "unsupportedFilter", "FilterCondition %s: %s.",
                          *jm_path_str(path) ? jm_path_str(path) : "filter",
                          why ? why : "not supported");
            return NULL;
        }
        f->op = JM_FILTER_COND;
        f->cond = v;
        return f;
    }
    json_object_foreach(v, k, e) {
        if (strcmp(k, "operator") != 0 && strcmp(k, "conditions") != 0) {
            jm_path_push(path, k);
            bad_arg(q, path, "a FilterOperator has only operator and conditions");
            return NULL;
        }
    }
    k = json_string_value(op);
    f->op = !k ? JM_FILTER_COND : strcmp(k, "AND") == 0 ? JM_FILTER_AND
          : strcmp(k, "OR") == 0 ? JM_FILTER_OR : strcmp(k, "NOT") == 0
          ? JM_FILTER_NOT : JM_FILTER_COND;
    if (f->op == JM_FILTER_COND) {
        jm_path_push(path, "operator");
        bad_arg(q, path, "must be AND, OR or NOT");
        return NULL;
    }
    conds = json_object_get(v, "conditions");
    if (!json_is_array(conds)) {
        jm_path_push(path, "conditions");
        bad_arg(q, path, "must be an array");
        return NULL;
    }
    if (depth >= max_depth) {
        jm_call_error(q->call, "unsupportedFilter", "The filter nests operators "
                      "deeper than %d.", max_depth);
        return NULL;
    }
    f->conditions = apr_array_make(q->call->pool, (int)json_array_size(conds) + 1,
                                   sizeof(jm_filter_t *));
    jm_path_push(path, "conditions");
    json_array_foreach(conds, i, e) {
        jm_filter_t *sub;
        jm_path_push_index(path, i);
        if (!(sub = parse_node(q, e, depth + 1, path))) {
            return NULL;
        }
        jm_path_pop(path);
        APR_ARRAY_PUSH(f->conditions, jm_filter_t *) = sub;
    }
    jm_path_pop(path);
    return f;
}

int jm_query_parse_filter(jm_query_t *q, json_t *filter)
{
    jm_path_t path;

    if (!filter || json_is_null(filter)) {
        q->filter = NULL;
        return 1;
    }
    jm_path_init(&path, q->call->pool);
    jm_path_push(&path, "filter");
    q->filter = parse_node(q, filter, 0, &path);
    return q->filter != NULL;
}

int jm_query_parse_sort(jm_query_t *q, json_t *sort)
{
    jm_call_t *call = q->call;
    jm_path_t path;
    json_t *e, *v;
    size_t i;

    if (!sort || json_is_null(sort)) {
        return 1;
    }
    jm_path_init(&path, call->pool);
    jm_path_push(&path, "sort");
    if (!json_is_array(sort)) {
        return bad_arg(q, &path, "must be an array of Comparators");
    }
    json_array_foreach(sort, i, e) {
        jm_comparator_t *c = &APR_ARRAY_PUSH(q->sort, jm_comparator_t);
        const char *k, *coll;
        int extra = 0;

        memset(c, 0, sizeof(*c));
        jm_path_push_index(&path, i);
        if (!json_is_object(e)) {
            return bad_arg(q, &path, "not a Comparator");
        }
        json_object_foreach(e, k, v) {
            if (strcmp(k, "property") == 0) {
                if (!json_is_string(v)) {
                    jm_path_push(&path, k);
                    return bad_arg(q, &path, "not a string");
                }
            }
            else if (strcmp(k, "isAscending") == 0 || strcmp(k, "collation") == 0) {
                if (k[0] == 'i' ? !json_is_boolean(v) : !json_is_string(v)) {
                    jm_path_push(&path, k);
                    return bad_arg(q, &path, k[0] == 'i' ? "not a boolean"
                                                         : "not a string");
                }
            }
            else if (!q->type->sort) {
                jm_path_push(&path, k);
                return bad_arg(q, &path, "unknown Comparator property");
            }
            else {
                extra = 1;     /* the type's sort callback decides */
            }
        }
        if (!(c->property = json_string_value(json_object_get(e, "property")))) {
            jm_path_push(&path, "property");
            return bad_arg(q, &path, "required");
        }
        c->raw = e;
        c->ascending = !json_is_false(json_object_get(e, "isAscending"));
        c->collation = JM_COLL_UNICODE_CASEMAP;
        coll = json_string_value(json_object_get(e, "collation"));
        if (coll && !jm_collation_find(coll, &c->collation)) {
            return jm_call_error(call, "unsupportedSort", "sort/%lu: unknown "
                                 "collation \"%s\".", (unsigned long)i, coll), 0;
        }
        c->prop = jm_prop_find(q->type->props, c->property);
        if (c->prop && !(c->prop->flags & JM_PROP_SORT)) {
            c->prop = NULL;
        }
        if ((!c->prop || extra) && !(q->type->sort && q->type->sort(q, c))) {
            /* the type's callback may have said better (a bad member) */
            return call->error ? 0 : (jm_call_error(call, "unsupportedSort",
                                 "sort/%lu: %s cannot be sorted by \"%s\".",
                                 (unsigned long)i, q->type->name, c->property), 0);
        }
        jm_path_pop(&path);
    }
    return 1;
}

int jm_query_parse(jm_query_t *q, jm_call_t *call, const jm_query_type_t *type,
                   void *baton)
{
    json_t *limit;

    jm_query_init(q, call, type, baton);
    if (!jm_args_check(call, query_args, type->extra_args)
        || !jm_query_parse_filter(q, jm_args_get(call, "filter"))
        || !jm_query_parse_sort(q, jm_args_get(call, "sort"))) {
        return 0;
    }
    q->window.position = jm_args_int(call, "position", 0);
    q->window.anchor = jm_args_str(call, "anchor");
    q->window.anchor_offset = jm_args_int(call, "anchorOffset", 0);
    q->window.calculate_total = jm_args_bool(call, "calculateTotal", 0);
    limit = jm_args_get(call, "limit");
    if (limit) {
        q->window.limit = (apr_size_t)json_integer_value(limit);
    }
    /* §5.5: a server cap clamps the limit and is told in the response */
    if (type->max_limit && (!limit || q->window.limit > type->max_limit)) {
        q->window.limit = type->max_limit;
        q->window.limit_capped = 1;
    }
    return 1;
}

int jm_query_window_apply(const apr_array_header_t *all, const jm_query_window_t *w,
                          apr_array_header_t **pids, apr_size_t *pposition,
                          apr_pool_t *p)
{
    apr_int64_t n = all->nelts, start, end, i;

    if (w->anchor) {
        for (i = 0; i < n; i++) {
            if (strcmp(APR_ARRAY_IDX(all, i, const char *), w->anchor) == 0) {
                break;
            }
        }
        if (i == n) {
            return -1;
        }
        start = i + w->anchor_offset;
    }
    else {
        start = w->position < 0 ? n + w->position : w->position;
    }
    if (start < 0) {
        start = 0;                  /* §5.5: clamped to 0 */
    }
    end = start >= n ? start : (w->limit == JM_QUERY_NO_LIMIT
                                || (apr_int64_t)w->limit > n - start)
        ? n : start + (apr_int64_t)w->limit;
    *pids = apr_array_make(p, (int)(end > start ? end - start : 0) + 1,
                           sizeof(const char *));
    for (i = start; i < end; i++) {
        APR_ARRAY_PUSH(*pids, const char *) = APR_ARRAY_IDX(all, i, const char *);
    }
    *pposition = (apr_size_t)start;
    return 0;
}

apr_status_t jm_query_run(jm_query_t *q)
{
    apr_status_t rv;

    if ((rv = q->type->run(q)) != APR_SUCCESS || q->call->error) {
        return rv;
    }
    if (!q->query_state || (!q->all && !q->ids)) {
        return APR_EGENERAL;
    }
    if (q->all) {
        q->anchor_not_found = jm_query_window_apply(q->all, &q->window, &q->ids,
                                                    &q->position, q->call->pool) != 0;
        q->total = (apr_size_t)q->all->nelts;
    }
    if (q->anchor_not_found) {
        return jm_call_error(q->call, "anchorNotFound", "The anchor %s is not "
                             "in the results.", q->window.anchor);
    }
    return APR_SUCCESS;
}

void jm_query_reply(jm_query_t *q)
{
    jm_call_t *call = q->call;
    json_t *ids = json_array();
    int i;

    for (i = 0; i < q->ids->nelts; i++) {
        json_array_append_new(ids, json_string(APR_ARRAY_IDX(q->ids, i, const char *)));
    }
    call->result = json_pack("{s:s, s:s, s:b, s:I, s:o}", "accountId",
                             call->ctx->account->id, "queryState", q->query_state,
                             "canCalculateChanges", q->can_calculate_changes,
                             "position", (json_int_t)q->position, "ids", ids);
    if (q->window.calculate_total) {
        json_object_set_new(call->result, "total", json_integer((json_int_t)q->total));
    }
    if (q->window.limit_capped) {
        json_object_set_new(call->result, "limit",
                            json_integer((json_int_t)q->window.limit));
    }
}

apr_status_t jm_std_query(jm_call_t *call, const jm_query_type_t *type, void *baton)
{
    jm_query_t q;
    apr_status_t rv;

    if (!jm_query_parse(&q, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_query_run(&q)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_query_reply(&q);
    return APR_SUCCESS;
}

/* ---- the in-memory executor ------------------------------------------- */

static int equal_match(const jm_filter_t *cond, const json_t *obj)
{
    const char *k;
    json_t *v;

    json_object_foreach(cond->cond, k, v) {
        json_t *have = json_object_get(obj, k);
        if (!(have ? json_equal(have, v) : json_is_null(v))) {
            return 0;
        }
    }
    return 1;
}

int jm_query_matches(jm_query_t *q, const jm_filter_t *f, const json_t *obj,
                     jm_query_match_fn *match)
{
    int i, m;

    if (!f) {
        return 1;
    }
    if (f->op == JM_FILTER_COND) {
        return match ? match(q, f, obj) : equal_match(f, obj);
    }
    for (i = 0; i < f->conditions->nelts; i++) {
        m = jm_query_matches(q, APR_ARRAY_IDX(f->conditions, i, jm_filter_t *),
                             obj, match);
        if (f->op == JM_FILTER_AND && !m) {
            return 0;
        }
        if (f->op != JM_FILTER_AND && m) {
            return f->op == JM_FILTER_OR;    /* NOT: none may match */
        }
    }
    return f->op != JM_FILTER_OR;
}

static int sign(double d)
{
    return d < 0 ? -1 : d > 0;
}

/* §5.5: strings by collation, false before true, numbers and dates by
 * value; absent and null first. */
static int compare_values(const jm_comparator_t *c, const json_t *a, const json_t *b)
{
    apr_time_t ta, tb;

    if (!a || json_is_null(a) || !b || json_is_null(b)) {
        return (a && !json_is_null(a)) - (b && !json_is_null(b));
    }
    if (json_is_string(a) && json_is_string(b)) {
        if (c->prop && (c->prop->type == JM_PT_DATE || c->prop->type == JM_PT_UTCDATE)
            && jm_util_parse_date(json_string_value(a), 0, &ta) == 0
            && jm_util_parse_date(json_string_value(b), 0, &tb) == 0) {
            return ta < tb ? -1 : ta > tb;
        }
        return jm_collation_compare(c->collation, json_string_value(a),
                                    json_string_value(b));
    }
    if (json_is_boolean(a) && json_is_boolean(b)) {
        return json_is_true(a) - json_is_true(b);
    }
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t x = json_integer_value(a), y = json_integer_value(b);
            return x < y ? -1 : x > y;
        }
        return sign(json_number_value(a) - json_number_value(b));
    }
    return (int)json_typeof(a) - (int)json_typeof(b);
}

int jm_query_compare(const jm_query_t *q, const json_t *a, const json_t *b)
{
    int i, r;

    for (i = 0; i < q->sort->nelts; i++) {
        const jm_comparator_t *c = &APR_ARRAY_IDX(q->sort, i, jm_comparator_t);
        r = compare_values(c, json_object_get(a, c->property),
                           json_object_get(b, c->property));
        if (r) {
            return c->ascending ? r : -r;
        }
    }
    r = strcmp(json_string_value(json_object_get(a, "id")),
               json_string_value(json_object_get(b, "id")));
    return r < 0 ? -1 : r > 0;
}

/* A stable merge sort with the query as context (qsort has none). */
static void merge_sort(const jm_query_t *q, json_t **v, json_t **tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2) {
        return;
    }
    merge_sort(q, v, tmp, mid);
    merge_sort(q, v + mid, tmp, n - mid);
    while (i < mid && j < n) {
        tmp[k++] = jm_query_compare(q, v[j], v[i]) < 0 ? v[j++] : v[i++];
    }
    while (i < mid) {
        tmp[k++] = v[i++];
    }
    while (j < n) {
        tmp[k++] = v[j++];
    }
    memcpy(v, tmp, n * sizeof(*v));
}

apr_status_t jm_query_memory(jm_query_t *q, const json_t *objects,
                             jm_query_match_fn *match)
{
    apr_pool_t *p = q->call->pool;
    size_t n = json_array_size(objects), i, m = 0;
    json_t **v = apr_palloc(p, (n + 1) * sizeof(*v));
    json_t **tmp = apr_palloc(p, (n + 1) * sizeof(*tmp));
    json_t *o;

    json_array_foreach((json_t *)objects, i, o) {
        if (!json_is_string(json_object_get(o, "id"))) {
            return APR_EGENERAL;
        }
        if (jm_query_matches(q, q->filter, o, match)) {
            v[m++] = o;
        }
    }
    merge_sort(q, v, tmp, m);
    q->all = apr_array_make(p, (int)m + 1, sizeof(const char *));
    for (i = 0; i < m; i++) {
        APR_ARRAY_PUSH(q->all, const char *) =
            apr_pstrdup(p, json_string_value(json_object_get(v[i], "id")));
    }
    return APR_SUCCESS;
}
