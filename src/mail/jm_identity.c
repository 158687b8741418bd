/* Identity/get, /changes, /set (RFC 8621 §6) on the standard-method
 * framework (src/std).
 *
 * Identities are stored (jm_identities) with a state and change log like
 * Mailbox. They belong to the person, not to the account a call names:
 * sending rights are the person's (mail/jm_sendauth.h), so a call on an
 * account shared with the user reads and changes the user's own
 * identities (and states).
 *
 * For every address (or "*@domain" wildcard) the person may send as the
 * server keeps one default identity, made on first use with the stable id
 * "I" + the first 20 hex digits of the SHA-256 of the address, and
 * destroyed (a logged change) when the address is no longer granted. Its
 * mayDelete is false (§6 lets a server say so for the user's default
 * addresses): deleting it would not take the right away, and the next
 * call would make it again, so destroy is refused with forbidden instead
 * of pretending. Its other properties may be changed. Identities the user
 * creates (any address the person may send as; several per address are
 * allowed, §6) have mayDelete true. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "core/jm_methods.h"
#include "core/jm_util.h"
#include "core/jm_log.h"
#include "mail/jm_mail.h"
#include "mail/jm_sendauth.h"
#include "mail/jm_identity.h"
#include "std/jm_std_get.h"
#include "std/jm_std_set.h"
#include "std/jm_std_changes.h"
#include "store/jm_store.h"

#define SET_   JM_PROP_SERVER_SET
#define DEF_   JM_PROP_DEFAULT_GET
#define NUL_   JM_PROP_NULLABLE

/** Bytes of a signature or name (a policy bound: they are sent to every
 *  client in every Identity/get). */
#define MAX_TEXT 65536

static const jm_prop_t identity_props[] = {
    { "id",            JM_PT_ID,     SET_ | JM_PROP_IMMUTABLE | DEF_ | JM_PROP_ALWAYS_GET },
    { "name",          JM_PT_STRING, DEF_ | NUL_ },
    { "email",         JM_PT_STRING, JM_PROP_IMMUTABLE | DEF_ },
    { "replyTo",       JM_PT_ARRAY,  DEF_ | NUL_ },
    { "bcc",           JM_PT_ARRAY,  DEF_ | NUL_ },
    { "textSignature", JM_PT_STRING, DEF_ | NUL_ },
    { "htmlSignature", JM_PT_STRING, DEF_ | NUL_ },
    { "mayDelete",     JM_PT_BOOL,   SET_ | DEF_ },
    { NULL, 0, 0 }
};

typedef struct {
    jm_call_t *call;
    const char *account_id;     /* the person's own account */
    apr_array_header_t *rows;   /* jm_identity_row_t * */
} id_baton_t;

const char *jm_identity_default_id(const char *addr, apr_pool_t *p)
{
    return apr_pstrcat(p, "I", apr_pstrndup(p,
                       jm_util_sha256_hex(addr, strlen(addr), p), 20), NULL);
}

static jm_identity_row_t *find(id_baton_t *b, const char *id)
{
    int i;

    for (i = 0; id && i < b->rows->nelts; i++) {
        jm_identity_row_t *r = APR_ARRAY_IDX(b->rows, i, jm_identity_row_t *);
        if (!strcmp(r->id, id)) {
            return r;
        }
    }
    return NULL;
}

static json_t *identity_json(const jm_identity_row_t *r)
{
    json_t *o = json_loads(r->data, 0, NULL);

    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "email", json_string(r->email));
    json_object_set_new(o, "mayDelete", json_boolean(!r->is_default));
    /* a property stored before it existed gets its default (§6) */
    if (!json_is_string(json_object_get(o, "name"))) {
        json_object_set_new(o, "name", json_string(""));
    }
    if (!json_object_get(o, "replyTo")) {
        json_object_set_new(o, "replyTo", json_null());
    }
    if (!json_object_get(o, "bcc")) {
        json_object_set_new(o, "bcc", json_null());
    }
    if (!json_is_string(json_object_get(o, "textSignature"))) {
        json_object_set_new(o, "textSignature", json_string(""));
    }
    if (!json_is_string(json_object_get(o, "htmlSignature"))) {
        json_object_set_new(o, "htmlSignature", json_string(""));
    }
    return o;
}

static const char *default_data(void)
{
    return "{\"name\":\"\",\"replyTo\":null,\"bcc\":null,"
           "\"textSignature\":\"\",\"htmlSignature\":\"\"}";
}

/* What the stored defaults lack or have too many of, against the granted
 * addresses; writes only when something differs (its own transaction). */
