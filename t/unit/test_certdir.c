/* jm_certdir against a private slapd with the shared test PKI; its cache
 * (jm_certdir_cache) as pure logic, with a micro-benchmark; the request's
 * directory deadline against a directory that is slow or never answers (a
 * proxy thread in front of slapd); the bounds on what the directory returns.
 *
 * Needs slapd, ldap-utils and the openssl CLI. Scripts are found through
 * $JMAP_SRCDIR (the source tree root: $JMAP_SRCDIR/t/lib/mkpki.sh), else by
 * trying ".", "..", "../.." and the binary's directory and its parents.
 * Everything lives in a mkdtemp() dir (/tmp/jm-certdir.XXXXXX), removed at
 * exit unless JM_TEST_KEEP is set; slapd listens on a free 127.0.0.1 port and
 * is stopped by pid at exit, on fatal signals and by a 240 s watchdog.
 * JM_TEST_DEBUG=1 shows debug log lines.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ldap.h>

#include "directory/jm_certdir.h"
#include "directory/jm_certdir_cache.h"
#include "directory/jm_ldap.h"
#include "core/jm_log.h"
#include "tap.h"

static char srcdir[PATH_MAX];
static char tmpdir[PATH_MAX] = "";
static char pkidir[PATH_MAX + 16];
static char ldapdir[PATH_MAX + 16];
static volatile pid_t slapd_pid = 0;
static int port;

/* ------------------------------------------------------------ plumbing */

/* Tags ("JM01234") of the messages logged so far, for log_count(). */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char log_tags[1 << 16];
static size_t log_tags_len;

static void log_print(const char *file, int line, jm_log_level_t level,
                      apr_status_t rv, const char *msg, apr_pool_t *p)
{
    (void)p;
    fprintf(stderr, "# [log %d] %s:%d (rv %d) %s\n", level, file, line, rv, msg);
    pthread_mutex_lock(&log_mutex);
    if (!strncmp(msg, "JM", 2) && strlen(msg) >= 7
        && log_tags_len + 8 < sizeof(log_tags)) {
        memcpy(log_tags + log_tags_len, msg, 7);
        log_tags[log_tags_len + 7] = ' ';
        log_tags_len += 8;
        log_tags[log_tags_len] = '\0';
    }
    pthread_mutex_unlock(&log_mutex);
}

static int log_count(const char *tag)
{
    const char *s;
    int n = 0;

    pthread_mutex_lock(&log_mutex);
    for (s = log_tags; (s = strstr(s, tag)) != NULL; s += strlen(tag)) {
        ++n;
    }
    pthread_mutex_unlock(&log_mutex);
    return n;
}

static int log_is_level(jm_log_level_t level)
{
    return level <= JM_LOG_WARNING || getenv("JM_TEST_DEBUG");
}

static int keep_tmp;

/* Only async-signal-safe calls: kill, fork, execv, waitpid. */
static void on_signal(int sig)
{
    if (slapd_pid > 0) {
        kill(slapd_pid, SIGCONT);
        kill(slapd_pid, SIGKILL);
    }
    if (tmpdir[0] && !keep_tmp) {
        pid_t pid = fork();
        if (pid == 0) {
            char *const args[] = { "rm", "-rf", tmpdir, NULL };
            execv("/bin/rm", args);
            _exit(127);
        }
        if (pid > 0) {
            waitpid(pid, NULL, 0);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) {
        diag("command failed (%d): %s", rc, cmd);
    }
    return rc;
}

static void cleanup(void)
{
    char cmd[3 * PATH_MAX];
    if (slapd_pid > 0) {
        kill(slapd_pid, SIGCONT);
        snprintf(cmd, sizeof(cmd), "bash '%s/t/lib/slapd-stop.sh' '%s'", srcdir,
                 ldapdir);
        if (system(cmd) != 0) {
            kill(slapd_pid, SIGKILL);
        }
        slapd_pid = 0;
    }
    if (tmpdir[0] && !keep_tmp) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", tmpdir);
        }
    }
}

static int find_srcdir(const char *argv0)
{
    char self[PATH_MAX], bindir[PATH_MAX], up1[PATH_MAX + 4], up2[PATH_MAX + 8];
    const char *env = getenv("JMAP_SRCDIR");
    const char *tries[8];
    int n = 0, i;

    if (env && *env) {
        tries[n++] = env;
    }
    tries[n++] = ".";
    tries[n++] = "..";
    tries[n++] = "../..";
    snprintf(self, sizeof(self), "%s", argv0);
    snprintf(bindir, sizeof(bindir), "%s", dirname(self));
    snprintf(up1, sizeof(up1), "%s/..", bindir);
    snprintf(up2, sizeof(up2), "%s/../..", bindir);
    tries[n++] = bindir;
    tries[n++] = up1;
    tries[n++] = up2;
    for (i = 0; i < n; ++i) {
        char f[PATH_MAX + 32];
        snprintf(f, sizeof(f), "%s/t/lib/mkpki.sh", tries[i]);
        if (access(f, R_OK) == 0 && realpath(tries[i], srcdir)) {
            return 0;
        }
    }
    return -1;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
        && getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        p = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return p;
}

static int read_pid(void)
{
    char f[PATH_MAX + 32];
    FILE *fp;
    int pid = 0;

    snprintf(f, sizeof(f), "%s/slapd.pid", ldapdir);
    if ((fp = fopen(f, "r")) != NULL) {
        if (fscanf(fp, "%d", &pid) != 1) {
            pid = 0;
        }
        fclose(fp);
    }
    return pid;
}

static int slapd_start(void)
{
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "bash '%s/t/lib/slapd-start.sh' '%s' %d "
             "'%s/directory.ldif'", srcdir, ldapdir, port, pkidir);
    if (run(cmd) != 0) {
        return -1;
    }
    slapd_pid = read_pid();
    return slapd_pid > 0 ? 0 : -1;
}

static void slapd_stop(void)
{
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "bash '%s/t/lib/slapd-stop.sh' '%s'", srcdir,
             ldapdir);
    run(cmd);
    slapd_pid = 0;
}

/* SIGSTOP is asynchronous: wait until the kernel reports slapd stopped. */
static int stop_slapd_process(void)
{
    char f[64], buf[512], *rp;
    int i;

    kill(slapd_pid, SIGSTOP);
    snprintf(f, sizeof(f), "/proc/%d/stat", (int)slapd_pid);
    for (i = 0; i < 200; ++i) {
        FILE *fp = fopen(f, "r");
        size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
        if (fp) {
            fclose(fp);
        }
        buf[n] = '\0';
        rp = strrchr(buf, ')');
        if (rp && (rp[2] == 'T' || rp[2] == 't')) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    return -1;
}

static X509 *load_pem(const char *name)
{
    char f[PATH_MAX + 64];
    FILE *fp;
    X509 *x = NULL;

    snprintf(f, sizeof(f), "%s/%s", pkidir, name);
    if ((fp = fopen(f, "r")) != NULL) {
        x = PEM_read_X509(fp, NULL, NULL, NULL);
        fclose(fp);
    }
    return x;
}

static const char *pki(const char *name, apr_pool_t *p)
{
    return apr_psprintf(p, "%s/%s", pkidir, name);
}

static apr_array_header_t *list1(const char *s, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 1, sizeof(const char *));
    if (s) {
        APR_ARRAY_PUSH(a, const char *) = s;
    }
    return a;
}

/* Defaults used throughout; tests change single fields. */
static jm_certdir_conf_t base_conf(apr_pool_t *p)
{
    jm_certdir_conf_t c;
    memset(&c, 0, sizeof(c));
    c.url = apr_psprintf(p, "ldap://127.0.0.1:%d", port);
    c.base = "dc=example,dc=com";
    c.cert_filter = "(mail=%s)";
    c.cert_attrs = list1("userCertificate;binary", p);
    APR_ARRAY_PUSH(c.cert_attrs, const char *) = "userSMIMECertificate";
    c.user_filter = "(uid=%s)";
    c.user_mail_attr = "mail";
    c.timeout = apr_time_from_sec(2);
    c.trust_files = list1(pki("ca.pem", p), p);
    c.crl_files = list1(pki("ca.crl", p), p);
    c.crl_from_directory = 0;
    c.require_crl = 0;
    c.cache_ttl = apr_time_from_sec(300);
    c.negative_ttl = apr_time_from_sec(60);
    c.cache_max = 100;
    return c;
}

