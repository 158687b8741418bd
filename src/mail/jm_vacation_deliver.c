/* The vacation response at delivery (see jm_vacation.h). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include "mail/jm_vacation.h"
#include "mail/jm_identity.h"
#include "mime/jm_mime.h"
#include "mime/jm_mime_read.h"
#include "store/jm_store.h"
#include "core/jm_log.h"
#include "core/jm_util.h"

/** Addresses read from To and Cc: enough for any real message, bounded
 *  against a crafted one. */
#define MAX_TO_CC 1000

apr_status_t jm_vacation_msg_read(jm_vacation_msg_t *m, const char *msg,
                                  apr_size_t len, apr_pool_t *p)
{
    apr_array_header_t *to_cc = apr_array_make(p, 4, sizeof(const char *)), *ids;
    jm_mime_parsed_t *parsed;
    const char *v;
    apr_status_t rv;
    int i, j;

    memset(m, 0, sizeof(*m));
    if ((rv = jm_mime_read(&parsed, msg, len, 1, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < parsed->hdrs->nelts; i++) {
        jm_hdr_t *h = &APR_ARRAY_IDX(parsed->hdrs, i, jm_hdr_t);

        if (!strncasecmp(h->name, "List-", 5)) {
            m->list = 1;            /* RFC 2369 / RFC 2919 */
        }
        else if (!strcasecmp(h->name, "To") || !strcasecmp(h->name, "Cc")) {
            apr_array_header_t *as = jm_mime_hdr_addresses(h->raw, MAX_TO_CC, p);
            for (j = 0; j < as->nelts && to_cc->nelts < MAX_TO_CC; j++) {
                const char *e = APR_ARRAY_IDX(as, j, jm_mime_addr_t).email;
                if (*e) {
                    APR_ARRAY_PUSH(to_cc, const char *) = e;
                }
            }
        }
    }
    m->to_cc = to_cc;
    if ((v = jm_mime_hdr_last(parsed->hdrs, "Auto-Submitted"))) {
        m->auto_submitted = jm_mime_hdr_text(v, p);
    }
    if ((v = jm_mime_hdr_last(parsed->hdrs, "Precedence"))) {
        m->precedence = jm_mime_hdr_text(v, p);
    }
    if ((v = jm_mime_hdr_last(parsed->hdrs, "Subject"))) {
        m->subject = jm_mime_hdr_text(v, p);
    }
    if ((v = jm_mime_hdr_last(parsed->hdrs, "Message-ID"))
        && (ids = jm_mime_hdr_msgids(v, p))->nelts == 1) {
        m->message_id = APR_ARRAY_IDX(ids, 0, const char *);
    }
    if ((v = jm_mime_hdr_last(parsed->hdrs, "References"))
        || (v = jm_mime_hdr_last(parsed->hdrs, "In-Reply-To"))) {
        m->references = jm_mime_hdr_msgids(v, p);
    }
    return APR_SUCCESS;
}

apr_status_t jm_vacation_send(jm_db_t *db, const char *account_id,
                              const char *rcpt, const char *msg, apr_size_t len,
                              apr_time_t now, apr_pool_t *p)
{
    /* the null reverse path: nothing may answer an automatic reply
     * (RFC 3834 §4); stored as text, the bytes are CRLF lines */
    return jm_store_vacation_outbox_add(db, account_id, "", rcpt,
                                        apr_pstrmemdup(p, msg, len),
                                        apr_time_sec(now), p);
}

apr_status_t jm_vacation_deliver(jm_db_t *db, const char *account_id,
                                 const char *rcpt, const char *mail_from,
                                 jm_vacation_src_t *src, apr_int64_t period,
                                 apr_time_t now, apr_pool_t *p)
{
    const char *data, *bytes, *why;
    apr_array_header_t *own;
    jm_vacation_t vac;
    jm_vacation_in_t in;
    jm_vac_decision_t d;
    jm_autoreply_t a;
    apr_size_t blen;
    /* senders are told apart case-insensitively */
    const char *key = mail_from ? jm_util_strlower(mail_from, p) : "";
    apr_status_t rv;

    if ((rv = jm_store_vacation_get(&data, db, account_id, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!data) {
        return APR_SUCCESS;
    }
    if (jm_vacation_parse(&vac, data, p) != 0) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, APR_EGENERAL, p, JMLOGNO(14001)
                      "vacation response of account %s is damaged: no reply",
                      account_id);
        return APR_SUCCESS;
    }
    if (!vac.enabled) {
        return APR_SUCCESS;
    }
    if (!src->read) {
        src->read = jm_vacation_msg_read(&src->facts, src->msg, src->len, p)
                    == APR_SUCCESS ? 1 : -1;
    }
    if (src->read < 0) {
        return APR_SUCCESS;          /* stored, but not a message to answer */
    }
    memset(&in, 0, sizeof(in));
    if ((rv = jm_identity_emails(&own, db, account_id, p)) != APR_SUCCESS
        || (mail_from && *mail_from
            && (rv = jm_store_vacation_replied(&in.last_replied, db, account_id,
                                               key, p)) != APR_SUCCESS)) {
        return rv;
    }
    in.mail_from = mail_from;
    in.rcpt = rcpt;
    in.own = own;
    in.msg = &src->facts;
    in.vac = &vac;
    in.now = now;
    in.period = period;
    if ((d = jm_vacation_decide(&in)) != JM_VAC_REPLY) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, 0, p, JMLOGNO(14002)
                      "vacation: no reply from account %s to <%s>: %s",
                      account_id, mail_from ? mail_from : "",
                      jm_vacation_decision_name(d));
        return APR_SUCCESS;
    }
    memset(&a, 0, sizeof(a));
    a.from = rcpt;
    a.to = mail_from;
    a.subject = vac.subject;
    a.orig_subject = src->facts.subject;
    a.text = vac.text;
    a.html = vac.html;
    a.in_reply_to = src->facts.message_id;
    a.references = src->facts.references;
    if (jm_mime_autoreply_build(&bytes, &blen, &a, &why, p) != APR_SUCCESS) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(14003)
                      "vacation: cannot build the reply of account %s to <%s>: %s",
                      account_id, mail_from, why ? why : "");
        return APR_SUCCESS;
    }
    /* the sender's entry and the queued reply commit with the delivery:
     * a retried delivery (rolled back) leaves neither */
    if ((rv = jm_store_vacation_mark(db, account_id, key, apr_time_sec(now),
                                     apr_time_sec(now) - period, p)) != APR_SUCCESS
        || (rv = jm_vacation_send(db, account_id, mail_from, bytes, blen, now, p))
           != APR_SUCCESS) {
        return rv;
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(14004)
                  "vacation: reply from account %s (%s) to <%s> queued",
                  account_id, rcpt, mail_from);
    return APR_SUCCESS;
}
