/* One SMTP transaction through libcurl for the submission worker: the
 * stored bytes as they are (libcurl only dot-stuffs them, RFC 5321
 * §4.5.2), the envelope given, and every reply of the dialogue taken from
 * libcurl's debug stream, so each recipient gets its own RCPT reply and
 * the message its end-of-data reply (libcurl reports neither itself).
 * libcurl does not pipeline SMTP: replies come in the order of commands.
 * TLS (STARTTLS, RFC 3207, or smtps) always verifies the relay's
 * certificate and host name (JMAPSubmissionCAFile or the system store);
 * a session that fails on TLS or AUTH (RFC 4954) sends nothing, and is
 * given a reply that says why (session_reply) for deliveryStatus, and a
 * log line for the administrator: both are problems of the relay or of
 * our configuration, retried like a relay that is down. */
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include "mail/jm_submit_smtp.h"
#include "mail/jm_submission.h"
#include "core/jm_log.h"

enum { CMD_OTHER, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_EOD, CMD_AUTH, CMD_STARTTLS };

typedef struct {
    apr_pool_t *p;
    jm_smtp_result_t *res;
    const char *data;
    apr_size_t len, pos;
    int cmd, rcpt;                  /* the command the next reply answers */
    int auth_more;                  /* AUTH got 334: the next line is its */
    const char *starttls_reply;     /* to STARTTLS, when it was not 220 */
    apr_array_header_t *lines;      /* the reply being read */
    char partial[1024];             /* a line libcurl handed in pieces */
    apr_size_t npartial;
    volatile apr_uint32_t *stop;  /* the process is exiting */
} tx_t;

static apr_status_t curl_cleanup(void *h)
{
    curl_easy_cleanup(h);
    return APR_SUCCESS;
}

static apr_status_t slist_cleanup(void *l)
{
    curl_slist_free_all(l);
    return APR_SUCCESS;
}

apr_status_t jm_submit_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? APR_SUCCESS
                                                             : APR_EGENERAL;
}

void jm_submit_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t read_cb(char *buf, size_t size, size_t n, void *baton)
{
    tx_t *t = baton;
    size_t want = size * n, left = t->len - t->pos;

    if (want > left) {
        want = left;
    }
    memcpy(buf, t->data + t->pos, want);
    t->pos += want;
    return want;
}

/* libcurl's progress callback, about once a second even while it waits:
 * non-zero ends the transfer. Only while read_cb has handed out nothing
 * of the message (pos 0): without its bytes and the final dot the relay
 * cannot take it (RFC 5321 §4.1.1.4), so nothing is half-sent; past that,
 * the transaction ends as it would have. */
static int progress_cb(void *baton, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    tx_t *t = baton;

    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    return t->pos == 0 && t->stop && apr_atomic_read32(t->stop);
}

/* The attempt ended for the stop before any of the message went out:
 * every recipient without a final answer stays queued with this reply
 * (RFC 3463 4.3.2: system not accepting network messages). */
static void abandoned(jm_smtp_result_t *res)
{
    res->abandoned = 1;
    res->error = "httpd is stopping; the attempt was abandoned before any of "
                 "the message was sent";
    res->session_reply = "451 4.3.2 Not sent: the server was stopping; nothing "
                         "was sent, tried again";
}

/* A complete reply: whom it answers. */
static void reply_done(tx_t *t)
{
    const char *r = jm_submit_join_reply(t->lines, t->p);
    jm_smtp_result_t *res = t->res;

    switch (t->cmd) {
    case CMD_MAIL:
        res->mail_reply = r;
        break;
    case CMD_RCPT:
        if (t->rcpt >= 0 && t->rcpt < res->nrcpts) {
            res->rcpt_replies[t->rcpt] = r;
        }
        break;
    case CMD_DATA:
        if (!strncmp(r, "354", 3)) {
            t->cmd = CMD_EOD;       /* the next reply is the message's */
        }
        else {
            res->data_reply = r;
        }
        break;
    case CMD_EOD:
        res->eod_reply = r;
        break;
    case CMD_AUTH:
        /* 334: a challenge, the client's next line belongs to AUTH */
        t->auth_more = !strncmp(r, "334", 3);
        if (!t->auth_more && strncmp(r, "235", 3)) {
            res->auth_reply = r;
        }
        break;
    case CMD_STARTTLS:
        if (strncmp(r, "220", 3)) {
            t->starttls_reply = r;
        }
        break;
    default:
        break;
    }
    t->lines->nelts = 0;
}

