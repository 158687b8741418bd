/* Blob/copy (RFC 8620 §6.3). A blob id is the hash of its bytes, so a
 * copied blob keeps its id: the target account gets a reference to the
 * content the store holds once (nothing is read or written but the
 * reference). A part blob ("<blobId>_<partId>") becomes a blob of its own
 * in the target account, under the id of the part's bytes (the part exists
 * there without its message): its bytes are cut out and stored (once, if
 * some account has them already). */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_blob.h"
#include "std/jm_std_args.h"
#include "std/jm_std_set.h"
#include "std/jm_std_copy.h"
#include "store/jm_store.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

static const jm_arg_t copy_args[] = {
    { "fromAccountId", JM_PT_ID,    JM_ARG_REQUIRED },
    { "blobIds",       JM_PT_ARRAY, JM_ARG_REQUIRED },
    { NULL, 0, 0 }
};

static apr_status_t not_found(json_t **perr, jm_call_t *call, jm_ctx_t *from,
                              const char *blob_id)
{
    *perr = jm_set_error(call->pool, "notFound", NULL, "No blob %s in account %s.",
                         blob_id, from->account->id);
    return APR_SUCCESS;
}

/* What is copied counts like the messages Email/set builds (the README's
 * JMAPMaxSizeCreatedPerRequest), stored bytes or a reference alike. */
static apr_status_t too_large(json_t **perr, jm_call_t *call, jm_ctx_t *to)
{
    *perr = jm_set_error(call->pool, "tooLarge", NULL, "This request has "
                         "written more than %" APR_SIZE_T_FMT " bytes; copy "
                         "this blob in another request.", to->budget.build_max);
    return APR_SUCCESS;
}

/* One blob; *perr a SetError when it is not copied. Its bytes live in sp. */
static apr_status_t copy_one(const char **pnew_id, json_t **perr, jm_call_t *call,
                             jm_ctx_t *from, const char *blob_id, apr_pool_t *sp)
{
    jm_ctx_t *to = call->ctx;
    const unsigned char *data;
    const char *type = NULL, *id;
    apr_size_t len;
    apr_status_t rv;

    *perr = NULL;
    if (!jm_blob_is_part(blob_id)) {
        apr_int64_t size;

        rv = jm_blob_stat(&size, NULL, from, blob_id, sp);
        if (rv == APR_SUCCESS && !jm_budget_take_build(&to->budget, (apr_size_t)size)) {
            return too_large(perr, call, to);
        }
        if (rv == APR_SUCCESS) {
            rv = jm_store_blob_link(to->db, to->account->id, from->account->id,
                                    blob_id, sp);
        }
        if (rv == APR_NOTFOUND) {
            return not_found(perr, call, from, blob_id);
        }
        if (rv == APR_SUCCESS) {
            *pnew_id = apr_pstrdup(call->pool, blob_id);
        }
        return rv;
    }
    rv = jm_blob_fetch(&data, &len, &type, from, blob_id, sp);
    if (rv == APR_NOTFOUND) {
        return not_found(perr, call, from, blob_id);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* the bytes written count like the messages Email/set builds */
    if (!jm_budget_take_build(&to->budget, len)) {
        return too_large(perr, call, to);
    }
    id = jm_blob_id_for(data, len, sp);
    rv = jm_store_blob_put(to->db, to->account->id, id,
                           type && *type ? type : "application/octet-stream",
                           data, len, sp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pnew_id = apr_pstrdup(call->pool, id);
    return APR_SUCCESS;
}

apr_status_t jm_blob_copy(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx, fctx;
    jm_account_t *from;
    json_t *ids, *v, *copied, *not_copied;
    apr_pool_t *sp;
    apr_status_t rv = APR_SUCCESS;
    size_t i;

    if (!jm_args_check(call, copy_args, NULL)) {
        return APR_SUCCESS;
    }
    /* §6.3 does not ask for two different accounts */
    if (!(from = jm_copy_from_account(call, 0))) {
        return APR_SUCCESS;
    }
    ids = jm_args_get(call, "blobIds");
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) {
            return jm_call_error(call, "invalidArguments", "Invalid argument "
                                 "blobIds/%lu (not an Id).", (unsigned long)i);
        }
    }
    if ((long)json_array_size(ids) > ctx->limits->max_objects_in_set) {
        return jm_call_error(call, "requestTooLarge", "%lu blobs to copy; "
                             "maxObjectsInSet is %ld.", (unsigned long)json_array_size(ids),
                             ctx->limits->max_objects_in_set);
    }
    copied = jm_json_own(call->pool, json_object());
    not_copied = jm_json_own(call->pool, json_object());
    jm_ctx_for_account(&fctx, ctx, from);
    apr_pool_create(&sp, call->pool);
    json_array_foreach(ids, i, v) {
        const char *bid = json_string_value(v), *nid = NULL;
        json_t *err = NULL;

        if (json_object_get(copied, bid) || json_object_get(not_copied, bid)) {
            continue;                   /* named twice: answered once */
        }
        apr_pool_clear(sp);
        /* reading takes nothing from the budget, so fctx's is not returned;
         * each blob is stored in a transaction of its own: a copy that
         * fails leaves the ones before it copied (§6.3 lists them) */
        if ((rv = copy_one(&nid, &err, call, &fctx, bid, sp)) != APR_SUCCESS) {
            break;
        }
        if (err) {
            json_object_set_new(not_copied, bid, err);
        }
        else {
            json_object_set_new(copied, bid, json_string(nid));
        }
    }
    apr_pool_destroy(sp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    call->result = json_pack("{s:s, s:s, s:O?, s:O?}", "fromAccountId", from->id,
                             "accountId", ctx->account->id,
                             "copied", json_object_size(copied) ? copied : NULL,
                             "notCopied", json_object_size(not_copied) ? not_copied : NULL);
    return APR_SUCCESS;
}
