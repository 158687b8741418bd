/* Email/query (RFC 8621 §4.4) as SQL: each statement is composed from the
 * dialect's constant fragments (sql/jm_sql.h, JM_QF_*), values bound in
 * the order their placeholders appear; jm_db_select_sql keeps the
 * prepared statements per connection. */
#include <string.h>
#include <apr_strings.h>
#include "store/jm_store_query.h"

/* The cap on a window: the query's own (queryChanges reads more) or the
 * default every client gets. */
#define CAP(q) ((q)->max_limit > 0 ? (q)->max_limit : JM_QUERY_MAX_LIMIT)
#include "store/jm_store_int.h"

/* jm_sql.h's JM_SQL_TEXT_FIELDS counts jm_text_field_t */
typedef char text_fields_match[JM_SQL_TEXT_FIELDS == JM_TEXT__COUNT ? 1 : -1];

/* Bound on the values of one statement (the filter parser bounds the tree
 * well below it; this is the last line). */
#define MAX_ARGS 600

typedef struct {
    const jm_sql_dialect_t *d;
    apr_pool_t *p;
    apr_array_header_t *sql;        /* char */
    apr_array_header_t *args;       /* const char* */
    const char *account_id;
    const jm_sq_query_t *q;
    const jm_email_cond_t *driver;  /* its inMailbox is the FROM_MAILBOX */
    const jm_email_cond_t *text_driver; /* its text is FROM_TEXT's search */
    const char *why;                /* set: unsupportedFilter */
} qb_t;

/* One sort key: a comparator (i;ascii-numeric makes two). */
typedef struct {
    jm_qfrag_id_t base;
    const char *keyword;            /* the base's value, or NULL */
    jm_qfrag_id_t pre, post, order; /* JM_QF__COUNT: none */
    int ascending;
} sort_key_t;

/* Append n bytes to a char array. */
static void append(apr_array_header_t *a, const char *s, apr_size_t n)
{
    if (a->nelts + (int)n > a->nalloc) {
        int cap = a->nalloc > 0 ? a->nalloc * 2 : 64;
        char *elts;

        while (cap < a->nelts + (int)n) {
            cap *= 2;
        }
        elts = apr_palloc(a->pool, cap);
        memcpy(elts, a->elts, a->nelts);
        a->elts = elts;
        a->nalloc = cap;
    }
    memcpy(a->elts + a->nelts, s, n);
    a->nelts += (int)n;
}

static void put_text(qb_t *b, const char *s)
{
    append(b->sql, s, strlen(s));
}

static void put(qb_t *b, jm_qfrag_id_t id)
{
    put_text(b, jm_sql_qfrag(b->d, id));
}

/* A fragment with one placeholder, and its value. */
static void put_arg(qb_t *b, jm_qfrag_id_t id, const char *v)
{
    put(b, id);
    APR_ARRAY_PUSH(b->args, const char *) = v;
}

static const char *i64(qb_t *b, apr_int64_t v)
{
    return apr_psprintf(b->p, "%" APR_INT64_T_FMT, v);
}

static void reset(qb_t *b)
{
    b->sql = apr_array_make(b->p, 512, 1);
    b->args = apr_array_make(b->p, 8, sizeof(const char *));
}

/* Append an FTS5 phrase of s after the column filter col: ' {subject} :
 * "x y"'. The phrase is an FTS5 string (its quotes doubled), so FTS5
 * syntax in it (NEAR, *, -, :, AND) is text for the tokenizer, not
 * operators. */
static void fts5_phrase(apr_array_header_t *out, const char *col, const char *s)
{
    APR_ARRAY_PUSH(out, char) = ' ';
    append(out, col, strlen(col));
    APR_ARRAY_PUSH(out, char) = '"';
    for (; *s; s++) {
        if (*s == '"') {
            APR_ARRAY_PUSH(out, char) = '"';
        }
        APR_ARRAY_PUSH(out, char) = *s;
    }
    APR_ARRAY_PUSH(out, char) = '"';
}

/* The FTS5 query of one text field of c (only >= 0) or of all of them:
 * the account's column filter first, then every term's phrase (phrases
 * side by side are ANDed). */