static void reply_line(tx_t *t, const char *l, apr_size_t n)
{
    while (n && (l[n - 1] == '\r' || l[n - 1] == '\n')) {
        n--;
    }
    if (n > 512) {
        n = 512;                    /* RFC 5321 §4.5.3.1.5 */
    }
    APR_ARRAY_PUSH(t->lines, const char *) = apr_pstrndup(t->p, l, n);
    if (n < 4 || l[3] != '-') {
        reply_done(t);
    }
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *baton)
{
    tx_t *t = baton;
    size_t i, start = 0;

    (void)h;
    if (type == CURLINFO_HEADER_OUT) {
        t->lines->nelts = 0;
        if (t->cmd == CMD_AUTH && t->auth_more) {
            t->auth_more = 0;       /* an answer to a 334 (never logged) */
        }
        else if (size >= 4 && !strncasecmp(data, "AUTH", 4)) {
            t->cmd = CMD_AUTH;
        }
        else if (size >= 8 && !strncasecmp(data, "STARTTLS", 8)) {
            t->cmd = CMD_STARTTLS;
        }
        else if (size >= 4 && !strncasecmp(data, "MAIL", 4)) {
            t->cmd = CMD_MAIL;
        }
        else if (size >= 4 && !strncasecmp(data, "RCPT", 4)) {
            t->cmd = CMD_RCPT;
            t->rcpt++;
        }
        else if (size >= 4 && !strncasecmp(data, "DATA", 4)) {
            t->cmd = CMD_DATA;
        }
        else {
            t->cmd = CMD_OTHER;
        }
        return 0;
    }
    if (type != CURLINFO_HEADER_IN) {
        return 0;
    }
    for (i = 0; i < size; i++) {
        if (data[i] != '\n') {
            continue;
        }
        if (t->npartial) {
            apr_size_t k = i + 1 - start;
            if (k > sizeof(t->partial) - t->npartial) {
                k = sizeof(t->partial) - t->npartial;
            }
            memcpy(t->partial + t->npartial, data + start, k);
            reply_line(t, t->partial, t->npartial + k);
            t->npartial = 0;
        }
        else {
            reply_line(t, data + start, i + 1 - start);
        }
        start = i + 1;
    }
    if (start < size) {
        apr_size_t k = size - start;
        if (k > sizeof(t->partial) - t->npartial) {
            k = sizeof(t->partial) - t->npartial;
        }
        memcpy(t->partial + t->npartial, data + start, k);
        t->npartial += k;
    }
    return 0;
}

/* A session that failed on TLS or AUTH (nothing was sent): the reply
 * that stands for it in deliveryStatus, and the administrator's line.
 * Enhanced codes: RFC 3463 4.7.0 (security), RFC 7372 4.7.5 (certificate
 * not accepted); AUTH's own reply when the relay gave one (RFC 4954 §6). */
static void explain_failure(jm_smtp_result_t *res, const tx_t *t,
                            const jm_submit_conf_t *conf, CURLcode cc,
                            const char *err, apr_pool_t *p)
{
    const char *ca = conf->ca_file ? conf->ca_file : "the system's CA store";

    switch (cc) {
    case CURLE_USE_SSL_FAILED:
        res->session_reply = t->starttls_reply
            ? apr_psprintf(p, "451 4.7.0 STARTTLS is required "
                           "(JMAPSubmissionStartTLS) and the relay refused it: %s; "
                           "nothing was sent", t->starttls_reply)
            : "451 4.7.0 STARTTLS is required (JMAPSubmissionStartTLS) and the "
              "relay does not offer it; nothing was sent";
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(15050)
                      "relay %s: JMAPSubmissionStartTLS is required but the relay "
                      "%s, so nothing is sent in clear; mail stays queued and "
                      "is retried (enable STARTTLS on the relay, or set "
                      "JMAPSubmissionStartTLS optional to allow clear text)",
                      conf->url, t->starttls_reply
                      ? apr_pstrcat(p, "refused STARTTLS (", t->starttls_reply, ")", NULL)
                      : "does not offer STARTTLS in its EHLO reply");
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        res->session_reply = apr_psprintf(p, "451 4.7.5 The relay's TLS certificate "
                                          "was not accepted: %s; nothing was sent",
                                          err);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(15051)
                      "relay %s: its TLS certificate was not accepted (%s), "
                      "verified against %s; nothing is sent, mail stays queued "
                      "and is retried. The certificate must be issued by a CA "
                      "of JMAPSubmissionCAFile and name the host of "
                      "JMAPSubmissionURL", conf->url, err, ca);
        break;
    case CURLE_SSL_CACERT_BADFILE:
        res->session_reply = apr_psprintf(p, "451 4.7.5 The relay's TLS certificate "
                                          "could not be verified: %s; nothing was "
                                          "sent", err);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(15052)
                      "relay %s: the CA certificates in %s could not be used "
                      "(%s): is JMAPSubmissionCAFile readable by httpd's User? "
                      "Nothing is sent, mail stays queued and is retried",
                      conf->url, ca, err);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        res->session_reply = apr_psprintf(p, "451 4.7.0 TLS with the relay failed: "
                                          "%s; nothing was sent", err);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(15053)
                      "relay %s: the TLS handshake failed (%s)%s; nothing is "
                      "sent, mail stays queued and is retried", conf->url, err,
                      strncasecmp(conf->url, "smtps:", 6) ? ""
                      : " (does the relay speak TLS from the start on this port? "
                        "smtp:// with STARTTLS is the other way)");
        break;
    case CURLE_LOGIN_DENIED:
        res->session_reply = res->auth_reply ? res->auth_reply
            : "451 4.7.8 The relay did not accept our authentication; nothing "
              "was sent";
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(15054)
                      "relay %s refused the credentials of JMAPSubmissionAuthFile "
                      "(user %s): %s; nothing is sent, mail stays queued and is "
                      "retried for JMAPSubmissionRetryTime", conf->url,
                      conf->user ? conf->user : "(none)",
                      res->auth_reply ? res->auth_reply : err);
        break;
    default:
        break;
    }
}

