/* Method arguments: known names, types, required (RFC 8620 §3.6.2). */
#include <string.h>
#include "std/jm_std_args.h"

static const jm_arg_t *find_arg(const jm_arg_t *t, const char *name)
{
    for (; t && t->name; t++) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

static int check_one(jm_call_t *call, const jm_arg_t *a)
{
    json_t *v = json_object_get(call->args, a->name);
    jm_path_t path;

    if (!v || (json_is_null(v) && (a->flags & JM_ARG_NULLABLE))) {
        if (a->flags & JM_ARG_REQUIRED) {
            jm_call_error(call, "invalidArguments",
                          "The argument \"%s\" is required.", a->name);
            return 0;
        }
        return 1;
    }
    jm_path_init(&path, call->pool);
    jm_path_push(&path, a->name);
    if (json_is_null(v)) {
        jm_path_invalid(&path, NULL, "must not be null");
    }
    else {
        jm_ptype_check(a->type, v, &path);
    }
    if (jm_path_nerrors(&path)) {
        jm_call_error(call, "invalidArguments", "Invalid argument %s.",
                      jm_path_first(&path));
        return 0;
    }
    return 1;
}

int jm_args_check(jm_call_t *call, const jm_arg_t *std, const jm_arg_t *extra)
{
    const jm_arg_t *a;
    const char *k;
    json_t *v;

    json_object_foreach(call->args, k, v) {
        if (strcmp(k, "accountId") != 0 && !find_arg(std, k) && !find_arg(extra, k)) {
            jm_call_error(call, "invalidArguments", "Unknown argument \"%s\" "
                          "for %s.", k, call->name ? call->name : "this method");
            return 0;
        }
    }
    for (a = std; a && a->name; a++) {
        if (!check_one(call, a)) {
            return 0;
        }
    }
    for (a = extra; a && a->name; a++) {
        if (!check_one(call, a)) {
            return 0;
        }
    }
    return 1;
}

int jm_args_no_account(jm_call_t *call)
{
    if (json_object_get(call->args, "accountId")) {
        jm_call_error(call, "invalidArguments", "%s takes no \"accountId\".",
                      call->name ? call->name : "This method");
        return 0;
    }
    return 1;
}

json_t *jm_args_get(const jm_call_t *call, const char *name)
{
    json_t *v = json_object_get(call->args, name);

    return json_is_null(v) ? NULL : v;
}

apr_int64_t jm_args_int(const jm_call_t *call, const char *name, apr_int64_t dflt)
{
    json_t *v = jm_args_get(call, name);

    return json_is_integer(v) ? (apr_int64_t)json_integer_value(v) : dflt;
}

int jm_args_bool(const jm_call_t *call, const char *name, int dflt)
{
    json_t *v = jm_args_get(call, name);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

const char *jm_args_str(const jm_call_t *call, const char *name)
{
    return json_string_value(jm_args_get(call, name));
}
