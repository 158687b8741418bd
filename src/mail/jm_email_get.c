/* Email/get (RFC 8621 §4.2) on the standard /get (std/jm_std_get.h): the
 * framework reads accountId, ids and properties and answers notFound;
 * this file adds the body arguments, the header:Name:form property names
 * (§4.1.3) and the objects, metadata from the store and the rest from the
 * stored message (mail/jm_email_view.h). Rows are read in batches of
 * JM_STORE_EMAIL_BATCH. When the stored view answers and the request
 * takes raw fragments (core/jm_raw.h), an Email is answered as text: its
 * metadata written here and the view's members copied as they are stored
 * (email_text), never parsed. */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "std/jm_std_get.h"
#include "store/jm_store.h"
#include "mail/jm_email_view.h"
#include "mail/jm_email_view_cache.h"
#include "mail/jm_email_body_args.h"
#include "core/jm_util.h"
#include "core/jm_raw.h"
#include "core/jm_json_scan.h"

#define DEF_ JM_PROP_DEFAULT_GET
#define SET_ JM_PROP_SERVER_SET

/* §4.1; "properties" null gives the DEFAULT_GET ones (§4.2). */
static const jm_prop_t email_props[] = {
    { "id",            JM_PT_ID,     SET_ | DEF_ | JM_PROP_ALWAYS_GET },
    { "blobId",        JM_PT_ID,     SET_ | DEF_ },
    { "threadId",      JM_PT_ID,     SET_ | DEF_ },
    { "mailboxIds",    JM_PT_ID_MAP, DEF_ },
    { "keywords",      JM_PT_STRING_MAP, DEF_ },
    { "size",          JM_PT_UINT,   SET_ | DEF_ },
    { "receivedAt",    JM_PT_UTCDATE, DEF_ },
    { "headers",       JM_PT_ARRAY,  0 },
    { "messageId",     JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "inReplyTo",     JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "references",    JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "sender",        JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "from",          JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "to",            JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "cc",            JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "bcc",           JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "replyTo",       JM_PT_ARRAY,  DEF_ | JM_PROP_NULLABLE },
    { "subject",       JM_PT_STRING, DEF_ | JM_PROP_NULLABLE },
    { "sentAt",        JM_PT_DATE,   DEF_ | JM_PROP_NULLABLE },
    { "bodyStructure", JM_PT_OBJECT, 0 },
    { "bodyValues",    JM_PT_OBJECT, DEF_ },
    { "textBody",      JM_PT_ARRAY,  DEF_ },
    { "htmlBody",      JM_PT_ARRAY,  DEF_ },
    { "attachments",   JM_PT_ARRAY,  DEF_ },
    { "hasAttachment", JM_PT_BOOL,   SET_ | DEF_ },
    { "preview",       JM_PT_STRING, SET_ | DEF_ },
    { NULL, 0, 0 }
};

/* The first seven come from the store, the rest from the message. */
#define N_META 7

