/* Email FilterCondition and Comparators from JSON (the filter tree is
 * std's: src/std/jm_std_query.c). */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <glib.h>
#include "mail/jm_email_filter.h"
#include "mail/jm_email_index.h"
#include "core/jm_util.h"

#define MAX_UNSIGNED 9007199254740991LL     /* 2^53-1 (RFC 8620 §1.3) */

static int fail(jm_eq_error_t *err, const char *type, apr_pool_t *p,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(jm_eq_error_t *err, const char *type, apr_pool_t *p,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err->type = type;
    err->description = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return 0;
}

const char *jm_email_keyword(const char *s, apr_pool_t *p)
{
    apr_size_t n = s ? strlen(s) : 0;
    const char *c;

    if (n < 1 || n > 255) {
        return NULL;
    }
    for (c = s; *c; c++) {
        if (*c < 0x21 || *c > 0x7e || strchr("(){]%*\"\\", *c)) {
            return NULL;
        }
    }
    return jm_util_strlower(s, p);
}

/* Something a tokenizer indexes: a letter or digit (FTS5 unicode61 and
 * PostgreSQL's parser both split on everything else). */
static int has_word(const char *s, apr_size_t n)
{
    const char *end = s + n;

    while (s < end) {
        gunichar c = g_utf8_get_char_validated(s, end - s);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            return 1;           /* not UTF-8 (cannot come from JSON): keep it */
        }
        if (g_unichar_isalnum(c)) {
            return 1;
        }
        s = g_utf8_next_char(s);
    }
    return 0;
}

static void add_term(apr_array_header_t *terms, const char *s, apr_size_t n,
                     apr_pool_t *p)
{
    if (has_word(s, n)) {
        APR_ARRAY_PUSH(terms, const char *) = apr_pstrmemdup(p, s, n);
    }
}

/* The closing quote q of a phrase starting after s (backslash escapes);
 * NULL if unmatched. */
static const char *closing_quote(const char *s, char q)
{
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == '\'' || s[1] == '"' || s[1] == '\\')) {
            s++;
        }
        else if (*s == q) {
            return s;
        }
    }
    return NULL;
}

apr_array_header_t *jm_email_search_terms(const char *text, apr_pool_t *p)
{
    apr_array_header_t *terms = apr_array_make(p, 4, sizeof(const char *));
    const char *s = text, *end;

    while (*s) {
        if (apr_isspace(*s)) {
            s++;
            continue;
        }
        if ((*s == '"' || *s == '\'') && (end = closing_quote(s + 1, *s))) {
            char *buf = apr_palloc(p, end - s), *o = buf;
            const char *c;

            for (c = s + 1; c < end; c++) {
                if (*c == '\\' && (c[1] == '\'' || c[1] == '"' || c[1] == '\\')) {
                    c++;
                }
                *o++ = *c;
            }
            add_term(terms, buf, o - buf, p);
            s = end + 1;
            continue;
        }
        for (end = s; *end && !apr_isspace(*end); end++) {
        }
        add_term(terms, s, end - s, p);
        s = end;
    }
    return terms;
}

static int get_id(const char **pid, const json_t *v, const char *path,
                  const char *name, jm_eq_error_t *err, apr_pool_t *p)
{
    if (!json_is_string(v) || !jm_util_is_valid_id(json_string_value(v))) {
        return fail(err, "invalidArguments", p, "%s/%s must be an Id.", path, name);
    }
    *pid = json_string_value(v);
    return 1;
}

static int get_unsigned(apr_int64_t *pv, const json_t *v, const char *path,
                        const char *name, jm_eq_error_t *err, apr_pool_t *p)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || json_integer_value(v) > MAX_UNSIGNED) {
        return fail(err, "invalidArguments", p, "%s/%s must be an UnsignedInt.",
                    path, name);
    }
    *pv = json_integer_value(v);
    return 1;
}

