/* Unit tests: the push subscriptions in the store (src/store/
 * jm_store_push.c) on SQLite and, with JMAP_TEST_PG_PORT, PostgreSQL: the
 * per-user rows, the limit, and the worker's claim: a row is held by one
 * owner until its lease runs out, an owner whose lease was taken over
 * writes nothing, and what is not due, not verified or expired is not
 * claimed. */
#include <apr_file_io.h>
#include "db_suite.h"
#include "store/jm_schema.h"
#include "store/jm_store_push.h"

static apr_pool_t *pool;

static jm_push_row_t mkrow(const char *id, const char *user, apr_int64_t expires)
{
    jm_push_row_t r = { 0 };

    r.id = id;
    r.username = user;
    r.device_client_id = "dev";
    r.url = "https://push.example.net/x";
    r.p256dh = r.auth = r.types = "";
    r.code_sent = "code";
    r.expires = expires;
    return r;
}

static int has(const apr_array_header_t *rows, const char *id)
{
    int i;

    for (i = 0; rows && i < rows->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(rows, i, jm_push_row_t *)->id, id)) {
            return 1;
        }
    }
    return 0;
}

static void run(jm_db_t *db, const char *label)
{
    const char *err = NULL;
    apr_array_header_t *rows = NULL, *other = NULL;
    apr_int64_t now = 1700000000000LL, exp = now / 1000 + 3600;
    jm_push_row_t r;
    int from = 0, over = 0, i;
    long n = -1;

    diag("--- %s", label);
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "schema (%s)", err ? err : "");
    for (i = 1; i <= 3; i++) {
        r = mkrow(apr_psprintf(pool, "P%d", i), "alice", exp);
        ok(jm_store_push_insert(&over, db, &r, 3, 100, now, pool) == APR_SUCCESS && !over,
           "insert P%d", i);
    }
    r = mkrow("P4", "alice", exp);
    ok(jm_store_push_insert(&over, db, &r, 3, 100, now, pool) == APR_SUCCESS && over,
       "a fourth of the same user is over the limit of 3");
    r = mkrow("Q1", "bob", exp);
    ok(jm_store_push_insert(&over, db, &r, 3, 100, now, pool) == APR_SUCCESS && !over,
       "another user has a limit of his own");
    ok(jm_store_push_count(&n, db, "alice", pool) == APR_SUCCESS, "count");
    is_int(n, 3, "alice has 3");
    /* the creation rate (RFC 8620 §8.6): destroying gives no creation back */
    for (i = 1; i <= 2; i++) {
        r = mkrow(apr_psprintf(pool, "R%d", i), "carol", exp);
        ok(jm_store_push_insert(&over, db, &r, 10, 2, now + i, pool) == APR_SUCCESS
           && !over, "carol creates R%d (2 an hour)", i);
        ok(jm_store_push_destroy(db, "carol", r.id, pool) == APR_SUCCESS,
           "and destroys it");
    }
    r = mkrow("R3", "carol", exp);
    ok(jm_store_push_insert(&over, db, &r, 10, 2, now + 10, pool) == APR_SUCCESS
       && over == 2, "a third within the hour: over the rate (2)");
    ok(jm_store_push_insert(&over, db, &r, 10, 2, now + 3600 * 1000 + 3, pool)
       == APR_SUCCESS && !over, "an hour after the first two: allowed again");
    ok(jm_store_push_destroy(db, "carol", "R3", pool) == APR_SUCCESS, "R3 destroyed");
    ok(jm_store_push_list(&rows, db, "bob", pool) == APR_SUCCESS && rows->nelts == 1
       && has(rows, "Q1"), "bob lists only his");
    ok(jm_store_push_destroy(db, "bob", "P1", pool) == APR_NOTFOUND,
       "bob cannot destroy alice's");
    ok(jm_store_push_set_types(db, "bob", "P1", "[]", pool) == APR_NOTFOUND,
       "nor change it");

    /* all four are due for their verification */
    ok(jm_store_push_claim(&rows, db, "A", now, now + 60000, 2, pool) == APR_SUCCESS
       && rows->nelts == 2, "A claims a batch of 2");
    ok(jm_store_push_claim(&other, db, "B", now, now + 60000, 10, pool) == APR_SUCCESS
       && other->nelts == 2, "B gets the other 2");
    for (i = 0; i < rows->nelts; i++) {
        ok(!has(other, APR_ARRAY_IDX(rows, i, jm_push_row_t *)->id), "no row twice (%s)",
           APR_ARRAY_IDX(rows, i, jm_push_row_t *)->id);
    }
    ok(jm_store_push_claim(&other, db, "C", now + 1000, now + 60000, 10, pool)
       == APR_SUCCESS && other->nelts == 0, "while leased, nobody else claims");
    ok(APR_ARRAY_IDX(rows, 0, jm_push_row_t *)->verify_pending, "claimed: verification due");

    /* A reports for its first row; its second one it never reports */
    ok(jm_store_push_verify_sent(db, APR_ARRAY_IDX(rows, 0, jm_push_row_t *)->id, "A",
                                 now, pool) == APR_SUCCESS, "A: verification sent");
    ok(jm_store_push_claim(&other, db, "C", now + 61000, now + 120000, 10, pool)
       == APR_SUCCESS && other->nelts == 3
       && !has(other, APR_ARRAY_IDX(rows, 0, jm_push_row_t *)->id),
       "leases run out: C takes the 3 still due, not the one sent and unverified");
    ok(jm_store_push_retry(db, APR_ARRAY_IDX(rows, 1, jm_push_row_t *)->id, "A", 1,
                           now, pool) == APR_SUCCESS, "A's late report...");
    ok(jm_store_push_claim(&other, db, "D", now + 62000, now + 120000, 10, pool)
       == APR_SUCCESS && other->nelts == 0, "... changes nothing: C still holds it");
    ok(jm_store_push_gone(db, "P2", "A", pool) == APR_SUCCESS
       && jm_store_push_list(&other, db, "alice", pool) == APR_SUCCESS && has(other, "P2"),
       "nor does a late delete");

    /* verified rows are due again; states recorded */
    ok(jm_store_push_verify(db, "alice", APR_ARRAY_IDX(rows, 0, jm_push_row_t *)->id,
                            "{\"A1\":{\"Email\":\"1\"}}", now, pool) == APR_SUCCESS,
       "verified");
    ok(jm_store_push_claim(&other, db, "E", now + 63000, now + 120000, 10, pool)
       == APR_SUCCESS && other->nelts == 1
       && !APR_ARRAY_IDX(other, 0, jm_push_row_t *)->verify_pending,
       "a verified row is claimed again");
    is_str(other->nelts ? APR_ARRAY_IDX(other, 0, jm_push_row_t *)->pushed_states : "",
           "{\"A1\":{\"Email\":\"1\"}}", "... with its states");
    ok(jm_store_push_checked(db, APR_ARRAY_IDX(other, 0, jm_push_row_t *)->id, "E",
                             "{}", now + 100000, pool) == APR_SUCCESS, "checked");
    ok(jm_store_push_claim(&other, db, "E", now + 64000, now + 120000, 10, pool)
       == APR_SUCCESS && other->nelts == 0, "not due before its next attempt");

    /* expiry */
    ok(jm_store_push_claim(&other, db, "F", exp * 1000 + 200000, exp * 1000 + 300000, 10,
                           pool) == APR_SUCCESS && other->nelts == 0,
       "nothing expired is claimed");
    ok(jm_store_push_expire(db, exp, pool) == APR_SUCCESS
       && jm_store_push_count(&n, db, "alice", pool) == APR_SUCCESS && n == 0,
       "expired rows are deleted");
    ok(jm_store_push_destroy(db, "bob", "Q1", pool) == APR_NOTFOUND, "bob's expired too");
    ok(!jm_db_in_transaction(db), "no transaction left open");
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    if (!(drv = tdb_on_sqlite(pool, "store-push", run, &dir))) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    tdb_on_pgsql(pool, "store_push", run);
    tdb_remove_dir(pool, dir);
    apr_pool_destroy(pool);
    return done_testing();
}
