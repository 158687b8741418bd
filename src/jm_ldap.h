/* Thin libldap client used by jm_certdir: a small pool of bound connections,
 * reconnect-and-retry once on LDAP_SERVER_DOWN/timeouts, bounded timeouts.
 * Internal to jm_certdir; its API is jm_certdir's business. */
#ifndef JM_LDAP_H
#define JM_LDAP_H
#endif
