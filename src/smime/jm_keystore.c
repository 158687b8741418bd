/* Signing keys per sender address, loaded through OSSL_STORE at startup.
 *
 * Loading runs once per key from the configuration phase; afterwards the
 * hash is only read, so lookups need no lock.
 */
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>

#include "core/jm_log.h"
#include "core/jm_util.h"
#include "smime/jm_keystore.h"

#define JM_PASS_MAX       1024  /* longest passphrase we read */
#define JM_ADDR_MAX       512   /* longer addresses are never stored */
#define JM_STORE_MAX_OBJS 1000  /* guards against a store that never ends */
#define JM_RSA_MIN_BITS   2048  /* RFC 8551 §4.1/§4.2 */

struct jm_keystore_t {
    apr_pool_t *pool;
    apr_hash_t *signers;    /* lower-cased address -> const jm_signer_t * */
};

apr_status_t jm_keystore_create(jm_keystore_t **pks, apr_pool_t *p)
{
    jm_keystore_t *ks = apr_pcalloc(p, sizeof(*ks));

    ks->pool = p;
    ks->signers = apr_hash_make(p);
    *pks = ks;
    return APR_SUCCESS;
}

int jm_keystore_count(const jm_keystore_t *ks)
{
    return ks ? (int)apr_hash_count(ks->signers) : 0;
}

const jm_signer_t *jm_keystore_find(const jm_keystore_t *ks, const char *address)
{
    char key[JM_ADDR_MAX];
    size_t i, len;

    if (!ks || !address || (len = strlen(address)) >= sizeof(key)) {
        return NULL;
    }
    for (i = 0; i <= len; ++i) {
        key[i] = (char)apr_tolower((unsigned char)address[i]);
    }
    return apr_hash_get(ks->signers, key, (apr_ssize_t)len);
}

/* ---------------------------------------------------------------------- */
/* passphrase                                                               */

typedef struct {
    char pass[JM_PASS_MAX + 1];
    int have;               /* 0: no passfile, never prompt */
} pass_data_t;

/* First line of passfile into pd (CR/LF stripped). The scratch buffer is
 * wiped; pd is wiped by the caller. */
static apr_status_t read_passfile(pass_data_t *pd, const char *passfile,
                                  const char **why, apr_pool_t *p)
{
    char buf[JM_PASS_MAX + 2];
    apr_size_t n = sizeof(buf) - 1, i;
    apr_file_t *f;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = apr_file_open(&f, passfile, APR_FOPEN_READ,
                                           APR_FPROT_OS_DEFAULT, p))) {
        *why = apr_psprintf(p, "cannot open passphrase file %s: %pm", passfile, &rv);
        return rv;
    }
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        *why = apr_psprintf(p, "cannot read passphrase file %s: %pm", passfile, &rv);
        OPENSSL_cleanse(buf, sizeof(buf));
        return rv;
    }
    if (n == 0) {
        *why = apr_psprintf(p, "passphrase file %s is empty", passfile);
        return APR_EINVAL;
    }
    for (i = 0; i < n && buf[i] != '\n' && buf[i] != '\r'; ++i) {
    }
    if (i > JM_PASS_MAX) {
        *why = apr_psprintf(p, "passphrase in %s is longer than %d bytes",
                            passfile, JM_PASS_MAX);
        OPENSSL_cleanse(buf, sizeof(buf));
        return APR_EINVAL;
    }
    memcpy(pd->pass, buf, i);
    pd->pass[i] = '\0';
    pd->have = 1;
    OPENSSL_cleanse(buf, sizeof(buf));
    return APR_SUCCESS;
}

/* pem_password_cb wrapped into a UI_METHOD: answers every prompt from the
 * passfile, and refuses (instead of prompting on a terminal) without one. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    const pass_data_t *pd = u;
    size_t len;

    (void)rwflag;
    if (!pd || !pd->have || size <= 0) {
        return -1;
    }
    len = strlen(pd->pass);
    if (len >= (size_t)size) {
        return -1;
    }
    memcpy(buf, pd->pass, len + 1);
    return (int)len;
}

/* ---------------------------------------------------------------------- */
/* collecting objects from the store                                        */

