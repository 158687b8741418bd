/* S/MIME = MIME x CMS (RFC 8551 §3): sign and/or encrypt a built message,
 * with RFC 9788 header protection (jm_hp).
 *
 * Layers are assembled as bytes, not GMime objects: the octets that are
 * signed must be exactly the octets that are sent (RFC 8551 §3.1.1), so the
 * payload is serialised once (CRLF, 7-bit, §3.1.3) and then only wrapped.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include "core/jm_log.h"
#include "smime/jm_hp.h"
#include "smime/jm_smime.h"

/* base64 in 76-character CRLF lines (RFC 2045 §6.8) */
static const char *b64_lines(apr_size_t *plen, const unsigned char *der,
                             apr_size_t len, apr_pool_t *p)
{
    char *flat = apr_palloc(p, apr_base64_encode_len((int)len));
    apr_size_t n = (apr_size_t)apr_base64_encode_binary(flat, der, (int)len);
    char *out, *o;
    apr_size_t i;

    while (n && flat[n - 1] == '\0') {
        --n;
    }
    o = out = apr_palloc(p, n + (n / 76 + 1) * 2 + 1);
    for (i = 0; i < n; i += 76) {
        apr_size_t k = n - i < 76 ? n - i : 76;
        memcpy(o, flat + i, k);
        o += k;
        *o++ = '\r';
        *o++ = '\n';
    }
    *o = '\0';
    *plen = o - out;
    return out;
}

static const char *pkcs7_entity(apr_size_t *plen, const char *smime_type,
                                const unsigned char *der, apr_size_t len,
                                apr_pool_t *p)
{
    apr_size_t blen;
    const char *b64 = b64_lines(&blen, der, len, p);
    const char *e = apr_pstrcat(
        p, "Content-Type: application/pkcs7-mime; smime-type=", smime_type,
        "; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=smime.p7m\r\n\r\n", b64, NULL);

    *plen = strlen(e);
    return e;
}

static const char *new_boundary(const char *content, apr_size_t len, apr_pool_t *p)
{
    for (;;) {
        unsigned char rnd[12];
        char hex[25];
        const char *b;
        int i;

        apr_generate_random_bytes(rnd, sizeof(rnd));
        for (i = 0; i < 12; ++i) {
            apr_snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        }
        b = apr_pstrcat(p, "----=_jm_", hex, NULL);
        if (!memmem(content, len, b, strlen(b))) {
            return b;
        }
    }
}

/* RFC 1847 / RFC 8551 §3.5.3: the first part is the signed bytes as is. */
static const char *signed_multipart(apr_size_t *plen, const char *content,
                                    apr_size_t clen, const unsigned char *der,
                                    apr_size_t dlen, const char *micalg,
                                    apr_pool_t *p)
{
    apr_size_t blen;
    const char *b64 = b64_lines(&blen, der, dlen, p);
    const char *bnd = new_boundary(content, clen, p);
    const char *head = apr_pstrcat(
        p, "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
        "\r\n micalg=", micalg, "; boundary=\"", bnd, "\"\r\n\r\n"
        "This is a cryptographically signed message in MIME format.\r\n\r\n"
        "--", bnd, "\r\n", NULL);
    const char *tail = apr_pstrcat(
        p, "\r\n--", bnd, "\r\n"
        "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=smime.p7s\r\n\r\n",
        b64, "\r\n--", bnd, "--\r\n", NULL);
    apr_size_t hl = strlen(head), tl = strlen(tail);
    char *out = apr_palloc(p, hl + clen + tl + 1);

    memcpy(out, head, hl);
    memcpy(out + hl, content, clen);
    memcpy(out + hl + clen, tail, tl);
    out[hl + clen + tl] = '\0';
    *plen = hl + clen + tl;
    return out;
}

/* ------------------------------------------------------------------ */
/* legacy display (RFC 9788 Appendix E): main text parts only          */
/* ------------------------------------------------------------------ */

