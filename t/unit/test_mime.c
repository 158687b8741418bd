/* Unit tests for jm_mime (Email/set create → bytes, Email/get properties,
 * signer/recipient rules) and jm_smime (sign/encrypt with RFC 9788 header
 * protection, checked with the openssl CLI). JM_TEST_KEEP=1 keeps the
 * temp dir.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include <openssl/pem.h>

#include "core/jm_log.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_view.h"
#include "mime/jm_mime_int.h"   /* jm_mime_msg_from_bytes */
#include "smime/jm_smime.h"
#include "tap.h"
#include "scratch.h"

static apr_pool_t *pool;
static char tmpdir[] = "/tmp/jm-test-mime-XXXXXX";

static const unsigned char blob_bin[] = {
    0x00, 0x01, 0x02, 0xff, 0xfe, '\r', '\n', 'A', 0x80, 0x00, 'z'
};

static apr_status_t fetch(const unsigned char **pdata, apr_size_t *plen,
                          void *ctx, const char *blob_id, apr_pool_t *p)
{
    (void)p;
    ++*(int *)ctx;
    if (!strcmp(blob_id, "Bbin")) {
        *pdata = blob_bin;
        *plen = sizeof(blob_bin);
        return APR_SUCCESS;
    }
    if (!strcmp(blob_id, "Btxt")) {
        *pdata = (const unsigned char *)"plain attachment\r\nline two\r\n";
        *plen = strlen((const char *)*pdata);
        return APR_SUCCESS;
    }
    if (!strcmp(blob_id, "Bfail")) {
        return APR_EGENERAL;
    }
    if (!strcmp(blob_id, "Bkib")) {          /* 1024 bytes */
        static unsigned char kib[1024];
        memset(kib, 'k', sizeof(kib));
        *pdata = kib;
        *plen = sizeof(kib);
        return APR_SUCCESS;
    }
    return APR_NOTFOUND;
}

static int fetch_calls;

/* Build from a JSON text; on error *perr gets the SetError (else NULL). */
static jm_mime_msg_t *build(const char *json, json_t **perr)
{
    json_error_t je;
    json_t *c = jm_json_own(pool, json_loads(json, 0, &je));
    jm_mime_msg_t *m = NULL;
    apr_status_t rv;

    *perr = NULL;
    if (!c) {
        diag("bad test JSON: %s (%s)", je.text, json);
        return NULL;
    }
    rv = jm_mime_build(&m, c, fetch, &fetch_calls, NULL, perr, pool);
    if (rv != APR_SUCCESS && !*perr) {
        *perr = jm_json_own(pool, json_pack("{s:s}", "type", "serverFail"));
    }
    return rv == APR_SUCCESS ? m : NULL;
}

/* Build with explicit limits; the SetError type in *ptype (NULL if built),
 * the first invalid property in *pprop. */
static void build_lim(const char *json, const jm_mime_limits_t *lim,
                      const char **ptype, const char **pprop)
{
    json_t *c = jm_json_own(pool, json_loads(json, 0, NULL)), *err = NULL;
    jm_mime_msg_t *m = NULL;
    apr_status_t rv = jm_mime_build(&m, c, fetch, &fetch_calls, lim, &err, pool);

    *ptype = rv == APR_SUCCESS ? NULL
           : err ? json_string_value(json_object_get(err, "type")) : "serverFail";
    *pprop = err ? json_string_value(json_array_get(json_object_get(err, "properties"), 0))
                 : NULL;
}

