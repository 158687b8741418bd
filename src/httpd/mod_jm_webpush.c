/* Push glue: JMAPPush* directives and the mod_watchdog worker. */
#include <string.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include <http_log.h>
#include <mod_watchdog.h>
#include <openssl/pem.h>
#include "httpd/mod_jm_config.h"
#include "httpd/mod_jm_webpush.h"
#include "httpd/mod_jm_dbd.h"
#include "push/jm_push_crypto.h"
#include "push/jm_push_send.h"

/* the worker's period: often enough that a push follows a change within
 * half a second (RFC 8620 §7.2.2: the verification "immediately") */
#define PUSH_TICK apr_time_from_msec(250)

void jm_push_config_init(jm_push_srv_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->max_subscriptions = c->max_create_per_hour = -1;
    c->max_expiry = c->connect_timeout = c->timeout = -1;
    c->ttl = c->batch = c->retry_max = -1;
    c->allow_private = -1;
}

#define PMERGE_NUM(f) out->f = add->f != -1 ? add->f : base->f
#define PMERGE_PTR(f) out->f = add->f ? add->f : base->f

void jm_push_config_merge(jm_push_srv_conf_t *out, const jm_push_srv_conf_t *base,
                          const jm_push_srv_conf_t *add)
{
    PMERGE_NUM(max_subscriptions);
    PMERGE_NUM(max_create_per_hour);
    PMERGE_NUM(max_expiry);
    PMERGE_NUM(connect_timeout);
    PMERGE_NUM(timeout);
    PMERGE_NUM(ttl);
    PMERGE_NUM(batch);
    PMERGE_NUM(retry_max);
    PMERGE_NUM(allow_private);
    PMERGE_PTR(ca_file);
    PMERGE_PTR(vapid_file);
    PMERGE_PTR(vapid_key);
    PMERGE_PTR(vapid_subject);
}

void jm_push_config_resolve(jm_push_srv_conf_t *c, apr_pool_t *p)
{
    const jm_push_conf_t *d = jm_push_conf_default();
    unsigned char pub[JM_PUSH_PUBKEY_LEN];

    c->eff = *d;
    if (c->max_subscriptions != -1) c->eff.max_subscriptions = c->max_subscriptions;
    if (c->max_create_per_hour != -1) c->eff.max_create_per_hour = c->max_create_per_hour;
    if (c->max_expiry != -1) c->eff.max_expiry = c->max_expiry;
    if (c->connect_timeout != -1) c->eff.connect_timeout_ms = c->connect_timeout * 1000;
    if (c->timeout != -1) c->eff.timeout_ms = c->timeout * 1000;
    if (c->ttl != -1) c->eff.ttl = c->ttl;
    if (c->batch != -1) c->eff.batch = c->batch;
    if (c->retry_max != -1) c->eff.retry_max = c->retry_max;
    c->eff.allow_private = c->allow_private == 1;
    c->eff.ca_file = c->ca_file;
    c->eff.vapid_key = c->vapid_key;
    c->eff.vapid_subject = c->vapid_subject;
    c->eff.vapid_public = c->vapid_key && jm_push_pubkey_raw(c->vapid_key, pub)
        ? jm_push_b64url(pub, sizeof(pub), p) : NULL;
}

static jm_push_srv_conf_t *pconf_of(cmd_parms *cmd)
{
    return &jm_config_get(cmd->server)->push;
}

/* cmd->info: offset of a long in jm_push_srv_conf_t */
const char *jm_push_set_number(cmd_parms *cmd, void *d, const char *arg)
{
    long min = cmd->info == JM_PUSH_OFF(max_expiry) ? 172800 : 1;
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    (void)d;
    /* RFC 8620 §7.2: the maximum expiry "MUST be at least 48 hours" */
    if (!*arg || *end || v < min || v > 100000000) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a number from %ld",
                            cmd->cmd->name, arg, min);
    }
    *(long *)((char *)pconf_of(cmd) + (size_t)cmd->info) = (long)v;
    return NULL;
}

const char *jm_push_set_private(cmd_parms *cmd, void *d, int on)
{
    (void)d;
    pconf_of(cmd)->allow_private = on ? 1 : 0;
    return NULL;
}

