/* Identity/get (RFC 8621 §6.1) and the per-account sending authorisation. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "directory/jm_certdir.h"
#include "store/jm_store.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

static const char *const identity_props[] = {
    "id", "name", "email", "replyTo", "bcc", "textSignature",
    "htmlSignature", "mayDelete", NULL
};

/* Case-insensitive dedupe, O(1) per address (seen holds lower-cased keys). */
static void add_unique(apr_array_header_t *a, apr_hash_t *seen,
                       const char *addr, apr_pool_t *p)
{
    const char *l = jm_util_strlower(addr, p);

    if (!apr_hash_get(seen, l, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, l, APR_HASH_KEY_STRING, l);
        APR_ARRAY_PUSH(a, const char *) = l;
    }
}

apr_status_t jm_identity_send_as(apr_array_header_t **paddrs, jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    /* the person's rights, whichever account it works on: using a shared
     * account grants no sending (or signing) as its owner */
    jm_account_t *acc = jm_ctx_self(ctx);
    apr_pool_t *p = ctx->pool;     /* cached for the whole request */
    apr_array_header_t *addrs = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *dir = NULL;
    apr_hash_t *seen = apr_hash_make(p);
    const char *err = NULL;
    apr_status_t rv;
    int i, j;

    if (acc->send_as_known) {
        *paddrs = acc->send_as;
        return APR_SUCCESS;
    }
    if (ctx->certdir) {
        /* bounded by the request's directory budget; a failure is logged
         * here with the details (URL, diagnostic) and reaches the client
         * only as serverUnavailable */
        rv = jm_certdir_user_addresses(&dir, ctx->certdir, acc->username,
                                       ctx->budget.directory_deadline, &err, p);
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(01040)
                          "directory unavailable while resolving addresses of "
                          "%s: %s", acc->username, err ? err : "");
            return APR_EAGAIN;
        }
        for (i = 0; i < dir->nelts; i++) {
            add_unique(addrs, seen, APR_ARRAY_IDX(dir, i, const char *), p);
        }
    }
    for (i = 0; ctx->send_as_rules && i < ctx->send_as_rules->nelts; i++) {
        jm_send_as_rule_t *r = &APR_ARRAY_IDX(ctx->send_as_rules, i, jm_send_as_rule_t);
        for (j = 0; j < r->users->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(r->users, j, const char *), acc->username) == 0) {
                add_unique(addrs, seen, r->address, p);
            }
        }
    }
    acc->send_as = addrs;
    acc->send_as_known = 1;
    *paddrs = addrs;
    return APR_SUCCESS;
}

/* Stable per address, so clients may keep identity ids across sessions. */
static const char *identity_id(const char *addr, apr_pool_t *p)
{
    return apr_pstrcat(p, "I", apr_pstrndup(p,
                       jm_util_sha256_hex(addr, strlen(addr), p), 20), NULL);
}

apr_status_t jm_identity_get(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    json_t *ids, *props, *list, *not_found, *v;
    apr_array_header_t *addrs;
    const char *state;
    apr_status_t rv;
    size_t k;
    int i;

    if (!jm_call_check_get_args(call, &ids, &props)) {
        return APR_SUCCESS;
    }
    if (props && !jm_call_check_props(call, props, identity_props, "Identity")) {
        return APR_SUCCESS;
    }
    rv = jm_identity_send_as(&addrs, call);
    if (rv == APR_EAGAIN) {
        return jm_call_error(call, "serverUnavailable", "The directory that "
                             "lists this account's addresses could not be "
                             "reached. Try again later.");
    }
    if (rv != APR_SUCCESS
        || APR_SUCCESS != (rv = jm_store_state(&state, ctx->db, ctx->account->id,
                                               JM_TYPE_IDENTITY, call->pool))) {
        return rv;
    }
    list = json_array();
    not_found = ids ? json_deep_copy(ids) : json_array();
    for (i = 0; i < addrs->nelts; i++) {
        const char *addr = APR_ARRAY_IDX(addrs, i, const char *);
        const char *id = identity_id(addr, call->pool);
        if (ids) {
            int wanted = 0;
            json_array_foreach(not_found, k, v) {
                if (strcmp(json_string_value(v), id) == 0) {
                    json_array_remove(not_found, k);
                    wanted = 1;
                    break;
                }
            }
            if (!wanted) {
                continue;
            }
        }
        json_array_append_new(list, jm_get_project(json_pack(
            "{s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:b}", "id", id, "name", "",
            "email", addr, "replyTo", "bcc", "textSignature", "",
            "htmlSignature", "", "mayDelete", 0), props));
    }
    call->result = json_pack("{s:s, s:s, s:o, s:o}", "accountId", ctx->account->id,
                             "state", state, "list", list, "notFound", not_found);
    return APR_SUCCESS;
}