static const char *fts5_query(qb_t *b, const jm_email_cond_t *c, int only)
{
    apr_array_header_t *out = apr_array_make(b->p, 64, 1);
    int i, j;

    fts5_phrase(out, b->d->fts5_account, b->account_id);
    for (i = 0; i < JM_TEXT__COUNT; i++) {
        if ((only >= 0 && i != only) || !c->text[i]) {
            continue;
        }
        for (j = 0; j < c->text[i]->nelts; j++) {
            fts5_phrase(out, b->d->fts5_columns[i],
                        APR_ARRAY_IDX(c->text[i], j, const char *));
        }
    }
    APR_ARRAY_PUSH(out, char) = 0;
    return out->elts;
}

static void put_text_cond(qb_t *b, const jm_email_cond_t *c, jm_text_field_t f)
{
    const char *const *part = b->d->text_parts[f];
    const char *fts = b->d->fts5_columns ? fts5_query(b, c, (int)f) : NULL;
    const apr_array_header_t *terms = c->text[f];
    int i;

    put_text(b, *part++);
    for (; *part; part++) {
        if (fts) {
            put_arg(b, JM_QF_TEXT_TERM, fts);
        }
        else {
            for (i = 0; i < terms->nelts; i++) {
                if (i) {
                    put(b, JM_QF_TEXT_TERM_AND);
                }
                put_arg(b, JM_QF_TEXT_TERM, APR_ARRAY_IDX(terms, i, const char *));
            }
        }
        put_text(b, *part);
    }
}

/* One condition: its properties ANDed (§4.4.1), "1 = 1" when it has none. */
static void put_cond(qb_t *b, const jm_email_cond_t *c)
{
    int n = 0, i;

#define NEXT() (n++ ? put(b, JM_QF_AND) : (void)0)
    put(b, JM_QF_OPEN);
    if (c->in_mailbox && c != b->driver) {
        NEXT();
        put_arg(b, JM_QF_IN_MAILBOX, c->in_mailbox);
    }
    if (c->in_mailbox_other_than) {
        const apr_array_header_t *l = c->in_mailbox_other_than;
        NEXT();
        if (!l->nelts) {
            put(b, JM_QF_IN_ANY_MAILBOX);
        }
        else {
            put(b, JM_QF_IN_MAILBOX_NOT_IN);
            for (i = 0; i < l->nelts; i++) {
                if (i) {
                    put(b, JM_QF_COMMA);
                }
                put_arg(b, JM_QF_PARAM, APR_ARRAY_IDX(l, i, const char *));
            }
            put(b, JM_QF_CLOSE2);
        }
    }
    if (c->has_before) {
        NEXT();
        put_arg(b, JM_QF_BEFORE, i64(b, c->before));
    }
    if (c->has_after) {
        NEXT();
        put_arg(b, JM_QF_AFTER, i64(b, c->after));
    }
    if (c->has_min_size) {
        NEXT();
        put_arg(b, JM_QF_MIN_SIZE, i64(b, c->min_size));
    }
    if (c->has_max_size) {
        NEXT();
        put_arg(b, JM_QF_MAX_SIZE, i64(b, c->max_size));
    }
    if (c->all_in_thread_kw) {
        NEXT();
        put_arg(b, JM_QF_ALL_IN_THREAD, c->all_in_thread_kw);
    }
    if (c->some_in_thread_kw) {
        NEXT();
        put_arg(b, JM_QF_SOME_IN_THREAD, c->some_in_thread_kw);
    }
    if (c->none_in_thread_kw) {
        NEXT();
        put(b, JM_QF_NOT);
        put_arg(b, JM_QF_SOME_IN_THREAD, c->none_in_thread_kw);
    }
    if (c->has_kw) {
        NEXT();
        put_arg(b, JM_QF_HAS_KEYWORD, c->has_kw);
    }
    if (c->not_kw) {
        NEXT();
        put(b, JM_QF_NOT);
        put_arg(b, JM_QF_HAS_KEYWORD, c->not_kw);
    }
    if (c->has_attachment >= 0) {
        NEXT();
        put_arg(b, JM_QF_HAS_ATTACHMENT, c->has_attachment ? "1" : "0");
    }
    for (i = 0; i < JM_TEXT__COUNT && c != b->text_driver; i++) {
        /* no terms (nothing but punctuation): no restriction */
        if (c->text[i] && c->text[i]->nelts) {
            NEXT();
            put_text_cond(b, c, (jm_text_field_t)i);
        }
    }
    if (c->header_name) {
        /* the filter parser gives the name lower-case and the text
         * case-folded, as the indexer stored them */
        NEXT();
        if (c->header_value) {
            put_arg(b, JM_QF_HEADER_VALUE, c->header_name);
            APR_ARRAY_PUSH(b->args, const char *) = c->header_value;
        }
        else {
            put_arg(b, JM_QF_HEADER_HAS, c->header_name);
        }
    }
    if (!n) {
        put(b, JM_QF_TRUE);
    }
    put(b, JM_QF_CLOSE);
#undef NEXT
}

