/* The push URL check and the address classifier. */
#include <string.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include "push/jm_push_target.h"

#define JM_PUSH_MAX_URL 2048

static int v4_forbidden(const unsigned char *a)
{
    return a[0] == 0                                  /* 0/8 "this network" */
        || a[0] == 10                                 /* RFC 1918 */
        || (a[0] == 100 && (a[1] & 0xc0) == 64)       /* 100.64/10, RFC 6598 */
        || a[0] == 127                                /* loopback */
        || (a[0] == 169 && a[1] == 254)               /* link-local */
        || (a[0] == 172 && (a[1] & 0xf0) == 16)       /* RFC 1918 */
        || (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) /* IETF, TEST-NET-1 */
        || (a[0] == 192 && a[1] == 168)               /* RFC 1918 */
        || (a[0] == 198 && (a[1] & 0xfe) == 18)       /* 198.18/15 benchmarking */
        || (a[0] == 198 && a[1] == 51 && a[2] == 100) /* TEST-NET-2 */
        || (a[0] == 203 && a[1] == 0 && a[2] == 113)  /* TEST-NET-3 */
        || a[0] >= 224;                               /* multicast, reserved, broadcast */
}

static int all_zero(const unsigned char *a, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (a[i]) {
            return 0;
        }
    }
    return 1;
}

int jm_push_addr_forbidden(int family, const unsigned char *a)
{
    static const unsigned char mapped[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };
    static const unsigned char nat64[12] = { 0,0x64,0xff,0x9b, 0,0,0,0, 0,0,0,0 };

    if (family == APR_INET) {
        return v4_forbidden(a);
    }
    if (family != APR_INET6) {
        return 1;
    }
    if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) {
        return v4_forbidden(a + 12);
    }
    if (all_zero(a, 12)) {
        /* ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d */
        return all_zero(a + 12, 3) ? 1 : v4_forbidden(a + 12);
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        return v4_forbidden(a + 2);                   /* 6to4 2002::/16 */
    }
    return (a[0] & 0xfe) == 0xfc                      /* unique-local fc00::/7 */
        || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)    /* link-local fe80::/10 */
        || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)    /* site-local fec0::/10 */
        || a[0] == 0xff                               /* multicast */
        || (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) /* doc */
        || (a[0] == 0x01 && a[1] == 0 && all_zero(a + 2, 6)); /* discard 100::/64 */
}

int jm_push_ip_forbidden(const char *ip)
{
    unsigned char a[16];

    if (inet_pton(AF_INET, ip, a) == 1) {
        return jm_push_addr_forbidden(APR_INET, a);
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        return jm_push_addr_forbidden(APR_INET6, a);
    }
    return -1;
}

int jm_push_url_check(jm_push_target_t *t, const char *url, const char **pwhy,
                      apr_pool_t *p)
{
    apr_uri_t u;
    const char *c;

    memset(t, 0, sizeof(*t));
    if (strlen(url) > JM_PUSH_MAX_URL) {
        return *pwhy = "longer than 2048 octets", 0;
    }
    for (c = url; *c; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            return *pwhy = "not a URL (spaces, controls or non-ASCII)", 0;
        }
    }
    if (strncasecmp(url, "https://", 8) != 0) {
        return *pwhy = "must begin with https:// (RFC 8620 §7.2)", 0;
    }
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.hostname || !*u.hostname) {
        return *pwhy = "not an absolute URL with a host", 0;
    }
    if (u.user || u.password) {
        return *pwhy = "user information is not allowed", 0;
    }
    if (u.fragment) {
        return *pwhy = "a fragment is not allowed", 0;
    }
    if (u.port_str && *u.port_str && u.port == 0) {
        return *pwhy = "not a valid port", 0;
    }
    t->url = url;
    t->host = u.hostname;
    t->port = u.port ? u.port : 443;
    return 1;
}

apr_status_t jm_push_target_resolve(jm_push_target_t *t, int allow_private,
                                    const char **pwhy, apr_pool_t *p)
{
    apr_sockaddr_t *sa, *s;
    const char *list = NULL;
    apr_status_t rv;

    if ((rv = apr_sockaddr_info_get(&sa, t->host, APR_UNSPEC, t->port, 0, p))
        != APR_SUCCESS) {
        *pwhy = "the host name does not resolve";
        return rv;
    }
    for (s = sa; s; s = s->next) {
        char *ip = NULL;
        if (s->family != APR_INET && s->family != APR_INET6) {
            continue;
        }
        if (!allow_private
            && jm_push_addr_forbidden(s->family, (const unsigned char *)s->ipaddr_ptr)) {
            *pwhy = "the host resolves to a private, loopback or link-local address";
            return APR_EINVAL;
        }
        apr_sockaddr_ip_get(&ip, s);
        if (s->family == APR_INET6) {
            ip = apr_pstrcat(p, "[", ip, "]", NULL);
        }
        list = list ? apr_pstrcat(p, list, ",", ip, NULL) : ip;
    }
    if (!list) {
        *pwhy = "the host has no IPv4 or IPv6 address";
        return APR_EINVAL;
    }
    if (jm_push_ip_forbidden(t->host) != -1) {
        t->resolve = NULL;          /* an address: nothing to resolve again */
        return APR_SUCCESS;
    }
    t->resolve = apr_psprintf(p, "%s:%u:%s", t->host, (unsigned)t->port, list);
    return APR_SUCCESS;
}
