/* Mailbox/get, /set, /changes, /query, /queryChanges (RFC 8621 §2) on the
 * standard-method framework (src/std). An account's mailboxes are few, so
 * each call reads them once; counts come from the store's columns, kept
 * exact as mail moves (jm_store_mailbox_count). */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_methods.h"
#include "core/jm_util.h"
#include "mail/jm_mail.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"
#include "std/jm_std_changes.h"
#include "std/jm_std_query.h"
#include "std/jm_std_querychanges.h"
#include "store/jm_store.h"

#define SET_   JM_PROP_SERVER_SET
#define DEF_   JM_PROP_DEFAULT_GET

static const jm_prop_t mailbox_props[] = {
    { "id",            JM_PT_ID,     SET_ | JM_PROP_IMMUTABLE | DEF_ | JM_PROP_ALWAYS_GET },
    { "name",          JM_PT_STRING, DEF_ | JM_PROP_SORT },
    { "parentId",      JM_PT_ID,     DEF_ | JM_PROP_NULLABLE },
    { "role",          JM_PT_STRING, DEF_ | JM_PROP_NULLABLE },
    { "sortOrder",     JM_PT_UINT,   DEF_ | JM_PROP_SORT },
    { "totalEmails",   JM_PT_UINT,   SET_ | DEF_ },
    { "unreadEmails",  JM_PT_UINT,   SET_ | DEF_ },
    { "totalThreads",  JM_PT_UINT,   SET_ | DEF_ },
    { "unreadThreads", JM_PT_UINT,   SET_ | DEF_ },
    { "myRights",      JM_PT_OBJECT, SET_ | DEF_ },
    { "isSubscribed",  JM_PT_BOOL,   DEF_ },
    { NULL, 0, 0 }
};

/* The IANA "IMAP Mailbox Name Attributes" that name a purpose (RFC 8457,
 * RFC 6154, lower-cased: RFC 8621 §2 role); \Noselect-like attributes are
 * not roles. */
static const char *const roles[] = {
    "all", "archive", "drafts", "flagged", "important", "inbox", "junk",
    "sent", "subscribed", "trash", "snoozed", "scheduled", "memos", NULL
};

typedef struct {
    jm_ctx_t *ctx;
    apr_array_header_t *boxes;   /* jm_mailbox_row_t *, with those made here */
    int remove_emails;           /* onDestroyRemoveEmails */
} mb_baton_t;

static jm_mailbox_row_t *find(mb_baton_t *b, const char *id)
{
    int i;

    for (i = 0; id && i < b->boxes->nelts; i++) {
        jm_mailbox_row_t *m = APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *);
        if (!strcmp(m->id, id)) {
            return m;
        }
    }
    return NULL;
}

static apr_status_t load(mb_baton_t *b, jm_call_t *call)
{
    b->ctx = call->ctx;
    return jm_store_mailboxes(&b->boxes, call->ctx->db, call->ctx->account->id,
                              call->pool);
}

static json_t *mailbox_json(const jm_mailbox_row_t *m, int read_only)
{
    int w = !read_only;

    /* the account is the user's own: every right, except writing when the
     * account is read-only (JMAPReadOnlyUsers) */
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
        "myRights", "mayReadItems", 1, "mayAddItems", w, "mayRemoveItems", w,
        "maySetSeen", w, "maySetKeywords", w, "mayCreateChild", w,
        "mayRename", w, "mayDelete", w, "maySubmit", w,
        "isSubscribed", m->is_subscribed);
}

static const char *state_of(jm_call_t *call)
{
    const char *st = NULL;

    return jm_store_state(&st, call->ctx->db, call->ctx->account->id,
                          JM_TYPE_MAILBOX, call->pool) == APR_SUCCESS ? st : NULL;
}

/* ---- Mailbox/get ------------------------------------------------------ */

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    return (*pstate = state_of(get->call)) ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    mb_baton_t *b = get->baton;
    int i, ro = get->call->ctx->account->read_only;

    (void)offset;
    (void)after;
    (void)limit;
    if (!ids) {
        for (i = 0; i < b->boxes->nelts; i++) {
            json_array_append_new(list, mailbox_json(
                APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *), ro));
        }
        return APR_SUCCESS;
    }
    for (i = 0; i < ids->nelts; i++) {
        jm_mailbox_row_t *m = find(b, APR_ARRAY_IDX(ids, i, const char *));
        if (m) {
            json_array_append_new(list, mailbox_json(m, ro));
        }
    }
    return APR_SUCCESS;
}

