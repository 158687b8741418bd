/* The "jmap" handler: /.well-known/jmap, <JMAPPath>/session, /api,
 * /upload/{accountId}/, /download/{accountId}/{blobId}/{name}. */
#include <string.h>
#include <apr_strings.h>
#include "httpd/mod_jm_private.h"
#include <http_config.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_script.h>
#include "httpd/mod_jm_http.h"
#include "httpd/mod_jm_config.h"
#include "httpd/mod_jm_dbd.h"
#include "httpd/mod_jm_limits.h"
#include "core/jm_request.h"
#include "core/jm_raw.h"
#include "core/jm_session.h"
#include "store/jm_store.h"
#include "mail/jm_blob.h"
#include "core/jm_util.h"
#include "httpd/mod_jm_eventsource.h"

static int send_json(request_rec *r, int status, const char *ctype, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);

    if (!text) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(01120)
                      "cannot serialise a JSON response");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = status;
    ap_set_content_type(r, ctype);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, no-store, must-revalidate");
    ap_set_content_length(r, strlen(text));
    ap_rwrite(text, (int)strlen(text), r);
    free(text);
    return OK;
}

/* The Response object (RFC 8620 §3.4), raw fragments written as text. */
static int send_api_response(request_rec *r, const jm_raw_t *raw, json_t *j)
{
    apr_size_t n;
    const char *text = jm_raw_dump(raw, j, &n, r->pool);

    if (!text) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(16000)
                      "cannot serialise the API response");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache, no-store, must-revalidate");
    ap_set_content_length(r, (apr_off_t)n);
    ap_rwrite(text, (int)n, r);
    return OK;
}

/* A request-level error as RFC 7807 problem details (RFC 8620 §3.6.1). */
static int send_problem(request_rec *r, const jm_problem_t *pr)
{
    json_t *j = jm_json_own(r->pool, jm_problem_json(pr));

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, JMLOGNO_GLUE(01121)
                  "request-level error %s%s%s for %s: %s", pr->type,
                  pr->limit ? " " : "", pr->limit ? pr->limit : "",
                  r->user ? r->user : "-", pr->detail);
    return send_json(r, pr->status, "application/problem+json", j);
}

static const char *base_url(request_rec *r, const jm_srv_conf_t *sc)
{
    const char *u;
    size_t n;

    if (sc->base_url) {
        return sc->base_url;
    }
    u = ap_construct_url(r->pool, "/", r);
    n = strlen(u);
    return apr_pstrndup(r->pool, u, n > 0 ? n - 1 : 0);
}

/* Read the body, refusing more than max bytes (*ptoo_big set). */
static apr_status_t read_body(char **pbody, apr_size_t *plen, int *ptoo_big,
                              request_rec *r, apr_off_t max)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    apr_bucket_brigade *all = apr_brigade_create(r->pool, ba);
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t total = 0;
    apr_size_t len;
    apr_status_t rv;
    int seen_eos = 0;
    char *buf;

    *ptoo_big = 0;
    if (cl && apr_atoi64(cl) > max) {
        *ptoo_big = 1;
        return APR_SUCCESS;
    }
    while (!seen_eos) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, 65536);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            apr_bucket *b = APR_BRIGADE_FIRST(bb);
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                apr_bucket_delete(b);
                continue;
            }
            if (!APR_BUCKET_IS_METADATA(b)) {
                const char *data;
                if ((rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ))
                    != APR_SUCCESS) {
                    return rv;
                }
                total += (apr_off_t)len;
                if (total > max) {
                    *ptoo_big = 1;
                    return APR_SUCCESS;
                }
                apr_bucket_setaside(b, r->pool);
            }
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(all, b);
        }
    }
    len = (apr_size_t)total;
    buf = apr_palloc(r->pool, len + 1);
    if (len && (rv = apr_brigade_flatten(all, buf, &len)) != APR_SUCCESS) {
        return rv;
    }
    buf[len] = '\0';
    *pbody = buf;
    *plen = len;
    return APR_SUCCESS;
}

static int problem(request_rec *r, int status, const char *type,
                   const char *limit, const char *detail)
{
    jm_problem_t pr;

    pr.status = status;
    pr.type = type;
    pr.limit = limit;
    pr.detail = detail;
    return send_problem(r, &pr);
}

int jm_http_problem(request_rec *r, int status, const char *type,
                    const char *limit, const char *detail)
{
    return problem(r, status, type, limit, detail);
}

/* 503 for a store failure; a busy store (APR_TIMEUP from jm_db_begin: a
 * write lock another process held too long) is worth retrying soon. */
