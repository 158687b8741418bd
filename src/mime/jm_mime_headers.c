/* Header fields as RFC 8621 §4.1.2 reads them: header:Name:form property
 * names, the parsed forms (asRaw, asText, asAddresses, asGroupedAddresses,
 * asMessageIds, asDate, asURLs) both as C values and as Email/get JSON, and
 * the S/MIME draft §4 signer/recipient rules over the same address parser.
 * Address, msg-id, date and RFC 2047 parsing are GMime's.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include "mime/jm_mime_int.h"

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


static char *lower(const char *s, apr_pool_t *p)
{
    char *lc = apr_pstrdup(p, s), *c;

    for (c = lc; *c; ++c) {
        *c = apr_tolower(*c);
    }
    return lc;
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

void jm_mime_from_sender(apr_array_header_t **pfrom, const char **psender,
                         jm_mime_msg_t *msg, apr_pool_t *p)
{
    apr_array_header_t *from = apr_array_make(p, 2, sizeof(const char *));
    int i, j;

    *psender = NULL;
    for (i = 0; i < msg->hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(msg->hdrs, i, jm_hdr_t);
        int is_from = !strcasecmp(h->name, "From");
        apr_array_header_t *mbs;

        if (!is_from && strcasecmp(h->name, "Sender")) {
            continue;
        }
        mbs = field_mailboxes(h->raw, p);
        for (j = 0; j < mbs->nelts; ++j) {
            const char *a = APR_ARRAY_IDX(mbs, j, const char *);
            if (is_from) {
                APR_ARRAY_PUSH(from, const char *) = a;
            }
            else if (!*psender) {
                *psender = a;
            }
        }
    }
    *pfrom = from;
}

/* The addresses of To and Cc (to_cc), of Bcc (bcc), each once, into out;
 * seen holds the lower-cased ones already there. */
static void collect_fields(apr_array_header_t *out, apr_hash_t *seen,
                           jm_mime_msg_t *msg, int to_cc, int bcc, apr_pool_t *p)
{
    int i, j;

    for (i = 0; i < msg->hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(msg->hdrs, i, jm_hdr_t);
        int is_bcc = !strcasecmp(h->name, "Bcc");
        apr_array_header_t *mbs;

        if (is_bcc ? !bcc : (!to_cc || (strcasecmp(h->name, "To")
                                        && strcasecmp(h->name, "Cc")))) {
            continue;
        }
        mbs = field_mailboxes(h->raw, p);
        for (j = 0; j < mbs->nelts; ++j) {
            const char *a = APR_ARRAY_IDX(mbs, j, const char *);
            const char *key = lower(a, p);

            if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, key, APR_HASH_KEY_STRING, a);
                if (out) {
                    APR_ARRAY_PUSH(out, const char *) = a;
                }
            }
        }
    }
}

apr_array_header_t *jm_mime_recipients(jm_mime_msg_t *msg, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));

    collect_fields(out, apr_hash_make(p), msg, 1, 1, p);
    return out;
}

apr_array_header_t *jm_mime_bcc_only(jm_mime_msg_t *msg, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(p);

    collect_fields(NULL, seen, msg, 1, 0, p);     /* To and Cc: not Bcc-only */
    collect_fields(out, seen, msg, 0, 1, p);
    return out;
}


/* ------------------------------------------------------------------ */
/* parsed forms (RFC 8621 §4.1.2)                                     */
/* ------------------------------------------------------------------ */

char *jm_mime_utf8(const char *s, apr_pool_t *p)
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

char *jm_mime_unfold(const char *raw, apr_pool_t *p)
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

char *jm_mime_hdr_text(const char *raw, apr_pool_t *p)
{
    char *u = jm_mime_unfold(raw, p), *dec, *nfc, *out;

    while (*u == ' ') {
        ++u;
    }
    dec = g_mime_utils_header_decode_text(NULL, jm_mime_utf8(u, p));
    nfc = g_utf8_normalize(dec, -1, G_NORMALIZE_NFC);
    out = jm_mime_utf8(nfc ? nfc : dec, p);
    g_free(dec);
    g_free(nfc);
    return out;
}

static json_t *form_text(const char *raw, apr_pool_t *p)
{
    return json_string(jm_mime_hdr_text(raw, p));
}

static void mailbox_addr(jm_mime_addr_t *a, InternetAddress *ia, apr_pool_t *p)
{
    const char *name = internet_address_get_name(ia);
    const char *addr = internet_address_mailbox_get_addr((InternetAddressMailbox *)ia);

    a->name = NULL;
    if (name && *name) {
        char *t = apr_pstrdup(p, name), *e;

        while (*t == ' ' || *t == '\t') {
            ++t;
        }
        for (e = t + strlen(t); e > t && (e[-1] == ' ' || e[-1] == '\t'); --e) {
        }
        *e = '\0';
        if (*t) {
            a->name = jm_mime_utf8(t, p);
        }
    }
    a->email = jm_mime_utf8(addr ? addr : "", p);
}