/* A JSON array text of n EmailAddress objects. */
static const char *addr_list(int n, const char *tag)
{
    apr_array_header_t *a = apr_array_make(pool, n * 2 + 2, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(a, const char *) = "[";
    for (i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(pool, "%s{\"email\":\"%s%d@example.com\"}",
                                                       i ? "," : "", tag, i);
    }
    APR_ARRAY_PUSH(a, const char *) = "]";
    return apr_array_pstrcat(pool, a, 0);
}

/* The request budget's part enforced while building (jm_mime_limits_t). */
static void test_limits(void)
{
    jm_mime_limits_t lim = { 3000, 5, 8, 4 };
    const char *type, *prop, *refs;
    apr_array_header_t *a;
    int i;

    /* attachment bytes: 2 KiB fits, 3 KiB does not (one blob used thrice
     * is fetched once but counted three times) */
    fetch_calls = 0;
    build_lim("{\"attachments\":[{\"blobId\":\"Bkib\"},{\"blobId\":\"Bkib\"}]}",
              &lim, &type, &prop);
    ok(type == NULL, "two 1 KiB attachments under a 3000-byte limit build");
    build_lim("{\"attachments\":[{\"blobId\":\"Bkib\"},{\"blobId\":\"Bkib\"},"
              "{\"blobId\":\"Bkib\"}]}", &lim, &type, &prop);
    is_str(type, "tooLarge", "three 1 KiB attachments over 3000 bytes: tooLarge");
    is_int(fetch_calls, 2, "the repeated blob was fetched once per build");

    /* recipients: To, Cc and Bcc together */
    build_lim(apr_psprintf(pool, "{\"to\":%s,\"cc\":%s}", addr_list(3, "t"),
                           addr_list(2, "c")), &lim, &type, &prop);
    ok(type == NULL, "5 recipients with a limit of 5 build");
    build_lim(apr_psprintf(pool, "{\"to\":%s,\"cc\":%s,\"bcc\":%s}", addr_list(3, "t"),
                           addr_list(2, "c"), addr_list(1, "b")), &lim, &type, &prop);
    is_str(type, "invalidProperties", "a 6th recipient (in Bcc): invalidProperties");
    is_str(prop, "bcc/0", "naming the address that passed the limit");
    build_lim(apr_psprintf(pool, "{\"replyTo\":%s}", addr_list(8, "r")), &lim, &type, &prop);
    ok(type == NULL, "Reply-To is not a recipient field: 8 addresses build");
    build_lim(apr_psprintf(pool, "{\"replyTo\":%s}", addr_list(9, "r")), &lim, &type, &prop);
    is_str(prop, "replyTo/8", "9 addresses in one field: the 9th is named");

    /* message ids per field */
    a = apr_array_make(pool, 10, sizeof(const char *));
    for (i = 0; i < 9; ++i) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(pool, "%s\"id%d@x\"", i ? "," : "", i);
    }
    refs = apr_array_pstrcat(pool, a, 0);
    build_lim(apr_psprintf(pool, "{\"references\":[%s]}", refs), &lim, &type, &prop);
    is_str(prop, "references", "9 message ids with a limit of 8: invalidProperties references");
    build_lim(apr_psprintf(pool, "{\"header:X-A:all\":[%s]}", refs), &lim, &type, &prop);
    is_str(prop, "header:X-A:all", "9 instances of one field: invalidProperties");

    /* tokens that cannot be folded into a 998-octet line */
    {
        char local[250], id[902];
        memset(local, 'a', sizeof(local) - 1);
        local[sizeof(local) - 1] = '\0';
        build_lim(apr_psprintf(pool, "{\"to\":[{\"email\":\"%.242s@example.com\"}]}", local),
                  &lim, &type, &prop);
        ok(type == NULL, "a 254-octet address builds");
        build_lim(apr_psprintf(pool, "{\"to\":[{\"email\":\"%.243s@example.com\"}]}", local),
                  &lim, &type, &prop);
        is_str(prop, "to/0/email", "a 255-octet address: invalidProperties to/0/email");
        memset(id, 'i', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';
        build_lim(apr_psprintf(pool, "{\"messageId\":[\"%.900s\"]}", id), &lim, &type, &prop);
        ok(type == NULL, "a 900-octet message id builds");
        build_lim(apr_psprintf(pool, "{\"messageId\":[\"%s\"]}", id), &lim, &type, &prop);
        is_str(prop, "messageId/0", "a 901-octet one: invalidProperties messageId/0");
    }

    /* nesting: depth 4 builds, depth 5 does not */
    build_lim("{\"bodyStructure\":{\"subParts\":[{\"subParts\":[{\"subParts\":["
              "{\"partId\":\"t\"}]}]}]},\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
              &lim, &type, &prop);
    ok(type == NULL, "body parts 4 deep build with a depth limit of 4");
    build_lim("{\"bodyStructure\":{\"subParts\":[{\"subParts\":[{\"subParts\":["
              "{\"subParts\":[{\"partId\":\"t\"}]}]}]}]},"
              "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}", &lim, &type, &prop);
    is_str(prop, "bodyStructure/subParts/0/subParts/0/subParts/0/subParts/0",
           "5 deep: invalidProperties naming the part past the limit");
}

static const char *bytes(jm_mime_msg_t *m, apr_size_t *plen)
{
    const char *d = NULL;
    apr_size_t len = 0;

    if (m) {
        jm_mime_to_bytes(&d, &len, m, pool);
    }
    if (plen) {
        *plen = len;
    }
    return d ? d : "";
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Every line ends in CRLF, no bare CR or LF, no line over 998 octets. */
static int crlf_clean(const char *d, apr_size_t len)
{
    apr_size_t i, line = 0;

    for (i = 0; i < len; ++i) {
        if (d[i] == '\r') {
            if (i + 1 >= len || d[i + 1] != '\n') {
                return 0;
            }
        }
        else if (d[i] == '\n') {
            if (i == 0 || d[i - 1] != '\r') {
                return 0;
            }
            line = 0;
            continue;
        }
        if (++line > 998) {
            return 0;
        }
    }
    return len >= 2 && d[len - 2] == '\r' && d[len - 1] == '\n';
}

static int all_7bit(const char *d, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        if ((unsigned char)d[i] > 127 || !d[i]) {
            return 0;
        }
    }
    return 1;
}

/* The invalid property list of a SetError as a compact JSON string. */
static const char *err_props(json_t *err)
{
    json_t *pr;

    if (!err) {
        return "(no error)";
    }
    if (strcmp(json_string_value(json_object_get(err, "type")), "invalidProperties")) {
        return json_string_value(json_object_get(err, "type"));
    }
    pr = json_object_get(err, "properties");
    return jm_json_dump(pr, pool);
}

static void expect_invalid(const char *json, const char *props, const char *what)
{
    json_t *err;
    jm_mime_msg_t *m = build(json, &err);

    ok(m == NULL, "rejected: %s", what);
    is_str(err_props(err), props, apr_psprintf(pool, "invalidProperties %s", props));
}

/* Email/get over message bytes with fetchAllBodyValues. */
static json_t *get_props(const char *data, apr_size_t len, const char *props,
                         apr_size_t maxbytes)
{
    jm_email_view_opts_t o;
    json_t *out = NULL;
    const char *bad = NULL;

    memset(&o, 0, sizeof(o));
    o.properties = props ? jm_json_own(pool, json_loads(props, 0, NULL)) : NULL;
    o.fetch_all_body_values = 1;
    o.max_body_value_bytes = maxbytes;
    o.blob_id = "Gmsg";
    if (jm_email_view_props(&out, data, len, &o, &bad, pool) != APR_SUCCESS) {
        diag("email_props failed, bad=%s", bad ? bad : "-");
        return NULL;
    }
    return out;
}

static const char *jstr(json_t *j, const char *path)
{
    /* tiny path walker: "a/0/b" */
    char *copy = apr_pstrdup(pool, path), *tok, *last;

    for (tok = apr_strtok(copy, "/", &last); tok && j; tok = apr_strtok(NULL, "/", &last)) {
        j = json_is_array(j) ? json_array_get(j, atoi(tok)) : json_object_get(j, tok);
    }
    return json_is_string(j) ? json_string_value(j) : j ? jm_json_dump(j, pool) : NULL;
}

/* ---------------------------------------------------------------------- */
/* building                                                                 */

static void test_text_only(void)
{
    json_t *err;
    apr_size_t len;
    jm_mime_msg_t *m = build(
        "{\"from\":[{\"name\":\"Joe Bloggs\",\"email\":\"joe@Example.COM\"}],"
        "\"to\":[{\"email\":\"bob@example.org\"}],\"subject\":\"Hello\","
        "\"mailboxIds\":{\"m1\":true},\"keywords\":{\"$draft\":true},"
        "\"smimeSign\":true,\"receivedAt\":\"2021-07-07T01:03:11Z\","
        "\"textBody\":[{\"partId\":\"t\"}],"
        "\"bodyValues\":{\"t\":{\"value\":\"Hi Bob,\\nsee you.\\n\"}}}", &err);
    const char *d = bytes(m, &len);

    ok(m != NULL, "text-only email builds (ignored keys are ignored)");
    ok(crlf_clean(d, len), "text-only: CRLF everywhere");
    ok(contains(d, "\r\nContent-Type: text/plain; charset=utf-8\r\n"), "text/plain utf-8");
    ok(!contains(d, "Content-Transfer-Encoding: quoted")
       && !contains(d, "Content-Transfer-Encoding: base64"), "ASCII text stays 7bit");
    ok(contains(d, "\r\nMIME-Version: 1.0\r\n"), "MIME-Version added");
    ok(!strncmp(d, "Date: ", 6), "Date added first");
    ok(contains(d, "@Example.COM>\r\n") || contains(d, "@example.com>\r\n"),
       "Message-ID uses the From domain");
    ok(contains(d, "\r\n\r\nHi Bob,\r\nsee you.\r\n"), "body text with CRLF");
    ok(!contains(d, "mailboxIds") && !contains(d, "smimeSign"), "no metadata leaks");
}

static void test_html_alt_attach(void)
{
    json_t *err, *g;
    apr_size_t len, clen;
    const char *d, *content, *type;
    jm_mime_msg_t *m;

    m = build("{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"htmlBody\":[{\"partId\":\"h\"}],"
              "\"bodyValues\":{\"h\":{\"value\":\"<p>Hi</p>\"}}}", &err);
    d = bytes(m, &len);
    ok(m && contains(d, "Content-Type: text/html; charset=utf-8"), "html only");
    ok(!contains(d, "multipart/"), "html only: no multipart");

    m = build("{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"textBody\":[{\"partId\":\"t\"}],\"htmlBody\":[{\"partId\":\"h\"}],"
              "\"bodyValues\":{\"t\":{\"value\":\"Hi\"},\"h\":{\"value\":\"<p>Hi</p>\"}}}",
              &err);
    d = bytes(m, &len);
    ok(m && contains(d, "Content-Type: multipart/alternative"), "text+html: alternative");
    ok(crlf_clean(d, len), "alternative: CRLF everywhere");

    fetch_calls = 0;
    m = build("{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"subject\":\"Grüße aus Köln\","
              "\"to\":[{\"name\":\"Jörg Müller\",\"email\":\"j@example.de\"}],"
              "\"textBody\":[{\"partId\":\"t\"}],\"htmlBody\":[{\"partId\":\"h\"}],"
              "\"attachments\":[{\"blobId\":\"Bbin\",\"name\":\"Übersicht.bin\"},"
              "{\"blobId\":\"Btxt\",\"type\":\"image/png\",\"cid\":\"img1@x\","
              "\"disposition\":\"inline\"},"
              "{\"blobId\":\"Btxt\",\"type\":\"text/plain\",\"name\":\"notes.txt\"}],"
              "\"bodyValues\":{\"t\":{\"value\":\"Hi\"},"
              "\"h\":{\"value\":\"<p>Hi <img src=cid:img1@x></p>\"}}}", &err);
    d = bytes(m, &len);
    ok(m != NULL, "text+html+attachments builds");
    is_int(fetch_calls, 2, "fetch callback called once per distinct blob (Btxt twice)");
    ok(crlf_clean(d, len), "attachments: CRLF everywhere");
    ok(contains(d, "Content-Type: multipart/mixed"), "attachments: multipart/mixed");
    ok(contains(d, "Content-Type: multipart/related"), "cid inline part: multipart/related");
    ok(contains(d, "Subject: =?UTF-8?"), "non-ASCII subject → RFC 2047 encoded word");
    ok(contains(d, "To: =?UTF-8?"), "non-ASCII display name → encoded word");
    ok(contains(d, "filename*=UTF-8''%C3%9Cbersicht.bin"), "non-ASCII filename → RFC 2231");
    ok(contains(d, "Content-Type: application/octet-stream"), "default attachment type");
    ok(contains(d, "Content-Transfer-Encoding: base64"), "binary attachment → base64");
    ok(all_7bit(d, len), "whole message is 7-bit");

    g = get_props(d, len, "[\"subject\",\"to\",\"textBody\",\"htmlBody\","
                  "\"attachments\",\"bodyValues\",\"hasAttachment\",\"preview\","
                  "\"bodyStructure\"]", 0);
    is_str(jstr(g, "subject"), "Grüße aus Köln", "round trip: subject decoded");
    is_str(jstr(g, "to/0/name"), "Jörg Müller", "round trip: display name decoded");
    is_str(jstr(g, "to/0/email"), "j@example.de", "round trip: email");
    is_int(json_array_size(json_object_get(g, "textBody")), 1, "textBody has one part");
    is_str(jstr(g, "textBody/0/type"), "text/plain", "textBody is text/plain");
    is_str(jstr(g, "htmlBody/0/type"), "text/html", "htmlBody is text/html");
    is_int(json_array_size(json_object_get(g, "attachments")), 3, "three attachments");
    is_str(jstr(g, "attachments/0/type"), "image/png", "inline image listed (related)");
    is_str(jstr(g, "attachments/1/name"), "Übersicht.bin", "RFC 2231 name decoded");
    is_str(jstr(g, "attachments/1/size"), "11", "binary size after decoding");
    is_str(jstr(g, "attachments/2/name"), "notes.txt", "text attachment name");
    is_str(jstr(g, "hasAttachment"), "true", "hasAttachment");
    is_str(jstr(g, "preview"), "Hi", "preview");
    is_str(jstr(g, "bodyValues/1/value"), "Hi", "bodyValues text");
    is_str(jstr(g, "bodyStructure/type"), "multipart/mixed", "bodyStructure root");
    is_str(jstr(g, "bodyStructure/partId"), "null", "multipart has no partId");
    ok(jstr(g, "bodyStructure/subParts/0/subParts") != NULL, "nested subParts present");
    {
        const char *bid = jstr(g, "attachments/1/blobId");
        const char *pid = jstr(g, "attachments/1/partId");

        ok(bid && pid && !strcmp(bid, apr_pstrcat(pool, "Gmsg_", pid, NULL)),
           "part blobId is <blobId>_<partId>");
        ok(jm_mime_part_content(&content, &clen, &type, d, len, pid, 0, pool) == APR_SUCCESS
           && clen == sizeof(blob_bin) && !memcmp(content, blob_bin, clen),
           "jm_mime_part_content returns the exact attachment bytes");
        is_str(type, "application/octet-stream", "part content type");
        ok(jm_mime_part_content(&content, &clen, &type, d, len, "99", 0, pool)
           == APR_NOTFOUND, "unknown partId: APR_NOTFOUND");
    }
}

static void test_encodings_and_dates(void)
{
    json_t *err, *g;
    apr_size_t len;
    const char *d;
    char longline[3000];
    jm_mime_msg_t *m;

    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    m = build(apr_psprintf(pool,
              "{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"sentAt\":\"2021-07-10T11:03:11+10:00\","
              "\"messageId\":[\"abc.123@example.com\"],"
              "\"references\":[\"r1@x\",\"r2@x\"],"
              "\"header:X-Foo:asText\":\"bar baz\","
              "\"header:List-Post:asURLs\":[\"mailto:list@example.com\"],"
              "\"header:X-Multi:all\":[\" one\",\" two\"],"
              "\"textBody\":[{\"partId\":\"t\"}],"
              "\"bodyValues\":{\"t\":{\"value\":\"%s\"}}}", longline), &err);
    d = bytes(m, &len);
    ok(m != NULL, "long-line email builds");
    ok(crlf_clean(d, len), "long line: no line over 998, CRLF");
    ok(contains(d, "Content-Transfer-Encoding: quoted-printable"), "long line → QP");
    ok(contains(d, "Date: Sat, 10 Jul 2021 11:03:11 +1000\r\n"), "sentAt keeps its offset");
    ok(contains(d, "Message-ID: <abc.123@example.com>\r\n"), "given Message-ID kept");
    ok(contains(d, "References: <r1@x> <r2@x>\r\n"), "References written");
    ok(contains(d, "X-Multi: one\r\nX-Multi: two\r\n"), ":all gives one field each");

    g = get_props(d, len, "[\"sentAt\",\"messageId\",\"references\",\"header:X-Foo\","
                  "\"header:X-Foo:asText\",\"header:List-Post:asURLs\","
                  "\"header:x-multi:all\",\"bodyValues\",\"textBody\"]", 100);
    is_str(jstr(g, "sentAt"), "2021-07-10T11:03:11+10:00", "sentAt round trip");
    is_str(jstr(g, "messageId/0"), "abc.123@example.com", "messageId round trip");
    is_str(jstr(g, "references/1"), "r2@x", "references round trip");
    is_str(jstr(g, "header:X-Foo"), " bar baz", "raw form keeps the leading space");
    is_str(jstr(g, "header:X-Foo:asText"), "bar baz", "text form");
    is_str(jstr(g, "header:List-Post:asURLs/0"), "mailto:list@example.com", "URLs form");
    is_str(jstr(g, "header:x-multi:all"), "[\" one\",\" two\"]", ":all, case-insensitive");
    is_int(strlen(jstr(g, "bodyValues/1/value")), 100, "maxBodyValueBytes truncates");
    is_str(jstr(g, "bodyValues/1/isTruncated"), "true", "isTruncated set");

    /* truncation never splits a UTF-8 sequence */
    m = build("{\"from\":[{\"email\":\"a@example.com\"}],\"textBody\":[{\"partId\":\"t\"}],"
              "\"bodyValues\":{\"t\":{\"value\":\"aé€𝄞\"}}}", &err);
    d = bytes(m, &len);
    g = get_props(d, len, "[\"bodyValues\"]", 5);
    is_str(jstr(g, "bodyValues/1/value"), "aé", "truncation at a code point boundary");
    g = get_props(d, len, "[\"bodyValues\"]", 0);
    is_str(jstr(g, "bodyValues/1/value"), "aé€𝄞", "no limit: whole value");

    /* bodyStructure form, with the draft's header:Content-Language example */
    m = build("{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"bodyStructure\":{\"type\":\"multipart/mixed\",\"subParts\":["
              "{\"partId\":\"bd48\",\"header:Content-Language\":\"en\"},"
              "{\"blobId\":\"Bbin\",\"type\":\"application/x-thing\",\"name\":\"a.bin\","
              "\"language\":[\"de\"],\"location\":\"http://x.example/a\"}]},"
              "\"bodyValues\":{\"bd48\":{\"value\":\"I have the most brilliant plan.\"}}}",
              &err);
    d = bytes(m, &len);
    ok(m != NULL, "bodyStructure tree builds");
    ok(crlf_clean(d, len), "bodyStructure: CRLF everywhere (part headers too)");
    ok(contains(d, "Content-Language:en\r\n") || contains(d, "Content-Language: en\r\n"),
       "part header:Content-Language written");
    g = get_props(d, len, "[\"bodyStructure\",\"textBody\",\"attachments\"]", 0);
    is_str(jstr(g, "bodyStructure/subParts/0/type"), "text/plain", "default type text/plain");
    is_str(jstr(g, "bodyStructure/subParts/0/language/0"), "en", "language parsed");
    is_str(jstr(g, "bodyStructure/subParts/1/language/0"), "de", "language from property");
    is_str(jstr(g, "bodyStructure/subParts/1/location"), "http://x.example/a", "location");
    is_str(jstr(g, "attachments/0/name"), "a.bin", "blob part is an attachment");
    is_str(jstr(g, "textBody/0/partId"), "1", "textBody points at part 1");

    m = build("{\"from\":[{\"email\":\"a@example.com\"}],"
              "\"textBody\":[{\"blobId\":\"Btxt\"}]}", &err);
    d = bytes(m, &len);
    ok(contains(d, "Content-Type: text/plain"), "textBody blob defaults to text/plain");
    ok(contains(d, "\r\n\r\nplain attachment\r\nline two\r\n"),
       "CRLF text blob is not doubled to CR CR LF");
}

/* ---------------------------------------------------------------------- */
/* bad input                                                                */

#define FROM "\"from\":[{\"email\":\"a@example.com\"}],"
#define TXT "\"textBody\":[{\"partId\":\"t\"}],\"bodyValues\":{\"t\":{\"value\":\"x\"}}"

static void test_invalid(void)
{
    json_t *err;
    jm_mime_msg_t *m;

    expect_invalid("{" FROM "\"to\":{\"email\":\"b@x.org\"}," TXT "}", "[\"to\"]",
                   "non-array to");
    expect_invalid("{" FROM "\"to\":[{\"email\":\"bob.example.org\"}]," TXT "}",
                   "[\"to/0/email\"]", "email without @");
    expect_invalid("{" FROM "\"to\":[{\"email\":\"b@x.org\\r\\nBcc: evil@x.org\"}]," TXT "}",
                   "[\"to/0/email\"]", "CR/LF in an email address");
    expect_invalid("{" FROM "\"subject\":\"hi\\r\\nBcc: evil@x.org\"," TXT "}",
                   "[\"subject\"]", "CR/LF in subject");
    expect_invalid("{" FROM "\"subject\":\"hi\\nthere\"," TXT "}",
                   "[\"subject\"]", "bare LF in subject");
    expect_invalid("{" FROM "\"header:X-Foo\":\"a\\r\\nBcc: evil@x.org\"," TXT "}",
                   "[\"header:X-Foo\"]", "CR/LF in header:X-Foo");
    expect_invalid("{" FROM "\"header:X-Foo:asText\":\"a\\rb\"," TXT "}",
                   "[\"header:X-Foo:asText\"]", "CR in header:X-Foo:asText");
    expect_invalid("{\"from\":[{\"name\":\"Eve\\r\\nBcc: x@y.org\",\"email\":\"e@x.org\"}],"
                   TXT "}", "[\"from/0/name\"]", "CR/LF in display name");
    expect_invalid("{" FROM "\"header:From:asAddresses\":[{\"email\":\"b@x.org\"}]," TXT "}",
                   "[\"header:From:asAddresses\"]", "same header twice (from + header:From)");
    expect_invalid("{" FROM "\"headers\":[{\"name\":\"from\",\"value\":\" x@y.org\"}]," TXT "}",
                   "[\"headers/0\"]", "same header twice (from + headers)");
    expect_invalid("{" FROM "\"header:Content-Type\":\"text/html\"," TXT "}",
                   "[\"header:Content-Type\"]", "Content-* at the top level");
    expect_invalid("{" FROM "\"headers\":[{\"name\":\"Content-Type\",\"value\":\" x/y\"}],"
                   TXT "}", "[\"headers/0/name\"]", "Content-* via headers");
    expect_invalid("{" FROM "\"header:X Foo\":\"v\"," TXT "}", "[\"header:X Foo\"]",
                   "header name with a space (not ftext)");
    expect_invalid("{" FROM "\"header:From:asDate\":\"2021-07-10T11:03:11Z\"," TXT "}",
                   "[\"header:From:asDate\"]", "form forbidden for the field");
    expect_invalid("{" FROM "\"header:X-Foo:asBogus\":\"v\"," TXT "}",
                   "[\"header:X-Foo:asBogus\"]", "unknown form");
    expect_invalid("{" FROM "\"sentAt\":\"yesterday\"," TXT "}", "[\"sentAt\"]",
                   "bad sentAt");
    expect_invalid("{" FROM "\"bodyStructure\":{\"partId\":\"t\"}," TXT "}",
                   "[\"bodyStructure\"]", "bodyStructure and textBody together");
    expect_invalid("{" FROM "\"fooBar\":1," TXT "}", "[\"fooBar\"]", "unknown property");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"zz\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"textBody/0/partId\"]", "partId without a bodyValues entry");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\",\"isTruncated\":true}}}",
                   "[\"bodyValues/t/isTruncated\"]", "bodyValues isTruncated true");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\",\"isEncodingProblem\":true}}}",
                   "[\"bodyValues/t/isEncodingProblem\"]", "isEncodingProblem true");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\",\"blobId\":\"Bbin\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"textBody/0/partId\"]", "partId and blobId together");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\"},{\"partId\":\"t\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"textBody\"]", "two textBody parts");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\",\"type\":\"text/html\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"textBody/0/type\"]", "textBody of type text/html");
    expect_invalid("{" FROM "\"textBody\":[{\"partId\":\"t\",\"charset\":\"latin1\"}],"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"textBody/0/charset\"]", "charset with partId");
    expect_invalid("{" FROM "\"bodyStructure\":{\"partId\":\"t\","
                   "\"header:Content-Transfer-Encoding\":\"base64\"},"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"bodyStructure/header:Content-Transfer-Encoding\"]",
                   "Content-Transfer-Encoding on a part");
    expect_invalid("{\"subject\":\"s\",\"bodyStructure\":{\"partId\":\"t\","
                   "\"header:Subject\":\" again\"},"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"bodyStructure/header:Subject\"]",
                   "root part repeats a top-level header");
    expect_invalid("{" FROM "\"bodyStructure\":{\"type\":\"text/plain\","
                   "\"subParts\":[{\"partId\":\"t\"}]},\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"bodyStructure/type\"]", "subParts on a non-multipart");
    expect_invalid("{" FROM "\"bodyStructure\":{\"partId\":\"t\",\"bogus\":1},"
                   "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
                   "[\"bodyStructure/bogus\"]", "unknown part property");
    expect_invalid("{" FROM "\"messageId\":[\"<with@brackets>\"]," TXT "}",
                   "[\"messageId/0\"]", "messageId with angle brackets");

    m = build("{" FROM "\"attachments\":[{\"blobId\":\"nope\"},{\"blobId\":\"Bbin\"},"
              "{\"blobId\":\"nope2\"}]," TXT "}", &err);
    ok(m == NULL, "missing blob rejected");
    is_str(jstr(err, "type"), "blobNotFound", "blobNotFound SetError");
    is_str(jstr(err, "notFound"), "[\"nope\",\"nope2\"]", "notFound lists every missing blob");

    m = build("{" FROM "\"attachments\":[{\"blobId\":\"Bfail\"}]," TXT "}", &err);
    ok(m == NULL && err && !strcmp(jstr(err, "type"), "serverFail"),
       "blob store failure is not a SetError");
}