static jm_certdir_t *make_cd(const jm_certdir_conf_t *c, apr_pool_t *p)
{
    jm_certdir_t *cd = NULL;
    const char *err = NULL;
    if (jm_certdir_create(&cd, c, &err, p) != APR_SUCCESS) {
        diag("jm_certdir_create: %s", err ? err : "?");
        return NULL;
    }
    return cd;
}

static unsigned long searches(jm_certdir_t *cd)
{
    jm_certdir_stats_t st;
    jm_certdir_stats(cd, &st);
    return st.ldap_searches;
}

static unsigned long reconnects(jm_certdir_t *cd)
{
    jm_certdir_stats_t st;
    jm_certdir_stats(cd, &st);
    return st.reconnects;
}

static const char *status_name(jm_cert_status_t s)
{
    static const char *names[] = {
        "OK", "NOT_FOUND", "EXPIRED", "REVOKED", "UNUSABLE", "UNTRUSTED"
    };
    return (int)s >= 0 && s <= JM_CERT_UNTRUSTED ? names[s] : "?";
}

/* One lookup; returns the status name, or "ERROR" when the call failed. */
static const char *lookup(jm_cert_lookup_t *res, jm_certdir_t *cd,
                          const char *addr, apr_pool_t *p)
{
    const char *err = NULL;
    apr_status_t rv = jm_certdir_find_encryption_cert(res, cd, addr, 0, &err, p);
    if (rv != APR_SUCCESS) {
        diag("lookup %s: rv %d: %s", addr ? addr : "(null)", rv, err ? err : "?");
        return "ERROR";
    }
    return status_name(res->status);
}

static void expect(jm_certdir_t *cd, const char *addr, const char *want,
                   const char *want_reason, apr_pool_t *p)
{
    jm_cert_lookup_t res;
    const char *got = lookup(&res, cd, addr, p);
    is_str(got, want, apr_psprintf(p, "%s -> %s", addr, want));
    if (!strcmp(got, "OK")) {
        ok(res.cert != NULL, "%s: certificate returned", addr);
    }
    else if (strcmp(got, "ERROR")) {
        ok(res.cert == NULL, "%s: no certificate with a negative verdict", addr);
    }
    if (want_reason) {
        is_str(strcmp(got, "ERROR") ? res.reason : NULL, want_reason,
               apr_psprintf(p, "%s: reason", addr));
    }
}

static int same_cert(X509 *a, const char *pem)
{
    X509 *b = load_pem(pem);
    int same = a && b && X509_cmp(a, b) == 0;
    X509_free(b);
    return same;
}

/* -------------------------------------------------------------- tests */

static void test_conf(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    const char *err = NULL;
    jm_certdir_t *cd = NULL;

    ok(jm_certdir_check_conf(&c, &err, p) == APR_SUCCESS, "good conf accepted");

#define BAD(field_change, what) do {                                      \
        jm_certdir_conf_t b = base_conf(p);                              \
        field_change;                                                    \
        apr_status_t brv;                                                \
        err = NULL;                                                      \
        brv = jm_certdir_check_conf(&b, &err, p);                        \
        ok(brv != APR_SUCCESS && err,                                    \
           "rejected: %s (%s)", what, err ? err : "no message");         \
        err = NULL;                                                      \
        brv = jm_certdir_create(&cd, &b, &err, p);                       \
        ok(brv != APR_SUCCESS && err, "create rejects: %s", what);       \
    } while (0)

    BAD(b.trust_files = list1(pki("missing.pem", p), p), "missing trust file");
    BAD(b.trust_files = list1(pki("users.txt", p), p), "trust file without certs");
    BAD(b.crl_files = list1(pki("missing.crl", p), p), "missing CRL file");
    BAD(b.crl_files = list1(pki("alice.pem", p), p), "CRL file with a cert");
    BAD(b.cert_filter = "(mail=*)", "filter without %s");
    BAD(b.cert_filter = "(|(mail=%s)(cn=%s))", "filter with two %s");
    BAD(b.cert_filter = "(mail=%d)", "filter with %d");
    BAD(b.cert_filter = NULL, "no filter");
    BAD(b.user_filter = "(uid=x)", "user filter without %s");
    BAD(b.url = "http://127.0.0.1/", "http URL");
    BAD(b.url = "not a url", "garbage URL");
    BAD(b.url = NULL, "no URL");
    BAD(b.timeout = 0, "zero timeout");
    BAD(b.timeout = -5, "negative timeout");
    BAD(b.base = "", "empty base");
    BAD(b.base = "dc=example,,", "malformed base");
    BAD(b.url = "ldaps://127.0.0.1:1"; b.starttls = 1, "StartTLS with ldaps");
    BAD(b.bind_dn = "cn=admin,dc=example,dc=com", "bind DN without password");
    BAD(b.negative_ttl = -1, "negative TTL");

    /* a CRL whose signature does not verify with the anchor of that name */
    {
        char cmd[4 * PATH_MAX];
        jm_certdir_conf_t b = base_conf(p);
        apr_status_t rv;
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && openssl crl -in ca.crl -outform DER -out bad.crl.der"
                 " && printf '\\x55' | dd of=bad.crl.der bs=1 seek=$(($(stat -c %%s"
                 " bad.crl.der) - 5)) conv=notrunc 2>/dev/null", pkidir);
        run(cmd);
        b.crl_files = list1(pki("bad.crl.der", p), p);
        err = NULL;
        rv = jm_certdir_check_conf(&b, &err, p);
        ok(rv != APR_SUCCESS && err,
           "rejected: CRL with a broken signature (%s)", err ? err : "-");
        b.crl_files = list1(pki("ca.crl.der", p), p);
        ok(jm_certdir_check_conf(&b, &err, p) == APR_SUCCESS, "DER CRL file accepted");
        b.trust_files = list1(pki("alice-full.pem", p), p);
        APR_ARRAY_PUSH(b.trust_files, const char *) = pki("ca.der", p);
        ok(jm_certdir_check_conf(&b, &err, p) == APR_SUCCESS,
           "multi-cert PEM and DER trust files accepted");
    }
}

