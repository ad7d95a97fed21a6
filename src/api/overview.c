/* overview.c -- GET /admin/overview: the figures of the dashboard's first
 * page, in one JSON answer.
 *
 *   GET  /admin/overview   brasa.marketing   counts, events today, ingest rates, store, queues, last 24 hours
 *
 * Most figures are GET /metrics' (metrics.c), read through the same
 * accessors: the engine's (eng_stats and the counts, on the engine thread
 * like any read), the store's group commits, the request counters
 * (http/reqstats.h) and the Currents connectors' lag (api_currents_lag, on
 * this HTTP thread); the dispatches and postbacks pending are counted by
 * index or in a small table. Events recorded (custom events and purchases, as many
 * as Currents gets) come from event_counts (sql/023_event_counts.sql), which
 * the engine's batches keep by quarter hour: today (from midnight in the
 * workspace's time zone) and the last 24 hours are some 100 and 96 rows
 * read by key, whatever the traffic. Rates compare the counters with a
 * sample taken a minute or more before, from a small ring the calls fill
 * themselves: no timer, and a dashboard polling every few seconds keeps it
 * a minute deep. */
#include "api.h"
#include "../core/cohort.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../liquid/liquid.h"
#include "../store/currents.h"
#include "../store/journal.h"
#include "../store/keys.h"
#include "../store/messaging.h"
#include "../store/postbacks.h"
#include "../store/segments.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOURS 24
#define QUARTER_S 900
#define RATE_WINDOW_MS 60000 /* rates over the last minute or so */
#define RING 32              /* samples, at least RING_STEP_MS apart: over two minutes */
#define RING_STEP_MS 5000
#define INGEST_METHOD "POST"
#define INGEST_PATH "/users/track"

typedef struct {
    eng_cmd cmd;
    int64_t now_ms;
    eng_stats eng;
    uint32_t cohorts;
    int64_t segments, campaigns, today;
    int64_t dispatches, recipients, postbacks; /* pending */
    int64_t today_start, series_start; /* s */
    int64_t series[HOURS];
    char zone[64];
} overview_req;

/* ---- rates --------------------------------------------------------------- */

typedef struct {
    int64_t ms;
    uint64_t requests, objects;
} sample;

static struct {
    pthread_mutex_t lock;
    sample v[RING];
    int n, next;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The sample to measure `now` from: the newest one RATE_WINDOW_MS old or
 * more, else the oldest there is, else the start of the process (counters
 * at 0). `now` joins the ring when the newest is RING_STEP_MS old. */
static sample rate_base(const sample *now, int64_t started_ms) {
    sample base = {started_ms, 0, 0};
    pthread_mutex_lock(&ring.lock);
    for (int k = 1; k <= ring.n; k++) { /* newest first */
        base = ring.v[(ring.next - k + RING) % RING];
        if (now->ms - base.ms >= RATE_WINDOW_MS) break;
    }
    if (!ring.n || now->ms - ring.v[(ring.next - 1 + RING) % RING].ms >= RING_STEP_MS) {
        ring.v[ring.next] = *now;
        ring.next = (ring.next + 1) % RING;
        if (ring.n < RING) ring.n++;
    }
    pthread_mutex_unlock(&ring.lock);
    return base;
}

static json_object *ingest(http_req *r, const overview_req *o) {
    sample now = {o->now_ms, http_requests(r, INGEST_METHOD, INGEST_PATH), o->eng.objects};
    sample base = rate_base(&now, http_context(r)->started_ms);
    double s = (double)(now.ms - base.ms) / 1000;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "route", json_object_new_string(INGEST_METHOD " " INGEST_PATH));
    json_object_object_add(j, "window_seconds", json_object_new_double(s));
    json_object_object_add(j, "requests_per_second",
                           json_object_new_double(s > 0 ? (double)(now.requests - base.requests) / s : 0));
    json_object_object_add(j, "objects_per_second",
                           json_object_new_double(s > 0 ? (double)(now.objects - base.objects) / s : 0));
    return j;
}

/* ---- the engine's part --------------------------------------------------- */

/* Midnight (s) in zone at instant t (s): by the offset in force now, so a
 * day with a DST change at midnight is off by its shift. */
static int64_t local_midnight(const char *zone, int64_t t) {
    const liq_tz *z = liq_tz_get(zone, strlen(zone));
    int32_t off = 0;
    char abbr[15];
    bool utc;
    if (z) liq_tz_at(z, t, &off, abbr, &utc);
    int64_t local = t + off;
    return local - ((local % 86400) + 86400) % 86400 - off;
}

static int overview_read(engine_t *e, void *arg) {
    overview_req *o = arg;
    sqlite3 *db = engine_reader(e);
    o->eng = engine_stats(e);
    o->cohorts = cohorts_count(engine_cohorts(e));
    int rc = store_segment_count(db, &o->segments);
    if (rc == 0) rc = store_campaign_count(db, &o->campaigns);
    if (rc == 0) rc = store_time_zone(db, o->zone, sizeof o->zone);
    if (rc == 0) rc = store_dispatch_pending(db, &o->dispatches, &o->recipients);
    if (rc == 0) rc = store_postbacks_pending(db, &o->postbacks);
    if (rc < 0) return rc;
    int64_t now = o->now_ms / 1000, hour = now - now % 3600, quarter_end = now - now % QUARTER_S + QUARTER_S;
    o->today_start = local_midnight(o->zone, now);
    /* Every real zone's offset is a multiple of a quarter hour. */
    int64_t from = o->today_start - ((o->today_start % QUARTER_S) + QUARTER_S) % QUARTER_S;
    rc = store_event_counts_sum(db, from, quarter_end, quarter_end - from, &o->today);
    o->series_start = hour - (HOURS - 1) * 3600;
    if (rc == 0) rc = store_event_counts_sum(db, o->series_start, hour + 3600, 3600, o->series);
    return rc;
}

