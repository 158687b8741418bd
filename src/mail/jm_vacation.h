/* The vacation response (RFC 8621 §8) at delivery: the settings as stored,
 * the decision whether to answer a delivered message (RFC 3834), and the
 * hand-over of a built reply. VacationResponse/get and /set are
 * mail/jm_vacation.c; the reply is built by jm_mime_autoreply_build
 * (mime/jm_mime.h). */
#ifndef JM_VACATION_H
#define JM_VACATION_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "store/jm_db.h"

/** JMAPVacationPeriod's default: one reply per sender per 7 days (RFC
 *  3834 §2 suggests "a period of several days"). */
#define JM_VACATION_DEFAULT_PERIOD (7 * 86400)

/** A VacationResponse (§8) as delivery needs it. */
typedef struct {
    int enabled;
    apr_time_t from, to;        /**< 0: null (no bound) */
    const char *subject;        /**< NULL: null */
    const char *text, *html;    /**< NULL: null */
} jm_vacation_t;

/** The stored JSON text of a VacationResponse into *v (NULL data: never
 *  set, disabled). 0, or -1 when the text is not such an object. */
int jm_vacation_parse(jm_vacation_t *v, const char *data, apr_pool_t *p);

/** What the decision reads of the delivered message's header. */
typedef struct {
    const char *auto_submitted;   /**< Auto-Submitted value, NULL if absent */
    const char *precedence;       /**< Precedence value, NULL if absent */
    int list;                     /**< a List-Id or other List-* field */
    const apr_array_header_t *to_cc; /**< const char *: To and Cc addresses */
    const char *subject;          /**< decoded, NULL if absent */
    const char *message_id;       /**< without <>, NULL if none */
    const apr_array_header_t *references; /**< const char *: References (or
                                   *   else In-Reply-To) ids, without <> */
} jm_vacation_msg_t;

/** The header facts of a message (parsed with mime/jm_mime_read.h);
 *  APR_EINVAL when the bytes are no message. */
apr_status_t jm_vacation_msg_read(jm_vacation_msg_t *m, const char *msg,
                                  apr_size_t len, apr_pool_t *p);

typedef struct {
    const char *mail_from;        /**< envelope sender ("" or "<>": null) */
    const char *rcpt;             /**< envelope recipient (the account's) */
    const apr_array_header_t *own;/**< const char *: the account's addresses
                                   *   (identity emails, "*@domain" too) */
    const jm_vacation_msg_t *msg;
    const jm_vacation_t *vac;
    apr_time_t now;
    apr_int64_t last_replied;     /**< seconds since the epoch; 0: never */
    apr_int64_t period;           /**< seconds between replies to a sender */
} jm_vacation_in_t;

typedef enum {
    JM_VAC_REPLY = 0,
    JM_VAC_DISABLED,              /**< isEnabled false */
    JM_VAC_OUTSIDE_DATES,         /**< before fromDate or at/after toDate */
    JM_VAC_NULL_SENDER,           /**< MAIL FROM:<> (a bounce) */
    JM_VAC_AUTO_SUBMITTED,        /**< Auto-Submitted other than "no" (§5.2) */
    JM_VAC_LIST,                  /**< List-Id / List-* (§2, RFC 2369/2919) */
    JM_VAC_BULK,                  /**< Precedence: bulk, list or junk */
    JM_VAC_SYSTEM_SENDER,         /**< mailer-daemon, owner-*, *-request, ... */
    JM_VAC_OWN_ADDRESS,           /**< the sender is the account itself */
    JM_VAC_NOT_ADDRESSED,         /**< the recipient is in neither To nor Cc */
    JM_VAC_ALREADY_REPLIED,       /**< a reply within the period */
    JM_VAC_BAD_SENDER             /**< no usable address to answer */
} jm_vac_decision_t;

/** RFC 3834 §2 and §3.1.1 as one pure function: whether to answer. The
 *  first rule that applies is the answer, in this order: disabled, dates,
 *  null sender, unusable sender, Auto-Submitted, List-*, Precedence,
 *  system sender, own address, not addressed, period. */
jm_vac_decision_t jm_vacation_decide(const jm_vacation_in_t *in);

/** A short name of a decision, for the log. */
const char *jm_vacation_decision_name(jm_vac_decision_t d);

/**
 * Hand a built reply (msg, len bytes, CRLF) to the outgoing mail: queued
 * in jm_vacation_outbox (account, mail_from "" — the null reverse path of
 * RFC 3834 §4 —, rcpt, bytes, created) inside the caller's transaction;
 * the submission worker sends it (mail/jm_submit_autoreply.c).
 */
apr_status_t jm_vacation_send(jm_db_t *db, const char *account_id,
                              const char *rcpt, const char *msg, apr_size_t len,
                              apr_time_t now, apr_pool_t *p);

/** Per delivered message: its header facts, read on first need. */
typedef struct {
    const char *msg;
    apr_size_t len;
    int read;                     /**< 1 read, -1 unreadable */
    jm_vacation_msg_t facts;
} jm_vacation_src_t;

/**
 * Inside the delivery's transaction, after the message is stored for
 * account_id (the envelope recipient rcpt, sender mail_from): answer it if
 * the account's VacationResponse and jm_vacation_decide say so, record the
 * reply for the sender (at most one per period) and jm_vacation_send it.
 * A reply that cannot be built is logged and skipped (the delivery
 * stands); a store failure is returned (the transaction must roll back).
 */
apr_status_t jm_vacation_deliver(jm_db_t *db, const char *account_id,
                                 const char *rcpt, const char *mail_from,
                                 jm_vacation_src_t *src, apr_int64_t period,
                                 apr_time_t now, apr_pool_t *p);

#endif