static void legacy_part(GMimePart *part, const char *is_html,
                        const jm_hp_plan_t *plan, apr_pool_t *p)
{
    GMimeContentType *ct = g_mime_object_get_content_type((GMimeObject *)part);
    const char *cs = g_mime_content_type_get_parameter(ct, "charset");
    apr_size_t len, i, o = 0;
    const char *text, *newtext;
    char *lf;
    GMimeStream *ms;
    GMimeDataWrapper *dw;

    /* only UTF-8 compatible parts: the element is UTF-8 text */
    if (cs && strcasecmp(cs, "utf-8") && strcasecmp(cs, "us-ascii")) {
        return;
    }
    text = jm_mime_leaf_bytes(&len, (GMimeObject *)part, p);
    lf = apr_palloc(p, len + 1);
    for (i = 0; i < len; ++i) {
        if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
            lf[o++] = text[i];
        }
    }
    lf[o] = '\0';
    newtext = is_html ? jm_hp_html_insert(lf, jm_hp_legacy_html(plan->obscured, p), p)
                      : apr_pstrcat(p, jm_hp_legacy_text(plan->obscured, p), lf, NULL);
    ms = g_mime_stream_mem_new_with_buffer(newtext, strlen(newtext));
    dw = g_mime_data_wrapper_new_with_stream(ms, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(part, dw);
    g_object_unref(dw);
    g_object_unref(ms);
    g_mime_part_set_content_encoding(part, g_mime_part_get_best_content_encoding(
        part, GMIME_ENCODING_CONSTRAINT_7BIT));
    g_mime_object_set_content_type_parameter((GMimeObject *)part, "charset", "utf-8");
    g_mime_object_set_content_type_parameter((GMimeObject *)part,
                                             "hp-legacy-display", "1");
}

/* The parts a reader renders first: text/plain and text/html that are not
 * attachments, not inside message/rfc822, and for multipart/related only
 * the root (the RFC 8621 §4.1.4 notion of body parts, simplified). */
static void legacy_walk(GMimeObject *obj, int first_only, const jm_hp_plan_t *plan,
                        apr_pool_t *p)
{
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        int related = g_mime_content_type_is_type(ct, "multipart", "related");
        int i, n = g_mime_multipart_get_count((GMimeMultipart *)obj);

        for (i = 0; i < n && (!first_only || i == 0); ++i) {
            legacy_walk(g_mime_multipart_get_part((GMimeMultipart *)obj, i),
                        related, plan, p);
        }
    }
    else if (GMIME_IS_PART(obj) && !GMIME_IS_APPLICATION_PKCS7_MIME(obj)) {
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        const char *d = g_mime_object_get_disposition(obj);

        if (d && !strcasecmp(d, "attachment")) {
            return;
        }
        if (g_mime_content_type_is_type(ct, "text", "plain")) {
            legacy_part((GMimePart *)obj, NULL, plan, p);
        }
        else if (g_mime_content_type_is_type(ct, "text", "html")) {
            legacy_part((GMimePart *)obj, "html", plan, p);
        }
    }
}

/* ------------------------------------------------------------------ */

static const char *hdr_section(apr_array_header_t *hdrs, apr_pool_t *p)
{
    apr_array_header_t *lines = apr_array_make(p, hdrs->nelts + 1, sizeof(char *));
    int i;

    for (i = 0; i < hdrs->nelts; ++i) {
        jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        APR_ARRAY_PUSH(lines, const char *) =
            apr_pstrcat(p, h->name, ":", h->raw, "\r\n", NULL);
    }
    return apr_array_pstrcat(p, lines, '\0');
}

static const char *concat(apr_size_t *plen, const char *a, const char *b,
                          apr_size_t blen, apr_pool_t *p)
{
    apr_size_t al = strlen(a);
    char *out = apr_palloc(p, al + blen + 1);

    memcpy(out, a, al);
    memcpy(out + al, b, blen);
    out[al + blen] = '\0';
    *plen = al + blen;
    return out;
}

