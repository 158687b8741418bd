/* The reading side of jm_mime: GMime set-up, stored bytes parsed into the
 * top-level header fields and a tree of parts (jm_mime_read.h), decoded
 * content and text of a part, and part content by partId for downloads.
 *
 * The top-level header section is split by hand so that "headers" keeps the
 * exact order and raw octets; MIME structure, decoding and charsets are
 * GMime's. Leaf parts are numbered depth-first "1", "2", ... (multiparts
 * have no partId, RFC 8621 §4.1.4).
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "mime/jm_mime_int.h"

static GMimeFormatOptions *fmt_crlf;

void jm_mime_global_init(void)
{
    static int done;

    if (done) {
        return;
    }
    done = 1;
    g_mime_init();
    fmt_crlf = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fmt_crlf, GMIME_NEWLINE_FORMAT_DOS);
    g_mime_format_options_set_param_encoding_method(
        fmt_crlf, GMIME_PARAM_ENCODING_METHOD_RFC2231);
}

GMimeFormatOptions *jm_mime_fmt(void)
{
    return fmt_crlf;
}

static apr_status_t gobj_cleanup(void *data)
{
    g_object_unref(data);
    return APR_SUCCESS;
}

void *jm_mime_own(void *gobj, apr_pool_t *p)
{
    if (gobj) {
        apr_pool_cleanup_register(p, gobj, gobj_cleanup, apr_pool_cleanup_null);
    }
    return gobj;
}

/* The bytes written to a memory stream, NUL-terminated in p; frees ms. */
static const char *stream_bytes(apr_size_t *plen, GMimeStream *ms, apr_pool_t *p)
{
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
    char *out = apr_palloc(p, ba->len + 1);

    if (ba->len) {
        memcpy(out, ba->data, ba->len);     /* data is NULL when empty */
    }
    out[ba->len] = '\0';
    *plen = ba->len;
    g_object_unref(ms);
    return out;
}

const char *jm_mime_obj_bytes(apr_size_t *plen, GMimeObject *obj, apr_pool_t *p)
{
    GMimeStream *ms = g_mime_stream_mem_new();

    g_mime_object_write_to_stream(obj, fmt_crlf, ms);
    return stream_bytes(plen, ms, p);
}

/* GMime's parser compares every line that starts with "--" with each open
 * boundary, so a message declaring thousands of nested boundaries costs
 * time quadratic in its size (100,000 levels in 7 MB: 13 s). Real mail
 * declares a handful. Past JM_MIME_MAX_BOUNDARIES declarations the rest are
 * made inert in the copy GMime parses ("boundary=" becomes "boundar_="):
 * those multiparts are read as opaque bodies and parsing stays linear.
 * The stored bytes are not touched. */
#define JM_MIME_MAX_BOUNDARIES 100

static const char *tame_boundaries(const char *data, apr_size_t len, apr_pool_t *p)
{
    static const char key[] = "boundary=";
    const apr_size_t klen = sizeof(key) - 1;
    char *copy = NULL;
    apr_size_t i;
    int seen = 0;

    for (i = 0; i + klen <= len; ++i) {
        if ((data[i] | 0x20) != 'b' || strncasecmp(data + i, key, klen)) {
            continue;
        }
        if (++seen > JM_MIME_MAX_BOUNDARIES) {
            if (!copy) {
                copy = apr_pmemdup(p, data, len);
            }
            copy[i + klen - 2] = '_';
        }
        i += klen - 1;
    }
    return copy ? copy : data;
}

GMimeMessage *jm_mime_parse_bytes(const char *data, apr_size_t len, apr_pool_t *p)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(tame_boundaries(data, len, p), len);
    GMimeParser *parser = g_mime_parser_new_with_stream(s);
    GMimeMessage *m;

    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    m = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(s);
    return jm_mime_own(m, p);
}

const char *jm_mime_hdr_raw(GMimeHeader *h, apr_pool_t *p)
{
    const char *raw = g_mime_header_get_raw_value(h);
    apr_size_t n;

    if (!raw) {
        return "";
    }
    n = strlen(raw);
    while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r')) {
        --n;
    }
    return apr_pstrndup(p, raw, n);
}

static int is_content_field(const char *name)
{
    return !strncasecmp(name, "Content-", 8);
}

