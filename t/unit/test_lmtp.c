/* The LMTP state machine (src/lmtp/jm_lmtp.c): every command, bad
 * sequences, limits, dot-stuffing, line ends, pipelining. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "lmtp/jm_lmtp.h"

typedef struct {
    int deliveries;             /* deliver calls */
    char *msg;                  /* the last message */
    apr_size_t len;
    const char *from;
    int nrcpt;
    const char *rcpt0data;
    apr_pool_t *p;
} fake_t;

static void fake_rcpt(void *baton, const char *address, jm_lmtp_reply_t *r,
                      void **pdata, apr_pool_t *p)
{
    (void)baton;
    if (!strncmp(address, "alice@", 6) || !strncmp(address, "bob@", 4)) {
        r->code = 250;
        r->status = "2.1.5";
        r->text = "OK";
        *pdata = apr_pstrcat(p, "user:", address, NULL);
    }
    else if (!strncmp(address, "down@", 5)) {
        r->code = 451;
        r->status = "4.3.0";
        r->text = "store down";
    }
    else {
        r->code = 550;
        r->status = "5.1.1";
        r->text = "No such user\r\ninjected";   /* must stay one line */
    }
}

static void fake_deliver(void *baton, const char *from, int n,
                         const char *const *addresses, void *const *data,
                         const char *msg, apr_size_t len, jm_lmtp_reply_t *replies,
                         apr_pool_t *p)
{
    fake_t *f = baton;
    int i;

    (void)p;
    f->deliveries++;
    f->msg = apr_pstrmemdup(f->p, msg, len);
    f->len = len;
    f->from = apr_pstrdup(f->p, from);
    f->nrcpt = n;
    f->rcpt0data = apr_pstrdup(f->p, data[0]);
    for (i = 0; i < n; i++) {
        if (!strncmp(addresses[i], "bob@", 4) && strstr(msg, "FAILBOB")) {
            continue;           /* left at the preset 451 4.3.0 */
        }
        replies[i].code = 250;
        replies[i].status = "2.0.0";
        replies[i].text = apr_pstrcat(p, "delivered to ", addresses[i], NULL);
    }
}

static const jm_lmtp_hooks_t hooks = { fake_rcpt, fake_deliver };

static jm_lmtp_t *session(fake_t *f, apr_pool_t *p, apr_size_t max)
{
    jm_lmtp_conf_t conf = { "mx.test", max, 3 };

    memset(f, 0, sizeof(*f));
    f->p = p;
    return jm_lmtp_create(&conf, &hooks, f, p);
}

/* Feed s and return the output produced by it (then cleared). */
static const char *feed(jm_lmtp_t *l, const char *s, int *pdone, apr_pool_t *p)
{
    apr_size_t n;
    const char *o;
    int done = jm_lmtp_feed(l, s, strlen(s));

    if (pdone) {
        *pdone = done;
    }
    o = jm_lmtp_output(l, &n);
    o = apr_pstrmemdup(p, o ? o : "", n);
    jm_lmtp_output_clear(l);
    return o;
}

static void test_greeting_lhlo(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 1000);
    apr_size_t n;
    const char *o = jm_lmtp_output(l, &n);

    is_str(apr_pstrmemdup(p, o, n), "220 mx.test LMTP mod_jmap_smime ready\r\n",
           "greeting 220");
    jm_lmtp_output_clear(l);
    is_str(feed(l, "LHLO\r\n", NULL, p), "501 5.5.4 Syntax: LHLO hostname\r\n",
           "LHLO without a name: 501");
    is_str(feed(l, "lhlo client.test\r\n", NULL, p),
           "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
           "250-8BITMIME\r\n250 SIZE 1000\r\n", "LHLO (any case): the extensions");
    is_str(feed(l, "HELO x\r\n", NULL, p),
           "500 5.5.1 This is LMTP: use LHLO (RFC 2033)\r\n", "HELO: 500");
    is_str(feed(l, "EHLO x\r\n", NULL, p),
           "500 5.5.1 This is LMTP: use LHLO (RFC 2033)\r\n", "EHLO: 500");
}

