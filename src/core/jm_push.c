/* Push over event source (RFC 8620 §7.3): parameters, StateChange objects,
 * event ids and event bytes. No I/O here. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "core/jm_push.h"
#include "core/jm_json.h"
#include "core/jm_util.h"
#include "store/jm_store.h"

const char *const jm_push_types[JM_PUSH_NTYPES + 1] = {
    JM_TYPE_MAILBOX, JM_TYPE_EMAIL, JM_TYPE_THREAD, JM_TYPE_IDENTITY,
    JM_TYPE_SUBMISSION, JM_TYPE_EMAIL_DELIVERY, NULL
};

int jm_push_type_index(const char *type)
{
    int i;

    for (i = 0; i < JM_PUSH_NTYPES; i++) {
        if (!strcmp(jm_push_types[i], type)) {
            return i;
        }
    }
    return -1;
}

void jm_push_states_init(jm_push_states_t *s)
{
    int i;

    for (i = 0; i < JM_PUSH_NTYPES; i++) {
        s->st[i] = -1;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decoding (RFC 3986 §2.1) of n bytes; NULL for a bad escape or
 * an escaped NUL. */
static char *pct_decode(const char *s, apr_size_t n, apr_pool_t *p)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
            return NULL;
        }
        *o = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
        if (!*o++) {
            return NULL;
        }
        i += 2;
    }
    *o = '\0';
    return out;
}

static int type_name_ok(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && *s != '_' && *s != '-' && *s != ':' && *s != '.') {
            return 0;
        }
    }
    return 1;
}

static const char *parse_types(jm_push_args_t *a, char *v, apr_pool_t *p)
{
    char *tok, *last = NULL;
    const char *sep = v;
    int i;

    if (!strcmp(v, "*")) {
        a->all_types = 1;
        return NULL;
    }
    /* "Email,,Mailbox", ",Email", "Email,": an empty name */
    if (!*v || *v == ',' || v[strlen(v) - 1] == ',' || strstr(sep, ",,")) {
        return "types: a comma-separated list of type names, or \"*\".";
    }
    a->all_types = 0;
    for (tok = apr_strtok(v, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        if (!type_name_ok(tok)) {
            return apr_psprintf(p, "types: \"%s\" is not a type name.", tok);
        }
        if ((i = jm_push_type_index(tok)) >= 0) {
            a->types |= 1u << i;
        }
    }
    return NULL;
}

static const char *parse_ping(jm_push_args_t *a, const char *v)
{
    apr_int64_t n = 0;
    const char *c;

    if (!*v || strlen(v) > 10) {
        return "ping: a number of seconds (0: no pings).";
    }
    for (c = v; *c; c++) {
        if (*c < '0' || *c > '9') {
            return "ping: a number of seconds (0: no pings).";
        }
        n = n * 10 + (*c - '0');
    }
    a->ping = n > 2000000000 ? 2000000000 : (long)n;
    return NULL;
}

const char *jm_push_parse_args(jm_push_args_t *a, const char *query, apr_pool_t *p)
{
    const char *q = query ? query : "", *amp, *eq;
    int seen_types = 0, seen_close = 0, seen_ping = 0;

    memset(a, 0, sizeof(*a));
    a->all_types = 1;
    while (*q) {
        apr_size_t n;
        char *name, *value;
        const char *err = NULL;

        amp = strchr(q, '&');
        n = amp ? (apr_size_t)(amp - q) : strlen(q);
        eq = memchr(q, '=', n);
        if (n == 0) {               /* "a=1&&b=2" */
            q = amp ? amp + 1 : q + n;
            continue;
        }
        if (!eq) {
            return "Parameters are name=value pairs: types, closeafter, ping.";
        }
        name = pct_decode(q, (apr_size_t)(eq - q), p);
        value = pct_decode(eq + 1, n - (apr_size_t)(eq - q) - 1, p);
        if (!name || !value) {
            return "A parameter is not well percent-encoded.";
        }
        if (!strcmp(name, "types")) {
            err = seen_types++ ? "types is given twice." : parse_types(a, value, p);
        }
        else if (!strcmp(name, "closeafter")) {
            if (seen_close++) {
                err = "closeafter is given twice.";
            }
            else if (!strcmp(value, "state")) {
                a->close_after_state = 1;
            }
            else if (strcmp(value, "no") != 0) {
                err = "closeafter: \"state\" or \"no\".";
            }
        }
        else if (!strcmp(name, "ping")) {
            err = seen_ping++ ? "ping is given twice." : parse_ping(a, value);
        }
        /* other parameters: ignored (a proxy's, a cache buster) */
        if (err) {
            return err;
        }
        q += n + (amp ? 1 : 0);
    }
    return NULL;
}

long jm_push_ping_interval(long asked, long min_ping)
{
    if (asked <= 0) {
        return 0;
    }
    if (asked < min_ping) {
        return min_ping;
    }
    return asked > JM_PUSH_PING_MAX ? JM_PUSH_PING_MAX : asked;
}

static int asked(const jm_push_args_t *a, int i)
{
    return a->all_types || (a->types & (1u << i));
}

const char *jm_push_state_change(apr_hash_t *told, apr_hash_t *now,
                                 const apr_array_header_t *accounts,
                                 const jm_push_args_t *a, apr_pool_t *p)
{
    json_t *changed = json_object(), *obj;
    apr_pool_t *hp = apr_hash_pool_get(told);
    const char *text = NULL;
    int i, k, any = 0;

    for (i = 0; i < accounts->nelts; i++) {
        const char *acc = APR_ARRAY_IDX(accounts, i, const char *);
        const jm_push_states_t *cur = apr_hash_get(now, acc, APR_HASH_KEY_STRING);
        jm_push_states_t *was = apr_hash_get(told, acc, APR_HASH_KEY_STRING);
        json_t *ts = NULL;

        if (!cur) {
            continue;
        }
        if (!was) {
            was = apr_palloc(hp, sizeof(*was));
            jm_push_states_init(was);
            apr_hash_set(told, apr_pstrdup(hp, acc), APR_HASH_KEY_STRING, was);
        }
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            if (cur->st[k] <= was->st[k]) {
                continue;
            }
            /* a type first seen (no state told yet) is a baseline, not a
             * change: only a state the client was told before can move */
            if (was->st[k] >= 0 && asked(a, k)) {
                if (!ts) {
                    ts = json_object();
                }
                json_object_set_new(ts, jm_push_types[k],
                                    json_string(apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                             cur->st[k])));
            }
            was->st[k] = cur->st[k];
        }
        if (ts) {
            json_object_set_new(changed, acc, ts);
            any = 1;
        }
    }
    if (any) {
        obj = jm_json_own(p, json_pack("{s:s, s:o}", "@type", "StateChange",
                                       "changed", changed));
        text = obj ? jm_json_dump(obj, p) : NULL;
    }
    else {
        json_decref(changed);
    }
    return text;
}