static void test_verdicts(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd = make_cd(&c, p);
    jm_cert_lookup_t res;
    unsigned long n;
    int i;
    static const char *invalid[] = {
        "", "a\r\nb@x", "noat", "@example.com", "alice@", "a b@example.com",
        "alice@example.com\n", NULL
    };

    ok(cd != NULL, "certdir created");
    if (!cd) {
        return;
    }
    is_str(lookup(&res, cd, "alice@example.com", p), "OK", "alice: OK");
    ok(same_cert(res.cert, "alice.pem"), "alice: her certificate");
    is_int(res.from_cache, 0, "alice: first answer from the directory");
    ok(res.cert && EVP_PKEY_get_base_id(X509_get0_pubkey(res.cert)) == EVP_PKEY_RSA,
       "alice: RSA");
    is_str(lookup(&res, cd, "carol@example.com", p), "OK", "carol: OK");
    ok(same_cert(res.cert, "carol.pem"), "carol: her certificate");
    ok(res.cert && EVP_PKEY_get_base_id(X509_get0_pubkey(res.cert)) == EVP_PKEY_EC,
       "carol: EC");
    is_str(lookup(&res, cd, "heidi@example.com", p), "OK", "heidi: OK");
    ok(same_cert(res.cert, "heidi.pem"), "heidi: the newer certificate");
    ok(!same_cert(res.cert, "heidi-old.pem"), "heidi: not the older one");
    is_str(lookup(&res, cd, "ivan@example.com", p), "OK", "ivan: OK (PKCS#7)");
    ok(same_cert(res.cert, "ivan.pem"), "ivan: from userSMIMECertificate");
    is_str(lookup(&res, cd, "sales@example.com", p), "OK", "sales: OK");

    expect(cd, "dave@example.com", "EXPIRED", "certificate expired on 2021-01-01", p);
    expect(cd, "erin@example.com", "REVOKED", "certificate revoked", p);
    expect(cd, "frank@example.com", "UNUSABLE",
           "certificate not valid for encryption (key usage)", p);
    expect(cd, "grace@example.com", "UNTRUSTED",
           "certificate does not chain to a trusted CA", p);
    expect(cd, "mallory@example.com", "NOT_FOUND", "no certificate in directory", p);
    expect(cd, "nobody@example.com", "NOT_FOUND", "no certificate in directory", p);
    /* RFC 4515 escaping: these must not match anyone */
    expect(cd, "*@example.com", "NOT_FOUND", NULL, p);
    expect(cd, "alice@example.com)(mail=*", "NOT_FOUND", NULL, p);
    expect(cd, "ali*@example.com", "NOT_FOUND", NULL, p);

    n = searches(cd);
    for (i = 0; invalid[i]; ++i) {
        is_str(lookup(&res, cd, invalid[i], p), "NOT_FOUND",
               apr_psprintf(p, "invalid address #%d rejected", i));
        is_str(res.reason, "invalid address", "  reason: invalid address");
    }
    is_str(lookup(&res, cd, NULL, p), "NOT_FOUND", "NULL address rejected");
    is_int(searches(cd), n, "invalid addresses: no directory search");

    n = searches(cd);
    is_str(lookup(&res, cd, "Bob@EXAMPLE.com", p), "OK", "mixed case address: OK");
    ok(same_cert(res.cert, "bob.pem"), "mixed case: bob's certificate");
    is_int(searches(cd), n + 1, "mixed case: one search");
    is_str(lookup(&res, cd, "bob@example.com", p), "OK", "lower case after mixed");
    is_int(res.from_cache, 1, "same address, other case: cache hit");

    n = searches(cd);
    {
        jm_certdir_stats_t before, after;
        jm_certdir_stats(cd, &before);
        is_str(lookup(&res, cd, "alice@example.com", p), "OK", "alice again: OK");
        jm_certdir_stats(cd, &after);
        is_int(res.from_cache, 1, "alice again: from cache");
        ok(same_cert(res.cert, "alice.pem"), "alice again: same certificate");
        is_int(after.ldap_searches, before.ldap_searches, "alice again: no search");
        is_int(after.cache_hits, before.cache_hits + 1, "alice again: cache_hits +1");
        is_int(after.lookups, before.lookups + 1, "lookups counted");
    }
    n = searches(cd);
    expect(cd, "nobody@example.com", "NOT_FOUND", NULL, p);
    is_int(searches(cd), n, "negative cache: no new search for nobody");
    expect(cd, "dave@example.com", "EXPIRED", "certificate expired on 2021-01-01", p);
    is_int(searches(cd), n, "cached EXPIRED verdict keeps its reason");

    /* user addresses */
    {
        apr_array_header_t *a = NULL;
        const char *err = NULL;
        int has1 = 0, has2 = 0;

        ok(jm_certdir_user_addresses(&a, cd, "alice", 0, &err, p) == APR_SUCCESS,
           "user_addresses(alice) succeeds");
        for (i = 0; a && i < a->nelts; ++i) {
            const char *s = APR_ARRAY_IDX(a, i, const char *);
            has1 |= !strcmp(s, "alice@example.com");
            has2 |= !strcmp(s, "alice.smith@example.com");
        }
        ok(a && a->nelts == 2 && has1 && has2, "alice has both addresses");
        n = searches(cd);
        ok(jm_certdir_user_addresses(&a, cd, "ALICE", 0, &err, p) == APR_SUCCESS
           && a->nelts == 2, "user_addresses(ALICE): same, cached");
        is_int(searches(cd), n, "user_addresses cached");
        ok(jm_certdir_user_addresses(&a, cd, "nosuchuser", 0, &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "unknown user: empty array");
        ok(jm_certdir_user_addresses(&a, cd, "*", 0, &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "user '*' is escaped: empty");
        ok(jm_certdir_user_addresses(&a, cd, "", 0, &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "empty user: empty");
        ok(jm_certdir_user_addresses(&a, cd, "carol", 0, &err, p) == APR_SUCCESS
           && a->nelts == 1
           && !strcmp(APR_ARRAY_IDX(a, 0, const char *), "carol@example.com"),
           "carol: one address");
    }
}

static void test_crl_sources(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    unsigned long n;

    c.crl_files = list1(NULL, p);
    c.crl_from_directory = 1;
    cd = make_cd(&c, p);
    ok(cd != NULL, "certdir with directory CRLs");
    if (!cd) {
        return;
    }
    n = searches(cd);
    expect(cd, "erin@example.com", "REVOKED", "certificate revoked", p);
    is_int(searches(cd), n + 2, "erin: certificate search + CRL fetch");
    n = searches(cd);
    expect(cd, "alice@example.com", "OK", NULL, p);
    is_int(searches(cd), n + 1, "directory CRL kept until nextUpdate/TTL");

    c.crl_from_directory = 0;
    cd = make_cd(&c, p);
    expect(cd, "erin@example.com", "OK", NULL, p);
    diag("(without any CRL erin's certificate is accepted: the CRL matters)");

    c.require_crl = 1;
    cd = make_cd(&c, p);
    lookup(&res, cd, "alice@example.com", p);
    is_str(status_name(res.status), "UNUSABLE", "require_crl without CRL: UNUSABLE");
    ok(res.reason && strstr(res.reason, "revocation"), "  reason: %s",
       res.reason ? res.reason : "-");

    c.crl_from_directory = 1;
    cd = make_cd(&c, p);
    expect(cd, "alice@example.com", "OK", NULL, p);
    expect(cd, "erin@example.com", "REVOKED", NULL, p);

    /* an anchor that is not our CA: everyone is untrusted */
    c = base_conf(p);
    c.trust_files = list1(pki("grace.pem", p), p);
    c.crl_files = list1(NULL, p);
    cd = make_cd(&c, p);
    expect(cd, "alice@example.com", "UNTRUSTED", NULL, p);
    expect(cd, "grace@example.com", "OK", NULL, p);

    /* only userCertificate: ivan (PKCS#7 only) has no certificate then */
    c = base_conf(p);
    c.cert_attrs = list1("userCertificate;binary", p);
    cd = make_cd(&c, p);
    expect(cd, "ivan@example.com", "NOT_FOUND", NULL, p);
}

static void test_ttl_and_eviction(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    unsigned long n;

    c.cache_ttl = apr_time_from_sec(1);
    c.negative_ttl = apr_time_from_sec(1);
    cd = make_cd(&c, p);
    if (!cd) {
        ok(0, "certdir for TTL tests");
        return;
    }
    lookup(&res, cd, "alice@example.com", p);
    lookup(&res, cd, "nobody@example.com", p);
    n = searches(cd);
    lookup(&res, cd, "alice@example.com", p);
    is_int(res.from_cache, 1, "ttl 1s: immediate repeat is a hit");
    lookup(&res, cd, "nobody@example.com", p);
    is_int(searches(cd), n, "ttl 1s: no searches yet");
    apr_sleep(apr_time_from_sec(2));
    lookup(&res, cd, "alice@example.com", p);
    is_int(res.from_cache, 0, "after 2s: alice asked again");
    is_str(status_name(res.status), "OK", "after 2s: still OK");
    lookup(&res, cd, "nobody@example.com", p);
    is_int(searches(cd), n + 2, "after 2s: both asked again (positive and negative)");

    c = base_conf(p);
    c.cache_max = 2;
    cd = make_cd(&c, p);
    lookup(&res, cd, "alice@example.com", p);
    lookup(&res, cd, "bob@example.com", p);
    lookup(&res, cd, "carol@example.com", p);
    n = searches(cd);
    lookup(&res, cd, "carol@example.com", p);
    is_int(res.from_cache, 1, "cache_max 2: newest kept");
    lookup(&res, cd, "alice@example.com", p);
    is_int(res.from_cache, 0, "cache_max 2: oldest evicted");
    is_int(searches(cd), n + 1, "cache_max 2: one new search");

    c = base_conf(p);
    c.cache_max = 0;
    cd = make_cd(&c, p);
    lookup(&res, cd, "alice@example.com", p);
    lookup(&res, cd, "alice@example.com", p);
    is_int(res.from_cache, 0, "cache_max 0: no caching");
}

static void test_directory_down(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    apr_array_header_t *a;
    const char *err = NULL;
    apr_time_t t0, dt;
    apr_status_t rv;
    int closed = free_port();

    c.url = apr_psprintf(p, "ldap://127.0.0.1:%d", closed);
    c.timeout = apr_time_from_sec(1);
    cd = make_cd(&c, p);
    if (!cd) {
        ok(0, "certdir for a closed port");
        return;
    }
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    dt = apr_time_now() - t0;
    ok(rv != APR_SUCCESS, "closed port: lookup fails (rv %d)", rv);
    ok(err != NULL, "closed port: reason: %s", err ? err : "-");
    ok(dt < 2 * c.timeout, "closed port: returned in %" APR_TIME_T_FMT " ms",
       apr_time_as_msec(dt));
    err = NULL;
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    ok(rv != APR_SUCCESS && res.from_cache == 0,
       "closed port: failure was not cached as a verdict");
    rv = jm_certdir_user_addresses(&a, cd, "alice", 0, &err, p);
    ok(rv != APR_SUCCESS, "closed port: user_addresses fails too");
    ok(reconnects(cd) >= 2, "closed port: reconnect attempts counted (%lu)",
       reconnects(cd));
}

static void test_slow_and_restart(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    const char *err = NULL;
    apr_time_t t0, dt;
    apr_status_t rv;
    unsigned long r;

    c.timeout = apr_time_from_sec(1);
    c.cache_max = 0;
    cd = make_cd(&c, p);
    if (!cd) {
        ok(0, "certdir for the slow directory test");
        return;
    }
    is_str(lookup(&res, cd, "alice@example.com", p), "OK", "warm connection");
    r = reconnects(cd);
    ok(stop_slapd_process() == 0, "slapd stopped with SIGSTOP");
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com", 0, &err, p);
    dt = apr_time_now() - t0;
    kill(slapd_pid, SIGCONT);
    ok(rv != APR_SUCCESS, "stopped slapd: lookup fails (rv %d: %s)", rv,
       err ? err : "-");
    ok(rv == APR_TIMEUP || rv == APR_EAGAIN, "stopped slapd: retryable status");
    ok(dt >= apr_time_from_msec(900) && dt < apr_time_from_sec(3),
       "stopped slapd: gave up after %" APR_TIME_T_FMT " ms (1 s timeout)",
       apr_time_as_msec(dt));
    ok(reconnects(cd) > r, "stopped slapd: reconnect attempted");
    is_str(lookup(&res, cd, "bob@example.com", p), "OK",
           "after SIGCONT: lookup works again");

    r = reconnects(cd);
    slapd_stop();
    ok(slapd_start() == 0, "slapd restarted on the same port");
    is_str(lookup(&res, cd, "carol@example.com", p), "OK",
           "after restart: lookup works");
    ok(reconnects(cd) > r, "after restart: stale handle replaced (%lu > %lu)",
       reconnects(cd), r);
}

static void test_tls_and_bind(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    apr_array_header_t *a;
    const char *err = NULL;
    apr_status_t rv;
    apr_time_t t0;

    c.starttls = 1;
    c.tls_cafile = pki("ca.pem", p);
    cd = make_cd(&c, p);
    expect(cd, "alice@example.com", "OK", NULL, p);
    ok(jm_certdir_user_addresses(&a, cd, "alice", 0, &err, p) == APR_SUCCESS
       && a->nelts == 2, "StartTLS: user_addresses works");

    c.tls_cafile = pki("grace.pem", p);     /* not the server's CA */
    cd = make_cd(&c, p);
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    ok(rv != APR_SUCCESS, "StartTLS with the wrong CA: fails (%s)", err ? err : "-");
    ok(apr_time_now() - t0 < 2 * c.timeout, "StartTLS with the wrong CA: quickly");

    c = base_conf(p);
    c.bind_dn = "cn=admin,dc=example,dc=com";
    c.bind_password = "secret";
    cd = make_cd(&c, p);
    expect(cd, "bob@example.com", "OK", NULL, p);

    c.bind_password = "wrong";
    cd = make_cd(&c, p);
    err = NULL;
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com", 0, &err, p);
    ok(rv == APR_EACCES, "wrong bind password: APR_EACCES (%d: %s)", rv,
       err ? err : "-");
    is_int(reconnects(cd), 0, "wrong bind password: no pointless retry");
}

/* ------------------------------------------------ the cache, pure logic */

static jm_certdir_cached_t cval(int status, apr_time_t expires)
{
    jm_certdir_cached_t v;
    memset(&v, 0, sizeof(v));
    v.status = status;
    v.reason = "r";
    v.expires = expires;
    return v;
}

/* status of key's live entry, -1 when the cache does not return one */
static int cget(jm_certdir_cache_t *c, const char *key, apr_time_t now,
                apr_pool_t *p)
{
    jm_certdir_cached_t out;
    if (!jm_certdir_cache_get(&out, c, key, now, p)) {
        return -1;
    }
    X509_free(out.x509);
    return out.status;
}

static int ccount(jm_certdir_cache_t *c)
{
    jm_certdir_cache_stats_t st;
    jm_certdir_cache_stats(c, &st);
    return st.count;
}

#define T0 apr_time_from_sec(1000000)
#define SEC(n) apr_time_from_sec(n)

static void test_cache_basics(apr_pool_t *p)
{
    jm_certdir_cache_t *c;
    jm_certdir_cache_stats_t st;
    jm_certdir_cached_t v, out;
    X509 *x = X509_new();     /* any object: only the reference matters */
    int i, max_seen = 0;

    jm_certdir_cache_create(&c, 3, p);
    v = cval(7, T0 + SEC(10));
    jm_certdir_cache_put(c, "a", &v, T0);
    is_int(cget(c, "a", T0 + SEC(9), p), 7, "cache: live entry returned");
    is_int(cget(c, "a", T0 + SEC(10), p), -1, "cache: not returned at its expiry time");
    is_int(ccount(c), 0, "cache: the expired entry was dropped on get");
    v = cval(1, T0);
    jm_certdir_cache_put(c, "b", &v, T0);
    is_int(cget(c, "b", T0, p), -1, "cache: an answer already expired is not stored");

    v = cval(1, T0 + SEC(100));
    jm_certdir_cache_put(c, "k", &v, T0);
    v = cval(2, T0 + SEC(100));
    jm_certdir_cache_put(c, "k", &v, T0);
    is_int(cget(c, "k", T0, p), 2, "cache: put replaces");
    is_int(ccount(c), 1, "cache: replaced, not duplicated");

    /* positive and negative TTLs side by side (300 s / 60 s in production) */
    v = cval(0, T0 + SEC(300));
    jm_certdir_cache_put(c, "pos", &v, T0);
    v = cval(1, T0 + SEC(60));
    jm_certdir_cache_put(c, "neg", &v, T0);
    is_int(cget(c, "neg", T0 + SEC(59), p), 1, "cache: negative entry within its TTL");
    is_int(cget(c, "neg", T0 + SEC(61), p), -1, "cache: negative entry gone after its TTL");
    is_int(cget(c, "pos", T0 + SEC(61), p), 0, "cache: positive entry outlives the negative one");
    is_int(cget(c, "pos", T0 + SEC(301), p), -1, "cache: positive entry gone after its TTL");

    /* the certificate is shared by reference */
    v = cval(0, T0 + SEC(100));
    v.x509 = x;
    v.blob = (const unsigned char *)"a\0b";
    v.blob_len = 4;
    v.nitems = 2;
    jm_certdir_cache_put(c, "x", &v, T0);
    ok(jm_certdir_cache_get(&out, c, "x", T0, p) && out.x509 == x && out.nitems == 2
       && out.blob_len == 4 && !memcmp(out.blob, "a\0b", 4) && !strcmp(out.reason, "r"),
       "cache: certificate (same object), blob and reason come back");
    X509_free(out.x509);

    /* the cap holds */
    jm_certdir_cache_create(&c, 100, p);
    for (i = 0; i < 1000; ++i) {
        char k[32];
        snprintf(k, sizeof(k), "k%d", i);
        v = cval(i, T0 + SEC(1000));
        jm_certdir_cache_put(c, k, &v, T0 + i);
        if (ccount(c) > max_seen) {
            max_seen = ccount(c);
        }
    }
    jm_certdir_cache_stats(c, &st);
    is_int(max_seen, 100, "cache: 1000 inserts into a cache of 100: never more than 100");
    is_int(st.evicted_live, 900, "cache: 900 evicted");
    is_int(cget(c, "k899", T0, p), -1, "cache: the 101st newest is gone");
    is_int(cget(c, "k900", T0, p), 900, "cache: the 100th newest is kept");

    jm_certdir_cache_create(&c, 0, p);
    v = cval(1, T0 + SEC(100));
    jm_certdir_cache_put(c, "a", &v, T0);
    is_int(cget(c, "a", T0, p), -1, "cache: size 0 caches nothing");
    X509_free(x);
}

static void test_cache_eviction_order(apr_pool_t *p)
{
    jm_certdir_cache_t *c;
    jm_certdir_cache_stats_t st;
    jm_certdir_cached_t v;

    /* least recently used goes first */
    jm_certdir_cache_create(&c, 3, p);
    v = cval(1, T0 + SEC(100));
    jm_certdir_cache_put(c, "a", &v, T0);
    jm_certdir_cache_put(c, "b", &v, T0 + 1);
    jm_certdir_cache_put(c, "c", &v, T0 + 2);
    cget(c, "a", T0 + 3, p);                      /* a is now the most recent */
    jm_certdir_cache_put(c, "d", &v, T0 + 4);
    ok(cget(c, "b", T0 + 5, p) < 0 && cget(c, "a", T0 + 5, p) == 1
       && cget(c, "c", T0 + 5, p) == 1 && cget(c, "d", T0 + 5, p) == 1,
       "cache: full, live: the least recently used (b, not a) is evicted");

    /* an expired entry goes before any live one, even a recently used one */
    jm_certdir_cache_create(&c, 3, p);
    v = cval(1, T0 + SEC(100));
    jm_certdir_cache_put(c, "old", &v, T0);
    jm_certdir_cache_put(c, "mid", &v, T0 + 1);
    v = cval(2, T0 + SEC(10));
    jm_certdir_cache_put(c, "short", &v, T0 + 2);
    cget(c, "short", T0 + SEC(5), p);             /* most recently used */
    v = cval(3, T0 + SEC(100));
    jm_certdir_cache_put(c, "new", &v, T0 + SEC(20));
    jm_certdir_cache_stats(c, &st);
    ok(cget(c, "old", T0 + SEC(21), p) == 1 && cget(c, "mid", T0 + SEC(21), p) == 1
       && cget(c, "new", T0 + SEC(21), p) == 3 && st.evicted_expired == 1
       && st.evicted_live == 0,
       "cache: full: the expired entry is evicted, the least recently used live one kept");

    /* all expired entries leave at the next insert, not just one */
    jm_certdir_cache_create(&c, 10, p);
    {
        int i;
        for (i = 0; i < 8; ++i) {
            char k[16];
            snprintf(k, sizeof(k), "e%d", i);
            v = cval(1, T0 + SEC(10 + i));
            jm_certdir_cache_put(c, k, &v, T0);
        }
    }
    v = cval(1, T0 + SEC(1000));
    jm_certdir_cache_put(c, "live", &v, T0 + SEC(30));
    is_int(ccount(c), 1, "cache: an insert purges every expired entry");
}

/* The cache against a brute-force model of the same rules. */
typedef struct {
    char key[16];
    int status;
    apr_time_t exp;
    unsigned long use;
    int used;
} model_t;

static void test_cache_model(apr_pool_t *p)
{
    enum { MAX = 10, KEYS = 40, OPS = 20000, SLOTS = 64 };
    model_t m[SLOTS];
    jm_certdir_cache_t *c;
    apr_time_t now = T0;
    unsigned long clock = 0, seed = 12345;
    int op, i, bad = 0, hits = 0, count = 0;
    apr_pool_t *sp;

    memset(m, 0, sizeof(m));
    apr_pool_create(&sp, p);
    jm_certdir_cache_create(&c, MAX, p);
#define RND(n) ((int)((seed = seed * 6364136223846793005UL + 1442695040888963407UL) >> 33) % (n))
    for (op = 0; op < OPS && !bad; ++op) {
        char key[16];
        int k = RND(KEYS), found = -1;

        snprintf(key, sizeof(key), "key%d", k);
        now += apr_time_from_msec(RND(400));
        for (i = 0; i < SLOTS; ++i) {
            if (m[i].used && !strcmp(m[i].key, key)) {
                found = i;
            }
        }
        if (RND(2)) {       /* put */
            jm_certdir_cached_t v = cval(op, now + apr_time_from_msec(RND(20000) - 1000));
            jm_certdir_cache_put(c, key, &v, now);
            if (v.expires > now) {
                if (found >= 0) {
                    m[found].used = 0;
                    --count;
                }
                for (i = 0; i < SLOTS; ++i) {
                    if (m[i].used && m[i].exp <= now) {
                        m[i].used = 0;
                        --count;
                    }
                }
                while (count >= MAX) {
                    int lru = -1;
                    for (i = 0; i < SLOTS; ++i) {
                        if (m[i].used && (lru < 0 || m[i].use < m[lru].use)) {
                            lru = i;
                        }
                    }
                    m[lru].used = 0;
                    --count;
                }
                for (i = 0; m[i].used; ++i) {
                }
                snprintf(m[i].key, sizeof(m[i].key), "%s", key);
                m[i].status = op;
                m[i].exp = v.expires;
                m[i].use = ++clock;
                m[i].used = 1;
                ++count;
            }
        }
        else {              /* get */
            int want = -1, got = cget(c, key, now, sp);
            if (found >= 0 && m[found].exp <= now) {
                m[found].used = 0;
                --count;
            }
            else if (found >= 0) {
                want = m[found].status;
                m[found].use = ++clock;
                ++hits;
            }
            if (got != want) {
                diag("op %d: get %s: cache %d, model %d", op, key, got, want);
                bad = 1;
            }
        }
        if (ccount(c) != count) {
            diag("op %d: cache holds %d, model %d", op, ccount(c), count);
            bad = 1;
        }
        if (op % 1000 == 0) {
            apr_pool_clear(sp);
        }
    }
#undef RND
    ok(!bad, "cache: %d random puts/gets agree with a brute-force model "
       "(LRU, expired first, cap %d; %d hits)", op, MAX, hits);
    apr_pool_destroy(sp);
}

/* Cost of one insert into a full cache (each insert evicts one entry). */
static double insert_ns(int n, int rounds, apr_pool_t *p)
{
    jm_certdir_cache_t *c;
    jm_certdir_cached_t v;
    char (*keys)[24] = malloc((size_t)(n + rounds) * sizeof(*keys));
    apr_time_t t0, dt;
    int i;

    for (i = 0; i < n + rounds; ++i) {
        snprintf(keys[i], sizeof(keys[i]), "user%d@example.com", i);
    }
    jm_certdir_cache_create(&c, n, p);
    for (i = 0; i < n; ++i) {
        /* mixed expiries, like positive and negative answers */
        v = cval(1, T0 + SEC(i % 2 ? 60 : 300));
        jm_certdir_cache_put(c, keys[i], &v, T0);
    }
    t0 = apr_time_now();
    for (i = n; i < n + rounds; ++i) {
        v = cval(1, T0 + SEC(i % 2 ? 60 : 300));
        jm_certdir_cache_put(c, keys[i], &v, T0 + SEC(1));
    }
    dt = apr_time_now() - t0;
    ok(ccount(c) == n, "bench: cache of %d still holds %d after %d inserts", n, n,
       rounds);
    free(keys);
    return (double)dt * 1000.0 / rounds;
}

static void test_cache_bench(apr_pool_t *p)
{
    int rounds = 200000, r;
    double small = 1e30, big = 1e30;

    /* best of three: the machine is shared */
    for (r = 0; r < 3; ++r) {
        double s = insert_ns(10, rounds, p), b = insert_ns(10000, rounds, p);
        small = s < small ? s : small;
        big = b < big ? b : big;
    }
    diag("cache insert into a full cache (evicting one), best of 3 x %d: "
         "%.0f ns at 10 entries, %.0f ns at 10000 entries (ratio %.2f)",
         rounds, small, big, big / small);
}

/* ------------------------------------------- a directory that is slow */

/* A TCP proxy in front of slapd that sleeps delay_ms before forwarding each
 * chunk the client sends (every LDAP request), or, with upstream 0, a server
 * that accepts and reads but never answers. */
typedef struct {
    int lfd, port, upstream, delay_ms;
    volatile int stop;
    int active;                 /* connection threads alive (atomic) */
    pthread_t th;
} proxy_t;

typedef struct {
    proxy_t *px;
    int cfd;
} pconn_t;

static int write_all(int fd, const char *b, ssize_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, (size_t)n);
        if (w <= 0) {
            return -1;
        }
        b += w;
        n -= w;
    }
    return 0;
}

static void *proxy_conn(void *data)
{
    pconn_t *c = data;
    proxy_t *px = c->px;
    int cfd = c->cfd, sfd = -1;
    char *buf = malloc(65536);

    free(c);
    if (px->upstream > 0) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons((unsigned short)px->upstream);
        sfd = socket(AF_INET, SOCK_STREAM, 0);
        if (sfd < 0 || connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            goto out;
        }
    }
    while (!px->stop) {
        struct pollfd fds[2];
        int n;
        fds[0].fd = cfd;
        fds[0].events = POLLIN;
        fds[1].fd = sfd;
        fds[1].events = POLLIN;
        fds[0].revents = fds[1].revents = 0;
        n = poll(fds, sfd >= 0 ? 2 : 1, 50);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n <= 0) {
            continue;
        }
        if (fds[0].revents) {
            ssize_t r = read(cfd, buf, 65536);
            int waited;
            if (r <= 0) {
                break;
            }
            if (sfd < 0) {
                continue;               /* swallowed: never answered */
            }
            for (waited = 0; waited < px->delay_ms && !px->stop; waited += 10) {
                apr_sleep(apr_time_from_msec(10));
            }
            if (write_all(sfd, buf, r) != 0) {
                break;
            }
        }
        if (sfd >= 0 && fds[1].revents) {
            ssize_t r = read(sfd, buf, 65536);
            if (r <= 0 || write_all(cfd, buf, r) != 0) {
                break;
            }
        }
    }
