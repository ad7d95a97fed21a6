/* store.h -- the durable store: SQLite in WAL mode behind one writer.
 *
 * All writes go through the group-commit pipeline: a caller submits a
 * store_op, the writer thread runs every op that is waiting inside one
 * transaction (each op in its own savepoint, so one failing op does not undo
 * the others), commits with a full fsync, and only then calls each op's done
 * callback. A request is therefore answered only after its writes are on
 * disk, and a burst of N concurrent writes costs one fsync instead of N.
 * Batches form by themselves: ops that arrive while a commit is in flight
 * wait for the next one, so under load a batch spans one commit's duration
 * and an idle server commits at once with no added delay.
 *
 * A failed COMMIT ends the process: ops may have changed in-memory state
 * (engine.h) that the disk then lacks, and a restart reloads the truth.
 *
 * Reads that must see other processes' writes (a key created by the CLI
 * while the server runs) use their own connections: store_open_reader(). */
#ifndef BR_STORE_H
#define BR_STORE_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct store store_t;

/* Runs on the writer thread inside the batch transaction. Returns 0 or a
 * BR_E* code; on error everything the op wrote is rolled back. */
typedef int (*store_op_fn)(sqlite3 *db, void *arg);
/* Called after the batch's commit (or failure) with the op's final result:
 * its own code, or BR_ESTORE if the commit itself failed. Runs on the writer
 * thread: keep it short (signal a waiter, resume a connection). */
typedef void (*store_done_fn)(void *arg, int rc);

/* An op is owned by the submitter and must stay valid until done runs. */
typedef struct store_op {
    store_op_fn fn;
    void *arg;
    store_done_fn done; /* may be NULL */
    void *done_arg;
    int rc;
    struct store_op *next;
} store_op;

typedef struct {
    uint64_t commits;   /* transactions committed */
    uint64_t ops;       /* ops acknowledged (succeeded and committed) */
    uint64_t failed;    /* ops answered with an error */
    uint64_t max_batch; /* largest batch seen */
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
/* Limits ops per transaction (default 8192); 1 gives one commit per write,
 * the baseline the benchmark compares against. */
void store_set_max_batch(store_t *s, unsigned n);

/* Calls fn(arg, true) on the writer thread once the transaction of the op
 * now running has committed, or fn(arg, false) if that op's writes are
 * rolled back instead (the op failed, or its batch did). Only from inside
 * an op. For work that must not start before the op's writes are durable:
 * the engine hands a checkpoint snapshot to its thread this way (engine.h). */
void store_on_commit(store_t *s, void (*fn)(void *arg, bool committed), void *arg);

/* Opens another connection to the same database for reading. */
int store_open_reader(store_t *s, sqlite3 **db);
/* Opens (creating it if needed) another database file with the store's
 * settings: WAL, synchronous=FULL, the busy timeout. */
int store_open_file(const char *path, sqlite3 **db);
/* The data directory given to store_open. */
const char *store_dir(store_t *s);

/* The writer's connection, for tests and set-up before store_start(). */
sqlite3 *store_db_for_tests(store_t *s);

/* Runs sql (no result rows) on db; logs and returns BR_ESTORE on failure. */
int store_sql(sqlite3 *db, const char *sql);
/* Prepares sql on db; logs and returns NULL on failure. */
sqlite3_stmt *store_prep(sqlite3 *db, const char *sql);
/* Steps a statement that returns no rows and finalizes it: 0 or BR_ESTORE. */
int store_done(sqlite3 *db, sqlite3_stmt *st);
/* Column i of the current row as a malloc'd string ("" for NULL). */
char *store_col_text(sqlite3_stmt *st, int i);

#endif
