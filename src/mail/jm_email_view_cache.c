/* The stored default view of a message (see jm_email_view_cache.h). */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include "mail/jm_email_view_cache.h"
#include "mime/jm_mime.h"

/* The view is {"depth": D, "props": {...}}: D is the MIME depth limit the
 * part numbering was made with (§4.1.4 partIds depend on it), so a server
 * configured with another JMAPMaxMimeDepth parses instead. */
static int resolved_depth(int max_depth)
{
    return max_depth > 0 ? max_depth : jm_mime_default_limits.max_depth;
}

const char *jm_email_view_cache_make(const char *bytes, apr_size_t len,
                                     const char *blob_id, apr_pool_t *p)
{
    jm_email_view_opts_t o;
    json_t *props = NULL, *view;
    const char *bad = NULL, *out = NULL;
    char *text;

    memset(&o, 0, sizeof(o));
    o.blob_id = blob_id;
    if (jm_email_view_props(&props, bytes, len, &o, &bad, p) != APR_SUCCESS) {
        return NULL;
    }
    view = json_pack("{s:i, s:O}", "depth", resolved_depth(0), "props", props);
    if (view && (text = json_dumps(view, JSON_COMPACT))) {
        out = apr_pstrdup(p, text);
        free(text);
    }
    json_decref(view);
    return out;
}

int jm_email_view_cache_fits(const jm_email_view_opts_t *o, json_t *names)
{
    json_t *v;
    size_t i;

    if ((o->body_properties && !json_is_null(o->body_properties))
        || o->fetch_text_body_values || o->fetch_html_body_values
        || o->fetch_all_body_values) {
        return 0;
    }
    json_array_foreach(names, i, v) {
        if (!json_is_string(v) || !jm_email_view_is_default(json_string_value(v))) {
            return 0;
        }
    }
    return 1;
}

apr_status_t jm_email_view_cache_props(json_t **pprops, const char *view,
                                       json_t *names, int max_depth)
{
    json_t *root, *props, *out, *v, *val;
    size_t i;

    *pprops = NULL;
    if (!view || !*view || !(root = json_loads(view, 0, NULL))) {
        return APR_NOTFOUND;
    }
    props = json_object_get(root, "props");
    if (!json_is_object(props)
        || json_integer_value(json_object_get(root, "depth")) != resolved_depth(max_depth)) {
        json_decref(root);
        return APR_NOTFOUND;
    }
    out = json_object();
    json_array_foreach(names, i, v) {
        const char *n = json_string_value(v);

        if (n && (val = json_object_get(props, n))) {
            json_object_set(out, n, val);
        }
    }
    json_decref(root);
    *pprops = out;
    return APR_SUCCESS;
}

apr_status_t jm_email_view_cache_members(jm_json_member_t *out, int *pn,
                                         const char *view, int max_depth)
{
    jm_json_member_t top[2];
    const jm_json_member_t *depth, *props;
    char want[24];
    int n;

    *pn = 0;
    if (!view || !*view
        || jm_json_scan_members(view, strlen(view), JM_JSON_SCAN_DEPTH, top, 2, &n) != 0
        || !(depth = jm_json_member_find(top, n, "depth"))
        || !(props = jm_json_member_find(top, n, "props"))) {
        return APR_NOTFOUND;
    }
    apr_snprintf(want, sizeof(want), "%d", resolved_depth(max_depth));
    if (depth->value_len != strlen(want) || memcmp(depth->value, want, depth->value_len)
        || jm_json_scan_members(props->value, props->value_len, JM_JSON_SCAN_DEPTH - 1,
                                out, JM_EMAIL_VIEW_MEMBERS_MAX, pn) != 0) {
        *pn = 0;
        return APR_NOTFOUND;
    }
    return APR_SUCCESS;
}
