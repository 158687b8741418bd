/* Shared by the libFuzzer targets in t/fuzz/ (see t/fuzz/README): process
 * set-up, a PKI made at start, an in-memory certificate directory (the
 * jm_ldap API answered from memory, t/fuzz/fake_ldap.c), the "fake store"
 * (a real store on a temporary SQLite database through apr_dbd, reset to
 * its first state after every input that changed it) and the contexts
 * built from them.
 *
 * Contexts are built with memset(0) + explicit fields and the limits come
 * from fz_limits() only, so new members of jm_ctx_t / jm_limits_t (e.g. a
 * per-request budget) need one edit here.
 */
#ifndef JM_FUZZ_COMMON_H
#define JM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/jm_request.h"
#include "directory/jm_certdir.h"
#include "smime/jm_keystore.h"
#include "directory/jm_ldap.h"

/* libFuzzer entry points (also called by t/fuzz/regress_main.c) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- process ------------------------------------------------------------ */

/** Process-lifetime pool (everything made once lives here). */
extern apr_pool_t *fz_pool;

/** APR, GLib environment (G_SLICE=always-malloc), quiet core logging that
 *  still formats every message, GMime, OpenSSL. Idempotent. */
void fz_init(void);

/** A private directory under /dev/shm (or $TMPDIR, /tmp), removed at exit. */
const char *fz_tmpdir(void);

/** Write bytes to fz_tmpdir()/name; returns the path (allocated in p). */
const char *fz_write_file(const char *name, const void *data, size_t len,
                          apr_pool_t *p);

/** Setup failure: message and exit(2) (not a finding). */
void fz_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/** The limits every fuzz context uses (one place to add new fields). */
void fz_limits(jm_limits_t *l);

/** A pool for one input. Its allocator keeps no free memory, so blocks go
 *  back to malloc when the pool is destroyed and AddressSanitizer can see
 *  a use after the pool is gone (at block granularity). */
apr_pool_t *fz_run_pool(void);
void fz_run_pool_done(apr_pool_t *p);

/** Small deterministic choice from bytes (FNV-1a). */
uint32_t fz_hash(const void *data, size_t len);

/* ---- PKI (made at start, in memory) ------------------------------------- */

typedef struct {
    const char *addr;
    EVP_PKEY *key;
    X509 *cert;
} fz_ident_t;

typedef struct {
    EVP_PKEY *ca_key;        /* fixed key (so seed certificates verify) */
    X509 *ca;                /* "JM Fuzz Root", made at start */
    EVP_PKEY *other_key;     /* an untrusted CA */
    X509 *other;
    X509_CRL *crl;           /* by ca, revokes erin */
    fz_ident_t alice;        /* EC P-256, signs and decrypts (the user) */
    fz_ident_t sales;        /* RSA-2048, shared address (JMAPSendAs) */
    fz_ident_t bob;          /* RSA-2048 recipient (same key as sales) */
    fz_ident_t carol;        /* EC P-256 recipient */
    fz_ident_t dave;         /* expired */
    fz_ident_t erin;         /* revoked */
    fz_ident_t frank;        /* keyUsage without encryption */
    fz_ident_t grace;        /* issued by the untrusted CA */
    const char *ca_file;     /* PEM of ca */
    const char *crl_file;    /* PEM of crl */
} fz_pki_t;

fz_pki_t *fz_pki(void);

/** A leaf or CA certificate. from/to in days relative to now; ku/eku in
 *  openssl config syntax or NULL; email NULL for none. */
X509 *fz_make_cert(EVP_PKEY *key, const char *cn, const char *email,
                   EVP_PKEY *issuer_key, X509 *issuer, long from_days,
                   long to_days, const char *ku, const char *eku, long serial,
                   int is_ca);
EVP_PKEY *fz_ec_key(void);
EVP_PKEY *fz_rsa_key(void);

/** DER of a certificate / CRL in p. */
const unsigned char *fz_cert_der(X509 *x, size_t *plen, apr_pool_t *p);
const unsigned char *fz_crl_der(X509_CRL *c, size_t *plen, apr_pool_t *p);

