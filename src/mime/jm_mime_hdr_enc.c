/* Header values of a new Email (RFC 8621 §4.6): one encoder per header
 * form of §4.1.2 (JSON → the raw value written after "Name:"), the
 * EmailHeader list, and the rule that no two properties set one field.
 * GMime does RFC 2047 encoding and folding.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "mime/jm_mime_build_int.h"

int jm_mb_has_crlf(const char *s)
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
        jm_mb_invalid(b, path, "must be a string");
        return NULL;
    }
    s = json_string_value(v);
    if (jm_mb_has_crlf(s)) {
        jm_mb_invalid(b, path, "CR and LF are not allowed in a header value");
        return NULL;
    }
    return s;
}

const char *jm_mb_enc_raw(bctx_t *b, const char *path, const char *name,
                          json_t *v)
{
    const char *s;

    if (!(s = header_string(b, path, v))) {
        return NULL;
    }
    if (strlen(name) + 1 + strlen(s) > 998) {
        jm_mb_invalid(b, path, "header line longer than 998 octets");
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
        jm_mb_invalid(b, path, "must be an EmailAddress object");
        return NULL;
    }
    json_object_foreach(a, key, v) {
        if (strcmp(key, "name") && strcmp(key, "email")) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/", key, NULL), "unknown property");
            return NULL;
        }
    }
    jn = json_object_get(a, "name");
    je = json_object_get(a, "email");
    if (jn && !json_is_null(jn)) {
        if (!json_is_string(jn) || jm_mb_has_crlf(json_string_value(jn))) {
            jm_mb_invalid(b, apr_pstrcat(b->p, path, "/name", NULL),
                          "must be a string without CR or LF");
            return NULL;
        }
        name = json_string_value(jn);
    }
    if (!json_is_string(je) || !valid_email(email = json_string_value(je))) {
        jm_mb_invalid(b, apr_pstrcat(b->p, path, "/email", NULL),
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
        jm_mb_invalid(b, path, "must be an array of EmailAddress");
        return -1;
    }
    json_array_foreach(arr, i, a) {
        const char *ip = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);
        InternetAddress *ia;

        if (++cnt->items > b->lim->max_header_items) {
            jm_mb_invalid(b, ip, apr_psprintf(b->p, "more than %d addresses in one "
                                              "header field", b->lim->max_header_items));
            return -1;
        }
        if (cnt->is_recipient_field && ++b->recipients > b->lim->max_recipients) {
            jm_mb_invalid(b, ip, apr_psprintf(b->p, "more than %d recipients (To, Cc "
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
        jm_mb_invalid(b, path, grouped ? "must be an array of EmailAddressGroup"
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
                jm_mb_invalid(b, gp, apr_psprintf(b->p, "more than %d groups and "
                                                  "addresses in one header field",
                                                  b->lim->max_header_items));
                goto leave;
            }
            if (!json_is_object(g) || (gn && !json_is_null(gn) && !json_is_string(gn))
                || (gn && json_is_string(gn) && jm_mb_has_crlf(json_string_value(gn)))) {
                jm_mb_invalid(b, gp, "must be an EmailAddressGroup");
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
int jm_mb_valid_msgid(const char *s)
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
 * jm_mb_valid_msgid (no spaces, CR/LF or angle brackets), joined by sep. */
static const char *enc_bracketed(bctx_t *b, const char *path, const char *name,
                                 json_t *v, const char *sep, const char *what)
{
    apr_array_header_t *pieces;
    apr_size_t i;
    json_t *item;

    if (!json_is_array(v) || !json_array_size(v)) {
        jm_mb_invalid(b, path, apr_psprintf(b->p, "must be a non-empty array of %ss", what));
        return NULL;
    }
    if (json_array_size(v) > (size_t)b->lim->max_header_items) {
        jm_mb_invalid(b, path, apr_psprintf(b->p, "more than %d %ss in one header field",
                                            b->lim->max_header_items, what));
        return NULL;
    }
    /* joined once at the end: appending in the loop would be O(n^2) */
    pieces = apr_array_make(b->p, (int)json_array_size(v) * 4, sizeof(const char *));
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || !jm_mb_valid_msgid(json_string_value(item))) {
            jm_mb_invalid(b, apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i),
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
        jm_mb_invalid(b, path, "must be a Date (RFC 3339 with offset)");
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
    default:                return jm_mb_enc_raw(b, path, name, v);
    }
}

/* Encode one property value (all: array of instances) into raw values. */
apr_status_t jm_mb_enc_prop(apr_array_header_t *out, bctx_t *b, const char *path,
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
        return jm_mb_invalid(b, path, "a :all property takes an array");
    }
    if (json_array_size(v) > (size_t)b->lim->max_header_items) {
        return jm_mb_invalid(b, path, apr_psprintf(b->p, "more than %d instances of "
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

char *jm_mb_lower(const char *s, apr_pool_t *p)
{
    char *lc = apr_pstrdup(p, s), *c;

    for (c = lc; *c; ++c) {
        *c = apr_tolower(*c);
    }
    return lc;
}

/* RFC 8621 §4.6: no two properties may represent the same header field. */
int jm_mb_claim(apr_hash_t *seen, const char *name, const char *prop,
                apr_pool_t *p)
{
    char *lc = jm_mb_lower(name, p);
    const char *prev;

    prev = apr_hash_get(seen, lc, APR_HASH_KEY_STRING);
    if (prev && strcmp(prev, prop)) {
        return -1;
    }
    apr_hash_set(seen, lc, APR_HASH_KEY_STRING, prop);
    return 0;
}

int jm_mb_is_content_field(const char *name)
{
    return !strncasecmp(name, "Content-", 8);
}

/* The "headers" property: EmailHeader {name, value} objects, raw. */
apr_status_t jm_mb_headers_prop(bctx_t *b, json_t *arr, apr_hash_t *seen,
                                const char *path, int on_part,
                                apr_array_header_t *out)
{
    apr_size_t i;
    json_t *h;

    if (!json_is_array(arr)) {
        return jm_mb_invalid(b, path, "must be an array of EmailHeader");
    }
    json_array_foreach(arr, i, h) {
        const char *ip = apr_psprintf(b->p, "%s/%lu", path, (unsigned long)i);
        json_t *jn = json_object_get(h, "name");
        const char *name, *raw;

        if (!json_is_string(jn) || !jm_mime_valid_field_name(json_string_value(jn))) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, ip, "/name", NULL),
                                 "must be a valid header field name");
        }
        name = json_string_value(jn);
        if (!on_part && (jm_mb_is_content_field(name) || !strcasecmp(name, "MIME-Version"))) {
            return jm_mb_invalid(b, apr_pstrcat(b->p, ip, "/name", NULL),
                                 "MIME structural header fields belong on body parts");
        }
        if (jm_mb_claim(seen, name, path, b->p)) {
            return jm_mb_invalid(b, ip, "the same header field is set twice");
        }
        if (!(raw = jm_mb_enc_raw(b, apr_pstrcat(b->p, ip, "/value", NULL), name,
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
