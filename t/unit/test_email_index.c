/* Unit tests for the email index (src/mail/jm_email_index.c), the HTML
 * text reader (jm_html.c) and SearchSnippet (jm_snippet.c): real-world
 * message shapes, broken ones, and the index agreeing with Email/get.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <glib.h>

#include "mime/jm_mime.h"
#include "mail/jm_email_index.h"
#include "mail/jm_email_view.h"
#include "mail/jm_html.h"
#include "mail/jm_snippet.h"
#include "tap.h"

static apr_pool_t *pool;

static jm_email_index_t *idx_opts(const char *raw, apr_size_t len,
                                  const jm_email_index_opts_t *o)
{
    jm_email_index_t *x = NULL;

    if (jm_email_index(&x, raw, len, o, pool) != APR_SUCCESS || !x) {
        diag("jm_email_index failed");
        exit(1);
    }
    return x;
}

static jm_email_index_t *idx(const char *raw)
{
    return idx_opts(raw, strlen(raw), NULL);
}

static const char *id_at(apr_array_header_t *a, int i)
{
    return i < a->nelts ? APR_ARRAY_IDX(a, i, const char *) : NULL;
}

static const jm_mime_addr_t *addr_at(jm_email_index_addrs_t *f, int i)
{
    return i < f->addrs->nelts ? &APR_ARRAY_IDX(f->addrs, i, jm_mime_addr_t) : NULL;
}

/* What Email/get says for one property of the same bytes. */
static json_t *get_prop(const char *raw, apr_size_t len, const char *prop)
{
    jm_email_view_opts_t o;
    json_t *out = NULL;
    const char *bad = NULL;

    memset(&o, 0, sizeof(o));
    o.properties = jm_json_own(pool, json_pack("[s]", prop));
    if (jm_email_view_props(&out, raw, len, &o, &bad, pool) != APR_SUCCESS) {
        return NULL;
    }
    return json_object_get(out, prop);
}

static void agrees_with_get(const char *raw, jm_email_index_t *x, const char *what)
{
    json_t *pv = get_prop(raw, strlen(raw), "preview");
    json_t *ha = get_prop(raw, strlen(raw), "hasAttachment");

    is_str(x->preview, json_string_value(pv),
           apr_psprintf(pool, "%s: preview is Email/get's", what));
    ok(json_is_boolean(ha) && json_is_true(ha) == !!x->has_attachment,
       "%s: hasAttachment is Email/get's", what);
}

static void test_alternative(void)
{
    const char *m =
        "From: =?ISO-8859-1?Q?Andr=E9_Pirard?= <PIRARD@vm1.ulg.ac.be>\r\n"
        "To: Bob <bob@example.org>, carol@example.org\r\n"
        "Cc: Team: dave@example.org, \"Eve E.\" <eve@example.org>;\r\n"
        "Subject: =?UTF-8?B?UmU6IFtsaXN0XSBDYWbDqQ==?=\r\n"
        " au lait\r\n"
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
        "Message-ID: <1234@local.machine.example>\r\n"
        "In-Reply-To: <1111@example.org>\r\n"
        "References: <1000@example.org> <1111@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hello   Bob,\r\nsee you.\r\n"
        "--b1\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        "<html><body><p>Hello <b>Bob</b>,</p></body></html>\r\n"
        "--b1--\r\n";
    jm_email_index_t *x = idx(m);

    ok(!x->not_mime, "alternative: parsed as MIME");
    is_str(x->subject, "Re: [list] Café au lait", "RFC 2047 B subject decoded, unfolded");
    is_str(x->thread_subject, "Café au lait", "base subject drops Re: [list]");
    is_str(addr_at(&x->from, 0)->name, "André Pirard", "RFC 2047 Q display name");
    is_str(addr_at(&x->from, 0)->email, "PIRARD@vm1.ulg.ac.be", "from email");
    is_str(x->from.sort_key, "André Pirard", "from sort key: the name");
    is_int(x->to.addrs->nelts, 2, "two To addresses");
    is_str(x->to.sort_key, "Bob", "to sort key: the first name");
    is_str(x->to.text, "Bob bob@example.org, carol@example.org", "to search text");
    is_int(x->cc.addrs->nelts, 2, "group members flattened into cc");
    is_str(x->cc.text, "dave@example.org, Eve E. eve@example.org", "cc search text");
    is_int(x->bcc.addrs->nelts, 0, "no bcc");
    is_str(x->bcc.sort_key, "", "no bcc: sort key empty");
    is_str(x->bcc.text, "", "no bcc: text empty");
    ok(x->has_sent_at, "Date read");
    is_int(apr_time_sec(x->sent_at), 1057049557, "Date as UTC seconds (+0200 applied)");
    is_str(id_at(x->message_ids, 0), "1234@local.machine.example", "message id without <>");
    is_str(id_at(x->in_reply_to, 0), "1111@example.org", "in-reply-to");
    is_int(x->references->nelts, 2, "two references");
    is_str(id_at(x->references, 0), "1000@example.org", "first reference");
    is_str(x->body_text, "Hello   Bob,\nsee you.", "body text: the plain alternative");
    is_int(x->size, strlen(m), "size is the stored size");
    ok(!x->has_attachment, "no attachment");
    agrees_with_get(m, x, "alternative");
}

