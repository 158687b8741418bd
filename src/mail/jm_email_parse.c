/* Email/parse (RFC 8621 §4.9): blobs read as Emails with the same view
 * Email/get gives of stored messages (jm_email_view_props), nothing
 * stored. The metadata a blob does not have is null. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_email_import.h"
#include "mail/jm_blob.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_body_args.h"

/* with jm_email_body_args */
static const jm_arg_t parse_args[] = {
    { "blobIds",             JM_PT_ARRAY, JM_ARG_REQUIRED },
    { "properties",          JM_PT_ARRAY, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

/* §4.9: id, mailboxIds, keywords and receivedAt are null; so is threadId
 * (the thread it would join is not worked out); blobId and size are the
 * blob's. */
static void add_metadata(json_t *obj, json_t *props, const char *blob_id,
                         apr_size_t len)
{
    static const char *const nulls[] = {
        "id", "mailboxIds", "keywords", "receivedAt", "threadId", NULL
    };
    const char *const *n;
    json_t *v;
    size_t i;

    json_array_foreach(props, i, v) {
        const char *name = json_string_value(v);
        for (n = nulls; *n && strcmp(*n, name); n++)
            ;
        if (*n) {
            json_object_set_new(obj, name, json_null());
        }
        else if (!strcmp(name, "blobId")) {
            json_object_set_new(obj, name, json_string(blob_id));
        }
        else if (!strcmp(name, "size")) {
            json_object_set_new(obj, name, json_integer((json_int_t)len));
        }
    }
}

static int string_array(jm_call_t *call, const char *name)
{
    json_t *a = jm_args_get(call, name), *v;
    size_t i;

    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            jm_call_error(call, "invalidArguments", "Invalid argument %s/%lu "
                          "(not a string).", name, (unsigned long)i);
            return 0;
        }
    }
    return 1;
}

/* One blob: 1 parsed (*pobj), 0 not found, -1 not parsable; *prv else. */
static int parse_one(apr_status_t *prv, json_t **pobj, jm_call_t *call,
                     const char *blob_id, json_t *props, jm_email_view_opts_t *o,
                     apr_pool_t *sp)
{
    const unsigned char *data;
    const char *bad = NULL;
    apr_size_t len;
    json_t *mp, *obj;

    *prv = jm_blob_fetch(&data, &len, NULL, call->ctx, blob_id, sp);
    if (*prv == APR_NOTFOUND) {
        *prv = APR_SUCCESS;
        return 0;
    }
    if (*prv != APR_SUCCESS) {
        return 0;
    }
    if (!jm_mime_message_info(NULL, (const char *)data, len, sp)) {
        return -1;
    }
    o->blob_id = blob_id;       /* its parts are "<blobId>_<partId>" */
    if ((*prv = jm_email_view_props(&mp, (const char *)data, len, o, &bad, sp))
        != APR_SUCCESS) {
        return 0;
    }
    obj = json_object();
    json_object_update(obj, mp);          /* outlives sp */
    if (props) {
        add_metadata(obj, props, blob_id, len);
    }
    *pobj = obj;
    return 1;
}

apr_status_t jm_email_parse(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    json_t *ids, *props, *v, *parsed, *not_parsable, *not_found;
    jm_email_view_opts_t o;
    const char *bad = NULL;
    apr_size_t answered = 0;
    apr_pool_t *sp;
    apr_status_t rv = APR_SUCCESS;
    size_t i;

    if (!jm_args_check(call, parse_args, jm_email_body_args)
        || !string_array(call, "blobIds") || !string_array(call, "properties")
        || !string_array(call, "bodyProperties")) {
        return APR_SUCCESS;
    }
    ids = jm_args_get(call, "blobIds");
    props = jm_args_get(call, "properties");
    /* reading like /get: bounded by maxObjectsInGet (RFC 8620 §5.1) */
    if ((long)json_array_size(ids) > ctx->limits->max_objects_in_get) {
        return jm_call_error(call, "requestTooLarge", "%lu blobs to parse; "
                             "maxObjectsInGet is %ld.", (unsigned long)json_array_size(ids),
                             ctx->limits->max_objects_in_get);
    }
    jm_email_body_opts(&o, call);
    o.properties = props;
    /* names first: an unknown one is invalidArguments even when no blob
     * is found (§4.9: a forbidden header form too) */
    if (jm_email_view_check_props(props, o.body_properties, &bad, call->pool) != APR_SUCCESS) {
        return jm_call_error(call, "invalidArguments", "Unknown or invalid "
                             "property \"%s\".", bad ? bad : "?");
    }
    parsed = jm_json_own(call->pool, json_object());
    not_parsable = jm_json_own(call->pool, json_array());
    not_found = jm_json_own(call->pool, json_array());
    apr_pool_create(&sp, call->pool);
    json_array_foreach(ids, i, v) {
        const char *bid = json_string_value(v);
        json_t *obj = NULL;
        size_t k;
        json_t *w;
        int seen = json_object_get(parsed, bid) != NULL, r;

        json_array_foreach(not_found, k, w) {
            seen |= !strcmp(json_string_value(w), bid);
        }
        json_array_foreach(not_parsable, k, w) {
            seen |= !strcmp(json_string_value(w), bid);
        }
        if (seen) {
            continue;                   /* named twice: answered once */
        }
        apr_pool_clear(sp);
        r = parse_one(&rv, &obj, call, bid, props, &o, sp);
        if (rv != APR_SUCCESS) {
            break;
        }
        if (r == 0) {
            json_array_append(not_found, v);
        }
        else if (r < 0) {
            json_array_append(not_parsable, v);
        }
        else {
            /* stop once the answer cannot fit (as Email/get does) */
            answered += jm_json_size_bounded(obj, ctx->budget.response_left);
            json_object_set_new(parsed, bid, obj);
            if (answered > ctx->budget.response_left) {
                apr_pool_destroy(sp);
                return jm_call_error(call, "requestTooLarge", "The Emails parsed "
                    "would make a response larger than %" APR_SIZE_T_FMT
                    " bytes; ask for fewer blobs, properties or body bytes.",
                    ctx->budget.response_max);
            }
        }
    }
    apr_pool_destroy(sp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    call->result = json_pack("{s:s, s:O?, s:O?, s:O?}", "accountId", ctx->account->id,
        "parsed", json_object_size(parsed) ? parsed : NULL,
        "notParsable", json_array_size(not_parsable) ? not_parsable : NULL,
        "notFound", json_array_size(not_found) ? not_found : NULL);
    return APR_SUCCESS;
}
