/* Mail delivery into the store (see jm_deliver.h). */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_deliver.h"
#include "mail/jm_email_store.h"
#include "mail/jm_vacation.h"
#include "mail/jm_submission.h"
#include "store/jm_store.h"
#include "store/jm_store_queue.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

static void reply(jm_lmtp_reply_t *r, int code, const char *status, const char *text)
{
    r->code = code;
    r->status = status;
    r->text = text;
}

const char *jm_deliver_username(const jm_deliver_conf_t *c, const char *address,
                                jm_lmtp_reply_t *r, apr_pool_t *p)
{
    const char *at = strrchr(address, '@');
    const char *user;
    int i, ok;

    if (c->domains && c->domains->nelts) {
        const char *domain = at ? jm_util_strlower(at + 1, p) : "";

        for (i = 0, ok = 0; i < c->domains->nelts && !ok; i++) {
            ok = !strcmp(domain, APR_ARRAY_IDX(c->domains, i, const char *));
        }
        if (!ok) {
            reply(r, 550, "5.1.2", "Not a domain of this server");
            return NULL;
        }
    }
    user = c->user_from == JM_DELIVER_LOCALPART && at
        ? apr_pstrmemdup(p, address, (apr_size_t)(at - address)) : address;
    user = jm_util_strlower(user, p);
    /* the user name is the session's username: I-JSON (RFC 7493) */
    if (!*user || jm_util_utf8_check(user) != JM_UTF8_OK) {
        reply(r, 550, "5.1.3", "Not a valid user name");
        return NULL;
    }
    return user;
}

void jm_deliver_rcpt(const char **paccount_id, jm_lmtp_reply_t *r,
                     const jm_deliver_conf_t *c, jm_db_t *db,
                     const char *address, apr_pool_t *p)
{
    const char *user = jm_deliver_username(c, address, r, p), *id = NULL;
    apr_status_t rv;
    int created = 0;

    *paccount_id = NULL;
    if (!user) {
        return;
    }
    rv = c->create_accounts
        ? jm_store_account_ensure(&id, &created, db, user, p)
        : jm_store_account_find(&id, db, user, p);
    if (rv != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, p, JMLOGNO(11000)
                      "LMTP: cannot look up the account of %s (%s): %s", user,
                      address, db->last_error ? db->last_error : "store error");
        reply(r, 451, "4.3.0", "Temporary failure: the store is unavailable");
        return;
    }
    if (!id) {
        reply(r, 550, "5.1.1", "No such user here");
        return;
    }
    if (created) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_NOTICE, 0, p, JMLOGNO(11001)
                      "LMTP: provisioned account %s for user %s", id, user);
    }
    *paccount_id = id;
    reply(r, 250, "2.1.5", "Recipient OK");
}

static const char *inbox_of(apr_array_header_t *boxes)
{
    int i;

    for (i = 0; i < boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (m->role && !strcmp(m->role, "inbox")) {
            return m->id;
        }
    }
    return NULL;
}

/* What a recipient's vacation response needs (rcpt NULL: none). */
typedef struct {
    const char *rcpt, *from;
    apr_int64_t period;
    jm_vacation_src_t *src;
} vac_t;

/* One recipient's transaction. *pid: the new (or existing) Email id;
 * APR_NOTFOUND: no Inbox. */