static void test_mixed_attachments(void)
{
    const char *m =
        "From: alice@example.com\r\n"
        "Subject: Fwd: report\r\n"
        "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
        "\r\n"
        "--mix\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Voil=E0 le rapport, na=EFve question=3F\r\n"
        "--mix\r\n"
        "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQKJcfsj6IK\r\n"
        "--mix\r\n"
        "Content-Type: text/plain; charset=windows-1252\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "k1F1b3RlZJQgliBlbmQggA==\r\n"
        "--mix--\r\n";
    jm_email_index_t *x = idx(m);

    ok(x->has_attachment, "mixed: the PDF is an attachment");
    is_str(x->thread_subject, "report", "base subject drops Fwd:");
    is_str(x->from.sort_key, "alice@example.com", "no name: sort key is the email");
    is_str(x->body_text,
           "Voilà le rapport, naïve question?"
           "\n\xe2\x80\x9cQuoted\xe2\x80\x9d \xe2\x80\x93 end \xe2\x82\xac",
           "Latin-1 QP and Windows-1252 base64 bodies decoded, joined");
    ok(!x->has_sent_at, "no Date: no sentAt");
    agrees_with_get(m, x, "mixed");
}

/* An alternative nested in a branch that chose HTML: textBody is null
 * there (RFC 8621 §4.1.4), its text/plain part is in no list (this
 * crashed Email/get, found by fuzz_mime_get). */
static void test_nested_alternative(void)
{
    const char *m =
        "Subject: nested\r\n"
        "Content-Type: multipart/alternative; boundary=\"a1\"\r\n"
        "\r\n"
        "--a1\r\nContent-Type: text/plain\r\n\r\nplain one\r\n"
        "--a1\r\nContent-Type: multipart/mixed; boundary=\"m1\"\r\n\r\n"
        "--m1\r\nContent-Type: text/html\r\n\r\n<p>html one</p>\r\n"
        "--m1\r\nContent-Type: multipart/alternative; boundary=\"a2\"\r\n\r\n"
        "--a2\r\nContent-Type: text/plain\r\n\r\nplain two\r\n"
        "--a2\r\nContent-Type: text/html\r\n\r\n<p>html two</p>\r\n"
        "--a2--\r\n"
        "--m1--\r\n"
        "--a1--\r\n";
    json_t *hb = get_prop(m, strlen(m), "htmlBody");
    jm_email_index_t *x = idx(m);

    is_str(x->body_text, "plain one", "nested alternative: body text from textBody");
    ok(json_array_size(hb) == 2
       && !strcmp(json_string_value(json_object_get(json_array_get(hb, 1), "partId")), "4"),
       "nested alternative: htmlBody is both HTML parts, plain two in neither");
    agrees_with_get(m, x, "nested alternative");
}

