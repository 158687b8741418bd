/* OpenSSL 3 CMS: SignedData, EnvelopedData and AuthEnvelopedData on bytes.
 *
 * Everything here is reentrant: the only shared objects are the signer's
 * EVP_PKEY/X509/chain, which are only read (OpenSSL reference counts and
 * extension caches are internally locked). Every CMS object lives exactly as
 * long as one call; DER results are copied into the caller's pool.
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "smime/jm_cms.h"

struct jm_signer_t {
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) *chain;      /* never NULL (may be empty) */
    const EVP_MD *md;
    const char *micalg;         /* RFC 8551 §3.5.3.2 */
    jm_cms_sig_pad_t pad;       /* only meaningful for RSA keys */
};

/* ---------------------------------------------------------------------- */
/* errors                                                                   */

void jm_cms_err_set(jm_cms_err_t *err, const char *where)
{
    const char *data;
    int flags, n;
    unsigned long e;
    size_t off = 0;
    char buf[256];

    if (!err) {
        ERR_clear_error();
        return;
    }
    n = snprintf(err->text, sizeof(err->text), "%s", where ? where : "cms");
    off = (n > 0 && (size_t)n < sizeof(err->text)) ? (size_t)n : strlen(err->text);
    n = 0;
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        if (off < sizeof(err->text) - 1) {
            int w = snprintf(err->text + off, sizeof(err->text) - off, "%s%s%s%s",
                             n++ ? " | " : "; openssl: ", buf,
                             (data && (flags & ERR_TXT_STRING)) ? " " : "",
                             (data && (flags & ERR_TXT_STRING)) ? data : "");
            off = (w > 0 && (size_t)w < sizeof(err->text) - off)
                ? off + (size_t)w : sizeof(err->text) - 1;
        }
        /* keep draining even when the buffer is full */
    }
}

/* Fill err (if given) with a plain message; also empties the error queue. */
static apr_status_t fail(jm_cms_err_t *err, apr_status_t rv, const char *where)
{
    jm_cms_err_set(err, where);
    return rv;
}

/* ---------------------------------------------------------------------- */
/* pool ownership                                                           */

static apr_status_t x509_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

X509 *jm_cms_own_x509(X509 *x, apr_pool_t *p)
{
    if (x) {
        apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
    }
    return x;
}

static apr_status_t signer_cleanup(void *data)
{
    jm_signer_t *s = data;

    EVP_PKEY_free(s->key);
    X509_free(s->cert);
    sk_X509_pop_free(s->chain, X509_free);
    s->key = NULL;
    s->cert = NULL;
    s->chain = NULL;
    return APR_SUCCESS;
}

static apr_status_t cms_cleanup(void *data)
{
    CMS_ContentInfo_free(data);
    return APR_SUCCESS;
}

static apr_status_t bio_cleanup(void *data)
{
    BIO_free(data);
    return APR_SUCCESS;
}

static CMS_ContentInfo *own_cms(CMS_ContentInfo *cms, apr_pool_t *p)
{
    if (cms) {
        apr_pool_cleanup_register(p, cms, cms_cleanup, apr_pool_cleanup_null);
    }
    return cms;
}

/* A read-only memory BIO over data (no copy), freed with the pool. */
static BIO *own_input_bio(const void *data, apr_size_t len, apr_pool_t *p)
{
    BIO *bio;

    if (len > INT_MAX) {
        return NULL;
    }
    bio = BIO_new_mem_buf(len ? data : "", (int)len);
    if (bio) {
        apr_pool_cleanup_register(p, bio, bio_cleanup, apr_pool_cleanup_null);
    }
    return bio;
}

/* ---------------------------------------------------------------------- */
/* signer                                                                   */

/* Digest by key type: SHA-256 everywhere (RFC 8551 §2.1), except that the
 * larger EC curves get the matching SHA-2 strength. */
static apr_status_t pick_digest(const EVP_MD **pmd, const char **pmicalg,
                                EVP_PKEY *key)
{
    char group[64];
    size_t glen = 0;

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        break;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group),
                                           &glen)) {
            if (!strcmp(group, "secp384r1")) {
                *pmd = EVP_sha384();
                *pmicalg = "sha-384";
                return APR_SUCCESS;
            }
            if (!strcmp(group, "secp521r1")) {
                *pmd = EVP_sha512();
                *pmicalg = "sha-512";
                return APR_SUCCESS;
            }
        }
        break;
    default:
        /* Ed25519 (RFC 8419) would need SHA-512 here, but OpenSSL 3.0's CMS
         * cannot sign with EdDSA keys ("invalid digest" in CMS_final), so it
         * is refused up front instead of failing on every message. */
        return APR_ENOTIMPL;
    }
    *pmd = EVP_sha256();
    *pmicalg = "sha-256";
    return APR_SUCCESS;
}