/* ---------------------------------------------------------------------- */
/* Email/get on foreign messages                                            */

static void test_get_foreign(void)
{
    static const char raw[] =
        "From: \"  James Smythe\" <james@example.com>\r\n"
        "To: Friends: jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=\r\n"
        "  <john@example.com>;, solo@example.com\r\n"
        "Subject: =?ISO-8859-1?Q?Caf=E9?= time\r\n"
        "Date: Thu, 13 Oct 2013 14:12:00 -0700\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
        " micalg=sha-256; boundary=\"b1\"\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Caf=E9 au lait\r\n"
        "--b1\r\n"
        "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=smime.p7s\r\n"
        "\r\n"
        "AAEC\r\n"
        "--b1--\r\n";
    static const char opaque[] =
        "From: a@example.com\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=smime.p7m\r\n"
        "\r\n"
        "AAEC\r\n";
    json_t *g;
    jm_email_view_opts_t o;
    const char *bad = NULL;
    json_t *out;

    g = get_props(raw, sizeof(raw) - 1, "[\"from\",\"to\",\"header:To:asGroupedAddresses\","
                  "\"subject\",\"sentAt\",\"textBody\",\"attachments\",\"bodyValues\","
                  "\"hasAttachment\",\"headers\",\"preview\"]", 0);
    is_str(jstr(g, "from/0/name"), "James Smythe", "quoted name trimmed (RFC 8621 example)");
    is_int(json_array_size(json_object_get(g, "to")), 3, "group members flattened");
    is_str(jstr(g, "to/1/name"), "John Smîth", "encoded-word name decoded");
    is_str(jstr(g, "header:To:asGroupedAddresses/0/name"), "Friends", "group name");
    is_str(jstr(g, "header:To:asGroupedAddresses/1/name"), "null", "ungrouped → null");
    is_str(jstr(g, "subject"), "Café time", "ISO-8859-1 encoded word decoded");
    is_str(jstr(g, "sentAt"), "2013-10-13T14:12:00-07:00", "sentAt with negative offset");
    is_str(jstr(g, "bodyValues/1/value"), "Café au lait", "charset converted");
    is_str(jstr(g, "attachments/0/type"), "application/pkcs7-signature",
           "signature part is an attachment");
    is_str(jstr(g, "headers/1/value"),
           " Friends: jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=\r\n"
           "  <john@example.com>;, solo@example.com", "raw header value exact");
    is_str(jstr(g, "preview"), "Café au lait", "preview");

    g = get_props(opaque, sizeof(opaque) - 1, "[\"textBody\",\"attachments\","
                  "\"hasAttachment\"]", 0);
    is_int(json_array_size(json_object_get(g, "textBody")), 0, "opaque: no text body");
    is_str(jstr(g, "attachments/0/name"), "smime.p7m", "opaque: smime.p7m is an attachment");
    is_str(jstr(g, "hasAttachment"), "true", "opaque: hasAttachment");

    memset(&o, 0, sizeof(o));
    o.properties = jm_json_own(pool, json_loads("[\"subject\",\"bogus\"]", 0, NULL));
    ok(jm_email_view_props(&out, raw, sizeof(raw) - 1, &o, &bad, pool) == APR_EINVAL,
       "unknown property: APR_EINVAL");
    is_str(bad, "bogus", "pbad names it");
    o.properties = jm_json_own(pool, json_loads("[\"header:From:asDate\"]", 0, NULL));
    ok(jm_email_view_props(&out, raw, sizeof(raw) - 1, &o, &bad, pool) == APR_EINVAL,
       "forbidden form header:From:asDate: APR_EINVAL");
    o.properties = jm_json_own(pool, json_loads("[\"id\",\"subject\"]", 0, NULL));
    o.body_properties = jm_json_own(pool, json_loads("[\"partId\",\"nope\"]", 0, NULL));
    ok(jm_email_view_props(&out, raw, sizeof(raw) - 1, &o, &bad, pool) == APR_EINVAL
       && !strcmp(bad, "nope"), "unknown body property: APR_EINVAL");
    o.body_properties = NULL;
    ok(jm_email_view_props(&out, raw, sizeof(raw) - 1, &o, &bad, pool) == APR_SUCCESS
       && !json_object_get(out, "id") && json_object_get(out, "subject"),
       "metadata names accepted and left to the caller");
}

