/* RFC 8621 §4.6 Email/set create: JSON → RFC 5322 message (GMime for the
 * encodings). This file: the build context, the top-level properties and
 * assembling the message; header values are jm_mime_hdr_enc.c, body parts
 * jm_mime_part.c and jm_mime_flat.c (see jm_mime_build_int.h). The reading
 * side is jm_mime_read.c (GMime set-up, the part tree) and
 * jm_mime_headers.c (header forms, signer/recipient rules).
 *
 * The top-level header section is written by hand from jm_hdr_t raw values
 * (so nothing is re-encoded behind our back); the body entity is a GMime
 * object tree written with CRLF format options. The fields the S/MIME
 * layer reads (signer, recipients, header protection) are exactly the
 * lines stored; the body is not parsed again, the built tree is kept for
 * jm_smime.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "core/jm_log.h"
#include "mime/jm_mime_build_int.h"

/* ------------------------------------------------------------------ */
/* build context and errors                                           */
/* ------------------------------------------------------------------ */

const jm_mime_limits_t jm_mime_default_limits = { 50000000, 100, 1000, 20 };

apr_status_t jm_mb_invalid(bctx_t *b, const char *path, const char *desc)
{
    if (!b->props) {
        b->props = json_array();
    }
    json_array_append_new(b->props, json_string(path));
    if (!b->desc) {
        b->desc = apr_psprintf(b->p, "%s: %s", path, desc);
    }
    return APR_EINVAL;
}

/* ------------------------------------------------------------------ */
/* top-level properties                                               */
/* ------------------------------------------------------------------ */

static const struct {
    const char *prop, *field;
    int form;
} conv_props[] = {
    { "from", "From", JM_FORM_ADDRESSES }, { "sender", "Sender", JM_FORM_ADDRESSES },
    { "to", "To", JM_FORM_ADDRESSES }, { "cc", "Cc", JM_FORM_ADDRESSES },
    { "bcc", "Bcc", JM_FORM_ADDRESSES }, { "replyTo", "Reply-To", JM_FORM_ADDRESSES },
    { "subject", "Subject", JM_FORM_TEXT }, { "sentAt", "Date", JM_FORM_DATE },
    { "messageId", "Message-ID", JM_FORM_MSGIDS },
    { "inReplyTo", "In-Reply-To", JM_FORM_MSGIDS },
    { "references", "References", JM_FORM_MSGIDS },
};

/* Handled by the caller (jm_email / jm_smime), or server-set: ignored. */
static const char *const ignored_keys[] = {
    "id", "blobId", "threadId", "size", "receivedAt", "mailboxIds", "keywords",
    "smimeSign", "smimeEncrypt", "headerProtect", "smimeSignOpaque",
    "hasAttachment", "preview", NULL
};

static const char *const body_keys[] = {
    "bodyStructure", "textBody", "htmlBody", "attachments", "bodyValues", NULL
};

int jm_mb_in_list(const char *const *list, const char *s)
{
    for (; *list; ++list) {
        if (!strcmp(*list, s)) {
            return 1;
        }
    }
    return 0;
}

static void push_hdrs(bctx_t *b, const char *name, apr_array_header_t *raws)
{
    int i;

    for (i = 0; i < raws->nelts; ++i) {
        jm_hdr_t *h = apr_array_push(b->hdrs);

        h->name = name;
        h->raw = APR_ARRAY_IDX(raws, i, const char *);
    }
}

static apr_status_t top_header(bctx_t *b, const char *prop, const char *name,
                               int form, int all, json_t *v)
{
    apr_array_header_t *raws = apr_array_make(b->p, 2, sizeof(const char *));
    apr_status_t rv;

    if (jm_mb_is_content_field(name) || !strcasecmp(name, "MIME-Version")) {
        return jm_mb_invalid(b, prop, "MIME structural header fields belong on body parts");
    }
    if (jm_mb_claim(b->top_seen, name, prop, b->p)) {
        return jm_mb_invalid(b, prop, "the same header field is set twice");
    }
    if (APR_SUCCESS == (rv = jm_mb_enc_prop(raws, b, prop, name, form, all, v))) {
        push_hdrs(b, name, raws);
    }
    return rv;
}

