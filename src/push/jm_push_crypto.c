/* Web Push message encryption (RFC 8291, RFC 8188) and VAPID (RFC 8292). */
#include <string.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include "push/jm_push_crypto.h"

static const char b64u[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *jm_push_b64url(const void *data, apr_size_t len, apr_pool_t *p)
{
    const unsigned char *d = data;
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = b64u[d[i] >> 2];
        *o++ = b64u[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
        *o++ = b64u[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
        *o++ = b64u[d[i + 2] & 63];
    }
    if (len - i == 1) {
        *o++ = b64u[d[i] >> 2];
        *o++ = b64u[(d[i] & 3) << 4];
    }
    else if (len - i == 2) {
        *o++ = b64u[d[i] >> 2];
        *o++ = b64u[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
        *o++ = b64u[(d[i + 1] & 15) << 2];
    }
    *o = '\0';
    return out;
}

static int b64u_val(char c)
{
    const char *at = c ? strchr(b64u, c) : NULL;

    return at ? (int)(at - b64u) : -1;
}

unsigned char *jm_push_unb64url(const char *s, apr_size_t *plen, apr_pool_t *p)
{
    apr_size_t n = strlen(s), i, o = 0;
    unsigned char *out;
    unsigned acc = 0;
    int bits = 0;

    while (n > 0 && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1 || strlen(s) - n > 2) {
        return NULL;
    }
    out = apr_palloc(p, n * 3 / 4 + 1);
    for (i = 0; i < n; i++) {
        int v = b64u_val(s[i]);
        if (v < 0) {
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* the bits left over must be zero: one encoding per value */
    if (acc & ((1u << bits) - 1)) {
        return NULL;
    }
    *plen = o;
    return out;
}

static apr_status_t free_pkey(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static EVP_PKEY *owned(EVP_PKEY *k, apr_pool_t *p)
{
    if (k) {
        apr_pool_cleanup_register(p, k, free_pkey, apr_pool_cleanup_null);
    }
    return k;
}

static EVP_PKEY *from_params(const unsigned char *priv, apr_size_t privlen,
                             const unsigned char *pub, apr_size_t publen)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    BIGNUM *d = priv ? BN_bin2bn(priv, (int)privlen, NULL) : NULL;
    int ok = b && ctx && (!priv || d)
        && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0)
        && OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, publen)
        && (!d || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d))
        && (params = OSSL_PARAM_BLD_to_param(b)) != NULL
        && EVP_PKEY_fromdata_init(ctx) == 1
        && EVP_PKEY_fromdata(ctx, &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                             params) == 1;
    EVP_PKEY_CTX *chk = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;

    /* fromdata does not check that the point is on the curve */
    if (ok && (!chk || EVP_PKEY_public_check(chk) != 1
               || (d && EVP_PKEY_pairwise_check(chk) != 1))) {
        ok = 0;
    }
    if (!ok) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(chk);
    BN_clear_free(d);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

EVP_PKEY *jm_push_pubkey(const unsigned char *raw, apr_size_t len, apr_pool_t *p)
{
    if (len != JM_PUSH_PUBKEY_LEN || raw[0] != 0x04) {
        return NULL;
    }
    return owned(from_params(NULL, 0, raw, len), p);
}

EVP_PKEY *jm_push_keypair(const unsigned char *priv, apr_size_t privlen,
                          const unsigned char *pub, apr_size_t publen, apr_pool_t *p)
{
    if (privlen != 32 || publen != JM_PUSH_PUBKEY_LEN || pub[0] != 0x04) {
        return NULL;
    }
    return owned(from_params(priv, privlen, pub, publen), p);
}

EVP_PKEY *jm_push_keygen(apr_pool_t *p)
{
    return owned(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1"), p);
}

int jm_push_pubkey_raw(EVP_PKEY *key, unsigned char out[JM_PUSH_PUBKEY_LEN])
{
    size_t n = 0;

    return EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                           out, JM_PUSH_PUBKEY_LEN, &n) == 1
        && n == JM_PUSH_PUBKEY_LEN && out[0] == 0x04;
}

/* HKDF-SHA-256 (RFC 5869), extract and expand in one. */
static int hkdf(unsigned char *out, size_t outlen, const unsigned char *salt,
                size_t saltlen, const unsigned char *ikm, size_t ikmlen,
                const unsigned char *info, size_t infolen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *q = params;
    int ok;

    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *q = OSSL_PARAM_construct_end();
    ok = kctx && EVP_KDF_derive(kctx, out, outlen, params) == 1;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok;
}

static int ecdh(unsigned char out[32], EVP_PKEY *mine, EVP_PKEY *peer)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    size_t n = 32;
    int ok = ctx && EVP_PKEY_derive_init(ctx) == 1
        && EVP_PKEY_derive_set_peer(ctx, peer) == 1
        && EVP_PKEY_derive(ctx, out, &n) == 1 && n == 32;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static int aes128gcm(unsigned char *out, const unsigned char key[16],
                     const unsigned char iv[12], const unsigned char *in, int len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv) == 1
        && EVP_EncryptUpdate(c, out, &n, in, len) == 1
        && EVP_EncryptFinal_ex(c, out + n, &m) == 1
        && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n + m) == 1
        && n + m == len;

    EVP_CIPHER_CTX_free(c);
    return ok;
}

apr_status_t jm_push_encrypt(unsigned char **pout, apr_size_t *poutlen,
                             const void *plaintext, apr_size_t len,
                             const unsigned char *ua_public, apr_size_t ua_len,
                             const unsigned char *auth, apr_size_t auth_len,
                             EVP_PKEY *as_key, const unsigned char *salt,
                             apr_pool_t *p)
{
    static const char key_label[] = "WebPush: info";             /* + 0x00 */
    static const char cek_info[] = "Content-Encoding: aes128gcm"; /* + 0x00 */
    static const char nonce_info[] = "Content-Encoding: nonce";   /* + 0x00 */
    unsigned char as_public[JM_PUSH_PUBKEY_LEN], secret[32], ikm[32], cek[16];
    unsigned char nonce[12], salt_buf[JM_PUSH_SALT_LEN];
    unsigned char info[sizeof(key_label) + 2 * JM_PUSH_PUBKEY_LEN];
    unsigned char *out, *rec;
    apr_size_t hdr = JM_PUSH_SALT_LEN + 4 + 1 + JM_PUSH_PUBKEY_LEN;
    EVP_PKEY *ua;
    int ok;

    if (len > JM_PUSH_MAX_PLAINTEXT || auth_len != JM_PUSH_AUTH_LEN
        || !(ua = jm_push_pubkey(ua_public, ua_len, p))) {
        return APR_EINVAL;
    }
    if (!as_key && !(as_key = jm_push_keygen(p))) {
        return APR_EGENERAL;
    }
    if (!salt) {
        if (RAND_bytes(salt_buf, sizeof(salt_buf)) != 1) {
            return APR_EGENERAL;
        }
        salt = salt_buf;
    }
    /* §3.3: key_info = "WebPush: info" || 0x00 || ua_public || as_public;
     * IKM = HKDF(salt = auth_secret, ikm = ecdh_secret, key_info, 32) */
    memcpy(info, key_label, sizeof(key_label));
    memcpy(info + sizeof(key_label), ua_public, JM_PUSH_PUBKEY_LEN);
    ok = jm_push_pubkey_raw(as_key, as_public) && ecdh(secret, as_key, ua);
    memcpy(info + sizeof(key_label) + JM_PUSH_PUBKEY_LEN, as_public, JM_PUSH_PUBKEY_LEN);
    /* §3.4 / RFC 8188 §2.2-2.3: CEK and NONCE from PRK = HKDF-Extract(salt, IKM) */
    ok = ok && hkdf(ikm, sizeof(ikm), auth, auth_len, secret, sizeof(secret),
                    info, sizeof(info))
        && hkdf(cek, sizeof(cek), salt, JM_PUSH_SALT_LEN, ikm, sizeof(ikm),
                (const unsigned char *)cek_info, sizeof(cek_info))
        && hkdf(nonce, sizeof(nonce), salt, JM_PUSH_SALT_LEN, ikm, sizeof(ikm),
                (const unsigned char *)nonce_info, sizeof(nonce_info));
    if (!ok) {
        OPENSSL_cleanse(secret, sizeof(secret));
        OPENSSL_cleanse(ikm, sizeof(ikm));
        return APR_EGENERAL;
    }
    /* RFC 8188 §2.1 header: salt, rs (uint32), idlen, keyid = as_public */
    out = apr_palloc(p, hdr + len + 1 + 16);
    memcpy(out, salt, JM_PUSH_SALT_LEN);
    out[16] = (JM_PUSH_RS >> 24) & 0xff;
    out[17] = (JM_PUSH_RS >> 16) & 0xff;
    out[18] = (JM_PUSH_RS >> 8) & 0xff;
    out[19] = JM_PUSH_RS & 0xff;
    out[20] = JM_PUSH_PUBKEY_LEN;
    memcpy(out + 21, as_public, JM_PUSH_PUBKEY_LEN);
    /* the one (last) record: the plaintext and the delimiter 0x02 (§2) */
    rec = apr_palloc(p, len + 1);
    memcpy(rec, plaintext, len);
    rec[len] = 0x02;
    ok = aes128gcm(out + hdr, cek, nonce, rec, (int)len + 1);
    OPENSSL_cleanse(rec, len + 1);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(cek, sizeof(cek));
    if (!ok) {
        return APR_EGENERAL;
    }
    *pout = out;
    *poutlen = hdr + len + 1 + 16;
    return APR_SUCCESS;
}

/* ES256 over input: JWS wants r||s of 32 bytes each (RFC 7518 §3.4), not
 * the DER that EVP_DigestSign gives. */
static const char *es256(EVP_PKEY *key, const char *input, apr_pool_t *p)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80], raw[64];
    const unsigned char *dp = der;
    size_t n = sizeof(der);
    ECDSA_SIG *sig = NULL;
    const char *out = NULL;

    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1
        && EVP_DigestSign(md, der, &n, (const unsigned char *)input, strlen(input)) == 1
        && (sig = d2i_ECDSA_SIG(NULL, &dp, (long)n)) != NULL
        && BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32
        && BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32) {
        out = jm_push_b64url(raw, sizeof(raw), p);
    }
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return out;
}