out:
    close(cfd);
    if (sfd >= 0) {
        close(sfd);
    }
    free(buf);
    __sync_fetch_and_sub(&px->active, 1);
    return NULL;
}

static void *proxy_accept(void *data)
{
    proxy_t *px = data;

    while (!px->stop) {
        struct pollfd pf;
        pthread_t t;
        pconn_t *c;
        int fd;

        pf.fd = px->lfd;
        pf.events = POLLIN;
        pf.revents = 0;
        if (poll(&pf, 1, 50) <= 0) {
            continue;
        }
        if ((fd = accept(px->lfd, NULL, NULL)) < 0) {
            continue;
        }
        c = malloc(sizeof(*c));
        c->px = px;
        c->cfd = fd;
        __sync_fetch_and_add(&px->active, 1);
        if (pthread_create(&t, NULL, proxy_conn, c) != 0) {
            __sync_fetch_and_sub(&px->active, 1);
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int proxy_start(proxy_t *px, int upstream, int delay_ms)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(px, 0, sizeof(*px));
    px->upstream = upstream;
    px->delay_ms = delay_ms;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(px->lfd, 64) != 0
        || getsockname(px->lfd, (struct sockaddr *)&sa, &len) != 0) {
        return -1;
    }
    px->port = ntohs(sa.sin_port);
    return pthread_create(&px->th, NULL, proxy_accept, px) == 0 ? 0 : -1;
}

static void proxy_stop(proxy_t *px)
{
    int i;

    px->stop = 1;
    pthread_join(px->th, NULL);
    close(px->lfd);
    for (i = 0; i < 300 && __sync_fetch_and_add(&px->active, 0) > 0; ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
}

static long ms_since(apr_time_t t0)
{
    return (long)apr_time_as_msec(apr_time_now() - t0);
}

/* Finding: one directory search per recipient, each with its own timeout,
 * so one request could hold a worker for recipients x timeout (+ retries).
 * Now every lookup draws on the request's deadline. */
static void test_budget_never_answers(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_stats_t st;
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    apr_array_header_t *a;
    const char *err = NULL;
    apr_status_t rv = APR_SUCCESS;
    apr_time_t t0, deadline;
    proxy_t px;
    long first = 0, total;
    int i, failed = 0;

    if (!ok(proxy_start(&px, 0, 0) == 0, "a directory that never answers")) {
        return;
    }
    c.url = apr_psprintf(p, "ldap://127.0.0.1:%d", px.port);
    c.timeout = apr_time_from_sec(1);
    cd = make_cd(&c, p);
    if (!cd) {
        proxy_stop(&px);
        return;
    }
    t0 = apr_time_now();
    deadline = t0 + apr_time_from_msec(1500);
    for (i = 0; i < 10; ++i) {
        char addr[64];
        snprintf(addr, sizeof(addr), "r%d@example.com", i);
        err = NULL;
        rv = jm_certdir_find_encryption_cert(&res, cd, addr, deadline, &err, p);
        failed += rv != APR_SUCCESS;
        if (i == 0) {
            first = ms_since(t0);
        }
    }
    total = ms_since(t0);
    jm_certdir_stats(cd, &st);
    is_int(failed, 10, "never answers: all 10 lookups fail (retryable)");
    ok(first >= 1400 && first < 1800,
       "never answers: the first lookup used the time left (%ld ms of 1500; "
       "own bound 2 x 1 s)", first);
    ok(total < 1800, "never answers: 10 lookups took %ld ms in all, within the "
       "request's 1.5 s (was 10 x 2 s)", total);
    ok(rv == APR_TIMEUP && err && strstr(err, "budget"),
       "never answers: after the deadline: APR_TIMEUP, '%s'", err ? err : "-");
    is_int(st.out_of_time, 9, "never answers: 9 lookups refused without a search");
    ok(st.ldap_searches <= 2, "never answers: %lu search attempt(s)", st.ldap_searches);
    t0 = apr_time_now();
    rv = jm_certdir_user_addresses(&a, cd, "alice", deadline, &err, p);
    ok(rv == APR_TIMEUP && ms_since(t0) < 50,
       "never answers: user_addresses after the deadline fails at once (%ld ms)",
       ms_since(t0));
    proxy_stop(&px);
}

static void test_budget_slow(apr_pool_t *p)
{
    static const char *who[] = {
        "alice", "bob", "carol", "heidi", "sales", "ivan", "dave", "erin",
        "frank", "mallory"
    };
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    const char *err = NULL;
    apr_status_t rv;
    apr_time_t t0, deadline;
    proxy_t px;
    long total, dt;
    int i, answered = 0, after_fail_ok = 0, failed = 0;

    if (!ok(proxy_start(&px, port, 300) == 0, "a directory 300 ms slow per request")) {
        return;
    }
    c.url = apr_psprintf(p, "ldap://127.0.0.1:%d", px.port);
    c.timeout = apr_time_from_sec(1);
    c.cache_max = 0;
    cd = make_cd(&c, p);
    if (!cd) {
        proxy_stop(&px);
        return;
    }
    t0 = apr_time_now();
    deadline = t0 + apr_time_from_msec(1000);
    for (i = 0; i < 10; ++i) {
        const char *addr = apr_psprintf(p, "%s@example.com", who[i]);
        rv = jm_certdir_find_encryption_cert(&res, cd, addr, deadline, &err, p);
        if (rv == APR_SUCCESS) {
            ++answered;
            after_fail_ok += failed > 0;
        }
        else {
            ++failed;
        }
    }
    total = ms_since(t0);
    ok(answered >= 2 && answered <= 3 && !after_fail_ok,
       "slow: the first %d lookups answered (300 ms each), then none", answered);
    ok(total < 1300, "slow: 10 lookups took %ld ms, within the request's 1 s "
       "(was 10 x 300 ms)", total);

    /* the CRL fetch draws on the same deadline */
    c.crl_files = list1(NULL, p);
    c.crl_from_directory = 1;
    cd = make_cd(&c, p);
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com",
                                         t0 + apr_time_from_msec(450), &err, p);
    dt = ms_since(t0);
    ok(rv == APR_TIMEUP && dt < 650, "slow: search 300 ms + CRL fetch 300 ms "
       "against 450 ms: fails after %ld ms (%s)", dt, err ? err : "-");
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com",
                                         t0 + apr_time_from_sec(3), &err, p);
    ok(rv == APR_SUCCESS && res.status == JM_CERT_OK,
       "slow: with 3 s: certificate and CRL in %ld ms", ms_since(t0));

    /* so do bind and the retry */
    c = base_conf(p);
    c.url = apr_psprintf(p, "ldap://127.0.0.1:%d", px.port);
    c.timeout = apr_time_from_sec(1);
    c.bind_dn = "cn=admin,dc=example,dc=com";
    c.bind_password = "secret";
    cd = make_cd(&c, p);
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com",
                                         t0 + apr_time_from_msec(450), &err, p);
    dt = ms_since(t0);
    ok(rv == APR_TIMEUP && dt < 650, "slow: bind 300 ms + search 300 ms against "
       "450 ms: fails after %ld ms (%s)", dt, err ? err : "-");
    proxy_stop(&px);
}

