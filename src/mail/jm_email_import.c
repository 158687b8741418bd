/* Email/import (RFC 8621 §4.8) and what it shares with Email/copy. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_email_import.h"
#include "mail/jm_email_store.h"
#include "mail/jm_email_update.h"
#include "mail/jm_blob.h"
#include "mime/jm_mime.h"
#include "std/jm_std_args.h"
#include "std/jm_std_set.h"
#include "std/jm_std_copy.h"
#include "core/jm_util.h"

static json_t *invalid(jm_path_t *path, apr_pool_t *p)
{
    return jm_json_own(p, jm_set_error(p, "invalidProperties",
                                       jm_path_invalid_json(path),
                                       "Invalid property %s.", jm_path_first(path)));
}

static int in_ids(apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; s && i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

json_t *jm_email_read_creation(jm_email_row_t *row, jm_call_t *call, json_t *obj,
                               const jm_prop_t *table, const char *required,
                               apr_array_header_t *boxes)
{
    apr_pool_t *p = call->pool;
    json_t *mb, *kw, *v, *norm;
    const jm_prop_t *prop;
    const char *k;
    jm_path_t path;

    jm_path_init(&path, p);
    json_object_foreach(obj, k, v) {
        if (!(prop = jm_prop_find(table, k))) {
            /* RFC 8621 §4.7: a copy sets mailboxIds, keywords, receivedAt
             * only; an import names its blob and the same three */
            jm_path_invalid(&path, k, "not settable here");
        }
        else {
            jm_prop_check(prop, v, &path);
        }
    }
    if (!json_object_get(obj, required)) {
        jm_path_invalid(&path, required, "required");
    }
    if (!json_object_get(obj, "mailboxIds")) {
        jm_path_invalid(&path, "mailboxIds", "required");
    }
    if (jm_path_nerrors(&path)) {
        return invalid(&path, p);
    }
    mb = json_object_get(obj, "mailboxIds");
    row->mailbox_ids = apr_array_make(p, 2, sizeof(const char *));
    json_object_foreach(mb, k, v) {
        const char *id = jm_call_resolve_id(call, k);

        if (!json_is_true(v)) {
            jm_path_push(&path, "mailboxIds");
            jm_path_invalid(&path, k, "the value must be true");
            return invalid(&path, p);
        }
        if (!in_ids(boxes, id)) {
            jm_path_push(&path, "mailboxIds");
            jm_path_invalid(&path, k, "no such Mailbox");
            return invalid(&path, p);
        }
        if (!in_ids(row->mailbox_ids, id)) {
            APR_ARRAY_PUSH(row->mailbox_ids, const char *) = id;
        }
    }
    if (row->mailbox_ids->nelts == 0) {
        jm_path_invalid(&path, "mailboxIds", "an Email is in at least one Mailbox");
        return invalid(&path, p);
    }
    if ((kw = json_object_get(obj, "keywords")) != NULL) {
        norm = jm_json_own(p, json_object());
        json_object_foreach(kw, k, v) {
            if (!jm_email_valid_keyword(k)) {
                jm_path_push(&path, "keywords");
                jm_path_invalid(&path, k, "not a keyword (RFC 8621 §4.1.1)");
                return invalid(&path, p);
            }
            /* case-insensitive, kept lower-case (as Email/set does) */
            json_object_set_new(norm, jm_util_strlower(k, p), json_true());
        }
        row->keywords = jm_json_dump(norm, p);
    }
    if ((v = json_object_get(obj, "receivedAt")) != NULL
        && jm_util_parse_date(json_string_value(v), 1, &row->received_at)) {
        jm_path_invalid(&path, "receivedAt", "not a UTCDate");
        return invalid(&path, p);
    }
    return NULL;
}

json_t *jm_email_take_bytes(apr_status_t *prv, jm_email_new_t *n, jm_call_t *call,
                            const char *bytes, apr_size_t len)
{
    jm_budget_t *b = &call->ctx->budget;

    *prv = APR_SUCCESS;
    if (!jm_budget_take_build(b, len)) {
        b->build_left = 0;             /* the ones after it fail too */
        return jm_json_own(call->pool, jm_set_error(call->pool, "tooLarge", NULL,
            "This request has stored more than %" APR_SIZE_T_FMT " bytes of "
            "messages; store this one in another request.", b->build_max));
    }
    n->bytes = bytes;
    n->len = len;
    *prv = jm_email_prepare_row(&n->row, bytes, len, call->pool);
    return NULL;
}

