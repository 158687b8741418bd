/* The submission worker (one pass: jm_submit_run_once), driven by the
 * httpd glue's watchdog. A pass claims due submissions (a lease, committed
 * before anything is sent: the "attempting" mark), sends each through the
 * relay with no transaction open, and records every recipient's reply.
 * Temporary failures (4xx, relay down, timeout, and what our configuration
 * or the relay's makes fail for every message: TLS, AUTH, a 530 to MAIL)
 * wait and are tried again,
 * 1 s after the first try and twice as long each time (at most 15 min),
 * until the retry time (JMAPSubmissionRetryTime) has passed; then they
 * are "no". A lease that ran out (a worker that stopped between claim and
 * record) is claimed again and the message sent again, with the same
 * bytes and so the same Message-ID: see README "EmailSubmission" for what
 * this guarantees. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_submission.h"
#include "mail/jm_submit_smtp.h"
#include "mail/jm_submit_dsn.h"
#include "store/jm_store_queue.h"
#include "core/jm_log.h"

#define CLAIM_BATCH   10
#define BACKOFF_FIRST 1
#define BACKOFF_MAX   900

int jm_submit_reply_class(const char *reply)
{
    return reply && reply[0] >= '2' && reply[0] <= '5' ? reply[0] - '0' : 0;
}

apr_int64_t jm_submit_lease(const jm_submit_conf_t *conf)
{
    return conf->connect_timeout + conf->timeout + 10;
}

/* 530 to MAIL FROM: the relay wants AUTH or STARTTLS first (RFC 4954 §6,
 * RFC 3207 §4), a problem of our configuration, not of the message:
 * retried like a temporary failure. */
static int needs_auth_or_tls(const char *reply)
{
    return reply && !strncmp(reply, "530", 3);
}

static void set_rcpt(jm_sub_rcpt_t *r, const char *delivered, const char *reply)
{
    r->delivered = delivered;
    if (reply) {
        r->smtp_reply = reply;
    }
}

/* Apply one transaction's replies to the recipients it was for
 * (sent[i] is the index in it->rcpts of the ith RCPT); 1 if any recipient
 * was accepted with the message. */
static int apply(jm_queue_item_t *it, const jm_smtp_result_t *res,
                 const int *sent, int nsent, apr_pool_t *p)
{
    const char *down = res->session_reply ? res->session_reply : res->error
        ? apr_psprintf(p, "451 4.4.1 The relay did not answer: %s", res->error)
        : "451 4.4.1 The relay did not answer";
    int i, accepted = 0;

    for (i = 0; i < nsent; i++) {
        jm_sub_rcpt_t *r = &APR_ARRAY_IDX(it->rcpts, sent[i], jm_sub_rcpt_t);
        const char *rr = res->rcpt_replies[i];
        int c = jm_submit_reply_class(rr);

        if (!rr) {
            /* the transaction stopped before this RCPT: MAIL refused, or the
             * session failed */
            int mc = jm_submit_reply_class(res->mail_reply);
            if (mc == 5 && !needs_auth_or_tls(res->mail_reply)) {
                set_rcpt(r, "no", res->mail_reply);
            }
            else {
                /* TLS or AUTH failed (session_reply), or the relay is down */
                set_rcpt(r, "queued", mc == 4 || mc == 5 ? res->mail_reply : down);
            }
        }
        else if (c == 5) {
            set_rcpt(r, "no", rr);
        }
        else if (c != 2) {
            set_rcpt(r, "queued", rr);
        }
        else if (res->data_reply || res->eod_reply) {
            /* accepted: the message's reply decides (§7: the DATA-stage
             * reply when the message as a whole was refused) */
            const char *mr = res->eod_reply ? res->eod_reply : res->data_reply;
            int m = jm_submit_reply_class(mr);
            if (m == 2) {
                /* relayed: the final store is not known (§7 "delivered") */
                set_rcpt(r, "unknown", rr);
                accepted = 1;
            }
            else {
                set_rcpt(r, m == 5 ? "no" : "queued", mr);
            }
        }
        else {
            /* RCPT accepted, then the session broke: sent again later */
            set_rcpt(r, "queued", down);
        }
    }
    return accepted;
}

