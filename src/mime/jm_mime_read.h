/* The reading side of src/mime as its users in src/mail see it: stored
 * bytes parsed once into the top-level header fields and a tree of body
 * parts, the header field forms of RFC 8621 §4.1.2, decoded content and
 * text. No GLib types here: what GMime gives is copied into pool memory.
 * The JMAP view of an Email (src/mail/jm_email_view.h) and the email index
 * (src/mail/jm_email_index.h) are built on it.
 */
#ifndef JM_MIME_READ_H
#define JM_MIME_READ_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "core/jm_json.h"

/** One header field as it is written: name and raw value (everything after
 *  the colon, folded with CRLF WSP, without the terminating CRLF). */
typedef struct {
    const char *name;
    const char *raw;
} jm_hdr_t;

/** Header field forms (RFC 8621 §4.1.2) as bits. */
enum {
    JM_FORM_RAW = 1, JM_FORM_TEXT = 2, JM_FORM_ADDRESSES = 4,
    JM_FORM_GROUPED = 8, JM_FORM_MSGIDS = 16, JM_FORM_DATE = 32,
    JM_FORM_URLS = 64
};

/** A parsed "header:Name[:asForm][:all]" property name. */
typedef struct {
    const char *name;   /**< header field name as given */
    int form;           /**< one JM_FORM_* bit */
    int all;
} jm_hprop_t;

/** Parse a header:... property name; 0 on success, -1 if malformed or the
 *  form is not allowed for the field (RFC 8621 §4.1.2.x lists). */
int jm_mime_hprop_parse(jm_hprop_t *hp, const char *prop, apr_pool_t *p);

/** RFC 5322 ftext field name check. */
int jm_mime_valid_field_name(const char *name);

/* ---- strings ------------------------------------------------------------ */

/** s as valid UTF-8 (invalid sequences replaced by U+FFFD), a copy in p. */
char *jm_mime_utf8(const char *s, apr_pool_t *p);

/** raw with every CR and LF removed (folding undone), a copy in p. */
char *jm_mime_unfold(const char *raw, apr_pool_t *p);

/* ---- header field values ------------------------------------------------ */

/** Raw value of the last field called name (case-insensitive), or NULL:
 *  the convenience properties read the last instance (RFC 8621 §4.1.3). */
const char *jm_mime_hdr_last(const apr_array_header_t *hdrs, const char *name);

/** asText (§4.1.2.2): unfolded, RFC 2047 decoded, NFC, valid UTF-8. */
char *jm_mime_hdr_text(const char *raw, apr_pool_t *p);

/** One mailbox of asAddresses (§4.1.2.3). */
typedef struct {
    const char *name;   /**< display name trimmed, NULL when none or empty */
    const char *email;  /**< "" when none */
} jm_mime_addr_t;

/** asAddresses: every mailbox, group members flattened, in order
 *  (jm_mime_addr_t); at most max of them (0 = no bound). */
apr_array_header_t *jm_mime_hdr_addresses(const char *raw, int max, apr_pool_t *p);

/** asMessageIds (§4.1.2.4): the msg-ids without angle brackets (const
 *  char*), an empty array when there are none. */
apr_array_header_t *jm_mime_hdr_msgids(const char *raw, apr_pool_t *p);

/** asDate (§4.1.2.5) as a time: 0, or -1 when the value is no date. */
int jm_mime_hdr_date(apr_time_t *pt, const char *raw);

/** header:Name[:form][:all] over a header list, as Email/get returns it. */
json_t *jm_mime_header_prop(const apr_array_header_t *hdrs, const jm_hprop_t *hp,
                            apr_pool_t *p);

/** The "headers" property: [{name, value}] in order, raw values. */
json_t *jm_mime_headers_json(const apr_array_header_t *hdrs, apr_pool_t *p);

/* ---- the part tree ------------------------------------------------------ */

struct _GMimeObject;

/** One body part. Leaves are numbered depth-first "1", "2", ...;
 *  multiparts have no partId (RFC 8621 §4.1.4). */
typedef struct jm_mime_part_t jm_mime_part_t;
struct jm_mime_part_t {
    const char *part_id;          /**< NULL for a multipart */
    const char *type;             /**< lower-case type/subtype */
    const char *disposition;      /**< lower-case or NULL */
    const char *name;             /**< filename or name parameter, UTF-8, or NULL */
    const char *charset;          /**< the charset parameter as given, or NULL */
    const char *cid;              /**< Content-ID without brackets, or NULL */
    const char *language;         /**< Content-Language value, or NULL */
    const char *location;         /**< Content-Location value, or NULL */
    int multipart;
    int opaque;                   /**< a multipart past the depth limit, read as
                                   *   a leaf (application/octet-stream) */
    apr_array_header_t *subs;     /**< jm_mime_part_t*, for a multipart */
    /* the reader's own: */
    struct _GMimeObject *obj;
    apr_pool_t *pool;
    const char *content, *text;
    apr_size_t content_len;
    int have_content, have_text, text_problem;
};

/** A message read from stored bytes. */
typedef struct {
    apr_array_header_t *hdrs;     /**< jm_hdr_t: top-level fields, all of them,
                                   *   split by hand (exact order and octets) */
    jm_mime_part_t *root;         /**< the body; an empty text/plain when none */
} jm_mime_parsed_t;

/**
 * Parse stored bytes. Parts nested deeper than max_depth (0 =
 * jm_mime_default_limits) are opaque leaves. Everything lives as long as
 * p. APR_EINVAL when the bytes are no message at all (GMime builds none).
 */
apr_status_t jm_mime_read(jm_mime_parsed_t **pmsg, const char *raw, apr_size_t len,
                          int max_depth, apr_pool_t *p);

/** Decoded content of a part (transfer encoding removed; a multipart or
 *  opaque part: its whole entity), NUL-terminated, cached. */
const char *jm_mime_part_bytes(apr_size_t *plen, jm_mime_part_t *part);

/** Size of a part: a leaf's decoded octets, a multipart's entity. */
apr_size_t jm_mime_part_size(jm_mime_part_t *part);

/** Decoded text of a textual part in UTF-8 with LF line ends, cached;
 *  *pproblem set when the charset is unknown or the octets did not fit it
 *  (RFC 8621 §4.1.4 isEncodingProblem). */
const char *jm_mime_part_text(int *pproblem, jm_mime_part_t *part);

/** The header fields of a part (jm_hdr_t). */
apr_array_header_t *jm_mime_part_headers(jm_mime_part_t *part, apr_pool_t *p);

/** The leaf with this partId, or NULL. */
jm_mime_part_t *jm_mime_part_find(jm_mime_part_t *root, const char *part_id);

#endif