typedef struct {
    EVP_PKEY *key;
    STACK_OF(X509) *certs;
    int nkeys;
} loaded_t;

static apr_status_t loaded_cleanup(void *data)
{
    loaded_t *l = data;

    EVP_PKEY_free(l->key);
    sk_X509_pop_free(l->certs, X509_free);
    return APR_SUCCESS;
}

/* " (openssl: ...)" with the drained error queue, or "" when it is empty. */
static const char *ossl_reason(apr_pool_t *p)
{
    jm_cms_err_t e;

    if (ERR_peek_error() == 0) {
        return "";
    }
    jm_cms_err_set(&e, "");
    /* jm_cms_err_set writes "; openssl: ..." after the (empty) where */
    return apr_psprintf(p, " (%s)", e.text + (e.text[0] == ';' ? 2 : 0));
}

static apr_status_t take_info(loaded_t *l, OSSL_STORE_INFO *info)
{
    X509 *x;

    switch (OSSL_STORE_INFO_get_type(info)) {
    case OSSL_STORE_INFO_PKEY:
        if (++l->nkeys == 1) {
            l->key = OSSL_STORE_INFO_get1_PKEY(info);
            if (!l->key) {
                return APR_ENOMEM;
            }
        }
        break;
    case OSSL_STORE_INFO_CERT:
        x = OSSL_STORE_INFO_get1_CERT(info);
        if (!x) {
            return APR_ENOMEM;
        }
        if (!sk_X509_push(l->certs, x)) {
            X509_free(x);
            return APR_ENOMEM;
        }
        break;
    default:
        break;              /* public keys, params, CRLs, names: not ours */
    }
    return APR_SUCCESS;
}

/* Read every object of one store URI into l. A directory store yields the
 * names of its files: those are read too (one level deep), so a key, its
 * certificate and its chain may sit in separate files of one directory. */
static apr_status_t load_uri(loaded_t *l, const char *uri, UI_METHOD *ui,
                             pass_data_t *pd, int depth, const char **plast,
                             const char **why, apr_pool_t *p)
{
    OSSL_STORE_CTX *ctx;
    apr_status_t rv = APR_SUCCESS;
    int n = 0;

    if (!(ctx = OSSL_STORE_open_ex(uri, NULL, NULL, ui, pd, NULL, NULL, NULL))) {
        *plast = ossl_reason(p);
        return APR_ENOENT;
    }
    while (rv == APR_SUCCESS && !OSSL_STORE_eof(ctx) && n++ < JM_STORE_MAX_OBJS) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(ctx);

        if (!info) {
            /* a broken item (wrong passphrase, garbage): remember why and
             * go on, the checks afterwards decide whether it mattered */
            if (ERR_peek_error()) {
                *plast = ossl_reason(p);
            }
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_NAME) {
            if (depth == 0) {
                const char *name = apr_pstrdup(p, OSSL_STORE_INFO_get0_NAME(info));
                /* unreadable entries only matter if the key ends up missing */
                load_uri(l, name, ui, pd, depth + 1, plast, why, p);
            }
        }
        else if (APR_SUCCESS != (rv = take_info(l, info))) {
            *why = "out of memory";
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(ctx);
    ERR_clear_error();
    return rv;
}

static apr_status_t load_store(loaded_t *l, const char *uri, pass_data_t *pd,
                               const char **why, apr_pool_t *p)
{
    UI_METHOD *ui;
    const char *last = NULL;
    apr_status_t rv;

    if (!(ui = UI_UTIL_wrap_read_pem_callback(pass_cb, 0))) {
        *why = apr_pstrcat(p, "cannot set up passphrase handling", ossl_reason(p), NULL);
        return APR_ENOMEM;
    }
    rv = load_uri(l, uri, ui, pd, 0, &last, why, p);
    UI_destroy_method(ui);
    if (rv == APR_ENOENT) {
        *why = apr_pstrcat(p, "cannot open", last ? last : "", NULL);
    }
    else if (rv == APR_SUCCESS && !l->key) {
        *why = apr_pstrcat(p, "no private key found", last ? last : "",
                           (last && !pd->have) ? "; is a passphrase file needed?" : "",
                           NULL);
        rv = APR_ENOENT;
    }
    else if (rv == APR_SUCCESS && l->nkeys > 1) {
        *why = "more than one private key found";
        rv = APR_EINVAL;
    }
    ERR_clear_error();
    return rv;
}

/* ---------------------------------------------------------------------- */
/* certificate checks                                                       */

static int ia5_equals(const ASN1_STRING *s, const char *addr)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    size_t i, len = strlen(addr);

    if (!d || ASN1_STRING_length(s) < 0 || (size_t)ASN1_STRING_length(s) != len) {
        return 0;
    }
    for (i = 0; i < len; ++i) {   /* also rejects embedded NULs */
        if (apr_tolower(d[i]) != apr_tolower((unsigned char)addr[i])) {
            return 0;
        }
    }
    return 1;
}

