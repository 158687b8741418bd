/* Versioned schema: create, migrate, refuse newer. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include "store/jm_schema.h"
#include "store/jm_schema_blob.h"
#include "core/jm_log.h"

/* The schema version, 0 for an empty database, -1 if it cannot be read.
 * Run as literal (constant, parameterless) statements rather than prepared
 * ones: the schema changes under this connection while it migrates. */
static int read_version(jm_db_t *db, apr_pool_t *p)
{
    const char *v = NULL;

    if (jm_db_select_literal(&v, db, jm_sql_text(db->dialect, JM_SQL_SCHEMA_EXISTS), p)
        != APR_SUCCESS || !v) {
        return -1;
    }
    if (atoi(v) == 0) {
        return 0;
    }
    if (jm_db_select_literal(&v, db, jm_sql_text(db->dialect, JM_SQL_SCHEMA_VERSION), p)
        != APR_SUCCESS || !v) {
        return -1;
    }
    return atoi(v);
}

static apr_status_t run_step(jm_db_t *db, int from, const char **perr,
                             apr_pool_t *p)
{
    const char *const *q;
    apr_status_t rv;

    /* another node may be migrating (or serving) the same database: wait
     * longer than a request would */
    if (APR_SUCCESS != (rv = jm_db_begin_within(db, apr_time_from_sec(60), p))) {
        *perr = apr_psprintf(p, "cannot start a transaction: %s", db->last_error);
        return rv;
    }
    for (q = db->dialect->migrations[from]; *q; q++) {
        if (strcmp(*q, JM_SQL_STEP_BLOB_CONTENTS) == 0) {
            const char *why = NULL;
            if (APR_SUCCESS != (rv = jm_schema_blob_contents(db, &why, p))) {
                *perr = apr_psprintf(p, "migration %d -> %d failed: %s", from,
                                     from + 1, why ? why : "?");
                jm_db_rollback(db);
                return rv;
            }
            continue;
        }
        if (APR_SUCCESS != (rv = jm_db_exec_literal(db, *q, p))) {
            *perr = apr_psprintf(p, "migration %d -> %d failed at \"%s\": %s",
                                 from, from + 1, *q, db->last_error);
            jm_db_rollback(db);
            return rv;
        }
    }
    if (APR_SUCCESS != (rv = jm_db_exec_literal(db, apr_psprintf(p,
                            "UPDATE jm_schema SET version = %d", from + 1), p))) {
        *perr = apr_psprintf(p, "cannot record schema version %d: %s",
                             from + 1, db->last_error);
        jm_db_rollback(db);
        return rv;
    }
    if (APR_SUCCESS != (rv = jm_db_commit(db))) {
        *perr = apr_psprintf(p, "cannot commit migration %d -> %d", from, from + 1);
    }
    return rv;
}

apr_status_t jm_schema_migrate(jm_db_t *db, int *pfrom, const char **perr,
                               apr_pool_t *p)
{
    int have, want = db->dialect->schema_version, attempt;
    apr_status_t rv = APR_SUCCESS;

    if (strcmp(db->dialect->driver, "sqlite3") == 0) {
        /* WAL is a property of the file and cannot change inside a
         * transaction; without it threaded MPMs see "database is locked" */
        const char *mode = NULL;
        rv = jm_db_select_literal(&mode, db, "PRAGMA journal_mode=WAL", p);
        if (rv != APR_SUCCESS || !mode || strcasecmp(mode, "wal") != 0) {
            *perr = apr_psprintf(p, "cannot switch the SQLite file to WAL "
                                 "(journal mode is %s): %s", mode ? mode : "?",
                                 rv != APR_SUCCESS ? db->last_error : "");
            return APR_EGENERAL;
        }
    }
    have = read_version(db, p);
    *pfrom = have;
    if (have < 0) {
        *perr = apr_psprintf(p, "cannot read the schema version: %s",
                             db->last_error ? db->last_error : "unknown error");
        return APR_EGENERAL;
    }
    if (have > want) {
        *perr = apr_psprintf(p, "database schema version %d is newer than this "
                             "module understands (%d); refusing to start — "
                             "upgrade mod_jmap_smime", have, want);
        return APR_EGENERAL;
    }
    while (have < want) {
        /* another node may migrate at the same moment: on failure re-read
         * the version once and carry on from there */
        for (attempt = 0; attempt < 2; attempt++) {
            rv = run_step(db, have, perr, p);
            if (rv == APR_SUCCESS || read_version(db, p) > have) {
                rv = APR_SUCCESS;
                break;
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        jm_log_perror(JM_LOG_MARK, JM_LOG_NOTICE, 0, p,
                      JMLOGNO(01010) "database schema migrated to version %d",
                      have + 1);
        have = read_version(db, p);
    }
    return APR_SUCCESS;
}