static apr_status_t store_one(const char **pid, jm_db_t *db, const char *account_id,
                              const jm_email_row_t *tmpl, const char *msg,
                              apr_size_t len, const vac_t *vac,
                              const jm_report_ref_t *report, apr_pool_t *p)
{
    jm_email_row_t row = *tmpl;
    apr_array_header_t *boxes;
    const char *inbox, *existing = NULL;
    apr_status_t rv;
    int nreports = 0;

    if ((rv = jm_db_begin_durable(db, p)) != APR_SUCCESS) {
        return rv;
    }
    /* inside the transaction: a concurrent Mailbox/set cannot take the
     * Inbox away between the lookup and the insert */
    if ((rv = jm_store_mailboxes(&boxes, db, account_id, p)) != APR_SUCCESS
        || (rv = jm_store_email_by_blob(&existing, db, account_id, row.blob_id, p))
           != APR_SUCCESS) {
        jm_db_rollback(db);
        return rv;
    }
    if (existing) {
        jm_db_rollback(db);
        *pid = existing;
        return APR_SUCCESS;
    }
    if (!(inbox = inbox_of(boxes))) {
        jm_db_rollback(db);
        return APR_NOTFOUND;
    }
    row.id = jm_util_new_id('M', p);
    row.thread_id = NULL;
    row.mailbox_ids = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(row.mailbox_ids, const char *) = inbox;
    /* EmailDelivery (RFC 8621 §1.5) moves with mail that arrives, in the
     * same transaction: never for Email/set, import or copy */
    if ((rv = jm_email_store_row(db, account_id, &row, msg, len, p)) != APR_SUCCESS
        || (rv = jm_store_state_bump(db, account_id, JM_TYPE_EMAIL_DELIVERY, p))
           != APR_SUCCESS
        || (vac->rcpt && (rv = jm_vacation_deliver(db, account_id, vac->rcpt,
                                                   vac->from, vac->src, vac->period,
                                                   apr_time_now(), p))
                         != APR_SUCCESS)
        /* a DSN or MDN about a submission of this account: dsnBlobIds /
         * mdnBlobIds (RFC 8621 §7), in the same transaction */
        || (report && (rv = jm_store_submission_add_report(&nreports, db, account_id,
                                                           report->envelope_id,
                                                           report->message_id,
                                                           report->mdn, report->displayed,
                                                           row.blob_id, p))
                      != APR_SUCCESS)) {
        jm_db_rollback(db);
        return rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        return rv;
    }
    *pid = row.id;
    return APR_SUCCESS;
}

void jm_deliver_message(jm_db_t *db, const jm_deliver_conf_t *c, const char *from,
                        int n, const char *const *addresses,
                        const char *const *account_ids, const char *msg,
                        apr_size_t len, jm_lmtp_reply_t *replies, apr_pool_t *p)
{
    jm_vacation_src_t src;
    jm_email_row_t tmpl;
    jm_report_ref_t report;
    apr_pool_t *sub;
    apr_status_t rv;
    int i, is_report;

    memset(&tmpl, 0, sizeof(tmpl));
    /* parsed once for every recipient (outside any transaction) */
    if ((rv = jm_email_prepare_row(&tmpl, msg, len, p)) != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, p, JMLOGNO(11002)
                      "LMTP: cannot parse a message of %" APR_SIZE_T_FMT " bytes", len);
        for (i = 0; i < n; i++) {
            reply(&replies[i], 451, "4.3.0", "Temporary failure: cannot read the message");
        }
        return;
    }
    is_report = jm_submit_report_ref(&report, msg, len, p);
    tmpl.keywords = "{}";
    tmpl.received_at = apr_time_now();  /* RFC 8621 §4.1.1: arrival time */
    memset(&src, 0, sizeof(src));
    src.msg = msg;
    src.len = len;
    apr_pool_create(&sub, p);
    for (i = 0; i < n; i++) {
        const char *id = NULL;
        vac_t vac;

        vac.rcpt = addresses && !(c && c->no_relay) ? addresses[i] : NULL;
        vac.from = from ? from : "";
        vac.period = c && c->vacation_period > 0 ? c->vacation_period
                                                 : JM_VACATION_DEFAULT_PERIOD;
        vac.src = &src;
        apr_pool_clear(sub);
        src.read = 0;       /* its facts live in sub: read again if needed */
        rv = store_one(&id, db, account_ids[i], &tmpl, msg, len, &vac,
                       is_report ? &report : NULL, sub);
        if (rv == APR_SUCCESS) {
            reply(&replies[i], 250, "2.0.0",
                  apr_psprintf(p, "Delivered as Email %s", id));
        }
        else if (rv == APR_NOTFOUND) {
            reply(&replies[i], 450, "4.2.1", "The account has no Inbox");
        }
        else {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, sub, JMLOGNO(11003)
                          "LMTP: storing a message for account %s failed: %s",
                          account_ids[i], db->last_error ? db->last_error
                                                         : "store error");
            reply(&replies[i], 451, "4.3.0", "Temporary failure: the store is unavailable");
        }
    }
    apr_pool_destroy(sub);
}
