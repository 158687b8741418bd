/* SearchSnippet subject and preview (jm_snippet.h).
 *
 * Matching runs on a case-folded copy of the text that remembers, for each
 * of its octets, where in the text the character it came from starts:
 * folding changes lengths ("ß" folds to "ss"), so a match in the folded
 * copy is mapped back to whole characters of the text that is shown. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <glib.h>
#include "mime/jm_mime_read.h"
#include "mail/jm_snippet.h"

/* Context before the first match: at most so many characters/octets. */
#define CONTEXT_CHARS 40
#define CONTEXT_OCTETS 60

typedef struct {
    apr_size_t s, e;     /* octets [s, e) of the text */
} span_t;

typedef struct {
    const char *text;    /* NFC, valid UTF-8 */
    apr_size_t len;
    const char *fold;    /* case-folded text, NUL-terminated */
    apr_size_t flen;
    apr_size_t *map;     /* fold offset -> text offset; map[flen] = len */
    unsigned char *unit; /* 1 where a character's folding starts */
} folded_t;

apr_array_header_t *jm_snippet_terms(const char *f, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));

    while (f && *f) {
        const char *e;

        if (apr_isspace(*f)) {
            ++f;
            continue;
        }
        if (*f == '"') {
            ++f;
            e = strchr(f, '"');
            e = e ? e : f + strlen(f);
        }
        else {
            for (e = f; *e && *e != '"' && !apr_isspace(*e); ++e) {
            }
        }
        if (e > f) {
            APR_ARRAY_PUSH(out, const char *) = apr_pstrndup(p, f, e - f);
        }
        f = *e == '"' ? e + 1 : e;
    }
    return out;
}

/* Valid UTF-8 in NFC, a copy in p. */
static const char *nfc(const char *s, apr_pool_t *p)
{
    const char *v = jm_mime_utf8(s, p);
    char *n = g_utf8_normalize(v, -1, G_NORMALIZE_NFC);

    if (n) {
        v = apr_pstrdup(p, n);
        g_free(n);
    }
    return v;
}

static void fold_text(folded_t *f, const char *text, apr_pool_t *p)
{
    apr_array_header_t *fold = apr_array_make(p, (int)strlen(text) + 1, 1);
    apr_array_header_t *map = apr_array_make(p, (int)strlen(text) + 1, sizeof(apr_size_t));
    apr_array_header_t *unit = apr_array_make(p, (int)strlen(text) + 1, 1);
    const char *c;

    f->text = text;
    f->len = strlen(text);
    for (c = text; *c; c = g_utf8_next_char(c)) {
        apr_size_t at = c - text, clen = g_utf8_next_char(c) - c, k;
        char ascii[2];
        char *cf = NULL;
        const char *src;
        apr_size_t n;

        if ((unsigned char)*c < 0x80) {
            ascii[0] = apr_tolower(*c);
            src = ascii;
            n = 1;
        }
        else {
            src = cf = g_utf8_casefold(c, clen);
            n = strlen(cf);
        }
        for (k = 0; k < n; ++k) {
            APR_ARRAY_PUSH(fold, char) = src[k];
            APR_ARRAY_PUSH(map, apr_size_t) = at;
            APR_ARRAY_PUSH(unit, unsigned char) = !k;
        }
        g_free(cf);
    }
    f->flen = fold->nelts;
    APR_ARRAY_PUSH(fold, char) = '\0';
    APR_ARRAY_PUSH(map, apr_size_t) = f->len;
    APR_ARRAY_PUSH(unit, unsigned char) = 1;
    f->fold = fold->elts;
    f->map = (apr_size_t *)map->elts;
    f->unit = (unsigned char *)unit->elts;
}

static int span_cmp(const void *a, const void *b)
{
    const span_t *x = a, *y = b;

    return x->s < y->s ? -1 : x->s > y->s ? 1 : x->e < y->e ? -1 : x->e > y->e;
}

/* Every occurrence of every term, sorted, overlapping and adjacent ones
 * merged (span_t). */
static apr_array_header_t *find_spans(const folded_t *f, const apr_array_header_t *terms,
                                      apr_pool_t *p)
{
    apr_array_header_t *all = apr_array_make(p, 8, sizeof(span_t));
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(span_t));
    int i;

    for (i = 0; terms && i < terms->nelts; ++i) {
        const char *t = APR_ARRAY_IDX(terms, i, const char *);
        char *tf;
        const char *hit;
        apr_size_t tl;

        if (!t || !*t) {
            continue;
        }
        tf = g_utf8_casefold(nfc(t, p), -1);
        tl = strlen(tf);
        for (hit = tl ? strstr(f->fold, tf) : NULL; hit; hit = strstr(hit + 1, tf)) {
            apr_size_t a = hit - f->fold, b = a + tl;

            /* whole characters only (a fold may be longer than one octet) */
            if (f->unit[a] && f->unit[b]) {
                span_t *s = apr_array_push(all);
                s->s = f->map[a];
                s->e = f->map[b];
            }
        }
        g_free(tf);
    }
    if (all->nelts) {
        qsort(all->elts, all->nelts, sizeof(span_t), span_cmp);
    }
    for (i = 0; i < all->nelts; ++i) {
        span_t *s = &APR_ARRAY_IDX(all, i, span_t);
        span_t *last = out->nelts ? &APR_ARRAY_IDX(out, out->nelts - 1, span_t) : NULL;

        if (last && s->s <= last->e) {
            if (s->e > last->e) {
                last->e = s->e;
            }
        }
        else {
            *(span_t *)apr_array_push(out) = *s;
        }
    }
    return out;
}

