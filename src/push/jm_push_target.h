/* Where a push may go (RFC 8620 §7.2 url, §8.6-8.7): https only, and not
 * to this host or its networks. A subscription could otherwise make the
 * server POST to loopback or private services (server-side request
 * forgery); the check runs on every address the name resolves to, and the
 * request is then pinned to those addresses (CURLOPT_RESOLVE) so that a
 * second resolution cannot lead elsewhere. */
#ifndef JM_PUSH_TARGET_H
#define JM_PUSH_TARGET_H

#include <apr_pools.h>
#include <apr_network_io.h>

/** The raw address is not a public unicast one: unspecified, loopback,
 *  private (RFC 1918), shared (RFC 6598), link-local, unique-local
 *  (RFC 4193), site-local, multicast, reserved, documentation, benchmarking;
 *  IPv4 inside IPv6 (mapped, compatible, NAT64 64:ff9b::/96, 6to4) is
 *  judged as that IPv4 address. family: APR_INET (4 bytes) or APR_INET6 (16). */
int jm_push_addr_forbidden(int family, const unsigned char *addr);
/** The same for a numeric address as text: 1 forbidden, 0 allowed, -1 not an
 *  IPv4 or IPv6 address. */
int jm_push_ip_forbidden(const char *ip);

typedef struct {
    const char *url;
    const char *host;            /**< as in the URL, without brackets */
    apr_port_t port;
    const char *resolve;         /**< "host:port:addr[,addr]" for CURLOPT_RESOLVE */
} jm_push_target_t;

/** The url's syntax (RFC 8620 §7.2: "MUST begin with https://"): an
 *  absolute https URL with a host, no user information and no fragment,
 *  at most 2048 octets. 0 with *pwhy on refusal. */
int jm_push_url_check(jm_push_target_t *t, const char *url, const char **pwhy,
                      apr_pool_t *p);

/** Resolve t->host and check every address (unless allow_private); fills
 *  t->resolve. APR_EINVAL with *pwhy when refused, another error when the
 *  name does not resolve. */
apr_status_t jm_push_target_resolve(jm_push_target_t *t, int allow_private,
                                    const char **pwhy, apr_pool_t *p);

#endif
