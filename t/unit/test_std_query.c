/* Unit tests: /changes (the fold and the method), the collations, /query
 * and /queryChanges of the standard-method framework (src/std, RFC 8620
 * §5.2, §5.5, §5.6) over the fake type of std_fake.h, no database. */
#include "std_fake.h"
#include "std/jm_std_changes.h"
#include "std/jm_std_query.h"
#include "std/jm_std_querychanges.h"
#include "std/jm_std_collation.h"

/* ---- /changes ----------------------------------------------------------- */

static apr_array_header_t *records(const char *spec)
{
    /* "id:kind:state id:kind:state ..." with kind c/u/d */
    apr_array_header_t *a = apr_array_make(pool, 8, sizeof(jm_change_t));
    char *s = apr_pstrdup(pool, spec), *tok, *last;

    for (tok = apr_strtok(s, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        jm_change_t *c = &APR_ARRAY_PUSH(a, jm_change_t);
        char *k = strchr(tok, ':');
        *k = '\0';
        c->id = tok;
        c->kind = k[1] == 'c' ? JM_CHANGE_CREATED : k[1] == 'u' ? JM_CHANGE_UPDATED
                : JM_CHANGE_DESTROYED;
        c->state = apr_atoi64(k + 3);
    }
    return a;
}

static const char *join(const apr_array_header_t *a)
{
    const char *s = "";
    int i;

    for (i = 0; i < a->nelts; i++) {
        s = apr_pstrcat(pool, s, i ? "," : "", APR_ARRAY_IDX(a, i, const char *), NULL);
    }
    return s;
}

static const char *fold(const char *spec, apr_size_t max, apr_int64_t current,
                        int truncated)
{
    jm_changes_fold_t f;

    if (jm_changes_fold(&f, records(spec), max, 0, current, truncated, pool) != 0) {
        return "cannot";
    }
    return apr_psprintf(pool, "c[%s] u[%s] d[%s] new=%" APR_INT64_T_FMT " more=%d",
                        join(f.created), join(f.updated), join(f.destroyed),
                        f.new_state, f.has_more);
}

typedef struct {
    const char *spec;
    apr_int64_t oldest, current;
    int truncated;
} changes_fake_t;

static apr_status_t changes_fetch(jm_changes_t *ch, apr_int64_t since, apr_size_t hint,
                                  apr_array_header_t **precords, int *ptruncated,
                                  apr_int64_t *poldest, apr_int64_t *pcurrent)
{
    changes_fake_t *f = ch->baton;
    apr_array_header_t *all = records(f->spec), *out;
    int i;

    (void)hint;
    out = apr_array_make(pool, all->nelts + 1, sizeof(jm_change_t));
    for (i = 0; i < all->nelts; i++) {
        if (APR_ARRAY_IDX(all, i, jm_change_t).state > since) {
            APR_ARRAY_PUSH(out, jm_change_t) = APR_ARRAY_IDX(all, i, jm_change_t);
        }
    }
    *precords = out;
    *ptruncated = f->truncated;
    *poldest = f->oldest;
    *pcurrent = f->current;
    return APR_SUCCESS;
}

static apr_status_t changes_finish(jm_changes_t *ch)
{
    if (!ch->fold.created->nelts && !ch->fold.destroyed->nelts) {
        ch->updated_properties = jm_json_own(ch->call->pool,
                                             json_pack("[s]", "totalEmails"));
    }
    return APR_SUCCESS;
}

static void test_changes(void)
{
    static const jm_changes_type_t ctype = { "Thing", NULL, changes_fetch, NULL, 0, 0 };
    static const jm_changes_type_t mtype = { "Mailbox", NULL, changes_fetch,
                                             changes_finish, 2, 1 };
    changes_fake_t f = { "a:c:1 b:c:2 a:u:3 c:u:3 b:d:4 d:c:5 d:d:5", 0, 6, 0 };
    jm_call_t *call;

    is_str(fold("", 0, 7, 0), "c[] u[] d[] new=7 more=0", "fold: nothing, new = current");
    is_str(fold("a:c:1 a:u:2", 0, 2, 0), "c[a] u[] d[] new=2 more=0",
           "fold: created then updated is created");
    is_str(fold("a:c:1 a:d:2", 0, 2, 0), "c[] u[] d[] new=2 more=0",
           "fold: created then destroyed is left out");
    is_str(fold("a:u:1 a:d:2", 0, 2, 0), "c[] u[] d[a] new=2 more=0",
           "fold: updated then destroyed is destroyed");
    is_str(fold("a:u:1 a:u:2 b:u:2", 0, 2, 0), "c[] u[a,b] d[] new=2 more=0",
           "fold: updated twice once");
    is_str(fold("a:c:1 a:u:2 a:d:3 b:u:3", 0, 3, 0), "c[] u[b] d[] new=3 more=0",
           "fold: created, updated, destroyed: gone");
    is_str(fold("a:c:1 b:c:2 c:c:2 d:c:3", 2, 3, 0), "c[a] u[] d[] new=1 more=1",
           "fold: maxChanges never splits a state");
    is_str(fold("a:c:1 b:c:2 c:c:2 d:c:3", 3, 3, 0), "c[a,b,c] u[] d[] new=2 more=1",
           "fold: maxChanges 3 takes two states");
    is_str(fold("a:c:1 b:c:2 c:c:2 d:c:3", 4, 3, 0), "c[a,b,c,d] u[] d[] new=3 more=0",
           "fold: maxChanges equal to the count");
    is_str(fold("a:c:1 b:c:1 c:c:1", 2, 1, 0), "cannot",
           "fold: the first state alone passes maxChanges");
    is_str(fold("a:c:1 b:c:2 a:d:3 b:d:3 c:c:4", 2, 4, 0), "c[c] u[] d[] new=4 more=0",
           "fold: created+destroyed pairs leave the count");
    is_str(fold("a:c:1 b:c:2 a:d:3 b:d:3 c:c:4", 1, 4, 0), "c[a] u[] d[] new=1 more=1",
           "fold: stops at the first state over maxChanges");
    is_str(fold("a:u:1 b:u:2", 0, 9, 1), "c[] u[a,b] d[] new=2 more=1",
           "fold: records cut short by the store: new = the last state");

    call = mkcall("Thing/changes", "{" ACC ",\"sinceState\":\"2\"}");
    ok(jm_std_changes(call, &ctype, &f) == APR_SUCCESS && !call->error, "changes: ok");
    is_str(dump(call->result), "{\"accountId\":\"A1\",\"oldState\":\"2\",\"newState\":"
           "\"6\",\"hasMoreChanges\":false,\"created\":[],\"updated\":[\"a\",\"c\"],"
           "\"destroyed\":[\"b\"]}", "changes: reply (d created and destroyed: omitted)");
    call = mkcall("Thing/changes", "{" ACC ",\"sinceState\":\"0\",\"maxChanges\":2}");
    jm_std_changes(call, &ctype, &f);
    is_str(res(call, "newState"), "\"2\"", "changes: maxChanges 2 stops after state 2");
    is_str(res(call, "hasMoreChanges"), "true", "... hasMoreChanges");
    call = mkcall("Thing/changes", "{" ACC ",\"sinceState\":\"6\"}");
    jm_std_changes(call, &ctype, &f);
    is_str(dump(call->result), "{\"accountId\":\"A1\",\"oldState\":\"6\",\"newState\":"
           "\"6\",\"hasMoreChanges\":false,\"created\":[],\"updated\":[],\"destroyed\":[]}",
           "changes: since the current state: empty");

#define CHERR(args, want, name) do { \
        call = mkcall("Thing/changes", "{" ACC args "}"); \
        jm_std_changes(call, &ctype, &f); \
        is_str(err_type(call), want, name); \
    } while (0)
    CHERR(",\"sinceState\":\"2\",\"maxChanges\":0", "invalidArguments", "changes: maxChanges 0");
    CHERR(",\"sinceState\":\"2\",\"maxChanges\":-3", "invalidArguments", "changes: maxChanges negative");
    CHERR(",\"sinceState\":\"2\",\"maxChanges\":\"5\"", "invalidArguments", "changes: maxChanges a string");
    CHERR("", "invalidArguments", "changes: sinceState missing");
    CHERR(",\"sinceState\":2", "invalidArguments", "changes: sinceState a number");
    CHERR(",\"sinceState\":\"x1\"", "cannotCalculateChanges", "changes: sinceState not ours");
    CHERR(",\"sinceState\":\"07\"", "cannotCalculateChanges", "changes: leading zero");
    CHERR(",\"sinceState\":\"9\"", "cannotCalculateChanges", "changes: sinceState in the future");
    CHERR(",\"sinceState\":\"0\",\"maxChanges\":1,\"x\":1", "invalidArguments",
          "changes: unknown argument");
    f.oldest = 3;
    CHERR(",\"sinceState\":\"2\"", "cannotCalculateChanges", "changes: older than the log");
    f.oldest = 0;
    f.spec = "a:c:1 b:c:1 c:c:1";
    f.current = 1;
    CHERR(",\"sinceState\":\"0\",\"maxChanges\":2", "cannotCalculateChanges",
          "changes: no intermediate state within maxChanges");

    f.spec = "a:u:1 b:u:2 c:u:3";
    f.current = 3;
    call = mkcall("Mailbox/changes", "{" ACC ",\"sinceState\":\"0\",\"maxChanges\":50}");
    jm_std_changes(call, &mtype, &f);
    is_str(res(call, "updated"), "[\"a\",\"b\"]", "changes: the type's own cap (2) wins over 50");
    is_str(res(call, "updatedProperties"), "[\"totalEmails\"]",
           "changes: updatedProperties from the type");
    f.spec = "a:c:1";
    f.current = 1;
    call = mkcall("Mailbox/changes", "{" ACC ",\"sinceState\":\"0\"}");
    jm_std_changes(call, &mtype, &f);
    is_str(res(call, "updatedProperties"), "null", "changes: updatedProperties null");
}