static void test_budget_cache(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd = make_cd(&c, p);
    jm_cert_lookup_t res;
    apr_array_header_t *a;
    const char *err = NULL;
    apr_time_t gone = apr_time_now() - 1;
    unsigned long n;
    apr_status_t rv;

    if (!cd) {
        return;
    }
    jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    jm_certdir_user_addresses(&a, cd, "alice", 0, &err, p);
    n = searches(cd);
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", gone, &err, p);
    ok(rv == APR_SUCCESS && res.from_cache && res.status == JM_CERT_OK,
       "budget used up: a cached certificate is still served");
    rv = jm_certdir_user_addresses(&a, cd, "alice", gone, &err, p);
    ok(rv == APR_SUCCESS && a->nelts == 2, "budget used up: cached user addresses served");
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com", gone, &err, p);
    ok(rv == APR_TIMEUP, "budget used up: an uncached address fails (rv %d)", rv);
    is_int(searches(cd), n, "budget used up: no directory search");
}

/* ------------------------------------------- what the directory returns */

static int ldap_add(const char *ldif_path)
{
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "ldapadd -x -H ldap://127.0.0.1:%d -D "
             "cn=admin,dc=example,dc=com -w secret -f '%s' >/dev/null", port,
             ldif_path);
    return run(cmd);
}

