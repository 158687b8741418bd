/* Email/copy (RFC 8621 §4.7, RFC 8620 §5.4): the same message bytes (so
 * the same blobId) become a new Email, with a new id, in another account
 * the user may use; onSuccessDestroyOriginal then destroys the originals
 * through an implicit Email/set in the from account. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_email_import.h"
#include "core/jm_methods.h"
#include "std/jm_std_args.h"
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

/* A creation names its original by "id"; only these three may be given
 * instead of the original's values (§4.7). */
static const jm_prop_t copy_props[] = {
    { "id",         JM_PT_STRING,     0 },  /* an Id or "#creationId" */
    { "mailboxIds", JM_PT_OBJECT,     0 },
    { "keywords",   JM_PT_STRING_MAP, 0 },
    { "receivedAt", JM_PT_UTCDATE,    0 },
    { NULL, 0, 0 }
};

static json_t *not_found(jm_call_t *call, const char *id, const char *acc)
{
    return jm_json_own(call->pool, jm_set_error(call->pool, "notFound",
                       json_pack("[s]", "id"), "No Email %s in account %s.", id, acc));
}

/* One creation: n->err set when it fails. from: a ctx on the from account. */
static apr_status_t prepare_copy(jm_email_new_t *n, jm_call_t *call, jm_ctx_t *from,
                                 json_t *obj, apr_array_header_t *boxes)
{
    const char *given, *id;
    const unsigned char *data;
    jm_email_row_t *orig;
    apr_size_t len;
    apr_status_t rv;

    /* the original's mutable values unless the creation gives others
     * (RFC 8620 §5.4); its mailboxes are the other account's, so a copy
     * must always name its own */
    n->row.keywords = NULL;
    given = json_string_value(json_object_get(obj, "id"));
    if (given && !jm_util_is_valid_id(given[0] == '#' ? given + 1 : given)) {
        jm_path_t path;
        jm_path_init(&path, call->pool);
        jm_path_invalid(&path, "id", "not an Id");
        n->err = jm_json_own(call->pool, jm_set_error(call->pool, "invalidProperties",
                             jm_path_invalid_json(&path), "Invalid property %s.",
                             jm_path_first(&path)));
        return APR_SUCCESS;
    }
    /* "#creationId": an Email made earlier in this request (RFC 8620 §5.3) */
    id = given ? jm_call_resolve_id(call, given) : NULL;
    rv = id ? jm_store_email_get(&orig, from->db, from->account->id, id, call->pool)
            : APR_NOTFOUND;
    if (rv == APR_NOTFOUND) {
        /* a malformed creation is invalidProperties before notFound */
        n->err = jm_email_read_creation(&n->row, call, obj, copy_props, "id", boxes);
        if (!n->err) {
            n->err = not_found(call, given, from->account->id);
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    n->row.keywords = orig->keywords;
    n->row.received_at = orig->received_at;
    if ((n->err = jm_email_read_creation(&n->row, call, obj, copy_props, "id",
                                         boxes)) != NULL) {
        return APR_SUCCESS;
    }
    rv = jm_store_blob_get(&data, &len, NULL, from->db, from->account->id,
                           orig->blob_id, call->pool);
    if (rv != APR_SUCCESS) {
        /* an Email without its message is damage, not a client error */
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    n->source_id = orig->id;
    n->err = jm_email_take_bytes(&rv, n, call, (const char *)data, len);
    return rv;
}

/* RFC 8620 §5.4 onSuccessDestroyOriginal: "a single call to Foo/set to
 * destroy the original of each successfully copied record", answered as
 * a response of its own after the copy's. */
static void destroy_originals(jm_call_t *call, jm_account_t *from,
                              apr_array_header_t *news)
{
    const char *if_state = jm_args_str(call, "destroyFromIfInState");
    json_t *destroy = json_array(), *args, *resp;
    jm_ctx_t fctx;
    jm_call_t sub;
    apr_status_t rv;
    int i;

    for (i = 0; i < news->nelts; i++) {
        jm_email_new_t *n = APR_ARRAY_IDX(news, i, jm_email_new_t *);
        if (!n->err) {
            json_array_append_new(destroy, json_string(n->source_id));
        }
    }
    if (json_array_size(destroy) == 0) {
        json_decref(destroy);
        return;
    }
    args = json_pack("{s:s, s:o}", "accountId", from->id, "destroy", destroy);
    if (if_state) {
        json_object_set_new(args, "ifInState", json_string(if_state));
    }
    memset(&sub, 0, sizeof(sub));
    jm_ctx_for_account(&fctx, call->ctx, from);
    sub.ctx = &fctx;
    sub.name = "Email/set";
    sub.call_id = call->call_id;
    sub.args = args;
    sub.created_ids = call->created_ids;
    sub.using = call->using;
    apr_pool_create(&sub.pool, call->pool);
    if (from->read_only) {
        /* what the dispatcher answers for an Email/set there */
        sub.error = jm_error_method("accountReadOnly", apr_psprintf(sub.pool,
                                    "Account \"%s\" is read-only.", from->id));
    }
    else if ((rv = jm_email_set(&sub)) != APR_SUCCESS) {
        /* the copies are made and stay; only the destroy failed */
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, call->pool, JMLOGNO(10002)
                      "Email/copy: the implicit Email/set destroying the "
                      "originals in %s failed for user %s", from->id,
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
    resp = sub.error ? json_pack("[s,o]", "error", sub.error)
                     : json_pack("[s,o]", "Email/set",
                                 sub.result ? sub.result : json_object());
    if (sub.error) {
        json_decref(sub.result);
    }
    call->extra_responses = json_pack("[o]", resp);
    json_decref(args);
    apr_pool_destroy(sub.pool);
}

apr_status_t jm_email_copy(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx, fctx;
    jm_account_t *from;
    json_t *create, *obj, *created, *not_created;
    apr_array_header_t *boxes, *news;
    const char *cid, *state, *old_state, *new_state, *v;
    apr_status_t rv;

    if (!jm_args_check(call, copy_args, NULL)) {
        return APR_SUCCESS;
    }
    if (!(from = jm_ctx_find_account(ctx, jm_args_str(call, "fromAccountId")))) {
        return jm_call_error(call, "fromAccountNotFound", "No account \"%s\" for "
                             "this user.", jm_args_str(call, "fromAccountId"));
    }
    if (strcmp(from->id, ctx->account->id) == 0) {
        return jm_call_error(call, "invalidArguments", "Invalid argument "
                             "fromAccountId (the accountId copied to MUST be "
                             "different, RFC 8620 §5.4).");
    }
    create = jm_args_get(call, "create");
    json_object_foreach(create, cid, obj) {
        if (!jm_util_is_valid_id(cid) || !json_is_object(obj)) {
            return jm_call_error(call, "invalidArguments", "Invalid argument "
                                 "create/%s (%s).", jm_pointer_escape(cid, call->pool),
                                 json_is_object(obj) ? "a creation id is an Id"
                                                     : "not an Email object");
        }
    }
    if ((long)json_object_size(create) > ctx->limits->max_objects_in_set) {
        return jm_call_error(call, "requestTooLarge", "%lu emails to copy; "
                             "maxObjectsInSet is %ld.",
                             (unsigned long)json_object_size(create),
                             ctx->limits->max_objects_in_set);
    }
    jm_ctx_for_account(&fctx, ctx, from);
    /* §5.4: ifFromInState is the from account's state when reading */
    if ((v = jm_args_str(call, "ifFromInState")) != NULL) {
        if ((rv = jm_store_state(&state, ctx->db, from->id, JM_TYPE_EMAIL,
                                 call->pool)) != APR_SUCCESS) {
            return rv;
        }
        if (strcmp(v, state) != 0) {
            return jm_call_error(call, "stateMismatch", "The Email state of "
                                 "account %s is %s.", from->id, state);
        }
    }
    if ((rv = jm_store_state(&old_state, ctx->db, ctx->account->id, JM_TYPE_EMAIL,
                             call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((v = jm_args_str(call, "ifInState")) != NULL && strcmp(v, old_state) != 0) {
        return jm_call_error(call, "stateMismatch", "The Email state is %s.", old_state);
    }
    if ((rv = jm_store_mailbox_ids(&boxes, ctx->db, ctx->account->id, call->pool))
        != APR_SUCCESS) {
        return rv;
    }
    news = apr_array_make(call->pool, (int)json_object_size(create) + 1,
                          sizeof(jm_email_new_t *));
    json_object_foreach(create, cid, obj) {
        jm_email_new_t *n = apr_pcalloc(call->pool, sizeof(*n));

        n->creation_id = cid;
        if ((rv = prepare_copy(n, call, &fctx, obj, boxes)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(news, jm_email_new_t *) = n;
    }
    if ((rv = jm_email_store_new(&old_state, &new_state, call, news,
                                 jm_args_str(call, "ifInState"))) != APR_SUCCESS
        || call->error) {
        return rv;
    }
    jm_email_new_results(&created, &not_created, call, news);
    call->result = json_pack("{s:s, s:s, s:s, s:s, s:O?, s:O?}", "fromAccountId",
                             from->id, "accountId", ctx->account->id,
                             "oldState", old_state, "newState", new_state,
                             "created", created, "notCreated", not_created);
    if (jm_args_bool(call, "onSuccessDestroyOriginal", 0)) {
        destroy_originals(call, from, news);
    }
    return APR_SUCCESS;
}
