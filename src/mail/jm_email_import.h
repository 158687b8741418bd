/* Email/import and Email/copy (RFC 8621 §4.7, §4.8): messages the server
 * did not build become Emails of the call's account, through the one
 * storing path (jm_email_store.h), in one transaction per call.
 *
 * An account holds a message's bytes as an Email once: importing or
 * copying bytes that already are an Email of the target account (the
 * same blobId, which is the hash of the bytes) is refused with
 * alreadyExists and its existingId (RFC 8621 §4.7/§4.8 allow a server to
 * forbid duplicates). Email ids are per account, so a copy always gets a
 * new id; what makes it a duplicate is the content. */
#ifndef JM_EMAIL_IMPORT_H
#define JM_EMAIL_IMPORT_H

#include "core/jm_request.h"
#include "store/jm_store.h"
#include "std/jm_std_prop.h"

/** One message on its way to becoming an Email. */
typedef struct {
    const char *creation_id;
    jm_email_row_t row;
    const char *bytes;
    apr_size_t len;
    const char *source_id;      /**< Email/copy: the original in the from account */
    json_t *err;                /**< its SetError (owned by the call's pool), or NULL */
} jm_email_new_t;

/** Check an EmailImport or copy creation against table (an unknown
 *  property, one of the wrong type, or required missing); then read its
 *  mailboxIds (required; Ids of boxes, or "#creationId" of a Mailbox made
 *  earlier in the request), keywords and receivedAt into row, keeping
 *  row's keywords and received_at where they are absent. A SetError (owned
 *  by the call's pool), NULL when all is fine. */
json_t *jm_email_read_creation(jm_email_row_t *row, jm_call_t *call, json_t *obj,
                               const jm_prop_t *table, const char *required,
                               apr_array_header_t *boxes);

/** Take len bytes from the request's build budget and prepare n's row for
 *  them (jm_email_prepare_row). A SetError (tooLarge, owned by the call's pool) when
 *  the budget is spent, NULL otherwise; *prv for a failure of the row. */
json_t *jm_email_take_bytes(apr_status_t *prv, jm_email_new_t *n, jm_call_t *call,
                            const char *bytes, apr_size_t len);

/**
 * Store news (jm_email_new_t*) in the call's account in one transaction:
 * ifInState (NULL: none) checked inside it (stateMismatch: call->error),
 * each new email without err stored unless its bytes already are an
 * Email there (then err = alreadyExists), and the Email states before and
 * after in *pold and *pnew. Creation ids of the stored ones are recorded.
 */
apr_status_t jm_email_store_new(const char **pold, const char **pnew, jm_call_t *call,
                                apr_array_header_t *news, const char *if_in_state);

/** A stored one's created entry: id, blobId, threadId, size (new reference). */
json_t *jm_email_new_result(const jm_email_new_t *n);

/** The result maps: created (id, blobId, threadId, size) and notCreated
 *  (owned by the call's pool), null when empty. */
void jm_email_new_results(json_t **pcreated, json_t **pnot_created,
                          jm_call_t *call, apr_array_header_t *news);

apr_status_t jm_email_import(jm_call_t *call);
apr_status_t jm_email_copy(jm_call_t *call);
apr_status_t jm_email_parse(jm_call_t *call);

#endif
