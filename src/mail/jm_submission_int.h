/* Shared by the EmailSubmission method files. Not for other callers. */
#ifndef JM_SUBMISSION_INT_H
#define JM_SUBMISSION_INT_H

#include "std/jm_std_prop.h"
#include "mail/jm_submission.h"

/** The EmailSubmission properties (RFC 8621 §7). */
extern const jm_prop_t jm_submission_props[];

/** The account's EmailSubmission state, or NULL (store failure). */
const char *jm_submission_state(jm_call_t *call);

#endif
