/* The push worker's tick (RFC 8620 §7.2): claim due subscriptions, send
 * the PushVerification or the StateChange each is due, record the
 * outcome. Runs in one thread of one process per node (mod_watchdog); with
 * several nodes on one database the claim decides who sends. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/rand.h>
#include "push/jm_webpush.h"
#include "push/jm_push_crypto.h"
#include "push/jm_push_send.h"
#include "push/jm_push_target.h"
#include "store/jm_store_push.h"
#include "core/jm_log.h"

/* The next attempt after failures failed ones: 1 s, 2 s, 4 s ... up to
 * retry_max (429 too: RFC 8620 §7.2 "MUST ... reduce the frequency"). */
static apr_int64_t backoff_ms(long failures, const jm_push_conf_t *c)
{
    apr_int64_t ms = 1000;
    long i;

    for (i = 1; i < failures && ms < c->retry_max * 1000; i++) {
        ms *= 2;
    }
    return ms < c->retry_max * 1000 ? ms : c->retry_max * 1000;
}

/* The body of the push: JSON, encrypted when the subscription has keys. */
static apr_status_t body_of(const unsigned char **pbody, apr_size_t *plen, int *penc,
                            const jm_push_row_t *r, json_t *obj, apr_pool_t *p)
{
    const char *json = jm_json_dump(obj, p);
    unsigned char *ua, *auth, *out;
    apr_size_t ualen = 0, authlen = 0, outlen = 0;
    apr_status_t rv;

    *penc = 0;
    if (!*r->p256dh) {
        *pbody = (const unsigned char *)json;
        *plen = strlen(json);
        return APR_SUCCESS;
    }
    ua = jm_push_unb64url(r->p256dh, &ualen, p);
    auth = jm_push_unb64url(r->auth, &authlen, p);
    if (!ua || !auth) {
        return APR_EINVAL;
    }
    rv = jm_push_encrypt(&out, &outlen, json, strlen(json), ua, ualen, auth, authlen,
                         NULL, NULL, p);
    if (rv == APR_SUCCESS) {
        *pbody = out;
        *plen = outlen;
        *penc = 1;
    }
    return rv;
}

/* What r is due now: *pobj (NULL: nothing to send, states unchanged for
 * its types) and the states to record after a success. */
static apr_status_t due(json_t **pobj, const char **pstates, jm_db_t *db,
                        const jm_push_row_t *r, const jm_push_env_t *env,
                        apr_pool_t *p)
{
    json_t *current = NULL, *pushed, *types, *changed;
    apr_status_t rv;

    *pobj = NULL;
    *pstates = NULL;
    if (r->verify_pending) {
        /* §7.2.2: the first and, until verified, only request */
        *pobj = json_pack("{s:s, s:s, s:s}", "@type", "PushVerification",
                          "pushSubscriptionId", r->id,
                          "verificationCode", r->code_sent);
        return APR_SUCCESS;
    }
    if ((rv = jm_push_current_states(&current, db, r->username, env, p)) != APR_SUCCESS) {
        return rv;
    }
    pushed = json_loads(r->pushed_states, 0, NULL);
    types = *r->types ? json_loads(r->types, 0, NULL) : NULL;
    changed = jm_push_changed(current, pushed, types);
    *pstates = jm_json_dump(current, p);
    if (json_object_size(changed)) {
        *pobj = json_pack("{s:s, s:O}", "@type", "StateChange", "changed", changed);
    }
    json_decref(changed);
    json_decref(types);
    json_decref(pushed);
    json_decref(current);
    return APR_SUCCESS;
}

