/* The LMTP state machine (see jm_lmtp.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "lmtp/jm_lmtp.h"

/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets. */
#define MAX_PATH 256

typedef enum {
    S_START,                    /* greeted, waiting for LHLO */
    S_READY,                    /* LHLO done, no transaction */
    S_MAIL,                     /* MAIL FROM accepted */
    S_DATA,                     /* reading the message */
    S_DONE                      /* QUIT answered */
} state_t;

/* Where the data reader is within a line (RFC 5321 §4.5.2). */
typedef enum {
    D_LINE_START, D_MID, D_CR, D_DOT, D_DOT_CR
} dstate_t;

typedef struct {
    char *buf;
    apr_size_t len, cap;
} buf_t;

struct jm_lmtp_t {
    jm_lmtp_conf_t conf;
    jm_lmtp_hooks_t hooks;
    void *baton;
    apr_pool_t *pool;
    apr_pool_t *tpool;          /* the transaction's: cleared when it ends */
    state_t state;
    /* the command line being read */
    char line[JM_LMTP_MAX_LINE + 1];
    apr_size_t line_len;
    int line_overflow;
    /* the transaction */
    const char *from;
    apr_array_header_t *rcpts;  /* const char* */
    apr_array_header_t *rdata;  /* void* */
    /* the message */
    dstate_t dstate;
    buf_t msg;
    apr_size_t msg_size;        /* bytes seen, kept or not */
    int too_big;
    buf_t out;
};

static int buf_reserve(buf_t *b, apr_size_t more)
{
    apr_size_t want = b->len + more, cap = b->cap ? b->cap : 4096;
    char *n;

    if (want <= b->cap) {
        return 1;
    }
    while (cap < want) {
        cap *= 2;
    }
    if (!(n = realloc(b->buf, cap))) {
        return 0;
    }
    b->buf = n;
    b->cap = cap;
    return 1;
}

