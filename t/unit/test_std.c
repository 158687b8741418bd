/* Unit tests: the standard-method framework (src/std, RFC 8620 §5) over a
 * fake in-memory type, no database. Good input and more bad input. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"
#include "std/jm_std_changes.h"
#include "std/jm_std_query.h"
#include "std/jm_std_querychanges.h"
#include "std/jm_std_collation.h"

static apr_pool_t *pool;
/* get 4, set 5 objects per call */
static jm_limits_t limits = { 1000, 2, 5000, 4, 16, 4, 5,
                               50000, 20000, 100000, 10, 50, 8, 5 };
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

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    *pstate = apr_psprintf(get->call->pool, "%d", ((store_t *)get->baton)->state);
    return APR_SUCCESS;
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    store_t *s = get->baton;
    size_t i;
    int j;

    (void)after;
    s->fetches++;
    if (ids) {
        for (j = 0; j < ids->nelts; j++) {
            json_t *o = find_thing(s, APR_ARRAY_IDX(ids, j, const char *), NULL);
            if (o) {
                json_array_append(list, o);
            }
        }
        return APR_SUCCESS;
    }
    for (i = offset; i < json_array_size(s->things) && i < offset + limit; i++) {
        json_array_append(list, json_array_get(s->things, i));
    }
    return APR_SUCCESS;
}

static const jm_get_type_t thing_get = {
    "Thing", thing_props, NULL, get_state, get_fetch, 0, 2, NULL, NULL
};

static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    *pstate = apr_psprintf(set->call->pool, "%d", ((store_t *)set->baton)->state);
    return APR_SUCCESS;
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    store_t *s = set->baton;
    json_t *o;

    if (strcmp(cid, "quota") == 0) {
        *perr = jm_set_error(set->call->pool, "overQuota", NULL, "Full.");
        return APR_SUCCESS;
    }
    if (strcmp(cid, "fail") == 0) {
        return APR_EGENERAL;
    }
    if (strcmp(cid, "typed") == 0) {
        /* a type-specific SetError passes through */
        *perr = jm_set_error(set->call->pool, "mailboxHasEmail", NULL, NULL);
        return APR_SUCCESS;
    }
    o = json_deep_copy(obj);
    json_object_set_new(o, "id", json_string(apr_psprintf(set->call->pool, "T%d",
                                                          ++s->next)));
    json_object_set_new(o, "count", json_integer(0));
    if (!json_object_get(o, "name")) {
        json_object_set_new(o, "name", json_string("unnamed"));
    }
    json_array_append(s->things, o);
    s->state++;
    *pcreated = o;
    return APR_SUCCESS;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    json_t *o = find_thing(set->baton, id, NULL);

    *pobj = o ? json_incref(o) : NULL;
    return APR_SUCCESS;
}

static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    store_t *s = set->baton;
    size_t idx;

    (void)patch;
    if (!find_thing(s, id, &idx)) {
        *perr = jm_set_error(set->call->pool, "notFound", NULL, NULL);
        return APR_SUCCESS;
    }
    if (json_object_get(updated, "name")
        && strcmp(json_string_value(json_object_get(updated, "name")), "big") == 0) {
        *perr = jm_set_error(set->call->pool, "tooLarge", NULL, NULL);
        return APR_SUCCESS;
    }
    s->last_update = jm_json_own(set->call->pool, json_deep_copy(updated));
    json_object_set_new(updated, "count", json_integer(
        json_integer_value(json_object_get(updated, "count")) + 1));
    json_array_set(s->things, idx, updated);
    s->state++;
    *pchanged = json_pack("{s:O}", "count", json_object_get(updated, "count"));
    return APR_SUCCESS;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    store_t *s = set->baton;
    size_t idx;

    if (strcmp(id, "Tsingle") == 0) {
        *perr = jm_set_error(set->call->pool, "singleton", NULL, NULL);
        return APR_SUCCESS;
    }
    if (!find_thing(s, id, &idx)) {
        *perr = jm_set_error(set->call->pool, "notFound", NULL, "No %s.", id);
        return APR_SUCCESS;
    }
    json_array_remove(s->things, idx);
    s->state++;
    return APR_SUCCESS;
}

static const jm_set_type_t thing_set = {
    "Thing", thing_props, NULL, set_state, set_create, set_lookup, set_update,
    set_destroy
};
/* without lookup: patches are checked blind */
static const jm_set_type_t thing_set_blind = {
    "Thing", thing_props, NULL, set_state, set_create, NULL, set_update,
    set_destroy
};

static void store_init(store_t *s)
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
static apr_status_t call_cleanup(void *data)
{
    jm_call_t *call = data;

    json_decref(call->result);
    json_decref(call->error);
    return APR_SUCCESS;
}

