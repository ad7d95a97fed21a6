/* ckpt.h -- the checkpoint thread, which writes snapshots to profiles.db.
 *
 * The engine thread takes a snapshot (engine.c): the dirty profiles as
 * pointers to their blobs (immutable; users_retain() keeps replaced ones
 * alive until the write ends), the dirty cohorts serialized, and S, the
 * journal seq it includes. This thread waits until the journal is durable
 * up to S (a profiles.db ahead of brasa.db's journal would make the replay
 * skip rows), then writes it with store_ckpt_write() in one transaction.
 * Only then is S published (ckpt_durable) and may the journal up to S be
 * trimmed.
 *
 * One snapshot at a time. A failed write leaves the snapshot for
 * ckpt_poll(): the engine marks its rows dirty again, so they go out with
 * the next checkpoint. */
#ifndef BR_ENGINE_CKPT_H
#define BR_ENGINE_CKPT_H
#include "../store/checkpoint.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* A snapshot and what it owns (the cohort rows' strings and members). */
typedef struct {
    store_snapshot s;
    store_profile_row *profiles;
    store_cohort_row *cohorts;
    uint32_t *cohort_idx; /* each cohort's place in the registry */
} ckpt_snap;

void ckpt_snap_free(ckpt_snap *s);

typedef struct ckpt ckpt_t;

/* Opens (creating it) <dir>/profiles.db. durable(arg) answers the journal
 * seq that is durable in brasa.db; wait(arg, seq) blocks until it is at
 * least seq (or returns false when that will never happen). */
int ckpt_open(const char *dir, ckpt_t **out);
void ckpt_set_journal(ckpt_t *c, bool (*wait)(void *arg, int64_t seq), void *arg);
/* profiles.db's connection, for loading at start-up before ckpt_start(). */
sqlite3 *ckpt_db(ckpt_t *c);
/* S of the file (BR_ENOTFOUND: no checkpoint yet); sets ckpt_durable(). */
int ckpt_load_seq(ckpt_t *c, int64_t *seq);
int ckpt_start(ckpt_t *c);
/* Finishes the write in flight, if any, stops the thread, closes. */
void ckpt_close(ckpt_t *c);

/* Whether a snapshot is in flight. */
bool ckpt_busy(ckpt_t *c);
/* Hands a snapshot to the thread (none may be in flight). */
void ckpt_submit(ckpt_t *c, ckpt_snap *s);
/* Waits until no snapshot is in flight. */
void ckpt_wait(ckpt_t *c);
/* After a write ended: true once per ended write, with the snapshot in
 * *failed when it failed (the caller frees it), NULL when it was written. */
bool ckpt_poll(ckpt_t *c, ckpt_snap **failed);
/* The S of the last committed write: journal rows up to it may go. */
int64_t ckpt_durable(ckpt_t *c);
/* When that write committed (ms; 0: none since the process started). */
int64_t ckpt_durable_ms(ckpt_t *c);

#endif