apr_status_t jm_cms_signer_make(jm_signer_t **psigner, EVP_PKEY *key, X509 *cert,
                                STACK_OF(X509) *chain, jm_cms_sig_pad_t pad,
                                apr_pool_t *p)
{
    jm_signer_t *s;
    apr_status_t rv;
    int i;

    *psigner = NULL;
    if (!key || !cert) {
        return APR_EINVAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    if (APR_SUCCESS != (rv = pick_digest(&s->md, &s->micalg, key))) {
        return rv;
    }
    s->pad = (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) ? pad : JM_CMS_SIG_RSA_PKCS1;
    s->chain = sk_X509_new_null();
    if (!s->chain) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, s, signer_cleanup, apr_pool_cleanup_null);
    for (i = 0; chain && i < sk_X509_num(chain); ++i) {
        X509 *c = sk_X509_value(chain, i);
        if (!X509_up_ref(c)) {
            ERR_clear_error();
            return APR_ENOMEM;
        }
        if (!sk_X509_push(s->chain, c)) {
            X509_free(c);
            ERR_clear_error();
            return APR_ENOMEM;
        }
        /* fill the extension cache now, before threads share it */
        X509_check_purpose(c, -1, 0);
    }
    if (!EVP_PKEY_up_ref(key)) {
        ERR_clear_error();
        return APR_ENOMEM;
    }
    s->key = key;
    if (!X509_up_ref(cert)) {
        ERR_clear_error();
        return APR_ENOMEM;
    }
    s->cert = cert;
    X509_check_purpose(cert, -1, 0);
    ERR_clear_error();
    *psigner = s;
    return APR_SUCCESS;
}

X509 *jm_cms_signer_cert(const jm_signer_t *signer)
{
    return signer ? signer->cert : NULL;
}

const char *jm_cms_signer_micalg(const jm_signer_t *signer)
{
    return signer ? signer->micalg : NULL;
}

/* ---------------------------------------------------------------------- */
/* signing                                                                  */

/* Our SMIMECapabilities (RFC 8551 §2.5.2), in order of preference. OpenSSL's
 * default list has no GCM and still announces DES/RC2, so we build our own:
 * AES-GCM first because it is MUST (§2.7), then CBC for older clients.
 * Parameters are omitted: these OIDs have nothing to differentiate. */
static apr_status_t add_smime_caps(CMS_SignerInfo *si)
{
    static const int nids[] = {
        NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc, NID_aes_128_cbc
    };
    STACK_OF(X509_ALGOR) *caps = NULL;
    apr_status_t rv = APR_EGENERAL;
    size_t i;

    for (i = 0; i < sizeof(nids) / sizeof(nids[0]); ++i) {
        if (!CMS_add_simple_smimecap(&caps, nids[i], -1)) {
            goto leave;
        }
    }
    if (CMS_add_smimecap(si, caps)) {
        rv = APR_SUCCESS;
    }
leave:
    sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
    return rv;
}

/* RSASSA-PSS with SHA-256, MGF1-SHA-256 and a salt as long as the digest
 * (RFC 4056 §2.2 / RFC 8551 §2.2 SHOULD). */
static int set_pss(CMS_SignerInfo *si)
{
    EVP_PKEY_CTX *pctx = CMS_SignerInfo_get0_pkey_ctx(si);

    return pctx
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
        && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
}

/* DER of cms, copied into p. */
static apr_status_t cms_to_der(const unsigned char **pder, apr_size_t *plen,
                               CMS_ContentInfo *cms, apr_pool_t *p)
{
    unsigned char *buf, *w;
    int n;

    n = i2d_CMS_ContentInfo(cms, NULL);
    if (n <= 0) {
        return APR_EGENERAL;
    }
    buf = w = apr_palloc(p, (apr_size_t)n);
    if (i2d_CMS_ContentInfo(cms, &w) != n) {
        return APR_EGENERAL;
    }
    *pder = buf;
    *plen = (apr_size_t)n;
    return APR_SUCCESS;
}

apr_status_t jm_cms_sign(const unsigned char **pder, apr_size_t *plen,
                         const jm_signer_t *signer, const void *data,
                         apr_size_t len, int detached, jm_cms_err_t *err,
                         apr_pool_t *p)
{
    /* CMS_BINARY: jm_smime already canonicalised to CRLF (RFC 8551 §3.1.1),
     * OpenSSL must not translate again. CMS_NOSMIMECAP: we add our own. */
    unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_CADES
                         | (detached ? CMS_DETACHED : 0);
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si;
    BIO *in;
    int i;

    *pder = NULL;
    *plen = 0;
    if (!signer || !signer->key || (!data && len)) {
        return fail(err, APR_EINVAL, "jm_cms_sign: no signer or no data");
    }
    if (!(in = own_input_bio(data, len, p))) {
        return fail(err, APR_ENOMEM, "jm_cms_sign: input");
    }
    cms = own_cms(CMS_sign(NULL, NULL, NULL, NULL, flags), p);
    if (!cms) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: CMS_sign");
    }
    si = CMS_add1_signer(cms, signer->cert, signer->key, signer->md,
                         flags | (signer->pad == JM_CMS_SIG_RSA_PSS ? CMS_KEY_PARAM : 0));
    if (!si) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: CMS_add1_signer");
    }
    if (signer->pad == JM_CMS_SIG_RSA_PSS && !set_pss(si)) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: RSA-PSS parameters");
    }
    if (APR_SUCCESS != add_smime_caps(si)) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: SMIMECapabilities");
    }
    for (i = 0; i < sk_X509_num(signer->chain); ++i) {
        if (!CMS_add1_cert(cms, sk_X509_value(signer->chain, i))) {
            return fail(err, APR_EGENERAL, "jm_cms_sign: adding chain certificate");
        }
    }
    if (!CMS_final(cms, in, NULL, flags)) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: CMS_final");
    }
    if (APR_SUCCESS != cms_to_der(pder, plen, cms, p)) {
        return fail(err, APR_EGENERAL, "jm_cms_sign: DER encoding");
    }
    ERR_clear_error();
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* encryption                                                               */

