/* OpenSSL 3 CMS, and nothing else: sign and encrypt byte strings.
 *
 * Input is always the exact bytes to protect (a canonical CRLF MIME entity
 * prepared by jm_smime); output is DER. Every OpenSSL object created here is
 * freed by a cleanup on the pool passed in, and every failure fills a
 * jm_cms_err_t with the drained OpenSSL error queue so the caller can log it.
 */
#ifndef JM_CMS_H
#define JM_CMS_H

#include <apr_pools.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

/** What went wrong, for the log (never for the client: may name files). */
typedef struct {
    char text[1024];   /**< "where: reason; openssl: lib:func:reason | ..." */
} jm_cms_err_t;

/** RSA signature padding (RFC 8551 §2.2: PKCS#1 v1.5 MUST-, PSS SHOULD+). */
typedef enum { JM_CMS_SIG_RSA_PKCS1 = 0, JM_CMS_SIG_RSA_PSS = 1 } jm_cms_sig_pad_t;
/** RSA key transport padding (RFC 8551 §2.3). */
typedef enum { JM_CMS_KT_RSA_PKCS1 = 0, JM_CMS_KT_RSA_OAEP = 1 } jm_cms_kt_pad_t;
/** Content encryption (RFC 8551 §2.7). */
typedef enum {
    JM_CMS_AES256_GCM = 0,   /**< AuthEnvelopedData, smime-type=authEnveloped-data */
    JM_CMS_AES256_CBC = 1    /**< EnvelopedData, smime-type=enveloped-data */
} jm_cms_cipher_t;

/** A signing identity: private key, certificate, chain. Immutable once
 *  loaded (jm_keystore), so it may be shared by all threads. */
typedef struct jm_signer_t jm_signer_t;

/** Encryption options. */
typedef struct {
    jm_cms_cipher_t cipher;
    jm_cms_kt_pad_t rsa_padding;
} jm_cms_encrypt_opts_t;

/** Build a signer from objects already loaded; takes its own references.
 *  chain may be NULL. Used by jm_keystore and by unit tests. */
apr_status_t jm_cms_signer_make(jm_signer_t **psigner, EVP_PKEY *key, X509 *cert,
                                STACK_OF(X509) *chain, jm_cms_sig_pad_t pad,
                                apr_pool_t *p);

/** The signer's certificate (borrowed). */
X509 *jm_cms_signer_cert(const jm_signer_t *signer);

/** micalg parameter for multipart/signed matching the digest used ("sha-256"). */
const char *jm_cms_signer_micalg(const jm_signer_t *signer);

/**
 * Sign data (RFC 5652 SignedData, SHA-256 or stronger). Signed attributes:
 * contentType, messageDigest, signingTime, SMIMECapabilities and
 * signingCertificateV2; the signer's certificate and chain are included.
 * @param detached 1: signature only (multipart/signed), 0: encapsulated
 *                 content (application/pkcs7-mime; smime-type=signed-data)
 * @return APR_SUCCESS and DER in *pder, *plen (allocated in p), else an error
 *         with err filled.
 */
apr_status_t jm_cms_sign(const unsigned char **pder, apr_size_t *plen,
                         const jm_signer_t *signer, const void *data,
                         apr_size_t len, int detached, jm_cms_err_t *err,
                         apr_pool_t *p);

/**
 * Encrypt data to every certificate in recips (RSA or EC keys) with the
 * configured content cipher; output EnvelopedData or AuthEnvelopedData DER.
 */
apr_status_t jm_cms_encrypt(const unsigned char **pder, apr_size_t *plen,
                            STACK_OF(X509) *recips, const void *data,
                            apr_size_t len, const jm_cms_encrypt_opts_t *opts,
                            jm_cms_err_t *err, apr_pool_t *p);

/** smime-type parameter value for a cipher choice. */
const char *jm_cms_smime_type(jm_cms_cipher_t cipher);

/** Register a pool cleanup that frees x (X509_free); returns x. */
X509 *jm_cms_own_x509(X509 *x, apr_pool_t *p);

/** Fill err with where + the drained OpenSSL error queue. */
void jm_cms_err_set(jm_cms_err_t *err, const char *where);

#endif
