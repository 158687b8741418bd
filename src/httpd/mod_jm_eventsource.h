/* <JMAPPath>/eventsource/: push over event source (RFC 8620 §7.3). */
#ifndef MOD_JM_EVENTSOURCE_H
#define MOD_JM_EVENTSOURCE_H

#include <httpd.h>
#include "httpd/mod_jm_config.h"

/** Serve one stream (r->user is authenticated); returns when it ends. */
int jm_eventsource_handle(request_rec *r, jm_srv_conf_t *sc);

#endif
