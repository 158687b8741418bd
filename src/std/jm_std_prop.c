/* Property tables: value checks (RFC 8620 §1.2-1.4), "properties",
 * projection (§5.1). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "std/jm_std_prop.h"
#include "core/jm_util.h"

#define JM_MAX_SAFE_INT 9007199254740991LL    /* 2^53-1 */

const jm_prop_t *jm_prop_find(const jm_prop_t *table, const char *name)
{
    for (; table && table->name; table++) {
        if (strcmp(table->name, name) == 0) {
            return table;
        }
    }
    return NULL;
}

int jm_prop_valid_int(const json_t *v, int is_unsigned)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        return 0;
    }
    n = json_integer_value(v);
    return n <= JM_MAX_SAFE_INT && n >= (is_unsigned ? 0 : -JM_MAX_SAFE_INT);
}

static int digits(const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int num(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int jm_prop_valid_date(const char *s, int utc)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    const char *r;
    int y, mo, d, nonzero = 0;

    /* positions first: sscanf would take signs and spaces */
    if (!s || strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2)
        || s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2)
        || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2)) {
        return 0;
    }
    y = num(s, 4);
    mo = num(s + 5, 2);
    d = num(s + 8, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        || num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 60) {
        return 0;
    }
    r = s + 19;
    if (*r == '.') {
        /* §1.4: time-secfrac MUST be omitted if zero */
        const char *q = ++r;
        while (apr_isdigit(*r)) {
            nonzero |= *r++ != '0';
        }
        if (r == q || !nonzero) {
            return 0;
        }
    }
    if (strcmp(r, "Z") == 0) {
        return 1;
    }
    return !utc && (r[0] == '+' || r[0] == '-') && strlen(r) == 6
        && digits(r + 1, 2) && r[3] == ':' && digits(r + 4, 2)
        && num(r + 1, 2) <= 23 && num(r + 4, 2) <= 59;
}

static int check_map(jm_ptype_t key_type, const json_t *v, jm_path_t *path)
{
    const char *k;
    json_t *e;
    int good = 1;

    if (!json_is_object(v)) {
        jm_path_invalid(path, NULL, "not an object");
        return 0;
    }
    json_object_foreach((json_t *)v, k, e) {
        if (key_type == JM_PT_ID ? !jm_util_is_valid_id(k) : !*k) {
            jm_path_invalid(path, k, key_type == JM_PT_ID ? "not an Id" : "empty key");
            good = 0;
        }
        else if (!json_is_true(e)) {
            jm_path_invalid(path, k, "the value must be true");
            good = 0;
        }
    }
    return good;
}

int jm_ptype_check(jm_ptype_t type, const json_t *v, jm_path_t *path)
{
    const char *why = NULL;

    switch (type) {
    case JM_PT_ID:
        if (!json_is_string(v) || !jm_util_is_valid_id(json_string_value(v))) {
            why = "not an Id";
        }
        break;
    case JM_PT_STRING:
        why = json_is_string(v) ? NULL : "not a string";
        break;
    case JM_PT_BOOL:
        why = json_is_boolean(v) ? NULL : "not a boolean";
        break;
    case JM_PT_INT:
        why = jm_prop_valid_int(v, 0) ? NULL : "not an Int";
        break;
    case JM_PT_UINT:
        why = jm_prop_valid_int(v, 1) ? NULL : "not an UnsignedInt";
        break;
    case JM_PT_DATE:
    case JM_PT_UTCDATE:
        if (!json_is_string(v)
            || !jm_prop_valid_date(json_string_value(v), type == JM_PT_UTCDATE)) {
            why = type == JM_PT_UTCDATE ? "not a UTCDate" : "not a Date";
        }
        break;
    case JM_PT_ID_MAP:
        return check_map(JM_PT_ID, v, path);
    case JM_PT_STRING_MAP:
        return check_map(JM_PT_STRING, v, path);
    case JM_PT_OBJECT:
        why = json_is_object(v) ? NULL : "not an object";
        break;
    case JM_PT_ARRAY:
        why = json_is_array(v) ? NULL : "not an array";
        break;
    case JM_PT_ANY:
        break;
    }
    if (why) {
        jm_path_invalid(path, NULL, why);
        return 0;
    }
    return 1;
}

int jm_prop_check(const jm_prop_t *prop, const json_t *v, jm_path_t *path)
{
    int good;

    jm_path_push(path, prop->name);
    if (json_is_null(v)) {
        good = (prop->flags & JM_PROP_NULLABLE) != 0;
        if (!good) {
            jm_path_invalid(path, NULL, "must not be null");
        }
    }
    else {
        good = jm_ptype_check(prop->type, v, path);
    }
    jm_path_pop(path);
    return good;
}

int jm_prop_parse_list(apr_hash_t **pwant, jm_call_t *call,
                       const jm_prop_t *table, jm_prop_name_fn *extra,
                       const json_t *v, const char *argname,
                       const char *type_name)
{
    apr_hash_t *want;
    json_t *e;
    size_t i;

    *pwant = NULL;
    if (!v || json_is_null(v)) {
        return 1;
    }
    if (!json_is_array(v)) {
        jm_call_error(call, "invalidArguments",
                      "\"%s\" must be an array of strings or null.", argname);
        return 0;
    }
    want = apr_hash_make(call->pool);
    json_array_foreach((json_t *)v, i, e) {
        if (!json_is_string(e)) {
            jm_call_error(call, "invalidArguments", "%s/%lu: not a string.",
                          argname, (unsigned long)i);
            return 0;
        }
        if (!jm_prop_find(table, json_string_value(e))
            && !(extra && extra(json_string_value(e), call->pool))) {
            jm_call_error(call, "invalidArguments", "%s/%lu: unknown %s property "
                          "\"%s\".", argname, (unsigned long)i, type_name,
                          json_string_value(e));
            return 0;
        }
        apr_hash_set(want, apr_pstrdup(call->pool, json_string_value(e)),
                     APR_HASH_KEY_STRING, "");
    }
    *pwant = want;
    return 1;
}

int jm_prop_wanted(const jm_prop_t *table, apr_hash_t *want, const char *name)
{
    const jm_prop_t *p = jm_prop_find(table, name);

    if (!p) {
        return 0;
    }
    if (p->flags & JM_PROP_ALWAYS_GET) {
        return 1;
    }
    return want ? apr_hash_get(want, name, APR_HASH_KEY_STRING) != NULL
                : (p->flags & JM_PROP_DEFAULT_GET) != 0;
}

json_t *jm_prop_project(const json_t *obj, const jm_prop_t *table,
                        apr_hash_t *want)
{
    json_t *out = json_object(), *v;
    const jm_prop_t *p;

    apr_hash_index_t *hi;

    for (p = table; p->name; p++) {
        if (jm_prop_wanted(table, want, p->name)
            && (v = json_object_get(obj, p->name)) != NULL) {
            json_object_set(out, p->name, v);
        }
    }
    /* names outside the table got into want only through the type's
     * jm_prop_name_fn */
    for (hi = want ? apr_hash_first(NULL, want) : NULL; hi; hi = apr_hash_next(hi)) {
        const char *name = apr_hash_this_key(hi);
        if (!jm_prop_find(table, name) && (v = json_object_get(obj, name)) != NULL) {
            json_object_set(out, name, v);
        }
    }
    return out;
}