/* ---- in-memory directory (t/fuzz/fake_ldap.c) --------------------------- */

/** What jm_ldap_search answers; the default is fz_dir_default. */
typedef apr_status_t fz_ldap_backend_fn(apr_array_header_t **pentries,
                                        const char *base, const char *filter,
                                        const char *const *attrs,
                                        const char **perr, apr_pool_t *p);
extern fz_ldap_backend_fn *fz_ldap_backend;
extern unsigned long fz_ldap_searches;

/** Append an entry / an attribute value (copied into malloc'ed memory of
 *  exactly len+1 bytes, freed with p: AddressSanitizer sees over-reads). */
jm_ldap_entry_t *fz_entry_add(apr_array_header_t *entries, const char *dn,
                              apr_pool_t *p);
void fz_value_add(jm_ldap_entry_t *e, const char *attr, const void *data,
                  size_t len, apr_pool_t *p);

/** The value of "(attr=value)" with RFC 4515 escapes undone; NULL if the
 *  filter has another shape. */
const char *fz_filter_value(const char *filter, const char *attr, apr_pool_t *p);

/** The fixed directory: alice (uid, addresses), the recipients' entries
 *  and the CA entry with its CRL. */
apr_status_t fz_dir_default(apr_array_header_t **pentries, const char *base,
                            const char *filter, const char *const *attrs,
                            const char **perr, apr_pool_t *p);

/** A jm_certdir_conf_t for the in-memory directory. */
void fz_certdir_conf(jm_certdir_conf_t *c, apr_pool_t *p);

/* ---- the fake store ----------------------------------------------------- */

#define FZ_MAX_IDS 16

typedef struct {
    const char *v[FZ_MAX_IDS];
    int n;
} fz_ids_t;

typedef struct {
    jm_db_t *db;
    void *native;              /* sqlite3* of the working database */
    long long changes;         /* sqlite3_total_changes after the last reset */
    int force_reset;           /* restore at the next fz_store_reset() anyway */
    const char *username;
    const char *account_id;
    fz_ids_t mbox;             /* inbox, drafts, sent, archive, junk, trash */
    fz_ids_t blob;             /* uploaded blobs */
    fz_ids_t msg;              /* blob ids of stored messages */
    fz_ids_t email;            /* email ids */
    fz_ids_t part;             /* "<msg blob>_<partId>" of stored messages */
    fz_ids_t ident;            /* identity ids */
    jm_certdir_t *certdir;     /* no cache: see build_store() */
    jm_keystore_t *keystore;
    apr_array_header_t *send_as;  /* jm_send_as_rule_t */
    jm_smime_policy_t smime;
    jm_limits_t limits;
} fz_store_t;

/** Created on first use: database, account, blobs, emails, directory,
 *  keys. Exits on failure. */
fz_store_t *fz_store(void);

/** A fresh context for one input (account state is per request, like the
 *  glue builds it), allocated in p. */
jm_ctx_t *fz_ctx(apr_pool_t *p);

/** Put the database back to its state after set-up if anything changed. */
void fz_store_reset(void);

/**
 * Replace placeholders by ids valid in the fake store: $ACCOUNT, and
 * $MBOXn $BLOBn $MSGn $PARTn $EMAILn $IDENTn (n: one digit, taken modulo
 * the number available). Returns a NUL-terminated copy in p.
 */
const char *fz_subst(const char *data, size_t len, size_t *plen, apr_pool_t *p);

/** The blob fetch callback Email/set uses (same call as jm_email.c's). */
apr_status_t fz_fetch_blob(const unsigned char **pdata, apr_size_t *plen,
                           void *ctx, const char *blob_id, apr_pool_t *p);

/** Environment switch JM_FUZZ_AVOID_KNOWN=1: skip inputs that reach a
 *  known, reported crash (see t/fuzz/README). Off by default. */
int fz_avoid_known(void);

#endif