apr_status_t jm_smtp_send(jm_smtp_result_t *res, const jm_submit_conf_t *conf,
                          const char *mail_from, const char *const *rcpts,
                          int nrcpts, const char *data, apr_size_t len,
                          volatile apr_uint32_t *stop, apr_pool_t *p)
{
    struct curl_slist *list = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    tx_t t;
    CURL *h;
    CURLcode cc;
    int i;

    memset(res, 0, sizeof(*res));
    res->nrcpts = nrcpts;
    res->rcpt_replies = apr_pcalloc(p, sizeof(const char *) * (nrcpts + 1));
    memset(&t, 0, sizeof(t));
    t.p = p;
    t.res = res;
    t.data = data;
    t.len = len;
    t.rcpt = -1;
    t.lines = apr_array_make(p, 4, sizeof(const char *));
    t.stop = stop;
    if (stop && apr_atomic_read32(stop)) {
        abandoned(res);
        return APR_SUCCESS;
    }
    if (!(h = curl_easy_init())) {
        res->error = "libcurl could not start";
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, h, curl_cleanup, apr_pool_cleanup_null);
    for (i = 0; i < nrcpts; i++) {
        struct curl_slist *n = curl_slist_append(list, apr_pstrcat(p, "<", rcpts[i],
                                                                   ">", NULL));
        if (!n) {
            curl_slist_free_all(list);
            res->error = "out of memory";
            return APR_ENOMEM;
        }
        list = n;
    }
    apr_pool_cleanup_register(p, list, slist_cleanup, apr_pool_cleanup_null);
    curl_easy_setopt(h, CURLOPT_URL, conf->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);        /* threads: no SIGALRM */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, apr_pstrcat(p, "<", mail_from, ">", NULL));
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
    /* go on past a refused recipient, so the others get the message */
#if LIBCURL_VERSION_NUM >= 0x080200
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#elif LIBCURL_VERSION_NUM >= 0x074500
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, conf->connect_timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, conf->timeout);
    curl_easy_setopt(h, CURLOPT_USE_SSL, conf->starttls == JM_SMTP_TLS_REQUIRED
                     ? (long)CURLUSESSL_ALL : conf->starttls == JM_SMTP_TLS_OPTIONAL
                     ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_NONE);
    /* always verified (RFC 3207 §4.1, RFC 8314 §4.3); only the CAs are set */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (conf->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, conf->ca_file);
    }
    if (conf->user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, conf->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, conf->password ? conf->password : "");
    }
    cc = curl_easy_perform(h);
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        abandoned(res);
    }
    else if (cc != CURLE_OK) {
        res->error = apr_pstrdup(p, *errbuf ? errbuf : curl_easy_strerror(cc));
        res->connect_failed = cc == CURLE_COULDNT_CONNECT
            || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_OPERATION_TIMEDOUT
            || cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_USE_SSL_FAILED
            || cc == CURLE_LOGIN_DENIED || cc == CURLE_RECV_ERROR
            || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING
            || cc == CURLE_WEIRD_SERVER_REPLY;
        if (!res->mail_reply) {
            explain_failure(res, &t, conf, cc, res->error, p);
        }
    }
    return APR_SUCCESS;
}
