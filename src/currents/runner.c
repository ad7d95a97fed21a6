#define _GNU_SOURCE
/* runner.c -- one connector's delivery thread.
 *
 * It reads both outboxes after its cursor with its own connection,
 * merges them by commit time (each outbox is in commit order already, so
 * one user's events keep their order), keeps the event types the connector
 * wants, and hands batches to its sink one at a time:
 *
 *   2xx                  accepted: the cursor may pass the batch
 *   400                  split: every event is sent alone; one refused alone
 *                        goes to the dead letter (the operator can replay it)
 *   413                  halved, down to one event (then the dead letter)
 *   anything else        5xx, 429, 401/403/404, a redirect, a timeout, a
 *                        network or TLS error: the same batch again after an
 *                        exponential backoff with jitter (Retry-After when
 *                        longer), with no limit in time; lag and last_error
 *                        show it. Braze drops events after days of 4xx; brasa
 *                        keeps them until the destination takes them or the
 *                        operator removes the connector.
 *
 * The cursor it writes (a small store op, at most every PERSIST_MS, and
 * only up to what the sink calls durable) is where a restart resumes:
 * what was sent after it is sent again, so delivery is at least once. */
#include "internal.h"
#include "../engine/engine.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/log.h"
#include "../lib/mem.h"
#include "../lib/secret.h"
#include "../lib/thread.h"
#include "../store/currents.h"
#include "../store/store.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_ROWS 32      /* outbox rows per read */
#define PERSIST_MS 250    /* the cursor is written at most this often while busy */
#define DEAD_CHECK_MS 1000 /* how often marked dead-letter rows are looked for */
#define RETRY_AFTER_MAX_MS 3600000L

/* One outbox as the runner walks it. */
typedef struct {
    bool messages;
    int64_t *key, *idx;   /* the read position (in runner.pos) */
    store_cur_row *rows;  /* read ahead: rows[at..n) */
    int n, at;
    json_object *arr;     /* rows[at]'s events, parsed */
} source;

struct runner {
    engine_t *e;
    cur_tuning t;
    char id[25];
    int64_t gen;
    atomic_llong want_gen;
    volatile int stop;
    atomic_int state; /* 0 delivering, 1 idle, 2 retrying */
    cur_conf conf;
    char *config;
    cur_sink *sink;
    sqlite3 *db;
    pthread_t th;
    store_cur_pos pos;     /* the next event to read */
    store_cur_pos accepted; /* after the last batch the sink accepted */
    store_cur_pos durable;  /* ... and made durable */
    store_cur_pos saved;    /* what the store holds */
    source src[2];
    int64_t sent, batches, retries, last_error_at, last_sent_at, saved_at, dead_checked_at;
    json_object *errors;   /* failed attempts by status */
    char last_error[256];
    bool counters_dirty;
    unsigned failures;     /* in a row: the backoff's exponent */
    bool reopen;           /* the sink lost events it had accepted: a new one, from durable */
    cur_event *ahead;      /* the next batch, read while one is in flight */
    int nahead;
    store_cur_pos after_ahead; /* the read position after it */
};

static const char *const state_names[] = {"delivering", "idle", "retrying"};

const char *runner_id(const runner *r) { return r->id; }
const char *runner_state(const runner *r) { return state_names[atomic_load(&r->state)]; }
void runner_set_gen(runner *r, int64_t gen) { atomic_store(&r->want_gen, gen); }

static bool pos_eq(const store_cur_pos *a, const store_cur_pos *b) { return !memcmp(a, b, sizeof *a); }

/* Whether the runner must leave what it does: stopping, replayed, or its
 * sink to be opened again. */
static bool interrupted(runner *r) { return r->stop || atomic_load(&r->want_gen) != r->gen || r->reopen; }

