/* metrics.c -- GET /metrics: brasa's numbers in Prometheus' text format.
 *
 * For a Prometheus scraper, with a key holding brasa.metrics (an admin
 * permission: "all" does not grant it), or without a key on the address of
 * --metrics-listen, which serves nothing else. What an operator watches: requests
 * by route, status and latency (http/reqstats.h); group commits and their
 * fsync times, failed writes and WAL checkpoints (store/); profiles,
 * cohorts, segments, the journal not yet checkpointed and the engine's
 * memory (read on the engine thread, like any read: never behind an
 * fsync); emails signed with DKIM or not; the process' uptime and
 * resident memory. Names and units follow
 * Prometheus' conventions (_total counters, _seconds, _bytes). */
#include "api.h"
#include "../core/cohort.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/metrics.h"
#include "../send/dkim.h"
#include "../store/segments.h"
#include "../version.h"

#include <stdio.h>
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
