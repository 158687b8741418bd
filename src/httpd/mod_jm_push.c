/* The push watcher (RFC 8620 §7.3 event source).
 *
 * Mechanism: every JM_PUSH_TICK (200 ms) one thread per child process
 * reads the current states (jm_states) of exactly the accounts that have
 * an open event-source stream in this process, in one statement per
 * database (up to JM_STORE_STATES_BATCH accounts each), and wakes the
 * streams (one condition variable) when any of them moved. A change made
 * by any process or node (HTTP, LMTP) is a committed bump of a state row,
 * so whatever wrote it, the next tick sees it: at most one tick plus the
 * query after the commit. It works the same on SQLite (other processes'
 * commits are visible to a new read transaction) and PostgreSQL (read
 * committed: each statement sees every commit before it), across nodes,
 * without triggers or a notification channel, and it compares state
 * values, not jm_changes.seq, whose order across PostgreSQL sessions is
 * not the commit order. LISTEN/NOTIFY would save the idle reads but needs
 * a connection held per process outside mod_dbd's pool and exists on
 * PostgreSQL only; the read costs one indexed lookup per watched account
 * per tick, and nothing when no stream is open (the thread then sleeps on
 * its condition until a stream registers).
 *
 * The thread also watches the MPM: on a graceful restart or stop it tells
 * every stream to end, so streams never hold a stopping child.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_allocator.h>
#include "httpd/mod_jm_private.h"
#include <ap_mpm.h>
#include "httpd/mod_jm_push.h"
#include "httpd/mod_jm_dbd.h"
#include "store/jm_store.h"

struct jm_push_sub_t {
    jm_push_sub_t *next, *prev;
    server_rec *s;
    apr_pool_t *pool;              /**< the stream's */
    apr_pool_t *apool;             /**< holds accounts; replaced on a change */
    apr_array_header_t *accounts;  /**< const char* */
    apr_uint64_t seen;             /**< gen at the stream's last wake */
};

typedef struct {
    apr_thread_mutex_t *mu;        /**< everything below */
    apr_thread_cond_t *moved;      /**< watcher -> streams */
    apr_thread_cond_t *work;       /**< streams, cleanup -> watcher */
    jm_push_sub_t *subs;
    int nsubs;
    apr_uint64_t gen;              /**< +1 whenever a watched state moved */
    apr_pool_t *map_pool;          /**< the watcher's, holds map */
    apr_hash_t *map;               /**< account id -> jm_push_states_t* */
    int stopping;
    int failing;                   /**< the last read failed (logged once) */
    apr_pool_t *wpool;             /**< the watcher thread's own allocator */
    apr_thread_t *thread;
    server_rec *s;
} watcher_t;

/* Built once in child_init (before any request thread exists), then only
 * used under w->mu. */
static watcher_t *w;

static int mpm_stopping(void)
{
    int st = AP_MPMQ_RUNNING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &st) == APR_SUCCESS
           && st == AP_MPMQ_STOPPING;
}

/* Under w->mu: per server, the distinct accounts watched, copied into p. */
static apr_hash_t *collect(apr_pool_t *p)
{
    apr_hash_t *groups = apr_hash_make(p), *seen = apr_hash_make(p);
    jm_push_sub_t *sub;
    int i;

    for (sub = w->subs; sub; sub = sub->next) {
        apr_array_header_t *ids = apr_hash_get(groups, &sub->s, sizeof(sub->s));
        if (!ids) {
            ids = apr_array_make(p, 8, sizeof(const char *));
            apr_hash_set(groups, apr_pmemdup(p, &sub->s, sizeof(sub->s)),
                         sizeof(sub->s), ids);
        }
        for (i = 0; i < sub->accounts->nelts; i++) {
            const char *acc = APR_ARRAY_IDX(sub->accounts, i, const char *);
            const char *key = apr_psprintf(p, "%pp/%s", (void *)sub->s, acc);
            if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, key, APR_HASH_KEY_STRING, key);
                APR_ARRAY_PUSH(ids, const char *) = apr_pstrdup(p, acc);
            }
        }
    }
    return groups;
}