const char *jm_push_vapid_jwt(EVP_PKEY *key, const char *aud, apr_int64_t exp,
                              const char *sub, apr_pool_t *p)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ES256\"}";
    const char *claims, *input, *sig;

    if (!aud || strpbrk(aud, "\"\\") || (sub && strpbrk(sub, "\"\\"))) {
        return NULL;        /* never: origins and mailto: have neither */
    }
    claims = sub ? apr_psprintf(p, "{\"aud\":\"%s\",\"exp\":%" APR_INT64_T_FMT
                                ",\"sub\":\"%s\"}", aud, exp, sub)
                 : apr_psprintf(p, "{\"aud\":\"%s\",\"exp\":%" APR_INT64_T_FMT "}",
                                aud, exp);
    input = apr_pstrcat(p, jm_push_b64url(header, strlen(header), p), ".",
                        jm_push_b64url(claims, strlen(claims), p), NULL);
    return (sig = es256(key, input, p)) ? apr_pstrcat(p, input, ".", sig, NULL) : NULL;
}

const char *jm_push_vapid_header(EVP_PKEY *key, const char *aud, apr_int64_t exp,
                                 const char *sub, apr_pool_t *p)
{
    unsigned char pub[JM_PUSH_PUBKEY_LEN];
    const char *jwt = jm_push_vapid_jwt(key, aud, exp, sub, p);

    if (!jwt || !jm_push_pubkey_raw(key, pub)) {
        return NULL;
    }
    return apr_pstrcat(p, "vapid t=", jwt, ", k=", jm_push_b64url(pub, sizeof(pub), p),
                       NULL);
}

const char *jm_push_origin(const char *url, apr_pool_t *p)
{
    apr_uri_t u;
    const char *host;
    char *c;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname) {
        return NULL;
    }
    host = strchr(u.hostname, ':') ? apr_pstrcat(p, "[", u.hostname, "]", NULL)
                                   : u.hostname;
    host = apr_pstrcat(p, apr_pstrdup(p, u.scheme), "://", host, NULL);
    /* RFC 6454 §6.2: scheme and host in lower case */
    for (c = (char *)host; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    if (u.port_str && *u.port_str && u.port != apr_uri_port_of_scheme(u.scheme)) {
        host = apr_pstrcat(p, host, ":", u.port_str, NULL);
    }
    return apr_pstrcat(p, host, NULL);
}
