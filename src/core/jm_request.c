/* RFC 8620 §3: the Request object, dispatch, result references. */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "core/jm_request.h"
#include "core/jm_log.h"
#include "core/jm_util.h"
#include "core/jm_raw.h"
#include "push/jm_webpush.h"

static int capability_known(const char *cap)
{
    const char *const *c;

    for (c = jm_capabilities_accepted; *c; c++) {
        if (strcmp(*c, cap) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Validate the type signature of the Request object (§3.3). */
static jm_problem_t *check_request(json_t *req, const jm_ctx_t *ctx,
                                   apr_pool_t *p)
{
    json_t *using, *calls, *v, *created;
    size_t i;

    if (!json_is_object(req)) {
        return jm_problem(p, 400, "notRequest", NULL,
                          "The request body is not a JSON object.");
    }
    using = json_object_get(req, "using");
    calls = json_object_get(req, "methodCalls");
    if (!json_is_array(using)) {
        return jm_problem(p, 400, "notRequest", NULL,
                          "\"using\" must be an array of capability strings.");
    }
    json_array_foreach(using, i, v) {
        if (!json_is_string(v)) {
            return jm_problem(p, 400, "notRequest", NULL,
                              "\"using\"[%lu] is not a string.", (unsigned long)i);
        }
    }
    if (!json_is_array(calls)) {
        return jm_problem(p, 400, "notRequest", NULL,
                          "\"methodCalls\" must be an array of Invocations.");
    }
    json_array_foreach(calls, i, v) {
        if (!json_is_array(v) || json_array_size(v) != 3
            || !json_is_string(json_array_get(v, 0))
            || !json_is_object(json_array_get(v, 1))
            || !json_is_string(json_array_get(v, 2))) {
            return jm_problem(p, 400, "notRequest", NULL,
                              "methodCalls[%lu] is not an Invocation "
                              "[String, Object, String].", (unsigned long)i);
        }
    }
    created = json_object_get(req, "createdIds");
    if (created) {
        const char *k;
        if (!json_is_object(created)) {
            return jm_problem(p, 400, "notRequest", NULL,
                              "\"createdIds\" must be an object.");
        }
        json_object_foreach(created, k, v) {
            if (!json_is_string(v) || !jm_util_is_valid_id(json_string_value(v))) {
                return jm_problem(p, 400, "notRequest", NULL,
                                  "createdIds[\"%s\"] is not an Id.", k);
            }
        }
    }
    json_array_foreach(using, i, v) {
        /* advertised only with a VAPID key (RFC 9749 §3); it has no methods */
        int vapid = ctx->push && ctx->push->vapid_public && json_is_string(v)
            && strcmp(json_string_value(v), JM_CAP_WEBPUSH_VAPID) == 0;
        if (!vapid && !capability_known(json_string_value(v))) {
            return jm_problem(p, 400, "unknownCapability", NULL,
                              "The request used capability '%s', which is not "
                              "supported by this server.", json_string_value(v));
        }
    }
    if ((long)json_array_size(calls) > ctx->limits->max_calls_in_request) {
        return jm_problem(p, 400, "limit", "maxCallsInRequest",
                          "The request has %lu method calls; the limit is %ld.",
                          (unsigned long)json_array_size(calls),
                          ctx->limits->max_calls_in_request);
    }
    return NULL;
}

/* ---- JSON Pointer with "*" (RFC 8620 §3.7, RFC 6901) ------------------- */

/* Decode one reference token (~1 -> /, ~0 -> ~); NULL if malformed. */
static char *pointer_token(const char *s, size_t n, apr_pool_t *p)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '~') {
            if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')) {
                return NULL;
            }
            *o++ = s[i + 1] == '0' ? '~' : '/';
            i++;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int array_index(const char *tok, size_t *pidx)
{
    const char *c;

    if (!*tok || (tok[0] == '0' && tok[1]) ) {
        return 0;
    }
    for (c = tok; *c; c++) {
        if (*c < '0' || *c > '9') {
            return 0;
        }
    }
    *pidx = (size_t)apr_atoi64(tok);
    return 1;
}

/* Evaluate path (starting with "/" or empty) on v; new reference or NULL.
 * *pwork counts the values visited and the items "*" collects; evaluation
 * stops (NULL, *pwork > limit) when it passes limit, so a reference into a
 * large or self-similar answer costs bounded work. */
static json_t *pointer_eval(json_t *v, const char *path, apr_size_t *pwork,
                            apr_size_t limit, apr_pool_t *p)
{
    const char *slash;
    char *tok;
    size_t n, idx, i;

    if (++*pwork > limit) {
        return NULL;
    }
    if (!*path) {
        return json_incref(v);
    }
    if (*path != '/') {
        return NULL;
    }
    path++;
    slash = strchr(path, '/');
    n = slash ? (size_t)(slash - path) : strlen(path);
    if (!(tok = pointer_token(path, n, p))) {
        return NULL;
    }
    path += n;
    if (json_is_array(v)) {
        if (strcmp(tok, "*") == 0) {
            /* map over items; arrays that result are flattened (§3.7) */
            json_t *out = json_array(), *item, *r;
            json_array_foreach(v, i, item) {
                if (!(r = pointer_eval(item, path, pwork, limit, p))) {
                    json_decref(out);
                    return NULL;
                }
                if (json_is_array(r)) {
                    *pwork += json_array_size(r);
                    if (*pwork > limit) {
                        json_decref(r);
                        json_decref(out);
                        return NULL;
                    }
                    json_array_extend(out, r);
                    json_decref(r);
                }
                else {
                    json_array_append_new(out, r);
                }
            }
            return out;
        }
        if (!array_index(tok, &idx) || idx >= json_array_size(v)) {
            return NULL;
        }
        return pointer_eval(json_array_get(v, idx), path, pwork, limit, p);
    }
    if (json_is_object(v)) {
        json_t *child = json_object_get(v, tok);
        return child ? pointer_eval(child, path, pwork, limit, p) : NULL;
    }
    return NULL;
}

/* The method-level error for a call whose answer, or whose resolved
 * arguments, would pass JMAPMaxSizeResponse (documented in the README):
 * requestTooLarge tells the client what to do, ask for less. */
static json_t *too_large(const jm_budget_t *budget, apr_pool_t *p)
{
    return jm_error_method("requestTooLarge", apr_psprintf(p,
        "The response would be larger than %" APR_SIZE_T_FMT " bytes (this "
        "server's limit for one request); ask for fewer objects or "
        "properties, or split the request.", budget->response_max));
}

/* Replace every "#name": ResultReference in args by its value. Returns an
 * error object (new ref) on failure, NULL on success. */
static json_t *resolve_references(json_t *args, json_t *responses,
                                  jm_budget_t *budget, jm_raw_t *raw,
                                  apr_pool_t *p)
{
    const char *key;
    json_t *ref, *refs = json_object();
    void *tmp;

    json_object_foreach_safe(args, tmp, key, ref) {
        if (key[0] == '#') {
            json_object_set(refs, key, ref);
        }
    }
    json_object_foreach(refs, key, ref) {
        json_t *rof, *rname, *rpath, *resp, *found = NULL, *value;
        const char *msg;    /* key lives in refs: made before refs is released */
        apr_size_t work;
        size_t i;

        if (json_object_get(args, key + 1)) {
            msg = apr_psprintf(p, "Both \"%s\" and \"%s\" are given.", key + 1, key);
            json_decref(refs);
            return jm_error_method("invalidArguments", msg);
        }
        rof = json_object_get(ref, "resultOf");
        rname = json_object_get(ref, "name");
        rpath = json_object_get(ref, "path");
        if (!json_is_object(ref) || !json_is_string(rof) || !json_is_string(rname)
            || !json_is_string(rpath)) {
            msg = apr_psprintf(p, "\"%s\" is not a ResultReference "
                               "{resultOf, name, path}.", key);
            json_decref(refs);
            return jm_error_method("invalidResultReference", msg);
        }
        /* the first response with this call id (§3.7) */
        json_array_foreach(responses, i, resp) {
            if (strcmp(json_string_value(json_array_get(resp, 2)),
                       json_string_value(rof)) == 0) {
                found = resp;
                break;
            }
        }
        if (!found || strcmp(json_string_value(json_array_get(found, 0)),
                             json_string_value(rname)) != 0) {
            json_decref(refs);
            return jm_error_method("invalidResultReference", apr_psprintf(p,
                "No \"%s\" response with id \"%s\" precedes this call.",
                json_string_value(rname), json_string_value(rof)));
        }
        /* raw fragments (jm_raw.h) in that answer are parsed back first:
         * the path may lead into them */
        if (jm_raw_resolve(raw, json_array_get(found, 1)) != 0) {
            json_decref(refs);
            return jm_error_method("serverFail", "A result this reference "
                                   "points into could not be read back.");
        }
        work = 0;
        value = pointer_eval(json_array_get(found, 1), json_string_value(rpath),
                             &work, budget->response_left, p);
        if (!value && work > budget->response_left) {
            json_decref(refs);
            return too_large(budget, p);
        }
        /* the value is copied into these arguments: it is built, and pays
         * from the same budget as the answer it will most likely become */
        if (!jm_budget_take_response(budget, value)) {
            json_decref(value);
            json_decref(refs);
            return too_large(budget, p);
        }
        if (!value) {
            json_decref(refs);
            return jm_error_method("invalidResultReference", apr_psprintf(p,
                "Path \"%s\" does not resolve in the \"%s\" result.",
                json_string_value(rpath), json_string_value(rname)));
        }
        json_object_del(args, key);
        json_object_set_new(args, key + 1, value);
    }
    json_decref(refs);
    return NULL;
}

/* ---- dispatch ---------------------------------------------------------- */

apr_status_t jm_call_error(jm_call_t *call, const char *type, const char *fmt, ...)
{
    va_list ap;
    const char *d = NULL;

    if (fmt) {
        va_start(ap, fmt);
        d = apr_pvsprintf(call->pool, fmt, ap);
        va_end(ap);
    }
    json_decref(call->error);
    call->error = jm_error_method(type, d);
    return APR_SUCCESS;
}

const char *jm_call_resolve_id(jm_call_t *call, const char *id)
{
    json_t *v;

    if (!id || id[0] != '#') {
        return id;
    }
    v = json_object_get(call->created_ids, id + 1);
    return v ? apr_pstrdup(call->pool, json_string_value(v)) : NULL;
}

void jm_call_add_created(jm_call_t *call, const char *creation_id, const char *id)
{
    json_object_set_new(call->created_ids, creation_id, json_string(id));
}

/* RFC 8620 §5.1: an id given twice is answered once. */
static json_t *dedupe_ids(json_t *ids, apr_pool_t *p)
{
    json_t *out = jm_json_own(p, json_array()), *seen = json_object(), *v;
    size_t i;

    json_array_foreach(ids, i, v) {
        if (!json_object_get(seen, json_string_value(v))) {
            json_object_set_new(seen, json_string_value(v), json_true());
            json_array_append(out, v);
        }
    }
    json_decref(seen);
    return out;
}

int jm_call_check_get_args(jm_call_t *call, json_t **pids, json_t **pprops)
{
    json_t *ids = json_object_get(call->args, "ids");
    json_t *props = json_object_get(call->args, "properties");
    json_t *v;
    size_t i;

    if (ids && !json_is_null(ids)) {
        if (!json_is_array(ids)) {
            jm_call_error(call, "invalidArguments", "\"ids\" must be an array of Ids or null.");
            return 0;
        }
        json_array_foreach(ids, i, v) {
            if (!json_is_string(v)) {
                jm_call_error(call, "invalidArguments", "\"ids\"[%lu] is not a string.",
                              (unsigned long)i);
                return 0;
            }
        }
        if ((long)json_array_size(ids) > call->ctx->limits->max_objects_in_get) {
            jm_call_error(call, "requestTooLarge",
                          "%lu ids requested; maxObjectsInGet is %ld.",
                          (unsigned long)json_array_size(ids),
                          call->ctx->limits->max_objects_in_get);
            return 0;
        }
        ids = dedupe_ids(ids, call->pool);
    }
    else {
        ids = NULL;
    }
    if (props && !json_is_null(props)) {
        if (!json_is_array(props)) {
            jm_call_error(call, "invalidArguments", "\"properties\" must be an array of strings or null.");
            return 0;
        }
        json_array_foreach(props, i, v) {
            if (!json_is_string(v)) {
                jm_call_error(call, "invalidArguments", "\"properties\"[%lu] is not a string.",
                              (unsigned long)i);
                return 0;
            }
        }
    }
    else {
        props = NULL;
    }
    *pids = ids;
    *pprops = props;
    return 1;
}

json_t *jm_get_project(json_t *obj, json_t *props)
{
    json_t *out, *v;
    size_t i;

    if (!props) {
        return obj;
    }
    out = json_pack("{s:O}", "id", json_object_get(obj, "id"));
    json_array_foreach(props, i, v) {
        json_t *val = json_object_get(obj, json_string_value(v));
        if (val) {
            json_object_set(out, json_string_value(v), val);
        }
    }
    json_decref(obj);
    return out;
}

int jm_call_check_props(jm_call_t *call, json_t *props,
                        const char *const *known, const char *type)
{
    const char *const *k;
    json_t *v;
    size_t i;

    json_array_foreach(props, i, v) {
        for (k = known; *k && strcmp(*k, json_string_value(v)) != 0; k++)
            ;
        if (!*k) {
            jm_call_error(call, "invalidArguments", "Unknown %s property \"%s\".",
                          type, json_string_value(v));
            return 0;
        }
    }
    return 1;
}

static int using_has(json_t *using, const char *cap)
{
    json_t *v;
    size_t i;

    json_array_foreach(using, i, v) {
        if (strcmp(json_string_value(v), cap) == 0) {
            return 1;
        }
    }
    return 0;
}

int jm_call_uses(const jm_call_t *call, const char *cap)
{
    return json_is_array(call->using) && using_has(call->using, cap);
}

static int has_references(json_t *args)
{
    const char *key;
    json_t *v;

    json_object_foreach(args, key, v) {
        if (key[0] == '#') {
            return 1;
        }
    }
    return 0;
}

/* Take the answer of a successful call from the response budget: 0 when
 * it does not fit and the method wrote nothing (the caller answers with
 * requestTooLarge). The name and call id are small and not counted. */
static int charge_answer(jm_ctx_t *ctx, const jm_method_t *m, jm_call_t *call)
{
    jm_budget_t *b = &ctx->budget;
    apr_size_t n = jm_raw_size_bounded(ctx->raw, call->result, b->response_left);

    if (n <= b->response_left && call->extra_responses) {
        n += jm_raw_size_bounded(ctx->raw, call->extra_responses,
                                 b->response_left - n);
    }
    if (n > b->response_left) {
        if (!(m->flags & JM_METHOD_WRITES)) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, call->pool, JMLOGNO(01022)
                          "%.100s (%.100s) for %s: answer over JMAPMaxSizeResponse (%"
                          APR_SIZE_T_FMT " bytes)", call->name, call->call_id,
                          jm_ctx_self(ctx)->username, b->response_max);
            return 0;
        }
        b->response_left = 0;
        return 1;
    }
    b->response_left -= n;
    return 1;
}