apr_int64_t jm_submit_backoff(apr_int64_t tries)
{
    apr_int64_t d = BACKOFF_FIRST;

    while (--tries > 0 && d < BACKOFF_MAX) {
        d *= 2;
    }
    return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

/* One SMTP transaction: the queued recipients whose copy is blob ("": the
 * message itself), with those bytes. */
static apr_status_t send_group(jm_db_t *db, const jm_submit_conf_t *conf,
                               jm_queue_item_t *it, const char *blob,
                               volatile apr_uint32_t *stop, apr_pool_t *p)
{
    const unsigned char *raw;
    const char *msg;
    const char **rcpts = apr_pcalloc(p, sizeof(char *) * (it->rcpts->nelts + 1));
    int *sent = apr_pcalloc(p, sizeof(int) * (it->rcpts->nelts + 1));
    jm_smtp_result_t res;
    apr_size_t len, mlen;
    apr_status_t rv;
    int i, n = 0;

    for (i = 0; i < it->rcpts->nelts; i++) {
        jm_sub_rcpt_t *r = &APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t);
        if (!strcmp(r->delivered, "queued") && !strcmp(r->blob_id, blob)) {
            sent[n] = i;
            rcpts[n++] = r->address;
        }
    }
    if (!n) {
        return APR_SUCCESS;
    }
    rv = jm_store_blob_get(&raw, &len, NULL, db, it->account_id,
                           *blob ? blob : it->blob_id, p);
    if (rv == APR_NOTFOUND) {
        for (i = 0; i < n; i++) {
            set_rcpt(&APR_ARRAY_IDX(it->rcpts, sent[i], jm_sub_rcpt_t), "no",
                     "554 5.6.0 The message is no longer stored");
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;                      /* the lease runs out; tried again */
    }
    /* §7.5: no Bcc field goes to the relay; nothing else changes */
    jm_submit_strip_bcc(&msg, &mlen, (const char *)raw, len, p);
    if (it->tries > 1) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(15001)
                      "submission %s (Message-ID <%s>): attempt %" APR_INT64_T_FMT
                      " for %d recipient(s)", it->id, it->message_id, it->tries, n);
    }
    if ((rv = jm_smtp_send(&res, conf, it->mail_from, rcpts, n, msg, mlen, stop, p))
        != APR_SUCCESS) {
        return rv;
    }
    if (apply(it, &res, sent, n, p)) {
        it->undo_status = "final";
        it->relay_reply = res.eod_reply;
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(15002)
                  "submission %s (Message-ID <%s>%s) from <%s>: %s%s%s", it->id,
                  it->message_id, *blob ? ", a Bcc recipient's copy" : "",
                  it->mail_from,
                  res.eod_reply ? res.eod_reply : res.mail_reply ? res.mail_reply
                  : "no reply", res.error ? "; " : "", res.error ? res.error : "");
    return APR_SUCCESS;
}

/* Send one claimed submission (one transaction per copy) and record the
 * outcome. */
