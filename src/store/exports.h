/* exports.h -- segment export jobs and their file names (table exports:
 * sql/005_exports.sql).
 *
 * A job is known by its object_prefix, "<random uuid>-<unix seconds>" as
 * Braze makes them; its file is "<prefix>.zip" or "<prefix>.json.gz" in
 * the exports directory. The prefix is random (122 bits), so the file name
 * is also the download's only credential, like Braze's pre-signed URL.
 * Every function taking a db returns 0, BR_ENOTFOUND where said, or
 * BR_ESTORE. */
#ifndef BR_STORE_EXPORTS_H
#define BR_STORE_EXPORTS_H
#include "segments.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_EXPORTS_DIR "exports"  /* under the data directory */
#define STORE_EXPORT_PREFIX_MAX 64
#define STORE_EXPORT_NAME_MAX 80

enum { STORE_EXPORT_ZIP, STORE_EXPORT_GZIP };

typedef struct {
    int64_t id;
    char prefix[STORE_EXPORT_PREFIX_MAX];
    char segment_id[SEG_ID_LEN + 1];
    int format;     /* STORE_EXPORT_ZIP or _GZIP */
    char *fields;   /* JSON array text (malloc'd, like the strings below) */
    char *callback; /* NULL when none */
    char *url;
    int64_t created_at;
} store_export_job;

void store_export_job_free(store_export_job *j);

/* A new object_prefix for a request made at now_ms. */
void store_export_new_prefix(char out[STORE_EXPORT_PREFIX_MAX], int64_t now_ms);
/* The file name of a job: prefix + ".zip" or ".json.gz". */
void store_export_file_name(const char *prefix, int format, char out[STORE_EXPORT_NAME_MAX]);
/* The format of a file name that is exactly a prefix and an extension, or
 * -1 for anything else (so no other file can be named: "..", "/", staging
 * files, upper-case variants). */
int store_export_name_parse(const char *name);

/* Queues j (its id is assigned). BR_EEXPORTBUSY when the segment already
 * has a queued or running job; *busy_prefix (>= STORE_EXPORT_PREFIX_MAX
 * bytes, may be NULL) then names it. */
int store_export_insert(sqlite3 *db, store_export_job *j, char *busy_prefix);
/* Takes the oldest job that is queued, or running (left so by a previous
 * process), and marks it running at now_ms. BR_ENOTFOUND when none. */
int store_export_next(sqlite3 *db, int64_t now_ms, store_export_job *out);
/* Records the end of a job: done with its user count, or failed with why. */
int store_export_finish(sqlite3 *db, int64_t id, bool ok, int64_t users, const char *error, int64_t now_ms);
/* Records the callback's HTTP status (0: no answer). */
int store_export_callback(sqlite3 *db, int64_t id, int status);
/* The state of the job with this prefix ("queued", ...; malloc'd). */
int store_export_state(sqlite3 *db, const char *prefix, char **state);

#endif
