/* /set: creation id references and PatchObjects (RFC 8620 §5.3). */
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_patch.h"
#include "core/jm_util.h"

const char *jm_refs_id(jm_refs_t *r, const char *s)
{
    if (s && s[0] == '#' && r->pending
        && apr_hash_get(r->pending, s + 1, APR_HASH_KEY_STRING)) {
        /* §5.3: creates are ordered so a reference follows its target */
        r->deferred = 1;
        return NULL;
    }
    return jm_call_resolve_id(r->call, s);
}

json_t *jm_refs_value(jm_refs_t *r, const jm_prop_t *prop, json_t *v,
                      jm_path_t *path)
{
    const char *k, *id;
    json_t *out, *e;

    if (prop->type == JM_PT_ID && json_is_string(v)) {
        if (!(id = jm_refs_id(r, json_string_value(v)))) {
            jm_path_invalid(path, prop->name, "unknown creation id");
            return json_incref(v);
        }
        return json_string(id);
    }
    if (prop->type != JM_PT_ID_MAP || !json_is_object(v)) {
        return json_incref(v);
    }
    out = json_object();
    json_object_foreach(v, k, e) {
        if (!(id = jm_refs_id(r, k))) {
            jm_path_push(path, prop->name);
            jm_path_invalid(path, k, "unknown creation id");
            jm_path_pop(path);
            id = k;
        }
        json_object_set(out, id, e);
    }
    return out;
}

/* The value at the decoded segments in obj, or NULL. */
static json_t *lookup(const json_t *obj, apr_array_header_t *segs)
{
    json_t *v = (json_t *)obj;
    int i;

    for (i = 0; v && i < segs->nelts; i++) {
        v = json_is_object(v) ? json_object_get(v, APR_ARRAY_IDX(segs, i, const char *))
                              : NULL;
    }
    return v;
}

/* Whether a server-set or immutable property may appear in the patch:
 * only with the value it has (§5.3). */
static int unchanged(const json_t *current, const char *id,
                     apr_array_header_t *segs, const json_t *v)
{
    json_t *cur;

    if (current) {
        cur = lookup(current, segs);
        return cur ? json_equal(cur, (json_t *)v) : 0;
    }
    return segs->nelts == 1 && strcmp(APR_ARRAY_IDX(segs, 0, const char *), "id") == 0
        && json_is_string(v) && strcmp(json_string_value(v), id) == 0;
}

static const char *join(apr_array_header_t *segs, int n, apr_pool_t *p)
{
    const char *s = "";
    int i;

    for (i = 0; i < n; i++) {
        s = apr_pstrcat(p, s, i ? "/" : "",
                        jm_pointer_escape(APR_ARRAY_IDX(segs, i, const char *), p), NULL);
    }
    return s;
}

/* One patch entry below the top level: maps take one more segment
 * (an Id, or any key for String maps) with true or null; objects take any
 * path; arrays and scalars none (§5.3: no pointer inside an array). */
static jm_patch_status_t check_deep(jm_refs_t *r, const jm_prop_t *prop,
                                    apr_array_header_t *segs, const json_t *v,
                                    const char *key, jm_path_t *path,
                                    const char **pwhy)
{
    const char **mkey = &APR_ARRAY_IDX(segs, 1, const char *);

    switch (prop->type) {
    case JM_PT_ID_MAP:
    case JM_PT_STRING_MAP:
        if (segs->nelts > 2) {
            *pwhy = apr_psprintf(r->call->pool, "\"%s\" goes inside a map value", key);
            return JM_PATCH_INVALID_PATCH;
        }
        if (prop->type == JM_PT_ID_MAP) {
            const char *id = jm_refs_id(r, *mkey);
            if (!id || !jm_util_is_valid_id(id)) {
                jm_path_invalid_ptr(path, key, id ? "not an Id" : "unknown creation id");
                return JM_PATCH_OK;
            }
            *mkey = id;
        }
        else if (!**mkey) {
            jm_path_invalid_ptr(path, key, "empty key");
            return JM_PATCH_OK;
        }
        if (!json_is_true(v) && !json_is_null(v)) {
            jm_path_invalid_ptr(path, key, "the value must be true or null");
        }
        return JM_PATCH_OK;
    case JM_PT_OBJECT:
    case JM_PT_ANY:
        return JM_PATCH_OK;
    case JM_PT_ARRAY:
        *pwhy = apr_psprintf(r->call->pool, "\"%s\" points inside an array", key);
        return JM_PATCH_INVALID_PATCH;
    default:
        *pwhy = apr_psprintf(r->call->pool, "\"%s\" goes through a value that "
                             "is no object", key);
        return JM_PATCH_INVALID_PATCH;
    }
}

