/* Recipient certificates from the directory: choice, validation, cache.
 *
 * Choice follows RFC 8550 §3 and RFC 8551 §2.4.2/§3: the address must be in
 * the certificate (subjectAltName rfc822Name, or the legacy emailAddress
 * attribute when there is none), keyUsage/extendedKeyUsage must allow
 * encryption, the certificate must be within its validity; among those the
 * one with the latest notAfter wins, and it must chain to a trust anchor and
 * not be revoked (CRLs from files and from the issuing CA's entry).
 *
 * The cache is per process (jm_certdir_cache.c: hash + recency list + expiry
 * heap, keyed by the lower-cased address or username). Directory failures are
 * never cached: they are retryable.
 *
 * Time: each lookup's directory work ends by min(now + 2 x timeout, the
 * request's deadline); a lookup that finds the request's deadline passed
 * fails at once without touching the network.
 *
 * Size: a directory is trusted for content, not for volume. Searches ask for
 * and keep at most MAX_CERT_ENTRIES / MAX_CA_ENTRIES / 2 (user) entries and
 * MAX_VALUES (MAX_CA_VALUES in CA entries) values per attribute; certificate
 * values up to MAX_CERT_VALUE bytes, MAX_CANDIDATES certificates per address
 * (every one costs a parse and possibly a chain verification), CRLs up to
 * max_crl_bytes, MAX_USER_ADDRESSES addresses per user; one LDAP message
 * (entry) at most what those bounds keep, plus slack (refused by liblber from
 * its length header, before it is read: so a hostile or broken directory
 * cannot make a worker allocate without bound).
 * Certificate and address values beyond the bounds are skipped (with a
 * warning); anything beyond them in CA entries fails the CRL refresh instead
 * (with an error), because skipping a CRL would silently accept revoked
 * certificates.
 */
#include <string.h>
#include <time.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <ldap.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "directory/jm_certdir.h"
#include "directory/jm_certdir_cache.h"
#include "smime/jm_cms.h"
#include "directory/jm_ldap.h"
#include "core/jm_log.h"

#define MAX_ADDRESS_LEN     320
#define MAX_CERT_ENTRIES    16          /* entries per certificate search */
#define MAX_CA_ENTRIES      32          /* certificationAuthority entries */
#define MAX_VALUES          16          /* values per certificate attribute */
#define MAX_CA_VALUES       4           /* CRLs / CA certificates per CA entry:
                                         * each CRL is checked against each CA
                                         * certificate of the same name */
#define MAX_CERT_VALUE      (64 * 1024) /* bytes of one certificate value */
#define MAX_CANDIDATES      32          /* certificates considered per address */
#define MAX_USER_ADDRESSES  256         /* mail values of one user entry */
#define DEFAULT_MAX_CRL     (16 * 1024 * 1024)
/* One LDAP message (entry) per search: room for every value the bounds
 * above keep, plus DN and encoding; liblber refuses a larger one unread. */
#define MESSAGE_SLACK       (64 * 1024)
#define MAX_USER_MESSAGE    (1024 * 1024)
#define MAX_OTHER_MESSAGE   (1024 * 1024)   /* bind, StartTLS answers */

struct jm_certdir_t {
    apr_pool_t *pool;
    jm_certdir_conf_t conf;
    const char **cert_attrs;    /* NULL-terminated, for jm_ldap_search */
    apr_size_t cert_message_max; /* one entry of the certificate search */
    jm_ldap_t *ldap;
    X509_STORE *store;          /* trust anchors only; read-only after create */
    STACK_OF(X509) *anchors;
    STACK_OF(X509_CRL) *file_crls;
    jm_certdir_cache_t *certs;  /* lower-cased address -> verdict (and the
                                 * certificate, shared by reference: decoding
                                 * DER again costs ~200 us in OpenSSL 3.0) */
    jm_certdir_cache_t *users;  /* lower-cased username -> NUL-separated
                                 * addresses */
    apr_thread_mutex_t *mutex;  /* guards everything below */
    STACK_OF(X509_CRL) *dir_crls;
    STACK_OF(X509) *dir_cas;
    int dir_loaded;
    apr_time_t dir_refresh_at;
    unsigned long lookups;
    unsigned long out_of_time;
};

/* A candidate certificate from the directory and how it fared. */
typedef struct {
    X509 *x;
    int addr_ok;
    const char *usage_err;      /* NULL: fit for encryption */
    int time_state;             /* 0 valid, -1 not yet valid, 1 expired */
} candidate_t;

/* ---------------------------------------------------------------- helpers */

static char *lower(const char *s, apr_pool_t *p)
{
    char *r = apr_pstrdup(p, s), *c;
    for (c = r; *c; ++c) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    return r;
}

static int valid_address(const char *a)
{
    const char *at, *s;
    size_t len;

    if (!a || !*a || (len = strlen(a)) > MAX_ADDRESS_LEN) {
        return 0;
    }
    for (s = a; *s; ++s) {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f) {
            return 0;   /* CR, LF, other controls, spaces */
        }
    }
    at = strrchr(a, '@');
    return at && at != a && at[1] != '\0';
}

static apr_status_t x509_sk_cleanup(void *data)
{
    sk_X509_pop_free(data, X509_free);
    return APR_SUCCESS;
}

static apr_status_t crl_sk_cleanup(void *data)
{
    sk_X509_CRL_pop_free(data, X509_CRL_free);
    return APR_SUCCESS;
}

static apr_status_t store_cleanup(void *data)
{
    X509_STORE_free(data);
    return APR_SUCCESS;
}

static apr_time_t asn1_to_apr(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return 0;
    }
    return apr_time_from_sec(timegm(&tm));
}

static const char *asn1_date(const ASN1_TIME *t, apr_pool_t *p)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return "(unknown date)";
    }
    return apr_psprintf(p, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday);
}