static jm_call_t *mkcall(const char *name, const char *args)
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

static const char *dump(const json_t *j)
{
    return j ? jm_json_dump(j, pool) : "(null)";
}

/* The result member (or call->error) as compact JSON. */
static const char *res(jm_call_t *call, const char *member)
{
    if (!call->result) {
        return "(no result)";
    }
    return dump(json_object_get(call->result, member));
}

static jm_call_t *do_get(store_t *s, const char *args)
{
    jm_call_t *call = mkcall("Thing/get", args);

    if (jm_std_get(call, &thing_get, s) != APR_SUCCESS) {
        diag("get failed");
    }
    return call;
}

static jm_call_t *do_set(store_t *s, const jm_set_type_t *t, const char *args,
                         apr_status_t *prv)
{
    jm_call_t *call = mkcall("Thing/set", args);
    apr_status_t rv = jm_std_set(call, t, s);

    if (prv) {
        *prv = rv;
    }
    return call;
}

#define ACC "\"accountId\":\"A1\""

/* ---- property values ---------------------------------------------------- */

static void test_values(void)
{
    static const struct { const char *s; int utc, ok; } dates[] = {
        { "2014-10-30T14:12:00+08:00", 0, 1 },
        { "2014-10-30T06:12:00Z", 1, 1 },
        { "2014-10-30T06:12:00.5Z", 1, 1 },
        { "2014-10-30T06:12:00.123Z", 0, 1 },
        { "2014-10-30T06:12:00-00:30", 0, 1 },
        { "2024-02-29T00:00:00Z", 1, 1 },
        { "2014-10-30T14:12:00+08:00", 1, 0 },
        { "2014-10-30t06:12:00Z", 0, 0 },
        { "2014-10-30T06:12:00z", 0, 0 },
        { "2014-10-30T06:12:00.000Z", 0, 0 },
        { "2014-10-30T06:12:00.Z", 0, 0 },
        { "2014-10-30T06:12Z", 0, 0 },
        { "2014-10-30 06:12:00Z", 0, 0 },
        { " 014-10-30T06:12:00Z", 0, 0 },
        { "+014-10-30T06:12:00Z", 0, 0 },
        { "2014-13-30T06:12:00Z", 0, 0 },
        { "2023-02-29T00:00:00Z", 0, 0 },
        { "2014-04-31T00:00:00Z", 0, 0 },
        { "2014-10-30T24:00:00Z", 0, 0 },
        { "2014-10-30T06:12:00+0800", 0, 0 },
        { "2014-10-30T06:12:00", 0, 0 },
        { "2014-10-30T06:12:00Zjunk", 0, 0 },
        { "", 0, 0 },
    };
    char id255[257], id256[258];
    jm_path_t path;
    json_t *v;
    size_t i;

    for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        is_int(jm_prop_valid_date(dates[i].s, dates[i].utc), dates[i].ok,
               apr_psprintf(pool, "%s \"%s\"", dates[i].utc ? "UTCDate" : "Date",
                            dates[i].s));
    }
    memset(id255, 'a', 255);
    id255[255] = '\0';
    memset(id256, 'a', 256);
    id256[256] = '\0';
    jm_path_init(&path, pool);
