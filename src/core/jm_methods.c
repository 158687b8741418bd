/* The method dispatch table (one entry per implemented method). */
#include <string.h>
#include "core/jm_methods.h"
#include "mail/jm_mail.h"
#include "mail/jm_email_import.h"
#include "mail/jm_blob.h"
#include "push/jm_webpush.h"
#include "mail/jm_submission.h"

/* Advertised in the session: a capability is listed once its methods work
 * (urn:ietf:params:jmap:vacationresponse only with a relay its replies
 * can leave through: jm_session.c). */
const char *const jm_capabilities[] = {
    JM_CAP_CORE, JM_CAP_MAIL, JM_CAP_SUBMISSION, JM_CAP_VACATION, JM_CAP_SMIME, NULL
};

/* Accepted in "using" (vacationresponse also without a relay: its
 * settings work, replies are not made). */
const char *const jm_capabilities_accepted[] = {
    JM_CAP_CORE, JM_CAP_MAIL, JM_CAP_SMIME, JM_CAP_SUBMISSION, JM_CAP_VACATION, NULL
};

static const jm_method_t methods[] = {
    { "Core/echo",    JM_CAP_CORE, jm_core_echo,    0 },
    /* RFC 8620 §7.2: no accountId, the user's own subscriptions */
    { "PushSubscription/get", JM_CAP_CORE, jm_push_subscription_get, 0 },
    { "PushSubscription/set", JM_CAP_CORE, jm_push_subscription_set, 0 },
    { "Blob/copy",    JM_CAP_CORE, jm_blob_copy,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Mailbox/get",  JM_CAP_MAIL, jm_mailbox_get,  JM_METHOD_NEEDS_ACCOUNT },
    { "Mailbox/set",  JM_CAP_MAIL, jm_mailbox_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Mailbox/changes", JM_CAP_MAIL, jm_mailbox_changes, JM_METHOD_NEEDS_ACCOUNT },
    { "Mailbox/query", JM_CAP_MAIL, jm_mailbox_query, JM_METHOD_NEEDS_ACCOUNT },
    { "Mailbox/queryChanges", JM_CAP_MAIL, jm_mailbox_querychanges,
      JM_METHOD_NEEDS_ACCOUNT },
    { "Identity/get", JM_CAP_SUBMISSION, jm_identity_get, JM_METHOD_NEEDS_ACCOUNT },
    { "Identity/changes", JM_CAP_SUBMISSION, jm_identity_changes,
      JM_METHOD_NEEDS_ACCOUNT },
    { "Identity/set", JM_CAP_SUBMISSION, jm_identity_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "VacationResponse/get", JM_CAP_VACATION, jm_vacation_get,
      JM_METHOD_NEEDS_ACCOUNT },
    { "VacationResponse/set", JM_CAP_VACATION, jm_vacation_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "EmailSubmission/get", JM_CAP_SUBMISSION, jm_submission_get,
      JM_METHOD_NEEDS_ACCOUNT },
    { "EmailSubmission/set", JM_CAP_SUBMISSION, jm_submission_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "EmailSubmission/changes", JM_CAP_SUBMISSION, jm_submission_changes,
      JM_METHOD_NEEDS_ACCOUNT },
    { "EmailSubmission/query", JM_CAP_SUBMISSION, jm_submission_query,
      JM_METHOD_NEEDS_ACCOUNT },
    { "EmailSubmission/queryChanges", JM_CAP_SUBMISSION, jm_submission_querychanges,
      JM_METHOD_NEEDS_ACCOUNT },
    { "Email/get",    JM_CAP_MAIL, jm_email_get,    JM_METHOD_NEEDS_ACCOUNT },
    { "Email/changes", JM_CAP_MAIL, jm_email_changes, JM_METHOD_NEEDS_ACCOUNT },
    { "Thread/get",   JM_CAP_MAIL, jm_thread_get,   JM_METHOD_NEEDS_ACCOUNT },
    { "Thread/changes", JM_CAP_MAIL, jm_thread_changes, JM_METHOD_NEEDS_ACCOUNT },
    { "Email/set",    JM_CAP_MAIL, jm_email_set,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Email/copy",   JM_CAP_MAIL, jm_email_copy,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Email/import", JM_CAP_MAIL, jm_email_import,
      JM_METHOD_NEEDS_ACCOUNT | JM_METHOD_WRITES },
    { "Email/parse",  JM_CAP_MAIL, jm_email_parse,  JM_METHOD_NEEDS_ACCOUNT },
    { "Email/query",  JM_CAP_MAIL, jm_email_query,  JM_METHOD_NEEDS_ACCOUNT },
    { "Email/queryChanges", JM_CAP_MAIL, jm_email_querychanges, JM_METHOD_NEEDS_ACCOUNT },
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
