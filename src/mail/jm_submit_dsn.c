/* A delivery status notification (RFC 3464, multipart/report) for the
 * recipients a submission could not be delivered to, stored into the
 * sender's Inbox through the delivery path (jm_deliver_message): the
 * worker's bounce, since the relay never saw those recipients accepted. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_submission.h"
#include "mail/jm_submit_dsn.h"
#include "mail/jm_deliver.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

/* The enhanced status code of a reply ("5.1.1"), or "5.0.0". */
static const char *status_of(const char *reply, apr_pool_t *p)
{
    const char *s = reply && strlen(reply) > 4 ? reply + 4 : "";
    apr_size_t n = strspn(s, "0123456789.");

    return n >= 5 && s[0] == '5' ? apr_pstrndup(p, s, n) : "5.0.0";
}

const char *jm_submit_dsn(apr_size_t *plen, const jm_queue_item_t *it,
                          const apr_array_header_t *failed, apr_pool_t *p)
{
    const char *b = apr_psprintf(p, "dsn-%s", jm_util_new_id('B', p));
    const char *text = "", *status = "";
    char date[APR_RFC822_DATE_LEN];
    int i;

    apr_rfc822_date(date, apr_time_now());      /* "GMT": RFC 5322 obs-zone */
    for (i = 0; i < failed->nelts; i++) {
        const jm_sub_rcpt_t *r = APR_ARRAY_IDX(failed, i, const jm_sub_rcpt_t *);
        text = apr_pstrcat(p, text, "  <", r->address, ">: ", r->smtp_reply, "\r\n", NULL);
        status = apr_pstrcat(p, status, "\r\nFinal-Recipient: rfc822; ", r->address,
                             "\r\nAction: failed\r\nStatus: ", status_of(r->smtp_reply, p),
                             "\r\nDiagnostic-Code: smtp; ", r->smtp_reply, "\r\n", NULL);
    }
    text = apr_pstrcat(p,
        "From: Mail Delivery System <MAILER-DAEMON@localhost>\r\n"
        "To: <", it->mail_from, ">\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: ", date, "\r\n"
        "Message-ID: <", jm_util_new_id('D', p), "@jmap-smime.invalid>\r\n"
        "References: <", it->message_id, ">\r\n"
        "In-Reply-To: <", it->message_id, ">\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        " boundary=\"", b, "\"\r\n"
        "\r\n"
        "--", b, "\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message <", it->message_id, "> could not be delivered to:\r\n"
        "\r\n", text,
        "\r\n--", b, "\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; jmap-smime.invalid\r\n"
        "Original-Envelope-Id: ", it->id, "\r\n", status,
        "\r\n--", b, "--\r\n", NULL);
    *plen = strlen(text);
    return text;
}

void jm_submit_bounce(jm_db_t *db, const jm_queue_item_t *it,
                      const apr_array_header_t *failed, apr_pool_t *p)
{
    jm_lmtp_reply_t reply;
    apr_size_t len;
    const char *msg;

    if (!failed->nelts) {
        return;
    }
    msg = jm_submit_dsn(&len, it, failed, p);
    memset(&reply, 0, sizeof(reply));
    /* null reverse path, no vacation settings: a bounce is never answered */
    jm_deliver_message(db, NULL, "", 1, NULL, &it->account_id, msg, len, &reply, p);
    if (reply.code != 250) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(15006)
                      "submission %s: the delivery status notification for %d "
                      "recipient(s) was not stored: %d %s", it->id, failed->nelts,
                      reply.code, reply.text ? reply.text : "");
    }
}
