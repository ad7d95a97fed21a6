/* file.c -- fsync by path (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int file_sync(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}