static const char *ossl_err(apr_pool_t *p)
{
    char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        return "unknown error";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

/* ------------------------------------------------------------- file loads */

/* All certificates of a PEM file (several allowed), or one DER certificate. */
static apr_status_t load_certs(STACK_OF(X509) *sk, const char *path,
                               const char **perr, apr_pool_t *p)
{
    BIO *bio = BIO_new_file(path, "rb");
    X509 *x;
    int n = 0;

    if (!bio) {
        *perr = apr_psprintf(p, "cannot read trust anchor file %s: %s", path,
                             ossl_err(p));
        return APR_ENOENT;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        sk_X509_push(sk, x);
        ++n;
    }
    ERR_clear_error();  /* the expected "no start line" at the end */
    if (n == 0 && BIO_reset(bio) == 0 && (x = d2i_X509_bio(bio, NULL)) != NULL) {
        sk_X509_push(sk, x);
        ++n;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (n == 0) {
        *perr = apr_psprintf(p, "no certificate in trust anchor file %s", path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* A CRL must be signed by the issuer we know; keep it only then. */
static X509 *find_issuer(STACK_OF(X509) *a, STACK_OF(X509) *b, X509_CRL *crl)
{
    STACK_OF(X509) *lists[2];
    int l, i;

    lists[0] = a;
    lists[1] = b;
    for (l = 0; l < 2; ++l) {
        for (i = 0; lists[l] && i < sk_X509_num(lists[l]); ++i) {
            X509 *ca = sk_X509_value(lists[l], i);
            if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
                              X509_get_subject_name(ca)) == 0
                && X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1) {
                return ca;
            }
        }
    }
    ERR_clear_error();
    return NULL;
}

static int issuer_known(STACK_OF(X509) *anchors, X509_CRL *crl)
{
    int i;
    for (i = 0; i < sk_X509_num(anchors); ++i) {
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
                          X509_get_subject_name(sk_X509_value(anchors, i))) == 0) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t load_crls(STACK_OF(X509_CRL) *sk, STACK_OF(X509) *anchors,
                              const char *path, const char **perr,
                              apr_pool_t *p)
{
    BIO *bio = BIO_new_file(path, "rb");
    X509_CRL *crl;
    int first = sk_X509_CRL_num(sk), i;

    if (!bio) {
        *perr = apr_psprintf(p, "cannot read CRL file %s: %s", path, ossl_err(p));
        return APR_ENOENT;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        sk_X509_CRL_push(sk, crl);
    }
    ERR_clear_error();
    if (sk_X509_CRL_num(sk) == first && BIO_reset(bio) == 0
        && (crl = d2i_X509_CRL_bio(bio, NULL)) != NULL) {
        sk_X509_CRL_push(sk, crl);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (sk_X509_CRL_num(sk) == first) {
        *perr = apr_psprintf(p, "no CRL in file %s", path);
        return APR_EINVAL;
    }
    for (i = first; i < sk_X509_CRL_num(sk); ++i) {
        crl = sk_X509_CRL_value(sk, i);
        /* CRLs of intermediate CAs can only be checked in the chain later */
        if (issuer_known(anchors, crl) && !find_issuer(anchors, NULL, crl)) {
            *perr = apr_psprintf(p, "CRL in %s: signature does not verify "
                                 "with the trust anchor", path);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ conf/create */

static const char *default_cert_attrs[] = {
    "userCertificate;binary", "userSMIMECertificate", NULL
};

static apr_status_t check_plain(const jm_certdir_conf_t *c, const char **perr,
                                apr_pool_t *p)
{
    int i;

    if (!c) {
        *perr = "no directory configuration";
        return APR_EINVAL;
    }
    if (!jm_ldap_url_ok(c->url)) {
        *perr = apr_psprintf(p, "invalid LDAP URL '%s'", c->url ? c->url : "");
        return APR_EINVAL;
    }
    if (c->starttls && !strncasecmp(c->url, "ldaps:", 6)) {
        *perr = "StartTLS cannot be used with an ldaps:// URL";
        return APR_EINVAL;
    }
    if (!c->base || !*c->base) {
        *perr = "no search base";
        return APR_EINVAL;
    }
    else {
        LDAPDN dn = NULL;
        if (ldap_str2dn(c->base, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
            *perr = apr_psprintf(p, "invalid search base '%s'", c->base);
            return APR_EINVAL;
        }
        ldap_dnfree(dn);
    }
    if (!jm_ldap_filter_template_ok(c->cert_filter)) {
        *perr = apr_psprintf(p, "certificate filter '%s' must contain exactly "
                             "one %%s (and no other %%)",
                             c->cert_filter ? c->cert_filter : "");
        return APR_EINVAL;
    }
    if (c->user_filter && !jm_ldap_filter_template_ok(c->user_filter)) {
        *perr = apr_psprintf(p, "user filter '%s' must contain exactly one %%s "
                             "(and no other %%)", c->user_filter);
        return APR_EINVAL;
    }
    if (c->bind_dn && *c->bind_dn && (!c->bind_password || !*c->bind_password)) {
        *perr = "bind DN given without a password";
        return APR_EINVAL;
    }
    if (c->timeout <= 0) {
        *perr = "directory timeout must be positive";
        return APR_EINVAL;
    }
    if (c->cache_ttl < 0 || c->negative_ttl < 0 || c->cache_max < 0) {
        *perr = "cache TTLs and size must not be negative";
        return APR_EINVAL;
    }
    if (c->max_crl_bytes > (apr_size_t)1 << 30) {
        *perr = "the CRL size bound must not exceed 1 GiB";
        return APR_EINVAL;
    }
    for (i = 0; c->cert_attrs && i < c->cert_attrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(c->cert_attrs, i, const char *);
        if (!a || !*a) {
            *perr = "empty certificate attribute name";
            return APR_EINVAL;
        }
    }
    if (c->tls_cafile) {
        BIO *b = BIO_new_file(c->tls_cafile, "rb");
        if (!b) {
            ERR_clear_error();
            *perr = apr_psprintf(p, "cannot read LDAP TLS CA file %s",
                                 c->tls_cafile);
            return APR_ENOENT;
        }
        BIO_free(b);
    }
    return APR_SUCCESS;
}

static const char *const *attr_list(const jm_certdir_conf_t *c, apr_pool_t *p)
{
    const char **l;
    int i;

    if (!c->cert_attrs || c->cert_attrs->nelts == 0) {
        return default_cert_attrs;
    }
    l = apr_pcalloc(p, sizeof(char *) * (c->cert_attrs->nelts + 1));
    for (i = 0; i < c->cert_attrs->nelts; ++i) {
        l[i] = apr_pstrdup(p, APR_ARRAY_IDX(c->cert_attrs, i, const char *));
    }
    return l;
}

static apr_status_t free_dir_crls(void *data);

/* Everything but the LDAP client; used by create and check_conf. */
static apr_status_t build(jm_certdir_t **pcd, const jm_certdir_conf_t *conf,
                          const char **perr, apr_pool_t *p)
{
    jm_certdir_t *cd;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = check_plain(conf, perr, p))) {
        return rv;
    }
    cd = apr_pcalloc(p, sizeof(*cd));
    cd->pool = p;
    cd->conf = *conf;
    cd->conf.url = apr_pstrdup(p, conf->url);
    cd->conf.base = apr_pstrdup(p, conf->base);
    cd->conf.cert_filter = apr_pstrdup(p, conf->cert_filter);
    cd->conf.user_filter = conf->user_filter ? apr_pstrdup(p, conf->user_filter) : NULL;
    cd->conf.user_mail_attr = apr_pstrdup(p, conf->user_mail_attr && *conf->user_mail_attr
                                          ? conf->user_mail_attr : "mail");
    cd->cert_attrs = (const char **)attr_list(conf, p);
    for (i = 0; cd->cert_attrs[i]; ++i) {
        cd->cert_message_max += (apr_size_t)MAX_VALUES * MAX_CERT_VALUE;
    }
    cd->cert_message_max += MESSAGE_SLACK;
    if (!cd->conf.max_crl_bytes) {
        cd->conf.max_crl_bytes = DEFAULT_MAX_CRL;
    }
    /* only jm_ldap (which copies them) and build() need these */
    cd->conf.bind_dn = cd->conf.bind_password = cd->conf.tls_cafile = NULL;
    cd->conf.cert_attrs = cd->conf.trust_files = cd->conf.crl_files = NULL;

    cd->anchors = sk_X509_new_null();
    apr_pool_cleanup_register(p, cd->anchors, x509_sk_cleanup, apr_pool_cleanup_null);
    cd->file_crls = sk_X509_CRL_new_null();
    apr_pool_cleanup_register(p, cd->file_crls, crl_sk_cleanup, apr_pool_cleanup_null);
    cd->store = X509_STORE_new();
    if (!cd->anchors || !cd->file_crls || !cd->store) {
        *perr = "out of memory";
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, cd->store, store_cleanup, apr_pool_cleanup_null);

    for (i = 0; conf->trust_files && i < conf->trust_files->nelts; ++i) {
        rv = load_certs(cd->anchors, APR_ARRAY_IDX(conf->trust_files, i, const char *),
                        perr, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; i < sk_X509_num(cd->anchors); ++i) {
        X509_STORE_add_cert(cd->store, sk_X509_value(cd->anchors, i));
    }
    ERR_clear_error();  /* duplicate anchors are harmless */
    for (i = 0; conf->crl_files && i < conf->crl_files->nelts; ++i) {
        rv = load_crls(cd->file_crls, cd->anchors,
                       APR_ARRAY_IDX(conf->crl_files, i, const char *), perr, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&cd->mutex,
                                                     APR_THREAD_MUTEX_DEFAULT, p))) {
        *perr = "cannot create mutex";
        return rv;
    }
    if (APR_SUCCESS != (rv = jm_certdir_cache_create(&cd->certs, conf->cache_max, p))
        || APR_SUCCESS != (rv = jm_certdir_cache_create(&cd->users, conf->cache_max, p))) {
        *perr = "cannot create the certificate cache";
        return rv;
    }
    apr_pool_cleanup_register(p, cd, free_dir_crls, apr_pool_cleanup_null);
    *pcd = cd;
    return APR_SUCCESS;
}

apr_status_t jm_certdir_check_conf(const jm_certdir_conf_t *conf,
                                   const char **perr, apr_pool_t *p)
{
    apr_pool_t *tmp;
    jm_certdir_t *cd;
    const char *err = NULL;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = apr_pool_create(&tmp, p))) {
        return rv;
    }
    rv = build(&cd, conf, &err, tmp);
    if (rv != APR_SUCCESS) {
        *perr = apr_pstrdup(p, err ? err : "invalid directory configuration");
    }
    apr_pool_destroy(tmp);
    return rv;
}

apr_status_t jm_certdir_create(jm_certdir_t **pcd, const jm_certdir_conf_t *conf,
                               const char **perr, apr_pool_t *p)
{
    jm_certdir_t *cd;
    jm_ldap_conf_t lc;
    apr_status_t rv;

    if (APR_SUCCESS != (rv = build(&cd, conf, perr, p))) {
        return rv;
    }
    memset(&lc, 0, sizeof(lc));
    lc.url = conf->url;
    lc.bind_dn = conf->bind_dn;
    lc.bind_password = conf->bind_password;
    lc.starttls = conf->starttls;
    lc.tls_cafile = conf->tls_cafile;
    lc.timeout = conf->timeout;
    lc.max_message = MAX_OTHER_MESSAGE;     /* each search sets its own */
    if (APR_SUCCESS != (rv = jm_ldap_create(&cd->ldap, &lc, p))) {
        *perr = "cannot create the LDAP client";
        return rv;
    }
    *pcd = cd;
    return APR_SUCCESS;
}

void jm_certdir_stats(const jm_certdir_t *cd, jm_certdir_stats_t *st)
{
    jm_certdir_cache_stats_t cs, us;

    memset(st, 0, sizeof(*st));
    apr_thread_mutex_lock(cd->mutex);
    st->lookups = cd->lookups;
    st->out_of_time = cd->out_of_time;
    apr_thread_mutex_unlock(cd->mutex);
    jm_certdir_cache_stats(cd->certs, &cs);
    jm_certdir_cache_stats(cd->users, &us);
    st->cache_hits = cs.hits + us.hits;
    st->cache_entries = cs.count + us.count;
    st->cache_evictions = cs.evicted_live + us.evicted_live;
    jm_ldap_counters(cd->ldap, &st->ldap_searches, &st->reconnects);
}

static void bump(jm_certdir_t *cd, unsigned long *counter)
{
    apr_thread_mutex_lock(cd->mutex);
    ++*counter;
    apr_thread_mutex_unlock(cd->mutex);
}

/* ------------------------------------------------------------------ cache */

static apr_status_t free_dir_crls(void *data)
{
    jm_certdir_t *cd = data;

    if (cd->dir_crls) {
        sk_X509_CRL_pop_free(cd->dir_crls, X509_CRL_free);
        cd->dir_crls = NULL;
    }
    if (cd->dir_cas) {
        sk_X509_pop_free(cd->dir_cas, X509_free);
        cd->dir_cas = NULL;
    }
    return APR_SUCCESS;
}

static void cache_put(jm_certdir_cache_t *c, const char *key,
                      jm_cert_status_t status, const char *reason, X509 *x509,
                      const void *blob, size_t blob_len, int nitems,
                      apr_time_t expires)
{
    jm_certdir_cached_t v;

    v.status = (int)status;
    v.reason = reason;
    v.x509 = x509;
    v.blob = blob;
    v.blob_len = blob_len;
    v.nitems = nitems;
    v.expires = expires;
    jm_certdir_cache_put(c, key, &v, apr_time_now());
}

/* ------------------------------------------------------------ deadlines */

/* The end of one lookup's directory work: its own bound (2 x timeout: the
 * search and a CRL refresh), cut to the request's deadline. */
static apr_time_t lookup_deadline(const jm_certdir_t *cd, apr_time_t request)
{
    apr_time_t own = apr_time_now() + 2 * cd->conf.timeout;

    return (request && request < own) ? request : own;
}

/* 1 (and *perr, a log line and a count) when the request's deadline has
 * passed: the lookup must not touch the directory. */
static int out_of_time(jm_certdir_t *cd, apr_time_t request, const char *what,
                       const char **perr, apr_pool_t *p)
{
    if (!request || apr_time_now() < request) {
        return 0;
    }
    bump(cd, &cd->out_of_time);
    *perr = apr_psprintf(p, "the request's directory time budget is used up; "
                         "%s not asked about %s", jm_ldap_url(cd->ldap), what);
    jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, APR_TIMEUP, p, JMLOGNO(08010)
                  "%s", *perr);
    return 1;
}

/* ------------------------------------------------------ candidate checks */

static int ia5_eq(const ASN1_STRING *s, const char *addr)
{
    size_t len = strlen(addr);
    return s && (size_t)ASN1_STRING_length(s) == len
        && strncasecmp((const char *)ASN1_STRING_get0_data(s), addr, len) == 0;
}

static int cert_has_address(X509 *x, const char *addr)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    X509_NAME *subj;
    int i, any_email = 0, match = 0;

    for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); ++i) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_EMAIL) {
            any_email = 1;
            match = match || ia5_eq(g->d.rfc822Name, addr);
        }
    }
    GENERAL_NAMES_free(gens);
    if (any_email) {
        return match;
    }
    /* RFC 8550 §3: emailAddress in the subject only for legacy certificates */
    subj = X509_get_subject_name(x);
    for (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) {
        if (ia5_eq(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)), addr)) {
            return 1;
        }
    }
    return 0;
}

