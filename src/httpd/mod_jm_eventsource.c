/* Push over event source (RFC 8620 §7.3): a text/event-stream response
 * that stays open and gets a "state" event (a StateChange, §7.1) when the
 * states of the user's accounts move, and "ping" events if asked for.
 *
 * A stream holds its worker thread, as any handler does in httpd 2.4, so
 * it is bounded: JMAPEventSourceMaxConnections streams per process (more
 * get 503 with Retry-After), each ended after JMAPEventSourceMaxDuration
 * seconds (clients reconnect, §7.3 / the EventSource spec), when the
 * client goes away (a failed write, or the socket at EOF, looked at on
 * every wake) and when the process stops or restarts gracefully. It holds
 * no database connection while it waits: the process's watcher
 * (mod_jm_push.c) reads the states; the stream borrows a connection from
 * mod_dbd only to check which accounts the user may access now, before
 * it tells anything (a share that was removed is not told of again). */
#include <string.h>
#include <apr_strings.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_connection.h>
#include "httpd/mod_jm_eventsource.h"
#include "httpd/mod_jm_http.h"
#include "httpd/mod_jm_dbd.h"
#include "httpd/mod_jm_push.h"
#include "core/jm_account.h"
#include "core/jm_push.h"
#include "store/jm_store.h"

/* Longest wait between two looks at the client's socket. */
#define LOOK_EVERY apr_time_from_sec(1)

typedef struct {
    request_rec *r;
    jm_srv_conf_t *sc;
    jm_push_args_t args;
    long ping;                    /**< seconds, 0: none */
    apr_array_header_t *accounts; /**< const char*: may be accessed now */
    apr_pool_t *apool;            /**< holds accounts */
    apr_hash_t *told;             /**< account -> jm_push_states_t*, in r->pool */
    apr_bucket_brigade *bb;
} stream_t;

/* The accounts r->user may access now: the own one (made on first use, as
 * for /api) and those shared with it (JMAPShareAccount), into p. */
static apr_status_t accounts_now(apr_array_header_t **pout, request_rec *r,
                                 jm_srv_conf_t *sc, apr_pool_t *p)
{
    apr_array_header_t *shared = NULL, *out;
    const char *own = NULL;
    jm_db_t *db;
    int created = 0, i;
    apr_status_t rv;

    if ((rv = jm_dbd_open(&db, r->server, p)) != APR_SUCCESS
        || (rv = jm_store_account_ensure(&own, &created, db, r->user, p)) != APR_SUCCESS
        || (sc->shares && sc->shares->nelts
            && (rv = jm_account_load_shared(&shared, db, r->user, sc->shares,
                                            sc->read_only_users, p)) != APR_SUCCESS)) {
        return rv;
    }
    out = apr_array_make(p, 1 + (shared ? shared->nelts : 0), sizeof(const char *));
    APR_ARRAY_PUSH(out, const char *) = own;
    for (i = 0; shared && i < shared->nelts; i++) {
        APR_ARRAY_PUSH(out, const char *) = APR_ARRAY_IDX(shared, i, jm_account_t *)->id;
    }
    *pout = out;
    return APR_SUCCESS;
}

/* The states of accounts from the store (the stream's starting point),
 * account -> jm_push_states_t* in p. A type without a row yet (an account
 * older than EmailDelivery) starts at 0, the state its first bump
 * leaves behind 1. */
static apr_status_t states_now(apr_hash_t **pout, request_rec *r,
                               const apr_array_header_t *accounts, apr_pool_t *p)
{
    apr_hash_t *out = apr_hash_make(p);
    apr_array_header_t *rows;
    apr_pool_t *qp;
    jm_db_t *db;
    apr_status_t rv;
    int i, k;

    for (i = 0; i < accounts->nelts; i++) {
        jm_push_states_t *st = apr_palloc(p, sizeof(*st));
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            st->st[k] = 0;
        }
        apr_hash_set(out, APR_ARRAY_IDX(accounts, i, const char *),
                     APR_HASH_KEY_STRING, st);
    }
    apr_pool_create(&qp, p);
    if ((rv = jm_dbd_open(&db, r->server, qp)) == APR_SUCCESS
        && (rv = jm_store_states_of(&rows, db, accounts, qp)) == APR_SUCCESS) {
        for (i = 0; i < rows->nelts; i++) {
            jm_state_row_t *row = &APR_ARRAY_IDX(rows, i, jm_state_row_t);
            jm_push_states_t *st = apr_hash_get(out, row->account_id, APR_HASH_KEY_STRING);
            if (st && (k = jm_push_type_index(row->type)) >= 0) {
                st->st[k] = row->state;
            }
        }
    }
    apr_pool_destroy(qp);
    *pout = out;
    return rv;
}

/* Write text and flush it to the client now: 0, or -1 when the client is
 * gone. */