/* ---- collations --------------------------------------------------------- */

static void test_collations(void)
{
    jm_collation_t c = JM_COLL_OCTET;

#define CMP(coll, a, b, want) is_int(jm_collation_compare(coll, a, b), want, \
        apr_psprintf(pool, "%s: \"%s\" vs \"%s\"", #coll, a, b))
    ok(jm_collation_find("i;ascii-numeric", &c) && c == JM_COLL_ASCII_NUMERIC,
       "find i;ascii-numeric");
    ok(!jm_collation_find("i;basic", &c), "unknown collation");
    ok(!jm_collation_find("I;OCTET", &c), "names are exact");
    CMP(JM_COLL_OCTET, "B", "a", -1);
    CMP(JM_COLL_OCTET, "a", "a", 0);
    CMP(JM_COLL_ASCII_CASEMAP, "B", "a", 1);
    CMP(JM_COLL_ASCII_CASEMAP, "abc", "ABC", 0);
    CMP(JM_COLL_ASCII_CASEMAP, "_", "a", 1);    /* a maps to A (0x41), before _ (0x5f) */
    CMP(JM_COLL_ASCII_NUMERIC, "10", "9", 1);
    CMP(JM_COLL_ASCII_NUMERIC, "007", "7", 0);
    CMP(JM_COLL_ASCII_NUMERIC, "12abc", "12", 0);
    CMP(JM_COLL_ASCII_NUMERIC, "abc", "99999999999999999999999", 1);
    CMP(JM_COLL_ASCII_NUMERIC, "abc", "xyz", 0);
    CMP(JM_COLL_ASCII_NUMERIC, "123456789012345678901", "123456789012345678902", -1);
    CMP(JM_COLL_ASCII_NUMERIC, "0", "", -1);
    CMP(JM_COLL_UNICODE_CASEMAP, "\xc3\x84pfel", "\xc3\xa4PFEL", 0);   /* Äpfel, äPFEL */
    CMP(JM_COLL_UNICODE_CASEMAP, "Stra\xc3\x9f" "e", "STRASSE", 0);   /* ß folds to ss */
    CMP(JM_COLL_UNICODE_CASEMAP, "\xef\xac\x81", "FI", 0);  /* the fi ligature (NFKD) */
    CMP(JM_COLL_UNICODE_CASEMAP, "apple", "Banana", -1);
    CMP(JM_COLL_UNICODE_CASEMAP, "\xff", "a", 1);   /* not UTF-8: octets */
    is_str(jm_collation_unicode_key("\xc3\x84pfel", pool),
           jm_collation_unicode_key("\xc3\xa4PFEL", pool), "unicode key: equal for equal strings");
    is_str(jm_collation_unicode_key("\xff", pool), "\xff", "unicode key: not UTF-8 is itself");
}

/* ---- /query ------------------------------------------------------------- */

static apr_status_t query_run(jm_query_t *q)
{
    store_t *s = q->baton;

    q->query_state = apr_psprintf(q->call->pool, "%d", s->state);
    return jm_query_memory(q, s->things, NULL);
}

/* A type with its own conditions: {"text": String} (substring of name),
 * {"minCount": UnsignedInt}; sorting by "size" (an alias of count). */
static jm_cond_status_t own_cond(jm_query_t *q, json_t *cond, void **pdata,
                                 jm_path_t *path, const char **pwhy)
{
    const char *k;
    json_t *v;

    (void)q;
    (void)pdata;
    json_object_foreach(cond, k, v) {
        if (strcmp(k, "text") == 0 ? !json_is_string(v)
            : strcmp(k, "minCount") == 0 ? !jm_prop_valid_int(v, 1) : 0) {
            jm_path_push(path, k);
            *pwhy = apr_psprintf(pool, "%s has the wrong type", jm_path_str(path));
            return JM_COND_INVALID;
        }
        if (strcmp(k, "text") != 0 && strcmp(k, "minCount") != 0) {
            *pwhy = apr_psprintf(pool, "no condition %s", k);
            return JM_COND_UNSUPPORTED;
        }
    }
    return JM_COND_OK;
}

static int own_match(jm_query_t *q, const jm_filter_t *cond, const json_t *obj)
{
    json_t *t = json_object_get(cond->cond, "text"), *m = json_object_get(cond->cond, "minCount");

    (void)q;
    return (!t || strstr(json_string_value(json_object_get(obj, "name")),
                         json_string_value(t)))
        && (!m || json_integer_value(json_object_get(obj, "count")) >= json_integer_value(m));
}

static int own_sort(jm_query_t *q, jm_comparator_t *c)
{
    (void)q;
    if (strcmp(c->property, "size") == 0 && !json_object_get(c->raw, "keyword")) {
        c->property = "count";
        return 1;
    }
    return 0;
}

static apr_status_t own_run(jm_query_t *q)
{
    q->query_state = "q1";
    return jm_query_memory(q, ((store_t *)q->baton)->things, own_match);
}

/* A "database" that applies the window itself. */
static apr_status_t db_run(jm_query_t *q)
{
    q->query_state = "db";
    q->ids = apr_array_make(q->call->pool, 1, sizeof(const char *));
    if (q->window.anchor && strcmp(q->window.anchor, "Ta") != 0) {
        q->anchor_not_found = 1;
        return APR_SUCCESS;
    }
    APR_ARRAY_PUSH(q->ids, const char *) = "Ta";
    q->position = 5;
    q->total = 42;
    return APR_SUCCESS;
}

static const jm_query_type_t thing_query = {
    "Thing", thing_props, NULL, NULL, NULL, query_run, 0, 3, 1
};
static const jm_query_type_t own_query = {
    "Thing", thing_props, NULL, own_cond, own_sort, own_run, 2, 0, 0
};
static const jm_query_type_t db_query = {
    "Thing", thing_props, NULL, NULL, NULL, db_run, 0, 0, 0
};

static jm_call_t *do_query(store_t *s, const jm_query_type_t *t, const char *args)
{
    jm_call_t *call = mkcall("Thing/query", args);

    if (jm_std_query(call, t, s) != APR_SUCCESS) {
        diag("query failed");
    }
    return call;
}

static void test_query(void)
{
    store_t s;
    jm_call_t *call;

    store_init(&s);
    call = do_query(&s, &thing_query, "{" ACC "}");
    is_str(dump(call->result), "{\"accountId\":\"A1\",\"queryState\":\"10\","
           "\"canCalculateChanges\":true,\"position\":0,\"ids\":[\"Ta\",\"Tb\",\"Tc\"]}",
           "query: no filter, no sort: by id; no total unless asked");
    call = do_query(&s, &thing_query, "{" ACC ",\"sort\":[{\"property\":\"name\"}],"
                    "\"calculateTotal\":true}");
    is_str(res(call, "ids"), "[\"Ta\",\"Tb\",\"Tc\"]", "query: name, unicode-casemap "
           "by default (apple Banana cherry)");
    is_str(res(call, "total"), "3", "query: total");
    call = do_query(&s, &thing_query, "{" ACC ",\"sort\":[{\"property\":\"name\","
                    "\"collation\":\"i;octet\"}]}");
    is_str(res(call, "ids"), "[\"Tb\",\"Ta\",\"Tc\"]", "query: name, i;octet (B first)");
    call = do_query(&s, &thing_query, "{" ACC ",\"sort\":[{\"property\":\"flag\","
                    "\"isAscending\":false},{\"property\":\"count\"}]}");
    is_str(res(call, "ids"), "[\"Tc\",\"Ta\",\"Tb\"]", "query: true first descending, "
           "then count ascending");
    call = do_query(&s, &thing_query, "{" ACC ",\"sort\":[{\"property\":\"created\"}]}");
    is_str(res(call, "ids"), "[\"Tc\",\"Ta\",\"Tb\"]", "query: UTCDate, earlier first");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"parentId\":\"Ta\"}}");
    is_str(res(call, "ids"), "[\"Tb\",\"Tc\"]", "query: an equality condition");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"operator\":\"NOT\","
                    "\"conditions\":[{\"flag\":false},{\"name\":\"apple\"}]}}");
    is_str(res(call, "ids"), "[\"Tc\"]", "query: NOT of two");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"operator\":\"OR\","
                    "\"conditions\":[{\"name\":\"cherry\"},{\"operator\":\"AND\","
                    "\"conditions\":[{\"flag\":true},{\"parentId\":null}]}]}}");
    is_str(res(call, "ids"), "[\"Ta\",\"Tc\"]", "query: OR of a condition and an AND");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"operator\":\"OR\","
                    "\"conditions\":[]}}");
    is_str(res(call, "ids"), "[]", "query: OR of nothing matches nothing");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"name\":\"none\"},"
                    "\"calculateTotal\":true}");
    is_str(res(call, "ids"), "[]", "query: empty results");
    is_str(res(call, "total"), "0", "... total 0");

    /* windows */
