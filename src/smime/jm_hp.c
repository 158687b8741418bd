/* RFC 9788 header protection: hcp_baseline, HP-Outer, legacy display.
 * See /work/shared/ref/rfc9788-summary.md; the Appendix C.3.1.2 vector shows
 * the payload layout this produces (protected fields, then HP-Outer lines,
 * then the Content-* fields with hp="cipher").
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "smime/jm_hp.h"

int jm_hp_is_structural(const char *name)
{
    return !strncasecmp(name, "Content-", 8) || !strcasecmp(name, "MIME-Version");
}

const char *jm_hp_hcp_baseline(const char *name, const char *raw, apr_pool_t *p)
{
    (void)p;
    if (!strcasecmp(name, "Subject")) {
        return " [...]";
    }
    if (!strcasecmp(name, "Keywords") || !strcasecmp(name, "Comments")) {
        return NULL;
    }
    return raw;
}

/* Fields a legacy MUA renders (RFC 9787 "user-facing"); only these go
 * into the legacy display element. Keywords/Comments are not shown. */
static int user_facing(const char *name)
{
    static const char *const uf[] = {
        "Subject", "From", "To", "Cc", "Date", "Reply-To", "Followup-To", NULL
    };
    int i;

    for (i = 0; uf[i]; ++i) {
        if (!strcasecmp(uf[i], name)) {
            return 1;
        }
    }
    return 0;
}

static void push(apr_array_header_t *a, const char *name, const char *raw)
{
    jm_hdr_t *h = apr_array_push(a);

    h->name = name;
    h->raw = raw;
}

apr_status_t jm_hp_plan(jm_hp_plan_t **pplan, const apr_array_header_t *hdrs,
                        int encrypt, apr_pool_t *p)
{
    jm_hp_plan_t *plan = apr_pcalloc(p, sizeof(*plan));
    apr_array_header_t *lines = apr_array_make(p, 32, sizeof(const char *));
    int i;

    plan->outer = apr_array_make(p, hdrs->nelts + 1, sizeof(jm_hdr_t));
    plan->obscured = apr_array_make(p, 2, sizeof(jm_hdr_t));
    for (i = 0; i < hdrs->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);

        if (jm_hp_is_structural(h->name)) {
            continue;
        }
        /* Bcc is never readable by To/Cc recipients (RFC 9788 Bcc notes) */
        if (strcasecmp(h->name, "Bcc")) {
            APR_ARRAY_PUSH(lines, const char *) =
                apr_pstrcat(p, h->name, ":", h->raw, "\r\n", NULL);
        }
    }
    for (i = 0; i < hdrs->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        const char *outer;

        if (jm_hp_is_structural(h->name)) {
            continue;
        }
        outer = encrypt ? jm_hp_hcp_baseline(h->name, h->raw, p) : h->raw;
        if (outer) {
            push(plan->outer, h->name, outer);
            if (encrypt && strcasecmp(h->name, "Bcc")) {
                APR_ARRAY_PUSH(lines, const char *) = apr_pstrcat(
                    p, "HP-Outer: ", h->name, ":", outer, "\r\n", NULL);
            }
        }
        if (encrypt && outer != h->raw && user_facing(h->name)) {
            push(plan->obscured, h->name, h->raw);
        }
    }
    plan->inner = apr_array_pstrcat(p, lines, '\0');
    *pplan = plan;
    return APR_SUCCESS;
}

