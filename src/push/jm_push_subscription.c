/* PushSubscription/get and /set (RFC 8620 §7.2) on the standard-method
 * framework, in its mode without an account: subscriptions belong to the
 * authenticated user (§7.2: "tied to the credentials"). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/rand.h>
#include "push/jm_webpush.h"
#include "push/jm_push_crypto.h"
#include "push/jm_push_target.h"
#include "store/jm_store_push.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"
#include "core/jm_util.h"

static const jm_prop_t props[] = {
    { "id",               JM_PT_ID,      JM_PROP_SERVER_SET | JM_PROP_IMMUTABLE
                                         | JM_PROP_ALWAYS_GET },
    { "deviceClientId",   JM_PT_STRING,  JM_PROP_IMMUTABLE | JM_PROP_DEFAULT_GET },
    /* §7.2.1: never returned, not even by default */
    { "url",              JM_PT_STRING,  JM_PROP_IMMUTABLE },
    { "keys",             JM_PT_OBJECT,  JM_PROP_IMMUTABLE | JM_PROP_NULLABLE },
    { "verificationCode", JM_PT_STRING,  JM_PROP_NULLABLE | JM_PROP_DEFAULT_GET },
    { "expires",          JM_PT_UTCDATE, JM_PROP_NULLABLE | JM_PROP_DEFAULT_GET },
    { "types",            JM_PT_ARRAY,   JM_PROP_NULLABLE | JM_PROP_DEFAULT_GET },
    { NULL, 0, 0 }
};

static const jm_push_conf_t *conf_of(const jm_call_t *call)
{
    return call->ctx->push ? call->ctx->push : jm_push_conf_default();
}

static const char *user_of(const jm_call_t *call)
{
    return jm_ctx_self(call->ctx)->username;
}

static json_t *row_json(const jm_push_row_t *r, apr_pool_t *p)
{
    json_t *types = *r->types ? json_loads(r->types, 0, NULL) : NULL;
    json_t *keys = *r->p256dh ? json_pack("{s:s, s:s}", "p256dh", r->p256dh,
                                          "auth", r->auth) : json_null();

    return json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s, s:o}",
        "id", r->id, "deviceClientId", r->device_client_id, "url", r->url,
        "keys", keys,
        /* the code as the client set it; null until then (§7.2) */
        "verificationCode", r->verified ? r->code_sent : NULL,
        "expires", jm_util_utcdate(apr_time_from_sec(r->expires), p),
        "types", types ? types : json_null());
}

/* ---- /get --------------------------------------------------------------- */

static int get_args(jm_get_t *get)
{
    /* §7.2.1: asking for url or keys is forbidden */
    if (jm_get_wants(get, "url") || jm_get_wants(get, "keys")) {
        jm_call_error(get->call, "forbidden", "url and keys of a PushSubscription "
                      "are never returned (RFC 8620 §7.2.1).");
        return 0;
    }
    return 1;
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    jm_call_t *call = get->call;
    apr_array_header_t *rows;
    apr_status_t rv;
    int i, j;

    (void)offset; (void)after; (void)limit;    /* batch 0: all at once */
    if ((rv = jm_store_push_list(&rows, call->ctx->db, user_of(call), call->pool))
        != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        const jm_push_row_t *r = APR_ARRAY_IDX(rows, i, jm_push_row_t *);
        int take = !ids;
        for (j = 0; ids && j < ids->nelts && !take; j++) {
            take = strcmp(APR_ARRAY_IDX(ids, j, const char *), r->id) == 0;
        }
        if (take) {
            json_array_append_new(list, row_json(r, call->pool));
        }
    }
    return APR_SUCCESS;
}

static const jm_get_type_t get_type = {
    "PushSubscription", props, NULL, NULL, get_fetch, JM_GET_NO_ACCOUNT, 0,
    NULL, get_args
};

apr_status_t jm_push_subscription_get(jm_call_t *call)
{
    return jm_std_get(call, &get_type, NULL);
}

