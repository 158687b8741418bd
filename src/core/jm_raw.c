/* Raw JSON fragments in a response (see jm_raw.h); jm_raw_size_bounded
 * is in jm_budget.c, next to the size it extends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "core/jm_raw.h"

typedef struct {
    json_t *v;                  /* the stand-in (a reference held); also the key */
    const char *text;
    apr_size_t len;
} raw_entry_t;

struct jm_raw_t {
    apr_pool_t *pool;
    apr_hash_t *map;            /* json_t* (as bytes) -> raw_entry_t* */
    int count;
};

static apr_status_t entry_cleanup(void *data)
{
    json_decref(((raw_entry_t *)data)->v);
    return APR_SUCCESS;
}

jm_raw_t *jm_raw_make(apr_pool_t *p)
{
    jm_raw_t *raw = apr_pcalloc(p, sizeof(*raw));

    raw->pool = p;
    raw->map = apr_hash_make(p);
    return raw;
}

json_t *jm_raw_add(jm_raw_t *raw, json_t *stand_in, const char *text,
                   apr_size_t len)
{
    raw_entry_t *e;

    if (!stand_in) {
        return NULL;
    }
    e = apr_palloc(raw->pool, sizeof(*e));
    e->v = json_incref(stand_in);
    e->text = text;
    e->len = len;
    apr_pool_cleanup_register(raw->pool, e, entry_cleanup, apr_pool_cleanup_null);
    apr_hash_set(raw->map, &e->v, sizeof(e->v), e);
    raw->count++;
    return stand_in;
}

static raw_entry_t *entry_of(const jm_raw_t *raw, const json_t *v)
{
    if (!raw || !raw->count || !v
        || (!json_is_object(v) && !json_is_array(v) && !json_is_string(v))) {
        return NULL;
    }
    return apr_hash_get(raw->map, &v, sizeof(v));
}

const char *jm_raw_text(const jm_raw_t *raw, const json_t *v, apr_size_t *plen)
{
    raw_entry_t *e = entry_of(raw, v);

    if (!e) {
        return NULL;
    }
    if (plen) {
        *plen = e->len;
    }
    return e->text;
}

int jm_raw_count(const jm_raw_t *raw)
{
    return raw ? raw->count : 0;
}

/* The parsed value for e, and e forgotten; NULL if its text does not parse. */
static json_t *resolve_entry(jm_raw_t *raw, raw_entry_t *e)
{
    json_t *v = json_loadb(e->text, e->len, JSON_DECODE_ANY, NULL);

    if (v) {
        apr_hash_set(raw->map, &e->v, sizeof(e->v), NULL);
        raw->count--;           /* the reference goes with the pool */
    }
    return v;
}

static int resolve(jm_raw_t *raw, json_t *tree);

/* One member of a tree: a stand-in parsed into *pnew (to be put in its
 * place), or anything else resolved inside (*pnew NULL); -1 if a text
 * does not parse. */
static int resolve_child(json_t **pnew, jm_raw_t *raw, json_t *v)
{
    raw_entry_t *e = entry_of(raw, v);

    *pnew = NULL;
    if (!e) {
        return resolve(raw, v);
    }
    return (*pnew = resolve_entry(raw, e)) != NULL ? 0 : -1;
}

static int resolve(jm_raw_t *raw, json_t *tree)
{
    json_t *v, *parsed;
    const char *k;
    size_t i;
    void *tmp;
    int rc = 0;

    if (json_is_array(tree)) {
        json_array_foreach(tree, i, v) {
            if (!raw->count) {
                break;
            }
            if (resolve_child(&parsed, raw, v) != 0) {
                rc = -1;
            }
            else if (parsed) {
                json_array_set_new(tree, i, parsed);
            }
        }
    }
    else if (json_is_object(tree)) {
        json_object_foreach_safe(tree, tmp, k, v) {
            if (!raw->count) {
                break;
            }
            if (resolve_child(&parsed, raw, v) != 0) {
                rc = -1;
            }
            else if (parsed) {
                json_object_set_new(tree, k, parsed);
            }
        }
    }
    return rc;
}

int jm_raw_resolve(jm_raw_t *raw, json_t *tree)
{
    return raw && raw->count ? resolve(raw, tree) : 0;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    char *b;
    apr_size_t n, cap;
    int failed;
} buf_t;

static apr_status_t buf_cleanup(void *data)
{
    free(((buf_t *)data)->b);
    return APR_SUCCESS;
}

static void put(buf_t *b, const char *s, apr_size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->n + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 4096;
        char *nb;

        while (cap < b->n + n + 1) {
            cap *= 2;
        }
        if (!(nb = realloc(b->b, cap))) {
            b->failed = 1;
            return;
        }
        b->b = nb;
        b->cap = cap;
    }
    memcpy(b->b + b->n, s, n);
    b->n += n;
    b->b[b->n] = '\0';
}

static int put_cb(const char *s, size_t n, void *data)
{
    put(data, s, n);
    return ((buf_t *)data)->failed ? -1 : 0;
}

char *jm_raw_quote(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    *out++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c >= 0x20 && c != '"' && c != '\\') {
            *out++ = (char)c;
            continue;
        }
        *out++ = '\\';
        switch (c) {
        case '"':  *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            /* other controls as \u00XX, upper-case hex as jansson */
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    *out++ = '"';
    return out;
}

/* A member name as jansson writes it (JSON_COMPACT). */
static void put_name(buf_t *b, const char *s)
{
    apr_size_t n = strlen(s);
    char small[256], *q = 6 * n + 2 <= sizeof(small) ? small : malloc(6 * n + 2);

    if (!q) {
        b->failed = 1;
        return;
    }
    put(b, q, (apr_size_t)(jm_raw_quote(q, s) - q));
    if (q != small) {
        free(q);
    }
}

static void write_value(buf_t *b, const jm_raw_t *raw, const json_t *j)
{
    raw_entry_t *e;
    const char *k;
    json_t *v;
    size_t i;

    if ((e = entry_of(raw, j)) != NULL) {
        put(b, e->text, e->len);
        return;
    }
    if (json_is_object(j)) {
        put(b, "{", 1);
        i = 0;
        json_object_foreach((json_t *)j, k, v) {
            if (i++) {
                put(b, ",", 1);
            }
            put_name(b, k);
            put(b, ":", 1);
            write_value(b, raw, v);
        }
        put(b, "}", 1);
    }
    else if (json_is_array(j)) {
        put(b, "[", 1);
        json_array_foreach((json_t *)j, i, v) {
            if (i) {
                put(b, ",", 1);
            }
            write_value(b, raw, v);
        }
        put(b, "]", 1);
    }
    else if (json_dump_callback(j, put_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        b->failed = 1;
    }
}

const char *jm_raw_dump(const jm_raw_t *raw, const json_t *j,
                        apr_size_t *plen, apr_pool_t *p)
{
    buf_t *b = apr_pcalloc(p, sizeof(*b));

    apr_pool_cleanup_register(p, b, buf_cleanup, apr_pool_cleanup_null);
    *plen = 0;
    if (!j) {
        return NULL;
    }
    if (!jm_raw_count(raw)) {
        /* nothing raw: jansson writes it all */
        if (json_dump_callback(j, put_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
            b->failed = 1;
        }
    }
    else {
        write_value(b, raw, j);
    }
    if (b->failed || !b->b) {
        return NULL;
    }
    *plen = b->n;
    return b->b;
}
