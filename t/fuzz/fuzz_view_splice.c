/* fuzz_view_splice: bytes (up to the first NUL, as a stored text is read)
 * -> the bounded JSON scanner (src/core/jm_json_scan.c), the stored view's
 * members (jm_email_view_cache_members) and raw answer fragments
 * (src/core/jm_raw.c). Checked beyond the sanitizers: when the scanner
 * accepts the text, json_loads accepts it too, to an object with as many
 * members, and every member's span json_loads (JSON_DECODE_ANY) to the
 * value json_loads gave that member; the input wrapped as a stored view's
 * "props" gives the same spans as jm_email_view_cache_props's values; an
 * answer with a stand-in per span writes (jm_raw_dump) JSON that parses
 * to the parsed values, is as long as jm_raw_size_bounded says, and reads
 * back (jm_raw_resolve) to the same. A violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "fuzz_common.h"
#include "core/jm_json_scan.h"
#include "core/jm_raw.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_view_cache.h"

static apr_pool_t *root;

static void finding(const char *what)
{
    fprintf(stderr, "FINDING: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

#define MAXM JM_EMAIL_VIEW_MEMBERS_MAX

static void check_members(const char *text, size_t len, apr_pool_t *p)
{
    jm_json_member_t m[MAXM];
    json_t *whole, *v, *list, *answer, *back;
    jm_raw_t *raw;
    const char *out;
    apr_size_t n_out;
    int n, i;

    if (jm_json_scan_members(text, len, JM_JSON_SCAN_DEPTH, m, MAXM, &n) != 0) {
        if (n != 0) {
            finding("a refused text left members behind");
        }
        return;
    }
    whole = jm_json_own(p, json_loads(text, 0, NULL));
    if (!json_is_object(whole)) {
        finding("the scanner accepted an object json_loads refuses");
    }
    if ((size_t)n != json_object_size(whole)) {
        finding("member count differs from json_loads");
    }
    raw = jm_raw_make(p);
    list = jm_json_own(p, json_array());
    for (i = 0; i < n; i++) {
        char *name = apr_pstrmemdup(p, m[i].name, m[i].name_len);
        if (memchr(m[i].name, '\\', m[i].name_len)) {
            finding("a member name with an escape was accepted");
        }
        v = json_loadb(m[i].value, m[i].value_len, JSON_DECODE_ANY, NULL);
        if (!v || !json_equal(v, json_object_get(whole, name))) {
            finding("a span does not read back to the member's value");
        }
        json_decref(v);
        if (jm_json_scan_value(m[i].value, m[i].value_len, JM_JSON_SCAN_DEPTH) != 0) {
            finding("a span the scanner gave is refused by scan_value");
        }
        json_array_append_new(list, jm_raw_add(raw, json_pack("{s:s}", "id", name),
                                               m[i].value, m[i].value_len));
    }
    answer = jm_json_own(p, json_pack("{s:O, s:s}", "list", list, "state", "1"));
    if (!(out = jm_raw_dump(raw, answer, &n_out, p))) {
        finding("jm_raw_dump failed");
    }
    if (jm_raw_size_bounded(raw, answer, (apr_size_t)-2) != n_out) {
        finding("jm_raw_size_bounded differs from the written length");
    }
    back = jm_json_own(p, json_loadb(out, n_out, 0, NULL));
    if (!back) {
        finding("the written answer is not JSON");
    }
    for (i = 0; i < n; i++) {
        char *name = apr_pstrmemdup(p, m[i].name, m[i].name_len);
        if (!json_equal(json_array_get(json_object_get(back, "list"), (size_t)i),
                        json_object_get(whole, name))) {
            finding("a written stand-in differs from the value");
        }
    }
    if (jm_raw_resolve(raw, answer) != 0 || jm_raw_count(raw) != 0
        || !json_equal(answer, back)) {
        finding("the answer read back differs from the one written");
    }
}

/* The input as the "props" of a stored view: the spliced members are the
 * values the parsing reader of views (jm_email_view_cache_props) gives. */
static void check_view(const char *text, apr_pool_t *p)
{
    jm_json_member_t m[MAXM];
    const char *view = apr_psprintf(p, "{\"depth\":%d,\"props\":%s}",
                                    jm_mime_default_limits.max_depth, text);
    json_t *names, *props = NULL;
    int n, i;

    if (jm_email_view_cache_members(m, &n, view, 0) != APR_SUCCESS) {
        return;
    }
    names = jm_json_own(p, json_array());
    for (i = 0; i < n; i++) {
        json_array_append_new(names, json_stringn(m[i].name, m[i].name_len));
    }
    if (jm_email_view_cache_props(&props, view, names, 0) != APR_SUCCESS) {
        finding("a view spliced but jm_email_view_cache_props refuses it");
    }
    jm_json_own(p, props);
    for (i = 0; i < n; i++) {
        json_t *v = json_loadb(m[i].value, m[i].value_len, JSON_DECODE_ANY, NULL);
        char *name = apr_pstrmemdup(p, m[i].name, m[i].name_len);
        if (!v || !json_equal(v, json_object_get(props, name))) {
            finding("a spliced view member differs from the parsed one");
        }
        json_decref(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *text;
    size_t len;

    apr_pool_create(&p, root);
    text = apr_pstrmemdup(p, (const char *)data, size);
    len = strlen(text);
    if (jm_json_scan_value(text, len, JM_JSON_SCAN_DEPTH) == 0) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!v) {
            finding("scan_value accepted what json_loads refuses");
        }
        json_decref(v);
    }
    check_members(text, len, p);
    check_view(text, p);
    apr_pool_destroy(p);
    return 0;
}