/* AND/OR over the children; NOT (§5.5: none matches) is NOT (a OR b). */
static void put_filter(qb_t *b, const jm_sq_filter_t *f)
{
    int i;

    if (f->op == JM_SQ_COND) {
        put_cond(b, f->cond);
        return;
    }
    if (!f->children->nelts) {
        put(b, f->op == JM_SQ_OR ? JM_QF_FALSE : JM_QF_TRUE);
        return;
    }
    if (f->op == JM_SQ_NOT) {
        put(b, JM_QF_NOT);
    }
    put(b, JM_QF_OPEN);
    for (i = 0; i < f->children->nelts; i++) {
        if (i) {
            put(b, f->op == JM_SQ_AND ? JM_QF_AND : JM_QF_OR);
        }
        put_filter(b, APR_ARRAY_IDX(f->children, i, const jm_sq_filter_t *));
    }
    put(b, JM_QF_CLOSE);
}

/* The condition whose inMailbox every result must satisfy: the root, or a
 * condition directly under a root AND. */
static const jm_email_cond_t *find_driver(const jm_sq_filter_t *f)
{
    int i;

    if (!f) {
        return NULL;
    }
    if (f->op == JM_SQ_COND) {
        return f->cond->in_mailbox ? f->cond : NULL;
    }
    if (f->op == JM_SQ_AND) {
        for (i = 0; i < f->children->nelts; i++) {
            const jm_sq_filter_t *c = APR_ARRAY_IDX(f->children, i, const jm_sq_filter_t *);
            if (c->op == JM_SQ_COND && c->cond->in_mailbox) {
                return c->cond;
            }
        }
    }
    return NULL;
}

/* Whether c has a text condition with terms. */
static int has_text(const jm_email_cond_t *c)
{
    int i;

    for (i = 0; i < JM_TEXT__COUNT; i++) {
        if (c->text[i] && c->text[i]->nelts) {
            return 1;
        }
    }
    return 0;
}

/* The condition whose full-text search can drive the query: the root, or a
 * condition directly under a root AND, when the dialect's engine returns
 * matches in receivedAt order and receivedAt is the only sort key (the
 * engine's order has its own tie-break, which would override a second key).
 * It is preferred to a mailbox: a search reads the account's matches in
 * order and stops after the window (checking the mailbox of each), where
 * walking the mailbox reads every message of it when the text is rare. */
static const jm_email_cond_t *find_text_driver(const qb_t *b)
{
    const jm_sq_filter_t *f = b->q->filter;
    const apr_array_header_t *sort = b->q->sort;
    int i;

    if (!f || !jm_sql_qfrag(b->d, JM_QF_FROM_TEXT)
        || (sort && sort->nelts > 1)
        || (sort && sort->nelts == 1
            && APR_ARRAY_IDX(sort, 0, jm_sort_t).prop != JM_SORT_RECEIVED_AT)) {
        return NULL;
    }
    if (f->op == JM_SQ_COND) {
        return has_text(f->cond) ? f->cond : NULL;
    }
    if (f->op == JM_SQ_AND) {
        for (i = 0; i < f->children->nelts; i++) {
            const jm_sq_filter_t *c = APR_ARRAY_IDX(f->children, i, const jm_sq_filter_t *);
            if (c->op == JM_SQ_COND && has_text(c->cond)) {
                return c->cond;
            }
        }
    }
    return NULL;
}