static void test_sequences(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 1000);

    jm_lmtp_output_clear(l);
    is_str(feed(l, "MAIL FROM:<a@b>\r\n", NULL, p), "503 5.5.1 Send LHLO first\r\n",
           "MAIL before LHLO: 503");
    is_str(feed(l, "RCPT TO:<alice@x>\r\n", NULL, p),
           "503 5.5.1 Need MAIL command first\r\n", "RCPT before LHLO: 503");
    is_str(feed(l, "DATA\r\n", NULL, p), "503 5.5.1 Need MAIL command first\r\n",
           "DATA before LHLO: 503");
    feed(l, "LHLO c\r\n", NULL, p);
    is_str(feed(l, "RCPT TO:<alice@x>\r\n", NULL, p),
           "503 5.5.1 Need MAIL command first\r\n", "RCPT before MAIL: 503");
    is_str(feed(l, "DATA\r\n", NULL, p), "503 5.5.1 Need MAIL command first\r\n",
           "DATA before MAIL: 503");
    is_str(feed(l, "MAIL FROM:<a@b>\r\n", NULL, p), "250 2.1.0 Sender OK\r\n",
           "MAIL: 250");
    is_str(feed(l, "MAIL FROM:<a@b>\r\n", NULL, p), "503 5.5.1 Nested MAIL command\r\n",
           "second MAIL: 503");
    is_str(feed(l, "DATA\r\n", NULL, p), "503 5.5.1 No valid recipients\r\n",
           "DATA without recipients: 503 (RFC 2033 §4.2)");
    is_str(feed(l, "RCPT TO:<nobody@x>\r\n", NULL, p),
           "550 5.1.1 No such user  injected\r\n",
           "unknown user: the callback's 550, CRLF in its text flattened");
    is_str(feed(l, "DATA\r\n", NULL, p), "503 5.5.1 No valid recipients\r\n",
           "DATA after only refused recipients: 503");
    is_str(feed(l, "RSET\r\n", NULL, p), "250 2.0.0 OK\r\n", "RSET: 250");
    is_str(feed(l, "RCPT TO:<alice@x>\r\n", NULL, p),
           "503 5.5.1 Need MAIL command first\r\n", "RSET ended the transaction");
    is_str(feed(l, "RSET now\r\n", NULL, p), "501 5.5.4 Syntax: RSET\r\n",
           "RSET with an argument: 501");
    is_str(feed(l, "NOOP\r\n", NULL, p), "250 2.0.0 OK\r\n", "NOOP: 250");
    is_str(feed(l, "NOOP anything\r\n", NULL, p), "250 2.0.0 OK\r\n",
           "NOOP with an argument: 250");
    is_str(feed(l, "VRFY alice\r\n", NULL, p),
           "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n",
           "VRFY: 252");
    is_str(feed(l, "VRFY\r\n", NULL, p), "501 5.5.4 Syntax: VRFY address\r\n",
           "VRFY without an argument: 501");
    is_str(feed(l, "EXPN list\r\n", NULL, p), "502 5.5.1 Command not implemented\r\n",
           "EXPN: 502");
    is_str(feed(l, "STARTTLS\r\n", NULL, p), "502 5.5.1 Command not implemented\r\n",
           "STARTTLS (not offered): 502");
    is_str(feed(l, "FROB\r\n", NULL, p), "500 5.5.2 Command unrecognized\r\n",
           "unknown command: 500");
    is_str(feed(l, "\r\n", NULL, p), "500 5.5.2 Command unrecognized\r\n",
           "empty line: 500");
    is_str(feed(l, "MAILX FROM:<a@b>\r\n", NULL, p), "500 5.5.2 Command unrecognized\r\n",
           "a verb with a known prefix is not that verb");
    {
        const char in[] = "NOOP \0x\r\n";
        apr_size_t n;
        jm_lmtp_feed(l, in, sizeof(in) - 1);
        const char *o = jm_lmtp_output(l, &n);
        is_str(apr_pstrmemdup(p, o, n),
               "500 5.5.2 NUL in command\r\n", "NUL inside a command line: 500");
        jm_lmtp_output_clear(l);
    }
}

