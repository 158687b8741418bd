/* Email/set (RFC 8621 §4.6) with the S/MIME sender extensions
 * (draft-ietf-jmap-smime-sender-extensions-02 §4); Email/get is
 * jm_email_get.c. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "core/jm_methods.h"
#include "mail/jm_email_update.h"
#include "mail/jm_email_store.h"
#include "mail/jm_sendauth.h"
#include "mail/jm_email_bcc.h"
#include "store/jm_store.h"
#include "mail/jm_blob.h"
#include "mime/jm_mime.h"
#include "smime/jm_smime.h"
#include "directory/jm_certdir.h"
#include "smime/jm_keystore.h"
#include "core/jm_util.h"
#include "core/jm_log.h"

/* ---- Email/set ---------------------------------------------------------- */

/* The four S/MIME arguments (draft §4). They are Email/set arguments, but
 * the draft's example puts them in the creation object: accept both; a value
 * in the creation object wins for that email. */
typedef struct {
    int sign, encrypt, header_protect, sign_opaque;
} smime_args_t;

static const char *const smime_arg_names[] = {
    "smimeSign", "smimeEncrypt", "headerProtect", "smimeSignOpaque", NULL
};

/* Read the four booleans from obj over defaults. 0 and the name in *pbad
 * for a non-boolean one, -1 for one present while the request does not use
 * the smime-advanced capability: ignoring smimeEncrypt would store the
 * message unencrypted, so that is an error, not a silent no-op. */
static int read_smime_args(smime_args_t *a, jm_call_t *call, json_t *obj,
                           const char **pbad)
{
    int *dest[] = { &a->sign, &a->encrypt, &a->header_protect, &a->sign_opaque };
    int i, uses = jm_call_uses(call, JM_CAP_SMIME);

    for (i = 0; smime_arg_names[i]; i++) {
        if (!uses && json_object_get(obj, smime_arg_names[i])) {
            *pbad = smime_arg_names[i];
            return -1;
        }
        if (jm_json_opt_bool(obj, smime_arg_names[i], dest[i]) < 0) {
            *pbad = smime_arg_names[i];
            return 0;
        }
    }
    return 1;
}

static const char *smime_args_problem(int rc, const char *name, apr_pool_t *p)
{
    return rc < 0 ? apr_psprintf(p, "%s needs capability %s in \"using\".", name,
                                 JM_CAP_SMIME)
                  : apr_psprintf(p, "%s must be a boolean.", name);
}

/* A prepared creation: everything computed, nothing written yet. */
typedef struct {
    const char *creation_id;
    jm_email_row_t row;
    const char *bytes;
    apr_size_t len;
    jm_bcc_copies_t bcc;        /* Bcc recipients' own copies (encrypted) */
} pending_t;

/* SetErrors here are borrowed references owned by the call's pool, like
 * the ones jm_mime returns: whoever keeps one takes its own reference. */
static json_t *set_error(apr_pool_t *p, const char *type, const char *prop,
                         const char *desc)
{
    return jm_json_own(p, jm_error_set(type, prop, desc));
}

