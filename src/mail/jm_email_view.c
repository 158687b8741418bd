/* The JMAP view of a stored message: RFC 8621 §4.1/§4.2 Email/get
 * properties over the MIME reader (mime/jm_mime_read.h). Part blobIds are
 * "<blob_id>_<partId>".
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <glib.h>
#include "core/jm_log.h"
#include "mail/jm_email_view.h"
#include "mail/jm_html.h"

#define PREVIEW_CHARS 256

typedef struct {
    apr_pool_t *p;
    const jm_email_view_opts_t *opts;
    jm_mime_parsed_t *msg;
    jm_email_bodies_t b;
} gctx_t;

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
        jm_mime_part_t *part = APR_ARRAY_IDX(parts, i, jm_mime_part_t *);
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
                /* a list is null here when an enclosing alternative branch
                 * already chose the other kind: the RFC's pseudo-code would
                 * push onto null; such a part belongs to neither list */
                if (!strcmp(part->type, "text/plain")) {
                    if (text_body) {
                        APR_ARRAY_PUSH(text_body, jm_mime_part_t *) = part;
                    }
                }
                else if (!strcmp(part->type, "text/html")) {
                    if (html_body) {
                        APR_ARRAY_PUSH(html_body, jm_mime_part_t *) = part;
                    }
                }
                else {
                    APR_ARRAY_PUSH(attachments, jm_mime_part_t *) = part;
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
                APR_ARRAY_PUSH(text_body, jm_mime_part_t *) = part;
            }
            if (html_body) {
                APR_ARRAY_PUSH(html_body, jm_mime_part_t *) = part;
            }
            if ((!text_body || !html_body) && is_inline_media(part->type)) {
                APR_ARRAY_PUSH(attachments, jm_mime_part_t *) = part;
            }
        }
        else {
            APR_ARRAY_PUSH(attachments, jm_mime_part_t *) = part;
        }
    }
    if (!strcmp(multipart_type, "alternative") && text_body && html_body) {
        /* found HTML part only */
        if (text_length == text_body->nelts && html_length != html_body->nelts) {
            for (i = html_length; i < html_body->nelts; ++i) {
                APR_ARRAY_PUSH(text_body, jm_mime_part_t *) =
                    APR_ARRAY_IDX(html_body, i, jm_mime_part_t *);
            }
        }
        /* found plaintext part only */
        if (html_length == html_body->nelts && text_length != text_body->nelts) {
            for (i = text_length; i < text_body->nelts; ++i) {
                APR_ARRAY_PUSH(html_body, jm_mime_part_t *) =
                    APR_ARRAY_IDX(text_body, i, jm_mime_part_t *);
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

static json_t *language_json(const char *v, apr_pool_t *p)
{
    json_t *arr;
    char *copy, *tok, *last;

    if (!v) {
        return json_null();
    }
    arr = json_array();
    copy = jm_mime_unfold(v, p);
    for (tok = apr_strtok(copy, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        json_array_append_new(arr, json_string(jm_mime_utf8(tok, p)));
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
    return s ? json_string(jm_mime_utf8(s, p)) : json_null();
}

static json_t *part_json(gctx_t *g, jm_mime_part_t *gp, json_t *props, int with_subs)
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
            val = json_integer((json_int_t)jm_mime_part_size(gp));
        }
        else if (!strcmp(n, "headers")) {
            val = jm_mime_headers_json(hdrs ? hdrs : (hdrs = jm_mime_part_headers(gp, g->p)), g->p);
        }
        else if (!strcmp(n, "name")) {
            val = str_or_null(gp->name, g->p);
        }
        else if (!strcmp(n, "type")) {
            val = json_string(gp->type);
        }
        else if (!strcmp(n, "charset")) {
            const char *cs = gp->charset;
            val = cs ? str_or_null(cs, g->p)
                : !strncmp(gp->type, "text/", 5) ? json_string("us-ascii") : json_null();
        }
        else if (!strcmp(n, "disposition")) {
            val = str_or_null(gp->disposition, g->p);
        }
        else if (!strcmp(n, "cid")) {
            val = str_or_null(gp->cid, g->p);
        }
        else if (!strcmp(n, "language")) {
            val = language_json(gp->language, g->p);
        }
        else if (!strcmp(n, "location")) {
            const char *l = gp->location;
            val = l ? json_string(jm_mime_utf8(trim(jm_mime_unfold(l, g->p)), g->p))
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
                        g, APR_ARRAY_IDX(gp->subs, k, jm_mime_part_t *), props, 1));
                }
            }
        }
        else {
            jm_hprop_t hp;
            if (jm_mime_hprop_parse(&hp, n, g->p)) {
                continue;
            }
            val = jm_mime_header_prop(hdrs ? hdrs : (hdrs = jm_mime_part_headers(gp, g->p)), &hp, g->p);
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
        json_array_append_new(arr, part_json(g, APR_ARRAY_IDX(list, i, jm_mime_part_t *),
                                             props, 0));
    }
    return arr;
}

/* ------------------------------------------------------------------ */
/* body values and preview                                            */
/* ------------------------------------------------------------------ */
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
        jm_mime_part_t *gp = APR_ARRAY_IDX(list, i, jm_mime_part_t *);
        int problem, trunc;
        const char *text;

        if (gp->multipart || strncmp(gp->type, "text/", 5)
            || json_object_get(bv, gp->part_id)) {
            continue;
        }
        text = jm_mime_part_text(&problem, gp);
        text = truncate_value(text, g->opts->max_body_value_bytes,
                              !strcmp(gp->type, "text/html"), &trunc, g->p);
        json_object_set_new(bv, gp->part_id, json_pack(
            "{s:s, s:b, s:b}", "value", text, "isEncodingProblem", problem,
            "isTruncated", trunc));
    }
}

