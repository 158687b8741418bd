/* mod_jmap_smime: JMAP (RFC 8620/8621) with S/MIME signing and encryption
 * on the user's behalf (draft-ietf-jmap-smime-sender-extensions).
 *
 * Module glue only: directives, hooks, handler registration. Everything
 * else lives in src/ (jm_* = httpd-independent core, mod_jm_* = glue). */
#define JM_MODULE_MAIN
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_connection.h>
#include <ap_mpm.h>
#include "httpd/mod_jm_private.h"
#include "httpd/mod_jm_config.h"
#include "httpd/mod_jm_http.h"
#include "httpd/mod_jm_dbd.h"
#include "httpd/mod_jm_limits.h"
#include "httpd/mod_jm_lmtp.h"
#include "httpd/mod_jm_push.h"
#include "httpd/mod_jm_webpush.h"
#include "httpd/mod_jm_submit.h"
#include "core/jm_log.h"
#include "store/jm_db.h"
#include "mime/jm_mime.h"
#include "directory/jm_certdir.h"

/* The server core messages are logged against; set in post_config, before
 * any child exists, and only read afterwards. */
static server_rec *log_server;

static void log_print(const char *file, int line, jm_log_level_t level,
                      apr_status_t rv, const char *msg, apr_pool_t *p)
{
    (void)p;
    if (log_server) {
        ap_log_error_(file, line, APLOG_MODULE_INDEX, (int)level, rv, log_server,
                      "%s", msg);
    }
}

static int log_is_level(jm_log_level_t level)
{
    return log_server ? APLOG_IS_LEVEL(log_server, (int)level) : level <= JM_LOG_WARNING;
}

static int jm_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return jm_dbd_pre_config(pconf);
}

static int jm_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    server_rec *sp;
    const char *err = NULL;
    int rc;

    (void)plog;
    log_server = s;
    jm_log_set(log_print, log_is_level);
    /* httpd reads its configuration twice at startup: work on the real run */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (sp = s; sp; sp = sp->next) {
        jm_srv_conf_t *sc = jm_config_get(sp);
        jm_config_resolve(sc);
        jm_push_config_resolve(&sc->push, pconf);
        if (sc->dir.url && jm_certdir_check_conf(&sc->dir, &err, ptemp) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, sp, JMLOGNO_GLUE(01201)
                         "certificate directory configuration: %s",
                         err ? err : "invalid");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    jm_limits_init(pconf, s);
    /* the migration may index stored messages (GMime); children inherit
     * the set-up, child_init's call then finds it done */
    jm_mime_global_init();
    if ((rc = jm_dbd_migrate_all(pconf, ptemp, s)) != OK
        || (rc = jm_dbd_write_lock_create(pconf, s)) != OK
        || (rc = jm_push_post_config(pconf, s)) != OK
        || (rc = jm_submit_post_config(pconf, s)) != OK) {
        return rc;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, JMLOGNO_GLUE(01202)
                 "mod_jmap_smime %s ready", "0.1.0");
    return OK;
}

/* Per-process objects: GMime, and one certificate directory client (cache,
 * LDAP connections) per distinct directory configuration. */
static void jm_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sp;
    const char *err = NULL;

    jm_mime_global_init();
    jm_limits_child_init(s);
    jm_push_child_init(pchild, s);
    jm_webpush_child_init(pchild);
    jm_submit_child_init(pchild, s);
    if (jm_db_process_init(pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, JMLOGNO_GLUE(01204)
                     "cannot create the store's write lock");
    }
    jm_dbd_child_init(pchild, s);
    for (sp = s; sp; sp = sp->next) {
        jm_srv_conf_t *sc = jm_config_get(sp), *main_sc = jm_config_get(s);
        if (!sc->dir.url) {
            continue;
        }
        if (sp != s && main_sc->certdir && sc->dir.url == main_sc->dir.url
            && sc->dir.base == main_sc->dir.base
            && sc->dir.trust_files == main_sc->dir.trust_files) {
            sc->certdir = main_sc->certdir;     /* inherited unchanged */
            continue;
        }
        if (jm_certdir_create(&sc->certdir, &sc->dir, &err, pchild) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, JMLOGNO_GLUE(01203)
                         "cannot set up the certificate directory: %s; "
                         "encryption will fail", err ? err : "unknown error");
            sc->certdir = NULL;
        }
    }
}

static void jm_optional_fns(void)
{
    jm_dbd_retrieve_fns();
}

static void jm_register_hooks(apr_pool_t *p)
{
    static const char *const after_dbd[] = { "mod_dbd.c", NULL };

    (void)p;
    jm_limits_register_hooks();
    ap_hook_pre_config(jm_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(jm_post_config, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(jm_child_init, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(jm_limits_child_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(jm_optional_fns, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(jm_http_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* before the HTTP protocol's (APR_HOOK_REALLY_LAST) */
    ap_hook_process_connection(jm_lmtp_process_connection, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(jmap_smime) = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* per-directory config: none */
    NULL,
    jm_config_create_srv,
    jm_config_merge_srv,
    jm_config_cmds,
    jm_register_hooks,
    AP_MODULE_FLAG_NONE
};