/* Whether c says nothing but inMailbox. */
static int only_in_mailbox(const jm_email_cond_t *c)
{
    if (!c->in_mailbox || c->in_mailbox_other_than || c->has_before || c->has_after
        || c->has_min_size || c->has_max_size || c->all_in_thread_kw
        || c->some_in_thread_kw || c->none_in_thread_kw || c->has_kw || c->not_kw
        || c->has_attachment >= 0 || c->header_name) {
        return 0;
    }
    return !has_text(c);
}

/* The filter is exactly {inMailbox: X} (alone or the one child of an AND):
 * its total is the mailbox's kept count. */
static const char *exact_mailbox(const jm_sq_filter_t *f)
{
    if (f && f->op == JM_SQ_AND && f->children->nelts == 1) {
        f = APR_ARRAY_IDX(f->children, 0, const jm_sq_filter_t *);
    }
    return f && f->op == JM_SQ_COND && only_in_mailbox(f->cond)
        ? f->cond->in_mailbox : NULL;
}

static void put_from_where(qb_t *b)
{
    if (b->text_driver) {
        put_arg(b, JM_QF_FROM_TEXT, b->account_id);
        APR_ARRAY_PUSH(b->args, const char *) = fts5_query(b, b->text_driver, -1);
    }
    else if (b->driver) {
        put_arg(b, JM_QF_FROM_MAILBOX, b->account_id);
        APR_ARRAY_PUSH(b->args, const char *) = b->driver->in_mailbox;
    }
    else {
        put_arg(b, JM_QF_FROM_ACCOUNT, b->account_id);
    }
    if (b->q->filter) {
        put(b, JM_QF_AND);
        put_filter(b, b->q->filter);
    }
}

