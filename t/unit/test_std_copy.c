/* Unit tests: the standard /copy (src/std/jm_std_copy.c, RFC 8620 §5.4)
 * over a fake in-memory type in three accounts (own, shared, shared
 * read-only), no database. Every method-level error and SetError the
 * framework answers, the store callback's contract and the implicit
 * Foo/set of onSuccessDestroyOriginal. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "std/jm_std_copy.h"
#include "std/jm_std_set.h"

static apr_pool_t *pool;
/* 5 objects per /set and /copy */
static jm_limits_t limits = { 1000, 2, 5000, 4, 16, 4, 5,
                               50000, 20000, 100000, 10, 50, 8, 5, 100 };
static jm_account_t a1 = { "A1", "alice", NULL, 0, 0, 0 };
static jm_account_t a2 = { "A2", "bob", NULL, 0, 0, 1 };
static jm_account_t a3 = { "A3", "carol", NULL, 0, 1, 1 };   /* read-only */
static jm_ctx_t base;
static json_t *created_ids;

/* ---- a fake type: "Thing", one JSON array per account -------------------- */

static const jm_prop_t thing_props[] = {
    { "id",    JM_PT_ID,     JM_PROP_SERVER_SET },
    { "name",  JM_PT_STRING, 0 },
    { "count", JM_PT_UINT,   JM_PROP_SERVER_SET },
    { "flag",  JM_PT_BOOL,   0 },
    { NULL, 0, 0 }
};

typedef struct {
    json_t *things;
    int state, next;
} store_t;

static store_t stores[3];       /* A1, A2, A3 */

typedef struct {
    int defer;                  /* leave creations to the store callback */
    int store_leaves;           /* the store forgets one */
    int store_bad_err;          /* the store answers a SetError without type */
    int copy_fails;             /* the copy callback fails */
    int set_fails;              /* the implicit Thing/set fails */
    apr_array_header_t *deferred;
} fake_t;

static fake_t *fake;            /* for thing_set_method, which gets a call only */

static store_t *store_of(const jm_ctx_t *ctx)
{
    return &stores[ctx->account->id[1] - '1'];
}

static json_t *find_thing(store_t *s, const char *id, size_t *pidx)
{
    json_t *o;
    size_t i;

    json_array_foreach(s->things, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0) {
            if (pidx) {
                *pidx = i;
            }
            return o;
        }
    }
    return NULL;
}

static json_t *find_by_name(store_t *s, const char *name)
{
    json_t *o;
    size_t i;

    json_array_foreach(s->things, i, o) {
        if (name && strcmp(json_string_value(json_object_get(o, "name")), name) == 0) {
            return o;
        }
    }
    return NULL;
}

static apr_status_t copy_state(const char **pstate, jm_copy_t *copy, jm_ctx_t *ctx)
{
    *pstate = apr_psprintf(copy->call->pool, "%d", store_of(ctx)->state);
    return APR_SUCCESS;
}

/* Copy one: a name already in the target is alreadyExists. */
static apr_status_t copy_now(jm_copy_t *copy, const char *cid, const char *from_id,
                             json_t *obj, json_t **pcreated)
{
    store_t *from = store_of(&copy->from_ctx), *to = store_of(copy->call->ctx);
    json_t *orig = find_thing(from, from_id, NULL), *o, *dup, *v;
    const char *k;

    (void)cid;
    if (!orig) {
        return APR_NOTFOUND;
    }
    o = json_deep_copy(orig);
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "id") != 0) {
            json_object_set(o, k, v);
        }
    }
    if ((dup = find_by_name(to, json_string_value(json_object_get(o, "name"))))) {
        json_decref(o);
        return APR_EEXIST;
    }
    json_object_set_new(o, "id", json_string(apr_psprintf(pool, "N%d", ++to->next)));
    json_array_append(to->things, o);
    to->state++;
    *pcreated = json_pack("{s:O}", "id", json_object_get(o, "id"));
    json_decref(o);
    return APR_SUCCESS;
}

static json_t *error_for(jm_copy_t *copy, apr_status_t rv, const char *from_id,
                         json_t *obj)
{
    store_t *to = store_of(copy->call->ctx);
    json_t *dup;

    if (rv == APR_NOTFOUND) {
        return jm_set_error(copy->call->pool, "notFound", NULL, "No %s.", from_id);
    }
    dup = find_by_name(to, json_string_value(json_object_get(
        json_object_get(obj, "name") ? obj
        : find_thing(store_of(&copy->from_ctx), from_id, NULL), "name")));
    return jm_copy_already_exists(copy->call->pool,
                                  json_string_value(json_object_get(dup, "id")),
                                  "Already there.");
}