/* ---------------------------------------------------------------------- */
/* signer and recipients                                                    */

static void expect_signer(const char *json, const char *want, const char *what)
{
    json_t *err;
    jm_mime_msg_t *m = build(json, &err);
    const char *addr = NULL;
    json_t *serr = NULL;
    apr_status_t rv;

    if (!m) {
        ok(0, "%s: build failed: %s", what, err_props(err));
        ok(0, "%s", what);
        return;
    }
    rv = jm_mime_signer_address(&addr, m, &serr, pool);
    if (want) {
        ok(rv == APR_SUCCESS, "%s: accepted", what);
        is_str(addr, want, what);
    }
    else {
        ok(rv == APR_EINVAL, "%s: rejected", what);
        is_str(jstr(serr, "type"), "invalidEmail", apr_psprintf(pool, "%s: invalidEmail", what));
    }
}

static void test_signer_recipients(void)
{
    json_t *err;
    jm_mime_msg_t *m;
    apr_array_header_t *r;

    expect_signer("{\"from\":[{\"email\":\"Alice@EXAMPLE.com\"}]," TXT "}",
                  "Alice@example.com", "From only (domain lower-cased)");
    expect_signer("{\"from\":[{\"email\":\"a@example.com\"},{\"email\":\"b@example.com\"}],"
                  "\"sender\":[{\"email\":\"s@example.com\"}]," TXT "}",
                  "s@example.com", "Sender overrides From");
    expect_signer("{\"headers\":[{\"name\":\"From\",\"value\":\" a@example.com\"},"
                  "{\"name\":\"From\",\"value\":\" b@example.com\"}]," TXT "}",
                  NULL, "two From fields");
    expect_signer("{\"from\":[{\"email\":\"a@example.com\"},{\"email\":\"b@example.com\"}],"
                  TXT "}", NULL, "From with two addresses, no Sender");
    expect_signer("{\"to\":[{\"email\":\"a@example.com\"}]," TXT "}", NULL, "no From");
    expect_signer("{\"header:From:asGroupedAddresses\":[{\"name\":\"G\",\"addresses\":["
                  "{\"email\":\"a@example.com\"},{\"email\":\"b@example.com\"}]}]," TXT "}",
                  NULL, "group with two members counts two");
    expect_signer("{\"from\":[{\"email\":\"a@example.com\"}],\"headers\":["
                  "{\"name\":\"Sender\",\"value\":\" s1@example.com\"},"
                  "{\"name\":\"Sender\",\"value\":\" s2@example.com\"}]," TXT "}",
                  NULL, "two Sender fields");

    m = build("{" FROM "\"to\":[{\"email\":\"x@example.com\"},{\"email\":\"y@example.com\"}],"
              "\"cc\":[{\"email\":\"X@Example.com\"}],"
              "\"header:Bcc:asGroupedAddresses\":[{\"name\":\"G\",\"addresses\":["
              "{\"email\":\"z@example.com\"}]}]," TXT "}", &err);
    r = m ? jm_mime_recipients(m, pool) : NULL;
    ok(r && r->nelts == 3, "recipients deduplicated case-insensitively");
    ok(r && r->nelts == 3 && !strcmp(APR_ARRAY_IDX(r, 0, const char *), "x@example.com")
       && !strcmp(APR_ARRAY_IDX(r, 1, const char *), "y@example.com")
       && !strcmp(APR_ARRAY_IDX(r, 2, const char *), "z@example.com"),
       "recipients in order, Bcc group members included");
    ok(m && jm_mime_gmime(m, pool) != NULL, "jm_mime_gmime gives the parsed message");
}

