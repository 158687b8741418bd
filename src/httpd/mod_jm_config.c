/* Directive table, per-server config create/merge, startup validation.
 * Every value is checked in its directive handler, so `apachectl -t`
 * reports bad URLs, unreadable files and unknown keywords. */
#include <string.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include "httpd/mod_jm_config.h"
#include "core/jm_util.h"
#include "mail/jm_deliver.h"
#include "mail/jm_sendauth.h"
#include "mail/jm_vacation.h"
#include "httpd/mod_jm_submit.h"

#define UNSET_LIMIT(l) do { (l).max_size_upload = (l).max_concurrent_upload = \
    (l).max_size_request = (l).max_concurrent_requests = \
    (l).max_calls_in_request = (l).max_objects_in_get = \
    (l).max_objects_in_set = (l).max_size_attachments = \
    (l).max_size_response = (l).max_size_created = (l).max_recipients = \
    (l).max_header_items = (l).max_mime_depth = \
    (l).max_directory_seconds = (l).max_mailboxes = -1; } while (0)

/* Defaults (documented in conf.d/jmap_smime.conf). */
static const jm_limits_t default_limits = {
    50000000, 4, 10000000, 8, 32, 500, 500,
    50000000,       /* maxSizeAttachmentsPerEmail */
    25000000,       /* JMAPMaxSizeResponse */
    100000000,      /* JMAPMaxSizeCreatedPerRequest */
    100,            /* JMAPMaxRecipients: RFC 5321 §4.5.3.1.8's minimum */
    1000,           /* JMAPMaxHeaderItems */
    20,             /* JMAPMaxMimeDepth */
    30,             /* JMAPDirectoryTimeBudget, seconds */
    10000           /* JMAPMaxMailboxesPerAccount */
};
#define JM_DEFAULT_PATH         "/jmap"
#define DEFAULT_CERT_FILTER  "(mail=%s)"
#define DEFAULT_USER_FILTER  "(uid=%s)"
#define DEFAULT_MAIL_ATTR    "mail"
#define DEFAULT_LDAP_TIMEOUT 5
#define DEFAULT_CACHE_TTL    300
#define DEFAULT_NEG_TTL      60
#define DEFAULT_CACHE_SIZE   10000
#define DEFAULT_LMTP_MAX_SIZE 50000000
#define DEFAULT_LMTP_TIMEOUT  300      /* RFC 5321 §4.5.3.2.7: 5 minutes */
#define DEFAULT_ES_MAX_CONNECTIONS 16  /* each holds a worker thread */
#define DEFAULT_ES_MAX_DURATION 3600
#define DEFAULT_ES_MIN_PING 30         /* RFC 8620 §7.3: at most 30 */

jm_srv_conf_t *jm_config_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &jmap_smime_module);
}

void *jm_config_create_srv(apr_pool_t *p, server_rec *s)
{
    jm_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    UNSET_LIMIT(sc->limits);
    sc->sig_pad = sc->cipher = sc->kt_pad = sc->legacy_display = -1;
    sc->durability = -1;
    sc->dir.starttls = sc->dir.crl_from_directory = sc->dir.require_crl = -1;
    sc->dir.timeout = sc->dir.cache_ttl = sc->dir.negative_ttl = -1;
    sc->dir.cache_max = -1;
    sc->lmtp.enabled = sc->lmtp.user_from = sc->lmtp.create_accounts = -1;
    sc->lmtp.max_size = sc->lmtp.timeout = sc->lmtp.vacation_period = -1;
    sc->es.max_connections = sc->es.max_duration = sc->es.min_ping = -1;
    jm_push_config_init(&sc->push);
    jm_submit_conf_init(&sc->submit);
    return sc;
}

#define MERGE_PTR(f)  sc->f = add->f ? add->f : base->f
#define MERGE_NUM(f)  sc->f = add->f != -1 ? add->f : base->f

