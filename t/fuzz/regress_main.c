/* A plain main for a fuzz target (built with the normal compiler, without
 * libFuzzer): feeds every file named on the command line, or every file of
 * a directory named there (sorted, recursively one level is enough for
 * corpora), to LLVMFuzzerTestOneInput once, in one process.
 *
 * It prints "RUN <file>" before and "OK <file>" after each input, so a
 * crash names its input; t/fuzz/run-regress.sh turns that into TAP and
 * starts again after a crashing file. Exit status 0 when all ran.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    do {
        if (n + 65536 > cap) {
            cap = (n + 65536) * 2;
            buf = realloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    printf("RUN %s\n", path);
    fflush(stdout);
    /* exactly n bytes, like libFuzzer's copy, so over-reads are visible */
    {
        unsigned char *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    printf("OK %s\n", path);
    fflush(stdout);
    return 0;
}

static int run_path(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    int rc = 0;

    if (stat(path, &sb) != 0) {
        fprintf(stderr, "no such file: %s\n", path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        return run_file(path);
    }
    if (!(d = opendir(path))) {
        return 1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README")) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
        }
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        sprintf(names[n], "%s/%s", path, e->d_name);
        ++n;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp);
    for (i = 0; i < n; ++i) {
        if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            rc |= run_file(names[i]);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int i, rc = 0;

    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; ++i) {
        rc |= run_path(argv[i]);
    }
    printf("DONE\n");
    fflush(stdout);
    return rc;
}
