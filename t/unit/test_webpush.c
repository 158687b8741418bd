/* Push pieces without I/O: RFC 8291 encryption against the RFC's §5
 * example, VAPID tokens (verified with OpenSSL as a push service would),
 * base64url, the address classifier and the URL check, what a StateChange
 * says. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include "tap.h"
#include "push/jm_webpush.h"
#include "push/jm_push_crypto.h"
#include "push/jm_push_target.h"

/* RFC 8291 §5 (and Appendix A) */
#define RFC_PLAIN "When I grow up, I want to be a watermelon"
#define RFC_AS_PRIV "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
#define RFC_AS_PUB "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define RFC_UA_PUB "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define RFC_AUTH "BTBZMqHH6r4Tts7J_aSIgg"
#define RFC_SALT "DGv6ra1nlYgDCS1FRnbzlw"
#define RFC_BODY "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"

static unsigned char *d64(const char *s, apr_size_t *n, apr_pool_t *p)
{
    return jm_push_unb64url(s, n, p);
}

static void test_b64url(apr_pool_t *p)
{
    apr_size_t n = 0;
    unsigned char *d;

    is_str(jm_push_b64url("", 0, p), "", "b64url of nothing");
    is_str(jm_push_b64url("\xfb\xff", 2, p), "-_8", "b64url uses - and _, no padding");
    d = d64("-_8", &n, p);
    ok(d && n == 2 && d[0] == 0xfb && d[1] == 0xff, "and decodes them");
    ok(d64("-_8=", &n, p) != NULL, "padding tolerated");
    ok(!d64("+/8", &n, p), "+ and / refused (not base64url)");
    ok(!d64("A", &n, p), "one character is no octet");
    ok(!d64("-_9", &n, p), "non-zero leftover bits refused");
    ok(!d64("ab=c", &n, p), "padding inside refused");
}

static void test_rfc8291(apr_pool_t *p)
{
    apr_size_t npriv, npub, nua, nauth, nsalt, nout = 0;
    unsigned char *priv = d64(RFC_AS_PRIV, &npriv, p), *pub = d64(RFC_AS_PUB, &npub, p);
    unsigned char *ua = d64(RFC_UA_PUB, &nua, p), *auth = d64(RFC_AUTH, &nauth, p);
    unsigned char *salt = d64(RFC_SALT, &nsalt, p), *out = NULL, bad[65];
    EVP_PKEY *as = jm_push_keypair(priv, npriv, pub, npub, p);
    apr_status_t rv;

    ok(as != NULL, "RFC 8291 §5 application server key loads");
    rv = jm_push_encrypt(&out, &nout, RFC_PLAIN, strlen(RFC_PLAIN), ua, nua, auth, nauth,
                         as, salt, p);
    ok(rv == APR_SUCCESS, "encrypt the RFC's message");
    is_str(rv == APR_SUCCESS ? jm_push_b64url(out, nout, p) : "", RFC_BODY,
           "byte for byte the RFC 8291 §5 body (header, aes128gcm record)");
    /* random ephemeral key and salt: another body, same length */
    rv = jm_push_encrypt(&out, &nout, RFC_PLAIN, strlen(RFC_PLAIN), ua, nua, auth, nauth,
                         NULL, NULL, p);
    ok(rv == APR_SUCCESS && nout == 86 + strlen(RFC_PLAIN) + 17, "fresh key: length");
    ok(rv == APR_SUCCESS && strcmp(jm_push_b64url(out, nout, p), RFC_BODY),
       "fresh key and salt: another body");
    ok(out[16] == 0 && out[17] == 0 && out[18] == 0x10 && out[19] == 0 && out[20] == 65,
       "header: rs 4096, idlen 65");
    memcpy(bad, ua, 65);
    bad[64] ^= 1;
    ok(jm_push_encrypt(&out, &nout, "x", 1, bad, 65, auth, nauth, NULL, NULL, p)
       == APR_EINVAL, "a point off the curve is refused");
    ok(jm_push_encrypt(&out, &nout, "x", 1, ua, 64, auth, nauth, NULL, NULL, p)
       == APR_EINVAL, "a short key is refused");
    ok(jm_push_encrypt(&out, &nout, "x", 1, ua, nua, auth, 15, NULL, NULL, p)
       == APR_EINVAL, "an auth secret of 15 octets is refused");
    {
        char *big = apr_pcalloc(p, JM_PUSH_MAX_PLAINTEXT + 2);
        memset(big, 'a', JM_PUSH_MAX_PLAINTEXT + 1);
        ok(jm_push_encrypt(&out, &nout, big, JM_PUSH_MAX_PLAINTEXT, ua, nua, auth, nauth,
                           NULL, NULL, p) == APR_SUCCESS
           && nout == 4096, "the largest plaintext fills 4096 octets");
        ok(jm_push_encrypt(&out, &nout, big, JM_PUSH_MAX_PLAINTEXT + 1, ua, nua, auth,
                           nauth, NULL, NULL, p) == APR_EINVAL, "one more is refused");
    }
}

