/* Statements of the dialect, prepared lazily once per connection: through
 * apr_dbd, or on the native handle where the dialect says (SQLite, whose
 * apr_dbd driver runs every statement of the process under one mutex). */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_version.h>
#include <apr_buckets.h>
#include <apr_escape.h>
#include "store/jm_db.h"
#include "core/jm_log.h"
#include "core/jm_util.h"

#define SETUP_MARK "jmap_smime:connection-setup-done"
#define COMPOSED_COUNT "jmap_smime:composed-count"
#define NATIVE_LIST "jmap_smime:native-statements"

/* SQLite allows one writer at a time. Writers queue here, before BEGIN,
 * so they hand the write lock on at once instead of polling the database
 * for it: those of one process on write_lock, or those of every process
 * of this server on server_write_lock when the glue made one; only a lock
 * held by another program is waited for by polling (native_txn). Bounded
 * like that wait. Created once in child_init; read-only afterwards. */
static apr_thread_mutex_t *write_lock;
/* The same queue across this server's processes (the glue's global mutex;
 * it holds a thread mutex too): set once in child_init, then read-only. */
static apr_global_mutex_t *server_write_lock;

void jm_db_set_server_write_lock(apr_global_mutex_t *lock)
{
    server_write_lock = lock;
}

apr_status_t jm_db_process_init(apr_pool_t *pchild)
{
    if (write_lock) {
        return APR_SUCCESS;
    }
#if APR_VERSION_AT_LEAST(1, 7, 0)
    return apr_thread_mutex_create(&write_lock, APR_THREAD_MUTEX_TIMED, pchild);
#else
    return apr_thread_mutex_create(&write_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
#endif
}

const jm_sql_dialect_t *jm_db_dialect_for(const char *driver_name)
{
    if (driver_name && strcmp(driver_name, "sqlite3") == 0) {
        return &jm_sql_sqlite3;
    }
    if (driver_name && strcmp(driver_name, "pgsql") == 0) {
        return &jm_sql_pgsql;
    }
    return NULL;
}

static void note_error(jm_db_t *db, int rc, apr_pool_t *p)
{
    const char *e = apr_dbd_error(db->driver, db->handle, rc);
    db->last_error = apr_pstrdup(p, e ? e : "unknown database error");
}

apr_status_t jm_db_exec_literal(jm_db_t *db, const char *sql, apr_pool_t *p)
{
    int nrows = 0, rc;

    rc = apr_dbd_query(db->driver, db->handle, &nrows, sql);
    if (rc != 0) {
        note_error(db, rc, p);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01001) "SQL failed (%s): %s", sql, db->last_error);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_select_literal(const char **pfirst, jm_db_t *db,
                                  const char *sql, apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    *pfirst = NULL;
    rc = apr_dbd_select(db->driver, p, db->handle, &res, sql, 0);
    if (rc != 0) {
        note_error(db, rc, p);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01008) "SQL failed (%s): %s", sql, db->last_error);
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!*pfirst) {
            const char *v = apr_dbd_get_entry(db->driver, row, 0);
            *pfirst = v ? apr_pstrdup(p, v) : NULL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_wrap(jm_db_t **pdb, const apr_dbd_driver_t *driver,
                        apr_dbd_t *handle, apr_hash_t *prepared,
                        apr_pool_t *conn_pool, apr_pool_t *p)
{
    jm_db_t *db = apr_pcalloc(p, sizeof(*db));
    const char *const *q;
    apr_status_t rv;

    db->driver = driver;
    db->handle = handle;
    db->prepared = prepared;
    db->conn_pool = conn_pool;
    db->dialect = jm_db_dialect_for(apr_dbd_name(driver));
    if (!db->dialect) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_ENOTIMPL, p,
                      JMLOGNO(01002) "DBDriver %s is not supported "
                      "(use sqlite3 or pgsql)", apr_dbd_name(driver));
        return APR_ENOTIMPL;
    }
    if (!apr_hash_get(prepared, SETUP_MARK, APR_HASH_KEY_STRING)) {
        if (db->dialect->on_connect_native
            && db->dialect->on_connect_native(apr_dbd_native_handle(driver, handle))) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(01009) "cannot set up the %s connection",
                          db->dialect->driver);
            return APR_EGENERAL;
        }
        for (q = db->dialect->on_connect; q && *q; q++) {
            const char *ignored;
            rv = db->dialect->on_connect_returns_rows
                ? jm_db_select_literal(&ignored, db, *q, p)
                : jm_db_exec_literal(db, *q, p);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
        apr_hash_set(prepared, SETUP_MARK, APR_HASH_KEY_STRING, SETUP_MARK);
    }
    *pdb = db;
    return APR_SUCCESS;
}