apr_status_t jm_smime_protect(const char **pdata, apr_size_t *plen,
                              jm_mime_msg_t *msg, const jm_smime_opts_t *opts,
                              jm_cms_err_t *err, apr_pool_t *p)
{
    GMimeObject *body;
    jm_hp_plan_t *plan = NULL;
    apr_array_header_t *outer = msg->hdrs;
    const char *entity;
    apr_size_t elen;
    const unsigned char *der;
    apr_size_t dlen;
    apr_status_t rv;
    int hp = opts->header_protect;

    *pdata = NULL;
    *plen = 0;
    if (!opts->sign && !opts->encrypt) {
        *pdata = msg->data;
        *plen = msg->len;
        return APR_SUCCESS;
    }
    if ((opts->sign && !opts->signer) || (opts->encrypt && !opts->recips)) {
        jm_cms_err_set(err, "jm_smime_protect: signer or recipients missing");
        return APR_EINVAL;
    }
    /* the built tree, not a parse of msg->data: it is encoded in place
     * below, msg->data (what an unprotected draft stores) stays as it was */
    if (!(body = msg->body)) {
        jm_cms_err_set(err, "jm_smime_protect: message has no body");
        return APR_EINVAL;
    }
    if (hp) {
        jm_hp_plan(&plan, msg->hdrs, opts->encrypt, p);
        outer = plan->outer;
        if (opts->legacy_display && plan->obscured->nelts) {
            legacy_walk(body, 0, plan, p);
        }
    }
    /* message-level fields are written by us, from msg->hdrs/plan */
    jm_mime_keep_content_fields(body);
    /* RFC 8551 §3.1.3: 7-bit before signing, never after */
    g_mime_object_encode(body, GMIME_ENCODING_CONSTRAINT_7BIT);
    entity = jm_mime_obj_bytes(&elen, body, p);
    if (hp) {
        entity = jm_hp_add_ct_param(&elen, entity, elen, "hp",
                                    opts->encrypt ? "cipher" : "clear", p);
        entity = concat(&elen, plan->inner, entity, elen, p);
    }
    if (opts->sign) {
        int detached = !opts->sign_opaque;

        if (APR_SUCCESS != (rv = jm_cms_sign(&der, &dlen, opts->signer, entity, elen,
                                             detached, err, p))) {
            return rv;
        }
        if (detached) {
            entity = signed_multipart(&elen, entity, elen, der, dlen,
                                      jm_cms_signer_micalg(opts->signer), p);
        }
        else {
            entity = pkcs7_entity(&elen, "signed-data", der, dlen, p);
        }
    }
    if (opts->encrypt) {
        const char *head = apr_pstrcat(p, hdr_section(outer, p),
                                       "MIME-Version: 1.0\r\n", NULL);
        int i;

        /* the copies: the same signed payload, each its own recipients */
        for (i = 0; i < opts->ncopies; i++) {
            const char *ce;
            apr_size_t clen;
            if (APR_SUCCESS != (rv = jm_cms_encrypt(&der, &dlen, opts->copy_recips[i],
                                                    entity, elen, &opts->enc, err, p))) {
                return rv;
            }
            ce = pkcs7_entity(&clen, jm_cms_smime_type(opts->enc.cipher), der, dlen, p);
            opts->copy_data[i] = concat(&opts->copy_len[i], head, ce, clen, p);
        }
        if (APR_SUCCESS != (rv = jm_cms_encrypt(&der, &dlen, opts->recips, entity, elen,
                                                &opts->enc, err, p))) {
            return rv;
        }
        entity = pkcs7_entity(&elen, jm_cms_smime_type(opts->enc.cipher), der, dlen, p);
        *pdata = concat(plen, head, entity, elen, p);
        return APR_SUCCESS;
    }
    *pdata = concat(plen, apr_pstrcat(p, hdr_section(outer, p),
                                      "MIME-Version: 1.0\r\n", NULL),
                    entity, elen, p);
    return APR_SUCCESS;
}
