/* EmailSubmission/get, /changes, /query, /queryChanges (RFC 8621 §7.1-7.4)
 * on the standard-method framework; /set is jm_submission_set.c. The
 * objects are the queue's rows (store/jm_store_queue.c): what the worker
 * records (deliveryStatus, undoStatus) shows at once. */
#include <string.h>
#include <apr_strings.h>
#include "mail/jm_submission.h"
#include "mail/jm_submission_int.h"
#include "mail/jm_mail.h"
#include "std/jm_std_get.h"
#include "std/jm_std_changes.h"
#include "std/jm_std_query.h"
#include "std/jm_std_querychanges.h"
#include "core/jm_util.h"

#define SET_   JM_PROP_SERVER_SET
#define IMM_   JM_PROP_IMMUTABLE
#define DEF_   JM_PROP_DEFAULT_GET

const jm_prop_t jm_submission_props[] = {
    { "id",             JM_PT_ID,      SET_ | IMM_ | DEF_ | JM_PROP_ALWAYS_GET },
    { "identityId",     JM_PT_ID,      IMM_ | DEF_ },
    { "emailId",        JM_PT_ID,      IMM_ | DEF_ | JM_PROP_SORT },
    { "threadId",       JM_PT_ID,      SET_ | IMM_ | DEF_ | JM_PROP_SORT },
    { "envelope",       JM_PT_OBJECT,  IMM_ | DEF_ | JM_PROP_NULLABLE },
    { "sendAt",         JM_PT_UTCDATE, SET_ | IMM_ | DEF_ },
    { "undoStatus",     JM_PT_STRING,  DEF_ },
    { "deliveryStatus", JM_PT_OBJECT,  SET_ | DEF_ | JM_PROP_NULLABLE },
    { "dsnBlobIds",     JM_PT_ARRAY,   SET_ | DEF_ },
    { "mdnBlobIds",     JM_PT_ARRAY,   SET_ | DEF_ },
    { NULL, 0, 0 }
};

json_t *jm_submission_capability(const jm_submit_conf_t *conf, apr_pool_t *p)
{
    long max = conf && conf->url ? conf->max_delayed : 0;
    json_t *ext = json_object();

    /* only what the server does itself: FUTURERELEASE (RFC 4865) is
     * HOLDFOR/HOLDUNTIL on mailFrom, held in our queue; no parameter is
     * passed on to the relay, so no other extension is listed */
    if (max > 0) {
        /* RFC 4865 §3: the longest interval and the latest date-time */
        json_object_set_new(ext, "FUTURERELEASE", json_pack("[s, s]",
            apr_psprintf(p, "%ld", max), jm_util_utcdate(apr_time_from_sec(
                apr_time_sec(apr_time_now()) + max), p)));
    }
    return json_pack("{s:I, s:o}", "maxDelayedSend", (json_int_t)max,
                     "submissionExtensions", ext);
}

/* a stored JSON array of blob ids, [] when unreadable */
static json_t *blob_list(const char *text)
{
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;

    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

json_t *jm_submission_json(const jm_sub_row_t *s, apr_pool_t *p)
{
    json_t *ds = json_object(), *env = json_loads(s->envelope, 0, NULL);
    int i;

    for (i = 0; i < s->rcpts->nelts; i++) {
        const jm_sub_rcpt_t *r = &APR_ARRAY_IDX(s->rcpts, i, jm_sub_rcpt_t);
        json_object_set_new(ds, r->address, json_pack("{s:s, s:s, s:s}",
            "smtpReply", r->smtp_reply, "delivered", r->delivered,
            "displayed", r->displayed));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o}",
        "id", s->id, "identityId", s->identity_id, "emailId", s->email_id,
        "threadId", s->thread_id, "envelope", env ? env : json_null(),
        "sendAt", jm_util_utcdate(apr_time_from_sec(s->send_at), p),
        "undoStatus", s->undo_status, "deliveryStatus", ds,
        "dsnBlobIds", blob_list(s->dsn_blob_ids),
        "mdnBlobIds", blob_list(s->mdn_blob_ids));
}