/* Entries that stress the bounds (added last: they are not removed). */
static int add_bulky_entries(apr_pool_t *p)
{
    const char *path = apr_psprintf(p, "%s/bulky.ldif", tmpdir);
    const char *big = apr_psprintf(p, "%s/big.bin", tmpdir);
    FILE *f = fopen(big, "w");
    int i;

    if (!f) {
        return -1;
    }
    for (i = 0; i < 100 * 1024; ++i) {
        fputc('x', f);                  /* a 100 KB "certificate" */
    }
    fclose(f);
    if (!(f = fopen(path, "w"))) {
        return -1;
    }
    /* alice's certificate in "audio" (no syntax check in slapd), after a
     * value over the size bound and before 40 more than the count bound */
    fprintf(f, "dn: uid=audio,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
            "uid: audio\ncn: Audio\nsn: Audio\nmail: alice@example.com\n"
            "audio:< file://%s/alice.der\naudio:< file://%s\n", pkidir, big);
    for (i = 0; i < 40; ++i) {
        fprintf(f, "audio: junk %d\n", i);
    }
    fprintf(f, "\n");
    /* 20 entries with one address */
    for (i = 0; i < 20; ++i) {
        fprintf(f, "dn: uid=dup%d,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
                "uid: dup%d\ncn: Dup\nsn: Dup\nmail: dup@example.com\n"
                "userCertificate;binary:< file://%s/bob.der\n\n", i, i, pkidir);
    }
    /* a user with 300 addresses */
    fprintf(f, "dn: uid=many,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n"
            "uid: many\ncn: Many\nsn: Many\n");
    for (i = 0; i < 300; ++i) {
        fprintf(f, "mail: m%d@example.com\n", i);
    }
    fprintf(f, "\n");
    /* 33 more CAs (34 in all) */
    for (i = 0; i < 33; ++i) {
        fprintf(f, "dn: cn=CA %d,ou=pki,dc=example,dc=com\nobjectClass: organizationalRole\n"
                "objectClass: certificationAuthority\ncn: CA %d\n"
                "cACertificate;binary:< file://%s/ca.der\n"
                "certificateRevocationList;binary:< file://%s/ca.crl.der\n"
                "authorityRevocationList;binary:< file://%s/ca.crl.der\n\n",
                i, i, pkidir, pkidir, pkidir);
    }
    fclose(f);
    return ldap_add(path);
}

