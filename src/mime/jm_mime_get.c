/* The reading side of jm_mime: GMime set-up, header:Name:form names, the
 * S/MIME draft §4 signer/recipient rules, and RFC 8621 §4.1/§4.2 Email/get
 * properties from stored message bytes.
 *
 * The top-level header section is split by hand so that "headers" keeps the
 * exact order and raw octets; MIME structure, decoding and address parsing
 * are GMime's. Leaf parts are numbered depth-first "1", "2", ... (multiparts
 * have no partId, RFC 8621 §4.1.4); part blobIds are "<blob_id>_<partId>".
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include "core/jm_log.h"
#include "mime/jm_mime_int.h"

#define PREVIEW_CHARS 256

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

/* ------------------------------------------------------------------ */
/* header:Name:form property names (RFC 8621 §4.1.2, §4.1.3)          */
/* ------------------------------------------------------------------ */

int jm_mime_valid_field_name(const char *name)
{
    const unsigned char *c = (const unsigned char *)name;

    if (!*c) {
        return 0;
    }
    for (; *c; ++c) {
        if (*c < 33 || *c > 126 || *c == ':') {
            return 0;
        }
    }
    return 1;
}

/* Which parsed forms each field defined by RFC 5322 / RFC 2369 allows
 * (RFC 8621 §4.1.2.2-§4.1.2.7). Fields not listed allow every form. */
static const struct {
    const char *name;
    int forms;
} field_forms[] = {
    { "Subject", JM_FORM_TEXT }, { "Comments", JM_FORM_TEXT },
    { "Keywords", JM_FORM_TEXT },
    { "From", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Sender", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Reply-To", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "To", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Cc", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Bcc", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-From", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-Sender", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-Reply-To", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-To", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-Cc", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Resent-Bcc", JM_FORM_ADDRESSES | JM_FORM_GROUPED },
    { "Message-ID", JM_FORM_MSGIDS }, { "In-Reply-To", JM_FORM_MSGIDS },
    { "References", JM_FORM_MSGIDS }, { "Resent-Message-ID", JM_FORM_MSGIDS },
    { "Date", JM_FORM_DATE }, { "Resent-Date", JM_FORM_DATE },
    { "Return-Path", 0 }, { "Received", 0 },
    { "List-Help", JM_FORM_URLS }, { "List-Unsubscribe", JM_FORM_URLS },
    { "List-Subscribe", JM_FORM_URLS }, { "List-Post", JM_FORM_URLS },
    { "List-Owner", JM_FORM_URLS }, { "List-Archive", JM_FORM_URLS },
};

static int forms_allowed(const char *name)
{
    apr_size_t i;

    for (i = 0; i < sizeof(field_forms) / sizeof(field_forms[0]); ++i) {
        if (!strcasecmp(field_forms[i].name, name)) {
            return field_forms[i].forms | JM_FORM_RAW;
        }
    }
    return 0x7f;
}

int jm_mime_hprop_parse(jm_hprop_t *hp, const char *prop, apr_pool_t *p)
{
    static const struct { const char *n; int f; } forms[] = {
        { "asRaw", JM_FORM_RAW }, { "asText", JM_FORM_TEXT },
        { "asAddresses", JM_FORM_ADDRESSES },
        { "asGroupedAddresses", JM_FORM_GROUPED },
        { "asMessageIds", JM_FORM_MSGIDS }, { "asDate", JM_FORM_DATE },
        { "asURLs", JM_FORM_URLS },
    };
    const char *rest, *colon;
    apr_size_t i;

    if (strncmp(prop, "header:", 7)) {
        return -1;
    }
    rest = prop + 7;
    colon = strchr(rest, ':');
    hp->name = colon ? apr_pstrndup(p, rest, colon - rest) : rest;
    hp->form = JM_FORM_RAW;
    hp->all = 0;
    if (!jm_mime_valid_field_name(hp->name)) {
        return -1;
    }
    if (colon) {
        rest = colon + 1;
        if (!strcmp(rest, "all")) {
            hp->all = 1;
        }
        else {
            const char *c2 = strchr(rest, ':');
            const char *fname = c2 ? apr_pstrndup(p, rest, c2 - rest) : rest;
            int found = 0;

            for (i = 0; i < sizeof(forms) / sizeof(forms[0]); ++i) {
                if (!strcmp(forms[i].n, fname)) {
                    hp->form = forms[i].f;
                    found = 1;
                }
            }
            if (!found || (c2 && strcmp(c2 + 1, "all"))) {
                return -1;
            }
            hp->all = c2 != NULL;
        }
    }
    if (!(forms_allowed(hp->name) & hp->form)) {
        return -1;
    }
    return 0;
}


static int is_content_field(const char *name)
{
    return !strncasecmp(name, "Content-", 8);
}

