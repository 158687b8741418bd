/* Logging from the httpd-independent core.
 *
 * The core never includes httpd headers; it logs through a callback that the
 * glue (mod_jmap_smime.c) installs once at startup and that forwards to
 * ap_log_error/ap_log_perror. Unit tests install a callback that prints TAP
 * comments. Every message at debug level or above carries a stable tag,
 * written with JMLOGNO(nnnnn) as "JMnnnnn: " (see ../next-number).
 */
#ifndef JM_LOG_H
#define JM_LOG_H

#include <apr_pools.h>

typedef enum {
    JM_LOG_EMERG, JM_LOG_ALERT, JM_LOG_CRIT, JM_LOG_ERR, JM_LOG_WARNING,
    JM_LOG_NOTICE, JM_LOG_INFO, JM_LOG_DEBUG, JM_LOG_TRACE1, JM_LOG_TRACE2,
    JM_LOG_TRACE3
} jm_log_level_t;

#define JMLOGNO(n) "JM" #n ": "
#define JM_LOG_MARK __FILE__, __LINE__

/** Callback: emit one fully formatted line; p is a pool the caller owns. */
typedef void jm_log_print_fn(const char *file, int line, jm_log_level_t level,
                             apr_status_t rv, const char *msg, apr_pool_t *p);
/** Callback: would a message at this level be emitted? (guards formatting) */
typedef int jm_log_is_level_fn(jm_log_level_t level);

/** Install the callbacks; called once before any thread starts. */
void jm_log_set(jm_log_print_fn *print, jm_log_is_level_fn *is_level);

/** True when messages at level are logged. */
int jm_log_is_level(jm_log_level_t level);

/** printf-style log; formatting happens only when the level is enabled. */
void jm_log_perror(const char *file, int line, jm_log_level_t level,
                   apr_status_t rv, apr_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