static void test_bounds(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);
    jm_certdir_t *cd;
    jm_cert_lookup_t res;
    apr_array_header_t *a, *entries;
    const char *err = NULL;
    apr_status_t rv;
    int n;

    /* before the 33 extra CAs exist: a too large CRL fails closed */
    c.crl_files = list1(NULL, p);
    c.crl_from_directory = 1;
    c.max_crl_bytes = 100;
    cd = make_cd(&c, p);
    n = log_count("JM08013");
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    ok(rv != APR_SUCCESS && err && strstr(err, "certificateRevocationList")
       && strstr(err, "bytes"),
       "CRL over max_crl_bytes: the lookup fails, not unchecked (%s)", err ? err : "-");
    is_int(log_count("JM08013"), n + 1, "CRL over max_crl_bytes: logged (JM08013)");
    c.max_crl_bytes = 0;
    cd = make_cd(&c, p);
    expect(cd, "alice@example.com", "OK", NULL, p);

    /* a CA entry with more CRL values than accepted: fail closed */
    {
        char cmd[8 * PATH_MAX];
        const char *ldif = apr_psprintf(p, "%s/crls.ldif", tmpdir);
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && { printf 'dn: cn=Many CRLs,ou=pki,dc=example,dc=com\n"
                 "objectClass: organizationalRole\nobjectClass: certificationAuthority\n"
                 "cn: Many CRLs\ncACertificate;binary:< file://%s/ca.der\n"
                 "authorityRevocationList;binary:< file://%s/ca.crl.der\n'; "
                 "for i in 1 2 3 4 5; do openssl ca -config ca/openssl.cnf -gencrl "
                 "-crldays 30 -out extra$i.crl 2>/dev/null && openssl crl -in extra$i.crl "
                 "-outform DER -out extra$i.crl.der && printf "
                 "'certificateRevocationList;binary:< file://%s/extra%%s.crl.der\n' $i; "
                 "done; } > '%s'", pkidir, pkidir, pkidir, pkidir, ldif);
        if (ok(run(cmd) == 0 && ldap_add(ldif) == 0, "CA entry with 5 CRLs added")) {
            cd = make_cd(&c, p);
            n = log_count("JM08014");
            rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0,
                                                 &err, p);
            ok(rv != APR_SUCCESS && err && strstr(err, "values"),
               "5 CRLs in one CA entry: the lookup fails (%s)", err ? err : "-");
            is_int(log_count("JM08014"), n + 1, "  logged (JM08014)");
        }
    }

    if (!ok(add_bulky_entries(p) == 0, "bulky entries added")) {
        return;
    }
    /* more CA entries than accepted: fail closed too */
    cd = make_cd(&c, p);
    n = log_count("JM08012");
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", 0, &err, p);
    ok(rv != APR_SUCCESS && err && strstr(err, "certificationAuthority"),
       "34 CA entries: the lookup fails (%s)", err ? err : "-");
    is_int(log_count("JM08012"), n + 1, "34 CA entries: logged (JM08012)");

    /* certificate values: over 64 KB skipped, over 16 per attribute dropped */
    c = base_conf(p);
    c.cert_attrs = list1("audio", p);
    cd = make_cd(&c, p);
    n = log_count("JM08011");
    is_str(lookup(&res, cd, "alice@example.com", p), "OK",
           "42 certificate values, one 100 KB: the good one is still found");
    ok(same_cert(res.cert, "alice.pem"), "  alice's certificate");
    is_int(log_count("JM08011"), n + 1, "  skipped values logged (JM08011)");

    /* entries per search */
    c = base_conf(p);
    cd = make_cd(&c, p);
    n = log_count("JM08000");
    is_str(lookup(&res, cd, "dup@example.com", p), "UNUSABLE",
           "20 entries for one address: answered (bob's certificate, wrong address)");
    is_int(log_count("JM08000"), n + 1, "  size limit logged (JM08000)");

    /* addresses per user */
    n = log_count("JM08015");
    rv = jm_certdir_user_addresses(&a, cd, "many", 0, &err, p);
    ok(rv == APR_SUCCESS && a->nelts == 256, "300 addresses: the first 256 used (%d)",
       rv == APR_SUCCESS ? a->nelts : -1);
    is_int(log_count("JM08015"), n + 1, "  logged (JM08015)");
    rv = jm_certdir_user_addresses(&a, cd, "dup1", 0, &err, p);
    ok(rv == APR_SUCCESS && a->nelts == 1, "dup1: its one address");

    /* jm_ldap itself: message size, size limit, values, value length */
    {
        jm_ldap_conf_t lc;
        jm_ldap_t *ld;
        jm_ldap_search_opts_t o;
        static const char *const cert[] = { "userCertificate;binary", NULL };
        static const char *const mail[] = { "mail", NULL };

        memset(&lc, 0, sizeof(lc));
        lc.url = apr_psprintf(p, "ldap://127.0.0.1:%d", port);
        lc.timeout = apr_time_from_sec(2);
        lc.max_message = 512;
        jm_ldap_create(&ld, &lc, p);
        rv = jm_ldap_search(&entries, ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
                            "(uid=alice)", cert, NULL, &err, p);
        ok(rv != APR_SUCCESS && err && strstr(err, "larger than 512"),
           "jm_ldap: an entry over max_message is refused (%s)", err ? err : "-");
        lc.max_message = 0;
        jm_ldap_create(&ld, &lc, p);
        memset(&o, 0, sizeof(o));
        o.max_message = 512;
        rv = jm_ldap_search(&entries, ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
                            "(uid=alice)", cert, &o, &err, p);
        ok(rv != APR_SUCCESS && err && strstr(err, "larger than 512"),
           "jm_ldap: a search's own max_message applies (%s)", err ? err : "-");
        o.max_message = 0;
        rv = jm_ldap_search(&entries, ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
                            "(uid=alice)", cert, &o, &err, p);
        ok(rv == APR_SUCCESS && entries->nelts == 1,
           "jm_ldap: and only to that search (same client, next search fine)");
        o.sizelimit = 5;
        rv = jm_ldap_search(&entries, ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
                            "(mail=dup@example.com)", cert, &o, &err, p);
        ok(rv == APR_SUCCESS && entries->nelts == 5, "jm_ldap: size limit 5 of 20 (%d)",
           rv == APR_SUCCESS ? entries->nelts : -1);
        memset(&o, 0, sizeof(o));
        o.max_values = 3;
        o.max_value_len = 12;
        rv = jm_ldap_search(&entries, ld, "dc=example,dc=com", LDAP_SCOPE_SUBTREE,
                            "(uid=many)", mail, &o, &err, p);
        if (ok(rv == APR_SUCCESS && entries->nelts == 1, "jm_ldap: uid=many found")) {
            jm_ldap_entry_t *e = &APR_ARRAY_IDX(entries, 0, jm_ldap_entry_t);
            jm_ldap_attr_t *at = &APR_ARRAY_IDX(e->attrs, 0, jm_ldap_attr_t);
            int i, nulls = 0;
            for (i = 0; i < at->values->nelts; ++i) {
                jm_ldap_value_t *v = &APR_ARRAY_IDX(at->values, i, jm_ldap_value_t);
                nulls += v->data == NULL && v->len > 12;
            }
            ok(at->values->nelts == 3 && at->dropped == 297,
               "jm_ldap: 3 values kept, 297 dropped (%d, %d)", at->values->nelts,
               at->dropped);
            /* m0@example.com is 14 bytes: over 12 */
            is_int(nulls, 3, "jm_ldap: values over max_value_len come back without data");
        }
    }
}