static void test_paths(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 1000);
    char big[600];

    jm_lmtp_output_clear(l);
    feed(l, "LHLO c\r\n", NULL, p);
    is_str(feed(l, "MAIL FROM:a@b\r\n", NULL, p), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
           "MAIL without brackets: 501");
    is_str(feed(l, "MAIL TO:<a@b>\r\n", NULL, p), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
           "MAIL TO: 501");
    is_str(feed(l, "MAIL FROM:<a@b\r\n", NULL, p), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
           "unclosed path: 501");
    is_str(feed(l, "MAIL FROM:<a b@c>\r\n", NULL, p), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
           "space in a path: 501");
    is_str(feed(l, "MAIL FROM:<a@b> FOO=1\r\n", NULL, p),
           "555 5.5.4 MAIL FROM parameter not recognized\r\n", "unknown parameter: 555");
    is_str(feed(l, "MAIL FROM:<a@b> SIZE=1001\r\n", NULL, p),
           "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
           "SIZE above the limit: 552 at MAIL (RFC 1870)");
    is_str(feed(l, "MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n", NULL, p),
           "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
           "an absurd SIZE: 552");
    is_str(feed(l, "MAIL FROM:<a@b> SIZE=abc\r\n", NULL, p),
           "501 5.5.4 Invalid parameter value\r\n", "SIZE not a number: 501");
    is_str(feed(l, "MAIL FROM:<a@b> BODY=BINARYMIME\r\n", NULL, p),
           "501 5.5.4 Invalid parameter value\r\n", "BODY=BINARYMIME (not offered): 501");
    is_str(feed(l, "MAIL FROM:<> SIZE=1000 BODY=8BITMIME\r\n", NULL, p),
           "250 2.1.0 Sender OK\r\n", "MAIL FROM:<> (a bounce) with SIZE and BODY: 250");
    is_str(feed(l, "RCPT TO:<>\r\n", NULL, p), "501 5.1.3 Empty recipient address\r\n",
           "RCPT TO:<>: 501");
    is_str(feed(l, "RCPT TO:<alice@x> NOTIFY=NEVER\r\n", NULL, p),
           "555 5.5.4 RCPT TO parameters not recognized\r\n", "RCPT parameter: 555");
    memset(big, 'a', sizeof(big));
    memcpy(big, "RCPT TO:<", 9);
    memcpy(big + sizeof(big) - 6, ">\r\n", 4);
    is_str(feed(l, big, NULL, p), "501 5.5.4 Syntax: RCPT TO:<address>\r\n",
           "a path over 256 octets: 501");
    is_str(feed(l, "RCPT TO: <@relay.example,@other:alice@x>\r\n", NULL, p),
           "250 2.1.5 OK\r\n", "source route dropped, space after the colon allowed");
    is_str(feed(l, "RCPT TO:<\"bob x\"@x>\r\n", NULL, p), "550 5.1.1 No such user  injected\r\n",
           "a quoted local part with a space is an address");
    is_str(feed(l, "RCPT TO:<bob@x>\r\n", NULL, p), "250 2.1.5 OK\r\n", "second recipient");
    is_str(feed(l, "RCPT TO:<down@x>\r\n", NULL, p), "451 4.3.0 store down\r\n",
           "recipient the store cannot check: the callback's 451");
    is_str(feed(l, "RCPT TO:<bob@y>\r\n", NULL, p), "250 2.1.5 OK\r\n", "third recipient");
    is_str(feed(l, "RCPT TO:<alice@z>\r\n", NULL, p), "452 4.5.3 Too many recipients\r\n",
           "past max_recipients: 452 4.5.3");
    is_str(feed(l, "DATA\r\n.\r\n", NULL, p),
           "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
           "250 2.0.0 delivered to alice@x\r\n250 2.0.0 delivered to bob@x\r\n"
           "250 2.0.0 delivered to bob@y\r\n", "empty message: one reply per recipient");
    is_str(f.from, "", "the null reverse-path reaches deliver as \"\"");
    is_int(f.nrcpt, 3, "three accepted recipients");
    is_str(f.rcpt0data, "user:alice@x", "the rcpt callback's data reaches deliver");
    is_int(f.len, 0, "empty message");
}