int jm_push_has_news(apr_hash_t *told, apr_hash_t *now,
                     const apr_array_header_t *accounts, const jm_push_args_t *a)
{
    int i, k;

    for (i = 0; i < accounts->nelts; i++) {
        const char *acc = APR_ARRAY_IDX(accounts, i, const char *);
        const jm_push_states_t *cur = apr_hash_get(now, acc, APR_HASH_KEY_STRING);
        const jm_push_states_t *was = apr_hash_get(told, acc, APR_HASH_KEY_STRING);

        if (!cur) {
            continue;
        }
        if (!was) {
            return 1;
        }
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            if (asked(a, k) && cur->st[k] > was->st[k]) {
                return 1;
            }
        }
    }
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

const char *jm_push_event_id(apr_hash_t *told, apr_pool_t *p)
{
    apr_array_header_t *ids = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_index_t *hi;
    const char *out = "";
    int i, k;

    for (hi = apr_hash_first(p, told); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(ids, const char *) = apr_hash_this_key(hi);
    }
    qsort(ids->elts, (size_t)ids->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < ids->nelts; i++) {
        const char *acc = APR_ARRAY_IDX(ids, i, const char *);
        const jm_push_states_t *s = apr_hash_get(told, acc, APR_HASH_KEY_STRING);
        out = apr_pstrcat(p, out, i ? "," : "", acc, ":", NULL);
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            out = apr_pstrcat(p, out, k ? "." : "",
                              s->st[k] >= 0 ? apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                           s->st[k]) : "", NULL);
        }
    }
    return out;
}

/* One state of an event id: "" (unknown) or up to 18 digits. */
static int parse_state(apr_int64_t *v, const char *s, apr_size_t n)
{
    apr_size_t i;

    *v = -1;
    if (n == 0) {
        return 0;
    }
    if (n > 18) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int listed(const apr_array_header_t *accounts, const char *acc)
{
    int i;

    for (i = 0; i < accounts->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(accounts, i, const char *), acc)) {
            return 1;
        }
    }
    return 0;
}

int jm_push_parse_event_id(apr_hash_t *out, const char *id,
                           const apr_array_header_t *accounts, apr_pool_t *p)
{
    apr_hash_t *got = apr_hash_make(p);
    const char *c = id;
    apr_hash_index_t *hi;

    if (!id || !*id || strlen(id) > 65536) {
        return -1;
    }
    while (*c) {
        const char *colon = strchr(c, ':'), *end;
        jm_push_states_t *s = apr_palloc(p, sizeof(*s));
        char *acc;
        int k;

        if (!colon || colon == c) {
            return -1;
        }
        acc = apr_pstrndup(p, c, (apr_size_t)(colon - c));
        if (!jm_util_is_valid_id(acc) || apr_hash_get(got, acc, APR_HASH_KEY_STRING)) {
            return -1;
        }
        c = colon + 1;
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            end = c + strcspn(c, k < JM_PUSH_NTYPES - 1 ? ".,:" : ",.:");
            if (parse_state(&s->st[k], c, (apr_size_t)(end - c)) != 0) {
                return -1;
            }
            if (k < JM_PUSH_NTYPES - 1) {
                if (*end != '.') {
                    return -1;
                }
                c = end + 1;
            }
            else {
                if (*end != ',' && *end != '\0') {
                    return -1;
                }
                c = *end == ',' ? end + 1 : end;
                if (*end == ',' && !*c) {
                    return -1;      /* a trailing "," */
                }
            }
        }
        apr_hash_set(got, acc, APR_HASH_KEY_STRING, s);
    }
    for (hi = apr_hash_first(p, got); hi; hi = apr_hash_next(hi)) {
        const char *acc = apr_hash_this_key(hi);
        if (listed(accounts, acc)) {
            apr_hash_set(out, acc, APR_HASH_KEY_STRING, apr_hash_this_val(hi));
        }
    }
    return 0;
}

const char *jm_push_event(const char *name, const char *id, const char *data,
                          apr_pool_t *p)
{
    return apr_pstrcat(p, "event: ", name, "\n", id ? "id: " : "", id ? id : "",
                       id ? "\n" : "", "data: ", data, "\n\n", NULL);
}

const char *jm_push_ping_data(long interval, apr_pool_t *p)
{
    return apr_psprintf(p, "{\"interval\":%ld}", interval);
}
