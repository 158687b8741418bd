/* Unit tests: the sending-authorisation matcher (mail/jm_sendauth.c:
 * addresses, *@domain wildcards), the vacation decision of RFC 3834
 * (mail/jm_vacation_rules.c: every rule, both ways), the header facts read
 * from a delivered message and the automatic reply built by
 * jm_mime_autoreply_build, parsed back with GMime. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <gmime/gmime.h>
#include "tap.h"
#include "mail/jm_sendauth.h"
#include "mail/jm_vacation.h"
#include "mime/jm_mime.h"
#include "core/jm_util.h"

static apr_pool_t *pool;

static void test_valid_address(void)
{
    ok(jm_sendauth_valid_address("alice@example.com", 0), "plain address");
    ok(jm_sendauth_valid_address("a.b+c@sub.example.com", 0), "dots, plus, subdomain");
    ok(!jm_sendauth_valid_address("alice", 0), "no @");
    ok(!jm_sendauth_valid_address("@example.com", 0), "empty local part");
    ok(!jm_sendauth_valid_address("alice@", 0), "empty domain");
    ok(!jm_sendauth_valid_address("a@b@example.com", 0), "two @");
    ok(!jm_sendauth_valid_address("al ice@example.com", 0), "space");
    ok(!jm_sendauth_valid_address("alice@example.com\r\nBcc: x@y", 0), "CRLF");
    ok(!jm_sendauth_valid_address("<alice@example.com>", 0), "angle brackets");
    ok(!jm_sendauth_valid_address("alice@.example.com", 0), "domain starts with a dot");
    ok(!jm_sendauth_valid_address("alice@example.com.", 0), "domain ends with a dot");
    ok(!jm_sendauth_valid_address(NULL, 0), "NULL");
    ok(!jm_sendauth_valid_address("*@example.com", 0), "wildcard not allowed");
    ok(jm_sendauth_valid_address("*@example.com", 1), "wildcard allowed");
    ok(!jm_sendauth_valid_address("a*@example.com", 1), "* inside a local part");
    ok(!jm_sendauth_valid_address("**@example.com", 1), "two stars");
    ok(!jm_sendauth_valid_address("*@*.example.com", 1), "star in the domain");
}

static void test_match(void)
{
    ok(jm_sendauth_match("alice@example.com", "alice@example.com"), "exact");
    ok(jm_sendauth_match("alice@example.com", "Alice@EXAMPLE.com"), "case-insensitive");
    ok(!jm_sendauth_match("alice@example.com", "alice@example.org"), "other domain");
    ok(!jm_sendauth_match("alice@example.com", "alic@example.com"), "other local part");
    ok(jm_sendauth_match("*@example.com", "bob@example.com"), "wildcard covers its domain");
    ok(jm_sendauth_match("*@example.com", "Bob@Example.COM"), "wildcard, case-insensitive domain");
    ok(!jm_sendauth_match("*@example.com", "bob@sub.example.com"), "not a subdomain");
    ok(!jm_sendauth_match("*@example.com", "bob@badexample.com"), "not a suffix");
    ok(!jm_sendauth_match("*@example.com", "bob@example.com.evil"), "not a prefix");
    ok(!jm_sendauth_match("*@example.com", "@example.com"), "empty local part");
    ok(!jm_sendauth_match("*@example.com", "a b@example.com"), "invalid address");
    ok(jm_sendauth_match("*@example.com", "*@example.com"), "the wildcard itself");
    ok(jm_sendauth_match("*@example.com", "*@EXAMPLE.com"), "the wildcard, case");
    ok(!jm_sendauth_match("alice@example.com", "*@example.com"),
       "an address grant does not cover the wildcard");
    ok(!jm_sendauth_match("*@example.org", "*@example.com"), "another wildcard");
    ok(!jm_sendauth_match(NULL, "alice@example.com"), "NULL pattern");
    ok(!jm_sendauth_match("alice@example.com", NULL), "NULL address");
}

/* ---- the decision ------------------------------------------------------ */

static jm_vacation_t vac;
static jm_vacation_msg_t msg;
static jm_vacation_in_t in;
static apr_array_header_t *own, *to_cc;

