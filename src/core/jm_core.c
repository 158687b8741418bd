/* urn:ietf:params:jmap:core methods. */
#include "core/jm_methods.h"

/* RFC 8620 §4.1: the arguments, returned unchanged. */
apr_status_t jm_core_echo(jm_call_t *call)
{
    call->result = json_deep_copy(call->args);
    return APR_SUCCESS;
}
