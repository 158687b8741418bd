/* Thin libldap client used by jm_certdir: a small pool of bound connections,
 * reconnect-and-retry once on LDAP_SERVER_DOWN/timeouts, bounded timeouts.
 * Internal to jm_certdir; its API is jm_certdir's business.
 *
 * Thread-safety: one jm_ldap_t is shared by all threads of a process. Each
 * LDAP* handle is used by one thread at a time: a search pops a handle from
 * the pool (or connects a new one), and pushes it back when it worked. A
 * handle that failed is unbound, never reused.
 */
#ifndef JM_LDAP_H
#define JM_LDAP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct {
    const char *url;            /**< ldap://host:port or ldaps://host:port */
    const char *bind_dn;        /**< NULL or "": anonymous (no bind at all) */
    const char *bind_password;  /**< for bind_dn */
    int starttls;               /**< 1: StartTLS on ldap:// (required, not opportunistic) */
    const char *tls_cafile;     /**< CA file for the server's TLS cert, or NULL */
    apr_interval_time_t timeout; /**< connect and per-operation bound (> 0) */
} jm_ldap_conf_t;

typedef struct jm_ldap_t jm_ldap_t;

/** One attribute value: bytes, not NUL-terminated in general (a NUL is
 *  appended after len so textual values can be used as C strings). */
typedef struct {
    const unsigned char *data;
    apr_size_t len;
} jm_ldap_value_t;

typedef struct {
    const char *name;           /**< as returned by the server, e.g. "userCertificate;binary" */
    apr_array_header_t *values; /**< jm_ldap_value_t */
} jm_ldap_attr_t;

typedef struct {
    const char *dn;
    apr_array_header_t *attrs;  /**< jm_ldap_attr_t */
} jm_ldap_entry_t;

/** Build the client (copies conf into p; does not connect). Connections are
 *  unbound when p is destroyed. */
apr_status_t jm_ldap_create(jm_ldap_t **pld, const jm_ldap_conf_t *conf,
                            apr_pool_t *p);

/** Syntax check of an LDAP URL (ldap://, ldaps://, ldapi://); 1 if fine. */
int jm_ldap_url_ok(const char *url);

/**
 * Substitute the single "%s" in tmpl with value escaped per RFC 4515
 * (ldap_bv2escaped_filter_value).
 * @return APR_EINVAL if tmpl does not contain exactly one "%s".
 */
apr_status_t jm_ldap_filter(const char **pfilter, const char *tmpl,
                            const char *value, apr_pool_t *p);

/** 1 if tmpl contains exactly one "%s" (and is otherwise usable). */
int jm_ldap_filter_template_ok(const char *tmpl);

/**
 * Subtree (or other scope) search; results copied into p.
 * @param pentries  out: jm_ldap_entry_t array (empty when nothing matched,
 *                  or when base does not exist)
 * @param scope     LDAP_SCOPE_BASE / ONELEVEL / SUBTREE
 * @param attrs     NULL-terminated attribute list, NULL for all
 * @param sizelimit 0: none
 * @param deadline  give up at this time (a caller doing several searches
 *                  for one answer shares one budget); 0: now + 2 x timeout
 * @param perr      out: reason on failure
 * @return APR_SUCCESS; APR_TIMEUP (operation or connect timed out) or
 *   APR_EAGAIN (server down / cannot connect) after one reconnect-and-retry;
 *   APR_EACCES (bind refused); APR_EGENERAL (other LDAP error). Never blocks
 *   much past the deadline (each operation is bounded by the time left).
 */
apr_status_t jm_ldap_search(apr_array_header_t **pentries, jm_ldap_t *ld,
                            const char *base, int scope, const char *filter,
                            const char *const *attrs, int sizelimit,
                            apr_time_t deadline, const char **perr,
                            apr_pool_t *p);

/** Counters: directory round trips (search attempts) and reconnects after
 *  a failed handle. */
void jm_ldap_counters(const jm_ldap_t *ld, unsigned long *psearches,
                      unsigned long *preconnects);

#endif
