/* Thread/get (RFC 8621 §3.1): a thread's emailIds, oldest first (sorted
 * by receivedAt, the order §3 asks for). Threads come from Message-ID,
 * In-Reply-To and References (jm_store_email_insert). */
#include <apr_strings.h>
#include "mail/jm_mail.h"
#include "std/jm_std_get.h"
#include "store/jm_store.h"

static const jm_prop_t thread_props[] = {
    { "id", JM_PT_ID, JM_PROP_SERVER_SET | JM_PROP_IMMUTABLE | JM_PROP_DEFAULT_GET
                      | JM_PROP_ALWAYS_GET },
    { "emailIds", JM_PT_ARRAY, JM_PROP_SERVER_SET | JM_PROP_DEFAULT_GET },
    { NULL, 0, 0 }
};

static apr_status_t state(const char **pstate, jm_get_t *get)
{
    return jm_store_state(pstate, get->call->ctx->db, get->call->ctx->account->id,
                          JM_TYPE_THREAD, get->call->pool);
}

static apr_status_t fetch(jm_get_t *get, const apr_array_header_t *ids,
                          apr_size_t offset, const char *after, apr_size_t limit,
                          json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    apr_pool_t *sub;
    apr_status_t rv = APR_SUCCESS;
    int i;

    (void)offset;
    (void)after;
    (void)limit;
    apr_pool_create(&sub, get->call->pool);
    for (i = 0; ids && i < ids->nelts && rv == APR_SUCCESS; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        apr_array_header_t *emails;

        apr_pool_clear(sub);
        rv = jm_store_thread_emails(&emails, ctx->db, ctx->account->id, id, sub);
        if (rv == APR_SUCCESS && emails->nelts) {
            json_t *e = json_array();
            int j;

            for (j = 0; j < emails->nelts; j++) {
                json_array_append_new(e, json_string(APR_ARRAY_IDX(emails, j,
                                                                   const char *)));
            }
            json_array_append_new(list, json_pack("{s:s, s:o}", "id", id, "emailIds", e));
        }
    }
    apr_pool_destroy(sub);
    return rv;
}

/* ids null would list every thread of the account: refused as
 * requestTooLarge, which RFC 8620 §5.1 allows ("if this is supported") */
static const jm_get_type_t thread_get = {
    "Thread", thread_props, NULL, state, fetch, JM_GET_NO_ALL, 0, NULL, NULL
};

apr_status_t jm_thread_get(jm_call_t *call)
{
    return jm_std_get(call, &thread_get, NULL);
}
