/* The email index columns of a stored message (jm_email_index.h). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <glib.h>
#include "mail/jm_email_index.h"
#include "mail/jm_email_view.h"
#include "mail/jm_html.h"

/* ------------------------------------------------------------------ */
/* RFC 5256 §2.1 base subject                                         */
/* ------------------------------------------------------------------ */

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP: its length at s, 0 if none. */
static apr_size_t blob_len(const char *s)
{
    const char *c;

    if (*s != '[') {
        return 0;
    }
    for (c = s + 1; *c && *c != '[' && *c != ']'; ++c) {
    }
    if (*c != ']') {
        return 0;
    }
    for (++c; is_wsp(*c); ++c) {
    }
    return c - s;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static apr_size_t refwd_len(const char *s)
{
    const char *c = s;

    if (!strncasecmp(c, "re", 2)) {
        c += 2;
    }
    else if (!strncasecmp(c, "fwd", 3)) {
        c += 3;
    }
    else if (!strncasecmp(c, "fw", 2)) {
        c += 2;
    }
    else {
        return 0;
    }
    while (is_wsp(*c)) {
        ++c;
    }
    c += blob_len(c);
    return *c == ':' ? (apr_size_t)(c + 1 - s) : 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP: its length at s. */
static apr_size_t leader_len(const char *s)
{
    const char *c = s;
    apr_size_t n, r;

    if (is_wsp(*s)) {
        return 1;
    }
    while ((n = blob_len(c))) {
        c += n;
    }
    r = refwd_len(c);
    return r ? (apr_size_t)(c - s) + r : 0;
}

const char *jm_email_base_subject(const char *subject, apr_pool_t *p)
{
    char *s = apr_palloc(p, strlen(subject) + 1), *o = s, *e;
    const char *c;
    int again;

    /* (1) whitespace and folding as one space */
    for (c = subject; *c; ++c) {
        if (is_wsp(*c) || *c == '\r' || *c == '\n') {
            if (o > s && o[-1] != ' ') {
                *o++ = ' ';
            }
        }
        else {
            *o++ = *c;
        }
    }
    *o = '\0';
    do {
        apr_size_t n;

        /* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
        e = s + strlen(s);
        for (;;) {
            if (e > s && is_wsp(e[-1])) {
                --e;
            }
            else if (e - s >= 5 && !strncasecmp(e - 5, "(fwd)", 5)) {
                e -= 5;
            }
            else {
                break;
            }
        }
        *e = '\0';
        /* (3)-(5) leaders, and a blob that leaves a non-empty base */
        do {
            again = 0;
            while ((n = leader_len(s))) {
                s += n;
                again = 1;
            }
            if ((n = blob_len(s)) && s[n]) {
                s += n;
                again = 1;
            }
        } while (again);
        /* (6) "[fwd:" subject "]": unwrap and start over */
        e = s + strlen(s);
        again = !strncasecmp(s, "[fwd:", 5) && e > s + 5 && e[-1] == ']';
        if (again) {
            e[-1] = '\0';
            s += 5;
        }
    } while (again);
    return s;
}

/* ------------------------------------------------------------------ */
/* the columns                                                        */
/* ------------------------------------------------------------------ */

static void index_addrs(jm_email_index_addrs_t *f, const apr_array_header_t *hdrs,
                        const char *name, int max, apr_pool_t *p)
{
    const char *raw = hdrs ? jm_mime_hdr_last(hdrs, name) : NULL;
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    int i;

    f->addrs = raw ? jm_mime_hdr_addresses(raw, max, p)
                   : apr_array_make(p, 1, sizeof(jm_mime_addr_t));
    f->sort_key = "";
    for (i = 0; i < f->addrs->nelts; ++i) {
        const jm_mime_addr_t *a = &APR_ARRAY_IDX(f->addrs, i, jm_mime_addr_t);

        if (!i) {   /* §4.4.2: the name, or if null/empty the email */
            f->sort_key = a->name ? a->name : a->email;
        }
        if (i) {
            APR_ARRAY_PUSH(parts, const char *) = ", ";
        }
        if (a->name) {
            APR_ARRAY_PUSH(parts, const char *) = a->name;
            APR_ARRAY_PUSH(parts, const char *) = " ";
        }
        APR_ARRAY_PUSH(parts, const char *) = a->email;
    }
    f->text = apr_array_pstrcat(p, parts, 0);
}

/* The msg-ids of the last field called name, at most max: beyond it the
 * first and the last max - 1 (for References: the root of the thread and
 * the nearest ancestors, RFC 5256 §2.2 uses both ends). */
static apr_array_header_t *index_ids(const apr_array_header_t *hdrs, const char *name,
                                     int max, apr_pool_t *p)
{
    const char *raw = hdrs ? jm_mime_hdr_last(hdrs, name) : NULL;
    apr_array_header_t *ids, *out;
    int i;

    if (!raw) {
        return apr_array_make(p, 1, sizeof(const char *));
    }
    ids = jm_mime_hdr_msgids(raw, p);
    if (ids->nelts <= max) {
        return ids;
    }
    out = apr_array_make(p, max, sizeof(const char *));
    APR_ARRAY_PUSH(out, const char *) = APR_ARRAY_IDX(ids, 0, const char *);
    for (i = ids->nelts - (max - 1); i < ids->nelts; ++i) {
        APR_ARRAY_PUSH(out, const char *) = APR_ARRAY_IDX(ids, i, const char *);
    }
    return out;
}

/* Back up from n to the start of a UTF-8 sequence of s. */
static apr_size_t utf8_cut(const char *s, apr_size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        --n;
    }
    return n;
}

const char *jm_email_index_fold(const char *s, apr_pool_t *p)
{
    gchar *nfc = g_utf8_normalize(s, -1, G_NORMALIZE_NFC);
    gchar *f = g_utf8_casefold(nfc ? nfc : s, -1);
    const char *out = apr_pstrdup(p, f);

    g_free(nfc);
    g_free(f);
    return out;
}

/* The header fields for the "header" filter: name lower-case, value as
 * asText (RFC 8621 §4.1.2.1: unfolded, RFC 2047 decoded) and folded. */
static apr_array_header_t *index_headers(const apr_array_header_t *hdrs, apr_pool_t *p)
{
    int n = hdrs ? (hdrs->nelts < JM_EMAIL_INDEX_HEADERS ? hdrs->nelts
                                                         : JM_EMAIL_INDEX_HEADERS) : 0;
    apr_array_header_t *out = apr_array_make(p, n + 1, sizeof(jm_email_index_hdr_t));
    int i;

    for (i = 0; i < n; i++) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        jm_email_index_hdr_t *x = apr_array_push(out);
        const char *v = jm_email_index_fold(jm_mime_hdr_text(h->raw, p), p);
        char *name = apr_pstrdup(p, h->name), *c;
        apr_size_t len = strlen(v);

        for (c = name; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        x->name = name;
        x->value = len > JM_EMAIL_INDEX_HEADER_TEXT
            ? apr_pstrndup(p, v, utf8_cut(v, JM_EMAIL_INDEX_HEADER_TEXT)) : v;
    }
    return out;
}

/* The textBody parts' text, as the preview reads it, up to max octets. */
static void index_body(jm_email_index_t *x, const jm_email_bodies_t *b,
                       apr_size_t max, apr_pool_t *p)
{
    apr_array_header_t *acc = apr_array_make(p, 1024, 1);
    int i;

    for (i = 0; i < b->text->nelts && !x->body_text_truncated; ++i) {
        jm_mime_part_t *gp = APR_ARRAY_IDX(b->text, i, jm_mime_part_t *);
        const char *t;
        apr_size_t n, room;
        int problem;

        if (strcmp(gp->type, "text/plain") && strcmp(gp->type, "text/html")) {
            continue;
        }
        t = jm_mime_part_text(&problem, gp);
        if (!strcmp(gp->type, "text/html")) {
            t = jm_html_text(t, p);
        }
        if (acc->nelts && (apr_size_t)acc->nelts < max) {
            APR_ARRAY_PUSH(acc, char) = '\n';
        }
        n = strlen(t);
        room = max - (apr_size_t)acc->nelts;
        if (n > room) {
            n = utf8_cut(t, room);
            x->body_text_truncated = 1;
        }
        while (n--) {
            APR_ARRAY_PUSH(acc, char) = *t++;
        }
    }
    x->body_text = apr_pstrndup(p, acc->elts, acc->nelts);
}

apr_status_t jm_email_index(jm_email_index_t **pidx, const char *raw, apr_size_t len,
                            const jm_email_index_opts_t *opts, apr_pool_t *p)
{
    jm_email_index_t *x;
    jm_mime_parsed_t *m = NULL;
    const apr_array_header_t *hdrs = NULL;
    apr_size_t max_body = opts && opts->max_body_text ? opts->max_body_text
                                                      : JM_EMAIL_INDEX_BODY_TEXT;
    int max_ids = opts && opts->max_ids > 0 ? opts->max_ids : JM_EMAIL_INDEX_IDS;
    int max_addrs = opts && opts->max_addrs > 0 ? opts->max_addrs : JM_EMAIL_INDEX_ADDRS;
    const char *v;

    *pidx = NULL;
    if (!raw && len) {
        return APR_EINVAL;
    }
    x = apr_pcalloc(p, sizeof(*x));
    x->size = len;
    x->preview = "";
    x->body_text = "";
    x->thread_subject = "";
    if (jm_mime_read(&m, raw ? raw : "", len, opts ? opts->max_depth : 0, p)
        == APR_SUCCESS) {
        hdrs = m->hdrs;
    }
    else {
        x->not_mime = 1;
    }
    if (hdrs && (v = jm_mime_hdr_last(hdrs, "Subject"))) {
        x->subject = jm_mime_hdr_text(v, p);
        x->thread_subject = jm_email_base_subject(x->subject, p);
    }
    index_addrs(&x->from, hdrs, "From", max_addrs, p);
    index_addrs(&x->to, hdrs, "To", max_addrs, p);
    index_addrs(&x->cc, hdrs, "Cc", max_addrs, p);
    index_addrs(&x->bcc, hdrs, "Bcc", max_addrs, p);
    if (hdrs && (v = jm_mime_hdr_last(hdrs, "Date"))) {
        x->has_sent_at = !jm_mime_hdr_date(&x->sent_at, v);
    }
    x->message_ids = index_ids(hdrs, "Message-ID", max_ids, p);
    x->in_reply_to = index_ids(hdrs, "In-Reply-To", max_ids, p);
    x->references = index_ids(hdrs, "References", max_ids, p);
    x->headers = index_headers(hdrs, p);
    if (m) {
        jm_email_bodies_t b;

        jm_email_view_bodies(&b, m, p);
        x->has_attachment = jm_email_view_has_attachment(&b);
        x->preview = jm_email_view_preview(&b, p);
        index_body(x, &b, max_body, p);
    }
    *pidx = x;
    return APR_SUCCESS;
}