void *jm_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    jm_srv_conf_t *base = basev, *add = addv;
    jm_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    MERGE_PTR(base_url);
    MERGE_PTR(path);
    MERGE_NUM(limits.max_size_upload);
    MERGE_NUM(limits.max_concurrent_upload);
    MERGE_NUM(limits.max_size_request);
    MERGE_NUM(limits.max_concurrent_requests);
    MERGE_NUM(limits.max_calls_in_request);
    MERGE_NUM(limits.max_objects_in_get);
    MERGE_NUM(limits.max_objects_in_set);
    MERGE_NUM(limits.max_size_attachments);
    MERGE_NUM(limits.max_size_response);
    MERGE_NUM(limits.max_size_created);
    MERGE_NUM(limits.max_recipients);
    MERGE_NUM(limits.max_header_items);
    MERGE_NUM(limits.max_mime_depth);
    MERGE_NUM(limits.max_directory_seconds);
    MERGE_NUM(limits.max_mailboxes);
    MERGE_PTR(send_as);
    MERGE_PTR(read_only_users);
    MERGE_PTR(shares);
    MERGE_PTR(keystore);
    MERGE_NUM(sig_pad);
    MERGE_NUM(cipher);
    MERGE_NUM(kt_pad);
    MERGE_NUM(legacy_display);
    MERGE_NUM(durability);
    MERGE_PTR(dir.url);
    MERGE_PTR(dir.bind_dn);
    MERGE_PTR(dir.bind_password);
    MERGE_PTR(dir.base);
    MERGE_PTR(dir.cert_filter);
    MERGE_PTR(dir.cert_attrs);
    MERGE_PTR(dir.user_filter);
    MERGE_PTR(dir.user_mail_attr);
    MERGE_NUM(dir.starttls);
    MERGE_PTR(dir.tls_cafile);
    MERGE_NUM(dir.timeout);
    MERGE_PTR(dir.trust_files);
    MERGE_PTR(dir.crl_files);
    MERGE_NUM(dir.crl_from_directory);
    MERGE_NUM(dir.require_crl);
    MERGE_NUM(dir.cache_ttl);
    MERGE_NUM(dir.negative_ttl);
    MERGE_NUM(dir.cache_max);
    MERGE_NUM(lmtp.enabled);
    MERGE_NUM(lmtp.user_from);
    MERGE_PTR(lmtp.domains);
    MERGE_NUM(lmtp.create_accounts);
    MERGE_NUM(lmtp.max_size);
    MERGE_NUM(lmtp.timeout);
    MERGE_NUM(lmtp.vacation_period);
    MERGE_NUM(es.max_connections);
    MERGE_NUM(es.max_duration);
    MERGE_NUM(es.min_ping);
    jm_push_config_merge(&sc->push, &base->push, &add->push);
    jm_submit_conf_merge(&sc->submit, &base->submit, &add->submit);
    return sc;
}

#define DEFAULT_NUM(f, v) if (sc->f == -1) sc->f = (v)
#define DEFAULT_PTR(f, v) if (!sc->f) sc->f = (v)

void jm_config_resolve(jm_srv_conf_t *sc)
{
    const long *def = &default_limits.max_size_upload;
    long *have = &sc->limits.max_size_upload, *eff = &sc->eff_limits.max_size_upload;
    size_t i;

    for (i = 0; i < sizeof(jm_limits_t) / sizeof(long); i++) {
        eff[i] = have[i] != -1 ? have[i] : def[i];
    }
    DEFAULT_PTR(path, JM_DEFAULT_PATH);
    sc->smime.enc.cipher = sc->cipher != -1 ? sc->cipher : JM_CMS_AES256_GCM;
    sc->smime.enc.rsa_padding = sc->kt_pad != -1 ? sc->kt_pad : JM_CMS_KT_RSA_PKCS1;
    sc->smime.legacy_display = sc->legacy_display == 1;
    DEFAULT_NUM(durability, 0);
    DEFAULT_PTR(dir.cert_filter, DEFAULT_CERT_FILTER);
    DEFAULT_PTR(dir.user_filter, DEFAULT_USER_FILTER);
    DEFAULT_PTR(dir.user_mail_attr, DEFAULT_MAIL_ATTR);
    DEFAULT_PTR(dir.base, "");
    DEFAULT_NUM(dir.starttls, 0);
    DEFAULT_NUM(dir.timeout, apr_time_from_sec(DEFAULT_LDAP_TIMEOUT));
    DEFAULT_NUM(dir.crl_from_directory, 1);
    DEFAULT_NUM(dir.require_crl, 0);
    DEFAULT_NUM(dir.cache_ttl, apr_time_from_sec(DEFAULT_CACHE_TTL));
    DEFAULT_NUM(dir.negative_ttl, apr_time_from_sec(DEFAULT_NEG_TTL));
    DEFAULT_NUM(dir.cache_max, DEFAULT_CACHE_SIZE);
    DEFAULT_NUM(lmtp.enabled, 0);
    DEFAULT_NUM(lmtp.user_from, JM_DELIVER_LOCALPART);
    DEFAULT_NUM(lmtp.create_accounts, 0);
    DEFAULT_NUM(lmtp.max_size, DEFAULT_LMTP_MAX_SIZE);
    DEFAULT_NUM(lmtp.timeout, DEFAULT_LMTP_TIMEOUT);
    DEFAULT_NUM(lmtp.vacation_period, JM_VACATION_DEFAULT_PERIOD);
    DEFAULT_NUM(es.max_connections, DEFAULT_ES_MAX_CONNECTIONS);
    DEFAULT_NUM(es.max_duration, DEFAULT_ES_MAX_DURATION);
    DEFAULT_NUM(es.min_ping, DEFAULT_ES_MIN_PING);
    jm_submit_conf_resolve(&sc->submit);
}

/* ---- handlers --------------------------------------------------------- */

static jm_srv_conf_t *srv(cmd_parms *cmd)
{
    return jm_config_get(cmd->server);
}

