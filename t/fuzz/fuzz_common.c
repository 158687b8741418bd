/* Shared set-up of the fuzz targets: see fuzz_common.h. */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_allocator.h>
#include <apr_dbd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "fuzz_common.h"
#include "mail/jm_blob.h"
#include "core/jm_log.h"
#include "mime/jm_mime.h"
#include "mail/jm_email_view.h"
#include "store/jm_schema.h"
#include "store/jm_store.h"
#include "core/jm_util.h"

apr_pool_t *fz_pool;

#ifdef FZ_UBSAN_SUPP
/* t/fuzz/build.sh: UBSan reports are fatal (like a crash, so libFuzzer
 * keeps the input) except the known ones in t/fuzz/ubsan.supp.
 * UBSAN_OPTIONS in the environment still wins. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1:suppressions=" FZ_UBSAN_SUPP;
}
#endif

/* ------------------------------------------------------------------ */
/* process                                                            */
/* ------------------------------------------------------------------ */

void fz_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz set-up failed: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    ERR_print_errors_fp(stderr);
    exit(2);
}

/* Every message is formatted (format bugs are findings), none printed
 * unless JM_FUZZ_LOG is set. */
static int log_verbose;

static void log_print(const char *file, int line, jm_log_level_t level,
                      apr_status_t rv, const char *msg, apr_pool_t *p)
{
    (void)p;
    if (log_verbose) {
        fprintf(stderr, "[log %d] %s:%d (rv %d) %s\n", level, file, line, rv, msg);
    }
}

static int log_is_level(jm_log_level_t level)
{
    (void)level;
    return 1;
}

void fz_init(void)
{
    static int done;

    if (done) {
        return;
    }
    done = 1;
    /* GLib's slice allocator would hide GMime's allocations from ASan */
    setenv("G_SLICE", "always-malloc", 0);
    setenv("G_DEBUG", "gc-friendly", 0);
    log_verbose = getenv("JM_FUZZ_LOG") != NULL;
    if (apr_initialize() != APR_SUCCESS) {
        fz_die("apr_initialize");
    }
    apr_pool_create(&fz_pool, NULL);
    apr_dbd_init(fz_pool);
    jm_log_set(log_print, log_is_level);
    jm_mime_global_init();
    if (jm_db_process_init(fz_pool) != APR_SUCCESS) {
        fz_die("jm_db_process_init");
    }
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
}

static char tmpdir[4096];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void rm_tmpdir(void)
{
    if (tmpdir[0] && !getenv("JM_FUZZ_KEEP")) {
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

const char *fz_tmpdir(void)
{
    const char *bases[4];
    int i, n = 0;

    if (tmpdir[0]) {
        return tmpdir;
    }
    if (getenv("JM_FUZZ_TMPDIR")) {
        bases[n++] = getenv("JM_FUZZ_TMPDIR");
    }
    if (access("/dev/shm", W_OK) == 0) {
        bases[n++] = "/dev/shm";
    }
    bases[n++] = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (i = 0; i < n; ++i) {
        snprintf(tmpdir, sizeof(tmpdir), "%s/jm-fuzz.XXXXXX", bases[i]);
        if (mkdtemp(tmpdir)) {
            atexit(rm_tmpdir);
            return tmpdir;
        }
    }
    fz_die("cannot create a temporary directory: %s", strerror(errno));
}

const char *fz_write_file(const char *name, const void *data, size_t len,
                          apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, fz_tmpdir(), "/", name, NULL);
    FILE *f = fopen(path, "wb");

    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fz_die("cannot write %s", path);
    }
    return path;
}

void fz_limits(jm_limits_t *l)
{
    /* the production defaults (src/httpd/mod_jm_config.c) */
    memset(l, 0, sizeof(*l));
    l->max_size_upload = 50000000;
    l->max_concurrent_upload = 4;
    l->max_size_request = 10000000;
    l->max_concurrent_requests = 8;
    l->max_calls_in_request = 32;
    l->max_objects_in_get = 500;
    l->max_objects_in_set = 500;
    l->max_size_attachments = 50000000;
    l->max_size_response = 25000000;
    l->max_size_created = 100000000;
    l->max_recipients = 100;
    l->max_header_items = 1000;
    l->max_mime_depth = 20;
    l->max_directory_seconds = 30;
    l->max_mailboxes = 10000;
}

apr_pool_t *fz_run_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p;

    fz_init();
    if (apr_allocator_create(&a) != APR_SUCCESS) {
        fz_die("apr_allocator_create");
    }
    apr_allocator_max_free_set(a, 1);
    if (apr_pool_create_ex(&p, fz_pool, NULL, a) != APR_SUCCESS) {
        fz_die("apr_pool_create_ex");
    }
    apr_allocator_owner_set(a, p);
    return p;
}

void fz_run_pool_done(apr_pool_t *p)
{
    apr_pool_destroy(p);
    ERR_clear_error();
}

uint32_t fz_hash(const void *data, size_t len)
{
    const unsigned char *d = data;
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; ++i) {
        h = (h ^ d[i]) * 16777619u;
    }
    return h;
}

