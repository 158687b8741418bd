/* RFC 9788 header protection helpers used by jm_smime (header confidentiality
 * policy hcp_baseline, HP-Outer, legacy display). Defined by jm_smime's author.
 *
 * Header fields are handled as jm_hdr_t (name + raw value after the colon,
 * CRLF-folded, no terminating CRLF), see jm_mime_int.h.
 */
#ifndef JM_HP_H
#define JM_HP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mime/jm_mime_int.h"

/** The result of applying header protection to a header section. */
typedef struct {
    const char *inner;             /**< CRLF lines for the Cryptographic Payload:
                                    *   every non-structural field except Bcc,
                                    *   then HP-Outer lines (encrypting only) */
    apr_array_header_t *outer;     /**< jm_hdr_t: the header section to send */
    apr_array_header_t *obscured;  /**< jm_hdr_t: user-facing fields the HCP
                                    *   changed or removed (original values),
                                    *   for the legacy display element */
} jm_hp_plan_t;

/** 1 for structural fields (Content-*, MIME-Version): never copied. */
int jm_hp_is_structural(const char *name);

/**
 * hcp_baseline (RFC 9788): the outer raw value for a field, or NULL when the
 * field is removed. Subject becomes "[...]"; Keywords and Comments go; all
 * other fields are kept as they are.
 */
const char *jm_hp_hcp_baseline(const char *name, const char *raw, apr_pool_t *p);

/**
 * Plan header protection for the top-level fields hdrs (jm_hdr_t, no
 * structural fields). encrypt: apply hcp_baseline outside and record
 * HP-Outer lines; else (signed only) the outer section is hdrs unchanged.
 */
apr_status_t jm_hp_plan(jm_hp_plan_t **pplan, const apr_array_header_t *hdrs,
                        int encrypt, apr_pool_t *p);

/**
 * Return a copy of a MIME entity (header section + body, CRLF) with
 * `; name="value"` appended to its Content-Type field.
 */
const char *jm_hp_add_ct_param(apr_size_t *plen, const char *entity,
                               apr_size_t len, const char *name,
                               const char *value, apr_pool_t *p);

/** Legacy display element text for text/plain ("Subject: x\n" lines and a
 *  blank line, LF line ends) from the obscured fields; "" if none. */
const char *jm_hp_legacy_text(const apr_array_header_t *obscured, apr_pool_t *p);

/** Legacy display element for text/html: a
 *  <div class="header-protection-legacy-display"> block; "" if none. */
const char *jm_hp_legacy_html(const apr_array_header_t *obscured, apr_pool_t *p);

/** Insert the HTML legacy element after the <body> tag (or at the top). */
const char *jm_hp_html_insert(const char *html, const char *element, apr_pool_t *p);

#endif
