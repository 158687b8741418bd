/* Storing a message as an Email (see jm_email_store.h). */
#include "mail/jm_email_store.h"
#include "mail/jm_blob.h"
#include "core/jm_util.h"

apr_status_t jm_email_prepare_row(jm_email_row_t *row, const char *bytes,
                                  apr_size_t len, apr_pool_t *p)
{
    row->id = jm_util_new_id('M', p);
    row->thread_id = NULL;              /* the store threads it */
    row->blob_id = jm_blob_id_for(bytes, len, p);
    row->size = (apr_int64_t)len;
    row->cols = NULL;
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
