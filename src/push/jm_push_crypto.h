/* Web Push cryptography: message encryption (RFC 8291 with the aes128gcm
 * content coding of RFC 8188) and VAPID (RFC 8292), on OpenSSL 3 EVP.
 * Keys are EVP_PKEYs on P-256 whose lifetime the caller's pool owns. */
#ifndef JM_PUSH_CRYPTO_H
#define JM_PUSH_CRYPTO_H

#include <apr_pools.h>
#include <openssl/evp.h>

#define JM_PUSH_PUBKEY_LEN 65     /**< uncompressed P-256 point */
#define JM_PUSH_AUTH_LEN   16     /**< RFC 8291 §3.2 auth secret */
#define JM_PUSH_SALT_LEN   16
#define JM_PUSH_RS         4096   /**< record size (RFC 8291 §4) */
/** Largest plaintext in the one record RFC 8291 §4 allows: 4096 octets of
 *  payload less the header (86), the delimiter (1) and the tag (16). */
#define JM_PUSH_MAX_PLAINTEXT (4096 - 86 - 1 - 16)

/** base64url without padding (RFC 4648 §5). */
const char *jm_push_b64url(const void *data, apr_size_t len, apr_pool_t *p);
/** Decode base64url (padding tolerated, nothing else); NULL if invalid. */
unsigned char *jm_push_unb64url(const char *s, apr_size_t *plen, apr_pool_t *p);

/** A P-256 public key from its 65-byte uncompressed form (checked to be on
 *  the curve); NULL if it is not one. Freed with p. */
EVP_PKEY *jm_push_pubkey(const unsigned char *raw, apr_size_t len, apr_pool_t *p);
/** A P-256 key pair from its raw private scalar (32 bytes) and public point
 *  (tests: the RFC 8291 §5 example); NULL on failure. Freed with p. */
EVP_PKEY *jm_push_keypair(const unsigned char *priv, apr_size_t privlen,
                          const unsigned char *pub, apr_size_t publen, apr_pool_t *p);
/** A new P-256 key pair, NULL on failure. Freed with p. */
EVP_PKEY *jm_push_keygen(apr_pool_t *p);
/** The uncompressed public point of key into out (65 bytes); 0 on failure. */
int jm_push_pubkey_raw(EVP_PKEY *key, unsigned char out[JM_PUSH_PUBKEY_LEN]);

/**
 * Encrypt plaintext for a user agent (RFC 8291 §3-4): ECDH between an
 * ephemeral key (as_key; NULL: a new one) and ua_public, the HKDF-SHA-256
 * steps of §3.3-3.4 with auth, AES-128-GCM over one record (plaintext, the
 * delimiter 0x02) of record size 4096, behind the RFC 8188 §2.1 header
 * (salt; NULL: random). *pout is the whole body (Content-Encoding:
 * aes128gcm). APR_EINVAL for a bad key or a plaintext over
 * JM_PUSH_MAX_PLAINTEXT; APR_EGENERAL if OpenSSL fails.
 */
apr_status_t jm_push_encrypt(unsigned char **pout, apr_size_t *poutlen,
                             const void *plaintext, apr_size_t len,
                             const unsigned char *ua_public, apr_size_t ua_len,
                             const unsigned char *auth, apr_size_t auth_len,
                             EVP_PKEY *as_key, const unsigned char *salt,
                             apr_pool_t *p);

/**
 * The VAPID token (RFC 8292 §2): a JWT signed with ES256 (JWS raw r||s,
 * RFC 7518 §3.4) whose claims are aud (the origin of the push URL), exp
 * (a time in seconds, at most 24 hours ahead: the caller's) and sub (a
 * mailto: or https: contact, may be NULL). NULL on failure.
 */
const char *jm_push_vapid_jwt(EVP_PKEY *key, const char *aud, apr_int64_t exp,
                              const char *sub, apr_pool_t *p);
/** The Authorization header value "vapid t=JWT, k=KEY" (RFC 8292 §3). */
const char *jm_push_vapid_header(EVP_PKEY *key, const char *aud, apr_int64_t exp,
                                 const char *sub, apr_pool_t *p);
/** The origin (scheme://host[:port], RFC 6454) of an absolute URL; NULL if
 *  it has none. */
const char *jm_push_origin(const char *url, apr_pool_t *p);

#endif