jm_patch_status_t jm_patch_check(json_t **presolved, jm_refs_t *r,
                                 const jm_prop_t *table, const char *id,
                                 const json_t *patch, const json_t *current,
                                 jm_path_t *path, const char **pwhy)
{
    apr_pool_t *p = r->call->pool;
    apr_hash_t *seen = apr_hash_make(p);
    json_t *out = json_object(), *v;
    apr_array_header_t *all = apr_array_make(p, 8, sizeof(const char *));
    jm_patch_status_t st = JM_PATCH_OK;
    const char *key;
    int i, n;

    *presolved = NULL;
    *pwhy = NULL;
    json_object_foreach((json_t *)patch, key, v) {
        apr_array_header_t *segs = jm_pointer_split(key, p);
        const jm_prop_t *prop;
        const char *rkey;
        json_t *rv;

        if (!segs) {
            *pwhy = apr_psprintf(p, "\"%s\" has a \"~\" not followed by 0 or 1", key);
            st = JM_PATCH_INVALID_PATCH;
            break;
        }
        if (!(prop = jm_prop_find(table, APR_ARRAY_IDX(segs, 0, const char *)))) {
            jm_path_invalid_ptr(path, key, "unknown property");
            continue;
        }
        if (segs->nelts > 1
            && (st = check_deep(r, prop, segs, v, key, path, pwhy)) != JM_PATCH_OK) {
            break;
        }
        if ((prop->flags & (JM_PROP_SERVER_SET | JM_PROP_IMMUTABLE))
            && !unchanged(current, id, segs, v)) {
            jm_path_invalid_ptr(path, key, prop->flags & JM_PROP_SERVER_SET
                            ? "server-set" : "immutable");
            continue;
        }
        if (segs->nelts == 1) {
            rv = jm_refs_value(r, prop, v, path);
            /* null resets a property to its default (§5.3): the type's */
            if (!json_is_null(rv)) {
                jm_prop_check(prop, rv, path);
            }
        }
        else {
            rv = json_incref(v);
        }
        rkey = join(segs, segs->nelts, p);
        if (apr_hash_get(seen, rkey, APR_HASH_KEY_STRING)) {
            json_decref(rv);
            *pwhy = apr_psprintf(p, "\"%s\" is patched twice", rkey);
            st = JM_PATCH_INVALID_PATCH;
            break;
        }
        apr_hash_set(seen, rkey, APR_HASH_KEY_STRING, segs);
        APR_ARRAY_PUSH(all, const char *) = rkey;
        json_object_set_new(out, rkey, rv);
    }
    /* §5.3: no pointer may be a prefix of another */
    for (i = 0; st == JM_PATCH_OK && i < all->nelts; i++) {
        const char *k = APR_ARRAY_IDX(all, i, const char *);
        apr_array_header_t *segs = apr_hash_get(seen, k, APR_HASH_KEY_STRING);
        for (n = 1; n < segs->nelts; n++) {
            const char *pre = join(segs, n, p);
            if (apr_hash_get(seen, pre, APR_HASH_KEY_STRING)) {
                *pwhy = apr_psprintf(p, "\"%s\" and \"%s\" overlap", pre, k);
                st = JM_PATCH_INVALID_PATCH;
                break;
            }
        }
    }
    if (st == JM_PATCH_OK && current) {
        json_t *applied = jm_patch_apply(current, out, pwhy, p);
        if (!applied) {
            st = JM_PATCH_INVALID_PATCH;
        }
        json_decref(applied);
    }
    if (st == JM_PATCH_OK && jm_path_nerrors(path)) {
        st = JM_PATCH_INVALID_PROPS;
    }
    if (st != JM_PATCH_OK) {
        json_decref(out);
        return st;
    }
    *presolved = out;
    return JM_PATCH_OK;
}

json_t *jm_patch_apply(const json_t *current, const json_t *patch,
                       const char **pwhy, apr_pool_t *p)
{
    json_t *out = json_deep_copy(current), *v;
    const char *key;

    json_object_foreach((json_t *)patch, key, v) {
        apr_array_header_t *segs = jm_pointer_split(key, p);
        json_t *parent = out;
        const char *last;
        int i;

        for (i = 0; segs && i < segs->nelts - 1; i++) {
            parent = json_object_get(parent, APR_ARRAY_IDX(segs, i, const char *));
            if (!json_is_object(parent)) {
                *pwhy = apr_psprintf(p, "\"%s\": %s", key, !parent
                    ? "a part before the last is missing"
                    : json_is_array(parent) ? "it points inside an array"
                    : "it goes through a value that is no object");
                json_decref(out);
                return NULL;
            }
        }
        if (!segs) {
            *pwhy = apr_psprintf(p, "\"%s\" is not a valid pointer", key);
            json_decref(out);
            return NULL;
        }
        last = APR_ARRAY_IDX(segs, segs->nelts - 1, const char *);
        if (json_is_null(v) && segs->nelts > 1) {
            json_object_del(parent, last);     /* absent: a no-op (§5.3) */
        }
        else {
            json_object_set(parent, last, v);
        }
    }
    return out;
}
