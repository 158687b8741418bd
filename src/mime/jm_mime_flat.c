/* textBody / htmlBody / attachments of a new Email (RFC 8621 §4.6): the
 * flat properties arranged as multipart/alternative, /related and /mixed;
 * and the bodyValues they refer to.
 */
#include <string.h>
#include <apr_strings.h>
#include "mime/jm_mime_build_int.h"

/* ------------------------------------------------------------------ */
/* textBody / htmlBody / attachments (RFC 8621 §4.6)                  */
/* ------------------------------------------------------------------ */

static GMimeObject *build_single(bctx_t *b, json_t *arr, const char *prop,
                                 const char *want)
{
    const char *path = apr_pstrcat(b->p, prop, "/0", NULL);
    part_opts_t po = { want, 0, 2 };
    json_t *part, *t;

    if (!json_is_array(arr) || json_array_size(arr) != 1) {
        jm_mb_invalid(b, prop, "must contain exactly one body part");
        return NULL;
    }
    part = json_array_get(arr, 0);
    t = json_object_get(part, "type");
    if (json_is_object(part) && json_object_get(part, "subParts")) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL), "not allowed here");
        return NULL;
    }
    if (t && !json_is_null(t) && (!json_is_string(t)
                                  || strcasecmp(json_string_value(t), want))) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/type", NULL),
                      apr_pstrcat(b->p, "must be ", want, NULL));
        return NULL;
    }
    return jm_mb_build_part(b, part, path, &po);
}

static GMimeObject *wrap_multi(const char *subtype, GMimeObject *first,
                               apr_array_header_t *rest)
{
    GMimeMultipart *mp = g_mime_multipart_new_with_subtype(subtype);
    int i;

    if (first) {
        g_mime_multipart_add(mp, first);
        g_object_unref(first);
    }
    for (i = 0; i < rest->nelts; ++i) {
        GMimeObject *o = APR_ARRAY_IDX(rest, i, GMimeObject *);
        g_mime_multipart_add(mp, o);
        g_object_unref(o);
    }
    return (GMimeObject *)mp;
}

static void unref_all(apr_array_header_t *a)
{
    int i;

    for (i = 0; i < a->nelts; ++i) {
        g_object_unref(APR_ARRAY_IDX(a, i, GMimeObject *));
    }
}

GMimeObject *jm_mb_build_flat(bctx_t *b, json_t *create)
{
    json_t *jt = json_object_get(create, "textBody");
    json_t *jh = json_object_get(create, "htmlBody");
    json_t *ja = json_object_get(create, "attachments");
    GMimeObject *text = NULL, *html = NULL, *body = NULL;
    apr_array_header_t *inl = apr_array_make(b->p, 2, sizeof(GMimeObject *));
    apr_array_header_t *att = apr_array_make(b->p, 2, sizeof(GMimeObject *));
    apr_array_header_t *none = apr_array_make(b->p, 1, sizeof(GMimeObject *));
    part_opts_t po = { NULL, 0, 2 };
    apr_size_t i;
    json_t *a;

    if (jt && !json_is_null(jt) && !(text = build_single(b, jt, "textBody", "text/plain"))) {
        goto fail;
    }
    if (jh && !json_is_null(jh) && !(html = build_single(b, jh, "htmlBody", "text/html"))) {
        goto fail;
    }
    if (ja && !json_is_null(ja)) {
        if (!json_is_array(ja)) {
            jm_mb_invalid(b, "attachments", "must be an array of EmailBodyPart");
            goto fail;
        }
        json_array_foreach(ja, i, a) {
            const char *path = apr_psprintf(b->p, "attachments/%lu", (unsigned long)i);
            const char *disp = json_string_value(json_object_get(a, "disposition"));
            GMimeObject *o = jm_mb_build_part(b, a, path, &po);

            if (!o) {
                if (b->props || b->fail || b->too_large) {
                    goto fail;
                }
                continue;
            }
            /* inline parts referenced by cid go next to the HTML */
            if (html && json_object_get(a, "cid")
                && (!disp || strcasecmp(disp, "attachment"))) {
                APR_ARRAY_PUSH(inl, GMimeObject *) = o;
            }
            else {
                /* listed as an attachment: say so, or readers may inline it */
                if (!disp) {
                    g_mime_object_set_disposition(o, "attachment");
                }
                APR_ARRAY_PUSH(att, GMimeObject *) = o;
            }
        }
    }
    if (html && inl->nelts) {
        html = wrap_multi("related", html, inl);
        inl->nelts = 0;
    }
    if (text && html) {
        body = wrap_multi("alternative", text, none);
        g_mime_multipart_add((GMimeMultipart *)body, html);
        g_object_unref(html);
    }
    else {
        body = text ? text : html;
    }
    text = html = NULL;
    if (att->nelts) {
        body = wrap_multi("mixed", body, att);
        att->nelts = 0;
    }
    return body;
fail:
    if (text) {
        g_object_unref(text);
    }
    if (html) {
        g_object_unref(html);
    }
    unref_all(inl);
    unref_all(att);
    return NULL;
}

apr_status_t jm_mb_check_body_values(bctx_t *b, json_t *bv)
{
    const char *key;
    json_t *v;

    if (!json_is_object(bv)) {
        return jm_mb_invalid(b, "bodyValues", "must be an object");
    }
    json_object_foreach(bv, key, v) {
        const char *path = apr_pstrcat(b->p, "bodyValues/", key, NULL);
        json_t *ep = json_object_get(v, "isEncodingProblem");
        json_t *tr = json_object_get(v, "isTruncated");

        if (!json_is_object(v) || !json_is_string(json_object_get(v, "value"))) {
            return jm_mb_invalid(b, path, "must be an EmailBodyValue with a string value");
        }
        if (ep && !json_is_false(ep)) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, path, "/isEncodingProblem", NULL),
                                 "must be false or omitted");
        }
        if (tr && !json_is_false(tr)) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, path, "/isTruncated", NULL),
                                 "must be false or omitted");
        }
    }
    return APR_SUCCESS;
}
