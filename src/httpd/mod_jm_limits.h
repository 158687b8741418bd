/* maxConcurrentRequests / maxConcurrentUpload across all processes:
 * per-user counters in anonymous shared memory created at post_config,
 * one row per child so that a child's exit gives back what it held. */
#ifndef MOD_JM_LIMITS_H
#define MOD_JM_LIMITS_H

#include <httpd.h>
#include <ap_mpm.h>

typedef enum { JM_SLOT_REQUEST = 0, JM_SLOT_UPLOAD = 1 } jm_slot_kind_t;

/** Create the shared table (parent, post_config). */
apr_status_t jm_limits_init(apr_pool_t *pconf, server_rec *s);

/** Claim this child's row of counters (child_init). */
void jm_limits_child_init(server_rec *s);

/** child_status hook (parent): a child that exited, however it ended,
 *  no longer holds any request; its row is cleared and freed. */
void jm_limits_child_status(server_rec *s, pid_t pid, ap_generation_t gen,
                            int slot, mpm_child_status state);

/**
 * Take one slot of kind for r->user; released when the answer's end passes
 * an output filter (or, failing that, by r->pool's cleanup).
 * @return 1 if taken, 0 if the user already has max in flight.
 */
int jm_limits_enter(request_rec *r, jm_slot_kind_t kind, long max);

/** Register the filter that gives slots back (register_hooks). */
void jm_limits_register_hooks(void);

#endif