/* NULL when the certificate may be used to encrypt to (RFC 8550 §4.4.2). */
static const char *usage_problem(X509 *x)
{
    uint32_t flags = X509_get_extension_flags(x), need;
    EVP_PKEY *pk = X509_get0_pubkey(x);
    int id = pk ? EVP_PKEY_get_base_id(pk) : NID_undef;

    if (flags & EXFLAG_INVALID) {
        return "certificate is malformed";
    }
    switch (id) {
    case EVP_PKEY_RSA:
        need = KU_KEY_ENCIPHERMENT;
        break;
    case EVP_PKEY_EC:
    case EVP_PKEY_X25519:
    case EVP_PKEY_X448:
    case EVP_PKEY_DH:
    case EVP_PKEY_DHX:
        need = KU_KEY_AGREEMENT;
        break;
    default:
        return "certificate not valid for encryption (key type)";
    }
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & need)) {
        return "certificate not valid for encryption (key usage)";
    }
    if ((flags & EXFLAG_XKUSAGE)
        && !(X509_get_extended_key_usage(x) & (XKU_SMIME | XKU_ANYEKU))) {
        return "certificate not valid for encryption (extended key usage)";
    }
    return NULL;
}

static int time_state(X509 *x)
{
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
        return -1;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        return 1;
    }
    return 0;
}

