/* The email index: what the store keeps in columns of an Email for
 * Email/query filters and sorts (RFC 8621 §4.4), threading and full-text
 * search, read from the stored message once. A pure function: no
 * database, no state; everything is allocated in the caller's pool.
 * Preview, hasAttachment and the choice of body parts are Email/get's own
 * (mail/jm_email_view.h), so the index and Email/get never disagree.
 */
#ifndef JM_EMAIL_INDEX_H
#define JM_EMAIL_INDEX_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "mime/jm_mime_read.h"

/** Default bounds (used for a 0 in jm_email_index_opts_t). */
#define JM_EMAIL_INDEX_BODY_TEXT 262144   /**< octets of body_text */
#define JM_EMAIL_INDEX_IDS       100      /**< msg-ids per field */
#define JM_EMAIL_INDEX_ADDRS     100      /**< addresses per field */
#define JM_EMAIL_INDEX_HEADERS   256      /**< header fields kept for the
                                           *   "header" filter */
#define JM_EMAIL_INDEX_HEADER_TEXT 2048   /**< octets of each one's value */

/** One header field for the "header" filter (RFC 8621 §4.4.1). */
typedef struct {
    const char *name;          /**< lower-case */
    const char *value;         /**< asText, folded (jm_email_index_fold) */
} jm_email_index_hdr_t;

typedef struct {
    apr_size_t max_body_text;  /**< body_text is cut to this many octets */
    int max_ids;               /**< ids kept of Message-ID, In-Reply-To,
                                *   References */
    int max_addrs;             /**< addresses kept of From, To, Cc, Bcc */
    int max_depth;             /**< body part nesting, as Email/get's (0 =
                                *   jm_mime_default_limits) */
} jm_email_index_opts_t;

/** One address field: the last instance of the field, as the Email
 *  property of that name reads it (asAddresses, RFC 8621 §4.1.3). */
typedef struct {
    apr_array_header_t *addrs; /**< jm_mime_addr_t (name NULL when none) */
    const char *sort_key;      /**< RFC 8621 §4.4.2: name of the first
                                *   address, or its email if the name is
                                *   null/empty, or "" */
    const char *text;          /**< "name email, name email, ..." for search;
                                *   "" when none */
} jm_email_index_addrs_t;

typedef struct {
    int not_mime;              /**< the bytes did not parse as a message:
                                *   no header field was read, body empty */
    const char *subject;       /**< Subject asText, NULL when none */
    const char *thread_subject;/**< RFC 5256 §2.1 base subject of subject
                                *   (case kept), "" when none */
    jm_email_index_addrs_t from, to, cc, bcc;
    int has_sent_at;           /**< 0: no Date, or not a date */
    apr_time_t sent_at;
    apr_array_header_t *message_ids;  /**< const char*, without <> */
    apr_array_header_t *in_reply_to;  /**< const char* */
    apr_array_header_t *references;   /**< const char*; when cut, the first
                                       *   (the thread root) and the last ones
                                       *   (the nearest ancestors) are kept */
    int has_attachment;        /**< Email/get's hasAttachment */
    const char *preview;       /**< Email/get's preview */
    apr_size_t size;           /**< octets of the stored message */
    const char *body_text;     /**< UTF-8 text of the textBody parts (HTML as
                                *   text), parts separated by "\n" */
    int body_text_truncated;   /**< body_text was cut at max_body_text */
    apr_array_header_t *headers; /**< jm_email_index_hdr_t: the first
                                  *   JM_EMAIL_INDEX_HEADERS top-level fields,
                                  *   each value cut to
                                  *   JM_EMAIL_INDEX_HEADER_TEXT octets */
} jm_email_index_t;

/** Text as the "header" filter compares it: NFC, then Unicode case folding
 *  (RFC 8621 §4.4.1: text SHOULD match case-insensitively); valid UTF-8
 *  in, valid UTF-8 out. */
const char *jm_email_index_fold(const char *s, apr_pool_t *p);

/**
 * Read the index columns of a stored message (raw, len). Never fails on
 * the bytes themselves: a message that is no MIME is indexed with
 * not_mime set. opts may be NULL (the defaults). APR_SUCCESS; APR_EINVAL
 * only for a NULL raw with len > 0.
 */
apr_status_t jm_email_index(jm_email_index_t **pidx, const char *raw, apr_size_t len,
                            const jm_email_index_opts_t *opts, apr_pool_t *p);

/** RFC 5256 §2.1 base subject of a decoded, unfolded subject: Re:/Fw:/Fwd:
 *  leaders, [blob]s, (fwd) trailers and [fwd: ...] wrappers removed,
 *  whitespace runs as one space, trimmed. Case is kept (compare with
 *  i;unicode-casemap or casefold). */
const char *jm_email_base_subject(const char *subject, apr_pool_t *p);

#endif