/* ---------------------------------------------------------------------- */
/* S/MIME                                                                   */

static const char *tpath(const char *name)
{
    return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

/* Run a shell command inside tmpdir (scratch.h); exit code. */
#define sh(...) scratch_sh(tmpdir, __VA_ARGS__)

static int spit(const char *name, const char *data, apr_size_t len)
{
    FILE *f = fopen(tpath(name), "wb");
    int ok_ = f && fwrite(data, 1, len, f) == len;

    if (f) {
        fclose(f);
    }
    return ok_;
}

static char *slurp(const char *name, apr_size_t *plen)
{
    FILE *f = fopen(tpath(name), "rb");
    char *buf;
    long n;

    *plen = 0;
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = apr_palloc(pool, n + 1);
    *plen = fread(buf, 1, n, f);
    buf[*plen] = '\0';
    fclose(f);
    return buf;
}

static int make_pki(void)
{
    const char *ext = "-extfile ext.cnf -extensions usr";

    return sh("printf '[usr]\\nbasicConstraints=CA:FALSE\\n"
              "keyUsage=digitalSignature,keyEncipherment\\n"
              "extendedKeyUsage=emailProtection\\nsubjectAltName=email:copy\\n' > ext.cnf")
        || sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key "
              "-out ca.pem -subj '/CN=Test CA' -addext basicConstraints=critical,CA:TRUE "
              "-addext keyUsage=keyCertSign,cRLSign")
        || sh("for u in alice bob; do openssl req -newkey rsa:2048 -nodes -keyout $u.key "
              "-out $u.csr -subj \"/CN=$u/emailAddress=$u@example.com\" && "
              "openssl x509 -req -in $u.csr -CA ca.pem -CAkey ca.key "
              "-CAcreateserial -days 2 -out $u.pem %s || exit 1; done", ext);
}