static apr_status_t thing_copy(jm_copy_t *copy, const char *cid, const char *from_id,
                               json_t *obj, json_t **pcreated, json_t **perr)
{
    fake_t *f = copy->baton;
    apr_status_t rv;

    if (f->copy_fails) {
        return APR_EGENERAL;
    }
    if (f->defer) {
        APR_ARRAY_PUSH(f->deferred, const char *) = cid;
        APR_ARRAY_PUSH(f->deferred, const char *) = from_id;
        APR_ARRAY_PUSH(f->deferred, json_t *) = obj;
        return APR_SUCCESS;
    }
    if ((rv = copy_now(copy, cid, from_id, obj, pcreated)) != APR_SUCCESS) {
        *perr = error_for(copy, rv, from_id, obj);
    }
    return APR_SUCCESS;
}

static apr_status_t thing_store(jm_copy_t *copy)
{
    fake_t *f = copy->baton;
    int i;

    /* what a transaction would see */
    copy->old_state = apr_psprintf(copy->call->pool, "%d",
                                   store_of(copy->call->ctx)->state);
    if (copy->if_in_state && strcmp(copy->if_in_state, copy->old_state) != 0) {
        return jm_call_error(copy->call, "stateMismatch", "Moved.");
    }
    for (i = 0; i + 2 < f->deferred->nelts; i += 3) {
        const char *cid = APR_ARRAY_IDX(f->deferred, i, const char *);
        const char *from_id = APR_ARRAY_IDX(f->deferred, i + 1, const char *);
        json_t *obj = APR_ARRAY_IDX(f->deferred, i + 2, json_t *), *made = NULL;
        apr_status_t rv;

        if (f->store_leaves && i == 0) {
            continue;
        }
        if (f->store_bad_err) {
            rv = jm_copy_answer(copy, cid, NULL, json_pack("{s:s}", "description", "x"));
        }
        else if ((rv = copy_now(copy, cid, from_id, obj, &made)) != APR_SUCCESS) {
            rv = jm_copy_answer(copy, cid, NULL, error_for(copy, rv, from_id, obj));
        }
        else {
            rv = jm_copy_answer(copy, cid, made, NULL);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    copy->new_state = apr_psprintf(copy->call->pool, "%d",
                                   store_of(copy->call->ctx)->state);
    return APR_SUCCESS;
}

/* Thing/set for the implicit destroy: the framework's /set over the store. */
static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    *pstate = apr_psprintf(set->call->pool, "%d", store_of(set->call->ctx)->state);
    return APR_SUCCESS;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    store_t *s = store_of(set->call->ctx);
    size_t idx;

    if (!find_thing(s, id, &idx)) {
        *perr = jm_set_error(set->call->pool, "notFound", NULL, "No %s.", id);
        return APR_SUCCESS;
    }
    json_array_remove(s->things, idx);
    s->state++;
    return APR_SUCCESS;
}

static const jm_set_type_t thing_set = {
    "Thing", thing_props, NULL, set_state, NULL, NULL, NULL, set_destroy, 0
};

static apr_status_t thing_set_method(jm_call_t *call)
{
    if (fake->set_fails) {
        return APR_EGENERAL;
    }
    return jm_std_set(call, &thing_set, NULL);
}

static const jm_copy_type_t thing_copy_type = {
    "Thing", thing_props, NULL, copy_state, thing_copy, thing_store, thing_set_method
};
static const jm_copy_type_t thing_copy_nostore = {
    "Thing", thing_props, NULL, copy_state, thing_copy, NULL, thing_set_method
};

static void stores_init(void)
{
    int i;

    for (i = 0; i < 3; i++) {
        stores[i].things = jm_json_own(pool, json_array());
        stores[i].state = 10 * (i + 1);
        stores[i].next = 0;
    }
    json_array_extend(stores[0].things, jm_json_own(pool, json_loads(
        "[{\"id\":\"Ta\",\"name\":\"apple\",\"count\":3,\"flag\":true},"
        " {\"id\":\"Tb\",\"name\":\"banana\",\"count\":1,\"flag\":false},"
        " {\"id\":\"Tc\",\"name\":\"cherry\",\"count\":0,\"flag\":true}]", 0, NULL)));
    json_array_extend(stores[1].things, jm_json_own(pool, json_loads(
        "[{\"id\":\"Bx\",\"name\":\"cherry\",\"count\":0,\"flag\":true}]", 0, NULL)));
    json_array_extend(stores[2].things, jm_json_own(pool, json_loads(
        "[{\"id\":\"Cz\",\"name\":\"zucchini\",\"count\":0}]", 0, NULL)));
}

/* ---- calls -------------------------------------------------------------- */

static apr_status_t call_cleanup(void *data)
{
    jm_call_t *call = data;

    json_decref(call->result);
    json_decref(call->error);
    json_decref(call->extra_responses);
    return APR_SUCCESS;
}

/* Thing/copy into account `to` with args (JSON); *prv its status. */
static jm_call_t *do_copy(const jm_copy_type_t *t, fake_t *f, jm_account_t *to,
                          const char *args, apr_status_t *prv)
{
    jm_call_t *call = apr_pcalloc(pool, sizeof(*call));
    jm_ctx_t *ctx = apr_palloc(pool, sizeof(*ctx));
    json_error_t jerr;
    apr_status_t rv;

    jm_ctx_for_account(ctx, &base, to);
    call->ctx = ctx;
    call->name = "Thing/copy";
    call->call_id = "c";
    call->args = jm_json_own(pool, json_loads(args, 0, &jerr));
    if (!call->args) {
        diag("bad test JSON %s: %s", args, jerr.text);
        exit(1);
    }
    call->created_ids = created_ids;
    call->pool = pool;
    apr_pool_cleanup_register(pool, call, call_cleanup, apr_pool_cleanup_null);
    f->deferred = apr_array_make(pool, 8, sizeof(void *));
    fake = f;
    rv = jm_std_copy(call, t, f);
    if (prv) {
        *prv = rv;
    }
    else if (rv != APR_SUCCESS) {
        diag("copy failed: %d", rv);
    }
    return call;
}

static const char *dump(const json_t *j)
{
    return j ? jm_json_dump(j, pool) : "(null)";
}

static const char *err_type(jm_call_t *call)
{
    return call->error ? json_string_value(json_object_get(call->error, "type")) : NULL;
}

static const char *err_desc(jm_call_t *call)
{
    const char *d = call->error
        ? json_string_value(json_object_get(call->error, "description")) : NULL;
    return d ? d : "";
}

static const char *res(jm_call_t *call, const char *member)
{
    return call->result ? dump(json_object_get(call->result, member)) : "(no result)";
}

static const char *nc_type(jm_call_t *call, const char *cid)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(
        call->result, "notCreated"), cid), "type"));
}

