/* SearchSnippet/get (RFC 8621 §5.1): the subject and preview of each email
 * with the words the filter searches for in <mark></mark>, HTML-escaped.
 * Words match as the full-text index matches them: whole words, case and
 * accents ignored ("koln" marks "Köln"). */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <glib.h>
#include "core/jm_methods.h"
#include "store/jm_store_query.h"
#include "mail/jm_email_filter.h"
#include "core/jm_util.h"

/* A word's comparable form: lower case, without combining marks (the
 * first code point of each canonical decomposition). */
static const char *fold(const char *s, apr_size_t n, apr_pool_t *p)
{
    char *out = apr_palloc(p, n * 2 + 8), *o = out;
    const char *end = s + n;

    while (s < end) {
        gunichar c = g_utf8_get_char_validated(s, end - s), d[4];
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            *o++ = *s++;        /* not UTF-8: compare the byte */
            continue;
        }
        c = g_unichar_tolower(c);
        if (g_unichar_fully_decompose(c, FALSE, d, 4) > 0) {
            c = d[0];
        }
        if (o + 6 >= out + n * 2 + 8) {
            break;
        }
        o += g_unichar_to_utf8(c, o);
        s = g_utf8_next_char(s);
    }
    *o = 0;
    return out;
}

/* The next word of [s, end): *pw its start, returns its end (== end: none). */
static const char *next_word(const char **pw, const char *s, const char *end)
{
    const char *w = NULL;

    while (s < end) {
        gunichar c = g_utf8_get_char_validated(s, end - s);
        int word = c == (gunichar)-1 || c == (gunichar)-2 || g_unichar_isalnum(c)
                   || g_unichar_ismark(c);
        if (word && !w) {
            w = s;
        }
        else if (!word && w) {
            break;
        }
        s = (c == (gunichar)-1 || c == (gunichar)-2) ? s + 1 : g_utf8_next_char(s);
    }
    *pw = w ? w : end;
    return s;
}

/* The folded words of the phrases of field f (and "text") in the filter's
 * conditions, except under NOT (those must not match). */
static void collect(apr_hash_t *words, const jm_sq_filter_t *f, jm_text_field_t field,
                    apr_pool_t *p)
{
    int i, j;

    if (!f || f->op == JM_SQ_NOT) {
        return;
    }
    if (f->op != JM_SQ_COND) {
        for (i = 0; i < f->children->nelts; i++) {
            collect(words, APR_ARRAY_IDX(f->children, i, const jm_sq_filter_t *), field, p);
        }
        return;
    }
    for (i = 0; i < 2; i++) {
        const apr_array_header_t *t = f->cond->text[i ? field : JM_TEXT_ALL];
        for (j = 0; t && j < t->nelts; j++) {
            const char *s = APR_ARRAY_IDX(t, j, const char *), *end = s + strlen(s);
            const char *w, *we, *key;
            for (;;) {
                we = next_word(&w, s, end);
                if (w >= end) {
                    break;
                }
                key = fold(w, we - w, p);
                apr_hash_set(words, key, APR_HASH_KEY_STRING, key);
                s = we;
            }
        }
    }
}

static void escape_into(apr_array_header_t *out, const char *s, apr_size_t n)
{
    const char *e;

    for (; n; s++, n--) {
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default:
            APR_ARRAY_PUSH(out, char) = *s;
            continue;
        }
        for (; *e; e++) {
            APR_ARRAY_PUSH(out, char) = *e;
        }
    }
}


static void put_str(apr_array_header_t *out, const char *s)
{
    for (; *s; s++) {
        APR_ARRAY_PUSH(out, char) = *s;
    }
}

