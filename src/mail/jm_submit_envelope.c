/* The pure parts of EmailSubmission (RFC 8621 §7): envelope derivation,
 * address checks, Bcc removal from the bytes relayed, SMTP reply strings.
 * Unit test: t/unit/test_submit.c; fuzz target: t/fuzz/fuzz_submit.c. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "mail/jm_submission.h"
#include "mime/jm_mime_read.h"
#include "core/jm_util.h"

int jm_submit_valid_address(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    const unsigned char *s;

    if (!at || at == addr || !at[1] || strlen(addr) > 254) {
        return 0;
    }
    for (s = (const unsigned char *)addr; *s; s++) {
        /* what would break the RCPT TO line or is no address at all */
        if (*s <= ' ' || *s == 0x7f || strchr("<>()[]\\,;:\"", *s)) {
            /* a quoted local part is legal (RFC 5321 §4.1.2) but not
             * taken here: it would need quoting on the command line */
            return 0;
        }
    }
    return strchr(at + 1, '.') != NULL || !strcmp(at + 1, "localhost");
}

/* The address of a Sender or From field that holds exactly one. */
static int one_address(const char **paddr, const char *raw, apr_pool_t *p)
{
    apr_array_header_t *a = jm_mime_hdr_addresses(raw, 2, p);

    if (a->nelts != 1 || !*APR_ARRAY_IDX(a, 0, jm_mime_addr_t).email) {
        return 0;
    }
    *paddr = APR_ARRAY_IDX(a, 0, jm_mime_addr_t).email;
    return 1;
}

int jm_submit_derive(const char **pfrom, apr_array_header_t **prcpts,
                     const char **pwhy, const apr_array_header_t *hdrs,
                     int max_items, apr_pool_t *p)
{
    static const char *const rcpt_fields[] = { "to", "cc", "bcc", NULL };
    apr_array_header_t *rcpts = apr_array_make(p, 8, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(p);
    const char *sender = NULL, *from = NULL;
    int n_sender = 0, n_from = 0, i, j, k;

    *pfrom = "";
    *prcpts = rcpts;
    for (i = 0; i < hdrs->nelts; i++) {
        const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
        if (!strcasecmp(h->name, "sender")) {
            n_sender++;
            sender = h->raw;
        }
        else if (!strcasecmp(h->name, "from")) {
            n_from++;
            from = h->raw;
        }
    }
    /* §7: the last Sender, else the last From; several fields, or
     * several addresses in the one used, make the submission invalid */
    if (n_sender) {
        if (n_sender > 1 || !one_address(pfrom, sender, p)) {
            *pwhy = "sender";
            return -1;
        }
    }
    else if (n_from) {
        if (n_from > 1 || !one_address(pfrom, from, p)) {
            *pwhy = "from";
            return -1;
        }
    }
    for (k = 0; rcpt_fields[k]; k++) {
        for (i = 0; i < hdrs->nelts; i++) {
            const jm_hdr_t *h = &APR_ARRAY_IDX(hdrs, i, jm_hdr_t);
            apr_array_header_t *a;

            if (strcasecmp(h->name, rcpt_fields[k])) {
                continue;
            }
            a = jm_mime_hdr_addresses(h->raw, max_items, p);
            for (j = 0; j < a->nelts; j++) {
                const char *e = APR_ARRAY_IDX(a, j, jm_mime_addr_t).email;
                const char *key = jm_util_strlower(e, p);
                if (*e && !apr_hash_get(seen, key, APR_HASH_KEY_STRING)) {
                    apr_hash_set(seen, key, APR_HASH_KEY_STRING, e);
                    APR_ARRAY_PUSH(rcpts, const char *) = e;
                }
            }
        }
    }
    return 0;
}

/* Whether the header line at s (len bytes to the end) starts a Bcc field:
 * "Bcc" then optional white space (obsolete syntax) then ":". */
static int is_bcc_field(const char *s, apr_size_t len)
{
    apr_size_t i = 3;

    if (len < 4 || strncasecmp(s, "bcc", 3)) {
        return 0;
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i < len && s[i] == ':';
}

void jm_submit_strip_bcc(const char **pout, apr_size_t *plen, const char *raw,
                         apr_size_t len, apr_pool_t *p)
{
    char *out = NULL;
    apr_size_t pos = 0, n = 0;
    int dropping = 0;

    *pout = raw;
    *plen = len;
    while (pos < len) {
        const char *nl = memchr(raw + pos, '\n', len - pos);
        apr_size_t end = nl ? (apr_size_t)(nl - raw) + 1 : len;
        apr_size_t ll = end - pos;
        int blank = (ll == 1) || (ll == 2 && raw[pos] == '\r');

        if (blank) {
            break;                      /* the body starts: nothing more to drop */
        }
        if (raw[pos] != ' ' && raw[pos] != '\t') {
            dropping = is_bcc_field(raw + pos, ll);
        }
        if (dropping && !out) {
            out = apr_palloc(p, len + 1);
            memcpy(out, raw, pos);
            n = pos;
        }
        if (out && !dropping) {
            memcpy(out + n, raw + pos, ll);
            n += ll;
        }
        pos = end;
    }
    if (out) {
        memcpy(out + n, raw + pos, len - pos);
        n += len - pos;
        out[n] = '\0';
        *pout = out;
        *plen = n;
    }
}

/* Length of "ddd " and an optional enhanced status code "c.s.d " after it. */
static apr_size_t code_prefix(const char *l)
{
    apr_size_t i = 4;

    if (strlen(l) < 4 || !apr_isdigit(l[0]) || !apr_isdigit(l[1])
        || !apr_isdigit(l[2]) || (l[3] != ' ' && l[3] != '-')) {
        return 0;
    }
    if (apr_isdigit(l[i])) {
        apr_size_t j = i;
        int dots = 0;
        while (apr_isdigit(l[j]) || l[j] == '.') {
            dots += l[j] == '.';
            j++;
        }
        if (dots == 2 && l[j] == ' ') {
            i = j + 1;
        }
    }
    return i;
}

const char *jm_submit_join_reply(const apr_array_header_t *lines, apr_pool_t *p)
{
    char *first, *out;
    apr_size_t pre;
    int i;

    if (!lines->nelts) {
        return "";
    }
    first = apr_pstrdup(p, APR_ARRAY_IDX(lines, 0, const char *));
    pre = code_prefix(first);
    if (pre) {
        first[3] = ' ';
    }
    out = first;
    for (i = 1; i < lines->nelts; i++) {
        char *l = apr_pstrdup(p, APR_ARRAY_IDX(lines, i, const char *));
        apr_size_t k = 0;

        if (strlen(l) > 3 && l[3] == '-') {
            l[3] = ' ';
        }
        /* the prefix in common with the first line, within its code and
         * enhanced status (so no text is eaten) */
        while (k < pre && l[k] && l[k] == first[k]) {
            k++;
        }
        out = apr_pstrcat(p, out, " ", l + k, NULL);
    }
    return out;
}
