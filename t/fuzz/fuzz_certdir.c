/* fuzz_certdir: directory certificate and CRL bytes -> certificate choice
 * and validation (jm_certdir_find_encryption_cert, jm_certdir_user_addresses)
 * with the in-memory directory (fake_ldap.c) answering with the input's
 * values and trust anchors from the CA made at start (its key is fixed, so
 * certificates in the seeds verify).
 *
 * Input: one flag byte, then records  kind(1) length(2, big endian) bytes
 * (a length past the end takes the rest):
 *   'C' userCertificate;binary value   'S' userSMIMECertificate value
 *       (on the entry of the looked-up address; 'E' starts another entry)
 *   'R' certificateRevocationList;binary of the CA entry
 *   'A' cACertificate;binary of the CA entry
 *   'M' mail value of the user entry (uid=alice)
 *   'L' the address to look up (else one of four, by flags bits 6-7)
 *   'T' an extra trust anchor file (PEM or DER)
 *   'F' the CRL file (PEM or DER; else the CA's CRL made at start)
 * Flags: bit 0 require_crl, 1 crl_from_directory, 2 CRL search fails
 * (directory down), 3 certificate search fails, 4 also user addresses,
 * 5 look up twice (the second answer comes from the cache).
 * A certificate directory is created per input (the cache lives for one
 * input only, so results do not depend on earlier inputs).
 *
 * Checks beyond the sanitizers: an OK verdict has a certificate that is
 * within its validity period, chains to the anchors (checked again with a
 * fresh X509_STORE, no CRLs) and names the address; other verdicts have no
 * certificate; every verdict has a reason; a second lookup answers the same
 * from the cache; user addresses are valid, lower-case and unique, and the
 * cached answer is the same list.
 *
 * FZ_WRITE_SEEDS=DIR: write the seed inputs made with the fixed CA into DIR
 * and exit (t/fuzz/make-corpus.sh uses it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "fuzz_common.h"

typedef struct { const unsigned char *d; size_t n; } chunk_t;

static struct {
    apr_array_header_t *entries;   /* jm_ldap_entry_t for the cert search */
    apr_array_header_t *ca_entry;  /* for (objectClass=certificationAuthority) */
    apr_array_header_t *user;      /* for (uid=alice) */
    int crl_down, cert_down;
} cur;

static const char *const default_addrs[] = {
    "alice@example.com", "Bob@Example.COM", "carol@example.com", "x@y"
};

static apr_status_t backend(apr_array_header_t **pentries, const char *base,
                            const char *filter, const char *const *attrs,
                            const char **perr, apr_pool_t *p)
{
    (void)base;
    (void)attrs;
    (void)p;
    if (!strcmp(filter, "(objectClass=certificationAuthority)")) {
        if (cur.crl_down) {
            *perr = "in-memory directory: down (CRL search)";
            return APR_EAGAIN;
        }
        *pentries = cur.ca_entry;
        return APR_SUCCESS;
    }
    if (!strncmp(filter, "(uid=", 5)) {
        *pentries = cur.user;
        return APR_SUCCESS;
    }
    if (cur.cert_down) {
        *perr = "in-memory directory: timeout (certificate search)";
        return APR_TIMEUP;
    }
    *pentries = cur.entries;
    return APR_SUCCESS;
}

static void finding(const char *what, const char *detail)
{
    fprintf(stderr, "FINDING: %s %s\n", what, detail ? detail : "");
    abort();
}

static int has_address(X509 *x, const char *addr)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    X509_NAME *s = X509_get_subject_name(x);
    int i, any = 0, ok = 0;

    for (i = 0; g && i < sk_GENERAL_NAME_num(g); ++i) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        if (n->type == GEN_EMAIL) {
            any = 1;
            ok |= (size_t)ASN1_STRING_length(n->d.rfc822Name) == strlen(addr)
                && !strncasecmp((const char *)ASN1_STRING_get0_data(n->d.rfc822Name),
                                addr, strlen(addr));
        }
    }
    GENERAL_NAMES_free(g);
    if (any) {
        return ok;
    }
    for (i = X509_NAME_get_index_by_NID(s, NID_pkcs9_emailAddress, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(s, NID_pkcs9_emailAddress, i)) {
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(s, i));
        if ((size_t)ASN1_STRING_length(d) == strlen(addr)
            && !strncasecmp((const char *)ASN1_STRING_get0_data(d), addr, strlen(addr))) {
            return 1;
        }
    }
    return 0;
}