#define PT(type, json, want, name) do { \
        v = json_loads(json, JSON_DECODE_ANY, NULL); \
        is_int(jm_ptype_check(type, v, &path), want, name); \
        json_decref(v); \
    } while (0)
    PT(JM_PT_ID, "\"abc-_09XYZ\"", 1, "Id of the URL-safe alphabet");
    PT(JM_PT_ID, "\"\"", 0, "empty Id");
    PT(JM_PT_ID, "\"a+b\"", 0, "Id with +");
    PT(JM_PT_ID, "\"a=\"", 0, "Id with =");
    PT(JM_PT_ID, "\"a b\"", 0, "Id with a space");
    PT(JM_PT_ID, "5", 0, "Id as a number");
    v = json_string(id255);
    is_int(jm_ptype_check(JM_PT_ID, v, &path), 1, "Id of 255 chars");
    json_decref(v);
    v = json_string(id256);
    is_int(jm_ptype_check(JM_PT_ID, v, &path), 0, "Id of 256 chars");
    json_decref(v);
    PT(JM_PT_INT, "9007199254740991", 1, "Int 2^53-1");
    PT(JM_PT_INT, "-9007199254740991", 1, "Int -(2^53-1)");
    PT(JM_PT_INT, "9007199254740992", 0, "Int 2^53");
    PT(JM_PT_INT, "-9007199254740992", 0, "Int -2^53");
    PT(JM_PT_INT, "1.5", 0, "Int 1.5");
    PT(JM_PT_UINT, "0", 1, "UnsignedInt 0");
    PT(JM_PT_UINT, "-1", 0, "UnsignedInt -1");
    PT(JM_PT_UINT, "\"1\"", 0, "UnsignedInt as a string");
    PT(JM_PT_BOOL, "0", 0, "Boolean 0");
    PT(JM_PT_STRING, "null", 0, "String null");
    PT(JM_PT_ID_MAP, "{\"M1\":true,\"M2\":true}", 1, "Id map");
    PT(JM_PT_ID_MAP, "{\"M1\":false}", 0, "Id map with false");
    PT(JM_PT_ID_MAP, "{\"M/1\":true}", 0, "Id map with a non-Id key");
    PT(JM_PT_ID_MAP, "[]", 0, "Id map as an array");
    PT(JM_PT_STRING_MAP, "{\"$seen\":true}", 1, "keyword map");
    PT(JM_PT_STRING_MAP, "{\"\":true}", 0, "keyword map with an empty key");
    PT(JM_PT_STRING_MAP, "{\"$seen\":1}", 0, "keyword map with 1");
    PT(JM_PT_UTCDATE, "\"2020-01-01T00:00:00+01:00\"", 0, "UTCDate with an offset");
    PT(JM_PT_ARRAY, "{}", 0, "array as an object");
    PT(JM_PT_ANY, "[{}]", 1, "ANY takes anything");
    ok(jm_path_nerrors(&path) > 0, "failures were recorded");
    jm_path_init(&path, pool);
    jm_path_push(&path, "mailboxIds");
    v = json_loads("{\"M1\":true,\"a/b\":true,\"c~d\":false}", 0, NULL);
    jm_ptype_check(JM_PT_ID_MAP, v, &path);
    json_decref(v);
    is_str(dump(jm_json_own(pool, jm_path_invalid_json(&path))),
           "[\"mailboxIds/a~1b\",\"mailboxIds/c~0d\"]",
           "bad map keys are named by escaped paths (~1 for /, ~0 for ~)");
}

static void test_pointer(void)
{
    apr_array_header_t *a;

    a = jm_pointer_split("a~1b/c~0d/~01", pool);
    ok(a && a->nelts == 3, "split into three segments");
    if (a && a->nelts == 3) {
        is_str(APR_ARRAY_IDX(a, 0, const char *), "a/b", "~1 decodes to /");
        is_str(APR_ARRAY_IDX(a, 1, const char *), "c~d", "~0 decodes to ~");
        is_str(APR_ARRAY_IDX(a, 2, const char *), "~1", "~01 decodes to ~1, not /");
    }
    ok(jm_pointer_split("a~2", pool) == NULL, "~2 is no escape");
    ok(jm_pointer_split("a~", pool) == NULL, "a trailing ~ is no escape");
    a = jm_pointer_split("", pool);
    ok(a && a->nelts == 1 && !*APR_ARRAY_IDX(a, 0, const char *), "empty pointer: one empty segment");
    is_str(jm_pointer_escape("~/", pool), "~0~1", "escape");
}

/* ---- arguments ---------------------------------------------------------- */

static void test_args(void)
{
    static const jm_arg_t args[] = {
        { "need", JM_PT_STRING, JM_ARG_REQUIRED },
        { "n",    JM_PT_UINT,   JM_ARG_NULLABLE },
        { NULL, 0, 0 }
    };
    static const jm_arg_t extra[] = {
        { "fetchAll", JM_PT_BOOL, 0 },
        { NULL, 0, 0 }
    };
    jm_call_t *call;

    call = mkcall("X/y", "{" ACC ",\"need\":\"x\",\"n\":null,\"fetchAll\":true}");
    ok(jm_args_check(call, args, extra) && !call->error, "known arguments, null for nullable");
    ok(jm_args_bool(call, "fetchAll", 0) == 1 && jm_args_int(call, "n", 7) == 7,
       "readers: a boolean, a null integer gives the default");
    call = mkcall("X/y", "{\"need\":\"x\",\"bogus\":1}");
    ok(!jm_args_check(call, args, extra), "unknown argument rejected");
    is_str(err_type(call), "invalidArguments", "... as invalidArguments");
    ok(strstr(err_desc(call), "\"bogus\"") != NULL, "... naming it");
    call = mkcall("X/y", "{\"n\":1}");
    ok(!jm_args_check(call, args, NULL), "missing required argument");
    ok(strstr(err_desc(call), "\"need\"") != NULL, "... named");
    call = mkcall("X/y", "{\"need\":null}");
    ok(!jm_args_check(call, args, NULL), "null for a required, non-nullable argument");
    call = mkcall("X/y", "{\"need\":\"x\",\"n\":-1}");
    ok(!jm_args_check(call, args, NULL), "negative UnsignedInt");
    ok(strstr(err_desc(call), "n (not an UnsignedInt)") != NULL, "... named with the reason");
    call = mkcall("X/y", "{\"need\":\"x\",\"fetchAll\":\"yes\"}");
    ok(!jm_args_check(call, args, extra), "type's own argument with a wrong type");
}

