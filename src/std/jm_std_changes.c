/* Foo/changes (RFC 8620 §5.2). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "std/jm_std_changes.h"

static const jm_arg_t changes_args[] = {
    { "sinceState", JM_PT_STRING, JM_ARG_REQUIRED },
    { "maxChanges", JM_PT_UINT,   JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

/* What happened to one id within the folded range. */
typedef struct {
    const char *id;
    jm_change_kind_t first, last;
} fold_id_t;

static int bucket(const fold_id_t *f)
{
    if (f->last == JM_CHANGE_DESTROYED) {
        /* created and destroyed within the range: not reported */
        return f->first == JM_CHANGE_CREATED ? 0 : JM_CHANGE_DESTROYED;
    }
    return f->first == JM_CHANGE_CREATED ? JM_CHANGE_CREATED : JM_CHANGE_UPDATED;
}

/* Fold records [from, to) into ids (kept in order of first appearance);
 * count is how many ids are reported so far; returns the new count. */
static apr_size_t fold_range(apr_array_header_t *order, apr_hash_t *ids,
                             const apr_array_header_t *records, int from, int to,
                             apr_size_t count, apr_pool_t *p)
{
    int i;

    for (i = from; i < to; i++) {
        const jm_change_t *c = &APR_ARRAY_IDX(records, i, jm_change_t);
        fold_id_t *f = apr_hash_get(ids, c->id, APR_HASH_KEY_STRING);
        if (!f) {
            f = apr_pcalloc(p, sizeof(*f));
            f->id = c->id;
            f->first = f->last = c->kind;
            apr_hash_set(ids, c->id, APR_HASH_KEY_STRING, f);
            APR_ARRAY_PUSH(order, fold_id_t *) = f;
            count += bucket(f) != 0;
            continue;
        }
        count -= bucket(f) != 0;
        f->last = c->kind;
        count += bucket(f) != 0;
    }
    return count;
}

int jm_changes_fold(jm_changes_fold_t *out, const apr_array_header_t *records,
                    apr_size_t max, apr_int64_t since, apr_int64_t current,
                    int truncated, apr_pool_t *p)
{
    apr_hash_t *ids = apr_hash_make(p);
    apr_array_header_t *order = apr_array_make(p, 16, sizeof(fold_id_t *));
    apr_size_t n = 0;
    int cut = 0, j;

    out->created = apr_array_make(p, 8, sizeof(const char *));
    out->updated = apr_array_make(p, 8, sizeof(const char *));
    out->destroyed = apr_array_make(p, 8, sizeof(const char *));
    out->new_state = since;
    out->has_more = 0;
    /* whole states while the count stays within max */
    while (cut < records->nelts) {
        apr_int64_t st = APR_ARRAY_IDX(records, cut, jm_change_t).state;
        int end = cut;
        while (end < records->nelts && APR_ARRAY_IDX(records, end, jm_change_t).state == st) {
            end++;
        }
        n = fold_range(order, ids, records, cut, end, n, p);
        if (max && n > max) {
            if (cut == 0) {
                return -1;
            }
            out->has_more = 1;
            break;
        }
        out->new_state = st;
        cut = end;
    }
    if (out->has_more) {
        /* the last state did not fit: fold again without it */
        apr_hash_clear(ids);
        order->nelts = 0;
        fold_range(order, ids, records, 0, cut, 0, p);
    }
    else if (truncated && records->nelts > 0) {
        out->has_more = 1;      /* new_state: the last state the store gave */
    }
    else {
        out->new_state = current;
    }
    for (j = 0; j < order->nelts; j++) {
        fold_id_t *f = APR_ARRAY_IDX(order, j, fold_id_t *);
        switch (bucket(f)) {
        case JM_CHANGE_CREATED:
            APR_ARRAY_PUSH(out->created, const char *) = f->id;
            break;
        case JM_CHANGE_UPDATED:
            APR_ARRAY_PUSH(out->updated, const char *) = f->id;
            break;
        case JM_CHANGE_DESTROYED:
            APR_ARRAY_PUSH(out->destroyed, const char *) = f->id;
            break;
        default:
            break;
        }
    }
    return 0;
}

