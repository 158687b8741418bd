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
    apr_size_t max_message;     /**< largest LDAP message (one entry) read from
                                 *   the server; a larger one fails the search
                                 *   without being read. 0: no bound */
} jm_ldap_conf_t;

typedef struct jm_ldap_t jm_ldap_t;

/** One attribute value: bytes, not NUL-terminated in general (a NUL is
 *  appended after len so textual values can be used as C strings).
 *  data is NULL for a value longer than the search's max_value_len (len is
 *  then its real length): the caller decides whether that is fatal. */
typedef struct {
    const unsigned char *data;
    apr_size_t len;
} jm_ldap_value_t;

typedef struct {
    const char *name;           /**< as returned by the server, e.g. "userCertificate;binary" */
    apr_array_header_t *values; /**< jm_ldap_value_t, at most max_values */
    int dropped;                /**< values beyond max_values, not copied */
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

/** Bounds of one search. All zero: no bounds but the default deadline. */
typedef struct {
    apr_time_t deadline;        /**< every operation of this search (connect,
                                 *   StartTLS, bind, search, the reconnect and
                                 *   retry) ends by then: its timeout is
                                 *   min(timeout, time left). A caller doing
                                 *   several searches for one answer, or one
                                 *   request, passes one deadline to all of
                                 *   them. 0: now + 2 x timeout */
    int sizelimit;              /**< entries: asked of the server and enforced
                                 *   on what comes back (more are dropped and
                                 *   logged); 0: none */
    int max_values;             /**< values copied per attribute; 0: all */
    apr_size_t max_value_len;   /**< longer values come back with data NULL;
                                 *   0: no bound */
    apr_size_t max_message;     /**< bound on each message (entry) of this
                                 *   search; 0: the client's max_message */
} jm_ldap_search_opts_t;

/**
 * Subtree (or other scope) search; results copied into p.
 * @param pentries  out: jm_ldap_entry_t array (empty when nothing matched,
 *                  or when base does not exist)
 * @param scope     LDAP_SCOPE_BASE / ONELEVEL / SUBTREE
 * @param attrs     NULL-terminated attribute list, NULL for all
 * @param opts      bounds; NULL: none but the default deadline
 * @param perr      out: reason on failure, for logs (names the URL and
 *                  carries the server's diagnostic: not for clients)
 * @return APR_SUCCESS; APR_TIMEUP (operation or connect timed out, or the
 *   deadline had passed before anything was sent) or APR_EAGAIN (server
 *   down / cannot connect) after one reconnect-and-retry; APR_EACCES (bind
 *   refused); APR_EGENERAL (other LDAP error). Never blocks much past the
 *   deadline.
 */
apr_status_t jm_ldap_search(apr_array_header_t **pentries, jm_ldap_t *ld,
                            const char *base, int scope, const char *filter,
                            const char *const *attrs,
                            const jm_ldap_search_opts_t *opts,
                            const char **perr, apr_pool_t *p);

/** The URL the client was built with (for messages). */
const char *jm_ldap_url(const jm_ldap_t *ld);

/** Counters: directory round trips (search attempts) and reconnects after
 *  a failed handle. */
void jm_ldap_counters(const jm_ldap_t *ld, unsigned long *psearches,
                      unsigned long *preconnects);

#endif