static apr_status_t sync_defaults(id_baton_t *b, const apr_array_header_t *allowed,
                                  int in_txn)
{
    jm_db_t *db = b->call->ctx->db;
    apr_pool_t *p = b->call->pool;
    apr_hash_t *want = apr_hash_make(p);
    apr_array_header_t *add = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *drop = apr_array_make(p, 2, sizeof(const char *));
    apr_status_t rv;
    int i;

    for (i = 0; i < allowed->nelts; i++) {
        const char *a = APR_ARRAY_IDX(allowed, i, const char *);
        const char *id = jm_identity_default_id(a, p);
        apr_hash_set(want, id, APR_HASH_KEY_STRING, a);
        if (!find(b, id)) {
            APR_ARRAY_PUSH(add, const char *) = a;
        }
    }
    for (i = 0; i < b->rows->nelts; i++) {
        jm_identity_row_t *r = APR_ARRAY_IDX(b->rows, i, jm_identity_row_t *);
        if (r->is_default && !apr_hash_get(want, r->id, APR_HASH_KEY_STRING)) {
            APR_ARRAY_PUSH(drop, const char *) = r->id;
        }
    }
    if (!add->nelts && !drop->nelts) {
        return APR_SUCCESS;
    }
    if (!in_txn && (rv = jm_db_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = APR_SUCCESS;
    for (i = 0; rv == APR_SUCCESS && i < add->nelts; i++) {
        jm_identity_row_t r;

        r.email = APR_ARRAY_IDX(add, i, const char *);
        r.id = jm_identity_default_id(r.email, p);
        r.is_default = 1;
        r.data = default_data();
        rv = jm_store_identity_insert(db, b->account_id, &r, p);
        if (rv == APR_EEXIST) {
            rv = APR_SUCCESS;       /* another request made it meanwhile */
        }
    }
    for (i = 0; rv == APR_SUCCESS && i < drop->nelts; i++) {
        rv = jm_store_identity_destroy(db, b->account_id,
                                       APR_ARRAY_IDX(drop, i, const char *), p);
        if (rv == APR_NOTFOUND) {
            rv = APR_SUCCESS;
        }
    }
    if (!in_txn) {
        if (rv != APR_SUCCESS) {
            jm_db_rollback(db);
            return rv;
        }
        if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
            return rv;
        }
    }
    else if (rv != APR_SUCCESS) {
        return rv;
    }
    return jm_store_identities(&b->rows, db, b->account_id, p);
}

/* The stored identities, defaults brought up to date. APR_EAGAIN: the
 * directory is unreachable (the caller answers serverUnavailable). */
static apr_status_t load(id_baton_t *b, jm_call_t *call, int in_txn)
{
    const apr_array_header_t *allowed;
    apr_status_t rv;

    b->call = call;
    b->account_id = jm_ctx_self(call->ctx)->id;
    if ((rv = jm_sendauth_addresses(&allowed, call)) != APR_SUCCESS
        || (rv = jm_store_identities(&b->rows, call->ctx->db, b->account_id,
                                     call->pool)) != APR_SUCCESS) {
        return rv;
    }
    return sync_defaults(b, allowed, in_txn);
}

apr_status_t jm_identity_ensure_defaults(jm_call_t *call)
{
    id_baton_t b;

    return load(&b, call, 0);
}

apr_status_t jm_identity_emails(apr_array_header_t **pemails, jm_db_t *db,
                                const char *account_id, apr_pool_t *p)
{
    apr_array_header_t *rows, *out;
    apr_status_t rv;
    int i;

    if ((rv = jm_store_identities(&rows, db, account_id, p)) != APR_SUCCESS) {
        return rv;
    }
    out = apr_array_make(p, rows->nelts + 1, sizeof(const char *));
    for (i = 0; i < rows->nelts; i++) {
        APR_ARRAY_PUSH(out, const char *) =
            APR_ARRAY_IDX(rows, i, jm_identity_row_t *)->email;
    }
    *pemails = out;
    return APR_SUCCESS;
}

apr_status_t jm_identity_lookup(const char **pemail, jm_call_t *call, const char *id)
{
    const apr_array_header_t *allowed;
    apr_array_header_t *rows;
    apr_status_t rv;
    int i, j;

    if ((rv = jm_sendauth_addresses(&allowed, call)) != APR_SUCCESS
        || (rv = jm_store_identities(&rows, call->ctx->db, jm_ctx_self(call->ctx)->id,
                                     call->pool)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < rows->nelts; i++) {
        jm_identity_row_t *r = APR_ARRAY_IDX(rows, i, jm_identity_row_t *);
        if (strcmp(r->id, id)) {
            continue;
        }
        for (j = 0; j < allowed->nelts; j++) {
            if (jm_sendauth_match(APR_ARRAY_IDX(allowed, j, const char *), r->email)) {
                *pemail = r->email;
                return APR_SUCCESS;
            }
        }
        return APR_NOTFOUND;
    }
    for (j = 0; j < allowed->nelts; j++) {
        const char *a = APR_ARRAY_IDX(allowed, j, const char *);
        if (!strcmp(jm_identity_default_id(a, call->pool), id)) {
            *pemail = a;
            return APR_SUCCESS;
        }
    }
    return APR_NOTFOUND;
}

static apr_status_t unavailable(jm_call_t *call)
{
    return jm_call_error(call, "serverUnavailable", "The directory that lists "
                         "this account's addresses could not be reached. Try "
                         "again later.");
}

/* load for Identity/get and /changes: 0 with *prv to return when the call
 * cannot go on (serverUnavailable answered, or a store failure) */
static int load_for_read(apr_status_t *prv, id_baton_t *b, jm_call_t *call)
{
    *prv = load(b, call, 0);
    if (*prv == APR_EAGAIN) {
        *prv = unavailable(call);
        return 0;
    }
    return *prv == APR_SUCCESS;
}

static apr_status_t state_of(const char **pstate, jm_call_t *call)
{
    return jm_store_state_ensure(pstate, call->ctx->db, jm_ctx_self(call->ctx)->id,
                                 JM_TYPE_IDENTITY, call->pool);
}

/* ---- Identity/get ------------------------------------------------------ */

static apr_status_t get_state(const char **pstate, jm_get_t *get)
{
    return state_of(pstate, get->call);
}

static apr_status_t get_fetch(jm_get_t *get, const apr_array_header_t *ids,
                              apr_size_t offset, const char *after,
                              apr_size_t limit, json_t *list)
{
    id_baton_t *b = get->baton;
    int i;

    (void)offset;
    (void)after;
    (void)limit;
    if (!ids) {
        for (i = 0; i < b->rows->nelts; i++) {
            json_array_append_new(list, identity_json(
                APR_ARRAY_IDX(b->rows, i, jm_identity_row_t *)));
        }
        return APR_SUCCESS;
    }
    for (i = 0; i < ids->nelts; i++) {
        jm_identity_row_t *r = find(b, APR_ARRAY_IDX(ids, i, const char *));
        if (r) {
            json_array_append_new(list, identity_json(r));
        }
    }
    return APR_SUCCESS;
}

static const jm_get_type_t get_type = {
    "Identity", identity_props, NULL, get_state, get_fetch, 0, 0, NULL, NULL
};

apr_status_t jm_identity_get(jm_call_t *call)
{
    id_baton_t b;
    apr_status_t rv;

    if (!load_for_read(&rv, &b, call)) {
        return rv;
    }
    return jm_std_get(call, &get_type, &b);
}

/* ---- Identity/changes -------------------------------------------------- */

static apr_status_t changes_fetch(jm_changes_t *ch, apr_int64_t since,
                                  apr_size_t hint, apr_array_header_t **precords,
                                  int *ptruncated, apr_int64_t *poldest,
                                  apr_int64_t *pcurrent)
{
    return jm_mail_changes_fetch_in(ch, jm_ctx_self(ch->call->ctx)->id,
                                    JM_TYPE_IDENTITY, since, hint, precords,
                                    ptruncated, poldest, pcurrent);
}

static const jm_changes_type_t changes_type = {
    "Identity", NULL, changes_fetch, NULL, 0, 0
};

/* RFC 8621 §6.2: a standard /changes. The defaults are brought up to date
 * first, so a grant added or taken away shows as a change. */
apr_status_t jm_identity_changes(jm_call_t *call)
{
    id_baton_t b;
    apr_status_t rv;

    if (!load_for_read(&rv, &b, call)) {
        return rv;
    }
    return jm_std_changes(call, &changes_type, &b);
}

/* ---- Identity/set ------------------------------------------------------ */

static json_t *invalid(apr_pool_t *p, const char *path, const char *why)
{
    return jm_set_error(p, "invalidProperties", json_pack("[s]", path), "%s", why);
}

/* No C0/C1 controls (a name goes into a From field; CR/LF would end it). */
static int plain_text(const char *s, int allow_newlines)
{
    const unsigned char *u = (const unsigned char *)s;

    for (; *u; u++) {
        if ((*u < 0x20 && !(allow_newlines && (*u == '\n' || *u == '\r' || *u == '\t')))
            || *u == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* EmailAddress[]|null (RFC 8621 §4.1.2.3): objects with email (a valid
 * address) and name (String|null), nothing else. */
static json_t *check_addresses(jm_call_t *call, const char *prop, json_t *v)
{
    apr_pool_t *p = call->pool;
    const char *k;
    json_t *a, *f;
    size_t i;

    if (!v || json_is_null(v)) {
        return NULL;
    }
    if ((long)json_array_size(v) > call->ctx->limits->max_header_items) {
        return invalid(p, prop, apr_psprintf(p, "At most %ld addresses "
                       "(JMAPMaxHeaderItems).", call->ctx->limits->max_header_items));
    }
    json_array_foreach(v, i, a) {
        const char *path = apr_psprintf(p, "%s/%lu", prop, (unsigned long)i);
        const char *email = json_string_value(json_object_get(a, "email"));

        if (!json_is_object(a)) {
            return invalid(p, path, "An EmailAddress is an object.");
        }
        json_object_foreach(a, k, f) {
            if (strcmp(k, "name") && strcmp(k, "email")) {
                return invalid(p, apr_pstrcat(p, path, "/", k, NULL),
                               "An EmailAddress has only name and email.");
            }
        }
        if (!email || !jm_sendauth_valid_address(email, 0)) {
            return invalid(p, apr_pstrcat(p, path, "/email", NULL),
                           "Not a valid email address.");
        }
        f = json_object_get(a, "name");
        if (f && !json_is_null(f)
            && (!json_is_string(f) || !plain_text(json_string_value(f), 0))) {
            return invalid(p, apr_pstrcat(p, path, "/name", NULL),
                           "name is a String (no control characters) or null.");
        }
    }
    return NULL;
}

/* The stored data of obj (the full object after create or patch); a
 * SetError for a bad value. Null resets a property to its default (§6). */
static json_t *make_data(const char **pdata, jm_call_t *call, json_t *obj)
{
    static const char *const texts[] = { "name", "textSignature", "htmlSignature", NULL };
    apr_pool_t *p = call->pool;
    json_t *d = jm_json_own(p, json_object()), *v, *err;
    int i;

    for (i = 0; texts[i]; i++) {
        v = json_object_get(obj, texts[i]);
        if (v && json_is_string(v)) {
            const char *s = json_string_value(v);
            if (strlen(s) > MAX_TEXT) {
                return invalid(p, texts[i], "Longer than 65536 octets.");
            }
            if (!plain_text(s, i > 0)) {
                return invalid(p, texts[i], "Control characters are not allowed.");
            }
        }
        json_object_set_new(d, texts[i], json_string(v && json_is_string(v)
                                                     ? json_string_value(v) : ""));
    }
    if ((err = check_addresses(call, "replyTo", json_object_get(obj, "replyTo")))
        || (err = check_addresses(call, "bcc", json_object_get(obj, "bcc")))) {
        return err;
    }
    v = json_object_get(obj, "replyTo");
    json_object_set(d, "replyTo", v ? v : json_null());
    v = json_object_get(obj, "bcc");
    json_object_set(d, "bcc", v ? v : json_null());
    *pdata = jm_json_dump(d, p);
    return NULL;
}

/* Lower-case the domain part (local parts are the owner's business,
 * RFC 5321 §2.4; matching is case-insensitive anyway). */
static const char *norm_email(const char *e, apr_pool_t *p)
{
    char *s = apr_pstrdup(p, e), *at = strrchr(s, '@');

    for (; at && *at; at++) {
        *at = apr_tolower(*at);
    }
    return s;
}

static apr_status_t set_state(const char **pstate, jm_set_t *set)
{
    return state_of(pstate, set->call);
}

static apr_status_t set_create(jm_set_t *set, const char *cid, json_t *obj,
                               json_t **pcreated, json_t **perr)
{
    id_baton_t *b = set->baton;
    jm_call_t *call = set->call;
    apr_pool_t *p = call->pool;
    const char *email = json_string_value(json_object_get(obj, "email"));
    jm_identity_row_t *r;
    apr_status_t rv;
    int ok = 0;

    (void)cid;
    if (!email) {
        *perr = invalid(p, "email", "A new Identity needs an email.");
        return APR_SUCCESS;
    }
    if (!jm_sendauth_valid_address(email, 1)) {
        *perr = invalid(p, "email", "Not a valid email address (or *@domain).");
        return APR_SUCCESS;
    }
    rv = jm_sendauth_may_send_as(&ok, call, email);
    if (rv == APR_EAGAIN) {
        *perr = jm_set_error(p, "serverUnavailable", NULL, "The directory is "
                             "unreachable; the address cannot be checked. Try "
                             "again later.");
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!ok) {
        *perr = jm_set_error(p, "forbiddenFrom", NULL, "This account may not "
                             "send as %s.", email);
        return APR_SUCCESS;
    }
    r = apr_pcalloc(p, sizeof(*r));
    if ((*perr = make_data(&r->data, call, obj))) {
        return APR_SUCCESS;
    }
    r->id = jm_util_new_id('I', p);
    r->email = norm_email(email, p);
    r->is_default = 0;
    if ((rv = jm_store_identity_insert(call->ctx->db, b->account_id, r, p))
        != APR_SUCCESS) {
        return rv;
    }
    APR_ARRAY_PUSH(b->rows, jm_identity_row_t *) = r;
    *pcreated = identity_json(r);
    return APR_SUCCESS;
}

static apr_status_t set_lookup(json_t **pobj, jm_set_t *set, const char *id)
{
    jm_identity_row_t *r = find(set->baton, id);

    *pobj = r ? identity_json(r) : NULL;
    return APR_SUCCESS;
}

static apr_status_t set_update(jm_set_t *set, const char *id, json_t *patch,
                               json_t *updated, json_t **pchanged, json_t **perr)
{
    id_baton_t *b = set->baton;
    jm_call_t *call = set->call;
    jm_identity_row_t *r = find(b, id);
    const char *data;
    apr_status_t rv;

    (void)patch;
    *pchanged = NULL;
    if ((*perr = make_data(&data, call, updated))) {
        return APR_SUCCESS;
    }
    if ((rv = jm_store_identity_update(call->ctx->db, b->account_id, id, data,
                                       call->pool)) != APR_SUCCESS) {
        return rv;
    }
    r->data = data;
    return APR_SUCCESS;
}

static apr_status_t set_destroy(jm_set_t *set, const char *id, json_t **perr)
{
    id_baton_t *b = set->baton;
    apr_pool_t *p = set->call->pool;
    jm_identity_row_t *r = find(b, id);
    apr_status_t rv;
    int i;

    if (!r) {
        *perr = jm_set_error(p, "notFound", NULL, "No Identity %s.", id);
        return APR_SUCCESS;
    }
    if (r->is_default) {
        /* §6 mayDelete false: a standard forbidden SetError */
        *perr = jm_set_error(p, "forbidden", NULL, "Identity %s is the default "
                             "identity of %s (mayDelete is false).", id, r->email);
        return APR_SUCCESS;
    }
    if ((rv = jm_store_identity_destroy(set->call->ctx->db, b->account_id, id, p))
        != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < b->rows->nelts; i++) {
        if (APR_ARRAY_IDX(b->rows, i, jm_identity_row_t *) == r) {
            APR_ARRAY_IDX(b->rows, i, jm_identity_row_t *) =
                APR_ARRAY_IDX(b->rows, b->rows->nelts - 1, jm_identity_row_t *);
            b->rows->nelts--;
            break;
        }
    }
    return APR_SUCCESS;
}

static const jm_set_type_t set_type = {
    "Identity", identity_props, NULL, set_state, set_create, set_lookup,
    set_update, set_destroy, 0
};

apr_status_t jm_identity_set(jm_call_t *call)
{
    jm_db_t *db = call->ctx->db;
    id_baton_t b;
    jm_set_t set;
    apr_status_t rv;

    const apr_array_header_t *allowed;

    if (!jm_set_parse(&set, call, &set_type, &b)) {
        return APR_SUCCESS;
    }
    /* the directory is asked before the transaction (cached for the
     * request): no write lock is held while it answers */
    if ((rv = jm_sendauth_addresses(&allowed, call)) == APR_EAGAIN) {
        return unavailable(call);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* one transaction: ifInState is checked against what it changes */
    if ((rv = jm_db_begin(db, call->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = load(&b, call, 1)) != APR_SUCCESS
        || (rv = jm_set_run(&set)) != APR_SUCCESS || call->error) {
        jm_db_rollback(db);
        return rv == APR_EAGAIN ? unavailable(call) : rv;
    }
    if ((rv = jm_db_commit(db)) != APR_SUCCESS) {
        return rv;
    }
    jm_set_reply(&set);
    return APR_SUCCESS;
}
