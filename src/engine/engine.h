/* engine.h -- the owner of the in-memory profiles.
 *
 * Every command that reads or changes profiles runs as a store op on the
 * store's writer thread (store.h), so one thread owns the working set
 * (the Redis model) and a change is applied in memory and journaled in the
 * same group-committed transaction. A request is answered after that commit.
 *
 * Durability: each changing command appends its request body to brasa.db's
 * `journal`. A checkpoint keeps the journal short without stalling the
 * writer: engine_checkpoint_op() only copies the profiles and cohorts
 * changed since the last one into a snapshot as of journal seq S (a few ms
 * for 100k profiles), and the checkpoint thread (ckpt.h) writes it to
 * <data dir>/profiles.db with checkpoint_seq = S in one transaction. Only
 * journal rows up to a committed S are trimmed (engine_trim_op).
 * engine_open() loads profiles.db and replays the journal after its S, which
 * recreates the exact state (commands are deterministic given the body and
 * the time they ran at); the state and S commit together, so no row is ever
 * replayed onto a state that already has it. A data directory from before
 * profiles.db is loaded from brasa.db's old tables once and moved over.
 * If a commit fails after memory changed, memory is ahead of the disk: the
 * store aborts the process and the restart reloads the truth. A failed
 * profiles.db write only marks its rows dirty again. */
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

/* Takes a checkpoint snapshot when enough changed (or always with force)
 * and hands it to the checkpoint thread once the op's transaction commits.
 * One snapshot is in flight at a time: while one is being written, the op
 * does nothing, or with force waits for it first (holding the writer: for
 * start-up and shutdown). The write itself is asynchronous: see
 * engine_checkpoint_wait(). */
typedef struct {
    engine_t *eng;
    bool force;
    uint32_t written;    /* out: profiles in the snapshot (0: none taken) */
    int64_t snapshot_us; /* out: time the writer thread spent on it */
    int64_t seq;         /* out: its S */
} eng_checkpoint;
int engine_checkpoint_op(sqlite3 *db, void *arg);
/* Waits until the snapshot in flight, if any, is written (or failed). Not
 * from an op: the writer thread hands snapshots over. */
void engine_checkpoint_wait(engine_t *e);
/* The S of the last checkpoint committed to profiles.db. */
int64_t engine_checkpoint_durable(engine_t *e);

/* Deletes up to ENG_TRIM_CHUNK journal rows covered by the last checkpoint
 * committed to profiles.db; run it until it deletes fewer (serve does,
 * each second). */
#define ENG_TRIM_CHUNK 256
typedef struct {
    engine_t *eng;
    uint32_t deleted; /* out */
} eng_trim;
int engine_trim_op(sqlite3 *db, void *arg);

typedef struct {
    uint32_t rows, live, dirty;
    int64_t journal_pending; /* journal rows after the last committed checkpoint */
    size_t memory;
} eng_stats;
eng_stats engine_stats(engine_t *e);

#endif