/* mailboxIds, keywords, receivedAt (§4.6); NULL on success. */
static json_t *read_metadata(jm_email_row_t *row, jm_call_t *call, json_t *c,
                             apr_array_header_t *boxes)
{
    apr_pool_t *p = call->pool;
    json_t *mb = json_object_get(c, "mailboxIds");
    json_t *kw = json_object_get(c, "keywords"), *v, *norm;
    const char *k;
    int j;

    if (!json_is_object(mb) || json_object_size(mb) == 0) {
        return set_error(p, "invalidProperties", "mailboxIds",
                         "An Email must be in at least one Mailbox.");
    }
    row->mailbox_ids = apr_array_make(p, 2, sizeof(const char *));
    json_object_foreach(mb, k, v) {
        const char *id = jm_call_resolve_id(call, k);
        int found = 0;
        if (!json_is_true(v)) {
            return set_error(p, "invalidProperties", apr_psprintf(p, "mailboxIds/%s", k),
                             "mailboxIds values must be true.");
        }
        for (j = 0; id && j < boxes->nelts; j++) {
            found |= strcmp(APR_ARRAY_IDX(boxes, j, const char *), id) == 0;
        }
        if (!found) {
            return set_error(p, "invalidProperties", apr_psprintf(p, "mailboxIds/%s", k),
                             apr_psprintf(p, "No Mailbox \"%s\".", k));
        }
        APR_ARRAY_PUSH(row->mailbox_ids, const char *) = id;
    }
    norm = json_object();
    if (kw && !json_is_object(kw)) {
        json_decref(norm);
        return set_error(p, "invalidProperties", "keywords", "keywords must be an object.");
    }
    json_object_foreach(kw, k, v) {
        if (!json_is_true(v) || !jm_email_valid_keyword(k)) {
            json_decref(norm);
            return set_error(p, "invalidProperties", apr_psprintf(p, "keywords/%s", k),
                             "Invalid keyword (RFC 8621 §4.1.1).");
        }
        /* keywords are case-insensitive and returned lower-case */
        json_object_set_new(norm, jm_util_strlower(k, p), json_true());
    }
    row->keywords = jm_json_dump(norm, p);
    json_decref(norm);
    row->received_at = apr_time_now();
    v = json_object_get(c, "receivedAt");
    if (v && (!json_is_string(v)
              || jm_util_parse_date(json_string_value(v), 1, &row->received_at))) {
        return set_error(p, "invalidProperties", "receivedAt",
                         "receivedAt must be a UTCDate.");
    }
    return NULL;
}

static apr_status_t fetch_blob_cb(const unsigned char **pdata, apr_size_t *plen,
                                  void *ctx, const char *blob_id, apr_pool_t *p)
{
    return jm_blob_fetch(pdata, plen, NULL, ctx, blob_id, p);
}

/* Find and check the signing identity (draft §4): the signer (Sender,
 * else From) must be an address the person may sign as, and every From
 * address and the Sender too (jm_sendauth_check_header). */
static json_t *choose_signer(const jm_signer_t **psigner, const char **paddr,
                             jm_call_t *call, jm_mime_msg_t *msg)
{
    apr_pool_t *p = call->pool;
    apr_array_header_t *from;
    const char *sender, *denied = NULL;
    json_t *err = NULL;
    apr_status_t rv;
    int ok = 0;

    if (jm_mime_signer_address(paddr, msg, &err, p) != APR_SUCCESS) {
        return err ? err : set_error(p, "invalidEmail", "from",
                                     "No signer address in Sender or From.");
    }
    jm_mime_from_sender(&from, &sender, msg, p);
    rv = jm_sendauth_may_sign_as(&ok, call, *paddr);
    if (rv == APR_SUCCESS && ok) {
        rv = jm_sendauth_check_header(&denied, call, from, sender);
    }
    if (rv == APR_EAGAIN) {
        return set_error(p, "serverUnavailable", NULL, "The directory is unreachable; "
                         "the sending authorisation cannot be checked. Try again later.");
    }
    if (rv != APR_SUCCESS) {
        return set_error(p, "serverFail", NULL, "Cannot resolve sending addresses.");
    }
    if (!ok) {
        return set_error(p, "signedSenderNotAllowed", sender ? "sender" : "from",
                         apr_psprintf(p, "This account may not sign as %s.", *paddr));
    }
    if (denied) {
        return set_error(p, "signedSenderNotAllowed",
                         sender && !strcasecmp(denied, sender) ? "sender" : "from",
                         apr_psprintf(p, "This account may not send as %s (with a "
                                      "Sender, both Sender and From must be "
                                      "addresses of the account).", denied));
    }
    *psigner = call->ctx->keystore ? jm_keystore_find(call->ctx->keystore, *paddr)
                                   : NULL;
    if (!*psigner) {
        return set_error(p, "signedSenderNotAllowed", "from", apr_psprintf(p,
                         "No signing key is configured for %s.", *paddr));
    }
    return NULL;
}

static const char *status_name(jm_cert_status_t s)
{
    switch (s) {
    case JM_CERT_OK:        return "ok";
    case JM_CERT_NOT_FOUND: return "notFound";
    case JM_CERT_EXPIRED:   return "expired";
    case JM_CERT_REVOKED:   return "revoked";
    case JM_CERT_UNUSABLE:  return "unusable";
    case JM_CERT_UNTRUSTED: return "untrusted";
    }
    return "unknown";
}

