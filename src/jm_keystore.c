/* placeholder: being written */
typedef int jm_placeholder_jm_keystore;