/* Run one call and append its response(s). Methods treat call->args as
 * read-only, so it is copied only when result references rewrite it. */
static void run_call(json_t *responses, jm_ctx_t *ctx, json_t *using,
                     json_t *invocation, json_t *created_ids)
{
    const char *name = json_string_value(json_array_get(invocation, 0));
    const char *call_id = json_string_value(json_array_get(invocation, 2));
    json_t *args = has_references(json_array_get(invocation, 1))
        ? json_deep_copy(json_array_get(invocation, 1))  /* resolved in place */
        : json_incref(json_array_get(invocation, 1));
    const jm_method_t *m = jm_methods_find(name);
    jm_ctx_t cctx;
    jm_call_t call;
    json_t *err = NULL;
    apr_status_t rv;

    memset(&call, 0, sizeof(call));
    call.ctx = ctx;
    call.name = name;
    call.call_id = call_id;
    call.args = args;
    call.created_ids = created_ids;
    call.using = using;
    apr_pool_create(&call.pool, ctx->pool);

    if (!m || !using_has(using, m->capability)) {
        /* §3.6.2: unknown, or its capability not in "using" */
        err = jm_error_method("unknownMethod", apr_psprintf(call.pool,
                m ? "%s needs capability %s in \"using\"." : "Unknown method %s.",
                name, m ? m->capability : ""));
    }
    else if ((err = resolve_references(args, responses, &ctx->budget,
                                       ctx->raw, call.pool)) != NULL) {
        /* err set */
    }
    else if (m->flags & JM_METHOD_NEEDS_ACCOUNT) {
        json_t *acc = json_object_get(args, "accountId");
        jm_account_t *target = json_is_string(acc)
            ? jm_ctx_find_account(ctx, json_string_value(acc)) : NULL;
        if (!json_is_string(acc)) {
            err = jm_error_method("invalidArguments", "\"accountId\" must be a string.");
        }
        else if (!target) {
            /* own or shared with this user; any other is not there for it */
            err = jm_error_method("accountNotFound", apr_psprintf(call.pool,
                    "No account \"%s\" for this user.", json_string_value(acc)));
        }
        else if ((m->flags & JM_METHOD_WRITES) && target->read_only) {
            err = jm_error_method("accountReadOnly", apr_psprintf(call.pool,
                    "Account \"%s\" is read-only.", json_string_value(acc)));
        }
        else {
            /* the method sees the account it names; the request's ctx
             * (and its own account) stays as it is */
            jm_ctx_for_account(&cctx, ctx, target);
            call.ctx = &cctx;
        }
    }
    if (!err) {
        rv = m->fn(&call);
        if (call.ctx != ctx) {
            jm_ctx_return(ctx, call.ctx);
        }
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, call.pool,
                          JMLOGNO(01020) "%s failed for user %s", name,
                          jm_ctx_self(ctx)->username);
            json_decref(call.result);
            call.result = NULL;
            json_decref(call.error);
            /* APR_TIMEUP: the store stayed busy (jm_db_begin), retryable */
            call.error = APR_STATUS_IS_TIMEUP(rv)
                ? jm_error_method("serverUnavailable", "The store is busy; try again.")
                : jm_error_method("serverFail",
                "The server could not process this call; the error log has details.");
        }
        if (call.error) {
            err = call.error;
            call.error = NULL;
            json_decref(call.result);
            call.result = NULL;
        }
        else if (!charge_answer(ctx, m, &call)) {
            /* a call that changed nothing gets an error instead of its
             * answer; one that wrote keeps its answer (bounded by
             * maxObjectsInSet), as the changes are made */
            err = too_large(&ctx->budget, call.pool);
            json_decref(call.result);
            call.result = NULL;
            json_decref(call.extra_responses);
            call.extra_responses = NULL;
        }
    }
    if (err) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, 0, call.pool,
                      JMLOGNO(01021) "%.100s (%.100s): %s %.300s", name, call_id,
                      json_string_value(json_object_get(err, "type")),
                      json_string_value(json_object_get(err, "description"))
                      ? json_string_value(json_object_get(err, "description")) : "");
        json_array_append_new(responses, json_pack("[s,o,s]", "error", err, call_id));
    }
    else {
        json_array_append_new(responses, json_pack("[s,o,s]", name,
                              call.result ? call.result : json_object(), call_id));
        if (call.extra_responses) {
            size_t i;
            json_t *r;
            json_array_foreach(call.extra_responses, i, r) {
                json_array_append_new(responses, json_pack("[s,O,s]",
                    json_string_value(json_array_get(r, 0)),
                    json_array_get(r, 1), call_id));
            }
            json_decref(call.extra_responses);
        }
    }
    json_decref(args);
    apr_pool_destroy(call.pool);
}

