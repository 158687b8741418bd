/* HTML to plain text without a full parser: enough for previews and
 * search (HTML 5 §13.2.5 tokenises far more; mail HTML rarely needs it). */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_tables.h>
#include <glib.h>
#include "mail/jm_html.h"

/* The named references mail actually uses; the rest stay as written. */
static const struct {
    const char *name;
    gunichar c;
} named[] = {
    { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
    { "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xA9 }, { "reg", 0xAE },
    { "trade", 0x2122 }, { "hellip", 0x2026 }, { "mdash", 0x2014 },
    { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
    { "ldquo", 0x201C }, { "rdquo", 0x201D }, { "laquo", 0xAB },
    { "raquo", 0xBB }, { "bull", 0x2022 }, { "middot", 0xB7 },
    { "euro", 0x20AC }, { "pound", 0xA3 }, { "yen", 0xA5 }, { "cent", 0xA2 },
    { "sect", 0xA7 }, { "deg", 0xB0 }, { "times", 0xD7 }, { "shy", 0xAD },
    { "zwnj", 0x200C }, { "zwj", 0x200D }, { "auml", 0xE4 }, { "ouml", 0xF6 },
    { "uuml", 0xFC }, { "Auml", 0xC4 }, { "Ouml", 0xD6 }, { "Uuml", 0xDC },
    { "szlig", 0xDF }, { "eacute", 0xE9 }, { "egrave", 0xE8 },
    { "ecirc", 0xEA }, { "Eacute", 0xC9 }, { "agrave", 0xE0 },
    { "aacute", 0xE1 }, { "acirc", 0xE2 }, { "ccedil", 0xE7 },
    { "iacute", 0xED }, { "oacute", 0xF3 }, { "uacute", 0xFA },
    { "ntilde", 0xF1 }, { "aring", 0xE5 }, { "oslash", 0xF8 },
};

static void put(apr_array_header_t *out, const char *s, apr_size_t n)
{
    while (n--) {
        APR_ARRAY_PUSH(out, char) = *s++;
    }
}

static void put_char(apr_array_header_t *out, gunichar c)
{
    char buf[8];

    /* NUL, surrogates and past U+10FFFF are U+FFFD (HTML 5 §13.2.5.80) */
    if (!c || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        c = 0xFFFD;
    }
    put(out, buf, g_unichar_to_utf8(c, buf));
}

/* A character reference at s ('&'): its length, 0 when none. */
static apr_size_t reference(apr_array_header_t *out, const char *s)
{
    const char *c = s + 1;
    apr_size_t i;

    if (*c == '#') {
        int hex = c[1] == 'x' || c[1] == 'X';
        const char *d = c + 1 + hex;
        unsigned long v = 0;
        int digits = 0;

        for (; hex ? apr_isxdigit(*d) : apr_isdigit(*d); ++d, ++digits) {
            if (v <= 0x10FFFF) {
                v = v * (hex ? 16 : 10)
                    + (apr_isdigit(*d) ? *d - '0' : (apr_tolower(*d) - 'a' + 10));
            }
        }
        if (!digits || *d != ';') {
            return 0;
        }
        put_char(out, v > 0x10FFFF ? 0xFFFD : (gunichar)v);
        return d + 1 - s;
    }
    for (i = 0; i < sizeof(named) / sizeof(named[0]); ++i) {
        apr_size_t n = strlen(named[i].name);

        if (!strncmp(c, named[i].name, n) && c[n] == ';') {
            put_char(out, named[i].c);
            return n + 2;
        }
    }
    return 0;
}

/* Elements whose content is no text for the reader. */
static const char *skipped_element(const char *tag)
{
    static const char *const names[] = { "script", "style", "title", NULL };
    int i;

    for (i = 0; names[i]; ++i) {
        apr_size_t n = strlen(names[i]);

        if (!strncasecmp(tag, names[i], n)
            && (tag[n] == '>' || tag[n] == '/' || apr_isspace(tag[n]))) {
            return names[i];
        }
    }
    return NULL;
}

/* The end of the element named name from s on ("</name" ... '>'), or the
 * end of the string. */
static const char *skip_element(const char *s, const char *name)
{
    apr_size_t n = strlen(name);

    for (; *s; ++s) {
        if (s[0] == '<' && s[1] == '/' && !strncasecmp(s + 2, name, n)) {
            const char *gt = strchr(s, '>');
            return gt ? gt + 1 : s + strlen(s);
        }
    }
    return s;
}

char *jm_html_text(const char *s, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, (int)strlen(s) + 1, 1);

    while (*s) {
        if (*s == '<' && !strncmp(s, "<!--", 4)) {
            const char *e = strstr(s + 4, "-->");
            s = e ? e + 3 : s + strlen(s);
            APR_ARRAY_PUSH(out, char) = ' ';
        }
        else if (*s == '<' && (apr_isalpha(s[1]) || s[1] == '/' || s[1] == '!'
                               || s[1] == '?')) {
            const char *skip = apr_isalpha(s[1]) ? skipped_element(s + 1) : NULL;
            const char *gt = strchr(s, '>');

            s = gt ? gt + 1 : s + strlen(s);
            if (skip && gt && gt[-1] != '/') {
                s = skip_element(s, skip);
            }
            APR_ARRAY_PUSH(out, char) = ' ';
        }
        else if (*s == '&') {
            apr_size_t n = reference(out, s);

            if (n) {
                s += n;
            }
            else {
                APR_ARRAY_PUSH(out, char) = *s++;
            }
        }
        else {
            APR_ARRAY_PUSH(out, char) = *s++;
        }
    }
    APR_ARRAY_PUSH(out, char) = '\0';
    return out->elts;
}
