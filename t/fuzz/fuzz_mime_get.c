/* fuzz_mime_get: message bytes -> the Email/get reading side.
 *
 * Input: a message as stored (any bytes). Per input:
 *  1. jm_email_view_props with every Email property, every header form
 *     (header:X:asRaw/asText/asAddresses/asGroupedAddresses/asMessageIds/
 *     asDate/asURLs, each also :all) for a fixed list of fields and for the
 *     first fields found in the input, every body property (also header
 *     forms on parts), fetchAllBodyValues / fetchTextBodyValues /
 *     fetchHTMLBodyValues and maxBodyValueBytes chosen by a hash of the
 *     input;
 *  2. the same with the default property lists (properties and
 *     bodyProperties null);
 *  3. jm_mime_part_content for the part ids seen in 1, plus ids that do not
 *     exist;
 *  4. jm_mime_msg_from_bytes + signer address + recipients (what Email/set
 *     uses on a stored draft);
 *  5. jm_email_index (body text bound chosen by the hash) and jm_snippet
 *     with terms taken from the index's own subject and body text.
 * Checks beyond the sanitizers: every requested property is in the answer
 * (a NULL from json_pack or json_string would silently drop it), body parts
 * have every requested body property, part content sizes match "size",
 * and everything serialises; every index string is valid UTF-8, body_text
 * keeps its bound, the index preview (at most 256 characters) and
 * hasAttachment are Email/get's, snippets stay within 255 octets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <glib.h>

#include "fuzz_common.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_view.h"
#include "mail/jm_email_view_cache.h"
#include "mail/jm_email_index.h"
#include "mail/jm_snippet.h"
#include "mime/jm_mime_int.h"

static const char *const email_props[] = {
    "headers", "messageId", "inReplyTo", "references", "sender", "from", "to",
    "cc", "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues",
    "textBody", "htmlBody", "attachments", "hasAttachment", "preview", NULL
};
static const char *const body_props[] = {
    "partId", "blobId", "size", "headers", "name", "type", "charset",
    "disposition", "cid", "language", "location", "subParts",
    "header:Content-Type", "header:Content-Disposition:asText",
    "header:Content-ID:asMessageIds", "header:X-Part:all",
    "header:Content-Location:asURLs:all", NULL
};
static const char *const fields[] = {
    "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date",
    "Message-ID", "In-Reply-To", "References", "List-Post", "List-Unsubscribe",
    "Comments", "Keywords", "Received", "Return-Path", "Resent-To", "Resent-Date",
    "Content-Type", "MIME-Version", "X-Fuzz", NULL
};
static const char *const forms[] = {
    "", ":asRaw", ":asText", ":asAddresses", ":asGroupedAddresses",
    ":asMessageIds", ":asDate", ":asURLs", NULL
};

static json_t *fixed_props, *fixed_bprops, *bprops_no_size;
static const char *cur_input;
static size_t cur_len;

static void finding(const char *what, const char *detail)
{
    fprintf(stderr, "FINDING: %s %s\nmessage (%lu bytes): %.2000s\n", what,
            detail ? detail : "", (unsigned long)cur_len, cur_input ? cur_input : "");
    abort();
}

static void add_forms(json_t *arr, const char *name, apr_pool_t *p, unsigned pick)
{
    jm_hprop_t hp;
    int f;

    for (f = 0; forms[f]; ++f) {
        const char *prop;
        if (pick && !((pick >> f) & 1)) {
            continue;
        }
        prop = apr_pstrcat(p, "header:", name, forms[f], NULL);
        if (!jm_mime_hprop_parse(&hp, prop, p)) {
            json_array_append_new(arr, json_string(prop));
            json_array_append_new(arr, json_string(apr_pstrcat(p, prop, ":all", NULL)));
        }
    }
}

static void utf8_ok(const char *s, const char *what)
{
    if (!s || !g_utf8_validate(s, -1, NULL)) {
        finding("index string missing or not UTF-8:", what);
    }
}

static void check_addrs(jm_email_index_addrs_t *f, int max, const char *what)
{
    int i;

    utf8_ok(f->sort_key, what);
    utf8_ok(f->text, what);
    if (f->addrs->nelts > max) {
        finding("more addresses than the bound in", what);
    }
    for (i = 0; i < f->addrs->nelts; ++i) {
        jm_mime_addr_t *a = &APR_ARRAY_IDX(f->addrs, i, jm_mime_addr_t);
        if (a->name) {
            utf8_ok(a->name, what);
        }
        utf8_ok(a->email, what);
    }
}

static void check_ids(apr_array_header_t *ids, int max, const char *what)
{
    int i;

    if (ids->nelts > max) {
        finding("more ids than the bound in", what);
    }
    for (i = 0; i < ids->nelts; ++i) {
        utf8_ok(APR_ARRAY_IDX(ids, i, const char *), what);
    }
}

/* A term from s: up to 6 octets from the middle of it, whole characters. */
static const char *some_term(const char *s, uint32_t h, apr_pool_t *p)
{
    const char *a, *b;
    long n = g_utf8_strlen(s, -1);

    if (n < 1) {
        return NULL;
    }
    a = g_utf8_offset_to_pointer(s, (long)(h % (uint32_t)n));
    for (b = a; *b && b - a < 6; b = g_utf8_next_char(b)) {
    }
    return apr_pstrndup(p, a, b - a);
}

