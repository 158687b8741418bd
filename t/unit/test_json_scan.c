/* Unit tests: the bounded JSON scanner (core/jm_json_scan.h) against
 * jansson, and raw answer fragments (core/jm_raw.h): size, writing, and
 * reading them back for result references. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "core/jm_json_scan.h"
#include "core/jm_raw.h"
#include "core/jm_budget.h"

static apr_pool_t *pool;

/* Scanned members of text agree with json_loads of it, member by member. */
static int agrees(const char *text)
{
    jm_json_member_t m[16];
    json_t *whole = json_loads(text, 0, NULL), *v;
    int n, i, ok = 1;

    if (jm_json_scan_members(text, strlen(text), JM_JSON_SCAN_DEPTH, m, 16, &n) != 0
        || !json_is_object(whole) || (size_t)n != json_object_size(whole)) {
        json_decref(whole);
        return 0;
    }
    for (i = 0; i < n && ok; i++) {
        char *name = apr_pstrmemdup(pool, m[i].name, m[i].name_len);
        v = json_loadb(m[i].value, m[i].value_len, JSON_DECODE_ANY, NULL);
        ok = v && json_equal(v, json_object_get(whole, name));
        json_decref(v);
    }
    json_decref(whole);
    return ok;
}

static int refused(const char *text)
{
    jm_json_member_t m[16];
    int n = 7;

    return jm_json_scan_members(text, strlen(text), JM_JSON_SCAN_DEPTH, m, 16, &n) == -1
        && n == 0;
}

static const char *nest(int depth)
{
    char *s = apr_palloc(pool, (apr_size_t)depth * 2 + 16);
    int i;

    strcpy(s, "{\"a\":");
    for (i = 0; i < depth; i++) {
        strcat(s, "[");
    }
    for (i = 0; i < depth; i++) {
        strcat(s, "]");
    }
    strcat(s, "}");
    return s;
}

static void test_scan(void)
{
    jm_json_member_t m[4];
    int n;

    ok(agrees("{}"), "empty object");
    ok(agrees(" {\"a\":1, \"b\" : [true,false,null], \"c\":{\"d\":\"e\"}}\n"),
       "scalars, arrays, nested objects, whitespace");
    ok(agrees("{\"s\":\"quote \\\" backslash \\\\ slash \\/ \\b\\f\\n\\r\\t\"}"),
       "two-character escapes");
    ok(agrees("{\"u\":\"\\u00e9\\u20AC \\ud83d\\ude00\"}"), "\\u escapes, a surrogate pair");
    ok(agrees("{\"u\":\"Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x98\x80\"}"),
       "UTF-8 of 2, 3 and 4 bytes");
    ok(agrees("{\"n\":-0,\"m\":123456789012345678,\"z\":0}"), "integers");
    ok(agrees("{\"\":\"empty name\"}"), "an empty name");
    ok(agrees(nest(JM_JSON_SCAN_DEPTH - 1)), "nesting up to the bound");
    ok(refused(nest(JM_JSON_SCAN_DEPTH)), "one level deeper: refused");
    ok(refused(nest(5000)), "far deeper: refused, no recursion past the bound");

    ok(refused(""), "empty text");
    ok(refused("[]"), "an array is no object");
    ok(refused("{\"a\":1"), "unterminated object");
    ok(refused("{\"a\":1,}"), "trailing comma");
    ok(refused("{\"a\" 1}"), "no colon");
    ok(refused("{a:1}"), "bare name");
    ok(refused("{\"a\":1} x"), "text after the object");
    ok(refused("{\"a\":1}{}"), "two objects");
    ok(refused("{\"a\":\"x"), "unterminated string");
    ok(refused("{\"a\":\"\x01\"}"), "raw control character");
    ok(refused("{\"a\":\"\\x\"}"), "unknown escape");
    ok(refused("{\"a\":\"\\u12\"}"), "short \\u escape");
    ok(refused("{\"a\":\"\\u0000\"}"), "\\u0000 (jansson refuses it)");
    ok(refused("{\"a\":\"\\ud83d\"}"), "lone high surrogate");
    ok(refused("{\"a\":\"\\ude00\"}"), "lone low surrogate");
    ok(refused("{\"a\":\"\\ud83d\\u0041\"}"), "high surrogate then no low one");
    ok(refused("{\"a\":\"caf\xe9\"}"), "Latin-1 byte");
    ok(refused("{\"a\":\"\xc0\xaf\"}"), "overlong UTF-8");
    ok(refused("{\"a\":\"\xed\xa0\x80\"}"), "UTF-8 surrogate");
    ok(refused("{\"a\":\"\xf4\x90\x80\x80\"}"), "past U+10FFFF");
    ok(refused("{\"a\":\"\xe2\x82\"}"), "cut UTF-8 sequence");
    ok(refused("{\"a\":01}"), "leading zero");
    ok(refused("{\"a\":-}"), "minus alone");
    ok(refused("{\"a\":1.5}"), "a real: refused (not spliced)");
    ok(refused("{\"a\":1e3}"), "an exponent: refused");
    ok(refused("{\"a\":1234567890123456789}"), "19 digits: refused");
    ok(refused("{\"a\":tru}"), "cut literal");
    ok(refused("{\"a\":truex}"), "literal with letters after it");
    ok(refused("{\"a\":1,\"a\":2}"), "a name twice");
    ok(refused("{\"\\u0061\":1}"), "an escaped name");
    ok(agrees("{\"a\":{\"\\u0061\":1}}"), "escaped names inside values are fine");
    ok(jm_json_scan_members("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 31,
                            JM_JSON_SCAN_DEPTH, m, 4, &n) == -1, "more members than room");
    ok(jm_json_scan_members("{\"a\":1,\"b\":\"x\"} ", 16, JM_JSON_SCAN_DEPTH, m, 4, &n) == 0
       && n == 2 && m[1].value_len == 3 && !memcmp(m[1].value, "\"x\"", 3),
       "spans point into the text");
    ok(jm_json_member_find(m, n, "b") == &m[1] && !jm_json_member_find(m, n, "c"),
       "member_find");
    ok(jm_json_scan_members("{\"a\":1}\0{", 9, JM_JSON_SCAN_DEPTH, m, 4, &n) == -1,
       "a NUL inside the length");
    ok(jm_json_scan_value("\"x\"", 3, 1) == 0 && jm_json_scan_value("[[1]]", 5, 1) == -1
       && jm_json_scan_value(" 5 ", 3, 1) == 0 && jm_json_scan_value("5 5", 3, 1) == -1,
       "scan_value: scalars, depth, trailing text");
}

