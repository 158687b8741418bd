/* RFC 8620 §2 Session object. */
#include <string.h>
#include <apr_strings.h>
#include "core/jm_session.h"
#include "core/jm_util.h"
#include "mail/jm_mail.h"
#include "mail/jm_submission.h"
#include "std/jm_std_collation.h"
#include "push/jm_webpush.h"

static json_t *collations(void)
{
    json_t *a = json_array();
    const char *const *c;

    for (c = jm_collation_names; *c; c++) {
        json_array_append_new(a, json_string(*c));
    }
    return a;
}

static json_t *core_capability(const jm_limits_t *l)
{
    /* collationAlgorithms: what /query sorts and filters accept (src/std) */
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                     "maxSizeUpload", (json_int_t)l->max_size_upload,
                     "maxConcurrentUpload", (json_int_t)l->max_concurrent_upload,
                     "maxSizeRequest", (json_int_t)l->max_size_request,
                     "maxConcurrentRequests", (json_int_t)l->max_concurrent_requests,
                     "maxCallsInRequest", (json_int_t)l->max_calls_in_request,
                     "maxObjectsInGet", (json_int_t)l->max_objects_in_get,
                     "maxObjectsInSet", (json_int_t)l->max_objects_in_set,
                     "collationAlgorithms", collations());
}

/* RFC 8621 §1.3.1: what this account can do with mail, honestly. */
static json_t *mail_account_capability(const jm_limits_t *l, int read_only)
{
    /* emailQuerySortOptions: every comparator Email/query accepts (§4.4.2) */
    return json_pack("{s:n, s:i, s:i, s:I, s:[s, s, s, s, s, s, s, s, s], s:b}",
                     "maxMailboxesPerEmail",
                     "maxMailboxDepth", JM_MAILBOX_MAX_DEPTH,
                     "maxSizeMailboxName", JM_MAILBOX_MAX_NAME,
                     "maxSizeAttachmentsPerEmail", (json_int_t)l->max_size_attachments,
                     "emailQuerySortOptions", "receivedAt", "size", "from", "to",
                     "subject", "sentAt", "hasKeyword", "allInThreadHaveKeyword",
                     "someInThreadHaveKeyword",
                     "mayCreateTopLevelMailbox", !read_only);
}

/* Whether cap is in this session: vacationresponse only where its replies
 * can leave (a relay is configured, RFC 8621 §8). */
static int advertised(const jm_ctx_t *ctx, const char *cap)
{
    return strcmp(cap, JM_CAP_VACATION) != 0 || (ctx->submit && ctx->submit->url);
}

/* One Account object (RFC 8620 §2): a shared one is named after its owner
 * and is not personal (§1.6.2). */
static json_t *account_json(const jm_ctx_t *ctx, const jm_account_t *a)
{
    json_t *acaps = json_object();
    const char *const *c;

    for (c = jm_capabilities; *c; c++) {
        if (strcmp(*c, JM_CAP_CORE) != 0 && advertised(ctx, *c)) {
            json_object_set_new(acaps, *c, strcmp(*c, JM_CAP_MAIL) == 0
                                ? mail_account_capability(ctx->limits, a->read_only)
                                : strcmp(*c, JM_CAP_SUBMISSION) == 0
                                ? jm_submission_capability(ctx->submit, ctx->pool)
                                : json_object());
        }
    }
    return json_pack("{s:s, s:b, s:b, s:o}", "name", a->username,
                     "isPersonal", !a->shared, "isReadOnly", a->read_only,
                     "accountCapabilities", acaps);
}