int jm_changes_parse_state(const char *s, apr_int64_t *pstate)
{
    apr_int64_t v = 0;
    const char *c;

    if (!s || !*s || strlen(s) > 18 || (s[0] == '0' && s[1])) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
        v = v * 10 + (*c - '0');
    }
    *pstate = v;
    return 1;
}

int jm_changes_parse(jm_changes_t *ch, jm_call_t *call,
                     const jm_changes_type_t *type, void *baton)
{
    json_t *mc;

    memset(ch, 0, sizeof(*ch));
    ch->call = call;
    ch->type = type;
    ch->baton = baton;
    if (!jm_args_check(call, changes_args, type->extra_args)) {
        return 0;
    }
    ch->since_state = jm_args_str(call, "sinceState");
    mc = jm_args_get(call, "maxChanges");
    if (mc && json_integer_value(mc) == 0) {
        /* §5.2: a positive integer, else invalidArguments */
        jm_call_error(call, "invalidArguments", "maxChanges must be greater than 0.");
        return 0;
    }
    ch->max = mc ? (apr_size_t)json_integer_value(mc) : 0;
    if (type->max_changes && (!ch->max || ch->max > type->max_changes)) {
        ch->max = type->max_changes;
    }
    return 1;
}

apr_status_t jm_changes_run(jm_changes_t *ch)
{
    jm_call_t *call = ch->call;
    apr_int64_t oldest = 0, current = 0;
    int truncated = 0;
    apr_status_t rv;

    if (!jm_changes_parse_state(ch->since_state, &ch->since)) {
        return jm_call_error(call, "cannotCalculateChanges", "\"%s\" is not a "
                             "%s state of this server.", ch->since_state,
                             ch->type->name);
    }
    rv = ch->type->fetch(ch, ch->since, ch->max, &ch->records, &truncated,
                         &oldest, &current);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ch->since < oldest || ch->since > current) {
        return jm_call_error(call, "cannotCalculateChanges", "The %s changes "
                             "since state %s are no longer known; the oldest "
                             "known state is %" APR_INT64_T_FMT ".",
                             ch->type->name, ch->since_state, oldest);
    }
    if (jm_changes_fold(&ch->fold, ch->records, ch->max, ch->since, current,
                        truncated, call->pool) != 0) {
        return jm_call_error(call, "cannotCalculateChanges", "One %s state "
                             "changed more than maxChanges (%lu) records.",
                             ch->type->name, (unsigned long)ch->max);
    }
    if (ch->type->finish && (rv = ch->type->finish(ch)) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

static json_t *id_array(const apr_array_header_t *a)
{
    json_t *out = json_array();
    int i;

    for (i = 0; i < a->nelts; i++) {
        json_array_append_new(out, json_string(APR_ARRAY_IDX(a, i, const char *)));
    }
    return out;
}

void jm_changes_reply(jm_changes_t *ch)
{
    jm_call_t *call = ch->call;

    call->result = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o}",
        "accountId", call->ctx->account->id, "oldState", ch->since_state,
        "newState", apr_psprintf(call->pool, "%" APR_INT64_T_FMT, ch->fold.new_state),
        "hasMoreChanges", ch->fold.has_more,
        "created", id_array(ch->fold.created), "updated", id_array(ch->fold.updated),
        "destroyed", id_array(ch->fold.destroyed));
    if (ch->type->updated_properties) {
        json_object_set(call->result, "updatedProperties",
                        ch->updated_properties ? ch->updated_properties : json_null());
    }
}

apr_status_t jm_std_changes(jm_call_t *call, const jm_changes_type_t *type,
                            void *baton)
{
    jm_changes_t ch;
    apr_status_t rv;

    if (!jm_changes_parse(&ch, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_changes_run(&ch)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_changes_reply(&ch);
    return APR_SUCCESS;
}