/* ---- /set --------------------------------------------------------------- */

static json_t *invalid(apr_pool_t *p, const char *prop, const char *why)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", prop), "%s: %s.",
                        prop, why);
}

/* types: null, or a list of type names (§7.2) */
static int types_ok(const json_t *v)
{
    const json_t *t;
    size_t i;

    if (json_is_null(v)) {
        return 1;
    }
    json_array_foreach(v, i, t) {
        const char *s = json_string_value(t);
        if (!s || !jm_util_is_valid_id(s)) {
            return 0;
        }
    }
    return 1;
}

/* expires (§7.2): null gets the server's maximum, a time past the maximum
 * is brought back to it, a time already past is refused. */
static int expires_of(apr_int64_t *pexp, const json_t *v, const jm_push_conf_t *c,
                      const char **pwhy)
{
    apr_int64_t now = apr_time_sec(apr_time_now()), max = now + c->max_expiry;
    apr_time_t t;

    if (!v || json_is_null(v)) {
        *pexp = max;
        return 1;
    }
    if (jm_util_parse_date(json_string_value(v), 1, &t) != 0) {
        return *pwhy = "not a UTCDate", 0;
    }
    if (apr_time_sec(t) <= now) {
        return *pwhy = "in the past", 0;
    }
    *pexp = apr_time_sec(t) > max ? max : apr_time_sec(t);
    return 1;
}

/* keys (§7.2, RFC 8291 §3): p256dh a P-256 point, auth 16 octets */
static int keys_ok(const json_t *keys, const char **pwhy, apr_pool_t *p)
{
    const char *pk = json_string_value(json_object_get(keys, "p256dh"));
    const char *auth = json_string_value(json_object_get(keys, "auth"));
    unsigned char *raw;
    apr_size_t n = 0;

    if (json_object_size(keys) != 2 || !pk || !auth) {
        return *pwhy = "must have exactly p256dh and auth, both strings", 0;
    }
    if (!(raw = jm_push_unb64url(pk, &n, p)) || !jm_push_pubkey(raw, n, p)) {
        return *pwhy = "p256dh is not a base64url uncompressed P-256 public key", 0;
    }
    if (!(raw = jm_push_unb64url(auth, &n, p)) || n != JM_PUSH_AUTH_LEN) {
        return *pwhy = "auth is not 16 octets in base64url", 0;
    }
    return 1;
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    jm_call_t *call = set->call;
    apr_pool_t *p = call->pool;
    const jm_push_conf_t *c = conf_of(call);
    json_t *keys = json_object_get(obj, "keys"), *types = json_object_get(obj, "types");
    const char *url = json_string_value(json_object_get(obj, "url")), *why = NULL;
    jm_push_row_t row;
    jm_push_target_t t;
    unsigned char code[16];
    int over = 0;
    apr_status_t rv;

    (void)cid;
    memset(&row, 0, sizeof(row));
    if (!json_is_string(json_object_get(obj, "deviceClientId"))) {
        return *perr = invalid(p, "deviceClientId", "required"), APR_SUCCESS;
    }
    if (!url) {
        return *perr = invalid(p, "url", "required"), APR_SUCCESS;
    }
    if (json_object_get(obj, "verificationCode")
        && !json_is_null(json_object_get(obj, "verificationCode"))) {
        /* §7.2: "MUST be null (or omitted) when the subscription is created" */
        return *perr = invalid(p, "verificationCode", "must be null on create"),
               APR_SUCCESS;
    }
    if (keys && !json_is_null(keys) && !keys_ok(keys, &why, p)) {
        return *perr = invalid(p, "keys", why), APR_SUCCESS;
    }
    if (types && !types_ok(types)) {
        return *perr = invalid(p, "types", "not a list of type names"), APR_SUCCESS;
    }
    if (!expires_of(&row.expires, json_object_get(obj, "expires"), c, &why)) {
        return *perr = invalid(p, "expires", why), APR_SUCCESS;
    }
    if (!jm_push_url_check(&t, url, &why, p)
        || jm_push_target_resolve(&t, c->allow_private, &why, p) != APR_SUCCESS) {
        return *perr = invalid(p, "url", why), APR_SUCCESS;
    }
    if (RAND_bytes(code, sizeof(code)) != 1) {
        return APR_EGENERAL;
    }
    row.id = jm_util_new_id('P', p);
    row.username = user_of(call);
    row.device_client_id = json_string_value(json_object_get(obj, "deviceClientId"));
    row.url = url;
    row.p256dh = json_is_object(keys)
        ? json_string_value(json_object_get(keys, "p256dh")) : "";
    row.auth = json_is_object(keys) ? json_string_value(json_object_get(keys, "auth")) : "";
    row.code_sent = jm_push_b64url(code, sizeof(code), p);
    row.types = types && !json_is_null(types) ? jm_json_dump(types, p) : "";
    row.pushed_states = "{}";
    if ((rv = jm_store_push_insert(&over, call->ctx->db, &row, c->max_subscriptions,
                                   c->max_create_per_hour,
                                   apr_time_as_msec(apr_time_now()), p)) != APR_SUCCESS) {
        return rv;
    }
    if (over == 2) {
        /* §8.6: "The rate of creation MUST also be limited"; §5.3 rateLimit */
        *perr = jm_set_error(p, "rateLimit", NULL, "A user may create at most %ld "
                             "push subscriptions in an hour; try again later.",
                             c->max_create_per_hour);
        return APR_SUCCESS;
    }
    if (over) {
        /* §8.6: the server MUST limit the subscriptions of a user; §5.3:
         * overQuota is "a server-defined limit on the number ... of objects" */
        *perr = jm_set_error(p, "overQuota", NULL, "A user may have at most %ld "
                             "push subscriptions; destroy one first.",
                             c->max_subscriptions);
        return APR_SUCCESS;
    }
    *pcreated = row_json(&row, p);
    json_object_del(*pcreated, "url");
    return APR_SUCCESS;
}

