/* Unit tests: the event-source parts without I/O (src/core/jm_push.c):
 * query parameters (RFC 8620 §7.3) good and bad, the ping clamp, the
 * StateChange objects (§7.1) a stream sends as states move, event ids
 * and their parsing back (Last-Event-ID), the event bytes. */
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "tap.h"
#include "core/jm_push.h"

static const char *parse_err(const char *q, apr_pool_t *p)
{
    jm_push_args_t a;
    return jm_push_parse_args(&a, q, p);
}

static void args_tests(apr_pool_t *p)
{
    jm_push_args_t a;
    int email = jm_push_type_index("Email"), mbox = jm_push_type_index("Mailbox");
    int del = jm_push_type_index("EmailDelivery");

    ok(jm_push_parse_args(&a, NULL, p) == NULL && a.all_types && !a.close_after_state
       && a.ping == 0, "no query: types=*, closeafter=no, ping=0");
    ok(jm_push_parse_args(&a, "types=*&closeafter=no&ping=0", p) == NULL
       && a.all_types && !a.close_after_state && a.ping == 0, "the template's defaults");
    ok(jm_push_parse_args(&a, "types=Email,EmailDelivery&closeafter=state&ping=300", p)
       == NULL && !a.all_types && a.types == ((1u << email) | (1u << del))
       && a.close_after_state && a.ping == 300, "a type list, closeafter=state, ping=300");
    ok(jm_push_parse_args(&a, "types=Mailbox%2CEmail", p) == NULL && !a.all_types
       && a.types == ((1u << email) | (1u << mbox)), "a percent-encoded comma");
    ok(jm_push_parse_args(&a, "types=CalendarEvent,Email", p) == NULL && !a.all_types
       && a.types == (1u << email), "an unknown type name is ignored");
    ok(jm_push_parse_args(&a, "types=CalendarEvent", p) == NULL && !a.all_types
       && a.types == 0, "only unknown types: nothing is pushed, not an error");
    ok(jm_push_parse_args(&a, "ping=5&x=1&&_=123", p) == NULL && a.ping == 5,
       "other parameters and empty pairs are ignored");
    ok(jm_push_parse_args(&a, "ping=99999999999", p) != NULL, "ping with 11 digits");
    ok(jm_push_parse_args(&a, "ping=4000000000", p) == NULL && a.ping == 2000000000,
       "a huge ping is capped, not wrapped");
    ok(parse_err("ping=abc", p) != NULL, "ping=abc");
    ok(parse_err("ping=", p) != NULL, "ping empty");
    ok(parse_err("ping=-1", p) != NULL, "ping negative");
    ok(parse_err("ping=1.5", p) != NULL, "ping not an integer");
    ok(parse_err("ping=%31", p) == NULL, "ping percent-encoded digit");
    ok(parse_err("closeafter=maybe", p) != NULL, "closeafter=maybe");
    ok(parse_err("closeafter=", p) != NULL, "closeafter empty");
    ok(parse_err("closeafter=State", p) != NULL, "closeafter is case-sensitive");
    ok(parse_err("types=", p) != NULL, "types empty");
    ok(parse_err("types=Email,,Mailbox", p) != NULL, "an empty type name");
    ok(parse_err("types=Email,", p) != NULL, "a trailing comma");
    ok(parse_err("types=,Email", p) != NULL, "a leading comma");
    ok(parse_err("types=*,Email", p) != NULL, "* in a list");
    ok(parse_err("types=Em%0Aail", p) != NULL, "a control character in a type name");
    ok(parse_err("types=Email&types=Mailbox", p) != NULL, "types twice");
    ok(parse_err("ping=1&ping=2", p) != NULL, "ping twice");
    ok(parse_err("types=%zz", p) != NULL, "a bad percent escape");
    ok(parse_err("types=%4", p) != NULL, "a cut percent escape");
    ok(parse_err("types=Em%00ail", p) != NULL, "an escaped NUL");
    ok(parse_err("types", p) != NULL, "a parameter without a value");
    is_int(jm_push_ping_interval(0, 30), 0, "ping 0 stays 0");
    is_int(jm_push_ping_interval(1, 30), 30, "ping below the minimum is raised");
    is_int(jm_push_ping_interval(45, 30), 45, "ping in range is kept");
    is_int(jm_push_ping_interval(100000, 30), JM_PUSH_PING_MAX, "ping above the maximum");
    ok(JM_PUSH_PING_MAX >= 300, "maximum not below 300 s (RFC 8620 §7.3)");
}

static jm_push_states_t *st(apr_pool_t *p, long m, long e, long t, long d)
{
    jm_push_states_t *s = apr_palloc(p, sizeof(*s));
    jm_push_states_init(s);
    s->st[jm_push_type_index("Mailbox")] = m;
    s->st[jm_push_type_index("Email")] = e;
    s->st[jm_push_type_index("Thread")] = t;
    s->st[jm_push_type_index("EmailDelivery")] = d;
    return s;
}

