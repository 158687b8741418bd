/* Connections come from mod_dbd's pool through its optional functions (no
 * link-time dependency on mod_dbd.so). mod_dbd only creates its pool in the
 * children, so the schema is migrated in post_config on a connection of our
 * own, opened with the DBDriver/DBDParams found in the configuration tree. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_dbd.h>
#include "httpd/mod_jm_private.h"
#include "httpd/mod_jm_config.h"
#include <http_config.h>
#include <mod_dbd.h>
#include <unixd.h>
#include <util_mutex.h>
#include "httpd/mod_jm_dbd.h"
#include "store/jm_schema.h"
#include "mail/jm_email_store.h"

/* Set once in the parent before children exist. */
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

void jm_dbd_retrieve_fns(void)
{
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

int jm_dbd_available(void)
{
    return dbd_acquire != NULL;
}

typedef struct {
    const char *driver;
    const char *params;
} dbd_spec_t;

/* Collect (DBDriver, DBDParams) per configuration section. */
static void collect(apr_array_header_t *specs, ap_directive_t *d,
                    const char *driver, const char *params, apr_pool_t *p)
{
    ap_directive_t *c;

    for (c = d; c; c = c->next) {
        if (strcasecmp(c->directive, "DBDriver") == 0) {
            driver = c->args;
        }
        else if (strcasecmp(c->directive, "DBDParams") == 0) {
            params = c->args;
        }
    }
    if (driver && params) {
        dbd_spec_t *sp = apr_array_push(specs);
        const char *dr = driver, *pa = params;   /* getword advances them */
        sp->driver = ap_getword_conf(p, &dr);
        sp->params = ap_getword_conf(p, &pa);
    }
    for (c = d; c; c = c->next) {
        if (c->first_child) {
            collect(specs, c->first_child, driver, params, p);
        }
    }
}

/* SQLite: the file was created by root; the children run as User. */
static void give_to_httpd_user(const char *file, apr_pool_t *p, server_rec *s)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", NULL };
    int i;

    if (geteuid() != 0) {
        return;
    }
    for (i = 0; suffixes[i]; i++) {
        const char *f = apr_pstrcat(p, file, suffixes[i], NULL);
        if (access(f, F_OK) == 0
            && chown(f, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, JMLOGNO_GLUE(01111)
                         "cannot hand %s to the httpd user", f);
        }
    }
}

static int migrate_one(const dbd_spec_t *sp, apr_pool_t *ptemp, server_rec *s)
{
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    const char *err = NULL;
    jm_db_t *db;
    int from = 0;
    apr_status_t rv;

    if (!jm_db_dialect_for(sp->driver)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, JMLOGNO_GLUE(01112)
                     "DBDriver %s is not supported by mod_jmap_smime "
                     "(use sqlite3 or pgsql)", sp->driver);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = apr_dbd_get_driver(ptemp, sp->driver, &driver)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, JMLOGNO_GLUE(01113)
                     "cannot load the apr_dbd driver %s (install "
                     "libaprutil1-dbd-%s)", sp->driver, sp->driver);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = apr_dbd_open_ex(driver, ptemp, sp->params, &handle, &err))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, JMLOGNO_GLUE(01114)
                     "cannot open the %s database to check its schema: %s",
                     sp->driver, err ? err : "(no reason given)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    db = NULL;
    rv = jm_db_wrap(&db, driver, handle, apr_hash_make(ptemp), ptemp, ptemp);
    if (rv == APR_SUCCESS) {
        rv = jm_schema_migrate(db, &from, &err, ptemp);
        if (rv == APR_SUCCESS) {
            int n = 0;

            /* emails of older versions get the columns queries need (a
             * partial index finds them: nothing to do costs nothing) */
            rv = jm_email_reindex_pending(&n, db, ptemp);
            if (rv == APR_SUCCESS && n > 0) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, JMLOGNO_GLUE(01130)
                             "indexed %d email(s) stored under an older schema version", n);
            }
            else if (rv != APR_SUCCESS) {
                err = "indexing the emails of an older schema failed";
            }
        }
    }
    if (db) {
        jm_db_close(db);
    }
    else {
        apr_dbd_close(driver, handle);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, JMLOGNO_GLUE(01115)
                     "database schema check failed for %s: %s", sp->driver,
                     err ? err : "see the previous messages");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, JMLOGNO_GLUE(01116)
                 "%s store ready (schema version %d, found %d)", sp->driver,
                 db->dialect->schema_version, from);
    if (strcmp(sp->driver, "sqlite3") == 0) {
        give_to_httpd_user(sp->params, ptemp, s);
    }
    return OK;
}