static apr_status_t find_row(const jm_push_row_t **prow, jm_set_t *set, const char *id)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    *prow = NULL;
    if ((rv = jm_store_push_list(&rows, set->call->ctx->db, user_of(set->call),
                                 set->call->pool)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(rows, i, jm_push_row_t *)->id, id)) {
            *prow = APR_ARRAY_IDX(rows, i, jm_push_row_t *);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    const jm_push_row_t *r;
    apr_status_t rv = find_row(&r, set, id);

    *pobj = rv == APR_SUCCESS && r ? row_json(r, set->call->pool) : NULL;
    return rv;
}

/* The states a verified subscription starts from: every account of this
 * request's user now, so the first StateChange tells of a later change. */
static apr_status_t baseline(const char **pstates, jm_call_t *call)
{
    apr_array_header_t *ids = apr_array_make(call->pool, 4, sizeof(const char *));
    json_t *states;
    apr_status_t rv;
    int i;

    APR_ARRAY_PUSH(ids, const char *) = jm_ctx_self(call->ctx)->id;
    for (i = 0; call->ctx->shared && i < call->ctx->shared->nelts; i++) {
        APR_ARRAY_PUSH(ids, const char *)
            = APR_ARRAY_IDX(call->ctx->shared, i, jm_account_t *)->id;
    }
    if ((rv = jm_push_account_states(&states, call->ctx->db, ids, call->pool))
        == APR_SUCCESS) {
        *pstates = jm_json_dump(states, call->pool);
        json_decref(states);
    }
    return rv;
}

