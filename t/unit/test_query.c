/* Unit tests: Email/query's engine (store/jm_store_query.c) and filter
 * parser (mail/jm_email_filter.c) on SQLite, and on PostgreSQL too when
 * JMAP_TEST_PG_PORT is set (t/lib/pg-start.sh; a database of its own is
 * created and dropped). 50 emails with hand-made parsed columns; every
 * expected answer is computed from the same data in C (model below). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"
#include "store/jm_store_query.h"
#include "mail/jm_email_filter.h"
#include "std/jm_std_collation.h"
#include "core/jm_methods.h"

#define N 50

typedef struct {
    char id[8], thread[8];
    apr_int64_t recv, size, sent;
    int in[3];                  /* inbox, archive, trash */
    int seen, flagged, att;
    const char *subject, *from, *to, *cc, *bcc, *body;
} em_t;

static apr_pool_t *pool;
static em_t M[N];
static const char *MB[3];       /* inbox, archive, trash ids */
static const char *ACC;
static const char *DRV;

static const char *const SUBJECTS[] = {
    "Grüße aus Köln", "Meeting NEAR the office", "Quarterly report", "lunch plans",
    "Re: quarterly report", "Zebra crossing", "apple pie recipe", "Budget 2024",
    "10 reasons", "9 lives", "Über alles", "naïve café"
};
static const char *const FROMS[] = {
    "Alice Smith alice@example.com", "bob@example.org", "Carol Jones carol@example.net",
    "dave@example.com"
};

static void model(void)
{
    int i;

    for (i = 0; i < N; i++) {
        em_t *e = &M[i];
        apr_snprintf(e->id, sizeof(e->id), "Mq%02d", i);
        apr_snprintf(e->thread, sizeof(e->thread), "Tq%02d", i / 4);
        e->recv = 1700000000 + (apr_int64_t)i * 3600;
        e->size = 1000 + (i * 37 % 10) * 10;           /* repeats: ties */
        e->sent = i % 7 == 0 ? -1 : 1690000000 + (apr_int64_t)((i * 13) % N) * 60;
        e->in[0] = i % 3 != 1;
        e->in[1] = i % 3 == 1;
        e->in[2] = i % 3 == 2;
        e->seen = i % 2 == 0;
        e->flagged = i % 5 == 0;
        e->att = i % 4 == 1;
        e->subject = SUBJECTS[i % 12];
        e->from = FROMS[i % 4];
        e->to = i % 2 ? "Bob Builder bob@example.org" : "Zoë Ångström zoe@example.se";
        e->cc = i % 6 == 0 ? "carol@example.net" : "";
        e->bcc = i % 10 == 3 ? "secret@example.com" : "";
        e->body = i == 2 ? "say \"hello\" to*all - now: yes NEAR the end"
                : i == 0 ? "Der Dom in Köln ist schön"
                : i % 9 == 4 ? "The quick brown fox jumps"
                : "nothing to see here";
    }
}

/* Every email has two Received fields; every 5th a List-Id, every 7th
 * (from the 3rd) an X-Spam: stored as the indexer stores them (names
 * lower-case, values folded). */
static apr_array_header_t *headers_of(int i)
{
    apr_array_header_t *h = apr_array_make(pool, 4, sizeof(jm_store_header_t));
    jm_store_header_t *x;

    x = apr_array_push(h);
    x->name = "received";
    x->value = "from relay.example.net by mx.example.org";
    x = apr_array_push(h);
    x->name = "received";
    x->value = apr_psprintf(pool, "from host%d.example.com by relay.example.net", i);
    if (i % 5 == 0) {
        x = apr_array_push(h);
        x->name = "list-id";
        x->value = "dev discussion <dev.lists.example.org>";
    }
    if (i % 7 == 3) {
        x = apr_array_push(h);
        x->name = "x-spam";
        x->value = "yes (score 9.1) strasse";    /* "Straße", folded */
    }
    return h;
}

