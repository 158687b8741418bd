/* Email/set update and destroy (RFC 8621 §4.6). Patches go through the
 * standard PatchObject checks (src/std) against the two mutable
 * properties; everything else of an Email is immutable (§4.1). */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_email_update.h"
#include "std/jm_std_patch.h"
#include "std/jm_std_set.h"
#include "store/jm_store.h"
#include "core/jm_util.h"

#define IMM_ JM_PROP_IMMUTABLE
#define SS_  (JM_PROP_SERVER_SET | JM_PROP_IMMUTABLE)

/* What a patch may name: the mutable two, and every other property of
 * §4.1 as immutable (so patching it is invalidProperties, not unknown). */
static const jm_prop_t patch_props[] = {
    { "id", JM_PT_ID, SS_ }, { "blobId", JM_PT_ID, SS_ }, { "threadId", JM_PT_ID, SS_ },
    { "mailboxIds", JM_PT_ID_MAP, 0 }, { "keywords", JM_PT_STRING_MAP, 0 },
    { "size", JM_PT_UINT, SS_ }, { "receivedAt", JM_PT_UTCDATE, IMM_ },
    { "messageId", JM_PT_ANY, IMM_ }, { "inReplyTo", JM_PT_ANY, IMM_ },
    { "references", JM_PT_ANY, IMM_ }, { "sender", JM_PT_ANY, IMM_ },
    { "from", JM_PT_ANY, IMM_ }, { "to", JM_PT_ANY, IMM_ }, { "cc", JM_PT_ANY, IMM_ },
    { "bcc", JM_PT_ANY, IMM_ }, { "replyTo", JM_PT_ANY, IMM_ },
    { "subject", JM_PT_ANY, IMM_ }, { "sentAt", JM_PT_ANY, IMM_ },
    { "hasAttachment", JM_PT_BOOL, SS_ }, { "preview", JM_PT_STRING, SS_ },
    { "bodyStructure", JM_PT_ANY, IMM_ }, { "bodyValues", JM_PT_ANY, IMM_ },
    { "textBody", JM_PT_ANY, IMM_ }, { "htmlBody", JM_PT_ANY, IMM_ },
    { "attachments", JM_PT_ANY, IMM_ }, { "headers", JM_PT_ANY, IMM_ },
    { NULL, 0, 0 }
};

/* RFC 8621 §4.1.1 keyword syntax: 1-255 of %x21-%x7E minus ( ) { ] % * " \ */
int jm_email_valid_keyword(const char *k)
{
    size_t n = strlen(k);

    if (n < 1 || n > 255) {
        return 0;
    }
    for (; *k; k++) {
        if (*k < 0x21 || *k > 0x7e || strchr("(){]%*\"\\", *k)) {
            return 0;
        }
    }
    return 1;
}

static json_t *prop_error(apr_pool_t *p, const char *path, const char *why)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", path), "%s", why);
}