static void reset(void)
{
    memset(&vac, 0, sizeof(vac));
    memset(&msg, 0, sizeof(msg));
    memset(&in, 0, sizeof(in));
    vac.enabled = 1;
    own = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(own, const char *) = "alice@example.com";
    APR_ARRAY_PUSH(own, const char *) = "*@alice.example.net";
    to_cc = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(to_cc, const char *) = "carol@example.org";
    APR_ARRAY_PUSH(to_cc, const char *) = "Alice@Example.com";
    msg.to_cc = to_cc;
    in.mail_from = "bob@example.org";
    in.rcpt = "alice@example.com";
    in.own = own;
    in.msg = &msg;
    in.vac = &vac;
    in.now = apr_time_from_sec(1800000000);
    in.period = 7 * 86400;
}

#define DECIDES(want, name) is_str(jm_vacation_decision_name(jm_vacation_decide(&in)), \
                                   jm_vacation_decision_name(want), name)

static void test_decide(void)
{
    reset();
    DECIDES(JM_VAC_REPLY, "an ordinary message to alice: reply");

    reset(); vac.enabled = 0;
    DECIDES(JM_VAC_DISABLED, "isEnabled false");
    reset(); in.vac = NULL;
    DECIDES(JM_VAC_DISABLED, "never set");

    /* dates: on or after fromDate, before toDate (RFC 8621 §8) */
    reset(); vac.from = in.now + 1;
    DECIDES(JM_VAC_OUTSIDE_DATES, "before fromDate");
    reset(); vac.from = in.now;
    DECIDES(JM_VAC_REPLY, "at fromDate");
    reset(); vac.to = in.now;
    DECIDES(JM_VAC_OUTSIDE_DATES, "at toDate");
    reset(); vac.to = in.now + 1;
    DECIDES(JM_VAC_REPLY, "just before toDate");
    reset(); vac.from = in.now - 10; vac.to = in.now + 10;
    DECIDES(JM_VAC_REPLY, "inside fromDate..toDate");
    reset(); vac.from = in.now - 20; vac.to = in.now - 10;
    DECIDES(JM_VAC_OUTSIDE_DATES, "after the window");

    reset(); in.mail_from = "";
    DECIDES(JM_VAC_NULL_SENDER, "null reverse path \"\"");
    reset(); in.mail_from = "<>";
    DECIDES(JM_VAC_NULL_SENDER, "null reverse path <>");
    reset(); in.mail_from = NULL;
    DECIDES(JM_VAC_NULL_SENDER, "no sender");
    reset(); in.mail_from = "bob";
    DECIDES(JM_VAC_BAD_SENDER, "sender without a domain");
    reset(); in.mail_from = "bob@example.org\r\nBcc: x@y.z";
    DECIDES(JM_VAC_BAD_SENDER, "sender with CRLF");

    /* RFC 3834 §5.2 */
    reset(); msg.auto_submitted = "auto-replied";
    DECIDES(JM_VAC_AUTO_SUBMITTED, "Auto-Submitted: auto-replied");
    reset(); msg.auto_submitted = "auto-generated";
    DECIDES(JM_VAC_AUTO_SUBMITTED, "Auto-Submitted: auto-generated");
    reset(); msg.auto_submitted = "Auto-Notified; owner-email=x@y";
    DECIDES(JM_VAC_AUTO_SUBMITTED, "Auto-Submitted with a parameter");
    reset(); msg.auto_submitted = "no";
    DECIDES(JM_VAC_REPLY, "Auto-Submitted: no");
    reset(); msg.auto_submitted = " No (a person)";
    DECIDES(JM_VAC_REPLY, "Auto-Submitted: No with a comment");
    reset(); msg.auto_submitted = "nope";
    DECIDES(JM_VAC_AUTO_SUBMITTED, "Auto-Submitted: nope is not no");
    reset(); msg.auto_submitted = "";
    DECIDES(JM_VAC_AUTO_SUBMITTED, "Auto-Submitted present but empty");

    reset(); msg.list = 1;
    DECIDES(JM_VAC_LIST, "a List-* field");

    reset(); msg.precedence = "bulk";
    DECIDES(JM_VAC_BULK, "Precedence: bulk");
    reset(); msg.precedence = "List";
    DECIDES(JM_VAC_BULK, "Precedence: List");
    reset(); msg.precedence = " junk";
    DECIDES(JM_VAC_BULK, "Precedence: junk");
    reset(); msg.precedence = "first-class";
    DECIDES(JM_VAC_REPLY, "Precedence: first-class");
    reset(); msg.precedence = "bulky";
    DECIDES(JM_VAC_REPLY, "Precedence: bulky is not bulk");

    reset(); in.mail_from = "MAILER-DAEMON@example.org";
    DECIDES(JM_VAC_SYSTEM_SENDER, "MAILER-DAEMON");
    reset(); in.mail_from = "owner-list@example.org";
    DECIDES(JM_VAC_SYSTEM_SENDER, "owner-*");
    reset(); in.mail_from = "list-request@example.org";
    DECIDES(JM_VAC_SYSTEM_SENDER, "*-request");
    reset(); in.mail_from = "LISTSERV@example.org";
    DECIDES(JM_VAC_SYSTEM_SENDER, "LISTSERV");
    reset(); in.mail_from = "majordomo@example.org";
    DECIDES(JM_VAC_SYSTEM_SENDER, "majordomo");
    reset(); in.mail_from = "owner@example.org";
    DECIDES(JM_VAC_REPLY, "owner (no dash) is a person");
    reset(); in.mail_from = "requester@example.org";
    DECIDES(JM_VAC_REPLY, "requester is a person");

    reset(); in.mail_from = "ALICE@example.com";
    DECIDES(JM_VAC_OWN_ADDRESS, "own address (the recipient)");
    reset(); in.mail_from = "me@alice.example.net";
    DECIDES(JM_VAC_OWN_ADDRESS, "own address (an identity wildcard)");
    reset(); in.own = NULL; in.mail_from = "alice@example.com";
    DECIDES(JM_VAC_OWN_ADDRESS, "the recipient without identities");

    /* RFC 3834 §3.1.1 */
    reset(); APR_ARRAY_IDX(to_cc, 1, const char *) = "dave@example.org";
    DECIDES(JM_VAC_NOT_ADDRESSED, "alice only in Bcc");
    reset(); to_cc->nelts = 0;
    DECIDES(JM_VAC_NOT_ADDRESSED, "no To or Cc");
    reset(); msg.to_cc = NULL;
    DECIDES(JM_VAC_NOT_ADDRESSED, "no To or Cc read");
    reset(); APR_ARRAY_IDX(to_cc, 1, const char *) = "x@alice.example.net";
    DECIDES(JM_VAC_REPLY, "addressed to another of her addresses");

    /* once per period */
    reset(); in.last_replied = apr_time_sec(in.now) - 86400;
    DECIDES(JM_VAC_ALREADY_REPLIED, "replied yesterday");
    reset(); in.last_replied = apr_time_sec(in.now) - in.period + 1;
    DECIDES(JM_VAC_ALREADY_REPLIED, "replied just within the period");
    reset(); in.last_replied = apr_time_sec(in.now) - in.period;
    DECIDES(JM_VAC_REPLY, "replied one period ago");
    reset(); in.last_replied = apr_time_sec(in.now) - 10; in.period = 5;
    DECIDES(JM_VAC_REPLY, "a shorter period (JMAPVacationPeriod)");

    /* the order: a bounce from the person's own list server is a bounce */
    reset(); in.mail_from = ""; msg.list = 1; vac.to = in.now;
    DECIDES(JM_VAC_OUTSIDE_DATES, "dates first");
}

