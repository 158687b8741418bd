/* RFC 8621 §4.6 Email/set create: JSON → RFC 5322 message (GMime for the
 * encodings). The reading side is jm_mime_read.c (GMime set-up, the part
 * tree) and jm_mime_headers.c (header forms, signer/recipient rules).
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
#include "mime/jm_mime_int.h"

/* ------------------------------------------------------------------ */
/* build context and errors                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    json_t *body_values;
    jm_blob_fetch_fn *fetch;
    void *fetch_ctx;
    json_t *props;              /* invalidProperties collected */
    const char *desc;           /* first description */
    json_t *not_found;          /* blobNotFound collected */
    apr_status_t fail;          /* server failure (not a SetError) */
    apr_hash_t *top_seen;       /* lower-case name → property that set it */
    apr_array_header_t *hdrs;   /* jm_hdr_t */
    const jm_mime_limits_t *lim;
    apr_hash_t *blobs;          /* blob id → fetched_t: each fetched once */
    apr_size_t attached;        /* unencoded bytes of blob parts so far */
    int recipients;             /* To/Cc/Bcc addresses so far */
    const char *too_large;      /* tooLarge description, once over the limit */
} bctx_t;

typedef struct {
    const unsigned char *data;
    apr_size_t len;
} fetched_t;

const jm_mime_limits_t jm_mime_default_limits = { 50000000, 100, 1000, 20 };

static apr_status_t invalid(bctx_t *b, const char *path, const char *desc)
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

static int has_crlf(const char *s)
{
    return strchr(s, '\r') || strchr(s, '\n');
}

