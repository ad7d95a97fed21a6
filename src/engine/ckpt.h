/* ckpt.h -- the checkpoint file (<data dir>/profiles.db) and the thread that
 * writes it.
 *
 * A checkpoint used to write every changed profile into brasa.db on the
 * store's writer thread, stalling every request for the whole write. Now
 * the writer only copies the changed rows into a snapshot (engine.c) and
 * this thread writes the snapshot to a second SQLite file, with its own
 * connection, while requests go on.
 *
 * profiles.db holds the state as of one journal seq S: tables profiles and
 * cohorts (the same columns as brasa.db's) and meta checkpoint_seq = S,
 * always written in one transaction, so the file never holds a change
 * without the seq that covers it (replaying a journal row onto a state that
 * already has it would count an increment twice). After the commit S is
 * published (ckpt_durable) and only then may brasa.db's journal up to S be
 * trimmed.
 *
 * It lives in engine/ rather than store/ because it owns a thread working
 * for the engine, like exporter.c; its SQL is this file's alone.
 *
 * One snapshot at a time: ckpt_reserve() claims the slot, ckpt_submit()
 * hands the snapshot over (after the transaction that took it committed),
 * and the slot is free again once the write ended. A failed write leaves
 * the snapshot for ckpt_take_failed(): the engine marks its rows dirty
 * again, so they go out with the next checkpoint. */
#ifndef BR_ENGINE_CKPT_H
#define BR_ENGINE_CKPT_H
#include "../store/partners.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* A profile row in a snapshot; its blob is data[off .. off+len). */
typedef struct {
    uint32_t row;
    uint8_t braze_id[12];
    uint32_t created, updated, flags; /* flags: 1 = deleted */
    size_t off;
    uint32_t len; /* 0 = no fields (NULL) */
} ckpt_profile;

/* A cohort in a snapshot: its whole row, members serialized; the strings
 * and members are owned by the snapshot. idx: its place in the registry. */
typedef struct {
    store_cohort_row r;
    uint32_t idx;
} ckpt_cohort;

typedef struct {
    int64_t seq; /* S: every journal row up to here, none after */
    ckpt_profile *profiles;
    uint32_t nprofiles;
    uint8_t *data; /* every blob, back to back */
    ckpt_cohort *cohorts;
    uint32_t ncohorts;
} ckpt_snap;

void ckpt_snap_free(ckpt_snap *s);

typedef struct ckpt ckpt_t;

/* Opens or creates <dir>/profiles.db (WAL, synchronous=FULL) and its
 * tables. Returns 0 or BR_EIO/BR_ESTORE. The thread is not started. */
int ckpt_open(const char *dir, ckpt_t **out);
/* Its connection, for loading at start-up before ckpt_start(). */
sqlite3 *ckpt_db(ckpt_t *c);
/* S of the file, or BR_ENOTFOUND for a file no checkpoint was written to
 * yet (a new store, or one made by a version without profiles.db). Also
 * sets what ckpt_durable() returns. Before ckpt_start(). */
int ckpt_load_seq(ckpt_t *c, int64_t *seq);
int ckpt_start(ckpt_t *c);
/* Finishes the write in flight, if any, stops the thread, closes. */
void ckpt_close(ckpt_t *c);

/* Claims the one snapshot slot; false if a snapshot is still in flight. */
bool ckpt_reserve(ckpt_t *c);
/* Hands a snapshot to the thread (slot reserved); ok = false gives it back
 * unwritten, as a failed write (its transaction did not commit). */
void ckpt_submit(ckpt_t *c, ckpt_snap *s, bool ok);
/* Waits until no snapshot is in flight. */
void ckpt_wait(ckpt_t *c);
/* The snapshot whose write failed, if any (the caller frees it). */
ckpt_snap *ckpt_take_failed(ckpt_t *c);
/* The S of the last committed write: journal rows up to it may go. */
int64_t ckpt_durable(ckpt_t *c);
/* Duration of the last write in microseconds and the profiles it wrote. */
void ckpt_last_write(ckpt_t *c, int64_t *us, uint32_t *profiles);

#endif
