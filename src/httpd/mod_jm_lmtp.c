/* LMTP on an httpd listener, as mod_echo serves its protocol: the
 * connection's server (c->base_server: the vhost of the address and port
 * it came in on) has JMAPLMTP On, so this hook takes it before the HTTP
 * one. Bytes go from the input filters to the state machine
 * (src/lmtp/jm_lmtp.c) in blocks, its replies are flushed before every
 * blocking read (RFC 2920: the client may wait for them), the store work
 * is src/mail/jm_deliver.c on a mod_dbd connection taken per command and
 * given back at once (an idle LMTP session holds none). */
#include <apr_strings.h>
#include <apr_network_io.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_main.h>
#include <scoreboard.h>
#include "httpd/mod_jm_lmtp.h"
#include "httpd/mod_jm_config.h"
#include "httpd/mod_jm_dbd.h"
#include "lmtp/jm_lmtp.h"
#include "mail/jm_deliver.h"

#define READ_BLOCK 65536

typedef struct {
    conn_rec *c;
    jm_deliver_conf_t dc;
} session_t;

static void store_down(jm_lmtp_reply_t *r)
{
    r->code = 451;
    r->status = "4.3.0";
    r->text = "Temporary failure: the store is unavailable";
}

static void on_rcpt(void *baton, const char *address, jm_lmtp_reply_t *r,
                    void **pdata, apr_pool_t *p)
{
    session_t *s = baton;
    const char *account = NULL;
    apr_pool_t *sub;
    jm_db_t *db;

    apr_pool_create(&sub, p);
    if (jm_dbd_open(&db, s->c->base_server, sub) != APR_SUCCESS) {
        store_down(r);
    }
    else {
        jm_deliver_rcpt(&account, r, &s->dc, db, address, sub);
    }
    *pdata = account ? apr_pstrdup(p, account) : NULL;
    r->text = apr_pstrdup(p, r->text);
    apr_pool_destroy(sub);              /* the connection goes back */
}

static void on_deliver(void *baton, const char *from, int n,
                       const char *const *addresses, void *const *data,
                       const char *msg, apr_size_t len, jm_lmtp_reply_t *replies,
                       apr_pool_t *p)
{
    session_t *s = baton;
    apr_pool_t *sub;
    jm_db_t *db;
    int i;

    apr_pool_create(&sub, p);
    if (jm_dbd_open(&db, s->c->base_server, sub) != APR_SUCCESS) {
        for (i = 0; i < n; i++) {
            store_down(&replies[i]);
        }
    }
    else {
        jm_deliver_message(db, &s->dc, from, n, addresses, (const char *const *)data,
                           msg, len, replies, p);
    }
    for (i = 0; i < n; i++) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, s->c, JMLOGNO_GLUE(01133)
                      "LMTP from <%s> to <%s> (%" APR_SIZE_T_FMT " bytes): %d %s %s",
                      from, addresses[i], len, replies[i].code,
                      replies[i].status ? replies[i].status : "", replies[i].text);
    }
    apr_pool_destroy(sub);
}

static const jm_lmtp_hooks_t hooks = { on_rcpt, on_deliver };

/* LMTP has no authentication: only local MTAs may talk to it. */
static int from_loopback(conn_rec *c)
{
    apr_ipsubnet_t *v4, *v6;

    return (apr_ipsubnet_create(&v4, "127.0.0.0", "8", c->pool) == APR_SUCCESS
            && apr_ipsubnet_test(v4, c->client_addr))
        || (apr_ipsubnet_create(&v6, "::1", NULL, c->pool) == APR_SUCCESS
            && apr_ipsubnet_test(v6, c->client_addr));
}