void jm_mime_msg_read_hdrs(jm_mime_msg_t *msg, GMimeObject *parsed, apr_pool_t *p)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(parsed);
    int i, n = g_mime_header_list_get_count(hl);

    msg->hdrs = apr_array_make(p, n + 1, sizeof(jm_hdr_t));
    for (i = 0; i < n; ++i) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_raw_name(h);
        jm_hdr_t *e;

        if (is_content_field(name) || !strcasecmp(name, "MIME-Version")) {
            continue;
        }
        e = apr_array_push(msg->hdrs);
        e->name = apr_pstrdup(p, name);
        e->raw = jm_mime_hdr_raw(h, p);
    }
}

void jm_mime_keep_content_fields(GMimeObject *obj)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    int i = g_mime_header_list_get_count(hl);

    while (i-- > 0) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        if (!is_content_field(g_mime_header_get_name(h))) {
            g_mime_header_list_remove_at(hl, i);
        }
    }
}

/** Wrap stored bytes (e.g. a draft read back) as a jm_mime_msg_t. */
apr_status_t jm_mime_msg_from_bytes(jm_mime_msg_t **pmsg, const char *data,
                                    apr_size_t len, apr_pool_t *p)
{
    jm_mime_msg_t *msg = apr_pcalloc(p, sizeof(*msg));

    *pmsg = NULL;
    msg->data = apr_pstrmemdup(p, data, len);
    msg->len = len;
    if (!(msg->gmsg = jm_mime_parse_bytes(msg->data, len, p))
        || !(msg->body = g_mime_message_get_mime_part(msg->gmsg))) {
        return APR_EINVAL;
    }
    jm_mime_msg_read_hdrs(msg, (GMimeObject *)msg->gmsg, p);
    *pmsg = msg;
    return APR_SUCCESS;
}

apr_status_t jm_mime_to_bytes(const char **pdata, apr_size_t *plen,
                              jm_mime_msg_t *msg, apr_pool_t *p)
{
    (void)p;
    *pdata = msg->data;
    *plen = msg->len;
    return APR_SUCCESS;
}

void *jm_mime_gmime(jm_mime_msg_t *msg, apr_pool_t *p)
{
    if (!msg->gmsg) {
        msg->gmsg = jm_mime_parse_bytes(msg->data, msg->len, p);
    }
    return msg->gmsg;
}

/* ------------------------------------------------------------------ */
/* top-level header section, split by hand                            */
/* ------------------------------------------------------------------ */