/* a push service's check: split, decode, verify r||s with the public key */
static int verify_jwt(const char *jwt, EVP_PKEY *key, char **pclaims, apr_pool_t *p)
{
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    apr_size_t n = 0, nsig = 0;
    unsigned char *sig, *der = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0, dlen;

    if (!dot2 || !(sig = d64(dot2 + 1, &nsig, p)) || nsig != 64) {
        goto done;
    }
    *pclaims = (char *)d64(apr_pstrndup(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1)), &n, p);
    *pclaims = apr_pstrndup(p, *pclaims, n);
    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    dlen = i2d_ECDSA_SIG(es, &der);
    ok = dlen > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1
        && EVP_DigestVerify(md, der, (size_t)dlen, (const unsigned char *)jwt,
                            (size_t)(dot2 - jwt)) == 1;
    OPENSSL_free(der);
done:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return ok;
}

static void test_vapid(apr_pool_t *p)
{
    EVP_PKEY *k = jm_push_keygen(p), *other = jm_push_keygen(p);
    const char *jwt = jm_push_vapid_jwt(k, "https://push.example.net", 1700000000,
                                        "mailto:admin@example.com", p);
    const char *hdr;
    char *claims = NULL;
    unsigned char pub[65];
    size_t n;

    ok(jwt != NULL, "a VAPID JWT");
    is_str(apr_pstrndup(p, jwt, strcspn(jwt, ".")),
           jm_push_b64url("{\"typ\":\"JWT\",\"alg\":\"ES256\"}", 27, p), "header ES256");
    ok(verify_jwt(jwt, k, &claims, p), "the r||s signature verifies with the key");
    is_str(claims, "{\"aud\":\"https://push.example.net\",\"exp\":1700000000,"
           "\"sub\":\"mailto:admin@example.com\"}", "claims aud, exp, sub");
    ok(!verify_jwt(jwt, other, &claims, p), "and not with another key");
    {
        char *tampered = apr_pstrdup(p, jwt);
        n = strlen(tampered);
        tampered[n - 1] = tampered[n - 1] == 'A' ? 'B' : 'A';
        ok(!verify_jwt(tampered, k, &claims, p), "a changed signature does not verify");
    }
    ok(jm_push_pubkey_raw(k, pub), "public point");
    hdr = jm_push_vapid_header(k, "https://push.example.net", 1700000000, NULL, p);
    ok(hdr && !strncmp(hdr, "vapid t=", 8)
       && strstr(hdr, apr_pstrcat(p, ", k=", jm_push_b64url(pub, 65, p), NULL)),
       "Authorization: vapid t=..., k=<public key>");
    ok(!jm_push_vapid_jwt(k, "https://a\"b", 1, NULL, p), "no quote in aud");
    is_str(jm_push_origin("https://push.example.net/a/b?c", p), "https://push.example.net",
           "origin without path");
    is_str(jm_push_origin("https://push.example.net:443/x", p), "https://push.example.net",
           "default port dropped");
    is_str(jm_push_origin("https://push.example.net:8443/x", p),
           "https://push.example.net:8443", "other port kept");
    is_str(jm_push_origin("https://[::1]:8443/x", p), "https://[::1]:8443", "IPv6 host");
    is_str(jm_push_origin("HTTPS://Push.Example.NET/X", p), "https://push.example.net",
           "origin in lower case (RFC 6454 §6.2)");
}

