/* Signing keys per sender address, loaded once at startup.
 *
 * Each key is loaded through OSSL_STORE, so a PEM file, a PKCS#12 file or any
 * URI a configured provider understands work alike. Loading happens from the
 * directive handler while httpd still runs as root (key files need not be
 * readable by the httpd user). Keys are never logged and never leave here.
 */
#ifndef JM_KEYSTORE_H
#define JM_KEYSTORE_H

#include <apr_pools.h>
#include "smime/jm_cms.h"

typedef struct jm_keystore_t jm_keystore_t;

/** An empty key store living in p (p's cleanup frees all keys). */
apr_status_t jm_keystore_create(jm_keystore_t **pks, apr_pool_t *p);

/**
 * Load the key and certificate chain for one sender address and check them:
 * the key matches the certificate, the certificate is currently valid, it is
 * fit for signing (keyUsage digitalSignature/nonRepudiation if present, EKU
 * emailProtection if present) and address is one of its rfc822Name SANs (or
 * its emailAddress subject attribute when it has no SAN).
 * @param uri        file path or OSSL_STORE URI ("file:...", "pkcs11:..." ...)
 * @param passfile   file holding the passphrase (first line), or NULL
 * @param perr       on failure: a message for the administrator (no secrets)
 */
apr_status_t jm_keystore_load(jm_keystore_t *ks, const char *address,
                              const char *uri, const char *passfile,
                              jm_cms_sig_pad_t rsa_padding, const char **perr,
                              apr_pool_t *p);

/** The signer for address (case-insensitive), or NULL. */
const jm_signer_t *jm_keystore_find(const jm_keystore_t *ks, const char *address);

/** Number of keys loaded. */
int jm_keystore_count(const jm_keystore_t *ks);

#endif
