/* LMTP (RFC 2033) as a pure state machine: bytes in, reply bytes out, two
 * callbacks for what needs the store (a recipient at RCPT, the message at
 * the end of DATA). No I/O and no httpd here: the glue
 * (src/httpd/mod_jm_lmtp.c) reads the socket, feeds jm_lmtp_feed and
 * writes jm_lmtp_output; the unit test and the fuzzer feed it directly.
 *
 * Extensions: PIPELINING (RFC 2920: replies in command order; the glue
 * flushes them before it blocks for more input), ENHANCEDSTATUSCODES
 * (RFC 2034/3463), 8BITMIME (RFC 6152: the body is passed through as
 * bytes) and SIZE (RFC 1870). Command lines are bounded
 * (JM_LMTP_MAX_LINE); message lines are not (long lines are common in
 * real mail), the whole message is (conf.max_message, 552 past it).
 * Line ends: CRLF or a bare LF (kept messages always have CRLF), a CR not
 * followed by LF is data. Dot-unstuffing per RFC 5321 §4.5.2. */
#ifndef JM_LMTP_H
#define JM_LMTP_H

#include <apr_pools.h>
#include <apr_tables.h>

/** Longest command line accepted, CRLF included: RFC 5321 §4.5.3.1.4's
 *  512 plus room for ESMTP parameters (§4.5.3.1.2 lets extensions grow it). */
#define JM_LMTP_MAX_LINE 2048

typedef struct {
    int code;                   /**< 250, 550, 451, ... */
    const char *status;         /**< enhanced status code "5.1.1" (RFC 3463) */
    const char *text;           /**< one line of text (CR/LF are replaced) */
} jm_lmtp_reply_t;

typedef struct {
    /** RCPT TO: accept (250) or refuse (550 5.1.1, 451 4.3.0, ...) the
     *  address now. *pdata is kept with the recipient for deliver. */
    void (*rcpt)(void *baton, const char *address, jm_lmtp_reply_t *reply,
                 void **pdata, apr_pool_t *p);
    /** End of DATA: deliver the message (dot-unstuffed, CRLF line ends,
     *  len bytes, NUL-terminated after them) to
     *  the n accepted recipients; replies[i] (preset to 451 4.3.0) is the
     *  answer for recipient i (RFC 2033 §4.2: one reply per recipient). */
    void (*deliver)(void *baton, const char *from, int n,
                    const char *const *addresses, void *const *data,
                    const char *msg, apr_size_t len, jm_lmtp_reply_t *replies,
                    apr_pool_t *p);
} jm_lmtp_hooks_t;

typedef struct {
    const char *hostname;       /**< for the greeting and LHLO */
    apr_size_t max_message;     /**< SIZE: bytes after unstuffing */
    int max_recipients;         /**< per transaction (RFC 5321 §4.5.3.1.8: >= 100) */
} jm_lmtp_conf_t;

typedef struct jm_lmtp_t jm_lmtp_t;

/** A session on pool p (which must outlive it), with the 220 greeting
 *  already in the output. */
jm_lmtp_t *jm_lmtp_create(const jm_lmtp_conf_t *conf, const jm_lmtp_hooks_t *hooks,
                          void *baton, apr_pool_t *p);

/** Process input bytes; replies are appended to the output. Returns 1
 *  once the session is over (QUIT answered: close after writing the
 *  output; later input is ignored), else 0. */
int jm_lmtp_feed(jm_lmtp_t *l, const char *data, apr_size_t len);

/** The replies produced so far (not NUL-terminated); the glue writes them
 *  and then calls jm_lmtp_output_clear. */
const char *jm_lmtp_output(const jm_lmtp_t *l, apr_size_t *plen);
void jm_lmtp_output_clear(jm_lmtp_t *l);

/** Append a reply of the glue's own (421 on timeout or shutdown). */
void jm_lmtp_say(jm_lmtp_t *l, int code, const char *status, const char *text);

/** 1 while a message is being read (after 354, before the final dot). */
int jm_lmtp_in_data(const jm_lmtp_t *l);

#endif
