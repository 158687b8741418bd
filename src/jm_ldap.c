/* Thin libldap client: pooled handles, bounded time, one reconnect-and-retry.
 *
 * Why a pool and not one handle per thread: httpd threads come and go and an
 * idle directory connection per thread would be wasteful; a handle popped by
 * one thread is invisible to the others, so no LDAP* is ever shared.
 * Why a single retry: a pooled handle may be dead (server restart, idle
 * timeout), which is only noticed when used; one fresh connection tells a
 * stale handle apart from a directory that is really down. Everything is
 * bounded by a deadline of 2 x timeout so a hung directory cannot hold an
 * httpd worker for long.
 */
#include <string.h>
#include <sys/time.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <ldap.h>

#include "jm_ldap.h"
#include "jm_log.h"

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

int jm_ldap_url_ok(const char *url)
{
    LDAPURLDesc *lud = NULL;
    int ok;

    if (!url || !*url || !ldap_is_ldap_url(url)) {
        return 0;
    }
    if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS) {
        return 0;
    }
    ok = lud->lud_scheme && (!strcasecmp(lud->lud_scheme, "ldap")
                             || !strcasecmp(lud->lud_scheme, "ldaps")
                             || !strcasecmp(lud->lud_scheme, "ldapi"));
    ldap_free_urldesc(lud);
    return ok;
}

int jm_ldap_filter_template_ok(const char *tmpl)
{
    const char *s;
    int n = 0;

    if (!tmpl || !*tmpl) {
        return 0;
    }
    for (s = tmpl; *s; ++s) {
        if (*s != '%') {
            continue;
        }
        if (s[1] != 's') {
            return 0;   /* a stray '%' would be a trap for later edits */
        }
        ++n;
        ++s;
    }
    return n == 1;
}

apr_status_t jm_ldap_filter(const char **pfilter, const char *tmpl,
                            const char *value, apr_pool_t *p)
{
    struct berval in, out = { 0, NULL };
    const char *at;

    if (!jm_ldap_filter_template_ok(tmpl) || !value) {
        return APR_EINVAL;
    }
    in.bv_val = (char *)value;
    in.bv_len = strlen(value);
    if (ldap_bv2escaped_filter_value(&in, &out) != 0) {
        return APR_ENOMEM;
    }
    at = strstr(tmpl, "%s");
    *pfilter = apr_pstrcat(p, apr_pstrmemdup(p, tmpl, (apr_size_t)(at - tmpl)),
                           out.bv_val ? out.bv_val : "", at + 2, NULL);
    ber_memfree(out.bv_val);
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
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&ld->mutex,
                                                     APR_THREAD_MUTEX_DEFAULT, p))) {
        return rv;
    }
    ld->idle = apr_array_make(p, 4, sizeof(LDAP *));
    apr_pool_cleanup_register(p, ld, ldap_pool_cleanup, apr_pool_cleanup_null);
    *pld = ld;
    return APR_SUCCESS;
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