/* Certificates of the sender and every To/Cc/Bcc recipient (draft §4). */
static json_t *collect_recipients(STACK_OF(X509) **precips,
                                  apr_array_header_t **paddrs, jm_call_t *call,
                                  jm_mime_msg_t *msg, const char *sender)
{
    apr_pool_t *p = call->pool;
    apr_array_header_t *addrs = jm_mime_recipients(msg, p);
    apr_array_header_t *all = apr_array_make(p, addrs->nelts + 1, sizeof(const char *));
    apr_array_header_t *why_failed = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(p);
    STACK_OF(X509) *recips = sk_X509_new_null();
    json_t *failed = json_array(), *err;
    int i;

    /* the sender, then each recipient once (jm_mime_recipients already
     * dedupes case-insensitively; the sender may be among them) */
    apr_hash_set(seen, jm_util_strlower(sender, p), APR_HASH_KEY_STRING, "");
    APR_ARRAY_PUSH(all, const char *) = sender;
    for (i = 0; i < addrs->nelts; i++) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        const char *key = jm_util_strlower(a, p);
        if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen, key, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(all, const char *) = a;
        }
    }
    for (i = 0; i < all->nelts; i++) {
        const char *a = APR_ARRAY_IDX(all, i, const char *);
        jm_cert_lookup_t res;
        const char *why = NULL;
        apr_status_t rv;

        memset(&res, 0, sizeof(res));
        if (!call->ctx->certdir) {
            res.status = JM_CERT_NOT_FOUND;
            res.reason = "no certificate directory is configured";
        }
        else if (APR_SUCCESS != (rv = jm_certdir_find_encryption_cert(
                                     &res, call->ctx->certdir, a,
                                     call->ctx->budget.directory_deadline, &why, p))) {
            /* never "not found", never unencrypted: retry later */
            jm_log_perror(JM_LOG_MARK, JM_LOG_WARNING, rv, p, JMLOGNO(01050)
                          "certificate directory unavailable looking up %s: %s",
                          a, why ? why : "");
            sk_X509_free(recips);
            json_decref(failed);
            return set_error(p, "serverUnavailable", NULL, "The certificate "
                "directory could not be reached; nothing was stored. Try again later.");
        }
        if (res.status == JM_CERT_OK) {
            sk_X509_push(recips, res.cert);
            continue;
        }
        json_array_append_new(failed, json_pack("{s:s, s:s, s:s}", "email", a,
            "status", status_name(res.status), "reason",
            res.reason ? res.reason : status_name(res.status)));
        APR_ARRAY_PUSH(why_failed, const char *) = apr_psprintf(p, "%s%s: %s",
            why_failed->nelts ? "; " : "", a,
            res.reason ? res.reason : status_name(res.status));
    }
    if (json_array_size(failed) > 0) {
        sk_X509_free(recips);
        err = set_error(p, "validEncryptionKeyNotFound", NULL, apr_psprintf(p,
            "No valid encryption certificate for: %s",
            apr_array_pstrcat(p, why_failed, 0)));
        json_object_set_new(err, "invalidRecipients", failed);
        return err;
    }
    json_decref(failed);
    *precips = recips;
    *paddrs = all;              /* one certificate each, in this order */
    return NULL;
}

static apr_status_t free_x509_stack(void *s)
{
    sk_X509_free(s);          /* the certificates belong to the pool */
    return APR_SUCCESS;
}

/* The request budget's part that the MIME builder enforces. */
static void mime_limits(jm_mime_limits_t *lim, const jm_budget_t *b)
{
    lim->max_attachments = b->attachments_max;
    lim->max_recipients = b->recipients_max;
    lim->max_header_items = b->header_items_max;
    lim->max_depth = b->mime_depth_max;
}

/* tooLarge (RFC 8620 §5.3) once the request has built what it may. */
static const char *too_much_built(jm_call_t *call)
{
    return apr_psprintf(call->pool, "This request has built more than %"
                        APR_SIZE_T_FMT " bytes of messages; create this Email in "
                        "another request.", call->ctx->budget.build_max);
}

