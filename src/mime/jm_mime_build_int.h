/* Internals of the build side of jm_mime (RFC 8621 §4.6 Email/set create
 * → message), shared by its files: jm_mime.c (the context, top-level
 * properties, assembling the message), jm_mime_hdr_enc.c (header values,
 * one encoder per form), jm_mime_part.c (EmailBodyPart → GMime entity,
 * blob content) and jm_mime_flat.c (textBody/htmlBody/attachments).
 * Not for other callers: the contract is jm_mime.h.
 */
#ifndef JM_MIME_BUILD_INT_H
#define JM_MIME_BUILD_INT_H

#include <apr_hash.h>
#include "mime/jm_mime_int.h"

/* The state of one jm_mime_build: errors are collected here, the first
 * invalid property ends the build. */
typedef struct {
    apr_pool_t *p;
    json_t *body_values;
    jm_blob_fetch_fn *fetch;
    void *fetch_ctx;
    json_t *props;              /* invalidProperties collected */
    const char *desc;           /* first description */
    json_t *not_found;          /* blobNotFound collected */
    apr_status_t fail;          /* server failure (not a SetError) */
    apr_hash_t *top_seen;       /* lower-case name → property that set it */
    apr_array_header_t *hdrs;   /* jm_hdr_t */
    const jm_mime_limits_t *lim;
    apr_hash_t *blobs;          /* blob id → fetched_t: each fetched once */
    apr_size_t attached;        /* unencoded bytes of blob parts so far */
    int recipients;             /* To/Cc/Bcc addresses so far */
    const char *too_large;      /* tooLarge description, once over the limit */
} bctx_t;

/* Where a body part sits: its default type, whether it is the root entity
 * (its header fields then share the Email's scope), its nesting depth. */
typedef struct {
    const char *default_type;
    int is_root;
    int depth;          /* of this part: the root entity is 1 */
} part_opts_t;

/* jm_mime.c */

/** Record path as an invalid property (description: the first one);
 *  returns APR_EINVAL. */
apr_status_t jm_mb_invalid(bctx_t *b, const char *path, const char *desc);

/** 1 if s is one of the NULL-terminated list. */
int jm_mb_in_list(const char *const *list, const char *s);

/* jm_mime_hdr_enc.c */

int jm_mb_has_crlf(const char *s);

/** A token without spaces, controls or angle brackets, at most 900 octets
 *  (msg-ids, URLs, cid, location, disposition). */
int jm_mb_valid_msgid(const char *s);

/** The raw value (leading space included) of a header:Name:asRaw value;
 *  NULL after jm_mb_invalid. */
const char *jm_mb_enc_raw(bctx_t *b, const char *path, const char *name,
                          json_t *v);

/** Encode one header property value in form (all: an array of instances)
 *  and push its raw values (const char*) to out; null adds nothing. */
apr_status_t jm_mb_enc_prop(apr_array_header_t *out, bctx_t *b, const char *path,
                            const char *name, int form, int all, json_t *v);

/** The "headers" property (EmailHeader[]) into out (jm_hdr_t); on_part
 *  allows the MIME structural fields. */
apr_status_t jm_mb_headers_prop(bctx_t *b, json_t *arr, apr_hash_t *seen,
                                const char *path, int on_part,
                                apr_array_header_t *out);

char *jm_mb_lower(const char *s, apr_pool_t *p);

/** Record that property prop sets header name in scope seen: -1 if another
 *  property already did (RFC 8621 §4.6). */
int jm_mb_claim(apr_hash_t *seen, const char *name, const char *prop,
                apr_pool_t *p);

int jm_mb_is_content_field(const char *name);

/* jm_mime_part.c */

/** An EmailBodyPart as a GMime entity (new reference), or NULL: after
 *  jm_mb_invalid, a server failure (b->fail), tooLarge, or with its blob
 *  id added to b->not_found (the caller goes on collecting those). */
GMimeObject *jm_mb_build_part(bctx_t *b, json_t *j, const char *path,
                              const part_opts_t *po);

/** Content of a leaf; textual: 7bit/QP/base64 as fits, else base64. */
void jm_mb_set_part_content(GMimePart *part, const void *data, apr_size_t len,
                            int textual);

/* jm_mime_flat.c */

/** textBody, htmlBody and attachments as one entity (RFC 8621 §4.6). */
GMimeObject *jm_mb_build_flat(bctx_t *b, json_t *create);

/** bodyValues: EmailBodyValue objects with string values, no flags set. */
apr_status_t jm_mb_check_body_values(bctx_t *b, json_t *bv);

#endif