static int send_text(stream_t *s, const char *text)
{
    conn_rec *c = s->r->connection;
    apr_status_t rv;

    APR_BRIGADE_INSERT_TAIL(s->bb, apr_bucket_transient_create(text, strlen(text),
                                                               c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(s->bb, apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(s->r->output_filters, s->bb);
    apr_brigade_cleanup(s->bb);
    if (rv != APR_SUCCESS || c->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, s->r, JMLOGNO_GLUE(01144)
                      "event source of %s: the client went away", s->r->user);
        return -1;
    }
    return 0;
}

/* A client that closed its side: the socket reads EOF (the client sends
 * nothing after its request, so anything readable is the end). */
static int client_gone(request_rec *r)
{
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    int eof = 0;

    if (r->connection->aborted) {
        return 1;
    }
    return sock && apr_socket_atreadeof(sock, &eof) == APR_SUCCESS && eof;
}

/* Tell what moved in now, if anything: 0 (sent or nothing to send), 1
 * (sent a state event), -1 (client gone). */
static int tell(stream_t *s, apr_hash_t *now, apr_pool_t *p)
{
    const char *change = jm_push_state_change(s->told, now, s->accounts, &s->args, p);

    if (!change) {
        return 0;
    }
    /* the id names every state told so far (§7.3): a client that comes
     * back with it as Last-Event-ID hears of what it missed */
    if (send_text(s, jm_push_event("state", jm_push_event_id(s->told, p), change, p))) {
        return -1;
    }
    return 1;
}

/* The accounts the user may access, again (shares change); drops what the
 * stream told of the others. On a store failure the old list stays. */
static void refresh_accounts(stream_t *s, jm_push_sub_t *sub, apr_pool_t *p)
{
    apr_array_header_t *now;
    apr_hash_index_t *hi;
    apr_pool_t *np;
    apr_status_t rv;
    int i, same;

    apr_pool_create(&np, s->r->pool);
    if ((rv = accounts_now(&now, s->r, s->sc, np)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, s->r, JMLOGNO_GLUE(01145)
                      "event source of %s: cannot check the accounts it may "
                      "access; keeping the previous list", s->r->user);
        apr_pool_destroy(np);
        return;
    }
    same = now->nelts == s->accounts->nelts;
    for (i = 0; same && i < now->nelts; i++) {
        same = !strcmp(APR_ARRAY_IDX(now, i, const char *),
                       APR_ARRAY_IDX(s->accounts, i, const char *));
    }
    if (same) {
        apr_pool_destroy(np);
        return;
    }
    for (hi = apr_hash_first(p, s->told); hi; hi = apr_hash_next(hi)) {
        const char *acc = apr_hash_this_key(hi);
        int kept = 0;
        for (i = 0; i < now->nelts && !kept; i++) {
            kept = !strcmp(APR_ARRAY_IDX(now, i, const char *), acc);
        }
        if (!kept) {
            apr_hash_set(s->told, acc, APR_HASH_KEY_STRING, NULL);
        }
    }
    apr_pool_destroy(s->apool);
    s->apool = np;
    s->accounts = now;
    jm_push_set_accounts(sub, now);
}

/* Where a client coming back (Last-Event-ID) left off: the states of its
 * id where it has them and they are not ahead of the store's, else the
 * store's. */
static void resume_from(stream_t *s, apr_hash_t *store, const char *last_id)
{
    apr_hash_t *had = apr_hash_make(s->r->pool);
    apr_hash_index_t *hi;
    int k;

    if (jm_push_parse_event_id(had, last_id, s->accounts, s->r->pool) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, s->r, JMLOGNO_GLUE(01146)
                      "event source of %s: Last-Event-ID is not one of ours; "
                      "starting from the current states", s->r->user);
        return;
    }
    for (hi = apr_hash_first(s->r->pool, had); hi; hi = apr_hash_next(hi)) {
        jm_push_states_t *t = apr_hash_get(s->told, apr_hash_this_key(hi),
                                           APR_HASH_KEY_STRING);
        const jm_push_states_t *h = apr_hash_this_val(hi);
        const jm_push_states_t *now = apr_hash_get(store, apr_hash_this_key(hi),
                                                   APR_HASH_KEY_STRING);
        for (k = 0; t && now && k < JM_PUSH_NTYPES; k++) {
            if (h->st[k] >= 0 && h->st[k] <= now->st[k]) {
                t->st[k] = h->st[k];
            }
        }
    }
}

static int stream(stream_t *s, jm_push_sub_t *sub, apr_hash_t *store)
{
    request_rec *r = s->r;
    apr_time_t start = apr_time_now(), end, last = start, now;
    apr_interval_time_t wait;
    apr_pool_t *it;
    const char *why = "the client went away";
    int rc;

    end = start + apr_time_from_sec(s->sc->es.max_duration);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, no-store");
    /* reverse proxies that buffer by default (nginx) pass it through */
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    if (r->header_only) {
        return OK;              /* HEAD: the header fields, no stream */
    }
    /* a comment sends the status and header fields right away */
    if (send_text(s, ": mod_jmap_smime event source\n\n")) {
        return OK;
    }
    apr_pool_create(&it, r->pool);
    /* a client coming back with Last-Event-ID hears at once what it missed */
    if ((rc = tell(s, store, it)) != 0) {
        if (rc < 0 || s->args.close_after_state) {
            return OK;
        }
        last = apr_time_now();
    }
    for (;;) {
        jm_push_wake_t wake;

        apr_pool_clear(it);
        now = apr_time_now();
        if (now >= end) {
            why = "JMAPEventSourceMaxDuration reached";
            break;
        }
        if (s->ping && now >= last + apr_time_from_sec(s->ping)) {
            if (send_text(s, jm_push_event("ping", NULL, jm_push_ping_data(s->ping, it),
                                           it))) {
                break;
            }
            last = now;
            continue;
        }
        wait = end - now;
        if (s->ping && last + apr_time_from_sec(s->ping) - now < wait) {
            wait = last + apr_time_from_sec(s->ping) - now;
        }
        wait = wait > LOOK_EVERY ? LOOK_EVERY : wait;
        wake = jm_push_wait(sub, wait);
        if (wake == JM_PUSH_STOPPING) {
            why = "the server is stopping or restarting";
            break;
        }
        if (client_gone(r)) {
            break;
        }
        if (wake == JM_PUSH_MOVED) {
            apr_hash_t *cur = jm_push_current(s->accounts, it);
            if (!jm_push_has_news(s->told, cur, s->accounts, &s->args)) {
                continue;
            }
            /* before telling: may the user still access these accounts? */
            refresh_accounts(s, sub, it);
            if ((rc = tell(s, cur, it)) < 0) {
                break;
            }
            if (rc > 0) {
                last = apr_time_now();
                if (s->args.close_after_state) {
                    why = "closeafter=state";
                    break;
                }
            }
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, JMLOGNO_GLUE(01147)
                  "event source of %s ends after %" APR_TIME_T_FMT " s: %s",
                  r->user, apr_time_sec(apr_time_now() - start), why);
    return OK;
}

int jm_eventsource_handle(request_rec *r, jm_srv_conf_t *sc)
{
    const char *err, *last_id = apr_table_get(r->headers_in, "Last-Event-ID");
    apr_hash_t *store;
    jm_push_sub_t *sub;
    stream_t s;
    apr_status_t rv;

    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET");
        return jm_http_problem(r, HTTP_METHOD_NOT_ALLOWED, "notRequest", NULL,
                               "Use GET on this resource.");
    }
    memset(&s, 0, sizeof(s));
    s.r = r;
    s.sc = sc;
    if ((err = jm_push_parse_args(&s.args, r->args, r->pool))) {
        /* not a JMAP Request: none of RFC 8620 §3.6.1's types fits, so a
         * plain RFC 7807 problem (about:blank) whose detail names it */
        return jm_http_problem(r, HTTP_BAD_REQUEST, "invalidArguments", NULL,
                               apr_pstrcat(r->pool, "Bad event-source parameters: ",
                                           err, NULL));
    }
    s.ping = jm_push_ping_interval(s.args.ping, sc->es.min_ping);
    apr_pool_create(&s.apool, r->pool);
    if ((rv = accounts_now(&s.accounts, r, sc, s.apool)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(01148)
                      "event source of %s: cannot load its accounts", r->user);
        apr_table_setn(r->headers_out, "Retry-After", "5");
        return jm_http_problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                               "The store is unavailable; try again later.");
    }
    /* registered before the states are read: a change committed between
     * the two is seen by the watcher's next read, never lost */
    if (!(sub = jm_push_subscribe(r->server, sc->es.max_connections, s.accounts,
                                  r->pool))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, JMLOGNO_GLUE(01149)
                      "event source of %s refused: %ld streams are open in this "
                      "process (JMAPEventSourceMaxConnections) or it is stopping",
                      r->user, sc->es.max_connections);
        apr_table_setn(r->headers_out, "Retry-After", "30");
        return jm_http_problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                               "Too many event-source connections; try again later.");
    }
    if ((rv = states_now(&store, r, s.accounts, r->pool)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(01150)
                      "event source of %s: cannot read the states", r->user);
        apr_table_setn(r->headers_out, "Retry-After", "5");
        return jm_http_problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                               "The store is unavailable; try again later.");
    }
    /* told starts as the store's states (a copy: resume_from lowers it) */
    s.told = apr_hash_make(r->pool);
    {
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(r->pool, store); hi; hi = apr_hash_next(hi)) {
            apr_hash_set(s.told, apr_hash_this_key(hi), APR_HASH_KEY_STRING,
                         apr_pmemdup(r->pool, apr_hash_this_val(hi),
                                     sizeof(jm_push_states_t)));
        }
    }
    if (last_id && *last_id) {
        resume_from(&s, store, last_id);
    }
    s.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return stream(&s, sub, store);
}
