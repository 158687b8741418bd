/* HTML as the text a reader sees, for preview, search and snippets: the
 * RFC 8621 §4.1.4 preview and §4.4.1 body filter want the text "actually
 * presented to an end user", not markup.
 */
#ifndef JM_HTML_H
#define JM_HTML_H

#include <apr_pools.h>

/** Tags and comments become one space, the content of script, style and
 *  title elements is dropped, character references (&amp; &#233; &#xE9;
 *  and the common named ones) are decoded; &nbsp; is a space. A '<' not
 *  followed by a tag start is kept. Input and output are UTF-8. */
char *jm_html_text(const char *html, apr_pool_t *p);

#endif
