/* metrics.c -- GET /metrics: brasa's numbers in Prometheus' text format.
 *
 * For a Prometheus scraper, with a key holding brasa.metrics (an admin
 * permission: "all" does not grant it), or without a key on the address of
 * --metrics-listen, which serves nothing else. What an operator watches: requests
 * by route, status and latency (http/reqstats.h); group commits and their
 * fsync times, failed writes and WAL checkpoints (store/); profiles,
 * cohorts, segments, the journal not yet checkpointed and the engine's
 * memory (read on the engine thread, like any read: never behind an
 * fsync); emails signed with DKIM or not; each Currents connector's
 * deliveries, failures, dead letter and lag (read on the HTTP thread with
 * a connection of its own: the lag sums the outbox after each cursor,
 * slow on a big backlog); the process' uptime and resident memory. Names
 * and units follow Prometheus' conventions (_total counters, _seconds,
 * _bytes). */
#include "api.h"
#include "../core/cohort.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mem.h"
#include "../lib/metrics.h"
#include "../send/dkim.h"
#include "../store/currents.h"
#include "../store/segments.h"
#include "../version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    eng_cmd cmd;
    eng_stats eng;
    uint32_t cohorts;
    int64_t segments;
} metrics_req;

/* ENG_READ: what the engine owns. */
static int engine_read(engine_t *e, void *arg) {
    metrics_req *m = arg;
    m->eng = engine_stats(e);
    m->cohorts = cohorts_count(engine_cohorts(e));
    return store_segment_count(engine_reader(e), &m->segments);
}

static void metric(buf_t *b, const char *name, const char *type, const char *help, double v) {
    metrics_head(b, name, type, help);
    metrics_sample(b, name, "", v);
}

/* Resident memory from /proc/self/statm (pages). */
static double resident_bytes(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

int api_currents_lag(store_t *s, store_cur **rows, int *n, int64_t **lag) {
    sqlite3 *db = NULL;
    *rows = NULL;
    *n = 0;
    if (store_open_reader(s, &db) < 0) return BR_ESTORE;
    int rc = store_cur_list(db, rows, n);
    int64_t now = clock_wall_ms();
    *lag = xcalloc((size_t)*n + 1, 2 * sizeof **lag);
    for (int i = 0; rc == 0 && i < *n; i++)
        rc = store_cur_lag(db, &(*rows)[i].pos, now, &(*lag)[2 * i], &(*lag)[2 * i + 1]);
    sqlite3_close(db);
    return rc < 0 ? BR_ESTORE : 0;
}

/* The Currents connectors, labelled {connector, type}: their counters as
 * stored (the runners write them at least every quarter second while
 * busy), the dead letter, and the lag of their cursors. */
static int currents_metrics(buf_t *b, store_t *s) {
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"brasa_currents_events_sent_total", "counter", "Events each Currents connector's destination accepted."},
        {"brasa_currents_batches_total", "counter", "Requests (files: writes) each connector's destination accepted."},
        {"brasa_currents_retries_total", "counter",
         "Attempts that failed and were tried again (5xx, 429, timeouts, network and TLS errors)."},
        {"brasa_currents_dead_letter_events", "gauge",
         "Events the destination refused on their own (400, or 413 for one event), kept in the dead letter."},
        {"brasa_currents_lag_events", "gauge", "Events in the outboxes each connector has yet to deliver."},
        {"brasa_currents_lag_seconds", "gauge",
         "Age of the oldest event each connector has yet to deliver (0 when caught up)."},
        {"brasa_currents_paused", "gauge", "1 while the connector is paused (its events wait in the outboxes)."},
    };
    store_cur *rows;
    int64_t *lag;
    int n, rc = api_currents_lag(s, &rows, &n, &lag);
    buf_t *labels = xcalloc((size_t)n + 1, sizeof *labels);
    for (int i = 0; i < n; i++) {
        buf_puts(&labels[i], "connector=\"");
        metrics_label(&labels[i], rows[i].name);
        buf_puts(&labels[i], "\",type=\"");
        metrics_label(&labels[i], rows[i].type);
        buf_puts(&labels[i], "\"");
    }
    for (size_t f = 0; rc == 0 && f < sizeof fam / sizeof *fam; f++) {
        metrics_head(b, fam[f].name, fam[f].type, fam[f].help);
        for (int i = 0; i < n; i++) {
            const store_cur *c = &rows[i];
            int64_t v[] = {c->sent, c->batches, c->retries, c->dead, lag[2 * i], lag[2 * i + 1], c->paused};
            metrics_sample(b, fam[f].name, labels[i].data, (double)v[f]);
        }
        if (strcmp(fam[f].name, "brasa_currents_retries_total")) continue;
        /* after the retries: the failed attempts by status */
        metrics_head(b, "brasa_currents_errors_total", "counter",
                     "Failed attempts by the destination's HTTP status (0: none came: a timeout, a network or TLS "
                     "error).");
        for (int i = 0; i < n; i++) {
            json_object *errs = json_parse(rows[i].errors, strlen(rows[i].errors));
            if (json_object_is_type(errs, json_type_object)) {
                json_object_object_foreach(errs, status, count) {
                    buf_t l = BUF_INIT;
                    buf_printf(&l, "%s,status=\"", labels[i].data);
                    metrics_label(&l, status);
                    buf_puts(&l, "\"");
                    metrics_sample(b, "brasa_currents_errors_total", l.data, (double)json_object_get_int64(count));
                    buf_free(&l);
                }
            }
            json_object_put(errs);
        }
    }
    for (int i = 0; i < n; i++) buf_free(&labels[i]);
    free(labels);
    free(lag);
    store_cur_rows_free(rows, n);
    return rc < 0 ? BR_ESTORE : 0;
}

