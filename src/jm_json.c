/* jansson glue: pool ownership and small typed readers. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "jm_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *jm_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

const char *jm_json_dump(const json_t *j, apr_pool_t *p)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *out;

    if (!s) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

int jm_json_opt_bool(const json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);

    if (!v) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}