/* ---- the answer ---------------------------------------------------------- */

static json_object *store_part(http_req *r, const overview_req *o) {
    store_t *s = engine_store(http_context(r)->engine);
    store_stats st = store_get_stats(s);
    uint64_t commits = 0;
    for (int i = 0; i <= MHIST_BUCKETS; i++) commits += st.commit_time.n[i];
    json_object *j = json_object_new_object();
    json_object_object_add(j, "journal_seq", json_object_new_int64(o->eng.journal_seq));
    json_object_object_add(j, "checkpoint_seq", json_object_new_int64(o->eng.checkpoint_seq));
    json_object_object_add(j, "journal_pending_batches", json_object_new_int64(o->eng.journal_pending));
    json_object_object_add(j, "last_checkpoint_at", json_time_or_null(o->eng.checkpoint_ms));
    double age = o->now_ms > o->eng.checkpoint_ms ? (double)(o->now_ms - o->eng.checkpoint_ms) / 1000 : 0;
    json_object_object_add(j, "checkpoint_age_seconds", o->eng.checkpoint_ms ? json_object_new_double(age) : NULL);
    json_object_object_add(j, "commits", json_object_new_int64((int64_t)st.commits));
    json_object_object_add(j, "writes", json_object_new_int64((int64_t)st.ops));
    json_object_object_add(j, "writes_failed", json_object_new_int64((int64_t)st.failed));
    json_object_object_add(j, "writes_per_commit",
                           json_object_new_double(st.commits ? (double)st.ops / (double)st.commits : 0));
    json_object_object_add(j, "batch_max", json_object_new_int64((int64_t)st.max_batch));
    json_object_object_add(j, "commit_seconds_avg",
                           json_object_new_double(commits ? (double)st.commit_time.sum_us / 1e6 / (double)commits : 0));
    json_object_object_add(j, "wal_checkpoints",
                           json_object_new_int64((int64_t)(st.wal_checkpoints + st.wal_checkpoints_inline)));
    json_object_object_add(j, "failed", json_object_new_boolean(store_failed(s)));
    return j;
}

/* What waits to go out: dispatches still sending and the recipients they
 * have yet to pass, transactional postbacks not answered, and each Currents
 * connector's lag. */
static int queues_part(http_req *r, const overview_req *o, json_object **out) {
    store_cur *rows;
    int64_t *lag;
    int n, rc = api_currents_lag(engine_store(http_context(r)->engine), &rows, &n, &lag);
    json_object *list = json_object_new_array();
    for (int i = 0; rc == 0 && i < n; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(rows[i].id));
        json_object_object_add(c, "name", json_object_new_string(rows[i].name));
        json_object_object_add(c, "type", json_object_new_string(rows[i].type));
        json_object_object_add(c, "paused", json_object_new_boolean(rows[i].paused));
        json_object_object_add(c, "lag_events", json_object_new_int64(lag[2 * i]));
        json_object_object_add(c, "lag_seconds", json_object_new_int64(lag[2 * i + 1]));
        json_object_object_add(c, "dead_letter", json_object_new_int64(rows[i].dead));
        json_object_array_add(list, c);
    }
    store_cur_rows_free(rows, n);
    free(lag);
    if (rc < 0) {
        json_object_put(list);
        return rc;
    }
    *out = json_object_new_object();
    json_object_object_add(*out, "dispatches_sending", json_object_new_int64(o->dispatches));
    json_object_object_add(*out, "recipients_pending", json_object_new_int64(o->recipients));
    json_object_object_add(*out, "postbacks_pending", json_object_new_int64(o->postbacks));
    json_object_object_add(*out, "currents", list);
    return 0;
}

static json_object *series_part(const overview_req *o) {
    json_object *a = json_object_new_array();
    for (int i = 0; i < HOURS; i++) {
        int64_t t = o->series_start + (int64_t)i * 3600;
        json_object *p = json_object_new_object();
        json_object_object_add(p, "time", json_time(t * 1000));
        json_object_object_add(p, "start", json_object_new_int64(t));
        json_object_object_add(p, "events", json_object_new_int64(o->series[i]));
        json_object_array_add(a, p);
    }
    return a;
}

static int overview_done(http_req *r, int rc) {
    overview_req *o = http_state_get(r);
    json_object *queues = NULL;
    if (rc < 0 || (rc = queues_part(r, o, &queues)) < 0) return rc;
    json_object *j = api_success();
    json_object_object_add(j, "profiles", json_object_new_int64(o->eng.live));
    json_object_object_add(j, "cohorts", json_object_new_int64(o->cohorts));
    json_object_object_add(j, "segments", json_object_new_int64(o->segments));
    json_object_object_add(j, "campaigns", json_object_new_int64(o->campaigns));
    json_object_object_add(j, "time_zone", json_object_new_string(o->zone));
    json_object_object_add(j, "today_start", json_time(o->today_start * 1000));
    json_object_object_add(j, "events_today", json_object_new_int64(o->today));
    json_object_object_add(j, "ingest", ingest(r, o));
    json_object_object_add(j, "store", store_part(r, o));
    json_object_object_add(j, "queues", queues);
    json_object_object_add(j, "series", series_part(o));
    return http_reply(r, 200, j);
}

static int get_overview(http_req *r) {
    overview_req *o = http_state(r, sizeof *o, NULL);
    o->now_ms = clock_wall_ms();
    return api_read(r, &o->cmd, overview_read, o, overview_done);
}

const http_route api_overview_routes[] = {
    {"GET", "/admin/overview", PERM_BRASA_MARKETING, RL_DEFAULT, get_overview, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};
