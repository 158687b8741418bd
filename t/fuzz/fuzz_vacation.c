/* fuzz_vacation: byte 0 = the case (bit 0: the sender replied to within
 * the period, bit 1: the recipient's wildcard identity, bit 2: a subject
 * of the settings, bit 3: an html body too), then the bytes of a delivered
 * message -> jm_vacation_msg_read (its header facts), jm_vacation_decide
 * (RFC 3834) and, when it says reply, jm_mime_autoreply_build. Checked: a
 * message with Auto-Submitted other than "no", a List-* field or
 * Precedence bulk/list/junk is never answered, nor one within the period;
 * a reply parses back with GMime, has exactly the header fields of an
 * automatic reply (no field from the original's bytes), one From (the
 * recipient), one To (the sender), Auto-Submitted: auto-replied. A
 * violation aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <gmime/gmime.h>
#include "fuzz_common.h"
#include "mail/jm_vacation.h"
#include "mime/jm_mime.h"

static void finding(const char *what)
{
    fprintf(stderr, "FINDING: %s\n", what);
    abort();
}

static const char *const reply_fields[] = {
    "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    NULL
};

static void check_reply(const char *data, apr_size_t len, const char *rcpt,
                        const char *from)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *pr = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(pr, NULL);
    GMimeHeaderList *hl;
    InternetAddressList *l;
    const char *v;
    int i, n, k;

    g_object_unref(pr);
    g_object_unref(s);
    if (!m) {
        finding("a reply GMime cannot parse");
    }
    hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
    n = g_mime_header_list_get_count(hl);
    for (i = 0; i < n; i++) {
        const char *name = g_mime_header_get_name(g_mime_header_list_get_header_at(hl, i));
        for (k = 0; reply_fields[k] && strcasecmp(reply_fields[k], name); k++) {
        }
        if (!reply_fields[k]) {
            finding("a header field in the reply that an automatic reply has not");
        }
    }
    v = g_mime_object_get_header(GMIME_OBJECT(m), "Auto-Submitted");
    if (!v || strcmp(v, "auto-replied")) {
        finding("a reply without Auto-Submitted: auto-replied");
    }
    l = g_mime_message_get_from(m);
    if (!l || internet_address_list_length(l) != 1
        || strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
               internet_address_list_get_address(l, 0))), rcpt)) {
        finding("the reply's From is not the recipient");
    }
    l = g_mime_message_get_to(m);
    if (!l || internet_address_list_length(l) != 1
        || strcasecmp(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
               internet_address_list_get_address(l, 0))), from)) {
        finding("the reply's To is not the sender");
    }
    g_object_unref(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

static int token_is(const char *v, const char *w)
{
    size_t n = strlen(w);

    while (*v == ' ' || *v == '\t') {
        v++;
    }
    return !strncasecmp(v, w, n) && (!v[n] || strchr("; \t(\r\n", v[n]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_array_header_t *own;
    jm_vacation_msg_t m;
    jm_vacation_t vac;
    jm_vacation_in_t in;
    jm_vac_decision_t d;
    jm_autoreply_t a;
    const char *out, *why;
    apr_size_t olen;
    apr_pool_t *p;
    unsigned mode;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    p = fz_run_pool();
    if (jm_vacation_msg_read(&m, apr_pstrmemdup(p, (const char *)data + 1, size - 1),
                             size - 1, p) != APR_SUCCESS) {
        fz_run_pool_done(p);
        return 0;
    }
    memset(&vac, 0, sizeof(vac));
    vac.enabled = 1;
    vac.subject = (mode & 4) ? "Away" : NULL;
    vac.text = "Back on Monday.";
    vac.html = (mode & 8) ? "<p>Back on Monday.</p>" : NULL;
    own = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(own, const char *) = (mode & 2) ? "*@example.com" : "alice@example.com";
    memset(&in, 0, sizeof(in));
    in.mail_from = "bob@example.org";
    in.rcpt = "alice@example.com";
    in.own = own;
    in.msg = &m;
    in.vac = &vac;
    in.now = apr_time_from_sec(1800000000);
    in.period = 86400;
    in.last_replied = (mode & 1) ? 1800000000 - 100 : 0;
    d = jm_vacation_decide(&in);
    if (d == JM_VAC_REPLY) {
        if ((m.auto_submitted && !token_is(m.auto_submitted, "no")) || m.list
            || (m.precedence && (token_is(m.precedence, "bulk")
                                 || token_is(m.precedence, "list")
                                 || token_is(m.precedence, "junk")))) {
            finding("a reply to a list, bulk or automatic message");
        }
        if (mode & 1) {
            finding("a second reply within the period");
        }
        memset(&a, 0, sizeof(a));
        a.from = in.rcpt;
        a.to = in.mail_from;
        a.subject = vac.subject;
        a.orig_subject = m.subject;
        a.text = vac.text;
        a.html = vac.html;
        a.in_reply_to = m.message_id;
        a.references = m.references;
        if (jm_mime_autoreply_build(&out, &olen, &a, &why, p) == APR_SUCCESS) {
            check_reply(out, olen, in.rcpt, in.mail_from);
        }
    }
    fz_run_pool_done(p);
    return 0;
}