/* text with its matching words marked, HTML-escaped; NULL if none matches. */
static const char *highlight(const char *text, apr_hash_t *words, apr_pool_t *p)
{
    apr_array_header_t *out;
    const char *s = text, *end = text + strlen(text), *w, *we;
    int marks = 0;

    if (!apr_hash_count(words)) {
        return NULL;
    }
    out = apr_array_make(p, (int)(end - text) + 64, 1);
    while (s < end) {
        we = next_word(&w, s, end);
        escape_into(out, s, w - s);
        if (w < end) {
            int hit = apr_hash_get(words, fold(w, we - w, p), APR_HASH_KEY_STRING) != NULL;
            if (hit) {
                put_str(out, "<mark>");
                marks++;
            }
            escape_into(out, w, we - w);
            if (hit) {
                put_str(out, "</mark>");
            }
        }
        s = we;
    }
    APR_ARRAY_PUSH(out, char) = 0;
    return marks ? out->elts : NULL;
}

/* The arguments (until the shared framework parses them); 0 + error. */
static int parse_snippet_args(jm_call_t *call, const jm_sq_filter_t **pf, json_t **pids)
{
    const char *k;
    json_t *v, *ids = json_object_get(call->args, "emailIds");
    size_t i;

    json_object_foreach(call->args, k, v) {
        if (strcmp(k, "accountId") && strcmp(k, "filter") && strcmp(k, "emailIds")) {
            jm_call_error(call, "invalidArguments", "Unknown argument \"%s\".", k);
            return 0;
        }
    }
    if (!json_is_array(ids)) {
        jm_call_error(call, "invalidArguments", "\"emailIds\" must be an array of Ids.");
        return 0;
    }
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v)) {
            jm_call_error(call, "invalidArguments", "\"emailIds\"[%lu] is not a string.",
                          (unsigned long)i);
            return 0;
        }
    }
    if ((long)json_array_size(ids) > call->ctx->limits->max_objects_in_get) {
        jm_call_error(call, "requestTooLarge", "%lu emailIds requested; maxObjectsInGet"
                      " is %ld.", (unsigned long)json_array_size(ids),
                      call->ctx->limits->max_objects_in_get);
        return 0;
    }
    /* §5.1: the filter is Email/query's, with its errors */
    if (!jm_email_query_filter(pf, call, json_object_get(call->args, "filter"))) {
        return 0;
    }
    *pids = ids;
    return 1;
}

apr_status_t jm_snippet_get(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    const jm_sq_filter_t *f;
    json_t *ids, *list, *not_found, *v;
    apr_hash_t *subj_words = apr_hash_make(call->pool);
    apr_hash_t *body_words = apr_hash_make(call->pool);
    apr_pool_t *sp;
    apr_status_t rv = APR_SUCCESS;
    size_t i;

    if (!parse_snippet_args(call, &f, &ids)) {
        return APR_SUCCESS;
    }
    collect(subj_words, f, JM_TEXT_SUBJECT, call->pool);
    collect(body_words, f, JM_TEXT_BODY, call->pool);
    list = json_array();
    not_found = json_array();
    apr_pool_create(&sp, call->pool);
    json_array_foreach(ids, i, v) {
        const char *subject, *preview, *hs, *hp;

        apr_pool_clear(sp);
        rv = jm_store_email_texts(&subject, &preview, ctx->db, ctx->account->id,
                                  json_string_value(v), sp);
        if (rv == APR_NOTFOUND) {
            json_array_append(not_found, v);
            rv = APR_SUCCESS;
            continue;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        hs = highlight(subject, subj_words, sp);
        hp = highlight(preview, body_words, sp);
        json_array_append_new(list, json_pack("{s:O, s:o, s:o}", "emailId", v,
            "subject", hs ? jm_json_text(hs) : json_null(),
            "preview", hp ? jm_json_text(hp) : json_null()));
    }
    apr_pool_destroy(sp);
    if (rv != APR_SUCCESS) {
        json_decref(list);
        json_decref(not_found);
        return rv;
    }
    call->result = json_pack("{s:s, s:o, s:o}", "accountId", ctx->account->id,
                             "list", list, "notFound",
                             json_array_size(not_found) ? not_found
                             : (json_decref(not_found), json_null()));
    return APR_SUCCESS;
}