/* Read one server's accounts into map (states in p, the connection and
 * the rows in qp); APR_SUCCESS or the store's failure (the accounts then
 * keep their previous states). */
static apr_status_t read_group(apr_hash_t *map, server_rec *s,
                               const apr_array_header_t *ids, apr_pool_t *qp,
                               apr_pool_t *p)
{
    apr_array_header_t *rows;
    jm_db_t *db;
    apr_status_t rv;
    int i;

    if ((rv = jm_dbd_open(&db, s, qp)) != APR_SUCCESS
        || (rv = jm_store_states_of(&rows, db, ids, qp)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ids->nelts; i++) {
        jm_push_states_t *st = apr_palloc(p, sizeof(*st));
        jm_push_states_init(st);
        apr_hash_set(map, APR_ARRAY_IDX(ids, i, const char *), APR_HASH_KEY_STRING, st);
    }
    for (i = 0; i < rows->nelts; i++) {
        jm_state_row_t *r = &APR_ARRAY_IDX(rows, i, jm_state_row_t);
        jm_push_states_t *st = apr_hash_get(map, r->account_id, APR_HASH_KEY_STRING);
        int k = jm_push_type_index(r->type);
        if (st && k >= 0) {
            st->st[k] = r->state;
        }
    }
    return APR_SUCCESS;
}

static int same_states(const jm_push_states_t *a, const jm_push_states_t *b)
{
    return a && b && memcmp(a->st, b->st, sizeof(a->st)) == 0;
}

/* One tick: read, then publish the new map (under w->mu). */
static void tick(void)
{
    apr_pool_t *np, *gp;
    apr_hash_t *groups, *map, *failed;
    apr_hash_index_t *hi;
    apr_status_t rv, bad = APR_SUCCESS;
    int moved = 0;

    apr_pool_create(&np, w->wpool);
    apr_pool_create(&gp, np);
    map = apr_hash_make(np);
    failed = apr_hash_make(gp);
    apr_thread_mutex_lock(w->mu);
    groups = collect(gp);
    apr_thread_mutex_unlock(w->mu);
    for (hi = apr_hash_first(gp, groups); hi; hi = apr_hash_next(hi)) {
        server_rec *const *ps = apr_hash_this_key(hi);
        apr_array_header_t *ids = apr_hash_this_val(hi);
        apr_pool_t *qp;
        int i;

        apr_pool_create(&qp, gp);
        /* ids live in gp, the states in np: qp holds the connection, which
         * goes back to mod_dbd's pool right after the read */
        if ((rv = read_group(map, *ps, ids, qp, np)) != APR_SUCCESS) {
            bad = rv;
            for (i = 0; i < ids->nelts; i++) {
                const char *acc = APR_ARRAY_IDX(ids, i, const char *);
                apr_hash_set(failed, acc, APR_HASH_KEY_STRING, acc);
            }
        }
        apr_pool_destroy(qp);
    }
    apr_thread_mutex_lock(w->mu);
    for (hi = apr_hash_first(gp, failed); hi; hi = apr_hash_next(hi)) {
        const char *acc = apr_hash_this_key(hi);
        jm_push_states_t *old = w->map ? apr_hash_get(w->map, acc, APR_HASH_KEY_STRING)
                                       : NULL;
        if (old) {
            apr_hash_set(map, apr_pstrdup(np, acc), APR_HASH_KEY_STRING,
                         apr_pmemdup(np, old, sizeof(*old)));
        }
    }
    for (hi = apr_hash_first(gp, map); hi && !moved; hi = apr_hash_next(hi)) {
        moved = !same_states(apr_hash_this_val(hi),
                             w->map ? apr_hash_get(w->map, apr_hash_this_key(hi),
                                                   APR_HASH_KEY_STRING) : NULL);
    }
    if (w->map_pool) {
        apr_pool_destroy(w->map_pool);
    }
    /* map's keys are gp's ids: keep gp (a sub-pool of np) with it */
    w->map_pool = np;
    w->map = map;
    if (moved) {
        w->gen++;
        apr_thread_cond_broadcast(w->moved);
    }
    if (bad != APR_SUCCESS && !w->failing) {
        ap_log_error(APLOG_MARK, APLOG_ERR, bad, w->s, JMLOGNO_GLUE(01140)
                     "event source: cannot read the states of the watched "
                     "accounts; streams wait until the store answers again");
    }
    else if (bad == APR_SUCCESS && w->failing) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s, JMLOGNO_GLUE(01141)
                     "event source: the store answers again");
    }
    w->failing = bad != APR_SUCCESS;
    apr_thread_mutex_unlock(w->mu);
}