static void change_tests(apr_pool_t *p)
{
    apr_hash_t *told = apr_hash_make(p), *now = apr_hash_make(p), *back;
    apr_array_header_t *accs = apr_array_make(p, 2, sizeof(const char *));
    jm_push_args_t all, only_del;
    const char *c, *id;

    jm_push_parse_args(&all, "types=*", p);
    jm_push_parse_args(&only_del, "types=EmailDelivery", p);
    APR_ARRAY_PUSH(accs, const char *) = "Aone";
    APR_ARRAY_PUSH(accs, const char *) = "Atwo";
    apr_hash_set(told, "Aone", APR_HASH_KEY_STRING, st(p, 1, 1, 1, 0));
    apr_hash_set(told, "Atwo", APR_HASH_KEY_STRING, st(p, 5, 5, 5, 5));

    apr_hash_set(now, "Aone", APR_HASH_KEY_STRING, st(p, 1, 1, 1, 0));
    ok(!jm_push_has_news(told, now, accs, &all), "same states: no news");
    ok(jm_push_state_change(told, now, accs, &all, p) == NULL, "same states: nothing");

    apr_hash_set(now, "Aone", APR_HASH_KEY_STRING, st(p, 2, 3, 1, 0));
    ok(jm_push_has_news(told, now, accs, &all), "Email and Mailbox moved: news");
    ok(!jm_push_has_news(told, now, accs, &only_del), "not for EmailDelivery only");
    c = jm_push_state_change(told, now, accs, &all, p);
    is_str(c, "{\"@type\":\"StateChange\",\"changed\":{\"Aone\":"
              "{\"Mailbox\":\"2\",\"Email\":\"3\"}}}", "the types that moved, new states");
    ok(jm_push_state_change(told, now, accs, &all, p) == NULL, "told once only");

    apr_hash_set(now, "Aone", APR_HASH_KEY_STRING, st(p, 1, 2, 1, 0));
    ok(jm_push_state_change(told, now, accs, &all, p) == NULL,
       "a lower (stale) state is never told");

    apr_hash_set(now, "Aone", APR_HASH_KEY_STRING, st(p, 2, 4, 1, 1));
    apr_hash_set(now, "Atwo", APR_HASH_KEY_STRING, st(p, 6, 5, 5, 5));
    c = jm_push_state_change(told, now, accs, &only_del, p);
    is_str(c, "{\"@type\":\"StateChange\",\"changed\":{\"Aone\":{\"EmailDelivery\":\"1\"}}}",
           "types filter: EmailDelivery only, other accounts' Mailbox left out");
    c = jm_push_state_change(told, now, accs, &all, p);
    ok(c == NULL, "types not asked for were learnt silently (no later repeat)");

    apr_hash_set(now, "Anew", APR_HASH_KEY_STRING, st(p, 9, 9, 9, 9));
    APR_ARRAY_PUSH(accs, const char *) = "Anew";
    ok(jm_push_has_news(told, now, accs, &all), "an account not told yet is news");
    ok(jm_push_state_change(told, now, accs, &all, p) == NULL,
       "but its first states are a baseline, not a change");
    apr_hash_set(now, "Anew", APR_HASH_KEY_STRING, st(p, 10, 9, 9, 9));
    c = jm_push_state_change(told, now, accs, &all, p);
    is_str(c, "{\"@type\":\"StateChange\",\"changed\":{\"Anew\":{\"Mailbox\":\"10\"}}}",
           "then it moves like the others");
    accs->nelts = 1;
    apr_hash_set(now, "Atwo", APR_HASH_KEY_STRING, st(p, 7, 7, 7, 7));
    ok(jm_push_state_change(told, now, accs, &all, p) == NULL,
       "an account no longer accessible is not told of");

    id = jm_push_event_id(told, p);
    is_str(id, "Anew:10.9.9...9,Aone:2.4.1...1,Atwo:6.5.5...5", "event id: sorted, every type");
    back = apr_hash_make(p);
    accs->nelts = 3;
    ok(jm_push_parse_event_id(back, id, accs, p) == 0 && apr_hash_count(back) == 3,
       "the id parses back");
    ok(back && apr_hash_get(back, "Aone", APR_HASH_KEY_STRING)
       && ((jm_push_states_t *)apr_hash_get(back, "Aone", APR_HASH_KEY_STRING))
              ->st[jm_push_type_index("Email")] == 4
       && ((jm_push_states_t *)apr_hash_get(back, "Aone", APR_HASH_KEY_STRING))
              ->st[jm_push_type_index("Identity")] == -1, "with the same states");
    accs->nelts = 1;
    back = apr_hash_make(p);
    ok(jm_push_parse_event_id(back, id, accs, p) == 0 && apr_hash_count(back) == 1,
       "accounts the user may not access are dropped");
    {
        static const char *const bad[] = {
            "", "x", "Aone", "Aone:", "Aone:1.2.3.4.5", "Aone:1.2.3.4.5.6.7",
            "Aone:1.2.3.4.5.6,", ":1.2.3.4.5.6", "Aone:1.2.3.4.5.x",
            "Aone:1.2.3.4.5.6,Aone:1.2.3.4.5.6", "A one:1.2.3.4.5.6",
            "Aone:1234567890123456789.2.3.4.5.6", "Aone:-1.2.3.4.5.6",
            "Aone:1.2.3.4.5.6:7", "Aone:1,2.3.4.5.6", NULL
        };
        int i, fails = 0;
        for (i = 0; bad[i]; i++) {
            back = apr_hash_make(p);
            if (jm_push_parse_event_id(back, bad[i], accs, p) == 0 || apr_hash_count(back)) {
                diag("accepted: \"%s\"", bad[i]);
                fails++;
            }
        }
        is_int(fails, 0, "malformed event ids are refused, nothing kept");
    }
    is_str(jm_push_event("state", "A:1", "{}", p), "event: state\nid: A:1\ndata: {}\n\n",
           "a state event with an id");
    is_str(jm_push_event("ping", NULL, jm_push_ping_data(30, p), p),
           "event: ping\ndata: {\"interval\":30}\n\n", "a ping event");
}

int main(void)
{
    apr_pool_t *pool;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    args_tests(pool);
    change_tests(pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