/* Replace bare LF with CRLF (GMime folders emit LF). */
static const char *to_crlf(const char *s, apr_pool_t *p)
{
    apr_size_t n = 0;
    const char *c;
    char *out, *o;

    for (c = s; *c; ++c) {
        n += (*c == '\n') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (c = s; *c; ++c) {
        if (*c == '\n' && (c == s || c[-1] != '\r')) {
            *o++ = '\r';
        }
        *o++ = *c;
    }
    *o = '\0';
    return out;
}

/* Strip "Name:" and the final newline from GMime's folded "Name: value\n". */
static const char *raw_from_folded(const char *folded, const char *name,
                                   apr_pool_t *p)
{
    apr_size_t skip = strlen(name) + 1;
    apr_size_t n = strlen(folded);
    const char *v;

    while (n > skip && (folded[n - 1] == '\n' || folded[n - 1] == '\r')) {
        --n;
    }
    v = apr_pstrndup(p, folded + skip, n - skip);
    return to_crlf(v, p);
}

static const char *fold_structured(const char *name, const char *value,
                                   apr_pool_t *p)
{
    char *line = g_strdup_printf("%s: %s", name, value);
    char *f = g_mime_utils_structured_header_fold(NULL, jm_mime_fmt(), line);
    const char *raw = raw_from_folded(f, name, p);

    g_free(line);
    g_free(f);
    return raw;
}

/* ------------------------------------------------------------------ */
/* header value encoders, one per form                                */
/* ------------------------------------------------------------------ */

/* A header value given as a JSON string: no CR or LF may reach the wire. */
static const char *header_string(bctx_t *b, const char *path, json_t *v)
{
    const char *s;

    if (!json_is_string(v)) {
        invalid(b, path, "must be a string");
        return NULL;
    }
    s = json_string_value(v);
    if (has_crlf(s)) {
        invalid(b, path, "CR and LF are not allowed in a header value");
        return NULL;
    }
    return s;
}

static const char *enc_raw(bctx_t *b, const char *path, const char *name,
                           json_t *v)
{
    const char *s;

    if (!(s = header_string(b, path, v))) {
        return NULL;
    }
    if (strlen(name) + 1 + strlen(s) > 998) {
        invalid(b, path, "header line longer than 998 octets");
        return NULL;
    }
    return apr_pstrdup(b->p, s);
}

static const char *enc_text(bctx_t *b, const char *path, const char *name,
                            json_t *v)
{
    const char *s;
    char *enc, *line, *f;
    const char *raw;

    if (!(s = header_string(b, path, v))) {
        return NULL;
    }
    enc = g_mime_utils_header_encode_text(jm_mime_fmt(), s, "utf-8");
    line = g_strdup_printf("%s: %s", name, enc);
    f = g_mime_utils_unstructured_header_fold(NULL, jm_mime_fmt(), line);
    raw = raw_from_folded(f, name, b->p);
    g_free(enc);
    g_free(line);
    g_free(f);
    return raw;
}

/* An addr-spec, at most 254 octets (RFC 5321 §4.5.3.1.3: a path of 256
 * with its angle brackets). Longer ones cannot be folded and would make
 * header lines past RFC 5322's 998 octets, which readers (OpenSSL's S/MIME
 * parser among them) split. */
static int valid_email(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    const char *at = strrchr(s, '@');

    if (!at || at == s || !at[1] || strlen(s) > 254) {
        return 0;
    }
    for (; *c; ++c) {
        if (*c <= ' ' || *c == 127 || *c == '<' || *c == '>' || *c == ','
            || *c == '"' || *c == '(' || *c == ')' || *c == ';' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* EmailAddress {name, email} → InternetAddressMailbox (new reference). */
static InternetAddress *mk_mailbox(bctx_t *b, const char *path, json_t *a)
{
    const char *key, *name = NULL, *email;
    json_t *v, *jn, *je;
    InternetAddress *ia;

    if (!json_is_object(a)) {
        invalid(b, path, "must be an EmailAddress object");
        return NULL;
    }
    json_object_foreach(a, key, v) {
        if (strcmp(key, "name") && strcmp(key, "email")) {
            invalid(b, apr_pstrcat(b->p, path, "/", key, NULL), "unknown property");
            return NULL;
        }
    }
    jn = json_object_get(a, "name");
    je = json_object_get(a, "email");
    if (jn && !json_is_null(jn)) {
        if (!json_is_string(jn) || has_crlf(json_string_value(jn))) {
            invalid(b, apr_pstrcat(b->p, path, "/name", NULL),
                    "must be a string without CR or LF");
            return NULL;
        }
        name = json_string_value(jn);
    }
    if (!json_is_string(je) || !valid_email(email = json_string_value(je))) {
        invalid(b, apr_pstrcat(b->p, path, "/email", NULL),
                "must be an addr-spec (local@domain) of at most 254 octets");
        return NULL;
    }
    ia = internet_address_mailbox_new(name && *name ? name : NULL, email);
    internet_address_set_charset(ia, "utf-8");
    return ia;
}

/* Addresses of one field being encoded: counted against the per-field
 * item limit and, for To/Cc/Bcc, the recipient limit of the Email. */
typedef struct {
    int items;
    int is_recipient_field;
} addr_count_t;

static int add_mailboxes(bctx_t *b, const char *path, json_t *arr,
                         InternetAddressList *list, InternetAddressGroup *grp,
                         addr_count_t *cnt)
{
    apr_size_t i;
    json_t *a;

    if (!json_is_array(arr)) {
        invalid(b, path, "must be an array of EmailAddress");
        return -1;
    }
    json_array_foreach(arr, i, a) {
        const char *ip = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);
        InternetAddress *ia;

        if (++cnt->items > b->lim->max_header_items) {
            invalid(b, ip, apr_psprintf(b->p, "more than %d addresses in one "
                                        "header field", b->lim->max_header_items));
            return -1;
        }
        if (cnt->is_recipient_field && ++b->recipients > b->lim->max_recipients) {
            invalid(b, ip, apr_psprintf(b->p, "more than %d recipients (To, Cc "
                                        "and Bcc together)", b->lim->max_recipients));
            return -1;
        }
        if (!(ia = mk_mailbox(b, ip, a))) {
            return -1;
        }
        if (grp) {
            internet_address_group_add_member(grp, ia);
        }
        else {
            internet_address_list_add(list, ia);
        }
        g_object_unref(ia);
    }
    return 0;
}

static const char *enc_addrlist(bctx_t *b, const char *name,
                                InternetAddressList *list)
{
    GString *gs = g_string_new("");
    const char *raw;

    g_string_append_printf(gs, "%s: ", name);
    internet_address_list_encode(list, jm_mime_fmt(), gs);
    raw = raw_from_folded(gs->str, name, b->p);
    g_string_free(gs, TRUE);
    return raw;
}

static const char *enc_addresses(bctx_t *b, const char *path, const char *name,
                                 json_t *v, int grouped)
{
    InternetAddressList *list = internet_address_list_new();
    const char *raw = NULL;
    addr_count_t cnt = { 0, !strcasecmp(name, "To") || !strcasecmp(name, "Cc")
                            || !strcasecmp(name, "Bcc") };
    apr_size_t i;
    json_t *g;

    if (!json_is_array(v)) {
        invalid(b, path, grouped ? "must be an array of EmailAddressGroup"
                                 : "must be an array of EmailAddress");
        goto leave;
    }
    if (!grouped) {
        if (add_mailboxes(b, path, v, list, NULL, &cnt)) {
            goto leave;
        }
    }
    else {
        json_array_foreach(v, i, g) {
            const char *gp = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);
            json_t *gn = json_object_get(g, "name");
            json_t *ga = json_object_get(g, "addresses");

            if (++cnt.items > b->lim->max_header_items) {
                invalid(b, gp, apr_psprintf(b->p, "more than %d groups and "
                                            "addresses in one header field",
                                            b->lim->max_header_items));
                goto leave;
            }
            if (!json_is_object(g) || (gn && !json_is_null(gn) && !json_is_string(gn))
                || (gn && json_is_string(gn) && has_crlf(json_string_value(gn)))) {
                invalid(b, gp, "must be an EmailAddressGroup");
                goto leave;
            }
            if (json_is_string(gn)) {
                InternetAddress *grp = internet_address_group_new(json_string_value(gn));

                internet_address_set_charset(grp, "utf-8");
                if (add_mailboxes(b, apr_pstrcat(b->p, gp, "/addresses", NULL), ga,
                                  NULL, INTERNET_ADDRESS_GROUP(grp), &cnt)) {
                    g_object_unref(grp);
                    goto leave;
                }
                internet_address_list_add(list, grp);
                g_object_unref(grp);
            }
            else if (add_mailboxes(b, apr_pstrcat(b->p, gp, "/addresses", NULL), ga,
                                   list, NULL, &cnt)) {
                goto leave;
            }
        }
    }
    raw = internet_address_list_length(list) ? enc_addrlist(b, name, list) : "";
leave:
    g_object_unref(list);
    return raw;
}

/* Also at most 900 octets: a token that long is the most a header line
 * of 998 can carry with its field name and brackets (RFC 5322 §2.1.1). */
static int valid_msgid(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;

    if (!*c || strlen(s) > 900) {
        return 0;
    }
    for (; *c; ++c) {
        if (*c <= ' ' || *c >= 127 || *c == '<' || *c == '>') {
            return 0;
        }
    }
    return 1;
}

/* A non-empty list of <...> items (msg-ids, URLs), each checked with
 * valid_msgid (no spaces, CR/LF or angle brackets), joined by sep. */
static const char *enc_bracketed(bctx_t *b, const char *path, const char *name,
                                 json_t *v, const char *sep, const char *what)
{
    apr_array_header_t *pieces;
    apr_size_t i;
    json_t *item;

    if (!json_is_array(v) || !json_array_size(v)) {
        invalid(b, path, apr_psprintf(b->p, "must be a non-empty array of %ss", what));
        return NULL;
    }
    if (json_array_size(v) > (size_t)b->lim->max_header_items) {
        invalid(b, path, apr_psprintf(b->p, "more than %d %ss in one header field",
                                      b->lim->max_header_items, what));
        return NULL;
    }
    /* joined once at the end: appending in the loop would be O(n^2) */
    pieces = apr_array_make(b->p, (int)json_array_size(v) * 4, sizeof(const char *));
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || !valid_msgid(json_string_value(item))) {
            invalid(b, apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i),
                    apr_psprintf(b->p, "must be a %s without spaces or angle "
                                 "brackets", what));
            return NULL;
        }
        APR_ARRAY_PUSH(pieces, const char *) = i ? sep : "";
        APR_ARRAY_PUSH(pieces, const char *) = "<";
        APR_ARRAY_PUSH(pieces, const char *) = json_string_value(item);
        APR_ARRAY_PUSH(pieces, const char *) = ">";
    }
    return fold_structured(name, apr_array_pstrcat(b->p, pieces, 0), b->p);
}

