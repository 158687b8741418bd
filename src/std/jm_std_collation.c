/* Collations: i;unicode-casemap, i;ascii-casemap, i;ascii-numeric,
 * i;octet. GLib comes with GMime. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <glib.h>
#include "std/jm_std_collation.h"

const char *const jm_collation_names[] = {
    "i;unicode-casemap", "i;ascii-casemap", "i;ascii-numeric", "i;octet", NULL
};

int jm_collation_find(const char *name, jm_collation_t *pc)
{
    int i;

    for (i = 0; jm_collation_names[i]; i++) {
        if (name && strcmp(name, jm_collation_names[i]) == 0) {
            *pc = (jm_collation_t)i;
            return 1;
        }
    }
    return 0;
}

/* RFC 4790 §9.1: the leading digits as a number; no leading digit is
 * positive infinity, and all such strings are equal. */
static int ascii_numeric(const char *a, const char *b)
{
    size_t la, lb;
    int ia = !!apr_isdigit(*a), ib = !!apr_isdigit(*b), c;

    if (!ia || !ib) {
        return ia == ib ? 0 : ia ? -1 : 1;
    }
    while (*a == '0' && apr_isdigit(a[1])) {
        a++;
    }
    while (*b == '0' && apr_isdigit(b[1])) {
        b++;
    }
    for (la = 0; apr_isdigit(a[la]); la++)
        ;
    for (lb = 0; apr_isdigit(b[lb]); lb++)
        ;
    if (la != lb) {
        return la < lb ? -1 : 1;
    }
    c = memcmp(a, b, la);
    return c < 0 ? -1 : c > 0;
}

/* RFC 4790 §9.2: octets after mapping a-z to A-Z. */
static int ascii_casemap(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

    for (;; x++, y++) {
        int cx = apr_toupper(*x), cy = apr_toupper(*y);
        if (*x > 0x7f) {
            cx = *x;
        }
        if (*y > 0x7f) {
            cy = *y;
        }
        if (cx != cy || !cx) {
            return cx < cy ? -1 : cx > cy;
        }
    }
}

static apr_status_t gfree_cleanup(void *data)
{
    g_free(data);
    return APR_SUCCESS;
}

const char *jm_collation_unicode_key(const char *s, apr_pool_t *p)
{
    gchar *folded, *key;

    if (!g_utf8_validate(s, -1, NULL)) {
        return s;
    }
    folded = g_utf8_casefold(s, -1);
    key = g_utf8_normalize(folded, -1, G_NORMALIZE_NFKD);
    g_free(folded);
    if (!key) {
        return s;
    }
    apr_pool_cleanup_register(p, key, gfree_cleanup, apr_pool_cleanup_null);
    return key;
}

static int unicode_casemap(const char *a, const char *b)
{
    gchar *fa, *fb, *ka, *kb;
    int c;

    if (!g_utf8_validate(a, -1, NULL) || !g_utf8_validate(b, -1, NULL)) {
        c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
    }
    fa = g_utf8_casefold(a, -1);
    fb = g_utf8_casefold(b, -1);
    ka = g_utf8_normalize(fa, -1, G_NORMALIZE_NFKD);
    kb = g_utf8_normalize(fb, -1, G_NORMALIZE_NFKD);
    /* UTF-8 octet order is code point order */
    c = strcmp(ka ? ka : fa, kb ? kb : fb);
    g_free(fa);
    g_free(fb);
    g_free(ka);
    g_free(kb);
    return c < 0 ? -1 : c > 0;
}

int jm_collation_compare(jm_collation_t c, const char *a, const char *b)
{
    int r;

    switch (c) {
    case JM_COLL_ASCII_NUMERIC:
        return ascii_numeric(a, b);
    case JM_COLL_ASCII_CASEMAP:
        return ascii_casemap(a, b);
    case JM_COLL_UNICODE_CASEMAP:
        return unicode_casemap(a, b);
    case JM_COLL_OCTET:
    default:
        r = strcmp(a, b);
        return r < 0 ? -1 : r > 0;
    }
}
