/* sched.c -- the scheduler's thread (sched.h). */
#include "sched.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../store/messaging.h"
#include "timing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_MS 60000 /* look again at least this often */
#define DUE_BATCH 16

struct scheduler {
    engine_t *e;
    dispatcher *d;
    sqlite3 *db;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, wake;
};

typedef struct {
    const char *id;
    int64_t now_ms;
} fired_only;

/* A schedule that can no longer be sent (its campaign or segment is gone):
 * it is marked fired, and the reason logged. */
static int mark_fired_op(sqlite3 *db, void *arg) {
    fired_only *f = arg;
    return store_schedule_set_state(db, f->id, SCHED_FIRED, f->now_ms);
}

/* A local-time or optimal-time schedule fires once per wave (timing.h):
 * this one is row->at, its dispatch (if anyone is due) "<dispatch id>.<k>". */
static void wave(const store_schedule_row *row, json_object *req, dsp_new *n, char *id, size_t idlen) {
    json_object *sch = json_get(req, "schedule");
    bool optimal = json_object_get_boolean(json_get(sch, "at_optimal_time"));
    if (!optimal && !json_object_get_boolean(json_get(sch, "in_local_time"))) return;
    timing t = {.mode = optimal ? TIMING_OPTIMAL : TIMING_LOCAL, .time_ms = json_object_get_int64(json_get(sch, "time"))};
    n->wave_at = row->at;
    n->next_wave = row->at + TIMING_STEP_MS <= timing_last(&t) ? row->at + TIMING_STEP_MS : 0;
    n->sent = row->sent ? bitmap_deserialize(row->sent, row->sent_len) : NULL;
    n->fallback_hour = row->fallback_hour;
    n->has_fallback = row->has_fallback;
    snprintf(id, idlen, "%s.%lld", row->dispatch_id, (long long)((row->at - timing_first(&t)) / TIMING_STEP_MS));
    n->id = id;
}

/* Returns false when the store failed (the server is stopping). */
static bool fire(scheduler *s, const store_schedule_row *row) {
    json_object *req = json_parse(row->request, strlen(row->request));
    int64_t now = clock_wall_ms();
    char wave_id[DSP_ID_LEN + 8];
    dsp_new n = {.req = req, .id = row->dispatch_id, .now_ms = now, .schedule_id = row->id,
                 .schedule_updated_at = row->updated_at};
    if (req) wave(row, req, &n, wave_id, sizeof wave_id);
    int rc = req ? eng_exec_read(s->e, dsp_resolve_read, &n) : BR_ESTORE;
    if (rc == 0) rc = eng_exec_store(s->e, dsp_insert_op, &n);
    if (rc == 0 && n.wave_at && !bitmap_cardinality(n.rows)) {
        log_debug("schedule %s: nobody due in wave %s", row->id, n.id);
    } else if (rc == 0) {
        log_info("schedule %s: fired as dispatch %s (%llu recipients), %lld ms after its time", row->id, n.id,
                 (unsigned long long)bitmap_cardinality(n.rows), (long long)(now - row->at));
        dsp_wake(s->d);
    } else if (rc != BR_ENOTFOUND && rc != BR_ESTORE) {
        log_warn("schedule %s: not sent: %s: %s", row->id, br_err_message(rc), n.why);
        fired_only f = {row->id, now};
        eng_exec_store(s->e, mark_fired_op, &f);
    }
    dsp_new_clear(&n);
    json_object_put(req);
    return rc != BR_ESTORE;
}

static void *run(void *arg) {
    scheduler *s = arg;
    for (;;) {
        int64_t now = clock_wall_ms(), next = now + IDLE_MS, at;
        store_schedule_row *rows;
        int n;
        bool ok = true;
        if (store_schedule_due(s->db, now, DUE_BATCH, &rows, &n) == 0) {
            for (int i = 0; i < n && ok; i++) ok = fire(s, &rows[i]);
            store_schedule_rows_free(rows, n);
            if (ok && n == DUE_BATCH) continue;
        }
        if (!ok) next = now + 1000; /* the store failed: no busy loop while the server stops */
        else if (store_schedule_next(s->db, &at) == 0 && at < next) next = at;
        pthread_mutex_lock(&s->mu);
        int64_t wait = next - clock_wall_ms();
        if (!s->wake && !s->stop && wait > 0) {
            struct timespec ts; /* the condition variable's clock: CLOCK_REALTIME */
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + wait % 1000 * 1000000;
            ts.tv_sec += wait / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        bool stop = s->stop;
        s->wake = false;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
    }
    return NULL;
}

scheduler *sched_start(engine_t *e, dispatcher *d) {
    scheduler *s = xcalloc(1, sizeof *s);
    s->e = e;
    s->d = d;
    if (store_open_reader(engine_store(e), &s->db) < 0) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->th, NULL, run, s)) abort();
    return s;
}

void sched_wake(scheduler *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void sched_stop(scheduler *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
