/* Unit tests: Request object validation, dispatch, result references,
 * limits — against a real SQLite store opened through apr_dbd. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "tap.h"
#include "core/jm_request.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"
#include "core/jm_log.h"

static apr_pool_t *pool;
static jm_limits_t limits = { 1000, 2, 5000, 4, 16, 6, 3,
                               50000, 20000, 100000, 10, 50, 8, 5, 100 };
static jm_smime_policy_t policy;

static jm_ctx_t *make_ctx(jm_db_t *db, const char *user)
{
    jm_ctx_t *ctx = apr_pcalloc(pool, sizeof(*ctx));
    jm_account_t *acc = apr_pcalloc(pool, sizeof(*acc));
    int created;

    ctx->pool = pool;
    ctx->db = db;
    ctx->limits = &limits;
    ctx->smime = &policy;
    ctx->session_state = "s1";
    acc->username = user;
    if (jm_store_account_ensure(&acc->id, &created, db, user, pool) != APR_SUCCESS) {
        diag("account_ensure failed");
        exit(1);
    }
    ctx->account = acc;
    return ctx;
}

/* Run body; returns the response or NULL with *ptype = the problem type. */
static json_t *run(jm_ctx_t *ctx, const char *body, const char **ptype,
                   const char **plimit)
{
    json_t *resp;
    jm_problem_t *pr;

    jm_budget_init(&ctx->budget, ctx->limits, apr_time_now());
    jm_request_process(&resp, &pr, ctx, body, strlen(body));
    *ptype = pr ? pr->type : NULL;
    if (plimit) {
        *plimit = pr ? pr->limit : NULL;
    }
    return resp;
}

static const char *resp_name(json_t *resp, size_t i)
{
    return json_string_value(json_array_get(json_array_get(
        json_object_get(resp, "methodResponses"), i), 0));
}

static json_t *resp_args(json_t *resp, size_t i)
{
    return json_array_get(json_array_get(json_object_get(resp, "methodResponses"), i), 1);
}

/* json_equal() against a new reference (e.g. from json_pack), which it drops. */
static int equal_new(json_t *got, json_t *want)
{
    int eq = json_equal(got, want);
    json_decref(want);
    return eq;
}

static const char *err_type(json_t *resp, size_t i)
{
    return json_string_value(json_object_get(resp_args(resp, i), "type"));
}

#define CORE "\"using\":[\"urn:ietf:params:jmap:core\"]"
#define MAIL "\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"]"

/* jm_json_size_bounded is what the response budget counts: exactly the
 * compact serialisation, and bounded work for shared subtrees. */
static void test_json_size(void)
{
    static const char *const texts[] = {
        "{}", "[]", "[1,-22,true,false,null]", "[[],{},[[]]]", "{\"a\":\"b\",\"c\":[{}]}",
        "[\"quote \\\" backslash \\\\ nl \\n tab \\t ctl \\u0001 del \\u007f\"]",
        "{\"gr\\u00fc\\u00dfe\":\"\\u65e5\\u672c \\ud83d\\ude00\"}",
        NULL
    };
    json_t *v, *a;
    char *text;
    int i;

    for (i = 0; texts[i]; i++) {
        v = json_loads(texts[i], JSON_DECODE_ANY, NULL);
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        is_int(jm_json_size_bounded(v, 1000), strlen(text),
               apr_psprintf(pool, "size of %s", texts[i]));
        is_int(jm_json_size_bounded(v, strlen(text) - 1), strlen(text),
               apr_psprintf(pool, "size of %s past a limit one smaller: limit + 1",
                            texts[i]));
        free(text);
        json_decref(v);
    }
    v = json_real(3.25e-300);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ok(jm_json_size_bounded(v, 1000) >= strlen(text), "a real is counted at least as long");
    free(text);
    json_decref(v);
    /* 2^60 leaves when written out, 60 distinct values in memory */
    v = json_string("x");
    for (i = 0; i < 60; i++) {
        a = json_pack("[O,O]", v, v);
        json_decref(v);
        v = a;
    }
    is_int(jm_json_size_bounded(v, 1000000), 1000001,
           "a value sharing subtrees 2^60 times: limit + 1, walked only to the limit");
    json_decref(v);
}

