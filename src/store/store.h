/* store.h -- the durable store: SQLite in WAL mode behind one writer.
 *
 * Every write goes through the group-commit pipeline: a caller submits a
 * store_op, the writer thread runs every op that is waiting inside one
 * transaction (each op in its own savepoint), commits with a full fsync,
 * and only then calls each op's done callback. A request is therefore
 * answered only after its writes are on disk, and a burst of N concurrent
 * writes costs one fsync instead of N. Batches form by themselves: ops that
 * arrive while a commit is in flight wait for the next one.
 *
 * Failure. An op that returns a logical error (BR_EINVAL, BR_ENOTFOUND, ...)
 * has its savepoint rolled back and the others go on. A storage error
 * (BR_ESTORE from an op, a failed RELEASE, COMMIT or fsync) fails the whole
 * transaction: every op in it is answered BR_ESTORE, none is acknowledged.
 * An op marked `critical` is one whose effects were already made in memory
 * (the engine's journal batches): when its transaction fails, memory is
 * ahead of the disk, so the store turns failed for good: every later op is
 * answered BR_ESTORE at once, store_failed() says so, and the server exits
 * for a restart to reload the truth (PostgreSQL's answer to a failed fsync).
 *
 * Only the writer writes through this process's brasa.db connection;
 * reads that need no ordering with writes use their own connections
 * (store_open_reader). store/ alone speaks SQL: one module per resource
 * (journal.h, checkpoint.h, keys.h, partners.h, segments.h, exports.h,
 * content_blocks.h). */
#ifndef BR_STORE_H
#define BR_STORE_H
#include "../lib/metrics.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct store store_t;

/* Runs on the writer thread inside the batch transaction. Returns 0 or a
 * BR_E* code: see "Failure" above. */
typedef int (*store_op_fn)(sqlite3 *db, void *arg);
/* Called after the batch's commit (or failure) with the op's final result.
 * Runs on the writer thread: keep it short (signal a waiter, resume a
 * connection, hand work on). */
typedef void (*store_done_fn)(void *arg, int rc);

/* An op is owned by the submitter and must stay valid until done runs. */
typedef struct store_op {
    store_op_fn fn;
    void *arg;
    store_done_fn done; /* may be NULL */
    void *done_arg;
    bool critical; /* its transaction failing fails the store (see above) */
    int rc;
    struct store_op *next;
} store_op;

typedef struct {
    uint64_t commits;   /* transactions committed */
    uint64_t ops;       /* ops acknowledged (succeeded and committed) */
    uint64_t failed;    /* ops answered with an error */
    uint64_t max_batch; /* largest batch seen */
    uint64_t wal_checkpoints, wal_checkpoints_inline; /* walckpt.h: by its thread, by the writer */
    mhist commit_time;  /* COMMIT (the fsync) of each transaction */
} store_stats;

/* Creates dir if needed, opens dir/brasa.db, sets WAL and full sync, applies
 * pending migrations. Returns 0 or BR_EIO/BR_ESTORE (and logs why). */
int store_open(const char *dir, store_t **out);
/* Starts the writer thread; until then store_exec() runs ops inline. */
int store_start(store_t *s);
/* Queues op (asynchronous; requires store_start). */
void store_submit(store_t *s, store_op *op);
/* Runs fn durably and waits for it: through the writer when started,
 * inline in its own transaction otherwise (CLI). Returns fn's result. */
int store_exec(store_t *s, store_op_fn fn, void *arg);
/* Waits until every op submitted so far is answered, then stops the writer. */
void store_stop(store_t *s);
void store_close(store_t *s);
store_stats store_get_stats(store_t *s);
/* Whether a critical op's transaction failed (see above). */
bool store_failed(store_t *s);
/* Limits ops per transaction (default 8192); 1 gives one commit per write,
 * the baseline the benchmark compares against. */
void store_set_max_batch(store_t *s, unsigned n);
unsigned store_max_batch(store_t *s);

/* Opens another connection to brasa.db for reading. */
int store_open_reader(store_t *s, sqlite3 **db);
/* The data directory given to store_open. */
const char *store_dir(store_t *s);
/* The writer's connection, for tests and set-up before store_start(). */
sqlite3 *store_db_for_tests(store_t *s);

/* ---- helpers for the resource modules (store/ only) ---------------------- */

/* Opens (creating it if needed) a database file with the store's settings
 * (WAL, synchronous=FULL, busy timeout) and applies the numbered
 * migrations of `set` (migrations.h). */
struct store_migration;
int store_open_file(const char *path, const struct store_migration *set, int count, sqlite3 **db);
/* Runs fn(db, arg) inside the current transaction in a nested savepoint:
 * a logical refusal (a BR_E* code other than BR_ESTORE) undoes its writes
 * only, and is returned in *rc. Returns 0, or BR_ESTORE when the
 * transaction as a whole cannot go on. For ops that carry other ops (the
 * engine's batches). */
int store_nested(sqlite3 *db, store_op_fn fn, void *arg, int *rc);
/* Runs sql (no result rows) on db; logs and returns BR_ESTORE on failure. */
int store_sql(sqlite3 *db, const char *sql);
/* Prepares sql on db; logs and returns NULL on failure. */
sqlite3_stmt *store_prep(sqlite3 *db, const char *sql);
/* Steps a statement that returns no rows and finalizes it: 0 or BR_ESTORE. */
int store_done(sqlite3 *db, sqlite3_stmt *st);
/* Column i of the current row as a malloc'd string ("" for NULL). */
char *store_col_text(sqlite3_stmt *st, int i);
/* The same into out[n], cut to fit (fixed-size fields of a row struct). */
void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t n);

#endif
