/* Unit tests for jm_cms (sign/encrypt) and jm_keystore (loading and checks).
 *
 * A throwaway PKI is made with the openssl CLI in a temp dir; every CMS
 * output is checked by an independent implementation (openssl cms, and
 * gpgsm when usable). Set JM_TEST_KEEP=1 to keep the temp dir.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/jm_log.h"
#include "smime/jm_cms.h"
#include "smime/jm_keystore.h"
#include "tap.h"
#include "scratch.h"

static char tmpdir[] = "/tmp/jm-test-cms-XXXXXX";
static apr_pool_t *pool;

/* ---------------------------------------------------------------------- */
/* helpers                                                                  */

static const char *path(const char *name)
{
    return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

/* Run a shell command inside tmpdir (scratch.h); exit code. */
#define sh(...) scratch_sh(tmpdir, __VA_ARGS__)


static char *slurp(const char *name, apr_size_t *plen)
{
    char *buf = NULL;
    apr_file_t *f;
    apr_finfo_t fi;

    *plen = 0;
    if (apr_file_open(&f, path(name), APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_FPROT_OS_DEFAULT, pool) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS) {
        buf = apr_palloc(pool, (apr_size_t)fi.size + 1);
        if (apr_file_read_full(f, buf, (apr_size_t)fi.size, plen) != APR_SUCCESS) {
            buf = NULL;
        }
        else {
            buf[*plen] = '\0';
        }
    }
    apr_file_close(f);
    return buf;
}

static int spit(const char *name, const void *data, apr_size_t len)
{
    apr_file_t *f;
    apr_size_t n;
    int ok = 0;

    if (apr_file_open(&f, path(name), APR_FOPEN_WRITE | APR_FOPEN_CREATE
                      | APR_FOPEN_TRUNCATE | APR_FOPEN_BINARY,
                      APR_FPROT_OS_DEFAULT, pool) == APR_SUCCESS) {
        ok = apr_file_write_full(f, data, len, &n) == APR_SUCCESS && n == len;
        apr_file_close(f);
    }
    return ok;
}

static int file_equals(const char *name, const void *data, apr_size_t len)
{
    apr_size_t flen;
    const char *got = slurp(name, &flen);

    return got && flen == len && memcmp(got, data, len) == 0;
}

static int file_contains(const char *name, const char *needle)
{
    apr_size_t len;
    const char *text = slurp(name, &len);

    return text && strstr(text, needle) != NULL;
}

static X509 *load_cert(const char *name)
{
    X509 *x = NULL;
    FILE *fp = fopen(path(name), "r");

    if (fp) {
        x = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
    }
    return jm_cms_own_x509(x, pool);
}

static void log_print(const char *file, int line, jm_log_level_t level,
                      apr_status_t rv, const char *msg, apr_pool_t *p)
{
    (void)file; (void)line; (void)rv; (void)p;
    printf("# log[%d] %s\n", level, msg);
}

static int log_level(jm_log_level_t level)
{
    return level <= JM_LOG_INFO;
}

/* ---------------------------------------------------------------------- */
/* the test PKI                                                             */

static const char *setup_script =
    "set -e\n"
    "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n"
        "subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' > ca.ext\n"
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 "
        "-subj '/CN=JM Test Root' -addext 'keyUsage=critical,keyCertSign,cRLSign'\n"
    "openssl req -new -newkey rsa:2048 -nodes -keyout sub.key -out sub.csr -subj '/CN=JM Test Sub'\n"
    "openssl x509 -req -in sub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 "
        "-extfile ca.ext -out sub.pem\n"
    "leaf() { # name keyspec issuer subject ext\n"
    "  printf \"basicConstraints=CA:FALSE\\n$5\" > $1.ext\n"
    "  openssl req -new -newkey $2 -nodes -keyout $1.key -out $1.csr -subj \"$4\"\n"
    "  openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -days 30 "
        "-extfile $1.ext -out $1.pem\n"
    "  cat $1.key $1.pem > $1-all.pem\n"
    "}\n"
    "SMIME='keyUsage=digitalSignature,nonRepudiation,keyEncipherment\\n"
        "extendedKeyUsage=emailProtection\\n'\n"
    "leaf alice rsa:2048 sub /CN=Alice \"subjectAltName=email:alice@example.com\\n$SMIME\"\n"
    "cat sub.pem >> alice-all.pem\n"
    "leaf bob rsa:2048 ca /CN=Bob \"subjectAltName=email:bob@example.com\\n$SMIME\"\n"
    "leaf carol 'ec -pkeyopt ec_paramgen_curve:P-256' ca /CN=Carol "
        "'subjectAltName=email:Carol@Example.com\\nkeyUsage=digitalSignature,keyAgreement\\n"
        "extendedKeyUsage=emailProtection\\n'\n"
    "leaf ed ed25519 ca /CN=Ed 'subjectAltName=email:ed@example.com\\n'\n"
    "leaf pat 'ec -pkeyopt ec_paramgen_curve:P-384' ca /CN=Pat "
        "'subjectAltName=email:pat@example.com\\n'\n"
    "leaf dave rsa:2048 ca '/CN=Dave/emailAddress=dave@example.com' ''\n"
    "leaf eve rsa:2048 ca /CN=Eve 'subjectAltName=email:eve@example.com\\n"
        "keyUsage=keyEncipherment\\n'\n"
    "leaf frank rsa:2048 ca /CN=Frank 'subjectAltName=email:frank@example.com\\n"
        "extendedKeyUsage=serverAuth,clientAuth\\n'\n"
    "leaf grace rsa:2048 ca /CN=Grace 'subjectAltName=email:grace@example.com,"
        "email:grace.alias@example.com\\nextendedKeyUsage=anyExtendedKeyUsage\\n'\n"
    "leaf small rsa:1024 ca /CN=Small 'subjectAltName=email:small@example.com\\n'\n"
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out old.key\n"
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out future.key\n"
    "mkdir alicedir\n"
    "cp alice.key alicedir/key.pem; cp alice.pem alicedir/cert.pem; cp sub.pem alicedir/chain.pem\n"
    "printf 's3cret pass\\nsecond line is ignored\\n' > pass.txt\n"
    "printf 'wrong\\n' > wrongpass.txt\n"
    ": > emptypass.txt\n"
    "openssl pkcs12 -export -inkey alice.key -in alice.pem -certfile sub.pem "
        "-passout 'pass:s3cret pass' -out alice.p12\n"
    "openssl pkey -in alice.key -aes256 -passout 'pass:s3cret pass' > alice-enc.pem\n"
    "cat alice.pem sub.pem >> alice-enc.pem\n"
    "cat bob.key alice.pem > mismatch.pem\n"
    "cat alice.key alice.pem bob.key bob.pem > twokeys.pem\n"
    "cp alice.pem certonly.pem\n"
    "printf 'not a key\\n' > garbage.pem\n";

/* An RSA leaf for addr valid from now+from_days to now+to_days, issued by
 * the root with the C API (the 3.0 CLI cannot backdate certificates). */
static int make_dated_cert(const char *name, const char *addr, long from_days,
                           long to_days)
{
    EVP_PKEY *cakey = NULL, *key = NULL;
    X509 *ca = NULL, *x = NULL;
    X509V3_CTX ctx;
    X509_EXTENSION *ext = NULL;
    FILE *fp;
    int ok = 0;

    if ((fp = fopen(path("ca.key"), "r"))) {
        cakey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
        fclose(fp);
    }
    if ((fp = fopen(path("ca.pem"), "r"))) {
        ca = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
    }
    if ((fp = fopen(path(apr_pstrcat(pool, name, ".key", NULL)), "r"))) {
        key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
        fclose(fp);
    }
    if (!cakey || !ca || !key || !(x = X509_new())) {
        goto leave;
    }
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242 + from_days);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)name, -1, -1, 0);
    X509_time_adj_ex(X509_getm_notBefore(x), (int)from_days, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), (int)to_days, 0, NULL);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
                              apr_pstrcat(pool, "email:", addr, NULL));
    if (!ext || !X509_add_ext(x, ext, -1) || !X509_sign(x, cakey, EVP_sha256())) {
        goto leave;
    }
    if ((fp = fopen(path(apr_pstrcat(pool, name, "-all.pem", NULL)), "w"))) {
        ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
             && PEM_write_X509(fp, x);
        fclose(fp);
    }
