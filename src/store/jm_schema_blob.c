/* Schema 4 -> 5, the step SQL cannot do on SQLite: base64 chunk rows of
 * each blob (jm_blob_chunks, per account) become binary content rows
 * (jm_content_chunks, once per distinct content, keyed by the SHA-256 of
 * the bytes). Memory stays at one row: blobs are taken a few at a time,
 * each read twice row by row (once to hash, once, if its content is new,
 * to store it), never whole. Runs inside the migration's transaction. */
#include <string.h>
#include <openssl/evp.h>
#include <apr_strings.h>
#include "store/jm_schema_blob.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

/* Blobs handled per select of those still to do (those done leave it). */
#define BATCH 64

typedef struct {
    jm_db_t *db;
    apr_dbd_prepared_t *todo, *chunk, *content, *store, *mark;
    const char **perr;
} step_t;

#define A(...) (const char *[]){ __VA_ARGS__ }

static apr_status_t fail(step_t *st, const char *what, const char *account,
                         const char *blob, apr_pool_t *p)
{
    *st->perr = apr_psprintf(p, "blob %s of account %s: %s%s%s", blob, account, what,
                             st->db->last_error ? ": " : "",
                             st->db->last_error ? st->db->last_error : "");
    return APR_EGENERAL;
}

/* Row seq of the blob, decoded: APR_NOTFOUND past its last row. */
static apr_status_t old_chunk(const unsigned char **pdata, apr_size_t *plen, step_t *st,
                              const char *account, const char *blob, apr_int64_t seq,
                              apr_pool_t *p)
{
    apr_array_header_t *rows;
    const char *b64;
    apr_status_t rv;

    rv = jm_db_select_prepared(&rows, st->db, st->chunk, 3,
                               A(account, blob, apr_psprintf(p, "%" APR_INT64_T_FMT, seq)), p);
    if (rv != APR_SUCCESS) {
        return fail(st, "cannot read its rows", account, blob, p);
    }
    if (rows->nelts == 0) {
        return APR_NOTFOUND;
    }
    b64 = APR_ARRAY_IDX(rows, 0, const char **)[0];
    *plen = 0;
    /* every row is base64 of its own (cut at multiples of 4 characters) */
    if (!*b64 || strlen(b64) > JM_SQL_CHUNK_CHARS
        || !(*pdata = jm_util_unbase64(b64, plen, p)) || *plen == 0) {
        st->db->last_error = NULL;
        return fail(st, apr_psprintf(p, "row %" APR_INT64_T_FMT " is not base64 of "
                                     "at most %d bytes", seq, JM_SQL_CHUNK_BYTES),
                    account, blob, p);
    }
    return APR_SUCCESS;
}

/* The key of the blob's bytes and how many there are. */
static apr_status_t hash_blob(const char **pkey, apr_int64_t *psize, step_t *st,
                              const char *account, const char *blob, apr_pool_t *p)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t seq;
    apr_pool_t *sub;
    char *hex;

    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return fail(st, "cannot hash (OpenSSL)", account, blob, p);
    }
    *psize = 0;
    apr_pool_create(&sub, p);
    for (seq = 0; rv == APR_SUCCESS; seq++) {
        const unsigned char *data;
        apr_size_t len;

        apr_pool_clear(sub);
        rv = old_chunk(&data, &len, st, account, blob, seq, sub);
        if (rv == APR_SUCCESS) {
            EVP_DigestUpdate(md, data, len);
            *psize += (apr_int64_t)len;
        }
        else if (rv != APR_NOTFOUND) {
            *st->perr = apr_pstrdup(p, *st->perr);   /* it lived in sub */
        }
    }
    apr_pool_destroy(sub);
    if (rv == APR_NOTFOUND) {
        rv = EVP_DigestFinal_ex(md, h, &hlen) ? APR_SUCCESS
             : fail(st, "cannot hash (OpenSSL)", account, blob, p);
    }
    EVP_MD_CTX_free(md);
    if (rv == APR_SUCCESS) {
        unsigned int i;

        hex = apr_palloc(p, 2 * hlen + 1);
        for (i = 0; i < hlen; i++) {
            apr_snprintf(hex + 2 * i, 3, "%02x", h[i]);
        }
        *pkey = hex;
    }
    return rv;
}

