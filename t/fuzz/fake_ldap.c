/* The jm_ldap API (src/directory/jm_ldap.h) answered from memory, for the fuzz
 * targets: linked instead of src/directory/jm_ldap.c, so jm_certdir runs unchanged
 * against a directory whose values the harness decides (fixed entries, or
 * the fuzzer's bytes). URL/filter checks and the RFC 4515 escaping are
 * src/directory/jm_ldap_filter.c's own; only the network part is replaced by
 * fz_ldap_backend.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <ldap.h>

#include "fuzz_common.h"

struct jm_ldap_t {
    jm_ldap_conf_t conf;
    unsigned long searches;
};

fz_ldap_backend_fn *fz_ldap_backend = fz_dir_default;
unsigned long fz_ldap_searches;

apr_status_t jm_ldap_create(jm_ldap_t **pld, const jm_ldap_conf_t *conf,
                            apr_pool_t *p)
{
    jm_ldap_t *ld;

    if (!conf || !jm_ldap_url_ok(conf->url) || conf->timeout <= 0) {
        return APR_EINVAL;
    }
    ld = apr_pcalloc(p, sizeof(*ld));
    ld->conf = *conf;
    ld->conf.url = apr_pstrdup(p, conf->url);
    *pld = ld;
    return APR_SUCCESS;
}

const char *jm_ldap_url(const jm_ldap_t *ld)
{
    return ld->conf.url ? ld->conf.url : "ldap://in-memory.invalid";
}

void jm_ldap_counters(const jm_ldap_t *ld, unsigned long *psearches,
                      unsigned long *preconnects)
{
    if (psearches) {
        *psearches = ld->searches;
    }
    if (preconnects) {
        *preconnects = 0;
    }
}

/* The bounds of jm_ldap_search_opts_t, applied to what the in-memory
 * backend returns as the real client applies them to what the server
 * sends: entries past sizelimit dropped, values past max_values dropped
 * (counted), values longer than max_value_len with data NULL. */
static void apply_bounds(apr_array_header_t *entries, const jm_ldap_search_opts_t *o)
{
    int i, j, k;

    if (!o) {
        return;
    }
    if (o->sizelimit > 0 && entries->nelts > o->sizelimit) {
        entries->nelts = o->sizelimit;
    }
    for (i = 0; i < entries->nelts; i++) {
        jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, i, jm_ldap_entry_t);
        for (j = 0; e->attrs && j < e->attrs->nelts; j++) {
            jm_ldap_attr_t *a = &APR_ARRAY_IDX(e->attrs, j, jm_ldap_attr_t);
            if (o->max_values > 0 && a->values->nelts > o->max_values) {
                a->dropped += a->values->nelts - o->max_values;
                a->values->nelts = o->max_values;
            }
            for (k = 0; o->max_value_len && k < a->values->nelts; k++) {
                jm_ldap_value_t *v = &APR_ARRAY_IDX(a->values, k, jm_ldap_value_t);
                if (v->len > o->max_value_len) {
                    v->data = NULL;
                }
            }
        }
    }
}

apr_status_t jm_ldap_search(apr_array_header_t **pentries, jm_ldap_t *ld,
                            const char *base, int scope, const char *filter,
                            const char *const *attrs,
                            const jm_ldap_search_opts_t *opts,
                            const char **perr, apr_pool_t *p)
{
    apr_status_t rv;

    (void)scope;
    *perr = NULL;
    ++ld->searches;
    ++fz_ldap_searches;
    *pentries = NULL;
    rv = fz_ldap_backend(pentries, base, filter, attrs, perr, p);
    if (rv == APR_SUCCESS && !*pentries) {
        *pentries = apr_array_make(p, 1, sizeof(jm_ldap_entry_t));
    }
    if (rv == APR_SUCCESS) {
        apply_bounds(*pentries, opts);
    }
    if (rv != APR_SUCCESS && !*perr) {
        *perr = "in-memory directory: down";
    }
    return rv;
}

/* ---- building answers ---------------------------------------------------- */

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

jm_ldap_entry_t *fz_entry_add(apr_array_header_t *entries, const char *dn,
                              apr_pool_t *p)
{
    jm_ldap_entry_t *e = apr_array_push(entries);

    e->dn = apr_pstrdup(p, dn);
    e->attrs = apr_array_make(p, 2, sizeof(jm_ldap_attr_t));
    return e;
}

void fz_value_add(jm_ldap_entry_t *e, const char *attr, const void *data,
                  size_t len, apr_pool_t *p)
{
    jm_ldap_attr_t *a = NULL;
    jm_ldap_value_t *v;
    unsigned char *copy;
    int i;

    for (i = 0; i < e->attrs->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(e->attrs, i, jm_ldap_attr_t).name, attr)) {
            a = &APR_ARRAY_IDX(e->attrs, i, jm_ldap_attr_t);
        }
    }
    if (!a) {
        a = apr_array_push(e->attrs);
        a->name = apr_pstrdup(p, attr);
        a->values = apr_array_make(p, 1, sizeof(jm_ldap_value_t));
    }
    /* exactly len + 1 bytes of heap, like the NUL-terminated copy of the
     * real client: an over-read is visible to AddressSanitizer */
    copy = malloc(len + 1);
    if (!copy) {
        fz_die("out of memory");
    }
    if (len) {
        memcpy(copy, data, len);
    }
    copy[len] = '\0';
    apr_pool_cleanup_register(p, copy, free_cleanup, apr_pool_cleanup_null);
    v = apr_array_push(a->values);
    v->data = copy;
    v->len = len;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

const char *fz_filter_value(const char *filter, const char *attr, apr_pool_t *p)
{
    size_t an = strlen(attr), n = strlen(filter), i;
    char *out, *o;

    if (n < an + 3 || filter[0] != '(' || strncasecmp(filter + 1, attr, an)
        || filter[an + 1] != '=' || filter[n - 1] != ')') {
        return NULL;
    }
    o = out = apr_palloc(p, n);
    for (i = an + 2; i < n - 1; ++i) {
        if (filter[i] == '\\' && i + 2 < n - 1 && hexval(filter[i + 1]) >= 0
            && hexval(filter[i + 2]) >= 0) {
            *o++ = (char)(hexval(filter[i + 1]) * 16 + hexval(filter[i + 2]));
            i += 2;
        }
        else if (strchr("()*\\", filter[i])) {
            return NULL;        /* an unescaped metacharacter: not a match filter */
        }
        else {
            *o++ = filter[i];
        }
    }
    *o = '\0';
    return out;
}