static const char *enc_msgids(bctx_t *b, const char *path, const char *name,
                              json_t *v)
{
    return enc_bracketed(b, path, name, v, " ", "message id");
}

/* RFC 8620 §1.4 Date "2021-07-10T11:03:11+10:00" → GDateTime keeping the
 * offset (RFC 8621: sentAt keeps the offset the client gave). */
static GDateTime *parse_rfc3339(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 1;
    const char *z;
    GTimeZone *tz;
    GDateTime *dt;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6
        || n != 19) {
        return NULL;
    }
    z = s + n;
    if (*z == '.') {
        for (++z; *z >= '0' && *z <= '9'; ++z) {
        }
    }
    if (!strcmp(z, "Z")) {
        tz = g_time_zone_new_utc();
    }
    else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':'
             && sscanf(z + 1, "%2d:%2d", &oh, &om) == 2 && oh < 24 && om < 60) {
        sign = *z == '-' ? -1 : 1;
        tz = g_time_zone_new_offset(sign * (oh * 3600 + om * 60));
    }
    else {
        return NULL;
    }
    dt = g_date_time_new(tz, y, mo, d, h, mi, sec);
    g_time_zone_unref(tz);
    return dt;
}

static const char *enc_date(bctx_t *b, const char *path, const char *name,
                            json_t *v)
{
    GDateTime *dt = json_is_string(v) ? parse_rfc3339(json_string_value(v)) : NULL;
    char *s;
    const char *raw;

    (void)name;
    if (!dt) {
        invalid(b, path, "must be a Date (RFC 3339 with offset)");
        return NULL;
    }
    s = g_mime_utils_header_format_date(dt);
    raw = apr_pstrcat(b->p, " ", s, NULL);
    g_free(s);
    g_date_time_unref(dt);
    return raw;
}