leave:
    X509_EXTENSION_free(ext);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok;
}

/* ---------------------------------------------------------------------- */
/* signing                                                                  */

static const char msg[] =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hello, MARKER-1234 signed world. Caf\xc3\xa9.\r\n"
    "Trailing line with spaces   \r\n";

/* SMIMECapabilities printed by openssl cms -print (asn1parse style), in our
 * order of preference and with nothing else after them. */
static int caps_in_order(const char *name)
{
    static const char *want[] = { ":aes-256-gcm", ":aes-128-gcm", ":aes-256-cbc",
                                  ":aes-128-cbc", NULL };
    apr_size_t len;
    const char *text = slurp(name, &len), *at, *end;
    int i;

    if (!text || !(at = strstr(text, "object: S/MIME Capabilities"))
        || !(end = strstr(at + 1, "object: "))) {
        return 0;
    }
    for (i = 0; want[i]; ++i) {
        if (!(at = strstr(at, want[i])) || at > end) {
            return 0;
        }
    }
    /* exactly four OBJECTs in the attribute */
    for (i = 0, at = strstr(text, "object: S/MIME Capabilities");
         (at = strstr(at + 1, "prim:   OBJECT")) && at < end; ++i) {
    }
    return i == 4;
}

#define SHA256 "algorithm: sha256 (2.16.840.1.101.3.4.2.1)"

