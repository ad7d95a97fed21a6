/* store.c -- opening databases, migrations, and the group-commit writer
 * (its WAL checkpoints run on a thread of their own: walckpt.h).
 *
 * See store.h for the contract. The writer is the only thread that writes
 * through this process's connection; other processes (the CLI) may write at
 * the same time and SQLite's locking plus a busy timeout serialise them. */
#define _GNU_SOURCE
#include "store.h"
#include "fault.h"
#include "migrations.h"
#include "walckpt.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BUSY_TIMEOUT_MS 10000
#define DEFAULT_MAX_BATCH 8192

struct store {
    char *dir;
    char *path;
    sqlite3 *db; /* the writer's connection */
    walck_t *walck; /* its WAL checkpoints */
    sqlite3_stmt *begin, *commit, *rollback, *savepoint, *release, *rollback_to;

    pthread_mutex_t lock;
    pthread_cond_t wake; /* writer: work arrived or stop asked */
    pthread_cond_t idle; /* store_stop: queue drained */
    store_op *head, *tail;
    bool running, stopping, busy;
    atomic_bool failed; /* a critical transaction failed: see store.h */
    unsigned max_batch;
    pthread_t thread;
    store_stats stats;
};

int store_sql(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("store: %s (in: %.80s)", err ? err : sqlite3_errmsg(db), sql);
        sqlite3_free(err);
        return BR_ESTORE;
    }
    return 0;
}

int store_nested(sqlite3 *db, store_op_fn fn, void *arg, int *rc) {
    if (store_sql(db, "SAVEPOINT nested") < 0) return BR_ESTORE;
    *rc = fn(db, arg);
    if (*rc == BR_ESTORE || sqlite3_get_autocommit(db)) return BR_ESTORE;
    if (*rc < 0 && store_sql(db, "ROLLBACK TO nested") < 0) return BR_ESTORE;
    return store_sql(db, "RELEASE nested");
}

sqlite3_stmt *store_prep(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("store: %s: %s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    return st;
}

int store_done(sqlite3 *db, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("store: %s", sqlite3_errmsg(db));
        return BR_ESTORE;
    }
    return 0;
}

char *store_col_text(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return xstrdup(t ? (const char *)t : "");
}

void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t n) {
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* Before SQLite's first use: no memory statistics (nothing reads them),
 * which would take a global mutex on every allocation of every thread. */
static void configure(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static int open_conn(const char *path, sqlite3 **db) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure);
    store_fault_init(); /* a no-op unless built for tests with BRASA_FAULT set */
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return BR_EIO;
    }
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    /* synchronous=FULL: in WAL mode NORMAL may lose the last commits on power
     * loss; an acknowledged write must survive that too. */
    /* secure_delete=FAST: Debian builds SQLite with secure_delete on, which
     * zeroes every freed page: trimming the journal wrote it all again as
     * zeros (80 MB of WAL per checkpoint under ingest). FAST still clears
     * deleted content inside b-tree pages, where it costs no extra I/O. */
    if (store_sql(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA foreign_keys=ON; PRAGMA secure_delete=FAST;") < 0) {
        sqlite3_close(*db);
        *db = NULL;
        return BR_ESTORE;
    }
    return 0;
}

static int schema_version(sqlite3 *db, int *v) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK)
        return BR_ESTORE;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : BR_ESTORE;
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Applies each pending migration in its own IMMEDIATE transaction and
 * re-reads the version inside it, so two processes starting together on a
 * new data directory do not both apply the same file. */
