/* EmailSubmission glue: the JMAPSubmission* directives, and the queue
 * worker as a mod_watchdog callback (the idiom of mod_md's
 * mod_md_drive.c): a singleton watchdog, so one process of this httpd
 * works on the queue, once a second; several httpd (nodes) on one
 * database share the work through the queue's claims. The worker sends
 * through the main server's relay settings and works on the main
 * server's database: relay directives (URL, STARTTLS, CA file, AUTH,
 * timeouts, retry time) are refused in a <VirtualHost>; the limits
 * (recipients, delayed send, message size) may differ per server. */
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_optional.h>
#include <apr_atomic.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include <mod_watchdog.h>
#include "httpd/mod_jm_submit.h"
#include "httpd/mod_jm_config.h"
#include "httpd/mod_jm_dbd.h"

#define WATCHDOG_NAME "_jmap_submission_"

/* Defaults (documented in conf.d/jmap_smime.conf). */
#define DEFAULT_CONNECT_TIMEOUT 30
#define SUBMIT_DEFAULT_TIMEOUT         300
#define DEFAULT_RETRY_TIME      432000      /* 5 days, RFC 5321 §4.5.4.1 */
#define DEFAULT_MAX_RCPTS       100         /* RFC 5321 §4.5.3.1.8 */
#define DEFAULT_MAX_DELAYED     86400
#define DEFAULT_MAX_SIZE        50000000

/* The lease owner of this process's worker: set in child_init, read after. */
static const char *worker_owner;

/* The worker of this configuration (post_config; pconf lives as long). */
typedef struct {
    server_rec *s;
    volatile apr_uint32_t busy;     /* a pass is running */
    volatile apr_uint32_t stopping; /* the child is exiting (wait_for_pass) */
} submit_job_t;

static submit_job_t *submit_job;

static jm_submit_conf_t *conf_of(cmd_parms *cmd)
{
    return &jm_config_get(cmd->server)->submit;
}

static const char *main_only(cmd_parms *cmd)
{
    return cmd->server->is_virtual
        ? apr_psprintf(cmd->pool, "%s: the queue worker sends through the main "
                       "server's relay; set it outside <VirtualHost>",
                       cmd->cmd->name)
        : NULL;
}

const char *jm_submit_set_url(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = main_only(cmd);
    apr_uri_t u;

    (void)d;
    if (err) {
        return err;
    }
    if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme
        || !u.hostname || (strcasecmp(u.scheme, "smtp") && strcasecmp(u.scheme, "smtps"))
        || u.user || u.query || u.fragment || (u.path && *u.path && strcmp(u.path, "/"))) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionURL: \"%s\" is not "
                            "smtp://host[:port] or smtps://host[:port] (credentials "
                            "go into JMAPSubmissionAuthFile)", arg);
    }
    conf_of(cmd)->url = arg;
    return NULL;
}

const char *jm_submit_set_starttls(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = main_only(cmd);

    (void)d;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "required")) {
        conf_of(cmd)->starttls = JM_SMTP_TLS_REQUIRED;
    }
    else if (!strcasecmp(arg, "optional")) {
        conf_of(cmd)->starttls = JM_SMTP_TLS_OPTIONAL;
    }
    else if (!strcasecmp(arg, "off")) {
        conf_of(cmd)->starttls = JM_SMTP_TLS_OFF;
    }
    else {
        return "JMAPSubmissionStartTLS: required, optional or off";
    }
    return NULL;
}

/* Read as root at startup; a file others may read is refused (the
 * password would be anyone's). One line: user:password. */
const char *jm_submit_set_auth_file(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = main_only(cmd), *file = ap_server_root_relative(cmd->pool, arg);
    jm_submit_conf_t *c = conf_of(cmd);
    apr_finfo_t fi;
    apr_file_t *f;
    char line[1024], *colon;
    apr_size_t n;
    char ebuf[120];
    apr_status_t rv;

    (void)d;
    if (err) {
        return err;
    }
    if (!file || (rv = apr_stat(&fi, file, APR_FINFO_PROT | APR_FINFO_TYPE,
                                cmd->temp_pool)) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionAuthFile: cannot read %s: %s",
                            arg, file ? apr_strerror(rv, ebuf, sizeof(ebuf)) : "bad path");
    }
    if (fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionAuthFile: %s is not a file", arg);
    }
    if (fi.protection & (APR_WREAD | APR_WWRITE)) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionAuthFile: %s is readable by "
                            "all users: chmod 0600 (or 0640 root:root) it", arg);
    }
    if ((rv = apr_file_open(&f, file, APR_FOPEN_READ, 0, cmd->temp_pool))
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionAuthFile: cannot read %s: %s",
                            arg, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    n = sizeof(line) - 1;
    rv = apr_file_read(f, line, &n);
    apr_file_close(f);
    line[rv == APR_SUCCESS ? n : 0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (!(colon = strchr(line, ':')) || colon == line) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionAuthFile: %s must hold one "
                            "line user:password", arg);
    }
    *colon = '\0';
    c->user = apr_pstrdup(cmd->pool, line);
    c->password = apr_pstrdup(cmd->pool, colon + 1);
    memset(line, 0, sizeof(line));
    return NULL;
}

