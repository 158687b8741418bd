/* A database connection as the core sees it: an apr_dbd handle (from
 * mod_dbd's pool in production, from apr_dbd_open in tests), its dialect and
 * its prepared statements. Statements are prepared lazily, once per
 * connection, into the connection's own hash and pool, so they live exactly
 * as long as the connection does. A jm_db_t is used by one thread at a time.
 */
#ifndef JM_DB_H
#define JM_DB_H

#include <apr_global_mutex.h>
#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>
#include <apr_time.h>
#include "store/sql/jm_sql.h"

typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;      /**< label -> prepared statement, connection lifetime */
    apr_pool_t *conn_pool;     /**< connection lifetime pool */
    const jm_sql_dialect_t *dialect;
    apr_dbd_transaction_t *txn;/**< apr_dbd's, for dialects without txn_native */
    int in_txn;                /**< a transaction is open */
    apr_pool_t *txn_pool;      /**< pool the open transaction was started on */
    const char *last_error;    /**< driver's message for the last failure */
    int durable;               /**< the open transaction is jm_db_begin_durable's */
    int relaxed;               /**< jm_db_set_relaxed: writes need not be durable */
} jm_db_t;

/** Close the connection (instead of apr_dbd_close): the statements kept
 *  on its native handle are finalized first, or SQLite would not close it.
 *  mod_dbd's connections need nothing: their pool's cleanup does it. */
void jm_db_close(jm_db_t *db);

/** Per-process set-up (child_init, before threads): the lock that queues
 *  SQLite write transactions of this process. */
apr_status_t jm_db_process_init(apr_pool_t *pchild);

/** Per-process set-up (child_init, after apr_global_mutex_child_init): a
 *  lock shared by all processes of this server, which then queues SQLite
 *  write transactions instead of the per-process lock, so writers of
 *  different processes hand the database on at once instead of polling
 *  for it. NULL keeps the per-process lock. */
void jm_db_set_server_write_lock(apr_global_mutex_t *lock);

/** The dialect for an apr_dbd driver name, or NULL if unsupported. */
const jm_sql_dialect_t *jm_db_dialect_for(const char *driver_name);

/**
 * Wrap a connection. prepared/conn_pool must live as long as the connection
 * (mod_dbd: ap_dbd_t's prepared and pool). Runs the dialect's per-connection
 * setup the first time this connection is seen.
 */
apr_status_t jm_db_wrap(jm_db_t **pdb, const apr_dbd_driver_t *driver,
                        apr_dbd_t *handle, apr_hash_t *prepared,
                        apr_pool_t *conn_pool, apr_pool_t *p);

/** Run statement id with nargs text arguments; *pnrows = affected rows. */
apr_status_t jm_db_exec(jm_db_t *db, int *pnrows, jm_sql_id_t id, int nargs,
                        const char **args, apr_pool_t *p);

/** Run a select and drain all rows: array of (const char **) with ncols
 *  columns each (NULL values become ""). */
apr_status_t jm_db_select(apr_array_header_t **prows, jm_db_t *db,
                          jm_sql_id_t id, int nargs, const char **args,
                          apr_pool_t *p);

/** Run statement id (a select of one column of bytes) and give the first
 *  column of its first row as bytes (*pdata NUL-terminated, *plen without
 *  it), in p; APR_NOTFOUND if there is no row or the value is NULL. Binary
 *  safe on both dialects: see jm_sql_dialect_t.bytes_as_hex. Binding
 *  bytes needs nothing of its own: a %pDb placeholder takes four of the
 *  text arguments of jm_db_exec (the bytes, their length in decimal, a
 *  table and a column name, which sqlite3 and pgsql ignore). */
apr_status_t jm_db_select_bytes(const unsigned char **pdata, apr_size_t *plen,
                                jm_db_t *db, jm_sql_id_t id, int nargs,
                                const char **args, apr_pool_t *p);

/** A statement of a migration step, prepared on p and not kept in the
 *  connection's cache: the schema changes under the connection while it
 *  migrates, and a statement kept from then would fail afterwards (SQLite
 *  expires statements prepared before a schema change). */
