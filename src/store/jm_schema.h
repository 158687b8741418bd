/* Schema creation and migration, run once at startup (post_config) on a
 * connection of its own, before any child serves a request. */
#ifndef JM_SCHEMA_H
#define JM_SCHEMA_H

#include "store/jm_db.h"

/**
 * Bring the database to the dialect's schema version: create it when empty,
 * migrate an older one step by step (each step one transaction), refuse a
 * newer one. For SQLite, switch the file to WAL journalling first.
 * @param pfrom  the version found (0 = empty database)
 * @param perr   on failure, a message for the administrator
 */
apr_status_t jm_schema_migrate(jm_db_t *db, int *pfrom, const char **perr,
                               apr_pool_t *p);

#endif
