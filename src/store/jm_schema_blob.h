/* The C step of the schema 5 migration (JM_SQL_STEP_BLOB_CONTENTS in a
 * dialect's migration list): base64 blob rows to binary content rows. */
#ifndef JM_SCHEMA_BLOB_H
#define JM_SCHEMA_BLOB_H

#include "store/jm_db.h"

/** Run inside the migration's transaction, after jm_contents,
 *  jm_content_chunks and jm_blobs.content_key exist: every jm_blobs row
 *  without a content key gets the SHA-256 (hex) of its decoded
 *  jm_blob_chunks rows, and each distinct content's bytes are written once
 *  to jm_content_chunks. A row that is not base64 fails the step (*perr
 *  names the blob); a blob with rows missing is carried over as what is
 *  there (logged), as damaged as it was. */
apr_status_t jm_schema_blob_contents(jm_db_t *db, const char **perr, apr_pool_t *p);

#endif
