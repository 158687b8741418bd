/* The Session resource (RFC 8620 §2). */
#ifndef JM_SESSION_H
#define JM_SESSION_H

#include "core/jm_request.h"

/**
 * Build the session object for ctx->account.
 * @param base_url  public scheme://host[:port] (no trailing slash)
 * @param path      URL path of the JMAP resources ("/jmap")
 * The "state" is a digest of everything else in the object, so it changes
 * exactly when the session does.
 */
json_t *jm_session_build(const jm_ctx_t *ctx, const char *base_url,
                         const char *path, apr_pool_t *p);

/** Just the state string (for sessionState in API responses). */
const char *jm_session_state(const jm_ctx_t *ctx, const char *base_url,
                             const char *path, apr_pool_t *p);

#endif
