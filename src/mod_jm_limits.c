/* Lock-free per-user in-flight counters in shared memory. Slots are
 * claimed by compare-and-swap on a hash of the user name and never freed
 * (a slot is 12 bytes; the table holds JM_LIMIT_SLOTS users per restart). */
#include <string.h>
#include <apr_shm.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include "mod_jm_private.h"
#include "mod_jm_limits.h"

#define JM_LIMIT_SLOTS 8192

typedef struct {
    apr_uint32_t user_hash;          /* 0 = free */
    apr_uint32_t count[2];
} slot_t;

/* Created once in the parent; children inherit the mapping on fork. */
static slot_t *slots;

apr_status_t jm_limits_init(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    rv = apr_shm_create(&shm, sizeof(slot_t) * JM_LIMIT_SLOTS, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, JMLOGNO_GLUE(01101)
                     "cannot create shared memory for request limits; "
                     "maxConcurrentRequests is enforced per process only");
        slots = apr_pcalloc(pconf, sizeof(slot_t) * JM_LIMIT_SLOTS);
        return rv;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, sizeof(slot_t) * JM_LIMIT_SLOTS);
    return APR_SUCCESS;
}

static apr_uint32_t hash_user(const char *u)
{
    apr_uint32_t h = 2166136261u;             /* FNV-1a */

    for (; *u; u++) {
        h = (h ^ (unsigned char)*u) * 16777619u;
    }
    return h ? h : 1;
}

static slot_t *find_slot(apr_uint32_t h)
{
    apr_uint32_t i, n;

    for (n = 0, i = h % JM_LIMIT_SLOTS; n < JM_LIMIT_SLOTS;
         n++, i = (i + 1) % JM_LIMIT_SLOTS) {
        apr_uint32_t cur = apr_atomic_read32(&slots[i].user_hash);
        if (cur == h) {
            return &slots[i];
        }
        if (cur == 0) {
            cur = apr_atomic_cas32(&slots[i].user_hash, h, 0);
            if (cur == 0 || cur == h) {
                return &slots[i];
            }
        }
    }
    return NULL;
}

typedef struct {
    slot_t *slot;
    int kind;
} held_t;

static apr_status_t release_slot(void *data)
{
    held_t *held = data;

    apr_atomic_dec32(&held->slot->count[held->kind]);
    return APR_SUCCESS;
}

int jm_limits_enter(request_rec *r, jm_slot_kind_t kind, long max)
{
    slot_t *slot;
    held_t *held;

    if (!slots || !r->user) {
        return 1;
    }
    if (!(slot = find_slot(hash_user(r->user)))) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, JMLOGNO_GLUE(01102)
                      "request limit table full; not limiting %s", r->user);
        return 1;
    }
    if ((long)apr_atomic_inc32(&slot->count[kind]) >= max) {
        apr_atomic_dec32(&slot->count[kind]);
        return 0;
    }
    held = apr_palloc(r->pool, sizeof(*held));
    held->slot = slot;
    held->kind = kind;
    apr_pool_cleanup_register(r->pool, held, release_slot, apr_pool_cleanup_null);
    return 1;
}
