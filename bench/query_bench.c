/* bench/query_bench DRIVER PARAMS N [ROUNDS] — seed one mailbox of a fresh
 * store with N messages straight through jm_store_email_insert (1000 per
 * transaction), then time Email/query's engine: the median of ROUNDS runs
 * (default 21, after one warm-up) of
 *   mailbox: {inMailbox}, receivedAt desc, limit 50
 *   text:    {text: "zanzibar"} (1 message in 100), receivedAt desc, limit 50
 *   get50:   what Email/get does for 50 ids of the mailbox's first page with
 *            the properties a mail list shows (the row, the stored message,
 *            the view of id threadId mailboxIds keywords from subject
 *            receivedAt preview hasAttachment size)
 *   changes: the change log after 100 keyword changes (Email/changes'
 *            store read, sinceState = the state before them)
 * and print "N seed_s mailbox_ms text_ms get50_ms changes_ms", then the plans of both
 * statements (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN ANALYZE of
 * the prepared statement). Run by bench/query. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "store/jm_schema.h"
#include "store/jm_store.h"
#include "store/jm_store_query.h"
#include "core/jm_util.h"
#include "mail/jm_email_view.h"
#include "mime/jm_mime.h"

static const char *const WORDS[] = {
    "alpha", "budget", "meeting", "report", "lunch", "project", "deadline", "review",
    "client", "invoice", "travel", "agenda", "summary", "update", "draft", "final",
    "contract", "schedule", "design", "release", "backup", "server", "network", "office"
};
#define NW (sizeof(WORDS) / sizeof(WORDS[0]))

static int cmp_t(const void *a, const void *b)
{
    apr_time_t x = *(const apr_time_t *)a, y = *(const apr_time_t *)b;
    return x < y ? -1 : x > y;
}

static void show_plan(jm_db_t *db, const char *acc, const jm_sq_query_t *q, apr_pool_t *p)
{
    const char *sql, *label;
    apr_array_header_t *args, *rows;
    int i;

    if (jm_store_email_query_sql(&sql, &args, db, acc, q, p) != APR_SUCCESS) {
        return;
    }
    printf("  %s\n", sql);
    if (!strcmp(db->dialect->driver, "sqlite3")) {
        if (jm_db_select_sql(&rows, db, apr_pstrcat(p, "EXPLAIN QUERY PLAN ", sql, NULL),
                             args->nelts, (const char **)args->elts, p) == APR_SUCCESS) {
            for (i = 0; i < rows->nelts; i++) {
                printf("    %s\n", APR_ARRAY_IDX(rows, i, const char **)[3]);
            }
        }
        return;
    }
    /* the statement jm_db_select_sql prepared, with the bench's own values */
    label = apr_psprintf(p, "jmap_smime_q%.40s", jm_util_sha256_hex(sql, strlen(sql), p));
    sql = apr_pstrcat(p, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE ", label, "(", NULL);
    for (i = 0; i < args->nelts; i++) {
        sql = apr_pstrcat(p, sql, i ? ", '" : "'", apr_dbd_escape(db->driver, p,
                          APR_ARRAY_IDX(args, i, const char *), db->handle), "'", NULL);
    }
    sql = apr_pstrcat(p, sql, ")", NULL);
    {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        if (apr_dbd_select(db->driver, p, db->handle, &res, sql, 0) == 0) {
            while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
                printf("    %s\n", apr_dbd_get_entry(db->driver, row, 0));
            }
        }
        else {
            printf("    (EXPLAIN failed: %s)\n", apr_dbd_error(db->driver, db->handle, 1));
        }
    }
}

static double median_ms(jm_db_t *db, const char *acc, const jm_sq_query_t *q, int rounds,
                        apr_pool_t *p)
{
    apr_time_t *t = apr_palloc(p, sizeof(*t) * rounds);
    jm_sq_result_t r;
    const char *why;
    apr_pool_t *sp;
    int i;

    apr_pool_create(&sp, p);
    for (i = -1; i < rounds; i++) {
        apr_time_t t0 = apr_time_now();
        apr_pool_clear(sp);
        if (jm_store_email_query(&r, &why, db, acc, q, sp) != APR_SUCCESS) {
            fprintf(stderr, "query failed: %s\n", db->last_error ? db->last_error : "?");
            exit(1);
        }
        if (i >= 0) {
            t[i] = apr_time_now() - t0;
        }
    }
    qsort(t, rounds, sizeof(*t), cmp_t);
    apr_pool_destroy(sp);
    return t[rounds / 2] / 1000.0;
}

