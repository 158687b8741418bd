/* mod_dbd glue: per-request connections and startup schema migration. */
#ifndef MOD_JM_DBD_H
#define MOD_JM_DBD_H

#include <httpd.h>
#include "store/jm_db.h"

/** Look up mod_dbd's optional functions (optional_fn_retrieve hook). */
void jm_dbd_retrieve_fns(void);

/** 1 if mod_dbd is loaded. */
int jm_dbd_available(void);

/**
 * Create or migrate the schema of every database that DBDriver/DBDParams
 * name in the configuration (post_config, as root). For SQLite, hands the
 * file to the httpd User. Returns non-OK with a logged reason on failure.
 */
int jm_dbd_migrate_all(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/** The request's store connection (mod_dbd's pool; released with r->pool).
 *  APR_EAGAIN when mod_dbd cannot give one (logged). */
apr_status_t jm_dbd_acquire(jm_db_t **pdb, request_rec *r);

/** A store connection outside any request (LMTP) from mod_dbd's pool,
 *  given back when p is cleared or destroyed. APR_EAGAIN when mod_dbd
 *  cannot give one (logged). */
apr_status_t jm_dbd_open(jm_db_t **pdb, server_rec *s, apr_pool_t *p);

/** Register the Mutex "jmap-smime-db" (pre_config). */
int jm_dbd_pre_config(apr_pool_t *pconf);

/** Make the write lock across this server's processes (post_config, real
 *  run); a failure is logged and leaves the per-process lock. Returns OK. */
int jm_dbd_write_lock_create(apr_pool_t *pconf, server_rec *s);

/** Attach this child to that lock and hand it to the store (child_init,
 *  after jm_db_process_init). */
void jm_dbd_child_init(apr_pool_t *pchild, server_rec *s);

#endif