static void add_candidate(apr_array_header_t *cands, X509 *x, const char *addr,
                          apr_pool_t *scratch)
{
    candidate_t *c;

    if (cands->nelts >= MAX_CANDIDATES) {
        X509_free(x);
        return;
    }
    c = apr_array_push(cands);
    c->x = jm_cms_own_x509(x, scratch);
    c->addr_ok = cert_has_address(x, addr);
    c->usage_err = usage_problem(x);
    c->time_state = time_state(x);
    ERR_clear_error();
}

/* userCertificate is a DER certificate; userSMIMECertificate a DER PKCS#7
 * (certs-only SignedData). Accept either in any attribute. */
static void decode_value(apr_array_header_t *cands, const jm_ldap_value_t *v,
                         const char *addr, apr_pool_t *scratch)
{
    const unsigned char *d = v->data;
    X509 *x;
    PKCS7 *p7;
    int i;

    if (!d || cands->nelts >= MAX_CANDIDATES) {
        return;     /* too long (jm_ldap left it out), or enough already */
    }
    x = d2i_X509(NULL, &d, (long)v->len);
    if (x) {
        add_candidate(cands, x, addr, scratch);
        return;
    }
    d = v->data;
    p7 = d2i_PKCS7(NULL, &d, (long)v->len);
    if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign && p7->d.sign->cert) {
        for (i = 0; i < sk_X509_num(p7->d.sign->cert)
                    && cands->nelts < MAX_CANDIDATES; ++i) {
            x = sk_X509_value(p7->d.sign->cert, i);
            X509_up_ref(x);
            add_candidate(cands, x, addr, scratch);
        }
    }
    PKCS7_free(p7);
    ERR_clear_error();
}

