/* Store unit tests: a database handle from apr_dbd parameters, and the
 * PostgreSQL half of a suite (a database of its own on the server of
 * JMAP_TEST_PG_PORT, t/lib/pg-start.sh: created, run on, dropped). */
#ifndef JM_TEST_DB_SUITE_H
#define JM_TEST_DB_SUITE_H

#include <stdlib.h>
#include <unistd.h>
#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include "store/jm_db.h"
#include "tap.h"

static jm_db_t *tdb_open(apr_pool_t *pool, const apr_dbd_driver_t *drv, const char *params)
{
    apr_dbd_t *h;
    jm_db_t *db;

    if (apr_dbd_open(drv, pool, params, &h) != APR_SUCCESS
        || jm_db_wrap(&db, drv, h, apr_hash_make(pool), pool, pool) != APR_SUCCESS) {
        return NULL;
    }
    return db;
}

/* The SQLite half: run(db, "sqlite3") on a new database t.db in
 * /tmp/jm-test-<tag>.<pid> (*pdir), closed after. The sqlite3 driver, or
 * NULL when apr_dbd has none (the caller skips). */
static __attribute__((unused)) const apr_dbd_driver_t *
tdb_on_sqlite(apr_pool_t *pool, const char *tag,
              void (*run)(jm_db_t *db, const char *label), const char **pdir)
{
    const apr_dbd_driver_t *drv;
    jm_db_t *db;

    if (apr_dbd_get_driver(pool, "sqlite3", &drv) != APR_SUCCESS) {
        return NULL;
    }
    *pdir = apr_psprintf(pool, "/tmp/jm-test-%s.%d", tag, (int)getpid());
    apr_dir_make_recursive(*pdir, APR_OS_DEFAULT, pool);
    db = tdb_open(pool, drv, apr_pstrcat(pool, *pdir, "/t.db", NULL));
    ok(db != NULL, "open SQLite");
    if (db) {
        run(db, "sqlite3");
        jm_db_close(db);   /* nothing left for LeakSanitizer */
    }
    return drv;
}

/* Remove a test directory and the files in it (databases, -wal, -shm). */
static __attribute__((unused)) void tdb_remove_dir(apr_pool_t *pool, const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, pool) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
            if (fi.filetype == APR_REG) {
                apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
            }
        }
        apr_dir_close(d);
    }
    apr_dir_remove(dir, pool);
}

/* run(db, "pgsql") on database "jmt_<tag>_<pid>", closed before it is
 * dropped (nothing left for LeakSanitizer); a diag when there is no
 * PostgreSQL to run on. */
static __attribute__((unused)) void tdb_on_pgsql(apr_pool_t *pool, const char *tag,
                                                 void (*run)(jm_db_t *db, const char *label))
{
    const char *port = getenv("JMAP_TEST_PG_PORT");
    const apr_dbd_driver_t *drv;
    const char *name, *base;
    jm_db_t *adm, *db;

    if (!port || !*port || apr_dbd_get_driver(pool, "pgsql", &drv) != APR_SUCCESS) {
        diag("PostgreSQL part skipped: JMAP_TEST_PG_PORT is not set");
        return;
    }
    name = apr_psprintf(pool, "jmt_%s_%d", tag, (int)getpid());
    base = apr_psprintf(pool, "host=127.0.0.1 port=%s user=jmap password=jmappw dbname=",
                        port);
    adm = tdb_open(pool, drv, apr_pstrcat(pool, base, "jmap", NULL));
    ok(adm && jm_db_exec_literal(adm, apr_pstrcat(pool, "CREATE DATABASE ", name, NULL),
                                 pool) == APR_SUCCESS, "a PostgreSQL database");
    if (adm && (db = tdb_open(pool, drv, apr_pstrcat(pool, base, name, NULL)))) {
        run(db, "pgsql");
        jm_db_close(db);
        jm_db_exec_literal(adm, apr_pstrcat(pool, "DROP DATABASE ", name, NULL), pool);
    }
    if (adm) {
        jm_db_close(adm);
    }
}

#endif