/* The comparators as keys. */
static apr_array_header_t *sort_keys(qb_t *b)
{
    static const jm_qfrag_id_t coll[][3] = {
        [JM_COLL_UNICODE_CASEMAP] = { JM_QF_COLL_UNICODE_PRE, JM_QF_COLL_UNICODE_POST,
                                      JM_QF_COLL_UNICODE_ORDER },
        [JM_COLL_ASCII_CASEMAP] = { JM_QF_COLL_ASCII_PRE, JM_QF_COLL_ASCII_POST,
                                    JM_QF_COLL_ASCII_ORDER },
        [JM_COLL_OCTET] = { JM_QF_COLL_OCTET_PRE, JM_QF_COLL_OCTET_POST,
                            JM_QF_COLL_OCTET_ORDER },
    };
    apr_array_header_t *keys = apr_array_make(b->p, 4, sizeof(sort_key_t));
    const apr_array_header_t *sort = b->q->sort;
    int i;

    for (i = 0; sort && i < sort->nelts; i++) {
        const jm_sort_t *s = &APR_ARRAY_IDX(sort, i, jm_sort_t);
        sort_key_t k = { JM_QF_KEY_RECEIVED, NULL, JM_QF__COUNT, JM_QF__COUNT,
                    JM_QF__COUNT, s->ascending };
        int str = 0;

        switch (s->prop) {
        case JM_SORT_RECEIVED_AT:
            k.base = b->text_driver ? JM_QF_KEY_TEXT_ORDER
                     : b->driver ? JM_QF_KEY_RECEIVED_MB : JM_QF_KEY_RECEIVED;
            if (b->text_driver) {
                k.ascending = !k.ascending;     /* the rowid is negated */
            }
            break;
        case JM_SORT_SIZE: k.base = JM_QF_KEY_SIZE; break;
        case JM_SORT_SENT_AT: k.base = JM_QF_KEY_SENT; break;
        case JM_SORT_FROM: k.base = JM_QF_KEY_FROM; str = 1; break;
        case JM_SORT_TO: k.base = JM_QF_KEY_TO; str = 1; break;
        case JM_SORT_SUBJECT: k.base = JM_QF_KEY_SUBJECT; str = 1; break;
        case JM_SORT_HAS_KEYWORD: k.base = JM_QF_HAS_KEYWORD; break;
        case JM_SORT_ALL_IN_THREAD: k.base = JM_QF_ALL_IN_THREAD; break;
        case JM_SORT_SOME_IN_THREAD: k.base = JM_QF_SOME_IN_THREAD; break;
        }
        if (k.base == JM_QF_HAS_KEYWORD || k.base == JM_QF_ALL_IN_THREAD
            || k.base == JM_QF_SOME_IN_THREAD) {
            k.keyword = s->keyword;
        }
        if (str && s->collation != JM_COLL_UNICODE_CASEMAP) {
            /* RFC 4790: i;ascii-casemap folds ASCII only, i;octet nothing,
             * i;ascii-numeric reads digits: all from the keys as written */
            k.base = k.base == JM_QF_KEY_FROM ? JM_QF_KEY_FROM_RAW
                     : k.base == JM_QF_KEY_TO ? JM_QF_KEY_TO_RAW : JM_QF_KEY_SUBJECT_RAW;
        }
        if (str && s->collation == JM_COLL_ASCII_NUMERIC) {
            /* RFC 4790 §9.1: strings without a leading digit come last */
            k.pre = JM_QF_NUM1_PRE;
            k.post = JM_QF_NUM1_POST;
            APR_ARRAY_PUSH(keys, sort_key_t) = k;
            k.pre = JM_QF_NUM2_PRE;
            k.post = JM_QF_NUM2_POST;
        }
        else if (str) {
            k.pre = coll[s->collation][0];
            k.post = coll[s->collation][1];
            k.order = coll[s->collation][2];
        }
        APR_ARRAY_PUSH(keys, sort_key_t) = k;
    }
    if (!keys->nelts) {
        /* server-dependent default (RFC 8620 §5.5): newest first */
        sort_key_t k = { b->text_driver ? JM_QF_KEY_TEXT_ORDER
                         : b->driver ? JM_QF_KEY_RECEIVED_MB : JM_QF_KEY_RECEIVED,
                         NULL, JM_QF__COUNT, JM_QF__COUNT, JM_QF__COUNT,
                         b->text_driver != NULL };   /* negated rowid: ascending */
        APR_ARRAY_PUSH(keys, sort_key_t) = k;
    }
    return keys;
}

static void put_key(qb_t *b, const sort_key_t *k)
{
    if (k->pre != JM_QF__COUNT) {
        put(b, k->pre);
    }
    if (k->keyword) {
        put_arg(b, k->base, k->keyword);
    }
    else {
        put(b, k->base);
    }
    if (k->post != JM_QF__COUNT) {
        put(b, k->post);
    }
}

/* The ORDER BY list: the keys (or their aliases), then the id in the
 * direction of the last key, so the order is total and an index on
 * (..., received_at, email_id) can give it. The full-text engine's order
 * is total already (a unique rowid): a tie after it would make SQLite sort. */
static void put_order(qb_t *b, const apr_array_header_t *keys, int aliases)
{
    int i, asc = 1;

    if (b->text_driver && !aliases) {
        put_key(b, &APR_ARRAY_IDX(keys, 0, sort_key_t));
        put(b, APR_ARRAY_IDX(keys, 0, sort_key_t).ascending ? JM_QF_ASC : JM_QF_DESC);
        return;
    }
    for (i = 0; i < keys->nelts; i++) {
        const sort_key_t *k = &APR_ARRAY_IDX(keys, i, sort_key_t);
        if (aliases) {
            put_text(b, jm_sql_key_alias[i]);
        }
        else {
            put_key(b, k);
        }
        if (k->order != JM_QF__COUNT) {
            put(b, k->order);
        }
        put(b, k->ascending ? JM_QF_ASC : JM_QF_DESC);
        put(b, JM_QF_COMMA);
        asc = k->ascending;
    }
    put(b, aliases ? JM_QF_TIE_OUTER : b->driver ? JM_QF_TIE_MB : JM_QF_TIE);
    put(b, asc ? JM_QF_ASC : JM_QF_DESC);
}

