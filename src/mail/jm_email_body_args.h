/* The body arguments Email/get (RFC 8621 §4.2) and Email/parse (§4.9)
 * share: bodyProperties, fetchTextBodyValues, fetchHTMLBodyValues,
 * fetchAllBodyValues, maxBodyValueBytes (defined in jm_email_get.c). */
#ifndef JM_EMAIL_BODY_ARGS_H
#define JM_EMAIL_BODY_ARGS_H

#include "core/jm_request.h"
#include "std/jm_std_args.h"
#include "mail/jm_email_view.h"

/** Their argument rows (all nullable), NULL-terminated. */
extern const jm_arg_t jm_email_body_args[];

/** The view options they give (checked by jm_args_check before): body
 *  properties, the three fetch flags, maxBodyValueBytes (0, the default,
 *  means no truncation) and the request's MIME depth; the rest zero. */
void jm_email_body_opts(jm_email_view_opts_t *o, jm_call_t *call);

#endif
