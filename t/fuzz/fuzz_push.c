/* fuzz_push: client bytes -> the event-source parameters and event ids
 * (src/core/jm_push.c). Input: the query string (r->args), then "\n",
 * then a Last-Event-ID. Checked beyond the sanitizers: accepted
 * parameters are in range (ping clamped to [min, JM_PUSH_PING_MAX]
 * or 0); an accepted event id encodes back to an id that parses to the
 * same states; a StateChange made from it is JSON naming only the
 * accounts given; event bytes are one event (no blank line inside, no
 * line break in the id). A violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "fuzz_common.h"
#include "core/jm_push.h"

static void finding(const char *what)
{
    fprintf(stderr, "FINDING: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

static void check_id(const char *id, const jm_push_args_t *a, apr_pool_t *p)
{
    apr_array_header_t *accs = apr_array_make(p, 3, sizeof(const char *));
    apr_hash_t *got = apr_hash_make(p), *again = apr_hash_make(p), *now;
    apr_hash_index_t *hi;
    const char *enc, *change, *ev;
    int k;

    APR_ARRAY_PUSH(accs, const char *) = "Aone";
    APR_ARRAY_PUSH(accs, const char *) = "Atwo";
    APR_ARRAY_PUSH(accs, const char *) = "A1";
    if (jm_push_parse_event_id(got, id, accs, p) != 0) {
        if (apr_hash_count(got)) {
            finding("a refused event id left states behind");
        }
        return;
    }
    enc = jm_push_event_id(got, p);
    if (strpbrk(enc, "\r\n")) {
        finding("an event id with a line break");
    }
    if (apr_hash_count(got) && (jm_push_parse_event_id(again, enc, accs, p) != 0
                                || apr_hash_count(again) != apr_hash_count(got))) {
        finding("an event id we made does not parse back");
    }
    for (hi = apr_hash_first(p, got); hi; hi = apr_hash_next(hi)) {
        const jm_push_states_t *x = apr_hash_this_val(hi);
        const jm_push_states_t *y = apr_hash_get(again, apr_hash_this_key(hi),
                                                 APR_HASH_KEY_STRING);
        if (!y || memcmp(x->st, y->st, sizeof(x->st)) != 0) {
            finding("an event id round trip changed the states");
        }
    }
    /* every state one higher: a StateChange of the asked types */
    now = apr_hash_make(p);
    for (hi = apr_hash_first(p, got); hi; hi = apr_hash_next(hi)) {
        jm_push_states_t *n = apr_pmemdup(p, apr_hash_this_val(hi), sizeof(*n));
        for (k = 0; k < JM_PUSH_NTYPES; k++) {
            n->st[k] = n->st[k] + 1;
        }
        apr_hash_set(now, apr_hash_this_key(hi), APR_HASH_KEY_STRING, n);
    }
    change = jm_push_state_change(got, now, accs, a, p);
    if (change) {
        json_error_t err;
        json_t *j = json_loads(change, 0, &err), *changed = NULL;
        const char *key;
        json_t *v;

        if (!j || !(changed = json_object_get(j, "changed")) || !json_is_object(changed)) {
            finding("a StateChange that is not JSON with \"changed\"");
        }
        json_object_foreach(changed, key, v) {
            if (strcmp(key, "Aone") && strcmp(key, "Atwo") && strcmp(key, "A1")) {
                finding("a StateChange names an account not given");
            }
        }
        json_decref(j);
        ev = jm_push_event("state", jm_push_event_id(got, p), change, p);
        if (strstr(ev, "\n\n") != ev + strlen(ev) - 2) {
            finding("an event with a blank line inside");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_run_pool();
    const char *nl = memchr(data, '\n', size);
    size_t qn = nl ? (size_t)(nl - (const char *)data) : size;
    char *query = apr_pstrndup(p, (const char *)data, qn);
    char *id = nl ? apr_pstrndup(p, nl + 1, size - qn - 1) : NULL;
    jm_push_args_t a;
    long iv;

    if (!jm_push_parse_args(&a, query, p)) {
        if (a.ping < 0) {
            finding("a negative ping accepted");
        }
        iv = jm_push_ping_interval(a.ping, 30);
        if (a.ping == 0 ? iv != 0 : (iv < 30 || iv > JM_PUSH_PING_MAX)) {
            finding("a ping interval out of range");
        }
    }
    else {
        jm_push_parse_args(&a, NULL, p);
    }
    if (id) {
        check_id(id, &a, p);
    }
    fz_run_pool_done(p);
    return 0;
}