/* The response budget (JMAPMaxSizeResponse): references copied into
 * arguments and answers both draw on it. */
static void test_response_budget(jm_ctx_t *ctx)
{
    const char *type;
    apr_array_header_t *calls = apr_array_make(pool, 32, sizeof(const char *));
    long saved = limits.max_size_response;
    json_t *r;
    char *text;
    int i, errors = 0, first_error = -1;

    /* each echo repeats the previous answer twice: 2^n growth */
    APR_ARRAY_PUSH(calls, const char *) = "[\"Core/echo\",{\"x\":\"0123456789\"},\"c0\"]";
    for (i = 1; i < 16; i++) {
        APR_ARRAY_PUSH(calls, const char *) = apr_psprintf(pool,
            ",[\"Core/echo\",{\"#a\":{\"resultOf\":\"c%d\",\"name\":\"Core/echo\","
            "\"path\":\"\"},\"#b\":{\"resultOf\":\"c%d\",\"name\":\"Core/echo\","
            "\"path\":\"\"}},\"c%d\"]", i - 1, i - 1, i);
    }
    limits.max_size_response = 20000;
    r = run(ctx, apr_pstrcat(pool, "{" CORE ",\"methodCalls\":[",
                             apr_array_pstrcat(pool, calls, 0), "]}", NULL), &type, NULL);
    ok(r != NULL, "doubling echoes: a response");
    for (i = 0; i < 16; i++) {
        if (!strcmp(resp_name(r, i), "error")) {
            errors++;
            if (first_error < 0) {
                first_error = i;
            }
        }
    }
    ok(first_error > 5 && first_error < 12, "the first calls are answered, "
       "the one that passes 20000 bytes is not (call %d)", first_error);
    is_str(err_type(r, first_error), "requestTooLarge", "it gets requestTooLarge");
    ok(errors >= 16 - first_error - 1, "later calls referring to it fail too (%d errors)",
       errors);
    text = json_dumps(r, JSON_COMPACT);
    ok(strlen(text) < 20000 + 4000, "the whole response stays near the budget "
       "(%lu bytes)", (unsigned long)strlen(text));
    free(text);

    /* a reference whose "*" flattening would collect more than the budget */
    limits.max_size_response = 100;
    r = run(ctx, "{" CORE ",\"methodCalls\":[[\"Core/echo\",{\"l\":[[1,2,3,4,5,6,7,8,9,10],"
            "[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10]]},\"a\"],[\"Core/echo\","
            "{\"#m\":{\"resultOf\":\"a\",\"name\":\"Core/echo\",\"path\":\"/l/*\"}},\"b\"]]}",
            &type, NULL);
    is_str(resp_name(r, 0), "Core/echo", "an answer under 100 bytes is given");
    is_str(err_type(r, 1), "requestTooLarge",
           "a reference that would copy past the budget: requestTooLarge");
    limits.max_size_response = saved;
}