static const jm_get_type_t get_type = {
    "Mailbox", mailbox_props, NULL, get_state, get_fetch, 0, 0, NULL, NULL
};

apr_status_t jm_mailbox_get(jm_call_t *call)
{
    mb_baton_t b;
    apr_status_t rv;

    if ((rv = load(&b, call)) != APR_SUCCESS) {
        return rv;
    }
    return jm_std_get(call, &get_type, &b);
}

/* ---- Mailbox/set ------------------------------------------------------ */

static int depth_of(mb_baton_t *b, const char *id)
{
    int d = 0;
    jm_mailbox_row_t *m;

    while ((m = find(b, id)) && d <= JM_MAILBOX_MAX_DEPTH + 1) {
        ++d;
        id = *m->parent_id ? m->parent_id : NULL;
    }
    return d;
}

/* Levels below id, id itself counted (1 for a leaf). */
static int height_of(mb_baton_t *b, const char *id, int guard)
{
    int i, h = 1;

    if (guard > JM_MAILBOX_MAX_DEPTH + 1) {
        return guard;
    }
    for (i = 0; i < b->boxes->nelts; i++) {
        jm_mailbox_row_t *c = APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *);
        if (!strcmp(c->parent_id, id)) {
            int hc = height_of(b, c->id, guard + 1) + 1;
            h = hc > h ? hc : h;
        }
    }
    return h;
}

static int is_ancestor(mb_baton_t *b, const char *anc, const char *id)
{
    jm_mailbox_row_t *m;
    int n = 0;

    while ((m = find(b, id)) && n++ <= JM_MAILBOX_MAX_DEPTH + 1) {
        if (!strcmp(m->id, anc)) {
            return 1;
        }
        id = *m->parent_id ? m->parent_id : NULL;
    }
    return 0;
}

static json_t *invalid(apr_pool_t *p, const char *prop, const char *fmt, const char *arg)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", prop), fmt, arg);
}

/* RFC 8621 §2 name: Net-Unicode (no controls), 1..maxSizeMailboxName octets;
 * our policy also refuses leading/trailing white space, which IMAP
 * clients show as distinct names that look the same. */
static const char *name_problem(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n = strlen(name);

    if (n == 0) {
        return "must not be empty";
    }
    if (n > JM_MAILBOX_MAX_NAME) {
        return "is longer than maxSizeMailboxName (255 octets)";
    }
    if (s[0] == ' ' || s[n - 1] == ' ') {
        return "must not start or end with a space";
    }
    for (; *s; s++) {
        if (*s < 0x20 || *s == 0x7f || (s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0)) {
            return "must not contain control characters";
        }
    }
    return NULL;
}

/* Every rule of RFC 8621 §2 for the mailbox m would become (self: the one
 * being changed, or NULL for a new one); a SetError or NULL. */
static json_t *check_box(mb_baton_t *b, const jm_mailbox_row_t *m,
                         const jm_mailbox_row_t *self, apr_pool_t *p)
{
    const char *why;
    int i;

    if ((why = name_problem(m->name))) {
        return invalid(p, "name", "The name %s.", why);
    }
    if (*m->parent_id) {
        if (!find(b, m->parent_id)) {
            return invalid(p, "parentId", "No mailbox %s.", m->parent_id);
        }
        if (self && is_ancestor(b, self->id, m->parent_id)) {
            return invalid(p, "parentId", "Mailbox %s is this mailbox or below "
                           "it: mailboxes must not form a loop.", m->parent_id);
        }
    }
    if ((*m->parent_id ? depth_of(b, m->parent_id) : 0)
        + (self ? height_of(b, self->id, 0) : 1) > JM_MAILBOX_MAX_DEPTH) {
        return invalid(p, "parentId", "%s", "Mailboxes nest at most "
                       APR_STRINGIFY(JM_MAILBOX_MAX_DEPTH) " levels (maxMailboxDepth).");
    }
    if (*m->role) {
        const char *const *r;

        for (r = roles; *r && strcmp(*r, m->role); r++) {
        }
        if (!*r) {
            return invalid(p, "role", "%s is not a mailbox role (RFC 8457 "
                           "attribute names, lower case).", m->role);
        }
    }
    if (m->sort_order >= 2147483648L) {
        return invalid(p, "sortOrder", "%s", "sortOrder must be below 2^31.");
    }
    for (i = 0; i < b->boxes->nelts; i++) {
        jm_mailbox_row_t *o = APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *);

        if (self && !strcmp(o->id, self->id)) {
            continue;
        }
        if (*m->role && !strcmp(o->role, m->role)) {
            return invalid(p, "role", "Mailbox %s already has this role.", o->id);
        }
        if (!strcmp(o->parent_id, m->parent_id) && !strcmp(o->name, m->name)) {
            return invalid(p, "name", "A sibling (%s) has this name.", o->id);
        }
    }
    return NULL;
}