static void test_data(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 1000);
    const char *o;

    jm_lmtp_output_clear(l);
    feed(l, "LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\n", NULL, p);
    is_str(feed(l, "DATA x\r\n", NULL, p), "501 5.5.4 Syntax: DATA\r\n",
           "DATA with an argument: 501");
    is_str(feed(l, "DATA\r\n", NULL, p), "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
           "DATA: 354");
    ok(jm_lmtp_in_data(l), "reading the message");
    o = feed(l, "Subject: t\r\n\r\n..leading dot\r\n..\r\n.x\r\nmid . dot\r\n"
             "QUIT\r\n", NULL, p);
    is_str(o, "", "nothing answered before the final dot");
    is_int(f.deliveries, 0, "not delivered yet");
    o = feed(l, ".\r\nNOOP\r\n", NULL, p);
    is_str(o, "250 2.0.0 delivered to alice@x\r\n250 2.0.0 delivered to bob@x\r\n"
           "250 2.0.0 OK\r\n", "the final dot: one 250 per recipient, then NOOP's");
    is_str(f.msg, "Subject: t\r\n\r\n.leading dot\r\n.\r\nx\r\nmid . dot\r\nQUIT\r\n",
           "dot-unstuffed (RFC 5321 §4.5.2), commands inside are data");
    ok(!jm_lmtp_in_data(l), "back to commands");

    /* bare LF, lone CR, a final dot split over feeds */
    feed(l, "MAIL FROM:<s@x>\nRCPT TO:<alice@x>\nDATA\n", NULL, p);
    feed(l, "A: 1\nB: a\rb\n\nbody\n..x\n.", NULL, p);
    is_int(f.deliveries, 1, "a dot without its line end is not the end");
    o = feed(l, "\n", NULL, p);
    is_str(o, "250 2.0.0 delivered to alice@x\r\n", "bare LF ends the message");
    is_str(f.msg, "A: 1\r\nB: a\rb\r\n\r\nbody\r\n.x\r\n",
           "bare LF became CRLF, the lone CR stayed, the dot went");

    /* ".\r" not followed by LF is data */
    feed(l, "MAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\n", NULL, p);
    feed(l, "a\r\n.\rb\r\n", NULL, p);
    feed(l, "\r", NULL, p);
    feed(l, "\n", NULL, p);
    o = feed(l, ".\r\n", NULL, p);
    is_str(o, "250 2.0.0 delivered to alice@x\r\n", "then the real end");
    is_str(f.msg, "a\r\n\rb\r\n\r\n", "\".\\rb\": the dot went, the CR stayed; "
           "CR and LF split over feeds are one line end");

    /* one byte at a time */
    feed(l, "MAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n", NULL, p);
    {
        const char *m = "X: y\r\n\r\n..\r\nFAILBOB\r\n.\r\n";
        apr_size_t i;
        for (i = 0; m[i]; i++) {
            jm_lmtp_feed(l, m + i, 1);
        }
        o = jm_lmtp_output(l, &i);
        is_str(apr_pstrmemdup(p, o, i), "250 2.0.0 delivered to alice@x\r\n"
               "451 4.3.0 Temporary failure\r\n",
               "byte by byte; a recipient deliver did not answer keeps the preset 451");
        jm_lmtp_output_clear(l);
        is_str(f.msg, "X: y\r\n\r\n.\r\nFAILBOB\r\n", "same message byte by byte");
    }
}