typedef struct {
    apr_array_header_t *out;
    int max;
} addr_acc_t;

/* mailbox_fn: a jm_mime_addr_t onto an array, up to the bound. */
static void push_mime_addr(InternetAddress *mailbox, void *ctx, apr_pool_t *p)
{
    addr_acc_t *acc = ctx;

    if (!acc->max || acc->out->nelts < acc->max) {
        mailbox_addr(apr_array_push(acc->out), mailbox, p);
    }
}

apr_array_header_t *jm_mime_hdr_addresses(const char *raw, int max, apr_pool_t *p)
{
    InternetAddressList *l = internet_address_list_parse(NULL, jm_mime_unfold(raw, p));
    addr_acc_t acc;

    acc.out = apr_array_make(p, 4, sizeof(jm_mime_addr_t));
    acc.max = max;
    if (l) {
        each_mailbox(l, push_mime_addr, &acc, p);
        g_object_unref(l);
    }
    return acc.out;
}

static json_t *email_address(InternetAddress *ia, apr_pool_t *p)
{
    jm_mime_addr_t a;

    mailbox_addr(&a, ia, p);
    return json_pack("{s:o, s:s}", "name", a.name ? json_string(a.name) : json_null(),
                     "email", a.email);
}

/* mailbox_fn: an EmailAddress object onto a JSON array. */
static void push_email_address(InternetAddress *mailbox, void *arr, apr_pool_t *p)
{
    json_array_append_new(arr, email_address(mailbox, p));
}

static json_t *form_addresses(const char *raw, int grouped, apr_pool_t *p)
{
    InternetAddressList *l = internet_address_list_parse(NULL, jm_mime_unfold(raw, p));
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
                "{s:o, s:o}", "name", gn ? json_string(jm_mime_utf8(gn, p)) : json_null(),
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

apr_array_header_t *jm_mime_hdr_msgids(const char *raw, apr_pool_t *p)
{
    GMimeReferences *refs = g_mime_references_parse(NULL, jm_mime_unfold(raw, p));
    int i, n = refs ? g_mime_references_length(refs) : 0;
    apr_array_header_t *out = apr_array_make(p, n ? n : 1, sizeof(const char *));

    for (i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(out, const char *) = jm_mime_utf8(
            g_mime_references_get_message_id(refs, i), p);
    }
    if (refs) {
        g_mime_references_free(refs);
    }
    return out;
}

static json_t *form_msgids(const char *raw, apr_pool_t *p)
{
    apr_array_header_t *ids = jm_mime_hdr_msgids(raw, p);
    json_t *arr;
    int i;

    if (!ids->nelts) {
        return json_null();
    }
    arr = json_array();
    for (i = 0; i < ids->nelts; ++i) {
        json_array_append_new(arr, json_string(APR_ARRAY_IDX(ids, i, const char *)));
    }
    return arr;
}

int jm_mime_hdr_date(apr_time_t *pt, const char *raw)
{
    char *u = g_strdup(raw), *o = u, *c;
    GDateTime *dt;

    for (c = u; *c; ++c) {        /* unfold, as jm_mime_unfold */
        if (*c != '\r' && *c != '\n') {
            *o++ = *c;
        }
    }
    *o = '\0';
    dt = g_mime_utils_header_decode_date(u);
    g_free(u);
    if (!dt) {
        return -1;
    }
    *pt = apr_time_from_sec(g_date_time_to_unix(dt));
    g_date_time_unref(dt);
    return 0;
}

static json_t *form_date(const char *raw, apr_pool_t *p)
{
    GDateTime *dt = g_mime_utils_header_decode_date(jm_mime_unfold(raw, p));
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
    char *u = jm_mime_unfold(raw, p);
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
        json_array_append_new(arr, json_string(jm_mime_utf8(url, p)));
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
    default:                return json_string(jm_mime_utf8(raw, p));
    }
}

const char *jm_mime_hdr_last(const apr_array_header_t *hdrs, const char *name)
{
    int i = hdrs->nelts;

    while (i-- > 0) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        if (!strcasecmp(h->name, name)) {
            return h->raw;
        }
    }
    return NULL;
}

json_t *jm_mime_header_prop(const apr_array_header_t *hdrs, const jm_hprop_t *hp,
                            apr_pool_t *p)
{
    json_t *all = hp->all ? json_array() : NULL;
    const char *last = NULL;
    int i;

    for (i = 0; i < hdrs->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);

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

json_t *jm_mime_headers_json(const apr_array_header_t *hdrs, apr_pool_t *p)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; i < hdrs->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);

        json_array_append_new(arr, json_pack("{s:s, s:s}", "name",
                                             jm_mime_utf8(h->name, p), "value",
                                             jm_mime_utf8(h->raw, p)));
    }
    return arr;
}