/* collapseThreads: every match with its keys and its rank in its thread. */
static void put_collapse_inner(qb_t *b, const apr_array_header_t *keys)
{
    int i;

    put(b, JM_QF_COLLAPSE_INNER);
    for (i = 0; i < keys->nelts; i++) {
        put(b, JM_QF_COMMA);
        put_key(b, &APR_ARRAY_IDX(keys, i, sort_key_t));
        put(b, JM_QF_AS);
        put_text(b, jm_sql_key_alias[i]);
    }
    put(b, JM_QF_ROW_NUMBER_THREAD);
    put_order(b, keys, 0);
    put(b, JM_QF_RN_END);
    put_from_where(b);
}

static apr_status_t run(apr_array_header_t **prows, qb_t *b, jm_db_t *db)
{
    if (b->why) {
        return APR_ENOTIMPL;
    }
    if (b->args->nelts > MAX_ARGS) {
        b->why = "The filter is too complex.";
        return APR_ENOTIMPL;
    }
    APR_ARRAY_PUSH(b->sql, char) = 0;
    return jm_db_select_sql(prows, db, b->sql->elts, b->args->nelts,
                            (const char **)b->args->elts, b->p);
}

static apr_status_t query_total(apr_int64_t *ptotal, qb_t *b, jm_db_t *db)
{
    const char *mb = exact_mailbox(b->q->filter);
    apr_array_header_t *rows;
    apr_status_t rv;

    if (mb) {
        if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_MAILBOX_TOTALS, b->p,
                                        b->account_id, mb))) {
            return rv;
        }
        *ptotal = rows->nelts ? apr_atoi64(COL(rows, 0, b->q->collapse_threads ? 1 : 0))
                              : 0;
        return APR_SUCCESS;
    }
    reset(b);
    put(b, b->q->collapse_threads ? JM_QF_SELECT_COUNT_THREADS : JM_QF_SELECT_COUNT);
    put_from_where(b);
    if (APR_SUCCESS != (rv = run(&rows, b, db))) {
        return rv;
    }
    *ptotal = rows->nelts ? apr_atoi64(COL(rows, 0, 0)) : 0;
    return APR_SUCCESS;
}

/* The 0-based index of the anchor in the results; APR_NOTFOUND. */
static apr_status_t query_anchor(apr_int64_t *pindex, qb_t *b, jm_db_t *db,
                                 const apr_array_header_t *keys)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    reset(b);
    if (b->q->collapse_threads) {
        put(b, JM_QF_RANK_OPEN_COLLAPSED);
        put_order(b, keys, 1);
        put(b, JM_QF_RANK_MID_COLLAPSED);
        put_collapse_inner(b, keys);
        put_arg(b, JM_QF_RANK_CLOSE_COLLAPSED, b->q->anchor);
    }
    else {
        put(b, JM_QF_RANK_OPEN);
        put_order(b, keys, 0);
        put(b, JM_QF_RANK_MID);
        put_from_where(b);
        put_arg(b, JM_QF_RANK_CLOSE, b->q->anchor);
    }
    if (APR_SUCCESS != (rv = run(&rows, b, db))) {
        return rv;
    }
    if (!rows->nelts) {
        return APR_NOTFOUND;
    }
    *pindex = apr_atoi64(COL(rows, 0, 0)) - 1;
    return APR_SUCCESS;
}

static void build_window(qb_t *b, const apr_array_header_t *keys,
                         apr_int64_t position, apr_int64_t limit)
{
    reset(b);
    if (b->q->collapse_threads) {
        put(b, JM_QF_COLLAPSE_OPEN);
        put_collapse_inner(b, keys);
        put(b, JM_QF_COLLAPSE_CLOSE);
        put(b, JM_QF_ORDER_BY);
        put_order(b, keys, 1);
    }
    else {
        put(b, JM_QF_SELECT_ID);
        put_from_where(b);
        put(b, JM_QF_ORDER_BY);
        put_order(b, keys, 0);
    }
    put_arg(b, JM_QF_LIMIT, i64(b, limit));
    APR_ARRAY_PUSH(b->args, const char *) = i64(b, position);
}