static void check_snippet(jm_email_index_t *x, uint32_t h, apr_pool_t *p)
{
    apr_array_header_t *terms = apr_array_make(p, 2, sizeof(const char *));
    const char *t;
    jm_snippet_t sn;

    if ((t = some_term(x->subject ? x->subject : "", h, p))) {
        APR_ARRAY_PUSH(terms, const char *) = t;
    }
    if ((t = some_term(x->body_text, h >> 7, p))) {
        APR_ARRAY_PUSH(terms, const char *) = t;
    }
    APR_ARRAY_PUSH(terms, const char *) = "e";
    jm_snippet(&sn, x->subject, x->body_text, terms, terms, p);
    if (sn.subject && (!g_utf8_validate(sn.subject, -1, NULL)
                       || !strstr(sn.subject, "<mark>"))) {
        finding("snippet subject not UTF-8 or unmarked:", sn.subject);
    }
    if (sn.preview && (!g_utf8_validate(sn.preview, -1, NULL)
                       || strlen(sn.preview) > JM_SNIPPET_PREVIEW_MAX
                       || !strstr(sn.preview, "<mark>"))) {
        finding("snippet preview not UTF-8, too long or unmarked:", sn.preview);
    }
}

/* 5. the index; get = the default Email/get answer (NULL if it failed) */
static void check_index(const char *raw, size_t size, uint32_t h, json_t *get,
                        apr_pool_t *p)
{
    jm_email_index_opts_t io;
    jm_email_index_t *x = NULL;

    memset(&io, 0, sizeof(io));
    io.max_body_text = (h >> 3) & 1 ? (h >> 9) % 700 + 1 : 0;
    io.max_ids = (h >> 4) & 1 ? (int)(h % 5) + 1 : 0;
    if (jm_email_index(&x, raw, size, &io, p) != APR_SUCCESS || !x) {
        finding("jm_email_index failed", NULL);
    }
    if (x->size != size) {
        finding("index size is not the input size", NULL);
    }
    if (!get != !!x->not_mime) {
        finding("index not_mime disagrees with Email/get", NULL);
    }
    if (x->subject) {
        utf8_ok(x->subject, "subject");
    }
    utf8_ok(x->thread_subject, "thread_subject");
    check_addrs(&x->from, JM_EMAIL_INDEX_ADDRS, "from");
    check_addrs(&x->to, JM_EMAIL_INDEX_ADDRS, "to");
    check_addrs(&x->cc, JM_EMAIL_INDEX_ADDRS, "cc");
    check_addrs(&x->bcc, JM_EMAIL_INDEX_ADDRS, "bcc");
    check_ids(x->message_ids, io.max_ids ? io.max_ids : JM_EMAIL_INDEX_IDS, "messageId");
    check_ids(x->in_reply_to, io.max_ids ? io.max_ids : JM_EMAIL_INDEX_IDS, "inReplyTo");
    check_ids(x->references, io.max_ids ? io.max_ids : JM_EMAIL_INDEX_IDS, "references");
    utf8_ok(x->preview, "preview");
    utf8_ok(x->body_text, "body_text");
    if (g_utf8_strlen(x->preview, -1) > 256) {
        finding("index preview over 256 characters", x->preview);
    }
    if (strlen(x->body_text) > (io.max_body_text ? io.max_body_text
                                                 : JM_EMAIL_INDEX_BODY_TEXT)) {
        finding("body_text over its bound", NULL);
    }
    if (get && (strcmp(x->preview, json_string_value(json_object_get(get, "preview")))
                || !x->has_attachment
                   != !json_is_true(json_object_get(get, "hasAttachment")))) {
        finding("index preview or hasAttachment differs from Email/get's", x->preview);
    }
    check_snippet(x, h, p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int i;

    (void)argc;
    (void)argv;
    fz_init();
    fixed_props = json_array();
    for (i = 0; email_props[i]; ++i) {
        json_array_append_new(fixed_props, json_string(email_props[i]));
    }
    for (i = 0; fields[i]; ++i) {
        add_forms(fixed_props, fields[i], fz_pool, 0);
    }
    fixed_bprops = json_array();
    bprops_no_size = json_array();
    for (i = 0; body_props[i]; ++i) {
        json_array_append_new(fixed_bprops, json_string(body_props[i]));
        if (strcmp(body_props[i], "size")) {
            json_array_append_new(bprops_no_size, json_string(body_props[i]));
        }
    }
    return 0;
}

/* Names of the first few top-level fields of the input (valid names). */
static void input_fields(json_t *props, const char *d, size_t n, uint32_t h,
                         apr_pool_t *p)
{
    size_t i = 0;
    int found = 0;

    while (i < n && found < 6) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - d) + 1 : n;
        const char *colon = memchr(d + i, ':', end - i);
        if (d[i] == '\r' || d[i] == '\n') {
            break;
        }
        if (colon && d[i] != ' ' && d[i] != '\t') {
            const char *name = apr_pstrmemdup(p, d + i, (apr_size_t)(colon - (d + i)));
            if (jm_mime_valid_field_name(name)) {
                add_forms(props, name, p, (h >> (found * 3)) | 1);
                ++found;
            }
        }
        i = end;
    }
}

