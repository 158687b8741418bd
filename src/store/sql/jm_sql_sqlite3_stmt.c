/* SQLite statements run on the native handle (jm_sql_native_t), not
 * through apr_dbd: apr-util's sqlite3 driver steps every statement of every
 * connection of the process under one process-wide mutex (apr_dbd_mutex_lock
 * in dbd/apr_dbd_sqlite3.c, 1.6.3), so the threads of a process ran their
 * SQL one at a time. SQLite serialises the use of each connection itself
 * (SQLITE_THREADSAFE 1 or 2, checked in sqlite_on_connect) and WAL lets a
 * writer and any number of readers of other connections run together.
 * Binding is apr_dbd's: %s and %lld are one text value each (NULL as SQL
 * NULL), %pDb is four (bytes, their length as text, table, column) bound
 * as a blob; results come back as text, a blob as its bytes. */
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_time.h>
#include "store/sql/jm_sql.h"

/* More values than any statement of jm_sql_* or jm_store_query.c binds
 * (its MAX_ARGS); a statement with more placeholders is refused. */
#define MAX_PARAMS 1024
#define MAX_COLS 64

typedef struct {
    sqlite3_stmt *st;
    int nparams;            /* placeholders */
    int nvalues;            /* values they take (a blob takes four) */
    unsigned char *blob;    /* per placeholder: 1 = %pDb */
} native_stmt_t;

static void set_err(char *err, apr_size_t errlen, const char *msg)
{
    apr_cpystrn(err, msg ? msg : "unknown error", errlen);
}