static apr_array_header_t *split_headers(const char *raw, apr_size_t len,
                                         apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(jm_hdr_t));
    const char *c = raw, *end = raw + len;

    while (c < end) {
        const char *line_end, *colon, *v;
        jm_hdr_t *h;

        if (*c == '\r' || *c == '\n') {
            break;              /* blank line: end of the header section */
        }
        /* a field runs until a line break not followed by WSP */
        line_end = c;
        for (;;) {
            const char *nl = memchr(line_end, '\n', end - line_end);
            if (!nl) {
                line_end = end;
                break;
            }
            line_end = nl + 1;
            if (line_end >= end || (*line_end != ' ' && *line_end != '\t')) {
                break;
            }
        }
        colon = memchr(c, ':', line_end - c);
        if (colon) {
            apr_size_t vlen;

            v = colon + 1;
            vlen = line_end - v;
            while (vlen && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r')) {
                --vlen;
            }
            h = apr_array_push(out);
            h->name = apr_pstrndup(p, c, colon - c);
            /* RFC 8621 §4.1.2.1: NUL octets are dropped */
            h->raw = apr_pstrndup(p, v, vlen);
        }
        c = line_end;
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* body parts                                                         */
/* ------------------------------------------------------------------ */

const char *jm_mime_leaf_bytes(apr_size_t *plen, GMimeObject *leaf, apr_pool_t *p)
{
    GMimeStream *ms;

    if (GMIME_IS_MESSAGE_PART(leaf)) {
        GMimeMessage *m = g_mime_message_part_get_message((GMimeMessagePart *)leaf);
        return m ? jm_mime_obj_bytes(plen, (GMimeObject *)m, p) : (*plen = 0, "");
    }
    if (!GMIME_IS_PART(leaf) || !g_mime_part_get_content((GMimePart *)leaf)) {
        *plen = 0;
        return "";
    }
    ms = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(g_mime_part_get_content((GMimePart *)leaf), ms);
    return stream_bytes(plen, ms, p);
}

static const char *lc_or_null(const char *s, apr_pool_t *p)
{
    char *l, *c;

    if (!s) {
        return NULL;
    }
    l = apr_pstrdup(p, s);
    for (c = l; *c; ++c) {
        *c = apr_tolower(*c);
    }
    return l;
}

typedef struct {
    apr_pool_t *p;
    int max_depth;
    int next_id;
} walk_t;

/* A multipart nested deeper than the limit is read as one opaque leaf
 * (application/octet-stream, its bytes the whole subtree): the walk, and
 * the sizes of enclosing parts, stay bounded by depth x parts. */
static jm_mime_part_t *make_part(walk_t *w, GMimeObject *obj, int depth)
{
    jm_mime_part_t *gp = apr_pcalloc(w->p, sizeof(*gp));
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *name = NULL;
    char *mt;

    gp->obj = obj;
    gp->pool = w->p;
    mt = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
    gp->type = lc_or_null(mt, w->p);
    g_free(mt);
    gp->disposition = lc_or_null(g_mime_object_get_disposition(obj), w->p);
    if (g_mime_object_get_content_disposition(obj)) {
        name = g_mime_object_get_content_disposition_parameter(obj, "filename");
    }
    if (!name && ct) {
        name = g_mime_content_type_get_parameter(ct, "name");
    }
    gp->name = name ? jm_mime_utf8(name, w->p) : NULL;
    gp->charset = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
    gp->charset = gp->charset ? apr_pstrdup(w->p, gp->charset) : NULL;
    gp->cid = g_mime_object_get_content_id(obj);
    gp->cid = gp->cid ? apr_pstrdup(w->p, gp->cid) : NULL;
    gp->language = g_mime_object_get_header(obj, "Content-Language");
    gp->language = gp->language ? apr_pstrdup(w->p, gp->language) : NULL;
    gp->location = g_mime_object_get_header(obj, "Content-Location");
    gp->location = gp->location ? apr_pstrdup(w->p, gp->location) : NULL;
    if (GMIME_IS_MULTIPART(obj) && depth >= w->max_depth) {
        gp->type = "application/octet-stream";
        gp->opaque = 1;
        gp->part_id = apr_psprintf(w->p, "%d", ++w->next_id);
    }
    else if (GMIME_IS_MULTIPART(obj)) {
        int i, n = g_mime_multipart_get_count((GMimeMultipart *)obj);

        gp->multipart = 1;
        gp->subs = apr_array_make(w->p, n ? n : 1, sizeof(jm_mime_part_t *));
        for (i = 0; i < n; ++i) {
            APR_ARRAY_PUSH(gp->subs, jm_mime_part_t *) = make_part(
                w, g_mime_multipart_get_part((GMimeMultipart *)obj, i), depth + 1);
        }
    }
    else {
        gp->part_id = apr_psprintf(w->p, "%d", ++w->next_id);
    }
    return gp;
}

/* The size of a part: a leaf's decoded bytes; a multipart's written
 * entity, counted through a null stream rather than copied (so a
 * bodyStructure with sizes costs no memory per level, and its time is
 * bounded by the nesting limit times the message size). */
apr_size_t jm_mime_part_size(jm_mime_part_t *gp)
{
    apr_size_t len = 0;

    if ((gp->multipart || gp->opaque) && !gp->have_content) {
        /* what reaches the stream: the return value of the write counts
         * the bytes before GMime's CRLF filter, not after it */
        GMimeStream *ns = g_mime_stream_null_new();

        g_mime_object_write_to_stream(gp->obj, jm_mime_fmt(), ns);
        g_mime_stream_flush(ns);
        len = ((GMimeStreamNull *)ns)->written;
        g_object_unref(ns);
        return len;
    }
    jm_mime_part_bytes(&len, gp);
    return len;
}

const char *jm_mime_part_bytes(apr_size_t *plen, jm_mime_part_t *gp)
{
    if (!gp->have_content) {
        if (gp->multipart || gp->opaque) {
            gp->content = jm_mime_obj_bytes(&gp->content_len, gp->obj, gp->pool);
        }
        else {
            gp->content = jm_mime_leaf_bytes(&gp->content_len, gp->obj, gp->pool);
        }
        gp->have_content = 1;
    }
    *plen = gp->content_len;
    return gp->content;
}

static const char *part_text(int *pproblem, jm_mime_part_t *gp)
{
    apr_pool_t *p = gp->pool;
    apr_size_t len;
    const char *raw = jm_mime_part_bytes(&len, gp);
    const char *cs = gp->charset;
    char *conv = NULL, *out, *o;
    const char *src;
    gsize written;

    *pproblem = 0;
    if (cs && strcasecmp(cs, "utf-8") && strcasecmp(cs, "us-ascii")
        && strcasecmp(cs, "utf8")) {
        conv = g_convert(raw, len, "UTF-8", cs, NULL, &written, NULL);
        if (!conv) {
            *pproblem = 1;
        }
    }
    if (conv) {
        src = apr_pstrmemdup(p, conv, written);
        len = written;
        g_free(conv);
    }
    else {
        src = raw;
    }
    if (!g_utf8_validate(src, len, NULL) || memchr(src, '\0', len)) {
        char *v = g_utf8_make_valid(src, len);
        *pproblem = 1;
        src = apr_pstrdup(p, v);
        len = strlen(src);
        g_free(v);
    }
    o = out = apr_palloc(p, len + 1);
    for (; len; --len, ++src) {
        if (*src == '\r' && len > 1 && src[1] == '\n') {
            continue;
        }
        *o++ = *src;
    }
    *o = '\0';
    return out;
}

const char *jm_mime_part_text(int *pproblem, jm_mime_part_t *gp)
{
    if (!gp->have_text) {
        gp->text = part_text(&gp->text_problem, gp);
        gp->have_text = 1;
    }
    *pproblem = gp->text_problem;
    return gp->text;
}

apr_array_header_t *jm_mime_part_headers(jm_mime_part_t *gp, apr_pool_t *p)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(gp->obj);
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(jm_hdr_t));
    int i, n = hl ? g_mime_header_list_get_count(hl) : 0;

    for (i = 0; i < n; ++i) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        jm_hdr_t *e = apr_array_push(out);

        e->name = apr_pstrdup(p, g_mime_header_get_raw_name(h));
        e->raw = jm_mime_hdr_raw(h, p);
    }
    return out;
}