static apr_status_t seed(jm_db_t *db, const char *acc, const char *const *mb)
{
    apr_status_t rv;
    int i, j;

    if ((rv = jm_db_begin(db, pool)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < N && rv == APR_SUCCESS; i++) {
        em_t *e = &M[i];
        jm_email_row_t r;
        jm_email_cols_t *c = apr_pcalloc(pool, sizeof(*c));

        memset(&r, 0, sizeof(r));
        r.id = e->id;
        r.blob_id = apr_psprintf(pool, "Gq%02d", i);
        r.thread_id = e->thread;
        r.size = e->size;
        r.received_at = apr_time_from_sec(e->recv);
        r.keywords = apr_psprintf(pool, "{%s%s%s}", e->seen ? "\"$seen\":true" : "",
                                  e->seen && e->flagged ? "," : "",
                                  e->flagged ? "\"$flagged\":true" : "");
        r.mailbox_ids = apr_array_make(pool, 3, sizeof(const char *));
        for (j = 0; j < 3; j++) {
            if (e->in[j]) {
                APR_ARRAY_PUSH(r.mailbox_ids, const char *) = mb[j];
            }
        }
        c->subject = e->subject;
        /* as mail/jm_email_store.c stores them: i;unicode-casemap keys,
         * and the keys as written */
        c->sort_subject = jm_collation_unicode_key(e->subject, pool);
        c->thread_subject = e->subject;
        c->from_sort = jm_collation_unicode_key(e->from, pool);
        c->to_sort = jm_collation_unicode_key(e->to, pool);
        c->from_key = e->from;
        c->to_key = e->to;
        c->from_text = e->from;
        c->to_text = e->to;
        c->cc_text = e->cc;
        c->bcc_text = e->bcc;
        c->preview = e->body;
        c->body_text = e->body;
        c->sent_at = e->sent;
        c->has_attachment = e->att;
        c->headers = headers_of(i);
        r.cols = c;
        rv = jm_store_email_insert(db, acc, &r, pool);
    }
    if (rv != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    return jm_db_commit(db);
}

/* ---- running queries ---------------------------------------------------- */

typedef struct {
    apr_status_t rv;
    const char *ids;            /* "Mq01,Mq02" */
    apr_int64_t position, total, limit;
    int capped;
    const char *why;
    jm_eq_error_t err;       /* parse errors: err.type set */
} out_t;

typedef struct {
    const char *filter, *sort, *anchor;
    apr_int64_t position, offset, limit;
    int total, collapse;
} in_t;

static jm_db_t *DB;

/* The filter as SearchSnippet/get and Email/query read it (std's tree
 * parser, Email's conditions): a call of its own, its error into *err. */
static int parse_filter(const jm_sq_filter_t **pf, json_t *f, jm_eq_error_t *err)
{
    static jm_limits_t lim = { .max_objects_in_get = 20 };
    jm_ctx_t ctx;
    jm_call_t c;

    memset(&ctx, 0, sizeof(ctx));
    ctx.pool = pool;
    ctx.limits = &lim;
    memset(&c, 0, sizeof(c));
    c.ctx = &ctx;
    c.pool = pool;
    if (jm_email_query_filter(pf, &c, f)) {
        return 1;
    }
    err->type = apr_pstrdup(pool, json_string_value(json_object_get(c.error, "type")));
    err->description = apr_pstrdup(pool, json_string_value(
        json_object_get(c.error, "description")));
    json_decref(c.error);
    return 0;
}

static out_t query(in_t in)
{
    out_t o;
    jm_sq_query_t q;
    jm_sq_result_t r;
    json_t *f = in.filter ? json_loads(in.filter, 0, NULL) : NULL;
    json_t *s = in.sort ? json_loads(in.sort, 0, NULL) : NULL;
    apr_array_header_t *sort;
    int i;

    memset(&o, 0, sizeof(o));
    memset(&q, 0, sizeof(q));
    if ((in.filter && !f) || (in.sort && !s)) {
        o.err.type = "bad test JSON";
        return o;
    }
    jm_json_own(pool, f);
    jm_json_own(pool, s);
    if (!parse_filter(&q.filter, f, &o.err)
        || !jm_email_sort_parse(&sort, s, &o.err, pool)) {
        return o;
    }
    q.sort = sort;
    q.position = in.position;
    q.anchor = in.anchor;
    q.anchor_offset = in.offset;
    q.limit = in.limit ? in.limit : -1;
    if (in.limit == -2) {
        q.limit = 0;
    }
    q.calculate_total = in.total;
    q.collapse_threads = in.collapse;
    o.rv = jm_store_email_query(&r, &o.why, DB, ACC, &q, pool);
    if (o.rv == APR_SUCCESS) {
        apr_array_header_t *a = r.ids;
        o.ids = "";
        for (i = 0; i < a->nelts; i++) {
            o.ids = apr_pstrcat(pool, o.ids, i ? "," : "",
                                APR_ARRAY_IDX(a, i, const char *), NULL);
        }
        o.position = r.position;
        o.total = r.total;
        o.limit = r.limit;
        o.capped = r.limit_capped;
    }
    return o;
}

#define Q(...) query((in_t){ .filter = __VA_ARGS__ })

/* ---- the model's answers -------------------------------------------------- */

typedef int pred_fn(const em_t *e);
typedef int cmp_fn(const em_t *a, const em_t *b);

static int by_recv_desc(const em_t *a, const em_t *b)
{
    return a->recv < b->recv ? 1 : a->recv > b->recv ? -1 : 0;
}

static cmp_fn *SORT_CMP;
static int qcmp(const void *x, const void *y)
{
    return SORT_CMP(*(const em_t *const *)x, *(const em_t *const *)y);
}

/* The ids matching pred in cmp's order, from position, at most limit,
 * collapsed to the first of each thread when asked. */
static const char *expect_w(pred_fn *pred, cmp_fn *cmp, int collapse, int from, int limit,
                            int *ptotal)
{
    const em_t *l[N];
    char seen_thread[N / 4 + 1] = { 0 };
    const char *out = "";
    int i, n = 0, k = 0;

    for (i = 0; i < N; i++) {
        if (!pred || pred(&M[i])) {
            l[n++] = &M[i];
        }
    }
    SORT_CMP = cmp ? cmp : by_recv_desc;
    qsort(l, n, sizeof(l[0]), qcmp);
    if (collapse) {
        int m = 0;
        for (i = 0; i < n; i++) {
            int t = atoi(l[i]->thread + 2);
            if (!seen_thread[t]) {
                seen_thread[t] = 1;
                l[m++] = l[i];
            }
        }
        n = m;
    }
    if (ptotal) {
        *ptotal = n;
    }
    for (i = from; i < n && k < limit; i++, k++) {
        out = apr_pstrcat(pool, out, k ? "," : "", l[i]->id, NULL);
    }
    return out;
}

static const char *expect(pred_fn *pred, cmp_fn *cmp)
{
    return expect_w(pred, cmp, 0, 0, N, NULL);
}

static int p_inbox(const em_t *e) { return e->in[0]; }
static int p_archive(const em_t *e) { return e->in[1]; }
static int p_not_only_trash(const em_t *e) { return e->in[0] || e->in[1]; }
static int p_other_than_inbox(const em_t *e) { return e->in[1] || e->in[2]; }
static int p_window(const em_t *e) { return e->recv >= M[10].recv && e->recv < M[20].recv; }
static int p_size(const em_t *e) { return e->size >= 1030 && e->size < 1070; }
static int p_seen(const em_t *e) { return e->seen; }
static int p_unseen(const em_t *e) { return !e->seen; }
static int p_att(const em_t *e) { return e->att; }
static int p_noatt(const em_t *e) { return !e->att; }
static int thread_any(const em_t *e, int flagged_only)
{
    int i, any = 0, all = 1;
    for (i = 0; i < N; i++) {
        if (!strcmp(M[i].thread, e->thread)) {
            any |= M[i].flagged;
            all &= M[i].flagged;
        }
    }
    return flagged_only ? all : any;
}
static int p_some_flagged(const em_t *e) { return thread_any(e, 0); }
static int p_none_flagged(const em_t *e) { return !thread_any(e, 0); }
static int p_all_seen_thread(const em_t *e)
{
    int i;
    for (i = 0; i < N; i++) {
        if (!strcmp(M[i].thread, e->thread) && !M[i].seen) {
            return 0;
        }
    }
    return 1;
}
static int p_inbox_and_flagged_or_att(const em_t *e)
{
    return e->in[0] && (e->flagged || e->att);
}
static int p_not_inbox_not_seen(const em_t *e) { return !(e->in[0] || e->seen); }
static int p_inbox_unseen(const em_t *e) { return e->in[0] && !e->seen; }

static int c_size(const em_t *a, const em_t *b, int asc)
{
    int r = a->size != b->size ? (a->size < b->size ? -1 : 1) : strcmp(a->id, b->id);
    return asc ? r : -r;
}
static int c_size_asc(const em_t *a, const em_t *b) { return c_size(a, b, 1); }
static int c_size_desc(const em_t *a, const em_t *b) { return c_size(a, b, 0); }
static int c_recv_asc(const em_t *a, const em_t *b) { return -by_recv_desc(a, b); }
static int c_sent(const em_t *a, const em_t *b, int asc)
{
    int r = a->sent != b->sent ? (a->sent < b->sent ? -1 : 1) : strcmp(a->id, b->id);
    return asc ? r : -r;
}
static int c_sent_asc(const em_t *a, const em_t *b) { return c_sent(a, b, 1); }
static int c_sent_desc(const em_t *a, const em_t *b) { return c_sent(a, b, 0); }
static int c_str(const char *x, const char *y, const em_t *a, const em_t *b, int asc, int nocase)
{
    int r = nocase ? strcasecmp(x, y) : strcmp(x, y);
    if (!r) {
        r = strcmp(a->id, b->id);
    }
    return asc ? r : -r;
}
static int c_from_asc(const em_t *a, const em_t *b) { return c_str(a->from, b->from, a, b, 1, 1); }
static int c_from_desc(const em_t *a, const em_t *b) { return c_str(a->from, b->from, a, b, 0, 1); }
static int c_from_octet(const em_t *a, const em_t *b) { return c_str(a->from, b->from, a, b, 1, 0); }
static int c_to_asc(const em_t *a, const em_t *b) { return c_str(a->to, b->to, a, b, 1, 1); }
static int c_to_desc(const em_t *a, const em_t *b) { return c_str(a->to, b->to, a, b, 0, 1); }
static int c_subj(const em_t *a, const em_t *b, int asc)
{
    return c_str(jm_collation_unicode_key(a->subject, pool),
                 jm_collation_unicode_key(b->subject, pool), a, b, asc, 0);
}
/* i;ascii-casemap on the subject as written: "Über" after every ASCII
 * letter (i;unicode-casemap puts it with the u's) */
static int c_subj_ascii(const em_t *a, const em_t *b) { return c_str(a->subject, b->subject, a, b, 1, 1); }
static int c_subj_octet(const em_t *a, const em_t *b) { return c_str(a->subject, b->subject, a, b, 1, 0); }
static int c_subj_asc(const em_t *a, const em_t *b) { return c_subj(a, b, 1); }
static int c_subj_desc(const em_t *a, const em_t *b) { return c_subj(a, b, 0); }
/* i;ascii-numeric: leading digits as a number, the rest after them */
static int c_subj_num(const em_t *a, const em_t *b)
{
    int da = a->subject[0] >= '0' && a->subject[0] <= '9';
    int db = b->subject[0] >= '0' && b->subject[0] <= '9';
    if (da != db) {
        return da ? -1 : 1;
    }
    if (da && atoi(a->subject) != atoi(b->subject)) {
        return atoi(a->subject) < atoi(b->subject) ? -1 : 1;
    }
    return strcmp(a->id, b->id);
}
static int c_flagged_then_recv(const em_t *a, const em_t *b)
{
    if (a->flagged != b->flagged) {
        return a->flagged ? -1 : 1;
    }
    return by_recv_desc(a, b);
}
static int c_some_flagged_then_recv(const em_t *a, const em_t *b)
{
    int x = thread_any(a, 0), y = thread_any(b, 0);
    return x != y ? (x ? -1 : 1) : by_recv_desc(a, b);
}
static int c_all_seen_asc_then_size(const em_t *a, const em_t *b)
{
    int x = p_all_seen_thread(a), y = p_all_seen_thread(b);
    return x != y ? (x ? 1 : -1) : c_size_asc(a, b);
}

static const char *ids_of(const int *idx, int n)
{
    const char *out = "";
    int i;
    for (i = 0; i < n; i++) {
        out = apr_pstrcat(pool, out, i ? "," : "", M[idx[i]].id, NULL);
    }
    return out;
}

/* ---- the tests ------------------------------------------------------------------ */

static void is_ids(out_t o, const char *want, const char *name)
{
    if (o.err.type || o.rv != APR_SUCCESS) {
        diag("%s: %s %s (rv %d, %s)", name, o.err.type ? o.err.type : "",
             o.err.description ? o.err.description : "", o.rv, o.why ? o.why : "");
    }
    is_str(o.ids, want, apr_psprintf(pool, "[%s] %s", DRV, name));
}

static void filters(void)
{
    const char *f;
    int total;

    is_ids(Q(NULL), expect(NULL, NULL), "no filter: all, newest first");
    is_ids(Q("{}"), expect(NULL, NULL), "empty condition: all");
    f = apr_psprintf(pool, "{\"inMailbox\":\"%s\"}", MB[0]);
    is_ids(Q(f), expect(p_inbox, NULL), "inMailbox");
    f = apr_psprintf(pool, "{\"inMailbox\":\"%s\"}", MB[1]);
    is_ids(Q(f), expect(p_archive, NULL), "inMailbox archive");
    is_ids(Q("{\"inMailbox\":\"nosuchbox\"}"), "", "inMailbox unknown: nothing");
    f = apr_psprintf(pool, "{\"inMailboxOtherThan\":[\"%s\"]}", MB[2]);
    is_ids(Q(f), expect(p_not_only_trash, NULL), "inMailboxOtherThan trash");
    f = apr_psprintf(pool, "{\"inMailboxOtherThan\":[\"%s\"]}", MB[0]);
    is_ids(Q(f), expect(p_other_than_inbox, NULL), "inMailboxOtherThan inbox (in trash too)");
    f = apr_psprintf(pool, "{\"inMailboxOtherThan\":[\"%s\",\"%s\",\"%s\"]}",
                     MB[0], MB[1], MB[2]);
    is_ids(Q(f), "", "inMailboxOtherThan all three: nothing");
    is_ids(Q("{\"inMailboxOtherThan\":[]}"), expect(NULL, NULL), "inMailboxOtherThan []");
    f = apr_psprintf(pool, "{\"after\":\"%s\",\"before\":\"%s\"}",
                     "2023-11-15T08:13:20Z", "2023-11-15T18:13:20Z");
    /* M[10].recv = 1700036000 = 2023-11-15T08:13:20Z, M[20] = +10 h */
    is_ids(Q(f), expect(p_window, NULL), "after (inclusive) and before (exclusive)");
    is_ids(Q("{\"minSize\":1030,\"maxSize\":1070}"), expect(p_size, NULL),
           "minSize (inclusive), maxSize (exclusive)");
    is_ids(Q("{\"hasKeyword\":\"$seen\"}"), expect(p_seen, NULL), "hasKeyword");
    is_ids(Q("{\"hasKeyword\":\"$SEEN\"}"), expect(p_seen, NULL), "hasKeyword: case-insensitive");
    is_ids(Q("{\"notKeyword\":\"$seen\"}"), expect(p_unseen, NULL), "notKeyword");
    is_ids(Q("{\"someInThreadHaveKeyword\":\"$flagged\"}"), expect(p_some_flagged, NULL),
           "someInThreadHaveKeyword");
    is_ids(Q("{\"noneInThreadHaveKeyword\":\"$flagged\"}"), expect(p_none_flagged, NULL),
           "noneInThreadHaveKeyword");
    is_ids(Q("{\"allInThreadHaveKeyword\":\"$seen\"}"), expect(p_all_seen_thread, NULL),
           "allInThreadHaveKeyword (none: every thread has an unseen one)");
    is_ids(Q("{\"allInThreadHaveKeyword\":\"$never\"}"), "", "allInThreadHaveKeyword absent keyword");
    is_ids(Q("{\"hasAttachment\":true}"), expect(p_att, NULL), "hasAttachment true");
    is_ids(Q("{\"hasAttachment\":false}"), expect(p_noatt, NULL), "hasAttachment false");
    f = apr_psprintf(pool, "{\"operator\":\"AND\",\"conditions\":[{\"inMailbox\":\"%s\"},"
                     "{\"operator\":\"OR\",\"conditions\":[{\"hasKeyword\":\"$flagged\"},"
                     "{\"hasAttachment\":true}]}]}", MB[0]);
    is_ids(Q(f), expect(p_inbox_and_flagged_or_att, NULL), "AND(inMailbox, OR(flagged, att))");
    f = apr_psprintf(pool, "{\"operator\":\"NOT\",\"conditions\":[{\"inMailbox\":\"%s\"},"
                     "{\"hasKeyword\":\"$seen\"}]}", MB[0]);
    is_ids(Q(f), expect(p_not_inbox_not_seen, NULL), "NOT(a, b) is neither");
    f = apr_psprintf(pool, "{\"operator\":\"AND\",\"conditions\":[{\"inMailbox\":\"%s\"},"
                     "{\"operator\":\"NOT\",\"conditions\":[{\"hasKeyword\":\"$seen\"}]}]}",
                     MB[0]);
    is_ids(Q(f), expect(p_inbox_unseen, NULL), "AND(inMailbox, NOT(seen))");
    f = apr_psprintf(pool, "{\"inMailbox\":\"%s\",\"notKeyword\":\"$seen\"}", MB[0]);
    is_ids(Q(f), expect(p_inbox_unseen, NULL), "one condition, two properties");
    is_ids(Q("{\"operator\":\"AND\",\"conditions\":[]}"), expect(NULL, NULL), "AND of none: all");
    is_ids(Q("{\"operator\":\"OR\",\"conditions\":[]}"), "", "OR of none: nothing");
    is_ids(Q("{\"operator\":\"NOT\",\"conditions\":[]}"), expect(NULL, NULL), "NOT of none: all");
    f = apr_psprintf(pool, "{\"operator\":\"OR\",\"conditions\":[{\"inMailbox\":\"%s\"},"
                     "{\"inMailbox\":\"%s\"}]}", MB[1], MB[2]);
    is_ids(Q(f), expect(p_other_than_inbox, NULL), "OR of two mailboxes");
    expect_w(p_inbox, NULL, 0, 0, N, &total);
    f = apr_psprintf(pool, "{\"inMailbox\":\"%s\"}", MB[0]);
    is_int(Q(f, .total = 1).total, total, "total of {inMailbox} (the kept count)");
    expect_w(p_inbox, NULL, 1, 0, N, &total);
    is_int(Q(f, .total = 1, .collapse = 1).total, total,
           "total of {inMailbox}, collapsed: threads");
    expect_w(p_inbox_unseen, NULL, 0, 0, N, &total);
    f = apr_psprintf(pool, "{\"inMailbox\":\"%s\",\"notKeyword\":\"$seen\"}", MB[0]);
    is_int(Q(f, .total = 1).total, total, "total counted");
    expect_w(p_inbox_unseen, NULL, 1, 0, N, &total);
    is_int(Q(f, .total = 1, .collapse = 1).total, total, "total counted, collapsed");
}

static void text(void)
{
    static const int koln[] = { 0 }, kolns[] = { 48, 36, 24, 12, 0 };
    is_ids(Q("{\"text\":\"koln\"}"), ids_of(kolns, 5), "text: koln finds Köln (subject + body)");
    {
        /* subjects "Grüße aus Köln" are every 12th email */
        int want[5], n = 0, i;
        for (i = N - 1; i >= 0; i--) {
            if (i % 12 == 0) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"subject\":\"KÖLN\"}"), ids_of(want, n), "subject: case and accents ignored");
        is_ids(Q("{\"subject\":\"grusse\"}"), "", "subject: ß is no ss");
        is_ids(Q("{\"body\":\"koln\"}"), ids_of(koln, 1), "body: only the one body");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 12 == 10) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"subject\":\"uber\"}"), ids_of(want, n), "subject: Über");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 12 == 11) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"text\":\"naive cafe\"}"), ids_of(want, n), "text: naïve café, two words");
        is_ids(Q("{\"subject\":\"cafe naive\"}"), ids_of(want, n), "words in any order");
        is_ids(Q("{\"subject\":\"\\\"cafe naive\\\"\"}"), "", "a quoted phrase keeps its order");
        is_ids(Q("{\"subject\":\"\\\"naive cafe\\\"\"}"), ids_of(want, n), "quoted phrase");
        is_ids(Q("{\"subject\":\"'naive cafe'\"}"), ids_of(want, n), "single-quoted phrase");
    }
    {
        static const int two[] = { 2 };
        is_ids(Q("{\"body\":\"\\\"hello\\\"\"}"), ids_of(two, 1), "double quotes in the text");
        is_ids(Q("{\"body\":\"to*all\"}"), ids_of(two, 1), "* is no prefix operator");
        is_ids(Q("{\"body\":\"now: yes\"}"), ids_of(two, 1), ": is no column filter");
        is_ids(Q("{\"body\":\"- now\"}"), ids_of(two, 1), "- is no operator");
        is_ids(Q("{\"body\":\"NEAR end\"}"), ids_of(two, 1), "NEAR is a word");
        is_ids(Q("{\"body\":\"AND OR NOT\"}"), "", "AND OR NOT are words (absent)");
        is_ids(Q("{\"body\":\"\\\"unterminated\"}"), "", "unmatched quote: a word");
        is_ids(Q("{\"body\":\"say \\\"he\\\\\\\"llo\\\"\"}"), "", "escaped quote inside a phrase");
        is_ids(Q("{\"text\":\"* - :\"}"), expect(NULL, NULL), "no word at all: no restriction");
        is_ids(Q("{\"body\":\"{subject}\"}"), "", "braces are text");
    }
    {
        int want[N], n = 0, i;
        for (i = N - 1; i >= 0; i--) {
            if (i % 4 == 0) {
                want[n++] = i;      /* Alice Smith */
            }
        }
        is_ids(Q("{\"from\":\"alice\"}"), ids_of(want, n), "from");
        is_ids(Q("{\"from\":\"Smith Alice\"}"), ids_of(want, n), "from: two words");
        is_ids(Q("{\"to\":\"alice\"}"), "", "to: not from");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 2 == 0) {
                want[n++] = i;      /* Zoë Ångström */
            }
        }
        is_ids(Q("{\"to\":\"zoe angstrom\"}"), ids_of(want, n), "to: accents");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 6 == 0) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"cc\":\"carol\"}"), ids_of(want, n), "cc: not the from of carol's mail");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 10 == 3) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"bcc\":\"secret\"}"), ids_of(want, n), "bcc");
        is_ids(Q("{\"to\":\"secret\"}"), "", "to: not bcc");
        is_ids(Q("{\"subject\":\"carol\"}"), "", "subject: not cc/from");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 4 == 2 || i % 6 == 0) {
                want[n++] = i;      /* carol in from or cc */
            }
        }
        is_ids(Q("{\"text\":\"carol\"}"), ids_of(want, n), "text: from and cc");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 9 == 4 && i % 3 != 1) {
                want[n++] = i;
            }
        }
        is_ids(Q(apr_psprintf(pool, "{\"inMailbox\":\"%s\",\"body\":\"fox\"}", MB[0])),
               ids_of(want, n), "inMailbox and body");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 9 == 4 || i % 4 == 0) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"operator\":\"OR\",\"conditions\":[{\"body\":\"fox\"},{\"from\":\"alice\"}]}"),
               ids_of(want, n), "OR of text conditions");
        n = 0;
        for (i = N - 1; i >= 0; i--) {
            if (i % 9 != 4) {
                want[n++] = i;
            }
        }
        is_ids(Q("{\"operator\":\"NOT\",\"conditions\":[{\"body\":\"fox\"}]}"),
               ids_of(want, n), "NOT text");
    }
}