/* Sleeps ms, waking early when interrupted. */
static void nap(runner *r, long ms) {
    while (ms > 0 && !interrupted(r)) {
        long step = ms < 20 ? ms : 20;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* ---- reading ------------------------------------------------------------- */

static void source_reset(source *s) {
    json_object_put(s->arr);
    s->arr = NULL;
    store_cur_rows_read_free(s->rows, s->n);
    s->rows = NULL;
    s->n = s->at = 0;
}

/* The current row of s, parsed, or NULL when s has nothing more now (or
 * the store failed: *failed). */
static json_object *source_row(runner *r, source *s, bool *failed) {
    for (;;) {
        if (s->arr) {
            if ((size_t)*s->idx < json_object_array_length(s->arr)) return s->arr;
            /* this row is done */
            json_object_put(s->arr);
            s->arr = NULL;
            *s->key = s->rows[s->at].key + 1;
            *s->idx = 0;
            s->at++;
        }
        if (s->at >= s->n) {
            store_cur_rows_read_free(s->rows, s->n);
            s->rows = NULL;
            s->n = s->at = 0;
            if (store_cur_read(r->db, s->messages, *s->key, READ_ROWS, &s->rows, &s->n) < 0) {
                *failed = true;
                return NULL;
            }
            if (!s->n) return NULL;
        }
        store_cur_row *row = &s->rows[s->at];
        if (row->key != *s->key) { /* the cursor's row is gone (trimmed): the next one from its start */
            *s->key = row->key;
            *s->idx = 0;
        }
        if (!(s->arr = cur_outbox_events(row->events, strlen(row->events)))) {
            log_error("currents: %s: outbox row %lld is not a JSON array; passed over", r->conf.name, (long long)row->key);
            s->arr = json_object_new_array(); /* empty: done at once */
        }
    }
}

static bool wanted(const runner *r, const char *type) {
    if (!r->conf.event_types) return true;
    for (int i = 0; i < r->conf.n_types; i++)
        if (!strcmp(r->conf.event_types[i], type)) return true;
    return false;
}

/* Fills ev with up to max events after the read position, which moves
 * past them (and past the events of other types). Returns how many, or
 * -1 when the store failed. */
static int fill(runner *r, cur_event *ev, int max) {
    int n = 0;
    bool failed = false, dry[2] = {false, false}; /* found empty: not read again in this fill */
    while (n < max) {
        json_object *a = dry[0] ? NULL : source_row(r, &r->src[0], &failed);
        json_object *b = dry[1] || failed ? NULL : source_row(r, &r->src[1], &failed);
        if (failed) return -1;
        dry[0] = !a, dry[1] = !b;
        if (!a && !b) break;
        source *s = &r->src[0];
        if (!a || (b && r->src[1].rows[r->src[1].at].at < r->src[0].rows[r->src[0].at].at)) s = &r->src[1];
        json_object *o = json_object_array_get_idx(s->arr, (size_t)(*s->idx)++);
        const char *type = json_object_get_string(json_get(o, "event_type"));
        const char *id = json_object_get_string(json_get(o, "id"));
        if (!type || !id) continue; /* not an event: nothing to deliver */
        if (!wanted(r, type)) continue;
        ev[n++] = (cur_event){json_object_get(o), type, id};
    }
    return n;
}

static void events_put(cur_event *ev, int n) {
    for (int i = 0; i < n; i++) json_object_put(ev[i].ev);
}

/* ---- progress ------------------------------------------------------------ */

/* Writes the durable cursor and the counters. false when the connector was
 * replayed or removed meanwhile (the caller reloads). */
static bool persist(runner *r) {
    if (pos_eq(&r->durable, &r->saved) && !r->counters_dirty) return true;
    size_t n;
    store_cur_progress p = {.id = r->id, .gen = r->gen, .pos = r->durable, .sent = r->sent, .batches = r->batches,
                            .retries = r->retries, .errors = json_text(r->errors, &n),
                            .last_error = r->last_error[0] ? r->last_error : NULL, .last_error_at = r->last_error_at,
                            .last_sent_at = r->last_sent_at};
    int rc = eng_exec_store(r->e, store_cur_progress_op, &p);
    r->saved_at = clock_wall_ms();
    if (rc == BR_ENOTFOUND) return false;
    if (rc < 0) {
        log_error("currents: %s: writing the cursor failed: %s", r->conf.name, br_err_message(rc));
        return true; /* written again next time: meanwhile a restart re-sends more */
    }
    r->saved = r->durable;
    r->counters_dirty = false;
    return true;
}

/* Asks the sink whether what it accepted is durable, and writes the
 * cursor when due: at once when `now` (caught up: the admin list then
 * shows it), else at most every PERSIST_MS. force: close open files too. */
static bool checkpoint(runner *r, bool force, bool now_too) {
    cur_result res = {.retry_after_ms = -1};
    int64_t now = clock_wall_ms();
    int d = r->sink ? r->sink->ops->sync(r->sink, now, force, &res) : 1;
    if (d > 0) r->durable = r->accepted;
    else if (d < 0) {
        r->reopen = true; /* files: a failed fsync or rename lost what the open files held */
        snprintf(r->last_error, sizeof r->last_error, "%s", res.error);
        r->last_error_at = now;
        r->counters_dirty = true;
    }
    if (!force && !now_too && now - r->saved_at < PERSIST_MS) return true;
    return persist(r);
}

/* ---- delivery ------------------------------------------------------------ */

static void count_error(runner *r, const cur_result *res) {
    char k[16];
    snprintf(k, sizeof k, "%d", res->status);
    json_object *v = json_get(r->errors, k);
    json_object_object_add(r->errors, k, json_object_new_int64((v ? json_object_get_int64(v) : 0) + 1));
    snprintf(r->last_error, sizeof r->last_error, "%s", res->error[0] ? res->error : "failed");
    r->last_error_at = clock_wall_ms();
    r->counters_dirty = true;
}

/* The wait before retry number `failures` (from 1): exponential, with
 * "equal jitter" (half fixed, half random) so that many connectors failing
 * together do not retry together; a longer Retry-After wins. */
static long backoff(runner *r, const cur_result *res) {
    unsigned k = r->failures < 30 ? r->failures - 1 : 29;
    long d = r->t.backoff_ms;
    while (k-- && d < r->t.backoff_max_ms) d *= 2;
    if (d > r->t.backoff_max_ms) d = r->t.backoff_max_ms;
    uint32_t rnd;
    secret_random(&rnd, sizeof rnd);
    d = d / 2 + (long)(rnd % (uint32_t)(d / 2 + 1));
    long ra = res->retry_after_ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : res->retry_after_ms;
    return ra > d ? ra : d;
}

static int dead_letter(runner *r, const cur_event *e, const cur_result *res) {
    size_t n;
    store_cur_dead d = {.connector = r->id, .event_id = (char *)e->id, .event_type = (char *)e->type,
                        .event = (char *)json_text(e->ev, &n), .status = res->status, .error = (char *)res->error,
                        .at = clock_wall_ms()};
    int rc = eng_exec_store(r->e, store_cur_dead_put_op, &d);
    if (rc < 0) {
        log_error("currents: %s: keeping event %s in the dead letter failed: %s", r->conf.name, e->id, br_err_message(rc));
        return -1;
    }
    log_warn("currents: %s: event %s (%s) refused alone (%s): in the dead letter", r->conf.name, e->id, e->type,
             res->error);
    return 0;
}

static void accepted_batch(runner *r, int n) {
    r->sent += n;
    r->batches++;
    r->last_sent_at = clock_wall_ms();
    r->counters_dirty = true;
    r->failures = 0;
    atomic_store(&r->state, 0);
}

/* Delivers ev[0..n) as the table at the top says; first, when not NULL,
 * is the failed answer to an attempt already made. 0 when every event was
 * accepted or dead-lettered, -1 when interrupted (nothing is lost: the
 * cursor has not passed them). */
static int deliver(runner *r, const cur_event *ev, int n, const cur_result *first) {
    for (;;) {
        if (interrupted(r)) return -1;
        cur_result res = {.retry_after_ms = -1};
        if (first) {
            res = *first;
            first = NULL;
        } else if (r->sink->ops->send(r->sink, ev, n, &res) == 0) {
            accepted_batch(r, n);
            return 0;
        }
        count_error(r, &res);
        if (res.status == 400 || res.status == 413) {
            if (n == 1) return dead_letter(r, ev, &res) == 0 ? 0 : (nap(r, 1000), -1);
            if (res.status == 400) {
                for (int i = 0; i < n; i++)
                    if (deliver(r, ev + i, 1, NULL) < 0) return -1;
                return 0;
            }
            int half = n / 2;
            return deliver(r, ev, half, NULL) < 0 || deliver(r, ev + half, n - half, NULL) < 0 ? -1 : 0;
        }
        r->retries++;
        r->failures++;
        atomic_store(&r->state, 2);
        long wait = backoff(r, &res);
        if (r->failures == 1 || r->failures % 10 == 0)
            log_warn("currents: %s: %s; retry %u in %ld ms", r->conf.name, res.error, r->failures, wait);
        checkpoint(r, false, true); /* the counters show the failures while it waits */
        nap(r, wait);
    }
}

/* Sends again the dead-letter events the operator marked. */
static void replay_dead(runner *r) {
    store_cur_dead *rows;
    int n;
    if (store_cur_dead_list(r->db, r->id, 0, 100, true, &rows, &n) < 0) return;
    for (int i = 0; i < n && !interrupted(r); i++) {
        json_object *o = json_parse(rows[i].event, strlen(rows[i].event));
        const char *type = json_object_get_string(json_get(o, "event_type")), *id = json_object_get_string(json_get(o, "id"));
        if (!type || !id) {
            json_object_put(o);
            continue;
        }
        cur_event e = {o, type, id};
        cur_result res = {.retry_after_ms = -1};
        int rc = r->sink->ops->send(r->sink, &e, 1, &res);
        if (rc == 0) {
            eng_exec_store(r->e, store_cur_dead_done_op, &rows[i]);
            r->sent++;
            r->batches++;
            r->counters_dirty = true;
        } else {
            count_error(r, &res);
            if (res.status == 400 || res.status == 413) dead_letter(r, &e, &res); /* refused again: unmarked */
        }
        json_object_put(o);
        if (rc) break; /* the destination is failing: the next check tries again */
    }
    store_cur_dead_rows_free(rows, n);
}

/* ---- the thread ---------------------------------------------------------- */

/* Takes the connector's stored cursor and gen (after a replay): false when
 * it is gone. */
static bool reload(runner *r) {
    store_cur row;
    if (store_cur_get(r->db, r->id, &row) < 0) return false;
    r->gen = row.gen;
    r->pos = r->accepted = r->durable = r->saved = row.pos;
    source_reset(&r->src[0]);
    source_reset(&r->src[1]);
    store_cur_free(&row);
    log_info("currents: %s: replaying from outbox seq %lld, messages id %lld", r->conf.name, (long long)r->pos.out_seq,
             (long long)r->pos.msg_id);
    return true;
}

static bool open_sink(runner *r) {
    char err[256];
    r->sink = r->conf.type == CUR_FILES ? cur_files_open(r->id, &r->conf, err, sizeof err)
                                        : cur_http_open(r->id, &r->conf, err, sizeof err);
    if (r->sink) {
        r->sink->stop = &r->stop;
        return true;
    }
    snprintf(r->last_error, sizeof r->last_error, "%s", err);
    r->last_error_at = clock_wall_ms();
    r->counters_dirty = true;
    return false;
}

/* Drops the batch read ahead and reads again from pos. */
static void rewind_to(runner *r, store_cur_pos pos) {
    events_put(r->ahead, r->nahead);
    r->nahead = 0;
    r->pos = pos;
    source_reset(&r->src[0]);
    source_reset(&r->src[1]);
}

/* Sends ev[0..n), reading the next batch into r->ahead while it is in
 * flight when the sink can overlap the two (HTTP: begin/end): the thread
 * parses while the destination answers, yet never sends a batch before
 * the one before it was accepted (the order of one user's events). */
static int send_overlapped(runner *r, const cur_event *ev, int n) {
    cur_result res = {.retry_after_ms = -1};
    int rc;
    if (r->sink->ops->begin) {
        rc = r->sink->ops->begin(r->sink, ev, n);
        if (rc == 1) { /* in flight */
            int m = fill(r, r->ahead, r->conf.batch_size);
            r->nahead = m > 0 ? m : 0;
            r->after_ahead = r->pos;
            rc = r->sink->ops->end(r->sink, &res);
        }
    } else rc = r->sink->ops->send(r->sink, ev, n, &res);
    if (rc == 0) {
        accepted_batch(r, n);
        return 0;
    }
    return deliver(r, ev, n, &res);
}

static void *run(void *arg) {
    runner *r = arg;
    thread_name("brasa-currents");
    /* Delivery is the most deferrable work there is: at nice 19, under a
     * saturating ingest it yields the CPU (its lag grows, visibly, and it
     * catches up at ~240,000 events/s once the load drops) rather than
     * slow /users/track. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
    cur_event *ev = xcalloc((size_t)r->conf.batch_size, sizeof *ev);
    r->ahead = xcalloc((size_t)r->conf.batch_size, sizeof *r->ahead);
    while (!r->stop) {
        if (r->reopen) {
            /* what was accepted after the durable cursor is sent again, to a new sink */
            r->sink->ops->free(r->sink);
            r->sink = NULL;
            r->reopen = false;
            r->accepted = r->durable;
            rewind_to(r, r->durable);
        }
        if (atomic_load(&r->want_gen) != r->gen) {
            if (r->sink) r->sink->ops->sync(r->sink, clock_wall_ms(), true, &(cur_result){0});
            rewind_to(r, r->pos);
            if (!reload(r)) break;
        }
        if (!r->sink && !open_sink(r)) {
            r->failures++;
            atomic_store(&r->state, 2);
            checkpoint(r, false, true);
            nap(r, backoff(r, &(cur_result){.retry_after_ms = -1}));
            continue;
        }
        int64_t now = clock_wall_ms();
        if (now - r->dead_checked_at >= DEAD_CHECK_MS) {
            r->dead_checked_at = now;
            replay_dead(r);
        }
        /* the batch read ahead, else a new one */
        int n = r->nahead;
        store_cur_pos after = r->after_ahead;
        if (n) {
            cur_event *t = ev;
            ev = r->ahead, r->ahead = t;
            r->nahead = 0;
        } else if ((n = fill(r, ev, r->conf.batch_size)) < 0) {
            log_error("currents: %s: reading the outbox failed", r->conf.name);
            rewind_to(r, r->accepted);
            nap(r, 1000);
            continue;
        } else after = r->pos;
        if (n && send_overlapped(r, ev, n) < 0) {
            /* interrupted: read again from what was accepted */
            events_put(ev, n);
            rewind_to(r, r->accepted);
            continue;
        }
        events_put(ev, n);
        r->accepted = after;
        bool caught_up = n < r->conf.batch_size && !r->nahead;
        if (!checkpoint(r, false, caught_up)) {
            rewind_to(r, r->pos);
            if (!reload(r)) break;
            continue;
        }
        if (caught_up) {
            atomic_store(&r->state, 1);
            nap(r, r->t.poll_ms);
        }
    }
    checkpoint(r, true, true); /* files: closed, so the cursor passes them */
    rewind_to(r, r->pos);
    free(ev);
    free(r->ahead);
    return NULL;
}

