/* What a StateChange says (RFC 8620 §7.1): the states of every account the
 * user may use now, and what changed since the last push. */
#include <string.h>
#include "push/jm_webpush.h"
#include "store/jm_store.h"
#include "store/jm_store_push.h"
#include "core/jm_account.h"

static const jm_push_conf_t defaults = {
    20,                 /* JMAPPushMaxSubscriptions */
    20,                 /* JMAPPushMaxCreatePerHour */
    7 * 86400,          /* JMAPPushMaxExpiry: RFC 8620 §7.2 SHOULD be >= 7 days */
    0, NULL,
    5000, 10000,        /* JMAPPushConnectTimeout, JMAPPushTimeout */
    86400,              /* JMAPPushTTL */
    50,                 /* JMAPPushBatch */
    3600,               /* JMAPPushRetryMax */
    1000,               /* a verified subscription is looked at every second */
    NULL, NULL, NULL
};

const jm_push_conf_t *jm_push_conf_default(void)
{
    return &defaults;
}

apr_status_t jm_push_account_states(json_t **pstates, jm_db_t *db,
                                    const apr_array_header_t *accounts, apr_pool_t *p)
{
    json_t *all = json_object(), *one;
    apr_status_t rv;
    int i;

    for (i = 0; i < accounts->nelts; i++) {
        const char *id = APR_ARRAY_IDX(accounts, i, const char *);
        if ((rv = jm_store_push_states(&one, db, id, p)) != APR_SUCCESS) {
            json_decref(all);
            return rv;
        }
        json_object_set_new(all, id, one);
    }
    *pstates = all;
    return APR_SUCCESS;
}

apr_status_t jm_push_current_states(json_t **pstates, jm_db_t *db, const char *user,
                                    const jm_push_env_t *env, apr_pool_t *p)
{
    apr_array_header_t *ids = apr_array_make(p, 4, sizeof(const char *)), *shared = NULL;
    const char *own = NULL;
    apr_status_t rv;
    int i;

    if ((rv = jm_store_account_find(&own, db, user, p)) != APR_SUCCESS) {
        return rv;
    }
    if (own) {
        APR_ARRAY_PUSH(ids, const char *) = own;
    }
    /* access as the configuration gives it now: a share removed since the
     * subscription was made no longer counts (RFC 8620 §7.1 "accounts to
     * which the user has access") */
    if (env->shares && env->shares->nelts
        && (rv = jm_account_load_shared(&shared, db, user, env->shares,
                                        env->ro_users, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; shared && i < shared->nelts; i++) {
        APR_ARRAY_PUSH(ids, const char *) = APR_ARRAY_IDX(shared, i, jm_account_t *)->id;
    }
    return jm_push_account_states(pstates, db, ids, p);
}

static int type_wanted(const json_t *types, const char *type)
{
    const json_t *v;
    size_t i;

    if (!json_is_array(types)) {
        return 1;
    }
    json_array_foreach(types, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), type) == 0) {
            return 1;
        }
    }
    return 0;
}

json_t *jm_push_changed(const json_t *current, const json_t *pushed,
                        const json_t *types)
{
    json_t *changed = json_object(), *states, *st;
    const char *acc, *type;

    json_object_foreach((json_t *)current, acc, states) {
        json_t *before = json_object_get(pushed, acc), *mine = NULL;
        json_object_foreach(states, type, st) {
            json_t *was = json_object_get(before, type);
            if (!type_wanted(types, type) || (was && json_equal(was, st))) {
                continue;
            }
            if (!mine) {
                mine = json_object();
                json_object_set_new(changed, acc, mine);
            }
            json_object_set(mine, type, st);
        }
    }
    return changed;
}
