/* Storing a message as an Email (see jm_email_store.h). */
#include "mail/jm_email_store.h"
#include "mail/jm_blob.h"
#include "mail/jm_email_index.h"
#include "mail/jm_email_view_cache.h"
#include "std/jm_std_collation.h"
#include "core/jm_util.h"

static apr_array_header_t *ids_of(apr_array_header_t *a, apr_pool_t *p)
{
    return a ? a : apr_array_make(p, 1, sizeof(const char *));
}

/* The index as the store's columns. Sort keys are i;unicode-casemap keys
 * (RFC 5051), the default collation of Email/query sorts (RFC 8621
 * §4.4.2: from/to by name or email of the first address, subject by its
 * RFC 5256 base subject). */
static jm_email_cols_t *cols_of(const jm_email_index_t *x, apr_pool_t *p)
{
    jm_email_cols_t *c = apr_pcalloc(p, sizeof(*c));

    c->subject = x->subject ? x->subject : "";
    c->thread_subject = x->thread_subject ? x->thread_subject : "";
    c->sort_subject = jm_collation_unicode_key(c->thread_subject, p);
    c->from_sort = jm_collation_unicode_key(x->from.sort_key ? x->from.sort_key : "", p);
    c->to_sort = jm_collation_unicode_key(x->to.sort_key ? x->to.sort_key : "", p);
    c->from_key = x->from.sort_key ? x->from.sort_key : "";
    c->to_key = x->to.sort_key ? x->to.sort_key : "";
    c->from_text = x->from.text ? x->from.text : "";
    c->to_text = x->to.text ? x->to.text : "";
    c->cc_text = x->cc.text ? x->cc.text : "";
    c->bcc_text = x->bcc.text ? x->bcc.text : "";
    c->preview = x->preview ? x->preview : "";
    c->body_text = x->body_text ? x->body_text : "";
    c->sent_at = x->has_sent_at ? apr_time_sec(x->sent_at) : -1;
    c->has_attachment = x->has_attachment;
    c->own_ids = ids_of(x->message_ids, p);
    /* In-Reply-To and References name the ancestors a thread is made of
     * (RFC 8621 §3 leaves the algorithm to the server) */
    c->ref_ids = apr_array_copy(p, ids_of(x->in_reply_to, p));
    apr_array_cat(c->ref_ids, ids_of(x->references, p));
    if (x->headers) {
        apr_array_header_t *h = apr_array_make(p, x->headers->nelts + 1,
                                               sizeof(jm_store_header_t));
        int i;

        for (i = 0; i < x->headers->nelts; i++) {
            const jm_email_index_hdr_t *xh = &APR_ARRAY_IDX(x->headers, i,
                                                            jm_email_index_hdr_t);
            jm_store_header_t *sh = apr_array_push(h);
            sh->name = xh->name;
            sh->value = xh->value;
        }
        c->headers = h;
    }
    return c;
}

apr_status_t jm_email_prepare_row(jm_email_row_t *row, const char *bytes,
                                  apr_size_t len, apr_pool_t *p)
{
    jm_email_index_t *idx;
    jm_email_cols_t *c;
    apr_status_t rv;

    row->id = jm_util_new_id('M', p);
    row->thread_id = NULL;              /* the store threads it */
    row->blob_id = jm_blob_id_for(bytes, len, p);
    row->size = (apr_int64_t)len;
    if (APR_SUCCESS != (rv = jm_email_index(&idx, bytes, len, NULL, p))) {
        return rv;
    }
    c = cols_of(idx, p);
    c->view = jm_email_view_cache_make(bytes, len, row->blob_id, p);
    row->cols = c;
    return APR_SUCCESS;
}

apr_status_t jm_email_store_row(jm_db_t *db, const char *account_id,
                                jm_email_row_t *row, const char *bytes,
                                apr_size_t len, apr_pool_t *p)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = jm_store_blob_put(db, account_id, row->blob_id,
                                               "message/rfc822", bytes, len, p))) {
        return rv;
    }
    return jm_store_email_insert(db, account_id, row, p);
}

apr_status_t jm_email_reindex_pending(int *pdone, jm_db_t *db, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_pool_t *sub;
    apr_status_t rv = APR_SUCCESS;
    int i;

    *pdone = 0;
    apr_pool_create(&sub, p);
    do {
        apr_pool_clear(sub);
        if (APR_SUCCESS != (rv = jm_store_emails_unindexed(&rows, db, 100, sub))
            || (rows->nelts && APR_SUCCESS != (rv = jm_db_begin(db, sub)))) {
            break;
        }
        for (i = 0; i < rows->nelts && rv == APR_SUCCESS; i++) {
            jm_store_unindexed_t *e = &APR_ARRAY_IDX(rows, i, jm_store_unindexed_t);
            const unsigned char *raw = NULL;
            apr_size_t len = 0;
            jm_email_index_t *idx;

            /* a message whose blob is gone is indexed as empty: it must not
             * be tried again at every start */
            rv = jm_store_blob_get(&raw, &len, NULL, db, e->account_id, e->blob_id, sub);
            if (APR_STATUS_IS_NOTFOUND(rv)) {
                raw = (const unsigned char *)"";
                len = 0;
                rv = APR_SUCCESS;
            }
            if (rv == APR_SUCCESS
                && APR_SUCCESS == (rv = jm_email_index(&idx, (const char *)raw, len,
                                                       NULL, sub))) {
                rv = jm_store_email_set_cols(db, e, cols_of(idx, sub), sub);
            }
        }
        if (rows->nelts) {
            if (rv != APR_SUCCESS) {
                jm_db_rollback(db);
                break;
            }
            if (APR_SUCCESS != (rv = jm_db_commit(db))) {
                break;
            }
            *pdone += rows->nelts;
        }
    } while (rows->nelts > 0);
    apr_pool_destroy(sub);
    return rv;
}
