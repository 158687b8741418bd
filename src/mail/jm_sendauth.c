/* Sending authorisation (see jm_sendauth.h). */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "mail/jm_sendauth.h"
#include "directory/jm_certdir.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

int jm_sendauth_valid_address(const char *addr, int allow_wildcard)
{
    const char *at, *s;

    if (!addr || !(at = strchr(addr, '@')) || strchr(at + 1, '@')
        || at == addr || !at[1] || strlen(addr) > 320) {
        return 0;
    }
    for (s = addr; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || strchr("<>,;:\"()[]\\", c)) {
            return 0;
        }
    }
    if (strchr(addr, '*') && !(allow_wildcard && addr[0] == '*' && at == addr + 1
                               && !strchr(at, '*'))) {
        return 0;
    }
    return at[1] != '.' && addr[strlen(addr) - 1] != '.';
}

int jm_sendauth_match(const char *pattern, const char *addr)
{
    const char *pat_at, *at;

    if (!pattern || !addr || !jm_sendauth_valid_address(addr, 1)) {
        return 0;
    }
    if (addr[0] == '*' || pattern[0] != '*') {
        /* an exact grant, or a wildcard asked for as such */
        return strcasecmp(pattern, addr) == 0;
    }
    pat_at = strchr(pattern, '@');
    at = strchr(addr, '@');
    return pat_at && pat_at == pattern + 1 && strcasecmp(pat_at, at) == 0;
}

/* Case-insensitive dedupe, O(1) per address (seen holds lower-cased keys). */
static void add_unique(apr_array_header_t *a, apr_hash_t *seen,
                       const char *addr, apr_pool_t *p)
{
    const char *l = jm_util_strlower(addr, p);

    if (!apr_hash_get(seen, l, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, l, APR_HASH_KEY_STRING, l);
        APR_ARRAY_PUSH(a, const char *) = l;
    }
}

apr_status_t jm_sendauth_addresses(const apr_array_header_t **paddrs,
                                   jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    jm_account_t *acc = jm_ctx_self(ctx);
    apr_pool_t *p = ctx->pool;     /* cached for the whole request */
    apr_array_header_t *addrs, *dir = NULL;
    apr_hash_t *seen;
    const char *err = NULL;
    apr_status_t rv;
    int i, j;

    if (acc->send_as_known) {
        *paddrs = acc->send_as;
        return APR_SUCCESS;
    }
    addrs = apr_array_make(p, 4, sizeof(const char *));
    seen = apr_hash_make(p);
    if (ctx->certdir) {
        /* bounded by the request's directory budget; a failure is logged
         * here with the details (URL, diagnostic) and reaches the client
         * only as serverUnavailable */
        rv = jm_certdir_user_addresses(&dir, ctx->certdir, acc->username,
                                       ctx->budget.directory_deadline, &err, p);
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(01040)
                          "directory unavailable while resolving addresses of "
                          "%s: %s", acc->username, err ? err : "");
            return APR_EAGAIN;
        }
        for (i = 0; i < dir->nelts; i++) {
            const char *a = APR_ARRAY_IDX(dir, i, const char *);
            /* a directory value is an address, never a wildcard */
            if (jm_sendauth_valid_address(a, 0)) {
                add_unique(addrs, seen, a, p);
            }
            else {
                jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(14000)
                              "directory address \"%s\" of %s is not a usable "
                              "address: ignored", a, acc->username);
            }
        }
    }
    for (i = 0; ctx->send_as_rules && i < ctx->send_as_rules->nelts; i++) {
        jm_send_as_rule_t *r = &APR_ARRAY_IDX(ctx->send_as_rules, i, jm_send_as_rule_t);
        for (j = 0; j < r->users->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(r->users, j, const char *), acc->username) == 0) {
                add_unique(addrs, seen, r->address, p);
            }
        }
    }
    acc->send_as = addrs;
    acc->send_as_known = 1;
    *paddrs = addrs;
    return APR_SUCCESS;
}

apr_status_t jm_sendauth_may_send_as(int *pallowed, jm_call_t *call,
                                     const char *addr)
{
    const apr_array_header_t *allowed;
    apr_status_t rv;
    int i;

    *pallowed = 0;
    if ((rv = jm_sendauth_addresses(&allowed, call)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < allowed->nelts && !*pallowed; i++) {
        *pallowed = jm_sendauth_match(APR_ARRAY_IDX(allowed, i, const char *), addr);
    }
    return APR_SUCCESS;
}

apr_status_t jm_sendauth_may_sign_as(int *pallowed, jm_call_t *call,
                                     const char *addr)
{
    /* the same rights: a person signs only what they may send */
    return jm_sendauth_may_send_as(pallowed, call, addr);
}

apr_status_t jm_sendauth_check_header(const char **pdenied, jm_call_t *call,
                                      const apr_array_header_t *from,
                                      const char *sender)
{
    apr_status_t rv;
    int i, ok;

    *pdenied = NULL;
    for (i = 0; from && i < from->nelts; i++) {
        const char *a = APR_ARRAY_IDX(from, i, const char *);
        if ((rv = jm_sendauth_may_send_as(&ok, call, a)) != APR_SUCCESS) {
            return rv;
        }
        if (!ok) {
            *pdenied = a;
            return APR_SUCCESS;
        }
    }
    if (sender) {
        if ((rv = jm_sendauth_may_send_as(&ok, call, sender)) != APR_SUCCESS) {
            return rv;
        }
        if (!ok) {
            *pdenied = sender;
        }
    }
    return APR_SUCCESS;
}