static int cmp_not_after_desc(const void *a, const void *b)
{
    const candidate_t *ca = a, *cb = b;
    return ASN1_TIME_compare(X509_get0_notAfter(cb->x), X509_get0_notAfter(ca->x));
}

/* ---------------------------------------------------------- CRLs, verify */

/* Fetch CRLs and CA certificates of certificationAuthority entries. */
static apr_status_t refresh_dir_crls(jm_certdir_t *cd, apr_time_t deadline,
                                     const char **perr, apr_pool_t *p)
{
    static const char *const attrs[] = {
        "certificateRevocationList;binary", "cACertificate;binary", NULL
    };
    apr_array_header_t *entries;
    STACK_OF(X509_CRL) *crls, *raw;
    STACK_OF(X509) *cas;
    apr_time_t now = apr_time_now(), refresh;
    jm_ldap_search_opts_t o;
    apr_status_t rv;
    int i, j, k;

    memset(&o, 0, sizeof(o));
    o.deadline = deadline;
    o.sizelimit = MAX_CA_ENTRIES + 1;   /* one more tells "too many" */
    o.max_values = MAX_CA_VALUES;
    o.max_value_len = cd->conf.max_crl_bytes > MAX_CERT_VALUE
        ? cd->conf.max_crl_bytes : MAX_CERT_VALUE;
    o.max_message = MAX_CA_VALUES * (cd->conf.max_crl_bytes + MAX_CERT_VALUE)
        + MESSAGE_SLACK;
    rv = jm_ldap_search(&entries, cd->ldap, cd->conf.base, LDAP_SCOPE_SUBTREE,
                        "(objectClass=certificationAuthority)", attrs, &o,
                        perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Fail closed: a CRL left out would let revoked certificates through. */
    if (entries->nelts > MAX_CA_ENTRIES) {
        *perr = apr_psprintf(p, "%s: more than %d certificationAuthority "
                             "entries under %s; CRLs not loaded",
                             jm_ldap_url(cd->ldap), MAX_CA_ENTRIES, cd->conf.base);
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(08012) "%s", *perr);
        return APR_EGENERAL;
    }
    for (i = 0; i < entries->nelts; ++i) {
        jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, i, jm_ldap_entry_t);
        for (j = 0; j < e->attrs->nelts; ++j) {
            jm_ldap_attr_t *a = &APR_ARRAY_IDX(e->attrs, j, jm_ldap_attr_t);
            apr_size_t max = !strncasecmp(a->name, "certificateRevocationList", 25)
                ? cd->conf.max_crl_bytes : MAX_CERT_VALUE;
            for (k = 0; k < a->values->nelts; ++k) {
                jm_ldap_value_t *v = &APR_ARRAY_IDX(a->values, k, jm_ldap_value_t);
                if (!v->data || v->len > max) {
                    *perr = apr_psprintf(p, "%s: %s of %s is %" APR_SIZE_T_FMT
                                         " bytes, more than the %" APR_SIZE_T_FMT
                                         " accepted; CRLs not loaded",
                                         jm_ldap_url(cd->ldap), a->name, e->dn,
                                         v->len, max);
                    jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(08013)
                                  "%s", *perr);
                    return APR_EGENERAL;
                }
            }
            if (a->dropped) {
                *perr = apr_psprintf(p, "%s: %s of %s has more than %d values; "
                                     "CRLs not loaded", jm_ldap_url(cd->ldap),
                                     a->name, e->dn, MAX_CA_VALUES);
                jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, 0, p, JMLOGNO(08014)
                              "%s", *perr);
                return APR_EGENERAL;
            }
        }
    }
    crls = sk_X509_CRL_new_null();
    raw = sk_X509_CRL_new_null();
    cas = sk_X509_new_null();
    if (!crls || !raw || !cas) {
        sk_X509_CRL_free(crls);
        sk_X509_CRL_free(raw);
        sk_X509_free(cas);
        *perr = "out of memory";
        return APR_ENOMEM;
    }
    for (i = 0; i < entries->nelts; ++i) {
        jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, i, jm_ldap_entry_t);
        for (j = 0; j < e->attrs->nelts; ++j) {
            jm_ldap_attr_t *a = &APR_ARRAY_IDX(e->attrs, j, jm_ldap_attr_t);
            int is_crl = !strncasecmp(a->name, "certificateRevocationList", 25);
            for (k = 0; k < a->values->nelts; ++k) {
                jm_ldap_value_t *v = &APR_ARRAY_IDX(a->values, k, jm_ldap_value_t);
                const unsigned char *d = v->data;
                if (is_crl) {
                    X509_CRL *crl = d2i_X509_CRL(NULL, &d, (long)v->len);
                    if (crl) {
                        sk_X509_CRL_push(raw, crl);
                    }
                }
                else {
                    X509 *x = d2i_X509(NULL, &d, (long)v->len);
                    if (x) {
                        sk_X509_push(cas, x);
                    }
                }
            }
        }
    }
    ERR_clear_error();
    refresh = now + cd->conf.cache_ttl;
    while (sk_X509_CRL_num(raw) > 0) {
        X509_CRL *crl = sk_X509_CRL_shift(raw);
        if (!find_issuer(cd->anchors, cas, crl)) {
            char *name = X509_NAME_oneline(X509_CRL_get_issuer(crl), NULL, 0);
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(03010)
                          "directory CRL of %s: no issuer certificate verifies "
                          "its signature, ignored", name ? name : "?");
            OPENSSL_free(name);
            X509_CRL_free(crl);
            continue;
        }
        if (X509_CRL_get0_nextUpdate(crl)) {
            apr_time_t nu = asn1_to_apr(X509_CRL_get0_nextUpdate(crl));
            if (nu > now && nu < refresh) {
                refresh = nu;
            }
        }
        sk_X509_CRL_push(crls, crl);
    }
    sk_X509_CRL_free(raw);
    apr_thread_mutex_lock(cd->mutex);
    if (cd->dir_crls) {
        sk_X509_CRL_pop_free(cd->dir_crls, X509_CRL_free);
    }
    if (cd->dir_cas) {
        sk_X509_pop_free(cd->dir_cas, X509_free);
    }
    /* count before handing over: another thread may replace them at once */
    i = sk_X509_CRL_num(crls);
    j = sk_X509_num(cas);
    cd->dir_crls = crls;
    cd->dir_cas = cas;
    cd->dir_loaded = 1;
    cd->dir_refresh_at = refresh;
    apr_thread_mutex_unlock(cd->mutex);
    jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, 0, p, JMLOGNO(03011)
                  "loaded %d CRL(s) and %d CA certificate(s) from the directory",
                  i, j);
    return APR_SUCCESS;
}