/* Email/get's work for ids: the row, the message bytes, the view. */
static double get_ms(jm_db_t *db, const char *acc, apr_array_header_t *ids, int rounds,
                     apr_pool_t *p)
{
    apr_time_t *t = apr_palloc(p, sizeof(*t) * rounds);
    jm_email_view_opts_t o;
    apr_pool_t *sp;
    int i, j;

    memset(&o, 0, sizeof(o));
    o.properties = json_pack("[s, s, s, s, s]", "from", "subject", "preview",
                             "hasAttachment", "sentAt");
    apr_pool_create(&sp, p);
    for (i = -1; i < rounds; i++) {
        apr_time_t t0 = apr_time_now();
        apr_pool_clear(sp);
        for (j = 0; j < ids->nelts; j++) {
            jm_email_row_t *e;
            const unsigned char *raw;
            apr_size_t len;
            json_t *props;
            const char *bad;

            if (jm_store_email_get(&e, db, acc, APR_ARRAY_IDX(ids, j, const char *), sp)
                != APR_SUCCESS
                || jm_store_blob_get(&raw, &len, NULL, db, acc, e->blob_id, sp) != APR_SUCCESS
                || jm_email_view_props(&props, (const char *)raw, len, &o, &bad, sp)
                   != APR_SUCCESS) {
                fprintf(stderr, "get failed\n");
                exit(1);
            }
        }
        if (i >= 0) {
            t[i] = apr_time_now() - t0;
        }
    }
    json_decref(o.properties);
    qsort(t, rounds, sizeof(*t), cmp_t);
    apr_pool_destroy(sp);
    return t[rounds / 2] / 1000.0;
}