static void headers(void)
{
    int want[N], n = 0, i;

    for (i = N - 1; i >= 0; i--) {
        if (i % 7 == 3) {
            want[n++] = i;
        }
    }
    is_ids(Q("{\"header\":[\"X-Spam\"]}"), ids_of(want, n),
           "header: a field name, any case");
    is_ids(Q("{\"header\":[\"x-spam\",\"YES (Score\"]}"), ids_of(want, n),
           "header: a value's text, case-insensitive");
    is_ids(Q("{\"header\":[\"X-SPAM\",\"STRAẞE\"]}"), ids_of(want, n),
           "header: full case folding (ß = ss)");
    is_ids(Q("{\"header\":[\"X-Spam\",\"\"]}"), ids_of(want, n),
           "header: empty text is the field's presence");
    is_ids(Q("{\"header\":[\"X-Spam\",\"no\"]}"), "", "header: text not in the value");
    is_ids(Q("{\"header\":[\"X-Spa\"]}"), "", "header: the name is matched whole");
    is_ids(Q("{\"header\":[\"List-Id\",\"9.1\"]}"), "",
           "header: text of another field does not count");
    is_ids(Q("{\"header\":[\"Received\",\"host17.\"]}"), ids_of((int[]){ 17 }, 1),
           "header: any of the fields of that name");
    n = 0;
    for (i = N - 1; i >= 0; i--) {
        if (i % 7 == 3 || i % 5 == 0) {
            want[n++] = i;
        }
    }
    is_ids(Q("{\"operator\":\"OR\",\"conditions\":[{\"header\":[\"x-spam\"]},"
             "{\"header\":[\"list-id\",\"<DEV.lists\"]}]}"), ids_of(want, n),
           "header in OR");
    n = 0;
    for (i = N - 1; i >= 0; i--) {
        if (i % 7 == 3 && i % 9 == 4) {
            want[n++] = i;
        }
    }
    is_ids(Q("{\"header\":[\"x-spam\"],\"body\":\"fox\"}"), ids_of(want, n),
           "header and text in one condition");
    n = 0;
    for (i = N - 1; i >= 0; i--) {
        if (i % 7 != 3) {
            want[n++] = i;
        }
    }
    is_ids(Q("{\"operator\":\"NOT\",\"conditions\":[{\"header\":[\"x-spam\"]}]}"),
           ids_of(want, n), "NOT header");
}

