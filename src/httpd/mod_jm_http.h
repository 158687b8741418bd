/* HTTP entry: routing of the JMAP resources and request-level errors. */
#ifndef MOD_JM_HTTP_H
#define MOD_JM_HTTP_H

#include <httpd.h>

/** The "jmap" handler. */
int jm_http_handler(request_rec *r);

/** A request-level error as RFC 7807 problem details (RFC 8620 §3.6.1):
 *  type is prefixed with urn:ietf:params:jmap:error:, limit may be NULL. */
int jm_http_problem(request_rec *r, int status, const char *type,
                    const char *limit, const char *detail);

#endif