/* A statement of the dialect, prepared on the connection: through apr_dbd,
 * or on the native handle (dialect->native). */
typedef struct {
    apr_dbd_prepared_t *dbd;
    void *native;
} stmt_t;

static void *native_prepare(jm_db_t *db, const char *sql, apr_pool_t *p);

/* Statement id, prepared the first time this connection runs it. */
static apr_status_t get_stmt(stmt_t *ps, jm_db_t *db, jm_sql_id_t id, apr_pool_t *p)
{
    char label[48];
    stmt_t *st;
    int rc = 0;

    apr_snprintf(label, sizeof(label), "jmap_smime_%d", (int)id);
    st = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    if (!st) {
        st = apr_pcalloc(db->conn_pool, sizeof(*st));
        if (db->dialect->native) {
            rc = (st->native = native_prepare(db, jm_sql_text(db->dialect, id), p)) ? 0 : -1;
        }
        else if ((rc = apr_dbd_prepare(db->driver, db->conn_pool, db->handle,
                                       jm_sql_text(db->dialect, id), label, &st->dbd))) {
            note_error(db, rc, p);
        }
        if (rc != 0) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(01003) "cannot prepare statement %d: %s",
                          (int)id, db->last_error);
            return APR_EGENERAL;
        }
        apr_hash_set(db->prepared, apr_pstrdup(db->conn_pool, label),
                     APR_HASH_KEY_STRING, st);
    }
    *ps = *st;
    return APR_SUCCESS;
}

/* The native statements of a connection (dialect->native), finalized when
 * the connection's pool is cleaned up, before the connection closes (mod_dbd
 * registered its close first, so it runs after), or by jm_db_close. */
typedef struct {
    const jm_sql_native_t *ops;
    apr_array_header_t *stmts;      /* void * */
} native_list_t;

static apr_status_t native_finalize_all(void *data)
{
    native_list_t *l = data;
    int i;

    for (i = 0; i < l->stmts->nelts; i++) {
        l->ops->finalize(APR_ARRAY_IDX(l->stmts, i, void *));
    }
    l->stmts->nelts = 0;
    return APR_SUCCESS;
}

static void *native_prepare(jm_db_t *db, const char *sql, apr_pool_t *p)
{
    native_list_t *l = apr_hash_get(db->prepared, NATIVE_LIST, APR_HASH_KEY_STRING);
    char err[256] = "";
    void *st;

    if (!l) {
        l = apr_palloc(db->conn_pool, sizeof(*l));
        l->ops = db->dialect->native;
        l->stmts = apr_array_make(db->conn_pool, 32, sizeof(void *));
        apr_hash_set(db->prepared, NATIVE_LIST, APR_HASH_KEY_STRING, l);
        apr_pool_cleanup_register(db->conn_pool, l, native_finalize_all,
                                  apr_pool_cleanup_null);
    }
    st = l->ops->prepare(apr_dbd_native_handle(db->driver, db->handle), sql, err,
                         sizeof(err));
    if (!st) {
        db->last_error = apr_pstrdup(p, err);
        return NULL;
    }
    APR_ARRAY_PUSH(l->stmts, void *) = st;
    return st;
}

typedef struct {
    apr_array_header_t *rows;       /* const char ** each, NULL values as "" */
    apr_pool_t *p;
} native_rows_t;