static const char *nc_props(jm_call_t *call, const char *cid)
{
    return dump(json_object_get(json_object_get(json_object_get(
        call->result, "notCreated"), cid), "properties"));
}

static const char *cr_id(jm_call_t *call, const char *cid)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(
        call->result, "created"), cid), "id"));
}

#define FROM1 "\"fromAccountId\":\"A1\""

/* ---- tests -------------------------------------------------------------- */

static void test_copy_ok(const jm_copy_type_t *t, int defer, const char *label)
{
    fake_t f = { 0 };
    jm_call_t *c;
    const char *n1;
    json_t *made;

    stores_init();
    f.defer = defer;
    c = do_copy(t, &f, &a2, "{" FROM1 ",\"create\":{"
                "\"k1\":{\"id\":\"Ta\",\"name\":\"apricot\"},"
                "\"k2\":{\"id\":\"Tb\"}}}", NULL);
    ok(!c->error, "%s: answered (%s)", label, err_desc(c));
    is_str(res(c, "fromAccountId"), "\"A1\"", "fromAccountId");
    is_str(res(c, "accountId"), "\"A2\"", "accountId: the target");
    is_str(res(c, "oldState"), "\"20\"", "oldState: the target's");
    is_str(res(c, "newState"), "\"22\"", "newState after two copies");
    is_str(res(c, "notCreated"), "null", "notCreated null");
    ok((n1 = cr_id(c, "k1")) && strcmp(n1, "Ta") != 0, "k1 copied with a new id");
    ok(cr_id(c, "k2") != NULL, "k2 copied");
    made = n1 ? find_thing(&stores[1], n1, NULL) : NULL;
    is_str(made ? json_string_value(json_object_get(made, "name")) : NULL, "apricot",
           "a property given replaces the original's");
    is_int(made ? json_integer_value(json_object_get(made, "count")) : -1, 3,
           "the others are the original's");
    is_str(json_string_value(json_object_get(created_ids, "k1")), n1,
           "the creation id is known to later calls");
    is_int(json_array_size(stores[0].things), 3, "the originals stay");
    is_str(dump(c->extra_responses), "(null)", "no implicit set without "
           "onSuccessDestroyOriginal");
}

