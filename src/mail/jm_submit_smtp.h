/* One SMTP transaction (jm_submit_smtp.c) for the submission worker. */
#ifndef JM_SUBMIT_SMTP_H
#define JM_SUBMIT_SMTP_H

#include <apr_pools.h>

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
} jm_smtp_result_t;

/** Send data (as it is) from mail_from to rcpts through conf's relay.
 *  APR_SUCCESS whatever the relay answered (see *res); a failure only when
 *  nothing could be tried at all. */
apr_status_t jm_smtp_send(jm_smtp_result_t *res, const struct jm_submit_conf_t *conf,
                          const char *mail_from, const char *const *rcpts,
                          int nrcpts, const char *data, apr_size_t len,
                          apr_pool_t *p);

#endif
