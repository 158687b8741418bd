/* A bounded scanner over JSON text that finds the members of an object
 * and the spans of their values without building anything, so a caller
 * can copy a stored value's text into an answer (core/jm_raw.h) instead
 * of parsing and serialising it again.
 *
 * It accepts a subset of what jansson's json_loads() accepts and refuses
 * everything else, so a span it gives is always JSON that json_loads()
 * (with JSON_DECODE_ANY) reads to the same value it gives inside the whole
 * text. Refused although json_loads() would read them: numbers with a
 * fraction or an exponent, integers of more than 18 digits (no overflow,
 * no rounding to think of), "\u0000" (jansson refuses it too), nesting
 * deeper than the caller's bound, and in jm_json_scan_members a member name
 * with an escape or given twice (json_loads keeps the last). Strings must
 * be well-formed UTF-8 (RFC 3629) without control characters, escapes
 * those of RFC 8259 §7 with surrogates only in pairs. Names inside nested
 * objects are not compared: the texts this is for are json_dumps() output.
 */
#ifndef JM_JSON_SCAN_H
#define JM_JSON_SCAN_H

#include <apr.h>

/** Nesting the callers allow (the stored Email view needs about 5). */
#define JM_JSON_SCAN_DEPTH 64

/** One member of an object: its name (between the quotes, no escapes) and
 *  its value's text, both pointing into the scanned text. */
typedef struct {
    const char *name;
    apr_size_t name_len;
    const char *value;
    apr_size_t value_len;
} jm_json_member_t;

/** 0 if text[0..len) is exactly one JSON value (whitespace around it
 *  allowed) of at most max_depth nested arrays/objects; -1 if not. */
int jm_json_scan_value(const char *text, apr_size_t len, int max_depth);

/** The members of the object that is the whole of text[0..len)
 *  (whitespace around it allowed) into out[0..max), their number in *pn.
 *  0 on success; -1 if the text is not such an object, has more than max
 *  members, nests deeper than max_depth (the object itself is depth 1),
 *  or has a member name with an escape or twice. */
int jm_json_scan_members(const char *text, apr_size_t len, int max_depth,
                         jm_json_member_t *out, int max, int *pn);

/** The value of member name among m[0..n), or NULL. */
const jm_json_member_t *jm_json_member_find(const jm_json_member_t *m, int n,
                                            const char *name);

#endif