static int get_date(apr_int64_t *pv, const json_t *v, const char *path,
                    const char *name, jm_eq_error_t *err, apr_pool_t *p)
{
    apr_time_t t;

    if (!json_is_string(v) || jm_util_parse_date(json_string_value(v), 1, &t)) {
        return fail(err, "invalidArguments", p, "%s/%s must be a UTCDate.", path, name);
    }
    *pv = apr_time_sec(t);
    return 1;
}

static int get_keyword(const char **pk, const json_t *v, const char *path,
                       const char *name, jm_eq_error_t *err, apr_pool_t *p)
{
    if (!json_is_string(v) || !(*pk = jm_email_keyword(json_string_value(v), p))) {
        return fail(err, "invalidArguments", p, "%s/%s must be a keyword (RFC 8621"
                    " §4.1.1).", path, name);
    }
    return 1;
}

/* header: [name] or [name, value]; name a field name (RFC 5322 §3.6.8). */
static int get_header(jm_email_cond_t *c, const json_t *v, const char *path,
                      jm_eq_error_t *err, apr_pool_t *p)
{
    const char *name;
    char *lc;
    size_t n = json_array_size(v);

    if (!json_is_array(v) || n < 1 || n > 2 || !json_is_string(json_array_get(v, 0))
        || (n == 2 && !json_is_string(json_array_get(v, 1)))) {
        return fail(err, "invalidArguments", p, "%s/header must be an array of one or"
                    " two strings.", path);
    }
    name = json_string_value(json_array_get(v, 0));
    if (!*name || strlen(name) > 255) {
        return fail(err, "invalidArguments", p, "%s/header needs a header field name.",
                    path);
    }
    for (; *name; name++) {
        if (*name < 33 || *name > 126 || *name == ':') {
            return fail(err, "invalidArguments", p, "%s/header: not a header field"
                        " name.", path);
        }
    }
    /* the store compares as the indexer stored: names lower-case (field
     * names are case-insensitive, RFC 5322 §1.2.2), text folded */
    c->header_name = apr_pstrdup(p, json_string_value(json_array_get(v, 0)));
    for (lc = (char *)c->header_name; *lc; lc++) {
        *lc = (char)apr_tolower(*lc);
    }
    c->header_value = n == 2 ? jm_email_index_fold(json_string_value(json_array_get(v, 1)),
                                                   p) : NULL;
    return 1;
}