static int chains(X509 *x, STACK_OF(X509) *anchors, STACK_OF(X509) *untrusted)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int i, ok;

    for (i = 0; i < sk_X509_num(anchors); ++i) {
        X509_STORE_add_cert(st, sk_X509_value(anchors, i));
    }
    ok = X509_STORE_CTX_init(ctx, st, x, untrusted) && X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    ERR_clear_error();
    return ok;
}

static void check_lookup(const jm_cert_lookup_t *r, const char *addr,
                         STACK_OF(X509) *anchors, STACK_OF(X509) *untrusted)
{
    if (!r->reason) {
        finding("a verdict without a reason for", addr);
    }
    if (r->status == JM_CERT_OK) {
        if (!r->cert) {
            finding("OK without a certificate for", addr);
        }
        if (X509_cmp_current_time(X509_get0_notBefore(r->cert)) > 0
            || X509_cmp_current_time(X509_get0_notAfter(r->cert)) < 0) {
            finding("OK for a certificate outside its validity, address", addr);
        }
        if (!has_address(r->cert, addr)) {
            finding("OK for a certificate that does not name", addr);
        }
        if (!chains(r->cert, anchors, untrusted)) {
            finding("OK for a certificate that does not chain to the anchors, address",
                    addr);
        }
    }
    else if (r->cert) {
        finding("a negative verdict with a certificate for", addr);
    }
}

/* The oracle's anchors from the trust file itself, read as jm_certdir's
 * load_certs reads it (a file BIO: OpenSSL's PEM reader skips a damaged
 * block there, and only there, and goes on to the next certificate). */
static STACK_OF(X509) *certs_of_file(const char *path)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *b = path ? BIO_new_file(path, "rb") : NULL;
    X509 *x;

    if (!b) {
        return sk;
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        sk_X509_push(sk, x);
    }
    if (!sk_X509_num(sk) && BIO_reset(b) == 0 && (x = d2i_X509_bio(b, NULL))) {
        sk_X509_push(sk, x);
    }
    BIO_free(b);
    ERR_clear_error();
    return sk;
}