static void test_parse(void)
{
    jm_vacation_t v;

    ok(jm_vacation_parse(&v, NULL, pool) == 0 && !v.enabled, "never set: disabled");
    ok(jm_vacation_parse(&v, "{\"isEnabled\":true,\"fromDate\":\"2027-01-01T00:00:00Z\","
                         "\"toDate\":null,\"subject\":\"Away\",\"textBody\":\"t\","
                         "\"htmlBody\":null}", pool) == 0, "a stored object");
    ok(v.enabled && v.from == apr_time_from_sec(1798761600) && v.to == 0,
       "isEnabled and the dates");
    is_str(v.subject, "Away", "subject");
    is_str(v.text, "t", "textBody");
    ok(v.html == NULL, "htmlBody null");
    ok(jm_vacation_parse(&v, "[1]", pool) == -1, "not an object");
    ok(jm_vacation_parse(&v, "{\"isEnabled\":true,\"fromDate\":\"soon\"}", pool) == -1,
       "a bad date");
    ok(jm_vacation_parse(&v, "{", pool) == -1, "not JSON");
}

/* ---- header facts and the reply --------------------------------------- */

static const char *hdr(GMimeMessage *m, const char *name)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(m), name);
    return v ? apr_pstrdup(pool, v) : NULL;
}