static apr_status_t query_window(apr_array_header_t **pids, qb_t *b, jm_db_t *db,
                                 const apr_array_header_t *keys,
                                 apr_int64_t position, apr_int64_t limit)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    build_window(b, keys, position, limit);
    if (APR_SUCCESS != (rv = run(&rows, b, db))) {
        return rv;
    }
    *pids = jm_store_first_column(rows, b->p);
    return APR_SUCCESS;
}

apr_status_t jm_store_email_query(jm_sq_result_t *res, const char **pwhy,
                                  jm_db_t *db, const char *account_id,
                                  const jm_sq_query_t *q, apr_pool_t *p)
{
    qb_t b;
    apr_array_header_t *keys;
    apr_int64_t pos = q->position;
    apr_status_t rv;

    memset(&b, 0, sizeof(b));
    b.d = db->dialect;
    b.p = p;
    b.account_id = account_id;
    b.q = q;
    b.driver = find_driver(q->filter);
    if ((b.text_driver = find_text_driver(&b))) {
        b.driver = NULL;
    }
    *pwhy = NULL;
    memset(res, 0, sizeof(*res));
    res->total = -1;
    res->limit = q->limit;
    if (q->limit < 0 || q->limit > CAP(q)) {
        res->limit = CAP(q);
        res->limit_capped = 1;
    }
    keys = sort_keys(&b);
    if (keys->nelts > JM_QF_MAX_KEYS) {
        *pwhy = "The sort has too many comparators.";
        return APR_ENOTIMPL;
    }
    /* the filter is checked once, before anything runs */
    reset(&b);
    put_from_where(&b);
    if (b.why) {
        *pwhy = b.why;
        return APR_ENOTIMPL;
    }
    rv = APR_SUCCESS;
    if (q->calculate_total || (!q->anchor && q->position < 0)) {
        rv = query_total(&res->total, &b, db);
    }
    if (rv == APR_SUCCESS && q->anchor) {
        rv = query_anchor(&pos, &b, db, keys);
        pos += q->anchor_offset;
    }
    else if (rv == APR_SUCCESS && pos < 0) {
        pos += res->total;
    }
    if (pos < 0) {
        pos = 0;
    }
    res->position = pos;
    if (rv == APR_SUCCESS) {
        if (res->limit == 0) {
            res->ids = apr_array_make(p, 0, sizeof(const char *));
        }
        else {
            rv = query_window(&res->ids, &b, db, keys, pos, res->limit);
        }
    }
    if (rv == APR_ENOTIMPL) {
        *pwhy = b.why;
    }
    return rv;
}

apr_status_t jm_store_email_query_sql(const char **psql, apr_array_header_t **pargs,
                                      jm_db_t *db, const char *account_id,
                                      const jm_sq_query_t *q, apr_pool_t *p)
{
    qb_t b;

    memset(&b, 0, sizeof(b));
    b.d = db->dialect;
    b.p = p;
    b.account_id = account_id;
    b.q = q;
    b.driver = find_driver(q->filter);
    if ((b.text_driver = find_text_driver(&b))) {
        b.driver = NULL;
    }
    build_window(&b, sort_keys(&b), q->position > 0 ? q->position : 0,
                 q->limit < 0 || q->limit > CAP(q) ? CAP(q) : q->limit);
    if (b.why) {
        return APR_ENOTIMPL;
    }
    APR_ARRAY_PUSH(b.sql, char) = 0;
    *psql = b.sql->elts;
    *pargs = b.args;
    return APR_SUCCESS;
}

apr_status_t jm_store_email_texts(const char **psubject, const char **ppreview,
                                  jm_db_t *db, const char *account_id,
                                  const char *id, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = SELECT(&rows, db, JM_SQL_EMAIL_TEXTS, p, account_id, id))) {
        return rv;
    }
    if (!rows->nelts) {
        return APR_NOTFOUND;
    }
    *psubject = COL(rows, 0, 0);
    *ppreview = COL(rows, 0, 1);
    return APR_SUCCESS;
}
