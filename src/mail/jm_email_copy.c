/* Email/copy (RFC 8621 §4.7) on the standard /copy (RFC 8620 §5.4): the
 * same message bytes (so the same blobId) become a new Email, with a new
 * id, in another account the user may use; all of one call are stored in
 * one transaction. onSuccessDestroyOriginal destroys the originals through
 * the framework's implicit Email/set in the from account. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_email_import.h"
#include "core/jm_methods.h"
#include "std/jm_std_copy.h"
#include "std/jm_std_set.h"
#include "core/jm_util.h"

/* Only these three may be given instead of the original's values (§4.7);
 * "id" names the original (the framework checks it). */
static const jm_prop_t copy_props[] = {
    { "id",         JM_PT_STRING,     0 },
    { "mailboxIds", JM_PT_OBJECT,     0 },
    { "keywords",   JM_PT_STRING_MAP, 0 },
    { "receivedAt", JM_PT_UTCDATE,    0 },
    { NULL, 0, 0 }
};

typedef struct {
    apr_array_header_t *boxes;      /**< the target account's mailbox ids */
    apr_array_header_t *news;       /**< jm_email_new_t*: copies to store */
} copy_baton_t;

static apr_status_t copy_state(const char **pstate, jm_copy_t *copy, jm_ctx_t *ctx)
{
    return jm_store_state(pstate, ctx->db, ctx->account->id, JM_TYPE_EMAIL,
                          copy->call->pool);
}

/* One creation: read the original, its bytes and the values given; the
 * store callback stores it. */
static apr_status_t copy_email(jm_copy_t *copy, const char *cid, const char *from_id,
                               json_t *obj, json_t **pcreated, json_t **perr)
{
    copy_baton_t *b = copy->baton;
    jm_call_t *call = copy->call;
    jm_ctx_t *from = &copy->from_ctx;
    jm_email_new_t *n = apr_pcalloc(call->pool, sizeof(*n));
    const unsigned char *data;
    jm_email_row_t *orig;
    apr_size_t len;
    apr_status_t rv;

    (void)pcreated;
    if (!b->boxes && (rv = jm_store_mailbox_ids(&b->boxes, call->ctx->db,
                                                call->ctx->account->id,
                                                call->pool)) != APR_SUCCESS) {
        return rv;
    }
    n->creation_id = cid;
    rv = jm_store_email_get(&orig, from->db, from->account->id, from_id, call->pool);
    if (rv == APR_NOTFOUND) {
        /* a malformed creation is invalidProperties before notFound */
        n->err = jm_email_read_creation(&n->row, call, obj, copy_props, "id",
                                        b->boxes);
        *perr = n->err ? json_incref(n->err)
                       : jm_set_error(call->pool, "notFound", json_pack("[s]", "id"),
                                      "No Email %s in account %s.", from_id,
                                      from->account->id);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* the original's mutable values unless the creation gives others
     * (RFC 8620 §5.4); its mailboxes are the other account's, so a copy
     * must always name its own */
    n->row.keywords = orig->keywords;
    n->row.received_at = orig->received_at;
    if ((n->err = jm_email_read_creation(&n->row, call, obj, copy_props, "id",
                                         b->boxes)) != NULL) {
        *perr = json_incref(n->err);
        return APR_SUCCESS;
    }
    rv = jm_store_blob_get(&data, &len, NULL, from->db, from->account->id,
                           orig->blob_id, call->pool);
    if (rv != APR_SUCCESS) {
        /* an Email without its message is damage, not a client error */
        return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
    }
    n->source_id = orig->id;
    if ((n->err = jm_email_take_bytes(&rv, n, call, (const char *)data, len))) {
        *perr = json_incref(n->err);
        return rv;
    }
    if (rv == APR_SUCCESS) {
        APR_ARRAY_PUSH(b->news, jm_email_new_t *) = n;
    }
    return rv;
}

/* All copies in one transaction, ifInState checked inside it; a message
 * already in the account is alreadyExists with its existingId. */
static apr_status_t copy_store(jm_copy_t *copy)
{
    copy_baton_t *b = copy->baton;
    apr_status_t rv;
    int i;

    if ((rv = jm_email_store_new(&copy->old_state, &copy->new_state, copy->call,
                                 b->news, copy->if_in_state)) != APR_SUCCESS
        || copy->call->error) {
        return rv;
    }
    for (i = 0; i < b->news->nelts; i++) {
        jm_email_new_t *n = APR_ARRAY_IDX(b->news, i, jm_email_new_t *);

        rv = n->err ? jm_copy_answer(copy, n->creation_id, NULL, json_incref(n->err))
                    : jm_copy_answer(copy, n->creation_id,
                                     jm_email_new_result(n), NULL);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static const jm_copy_type_t email_copy = {
    "Email", copy_props, NULL, copy_state, copy_email, copy_store, jm_email_set
};

apr_status_t jm_email_copy(jm_call_t *call)
{
    copy_baton_t b;

    b.boxes = NULL;         /* read with the first creation */
    b.news = apr_array_make(call->pool, 8, sizeof(jm_email_new_t *));
    return jm_std_copy(call, &email_copy, &b);
}
