/* S/MIME = MIME x CMS: turn a built message into a signed and/or encrypted
 * one (RFC 8551 §3), with header protection (RFC 9788, via jm_hp) when asked.
 */
#ifndef JM_SMIME_H
#define JM_SMIME_H

#include <apr_pools.h>
#include "smime/jm_cms.h"
#include "mime/jm_mime.h"

typedef struct {
    int sign;                    /**< smimeSign */
    int encrypt;                 /**< smimeEncrypt */
    int header_protect;          /**< headerProtect (default true) */
    int sign_opaque;             /**< smimeSignOpaque (default true) */
    int legacy_display;          /**< RFC 9788 legacy display element */
    const jm_signer_t *signer;   /**< required when sign */
    STACK_OF(X509) *recips;      /**< required when encrypt: sender + To/Cc/Bcc */
    jm_cms_encrypt_opts_t enc;
    /** With encrypt: more copies of the same signed payload, each
     *  encrypted for copy_recips[i] only (a Bcc recipient's own copy);
     *  copy_data/copy_len (ncopies each, the caller's) receive them. */
    int ncopies;
    STACK_OF(X509) **copy_recips;
    const char **copy_data;
    apr_size_t *copy_len;
} jm_smime_opts_t;

/**
 * Produce the final message bytes (CRLF): sign first, then encrypt (draft §4).
 * Signing canonicalises the entity to CRLF and, for multipart/signed, makes
 * it 7-bit safe before signing (RFC 8551 §3.1.1-3.1.3). With header_protect
 * the non-structural header fields are copied onto the Cryptographic Payload
 * with hp="clear"/"cipher"; for encryption the outer header section is
 * rewritten by the baseline policy and HP-Outer lines are recorded (jm_hp).
 * Bcc never appears inside the cryptographic payload.
 * msg's body tree is encoded in place (7-bit, legacy display): protect a
 * built message once.
 */
apr_status_t jm_smime_protect(const char **pdata, apr_size_t *plen,
                              jm_mime_msg_t *msg, const jm_smime_opts_t *opts,
                              jm_cms_err_t *err, apr_pool_t *p);

#endif