static int native_keep_row(void *baton, int ncols, const char *const *vals,
                           const apr_size_t *lens)
{
    native_rows_t *r = baton;
    const char **cols = apr_pcalloc(r->p, sizeof(char *) * (ncols + 1));
    int i;

    for (i = 0; i < ncols; i++) {
        cols[i] = vals[i] ? apr_pstrmemdup(r->p, vals[i], lens[i]) : "";
    }
    APR_ARRAY_PUSH(r->rows, const char **) = cols;
    return 0;
}

/* Run a native statement, each row to fn (may be NULL), the rows a write
 * changed into *pnrows (unless NULL); the driver's message in last_error. */
static apr_status_t native_step(jm_db_t *db, void *stmt, int nargs, const char **args,
                                jm_sql_cells_fn *fn, void *baton, int *pnrows,
                                apr_pool_t *p)
{
    char err[256] = "";

    if (db->dialect->native->run(apr_dbd_native_handle(db->driver, db->handle), stmt,
                                 nargs, args, fn, baton, pnrows, err, sizeof(err)) != 0) {
        db->last_error = apr_pstrdup(p, err);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Run a native statement: rows into *prows (unless NULL), changed rows
 * into *pnrows (unless NULL). */
static apr_status_t native_run(apr_array_header_t **prows, int *pnrows, jm_db_t *db,
                               void *stmt, int nargs, const char **args, apr_pool_t *p)
{
    native_rows_t r = { NULL, p };
    apr_status_t rv;

    if (prows) {
        r.rows = apr_array_make(p, 4, sizeof(const char **));
    }
    rv = native_step(db, stmt, nargs, args, prows ? native_keep_row : NULL, &r, pnrows, p);
    if (rv == APR_SUCCESS && prows) {
        *prows = r.rows;
    }
    return rv;
}

void jm_db_close(jm_db_t *db)
{
    native_list_t *l = apr_hash_get(db->prepared, NATIVE_LIST, APR_HASH_KEY_STRING);

    if (l) {
        apr_pool_cleanup_run(db->conn_pool, l, native_finalize_all);
        apr_hash_set(db->prepared, NATIVE_LIST, APR_HASH_KEY_STRING, NULL);
    }
    apr_dbd_close(db->driver, db->handle);
}

static apr_status_t exec_stmt(jm_db_t *db, int *pnrows, apr_dbd_prepared_t *stmt,
                              int nargs, const char **args, apr_pool_t *p)
{
    int nrows = 0, rc;

    rc = apr_dbd_pquery(db->driver, p, db->handle, &nrows, stmt, nargs, args);
    if (rc != 0) {
        note_error(db, rc, p);
        return APR_EGENERAL;
    }
    if (pnrows) {
        *pnrows = nrows;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_exec(jm_db_t *db, int *pnrows, jm_sql_id_t id, int nargs,
                        const char **args, apr_pool_t *p)
{
    stmt_t st;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = get_stmt(&st, db, id, p))) {
        return rv;
    }
    rv = st.native ? native_run(NULL, pnrows, db, st.native, nargs, args, p)
                   : exec_stmt(db, pnrows, st.dbd, nargs, args, p);
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01004) "statement %d failed: %s", (int)id,
                      db->last_error);
    }
    return rv;
}

static void drain(apr_array_header_t *rows, jm_db_t *db, apr_dbd_results_t *res,
                  apr_pool_t *p);

static apr_status_t select_stmt(apr_dbd_results_t **pres, jm_db_t *db,
                                apr_dbd_prepared_t *stmt, int nargs,
                                const char **args, apr_pool_t *p)
{
    int rc;

    *pres = NULL;
    rc = apr_dbd_pselect(db->driver, p, db->handle, pres, stmt,
                         db->dialect->buffered_selects, nargs, args);
    if (rc != 0) {
        note_error(db, rc, p);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_select(apr_array_header_t **prows, jm_db_t *db,
                          jm_sql_id_t id, int nargs, const char **args,
                          apr_pool_t *p)
{
    stmt_t st;
    apr_dbd_results_t *res;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = get_stmt(&st, db, id, p))) {
        return rv;
    }
    if (st.native) {
        rv = native_run(prows, NULL, db, st.native, nargs, args, p);
    }
    else if (APR_SUCCESS == (rv = select_stmt(&res, db, st.dbd, nargs, args, p))) {
        *prows = apr_array_make(p, 4, sizeof(const char **));
        drain(*prows, db, res, p);
    }
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01005) "select %d failed: %s", (int)id,
                      db->last_error);
    }
    return rv;
}