static X509 *load_cert(const char *name)
{
    FILE *f = fopen(tpath(name), "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f) {
        fclose(f);
    }
    return x ? jm_cms_own_x509(x, pool) : NULL;
}

static apr_status_t pkey_cleanup(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static EVP_PKEY *load_key(const char *name)
{
    FILE *f = fopen(tpath(name), "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f) {
        fclose(f);
    }
    return k;
}

/* Header section of bytes (up to the blank line), as a string. */
static const char *head_of(const char *d)
{
    const char *e = strstr(d, "\r\n\r\n");
    return e ? apr_pstrndup(pool, d, e - d + 2) : d;
}

static const char *hp_msg_json =
    "{\"from\":[{\"name\":\"Alice\",\"email\":\"alice@example.com\"}],"
    "\"to\":[{\"email\":\"bob@example.com\"}],"
    "\"bcc\":[{\"email\":\"secret-bcc@example.com\"}],"
    "\"subject\":\"Dinner plans für heute\","
    "\"header:Keywords\":\" private\","
    "\"header:User-Agent\":\" test MUA\","
    "\"textBody\":[{\"partId\":\"t\"}],\"htmlBody\":[{\"partId\":\"h\"}],"
    "\"bodyValues\":{\"t\":{\"value\":\"Grüße, let's meet at 8.\\n\"},"
    "\"h\":{\"value\":\"<html><body><p>Grüße</p></body></html>\"}}}";

static void test_smime(void)
{
    jm_signer_t *signer = NULL;
    STACK_OF(X509) *recips;
    X509 *alice, *bob;
    EVP_PKEY *akey;
    jm_smime_opts_t o;
    jm_cms_err_t cerr;
    json_t *err;
    jm_mime_msg_t *m;
    const char *out, *inner, *first;
    apr_size_t olen, ilen;
    int rc;

    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("ok %d # skip openssl CLI not found\n", ++tap_n);
        return;
    }
    if (!mkdtemp(tmpdir) || make_pki()) {
        ok(0, "test PKI created in %s", tmpdir);
        return;
    }
    alice = load_cert("alice.pem");
    bob = load_cert("bob.pem");
    akey = load_key("alice.key");
    ok(alice && bob && akey, "test certificates loaded");
    if (!alice || !bob || !akey) {
        return;
    }
    apr_pool_cleanup_register(pool, akey, pkey_cleanup, apr_pool_cleanup_null);
    ok(jm_cms_signer_make(&signer, akey, alice, NULL, JM_CMS_SIG_RSA_PKCS1, pool)
       == APR_SUCCESS, "signer made");
    recips = sk_X509_new_null();
    sk_X509_push(recips, alice);
    sk_X509_push(recips, bob);

    m = build(hp_msg_json, &err);
    ok(m != NULL, "S/MIME test message builds");
    if (!m || !signer) {
        sk_X509_free(recips);
        return;
    }
    memset(&o, 0, sizeof(o));
    o.signer = signer;
    o.recips = recips;
    o.enc.cipher = JM_CMS_AES256_GCM;
    o.enc.rsa_padding = JM_CMS_KT_RSA_OAEP;
    o.header_protect = 1;

    /* 1. opaque signed, header protection: hp="clear" */
    o.sign = 1;
    o.sign_opaque = 1;
    rc = jm_smime_protect(&out, &olen, m, &o, &cerr, pool);
    ok(rc == APR_SUCCESS, "opaque sign: protect succeeds %s", rc ? cerr.text : "");
    if (rc == APR_SUCCESS) {
        ok(crlf_clean(out, olen), "opaque sign: CRLF everywhere");
        ok(contains(head_of(out), "smime-type=signed-data; name=smime.p7m"),
           "opaque sign: application/pkcs7-mime signed-data");
        ok(contains(head_of(out), "Subject: Dinner") || contains(head_of(out), "Subject: =?"),
           "signed only: outer Subject unchanged");
        ok(contains(head_of(out), "Bcc: secret-bcc@example.com"), "draft keeps Bcc outside");
        spit("s1.eml", out, olen);
        is_int(sh("openssl cms -verify -in s1.eml -CAfile ca.pem -out s1.txt"), 0,
               "opaque sign: openssl cms -verify succeeds");
        inner = slurp("s1.txt", &ilen);
        ok(contains(inner, "hp=\"clear\""), "payload Content-Type has hp=\"clear\"");
        ok(contains(inner, "\r\nSubject: ") || !strncmp(inner ? inner : "", "Subject: ", 9)
           || contains(inner, "Subject:"), "payload carries Subject");
        ok(contains(inner, "From: Alice <alice@example.com>"), "payload carries From");
        ok(!contains(inner, "secret-bcc"), "no Bcc inside the payload");
        ok(!contains(inner, "HP-Outer"), "signed only: no HP-Outer lines");
    }

    /* 2. detached (multipart/signed) */
    o.sign_opaque = 0;
    m = build(hp_msg_json, &err);     /* protect encodes the tree in place */
    rc = jm_smime_protect(&out, &olen, m, &o, &cerr, pool);
    ok(rc == APR_SUCCESS, "detached sign: protect succeeds %s", rc ? cerr.text : "");
    if (rc == APR_SUCCESS) {
        const char *b, *bnd, *e;

        ok(crlf_clean(out, olen), "detached: CRLF everywhere");
        ok(contains(out, "multipart/signed; protocol=\"application/pkcs7-signature\""),
           "multipart/signed with quoted protocol");
        ok(contains(out, "micalg=sha-256"), "micalg from the signer");
        ok(all_7bit(out, olen), "detached: whole message 7-bit (§3.1.3)");
        spit("s2.eml", out, olen);
        is_int(sh("openssl cms -verify -in s2.eml -CAfile ca.pem -out s2.txt"), 0,
               "detached: openssl cms -verify succeeds");
        /* extract the first part byte-exactly and verify the DER over it */
        b = strstr(out, "boundary=\"");
        bnd = b ? apr_pstrndup(pool, b + 10, strchr(b + 10, '"') - b - 10) : "";
        first = strstr(out, apr_pstrcat(pool, "\r\n--", bnd, "\r\n", NULL));
        if (first) {
            first += strlen(bnd) + 6;
            e = strstr(first, apr_pstrcat(pool, "\r\n--", bnd, "\r\n", NULL));
            spit("s2.part", first, e ? (apr_size_t)(e - first) : 0);
            sh("openssl smime -pk7out -in s2.eml | openssl pkcs7 -outform DER -out s2.p7s");
            is_int(sh("openssl cms -verify -binary -inform DER -in s2.p7s -content s2.part "
                      "-CAfile ca.pem -out /dev/null"), 0,
                   "signature verifies over the exact first part bytes");
            ok(contains(first, "hp=\"clear\""), "first part carries hp=\"clear\"");
            ok(!contains(first, "secret-bcc"), "first part has no Bcc");
        }
        else {
            ok(0, "first part found");
        }
    }

    /* 3. encrypt only: hp="cipher", HP-Outer, outer Subject [...] */
    o.sign = 0;
    o.encrypt = 1;
    m = build(hp_msg_json, &err);     /* protect encodes the tree in place */
    rc = jm_smime_protect(&out, &olen, m, &o, &cerr, pool);
    ok(rc == APR_SUCCESS, "encrypt: protect succeeds %s", rc ? cerr.text : "");
    if (rc == APR_SUCCESS) {
        const char *h = head_of(out);

        ok(crlf_clean(out, olen), "encrypt: CRLF everywhere");
        ok(contains(h, "smime-type=authEnveloped-data"), "AES-GCM: authEnveloped-data");
        ok(contains(h, "\r\nSubject: [...]\r\n") || !strncmp(h, "Subject: [...]", 14),
           "outer Subject is [...]");
        ok(!contains(h, "Keywords"), "hcp_baseline removes Keywords outside");
        ok(contains(h, "User-Agent: test MUA"), "other fields kept outside");
        spit("e3.eml", out, olen);
        is_int(sh("openssl cms -decrypt -in e3.eml -recip bob.pem -inkey bob.key -out e3.txt"),
               0, "encrypt: bob decrypts");
        inner = slurp("e3.txt", &ilen);
        ok(contains(inner, "hp=\"cipher\""), "payload has hp=\"cipher\"");
        ok(contains(inner, "HP-Outer: Subject: [...]\r\n"), "HP-Outer: Subject: [...]");
        ok(contains(inner, "HP-Outer: From: Alice <alice@example.com>\r\n"),
           "HP-Outer for From");
        ok(!contains(inner, "HP-Outer: Keywords"), "no HP-Outer for a removed field");
        ok(contains(inner, "\r\nKeywords: private\r\n") || contains(inner, "Keywords: private"),
           "Keywords protected inside");
        ok(!contains(inner, "secret-bcc") && !contains(inner, "HP-Outer: Bcc"),
           "no Bcc inside, no HP-Outer for Bcc");
        ok(contains(inner, "Subject: =?UTF-8?") || contains(inner, "Subject: Dinner"),
           "real Subject inside");
        ok(!contains(inner, "hp-legacy-display"), "no legacy display unless asked");
        is_int(sh("openssl cms -decrypt -in e3.eml -recip alice.pem -inkey alice.key "
                  "-out /dev/null"), 0, "the sender can decrypt too");
    }

    /* 4. sign then encrypt, with legacy display */
    o.sign = 1;
    o.sign_opaque = 0;
    o.legacy_display = 1;
    o.enc.cipher = JM_CMS_AES256_CBC;
    m = build(hp_msg_json, &err);     /* protect encodes the tree in place */
    rc = jm_smime_protect(&out, &olen, m, &o, &cerr, pool);
    ok(rc == APR_SUCCESS, "sign+encrypt: protect succeeds %s", rc ? cerr.text : "");
    if (rc == APR_SUCCESS) {
        ok(contains(head_of(out), "smime-type=enveloped-data"), "AES-CBC: enveloped-data");
        spit("e4.eml", out, olen);
        is_int(sh("openssl cms -decrypt -in e4.eml -recip bob.pem -inkey bob.key -out e4.sig"),
               0, "sign+encrypt: bob decrypts");
        is_int(sh("openssl cms -verify -in e4.sig -CAfile ca.pem -out e4.txt"), 0,
               "sign+encrypt: inner signature verifies");
        inner = slurp("e4.txt", &ilen);
        ok(contains(inner, "hp=\"cipher\""), "signed+encrypted payload: hp=\"cipher\"");
        ok(contains(inner, "hp-legacy-display=1") || contains(inner, "hp-legacy-display=\"1\""),
           "legacy display parameter on the text parts");
        {
            json_t *g = get_props(inner, ilen, "[\"bodyValues\"]", 0);
            const char *t = jstr(g, "bodyValues/1/value");
            const char *h = jstr(g, "bodyValues/2/value");

            ok(t && !strncmp(t, "Subject: Dinner plans für heute\n\nGrüße", 40),
               "text/plain starts with the legacy Subject line");
            ok(contains(h, "<body>\n<div class=\"header-protection-legacy-display\">"),
               "text/html gets the legacy div after <body>");
        }
    }

    /* 5. headerProtect false: no copy, outer untouched */
    o.header_protect = 0;
    o.legacy_display = 0;
    o.sign = 0;
    m = build(hp_msg_json, &err);     /* protect encodes the tree in place */
    rc = jm_smime_protect(&out, &olen, m, &o, &cerr, pool);
    ok(rc == APR_SUCCESS, "encrypt without HP succeeds");
    if (rc == APR_SUCCESS) {
        ok(!contains(head_of(out), "[...]"), "no HP: outer Subject unchanged");
        ok(contains(head_of(out), "Keywords: private"), "no HP: Keywords kept outside");
        spit("e5.eml", out, olen);
        sh("openssl cms -decrypt -in e5.eml -recip bob.pem -inkey bob.key -out e5.txt");
        inner = slurp("e5.txt", &ilen);
        ok(inner && !contains(inner, "hp=") && !contains(inner, "From:"),
           "no HP: nothing copied into the payload");
    }

    /* 6. an 8bit stored draft is made 7-bit before detached signing */
    {
        static const char eightbit[] =
            "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: 8bit\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f dich\r\n";
        jm_mime_msg_t *m8 = NULL;

        ok(jm_mime_msg_from_bytes(&m8, eightbit, sizeof(eightbit) - 1, pool)
           == APR_SUCCESS, "8bit draft wrapped");
        o.header_protect = 1;
        o.sign = 1;
        o.encrypt = 0;
        o.sign_opaque = 0;
        rc = m8 ? jm_smime_protect(&out, &olen, m8, &o, &cerr, pool) : APR_EGENERAL;
        ok(rc == APR_SUCCESS && all_7bit(out, olen),
           "8bit body re-encoded to 7-bit before signing (RFC 8551 §3.1.3)");
        if (rc == APR_SUCCESS) {
            json_t *g;

            spit("s6.eml", out, olen);
            is_int(sh("openssl cms -verify -in s6.eml -CAfile ca.pem -out s6.txt"), 0,
                   "re-encoded message verifies");
            inner = slurp("s6.txt", &ilen);
            g = inner ? get_props(inner, ilen, "[\"bodyValues\",\"subject\"]", 0) : NULL;
            is_str(jstr(g, "bodyValues/1/value"), "Grüß dich\n", "content survives re-encoding");
            is_str(jstr(g, "subject"), "8bit", "protected Subject inside");
        }
    }

    /* 7. a header set on the bodyStructure root is a message header: it is
     * protected like the others */
    m = build("{\"from\":[{\"email\":\"alice@example.com\"}],"
              "\"bodyStructure\":{\"partId\":\"t\",\"header:X-Root\":\" rootval\"},"
              "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}", &err);
    o.encrypt = 1;
    o.sign = 0;
    rc = m ? jm_smime_protect(&out, &olen, m, &o, &cerr, pool) : APR_EGENERAL;
    ok(rc == APR_SUCCESS, "root-part header message protected");
    if (rc == APR_SUCCESS) {
        spit("e7.eml", out, olen);
        sh("openssl cms -decrypt -in e7.eml -recip bob.pem -inkey bob.key -out e7.txt");
        inner = slurp("e7.txt", &ilen);
        ok(contains(inner, "X-Root: rootval\r\n")
           && contains(inner, "HP-Outer: X-Root: rootval\r\n"),
           "root-part header copied and recorded in HP-Outer");
    }

    /* 8. bad arguments */
    o.sign = 1;
    o.signer = NULL;
    ok(jm_smime_protect(&out, &olen, m, &o, &cerr, pool) == APR_EINVAL,
       "sign without a signer: APR_EINVAL");
    sk_X509_free(recips);
}

