/* EmailSubmission/set (RFC 8621 §7.5) on the standard /set: a creation is
 * checked (identity, email, envelope, recipients, size) and queued, the
 * submission and its recipients committed durably before the answer; the
 * worker (jm_submit_worker.c) sends it. An update may only cancel a
 * pending submission; a destroy hides the record (its deliveries go on).
 * onSuccessUpdateEmail / onSuccessDestroyEmail become one implicit
 * Email/set answered after this call. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "mail/jm_submission.h"
#include "mail/jm_submission_int.h"
#include "core/jm_methods.h"
#include "core/jm_util.h"
#include "core/jm_log.h"
#include "std/jm_std_set.h"
#include "store/jm_store.h"
#include "mime/jm_mime_read.h"
#include "mail/jm_sendauth.h"
#include "mail/jm_identity.h"

typedef struct {
    jm_ctx_t *ctx;
    apr_hash_t *email_of;       /* submission id -> email id, for onSuccess* */
    apr_int64_t now;
} sub_baton_t;

static json_t *invalid(apr_pool_t *p, const char *prop, const char *fmt, const char *arg)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", prop), fmt, arg);
}

/* addr is covered by one of the person's sending rights (addrs: from
 * jm_sendauth_addresses, the one table of them) */
static int may_send_as(const apr_array_header_t *addrs, const char *addr)
{
    int i;

    for (i = 0; i < addrs->nelts; i++) {
        if (jm_sendauth_match(APR_ARRAY_IDX(addrs, i, const char *), addr)) {
            return 1;
        }
    }
    return 0;
}

/* What an explicit or derived envelope comes to. */
typedef struct {
    const char *mail_from;
    apr_array_header_t *rcpts;       /* const char *, deduplicated */
    apr_int64_t hold;                /* seconds to hold (FUTURERELEASE) */
    json_t *json;                    /* the Envelope to store and answer */
} env_t;

static void add_rcpt(env_t *e, apr_hash_t *seen, const char *addr, apr_pool_t *p)
{
    const char *key = jm_util_strlower(addr, p);

    if (!apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, addr);
        APR_ARRAY_PUSH(e->rcpts, const char *) = addr;
    }
}

/* RFC 4865 HOLDFOR (seconds) / HOLDUNTIL (RFC 3339 date-time) on
 * mailFrom, bounded by maxDelayedSend; no other parameter is accepted,
 * since none is passed on to the relay. NULL or a SetError. */
static json_t *read_mail_params(env_t *e, const json_t *params, long max_delayed,
                                apr_int64_t now, apr_pool_t *p)
{
    const char *k, *prop;
    json_t *v;
    int n = 0;

    json_object_foreach((json_t *)params, k, v) {
        prop = apr_pstrcat(p, "envelope/mailFrom/parameters/", k, NULL);
        if (strcasecmp(k, "HOLDFOR") && strcasecmp(k, "HOLDUNTIL")) {
            return invalid(p, prop, "The parameter %s is not supported (only "
                           "FUTURERELEASE's HOLDFOR and HOLDUNTIL).", k);
        }
        if (max_delayed <= 0) {
            return invalid(p, prop, "%s", "FUTURERELEASE is not offered "
                           "(maxDelayedSend is 0).");
        }
        if (++n > 1 || !json_is_string(v)) {
            return invalid(p, prop, "%s", "One of HOLDFOR and HOLDUNTIL, as a "
                           "string.");
        }
        if (!strcasecmp(k, "HOLDFOR")) {
            const char *s = json_string_value(v), *c;
            for (c = s; apr_isdigit(*c); c++) {
            }
            if (!*s || *c || strlen(s) > 10) {
                return invalid(p, prop, "%s", "HOLDFOR is a number of seconds.");
            }
            e->hold = apr_atoi64(s);
        }
        else {
            apr_time_t t;
            if (jm_util_parse_date(json_string_value(v), 0, &t) != 0) {
                return invalid(p, prop, "%s", "HOLDUNTIL is an RFC 3339 date-time.");
            }
            /* a time past is now (RFC 4865 §4: release at once) */
            e->hold = apr_time_sec(t) > now ? apr_time_sec(t) - now : 0;
        }
        if (e->hold > max_delayed) {
            return jm_set_error(p, "invalidProperties", json_pack("[s]", prop),
                                "A submission is held at most %ld seconds "
                                "(maxDelayedSend).", max_delayed);
        }
    }
    return NULL;
}

