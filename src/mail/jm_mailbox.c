/* Mailbox/get (RFC 8621 §2.1). Mailbox/set and friends come later. */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "store/jm_store.h"

static const char *const mailbox_props[] = {
    "id", "name", "parentId", "role", "sortOrder", "totalEmails",
    "unreadEmails", "totalThreads", "unreadThreads", "myRights",
    "isSubscribed", NULL
};

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
        "isSubscribed", m->is_subscribed);
}

apr_status_t jm_mailbox_get(jm_call_t *call)
{
    jm_ctx_t *ctx = call->ctx;
    json_t *ids, *props, *list, *not_found, *v;
    apr_array_header_t *boxes;
    const char *state;
    apr_status_t rv;
    size_t i;
    int j;

    if (!jm_call_check_get_args(call, &ids, &props)) {
        return APR_SUCCESS;
    }
    if (props && !jm_call_check_props(call, props, mailbox_props, "Mailbox")) {
        return APR_SUCCESS;
    }
    if (APR_SUCCESS != (rv = jm_store_mailboxes(&boxes, ctx->db, ctx->account->id,
                                                call->pool))
        || APR_SUCCESS != (rv = jm_store_state(&state, ctx->db, ctx->account->id,
                                               JM_TYPE_MAILBOX, call->pool))) {
        return rv;
    }
    list = json_array();
    not_found = json_array();
    if (!ids) {
        for (j = 0; j < boxes->nelts; j++) {
            json_array_append_new(list, jm_get_project(mailbox_json(
                APR_ARRAY_IDX(boxes, j, jm_mailbox_row_t *)), props));
        }
    }
    else {
        json_array_foreach(ids, i, v) {
            const char *id = jm_call_resolve_id(call, json_string_value(v));
            int found = 0;
            for (j = 0; id && j < boxes->nelts; j++) {
                jm_mailbox_row_t *m = APR_ARRAY_IDX(boxes, j, jm_mailbox_row_t *);
                if (strcmp(m->id, id) == 0) {
                    json_array_append_new(list, jm_get_project(mailbox_json(m), props));
                    found = 1;
                    break;
                }
            }
            if (!found) {
                json_array_append(not_found, v);
            }
        }
    }
    call->result = json_pack("{s:s, s:s, s:o, s:o}", "accountId", ctx->account->id,
                             "state", state, "list", list, "notFound", not_found);
    return APR_SUCCESS;
}