static void buf_free(buf_t *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

static apr_status_t free_buffers(void *data)
{
    jm_lmtp_t *l = data;

    buf_free(&l->msg);
    buf_free(&l->out);
    return APR_SUCCESS;
}

static void out_put(jm_lmtp_t *l, const char *s, apr_size_t n)
{
    /* out of memory: the reply is lost and the client times out, which
     * is what an MTA would see of a crashed server (it retries) */
    if (buf_reserve(&l->out, n)) {
        memcpy(l->out.buf + l->out.len, s, n);
        l->out.len += n;
    }
}

/* One reply line; sep is ' ' (last line) or '-' (more follow). */
static void say_line(jm_lmtp_t *l, int code, char sep, const char *status,
                     const char *text)
{
    char head[8];
    apr_size_t i, n;

    apr_snprintf(head, sizeof(head), "%03d%c", code, sep);
    out_put(l, head, 4);
    if (status && *status) {
        out_put(l, status, strlen(status));
        out_put(l, " ", 1);
    }
    /* a reply is one line: nothing the callbacks say may end it early */
    n = text ? strlen(text) : 0;
    for (i = 0; i < n; i++) {
        char c = (text[i] == '\r' || text[i] == '\n') ? ' ' : text[i];
        out_put(l, &c, 1);
    }
    out_put(l, "\r\n", 2);
}

void jm_lmtp_say(jm_lmtp_t *l, int code, const char *status, const char *text)
{
    say_line(l, code, ' ', status, text);
}

static void reset_txn(jm_lmtp_t *l)
{
    apr_pool_clear(l->tpool);
    l->from = NULL;
    l->rcpts = apr_array_make(l->tpool, 4, sizeof(const char *));
    l->rdata = apr_array_make(l->tpool, 4, sizeof(void *));
    buf_free(&l->msg);
    l->msg_size = 0;
    l->too_big = 0;
}

jm_lmtp_t *jm_lmtp_create(const jm_lmtp_conf_t *conf, const jm_lmtp_hooks_t *hooks,
                          void *baton, apr_pool_t *p)
{
    jm_lmtp_t *l = apr_pcalloc(p, sizeof(*l));

    l->conf = *conf;
    if (!l->conf.hostname) {
        l->conf.hostname = "localhost";
    }
    if (l->conf.max_recipients <= 0) {
        l->conf.max_recipients = 100;
    }
    l->hooks = *hooks;
    l->baton = baton;
    l->pool = p;
    apr_pool_create(&l->tpool, p);
    apr_pool_cleanup_register(p, l, free_buffers, apr_pool_cleanup_null);
    reset_txn(l);
    l->state = S_START;
    say_line(l, 220, ' ', NULL, apr_pstrcat(p, l->conf.hostname,
                                            " LMTP mod_jmap_smime ready", NULL));
    return l;
}

const char *jm_lmtp_output(const jm_lmtp_t *l, apr_size_t *plen)
{
    *plen = l->out.len;
    return l->out.buf;
}

void jm_lmtp_output_clear(jm_lmtp_t *l)
{
    /* a long pipelined burst grew it: give the memory back */
    if (l->out.cap > 65536) {
        buf_free(&l->out);
    }
    l->out.len = 0;
}

int jm_lmtp_in_data(const jm_lmtp_t *l)
{
    return l->state == S_DATA;
}

/* ---- commands ----------------------------------------------------------- */

/* The verb of line ends at the first space; s then points past it. */
static int verb_is(const char *line, const char *verb, const char **prest)
{
    apr_size_t n = strlen(verb);

    if (strncasecmp(line, verb, n) != 0 || (line[n] != '\0' && line[n] != ' ')) {
        return 0;
    }
    *prest = line + n + (line[n] == ' ');
    return 1;
}

/* Parse "<path>" at s (after "FROM:" or "TO:"): the address without its
 * angle brackets and obsolete source route (RFC 5321 §4.1.2, §C) in
 * *paddr, the rest (parameters) in *prest. 0 on a syntax error. */
static int parse_path(const char *s, const char **paddr, const char **prest,
                      apr_pool_t *p)
{
    const char *start, *e;
    int quoted = 0;

    while (*s == ' ') {
        s++;                    /* "MAIL FROM: <a@b>" is common */
    }
    if (*s != '<') {
        return 0;
    }
    start = ++s;
    for (e = s; *e && (quoted || *e != '>'); e++) {
        if ((unsigned char)*e < 0x20 || *e == 0x7f) {
            return 0;
        }
        if (*e == '\\' && quoted && e[1]) {
            e++;
        }
        else if (*e == '"') {
            quoted = !quoted;
        }
        else if (*e == ' ' && !quoted) {
            return 0;
        }
    }
    if (*e != '>' || (apr_size_t)(e - start) > MAX_PATH) {
        return 0;
    }
    if (*start == '@') {        /* "@a,@b:user@host" */
        const char *colon = memchr(start, ':', (apr_size_t)(e - start));
        if (!colon) {
            return 0;
        }
        start = colon + 1;
    }
    *paddr = apr_pstrmemdup(p, start, (apr_size_t)(e - start));
    *prest = e + 1;
    return 1;
}

/* MAIL parameters (RFC 1870 SIZE, RFC 6152 BODY). 0 when a reply was
 * given. */
static int mail_params(jm_lmtp_t *l, const char *rest)
{
    char *copy = apr_pstrdup(l->tpool, rest), *tok, *last;

    for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        char *eq = strchr(tok, '=');
        const char *val = eq ? eq + 1 : NULL;

        if (eq) {
            *eq = '\0';
        }
        if (!strcasecmp(tok, "SIZE") && val && *val
            && strspn(val, "0123456789") == strlen(val)) {
            /* RFC 1870 §6: refuse at once what cannot fit */
            if (strlen(val) > 18
                || (apr_size_t)apr_atoi64(val) > l->conf.max_message) {
                say_line(l, 552, ' ', "5.3.4", "Message size exceeds fixed "
                         "maximum message size");
                return 0;
            }
        }
        else if (!strcasecmp(tok, "BODY") && val
                 && (!strcasecmp(val, "7BIT") || !strcasecmp(val, "8BITMIME"))) {
            /* the body is kept as bytes either way */
        }
        else if (!strcasecmp(tok, "SIZE") || !strcasecmp(tok, "BODY")) {
            say_line(l, 501, ' ', "5.5.4", "Invalid parameter value");
            return 0;
        }
        else {
            say_line(l, 555, ' ', "5.5.4", "MAIL FROM parameter not recognized");
            return 0;
        }
    }
    return 1;
}

