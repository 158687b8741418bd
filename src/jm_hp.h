/* RFC 9788 header protection helpers used by jm_smime (header confidentiality
 * policy hcp_baseline, HP-Outer, legacy display). Defined by jm_smime's author. */
#ifndef JM_HP_H
#define JM_HP_H
#endif
