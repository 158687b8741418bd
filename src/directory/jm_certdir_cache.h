/* The per-process answer cache of jm_certdir (internal to jm_certdir; the
 * unit tests use it directly).
 *
 * Keys are strings (jm_certdir lower-cases them). Every entry has an absolute
 * expiry time; an entry at or past it is never returned. At most max_entries
 * are kept: when an insert would go over, expired entries go first (earliest
 * expiry first), then the least recently used live one.
 *
 * Cost, with n entries: get O(1) (hash lookup, move to the front of the LRU
 * list); put O(log n) (hash, LRU list, and a binary min-heap on expiry that
 * finds expired entries without scanning); every entry is removed at most
 * once, so purging expired entries is amortised into the inserts. Nothing
 * scans the table. Memory is malloc'ed per entry and freed on eviction (a
 * long-lived APR pool would only grow); allocation and freeing happen outside
 * the cache's mutex.
 *
 * Thread-safety: every function may be called from any thread; one mutex per
 * cache, held only for the hash/list/heap updates and the copy-out of a hit.
 */
#ifndef JM_CERTDIR_CACHE_H
#define JM_CERTDIR_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/x509.h>

typedef struct jm_certdir_cache_t jm_certdir_cache_t;

/** One cached answer. */
typedef struct {
    int status;                 /**< a jm_cert_status_t */
    const char *reason;         /**< NULL is stored as "" */
    X509 *x509;                 /**< put: referenced (up_ref), not consumed;
                                 *   get: a new reference for the caller, or NULL */
    const unsigned char *blob;  /**< opaque bytes (NUL-separated addresses) */
    apr_size_t blob_len;
    int nitems;
    apr_time_t expires;         /**< absolute; put ignores an answer already expired */
} jm_certdir_cached_t;

typedef struct {
    int count;                      /**< entries held now (live or not yet purged) */
    int max;                        /**< the cap */
    unsigned long hits;
    unsigned long misses;           /**< absent or expired */
    unsigned long inserts;
    unsigned long evicted_expired;  /**< purged because expired (put or get) */
    unsigned long evicted_live;     /**< least recently used, evicted for room */
} jm_certdir_cache_stats_t;

/** A cache holding at most max_entries (0: caches nothing). Entries are
 *  freed when p is destroyed. */
apr_status_t jm_certdir_cache_create(jm_certdir_cache_t **pc, int max_entries,
                                     apr_pool_t *p);

/** Insert or replace key's answer as of time now. Out of memory just does
 *  not cache (caching is an optimisation). */
void jm_certdir_cache_put(jm_certdir_cache_t *c, const char *key,
                          const jm_certdir_cached_t *v, apr_time_t now);

/** Copy the live answer for key into out (strings and blob in p) and make it
 *  the most recently used; 0 when absent or expired (an expired entry is
 *  dropped). */
int jm_certdir_cache_get(jm_certdir_cached_t *out, jm_certdir_cache_t *c,
                         const char *key, apr_time_t now, apr_pool_t *p);

void jm_certdir_cache_stats(jm_certdir_cache_t *c, jm_certdir_cache_stats_t *st);

#endif