int fz_avoid_known(void)
{
    static int v = -1;

    if (v < 0) {
        const char *e = getenv("JM_FUZZ_AVOID_KNOWN");
        v = e && *e && strcmp(e, "0") != 0;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* PKI                                                                */
/* ------------------------------------------------------------------ */

/* The root's key is fixed so that certificates and CRLs in the seed corpus
 * (t/fuzz/corpus/fuzz_certdir, made by FZ_WRITE_SEEDS) verify against the
 * root made at start. A test key, used for nothing else. */
static const char ca_key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIAqu6NmGCWMyPiwRUE7JzOa3eK5z8mylR3wLWHSKE6fZoAoGCCqGSM49\n"
    "AwEHoUQDQgAEpv6KR20iI+gZOSBVuHQh0/DqYn7hlH79/+pY9bxLV6ax1QtFStd5\n"
    "sDi859WhAdVH+acgwMQz3zSFoJ/OOvXAog==\n"
    "-----END EC PRIVATE KEY-----\n";

EVP_PKEY *fz_ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (!k) {
        fz_die("EC key generation");
    }
    return k;
}

EVP_PKEY *fz_rsa_key(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);

    if (!k) {
        fz_die("RSA key generation");
    }
    return k;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

    if (!e || !X509_add_ext(x, e, -1)) {
        fz_die("extension %s=%s", OBJ_nid2sn(nid), value);
    }
    X509_EXTENSION_free(e);
}

X509 *fz_make_cert(EVP_PKEY *key, const char *cn, const char *email,
                   EVP_PKEY *issuer_key, X509 *issuer, long from_days,
                   long to_days, const char *ku, const char *eku, long serial,
                   int is_ca)
{
    X509 *x = X509_new();
    X509_NAME *n;
    X509V3_CTX ctx;

    if (!x) {
        fz_die("X509_new");
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
    X509_set_pubkey(x, key);
    n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                               -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (issuer) {
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid");
    }
    if (ku) {
        add_ext(x, &ctx, NID_key_usage, ku);
    }
    if (eku) {
        add_ext(x, &ctx, NID_ext_key_usage, eku);
    }
    if (email) {
        add_ext(x, &ctx, NID_subject_alt_name, apr_pstrcat(fz_pool, "email:", email, NULL));
    }
    if (!X509_sign(x, issuer_key, EVP_sha256())) {
        fz_die("X509_sign %s", cn);
    }
    return x;
}

const unsigned char *fz_cert_der(X509 *x, size_t *plen, apr_pool_t *p)
{
    unsigned char *der = NULL, *out;
    int n = i2d_X509(x, &der);

    if (n <= 0) {
        fz_die("i2d_X509");
    }
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *plen = (size_t)n;
    return out;
}

const unsigned char *fz_crl_der(X509_CRL *c, size_t *plen, apr_pool_t *p)
{
    unsigned char *der = NULL, *out;
    int n = i2d_X509_CRL(c, &der);

    if (n <= 0) {
        fz_die("i2d_X509_CRL");
    }
    out = apr_pmemdup(p, der, (apr_size_t)n);
    OPENSSL_free(der);
    *plen = (size_t)n;
    return out;
}

static char *pem_of(int (*wr)(BIO *, void *), void *obj, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    if (!b || !wr(b, obj)) {
        fz_die("PEM write");
    }
    n = BIO_get_mem_data(b, &data);
    out = apr_pstrmemdup(p, data, (apr_size_t)n);
    BIO_free(b);
    return out;
}

static int wr_cert(BIO *b, void *x) { return PEM_write_bio_X509(b, x); }
static int wr_crl(BIO *b, void *c) { return PEM_write_bio_X509_CRL(b, c); }
static int wr_key(BIO *b, void *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

#define KU_SIGN_RSA "critical,digitalSignature,nonRepudiation,keyEncipherment"
#define KU_SIGN_EC  "critical,digitalSignature,nonRepudiation,keyAgreement"
#define EKU_SMIME   "emailProtection"

static void ident(fz_ident_t *id, const char *addr, EVP_PKEY *key, const char *ku,
                  EVP_PKEY *ikey, X509 *issuer, long from, long to, long serial)
{
    id->addr = addr;
    id->key = key;
    id->cert = fz_make_cert(key, addr, addr, ikey, issuer, from, to, ku, EKU_SMIME,
                            serial, 0);
}

fz_pki_t *fz_pki(void)
{
    static fz_pki_t *k;
    BIO *b;
    EVP_PKEY *rsa;
    ASN1_TIME *t;
    X509_REVOKED *r;

    if (k) {
        return k;
    }
    fz_init();
    k = apr_pcalloc(fz_pool, sizeof(*k));
    b = BIO_new_mem_buf(ca_key_pem, -1);
    k->ca_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!k->ca_key) {
        fz_die("fixed CA key");
    }
    k->ca = fz_make_cert(k->ca_key, "JM Fuzz Root", NULL, k->ca_key, NULL, -3650,
                         36500, "critical,keyCertSign,cRLSign", NULL, 1, 1);
    k->other_key = fz_ec_key();
    k->other = fz_make_cert(k->other_key, "JM Fuzz Other Root", NULL, k->other_key,
                            NULL, -3650, 36500, "critical,keyCertSign,cRLSign",
                            NULL, 1, 1);
    rsa = fz_rsa_key();
    EVP_PKEY_up_ref(rsa);
    ident(&k->alice, "alice@example.com", fz_ec_key(), KU_SIGN_EC, k->ca_key, k->ca,
          -10, 3650, 100);
    ident(&k->sales, "sales@example.com", rsa, KU_SIGN_RSA, k->ca_key, k->ca,
          -10, 3650, 101);
    ident(&k->bob, "bob@example.com", rsa, KU_SIGN_RSA, k->ca_key, k->ca,
          -10, 3650, 102);
    ident(&k->carol, "carol@example.com", fz_ec_key(), KU_SIGN_EC, k->ca_key, k->ca,
          -10, 3650, 103);
    ident(&k->dave, "dave@example.com", fz_ec_key(), KU_SIGN_EC, k->ca_key, k->ca,
          -400, -30, 104);
    ident(&k->erin, "erin@example.com", fz_ec_key(), KU_SIGN_EC, k->ca_key, k->ca,
          -10, 3650, 105);
    ident(&k->frank, "frank@example.com", fz_ec_key(), "critical,digitalSignature",
          k->ca_key, k->ca, -10, 3650, 106);
    ident(&k->grace, "grace@example.com", fz_ec_key(), KU_SIGN_EC, k->other_key,
          k->other, -10, 3650, 107);

    k->crl = X509_CRL_new();
    X509_CRL_set_version(k->crl, 1);
    X509_CRL_set_issuer_name(k->crl, X509_get_subject_name(k->ca));
    t = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
    X509_CRL_set1_lastUpdate(k->crl, t);
    ASN1_TIME_adj(t, time(NULL), 30, 0);
    X509_CRL_set1_nextUpdate(k->crl, t);
    r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(k->erin.cert));
    ASN1_TIME_adj(t, time(NULL), -1, 0);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(k->crl, r);
    ASN1_TIME_free(t);
    X509_CRL_sort(k->crl);
    if (!X509_CRL_sign(k->crl, k->ca_key, EVP_sha256())) {
        fz_die("X509_CRL_sign");
    }
    k->ca_file = fz_write_file("ca.pem", pem_of(wr_cert, k->ca, fz_pool),
                               strlen(pem_of(wr_cert, k->ca, fz_pool)), fz_pool);
    {
        const char *c = pem_of(wr_crl, k->crl, fz_pool);
        k->crl_file = fz_write_file("ca.crl", c, strlen(c), fz_pool);
    }
    return k;
}