static GMimeMessage *parse(const char *data, apr_size_t len)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *pr = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(pr, NULL);

    g_object_unref(pr);
    g_object_unref(s);
    return m;
}

static void test_msg_read(void)
{
    const char *raw =
        "From: Bob <bob@example.org>\r\n"
        "To: Carol <carol@example.org>, Team: Alice <alice@example.com>;\r\n"
        "Cc: dave@example.org\r\n"
        "Subject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n"
        "Message-ID: <m1@example.org>\r\n"
        "References: <r0@example.org> <r1@example.org>\r\n"
        "In-Reply-To: <r1@example.org>\r\n"
        "Auto-Submitted: no\r\n"
        "Precedence: first-class\r\n"
        "\r\nhello\r\n";
    const char *listmsg = "From: l@example.org\r\nList-Unsubscribe: <mailto:u@x>\r\n"
                          "To: alice@example.com\r\n\r\nx\r\n";
    jm_vacation_msg_t m;

    ok(jm_vacation_msg_read(&m, raw, strlen(raw), pool) == APR_SUCCESS, "read");
    is_int(m.to_cc->nelts, 3, "To (group members too) and Cc");
    is_str(APR_ARRAY_IDX(m.to_cc, 1, const char *), "alice@example.com", "group member");
    is_str(m.subject, "Caf\xc3\xa9 plans", "subject decoded");
    is_str(m.message_id, "m1@example.org", "Message-ID without brackets");
    ok(m.references && m.references->nelts == 2, "References read");
    is_str(m.auto_submitted, "no", "Auto-Submitted");
    is_str(m.precedence, "first-class", "Precedence");
    ok(!m.list, "no list");
    ok(jm_vacation_msg_read(&m, listmsg, strlen(listmsg), pool) == APR_SUCCESS && m.list,
       "List-Unsubscribe makes it a list message");
    ok(!m.message_id && !m.references && !m.subject, "absent fields are NULL");
}