static json_t *session_without_state(const jm_ctx_t *ctx, const char *base_url,
                                     const char *path, apr_pool_t *p)
{
    json_t *caps = json_object(), *accounts = json_object(), *primary = json_object();
    json_t *vapid;
    const jm_account_t *own = jm_ctx_self(ctx);
    const char *const *c;
    const char *url = apr_pstrcat(p, base_url, path, NULL);
    int i;

    for (c = jm_capabilities; *c; c++) {
        if (!advertised(ctx, *c)) {
            continue;
        }
        if (strcmp(*c, JM_CAP_CORE) == 0) {
            json_object_set_new(caps, *c, core_capability(ctx->limits));
            continue;
        }
        json_object_set_new(caps, *c, json_object());
        /* the user's own account stays the primary one (§2) */
        json_object_set_new(primary, *c, json_string(own->id));
    }
    /* RFC 9749 §3: only with a VAPID key; session-wide, in no account */
    if ((vapid = jm_push_session_capability(ctx->push)) != NULL) {
        json_object_set_new(caps, JM_CAP_WEBPUSH_VAPID, vapid);
    }
    json_object_set_new(accounts, own->id, account_json(ctx, own));
    for (i = 0; ctx->shared && i < ctx->shared->nelts; i++) {
        const jm_account_t *a = APR_ARRAY_IDX(ctx->shared, i, jm_account_t *);
        json_object_set_new(accounts, a->id, account_json(ctx, a));
    }
    return json_pack("{s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s}",
        "capabilities", caps,
        "accounts", accounts,
        "primaryAccounts", primary,
        "username", own->username,
        "apiUrl", apr_pstrcat(p, url, "/api", NULL),
        "downloadUrl", apr_pstrcat(p, url,
            "/download/{accountId}/{blobId}/{name}?type={type}", NULL),
        "uploadUrl", apr_pstrcat(p, url, "/upload/{accountId}/", NULL),
        "eventSourceUrl", apr_pstrcat(p, url,
            "/eventsource/?types={types}&closeafter={closeafter}&ping={ping}", NULL));
}

/* The state is a digest of everything the session object is made of, so it
 * changes exactly when the session does; computed without building the
 * object because every API response carries it (sessionState). */
static const char *state_of(const jm_ctx_t *ctx, const char *base_url,
                            const char *path, apr_pool_t *p)
{
    const jm_limits_t *l = ctx->limits;
    const char *const *c;
    const jm_account_t *own = jm_ctx_self(ctx);
    const char *text = apr_psprintf(p, "%s|%s|%d|%s|%s|%ld|%ld|%ld|%ld|%ld|%ld|%ld|%ld",
        own->id, own->username, own->read_only,
        base_url, path,
        l->max_size_upload, l->max_concurrent_upload, l->max_size_request,
        l->max_concurrent_requests, l->max_calls_in_request,
        l->max_objects_in_get, l->max_objects_in_set, l->max_size_attachments);

    int i;

    for (c = jm_capabilities; *c; c++) {
        text = advertised(ctx, *c) ? apr_pstrcat(p, text, "|", *c, NULL) : text;
    }
    if (ctx->push && ctx->push->vapid_public) {
        text = apr_pstrcat(p, text, "|vapid:", ctx->push->vapid_public, NULL);
    }
    /* the submission capability's value (its FUTURERELEASE date-time moves
     * with the clock, the limit it comes from does not) */
    text = apr_psprintf(p, "%s|submit:%d:%ld", text,
                        ctx->submit && ctx->submit->url ? 1 : 0,
                        ctx->submit ? ctx->submit->max_delayed : 0);
    /* the shared accounts: a share added, removed or made read-only in the
     * configuration changes the session (RFC 8620 §2 "state") */
    for (i = 0; ctx->shared && i < ctx->shared->nelts; i++) {
        const jm_account_t *a = APR_ARRAY_IDX(ctx->shared, i, jm_account_t *);
        text = apr_psprintf(p, "%s|shared:%s:%s:%d", text, a->id, a->username,
                            a->read_only);
    }
    return apr_pstrndup(p, jm_util_sha256_hex(text, strlen(text), p), 16);
}

json_t *jm_session_build(const jm_ctx_t *ctx, const char *base_url,
                         const char *path, apr_pool_t *p)
{
    json_t *s = session_without_state(ctx, base_url, path, p);

    json_object_set_new(s, "state", json_string(state_of(ctx, base_url, path, p)));
    return s;
}

const char *jm_session_state(const jm_ctx_t *ctx, const char *base_url,
                             const char *path, apr_pool_t *p)
{
    return state_of(ctx, base_url, path, p);
}