static void test_html(void)
{
    const char *m =
        "Subject: =?utf-8?q?Caf=C3=A9_&_cr=C3=A8me?=\r\n"
        "Date: not a date at all\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        "<html><head><title>T</title><style>p { color: red; }</style></head>\r\n"
        "<body><!-- a > b --><p>Fish &amp; chips &lt;3 &eacute;t&#233; &#x263A;"
        "&nbsp;caf&eacute;&unknown; a < b</p><script>x()</script></body></html>\r\n";
    jm_email_index_t *x = idx(m);
    const char *t = jm_html_text("<p>a&amp;b</p>", pool);

    is_str(x->subject, "Café & crème", "Q subject with &");
    ok(!x->has_sent_at, "unparseable Date: none");
    ok(strstr(x->body_text, "Fish & chips <3 été ☺ café&unknown; a < b") != NULL,
       "HTML body: tags stripped, entities decoded");
    ok(!strstr(x->body_text, "color") && !strstr(x->body_text, "x()")
       && !strstr(x->body_text, " T "), "style, script and title are no text");
    is_str(x->preview, "Fish & chips <3 été ☺ café&unknown; a < b",
           "preview of HTML is its text, as Email/get's");
    agrees_with_get(m, x, "html");
    is_str(t, " a&b ", "jm_html_text on a fragment");
    is_str(jm_html_text("&#0; &#xD800; &#99999999;", pool), "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd",
           "bad character references are U+FFFD");
}

static void test_broken(void)
{
    static const char garbage[] = "\x00\x01\xff\xfe\x80 garbage\r\n\r\nbody\x00more";
    const char *noblank = "Subject: no blank line\r\nFrom: a@example.com\r\nbody text here\r\n";
    const char *badbound =
        "Subject: bad boundary\r\n"
        "Content-Type: multipart/mixed; boundary=\"xyz\"\r\n"
        "\r\n"
        "--abc\r\nContent-Type: text/plain\r\n\r\nlost\r\n--abc--\r\n";
    const char *nul =
        "Subject: nul\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nab\x00" "cd\xff\r\n";
    jm_email_index_t *x;
    jm_email_index_opts_t o;

    x = idx_opts(garbage, sizeof(garbage) - 1, NULL);
    ok(x->not_mime, "binary garbage: not MIME");
    ok(!x->subject && !x->from.addrs->nelts && !x->message_ids->nelts,
       "binary garbage: no header fields");
    is_str(x->body_text, "", "binary garbage: body text empty");
    is_str(x->preview, "", "binary garbage: preview empty");
    is_int(x->size, sizeof(garbage) - 1, "binary garbage: size of the bytes");
    x = idx_opts("", 0, NULL);
    ok(x->not_mime && x->size == 0, "empty input: not MIME, size 0");
    x = idx_opts(NULL, 0, NULL);
    ok(x->not_mime, "NULL, 0: not MIME");
    ok(jm_email_index(&x, NULL, 5, NULL, pool) == APR_EINVAL, "NULL with a length: EINVAL");

    x = idx(noblank);
    ok(!x->not_mime, "no blank line: still a message");
    is_str(x->subject, "no blank line", "no blank line: subject read");
    is_str(x->from.sort_key, "a@example.com", "no blank line: from read");
    agrees_with_get(noblank, x, "no blank line");

    x = idx(badbound);
    ok(!x->not_mime, "undeclared boundary: parsed");
    is_str(x->thread_subject, "bad boundary", "undeclared boundary: subject");
    ok(g_utf8_validate(x->body_text, -1, NULL), "undeclared boundary: body text UTF-8");
    agrees_with_get(badbound, x, "undeclared boundary");

    x = idx_opts(nul, strlen(nul) + 6, NULL);
    ok(g_utf8_validate(x->body_text, -1, NULL), "NUL and 0xFF in a body: valid UTF-8");
    ok(!strncmp(x->body_text, "ab", 2), "NUL in a body: the text before it is kept");

    /* a bound on the body text cuts at a character boundary */
    memset(&o, 0, sizeof(o));
    o.max_body_text = 6;
    x = idx_opts("Content-Type: text/plain; charset=utf-8\r\n\r\naaaa\xc3\xa9\xc3\xa9",
                 51, &o);
    is_str(x->body_text, "aaaa\xc3\xa9", "body text cut to 6 octets at a UTF-8 boundary");
    ok(x->body_text_truncated, "cut is flagged");
    o.max_body_text = 5;
    x = idx_opts("Content-Type: text/plain; charset=utf-8\r\n\r\naaaa\xc3\xa9\xc3\xa9",
                 51, &o);
    is_str(x->body_text, "aaaa", "5 octets: the split é is left out");
}