static void test_build(void)
{
    apr_array_header_t *refs = apr_array_make(pool, 2, sizeof(const char *));
    jm_autoreply_t a;
    const char *data, *why, *v;
    apr_size_t len;
    GMimeMessage *m;
    GMimeObject *body;
    InternetAddressList *l;
    int i;

    APR_ARRAY_PUSH(refs, const char *) = "r0@example.org";
    APR_ARRAY_PUSH(refs, const char *) = "r1@example.org";
    memset(&a, 0, sizeof(a));
    a.from = "alice@example.com";
    a.to = "bob@example.org";
    a.orig_subject = "Caf\xc3\xa9 plans";
    a.text = "Away until Monday.";
    a.in_reply_to = "m1@example.org";
    a.references = refs;
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) == APR_SUCCESS,
       "text reply built");
    ok(strstr(data, "\r\n") && !strstr(data, "\n\n"), "CRLF line ends");
    m = parse(data, len);
    ok(m != NULL, "parses back");
    if (!m) {
        return;
    }
    l = g_mime_message_get_from(m);
    ok(l && internet_address_list_length(l) == 1
       && !strcmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
              internet_address_list_get_address(l, 0))), "alice@example.com"),
       "From is the account's address");
    l = g_mime_message_get_to(m);
    ok(l && internet_address_list_length(l) == 1
       && !strcmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
              internet_address_list_get_address(l, 0))), "bob@example.org"),
       "To is the sender");
    is_str(g_mime_message_get_subject(m), "Auto: Caf\xc3\xa9 plans",
           "Subject: Auto: and the original's");
    is_str(hdr(m, "Auto-Submitted"), "auto-replied", "Auto-Submitted: auto-replied");
    v = hdr(m, "In-Reply-To");
    ok(v && strstr(v, "<m1@example.org>"), "In-Reply-To");
    v = hdr(m, "References");
    ok(v && strstr(v, "<r0@example.org>") && strstr(v, "<r1@example.org>")
       && strstr(v, "<m1@example.org>")
       && strstr(v, "<r1@example.org>") < strstr(v, "<m1@example.org>"),
       "References: the original's, then its Message-ID");
    ok(g_mime_message_get_message_id(m) != NULL, "Message-ID");
    ok(hdr(m, "Date") != NULL, "Date");
    body = g_mime_message_get_mime_part(m);
    ok(GMIME_IS_TEXT_PART(body)
       && g_mime_content_type_is_type(g_mime_object_get_content_type(body), "text", "plain"),
       "one text/plain part");
    if (GMIME_IS_TEXT_PART(body)) {
        char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
        ok(t && strstr(t, "Away until Monday."), "the text");
        g_free(t);
    }
    g_object_unref(m);

    /* both bodies, a subject of its own, no original ids */
    memset(&a, 0, sizeof(a));
    a.from = "alice@example.com";
    a.to = "bob@example.org";
    a.subject = "Out of office";
    a.text = "Away.";
    a.html = "<p>Away.</p>";
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) == APR_SUCCESS
       && (m = parse(data, len)) != NULL, "text + html built");
    if (m) {
        body = g_mime_message_get_mime_part(m);
        is_str(g_mime_message_get_subject(m), "Out of office", "the subject given");
        ok(GMIME_IS_MULTIPART(body) && g_mime_content_type_is_type(
               g_mime_object_get_content_type(body), "multipart", "alternative"),
           "multipart/alternative");
        ok(GMIME_IS_MULTIPART(body) && g_mime_multipart_get_count(GMIME_MULTIPART(body)) == 2,
           "two parts");
        ok(!hdr(m, "In-Reply-To") && !hdr(m, "References"), "no In-Reply-To/References");
        is_str(hdr(m, "Auto-Submitted"), "auto-replied", "Auto-Submitted");
        g_object_unref(m);
    }

    /* html only; no original subject; no bodies at all */
    a.text = NULL;
    a.subject = NULL;
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) == APR_SUCCESS
       && (m = parse(data, len)) != NULL, "html only built");
    if (m) {
        body = g_mime_message_get_mime_part(m);
        ok(g_mime_content_type_is_type(g_mime_object_get_content_type(body), "text", "html"),
           "text/html only");
        is_str(g_mime_message_get_subject(m), "Automatic reply", "default subject");
        g_object_unref(m);
    }
    a.html = NULL;
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) == APR_SUCCESS
       && strstr(data, "I am away"), "no bodies: a default text");

    /* bad input is refused, not sent */
    a.to = "bob@example.org\r\nBcc: victim@example.net";
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) != APR_SUCCESS && why,
       "a recipient with CRLF is refused");
    a.to = "bob@example.org";
    a.subject = "x\r\nBcc: victim@example.net";
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) != APR_SUCCESS && why,
       "a subject with CRLF is refused");
    a.subject = "\xff\xfe";
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) != APR_SUCCESS,
       "a subject that is not UTF-8 is refused");

    /* a long References chain is bounded: first id, the newest, the parent */
    refs = apr_array_make(pool, 64, sizeof(const char *));
    for (i = 0; i < 60; i++) {
        APR_ARRAY_PUSH(refs, const char *) = apr_psprintf(pool, "r%d@example.org", i);
    }
    a.subject = NULL;
    a.references = refs;
    a.in_reply_to = "m1@example.org";
    ok(jm_mime_autoreply_build(&data, &len, &a, &why, pool) == APR_SUCCESS
       && (m = parse(data, len)) != NULL, "long chain built");
    if (m) {
        v = hdr(m, "References");
        ok(v && strstr(v, "<r0@example.org>") && strstr(v, "<r59@example.org>")
           && !strstr(v, "<r5@example.org>") && strstr(v, "<m1@example.org>"),
           "References keeps the first and the newest ids");
        g_object_unref(m);
    }
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    jm_mime_global_init();

    test_valid_address();
    test_match();
    test_decide();
    test_parse();
    test_msg_read();
    test_build();
    return done_testing();
}