#define WIN(args, want_ids, want_pos, name) do { \
        call = do_query(&s, &thing_query, "{" ACC args "}"); \
        is_str(res(call, "ids"), want_ids, name); \
        is_str(res(call, "position"), want_pos, name " (position)"); \
    } while (0)
    WIN(",\"position\":1", "[\"Tb\",\"Tc\"]", "1", "window: position 1");
    WIN(",\"position\":1,\"limit\":1", "[\"Tb\"]", "1", "window: position 1, limit 1");
    WIN(",\"position\":-1", "[\"Tc\"]", "2", "window: position -1 from the end");
    WIN(",\"position\":-10", "[\"Ta\",\"Tb\",\"Tc\"]", "0", "window: -10 clamps to 0");
    WIN(",\"position\":3", "[]", "3", "window: position at the end");
    WIN(",\"position\":99", "[]", "99", "window: position past the end");
    WIN(",\"limit\":0", "[]", "0", "window: limit 0");
    WIN(",\"anchor\":\"Tb\"", "[\"Tb\",\"Tc\"]", "1", "window: anchor");
    WIN(",\"anchor\":\"Tb\",\"anchorOffset\":-1,\"limit\":2,\"position\":2",
        "[\"Ta\",\"Tb\"]", "0", "window: anchorOffset -1; position ignored");
    WIN(",\"anchor\":\"Tb\",\"anchorOffset\":-5", "[\"Ta\",\"Tb\",\"Tc\"]", "0",
        "window: anchorOffset before the start clamps to 0");
    WIN(",\"anchor\":\"Tc\",\"anchorOffset\":4", "[]", "6",
        "window: anchorOffset past the end: empty");
    WIN(",\"anchorOffset\":2", "[\"Ta\",\"Tb\",\"Tc\"]", "0",
        "window: anchorOffset without anchor ignored");
    call = do_query(&s, &thing_query, "{" ACC ",\"anchor\":\"Tz\"}");
    is_str(err_type(call), "anchorNotFound", "window: anchor not in the results");
    call = do_query(&s, &thing_query, "{" ACC ",\"anchor\":\"Ta\",\"filter\":"
                    "{\"parentId\":\"Ta\"}}");
    is_str(err_type(call), "anchorNotFound", "window: anchor filtered out");

