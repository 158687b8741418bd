/* One EmailBodyPart of a new Email (RFC 8621 §4.6) → a GMime entity:
 * its properties and header fields, multipart nesting, and leaf content
 * from bodyValues or from a blob (fetched once per build, counted against
 * maxSizeAttachmentsPerEmail).
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "core/jm_log.h"
#include "mime/jm_mime_build_int.h"

typedef struct {
    const unsigned char *data;
    apr_size_t len;
} fetched_t;

/* ------------------------------------------------------------------ */
/* body parts                                                         */
/* ------------------------------------------------------------------ */

static int valid_media_type(const char *t)
{
    const char *slash = strchr(t, '/');
    const unsigned char *c;

    if (!slash || slash == t || !slash[1] || strchr(slash + 1, '/')) {
        return 0;
    }
    for (c = (const unsigned char *)t; *c; ++c) {
        if (*c <= ' ' || *c >= 127 || strchr("()<>@,;:\\\"[]?=", *c)) {
            return 0;
        }
    }
    return 1;
}

static const char *lf_only(const char *s, apr_size_t *plen, apr_pool_t *p)
{
    apr_size_t n = strlen(s);
    char *out = apr_palloc(p, n + 1), *o = out;

    for (; *s; ++s) {
        if (*s == '\r') {
            *o++ = '\n';
            if (s[1] == '\n') {
                ++s;
            }
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    *plen = o - out;
    return out;
}

void jm_mb_set_part_content(GMimePart *part, const void *data, apr_size_t len,
                            int textual)
{
    GMimeStream *ms = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(
        ms, GMIME_CONTENT_ENCODING_DEFAULT);
    GMimeContentEncoding enc;

    g_mime_part_set_content(part, dw);
    g_object_unref(dw);
    g_object_unref(ms);
    if (textual) {
        /* 7bit if ASCII with short lines, else QP or base64 (RFC 2045 §6) */
        enc = g_mime_part_get_best_content_encoding(part,
                                                    GMIME_ENCODING_CONSTRAINT_7BIT);
    }
    else {
        enc = GMIME_CONTENT_ENCODING_BASE64;
    }
    g_mime_part_set_content_encoding(part, enc);
}

/* Add a raw header to a part without GMime re-encoding it. */
static void part_add_raw(GMimeObject *obj, const char *name, const char *raw)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    GMimeHeader *h;

    g_mime_header_list_append(hl, name, "", NULL);
    h = g_mime_header_list_get_header_at(hl, g_mime_header_list_get_count(hl) - 1);
    g_mime_header_set_raw_value(h, raw);
}

static const char *const part_keys[] = {
    "partId", "blobId", "type", "charset", "disposition", "name", "cid",
    "language", "location", "subParts", "size", "headers", NULL
};

static const char *jstr_opt(bctx_t *b, json_t *j, const char *key,
                            const char *path, int *bad)
{
    json_t *v = json_object_get(j, key);

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v) || jm_mb_has_crlf(json_string_value(v))) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/", key, NULL),
                      "must be a string without CR or LF");
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* Part-level header:* and headers: appended raw after the Content-* ones. */
static apr_status_t part_headers(bctx_t *b, json_t *j, const char *path,
                                 apr_hash_t *seen,
                                 apr_array_header_t *out)
{
    const char *key;
    json_t *v;
    apr_status_t rv;

    json_object_foreach(j, key, v) {
        const char *kp = apr_pstrcat(b->p, path, "/", key, NULL);
        jm_hprop_t hp;
        apr_array_header_t *raws;

        if (!strcmp(key, "headers")) {
            if (APR_SUCCESS != (rv = jm_mb_headers_prop(b, v, seen, kp, 1,
                                                        out))) {
                return rv;
            }
            continue;
        }
        if (strncmp(key, "header:", 7)) {
            continue;
        }
        if (jm_mime_hprop_parse(&hp, key, b->p)) {
            return jm_mb_invalid(b, kp, "invalid header property or form");
        }
        if (jm_mb_claim(seen, hp.name, kp, b->p)) {
            return jm_mb_invalid(b, kp, "the same header field is set twice");
        }
        raws = apr_array_make(b->p, 2, sizeof(const char *));
        if (APR_SUCCESS != (rv = jm_mb_enc_prop(raws, b, kp, hp.name, hp.form, hp.all, v))) {
            return rv;
        }
        {
            int i;
            for (i = 0; i < raws->nelts; ++i) {
                jm_hdr_t *e = apr_array_push(out);
                e->name = hp.name;
                e->raw = APR_ARRAY_IDX(raws, i, const char *);
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t check_part_fields(bctx_t *b, const char *path,
                                      apr_array_header_t *extra,
                                      const part_opts_t *po)
{
    int i;

    for (i = 0; i < extra->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(extra, i, jm_hdr_t).name;

        /* Content-Type/-Disposition/-Transfer-Encoding come from the part's
         * properties (type, disposition, name, charset); RFC 8621 §4.6
         * forbids Content-Transfer-Encoding outright. */
        if (!strcasecmp(n, "Content-Type") || !strcasecmp(n, "Content-Disposition")
            || !strcasecmp(n, "Content-Transfer-Encoding")
            || !strcasecmp(n, "MIME-Version")) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, path, "/header:", n, NULL),
                                 "set this through the part's type/disposition/name/"
                                 "charset properties");
        }
        if (po->is_root && !jm_mb_is_content_field(n)
            && apr_hash_get(b->top_seen, jm_mb_lower(n, b->p),
                            APR_HASH_KEY_STRING)) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, path, "/header:", n, NULL),
                                 "header field already set on the Email");
        }
    }
    return APR_SUCCESS;
}