static void test_request_level(jm_ctx_t *ctx)
{
    const char *type, *limit;
    static const struct { const char *body, *type, *name; } bad[] = {
        { "{", "notJSON", "truncated JSON" },
        { "", "notJSON", "empty body" },
        { "{\"using\":[],\"methodCalls\":[]} x", "notJSON", "trailing garbage" },
        { "{\"a\":1,\"a\":2}", "notJSON", "duplicate keys (I-JSON)" },
        { "\"\xff\xfe\"", "notJSON", "invalid UTF-8" },
        /* jansson's message quotes the input cut inside "é": the problem
         * detail must still serialise (it was a bare HTTP 500) */
        { "{\"x\":\"\\\xc3\xa9\"}", "notJSON", "bad escape before a UTF-8 sequence" },
        { "[]", "notRequest", "array instead of object" },
        { "42", "notRequest", "number" },
        { "{\"methodCalls\":[]}", "notRequest", "no using" },
        { "{\"using\":\"x\",\"methodCalls\":[]}", "notRequest", "using not array" },
        { "{\"using\":[1],\"methodCalls\":[]}", "notRequest", "using with a number" },
        { "{" CORE "}", "notRequest", "no methodCalls" },
        { "{" CORE ",\"methodCalls\":{}}", "notRequest", "methodCalls object" },
        { "{" CORE ",\"methodCalls\":[[\"Core/echo\",{}]]}", "notRequest", "2-element call" },
        { "{" CORE ",\"methodCalls\":[[\"Core/echo\",[],\"c\"]]}", "notRequest", "args not object" },
        { "{" CORE ",\"methodCalls\":[[1,{},\"c\"]]}", "notRequest", "name not string" },
        { "{" CORE ",\"methodCalls\":[[\"Core/echo\",{},3]]}", "notRequest", "id not string" },
        { "{" CORE ",\"methodCalls\":[],\"createdIds\":[]}", "notRequest", "createdIds array" },
        { "{" CORE ",\"methodCalls\":[],\"createdIds\":{\"a\":\"b c\"}}", "notRequest", "createdIds bad id" },
        { "{\"using\":[\"urn:x:nope\"],\"methodCalls\":[]}", "unknownCapability", "unknown capability" },
        { NULL, NULL, NULL }
    };
    int i;

    for (i = 0; bad[i].body; i++) {
        json_t *r = run(ctx, bad[i].body, &type, NULL);
        is_str(type, bad[i].type, bad[i].name);
        ok(r == NULL, "%s: no response object", bad[i].name);
    }
    {
        static const char cut[] = "{\"x\":\"\\\xc3\xa9\"}";
        json_t *resp, *pj;
        jm_problem_t *pr;
        char *text;

        jm_request_process(&resp, &pr, ctx, cut, strlen(cut));
        pj = pr ? jm_problem_json(pr) : NULL;
        text = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
        ok(text && strstr(text, "notJSON"), "a detail quoting cut UTF-8 still serialises: %s",
           text ? text : "(null)");
        free(text);
        json_decref(pj);
    }
    limits.max_calls_in_request = 5;
    run(ctx, "{" CORE ",\"methodCalls\":[[\"Core/echo\",{},\"1\"],[\"Core/echo\",{},\"2\"],"
        "[\"Core/echo\",{},\"3\"],[\"Core/echo\",{},\"4\"],[\"Core/echo\",{},\"5\"],"
        "[\"Core/echo\",{},\"6\"]]}", &type, &limit);
    is_str(type, "limit", "6 calls > maxCallsInRequest 5");
    is_str(limit, "maxCallsInRequest", "limit names maxCallsInRequest");
    limits.max_calls_in_request = 16;
}

static void test_dispatch(jm_ctx_t *ctx)
{
    const char *type;
    json_t *r;

    r = run(ctx, "{" CORE ",\"methodCalls\":[[\"Core/echo\",{\"hello\":[1,{\"x\":true}]},\"c1\"]]}",
            &type, NULL);
    ok(r != NULL, "echo: response");
    is_str(resp_name(r, 0), "Core/echo", "echo: name");
    ok(equal_new(resp_args(r, 0), json_pack("{s:[i,{s:b}]}", "hello", 1, "x", 1)),
       "echo: arguments returned unchanged");
    is_str(json_string_value(json_object_get(r, "sessionState")), "s1", "sessionState");
    ok(!json_object_get(r, "createdIds"), "no createdIds when none sent");

    r = run(ctx, "{" CORE ",\"methodCalls\":[[\"Foo/bar\",{},\"a\"],[\"Core/echo\",{},\"b\"]]}",
            &type, NULL);
    is_str(resp_name(r, 0), "error", "unknown method -> error");
    is_str(err_type(r, 0), "unknownMethod", "unknownMethod");
    is_str(resp_name(r, 1), "Core/echo", "later calls still run");

    r = run(ctx, "{" CORE ",\"methodCalls\":[[\"Mailbox/get\",{\"accountId\":\"x\"},\"a\"]]}",
            &type, NULL);
    is_str(err_type(r, 0), "unknownMethod", "capability not in using -> unknownMethod");

    r = run(ctx, "{" MAIL ",\"methodCalls\":[[\"Mailbox/get\",{\"accountId\":\"nope\"},\"a\"],"
            "[\"Mailbox/get\",{},\"b\"],[\"Mailbox/get\",{\"accountId\":5},\"c\"]]}", &type, NULL);
    is_str(err_type(r, 0), "accountNotFound", "foreign account -> accountNotFound");
    is_str(err_type(r, 1), "invalidArguments", "missing accountId -> invalidArguments");
    is_str(err_type(r, 2), "invalidArguments", "numeric accountId -> invalidArguments");

    r = run(ctx, "{" CORE ",\"methodCalls\":[[\"Core/echo\",{},\"a\"]],\"createdIds\":{\"k1\":\"M123\"}}",
            &type, NULL);
    ok(equal_new(json_object_get(r, "createdIds"), json_pack("{s:s}", "k1", "M123")),
       "createdIds returned");
}

