/* The stored default view of a message: Email/get's default properties
 * (RFC 8621 §4.2) that come from the message, made once when the message
 * is stored, so the usual Email/get of a mail list answers from the
 * store without reading and parsing every message again.
 */
#ifndef JM_EMAIL_VIEW_CACHE_H
#define JM_EMAIL_VIEW_CACHE_H

#include <apr_pools.h>
#include "core/jm_json.h"
#include "mail/jm_email_view.h"
#include "core/jm_json_scan.h"

/** The view of bytes whose blobId is blob_id, as JSON text in p; NULL if
 *  the bytes do not parse (Email/get then parses, and says so). */
const char *jm_email_view_cache_make(const char *bytes, apr_size_t len,
                                     const char *blob_id, apr_pool_t *p);

/** 1 if a stored view answers a get with these options for these
 *  message-made property names: default bodyProperties, no body values
 *  fetched, and every name a default one (no header:*, headers or
 *  bodyStructure). */
int jm_email_view_cache_fits(const jm_email_view_opts_t *o, json_t *names);

/** The names' values from a stored view (jm_email_store_row's text) into
 *  *pprops (a new reference). APR_NOTFOUND when the view cannot answer:
 *  none stored, made with another MIME depth limit than max_depth (0 =
 *  the reader's default), or not readable. */
apr_status_t jm_email_view_cache_props(json_t **pprops, const char *view,
                                       json_t *names, int max_depth);

/** Members of the stored view's "props" the view can have at most. */
#define JM_EMAIL_VIEW_MEMBERS_MAX 64

/** The members of a stored view's "props" (names and value texts pointing
 *  into view, core/jm_json_scan.h) into out[0..JM_EMAIL_VIEW_MEMBERS_MAX),
 *  their number in *pn, for copying the texts into an answer without
 *  parsing them. APR_NOTFOUND when the view cannot answer as for
 *  jm_email_view_cache_props, and also when it is text the scanner
 *  refuses: the caller then asks jm_email_view_cache_props. */
apr_status_t jm_email_view_cache_members(jm_json_member_t *out, int *pn,
                                         const char *view, int max_depth);

#endif
