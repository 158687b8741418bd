/* Unit tests: blob content stored once, in binary (schema 5). Same bytes
 * in two accounts, or twice in one, are one jm_contents row; access stays
 * per account (an id works only where the account has a reference; the
 * reference Blob/copy makes with jm_store_blob_link); bytes with NUL and
 * 0xFF round-trip, in several chunks read one at a time, stored as binary
 * (not base64); a rolled-back store leaves no content behind. On SQLite
 * also the C step of the schema 5 migration (base64 rows to binary content
 * rows), with bad rows. SQLite always; PostgreSQL too when
 * JMAP_TEST_PG_PORT is set (role jmap/jmappw, t/lib/pg-start.sh). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "db_suite.h"
#include "store/jm_schema.h"
#include "store/jm_schema_blob.h"
#include "store/jm_store.h"
#include "core/jm_util.h"

static apr_pool_t *pool;

typedef struct {
    unsigned char *buf;
    apr_size_t used, cap;
    int calls;
} sink_t;

static apr_status_t sink(void *baton, const unsigned char *data, apr_size_t len)
{
    sink_t *s = baton;

    if (s->used + len > s->cap) {
        return APR_ENOSPC;
    }
    memcpy(s->buf + s->used, data, len);
    s->used += len;
    s->calls++;
    return APR_SUCCESS;
}

/* The first column of the first row of a literal query ("?" if none). */
static const char *q1(jm_db_t *db, const char *sql)
{
    const char *v = NULL;

    if (jm_db_select_literal(&v, db, sql, pool) != APR_SUCCESS || !v) {
        return "?";
    }
    return v;
}

static const char *count_of_key(jm_db_t *db, const char *table, const char *key)
{
    return q1(db, apr_psprintf(pool, "SELECT COUNT(*) FROM %s WHERE content_key = '%s'",
                               table, key));
}

static int blob_is(jm_db_t *db, const char *acc, const char *id,
                   const unsigned char *want, apr_size_t want_len)
{
    const unsigned char *data;
    apr_size_t len;

    return jm_store_blob_get(&data, &len, NULL, db, acc, id, pool) == APR_SUCCESS
           && len == want_len && memcmp(data, want, len) == 0;
}