/* ------------------------------------------------------------------ */
/* the in-memory directory                                            */
/* ------------------------------------------------------------------ */

static void add_cert_value(jm_ldap_entry_t *e, const char *attr, X509 *x, apr_pool_t *p)
{
    size_t n;
    const unsigned char *der = fz_cert_der(x, &n, p);

    fz_value_add(e, attr, der, n, p);
}

/* userSMIMECertificate: a certs-only PKCS#7 SignedData */
static void add_pkcs7_value(jm_ldap_entry_t *e, X509 *x, apr_pool_t *p)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int n;

    if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed)
        || !PKCS7_content_new(p7, NID_pkcs7_data) || !PKCS7_add_certificate(p7, x)
        || (n = i2d_PKCS7(p7, &der)) <= 0) {
        fz_die("PKCS#7 certs-only");
    }
    fz_value_add(e, "userSMIMECertificate", der, (size_t)n, p);
    OPENSSL_free(der);
    PKCS7_free(p7);
}

apr_status_t fz_dir_default(apr_array_header_t **pentries, const char *base,
                            const char *filter, const char *const *attrs,
                            const char **perr, apr_pool_t *p)
{
    fz_pki_t *k = fz_pki();
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(jm_ldap_entry_t));
    const char *v;
    jm_ldap_entry_t *e;
    fz_ident_t *ids[] = { &k->alice, &k->sales, &k->bob, &k->carol, &k->dave,
                          &k->erin, &k->frank, &k->grace };
    size_t i;

    (void)base;
    (void)attrs;
    *pentries = out;
    if (!strcmp(filter, "(objectClass=certificationAuthority)")) {
        size_t n;
        const unsigned char *der = fz_crl_der(k->crl, &n, p);
        e = fz_entry_add(out, "cn=JM Fuzz Root,dc=example,dc=com", p);
        fz_value_add(e, "certificateRevocationList;binary", der, n, p);
        add_cert_value(e, "cACertificate;binary", k->ca, p);
        return APR_SUCCESS;
    }
    if ((v = fz_filter_value(filter, "uid", p))) {
        if (!strcmp(v, "alice")) {
            static const char *const mails[] = {
                "alice@example.com", "Alice.Alias@Example.COM", "not an address",
                "alice@example.com", ""
            };
            e = fz_entry_add(out, "uid=alice,dc=example,dc=com", p);
            for (i = 0; i < sizeof(mails) / sizeof(mails[0]); ++i) {
                fz_value_add(e, "mail", mails[i], strlen(mails[i]), p);
            }
        }
        else if (!strcmp(v, "twins")) {
            fz_entry_add(out, "uid=twins,ou=a,dc=example,dc=com", p);
            fz_entry_add(out, "uid=twins,ou=b,dc=example,dc=com", p);
        }
        return APR_SUCCESS;
    }
    if ((v = fz_filter_value(filter, "mail", p))) {
        if (!strcasecmp(v, "down@example.com")) {
            *perr = "in-memory directory: down for down@example.com";
            return APR_EAGAIN;
        }
        if (!strcasecmp(v, "slow@example.com")) {
            *perr = "in-memory directory: timeout for slow@example.com";
            return APR_TIMEUP;
        }
        for (i = 0; i < sizeof(ids) / sizeof(ids[0]); ++i) {
            if (strcasecmp(v, ids[i]->addr)) {
                continue;
            }
            e = fz_entry_add(out, apr_psprintf(p, "mail=%s,dc=example,dc=com",
                                               ids[i]->addr), p);
            if (ids[i] == &k->carol) {
                add_pkcs7_value(e, ids[i]->cert, p);
            }
            else {
                add_cert_value(e, "userCertificate;binary", ids[i]->cert, p);
            }
            if (ids[i] == &k->bob) {
                /* an older one too: the later notAfter must win */
                add_cert_value(e, "userCertificate;binary", k->dave.cert, p);
                fz_value_add(e, "userCertificate;binary", "junk", 4, p);
            }
        }
        return APR_SUCCESS;
    }
    return APR_SUCCESS;
}