apr_status_t jm_db_prepare_once(apr_dbd_prepared_t **pstmt, jm_db_t *db,
                                const char *sql, apr_pool_t *p);

/** jm_db_exec and jm_db_select for a statement of jm_db_prepare_once. */
apr_status_t jm_db_exec_prepared(jm_db_t *db, int *pnrows, apr_dbd_prepared_t *stmt,
                                 int nargs, const char **args, apr_pool_t *p);
apr_status_t jm_db_select_prepared(apr_array_header_t **prows, jm_db_t *db,
                                   apr_dbd_prepared_t *stmt, int nargs,
                                   const char **args, apr_pool_t *p);

/** Composed statements a connection keeps prepared (jm_db_select_sql). */
#define JM_DB_COMPOSED_KEPT 128

/**
 * Run a select whose text was composed at run time (Email/query) and drain
 * it like jm_db_select. Safe because the caller composes sql only from the
 * dialect's constant fragments, every value bound through a placeholder
 * (%s, %lld): the texts depend on the shape of a query, never on its values.
 * It is prepared once per connection under a label derived from the
 * SHA-256 of the text (the text is compared on a hit too, so no two texts
 * share a statement), in the connection's pool like get_stmt. Shapes are
 * many (filters nest), so at most JM_DB_COMPOSED_KEPT are kept per
 * connection; past that a statement is run once and not kept.
 */
apr_status_t jm_db_select_sql(apr_array_header_t **prows, jm_db_t *db,
                              const char *sql, int nargs, const char **args,
                              apr_pool_t *p);

/** Run a literal statement (schema/migration only; never with user data). */
apr_status_t jm_db_exec_literal(jm_db_t *db, const char *sql, apr_pool_t *p);

/** Run a literal statement that answers with rows (SQLite PRAGMA) and
 *  drain them; the first column of the first row in *pfirst (or NULL). */
apr_status_t jm_db_select_literal(const char **pfirst, jm_db_t *db,
                                  const char *sql, apr_pool_t *p);

/** How long jm_db_begin waits for the write lock (SQLite: held by another
 *  process or node, e.g. a long write transaction or a backup) before it
 *  gives up with APR_TIMEUP. */
#define JM_DB_WRITE_WAIT apr_time_from_sec(5)

/** Transactions: one per jm_db_t at a time; rollback after a failure. A
 *  transaction still open when its pool is cleared is rolled back.
 *  SQLite: a write transaction (BEGIN IMMEDIATE), taken with short attempts
 *  that sleep outside apr_dbd's process-wide lock, so readers of this
 *  process never wait for a lock another process holds; APR_TIMEUP (logged,
 *  retryable: the store is busy) after JM_DB_WRITE_WAIT. */
apr_status_t jm_db_begin(jm_db_t *db, apr_pool_t *p);
/** jm_db_begin with another bound on the wait (schema migration). */
apr_status_t jm_db_begin_within(jm_db_t *db, apr_interval_time_t max_wait,
                                apr_pool_t *p);
/** jm_db_begin for a transaction whose jm_db_commit returns only once it
 *  is on stable storage (mail delivery: the MTA deletes its copy when told
 *  so). SQLite: the WAL is flushed after COMMIT, once the write lock is
 *  given back (a flush that fails makes jm_db_commit fail, though the
 *  commit is visible); PostgreSQL: any commit is (with the server's fsync
 *  on). */
apr_status_t jm_db_begin_durable(jm_db_t *db, apr_pool_t *p);
/** Which commit jm_db_begin gives. 0 (the default): every write
 *  transaction is jm_db_begin_durable's, on stable storage when
 *  jm_db_commit returns. 1 (JMAPDurability relaxed, for the client writes
 *  of a server whose administrator chose speed): SQLite commits with the
 *  connection's synchronous = NORMAL, PostgreSQL with synchronous_commit
 *  off; a crash may lose the last commits but never tears one.
 *  jm_db_begin_durable is durable either way. */
void jm_db_set_relaxed(jm_db_t *db, int relaxed);
/** 1 while a transaction is open on db. */
int jm_db_in_transaction(const jm_db_t *db);
apr_status_t jm_db_commit(jm_db_t *db);
apr_status_t jm_db_rollback(jm_db_t *db);

#endif
