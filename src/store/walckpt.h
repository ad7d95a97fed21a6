/* walckpt.h -- WAL checkpoints of brasa.db off the writer thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past 1,000 pages: that commit copies ~4 MB into the database file and
 * fsyncs it, and every request waiting on the commit waits for that too
 * (measured under ingest: 5-35 ms every ~170 ms, the p99 of /users/track).
 * Instead the writer's connection has no automatic checkpoints: its WAL
 * hook wakes a thread that copies frames with PASSIVE checkpoints on a
 * connection of its own, at background priority (lib/thread.h), while
 * commits go on. Once a checkpoint has copied every frame, the next commit
 * starts the log from its beginning, as before. Should the WAL still reach
 * WALCK_MAX_PAGES (a writer faster than the thread, or a reader pinning an
 * old snapshot), the writer waits for the thread's run to end and
 * checkpoints in its own commit, as SQLite would: the WAL never grows
 * further than SQLite alone would let it. A failed checkpoint is logged and
 * loses nothing: the WAL just grows until the next one succeeds. */
#ifndef BR_STORE_WALCKPT_H
#define BR_STORE_WALCKPT_H
#include <sqlite3.h>
#include <stdint.h>

#define WALCK_PAGES 1000          /* frames that wake the thread (SQLite's automatic threshold) */
#define WALCK_MAX_PAGES 16384 /* 64 MiB with 4 KiB pages: the writer checkpoints itself */

typedef struct walck walck_t;

/* Takes over checkpoints of `writer`'s database, using `own` (a connection
 * to the same file, which the thread then owns). NULL if the thread cannot
 * start (then `own` is closed and SQLite's automatic checkpoints stay). */
walck_t *walck_start(sqlite3 *writer, sqlite3 *own);
/* Checkpoints run so far: by the thread, and by the writer itself. */
void walck_counts(walck_t *w, uint64_t *thread, uint64_t *writer);
/* Stops the thread and closes its connection; call before closing `writer`. */
void walck_stop(walck_t *w);

#endif