static int store_problem(request_rec *r, apr_status_t rv, const char *what)
{
    if (APR_STATUS_IS_TIMEUP(rv)) {
        apr_table_setn(r->headers_out, "Retry-After", "1");
        return problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                       apr_pstrcat(r->pool, "The store is busy: ", what,
                                   "; try again.", NULL));
    }
    return problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                   apr_pstrcat(r->pool, "The store is unavailable: ", what,
                               "; try again later.", NULL));
}

/* Per-request context: store, account (provisioned on first use), limits. */
static int make_ctx(jm_ctx_t *ctx, request_rec *r, jm_srv_conf_t *sc,
                    const char *base)
{
    jm_account_t *acc = apr_pcalloc(r->pool, sizeof(*acc));
    int created = 0, i;
    apr_status_t rv;

    memset(ctx, 0, sizeof(*ctx));
    ctx->pool = r->pool;
    ctx->limits = &sc->eff_limits;
    ctx->certdir = sc->certdir;
    ctx->keystore = sc->keystore;
    ctx->send_as_rules = sc->send_as;
    ctx->smime = &sc->smime;
    ctx->push = &sc->push.eff;
    ctx->submit = &sc->submit;
    jm_budget_init(&ctx->budget, ctx->limits, r->request_time);
    if ((rv = jm_dbd_acquire(&ctx->db, r)) != APR_SUCCESS) {
        return problem(r, HTTP_SERVICE_UNAVAILABLE, "serverUnavailable", NULL,
                       "The store is unavailable; try again later.");
    }
    acc->username = r->user;
    for (i = 0; sc->read_only_users && i < sc->read_only_users->nelts; i++) {
        acc->read_only |= !strcmp(APR_ARRAY_IDX(sc->read_only_users, i, const char *),
                                  r->user);
    }
    rv = jm_store_account_ensure(&acc->id, &created, ctx->db, r->user, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(01122)
                      "cannot load or create the account of %s", r->user);
        return store_problem(r, rv, "the account could not be loaded");
    }
    if (created) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, JMLOGNO_GLUE(01123)
                      "provisioned account %s for user %s", acc->id, r->user);
    }
    ctx->account = acc;
    ctx->self = acc;
    if (sc->shares && sc->shares->nelts
        && (rv = jm_account_load_shared(&ctx->shared, ctx->db, r->user, sc->shares,
                                        sc->read_only_users, r->pool)) != APR_SUCCESS) {
        return store_problem(r, rv, "a shared account could not be loaded");
    }
    ctx->session_state = jm_session_state(ctx, base, sc->path, r->pool);
    return OK;
}

static int method_not_allowed(request_rec *r, const char *allow)
{
    apr_table_setn(r->headers_out, "Allow", allow);
    return problem(r, HTTP_METHOD_NOT_ALLOWED, "notRequest", NULL,
                   apr_psprintf(r->pool, "Use %s on this resource.", allow));
}

static int handle_session(request_rec *r, jm_srv_conf_t *sc, const char *base)
{
    jm_ctx_t ctx;
    int rc;

    if (r->method_number != M_GET) {
        return method_not_allowed(r, "GET");
    }
    if ((rc = make_ctx(&ctx, r, sc, base)) != OK) {
        return rc;
    }
    return send_json(r, HTTP_OK, "application/json",
                     jm_json_own(r->pool, jm_session_build(&ctx, base, sc->path,
                                                           r->pool)));
}

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    return ct && strncasecmp(ct, "application/json", n) == 0
        && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int handle_api(request_rec *r, jm_srv_conf_t *sc, const char *base)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    json_t *resp;
    jm_problem_t *pr;
    jm_ctx_t ctx;
    char *body;
    apr_size_t len;
    int too_big, rc;
    apr_status_t rv;

    if (r->method_number != M_POST) {
        return method_not_allowed(r, "POST");
    }
    if (ct && !is_json_type(ct)) {
        return problem(r, HTTP_BAD_REQUEST, "notJSON", NULL,
                       "The request's Content-Type must be application/json.");
    }
    if (!jm_limits_enter(r, JM_SLOT_REQUEST, sc->eff_limits.max_concurrent_requests)) {
        return problem(r, HTTP_TOO_MANY_REQUESTS, "limit", "maxConcurrentRequests",
                       apr_psprintf(r->pool, "More than %ld concurrent requests.",
                                    sc->eff_limits.max_concurrent_requests));
    }
    rv = read_body(&body, &len, &too_big, r, sc->eff_limits.max_size_request);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, JMLOGNO_GLUE(01124)
                      "cannot read the request body");
        return problem(r, HTTP_BAD_REQUEST, "notJSON", NULL,
                       "The request body could not be read.");
    }
    if (too_big) {
        return problem(r, HTTP_BAD_REQUEST, "limit", "maxSizeRequest",
                       apr_psprintf(r->pool, "The request is larger than %ld bytes.",
                                    sc->eff_limits.max_size_request));
    }
    if ((rc = make_ctx(&ctx, r, sc, base)) != OK) {
        return rc;
    }
    /* methods may answer parts as JSON text they have (core/jm_raw.h) */
    ctx.raw = jm_raw_make(r->pool);
    jm_request_process(&resp, &pr, &ctx, body, len);
    if (pr) {
        return send_problem(r, pr);
    }
    return send_api_response(r, ctx.raw, resp);
}

