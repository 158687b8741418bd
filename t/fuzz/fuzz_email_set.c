/* fuzz_email_set: an Email/set creation object -> jm_mime_build ->
 * jm_smime_protect (sign and/or encrypt, header protection), then the
 * result is checked by an independent reader.
 *
 * Structure-aware by construction of the input rather than by a custom
 * mutator:
 *   byte 0     S/MIME flags, bit 0 sign, 1 encrypt, 2 no headerProtect,
 *              3 detached signature (smimeSignOpaque false), 4 legacy
 *              display, 5 AES-256-CBC instead of GCM, 6 RSA-OAEP, 7 sign
 *              as sales@example.com (RSA-PSS) instead of alice (EC);
 *              smimeSign/smimeEncrypt/headerProtect/smimeSignOpaque in the
 *              object override bits 0-3 as in Email/set.
 *   bytes 1..  the creation object as JSON text with placeholders that
 *              become ids of the fake store before parsing: $BLOBn
 *              (uploaded blobs), $PARTn (parts of stored messages,
 *              "<blobId>_<partId>"), $MSGn (stored messages) and $MBOXn,
 *              $ACCOUNT (see fz_subst). So attachments by blobId reach
 *              the real jm_blob_fetch, including part blob ids.
 * Blobs are fetched exactly as src/mail/jm_email.c does (jm_blob_fetch with a
 * NULL type pointer); JM_FUZZ_AVOID_KNOWN=1 passes a type pointer instead,
 * to explore past the known crash.
 *
 * Recipients of an encrypted message: the signer and, per To/Cc/Bcc
 * address (at most 16), one of bob (RSA), carol (EC) or alice (EC) chosen
 * by a hash of the address; the certificates come from the PKI made at
 * start (the directory lookup itself is fuzz_certdir's and fuzz_request's).
 *
 * Checks beyond the sanitizers: a rejected creation has a SetError with a
 * type; the built message and the protected one have CRLF line ends only;
 * OpenSSL can decrypt what was encrypted (with the sender's key) and
 * verify what was signed (SMIME_read_CMS + CMS_verify, binary); Bcc is
 * never in the signed or encrypted header section; the stored bytes parse
 * back with jm_email_view_props.
 *
 * FZ_DUMP_MESSAGES=DIR writes every message made into DIR (seeds for
 * fuzz_mime_get, see t/fuzz/make-corpus.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "fuzz_common.h"
#include "mail/jm_blob.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_view.h"
#include "mime/jm_mime_int.h"
#include "smime/jm_smime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_store();
    return 0;
}

static const char *cur_input;

static void finding(const char *fmt, const char *a)
{
    fprintf(stderr, "FINDING: ");
    fprintf(stderr, fmt, a ? a : "");
    fprintf(stderr, "\ninput: %.3000s\n", cur_input ? cur_input : "");
    ERR_print_errors_fp(stderr);
    abort();
}

static int has_part_blob_id(const char *s, size_t n)
{
    size_t i, j;

    for (i = 65; i < n; ++i) {
        if (s[i] != '_' || s[i - 65] != 'G') {
            continue;
        }
        for (j = i - 64; j < i && s[j] && strchr("0123456789abcdef", s[j]); ++j)
            ;
        if (j == i) {
            return 1;
        }
    }
    return 0;
}

static void check_crlf(const char *what, const char *d, size_t n)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r')) {
            finding("%s: a bare LF (the stored message must have CRLF line ends)",
                    what);
        }
    }
}

/* The header section of an entity: up to the first empty line. */
static void check_no_bcc(const char *what, const char *d, size_t n)
{
    size_t i = 0;

    while (i < n) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - d) + 1 : n;
        if (end - i <= 2 && (d[i] == '\r' || d[i] == '\n')) {
            return;
        }
        if (end - i >= 4 && !strncasecmp(d + i, "Bcc:", 4)) {
            finding("%s: a Bcc field inside the cryptographic payload", what);
        }
        i = end;
    }
}

static void read_override(json_t *c, const char *name, int *v)
{
    json_t *b = json_object_get(c, name);

    if (json_is_boolean(b)) {
        *v = json_is_true(b);
    }
}