static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    jm_call_t *call = set->call;
    apr_pool_t *p = call->pool;
    const char *user = user_of(call), *why = NULL, *states = NULL, *k;
    const jm_push_row_t *r;
    json_t *v;
    apr_int64_t exp = 0;
    apr_status_t rv;

    if ((rv = find_row(&r, set, id)) != APR_SUCCESS) {
        return rv;
    }
    if (!r) {
        return *perr = jm_set_error(p, "notFound", NULL, "No PushSubscription %s.", id),
               APR_SUCCESS;
    }
    /* check everything first: an update is made whole or not at all */
    json_object_foreach(patch, k, v) {
        if (!strcmp(k, "verificationCode")) {
            /* §7.2.2: a wrong code MUST be rejected with invalidProperties */
            v = json_object_get(updated, "verificationCode");
            if (!json_is_string(v) || strcmp(json_string_value(v), r->code_sent)) {
                return *perr = invalid(p, "verificationCode", "not the code sent"),
                       APR_SUCCESS;
            }
        }
        else if (!strcmp(k, "expires")) {
            if (!expires_of(&exp, json_object_get(updated, "expires"), conf_of(call),
                            &why)) {
                return *perr = invalid(p, "expires", why), APR_SUCCESS;
            }
        }
        else if (!strcmp(k, "types") || !strncmp(k, "types/", 6)) {
            if (!types_ok(json_object_get(updated, "types"))) {
                return *perr = invalid(p, "types", "not a list of type names"),
                       APR_SUCCESS;
            }
        }
        else if (strcmp(k, "deviceClientId") && strcmp(k, "url") && strcmp(k, "keys")
                 && strncmp(k, "keys/", 5)) {
            return *perr = invalid(p, k, "cannot be changed"), APR_SUCCESS;
        }
        /* deviceClientId, url, keys: the framework let only their own
         * values through (immutable, §7.2.2) */
    }
    json_object_foreach(patch, k, v) {
        if (!strcmp(k, "verificationCode")) {
            rv = baseline(&states, call);
            rv = rv ? rv : jm_store_push_verify(call->ctx->db, user, id, states,
                                                apr_time_as_msec(apr_time_now()), p);
        }
        else if (!strcmp(k, "expires")) {
            const char *given = json_string_value(json_object_get(updated, "expires"));
            const char *stored = jm_util_utcdate(apr_time_from_sec(exp), p);
            rv = jm_store_push_set_expires(call->ctx->db, user, id, exp, p);
            if (!given || strcmp(given, stored)) {
                /* §7.2.2: the server MAY change it; the client learns so */
                *pchanged = json_pack("{s:s}", "expires", stored);
            }
        }
        else if (!strcmp(k, "types") || !strncmp(k, "types/", 6)) {
            v = json_object_get(updated, "types");
            rv = jm_store_push_set_types(call->ctx->db, user, id,
                                         json_is_array(v) ? jm_json_dump(v, p) : "", p);
        }
        if (rv == APR_NOTFOUND) {
            /* destroyed meanwhile (another request, or the worker after
             * a 404/410) */
            return *perr = jm_set_error(p, "notFound", NULL, "No PushSubscription %s.",
                                        id), APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    /* §7.2: the URL and keys are erased with the row */
    apr_status_t rv = jm_store_push_destroy(set->call->ctx->db, user_of(set->call), id,
                                            set->call->pool);

    if (rv == APR_NOTFOUND) {
        *perr = jm_set_error(set->call->pool, "notFound", NULL,
                             "No PushSubscription %s.", id);
        return APR_SUCCESS;
    }
    return rv;
}

static const jm_set_type_t set_type = {
    "PushSubscription", props, NULL, NULL, set_create, set_lookup, set_update,
    set_destroy, JM_SET_NO_ACCOUNT | JM_SET_ANSWER_CHANGED
};

apr_status_t jm_push_subscription_set(jm_call_t *call)
{
    return jm_std_set(call, &set_type, NULL);
}

json_t *jm_push_session_capability(const jm_push_conf_t *conf)
{
    /* RFC 9749 §3: the VAPID public key, uncompressed P-256, base64url */
    if (!conf || !conf->vapid_public) {
        return NULL;
    }
    return json_pack("{s:s}", "applicationServerKey", conf->vapid_public);
}
