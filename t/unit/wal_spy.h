/* Store unit tests: what SQLite flushes, and when. The test program
 * defines fsync and fdatasync itself, so libsqlite3's calls come here
 * first (the executable's symbols are found before libc's); each call on
 * a file whose name ends in "-wal" is counted and, with wal_spy_db set,
 * probes whether another connection could start a write transaction at
 * that moment, i.e. whether the flush runs with the write lock given back.
 * wal_spy_fail makes the next WAL flush fail with EIO. */
#ifndef JM_TEST_WAL_SPY_H
#define JM_TEST_WAL_SPY_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

static int wal_spy_syncs;          /* flushes of a WAL file */
static int wal_spy_unlocked;       /* of which with the write lock free */
static int wal_spy_fail;           /* fail the next WAL flush */
static const char *wal_spy_db;     /* the database file to probe */
static int wal_spy_busy;           /* inside a probe */

static int wal_spy_is_wal(int fd)
{
    char link[64], path[4096];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if ((n = readlink(link, path, sizeof(path) - 1)) < 4) {
        return 0;
    }
    path[n] = '\0';
    return !strcmp(path + n - 4, "-wal");
}

static void wal_spy_probe(void)
{
    sqlite3 *h = NULL;

    wal_spy_busy = 1;
    if (sqlite3_open_v2(wal_spy_db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
        && sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
        wal_spy_unlocked++;
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(h);
    wal_spy_busy = 0;
}

static int wal_spy_sync(const char *name, int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);

    if (!wal_spy_busy && wal_spy_is_wal(fd)) {
        wal_spy_syncs++;
        if (wal_spy_fail) {
            wal_spy_fail = 0;
            errno = EIO;
            return -1;
        }
        if (wal_spy_db) {
            wal_spy_probe();
        }
    }
    return real(fd);
}

int fsync(int fd)
{
    return wal_spy_sync("fsync", fd);
}

int fdatasync(int fd)
{
    return wal_spy_sync("fdatasync", fd);
}

#endif
