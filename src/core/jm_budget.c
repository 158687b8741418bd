/* The request budget (jm_budget.h). */
#include <stdio.h>
#include <string.h>
#include "core/jm_budget.h"
#include "core/jm_request.h"
#include "core/jm_raw.h"

void jm_budget_init(jm_budget_t *b, const jm_limits_t *l, apr_time_t now)
{
    memset(b, 0, sizeof(*b));
    b->response_max = b->response_left = (apr_size_t)l->max_size_response;
    b->build_max = b->build_left = (apr_size_t)l->max_size_created;
    b->attachments_max = (apr_size_t)l->max_size_attachments;
    b->recipients_max = (int)l->max_recipients;
    b->header_items_max = (int)l->max_header_items;
    b->mime_depth_max = (int)l->max_mime_depth;
    b->directory_deadline = now + apr_time_from_sec(l->max_directory_seconds);
}

/* What jansson writes for a string with JSON_COMPACT: quotes, two-byte
 * escapes for " \ and \b \f \n \r \t, \uXXXX for other controls. */
static apr_size_t string_size(const char *s, size_t n)
{
    apr_size_t out = 2;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out += (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n'
                || c == '\r' || c == '\t') ? 2 : c < 0x20 ? 6 : 1;
    }
    return out;
}

/* Depth is bounded too: a value nested deeper than any parser would
 * accept counts as too large rather than risking the stack. */
#define MAX_DEPTH 2048

static apr_size_t size_of(const json_t *j, apr_size_t limit, int depth,
                          const jm_raw_t *raw)
{
    apr_size_t n = 0;
    char num[64];

    if (depth > MAX_DEPTH) {
        return limit + 1;
    }
    if (raw && jm_raw_text(raw, j, &n)) {
        return n > limit ? limit + 1 : n;      /* a stand-in: its text */
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        n = json_object_size(j) ? 1 : 2;          /* { and }, commas between */
        json_object_foreach((json_t *)j, k, v) {
            n += string_size(k, strlen(k)) + 2;   /* key, colon, comma or } */
            if (n > limit) {
                return limit + 1;
            }
            n += size_of(v, limit - n, depth + 1, raw);
            if (n > limit) {
                return limit + 1;
            }
        }
        return n;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        n = json_array_size(j) ? 1 : 2;           /* [ and ], commas between */
        json_array_foreach((json_t *)j, i, v) {
            n += 1 + size_of(v, limit - n, depth + 1, raw);
            if (n > limit) {
                return limit + 1;
            }
        }
        return n;
    }
    case JSON_STRING:
        n = string_size(json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        n = (apr_size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(j));
        break;
    case JSON_REAL:
        n = 24;         /* an upper bound of "%.17g" and its exponent */
        break;
    case JSON_TRUE:
    case JSON_NULL:
        n = 4;
        break;
    case JSON_FALSE:
        n = 5;
        break;
    }
    return n > limit ? limit + 1 : n;
}

apr_size_t jm_json_size_bounded(const json_t *j, apr_size_t limit)
{
    return j ? size_of(j, limit, 0, NULL) : 0;
}

/* declared in jm_raw.h */
apr_size_t jm_raw_size_bounded(const jm_raw_t *raw, const json_t *j,
                               apr_size_t limit)
{
    return j ? size_of(j, limit, 0, jm_raw_count(raw) ? raw : NULL) : 0;
}

int jm_budget_take_response(jm_budget_t *b, const json_t *j)
{
    apr_size_t n = jm_json_size_bounded(j, b->response_left);

    if (n > b->response_left) {
        return 0;
    }
    b->response_left -= n;
    return 1;
}

int jm_budget_take_build(jm_budget_t *b, apr_size_t n)
{
    if (n > b->build_left) {
        return 0;
    }
    b->build_left -= n;
    return 1;
}

apr_interval_time_t jm_budget_directory_timeout(const jm_budget_t *b,
                                                apr_interval_time_t per_op)
{
    apr_time_t now = apr_time_now();
    apr_interval_time_t left = b->directory_deadline > now
        ? b->directory_deadline - now : 0;

    return left < per_op ? left : per_op;
}