/* The fields the S/MIME layer reads (msg->hdrs) are exactly what a parse
 * of the stored bytes finds, folded and encoded ones included. */
static void test_fields_as_stored(void)
{
    static const char *const cases[] = {
        "{\"from\":[{\"name\":\"Jörg Müller-Lüdenscheidt\",\"email\":\"joerg@example.com\"}],"
        "\"to\":[{\"name\":\"A\",\"email\":\"a@example.com\"},{\"name\":\"B, the second\","
        "\"email\":\"b@example.com\"},{\"email\":\"c@example.com\"},{\"name\":\"Døn\","
        "\"email\":\"d@example.com\"},{\"email\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeee@example.com\"}],"
        "\"subject\":\"Ein sehr langer Betreff über die Pläne für das nächste Quartal, der "
        "gefaltet werden muss, weil er länger als achtundsiebzig Zeichen ist\","
        "\"headers\":[{\"name\":\"X-Custom\",\"value\":\" plain value\"}],"
        "\"header:X-Note:asText\":\"grüße\",\"keywords\":{\"$draft\":true},"
        "\"textBody\":[{\"partId\":\"t\"}],\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
        "{\"from\":[{\"email\":\"alice@example.com\"}],\"sender\":[{\"email\":\"s@example.com\"}],"
        "\"bodyStructure\":{\"partId\":\"t\",\"header:X-Root\":\" rootval\"},"
        "\"bodyValues\":{\"t\":{\"value\":\"x\"}}}",
        NULL
    };
    int c, i;

    for (c = 0; cases[c]; ++c) {
        json_t *err = NULL;
        jm_mime_msg_t *m = build(cases[c], &err), *back = NULL;
        int same;

        ok(m && jm_mime_msg_from_bytes(&back, m->data, m->len, pool) == APR_SUCCESS,
           "case %d builds and parses back", c);
        if (!m || !back) {
            continue;
        }
        same = m->hdrs->nelts == back->hdrs->nelts;
        for (i = 0; same && i < m->hdrs->nelts; ++i) {
            jm_hdr_t *a = &APR_ARRAY_IDX(m->hdrs, i, jm_hdr_t);
            jm_hdr_t *b = &APR_ARRAY_IDX(back->hdrs, i, jm_hdr_t);
            same = !strcmp(a->name, b->name) && !strcmp(a->raw, b->raw);
            if (!same) {
                diag("field %d: built %s:%s / parsed %s:%s", i, a->name, a->raw,
                     b->name, b->raw);
            }
        }
        ok(same, "case %d: %d fields, byte for byte those a parse of the stored "
           "message finds", c, m->hdrs->nelts);
    }
}