/* ---- /get --------------------------------------------------------------- */

/* ---- /get hooks: names beyond the table, the type's own arguments ---- */

static int tag_prop(const char *name, apr_pool_t *p)
{
    (void)p;
    return !strncmp(name, "tag:", 4) && name[4];
}

static const jm_arg_t level_args[] = {
    { "level", JM_PT_UINT, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

static int level_read(jm_get_t *get)
{
    store_t *s = get->baton;

    s->state = (int)jm_args_int(get->call, "level", 0);
    if (s->state > 3) {
        jm_call_error(get->call, "invalidArguments", "level: at most 3.");
        return 0;
    }
    return 1;
}

/* Each object with a "tag:<name>" property when asked; level 3: the
 * callback refuses the call itself. */
static apr_status_t tag_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    store_t *s = get->baton;
    size_t i, n0 = json_array_size(list);
    apr_status_t rv = get_fetch(get, ids, offset, after, limit, list);

    if (s->state == 3) {
        jm_call_error(get->call, "requestTooLarge", "level 3.");
        return APR_SUCCESS;
    }
    for (i = n0; i < json_array_size(list); i++) {
        json_t *o = json_deep_copy(json_array_get(list, i));
        if (jm_get_wants(get, "tag:a")) {
            json_object_set_new(o, "tag:a", json_string("A"));
        }
        json_object_set_new(o, "tag:b", json_string("B"));   /* never asked */
        json_array_set_new(list, i, o);
    }
    return rv;
}

static void test_get_hooks(void)
{
    static const jm_get_type_t tag_get = {
        "Thing", thing_props, level_args, get_state, tag_fetch, 0, 0,
        tag_prop, level_read
    };
    store_t s;
    jm_call_t *call;

    store_init(&s);
    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"properties\":[\"name\","
                  "\"tag:a\"],\"level\":1}");
    jm_std_get(call, &tag_get, &s);
    is_str(res(call, "list"), "[{\"id\":\"Ta\",\"name\":\"apple\",\"tag:a\":\"A\"}]",
           "get hooks: an extra name asked is answered, one not asked is not");
    is_int(s.state, 1, "get hooks: read_args saw the type's argument");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"]}");
    jm_std_get(call, &tag_get, &s);
    is_str(res(call, "list"), "[{\"id\":\"Ta\",\"name\":\"apple\",\"parentId\":null,"
           "\"count\":3,\"mailboxIds\":{\"M1\":true},\"keywords\":{\"$seen\":true}}]",
           "get hooks: properties null leaves extra names out");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"properties\":[\"tag:\"]}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "invalidArguments", "get hooks: a name the hook refuses");
    ok(err_desc(call) && strstr(err_desc(call), "tag:"), "get hooks: ... is named");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"properties\":[\"tag:a\"]}");
    jm_std_get(call, &thing_get, &s);
    is_str(err_type(call), "invalidArguments", "get: no hook, no extra names");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"level\":\"high\"}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "invalidArguments", "get hooks: the argument's type is checked");
    ok(err_desc(call) && strstr(err_desc(call), "level"), "get hooks: ... and named");

    s.state = 0;
    s.fetches = 0;
    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"nope\"],\"level\":4}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "invalidArguments", "get hooks: read_args refuses a value");
    is_int(s.fetches, 0, "get hooks: ... before anything is fetched");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"level\":3}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "requestTooLarge", "get hooks: an error from fetch is the answer");
    ok(!call->result, "get hooks: ... with no result");
    call = mkcall("Thing/get", "{" ACC ",\"ids\":null,\"level\":3}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "requestTooLarge", "get hooks: also when listing all");

    call = mkcall("Thing/get", "{" ACC ",\"ids\":[\"Ta\"],\"levels\":1}");
    jm_std_get(call, &tag_get, &s);
    is_str(err_type(call), "invalidArguments", "get hooks: an unknown argument");
    ok(err_desc(call) && strstr(err_desc(call), "levels"), "get hooks: ... is named");

    /* a creation id whose object is gone again is answered as asked */
    json_object_set_new(created_ids, "gone1", json_string("Tgone"));
    call = do_get(&s, "{" ACC ",\"ids\":[\"#gone1\",\"Tgone\",\"Ta\"],"
                  "\"properties\":[\"id\"]}");
    is_str(res(call, "notFound"), "[\"#gone1\"]", "get: notFound keeps \"#creationId\"");
    is_str(res(call, "list"), "[{\"id\":\"Ta\"}]", "get: ... and the rest is answered");
}

