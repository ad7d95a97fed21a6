/* exporter.h -- the worker behind POST /users/export/segment and
 * /users/export/global_control_group.
 *
 * One thread runs the jobs of table exports (store/exports.h) one at a
 * time, oldest first. A job evaluates its segment in one engine read (on
 * the engine thread, which owns the profiles), keeps the bitmap, then
 * builds the users' JSON lines in reads of `chunk` rows each, and writes each
 * chunk to disk from its own thread: the engine thread is held for one
 * chunk at a time and memory holds one chunk, whatever the segment's size.
 *
 * Files go to <data dir>/exports: "<prefix>.zip", one .json member of
 * newline-separated user objects per chunk (Braze's layout), or
 * "<prefix>.json.gz", one gzip stream. Each is built beside its final name
 * and renamed into place once complete, so a file that exists is whole.
 * When a job ends its callback_endpoint, if any, gets a POST. Files older
 * than ttl_hours are deleted. A stop between chunks leaves the job
 * 'running'; the next start runs it again from the start. */
#ifndef BR_EXPORTER_H
#define BR_EXPORTER_H
#include "../core/export.h"
#include "engine.h"

#define EXPORTER_CHUNK 5000
/* The segment id of a Global Control Group export: not a segment's (those
 * are UUIDs), so its jobs queue, and wait for each other, like one
 * segment's. Its users are those in the group when the job runs. */
#define EXPORTER_GCG_ID "global_control_group"

typedef struct exporter exporter_t;
struct gcg;

typedef struct {
    engine_t *engine; /* started */
    unsigned ttl_hours; /* 0: files are kept */
    unsigned chunk;     /* users per op and per zip member; 0: EXPORTER_CHUNK */
    const struct gcg *gcg; /* the Global Control Group (core/gcg.h); NULL: none */
} exporter_config;

/* Starts the thread, which begins with any job left queued or running
 * (the exports directory is created by the first job). Returns 0 or
 * BR_EINTERNAL. */
int exporter_start(const exporter_config *cfg, exporter_t **out);
/* Tells the thread a job was queued (else it looks each second). */
void exporter_kick(exporter_t *x);
/* The user object of row every export writes (/users/export/ids and the
 * segment files, the console's user page): the profile with the fields f
 * selects, its partner cohorts and the campaigns it received. In an
 * ENG_READ; the caller owns the object. */
json_object *exporter_user(engine_t *e, uint32_t row, const export_fields *f);
/* Stops at the end of the current chunk, joins and frees; NULL is a no-op. */
void exporter_free(exporter_t *x);

#endif
