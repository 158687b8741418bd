/* Core logging: forwards to the callback the glue installed. */
#include <stdarg.h>
#include <stdio.h>
#include <apr_strings.h>
#include "core/jm_log.h"

/* Set once at startup (before threads exist), read-only afterwards. */
static jm_log_print_fn *log_print;
static jm_log_is_level_fn *log_is_level;

void jm_log_set(jm_log_print_fn *print, jm_log_is_level_fn *is_level)
{
    log_print = print;
    log_is_level = is_level;
}

int jm_log_is_level(jm_log_level_t level)
{
    if (!log_print) {
        return level <= JM_LOG_WARNING;
    }
    return log_is_level ? log_is_level(level) : 1;
}

void jm_log_perror(const char *file, int line, jm_log_level_t level,
                   apr_status_t rv, apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    if (!jm_log_is_level(level)) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    if (log_print) {
        log_print(file, line, level, rv, msg, p);
    }
    else {
        fprintf(stderr, "[%d] %s:%d %s\n", level, file, line, msg);
    }
}
