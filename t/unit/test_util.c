/* Unit tests: jm_util_utf8_check, which decides whether a user name can be
 * represented in JMAP (I-JSON, RFC 7493: well-formed UTF-8, RFC 3629). */
#include <apr_general.h>
#include "tap.h"
#include "core/jm_util.h"

static void check(const char *s, int want, const char *name)
{
    is_int(jm_util_utf8_check(s), want, name);
}

int main(void)
{
    apr_pool_t *pool;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    /* lower-casing is ASCII only: UTF-8 bytes pass through */
    is_str(jm_util_strlower("Jos\xc3\xa9", pool), "jos\xc3\xa9",
           "strlower leaves UTF-8 bytes alone");
    check("", JM_UTF8_OK, "empty");
    check("alice", JM_UTF8_OK, "ASCII");
    check("alice@example.com", JM_UTF8_OK, "an address");
    check("jos\xc3\xa9", JM_UTF8_OK, "2-byte sequence (é)");
    check("\xe2\x82\xac", JM_UTF8_OK, "3-byte sequence (€)");
    check("\xf0\x9f\x98\x80", JM_UTF8_OK, "4-byte sequence (U+1F600)");
    check("\xed\x9f\xbf", JM_UTF8_OK, "U+D7FF, just below the surrogates");
    check("\xee\x80\x80", JM_UTF8_OK, "U+E000, just above the surrogates");
    check("\xf4\x8f\xbf\xbf", JM_UTF8_OK, "U+10FFFF, the last code point");
    check("\xc2\xa0", JM_UTF8_OK, "U+00A0 (first after the C1 controls)");

    check("caf\xe9", JM_UTF8_INVALID, "Latin-1 byte (caf\\xe9)");
    check("\xe9t\xe9", JM_UTF8_INVALID, "Latin-1 lead byte then ASCII");
    check("\x80", JM_UTF8_INVALID, "lone continuation byte");
    check("\xc3", JM_UTF8_INVALID, "truncated 2-byte sequence at the end");
    check("\xe2\x82", JM_UTF8_INVALID, "truncated 3-byte sequence");
    check("\xf0\x9f\x98", JM_UTF8_INVALID, "truncated 4-byte sequence");
    check("\xc0\xaf", JM_UTF8_INVALID, "overlong 2-byte (C0)");
    check("\xc1\xbf", JM_UTF8_INVALID, "overlong 2-byte (C1)");
    check("\xe0\x80\xaf", JM_UTF8_INVALID, "overlong 3-byte");
    check("\xf0\x80\x80\xaf", JM_UTF8_INVALID, "overlong 4-byte");
    check("\xed\xa0\x80", JM_UTF8_INVALID, "surrogate U+D800");
    check("\xed\xbf\xbf", JM_UTF8_INVALID, "surrogate U+DFFF");
    check("\xf4\x90\x80\x80", JM_UTF8_INVALID, "past U+10FFFF");
    check("\xf5\x80\x80\x80", JM_UTF8_INVALID, "lead byte F5");
    check("\xff", JM_UTF8_INVALID, "byte FF");
    check("\xc3\x28", JM_UTF8_INVALID, "lead byte followed by ASCII");
    check("ok\x01\xe9", JM_UTF8_INVALID, "invalid wins over control");

    check("tab\tuser", JM_UTF8_CONTROL, "TAB");
    check("a\x01", JM_UTF8_CONTROL, "C0 control");
    check("a\nb", JM_UTF8_CONTROL, "LF (log injection)");
    check("del\x7f", JM_UTF8_CONTROL, "DEL");
    check("\xc2\x85", JM_UTF8_CONTROL, "C1 control U+0085 (NEL)");
    check("\xc2\x9f", JM_UTF8_CONTROL, "C1 control U+009F");
    return done_testing();
}