#define MERR(to, args, type, name) do {                                  \
        jm_call_t *c_ = do_copy(&thing_copy_type, &f, (to), args, NULL);  \
        is_str(err_type(c_), type, name);                                 \
        ok(!c_->result, name ": no result");                              \
    } while (0)

static void test_method_errors(void)
{
    fake_t f = { 0 };
    jm_call_t *c;

    stores_init();
    MERR(&a2, "{\"create\":{}}", "invalidArguments", "fromAccountId missing");
    MERR(&a2, "{\"fromAccountId\":5,\"create\":{}}", "invalidArguments",
         "fromAccountId not an Id");
    MERR(&a2, "{\"fromAccountId\":\"A9\",\"create\":{}}", "fromAccountNotFound",
         "an account the user may not use");
    c = do_copy(&thing_copy_type, &f, &a1, "{" FROM1 ",\"create\":{}}", NULL);
    is_str(err_type(c), "invalidArguments", "the same account twice (MUST differ)");
    ok(strstr(err_desc(c), "fromAccountId") != NULL, "... naming fromAccountId");
    MERR(&a3, "{" FROM1 ",\"create\":{}}", "accountReadOnly",
         "into a read-only account");
    MERR(&a2, "{" FROM1 "}", "invalidArguments", "create missing");
    MERR(&a2, "{" FROM1 ",\"create\":[]}", "invalidArguments", "create not a map");
    MERR(&a2, "{" FROM1 ",\"create\":{\"k\":5}}", "invalidArguments",
         "a creation that is no object");
    MERR(&a2, "{" FROM1 ",\"create\":{\"a b\":{\"id\":\"Ta\"}}}", "invalidArguments",
         "a creation id that is no Id");
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{},\"x\":1}", NULL);
    is_str(err_type(c), "invalidArguments", "an unknown argument");
    ok(strstr(err_desc(c), "\"x\"") != NULL, "... named");
    MERR(&a2, "{" FROM1 ",\"create\":{},\"onSuccessDestroyOriginal\":\"yes\"}",
         "invalidArguments", "onSuccessDestroyOriginal not a boolean");
    MERR(&a2, "{" FROM1 ",\"create\":{},\"ifInState\":5}", "invalidArguments",
         "ifInState not a string");
    MERR(&a2, "{" FROM1 ",\"create\":{},\"destroyFromIfInState\":[]}",
         "invalidArguments", "destroyFromIfInState not a string");
    MERR(&a2, "{" FROM1 ",\"create\":{\"a\":{\"id\":\"Ta\"},\"b\":{\"id\":\"Ta\"},"
         "\"c\":{\"id\":\"Ta\"},\"d\":{\"id\":\"Ta\"},\"e\":{\"id\":\"Ta\"},"
         "\"f\":{\"id\":\"Ta\"}}}", "requestTooLarge", "more than maxObjectsInSet");
    is_int(json_array_size(stores[1].things), 1, "none of them copied anything");

    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"ifFromInState\":\"9\","
                "\"create\":{\"k\":{\"id\":\"Ta\"}}}", NULL);
    is_str(err_type(c), "stateMismatch", "ifFromInState that does not match");
    ok(strstr(err_desc(c), "A1") && strstr(err_desc(c), "10"),
       "... naming the from account and its state (%s)", err_desc(c));
    is_int(json_array_size(stores[1].things), 1, "... nothing copied");
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"ifFromInState\":\"10\","
                "\"ifInState\":\"20\",\"create\":{\"k\":{\"id\":\"Ta\"}}}", NULL);
    ok(!c->error && cr_id(c, "k"), "both states matching: copied (%s)", err_desc(c));
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"ifInState\":\"20\","
                "\"create\":{\"k\":{\"id\":\"Tb\"}}}", NULL);
    is_str(err_type(c), "stateMismatch", "ifInState that does not match (now 21)");
    is_int(json_array_size(stores[1].things), 2, "... nothing copied");
    f.defer = 1;
    stores_init();
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"ifInState\":\"20\","
                "\"create\":{\"k\":{\"id\":\"Ta\"}}}", NULL);
    ok(!c->error && cr_id(c, "k"), "deferred: matching ifInState copies");
    is_str(res(c, "oldState"), "\"20\"", "... oldState as the store saw it");
}