static void cmd_lhlo(jm_lmtp_t *l, const char *arg)
{
    char size[48];

    if (!*arg) {
        say_line(l, 501, ' ', "5.5.4", "Syntax: LHLO hostname");
        return;
    }
    reset_txn(l);               /* RFC 5321 §4.1.4: like RSET */
    l->state = S_READY;
    apr_snprintf(size, sizeof(size), "SIZE %" APR_SIZE_T_FMT, l->conf.max_message);
    say_line(l, 250, '-', NULL, l->conf.hostname);
    say_line(l, 250, '-', NULL, "PIPELINING");
    say_line(l, 250, '-', NULL, "ENHANCEDSTATUSCODES");
    say_line(l, 250, '-', NULL, "8BITMIME");
    say_line(l, 250, ' ', NULL, size);
}

static void cmd_mail(jm_lmtp_t *l, const char *arg)
{
    const char *addr, *rest;

    if (l->state == S_START) {
        say_line(l, 503, ' ', "5.5.1", "Send LHLO first");
        return;
    }
    if (l->state != S_READY) {
        say_line(l, 503, ' ', "5.5.1", "Nested MAIL command");
        return;
    }
    if (strncasecmp(arg, "FROM:", 5) != 0
        || !parse_path(arg + 5, &addr, &rest, l->tpool)) {
        say_line(l, 501, ' ', "5.5.4", "Syntax: MAIL FROM:<address>");
        return;
    }
    if (!mail_params(l, rest)) {
        return;
    }
    l->from = addr;             /* "" is the null reverse-path of bounces */
    l->state = S_MAIL;
    say_line(l, 250, ' ', "2.1.0", "Sender OK");
}

static void cmd_rcpt(jm_lmtp_t *l, const char *arg)
{
    jm_lmtp_reply_t r = { 451, "4.3.0", "Temporary failure" };
    const char *addr, *rest;
    void *data = NULL;

    if (l->state != S_MAIL) {
        say_line(l, 503, ' ', "5.5.1", "Need MAIL command first");
        return;
    }
    if (strncasecmp(arg, "TO:", 3) != 0 || !parse_path(arg + 3, &addr, &rest, l->tpool)) {
        say_line(l, 501, ' ', "5.5.4", "Syntax: RCPT TO:<address>");
        return;
    }
    if (!*addr) {
        say_line(l, 501, ' ', "5.1.3", "Empty recipient address");
        return;
    }
    while (*rest == ' ') {
        rest++;
    }
    if (*rest) {
        say_line(l, 555, ' ', "5.5.4", "RCPT TO parameters not recognized");
        return;
    }
    if (l->rcpts->nelts >= l->conf.max_recipients) {
        say_line(l, 452, ' ', "4.5.3", "Too many recipients");
        return;
    }
    l->hooks.rcpt(l->baton, addr, &r, &data, l->tpool);
    if (r.code == 250) {
        APR_ARRAY_PUSH(l->rcpts, const char *) = addr;
        APR_ARRAY_PUSH(l->rdata, void *) = data;
    }
    say_line(l, r.code, ' ', r.status, r.text);
}