const jm_arg_t jm_email_body_args[] = {
    { "bodyProperties",      JM_PT_ARRAY, JM_ARG_NULLABLE },
    { "fetchTextBodyValues", JM_PT_BOOL,  JM_ARG_NULLABLE },
    { "fetchHTMLBodyValues", JM_PT_BOOL,  JM_ARG_NULLABLE },
    { "fetchAllBodyValues",  JM_PT_BOOL,  JM_ARG_NULLABLE },
    { "maxBodyValueBytes",   JM_PT_UINT,  JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

void jm_email_body_opts(jm_email_view_opts_t *o, jm_call_t *call)
{
    memset(o, 0, sizeof(*o));
    o->body_properties = jm_args_get(call, "bodyProperties");
    o->fetch_text_body_values = jm_args_bool(call, "fetchTextBodyValues", 0);
    o->fetch_html_body_values = jm_args_bool(call, "fetchHTMLBodyValues", 0);
    o->fetch_all_body_values = jm_args_bool(call, "fetchAllBodyValues", 0);
    /* §4.2: 0 (the default) means no truncation */
    o->max_body_value_bytes = (apr_size_t)jm_args_int(call, "maxBodyValueBytes", 0);
    o->max_depth = call->ctx->budget.mime_depth_max;
}

typedef struct {
    jm_email_view_opts_t opts;
    json_t *mime_props;           /* the wanted names the view produces */
    int cached;                   /* the stored views can answer them */
    apr_size_t answered;          /* bytes of the objects so far */
    jm_json_member_t members[JM_EMAIL_VIEW_MEMBERS_MAX];
    jm_json_member_t kw[JM_EMAIL_VIEW_MEMBERS_MAX];
} email_get_t;

/* header:Name:form[:all] (§4.1.3); a bad form is no property at all, so
 * it is invalidArguments like any unknown name. */
static int header_prop(const char *name, apr_pool_t *p)
{
    jm_hprop_t hp;

    return !strncmp(name, "header:", 7) && !jm_mime_hprop_parse(&hp, name, p);
}

static int read_args(jm_get_t *get)
{
    jm_call_t *call = get->call;
    email_get_t *eg = get->baton;
    json_t *bp = jm_args_get(call, "bodyProperties"), *v;
    const char *bad = NULL;
    const jm_prop_t *pr;
    size_t i;

    json_array_foreach(bp, i, v) {
        if (!json_is_string(v)) {
            jm_call_error(call, "invalidArguments", "bodyProperties/%lu: not a "
                          "string.", (unsigned long)i);
            return 0;
        }
    }
    /* properties are checked already: the view's check can only fail on
     * bodyProperties here */
    if (jm_email_view_check_props(NULL, bp, &bad, call->pool) != APR_SUCCESS) {
        jm_call_error(call, "invalidArguments", "bodyProperties: unknown "
                      "EmailBodyPart property \"%s\".", bad ? bad : "?");
        return 0;
    }
    jm_email_body_opts(&eg->opts, call);
    eg->mime_props = jm_json_own(call->pool, json_array());
    for (pr = email_props + N_META; pr->name; pr++) {
        if (jm_get_wants(get, pr->name)) {
            json_array_append_new(eg->mime_props, json_string(pr->name));
        }
    }
    json_array_foreach(jm_args_get(call, "properties"), i, v) {
        if (!jm_prop_find(email_props, json_string_value(v))) {
            json_array_append(eg->mime_props, v);       /* header:... */
        }
    }
    eg->cached = jm_email_view_cache_fits(&eg->opts, eg->mime_props);
    return 1;
}

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    jm_ctx_t *ctx = get->call->ctx;

    return jm_store_state(pstate, ctx->db, ctx->account->id, JM_TYPE_EMAIL,
                          get->call->pool);
}

static json_t *meta_json(const jm_email_row_t *e, apr_pool_t *p)
{
    json_t *mboxes = json_object(), *kw;
    int i;

    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        json_object_set_new(mboxes, APR_ARRAY_IDX(e->mailbox_ids, i, const char *),
                            json_true());
    }
    kw = json_loads(e->keywords, 0, NULL);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s}", "id", e->id,
                     "blobId", e->blob_id, "threadId", e->thread_id,
                     "mailboxIds", mboxes, "keywords", kw ? kw : json_object(),
                     "size", (json_int_t)e->size,
                     "receivedAt", jm_util_utcdate(e->received_at, p));
}

/* The JSON text of e's keywords, checked (core/jm_json_scan.h) or, if
 * the scanner refuses it, as meta_json reads it; NULL if not UTF-8. */
static const char *keywords_text(email_get_t *eg, const jm_email_row_t *e,
                                 apr_pool_t *sp)
{
    json_t *kw;
    const char *t;
    int n;

    if (jm_json_scan_members(e->keywords, strlen(e->keywords), JM_JSON_SCAN_DEPTH,
                             eg->kw, JM_EMAIL_VIEW_MEMBERS_MAX, &n) == 0) {
        return e->keywords;
    }
    kw = json_loads(e->keywords, 0, NULL);
    t = jm_json_dump(kw ? kw : jm_json_own(sp, json_object()), sp);
    json_decref(kw);
    return t;
}

/* Whether s may be written as a JSON string (jansson's json_string would
 * take it). */
static int text_ok(const char *s)
{
    return s && jm_util_utf8_check(s) == JM_UTF8_OK;
}

/* Email e as JSON text in p, as get_one would answer it from its stored
 * view (the same members, in the same order: jm_prop_project's, the
 * table's); NULL when the view cannot be spliced and get_one answers. */
