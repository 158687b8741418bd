/* An automatic reply (RFC 3834 §3) as a message, built by the same code
 * Email/set uses (jm_mime_build) from the JMAP form of the Email. */
#include <string.h>
#include <apr_strings.h>
#include "mime/jm_mime.h"

/* RFC 3834 §3.1.5 / RFC 5322 §3.6.4: the original's References (or else
 * In-Reply-To) and its Message-ID; a long chain keeps its first id and
 * the most recent ones. */
#define MAX_REFS 20

static json_t *ref_ids(const jm_autoreply_t *a)
{
    json_t *refs = json_array();
    int i, n = a->references ? a->references->nelts : 0;

    for (i = 0; i < n; i++) {
        if (i == 0 || i >= n - (MAX_REFS - 2)) {
            json_array_append_new(refs, json_string(
                APR_ARRAY_IDX(a->references, i, const char *)));
        }
    }
    if (a->in_reply_to) {
        json_array_append_new(refs, json_string(a->in_reply_to));
    }
    return refs;
}

apr_status_t jm_mime_autoreply_build(const char **pdata, apr_size_t *plen,
                                     const jm_autoreply_t *a, const char **pwhy,
                                     apr_pool_t *p)
{
    json_t *c, *refs, *err = NULL, *values;
    jm_mime_msg_t *msg;
    apr_status_t rv;
    const char *subject = a->subject;

    *pwhy = NULL;
    if (!subject) {
        /* RFC 3834 §3.1.5: "Auto:" and the original subject */
        subject = a->orig_subject && *a->orig_subject
                  ? apr_pstrcat(p, "Auto: ", a->orig_subject, NULL)
                  : "Automatic reply";
    }
    c = json_pack("{s:[{s:s}], s:[{s:s}], s:s, s:s}",
                  "from", "email", a->from, "to", "email", a->to,
                  "subject", subject,
                  /* §5: the reply is automatic, an answer to a message */
                  "header:Auto-Submitted:asText", "auto-replied");
    if (!c) {
        *pwhy = "the addresses or subject are not valid UTF-8";
        return APR_EINVAL;
    }
    jm_json_own(p, c);
    if (a->in_reply_to) {
        json_object_set_new(c, "inReplyTo", json_pack("[s]", a->in_reply_to));
    }
    refs = ref_ids(a);
    if (json_array_size(refs)) {
        json_object_set_new(c, "references", refs);
    }
    else {
        json_decref(refs);
    }
    values = json_object();
    if (a->text || !a->html) {
        json_object_set_new(c, "textBody", json_pack("[{s:s, s:s}]", "partId", "t",
                                                     "type", "text/plain"));
        json_object_set_new(values, "t", json_pack("{s:s}", "value", a->text ? a->text
            : "I am away and will read your message when I am back."));
    }
    if (a->html) {
        json_object_set_new(c, "htmlBody", json_pack("[{s:s, s:s}]", "partId", "h",
                                                     "type", "text/html"));
        json_object_set_new(values, "h", json_pack("{s:s}", "value", a->html));
    }
    json_object_set_new(c, "bodyValues", values);
    if ((rv = jm_mime_build(&msg, c, NULL, NULL, NULL, &err, p)) != APR_SUCCESS) {
        *pwhy = err ? json_string_value(json_object_get(err, "description")) : NULL;
        *pwhy = *pwhy ? apr_pstrdup(p, *pwhy) : "the message cannot be built";
        return rv;
    }
    return jm_mime_to_bytes(pdata, plen, msg, p);
}
