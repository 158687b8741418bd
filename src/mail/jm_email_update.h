/* Email/set update and destroy (RFC 8621 §4.6): keywords and mailboxIds
 * are the only mutable properties of an Email. */
#ifndef JM_EMAIL_UPDATE_H
#define JM_EMAIL_UPDATE_H

#include "core/jm_request.h"

/** RFC 8621 §4.1.1 keyword syntax. */
int jm_email_valid_keyword(const char *k);

typedef struct {
    json_t *updated, *not_updated;         /**< objects, owned by the call */
    json_t *destroyed, *not_destroyed;     /**< array, object */
} jm_email_ud_result_t;

/**
 * Inside the caller's transaction (after the creations): apply update (an
 * Id -> PatchObject object, or NULL) and destroy (an array of Ids, or NULL)
 * to the account's emails; boxes are its mailbox ids (const char*). Per
 * object failures become SetErrors in res; anything else is returned.
 */
apr_status_t jm_email_update_destroy(jm_email_ud_result_t *res, jm_call_t *call,
                                     json_t *update, json_t *destroy,
                                     apr_array_header_t *boxes);

#endif