static const char *email_text(apr_size_t *plen, jm_get_t *get,
                              const jm_email_row_t *e, apr_pool_t *sp,
                              apr_pool_t *p)
{
    email_get_t *eg = get->baton;
    const jm_json_member_t *m;
    const jm_prop_t *pr;
    const char *kw, *received;
    apr_size_t bound;
    char *out, *o;
    int n, i;

    if (jm_email_view_cache_members(eg->members, &n, e->view, eg->opts.max_depth)
        != APR_SUCCESS
        || !text_ok(e->id) || !text_ok(e->blob_id) || !text_ok(e->thread_id)
        || !(kw = keywords_text(eg, e, sp))) {
        return NULL;
    }
    received = jm_util_utcdate(e->received_at, sp);
    bound = strlen(e->view) + strlen(kw) + strlen(received) + 256
        + 6 * (strlen(e->id) + strlen(e->blob_id) + strlen(e->thread_id));
    for (i = 0; i < e->mailbox_ids->nelts; i++) {
        const char *mb = APR_ARRAY_IDX(e->mailbox_ids, i, const char *);
        if (!text_ok(mb)) {
            return NULL;
        }
        bound += 6 * strlen(mb) + 8;
    }
    o = out = apr_palloc(p, bound);
    *o++ = '{';
#define NAME(s) do { if (o - out > 1) *o++ = ','; \
                     memcpy(o, "\"" s "\":", sizeof(s) + 2); o += sizeof(s) + 2; } while (0)
    if (jm_get_wants(get, "id")) {
        NAME("id");
        o = jm_raw_quote(o, e->id);
    }
    if (jm_get_wants(get, "blobId")) {
        NAME("blobId");
        o = jm_raw_quote(o, e->blob_id);
    }
    if (jm_get_wants(get, "threadId")) {
        NAME("threadId");
        o = jm_raw_quote(o, e->thread_id);
    }
    if (jm_get_wants(get, "mailboxIds")) {
        NAME("mailboxIds");
        *o++ = '{';
        for (i = 0; i < e->mailbox_ids->nelts; i++) {
            if (i) {
                *o++ = ',';
            }
            o = jm_raw_quote(o, APR_ARRAY_IDX(e->mailbox_ids, i, const char *));
            memcpy(o, ":true", 5);
            o += 5;
        }
        *o++ = '}';
    }
    if (jm_get_wants(get, "keywords")) {
        NAME("keywords");
        o = apr_cpystrn(o, kw, bound - (apr_size_t)(o - out));
    }
    if (jm_get_wants(get, "size")) {
        NAME("size");
        o += apr_snprintf(o, 24, "%" APR_INT64_T_FMT, e->size);
    }
    if (jm_get_wants(get, "receivedAt")) {
        NAME("receivedAt");
        o = jm_raw_quote(o, received);
    }
#undef NAME
    for (pr = email_props + N_META; pr->name; pr++) {
        if (jm_get_wants(get, pr->name)
            && (m = jm_json_member_find(eg->members, n, pr->name)) != NULL) {
            if (o - out > 1) {
                *o++ = ',';
            }
            o = jm_raw_quote(o, pr->name);
            *o++ = ':';
            memcpy(o, m->value, m->value_len);
            o += m->value_len;
        }
    }
    *o++ = '}';
    *o = '\0';
    *plen = (apr_size_t)(o - out);
    return out;
}

/* One Email; its message is parsed in sp, a pool of its own that the
 * caller clears before the next one (the object is plain jansson data and
 * outlives it), so a get holds one parsed message at a time. */
static apr_status_t get_one(json_t **pobj, jm_get_t *get, const jm_email_row_t *e,
                            apr_pool_t *sp)
{
    jm_call_t *call = get->call;
    jm_ctx_t *ctx = call->ctx;
    email_get_t *eg = get->baton;
    const unsigned char *raw;
    apr_size_t len;
    json_t *obj, *mp = NULL;
    const char *bad = NULL;
    apr_status_t rv;

    obj = meta_json(e, sp);
    if (eg->cached && jm_email_view_cache_props(&mp, e->view, eg->mime_props,
                                                eg->opts.max_depth) == APR_SUCCESS) {
        json_object_update(obj, mp);
        json_decref(mp);
    }
    else if (json_array_size(eg->mime_props) > 0) {
        if (APR_SUCCESS != (rv = jm_store_blob_get(&raw, &len, NULL, ctx->db,
                                                   ctx->account->id, e->blob_id, sp))) {
            json_decref(obj);
            return rv == APR_NOTFOUND ? APR_EGENERAL : rv;
        }
        eg->opts.properties = eg->mime_props;
        eg->opts.blob_id = e->blob_id;
        rv = jm_email_view_props(&mp, (const char *)raw, len, &eg->opts, &bad, sp);
        if (rv == APR_EINVAL) {
            /* read_args checked the names: not expected, but answerable */
            json_decref(obj);
            return jm_call_error(call, "invalidArguments", "Unknown property \"%s\".",
                                 bad ? apr_pstrdup(call->pool, bad) : "?");
        }
        if (rv != APR_SUCCESS) {
            json_decref(obj);
            return rv;
        }
        json_object_update(obj, mp);      /* obj takes its own references */
    }
    *pobj = jm_prop_project(obj, email_props, get->want);
    json_decref(obj);
    return APR_SUCCESS;
}

