/* Minimal TAP producer for the C unit tests (read by prove). */
#ifndef JM_TAP_H
#define JM_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n = 0, tap_failed = 0;

#define plan_no_plan() ((void)0)
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
    tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
    tap_is_int((long)(got), (long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)

static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    ++tap_n;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        ++tap_failed;
        printf("#   Failed test at %s line %d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

static int tap_is_str(const char *got, const char *want, const char *file,
                      int line, const char *name)
{
    int cond = (got == NULL && want == NULL)
        || (got && want && strcmp(got, want) == 0);
    tap_ok(cond, file, line, "%s", name);
    if (!cond) {
        printf("#          got: '%s'\n#     expected: '%s'\n",
               got ? got : "(null)", want ? want : "(null)");
    }
    return cond;
}

static int tap_is_int(long got, long want, const char *file, int line,
                      const char *name)
{
    int cond = got == want;
    tap_ok(cond, file, line, "%s", name);
    if (!cond) {
        printf("#          got: %ld\n#     expected: %ld\n", got, want);
    }
    return cond;
}

/** Print the plan at the end and return the exit status for main(). */
static int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
