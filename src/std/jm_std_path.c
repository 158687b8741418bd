/* Argument paths and RFC 6901 pointer segments. */
#include <string.h>
#include <apr_strings.h>
#include "std/jm_std_path.h"

void jm_path_init(jm_path_t *path, apr_pool_t *pool)
{
    path->pool = pool;
    path->segs = apr_array_make(pool, 8, sizeof(const char *));
    path->invalid = apr_array_make(pool, 4, sizeof(const char *));
    path->why = NULL;
}

void jm_path_push(jm_path_t *path, const char *name)
{
    APR_ARRAY_PUSH(path->segs, const char *) = jm_pointer_escape(name, path->pool);
}

void jm_path_push_index(jm_path_t *path, size_t i)
{
    APR_ARRAY_PUSH(path->segs, const char *) =
        apr_psprintf(path->pool, "%lu", (unsigned long)i);
}

void jm_path_pop(jm_path_t *path)
{
    if (path->segs->nelts > 0) {
        path->segs->nelts--;
    }
}

const char *jm_path_str(const jm_path_t *path)
{
    const char *s = "";
    int i;

    for (i = 0; i < path->segs->nelts; i++) {
        s = apr_pstrcat(path->pool, s, i ? "/" : "",
                        APR_ARRAY_IDX(path->segs, i, const char *), NULL);
    }
    return s;
}

void jm_path_invalid_ptr(jm_path_t *path, const char *ptr, const char *why)
{
    const char *s = jm_path_str(path);
    int i;

    if (ptr) {
        s = apr_pstrcat(path->pool, s, *s ? "/" : "", ptr, NULL);
    }
    for (i = 0; i < path->invalid->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(path->invalid, i, const char *), s) == 0) {
            return;
        }
    }
    if (!path->invalid->nelts) {
        path->why = why;
    }
    APR_ARRAY_PUSH(path->invalid, const char *) = s;
}

void jm_path_invalid(jm_path_t *path, const char *name, const char *why)
{
    jm_path_invalid_ptr(path, name ? jm_pointer_escape(name, path->pool) : NULL, why);
}

int jm_path_nerrors(const jm_path_t *path)
{
    return path->invalid->nelts;
}

json_t *jm_path_invalid_json(const jm_path_t *path)
{
    json_t *a = json_array();
    int i;

    for (i = 0; i < path->invalid->nelts; i++) {
        json_array_append_new(a, jm_json_text(APR_ARRAY_IDX(path->invalid, i,
                                                            const char *)));
    }
    return a;
}

const char *jm_path_first(const jm_path_t *path)
{
    const char *s;

    if (!path->invalid->nelts) {
        return NULL;
    }
    s = APR_ARRAY_IDX(path->invalid, 0, const char *);
    return path->why ? apr_psprintf(path->pool, "%s (%s)", s, path->why) : s;
}

const char *jm_pointer_escape(const char *s, apr_pool_t *p)
{
    char *out, *o;

    if (!strpbrk(s, "~/")) {
        return s;
    }
    o = out = apr_palloc(p, strlen(s) * 2 + 1);
    for (; *s; s++) {
        if (*s == '~' || *s == '/') {
            *o++ = '~';
            *o++ = *s == '~' ? '0' : '1';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

apr_array_header_t *jm_pointer_split(const char *ptr, apr_pool_t *p)
{
    apr_array_header_t *segs = apr_array_make(p, 4, sizeof(const char *));
    char *seg = apr_palloc(p, strlen(ptr) + 1), *o = seg;

    for (;; ptr++) {
        if (*ptr == '/' || !*ptr) {
            *o = '\0';
            APR_ARRAY_PUSH(segs, const char *) = seg;
            if (!*ptr) {
                return segs;
            }
            seg = o + 1;    /* the buffer is long enough for all segments */
            o = seg;
        }
        else if (*ptr == '~') {
            if (ptr[1] != '0' && ptr[1] != '1') {
                return NULL;
            }
            *o++ = ptr[1] == '0' ? '~' : '/';
            ptr++;
        }
        else {
            *o++ = *ptr;
        }
    }
}
