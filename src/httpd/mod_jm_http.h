/* HTTP entry: routing of the JMAP resources and request-level errors. */
#ifndef MOD_JM_HTTP_H
#define MOD_JM_HTTP_H

#include <httpd.h>

/** The "jmap" handler. */
int jm_http_handler(request_rec *r);

#endif
