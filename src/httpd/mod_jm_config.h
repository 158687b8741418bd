/* Directives and per-server configuration (create, merge, getters). */
#ifndef MOD_JM_CONFIG_H
#define MOD_JM_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include "core/jm_request.h"
#include "directory/jm_certdir.h"
#include "smime/jm_keystore.h"
#include "httpd/mod_jm_webpush.h"
#include "mail/jm_submission.h"

/** LMTP delivery (src/httpd/mod_jm_lmtp.c); numbers -1 when unset. */
typedef struct {
    int enabled;                    /**< JMAPLMTP */
    int user_from;                  /**< JMAPLMTPRecipientUser: jm_deliver_user_t */
    apr_array_header_t *domains;    /**< JMAPLMTPDomains: const char*, lower-case */
    int create_accounts;            /**< JMAPLMTPAccounts create: 1 */
    long max_size;                  /**< JMAPLMTPMaxMessageSize, bytes */
    long timeout;                   /**< JMAPLMTPTimeout, seconds */
    long vacation_period;           /**< JMAPVacationPeriod, seconds */
} jm_lmtp_srv_conf_t;

/** Push over event source (src/httpd/mod_jm_eventsource.c); -1 unset. */
typedef struct {
    long max_connections;           /**< JMAPEventSourceMaxConnections, per process */
    long max_duration;              /**< JMAPEventSourceMaxDuration, seconds */
    long min_ping;                  /**< JMAPEventSourceMinPing, seconds */
} jm_es_srv_conf_t;

typedef struct jm_srv_conf_t {
    const char *base_url;           /**< JMAPBaseURL or NULL (from request) */
    const char *path;               /**< JMAPPath, default "/jmap" */
    jm_limits_t limits;             /**< -1 = unset */
    apr_array_header_t *send_as;    /**< jm_send_as_rule_t */
    apr_array_header_t *read_only_users; /**< const char*: JMAPReadOnlyUsers */
    apr_array_header_t *shares;     /**< jm_share_rule_t: JMAPShareAccount */
    jm_keystore_t *keystore;        /**< NULL: no signing keys */
    int sig_pad;                    /**< jm_cms_sig_pad_t or -1 */
    int cipher;                     /**< jm_cms_cipher_t or -1 */
    int kt_pad;                     /**< jm_cms_kt_pad_t or -1 */
    int legacy_display;             /**< -1 unset */
    int durability;                 /**< JMAPDurability: 0 full, 1 relaxed, -1 unset */
    jm_certdir_conf_t dir;          /**< pointers NULL / numbers -1 when unset */
    jm_lmtp_srv_conf_t lmtp;           /**< JMAPLMTP* (defaults applied by resolve) */
    jm_es_srv_conf_t es;            /**< JMAPEventSource* (defaults applied by resolve) */
    jm_push_srv_conf_t push;        /**< JMAPPush* (resolved in post_config) */
    jm_submit_conf_t submit;        /**< JMAPSubmission* (mod_jm_submit.c;
                                     *   defaults applied by resolve) */
    /* resolved at post_config / child_init: */
    jm_limits_t eff_limits;
    jm_smime_policy_t smime;
    jm_certdir_t *certdir;          /**< per process, built in child_init */
} jm_srv_conf_t;

extern const command_rec jm_config_cmds[];

void *jm_config_create_srv(apr_pool_t *p, server_rec *s);
void *jm_config_merge_srv(apr_pool_t *p, void *basev, void *addv);

/** Fill the effective values (defaults applied) of a merged config. */
void jm_config_resolve(jm_srv_conf_t *sc);

/** The server's configuration. */
jm_srv_conf_t *jm_config_get(server_rec *s);

#endif