int jm_email_filter_condition(const void **pcond, const json_t *obj,
                              const char *path, jm_eq_error_t *err,
                              apr_pool_t *p)
{
    static const char *const text_names[JM_TEXT__COUNT] = {
        [JM_TEXT_ALL] = "text", [JM_TEXT_FROM] = "from", [JM_TEXT_TO] = "to",
        [JM_TEXT_CC] = "cc", [JM_TEXT_BCC] = "bcc", [JM_TEXT_SUBJECT] = "subject",
        [JM_TEXT_BODY] = "body"
    };
    jm_email_cond_t *c = apr_pcalloc(p, sizeof(*c));
    const char *k;
    json_t *v;
    int i, ok;

    c->has_attachment = -1;
    json_object_foreach((json_t *)obj, k, v) {
        ok = 1;
        if (!strcmp(k, "inMailbox")) {
            ok = get_id(&c->in_mailbox, v, path, k, err, p);
        }
        else if (!strcmp(k, "inMailboxOtherThan")) {
            size_t j;
            json_t *x;
            if (!json_is_array(v)) {
                return fail(err, "invalidArguments", p, "%s/%s must be an array of"
                            " Ids.", path, k);
            }
            c->in_mailbox_other_than = apr_array_make(p, json_array_size(v),
                                                      sizeof(const char *));
            json_array_foreach(v, j, x) {
                const char *id;
                if (!get_id(&id, x, path, apr_psprintf(p, "%s/%lu", k,
                                                       (unsigned long)j), err, p)) {
                    return 0;
                }
                APR_ARRAY_PUSH(c->in_mailbox_other_than, const char *) = id;
            }
            if (c->in_mailbox_other_than->nelts > JM_SQ_FILTER_MAX_NODES) {
                return fail(err, "unsupportedFilter", p, "%s/%s: at most %d"
                            " mailboxes.", path, k, JM_SQ_FILTER_MAX_NODES);
            }
        }
        else if (!strcmp(k, "before")) {
            ok = get_date(&c->before, v, path, k, err, p);
            c->has_before = 1;
        }
        else if (!strcmp(k, "after")) {
            ok = get_date(&c->after, v, path, k, err, p);
            c->has_after = 1;
        }
        else if (!strcmp(k, "minSize")) {
            ok = get_unsigned(&c->min_size, v, path, k, err, p);
            c->has_min_size = 1;
        }
        else if (!strcmp(k, "maxSize")) {
            ok = get_unsigned(&c->max_size, v, path, k, err, p);
            c->has_max_size = 1;
        }
        else if (!strcmp(k, "allInThreadHaveKeyword")) {
            ok = get_keyword(&c->all_in_thread_kw, v, path, k, err, p);
        }
        else if (!strcmp(k, "someInThreadHaveKeyword")) {
            ok = get_keyword(&c->some_in_thread_kw, v, path, k, err, p);
        }
        else if (!strcmp(k, "noneInThreadHaveKeyword")) {
            ok = get_keyword(&c->none_in_thread_kw, v, path, k, err, p);
        }
        else if (!strcmp(k, "hasKeyword")) {
            ok = get_keyword(&c->has_kw, v, path, k, err, p);
        }
        else if (!strcmp(k, "notKeyword")) {
            ok = get_keyword(&c->not_kw, v, path, k, err, p);
        }
        else if (!strcmp(k, "hasAttachment")) {
            if (!json_is_boolean(v)) {
                return fail(err, "invalidArguments", p, "%s/%s must be a Boolean.",
                            path, k);
            }
            c->has_attachment = json_is_true(v);
        }
        else if (!strcmp(k, "header")) {
            ok = get_header(c, v, path, err, p);
        }
        else {
            for (i = 0; i < JM_TEXT__COUNT && strcmp(k, text_names[i]); i++) {
            }
            if (i == JM_TEXT__COUNT) {
                return fail(err, "unsupportedFilter", p, "%s: unknown filter"
                            " property \"%s\".", path, k);
            }
            if (!json_is_string(v)) {
                return fail(err, "invalidArguments", p, "%s/%s must be a String.",
                            path, k);
            }
            c->text[i] = jm_email_search_terms(json_string_value(v), p);
            if (c->text[i]->nelts > JM_SQ_FILTER_MAX_TERMS) {
                return fail(err, "unsupportedFilter", p, "%s/%s: at most %d search"
                            " terms.", path, k, JM_SQ_FILTER_MAX_TERMS);
            }
        }
        if (!ok) {
            return 0;
        }
    }
    *pcond = c;
    return 1;
}

int jm_email_cond_terms(const jm_email_cond_t *c)
{
    int i, n = 0;

    for (i = 0; i < JM_TEXT__COUNT; i++) {
        n += c->text[i] ? c->text[i]->nelts : 0;
    }
    return n;
}