static char *lower(const char *s, apr_pool_t *p)
{
    char *lc = apr_pstrdup(p, s), *c;

    for (c = lc; *c; ++c) {
        *c = apr_tolower(*c);
    }
    return lc;
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
/* addresses: signer (draft §4) and recipients                        */
/* ------------------------------------------------------------------ */

typedef void mailbox_fn(InternetAddress *mailbox, void *ctx, apr_pool_t *p);

/* fn on every mailbox of an address list, in order, group members
 * flattened into it. */
static void each_mailbox(InternetAddressList *l, mailbox_fn *fn, void *ctx,
                         apr_pool_t *p)
{
    int i, n = internet_address_list_length(l);

    for (i = 0; i < n; ++i) {
        InternetAddress *ia = internet_address_list_get_address(l, i);

        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            each_mailbox(internet_address_group_get_members((InternetAddressGroup *)ia),
                         fn, ctx, p);
        }
        else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            fn(ia, ctx, p);
        }
    }
}

/* mailbox_fn: the address, if any, onto an array of const char*. */
static void push_addr(InternetAddress *mailbox, void *out, apr_pool_t *p)
{
    const char *a = internet_address_mailbox_get_addr((InternetAddressMailbox *)mailbox);

    if (a && *a) {
        APR_ARRAY_PUSH((apr_array_header_t *)out, const char *) = apr_pstrdup(p, a);
    }
}

static apr_array_header_t *field_mailboxes(const char *raw, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    InternetAddressList *l = internet_address_list_parse(NULL, raw);

    if (l) {
        each_mailbox(l, push_addr, out, p);
        g_object_unref(l);
    }
    return out;
}

static json_t *invalid_email(const char *prop, const char *desc)
{
    return json_pack("{s:s, s:[s], s:s}", "type", "invalidEmail",
                     "properties", prop, "description", desc);
}

apr_status_t jm_mime_signer_address(const char **paddr, jm_mime_msg_t *msg,
                                    json_t **pseterr, apr_pool_t *p)
{
    const char *fields[] = { "Sender", "From" }, *props[] = { "sender", "from" };
    int f, i, count;
    const char *raw = NULL;
    apr_array_header_t *mbs;
    char *addr, *at;

    *paddr = NULL;
    *pseterr = NULL;
    for (f = 0; f < 2; ++f) {
        count = 0;
        for (i = 0; i < msg->hdrs->nelts; ++i) {
            jm_hdr_t *h = &APR_ARRAY_IDX(msg->hdrs, i, jm_hdr_t);
            if (!strcasecmp(h->name, fields[f])) {
                ++count;
                raw = h->raw;
            }
        }
        if (count > 1) {
            *pseterr = jm_json_own(p, invalid_email(props[f], apr_psprintf(
                p, "more than one %s header field: the signer is ambiguous",
                fields[f])));
            return APR_EINVAL;
        }
        if (count == 1) {
            break;
        }
    }
    if (f == 2) {
        *pseterr = jm_json_own(p, invalid_email(
            "from", "no From or Sender address to sign as"));
        return APR_EINVAL;
    }
    mbs = field_mailboxes(raw, p);
    if (mbs->nelts != 1) {
        *pseterr = jm_json_own(p, invalid_email(props[f], apr_psprintf(
            p, "the %s field must hold exactly one address to sign as (has %d)",
            fields[f], mbs->nelts)));
        return APR_EINVAL;
    }
    addr = apr_pstrdup(p, APR_ARRAY_IDX(mbs, 0, const char *));
    if ((at = strrchr(addr, '@'))) {
        for (; *at; ++at) {
            *at = apr_tolower(*at);
        }
    }
    *paddr = addr;
    return APR_SUCCESS;
}

apr_array_header_t *jm_mime_recipients(jm_mime_msg_t *msg, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(p);
    int i, j;

    for (i = 0; i < msg->hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(msg->hdrs, i, jm_hdr_t);
        apr_array_header_t *mbs;

        if (strcasecmp(h->name, "To") && strcasecmp(h->name, "Cc")
            && strcasecmp(h->name, "Bcc")) {
            continue;
        }
        mbs = field_mailboxes(h->raw, p);
        for (j = 0; j < mbs->nelts; ++j) {
            const char *a = APR_ARRAY_IDX(mbs, j, const char *);
            const char *key = lower(a, p);

            if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, key, APR_HASH_KEY_STRING, a);
                APR_ARRAY_PUSH(out, const char *) = a;
            }
        }
    }
    return out;
}


typedef struct gpart_t gpart_t;
struct gpart_t {
    GMimeObject *obj;
    const char *part_id;          /* NULL for multipart */
    const char *type;             /* lower-case type/subtype */
    const char *disposition;      /* lower-case or NULL */
    const char *name;
    int multipart;
    int opaque;                   /* a multipart past the depth limit, read as a leaf */
    apr_array_header_t *subs;     /* gpart_t* */
    const char *content;          /* decoded bytes, on demand */
    apr_size_t content_len;
    int have_content;
};

typedef struct {
    apr_pool_t *p;
    const jm_mime_get_opts_t *opts;
    GMimeMessage *msg;
    apr_array_header_t *hdrs;     /* jm_hdr_t, top-level, all fields */
    gpart_t *root;
    int next_id;
    apr_array_header_t *text, *html, *att;
} gctx_t;

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
/* parsed forms (RFC 8621 §4.1.2)                                     */
/* ------------------------------------------------------------------ */

static char *valid_utf8(const char *s, apr_pool_t *p)
{
    char *v, *out;

    if (g_utf8_validate(s, -1, NULL)) {
        return apr_pstrdup(p, s);
    }
    v = g_utf8_make_valid(s, -1);
    out = apr_pstrdup(p, v);
    g_free(v);
    return out;
}