/* The escaped form of the character at c (its octets unless special). */
static const char *escaped(apr_size_t *pn, const char *c)
{
    switch (*c) {
    case '&':  *pn = 5; return "&amp;";
    case '<':  *pn = 4; return "&lt;";
    case '>':  *pn = 4; return "&gt;";
    case '"':  *pn = 6; return "&quot;";
    case '\'': *pn = 5; return "&#39;";
    default:   *pn = g_utf8_next_char(c) - c; return c;
    }
}

static void put(apr_array_header_t *out, const char *s, apr_size_t n)
{
    while (n--) {
        APR_ARRAY_PUSH(out, char) = *s++;
    }
}

/* text[from, ...) with marks; max octets (0 = all), "..." where cut. */
static const char *render(const char *text, apr_size_t from,
                          const apr_array_header_t *spans, apr_size_t max,
                          apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 256, 1);
    const char *c;
    int k = 0, in_mark = 0;

    if (from) {
        put(out, "...", 3);
    }
    while (k < spans->nelts && APR_ARRAY_IDX(spans, k, span_t).e <= from) {
        ++k;
    }
    for (c = text + from; *c; c = g_utf8_next_char(c)) {
        apr_size_t at = c - text, n, need;
        const char *piece = escaped(&n, c);
        int opens = !in_mark && k < spans->nelts
            && APR_ARRAY_IDX(spans, k, span_t).s <= at;

        need = n + (in_mark || opens ? 7 : 0) + (opens ? 6 : 0)
            + (*g_utf8_next_char(c) ? 3 : 0);
        if (max && (apr_size_t)out->nelts + need > max) {
            if (in_mark) {
                put(out, "</mark>", 7);
            }
            put(out, "...", 3);
            break;
        }
        if (opens) {
            put(out, "<mark>", 6);
            in_mark = 1;
        }
        put(out, piece, n);
        if (in_mark && APR_ARRAY_IDX(spans, k, span_t).e <= at + (g_utf8_next_char(c) - c)) {
            put(out, "</mark>", 7);
            in_mark = 0;
            ++k;
        }
    }
    return apr_pstrndup(p, out->elts, out->nelts);
}

/* Whitespace runs as one space, trimmed. */
static char *squeeze(const char *s, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(s) + 1), *o = out;

    for (; *s; ++s) {
        if (apr_isspace(*s)) {
            if (o > out && o[-1] != ' ') {
                *o++ = ' ';
            }
        }
        else {
            *o++ = *s;
        }
    }
    while (o > out && o[-1] == ' ') {
        --o;
    }
    *o = '\0';
    return out;
}

/* Where the preview starts: a little before the first match, at a word. */
static apr_size_t window_start(const char *text, apr_size_t first)
{
    apr_size_t st = first, oct = 0, w;
    int chars = 0;

    while (st > 0 && chars < CONTEXT_CHARS) {
        const char *prev = g_utf8_prev_char(text + st);
        apr_size_t n;

        escaped(&n, prev);
        if (oct + n > CONTEXT_OCTETS) {
            break;
        }
        oct += n;
        ++chars;
        st = prev - text;
    }
    if (st > 0 && text[st - 1] != ' ') {   /* not mid-word: after a space */
        for (w = st; w < first && text[w] != ' '; ++w) {
        }
        st = w < first ? w + 1 : st;
    }
    return st;
}

void jm_snippet(jm_snippet_t *out, const char *subject, const char *body,
                const apr_array_header_t *subject_terms,
                const apr_array_header_t *body_terms, apr_pool_t *p)
{
    folded_t f;
    apr_array_header_t *spans;

    out->subject = NULL;
    out->preview = NULL;
    if (subject && subject_terms && subject_terms->nelts) {
        fold_text(&f, nfc(subject, p), p);
        spans = find_spans(&f, subject_terms, p);
        if (spans->nelts) {
            out->subject = render(f.text, 0, spans, 0, p);
        }
    }
    if (body && body_terms && body_terms->nelts) {
        fold_text(&f, nfc(squeeze(jm_mime_utf8(body, p), p), p), p);
        spans = find_spans(&f, body_terms, p);
        if (spans->nelts) {
            apr_size_t first = APR_ARRAY_IDX(spans, 0, span_t).s;
            out->preview = render(f.text, window_start(f.text, first), spans,
                                  JM_SNIPPET_PREVIEW_MAX, p);
        }
    }
}