const char *jm_submission_state(jm_call_t *call)
{
    const char *st = NULL;

    return jm_store_state(&st, call->ctx->db, call->ctx->account->id,
                          JM_TYPE_SUBMISSION, call->pool) == APR_SUCCESS ? st : NULL;
}

/* ---- EmailSubmission/get ---------------------------------------------- */

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    return (*pstate = jm_submission_state(get->call)) ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    apr_pool_t *p = get->call->pool;
    apr_array_header_t *all;
    apr_status_t rv;
    int i;

    (void)offset;
    (void)after;
    (void)limit;
    if (!ids) {
        if ((rv = jm_store_submissions(&all, ctx->db, ctx->account->id, p))
            != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < all->nelts; i++) {
            json_array_append_new(list, jm_submission_json(
                APR_ARRAY_IDX(all, i, jm_sub_row_t *), p));
        }
        return APR_SUCCESS;
    }
    for (i = 0; i < ids->nelts; i++) {
        jm_sub_row_t *s;
        rv = jm_store_submission_get(&s, ctx->db, ctx->account->id,
                                     APR_ARRAY_IDX(ids, i, const char *), p);
        if (rv == APR_SUCCESS) {
            json_array_append_new(list, jm_submission_json(s, p));
        }
        else if (rv != APR_NOTFOUND) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static const jm_get_type_t get_type = {
    "EmailSubmission", jm_submission_props, NULL, get_state, get_fetch, 0, 0,
    NULL, NULL
};

apr_status_t jm_submission_get(jm_call_t *call)
{
    return jm_std_get(call, &get_type, NULL);
}

/* ---- EmailSubmission/changes -------------------------------------------- */

static apr_status_t changes_fetch(jm_changes_t *ch, apr_int64_t since,
                                  apr_size_t hint, apr_array_header_t **precords,
                                  int *ptruncated, apr_int64_t *poldest,
                                  apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch(ch, JM_TYPE_SUBMISSION, since, hint, precords,
                                 ptruncated, poldest, pcurrent);
}

static const jm_changes_type_t changes_type = {
    "EmailSubmission", NULL, changes_fetch, NULL, 0, 0
};

apr_status_t jm_submission_changes(jm_call_t *call)
{
    return jm_std_changes(call, &changes_type, NULL);
}

/* ---- EmailSubmission/query and /queryChanges -------------------------- */

static int is_id_list(const json_t *v)
{
    size_t i;
    json_t *e;

    if (!json_is_array(v)) {
        return 0;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !jm_util_is_valid_id(json_string_value(e))) {
            return 0;
        }
    }
    return 1;
}

/* §7.3 FilterCondition. */
static jm_cond_status_t query_cond(jm_query_t *q, json_t *cond, void **pdata,
                                   jm_path_t *path, const char **pwhy)
{
    const char *k;
    json_t *v;

    (void)pdata;
    (void)path;
    json_object_foreach(cond, k, v) {
        if (!strcmp(k, "identityIds") || !strcmp(k, "emailIds")
            || !strcmp(k, "threadIds")) {
            if (!is_id_list(v)) {
                *pwhy = apr_pstrcat(q->call->pool, k, " must be an Id[]", NULL);
                return JM_COND_INVALID;
            }
        }
        else if (!strcmp(k, "undoStatus")) {
            if (!json_is_string(v)) {
                *pwhy = "undoStatus must be a String";
                return JM_COND_INVALID;
            }
        }
        else if (!strcmp(k, "before") || !strcmp(k, "after")) {
            if (!json_is_string(v) || !jm_prop_valid_date(json_string_value(v), 1)) {
                *pwhy = apr_pstrcat(q->call->pool, k, " must be a UTCDate", NULL);
                return JM_COND_INVALID;
            }
        }
        else {
            *pwhy = apr_pstrcat(q->call->pool, "EmailSubmission has no filter ",
                                k, NULL);
            return JM_COND_UNSUPPORTED;
        }
    }
    return JM_COND_OK;
}

static int in_list(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e) {
        if (json_equal(e, v)) {
            return 1;
        }
    }
    return 0;
}

