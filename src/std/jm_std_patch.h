/* /set values (RFC 8620 §5.3): "#creationId" references in Id values and
 * Id-map keys, PatchObject checks and application. */
#ifndef JM_STD_PATCH_H
#define JM_STD_PATCH_H

#include "std/jm_std_prop.h"

/** Reference resolution context. */
typedef struct {
    jm_call_t *call;
    apr_hash_t *pending;  /**< creation ids of this /set not created yet, or NULL */
    int deferred;         /**< set when a reference named one of those */
} jm_refs_t;

/** s resolved: "#cid" to its id (NULL if unknown; deferred set if pending). */
const char *jm_refs_id(jm_refs_t *r, const char *s);

/** v (the value of prop) with references resolved (new reference); an
 *  unknown reference is recorded in path as invalid. */
json_t *jm_refs_value(jm_refs_t *r, const jm_prop_t *prop, json_t *v,
                      jm_path_t *path);

typedef enum {
    JM_PATCH_OK = 0,
    JM_PATCH_INVALID_PATCH,    /**< invalidPatch, *pwhy says why */
    JM_PATCH_INVALID_PROPS     /**< invalidProperties, paths in path */
} jm_patch_status_t;

/** Check patch for the object id (current: the object, or NULL if the type
 *  cannot tell; then server-set and immutable properties may not be
 *  patched, "id" aside when equal). On JM_PATCH_OK, *presolved is the patch
 *  with references resolved (new reference). */
jm_patch_status_t jm_patch_check(json_t **presolved, jm_refs_t *r,
                                 const jm_prop_t *table, const char *id,
                                 const json_t *patch, const json_t *current,
                                 jm_path_t *path, const char **pwhy);

/** current with a checked patch applied (new reference); NULL with *pwhy
 *  when a path runs through a missing member, a non-object or an array.
 *  A null below the top level removes the member; at the top level the
 *  property is set to null, which the type reads as "its default". */
json_t *jm_patch_apply(const json_t *current, const json_t *patch,
                       const char **pwhy, apr_pool_t *p);

#endif