static int metrics_done(http_req *r, int rc) {
    metrics_req *m = http_state_get(r);
    if (rc < 0) return rc;
    http_ctx *ctx = http_context(r);
    store_stats st = store_get_stats(engine_store(ctx->engine));
    buf_t b = BUF_INIT;
    buf_t version = BUF_INIT;
    buf_puts(&version, "version=\"");
    metrics_label(&version, BRASA_VERSION);
    buf_puts(&version, "\"");
    metrics_head(&b, "brasa_build_info", "gauge", "The running version (value 1).");
    metrics_sample(&b, "brasa_build_info", version.data, 1);
    buf_free(&version);
    metric(&b, "brasa_uptime_seconds", "gauge", "Seconds since the server started.",
          (double)(clock_wall_ms() - ctx->started_ms) / 1000);
    metric(&b, "process_resident_memory_bytes", "gauge", "Resident memory of the process.", resident_bytes());

    http_write_metrics(r, &b);

    metric(&b, "brasa_store_commits_total", "counter", "Transactions committed to brasa.db (group commits).",
          (double)st.commits);
    metric(&b, "brasa_store_writes_total", "counter", "Writes acknowledged: committed, each part of some commit.",
          (double)st.ops);
    metric(&b, "brasa_store_writes_failed_total", "counter", "Writes answered with an error.", (double)st.failed);
    metric(&b, "brasa_store_batch_max", "gauge", "Most writes committed in one transaction since start.",
          (double)st.max_batch);
    metrics_head(&b, "brasa_store_commit_duration_seconds", "histogram", "Time of each COMMIT, its fsync included.");
    metrics_hist(&b, "brasa_store_commit_duration_seconds", "", &st.commit_time);
    metrics_head(&b, "brasa_store_wal_checkpoints_total", "counter",
                 "WAL checkpoints of brasa.db, by the thread that ran them (walckpt: its own; writer: the fallback).");
    metrics_sample(&b, "brasa_store_wal_checkpoints_total", "by=\"walckpt\"", (double)st.wal_checkpoints);
    metrics_sample(&b, "brasa_store_wal_checkpoints_total", "by=\"writer\"", (double)st.wal_checkpoints_inline);
    metric(&b, "brasa_store_failed", "gauge", "1 once a commit failed: the server refuses writes and exits.",
          store_failed(engine_store(ctx->engine)) ? 1 : 0);

    metric(&b, "brasa_profiles", "gauge", "User profiles (live rows).", m->eng.live);
    metric(&b, "brasa_profiles_dirty", "gauge", "Profiles changed since the last checkpoint.", m->eng.dirty);
    metric(&b, "brasa_journal_pending_batches", "gauge",
          "Journal batches not yet covered by a checkpoint (what a restart replays).", (double)m->eng.journal_pending);
    metric(&b, "brasa_engine_memory_bytes", "gauge", "The engine's estimate of its working set.", (double)m->eng.memory);
    metric(&b, "brasa_engine_commands_total", "counter", "Commands applied by the engine since start.",
          (double)m->eng.commands);
    metric(&b, "brasa_engine_batches_total", "counter", "Batches the engine handed to the store since start.",
          (double)m->eng.batches);
    metric(&b, "brasa_cohorts", "gauge", "Partner cohorts.", m->cohorts);
    metric(&b, "brasa_segments", "gauge", "Segments not archived.", (double)m->segments);
    if (ctx->dkim) {
        dkim_signer_stats ds = dkim_signer_get_stats(ctx->dkim);
        metrics_head(&b, "brasa_email_dkim_total", "counter",
                     "Emails by DKIM outcome: signed, or unsigned because From is outside --dkim-domain "
                     "(other_domain) or libopendkim failed (failed).");
        metrics_sample(&b, "brasa_email_dkim_total", "result=\"signed\"", (double)ds.signed_);
        metrics_sample(&b, "brasa_email_dkim_total", "result=\"other_domain\"", (double)ds.other);
        metrics_sample(&b, "brasa_email_dkim_total", "result=\"failed\"", (double)ds.failed);
    }
    if (currents_metrics(&b, engine_store(ctx->engine)) < 0) {
        buf_free(&b);
        return BR_ESTORE;
    }
    int out = http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_free(&b);
    return out;
}

static int get_metrics(http_req *r) {
    metrics_req *m = http_state(r, sizeof *m, NULL);
    return api_read(r, &m->cmd, engine_read, m, metrics_done);
}

const http_route api_metrics_routes[] = {
    {"GET", "/metrics", PERM_BRASA_METRICS, RL_DEFAULT, get_metrics, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};

/* The same without a key, alone on --metrics-listen: an address operators
 * keep to their monitoring network. */
static const http_route open_routes[] = {
    {"GET", "/metrics", PERM_NONE, RL_DEFAULT, get_metrics, 0}, /* no key, so no rate limit: as /healthz */
    {NULL, NULL, 0, 0, NULL, 0},
};
const http_route *const api_metrics_tables[] = {open_routes, NULL};