static void test_references(void)
{
    apr_array_header_t *parts = apr_array_make(pool, 1000, sizeof(const char *));
    jm_email_index_opts_t o;
    jm_email_index_t *x;
    const char *m;
    int i;

    for (i = 0; i < 1000; ++i) {
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(pool, "\r\n <id%d@example.org>", i);
    }
    m = apr_pstrcat(pool, "Subject: many\r\nReferences:", apr_array_pstrcat(pool, parts, 0),
                    "\r\n\r\nbody\r\n", NULL);
    x = idx(m);
    is_int(x->references->nelts, JM_EMAIL_INDEX_IDS, "1000 references cut to the default bound");
    is_str(id_at(x->references, 0), "id0@example.org", "the first (thread root) is kept");
    is_str(id_at(x->references, 1), "id901@example.org", "then the last ones");
    is_str(id_at(x->references, JM_EMAIL_INDEX_IDS - 1), "id999@example.org",
           "the last (the parent) is kept");
    memset(&o, 0, sizeof(o));
    o.max_ids = 3;
    x = idx_opts(m, strlen(m), &o);
    ok(x->references->nelts == 3 && !strcmp(id_at(x->references, 1), "id998@example.org"),
       "max_ids 3: first and last two");
    ok(!x->in_reply_to->nelts && !x->message_ids->nelts, "absent id fields are empty");
}