/* The CAs that verify the relay's certificate (PEM, for CURLOPT_CAINFO):
 * a readable regular file holding a certificate. It is read again by
 * libcurl in the worker, as httpd's User: child_init checks that. */
const char *jm_submit_set_ca_file(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = main_only(cmd), *file = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    apr_file_t *f;
    char *buf;
    apr_size_t n = 65536;
    char ebuf[120];
    apr_status_t rv;

    (void)d;
    if (err) {
        return err;
    }
    if (!file || (rv = apr_stat(&fi, file, APR_FINFO_TYPE, cmd->temp_pool))
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionCAFile: cannot read %s: %s",
                            arg, file ? apr_strerror(rv, ebuf, sizeof(ebuf)) : "bad path");
    }
    if (fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionCAFile: %s is not a file", arg);
    }
    if ((rv = apr_file_open(&f, file, APR_FOPEN_READ, 0, cmd->temp_pool))
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionCAFile: cannot read %s: %s",
                            arg, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    buf = apr_palloc(cmd->temp_pool, n + 1);
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionCAFile: cannot read %s: %s",
                            arg, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    buf[n] = '\0';
    if (!strstr(buf, "-----BEGIN CERTIFICATE-----")) {
        return apr_psprintf(cmd->pool, "JMAPSubmissionCAFile: %s holds no PEM "
                            "certificate (-----BEGIN CERTIFICATE-----)", arg);
    }
    conf_of(cmd)->ca_file = file;
    return NULL;
}

/* cmd->info: offset of a long in jm_submit_conf_t. The relay's timeouts
 * and retry time are the main server's; 0 is allowed for
 * maxDelayedSend only. */
const char *jm_submit_set_number(cmd_parms *cmd, void *d, const char *arg)
{
    size_t off = (size_t)cmd->info;
    int zero_ok = off == APR_OFFSETOF(jm_submit_conf_t, max_delayed);
    int relay = off == APR_OFFSETOF(jm_submit_conf_t, connect_timeout)
        || off == APR_OFFSETOF(jm_submit_conf_t, timeout)
        || off == APR_OFFSETOF(jm_submit_conf_t, retry_time);
    const char *err = relay ? main_only(cmd) : NULL;
    char *end;
    apr_int64_t v;

    (void)d;
    if (err) {
        return err;
    }
    v = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || v < (zero_ok ? 0 : 1) || v > 2000000000) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a %s integer",
                            cmd->cmd->name, arg, zero_ok ? "non-negative" : "positive");
    }
    *(long *)((char *)conf_of(cmd) + off) = (long)v;
    return NULL;
}

void jm_submit_conf_init(jm_submit_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->starttls = -1;
    c->connect_timeout = c->timeout = c->retry_time = -1;
    c->max_rcpts = c->max_delayed = c->max_size = -1;
}

#define M_PTR(f) out->f = add->f ? add->f : base->f
#define M_NUM(f) out->f = add->f != -1 ? add->f : base->f

void jm_submit_conf_merge(jm_submit_conf_t *out, const jm_submit_conf_t *base,
                          const jm_submit_conf_t *add)
{
    M_PTR(url);
    M_NUM(starttls);
    M_PTR(user);
    M_PTR(password);
    M_PTR(ca_file);
    M_NUM(connect_timeout);
    M_NUM(timeout);
    M_NUM(retry_time);
    M_NUM(max_rcpts);
    M_NUM(max_delayed);
    M_NUM(max_size);
}

#define D_NUM(f, v) if (c->f == -1) c->f = (v)