#define QERR(t, args, want, name) do { \
        call = do_query(&s, t, "{" ACC args "}"); \
        is_str(err_type(call), want, name); \
    } while (0)
    QERR(&thing_query, ",\"limit\":-1", "invalidArguments", "query: negative limit");
    QERR(&thing_query, ",\"position\":1.5", "invalidArguments", "query: position not an Int");
    QERR(&thing_query, ",\"position\":null", "invalidArguments", "query: position null");
    QERR(&thing_query, ",\"anchor\":\"a b\"", "invalidArguments", "query: anchor not an Id");
    QERR(&thing_query, ",\"calculateTotal\":1", "invalidArguments", "query: calculateTotal 1");
    QERR(&thing_query, ",\"filter\":[]", "invalidArguments", "filter: an array");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"XOR\",\"conditions\":[]}",
         "invalidArguments", "filter: unknown operator");
    ok(strstr(err_desc(call), "filter/operator") != NULL, "... named filter/operator");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"AND\"}", "invalidArguments",
         "filter: operator without conditions");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"AND\",\"conditions\":{}}",
         "invalidArguments", "filter: conditions an object");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"AND\",\"conditions\":[],\"x\":1}",
         "invalidArguments", "filter: an operator with another member");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"AND\",\"conditions\":[{},5]}",
         "invalidArguments", "filter: a condition that is no object");
    ok(strstr(err_desc(call), "filter/conditions/1") != NULL, "... named filter/conditions/1");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"AND\",\"conditions\":[{\"name\":5}]}",
         "invalidArguments", "filter: a condition value of the wrong type");
    ok(strstr(err_desc(call), "filter/conditions/0") != NULL, "... named");
    QERR(&thing_query, ",\"filter\":{\"secret\":\"s\"}", "unsupportedFilter",
         "filter: a property that cannot be filtered");
    QERR(&thing_query, ",\"filter\":{\"operator\":\"NOT\",\"conditions\":[{\"operator\":"
         "\"NOT\",\"conditions\":[{\"operator\":\"NOT\",\"conditions\":[{\"operator\":"
         "\"NOT\",\"conditions\":[]}]}]}]}", "unsupportedFilter",
         "filter: nested past the type's depth (3)");
    call = do_query(&s, &thing_query, "{" ACC ",\"filter\":{\"operator\":\"NOT\","
                    "\"conditions\":[{\"operator\":\"NOT\",\"conditions\":[{\"operator\":"
                    "\"NOT\",\"conditions\":[]}]}]}}");
    ok(!call->error, "filter: nested exactly to the depth bound");
    QERR(&thing_query, ",\"sort\":[{\"property\":\"secret\"}]", "unsupportedSort",
         "sort: a property not sortable");
    QERR(&thing_query, ",\"sort\":[{\"property\":\"nope\"}]", "unsupportedSort",
         "sort: an unknown property");
    QERR(&thing_query, ",\"sort\":[{\"property\":\"name\",\"collation\":\"i;basic\"}]",
         "unsupportedSort", "sort: an unknown collation");
    QERR(&thing_query, ",\"sort\":[{\"property\":\"name\",\"isAscending\":\"no\"}]",
         "invalidArguments", "sort: isAscending a string");
    QERR(&thing_query, ",\"sort\":[{\"isAscending\":true}]", "invalidArguments",
         "sort: no property");
    QERR(&thing_query, ",\"sort\":[\"name\"]", "invalidArguments", "sort: a string");
    QERR(&thing_query, ",\"sort\":{}", "invalidArguments", "sort: an object");
    QERR(&thing_query, ",\"sort\":[{\"property\":\"name\",\"keyword\":\"$x\"}]",
         "invalidArguments", "sort: an unknown Comparator member");

    /* the type's own conditions and sorts, and a server cap on limit */
    call = do_query(&s, &own_query, "{" ACC ",\"filter\":{\"text\":\"an\"},"
                    "\"sort\":[{\"property\":\"size\",\"isAscending\":false}]}");
    is_str(res(call, "ids"), "[\"Tb\"]", "own: condition callback and matcher");
    is_str(res(call, "limit"), "2", "own: no limit given: the cap is told");
    call = do_query(&s, &own_query, "{" ACC ",\"sort\":[{\"property\":\"size\","
                    "\"isAscending\":false}],\"limit\":5}");
    is_str(res(call, "ids"), "[\"Ta\",\"Tc\"]", "own: sort by alias, descending, capped at 2");
    is_str(res(call, "limit"), "2", "own: a limit over the cap is clamped and told");
    call = do_query(&s, &own_query, "{" ACC ",\"limit\":1}");
    ok(call->result && !json_object_get(call->result, "limit"),
       "own: a limit under the cap is not echoed");
    QERR(&own_query, ",\"filter\":{\"minCount\":-1}", "invalidArguments",
         "own: a condition of the wrong type");
    ok(strstr(err_desc(call), "minCount") != NULL, "... described");
    QERR(&own_query, ",\"filter\":{\"name\":\"x\"}", "unsupportedFilter",
         "own: a condition the type does not know");
    QERR(&own_query, ",\"sort\":[{\"property\":\"size\",\"keyword\":\"x\"}]",
         "unsupportedSort", "own: the type refuses a comparator");

    call = do_query(&s, &db_query, "{" ACC ",\"calculateTotal\":true}");
    is_str(dump(call->result), "{\"accountId\":\"A1\",\"queryState\":\"db\","
           "\"canCalculateChanges\":false,\"position\":5,\"ids\":[\"Ta\"],\"total\":42}",
           "db: the type's window is answered as it is");
    QERR(&db_query, ",\"anchor\":\"Tb\"", "anchorNotFound", "db: anchor not found");
}