static const char *enc_urls(bctx_t *b, const char *path, const char *name,
                            json_t *v)
{
    return enc_bracketed(b, path, name, v, ", ", "URL");
}

static const char *enc_form(bctx_t *b, const char *path, const char *name,
                            int form, json_t *v)
{
    switch (form) {
    case JM_FORM_TEXT:      return enc_text(b, path, name, v);
    case JM_FORM_ADDRESSES: return enc_addresses(b, path, name, v, 0);
    case JM_FORM_GROUPED:   return enc_addresses(b, path, name, v, 1);
    case JM_FORM_MSGIDS:    return enc_msgids(b, path, name, v);
    case JM_FORM_DATE:      return enc_date(b, path, name, v);
    case JM_FORM_URLS:      return enc_urls(b, path, name, v);
    default:                return enc_raw(b, path, name, v);
    }
}

/* Encode one property value (all: array of instances) into raw values. */
static apr_status_t enc_prop(apr_array_header_t *out, bctx_t *b, const char *path,
                             const char *name, int form, int all, json_t *v)
{
    apr_size_t i;
    json_t *item;
    const char *raw;

    if (json_is_null(v)) {
        return APR_SUCCESS;
    }
    if (!all) {
        if (!(raw = enc_form(b, path, name, form, v))) {
            return APR_EINVAL;
        }
        if (*raw) {
            APR_ARRAY_PUSH(out, const char *) = raw;
        }
        return APR_SUCCESS;
    }
    if (!json_is_array(v)) {
        return invalid(b, path, "a :all property takes an array");
    }
    if (json_array_size(v) > (size_t)b->lim->max_header_items) {
        return invalid(b, path, apr_psprintf(b->p, "more than %d instances of "
                                             "one header field",
                                             b->lim->max_header_items));
    }
    json_array_foreach(v, i, item) {
        const char *ip = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);

        if (!(raw = enc_form(b, ip, name, form, item))) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(out, const char *) = raw;
    }
    return APR_SUCCESS;
}

/* Record that property prop sets header name in scope seen; RFC 8621 §4.6:
 * no two properties may represent the same header field. */
static char *lower(const char *s, apr_pool_t *p)
{
    char *lc = apr_pstrdup(p, s), *c;

    for (c = lc; *c; ++c) {
        *c = apr_tolower(*c);
    }
    return lc;
}

