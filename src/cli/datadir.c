/* datadir.c -- what the commands share about a data directory as a whole:
 * the lock one server holds on it, and the staging directories that
 * backup and restore build beside their targets (see cli.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int cli_lock_dir(const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/brasa.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (fd >= 0 && ftruncate(fd, 0) < 0) { /* a stopped server's URL is no one's */
        close(fd);
        return -1;
    }
    return fd;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void cli_rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }
