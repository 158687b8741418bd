/* Delivery reports about mail sent: the delivery path asks, for every
 * message it stores, whether it is a DSN (RFC 3464) or an MDN (RFC 8098)
 * and which submission it is about, so that EmailSubmission's dsnBlobIds
 * and mdnBlobIds (RFC 8621 §7) list it. A report names the message by the
 * Original-Envelope-Id its reporting MTA was given (the submission id: our
 * own DSNs, mail/jm_submit_dsn.c) or by the original's Message-ID (the
 * returned header of a relay's DSN, Original-Message-ID of an MDN). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "mail/jm_submission.h"
#include "mime/jm_mime_read.h"

/** Header bytes looked at before deciding a message is no report. */
#define HEAD_SCAN 65536

/* 1 if the top-level header section mentions multipart/report: most mail
 * is not a report and is not parsed again for this */
static int may_be_report(const char *msg, apr_size_t len)
{
    apr_size_t n = len < HEAD_SCAN ? len : HEAD_SCAN, i;
    static const char want[] = "multipart/report";

    for (i = 0; i + sizeof(want) - 1 <= n; i++) {
        if ((msg[i] == '\n' && i + 1 < n && (msg[i + 1] == '\n' || msg[i + 1] == '\r'))) {
            return 0;                   /* end of the header section */
        }
        if (!strncasecmp(msg + i, want, sizeof(want) - 1)) {
            return 1;
        }
    }
    return 0;
}

/* The header fields of a block of fields (a part's content: the per-message
 * fields of a status report, or a returned header), or NULL. */
static apr_array_header_t *fields_of(jm_mime_part_t *part, apr_pool_t *p)
{
    jm_mime_parsed_t *m;
    apr_size_t len;
    const char *b = jm_mime_part_bytes(&len, part);

    if (!b || !len) {
        return NULL;
    }
    /* a header block alone: the blank line makes it a message without body */
    b = apr_pstrcat(p, apr_pstrmemdup(p, b, len), "\r\n\r\n", NULL);
    if (jm_mime_read(&m, b, strlen(b), 0, p) != APR_SUCCESS) {
        return NULL;
    }
    return m->hdrs;
}

static const char *first_msgid(const apr_array_header_t *hdrs, const char *name,
                               apr_pool_t *p)
{
    const char *v = hdrs ? jm_mime_hdr_last(hdrs, name) : NULL;
    apr_array_header_t *ids = v ? jm_mime_hdr_msgids(v, p) : NULL;
    int i;

    /* the first that is one ("<" alone reads as an empty id) */
    for (i = 0; ids && i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        if (id && *id) {
            return id;
        }
    }
    return NULL;
}

/* "rfc822; addr" (RFC 3464 §2.3.2 address-type ; address) -> addr */
static const char *typed_address(const char *raw, apr_pool_t *p)
{
    const char *semi = raw ? strchr(raw, ';') : NULL, *t;
    char *a, *end;

    if (!semi) {
        return NULL;
    }
    for (t = jm_mime_unfold(raw, p); apr_isspace(*t); t++) {
    }
    if (strncasecmp(t, "rfc822", 6)) {
        return NULL;
    }
    a = jm_mime_unfold(semi + 1, p);
    while (apr_isspace(*a)) {
        a++;
    }
    for (end = a + strlen(a); end > a && apr_isspace(end[-1]); end--) {
    }
    *end = '\0';
    return *a && strchr(a, '@') ? a : NULL;
}

/* RFC 8098 §3.2.6: disposition-mode ";" disposition-type [ "/" modifier ] */
static int is_displayed(const char *raw, apr_pool_t *p)
{
    const char *semi = raw ? strchr(raw, ';') : NULL;
    char *t;

    if (!semi) {
        return 0;
    }
    t = jm_mime_unfold(semi + 1, p);
    while (apr_isspace(*t)) {
        t++;
    }
    return !strncasecmp(t, "displayed", 9)
           && (!t[9] || t[9] == '/' || t[9] == ';' || apr_isspace(t[9]));
}

int jm_submit_report_ref(jm_report_ref_t *r, const char *msg, apr_size_t len,
                         apr_pool_t *p)
{
    jm_mime_parsed_t *m;
    int i, kind = 0;

    memset(r, 0, sizeof(*r));
    if (!may_be_report(msg, len)
        || jm_mime_read(&m, msg, len, 3, p) != APR_SUCCESS
        || !m->root->multipart || !m->root->type
        || strcmp(m->root->type, "multipart/report")) {
        return 0;
    }
    for (i = 0; m->root->subs && i < m->root->subs->nelts; i++) {
        jm_mime_part_t *part = APR_ARRAY_IDX(m->root->subs, i, jm_mime_part_t *);
        const char *t = part->type ? part->type : "";
        apr_array_header_t *h;

        if (part->multipart) {
            continue;
        }
        if (!strcmp(t, "message/delivery-status")
            || !strcmp(t, "message/global-delivery-status")) {
            kind = kind ? kind : 1;
            if ((h = fields_of(part, p))) {
                const char *env = jm_mime_hdr_last(h, "Original-Envelope-Id");
                if (env) {
                    r->envelope_id = apr_pstrdup(p, jm_mime_hdr_text(env, p));
                }
            }
        }
        else if (!strcmp(t, "message/disposition-notification")
                 || !strcmp(t, "message/global-disposition-notification")) {
            kind = kind ? kind : 2;
            if ((h = fields_of(part, p))) {
                r->message_id = first_msgid(h, "Original-Message-ID", p);
                if (is_displayed(jm_mime_hdr_last(h, "Disposition"), p)) {
                    r->displayed = typed_address(jm_mime_hdr_last(h, "Final-Recipient"), p);
                }
            }
        }
        else if (!strcmp(t, "text/rfc822-headers") || !strcmp(t, "message/rfc822")
                 || !strcmp(t, "message/global") || !strcmp(t, "message/global-headers")) {
            if (!r->message_id && (h = fields_of(part, p))) {
                r->message_id = first_msgid(h, "Message-ID", p);
            }
        }
    }
    if (!kind) {
        return 0;
    }
    r->mdn = kind == 2;
    if (r->envelope_id && !*r->envelope_id) {
        r->envelope_id = NULL;
    }
    return r->envelope_id || r->message_id;
}