static int claim(apr_hash_t *seen, const char *name, const char *prop,
                 apr_pool_t *p)
{
    char *lc = lower(name, p);
    const char *prev;

    prev = apr_hash_get(seen, lc, APR_HASH_KEY_STRING);
    if (prev && strcmp(prev, prop)) {
        return -1;
    }
    apr_hash_set(seen, lc, APR_HASH_KEY_STRING, prop);
    return 0;
}

static int is_content_field(const char *name)
{
    return !strncasecmp(name, "Content-", 8);
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

static int in_list(const char *const *list, const char *s)
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

    if (is_content_field(name) || !strcasecmp(name, "MIME-Version")) {
        return invalid(b, prop, "MIME structural header fields belong on body parts");
    }
    if (claim(b->top_seen, name, prop, b->p)) {
        return invalid(b, prop, "the same header field is set twice");
    }
    if (APR_SUCCESS == (rv = enc_prop(raws, b, prop, name, form, all, v))) {
        push_hdrs(b, name, raws);
    }
    return rv;
}

static apr_status_t headers_prop(bctx_t *b, json_t *arr, apr_hash_t *seen,
                                 const char *path, int on_part,
                                 apr_array_header_t *out)
{
    apr_size_t i;
    json_t *h;

    if (!json_is_array(arr)) {
        return invalid(b, path, "must be an array of EmailHeader");
    }
    json_array_foreach(arr, i, h) {
        const char *ip = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);
        json_t *jn = json_object_get(h, "name");
        const char *name, *raw;

        if (!json_is_string(jn) || !jm_mime_valid_field_name(json_string_value(jn))) {
            return invalid(b, apr_pstrcat(b->p, ip, "/name", NULL),
                           "must be a valid header field name");
        }
        name = json_string_value(jn);
        if (!on_part && (is_content_field(name) || !strcasecmp(name, "MIME-Version"))) {
            return invalid(b, apr_pstrcat(b->p, ip, "/name", NULL),
                           "MIME structural header fields belong on body parts");
        }
        if (claim(seen, name, path, b->p)) {
            return invalid(b, ip, "the same header field is set twice");
        }
        if (!(raw = enc_raw(b, apr_pstrcat(b->p, ip, "/value", NULL), name,
                            json_object_get(h, "value")))) {
            return APR_EINVAL;
        }
        {
            jm_hdr_t *e = apr_array_push(out);
            e->name = name;
            e->raw = raw;
        }
    }
    return APR_SUCCESS;
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