int jm_email_comparator(jm_sort_t *s, const json_t *obj, const char *path,
                        jm_eq_error_t *err, apr_pool_t *p)
{
    static const struct { const char *name; jm_sort_prop_t prop; int str, kw; } props[] = {
        { "receivedAt", JM_SORT_RECEIVED_AT, 0, 0 }, { "size", JM_SORT_SIZE, 0, 0 },
        { "from", JM_SORT_FROM, 1, 0 }, { "to", JM_SORT_TO, 1, 0 },
        { "subject", JM_SORT_SUBJECT, 1, 0 }, { "sentAt", JM_SORT_SENT_AT, 0, 0 },
        { "hasKeyword", JM_SORT_HAS_KEYWORD, 0, 1 },
        { "allInThreadHaveKeyword", JM_SORT_ALL_IN_THREAD, 0, 1 },
        { "someInThreadHaveKeyword", JM_SORT_SOME_IN_THREAD, 0, 1 },
    };
    static const struct { const char *name; jm_collation_t c; } colls[] = {
        { "i;unicode-casemap", JM_COLL_UNICODE_CASEMAP },
        { "i;ascii-casemap", JM_COLL_ASCII_CASEMAP },
        { "i;ascii-numeric", JM_COLL_ASCII_NUMERIC },
        { "i;octet", JM_COLL_OCTET },
    };
    const json_t *prop, *asc, *coll, *kw, *x;
    const char *k;
    size_t i;

    if (!json_is_object(obj)) {
        return fail(err, "invalidArguments", p, "%s must be a Comparator.", path);
    }
    json_object_foreach((json_t *)obj, k, x) {
        if (strcmp(k, "property") && strcmp(k, "isAscending") && strcmp(k, "collation")
            && strcmp(k, "keyword")) {
            return fail(err, "invalidArguments", p, "%s: a Comparator has no property"
                        " \"%s\".", path, k);
        }
    }
    prop = json_object_get(obj, "property");
    asc = json_object_get(obj, "isAscending");
    coll = json_object_get(obj, "collation");
    kw = json_object_get(obj, "keyword");
    if (!json_is_string(prop)) {
        return fail(err, "invalidArguments", p, "%s/property must be a String.", path);
    }
    if (asc && !json_is_boolean(asc)) {
        return fail(err, "invalidArguments", p, "%s/isAscending must be a Boolean.", path);
    }
    if (coll && !json_is_string(coll)) {
        return fail(err, "invalidArguments", p, "%s/collation must be a String.", path);
    }
    memset(s, 0, sizeof(*s));
    s->ascending = asc ? json_is_true(asc) : 1;
    for (i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (!strcmp(json_string_value(prop), props[i].name)) {
            break;
        }
    }
    if (i == sizeof(props) / sizeof(props[0])) {
        return fail(err, "unsupportedSort", p, "%s: cannot sort on \"%s\".", path,
                    json_string_value(prop));
    }
    s->prop = props[i].prop;
    if (props[i].kw) {
        if (!kw || !json_is_string(kw) || !(s->keyword = jm_email_keyword(
                json_string_value(kw), p))) {
            return fail(err, "invalidArguments", p, "%s: sorting on %s needs a keyword"
                        " (RFC 8621 §4.4.2).", path, props[i].name);
        }
    }
    else if (kw) {
        return fail(err, "invalidArguments", p, "%s/keyword only goes with keyword"
                    " sorts.", path);
    }
    if (coll) {
        for (i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
            if (!strcmp(json_string_value(coll), colls[i].name)) {
                break;
            }
        }
        if (i == sizeof(colls) / sizeof(colls[0])) {
            return fail(err, "unsupportedSort", p, "%s: unknown collation \"%s\".",
                        path, json_string_value(coll));
        }
        /* ignored where the property is no string (RFC 8620 §5.5) */
        s->collation = colls[i].c;
    }
    return 1;
}

int jm_email_sort_parse(apr_array_header_t **psort, const json_t *sort,
                        jm_eq_error_t *err, apr_pool_t *p)
{
    const json_t *x;
    size_t i;

    *psort = NULL;
    if (!sort || json_is_null(sort)) {
        return 1;
    }
    if (!json_is_array(sort)) {
        return fail(err, "invalidArguments", p, "sort must be an array of Comparators.");
    }
    if (json_array_size(sort) > JM_SORT_MAX) {
        return fail(err, "unsupportedSort", p, "At most %d comparators.", JM_SORT_MAX);
    }
    *psort = apr_array_make(p, json_array_size(sort), sizeof(jm_sort_t));
    json_array_foreach(sort, i, x) {
        if (!jm_email_comparator(apr_array_push(*psort), x,
                                 apr_psprintf(p, "sort/%lu", (unsigned long)i), err, p)) {
            return 0;
        }
    }
    return 1;
}
