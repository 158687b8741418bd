/* Thin libldap client: pooled handles, bounded time, one reconnect-and-retry.
 *
 * Why a pool and not one handle per thread: httpd threads come and go and an
 * idle directory connection per thread would be wasteful; a handle popped by
 * one thread is invisible to the others, so no LDAP* is ever shared.
 * Why a single retry: a pooled handle may be dead (server restart, idle
 * timeout), which is only noticed when used; one fresh connection tells a
 * stale handle apart from a directory that is really down. Everything is
 * bounded by the caller's deadline (default 2 x timeout): every operation
 * (TCP connect, StartTLS, bind, search, and the retry) gets min(timeout, time
 * left), and nothing is sent once the deadline has passed, so a hung or slow
 * directory cannot hold an httpd worker longer than the caller allows (the
 * request's directory budget, see jm_budget.h).
 *
 * What comes back is bounded too: one message (entry) at most max_message
 * bytes (libldap refuses a larger one from its length header, before reading
 * it), entries at most sizelimit, values per attribute at most max_values.
 */
#include <errno.h>
#include <string.h>
#include <sys/time.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <ldap.h>

#include "directory/jm_ldap.h"
#include "core/jm_log.h"

struct jm_ldap_t {
    apr_pool_t *pool;
    jm_ldap_conf_t conf;
    apr_thread_mutex_t *mutex;  /* guards idle and the counters */
    apr_array_header_t *idle;   /* LDAP*: connected, unused handles */
    unsigned long searches;
    unsigned long reconnects;
};

static void unbind(LDAP *h)
{
    if (h) {
        ldap_unbind_ext_s(h, NULL, NULL);
    }
}

static apr_status_t ldap_pool_cleanup(void *data)
{
    jm_ldap_t *ld = data;
    while (ld->idle->nelts > 0) {
        unbind(*(LDAP **)apr_array_pop(ld->idle));
    }
    return APR_SUCCESS;
}

apr_status_t jm_ldap_create(jm_ldap_t **pld, const jm_ldap_conf_t *conf,
                            apr_pool_t *p)
{
    jm_ldap_t *ld;
    apr_status_t rv;

    if (!conf || !jm_ldap_url_ok(conf->url) || conf->timeout <= 0) {
        return APR_EINVAL;
    }
    ld = apr_pcalloc(p, sizeof(*ld));
    ld->pool = p;
    ld->conf = *conf;
    ld->conf.url = apr_pstrdup(p, conf->url);
    ld->conf.bind_dn = (conf->bind_dn && *conf->bind_dn)
        ? apr_pstrdup(p, conf->bind_dn) : NULL;
    ld->conf.bind_password = conf->bind_password
        ? apr_pstrdup(p, conf->bind_password) : "";
    ld->conf.tls_cafile = conf->tls_cafile
        ? apr_pstrdup(p, conf->tls_cafile) : NULL;
    ld->conf.max_message = conf->max_message;
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&ld->mutex,
                                                     APR_THREAD_MUTEX_DEFAULT, p))) {
        return rv;
    }
    ld->idle = apr_array_make(p, 4, sizeof(LDAP *));
    apr_pool_cleanup_register(p, ld, ldap_pool_cleanup, apr_pool_cleanup_null);
    *pld = ld;
    return APR_SUCCESS;
}

const char *jm_ldap_url(const jm_ldap_t *ld)
{
    return ld->conf.url;
}

void jm_ldap_counters(const jm_ldap_t *ld, unsigned long *psearches,
                      unsigned long *preconnects)
{
    apr_thread_mutex_lock(ld->mutex);
    if (psearches) {
        *psearches = ld->searches;
    }
    if (preconnects) {
        *preconnects = ld->reconnects;
    }
    apr_thread_mutex_unlock(ld->mutex);
}

static struct timeval to_timeval(apr_interval_time_t t)
{
    struct timeval tv;
    if (t < 1000) {
        t = 1000;   /* libldap rejects a zero timeout as a parameter error */
    }
    tv.tv_sec = (long)apr_time_sec(t);
    tv.tv_usec = (long)apr_time_usec(t);
    return tv;
}

static int is_retryable(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT
        || rc == LDAP_CONNECT_ERROR;
}

/* For logs only (URL and the server's own diagnostic text): callers must not
 * hand this to clients. */
