/* Unit tests: jm_sql_fold, the C form of the translate() that folds accents
 * and separators for PostgreSQL's full text (store/sql/jm_sql_fold.h). */
#include <string.h>
#include <apr_general.h>
#include "tap.h"
#include "store/sql/jm_sql_fold.h"

int main(void)
{
    apr_pool_t *pool;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    ok(jm_sql_fold(NULL, pool) == NULL, "NULL stays NULL");
    is_str(jm_sql_fold("", pool), "", "empty");
    is_str(jm_sql_fold("Plain ASCII words, kept As They Are", pool),
           "Plain ASCII words, kept As They Are", "ASCII letters and case are kept");
    is_str(jm_sql_fold("carol@example.net /a/b: foo-bar", pool),
           "carol example net  a b  foo bar", "@ . / : - become spaces");
    is_str(jm_sql_fold("K\xc3\xb6ln", pool), "Koln", "K\xc3\xb6ln -> Koln");
    is_int((int)strlen(jm_sql_fold("\xe1\xb8\x80\xe1\xb8\x81", pool)), 2,
           "a fold is never longer (3-byte letters become 1 byte)");
    /* translate maps capitals with accents to the small letter (FOLD_TO) */
    is_str(jm_sql_fold("\xc3\x80\xc3\x89\xc3\x8e\xc3\x95\xc3\x9c", pool), "aeiou",
           "first entries of the table (U+00C0 ...)");
    is_str(jm_sql_fold("\xc3\xbf", pool), "y", "U+00FF");
    is_str(jm_sql_fold("\xe1\xbb\xb9", pool), "y", "U+1EF9, the last entry");
    is_str(jm_sql_fold("Stra\xc3\x9f" "e \xe2\x82\xac \xce\xa3", pool),
           "Stra\xc3\x9f" "e \xe2\x82\xac \xce\xa3", "characters outside the table are kept");
    is_str(jm_sql_fold("caf\xe9 \x80", pool), "caf\xe9 \x80",
           "bytes that are not UTF-8 are copied");
    is_str(jm_sql_fold("\xc3", pool), "\xc3", "a sequence cut at the end is copied");
    /* every character of the table, one at a time (the walk is limited
     * to the table's two blocks: an entry outside them would show here) */
    {
        static const char from[] = FOLD_FROM, to[] = FOLD_TO;
        const char *f = from;
        int i = 0, bad = 0;

        while (*f) {
            int len = ((unsigned char)*f & 0xE0) == 0xC0 ? 2 : 3;
            char one[4] = { 0 }, want[2] = { to[i], 0 };

            memcpy(one, f, (size_t)len);
            if (strcmp(jm_sql_fold(one, pool), want) != 0) {
                diag("entry %d folds to %s, not %s", i, jm_sql_fold(one, pool), want);
                bad++;
            }
            f += len;
            i++;
        }
        is_int(i, 488, "the table has 488 entries");
        is_int(bad, 0, "each folds to its letter of FOLD_TO");
    }
    return done_testing();
}
