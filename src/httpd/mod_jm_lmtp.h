/* LMTP delivery glue: a process_connection hook that speaks LMTP (RFC
 * 2033) on the connections of servers with `JMAPLMTP On`. */
#ifndef MOD_JM_LMTP_H
#define MOD_JM_LMTP_H

#include <httpd.h>

/** process_connection: DECLINED unless the connection's server has
 *  JMAPLMTP On; else runs the LMTP session to its end. */
int jm_lmtp_process_connection(conn_rec *c);

#endif
