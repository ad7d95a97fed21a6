/* archive.c -- zip archives with libzip (see archive.h). */
#include "archive.h"
#include "err.h"
#include "file.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* zip_open, saying why it failed ("cannot <what> <path>: ..."). */
static zip_t *open_zip(const char *path, int flags, const char *what, int *zerr) {
    zip_t *za = zip_open(path, flags, zerr);
    if (!za) {
        zip_error_t e;
        zip_error_init_with_code(&e, *zerr);
        log_error("archive: cannot %s %s: %s", what, path, zip_error_strerror(&e));
        zip_error_fini(&e);
    }
    return za;
}

int archive_zip(const char *path, const char *const *files, const char *const *names, size_t n) {
    int zerr;
    zip_t *za = open_zip(path, ZIP_CREATE | ZIP_TRUNCATE, "create", &zerr);
    if (!za) return BR_EIO;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_file(za, files[i], 0, -1);
        if (!src || zip_file_add(za, names[i], src, ZIP_FL_ENC_UTF_8) < 0) {
            log_error("archive: cannot add %s to %s: %s", files[i], path, zip_strerror(za));
            zip_source_free(src);
            zip_discard(za);
            return BR_EIO;
        }
    }
    /* The members are read and compressed here. An archive with no member
     * would be no file at all: callers always give at least one. */
    if (zip_close(za) < 0) {
        log_error("archive: cannot write %s: %s", path, zip_strerror(za));
        zip_discard(za);
        return BR_EIO;
    }
    if (file_sync(path) < 0) {
        log_error("archive: cannot sync %s: %s", path, strerror(errno));
        return BR_EIO;
    }
    return 0;
}

/* A member name we extract: relative, components of [A-Za-z0-9._-] not
 * starting with '.', at most one directory deep. Anything else could
 * write outside dir ("../x", "/etc/x") or somewhere unexpected. */
static bool safe_name(const char *s) {
    int depth = 0;
    for (const char *c = s;; c++) {
        if (c == s || c[-1] == '/') {
            if (*c == '.' || *c == '/' || !*c) return false;
        }
        if (!*c) return true;
        if (*c == '/' && ++depth > 1) return false;
        if (*c != '/' && *c != '.' && *c != '_' && *c != '-' && !isalnum((unsigned char)*c)) return false;
    }
}

static int extract(zip_t *za, zip_int64_t i, const char *name, const char *dir, const char *path) {
    char sub[PATH_MAX];
    const char *slash = strchr(name, '/');
    if (slash) {
        snprintf(sub, sizeof sub, "%s/%.*s", dir, (int)(slash - name), name);
        if (mkdir(sub, 0700) < 0 && errno != EEXIST) {
            log_error("archive: cannot create %s: %s", sub, strerror(errno));
            return BR_EIO;
        }
    }
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
    int fd = zf ? open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (!zf || fd < 0) {
        if (!zf) log_error("archive: %s: cannot read %s: %s", path, name, zip_strerror(za));
        else log_error("archive: cannot create %s: %s", out, strerror(errno));
        if (zf) zip_fclose(zf);
        return zf ? BR_EIO : BR_EINVAL;
    }
    char chunk[1 << 16];
    zip_int64_t n;
    int rc = 0;
    /* libzip checks the member's CRC when it reaches its end: a damaged
     * archive fails here, not silently. */
    while (rc == 0 && (n = zip_fread(zf, chunk, sizeof chunk)) > 0)
        for (zip_int64_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                log_error("archive: cannot write %s: %s", out, strerror(errno));
                rc = BR_EIO;
                break;
            }
            off += w;
        }
    if (rc == 0 && n < 0) {
        log_error("archive: %s: %s is damaged: %s", path, name, zip_file_strerror(zf));
        rc = BR_EINVAL;
    }
    if (rc == 0 && fsync(fd) < 0) {
        log_error("archive: cannot write %s: %s", out, strerror(errno));
        rc = BR_EIO;
    }
    close(fd);
    zip_fclose(zf);
    return rc;
}

int archive_unzip(const char *path, const char *dir) {
    int zerr;
    zip_t *za = open_zip(path, ZIP_RDONLY | ZIP_CHECKCONS, "read", &zerr);
    if (!za) return zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ || zerr == ZIP_ER_MEMORY ? BR_EIO : BR_EINVAL;
    zip_int64_t n = zip_get_num_entries(za, 0);
    int rc = 0;
    for (zip_int64_t i = 0; rc == 0 && i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_GUESS);
        if (!name || !safe_name(name)) {
            log_error("archive: %s: a member named '%s' is not one we extract", path, name ? name : "?");
            rc = BR_EINVAL;
        } else {
            rc = extract(za, i, name, dir, path);
        }
    }
    zip_discard(za);
    return rc;
}