void fz_certdir_conf(jm_certdir_conf_t *c, apr_pool_t *p)
{
    fz_pki_t *k = fz_pki();

    memset(c, 0, sizeof(*c));
    c->url = "ldap://directory.invalid:389";
    c->base = "dc=example,dc=com";
    c->cert_filter = "(mail=%s)";
    c->cert_attrs = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(c->cert_attrs, const char *) = "userCertificate;binary";
    APR_ARRAY_PUSH(c->cert_attrs, const char *) = "userSMIMECertificate";
    c->user_filter = "(uid=%s)";
    c->user_mail_attr = "mail";
    c->timeout = apr_time_from_sec(2);
    c->trust_files = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(c->trust_files, const char *) = k->ca_file;
    c->crl_files = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(c->crl_files, const char *) = k->crl_file;
    c->crl_from_directory = 1;
    c->require_crl = 0;
    c->cache_ttl = apr_time_from_sec(300);
    c->negative_ttl = apr_time_from_sec(60);
    c->cache_max = 4;       /* small: eviction runs too */
}

/* ------------------------------------------------------------------ */
/* the fake store                                                     */
/* ------------------------------------------------------------------ */

static fz_store_t *store;

static jm_ctx_t *ctx_for(fz_store_t *st, apr_pool_t *p)
{
    jm_ctx_t *ctx = apr_palloc(p, sizeof(*ctx));
    jm_account_t *acc = apr_palloc(p, sizeof(*acc));

    memset(ctx, 0, sizeof(*ctx));
    memset(acc, 0, sizeof(*acc));
    acc->id = st->account_id;
    acc->username = st->username;
    acc->read_only = 0;
    ctx->pool = p;
    ctx->account = acc;
    ctx->db = st->db;
    ctx->limits = &st->limits;
    ctx->certdir = st->certdir;
    ctx->keystore = st->keystore;
    ctx->send_as_rules = st->send_as;
    ctx->smime = &st->smime;
    ctx->session_state = "fuzz-session-state";
    jm_budget_init(&ctx->budget, ctx->limits, apr_time_now());
    return ctx;
}

jm_ctx_t *fz_ctx(apr_pool_t *p)
{
    return ctx_for(fz_store(), p);
}

static void push_id(fz_ids_t *ids, const char *v)
{
    int i;

    for (i = 0; i < ids->n; ++i) {
        if (!strcmp(ids->v[i], v)) {
            return;
        }
    }
    if (ids->n < FZ_MAX_IDS) {
        ids->v[ids->n++] = apr_pstrdup(fz_pool, v);
    }
}

/* ---- placeholders ---- */

static const char *lookup_placeholder(const char *s, size_t left, size_t *pused,
                                      fz_store_t *st)
{
    static const struct { const char *name; size_t off; } tab[] = {
        { "$ACCOUNT", 0 },
        { "$MBOX", offsetof(fz_store_t, mbox) },
        { "$BLOB", offsetof(fz_store_t, blob) },
        { "$MSG", offsetof(fz_store_t, msg) },
        { "$PART", offsetof(fz_store_t, part) },
        { "$EMAIL", offsetof(fz_store_t, email) },
        { "$IDENT", offsetof(fz_store_t, ident) },
    };
    size_t i, n;

    for (i = 0; i < sizeof(tab) / sizeof(tab[0]); ++i) {
        n = strlen(tab[i].name);
        if (left < n || memcmp(s, tab[i].name, n)) {
            continue;
        }
        if (i == 0) {
            *pused = n;
            return st->account_id;
        }
        {
            fz_ids_t *ids = (fz_ids_t *)((char *)st + tab[i].off);
            int idx = 0;
            if (left > n && s[n] >= '0' && s[n] <= '9') {
                idx = s[n] - '0';
                ++n;
            }
            *pused = n;
            return ids->n ? ids->v[idx % ids->n] : "Gnone";
        }
    }
    return NULL;
}

static size_t subst_into(char *out, const char *data, size_t len, fz_store_t *st)
{
    size_t i = 0, o = 0;

    while (i < len) {
        const char *rep;
        size_t used;

        if (data[i] == '$' && (rep = lookup_placeholder(data + i, len - i, &used, st))) {
            size_t rn = strlen(rep);
            if (out) {
                memcpy(out + o, rep, rn);
            }
            o += rn;
            i += used;
        }
        else {
            if (out) {
                out[o] = data[i];
            }
            ++o;
            ++i;
        }
    }
    return o;
}

static const char *subst_with(fz_store_t *st, const char *data, size_t len,
                              size_t *plen, apr_pool_t *p)
{
    size_t n = subst_into(NULL, data, len, st);
    char *out = apr_palloc(p, n + 1);

    subst_into(out, data, len, st);
    out[n] = '\0';
    *plen = n;
    return out;
}

const char *fz_subst(const char *data, size_t len, size_t *plen, apr_pool_t *p)
{
    return subst_with(fz_store(), data, len, plen, p);
}

