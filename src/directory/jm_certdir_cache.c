/* The per-process answer cache of jm_certdir (see jm_certdir_cache.h).
 *
 * Three views of the same malloc'ed entries, all updated under one mutex:
 *   - an apr_hash (key -> entry) for lookups;
 *   - a doubly linked list in recency order (head: most recently used) that
 *     names the eviction victim when no entry has expired;
 *   - a binary min-heap on expiry (each entry knows its slot), whose top says
 *     at once whether anything has expired.
 * The earlier version scanned the whole table under the lock on every insert
 * into a full cache (10000 entries by default): the lock every lookup needs
 * was held for O(n) per miss.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "directory/jm_certdir_cache.h"

typedef struct entry_t {
    char *key;
    int status;
    char *reason;
    X509 *x509;
    unsigned char *blob;
    size_t blob_len;
    int nitems;
    apr_time_t expires;
    struct entry_t *prev, *next;    /* recency list; next also chains victims */
    size_t slot;                    /* index in the heap */
} entry_t;

struct jm_certdir_cache_t {
    apr_pool_t *pool;               /* own subpool: only touched under mutex */
    apr_thread_mutex_t *mutex;
    apr_hash_t *index;
    entry_t *head, *tail;
    entry_t **heap;
    size_t heap_n, heap_cap;
    int max;
    jm_certdir_cache_stats_t st;
};

static void entry_free(entry_t *e)
{
    X509_free(e->x509);
    free(e->key);
    free(e->reason);
    free(e->blob);
    free(e);
}

static void free_chain(entry_t *e)
{
    while (e) {
        entry_t *next = e->next;
        entry_free(e);
        e = next;
    }
}

static apr_status_t cache_cleanup(void *data)
{
    jm_certdir_cache_t *c = data;

    free_chain(c->head);
    c->head = c->tail = NULL;
    free(c->heap);
    c->heap = NULL;
    c->heap_n = c->heap_cap = 0;
    return APR_SUCCESS;
}

apr_status_t jm_certdir_cache_create(jm_certdir_cache_t **pc, int max_entries,
                                     apr_pool_t *p)
{
    jm_certdir_cache_t *c;
    apr_pool_t *sub;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = apr_pool_create(&sub, p))) {
        return rv;
    }
    c = apr_pcalloc(sub, sizeof(*c));
    c->pool = sub;
    c->max = max_entries > 0 ? max_entries : 0;
    c->st.max = c->max;
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&c->mutex,
                                                     APR_THREAD_MUTEX_DEFAULT, sub))) {
        return rv;
    }
    c->index = apr_hash_make(sub);
    apr_pool_cleanup_register(sub, c, cache_cleanup, apr_pool_cleanup_null);
    *pc = c;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ the heap */

static void heap_set(jm_certdir_cache_t *c, size_t i, entry_t *e)
{
    c->heap[i] = e;
    e->slot = i;
}

static void sift_up(jm_certdir_cache_t *c, size_t i)
{
    entry_t *e = c->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (c->heap[parent]->expires <= e->expires) {
            break;
        }
        heap_set(c, i, c->heap[parent]);
        i = parent;
    }
    heap_set(c, i, e);
}

static void sift_down(jm_certdir_cache_t *c, size_t i)
{
    entry_t *e = c->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= c->heap_n) {
            break;
        }
        if (r < c->heap_n && c->heap[r]->expires < c->heap[l]->expires) {
            m = r;
        }
        if (e->expires <= c->heap[m]->expires) {
            break;
        }
        heap_set(c, i, c->heap[m]);
        i = m;
    }
    heap_set(c, i, e);
}

static void heap_remove(jm_certdir_cache_t *c, entry_t *e)
{
    size_t i = e->slot;
    entry_t *last = c->heap[--c->heap_n];

    if (last == e) {
        return;
    }
    heap_set(c, i, last);
    if (i > 0 && c->heap[(i - 1) / 2]->expires > last->expires) {
        sift_up(c, i);
    }
    else {
        sift_down(c, i);
    }
}

