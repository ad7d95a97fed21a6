/* engine.h -- the owner of the in-memory working set, on a thread of its own.
 *
 * Every change of state and every read of the working set is a command
 * (eng_cmd) submitted to one queue; the engine thread takes the commands
 * waiting, applies them to memory in order, and hands what changed to the
 * store as one batch (the Redis model, with a group commit behind it):
 *
 *   api/ parses a request into a typed command (core/track.h, ...)
 *     -> eng_submit() -> engine thread: apply to memory, producing change
 *        records (records.h: what changed, never what was asked) and
 *        outbox events -> one batch per turn of the loop -> store/ commits
 *        the batch (journal row, outbox, names, SQL writes; one fsync)
 *     -> each command's done() once its batch is durable.
 *
 * The engine does not wait for the commit: it goes on applying the next
 * commands while the store fsyncs the previous batch (pipelining), up to
 * ENG_MAX_INFLIGHT batches ahead. Reads (ENG_READ) run on the engine thread
 * between commands and are answered at once, never behind an fsync; a read
 * may therefore see a change whose commit is still in flight, but never
 * one that is not in the queue to disk ahead of it.
 *
 * Durability: brasa.db's journal holds every batch's records; a checkpoint
 * (ckpt.h) writes the profiles and cohorts changed since the last one to
 * profiles.db with the journal seq S they include, and journal rows up to a
 * committed S are trimmed. Start-up loads profiles.db and replays the
 * journal after S (format 2: records; format 1, from earlier versions:
 * request bodies, through the decoder api/ registers). If a batch's commit
 * fails, memory is ahead of the disk: the store turns failed (store.h), the
 * batch's commands and every later one are answered BR_ESTORE, and the
 * server exits so a restart reloads the truth. */
#ifndef BR_ENGINE_H
#define BR_ENGINE_H
#include "../core/cohort.h"
#include "../core/identity.h"
#include "../core/merge.h"
#include "../core/names.h"
#include "../core/subs.h"
#include "../core/track.h"
#include "../core/users.h"
#include "../store/store.h"

#define ENG_MAX_INFLIGHT 4 /* batches handed to the store and not yet durable */
/* Most writes in one batch (--commit-batch): a Currents event id is the
 * batch's seq << 16 | the write's index in it, so more would repeat ids. */
#define ENG_MAX_BATCH 65535

typedef struct engine engine_t;
typedef struct eng_cmd eng_cmd;

typedef enum {
    ENG_READ,         /* read(e, arg) on the engine thread; answered at once */
    ENG_STORE,        /* op(db, arg): a write of SQL-only state (keys, partners, segments, exports) in the next batch */
    ENG_TRACK,        /* arg: track_cmd */
    ENG_IDENTITY,     /* arg: identity_cmd; outcome: identity_cmd->n bytes */
    ENG_MERGE,        /* arg: merge_cmd; outcome: merge_cmd->n bytes */
    ENG_COHORT_NAME,  /* arg: cohort_cmd; result: cohort */
    ENG_COHORT_USERS, /* arg: cohort_cmd; result: cohort */
    ENG_SUBSCRIPTION, /* arg: subs_cmd (core/subs.h): email and group states */
} eng_kind;

struct eng_cmd {
    eng_kind kind;
    void *arg;
    int (*read)(engine_t *e, void *arg); /* ENG_READ */
    store_op_fn op;                      /* ENG_STORE */
    void (*done)(eng_cmd *c);            /* called once: engine thread (reads) or store thread (writes) */
    void *done_arg;
    bool between;                        /* ENG_READ: only between batches, never inside one */
    /* out */
    int rc;
    int64_t now_ms;         /* when it was applied */
    cohort_result cohort;   /* ENG_COHORT_* */
    uint8_t *outcome;       /* ENG_IDENTITY, ENG_MERGE: caller-owned, one byte per item */
    /* the engine's */
    eng_cmd *next;
};

/* Loads the working set from the store: names, profiles.db (or brasa.db's
 * old tables), cohorts, then the journal tail, then a checkpoint of it.
 * Before store_start(). BR_ESTORE (logged) on a read error or a journal
 * that does not decode: the server must not start on part of its data. */
int engine_open(store_t *store, engine_t **out);
/* Starts the engine thread (after store_start); until then eng_exec()
 * runs commands inline (the CLI, tests). */
int engine_start(engine_t *e);
/* Answers every command submitted so far, writes a last checkpoint when
 * `checkpoint`, and stops the thread. */
void engine_stop(engine_t *e, bool checkpoint);
void engine_free(engine_t *e);

/* Queues c (requires engine_start). c must stay valid until done runs. */
void eng_submit(engine_t *e, eng_cmd *c);
/* Submits c and waits for it; returns c->rc. Inline before engine_start. */
int eng_exec(engine_t *e, eng_cmd *c);
/* eng_exec of an ENG_READ / ENG_STORE command made of fn and arg. */
int eng_exec_read(engine_t *e, int (*fn)(engine_t *e, void *arg), void *arg);
int eng_exec_store(engine_t *e, store_op_fn op, void *arg);
/* Takes a checkpoint snapshot of everything applied so far (on the engine
 * thread) and hands it to the checkpoint thread; with wait, returns once it
 * is written (0) or failed (BR_ESTORE). For tests, and operators' tools. */
int engine_checkpoint_now(engine_t *e, bool wait);
/* Whether the store failed (see above): the server should exit. */
bool engine_failed(engine_t *e);

/* The working set, for ENG_READ functions (engine thread only). */
users_t *engine_users(engine_t *e);
names_t *engine_names(engine_t *e);
cohorts_t *engine_cohorts(engine_t *e);
/* Segment columns (core/columns.h), brought up to date for the rows
 * changed since the last call. */
struct cols *engine_columns(engine_t *e);
/* A connection for SQL reads on the engine thread (segments, listings). */
sqlite3 *engine_reader(engine_t *e);
/* The store and its data directory. */
store_t *engine_store(engine_t *e);
/* Queues a store op from the engine thread, answered by nobody (a segment
 * size recorded by a read): it runs with the next batch. free_arg, when
 * set, frees arg after it ran. */
void engine_write_later(engine_t *e, store_op_fn op, void *arg, void (*free_arg)(void *));

/* A format-1 journal row (a request body from an earlier version) turned
 * into a command, or BR_EINVAL when the body is not one this version can
 * read. Registered by api/legacy.c, which owns the request parsers; *c and
 * its arg are freed with free_cmd. */
typedef int (*eng_legacy_fn)(int kind, const char *body, size_t len, eng_cmd *c);
void engine_set_legacy(eng_legacy_fn decode, void (*free_cmd)(eng_cmd *c));

typedef struct {
    uint32_t rows, live, dirty;
    int64_t journal_pending; /* batches after the last committed checkpoint */
    int64_t journal_seq, checkpoint_seq; /* the newest batch; the one the last checkpoint covers */
    int64_t checkpoint_ms;   /* when that checkpoint committed (0: none since start) */
    size_t memory;
    uint64_t commands, batches; /* applied since start */
    uint64_t objects;        /* /users/track objects (attributes, events, purchases) applied since start */
} eng_stats;
/* Engine thread only (an ENG_READ), or before engine_start. */
eng_stats engine_stats(engine_t *e);

#endif