static void all_leaves(apr_array_header_t *out, jm_mime_part_t *gp)
{
    int i;

    if (!gp->multipart) {
        APR_ARRAY_PUSH(out, jm_mime_part_t *) = gp;
        return;
    }
    for (i = 0; i < gp->subs->nelts; ++i) {
        all_leaves(out, APR_ARRAY_IDX(gp->subs, i, jm_mime_part_t *));
    }
}

const char *jm_email_view_preview(const jm_email_bodies_t *b, apr_pool_t *p)
{
    apr_array_header_t *acc = apr_array_make(p, 512, 1);
    long chars = 0;
    int i, space = 1;

    for (i = 0; i < b->text->nelts && chars < PREVIEW_CHARS; ++i) {
        jm_mime_part_t *gp = APR_ARRAY_IDX(b->text, i, jm_mime_part_t *);
        int problem;
        const char *t, *c;

        if (strcmp(gp->type, "text/plain") && strcmp(gp->type, "text/html")) {
            continue;
        }
        t = jm_mime_part_text(&problem, gp);
        if (!strcmp(gp->type, "text/html")) {
            t = jm_html_text(t, p);
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
    return apr_pstrndup(p, acc->elts, acc->nelts);
}

int jm_email_view_has_attachment(const jm_email_bodies_t *b)
{
    const apr_array_header_t *att = b->att;
    int i;

    for (i = 0; i < att->nelts; ++i) {
        jm_mime_part_t *gp = APR_ARRAY_IDX(att, i, jm_mime_part_t *);
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
            return jm_mime_header_prop(g->msg->hdrs, &hp, g->p);
        }
    }
    if (!strcmp(n, "headers")) {
        return jm_mime_headers_json(g->msg->hdrs, g->p);
    }
    if (!strcmp(n, "bodyStructure")) {
        int subs = !g->opts->body_properties || json_is_null(g->opts->body_properties);
        json_t *props = bprops, *r;

        if (subs) {   /* the default set lacks subParts, the tree needs it */
            props = json_copy(bprops);
            json_array_append_new(props, json_string("subParts"));
        }
        r = part_json(g, g->msg->root, props, 1);
        if (subs) {
            json_decref(props);
        }
        return r;
    }
    if (!strcmp(n, "textBody")) {
        return parts_json(g, g->b.text, bprops);
    }
    if (!strcmp(n, "htmlBody")) {
        return parts_json(g, g->b.html, bprops);
    }
    if (!strcmp(n, "attachments")) {
        return parts_json(g, g->b.att, bprops);
    }
    if (!strcmp(n, "hasAttachment")) {
        return json_boolean(jm_email_view_has_attachment(&g->b));
    }
    if (!strcmp(n, "preview")) {
        return json_string(jm_email_view_preview(&g->b, g->p));
    }
    if (!strcmp(n, "bodyValues")) {
        json_t *bv = json_object();

        if (g->opts->fetch_all_body_values) {
            apr_array_header_t *leaves = apr_array_make(g->p, 8, sizeof(jm_mime_part_t *));
            all_leaves(leaves, g->msg->root);
            add_body_values(bv, g, leaves);
        }
        if (g->opts->fetch_text_body_values) {
            add_body_values(bv, g, g->b.text);
        }
        if (g->opts->fetch_html_body_values) {
            add_body_values(bv, g, g->b.html);
        }
        return bv;
    }
    if (!jm_mime_hprop_parse(&hp, n, g->p)) {
        return jm_mime_header_prop(g->msg->hdrs, &hp, g->p);
    }
    return NULL;
}

void jm_email_view_bodies(jm_email_bodies_t *b, jm_mime_parsed_t *msg, apr_pool_t *p)
{
    apr_array_header_t *top = apr_array_make(p, 1, sizeof(jm_mime_part_t *));

    b->text = apr_array_make(p, 4, sizeof(jm_mime_part_t *));
    b->html = apr_array_make(p, 4, sizeof(jm_mime_part_t *));
    b->att = apr_array_make(p, 4, sizeof(jm_mime_part_t *));
    APR_ARRAY_PUSH(top, jm_mime_part_t *) = msg->root;
    parse_structure(top, "mixed", 0, b->html, b->text, b->att);
}

apr_status_t jm_email_view_props(json_t **pprops, const char *raw, apr_size_t len,
                                 const jm_email_view_opts_t *opts,
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
    if (APR_SUCCESS != (rv = jm_mime_read(&g.msg, raw, len, opts->max_depth, p))) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p,
                      JMLOGNO(04010) "stored message does not parse as MIME");
        return APR_EGENERAL;
    }
    g.p = p;
    g.opts = opts;
    jm_email_view_bodies(&g.b, g.msg, p);
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


apr_status_t jm_email_view_check_props(json_t *props, json_t *bprops,
                                       const char **pbad, apr_pool_t *p)
{
    json_t *a = jm_json_own(p, names_or_default(props, default_props));
    json_t *b = jm_json_own(p, names_or_default(bprops, default_body_props));

    *pbad = NULL;
    return check_names(a, email_props, meta_props, pbad, p)
           || check_names(b, body_props, NULL, pbad, p) ? APR_EINVAL : APR_SUCCESS;
}

int jm_email_view_is_default(const char *name)
{
    return in_list(default_props, name);
}