static void test_addresses(void)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
        "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
        "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        "::ffff:169.254.1.1", "64:ff9b::10.0.0.1", "2002:7f00:1::", "::127.0.0.1",
        "2001:db8::1", NULL
    };
    static const char *const good[] = {
        "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
        "192.169.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
        "2606:4700::1111", NULL
    };
    int i;

    for (i = 0; bad[i]; i++) {
        is_int(jm_push_ip_forbidden(bad[i]), 1, bad[i]);
    }
    for (i = 0; good[i]; i++) {
        is_int(jm_push_ip_forbidden(good[i]), 0, good[i]);
    }
    is_int(jm_push_ip_forbidden("push.example.net"), -1, "a name is no address");
    is_int(jm_push_ip_forbidden("1.2.3"), -1, "nor is 1.2.3");
}

static void test_urls(apr_pool_t *p)
{
    static const char *const bad[] = {
        "http://push.example.net/x", "ftp://push.example.net/", "https://", "https:///x",
        "push.example.net/x", "https://user:pw@push.example.net/", "https://a b/",
        "https://push.example.net/#frag", "https://push.example.net:0/", "",
        "https://push.example.net/\xc3\xa9", NULL
    };
    jm_push_target_t t;
    const char *why = NULL;
    char *longurl;
    int i;

    for (i = 0; bad[i]; i++) {
        why = NULL;
        ok(!jm_push_url_check(&t, bad[i], &why, p) && why, "refused: \"%s\" (%s)",
           bad[i], why ? why : "-");
    }
    ok(jm_push_url_check(&t, "HTTPS://push.example.net/a?b=c", &why, p)
       && !strcmp(t.host, "push.example.net") && t.port == 443, "https, port 443");
    ok(jm_push_url_check(&t, "https://[::1]:8443/p", &why, p) && !strcmp(t.host, "::1")
       && t.port == 8443, "IPv6 literal and port");
    longurl = apr_pcalloc(p, 2100);
    strcpy(longurl, "https://push.example.net/");
    memset(longurl + strlen(longurl), 'a', 2100 - strlen(longurl) - 1);
    ok(!jm_push_url_check(&t, longurl, &why, p), "a URL over 2048 octets");

    ok(jm_push_url_check(&t, "https://127.0.0.1:9/", &why, p), "loopback URL parses");
    ok(jm_push_target_resolve(&t, 0, &why, p) == APR_EINVAL, "but is refused: %s", why);
    ok(jm_push_target_resolve(&t, 1, &why, p) == APR_SUCCESS && !t.resolve,
       "allowed with allow_private; an address needs no pinning");
    ok(jm_push_url_check(&t, "https://localhost:9/", &why, p)
       && jm_push_target_resolve(&t, 0, &why, p) == APR_EINVAL,
       "localhost resolves to loopback: refused");
    ok(jm_push_target_resolve(&t, 1, &why, p) == APR_SUCCESS && t.resolve
       && !strncmp(t.resolve, "localhost:9:", 12), "allowed: pinned as %s",
       t.resolve ? t.resolve : "-");
}

static void test_changed(void)
{
    json_t *cur = json_loads("{\"A\":{\"Email\":\"3\",\"Mailbox\":\"2\"},"
                             "\"B\":{\"Email\":\"1\"}}", 0, NULL);
    json_t *pushed = json_loads("{\"A\":{\"Email\":\"2\",\"Mailbox\":\"2\"},"
                                "\"C\":{\"Email\":\"9\"}}", 0, NULL);
    json_t *types = json_loads("[\"Mailbox\"]", 0, NULL);
    json_t *ch = jm_push_changed(cur, pushed, NULL);
    char *s = json_dumps(ch, JSON_SORT_KEYS | JSON_COMPACT);

    is_str(s, "{\"A\":{\"Email\":\"3\"},\"B\":{\"Email\":\"1\"}}",
           "changed: a new state, a new account; an account gone is not named");
    free(s);
    json_decref(ch);
    ch = jm_push_changed(cur, pushed, types);
    is_int(json_object_size(ch), 0, "types [Mailbox]: nothing changed");
    json_decref(ch);
    ch = jm_push_changed(cur, cur, NULL);
    is_int(json_object_size(ch), 0, "same states: nothing");
    json_decref(ch);
    json_decref(cur);
    json_decref(pushed);
    json_decref(types);
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    test_b64url(p);
    test_rfc8291(p);
    test_vapid(p);
    test_addresses();
    test_urls(p);
    test_changed();
    apr_pool_destroy(p);
    apr_terminate();
    return done_testing();
}