static void check_signed(const char *label, const jm_signer_t *signer, int detached,
                         const char *sigalg_text, const char *digest_text)
{
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    jm_cms_err_t err;
    apr_status_t rv;
    const char *f = apr_psprintf(pool, "%s-%s.der", label, detached ? "det" : "opq");
    const char *pr = apr_psprintf(pool, "%s.txt", f);
    const char *out = apr_psprintf(pool, "%s.out", f);
    const char *content = detached ? " -content msg.txt" : "";
    char *tampered;
    const char *mark;

    err.text[0] = '\0';
    rv = jm_cms_sign(&der, &len, signer, msg, sizeof(msg) - 1, detached, &err, pool);
    if (!ok(rv == APR_SUCCESS && der && len > 0, "%s: sign %s", label,
            detached ? "detached" : "opaque")) {
        diag("%s", err.text);
        return;
    }
    ok(ERR_peek_error() == 0, "%s: no OpenSSL errors left queued", label);
    ok(spit(f, der, len), "%s: write DER", label);
    is_int(sh("openssl cms -verify -binary -inform DER -in %s -CAfile ca.pem%s -out %s",
              f, content, out), 0, apr_psprintf(pool, "%s: openssl cms -verify", label));
    if (!detached) {
        ok(file_equals(out, msg, sizeof(msg) - 1), "%s: encapsulated content is byte-exact",
           label);
        mark = memmem(der, len, "MARKER", 6);
        ok(mark != NULL, "%s: content is encapsulated", label);
    }
    else {
        ok(memmem(der, len, "MARKER", 6) == NULL, "%s: content is not encapsulated", label);
    }
    is_int(sh("openssl cms -cmsout -print -inform DER -in %s > %s", f, pr), 0,
           apr_psprintf(pool, "%s: print", label));
    ok(file_contains(pr, "contentType: pkcs7-signedData"), "%s: SignedData", label);
    ok(file_contains(pr, "object: signingTime"), "%s: signingTime", label);
    ok(file_contains(pr, "object: S/MIME Capabilities"), "%s: SMIMECapabilities", label);
    ok(file_contains(pr, "object: id-smime-aa-signingCertificateV2"),
       "%s: signingCertificateV2", label);
    ok(file_contains(pr, "object: messageDigest"), "%s: messageDigest", label);
    ok(file_contains(pr, "object: contentType"), "%s: contentType attribute", label);
    ok(file_contains(pr, digest_text), "%s: digest %s", label, digest_text);
    ok(file_contains(pr, sigalg_text), "%s: signature algorithm %s", label, sigalg_text);
    /* the default OpenSSL list has no GCM and still offers 3DES/RC2 */
    ok(caps_in_order(pr), "%s: capabilities are AES-256/128-GCM then AES-256/128-CBC",
       label);

    /* one flipped byte must break verification */
    if (detached) {
        tampered = apr_pmemdup(pool, msg, sizeof(msg) - 1);
        tampered[50] ^= 0x01;
        spit("tampered.txt", tampered, sizeof(msg) - 1);
        ok(sh("openssl cms -verify -binary -inform DER -in %s -CAfile ca.pem "
              "-content tampered.txt -out /dev/null", f) != 0,
           "%s: verify fails on tampered content", label);
    }
    else {
        tampered = apr_pmemdup(pool, der, len);
        mark = memmem(tampered, len, "MARKER", 6);
        if (mark) {
            tampered[mark - tampered] = 'm';
        }
        spit("tampered.der", tampered, len);
        ok(sh("openssl cms -verify -binary -inform DER -in tampered.der -CAfile ca.pem "
              "-out /dev/null") != 0, "%s: verify fails on tampered encapsulated content",
           label);
    }
}

typedef struct {
    const jm_signer_t *signer;
    int failures;
} thread_arg_t;