static int p_fox(const em_t *e)
{
    return strstr(e->body, "fox") != NULL;
}

static int p_fox_inbox(const em_t *e)
{
    return p_fox(e) && e->in[0];
}

static int by_recv_asc(const em_t *a, const em_t *b)
{
    return -by_recv_desc(a, b);
}

/* A text condition at the top drives the query on SQLite (FTS5 in
 * receivedAt order): windows, anchors, totals, ascending order, with a
 * mailbox, collapsed; and the same answers where it cannot drive. */
static void text_windows(void)
{
    int total;
    const char *all = expect_w(p_fox, NULL, 0, 0, N, &total);
    out_t o;

    is_ids(Q("{\"body\":\"fox\"}"), all, "text: receivedAt desc");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}", .position = 1, .limit = 2,
                      .total = 1 });
    is_ids(o, expect_w(p_fox, NULL, 0, 1, 2, NULL), "text: position 1, limit 2");
    is_int(o.total, total, "text: total");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}", .position = -2 });
    is_ids(o, expect_w(p_fox, NULL, 0, total - 2, 2, NULL), "text: negative position");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}", .anchor = "Mq22", .offset = 1,
                      .limit = 1 });
    /* fox: 49 40 31 22 13 4 */
    is_ids(o, expect_w(p_fox, NULL, 0, 4, 1, NULL), "text: anchor Mq22 + 1");
    is_int(o.position, 4, "text: anchor's position");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}",
                      .sort = "[{\"property\":\"receivedAt\",\"isAscending\":true}]" });
    is_ids(o, expect_w(p_fox, by_recv_asc, 0, 0, N, NULL), "text: receivedAt ascending");
    is_ids(Q(apr_psprintf(pool, "{\"operator\":\"AND\",\"conditions\":[{\"inMailbox\":"
                          "\"%s\"},{\"body\":\"fox\"}]}", MB[0])),
           expect_w(p_fox_inbox, NULL, 0, 0, N, NULL), "text under AND with inMailbox");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}", .collapse = 1, .total = 1 });
    is_ids(o, expect_w(p_fox, NULL, 1, 0, N, &total), "text: collapsed");
    is_int(o.total, total, "text: collapsed total");
    o = query((in_t){ .filter = "{\"body\":\"fox\"}",
                      .sort = "[{\"property\":\"receivedAt\",\"isAscending\":false},"
                              "{\"property\":\"size\"}]" });
    is_ids(o, all, "text with two sort keys (not driven by the text)");
}