static const char *check_readable(cmd_parms *cmd, const char *file)
{
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, file, APR_FOPEN_READ, 0, cmd->temp_pool);

    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(cmd->pool, "%s: cannot read %s: %s", cmd->cmd->name,
                            file, apr_strerror(rv, buf, sizeof(buf)));
    }
    apr_file_close(f);
    return NULL;
}

static const char *set_base_url(cmd_parms *cmd, void *d, const char *arg)
{
    apr_uri_t u;
    size_t n = strlen(arg);

    (void)d;
    if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https"))
        || (u.path && strcmp(u.path, "/") && *u.path) || u.query || u.fragment) {
        return apr_psprintf(cmd->pool, "JMAPBaseURL: \"%s\" is not an absolute "
                            "http(s)://host[:port] URL without a path", arg);
    }
    while (n > 0 && arg[n - 1] == '/') {
        n--;
    }
    srv(cmd)->base_url = apr_pstrndup(cmd->pool, arg, n);
    return NULL;
}

static const char *set_path(cmd_parms *cmd, void *d, const char *arg)
{
    size_t n = strlen(arg);

    (void)d;
    if (arg[0] != '/' || strchr(arg, '?') || strchr(arg, '#') || strstr(arg, "//")) {
        return "JMAPPath must be an absolute URL path such as /jmap";
    }
    while (n > 1 && arg[n - 1] == '/') {
        n--;
    }
    srv(cmd)->path = apr_pstrndup(cmd->pool, arg, n);
    return NULL;
}

/* A whole number in [min, max]; an error message naming the directive. */
static const char *parse_number(apr_int64_t *pv, cmd_parms *cmd, const char *arg,
                                apr_int64_t min, apr_int64_t max, const char *what)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (!*arg || *end || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not %s", cmd->cmd->name,
                            arg, what);
    }
    *pv = v;
    return NULL;
}

static const char *add_send_as(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    jm_srv_conf_t *sc = srv(cmd);
    jm_send_as_rule_t *r;
    int i;

    (void)d;
    if (argc < 2) {
        return "JMAPSendAs needs an address and at least one user";
    }
    if (!jm_sendauth_valid_address(argv[0], 1)) {
        return apr_psprintf(cmd->pool, "JMAPSendAs: \"%s\" is not an email address "
                            "(or *@domain)", argv[0]);
    }
    if (!sc->send_as) {
        sc->send_as = apr_array_make(cmd->pool, 4, sizeof(jm_send_as_rule_t));
    }
    r = apr_array_push(sc->send_as);
    r->address = jm_util_strlower(argv[0], cmd->pool);
    r->users = apr_array_make(cmd->pool, argc - 1, sizeof(const char *));
    for (i = 1; i < argc; i++) {
        APR_ARRAY_PUSH(r->users, const char *) = apr_pstrdup(cmd->pool, argv[i]);
    }
    return NULL;
}

static const char *add_read_only_user(cmd_parms *cmd, void *d, const char *arg)
{
    jm_srv_conf_t *sc = srv(cmd);

    (void)d;
    if (!sc->read_only_users) {
        sc->read_only_users = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->read_only_users, const char *) = arg;
    return NULL;
}

/* A user name from configuration ends up in the session (an account's
 * name): I-JSON, so well-formed UTF-8 without control characters. */
static const char *check_user_name(cmd_parms *cmd, const char *name)
{
    if (!*name || jm_util_utf8_check(name) != JM_UTF8_OK) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not a usable user name "
                            "(UTF-8 without control characters)", cmd->cmd->name,
                            name);
    }
    return NULL;
}

/* JMAPShareAccount OWNER USER[:ro] ...: each USER may use OWNER's account,
 * read-only with ":ro". Repeatable; a pair given twice is an error, since
 * the two lines could disagree about ":ro". */
static const char *add_share(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    jm_srv_conf_t *sc = srv(cmd);
    const char *err;
    int i, j;

    (void)d;
    if (argc < 2) {
        return "JMAPShareAccount needs the owner and at least one user";
    }
    if ((err = check_user_name(cmd, argv[0])) != NULL) {
        return err;
    }
    if (!sc->shares) {
        sc->shares = apr_array_make(cmd->pool, 4, sizeof(jm_share_rule_t));
    }
    for (i = 1; i < argc; i++) {
        const char *colon = strrchr(argv[i], ':');
        jm_share_rule_t *r;
        char *user = apr_pstrdup(cmd->pool, argv[i]);
        int ro = 0;

        if (colon) {
            if (strcmp(colon, ":ro") != 0) {
                return apr_psprintf(cmd->pool, "JMAPShareAccount: \"%s\": the "
                                    "only suffix is \":ro\" (read-only)", argv[i]);
            }
            user[colon - argv[i]] = '\0';
            ro = 1;
        }
        if ((err = check_user_name(cmd, user)) != NULL) {
            return err;
        }
        if (strcmp(user, argv[0]) == 0) {
            return apr_psprintf(cmd->pool, "JMAPShareAccount: %s is the owner; "
                                "an owner has its own account", user);
        }
        for (j = 0; j < sc->shares->nelts; j++) {
            jm_share_rule_t *o = &APR_ARRAY_IDX(sc->shares, j, jm_share_rule_t);
            if (!strcmp(o->owner, argv[0]) && !strcmp(o->user, user)) {
                return apr_psprintf(cmd->pool, "JMAPShareAccount: the account of "
                                    "%s is shared with %s twice", argv[0], user);
            }
        }
        r = apr_array_push(sc->shares);
        r->owner = apr_pstrdup(cmd->pool, argv[0]);
        r->user = user;
        r->read_only = ro;
    }
    return NULL;
}