/* The bytes of a brigade, NUL-terminated, in p; hex-decoded when the
 * dialect returns bytes as hex. */
static apr_status_t brigade_bytes(const unsigned char **pdata, apr_size_t *plen,
                                  jm_db_t *db, apr_bucket_brigade *bb, apr_pool_t *p)
{
    apr_off_t total = 0;
    apr_size_t len, n;
    apr_status_t rv;
    char *buf, *out;

    if (APR_SUCCESS != (rv = apr_brigade_length(bb, 1, &total))) {
        return rv;
    }
    len = (apr_size_t)total;
    buf = apr_palloc(p, len + 1);
    if (APR_SUCCESS != (rv = apr_brigade_flatten(bb, buf, &len))) {
        return rv;
    }
    buf[len] = '\0';
    if (db->dialect->bytes_as_hex && len > 0) {
        out = apr_palloc(p, len / 2 + 1);
        if (len % 2 || apr_unescape_hex(out, buf, (apr_ssize_t)len, 0, &n) != APR_SUCCESS
            || n != len / 2) {
            db->last_error = "the database returned bytes that are not hex";
            return APR_EGENERAL;
        }
        out[n] = '\0';
        buf = out;
        len = n;
    }
    *pdata = (const unsigned char *)buf;
    *plen = len;
    return APR_SUCCESS;
}

/* The value of column 0 of row as bytes (NUL-terminated copy in p). The
 * buckets come from an allocator of their own, freed here: a pool need
 * not have one (APR's pool debugging), and chunk after chunk must not
 * grow the caller's. */
static apr_status_t row_bytes(const unsigned char **pdata, apr_size_t *plen,
                              jm_db_t *db, apr_dbd_row_t *row, apr_pool_t *p)
{
    apr_allocator_t *al;
    apr_bucket_alloc_t *ba;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = apr_allocator_create(&al))) {
        return rv;
    }
    ba = apr_bucket_alloc_create_ex(al);
    bb = apr_brigade_create(p, ba);
    rv = apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_BLOB, bb);
    if (rv == APR_SUCCESS) {
        rv = brigade_bytes(pdata, plen, db, bb, p);
    }
    else if (rv == APR_ENOENT) {
        rv = APR_NOTFOUND;
    }
    apr_brigade_destroy(bb);
    apr_bucket_alloc_destroy(ba);
    apr_allocator_destroy(al);
    return rv;
}

typedef struct {
    const unsigned char *data;      /* the first row's column 0, NULL: none */
    apr_size_t len;
    apr_pool_t *p;
} native_bytes_t;

static int native_first_bytes(void *baton, int ncols, const char *const *vals,
                              const apr_size_t *lens)
{
    native_bytes_t *b = baton;
    unsigned char *copy;

    if (ncols > 0 && vals[0]) {
        copy = apr_palloc(b->p, lens[0] + 1);
        memcpy(copy, vals[0], lens[0]);
        copy[lens[0]] = 0;
        b->data = copy;
        b->len = lens[0];
    }
    return 1;                       /* the first row is the answer */
}

apr_status_t jm_db_select_bytes(const unsigned char **pdata, apr_size_t *plen,
                                jm_db_t *db, jm_sql_id_t id, int nargs,
                                const char **args, apr_pool_t *p)
{
    native_bytes_t b = { NULL, 0, p };
    stmt_t st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv, found = APR_NOTFOUND;

    if (APR_SUCCESS != (rv = get_stmt(&st, db, id, p))) {
        return rv;
    }
    if (st.native) {
        rv = native_step(db, st.native, nargs, args, native_first_bytes, &b, NULL, p);
    }
    else {
        rv = select_stmt(&res, db, st.dbd, nargs, args, p);
    }
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01054) "select %d failed: %s", (int)id,
                      db->last_error);
        return rv;
    }
    if (st.native) {
        if (!b.data) {
            return APR_NOTFOUND;
        }
        *pdata = b.data;
        *plen = b.len;
        return APR_SUCCESS;
    }
    /* drain to the end (the driver frees the result only then) */
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (found == APR_NOTFOUND) {
            found = row_bytes(pdata, plen, db, row, p);
            if (found != APR_SUCCESS && found != APR_NOTFOUND) {
                jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, found, p,
                              JMLOGNO(01055) "select %d: cannot read the bytes: %s",
                              (int)id, db->last_error ? db->last_error : "?");
            }
        }
    }
    return found;
}