/* RFC 8550 §3: rfc822Name in subjectAltName, or the PKCS #9 emailAddress of
 * the subject when the certificate has no subjectAltName. Comparison is
 * case-insensitive on both sides of '@' (the SHOULD for the local part). */
static int cert_has_address(X509 *cert, const char *addr)
{
    GENERAL_NAMES *gens;
    X509_NAME *subj;
    int crit = -1, i, found = 0;

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    for (i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !found; ++i) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        found = g->type == GEN_EMAIL && ia5_equals(g->d.rfc822Name, addr);
    }
    GENERAL_NAMES_free(gens);
    if (found || crit != -1) {
        return found;
    }
    subj = X509_get_subject_name(cert);
    for (i = -1; !found
         && (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
        found = ia5_equals(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)),
                           addr);
    }
    return found;
}

static const char *check_validity(X509 *cert)
{
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
        return "certificate is not yet valid";
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        return "certificate has expired";
    }
    return NULL;
}

static const char *check_usage(X509 *cert)
{
    uint32_t xf = X509_get_extension_flags(cert);

    if (xf & EXFLAG_INVALID) {
        return "certificate has malformed extensions";
    }
    if ((xf & EXFLAG_KUSAGE)
        && !(X509_get_key_usage(cert) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))) {
        return "certificate keyUsage allows neither digitalSignature nor nonRepudiation";
    }
    if ((xf & EXFLAG_XKUSAGE)
        && !(X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU))) {
        return "certificate extendedKeyUsage lacks emailProtection";
    }
    return NULL;
}

static const char *check_key(EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
        && EVP_PKEY_get_bits(key) < JM_RSA_MIN_BITS) {
        return "RSA key shorter than 2048 bits (RFC 8551 section 4.1)";
    }
    return NULL;
}

/* Split l->certs into the leaf matching the key and the rest (the chain). */
static X509 *pick_leaf(loaded_t *l, STACK_OF(X509) *chain)
{
    X509 *leaf = NULL;
    int i;

    for (i = 0; i < sk_X509_num(l->certs) && !leaf; ++i) {
        if (X509_check_private_key(sk_X509_value(l->certs, i), l->key) == 1) {
            leaf = sk_X509_value(l->certs, i);
        }
    }
    ERR_clear_error();      /* mismatches leave KEY_VALUES_MISMATCH behind */
    for (i = 0; leaf && i < sk_X509_num(l->certs); ++i) {
        X509 *c = sk_X509_value(l->certs, i);
        if (c != leaf && X509_cmp(c, leaf) != 0 && !sk_X509_push(chain, c)) {
            return NULL;
        }
    }
    return leaf;
}

/* ---------------------------------------------------------------------- */

static apr_status_t stack_cleanup(void *data)
{
    sk_X509_free(data);     /* borrowed pointers only */
    return APR_SUCCESS;
}