static GMimeObject *build_multipart(bctx_t *b, json_t *j, const char *path,
                                    const char *type, const part_opts_t *po)
{
    GMimeMultipart *mp;
    json_t *subs = json_object_get(j, "subParts"), *sp;
    part_opts_t sub = { NULL, 0, po->depth + 1 };
    apr_size_t i;

    if (strncasecmp(type, "multipart/", 10)) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/type", NULL),
                      "a part with subParts must be multipart/*");
        return NULL;
    }
    if (json_object_get(j, "partId") || json_object_get(j, "blobId")
        || json_object_get(j, "charset")) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL),
                      "a multipart has no partId, blobId or charset");
        return NULL;
    }
    if (!json_is_array(subs) || !json_array_size(subs)) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL),
                      "must be a non-empty array of EmailBodyPart");
        return NULL;
    }
    mp = g_mime_multipart_new_with_subtype(type + 10);
    json_array_foreach(subs, i, sp) {
        GMimeObject *child = jm_mb_build_part(b, sp, apr_psprintf(
            b->p, "%s/subParts/%lu", path, (unsigned long)i), &sub);

        if (!child) {
            if (b->props || b->fail || b->too_large) {
                g_object_unref(mp);
                return NULL;
            }
            continue;   /* blob not found: keep collecting the others */
        }
        g_mime_multipart_add(mp, child);
        g_object_unref(child);
    }
    return (GMimeObject *)mp;
}

/* A blob's bytes, fetched once per build however often it is used (a
 * part blob id means parsing its message, so repeats would be costly). */
static apr_status_t fetch_blob(const unsigned char **pdata, apr_size_t *plen,
                               bctx_t *b, const char *id)
{
    fetched_t *f = apr_hash_get(b->blobs, id, APR_HASH_KEY_STRING);
    apr_status_t rv;

    if (!f) {
        f = apr_pcalloc(b->p, sizeof(*f));
        rv = b->fetch ? b->fetch(&f->data, &f->len, b->fetch_ctx, id, b->p)
                      : APR_NOTFOUND;
        if (rv != APR_SUCCESS) {
            return rv;
        }
        apr_hash_set(b->blobs, apr_pstrdup(b->p, id), APR_HASH_KEY_STRING, f);
    }
    *pdata = f->data;
    *plen = f->len;
    return APR_SUCCESS;
}

