/* jansson glue: pool ownership and small typed readers. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "core/jm_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *jm_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

const char *jm_json_dump(const json_t *j, apr_pool_t *p)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *out;

    if (!s) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

int jm_json_opt_bool(const json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 if none. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    }
    else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

json_t *jm_json_text(const char *s)
{
    json_t *j;
    const unsigned char *c;
    char *out, *o;

    if (!s) {
        return json_string("");
    }
    if ((j = json_string(s)) != NULL) {
        return j;
    }
    o = out = malloc(strlen(s) * 3 + 1);
    if (!out) {
        return json_string("");
    }
    for (c = (const unsigned char *)s; *c;) {
        size_t n = utf8_seq(c);
        if (n) {
            memcpy(o, c, n);
            o += n;
            c += n;
        }
        else {
            memcpy(o, "\xef\xbf\xbd", 3);      /* U+FFFD */
            o += 3;
            c++;
        }
    }
    *o = '\0';
    j = json_string(out);
    free(out);
    return j ? j : json_string("");
}
