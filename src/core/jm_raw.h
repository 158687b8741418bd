/* Raw JSON fragments in a response: a method may answer a value as JSON
 * text it already has (Email/get copies the stored view's text,
 * mail/jm_email_get.c) instead of building a jansson tree that is only
 * serialised again.
 *
 * The value in the call's result is a stand-in: an ordinary json_t the
 * method makes (Email/get: {"id": ...}, so the /get framework can still
 * order the list by id) and registers here with its text. Everything
 * that handles the response knows the registry through ctx->raw:
 *
 *   - the dispatcher charges the text's length, not the stand-in's, to
 *     the response budget (jm_raw_size_bounded, as jm_json_size_bounded);
 *   - a result reference (RFC 8620 §3.7) into a response first turns the
 *     stand-ins under it back into parsed values (jm_raw_resolve), so a
 *     path such as /list/∗/threadId sees the whole object: the text is
 *     parsed only when a later call of the request looks into it;
 *   - the writer serialises the response with jm_raw_dump, which writes
 *     each stand-in's text where the stand-in is (and the rest as
 *     json_dumps(JSON_COMPACT) does).
 *
 * ctx->raw NULL (unit tests, fuzzers, any caller that wants a plain tree)
 * means no method makes a stand-in. The text must be one JSON value
 * json_loads() reads (Email/get checks it with core/jm_json_scan.h) and
 * live as long as the registry's pool; a stand-in is kept (a reference
 * held) until that pool is cleared, so its address is never reused while
 * it is registered. One registry per request, used by one thread.
 */
#ifndef JM_RAW_H
#define JM_RAW_H

#include <apr_pools.h>
#include "core/jm_json.h"

typedef struct jm_raw_t jm_raw_t;

/** A registry in p (the request pool). */
jm_raw_t *jm_raw_make(apr_pool_t *p);

/** Register stand_in for text[0..len); returns stand_in (the registry
 *  takes a reference of its own). */
json_t *jm_raw_add(jm_raw_t *raw, json_t *stand_in, const char *text,
                   apr_size_t len);

/** The text registered for v, its length in *plen (may be NULL); NULL if
 *  v is no stand-in (or raw is NULL). */
const char *jm_raw_text(const jm_raw_t *raw, const json_t *v, apr_size_t *plen);

/** Number of stand-ins registered and not resolved. */
int jm_raw_count(const jm_raw_t *raw);

/** jm_json_size_bounded (core/jm_budget.h) with each stand-in counted as
 *  its text. */
apr_size_t jm_raw_size_bounded(const jm_raw_t *raw, const json_t *j,
                               apr_size_t limit);

/** Replace, in tree (an object or array), every stand-in by the value
 *  its text parses to, and forget them. 0, or -1 if a text does not
 *  parse (that stand-in is left as it is). */
int jm_raw_resolve(jm_raw_t *raw, json_t *tree);

/** Compact serialisation of j into p with every stand-in written as its
 *  text; *plen its length. NULL on failure (out of memory, a value
 *  json_dumps cannot write). */
const char *jm_raw_dump(const jm_raw_t *raw, const json_t *j,
                        apr_size_t *plen, apr_pool_t *p);

/** For making such text: s (well-formed UTF-8, NUL-terminated) as a JSON
 *  string written as jansson writes it (JSON_COMPACT) at out, which has
 *  room for 6 * strlen(s) + 2 bytes; returns the end of what was written. */
char *jm_raw_quote(char *out, const char *s);

#endif