static GMimePart *build_leaf(bctx_t *b, json_t *j, const char *path,
                             const char *type, const char *charset)
{
    json_t *pid = json_object_get(j, "partId");
    json_t *bid = json_object_get(j, "blobId");
    GMimePart *part;
    int textual = !strncasecmp(type, "text/", 5);
    const char *slash = strchr(type, '/');
    char *maj = apr_pstrndup(b->p, type, slash - type);

    if (pid && bid) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
                      "give partId or blobId, not both");
        return NULL;
    }
    if (pid) {
        json_t *bv;
        const char *text;
        apr_size_t len;

        if (!json_is_string(pid)
            || !(bv = json_object_get(b->body_values, json_string_value(pid)))) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
                          "no bodyValues entry for this partId");
            return NULL;
        }
        if (charset) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/charset", NULL),
                          "charset must be omitted when partId is given");
            return NULL;
        }
        if (json_object_get(j, "size")) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/size", NULL),
                          "size must be omitted when partId is given");
            return NULL;
        }
        text = lf_only(json_string_value(json_object_get(bv, "value")), &len, b->p);
        part = g_mime_part_new_with_type(maj, slash + 1);
        if (textual) {
            g_mime_object_set_content_type_parameter((GMimeObject *)part,
                                                     "charset", "utf-8");
        }
        jm_mb_set_part_content(part, text, len, 1);
        return part;
    }
    if (bid) {
        const unsigned char *data;
        apr_size_t len;
        apr_status_t rv;

        if (!json_is_string(bid)) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/blobId", NULL), "must be an Id");
            return NULL;
        }
        if (b->too_large) {
            return NULL;       /* already over: do not fetch more */
        }
        rv = fetch_blob(&data, &len, b, json_string_value(bid));
        if (APR_STATUS_IS_NOTFOUND(rv)) {
            json_array_append_new(b->not_found, json_string(json_string_value(bid)));
            return NULL;
        }
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, b->p,
                          JMLOGNO(04000) "fetching blob %s for a new Email failed",
                          json_string_value(bid));
            b->fail = rv;
            return NULL;
        }
        b->attached += len;
        if (b->attached > b->lim->max_attachments) {
            b->too_large = apr_psprintf(b->p, "The attachments of this Email "
                "add up to more than %" APR_SIZE_T_FMT " bytes "
                "(maxSizeAttachmentsPerEmail) at %s.", b->lim->max_attachments,
                path);
            return NULL;
        }
        part = g_mime_part_new_with_type(maj, slash + 1);
        if (textual && charset) {
            g_mime_object_set_content_type_parameter((GMimeObject *)part,
                                                     "charset", charset);
        }
        /* message types may only be 7bit/8bit/binary (RFC 2046 §5.2.1) */
        if (!strncasecmp(type, "message/", 8)) {
            jm_mb_set_part_content(part, data, len, 1);
            if (g_mime_part_get_content_encoding(part) != GMIME_CONTENT_ENCODING_7BIT) {
                g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_8BIT);
            }
        }
        else {
            jm_mb_set_part_content(part, data, len, textual);
        }
        return part;
    }
    jm_mb_invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
                  "a leaf part needs a partId or a blobId");
    return NULL;
}

static int valid_token_list(json_t *arr)
{
    apr_size_t i;
    json_t *v;

    if (!json_is_array(arr)) {
        return 0;
    }
    json_array_foreach(arr, i, v) {
        const unsigned char *c;

        if (!json_is_string(v) || !*json_string_value(v)) {
            return 0;
        }
        for (c = (const unsigned char *)json_string_value(v); *c; ++c) {
            if (!(apr_isalnum(*c) || *c == '-')) {
                return 0;
            }
        }
    }
    return 1;
}

