/* Per-recipient copies for the Bcc recipients of an encrypted Email: see
 * jm_email_bcc.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "mail/jm_email_bcc.h"
#include "mail/jm_blob.h"
#include "store/jm_store.h"
#include "store/jm_store_queue.h"
#include "core/jm_util.h"

static apr_status_t free_stack(void *s)
{
    sk_X509_free(s);            /* the certificates belong to the pool */
    return APR_SUCCESS;
}

static STACK_OF(X509) *new_stack(apr_pool_t *p)
{
    STACK_OF(X509) *s = sk_X509_new_null();

    if (s) {
        apr_pool_cleanup_register(p, s, free_stack, apr_pool_cleanup_null);
    }
    return s;
}

void jm_email_bcc_split(jm_smime_opts_t *o, jm_bcc_copies_t *c, STACK_OF(X509) *recips,
                        const apr_array_header_t *addrs, jm_mime_msg_t *msg,
                        apr_pool_t *p)
{
    apr_array_header_t *bcc = jm_mime_bcc_only(msg, p);
    apr_hash_t *only = apr_hash_make(p);
    STACK_OF(X509) *main_recips;
    const char *sender = APR_ARRAY_IDX(addrs, 0, const char *);
    int i, k;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < bcc->nelts; i++) {
        const char *b = jm_util_strlower(APR_ARRAY_IDX(bcc, i, const char *), p);
        if (strcmp(b, jm_util_strlower(sender, p))) {
            apr_hash_set(only, b, APR_HASH_KEY_STRING, "");
        }
    }
    if (!apr_hash_count(only) || !(main_recips = new_stack(p))) {
        return;
    }
    c->addr = apr_pcalloc(p, sizeof(char *) * addrs->nelts);
    c->data = apr_pcalloc(p, sizeof(char *) * addrs->nelts);
    c->len = apr_pcalloc(p, sizeof(apr_size_t) * addrs->nelts);
    o->copy_recips = apr_pcalloc(p, sizeof(STACK_OF(X509) *) * addrs->nelts);
    for (i = 0; i < addrs->nelts && i < sk_X509_num(recips); i++) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        STACK_OF(X509) *one;

        if (i == 0 || !apr_hash_get(only, jm_util_strlower(a, p), APR_HASH_KEY_STRING)) {
            sk_X509_push(main_recips, sk_X509_value(recips, i));
            continue;
        }
        if (!(one = new_stack(p))) {
            continue;
        }
        sk_X509_push(one, sk_X509_value(recips, 0));     /* the sender */
        sk_X509_push(one, sk_X509_value(recips, i));
        k = c->n++;
        c->addr[k] = a;
        o->copy_recips[k] = one;
    }
    o->recips = main_recips;
    o->ncopies = c->n;
    o->copy_data = c->data;
    o->copy_len = c->len;
}

apr_status_t jm_email_bcc_store(jm_db_t *db, const char *account_id,
                                const char *email_id, const jm_bcc_copies_t *c,
                                apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; rv == APR_SUCCESS && i < c->n; i++) {
        const char *bid = jm_blob_id_for(c->data[i], c->len[i], p);
        rv = jm_store_blob_put(db, account_id, bid, "message/rfc822", c->data[i],
                               c->len[i], p);
        if (rv == APR_SUCCESS) {
            rv = jm_store_bcc_copy_insert(db, account_id, email_id,
                                          jm_util_strlower(c->addr[i], p), bid, p);
        }
    }
    return rv;
}