/* Snapshot (own references) of all CRLs and directory CA certs, refreshing
 * the directory part first when it is due (RFC 5280 §5.1.2.5 nextUpdate). */
static apr_status_t current_crls(STACK_OF(X509_CRL) **pcrls,
                                 STACK_OF(X509) **pcas, jm_certdir_t *cd,
                                 apr_time_t deadline, const char **perr,
                                 apr_pool_t *p)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    STACK_OF(X509) *cas = sk_X509_new_null();
    apr_status_t rv;
    int due, i;

    if (!crls || !cas) {
        sk_X509_CRL_free(crls);
        sk_X509_free(cas);
        *perr = "out of memory";
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, crls, crl_sk_cleanup, apr_pool_cleanup_null);
    apr_pool_cleanup_register(p, cas, x509_sk_cleanup, apr_pool_cleanup_null);
    if (cd->conf.crl_from_directory) {
        apr_thread_mutex_lock(cd->mutex);
        due = !cd->dir_loaded || apr_time_now() >= cd->dir_refresh_at;
        apr_thread_mutex_unlock(cd->mutex);
        if (due && APR_SUCCESS != (rv = refresh_dir_crls(cd, deadline, perr, p))) {
            return rv;
        }
    }
    for (i = 0; i < sk_X509_CRL_num(cd->file_crls); ++i) {
        X509_CRL *c = sk_X509_CRL_value(cd->file_crls, i);
        X509_CRL_up_ref(c);
        sk_X509_CRL_push(crls, c);
    }
    apr_thread_mutex_lock(cd->mutex);
    for (i = 0; cd->dir_crls && i < sk_X509_CRL_num(cd->dir_crls); ++i) {
        X509_CRL *c = sk_X509_CRL_value(cd->dir_crls, i);
        X509_CRL_up_ref(c);
        sk_X509_CRL_push(crls, c);
    }
    for (i = 0; cd->dir_cas && i < sk_X509_num(cd->dir_cas); ++i) {
        X509 *x = sk_X509_value(cd->dir_cas, i);
        X509_up_ref(x);
        sk_X509_push(cas, x);
    }
    apr_thread_mutex_unlock(cd->mutex);
    *pcrls = crls;
    *pcas = cas;
    return APR_SUCCESS;
}

/* Earliest nextUpdate of the CRLs that cover x's issuer; 0 if none. */
static apr_time_t crl_next_update(STACK_OF(X509_CRL) *crls, X509 *x)
{
    apr_time_t best = 0;
    int i;

    for (i = 0; i < sk_X509_CRL_num(crls); ++i) {
        X509_CRL *c = sk_X509_CRL_value(crls, i);
        if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_issuer_name(x)) == 0
            && X509_CRL_get0_nextUpdate(c)) {
            apr_time_t nu = asn1_to_apr(X509_CRL_get0_nextUpdate(c));
            if (!best || nu < best) {
                best = nu;
            }
        }
    }
    return best;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    jm_certdir_t *cd = X509_STORE_CTX_get_app_data(ctx);
    if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL
        && !cd->conf.require_crl) {
        return 1;   /* no CRL published for this issuer: accepted by policy */
    }
    return ok;
}

static int is_crl_error(int err)
{
    switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Chain to a trust anchor with CRL checking; verdict in *pstatus and *preason. */
static void verify_cert(jm_cert_status_t *pstatus, const char **preason,
                        jm_certdir_t *cd, X509 *x, STACK_OF(X509_CRL) *crls,
                        STACK_OF(X509) *untrusted, apr_pool_t *p)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok, err;

    if (!ctx || !X509_STORE_CTX_init(ctx, cd->store, x, untrusted)) {
        X509_STORE_CTX_free(ctx);
        *pstatus = JM_CERT_UNTRUSTED;
        *preason = "certificate could not be verified";
        ERR_clear_error();
        return;
    }
    X509_STORE_CTX_set0_crls(ctx, crls);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK);
    X509_STORE_CTX_set_app_data(ctx, cd);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    ok = X509_verify_cert(ctx);
    err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    if (ok == 1) {
        *pstatus = JM_CERT_OK;
        *preason = "certificate valid";
    }
    else if (err == X509_V_ERR_CERT_REVOKED) {
        *pstatus = JM_CERT_REVOKED;
        *preason = "certificate revoked";
    }
    else if (is_crl_error(err)) {
        *pstatus = JM_CERT_UNUSABLE;
        *preason = apr_psprintf(p, "revocation status cannot be checked (%s)",
                                X509_verify_cert_error_string(err));
    }
    else {
        *pstatus = JM_CERT_UNTRUSTED;
        *preason = "certificate does not chain to a trusted CA";
    }
}

/* --------------------------------------------------------------- lookups */

typedef struct {
    jm_cert_status_t status;
    const char *reason;
    X509 *cert;                 /* OK: owned by scratch */
    apr_time_t expires;
} verdict_t;

/* Verdict when no candidate survived the address/usage/validity filter. */
static void reject_verdict(verdict_t *v, apr_array_header_t *cands,
                           apr_pool_t *p)
{
    candidate_t *expired = NULL, *usage = NULL;
    int i;

    for (i = 0; i < cands->nelts; ++i) {
        candidate_t *c = &APR_ARRAY_IDX(cands, i, candidate_t);
        if (!c->addr_ok) {
            continue;
        }
        if (!c->usage_err) {
            if (!expired || ASN1_TIME_compare(X509_get0_notAfter(c->x),
                                              X509_get0_notAfter(expired->x)) > 0) {
                expired = c;
            }
        }
        else if (!usage) {
            usage = c;
        }
    }
    if (expired) {
        v->status = JM_CERT_EXPIRED;
        v->reason = expired->time_state > 0
            ? apr_psprintf(p, "certificate expired on %s",
                           asn1_date(X509_get0_notAfter(expired->x), p))
            : apr_psprintf(p, "certificate not valid before %s",
                           asn1_date(X509_get0_notBefore(expired->x), p));
    }
    else if (usage) {
        v->status = JM_CERT_UNUSABLE;
        v->reason = usage->usage_err;
    }
    else {
        v->status = JM_CERT_UNUSABLE;
        v->reason = "no certificate for this address";
    }
}

