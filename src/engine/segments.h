/* segments.h -- segment management and evaluation as store ops.
 *
 * Segments live in SQLite (store/segments.h), not in memory: the CLI may
 * create one while the server runs, and the server sees it at its next use.
 * Each op reads what it needs inside its own transaction on the writer
 * thread; evaluation (core/segment.h) runs there too, because that thread
 * owns the profiles. Shared by the admin API, the Braze endpoints and the
 * CLI. */
#ifndef BR_ENGINE_SEGMENTS_H
#define BR_ENGINE_SEGMENTS_H
#include "../lib/bitmap.h"
#include "../store/segments.h"
#include "engine.h"
#include <json-c/json.h>

#define SEGS_NAME_MAX 255
#define SEGS_TAGS_MAX 50

/* Looks up a referenced segment in db (a seg_resolve_fn; arg is the
 * sqlite3 *). Archived segments still resolve: a definition that used one
 * keeps meaning the same. */
int segs_resolve(void *db, const char *id, json_object **def, char **name);

/* Create (id NULL) or update a segment from a JSON object with "name",
 * "tags", "definition", "text_description" and, on update, "archived".
 * Checks everything, the definition with seg_compile() (cycles included).
 * Returns 0 and the segment as JSON (segs_json) in result; BR_EINVAL with
 * why; BR_ENOTFOUND for an unknown id; BR_ESTORE. */
typedef struct {
    const char *id;
    json_object *body;
    char new_id[SEG_ID_LEN + 1];
    char why[400];
    json_object *result;
} segs_write;
int segs_write_op(sqlite3 *db, void *arg);

/* Evaluates segment id against the engine's profiles: size (and the rows
 * when keep_rows), recorded as the segment's size of the day. BR_ENOTFOUND,
 * BR_EINVAL (why: a definition that no longer compiles), BR_ESTORE. */
typedef struct {
    engine_t *eng;
    const char *id;
    bool keep_rows;
    bitmap_t *rows; /* out, caller frees */
    int64_t size;
    double ms; /* evaluation time */
    char why[400];
} segs_eval;
int segs_eval_op(sqlite3 *db, void *arg);

/* The daily snapshot: sizes the live segments that have none for today,
 * for at most about SEGS_SNAPSHOT_BUDGET_MS of evaluation per op (at
 * least one segment), so the writer thread is never held long; `more`
 * says segments are left for another op. done: how many were sized. */
#define SEGS_SNAPSHOT_BUDGET_MS 20
typedef struct {
    engine_t *eng;
    int done;
    bool more;
} segs_snapshot;
int segs_snapshot_op(sqlite3 *db, void *arg);

/* A row as the admin API and the CLI show it: {"id", "name", "tags",
 * "definition", "description" (in words), "text_description",
 * "created_at", "updated_at", "archived", "size", "size_at"}. */
json_object *segs_json(sqlite3 *db, const store_segment_row *r);

#endif