static void read_obj(jm_mailbox_row_t *m, json_t *obj, apr_pool_t *p)
{
    json_t *v;

    if ((v = json_object_get(obj, "name"))) {
        /* null (a patch back to "the default") leaves no name: refused below */
        m->name = json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : "";
    }
    if ((v = json_object_get(obj, "parentId"))) {
        m->parent_id = json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : "";
    }
    if ((v = json_object_get(obj, "role"))) {
        m->role = json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : "";
    }
    if ((v = json_object_get(obj, "sortOrder"))) {
        m->sort_order = (long)json_integer_value(v);
    }
    if ((v = json_object_get(obj, "isSubscribed"))) {
        m->is_subscribed = json_is_true(v);
    }
}

static apr_status_t store_error(apr_status_t rv, json_t **perr, apr_pool_t *p)
{
    if (rv == APR_EEXIST) {
        /* the unique index caught a sibling another request made meanwhile */
        *perr = invalid(p, "name", "%s", "A sibling has this name.");
        return APR_SUCCESS;
    }
    return rv;
}

static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    return (*pstate = state_of(set->call)) ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    mb_baton_t *b = set->baton;
    apr_pool_t *p = set->call->pool;
    jm_mailbox_row_t *m = apr_pcalloc(p, sizeof(*m));
    apr_status_t rv;

    (void)cid;
    if (b->boxes->nelts >= set->call->ctx->limits->max_mailboxes) {
        /* every Mailbox call reads the account's mailboxes: keep that bounded */
        *perr = jm_set_error(p, "overQuota", NULL, "An account has at most %ld "
                             "mailboxes (JMAPMaxMailboxesPerAccount).",
                             set->call->ctx->limits->max_mailboxes);
        return APR_SUCCESS;
    }
    if (!json_is_string(json_object_get(obj, "name"))) {
        *perr = invalid(p, "name", "%s", "A new mailbox needs a name.");
        return APR_SUCCESS;
    }
    m->id = jm_util_new_id('M', p);
    m->parent_id = m->role = "";
    /* isSubscribed has no default in RFC 8621 §2: like the IMAP servers
     * this is shared with, a new mailbox is not subscribed unless asked */
    read_obj(m, obj, p);
    if ((*perr = check_box(b, m, NULL, p))) {
        return APR_SUCCESS;
    }
    if ((rv = jm_store_mailbox_insert(b->ctx->db, b->ctx->account->id, m, p))
        != APR_SUCCESS) {
        return store_error(rv, perr, p);
    }
    APR_ARRAY_PUSH(b->boxes, jm_mailbox_row_t *) = m;
    *pcreated = mailbox_json(m, 0);
    return APR_SUCCESS;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    jm_mailbox_row_t *m = find(set->baton, id);

    *pobj = m ? mailbox_json(m, set->call->ctx->account->read_only) : NULL;
    return APR_SUCCESS;
}