/* ------------------------------------------------------------------ */
/* the entry points                                                   */
/* ------------------------------------------------------------------ */

apr_status_t jm_mime_read(jm_mime_parsed_t **pmsg, const char *raw, apr_size_t len,
                          int max_depth, apr_pool_t *p)
{
    jm_mime_parsed_t *m;
    GMimeMessage *gmsg;
    GMimeObject *body;
    walk_t w;

    *pmsg = NULL;
    if (!(gmsg = jm_mime_parse_bytes(raw, len, p))) {
        return APR_EINVAL;
    }
    m = apr_pcalloc(p, sizeof(*m));
    m->hdrs = split_headers(raw, len, p);
    body = g_mime_message_get_mime_part(gmsg);
    if (!body) {
        /* no body at all: treat as an empty text/plain part */
        body = jm_mime_own(g_mime_part_new_with_type("text", "plain"), p);
    }
    w.p = p;
    w.max_depth = max_depth > 0 ? max_depth : jm_mime_default_limits.max_depth;
    w.next_id = 0;
    m->root = make_part(&w, body, 1);
    *pmsg = m;
    return APR_SUCCESS;
}

jm_mime_part_t *jm_mime_part_find(jm_mime_part_t *gp, const char *id)
{
    int i;

    if (!gp->multipart) {
        return !strcmp(gp->part_id, id) ? gp : NULL;
    }
    for (i = 0; i < gp->subs->nelts; ++i) {
        jm_mime_part_t *f = jm_mime_part_find(APR_ARRAY_IDX(gp->subs, i,
                                                            jm_mime_part_t *), id);
        if (f) {
            return f;
        }
    }
    return NULL;
}

apr_status_t jm_mime_part_content(const char **pdata, apr_size_t *plen,
                                  const char **ptype, const char *raw,
                                  apr_size_t len, const char *part_id,
                                  int max_depth, apr_pool_t *p)
{
    jm_mime_parsed_t *m;
    jm_mime_part_t *gp;
    apr_status_t rv;

    *pdata = NULL;
    *plen = 0;
    if (ptype) {
        *ptype = NULL;
    }
    /* the same max_depth, so the same part ids as Email/get gives */
    if (APR_SUCCESS != (rv = jm_mime_read(&m, raw, len, max_depth, p))) {
        /* bytes that are no message have no parts: the part blob does not
         * exist, which callers report as blobNotFound */
        return rv == APR_EINVAL ? APR_NOTFOUND : rv;
    }
    if (!(gp = jm_mime_part_find(m->root, part_id))) {
        return APR_NOTFOUND;
    }
    *pdata = jm_mime_part_bytes(plen, gp);
    if (ptype) {
        *ptype = gp->type;
    }
    return APR_SUCCESS;
}
