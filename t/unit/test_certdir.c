/* jm_certdir against a private slapd with the shared test PKI.
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

#include "jm_certdir.h"
#include "jm_log.h"
#include "tap.h"

static char srcdir[PATH_MAX];
static char tmpdir[PATH_MAX] = "";
static char pkidir[PATH_MAX + 16];
static char ldapdir[PATH_MAX + 16];
static volatile pid_t slapd_pid = 0;
static int port;

/* ------------------------------------------------------------ plumbing */

static void log_print(const char *file, int line, jm_log_level_t level,
                      apr_status_t rv, const char *msg, apr_pool_t *p)
{
    (void)p;
    fprintf(stderr, "# [log %d] %s:%d (rv %d) %s\n", level, file, line, rv, msg);
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
    apr_status_t rv = jm_certdir_find_encryption_cert(res, cd, addr, &err, p);
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

        ok(jm_certdir_user_addresses(&a, cd, "alice", &err, p) == APR_SUCCESS,
           "user_addresses(alice) succeeds");
        for (i = 0; a && i < a->nelts; ++i) {
            const char *s = APR_ARRAY_IDX(a, i, const char *);
            has1 |= !strcmp(s, "alice@example.com");
            has2 |= !strcmp(s, "alice.smith@example.com");
        }
        ok(a && a->nelts == 2 && has1 && has2, "alice has both addresses");
        n = searches(cd);
        ok(jm_certdir_user_addresses(&a, cd, "ALICE", &err, p) == APR_SUCCESS
           && a->nelts == 2, "user_addresses(ALICE): same, cached");
        is_int(searches(cd), n, "user_addresses cached");
        ok(jm_certdir_user_addresses(&a, cd, "nosuchuser", &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "unknown user: empty array");
        ok(jm_certdir_user_addresses(&a, cd, "*", &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "user '*' is escaped: empty");
        ok(jm_certdir_user_addresses(&a, cd, "", &err, p) == APR_SUCCESS
           && a && a->nelts == 0, "empty user: empty");
        ok(jm_certdir_user_addresses(&a, cd, "carol", &err, p) == APR_SUCCESS
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
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", &err, p);
    dt = apr_time_now() - t0;
    ok(rv != APR_SUCCESS, "closed port: lookup fails (rv %d)", rv);
    ok(err != NULL, "closed port: reason: %s", err ? err : "-");
    ok(dt < 2 * c.timeout, "closed port: returned in %" APR_TIME_T_FMT " ms",
       apr_time_as_msec(dt));
    err = NULL;
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", &err, p);
    ok(rv != APR_SUCCESS && res.from_cache == 0,
       "closed port: failure was not cached as a verdict");
    rv = jm_certdir_user_addresses(&a, cd, "alice", &err, p);
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
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com", &err, p);
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
    ok(jm_certdir_user_addresses(&a, cd, "alice", &err, p) == APR_SUCCESS
       && a->nelts == 2, "StartTLS: user_addresses works");

    c.tls_cafile = pki("grace.pem", p);     /* not the server's CA */
    cd = make_cd(&c, p);
    t0 = apr_time_now();
    rv = jm_certdir_find_encryption_cert(&res, cd, "alice@example.com", &err, p);
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
    rv = jm_certdir_find_encryption_cert(&res, cd, "bob@example.com", &err, p);
    ok(rv == APR_EACCES, "wrong bind password: APR_EACCES (%d: %s)", rv,
       err ? err : "-");
    is_int(reconnects(cd), 0, "wrong bind password: no pointless retry");
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
        if (jm_certdir_find_encryption_cert(&res, w->cd, mix[k][0], &err, lp)
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

    if (find_srcdir(argv[0]) != 0) {
        printf("1..0 # SKIP cannot find t/lib/mkpki.sh (set JMAP_SRCDIR)\n");
        return 0;
    }
    if (access("/usr/sbin/slapd", X_OK) != 0) {
        printf("1..0 # SKIP slapd not installed\n");
        return 0;
    }
    keep_tmp = getenv("JM_TEST_KEEP") != NULL;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/jm-certdir.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
        tmpdir[0] = '\0';
        return 0;
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
    test_slow_and_restart(p);
    apr_pool_destroy(p);
    return done_testing();
}