static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    mb_baton_t *b = set->baton;
    apr_pool_t *p = set->call->pool;
    jm_mailbox_row_t *cur = find(b, id), next;
    apr_status_t rv;

    (void)patch;
    *pchanged = NULL;
    next = *cur;
    read_obj(&next, updated, p);
    if (strcmp(cur->role, next.role) && !strcmp(cur->role, "inbox")) {
        /* mail is delivered to the inbox: it keeps its role */
        *perr = jm_set_error(p, "forbidden", NULL, "The inbox keeps its role.");
        return APR_SUCCESS;
    }
    if ((*perr = check_box(b, &next, cur, p))) {
        return APR_SUCCESS;
    }
    if ((rv = jm_store_mailbox_update(b->ctx->db, b->ctx->account->id, &next, p))
        != APR_SUCCESS) {
        return store_error(rv, perr, p);
    }
    *cur = next;
    return APR_SUCCESS;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    mb_baton_t *b = set->baton;
    apr_pool_t *p = set->call->pool;
    jm_mailbox_row_t *m = find(b, id);
    apr_status_t rv;
    int i;

    if (!m) {
        *perr = jm_set_error(p, "notFound", NULL, "No mailbox %s.", id);
        return APR_SUCCESS;
    }
    if (!strcmp(m->role, "inbox")) {
        *perr = jm_set_error(p, "forbidden", NULL, "The inbox cannot be destroyed.");
        return APR_SUCCESS;
    }
    rv = jm_store_mailbox_destroy(b->ctx->db, b->ctx->account->id, id,
                                  b->remove_emails, p);
    if (rv == APR_EEXIST) {
        *perr = jm_set_error(p, "mailboxHasChild", NULL, "Mailbox %s has child "
                             "mailboxes: destroy or move them first.", id);
        return APR_SUCCESS;
    }
    if (rv == APR_EBUSY) {
        *perr = jm_set_error(p, "mailboxHasEmail", NULL, "Mailbox %s holds emails "
                             "(onDestroyRemoveEmails is false).", id);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < b->boxes->nelts; i++) {
        if (APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *) == m) {
            APR_ARRAY_IDX(b->boxes, i, jm_mailbox_row_t *) =
                APR_ARRAY_IDX(b->boxes, b->boxes->nelts - 1, jm_mailbox_row_t *);
            b->boxes->nelts--;
            break;
        }
    }
    return APR_SUCCESS;
}