static void run(jm_db_t *db, const char *label)
{
    const char *err = NULL, *a, *b, *type, *kbin, *kbig, *hex_sql;
    const unsigned char *data;
    unsigned char bin[300], *big;
    apr_size_t len, big_len = 2 * JM_SQL_CHUNK_BYTES + 1;
    apr_int64_t size;
    int from, created, i, pg = !strcmp(db->dialect->driver, "pgsql");
    sink_t sk;

    diag("--- %s", label);
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema (%s)", err ? err : "");
    is_str(q1(db, "SELECT version FROM jm_schema"),
           apr_itoa(pool, db->dialect->schema_version), "the current schema version");
    ok(jm_store_account_ensure(&a, &created, db, apr_psprintf(pool, "a%d", (int)getpid()),
                               pool) == APR_SUCCESS, "account A");
    ok(jm_store_account_ensure(&b, &created, db, apr_psprintf(pool, "b%d", (int)getpid()),
                               pool) == APR_SUCCESS, "account B");

    /* binary: every byte value, NULs and 0xFF runs at both ends */
    for (i = 0; i < (int)sizeof(bin); i++) {
        bin[i] = (unsigned char)(i < 256 ? i : (i % 2 ? 0xff : 0x00));
    }
    bin[0] = 0x00;
    bin[sizeof(bin) - 1] = 0xff;
    kbin = jm_util_sha256_hex(bin, sizeof(bin), pool);
    ok(jm_store_blob_put(db, a, "Gbin", "application/octet-stream", bin, sizeof(bin), pool)
       == APR_SUCCESS, "put 300 bytes with NUL and 0xFF in A");
    ok(blob_is(db, a, "Gbin", bin, sizeof(bin)), "they come back byte for byte");
    hex_sql = pg ? "SELECT encode(data, 'hex') FROM jm_content_chunks WHERE content_key = '%s'"
                 : "SELECT lower(hex(data)) FROM jm_content_chunks WHERE content_key = '%s'";
    {
        char hex[2 * sizeof(bin) + 1];
        for (i = 0; i < (int)sizeof(bin); i++) {
            apr_snprintf(hex + 2 * i, 3, "%02x", bin[i]);
        }
        is_str(q1(db, apr_psprintf(pool, hex_sql, kbin)), hex,
               "stored as the bytes themselves (binary, not base64)");
    }
    is_str(q1(db, apr_psprintf(pool, "SELECT length(data) FROM jm_content_chunks"
                               " WHERE content_key = '%s'", kbin)), "300",
           "the row is 300 bytes long");
    is_str(q1(db, apr_psprintf(pool, "SELECT size FROM jm_contents WHERE content_key = '%s'",
                               kbin)), "300", "the content's size");

    /* dedup: the same bytes in B, and in A under a second id */
    ok(jm_store_blob_put(db, b, "Gbin", "text/x-other", bin, sizeof(bin), pool) == APR_SUCCESS,
       "the same bytes uploaded into B");
    ok(jm_store_blob_put(db, a, "Gbin2", "application/x-two", bin, sizeof(bin), pool)
       == APR_SUCCESS, "and into A again, under another id");
    ok(jm_store_blob_put(db, a, "Gbin", "application/octet-stream", bin, sizeof(bin), pool)
       == APR_SUCCESS, "and into A under the same id (nothing to do)");
    is_str(count_of_key(db, "jm_contents", kbin), "1", "one content row for all of them");
    is_str(count_of_key(db, "jm_content_chunks", kbin), "1", "its bytes stored once");
    is_str(count_of_key(db, "jm_blobs", kbin), "3", "three references (A twice, B once)");
    ok(jm_store_blob_get(&data, &len, &type, db, b, "Gbin", pool) == APR_SUCCESS
       && len == sizeof(bin) && !memcmp(data, bin, len), "B reads them");
    is_str(type, "text/x-other", "with B's own type");
    ok(jm_store_blob_info(&size, &type, db, a, "Gbin2", pool) == APR_SUCCESS && size == 300,
       "A's second id has its own row");
    is_str(type, "application/x-two", "... and type");

    /* several chunks, boundaries full of NUL and 0xFF */
    big = apr_palloc(pool, big_len);
    for (i = 0; i < (int)big_len; i++) {
        big[i] = (unsigned char)((i * 131) ^ (i >> 9));
    }
    memset(big + JM_SQL_CHUNK_BYTES - 8, 0, 16);
    memset(big + 2 * JM_SQL_CHUNK_BYTES - 8, 0xff, 9);
    kbig = jm_util_sha256_hex(big, big_len, pool);
    ok(jm_store_blob_put(db, a, "Gbig", "application/x-big", big, big_len, pool)
       == APR_SUCCESS, "put 2 chunks + 1 byte in A");
    is_str(count_of_key(db, "jm_content_chunks", kbig), "3", "three rows");
    is_str(q1(db, apr_psprintf(pool, "SELECT MAX(length(data)) FROM jm_content_chunks"
                               " WHERE content_key = '%s'", kbig)),
           apr_psprintf(pool, "%d", JM_SQL_CHUNK_BYTES), "none over JM_SQL_CHUNK_BYTES");
    memset(&sk, 0, sizeof(sk));
    sk.cap = big_len;
    sk.buf = apr_palloc(pool, sk.cap);
    ok(jm_store_blob_read(db, a, "Gbig", (apr_int64_t)big_len, sink, &sk, pool)
       == APR_SUCCESS, "read chunk by chunk");
    is_int(sk.calls, 3, "in three calls");
    ok(sk.used == big_len && !memcmp(sk.buf, big, big_len), "byte for byte");

    /* access is per account */
    ok(jm_store_blob_info(&size, NULL, db, b, "Gbig", pool) == APR_NOTFOUND,
       "B does not have A's big blob");
    ok(jm_store_blob_get(&data, &len, NULL, db, b, "Gbig", pool) == APR_NOTFOUND,
       "... cannot get it");
    memset(&sk, 0, sizeof(sk));
    sk.cap = big_len;
    sk.buf = apr_palloc(pool, sk.cap);
    ok(jm_store_blob_read(db, b, "Gbig", (apr_int64_t)big_len, sink, &sk, pool)
       == APR_EGENERAL && sk.calls == 0, "... and reading it with A's size gives no byte");
    ok(jm_store_blob_get(&data, &len, NULL, db, "Anobody", "Gbin", pool) == APR_NOTFOUND,
       "an account without references has nothing");

    /* Blob/copy: a reference, no bytes */
    ok(jm_store_blob_link(db, b, a, "Gbig", pool) == APR_SUCCESS, "link A's big blob into B");
    ok(blob_is(db, b, "Gbig", big, big_len), "B reads it byte for byte");
    ok(jm_store_blob_info(&size, &type, db, b, "Gbig", pool) == APR_SUCCESS
       && size == (apr_int64_t)big_len, "with the size");
    is_str(type, "application/x-big", "and the type");
    is_str(count_of_key(db, "jm_contents", kbig), "1", "still one content row");
    is_str(count_of_key(db, "jm_content_chunks", kbig), "3", "still three rows of bytes");
    ok(jm_store_blob_link(db, b, a, "Gbig", pool) == APR_SUCCESS, "linking again: fine");
    is_str(count_of_key(db, "jm_blobs", kbig), "2", "two references");
    ok(jm_store_blob_link(db, b, a, "Gnone", pool) == APR_NOTFOUND,
       "linking a blob A does not have: APR_NOTFOUND");
    ok(jm_store_blob_link(db, a, b, "Gnone", pool) == APR_NOTFOUND, "... either way");
    ok(jm_store_blob_info(&size, NULL, db, b, "Gnone", pool) == APR_NOTFOUND,
       "and nothing was made");
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_blob_link(db, a, b, "Gbig", pool) == APR_SUCCESS
       && jm_db_in_transaction(db) && jm_db_commit(db) == APR_SUCCESS,
       "linking inside the caller's transaction leaves it open");

    /* a rolled-back store leaves neither reference nor content */
    big[0] ^= 1;
    kbig = jm_util_sha256_hex(big, big_len, pool);
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_store_blob_put(db, b, "Grolled", "x/y", big, big_len, pool) == APR_SUCCESS
       && jm_db_rollback(db) == APR_SUCCESS, "put new content, roll back");
    is_str(count_of_key(db, "jm_contents", kbig), "0", "no content row");
    is_str(count_of_key(db, "jm_content_chunks", kbig), "0", "no rows of bytes");
    ok(jm_store_blob_put(db, b, "Grolled", "x/y", big, big_len, pool) == APR_SUCCESS
       && blob_is(db, b, "Grolled", big, big_len), "putting it again stores it whole");

    /* empty */
    ok(jm_store_blob_put(db, a, "Gempty", "text/plain", "", 0, pool) == APR_SUCCESS
       && jm_store_blob_put(db, b, "Gempty", "text/plain", "", 0, pool) == APR_SUCCESS,
       "an empty blob in both accounts");
    is_str(count_of_key(db, "jm_contents", jm_util_sha256_hex("", 0, pool)), "1",
           "one empty content");
    is_str(count_of_key(db, "jm_content_chunks", jm_util_sha256_hex("", 0, pool)), "0",
           "with no rows");
    ok(jm_store_blob_get(&data, &len, NULL, db, b, "Gempty", pool) == APR_SUCCESS && len == 0,
       "reads as empty");
    is_str(q1(db, "SELECT COUNT(*) FROM jm_contents"), "4",
           "four contents in all (bin, big, changed big, empty)");
}