static int address_object(const json_t *a)
{
    const char *k;
    json_t *v;

    if (!json_is_object(a) || !json_is_string(json_object_get(a, "email"))) {
        return 0;
    }
    json_object_foreach((json_t *)a, k, v) {
        if (strcmp(k, "email") && strcmp(k, "parameters")) {
            return 0;
        }
    }
    v = json_object_get(a, "parameters");
    return !v || json_is_null(v) || json_is_object(v);
}

/* An Envelope the client gave (§7): NULL or a SetError. */
static json_t *read_envelope(env_t *e, const json_t *env, long max_delayed,
                             apr_int64_t now, apr_pool_t *p)
{
    const json_t *mf = json_object_get(env, "mailFrom");
    const json_t *rt = json_object_get(env, "rcptTo"), *r, *params;
    apr_hash_t *seen = apr_hash_make(p);
    const char *k;
    json_t *v, *err;
    size_t i;

    json_object_foreach((json_t *)env, k, v) {
        if (strcmp(k, "mailFrom") && strcmp(k, "rcptTo")) {
            return invalid(p, apr_pstrcat(p, "envelope/", k, NULL),
                           "%s", "An Envelope has mailFrom and rcptTo only.");
        }
    }
    if (!address_object(mf)) {
        return invalid(p, "envelope/mailFrom", "%s", "mailFrom must be an Address.");
    }
    if (!json_is_array(rt)) {
        return invalid(p, "envelope/rcptTo", "%s", "rcptTo must be an Address[].");
    }
    e->mail_from = json_string_value(json_object_get(mf, "email"));
    params = json_object_get(mf, "parameters");
    if (json_is_object(params)
        && (err = read_mail_params(e, params, max_delayed, now, p))) {
        return err;
    }
    json_array_foreach(rt, i, r) {
        const char *at = apr_psprintf(p, "envelope/rcptTo/%" APR_SIZE_T_FMT, i);
        params = json_object_get(r, "parameters");
        if (!address_object(r)) {
            return invalid(p, at, "%s", "An Address has email and parameters.");
        }
        if (json_is_object(params) && json_object_size(params)) {
            return invalid(p, apr_pstrcat(p, at, "/parameters", NULL), "%s",
                           "No RCPT TO parameter is supported.");
        }
        add_rcpt(e, seen, json_string_value(json_object_get(r, "email")), p);
    }
    e->json = json_deep_copy(env);
    return NULL;
}

/* §7: the envelope from the message's fields (mailFrom: the identity's
 * address when the Sender/From one is not the user's). */
static json_t *derive_envelope(env_t *e, const apr_array_header_t *hdrs,
                               const apr_array_header_t *addrs, const char *ident,
                               jm_call_t *call)
{
    apr_pool_t *p = call->pool;
    apr_array_header_t *rcpts;
    const char *from, *why;
    json_t *rt;
    int i;

    if (jm_submit_derive(&from, &rcpts, &why, hdrs,
                         (int)call->ctx->limits->max_header_items, p) != 0) {
        return jm_set_error(p, "invalidEmail", json_pack("[s]", why), "The %s "
                            "field must be one field with one address to derive "
                            "the envelope from.", why);
    }
    e->mail_from = *from && may_send_as(addrs, from) ? from : ident;
    if (!jm_sendauth_valid_address(e->mail_from, 0)) {
        /* a "*@domain" identity names no address to send from */
        return jm_set_error(p, "forbiddenMailFrom", NULL, "The identity's address "
                            "%s is a wildcard: the message's Sender or From must "
                            "name the address to send from.", e->mail_from);
    }
    rt = json_array();
    for (i = 0; i < rcpts->nelts; i++) {
        const char *a = APR_ARRAY_IDX(rcpts, i, const char *);
        APR_ARRAY_PUSH(e->rcpts, const char *) = a;
        json_array_append_new(rt, json_pack("{s:s, s:n}", "email", a, "parameters"));
    }
    e->json = json_pack("{s:{s:s, s:n}, s:o}", "mailFrom", "email", e->mail_from,
                        "parameters", "rcptTo", rt);
    return NULL;
}