static char *unfold(const char *raw, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(raw) + 1), *o = out;

    for (; *raw; ++raw) {
        if (*raw != '\r' && *raw != '\n') {
            *o++ = *raw;
        }
    }
    *o = '\0';
    return out;
}

static json_t *form_text(const char *raw, apr_pool_t *p)
{
    char *u = unfold(raw, p), *dec, *nfc;
    json_t *j;

    while (*u == ' ') {
        ++u;
    }
    dec = g_mime_utils_header_decode_text(NULL, valid_utf8(u, p));
    nfc = g_utf8_normalize(dec, -1, G_NORMALIZE_NFC);
    j = json_string(nfc ? nfc : dec);
    g_free(dec);
    g_free(nfc);
    return j;
}

static json_t *email_address(InternetAddress *ia, apr_pool_t *p)
{
    const char *name = internet_address_get_name(ia);
    const char *addr = internet_address_mailbox_get_addr((InternetAddressMailbox *)ia);
    json_t *jn = json_null();

    if (name && *name) {
        char *t = apr_pstrdup(p, name), *e;

        while (*t == ' ' || *t == '\t') {
            ++t;
        }
        for (e = t + strlen(t); e > t && (e[-1] == ' ' || e[-1] == '\t'); --e) {
        }
        *e = '\0';
        if (*t) {
            json_decref(jn);
            jn = json_string(valid_utf8(t, p));
        }
    }
    return json_pack("{s:o, s:s}", "name", jn, "email",
                     valid_utf8(addr ? addr : "", p));
}

/* mailbox_fn: an EmailAddress object onto a JSON array. */
static void push_email_address(InternetAddress *mailbox, void *arr, apr_pool_t *p)
{
    json_array_append_new(arr, email_address(mailbox, p));
}

static json_t *form_addresses(const char *raw, int grouped, apr_pool_t *p)
{
    InternetAddressList *l = internet_address_list_parse(NULL, unfold(raw, p));
    json_t *arr = json_array(), *ungrouped = NULL;
    int i, n;

    if (!l) {
        return arr;
    }
    if (!grouped) {
        each_mailbox(l, push_email_address, arr, p);
        g_object_unref(l);
        return arr;
    }
    n = internet_address_list_length(l);
    for (i = 0; i < n; ++i) {
        InternetAddress *ia = internet_address_list_get_address(l, i);

        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            json_t *members = json_array();
            const char *gn = internet_address_get_name(ia);

            each_mailbox(internet_address_group_get_members((InternetAddressGroup *)ia),
                         push_email_address, members, p);
            json_array_append_new(arr, json_pack(
                "{s:o, s:o}", "name", gn ? json_string(valid_utf8(gn, p)) : json_null(),
                "addresses", members));
            ungrouped = NULL;
        }
        else {
            if (!ungrouped) {
                ungrouped = json_array();
                json_array_append_new(arr, json_pack("{s:n, s:o}", "name",
                                                     "addresses", ungrouped));
            }
            json_array_append_new(ungrouped, email_address(ia, p));
        }
    }
    g_object_unref(l);
    return arr;
}

static json_t *form_msgids(const char *raw, apr_pool_t *p)
{
    GMimeReferences *refs = g_mime_references_parse(NULL, unfold(raw, p));
    json_t *arr;
    int i, n;

    if (!refs || !(n = g_mime_references_length(refs))) {
        if (refs) {
            g_mime_references_free(refs);
        }
        return json_null();
    }
    arr = json_array();
    for (i = 0; i < n; ++i) {
        json_array_append_new(arr, json_string(valid_utf8(
            g_mime_references_get_message_id(refs, i), p)));
    }
    g_mime_references_free(refs);
    return arr;
}

static json_t *form_date(const char *raw, apr_pool_t *p)
{
    GDateTime *dt = g_mime_utils_header_decode_date(unfold(raw, p));
    GTimeSpan off;
    char *s;
    json_t *j;
    long mins;

    if (!dt) {
        return json_null();
    }
    s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
    off = g_date_time_get_utc_offset(dt);
    mins = (long)(off / G_TIME_SPAN_MINUTE);
    if (!mins) {
        j = json_string(apr_pstrcat(p, s, "Z", NULL));
    }
    else {
        j = json_string(apr_psprintf(p, "%s%c%02ld:%02ld", s, mins < 0 ? '-' : '+',
                                     labs(mins) / 60, labs(mins) % 60));
    }
    g_free(s);
    g_date_time_unref(dt);
    return j;
}

static json_t *form_urls(const char *raw, apr_pool_t *p)
{
    char *u = unfold(raw, p);
    json_t *arr = json_array();
    char *lt, *gt;

    while ((lt = strchr(u, '<')) && (gt = strchr(lt, '>'))) {
        char *url = apr_pstrndup(p, lt + 1, gt - lt - 1), *o = url, *c;

        for (c = url; *c; ++c) {   /* URLs may be folded: drop whitespace */
            if (*c != ' ' && *c != '\t') {
                *o++ = *c;
            }
        }
        *o = '\0';
        json_array_append_new(arr, json_string(valid_utf8(url, p)));
        u = gt + 1;
    }
    if (!json_array_size(arr)) {
        json_decref(arr);
        return json_null();
    }
    return arr;
}