static void test_get(void)
{
    store_t s;
    jm_call_t *call;

    store_init(&s);
    call = do_get(&s, "{" ACC ",\"ids\":[\"Tb\",\"Ta\",\"Tb\",\"nope\"],"
                  "\"properties\":[\"name\"]}");
    is_str(res(call, "list"), "[{\"id\":\"Tb\",\"name\":\"Banana\"},{\"id\":\"Ta\","
           "\"name\":\"apple\"}]", "get: asked order, duplicates once, id always");
    is_str(res(call, "notFound"), "[\"nope\"]", "get: notFound");
    is_str(res(call, "state"), "\"10\"", "get: state");
    is_str(res(call, "accountId"), "\"A1\"", "get: accountId");

    call = do_get(&s, "{" ACC ",\"ids\":[\"Tc\"]}");
    is_str(res(call, "list"), "[{\"id\":\"Tc\",\"name\":\"cherry\",\"parentId\":\"Ta\","
           "\"count\":2,\"mailboxIds\":{},\"keywords\":{}}]",
           "get: properties null gives the DEFAULT_GET ones");

    s.fetches = 0;
    call = do_get(&s, "{" ACC ",\"ids\":null,\"properties\":[\"id\"]}");
    is_str(res(call, "list"), "[{\"id\":\"Ta\"},{\"id\":\"Tb\"},{\"id\":\"Tc\"}]",
           "get: ids null lists all");
    is_int(s.fetches, 2, "get: all in batches of 2 (2 + 1)");

    json_object_set_new(created_ids, "new1", json_string("Tc"));
    call = do_get(&s, "{" ACC ",\"ids\":[\"#new1\",\"Tc\",\"#unknown\",\"#unknown\"],"
                  "\"properties\":[\"id\"]}");
    is_str(res(call, "list"), "[{\"id\":\"Tc\"}]", "get: #creationId resolved, "
           "and the same object once");
    is_str(res(call, "notFound"), "[\"#unknown\"]", "get: an unknown creation id "
           "in notFound as given, once");

    call = do_get(&s, "{" ACC ",\"ids\":[]}");
    is_str(res(call, "list"), "[]", "get: empty ids");
    is_str(res(call, "notFound"), "[]", "get: empty notFound");

    call = do_get(&s, "{" ACC ",\"ids\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}");
    is_str(err_type(call), "requestTooLarge", "get: more than maxObjectsInGet ids");
    json_array_append_new(s.things, json_pack("{s:s}", "id", "Td"));
    json_array_append_new(s.things, json_pack("{s:s}", "id", "Te"));
    call = do_get(&s, "{" ACC "}");
    is_str(err_type(call), "requestTooLarge", "get: all, but more than maxObjectsInGet exist");
    json_array_remove(s.things, 4);
    call = do_get(&s, "{" ACC "}");
    ok(!call->error && json_array_size(json_object_get(call->result, "list")) == 4,
       "get: all, exactly maxObjectsInGet");

    call = do_get(&s, "{" ACC ",\"properties\":[\"name\",\"nope\"]}");
    is_str(err_type(call), "invalidArguments", "get: unknown property");
    ok(strstr(err_desc(call), "properties/1") && strstr(err_desc(call), "\"nope\""),
       "... named with its path");
    call = do_get(&s, "{" ACC ",\"properties\":[1]}");
    is_str(err_type(call), "invalidArguments", "get: property not a string");
    call = do_get(&s, "{" ACC ",\"properties\":\"name\"}");
    is_str(err_type(call), "invalidArguments", "get: properties not an array");
    call = do_get(&s, "{" ACC ",\"ids\":\"Ta\"}");
    is_str(err_type(call), "invalidArguments", "get: ids not an array");
    call = do_get(&s, "{" ACC ",\"ids\":[\"T a\"]}");
    is_str(err_type(call), "invalidArguments", "get: ids with a non-Id");
    ok(strstr(err_desc(call), "ids/0") != NULL, "... named ids/0");
    call = do_get(&s, "{" ACC ",\"ids\":[5]}");
    is_str(err_type(call), "invalidArguments", "get: ids with a number");
    call = do_get(&s, "{" ACC ",\"idz\":[]}");
    is_str(err_type(call), "invalidArguments", "get: unknown argument");
}