static void test_mailbox_and_refs(jm_ctx_t *ctx)
{
    const char *type;
    char *body;
    json_t *r, *list;

    body = apr_psprintf(pool, "{" MAIL ",\"methodCalls\":["
        "[\"Mailbox/get\",{\"accountId\":\"%s\"},\"m\"],"
        "[\"Mailbox/get\",{\"accountId\":\"%s\",\"#ids\":{\"resultOf\":\"m\","
        "\"name\":\"Mailbox/get\",\"path\":\"/list/*/id\"},\"properties\":[\"role\"]},\"n\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"m\",\"name\":\"Mailbox/get\",\"path\":\"/list/0/myRights/mayDelete\"}},\"e\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"zz\",\"name\":\"Mailbox/get\",\"path\":\"/list\"}},\"f\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"m\",\"name\":\"Core/echo\",\"path\":\"/list\"}},\"g\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"m\",\"name\":\"Mailbox/get\",\"path\":\"/nope\"}},\"h\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"m\",\"name\":\"Mailbox/get\",\"path\":\"/list/99\"}},\"i\"],"
        "[\"Core/echo\",{\"#x\":{\"resultOf\":\"m\",\"name\":\"Mailbox/get\",\"path\":\"/list/~2\"}},\"j\"],"
        "[\"Core/echo\",{\"#x\":\"notaref\"},\"k\"],"
        "[\"Core/echo\",{\"x\":1,\"#x\":{\"resultOf\":\"m\",\"name\":\"Mailbox/get\",\"path\":\"\"}},\"l\"]"
        "]}", ctx->account->id, ctx->account->id);
    r = run(ctx, body, &type, NULL);
    if (!ok(r != NULL, "refs: response")) {
        diag("problem: %s", type ? type : "?");
    }
    list = json_object_get(resp_args(r, 0), "list");
    is_int(json_array_size(list), 6, "six standard mailboxes");
    is_str(resp_name(r, 1), "Mailbox/get", "#ids with /list/*/id resolves");
    is_int(json_array_size(json_object_get(resp_args(r, 1), "list")), 6, "all six fetched by ref");
    ok(json_object_get(json_array_get(json_object_get(resp_args(r, 1), "list"), 0), "role")
       && !json_object_get(json_array_get(json_object_get(resp_args(r, 1), "list"), 0), "name"),
       "properties filter keeps id+role only");
    ok(json_is_true(json_object_get(resp_args(r, 2), "x")), "pointer to a scalar (mayDelete: the owner may)");
    is_str(err_type(r, 3), "invalidResultReference", "unknown resultOf");
    is_str(err_type(r, 4), "invalidResultReference", "name mismatch");
    is_str(err_type(r, 5), "invalidResultReference", "missing member");
    is_str(err_type(r, 6), "invalidResultReference", "index out of range");
    is_str(err_type(r, 7), "invalidResultReference", "bad ~ escape");
    is_str(err_type(r, 8), "invalidResultReference", "not a ResultReference object");
    is_str(err_type(r, 9), "invalidArguments", "both x and #x");

    body = apr_psprintf(pool, "{" MAIL ",\"methodCalls\":["
        "[\"Mailbox/get\",{\"accountId\":\"%s\",\"ids\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]},\"m\"],"
        "[\"Mailbox/get\",{\"accountId\":\"%s\",\"ids\":\"x\"},\"n\"],"
        "[\"Mailbox/get\",{\"accountId\":\"%s\",\"properties\":[\"bogus\"]},\"o\"],"
        "[\"Mailbox/get\",{\"accountId\":\"%s\",\"ids\":[\"nope\"]},\"p\"]"
        "]}", ctx->account->id, ctx->account->id, ctx->account->id, ctx->account->id);
    r = run(ctx, body, &type, NULL);
    is_str(err_type(r, 0), "requestTooLarge", "7 ids > maxObjectsInGet 6");
    is_str(err_type(r, 1), "invalidArguments", "ids not an array");
    is_str(err_type(r, 2), "invalidArguments", "unknown property");
    ok(equal_new(json_object_get(resp_args(r, 3), "notFound"), json_pack("[s]", "nope")),
       "unknown id in notFound");
}