static json_t *form_value(const char *raw, int form, apr_pool_t *p)
{
    switch (form) {
    case JM_FORM_TEXT:      return form_text(raw, p);
    case JM_FORM_ADDRESSES: return form_addresses(raw, 0, p);
    case JM_FORM_GROUPED:   return form_addresses(raw, 1, p);
    case JM_FORM_MSGIDS:    return form_msgids(raw, p);
    case JM_FORM_DATE:      return form_date(raw, p);
    case JM_FORM_URLS:      return form_urls(raw, p);
    default:                return json_string(valid_utf8(raw, p));
    }
}

/* header:Name[:form][:all] over a header list. */
static json_t *header_prop(apr_array_header_t *hdrs, const jm_hprop_t *hp,
                           apr_pool_t *p)
{
    json_t *all = hp->all ? json_array() : NULL;
    const char *last = NULL;
    int i;

    for (i = 0; i < hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);

        if (!strcasecmp(h->name, hp->name)) {
            last = h->raw;
            if (all) {
                json_array_append_new(all, form_value(h->raw, hp->form, p));
            }
        }
    }
    if (all) {
        return all;
    }
    return last ? form_value(last, hp->form, p) : json_null();
}

static json_t *headers_json(apr_array_header_t *hdrs, apr_pool_t *p)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; i < hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);

        json_array_append_new(arr, json_pack("{s:s, s:s}", "name",
                                             valid_utf8(h->name, p), "value",
                                             valid_utf8(h->raw, p)));
    }
    return arr;
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

/* A multipart nested deeper than the limit is read as one opaque leaf
 * (application/octet-stream, its bytes the whole subtree): the walk, and
 * the sizes of enclosing parts, stay bounded by depth x parts. */
static gpart_t *make_gpart(gctx_t *g, GMimeObject *obj, int depth)
{
    gpart_t *gp = apr_pcalloc(g->p, sizeof(*gp));
    int max_depth = g->opts && g->opts->max_depth > 0 ? g->opts->max_depth
                                                      : jm_mime_default_limits.max_depth;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *name = NULL;
    char *mt;

    gp->obj = obj;
    mt = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
    gp->type = lc_or_null(mt, g->p);
    g_free(mt);
    gp->disposition = lc_or_null(g_mime_object_get_disposition(obj), g->p);
    if (g_mime_object_get_content_disposition(obj)) {
        name = g_mime_object_get_content_disposition_parameter(obj, "filename");
    }
    if (!name && ct) {
        name = g_mime_content_type_get_parameter(ct, "name");
    }
    gp->name = name ? valid_utf8(name, g->p) : NULL;
    if (GMIME_IS_MULTIPART(obj) && depth >= max_depth) {
        gp->type = "application/octet-stream";
        gp->opaque = 1;
        gp->part_id = apr_psprintf(g->p, "%d", ++g->next_id);
    }
    else if (GMIME_IS_MULTIPART(obj)) {
        int i, n = g_mime_multipart_get_count((GMimeMultipart *)obj);

        gp->multipart = 1;
        gp->subs = apr_array_make(g->p, n ? n : 1, sizeof(gpart_t *));
        for (i = 0; i < n; ++i) {
            APR_ARRAY_PUSH(gp->subs, gpart_t *) = make_gpart(
                g, g_mime_multipart_get_part((GMimeMultipart *)obj, i), depth + 1);
        }
    }
    else {
        gp->part_id = apr_psprintf(g->p, "%d", ++g->next_id);
    }
    return gp;
}

static const char *gp_content(apr_size_t *plen, gpart_t *gp, apr_pool_t *p);

/* The size of a part: a leaf's decoded bytes; a multipart's written
 * entity, counted through a null stream rather than copied (so a
 * bodyStructure with sizes costs no memory per level, and its time is
 * bounded by the nesting limit times the message size). */
static apr_size_t gp_size(gpart_t *gp, apr_pool_t *p)
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
    gp_content(&len, gp, p);
    return len;
}

static const char *gp_content(apr_size_t *plen, gpart_t *gp, apr_pool_t *p)
{
    if (!gp->have_content) {
        if (gp->multipart || gp->opaque) {
            gp->content = jm_mime_obj_bytes(&gp->content_len, gp->obj, p);
        }
        else {
            gp->content = jm_mime_leaf_bytes(&gp->content_len, gp->obj, p);
        }
        gp->have_content = 1;
    }
    *plen = gp->content_len;
    return gp->content;
}

/* RFC 8621 §4.1.4 parseStructure, transcribed faithfully. */
static int is_inline_media(const char *t)
{
    return !strncmp(t, "image/", 6) || !strncmp(t, "audio/", 6)
        || !strncmp(t, "video/", 6);
}

