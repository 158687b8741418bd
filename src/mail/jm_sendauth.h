/* Sending authorisation: the one place that answers "may this person send
 * as address X" and "may it sign as X". Every check goes through here:
 * Identity/set (forbiddenFrom, RFC 8621 §6.3), Email/set smimeSign
 * (signedSenderNotAllowed, draft-ietf-jmap-smime-sender-extensions §4),
 * and EmailSubmission (forbiddenFrom / forbiddenMailFrom, RFC 8621 §7.5).
 *
 * The rights are the authenticated person's (jm_ctx_self), whichever
 * account a call works on: using a shared account grants no sending as
 * its owner. They come from
 *  - the person's directory entry: the values of JMAPLDAPUserMailAttribute
 *    ("mail") in the entry JMAPLDAPUserFilter finds for the user name;
 *  - configuration: JMAPSendAs ADDRESS USER... grants ADDRESS, where
 *    ADDRESS may be "*@domain" (any address of that domain, the wildcard
 *    form of RFC 8621 §6 Identity email).
 * They are resolved once per request (the directory lookup is bounded by
 * the request's directory budget and cached in the account). */
#ifndef JM_SENDAUTH_H
#define JM_SENDAUTH_H

#include "core/jm_request.h"

/** 1 if addr is an address this module reasons about: one "@", a
 *  non-empty local part and domain, no white space, controls, or any of
 *  <>,;:"()[]\ ; with allow_wildcard the local part may be exactly "*". */
int jm_sendauth_valid_address(const char *addr, int allow_wildcard);

/** 1 if pattern (an allowed address or "*@domain", lower-cased) covers
 *  addr: equal ignoring case, or for "*@domain" any valid address whose
 *  domain is that domain (not a subdomain). A wildcard addr ("*@domain",
 *  an Identity email) is covered only by the same wildcard. Pure. */
int jm_sendauth_match(const char *pattern, const char *addr);

/** Every address and wildcard the person may send as (const char *,
 *  lower-cased, unique, directory first, then JMAPSendAs in its order).
 *  APR_EAGAIN: the directory could not be reached (logged; the client
 *  should get serverUnavailable and try again, never a refusal). */
apr_status_t jm_sendauth_addresses(const apr_array_header_t **paddrs,
                                   jm_call_t *call);

/**
 * May the person send a message as addr (the From address, the Sender,
 * or the SMTP MAIL FROM)? *pallowed 1 or 0. APR_EAGAIN when the directory
 * is unreachable (*pallowed 0 then, but the answer is "try later"), other
 * errors for a failed store or configuration. This is what the submission
 * code calls for EmailSubmission/set (RFC 8621 §7.5 forbiddenFrom).
 */
apr_status_t jm_sendauth_may_send_as(int *pallowed, jm_call_t *call,
                                     const char *addr);

/** May the person sign as addr (the S/MIME signer: Sender, else From)?
 *  The same rights as sending; whether a key exists is the key store's
 *  question. Results as jm_sendauth_may_send_as. */
apr_status_t jm_sendauth_may_sign_as(int *pallowed, jm_call_t *call,
                                     const char *addr);

/**
 * The header rule for a message the person makes: every From address
 * must be allowed, and with a Sender field its address too (RFC 5322
 * §3.6.2: Sender is who actually sent it, From whom it is from; both are
 * claims of the person). *pdenied: the first address refused, or NULL when
 * all are allowed. Errors as jm_sendauth_may_send_as.
 */
apr_status_t jm_sendauth_check_header(const char **pdenied, jm_call_t *call,
                                      const apr_array_header_t *from,
                                      const char *sender);

#endif