static void test_base_subject(void)
{
    static const char *const cases[][2] = {
        { "Re: Fwd: [list] hello", "hello" },
        { "RE: re:  Re[2]: hello", "hello" },
        { "Re [x]: hello", "hello" },
        { "[list] Re: [other] Fw: hello (fwd)", "hello" },
        { "[Fwd: Re: hello]", "hello" },
        { "[Fwd: [list] hello (fwd)] (fwd) ", "hello" },
        { "hello  (fwd)(FWD)", "hello" },
        { "  spaced\t\tout   subject  ", "spaced out subject" },
        { "[only a blob]", "[only a blob]" },
        { "Re:", "" },
        { "", "" },
        { "Réponse: café", "Réponse: café" },
        { "Fwd:Fw:RE:x", "x" },
        { "Refund: money", "Refund: money" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        is_str(jm_email_base_subject(cases[i][0], pool), cases[i][1],
               apr_psprintf(pool, "base subject of \"%s\"", cases[i][0]));
    }
}

static apr_array_header_t *terms(const char *s)
{
    return jm_snippet_terms(s, pool);
}

static void test_snippets(void)
{
    jm_snippet_t s;
    apr_array_header_t *t;
    char *longbody;
    const char *at;
    int i;

    t = terms("  foo \"bar baz\"  qux\"");
    ok(t->nelts == 3 && !strcmp(APR_ARRAY_IDX(t, 1, const char *), "bar baz")
       && !strcmp(APR_ARRAY_IDX(t, 2, const char *), "qux"),
       "terms: words and a quoted phrase");

    t = terms("foo");
    jm_snippet(&s, "The Foosball competition", "This year the foosball <b> & \"x\"",
               t, t, pool);
    is_str(s.subject, "The <mark>Foo</mark>sball competition", "RFC 8621 §5 example subject");
    is_str(s.preview, "This year the <mark>foo</mark>sball &lt;b&gt; &amp; &quot;x&quot;",
           "preview escaped and marked");

    jm_snippet(&s, "nothing here", "nor here", t, t, pool);
    ok(!s.subject && !s.preview, "no match: both null");
    jm_snippet(&s, "foo", NULL, t, NULL, pool);
    is_str(s.subject, "<mark>foo</mark>", "term is the whole subject");
    ok(!s.preview, "no body: preview null");

    t = terms("foob obar");
    jm_snippet(&s, "a foobar b", "foobarfoo", t, t, pool);
    is_str(s.subject, "a <mark>foobar</mark> b", "overlapping terms: one mark");
    is_str(s.preview, "<mark>foobar</mark>foo", "overlap at the start");
    t = terms("ab bc");
    jm_snippet(&s, "abc", "xx abbc", t, t, pool);
    is_str(s.subject, "<mark>abc</mark>", "overlap of two terms merges");
    is_str(s.preview, "xx <mark>abbc</mark>", "adjacent matches at the end merge");

    t = terms("ÉTÉ straße");
    jm_snippet(&s, "Un été à Paris, STRASSE", "L'Été — «été»", t, t, pool);
    is_str(s.subject, "Un <mark>été</mark> à Paris, <mark>STRASSE</mark>",
           "casefold on UTF-8 (É=é, ß=ss)");
    is_str(s.preview, "L&#39;<mark>Été</mark> — «<mark>été</mark>»",
           "multibyte around marks, apostrophe escaped");
    t = terms("e\xcc\x81t\xc3\xa9");   /* NFD é */
    jm_snippet(&s, "\xc3\xa9t\xc3\xa9", NULL, t, NULL, pool);
    is_str(s.subject, "<mark>été</mark>", "NFD term matches NFC text");

    t = terms("<b> &");
    jm_snippet(&s, "x <b> & y", NULL, t, NULL, pool);
    is_str(s.subject, "x <mark>&lt;b&gt;</mark> <mark>&amp;</mark> y",
           "HTML-special characters in terms");

    t = terms("s");
    jm_snippet(&s, "\xc3\x9f", NULL, t, NULL, pool);
    ok(!s.subject, "half of a folded character does not match");

    /* a long body: the window around the first match, at most 255 octets */
    longbody = apr_palloc(pool, 4000);
    longbody[0] = '\0';
    for (i = 0; i < 60; ++i) {
        strcat(longbody, "lorem ipsum ");
    }
    strcat(longbody, "needle ");
    for (i = 0; i < 100; ++i) {
        strcat(longbody, "dolor & <sit> ");
    }
    t = terms("needle dolor");
    jm_snippet(&s, NULL, longbody, NULL, t, pool);
    ok(s.preview && strlen(s.preview) <= JM_SNIPPET_PREVIEW_MAX,
       "preview within 255 octets (%u)", s.preview ? (unsigned)strlen(s.preview) : 0);
    ok(s.preview && !strncmp(s.preview, "...", 3)
       && (at = strstr(s.preview, "<mark>needle</mark>")) && at - s.preview < 70,
       "preview starts shortly before the first match, with ...");
    ok(s.preview && !strcmp(s.preview + strlen(s.preview) - 3, "..."),
       "cut end marked with ...");
    ok(s.preview && !strstr(s.preview, "lorem ipsum lorem ipsum lorem ipsum lorem ipsum lorem"),
       "not from the start of the body");
    ok(s.preview && strstr(s.preview, "&lt;sit&gt;") != NULL, "escapes in the window");

    /* a match longer than the window is closed within the bound */
    longbody = apr_palloc(pool, 1001);
    memset(longbody, 'a', 1000);
    longbody[1000] = '\0';
    t = terms("aaaa");
    jm_snippet(&s, NULL, longbody, NULL, t, pool);
    ok(s.preview && strlen(s.preview) <= JM_SNIPPET_PREVIEW_MAX
       && !strncmp(s.preview, "<mark>", 6)
       && strstr(s.preview, "</mark>...") != NULL, "over-long match closed and cut");

    t = terms("\xff");
    jm_snippet(&s, "bad \xff utf8", NULL, t, NULL, pool);
    ok(!s.subject || g_utf8_validate(s.subject, -1, NULL), "invalid UTF-8 repaired");
}

/* The fields for the "header" filter: every top-level field in order,
 * names lower-case, values decoded (RFC 2047), unfolded and case-folded,
 * bounded in count and length. */
static void test_headers(void)
{
    jm_email_index_t *x;
    const jm_email_index_hdr_t *h;
    apr_array_header_t *a;
    char *big;
    int i;

    x = idx("Received: from a\r\n by b\r\nX-Spam-Flag: YES\r\n"
            "X-Label: =?UTF-8?Q?Gr=C3=B6=C3=9Fe?= Sache\r\nSubject: Hi\r\n"
            "Received: from c\r\n\r\nbody\r\n");
    a = x->headers;
    is_int(a ? a->nelts : -1, 5, "five fields");
    if (!a || a->nelts != 5) {
        return;
    }
    h = &APR_ARRAY_IDX(a, 0, jm_email_index_hdr_t);
    is_str(h->name, "received", "name lower-case");
    is_str(h->value, "from a by b", "value unfolded");
    h = &APR_ARRAY_IDX(a, 1, jm_email_index_hdr_t);
    is_str(h->name, "x-spam-flag", "mixed-case name");
    is_str(h->value, "yes", "value folded");
    h = &APR_ARRAY_IDX(a, 2, jm_email_index_hdr_t);
    is_str(h->value, "grösse sache", "RFC 2047 decoded, then ß folded to ss");
    is_str(APR_ARRAY_IDX(a, 4, jm_email_index_hdr_t).value, "from c",
           "a repeated field is kept twice, in order");
    is_str(jm_email_index_fold("STRAẞE Ǆ", pool), "strasse ǆ", "folding: ẞ, Ǆ");

    big = apr_pstrcat(pool, "X-Long: ", NULL);
    for (i = 0; i < 1500; i++) {
        big = apr_pstrcat(pool, big, "é", NULL);     /* 2 octets each */
    }
    big = apr_pstrcat(pool, big, "\r\n", NULL);
    for (i = 0; i < 300; i++) {
        big = apr_pstrcat(pool, big, "X-N: v\r\n", NULL);
    }
    big = apr_pstrcat(pool, big, "\r\nbody\r\n", NULL);
    x = idx(big);
    is_int(x->headers->nelts, JM_EMAIL_INDEX_HEADERS, "at most JM_EMAIL_INDEX_HEADERS fields");
    h = &APR_ARRAY_IDX(x->headers, 0, jm_email_index_hdr_t);
    ok(strlen(h->value) <= JM_EMAIL_INDEX_HEADER_TEXT && strlen(h->value) >= 2040
       && g_utf8_validate(h->value, -1, NULL), "a long value cut to the bound, valid UTF-8");
    x = idx_opts("\x01\x02 no message", 14, NULL);
    is_int(x->headers ? x->headers->nelts : 0, 0, "bytes that are no message: no fields");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    jm_mime_global_init();

    test_alternative();
    test_mixed_attachments();
    test_nested_alternative();
    test_html();
    test_broken();
    test_references();
    test_base_subject();
    test_snippets();
    test_headers();

    apr_pool_destroy(pool);
    return done_testing();
}
