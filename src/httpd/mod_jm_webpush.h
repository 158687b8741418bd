/* Push glue: the JMAPPush* directives and the mod_watchdog worker that
 * sends push messages (src/push). */
#ifndef MOD_JM_WEBPUSH_H
#define MOD_JM_WEBPUSH_H

#include <httpd.h>
#include <http_config.h>
#include "push/jm_webpush.h"

/** As configured; numbers -1 and pointers NULL when unset. */
typedef struct {
    long max_subscriptions, max_create_per_hour, max_expiry, connect_timeout, timeout;
    long ttl, batch;
    long retry_max;
    int allow_private;
    const char *ca_file;
    const char *vapid_file;
    EVP_PKEY *vapid_key;
    const char *vapid_subject;
    jm_push_conf_t eff;             /**< resolved (jm_push_config_resolve) */
} jm_push_srv_conf_t;

void jm_push_config_init(jm_push_srv_conf_t *c);
void jm_push_config_merge(jm_push_srv_conf_t *out, const jm_push_srv_conf_t *base,
                          const jm_push_srv_conf_t *add);
void jm_push_config_resolve(jm_push_srv_conf_t *c, apr_pool_t *p);

const char *jm_push_set_number(cmd_parms *cmd, void *d, const char *arg);
const char *jm_push_set_private(cmd_parms *cmd, void *d, int on);
const char *jm_push_set_ca(cmd_parms *cmd, void *d, const char *arg);
const char *jm_push_set_vapid_key(cmd_parms *cmd, void *d, const char *arg);
const char *jm_push_set_vapid_subject(cmd_parms *cmd, void *d, const char *arg);

#define JM_PUSH_OFF(f) (void *)APR_OFFSETOF(jm_push_srv_conf_t, f)
#define JM_PUSH_NUMBER(name, field, help) \
    AP_INIT_TAKE1(name, jm_push_set_number, JM_PUSH_OFF(field), RSRC_CONF, help)
/** post_config: register the worker with mod_watchdog (a singleton per
 *  server instance). OK also without mod_watchdog (logged: no pushes). */
int jm_push_post_config(apr_pool_t *pconf, server_rec *s);

/** child_init: a child that exits waits for the push tick it is running
 *  (before mod_dbd's connections go). */
void jm_webpush_child_init(apr_pool_t *pchild);

#endif