/* Each Email is answered as soon as it is read, and reading stops once
 * the answer cannot fit (the dispatcher charges the whole answer later):
 * requestTooLarge rather than parsing the rest. A stand-in for text
 * (core/jm_raw.h) counts as its text. */
static apr_status_t add_one(jm_get_t *get, const jm_email_row_t *e,
                            apr_pool_t *sp, json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    email_get_t *eg = get->baton;
    json_t *obj = NULL;
    const char *text;
    apr_size_t len;
    apr_status_t rv;

    apr_pool_clear(sp);
    if (ctx->raw && eg->cached
        && (text = email_text(&len, get, e, sp, ctx->pool)) != NULL) {
        obj = jm_raw_add(ctx->raw, json_pack("{s:s}", "id", e->id), text, len);
        eg->answered += len;
    }
    else {
        rv = get_one(&obj, get, e, sp);
        if (rv != APR_SUCCESS || get->call->error) {
            return rv;
        }
        eg->answered += jm_json_size_bounded(obj, ctx->budget.response_left);
    }
    if (!obj) {
        return APR_ENOMEM;
    }
    json_array_append_new(list, obj);
    if (eg->answered > ctx->budget.response_left) {
        return jm_call_error(get->call, "requestTooLarge", "The Emails asked "
            "for would make a response larger than %" APR_SIZE_T_FMT
            " bytes; ask for fewer ids, properties or body bytes.",
            ctx->budget.response_max);
    }
    return APR_SUCCESS;
}

/* ids[from..to) in batches: one read of the rows each (those not there
 * are left to the framework's notFound). */
static apr_status_t add_ids(jm_get_t *get, const apr_array_header_t *ids,
                            int from, json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    apr_array_header_t *rows;
    apr_pool_t *bp, *sp;
    apr_status_t rv = APR_SUCCESS;
    int i, j, n;

    apr_pool_create(&bp, get->call->pool);
    apr_pool_create(&sp, get->call->pool);
    for (i = from; i < ids->nelts && rv == APR_SUCCESS && !get->call->error; i += n) {
        n = ids->nelts - i;
        n = n > JM_STORE_EMAIL_BATCH ? JM_STORE_EMAIL_BATCH : n;
        apr_pool_clear(bp);
        rv = jm_store_emails_get(&rows, ctx->db, ctx->account->id,
                                 (const char *const *)ids->elts + i, n, bp);
        for (j = 0; rv == APR_SUCCESS && j < rows->nelts && !get->call->error; j++) {
            rv = add_one(get, APR_ARRAY_IDX(rows, j, jm_email_row_t *), sp, list);
        }
    }
    apr_pool_destroy(sp);
    apr_pool_destroy(bp);
    return rv;
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    apr_array_header_t *all = NULL;
    apr_status_t rv;
    int i;

    (void)after;
    if (!ids) {
        /* batch 0: one listing of up to maxObjectsInGet + 1 (§5.1) */
        if (APR_SUCCESS != (rv = jm_store_email_ids(&all, ctx->db, ctx->account->id,
                                                    (long)(offset + limit),
                                                    get->call->pool))) {
            return rv;
        }
        if (all->nelts > (int)ctx->limits->max_objects_in_get) {
            /* more than may be answered: the framework refuses the call
             * from the count alone, without reading any message */
            for (i = (int)offset; i < all->nelts; i++) {
                json_array_append_new(list, json_pack("{s:s}", "id",
                                      APR_ARRAY_IDX(all, i, const char *)));
            }
            return APR_SUCCESS;
        }
        return add_ids(get, all, (int)offset, list);
    }
    return add_ids(get, ids, 0, list);
}

static const jm_get_type_t email_get_type = {
    "Email", email_props, jm_email_body_args, get_state, get_fetch, 0, 0,
    header_prop, read_args
};

apr_status_t jm_email_get(jm_call_t *call)
{
    email_get_t eg;

    memset(&eg, 0, sizeof(eg));
    return jm_std_get(call, &email_get_type, &eg);
}
