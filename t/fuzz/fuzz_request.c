/* fuzz_request: bytes -> jm_request_process, the whole API request path:
 * JSON parsing, Request validation, result references, dispatch of every
 * registered method (Core/echo, Mailbox/get, Identity/get, Email/get,
 * Email/set with S/MIME) against the fake store (a real store on a
 * temporary SQLite database, see fuzz_common.c) and the in-memory
 * certificate directory.
 *
 * Input: a JSON request body. Before parsing, placeholders are replaced by
 * ids that exist in the store ($ACCOUNT, $MBOXn, $BLOBn, $MSGn, $PARTn,
 * $EMAILn, $IDENTn; see fz_subst), so mutated seeds keep reaching the
 * methods instead of stopping at accountNotFound / blobNotFound.
 * JM_FUZZ_AVOID_KNOWN=1 steps around the known crashes (see t/fuzz/README):
 * part blob ids are cut to message blob ids (jm_blob_fetch) and "#name"
 * arguments that are no ResultReference are dropped (resolve_references);
 * a notJSON problem that cannot be serialised is not reported again.
 * A hash of the input picks the S/MIME policy (cipher, RSA padding, legacy
 * display) and, for 1 input in 16, a read-only account.
 * After every input the database is restored to its first state when the
 * input changed it, so runs do not accumulate state.
 *
 * Checks beyond the sanitizers: a request-level problem and a response are
 * exclusive; the response serialises; it has one well-formed Invocation
 * per method call at least (RFC 8620 §3.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "core/jm_session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_store();
    return 0;
}

static void finding(const char *what, const char *body)
{
    fprintf(stderr, "FINDING: %s\nrequest: %.2000s\n", what, body);
    abort();
}

/* JM_FUZZ_AVOID_KNOWN: part blob ids ("G" + 64 hex + "_" + partId) reach
 * the known jm_blob_fetch crash when Email/set attaches them; cut them to
 * the message's blob id (in place) so the rest of the input still runs. */
static void cut_part_blob_ids(char *s, size_t *pn)
{
    size_t i, j, n = *pn;

    for (i = 65; i < n; ++i) {
        if (s[i] != '_' || s[i - 65] != 'G') {
            continue;
        }
        for (j = i - 64; j < i && s[j] && strchr("0123456789abcdef", s[j]); ++j)
            ;
        if (j != i) {
            continue;
        }
        for (j = i + 1; j < n && s[j] >= '0' && s[j] <= '9'; ++j)
            ;
        memmove(s + i, s + j, n - j + 1);
        n -= j - i;
    }
    *pn = n;
}

static void check_response(json_t *resp, const char *body, size_t n)
{
    json_t *req = json_loadb(body, n, JSON_DECODE_ANY, NULL);
    json_t *mr = json_object_get(resp, "methodResponses"), *inv;
    size_t ncalls = json_array_size(json_object_get(req, "methodCalls")), i;
    char *text;

    if (!json_is_array(mr) || json_array_size(mr) < ncalls) {
        json_decref(req);
        finding("fewer method responses than method calls", body);
    }
    json_decref(req);
    json_array_foreach(mr, i, inv) {
        if (!json_is_array(inv) || json_array_size(inv) != 3
            || !json_is_string(json_array_get(inv, 0))
            || !json_is_object(json_array_get(inv, 1))
            || !json_is_string(json_array_get(inv, 2))) {
            finding("a method response is not an Invocation [String, Object, String]",
                    body);
        }
    }
    if (!json_is_string(json_object_get(resp, "sessionState"))) {
        finding("response without sessionState", body);
    }
    if (!(text = json_dumps(resp, JSON_COMPACT))) {
        finding("the response does not serialise", body);
    }
    free(text);
}

/* JM_FUZZ_AVOID_KNOWN: a "#name" argument that is not a ResultReference or
 * comes with "name" itself reaches the known use after free in
 * resolve_references (the error text is formatted from a key of the
 * freed refs object); drop such arguments so the rest of the request
 * runs. The body is rewritten only when something was dropped. */
