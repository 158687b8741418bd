/* Per-user in-flight counters in shared memory, lock-free.
 *
 * Users get a slot, claimed by compare-and-swap on a hash of the name and
 * never freed (JM_LIMIT_SLOTS users per restart). The counts are kept per
 * child process: each child claims a row of counters (by pid) in
 * child_init and counts only its own requests there; a user's in-flight
 * total is the sum over the rows. A request's count is given back by its
 * output filter when the answer's end (EOS) passes it, so before the client
 * can read the whole answer and send its next request (the pool cleanup
 * runs only after the answer is sent and logged; it gives the count back
 * if no EOS ever came). A child that crashes or is killed runs neither: the
 * parent hears of the exit through the child_status hook and clears that
 * child's row, so a crash cannot lock users out until a restart.
 */
#include <string.h>
#include <unistd.h>
#include <apr_shm.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include "httpd/mod_jm_private.h"
#include <ap_mpm.h>
#include <util_filter.h>
#include "httpd/mod_jm_limits.h"

#define JM_LIMIT_SLOTS 8192

typedef struct {
    apr_uint32_t pid;                           /* 0 = free */
    apr_uint32_t count[JM_LIMIT_SLOTS][2];
} row_t;

/* Created once in the parent; children inherit the mapping on fork. Each
 * child sets my_row once in child_init. */
static apr_uint32_t *user_hash;                 /* [JM_LIMIT_SLOTS], 0 = free */
static row_t *rows;
static int nrows;
static row_t *my_row;

apr_status_t jm_limits_init(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_size_t size;
    int daemons = 0;
    apr_status_t rv;

    /* processes of one generation, and as many again still exiting
     * gracefully while their successors start */
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    nrows = 2 * (daemons > 0 ? daemons : 1);
    size = sizeof(apr_uint32_t) * JM_LIMIT_SLOTS + sizeof(row_t) * nrows;
    /* anonymous shared memory comes zeroed and is only backed once touched */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, JMLOGNO_GLUE(01101)
                     "cannot create shared memory for request limits; "
                     "maxConcurrentRequests is enforced per process only");
        user_hash = apr_pcalloc(pconf, size);
    }
    else {
        user_hash = apr_shm_baseaddr_get(shm);
    }
    rows = (row_t *)(user_hash + JM_LIMIT_SLOTS);
    return rv;
}

void jm_limits_child_init(server_rec *s)
{
    apr_uint32_t pid = (apr_uint32_t)getpid();
    int i;

    my_row = NULL;
    for (i = 0; rows && i < nrows; i++) {
        if (apr_atomic_cas32(&rows[i].pid, pid, 0) == 0) {
            my_row = &rows[i];
            return;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, JMLOGNO_GLUE(01129)
                 "no free row of request counters for process %u; its requests "
                 "are not counted against maxConcurrentRequests", (unsigned)pid);
}

void jm_limits_child_status(server_rec *s, pid_t pid, ap_generation_t gen,
                            int slot, mpm_child_status state)
{
    int i;

    (void)s;
    (void)gen;
    (void)slot;
    if (state != MPM_CHILD_EXITED || !rows) {
        return;
    }
    for (i = 0; i < nrows; i++) {
        if (apr_atomic_read32(&rows[i].pid) == (apr_uint32_t)pid) {
            /* the child is gone: nobody else writes this row */
            memset(rows[i].count, 0, sizeof(rows[i].count));
            apr_atomic_set32(&rows[i].pid, 0);
            return;
        }
    }
}

static apr_uint32_t hash_user(const char *u)
{
    apr_uint32_t h = 2166136261u;             /* FNV-1a */

    for (; *u; u++) {
        h = (h ^ (unsigned char)*u) * 16777619u;
    }
    return h ? h : 1;
}

static int find_slot(apr_uint32_t h)
{
    apr_uint32_t i, n;

    for (n = 0, i = h % JM_LIMIT_SLOTS; n < JM_LIMIT_SLOTS;
         n++, i = (i + 1) % JM_LIMIT_SLOTS) {
        apr_uint32_t cur = apr_atomic_read32(&user_hash[i]);
        if (cur == h) {
            return (int)i;
        }
        if (cur == 0) {
            cur = apr_atomic_cas32(&user_hash[i], h, 0);
            if (cur == 0 || cur == h) {
                return (int)i;
            }
        }
    }
    return -1;
}

typedef struct {
    apr_uint32_t *count;
} held_t;

static apr_status_t release_slot(void *data)
{
    held_t *held = data;

    apr_atomic_dec32(held->count);
    return APR_SUCCESS;
}

/* Registered once in register_hooks; read-only afterwards. */
static ap_filter_rec_t *release_filter;

/* Gives the slot back as the answer's end goes by (see the top). */
static apr_status_t release_at_eos(ap_filter_t *f, apr_bucket_brigade *bb)
{
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) {
            apr_pool_cleanup_run(f->r->pool, f->ctx, release_slot);
            ap_remove_output_filter(f);
            break;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

void jm_limits_register_hooks(void)
{
    release_filter = ap_register_output_filter("JMAP_SMIME_LIMIT_RELEASE", release_at_eos,
                                               NULL, AP_FTYPE_PROTOCOL);
}

int jm_limits_enter(request_rec *r, jm_slot_kind_t kind, long max)
{
    apr_uint32_t *mine, total = 0;
    held_t *held;
    int slot, i;

    if (!user_hash || !my_row || !r->user) {
        return 1;
    }
    if ((slot = find_slot(hash_user(r->user))) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, JMLOGNO_GLUE(01102)
                      "request limit table full; not limiting %s", r->user);
        return 1;
    }
    /* count first, then look: two processes racing for the last place may
     * both refuse, never both get in */
    mine = &my_row->count[slot][kind];
    apr_atomic_inc32(mine);
    for (i = 0; i < nrows; i++) {
        if (apr_atomic_read32(&rows[i].pid)) {
            total += apr_atomic_read32(&rows[i].count[slot][kind]);
        }
    }
    if ((long)total > max) {
        apr_atomic_dec32(mine);
        return 0;
    }
    held = apr_palloc(r->pool, sizeof(*held));
    held->count = mine;
    apr_pool_cleanup_register(r->pool, held, release_slot, apr_pool_cleanup_null);
    if (release_filter) {
        ap_add_output_filter_handle(release_filter, held, r, r->connection);
    }
    return 1;
}
