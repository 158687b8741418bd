/* Recipient certificates from the organisation's directory.
 *
 * Policy on top of jm_ldap: find a recipient's certificates, keep the valid
 * one fit for encryption with the latest notAfter, validate it against the
 * trust anchors and CRLs (files, and the issuing CA's
 * certificateRevocationList;binary in the directory, refreshed at nextUpdate),
 * and cache answers — found and not found — per process with a TTL.
 * One jm_certdir_t is built per child process (child_init) and shared by all
 * its threads; every function here is thread-safe.
 *
 * Time: every lookup takes the request's deadline (jm_budget_t's
 * directory_deadline) and no directory operation it causes (search, CRL
 * fetch, connect, StartTLS, bind, reconnect and retry) runs past it; each gets
 * min(timeout, time left). Once the deadline has passed, an answer the cache
 * does not have fails at once, as "directory unavailable".
 *
 * Size: what the directory returns is bounded (entries per search, values per
 * attribute, bytes per certificate and per CRL, candidates per address,
 * addresses per user); see jm_certdir.c.
 */
#ifndef JM_CERTDIR_H
#define JM_CERTDIR_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>

typedef struct {
    const char *url;             /**< ldap://host:port or ldaps://host:port */
    const char *bind_dn;         /**< NULL: anonymous */
    const char *bind_password;   /**< read from the password file by the glue */
    const char *base;            /**< search base */
    const char *cert_filter;     /**< template, %s = escaped address: "(mail=%s)" */
    apr_array_header_t *cert_attrs; /**< const char*: "userCertificate;binary", "userSMIMECertificate" */
    const char *user_filter;     /**< template, %s = escaped username: "(uid=%s)" */
    const char *user_mail_attr;  /**< attribute listing a user's addresses: "mail" */
    int starttls;                /**< 1: StartTLS on ldap:// */
    const char *tls_cafile;      /**< CA file for the directory's TLS cert, or NULL */
    apr_interval_time_t timeout; /**< bound for connect + each operation */
    apr_array_header_t *trust_files; /**< const char*: PEM files with trust anchors */
    apr_array_header_t *crl_files;   /**< const char*: PEM/DER CRL files */
    int crl_from_directory;      /**< 1: fetch issuer CRLs from the directory */
    int require_crl;             /**< 1: no CRL for an issuer = cannot check = unusable */
    apr_interval_time_t cache_ttl;     /**< positive answers */
    apr_interval_time_t negative_ttl;  /**< "not found" answers */
    int cache_max;               /**< entries kept per process */
    apr_size_t max_crl_bytes;    /**< largest CRL taken from the directory; a
                                  *   larger one fails the CRL refresh (lookups
                                  *   then fail, retryably, rather than skip a
                                  *   revocation check). 0: 16 MiB */
} jm_certdir_conf_t;

typedef struct jm_certdir_t jm_certdir_t;

typedef enum {
    JM_CERT_OK = 0,
    JM_CERT_NOT_FOUND,      /**< no entry, or entry without certificates */
    JM_CERT_EXPIRED,        /**< every candidate expired or not yet valid */
    JM_CERT_REVOKED,        /**< the best candidate is revoked */
    JM_CERT_UNUSABLE,       /**< wrong key usage / EKU / address not in cert */
    JM_CERT_UNTRUSTED       /**< does not chain to a trust anchor */
} jm_cert_status_t;

typedef struct {
    jm_cert_status_t status;
    const char *reason;     /**< human-readable, safe for clients: "certificate expired 2026-01-01" */
    X509 *cert;             /**< status OK: the chosen certificate (freed with the pool) */
    int from_cache;         /**< 1 if answered without a directory round trip */
} jm_cert_lookup_t;

/** Check conf (loads trust anchors and CRL files) and build the directory
 *  client. Does not connect yet. *perr explains a failure. */
apr_status_t jm_certdir_create(jm_certdir_t **pcd, const jm_certdir_conf_t *conf,
                               const char **perr, apr_pool_t *p);

/** Only validate conf (at startup, before children exist). */
apr_status_t jm_certdir_check_conf(const jm_certdir_conf_t *conf,
                                   const char **perr, apr_pool_t *p);

/**
 * The certificate to encrypt to for address.
 * @param deadline the request's directory deadline: no directory operation
 *   runs past it. 0: none (each lookup is still bounded by 2 x timeout).
 * @return APR_SUCCESS when the directory answered (or the cache did): the
 *   verdict is in res->status. Any other value means the directory could not
 *   be asked (down, timeout, bind failed, the deadline passed: APR_TIMEUP): a
 *   retryable condition, never "not found"; *perr says why, for the log only
 *   (it names the directory URL and carries its diagnostics).
 */
apr_status_t jm_certdir_find_encryption_cert(jm_cert_lookup_t *res,
                                             jm_certdir_t *cd,
                                             const char *address,
                                             apr_time_t deadline,
                                             const char **perr, apr_pool_t *p);

/**
 * A user's own addresses (values of user_mail_attr in the entry that
 * user_filter finds for username). APR_SUCCESS with an empty array when there
 * is no such entry; deadline and other return values as above.
 */
apr_status_t jm_certdir_user_addresses(apr_array_header_t **paddrs,
                                       jm_certdir_t *cd, const char *username,
                                       apr_time_t deadline,
                                       const char **perr, apr_pool_t *p);

/** Counters for tests and logs. */
typedef struct {
    unsigned long lookups;        /**< jm_certdir_find_encryption_cert calls */
    unsigned long cache_hits;
    unsigned long ldap_searches;  /**< directory round trips */
    unsigned long reconnects;
    unsigned long out_of_time;    /**< lookups refused: the deadline had passed */
    int cache_entries;            /**< certificate + user entries cached now */
    unsigned long cache_evictions; /**< entries evicted for room (live ones) */
} jm_certdir_stats_t;
void jm_certdir_stats(const jm_certdir_t *cd, jm_certdir_stats_t *st);

#endif
