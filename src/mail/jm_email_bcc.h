/* Bcc recipients of an encrypted Email (jm_email_bcc.c): each gets a copy
 * of the same signed payload encrypted for them and the sender only, so
 * To/Cc recipients find no RecipientInfo of theirs in the message they
 * receive (RFC 9788 §"Bcc"; README "EmailSubmission"). */
#ifndef JM_EMAIL_BCC_H
#define JM_EMAIL_BCC_H

#include <openssl/x509.h>
#include "smime/jm_smime.h"
#include "mime/jm_mime.h"
#include "store/jm_db.h"

typedef struct {
    int n;
    const char **addr;          /**< the Bcc-only recipients */
    const char **data;          /**< their copies (filled by jm_smime_protect) */
    apr_size_t *len;
} jm_bcc_copies_t;

/** With recips the certificates of addrs (const char *, the sender
 *  first), set o->recips to the sender, To and Cc only and o's copies to
 *  one per Bcc-only recipient (sender + that recipient); c describes them.
 *  No Bcc-only recipient: o and c unchanged (c->n 0). */
void jm_email_bcc_split(jm_smime_opts_t *o, jm_bcc_copies_t *c, STACK_OF(X509) *recips,
                        const apr_array_header_t *addrs, jm_mime_msg_t *msg,
                        apr_pool_t *p);

/** Inside the caller's transaction: store the copies as blobs of the
 *  account and record them for email_id (jm_email_bcc_copies). */
apr_status_t jm_email_bcc_store(jm_db_t *db, const char *account_id,
                                const char *email_id, const jm_bcc_copies_t *c,
                                apr_pool_t *p);

#endif