static int query_match(jm_query_t *q, const jm_filter_t *f, const json_t *obj)
{
    const char *k;
    json_t *v;

    (void)q;
    json_object_foreach(f->cond, k, v) {
        if (!strcmp(k, "identityIds")) {
            if (!in_list(v, json_object_get(obj, "identityId"))) return 0;
        }
        else if (!strcmp(k, "emailIds")) {
            if (!in_list(v, json_object_get(obj, "emailId"))) return 0;
        }
        else if (!strcmp(k, "threadIds")) {
            if (!in_list(v, json_object_get(obj, "threadId"))) return 0;
        }
        else if (!strcmp(k, "undoStatus")) {
            if (!json_equal(v, json_object_get(obj, "undoStatus"))) return 0;
        }
        else {
            /* UTCDates of one form compare as strings */
            int c = strcmp(json_string_value(json_object_get(obj, "sendAt")),
                           json_string_value(v));
            if (!strcmp(k, "before") ? c >= 0 : c < 0) return 0;
        }
    }
    return 1;
}

/* §7.3: "sentAt" sorts by sendAt (the time it was or will be released). */
static int query_sort(jm_query_t *q, jm_comparator_t *c)
{
    (void)q;
    if (strcmp(c->property, "sentAt")) {
        return 0;
    }
    c->property = "sendAt";
    return 1;
}

static apr_status_t all_results(jm_query_t *q)
{
    jm_ctx_t *ctx = q->call->ctx;
    json_t *objs = jm_json_own(q->call->pool, json_array());
    apr_array_header_t *all;
    apr_status_t rv;
    int i;

    if ((rv = jm_store_submissions(&all, ctx->db, ctx->account->id, q->call->pool))
        != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < all->nelts; i++) {
        json_array_append_new(objs, jm_submission_json(
            APR_ARRAY_IDX(all, i, jm_sub_row_t *), q->call->pool));
    }
    return jm_query_memory(q, objs, query_match);
}

static apr_status_t query_run(jm_query_t *q)
{
    if (!(q->query_state = jm_submission_state(q->call))) {
        return APR_EGENERAL;
    }
    q->can_calculate_changes = 1;
    return all_results(q);
}

static const jm_query_type_t query_type = {
    "EmailSubmission", jm_submission_props, NULL, query_cond, query_sort,
    query_run, 0, 0, 1
};

apr_status_t jm_submission_query(jm_call_t *call)
{
    return jm_std_query(call, &query_type, NULL);
}

/* Every submission changed since the query state may have moved (§5.6
 * allows extra removed ids); the properties the filters and sorts use are
 * immutable except undoStatus, so this is seldom more than needed. */
static apr_status_t qc_changes(jm_querychanges_t *qc)
{
    apr_array_header_t *rec;
    apr_int64_t since, cur, oldest;
    apr_status_t rv;
    int more = 0, i;

    if (!jm_changes_parse_state(qc->since_query_state, &since)) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    if ((rv = jm_store_changes_since(&rec, &more, &cur, &oldest, qc->call->ctx->db,
                                     qc->call->ctx->account->id, JM_TYPE_SUBMISSION,
                                     since, JM_MAIL_CHANGES_READ_MAX, qc->call->pool))
        != APR_SUCCESS) {
        return rv;
    }
    if (!rec || more) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    qc->changed = apr_array_make(qc->call->pool, rec->nelts + 1, sizeof(const char *));
    for (i = 0; i < rec->nelts; i++) {
        APR_ARRAY_PUSH(qc->changed, const char *) = APR_ARRAY_IDX(rec, i, jm_change_t).id;
    }
    if ((rv = all_results(&qc->q)) != APR_SUCCESS) {
        return rv;
    }
    qc->current = qc->q.all;
    qc->new_query_state = apr_psprintf(qc->call->pool, "%" APR_INT64_T_FMT, cur);
    return APR_SUCCESS;
}

static const jm_querychanges_type_t qc_type = { &query_type, NULL, qc_changes };

apr_status_t jm_submission_querychanges(jm_call_t *call)
{
    return jm_std_querychanges(call, &qc_type, NULL);
}