/* The recipients a relay cannot take, tooMany, none: a SetError or NULL. */
static json_t *check_rcpts(const env_t *e, long max, apr_pool_t *p)
{
    json_t *bad = json_array(), *err;
    int i;

    if (!e->rcpts->nelts) {
        json_decref(bad);
        return jm_set_error(p, "noRecipients", NULL, "%s", "The envelope has no "
                            "rcptTo address.");
    }
    for (i = 0; i < e->rcpts->nelts; i++) {
        const char *a = APR_ARRAY_IDX(e->rcpts, i, const char *);
        if (!jm_submit_valid_address(a)) {
            json_array_append_new(bad, json_string(a));
        }
    }
    if (json_array_size(bad)) {
        err = jm_set_error(p, "invalidRecipients", NULL, "%s", "Some rcptTo "
                           "addresses are not addresses a message can be sent to.");
        json_object_set_new(err, "invalidRecipients", bad);
        return err;
    }
    json_decref(bad);
    if (e->rcpts->nelts > max) {
        err = jm_set_error(p, "tooManyRecipients", NULL, "A submission has at "
                           "most %ld recipients.", max);
        json_object_set_new(err, "maxRecipients", json_integer(max));
        return err;
    }
    return NULL;
}

/* The message: its bytes are checked, not changed (a signature covers
 * them); every From address and the Sender's must be the user's
 * (forbiddenFrom, mail/jm_sendauth.h). */