static void parse_structure(apr_array_header_t *parts, const char *multipart_type,
                            int in_alternative, apr_array_header_t *html_body,
                            apr_array_header_t *text_body,
                            apr_array_header_t *attachments)
{
    int text_length = text_body ? text_body->nelts : -1;
    int html_length = html_body ? html_body->nelts : -1;
    int i;

    for (i = 0; i < parts->nelts; ++i) {
        gpart_t *part = APR_ARRAY_IDX(parts, i, gpart_t *);
        int is_multipart = part->multipart;
        int is_inline = (!part->disposition || strcmp(part->disposition, "attachment"))
            && (!strcmp(part->type, "text/plain") || !strcmp(part->type, "text/html")
                || is_inline_media(part->type))
            && (i == 0 || (strcmp(multipart_type, "related")
                           && (is_inline_media(part->type) || !part->name)));

        if (is_multipart) {
            const char *sub = strchr(part->type, '/') + 1;

            parse_structure(part->subs, sub,
                            in_alternative || !strcmp(sub, "alternative"),
                            html_body, text_body, attachments);
        }
        else if (is_inline) {
            if (!strcmp(multipart_type, "alternative")) {
                if (!strcmp(part->type, "text/plain")) {
                    APR_ARRAY_PUSH(text_body, gpart_t *) = part;
                }
                else if (!strcmp(part->type, "text/html")) {
                    APR_ARRAY_PUSH(html_body, gpart_t *) = part;
                }
                else {
                    APR_ARRAY_PUSH(attachments, gpart_t *) = part;
                }
                continue;
            }
            else if (in_alternative) {
                if (!strcmp(part->type, "text/plain")) {
                    html_body = NULL;
                }
                if (!strcmp(part->type, "text/html")) {
                    text_body = NULL;
                }
            }
            if (text_body) {
                APR_ARRAY_PUSH(text_body, gpart_t *) = part;
            }
            if (html_body) {
                APR_ARRAY_PUSH(html_body, gpart_t *) = part;
            }
            if ((!text_body || !html_body) && is_inline_media(part->type)) {
                APR_ARRAY_PUSH(attachments, gpart_t *) = part;
            }
        }
        else {
            APR_ARRAY_PUSH(attachments, gpart_t *) = part;
        }
    }
    if (!strcmp(multipart_type, "alternative") && text_body && html_body) {
        /* found HTML part only */
        if (text_length == text_body->nelts && html_length != html_body->nelts) {
            for (i = html_length; i < html_body->nelts; ++i) {
                APR_ARRAY_PUSH(text_body, gpart_t *) =
                    APR_ARRAY_IDX(html_body, i, gpart_t *);
            }
        }
        /* found plaintext part only */
        if (html_length == html_body->nelts && text_length != text_body->nelts) {
            for (i = text_length; i < text_body->nelts; ++i) {
                APR_ARRAY_PUSH(html_body, gpart_t *) =
                    APR_ARRAY_IDX(text_body, i, gpart_t *);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* property names                                                     */
/* ------------------------------------------------------------------ */

static const char *const email_props[] = {
    "headers", "messageId", "inReplyTo", "references", "sender", "from", "to",
    "cc", "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues",
    "textBody", "htmlBody", "attachments", "hasAttachment", "preview", NULL
};
/* metadata: known, produced by the caller (RFC 8621 §4.1.1) */
static const char *const meta_props[] = {
    "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", NULL
};
static const char *const default_props[] = {
    "messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
    "replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
    "textBody", "htmlBody", "attachments", NULL
};
static const char *const body_props[] = {
    "partId", "blobId", "size", "headers", "name", "type", "charset",
    "disposition", "cid", "language", "location", "subParts", NULL
};
static const char *const default_body_props[] = {
    "partId", "blobId", "size", "name", "type", "charset", "disposition", "cid",
    "language", "location", NULL
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; ++list) {
        if (!strcmp(*list, s)) {
            return 1;
        }
    }
    return 0;
}

static json_t *names_or_default(json_t *given, const char *const *def)
{
    json_t *arr;

    if (given && !json_is_null(given)) {
        return json_incref(given);
    }
    arr = json_array();
    for (; *def; ++def) {
        json_array_append_new(arr, json_string(*def));
    }
    return arr;
}

/* Every name must be a known property or a valid header:... name. */
static int check_names(json_t *names, const char *const *known,
                       const char *const *also, const char **pbad, apr_pool_t *p)
{
    apr_size_t i;
    json_t *v;
    jm_hprop_t hp;

    if (!json_is_array(names)) {
        *pbad = "properties";
        return -1;
    }
    json_array_foreach(names, i, v) {
        const char *n = json_string_value(v);

        if (!n) {
            *pbad = "(not a string)";
            return -1;
        }
        if (in_list(known, n) || (also && in_list(also, n))) {
            continue;
        }
        if (!strncmp(n, "header:", 7) && !jm_mime_hprop_parse(&hp, n, p)) {
            continue;
        }
        *pbad = apr_pstrdup(p, n);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* EmailBodyPart JSON                                                 */
/* ------------------------------------------------------------------ */

static apr_array_header_t *part_hdrs(gpart_t *gp, apr_pool_t *p)
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

static json_t *language_json(GMimeObject *obj, apr_pool_t *p)
{
    const char *v = g_mime_object_get_header(obj, "Content-Language");
    json_t *arr;
    char *copy, *tok, *last;

    if (!v) {
        return json_null();
    }
    arr = json_array();
    copy = unfold(v, p);
    for (tok = apr_strtok(copy, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        json_array_append_new(arr, json_string(valid_utf8(tok, p)));
    }
    return arr;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); --e) {
    }
    *e = '\0';
    return s;
}

static json_t *str_or_null(const char *s, apr_pool_t *p)
{
    return s ? json_string(valid_utf8(s, p)) : json_null();
}

static json_t *part_json(gctx_t *g, gpart_t *gp, json_t *props, int with_subs)
{
    json_t *o = json_object(), *v;
    apr_size_t i;
    apr_array_header_t *hdrs = NULL;

    json_array_foreach(props, i, v) {
        const char *n = json_string_value(v);
        json_t *val;

        if (!strcmp(n, "partId")) {
            val = str_or_null(gp->part_id, g->p);
        }
        else if (!strcmp(n, "blobId")) {
            val = gp->part_id && g->opts->blob_id
                ? json_string(apr_pstrcat(g->p, g->opts->blob_id, "_", gp->part_id, NULL))
                : json_null();
        }
        else if (!strcmp(n, "size")) {
            val = json_integer((json_int_t)gp_size(gp, g->p));
        }
        else if (!strcmp(n, "headers")) {
            val = headers_json(hdrs ? hdrs : (hdrs = part_hdrs(gp, g->p)), g->p);
        }
        else if (!strcmp(n, "name")) {
            val = str_or_null(gp->name, g->p);
        }
        else if (!strcmp(n, "type")) {
            val = json_string(gp->type);
        }
        else if (!strcmp(n, "charset")) {
            GMimeContentType *ct = g_mime_object_get_content_type(gp->obj);
            const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
            val = cs ? str_or_null(cs, g->p)
                : !strncmp(gp->type, "text/", 5) ? json_string("us-ascii") : json_null();
        }
        else if (!strcmp(n, "disposition")) {
            val = str_or_null(gp->disposition, g->p);
        }
        else if (!strcmp(n, "cid")) {
            val = str_or_null(g_mime_object_get_content_id(gp->obj), g->p);
        }
        else if (!strcmp(n, "language")) {
            val = language_json(gp->obj, g->p);
        }
        else if (!strcmp(n, "location")) {
            const char *l = g_mime_object_get_header(gp->obj, "Content-Location");
            val = l ? json_string(valid_utf8(trim(unfold(l, g->p)), g->p))
                    : json_null();
        }
        else if (!strcmp(n, "subParts")) {
            if (!with_subs || !gp->multipart) {
                val = json_null();
            }
            else {
                int k;
                val = json_array();
                for (k = 0; k < gp->subs->nelts; ++k) {
                    json_array_append_new(val, part_json(
                        g, APR_ARRAY_IDX(gp->subs, k, gpart_t *), props, 1));
                }
            }
        }
        else {
            jm_hprop_t hp;
            if (jm_mime_hprop_parse(&hp, n, g->p)) {
                continue;
            }
            val = header_prop(hdrs ? hdrs : (hdrs = part_hdrs(gp, g->p)), &hp, g->p);
        }
        json_object_set_new(o, n, val);
    }
    return o;
}

static json_t *parts_json(gctx_t *g, apr_array_header_t *list, json_t *props)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; i < list->nelts; ++i) {
        json_array_append_new(arr, part_json(g, APR_ARRAY_IDX(list, i, gpart_t *),
                                             props, 0));
    }
    return arr;
}

/* ------------------------------------------------------------------ */
/* body values and preview                                            */
/* ------------------------------------------------------------------ */

/* Decoded text of a textual part in UTF-8 with LF line ends. */
static const char *part_text(int *pproblem, gctx_t *g, gpart_t *gp)
{
    apr_size_t len;
    const char *raw = gp_content(&len, gp, g->p);
    GMimeContentType *ct = g_mime_object_get_content_type(gp->obj);
    const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
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
        src = apr_pstrmemdup(g->p, conv, written);
        len = written;
        g_free(conv);
    }
    else {
        src = raw;
    }
    if (!g_utf8_validate(src, len, NULL) || memchr(src, '\0', len)) {
        char *v = g_utf8_make_valid(src, len);
        *pproblem = 1;
        src = apr_pstrdup(g->p, v);
        len = strlen(src);
        g_free(v);
    }
    o = out = apr_palloc(g->p, len + 1);
    for (; len; --len, ++src) {
        if (*src == '\r' && len > 1 && src[1] == '\n') {
            continue;
        }
        *o++ = *src;
    }
    *o = '\0';
    return out;
}

/* Cut at most max octets without splitting UTF-8 or (for HTML) a tag. */
static const char *truncate_value(const char *s, apr_size_t max, int html,
                                  int *ptrunc, apr_pool_t *p)
{
    apr_size_t n = strlen(s);
    char *lt, *gt, *cut;

    *ptrunc = 0;
    if (!max || n <= max) {
        return s;
    }
    *ptrunc = 1;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        --n;    /* s[n] is a continuation octet: back up to a start */
    }
    cut = apr_pstrndup(p, s, n);
    if (html && (lt = strrchr(cut, '<')) && (!(gt = strrchr(cut, '>')) || gt < lt)) {
        *lt = '\0';
    }
    return cut;
}