/* Shared accounts (JMAPShareAccount): each call gets a ctx on the account
 * it names; the request's own account stays; what a call in a shared
 * account uses of the budget counts for the request. */
static void test_shared(jm_db_t *db)
{
    apr_array_header_t *rules = apr_array_make(pool, 2, sizeof(jm_share_rule_t)), *ro;
    jm_share_rule_t *sr;
    jm_ctx_t *dan = make_ctx(db, "dan");
    jm_account_t *own = dan->account, *eve, *fay;
    const char *type;
    json_t *r;

    sr = apr_array_push(rules);
    sr->owner = "eve"; sr->user = "dan"; sr->read_only = 0;
    sr = apr_array_push(rules);
    sr->owner = "fay"; sr->user = "dan"; sr->read_only = 1;
    sr = apr_array_push(rules);
    sr->owner = "gus"; sr->user = "hal"; sr->read_only = 0;
    ro = apr_array_make(pool, 1, sizeof(const char *));
    ok(jm_account_load_shared(&dan->shared, db, "dan", rules, ro, pool) == APR_SUCCESS,
       "shares load (owners created on first use)");
    is_int(dan->shared->nelts, 2, "dan: two shared accounts, not hal's");
    eve = APR_ARRAY_IDX(dan->shared, 0, jm_account_t *);
    fay = APR_ARRAY_IDX(dan->shared, 1, jm_account_t *);
    ok(eve->shared && !eve->read_only && !strcmp(eve->username, "eve"), "eve: shared, writable");
    ok(fay->shared && fay->read_only, "fay: read-only share");
    {
        jm_ctx_t *e = make_ctx(db, "eve");
        is_str(e->account->id, eve->id, "eve's own account is the shared one");
    }
    ok(jm_ctx_find_account(dan, own->id) == own, "find: own");
    ok(jm_ctx_find_account(dan, eve->id) == eve, "find: shared");
    ok(jm_ctx_find_account(dan, "Anone") == NULL, "find: unknown");

    r = run(dan, apr_psprintf(pool, "{" MAIL ",\"methodCalls\":["
            "[\"Mailbox/get\",{\"accountId\":\"%s\",\"ids\":[]},\"a\"],"
            "[\"Mailbox/set\",{\"accountId\":\"%s\",\"create\":{}},\"b\"],"
            "[\"Mailbox/get\",{\"accountId\":\"%s\",\"ids\":[]},\"c\"]]}",
            eve->id, fay->id, own->id), &type, NULL);
    is_str(json_string_value(json_object_get(resp_args(r, 0), "accountId")), eve->id,
           "a call naming eve's account works in it");
    is_str(err_type(r, 1), "accountReadOnly", "a write to the read-only share");
    is_str(json_string_value(json_object_get(resp_args(r, 2), "accountId")), own->id,
           "the next call is in dan's own account again");
    ok(dan->account == own && dan->self == NULL, "the request's ctx was not changed");
    ok(dan->budget.response_left < dan->budget.response_max,
       "answers in a shared account pay from the request's budget");
}

