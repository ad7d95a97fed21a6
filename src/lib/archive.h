/* archive.h -- zip archives from files on disk, and back (libzip).
 *
 * The only file that includes zip.h, as bitmap.c is for CRoaring. The
 * members are read from disk while the archive is written, so building one
 * never holds a member in memory. */
#ifndef BR_ARCHIVE_H
#define BR_ARCHIVE_H
#include <stddef.h>

/* Writes a zip at path holding the n files files[i], deflated, under the
 * names names[i]. libzip writes a temporary file beside path and renames
 * it, so path is either whole or absent, and it is synced before this
 * returns (its directory is the caller's to sync); the caller may rename
 * it further.
 * Returns 0, or BR_EIO (logged). */
int archive_zip(const char *path, const char *const *files, const char *const *names, size_t n);

/* Extracts every member of the zip at path into the existing directory
 * dir, under its name (files are new: an existing one is an error), each
 * synced. Only plain names are taken: relative, [A-Za-z0-9._-] components
 * not starting with '.', at most one directory deep. Returns 0; BR_EINVAL
 * for an archive that is not a zip, is damaged (a member's CRC), or has a
 * name refused above; BR_EIO when a file cannot be read or written. Logs
 * why. What was extracted before a failure stays in dir for the caller to
 * remove. */
int archive_unzip(const char *path, const char *dir);

#endif