static int hdr_rank(const char *name)
{
    static const char *const order[] = {
        "Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject",
        "Message-ID", "In-Reply-To", "References", NULL
    };
    int i;

    for (i = 0; order[i]; ++i) {
        if (!strcasecmp(order[i], name)) {
            return i;
        }
    }
    return 100;
}

/* Well-known fields first in their order, instances keep theirs: a
 * stable counting sort over the few ranks, linear in the number of fields
 * (a client may send many). */
#define HDR_RANKS 12
static void sort_hdrs(apr_array_header_t *a, apr_pool_t *p)
{
    jm_hdr_t *h = (jm_hdr_t *)a->elts, *out;
    int start[HDR_RANKS + 1] = { 0 }, *rank, i, r;

    if (a->nelts < 2) {
        return;
    }
    rank = apr_palloc(p, sizeof(int) * a->nelts);
    out = apr_palloc(p, sizeof(jm_hdr_t) * a->nelts);
    for (i = 0; i < a->nelts; ++i) {
        r = hdr_rank(h[i].name);
        rank[i] = r < HDR_RANKS - 1 ? r : HDR_RANKS - 1;
        start[rank[i] + 1]++;
    }
    for (r = 1; r <= HDR_RANKS; ++r) {
        start[r] += start[r - 1];
    }
    for (i = 0; i < a->nelts; ++i) {
        out[start[rank[i]]++] = h[i];
    }
    memcpy(h, out, sizeof(jm_hdr_t) * a->nelts);
}

/* ------------------------------------------------------------------ */
/* jm_mime_build                                                      */
/* ------------------------------------------------------------------ */

static const char *hdr_get_last(apr_array_header_t *hdrs, const char *name)
{
    int i;

    for (i = hdrs->nelts - 1; i >= 0; --i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        if (!strcasecmp(h->name, name)) {
            return h->raw;
        }
    }
    return NULL;
}