/* Decrypt / verify what jm_smime_protect produced. */
static void check_cms(const char *out, size_t olen, const jm_smime_opts_t *o,
                      fz_ident_t *signer, X509_STORE *anchors)
{
    BIO *in = BIO_new_mem_buf(out, (int)olen), *content = NULL, *plain;
    CMS_ContentInfo *cms = SMIME_read_CMS(in, &content);
    char *pdata;
    long plen;

    if (!cms) {
        finding("%s: the protected message does not read back as S/MIME", "");
    }
    if (o->encrypt) {
        plain = BIO_new(BIO_s_mem());
        if (!CMS_decrypt(cms, signer->key, signer->cert, NULL, plain, CMS_BINARY)) {
            finding("%s: the sender cannot decrypt the message", "");
        }
        CMS_ContentInfo_free(cms);
        BIO_free(content);
        content = NULL;
        plen = BIO_get_mem_data(plain, &pdata);
        check_crlf("decrypted payload", pdata, (size_t)plen);
        check_no_bcc("decrypted payload", pdata, (size_t)plen);
        if (o->sign) {
            BIO *again = BIO_new_mem_buf(pdata, (int)plen);
            cms = SMIME_read_CMS(again, &content);
            BIO_free(again);
            if (!cms) {
                finding("%s: the decrypted payload is not a signed S/MIME entity", "");
            }
        }
        else {
            cms = NULL;
        }
        BIO_free(plain);
    }
    if (cms && o->sign) {
        BIO *signed_content = BIO_new(BIO_s_mem());
        if (CMS_verify(cms, NULL, anchors, content, signed_content,
                       CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
            finding("%s: the signature does not verify", "");
        }
        plen = BIO_get_mem_data(signed_content, &pdata);
        check_no_bcc("signed content", pdata, (size_t)plen);
        BIO_free(signed_content);
    }
    CMS_ContentInfo_free(cms);
    BIO_free(content);
    BIO_free(in);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static X509_STORE *anchors;
    fz_store_t *st = fz_store();
    fz_pki_t *k = fz_pki();
    apr_pool_t *p;
    jm_ctx_t *ctx;
    json_t *c, *seterr = NULL, *props;
    json_error_t jerr;
    jm_mime_msg_t *msg = NULL;
    jm_smime_opts_t o;
    jm_cms_err_t cerr;
    const char *body, *bytes, *out, *addr = NULL, *bad;
    apr_size_t blen, olen;
    size_t n;
    apr_status_t rv;
    unsigned flags;
    fz_ident_t *signer;
    apr_array_header_t *rcpts;
    jm_email_view_opts_t go;
    int i;

    if (size < 1) {
        return 0;
    }
    if (!anchors) {
        anchors = X509_STORE_new();
        X509_STORE_add_cert(anchors, k->ca);
    }
    flags = data[0];
    p = fz_run_pool();
    ctx = fz_ctx(p);
    body = fz_subst((const char *)data + 1, size - 1, &n, p);
    cur_input = body;
    if (fz_avoid_known() && has_part_blob_id(body, n)) {
        goto done;
    }
    if (!(c = jm_json_own(p, json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr)))) {
        goto done;
    }

    rv = jm_mime_build(&msg, c, fz_fetch_blob, ctx, NULL, &seterr, p);
    if (rv == APR_EINVAL || rv == APR_NOTFOUND) {
        if (!json_is_object(seterr) || !json_is_string(json_object_get(seterr, "type"))) {
            finding("%s: a rejected creation without a SetError type", "");
        }
        goto done;
    }
    if (rv != APR_SUCCESS) {
        goto done;                   /* a server failure, e.g. fetching a blob */
    }
    if (!msg) {
        finding("%s: jm_mime_build succeeded without a message", "");
    }
    jm_mime_to_bytes(&bytes, &blen, msg, p);
    check_crlf("built message", bytes, blen);

    /* the reading side Email/set uses for the signer and the recipients */
    if (jm_mime_signer_address(&addr, msg, &seterr, p) != APR_SUCCESS) {
        addr = NULL;
    }
    rcpts = jm_mime_recipients(msg, p);

    memset(&o, 0, sizeof(o));
    o.sign = flags & 1;
    o.encrypt = (flags >> 1) & 1;
    o.header_protect = !((flags >> 2) & 1);
    o.sign_opaque = !((flags >> 3) & 1);
    read_override(c, "smimeSign", &o.sign);
    read_override(c, "smimeEncrypt", &o.encrypt);
    read_override(c, "headerProtect", &o.header_protect);
    read_override(c, "smimeSignOpaque", &o.sign_opaque);
    o.legacy_display = (flags >> 4) & 1;
    o.enc.cipher = (flags & 0x20) ? JM_CMS_AES256_CBC : JM_CMS_AES256_GCM;
    o.enc.rsa_padding = (flags & 0x40) ? JM_CMS_KT_RSA_OAEP : JM_CMS_KT_RSA_PKCS1;
    signer = (flags & 0x80) ? &k->sales : &k->alice;
    out = bytes;
    olen = blen;
    if (o.sign || o.encrypt) {
        o.signer = jm_keystore_find(st->keystore, signer->addr);
        if (!o.signer) {
            finding("%s: no signer in the key store", signer->addr);
        }
        if (o.encrypt) {
            fz_ident_t *pool3[] = { &k->bob, &k->carol, &k->alice };
            o.recips = sk_X509_new_null();
            sk_X509_push(o.recips, signer->cert);
            for (i = 0; i < rcpts->nelts && i < 16; ++i) {
                const char *a = APR_ARRAY_IDX(rcpts, i, const char *);
                sk_X509_push(o.recips, pool3[fz_hash(a, strlen(a)) % 3]->cert);
            }
        }
        memset(&cerr, 0, sizeof(cerr));
        rv = jm_smime_protect(&out, &olen, msg, &o, &cerr, p);
        if (rv != APR_SUCCESS) {
            sk_X509_free(o.recips);
            finding("jm_smime_protect failed on a built message: %s", cerr.text);
        }
        sk_X509_free(o.recips);
        o.recips = NULL;
        check_crlf("protected message", out, olen);
        check_cms(out, olen, &o, signer, anchors);
    }

    if (getenv("FZ_DUMP_MESSAGES")) {
        /* t/fuzz/make-corpus.sh: the messages this makes seed fuzz_mime_get */
        const char *path = apr_psprintf(p, "%s/%08x.eml", getenv("FZ_DUMP_MESSAGES"),
                                        fz_hash(out, olen));
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(out, 1, olen, f);
            fclose(f);
        }
    }
    /* what would be stored reads back */
    memset(&go, 0, sizeof(go));
    go.fetch_all_body_values = 1;
    go.blob_id = jm_blob_id_for(out, olen, p);
    rv = jm_email_view_props(&props, out, olen, &go, &bad, p);
    if (rv != APR_SUCCESS) {
        finding("%s: the stored message does not read back", "");
    }
done:
    cur_input = NULL;
    fz_run_pool_done(p);
    fz_store_reset();
    return 0;
}