static void test_raw(void)
{
    jm_raw_t *raw = jm_raw_make(pool);
    const char *text = "{\"id\":\"M1\",\"subject\":\"Gr\xc3\xbc\xc3\x9f\x65\",\"n\":[1,2]}";
    json_t *a, *b, *resp, *plain, *got;
    const char *out, *want;
    apr_size_t len;

    a = jm_raw_add(raw, json_pack("{s:s}", "id", "M1"), text, strlen(text));
    b = json_pack("{s:s, s:i}", "id", "M2", "n", 7);
    resp = json_pack("{s:[o,o], s:s, s:{s:s}}", "list", a, b, "state", "s1",
                     "k\"\n", "x", "y");
    is_int(jm_raw_count(raw), 1, "one stand-in");
    ok(jm_raw_text(raw, a, &len) == text && len == strlen(text), "its text");
    ok(!jm_raw_text(raw, b, NULL) && !jm_raw_text(NULL, a, NULL), "no text for others");
    out = jm_raw_dump(raw, resp, &len, pool);
    want = apr_pstrcat(pool, "{\"list\":[", text, ",{\"id\":\"M2\",\"n\":7}],"
                       "\"state\":\"s1\",\"k\\\"\\n\":{\"x\":\"y\"}}", NULL);
    is_str(out, want, "the dump writes the text in place");
    is_int(len, strlen(want), "and its length");
    is_int(jm_raw_size_bounded(raw, resp, 100000), strlen(want),
           "the size counts the text, as written");
    ok(jm_raw_size_bounded(raw, resp, 10) == 11, "bounded");

    /* read back, as a result reference does */
    ok(jm_raw_resolve(raw, resp) == 0 && jm_raw_count(raw) == 0, "resolved");
    got = json_array_get(json_object_get(resp, "list"), 0);
    is_str(json_string_value(json_object_get(got, "subject")), "Gr\xc3\xbc\xc3\x9f\x65",
           "the list now holds the parsed object");
    plain = jm_json_own(pool, json_loads(want, 0, NULL));
    ok(json_equal(plain, resp), "equal to the dump read back");
    out = jm_raw_dump(raw, resp, &len, pool);
    is_str(out, want, "and it dumps to the same bytes");

    {
        char q[64];
        char *e = jm_raw_quote(q, "a\"\\\x01\x1f/\t\xc3\xa9");
        *e = '\0';
        is_str(q, "\"a\\\"\\\\\\u0001\\u001F/\\t\xc3\xa9\"", "quote as jansson writes");
    }
    json_decref(resp);
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    test_scan();
    test_raw();
    return done_testing();
}
