/* archive.c -- zip archives with libzip (see archive.h). */
#include "archive.h"
#include "err.h"
#include "log.h"

#include <zip.h>

int archive_zip(const char *path, const char *const *files, const char *const *names, size_t n) {
    int zerr;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        log_error("archive: cannot create %s: %s", path, zip_error_strerror(&e));
        zip_error_fini(&e);
        return BR_EIO;
    }
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
    return 0;
}
