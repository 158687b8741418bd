/* Blobs (RFC 8620 §6): upload, download, ids. A blob id is "G" + the
 * SHA-256 of the bytes, per account; "<blobId>_<partId>" names one part of
 * a stored message (RFC 8621 §4.1.4 EmailBodyPart.blobId). */
#ifndef JM_BLOB_H
#define JM_BLOB_H

#include "jm_request.h"

/** The blob id for these bytes. */
const char *jm_blob_id_for(const void *data, apr_size_t len, apr_pool_t *p);

/** Store uploaded bytes; *presp is the RFC 8620 §6.1 response object. */
apr_status_t jm_blob_upload(json_t **presp, jm_ctx_t *ctx, const char *type,
                            const void *data, apr_size_t len, apr_pool_t *p);

/** Bytes and media type (ptype may be NULL) of a blob or message part;
 *  APR_NOTFOUND if the account has no such blob. */
apr_status_t jm_blob_fetch(const unsigned char **pdata, apr_size_t *plen,
                           const char **ptype, jm_ctx_t *ctx,
                           const char *blob_id, apr_pool_t *p);

#endif