/* Private keys and passphrases should be readable by root alone: the key is
 * loaded before httpd drops privileges, so its children never need them. */
static void warn_if_exposed(cmd_parms *cmd, const char *file, const char *what)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, file, APR_FINFO_PROT, cmd->temp_pool) == APR_SUCCESS
        && (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, JMLOGNO_GLUE(01205)
                     "%s: %s %s is readable or writable by group or others; "
                     "make it mode 0600, owned by root", cmd->cmd->name, what, file);
    }
}

/* Keys are loaded right here, while httpd is still root (as mod_ssl does),
 * and checked now rather than at the first request. */
static const char *add_signing_key(cmd_parms *cmd, void *d, const char *addr,
                                   const char *uri, const char *passfile)
{
    jm_srv_conf_t *sc = srv(cmd);
    const char *err = NULL;

    (void)d;
    if (!strchr(addr, '@')) {
        return apr_psprintf(cmd->pool, "JMAPSigningKey: \"%s\" is not an email "
                            "address", addr);
    }
    if (passfile) {
        const char *e = check_readable(cmd, passfile);
        if (e) {
            return e;
        }
        warn_if_exposed(cmd, passfile, "passphrase file");
    }
    if (!strchr(uri, ':')) {            /* a plain file, not a store URI */
        warn_if_exposed(cmd, uri, "key file");
    }
    if (!sc->keystore
        && jm_keystore_create(&sc->keystore, cmd->pool) != APR_SUCCESS) {
        return "JMAPSigningKey: cannot create the key store";
    }
    if (jm_keystore_find(sc->keystore, addr)) {
        return apr_psprintf(cmd->pool, "JMAPSigningKey: %s is configured twice", addr);
    }
    if (jm_keystore_load(sc->keystore, addr, uri, passfile,
                         sc->sig_pad == JM_CMS_SIG_RSA_PSS ? JM_CMS_SIG_RSA_PSS
                                                           : JM_CMS_SIG_RSA_PKCS1,
                         &err, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "JMAPSigningKey %s: %s", addr,
                            err ? err : "cannot load the key");
    }
    return NULL;
}