static void cmd_data(jm_lmtp_t *l, const char *arg)
{
    if (*arg) {
        say_line(l, 501, ' ', "5.5.4", "Syntax: DATA");
        return;
    }
    if (l->state != S_MAIL) {
        say_line(l, 503, ' ', "5.5.1", "Need MAIL command first");
        return;
    }
    if (l->rcpts->nelts == 0) {
        /* RFC 2033 §4.2: DATA without a successful RCPT MUST fail with 503 */
        say_line(l, 503, ' ', "5.5.1", "No valid recipients");
        return;
    }
    l->state = S_DATA;
    l->dstate = D_LINE_START;
    say_line(l, 354, ' ', NULL, "Start mail input; end with <CRLF>.<CRLF>");
}

static void command(jm_lmtp_t *l, const char *line)
{
    static const char *const not_implemented[] = {
        "EXPN", "HELP", "TURN", "ETRN", "ATRN", "BDAT", "STARTTLS", "AUTH",
        "SEND", "SOML", "SAML", NULL
    };
    const char *arg;
    int i;

    if (verb_is(line, "LHLO", &arg)) {
        cmd_lhlo(l, arg);
    }
    else if (verb_is(line, "MAIL", &arg)) {
        cmd_mail(l, arg);
    }
    else if (verb_is(line, "RCPT", &arg)) {
        cmd_rcpt(l, arg);
    }
    else if (verb_is(line, "DATA", &arg)) {
        cmd_data(l, arg);
    }
    else if (verb_is(line, "RSET", &arg)) {
        if (*arg) {
            say_line(l, 501, ' ', "5.5.4", "Syntax: RSET");
            return;
        }
        reset_txn(l);
        if (l->state != S_START) {
            l->state = S_READY;
        }
        say_line(l, 250, ' ', "2.0.0", "OK");
    }
    else if (verb_is(line, "NOOP", &arg)) {
        say_line(l, 250, ' ', "2.0.0", "OK");
    }
    else if (verb_is(line, "QUIT", &arg)) {
        l->state = S_DONE;
        say_line(l, 221, ' ', "2.0.0", "Bye");
    }
    else if (verb_is(line, "VRFY", &arg)) {
        if (!*arg) {
            say_line(l, 501, ' ', "5.5.4", "Syntax: VRFY address");
            return;
        }
        /* RFC 5321 §3.5.3: 252 when we would rather not say */
        say_line(l, 252, ' ', "2.5.0", "Cannot VRFY user, but will accept "
                 "message and attempt delivery");
    }
    else if (verb_is(line, "HELO", &arg) || verb_is(line, "EHLO", &arg)) {
        /* RFC 2033 §4.1: LMTP's greeting is LHLO */
        say_line(l, 500, ' ', "5.5.1", "This is LMTP: use LHLO (RFC 2033)");
    }
    else {
        for (i = 0; not_implemented[i]; i++) {
            if (verb_is(line, not_implemented[i], &arg)) {
                say_line(l, 502, ' ', "5.5.1", "Command not implemented");
                return;
            }
        }
        say_line(l, 500, ' ', "5.5.2", "Command unrecognized");
    }
}

/* ---- the message -------------------------------------------------------- */

static void msg_put(jm_lmtp_t *l, const char *s, apr_size_t n)
{
    l->msg_size += n;
    if (l->too_big) {
        return;
    }
    /* + 1: the message is kept NUL-terminated (see jm_lmtp.h) */
    if (l->msg_size > l->conf.max_message || !buf_reserve(&l->msg, n + 1)) {
        /* read on to the final dot, keep nothing: 552 for each recipient */
        l->too_big = 1;
        buf_free(&l->msg);
        return;
    }
    memcpy(l->msg.buf + l->msg.len, s, n);
    l->msg.len += n;
    l->msg.buf[l->msg.len] = '\0';
}