/* RFC 8620 §6.1 */
static int handle_upload(request_rec *r, jm_srv_conf_t *sc, const char *base,
                         const char *rest)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *account = apr_pstrndup(r->pool, rest, strcspn(rest, "/"));
    const char *tail = rest + strlen(account);
    json_t *resp;
    jm_account_t *acc;
    jm_ctx_t rctx, ctx;
    char *body;
    apr_size_t len;
    int too_big, rc;
    apr_status_t rv;

    if (*tail && strcmp(tail, "/") != 0) {
        return problem(r, HTTP_NOT_FOUND, "notFound", NULL, "No such resource.");
    }
    if (r->method_number != M_POST) {
        return method_not_allowed(r, "POST");
    }
    if (!jm_limits_enter(r, JM_SLOT_UPLOAD, sc->eff_limits.max_concurrent_upload)) {
        return problem(r, HTTP_TOO_MANY_REQUESTS, "limit", "maxConcurrentUpload",
                       "Too many concurrent uploads.");
    }
    if ((rc = make_ctx(&rctx, r, sc, base)) != OK) {
        return rc;
    }
    /* the user's own account or one shared with it (JMAPShareAccount) */
    if (!(acc = jm_ctx_find_account(&rctx, account))) {
        return problem(r, HTTP_NOT_FOUND, "accountNotFound", NULL,
                       "No such account for this user.");
    }
    if (acc->read_only) {
        /* an upload creates a blob in the account: a change, like the
         * methods that answer accountReadOnly (RFC 8620 §3.6.2); refused
         * before the body is read */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, JMLOGNO_GLUE(07001)
                      "upload refused: account %s of %s is read-only "
                      "(%s)", acc->id, acc->username,
                      acc->shared ? "a read-only share" : "JMAPReadOnlyUsers");
        return problem(r, HTTP_FORBIDDEN, "accountReadOnly", NULL,
                       "This account is read-only: uploads are not allowed.");
    }
    jm_ctx_for_account(&ctx, &rctx, acc);
    rv = read_body(&body, &len, &too_big, r, sc->eff_limits.max_size_upload);
    if (rv != APR_SUCCESS) {
        return problem(r, HTTP_BAD_REQUEST, "notRequest", NULL,
                       "The upload could not be read.");
    }
    if (too_big) {
        return problem(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "limit", "maxSizeUpload",
                       apr_psprintf(r->pool, "The upload is larger than %ld bytes.",
                                    sc->eff_limits.max_size_upload));
    }
    if (!ct || !*ct || strpbrk(ct, "\r\n")) {
        ct = "application/octet-stream";
    }
    if ((rv = jm_blob_upload(&resp, &ctx, ct, body, len, r->pool)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(01125)
                      "cannot store an upload of %" APR_SIZE_T_FMT " bytes%s", len,
                      APR_STATUS_IS_TIMEUP(rv) ? ": the store is busy" : "");
        return store_problem(r, rv, "the upload was not stored");
    }
    return send_json(r, HTTP_CREATED, "application/json", jm_json_own(r->pool, resp));
}