static const char *set_keyword(cmd_parms *cmd, const char *arg,
                               const char *const *words, int *dest)
{
    int i;

    for (i = 0; words[i]; i++) {
        if (strcasecmp(arg, words[i]) == 0) {
            *dest = i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s: unknown value \"%s\"", cmd->cmd->name, arg);
}

static const char *set_sig_pad(cmd_parms *cmd, void *d, const char *arg)
{
    static const char *const w[] = { "pkcs1", "pss", NULL };

    (void)d;
    if (srv(cmd)->keystore && jm_keystore_count(srv(cmd)->keystore) > 0) {
        return "JMAPSignatureRSAPadding must come before the JMAPSigningKey lines";
    }
    return set_keyword(cmd, arg, w, &srv(cmd)->sig_pad);
}

static const char *set_cipher(cmd_parms *cmd, void *d, const char *arg)
{
    static const char *const w[] = { "aes256-gcm", "aes256-cbc", NULL };

    (void)d;
    return set_keyword(cmd, arg, w, &srv(cmd)->cipher);
}

static const char *set_kt_pad(cmd_parms *cmd, void *d, const char *arg)
{
    static const char *const w[] = { "pkcs1", "oaep", NULL };

    (void)d;
    return set_keyword(cmd, arg, w, &srv(cmd)->kt_pad);
}

static const char *set_durability(cmd_parms *cmd, void *d, const char *arg)
{
    static const char *const w[] = { "full", "relaxed", NULL };

    (void)d;
    return set_keyword(cmd, arg, w, &srv(cmd)->durability);
}

/* cmd->info: offset of an int flag in jm_srv_conf_t */
static const char *set_flag(cmd_parms *cmd, void *d, int on)
{
    (void)d;
    *(int *)((char *)srv(cmd) + (size_t)cmd->info) = on ? 1 : 0;
    return NULL;
}

static const char *set_ldap_url(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (strncasecmp(arg, "ldap://", 7) && strncasecmp(arg, "ldaps://", 8)) {
        return apr_psprintf(cmd->pool, "JMAPLDAPURL: \"%s\" is not an ldap:// or "
                            "ldaps:// URL", arg);
    }
    srv(cmd)->dir.url = arg;
    return NULL;
}

/* cmd->info: offset of a const char* in jm_srv_conf_t */
static const char *set_string(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    *(const char **)((char *)srv(cmd) + (size_t)cmd->info) = arg;
    return NULL;
}

static const char *set_filter(cmd_parms *cmd, void *d, const char *arg)
{
    const char *pct = strstr(arg, "%s");

    if (!pct || strstr(pct + 2, "%s") || arg[0] != '(' || arg[strlen(arg) - 1] != ')') {
        return apr_psprintf(cmd->pool, "%s: \"%s\" must be an LDAP filter in "
                            "parentheses containing %%s exactly once",
                            cmd->cmd->name, arg);
    }
    return set_string(cmd, d, arg);
}

static const char *set_file(cmd_parms *cmd, void *d, const char *arg)
{
    const char *e = check_readable(cmd, arg);

    return e ? e : set_string(cmd, d, arg);
}

static const char *set_bind_password_file(cmd_parms *cmd, void *d, const char *arg)
{
    char *buf = NULL, *nl;
    apr_size_t len;
    apr_file_t *f;
    apr_finfo_t fi;
    const char *e = check_readable(cmd, arg);

    (void)d;
    if (e) {
        return e;
    }
    /* read now, as root: the password file need not be readable by httpd */
    if (apr_file_open(&f, arg, APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size > 4096) {
        return "JMAPLDAPBindPasswordFile: unreadable or larger than 4 KB";
    }
    len = (apr_size_t)fi.size;
    buf = apr_pcalloc(cmd->pool, len + 1);
    if (len && apr_file_read_full(f, buf, len, &len) != APR_SUCCESS) {
        apr_file_close(f);
        return "JMAPLDAPBindPasswordFile: read error";
    }
    apr_file_close(f);
    if ((nl = strpbrk(buf, "\r\n")) != NULL) {
        *nl = '\0';
    }
    srv(cmd)->dir.bind_password = buf;
    return NULL;
}

static const char *add_cert_attrs(cmd_parms *cmd, void *d, const char *arg)
{
    jm_srv_conf_t *sc = srv(cmd);

    (void)d;
    if (!sc->dir.cert_attrs) {
        sc->dir.cert_attrs = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->dir.cert_attrs, const char *) = arg;
    return NULL;
}

/* cmd->info: offset of an apr_array_header_t* of file names */
static const char *add_file(cmd_parms *cmd, void *d, const char *arg)
{
    apr_array_header_t **a = (apr_array_header_t **)((char *)srv(cmd)
                                                     + (size_t)cmd->info);
    const char *e = check_readable(cmd, arg);

    (void)d;
    if (e) {
        return e;
    }
    if (!*a) {
        *a = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*a, const char *) = arg;
    return NULL;
}

/* cmd->info: offset of an apr_interval_time_t; the value is in seconds */
static const char *set_seconds(cmd_parms *cmd, void *d, const char *arg)
{
    int allow_zero = cmd->info != (void *)APR_OFFSETOF(jm_srv_conf_t, dir.timeout);
    apr_int64_t v = 0;
    const char *err = parse_number(&v, cmd, arg, allow_zero ? 0 : 1, 86400 * 7,
                                   "a number of seconds");

    (void)d;
    if (!err) {
        *(apr_interval_time_t *)((char *)srv(cmd) + (size_t)cmd->info)
            = apr_time_from_sec(v);
    }
    return err;
}

static const char *set_cache_size(cmd_parms *cmd, void *d, const char *arg)
{
    apr_int64_t v = 0;
    const char *err = parse_number(&v, cmd, arg, 0, 10000000,
                                   "a number between 0 and 10000000");

    (void)d;
    if (!err) {
        srv(cmd)->dir.cache_max = (int)v;
    }
    return err;
}

/* ---- LMTP delivery -------------------------------------------------------- */

static const char *set_lmtp(cmd_parms *cmd, void *d, int on)
{
    (void)d;
    /* in the main server it would take every listener, HTTP's too */
    if (on && !cmd->server->is_virtual) {
        return "JMAPLMTP on belongs in a <VirtualHost> for the LMTP listener's "
               "address (e.g. Listen 127.0.0.1:2424 lmtp)";
    }
    srv(cmd)->lmtp.enabled = on ? 1 : 0;
    return NULL;
}

static const char *set_lmtp_user(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!strcasecmp(arg, "localpart")) {
        srv(cmd)->lmtp.user_from = JM_DELIVER_LOCALPART;
    }
    else if (!strcasecmp(arg, "address")) {
        srv(cmd)->lmtp.user_from = JM_DELIVER_ADDRESS;
    }
    else {
        return "JMAPLMTPRecipientUser: localpart or address";
    }
    return NULL;
}

static const char *add_lmtp_domain(cmd_parms *cmd, void *d, const char *arg)
{
    jm_srv_conf_t *sc = srv(cmd);

    (void)d;
    if (!*arg || strpbrk(arg, "@<> \t")) {
        return apr_psprintf(cmd->pool, "JMAPLMTPDomains: \"%s\" is not a domain", arg);
    }
    if (!sc->lmtp.domains) {
        sc->lmtp.domains = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->lmtp.domains, const char *) = jm_util_strlower(arg, cmd->pool);
    return NULL;
}

static const char *set_lmtp_accounts(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!strcasecmp(arg, "existing")) {
        srv(cmd)->lmtp.create_accounts = 0;
    }
    else if (!strcasecmp(arg, "create")) {
        srv(cmd)->lmtp.create_accounts = 1;
    }
    else {
        return "JMAPLMTPAccounts: existing or create";
    }
    return NULL;
}