/* Build, sign and encrypt one creation; *perr set on a per-email failure. */
static apr_status_t prepare_create(pending_t **ppend, json_t **perr,
                                   jm_call_t *call, const char *cid, json_t *c,
                                   const smime_args_t *defaults,
                                   apr_array_header_t *boxes)
{
    apr_pool_t *p = call->pool;
    smime_args_t a = *defaults;
    jm_mime_msg_t *msg = NULL;
    json_t *err = NULL;
    const char *bad = NULL, *signer_addr = NULL;
    const jm_signer_t *signer = NULL;
    STACK_OF(X509) *recips = NULL;
    apr_array_header_t *cert_addrs = NULL;
    pending_t *pend;
    jm_mime_limits_t lim;
    apr_status_t rv;
    static const char *const server_set[] = { "id", "blobId", "threadId", "size", NULL };
    int i, rc;

    *perr = NULL;
    if (!json_is_object(c)) {
        *perr = set_error(p, "invalidProperties", NULL, "The creation is not an object.");
        return APR_SUCCESS;
    }
    for (i = 0; server_set[i]; i++) {
        if (json_object_get(c, server_set[i])) {
            *perr = set_error(p, "invalidProperties", server_set[i],
                              "This property is set by the server.");
            return APR_SUCCESS;
        }
    }
    if ((rc = read_smime_args(&a, call, c, &bad)) != 1) {
        *perr = set_error(p, "invalidProperties", bad, smime_args_problem(rc, bad, p));
        return APR_SUCCESS;
    }
    pend = apr_pcalloc(p, sizeof(*pend));
    pend->creation_id = cid;
    if ((*perr = read_metadata(&pend->row, call, c, boxes)) != NULL) {
        return APR_SUCCESS;
    }
    if (call->ctx->budget.build_left == 0) {
        *perr = set_error(p, "tooLarge", NULL, too_much_built(call));
        return APR_SUCCESS;
    }
    /* the message itself: jm_mime_build skips the metadata and the S/MIME
     * arguments read above */
    mime_limits(&lim, &call->ctx->budget);
    rv = jm_mime_build(&msg, c, fetch_blob_cb, call->ctx, &lim, &err, p);
    if (rv == APR_EINVAL || rv == APR_NOTFOUND) {
        *perr = err ? err : set_error(p, "invalidProperties", NULL, "Invalid Email.");
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (a.sign || a.encrypt) {
        jm_smime_opts_t o;
        jm_cms_err_t cerr;

        if (a.sign) {
            if ((*perr = choose_signer(&signer, &signer_addr, call, msg)) != NULL) {
                return APR_SUCCESS;
            }
        }
        else if (jm_mime_signer_address(&signer_addr, msg, perr, p) != APR_SUCCESS) {
            /* encrypting to "the sender" needs one (draft §4) */
            if (!*perr) {
                *perr = set_error(p, "invalidEmail", "from", "No sender address.");
            }
            return APR_SUCCESS;
        }
        if (a.encrypt) {
            if ((*perr = collect_recipients(&recips, &cert_addrs, call, msg,
                                            signer_addr)) != NULL) {
                return APR_SUCCESS;
            }
            apr_pool_cleanup_register(p, recips, free_x509_stack,
                                      apr_pool_cleanup_null);
        }
        memset(&o, 0, sizeof(o));
        o.sign = a.sign;
        o.encrypt = a.encrypt;
        o.header_protect = a.header_protect;
        o.sign_opaque = a.sign_opaque;
        o.legacy_display = call->ctx->smime->legacy_display;
        o.signer = signer;
        o.recips = recips;
        o.enc = call->ctx->smime->enc;
        if (a.encrypt) {
            /* no RecipientInfo of a Bcc recipient in what To/Cc get */
            jm_email_bcc_split(&o, &pend->bcc, recips, cert_addrs, msg, p);
        }
        memset(&cerr, 0, sizeof(cerr));
        rv = jm_smime_protect(&pend->bytes, &pend->len, msg, &o, &cerr, p);
        if (rv != APR_SUCCESS) {
            jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, p, JMLOGNO(01051)
                          "S/MIME %s%s%s failed for %s: %s", a.sign ? "sign" : "",
                          a.sign && a.encrypt ? "+" : "",
                          a.encrypt ? "encrypt" : "", jm_ctx_self(call->ctx)->username,
                          cerr.text);
            return rv;
        }
        jm_log_perror(JM_LOG_MARK, JM_LOG_INFO, 0, p, JMLOGNO(01052)
                      "%s: S/MIME %s%s%s message as %s, %d recipient cert(s)",
                      jm_ctx_self(call->ctx)->username, a.sign ? "signed" : "",
                      a.sign && a.encrypt ? "+" : "",
                      a.encrypt ? "encrypted" : "", signer_addr,
                      recips ? sk_X509_num(recips) : 0);
    }
    else if (APR_SUCCESS != (rv = jm_mime_to_bytes(&pend->bytes, &pend->len, msg, p))) {
        return rv;
    }
    for (i = 0; i < pend->bcc.n; i++) {
        if (!jm_budget_take_build(&call->ctx->budget, pend->bcc.len[i])) {
            call->ctx->budget.build_left = 0;
            *perr = set_error(p, "tooLarge", NULL, too_much_built(call));
            return APR_SUCCESS;
        }
    }
    if (!jm_budget_take_build(&call->ctx->budget, pend->len)) {
        call->ctx->budget.build_left = 0;   /* the ones after it fail too */
        *perr = set_error(p, "tooLarge", NULL, too_much_built(call));
        return APR_SUCCESS;
    }
    if (APR_SUCCESS != (rv = jm_email_prepare_row(&pend->row, pend->bytes, pend->len, p))) {
        return rv;
    }
    *ppend = pend;
    return APR_SUCCESS;
}