const char *jm_hp_add_ct_param(apr_size_t *plen, const char *entity,
                               apr_size_t len, const char *name,
                               const char *value, apr_pool_t *p)
{
    const char *c = entity, *end = entity + len, *ins = NULL;
    const char *param = apr_psprintf(p, "; %s=\"%s\"", name, value);
    apr_size_t plen_param = strlen(param);
    char *out;

    /* find the Content-Type field in the header section; it ends at the
     * first CRLF not followed by WSP */
    while (c < end && !(c[0] == '\r' && c + 1 < end && c[1] == '\n')) {
        const char *nl = memchr(c, '\n', end - c);
        const char *fend;

        if (!nl) {
            break;
        }
        fend = nl;
        while (fend + 1 < end && (fend[1] == ' ' || fend[1] == '\t')) {
            const char *n2 = memchr(fend + 1, '\n', end - fend - 1);
            if (!n2) {
                break;
            }
            fend = n2;
        }
        if (!strncasecmp(c, "Content-Type:", 13)) {
            ins = (fend > c && fend[-1] == '\r') ? fend - 1 : fend;
            break;
        }
        c = fend + 1;
    }
    if (!ins) {
        *plen = len;
        return entity;
    }
    out = apr_palloc(p, len + plen_param + 1);
    memcpy(out, entity, ins - entity);
    memcpy(out + (ins - entity), param, plen_param);
    memcpy(out + (ins - entity) + plen_param, ins, end - ins);
    *plen = len + plen_param;
    out[*plen] = '\0';
    return out;
}

/* Header value as a reader sees it: unfolded, RFC 2047 decoded. */
static char *display_value(const char *raw, apr_pool_t *p)
{
    char *u = apr_pstrdup(p, raw), *o = u, *c, *dec, *out;

    for (c = u; *c; ++c) {
        if (*c != '\r' && *c != '\n') {
            *o++ = *c;
        }
    }
    *o = '\0';
    while (*u == ' ' || *u == '\t') {
        ++u;
    }
    dec = g_mime_utils_header_decode_text(NULL, u);
    out = apr_pstrdup(p, dec);
    g_free(dec);
    return out;
}

/* Pieces are collected and joined once (apr_array_pstrcat): appending to
 * a growing string in a loop would copy it each time, O(n^2). */
#define PIECE(a, s) (APR_ARRAY_PUSH((a), const char *) = (s))

const char *jm_hp_legacy_text(const apr_array_header_t *obscured, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, obscured->nelts * 4 + 1,
                                             sizeof(const char *));
    int i;

    if (!obscured->nelts) {
        return "";
    }
    for (i = 0; i < obscured->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(obscured, i, jm_hdr_t);
        PIECE(out, h->name);
        PIECE(out, ": ");
        PIECE(out, display_value(h->raw, p));
        PIECE(out, "\n");
    }
    PIECE(out, "\n");
    return apr_array_pstrcat(p, out, 0);
}

static void html_escape(apr_array_header_t *out, const char *s, apr_pool_t *p)
{
    const char *start = s;

    for (; *s; ++s) {
        const char *rep = *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '&' ? "&amp;" : *s == '"' ? "&quot;" : NULL;
        if (rep) {
            PIECE(out, apr_pstrndup(p, start, s - start));
            PIECE(out, rep);
            start = s + 1;
        }
    }
    PIECE(out, start);
}

const char *jm_hp_legacy_html(const apr_array_header_t *obscured, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, obscured->nelts * 6 + 2,
                                             sizeof(const char *));
    int i;

    if (!obscured->nelts) {
        return "";
    }
    PIECE(out, "<div class=\"header-protection-legacy-display\">\n");
    for (i = 0; i < obscured->nelts; ++i) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(obscured, i, jm_hdr_t);
        PIECE(out, "<div>");
        html_escape(out, h->name, p);
        PIECE(out, ": ");
        html_escape(out, display_value(h->raw, p), p);
        PIECE(out, "</div>\n");
    }
    PIECE(out, "</div>\n");
    return apr_array_pstrcat(p, out, 0);
}

const char *jm_hp_html_insert(const char *html, const char *element, apr_pool_t *p)
{
    const char *c;

    for (c = html; (c = strchr(c, '<')); ++c) {
        if (!strncasecmp(c, "<body", 5) && (c[5] == '>' || apr_isspace(c[5]))) {
            const char *gt = strchr(c, '>');
            if (gt) {
                return apr_pstrcat(p, apr_pstrndup(p, html, gt + 1 - html), "\n",
                                   element, gt + 1, NULL);
            }
        }
    }
    return apr_pstrcat(p, element, html, NULL);
}
