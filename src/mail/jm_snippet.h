/* SearchSnippet (RFC 8621 §5): the subject and a section of the body with
 * the search terms of a text/subject/body filter marked. A pure helper:
 * SearchSnippet/get gives it the index's subject and body text.
 */
#ifndef JM_SNIPPET_H
#define JM_SNIPPET_H

#include <apr_pools.h>
#include <apr_tables.h>

/** At most this many octets of preview (RFC 8621 §5). */
#define JM_SNIPPET_PREVIEW_MAX 255

typedef struct {
    const char *subject;   /**< NULL when no term matches the subject */
    const char *preview;   /**< NULL when no term matches the body */
} jm_snippet_t;

/** The terms of a filter string: words split at whitespace, a "quoted
 *  phrase" kept as one term (const char*). */
apr_array_header_t *jm_snippet_terms(const char *filter, apr_pool_t *p);

/**
 * Mark every occurrence of the terms (case-insensitive, g_utf8_casefold
 * after NFC; overlapping or adjacent matches as one mark) with
 * <mark>...</mark>, everything else HTML-escaped (& < > " '). subject:
 * the whole subject; preview: a window of the body (whitespace runs as one
 * space) from a little before the first match, at most
 * JM_SNIPPET_PREVIEW_MAX octets with "..." where it was cut. Either text
 * may be NULL; invalid UTF-8 is repaired first. subject_terms and
 * body_terms (const char*) may be the same array, or NULL.
 */
void jm_snippet(jm_snippet_t *out, const char *subject, const char *body,
                const apr_array_header_t *subject_terms,
                const apr_array_header_t *body_terms, apr_pool_t *p);

#endif