apr_status_t jm_db_prepare_once(apr_dbd_prepared_t **pstmt, jm_db_t *db,
                                const char *sql, apr_pool_t *p)
{
    int rc;

    *pstmt = NULL;
    if ((rc = apr_dbd_prepare(db->driver, p, db->handle, sql, NULL, pstmt)) != 0) {
        note_error(db, rc, p);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01056) "cannot prepare (%s): %s", sql, db->last_error);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_exec_prepared(jm_db_t *db, int *pnrows, apr_dbd_prepared_t *stmt,
                                 int nargs, const char **args, apr_pool_t *p)
{
    apr_status_t rv;

    if (APR_SUCCESS != (rv = exec_stmt(db, pnrows, stmt, nargs, args, p))) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01057) "statement failed: %s", db->last_error);
    }
    return rv;
}

apr_status_t jm_db_select_prepared(apr_array_header_t **prows, jm_db_t *db,
                                   apr_dbd_prepared_t *stmt, int nargs,
                                   const char **args, apr_pool_t *p)
{
    apr_dbd_results_t *res;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = select_stmt(&res, db, stmt, nargs, args, p))) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01058) "select failed: %s", db->last_error);
        return rv;
    }
    *prows = apr_array_make(p, 4, sizeof(const char **));
    drain(*prows, db, res, p);
    return APR_SUCCESS;
}

/* Drain a result into rows (const char ** each, NULL values as ""). */
static void drain(apr_array_header_t *rows, jm_db_t *db, apr_dbd_results_t *res,
                  apr_pool_t *p)
{
    apr_dbd_row_t *row = NULL;
    int ncols, i;

    /* always drain to -1: the driver frees the result only then. The
     * column count is known only once a row is fetched (pgsql streams
     * sequential results unless buffered_selects). */
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        const char **cols;
        ncols = apr_dbd_num_cols(db->driver, res);
        cols = apr_pcalloc(p, sizeof(char *) * (ncols + 1));
        for (i = 0; i < ncols; i++) {
            const char *v = apr_dbd_get_entry(db->driver, row, i);
            cols[i] = apr_pstrdup(p, v ? v : "");
        }
        APR_ARRAY_PUSH(rows, const char **) = cols;
    }
}

typedef struct {
    const char *sql;
    apr_dbd_prepared_t *stmt;
    void *native;                   /* dialect->native's, instead of stmt */
} composed_t;