/* ---- /set --------------------------------------------------------------- */

static json_t *notx(jm_call_t *call, const char *which, const char *key)
{
    return json_object_get(json_object_get(call->result, which), key);
}

static const char *notx_type(jm_call_t *call, const char *which, const char *key)
{
    return json_string_value(json_object_get(notx(call, which, key), "type"));
}

static const char *notx_props(jm_call_t *call, const char *which, const char *key)
{
    return dump(json_object_get(notx(call, which, key), "properties"));
}

static void test_set_create(void)
{
    store_t s;
    jm_call_t *call;
    apr_status_t rv;

    store_init(&s);
    call = do_set(&s, &thing_set, "{" ACC ",\"ifInState\":\"10\",\"create\":{"
                  "\"k1\":{\"name\":\"kiwi\",\"mailboxIds\":{\"M1\":true}},"
                  "\"k2\":{\"parentId\":\"#k1\",\"mailboxIds\":{\"#k1\":true}}}}", &rv);
    ok(rv == APR_SUCCESS && !call->error, "create: ok");
    is_str(res(call, "created"), "{\"k1\":{\"id\":\"T1\",\"count\":0},\"k2\":{\"id\":"
           "\"T2\",\"count\":0,\"name\":\"unnamed\"}}",
           "create: created answers the server-set and defaulted properties only");
    is_str(res(call, "oldState"), "\"10\"", "create: oldState");
    is_str(res(call, "newState"), "\"12\"", "create: newState");
    is_str(res(call, "notCreated"), "null", "create: notCreated null");
    is_str(res(call, "updated"), "null", "create: updated null");
    is_str(dump(json_object_get(find_thing(&s, "T2", NULL), "parentId")), "\"T1\"",
           "create: #creationId in an Id property resolved");
    is_str(dump(json_object_get(find_thing(&s, "T2", NULL), "mailboxIds")),
           "{\"T1\":true}", "create: #creationId as an Id map key resolved");
    is_str(dump(json_object_get(created_ids, "k2")), "\"T2\"",
           "create: creation id recorded for later calls");

    /* §5.3: a reference to a create later in the same call waits for it */
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{"
                  "\"late\":{\"parentId\":\"#early\"},\"early\":{\"name\":\"e\"},"
                  "\"loop1\":{\"parentId\":\"#loop2\"},\"loop2\":{\"parentId\":\"#loop1\"}}}", &rv);
    is_str(dump(json_object_get(find_thing(&s, json_string_value(json_object_get(
           created_ids, "late")), NULL), "parentId")),
           dump(json_object_get(created_ids, "early")),
           "create: forward reference in the same call resolved");
    is_str(notx_type(call, "notCreated", "loop1"), "invalidProperties",
           "create: a reference cycle cannot be created");
    is_str(notx_props(call, "notCreated", "loop2"), "[\"parentId\"]",
           "... naming the property");

    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{"
                  "\"b1\":{\"id\":\"X\",\"count\":5,\"name\":\"ok\"},"
                  "\"b2\":{\"name\":5,\"nope\":1,\"mailboxIds\":{\"M1\":false,\"a/b\":true}},"
                  "\"b3\":{\"parentId\":\"#nowhere\",\"created\":\"2020-01-01T00:00:00+01:00\"},"
                  "\"b4\":{\"parentId\":null,\"meta\":null,\"tags\":{},\"flag\":null}}}",
                  &rv);
    is_str(notx_type(call, "notCreated", "b1"), "invalidProperties",
           "create: server-set properties rejected");
    is_str(notx_props(call, "notCreated", "b1"), "[\"id\",\"count\"]", "... listed");
    is_str(notx_props(call, "notCreated", "b2"),
           "[\"name\",\"nope\",\"mailboxIds/M1\",\"mailboxIds/a~1b\"]",
           "create: type errors, unknown property, bad map entries, as paths");
    is_str(notx_props(call, "notCreated", "b3"), "[\"parentId\",\"created\"]",
           "create: unknown creation id, a UTCDate with an offset");
    is_str(notx_props(call, "notCreated", "b4"), "[\"tags\",\"flag\"]",
           "create: null for nullable is fine; not an array; null for non-nullable");
    is_str(res(call, "created"), "null", "create: nothing created");
    is_str(res(call, "newState"), res(call, "oldState"), "create: state unchanged");
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"quota\":{},\"typed\":{}}}", &rv);
    is_str(notx_type(call, "notCreated", "quota"), "overQuota",
           "create: the callback's SetError");
    is_str(notx_type(call, "notCreated", "typed"), "mailboxHasEmail",
           "create: a type-specific SetError passes through");

    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"fail\":{}}}", &rv);
    ok(rv != APR_SUCCESS, "create: a callback failure is the method's (serverFail)");

    call = do_set(&s, &thing_set, "{" ACC ",\"ifInState\":\"9\",\"create\":{\"x\":{}}}", &rv);
    is_str(err_type(call), "stateMismatch", "set: ifInState mismatch");
    call = do_set(&s, &thing_set, "{" ACC ",\"ifInState\":9}", &rv);
    is_str(err_type(call), "invalidArguments", "set: ifInState not a string");
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"a b\":{}}}", &rv);
    is_str(err_type(call), "invalidArguments", "set: a creation id that is no Id");
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"x\":[]}}", &rv);
    is_str(err_type(call), "invalidArguments", "set: a create that is no object");
    ok(strstr(err_desc(call), "create/x") != NULL, "... named create/x");
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":[]}", &rv);
    is_str(err_type(call), "invalidArguments", "set: create not a map");
    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"Ta\":true}}", &rv);
    is_str(err_type(call), "invalidArguments", "set: update value not a PatchObject");
    call = do_set(&s, &thing_set, "{" ACC ",\"destroy\":[\"Ta\",1]}", &rv);
    is_str(err_type(call), "invalidArguments", "set: destroy with a non-Id");
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"a\":{},\"b\":{},\"c\":{}},"
                  "\"update\":{\"Ta\":{}},\"destroy\":[\"Tb\",\"Tc\"]}", &rv);
    is_str(err_type(call), "requestTooLarge", "set: six objects, maxObjectsInSet 5");
    ok(json_array_size(s.things) > 3 && find_thing(&s, "Tb", NULL),
       "... and nothing done");
}

