/* GMime-level internals shared by the build side (jm_mime_build_int.h),
 * jm_mime_read.c, jm_mime_headers.c and jm_smime.c. Not for other callers: the public
 * contracts are jm_mime.h and, for reading, jm_mime_read.h.
 */
#ifndef JM_MIME_INT_H
#define JM_MIME_INT_H

#include <gmime/gmime.h>
#include "mime/jm_mime.h"
#include "mime/jm_mime_read.h"

struct jm_mime_msg_t {
    apr_array_header_t *hdrs;   /**< jm_hdr_t: top-level non-structural fields */
    const char *data;           /**< the whole message, CRLF */
    apr_size_t len;
    GMimeObject *body;          /**< the root entity (pool-owned); jm_smime
                                 *   encodes it in place */
    GMimeMessage *gmsg;         /**< data parsed, on demand (jm_mime_gmime) */
};

/** Format options with CRLF newlines (built once by global init). */
GMimeFormatOptions *jm_mime_fmt(void);

/** Tie a GObject to a pool (g_object_unref on cleanup); returns obj. */
void *jm_mime_own(void *gobj, apr_pool_t *p);

/** Serialise a GMime object with CRLF line ends into pool memory. */
const char *jm_mime_obj_bytes(apr_size_t *plen, GMimeObject *obj, apr_pool_t *p);

/** Parse bytes into a GMimeMessage owned by p; NULL on failure. */
GMimeMessage *jm_mime_parse_bytes(const char *data, apr_size_t len, apr_pool_t *p);

/** Raw value of a parsed header without its terminating newline. */
const char *jm_mime_hdr_raw(GMimeHeader *h, apr_pool_t *p);

/** Decoded content of a leaf (transfer encoding removed). */
const char *jm_mime_leaf_bytes(apr_size_t *plen, GMimeObject *leaf, apr_pool_t *p);

/** Wrap stored bytes as a jm_mime_msg_t (for protecting a stored draft). */
apr_status_t jm_mime_msg_from_bytes(jm_mime_msg_t **pmsg, const char *data,
                                    apr_size_t len, apr_pool_t *p);

/** Fill msg->hdrs from a parsed header section (content fields and
 *  MIME-Version left out). */
void jm_mime_msg_read_hdrs(jm_mime_msg_t *msg, GMimeObject *parsed, apr_pool_t *p);

/** Remove every header field of obj but Content-* (a root entity about to
 *  be wrapped: the message-level fields are written by the caller). */
void jm_mime_keep_content_fields(GMimeObject *obj);

#endif
