/* The accounts of a request: own and shared (RFC 8620 §1.6.2). */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_request.h"
#include "store/jm_store.h"
#include "core/jm_log.h"

static int listed(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

apr_status_t jm_account_load_shared(apr_array_header_t **pshared, jm_db_t *db,
                                    const char *user,
                                    const apr_array_header_t *rules,
                                    const apr_array_header_t *ro_users,
                                    apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(jm_account_t *));
    int i, created;
    apr_status_t rv;

    *pshared = out;
    for (i = 0; rules && i < rules->nelts; i++) {
        const jm_share_rule_t *r = &APR_ARRAY_IDX(rules, i, jm_share_rule_t);
        jm_account_t *a;

        if (strcmp(r->user, user) != 0) {
            continue;
        }
        a = apr_pcalloc(p, sizeof(*a));
        a->username = r->owner;
        a->shared = 1;
        a->read_only = r->read_only || listed(ro_users, r->owner);
        created = 0;
        rv = jm_store_account_ensure(&a->id, &created, db, r->owner, p);
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, p, JMLOGNO(10000)
                          "cannot load or create the account of %s, shared "
                          "with %s", r->owner, user);
            return rv;
        }
        if (created) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_NOTICE, 0, p, JMLOGNO(10001)
                          "provisioned account %s for user %s (shared with %s)",
                          a->id, r->owner, user);
        }
        APR_ARRAY_PUSH(out, jm_account_t *) = a;
    }
    return APR_SUCCESS;
}

jm_account_t *jm_ctx_self(const jm_ctx_t *ctx)
{
    return ctx->self ? ctx->self : ctx->account;
}

jm_account_t *jm_ctx_find_account(const jm_ctx_t *ctx, const char *id)
{
    jm_account_t *own = jm_ctx_self(ctx);
    int i;

    if (!id) {
        return NULL;
    }
    if (own && own->id && strcmp(own->id, id) == 0) {
        return own;
    }
    for (i = 0; ctx->shared && i < ctx->shared->nelts; i++) {
        jm_account_t *a = APR_ARRAY_IDX(ctx->shared, i, jm_account_t *);
        if (strcmp(a->id, id) == 0) {
            return a;
        }
    }
    return NULL;
}

void jm_ctx_for_account(jm_ctx_t *out, const jm_ctx_t *ctx, jm_account_t *acc)
{
    *out = *ctx;
    out->self = jm_ctx_self(ctx);
    out->account = acc;
}

void jm_ctx_return(jm_ctx_t *ctx, const jm_ctx_t *sub)
{
    ctx->budget = sub->budget;
}
