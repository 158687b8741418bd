/* Shared by the unit tests that check their output with the openssl and
 * gpgsm command-line tools: run a shell command inside a scratch
 * directory. Header-only, like tap.h. */
#ifndef JM_TEST_SCRATCH_H
#define JM_TEST_SCRATCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Run a command inside dir; the command line and its output are appended
 * to dir/cmd.log. Returns the exit code (255 when it did not exit). */
static int scratch_sh(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int scratch_sh(const char *dir, const char *fmt, ...)
{
    char cmd[4096], full[8192];
    va_list ap;
    int rc;
    FILE *log;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s/cmd.log", dir);
    if ((log = fopen(full, "a"))) {
        fprintf(log, "$ %s\n", cmd);
        fclose(log);
    }
    snprintf(full, sizeof(full), "cd '%s' && ( %s ) >>cmd.log 2>&1 </dev/null", dir, cmd);
    rc = system(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

#endif