apr_status_t fz_fetch_blob(const unsigned char **pdata, apr_size_t *plen,
                           void *ctx, const char *blob_id, apr_pool_t *p)
{
    if (fz_avoid_known()) {
        /* workaround for the known jm_blob_fetch bug (ptype NULL written
         * for part blob ids): pass a type pointer */
        const char *type;
        return jm_blob_fetch(pdata, plen, &type, ctx, blob_id, p);
    }
    /* exactly what src/mail/jm_email.c's fetch_blob_cb does */
    return jm_blob_fetch(pdata, plen, NULL, ctx, blob_id, p);
}

/* ---- set-up content ---- */

static const unsigned char png[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
    0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89
};

static const char nested_msg[] =
    "From: Carol <carol@example.com>\r\n"
    "To: alice@example.com\r\n"
    "Subject: =?UTF-8?B?SGFsbG8gV8O2cmxk?=\r\n"
    "Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
    "Message-ID: <nested@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe aus dem Anhang.\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Gr&uuml;&szlig;e</p>\r\n"
    "--alt--\r\n";

/* Stored as emails directly (no Email/import yet): odd but real shapes. */
static const char *const raw_msgs[] = {
    "From: \"  James Smythe\" <james@example.com>\r\n"
    "To: Friends: jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=\r\n"
    "  <john@example.com>;, solo@example.com\r\n"
    "Subject: =?ISO-8859-1?Q?Caf=E9?= time\r\n"
    "Date: Thu, 13 Oct 2013 14:12:00 -0700\r\n"
    "List-Post: <mailto:list@example.com>, <https://example.com/post>\r\n"
    "References: <a@x> <b@y>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
    " micalg=sha-256; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 au lait\r\n"
    "--b1\r\n"
    "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=smime.p7s\r\n"
    "\r\n"
    "AAEC\r\n"
    "--b1--\r\n",

    "From: a@example.com\r\n"
    "To: alice@example.com\r\n"
    "Subject: mixed\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=m\r\n"
    "\r\n"
    "--m\r\n"
    "Content-Type: multipart/related; boundary=r\r\n"
    "\r\n"
    "--r\r\n"
    "Content-Type: text/html; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "<html><body>caf\xe9 <img src=\"cid:i1\"></body></html>\r\n"
    "--r\r\n"
    "Content-Type: image/png\r\n"
    "Content-ID: <i1>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--r--\r\n"
    "--m\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''f%C3%BCr.eml\r\n"
    "\r\n"
    "From: b@example.com\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--m\r\n"
    "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    "Content-Language: en, de\r\n"
    "Content-Location: https://example.com/data.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgc=\r\n"
    "--m--\r\n",

    ("From: nobody@example.com\r\n"
     "Subject: no body at all\r\n"),
};

static const char seed_request[] =
    "{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\","
    "\"urn:ietf:params:jmap:smime-advanced\"],\"methodCalls\":[[\"Email/set\","
    "{\"accountId\":\"$ACCOUNT\",\"create\":{"
    "\"k1\":{\"mailboxIds\":{\"$MBOX1\":true},\"keywords\":{\"$draft\":true},"
    "\"from\":[{\"name\":\"Alice\",\"email\":\"alice@example.com\"}],"
    "\"to\":[{\"name\":\"Bob\",\"email\":\"bob@example.com\"}],"
    "\"subject\":\"attachments\",\"textBody\":[{\"partId\":\"t\"}],"
    "\"htmlBody\":[{\"partId\":\"h\"}],\"bodyValues\":{\"t\":{\"value\":\"text\"},"
    "\"h\":{\"value\":\"<p>html <img src=cid:c1></p>\"}},"
    "\"attachments\":[{\"blobId\":\"$BLOB0\",\"type\":\"text/plain\",\"name\":\"a.txt\"},"
    "{\"blobId\":\"$BLOB1\",\"name\":\"b.bin\"},"
    "{\"blobId\":\"$BLOB2\",\"type\":\"image/png\",\"cid\":\"c1\",\"disposition\":\"inline\"}]},"
    "\"k2\":{\"mailboxIds\":{\"$MBOX1\":true},"
    "\"from\":[{\"email\":\"alice@example.com\"}],\"to\":[{\"email\":\"carol@example.com\"}],"
    "\"subject\":\"forward\",\"bodyStructure\":{\"type\":\"multipart/mixed\",\"subParts\":["
    "{\"partId\":\"1\",\"type\":\"text/plain\"},"
    "{\"blobId\":\"$BLOB4\",\"type\":\"message/rfc822\"}]},"
    "\"bodyValues\":{\"1\":{\"value\":\"see attached\"}}},"
    "\"k3\":{\"mailboxIds\":{\"$MBOX1\":true},\"smimeSign\":true,"
    "\"from\":[{\"email\":\"alice@example.com\"}],\"to\":[{\"email\":\"bob@example.com\"}],"
    "\"subject\":\"signed\",\"textBody\":[{\"partId\":\"t\"}],"
    "\"bodyValues\":{\"t\":{\"value\":\"signed text\"}}},"
    "\"k4\":{\"mailboxIds\":{\"$MBOX1\":true},\"smimeSign\":true,\"smimeEncrypt\":true,"
    "\"from\":[{\"email\":\"alice@example.com\"}],"
    "\"to\":[{\"email\":\"bob@example.com\"},{\"email\":\"carol@example.com\"}],"
    "\"subject\":\"secret\",\"textBody\":[{\"partId\":\"t\"}],"
    "\"attachments\":[{\"blobId\":\"$BLOB1\"}],"
    "\"bodyValues\":{\"t\":{\"value\":\"secret text\"}}}"
    "}},\"s\"]]}";