static apr_status_t decide(verdict_t *v, jm_certdir_t *cd,
                           apr_array_header_t *cands, apr_time_t deadline,
                           const char **perr, apr_pool_t *scratch)
{
    apr_array_header_t *fit = apr_array_make(scratch, cands->nelts, sizeof(candidate_t));
    STACK_OF(X509_CRL) *crls;
    STACK_OF(X509) *cas;
    apr_status_t rv;
    int i;

    v->expires = apr_time_now() + cd->conf.negative_ttl;
    if (cands->nelts == 0) {
        v->status = JM_CERT_NOT_FOUND;
        v->reason = "no certificate in directory";
        return APR_SUCCESS;
    }
    for (i = 0; i < cands->nelts; ++i) {
        candidate_t *c = &APR_ARRAY_IDX(cands, i, candidate_t);
        if (c->addr_ok && !c->usage_err && c->time_state == 0) {
            *(candidate_t *)apr_array_push(fit) = *c;
        }
    }
    if (fit->nelts == 0) {
        reject_verdict(v, cands, scratch);
        return APR_SUCCESS;
    }
    qsort(fit->elts, (size_t)fit->nelts, sizeof(candidate_t), cmp_not_after_desc);
    if (APR_SUCCESS != (rv = current_crls(&crls, &cas, cd, deadline, perr,
                                            scratch))) {
        return rv;
    }
    /* Latest notAfter first; an older certificate that verifies beats a
     * newer one that is revoked or untrusted. The verdict of a total failure
     * is the best candidate's. */
    for (i = 0; i < fit->nelts; ++i) {
        candidate_t *c = &APR_ARRAY_IDX(fit, i, candidate_t);
        jm_cert_status_t st;
        const char *reason;

        verify_cert(&st, &reason, cd, c->x, crls, cas, scratch);
        if (i == 0 || st == JM_CERT_OK) {
            v->status = st;
            v->reason = reason;
        }
        if (st == JM_CERT_OK) {
            v->cert = c->x;
            break;
        }
    }
    if (v->cert) {
        apr_time_t na = asn1_to_apr(X509_get0_notAfter(v->cert));
        apr_time_t nu = crl_next_update(crls, v->cert);
        v->expires = apr_time_now() + cd->conf.cache_ttl;
        if (na && na < v->expires) {
            v->expires = na;
        }
        if (nu && nu < v->expires) {
            v->expires = nu;
        }
    }
    return APR_SUCCESS;
}

static void fill_result(jm_cert_lookup_t *res, jm_cert_status_t status,
                        const char *reason, X509 *cert, int from_cache)
{
    res->status = status;
    res->reason = reason;
    res->cert = cert;
    res->from_cache = from_cache;
}

apr_status_t jm_certdir_find_encryption_cert(jm_cert_lookup_t *res,
                                             jm_certdir_t *cd,
                                             const char *address,
                                             apr_time_t request_deadline,
                                             const char **perr, apr_pool_t *p)
{
    apr_array_header_t *entries, *cands;
    apr_pool_t *scratch = NULL;
    jm_certdir_cached_t hit;
    jm_ldap_search_opts_t o;
    verdict_t v;
    apr_time_t deadline;
    const char *key, *filter;
    apr_status_t rv;
    int i, j, k, skipped = 0, dropped = 0;

    *perr = NULL;
    fill_result(res, JM_CERT_NOT_FOUND, "no certificate in directory", NULL, 0);
    bump(cd, &cd->lookups);
    if (!valid_address(address)) {
        res->reason = "invalid address";
        return APR_SUCCESS;
    }
    key = lower(address, p);
    if (jm_certdir_cache_get(&hit, cd->certs, key, apr_time_now(), p)) {
        X509 *x = jm_cms_own_x509(hit.x509, p);
        if (hit.status != JM_CERT_OK || x) {
            fill_result(res, (jm_cert_status_t)hit.status, hit.reason, x, 1);
            return APR_SUCCESS;
        }
    }
    if (out_of_time(cd, request_deadline, key, perr, p)) {
        return APR_TIMEUP;
    }
    if (APR_SUCCESS != (rv = jm_ldap_filter(&filter, cd->conf.cert_filter,
                                            address, p))) {
        *perr = "cannot build the certificate search filter";
        return rv;
    }
    /* one time budget for the certificate search and a CRL refresh */
    deadline = lookup_deadline(cd, request_deadline);
    memset(&o, 0, sizeof(o));
    o.deadline = deadline;
    o.sizelimit = MAX_CERT_ENTRIES;
    o.max_values = MAX_VALUES;
    o.max_value_len = MAX_CERT_VALUE;
    o.max_message = cd->cert_message_max;
    rv = jm_ldap_search(&entries, cd->ldap, cd->conf.base, LDAP_SCOPE_SUBTREE,
                        filter, cd->cert_attrs, &o, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (APR_SUCCESS != (rv = apr_pool_create(&scratch, p))) {
        return rv;
    }
    cands = apr_array_make(scratch, 4, sizeof(candidate_t));
    for (i = 0; i < entries->nelts; ++i) {
        jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, i, jm_ldap_entry_t);
        for (j = 0; j < e->attrs->nelts; ++j) {
            jm_ldap_attr_t *a = &APR_ARRAY_IDX(e->attrs, j, jm_ldap_attr_t);
            dropped += a->dropped;
            for (k = 0; k < a->values->nelts; ++k) {
                jm_ldap_value_t *val = &APR_ARRAY_IDX(a->values, k, jm_ldap_value_t);
                skipped += val->data == NULL;
                decode_value(cands, val, address, scratch);
            }
        }
    }
    if (skipped || dropped || cands->nelts >= MAX_CANDIDATES) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(08011)
                      "certificates of %s in %s: %d value(s) over %d bytes and "
                      "%d value(s) over %d per attribute skipped; %d "
                      "certificate(s) considered (at most %d)", key,
                      jm_ldap_url(cd->ldap), skipped, MAX_CERT_VALUE, dropped,
                      MAX_VALUES, cands->nelts, MAX_CANDIDATES);
    }
    memset(&v, 0, sizeof(v));
    if (APR_SUCCESS != (rv = decide(&v, cd, cands, deadline, perr, scratch))) {
        goto leave;
    }
    if (v.cert) {
        cache_put(cd->certs, key, v.status, v.reason, v.cert, NULL, 0, 1,
                  v.expires);
        X509_up_ref(v.cert);
        fill_result(res, v.status, apr_pstrdup(p, v.reason),
                    jm_cms_own_x509(v.cert, p), 0);
    }
    else {
        cache_put(cd->certs, key, v.status, v.reason, NULL, NULL, 0, 0, v.expires);
        fill_result(res, v.status, apr_pstrdup(p, v.reason), NULL, 0);
    }
    jm_log_perror(JM_LOG_MARK, JM_LOG_DEBUG, 0, p, JMLOGNO(03020)
                  "certificate for %s: %s", key, res->reason);