static void test_set_update(void)
{
    store_t s;
    jm_call_t *call;
    apr_status_t rv;

    store_init(&s);
    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"Ta\":{"
                  "\"name\":\"apricot\",\"mailboxIds/M2\":true,\"mailboxIds/M1\":null,"
                  "\"keywords/$flagged\":true,\"meta/x/y\":2,\"meta/a~1b\":1,"
                  "\"id\":\"Ta\",\"count\":3,\"created\":\"2020-01-01T00:00:00Z\"}}}", &rv);
    ok(rv == APR_SUCCESS && !call->error, "update: ok");
    is_str(res(call, "updated"), "{\"Ta\":{\"count\":4}}",
           "update: updated has the changed server-set property");
    is_str(dump(s.last_update), "{\"id\":\"Ta\",\"name\":\"apricot\",\"parentId\":null,"
           "\"count\":3,\"mailboxIds\":{\"M2\":true},\"keywords\":{\"$seen\":true,"
           "\"$flagged\":true},\"created\":\"2020-01-01T00:00:00Z\",\"meta\":{\"x\":"
           "{\"y\":2},\"a/b\":1},\"tags\":[1,2],\"flag\":true,\"secret\":\"s\"}",
           "update: the patch applied (map entries, nested paths, ~1, unchanged "
           "server-set and immutable values)");

    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{"
                  "\"Ta\":{\"count\":99,\"id\":\"Tz\",\"created\":\"2022-01-01T00:00:00Z\"},"
                  "\"Tb\":{\"name\":7,\"nope\":1,\"mailboxIds/bad id\":true,"
                  "\"keywords/$x\":false,\"parentId\":\"#nocid\"}}}", &rv);
    is_str(notx_type(call, "notUpdated", "Ta"), "invalidProperties",
           "update: server-set and immutable properties changed");
    is_str(notx_props(call, "notUpdated", "Ta"), "[\"count\",\"id\",\"created\"]",
           "... named");
    is_str(notx_props(call, "notUpdated", "Tb"), "[\"name\",\"nope\",\"mailboxIds/bad id\","
           "\"keywords/$x\",\"parentId\"]",
           "update: bad values, unknown property, bad map key and value, "
           "unknown creation id (patch keys named as sent)");

