/* currents.c -- the supervisor (see currents.h): keeps one runner per
 * active connector as the connectors table changes, and trims the
 * outboxes past their retention. */
#include "currents.h"
#include "internal.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/thread.h"
#include "../send/curlq.h"
#include "../store/currents.h"
#include "../store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRIM_EVERY_MS 60000
#define TRIM_ROWS 2000   /* per store op: a short transaction, so trimming never holds ingest */
#define TRIM_OPS_MAX 100 /* per round: the rest waits for the next */

struct currents {
    engine_t *e;
    sqlite3 *db;
    cur_tuning t;
    int64_t retention_ms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, woken;
    runner *run[STORE_CUR_MAX];
    int n;
};

/* Brings the runners in line with the table: starts the new and resumed,
 * stops the paused and removed, passes on gens (replays). */
static void reconcile(currents *c) {
    store_cur *rows;
    int n;
    if (store_cur_list(c->db, &rows, &n) < 0) return;
    for (int i = 0; i < c->n;) {
        const store_cur *row = NULL;
        for (int k = 0; k < n && !row; k++)
            if (!strcmp(rows[k].id, runner_id(c->run[i]))) row = &rows[k];
        if (row && !row->paused) {
            runner_set_gen(c->run[i], row->gen);
            i++;
            continue;
        }
        log_info("currents: %s %s", runner_id(c->run[i]), row ? "paused" : "removed");
        pthread_mutex_lock(&c->mu);
        runner *gone = c->run[i];
        c->run[i] = c->run[--c->n];
        pthread_mutex_unlock(&c->mu);
        runner_free(gone); /* outside the lock: it may wait for a request to give up */
    }
    for (int k = 0; k < n; k++) {
        if (rows[k].paused) continue;
        bool have = false;
        for (int i = 0; i < c->n && !have; i++) have = !strcmp(rows[k].id, runner_id(c->run[i]));
        if (have || c->n == STORE_CUR_MAX) continue;
        runner *r = runner_start(c->e, &rows[k], &c->t);
        pthread_mutex_lock(&c->mu);
        if (r) c->run[c->n++] = r;
        pthread_mutex_unlock(&c->mu);
    }
    store_cur_rows_free(rows, n);
}

static void trim(currents *c) {
    store_cur_trim t = {.cutoff_ms = clock_wall_ms() - c->retention_ms, .limit = TRIM_ROWS};
    int total = 0;
    for (int i = 0; i < TRIM_OPS_MAX; i++) {
        if (eng_exec_store(c->e, store_cur_trim_op, &t) < 0 || !t.deleted) break;
        total += t.deleted;
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (stop) break;
    }
    if (total) log_info("currents: trimmed %d outbox rows older than the retention", total);
}

static void *supervise(void *arg) {
    currents *c = arg;
    thread_name("brasa-currents-s");
    int64_t trimmed_at = clock_wall_ms() - TRIM_EVERY_MS + 10000; /* the first trim 10 s after start */
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->mu);
        reconcile(c);
        if (clock_wall_ms() - trimmed_at >= TRIM_EVERY_MS) {
            trim(c);
            trimmed_at = clock_wall_ms();
        }
        pthread_mutex_lock(&c->mu);
        if (c->stop) break;
        if (!c->woken) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
        c->woken = false;
    }
    pthread_mutex_unlock(&c->mu);
    /* ask them all first, so they wind down together */
    for (int i = 0; i < c->n; i++) runner_stop(c->run[i]);
    for (int i = 0; i < c->n; i++) runner_free(c->run[i]);
    c->n = 0;
    return NULL;
}

currents *cur_start(engine_t *e, int retention_days) {
    currents *c = xcalloc(1, sizeof *c);
    if (store_open_reader(engine_store(e), &c->db) < 0) {
        free(c);
        return NULL;
    }
    c->e = e;
    c->retention_ms = (int64_t)(retention_days > 0 ? retention_days : CUR_RETENTION_DAYS) * 86400000;
    c->t = (cur_tuning){.backoff_ms = curlq_env_long("BRASA_CURRENTS_BACKOFF_MS", 1000),
                        .backoff_max_ms = curlq_env_long("BRASA_CURRENTS_BACKOFF_MAX_MS", 300000),
                        .poll_ms = 50};
    if (c->t.backoff_ms < 1) c->t.backoff_ms = 1;
    if (c->t.backoff_max_ms < c->t.backoff_ms) c->t.backoff_max_ms = c->t.backoff_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->th, NULL, supervise, c)) abort();
    return c;
}

const char *cur_state(currents *c, const char *id) {
    const char *s = NULL;
    if (!c) return NULL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n && !s; i++)
        if (!strcmp(runner_id(c->run[i]), id)) s = runner_state(c->run[i]);
    pthread_mutex_unlock(&c->mu);
    return s;
}

void cur_wake(currents *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->woken = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void cur_stop(currents *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