apr_status_t jm_db_select_sql(apr_array_header_t **prows, jm_db_t *db,
                              const char *sql, int nargs, const char **args,
                              apr_pool_t *p)
{
    char label[64];
    composed_t *c;
    apr_dbd_prepared_t *stmt = NULL;
    void *native = NULL;
    apr_dbd_results_t *res = NULL;
    apr_array_header_t *rows = apr_array_make(p, 16, sizeof(const char **));
    int *kept = apr_hash_get(db->prepared, COMPOSED_COUNT, APR_HASH_KEY_STRING);
    int rc;

    apr_snprintf(label, sizeof(label), "jmap_smime_q%.40s",
                 jm_util_sha256_hex(sql, strlen(sql), p));
    c = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    if (c && strcmp(c->sql, sql) == 0) {
        stmt = c->stmt;
        native = c->native;
    }
    else if (!c && (!kept || *kept < JM_DB_COMPOSED_KEPT)) {
        if (db->dialect->native) {
            rc = (native = native_prepare(db, sql, p)) ? 0 : -1;
        }
        else if ((rc = apr_dbd_prepare(db->driver, db->conn_pool, db->handle, sql,
                                       label, &stmt)) != 0) {
            note_error(db, rc, p);
        }
        if (rc != 0) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(09000) "cannot prepare a query (%s): %s", sql,
                          db->last_error);
            return APR_EGENERAL;
        }
        if (!kept) {
            kept = apr_pcalloc(db->conn_pool, sizeof(*kept));
            apr_hash_set(db->prepared, COMPOSED_COUNT, APR_HASH_KEY_STRING, kept);
        }
        ++*kept;
        c = apr_palloc(db->conn_pool, sizeof(*c));
        c->sql = apr_pstrdup(db->conn_pool, sql);
        c->stmt = stmt;
        c->native = native;
        apr_hash_set(db->prepared, apr_pstrdup(db->conn_pool, label),
                     APR_HASH_KEY_STRING, c);
    }
    else if (db->dialect->native) {
        /* past the cache: prepared for this call only, finalized at once */
        char err[256] = "";
        void *once = db->dialect->native->prepare(
            apr_dbd_native_handle(db->driver, db->handle), sql, err, sizeof(err));
        apr_status_t rv = APR_EGENERAL;

        if (!once) {
            db->last_error = apr_pstrdup(p, err);
        }
        else {
            rv = native_run(prows, NULL, db, once, nargs, args, p);
            db->dialect->native->finalize(once);
        }
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(09001) "query failed (%s): %s", sql, db->last_error);
        }
        return rv;
    }
    else if ((rc = apr_dbd_prepare(db->driver, p, db->handle, sql, NULL, &stmt)) != 0) {
        note_error(db, rc, p);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(09002) "cannot prepare a query (%s): %s", sql,
                      db->last_error);
        return APR_EGENERAL;
    }
    if (native) {
        rc = native_run(prows, NULL, db, native, nargs, args, p) == APR_SUCCESS ? 0 : -1;
    }
    else if ((rc = apr_dbd_pselect(db->driver, p, db->handle, &res, stmt,
                                   db->dialect->buffered_selects, nargs, args)) != 0) {
        note_error(db, rc, p);
    }
    if (rc != 0) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(09003) "query failed (%s): %s", sql, db->last_error);
        return APR_EGENERAL;
    }
    if (!native) {
        drain(rows, db, res, p);
        *prows = rows;
    }
    return APR_SUCCESS;
}

static apr_status_t end_txn(jm_db_t *db, int rollback);

static apr_status_t txn_cleanup(void *data)
{
    jm_db_t *db = data;

    if (db->in_txn) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, db->txn_pool,
                      JMLOGNO(01011) "transaction left open; rolling back");
        end_txn(db, 1);
    }
    return APR_SUCCESS;
}

static void unlock_writers(jm_db_t *db)
{
    if (!db->dialect->serialize_writers) {
        return;
    }
    if (server_write_lock) {
        apr_global_mutex_unlock(server_write_lock);
    }
    else if (write_lock) {
        apr_thread_mutex_unlock(write_lock);
    }
}

/* This server's writers queue on server_write_lock (or this process's on
 * write_lock), at most until deadline. */
static apr_status_t lock_writers(jm_db_t *db, apr_interval_time_t max_wait)
{
    if (!db->dialect->serialize_writers) {
        return APR_SUCCESS;
    }
    if (server_write_lock) {
#if APR_VERSION_AT_LEAST(1, 7, 0)
        apr_status_t rv = apr_global_mutex_timedlock(server_write_lock,
                                                     max_wait > 0 ? max_wait : 0);
        /* a Mutex mechanism without a timed wait (the administrator's
         * choice): wait untimed, the holder's transaction is bounded */
        return rv == APR_ENOTIMPL ? apr_global_mutex_lock(server_write_lock) : rv;
#else
        (void)max_wait;
        return apr_global_mutex_lock(server_write_lock);
#endif
    }
    if (!write_lock) {
        return APR_SUCCESS;
    }
#if APR_VERSION_AT_LEAST(1, 7, 0)
    return apr_thread_mutex_timedlock(write_lock, max_wait > 0 ? max_wait : 0);
#else
    (void)max_wait;
    return apr_thread_mutex_lock(write_lock);
#endif
}

