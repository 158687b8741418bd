/* jm_sql_fold: translate() of the FOLD_FROM/FOLD_TO table in C. */
#include <string.h>
#include "store/sql/jm_sql_fold.h"

/* The code point of the UTF-8 sequence at s (*plen its length); -1 and
 * length 1 for a byte that does not start a well-formed sequence. */
static long utf8_at(const unsigned char *s, int *plen)
{
    long cp;
    int n, i;

    if (s[0] < 0x80) {
        *plen = 1;
        return s[0];
    }
    n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    *plen = 1;
    if (!n) {
        return -1;
    }
    cp = s[0] & (0x7F >> n);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *plen = n;
    return cp;
}

/* The ASCII letter FOLD_FROM maps cp to, or 0. A linear walk, for the
 * characters of the table's two blocks only (jm_sql_fold.h): text in other
 * scripts (Cyrillic, CJK ...) costs no walk at all. */
static char fold_of(long cp)
{
    static const char from[] = FOLD_FROM, to[] = FOLD_TO;
    const unsigned char *f = (const unsigned char *)from;
    int i = 0, len;

    if (!((cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x1E00 && cp <= 0x1EFF))) {
        return 0;
    }
    while (*f) {
        if (utf8_at(f, &len) == cp) {
            return to[i];
        }
        f += len;
        i++;
    }
    return 0;
}

const char *jm_sql_fold(const char *s, apr_pool_t *p)
{
    const unsigned char *in = (const unsigned char *)s;
    char *out, *o;
    int len;

    if (!s) {
        return NULL;
    }
    /* a fold is never longer than its input */
    o = out = apr_palloc(p, strlen(s) + 1);
    while (*in) {
        long cp = utf8_at(in, &len);
        char c;

        if (cp >= 0 && cp < 0x80) {
            *o++ = strchr(JM_SQL_FOLD_SEPARATORS, (int)cp) ? ' ' : (char)cp;
        }
        else if (cp >= 0 && (c = fold_of(cp))) {
            *o++ = c;
        }
        else {
            memcpy(o, in, (size_t)len);
            o += len;
        }
        in += len;
    }
    *o = '\0';
    return out;
}