static void sorts(void)
{
    const char *f = apr_psprintf(pool, "{\"inMailbox\":\"%s\"}", MB[0]);

    is_ids(Q(NULL, "[{\"property\":\"receivedAt\",\"isAscending\":false}]"),
           expect(NULL, NULL), "receivedAt desc");
    is_ids(Q(NULL, "[{\"property\":\"receivedAt\"}]"), expect(NULL, c_recv_asc),
           "receivedAt asc (the default direction)");
    is_ids(Q(f, "[{\"property\":\"receivedAt\",\"isAscending\":true}]"),
           expect(p_inbox, c_recv_asc), "inMailbox, receivedAt asc");
    is_ids(Q(NULL, "[{\"property\":\"size\"}]"), expect(NULL, c_size_asc), "size asc, ties by id");
    is_ids(Q(NULL, "[{\"property\":\"size\",\"isAscending\":false}]"),
           expect(NULL, c_size_desc), "size desc, ties by id desc");
    is_ids(Q(NULL, "[{\"property\":\"sentAt\"}]"), expect(NULL, c_sent_asc), "sentAt asc");
    is_ids(Q(NULL, "[{\"property\":\"sentAt\",\"isAscending\":false}]"),
           expect(NULL, c_sent_desc), "sentAt desc");
    is_ids(Q(NULL, "[{\"property\":\"from\",\"collation\":\"i;ascii-casemap\"}]"),
           expect(NULL, c_from_asc), "from asc, ascii-casemap");
    is_ids(Q(NULL, "[{\"property\":\"from\",\"isAscending\":false}]"),
           expect(NULL, c_from_desc), "from desc (default collation)");
    is_ids(Q(NULL, "[{\"property\":\"from\",\"collation\":\"i;octet\"}]"),
           expect(NULL, c_from_octet), "from asc, octet (capitals first)");
    is_ids(Q(NULL, "[{\"property\":\"to\",\"collation\":\"i;unicode-casemap\"}]"),
           expect(NULL, c_to_asc), "to asc");
    is_ids(Q(NULL, "[{\"property\":\"to\",\"isAscending\":false}]"),
           expect(NULL, c_to_desc), "to desc");
    is_ids(Q(NULL, "[{\"property\":\"subject\"}]"), expect(NULL, c_subj_asc),
           "subject asc (i;unicode-casemap: Über among the u's)");
    is_ids(Q(NULL, "[{\"property\":\"subject\",\"collation\":\"i;ascii-casemap\"}]"),
           expect(NULL, c_subj_ascii), "subject asc, ascii-casemap: Über after z");
    is_ids(Q(NULL, "[{\"property\":\"subject\",\"collation\":\"i;octet\"}]"),
           expect(NULL, c_subj_octet), "subject asc, octet: capitals first");
    is_ids(Q(NULL, "[{\"property\":\"subject\",\"isAscending\":false}]"),
           expect(NULL, c_subj_desc), "subject desc");
    is_ids(Q(NULL, "[{\"property\":\"subject\",\"collation\":\"i;ascii-numeric\"}]"),
           expect(NULL, c_subj_num), "subject, ascii-numeric: 9 before 10, words last");
    is_ids(Q(NULL, "[{\"property\":\"hasKeyword\",\"keyword\":\"$flagged\","
                   "\"isAscending\":false},{\"property\":\"receivedAt\",\"isAscending\":false}]"),
           expect(NULL, c_flagged_then_recv), "hasKeyword desc, then receivedAt desc");
    is_ids(Q(NULL, "[{\"property\":\"someInThreadHaveKeyword\",\"keyword\":\"$flagged\","
                   "\"isAscending\":false},{\"property\":\"receivedAt\",\"isAscending\":false}]"),
           expect(NULL, c_some_flagged_then_recv), "someInThreadHaveKeyword desc, then receivedAt");
    is_ids(Q(NULL, "[{\"property\":\"allInThreadHaveKeyword\",\"keyword\":\"$seen\"},"
                   "{\"property\":\"size\"}]"),
           expect(NULL, c_all_seen_asc_then_size), "allInThreadHaveKeyword asc, then size");
    is_ids(Q(NULL, "[]"), expect(NULL, NULL), "empty sort: newest first");
    /* collapseThreads */
    is_ids(Q(NULL, .collapse = 1), expect_w(NULL, NULL, 1, 0, N, NULL),
           "collapseThreads: newest of each thread");
    is_ids(Q(NULL, "[{\"property\":\"size\"}]", .collapse = 1),
           expect_w(NULL, c_size_asc, 1, 0, N, NULL), "collapseThreads by size");
    is_ids(Q(f, "[{\"property\":\"subject\",\"isAscending\":false}]", .collapse = 1),
           expect_w(p_inbox, c_subj_desc, 1, 0, N, NULL), "collapseThreads in a mailbox, subject");
    is_ids(Q(f, "[{\"property\":\"size\",\"isAscending\":false}]", .collapse = 1,
             .position = 2, .limit = 5),
           expect_w(p_inbox, c_size_desc, 1, 2, 5, NULL), "collapseThreads with a window");
}

static void windows(void)
{
    const char *f = apr_psprintf(pool, "{\"inMailbox\":\"%s\"}", MB[0]);
    const char *all = expect(NULL, NULL);
    out_t o;
    int total;

    expect_w(p_inbox, NULL, 0, 0, N, &total);
    o = Q(f, .limit = 5);
    is_ids(o, expect_w(p_inbox, NULL, 0, 0, 5, NULL), "limit 5");
    ok(!o.capped && o.limit == 5, "limit 5 is not capped");
    is_int(o.total, -1, "no total unless asked");
    o = Q(f, .position = 3, .limit = 4, .total = 1);
    is_ids(o, expect_w(p_inbox, NULL, 0, 3, 4, NULL), "position 3, limit 4");
    is_int(o.position, 3, "position 3");
    is_int(o.total, total, "total");
    o = Q(f, .position = -5);
    is_ids(o, expect_w(p_inbox, NULL, 0, total - 5, N, NULL), "position -5: the last five");
    is_int(o.position, total - 5, "negative position resolved");
    o = Q(f, .position = -1000);
    is_ids(o, expect(p_inbox, NULL), "position before the start: clamped to 0");
    is_int(o.position, 0, "clamped position");
    o = Q(f, .position = total);
    is_ids(o, "", "position at the end: empty");
    o = Q(f, .position = 100000, .total = 1);
    is_ids(o, "", "position far past the end: empty, no error");
    is_int(o.total, total, "total still given");
    o = Q(f, .limit = -2, .total = 1);
    is_ids(o, "", "limit 0: no ids");
    is_int(o.total, total, "limit 0 still counts");
    o = Q(NULL);
    ok(o.capped && o.limit == JM_QUERY_MAX_LIMIT, "no limit: capped to 1000");
    o = Q(NULL, .limit = 5000);
    ok(o.capped && o.limit == JM_QUERY_MAX_LIMIT, "limit 5000: capped to 1000");
    is_ids(Q("{\"hasKeyword\":\"$nothing\"}", .total = 1), "", "empty result");
    is_int(Q("{\"hasKeyword\":\"$nothing\"}", .total = 1).total, 0, "empty result: total 0");
    is_ids(Q("{\"hasKeyword\":\"$nothing\"}", .position = -3), "",
           "empty result, negative position");

    /* anchors (newest first: Mq49 is index 0, Mq00 index 49) */
    o = Q(NULL, .anchor = "Mq45", .limit = 3);
    is_ids(o, "Mq45,Mq44,Mq43", "anchor");
    is_int(o.position, 4, "anchor: its index");
    o = Q(NULL, .anchor = "Mq45", .offset = -2, .limit = 3);
    is_ids(o, "Mq47,Mq46,Mq45", "anchorOffset -2");
    is_int(o.position, 2, "anchorOffset -2: position");
    o = Q(NULL, .anchor = "Mq45", .offset = -10, .limit = 2);
    is_ids(o, "Mq49,Mq48", "anchorOffset before the start: clamped to 0");
    is_int(o.position, 0, "clamped");
    o = Q(NULL, .anchor = "Mq49", .limit = 2);
    is_ids(o, "Mq49,Mq48", "anchor: the first");
    o = Q(NULL, .anchor = "Mq00", .limit = 2);
    is_ids(o, "Mq00", "anchor: the last");
    is_int(o.position, N - 1, "the last's index");
    o = Q(NULL, .anchor = "Mq00", .offset = 1);
    is_ids(o, "", "anchorOffset past the end: empty");
    o = Q(NULL, .anchor = "Mq45", .offset = 2, .position = 40, .limit = 1);
    is_ids(o, "Mq43", "with an anchor, position is ignored");
    o = Q(f, .anchor = "Mq01");
    ok(o.rv == APR_NOTFOUND, "anchor not in the results: anchorNotFound");
    o = Q(NULL, .anchor = "nosuchid");
    ok(o.rv == APR_NOTFOUND, "unknown anchor: anchorNotFound");
    o = Q(NULL, .anchor = "Mq46", .collapse = 1);
    ok(o.rv == APR_NOTFOUND, "anchor collapsed away: anchorNotFound");
    o = Q(NULL, .anchor = "Mq47", .offset = 1, .limit = 2, .collapse = 1);
    /* collapsed: Mq49 (thread 12), Mq47 (thread 11), Mq43, ... */
    is_ids(o, expect_w(NULL, NULL, 1, 2, 2, NULL), "collapsed anchor + offset");
    is_int(o.position, 2, "collapsed anchor's position");
    o = Q(NULL, .anchor = "Mq47", .collapse = 1, .total = 1, .limit = 1);
    expect_w(NULL, NULL, 1, 0, N, &total);
    is_int(o.total, total, "collapsed total (threads)");
    is_ids(Q(NULL, .position = 0, .limit = N), all, "everything in one window");
}

/* Parse errors: the type and that the description names the property. */
static void bad(const char *filter, const char *sort, const char *type, const char *names,
                const char *name)
{
    out_t o = Q(filter, sort);
    int ok_ = o.err.type && !strcmp(o.err.type, type) && o.err.description
              && strstr(o.err.description, names);
    ok(ok_, "[%s] %s: %s", DRV, name, type);
    if (!ok_) {
        diag("got %s: %s", o.err.type ? o.err.type : "(success)",
             o.err.description ? o.err.description : "");
    }
}

