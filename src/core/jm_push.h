/* Push over event source (RFC 8620 §7.3), the parts without I/O: the
 * query parameters, the states a stream has told its client, the
 * StateChange objects (§7.1) and event ids made of them, and the bytes of
 * text/event-stream events. The stream itself (waiting, writing) is the
 * httpd glue's (src/httpd/mod_jm_eventsource.c). */
#ifndef JM_PUSH_H
#define JM_PUSH_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>

/** The types a stream can report, in event-id order: the data types with
 *  states (jm_store.h) and EmailDelivery (RFC 8621 §1.5). */
extern const char *const jm_push_types[];
#define JM_PUSH_NTYPES 6

/** The query of a request to the event-source URL. */
typedef struct {
    int all_types;              /**< types=* */
    unsigned types;             /**< bit i: jm_push_types[i] was asked for */
    int close_after_state;      /**< closeafter=state */
    long ping;                  /**< seconds asked for, 0: no pings */
} jm_push_args_t;

/** The longest ping interval a stream uses (RFC 8620 §7.3: a server's
 *  maximum must not be below 300 s). */
#define JM_PUSH_PING_MAX 3600

/**
 * Parse query (r->args: NULL or "types=...&closeafter=...&ping=...",
 * percent-encoded). Absent parameters take types=*, closeafter=no,
 * ping=0. Type names the server does not know are ignored (the client
 * may ask for types of capabilities this server lacks). NULL, or a
 * message for the client: ping not a decimal number of seconds,
 * closeafter neither "state" nor "no", an empty or malformed type name,
 * a parameter given twice, bad percent-encoding.
 */
const char *jm_push_parse_args(jm_push_args_t *a, const char *query, apr_pool_t *p);

/** The interval pings are sent at for asked seconds: 0 stays 0 (none),
 *  others are clamped to [min_ping, JM_PUSH_PING_MAX]. */
long jm_push_ping_interval(long asked, long min_ping);

/** States of one account, by jm_push_types index; -1: not known. */
typedef struct {
    apr_int64_t st[JM_PUSH_NTYPES];
} jm_push_states_t;

/** An account's states with every entry -1. */
void jm_push_states_init(jm_push_states_t *s);

/** The jm_push_types index of a type name, or -1. */
int jm_push_type_index(const char *type);

/**
 * The StateChange object (RFC 8620 §7.1) telling a client what moved from
 * told to now: for each account of accounts (const char*, the ones the
 * user may access now) whose asked types' states in now (account id ->
 * jm_push_states_t*) are higher than in told (same shape), those types
 * with the new states. States only grow, so a lower one (a stale read)
 * is never reported. told is updated to what the object says. NULL when
 * nothing is to be told. The JSON text, in p.
 */
const char *jm_push_state_change(apr_hash_t *told, apr_hash_t *now,
                                 const apr_array_header_t *accounts,
                                 const jm_push_args_t *a, apr_pool_t *p);

/** 1 when jm_push_state_change would say something or learn a state:
 *  now has an asked type of an account of accounts above what told says
 *  (or told does not know it yet). Reads only. */
int jm_push_has_news(apr_hash_t *told, apr_hash_t *now,
                     const apr_array_header_t *accounts, const jm_push_args_t *a);

/**
 * An event id encoding told (every account, every known type; §7.3: "a
 * new event id that encodes the entire server state visible to the
 * user"): "accountId:s0.s1.s2.s3.s4.s5" per account, sorted, joined by
 * ","; unknown states are empty. In p.
 */
const char *jm_push_event_id(apr_hash_t *told, apr_pool_t *p);

/**
 * The states an event id of jm_push_event_id says (a client's
 * Last-Event-ID), into out (account id -> jm_push_states_t*, in p), for
 * the accounts of accounts only (others are dropped). 0 on success, -1 for
 * text that is no such id (then out is left empty).
 */
int jm_push_parse_event_id(apr_hash_t *out, const char *id,
                           const apr_array_header_t *accounts, apr_pool_t *p);

/** The bytes of one event: "event: NAME\n", "id: ID\n" when id is not
 *  NULL, "data: DATA\n" and the empty line. data is one line (compact
 *  JSON); id must not hold CR or LF (event ids never do). In p. */
const char *jm_push_event(const char *name, const char *id, const char *data,
                          apr_pool_t *p);

/** The data of a ping event: {"interval":N}. In p. */
const char *jm_push_ping_data(long interval, apr_pool_t *p);

#endif