static const char *drop_bad_references(const char *body, size_t *pn, apr_pool_t *p)
{
    json_t *req = json_loadb(body, *pn, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    json_t *inv, *args, *ref;
    const char *key, *out = body;
    size_t i;
    void *tmp;
    int dropped = 0;

    json_array_foreach(json_object_get(req, "methodCalls"), i, inv) {
        if (!json_is_object(args = json_array_get(inv, 1))) {
            continue;
        }
        json_object_foreach_safe(args, tmp, key, ref) {
            if (key[0] == '#' && (json_object_get(args, key + 1)
                || !json_is_string(json_object_get(ref, "resultOf"))
                || !json_is_string(json_object_get(ref, "name"))
                || !json_is_string(json_object_get(ref, "path")))) {
                json_object_del(args, key);
                dropped = 1;
            }
        }
    }
    if (dropped) {
        char *t = json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY);
        if (t) {
            out = apr_pstrdup(p, t);
            *pn = strlen(out);
            free(t);
        }
    }
    json_decref(req);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_store_t *st = fz_store();
    apr_pool_t *p = fz_run_pool();
    jm_ctx_t *ctx = fz_ctx(p);
    jm_smime_policy_t policy = st->smime;
    uint32_t h = fz_hash(data, size);
    json_t *resp = NULL;
    jm_problem_t *pr = NULL;
    const char *body;
    size_t n;

    body = fz_subst((const char *)data, size, &n, p);
    /* the glue refuses bigger bodies before parsing (maxSizeRequest) */
    if ((long)n > st->limits.max_size_request) {
        goto done;
    }
    if (fz_avoid_known()) {
        cut_part_blob_ids((char *)body, &n);
        body = drop_bad_references(body, &n, p);
    }
    policy.enc.cipher = (h & 1) ? JM_CMS_AES256_CBC : JM_CMS_AES256_GCM;
    policy.enc.rsa_padding = (h & 2) ? JM_CMS_KT_RSA_OAEP : JM_CMS_KT_RSA_PKCS1;
    policy.legacy_display = !(h & 4);
    ctx->smime = &policy;
    ctx->account->read_only = (h >> 4) % 16 == 0;
    if ((h >> 8) % 8 == 0) {
        json_t *s = jm_session_build(ctx, "https://jmap.example.com", "/jmap", p);
        if (!s) {
            finding("jm_session_build returned NULL", "-");
        }
        ctx->session_state = jm_session_state(ctx, "https://jmap.example.com",
                                              "/jmap", p);
        json_decref(s);
    }

    jm_request_process(&resp, &pr, ctx, body, n);
    if (pr) {
        json_t *j;
        char *text = NULL;
        if (resp) {
            finding("both a problem and a response", body);
        }
        if (!pr->type || !pr->detail || pr->status < 400 || pr->status > 599) {
            finding("malformed request-level problem", body);
        }
        j = jm_problem_json(pr);
        if (!j && fz_avoid_known() && !strcmp(pr->type, "notJSON")) {
            /* known: jansson's error text quotes the input's bytes, cut
             * in the middle of a UTF-8 sequence (see regress/KNOWN) */
            goto done;
        }
        if (!j || !(text = json_dumps(j, JSON_COMPACT))) {
            finding("the problem does not serialise", body);
        }
        free(text);
        json_decref(j);
    }
    else if (!resp) {
        finding("neither a problem nor a response", body);
    }
    else {
        check_response(resp, body, n);
    }
    if (getenv("JM_FUZZ_SHOW_RESPONSE")) {
        char *t = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
        fprintf(stderr, "request: %.*s\nresponse: %s\n", (int)n, body,
                t ? t : pr ? pr->detail : "-");
        free(t);
    }
done:
    fz_run_pool_done(p);
    fz_store_reset();
    return 0;
}
