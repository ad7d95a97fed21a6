/* walckpt.c -- WAL checkpoints off the writer thread (see walckpt.h). */
#include "walckpt.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct walck {
    sqlite3 *writer, *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* thread: frames to copy, or stop */
    pthread_cond_t idle; /* writer: the thread's run ended */
    int frames;          /* WAL frames the writer last reported */
    bool running;        /* the thread is checkpointing */
    bool held;           /* the writer checkpoints: the thread waits */
    bool stop;
    _Atomic uint64_t runs, inline_runs;
};

/* On the writer thread, after each commit: a signal, no I/O, unless the
 * WAL outgrew the thread (then the writer waits for the thread's run to
 * end, since checkpoints exclude each other, and checkpoints itself). */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames) {
    walck_t *w = arg;
    if (frames < WALCK_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&w->lock);
    if (frames < WALCK_MAX_PAGES) {
        w->frames = frames;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        return SQLITE_OK;
    }
    while (w->running) pthread_cond_wait(&w->idle, &w->lock);
    w->held = true;
    pthread_mutex_unlock(&w->lock);
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) != SQLITE_OK)
        log_warn("store: WAL checkpoint in the writer failed (%s)", sqlite3_errmsg(db));
    atomic_fetch_add(&w->inline_runs, 1);
    pthread_mutex_lock(&w->lock);
    w->held = false;
    pthread_mutex_unlock(&w->lock);
    return SQLITE_OK;
}

static void checkpoint(walck_t *w) {
    int rc = sqlite3_wal_checkpoint_v2(w->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    atomic_fetch_add(&w->runs, 1);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) /* BUSY: another process checkpoints */
        log_warn("store: WAL checkpoint failed (%s); the WAL grows until one succeeds", sqlite3_errmsg(w->db));
}

static void *walck_main(void *arg) {
    thread_name("brasa-walckpt");
    walck_t *w = arg;
    /* Normal I/O class: past WALCK_MAX_PAGES the writer waits for this
     * thread, and idle I/O may wait indefinitely under bfq. */
    thread_background(false);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while ((!w->frames || w->held) && !w->stop) pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop) break;
        w->frames = 0;
        w->running = true;
        pthread_mutex_unlock(&w->lock);
        checkpoint(w);
        pthread_mutex_lock(&w->lock);
        w->running = false;
        pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

walck_t *walck_start(sqlite3 *writer, sqlite3 *own) {
    walck_t *w = xcalloc(1, sizeof *w);
    w->writer = writer;
    w->db = own;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thread, NULL, walck_main, w) != 0) {
        log_warn("store: cannot start the WAL checkpoint thread; commits checkpoint themselves");
        sqlite3_close(own);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->idle);
        free(w);
        return NULL;
    }
    sqlite3_wal_hook(writer, on_commit, w); /* replaces SQLite's automatic checkpoints */
    return w;
}

void walck_counts(walck_t *w, uint64_t *thread, uint64_t *writer) {
    *thread = w ? atomic_load(&w->runs) : 0;
    *writer = w ? atomic_load(&w->inline_runs) : 0;
}

void walck_stop(walck_t *w) {
    if (!w) return;
    sqlite3_wal_autocheckpoint(w->writer, WALCK_PAGES); /* the writer's own again */
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    sqlite3_close(w->db);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    free(w);
}