/* cmd->info: offset of a long in jm_srv_conf_t (a limit: in its limits);
 * 1 .. 2000000000 */
static const char *set_long(cmd_parms *cmd, void *d, const char *arg)
{
    apr_int64_t v = 0;
    const char *err = parse_number(&v, cmd, arg, 1, 2000000000, "a positive integer");

    (void)d;
    if (!err) {
        *(long *)((char *)srv(cmd) + (size_t)cmd->info) = (long)v;
    }
    return err;
}

/* JMAPEventSourceMinPing: 1 .. 30 (RFC 8620 §7.3: a server's minimum
 * must not be higher than 30 s) */
static const char *set_min_ping(cmd_parms *cmd, void *d, const char *arg)
{
    apr_int64_t v = 0;
    const char *err = parse_number(&v, cmd, arg, 1, 30,
                                   "a number of seconds from 1 to 30");

    (void)d;
    if (!err) {
        srv(cmd)->es.min_ping = (long)v;
    }
    return err;
}

#define OFF(f) (void *)APR_OFFSETOF(jm_srv_conf_t, f)
#define LIMIT(name, field) AP_INIT_TAKE1(name, set_long, OFF(limits.field), RSRC_CONF, \
    "RFC 8620 core capability limit " name)
#define BUDGET(name, field, help) AP_INIT_TAKE1(name, set_long, OFF(limits.field), \
    RSRC_CONF, help)

#define SUBMIT_NUM(name, field, help) AP_INIT_TAKE1(name, jm_submit_set_number, \
    (void *)APR_OFFSETOF(jm_submit_conf_t, field), RSRC_CONF, help)