static void test_set_errors(void)
{
    fake_t f = { 0 };
    jm_call_t *c;

    stores_init();
    json_object_set_new(created_ids, "earlier", json_string("Tc"));
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
                "\"noid\":{\"name\":\"x\"},"
                "\"badid\":{\"id\":\"not an id\"},"
                "\"numid\":{\"id\":5},"
                "\"unknown\":{\"id\":\"Ta\",\"colour\":\"red\"},"
                "\"server\":{\"id\":\"Ta\",\"count\":1}}}", NULL);
    ok(!c->error, "answered (%s)", err_desc(c));
    is_str(nc_type(c, "noid"), "invalidProperties", "no id: invalidProperties");
    is_str(nc_props(c, "noid"), "[\"id\"]", "... naming id");
    is_str(nc_props(c, "badid"), "[\"id\"]", "an id that is no Id");
    is_str(nc_props(c, "numid"), "[\"id\"]", "an id that is no string");
    is_str(nc_props(c, "unknown"), "[\"colour\"]", "a property the type lacks");
    is_str(nc_props(c, "server"), "[\"count\"]", "a server-set property");
    is_str(res(c, "created"), "null", "created null");
    is_str(res(c, "oldState"), res(c, "newState"), "the state did not move");

    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
                "\"badtype\":{\"id\":\"Ta\",\"name\":5,\"flag\":\"no\"},"
                "\"nf\":{\"id\":\"Tnothere\"},"
                "\"nfref\":{\"id\":\"#nope\"},"
                "\"dup\":{\"id\":\"Tc\"},"
                "\"ref\":{\"id\":\"#earlier\",\"name\":\"cherry2\"}}}", NULL);
    ok(!c->error, "answered (%s)", err_desc(c));
    is_str(nc_props(c, "badtype"), "[\"name\",\"flag\"]", "wrong types, each named");
    is_str(nc_type(c, "nf"), "notFound", "an original not in the from account");
    is_str(nc_type(c, "nfref"), "notFound", "a #creationId not in this request");
    is_str(nc_type(c, "dup"), "alreadyExists", "the type says alreadyExists");
    is_str(json_string_value(json_object_get(json_object_get(json_object_get(
        c->result, "notCreated"), "dup"), "existingId")), "Bx", "... with existingId");
    ok(cr_id(c, "ref") != NULL, "#creationId names an earlier record");
    is_str(res(c, "newState"), "\"21\"", "one copy made");
}

static void test_store_contract(void)
{
    fake_t f = { 0 };
    jm_call_t *c;
    apr_status_t rv;

    stores_init();
    f.defer = 1;
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
                "\"k1\":{\"id\":\"Ta\"},\"k2\":{\"id\":\"Tc\"},\"k3\":{}}}", NULL);
    ok(cr_id(c, "k1") != NULL, "store: answered created");
    is_str(nc_type(c, "k2"), "alreadyExists", "store: answered notCreated");
    is_str(nc_type(c, "k3"), "invalidProperties", "the framework's own answer stands");
    is_str(res(c, "newState"), "\"21\"", "store: its newState");

    stores_init();
    do_copy(&thing_copy_nostore, &f, &a2, "{" FROM1 ",\"create\":{"
            "\"k1\":{\"id\":\"Ta\"}}}", &rv);
    ok(rv != APR_SUCCESS, "deferring without a store callback is a server error");
    f.store_leaves = 1;
    do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
            "\"k1\":{\"id\":\"Ta\"},\"k2\":{\"id\":\"Tb\"}}}", &rv);
    ok(rv != APR_SUCCESS, "a store that leaves one unanswered is a server error");
    f.store_leaves = 0;
    f.store_bad_err = 1;
    stores_init();
    do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
            "\"k1\":{\"id\":\"Ta\"}}}", &rv);
    ok(rv != APR_SUCCESS, "a SetError without a type is a server error");
    f.store_bad_err = 0;
    f.copy_fails = 1;
    do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{"
            "\"k1\":{\"id\":\"Ta\"}}}", &rv);
    ok(rv != APR_SUCCESS, "a failing copy callback fails the call");
    f.copy_fails = 0;
    f.defer = 0;
    stores_init();
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"create\":{}}", &rv);
    ok(rv == APR_SUCCESS && !c->error, "an empty create is fine");
    is_str(res(c, "created"), "null", "... nothing created");
    is_str(res(c, "newState"), "\"20\"", "... the state stays");
}