static void errors(void)
{
    out_t o;

    bad("{\"foo\":1}", NULL, "unsupportedFilter", "foo", "unknown property");
    bad("{\"operator\":\"AND\",\"conditions\":[{\"inMailbox\":\"x\",\"bar\":true}]}",
        NULL, "unsupportedFilter", "bar", "unknown property, nested");
    bad("{\"inMailbox\":5}", NULL, "invalidArguments", "inMailbox", "inMailbox not a string");
    bad("{\"inMailbox\":\"a b\"}", NULL, "invalidArguments", "inMailbox", "inMailbox not an Id");
    bad("{\"inMailbox\":null}", NULL, "invalidArguments", "inMailbox", "inMailbox null");
    bad("{\"inMailboxOtherThan\":\"x\"}", NULL, "invalidArguments", "inMailboxOtherThan",
        "inMailboxOtherThan not an array");
    bad("{\"inMailboxOtherThan\":[\"x\",1]}", NULL, "invalidArguments",
        "inMailboxOtherThan/1", "inMailboxOtherThan with a number");
    bad("{\"before\":\"yesterday\"}", NULL, "invalidArguments", "before", "before not a date");
    bad("{\"after\":\"2020-01-01T00:00:00+02:00\"}", NULL, "invalidArguments", "after",
        "after not UTC");
    bad("{\"minSize\":-1}", NULL, "invalidArguments", "minSize", "minSize negative");
    bad("{\"maxSize\":1.5}", NULL, "invalidArguments", "maxSize", "maxSize not an integer");
    bad("{\"maxSize\":9007199254740992}", NULL, "invalidArguments", "maxSize", "maxSize > 2^53-1");
    bad("{\"hasKeyword\":\"a b\"}", NULL, "invalidArguments", "hasKeyword", "keyword with space");
    bad("{\"notKeyword\":\"\"}", NULL, "invalidArguments", "notKeyword", "empty keyword");
    bad("{\"someInThreadHaveKeyword\":\"a(b\"}", NULL, "invalidArguments",
        "someInThreadHaveKeyword", "keyword with (");
    bad("{\"allInThreadHaveKeyword\":\"a]\"}", NULL, "invalidArguments",
        "allInThreadHaveKeyword", "keyword with ]");
    bad("{\"noneInThreadHaveKeyword\":\"ü\"}", NULL, "invalidArguments",
        "noneInThreadHaveKeyword", "keyword not ASCII");
    bad("{\"hasKeyword\":7}", NULL, "invalidArguments", "hasKeyword", "keyword not a string");
    {
        char kw[300];
        memset(kw, 'k', 256);
        kw[256] = 0;
        bad(apr_psprintf(pool, "{\"hasKeyword\":\"%s\"}", kw), NULL, "invalidArguments",
            "hasKeyword", "keyword of 256 characters");
        kw[255] = 0;
        o = Q(apr_psprintf(pool, "{\"hasKeyword\":\"%s\"}", kw));
        ok(!o.err.type && o.rv == APR_SUCCESS, "keyword of 255 characters is fine");
    }
    bad("{\"hasAttachment\":\"yes\"}", NULL, "invalidArguments", "hasAttachment",
        "hasAttachment not a Boolean");
    bad("{\"text\":1}", NULL, "invalidArguments", "text", "text not a string");
    bad("{\"from\":null}", NULL, "invalidArguments", "from", "from null");
    bad("{\"body\":[]}", NULL, "invalidArguments", "body", "body an array");
    bad("{\"header\":[]}", NULL, "invalidArguments", "header", "header empty");
    bad("{\"header\":[\"a\",\"b\",\"c\"]}", NULL, "invalidArguments", "header",
        "header of three");
    bad("{\"header\":[\"Sub ject\"]}", NULL, "invalidArguments", "header",
        "header name with a space");
    bad("{\"header\":\"Subject\"}", NULL, "invalidArguments", "header", "header a string");
    bad("{\"header\":[\"X-Spam\",7]}", NULL, "invalidArguments", "header",
        "header text not a string");
    bad("{\"header\":[\"\"]}", NULL, "invalidArguments", "header", "header name empty");
    bad("{\"operator\":\"XOR\",\"conditions\":[]}", NULL, "invalidArguments", "operator",
        "unknown operator");
    bad("{\"operator\":\"AND\"}", NULL, "invalidArguments", "conditions", "no conditions");
    bad("{\"operator\":\"AND\",\"conditions\":{}}", NULL, "invalidArguments", "conditions",
        "conditions not an array");
    bad("{\"operator\":\"AND\",\"conditions\":[],\"text\":\"x\"}", NULL,
        "invalidArguments", "text", "operator with a condition property");
    bad("{\"operator\":\"AND\",\"conditions\":[5]}", NULL, "invalidArguments",
        "conditions/0", "condition not an object");
    bad("[]", NULL, "invalidArguments", "filter", "filter an array");
    {
        const char *deep = "{}";
        int i;
        for (i = 0; i < JM_SQ_FILTER_MAX_DEPTH + 1; i++) {
            deep = apr_psprintf(pool, "{\"operator\":\"NOT\",\"conditions\":[%s]}", deep);
        }
        bad(deep, NULL, "unsupportedFilter", "deeper than", "too deep");
        deep = "{}";
        for (i = 0; i < JM_SQ_FILTER_MAX_DEPTH - 1; i++) {
            deep = apr_psprintf(pool, "{\"operator\":\"NOT\",\"conditions\":[%s]}", deep);
        }
        o = Q(deep);
        is_ids(o, (JM_SQ_FILTER_MAX_DEPTH - 1) % 2 ? "" : expect(NULL, NULL),
               "the deepest filter allowed runs");
    }
    bad("{\"text\":\"a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7\"}",
        NULL, "unsupportedFilter", "text", "too many search terms");
    bad(NULL, "[{\"property\":\"color\"}]", "unsupportedSort", "color", "unknown sort property");
    bad(NULL, "[{\"property\":\"subject\",\"collation\":\"i;klingon\"}]", "unsupportedSort",
        "klingon", "unknown collation");
    bad(NULL, "[{\"property\":\"hasKeyword\"}]", "invalidArguments", "keyword",
        "keyword sort without a keyword");
    bad(NULL, "[{\"property\":\"hasKeyword\",\"keyword\":\"a b\"}]", "invalidArguments",
        "keyword", "keyword sort with a bad keyword");
    bad(NULL, "[{\"property\":\"size\",\"keyword\":\"x\"}]", "invalidArguments", "keyword",
        "keyword on another sort");
    bad(NULL, "[{\"property\":\"size\",\"isAscending\":\"no\"}]", "invalidArguments",
        "isAscending", "isAscending not a Boolean");
    bad(NULL, "[{\"property\":\"size\",\"extra\":1}]", "invalidArguments", "extra",
        "unknown Comparator member");
    bad(NULL, "[{\"isAscending\":true}]", "invalidArguments", "property", "no property");
    bad(NULL, "[5]", "invalidArguments", "sort/0", "comparator not an object");
    bad(NULL, "{}", "invalidArguments", "sort", "sort not an array");
}

/* ---- the method calls (argument parsing, answers, snippets) ----------------- */

static jm_limits_t LIMITS = { .max_objects_in_get = 20 };

static json_t *call(apr_status_t (*fn)(jm_call_t *), const char *args, const char **perr)
{
    jm_account_t acct = { .id = ACC, .username = "quinn" };
    jm_ctx_t ctx;
    jm_call_t c;
    json_t *a = json_loads(args, 0, NULL), *res;

    memset(&ctx, 0, sizeof(ctx));
    ctx.pool = pool;
    ctx.account = &acct;
    ctx.db = DB;
    ctx.limits = &LIMITS;
    memset(&c, 0, sizeof(c));
    c.ctx = &ctx;
    c.args = a;
    c.pool = pool;
    *perr = NULL;
    if (!a || fn(&c) != APR_SUCCESS) {
        *perr = "call failed";
        json_decref(a);
        return NULL;
    }
    json_decref(a);
    if (c.error) {
        *perr = apr_pstrdup(pool, json_string_value(json_object_get(c.error, "type")));
        json_decref(c.error);
        return NULL;
    }
    res = jm_json_own(pool, c.result);
    return res;
}

static const char *args_acc(const char *rest)
{
    return apr_psprintf(pool, "{\"accountId\":\"%s\"%s%s}", ACC, *rest ? "," : "", rest);
}

