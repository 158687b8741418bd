/* One SMTP transaction (jm_submit_smtp.c) for the submission worker. */
#ifndef JM_SUBMIT_SMTP_H
#define JM_SUBMIT_SMTP_H

#include <apr_pools.h>
#include <apr_atomic.h>

struct jm_submit_conf_t;

/** What the relay said; a reply NULL when it never came (connection lost,
 *  or the transaction stopped before). Replies are joined per RFC 8621 §7. */
typedef struct {
    const char *mail_reply;         /**< to MAIL FROM */
    int nrcpts;
    const char **rcpt_replies;      /**< to each RCPT TO, in order */
    const char *data_reply;         /**< to DATA, when it was not 354 */
    const char *eod_reply;          /**< to the end of the message data */
    const char *auth_reply;         /**< to AUTH, when it was not 235/334 */
    const char *session_reply;      /**< the session failed before MAIL FROM
                                     *   because of TLS or AUTH: the relay's
                                     *   reply (AUTH's 535) or one made up
                                     *   (4.7.x) saying why; retried */
    const char *error;              /**< libcurl's, when it did not finish */
    int connect_failed;             /**< no usable session with the relay */
    int abandoned;                  /**< *stop was set before any byte of
                                     *   the message went out: the attempt
                                     *   ended there (nothing was sent) */
} jm_smtp_result_t;

/** Send data (as it is) from mail_from to rcpts through conf's relay.
 *  APR_SUCCESS whatever the relay answered (see *res); a failure only when
 *  nothing could be tried at all. stop (NULL: never) is the process's
 *  "exiting" flag: once it is set, a session that has not yet handed the
 *  relay any byte of the message ends at once (res->abandoned), and one
 *  that has runs to its end (bounded by conf's timeouts), so that a stop
 *  never cuts a message the relay may already hold. */
apr_status_t jm_smtp_send(jm_smtp_result_t *res, const struct jm_submit_conf_t *conf,
                          const char *mail_from, const char *const *rcpts,
                          int nrcpts, const char *data, apr_size_t len,
                          volatile apr_uint32_t *stop, apr_pool_t *p);

#endif
