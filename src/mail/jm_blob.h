/* Blobs (RFC 8620 §6): upload, download, ids. A blob id is "G" + the
 * SHA-256 of the bytes, per account; "<blobId>_<partId>" names one part of
 * a stored message (RFC 8621 §4.1.4 EmailBodyPart.blobId). */
#ifndef JM_BLOB_H
#define JM_BLOB_H

#include "core/jm_request.h"
#include "store/jm_store.h"

/** The blob id for these bytes. */
const char *jm_blob_id_for(const void *data, apr_size_t len, apr_pool_t *p);

/** Blob/copy (RFC 8620 §6.3). */
apr_status_t jm_blob_copy(jm_call_t *call);

/** Store uploaded bytes; *presp is the RFC 8620 §6.1 response object. */
apr_status_t jm_blob_upload(json_t **presp, jm_ctx_t *ctx, const char *type,
                            const void *data, apr_size_t len, apr_pool_t *p);

/** 1 if blob_id names a part of a stored message ("<blobId>_<partId>"). */
int jm_blob_is_part(const char *blob_id);

/** Size and media type of a whole stored blob (not a part), to stream it
 *  with jm_blob_stream; APR_NOTFOUND if the account has no such blob. */
apr_status_t jm_blob_stat(apr_int64_t *psize, const char **ptype,
                          jm_ctx_t *ctx, const char *blob_id, apr_pool_t *p);

/** The size bytes of a whole stored blob to fn, one stored chunk at a time
 *  (memory independent of the blob's size; see jm_store_blob_read). */
apr_status_t jm_blob_stream(jm_ctx_t *ctx, const char *blob_id,
                            apr_int64_t size, jm_store_chunk_fn *fn,
                            void *baton, apr_pool_t *p);

/** Bytes and media type (ptype may be NULL) of a blob or message part, in
 *  memory (a part is cut out of its parsed message, so this holds the
 *  whole message; "<blobId>_<partId>_<partId>" is a part of a message
 *  that is itself a part, as Email/parse of a part blob names them);
 *  APR_NOTFOUND if the account has no such blob. */
apr_status_t jm_blob_fetch(const unsigned char **pdata, apr_size_t *plen,
                           const char **ptype, jm_ctx_t *ctx,
                           const char *blob_id, apr_pool_t *p);

#endif
