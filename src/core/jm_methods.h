/* Method families register here; see jm_methods.c for the table. */
#ifndef JM_METHODS_H
#define JM_METHODS_H

#include "core/jm_request.h"

apr_status_t jm_core_echo(jm_call_t *call);
apr_status_t jm_identity_get(jm_call_t *call);
apr_status_t jm_identity_changes(jm_call_t *call);
apr_status_t jm_identity_set(jm_call_t *call);
apr_status_t jm_vacation_get(jm_call_t *call);
apr_status_t jm_vacation_set(jm_call_t *call);
apr_status_t jm_email_get(jm_call_t *call);
apr_status_t jm_email_set(jm_call_t *call);
apr_status_t jm_email_query(jm_call_t *call);
apr_status_t jm_snippet_get(jm_call_t *call);

#endif
