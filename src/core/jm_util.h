/* Small helpers with no better home: ids, time, base64, strings. */
#ifndef JM_UTIL_H
#define JM_UTIL_H

#include <apr_pools.h>
#include <apr_time.h>

/** A fresh random id: prefix + 24 base32 chars (RFC 8620 §1.2 "Id" charset). */
const char *jm_util_new_id(char prefix, apr_pool_t *p);

/** True if s is a valid RFC 8620 §1.2 Id (1..255 chars of A-Za-z0-9_-). */
int jm_util_is_valid_id(const char *s);

/** RFC 3339 UTCDate "2021-07-07T01:03:11Z". */
const char *jm_util_utcdate(apr_time_t t, apr_pool_t *p);

/** Parse a Date or UTCDate (RFC 8620 §1.4); 0 on success. */
int jm_util_parse_date(const char *s, int require_utc, apr_time_t *pt);

/** Standard base64 of data, no line breaks; NUL-terminated. */
const char *jm_util_base64(const void *data, apr_size_t len, apr_pool_t *p);
/** Decode standard base64; returns NULL on invalid input. */
const unsigned char *jm_util_unbase64(const char *b64, apr_size_t *plen, apr_pool_t *p);

/** Lower-case hex SHA-256 of data. */
const char *jm_util_sha256_hex(const void *data, apr_size_t len, apr_pool_t *p);

/** What jm_util_utf8_check found. */
#define JM_UTF8_OK      0
#define JM_UTF8_INVALID 1   /**< not well-formed UTF-8 (RFC 3629) */
#define JM_UTF8_CONTROL 2   /**< well-formed, but has a C0/C1 control or DEL */

/** Whether s is well-formed UTF-8 (RFC 3629: no overlong forms, no
 *  surrogates, nothing past U+10FFFF) without control characters. */
int jm_util_utf8_check(const char *s);

/** ASCII lower-case copy. */
char *jm_util_strlower(const char *s, apr_pool_t *p);

#endif