static void methods(void)
{
    const char *err, *st;
    json_t *r, *l, *s;

    r = call(jm_email_query, args_acc(apr_psprintf(pool, "\"filter\":{\"inMailbox\":\"%s\"},"
             "\"sort\":[{\"property\":\"receivedAt\",\"isAscending\":false}],"
             "\"limit\":3,\"calculateTotal\":true", MB[0])), &err);
    ok(r != NULL, "[%s] Email/query answers", DRV);
    jm_store_state(&st, DB, ACC, JM_TYPE_EMAIL, pool);
    is_str(json_string_value(json_object_get(r, "queryState")), st, "queryState is the Email state");
    ok(json_is_true(json_object_get(r, "canCalculateChanges")),
       "canCalculateChanges: Email/queryChanges follows this query");
    is_int(json_integer_value(json_object_get(r, "position")), 0, "position 0");
    is_int(json_array_size(json_object_get(r, "ids")), 3, "3 ids");
    is_str(json_string_value(json_array_get(json_object_get(r, "ids"), 0)), "Mq48", "newest of inbox");
    ok(json_is_integer(json_object_get(r, "total")), "total when asked");
    ok(!json_object_get(r, "limit"), "no limit when not capped");
    ok(json_is_false(json_object_get(r, "collapseThreads")), "collapseThreads echoed");
    r = call(jm_email_query, args_acc(""), &err);
    ok(r && json_integer_value(json_object_get(r, "limit")) == JM_QUERY_MAX_LIMIT
       && !json_object_get(r, "total"), "no limit: limit 1000 in the answer, no total");
    call(jm_email_query, args_acc("\"bogus\":1"), &err);
    is_str(err, "invalidArguments", "unknown argument");
    call(jm_email_query, args_acc("\"limit\":-1"), &err);
    is_str(err, "invalidArguments", "negative limit");
    call(jm_email_query, args_acc("\"position\":\"1\""), &err);
    is_str(err, "invalidArguments", "position a string");
    call(jm_email_query, args_acc("\"anchorOffset\":1.5"), &err);
    is_str(err, "invalidArguments", "anchorOffset a float");
    call(jm_email_query, args_acc("\"anchor\":5"), &err);
    is_str(err, "invalidArguments", "anchor a number");
    call(jm_email_query, args_acc("\"calculateTotal\":1"), &err);
    is_str(err, "invalidArguments", "calculateTotal a number");
    call(jm_email_query, args_acc("\"collapseThreads\":\"yes\""), &err);
    is_str(err, "invalidArguments", "collapseThreads a string");
    call(jm_email_query, args_acc("\"anchor\":\"nope\""), &err);
    is_str(err, "anchorNotFound", "anchorNotFound");
    call(jm_email_query, args_acc("\"filter\":{\"header\":[\"X-A\"]}"), &err);
    is_str(err, NULL, "header: a supported filter");
    call(jm_email_query, args_acc("\"filter\":{\"nope\":1}"), &err);
    is_str(err, "unsupportedFilter", "unknown filter property");
    call(jm_email_query, args_acc("\"sort\":[{\"property\":\"nope\"}]"), &err);
    is_str(err, "unsupportedSort", "unsupportedSort");
    r = call(jm_email_query, args_acc("\"anchor\":null,\"limit\":null,\"sort\":null,"
             "\"filter\":null"), &err);
    ok(r != NULL, "nulls where null is allowed");

    r = call(jm_snippet_get, args_acc("\"filter\":{\"text\":\"koln\"},"
             "\"emailIds\":[\"Mq00\",\"Mq01\",\"Mq12\",\"nope\"]"), &err);
    l = json_object_get(r, "list");
    ok(r && json_array_size(l) == 3, "[%s] SearchSnippet/get: three snippets", DRV);
    s = json_array_get(l, 0);
    is_str(json_string_value(json_object_get(s, "emailId")), "Mq00", "emailId");
    is_str(json_string_value(json_object_get(s, "subject")), "Grüße aus <mark>Köln</mark>",
           "subject marked (accents ignored)");
    is_str(json_string_value(json_object_get(s, "preview")),
           "Der Dom in <mark>Köln</mark> ist schön", "preview marked");
    s = json_array_get(l, 1);
    ok(json_is_null(json_object_get(s, "subject")) && json_is_null(json_object_get(s, "preview")),
       "no match: null subject and preview");
    s = json_array_get(l, 2);
    ok(json_is_string(json_object_get(s, "subject")) && json_is_null(json_object_get(s, "preview")),
       "subject only");
    is_str(json_string_value(json_array_get(json_object_get(r, "notFound"), 0)), "nope", "notFound");
    r = call(jm_snippet_get, args_acc("\"filter\":{\"body\":\"hello NEAR\"},"
             "\"emailIds\":[\"Mq02\"]"), &err);
    s = json_array_get(json_object_get(r, "list"), 0);
    is_str(json_string_value(json_object_get(s, "preview")),
           "say &quot;<mark>hello</mark>&quot; to*all - now: yes <mark>NEAR</mark> the end",
           "preview HTML-escaped, both words marked");
    ok(json_is_null(json_object_get(s, "subject")), "body terms do not mark the subject");
    ok(json_is_null(json_object_get(r, "notFound")), "notFound null when all are found");
    r = call(jm_snippet_get, args_acc("\"filter\":{\"operator\":\"NOT\",\"conditions\":"
             "[{\"text\":\"koln\"}]},\"emailIds\":[\"Mq00\"]"), &err);
    s = json_array_get(json_object_get(r, "list"), 0);
    ok(json_is_null(json_object_get(s, "subject")), "terms under NOT are not marked");
    r = call(jm_snippet_get, args_acc("\"filter\":null,\"emailIds\":[\"Mq00\"]"), &err);
    s = json_array_get(json_object_get(r, "list"), 0);
    ok(r && json_is_null(json_object_get(s, "subject")), "no filter: nothing marked");
    call(jm_snippet_get, args_acc("\"filter\":{\"text\":\"a\"}"), &err);
    is_str(err, "invalidArguments", "SearchSnippet/get without emailIds");
    call(jm_snippet_get, args_acc("\"emailIds\":[1]"), &err);
    is_str(err, "invalidArguments", "emailIds with a number");
    call(jm_snippet_get, args_acc("\"emailIds\":[],\"x\":1"), &err);
    is_str(err, "invalidArguments", "unknown argument");
    call(jm_snippet_get, args_acc("\"emailIds\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
         "\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\","
         "\"s\",\"t\",\"u\"]"), &err);
    is_str(err, "requestTooLarge", "more emailIds than maxObjectsInGet");
    call(jm_snippet_get, args_acc("\"filter\":{\"zzz\":1},\"emailIds\":[]"), &err);
    is_str(err, "unsupportedFilter", "SearchSnippet/get: unknown filter property");
    call(jm_snippet_get, args_acc("\"filter\":{\"header\":[\"X\"]},\"emailIds\":[]"), &err);
    is_str(err, NULL, "SearchSnippet/get: a header condition is a filter like any other");
}

static void terms(void)
{
    apr_array_header_t *t = jm_email_search_terms("  foo \"bar baz\" 'q\\'x' * \"open", pool);

    is_int(t->nelts, 4, "search terms: foo, bar baz, q'x, \"open");
    is_str(APR_ARRAY_IDX(t, 0, const char *), "foo", "a word");
    is_str(APR_ARRAY_IDX(t, 1, const char *), "bar baz", "a double-quoted phrase");
    is_str(APR_ARRAY_IDX(t, 2, const char *), "q'x", "a single-quoted phrase with an escape");
    is_str(APR_ARRAY_IDX(t, 3, const char *), "\"open", "an unmatched quote is part of a word");
    is_str(jm_email_keyword("$Seen", pool), "$seen", "keywords are lower-cased");
    ok(!jm_email_keyword("a%b", pool) && !jm_email_keyword("a*b", pool)
       && !jm_email_keyword("a{b", pool) && !jm_email_keyword("a\\b", pool)
       && !jm_email_keyword("a\"b", pool), "keyword: %% * { \\ \" refused");
    ok(jm_email_keyword("a}b[c", pool) != NULL, "keyword: } and [ allowed");
}

/* The common query walks the mailbox index in order: no scan of the
 * account, no sort (SQLite's plan; PostgreSQL's planner picks by size,
 * see bench/query for its plan on 100k messages). */
/* jm_db_select_sql keeps JM_DB_COMPOSED_KEPT composed statements per
 * connection; past them each is prepared for its one call: the answers
 * stay right, and so does the statement after a failing one. */
static void composed_past_cache(void)
{
    apr_pool_t *p;
    int i, good = 0;

    apr_pool_create(&p, pool);
    for (i = 0; i < JM_DB_COMPOSED_KEPT + 20; i++) {
        apr_array_header_t *rows = NULL;
        const char *args[] = { "v" };
        const char *sql = apr_psprintf(p, "SELECT %%s || '%d'", i);

        if (jm_db_select_sql(&rows, DB, sql, 1, args, p) == APR_SUCCESS && rows->nelts == 1
            && !strcmp(APR_ARRAY_IDX(rows, 0, const char **)[0],
                       apr_psprintf(p, "v%d", i))) {
            good++;
        }
    }
    is_int(good, JM_DB_COMPOSED_KEPT + 20,
           apr_psprintf(p, "[%s] composed selects past the kept ones", DRV));
    {
        apr_array_header_t *rows = NULL;
        const char *args[] = { "v" };

        ok(jm_db_select_sql(&rows, DB, "SELECT nonsense FROM nowhere_at_all", 0, NULL, p)
           != APR_SUCCESS, "[%s] a bad one past them fails", DRV);
        ok(jm_db_select_sql(&rows, DB, "SELECT %s || 'after'", 1, args, p) == APR_SUCCESS
           && rows->nelts == 1
           && !strcmp(APR_ARRAY_IDX(rows, 0, const char **)[0], "vafter"),
           "[%s] and the next one still answers", DRV);
    }
    apr_pool_destroy(p);
}