static json_t *check_message(const char **pmsgid, jm_mime_parsed_t **pmsg,
                             const jm_email_row_t *email, jm_call_t *call,
                             apr_status_t *prv)
{
    const jm_submit_conf_t *conf = call->ctx->submit;
    apr_pool_t *p = call->pool;
    const unsigned char *data;
    apr_array_header_t *ids, *from, *froms, *sender_addrs;
    const char *raw, *sender = NULL, *denied = NULL;
    apr_size_t len;
    json_t *err;
    int i;

    *prv = jm_store_blob_get(&data, &len, NULL, call->ctx->db,
                             call->ctx->account->id, email->blob_id, p);
    if (*prv != APR_SUCCESS) {
        *prv = *prv == APR_NOTFOUND ? APR_EGENERAL : *prv;  /* damage */
        return NULL;
    }
    if ((long)len > conf->max_size) {
        err = jm_set_error(p, "tooLarge", NULL, "Messages of at most %ld octets "
                           "are sent.", conf->max_size);
        json_object_set_new(err, "maxSize", json_integer(conf->max_size));
        return err;
    }
    if (jm_mime_read(pmsg, (const char *)data, len, 0, p) != APR_SUCCESS) {
        return jm_set_error(p, "invalidEmail", NULL, "%s", "The message does not "
                            "parse as a message.");
    }
    /* the queue recognises a message at the relay by it (see README) */
    raw = jm_mime_hdr_last((*pmsg)->hdrs, "Message-ID");
    ids = raw ? jm_mime_hdr_msgids(raw, p) : NULL;
    if (!ids || ids->nelts != 1) {
        return jm_set_error(p, "invalidEmail", json_pack("[s]", "messageId"), "%s",
                            "A message sent needs one Message-ID.");
    }
    *pmsgid = APR_ARRAY_IDX(ids, 0, const char *);
    raw = jm_mime_hdr_last((*pmsg)->hdrs, "From");
    from = raw ? jm_mime_hdr_addresses(raw, 0, p) : NULL;
    if (!from || !from->nelts) {
        return jm_set_error(p, "invalidEmail", json_pack("[s]", "from"), "%s",
                            "A message sent needs a From address.");
    }
    /* every From address and the Sender's (jm_sendauth_check_header) */
    froms = apr_array_make(p, from->nelts, sizeof(const char *));
    for (i = 0; i < from->nelts; i++) {
        APR_ARRAY_PUSH(froms, const char *) = APR_ARRAY_IDX(from, i, jm_mime_addr_t).email;
    }
    raw = jm_mime_hdr_last((*pmsg)->hdrs, "Sender");
    sender_addrs = raw ? jm_mime_hdr_addresses(raw, 0, p) : NULL;
    if (sender_addrs && sender_addrs->nelts) {
        sender = APR_ARRAY_IDX(sender_addrs, 0, jm_mime_addr_t).email;
    }
    *prv = jm_sendauth_check_header(&denied, call, froms, sender);
    if (*prv == APR_EAGAIN) {
        *prv = APR_SUCCESS;
        return jm_set_error(p, "serverUnavailable", NULL, "%s", "The directory "
                            "listing this user's addresses is unreachable; try "
                            "again later.");
    }
    if (*prv != APR_SUCCESS) {
        return NULL;
    }
    if (denied) {
        return jm_set_error(p, "forbiddenFrom", NULL, "This user may not send "
                            "as %s (%s).", denied, sender && !strcasecmp(denied, sender)
                            ? "Sender" : "From");
    }
    return NULL;
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    sub_baton_t *b = set->baton;
    jm_call_t *call = set->call;
    const jm_submit_conf_t *conf = call->ctx->submit;
    apr_pool_t *p = call->pool;
    const char *ident_id = json_string_value(json_object_get(obj, "identityId"));
    const char *email_id = json_string_value(json_object_get(obj, "emailId"));
    const json_t *undo = json_object_get(obj, "undoStatus");
    const json_t *envj = json_object_get(obj, "envelope");
    const apr_array_header_t *addrs;
    jm_email_row_t *email;
    jm_mime_parsed_t *msg;
    const char *ident, *msgid = NULL;
    env_t e;
    jm_sub_row_t *s;
    apr_hash_t *copies;
    apr_status_t rv;
    int i;

    (void)cid;
    memset(&e, 0, sizeof(e));
    e.rcpts = apr_array_make(p, 8, sizeof(const char *));
    if (!ident_id || !email_id) {
        *perr = invalid(p, ident_id ? "emailId" : "identityId", "%s",
                        "identityId and emailId are required.");
        return APR_SUCCESS;
    }
    if (undo && strcmp(json_string_value(undo), "pending")) {
        *perr = invalid(p, "undoStatus", "%s", "A new submission is pending.");
        return APR_SUCCESS;
    }
    if (!conf || !conf->url) {
        *perr = jm_set_error(p, "forbiddenToSend", NULL, "%s", "This server has no "
                             "relay to send mail through (JMAPSubmissionURL).");
        return APR_SUCCESS;
    }
    rv = jm_sendauth_addresses(&addrs, call);
    if (rv == APR_SUCCESS) {
        rv = jm_identity_lookup(&ident, call, ident_id);
    }
    if (rv == APR_EAGAIN) {
        *perr = jm_set_error(p, "serverUnavailable", NULL, "%s", "The directory "
                             "listing this user's addresses is unreachable; try "
                             "again later.");
        return APR_SUCCESS;
    }
    if (rv == APR_NOTFOUND) {
        *perr = invalid(p, "identityId", "No Identity %s.", ident_id);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = jm_store_email_get(&email, call->ctx->db, call->ctx->account->id,
                            email_id, p);
    if (rv == APR_NOTFOUND) {
        *perr = invalid(p, "emailId", "No Email %s.", email_id);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS
        || (*perr = check_message(&msgid, &msg, email, call, &rv))
        || rv != APR_SUCCESS) {
        return rv;
    }
    if (envj && !json_is_null(envj)) {
        if ((*perr = read_envelope(&e, envj, conf->max_delayed, b->now, p))) {
            return APR_SUCCESS;
        }
        if (!may_send_as(addrs, e.mail_from)) {
            json_decref(e.json);
            *perr = jm_set_error(p, "forbiddenMailFrom", NULL, "This user may not "
                                 "use %s as the envelope sender.", e.mail_from);
            return APR_SUCCESS;
        }
    }
    else if ((*perr = derive_envelope(&e, msg->hdrs, addrs, ident, call))) {
        return APR_SUCCESS;
    }
    jm_json_own(p, e.json);
    if ((*perr = check_rcpts(&e, conf->max_rcpts, p))) {
        return APR_SUCCESS;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->id = jm_util_new_id('S', p);
    s->identity_id = ident_id;
    s->email_id = email->id;
    s->thread_id = email->thread_id;
    s->blob_id = email->blob_id;
    s->message_id = msgid;
    s->mail_from = e.mail_from;
    s->envelope = jm_json_dump(e.json, p);
    s->created = b->now;
    s->send_at = b->now + e.hold;
    s->give_up_at = s->send_at + conf->retry_time;
    s->undo_status = "pending";
    /* a Bcc recipient of an encrypted Email gets its own copy */
    if ((rv = jm_store_bcc_copies(&copies, call->ctx->db, call->ctx->account->id,
                                  email->id, p)) != APR_SUCCESS) {
        return rv;
    }
    s->rcpts = apr_array_make(p, e.rcpts->nelts, sizeof(jm_sub_rcpt_t));
    for (i = 0; i < e.rcpts->nelts; i++) {
        jm_sub_rcpt_t *r = apr_array_push(s->rcpts);
        const char *own;
        r->seq = i;
        r->address = APR_ARRAY_IDX(e.rcpts, i, const char *);
        own = apr_hash_get(copies, jm_util_strlower(r->address, p), APR_HASH_KEY_STRING);
        r->blob_id = own ? own : "";
        r->delivered = "queued";
        r->smtp_reply = "";
        r->displayed = "unknown";
    }
    if ((rv = jm_store_submission_insert(call->ctx->db, call->ctx->account->id, s, p))
        != APR_SUCCESS) {
        return rv;
    }
    apr_hash_set(b->email_of, s->id, APR_HASH_KEY_STRING, s->email_id);
    *pcreated = jm_submission_json(s, p);
    return APR_SUCCESS;
}

/* The submission id, its email remembered for onSuccess* (email_of). */
static apr_status_t load(jm_sub_row_t **ps, jm_set_t *set, const char *id)
{
    sub_baton_t *b = set->baton;
    apr_status_t rv = jm_store_submission_get(ps, b->ctx->db, b->ctx->account->id,
                                              id, set->call->pool);

    if (rv == APR_SUCCESS) {
        apr_hash_set(b->email_of, apr_pstrdup(set->call->pool, id),
                     APR_HASH_KEY_STRING, (*ps)->email_id);
    }
    return rv;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    jm_sub_row_t *s;
    apr_status_t rv = load(&s, set, id);

    *pobj = NULL;
    if (rv == APR_SUCCESS) {
        *pobj = jm_submission_json(s, set->call->pool);
    }
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

/* §7: the only change is pending -> canceled, while no worker holds it. */
static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    sub_baton_t *b = set->baton;
    apr_pool_t *p = set->call->pool;
    const char *want = json_string_value(json_object_get(updated, "undoStatus"));
    apr_status_t rv;

    (void)patch;
    *pchanged = NULL;
    if (!json_object_get(patch, "undoStatus")) {
        return APR_SUCCESS;
    }
    if (!want || (strcmp(want, "canceled") && strcmp(want, "pending")
                  && strcmp(want, "final"))) {
        *perr = invalid(p, "undoStatus", "%s", "undoStatus is pending, final or "
                        "canceled.");
        return APR_SUCCESS;
    }
    if (strcmp(want, "canceled")) {
        /* only the server moves it to final; pending stays pending */
        *perr = invalid(p, "undoStatus", "%s", "A client may only set undoStatus "
                        "to canceled.");
        return APR_SUCCESS;
    }
    rv = jm_store_submission_cancel(b->ctx->db, b->ctx->account->id, id,
                                    "550 5.0.0 The sender canceled the submission", p);
    if (rv == APR_EBUSY) {
        *perr = jm_set_error(p, "cannotUnsend", NULL, "%s", "The message is being "
                             "sent or was sent; it cannot be recalled.");
        return APR_SUCCESS;
    }
    return rv;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    sub_baton_t *b = set->baton;
    jm_sub_row_t *s;
    apr_status_t rv = load(&s, set, id);

    if (rv == APR_SUCCESS) {
        rv = jm_store_submission_destroy(b->ctx->db, b->ctx->account->id, id,
                                         set->call->pool);
    }
    if (rv == APR_NOTFOUND) {
        *perr = jm_set_error(set->call->pool, "notFound", NULL,
                             "No EmailSubmission %s.", id);
        return APR_SUCCESS;
    }
    return rv;
}

static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    return (*pstate = jm_submission_state(set->call)) ? APR_SUCCESS : APR_EGENERAL;
}

static const jm_arg_t set_args[] = {
    { "onSuccessUpdateEmail",  JM_PT_OBJECT, JM_ARG_NULLABLE },
    { "onSuccessDestroyEmail", JM_PT_ARRAY,  JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

static const jm_set_type_t set_type = {
    "EmailSubmission", jm_submission_props, set_args, set_state, set_create,
    set_lookup, set_update, set_destroy, 0
};

/* Whether submission id (resolved) succeeded in this call. */
static int succeeded(jm_set_t *set, const char *given, const char *id)
{
    json_t *v;
    size_t i;

    if (given[0] == '#') {
        return json_object_get(set->created, given + 1) != NULL;
    }
    if (json_object_get(set->updated, id)) {
        return 1;
    }
    json_array_foreach(set->destroyed, i, v) {
        if (!strcmp(json_string_value(v), id)) {
            return 1;
        }
    }
    return 0;
}

/* §7.5: one implicit Email/set for onSuccessUpdateEmail and
 * onSuccessDestroyEmail, answered after this call under its call id. */
static void on_success(jm_set_t *set, sub_baton_t *b)
{
    jm_call_t *call = set->call, sub;
    json_t *upd = jm_args_get(call, "onSuccessUpdateEmail");
    json_t *des = jm_args_get(call, "onSuccessDestroyEmail");
    json_t *update = json_object(), *destroy = json_array(), *v, *resp;
    const char *k;
    apr_status_t rv;
    size_t i;

    json_object_foreach(upd, k, v) {
        const char *id = jm_call_resolve_id(call, k);
        const char *eid = id ? apr_hash_get(b->email_of, id, APR_HASH_KEY_STRING) : NULL;
        if (eid && succeeded(set, k, id)) {
            json_object_set(update, eid, v);
        }
    }
    json_array_foreach(des, i, v) {
        const char *g = json_string_value(v);
        const char *id = g ? jm_call_resolve_id(call, g) : NULL;
        const char *eid = id ? apr_hash_get(b->email_of, id, APR_HASH_KEY_STRING) : NULL;
        if (eid && succeeded(set, g, id)) {
            json_array_append_new(destroy, json_string(eid));
        }
    }
    if (!upd && !des) {
        json_decref(update);
        json_decref(destroy);
        return;
    }
    memset(&sub, 0, sizeof(sub));
    apr_pool_create(&sub.pool, call->pool);
    sub.name = "Email/set";
    sub.call_id = call->call_id;
    sub.args = jm_json_own(sub.pool, json_pack("{s:s, s:o, s:o}", "accountId",
        call->ctx->account->id, "update", update, "destroy", destroy));
    sub.created_ids = call->created_ids;
    sub.using = call->using;
    sub.ctx = call->ctx;
    if ((rv = jm_email_set(&sub)) != APR_SUCCESS) {
        /* the submissions stand; only the Email changes failed */
        jm_log_perror(JM_LOG_MARK, JM_LOG_ERR, rv, call->pool, JMLOGNO(15000)
                      "EmailSubmission/set: the implicit Email/set failed for "
                      "user %s", jm_ctx_self(call->ctx)->username);
        json_decref(sub.result);
        sub.result = NULL;
        json_decref(sub.error);
        sub.error = APR_STATUS_IS_TIMEUP(rv)
            ? jm_error_method("serverUnavailable", "The store is busy; try again.")
            : jm_error_method("serverFail", "The Email changes were not made; the "
                              "error log has details.");
    }
    if (sub.error) {
        json_decref(sub.result);
        resp = json_pack("[s,o]", "error", sub.error);
    }
    else {
        resp = json_pack("[s,o]", "Email/set", sub.result ? sub.result : json_object());
    }
    call->extra_responses = json_pack("[o]", resp);
    apr_pool_destroy(sub.pool);
}

apr_status_t jm_submission_set(jm_call_t *call)
{
    jm_db_t *db = call->ctx->db;
    sub_baton_t b;
    jm_set_t set;
    apr_status_t rv;

    b.ctx = call->ctx;
    b.email_of = apr_hash_make(call->pool);
    b.now = apr_time_sec(apr_time_now());
    if (!jm_set_parse(&set, call, &set_type, &b)) {
        return APR_SUCCESS;
    }
    /* durable: the queue holds the only record of what is to be sent */
    if ((rv = jm_db_begin_durable(db, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = jm_set_run(&set)) != APR_SUCCESS || call->error) {
        jm_db_rollback(db);
        return rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        return rv;
    }
    jm_set_reply(&set);
    on_success(&set, &b);
    return APR_SUCCESS;
}