static apr_status_t send_output(conn_rec *c, jm_lmtp_t *l, apr_bucket_brigade *ob)
{
    apr_size_t len;
    const char *out = jm_lmtp_output(l, &len);
    apr_status_t rv;

    if (!len) {
        return APR_SUCCESS;
    }
    APR_BRIGADE_INSERT_TAIL(ob, apr_bucket_transient_create(out, len, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(ob, apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(c->output_filters, ob);
    apr_brigade_cleanup(ob);
    jm_lmtp_output_clear(l);
    return rv;
}

/* One read's buckets into the state machine; 1 when the session ended. */
static int feed_brigade(jm_lmtp_t *l, apr_bucket_brigade *bb, int *peof)
{
    apr_bucket *b;
    int done = 0;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb) && !done;
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_EOS(b)) {
            *peof = 1;
            break;
        }
        if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            *peof = 1;
            break;
        }
        done = jm_lmtp_feed(l, data, len);
    }
    apr_brigade_cleanup(bb);
    return done;
}

int jm_lmtp_process_connection(conn_rec *c)
{
    jm_srv_conf_t *sc = jm_config_get(c->base_server);
    apr_bucket_brigade *bb, *ob;
    jm_lmtp_conf_t conf;
    session_t *s;
    jm_lmtp_t *l;
    int done = 0, eof = 0;

    if (sc->lmtp.enabled != 1) {
        return DECLINED;
    }
    c->keepalive = AP_CONN_CLOSE;
    ob = apr_brigade_create(c->pool, c->bucket_alloc);
    bb = apr_brigade_create(c->pool, c->bucket_alloc);
    ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
    apr_socket_timeout_set(ap_get_conn_socket(c), apr_time_from_sec(sc->lmtp.timeout));

    s = apr_pcalloc(c->pool, sizeof(*s));
    s->c = c;
    s->dc.user_from = (jm_deliver_user_t)sc->lmtp.user_from;
    s->dc.domains = sc->lmtp.domains;
    s->dc.create_accounts = sc->lmtp.create_accounts == 1;
    s->dc.vacation_period = sc->lmtp.vacation_period;
    /* the worker sends through the main server's relay (mod_jm_submit.c) */
    s->dc.no_relay = !jm_config_get(ap_server_conf)->submit.url;
    conf.hostname = c->base_server->server_hostname;
    conf.max_message = (apr_size_t)sc->lmtp.max_size;
    conf.max_recipients = 100;          /* RFC 5321 §4.5.3.1.8's minimum */
    l = jm_lmtp_create(&conf, &hooks, s, c->pool);

    if (!from_loopback(c)) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c, JMLOGNO_GLUE(01134)
                      "LMTP connection from %s refused: LMTP is served to "
                      "loopback clients only", c->client_ip);
        jm_lmtp_output_clear(l);
        jm_lmtp_say(l, 421, "4.7.0", "LMTP is for local clients only");
        send_output(c, l, ob);
        done = 1;
    }
    while (!done && !eof && send_output(c, l, ob) == APR_SUCCESS) {
        apr_status_t rv = ap_get_brigade(c->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, READ_BLOCK);

        if (rv != APR_SUCCESS || APR_BRIGADE_EMPTY(bb)) {
            apr_brigade_cleanup(bb);
            if (APR_STATUS_IS_TIMEUP(rv)) {
                ap_log_cerror(APLOG_MARK, APLOG_INFO, rv, c, JMLOGNO_GLUE(01135)
                              "LMTP client %s timed out%s", c->client_ip,
                              jm_lmtp_in_data(l) ? " in DATA (nothing delivered)" : "");
                jm_lmtp_say(l, 421, "4.4.2", "Timeout, closing the connection");
                send_output(c, l, ob);
            }
            else if (!APR_STATUS_IS_EOF(rv) && rv != APR_SUCCESS) {
                ap_log_cerror(APLOG_MARK, APLOG_INFO, rv, c, JMLOGNO_GLUE(01136)
                              "LMTP: reading from %s failed", c->client_ip);
            }
            break;
        }
        ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_WRITE, c);
        done = feed_brigade(l, bb, &eof);
        ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
    }
    if (done || eof) {
        send_output(c, l, ob);          /* 221, or what was answered last */
    }
    /* event MPM: close now, no HTTP keep-alive state */
    if (c->cs) {
        c->cs->state = CONN_STATE_LINGER;
    }
    return OK;
}