/* ---- /queryChanges ------------------------------------------------------ */

static apr_array_header_t *ids(const char *spec)
{
    apr_array_header_t *a = apr_array_make(pool, 8, sizeof(const char *));
    char *s = apr_pstrdup(pool, spec), *tok, *last;

    for (tok = apr_strtok(s, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

static const char *qc(const char *changed, const char *current, const char *up_to,
                      apr_size_t max)
{
    apr_array_header_t *removed, *added;
    const char *s = "";
    int i;

    if (jm_querychanges_compute(&removed, &added, ids(changed), ids(current), up_to,
                                max, pool) != 0) {
        return "tooMany";
    }
    for (i = 0; i < added->nelts; i++) {
        jm_added_item_t *a = &APR_ARRAY_IDX(added, i, jm_added_item_t);
        s = apr_psprintf(pool, "%s%s%s@%lu", s, i ? "," : "", a->id, (unsigned long)a->index);
    }
    return apr_psprintf(pool, "r[%s] a[%s]", join(removed), s);
}

typedef struct {
    const char *changed, *current;
    int cannot;
} qc_fake_t;

static apr_status_t qc_changes(jm_querychanges_t *q)
{
    qc_fake_t *f = q->baton;

    q->cannot_calculate = f->cannot;
    q->changed = ids(f->changed);
    q->current = ids(f->current);
    q->new_query_state = "s2";
    return APR_SUCCESS;
}

static void test_querychanges(void)
{
    static const jm_querychanges_type_t qt = { &thing_query, NULL, qc_changes };
    qc_fake_t f = { "b x", "a b c", 0 };
    jm_call_t *call;

    is_str(qc("", "a b c", NULL, 0), "r[] a[]", "qc: nothing changed");
    is_str(qc("b x b", "a b c", NULL, 0), "r[b,x] a[b@1]",
           "qc: every changed id removed (once); those in the results added");
    is_str(qc("c a", "a b c", NULL, 0), "r[c,a] a[a@0,c@2]", "qc: added sorted by index");
    is_str(qc("a c", "a b c", "b", 0), "r[a,c] a[a@0]", "qc: upToId stops added after it");
    is_str(qc("a c", "a b c", "c", 0), "r[a,c] a[a@0,c@2]", "qc: upToId is itself included");
    is_str(qc("a c", "a b c", "zz", 0), "r[a,c] a[a@0,c@2]", "qc: an unknown upToId is ignored");
    is_str(qc("a c", "a b c", NULL, 3), "tooMany", "qc: 4 changes, maxChanges 3");
    is_str(qc("a c", "a b c", NULL, 4), "r[a,c] a[a@0,c@2]", "qc: 4 changes, maxChanges 4");
    is_str(qc("a c", "a b c", "a", 3), "r[a,c] a[a@0]", "qc: upToId brings it under maxChanges");
    is_str(qc("x", "", NULL, 0), "r[x] a[]", "qc: empty results");

    call = mkcall("Thing/queryChanges", "{" ACC ",\"sinceQueryState\":\"s1\","
                  "\"filter\":{\"name\":\"x\"},\"sort\":[{\"property\":\"name\"}],"
                  "\"calculateTotal\":true}");
    ok(jm_std_querychanges(call, &qt, &f) == APR_SUCCESS && !call->error, "qc: ok");
    is_str(dump(call->result), "{\"accountId\":\"A1\",\"oldQueryState\":\"s1\","
           "\"newQueryState\":\"s2\",\"removed\":[\"b\",\"x\"],\"added\":[{\"id\":\"b\","
           "\"index\":1}],\"total\":3}", "qc: reply");
#define QCERR(args, want, name) do { \
        call = mkcall("Thing/queryChanges", "{" ACC args "}"); \
        jm_std_querychanges(call, &qt, &f); \
        is_str(err_type(call), want, name); \
    } while (0)
    QCERR(",\"sinceQueryState\":\"s1\",\"maxChanges\":2", "tooManyChanges",
          "qc: tooManyChanges");
    QCERR("", "invalidArguments", "qc: sinceQueryState missing");
    QCERR(",\"sinceQueryState\":\"s1\",\"upToId\":5", "invalidArguments", "qc: upToId a number");
    QCERR(",\"sinceQueryState\":\"s1\",\"filter\":{\"secret\":\"s\"}", "unsupportedFilter",
          "qc: the filter is checked as for /query");
    QCERR(",\"sinceQueryState\":\"s1\",\"sort\":[{\"property\":\"name\",\"collation\":"
          "\"x\"}]", "unsupportedSort", "qc: the sort is checked as for /query");
    QCERR(",\"sinceQueryState\":\"s1\",\"position\":0", "invalidArguments",
          "qc: /query's position is no argument here");
    f.cannot = 1;
    QCERR(",\"sinceQueryState\":\"s0\"", "cannotCalculateChanges", "qc: the type cannot");
}
int main(void)
{
    fake_init();
    test_changes();
    test_collations();
    test_query();
    test_querychanges();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
