/* The method dispatch table (one entry per implemented method). */
#include <string.h>
#include "core/jm_methods.h"

/* Advertised in the session: a capability is listed once its methods work. */
const char *const jm_capabilities[] = {
    JM_CAP_CORE, JM_CAP_MAIL, JM_CAP_SMIME, NULL
};

/* Accepted in "using": also urn:ietf:params:jmap:submission, because
 * Identity/get (RFC 8621 §6) belongs to it and already works; it is not
 * advertised until EmailSubmission does. */
const char *const jm_capabilities_accepted[] = {
    JM_CAP_CORE, JM_CAP_MAIL, JM_CAP_SMIME, JM_CAP_SUBMISSION, NULL
};

static const jm_method_t methods[] = {
    { "Core/echo",    JM_CAP_CORE, jm_core_echo,    0 },
    { "Mailbox/get",  JM_CAP_MAIL, jm_mailbox_get,  JM_METHOD_NEEDS_ACCOUNT },
    { "Identity/get", JM_CAP_SUBMISSION, jm_identity_get, JM_METHOD_NEEDS_ACCOUNT },
    { "Email/get",    JM_CAP_MAIL, jm_email_get,    JM_METHOD_NEEDS_ACCOUNT },
    { "Email/set",    JM_CAP_MAIL, jm_email_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Email/query",  JM_CAP_MAIL, jm_email_query,  JM_METHOD_NEEDS_ACCOUNT },
    { "SearchSnippet/get", JM_CAP_MAIL, jm_snippet_get, JM_METHOD_NEEDS_ACCOUNT },
    { NULL, NULL, NULL, 0 }
};

const jm_method_t *jm_methods_find(const char *name)
{
    const jm_method_t *m;

    for (m = methods; m->name; m++) {
        if (strcmp(m->name, name) == 0) {
            return m;
        }
    }
    return NULL;
}