static int in_ids(apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

/* The patched keywords and mailboxIds, validated; a SetError or NULL. */
static json_t *read_patched(const char **pkw, apr_array_header_t **pboxes,
                            json_t *obj, apr_array_header_t *boxes, apr_pool_t *p)
{
    json_t *kw = json_object_get(obj, "keywords");
    json_t *mb = json_object_get(obj, "mailboxIds"), *v, *norm;
    const char *k;

    /* a top-level null means the default: no keywords; no mailbox is no
     * default at all, an Email is in at least one (§4.1.1) */
    if (!json_is_object(mb) || json_object_size(mb) == 0) {
        return prop_error(p, "mailboxIds", "An Email must be in at least one Mailbox.");
    }
    *pboxes = apr_array_make(p, (int)json_object_size(mb), sizeof(const char *));
    json_object_foreach(mb, k, v) {
        if (!json_is_true(v)) {
            return prop_error(p, apr_pstrcat(p, "mailboxIds/", k, NULL),
                              "mailboxIds values must be true.");
        }
        if (!in_ids(boxes, k)) {
            return prop_error(p, apr_pstrcat(p, "mailboxIds/", k, NULL),
                              apr_psprintf(p, "No Mailbox \"%s\".", k));
        }
        APR_ARRAY_PUSH(*pboxes, const char *) = apr_pstrdup(p, k);
    }
    norm = jm_json_own(p, json_object());
    json_object_foreach(kw, k, v) {
        if (!json_is_true(v) || !jm_email_valid_keyword(k)) {
            return prop_error(p, apr_pstrcat(p, "keywords/", k, NULL),
                              "Invalid keyword (RFC 8621 §4.1.1).");
        }
        /* keywords are case-insensitive and kept lower-case */
        json_object_set_new(norm, jm_util_strlower(k, p), json_true());
    }
    *pkw = jm_json_dump(norm, p);
    return NULL;
}

static int listed(json_t *destroy, jm_call_t *call, const char *id)
{
    size_t i;
    json_t *v;

    json_array_foreach(destroy, i, v) {
        const char *d = json_is_string(v) ? jm_call_resolve_id(call, json_string_value(v))
                                          : NULL;
        if (d && !strcmp(d, id)) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t update_one(jm_email_ud_result_t *res, jm_call_t *call,
                               const char *given, json_t *patch, json_t *destroy,
                               apr_array_header_t *boxes)
{
    jm_ctx_t *ctx = call->ctx;
    apr_pool_t *p = call->pool;
    const char *id = jm_call_resolve_id(call, given), *why = NULL, *kw = NULL;
    jm_refs_t refs = { call, NULL, 0 };
    json_t *cur, *mb, *kwj, *resolved = NULL, *patched, *err;
    apr_array_header_t *new_boxes = NULL;
    jm_email_row_t *row;
    jm_patch_status_t st;
    jm_path_t path;
    apr_status_t rv;
    int i;

    if (!id || (rv = jm_store_email_get(&row, ctx->db, ctx->account->id, id, p))
               == APR_NOTFOUND) {
        json_object_set_new(res->not_updated, given, jm_set_error(p, "notFound", NULL,
                            "No Email %s.", given));
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (listed(destroy, call, id)) {
        json_object_set_new(res->not_updated, given, jm_set_error(p, "willDestroy", NULL,
                            "%s is destroyed by the same call.", id));
        return APR_SUCCESS;
    }
    mb = json_object();
    for (i = 0; i < row->mailbox_ids->nelts; i++) {
        json_object_set_new(mb, APR_ARRAY_IDX(row->mailbox_ids, i, const char *),
                            json_true());
    }
    kwj = json_loads(row->keywords, 0, NULL);
    cur = jm_json_own(p, json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", row->id,
                                   "blobId", row->blob_id, "threadId", row->thread_id,
                                   "mailboxIds", mb, "keywords",
                                   kwj ? kwj : json_object()));
    jm_path_init(&path, p);
    st = jm_patch_check(&resolved, &refs, patch_props, id, patch, cur, &path, &why);
    if (st == JM_PATCH_INVALID_PATCH) {
        json_object_set_new(res->not_updated, given, jm_set_error(p, "invalidPatch", NULL,
                            "%s.", why));
        return APR_SUCCESS;
    }
    if (st != JM_PATCH_OK) {
        json_object_set_new(res->not_updated, given, jm_set_error(p, "invalidProperties",
                            jm_path_invalid_json(&path), "Invalid property %s: only "
                            "keywords and mailboxIds of an Email can change.",
                            jm_path_first(&path)));
        return APR_SUCCESS;
    }
    jm_json_own(p, resolved);
    if (!(patched = jm_patch_apply(cur, resolved, &why, p))) {
        json_object_set_new(res->not_updated, given, jm_set_error(p, "invalidPatch", NULL,
                            "%s.", why ? why : "the patch does not apply"));
        return APR_SUCCESS;
    }
    jm_json_own(p, patched);
    if ((err = read_patched(&kw, &new_boxes, patched, boxes, p))) {
        json_object_set_new(res->not_updated, given, err);
        return APR_SUCCESS;
    }
    if ((rv = jm_store_email_update_row(ctx->db, ctx->account->id, row, kw, new_boxes, p))
        != APR_SUCCESS) {
        return rv;
    }
    json_object_set_new(res->updated, id, json_null());
    return APR_SUCCESS;
}

apr_status_t jm_email_update_destroy(jm_email_ud_result_t *res, jm_call_t *call,
                                     json_t *update, json_t *destroy,
                                     apr_array_header_t *boxes)
{
    jm_ctx_t *ctx = call->ctx;
    apr_hash_t *seen = apr_hash_make(call->pool);
    const char *k;
    json_t *v;
    size_t i;
    apr_status_t rv;

    json_object_foreach(update, k, v) {
        if (!json_is_object(v)) {
            json_object_set_new(res->not_updated, k, jm_set_error(call->pool,
                                "invalidPatch", NULL, "A PatchObject is an object."));
            continue;
        }
        if ((rv = update_one(res, call, k, v, destroy, boxes)) != APR_SUCCESS) {
            return rv;
        }
    }
    json_array_foreach(destroy, i, v) {
        const char *given = json_string_value(v);
        const char *id = given ? jm_call_resolve_id(call, given) : NULL;

        if (!given) {
            continue;      /* checked by the caller: Ids only */
        }
        if (id && apr_hash_get(seen, id, APR_HASH_KEY_STRING)) {
            continue;      /* named twice: answered once */
        }
        if (id) {
            apr_hash_set(seen, id, APR_HASH_KEY_STRING, "");
        }
        rv = id ? jm_store_email_destroy(ctx->db, ctx->account->id, id, call->pool)
                : APR_NOTFOUND;
        if (rv == APR_NOTFOUND) {
            json_object_set_new(res->not_destroyed, given, jm_set_error(call->pool,
                                "notFound", NULL, "No Email %s.", given));
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_array_append_new(res->destroyed, json_string(id));
    }
    return APR_SUCCESS;
}
