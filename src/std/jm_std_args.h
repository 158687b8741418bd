/* Method arguments (RFC 8620 §3.6.2): each method names the arguments it
 * knows, with type and whether required; anything else, a wrong type or a
 * missing required one is invalidArguments naming the argument. */
#ifndef JM_STD_ARGS_H
#define JM_STD_ARGS_H

#include "core/jm_request.h"
#include "std/jm_std_prop.h"

#define JM_ARG_REQUIRED 0x1
#define JM_ARG_NULLABLE 0x2    /**< null stands for "not given" */

/** One argument; a table ends with a row whose name is NULL. */
typedef struct {
    const char *name;
    jm_ptype_t type;
    unsigned flags;
} jm_arg_t;

/** Check call->args against std (the standard method's arguments) and
 *  extra (the type's own, may be NULL). "accountId" is always known: the
 *  dispatch checks it. Sets invalidArguments and returns 0 on bad input. */
int jm_args_check(jm_call_t *call, const jm_arg_t *std, const jm_arg_t *extra);

/** For methods that take no accountId (RFC 8620 §7.2.1, §7.2.2): 0 with
 *  invalidArguments set when the call has one. */
int jm_args_no_account(jm_call_t *call);

/** Argument name, NULL when absent or null. */
json_t *jm_args_get(const jm_call_t *call, const char *name);

/** Read an Int/UnsignedInt/Boolean argument already checked, or dflt. */
apr_int64_t jm_args_int(const jm_call_t *call, const char *name, apr_int64_t dflt);
int jm_args_bool(const jm_call_t *call, const char *name, int dflt);
const char *jm_args_str(const jm_call_t *call, const char *name);

#endif
