/* Vacation replies (RFC 8621 §8) leave through the submission relay. The
 * delivery path decides and builds them (mail/jm_vacation_deliver.c) and
 * leaves them in jm_vacation_outbox; this pass of the worker claims due
 * ones with a lease (as submissions are claimed, store/jm_store_queue.h),
 * sends each from the null reverse path (RFC 3834 §4: nothing may answer
 * an automatic reply, and no bounce comes back to the user), and deletes
 * it once it is finished: relayed, refused for good (5xx: logged, nobody
 * to tell), or still failing after JMAPSubmissionRetryTime. Temporary
 * failures wait as submissions do (jm_submit_backoff). */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_submission.h"
#include "mail/jm_submit_smtp.h"
#include "store/jm_store_queue.h"
#include "core/jm_log.h"

#define CLAIM_BATCH 10

typedef enum { SENT, REFUSED, TRY_AGAIN } outcome_t;


/* What one transaction to one recipient came to; *preply: the reply that
 * decided it (NULL: the relay said nothing usable). */
static outcome_t outcome(const char **preply, const jm_smtp_result_t *res)
{
    const char *rr = res->nrcpts > 0 ? res->rcpt_replies[0] : NULL;
    const char *mr = res->eod_reply ? res->eod_reply : res->data_reply;

    if (jm_submit_reply_class(res->mail_reply) == 5
        && strncmp(res->mail_reply, "530", 3)) {
        *preply = res->mail_reply;
        return REFUSED;
    }
    if (!rr) {
        /* a 530 (AUTH or STARTTLS first) or a session that failed on TLS
         * or AUTH: our configuration, not the reply's; tried again */
        *preply = res->session_reply ? res->session_reply : res->mail_reply;
        return TRY_AGAIN;
    }
    if (jm_submit_reply_class(rr) != 2) {
        *preply = rr;
        return jm_submit_reply_class(rr) == 5 ? REFUSED : TRY_AGAIN;
    }
    *preply = mr;
    switch (jm_submit_reply_class(mr)) {
    case 2:
        return SENT;
    case 5:
        return REFUSED;
    default:
        return TRY_AGAIN;
    }
}

static apr_status_t work_on(jm_db_t *db, const jm_submit_conf_t *conf,
                            const jm_autoreply_row_t *a, const char *owner,
                            volatile apr_uint32_t *stop, apr_pool_t *p)
{
    const char *rcpts[1] = { a->rcpt };
    const char *reply = NULL, *shown;
    jm_smtp_result_t res;
    apr_int64_t now, next;
    apr_status_t rv;
    outcome_t o;

    rv = jm_smtp_send(&res, conf, a->mail_from, rcpts, 1, a->message,
                      strlen(a->message), stop, p);
    if (rv != APR_SUCCESS) {
        return rv;                      /* the lease runs out; tried again */
    }
    o = outcome(&reply, &res);
    shown = reply ? reply : res.error ? apr_psprintf(p, "no reply (%s)", res.error)
                                      : "no reply";
    now = apr_time_sec(apr_time_now());
    if (o == SENT) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(15007)
                      "vacation reply of account %s to <%s> relayed: %s",
                      a->account_id, a->rcpt, shown);
        return jm_store_autoreply_done(db, a, owner, p);
    }
    if (o == REFUSED) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_NOTICE, 0, p, JMLOGNO(15008)
                      "vacation reply of account %s to <%s> refused by the "
                      "relay, dropped: %s", a->account_id, a->rcpt, shown);
        return jm_store_autoreply_done(db, a, owner, p);
    }
    if (now >= a->created + conf->retry_time) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(15009)
                      "vacation reply of account %s to <%s> given up after %"
                      APR_INT64_T_FMT " attempts in %ld s; last reply: %s",
                      a->account_id, a->rcpt, a->tries, conf->retry_time, shown);
        return jm_store_autoreply_done(db, a, owner, p);
    }
    next = now + jm_submit_backoff(a->tries);
    if (next > a->created + conf->retry_time) {
        next = a->created + conf->retry_time;
    }
    return jm_store_autoreply_retry(db, a, owner, next, shown, p);
}

int jm_submit_autoreplies_once(jm_db_t *db, const jm_submit_conf_t *conf,
                               const char *owner, volatile apr_uint32_t *stop,
                               apr_pool_t *p)
{
    apr_array_header_t *items;
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t lease = jm_submit_lease(conf);
    apr_status_t rv;
    int i;

    if (stop && apr_atomic_read32(stop)) {
        return 0;
    }
    rv = jm_store_autoreply_claim(&items, db, owner, now, lease, CLAIM_BATCH, p);
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, APR_STATUS_IS_TIMEUP(rv) ? JM_LOG_INFO
                      : JM_LOG_ERR, rv, p, JMLOGNO(15010)
                      "vacation replies: claiming due replies failed: %s",
                      db->last_error ? db->last_error : "");
        return -1;
    }
    for (i = 0; i < items->nelts; i++) {
        const jm_autoreply_row_t *a = APR_ARRAY_IDX(items, i, jm_autoreply_row_t *);
        apr_pool_t *sub;

        apr_pool_create(&sub, p);
        rv = work_on(db, conf, a, owner, stop, sub);
        if (rv == APR_EBUSY) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, sub, JMLOGNO(15011)
                          "vacation reply of account %s to <%s>: the lease ran "
                          "out before the result was recorded", a->account_id,
                          a->rcpt);
        }
        else if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, sub, JMLOGNO(15012)
                          "vacation reply of account %s to <%s>: could not be "
                          "worked on (tried again when its lease runs out): %s",
                          a->account_id, a->rcpt, db->last_error ? db->last_error : "");
        }
        apr_pool_destroy(sub);
    }
    return items->nelts;
}
