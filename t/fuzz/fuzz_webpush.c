/* fuzz_webpush: what a client gives a PushSubscription (RFC 8620 §7.2) and
 * what the worker derives from it, without network: the first byte picks
 * the parser, the rest is its input.
 *   0: base64url (keys/p256dh, keys/auth): a decoded value encodes back to
 *      the input without padding;
 *   1: a p256dh value: a key that loads encrypts (RFC 8291) to exactly the
 *      header + plaintext + delimiter + tag;
 *   2: a url: one accepted is https://, has a host and no byte <= 0x20;
 *   3: a numeric address: an IPv4 one classifies as its ::ffff: form;
 *   4: two JSON state maps (split at the first NUL): every state in the
 *      changed map is one of the current map's.
 * A violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include "fuzz_common.h"
#include "push/jm_webpush.h"
#include "push/jm_push_crypto.h"
#include "push/jm_push_target.h"

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

static void b64(const char *s, apr_pool_t *p)
{
    apr_size_t n = 0, len = strlen(s);
    unsigned char *d = jm_push_unb64url(s, &n, p);

    while (len > 0 && s[len - 1] == '=') {
        len--;
    }
    if (d && strncmp(jm_push_b64url(d, n, p), s, len) != 0) {
        finding("base64url does not round-trip");
    }
}

static void p256dh(const char *s, apr_pool_t *p)
{
    static const unsigned char auth[16] = "0123456789abcdef";
    apr_size_t n = 0, outlen = 0;
    unsigned char *d = jm_push_unb64url(s, &n, p), *out;

    if (!d || !jm_push_pubkey(d, n, p)) {
        return;
    }
    if (jm_push_encrypt(&out, &outlen, "{}", 2, d, n, auth, 16, NULL, NULL, p)
        != APR_SUCCESS || outlen != 86 + 2 + 1 + 16) {
        finding("a key that loads does not encrypt");
    }
}

static void url(const char *s, apr_pool_t *p)
{
    jm_push_target_t t;
    const char *why = NULL, *c;

    if (!jm_push_url_check(&t, s, &why, p)) {
        if (!why) {
            finding("refused without a reason");
        }
        return;
    }
    if (strncasecmp(s, "https://", 8) || !t.host || !*t.host || !t.port) {
        finding("accepted a url that is not https with a host");
    }
    for (c = s; *c; c++) {
        if ((unsigned char)*c <= 0x20) {
            finding("accepted a url with a space or control");
        }
    }
}

static void ip(const char *s, apr_pool_t *p)
{
    unsigned char a[4];
    int v = jm_push_ip_forbidden(s);

    if (inet_pton(AF_INET, s, a) == 1
        && jm_push_ip_forbidden(apr_psprintf(p, "::ffff:%u.%u.%u.%u", a[0], a[1], a[2],
                                             a[3])) != v) {
        finding("an IPv4 address and its mapped form classify differently");
    }
}

static void states(const char *s, size_t size, apr_pool_t *p)
{
    const char *second = memchr(s, '\0', size) ? s + strlen(s) + 1 : "";
    json_t *cur = json_loads(s, JSON_DECODE_ANY, NULL);
    json_t *pushed = *second || s + size > second ? json_loadb(second,
        (size_t)(s + size - second), JSON_DECODE_ANY, NULL) : NULL;
    json_t *ch, *acc, *st;
    const char *k, *type;

    (void)p;
    if (json_is_object(cur)) {
        ch = jm_push_changed(cur, pushed, NULL);
        json_object_foreach(ch, k, acc) {
            json_object_foreach(acc, type, st) {
                if (!json_equal(st, json_object_get(json_object_get(cur, k), type))) {
                    finding("changed names a state the current map has not");
                }
            }
        }
        json_decref(ch);
    }
    json_decref(cur);
    json_decref(pushed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *s;

    if (size < 1 || size > 8192) {
        return 0;
    }
    p = fz_run_pool();
    s = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
    switch (data[0] % 5) {
    case 0: b64(s, p); break;
    case 1: p256dh(s, p); break;
    case 2: url(s, p); break;
    case 3: ip(s, p); break;
    default: states(s, size - 1, p); break;
    }
    fz_run_pool_done(p);
    return 0;
}
