/* Blobs (RFC 8620 §6): per-account references to content stored once, in
 * binary chunks. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_int.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

/* The content's bytes in binary rows of at most JM_SQL_CHUNK_BYTES. */
static apr_status_t put_chunks(jm_db_t *db, const char *key,
                               const unsigned char *data, apr_size_t len,
                               apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t off, n;
    apr_int64_t seq;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    for (off = 0, seq = 0; rv == APR_SUCCESS && off < len; off += n, seq++) {
        n = len - off < JM_SQL_CHUNK_BYTES ? len - off : JM_SQL_CHUNK_BYTES;
        /* %pDb: bytes, their length, table and column (see jm_db_select_bytes) */
        rv = jm_store_keep_error(EXEC(db, JM_SQL_CONTENT_CHUNK_INSERT, sub, key,
                                      jm_i64(seq, sub), (const char *)data + off,
                                      jm_i64((apr_int64_t)n, sub), "jm_content_chunks",
                                      "data"),
                                 db, p);
        apr_pool_clear(sub);
    }
    apr_pool_destroy(sub);
    return rv;
}

/* The end of a transaction the function began itself (own): committed
 * after success, rolled back after a failure; none begun, rv as it is. */
static apr_status_t end_own(jm_db_t *db, int own, apr_status_t rv)
{
    if (!own) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    return jm_db_commit(db);
}

/* Content is keyed by the SHA-256 of its bytes (lower-case hex), whatever
 * the blob id: stored once however many blobs of however many accounts
 * name it. A key already stored needs no bytes: same hash, same bytes.
 * Nothing deletes blobs or content (RFC 8620 §6 allows dropping
 * unreferenced blobs; this server keeps them); whatever does one day must
 * delete content only in the transaction that removes its last jm_blobs
 * row (index jm_blobs_by_content). */
apr_status_t jm_store_blob_put(jm_db_t *db, const char *account_id,
                               const char *blob_id, const char *type,
                               const void *data, apr_size_t len, apr_pool_t *p)
{
    int own = !jm_db_in_transaction(db), nrows = 0;
    const char *key = jm_util_sha256_hex(data, len, p);
    const char *now = jm_i64(apr_time_sec(apr_time_now()), p);
    apr_status_t rv;

    if (own && APR_SUCCESS != (rv = jm_db_begin(db, p))) {
        return rv;
    }
    rv = jm_db_exec(db, &nrows, JM_SQL_BLOB_INSERT, 6,
                    ARGS(account_id, blob_id, jm_i64((apr_int64_t)len, p), type,
                         now, key), p);
    if (rv == APR_SUCCESS && nrows > 0) {       /* 0: the account has it */
        /* PostgreSQL: a concurrent first store of the same bytes makes
         * this wait for that transaction, then do nothing (or store them
         * if it rolled back) */
        rv = jm_db_exec(db, &nrows, JM_SQL_CONTENT_INSERT, 3,
                        ARGS(key, jm_i64((apr_int64_t)len, p), now), p);
        if (rv == APR_SUCCESS && nrows > 0) {   /* 0: stored before */
            rv = put_chunks(db, key, data, len, p);
        }
    }
    return end_own(db, own, rv);
}

apr_status_t jm_store_blob_link(jm_db_t *db, const char *to_account,
                                const char *from_account, const char *blob_id,
                                apr_pool_t *p)
{
    int own = !jm_db_in_transaction(db), nrows = 0;
    apr_int64_t size;
    apr_status_t rv;

    /* a write like any other: in a transaction (SQLite's write lock) */
    if (own && APR_SUCCESS != (rv = jm_db_begin(db, p))) {
        return rv;
    }
    rv = jm_db_exec(db, &nrows, JM_SQL_BLOB_LINK, 4,
                    ARGS(to_account, jm_i64(apr_time_sec(apr_time_now()), p),
                         from_account, blob_id), p);
    if (rv == APR_SUCCESS && nrows == 0) {
        /* nothing inserted: already in to_account, or not in from_account */
        rv = jm_store_blob_info(&size, NULL, db, from_account, blob_id, p);
    }
    return end_own(db, own, rv);
}

apr_status_t jm_store_blob_info(apr_int64_t *psize, const char **ptype,
                                jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_BLOB_INFO, p, account_id,
                                    blob_id))) {
        return rv;
    }
    if (rows->nelts != 1) {
        return APR_NOTFOUND;
    }
    *psize = apr_atoi64(COL(rows, 0, 0));
    if (ptype) {
        *ptype = COL(rows, 0, 1);
    }
    return APR_SUCCESS;
}

static apr_status_t damaged(const char *account_id, const char *blob_id,
                            const char *why, apr_int64_t seq, apr_pool_t *p)
{
    jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p,
                  JMLOGNO(01030) "blob %s of account %s is damaged in the "
                  "database: %s at chunk %" APR_INT64_T_FMT, blob_id, account_id,
                  why, seq);
    return APR_EGENERAL;
}

apr_status_t jm_store_blob_read(jm_db_t *db, const char *account_id,
                                const char *blob_id, apr_int64_t size,
                                jm_store_chunk_fn *fn, void *baton,
                                apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t got = 0, seq;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    for (seq = 0; rv == APR_SUCCESS && got < size; seq++) {
        const unsigned char *data = NULL;
        apr_size_t len = 0;

        apr_pool_clear(sub);
        /* through the account's reference: another account's blob id
         * reads nothing here */
        rv = jm_db_select_bytes(&data, &len, db, JM_SQL_BLOB_CHUNK_GET, 3,
                                ARGS(account_id, blob_id, jm_i64(seq, sub)), sub);
        if (rv == APR_NOTFOUND) {
            rv = damaged(account_id, blob_id, "missing", seq, p);
        }
        else if (rv != APR_SUCCESS) {
            rv = jm_store_keep_error(rv, db, p);
        }
        else if (len == 0) {
            rv = damaged(account_id, blob_id, "empty", seq, p);
        }
        else if ((apr_int64_t)len > size - got) {
            rv = damaged(account_id, blob_id, "longer than the stored size", seq, p);
        }
        else {
            got += (apr_int64_t)len;
            rv = fn(baton, data, len);
        }
    }
    apr_pool_destroy(sub);
    return rv;
}

typedef struct {
    unsigned char *buf;
    apr_size_t used;
} collect_t;

static apr_status_t collect(void *baton, const unsigned char *data, apr_size_t len)
{
    collect_t *c = baton;

    memcpy(c->buf + c->used, data, len);
    c->used += len;
    return APR_SUCCESS;
}

apr_status_t jm_store_blob_get(const unsigned char **pdata, apr_size_t *plen,
                               const char **ptype, jm_db_t *db,
                               const char *account_id, const char *blob_id,
                               apr_pool_t *p)
{
    apr_int64_t size;
    collect_t c;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = jm_store_blob_info(&size, ptype, db, account_id,
                                                blob_id, p))) {
        return rv;
    }
    if (size < 0 || (apr_uint64_t)size >= APR_SIZE_MAX) {
        return damaged(account_id, blob_id, "impossible size", 0, p);
    }
    c.buf = apr_palloc(p, (apr_size_t)size + 1);
    c.used = 0;
    if (APR_SUCCESS != (rv = jm_store_blob_read(db, account_id, blob_id, size,
                                                collect, &c, p))) {
        return rv;
    }
    c.buf[c.used] = '\0';
    *pdata = c.buf;
    *plen = c.used;
    return APR_SUCCESS;
}