int main(void)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    jm_db_t *db, *db2;
    const char *err = NULL, *dir, *file;
    int from = -1;
    jm_ctx_t *alice, *bob;

    apr_initialize();
    atexit(apr_terminate);   /* runs the pool cleanups: nothing left for LeakSanitizer */
    apr_pool_create(&pool, NULL);
    apr_dbd_init(pool);
    dir = apr_psprintf(pool, "/tmp/jm-test-request.%d", (int)getpid());
    apr_dir_make_recursive(dir, APR_OS_DEFAULT, pool);
    file = apr_pstrcat(pool, dir, "/t.db", NULL);
    if (apr_dbd_get_driver(pool, "sqlite3", &drv) != APR_SUCCESS
        || apr_dbd_open(drv, pool, file, &h) != APR_SUCCESS) {
        printf("1..0 # SKIP no sqlite3 apr_dbd driver\n");
        return 0;
    }
    ok(jm_db_wrap(&db, drv, h, apr_hash_make(pool), pool, pool) == APR_SUCCESS, "wrap");
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "fresh schema");
    is_int(from, 0, "empty database was version 0");
    ok(jm_schema_migrate(db, &from, &err, pool) == APR_SUCCESS, "second migration is a no-op");
    is_int(from, db->dialect->schema_version, "then it is the current version");
    ok(jm_db_exec_literal(db, "UPDATE jm_schema SET version = 99", pool) == APR_SUCCESS, "fake newer");
    ok(jm_schema_migrate(db, &from, &err, pool) != APR_SUCCESS, "newer schema refused");
    ok(err && strstr(err, "newer"), "with a clear message: %s", err ? err : "");
    jm_db_exec_literal(db, apr_psprintf(pool, "UPDATE jm_schema SET version = %d",
                                        db->dialect->schema_version), pool);

    alice = make_ctx(db, "alice");
    bob = make_ctx(db, "bob");
    ok(strcmp(alice->account->id, bob->account->id) != 0, "one account per user");
    ok(jm_db_wrap(&db2, drv, h, db->prepared, pool, pool) == APR_SUCCESS, "rewrap");
    {
        jm_ctx_t *again = make_ctx(db2, "alice");
        is_str(again->account->id, alice->account->id, "account is stable");
    }
    test_json_size();
    test_request_level(alice);
    test_response_budget(alice);
    test_dispatch(alice);
    test_mailbox_and_refs(alice);
    {
        const char *type;
        json_t *r = run(bob, apr_psprintf(pool, "{" MAIL ",\"methodCalls\":[[\"Mailbox/get\","
                        "{\"accountId\":\"%s\"},\"a\"]]}", alice->account->id), &type, NULL);
        is_str(err_type(r, 0), "accountNotFound", "bob cannot read alice's account");
    }
    {
        const char *type;
        json_t *r;
        alice->account->read_only = 1;
        r = run(alice, apr_psprintf(pool, "{" MAIL ",\"methodCalls\":["
                "[\"Email/set\",{\"accountId\":\"%s\",\"create\":{}},\"a\"],"
                "[\"Mailbox/get\",{\"accountId\":\"%s\"},\"b\"]]}",
                alice->account->id, alice->account->id), &type, NULL);
        is_str(err_type(r, 0), "accountReadOnly", "read-only account: Email/set refused");
        is_str(resp_name(r, 1), "Mailbox/get", "read-only account: reading works");
        alice->account->read_only = 0;
    }
    test_shared(db2);
    jm_db_close(db);
    apr_file_remove(file, pool);
    apr_dir_remove(dir, pool);
    return done_testing();
}
