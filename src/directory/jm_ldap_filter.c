/* The pure parts of the directory client: LDAP URL and filter template
 * checks and filter building (RFC 4515 escaping by libldap). Apart from
 * jm_ldap.c so that the fuzz targets, which replace the network client
 * with an in-memory directory (t/fuzz/fake_ldap.c), use these as they are. */
#include <string.h>
#include <apr_strings.h>
#include <ldap.h>
#include "directory/jm_ldap.h"

int jm_ldap_url_ok(const char *url)
{
    LDAPURLDesc *lud = NULL;
    int ok;

    if (!url || !*url || !ldap_is_ldap_url(url)) {
        return 0;
    }
    if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS) {
        return 0;
    }
    ok = lud->lud_scheme && (!strcasecmp(lud->lud_scheme, "ldap")
                             || !strcasecmp(lud->lud_scheme, "ldaps")
                             || !strcasecmp(lud->lud_scheme, "ldapi"));
    ldap_free_urldesc(lud);
    return ok;
}

int jm_ldap_filter_template_ok(const char *tmpl)
{
    const char *s;
    int n = 0;

    if (!tmpl || !*tmpl) {
        return 0;
    }
    for (s = tmpl; *s; ++s) {
        if (*s != '%') {
            continue;
        }
        if (s[1] != 's') {
            return 0;   /* a stray '%' would be a trap for later edits */
        }
        ++n;
        ++s;
    }
    return n == 1;
}

apr_status_t jm_ldap_filter(const char **pfilter, const char *tmpl,
                            const char *value, apr_pool_t *p)
{
    struct berval in, out = { 0, NULL };
    const char *at;

    if (!jm_ldap_filter_template_ok(tmpl) || !value) {
        return APR_EINVAL;
    }
    in.bv_val = (char *)value;
    in.bv_len = strlen(value);
    if (ldap_bv2escaped_filter_value(&in, &out) != 0) {
        return APR_ENOMEM;
    }
    at = strstr(tmpl, "%s");
    *pfilter = apr_pstrcat(p, apr_pstrmemdup(p, tmpl, (apr_size_t)(at - tmpl)),
                           out.bv_val ? out.bv_val : "", at + 2, NULL);
    ber_memfree(out.bv_val);
    return APR_SUCCESS;
}