static void plan(void)
{
    jm_sq_query_t q;
    jm_sq_result_t r;
    jm_email_cond_t c;
    jm_sq_filter_t f;
    jm_sort_t so = { JM_SORT_RECEIVED_AT, 0, JM_COLL_UNICODE_CASEMAP, NULL };
    apr_array_header_t *sort = apr_array_make(pool, 1, sizeof(jm_sort_t)), *args, *rows;
    const char *sql, *why, *all = "";
    int i;

    memset(&c, 0, sizeof(c));
    c.has_attachment = -1;
    c.in_mailbox = MB[0];
    f.op = JM_SQ_COND;
    f.cond = &c;
    f.children = NULL;
    APR_ARRAY_PUSH(sort, jm_sort_t) = so;
    memset(&q, 0, sizeof(q));
    q.filter = &f;
    q.sort = sort;
    q.limit = 50;
    ok(jm_store_email_query_sql(&sql, &args, DB, ACC, &q, pool) == APR_SUCCESS,
       "[%s] the window's statement", DRV);
    if (!strcmp(DRV, "sqlite3")) {
        /* (apr_dbd's pgsql prepares with SQL PREPARE, which takes no EXPLAIN) */
        ok(jm_db_select_sql(&rows, DB, apr_pstrcat(pool, "EXPLAIN QUERY PLAN ", sql, NULL),
                            args->nelts, (const char **)args->elts, pool) == APR_SUCCESS,
           "[%s] EXPLAIN QUERY PLAN it", DRV);
        for (i = 0; i < rows->nelts; i++) {
            all = apr_pstrcat(pool, all, "\n#   ", APR_ARRAY_IDX(rows, i, const char **)[3], NULL);
        }
        diag("%s plan of %s:%s", DRV, sql, all);
        ok(strstr(all, "jm_email_mailboxes_by_received") && !strstr(all, "TEMP B-TREE")
           && !strstr(all, "SCAN e"), "[sqlite3] inMailbox, receivedAt desc, limit 50: the"
           " mailbox index in order, no sort, no scan of the emails");
    }
    {
        /* the full-text search of bench/query: FTS5 gives the matches in
         * receivedAt order, the LIMIT stops it */
        apr_array_header_t *terms = apr_array_make(pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(terms, const char *) = "fox";
        c.in_mailbox = NULL;
        c.text[JM_TEXT_ALL] = terms;
        ok(jm_store_email_query_sql(&sql, &args, DB, ACC, &q, pool) == APR_SUCCESS,
           "[%s] the text window's statement", DRV);
        if (!strcmp(DRV, "sqlite3")) {
            all = "";
            ok(jm_db_select_sql(&rows, DB, apr_pstrcat(pool, "EXPLAIN QUERY PLAN ", sql,
                                                        NULL),
                                args->nelts, (const char **)args->elts, pool) == APR_SUCCESS,
               "[%s] EXPLAIN QUERY PLAN it", DRV);
            for (i = 0; i < rows->nelts; i++) {
                all = apr_pstrcat(pool, all, "\n#   ",
                                  APR_ARRAY_IDX(rows, i, const char **)[3], NULL);
            }
            diag("%s plan of %s:%s", DRV, sql, all);
            ok(strstr(all, "SCAN f VIRTUAL TABLE") && !strstr(all, "TEMP B-TREE"),
               "[sqlite3] text, receivedAt desc, limit 50: the full-text index in order,"
               " no sort");
        }
        c.text[JM_TEXT_ALL] = NULL;
    }
    q.filter = NULL;
    ok(jm_store_email_query(&r, &why, DB, ACC, &q, pool) == APR_SUCCESS && r.ids->nelts == 50,
       "[%s] struct-built query runs", DRV);
}

/* ---- drivers ---------------------------------------------------------------------- */

static int suite(const apr_dbd_driver_t *drv, const char *params, const char *name)
{
    apr_dbd_t *h;
    const char *err = NULL;
    apr_array_header_t *boxes;
    int from, created, i;

    DRV = name;
    if (apr_dbd_open(drv, pool, params, &h) != APR_SUCCESS
        || jm_db_wrap(&DB, drv, h, apr_hash_make(pool), pool, pool) != APR_SUCCESS) {
        ok(0, "[%s] open", name);
        return 0;
    }
    ok(jm_schema_migrate(DB, &from, &err, pool) == APR_SUCCESS, "[%s] schema", name);
    ok(jm_store_account_ensure(&ACC, &created, DB, "quinn", pool) == APR_SUCCESS,
       "[%s] account", name);
    jm_store_mailboxes(&boxes, DB, ACC, pool);
    for (i = 0; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (!strcmp(m->role, "inbox")) {
            MB[0] = m->id;
        }
        else if (!strcmp(m->role, "archive")) {
            MB[1] = m->id;
        }
        else if (!strcmp(m->role, "trash")) {
            MB[2] = m->id;
        }
    }
    ok(MB[0] && MB[1] && MB[2], "[%s] inbox, archive, trash", name);
    {
        /* another account holds the same emails (same ids): no answer may
         * come from it */
        const char *other, *omb[3] = { NULL, NULL, NULL };
        ok(jm_store_account_ensure(&other, &created, DB, "rhea", pool) == APR_SUCCESS,
           "[%s] a second account", name);
        jm_store_mailboxes(&boxes, DB, other, pool);
        for (i = 0; i < boxes->nelts; i++) {
            jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
            int k = !strcmp(m->role, "inbox") ? 0 : !strcmp(m->role, "archive") ? 1
                    : !strcmp(m->role, "trash") ? 2 : -1;
            if (k >= 0) {
                omb[k] = m->id;
            }
        }
        ok(seed(DB, other, omb) == APR_SUCCESS, "[%s] its 50 emails stored", name);
    }
    ok(seed(DB, ACC, MB) == APR_SUCCESS, "[%s] 50 emails stored", name);
    filters();
    text();
    headers();
    text_windows();
    sorts();
    windows();
    errors();
    methods();
    plan();
    composed_past_cache();
    jm_db_close(DB);
    return 1;
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    const char *dir, *port = getenv("JMAP_TEST_PG_PORT");

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    model();
    terms();
    if (apr_dbd_get_driver(pool, "sqlite3", &drv) != APR_SUCCESS) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    dir = apr_psprintf(pool, "/tmp/jm-test-query.%d", (int)getpid());
    apr_dir_make_recursive(dir, APR_OS_DEFAULT, pool);
    suite(drv, apr_pstrcat(pool, dir, "/q.db", NULL), "sqlite3");
    if (port && *port && apr_dbd_get_driver(pool, "pgsql", &drv) == APR_SUCCESS) {
        const char *admin = apr_psprintf(pool, "host=127.0.0.1 port=%s dbname=jmap user=jmap"
                                         " password=jmappw", port);
        const char *name = apr_psprintf(pool, "jmq_%d", (int)getpid());
        apr_dbd_t *h;
        int n;

        if (apr_dbd_open(drv, pool, admin, &h) == APR_SUCCESS
            && apr_dbd_query(drv, h, &n, apr_psprintf(pool, "CREATE DATABASE %s", name)) == 0) {
            suite(drv, apr_psprintf(pool, "host=127.0.0.1 port=%s dbname=%s user=jmap"
                                    " password=jmappw", port, name), "pgsql");
            apr_dbd_query(drv, h, &n, apr_psprintf(pool, "DROP DATABASE %s", name));
            apr_dbd_close(drv, h);
        }
        else {
            ok(0, "PostgreSQL on port %s (JMAP_TEST_PG_PORT)", port);
        }
    }
    else {
        diag("PostgreSQL part skipped: JMAP_TEST_PG_PORT is not set");
    }
    {
        const char *f = apr_pstrcat(pool, dir, "/q.db", NULL);
        apr_file_remove(f, pool);
        apr_file_remove(apr_pstrcat(pool, f, "-wal", NULL), pool);
        apr_file_remove(apr_pstrcat(pool, f, "-shm", NULL), pool);
        apr_dir_remove(dir, pool);
    }
    return done_testing();
}