/* ---- snapshot and restore ----
 *
 * Every row of every table (with its rowid) is kept in memory after set-up
 * and put back with DELETE + INSERT, in one transaction, through the same
 * connection. Not sqlite3_backup: that bumps the schema cookie, and the
 * statements apr_dbd's driver prepared for jm_db then fail with "database
 * schema has changed" for good. Plain DML leaves them valid. The full-text
 * table is kept through its own interface (rowid and columns); its shadow
 * tables (jm_email_fts_data, _idx, ...) follow from that and are skipped. */

typedef struct {
    char *name;
    int ncols;                 /* rowid + columns */
    sqlite3_stmt *insert, *delete;
    apr_array_header_t *rows;  /* sqlite3_value*[ncols] */
} snap_table_t;

static apr_array_header_t *snap;   /* snap_table_t */

static void snapshot(fz_store_t *st)
{
    sqlite3 *db = st->native;
    sqlite3_stmt *q, *sel;
    int rc;

    snap = apr_array_make(fz_pool, 16, sizeof(snap_table_t));
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'"
                           " AND name NOT LIKE 'sqlite_%'"
                           " AND name NOT LIKE 'jm_email_fts_%'", -1, &q, NULL) != SQLITE_OK) {
        fz_die("snapshot: %s", sqlite3_errmsg(db));
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        snap_table_t *t = apr_array_push(snap);
        char *sql, *marks;
        int i;

        t->name = apr_pstrdup(fz_pool, (const char *)sqlite3_column_text(q, 0));
        sql = apr_psprintf(fz_pool, "SELECT rowid, * FROM \"%s\" ORDER BY rowid", t->name);
        if (sqlite3_prepare_v2(db, sql, -1, &sel, NULL) != SQLITE_OK) {
            fz_die("snapshot %s: %s", t->name, sqlite3_errmsg(db));
        }
        t->ncols = sqlite3_column_count(sel);
        t->rows = apr_array_make(fz_pool, 16, sizeof(sqlite3_value **));
        while (sqlite3_step(sel) == SQLITE_ROW) {
            sqlite3_value **row = apr_palloc(fz_pool, sizeof(*row) * t->ncols);
            for (i = 0; i < t->ncols; ++i) {
                row[i] = sqlite3_value_dup(sqlite3_column_value(sel, i));
            }
            APR_ARRAY_PUSH(t->rows, sqlite3_value **) = row;
        }
        sqlite3_finalize(sel);
        marks = apr_pstrdup(fz_pool, "?");
        for (i = 1; i < t->ncols; ++i) {
            marks = apr_pstrcat(fz_pool, marks, ",?", NULL);
        }
        /* "INSERT INTO t VALUES" takes the columns in order; rowid first */
        sql = apr_psprintf(fz_pool, "SELECT * FROM \"%s\" LIMIT 0", t->name);
        if (sqlite3_prepare_v2(db, sql, -1, &sel, NULL) != SQLITE_OK) {
            fz_die("snapshot %s: %s", t->name, sqlite3_errmsg(db));
        }
        {
            char *cols = apr_pstrdup(fz_pool, "rowid");
            for (i = 0; i < sqlite3_column_count(sel); ++i) {
                cols = apr_psprintf(fz_pool, "%s, \"%s\"", cols, sqlite3_column_name(sel, i));
            }
            sql = apr_psprintf(fz_pool, "INSERT INTO \"%s\" (%s) VALUES (%s)", t->name,
                               cols, marks);
        }
        sqlite3_finalize(sel);
        if (sqlite3_prepare_v2(db, sql, -1, &t->insert, NULL) != SQLITE_OK
            || sqlite3_prepare_v2(db, apr_psprintf(fz_pool, "DELETE FROM \"%s\"", t->name),
                                  -1, &t->delete, NULL) != SQLITE_OK) {
            fz_die("snapshot %s: %s", t->name, sqlite3_errmsg(db));
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE || snap->nelts == 0) {
        fz_die("snapshot: no tables");
    }
}

static void restore(fz_store_t *st)
{
    sqlite3 *db = st->native;
    int i, j, k;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fz_die("restore: %s", sqlite3_errmsg(db));
    }
    for (i = 0; i < snap->nelts; ++i) {
        snap_table_t *t = &APR_ARRAY_IDX(snap, i, snap_table_t);
        if (sqlite3_step(t->delete) != SQLITE_DONE) {
            fz_die("restore %s: %s", t->name, sqlite3_errmsg(db));
        }
        sqlite3_reset(t->delete);
        for (j = 0; j < t->rows->nelts; ++j) {
            sqlite3_value **row = APR_ARRAY_IDX(t->rows, j, sqlite3_value **);
            for (k = 0; k < t->ncols; ++k) {
                sqlite3_bind_value(t->insert, k + 1, row[k]);
            }
            if (sqlite3_step(t->insert) != SQLITE_DONE) {
                fz_die("restore %s: %s", t->name, sqlite3_errmsg(db));
            }
            sqlite3_reset(t->insert);
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fz_die("restore: %s", sqlite3_errmsg(db));
    }
}

/* The store lives as long as the process; at exit its connection is
 * closed, which finalizes the statements the inputs prepared on it (kept
 * for the connection's life, as in httpd), so LeakSanitizer's report at
 * exit shows only what an input really lost. */
static void close_store(void)
{
    if (store) {
        jm_db_close(store->db);
        store = NULL;
    }
}

