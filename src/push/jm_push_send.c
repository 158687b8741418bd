/* The POST to the push service (RFC 8030 §5, RFC 8620 §7.2). */
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include "push/jm_push_send.h"
#include "push/jm_push_crypto.h"

void jm_push_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static apr_status_t free_easy(void *h)
{
    curl_easy_cleanup(h);
    return APR_SUCCESS;
}

static apr_status_t free_slist(void *l)
{
    curl_slist_free_all(l);
    return APR_SUCCESS;
}

/* the answer's body is not needed: read and drop it, at most 64 KiB */
static size_t discard(char *d, size_t size, size_t n, void *baton)
{
    apr_size_t *seen = baton;

    (void)d;
    *seen += size * n;
    return *seen > 65536 ? 0 : size * n;
}

apr_status_t jm_push_post(int *pstatus, const char **perr, const jm_push_conf_t *conf,
                          const jm_push_target_t *t, const void *body, apr_size_t len,
                          int encrypted, apr_pool_t *p)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL, *resolve = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    apr_size_t seen = 0;
    long status = 0;
    CURLcode rc;

    *pstatus = 0;
    if (!h) {
        return *perr = "cannot create a curl handle", APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, h, free_easy, apr_pool_cleanup_null);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, apr_psprintf(p, "TTL: %ld", conf->ttl));
    if (encrypted) {
        hdrs = curl_slist_append(hdrs, "Content-Encoding: aes128gcm");
    }
    if (conf->vapid_key) {
        /* RFC 8292 §2: exp at most 24 hours ahead; 12 hours here */
        const char *aud = jm_push_origin(t->url, p);
        const char *auth = aud ? jm_push_vapid_header(conf->vapid_key, aud,
            apr_time_sec(apr_time_now()) + 12 * 3600, conf->vapid_subject, p) : NULL;
        if (!auth) {
            curl_slist_free_all(hdrs);
            return *perr = "cannot sign the VAPID token", APR_EGENERAL;
        }
        hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "Authorization: ", auth, NULL));
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    apr_pool_cleanup_register(p, hdrs, free_slist, apr_pool_cleanup_null);
    if (t->resolve) {
        resolve = curl_slist_append(NULL, t->resolve);
        apr_pool_cleanup_register(p, resolve, free_slist, apr_pool_cleanup_null);
        curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    }
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (conf->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, conf->ca_file);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, conf->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &seen);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mod_jmap_smime");
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *pstatus = (int)status;
    if (rc != CURLE_OK && status == 0) {
        *perr = apr_pstrdup(p, *errbuf ? errbuf : curl_easy_strerror(rc));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