static void end_of_data(jm_lmtp_t *l)
{
    int i, n = l->rcpts->nelts;
    jm_lmtp_reply_t *replies = apr_pcalloc(l->tpool, sizeof(*replies) * (apr_size_t)n);

    for (i = 0; i < n; i++) {
        if (l->too_big) {
            replies[i].code = 552;
            replies[i].status = "5.3.4";
            replies[i].text = "Message size exceeds fixed maximum message size";
        }
        else {
            replies[i].code = 451;
            replies[i].status = "4.3.0";
            replies[i].text = "Temporary failure";
        }
    }
    if (!l->too_big) {
        l->hooks.deliver(l->baton, l->from, n, (const char *const *)l->rcpts->elts,
                         (void *const *)l->rdata->elts,
                         l->msg.buf ? l->msg.buf : "", l->msg.len, replies, l->tpool);
    }
    /* RFC 2033 §4.2: one reply per successful RCPT, in their order */
    for (i = 0; i < n; i++) {
        say_line(l, replies[i].code, ' ', replies[i].status, replies[i].text);
    }
    reset_txn(l);
    l->state = S_READY;
}

/* Consume message bytes; returns how many were used (the rest, after the
 * final dot, are commands again). */
static apr_size_t data_bytes(jm_lmtp_t *l, const char *d, apr_size_t n)
{
    apr_size_t i = 0, run;

    while (i < n) {
        char c = d[i];

        switch (l->dstate) {
        case D_MID:
            /* the common case: copy up to the next CR or LF at once */
            for (run = i; run < n && d[run] != '\r' && d[run] != '\n'; run++) {
            }
            if (run > i) {
                msg_put(l, d + i, run - i);
                i = run;
                continue;
            }
            l->dstate = c == '\r' ? D_CR : D_LINE_START;
            if (c == '\n') {
                msg_put(l, "\r\n", 2);          /* bare LF: a line end */
            }
            break;
        case D_LINE_START:
            if (c == '.') {
                l->dstate = D_DOT;
            }
            else if (c == '\r') {
                l->dstate = D_CR;
            }
            else if (c == '\n') {
                msg_put(l, "\r\n", 2);
            }
            else {
                l->dstate = D_MID;
                continue;                       /* copied by D_MID */
            }
            break;
        case D_CR:
            if (c == '\n') {
                msg_put(l, "\r\n", 2);
                l->dstate = D_LINE_START;
                break;
            }
            msg_put(l, "\r", 1);                /* a lone CR is data */
            l->dstate = D_MID;
            continue;
        case D_DOT:
            if (c == '\r') {
                l->dstate = D_DOT_CR;
                break;
            }
            if (c == '\n') {
                end_of_data(l);
                return i + 1;
            }
            /* RFC 5321 §4.5.2: the leading dot of a longer line goes */
            l->dstate = D_MID;
            if (c == '.') {
                msg_put(l, ".", 1);
                break;
            }
            continue;
        case D_DOT_CR:
            if (c == '\n') {
                end_of_data(l);
                return i + 1;
            }
            l->dstate = D_CR;                   /* ".\rX": the dot goes */
            continue;
        }
        i++;
    }
    return n;
}

/* ---- input -------------------------------------------------------------- */

int jm_lmtp_feed(jm_lmtp_t *l, const char *data, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len && l->state != S_DONE) {
        const char *nl;
        apr_size_t take;

        if (l->state == S_DATA) {
            i += data_bytes(l, data + i, len - i);
            continue;
        }
        nl = memchr(data + i, '\n', len - i);
        take = nl ? (apr_size_t)(nl - (data + i)) : len - i;
        if (!l->line_overflow && l->line_len + take <= JM_LMTP_MAX_LINE) {
            memcpy(l->line + l->line_len, data + i, take);
            l->line_len += take;
        }
        else {
            l->line_overflow = 1;
        }
        i += take;
        if (!nl) {
            break;                              /* the line goes on */
        }
        i++;                                    /* the LF */
        if (l->line_overflow) {
            say_line(l, 500, ' ', "5.5.2", "Line too long");
        }
        else {
            if (l->line_len && l->line[l->line_len - 1] == '\r') {
                l->line_len--;
            }
            l->line[l->line_len] = '\0';
            if (memchr(l->line, '\0', l->line_len)) {
                say_line(l, 500, ' ', "5.5.2", "NUL in command");
            }
            else {
                command(l, l->line);
            }
        }
        l->line_len = 0;
        l->line_overflow = 0;
    }
    return l->state == S_DONE;
}
