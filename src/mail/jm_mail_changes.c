/* /changes of the mail types from the store's change log (RFC 8620 §5.2). */
#include "mail/jm_mail.h"
#include "store/jm_store.h"

apr_status_t jm_mail_changes_fetch(jm_changes_t *ch, const char *type,
                                   apr_int64_t since, apr_size_t hint,
                                   apr_array_header_t **precords,
                                   int *ptruncated, apr_int64_t *poldest,
                                   apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch_in(ch, ch->call->ctx->account->id, type, since,
                                    hint, precords, ptruncated, poldest, pcurrent);
}

apr_status_t jm_mail_changes_fetch_in(jm_changes_t *ch, const char *account_id,
                                      const char *type, apr_int64_t since,
                                      apr_size_t hint, apr_array_header_t **precords,
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
                                account_id, type, since, limit, ch->call->pool);
    if (rv == APR_SUCCESS && !*precords) {
        /* since is outside [oldest, current]: the framework answers
         * cannotCalculateChanges from those two */
        *precords = apr_array_make(ch->call->pool, 0, sizeof(jm_change_t));
    }
    return rv;
}

static apr_status_t email_fetch(jm_changes_t *ch, apr_int64_t since, apr_size_t hint,
                                apr_array_header_t **precords, int *ptruncated,
                                apr_int64_t *poldest, apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch(ch, JM_TYPE_EMAIL, since, hint, precords,
                                 ptruncated, poldest, pcurrent);
}

static apr_status_t thread_fetch(jm_changes_t *ch, apr_int64_t since, apr_size_t hint,
                                 apr_array_header_t **precords, int *ptruncated,
                                 apr_int64_t *poldest, apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch(ch, JM_TYPE_THREAD, since, hint, precords,
                                 ptruncated, poldest, pcurrent);
}

static const jm_changes_type_t email_changes = { "Email", NULL, email_fetch, NULL, 0, 0 };
static const jm_changes_type_t thread_changes = { "Thread", NULL, thread_fetch, NULL, 0, 0 };

/* RFC 8621 §4.3: a standard /changes (threadId moves when threads merge
 * show as updates of the moved Emails). */
apr_status_t jm_email_changes(jm_call_t *call)
{
    return jm_std_changes(call, &email_changes, NULL);
}

/* RFC 8621 §3.2: a standard /changes. */
apr_status_t jm_thread_changes(jm_call_t *call)
{
    return jm_std_changes(call, &thread_changes, NULL);
}