static apr_status_t work_on(jm_db_t *db, const jm_submit_conf_t *conf,
                            jm_queue_item_t *it, const char *owner,
                            volatile apr_uint32_t *stop, apr_pool_t *p)
{
    const char *queue = "done";
    apr_hash_t *done = apr_hash_make(p);
    apr_array_header_t *failed = apr_array_make(p, 2, sizeof(jm_sub_rcpt_t *));
    char *was_queued = apr_pcalloc(p, it->rcpts->nelts + 1);
    apr_int64_t now, next = 0;
    apr_status_t rv;
    int i, waiting = 0;

    for (i = 0; i < it->rcpts->nelts; i++) {
        was_queued[i] = !strcmp(APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t).delivered,
                                "queued");
    }
    for (i = 0; i < it->rcpts->nelts; i++) {
        const char *b = APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t).blob_id;
        if (apr_hash_get(done, b, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(done, b, APR_HASH_KEY_STRING, "");
        if ((rv = send_group(db, conf, it, b, stop, p)) != APR_SUCCESS) {
            return rv;
        }
    }
    now = apr_time_sec(apr_time_now());
    for (i = 0; i < it->rcpts->nelts; i++) {
        jm_sub_rcpt_t *r = &APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t);
        if (strcmp(r->delivered, "queued")) {
            continue;
        }
        if (now >= it->give_up_at) {
            r->delivered = "no";
            r->smtp_reply = apr_psprintf(p, "550 5.4.7 Delivery time expired "
                                         "after %ld seconds; last reply: %s",
                                         conf->retry_time, r->smtp_reply);
        }
        else {
            waiting = 1;
        }
    }
    if (waiting) {
        queue = "wait";
        next = now + jm_submit_backoff(it->tries);
        if (next > it->give_up_at) {
            next = it->give_up_at;
        }
    }
    else {
        /* nothing left to send: nothing left to cancel (§7 undoStatus) */
        it->undo_status = "final";
    }
    rv = jm_store_queue_finish(db, it, owner, queue, next, p);
    if (rv == APR_SUCCESS) {
        /* a bounce for those that failed now, once the failure is recorded */
        for (i = 0; i < it->rcpts->nelts; i++) {
            jm_sub_rcpt_t *r = &APR_ARRAY_IDX(it->rcpts, i, jm_sub_rcpt_t);
            if (was_queued[i] && !strcmp(r->delivered, "no")) {
                APR_ARRAY_PUSH(failed, jm_sub_rcpt_t *) = r;
            }
        }
        jm_submit_bounce(db, it, failed, p);
    }
    if (rv == APR_EBUSY) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(15003)
                      "submission %s: the lease ran out before the result was "
                      "recorded (JMAPSubmissionTimeout too short for the store?)",
                      it->id);
        return APR_SUCCESS;
    }
    return rv;
}

int jm_submit_run_once(jm_db_t *db, const jm_submit_conf_t *conf,
                       const char *owner, volatile apr_uint32_t *stop, apr_pool_t *p)
{
    apr_array_header_t *items;
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_int64_t lease = jm_submit_lease(conf);
    apr_status_t rv;
    int i, n;

    if (stop && apr_atomic_read32(stop)) {
        return 0;                       /* claim nothing it would not send */
    }
    rv = jm_store_queue_claim(&items, db, owner, now, lease, CLAIM_BATCH, p);
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, APR_STATUS_IS_TIMEUP(rv) ? JM_LOG_INFO
                      : JM_LOG_ERR, rv, p, JMLOGNO(15004)
                      "submission queue: claiming due submissions failed: %s",
                      db->last_error ? db->last_error : "");
        return -1;
    }
    for (i = 0; i < items->nelts; i++) {
        jm_queue_item_t *it = APR_ARRAY_IDX(items, i, jm_queue_item_t *);
        apr_pool_t *sub;

        apr_pool_create(&sub, p);
        /* after a stop, each one left is recorded as not sent (its
         * session is abandoned before it starts) and so not kept
         * claimed until its lease runs out */
        if ((rv = work_on(db, conf, it, owner, stop, sub)) != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, sub, JMLOGNO(15005)
                          "submission %s: could not be worked on (tried again "
                          "when its lease runs out): %s", it->id,
                          db->last_error ? db->last_error : "");
        }
        apr_pool_destroy(sub);
    }
    /* vacation replies go through the same relay, after the user's mail */
    n = jm_submit_autoreplies_once(db, conf, owner, stop, p);
    return n < 0 ? -1 : items->nelts + n;
}