GMimeObject *jm_mb_build_part(bctx_t *b, json_t *j, const char *path,
                              const part_opts_t *po)
{
    const char *key, *type, *charset, *disp, *name, *cid, *loc;
    json_t *v, *lang;
    GMimeObject *obj = NULL;
    apr_hash_t *seen = apr_hash_make(b->p);
    apr_array_header_t *extra = apr_array_make(b->p, 4, sizeof(jm_hdr_t));
    int bad = 0, i;

    if (!json_is_object(j)) {
        jm_mb_invalid(b, path, "must be an EmailBodyPart object");
        return NULL;
    }
    if (po->depth > b->lim->max_depth) {
        jm_mb_invalid(b, path, apr_psprintf(b->p, "body parts nested deeper than %d "
                                            "levels", b->lim->max_depth));
        return NULL;
    }
    json_object_foreach(j, key, v) {
        if (!jm_mb_in_list(part_keys, key) && strncmp(key, "header:", 7)) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/", key, NULL), "unknown property");
            return NULL;
        }
    }
    type = jstr_opt(b, j, "type", path, &bad);
    charset = jstr_opt(b, j, "charset", path, &bad);
    disp = jstr_opt(b, j, "disposition", path, &bad);
    name = jstr_opt(b, j, "name", path, &bad);
    cid = jstr_opt(b, j, "cid", path, &bad);
    loc = jstr_opt(b, j, "location", path, &bad);
    if (bad) {
        return NULL;
    }
    if (!type) {
        type = json_object_get(j, "subParts") ? "multipart/mixed"
             : po->default_type ? po->default_type
             : json_object_get(j, "blobId") ? "application/octet-stream"
             : "text/plain";
    }
    if (!valid_media_type(type)) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/type", NULL), "not a media type");
        return NULL;
    }
    if (disp && !jm_mb_valid_msgid(disp)) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/disposition", NULL), "not a token");
        return NULL;
    }
    if ((cid && !jm_mb_valid_msgid(cid)) || (loc && !jm_mb_valid_msgid(loc))) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, cid && !jm_mb_valid_msgid(cid) ? "/cid"
                                     : "/location", NULL),
                "must not contain spaces, controls or angle brackets");
        return NULL;
    }
    lang = json_object_get(j, "language");
    if (lang && !json_is_null(lang) && json_is_array(lang)
        && json_array_size(lang) > (size_t)b->lim->max_header_items) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/language", NULL), apr_psprintf(
                b->p, "more than %d language tags", b->lim->max_header_items));
        return NULL;
    }
    if (lang && !json_is_null(lang) && !valid_token_list(lang)) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/language", NULL),
                      "must be an array of language tags");
        return NULL;
    }
    if (cid) {
        jm_mb_claim(seen, "Content-ID", "cid", b->p);
    }
    if (loc) {
        jm_mb_claim(seen, "Content-Location", "location", b->p);
    }
    if (lang && !json_is_null(lang)) {
        jm_mb_claim(seen, "Content-Language", "language", b->p);
    }
    if (part_headers(b, j, path, seen, extra)
        || check_part_fields(b, path, extra, po)) {
        return NULL;
    }
    if (json_object_get(j, "subParts") || !strncasecmp(type, "multipart/", 10)) {
        obj = build_multipart(b, j, path, type, po);
    }
    else {
        obj = (GMimeObject *)build_leaf(b, j, path, type, charset);
    }
    if (!obj) {
        return NULL;
    }
    if (disp) {
        g_mime_object_set_disposition(obj, disp);
    }
    if (name && GMIME_IS_PART(obj)) {
        GMimeContentDisposition *cd;
        GMimeParam *prm;

        if (!disp) {
            g_mime_object_set_disposition(obj, "attachment");
        }
        g_mime_part_set_filename((GMimePart *)obj, name);
        /* RFC 2231 in UTF-8 rather than GMime's latin-1 guess */
        cd = g_mime_object_get_content_disposition(obj);
        if (cd && (prm = g_mime_param_list_get_parameter(
                       g_mime_content_disposition_get_parameters(cd), "filename"))) {
            g_mime_param_set_charset(prm, "UTF-8");
        }
        prm = g_mime_param_list_get_parameter(g_mime_content_type_get_parameters(
            g_mime_object_get_content_type(obj)), "name");
        if (prm) {
            g_mime_param_set_charset(prm, "UTF-8");
        }
    }
    if (cid) {
        g_mime_object_set_content_id(obj, cid);
    }
    if (loc) {
        g_mime_object_set_header(obj, "Content-Location", loc, NULL);
    }
    if (lang && !json_is_null(lang)) {
        apr_array_header_t *tags = apr_array_make(b->p, (int)json_array_size(lang) * 2,
                                                  sizeof(const char *));
        apr_size_t k;
        json_t *l;

        json_array_foreach(lang, k, l) {
            APR_ARRAY_PUSH(tags, const char *) = k ? ", " : "";
            APR_ARRAY_PUSH(tags, const char *) = json_string_value(l);
        }
        g_mime_object_set_header(obj, "Content-Language",
                                 apr_array_pstrcat(b->p, tags, 0), NULL);
    }
    for (i = 0; i < extra->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(extra, i, jm_hdr_t);
        part_add_raw(obj, h->name, apr_pstrcat(b->p, h->raw, "\n", NULL));
    }
    return obj;
}
