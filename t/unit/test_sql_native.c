/* Unit tests: SQLite statements on the native handle (jm_sql_sqlite3_native):
 * apr_dbd's placeholders and values, blobs, NULLs, rows and changes, and the
 * statements and values it must refuse. */
#include <string.h>
#include <sqlite3.h>
#include <apr_general.h>
#include "tap.h"
#include "store/sql/jm_sql.h"

static const jm_sql_native_t *N = &jm_sql_sqlite3_native;

typedef struct {
    int rows;
    char first[256];
    apr_size_t first_len;
    int first_null;
    int ncols;
} seen_t;

static int keep(void *baton, int ncols, const char *const *vals, const apr_size_t *lens)
{
    seen_t *s = baton;

    if (s->rows++ == 0) {
        s->ncols = ncols;
        s->first_null = vals[0] == NULL;
        s->first_len = lens[0];
        if (vals[0] && lens[0] < sizeof(s->first)) {
            memcpy(s->first, vals[0], lens[0]);
        }
    }
    return 0;
}

static int stop_at_first(void *baton, int ncols, const char *const *vals,
                         const apr_size_t *lens)
{
    keep(baton, ncols, vals, lens);
    return 1;
}

static int run(sqlite3 *h, void *st, int n, const char *const *args, seen_t *s,
               int *changes, char *err)
{
    memset(s, 0, sizeof(*s));
    err[0] = 0;
    return N->run(h, st, n, args, keep, s, changes, err, 256);
}

int main(void)
{
    sqlite3 *h;
    char err[256];
    seen_t s;
    void *ins, *sel, *blob, *getb, *pct;
    int changes = -1;

    apr_initialize();
    if (sqlite3_open(":memory:", &h) != SQLITE_OK) {
        printf("1..0 # SKIP no in-memory SQLite\n");
        return 0;
    }
    sqlite3_exec(h, "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, v TEXT);"
                    "CREATE TABLE b (k TEXT, data BLOB)", NULL, NULL, NULL);

    /* placeholders and values */
    ins = N->prepare(h, "INSERT INTO t (k, n, v) VALUES (%s, %lld, %s)", err, sizeof(err));
    ok(ins != NULL, "%%s and %%lld prepare (%s)", err);
    {
        const char *a[] = { "a", "42", "x" };
        ok(run(h, ins, 3, a, &s, &changes, err) == 0, "insert runs (%s)", err);
        is_int(changes, 1, "one row changed");
    }
    {
        const char *a[] = { "b", "7", NULL };
        ok(run(h, ins, 3, a, &s, &changes, err) == 0, "a NULL value binds as SQL NULL");
    }
    {
        const char *a[] = { "a", "1", "dup" };
        ok(run(h, ins, 3, a, &s, NULL, err) != 0, "a constraint failure is an error");
        ok(strstr(err, "UNIQUE") != NULL, "with SQLite's message: %s", err);
        /* the statement is reset: it runs again */
        a[0] = "c";
        ok(run(h, ins, 3, a, &s, NULL, err) == 0, "and runs again after it");
    }
    {
        const char *a[] = { "d", "1" };
        ok(run(h, ins, 2, a, &s, NULL, err) != 0, "too few values refused");
        ok(strstr(err, "number of values") != NULL, "clearly: %s", err);
    }

    sel = N->prepare(h, "SELECT v, n FROM t WHERE n >= %lld ORDER BY k", err, sizeof(err));
    {
        const char *a[] = { "0" };
        ok(run(h, sel, 1, a, &s, NULL, err) == 0, "select runs");
        is_int(s.rows, 3, "every row to the callback");
        is_int(s.ncols, 2, "with its columns");
        is_str(s.first, "x", "text value");
    }
    {
        const char *a[] = { "5" };
        memset(&s, 0, sizeof(s));
        ok(N->run(h, sel, 1, a, stop_at_first, &s, NULL, err, sizeof(err)) == 0,
           "a callback may stop early");
        is_int(s.rows, 1, "and sees no more rows");
    }
    {
        void *nul = N->prepare(h, "SELECT v FROM t WHERE k = %s", err, sizeof(err));
        const char *a[] = { "b" };
        ok(run(h, nul, 1, a, &s, NULL, err) == 0 && s.rows == 1 && s.first_null,
           "SQL NULL comes back as NULL");
        N->finalize(nul);
    }

    /* blobs: four values, bytes with NULs kept */
    blob = N->prepare(h, "INSERT INTO b (k, data) VALUES (%s, %pDb)", err, sizeof(err));
    ok(blob != NULL, "%%pDb prepares");
    {
        const char *a[] = { "k", "a\0b\0c", "5", "b", "data" };
        ok(run(h, blob, 5, a, &s, NULL, err) == 0, "a blob binds (%s)", err);
    }
    {
        const char *a[] = { "k", "abc", "-1", "b", "data" };
        ok(run(h, blob, 5, a, &s, NULL, err) != 0, "a negative length refused");
    }
    {
        const char *a[] = { "k", NULL, "3", "b", "data" };
        ok(run(h, blob, 5, a, &s, NULL, err) != 0, "a blob without bytes refused");
    }
    {
        const char *a[] = { "k", "abc" };
        ok(run(h, blob, 2, a, &s, NULL, err) != 0, "a blob takes four values");
    }
    getb = N->prepare(h, "SELECT data FROM b WHERE k = %s", err, sizeof(err));
    {
        const char *a[] = { "k" };
        ok(run(h, getb, 1, a, &s, NULL, err) == 0 && s.rows == 1, "blob read back");
        is_int(s.first_len, 5, "all its bytes");
        ok(memcmp(s.first, "a\0b\0c", 5) == 0, "the same bytes, NULs included");
    }

    /* '%' outside placeholders, as apr_dbd reads it */
    pct = N->prepare(h, "SELECT k FROM t WHERE v LIKE '%%x' OR v LIKE '%\"y\"%'", err,
                     sizeof(err));
    ok(pct != NULL, "%%%% and a lone %% are text (%s)", err);
    ok(run(h, pct, 0, NULL, &s, NULL, err) == 0 && s.rows == 1 && !strcmp(s.first, "a"),
       "%%%% is one %%");

    /* statements refused */
    ok(N->prepare(h, "SELECT %d", err, sizeof(err)) == NULL
       && strstr(err, "placeholder"), "an unknown placeholder: %s", err);
    ok(N->prepare(h, "SELECT nonsense FROM nowhere", err, sizeof(err)) == NULL,
       "bad SQL: %s", err);
    ok(N->prepare(h, "SELECT ?", err, sizeof(err)) == NULL,
       "a native placeholder is not apr_dbd's: %s", err);
    ok(N->prepare(h, "   ", err, sizeof(err)) == NULL, "no statement: %s", err);

    N->finalize(ins);
    N->finalize(sel);
    N->finalize(blob);
    N->finalize(getb);
    N->finalize(pct);
    N->finalize(NULL);
    ok(sqlite3_close(h) == SQLITE_OK, "every statement finalized: the connection closes");
    return done_testing();
}
