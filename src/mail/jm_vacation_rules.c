/* When to send a vacation reply (RFC 3834), as a pure function, and the
 * stored VacationResponse read for delivery. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "mail/jm_vacation.h"
#include "mail/jm_sendauth.h"
#include "core/jm_json.h"
#include "core/jm_util.h"

static const char *opt_string(json_t *o, const char *k, apr_pool_t *p)
{
    json_t *v = json_object_get(o, k);

    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

static int opt_date(apr_time_t *pt, json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    *pt = 0;
    if (!v || json_is_null(v)) {
        return 0;
    }
    return json_is_string(v) && !jm_util_parse_date(json_string_value(v), 1, pt)
           ? 0 : -1;
}

int jm_vacation_parse(jm_vacation_t *v, const char *data, apr_pool_t *p)
{
    json_t *o;
    int rc = 0;

    memset(v, 0, sizeof(*v));
    if (!data) {
        return 0;
    }
    o = json_loads(data, 0, NULL);      /* json_is_object evaluates it twice */
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    v->enabled = json_is_true(json_object_get(o, "isEnabled"));
    if (opt_date(&v->from, o, "fromDate") || opt_date(&v->to, o, "toDate")) {
        rc = -1;
    }
    v->subject = opt_string(o, "subject", p);
    v->text = opt_string(o, "textBody", p);
    v->html = opt_string(o, "htmlBody", p);
    json_decref(o);
    return rc;
}

/* The first token of a field value (before ";" or white space), compared
 * case-insensitively with word. */
static int token_is(const char *value, const char *word)
{
    size_t n = strlen(word);

    while (*value == ' ' || *value == '\t') {
        value++;
    }
    return strncasecmp(value, word, n) == 0
        && (!value[n] || value[n] == ';' || value[n] == ' ' || value[n] == '\t'
            || value[n] == '(' || value[n] == '\r' || value[n] == '\n');
}

/* RFC 3834 §2 / RFC 5230 §4.6: addresses that are mail systems or lists,
 * never people: MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request. */
static int system_sender(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);

    if ((n == 13 && !strncasecmp(addr, "mailer-daemon", 13))
        || (n == 8 && !strncasecmp(addr, "listserv", 8))
        || (n == 9 && !strncasecmp(addr, "majordomo", 9))
        || (n > 6 && !strncasecmp(addr, "owner-", 6))) {
        return 1;
    }
    return n > 8 && !strncasecmp(addr + n - 8, "-request", 8);
}

static int matches_any(const apr_array_header_t *own, const char *addr)
{
    int i;

    for (i = 0; own && i < own->nelts; i++) {
        if (jm_sendauth_match(APR_ARRAY_IDX(own, i, const char *), addr)) {
            return 1;
        }
    }
    return 0;
}

jm_vac_decision_t jm_vacation_decide(const jm_vacation_in_t *in)
{
    const jm_vacation_t *v = in->vac;
    const jm_vacation_msg_t *m = in->msg;
    const char *from = in->mail_from;
    int i, addressed = 0;

    if (!v || !v->enabled) {
        return JM_VAC_DISABLED;
    }
    /* §8: on or after fromDate, before toDate */
    if ((v->from && in->now < v->from) || (v->to && in->now >= v->to)) {
        return JM_VAC_OUTSIDE_DATES;
    }
    /* RFC 3834 §2: never answer a null reverse path */
    if (!from || !*from || !strcmp(from, "<>")) {
        return JM_VAC_NULL_SENDER;
    }
    if (!jm_sendauth_valid_address(from, 0)) {
        return JM_VAC_BAD_SENDER;
    }
    /* §5.2: anything but "no" was sent by a machine */
    if (m && m->auto_submitted && !token_is(m->auto_submitted, "no")) {
        return JM_VAC_AUTO_SUBMITTED;
    }
    if (m && m->list) {
        return JM_VAC_LIST;
    }
    if (m && m->precedence && (token_is(m->precedence, "bulk")
                               || token_is(m->precedence, "list")
                               || token_is(m->precedence, "junk"))) {
        return JM_VAC_BULK;
    }
    if (system_sender(from)) {
        return JM_VAC_SYSTEM_SENDER;
    }
    if ((in->rcpt && !strcasecmp(from, in->rcpt)) || matches_any(in->own, from)) {
        return JM_VAC_OWN_ADDRESS;
    }
    /* §3.1.1: only mail addressed to the person (not Bcc, not a list
     * that hides the recipients) */
    for (i = 0; m && m->to_cc && i < m->to_cc->nelts && !addressed; i++) {
        const char *a = APR_ARRAY_IDX(m->to_cc, i, const char *);
        addressed = (in->rcpt && !strcasecmp(a, in->rcpt)) || matches_any(in->own, a);
    }
    if (!addressed) {
        return JM_VAC_NOT_ADDRESSED;
    }
    if (in->last_replied > 0
        && apr_time_sec(in->now) - in->last_replied < in->period) {
        return JM_VAC_ALREADY_REPLIED;
    }
    return JM_VAC_REPLY;
}

const char *jm_vacation_decision_name(jm_vac_decision_t d)
{
    static const char *const names[] = {
        "reply", "disabled", "outside fromDate..toDate", "null sender",
        "Auto-Submitted", "mailing list", "Precedence bulk/list/junk",
        "system sender", "own address", "not addressed in To/Cc",
        "replied within the period", "unusable sender address"
    };

    return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "?";
}