static void check_part(json_t *part, json_t *bprops, int with_subs, int depth)
{
    size_t i;
    json_t *v, *sub;

    if (!json_is_object(part)) {
        finding("a body part is not an object", NULL);
    }
    json_array_foreach(bprops, i, v) {
        const char *n = json_string_value(v);
        if (!strcmp(n, "subParts") && !with_subs) {
            continue;
        }
        if (!json_object_get(part, n)) {
            finding("body part property missing:", n);
        }
    }
    if (with_subs && depth < 200) {
        json_array_foreach(json_object_get(part, "subParts"), i, sub) {
            check_part(sub, bprops, 1, depth + 1);
        }
    }
}

static void check_result(json_t *res, json_t *props, json_t *bprops)
{
    size_t i;
    json_t *v, *part;
    char *text;

    json_array_foreach(props, i, v) {
        const char *n = json_string_value(v);
        if (!json_object_get(res, n)) {
            finding("property missing:", n);
        }
    }
    if (bprops) {
        if (json_object_get(res, "bodyStructure")) {
            check_part(json_object_get(res, "bodyStructure"), bprops, 1, 0);
        }
        json_array_foreach(json_object_get(res, "attachments"), i, part) {
            check_part(part, bprops, 0, 0);
        }
        json_array_foreach(json_object_get(res, "textBody"), i, part) {
            check_part(part, bprops, 0, 0);
        }
    }
    if (!(text = json_dumps(res, JSON_COMPACT))) {
        finding("the properties do not serialise", NULL);
    }
    free(text);
}

/* partId -> size from the bodyStructure tree */
static void collect_parts(apr_array_header_t *ids, apr_hash_t *sizes, json_t *part,
                          int depth)
{
    json_t *pid = json_object_get(part, "partId"), *sub;
    size_t i;

    if (json_is_string(pid) && ids->nelts < 4) {
        APR_ARRAY_PUSH(ids, const char *) = json_string_value(pid);
        apr_hash_set(sizes, json_string_value(pid), APR_HASH_KEY_STRING,
                     json_object_get(part, "size"));
    }
    if (depth < 200) {
        json_array_foreach(json_object_get(part, "subParts"), i, sub) {
            collect_parts(ids, sizes, sub, depth + 1);
        }
    }
}

/* 2b. the stored default view (Email/get without parsing) says exactly
 * what parsing with the default properties says */