const char *jm_push_set_ca(cmd_parms *cmd, void *d, const char *arg)
{
    apr_file_t *f;

    (void)d;
    if (apr_file_open(&f, arg, APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPPushCAFile: cannot read %s", arg);
    }
    apr_file_close(f);
    pconf_of(cmd)->ca_file = arg;
    return NULL;
}

/* a key with a passphrase is refused, never asked for on a terminal */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

static apr_status_t free_key(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

const char *jm_push_set_vapid_key(cmd_parms *cmd, void *d, const char *arg)
{
    FILE *f = fopen(arg, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, no_passphrase, NULL) : NULL;
    unsigned char pub[JM_PUSH_PUBKEY_LEN];
    char group[32] = "";
    size_t n = 0;

    (void)d;
    if (f) {
        fclose(f);
    }
    if (!k) {
        return apr_psprintf(cmd->pool, "JMAPPushVAPIDKey: cannot read a private key "
                            "(PEM, without a passphrase) from %s", arg);
    }
    apr_pool_cleanup_register(cmd->pool, k, free_key, apr_pool_cleanup_null);
    /* RFC 8292 §2: ES256, so a P-256 key */
    if (EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) != 1
        || (strcmp(group, "prime256v1") && strcmp(group, "P-256"))
        || !jm_push_pubkey_raw(k, pub)) {
        return apr_psprintf(cmd->pool, "JMAPPushVAPIDKey: %s is not a P-256 (prime256v1) "
                            "EC key", arg);
    }
    pconf_of(cmd)->vapid_file = arg;
    pconf_of(cmd)->vapid_key = k;
    return NULL;
}

const char *jm_push_set_vapid_subject(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    /* RFC 8292 §2.1: a mailto: or https: URI; it goes into a JSON string */
    if ((strncmp(arg, "mailto:", 7) && strncmp(arg, "https://", 8))
        || strpbrk(arg, "\"\\ \t")) {
        return "JMAPPushVAPIDSubject: a mailto: or https: URI";
    }
    pconf_of(cmd)->vapid_subject = arg;
    return NULL;
}

/* ---- the worker ---------------------------------------------------------- */

typedef struct {
    server_rec *s;
    jm_push_env_t env;
    volatile apr_uint32_t busy;     /* single flight: a tick is never re-entered */
    volatile apr_uint32_t stopping; /* the child is exiting (wait_for_tick) */
} push_job_t;

/* The worker of this configuration (post_config; pconf lives as long). */
static push_job_t *push_job;

static apr_status_t push_tick(int state, void *data, apr_pool_t *pool)
{
    push_job_t *job = data;
    apr_pool_t *tp;
    jm_db_t *db;
    apr_status_t rv;
    int done = 0;

    if (state != AP_WATCHDOG_STATE_RUNNING || apr_atomic_cas32(&job->busy, 1, 0) != 0) {
        return APR_SUCCESS;
    }
    /* busy first, then stopping: wait_for_tick sets them the other way
     * round, so either it sees this tick or this tick sees the stop */
    if (apr_atomic_read32(&job->stopping)) {
        apr_atomic_set32(&job->busy, 0);
        return APR_SUCCESS;
    }
    /* a connection for this tick only, back to mod_dbd's pool when the
     * tick's own pool goes (whatever mod_watchdog does with pool); no
     * transaction stays open across the HTTP requests */
    apr_pool_create(&tp, pool);
    if ((rv = jm_dbd_open(&db, job->s, tp)) == APR_SUCCESS) {
        rv = jm_push_tick(&done, db, &job->env, tp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, job->s, JMLOGNO_GLUE(01160)
                         "push worker: a tick failed");
        }
    }
    apr_pool_destroy(tp);
    apr_atomic_set32(&job->busy, 0);
    return APR_SUCCESS;
}

/* A pre-cleanup of the child's pool: mod_dbd's connection pool is destroyed
 * by a later cleanup and must not be while a tick still holds one of its
 * connections (apr_reslist asserts). The tick gives back what it has not
 * sent and ends after the send in flight, bounded by the push timeouts. */
static apr_status_t wait_for_tick(void *data)
{
    push_job_t *job = data;
    apr_time_t end = apr_time_now()
        + apr_time_from_msec(job->env.conf->connect_timeout_ms
                             + job->env.conf->timeout_ms + 2000);

    apr_atomic_set32(&job->stopping, 1);
    while (apr_atomic_read32(&job->busy) && apr_time_now() < end) {
        apr_sleep(apr_time_from_msec(10));
    }
    return APR_SUCCESS;
}

void jm_webpush_child_init(apr_pool_t *pchild)
{
    if (push_job) {
        apr_pool_pre_cleanup_register(pchild, push_job, wait_for_tick);
    }
}

int jm_push_post_config(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance
        = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *reg
        = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    jm_srv_conf_t *sc = jm_config_get(s);
    ap_watchdog_t *wd;
    push_job_t *job;
    apr_status_t rv;

    push_job = NULL;                /* the last configuration's is gone */
    if (!get_instance || !reg) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, JMLOGNO_GLUE(01161)
                     "mod_watchdog is not loaded: push subscriptions are kept but "
                     "nothing is pushed");
        return OK;
    }
    jm_push_global_init();
    /* parent 0: in the children; singleton: one child per server instance */
    if ((rv = get_instance(&wd, "jmap-push", 0, 1, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, JMLOGNO_GLUE(01162)
                     "cannot create the push watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    job = apr_pcalloc(pconf, sizeof(*job));
    job->s = s;
    job->env.conf = &sc->push.eff;
    job->env.shares = sc->shares;
    job->env.ro_users = sc->read_only_users;
    job->env.node = s->server_hostname;
    job->env.stop = &job->stopping;
    if ((rv = reg(wd, PUSH_TICK, job, push_tick)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, JMLOGNO_GLUE(01163)
                     "cannot register the push worker");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    push_job = job;
    return OK;
}