static apr_status_t pass_cleanup(void *data)
{
    OPENSSL_cleanse(data, sizeof(pass_data_t));
    return APR_SUCCESS;
}

apr_status_t jm_keystore_load(jm_keystore_t *ks, const char *address,
                              const char *uri, const char *passfile,
                              jm_cms_sig_pad_t rsa_padding, const char **perr,
                              apr_pool_t *p)
{
    apr_pool_t *ptemp = NULL;
    pass_data_t *pd;
    loaded_t *l;
    STACK_OF(X509) *chain = NULL;
    jm_signer_t *signer;
    const char *why = NULL, *lkey;
    X509 *leaf;
    apr_status_t rv;

    *perr = NULL;
    if (!ks || !address || !strchr(address, '@') || strlen(address) >= JM_ADDR_MAX
        || !uri || !*uri) {
        *perr = apr_psprintf(p, "signing key for %s in %s: invalid address or key location",
                             address ? address : "(null)", uri ? uri : "(null)");
        return APR_EINVAL;
    }
    lkey = jm_util_strlower(address, p);
    if (apr_hash_get(ks->signers, lkey, APR_HASH_KEY_STRING)) {
        *perr = apr_psprintf(p, "signing key for %s in %s: a key for this address "
                             "is already configured", address, uri);
        return APR_EEXIST;
    }
    if (APR_SUCCESS != (rv = apr_pool_create(&ptemp, p))) {
        *perr = "out of memory";
        return rv;
    }
    pd = apr_pcalloc(ptemp, sizeof(*pd));
    apr_pool_cleanup_register(ptemp, pd, pass_cleanup, apr_pool_cleanup_null);
    l = apr_pcalloc(ptemp, sizeof(*l));
    if (!(l->certs = sk_X509_new_null()) || !(chain = sk_X509_new_null())) {
        sk_X509_free(l->certs);
        l->certs = NULL;
        rv = APR_ENOMEM;
        why = "out of memory";
        goto leave;
    }
    apr_pool_cleanup_register(ptemp, l, loaded_cleanup, apr_pool_cleanup_null);
    apr_pool_cleanup_register(ptemp, chain, stack_cleanup, apr_pool_cleanup_null);

    if (passfile && APR_SUCCESS != (rv = read_passfile(pd, passfile, &why, ptemp))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = load_store(l, uri, pd, &why, ptemp))) {
        goto leave;
    }
    rv = APR_EINVAL;
    if ((why = check_key(l->key))) {
        goto leave;
    }
    if (!(leaf = pick_leaf(l, chain))) {
        why = sk_X509_num(l->certs) ? "no certificate matches the private key"
                                    : "no certificate found";
        goto leave;
    }
    if ((why = check_validity(leaf)) || (why = check_usage(leaf))) {
        goto leave;
    }
    if (!cert_has_address(leaf, address)) {
        why = "the address is neither an rfc822Name subjectAltName nor the "
              "subject emailAddress of the certificate";
        goto leave;
    }
    rv = jm_cms_signer_make(&signer, l->key, leaf, chain, rsa_padding, ks->pool);
    if (rv != APR_SUCCESS) {
        why = rv == APR_ENOTIMPL ? "unsupported key type (RSA or EC only)"
                                 : "cannot create signer";
        goto leave;
    }
    apr_hash_set(ks->signers, apr_pstrdup(ks->pool, lkey), APR_HASH_KEY_STRING, signer);
    jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, APR_SUCCESS, ptemp,
                  JMLOGNO(02000) "signing key for %s loaded from %s (%d-bit %s, %s, "
                  "%d chain certificates)", address, uri,
                  EVP_PKEY_get_bits(l->key), EVP_PKEY_get0_type_name(l->key),
                  jm_cms_signer_micalg(signer), sk_X509_num(chain));

leave:
    if (why) {
        *perr = apr_psprintf(p, "signing key for %s in %s: %s", address, uri, why);
        jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, rv, ptemp, JMLOGNO(02001) "%s", *perr);
    }
    ERR_clear_error();
    apr_pool_destroy(ptemp);
    return rv;
}