static const char *ldap_reason(LDAP *h, int rc, const char *what, apr_pool_t *p)
{
    char *diag = NULL;
    const char *s;

    if (h) {
        ldap_get_option(h, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    }
    s = apr_psprintf(p, "LDAP %s: %s (%d)%s%s", what, ldap_err2string(rc), rc,
                     (diag && *diag) ? ": " : "", (diag && *diag) ? diag : "");
    if (diag) {
        ldap_memfree(diag);
    }
    return s;
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

    *prc = rc = ldap_initialize(&h, ld->conf.url);
    if (rc != LDAP_SUCCESS) {
        *perr = ldap_reason(NULL, rc, "initialize", p);
        return APR_EINVAL;
    }
    ldap_set_option(h, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(h, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    set_timeouts(h, budget);
    if (ld->conf.tls_cafile) {
        ldap_set_option(h, LDAP_OPT_X_TLS_CACERTFILE, ld->conf.tls_cafile);
        ldap_set_option(h, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        /* options on a handle only take effect in a fresh TLS context */
        ldap_set_option(h, LDAP_OPT_X_TLS_NEWCTX, &zero);
    }
    if (ld->conf.starttls) {
        *prc = rc = ldap_start_tls_s(h, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            *perr = ldap_reason(h, rc, "StartTLS", p);
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
            *perr = ldap_reason(h, rc, "bind", p);
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

static jm_ldap_attr_t *copy_attr(LDAP *h, LDAPMessage *e, const char *name,
                                 apr_pool_t *p)
{
    jm_ldap_attr_t *a = apr_pcalloc(p, sizeof(*a));
    struct berval **vals = ldap_get_values_len(h, e, name);
    int i, n = vals ? ldap_count_values_len(vals) : 0;

    a->name = apr_pstrdup(p, name);
    a->values = apr_array_make(p, n > 0 ? n : 1, sizeof(jm_ldap_value_t));
    for (i = 0; i < n; ++i) {
        jm_ldap_value_t *v = apr_array_push(a->values);
        unsigned char *buf = apr_palloc(p, vals[i]->bv_len + 1);
        memcpy(buf, vals[i]->bv_val, vals[i]->bv_len);
        buf[vals[i]->bv_len] = '\0';
        v->data = buf;
        v->len = vals[i]->bv_len;
    }
    if (vals) {
        ldap_value_free_len(vals);
    }
    return a;
}

static apr_array_header_t *copy_entries(LDAP *h, LDAPMessage *res,
                                        apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 2, sizeof(jm_ldap_entry_t));
    LDAPMessage *e;

    for (e = ldap_first_entry(h, res); e; e = ldap_next_entry(h, e)) {
        jm_ldap_entry_t *ent = apr_array_push(entries);
        BerElement *ber = NULL;
        char *dn = ldap_get_dn(h, e), *name;

        ent->dn = apr_pstrdup(p, dn ? dn : "");
        if (dn) {
            ldap_memfree(dn);
        }
        ent->attrs = apr_array_make(p, 2, sizeof(jm_ldap_attr_t));
        for (name = ldap_first_attribute(h, e, &ber); name;
             name = ldap_next_attribute(h, e, ber)) {
            *(jm_ldap_attr_t *)apr_array_push(ent->attrs) = *copy_attr(h, e, name, p);
            ldap_memfree(name);
        }
        if (ber) {
            ber_free(ber, 0);
        }
    }
    return entries;
}

apr_status_t jm_ldap_search(apr_array_header_t **pentries, jm_ldap_t *ld,
                            const char *base, int scope, const char *filter,
                            const char *const *attrs, int sizelimit,
                            apr_time_t deadline, const char **perr,
                            apr_pool_t *p)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt, rc = LDAP_OTHER;

    *perr = NULL;
    if (!deadline) {
        deadline = apr_time_now() + 2 * ld->conf.timeout;
    }
    for (attempt = 0; attempt < 2; ++attempt) {
        apr_interval_time_t left = deadline - apr_time_now();
        LDAP *h = attempt == 0 ? pop_idle(ld) : NULL;
        LDAPMessage *res = NULL;
        struct timeval tv;

        if (left <= 0) {
            *perr = apr_psprintf(p, "LDAP %s: no time left for a retry",
                                 ld->conf.url);
            return APR_TIMEUP;
        }
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
        }
        else {
            set_timeouts(h, left);
        }
        tv = to_timeval(left);
        count(ld, &ld->searches);
        rc = ldap_search_ext_s(h, base, scope, filter, (char **)attrs, 0,
                               NULL, NULL, &tv, sizelimit, &res);
        if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED
            || rc == LDAP_NO_SUCH_OBJECT) {
            *pentries = copy_entries(h, res, p);
            ldap_msgfree(res);
            push_idle(ld, h);
            return APR_SUCCESS;
        }
        if (res) {
            ldap_msgfree(res);
        }
        *perr = ldap_reason(h, rc, "search", p);
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
                          "%s: %s; reconnecting", ld->conf.url, *perr);
            count(ld, &ld->reconnects);
        }
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(03001)
                  "directory %s unavailable: %s", ld->conf.url, *perr);
    return rv;
}
