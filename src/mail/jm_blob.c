/* Blob storage and lookup. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_blob.h"
#include "store/jm_store.h"
#include "mime/jm_mime.h"
#include "core/jm_util.h"

const char *jm_blob_id_for(const void *data, apr_size_t len, apr_pool_t *p)
{
    return apr_pstrcat(p, "G", jm_util_sha256_hex(data, len, p), NULL);
}

apr_status_t jm_blob_upload(json_t **presp, jm_ctx_t *ctx, const char *type,
                            const void *data, apr_size_t len, apr_pool_t *p)
{
    const char *id = jm_blob_id_for(data, len, p);
    apr_status_t rv;

    if (APR_SUCCESS != (rv = jm_store_blob_put(ctx->db, ctx->account->id, id,
                                               type, data, len, p))) {
        return rv;
    }
    *presp = json_pack("{s:s, s:s, s:s, s:I}", "accountId", ctx->account->id,
                       "blobId", id, "type", type, "size", (json_int_t)len);
    return APR_SUCCESS;
}

int jm_blob_is_part(const char *blob_id)
{
    return strchr(blob_id, '_') != NULL;
}

apr_status_t jm_blob_stat(apr_int64_t *psize, const char **ptype,
                          jm_ctx_t *ctx, const char *blob_id, apr_pool_t *p)
{
    if (!jm_util_is_valid_id(blob_id) || jm_blob_is_part(blob_id)) {
        return APR_NOTFOUND;
    }
    return jm_store_blob_info(psize, ptype, ctx->db, ctx->account->id, blob_id, p);
}

apr_status_t jm_blob_stream(jm_ctx_t *ctx, const char *blob_id,
                            apr_int64_t size, jm_store_chunk_fn *fn,
                            void *baton, apr_pool_t *p)
{
    return jm_store_blob_read(ctx->db, ctx->account->id, blob_id, size, fn,
                              baton, p);
}

/* depth: how many part levels may still be cut ("<blob>_2_1" is part 1 of
 * the message that is part 2 of blob: Email/parse of a part blob names its
 * own parts so), bounded by the nesting limit. */
static apr_status_t fetch(const unsigned char **pdata, apr_size_t *plen,
                          const char **ptype, jm_ctx_t *ctx, const char *blob_id,
                          int depth, apr_pool_t *p)
{
    const char *sep, *part_id;
    const unsigned char *raw;
    apr_size_t rawlen;
    apr_status_t rv;

    sep = strrchr(blob_id, '_');
    if (!sep) {
        return jm_store_blob_get(pdata, plen, ptype, ctx->db, ctx->account->id,
                                 blob_id, p);
    }
    if (depth <= 0) {
        return APR_NOTFOUND;
    }
    /* a part of a stored message: parse the message, cut the part out */
    rv = fetch(&raw, &rawlen, NULL, ctx, apr_pstrndup(p, blob_id, sep - blob_id),
               depth - 1, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    part_id = sep + 1;
    return jm_mime_part_content((const char **)pdata, plen, ptype,
                                (const char *)raw, rawlen, part_id,
                                ctx->budget.mime_depth_max, p);
}

apr_status_t jm_blob_fetch(const unsigned char **pdata, apr_size_t *plen,
                           const char **ptype, jm_ctx_t *ctx,
                           const char *blob_id, apr_pool_t *p)
{
    if (!jm_util_is_valid_id(blob_id)) {
        return APR_NOTFOUND;
    }
    return fetch(pdata, plen, ptype, ctx, blob_id,
                 ctx->budget.mime_depth_max > 0 ? ctx->budget.mime_depth_max : 1, p);
}