static void add_body_values(json_t *bv, gctx_t *g, apr_array_header_t *list)
{
    int i;

    for (i = 0; i < list->nelts; ++i) {
        gpart_t *gp = APR_ARRAY_IDX(list, i, gpart_t *);
        int problem, trunc;
        const char *text;

        if (gp->multipart || strncmp(gp->type, "text/", 5)
            || json_object_get(bv, gp->part_id)) {
            continue;
        }
        text = part_text(&problem, g, gp);
        text = truncate_value(text, g->opts->max_body_value_bytes,
                              !strcmp(gp->type, "text/html"), &trunc, g->p);
        json_object_set_new(bv, gp->part_id, json_pack(
            "{s:s, s:b, s:b}", "value", text, "isEncodingProblem", problem,
            "isTruncated", trunc));
    }
}

static void all_leaves(apr_array_header_t *out, gpart_t *gp)
{
    int i;

    if (!gp->multipart) {
        APR_ARRAY_PUSH(out, gpart_t *) = gp;
        return;
    }
    for (i = 0; i < gp->subs->nelts; ++i) {
        all_leaves(out, APR_ARRAY_IDX(gp->subs, i, gpart_t *));
    }
}

static void strip_tags(char *s)
{
    char *o = s;
    int in_tag = 0;

    for (; *s; ++s) {
        if (*s == '<') {
            in_tag = 1;
        }
        else if (*s == '>' && in_tag) {
            in_tag = 0;
            *o++ = ' ';
        }
        else if (!in_tag) {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static const char *preview(gctx_t *g)
{
    apr_array_header_t *acc = apr_array_make(g->p, 512, 1);
    long chars = 0;
    int i, space = 1;

    for (i = 0; i < g->text->nelts && chars < PREVIEW_CHARS; ++i) {
        gpart_t *gp = APR_ARRAY_IDX(g->text, i, gpart_t *);
        int problem;
        char *t, *c;

        if (strcmp(gp->type, "text/plain") && strcmp(gp->type, "text/html")) {
            continue;
        }
        t = apr_pstrdup(g->p, part_text(&problem, g, gp));
        if (!strcmp(gp->type, "text/html")) {
            strip_tags(t);
        }
        for (c = t; *c && chars < PREVIEW_CHARS; c = g_utf8_next_char(c)) {
            int k, len = g_utf8_next_char(c) - c;

            if (apr_isspace(*c)) {
                if (!space) {
                    APR_ARRAY_PUSH(acc, char) = ' ';
                    ++chars;
                }
                space = 1;
                continue;
            }
            space = 0;
            for (k = 0; k < len; ++k) {
                APR_ARRAY_PUSH(acc, char) = c[k];
            }
            ++chars;
        }
    }
    while (acc->nelts && acc->elts[acc->nelts - 1] == ' ') {
        --acc->nelts;
    }
    return apr_pstrndup(g->p, acc->elts, acc->nelts);
}

/* ------------------------------------------------------------------ */
/* the entry points                                                   */
/* ------------------------------------------------------------------ */

static apr_status_t load(gctx_t *g, const char *raw, apr_size_t len,
                         const jm_mime_get_opts_t *opts, apr_pool_t *p)
{
    GMimeObject *body;

    memset(g, 0, sizeof(*g));
    g->p = p;
    g->opts = opts;
    if (!(g->msg = jm_mime_parse_bytes(raw, len, p))) {
        return APR_EINVAL;
    }
    g->hdrs = split_headers(raw, len, p);
    body = g_mime_message_get_mime_part(g->msg);
    if (!body) {
        /* no body at all: treat as an empty text/plain part */
        body = jm_mime_own(g_mime_part_new_with_type("text", "plain"), p);
    }
    g->root = make_gpart(g, body, 1);
    return APR_SUCCESS;
}

static int has_attachment(apr_array_header_t *att)
{
    int i;

    for (i = 0; i < att->nelts; ++i) {
        gpart_t *gp = APR_ARRAY_IDX(att, i, gpart_t *);
        if (!gp->disposition || strcmp(gp->disposition, "inline")) {
            return 1;
        }
    }
    return 0;
}

static const struct {
    const char *prop, *field;
    int form;
} conv_get[] = {
    { "messageId", "Message-ID", JM_FORM_MSGIDS },
    { "inReplyTo", "In-Reply-To", JM_FORM_MSGIDS },
    { "references", "References", JM_FORM_MSGIDS },
    { "sender", "Sender", JM_FORM_ADDRESSES }, { "from", "From", JM_FORM_ADDRESSES },
    { "to", "To", JM_FORM_ADDRESSES }, { "cc", "Cc", JM_FORM_ADDRESSES },
    { "bcc", "Bcc", JM_FORM_ADDRESSES }, { "replyTo", "Reply-To", JM_FORM_ADDRESSES },
    { "subject", "Subject", JM_FORM_TEXT }, { "sentAt", "Date", JM_FORM_DATE },
};

static json_t *email_prop(gctx_t *g, const char *n, json_t *bprops)
{
    apr_size_t i;
    jm_hprop_t hp;

    for (i = 0; i < sizeof(conv_get) / sizeof(conv_get[0]); ++i) {
        if (!strcmp(conv_get[i].prop, n)) {
            hp.name = conv_get[i].field;
            hp.form = conv_get[i].form;
            hp.all = 0;
            return header_prop(g->hdrs, &hp, g->p);
        }
    }
    if (!strcmp(n, "headers")) {
        return headers_json(g->hdrs, g->p);
    }
    if (!strcmp(n, "bodyStructure")) {
        int subs = !g->opts->body_properties || json_is_null(g->opts->body_properties);
        json_t *props = bprops, *r;

        if (subs) {   /* the default set lacks subParts, the tree needs it */
            props = json_copy(bprops);
            json_array_append_new(props, json_string("subParts"));
        }
        r = part_json(g, g->root, props, 1);
        if (subs) {
            json_decref(props);
        }
        return r;
    }
    if (!strcmp(n, "textBody")) {
        return parts_json(g, g->text, bprops);
    }
    if (!strcmp(n, "htmlBody")) {
        return parts_json(g, g->html, bprops);
    }
    if (!strcmp(n, "attachments")) {
        return parts_json(g, g->att, bprops);
    }
    if (!strcmp(n, "hasAttachment")) {
        return json_boolean(has_attachment(g->att));
    }
    if (!strcmp(n, "preview")) {
        return json_string(preview(g));
    }
    if (!strcmp(n, "bodyValues")) {
        json_t *bv = json_object();

        if (g->opts->fetch_all_body_values) {
            apr_array_header_t *leaves = apr_array_make(g->p, 8, sizeof(gpart_t *));
            all_leaves(leaves, g->root);
            add_body_values(bv, g, leaves);
        }
        if (g->opts->fetch_text_body_values) {
            add_body_values(bv, g, g->text);
        }
        if (g->opts->fetch_html_body_values) {
            add_body_values(bv, g, g->html);
        }
        return bv;
    }
    if (!jm_mime_hprop_parse(&hp, n, g->p)) {
        return header_prop(g->hdrs, &hp, g->p);
    }
    return NULL;
}

apr_status_t jm_mime_email_props(json_t **pprops, const char *raw, apr_size_t len,
                                 const jm_mime_get_opts_t *opts,
                                 const char **pbad, apr_pool_t *p)
{
    gctx_t g;
    json_t *props, *bprops, *out = NULL, *v;
    apr_status_t rv;
    apr_size_t i;

    *pprops = NULL;
    *pbad = NULL;
    props = jm_json_own(p, names_or_default(opts->properties, default_props));
    bprops = jm_json_own(p, names_or_default(opts->body_properties,
                                             default_body_props));
    if (check_names(props, email_props, meta_props, pbad, p)
        || check_names(bprops, body_props, NULL, pbad, p)) {
        return APR_EINVAL;
    }
    if (APR_SUCCESS != (rv = load(&g, raw, len, opts, p))) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p,
                      JMLOGNO(04010) "stored message does not parse as MIME");
        return APR_EGENERAL;
    }
    g.opts = opts;
    g.text = apr_array_make(p, 4, sizeof(gpart_t *));
    g.html = apr_array_make(p, 4, sizeof(gpart_t *));
    g.att = apr_array_make(p, 4, sizeof(gpart_t *));
    {
        apr_array_header_t *top = apr_array_make(p, 1, sizeof(gpart_t *));
        APR_ARRAY_PUSH(top, gpart_t *) = g.root;
        parse_structure(top, "mixed", 0, g.html, g.text, g.att);
    }
    out = jm_json_own(p, json_object());
    json_array_foreach(props, i, v) {
        const char *n = json_string_value(v);
        json_t *val;

        if (in_list(meta_props, n)) {
            continue;
        }
        if ((val = email_prop(&g, n, bprops))) {
            json_object_set_new(out, n, val);
        }
    }
    *pprops = out;
    return APR_SUCCESS;
}

apr_status_t jm_mime_check_props(json_t *props, json_t *bprops,
                                 const char **pbad, apr_pool_t *p)
{
    json_t *a = jm_json_own(p, names_or_default(props, default_props));
    json_t *b = jm_json_own(p, names_or_default(bprops, default_body_props));

    *pbad = NULL;
    return check_names(a, email_props, meta_props, pbad, p)
           || check_names(b, body_props, NULL, pbad, p) ? APR_EINVAL : APR_SUCCESS;
}

static gpart_t *find_part(gpart_t *gp, const char *id)
{
    int i;

    if (!gp->multipart) {
        return !strcmp(gp->part_id, id) ? gp : NULL;
    }
    for (i = 0; i < gp->subs->nelts; ++i) {
        gpart_t *f = find_part(APR_ARRAY_IDX(gp->subs, i, gpart_t *), id);
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
    gctx_t g;
    gpart_t *gp;
    jm_mime_get_opts_t o;
    apr_status_t rv;

    *pdata = NULL;
    *plen = 0;
    if (ptype) {
        *ptype = NULL;
    }
    memset(&o, 0, sizeof(o));
    o.max_depth = max_depth;    /* the same part ids as Email/get gives */
    if (APR_SUCCESS != (rv = load(&g, raw, len, &o, p))) {
        /* bytes that are no message have no parts: the part blob does not
         * exist, which callers report as blobNotFound */
        return rv == APR_EINVAL ? APR_NOTFOUND : rv;
    }
    if (!(gp = find_part(g.root, part_id))) {
        return APR_NOTFOUND;
    }
    *pdata = gp_content(plen, gp, p);
    if (ptype) {
        *ptype = gp->type;
    }
    return APR_SUCCESS;
}
