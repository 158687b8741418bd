/* EmailSubmission (RFC 8621 §7): the methods (jm_submission.c,
 * jm_submission_set.c), the envelope rules (jm_submit_envelope.c), the
 * relay configuration and the background worker (jm_submit_worker.c). */
#ifndef JM_SUBMISSION_H
#define JM_SUBMISSION_H

#include "core/jm_request.h"
#include <apr_atomic.h>
#include "store/jm_store_queue.h"

/** STARTTLS towards an smtp:// relay. */
typedef enum {
    JM_SMTP_TLS_OFF = 0, JM_SMTP_TLS_OPTIONAL = 1, JM_SMTP_TLS_REQUIRED = 2
} jm_smtp_tls_t;

/** The relay and the queue's bounds (JMAPSubmission*; seconds). */
typedef struct jm_submit_conf_t {
    const char *url;              /**< smtp:// or smtps://host:port; NULL: no
                                   *   relay, creations are forbiddenToSend */
    int starttls;                 /**< jm_smtp_tls_t */
    const char *user, *password;  /**< AUTH, NULL: none */
    const char *ca_file;          /**< CAs verifying the relay's TLS
                                   *   certificate; NULL: the system store */
    long connect_timeout;         /**< per attempt, connecting and greeting */
    long timeout;                 /**< per attempt, whole transaction */
    long retry_time;              /**< temporary failures retried this long */
    long max_rcpts;               /**< rcptTo of one submission */
    long max_delayed;             /**< maxDelayedSend (RFC 4865 HOLDFOR) */
    long max_size;                /**< bytes of a message sent */
} jm_submit_conf_t;

apr_status_t jm_submission_get(jm_call_t *call);
apr_status_t jm_submission_set(jm_call_t *call);
apr_status_t jm_submission_changes(jm_call_t *call);
apr_status_t jm_submission_query(jm_call_t *call);
apr_status_t jm_submission_querychanges(jm_call_t *call);

/** The EmailSubmission object of a stored row (new reference). */
json_t *jm_submission_json(const jm_sub_row_t *s, apr_pool_t *p);

/** The account capability (RFC 8621 §1.3.2); conf may be NULL. */
json_t *jm_submission_capability(const jm_submit_conf_t *conf, apr_pool_t *p);

/* ---- envelope (jm_submit_envelope.c; pure) ------------------------------ */

/** RFC 5321 Mailbox, as far as a relay is concerned: local@domain, no
 *  white space, controls, brackets, at most 254 octets. */
int jm_submit_valid_address(const char *addr);

/** §7 derivation of an envelope from the message's header fields
 *  (jm_hdr_t): mailFrom from the last Sender, else the last From, if it
 *  holds one address (-1 and *pwhy naming "sender" or "from" when a field
 *  is repeated or holds several); rcptTo the deduplicated To, Cc, Bcc.
 *  *pfrom is "" when there is no such field. */
int jm_submit_derive(const char **pfrom, apr_array_header_t **prcpts,
                     const char **pwhy, const apr_array_header_t *hdrs,
                     int max_items, apr_pool_t *p);

/** The message to relay: raw with every top-level Bcc field removed
 *  (§7.5), byte for byte otherwise; *pout may be raw itself. */
void jm_submit_strip_bcc(const char **pout, apr_size_t *plen, const char *raw,
                         apr_size_t len, apr_pool_t *p);

/** An SMTP reply as §7 wants it: multi-line replies joined (hyphen after
 *  the code replaced by a space, the first line's prefix stripped from the
 *  others, CRLF to space). lines: const char *, without CRLF. */
const char *jm_submit_join_reply(const apr_array_header_t *lines, apr_pool_t *p);

/* ---- delivery reports (jm_submit_reports.c) ------------------------------ */

/** What a delivered message says about a message sent: a delivery status
 *  notification (RFC 3464, multipart/report with message/delivery-status)
 *  or a disposition notification (RFC 8098, with
 *  message/disposition-notification). Strings NULL when absent. */
typedef struct {
    int mdn;                        /**< 1: a disposition notification */
    const char *envelope_id;        /**< Original-Envelope-Id (RFC 3464 §2.2.1) */
    const char *message_id;         /**< the original's Message-ID: the returned
                                     *   header (DSN), Original-Message-ID (MDN) */
    const char *displayed;          /**< MDN with disposition "displayed": its
                                     *   Final-Recipient address */
} jm_report_ref_t;

/** 1 and *r filled when msg (len bytes) is such a report naming what it is
 *  about, else 0. Bounded (parts three levels deep); never fails. */
int jm_submit_report_ref(jm_report_ref_t *r, const char *msg, apr_size_t len,
                         apr_pool_t *p);

/* ---- the worker (jm_submit_worker.c) ------------------------------------ */

/** Once per process, before threads (curl_global_init), and its end. */
apr_status_t jm_submit_global_init(void);
void jm_submit_global_cleanup(void);

/** One pass of the worker: claim due submissions on db, send each over
 *  SMTP, record the results. owner names this worker in leases. stop
 *  (NULL: never) is set when the process exits: the pass then claims
 *  nothing more, and what it holds and has not begun to send is recorded
 *  as not sent (jm_smtp_send), to be tried again by the next worker.
 *  Returns the number of submissions worked on, or -1 when the store
 *  failed. */
int jm_submit_run_once(jm_db_t *db, const jm_submit_conf_t *conf,
                       const char *owner, volatile apr_uint32_t *stop,
                       apr_pool_t *p);

/** Seconds to wait after the tries-th failed attempt: 1, 2, 4 ... at most
 *  15 minutes. */
apr_int64_t jm_submit_backoff(apr_int64_t tries);

/** Seconds a worker's claim lasts: longer than one attempt can take, so a
 *  live worker keeps it. */
apr_int64_t jm_submit_lease(const jm_submit_conf_t *conf);

/** The class of an SMTP reply: its first digit 2-5, or 0 for none. */
int jm_submit_reply_class(const char *reply);

/** The vacation replies' pass (jm_submit_autoreply.c), part of
 *  jm_submit_run_once: claim due replies, send each from the null reverse
 *  path, delete what is finished. Returns the number worked on, or -1. */
int jm_submit_autoreplies_once(jm_db_t *db, const jm_submit_conf_t *conf,
                               const char *owner, volatile apr_uint32_t *stop,
                               apr_pool_t *p);

#endif
