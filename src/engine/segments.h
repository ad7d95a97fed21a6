/* segments.h -- segments: their SQL writes as store ops, their evaluation
 * as engine reads, and their JSON view.
 *
 * Segments live in SQLite (store/segments.h), not in memory: the CLI may
 * create one while the server runs, and the server sees it at its next use.
 * A create or update is a store op (run in a batch transaction, where the
 * definition is compiled against the segments it references); sizing one
 * is an engine read (ENG_READ: the engine thread owns the profiles), whose
 * size of the day is written afterwards. Shared by the admin API, the
 * Braze endpoints and the CLI. */
#ifndef BR_ENGINE_SEGMENTS_H
#define BR_ENGINE_SEGMENTS_H
#include "../lib/bitmap.h"
#include "../store/segments.h"
#include "engine.h"
#include <json-c/json.h>

#define SEGS_NAME_MAX 255
#define SEGS_TAGS_MAX 50
#define SEGS_DESCRIPTION_MAX 10000
/* Bytes of a definition as JSON: with core/segment.h's counts (filters,
 * depth, values per list) this bounds the work of compiling one, which
 * every evaluation repeats, whatever the server's --max-body. */
#define SEGS_DEFINITION_MAX (256 * 1024)

/* Looks up a referenced segment through db, a sqlite3 * (a seg_resolve_fn).
 * Archived segments still resolve: a definition that used one keeps
 * meaning the same. */
int segs_resolve(void *db, const char *id, json_object **def, char **name);

/* A create (id NULL) or an update of the fields that are set, checked by
 * api/segments.c. The op compiles the definition (cycles included) and
 * answers 0 with the segment as JSON (segs_json) in result; BR_EINVAL with
 * why; BR_ENOTFOUND for an unknown id. */
typedef struct segs_write {
    const char *id;
    const char *name;        /* NULL: unchanged */
    json_object *tags;       /* a checked array; NULL: unchanged ([] on create) */
    const char *description; /* NULL: unchanged */
    int archived;            /* -1: unchanged */
    json_object *definition; /* NULL: unchanged (required on create) */
    /* out */
    char new_id[SEG_ID_LEN + 1];
    char why[400];
    json_object *result;
} segs_write;
int segs_write_op(sqlite3 *db, void *arg);

/* ENG_READ: evaluates segment id against the profiles: size (and the rows
 * when keep_rows), recorded as the segment's size of the day. BR_ENOTFOUND,
 * BR_EINVAL (why: a definition that no longer compiles). */
typedef struct {
    const char *id;
    bool keep_rows;
    bitmap_t *rows; /* out, caller frees */
    int64_t size;
    double ms;      /* evaluation time */
    char why[400];
} segs_eval;
int segs_eval_read(engine_t *e, void *arg);

/* ENG_READ: evaluates a definition given as JSON, with no segment row and
 * no size recorded (the Global Control Group, core/gcg.h; a segment
 * previewed before it is saved, compiled as a new segment's would be).
 * rows: out, caller frees; description: with describe, the definition in
 * words (out, caller frees); BR_EINVAL with why for a definition that does
 * not compile. */
typedef struct {
    json_object *def;
    bool describe;
    bitmap_t *rows;
    char *description;
    char why[400];
} segs_eval_json;
int segs_eval_json_read(engine_t *e, void *arg);

/* ENG_READ, the daily snapshot: sizes the live segments that have none for
 * today, for at most about SEGS_SNAPSHOT_BUDGET_MS of evaluation per
 * command (at least one segment), so the engine is never held long; `more`
 * says segments are left for another, from `offset` on (sizes are written
 * after the command, so the next one cannot rely on seeing them). done:
 * how many were sized. */
#define SEGS_SNAPSHOT_BUDGET_MS 20
typedef struct {
    int offset; /* in/out: where in the list of live segments to go on (0: the start) */
    int done;
    bool more;
} segs_snapshot;
int segs_snapshot_read(engine_t *e, void *arg);

/* ENG_READ helper: why each of n rows is in each live segment or not.
 * out[i] gets a new array, for rows[i], of {"id", "name", "member",
 * "filters": [{"description", "matched"}]}: the segment's top-level
 * filters, each decided for that user (core/segment.h, seg_top_match); a
 * segment whose stored definition no longer compiles has "member": false,
 * "filters": [] and "error": why. Returns 0 or BR_ESTORE (out untouched). */
int segs_explain(engine_t *e, const uint32_t *rows, int n, json_object **out);

/* A row as the admin API and the CLI show it: {"id", "name", "tags",
 * "definition", "description" (in words), "text_description",
 * "created_at", "updated_at", "archived", "size", "size_at"}. */
json_object *segs_json(sqlite3 *db, const store_segment_row *r);

#endif
