/* Property tables for the standard methods (RFC 8620 §1.2-1.4, §5.1):
 * one row per property of a data type, with its type and flags; value
 * checks, the /get "properties" argument, projection. */
#ifndef JM_STD_PROP_H
#define JM_STD_PROP_H

#include <apr_hash.h>
#include "core/jm_request.h"
#include "std/jm_std_path.h"

typedef enum {
    JM_PT_ID,          /**< Id: 1-255 of A-Za-z0-9_- (§1.2) */
    JM_PT_STRING,
    JM_PT_BOOL,
    JM_PT_INT,         /**< -2^53+1 .. 2^53-1 (§1.3) */
    JM_PT_UINT,        /**< 0 .. 2^53-1 */
    JM_PT_DATE,        /**< RFC 3339 date-time, offset allowed (§1.4) */
    JM_PT_UTCDATE,     /**< ends in "Z" */
    JM_PT_ID_MAP,      /**< Id[Boolean], values true (mailboxIds) */
    JM_PT_STRING_MAP,  /**< String[Boolean], values true (keywords) */
    JM_PT_OBJECT,
    JM_PT_ARRAY,
    JM_PT_ANY
} jm_ptype_t;

#define JM_PROP_SERVER_SET  0x01  /**< only the server sets it (§1.1) */
#define JM_PROP_IMMUTABLE   0x02  /**< set on create, never changed */
#define JM_PROP_NULLABLE    0x04  /**< null is a value */
#define JM_PROP_DEFAULT_GET 0x08  /**< returned when properties is null */
#define JM_PROP_ALWAYS_GET  0x10  /**< returned always ("id", §5.1) */
#define JM_PROP_FILTER      0x20  /**< usable as an equality FilterCondition */
#define JM_PROP_SORT        0x40  /**< usable as a Comparator property */

/** One property; a table ends with a row whose name is NULL. */
typedef struct {
    const char *name;
    jm_ptype_t type;
    unsigned flags;
} jm_prop_t;

/** The row named name, or NULL. */
const jm_prop_t *jm_prop_find(const jm_prop_t *table, const char *name);

/** RFC 8620 §1.3 ranges: 1 if v is an integer within them. */
int jm_prop_valid_int(const json_t *v, int is_unsigned);
/** RFC 8620 §1.4: an RFC 3339 date-time with upper-case T and Z, no
 *  fractional seconds of zero; utc requires "Z". 1 if valid. */
int jm_prop_valid_date(const char *s, int utc);

/** Check a non-null v against type; failures are recorded in path at its
 *  current position (a bad map entry at its own key). 1 if valid. */
int jm_ptype_check(jm_ptype_t type, const json_t *v, jm_path_t *path);
/** Check v as the value of prop: null is fine only if NULLABLE; records
 *  path/prop->name on failure. 1 if valid. */
int jm_prop_check(const jm_prop_t *prop, const json_t *v, jm_path_t *path);

/** Property names a type knows beyond its table (a family no table can
 *  list, such as Email's header:Name:form, RFC 8621 §4.1.3): 1 if name is
 *  one of them. */
typedef int jm_prop_name_fn(const char *name, apr_pool_t *p);

/** The "properties" argument of /get (§5.1): v NULL or null gives *pwant
 *  NULL (the defaults); otherwise a set of the names. A name neither in
 *  table nor accepted by extra (may be NULL), or a non-string, sets
 *  invalidArguments naming it and returns 0. */
int jm_prop_parse_list(apr_hash_t **pwant, jm_call_t *call,
                       const jm_prop_t *table, jm_prop_name_fn *extra,
                       const json_t *v, const char *argname,
                       const char *type_name);

/** Whether prop is returned for want (NULL: the DEFAULT_GET ones). */
int jm_prop_wanted(const jm_prop_t *table, apr_hash_t *want, const char *name);

/** A new object with only the wanted properties of obj (ALWAYS_GET ones
 *  always, and names of want outside the table: the type's extra names);
 *  obj is not changed. */
json_t *jm_prop_project(const json_t *obj, const jm_prop_t *table,
                        apr_hash_t *want);

#endif