static void *APR_THREAD_FUNC watch(apr_thread_t *t, void *data)
{
    (void)data;
    apr_thread_mutex_lock(w->mu);
    while (!w->stopping) {
        if (w->nsubs == 0) {
            /* nothing to watch: forget the states, sleep until a stream
             * registers (still looking at the MPM now and then) */
            if (w->map_pool) {
                apr_pool_destroy(w->map_pool);
                w->map_pool = NULL;
                w->map = NULL;
            }
            apr_thread_cond_timedwait(w->work, w->mu, apr_time_from_sec(1));
        }
        else {
            apr_thread_mutex_unlock(w->mu);
            tick();
            apr_thread_mutex_lock(w->mu);
            if (!w->stopping) {
                /* a store that does not answer is asked once a second
                 * (mod_dbd logs each failed attempt) */
                apr_thread_cond_timedwait(w->work, w->mu, w->failing
                                          ? apr_time_from_sec(1) : JM_PUSH_TICK);
            }
        }
        if (!w->stopping && mpm_stopping()) {
            w->stopping = 1;
        }
    }
    apr_thread_cond_broadcast(w->moved);
    apr_thread_mutex_unlock(w->mu);
    /* a return, not apr_thread_exit(): pthread_exit's forced unwinding
     * skips the frames' epilogues, and AddressSanitizer then finds this
     * stack still poisoned when the thread ends (its own report, at every
     * child's exit); apr_thread_join works either way */
    (void)t;
    return NULL;
}

static apr_status_t stop_watcher(void *data)
{
    apr_status_t rv;

    (void)data;
    if (!w) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(w->mu);
    w->stopping = 1;
    apr_thread_cond_broadcast(w->work);
    apr_thread_cond_broadcast(w->moved);
    apr_thread_mutex_unlock(w->mu);
    if (w->thread) {
        apr_thread_join(&rv, w->thread);
    }
    w = NULL;
    return APR_SUCCESS;
}

void jm_push_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_allocator_t *alloc = NULL;
    watcher_t *nw = apr_pcalloc(pchild, sizeof(*nw));
    apr_status_t rv;

    nw->s = s;
    if ((rv = apr_thread_mutex_create(&nw->mu, APR_THREAD_MUTEX_DEFAULT, pchild))
            != APR_SUCCESS
        || (rv = apr_thread_cond_create(&nw->moved, pchild)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&nw->work, pchild)) != APR_SUCCESS
        || (rv = apr_allocator_create(&alloc)) != APR_SUCCESS
        || (rv = apr_pool_create_ex(&nw->wpool, pchild, NULL, alloc)) != APR_SUCCESS) {
        if (alloc) {
            apr_allocator_destroy(alloc);
        }
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, JMLOGNO_GLUE(01142)
                     "event source: cannot set up the push watcher; "
                     "event-source requests are refused");
        return;
    }
    /* the watcher's pools are touched by its thread only: an allocator of
     * their own, without a lock */
    apr_allocator_owner_set(alloc, nw->wpool);
    apr_allocator_max_free_set(alloc, 256 * 1024);
    w = nw;
    /* a pre-cleanup: the thread ends before pchild's sub-pools (the
     * watcher's among them) are destroyed */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_watcher);
    if ((rv = apr_thread_create(&nw->thread, NULL, watch, NULL, pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, JMLOGNO_GLUE(01143)
                     "event source: cannot start the push watcher thread; "
                     "event-source requests are refused");
        nw->thread = NULL;
        w = NULL;
    }
}