static void check_view_cache(const char *raw, size_t size, apr_pool_t *p)
{
    jm_email_view_opts_t o;
    json_t *parsed = NULL, *cached = NULL, *names = jm_json_own(p, json_array());
    const char *bad = NULL, *view;
    const char *const defaults[] = { "messageId", "inReplyTo", "references",
        "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt",
        "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody",
        "attachments", NULL };
    int i;

    for (i = 0; defaults[i]; i++) {
        if (!jm_email_view_is_default(defaults[i])) {
            finding("not a default Email/get property:", defaults[i]);
        }
        json_array_append_new(names, json_string(defaults[i]));
    }
    memset(&o, 0, sizeof(o));
    o.blob_id = "Gfuzz";
    view = jm_email_view_cache_make(raw, size, "Gfuzz", p);
    if (jm_email_view_props(&parsed, raw, size, &o, &bad, p) != APR_SUCCESS) {
        if (view) {
            finding("a stored view of bytes that do not parse", "");
        }
        return;
    }
    if (!view) {
        finding("no stored view of bytes that parse", "");
    }
    if (!jm_email_view_cache_fits(&o, names)
        || jm_email_view_cache_props(&cached, view, names, 0) != APR_SUCCESS) {
        finding("the stored view does not answer the default properties", "");
    }
    if (!json_equal(cached, parsed)) {
        finding("the stored view differs from the parsed message", "");
    }
    json_decref(cached);
    if (jm_email_view_cache_props(&cached, view, names, 7) != APR_NOTFOUND) {
        finding("a stored view answered for another MIME depth limit", "");
    }
    json_decref(cached);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_run_pool();
    const char *raw = apr_pmemdup(p, data, size ? size : 1), *bad = NULL;
    uint32_t h = fz_hash(data, size);
    jm_email_view_opts_t o;
    json_t *props, *res = NULL;
    apr_array_header_t *ids = apr_array_make(p, 8, sizeof(const char *));
    apr_hash_t *sizes = apr_hash_make(p);
    apr_status_t rv;
    jm_mime_msg_t *msg;
    int i;

    cur_input = raw;
    cur_len = size;

    /* 1. everything: all Email properties, a quarter of the fixed header
     * forms (which quarter depends on the input: all of them are asked
     * for across inputs, and one input stays cheap), the input's own
     * fields in some forms */
    props = jm_json_own(p, json_array());
    for (i = 0; i < (int)json_array_size(fixed_props); ++i) {
        json_t *v = json_array_get(fixed_props, i);
        const char *name = json_string_value(v);
        if (strncmp(name, "header:", 7) || fz_hash(name, strlen(name)) % 4 == h % 4) {
            json_array_append(props, v);
        }
    }
    input_fields(props, raw, size, h, p);
    memset(&o, 0, sizeof(o));
    o.properties = props;
    /* "size" of a multipart serializes its whole subtree (slow for deep
     * nesting, see the report): asked for by half of the inputs */
    o.body_properties = (h >> 20) & 1 ? fixed_bprops : bprops_no_size;
    o.fetch_all_body_values = (h >> 24) & 1;
    o.fetch_text_body_values = (h >> 25) & 1;
    o.fetch_html_body_values = (h >> 26) & 1;
    o.max_body_value_bytes = (h >> 27) & 1 ? 0 : (h >> 12) % 300;
    o.blob_id = "Gfuzz";
    rv = jm_email_view_props(&res, raw, size, &o, &bad, p);
    if (rv == APR_EINVAL) {
        finding("a property list of valid names was refused:", bad);
    }
    if (rv == APR_SUCCESS) {
        check_result(res, props, o.body_properties);
        collect_parts(ids, sizes, json_object_get(res, "bodyStructure"), 0);
    }

    /* 2. the defaults */
    memset(&o, 0, sizeof(o));
    o.fetch_text_body_values = (h >> 28) & 1;
    o.fetch_html_body_values = (h >> 29) & 1;
    o.max_body_value_bytes = (h >> 30) ? (h % 64) + 1 : 0;
    rv = jm_email_view_props(&res, raw, size, &o, &bad, p);
    if (rv == APR_SUCCESS) {
        check_result(res, jm_json_own(p, json_array()), NULL);
    }
    check_index(raw, size, h, rv == APR_SUCCESS ? res : NULL, p);
    check_view_cache(raw, size, p);

    /* 3. part content, as downloads of "<blobId>_<partId>" */
    APR_ARRAY_PUSH(ids, const char *) = "0";
    APR_ARRAY_PUSH(ids, const char *) = "4294967297";
    APR_ARRAY_PUSH(ids, const char *) = "";
    for (i = 0; i < ids->nelts; ++i) {
        const char *pid = APR_ARRAY_IDX(ids, i, const char *), *pdata, *ptype;
        apr_size_t plen;
        json_t *want = apr_hash_get(sizes, pid, APR_HASH_KEY_STRING);

        rv = jm_mime_part_content(&pdata, &plen, &ptype, raw, size, pid, 0, p);
        if (rv == APR_SUCCESS) {
            if (!pdata || !ptype) {
                finding("part content without data or type, part", pid);
            }
            if (json_is_integer(want) && (apr_size_t)json_integer_value(want) != plen) {
                finding("part content length differs from its size, part", pid);
            }
        }
    }

    /* 4. a stored draft as Email/set reads it */
    if (jm_mime_msg_from_bytes(&msg, raw, size, p) == APR_SUCCESS) {
        const char *addr;
        json_t *err = NULL;
        if (jm_mime_signer_address(&addr, msg, &err, p) == APR_SUCCESS && !addr) {
            finding("signer address success without an address", NULL);
        }
        jm_mime_recipients(msg, p);
        jm_mime_gmime(msg, p);
    }

    cur_input = NULL;
    fz_run_pool_done(p);
    return 0;
}