/* Domain of the first From address for the Message-ID right side. */
static const char *msgid_domain(apr_array_header_t *hdrs, apr_pool_t *p)
{
    const char *raw = hdr_get_last(hdrs, "From");
    const char *dom = "jmap.invalid";
    InternetAddressList *l;

    if (raw && (l = internet_address_list_parse(NULL, raw))) {
        InternetAddress *ia = internet_address_list_length(l)
            ? internet_address_list_get_address(l, 0) : NULL;
        const char *addr = ia && INTERNET_ADDRESS_IS_MAILBOX(ia)
            ? internet_address_mailbox_get_addr((InternetAddressMailbox *)ia) : NULL;
        const char *at = addr ? strrchr(addr, '@') : NULL;

        if (at && at[1] && strspn(at + 1, "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
                           == strlen(at + 1)) {
            dom = apr_pstrdup(p, at + 1);
        }
        g_object_unref(l);
    }
    return dom;
}

static void add_defaults(bctx_t *b)
{
    jm_hdr_t *h;

    if (!apr_hash_get(b->top_seen, "date", APR_HASH_KEY_STRING)) {
        GDateTime *now = g_date_time_new_now_utc();
        char *s = g_mime_utils_header_format_date(now);

        h = apr_array_push(b->hdrs);
        h->name = "Date";
        h->raw = apr_pstrcat(b->p, " ", s, NULL);
        g_free(s);
        g_date_time_unref(now);
    }
    if (!apr_hash_get(b->top_seen, "message-id", APR_HASH_KEY_STRING)) {
        unsigned char rnd[16];
        char hex[33];
        int i;

        apr_generate_random_bytes(rnd, sizeof(rnd));
        for (i = 0; i < 16; ++i) {
            apr_snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        }
        h = apr_array_push(b->hdrs);
        h->name = "Message-ID";
        h->raw = apr_psprintf(b->p, " <%s@%s>", hex, msgid_domain(b->hdrs, b->p));
    }
}

static apr_status_t top_props(bctx_t *b, json_t *create)
{
    const char *key;
    json_t *v;
    apr_size_t i;
    apr_status_t rv = APR_SUCCESS;

    json_object_foreach(create, key, v) {
        jm_hprop_t hp;
        int done = 0;

        if (jm_mb_in_list(ignored_keys, key) || jm_mb_in_list(body_keys, key)) {
            continue;
        }
        for (i = 0; i < sizeof(conv_props) / sizeof(conv_props[0]); ++i) {
            if (!strcmp(conv_props[i].prop, key)) {
                rv = top_header(b, key, conv_props[i].field, conv_props[i].form, 0, v);
                done = 1;
            }
        }
        if (done) {
        }
        else if (!strcmp(key, "headers")) {
            apr_array_header_t *out = apr_array_make(b->p, 4, sizeof(jm_hdr_t));

            rv = jm_mb_headers_prop(b, v, b->top_seen, key, 0, out);
            if (rv == APR_SUCCESS) {
                apr_array_cat(b->hdrs, out);
            }
        }
        else if (!strncmp(key, "header:", 7)) {
            if (jm_mime_hprop_parse(&hp, key, b->p)) {
                rv = jm_mb_invalid(b, key, "invalid header property or form not allowed");
            }
            else {
                rv = top_header(b, key, hp.name, hp.form, hp.all, v);
            }
        }
        else {
            rv = jm_mb_invalid(b, key, "unknown property");
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static GMimeObject *build_body(bctx_t *b, json_t *create)
{
    json_t *bs = json_object_get(create, "bodyStructure");
    int flat = 0;
    const char *const *k;
    GMimeObject *body;

    for (k = body_keys + 1; *k && strcmp(*k, "bodyValues"); ++k) {
        json_t *v = json_object_get(create, *k);
        flat |= v && !json_is_null(v);
    }
    if (bs && !json_is_null(bs) && flat) {
        jm_mb_invalid(b, "bodyStructure",
                      "bodyStructure excludes textBody, htmlBody and attachments");
        return NULL;
    }
    if (bs && !json_is_null(bs)) {
        part_opts_t po = { NULL, 1, 1 };
        body = jm_mb_build_part(b, bs, "bodyStructure", &po);
    }
    else if (flat) {
        body = jm_mb_build_flat(b, create);
    }
    else {
        GMimePart *t = g_mime_part_new_with_type("text", "plain");

        g_mime_object_set_content_type_parameter((GMimeObject *)t, "charset", "utf-8");
        jm_mb_set_part_content(t, "", 0, 1);
        body = (GMimeObject *)t;
    }
    return body;
}

/* Does the root entity carry header fields besides Content-*? */
static int root_has_own_fields(GMimeObject *body)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(body);
    int i, n = g_mime_header_list_get_count(hl);

    for (i = 0; i < n; ++i) {
        if (!jm_mb_is_content_field(g_mime_header_get_name(
                g_mime_header_list_get_header_at(hl, i)))) {
            return 1;
        }
    }
    return 0;
}

apr_status_t jm_mime_build(jm_mime_msg_t **pmsg, json_t *create,
                           jm_blob_fetch_fn *fetch, void *fetch_ctx,
                           const jm_mime_limits_t *limits,
                           json_t **pseterr, apr_pool_t *p)
{
    bctx_t b;
    GMimeObject *body = NULL;
    jm_mime_msg_t *msg;
    apr_size_t blen;
    const char *bbytes;
    int i;
    char *out, *o;
    apr_size_t total, hlen;
    const char *body_at;
    GMimeMessage *hdrs_only;

    *pmsg = NULL;
    *pseterr = NULL;
    memset(&b, 0, sizeof(b));
    b.p = p;
    b.fetch = fetch;
    b.fetch_ctx = fetch_ctx;
    b.not_found = jm_json_own(p, json_array());
    b.top_seen = apr_hash_make(p);
    b.hdrs = apr_array_make(p, 16, sizeof(jm_hdr_t));
    b.body_values = json_object_get(create, "bodyValues");
    b.lim = limits ? limits : &jm_mime_default_limits;
    b.blobs = apr_hash_make(p);

    if (!json_is_object(create)) {
        jm_mb_invalid(&b, "", "an Email object is required");
        goto leave;
    }
    if (b.body_values && !json_is_null(b.body_values)
        && jm_mb_check_body_values(&b, b.body_values)) {
        goto leave;
    }
    if (!b.body_values || json_is_null(b.body_values)) {
        b.body_values = jm_json_own(p, json_object());
    }
    if (top_props(&b, create)) {
        goto leave;
    }
    body = build_body(&b, create);
    if (b.props || b.fail || b.too_large || json_array_size(b.not_found)) {
        goto leave;
    }
    add_defaults(&b);
    sort_hdrs(b.hdrs, p);

    bbytes = jm_mime_obj_bytes(&blen, body, p);
    total = blen + 32;
    for (i = 0; i < b.hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(b.hdrs, i, jm_hdr_t);
        total += strlen(h->name) + strlen(h->raw) + 3;
    }
    o = out = apr_palloc(p, total + 1);
    for (i = 0; i < b.hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(b.hdrs, i, jm_hdr_t);
        o += sprintf(o, "%s:%s\r\n", h->name, h->raw);
    }
    o += sprintf(o, "MIME-Version: 1.0\r\n");
    hlen = o - out;
    memcpy(o, bbytes, blen);
    o += blen;
    if (blen < 2 || o[-2] != '\r' || o[-1] != '\n') {
        /* a message ends with a line break (SMTP DATA needs one) */
        *o++ = '\r';
        *o++ = '\n';
    }
    *o = '\0';

    msg = apr_pcalloc(p, sizeof(*msg));
    msg->data = out;
    msg->len = o - out;
    if (!root_has_own_fields(body)) {
        /* the top-level fields are exactly the lines written above */
        msg->hdrs = apr_array_make(p, b.hdrs->nelts + 1, sizeof(jm_hdr_t));
        for (i = 0; i < b.hdrs->nelts; ++i) {
            jm_hdr_t *h = &APR_ARRAY_IDX(b.hdrs, i, jm_hdr_t);
            if (!jm_mb_is_content_field(h->name) && strcasecmp(h->name, "MIME-Version")) {
                *(jm_hdr_t *)apr_array_push(msg->hdrs) = *h;
            }
        }
    }
    else {
        /* a bodyStructure root with fields of its own (header:X-...): they
         * end the header section; read it back as stored */
        body_at = memmem(out + hlen, (o - out) - hlen, "\r\n\r\n", 4);
        hlen = body_at ? (apr_size_t)(body_at - out) + 2 : (apr_size_t)(o - out);
        if (!(hdrs_only = jm_mime_parse_bytes(out, hlen, p))) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(04001) "a built message did not parse back");
            b.fail = APR_EGENERAL;
            goto leave;
        }
        jm_mime_msg_read_hdrs(msg, (GMimeObject *)hdrs_only, p);
    }
    msg->body = jm_mime_own(body, p);
    body = NULL;
    *pmsg = msg;
leave:
    if (body) {
        g_object_unref(body);
    }
    if (b.fail) {
        /* EINVAL and NOTFOUND mean "rejected, see *pseterr" to callers */
        return b.fail == APR_EINVAL || APR_STATUS_IS_NOTFOUND(b.fail)
               ? APR_EGENERAL : b.fail;
    }
    if (b.too_large) {
        *pseterr = jm_json_own(p, json_pack("{s:s, s:s}", "type", "tooLarge",
                                            "description", b.too_large));
        return APR_EINVAL;
    }
    if (b.props) {
        *pseterr = jm_json_own(p, json_pack("{s:s, s:o, s:s}", "type",
                                            "invalidProperties", "properties",
                                            b.props, "description", b.desc));
        return APR_EINVAL;
    }
    if (json_array_size(b.not_found)) {
        *pseterr = jm_json_own(p, json_pack("{s:s, s:O, s:s}", "type", "blobNotFound",
                                            "notFound", b.not_found, "description",
                                            "blob not found"));
        return APR_EINVAL;
    }
    return *pmsg ? APR_SUCCESS : APR_EGENERAL;
}

