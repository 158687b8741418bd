/* Mailbox/get (RFC 8621 §2.1) on the standard /get (src/std). Mailbox/set
 * and friends come later. */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "store/jm_store.h"
#include "std/jm_std_get.h"

#define DG (JM_PROP_DEFAULT_GET)
static const jm_prop_t mailbox_props[] = {
    { "id",            JM_PT_ID,     JM_PROP_SERVER_SET | JM_PROP_ALWAYS_GET | DG },
    { "name",          JM_PT_STRING, DG | JM_PROP_FILTER | JM_PROP_SORT },
    { "parentId",      JM_PT_ID,     JM_PROP_NULLABLE | DG | JM_PROP_FILTER },
    { "role",          JM_PT_STRING, JM_PROP_NULLABLE | DG | JM_PROP_FILTER },
    { "sortOrder",     JM_PT_UINT,   DG | JM_PROP_SORT },
    { "totalEmails",   JM_PT_UINT,   JM_PROP_SERVER_SET | DG },
    { "unreadEmails",  JM_PT_UINT,   JM_PROP_SERVER_SET | DG },
    { "totalThreads",  JM_PT_UINT,   JM_PROP_SERVER_SET | DG },
    { "unreadThreads", JM_PT_UINT,   JM_PROP_SERVER_SET | DG },
    { "myRights",      JM_PT_OBJECT, JM_PROP_SERVER_SET | DG },
    { "isSubscribed",  JM_PT_BOOL,   DG | JM_PROP_FILTER },
    { NULL, 0, 0 }
};
#undef DG

static json_t *mailbox_json(const jm_mailbox_row_t *m)
{
    /* no Mailbox/set yet: the user can file mail but not reshape folders */
    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I,"
                     " s:{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}, s:b}",
        "id", m->id, "name", m->name,
        "parentId", *m->parent_id ? json_string(m->parent_id) : json_null(),
        "role", *m->role ? json_string(m->role) : json_null(),
        "sortOrder", (json_int_t)m->sort_order,
        "totalEmails", (json_int_t)m->total_emails,
        "unreadEmails", (json_int_t)m->unread_emails,
        "totalThreads", (json_int_t)m->total_threads,
        "unreadThreads", (json_int_t)m->unread_threads,
        "myRights", "mayReadItems", 1, "mayAddItems", 1, "mayRemoveItems", 1,
        "maySetSeen", 1, "maySetKeywords", 1, "mayCreateChild", 0,
        "mayRename", 0, "mayDelete", 0, "maySubmit", 1,
        "isSubscribed", 1);
}

static apr_status_t mailbox_state(const char **pstate, jm_get_t *get)
{
    jm_ctx_t *ctx = get->call->ctx;

    return jm_store_state(pstate, ctx->db, ctx->account->id, JM_TYPE_MAILBOX,
                          get->call->pool);
}

/* A handful of rows per account: one read answers any ids or the listing. */
static apr_status_t mailbox_fetch(jm_get_t *get, const apr_array_header_t *ids,
                                  apr_size_t offset, const char *after,
                                  apr_size_t limit, json_t *list)
{
    jm_ctx_t *ctx = get->call->ctx;
    apr_array_header_t *boxes;
    apr_hash_t *want = NULL;
    apr_status_t rv;
    int i;

    (void)after;
    if ((rv = jm_store_mailboxes(&boxes, ctx->db, ctx->account->id,
                                 get->call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if (ids) {
        want = apr_hash_make(get->call->pool);
        for (i = 0; i < ids->nelts; i++) {
            apr_hash_set(want, APR_ARRAY_IDX(ids, i, const char *),
                         APR_HASH_KEY_STRING, "");
        }
    }
    for (i = ids ? 0 : (int)offset;
         i < boxes->nelts && (ids || (apr_size_t)i < offset + limit); i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, i, jm_mailbox_row_t *);
        if (!want || apr_hash_get(want, m->id, APR_HASH_KEY_STRING)) {
            json_array_append_new(list, mailbox_json(m));
        }
    }
    return APR_SUCCESS;
}

static const jm_get_type_t mailbox_get = {
    "Mailbox", mailbox_props, NULL, mailbox_state, mailbox_fetch, 0, 0
};

apr_status_t jm_mailbox_get(jm_call_t *call)
{
    return jm_std_get(call, &mailbox_get, NULL);
}