static void set_part_content(GMimePart *part, const void *data, apr_size_t len,
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

typedef struct {
    const char *default_type;
    int is_root;
    int depth;          /* of this part: the root entity is 1 */
} part_opts_t;

static GMimeObject *build_part(bctx_t *b, json_t *j, const char *path,
                               const part_opts_t *po);

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
    if (!json_is_string(v) || has_crlf(json_string_value(v))) {
        invalid(b, apr_pstrcat(b->p, path, "/", key, NULL),
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
            if (APR_SUCCESS != (rv = headers_prop(b, v, seen, kp, 1,
                                                  out))) {
                return rv;
            }
            continue;
        }
        if (strncmp(key, "header:", 7)) {
            continue;
        }
        if (jm_mime_hprop_parse(&hp, key, b->p)) {
            return invalid(b, kp, "invalid header property or form");
        }
        if (claim(seen, hp.name, kp, b->p)) {
            return invalid(b, kp, "the same header field is set twice");
        }
        raws = apr_array_make(b->p, 2, sizeof(const char *));
        if (APR_SUCCESS != (rv = enc_prop(raws, b, kp, hp.name, hp.form, hp.all, v))) {
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
            return invalid(b, apr_pstrcat(b->p, path, "/header:", n, NULL),
                           "set this through the part's type/disposition/name/"
                           "charset properties");
        }
        if (po->is_root && !is_content_field(n)
            && apr_hash_get(b->top_seen, lower(n, b->p),
                            APR_HASH_KEY_STRING)) {
            return invalid(b, apr_pstrcat(b->p, path, "/header:", n, NULL),
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
        invalid(b, apr_pstrcat(b->p, path, "/type", NULL),
                "a part with subParts must be multipart/*");
        return NULL;
    }
    if (json_object_get(j, "partId") || json_object_get(j, "blobId")
        || json_object_get(j, "charset")) {
        invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL),
                "a multipart has no partId, blobId or charset");
        return NULL;
    }
    if (!json_is_array(subs) || !json_array_size(subs)) {
        invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL),
                "must be a non-empty array of EmailBodyPart");
        return NULL;
    }
    mp = g_mime_multipart_new_with_subtype(type + 10);
    json_array_foreach(subs, i, sp) {
        GMimeObject *child = build_part(b, sp, apr_psprintf(
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
        invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
                "give partId or blobId, not both");
        return NULL;
    }
    if (pid) {
        json_t *bv;
        const char *text;
        apr_size_t len;

        if (!json_is_string(pid)
            || !(bv = json_object_get(b->body_values, json_string_value(pid)))) {
            invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
                    "no bodyValues entry for this partId");
            return NULL;
        }
        if (charset) {
            invalid(b, apr_pstrcat(b->p, path, "/charset", NULL),
                    "charset must be omitted when partId is given");
            return NULL;
        }
        if (json_object_get(j, "size")) {
            invalid(b, apr_pstrcat(b->p, path, "/size", NULL),
                    "size must be omitted when partId is given");
            return NULL;
        }
        text = lf_only(json_string_value(json_object_get(bv, "value")), &len, b->p);
        part = g_mime_part_new_with_type(maj, slash + 1);
        if (textual) {
            g_mime_object_set_content_type_parameter((GMimeObject *)part,
                                                     "charset", "utf-8");
        }
        set_part_content(part, text, len, 1);
        return part;
    }
    if (bid) {
        const unsigned char *data;
        apr_size_t len;
        apr_status_t rv;

        if (!json_is_string(bid)) {
            invalid(b, apr_pstrcat(b->p, path, "/blobId", NULL), "must be an Id");
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
            set_part_content(part, data, len, 1);
            if (g_mime_part_get_content_encoding(part) != GMIME_CONTENT_ENCODING_7BIT) {
                g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_8BIT);
            }
        }
        else {
            set_part_content(part, data, len, textual);
        }
        return part;
    }
    invalid(b, apr_pstrcat(b->p, path, "/partId", NULL),
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

static GMimeObject *build_part(bctx_t *b, json_t *j, const char *path,
                               const part_opts_t *po)
{
    const char *key, *type, *charset, *disp, *name, *cid, *loc;
    json_t *v, *lang;
    GMimeObject *obj = NULL;
    apr_hash_t *seen = apr_hash_make(b->p);
    apr_array_header_t *extra = apr_array_make(b->p, 4, sizeof(jm_hdr_t));
    int bad = 0, i;

    if (!json_is_object(j)) {
        invalid(b, path, "must be an EmailBodyPart object");
        return NULL;
    }
    if (po->depth > b->lim->max_depth) {
        invalid(b, path, apr_psprintf(b->p, "body parts nested deeper than %d "
                                      "levels", b->lim->max_depth));
        return NULL;
    }
    json_object_foreach(j, key, v) {
        if (!in_list(part_keys, key) && strncmp(key, "header:", 7)) {
            invalid(b, apr_pstrcat(b->p, path, "/", key, NULL), "unknown property");
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
        invalid(b, apr_pstrcat(b->p, path, "/type", NULL), "not a media type");
        return NULL;
    }
    if (disp && !valid_msgid(disp)) {
        invalid(b, apr_pstrcat(b->p, path, "/disposition", NULL), "not a token");
        return NULL;
    }
    if ((cid && !valid_msgid(cid)) || (loc && !valid_msgid(loc))) {
        invalid(b, apr_pstrcat(b->p, path, cid && !valid_msgid(cid) ? "/cid"
                               : "/location", NULL),
                "must not contain spaces, controls or angle brackets");
        return NULL;
    }
    lang = json_object_get(j, "language");
    if (lang && !json_is_null(lang) && json_is_array(lang)
        && json_array_size(lang) > (size_t)b->lim->max_header_items) {
        invalid(b, apr_pstrcat(b->p, path, "/language", NULL), apr_psprintf(
                b->p, "more than %d language tags", b->lim->max_header_items));
        return NULL;
    }
    if (lang && !json_is_null(lang) && !valid_token_list(lang)) {
        invalid(b, apr_pstrcat(b->p, path, "/language", NULL),
                "must be an array of language tags");
        return NULL;
    }
    if (cid) {
        claim(seen, "Content-ID", "cid", b->p);
    }
    if (loc) {
        claim(seen, "Content-Location", "location", b->p);
    }
    if (lang && !json_is_null(lang)) {
        claim(seen, "Content-Language", "language", b->p);
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
        invalid(b, prop, "must contain exactly one body part");
        return NULL;
    }
    part = json_array_get(arr, 0);
    t = json_object_get(part, "type");
    if (json_is_object(part) && json_object_get(part, "subParts")) {
        invalid(b, apr_pstrcat(b->p, path, "/subParts", NULL), "not allowed here");
        return NULL;
    }
    if (t && !json_is_null(t) && (!json_is_string(t)
                                  || strcasecmp(json_string_value(t), want))) {
        invalid(b, apr_pstrcat(b->p, path, "/type", NULL),
                apr_pstrcat(b->p, "must be ", want, NULL));
        return NULL;
    }
    return build_part(b, part, path, &po);
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

static GMimeObject *build_flat(bctx_t *b, json_t *create)
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
            invalid(b, "attachments", "must be an array of EmailBodyPart");
            goto fail;
        }
        json_array_foreach(ja, i, a) {
            const char *path = apr_psprintf(b->p, "attachments/%lu", (unsigned long)i);
            const char *disp = json_string_value(json_object_get(a, "disposition"));
            GMimeObject *o = build_part(b, a, path, &po);

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

static apr_status_t check_body_values(bctx_t *b, json_t *bv)
{
    const char *key;
    json_t *v;

    if (!json_is_object(bv)) {
        return invalid(b, "bodyValues", "must be an object");
    }
    json_object_foreach(bv, key, v) {
        const char *path = apr_pstrcat(b->p, "bodyValues/", key, NULL);
        json_t *ep = json_object_get(v, "isEncodingProblem");
        json_t *tr = json_object_get(v, "isTruncated");

        if (!json_is_object(v) || !json_is_string(json_object_get(v, "value"))) {
            return invalid(b, path, "must be an EmailBodyValue with a string value");
        }
        if (ep && !json_is_false(ep)) {
            return invalid(b, apr_pstrcat(b->p, path, "/isEncodingProblem", NULL),
                           "must be false or omitted");
        }
        if (tr && !json_is_false(tr)) {
            return invalid(b, apr_pstrcat(b->p, path, "/isTruncated", NULL),
                           "must be false or omitted");
        }
    }
    return APR_SUCCESS;
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

        if (in_list(ignored_keys, key) || in_list(body_keys, key)) {
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

            rv = headers_prop(b, v, b->top_seen, key, 0, out);
            if (rv == APR_SUCCESS) {
                apr_array_cat(b->hdrs, out);
            }
        }
        else if (!strncmp(key, "header:", 7)) {
            if (jm_mime_hprop_parse(&hp, key, b->p)) {
                rv = invalid(b, key, "invalid header property or form not allowed");
            }
            else {
                rv = top_header(b, key, hp.name, hp.form, hp.all, v);
            }
        }
        else {
            rv = invalid(b, key, "unknown property");
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
        invalid(b, "bodyStructure",
                "bodyStructure excludes textBody, htmlBody and attachments");
        return NULL;
    }
    if (bs && !json_is_null(bs)) {
        part_opts_t po = { NULL, 1, 1 };
        body = build_part(b, bs, "bodyStructure", &po);
    }
    else if (flat) {
        body = build_flat(b, create);
    }
    else {
        GMimePart *t = g_mime_part_new_with_type("text", "plain");

        g_mime_object_set_content_type_parameter((GMimeObject *)t, "charset", "utf-8");
        set_part_content(t, "", 0, 1);
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
        if (!is_content_field(g_mime_header_get_name(
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
        invalid(&b, "", "an Email object is required");
        goto leave;
    }
    if (b.body_values && !json_is_null(b.body_values)
        && check_body_values(&b, b.body_values)) {
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
            if (!is_content_field(h->name) && strcasecmp(h->name, "MIME-Version")) {
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

