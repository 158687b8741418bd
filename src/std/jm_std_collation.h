/* String collations for /query sorts (RFC 4790 registry names). */
#ifndef JM_STD_COLLATION_H
#define JM_STD_COLLATION_H

#include <apr_pools.h>

typedef enum {
    JM_COLL_UNICODE_CASEMAP,  /**< i;unicode-casemap (RFC 5051): the default */
    JM_COLL_ASCII_CASEMAP,    /**< i;ascii-casemap (RFC 4790 §9.2) */
    JM_COLL_ASCII_NUMERIC,    /**< i;ascii-numeric (RFC 4790 §9.1) */
    JM_COLL_OCTET             /**< i;octet (RFC 4790 §9.3) */
} jm_collation_t;

/** The names, NULL-terminated (for the session's collationAlgorithms). */
extern const char *const jm_collation_names[];

/** 1 and *pc if name is a supported collation. */
int jm_collation_find(const char *name, jm_collation_t *pc);

/** <0, 0, >0 as a sorts before, with, after b. */
int jm_collation_compare(jm_collation_t c, const char *a, const char *b);

/** The RFC 5051 key of s (casefolded, NFKD) in p: equal keys compare
 *  equal, and keys compare in octet order. s that is not UTF-8 is its own
 *  key. */
const char *jm_collation_unicode_key(const char *s, apr_pool_t *p);

#endif