/* The one extra response: [name, args] */
static const char *extra(jm_call_t *c, int part, const char *member)
{
    json_t *r = json_array_get(c->extra_responses, 0);

    if (!r) {
        return "(none)";
    }
    return part == 0 ? json_string_value(json_array_get(r, 0))
                     : dump(json_object_get(json_array_get(r, 1), member));
}

static void test_destroy_original(void)
{
    fake_t f = { 0 };
    jm_call_t *c;

    stores_init();
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"onSuccessDestroyOriginal\":true,"
                "\"create\":{\"k1\":{\"id\":\"Ta\"},\"k2\":{\"id\":\"Tc\"},"
                "\"k3\":{\"id\":\"Tb\"}}}", NULL);
    ok(cr_id(c, "k1") && cr_id(c, "k3"), "two copied, k2 alreadyExists");
    is_int(json_array_size(c->extra_responses), 1, "one implicit call answered");
    is_str(extra(c, 0, NULL), "Thing/set", "... the type's /set");
    is_str(extra(c, 1, "accountId"), "\"A1\"", "... in the from account");
    is_str(extra(c, 1, "destroyed"), "[\"Ta\",\"Tb\"]",
           "... destroying the originals of the copies made only");
    is_int(json_array_size(stores[0].things), 1, "only Tc stays in A1");

    stores_init();
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"onSuccessDestroyOriginal\":true,"
                "\"destroyFromIfInState\":\"9\",\"create\":{\"k1\":{\"id\":\"Ta\"}}}", NULL);
    ok(cr_id(c, "k1") != NULL, "destroyFromIfInState mismatch: the copy stands");
    is_str(extra(c, 0, NULL), "error", "... the implicit set is an error");
    is_str(extra(c, 1, "type"), "\"stateMismatch\"", "... stateMismatch");
    is_int(json_array_size(stores[0].things), 3, "... the original stays");
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"onSuccessDestroyOriginal\":true,"
                "\"destroyFromIfInState\":\"10\",\"create\":{\"k1\":{\"id\":\"Tb\"}}}", NULL);
    is_str(extra(c, 1, "destroyed"), "[\"Tb\"]", "a matching destroyFromIfInState "
           "destroys");
    is_str(extra(c, 1, "oldState"), "\"10\"", "... from that state");

    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"onSuccessDestroyOriginal\":true,"
                "\"create\":{\"k1\":{\"id\":\"Tnothere\"}}}", NULL);
    is_str(dump(c->extra_responses), "(null)", "nothing copied: no implicit set");
    c = do_copy(&thing_copy_type, &f, &a1, "{\"fromAccountId\":\"A3\","
                "\"onSuccessDestroyOriginal\":true,\"create\":{\"k\":{\"id\":\"Cz\"}}}",
                NULL);
    ok(cr_id(c, "k") != NULL, "copied out of a read-only account");
    is_str(extra(c, 1, "type"), "\"accountReadOnly\"", "... whose originals stay: "
           "accountReadOnly");
    is_int(json_array_size(stores[2].things), 1, "... Cz is still there");
    f.set_fails = 1;
    stores_init();
    c = do_copy(&thing_copy_type, &f, &a2, "{" FROM1 ",\"onSuccessDestroyOriginal\":true,"
                "\"create\":{\"k1\":{\"id\":\"Ta\"}}}", NULL);
    ok(cr_id(c, "k1") != NULL, "a failing implicit set: the copy stands");
    is_str(extra(c, 1, "type"), "\"serverFail\"", "... serverFail for the set");
}

int main(void)
{
    apr_array_header_t *shared;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    shared = apr_array_make(pool, 2, sizeof(jm_account_t *));
    APR_ARRAY_PUSH(shared, jm_account_t *) = &a2;
    APR_ARRAY_PUSH(shared, jm_account_t *) = &a3;
    base.pool = pool;
    base.account = &a1;
    base.shared = shared;
    base.limits = &limits;
    created_ids = jm_json_own(pool, json_object());

    test_copy_ok(&thing_copy_type, 0, "at once");
    test_copy_ok(&thing_copy_type, 1, "through the store");
    test_method_errors();
    test_set_errors();
    test_store_contract();
    test_destroy_original();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