/* RSAES-OAEP (RFC 8551 §2.3 SHOULD+, RFC 3560). We keep OpenSSL's default
 * parameters, SHA-1 with MGF1-SHA-1: they are RFC 3560's defaults (encoded
 * as empty RSAES-OAEP-params), the one OAEP variant every OAEP-capable
 * client implements, whereas SHA-256 OAEP support still varies between
 * clients. SHA-1's collision weakness does not matter for OAEP. */
static int set_oaep(CMS_RecipientInfo *ri)
{
    EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);

    return pctx && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0;
}

/* EC recipients: ECDH ephemeral-static (RFC 8551 §2.3, RFC 5753). RFC 5753
 * §8 makes dhSinglePass-stdDH-sha256kdf-scheme the MUST and the SHA-1 KDF
 * that OpenSSL picks by default only a MAY, so we ask for SHA-256. The key
 * wrap OpenSSL chooses is AES key wrap of the content cipher's key size,
 * as §2.3 requires (the unit test checks id-aes256-wrap). */
static int set_ecdh_kdf(CMS_RecipientInfo *ri)
{
    EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);

    return pctx && EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) > 0;
}

static apr_status_t add_recipient(CMS_ContentInfo *cms, X509 *cert,
                                  const jm_cms_encrypt_opts_t *opts,
                                  unsigned int flags, jm_cms_err_t *err)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    int is_rsa = pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA;
    int oaep = is_rsa && opts->rsa_padding == JM_CMS_KT_RSA_OAEP;
    CMS_RecipientInfo *ri;

    if (!pub) {
        return fail(err, APR_EINVAL, "jm_cms_encrypt: recipient certificate without key");
    }
    ri = CMS_add1_recipient_cert(cms, cert, flags | (oaep ? CMS_KEY_PARAM : 0));
    if (!ri) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: CMS_add1_recipient_cert");
    }
    if (oaep && !set_oaep(ri)) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: RSA-OAEP parameters");
    }
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE && !set_ecdh_kdf(ri)) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: ECDH KDF");
    }
    return APR_SUCCESS;
}

apr_status_t jm_cms_encrypt(const unsigned char **pder, apr_size_t *plen,
                            STACK_OF(X509) *recips, const void *data,
                            apr_size_t len, const jm_cms_encrypt_opts_t *opts,
                            jm_cms_err_t *err, apr_pool_t *p)
{
    unsigned int flags = CMS_PARTIAL | CMS_BINARY;
    const EVP_CIPHER *cipher;
    CMS_ContentInfo *cms;
    apr_status_t rv;
    BIO *in;
    int i;

    *pder = NULL;
    *plen = 0;
    if (!opts || !recips || sk_X509_num(recips) <= 0 || (!data && len)) {
        return fail(err, APR_EINVAL, "jm_cms_encrypt: no recipients or no data");
    }
    switch (opts->cipher) {
    case JM_CMS_AES256_GCM:
        cipher = EVP_aes_256_gcm();   /* OpenSSL makes AuthEnvelopedData */
        break;
    case JM_CMS_AES256_CBC:
        cipher = EVP_aes_256_cbc();
        break;
    default:
        return fail(err, APR_EINVAL, "jm_cms_encrypt: unknown cipher");
    }
    if (!(in = own_input_bio(data, len, p))) {
        return fail(err, APR_ENOMEM, "jm_cms_encrypt: input");
    }
    cms = own_cms(CMS_encrypt(NULL, NULL, cipher, flags), p);
    if (!cms) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: CMS_encrypt");
    }
    for (i = 0; i < sk_X509_num(recips); ++i) {
        if (APR_SUCCESS != (rv = add_recipient(cms, sk_X509_value(recips, i),
                                               opts, flags, err))) {
            return rv;
        }
    }
    if (!CMS_final(cms, in, NULL, flags)) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: CMS_final");
    }
    if (APR_SUCCESS != cms_to_der(pder, plen, cms, p)) {
        return fail(err, APR_EGENERAL, "jm_cms_encrypt: DER encoding");
    }
    ERR_clear_error();
    return APR_SUCCESS;
}

const char *jm_cms_smime_type(jm_cms_cipher_t cipher)
{
    /* RFC 8551 §3.2.2 */
    return cipher == JM_CMS_AES256_GCM ? "authEnveloped-data" : "enveloped-data";
}
