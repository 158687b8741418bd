/* The JMAP view of a stored message (RFC 8621 §4.1, §4.2): Email/get
 * properties, bodyStructure and the §4.1.4 textBody/htmlBody/attachments
 * split, bodyValues, preview and hasAttachment, built on the MIME reader
 * (mime/jm_mime_read.h). The email index shares the body selection,
 * preview and hasAttachment from here, so the two always agree.
 */
#ifndef JM_EMAIL_VIEW_H
#define JM_EMAIL_VIEW_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "core/jm_json.h"
#include "mime/jm_mime_read.h"

/** Options for jm_email_view_props (RFC 8621 §4.2 Email/get arguments). */
typedef struct {
    json_t *properties;          /**< array of names or NULL for the default set */
    json_t *body_properties;     /**< array or NULL for the default */
    int fetch_text_body_values;
    int fetch_html_body_values;
    int fetch_all_body_values;
    apr_size_t max_body_value_bytes; /**< 0 = no limit */
    int max_depth;               /**< parts nested deeper are read as opaque
                                  *   leaves; 0 = jm_mime_default_limits */
    const char *blob_id;         /**< the message's own blobId: part blobIds are
                                  *   "<blob_id>_<partId>" */
} jm_email_view_opts_t;

/**
 * Parse stored bytes and produce the RFC 8621 §4.1 properties that come from
 * the message itself (headers, convenience headers such as from/to/subject/
 * sentAt/messageId, bodyStructure, textBody, htmlBody, attachments,
 * bodyValues, hasAttachment, preview, header:Name:form). Metadata (id,
 * blobId, threadId, mailboxIds, keywords, size, receivedAt) is the caller's.
 * Unknown property names: APR_EINVAL with *pbad = the first unknown name.
 * Bytes that are no message: APR_EGENERAL (logged).
 * *pprops belongs to p (take a reference to keep it longer).
 */
apr_status_t jm_email_view_props(json_t **pprops, const char *raw, apr_size_t len,
                                 const jm_email_view_opts_t *opts,
                                 const char **pbad, apr_pool_t *p);

/** Check Email and EmailBodyPart property names as jm_email_view_props
 *  does (metadata names count as known), without a message: APR_EINVAL
 *  with *pbad = the first unknown name (or forbidden header form). */
apr_status_t jm_email_view_check_props(json_t *props, json_t *body_props,
                                       const char **pbad, apr_pool_t *p);

/** 1 if name is one of the default Email/get properties (§4.2) that the
 *  view makes from the message (metadata names are not). */
int jm_email_view_is_default(const char *name);

/** The §4.1.4 lists of a message (jm_mime_part_t* each). */
typedef struct {
    apr_array_header_t *text;    /**< textBody */
    apr_array_header_t *html;    /**< htmlBody */
    apr_array_header_t *att;     /**< attachments */
} jm_email_bodies_t;

/** RFC 8621 §4.1.4 parseStructure over a read message. */
void jm_email_view_bodies(jm_email_bodies_t *b, jm_mime_parsed_t *msg, apr_pool_t *p);

/** hasAttachment: an attachment that is not disposition inline. */
int jm_email_view_has_attachment(const jm_email_bodies_t *b);

/** preview: up to 256 characters of textBody's text, whitespace runs as
 *  one space, HTML parts as their text (mail/jm_html.h). */
const char *jm_email_view_preview(const jm_email_bodies_t *b, apr_pool_t *p);

#endif