static fz_store_t *build_store(void)
{
    fz_store_t *st = apr_pcalloc(fz_pool, sizeof(*st));
    fz_pki_t *k = fz_pki();
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *err = NULL, *path;
    apr_array_header_t *ids;
    jm_send_as_rule_t *rule;
    apr_pool_t *p;
    jm_ctx_t *ctx;
    int from, created, i;
    unsigned char bin[256];

    fz_limits(&st->limits);
    st->username = "alice";
    st->smime.enc.cipher = JM_CMS_AES256_GCM;
    st->smime.enc.rsa_padding = JM_CMS_KT_RSA_PKCS1;
    st->smime.legacy_display = 1;

    path = apr_pstrcat(fz_pool, fz_tmpdir(), "/store.db", NULL);
    if (apr_dbd_get_driver(fz_pool, "sqlite3", &drv) != APR_SUCCESS
        || apr_dbd_open(drv, fz_pool, path, &h) != APR_SUCCESS) {
        fz_die("cannot open %s with the apr_dbd sqlite3 driver", path);
    }
    if (jm_db_wrap(&st->db, drv, h, apr_hash_make(fz_pool), fz_pool, fz_pool) != APR_SUCCESS
        || jm_schema_migrate(st->db, &from, &err, fz_pool) != APR_SUCCESS) {
        fz_die("schema: %s", err ? err : "?");
    }
    st->native = apr_dbd_native_handle(drv, h);
    if (jm_store_account_ensure(&st->account_id, &created, st->db, st->username,
                                fz_pool) != APR_SUCCESS
        || jm_store_mailbox_ids(&ids, st->db, st->account_id, fz_pool) != APR_SUCCESS) {
        fz_die("account");
    }
    for (i = 0; i < ids->nelts; ++i) {
        push_id(&st->mbox, APR_ARRAY_IDX(ids, i, const char *));
    }

    /* directory, keys, JMAPSendAs. The directory client lives as long as
     * the process, like a child's in httpd, but without a cache: an answer
     * cached for one input must not decide the next one's (fuzz_certdir
     * covers the cache). Made per input it would cost more than the input:
     * OpenSSL 3 decodes the anchors' keys slowly. */
    {
        jm_certdir_conf_t cc;
        fz_certdir_conf(&cc, fz_pool);
        cc.cache_max = 0;
        if (jm_certdir_create(&st->certdir, &cc, &err, fz_pool) != APR_SUCCESS) {
            fz_die("certdir: %s", err ? err : "?");
        }
    }
    jm_keystore_create(&st->keystore, fz_pool);
    {
        const char *pem = apr_pstrcat(fz_pool, pem_of(wr_key, k->alice.key, fz_pool),
                                      pem_of(wr_cert, k->alice.cert, fz_pool),
                                      pem_of(wr_cert, k->ca, fz_pool), NULL);
        const char *f = fz_write_file("alice-all.pem", pem, strlen(pem), fz_pool);
        if (jm_keystore_load(st->keystore, "alice@example.com", f, NULL,
                             JM_CMS_SIG_RSA_PKCS1, &err, fz_pool) != APR_SUCCESS) {
            fz_die("keystore alice: %s", err ? err : "?");
        }
        pem = apr_pstrcat(fz_pool, pem_of(wr_key, k->sales.key, fz_pool),
                          pem_of(wr_cert, k->sales.cert, fz_pool), NULL);
        f = fz_write_file("sales-all.pem", pem, strlen(pem), fz_pool);
        if (jm_keystore_load(st->keystore, "sales@example.com", f, NULL,
                             JM_CMS_SIG_RSA_PSS, &err, fz_pool) != APR_SUCCESS) {
            fz_die("keystore sales: %s", err ? err : "?");
        }
    }
    st->send_as = apr_array_make(fz_pool, 1, sizeof(jm_send_as_rule_t));
    rule = apr_array_push(st->send_as);
    rule->address = "sales@example.com";
    rule->users = apr_array_make(fz_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(rule->users, const char *) = "alice";
    push_id(&st->ident, apr_pstrcat(fz_pool, "I", apr_pstrndup(fz_pool,
            jm_util_sha256_hex("alice@example.com", 17, fz_pool), 20), NULL));
    push_id(&st->ident, apr_pstrcat(fz_pool, "I", apr_pstrndup(fz_pool,
            jm_util_sha256_hex("sales@example.com", 17, fz_pool), 20), NULL));
    push_id(&st->ident, apr_pstrcat(fz_pool, "I", apr_pstrndup(fz_pool,
            jm_util_sha256_hex("alice.alias@example.com", 23, fz_pool), 20), NULL));

    /* blobs: uploaded as the upload endpoint does */
    apr_pool_create(&p, fz_pool);
    ctx = ctx_for(st, p);
    for (i = 0; i < 256; ++i) {
        bin[i] = (unsigned char)i;
    }
    {
        static const char html[] = "<html><body><p>Hi <b>there</b></p></body></html>\r\n";
        static const char latin1[] = "caf\xe9\nbare LF\rbare CR\r\n\x00 NUL\r\n";
        static const struct { const char *type; const void *data; size_t len; } blobs[] = {
            { "text/plain", "plain attachment\r\nline two\r\n", 28 },
            { "application/octet-stream", NULL, 256 },
            { "image/png", png, sizeof(png) },
            { "text/html", html, sizeof(html) - 1 },
            { "message/rfc822", nested_msg, sizeof(nested_msg) - 1 },
            { "text/plain", latin1, sizeof(latin1) - 1 },
            { "application/octet-stream", "", 0 },
        };
        size_t b;
        for (b = 0; b < sizeof(blobs) / sizeof(blobs[0]); ++b) {
            json_t *resp = NULL;
            if (jm_blob_upload(&resp, ctx, blobs[b].type, blobs[b].data ? blobs[b].data : bin,
                               blobs[b].len, p) != APR_SUCCESS || !resp) {
                fz_die("upload %lu", (unsigned long)b);
            }
            push_id(&st->blob, json_string_value(json_object_get(resp, "blobId")));
            json_decref(resp);
        }
    }
    store = st;     /* fz_subst/fz_ctx from here on */
    atexit(close_store);

    /* emails: through Email/set, and odd shapes stored directly */
    {
        json_t *resp;
        jm_problem_t *pr;
        size_t n;
        const char *body = subst_with(st, seed_request, sizeof(seed_request) - 1, &n, p);
        jm_request_process(&resp, &pr, ctx, body, n);
        if (!resp || !json_object_get(json_array_get(json_array_get(json_object_get(
                resp, "methodResponses"), 0), 1), "created")) {
            char *dump = resp ? json_dumps(resp, 0) : NULL;
            fz_die("seed Email/set: %s", dump ? dump : pr ? pr->detail : "?");
        }
    }
    for (i = 0; i < (int)(sizeof(raw_msgs) / sizeof(raw_msgs[0])); ++i) {
        jm_email_row_t row;
        size_t len = strlen(raw_msgs[i]);

        memset(&row, 0, sizeof(row));
        row.id = jm_util_new_id('M', p);
        row.blob_id = jm_blob_id_for(raw_msgs[i], len, p);
        row.thread_id = apr_pstrcat(p, "T", row.id + 1, NULL);
        row.size = (apr_int64_t)len;
        row.received_at = apr_time_now();
        row.keywords = "{\"$seen\":true}";
        row.mailbox_ids = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(row.mailbox_ids, const char *) = st->mbox.v[0];
        if (jm_db_begin(st->db, p) != APR_SUCCESS
            || jm_store_blob_put(st->db, st->account_id, row.blob_id, "message/rfc822",
                                 raw_msgs[i], len, p) != APR_SUCCESS
            || jm_store_email_insert(st->db, st->account_id, &row, p) != APR_SUCCESS
            || jm_db_commit(st->db) != APR_SUCCESS) {
            fz_die("raw message %d", i);
        }
    }
    if (jm_store_email_ids(&ids, st->db, st->account_id, 100, p) != APR_SUCCESS) {
        fz_die("email ids");
    }
    for (i = 0; i < ids->nelts; ++i) {
        jm_email_row_t *e;
        const unsigned char *raw;
        apr_size_t len;
        jm_email_view_opts_t o;
        json_t *props, *bs, *stack;
        const char *bad;

        push_id(&st->email, APR_ARRAY_IDX(ids, i, const char *));
        if (jm_store_email_get(&e, st->db, st->account_id, APR_ARRAY_IDX(ids, i, const char *),
                               p) != APR_SUCCESS
            || jm_store_blob_get(&raw, &len, NULL, st->db, st->account_id, e->blob_id,
                                 p) != APR_SUCCESS) {
            fz_die("email %d", i);
        }
        push_id(&st->msg, e->blob_id);
        memset(&o, 0, sizeof(o));
        o.properties = jm_json_own(p, json_pack("[s]", "bodyStructure"));
        o.body_properties = jm_json_own(p, json_pack("[s,s]", "blobId", "subParts"));
        o.blob_id = e->blob_id;
        if (jm_email_view_props(&props, (const char *)raw, len, &o, &bad, p) != APR_SUCCESS) {
            fz_die("parts of email %d", i);
        }
        /* every leaf's blobId, depth first */
        stack = jm_json_own(p, json_array());
        json_array_append(stack, json_object_get(props, "bodyStructure"));
        while (json_array_size(stack)) {
            size_t last = json_array_size(stack) - 1, j;
            json_t *sub;
            bs = json_incref(json_array_get(stack, last));
            json_array_remove(stack, last);
            if (json_is_string(json_object_get(bs, "blobId"))) {
                push_id(&st->part, json_string_value(json_object_get(bs, "blobId")));
            }
            json_array_foreach(json_object_get(bs, "subParts"), j, sub) {
                json_array_append(stack, sub);
            }
            json_decref(bs);
        }
    }
    apr_pool_destroy(p);

    /* the state every input starts from */
    snapshot(st);
    st->changes = sqlite3_total_changes(st->native);
    if (getenv("JM_FUZZ_SHOW_STORE")) {
        fprintf(stderr, "fuzz store: account %s, %d mailboxes, %d blobs, %d emails, "
                "%d parts\n", st->account_id, st->mbox.n, st->blob.n, st->email.n,
                st->part.n);
        for (i = 0; i < st->part.n; ++i) {
            fprintf(stderr, "  $PART%d = %s\n", i, st->part.v[i]);
        }
    }
    return st;
}

fz_store_t *fz_store(void)
{
    static int building;

    if (store) {
        return store;
    }
    if (building) {
        fz_die("fz_store: recursive set-up");
    }
    building = 1;
    fz_init();
    return build_store();
}

void fz_store_reset(void)
{
    fz_store_t *st = store;

    if (!st) {
        return;
    }
    if (st->db->txn) {
        fprintf(stderr, "FINDING: a jm_db transaction is still open after the input\n");
        abort();
    }
    if (sqlite3_total_changes(st->native) == st->changes && !st->force_reset) {
        return;
    }
    st->force_reset = 0;
    restore(st);
    st->changes = sqlite3_total_changes(st->native);
}