const command_rec jm_config_cmds[] = {
    AP_INIT_TAKE1("JMAPBaseURL", set_base_url, NULL, RSRC_CONF,
                  "public base URL (scheme://host[:port]) when behind a proxy"),
    AP_INIT_TAKE1("JMAPPath", set_path, NULL, RSRC_CONF,
                  "URL path of the JMAP resources (default /jmap)"),
    AP_INIT_FLAG("JMAPLMTP", set_lmtp, NULL, RSRC_CONF,
                 "on: connections to this server's addresses speak LMTP (RFC 2033)"),
    AP_INIT_TAKE1("JMAPLMTPRecipientUser", set_lmtp_user, NULL, RSRC_CONF,
                  "the user name of a recipient: localpart (default) or address"),
    AP_INIT_ITERATE("JMAPLMTPDomains", add_lmtp_domain, NULL, RSRC_CONF,
                    "the domains LMTP accepts recipients of (default: any)"),
    AP_INIT_TAKE1("JMAPLMTPAccounts", set_lmtp_accounts, NULL, RSRC_CONF,
                  "existing (default: unknown users are refused) or create"),
    AP_INIT_TAKE1("JMAPLMTPMaxMessageSize", set_long, OFF(lmtp.max_size), RSRC_CONF,
                  "largest message LMTP accepts, in bytes (SIZE)"),
    AP_INIT_TAKE1("JMAPLMTPTimeout", set_long, OFF(lmtp.timeout), RSRC_CONF,
                  "seconds LMTP waits for the client"),
    AP_INIT_TAKE1("JMAPVacationPeriod", set_long, OFF(lmtp.vacation_period), RSRC_CONF,
                  "seconds between two vacation replies to one sender (default 604800)"),
    AP_INIT_TAKE1("JMAPEventSourceMaxConnections", set_long, OFF(es.max_connections),
                  RSRC_CONF, "event-source streams one process serves at a time"),
    AP_INIT_TAKE1("JMAPEventSourceMaxDuration", set_long, OFF(es.max_duration),
                  RSRC_CONF, "seconds after which an event-source stream is ended"),
    AP_INIT_TAKE1("JMAPEventSourceMinPing", set_min_ping, NULL, RSRC_CONF,
                  "shortest ping interval, in seconds (1-30)"),
    AP_INIT_TAKE1("JMAPSubmissionURL", jm_submit_set_url, NULL, RSRC_CONF,
                  "the SMTP relay EmailSubmission sends through: "
                  "smtp or smtps URL with host and port"),
    AP_INIT_TAKE1("JMAPSubmissionStartTLS", jm_submit_set_starttls, NULL, RSRC_CONF,
                  "STARTTLS to an smtp relay: required | optional | off"),
    AP_INIT_TAKE1("JMAPSubmissionCAFile", jm_submit_set_ca_file, NULL, RSRC_CONF,
                  "PEM file of the CAs that verify the relay's TLS certificate "
                  "(default: the system store)"),
    AP_INIT_TAKE1("JMAPSubmissionAuthFile", jm_submit_set_auth_file, NULL, RSRC_CONF,
                  "file with user:password for SMTP AUTH (not readable by all)"),
    SUBMIT_NUM("JMAPSubmissionConnectTimeout", connect_timeout,
               "seconds to connect to the relay and read its greeting"),
    SUBMIT_NUM("JMAPSubmissionTimeout", timeout,
               "seconds one SMTP transaction may take"),
    SUBMIT_NUM("JMAPSubmissionRetryTime", retry_time,
               "seconds temporary failures are retried before giving up"),
    SUBMIT_NUM("JMAPSubmissionMaxRecipients", max_rcpts,
               "rcptTo addresses of one EmailSubmission"),
    SUBMIT_NUM("JMAPSubmissionMaxDelayedSend", max_delayed,
               "maxDelayedSend: seconds a submission may be held; 0: none"),
    SUBMIT_NUM("JMAPSubmissionMaxMessageSize", max_size,
               "bytes of the largest message sent"),
    LIMIT("JMAPMaxSizeUpload", max_size_upload),
    LIMIT("JMAPMaxConcurrentUpload", max_concurrent_upload),
    LIMIT("JMAPMaxSizeRequest", max_size_request),
    LIMIT("JMAPMaxConcurrentRequests", max_concurrent_requests),
    LIMIT("JMAPMaxCallsInRequest", max_calls_in_request),
    LIMIT("JMAPMaxObjectsInGet", max_objects_in_get),
    LIMIT("JMAPMaxObjectsInSet", max_objects_in_set),
    BUDGET("JMAPMaxSizeAttachmentsPerEmail", max_size_attachments,
           "RFC 8621 maxSizeAttachmentsPerEmail: unencoded bytes of one Email's attachments"),
    BUDGET("JMAPMaxSizeResponse", max_size_response,
           "bytes of one JMAP Response; a call past it gets requestTooLarge"),
    BUDGET("JMAPMaxSizeCreatedPerRequest", max_size_created,
           "message bytes one request may build with Email/set"),
    BUDGET("JMAPMaxRecipients", max_recipients,
           "To, Cc and Bcc addresses of one Email"),
    BUDGET("JMAPMaxHeaderItems", max_header_items,
           "message ids, URLs or addresses in one header field"),
    BUDGET("JMAPMaxMimeDepth", max_mime_depth, "nesting depth of body parts"),
    BUDGET("JMAPDirectoryTimeBudget", max_directory_seconds,
           "seconds of certificate directory work one request may use"),
    BUDGET("JMAPMaxMailboxesPerAccount", max_mailboxes,
           "Mailboxes one account may have; Mailbox/set refuses more with overQuota"),
    AP_INIT_TAKE_ARGV("JMAPSendAs", add_send_as, NULL, RSRC_CONF,
                      "address user [user ...]: users who may send as address"),
    AP_INIT_ITERATE("JMAPReadOnlyUsers", add_read_only_user, NULL, RSRC_CONF,
                    "users whose accounts are read-only"),
    AP_INIT_TAKE_ARGV("JMAPShareAccount", add_share, NULL, RSRC_CONF,
                      "owner user[:ro] [user[:ro] ...]: users who may use "
                      "owner's account (:ro read-only)"),
    AP_INIT_TAKE23("JMAPSigningKey", add_signing_key, NULL, RSRC_CONF,
                   "address file-or-URI [passphrase-file]"),
    AP_INIT_TAKE1("JMAPSignatureRSAPadding", set_sig_pad, NULL, RSRC_CONF,
                  "pkcs1 | pss"),
    AP_INIT_TAKE1("JMAPContentEncryption", set_cipher, NULL, RSRC_CONF,
                  "aes256-gcm | aes256-cbc"),
    AP_INIT_TAKE1("JMAPKeyTransportRSAPadding", set_kt_pad, NULL, RSRC_CONF,
                  "pkcs1 | oaep"),
    AP_INIT_TAKE1("JMAPDurability", set_durability, NULL, RSRC_CONF,
                  "full (default): every write is on stable storage when "
                  "answered; relaxed: client writes may lose the last "
                  "commits in a crash (LMTP delivery stays full)"),
    AP_INIT_FLAG("JMAPHeaderProtectLegacyDisplay", set_flag, OFF(legacy_display),
                 RSRC_CONF, "add the RFC 9788 legacy display element"),
    AP_INIT_TAKE1("JMAPLDAPURL", set_ldap_url, NULL, RSRC_CONF,
                  "ldap:// or ldaps:// URL of the certificate directory"),
    AP_INIT_TAKE1("JMAPLDAPBindDN", set_string, OFF(dir.bind_dn), RSRC_CONF,
                  "DN to bind as (default: anonymous)"),
    AP_INIT_TAKE1("JMAPLDAPBindPasswordFile", set_bind_password_file, NULL,
                  RSRC_CONF, "file holding the bind password"),
    AP_INIT_TAKE1("JMAPLDAPBase", set_string, OFF(dir.base), RSRC_CONF,
                  "search base"),
    AP_INIT_TAKE1("JMAPLDAPCertFilter", set_filter, OFF(dir.cert_filter),
                  RSRC_CONF, "filter template for certificates, %s = address"),
    AP_INIT_ITERATE("JMAPLDAPCertAttributes", add_cert_attrs, NULL, RSRC_CONF,
                    "attributes holding certificates"),
    AP_INIT_TAKE1("JMAPLDAPUserFilter", set_filter, OFF(dir.user_filter),
                  RSRC_CONF, "filter template for a user's entry, %s = user"),
    AP_INIT_TAKE1("JMAPLDAPUserMailAttribute", set_string, OFF(dir.user_mail_attr),
                  RSRC_CONF, "attribute with the user's addresses"),
    AP_INIT_FLAG("JMAPLDAPStartTLS", set_flag, OFF(dir.starttls), RSRC_CONF,
                 "use StartTLS on ldap:// URLs"),
    AP_INIT_TAKE1("JMAPLDAPTLSCAFile", set_file, OFF(dir.tls_cafile), RSRC_CONF,
                  "CA certificates for the directory's TLS certificate"),
    AP_INIT_TAKE1("JMAPLDAPTimeout", set_seconds, OFF(dir.timeout), RSRC_CONF,
                  "seconds for connecting and for each search"),
    AP_INIT_ITERATE("JMAPTrustAnchors", add_file, OFF(dir.trust_files), RSRC_CONF,
                    "PEM files with trusted CA certificates"),
    AP_INIT_ITERATE("JMAPCRLFile", add_file, OFF(dir.crl_files), RSRC_CONF,
                    "CRL files (PEM or DER)"),
    AP_INIT_FLAG("JMAPCRLFromDirectory", set_flag, OFF(dir.crl_from_directory),
                 RSRC_CONF, "fetch CRLs from the issuing CA's directory entry"),
    AP_INIT_FLAG("JMAPRequireCRL", set_flag, OFF(dir.require_crl), RSRC_CONF,
                 "reject certificates whose issuer has no CRL"),
    AP_INIT_TAKE1("JMAPCertCacheTTL", set_seconds, OFF(dir.cache_ttl), RSRC_CONF,
                  "seconds a found certificate is cached"),
    AP_INIT_TAKE1("JMAPCertCacheNegativeTTL", set_seconds, OFF(dir.negative_ttl),
                  RSRC_CONF, "seconds a not-found answer is cached"),
    AP_INIT_TAKE1("JMAPCertCacheSize", set_cache_size, NULL, RSRC_CONF,
                  "certificate cache entries per process"),
    /* push (src/httpd/mod_jm_webpush.c) */
    JM_PUSH_NUMBER("JMAPPushMaxSubscriptions", max_subscriptions,
                   "push subscriptions one user may have"),
    JM_PUSH_NUMBER("JMAPPushMaxCreatePerHour", max_create_per_hour,
                   "push subscriptions one user may create in any hour"),
    JM_PUSH_NUMBER("JMAPPushMaxExpiry", max_expiry,
                   "seconds ahead a push subscription may expire, at least 172800"),
    JM_PUSH_NUMBER("JMAPPushConnectTimeout", connect_timeout,
                   "seconds to connect to a push service"),
    JM_PUSH_NUMBER("JMAPPushTimeout", timeout, "seconds one push may take in all"),
    JM_PUSH_NUMBER("JMAPPushTTL", ttl, "TTL header of pushes, RFC 8030, in seconds"),
    JM_PUSH_NUMBER("JMAPPushBatch", batch, "subscriptions the worker serves per tick"),
    JM_PUSH_NUMBER("JMAPPushRetryMax", retry_max,
                   "longest wait between failed pushes, seconds"),
    AP_INIT_FLAG("JMAPPushAllowPrivateTargets", jm_push_set_private, NULL, RSRC_CONF,
                 "on: push URLs may resolve to loopback and private addresses"),
    AP_INIT_TAKE1("JMAPPushCAFile", jm_push_set_ca, NULL, RSRC_CONF,
                  "CA certificates that verify push services (default: the system's)"),
    AP_INIT_TAKE1("JMAPPushVAPIDKey", jm_push_set_vapid_key, NULL, RSRC_CONF,
                  "PEM file with the P-256 key that signs VAPID tokens (RFC 8292)"),
    AP_INIT_TAKE1("JMAPPushVAPIDSubject", jm_push_set_vapid_subject, NULL, RSRC_CONF,
                  "mailto: or https: contact in VAPID tokens"),
    { NULL }
};