/* The blob's rows again, stored as the content's binary rows. */
static apr_status_t store_blob(step_t *st, const char *key, const char *account,
                               const char *blob, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t seq;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    for (seq = 0; rv == APR_SUCCESS; seq++) {
        const unsigned char *data;
        apr_size_t len;
        const char *s;

        apr_pool_clear(sub);
        rv = old_chunk(&data, &len, st, account, blob, seq, sub);
        if (rv == APR_SUCCESS) {
            s = apr_psprintf(sub, "%" APR_INT64_T_FMT, seq);
            /* %pDb: bytes, length, table, column */
            rv = jm_db_exec_prepared(st->db, NULL, st->store, 6,
                                     A(key, s, (const char *)data,
                                       apr_psprintf(sub, "%" APR_SIZE_T_FMT, len),
                                       "jm_content_chunks", "data"), sub);
            if (rv != APR_SUCCESS) {
                rv = fail(st, "cannot store its content", account, blob, sub);
            }
        }
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            *st->perr = apr_pstrdup(p, *st->perr);
        }
    }
    apr_pool_destroy(sub);
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

static apr_status_t one_blob(step_t *st, const char *account, const char *blob,
                             apr_int64_t size, const char *created, apr_pool_t *p)
{
    const char *key;
    apr_int64_t got;
    apr_status_t rv;
    int nrows = 0;

    if (APR_SUCCESS != (rv = hash_blob(&key, &got, st, account, blob, p))) {
        return rv;
    }
    if (got != size) {
        /* carried over as it is: downloads keep reporting it damaged */
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(01059)
                      "schema 5 migration: blob %s of account %s has %" APR_INT64_T_FMT
                      " of its %" APR_INT64_T_FMT " bytes (damaged before)", blob,
                      account, got, size);
    }
    rv = jm_db_exec_prepared(st->db, &nrows, st->content, 3,
                             A(key, apr_psprintf(p, "%" APR_INT64_T_FMT, got), created), p);
    if (rv != APR_SUCCESS) {
        return fail(st, "cannot record its content", account, blob, p);
    }
    if (nrows > 0 && APR_SUCCESS != (rv = store_blob(st, key, account, blob, p))) {
        return rv;
    }
    if (jm_db_exec_prepared(st->db, NULL, st->mark, 3, A(key, account, blob), p)
        != APR_SUCCESS) {
        return fail(st, "cannot point it at its content", account, blob, p);
    }
    return APR_SUCCESS;
}

apr_status_t jm_schema_blob_contents(jm_db_t *db, const char **perr, apr_pool_t *p)
{
    step_t st = { db, NULL, NULL, NULL, NULL, NULL, perr };
    apr_array_header_t *rows;
    apr_pool_t *sub;
    apr_status_t rv;
    long done = 0;
    int i;

    if (jm_db_prepare_once(&st.todo, db, "SELECT account_id, id, size, created"
                           " FROM jm_blobs WHERE content_key IS NULL LIMIT %lld", p)
        || jm_db_prepare_once(&st.chunk, db, "SELECT data FROM jm_blob_chunks"
                              " WHERE account_id = %s AND blob_id = %s AND seq = %lld", p)
        || jm_db_prepare_once(&st.content, db, "INSERT INTO jm_contents (content_key,"
                              " size, created) VALUES (%s, %lld, %lld)"
                              " ON CONFLICT (content_key) DO NOTHING", p)
        || jm_db_prepare_once(&st.store, db, "INSERT INTO jm_content_chunks"
                              " (content_key, seq, data) VALUES (%s, %lld, %pDb)", p)
        || jm_db_prepare_once(&st.mark, db, "UPDATE jm_blobs SET content_key = %s"
                              " WHERE account_id = %s AND id = %s", p)) {
        *perr = apr_psprintf(p, "cannot prepare the blob content step: %s",
                             db->last_error);
        return APR_EGENERAL;
    }
    apr_pool_create(&sub, p);
    do {
        apr_pool_clear(sub);
        rv = jm_db_select_prepared(&rows, db, st.todo, 1,
                                   A(apr_psprintf(sub, "%d", BATCH)), sub);
        if (rv != APR_SUCCESS) {
            *perr = apr_psprintf(p, "cannot list the blobs: %s", db->last_error);
            break;
        }
        for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
            const char **r = APR_ARRAY_IDX(rows, i, const char **);
            rv = one_blob(&st, r[0], r[1], apr_atoi64(r[2]), r[3], sub);
            done++;
        }
        if (rv != APR_SUCCESS) {
            *perr = apr_pstrdup(p, *perr);
        }
    } while (rv == APR_SUCCESS && rows->nelts > 0);
    apr_pool_destroy(sub);
    if (rv == APR_SUCCESS && done > 0) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_NOTICE, 0, p, JMLOGNO(01060)
                      "schema 5 migration: %ld blob(s) moved to binary content rows",
                      done);
    }
    return rv;
}
