/* segments.h -- SQL for segments and their daily sizes (tables segments,
 * segment_sizes: sql/004_segments.sql).
 *
 * Plain row access: what a definition means is core/segment.h, evaluating
 * one is engine/segments.h. Every function takes the connection to use.
 * Returns 0, BR_ENOTFOUND where said, or BR_ESTORE. */
#ifndef BR_STORE_SEGMENTS_H
#define BR_STORE_SEGMENTS_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define SEG_ID_LEN 36 /* a UUID */

typedef struct {
    char id[SEG_ID_LEN + 1];
    char *name, *tags, *definition, *description; /* malloc'd (store_segment_row_free) */
    int64_t created_at, updated_at, archived_at;
    int64_t size; /* -1 = never computed */
    int64_t size_at;
} store_segment_row;

void store_segment_row_free(store_segment_row *r);
/* A new random (version 4) UUID. */
void store_segment_new_id(char out[SEG_ID_LEN + 1]);
int store_segment_insert(sqlite3 *db, const store_segment_row *r);
/* Rewrites name, tags, definition, description, updated_at, archived_at. */
int store_segment_update(sqlite3 *db, const store_segment_row *r);
/* The row of id (archived too); BR_ENOTFOUND if none. */
int store_segment_get(sqlite3 *db, const char *id, store_segment_row *out);
/* Rows by creation time (then id), archived ones only if asked; offset and
 * limit page them. A malloc'd array (store_segment_rows_free). */
int store_segment_list(sqlite3 *db, bool archived, bool desc, int offset, int limit, store_segment_row **rows, int *n);
void store_segment_rows_free(store_segment_row *rows, int n);
/* Records the size computed at now_ms, and as the size of its day. */
int store_segment_size_put(sqlite3 *db, const char *id, int64_t size, int64_t now_ms);
/* Whether id has a size for day. */
/* Segments not archived (GET /metrics). */
int store_segment_count(sqlite3 *db, int64_t *n);
int store_segment_has_day(sqlite3 *db, const char *id, int64_t day, bool *has);
/* Sizes of days [from, to] ascending: days[i], sizes[i] (malloc'd). */
int store_segment_sizes(sqlite3 *db, const char *id, int64_t from, int64_t to, int64_t **days, int64_t **sizes, int *n);

#endif
