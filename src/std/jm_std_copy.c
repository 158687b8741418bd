/* Foo/copy (RFC 8620 §5.4). */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_copy.h"
#include "std/jm_std_set.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

static const jm_arg_t copy_args[] = {
    { "fromAccountId",            JM_PT_ID,     JM_ARG_REQUIRED },
    { "ifFromInState",            JM_PT_STRING, JM_ARG_NULLABLE },
    { "ifInState",                JM_PT_STRING, JM_ARG_NULLABLE },
    { "create",                   JM_PT_OBJECT, JM_ARG_REQUIRED },
    { "onSuccessDestroyOriginal", JM_PT_BOOL,   JM_ARG_NULLABLE },
    { "destroyFromIfInState",     JM_PT_STRING, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

jm_account_t *jm_copy_from_account(jm_call_t *call, int must_differ)
{
    const char *id = jm_args_str(call, "fromAccountId");
    jm_account_t *from = jm_ctx_find_account(call->ctx, id);

    if (!from) {
        jm_call_error(call, "fromAccountNotFound", "No account \"%s\" for this "
                      "user.", id ? id : "");
        return NULL;
    }
    if (must_differ && strcmp(from->id, call->ctx->account->id) == 0) {
        jm_call_error(call, "invalidArguments", "Invalid argument fromAccountId "
                      "(the accountId copied to MUST be different, RFC 8620 §5.4).");
        return NULL;
    }
    return from;
}

json_t *jm_copy_already_exists(apr_pool_t *p, const char *existing_id,
                               const char *fmt, ...)
{
    json_t *e;
    va_list ap;

    va_start(ap, fmt);
    e = jm_error_method("alreadyExists", apr_pvsprintf(p, fmt, ap));
    va_end(ap);
    json_object_set_new(e, "existingId", json_string(existing_id));
    return e;
}

int jm_copy_parse(jm_copy_t *copy, jm_call_t *call, const jm_copy_type_t *type,
                  void *baton)
{
    long max = call->ctx->limits->max_objects_in_set;
    const char *k;
    json_t *v;

    memset(copy, 0, sizeof(*copy));
    copy->call = call;
    copy->type = type;
    copy->baton = baton;
    if (!jm_args_check(call, copy_args, type->extra_args)) {
        return 0;
    }
    /* the dispatch refuses a read-only accountId for methods that write;
     * checked again so that no caller copies into one */
    if (call->ctx->account->read_only) {
        return jm_call_error(call, "accountReadOnly", "Account \"%s\" is "
                             "read-only.", call->ctx->account->id), 0;
    }
    if (!(copy->from = jm_copy_from_account(call, 1))) {
        return 0;
    }
    copy->create = jm_args_get(call, "create");
    json_object_foreach(copy->create, k, v) {
        if (!jm_util_is_valid_id(k) || !json_is_object(v)) {
            return jm_call_error(call, "invalidArguments", "Invalid argument "
                                 "create/%s (%s).", jm_pointer_escape(k, call->pool),
                                 json_is_object(v) ? "a creation id is an Id"
                                                   : "not an object"), 0;
        }
    }
    if ((long)json_object_size(copy->create) > max) {
        return jm_call_error(call, "requestTooLarge", "%lu %s objects to copy; "
                             "maxObjectsInSet is %ld.",
                             (unsigned long)json_object_size(copy->create),
                             type->name, max), 0;
    }
    copy->if_from_in_state = jm_args_str(call, "ifFromInState");
    copy->if_in_state = jm_args_str(call, "ifInState");
    copy->destroy_from_if_in_state = jm_args_str(call, "destroyFromIfInState");
    copy->destroy_original = jm_args_bool(call, "onSuccessDestroyOriginal", 0);
    jm_ctx_for_account(&copy->from_ctx, call->ctx, copy->from);
    copy->created = jm_json_own(call->pool, json_object());
    copy->not_created = jm_json_own(call->pool, json_object());
    copy->originals = jm_json_own(call->pool, json_array());
    copy->pending = apr_hash_make(call->pool);
    return 1;
}

apr_status_t jm_copy_answer(jm_copy_t *copy, const char *creation_id,
                            json_t *created, json_t *err)
{
    jm_call_t *call = copy->call;
    const char *from_id = apr_hash_get(copy->pending, creation_id,
                                       APR_HASH_KEY_STRING);
    const char *id = json_string_value(json_object_get(created, "id"));

    /* a type's answer that breaks the contract is a server error */
    if (!from_id || (err && !json_is_string(json_object_get(err, "type")))
        || (!err && !jm_util_is_valid_id(id))) {
        json_decref(created);
        json_decref(err);
        return APR_EGENERAL;
    }
    apr_hash_set(copy->pending, creation_id, APR_HASH_KEY_STRING, NULL);
    if (err) {
        json_decref(created);
        json_object_set_new(copy->not_created, creation_id, err);
        return APR_SUCCESS;
    }
    jm_call_add_created(call, creation_id, id);
    json_array_append_new(copy->originals, json_string(from_id));
    json_object_set_new(copy->created, creation_id, created);
    return APR_SUCCESS;
}

/* A creation's properties: "id" (required, an Id or "#creationId") and
 * the type's; paths of the bad ones in path. */
static void check_creation(jm_copy_t *copy, json_t *obj, jm_path_t *path)
{
    const char *k, *id = json_string_value(json_object_get(obj, "id"));
    json_t *v;

    if (!json_object_get(obj, "id")) {
        jm_path_invalid(path, "id", "required (the original's id, RFC 8620 §5.4)");
    }
    else if (!id || !jm_util_is_valid_id(id[0] == '#' ? id + 1 : id)) {
        jm_path_invalid(path, "id", "not an Id");
    }
    json_object_foreach(obj, k, v) {
        const jm_prop_t *prop;

        if (strcmp(k, "id") == 0) {
            continue;
        }
        prop = jm_prop_find(copy->type->props, k);
        if (!prop || (prop->flags & JM_PROP_SERVER_SET)) {
            jm_path_invalid(path, k, "not settable in a copy");
            continue;
        }
        jm_prop_check(prop, v, path);
    }
}

static apr_status_t copy_one(jm_copy_t *copy, const char *cid, json_t *obj)
{
    jm_call_t *call = copy->call;
    const char *given, *from_id;
    json_t *created = NULL, *err = NULL;
    jm_path_t path;
    apr_status_t rv;

    jm_path_init(&path, call->pool);
    check_creation(copy, obj, &path);
    if (jm_path_nerrors(&path)) {
        json_object_set_new(copy->not_created, cid, jm_set_error(call->pool,
            "invalidProperties", jm_path_invalid_json(&path), "Invalid "
            "property %s.", jm_path_first(&path)));
        return APR_SUCCESS;
    }
    given = json_string_value(json_object_get(obj, "id"));
    /* "#creationId": a record made earlier in this request (§5.3) */
    if (!(from_id = jm_call_resolve_id(call, given))) {
        json_object_set_new(copy->not_created, cid, jm_set_error(call->pool,
            "notFound", json_pack("[s]", "id"), "No creation id %s in this "
            "request.", given));
        return APR_SUCCESS;
    }
    apr_hash_set(copy->pending, cid, APR_HASH_KEY_STRING, from_id);
    rv = copy->type->copy(copy, cid, from_id, obj, &created, &err);
    if (rv != APR_SUCCESS) {
        json_decref(created);
        json_decref(err);
        return rv;
    }
    if (created || err) {
        return jm_copy_answer(copy, cid, created, err);
    }
    return APR_SUCCESS;     /* the store callback answers it */
}

static apr_status_t check_state(jm_copy_t *copy, jm_ctx_t *ctx, const char *want,
                                const char **pstate)
{
    apr_status_t rv = copy->type->state(pstate, copy, ctx);

    if (rv == APR_SUCCESS && want && strcmp(want, *pstate) != 0) {
        return jm_call_error(copy->call, "stateMismatch", "The %s state of "
                             "account %s is %s, not %s.", copy->type->name,
                             ctx->account->id, *pstate, want);
    }
    return rv;
}

apr_status_t jm_copy_run(jm_copy_t *copy)
{
    jm_call_t *call = copy->call;
    const char *k, *from_state;
    json_t *v;
    apr_status_t rv;

    /* §5.4: ifFromInState is the from account's state when reading */
    if (copy->if_from_in_state
        && ((rv = check_state(copy, &copy->from_ctx, copy->if_from_in_state,
                              &from_state)) != APR_SUCCESS || call->error)) {
        return rv;
    }
    /* a stale ifInState fails before anything is read (a store callback
     * checks it again where it writes) */
    if ((rv = check_state(copy, call->ctx, copy->if_in_state, &copy->old_state))
        != APR_SUCCESS || call->error) {
        return rv;
    }
    json_object_foreach(copy->create, k, v) {
        if ((rv = copy_one(copy, k, v)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (apr_hash_count(copy->pending)) {
        if (!copy->type->store) {
            return APR_EGENERAL;
        }
        if ((rv = copy->type->store(copy)) != APR_SUCCESS || call->error) {
            return rv;
        }
        if (apr_hash_count(copy->pending)) {
            return APR_EGENERAL;        /* the store left one unanswered */
        }
    }
    return copy->new_state ? APR_SUCCESS
                           : copy->type->state(&copy->new_state, copy, call->ctx);
}

void jm_copy_reply(jm_copy_t *copy)
{
    jm_call_t *call = copy->call;

    call->result = json_pack("{s:s, s:s, s:s, s:s, s:O?, s:O?}",
        "fromAccountId", copy->from->id, "accountId", call->ctx->account->id,
        "oldState", copy->old_state, "newState", copy->new_state,
        "created", json_object_size(copy->created) ? copy->created : NULL,
        "notCreated", json_object_size(copy->not_created) ? copy->not_created : NULL);
}

/* RFC 8620 §5.4 onSuccessDestroyOriginal: "a single call to Foo/set" with
 * accountId fromAccountId, ifInState destroyFromIfInState and destroy the
 * originals copied, answered after the copy under the same call id. */
void jm_copy_destroy_originals(jm_copy_t *copy)
{
    jm_call_t *call = copy->call, sub;
    jm_account_t *from = copy->from;
    json_t *resp;
    jm_ctx_t fctx;
    apr_status_t rv;

    if (!json_array_size(copy->originals)) {
        return;                         /* nothing copied: nothing to destroy */
    }
    memset(&sub, 0, sizeof(sub));
    apr_pool_create(&sub.pool, call->pool);
    sub.name = apr_pstrcat(sub.pool, copy->type->name, "/set", NULL);
    sub.call_id = call->call_id;
    sub.args = jm_json_own(sub.pool, json_pack("{s:s, s:O, s:s?}", "accountId",
        from->id, "destroy", copy->originals, "ifInState",
        copy->destroy_from_if_in_state));
    sub.created_ids = call->created_ids;
    sub.using = call->using;
    /* a fresh ctx: what the Foo/set uses of the budget is the call's */
    jm_ctx_for_account(&fctx, call->ctx, from);
    sub.ctx = &fctx;
    if (from->read_only) {
        /* what the dispatch answers for a Foo/set there */
        sub.error = jm_error_method("accountReadOnly", apr_psprintf(sub.pool,
                                    "Account \"%s\" is read-only.", from->id));
    }
    else if ((rv = copy->type->set(&sub)) != APR_SUCCESS) {
        /* the copies are made and stay; only the destroy failed */
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, call->pool, JMLOGNO(05000)
                      "%s: the implicit %s destroying the originals in %s "
                      "failed for user %s", call->name, sub.name, from->id,
                      jm_ctx_self(call->ctx)->username);
        json_decref(sub.result);
        sub.result = NULL;
        json_decref(sub.error);
        sub.error = APR_STATUS_IS_TIMEUP(rv)
            ? jm_error_method("serverUnavailable", "The store is busy; try again.")
            : jm_error_method("serverFail", "The originals could not be "
                              "destroyed; the error log has details.");
    }
    jm_ctx_return(call->ctx, &fctx);
    if (sub.error) {
        json_decref(sub.result);
        resp = json_pack("[s,o]", "error", sub.error);
    }
    else {
        resp = json_pack("[s,o]", sub.name, sub.result ? sub.result : json_object());
    }
    call->extra_responses = json_pack("[o]", resp);
    apr_pool_destroy(sub.pool);
}

apr_status_t jm_std_copy(jm_call_t *call, const jm_copy_type_t *type, void *baton)
{
    jm_copy_t copy;
    apr_status_t rv;

    if (!jm_copy_parse(&copy, call, type, baton)) {
        return APR_SUCCESS;
    }
    if ((rv = jm_copy_run(&copy)) != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_copy_reply(&copy);
    if (copy.destroy_original) {
        jm_copy_destroy_originals(&copy);
    }
    return APR_SUCCESS;
}