/* Room for one more slot; 0 when out of memory. */
static int heap_reserve(jm_certdir_cache_t *c)
{
    size_t cap;
    entry_t **h;

    if (c->heap_n < c->heap_cap) {
        return 1;
    }
    cap = c->heap_cap ? 2 * c->heap_cap : 16;
    if (cap > (size_t)c->max) {
        cap = (size_t)c->max;
    }
    if (cap <= c->heap_n || !(h = realloc(c->heap, cap * sizeof(*h)))) {
        return 0;
    }
    c->heap = h;
    c->heap_cap = cap;
    return 1;
}

/* ---------------------------------------------------- list, unlinking */

static void list_unlink(jm_certdir_cache_t *c, entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void list_push_front(jm_certdir_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

/* Take e out of all three views and chain it on *victims (freed later,
 * outside the lock). */
static void detach(jm_certdir_cache_t *c, entry_t *e, entry_t **victims)
{
    apr_hash_set(c->index, e->key, APR_HASH_KEY_STRING, NULL);
    list_unlink(c, e);
    heap_remove(c, e);
    --c->st.count;
    e->next = *victims;
    *victims = e;
}

/* ------------------------------------------------------------- the API */

void jm_certdir_cache_put(jm_certdir_cache_t *c, const char *key,
                          const jm_certdir_cached_t *v, apr_time_t now)
{
    entry_t *e, *old, *victims = NULL;
    size_t blob_len = v->blob_len;

    if (c->max <= 0 || !key || v->expires <= now) {
        return;
    }
    e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(key))
        || !(e->reason = strdup(v->reason ? v->reason : ""))
        || !(e->blob = malloc(blob_len ? blob_len : 1))) {
        if (e) {
            entry_free(e);
        }
        return;
    }
    if (blob_len) {
        memcpy(e->blob, v->blob, blob_len);
    }
    e->blob_len = blob_len;
    if (v->x509 && X509_up_ref(v->x509)) {
        e->x509 = v->x509;
    }
    e->status = v->status;
    e->nitems = v->nitems;
    e->expires = v->expires;

    apr_thread_mutex_lock(c->mutex);
    if ((old = apr_hash_get(c->index, key, APR_HASH_KEY_STRING)) != NULL) {
        detach(c, old, &victims);
    }
    /* expired entries first (each leaves once: amortised in the inserts) */
    while (c->heap_n > 0 && c->heap[0]->expires <= now) {
        detach(c, c->heap[0], &victims);
        ++c->st.evicted_expired;
    }
    while (c->st.count >= c->max && c->tail) {
        detach(c, c->tail, &victims);
        ++c->st.evicted_live;
    }
    if (heap_reserve(c)) {
        apr_hash_set(c->index, e->key, APR_HASH_KEY_STRING, e);
        list_push_front(c, e);
        heap_set(c, c->heap_n++, e);
        sift_up(c, e->slot);
        ++c->st.count;
        ++c->st.inserts;
        e = NULL;
    }
    apr_thread_mutex_unlock(c->mutex);
    if (e) {
        entry_free(e);
    }
    free_chain(victims);
}

int jm_certdir_cache_get(jm_certdir_cached_t *out, jm_certdir_cache_t *c,
                         const char *key, apr_time_t now, apr_pool_t *p)
{
    entry_t *e, *victims = NULL;
    int found = 0;

    if (c->max <= 0 || !key) {
        return 0;
    }
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->index, key, APR_HASH_KEY_STRING);
    if (e && e->expires <= now) {
        detach(c, e, &victims);
        ++c->st.evicted_expired;
        e = NULL;
    }
    if (e) {
        if (c->head != e) {
            list_unlink(c, e);
            list_push_front(c, e);
        }
        out->status = e->status;
        out->reason = apr_pstrdup(p, e->reason);
        out->blob = apr_pmemdup(p, e->blob, e->blob_len ? e->blob_len : 1);
        out->blob_len = e->blob_len;
        out->x509 = (e->x509 && X509_up_ref(e->x509)) ? e->x509 : NULL;
        out->nitems = e->nitems;
        out->expires = e->expires;
        ++c->st.hits;
        found = 1;
    }
    else {
        ++c->st.misses;
    }
    apr_thread_mutex_unlock(c->mutex);
    free_chain(victims);
    return found;
}

void jm_certdir_cache_stats(jm_certdir_cache_t *c, jm_certdir_cache_stats_t *st)
{
    apr_thread_mutex_lock(c->mutex);
    *st = c->st;
    apr_thread_mutex_unlock(c->mutex);
}