void jm_request_process(json_t **presponse, jm_problem_t **pproblem,
                        jm_ctx_t *ctx, const char *body, apr_size_t len)
{
    json_error_t jerr;
    json_t *req, *calls, *inv, *responses, *created, *resp;
    jm_problem_t *pr;
    size_t i;

    *presponse = NULL;
    *pproblem = NULL;
    /* I-JSON (RFC 7493): UTF-8 (jansson checks), no duplicate names */
    req = jm_json_own(ctx->pool, json_loadb(body, len,
                                            JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr));
    if (!req) {
        *pproblem = jm_problem(ctx->pool, 400, "notJSON", NULL,
                               "The request did not parse as I-JSON: %s "
                               "(line %d, column %d).", jerr.text, jerr.line,
                               jerr.column);
        return;
    }
    if ((pr = check_request(req, ctx, ctx->pool)) != NULL) {
        *pproblem = pr;
        return;
    }
    calls = json_object_get(req, "methodCalls");
    created = json_object_get(req, "createdIds");
    created = created ? json_deep_copy(created) : json_object();
    responses = json_array();
    json_array_foreach(calls, i, inv) {
        run_call(responses, ctx, json_object_get(req, "using"), inv, created);
    }
    resp = json_pack("{s:o, s:s}", "methodResponses", responses,
                     "sessionState", ctx->session_state ? ctx->session_state : "");
    if (json_object_get(req, "createdIds")) {
        json_object_set(resp, "createdIds", created);
    }
    json_decref(created);
    *presponse = jm_json_own(ctx->pool, resp);
}