static apr_status_t store_all(jm_call_t *call, apr_array_header_t *news)
{
    jm_ctx_t *ctx = call->ctx;
    const char *existing;
    apr_status_t rv;
    int i;

    for (i = 0; i < news->nelts; i++) {
        jm_email_new_t *n = APR_ARRAY_IDX(news, i, jm_email_new_t *);

        if (n->err) {
            continue;
        }
        /* inside the transaction: also sees the ones stored just before */
        if ((rv = jm_store_email_by_blob(&existing, ctx->db, ctx->account->id,
                                         n->row.blob_id, call->pool)) != APR_SUCCESS) {
            return rv;
        }
        if (existing) {
            n->err = jm_json_own(call->pool, jm_copy_already_exists(call->pool,
                existing, "This message is already Email %s of account %s.",
                existing, ctx->account->id));
            continue;
        }
        if ((rv = jm_email_store_row(ctx->db, ctx->account->id, &n->row, n->bytes,
                                     n->len, call->pool)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t jm_email_store_new(const char **pold, const char **pnew, jm_call_t *call,
                                apr_array_header_t *news, const char *if_in_state)
{
    jm_ctx_t *ctx = call->ctx;
    const char *acc = ctx->account->id;
    apr_status_t rv;
    int i, todo = 0;

    for (i = 0; i < news->nelts; i++) {
        todo += APR_ARRAY_IDX(news, i, jm_email_new_t *)->err == NULL;
    }
    if (!todo) {
        if ((rv = jm_store_state(pold, ctx->db, acc, JM_TYPE_EMAIL, call->pool))
            != APR_SUCCESS) {
            return rv;
        }
        *pnew = *pold;
        if (if_in_state && strcmp(if_in_state, *pold) != 0) {
            return jm_call_error(call, "stateMismatch", "The Email state is %s.", *pold);
        }
        return APR_SUCCESS;
    }
    if ((rv = jm_db_begin(ctx->db, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    /* ifInState holds for what this transaction changes */
    if ((rv = jm_store_state(pold, ctx->db, acc, JM_TYPE_EMAIL, call->pool))
        != APR_SUCCESS) {
        jm_db_rollback(ctx->db);
        return rv;
    }
    if (if_in_state && strcmp(if_in_state, *pold) != 0) {
        jm_db_rollback(ctx->db);
        return jm_call_error(call, "stateMismatch", "The Email state is %s.", *pold);
    }
    if ((rv = store_all(call, news)) != APR_SUCCESS
        || (rv = jm_store_state(pnew, ctx->db, acc, JM_TYPE_EMAIL, call->pool))
           != APR_SUCCESS) {
        jm_db_rollback(ctx->db);
        return rv;
    }
    if ((rv = jm_db_commit(ctx->db)) != APR_SUCCESS) {
        return rv;
    }
    /* later calls (and #references) may name the new Emails */
    for (i = 0; i < news->nelts; i++) {
        jm_email_new_t *n = APR_ARRAY_IDX(news, i, jm_email_new_t *);
        if (!n->err) {
            jm_call_add_created(call, n->creation_id, n->row.id);
        }
    }
    return APR_SUCCESS;
}

json_t *jm_email_new_result(const jm_email_new_t *n)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "id", n->row.id, "blobId",
                     n->row.blob_id, "threadId", n->row.thread_id,
                     "size", (json_int_t)n->row.size);
}

void jm_email_new_results(json_t **pcreated, json_t **pnot_created,
                          jm_call_t *call, apr_array_header_t *news)
{
    json_t *created = NULL, *not_created = NULL;
    int i;

    for (i = 0; i < news->nelts; i++) {
        jm_email_new_t *n = APR_ARRAY_IDX(news, i, jm_email_new_t *);

        if (n->err) {
            if (!not_created) {
                not_created = jm_json_own(call->pool, json_object());
            }
            json_object_set(not_created, n->creation_id, n->err);
            continue;
        }
        if (!created) {
            created = jm_json_own(call->pool, json_object());
        }
        json_object_set_new(created, n->creation_id, jm_email_new_result(n));
    }
    *pcreated = created;
    *pnot_created = not_created;
}

/* ---- Email/import ------------------------------------------------------- */

static const jm_arg_t import_args[] = {
    { "ifInState", JM_PT_STRING, JM_ARG_NULLABLE },
    { "emails",    JM_PT_OBJECT, JM_ARG_REQUIRED },
    { NULL, 0, 0 }
};

/* An EmailImport object (§4.8). */
static const jm_prop_t import_props[] = {
    { "blobId",     JM_PT_ID,         0 },
    { "mailboxIds", JM_PT_OBJECT,     0 },
    { "keywords",   JM_PT_STRING_MAP, 0 },
    { "receivedAt", JM_PT_UTCDATE,    0 },
    { NULL, 0, 0 }
};

/* One EmailImport: n->err set when it fails. */
static apr_status_t prepare_import(jm_email_new_t *n, jm_call_t *call, json_t *obj,
                                   apr_array_header_t *boxes)
{
    const char *blob_id = json_string_value(json_object_get(obj, "blobId"));
    const unsigned char *data;
    apr_time_t received;
    apr_size_t len;
    apr_pool_t *bp;
    apr_status_t rv;

    n->row.keywords = "{}";
    n->row.received_at = 0;
    if ((n->err = jm_email_read_creation(&n->row, call, obj, import_props, "blobId",
                                         boxes)) != NULL) {
        return APR_SUCCESS;
    }
    /* the bytes of a failed import go with their own pool at once */
    apr_pool_create(&bp, call->pool);
    rv = jm_blob_fetch(&data, &len, NULL, call->ctx, blob_id, bp);
    if (rv == APR_NOTFOUND) {
        /* §4.8 would allow invalidProperties; blobNotFound with notFound is
         * what Email/set answers for a missing blob (§4.6), and says more */
        apr_pool_destroy(bp);
        n->err = jm_json_own(call->pool, jm_set_error(call->pool, "blobNotFound",
                             NULL, "No blob %s in this account.", blob_id));
        json_object_set_new(n->err, "notFound", json_pack("[s]", blob_id));
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* RFC 8621 §4.8 allows refusing what is no message [RFC5322]; a broken
     * MIME structure that still reads is kept as its bytes are */
    if (!jm_mime_message_info(&received, (const char *)data, len, bp)) {
        apr_pool_destroy(bp);
        n->err = jm_json_own(call->pool, jm_set_error(call->pool, "invalidEmail",
            json_pack("[s]", "blobId"), "Blob %s is not a message (RFC 5322): "
            "it does not start with a header section.", blob_id));
        return APR_SUCCESS;
    }
    if (!json_object_get(obj, "receivedAt")) {
        /* §4.8: the most recent Received header, else the time of import */
        n->row.received_at = received ? received : apr_time_now();
    }
    n->err = jm_email_take_bytes(&rv, n, call, (const char *)data, len);
    if (n->err) {
        apr_pool_destroy(bp);
    }
    return rv;
}

apr_status_t jm_email_import(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    json_t *emails, *obj, *created, *not_created;
    apr_array_header_t *boxes, *news;
    const char *if_state, *cid, *old_state, *new_state;
    apr_status_t rv;

    if (!jm_args_check(call, import_args, NULL)) {
        return APR_SUCCESS;
    }
    emails = jm_args_get(call, "emails");
    if_state = jm_args_str(call, "ifInState");
    json_object_foreach(emails, cid, obj) {
        if (!jm_util_is_valid_id(cid) || !json_is_object(obj)) {
            return jm_call_error(call, "invalidArguments", "Invalid argument "
                                 "emails/%s (%s).", jm_pointer_escape(cid, call->pool),
                                 json_is_object(obj) ? "a creation id is an Id"
                                                     : "not an EmailImport object");
        }
    }
    if ((long)json_object_size(emails) > ctx->limits->max_objects_in_set) {
        return jm_call_error(call, "requestTooLarge", "%lu emails to import; "
                             "maxObjectsInSet is %ld.",
                             (unsigned long)json_object_size(emails),
                             ctx->limits->max_objects_in_set);
    }
    /* a stale ifInState fails before any blob is read (and again inside
     * the transaction) */
    if ((rv = jm_store_state(&old_state, ctx->db, ctx->account->id, JM_TYPE_EMAIL,
                             call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if (if_state && strcmp(if_state, old_state) != 0) {
        return jm_call_error(call, "stateMismatch", "The Email state is %s.", old_state);
    }
    if ((rv = jm_store_mailbox_ids(&boxes, ctx->db, ctx->account->id, call->pool))
        != APR_SUCCESS) {
        return rv;
    }
    news = apr_array_make(call->pool, (int)json_object_size(emails) + 1,
                          sizeof(jm_email_new_t *));
    json_object_foreach(emails, cid, obj) {
        jm_email_new_t *n = apr_pcalloc(call->pool, sizeof(*n));

        n->creation_id = cid;
        if ((rv = prepare_import(n, call, obj, boxes)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(news, jm_email_new_t *) = n;
    }
    if ((rv = jm_email_store_new(&old_state, &new_state, call, news, if_state))
        != APR_SUCCESS || call->error) {
        return rv;
    }
    jm_email_new_results(&created, &not_created, call, news);
    call->result = json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "accountId",
                             ctx->account->id, "oldState", old_state,
                             "newState", new_state, "created", created,
                             "notCreated", not_created);
    return APR_SUCCESS;
}
