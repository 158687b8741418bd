/* Bounded JSON scanner (see jm_json_scan.h): recursive descent over the
 * grammar of RFC 8259, recursion bounded by the caller's depth. */
#include <string.h>
#include "core/jm_json_scan.h"

typedef struct {
    const unsigned char *s;
    apr_size_t i, n;
} scan_t;

static void ws(scan_t *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'
                             || sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r')) {
        sc->i++;
    }
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), 0 if none. */
static apr_size_t utf8_seq(const unsigned char *s, apr_size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    apr_size_t k, i;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        k = 2;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        k = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        k = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    }
    else {
        return 0;
    }
    if (n < k || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < k; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return k;
}

/* Four hex digits at s[i..]; -1 if not. */
static long hex4(const scan_t *sc, apr_size_t i)
{
    long v = 0;
    int k;

    if (i + 4 > sc->n) {
        return -1;
    }
    for (k = 0; k < 4; k++) {
        unsigned char c = sc->s[i + k];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        }
        else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        }
        else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        }
        else {
            return -1;
        }
    }
    return v;
}

/* A string at sc->i (on its opening quote); *pescaped: it has an escape. */
static int string(scan_t *sc, int *pescaped)
{
    *pescaped = 0;
    sc->i++;
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        apr_size_t k;
        long u, lo;

        if (c == '"') {
            sc->i++;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c < 0x80 && c != '\\') {
            sc->i++;
            continue;
        }
        if (c >= 0x80) {
            if (!(k = utf8_seq(sc->s + sc->i, sc->n - sc->i))) {
                return -1;
            }
            sc->i += k;
            continue;
        }
        *pescaped = 1;
        if (sc->i + 1 >= sc->n) {
            return -1;
        }
        c = sc->s[sc->i + 1];
        if (strchr("\"\\/bfnrt", c) && c) {
            sc->i += 2;
            continue;
        }
        if (c != 'u' || (u = hex4(sc, sc->i + 2)) < 0 || u == 0) {
            return -1;
        }
        sc->i += 6;
        if (u >= 0xdc00 && u <= 0xdfff) {
            return -1;                      /* a low surrogate alone */
        }
        if (u >= 0xd800 && u <= 0xdbff) {
            if (sc->i + 2 > sc->n || sc->s[sc->i] != '\\' || sc->s[sc->i + 1] != 'u'
                || (lo = hex4(sc, sc->i + 2)) < 0xdc00 || lo > 0xdfff) {
                return -1;
            }
            sc->i += 6;
        }
    }
    return -1;
}

/* -?(0|[1-9][0-9]*) with at most 18 digits: always a json_int_t. */
static int number(scan_t *sc)
{
    apr_size_t start;

    if (sc->s[sc->i] == '-') {
        sc->i++;
    }
    start = sc->i;
    while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') {
        sc->i++;
    }
    if (sc->i == start || sc->i - start > 18
        || (sc->s[start] == '0' && sc->i - start > 1)) {
        return -1;
    }
    if (sc->i < sc->n && (sc->s[sc->i] == '.' || sc->s[sc->i] == 'e'
                          || sc->s[sc->i] == 'E')) {
        return -1;                          /* a real: refused */
    }
    return 0;
}

static int literal(scan_t *sc, const char *word)
{
    apr_size_t k = strlen(word);

    if (sc->n - sc->i < k || memcmp(sc->s + sc->i, word, k) != 0) {
        return -1;
    }
    sc->i += k;
    return 0;
}

static int value(scan_t *sc, int depth);

/* An object or array at sc->i; depth counts this one. With out, the
 * members of this object (names without escapes, each once). */
static int container(scan_t *sc, int depth, jm_json_member_t *out, int max,
                     int *pn)
{
    int obj = sc->s[sc->i] == '{', count = 0, esc, j;
    unsigned char close = obj ? '}' : ']';

    if (depth <= 0) {
        return -1;
    }
    sc->i++;
    ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        if (pn) {
            *pn = 0;
        }
        return 0;
    }
    for (;;) {
        apr_size_t name = 0, name_len = 0, vstart;

        if (obj) {
            if (sc->i >= sc->n || sc->s[sc->i] != '"') {
                return -1;
            }
            name = sc->i + 1;
            if (string(sc, &esc) != 0) {
                return -1;
            }
            name_len = sc->i - 1 - name;
            ws(sc);
            if (sc->i >= sc->n || sc->s[sc->i] != ':') {
                return -1;
            }
            sc->i++;
            ws(sc);
            if (out && esc) {
                return -1;
            }
        }
        vstart = sc->i;
        if (value(sc, depth - 1) != 0) {
            return -1;
        }
        if (out) {
            if (count >= max) {
                return -1;
            }
            for (j = 0; j < count; j++) {
                if (out[j].name_len == name_len
                    && memcmp(out[j].name, sc->s + name, name_len) == 0) {
                    return -1;
                }
            }
            out[count].name = (const char *)sc->s + name;
            out[count].name_len = name_len;
            out[count].value = (const char *)sc->s + vstart;
            out[count].value_len = sc->i - vstart;
        }
        count++;
        ws(sc);
        if (sc->i >= sc->n) {
            return -1;
        }
        if (sc->s[sc->i] == close) {
            sc->i++;
            if (pn) {
                *pn = count;
            }
            return 0;
        }
        if (sc->s[sc->i] != ',') {
            return -1;
        }
        sc->i++;
        ws(sc);
    }
}

/* One value at sc->i (no whitespace before it); depth: the nesting it
 * may still open. */
static int value(scan_t *sc, int depth)
{
    int esc;

    if (sc->i >= sc->n) {
        return -1;
    }
    switch (sc->s[sc->i]) {
    case '{':
    case '[':
        return container(sc, depth, NULL, 0, NULL);
    case '"':
        return string(sc, &esc);
    case 't':
        return literal(sc, "true");
    case 'f':
        return literal(sc, "false");
    case 'n':
        return literal(sc, "null");
    default:
        if (sc->s[sc->i] == '-' || (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')) {
            return number(sc);
        }
        return -1;
    }
}

int jm_json_scan_value(const char *text, apr_size_t len, int max_depth)
{
    scan_t sc = { (const unsigned char *)text, 0, len };

    if (!text) {
        return -1;
    }
    ws(&sc);
    if (value(&sc, max_depth) != 0) {
        return -1;
    }
    ws(&sc);
    return sc.i == sc.n ? 0 : -1;
}

int jm_json_scan_members(const char *text, apr_size_t len, int max_depth,
                         jm_json_member_t *out, int max, int *pn)
{
    scan_t sc = { (const unsigned char *)text, 0, len };

    *pn = 0;
    if (!text) {
        return -1;
    }
    ws(&sc);
    if (sc.i >= sc.n || sc.s[sc.i] != '{'
        || container(&sc, max_depth, out, max, pn) != 0) {
        *pn = 0;
        return -1;
    }
    ws(&sc);
    if (sc.i != sc.n) {
        *pn = 0;
        return -1;
    }
    return 0;
}

const jm_json_member_t *jm_json_member_find(const jm_json_member_t *m, int n,
                                            const char *name)
{
    apr_size_t k = strlen(name);
    int i;

    for (i = 0; i < n; i++) {
        if (m[i].name_len == k && memcmp(m[i].name, name, k) == 0) {
            return &m[i];
        }
    }
    return NULL;
}