/* Reading hostile nesting: a stored message of n nested multiparts. */
static const char *nested_message(int n, apr_size_t *plen)
{
    apr_array_header_t *a = apr_array_make(pool, 2 * n + 4, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(a, const char *) = "From: a@example.com\r\nSubject: deep\r\n"
                                      "MIME-Version: 1.0\r\n";
    for (i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(pool,
            "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    }
    APR_ARRAY_PUSH(a, const char *) = "Content-Type: text/plain\r\n\r\ninnermost\r\n";
    for (i = n - 1; i >= 0; --i) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(pool, "--b%d--\r\n", i);
    }
    {
        const char *m = apr_array_pstrcat(pool, a, 0);
        *plen = strlen(m);
        return m;
    }
}

static int depth_of(json_t *part)
{
    int d = 1;

    while (json_array_size(json_object_get(part, "subParts")) > 0) {
        part = json_array_get(json_object_get(part, "subParts"), 0);
        ++d;
    }
    return d;
}

static void test_read_nesting(void)
{
    apr_size_t len;
    const char *m = nested_message(10, &len);
    json_t *j = get_props(m, len, "[\"bodyStructure\",\"textBody\"]", 0);
    json_t *leaf;

    is_int(depth_of(json_object_get(j, "bodyStructure")), 11,
           "10 nested multiparts and a text part are read as they are");
    is_str(jstr(j, "textBody/0/type"), "text/plain", "the innermost text is the text body");
    m = nested_message(30, &len);
    j = get_props(m, len, "[\"bodyStructure\"]", 0);
    is_int(depth_of(json_object_get(j, "bodyStructure")), 20,
           "30 nested multiparts: read 20 deep (the default JMAPMaxMimeDepth)");
    leaf = json_object_get(j, "bodyStructure");
    while (json_array_size(json_object_get(leaf, "subParts")) > 0) {
        leaf = json_array_get(json_object_get(leaf, "subParts"), 0);
    }
    is_str(json_string_value(json_object_get(leaf, "type")), "application/octet-stream",
           "the rest is one opaque part");
    ok(json_string_value(json_object_get(leaf, "blobId")) != NULL, "that can be downloaded");
    {
        const char *content, *type;
        apr_size_t clen;
        const char *pid = json_string_value(json_object_get(leaf, "partId"));
        ok(pid && jm_mime_part_content(&content, &clen, &type, m, len, pid, 0, pool)
           == APR_SUCCESS, "its part id downloads");
        is_int(clen, json_integer_value(json_object_get(leaf, "size")),
               "and its size is the downloaded length (CRLF counted)");
    }
    /* 100,000 levels (7 MB): GMime would compare every "--" line with every
     * open boundary (13 s here); past 100 declarations they are inert */
    m = nested_message(100000, &len);
    j = get_props(m, len, "[\"bodyStructure\",\"preview\",\"hasAttachment\"]", 0);
    ok(j != NULL, "100,000 nested multiparts are read");
    is_int(depth_of(json_object_get(j, "bodyStructure")), 20, "still 20 deep");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    jm_mime_global_init();

    test_text_only();
    test_html_alt_attach();
    test_encodings_and_dates();
    test_invalid();
    test_get_foreign();
    test_signer_recipients();
    test_fields_as_stored();
    test_limits();
    test_read_nesting();
    test_smime();

    if (tmpdir[strlen(tmpdir) - 1] != 'X' && !getenv("JM_TEST_KEEP")) {
        sh("rm -rf '%s'", tmpdir);
    }
    apr_pool_destroy(pool);
    return done_testing();
}