static void *stmt_prepare(void *native, const char *sql, char *err, apr_size_t errlen)
{
    sqlite3 *h = native;
    native_stmt_t *ns;
    apr_size_t len = strlen(sql);
    char *q = malloc(len + 1), *o = q;
    unsigned char kinds[MAX_PARAMS];
    const char *s;
    int n = 0, values = 0, rc;

    if (!q) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    /* apr_dbd's placeholders to '?', as apr_dbd_prepare reads them: '%'
     * and a letter starts one, "%%" is a '%', any other '%' is itself */
    for (s = sql; *s; ) {
        int kind = -1, skip = 0;

        if (s[0] == '%' && s[1] == 's') {
            kind = 0, skip = 2;
        }
        else if (strncmp(s, "%lld", 4) == 0) {
            kind = 0, skip = 4;
        }
        else if (strncmp(s, "%pDb", 4) == 0) {
            kind = 1, skip = 4;
        }
        else if (s[0] == '%' && s[1] == '%') {
            *o++ = '%';         /* apr_dbd's escape */
            s += 2;
            continue;
        }
        else if (s[0] == '%' && apr_isalpha(s[1])) {
            free(q);
            set_err(err, errlen, "a placeholder other than %s, %lld and %pDb");
            return NULL;
        }
        if (kind < 0) {
            *o++ = *s++;
            continue;
        }
        if (n == MAX_PARAMS) {
            free(q);
            set_err(err, errlen, "too many placeholders");
            return NULL;
        }
        kinds[n++] = (unsigned char)kind;
        values += kind ? 4 : 1;
        *o++ = '?';
        s += skip;
    }
    *o = 0;
    ns = calloc(1, sizeof(*ns));
    if (!ns || (n && !(ns->blob = malloc(n)))) {
        free(ns);
        free(q);
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    /* PERSISTENT: kept for the connection's life; prepare_v3 statements
     * are prepared again by SQLite itself after a schema change */
    rc = sqlite3_prepare_v3(h, q, -1, SQLITE_PREPARE_PERSISTENT, &ns->st, NULL);
    free(q);
    if (rc != SQLITE_OK || !ns->st || sqlite3_bind_parameter_count(ns->st) != n) {
        set_err(err, errlen, rc != SQLITE_OK ? sqlite3_errmsg(h)
                : !ns->st ? "no statement in the text"
                : "placeholders the driver does not know");
        sqlite3_finalize(ns->st);
        free(ns->blob);
        free(ns);
        return NULL;
    }
    if (n) {
        memcpy(ns->blob, kinds, n);
    }
    ns->nparams = n;
    ns->nvalues = values;
    return ns;
}

static int bind_all(native_stmt_t *ns, int nargs, const char *const *args,
                    char *err, apr_size_t errlen)
{
    int i, j, rc = SQLITE_OK;

    if (nargs != ns->nvalues) {
        set_err(err, errlen, "wrong number of values for the statement");
        return -1;
    }
    for (i = 0, j = 0; i < ns->nparams && rc == SQLITE_OK; i++) {
        if (ns->blob[i]) {
            /* bytes, their length, table, column (the last two are for
             * drivers that need them, as apr_dbd's docs say) */
            apr_int64_t n = args[j + 1] ? apr_atoi64(args[j + 1]) : -1;
            if (!args[j] || n < 0 || n > 0x7fffffff) {
                set_err(err, errlen, "a blob value without bytes or length");
                return -1;
            }
            rc = sqlite3_bind_blob(ns->st, i + 1, args[j], (int)n, SQLITE_STATIC);
            j += 4;
        }
        else {
            rc = args[j] ? sqlite3_bind_text(ns->st, i + 1, args[j], -1, SQLITE_STATIC)
                         : sqlite3_bind_null(ns->st, i + 1);
            j++;
        }
    }
    if (rc != SQLITE_OK) {
        set_err(err, errlen, sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

/* Step to the end, each row to fn. SQLITE_BUSY here is a transient
 * WAL-index lock (writes hold the write lock from BEGIN IMMEDIATE) that
 * outlasted the connection's busy handler: the statement is tried again,
 * from the start, for up to about two seconds, as apr_dbd's driver did. */
static int stmt_run(void *native, void *stmt, int nargs, const char *const *args,
                    jm_sql_cells_fn *fn, void *baton, int *pchanges,
                    char *err, apr_size_t errlen)
{
    sqlite3 *h = native;
    native_stmt_t *ns = stmt;
    const char *vals[MAX_COLS];
    apr_size_t lens[MAX_COLS];
    apr_interval_time_t pause = 1000, waited = 0;
    int rc, i, ncols, stopped = 0, rows = 0;

    if (bind_all(ns, nargs, args, err, errlen) != 0) {
        sqlite3_clear_bindings(ns->st);
        return -1;
    }
    ncols = sqlite3_column_count(ns->st);
    if (ncols > MAX_COLS) {
        sqlite3_clear_bindings(ns->st);
        set_err(err, errlen, "too many result columns");
        return -1;
    }
    for (;;) {
        while ((rc = sqlite3_step(ns->st)) == SQLITE_ROW) {
            rows++;
            if (stopped || !fn) {
                continue;
            }
            for (i = 0; i < ncols; i++) {
                if (sqlite3_column_type(ns->st, i) == SQLITE_BLOB) {
                    vals[i] = sqlite3_column_blob(ns->st, i);
                    vals[i] = vals[i] ? vals[i] : "";
                }
                else {
                    vals[i] = (const char *)sqlite3_column_text(ns->st, i);
                }
                lens[i] = (apr_size_t)sqlite3_column_bytes(ns->st, i);
            }
            stopped = fn(baton, ncols, vals, lens) != 0;
        }
        /* a busy retry restarts a statement that returned no row yet */
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || rows || waited > 2000000) {
            break;
        }
        sqlite3_reset(ns->st);
        apr_sleep(pause);
        waited += pause;
        pause = pause * 2 > 50000 ? 50000 : pause * 2;
    }
    if (rc == SQLITE_DONE && pchanges) {
        *pchanges = sqlite3_changes(h);
    }
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, sqlite3_errmsg(h));
    }
    sqlite3_reset(ns->st);
    sqlite3_clear_bindings(ns->st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void stmt_finalize(void *stmt)
{
    native_stmt_t *ns = stmt;

    if (ns) {
        sqlite3_finalize(ns->st);
        free(ns->blob);
        free(ns);
    }
}

const jm_sql_native_t jm_sql_sqlite3_native = {
    stmt_prepare, stmt_run, stmt_finalize
};