static void *sign_thread(void *a)
{
    thread_arg_t *arg = a;
    apr_pool_t *p;
    int i;

    apr_pool_create_unmanaged(&p);
    for (i = 0; i < 25; ++i) {
        const unsigned char *der;
        apr_size_t len;
        jm_cms_err_t err;

        if (jm_cms_sign(&der, &len, arg->signer, msg, sizeof(msg) - 1, i & 1, &err, p)
            != APR_SUCCESS || ERR_peek_error() != 0) {
            arg->failures++;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

static void test_threads(const jm_signer_t *a, const jm_signer_t *b)
{
    pthread_t t[6];
    thread_arg_t args[6];
    int i, failures = 0;

    for (i = 0; i < 6; ++i) {
        args[i].signer = (i & 1) ? a : b;
        args[i].failures = 0;
        pthread_create(&t[i], NULL, sign_thread, &args[i]);
    }
    for (i = 0; i < 6; ++i) {
        pthread_join(t[i], NULL);
        failures += args[i].failures;
    }
    is_int(failures, 0, "150 concurrent signatures with shared signers");
}

/* gpgsm as a second, independent verifier (best effort). */
static void test_gpgsm(void)
{
    int rc;

    if (sh("command -v gpgsm") != 0) {
        ok(1, "# SKIP gpgsm not installed");
        return;
    }
    rc = sh("mkdir -p gnupg && chmod 700 gnupg && export GNUPGHOME=$PWD/gnupg && "
            "echo disable-crl-checks > gnupg/gpgsm.conf && "
            "echo disable-dirmngr >> gnupg/gpgsm.conf && "
            "gpgsm --batch --import ca.pem sub.pem && "
            "fpr=$(openssl x509 -in ca.pem -noout -fingerprint -sha1 | sed 's/.*=//') && "
            "echo \"$fpr S relax\" > gnupg/trustlist.txt && "
            "gpgsm --batch --status-fd 1 --verify alice-pkcs1-opq.der "
            "  > gpgsm-status.txt && "
            "gpgsm --batch --status-fd 1 --verify carol-ecdsa-det.der msg.txt "
            "  >> gpgsm-status.txt");
    if (rc != 0) {
        sh("GNUPGHOME=$PWD/gnupg gpgconf --kill all");
        ok(1, "# SKIP gpgsm verification not workable here (exit %d, see cmd.log)", rc);
        return;
    }
    ok(file_contains("gpgsm-status.txt", "GOODSIG"), "gpgsm: GOODSIG");
    ok(file_contains("gpgsm-status.txt", "TRUST_FULLY"), "gpgsm: trusted chain");
    sh("GNUPGHOME=$PWD/gnupg gpgconf --kill all");
}

/* ---------------------------------------------------------------------- */
/* encryption                                                               */

static void check_encrypted(jm_cms_cipher_t cipher, jm_cms_kt_pad_t pad,
                            STACK_OF(X509) *recips)
{
    static const char *names[] = { "bob", "carol", "alice" };
    jm_cms_encrypt_opts_t opts = { cipher, pad };
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    jm_cms_err_t err;
    const char *label = apr_psprintf(pool, "%s/%s",
                                     cipher == JM_CMS_AES256_GCM ? "gcm" : "cbc",
                                     pad == JM_CMS_KT_RSA_OAEP ? "oaep" : "pkcs1");
    const char *f = apr_psprintf(pool, "enc-%s-%s.der",
                                 cipher == JM_CMS_AES256_GCM ? "gcm" : "cbc",
                                 pad == JM_CMS_KT_RSA_OAEP ? "oaep" : "pkcs1");
    const char *pr = apr_psprintf(pool, "%s.txt", f);
    size_t i;

    err.text[0] = '\0';
    if (!ok(jm_cms_encrypt(&der, &len, recips, msg, sizeof(msg) - 1, &opts, &err, pool)
            == APR_SUCCESS && der && len, "%s: encrypt to RSA+EC recipients", label)) {
        diag("%s", err.text);
        return;
    }
    ok(ERR_peek_error() == 0, "%s: no OpenSSL errors left queued", label);
    ok(memmem(der, len, "MARKER", 6) == NULL, "%s: no plaintext in output", label);
    spit(f, der, len);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        const char *out = apr_psprintf(pool, "%s.%s", f, names[i]);
        is_int(sh("openssl cms -decrypt -binary -inform DER -in %s -recip %s.pem "
                  "-inkey %s.key -out %s", f, names[i], names[i], out), 0,
               apr_psprintf(pool, "%s: %s decrypts", label, names[i]));
        ok(file_equals(out, msg, sizeof(msg) - 1), "%s: %s gets the exact bytes",
           label, names[i]);
    }
    ok(sh("openssl cms -decrypt -binary -inform DER -in %s -recip dave.pem "
          "-inkey dave.key -out /dev/null", f) != 0, "%s: a non-recipient cannot decrypt",
       label);
    sh("openssl cms -cmsout -print -inform DER -in %s > %s", f, pr);
    if (cipher == JM_CMS_AES256_GCM) {
        ok(file_contains(pr, "contentType: id-smime-ct-authEnvelopedData"),
           "%s: AuthEnvelopedData", label);
        ok(file_contains(pr, "algorithm: aes-256-gcm"), "%s: AES-256-GCM", label);
    }
    else {
        ok(file_contains(pr, "contentType: pkcs7-envelopedData"), "%s: EnvelopedData", label);
        ok(file_contains(pr, "algorithm: aes-256-cbc"), "%s: AES-256-CBC", label);
    }
    if (pad == JM_CMS_KT_RSA_OAEP) {
        ok(file_contains(pr, "algorithm: rsaesOaep") && !file_contains(pr, "algorithm: rsaEncryption"),
           "%s: RSA recipients use OAEP", label);
    }
    else {
        ok(file_contains(pr, "algorithm: rsaEncryption") && !file_contains(pr, "rsaesOaep"),
           "%s: RSA recipients use PKCS#1 v1.5", label);
    }
    /* RFC 8551 §2.3: key wrap size == content cipher size (256) */
    ok(file_contains(pr, "dhSinglePass-stdDH-sha256kdf-scheme")
       && file_contains(pr, ":id-aes256-wrap")
       && !file_contains(pr, "id-aes128-wrap"),
       "%s: EC recipient uses ECDH ES with AES-256 key wrap", label);
}

/* ---------------------------------------------------------------------- */
/* key store                                                                */

static void load_fails(jm_keystore_t *ks, const char *label, const char *address,
                       const char *file, const char *passfile, const char *expect)
{
    const char *perr = NULL;
    const char *uri = file ? path(file) : NULL;
    apr_status_t rv;

    rv = jm_keystore_load(ks, address, uri, passfile ? path(passfile) : NULL,
                          JM_CMS_SIG_RSA_PKCS1, &perr, pool);
    ok(rv != APR_SUCCESS, "keystore: %s is refused", label);
    ok(perr && *perr && (!uri || strstr(perr, uri)), "keystore: %s: message names the uri",
       label);
    ok(perr && strstr(perr, expect), "keystore: %s: message says '%s'", label, expect);
    ok(perr && !strstr(perr, "PRIVATE KEY") && !strstr(perr, "s3cret"),
       "keystore: %s: message holds no secrets", label);
    ok(ERR_peek_error() == 0, "keystore: %s: OpenSSL error queue empty", label);
    diag("perr: %s", perr ? perr : "(null)");
}

static const jm_signer_t *load_ok(jm_keystore_t *ks, const char *label,
                                  const char *address, const char *uri,
                                  const char *passfile, jm_cms_sig_pad_t pad)
{
    const char *perr = NULL;
    apr_status_t rv;

    rv = jm_keystore_load(ks, address, uri, passfile ? path(passfile) : NULL,
                          pad, &perr, pool);
    if (!ok(rv == APR_SUCCESS && perr == NULL, "keystore: %s loads", label)) {
        diag("perr: %s", perr ? perr : "(null)");
    }
    ok(ERR_peek_error() == 0, "keystore: %s: OpenSSL error queue empty", label);
    return jm_keystore_find(ks, address);
}

static int signer_chain_len(const char *label, const jm_signer_t *s)
{
    /* sign and count certificates in the output: leaf + chain */
    const unsigned char *der;
    apr_size_t len;
    jm_cms_err_t err;
    int n = -1;

    if (s && jm_cms_sign(&der, &len, s, "x", 1, 1, &err, pool) == APR_SUCCESS) {
        const unsigned char *d = der;
        CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &d, (long)len);
        STACK_OF(X509) *certs = cms ? CMS_get1_certs(cms) : NULL;
        n = certs ? sk_X509_num(certs) : 0;
        sk_X509_pop_free(certs, X509_free);
        CMS_ContentInfo_free(cms);
    }
    (void)label;
    return n;
}

static void test_keystore(void)
{
    jm_keystore_t *ks, *ks2;
    const jm_signer_t *s, *s2;

    jm_keystore_create(&ks, pool);
    is_int(jm_keystore_count(ks), 0, "keystore: empty at start");
    ok(jm_keystore_find(ks, "alice@example.com") == NULL, "keystore: find on empty store");

    /* the good cases */
    s = load_ok(ks, "PEM key+cert+chain in one file", "alice@example.com",
                path("alice-all.pem"), NULL, JM_CMS_SIG_RSA_PKCS1);
    ok(s != NULL, "keystore: alice found");
    ok(jm_keystore_find(ks, "ALICE@Example.COM") == s, "keystore: find is case-insensitive");
    ok(jm_keystore_find(ks, "alice@example.org") == NULL, "keystore: unknown address is NULL");
    ok(jm_keystore_find(ks, "") == NULL, "keystore: empty address is NULL");
    ok(jm_keystore_find(ks, NULL) == NULL, "keystore: NULL address is NULL");
    is_int(signer_chain_len("alice", s), 2, "keystore: leaf and chain certificate kept");
    is_str(jm_cms_signer_micalg(s), "sha-256", "keystore: RSA micalg sha-256");
    s = load_ok(ks, "EC P-256 key, address differs in case", "carol@example.com",
                path("carol-all.pem"), NULL, JM_CMS_SIG_RSA_PSS);
    ok(s != NULL, "keystore: carol found");
    is_str(jm_cms_signer_micalg(s), "sha-256", "keystore: P-256 micalg sha-256");
    s = load_ok(ks, "subject emailAddress without SAN", "dave@example.com",
                path("dave-all.pem"), NULL, JM_CMS_SIG_RSA_PKCS1);
    ok(s != NULL, "keystore: dave found");
    s = load_ok(ks, "second SAN, anyExtendedKeyUsage", "grace.alias@example.com",
                path("grace-all.pem"), NULL, JM_CMS_SIG_RSA_PKCS1);
    ok(s != NULL, "keystore: grace found by her second address");
    is_int(jm_keystore_count(ks), 4, "keystore: four keys");

    jm_keystore_create(&ks2, pool);
    s = load_ok(ks2, "separate files in a directory", "alice@example.com",
                path("alicedir"), NULL, JM_CMS_SIG_RSA_PKCS1);
    is_int(signer_chain_len("alicedir", s), 2, "keystore: directory: chain kept");
    jm_keystore_create(&ks2, pool);
    s = load_ok(ks2, "PKCS#12 with passfile", "alice@example.com",
                path("alice.p12"), "pass.txt", JM_CMS_SIG_RSA_PKCS1);
    is_int(signer_chain_len("p12", s), 2, "keystore: PKCS#12: chain kept");
    jm_keystore_create(&ks2, pool);
    s = load_ok(ks2, "file: URI to an encrypted PEM key with passfile", "alice@example.com",
                apr_pstrcat(pool, "file:", path("alice-enc.pem"), NULL), "pass.txt",
                JM_CMS_SIG_RSA_PKCS1);
    ok(s != NULL, "keystore: encrypted PEM found");
    jm_keystore_create(&ks2, pool);
    s = load_ok(ks2, "unencrypted PEM with a passfile it does not need", "alice@example.com",
                path("alice-all.pem"), "pass.txt", JM_CMS_SIG_RSA_PKCS1);
    ok(s != NULL, "keystore: unneeded passfile is harmless");

    /* the bad cases, each with a message */
    jm_keystore_create(&ks2, pool);
    load_fails(ks2, "wrong PKCS#12 passphrase", "alice@example.com", "alice.p12",
               "wrongpass.txt", "no private key found");
    load_fails(ks2, "PKCS#12 without passfile", "alice@example.com", "alice.p12",
               NULL, "no private key found");
    load_fails(ks2, "wrong PEM passphrase", "alice@example.com", "alice-enc.pem",
               "wrongpass.txt", "no private key found");
    load_fails(ks2, "missing passfile", "alice@example.com", "alice.p12",
               "nonexistent-pass.txt", "cannot open passphrase file");
    load_fails(ks2, "empty passfile", "alice@example.com", "alice.p12",
               "emptypass.txt", "is empty");
    load_fails(ks2, "mismatched key and certificate", "alice@example.com",
               "mismatch.pem", NULL, "no certificate matches the private key");
    load_fails(ks2, "certificate without key", "alice@example.com", "certonly.pem",
               NULL, "no private key found");
    load_fails(ks2, "key without certificate", "alice@example.com", "alice.key",
               NULL, "no certificate found");
    load_fails(ks2, "two keys in one file", "alice@example.com", "twokeys.pem",
               NULL, "more than one private key");
    load_fails(ks2, "garbage file", "alice@example.com", "garbage.pem",
               NULL, "no private key found");
    load_fails(ks2, "missing file", "alice@example.com", "nonexistent.pem",
               NULL, "cannot open");
    load_fails(ks2, "expired certificate", "old@example.com", "old-all.pem",
               NULL, "certificate has expired");
    load_fails(ks2, "certificate not yet valid", "future@example.com", "future-all.pem",
               NULL, "not yet valid");
    load_fails(ks2, "address not in the certificate", "alice@example.com", "bob-all.pem",
               NULL, "the address is neither");
    load_fails(ks2, "SAN present: subject emailAddress not used", "someone@example.com",
               "grace-all.pem", NULL, "the address is neither");
    load_fails(ks2, "keyUsage without digitalSignature", "eve@example.com", "eve-all.pem",
               NULL, "keyUsage");
    load_fails(ks2, "EKU without emailProtection", "frank@example.com", "frank-all.pem",
               NULL, "emailProtection");
    load_fails(ks2, "RSA-1024 key", "small@example.com", "small-all.pem",
               NULL, "2048");
    load_fails(ks2, "Ed25519 key (no EdDSA in OpenSSL 3.0 CMS)", "ed@example.com",
               "ed-all.pem", NULL, "unsupported key type");
    load_fails(ks2, "address without @", "alice", "alice-all.pem", NULL, "invalid address");
    load_fails(ks2, "empty uri", "alice@example.com", NULL, NULL, "invalid");
    is_int(jm_keystore_count(ks2), 0, "keystore: nothing loaded by failures");
    load_fails(ks, "duplicate address", "Alice@example.com", "alice-all.pem", NULL,
               "already configured");
    is_int(jm_keystore_count(ks), 4, "keystore: count unchanged by the duplicate");

    /* the keystore's signer really signs */
    s2 = jm_keystore_find(ks, "dave@example.com");
    ok(signer_chain_len("dave", s2) == 1, "keystore: dave signs, no chain");
}

/* ---------------------------------------------------------------------- */

static void test_errors(jm_signer_t *alice, STACK_OF(X509) *recips)
{
    const unsigned char *der = (const unsigned char *)"x";
    apr_size_t len = 7;
    jm_cms_err_t err;
    jm_cms_encrypt_opts_t bad = { (jm_cms_cipher_t)7, JM_CMS_KT_RSA_PKCS1 };
    jm_cms_encrypt_opts_t good = { JM_CMS_AES256_GCM, JM_CMS_KT_RSA_PKCS1 };
    STACK_OF(X509) *empty = sk_X509_new_null();
    jm_signer_t *s = NULL;
    EVP_PKEY *dsa;
    X509 *cert = load_cert("bob.pem");

    err.text[0] = '\0';
    ok(jm_cms_sign(&der, &len, NULL, msg, 3, 0, &err, pool) != APR_SUCCESS,
       "sign without signer fails");
    ok(der == NULL && len == 0, "failed sign clears the outputs");
    ok(strstr(err.text, "jm_cms_sign") != NULL, "error text names the call");
    ok(jm_cms_sign(&der, &len, alice, NULL, 3, 0, &err, pool) != APR_SUCCESS,
       "sign with NULL data and a length fails");
    ok(jm_cms_sign(&der, &len, alice, "", 0, 1, &err, pool) == APR_SUCCESS && len > 0,
       "sign of empty content works");
    ok(jm_cms_encrypt(&der, &len, empty, msg, 3, &good, &err, pool) != APR_SUCCESS,
       "encrypt to no recipients fails");
    ok(jm_cms_encrypt(&der, &len, NULL, msg, 3, &good, &err, pool) != APR_SUCCESS,
       "encrypt to NULL recipients fails");
    ok(jm_cms_encrypt(&der, &len, recips, msg, 3, &bad, &err, pool) != APR_SUCCESS,
       "encrypt with an unknown cipher fails");
    ok(strstr(err.text, "unknown cipher") != NULL, "error text says why");
    ok(jm_cms_encrypt(&der, &len, recips, msg, 3, NULL, &err, pool) != APR_SUCCESS,
       "encrypt without options fails");
    sk_X509_free(empty);

    /* an unsupported key type is refused up front */
    dsa = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    ok(dsa && jm_cms_signer_make(&s, dsa, cert, NULL, JM_CMS_SIG_RSA_PKCS1, pool)
       == APR_ENOTIMPL && s == NULL, "signer_make refuses an X25519 key");
    ok(jm_cms_signer_make(&s, NULL, cert, NULL, JM_CMS_SIG_RSA_PKCS1, pool) == APR_EINVAL,
       "signer_make refuses a NULL key");
    EVP_PKEY_free(dsa);

    /* a signer whose key does not match the certificate cannot sign */
    {
        jm_signer_t *wrong;
        EVP_PKEY *k = NULL;
        FILE *fp = fopen(path("carol.key"), "r");
        if (fp) {
            k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
            fclose(fp);
        }
        ok(k && jm_cms_signer_make(&wrong, k, cert, NULL, JM_CMS_SIG_RSA_PKCS1, pool)
           == APR_SUCCESS, "signer_make does not check the key (keystore does)");
        EVP_PKEY_free(k);   /* the signer holds its own reference */
        err.text[0] = '\0';
        ok(k && jm_cms_sign(&der, &len, wrong, msg, 3, 0, &err, pool) != APR_SUCCESS,
           "signing with a mismatched key fails");
        ok(strstr(err.text, "openssl:") != NULL, "error text carries the OpenSSL reason");
        diag("err: %s", err.text);
        ok(ERR_peek_error() == 0, "error queue drained after failure");
    }

    /* jm_cms_err_set drains everything */
    ERR_raise_data(ERR_LIB_CMS, CMS_R_NO_SIGNERS, "first %d", 1);
    ERR_raise(ERR_LIB_CMS, CMS_R_NOT_ENCRYPTED_DATA);
    jm_cms_err_set(&err, "here");
    ok(strncmp(err.text, "here; openssl: ", 15) == 0, "err_set: prefix");
    ok(strstr(err.text, "no signers") && strstr(err.text, "first 1")
       && strstr(err.text, " | "), "err_set: both errors with data");
    ok(ERR_peek_error() == 0, "err_set: queue empty");
    {
        int i;
        for (i = 0; i < 40; ++i) {
            ERR_raise_data(ERR_LIB_CMS, CMS_R_NO_SIGNERS, "%s",
                           "a rather long piece of error data to overflow the buffer");
        }
        jm_cms_err_set(&err, "overflow");
        ok(strlen(err.text) < sizeof(err.text), "err_set: long queues are truncated");
        ok(ERR_peek_error() == 0, "err_set: long queue fully drained");
    }
    jm_cms_err_set(NULL, "no err");
    ok(1, "err_set accepts NULL");

    is_str(jm_cms_smime_type(JM_CMS_AES256_GCM), "authEnveloped-data", "smime-type GCM");
    is_str(jm_cms_smime_type(JM_CMS_AES256_CBC), "enveloped-data", "smime-type CBC");
    ok(jm_cms_own_x509(NULL, pool) == NULL, "own_x509(NULL)");
    ok(jm_cms_signer_cert(alice) != NULL && jm_cms_signer_cert(NULL) == NULL,
       "signer_cert");
}

int main(void)
{
    jm_keystore_t *ks, *kspss;
    const jm_signer_t *alice, *alice_pss, *carol, *pat;
    STACK_OF(X509) *recips;
    int ready;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    jm_log_set(log_print, log_level);

    if (!mkdtemp(tmpdir)) {
        printf("1..0 # SKIP cannot create temp dir\n");
        return 0;
    }
    spit("setup.sh", setup_script, strlen(setup_script));
    ready = sh("sh ./setup.sh") == 0
            && make_dated_cert("old", "old@example.com", -10, -1)
            && make_dated_cert("future", "future@example.com", 1, 10);
    if (!ok(ready, "test PKI created in %s", tmpdir)) {
        sh("cat cmd.log >&2");
        return done_testing();
    }
    spit("msg.txt", msg, sizeof(msg) - 1);

    test_keystore();

    jm_keystore_create(&ks, pool);
    jm_keystore_create(&kspss, pool);
    alice = load_ok(ks, "alice for signing", "alice@example.com", path("alice-all.pem"),
                    NULL, JM_CMS_SIG_RSA_PKCS1);
    carol = load_ok(ks, "carol for signing", "carol@example.com", path("carol-all.pem"),
                    NULL, JM_CMS_SIG_RSA_PKCS1);
    alice_pss = load_ok(kspss, "alice with PSS", "alice@example.com",
                        path("alice.p12"), "pass.txt", JM_CMS_SIG_RSA_PSS);
    if (alice && carol && alice_pss) {
        check_signed("alice-pkcs1", alice, 0, "algorithm: rsaEncryption", SHA256);
        check_signed("alice-pkcs1", alice, 1, "algorithm: rsaEncryption", SHA256);
        check_signed("alice-pss", alice_pss, 0, "algorithm: rsassaPss", SHA256);
        check_signed("alice-pss", alice_pss, 1, "algorithm: rsassaPss", SHA256);
        /* RFC 4056: hash sha256 [0], MGF1-SHA-256 [1], salt length 32 [2] */
        ok(file_contains("alice-pss-opq.der.txt", ":mgf1\n")
           && file_contains("alice-pss-opq.der.txt", "cont [ 2 ]")
           && file_contains("alice-pss-opq.der.txt", "INTEGER           :20\n")
           && !file_contains("alice-pss-opq.der.txt", ":sha1\n"),
           "PSS: SHA-256, MGF1-SHA-256, salt length 32");
        check_signed("carol-ecdsa", carol, 0, "algorithm: ecdsa-with-SHA256", SHA256);
        check_signed("carol-ecdsa", carol, 1, "algorithm: ecdsa-with-SHA256", SHA256);
        pat = load_ok(ks, "EC P-384 for signing", "pat@example.com", path("pat-all.pem"),
                      NULL, JM_CMS_SIG_RSA_PSS);
        is_str(jm_cms_signer_micalg(pat), "sha-384", "P-384 micalg sha-384");
        check_signed("pat-ecdsa384", pat, 1, "algorithm: ecdsa-with-SHA384",
                     "algorithm: sha384 (2.16.840.1.101.3.4.2.2)");
        test_gpgsm();
        test_threads(alice, carol);
    }

    recips = sk_X509_new_null();
    sk_X509_push(recips, load_cert("bob.pem"));
    sk_X509_push(recips, load_cert("carol.pem"));
    sk_X509_push(recips, load_cert("alice.pem"));
    check_encrypted(JM_CMS_AES256_GCM, JM_CMS_KT_RSA_PKCS1, recips);
    check_encrypted(JM_CMS_AES256_GCM, JM_CMS_KT_RSA_OAEP, recips);
    check_encrypted(JM_CMS_AES256_CBC, JM_CMS_KT_RSA_PKCS1, recips);
    check_encrypted(JM_CMS_AES256_CBC, JM_CMS_KT_RSA_OAEP, recips);

    test_errors((jm_signer_t *)alice, recips);
    sk_X509_free(recips);   /* certs are owned by the pool */

    if (!getenv("JM_TEST_KEEP") && !tap_failed) {
        sh("cd / && rm -rf '%s'", tmpdir);
    }
    else {
        diag("temp dir kept: %s", tmpdir);
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return done_testing();
}
