/* One push: an HTTP POST to a push service (RFC 8030 §5) with libcurl. */
#ifndef JM_PUSH_SEND_H
#define JM_PUSH_SEND_H

#include "push/jm_webpush.h"
#include "push/jm_push_target.h"

/** Process-wide libcurl set-up; once, before threads (post_config). */
void jm_push_global_init(void);

/**
 * POST body to t (checked and resolved: the request goes only to the
 * addresses in t->resolve, over https, verified against conf->ca_file or
 * the system's store, no redirects), with Content-Type application/json,
 * TTL (RFC 8030 §5.2), Content-Encoding aes128gcm when encrypted and the
 * VAPID Authorization (RFC 8292 §3) when a key is configured. *pstatus =
 * the HTTP status, 0 when no answer came (*perr says why).
 */
apr_status_t jm_push_post(int *pstatus, const char **perr, const jm_push_conf_t *conf,
                          const jm_push_target_t *t, const void *body, apr_size_t len,
                          int encrypted, apr_pool_t *p);

#endif