int jm_dbd_migrate_all(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *specs = apr_array_make(ptemp, 2, sizeof(dbd_spec_t));
    int i, j, rc;

    (void)pconf;
    collect(specs, ap_conftree, NULL, NULL, ptemp);
    if (specs->nelts == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, JMLOGNO_GLUE(01117)
                     "no DBDriver/DBDParams configured: mod_jmap_smime needs "
                     "mod_dbd for its store");
        return OK;
    }
    for (i = 0; i < specs->nelts; i++) {
        dbd_spec_t *sp = &APR_ARRAY_IDX(specs, i, dbd_spec_t);
        int seen = 0;
        for (j = 0; j < i; j++) {
            dbd_spec_t *o = &APR_ARRAY_IDX(specs, j, dbd_spec_t);
            seen |= !strcmp(o->driver, sp->driver) && !strcmp(o->params, sp->params);
        }
        if (!seen && (rc = migrate_one(sp, ptemp, s)) != OK) {
            return rc;
        }
    }
    return OK;
}

apr_status_t jm_dbd_acquire(jm_db_t **pdb, request_rec *r)
{
    ap_dbd_t *dbd;
    apr_status_t rv;

    if (!dbd_acquire) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(01118)
                      "mod_dbd is not loaded: LoadModule dbd_module before "
                      "using mod_jmap_smime");
        return APR_EAGAIN;
    }
    if (!(dbd = dbd_acquire(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(01119)
                      "no database connection available from mod_dbd "
                      "(see mod_dbd's messages above)");
        return APR_EAGAIN;
    }
    rv = jm_db_wrap(pdb, dbd->driver, dbd->handle, dbd->prepared, dbd->pool,
                    r->pool);
    if (rv != APR_SUCCESS) {
        return APR_EAGAIN;
    }
    jm_db_set_relaxed(*pdb, jm_config_get(r->server)->durability == 1);
    return APR_SUCCESS;
}

typedef struct {
    server_rec *s;
    ap_dbd_t *dbd;
} opened_t;

static apr_status_t give_back(void *data)
{
    opened_t *o = data;

    dbd_close(o->s, o->dbd);
    return APR_SUCCESS;
}

apr_status_t jm_dbd_open(jm_db_t **pdb, server_rec *s, apr_pool_t *p)
{
    opened_t *o;

    if (!dbd_open || !dbd_close) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, JMLOGNO_GLUE(01131)
                     "mod_dbd is not loaded: LoadModule dbd_module before "
                     "using mod_jmap_smime");
        return APR_EAGAIN;
    }
    o = apr_palloc(p, sizeof(*o));
    o->s = s;
    if (!(o->dbd = dbd_open(p, s))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, JMLOGNO_GLUE(01132)
                     "no database connection available from mod_dbd "
                     "(see mod_dbd's messages above)");
        return APR_EAGAIN;
    }
    apr_pool_cleanup_register(p, o, give_back, apr_pool_cleanup_null);
    /* a transaction left open on p or a sub-pool is rolled back by its
     * cleanup (registered later, or run with the sub-pool first) before
     * the connection goes back */
    return jm_db_wrap(pdb, o->dbd->driver, o->dbd->handle, o->dbd->prepared,
                      o->dbd->pool, p) == APR_SUCCESS ? APR_SUCCESS : APR_EAGAIN;
}

/* The lock that queues SQLite writers of all this server's processes (see
 * jm_db_set_server_write_lock). Made in post_config, before children
 * exist; each child re-attaches in child_init. httpd's Mutex directive
 * can choose its mechanism ("Mutex sysvsem jmap-smime-db"). */
#define WRITE_MUTEX "jmap-smime-db"
static apr_global_mutex_t *write_mutex;

int jm_dbd_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, WRITE_MUTEX, NULL, APR_LOCK_DEFAULT, 0) == APR_SUCCESS
        ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

int jm_dbd_write_lock_create(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv = ap_global_mutex_create(&write_mutex, NULL, WRITE_MUTEX, NULL, s,
                                             pconf, 0);

    if (rv != APR_SUCCESS) {
        /* ap_global_mutex_create logged the reason */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, JMLOGNO_GLUE(01206)
                     "no write lock across processes (Mutex %s): each process's "
                     "SQLite writers queue on their own and wait for the others "
                     "by polling the database", WRITE_MUTEX);
        write_mutex = NULL;
    }
    return OK;
}

void jm_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!write_mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&write_mutex, apr_global_mutex_lockfile(write_mutex),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, JMLOGNO_GLUE(01207)
                     "cannot attach to the write lock across processes (Mutex %s): "
                     "this process's SQLite writers queue on their own", WRITE_MUTEX);
        return;
    }
    jm_db_set_server_write_lock(write_mutex);
}
