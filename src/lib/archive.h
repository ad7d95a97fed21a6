/* archive.h -- zip archives from files on disk (libzip).
 *
 * The only file that includes zip.h, as bitmap.c is for CRoaring. The
 * members are read from disk while the archive is written, so building one
 * never holds a member in memory. */
#ifndef BR_ARCHIVE_H
#define BR_ARCHIVE_H
#include <stddef.h>

/* Writes a zip at path holding the n files files[i], deflated, under the
 * names names[i]. libzip writes a temporary file beside path and renames
 * it, so path is either whole or absent; the caller may rename it further.
 * Returns 0, or BR_EIO (logged). */
int archive_zip(const char *path, const char *const *files, const char *const *names, size_t n);

#endif