/* One transaction for the whole call: the creations, then updates, then
 * destroys (RFC 8620 §5.3 order); all of it or, on a failure, nothing.
 * Creations were prepared before it (S/MIME and directory work must not
 * hold the write lock). */
static apr_status_t commit_all(const char **pnew_state, jm_call_t *call,
                               apr_array_header_t *pending, json_t *update,
                               json_t *destroy, apr_array_header_t *boxes,
                               jm_email_ud_result_t *ud, const char *if_state)
{
    jm_ctx_t *ctx = call->ctx;
    const char *acc = ctx->account->id, *now;
    apr_status_t rv;
    int i;

    if (APR_SUCCESS != (rv = jm_db_begin(ctx->db, call->pool))) {
        return rv;
    }
    /* ifInState holds for what this transaction changes, not only for the
     * moment the call began */
    if (if_state && (APR_SUCCESS != (rv = jm_store_state(&now, ctx->db, acc,
                                                          JM_TYPE_EMAIL, call->pool))
                     || strcmp(now, if_state))) {
        jm_db_rollback(ctx->db);
        return rv != APR_SUCCESS ? rv : jm_call_error(call, "stateMismatch",
                                                      "The Email state is %s.", now);
    }
    for (i = 0; i < pending->nelts; i++) {
        pending_t *pe = APR_ARRAY_IDX(pending, i, pending_t *);
        if (APR_SUCCESS != (rv = jm_email_store_row(ctx->db, acc, &pe->row, pe->bytes,
                                                    pe->len, call->pool))
            || APR_SUCCESS != (rv = jm_email_bcc_store(ctx->db, acc, pe->row.id,
                                                       &pe->bcc, call->pool))) {
            jm_db_rollback(ctx->db);
            return rv;
        }
        /* updates and destroys of this call may name "#creationId" */
        jm_call_add_created(call, pe->creation_id, pe->row.id);
    }
    if (APR_SUCCESS != (rv = jm_email_update_destroy(ud, call, update, destroy, boxes))
        || APR_SUCCESS != (rv = jm_store_state(pnew_state, ctx->db, acc, JM_TYPE_EMAIL,
                                               call->pool))) {
        jm_db_rollback(ctx->db);
        return rv;
    }
    return jm_db_commit(ctx->db);
}

static size_t set_count(json_t *v)
{
    return json_is_object(v) ? json_object_size(v)
         : json_is_array(v) ? json_array_size(v) : 0;
}