leave:
    apr_pool_destroy(scratch);
    return rv;
}

/* --------------------------------------------------------- user addresses */

static int valid_username(const char *u)
{
    const char *s;
    if (!u || !*u || strlen(u) > 256) {
        return 0;
    }
    for (s = u; *s; ++s) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* O(1) per address: the entry's values are bounded, but not small. */
static void add_unique(apr_array_header_t *a, apr_hash_t *seen, const char *s)
{
    if (!apr_hash_get(seen, s, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, s, APR_HASH_KEY_STRING, s);
        APR_ARRAY_PUSH(a, const char *) = s;
    }
}

apr_status_t jm_certdir_user_addresses(apr_array_header_t **paddrs,
                                       jm_certdir_t *cd, const char *username,
                                       apr_time_t request_deadline,
                                       const char **perr, apr_pool_t *p)
{
    apr_array_header_t *addrs = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *entries;
    apr_hash_t *seen = apr_hash_make(p);
    const char *attrs[2], *filter, *key;
    jm_certdir_cached_t hit;
    jm_ldap_search_opts_t o;
    apr_status_t rv;
    char *blob, *s;
    size_t len = 0;
    int i, j, k, dropped = 0;

    *perr = NULL;
    if (!cd->conf.user_filter) {
        *perr = "no user filter configured";
        return APR_ENOTIMPL;
    }
    if (!valid_username(username)) {
        *paddrs = addrs;
        return APR_SUCCESS;
    }
    key = lower(username, p);
    if (jm_certdir_cache_get(&hit, cd->users, key, apr_time_now(), p)) {
        for (s = (char *)hit.blob, i = 0; i < hit.nitems; ++i, s += strlen(s) + 1) {
            APR_ARRAY_PUSH(addrs, const char *) = s;
        }
        *paddrs = addrs;
        return APR_SUCCESS;
    }
    if (APR_SUCCESS != (rv = jm_ldap_filter(&filter, cd->conf.user_filter,
                                            username, p))) {
        *perr = "cannot build the user search filter";
        return rv;
    }
    if (out_of_time(cd, request_deadline, apr_psprintf(p, "user %s", key),
                    perr, p)) {
        return APR_TIMEUP;
    }
    attrs[0] = cd->conf.user_mail_attr;
    attrs[1] = NULL;
    memset(&o, 0, sizeof(o));
    o.deadline = lookup_deadline(cd, request_deadline);
    o.sizelimit = 2;            /* more than one is refused below */
    o.max_values = MAX_USER_ADDRESSES;
    o.max_value_len = MAX_ADDRESS_LEN;
    o.max_message = MAX_USER_MESSAGE;
    rv = jm_ldap_search(&entries, cd->ldap, cd->conf.base, LDAP_SCOPE_SUBTREE,
                        filter, attrs, &o, perr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (entries->nelts > 1) {
        /* which one is the user? refusing is the only safe answer */
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(03030)
                      "user filter %s matches %d entries; no addresses used",
                      filter, entries->nelts);
        entries->nelts = 0;
    }
    for (i = 0; i < entries->nelts; ++i) {
        jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, i, jm_ldap_entry_t);
        for (j = 0; j < e->attrs->nelts; ++j) {
            jm_ldap_attr_t *a = &APR_ARRAY_IDX(e->attrs, j, jm_ldap_attr_t);
            dropped += a->dropped;
            for (k = 0; k < a->values->nelts; ++k) {
                jm_ldap_value_t *v = &APR_ARRAY_IDX(a->values, k, jm_ldap_value_t);
                const char *addr = (const char *)v->data;
                if (addr && strlen(addr) == v->len && valid_address(addr)) {
                    add_unique(addrs, seen, lower(addr, p));
                }
            }
        }
    }
    if (dropped) {
        jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, 0, p, JMLOGNO(08015)
                      "user %s has more than %d %s values in %s; the first %d "
                      "used", key, MAX_USER_ADDRESSES, cd->conf.user_mail_attr,
                      jm_ldap_url(cd->ldap), MAX_USER_ADDRESSES);
    }
    for (i = 0; i < addrs->nelts; ++i) {
        len += strlen(APR_ARRAY_IDX(addrs, i, const char *)) + 1;
    }
    blob = apr_palloc(p, len + 1);
    for (s = blob, i = 0; i < addrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        memcpy(s, a, strlen(a) + 1);
        s += strlen(a) + 1;
    }
    cache_put(cd->users, key, addrs->nelts ? JM_CERT_OK : JM_CERT_NOT_FOUND,
              "", NULL, blob, len, addrs->nelts, apr_time_now()
              + (addrs->nelts ? cd->conf.cache_ttl : cd->conf.negative_ttl));
    *paddrs = addrs;
    return APR_SUCCESS;
}