static double changes_ms(jm_db_t *db, const char *acc, apr_int64_t since, int rounds,
                         apr_pool_t *p)
{
    apr_time_t *t = apr_palloc(p, sizeof(*t) * rounds);
    apr_array_header_t *ch;
    apr_int64_t cur, oldest;
    apr_pool_t *sp;
    int i, more;

    apr_pool_create(&sp, p);
    for (i = -1; i < rounds; i++) {
        apr_time_t t0 = apr_time_now();
        apr_pool_clear(sp);
        if (jm_store_changes_since(&ch, &more, &cur, &oldest, db, acc, JM_TYPE_EMAIL,
                                   since, 5000, sp) != APR_SUCCESS || !ch
            || ch->nelts != 100) {
            fprintf(stderr, "changes failed\n");
            exit(1);
        }
        if (i >= 0) {
            t[i] = apr_time_now() - t0;
        }
    }
    qsort(t, rounds, sizeof(*t), cmp_t);
    apr_pool_destroy(sp);
    return t[rounds / 2] / 1000.0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p, *tp;
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    jm_db_t *db;
    apr_array_header_t *boxes;
    const char *acc, *err, *inbox = NULL;
    jm_email_cond_t cm, ct;
    jm_sq_filter_t fm, ft;
    jm_sq_query_t q;
    jm_sort_t so = { JM_SORT_RECEIVED_AT, 0, JM_COLL_UNICODE_CASEMAP, NULL };
    apr_array_header_t *sort, *terms;
    apr_time_t t0;
    double seed_s, m_ms, t_ms, g_ms, c_ms;
    jm_sq_result_t page;
    const char *why, *st;
    apr_int64_t before;
    long n, i, rounds;
    int from, created, j;
    unsigned seed = 12345;

    if (argc < 4) {
        fprintf(stderr, "usage: %s sqlite3|pgsql PARAMS N [ROUNDS]\n", argv[0]);
        return 2;
    }
    n = atol(argv[3]);
    rounds = argc > 4 ? atol(argv[4]) : 21;
    apr_initialize();
    apr_pool_create(&p, NULL);
    apr_dbd_init(p);
    jm_mime_global_init();
    if (apr_dbd_get_driver(p, argv[1], &drv) != APR_SUCCESS
        || apr_dbd_open(drv, p, argv[2], &h) != APR_SUCCESS
        || jm_db_wrap(&db, drv, h, apr_hash_make(p), p, p) != APR_SUCCESS
        || jm_schema_migrate(db, &from, &err, p) != APR_SUCCESS
        || jm_store_account_ensure(&acc, &created, db, "bench", p) != APR_SUCCESS
        || jm_store_mailboxes(&boxes, db, acc, p) != APR_SUCCESS) {
        fprintf(stderr, "cannot open the store %s %s\n", argv[1], argv[2]);
        return 1;
    }
    for (j = 0; j < boxes->nelts; j++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, j, jm_mailbox_row_t *);
        if (!strcmp(m->role, "inbox")) {
            inbox = m->id;
        }
    }
    apr_pool_create(&tp, p);
    t0 = apr_time_now();
    for (i = 0; i < n; i++) {
        jm_email_row_t r;
        jm_email_cols_t c;
        char body[512];
        int k, len = 0;

        if (i % 1000 == 0) {
            apr_pool_clear(tp);
            if (jm_db_begin(db, tp) != APR_SUCCESS) {
                return 1;
            }
        }
        for (k = 0; k < 40; k++) {
            seed = seed * 1103515245u + 12345u;
            len += snprintf(body + len, sizeof(body) - len, "%s ", WORDS[(seed >> 16) % NW]);
        }
        memset(&c, 0, sizeof(c));
        c.subject = i % 100 == 7 ? "zanzibar trip" : WORDS[i % NW];
        c.sort_subject = c.thread_subject = c.subject;
        c.from_sort = c.from_text = apr_psprintf(tp, "Sender %ld s%ld@example.com", i % 97, i % 97);
        c.to_sort = c.to_text = "Bench User bench@example.com";
        c.cc_text = c.bcc_text = "";
        c.preview = c.body_text = body;
        c.sent_at = 1600000000 + i * 60;
        memset(&r, 0, sizeof(r));
        r.id = apr_psprintf(tp, "M%08ld", i);
        {
            /* the stored message Email/get reads */
            const char *msg = apr_psprintf(tp, "From: Sender %ld <s%ld@example.com>\r\n"
                "To: Bench User <bench@example.com>\r\nSubject: %s\r\n"
                "Date: Thu, 1 Oct 2020 10:00:00 +0000\r\nMessage-ID: <m%ld@example.com>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "%s\r\n", i % 97, i % 97, c.subject, i, body);
            r.blob_id = jm_util_sha256_hex(msg, strlen(msg), tp);
            r.blob_id = apr_pstrcat(tp, "G", r.blob_id, NULL);
            if (jm_store_blob_put(db, acc, r.blob_id, "message/rfc822", msg, strlen(msg), tp)
                != APR_SUCCESS) {
                fprintf(stderr, "blob %ld failed: %s\n", i, db->last_error);
                return 1;
            }
        }
        r.thread_id = apr_psprintf(tp, "T%08ld", i / 3);
        r.size = 2000 + i % 5000;
        r.received_at = apr_time_from_sec(1600000000 + i * 60);
        r.keywords = i % 2 ? "{\"$seen\":true}" : "{}";
        r.mailbox_ids = apr_array_make(tp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(r.mailbox_ids, const char *) = inbox;
        r.cols = &c;
        if (jm_store_email_insert(db, acc, &r, tp) != APR_SUCCESS) {
            fprintf(stderr, "insert %ld failed: %s\n", i, db->last_error);
            return 1;
        }
        if (i % 1000 == 999 || i == n - 1) {
            if (jm_db_commit(db) != APR_SUCCESS) {
                return 1;
            }
        }
    }
    seed_s = (apr_time_now() - t0) / 1e6;
    jm_db_exec_literal(db, "ANALYZE", p);  /* planner statistics, both engines */
    /* measure on a fresh connection with the new statistics, as a server
     * would have: nothing prepared or cached during the seeding */
    jm_db_close(db);
    if (apr_dbd_open(drv, p, argv[2], &h) != APR_SUCCESS
        || jm_db_wrap(&db, drv, h, apr_hash_make(p), p, p) != APR_SUCCESS) {
        fprintf(stderr, "cannot open the store again\n");
        return 1;
    }

    sort = apr_array_make(p, 1, sizeof(jm_sort_t));
    APR_ARRAY_PUSH(sort, jm_sort_t) = so;
    memset(&cm, 0, sizeof(cm));
    cm.has_attachment = -1;
    cm.in_mailbox = inbox;
    fm.op = JM_SQ_COND;
    fm.cond = &cm;
    fm.children = NULL;
    memset(&ct, 0, sizeof(ct));
    ct.has_attachment = -1;
    terms = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(terms, const char *) = "zanzibar";
    ct.text[JM_TEXT_ALL] = terms;
    ft.op = JM_SQ_COND;
    ft.cond = &ct;
    ft.children = NULL;
    memset(&q, 0, sizeof(q));
    q.sort = sort;
    q.limit = 50;

    q.filter = &fm;
    m_ms = median_ms(db, acc, &q, (int)rounds, p);
    q.filter = &ft;
    t_ms = median_ms(db, acc, &q, (int)rounds, p);
    q.filter = &fm;
    if (jm_store_email_query(&page, &why, db, acc, &q, p) != APR_SUCCESS) {
        return 1;
    }
    /* 100 changes, then Email/changes from the state before them */
    jm_store_state(&st, db, acc, JM_TYPE_EMAIL, p);
    before = apr_atoi64(st);
    if (jm_db_begin(db, p) != APR_SUCCESS) {
        return 1;
    }
    for (i = 0; i < 100; i++) {
        if (jm_store_email_update(db, acc, apr_psprintf(p, "M%08ld", (i * 7919) % n),
                                  i % 2 ? "{\"$flagged\":true}" : "{\"$seen\":true}",
                                  NULL, p) != APR_SUCCESS) {
            return 1;
        }
    }
    if (jm_db_commit(db) != APR_SUCCESS) {
        return 1;
    }
    c_ms = changes_ms(db, acc, before, (int)rounds, p);
    g_ms = get_ms(db, acc, page.ids, (int)rounds, p);
    printf("%ld %.1f %.3f %.3f %.3f %.3f\n", n, seed_s, m_ms, t_ms, g_ms, c_ms);
    if (getenv("JMAP_BENCH_PLAN")) {
        q.filter = &fm;
        show_plan(db, acc, &q, p);
        q.filter = &ft;
        show_plan(db, acc, &q, p);
    }
    fflush(stdout);
    jm_db_close(db);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