/* One native transaction step, retried while the database is locked by
 * another connection, sleeping between attempts (no apr_dbd lock is held
 * here: other threads of this process keep reading meanwhile). */
static int native_txn(jm_db_t *db, jm_txn_op_t op, apr_time_t deadline,
                      char *err, apr_size_t errlen)
{
    void *native = apr_dbd_native_handle(db->driver, db->handle);
    apr_interval_time_t pause = 500;
    int rc;

    for (;;) {
        rc = db->dialect->txn_native(native, op, err, errlen);
        if (rc != JM_TXN_BUSY) {
            return rc;
        }
        if (apr_time_now() + pause > deadline) {
            return JM_TXN_BUSY;
        }
        apr_sleep(pause);
        pause = pause * 2 > 10000 ? 10000 : pause * 2;
    }
}

static apr_status_t run_literal(jm_db_t *db, const char *sql, apr_pool_t *p)
{
    const char *ignored;

    return db->dialect->on_connect_returns_rows
        ? jm_db_select_literal(&ignored, db, sql, p)
        : jm_db_exec_literal(db, sql, p);
}

static apr_status_t begin_durable_within(jm_db_t *db,
                                       apr_interval_time_t max_wait,
                                       apr_pool_t *p);

/* A write transaction with the connection's usual commit (durable or not:
 * the caller decides, see jm_db_set_relaxed). */
