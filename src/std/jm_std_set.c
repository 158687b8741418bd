/* Foo/set (RFC 8620 §5.3). */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_set.h"
#include "core/jm_util.h"

static const jm_arg_t set_args[] = {
    { "ifInState", JM_PT_STRING, JM_ARG_NULLABLE },
    { "create",    JM_PT_OBJECT, JM_ARG_NULLABLE },
    { "update",    JM_PT_OBJECT, JM_ARG_NULLABLE },
    { "destroy",   JM_PT_ARRAY,  JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

json_t *jm_set_error(apr_pool_t *p, const char *type, json_t *props,
                     const char *fmt, ...)
{
    json_t *e;
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        e = jm_error_method(type, apr_pvsprintf(p, fmt, ap));
        va_end(ap);
    }
    else {
        e = jm_error_method(type, NULL);
    }
    if (props) {
        json_object_set_new(e, "properties", props);
    }
    return e;
}

static int id_or_ref(const char *s)
{
    return s && jm_util_is_valid_id(s[0] == '#' ? s + 1 : s);
}

int jm_set_parse(jm_set_t *set, jm_call_t *call, const jm_set_type_t *type,
                 void *baton)
{
    long max = call->ctx->limits->max_objects_in_set;
    json_t *v, *destroy;
    const char *k;
    size_t i, n = 0;

    memset(set, 0, sizeof(*set));
    set->call = call;
    set->type = type;
    set->baton = baton;
    set->destroy = apr_array_make(call->pool, 4, sizeof(const char *));
    if (!jm_args_check(call, set_args, type->extra_args)) {
        return 0;
    }
    if ((type->flags & JM_SET_NO_ACCOUNT)
        && (!jm_args_no_account(call) || json_object_get(call->args, "ifInState"))) {
        if (!call->error) {
            jm_call_error(call, "invalidArguments", "%s takes no \"ifInState\".",
                          call->name ? call->name : "This method");
        }
        return 0;
    }
    set->if_in_state = jm_args_str(call, "ifInState");
    set->create = jm_args_get(call, "create");
    set->update = jm_args_get(call, "update");
    json_object_foreach(set->create, k, v) {
        if (!jm_util_is_valid_id(k) || !json_is_object(v)) {
            return jm_call_error(call, "invalidArguments", "create/%s: %s.",
                                 jm_pointer_escape(k, call->pool),
                                 json_is_object(v) ? "a creation id is an Id"
                                                   : "not an object"), 0;
        }
    }
    json_object_foreach(set->update, k, v) {
        if (!id_or_ref(k) || !json_is_object(v)) {
            return jm_call_error(call, "invalidArguments", "update/%s: %s.",
                                 jm_pointer_escape(k, call->pool),
                                 json_is_object(v) ? "not an Id"
                                                   : "not a PatchObject"), 0;
        }
    }
    if ((destroy = jm_args_get(call, "destroy")) != NULL) {
        json_array_foreach(destroy, i, v) {
            if (!id_or_ref(json_string_value(v))) {
                return jm_call_error(call, "invalidArguments",
                                     "destroy/%lu: not an Id.", (unsigned long)i), 0;
            }
            APR_ARRAY_PUSH(set->destroy, const char *) = json_string_value(v);
        }
    }
    n = json_object_size(set->create) + json_object_size(set->update)
        + (size_t)set->destroy->nelts;
    if ((long)n > max) {
        return jm_call_error(call, "requestTooLarge", "%lu objects to create, "
                             "update or destroy; maxObjectsInSet is %ld.",
                             (unsigned long)n, max), 0;
    }
    set->created = jm_json_own(call->pool, json_object());
    set->updated = jm_json_own(call->pool, json_object());
    set->destroyed = jm_json_own(call->pool, json_array());
    set->not_created = jm_json_own(call->pool, json_object());
    set->not_updated = jm_json_own(call->pool, json_object());
    set->not_destroyed = jm_json_own(call->pool, json_object());
    return 1;
}

/* A callback's SetError must at least have a type. */
static apr_status_t take_error(json_t *target, const char *key, json_t *err)
{
    if (!json_is_object(err) || !json_is_string(json_object_get(err, "type"))) {
        json_decref(err);
        return APR_EGENERAL;
    }
    json_object_set_new(target, key, err);
    return APR_SUCCESS;
}

/* The client's object with references resolved and every property
 * checked; NULL when invalid (paths in path) or deferred (r->deferred). */
static json_t *check_create(jm_set_t *set, jm_refs_t *r, json_t *obj,
                            jm_path_t *path)
{
    json_t *out = json_object(), *v;
    const char *k;

    json_object_foreach(obj, k, v) {
        const jm_prop_t *prop = jm_prop_find(set->type->props, k);
        json_t *rv;
        if (!prop) {
            jm_path_invalid(path, k, "unknown property");
            continue;
        }
        if (prop->flags & JM_PROP_SERVER_SET) {
            /* §5.3: the client MUST omit server-set properties */
            jm_path_invalid(path, k, "server-set");
            continue;
        }
        rv = jm_refs_value(r, prop, v, path);
        jm_prop_check(prop, rv, path);
        json_object_set_new(out, k, rv);
    }
    if (r->deferred || jm_path_nerrors(path)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* One create; *pdeferred when it names a creation id of this call that
 * is still to come. */
static apr_status_t create_one(jm_set_t *set, const char *cid, json_t *obj,
                               apr_hash_t *pending, int *pdeferred)
{
    jm_call_t *call = set->call;
    jm_refs_t r = { call, pending, 0 };
    json_t *checked, *made = NULL, *err = NULL, *answer, *v;
    jm_path_t path;
    const char *k, *id;
    apr_status_t rv;

    *pdeferred = 0;
    jm_path_init(&path, call->pool);
    checked = check_create(set, &r, obj, &path);
    if (!checked && r.deferred) {
        *pdeferred = 1;
        return APR_SUCCESS;
    }
    apr_hash_set(pending, cid, APR_HASH_KEY_STRING, NULL);
    if (!checked) {
        json_object_set_new(set->not_created, cid, jm_set_error(call->pool,
            "invalidProperties", jm_path_invalid_json(&path), "Invalid "
            "property %s.", jm_path_first(&path)));
        return APR_SUCCESS;
    }
    if (!set->type->create) {
        json_decref(checked);
        json_object_set_new(set->not_created, cid, jm_set_error(call->pool,
            "forbidden", NULL, "%s objects cannot be created.", set->type->name));
        return APR_SUCCESS;
    }
    rv = set->type->create(set, cid, checked, &made, &err);
    json_decref(checked);
    if (rv != APR_SUCCESS || err) {
        json_decref(made);
        return rv != APR_SUCCESS ? (json_decref(err), rv)
                                 : take_error(set->not_created, cid, err);
    }
    id = json_string_value(json_object_get(made, "id"));
    if (!jm_util_is_valid_id(id)) {
        json_decref(made);
        return APR_EGENERAL;
    }
    /* §5.3: created answers what the client did not send */
    answer = json_object();
    json_object_foreach(made, k, v) {
        json_t *sent = json_object_get(obj, k);
        if (!sent || ((set->type->flags & JM_SET_ANSWER_CHANGED)
                      && !json_equal(sent, v))) {
            json_object_set(answer, k, v);
        }
    }
    jm_call_add_created(call, cid, id);
    json_object_set_new(set->created, cid, answer);
    json_decref(made);
    return APR_SUCCESS;
}

/* §5.3: creates in order, except that one naming a later creation id waits
 * for it; what still waits when nothing moves names an unknown id. */
static apr_status_t run_creates(jm_set_t *set)
{
    apr_pool_t *p = set->call->pool;
    apr_hash_t *pending = apr_hash_make(p);
    apr_array_header_t *todo = apr_array_make(p, 8, sizeof(const char *));
    const char *k;
    json_t *v;
    int moved = 1, final = 0, i, deferred;
    apr_status_t rv;

    json_object_foreach(set->create, k, v) {
        apr_hash_set(pending, k, APR_HASH_KEY_STRING, "");
        APR_ARRAY_PUSH(todo, const char *) = k;
    }
    while (todo->nelts > 0) {
        apr_array_header_t *later = apr_array_make(p, todo->nelts, sizeof(const char *));
        if (!moved) {
            final = 1;
        }
        moved = 0;
        for (i = 0; i < todo->nelts; i++) {
            k = APR_ARRAY_IDX(todo, i, const char *);
            rv = create_one(set, k, json_object_get(set->create, k),
                            final ? apr_hash_make(p) : pending, &deferred);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            if (deferred) {
                APR_ARRAY_PUSH(later, const char *) = k;
            }
            else {
                moved = 1;
            }
        }
        todo = later;
    }
    return APR_SUCCESS;
}

static int in_destroy(jm_set_t *set, const char *id)
{
    int i;

    for (i = 0; i < set->destroy->nelts; i++) {
        const char *d = jm_call_resolve_id(set->call,
                                           APR_ARRAY_IDX(set->destroy, i, const char *));
        if (d && strcmp(d, id) == 0) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t update_one(jm_set_t *set, const char *given, json_t *patch)
{
    jm_call_t *call = set->call;
    jm_refs_t r = { call, NULL, 0 };
    const char *id = jm_call_resolve_id(call, given), *why;
    json_t *current = NULL, *resolved, *updated = NULL, *changed = NULL, *err = NULL;
    jm_patch_status_t st;
    jm_path_t path;
    apr_status_t rv;

    if (!id) {
        json_object_set_new(set->not_updated, given, jm_set_error(call->pool,
            "notFound", NULL, "No creation id %s in this request.", given));
        return APR_SUCCESS;
    }
    if (in_destroy(set, id)) {
        json_object_set_new(set->not_updated, id, jm_set_error(call->pool,
            "willDestroy", NULL, "%s is destroyed by the same call.", id));
        return APR_SUCCESS;
    }
    if (!set->type->update) {
        json_object_set_new(set->not_updated, id, jm_set_error(call->pool,
            "forbidden", NULL, "%s objects cannot be changed.", set->type->name));
        return APR_SUCCESS;
    }
    if (set->type->lookup) {
        if ((rv = set->type->lookup(&current, set, id)) != APR_SUCCESS) {
            return rv;
        }
        if (!current) {
            json_object_set_new(set->not_updated, id, jm_set_error(call->pool,
                "notFound", NULL, "No %s %s.", set->type->name, id));
            return APR_SUCCESS;
        }
    }
    jm_path_init(&path, call->pool);
    st = jm_patch_check(&resolved, &r, set->type->props, id, patch, current,
                        &path, &why);
    if (st == JM_PATCH_INVALID_PATCH) {
        json_object_set_new(set->not_updated, id, jm_set_error(call->pool,
            "invalidPatch", NULL, "%s.", why));
    }
    else if (st == JM_PATCH_INVALID_PROPS) {
        json_object_set_new(set->not_updated, id, jm_set_error(call->pool,
            "invalidProperties", jm_path_invalid_json(&path), "Invalid property %s.",
            jm_path_first(&path)));
    }
    if (st != JM_PATCH_OK) {
        json_decref(current);
        return APR_SUCCESS;
    }
    if (current && !(updated = jm_patch_apply(current, resolved, &why, call->pool))) {
        rv = APR_EGENERAL;      /* jm_patch_check applied it already */
    }
    else {
        rv = set->type->update(set, id, resolved, updated, &changed, &err);
    }
    json_decref(current);
    json_decref(updated);
    json_decref(resolved);
    if (rv != APR_SUCCESS || err) {
        json_decref(changed);
        return rv != APR_SUCCESS ? (json_decref(err), rv)
                                 : take_error(set->not_updated, id, err);
    }
    json_object_set_new(set->updated, id, changed ? changed : json_null());
    return APR_SUCCESS;
}

static apr_status_t destroy_one(jm_set_t *set, const char *given, apr_hash_t *seen)
{
    jm_call_t *call = set->call;
    const char *id = jm_call_resolve_id(call, given);
    json_t *err = NULL;
    apr_status_t rv;

    if (!id) {
        json_object_set_new(set->not_destroyed, given, jm_set_error(call->pool,
            "notFound", NULL, "No creation id %s in this request.", given));
        return APR_SUCCESS;
    }
    if (apr_hash_get(seen, id, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;     /* given twice: answered once */
    }
    apr_hash_set(seen, id, APR_HASH_KEY_STRING, "");
    if (!set->type->destroy) {
        json_object_set_new(set->not_destroyed, id, jm_set_error(call->pool,
            "forbidden", NULL, "%s objects cannot be destroyed.", set->type->name));
        return APR_SUCCESS;
    }
    if ((rv = set->type->destroy(set, id, &err)) != APR_SUCCESS) {
        json_decref(err);
        return rv;
    }
    if (err) {
        return take_error(set->not_destroyed, id, err);
    }
    json_array_append_new(set->destroyed, json_string(id));
    return APR_SUCCESS;
}

apr_status_t jm_set_run(jm_set_t *set)
{
    apr_hash_t *seen = apr_hash_make(set->call->pool);
    const char *k;
    json_t *v;
    apr_status_t rv;
    int i;

    if (set->type->state
        && (rv = set->type->state(&set->old_state, set)) != APR_SUCCESS) {
        return rv;
    }
    if (set->if_in_state && strcmp(set->if_in_state, set->old_state) != 0) {
        return jm_call_error(set->call, "stateMismatch", "The %s state is %s, "
                             "not %s.", set->type->name, set->old_state,
                             set->if_in_state);
    }
    /* §5.3: creates first, so updates and destroys may name them */
    if ((rv = run_creates(set)) != APR_SUCCESS) {
        return rv;
    }
    json_object_foreach(set->update, k, v) {
        if ((rv = update_one(set, k, v)) != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; i < set->destroy->nelts; i++) {
        if ((rv = destroy_one(set, APR_ARRAY_IDX(set->destroy, i, const char *),
                              seen)) != APR_SUCCESS) {
            return rv;
        }
    }
    return set->type->state ? set->type->state(&set->new_state, set) : APR_SUCCESS;
}

static json_t *or_null(json_t *v)
{
    return json_is_array(v) ? (json_array_size(v) ? v : NULL)
                            : (json_object_size(v) ? v : NULL);
}

void jm_set_reply(jm_set_t *set)
{
    jm_call_t *call = set->call;

    if (set->type->flags & JM_SET_NO_ACCOUNT) {
        call->result = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
            "created", or_null(set->created), "updated", or_null(set->updated),
            "destroyed", or_null(set->destroyed),
            "notCreated", or_null(set->not_created),
            "notUpdated", or_null(set->not_updated),
            "notDestroyed", or_null(set->not_destroyed));
        return;
    }
    call->result = json_pack("{s:s, s:s?, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
        "accountId", call->ctx->account->id, "oldState", set->old_state,
        "newState", set->new_state,
        "created", or_null(set->created), "updated", or_null(set->updated),
        "destroyed", or_null(set->destroyed),
        "notCreated", or_null(set->not_created),
        "notUpdated", or_null(set->not_updated),
        "notDestroyed", or_null(set->not_destroyed));
}

apr_status_t jm_std_set(jm_call_t *call, const jm_set_type_t *type, void *baton)
{
    jm_set_t set;
    apr_status_t rv;

    if (!jm_set_parse(&set, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_set_run(&set)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_set_reply(&set);
    return APR_SUCCESS;
}
