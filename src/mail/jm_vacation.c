/* VacationResponse/get and /set (RFC 8621 §8) on the standard-method
 * framework: one object per account, id "singleton", stored as JSON with
 * a state of its own; create and destroy are refused with the singleton
 * SetError (RFC 8620 §5.3). Replies are decided and built at delivery
 * (mail/jm_vacation.h). */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "core/jm_util.h"
#include "mail/jm_vacation.h"
#include "mail/jm_identity.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"
#include "store/jm_store.h"

#define SET_   JM_PROP_SERVER_SET
#define DEF_   JM_PROP_DEFAULT_GET
#define NUL_   JM_PROP_NULLABLE

/** Bytes of the subject and of each body (a policy bound). */
#define MAX_SUBJECT 998
#define MAX_BODY    (256 * 1024)

static const jm_prop_t vacation_props[] = {
    { "id",        JM_PT_ID,      SET_ | JM_PROP_IMMUTABLE | DEF_ | JM_PROP_ALWAYS_GET },
    { "isEnabled", JM_PT_BOOL,    DEF_ },
    { "fromDate",  JM_PT_UTCDATE, DEF_ | NUL_ },
    { "toDate",    JM_PT_UTCDATE, DEF_ | NUL_ },
    { "subject",   JM_PT_STRING,  DEF_ | NUL_ },
    { "textBody",  JM_PT_STRING,  DEF_ | NUL_ },
    { "htmlBody",  JM_PT_STRING,  DEF_ | NUL_ },
    { NULL, 0, 0 }
};

static const char *const value_props[] = {
    "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody", NULL
};

/* The object as stored, with every property (defaults for those never
 * set: disabled, everything else null). */
static apr_status_t load(json_t **pobj, jm_call_t *call)
{
    const char *data;
    apr_status_t rv;
    json_t *o = NULL, *out;
    int i;

    if ((rv = jm_store_vacation_get(&data, call->ctx->db, call->ctx->account->id,
                                    call->pool)) != APR_SUCCESS) {
        return rv;
    }
    /* json_is_object evaluates its argument twice: load first */
    if (data) {
        o = json_loads(data, 0, NULL);
    }
    if (data && !json_is_object(o)) {
        json_decref(o);
        return APR_EGENERAL;
    }
    out = json_pack("{s:s, s:b}", "id", "singleton", "isEnabled",
                    json_is_true(json_object_get(o, "isEnabled")));
    for (i = 1; value_props[i]; i++) {
        json_t *v = json_object_get(o, value_props[i]);
        json_object_set(out, value_props[i], json_is_string(v) ? v : json_null());
    }
    json_decref(o);
    *pobj = out;
    return APR_SUCCESS;
}

static apr_status_t state_of(const char **pstate, jm_call_t *call)
{
    return jm_store_state_ensure(pstate, call->ctx->db, call->ctx->account->id,
                                 JM_TYPE_VACATION, call->pool);
}

/* ---- VacationResponse/get ---------------------------------------------- */

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    return state_of(pstate, get->call);
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    json_t *obj;
    apr_status_t rv;
    int i, wanted = !ids;

    (void)offset;
    (void)after;
    (void)limit;
    for (i = 0; ids && i < ids->nelts; i++) {
        wanted |= !strcmp(APR_ARRAY_IDX(ids, i, const char *), "singleton");
    }
    if (!wanted) {
        return APR_SUCCESS;
    }
    if ((rv = load(&obj, get->call)) != APR_SUCCESS) {
        return rv;
    }
    json_array_append_new(list, obj);
    return APR_SUCCESS;
}

static const jm_get_type_t get_type = {
    "VacationResponse", vacation_props, NULL, get_state, get_fetch, 0, 0, NULL, NULL
};

apr_status_t jm_vacation_get(jm_call_t *call)
{
    return jm_std_get(call, &get_type, NULL);
}

/* ---- VacationResponse/set ---------------------------------------------- */

