/* commit.c -- group-commit throughput: acknowledged single-row writes/s.
 *
 * 64 client threads each write one row at a time through store_exec() and
 * wait for its acknowledgement (durable commit, synchronous=FULL), for a fixed
 * time. Run twice on fresh databases in the same directory: with group commit
 * (the server's setting) and with one commit per write (max batch 1, the
 * baseline a naive server would be). Prints writes/s, commits/s, mean batch,
 * latency percentiles and the ratio. Usage: commit [seconds] [dir] */
#define _GNU_SOURCE
#include "lib/clock.h"
#include "lib/log.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS 64
#define MAX_SAMPLES 2000000

static atomic_int stop;
static int64_t *lat; /* microseconds, per acknowledged write */
static atomic_long nlat;

typedef struct {
    store_t *s;
    long id;
} client;

static int insert_op(sqlite3 *db, void *arg) {
    /* Runs on the writer thread only: one cached statement is enough. */
    static sqlite3_stmt *shared;
    static sqlite3 *shared_db;
    if (shared_db != db) {
        sqlite3_finalize(shared);
        sqlite3_prepare_v2(db, "INSERT INTO bench (client, at, payload) VALUES (?, ?, ?)", -1, &shared, NULL);
        shared_db = db;
    }
    client *c = arg;
    sqlite3_bind_int64(shared, 1, c->id);
    sqlite3_bind_int64(shared, 2, clock_wall_ms());
    sqlite3_bind_text(shared, 3, "{\"external_id\":\"user-1\",\"email\":\"a@example.com\"}", -1, SQLITE_STATIC);
    int rc = sqlite3_step(shared);
    sqlite3_reset(shared);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void *run(void *arg) {
    client *c = arg;
    while (!atomic_load(&stop)) {
        int64_t t0 = clock_mono_us();
        if (store_exec(c->s, insert_op, c) < 0) {
            fprintf(stderr, "write failed\n");
            exit(1);
        }
        long i = atomic_fetch_add(&nlat, 1);
        if (i < MAX_SAMPLES) lat[i] = clock_mono_us() - t0;
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double writes_s, commits_s, batch, p50_ms, p99_ms;
} result;

static result measure(const char *dir, unsigned max_batch, double seconds) {
    store_t *s;
    if (store_open(dir, &s) < 0) exit(1);
    store_sql(store_db_for_tests(s), "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, client INTEGER, at INTEGER, payload TEXT)");
    store_set_max_batch(s, max_batch);
    store_start(s);
    atomic_store(&stop, 0);
    atomic_store(&nlat, 0);
    pthread_t th[CLIENTS];
    client cl[CLIENTS];
    store_stats before = store_get_stats(s);
    int64_t t0 = clock_mono_us();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){s, i};
        pthread_create(&th[i], NULL, run, &cl[i]);
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (long)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < CLIENTS; i++) pthread_join(th[i], NULL);
    double el = (double)(clock_mono_us() - t0) / 1e6;
    store_stats after = store_get_stats(s);
    store_close(s);
    long n = atomic_load(&nlat);
    if (n > MAX_SAMPLES) n = MAX_SAMPLES;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    result r;
    double w = (double)(after.ops - before.ops), c = (double)(after.commits - before.commits);
    r.writes_s = w / el;
    r.commits_s = c / el;
    r.batch = c ? w / c : 0;
    r.p50_ms = n ? (double)lat[n / 2] / 1000 : 0;
    r.p99_ms = n ? (double)lat[n * 99 / 100] / 1000 : 0;
    return r;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    const char *base = argc > 2 ? argv[2] : "build/bench-data";
    log_set_level(LOG_WARN);
    lat = malloc(sizeof *lat * MAX_SAMPLES);
    char a[512], b[512], cmd[1200];
    snprintf(a, sizeof a, "%s/commit-group", base);
    snprintf(b, sizeof b, "%s/commit-single", base);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", a, b);
    if (system(cmd) != 0) return 1;

    result g = measure(a, 8192, seconds);
    result o = measure(b, 1, seconds);
    printf("group commit, %d clients, synchronous=FULL, %.0f s each\n", CLIENTS, seconds);
    printf("  %-22s %12s %12s %8s %9s %9s\n", "mode", "writes/s", "commits/s", "batch", "p50 ms", "p99 ms");
    printf("  %-22s %12.0f %12.0f %8.1f %9.2f %9.2f\n", "group commit", g.writes_s, g.commits_s, g.batch, g.p50_ms, g.p99_ms);
    printf("  %-22s %12.0f %12.0f %8.1f %9.2f %9.2f\n", "one commit per write", o.writes_s, o.commits_s, o.batch, o.p50_ms, o.p99_ms);
    printf("  ratio (group / one per write): %.1fx acknowledged writes/s\n", o.writes_s ? g.writes_s / o.writes_s : 0);
    free(lat);
    return 0;
}