void jm_submit_conf_resolve(jm_submit_conf_t *c)
{
    /* smtp:// with no TLS asked: take it when the relay offers it */
    D_NUM(starttls, JM_SMTP_TLS_OPTIONAL);
    D_NUM(connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    D_NUM(timeout, SUBMIT_DEFAULT_TIMEOUT);
    D_NUM(retry_time, DEFAULT_RETRY_TIME);
    D_NUM(max_rcpts, DEFAULT_MAX_RCPTS);
    D_NUM(max_delayed, DEFAULT_MAX_DELAYED);
    D_NUM(max_size, DEFAULT_MAX_SIZE);
}

/* Once a second in one process: passes until the queue has nothing due. */
static apr_status_t worker(int state, void *baton, apr_pool_t *ptemp)
{
    submit_job_t *job = baton;
    jm_srv_conf_t *sc = jm_config_get(job->s);
    apr_pool_t *p;
    jm_db_t *db;
    int n, rounds = 0;

    if (state != AP_WATCHDOG_STATE_RUNNING || !worker_owner
        || apr_atomic_cas32(&job->busy, 1, 0) != 0) {
        return APR_SUCCESS;
    }
    /* busy first, then stopping: wait_for_pass sets them the other way
     * round, so either it sees this pass or this pass sees the stop */
    if (apr_atomic_read32(&job->stopping)) {
        apr_atomic_set32(&job->busy, 0);
        return APR_SUCCESS;
    }
    apr_pool_create(&p, ptemp);
    if (jm_dbd_open(&db, job->s, p) == APR_SUCCESS) {
        /* a full batch means more may be due; bounded so a stop is heard */
        do {
            apr_pool_t *round;
            apr_pool_create(&round, p);
            n = jm_submit_run_once(db, &sc->submit, worker_owner, &job->stopping,
                                   round);
            apr_pool_destroy(round);
        } while (n >= 10 && ++rounds < 100 && !apr_atomic_read32(&job->stopping));
    }
    apr_pool_destroy(p);
    apr_atomic_set32(&job->busy, 0);
    return APR_SUCCESS;
}

/* A pre-cleanup of the child's pool. mod_watchdog runs the worker on a
 * thread it never joins in a child, so without this the child's pool
 * (mod_dbd's connections, libcurl's global state) would be destroyed under
 * a pass that is still sending or recording. A session that has sent
 * nothing of its message ends at once (jm_smtp_send's stop); one that has
 * is waited for, bounded by the relay's timeouts. */
static apr_status_t wait_for_pass(void *data)
{
    submit_job_t *job = data;
    const jm_submit_conf_t *c = &jm_config_get(job->s)->submit;
    apr_time_t end = apr_time_now()
        + apr_time_from_sec(c->connect_timeout + c->timeout + 5);

    apr_atomic_set32(&job->stopping, 1);
    while (apr_atomic_read32(&job->busy) && apr_time_now() < end) {
        apr_sleep(apr_time_from_msec(10));
    }
    if (apr_atomic_read32(&job->busy)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, JMLOGNO_GLUE(01195)
                     "the submission worker did not end within "
                     "JMAPSubmissionConnectTimeout + JMAPSubmissionTimeout + 5 s "
                     "of the stop; the process exits anyway (what it was sending "
                     "is sent again when its lease runs out)");
    }
    return APR_SUCCESS;
}

int jm_submit_post_config(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    jm_srv_conf_t *sc = jm_config_get(s);
    submit_job_t *job;
    ap_watchdog_t *wd;
    apr_status_t rv;

    submit_job = NULL;              /* the last configuration's is gone */
    if (!sc->submit.url) {
        return OK;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_cb) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, JMLOGNO_GLUE(01190)
                     "JMAPSubmissionURL needs mod_watchdog (it runs the "
                     "submission queue); load it");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    job = apr_pcalloc(pconf, sizeof(*job));
    job->s = s;
    if ((rv = get_instance(&wd, WATCHDOG_NAME, 0, 1, pconf)) != APR_SUCCESS
        || (rv = register_cb(wd, AP_WD_TM_INTERVAL, job, worker)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, JMLOGNO_GLUE(01191)
                     "cannot set up the submission queue worker (mod_watchdog)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, JMLOGNO_GLUE(01192)
                 "submission queue: relay %s, retry for %ld s", sc->submit.url,
                 sc->submit.retry_time);
    submit_job = job;
    return OK;
}

static apr_status_t curl_done(void *d)
{
    (void)d;
    jm_submit_global_cleanup();
    return APR_SUCCESS;
}

void jm_submit_child_init(apr_pool_t *pchild, server_rec *s)
{
    jm_srv_conf_t *sc = jm_config_get(s);
    char host[256] = "";

    if (jm_submit_global_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, JMLOGNO_GLUE(01193)
                     "libcurl did not initialise: no submission is sent");
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, curl_done, apr_pool_cleanup_null);
    if (submit_job) {
        apr_pool_pre_cleanup_register(pchild, submit_job, wait_for_pass);
    }
    /* child_init runs as httpd's User: libcurl will read the file so */
    if (sc->submit.url && sc->submit.ca_file && access(sc->submit.ca_file, R_OK)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, JMLOGNO_GLUE(01194)
                     "JMAPSubmissionCAFile %s is not readable by httpd's User: "
                     "the relay's certificate cannot be verified and no "
                     "submission is sent until it is", sc->submit.ca_file);
    }
    apr_gethostname(host, sizeof(host) - 1, pchild);
    /* unique among the workers of every node on the database */
    worker_owner = apr_psprintf(pchild, "%s/%" APR_PID_T_FMT "/%" APR_TIME_T_FMT,
                                host, getpid(), apr_time_now());
}