static apr_status_t begin_plain(jm_db_t *db, apr_interval_time_t max_wait,
                                apr_pool_t *p)
{
    apr_time_t start = apr_time_now(), deadline = start + max_wait;
    char err[256] = "";
    apr_status_t rv;
    int rc;

    if (db->in_txn) {
        db->last_error = "a transaction is already open on this connection";
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EINVAL, p,
                      JMLOGNO(07010) "cannot start transaction: %s", db->last_error);
        return APR_EINVAL;
    }
    if ((rv = lock_writers(db, max_wait)) != APR_SUCCESS) {
        db->last_error = "the store is busy (this server's writers are queued)";
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p,
                      JMLOGNO(07011) "gave up waiting for the write lock after "
                      "%" APR_TIME_T_FMT " ms: other writes of this server "
                      "are queued before this one", apr_time_as_msec(max_wait));
        return APR_TIMEUP;
    }
    if (db->dialect->txn_native) {
        rc = native_txn(db, JM_TXN_BEGIN, deadline, err, sizeof(err));
        if (rc == JM_TXN_BUSY) {
            unlock_writers(db);
            db->last_error = "the store is busy (the database write lock is held "
                             "by another process)";
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, APR_TIMEUP, p,
                          JMLOGNO(07012) "gave up waiting for the %s write lock "
                          "after %" APR_TIME_T_FMT " ms: another process (a second "
                          "httpd, a backup, a sqlite3 shell) holds a long write "
                          "transaction", db->dialect->driver,
                          apr_time_as_msec(apr_time_now() - start));
            return APR_TIMEUP;
        }
        if (rc != JM_TXN_OK) {
            unlock_writers(db);
            db->last_error = apr_pstrdup(p, err);
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(01006) "cannot start transaction: %s",
                          db->last_error);
            return APR_EGENERAL;
        }
    }
    else {
        rc = apr_dbd_transaction_start(db->driver, p, db->handle, &db->txn);
        if (rc != 0) {
            note_error(db, rc, p);
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                          JMLOGNO(07013) "cannot start transaction: %s",
                          db->last_error);
            db->txn = NULL;
            unlock_writers(db);
            return APR_EGENERAL;
        }
    }
    if (apr_time_now() - start > apr_time_from_sec(1)) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p,
                      JMLOGNO(07014) "waited %" APR_TIME_T_FMT " ms for the %s "
                      "write lock", apr_time_as_msec(apr_time_now() - start),
                      db->dialect->driver);
    }
    db->in_txn = 1;
    db->txn_pool = p;
    apr_pool_cleanup_register(p, db, txn_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

apr_status_t jm_db_begin_within(jm_db_t *db, apr_interval_time_t max_wait,
                                apr_pool_t *p)
{
    apr_status_t rv;

    if (!db->relaxed) {
        return begin_durable_within(db, max_wait, p);
    }
    if ((rv = begin_plain(db, max_wait, p)) != APR_SUCCESS) {
        return rv;
    }
    /* relaxed where the administrator said so (JMAPDurability relaxed):
     * a crash may lose the last commits, never tear one */
    if (db->dialect->relaxed_in_txn
        && (rv = run_literal(db, db->dialect->relaxed_in_txn, p)) != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_begin(jm_db_t *db, apr_pool_t *p)
{
    return jm_db_begin_within(db, JM_DB_WRITE_WAIT, p);
}

void jm_db_set_relaxed(jm_db_t *db, int relaxed)
{
    db->relaxed = relaxed;
}

apr_status_t jm_db_begin_durable(jm_db_t *db, apr_pool_t *p)
{
    return begin_durable_within(db, JM_DB_WRITE_WAIT, p);
}

static apr_status_t begin_durable_within(jm_db_t *db,
                                         apr_interval_time_t max_wait,
                                         apr_pool_t *p)
{
    apr_status_t rv;

    if (db->in_txn) {
        return begin_plain(db, max_wait, p);      /* the same error */
    }
    if ((rv = begin_plain(db, max_wait, p)) != APR_SUCCESS) {
        return rv;
    }
    db->durable = 1;
    return APR_SUCCESS;
}

int jm_db_in_transaction(const jm_db_t *db)
{
    return db->in_txn;
}

static apr_status_t end_txn(jm_db_t *db, int rollback)
{
    apr_pool_t *p = db->txn_pool;
    char err[256] = "";
    const char *msg = NULL;
    int rc;

    if (!db->in_txn) {
        return APR_EINVAL;
    }
    if (db->dialect->txn_native) {
        rc = native_txn(db, rollback ? JM_TXN_ROLLBACK : JM_TXN_COMMIT,
                        apr_time_now() + JM_DB_WRITE_WAIT, err, sizeof(err));
        if (rc == JM_TXN_BUSY) {
            msg = "the database stayed locked";
        }
        else if (rc != JM_TXN_OK) {
            msg = err;
        }
        if (msg && !rollback) {
            /* a failed COMMIT leaves the transaction open: end it */
            native_txn(db, JM_TXN_ROLLBACK, apr_time_now() + JM_DB_WRITE_WAIT,
                       err, sizeof(err));
        }
    }
    else {
        if (rollback) {
            apr_dbd_transaction_mode_set(db->driver, db->txn,
                                         APR_DBD_TRANSACTION_ROLLBACK);
        }
        rc = apr_dbd_transaction_end(db->driver, p, db->txn);
        if (rc != 0) {
            msg = apr_dbd_error(db->driver, db->handle, rc);
        }
        db->txn = NULL;
    }
    db->in_txn = 0;
    apr_pool_cleanup_kill(p, db, txn_cleanup);
    unlock_writers(db);
    if (db->durable && !rollback && !msg && db->dialect->sync_native
        && db->dialect->sync_native(apr_dbd_native_handle(db->driver, db->handle),
                                    err, sizeof(err)) != 0) {
        /* committed and visible, but maybe not on disk: the caller says
         * it failed rather than promise what the disk may not keep */
        db->durable = 0;
        db->last_error = apr_pstrcat(p, "the commit could not be flushed to "
                                     "stable storage: ", err, NULL);
        jm_log_perror(JM_LOG_MARK, JM_LOG_CRIT, APR_EGENERAL, p,
                      JMLOGNO(07016) "%s", db->last_error);
        return APR_EGENERAL;
    }
    db->durable = 0;
    if (msg) {
        db->last_error = apr_pstrdup(p, msg);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                      JMLOGNO(01007) "cannot %s transaction: %s",
                      rollback ? "roll back" : "commit", db->last_error);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t jm_db_commit(jm_db_t *db)
{
    return end_txn(db, 0);
}

apr_status_t jm_db_rollback(jm_db_t *db)
{
    return end_txn(db, 1);
}