runner *runner_start(engine_t *e, const store_cur *row, const cur_tuning *t) {
    runner *r = xcalloc(1, sizeof *r);
    char why[256];
    if (cur_conf_parse_text(row->config, &r->conf, why, sizeof why) < 0) {
        log_error("currents: %s: its stored settings do not hold (%s); not started", row->name, why);
        free(r);
        return NULL;
    }
    if (store_open_reader(engine_store(e), &r->db) < 0) {
        cur_conf_free(&r->conf);
        free(r);
        return NULL;
    }
    r->e = e;
    r->t = *t;
    snprintf(r->id, sizeof r->id, "%s", row->id);
    r->gen = row->gen;
    atomic_init(&r->want_gen, row->gen);
    r->pos = r->accepted = r->durable = r->saved = row->pos;
    r->src[0] = (source){false, &r->pos.out_seq, &r->pos.out_idx, NULL, 0, 0, NULL};
    r->src[1] = (source){true, &r->pos.msg_id, &r->pos.msg_idx, NULL, 0, 0, NULL};
    r->sent = row->sent, r->batches = row->batches, r->retries = row->retries;
    r->last_error_at = row->last_error_at, r->last_sent_at = row->last_sent_at;
    snprintf(r->last_error, sizeof r->last_error, "%s", row->last_error ? row->last_error : "");
    r->errors = json_parse(row->errors, strlen(row->errors));
    if (!r->errors || !json_object_is_type(r->errors, json_type_object)) {
        json_object_put(r->errors);
        r->errors = json_object_new_object();
    }
    r->saved_at = clock_wall_ms();
    if (pthread_create(&r->th, NULL, run, r)) abort();
    log_info("currents: %s (%s) delivering from outbox seq %lld, messages id %lld", row->name, row->type,
             (long long)r->pos.out_seq, (long long)r->pos.msg_id);
    return r;
}

void runner_stop(runner *r) { r->stop = 1; }

void runner_free(runner *r) {
    if (!r) return;
    r->stop = 1;
    pthread_join(r->th, NULL);
    if (r->sink) r->sink->ops->free(r->sink);
    source_reset(&r->src[0]);
    source_reset(&r->src[1]);
    json_object_put(r->errors);
    sqlite3_close(r->db);
    cur_conf_free(&r->conf);
    free(r);
}
