/* Foo/get (RFC 8620 §5.1). */
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_get.h"
#include "core/jm_util.h"
#include "core/jm_raw.h"

static const jm_arg_t get_args[] = {
    { "ids",        JM_PT_ARRAY, JM_ARG_NULLABLE },
    { "properties", JM_PT_ARRAY, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

int jm_get_wants(const jm_get_t *get, const char *prop)
{
    if (!jm_prop_find(get->type->props, prop)) {
        return get->want && apr_hash_get(get->want, prop, APR_HASH_KEY_STRING);
    }
    return jm_prop_wanted(get->type->props, get->want, prop);
}

/* ids: Id or "#creationId" strings; a creation id unknown to this request
 * is answered in notFound as given. Answered once each (§5.1). */
static int parse_ids(jm_get_t *get, json_t *ids)
{
    jm_call_t *call = get->call;
    apr_hash_t *seen = apr_hash_make(call->pool);
    long max = call->ctx->limits->max_objects_in_get;
    json_t *v;
    size_t i;

    json_array_foreach(ids, i, v) {
        const char *s = json_string_value(v);
        if (!s || (s[0] == '#' ? !jm_util_is_valid_id(s + 1) : !jm_util_is_valid_id(s))) {
            jm_call_error(call, "invalidArguments", "ids/%lu: not an Id.",
                          (unsigned long)i);
            return 0;
        }
    }
    if ((long)json_array_size(ids) > max) {
        jm_call_error(call, "requestTooLarge", "%lu ids requested; "
                      "maxObjectsInGet is %ld.", (unsigned long)json_array_size(ids),
                      max);
        return 0;
    }
    get->ids = apr_array_make(call->pool, (int)json_array_size(ids) + 1,
                              sizeof(const char *));
    get->given = apr_hash_make(call->pool);
    json_array_foreach(ids, i, v) {
        const char *given = json_string_value(v);
        const char *id = jm_call_resolve_id(call, given);
        if (!id) {
            if (!apr_hash_get(seen, given, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, given, APR_HASH_KEY_STRING, "");
                json_array_append(get->not_found, v);
            }
            continue;
        }
        if (!apr_hash_get(seen, id, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen, id, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(get->ids, const char *) = id;
            if (given[0] == '#') {
                apr_hash_set(get->given, id, APR_HASH_KEY_STRING, given);
            }
        }
    }
    return 1;
}

int jm_get_parse(jm_get_t *get, jm_call_t *call, const jm_get_type_t *type,
                 void *baton)
{
    json_t *ids;

    memset(get, 0, sizeof(*get));
    get->call = call;
    get->type = type;
    get->baton = baton;
    get->list = jm_json_own(call->pool, json_array());
    get->not_found = jm_json_own(call->pool, json_array());
    if (!jm_args_check(call, get_args, type->extra_args)
        || ((type->flags & JM_GET_NO_ACCOUNT) && !jm_args_no_account(call))
        || !jm_prop_parse_list(&get->want, call, type->props, type->extra_props,
                               jm_args_get(call, "properties"), "properties",
                               type->name)
        || (type->read_args && !type->read_args(get))) {
        return 0;
    }
    ids = jm_args_get(call, "ids");
    return ids ? parse_ids(get, ids) : 1;
}

/* A stand-in for raw text (core/jm_raw.h) is the object as the type made
 * it for want already: it goes into the list as it is. */
static json_t *project(jm_get_t *get, json_t *o)
{
    if (jm_raw_text(get->call->ctx->raw, o, NULL)) {
        return json_incref(o);
    }
    return jm_prop_project(o, get->type->props, get->want);
}

/* Project what the callback gave into get->list; with ids, in their order. */
static apr_status_t collect(jm_get_t *get, json_t *got)
{
    apr_hash_t *byid = apr_hash_make(get->call->pool);
    json_t *o;
    size_t i;
    int j;

    json_array_foreach(got, i, o) {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!json_is_object(o) || !id) {
            return APR_EGENERAL;        /* a type bug: serverFail */
        }
        if (!get->ids) {
            json_array_append_new(get->list, project(get, o));
        }
        else {
            apr_hash_set(byid, id, APR_HASH_KEY_STRING, o);
        }
    }
    for (j = 0; get->ids && j < get->ids->nelts; j++) {
        const char *id = APR_ARRAY_IDX(get->ids, j, const char *);
        if ((o = apr_hash_get(byid, id, APR_HASH_KEY_STRING)) != NULL) {
            json_array_append_new(get->list, project(get, o));
        }
        else {
            /* answered as asked: a "#creationId" whose object is gone
             * (destroyed later in the request) stays "#creationId" */
            const char *as = apr_hash_get(get->given, id, APR_HASH_KEY_STRING);
            json_array_append_new(get->not_found, json_string(as ? as : id));
        }
    }
    return APR_SUCCESS;
}

/* ids null: all objects, if there are no more than maxObjectsInGet (§5.1). */
static apr_status_t fetch_all(jm_get_t *get, json_t *got)
{
    jm_call_t *call = get->call;
    apr_size_t max = (apr_size_t)call->ctx->limits->max_objects_in_get;
    apr_size_t batch = get->type->batch ? get->type->batch : max + 1;
    const char *after = NULL;
    apr_status_t rv;

    for (;;) {
        apr_size_t have = json_array_size(got), limit = batch;
        if (limit > max + 1 - have) {
            limit = max + 1 - have;
        }
        if ((rv = get->type->fetch(get, NULL, have, after, limit, got)) != APR_SUCCESS
            || call->error) {
            return rv;
        }
        if (json_array_size(got) > max) {
            jm_call_error(call, "requestTooLarge", "There are more than "
                          "maxObjectsInGet (%lu) %s objects; ask for ids.",
                          (unsigned long)max, get->type->name);
            return APR_SUCCESS;
        }
        if (json_array_size(got) - have < limit) {
            return APR_SUCCESS;
        }
        after = json_string_value(json_object_get(json_array_get(got,
                    json_array_size(got) - 1), "id"));
    }
}

apr_status_t jm_get_run(jm_get_t *get)
{
    json_t *got = jm_json_own(get->call->pool, json_array());
    apr_status_t rv;

    if (get->type->state && (rv = get->type->state(&get->state, get)) != APR_SUCCESS) {
        return rv;
    }
    if (!get->ids) {
        if (get->type->flags & JM_GET_NO_ALL) {
            return jm_call_error(get->call, "requestTooLarge", "%s/get needs ids.",
                                 get->type->name);
        }
        rv = fetch_all(get, got);
    }
    else if (get->ids->nelts > 0) {
        rv = get->type->fetch(get, get->ids, 0, NULL, (apr_size_t)get->ids->nelts, got);
    }
    if (rv != APR_SUCCESS || get->call->error) {
        return rv;
    }
    return collect(get, got);
}

void jm_get_reply(jm_get_t *get)
{
    jm_call_t *call = get->call;

    if (get->type->flags & JM_GET_NO_ACCOUNT) {
        call->result = json_pack("{s:O, s:O}", "list", get->list,
                                 "notFound", get->not_found);
        return;
    }
    call->result = json_pack("{s:s, s:s, s:O, s:O}", "accountId",
                             call->ctx->account->id, "state", get->state,
                             "list", get->list, "notFound", get->not_found);
}

apr_status_t jm_std_get(jm_call_t *call, const jm_get_type_t *type, void *baton)
{
    jm_get_t get;
    apr_status_t rv;

    if (!jm_get_parse(&get, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_get_run(&get)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_get_reply(&get);
    return APR_SUCCESS;
}
