/* The fake type of the standard-method unit tests (test_std.c,
 * test_std_query.c): "Thing" objects in a JSON array, a request context
 * and helpers that make calls and read their answers. Included by one test
 * program each, so everything is static. */
#ifndef JM_STD_FAKE_H
#define JM_STD_FAKE_H

#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "std/jm_std_args.h"

static apr_pool_t *pool;
/* get 4, set 5 objects per call */
static jm_limits_t limits = { 1000, 2, 5000, 4, 16, 4, 5,
                               50000, 20000, 100000, 10, 50, 8, 5, 100 };
static jm_account_t account = { 0 };
static jm_ctx_t ctx;

/* ---- a fake type: "Thing" in a JSON array ------------------------------- */

static const jm_prop_t thing_props[] = {
    { "id",         JM_PT_ID,         JM_PROP_SERVER_SET | JM_PROP_ALWAYS_GET | JM_PROP_SORT },
    { "name",       JM_PT_STRING,     JM_PROP_DEFAULT_GET | JM_PROP_FILTER | JM_PROP_SORT },
    { "parentId",   JM_PT_ID,         JM_PROP_NULLABLE | JM_PROP_DEFAULT_GET | JM_PROP_FILTER },
    { "count",      JM_PT_UINT,       JM_PROP_SERVER_SET | JM_PROP_DEFAULT_GET | JM_PROP_SORT },
    { "mailboxIds", JM_PT_ID_MAP,     JM_PROP_DEFAULT_GET },
    { "keywords",   JM_PT_STRING_MAP, JM_PROP_DEFAULT_GET },
    { "created",    JM_PT_UTCDATE,    JM_PROP_IMMUTABLE | JM_PROP_SORT },
    { "meta",       JM_PT_OBJECT,     JM_PROP_NULLABLE },
    { "tags",       JM_PT_ARRAY,      0 },
    { "flag",       JM_PT_BOOL,       JM_PROP_FILTER | JM_PROP_SORT },
    { "secret",     JM_PT_STRING,     0 },
    { NULL, 0, 0 }
};

typedef struct {
    json_t *things;          /* the store */
    int next;                /* id counter */
    int state;
    int fetches;             /* calls of the fetch callback */
    json_t *last_update;     /* the updated object the callback saw */
} store_t;

static inline json_t *find_thing(store_t *s, const char *id, size_t *pidx)
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

static inline void store_init(store_t *s)
{
    memset(s, 0, sizeof(*s));
    s->things = jm_json_own(pool, json_loads(
        "[{\"id\":\"Ta\",\"name\":\"apple\",\"parentId\":null,\"count\":3,"
        "  \"mailboxIds\":{\"M1\":true},\"keywords\":{\"$seen\":true},"
        "  \"created\":\"2020-01-01T00:00:00Z\",\"meta\":{\"x\":{\"y\":1}},"
        "  \"tags\":[1,2],\"flag\":true,\"secret\":\"s\"},"
        " {\"id\":\"Tb\",\"name\":\"Banana\",\"parentId\":\"Ta\",\"count\":1,"
        "  \"mailboxIds\":{},\"keywords\":{},\"created\":\"2021-01-01T00:00:00Z\","
        "  \"flag\":false},"
        " {\"id\":\"Tc\",\"name\":\"cherry\",\"parentId\":\"Ta\",\"count\":2,"
        "  \"mailboxIds\":{},\"keywords\":{},\"created\":\"2019-06-01T00:00:00Z\","
        "  \"flag\":true}]", 0, NULL));
    s->state = 10;
}

/* ---- calls -------------------------------------------------------------- */

static json_t *created_ids;

/* What the dispatch would drop after the call. */
static inline apr_status_t call_cleanup(void *data)
{
    jm_call_t *call = data;

    json_decref(call->result);
    json_decref(call->error);
    return APR_SUCCESS;
}

static inline jm_call_t *mkcall(const char *name, const char *args)
{
    jm_call_t *call = apr_pcalloc(pool, sizeof(*call));
    json_error_t jerr;

    call->ctx = &ctx;
    call->name = name;
    call->call_id = "c";
    call->args = jm_json_own(pool, json_loads(args, 0, &jerr));
    if (!call->args) {
        diag("bad test JSON %s: %s", args, jerr.text);
        exit(1);
    }
    call->created_ids = created_ids;
    call->pool = pool;
    apr_pool_cleanup_register(pool, call, call_cleanup, apr_pool_cleanup_null);
    return call;
}

static inline const char *err_type(jm_call_t *call)
{
    return call->error ? json_string_value(json_object_get(call->error, "type")) : NULL;
}

static inline const char *err_desc(jm_call_t *call)
{
    const char *d = call->error
        ? json_string_value(json_object_get(call->error, "description")) : NULL;
    return d ? d : "";
}

static inline const char *dump(const json_t *j)
{
    return j ? jm_json_dump(j, pool) : "(null)";
}

/* The result member (or call->error) as compact JSON. */
static inline const char *res(jm_call_t *call, const char *member)
{
    if (!call->result) {
        return "(no result)";
    }
    return dump(json_object_get(call->result, member));
}


#define ACC "\"accountId\":\"A1\""

/* The set-up main() does before the tests. */
static inline void fake_init(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    account.id = "A1";
    account.username = "alice";
    ctx.pool = pool;
    ctx.account = &account;
    ctx.limits = &limits;
    created_ids = jm_json_own(pool, json_object());
}

#endif
