/* What storing given bytes as an Email needs to know of them first
 * (Email/import, Email/parse): is it a message at all, and when was it
 * received. */
#include <string.h>
#include "mime/jm_mime_int.h"

/* RFC 8621 §4.8: receivedAt defaults to "the time of the most recent
 * Received header", the topmost one (RFC 5321 §4.4 prepends them); its
 * date follows the last ";" (RFC 5321 §4.4 Time-stamp-line). */
static apr_time_t received_time(GMimeMessage *m)
{
    const char *v = g_mime_object_get_header((GMimeObject *)m, "Received");
    const char *semi = v ? strrchr(v, ';') : NULL;
    GDateTime *dt;
    apr_time_t t = 0;

    if (!semi || !(dt = g_mime_utils_header_decode_date(semi + 1))) {
        return 0;
    }
    if (g_date_time_to_unix(dt) > 0) {
        t = apr_time_from_sec(g_date_time_to_unix(dt));
    }
    g_date_time_unref(dt);
    return t;
}

int jm_mime_message_info(apr_time_t *preceived, const char *raw, apr_size_t len,
                         apr_pool_t *p)
{
    GMimeMessage *m;

    if (preceived) {
        *preceived = 0;
    }
    /* GMime reads nearly anything that starts with a header block, broken
     * MIME included; what it cannot read at all (no header field first:
     * plain text, images, nothing) is no message */
    if (!len || !(m = jm_mime_parse_bytes(raw, len, p))) {
        return 0;
    }
    if (preceived) {
        *preceived = received_time(m);
    }
    return 1;
}