static const char *ldap_reason(const jm_ldap_t *ld, LDAP *h, int rc,
                               const char *what, apr_size_t max_message,
                               apr_pool_t *p)
{
    /* liblber refuses a message over max_message with ERANGE, and libldap
     * then reports the server as down */
    int oversize = rc == LDAP_SERVER_DOWN && max_message && errno == ERANGE;
    char *diag = NULL;
    const char *s;

    if (h) {
        ldap_get_option(h, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    }
    s = apr_psprintf(p, "%s: LDAP %s: %s (%d)%s%s%s", ld->conf.url, what,
                     ldap_err2string(rc), rc,
                     (diag && *diag) ? ": " : "", (diag && *diag) ? diag : "",
                     oversize ? apr_psprintf(p, " (an answer larger than %"
                                             APR_SIZE_T_FMT " bytes)",
                                             max_message) : "");
    if (diag) {
        ldap_memfree(diag);
    }
    return s;
}

/* The default connection reads through this sockbuf; liblber checks each
 * message's length header against the bound before reading the message. */
static void set_max_message(LDAP *h, apr_size_t max_message)
{
    Sockbuf *sb = NULL;
    ber_len_t max = (ber_len_t)max_message;

    if (ldap_get_option(h, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS && sb) {
        ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max);
    }
}

static void set_timeouts(LDAP *h, apr_interval_time_t t)
{
    struct timeval tv = to_timeval(t);
    ldap_set_option(h, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(h, LDAP_OPT_TIMEOUT, &tv);
}

/* A new handle, with StartTLS and bind done (anonymous: no bind at all, the
 * TCP connect then happens with the first search). *prc gets the LDAP code. */
static apr_status_t connect_handle(LDAP **ph, jm_ldap_t *ld,
                                   apr_interval_time_t budget, int *prc,
                                   const char **perr, apr_pool_t *p)
{
    LDAP *h = NULL;
    int rc, v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

    errno = 0;
    *prc = rc = ldap_initialize(&h, ld->conf.url);
    if (rc != LDAP_SUCCESS) {
        *perr = ldap_reason(ld, NULL, rc, "initialize", 0, p);
        return APR_EINVAL;
    }
    ldap_set_option(h, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(h, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    set_timeouts(h, budget);
    set_max_message(h, ld->conf.max_message);
    if (ld->conf.tls_cafile) {
        ldap_set_option(h, LDAP_OPT_X_TLS_CACERTFILE, ld->conf.tls_cafile);
        ldap_set_option(h, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        /* options on a handle only take effect in a fresh TLS context */
        ldap_set_option(h, LDAP_OPT_X_TLS_NEWCTX, &zero);
    }
    if (ld->conf.starttls) {
        *prc = rc = ldap_start_tls_s(h, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            *perr = ldap_reason(ld, h, rc, "StartTLS", ld->conf.max_message, p);
            goto fail;
        }
    }
    if (ld->conf.bind_dn) {
        struct berval cred;
        cred.bv_val = (char *)ld->conf.bind_password;
        cred.bv_len = strlen(ld->conf.bind_password);
        *prc = rc = ldap_sasl_bind_s(h, ld->conf.bind_dn, LDAP_SASL_SIMPLE,
                                     &cred, NULL, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            *perr = ldap_reason(ld, h, rc, "bind", ld->conf.max_message, p);
            goto fail;
        }
    }
    *ph = h;
    return APR_SUCCESS;
fail:
    unbind(h);
    if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH
        || rc == LDAP_INSUFFICIENT_ACCESS) {
        return APR_EACCES;
    }
    return is_retryable(rc) ? (rc == LDAP_TIMEOUT ? APR_TIMEUP : APR_EAGAIN)
                            : APR_EGENERAL;
}

static LDAP *pop_idle(jm_ldap_t *ld)
{
    LDAP *h = NULL;
    apr_thread_mutex_lock(ld->mutex);
    if (ld->idle->nelts > 0) {
        h = *(LDAP **)apr_array_pop(ld->idle);
    }
    apr_thread_mutex_unlock(ld->mutex);
    return h;
}

static void push_idle(jm_ldap_t *ld, LDAP *h)
{
    apr_thread_mutex_lock(ld->mutex);
    *(LDAP **)apr_array_push(ld->idle) = h;
    apr_thread_mutex_unlock(ld->mutex);
}

static void count(jm_ldap_t *ld, unsigned long *counter)
{
    apr_thread_mutex_lock(ld->mutex);
    ++*counter;
    apr_thread_mutex_unlock(ld->mutex);
}

static void copy_attr(jm_ldap_attr_t *a, LDAP *h, LDAPMessage *e,
                      const char *name, const jm_ldap_search_opts_t *o,
                      apr_pool_t *p)
{
    struct berval **vals = ldap_get_values_len(h, e, name);
    int i, n = vals ? ldap_count_values_len(vals) : 0;

    a->name = apr_pstrdup(p, name);
    a->dropped = 0;
    if (o->max_values > 0 && n > o->max_values) {
        a->dropped = n - o->max_values;
        n = o->max_values;
    }
    a->values = apr_array_make(p, n > 0 ? n : 1, sizeof(jm_ldap_value_t));
    for (i = 0; i < n; ++i) {
        jm_ldap_value_t *v = apr_array_push(a->values);
        v->len = vals[i]->bv_len;
        if (o->max_value_len && v->len > o->max_value_len) {
            v->data = NULL;     /* too long: the caller decides */
        }
        else {
            unsigned char *buf = apr_palloc(p, v->len + 1);
            memcpy(buf, vals[i]->bv_val, v->len);
            buf[v->len] = '\0';
            v->data = buf;
        }
    }
    if (vals) {
        ldap_value_free_len(vals);
    }
}

static apr_array_header_t *copy_entries(const jm_ldap_t *ld, LDAP *h,
                                        LDAPMessage *res, const char *filter,
                                        int size_exceeded,
                                        const jm_ldap_search_opts_t *o,
                                        apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 2, sizeof(jm_ldap_entry_t));
    LDAPMessage *e;
    int extra = 0;

    for (e = ldap_first_entry(h, res); e; e = ldap_next_entry(h, e)) {
        jm_ldap_entry_t *ent;
        BerElement *ber = NULL;
        char *dn, *name;

        if (o->sizelimit > 0 && entries->nelts >= o->sizelimit) {
            ++extra;    /* a server that ignores the size limit */
            continue;
        }
        ent = apr_array_push(entries);
        dn = ldap_get_dn(h, e);

        ent->dn = apr_pstrdup(p, dn ? dn : "");
        if (dn) {
            ldap_memfree(dn);
        }
        ent->attrs = apr_array_make(p, 2, sizeof(jm_ldap_attr_t));
        for (name = ldap_first_attribute(h, e, &ber); name;
             name = ldap_next_attribute(h, e, ber)) {
            copy_attr(apr_array_push(ent->attrs), h, e, name, o, p);
            ldap_memfree(name);
        }
        if (ber) {
            ber_free(ber, 0);
        }
    }
    if (extra || size_exceeded) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(08000)
                      "%s: search %s matched more entries than the size "
                      "limit; only the first %d used", ld->conf.url, filter,
                      entries->nelts);
    }
    return entries;
}

apr_status_t jm_ldap_search(apr_array_header_t **pentries, jm_ldap_t *ld,
                            const char *base, int scope, const char *filter,
                            const char *const *attrs,
                            const jm_ldap_search_opts_t *opts,
                            const char **perr, apr_pool_t *p)
{
    static const jm_ldap_search_opts_t none = { 0, 0, 0, 0, 0 };
    const jm_ldap_search_opts_t *o = opts ? opts : &none;
    apr_time_t deadline = o->deadline;
    apr_size_t max_message = o->max_message ? o->max_message : ld->conf.max_message;
    apr_status_t rv = APR_EGENERAL;
    int attempt, rc = LDAP_OTHER;

    *perr = NULL;
    if (!deadline) {
        deadline = apr_time_now() + 2 * ld->conf.timeout;
    }
    for (attempt = 0; attempt < 2; ++attempt) {
        apr_interval_time_t left = deadline - apr_time_now();
        LDAPMessage *res = NULL;
        struct timeval tv;
        LDAP *h;

        if (left <= 0) {
            /* before taking a handle: one taken here would leak */
            *perr = attempt == 0
                ? apr_psprintf(p, "%s: no time left for a directory search",
                               ld->conf.url)
                : apr_psprintf(p, "%s; no time left for a retry", *perr);
            return APR_TIMEUP;
        }
        h = attempt == 0 ? pop_idle(ld) : NULL;
        if (left > ld->conf.timeout) {
            left = ld->conf.timeout;
        }
        if (!h) {
            rv = connect_handle(&h, ld, left, &rc, perr, p);
            if (rv != APR_SUCCESS) {
                if (!is_retryable(rc)) {
                    return rv;
                }
                goto retry;
            }
            /* StartTLS and bind took their share: the search gets the rest */
            left = deadline - apr_time_now();
            if (left <= 0) {
                push_idle(ld, h);
                *perr = apr_psprintf(p, "%s: no time left for the search after "
                                     "connecting", ld->conf.url);
                return APR_TIMEUP;
            }
            if (left > ld->conf.timeout) {
                left = ld->conf.timeout;
            }
        }
        set_timeouts(h, left);
        set_max_message(h, max_message);
        tv = to_timeval(left);
        count(ld, &ld->searches);
        errno = 0;
        rc = ldap_search_ext_s(h, base, scope, filter, (char **)attrs, 0,
                               NULL, NULL, &tv, o->sizelimit, &res);
        if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED
            || rc == LDAP_NO_SUCH_OBJECT) {
            *pentries = copy_entries(ld, h, res, filter,
                                     rc == LDAP_SIZELIMIT_EXCEEDED, o, p);
            ldap_msgfree(res);
            push_idle(ld, h);
            return APR_SUCCESS;
        }
        if (res) {
            ldap_msgfree(res);
        }
        *perr = ldap_reason(ld, h, rc, "search", max_message, p);
        if (!is_retryable(rc)) {
            /* the connection itself is fine (e.g. a filter or time limit
             * error from the server) */
            push_idle(ld, h);
            return rc == LDAP_TIMELIMIT_EXCEEDED ? APR_TIMEUP : APR_EGENERAL;
        }
        unbind(h);
        rv = rc == LDAP_TIMEOUT ? APR_TIMEUP : APR_EAGAIN;
retry:
        if (attempt == 0) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, rv, p, JMLOGNO(03000)
                          "%s; reconnecting", *perr);
            count(ld, &ld->reconnects);
        }
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(03001)
                  "directory unavailable: %s", *perr);
    return rv;
}