static json_t *invalid(apr_pool_t *p, const char *prop, const char *why)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", prop), "%s", why);
}

/* Every value of the object it would become (types are checked by the
 * framework); a SetError or NULL. */
static json_t *check(jm_call_t *call, json_t *o)
{
    apr_pool_t *p = call->pool;
    const char *s;
    apr_time_t from = 0, to = 0;
    json_t *v;
    int i;

    if ((v = json_object_get(o, "fromDate")) && json_is_string(v)) {
        jm_util_parse_date(json_string_value(v), 1, &from);
    }
    if ((v = json_object_get(o, "toDate")) && json_is_string(v)) {
        jm_util_parse_date(json_string_value(v), 1, &to);
    }
    if (from && to && to <= from) {
        return invalid(p, "toDate", "toDate must be after fromDate.");
    }
    if ((s = json_string_value(json_object_get(o, "subject")))) {
        if (strlen(s) > MAX_SUBJECT) {
            return invalid(p, "subject", "The subject is longer than 998 octets.");
        }
        for (i = 0; s[i]; i++) {
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
                return invalid(p, "subject", "The subject has a control character.");
            }
        }
    }
    for (i = 4; value_props[i]; i++) {
        if ((s = json_string_value(json_object_get(o, value_props[i])))
            && strlen(s) > MAX_BODY) {
            return invalid(p, value_props[i], "A body is at most 262144 octets.");
        }
    }
    return NULL;
}

static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    return state_of(pstate, set->call);
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    (void)cid;
    (void)obj;
    (void)pcreated;
    *perr = jm_set_error(set->call->pool, "singleton", NULL, "There is exactly one "
                         "VacationResponse, \"singleton\": update it.");
    return APR_SUCCESS;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    *pobj = NULL;
    return strcmp(id, "singleton") ? APR_SUCCESS : load(pobj, set->call);
}

static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    jm_call_t *call = set->call;
    json_t *store;
    int i;

    (void)id;
    (void)patch;
    *pchanged = NULL;
    if ((*perr = check(call, updated))) {
        return APR_SUCCESS;
    }
    /* null resets isEnabled to false, the others to null (§5.3) */
    store = jm_json_own(call->pool, json_pack("{s:b}", "isEnabled",
                        json_is_true(json_object_get(updated, "isEnabled"))));
    for (i = 1; value_props[i]; i++) {
        json_t *v = json_object_get(updated, value_props[i]);
        json_object_set(store, value_props[i], json_is_string(v) ? v : json_null());
    }
    return jm_store_vacation_put(call->ctx->db, call->ctx->account->id,
                                 jm_json_dump(store, call->pool), call->pool);
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    *perr = jm_set_error(set->call->pool, strcmp(id, "singleton") ? "notFound"
                         : "singleton", NULL, "The VacationResponse cannot be "
                         "destroyed: set isEnabled to false.");
    return APR_SUCCESS;
}

static const jm_set_type_t set_type = {
    "VacationResponse", vacation_props, NULL, set_state, set_create, set_lookup,
    set_update, set_destroy, 0
};

apr_status_t jm_vacation_set(jm_call_t *call)
{
    jm_db_t *db = call->ctx->db;
    jm_set_t set;
    apr_status_t rv;

    if (!jm_set_parse(&set, call, &set_type, NULL)) {
        return APR_SUCCESS;
    }
    /* the addresses delivery knows the account by (its own, not to be
     * answered; who it is addressed as) are the identities': make sure
     * the defaults are there (an unreachable directory only means fewer) */
    if (call->ctx->account == jm_ctx_self(call->ctx)) {
        (void)jm_identity_ensure_defaults(call);
    }
    if ((rv = jm_db_begin(db, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = jm_set_run(&set)) != APR_SUCCESS || call->error) {
        jm_db_rollback(db);
        return rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        return rv;
    }
    jm_set_reply(&set);
    return APR_SUCCESS;
}