static int migrate(sqlite3 *db, const store_migration *set, int count) {
    if (store_sql(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)") < 0)
        return BR_ESTORE;
    for (int i = 0; i < count; i++) {
        const store_migration *m = &set[i];
        int v;
        if (store_sql(db, "BEGIN IMMEDIATE") < 0) return BR_ESTORE;
        if (schema_version(db, &v) < 0) goto fail;
        if (m->version <= v) {
            store_sql(db, "COMMIT");
            continue;
        }
        if (store_sql(db, m->sql) < 0) goto fail;
        char ins[256];
        snprintf(ins, sizeof ins,
                 "INSERT INTO schema_migrations VALUES (%d, '%s', CAST(strftime('%%s','now') AS INTEGER)*1000)",
                 m->version, m->name);
        if (store_sql(db, ins) < 0 || store_sql(db, "COMMIT") < 0) goto fail;
        log_info("store: applied migration %03d_%s to %s", m->version, m->name, sqlite3_db_filename(db, "main"));
        continue;
    fail:
        store_sql(db, "ROLLBACK");
        log_error("store: migration %03d_%s failed", m->version, m->name);
        return BR_ESTORE;
    }
    return 0;
}

int store_open_file(const char *path, const store_migration *set, int count, sqlite3 **db) {
    int rc = open_conn(path, db);
    if (rc == 0 && (rc = migrate(*db, set, count)) < 0) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

static int mkdir_p(const char *dir) {
    char *p = xstrdup(dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) goto fail;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST) goto fail;
    free(p);
    return 0;
fail:
    log_error("store: cannot create %s: %s", p, strerror(errno));
    free(p);
    return BR_EIO;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        log_error("store: prepare %s: %s", sql, sqlite3_errmsg(db));
    return st;
}

int store_open(const char *dir, store_t **out) {
    *out = NULL;
    if (mkdir_p(dir) < 0) return BR_EIO;
    store_t *s = xcalloc(1, sizeof *s);
    s->dir = xstrdup(dir);
    s->path = xmalloc(strlen(dir) + 16);
    sprintf(s->path, "%s/brasa.db", dir);
    s->max_batch = DEFAULT_MAX_BATCH;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->idle, NULL);
    int rc = store_open_file(s->path, store_migrations, store_migrations_count, &s->db);
    if (rc == 0) {
        s->begin = prep(s->db, "BEGIN IMMEDIATE");
        s->commit = prep(s->db, "COMMIT");
        s->rollback = prep(s->db, "ROLLBACK");
        s->savepoint = prep(s->db, "SAVEPOINT op");
        s->release = prep(s->db, "RELEASE op");
        s->rollback_to = prep(s->db, "ROLLBACK TO op");
        if (!s->begin || !s->commit || !s->rollback || !s->savepoint || !s->release || !s->rollback_to)
            rc = BR_ESTORE;
    }
    sqlite3 *own;
    if (rc == 0 && open_conn(s->path, &own) == 0) s->walck = walck_start(s->db, own);
    if (rc < 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int step_reset(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : BR_ESTORE;
}

/* Runs one op inside the open transaction, in a savepoint when other ops
 * share it (so a logical failure undoes only its writes). Returns the op's
 * result, or BR_ESTORE when the transaction as a whole cannot go on. */
static int run_op(store_t *s, store_op *op, bool alone) {
    if (!alone && step_reset(s->savepoint) < 0) return BR_ESTORE;
    int rc = op->fn(s->db, op->arg);
    /* SQLite rolls the whole transaction back by itself after some errors
     * (SQLITE_FULL, SQLITE_IOERR, ...): nothing is left to keep apart. */
    if (sqlite3_get_autocommit(s->db)) return BR_ESTORE;
    if (rc == BR_ESTORE || alone) return rc;
    if (rc < 0 && step_reset(s->rollback_to) < 0) return BR_ESTORE;
    if (step_reset(s->release) < 0) return BR_ESTORE;
    return rc;
}

/* One transaction for the whole list; fills each op->rc and adds what
 * happened to *st (the caller publishes it under the lock). */
static void run_batch(store_t *s, store_op *list, unsigned n, store_stats *st) {
    bool critical = false, ok = !atomic_load(&s->failed);
    for (store_op *op = list; op; op = op->next) critical |= op->critical;
    if (ok && step_reset(s->begin) < 0) {
        log_error("store: BEGIN failed: %s", sqlite3_errmsg(s->db));
        ok = false;
    }
    for (store_op *op = list; ok && op; op = op->next)
        if ((op->rc = run_op(s, op, n == 1)) == BR_ESTORE) {
            log_error("store: an op failed with a storage error (SQLite says: %s); the transaction of %u op%s is "
                      "rolled back", sqlite3_errmsg(s->db), n, n == 1 ? "" : "s");
            ok = false;
        }
    if (ok && n == 1 && list->rc < 0) {
        step_reset(s->rollback); /* alone and refused: nothing to keep */
    } else if (ok) {
        int64_t t0 = clock_mono_us();
        if (step_reset(s->commit) < 0) {
            log_error("store: COMMIT failed: %s", sqlite3_errmsg(s->db));
            ok = false;
        } else {
            st->commits++;
            mhist_add(&st->commit_time, clock_mono_us() - t0);
        }
    }
    if (!ok) {
        if (!sqlite3_get_autocommit(s->db)) step_reset(s->rollback);
        for (store_op *op = list; op; op = op->next) op->rc = BR_ESTORE; /* none of it is acknowledged */
        if (critical && !atomic_exchange(&s->failed, true))
            log_error("store: memory is ahead of the disk after a failed transaction: refusing every write "
                      "from now on; restart to recover from the journal");
    }
    for (store_op *op = list; op; op = op->next) {
        if (op->rc < 0) st->failed++;
        else st->ops++;
    }
    if (n > st->max_batch) st->max_batch = n;
}

static void *writer_main(void *arg) {
    thread_name("brasa-store");
    store_t *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping) pthread_cond_wait(&s->wake, &s->lock);
        if (!s->head) break;
        /* Take up to max_batch ops from the front of the queue. */
        store_op *list = s->head, *last = s->head;
        unsigned n = 1;
        while (last->next && n < s->max_batch) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (!s->head) s->tail = NULL;
        last->next = NULL;
        s->busy = true;
        pthread_mutex_unlock(&s->lock);

        store_stats st = s->stats;
        run_batch(s, list, n, &st);
        pthread_mutex_lock(&s->lock); /* counters first: an answered write is counted */
        s->stats = st;
        pthread_mutex_unlock(&s->lock);
        for (store_op *op = list, *next; op; op = next) {
            next = op->next; /* done() may free op */
            if (op->done) op->done(op->done_arg, op->rc);
        }

        pthread_mutex_lock(&s->lock);
        s->busy = false;
        if (!s->head) pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int store_start(store_t *s) {
    s->running = true;
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        s->running = false;
        log_error("store: cannot start writer thread");
        return BR_EINTERNAL;
    }
    return 0;
}

void store_submit(store_t *s, store_op *op) {
    op->next = NULL;
    op->rc = 0;
    pthread_mutex_lock(&s->lock);
    if (s->tail) s->tail->next = op;
    else s->head = op;
    s->tail = op;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int rc;
} waiter;

static void wake_waiter(void *arg, int rc) {
    waiter *w = arg;
    pthread_mutex_lock(&w->m);
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

int store_exec(store_t *s, store_op_fn fn, void *arg) {
    store_op op = {.fn = fn, .arg = arg};
    if (!s->running) {
        run_batch(s, &op, 1, &s->stats);
        return op.rc;
    }
    waiter w = {.done = false};
    pthread_mutex_init(&w.m, NULL);
    pthread_cond_init(&w.c, NULL);
    op.done = wake_waiter;
    op.done_arg = &w;
    store_submit(s, &op);
    pthread_mutex_lock(&w.m);
    while (!w.done) pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    pthread_mutex_destroy(&w.m);
    pthread_cond_destroy(&w.c);
    return w.rc;
}

void store_stop(store_t *s) {
    if (!s || !s->running) return;
    pthread_mutex_lock(&s->lock);
    while (s->head || s->busy) pthread_cond_wait(&s->idle, &s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->running = false;
}

void store_close(store_t *s) {
    if (!s) return;
    store_stop(s);
    sqlite3_stmt *sts[] = {s->begin, s->commit, s->rollback, s->savepoint, s->release, s->rollback_to};
    for (size_t i = 0; i < sizeof sts / sizeof *sts; i++) sqlite3_finalize(sts[i]);
    walck_stop(s->walck);
    if (s->db) sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->idle);
    free(s->dir);
    free(s->path);
    free(s);
}

store_stats store_get_stats(store_t *s) {
    pthread_mutex_lock(&s->lock);
    store_stats st = s->stats;
    pthread_mutex_unlock(&s->lock);
    walck_counts(s->walck, &st.wal_checkpoints, &st.wal_checkpoints_inline);
    return st;
}

bool store_failed(store_t *s) { return atomic_load(&s->failed); }

void store_set_max_batch(store_t *s, unsigned n) { s->max_batch = n ? n : 1; }
unsigned store_max_batch(store_t *s) { return s->max_batch; }

int store_open_reader(store_t *s, sqlite3 **db) { return open_conn(s->path, db); }

const char *store_dir(store_t *s) { return s->dir; }

sqlite3 *store_db_for_tests(store_t *s) { return s->db; }
