/* Shared by the httpd glue files only. */
#ifndef MOD_JM_PRIVATE_H
#define MOD_JM_PRIVATE_H

#include <httpd.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA jmap_smime_module;
#ifndef JM_MODULE_MAIN   /* AP_DECLARE_MODULE defines the index there */
APLOG_USE_MODULE(jmap_smime);
#endif

/* Our own stable message tags ("JMnnnnn: "), never httpd's APLOGNO. */
#define JMLOGNO_GLUE(n) "JM" #n ": "

#endif