static void set_accounts_locked(jm_push_sub_t *sub, const apr_array_header_t *accounts)
{
    apr_pool_t *old = sub->apool;
    int i;

    apr_pool_create(&sub->apool, sub->pool);
    sub->accounts = apr_array_make(sub->apool, accounts->nelts, sizeof(const char *));
    for (i = 0; i < accounts->nelts; i++) {
        APR_ARRAY_PUSH(sub->accounts, const char *) =
            apr_pstrdup(sub->apool, APR_ARRAY_IDX(accounts, i, const char *));
    }
    if (old) {
        apr_pool_destroy(old);
    }
}

static apr_status_t unsubscribe(void *data)
{
    jm_push_sub_t *sub = data;
    watcher_t *ww = w;

    if (!ww) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(ww->mu);
    if (sub->prev) {
        sub->prev->next = sub->next;
    }
    else {
        ww->subs = sub->next;
    }
    if (sub->next) {
        sub->next->prev = sub->prev;
    }
    ww->nsubs--;
    apr_thread_mutex_unlock(ww->mu);
    return APR_SUCCESS;
}

jm_push_sub_t *jm_push_subscribe(server_rec *s, long max,
                                 const apr_array_header_t *accounts,
                                 apr_pool_t *p)
{
    jm_push_sub_t *sub;

    if (!w) {
        return NULL;
    }
    sub = apr_pcalloc(p, sizeof(*sub));
    sub->s = s;
    sub->pool = p;
    apr_thread_mutex_lock(w->mu);
    if (w->nsubs >= max || w->stopping) {
        apr_thread_mutex_unlock(w->mu);
        return NULL;
    }
    set_accounts_locked(sub, accounts);
    sub->next = w->subs;
    if (w->subs) {
        w->subs->prev = sub;
    }
    w->subs = sub;
    w->nsubs++;
    sub->seen = w->gen;
    apr_thread_cond_signal(w->work);
    apr_thread_mutex_unlock(w->mu);
    apr_pool_cleanup_register(p, sub, unsubscribe, apr_pool_cleanup_null);
    return sub;
}

void jm_push_set_accounts(jm_push_sub_t *sub, const apr_array_header_t *accounts)
{
    apr_thread_mutex_lock(w->mu);
    set_accounts_locked(sub, accounts);
    apr_thread_mutex_unlock(w->mu);
}

jm_push_wake_t jm_push_wait(jm_push_sub_t *sub, apr_interval_time_t timeout)
{
    jm_push_wake_t why;

    apr_thread_mutex_lock(w->mu);
    if (w->gen == sub->seen && !w->stopping && timeout > 0) {
        /* one wait: a spurious wake-up looks like a timeout, and the
         * stream's loop works out the time left itself */
        apr_thread_cond_timedwait(w->moved, w->mu, timeout);
    }
    why = w->stopping ? JM_PUSH_STOPPING
        : w->gen != sub->seen ? JM_PUSH_MOVED : JM_PUSH_TIMEOUT;
    sub->seen = w->gen;
    apr_thread_mutex_unlock(w->mu);
    return why;
}

apr_hash_t *jm_push_current(const apr_array_header_t *accounts, apr_pool_t *p)
{
    apr_hash_t *out = apr_hash_make(p);
    int i;

    apr_thread_mutex_lock(w->mu);
    for (i = 0; w->map && i < accounts->nelts; i++) {
        const char *acc = APR_ARRAY_IDX(accounts, i, const char *);
        const jm_push_states_t *st = apr_hash_get(w->map, acc, APR_HASH_KEY_STRING);
        if (st) {
            apr_hash_set(out, apr_pstrdup(p, acc), APR_HASH_KEY_STRING,
                         apr_pmemdup(p, st, sizeof(*st)));
        }
    }
    apr_thread_mutex_unlock(w->mu);
    return out;
}