#define BADPATCH(patch, name) do { \
        call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"Ta\":" patch "}}", &rv); \
        is_str(notx_type(call, "notUpdated", "Ta"), "invalidPatch", name); \
    } while (0)
    BADPATCH("{\"meta/nope/z\":1}", "patch: through a missing parent");
    BADPATCH("{\"name/x\":1}", "patch: through a string");
    BADPATCH("{\"tags/0\":1}", "patch: inside an array");
    BADPATCH("{\"meta/x\":{},\"meta/x/y\":1}", "patch: overlapping paths");
    BADPATCH("{\"meta\":{},\"meta/x\":1}", "patch: a path and its parent");
    BADPATCH("{\"mailboxIds/M1/x\":true}", "patch: inside a map value");
    BADPATCH("{\"meta/a~2\":1}", "patch: ~2 is no escape");
    BADPATCH("{\"meta/~\":1}", "patch: a lone ~");
    json_object_set_new(created_ids, "k", json_string("Tk"));
    BADPATCH("{\"mailboxIds/#k\":true,\"mailboxIds/Tk\":null}",
             "patch: two paths the same after resolving a creation id");
    ok(strstr(json_string_value(json_object_get(notx(call, "notUpdated", "Ta"),
              "description")), "patched twice") != NULL, "... described");

    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"Ta\":{\"meta/x\":null,"
                  "\"meta/absent\":null,\"parentId\":null}}}", &rv);
    ok(!call->error && json_object_get(json_object_get(call->result, "updated"), "Ta"),
       "update: null removes a member; an absent one is a no-op");
    is_str(dump(json_object_get(s.last_update, "meta")), "{\"a/b\":1}", "... removed");

    /* blind (no lookup): server-set only when it is the id itself */
    call = do_set(&s, &thing_set_blind, "{" ACC ",\"update\":{\"Tb\":{\"id\":\"Tb\","
                  "\"name\":\"b2\"},\"Tc\":{\"count\":2}}}", &rv);
    ok(json_object_get(json_object_get(call->result, "updated"), "Tb") != NULL,
       "update without lookup: the same id may be sent");
    is_str(notx_type(call, "notUpdated", "Tc"), "invalidProperties",
           "update without lookup: a server-set property cannot be compared");
    call = do_set(&s, &thing_set_blind, "{" ACC ",\"update\":{\"Tb\":{\"tags/1\":1}}}", &rv);
    is_str(notx_type(call, "notUpdated", "Tb"), "invalidPatch",
           "update without lookup: inside an array is still invalidPatch");

    json_object_set_new(created_ids, "tc", json_string("Tc"));
    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"#tc\":{\"name\":\"c2\"},"
                  "\"#gone\":{},\"Tb\":{\"name\":\"big\"},\"Ta\":{}},"
                  "\"destroy\":[\"Ta\"]}", &rv);
    ok(json_object_get(json_object_get(call->result, "updated"), "Tc") != NULL,
       "update: #creationId key resolved");
    is_str(notx_type(call, "notUpdated", "#gone"), "notFound",
           "update: unknown creation id is notFound");
    is_str(notx_type(call, "notUpdated", "Tb"), "tooLarge", "update: the callback's SetError");
    is_str(notx_type(call, "notUpdated", "Ta"), "willDestroy",
           "update: skipped when destroyed in the same call");
    is_str(res(call, "destroyed"), "[\"Ta\"]", "destroy after update");
    call = do_set(&s, &thing_set, "{" ACC ",\"update\":{\"Tnone\":{}}}", &rv);
    is_str(notx_type(call, "notUpdated", "Tnone"), "notFound", "update: unknown id");
}

static void test_set_destroy(void)
{
    store_t s;
    jm_call_t *call;
    apr_status_t rv;

    store_init(&s);
    json_array_append_new(s.things, json_pack("{s:s}", "id", "Tsingle"));
    call = do_set(&s, &thing_set, "{" ACC ",\"create\":{\"d1\":{\"name\":\"tmp\"}},"
                  "\"destroy\":[\"Tb\",\"Tb\",\"#d1\",\"#nope\"]}", &rv);
    is_str(res(call, "destroyed"), "[\"Tb\",\"T1\"]",
           "destroy: once each, a creation id of this call resolved (created first)");
    is_str(notx_type(call, "notDestroyed", "#nope"), "notFound", "destroy: unknown creation id");
    is_str(res(call, "newState"), "\"13\"", "destroy: state moved by three");
    call = do_set(&s, &thing_set, "{" ACC ",\"destroy\":[\"Tx\",\"Tsingle\"]}", &rv);
    is_str(notx_type(call, "notDestroyed", "Tx"), "notFound", "destroy: unknown id");
    is_str(notx_type(call, "notDestroyed", "Tsingle"), "singleton", "destroy: singleton");
    is_str(res(call, "destroyed"), "null", "destroy: destroyed null");
}

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
    apr_initialize();
    apr_pool_create(&pool, NULL);
    account.id = "A1";
    account.username = "alice";
    ctx.pool = pool;
    ctx.account = &account;
    ctx.limits = &limits;
    created_ids = jm_json_own(pool, json_object());

    test_values();
    test_pointer();
    test_args();
    test_get();
    test_get_hooks();
    test_set_create();
    test_set_update();
    test_set_destroy();
    test_changes();
    test_collations();
    test_query();
    test_querychanges();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