/* Quote a file name for Content-Disposition (RFC 6266 with RFC 8187). */
static const char *disposition(request_rec *r, const char *name)
{
    const char *c;
    int ascii = 1;

    for (c = name; *c; c++) {
        ascii &= (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\');
    }
    if (ascii) {
        return apr_psprintf(r->pool, "attachment; filename=\"%s\"", name);
    }
    return apr_psprintf(r->pool, "attachment; filename*=UTF-8''%s",
                        ap_escape_uri(r->pool, name));
}

/* Streams a blob down the output filters one stored chunk at a time. */
typedef struct {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_status_t pass_rv;      /**< what ap_pass_brigade said (client gone) */
    int sent;                  /**< bytes (and so the headers) went out */
} stream_t;

static apr_status_t stream_chunk(void *baton, const unsigned char *data,
                                 apr_size_t len)
{
    stream_t *st = baton;
    apr_bucket_alloc_t *ba = st->r->connection->bucket_alloc;
    apr_status_t rv;

    /* a heap bucket copies the bytes: the chunk's pool is cleared next; the
     * flush makes the core write them out now instead of buffering */
    APR_BRIGADE_INSERT_TAIL(st->bb, apr_bucket_heap_create((const char *)data,
                                                           len, NULL, ba));
    APR_BRIGADE_INSERT_TAIL(st->bb, apr_bucket_flush_create(ba));
    st->sent = 1;
    rv = ap_pass_brigade(st->r->output_filters, st->bb);
    apr_brigade_cleanup(st->bb);
    if (rv != APR_SUCCESS || st->r->connection->aborted) {
        st->pass_rv = rv != APR_SUCCESS ? rv : APR_ECONNABORTED;
        return st->pass_rv;
    }
    return APR_SUCCESS;
}

static void download_headers(request_rec *r, const char *type,
                             const char *stored_type, const char *name,
                             apr_off_t len)
{
    if (!type || !*type || strpbrk(type, "\r\n")) {
        type = stored_type && *stored_type ? stored_type : "application/octet-stream";
    }
    ap_set_content_type(r, apr_pstrdup(r->pool, type));
    apr_table_setn(r->headers_out, "Content-Disposition", disposition(r, name));
    /* blobs are immutable (RFC 8620 §6.2) */
    apr_table_setn(r->headers_out, "Cache-Control", "private, immutable, max-age=31536000");
    ap_set_content_length(r, len);
}

/* A whole stored blob: Content-Length from the stored size, then the bytes
 * chunk by chunk, so memory does not grow with the blob. */
static int download_stream(request_rec *r, jm_ctx_t *ctx, const char *blob,
                           const char *name, const char *type)
{
    const char *stored_type = NULL;
    apr_int64_t size;
    stream_t st;
    apr_status_t rv;

    rv = jm_blob_stat(&size, &stored_type, ctx, blob, r->pool);
    if (rv == APR_NOTFOUND) {
        return problem(r, HTTP_NOT_FOUND, "notFound", NULL, "No such blob.");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(07002)
                      "cannot look up blob %s", blob);
        return store_problem(r, rv, "the blob could not be read");
    }
    download_headers(r, type, stored_type, name, (apr_off_t)size);
    if (r->header_only) {
        return OK;
    }
    st.r = r;
    st.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    st.pass_rv = APR_SUCCESS;
    st.sent = 0;
    rv = jm_blob_stream(ctx, blob, size, stream_chunk, &st, r->pool);
    if (rv == APR_SUCCESS) {
        return OK;
    }
    if (st.pass_rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, st.pass_rv, r, JMLOGNO_GLUE(07003)
                      "download of blob %s ended early: the client went away", blob);
        return r->connection->aborted ? OK : AP_FILTER_ERROR;
    }
    if (!st.sent) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(07004)
                      "cannot read blob %s", blob);
        apr_table_unset(r->headers_out, "Content-Disposition");
        return store_problem(r, rv, "the blob could not be read");
    }
    /* the status line and part of the bytes are out: close the connection
     * so the client sees fewer bytes than Content-Length, never a whole
     * but wrong blob */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(07005)
                  "cannot read the rest of blob %s; closing the connection", blob);
    r->connection->keepalive = AP_CONN_CLOSE;
    return OK;
}