static void write_seeds(const char *dir);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    fz_pki();
    fz_ldap_backend = backend;
    if (getenv("FZ_WRITE_SEEDS")) {
        write_seeds(getenv("FZ_WRITE_SEEDS"));
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_pki_t *k = fz_pki();
    apr_pool_t *p;
    jm_certdir_conf_t conf;
    jm_certdir_t *cd = NULL;
    jm_ldap_entry_t *entry = NULL, *ca, *user;
    const char *addr, *err = NULL, *tfile = NULL, *ffile = NULL;
    jm_cert_lookup_t r1, r2;
    STACK_OF(X509) *anchors, *untrusted, *extra;
    apr_status_t rv;
    unsigned flags;
    size_t i;
    int j;

    if (size < 1) {
        return 0;
    }
    flags = data[0];
    p = fz_run_pool();
    anchors = sk_X509_new_null();
    untrusted = sk_X509_new_null();
    extra = sk_X509_new_null();
    sk_X509_push(anchors, k->ca);
    cur.entries = apr_array_make(p, 2, sizeof(jm_ldap_entry_t));
    cur.ca_entry = apr_array_make(p, 1, sizeof(jm_ldap_entry_t));
    cur.user = apr_array_make(p, 1, sizeof(jm_ldap_entry_t));
    cur.crl_down = (flags >> 2) & 1;
    cur.cert_down = (flags >> 3) & 1;
    ca = fz_entry_add(cur.ca_entry, "cn=CA,dc=example,dc=com", p);
    user = fz_entry_add(cur.user, "uid=alice,dc=example,dc=com", p);
    addr = default_addrs[(flags >> 6) & 3];

    for (i = 1; i < size; ) {
        unsigned char kind = data[i];
        size_t n = 0;
        const unsigned char *d;

        if (i + 3 <= size) {
            n = ((size_t)data[i + 1] << 8) | data[i + 2];
            i += 3;
        }
        else {
            i = size;
        }
        if (n > size - i) {
            n = size - i;
        }
        d = data + i;
        i += n;
        switch (kind) {
        case 'E':
            entry = fz_entry_add(cur.entries, "mail=x,dc=example,dc=com", p);
            break;
        case 'C':
        case 'S':
            if (!entry) {
                entry = fz_entry_add(cur.entries, "mail=x,dc=example,dc=com", p);
            }
            fz_value_add(entry, kind == 'C' ? "userCertificate;binary"
                                            : "userSMIMECertificate", d, n, p);
            break;
        case 'R':
            fz_value_add(ca, "certificateRevocationList;binary", d, n, p);
            break;
        case 'A': {
            const unsigned char *q = d;
            X509 *x = d2i_X509(NULL, &q, (long)n);
            fz_value_add(ca, "cACertificate;binary", d, n, p);
            if (x) {
                sk_X509_push(untrusted, x);
            }
            ERR_clear_error();
            break;
        }
        case 'M':
            fz_value_add(user, "mail", d, n, p);
            break;
        case 'L':
            addr = apr_pstrmemdup(p, (const char *)d, n);
            break;
        case 'T': {
            STACK_OF(X509) *more;
            tfile = fz_write_file("trust.in", d, n, p);
            more = certs_of_file(tfile);
            while (sk_X509_num(more)) {
                X509 *x = sk_X509_shift(more);
                sk_X509_push(anchors, x);
                sk_X509_push(extra, x);
            }
            sk_X509_free(more);
            break;
        }
        case 'F':
            ffile = fz_write_file("crl.in", d, n, p);
            break;
        default:
            break;
        }
    }

    fz_certdir_conf(&conf, p);
    conf.require_crl = flags & 1;
    conf.crl_from_directory = (flags >> 1) & 1;
    if (tfile) {
        APR_ARRAY_PUSH(conf.trust_files, const char *) = tfile;
    }
    if (ffile) {
        conf.crl_files = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(conf.crl_files, const char *) = ffile;
    }
    if (jm_certdir_create(&cd, &conf, &err, p) != APR_SUCCESS) {
        if (!err) {
            finding("jm_certdir_create failed without a message", NULL);
        }
        goto done;
    }

    memset(&r1, 0, sizeof(r1));
    rv = jm_certdir_find_encryption_cert(&r1, cd, addr, 0, &err, p);
    if (rv == APR_SUCCESS) {
        check_lookup(&r1, addr, anchors, untrusted);
        if ((flags >> 5) & 1) {
            memset(&r2, 0, sizeof(r2));
            rv = jm_certdir_find_encryption_cert(&r2, cd, addr, 0, &err, p);
            if (rv == APR_SUCCESS) {
                check_lookup(&r2, addr, anchors, untrusted);
                if (r2.status != r1.status
                    || (r1.cert && X509_cmp(r1.cert, r2.cert) != 0)) {
                    finding("the second (cached) answer differs for", addr);
                }
            }
        }
    }
    else if (!err) {
        finding("a failed lookup without a reason for", addr);
    }

    if ((flags >> 4) & 1) {
        apr_array_header_t *a1 = NULL, *a2 = NULL;
        if (jm_certdir_user_addresses(&a1, cd, "alice", 0, &err, p) == APR_SUCCESS) {
            for (j = 0; j < a1->nelts; ++j) {
                const char *a = APR_ARRAY_IDX(a1, j, const char *), *c;
                int m;
                for (c = a; *c; ++c) {
                    if (*c >= 'A' && *c <= 'Z') {
                        finding("a user address is not lower-case:", a);
                    }
                }
                if (!strchr(a, '@')) {
                    finding("a user address without @:", a);
                }
                for (m = 0; m < j; ++m) {
                    if (!strcmp(a, APR_ARRAY_IDX(a1, m, const char *))) {
                        finding("a user address twice:", a);
                    }
                }
            }
            if (jm_certdir_user_addresses(&a2, cd, "alice", 0, &err, p) == APR_SUCCESS) {
                if (a2->nelts != a1->nelts) {
                    finding("the cached user addresses differ", NULL);
                }
                for (j = 0; j < a1->nelts; ++j) {
                    if (strcmp(APR_ARRAY_IDX(a1, j, const char *),
                               APR_ARRAY_IDX(a2, j, const char *))) {
                        finding("the cached user addresses differ at",
                                APR_ARRAY_IDX(a1, j, const char *));
                    }
                }
            }
        }
    }
done:
    fz_run_pool_done(p);
    sk_X509_free(anchors);          /* borrowed: k->ca and extra's */
    sk_X509_pop_free(extra, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    return 0;
}

/* ------------------------------------------------------------------ */
/* seeds                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    unsigned char *d;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, d, n);
    b->n += n;
}

static void rec(buf_t *b, char kind, const void *d, size_t n)
{
    unsigned char h[3];

    h[0] = (unsigned char)kind;
    h[1] = (unsigned char)(n >> 8);
    h[2] = (unsigned char)n;
    put(b, h, 3);
    put(b, d, n);
}

static void rec_cert(buf_t *b, char kind, X509 *x)
{
    size_t n;
    const unsigned char *d = fz_cert_der(x, &n, fz_pool);
    rec(b, kind, d, n);
}

static void rec_crl(buf_t *b, char kind, X509_CRL *c)
{
    size_t n;
    const unsigned char *d = fz_crl_der(c, &n, fz_pool);
    rec(b, kind, d, n);
}

static void save(const char *dir, const char *name, buf_t *b)
{
    const char *path = apr_pstrcat(fz_pool, dir, "/", name, NULL);
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(b->d, 1, b->n, f) != b->n || fclose(f)) {
        fz_die("cannot write %s", path);
    }
    free(b->d);
    memset(b, 0, sizeof(*b));
}

static X509_CRL *make_crl(EVP_PKEY *key, X509 *issuer, X509 *revoked, long next_days)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), -1, 0);

    X509_CRL_set_version(c, 1);
    X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer));
    X509_CRL_set1_lastUpdate(c, t);
    ASN1_TIME_adj(t, time(NULL), next_days, 0);
    X509_CRL_set1_nextUpdate(c, t);
    if (revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked));
        ASN1_TIME_adj(t, time(NULL), -1, 0);
        X509_REVOKED_set_revocationDate(r, t);
        X509_CRL_add0_revoked(c, r);
    }
    ASN1_TIME_free(t);
    X509_CRL_sign(c, key, EVP_sha256());
    return c;
}

static void write_seeds(const char *dir)
{
    fz_pki_t *k = fz_pki();
    buf_t b = { 0 };
    unsigned char f;
    EVP_PKEY *ikey = fz_ec_key(), *lkey = fz_ec_key();
    X509 *inter = fz_make_cert(ikey, "JM Fuzz Intermediate", NULL, k->ca_key, k->ca,
                               -10, 3650, "critical,keyCertSign,cRLSign", NULL, 200, 1);
    X509 *leaf = fz_make_cert(lkey, "alice@example.com", "alice@example.com", ikey,
                              inter, -10, 365, "critical,keyAgreement", "emailProtection",
                              201, 0);
    X509 *legacy, *future, *many;
    X509_CRL *icrl = make_crl(ikey, inter, leaf, 30);
    X509_CRL *stale = make_crl(k->ca_key, k->ca, NULL, -1);
    PKCS7 *p7;
    unsigned char *der = NULL;
    int n;

    /* alice OK, RSA bob with an expired older one, PKCS#7 carol */
    f = 0x02;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->alice.cert);
    save(dir, "ok-alice", &b);
    f = 0x40 | 0x20 | 0x02;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->dave.cert);
    rec_cert(&b, 'C', k->bob.cert);
    rec(&b, 'C', "junk", 4);
    rec(&b, 'L', "bob@example.com", 15);
    save(dir, "ok-bob-newest-wins-cached", &b);
    p7 = PKCS7_new();
    PKCS7_set_type(p7, NID_pkcs7_signed);
    PKCS7_content_new(p7, NID_pkcs7_data);
    PKCS7_add_certificate(p7, k->carol.cert);
    PKCS7_add_certificate(p7, k->frank.cert);
    n = i2d_PKCS7(p7, &der);
    PKCS7_free(p7);
    f = 0x80;
    put(&b, &f, 1);
    rec(&b, 'S', der, (size_t)n);
    save(dir, "ok-carol-pkcs7", &b);
    OPENSSL_free(der);

    /* verdicts */
    f = 0x00;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->dave.cert);
    rec(&b, 'L', "dave@example.com", 16);
    save(dir, "expired", &b);
    f = 0x03;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->erin.cert);
    rec_crl(&b, 'R', k->crl);
    rec(&b, 'L', "erin@example.com", 16);
    save(dir, "revoked-dir-crl-required", &b);
    f = 0x00;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->frank.cert);
    rec(&b, 'L', "frank@example.com", 17);
    save(dir, "unusable-key-usage", &b);
    f = 0x00;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->grace.cert);
    rec(&b, 'L', "grace@example.com", 17);
    save(dir, "untrusted", &b);
    f = 0x00;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->grace.cert);
    rec_cert(&b, 'T', k->other);
    rec(&b, 'L', "grace@example.com", 17);
    save(dir, "trusted-by-extra-anchor", &b);
    f = 0x00;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->bob.cert);
    save(dir, "wrong-address", &b);

    /* chains through a directory CA with its own CRL */
    f = 0x03;
    put(&b, &f, 1);
    rec_cert(&b, 'C', leaf);
    rec_cert(&b, 'A', inter);
    rec_crl(&b, 'R', icrl);
    rec_crl(&b, 'R', k->crl);
    save(dir, "intermediate-revoked", &b);
    f = 0x02;
    put(&b, &f, 1);
    rec_cert(&b, 'C', leaf);
    rec_cert(&b, 'A', inter);
    save(dir, "intermediate-no-crl", &b);
    f = 0x01;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->alice.cert);
    rec_crl(&b, 'F', stale);
    save(dir, "stale-crl-file-required", &b);
    f = 0x06;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->alice.cert);
    save(dir, "directory-down-for-crls", &b);
    f = 0x08;
    put(&b, &f, 1);
    rec_cert(&b, 'C', k->alice.cert);
    save(dir, "directory-down-for-certs", &b);

    /* legacy emailAddress, not yet valid, many SANs */
    {
        EVP_PKEY *key = fz_ec_key();
        X509_NAME *nm;
        legacy = X509_new();
        X509_set_version(legacy, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(legacy), 300);
        X509_gmtime_adj(X509_getm_notBefore(legacy), -86400L);
        X509_gmtime_adj(X509_getm_notAfter(legacy), 86400L * 365);
        X509_set_pubkey(legacy, key);
        nm = X509_get_subject_name(legacy);
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)"Legacy",
                                   -1, -1, 0);
        X509_NAME_add_entry_by_NID(nm, NID_pkcs9_emailAddress, MBSTRING_ASC,
                                   (const unsigned char *)"carol@example.com", -1, -1, 0);
        X509_set_issuer_name(legacy, X509_get_subject_name(k->ca));
        X509_sign(legacy, k->ca_key, EVP_sha256());
        f = 0x80;
        put(&b, &f, 1);
        rec_cert(&b, 'C', legacy);
        save(dir, "legacy-email-address", &b);
        future = fz_make_cert(key, "alice@example.com", "alice@example.com", k->ca_key,
                              k->ca, 10, 400, NULL, NULL, 301, 0);
        f = 0x00;
        put(&b, &f, 1);
        rec_cert(&b, 'C', future);
        save(dir, "not-yet-valid", &b);
        many = fz_make_cert(key, "many", "a@example.com,email:b@example.com,"
                            "email:alice@example.com,DNS:example.com", k->ca_key, k->ca,
                            -1, 30, "keyAgreement", "anyExtendedKeyUsage", 302, 0);
        f = 0x20;
        put(&b, &f, 1);
        rec_cert(&b, 'C', many);
        save(dir, "many-sans-any-eku", &b);
        EVP_PKEY_free(key);
    }

    /* user addresses */
    f = 0x10;
    put(&b, &f, 1);
    rec(&b, 'M', "alice@example.com", 17);
    rec(&b, 'M', "Alice.Alias@EXAMPLE.com", 23);
    rec(&b, 'M', "alice@example.com", 17);
    rec(&b, 'M', "bad address", 11);
    rec(&b, 'M', "nul\0@example.com", 16);
    rec(&b, 'M', "", 0);
    save(dir, "user-addresses", &b);

    /* PEM instead of DER, trust file with two anchors */
    {
        BIO *mb = BIO_new(BIO_s_mem());
        char *pem;
        long pl;
        PEM_write_bio_X509(mb, k->ca);
        PEM_write_bio_X509(mb, k->other);
        pl = BIO_get_mem_data(mb, &pem);
        f = 0x00;
        put(&b, &f, 1);
        rec(&b, 'T', pem, (size_t)pl);
        rec_cert(&b, 'C', k->grace.cert);
        rec(&b, 'L', "grace@example.com", 17);
        save(dir, "pem-trust-file", &b);
        BIO_free(mb);
        mb = BIO_new(BIO_s_mem());
        PEM_write_bio_X509_CRL(mb, k->crl);
        PEM_write_bio_X509_CRL(mb, icrl);
        pl = BIO_get_mem_data(mb, &pem);
        f = 0x01;
        put(&b, &f, 1);
        rec(&b, 'F', pem, (size_t)pl);
        rec_cert(&b, 'C', k->erin.cert);
        rec(&b, 'L', "erin@example.com", 16);
        save(dir, "pem-crl-file-two-crls", &b);
        BIO_free(mb);
    }
    X509_free(inter);
    X509_free(leaf);
    X509_free(legacy);
    X509_free(future);
    X509_free(many);
    X509_CRL_free(icrl);
    X509_CRL_free(stale);
    EVP_PKEY_free(ikey);
    EVP_PKEY_free(lkey);
}
