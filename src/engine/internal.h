/* internal.h -- the engine's state, shared by its files: engine.c (the
 * thread, batches, checkpoints) and load.c (start-up). Nothing outside
 * src/engine includes it. */
#ifndef BR_ENGINE_INTERNAL_H
#define BR_ENGINE_INTERNAL_H
#include "ckpt.h"
#include "engine.h"
#include "../core/columns.h"

#include <pthread.h>
#include <stdatomic.h>

/* Marks of the engine in profile_t.flags, above PROFILE_DELETED. */
#define PROFILE_DIRTY 2u      /* changed since the last checkpoint snapshot */
#define PROFILE_COLS_STALE 4u /* its segment columns wait for engine_columns() */
#define PROFILE_BATCH 8u      /* changed in the batch being built: its record is due */

/* A list of rows, each at most once (a profile flag records membership). */
typedef struct {
    uint32_t *v;
    uint32_t n, cap;
} rowlist;

struct engine {
    store_t *store;
    users_t *users;
    names_t *names;
    cohorts_t *cohorts;
    subs_kept *kept;  /* the kept email states of addresses (core/subs.h) */
    cols_t *cols;     /* built after load + replay */
    rowlist dirty;    /* for the next checkpoint */
    rowlist stale;    /* for engine_columns() */
    rowlist batch;    /* for the batch being built */
    uint32_t names_saved; /* names below this id are in the names table */
    sqlite3 *reader;

    /* the journal */
    int64_t last_seq;         /* newest batch seq given out */
    _Atomic int64_t durable;  /* newest batch seq committed */
    int64_t loaded_seq;       /* start-up: the checkpoint loaded */
    uint64_t commands, batches;
    uint64_t objects;         /* /users/track objects applied (eng_stats) */
    int64_t recorded;         /* custom events and purchases the open batch put in the outbox */

    /* checkpoints */
    ckpt_t *ck;
    int64_t snap_seq;         /* S of the last snapshot taken */
    int64_t checkpoint_ms;    /* when it was taken */
    int64_t checkpoint_age_ms; /* the longest a change waits for one (BRASA_CHECKPOINT_MS) */
    size_t journal_bytes;     /* record bytes since then */
    bool retained;            /* users_retain() holds blobs for a snapshot in flight */
    bool upgrade;             /* loaded from brasa.db's old tables: write everything once */
    int64_t trimmed;          /* journal trimmed up to here (or a trim is queued for it) */
    atomic_bool trim_busy;    /* a trim op is queued or at the store (cleared when it ends, however) */
    atomic_bool trim_more;    /* the last one stopped at its chunk or did not commit: rows are left */

    /* the thread and its queue */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* engine: commands or stop */
    pthread_cond_t drained;   /* a batch became durable (back-pressure, journal waits) */
    eng_cmd *head, *tail;
    atomic_uint reads;        /* ENG_READ commands in the queue: served between writes */
    bool stopping;
    unsigned inflight;        /* batches at the store */
    struct later *later;      /* engine_write_later ops for the next batch */
};

void rowlist_add(rowlist *l, profile_t *p, uint32_t flag, uint32_t row);
/* The engine's touch hook: row changed (core/track.h and friends). */
void engine_touch(void *arg, uint32_t row);
/* Applies a profile or cohort command to memory; outbox NULL: no events
 * (a replay). */
void engine_apply(engine_t *e, eng_cmd *c, buf_t *outbox, uint64_t event_base);
/* Start-up (load.c): fills e from the store; e->store, names, cohorts, ck
 * and reader are set. */
int engine_load(engine_t *e);
/* store op: empties brasa.db's old checkpoint tables (store_drop_old_ckpt). */
int engine_drop_old_op(sqlite3 *db, void *arg);
/* Takes a checkpoint snapshot when due (or always with force) and hands
 * it to the checkpoint thread. */
void engine_checkpoint(engine_t *e, bool force);

#endif
