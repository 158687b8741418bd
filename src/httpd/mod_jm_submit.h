/* EmailSubmission glue: the JMAPSubmission* directives and the queue
 * worker, run by mod_watchdog (src/httpd/mod_jm_submit.c). */
#ifndef MOD_JM_SUBMIT_H
#define MOD_JM_SUBMIT_H

#include <httpd.h>
#include <http_config.h>
#include "mail/jm_submission.h"

/** Directive handlers (listed in jm_config_cmds); jm_submit_set_number
 *  takes the offset of a long in jm_submit_conf_t as cmd->info. */
const char *jm_submit_set_url(cmd_parms *cmd, void *d, const char *arg);
const char *jm_submit_set_starttls(cmd_parms *cmd, void *d, const char *arg);
const char *jm_submit_set_ca_file(cmd_parms *cmd, void *d, const char *arg);
const char *jm_submit_set_auth_file(cmd_parms *cmd, void *d, const char *arg);
const char *jm_submit_set_number(cmd_parms *cmd, void *d, const char *arg);

/** All unset (-1 / NULL). */
void jm_submit_conf_init(jm_submit_conf_t *c);
/** add over base. */
void jm_submit_conf_merge(jm_submit_conf_t *out, const jm_submit_conf_t *base,
                          const jm_submit_conf_t *add);
/** Defaults for what is unset. */
void jm_submit_conf_resolve(jm_submit_conf_t *c);

/** post_config: register the queue worker with mod_watchdog (when the main
 *  server has a relay). */
int jm_submit_post_config(apr_pool_t *pconf, server_rec *s);
/** child_init: libcurl, and the name this process's worker claims under. */
void jm_submit_child_init(apr_pool_t *pchild, server_rec *s);

#endif
