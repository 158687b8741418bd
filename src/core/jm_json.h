/* The one place jansson is included, plus pool ownership for json_t.
 *
 * Request-scoped JSON values are tied to an APR pool with jm_json_own():
 * the pool's cleanup drops the reference, so error paths cannot leak.
 */
#ifndef JM_JSON_H
#define JM_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/** Register a cleanup on p that json_decref()s j; returns j (NULL-safe). */
json_t *jm_json_own(apr_pool_t *p, json_t *j);

/** Compact serialisation into p (NUL-terminated); NULL on failure. */
const char *jm_json_dump(const json_t *j, apr_pool_t *p);

/** A JSON string of s (NULL: ""), never NULL: bytes that are not
 *  well-formed UTF-8 (a message quoting cut input, say) become U+FFFD,
 *  where json_string() would fail and take the whole answer with it. */
json_t *jm_json_text(const char *s);

/** Boolean-or-absent helper: 1 if found and boolean (value in *out),
 *  0 if absent, -1 if present but not a boolean. */
int jm_json_opt_bool(const json_t *obj, const char *key, int *out);

#endif
