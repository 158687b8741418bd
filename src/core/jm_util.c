/* Ids, dates, base64, digests. */
#include <string.h>
#include <ctype.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include "core/jm_util.h"

const char *jm_util_new_id(char prefix, apr_pool_t *p)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[24];
    char *id = apr_palloc(p, sizeof(rnd) + 2);
    apr_size_t i;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        /* apr's generator is the fallback; ids must never repeat */
        apr_generate_random_bytes(rnd, sizeof(rnd));
    }
    id[0] = prefix;
    for (i = 0; i < sizeof(rnd); i++) {
        id[i + 1] = alphabet[rnd[i] & 31];
    }
    id[sizeof(rnd) + 1] = '\0';
    return id;
}

int jm_util_is_valid_id(const char *s)
{
    apr_size_t n = 0;

    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++, n++) {
        if (!(apr_isalnum(*s) || *s == '-' || *s == '_') || n >= 255) {
            return 0;
        }
    }
    return 1;
}

const char *jm_util_utcdate(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
}

/* RFC 3339 date-time as restricted by RFC 8620 §1.4: upper-case T and Z,
 * no fractional seconds of zero, offsets for Date, "Z" only for UTCDate. */
int jm_util_parse_date(const char *s, int require_utc, apr_time_t *pt)
{
    int y, mo, d, h, mi, sec, n = 0, off = 0;
    apr_time_exp_t tm;
    apr_time_t t;
    const char *rest;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
                     &sec, &n) != 6 || n != 19) {
        return -1;
    }
    rest = s + n;
    if (*rest == '.') {
        const char *q = ++rest;
        int nonzero = 0;
        while (apr_isdigit(*rest)) {
            nonzero |= (*rest != '0');
            rest++;
        }
        if (rest == q || !nonzero) {
            return -1;
        }
    }
    if (strcmp(rest, "Z") == 0) {
        off = 0;
    }
    else if (!require_utc && (rest[0] == '+' || rest[0] == '-')
             && strlen(rest) == 6 && apr_isdigit(rest[1]) && apr_isdigit(rest[2])
             && rest[3] == ':' && apr_isdigit(rest[4]) && apr_isdigit(rest[5])) {
        off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600
            + ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
        if (rest[0] == '-') {
            off = -off;
        }
    }
    else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return -1;
    }
    *pt = t - apr_time_from_sec(off);
    return 0;
}

const char *jm_util_base64(const void *data, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)len));

    apr_base64_encode(out, data, (int)len);
    return out;
}

const unsigned char *jm_util_unbase64(const char *b64, apr_size_t *plen,
                                      apr_pool_t *p)
{
    apr_size_t n = strlen(b64), i;
    unsigned char *out;
    int len;

    /* apr_base64_decode is lenient; reject what is not base64 first */
    if (n % 4 != 0) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char c = b64[i];
        if (!(apr_isalnum(c) || c == '+' || c == '/'
              || (c == '=' && i >= n - 2))) {
            return NULL;
        }
    }
    out = apr_palloc(p, apr_base64_decode_len(b64) + 1);
    len = apr_base64_decode_binary(out, b64);
    *plen = (apr_size_t)len;
    return out;
}

const char *jm_util_sha256_hex(const void *data, apr_size_t len, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char *hex;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex = apr_palloc(p, mdlen * 2 + 1);
    for (i = 0; i < mdlen; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return hex;
}

int jm_util_utf8_check(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    int control = 0;

    while (*s) {
        unsigned char c = *s;
        unsigned char lo = 0x80, hi = 0xbf;
        int n, i;

        if (c < 0x80) {
            control |= c < 0x20 || c == 0x7f;
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            control |= c == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f;   /* C1 */
        }
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;       /* no overlong forms */
            hi = c == 0xed ? 0x9f : 0xbf;       /* no surrogates */
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;       /* nothing past U+10FFFF */
        }
        else {
            return JM_UTF8_INVALID;             /* 80-C1, F5-FF */
        }
        if (s[1] < lo || s[1] > hi) {
            return JM_UTF8_INVALID;
        }
        for (i = 2; i <= n; i++) {
            if (s[i] < 0x80 || s[i] > 0xbf) {
                return JM_UTF8_INVALID;
            }
        }
        s += n + 1;
    }
    return control ? JM_UTF8_CONTROL : JM_UTF8_OK;
}

char *jm_util_strlower(const char *s, apr_pool_t *p)
{
    char *r = apr_pstrdup(p, s), *q;

    for (q = r; *q; q++) {
        *q = apr_tolower(*q);
    }
    return r;
}
