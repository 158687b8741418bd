/* /changes of the mail types from the store's change log (RFC 8620 §5.2). */
#include "mail/jm_mail.h"
#include "store/jm_store.h"

apr_status_t jm_mail_changes_fetch(jm_changes_t *ch, const char *type,
                                   apr_int64_t since, apr_size_t hint,
                                   apr_array_header_t **precords,
                                   int *ptruncated, apr_int64_t *poldest,
                                   apr_int64_t *pcurrent)
{
    jm_ctx_t *ctx = ch->call->ctx;
    /* records fold (an id changed twice is one id): read some more than
     * maxChanges, never more than the bound */
    apr_int64_t limit = hint ? (apr_int64_t)hint * 4 + 16 : JM_MAIL_CHANGES_READ_MAX;
    apr_status_t rv;

    if (limit > JM_MAIL_CHANGES_READ_MAX) {
        limit = JM_MAIL_CHANGES_READ_MAX;
    }
    rv = jm_store_changes_since(precords, ptruncated, pcurrent, poldest, ctx->db,
                                ctx->account->id, type, since, limit, ch->call->pool);
    if (rv == APR_SUCCESS && !*precords) {
        /* since is outside [oldest, current]: the framework answers
         * cannotCalculateChanges from those two */
        *precords = apr_array_make(ch->call->pool, 0, sizeof(jm_change_t));
    }
    return rv;
}