/* ---------------------------------------------------------- concurrency */

static const char *mix[][2] = {
    { "alice@example.com", "OK" }, { "bob@example.com", "OK" },
    { "carol@example.com", "OK" }, { "dave@example.com", "EXPIRED" },
    { "erin@example.com", "REVOKED" }, { "frank@example.com", "UNUSABLE" },
    { "grace@example.com", "UNTRUSTED" }, { "heidi@example.com", "OK" },
    { "mallory@example.com", "NOT_FOUND" }, { "nobody@example.com", "NOT_FOUND" },
    { "ivan@example.com", "OK" }, { "SALES@example.com", "OK" },
    { "bad address", "NOT_FOUND" },
};
#define NMIX (sizeof(mix) / sizeof(mix[0]))
#define NTHREADS 8
#define NLOOKUPS 50

typedef struct {
    jm_certdir_t *cd;
    apr_pool_t *pool;
    int seed;
    int mismatches;
    int errors;
} worker_t;

static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    int i;

    for (i = 0; i < NLOOKUPS; ++i) {
        unsigned k = (unsigned)(w->seed * 7 + i * 5) % NMIX;
        apr_pool_t *lp;
        jm_cert_lookup_t res;
        const char *err = NULL;

        apr_pool_create(&lp, w->pool);
        if (jm_certdir_find_encryption_cert(&res, w->cd, mix[k][0], 0, &err, lp)
            != APR_SUCCESS) {
            ++w->errors;
        }
        else if (strcmp(status_name(res.status), mix[k][1])
                 || ((res.status == JM_CERT_OK) != (res.cert != NULL))) {
            ++w->mismatches;
        }
        else if (!strcmp(mix[k][0], "heidi@example.com")
                 && !same_cert(res.cert, "heidi.pem")) {
            ++w->mismatches;
        }
        apr_pool_destroy(lp);
    }
    /* A plain return, not apr_thread_exit(): pthread_exit() unwinds this
     * frame without running its epilogue, so AddressSanitizer's scope
     * poisoning stays behind on the thread stack and ASan's own thread
     * teardown then trips over it (a false stack-use-after-scope in
     * sigaltstack). apr_thread_join() does not need the exit value. */
    (void)t;
    return NULL;
}

static void run_threads(const char *label, const jm_certdir_conf_t *c,
                        apr_pool_t *p)
{
    jm_certdir_t *cd = make_cd(c, p);
    apr_thread_t *th[NTHREADS];
    worker_t w[NTHREADS];
    jm_certdir_stats_t st;
    int i, mism = 0, errs = 0;
    apr_status_t trv;

    if (!cd) {
        ok(0, "%s: certdir", label);
        return;
    }
    for (i = 0; i < NTHREADS; ++i) {
        w[i].cd = cd;
        w[i].seed = i;
        w[i].mismatches = w[i].errors = 0;
        apr_pool_create(&w[i].pool, p);
    }
    for (i = 0; i < NTHREADS; ++i) {
        apr_thread_create(&th[i], NULL, worker, &w[i], p);
    }
    for (i = 0; i < NTHREADS; ++i) {
        apr_thread_join(&trv, th[i]);
        mism += w[i].mismatches;
        errs += w[i].errors;
    }
    jm_certdir_stats(cd, &st);
    is_int(errs, 0, apr_psprintf(p, "%s: no directory errors", label));
    is_int(mism, 0, apr_psprintf(p, "%s: consistent verdicts", label));
    is_int(st.lookups, NTHREADS * NLOOKUPS, apr_psprintf(p, "%s: all lookups counted",
                                                        label));
    diag("%s: %lu searches, %lu cache hits, %lu reconnects", label,
         st.ldap_searches, st.cache_hits, st.reconnects);
}

static void test_concurrency(apr_pool_t *p)
{
    jm_certdir_conf_t c = base_conf(p);

    c.cache_max = 0;
    c.cache_ttl = 0;
    c.negative_ttl = 0;
    run_threads("8 threads, no cache", &c, p);
    c.crl_files = list1(NULL, p);
    c.crl_from_directory = 1;
    run_threads("8 threads, no cache, directory CRLs", &c, p);
    c = base_conf(p);
    run_threads("8 threads, cache", &c, p);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    char cmd[3 * PATH_MAX];
    (void)argc;

    apr_initialize();
    atexit(apr_terminate);
    signal(SIGPIPE, SIG_IGN);
    jm_log_set(log_print, log_is_level);
    apr_pool_create(&p, NULL);

    /* pure logic first: needs neither slapd nor the PKI */
    test_cache_basics(p);
    test_cache_eviction_order(p);
    test_cache_model(p);
    test_cache_bench(p);

    if (find_srcdir(argv[0]) != 0) {
        diag("SKIP the directory tests: cannot find t/lib/mkpki.sh (set JMAP_SRCDIR)");
        return done_testing();
    }
    if (access("/usr/sbin/slapd", X_OK) != 0) {
        diag("SKIP the directory tests: slapd not installed");
        return done_testing();
    }
    keep_tmp = getenv("JM_TEST_KEEP") != NULL;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/jm-certdir.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        diag("SKIP the directory tests: mkdtemp: %s", strerror(errno));
        tmpdir[0] = '\0';
        return done_testing();
    }
    snprintf(pkidir, sizeof(pkidir), "%s/pki", tmpdir);
    snprintf(ldapdir, sizeof(ldapdir), "%s/ldap", tmpdir);
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGABRT, on_signal);
    signal(SIGALRM, on_signal);
    alarm(240);

    snprintf(cmd, sizeof(cmd), "bash '%s/t/lib/mkpki.sh' '%s'", srcdir, pkidir);
    if (!ok(run(cmd) == 0, "mkpki.sh built the test PKI")) {
        return done_testing();
    }
    setenv("SLAPD_TLS", pkidir, 1);
    port = free_port();
    if (!ok(port > 0 && slapd_start() == 0, "slapd started on port %d", port)) {
        return done_testing();
    }
    test_conf(p);
    test_verdicts(p);
    test_crl_sources(p);
    test_ttl_and_eviction(p);
    test_directory_down(p);
    test_tls_and_bind(p);
    test_concurrency(p);
    test_budget_never_answers(p);
    test_budget_slow(p);
    test_budget_cache(p);
    test_slow_and_restart(p);
    test_bounds(p);
    apr_pool_destroy(p);
    return done_testing();
}