static const jm_arg_t set_args[] = {
    { "onDestroyRemoveEmails", JM_PT_BOOL, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

static const jm_set_type_t set_type = {
    "Mailbox", mailbox_props, set_args, set_state, set_create, set_lookup,
    set_update, set_destroy, 0
};

apr_status_t jm_mailbox_set(jm_call_t *call)
{
    jm_db_t *db = call->ctx->db;
    mb_baton_t b;
    jm_set_t set;
    apr_status_t rv;

    if (!jm_set_parse(&set, call, &set_type, &b)) {
        return APR_SUCCESS;
    }
    b.remove_emails = jm_args_bool(call, "onDestroyRemoveEmails", 0);
    /* one transaction: ifInState is checked against what it changes, and
     * a failure leaves nothing half-written */
    if ((rv = jm_db_begin(db, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = load(&b, call)) != APR_SUCCESS
        || (rv = jm_set_run(&set)) != APR_SUCCESS || call->error) {
        jm_db_rollback(db);
        return rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        return rv;
    }
    jm_set_reply(&set);
    return APR_SUCCESS;
}

/* ---- Mailbox/changes -------------------------------------------------- */

static apr_status_t changes_fetch(jm_changes_t *ch, apr_int64_t since,
                                  apr_size_t hint, apr_array_header_t **precords,
                                  int *ptruncated, apr_int64_t *poldest,
                                  apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch(ch, JM_TYPE_MAILBOX, since, hint, precords,
                                     ptruncated, poldest, pcurrent);
}

/* RFC 8621 §2.2: when only counts changed, say which properties may have. */
static apr_status_t changes_finish(jm_changes_t *ch)
{
    int i;

    for (i = 0; i < ch->records->nelts; i++) {
        jm_change_t *c = &APR_ARRAY_IDX(ch->records, i, jm_change_t);

        if (c->state > ch->fold.new_state) {
            break;
        }
        if (c->kind != JM_CHANGE_UPDATED || strcmp(c->props ? c->props : "", "counts")) {
            return APR_SUCCESS;          /* something else changed: null */
        }
    }
    if (apr_is_empty_array(ch->fold.updated)) {
        return APR_SUCCESS;
    }
    ch->updated_properties = jm_json_own(ch->call->pool, json_pack(
        "[s, s, s, s]", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads"));
    return APR_SUCCESS;
}

static const jm_changes_type_t changes_type = {
    "Mailbox", NULL, changes_fetch, changes_finish, 0, 1
};

apr_status_t jm_mailbox_changes(jm_call_t *call)
{
    return jm_std_changes(call, &changes_type, NULL);
}

/* ---- Mailbox/query and /queryChanges ------------------------------------ */

typedef enum { C_PARENT, C_NAME, C_ROLE, C_ANY_ROLE, C_SUBSCRIBED } cond_kind_t;

static jm_cond_status_t query_cond(jm_query_t *q, json_t *cond, void **pdata,
                                   jm_path_t *path, const char **pwhy)
{
    const char *k;
    json_t *v;

    (void)q;
    (void)pdata;
    (void)path;
    json_object_foreach(cond, k, v) {
        if (!strcmp(k, "parentId")) {
            if (!json_is_null(v) && !(json_is_string(v)
                                      && jm_util_is_valid_id(json_string_value(v)))) {
                *pwhy = "parentId must be an Id or null";
                return JM_COND_INVALID;
            }
        }
        else if (!strcmp(k, "name")) {
            if (!json_is_string(v)) {
                *pwhy = "name must be a String";
                return JM_COND_INVALID;
            }
        }
        else if (!strcmp(k, "role")) {
            if (!json_is_null(v) && !json_is_string(v)) {
                *pwhy = "role must be a String or null";
                return JM_COND_INVALID;
            }
        }
        else if (!strcmp(k, "hasAnyRole") || !strcmp(k, "isSubscribed")) {
            if (!json_is_boolean(v)) {
                *pwhy = apr_pstrcat(q->call->pool, k, " must be a Boolean", NULL);
                return JM_COND_INVALID;
            }
        }
        else {
            *pwhy = apr_pstrcat(q->call->pool, "Mailbox has no filter ", k, NULL);
            return JM_COND_UNSUPPORTED;
        }
    }
    return JM_COND_OK;
}

/* §2.3: all given conditions must match; name matches as a substring
 * (case-insensitively, i;unicode-casemap like the default sort). */
static int query_match(jm_query_t *q, const jm_filter_t *f, const json_t *obj)
{
    apr_pool_t *p = q->call->pool;
    const char *k;
    json_t *v;

    json_object_foreach(f->cond, k, v) {
        json_t *have = json_object_get(obj, !strcmp(k, "hasAnyRole") ? "role" : k);

        if (!strcmp(k, "name")) {
            if (!strstr(jm_collation_unicode_key(json_string_value(have), p),
                        jm_collation_unicode_key(json_string_value(v), p))) {
                return 0;
            }
        }
        else if (!strcmp(k, "hasAnyRole")) {
            if (json_is_true(v) != !json_is_null(have)) {
                return 0;
            }
        }
        else if (!json_equal(have, v)) {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    mb_baton_t mb;
    int sort_as_tree, filter_as_tree;
} q_baton_t;

/* The ids as a set. */
static apr_hash_t *id_set(const apr_array_header_t *ids, apr_pool_t *p)
{
    apr_hash_t *in = apr_hash_make(p);
    int i;

    for (i = 0; i < ids->nelts; i++) {
        apr_hash_set(in, APR_ARRAY_IDX(ids, i, const char *), APR_HASH_KEY_STRING, "");
    }
    return in;
}

/* filterAsTree: only mailboxes whose ancestors all matched too. */
static apr_array_header_t *filter_as_tree(mb_baton_t *b, apr_array_header_t *ids,
                                          apr_pool_t *p)
{
    apr_hash_t *in = id_set(ids, p);
    apr_array_header_t *out = apr_array_make(p, ids->nelts + 1, sizeof(const char *));
    int i;

    for (i = 0; i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        jm_mailbox_row_t *m = find(b, id);
        int ok = 1;

        while (ok && m && *m->parent_id) {
            ok = apr_hash_get(in, m->parent_id, APR_HASH_KEY_STRING) != NULL;
            m = find(b, m->parent_id);
        }
        if (ok) {
            APR_ARRAY_PUSH(out, const char *) = id;
        }
    }
    return out;
}

/* sortAsTree: parents before children, siblings in the sorted order; a
 * mailbox whose parent is not in the results is placed as a root. */
static void tree_walk(apr_array_header_t *out, apr_array_header_t *sorted,
                      apr_hash_t *in, mb_baton_t *b, const char *parent, int depth)
{
    int i;

    for (i = 0; i < sorted->nelts && depth <= JM_MAILBOX_MAX_DEPTH + 1; i++) {
        const char *id = APR_ARRAY_IDX(sorted, i, const char *);
        jm_mailbox_row_t *m = find(b, id);
        const char *pid = m && *m->parent_id
                          && apr_hash_get(in, m->parent_id, APR_HASH_KEY_STRING)
                          ? m->parent_id : "";

        if (!strcmp(pid, parent)) {
            APR_ARRAY_PUSH(out, const char *) = id;
            tree_walk(out, sorted, in, b, id, depth + 1);
        }
    }
}

static apr_array_header_t *sort_as_tree(mb_baton_t *b, apr_array_header_t *ids,
                                        apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, ids->nelts + 1, sizeof(const char *));

    tree_walk(out, ids, id_set(ids, p), b, "", 0);
    return out;
}

static apr_status_t all_results(jm_query_t *q, q_baton_t *qb)
{
    json_t *objs = jm_json_own(q->call->pool, json_array());
    apr_status_t rv;
    int i;

    for (i = 0; i < qb->mb.boxes->nelts; i++) {
        json_array_append_new(objs, mailbox_json(
            APR_ARRAY_IDX(qb->mb.boxes, i, jm_mailbox_row_t *), 0));
    }
    if ((rv = jm_query_memory(q, objs, query_match)) != APR_SUCCESS) {
        return rv;
    }
    if (qb->filter_as_tree) {
        q->all = filter_as_tree(&qb->mb, q->all, q->call->pool);
    }
    if (qb->sort_as_tree) {
        q->all = sort_as_tree(&qb->mb, q->all, q->call->pool);
    }
    return APR_SUCCESS;
}

static apr_status_t query_run(jm_query_t *q)
{
    q_baton_t *qb = q->baton;
    apr_status_t rv;

    qb->sort_as_tree = jm_args_bool(q->call, "sortAsTree", 0);
    qb->filter_as_tree = jm_args_bool(q->call, "filterAsTree", 0);
    if (!(q->query_state = state_of(q->call))
        || (rv = load(&qb->mb, q->call)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    q->can_calculate_changes = 1;
    return all_results(q, qb);
}

static const jm_arg_t query_args[] = {
    { "sortAsTree", JM_PT_BOOL, JM_ARG_NULLABLE },
    { "filterAsTree", JM_PT_BOOL, JM_ARG_NULLABLE },
    { NULL, 0, 0 }
};

static const jm_query_type_t query_type = {
    "Mailbox", mailbox_props, query_args, query_cond, NULL, query_run, 0, 0, 1
};

apr_status_t jm_mailbox_query(jm_call_t *call)
{
    q_baton_t qb;

    return jm_std_query(call, &query_type, &qb);
}

/* The ids of every Mailbox change since the query state: their position
 * or membership may have moved (RFC 8620 §5.6 allows extra removed ids). */
static apr_status_t qc_changes(jm_querychanges_t *qc)
{
    q_baton_t *qb = qc->baton;
    apr_array_header_t *rec;
    apr_int64_t since, cur, oldest;
    apr_status_t rv;
    int more = 0, i;

    if (!jm_changes_parse_state(qc->since_query_state, &since)) {
        qc->cannot_calculate = 1;
        return APR_SUCCESS;
    }
    if ((rv = jm_store_changes_since(&rec, &more, &cur, &oldest, qc->call->ctx->db,
                                     qc->call->ctx->account->id, JM_TYPE_MAILBOX,
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
        jm_change_t *c = &APR_ARRAY_IDX(rec, i, jm_change_t);
        /* a count change moves nothing unless the sort or filter uses counts;
         * neither can (§2.3), so those records are not changes here */
        if (c->kind != JM_CHANGE_UPDATED || strcmp(c->props, "counts")) {
            APR_ARRAY_PUSH(qc->changed, const char *) = c->id;
        }
    }
    qc->q.baton = qb;
    qb->sort_as_tree = jm_args_bool(qc->call, "sortAsTree", 0);
    qb->filter_as_tree = jm_args_bool(qc->call, "filterAsTree", 0);
    if ((rv = load(&qb->mb, qc->call)) != APR_SUCCESS
        || (rv = all_results(&qc->q, qb)) != APR_SUCCESS) {
        return rv;
    }
    qc->current = qc->q.all;
    qc->new_query_state = apr_psprintf(qc->call->pool, "%" APR_INT64_T_FMT, cur);
    return APR_SUCCESS;
}

static const jm_querychanges_type_t qc_type = { &query_type, query_args, qc_changes };

apr_status_t jm_mailbox_querychanges(jm_call_t *call)
{
    q_baton_t qb;

    return jm_std_querychanges(call, &qc_type, &qb);
}
