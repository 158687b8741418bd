/* fuzz_submit: message bytes -> what EmailSubmission reads of a message
 * it sends (src/mail/jm_submit_envelope.c): the bytes relayed without Bcc
 * fields, the envelope derived from the header fields, each line also as
 * an SMTP reply and as an address. Checked: the relayed bytes are the
 * input with whole header lines removed (the body, from the first empty
 * line on, is the same), no header line left starts a Bcc field, and
 * every derived recipient is a non-empty address given once
 * (case-insensitively); the same bytes read as a delivered DSN or MDN
 * (src/mail/jm_submit_reports.c) name something when they are one, and
 * "displayed" only for an MDN. A violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "fuzz_common.h"
#include "mail/jm_submission.h"
#include "mime/jm_mime_read.h"
#include "core/jm_util.h"

static void finding(const char *what)
{
    fprintf(stderr, "FINDING: %s\n", what);
    abort();
}

/* Offset of the body: after the first empty line, or len. */
static size_t body_at(const char *s, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) + 1 : len;
        if (end - pos == 1 || (end - pos == 2 && s[pos] == '\r')) {
            return pos;
        }
        pos = end;
    }
    return len;
}

static void check_strip(const char *in, size_t len, apr_pool_t *p)
{
    const char *out;
    apr_size_t olen, bi = body_at(in, len), bo, pos = 0;

    jm_submit_strip_bcc(&out, &olen, in, len, p);
    if (olen > len) {
        finding("stripping made the message longer");
    }
    bo = body_at(out, olen);
    if (len - bi != olen - bo || memcmp(in + bi, out + bo, len - bi)) {
        finding("the body changed");
    }
    while (pos < bo) {
        const char *nl = memchr(out + pos, '\n', bo - pos);
        apr_size_t end = nl ? (apr_size_t)(nl - out) + 1 : bo;
        if (out[pos] != ' ' && out[pos] != '\t' && end - pos >= 4
            && !strncasecmp(out + pos, "bcc", 3)) {
            apr_size_t i = pos + 3;
            while (i < end && (out[i] == ' ' || out[i] == '\t')) {
                i++;
            }
            if (i < end && out[i] == ':') {
                finding("a Bcc field is left");
            }
        }
        pos = end;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_run_pool();
    const char *in = (const char *)data, *from, *why;
    apr_array_header_t *rcpts, *lines = apr_array_make(p, 4, sizeof(const char *));
    jm_mime_parsed_t *msg;
    apr_hash_t *seen = apr_hash_make(p);
    size_t pos = 0;
    int i;

    check_strip(in, size, p);
    if (jm_mime_read(&msg, in, size, 0, p) == APR_SUCCESS
        && jm_submit_derive(&from, &rcpts, &why, msg->hdrs, 100, p) == 0) {
        for (i = 0; i < rcpts->nelts; i++) {
            const char *a = APR_ARRAY_IDX(rcpts, i, const char *);
            const char *k = jm_util_strlower(a, p);
            if (!*a) {
                finding("an empty recipient");
            }
            if (apr_hash_get(seen, k, APR_HASH_KEY_STRING)) {
                finding("a recipient twice");
            }
            apr_hash_set(seen, k, APR_HASH_KEY_STRING, a);
            (void)jm_submit_valid_address(a);
        }
    }
    while (pos < size && lines->nelts < 64) {
        const char *nl = memchr(in + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - in) : size;
        const char *l = apr_pstrndup(p, in + pos, end - pos);
        APR_ARRAY_PUSH(lines, const char *) = l;
        (void)jm_submit_valid_address(l);
        pos = end + 1;
    }
    (void)jm_submit_join_reply(lines, p);
    /* the same bytes delivered: a DSN / MDN names a message it is about,
     * and what it names is text a store query can take */
    {
        jm_report_ref_t r;
        if (jm_submit_report_ref(&r, in, size, p)) {
            if (!r.envelope_id && !r.message_id) {
                finding("a report that names nothing");
            }
            if (r.displayed && (!r.mdn || !strchr(r.displayed, '@'))) {
                finding("displayed outside an MDN, or no address");
            }
            if (r.message_id && !*r.message_id) {
                finding("an empty Message-ID named");
            }
        }
    }
    fz_run_pool_done(p);
    return 0;
}
