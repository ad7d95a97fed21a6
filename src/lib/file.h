/* file.h -- what durable writes of whole files need beside write(2). */
#ifndef BR_FILE_H
#define BR_FILE_H

/* fsync(2) of a file or a directory by its path (a directory: so that a
 * rename or a creation in it is durable). 0, or -1 with errno. */
int file_sync(const char *path);

#endif
