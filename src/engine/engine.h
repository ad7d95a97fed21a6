/* engine.h -- the owner of the in-memory profiles.
 *
 * Every command that reads or changes profiles runs as a store op on the
 * store's writer thread (store.h), so one thread owns the working set
 * (the Redis model) and a change is applied in memory and journaled in the
 * same group-committed transaction. A request is answered after that commit.
 *
 * Durability: each changing command appends its request body to `journal`;
 * engine_checkpoint_op() writes the profiles changed since the last
 * checkpoint and drops the journal up to there. engine_open() loads the
 * profiles and replays the journal tail, which recreates the exact state
 * (commands are deterministic given the body and the time they ran at).
 * If a commit fails after memory changed, memory is ahead of the disk: the
 * store aborts the process and the restart reloads the truth. */
#ifndef BR_ENGINE_H
#define BR_ENGINE_H
#include "../core/command.h"
#include "../core/names.h"
#include "../core/track.h"
#include "../core/users.h"
#include "../store/store.h"
#include <json-c/json.h>


typedef struct engine engine_t;

/* Loads the working set from the store (before store_start). */
int engine_open(store_t *store, engine_t **out);
void engine_free(engine_t *e);
users_t *engine_users(engine_t *e);
names_t *engine_names(engine_t *e);
/* Partner cohorts (core/cohort.h); engine thread only, like the users. */
struct cohorts *engine_cohorts(engine_t *e);
/* Segment columns (core/columns.h), kept current by the engine's change
 * hook; engine thread only. */
struct cols *engine_columns(engine_t *e);

/* A journaled command: the parsed body, the raw bytes to journal, and what
 * the command reports back. Run with store_submit/store_exec and
 * engine_command_op. */
typedef struct {
    engine_t *eng;
    int kind;
    json_object *body;
    const char *raw;
    size_t rawlen;
    int64_t now_ms;      /* set by the op */
    track_result track;  /* CMD_TRACK */
    json_object *result; /* other kinds: the command's answer fields */
} eng_command;

int engine_command_op(sqlite3 *db, void *arg);
void eng_command_free(eng_command *c);

/* Writes dirty profiles and truncates the journal when enough changed, or
 * always when *(bool *)... see eng_checkpoint. */
typedef struct {
    engine_t *eng;
    bool force;
    uint32_t written; /* out: profiles written */
} eng_checkpoint;
int engine_checkpoint_op(sqlite3 *db, void *arg);

/* Deletes up to ENG_TRIM_CHUNK journal rows already covered by a
 * checkpoint; run it until it deletes fewer (serve does, each second). */
#define ENG_TRIM_CHUNK 256
typedef struct {
    engine_t *eng;
    uint32_t deleted; /* out */
} eng_trim;
int engine_trim_op(sqlite3 *db, void *arg);

typedef struct {
    uint32_t rows, live, dirty;
    int64_t journal_pending;
    size_t memory;
} eng_stats;
eng_stats engine_stats(engine_t *e);

#endif