/* RFC 8620 §6.2 */
static int handle_download(request_rec *r, jm_srv_conf_t *sc, const char *base,
                           const char *rest)
{
    char *copy = apr_pstrdup(r->pool, rest), *state = NULL;
    const char *account = apr_strtok(copy, "/", &state);
    const char *blob = apr_strtok(NULL, "/", &state);
    const char *name = apr_strtok(NULL, "", &state);
    const char *stored_type = NULL;
    const unsigned char *data;
    apr_size_t len;
    apr_table_t *args;
    jm_account_t *acc;
    jm_ctx_t rctx, ctx;
    int rc;
    apr_status_t rv;

    if (r->method_number != M_GET) {
        return method_not_allowed(r, "GET");
    }
    if (!account || !blob || !name || !*name || strchr(name, '/')) {
        return problem(r, HTTP_NOT_FOUND, "notFound", NULL,
                       "Use download/{accountId}/{blobId}/{name}.");
    }
    if ((rc = make_ctx(&rctx, r, sc, base)) != OK) {
        return rc;
    }
    if (!(acc = jm_ctx_find_account(&rctx, account))) {
        return problem(r, HTTP_NOT_FOUND, "accountNotFound", NULL,
                       "No such account for this user.");
    }
    jm_ctx_for_account(&ctx, &rctx, acc);
    ap_args_to_table(r, &args);
    if (!jm_blob_is_part(blob)) {
        return download_stream(r, &ctx, blob, name, apr_table_get(args, "type"));
    }
    /* a part of a stored message: cut out of the parsed message, so in
     * memory (bounded by the message's size) */
    rv = jm_blob_fetch(&data, &len, &stored_type, &ctx, blob, r->pool);
    if (rv == APR_NOTFOUND) {
        return problem(r, HTTP_NOT_FOUND, "notFound", NULL, "No such blob.");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, JMLOGNO_GLUE(01126)
                      "cannot read blob %s", blob);
        return store_problem(r, rv, "the blob could not be read");
    }
    download_headers(r, apr_table_get(args, "type"), stored_type, name,
                     (apr_off_t)len);
    if (len && !r->header_only) {
        ap_rwrite(data, (int)len, r);
    }
    return OK;
}

int jm_http_handler(request_rec *r)
{
    jm_srv_conf_t *sc;
    const char *base, *sub;
    size_t plen;
    int bad;

    if (!r->handler || strcmp(r->handler, "jmap") != 0) {
        return DECLINED;
    }
    sc = jm_config_get(r->server);
    base = base_url(r, sc);
    if (strcmp(r->uri, "/.well-known/jmap") == 0
        || strcmp(r->uri, "/.well-known/jmap/") == 0) {
        /* RFC 8620 §2.2 */
        apr_table_setn(r->headers_out, "Location",
                       apr_pstrcat(r->pool, base, sc->path, "/session", NULL));
        return HTTP_TEMPORARY_REDIRECT;
    }
    plen = strlen(sc->path);
    if (strncmp(r->uri, sc->path, plen) != 0
        || (r->uri[plen] != '/' && r->uri[plen] != '\0')) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(01127)
                      "SetHandler jmap is set for %s, outside JMAPPath %s",
                      r->uri, sc->path);
        return HTTP_NOT_FOUND;
    }
    if (!r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(01128)
                      "no authenticated user for %s: configure authentication "
                      "(AuthType, Require) for %s", r->uri, sc->path);
        return HTTP_UNAUTHORIZED;
    }
    if ((bad = jm_util_utf8_check(r->user)) != JM_UTF8_OK) {
        /* JMAP is I-JSON (RFC 7493): every string, the session's username
         * and account name included, is well-formed Unicode. (httpd escapes
         * the message for the error log: the name shows as caf\xe9.) */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, JMLOGNO_GLUE(07006)
                      "the user name \"%s\" %s: JMAP cannot represent it; "
                      "refusing %s (rename the user in the authentication "
                      "source)", r->user,
                      bad == JM_UTF8_INVALID ? "is not valid UTF-8"
                      : "contains control characters", r->uri);
        return problem(r, HTTP_FORBIDDEN, "forbidden", NULL,
                       bad == JM_UTF8_INVALID
                       ? "The account name cannot be represented in JMAP: it is "
                         "not valid UTF-8."
                       : "The account name cannot be represented in JMAP: it "
                         "contains control characters.");
    }
    sub = r->uri + plen;
    if (strcmp(sub, "/session") == 0 || strcmp(sub, "/session/") == 0
        || strcmp(sub, "") == 0 || strcmp(sub, "/") == 0) {
        return handle_session(r, sc, base);
    }
    if (strcmp(sub, "/api") == 0 || strcmp(sub, "/api/") == 0) {
        return handle_api(r, sc, base);
    }
    if (strncmp(sub, "/upload/", 8) == 0) {
        return handle_upload(r, sc, base, sub + 8);
    }
    if (strncmp(sub, "/download/", 10) == 0) {
        return handle_download(r, sc, base, sub + 10);
    }
    if (strcmp(sub, "/eventsource") == 0 || strcmp(sub, "/eventsource/") == 0) {
        return jm_eventsource_handle(r, sc);
    }
    return problem(r, HTTP_NOT_FOUND, "notFound", NULL, "No such JMAP resource.");
}