static void test_limits(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 20);
    char line[JM_LMTP_MAX_LINE + 100];
    const char *o;

    jm_lmtp_output_clear(l);
    feed(l, "LHLO c\r\n", NULL, p);
    memset(line, 'N', sizeof(line));
    memcpy(line, "NOOP ", 5);
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    is_str(feed(l, line, NULL, p), "500 5.5.2 Line too long\r\n", "command line too long: 500");
    /* split over feeds, too */
    line[sizeof(line) - 3] = '\0';
    feed(l, line, NULL, p);
    is_str(feed(l, "NNNN\r\nNOOP\r\n", NULL, p), "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n",
           "a long line over two feeds: one 500, then the next command");
    /* exactly at the limit: accepted */
    memset(line, ' ', sizeof(line));
    memcpy(line, "NOOP", 4);
    memcpy(line + JM_LMTP_MAX_LINE - 2, "\r\n", 3);
    is_str(feed(l, line, NULL, p), "250 2.0.0 OK\r\n", "a line of JM_LMTP_MAX_LINE octets");

    feed(l, "MAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n", NULL, p);
    o = feed(l, "0123456789\r\n0123456789\r\n.\r\n", NULL, p);
    is_str(o, "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
           "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
           "message over max_message: 552 per recipient, read to the end");
    is_int(f.deliveries, 0, "nothing delivered");
    feed(l, "MAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\n", NULL, p);
    o = feed(l, "0123456789\r\n012345\r\n.\r\n", NULL, p);
    is_str(o, "250 2.0.0 delivered to alice@x\r\n", "exactly max_message: delivered");
    is_int(f.len, 20, "20 bytes");
    {
        /* long lines in a message are fine */
        jm_lmtp_t *l2 = session(&f, p, 100000);
        char *m = apr_palloc(p, 50010);
        memset(m, 'x', 50000);
        strcpy(m + 50000, "\r\n.\r\n");
        jm_lmtp_output_clear(l2);
        feed(l2, "LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\n", NULL, p);
        o = feed(l2, m, NULL, p);
        is_str(o, "250 2.0.0 delivered to alice@x\r\n", "a 50000-octet line in a message");
        is_int(f.len, 50002, "kept whole");
    }
}

static void test_pipelining_quit(apr_pool_t *p)
{
    fake_t f;
    jm_lmtp_t *l = session(&f, p, 1000);
    const char *o;
    int done = 0;

    jm_lmtp_output_clear(l);
    o = feed(l, "LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<nobody@x>\r\n"
             "RCPT TO:<bob@x>\r\nDATA\r\nSubject: p\r\n\r\nhi\r\n.\r\n"
             "MAIL FROM:<s@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n"
             "NOOP\r\n", &done, p);
    is_str(o, "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
           "250-8BITMIME\r\n250 SIZE 1000\r\n"
           "250 2.1.0 Sender OK\r\n250 2.1.5 OK\r\n550 5.1.1 No such user  injected\r\n"
           "250 2.1.5 OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
           "250 2.0.0 delivered to alice@x\r\n250 2.0.0 delivered to bob@x\r\n"
           "250 2.1.0 Sender OK\r\n250 2.1.5 OK\r\n"
           "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
           "250 2.0.0 delivered to bob@x\r\n221 2.0.0 Bye\r\n",
           "a whole pipelined session in one buffer: replies in order, "
           "nothing after QUIT");
    ok(done, "QUIT ends the session");
    is_int(f.deliveries, 2, "two messages");
    is_str(f.msg, "second\r\n", "the second message");
    is_str(feed(l, "NOOP\r\n", &done, p), "", "input after QUIT is ignored");
    ok(done, "still over");
    jm_lmtp_say(l, 421, "4.4.2", "timeout");
    {
        apr_size_t n;
        o = jm_lmtp_output(l, &n);
        is_str(apr_pstrmemdup(p, o, n), "421 4.4.2 timeout\r\n",
               "jm_lmtp_say");
    }
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_greeting_lhlo(p);
    test_sequences(p);
    test_paths(p);
    test_data(p);
    test_limits(p);
    test_pipelining_quit(p);
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