static apr_status_t one(jm_db_t *db, const jm_push_row_t *r, const char *owner,
                        const jm_push_env_t *env, apr_pool_t *p)
{
    const jm_push_conf_t *c = env->conf;
    apr_int64_t now = apr_time_as_msec(apr_time_now());
    const unsigned char *body;
    const char *states, *why = NULL;
    jm_push_target_t t;
    apr_size_t len;
    json_t *obj;
    int status = 0, enc = 0;
    apr_status_t rv;

    if ((rv = due(&obj, &states, db, r, env, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!obj) {
        return jm_store_push_checked(db, r->id, owner, states, now + c->check_ms, p);
    }
    jm_json_own(p, obj);
    if ((rv = body_of(&body, &len, &enc, r, obj, p)) != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(13000)
                      "push subscription %s of %s: cannot encrypt the push",
                      r->id, r->username);
        return jm_store_push_retry(db, r->id, owner, r->failures + 1,
                                   now + backoff_ms(r->failures + 1, c), p);
    }
    /* the address is checked again at each send and the request pinned to
     * what was checked (DNS rebinding) */
    if (!jm_push_url_check(&t, r->url, &why, p)
        || (rv = jm_push_target_resolve(&t, c->allow_private, &why, p)) != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(13001)
                      "push subscription %s of %s: not sent: %s", r->id, r->username,
                      why);
        return jm_store_push_retry(db, r->id, owner, r->failures + 1,
                                   now + backoff_ms(r->failures + 1, c), p);
    }
    rv = jm_push_post(&status, &why, c, &t, body, len, enc, p);
    now = apr_time_as_msec(apr_time_now());
    if (status >= 200 && status < 300) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, 0, p, JMLOGNO(13002)
                      "push subscription %s of %s: %s delivered (%d)", r->id,
                      r->username, r->verify_pending ? "PushVerification"
                      : "StateChange", status);
        return r->verify_pending ? jm_store_push_verify_sent(db, r->id, owner, now, p)
                                 : jm_store_push_checked(db, r->id, owner, states,
                                                         now + c->check_ms, p);
    }
    if (status == 404 || status == 410) {
        /* RFC 8030 §7.3: the subscription is gone at the push service */
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(13003)
                      "push subscription %s of %s: the push service answered %d; "
                      "deleted", r->id, r->username, status);
        return jm_store_push_gone(db, r->id, owner, p);
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, rv, p, JMLOGNO(13004)
                  "push subscription %s of %s: attempt %ld failed (%s); next in %"
                  APR_INT64_T_FMT " ms", r->id, r->username, r->failures + 1,
                  status ? apr_psprintf(p, "HTTP %d", status) : why,
                  backoff_ms(r->failures + 1, c));
    return jm_store_push_retry(db, r->id, owner, r->failures + 1,
                               now + backoff_ms(r->failures + 1, c), p);
}

apr_status_t jm_push_tick(int *pdone, jm_db_t *db, const jm_push_env_t *env,
                          apr_pool_t *p)
{
    const jm_push_conf_t *c = env->conf;
    apr_int64_t now = apr_time_as_msec(apr_time_now());
    unsigned char rnd[8];
    apr_array_header_t *rows;
    const char *owner;
    apr_status_t rv;
    int i;

    *pdone = 0;
    if ((rv = jm_store_push_expire(db, now / 1000, p)) != APR_SUCCESS) {
        return rv;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return APR_EGENERAL;
    }
    /* a lease per tick: long enough for every send of the batch, after
     * which another node may take what this one did not finish */
    owner = apr_pstrcat(p, env->node ? env->node : "", ":",
                        jm_push_b64url(rnd, sizeof(rnd), p), NULL);
    if ((rv = jm_store_push_claim(&rows, db, owner, now,
                                  now + c->batch * (c->timeout_ms + 1000) + 30000,
                                  c->batch, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        const jm_push_row_t *r = APR_ARRAY_IDX(rows, i, jm_push_row_t *);
        apr_pool_t *sub;

        if (env->stop && apr_atomic_read32(env->stop)) {
            /* stopping: another process or node sends it, without waiting
             * for this lease to run out */
            jm_store_push_retry(db, r->id, owner, r->failures,
                                apr_time_as_msec(apr_time_now()), p);
            continue;
        }
        apr_pool_create(&sub, p);
        rv = one(db, r, owner, env, sub);
        apr_pool_destroy(sub);
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, p, JMLOGNO(13005)
                          "push subscription %s: the store failed; retried later",
                          r->id);
            /* give the row back now rather than when the lease runs out */
            jm_store_push_retry(db, r->id, owner, r->failures + 1,
                                apr_time_as_msec(apr_time_now())
                                + backoff_ms(r->failures + 1, c), p);
        }
        (*pdone)++;
    }
    return APR_SUCCESS;
}
