/* Unit tests: the standard-method framework (src/std, RFC 8620 §5) over a
 * fake in-memory type, no database: property values, arguments, /get and
 * /set. Good input and more bad input. /changes, /query and /queryChanges:
 * test_std_query.c; /copy: test_std_copy.c. */
#include "std_fake.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"

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
    set_destroy, 0
};
/* without lookup: patches are checked blind */
static const jm_set_type_t thing_set_blind = {
    "Thing", thing_props, NULL, set_state, set_create, NULL, set_update,
    set_destroy, 0
};


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

/* ---- the mode without an account (PushSubscription, RFC 8620 §7.2) ------ */

/* the set's create stores what it gets with a changed name: the answer of
 * a JM_SET_ANSWER_CHANGED type names it, an ordinary type's does not */
static apr_status_t rename_create(jm_set_t *set, const char *cid, json_t *obj,
                                  json_t **pcreated, json_t **perr)
{
    apr_status_t rv = set_create(set, cid, obj, pcreated, perr);

    if (rv == APR_SUCCESS && *pcreated && json_object_get(obj, "name")) {
        json_object_set_new(*pcreated, "name", json_string("short"));
    }
    return rv;
}

static void test_no_account(void)
{
    static const jm_get_type_t na_get = {
        "Thing", thing_props, NULL, NULL, get_fetch, JM_GET_NO_ACCOUNT, 0, NULL, NULL
    };
    static const jm_set_type_t na_set = {
        "Thing", thing_props, NULL, NULL, rename_create, set_lookup, set_update,
        set_destroy, JM_SET_NO_ACCOUNT | JM_SET_ANSWER_CHANGED
    };
    static const jm_set_type_t plain_set = {
        "Thing", thing_props, NULL, set_state, rename_create, set_lookup, set_update,
        set_destroy, 0
    };
    store_t s;
    jm_call_t *call;

    store_init(&s);
    call = mkcall("Thing/get", "{\"ids\":[\"Ta\",\"Tx\"],\"properties\":[\"name\"]}");
    ok(jm_std_get(call, &na_get, &s) == APR_SUCCESS && call->result, "no account: get works");
    ok(call->result && !json_object_get(call->result, "accountId")
       && !json_object_get(call->result, "state"), "no account: no accountId, no state");
    is_str(res(call, "list"), "[{\"id\":\"Ta\",\"name\":\"apple\"}]", "no account: list");
    is_str(res(call, "notFound"), "[\"Tx\"]", "no account: notFound");
    call = mkcall("Thing/get", "{" ACC ",\"ids\":null}");
    jm_std_get(call, &na_get, &s);
    is_str(err_type(call), "invalidArguments", "no account: an accountId is refused");
    ok(err_desc(call) && strstr(err_desc(call), "accountId"), "no account: ... and named");
    call = mkcall("Thing/get", "{\"ids\":null}");
    jm_std_get(call, &na_get, &s);
    ok(call->result && json_array_size(json_object_get(call->result, "list")) > 1,
       "no account: ids null lists all");

    call = mkcall("Thing/set", "{\"create\":{\"n1\":{\"name\":\"a long name\"}},"
                  "\"destroy\":[\"Ta\"]}");
    ok(jm_std_set(call, &na_set, &s) == APR_SUCCESS && call->result, "no account: set works");
    ok(call->result && !json_object_get(call->result, "accountId")
       && !json_object_get(call->result, "oldState")
       && !json_object_get(call->result, "newState"),
       "no account: no accountId, oldState, newState");
    ok(call->result && json_is_null(json_object_get(call->result, "notCreated")),
       "no account: the other members are there (null)");
    is_str(res(call, "destroyed"), "[\"Ta\"]", "no account: destroyed");
    ok(strstr(res(call, "created"), "\"name\":\"short\"") != NULL,
       "answer-changed: a value stored otherwise than sent is answered");
    call = do_set(&s, &plain_set, "{" ACC ",\"create\":{\"n2\":{\"name\":\"long\"}}}", NULL);
    ok(!strstr(res(call, "created"), "short"), "an ordinary type answers only what was not sent");
    call = mkcall("Thing/set", "{\"create\":{\"quota\":{\"name\":\"x\"}}}");
    jm_std_set(call, &na_set, &s);
    is_str(res(call, "notCreated"), "{\"quota\":{\"type\":\"overQuota\","
           "\"description\":\"Full.\"}}", "no account: notCreated");
    ok(call->result && json_is_null(json_object_get(call->result, "created")),
       "no account: created null when nothing was");
    call = mkcall("Thing/set", "{" ACC ",\"destroy\":[]}");
    jm_std_set(call, &na_set, &s);
    is_str(err_type(call), "invalidArguments", "no account: set refuses an accountId");
    call = mkcall("Thing/set", "{\"ifInState\":\"1\",\"destroy\":[]}");
    jm_std_set(call, &na_set, &s);
    is_str(err_type(call), "invalidArguments", "no account: and ifInState");
    ok(err_desc(call) && strstr(err_desc(call), "ifInState"), "no account: ... named");
}

int main(void)
{
    fake_init();
    test_values();
    test_pointer();
    test_args();
    test_get();
    test_get_hooks();
    test_set_create();
    test_set_update();
    test_set_destroy();
    test_no_account();
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
