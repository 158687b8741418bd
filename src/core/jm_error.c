/* JMAP error objects. */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "core/jm_error.h"

jm_problem_t *jm_problem(apr_pool_t *p, int status, const char *type,
                         const char *limit, const char *fmt, ...)
{
    jm_problem_t *pr = apr_pcalloc(p, sizeof(*pr));
    va_list ap;

    pr->status = status;
    pr->type = type;
    pr->limit = limit;
    va_start(ap, fmt);
    pr->detail = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return pr;
}

/* RFC 8620 §3.6.1 registers four request-level problem types; any other
 * HTTP error (404, 405, 503 ...) is plain RFC 7807 "about:blank". */
static int registered_type(const char *t)
{
    static const char *const types[] = {
        "unknownCapability", "notJSON", "notRequest", "limit", NULL
    };
    const char *const *k;

    for (k = types; *k; k++) {
        if (strcmp(*k, t) == 0) {
            return 1;
        }
    }
    return 0;
}

json_t *jm_problem_json(const jm_problem_t *pr)
{
    char type[128];
    json_t *j;

    if (registered_type(pr->type)) {
        apr_snprintf(type, sizeof(type), "urn:ietf:params:jmap:error:%s", pr->type);
    }
    else {
        apr_cpystrn(type, "about:blank", sizeof(type));
    }
    /* the detail may quote input (jansson's parse errors do, cut anywhere) */
    j = json_pack("{s:s, s:i, s:o}", "type", type, "status", pr->status,
                  "detail", jm_json_text(pr->detail));
    if (pr->limit) {
        json_object_set_new(j, "limit", jm_json_text(pr->limit));
    }
    return j;
}

json_t *jm_error_method(const char *type, const char *description)
{
    json_t *j = json_pack("{s:s}", "type", type);

    if (description) {
        json_object_set_new(j, "description", jm_json_text(description));
    }
    return j;
}

json_t *jm_error_set(const char *type, const char *property,
                     const char *description)
{
    json_t *j = jm_error_method(type, description);

    if (property) {
        json_object_set_new(j, "properties", json_pack("[s]", property));
    }
    return j;
}
