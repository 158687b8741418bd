/* The push watcher: one thread per child process that reads the states of
 * the accounts this process has event-source streams for, in one query
 * per tick, and wakes the streams when they moved. See mod_jm_push.c. */
#ifndef MOD_JM_PUSH_H
#define MOD_JM_PUSH_H

#include <httpd.h>
#include <apr_hash.h>
#include "core/jm_push.h"

/** How often the watcher reads the states (RFC 8620 §7.3 asks for no
 *  bound; the module promises a change within a second). */
#define JM_PUSH_TICK apr_time_from_msec(200)

typedef struct jm_push_sub_t jm_push_sub_t;

/** child_init: the registry and the watcher thread; its pool cleanup
 *  (pchild) stops and joins the thread. */
void jm_push_child_init(apr_pool_t *pchild, server_rec *s);

/** Register a stream of server s that watches accounts (const char*):
 *  NULL when max streams are open in this process already (or the
 *  watcher is not running). The registration ends with p's cleanup. */
jm_push_sub_t *jm_push_subscribe(server_rec *s, long max,
                                 const apr_array_header_t *accounts,
                                 apr_pool_t *p);

/** The accounts a stream watches from now on. */
void jm_push_set_accounts(jm_push_sub_t *sub, const apr_array_header_t *accounts);

typedef enum { JM_PUSH_TIMEOUT, JM_PUSH_MOVED, JM_PUSH_STOPPING } jm_push_wake_t;

/** Wait at most timeout for states of the process's watched accounts to
 *  move (since the last wait of sub) or for the process to stop. */
jm_push_wake_t jm_push_wait(jm_push_sub_t *sub, apr_interval_time_t timeout);

/** The states the watcher read last of accounts (account id ->
 *  jm_push_states_t*, only accounts it has read), copied into p. */
apr_hash_t *jm_push_current(const apr_array_header_t *accounts, apr_pool_t *p);

#endif