apr_status_t jm_email_set(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    json_t *args = call->args, *create, *update, *destroy, *c, *v;
    json_t *created, *not_created, *not_updated, *not_destroyed;
    smime_args_t defaults = { 0, 0, 1, 1 };
    apr_array_header_t *pending, *boxes;
    jm_email_ud_result_t ud;
    const char *old_state, *new_state, *cid, *bad = NULL;
    apr_status_t rv;
    size_t i;
    int j, rc;

    create = json_object_get(args, "create");
    update = json_object_get(args, "update");
    destroy = json_object_get(args, "destroy");
    if ((create && !json_is_null(create) && !json_is_object(create))
        || (update && !json_is_null(update) && !json_is_object(update))
        || (destroy && !json_is_null(destroy) && !json_is_array(destroy))) {
        return jm_call_error(call, "invalidArguments", "create and update must "
                             "be objects, destroy an array (or null).");
    }
    json_array_foreach(destroy, i, v) {
        if (!json_is_string(v)) {
            return jm_call_error(call, "invalidArguments", "destroy holds Ids.");
        }
    }
    if ((rc = read_smime_args(&defaults, call, args, &bad)) != 1) {
        return jm_call_error(call, "invalidArguments", "%s",
                             smime_args_problem(rc, bad, call->pool));
    }
    if ((long)(set_count(create) + set_count(update) + set_count(destroy))
        > ctx->limits->max_objects_in_set) {
        return jm_call_error(call, "requestTooLarge", "More than maxObjectsInSet "
                             "(%ld) objects in one Email/set.",
                             ctx->limits->max_objects_in_set);
    }
    if (APR_SUCCESS != (rv = jm_store_state(&old_state, ctx->db, ctx->account->id,
                                            JM_TYPE_EMAIL, call->pool))) {
        return rv;
    }
    v = json_object_get(args, "ifInState");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) {
            return jm_call_error(call, "invalidArguments", "ifInState must be a string.");
        }
        if (strcmp(json_string_value(v), old_state) != 0) {
            return jm_call_error(call, "stateMismatch", "The Email state is %s.",
                                 old_state);
        }
    }
    if (APR_SUCCESS != (rv = jm_store_mailbox_ids(&boxes, ctx->db, ctx->account->id,
                                                  call->pool))) {
        return rv;
    }
    created = jm_json_own(call->pool, json_object());
    not_created = jm_json_own(call->pool, json_object());
    not_updated = jm_json_own(call->pool, json_object());
    not_destroyed = jm_json_own(call->pool, json_object());
    pending = apr_array_make(call->pool, 4, sizeof(pending_t *));
    json_object_foreach(create, cid, c) {
        pending_t *pend = NULL;
        json_t *err = NULL;
        if (APR_SUCCESS != (rv = prepare_create(&pend, &err, call, cid, c, &defaults,
                                                boxes))) {
            return rv;
        }
        if (err) {
            json_object_set(not_created, cid, err);
        }
        else {
            APR_ARRAY_PUSH(pending, pending_t *) = pend;
        }
    }
    ud.updated = jm_json_own(call->pool, json_object());
    ud.not_updated = not_updated;
    ud.destroyed = jm_json_own(call->pool, json_array());
    ud.not_destroyed = not_destroyed;
    new_state = old_state;
    if (pending->nelts > 0 || set_count(update) || set_count(destroy)) {
        v = json_object_get(args, "ifInState");
        if (APR_SUCCESS != (rv = commit_all(&new_state, call, pending, update, destroy,
                                            boxes, &ud, v && !json_is_null(v)
                                            ? json_string_value(v) : NULL))
            || call->error) {
            return rv;
        }
    }
    for (j = 0; j < pending->nelts; j++) {
        pending_t *pe = APR_ARRAY_IDX(pending, j, pending_t *);
        json_object_set_new(created, pe->creation_id, json_pack(
            "{s:s, s:s, s:s, s:I}", "id", pe->row.id, "blobId", pe->row.blob_id,
            "threadId", pe->row.thread_id, "size", (json_int_t)pe->row.size));
    }
    call->result = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
        "accountId", ctx->account->id, "oldState", old_state, "newState", new_state,
        "created", json_object_size(created) ? created : NULL,
        "updated", json_object_size(ud.updated) ? ud.updated : NULL,
        "destroyed", json_array_size(ud.destroyed) ? ud.destroyed : NULL,
        "notCreated", json_object_size(not_created) ? not_created : NULL,
        "notUpdated", json_object_size(not_updated) ? not_updated : NULL,
        "notDestroyed", json_object_size(not_destroyed) ? not_destroyed : NULL);
    return APR_SUCCESS;
}
