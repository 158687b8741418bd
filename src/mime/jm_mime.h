/* RFC 5322 / MIME: build a message from an Email/set create object; the
 * S/MIME draft's signer and recipients; part content of stored bytes (the
 * rest of reading is mime/jm_mime_read.h, the Email/get view
 * mail/jm_email_view.h). GMime 3 does the MIME work
 * (RFC 2047/2231, charsets, transfer encodings); no cryptography in here.
 */
#ifndef JM_MIME_H
#define JM_MIME_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "core/jm_json.h"

/** Call once per process before threads start (g_mime_init). */
void jm_mime_global_init(void);

/** Fetch an uploaded blob for an attachment (RFC 8621 §4.6 blobId parts).
 *  Return APR_NOTFOUND when the blob does not exist for this account. */
typedef apr_status_t jm_blob_fetch_fn(const unsigned char **pdata, apr_size_t *plen,
                                      void *ctx, const char *blob_id, apr_pool_t *p);

/** What one Email may be made of (from the request budget). A creation
 *  past one of them is refused: tooLarge for the attachment bytes (RFC 8621
 *  §1.3.1 maxSizeAttachmentsPerEmail, RFC 8620 §5.3), invalidProperties
 *  naming the path for the others. */
typedef struct {
    apr_size_t max_attachments;  /**< sum of the unencoded bytes of blob parts */
    int max_recipients;          /**< To + Cc + Bcc addresses */
    int max_header_items;        /**< ids, URLs, addresses or instances per field */
    int max_depth;               /**< body part nesting (the root is depth 1) */
} jm_mime_limits_t;

/** Defaults used when a caller passes NULL limits. */
extern const jm_mime_limits_t jm_mime_default_limits;

/** A built message; the GMime objects are released by a pool cleanup. */
typedef struct jm_mime_msg_t jm_mime_msg_t;

/**
 * RFC 8621 §4.6 Email/set create → message. Validates every property it
 * reads (types, header:Name:form syntax, partIds referenced in bodyValues,
 * conflicting properties, CR/LF in header values, ...). Adds Message-ID,
 * Date and MIME-Version when missing. Keys outside RFC 8621 (e.g. the
 * S/MIME arguments, mailboxIds, keywords, receivedAt) are ignored here:
 * the caller handles those.
 * @param pseterr on APR_EINVAL: a SetError object owned by p, e.g.
 *        {"type":"invalidProperties","properties":["bodyStructure/type"],
 *         "description":"..."}, {"type":"blobNotFound","notFound":[..]}
 *        or {"type":"tooLarge","description":"..."}. Each distinct blob id
 *        is fetched once, however often it is referenced.
 */
apr_status_t jm_mime_build(jm_mime_msg_t **pmsg, json_t *create,
                           jm_blob_fetch_fn *fetch, void *fetch_ctx,
                           const jm_mime_limits_t *limits,
                           json_t **pseterr, apr_pool_t *p);

/** The whole message as bytes with CRLF line ends (what gets stored). */
apr_status_t jm_mime_to_bytes(const char **pdata, apr_size_t *plen,
                              jm_mime_msg_t *msg, apr_pool_t *p);

/** The stored bytes parsed as a GMimeMessage, on first use (borrowed,
 *  lives as long as p; void* keeps GLib out of callers). */
void *jm_mime_gmime(jm_mime_msg_t *msg, apr_pool_t *p);

/**
 * Signer address per the S/MIME draft §4: first address of the last Sender
 * field if any, else of the last From field. More than one such field, or
 * more than one address in the chosen field, or none: APR_EINVAL with
 * *pseterr = {"type":"invalidEmail", "properties":[...], "description":...}.
 * The address is returned lower-cased in the domain part.
 */
apr_status_t jm_mime_signer_address(const char **paddr, jm_mime_msg_t *msg,
                                    json_t **pseterr, apr_pool_t *p);

/** Every address of the From fields (*pfrom, const char*) and the first
 *  address of a Sender field (*psender, NULL without one), as written. */
void jm_mime_from_sender(apr_array_header_t **pfrom, const char **psender,
                         jm_mime_msg_t *msg, apr_pool_t *p);

/** Every address in To, Cc and Bcc (group members included), deduplicated
 *  case-insensitively, in order of appearance (const char*). */
apr_array_header_t *jm_mime_recipients(jm_mime_msg_t *msg, apr_pool_t *p);

/** The Bcc addresses that are not also in To or Cc (const char *,
 *  deduplicated case-insensitively, in order). */
apr_array_header_t *jm_mime_bcc_only(jm_mime_msg_t *msg, apr_pool_t *p);

/** 1 if raw reads as a message [RFC5322] (GMime builds one from it; MIME
 *  errors inside are tolerated, as Email/get tolerates them), 0 if not.
 *  *preceived (may be NULL): the date of the most recent Received field,
 *  0 when there is none or it has no readable date. */
int jm_mime_message_info(apr_time_t *preceived, const char *raw, apr_size_t len,
                         apr_pool_t *p);

/** Decoded content and media type (ptype may be NULL) of part part_id of a
 *  stored message (for "<blob_id>_<partId>"); max_depth as in
 *  jm_email_view_opts_t, so part ids match Email/get's. APR_NOTFOUND if no
 *  such part. */
apr_status_t jm_mime_part_content(const char **pdata, apr_size_t *plen,
                                  const char **ptype, const char *raw,
                                  apr_size_t len, const char *part_id,
                                  int max_depth, apr_pool_t *p);

/** An automatic reply (RFC 3834 §3), e.g. a vacation response. */
typedef struct {
    const char *from;             /**< the account's address */
    const char *to;               /**< the original's envelope sender */
    const char *subject;          /**< NULL: "Auto: " + orig_subject */
    const char *orig_subject;     /**< the original's, decoded; may be NULL */
    const char *text, *html;      /**< bodies; both NULL: a default text */
    const char *in_reply_to;      /**< the original's Message-ID, no <>; NULL */
    const apr_array_header_t *references; /**< const char *: the original's
                                   *   References ids (no <>), or NULL */
} jm_autoreply_t;

/** The reply as bytes (CRLF): From, To, Subject, In-Reply-To, References
 *  (the original's and its Message-ID), Auto-Submitted: auto-replied,
 *  Message-ID, Date, a text and/or html body (both: multipart/alternative).
 *  APR_EINVAL with *pwhy when a value cannot go into a message. */
apr_status_t jm_mime_autoreply_build(const char **pdata, apr_size_t *plen,
                                     const jm_autoreply_t *a, const char **pwhy,
                                     apr_pool_t *p);

#endif