/* The C step of the migration on a hand-made schema 3 blob table. */
static void migration_step(const apr_dbd_driver_t *drv, const char *dir)
{
    static const char *const ddl[] = {
        "CREATE TABLE jm_blobs (account_id TEXT NOT NULL, id TEXT NOT NULL,"
        " size INTEGER NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL,"
        " content_key TEXT, PRIMARY KEY (account_id, id))",
        "CREATE TABLE jm_blob_chunks (account_id TEXT NOT NULL, blob_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account_id, blob_id, seq))",
        "CREATE TABLE jm_contents (content_key TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " created INTEGER NOT NULL)",
        "CREATE TABLE jm_content_chunks (content_key TEXT NOT NULL, seq INTEGER NOT NULL,"
        " data BLOB NOT NULL, PRIMARY KEY (content_key, seq))",
        NULL
    };
    jm_db_t *db = tdb_open(pool, drv, apr_pstrcat(pool, dir, "/v3.db", NULL));
    unsigned char *bytes;
    apr_size_t n = JM_SQL_CHUNK_BYTES + 100;
    const char *err = NULL, *key, *k0;
    int i, seq;

    diag("--- the schema 5 C step (SQLite)");
    ok(db != NULL, "a scratch database");
    if (!db) {
        return;
    }
    for (i = 0; ddl[i]; i++) {
        jm_db_exec_literal(db, ddl[i], pool);
    }
    bytes = apr_palloc(pool, n);
    for (i = 0; i < (int)n; i++) {
        bytes[i] = (unsigned char)(255 - i % 256);
    }
    key = jm_util_sha256_hex(bytes, n, pool);
    /* the same two-row blob in two accounts, base64 cut as schema 2 did */
    for (i = 0; i < 2; i++) {
        const char *acc = i ? "Bb" : "Aa";
        jm_db_exec_literal(db, apr_psprintf(pool, "INSERT INTO jm_blobs VALUES ('%s', 'G1',"
                                            " %d, 'x/y', 7, NULL)", acc, (int)n), pool);
        for (seq = 0; seq < 2; seq++) {
            apr_size_t off = (apr_size_t)seq * JM_SQL_CHUNK_BYTES;
            apr_size_t len = seq ? n - off : JM_SQL_CHUNK_BYTES;
            jm_db_exec_literal(db, apr_psprintf(pool, "INSERT INTO jm_blob_chunks VALUES"
                                                " ('%s', 'G1', %d, '%s')", acc, seq,
                                                jm_util_base64(bytes + off, len, pool)),
                               pool);
        }
    }
    jm_db_exec_literal(db, "INSERT INTO jm_blobs VALUES ('Aa', 'G0', 0, 'x/y', 7, NULL)", pool);
    /* a blob missing its second row: carried over as what is there */
    jm_db_exec_literal(db, "INSERT INTO jm_blobs VALUES ('Aa', 'Gcut', 9, 'x/y', 7, NULL)", pool);
    jm_db_exec_literal(db, "INSERT INTO jm_blob_chunks VALUES ('Aa', 'Gcut', 0, 'AAEC')", pool);
    jm_db_exec_literal(db, "INSERT INTO jm_blob_chunks VALUES ('Aa', 'Gcut', 2, 'AAEC')", pool);

    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_schema_blob_contents(db, &err, pool) == APR_SUCCESS
       && jm_db_commit(db) == APR_SUCCESS, "the step runs (%s)", err ? err : "");
    is_str(q1(db, "SELECT COUNT(*) FROM jm_blobs WHERE content_key IS NULL"), "0",
           "every blob has its content key");
    is_str(q1(db, "SELECT COUNT(DISTINCT content_key) FROM jm_blobs WHERE id = 'G1'"), "1",
           "both accounts' G1 name one content");
    is_str(q1(db, "SELECT content_key FROM jm_blobs WHERE account_id = 'Bb'"), key,
           "keyed by the SHA-256 of the decoded bytes");
    is_str(q1(db, apr_psprintf(pool, "SELECT COUNT(*) || '|' || SUM(length(data)) || '|'"
                               " || MIN(typeof(data)) FROM jm_content_chunks WHERE"
                               " content_key = '%s'", key)),
           apr_psprintf(pool, "2|%d|blob", (int)n), "stored once: two binary rows");
    ok(blob_is(db, "Bb", "G1", bytes, n) && blob_is(db, "Aa", "G1", bytes, n),
       "both read byte for byte");
    k0 = jm_util_sha256_hex("", 0, pool);
    is_str(q1(db, "SELECT content_key FROM jm_blobs WHERE id = 'G0'"), k0,
           "the empty blob: the hash of nothing");
    is_str(q1(db, "SELECT size FROM jm_contents WHERE content_key = (SELECT content_key"
              " FROM jm_blobs WHERE id = 'Gcut')"), "3",
           "a blob with a row missing: its content is what was there");
    {
        const unsigned char *data;
        apr_size_t len;
        ok(jm_store_blob_get(&data, &len, NULL, db, "Aa", "Gcut", pool) == APR_EGENERAL,
           "and it still reads as damaged");
    }
    is_str(q1(db, "SELECT COUNT(*) FROM jm_contents"), "3", "three contents");

    /* bad rows stop the step, naming the blob */
    jm_db_exec_literal(db, "INSERT INTO jm_blobs VALUES ('Aa', 'Gbad', 3, 'x/y', 7, NULL)", pool);
    jm_db_exec_literal(db, "INSERT INTO jm_blob_chunks VALUES ('Aa', 'Gbad', 0, '#not*base64')",
                       pool);
    err = NULL;
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_schema_blob_contents(db, &err, pool) == APR_EGENERAL, "a row that is not base64 fails");
    jm_db_rollback(db);
    ok(err && strstr(err, "blob Gbad of account Aa") && strstr(err, "not base64"),
       "the message names the blob (%s)", err ? err : "");
    jm_db_exec_literal(db, "UPDATE jm_blob_chunks SET data = '' WHERE blob_id = 'Gbad'", pool);
    err = NULL;
    ok(jm_db_begin(db, pool) == APR_SUCCESS
       && jm_schema_blob_contents(db, &err, pool) == APR_EGENERAL && err
       && strstr(err, "Gbad"), "an empty row fails too");
    jm_db_rollback(db);
    is_str(q1(db, "SELECT COUNT(*) FROM jm_blobs WHERE content_key IS NULL"), "1",
           "nothing of the failed runs stayed");
    jm_db_close(db);
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    if (!(drv = tdb_on_sqlite(pool, "store-blob", run, &dir))) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    migration_step(drv, dir);
    tdb_on_pgsql(pool, "store_blob", run);
    tdb_remove_dir(pool, dir);
    return done_testing();
}
