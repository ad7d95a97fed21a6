/* profiles.c -- memory per profile and start-up time, in process.
 *
 * Builds N profiles (default 1,000,000) through the engine the way the
 * server does (bodies parsed by api/ into track commands, applied by the
 * engine and journaled as change records),
 * each with an external_id, 10 custom attributes of every type (strings,
 * ints, a float, bools, a time, an array) and 2 event summaries. Per 75
 * users: one body with their 75 attributes objects and 75 events of a first
 * name, one body with 75 events of a second name (75 objects per array, as
 * the API allows).
 *
 * Reports resident bytes per profile three ways: the RSS growth of the
 * process (/proc/self/statm; json-c garbage freed back with mem_trim
 * first), the engine's own estimate (engine_stats().memory / live
 * profiles) with its split into blobs, row headers and indexes, and the RSS
 * of the working set once loaded afresh from the store by another process
 * (forked before anything was built, so its heap holds nothing else and
 * the figure does not depend on what the allocator keeps of freed memory).
 * That process times engine_open(): the start-up cost, in seconds per
 * million profiles.
 *
 * The store runs with synchronous=OFF here: durability is measured by the
 * commit benchmarks, and N fsyncs would only slow the set-up. No
 * checkpoint runs while building (the journal holds every body until the
 * forced one), as in a server that has not checkpointed yet.
 *
 * Usage: profiles [N] [dir]   (dir is emptied first; default
 * build/bench-data/profiles) */
#define _GNU_SOURCE
#include "api/api.h"
#include "api/parse.h"
#include "core/columns.h"
#include "core/profile.h"
#include "core/users.h"
#include "engine/engine.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"

#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PER_BODY 75

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f || fscanf(f, "%ld %ld", &size, &res) != 2) {
        fprintf(stderr, "profiles: cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* The fresh load, in the child forked at start: waits for the go on `go`,
 * opens the store, writes "seconds rss_bytes live" on `out`. */
static void loader(const char *dir, int go, int out) {
    char c;
    if (read(go, &c, 1) != 1) _exit(1);
    store_t *s;
    engine_t *e;
    mem_trim();
    size_t rss0 = rss_bytes();
    int64_t t0 = clock_mono_us();
    if (store_open(dir, &s) < 0 || engine_open(s, &e) < 0) _exit(1);
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    mem_trim();
    size_t rss = rss_bytes() - rss0;
    eng_stats st = engine_stats(e);
    if (users_by_external_id(engine_users(e), "user-0000000", 12) == USERS_NONE) _exit(1);
    char line[128];
    int n = snprintf(line, sizeof line, "%.3f %zu %u\n", secs, rss, st.live);
    if (write(out, line, (size_t)n) != n) _exit(1);
    engine_free(e);
    store_close(s);
    _exit(0);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
#define PICK(a) (a)[rnd() % (sizeof(a) / sizeof *(a))]

static const char *const plans[] = {"free", "basic", "gold", "platinum", "enterprise"};
static const char *const cities[] = {"Lisbon", "Porto", "Berlin", "Paris", "São Paulo",
                                     "New York", "Osaka", "Nairobi", "Lyon", "Austin"};
static const char *const tagset[] = {"sports", "news", "music", "travel", "food", "tech", "finance", "kids"};
static const char *const langs[] = {"en", "pt", "de", "fr", "ja"};

static json_object *str(const char *s) { return json_object_new_string(s); }

static void iso(char out[32], time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ext_id(char out[32], uint32_t u) { snprintf(out, 32, "user-%07u", u); }

/* external_id + 10 custom attributes. */
static json_object *attributes(uint32_t u, time_t now) {
    json_object *o = json_object_new_object();
    char id[32], when[32], code[16];
    ext_id(id, u);
    iso(when, now - (time_t)(rnd() % (90 * 86400)));
    snprintf(code, sizeof code, "R%08llx", (unsigned long long)(rnd() & 0xffffffffu));
    json_object_object_add(o, "external_id", str(id));
    json_object_object_add(o, "plan", str(PICK(plans)));
    json_object_object_add(o, "favourite_city", str(PICK(cities)));
    json_object_object_add(o, "referral_code", str(code));
    json_object_object_add(o, "preferred_language", str(PICK(langs)));
    json_object_object_add(o, "visits", json_object_new_int64((int64_t)(rnd() % 5000)));
    json_object_object_add(o, "loyalty_points", json_object_new_int64((int64_t)(rnd() % 1000000)));
    json_object_object_add(o, "lifetime_value", json_object_new_double((double)(rnd() % 200000) / 100.0));
    json_object_object_add(o, "vip", json_object_new_boolean(rnd() & 1));
    json_object_object_add(o, "last_purchase_at", str(when));
    json_object *tags = json_object_new_array();
    for (uint64_t i = 0, n = 1 + rnd() % 3; i < n; i++) json_object_array_add(tags, str(PICK(tagset)));
    json_object_object_add(o, "interests", tags);
    return o;
}

static json_object *event(uint32_t u, const char *name, time_t now) {
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    char id[32], when[32];
    ext_id(id, u);
    iso(when, now - (time_t)(rnd() % (7 * 86400)));
    json_object_object_add(o, "external_id", str(id));
    json_object_object_add(o, "name", str(name));
    json_object_object_add(o, "time", str(when));
    json_object_object_add(p, "screen", str(PICK(tagset)));
    json_object_object_add(p, "duration_s", json_object_new_int64((int64_t)(rnd() % 3600)));
    json_object_object_add(p, "online", json_object_new_boolean(1));
    json_object_object_add(o, "properties", p);
    return o;
}

/* Runs one track body through the engine; exits unless every object applied. */
static void run(engine_t *e, json_object *body, int want_attrs, int want_events) {
    api_track_result r;
    int rc = api_track_exec(e, body, &r);
    if (rc < 0 || r.processed[TRACK_ATTRIBUTES] != want_attrs || r.processed[TRACK_EVENTS] != want_events || r.errors) {
        fprintf(stderr, "profiles: a track command failed (rc %d, %d attributes, %d events processed%s%s)\n", rc,
                r.processed[TRACK_ATTRIBUTES], r.processed[TRACK_EVENTS], r.errors ? ": " : "",
                r.errors ? json_object_to_json_string(r.errors) : "");
        exit(1);
    }
}

int main(int argc, char **argv) {
    long n_arg = argc > 1 ? atol(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "build/bench-data/profiles";
    if (n_arg < 1 || n_arg > 100000000) {
        fprintf(stderr, "usage: profiles [N: 1..100000000] [dir]\n");
        return 2;
    }
    uint32_t n = (uint32_t)n_arg;
    log_set_level(LOG_WARN);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;

    /* The loader is forked before the heap holds anything. */
    int go[2], res[2];
    if (pipe(go) < 0 || pipe(res) < 0) return 1;
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        close(go[1]);
        close(res[0]);
        loader(dir, go[0], res[1]);
    }
    close(go[0]);
    close(res[1]);

    store_t *s;
    engine_t *e;
    if (store_open(dir, &s) < 0) return 1;
    store_sql(store_db_for_tests(s), "PRAGMA synchronous=OFF");
    api_legacy_register();
    if (engine_open(s, &e) < 0) return 1;
    mem_trim();
    size_t rss0 = rss_bytes();

    time_t now = time(NULL);
    int64_t t0 = clock_mono_us();
    for (uint32_t base = 0; base < n; base += PER_BODY) {
        uint32_t k = n - base < PER_BODY ? n - base : PER_BODY;
        json_object *b1 = json_object_new_object(), *attrs = json_object_new_array(), *ev1 = json_object_new_array();
        json_object *b2 = json_object_new_object(), *ev2 = json_object_new_array();
        for (uint32_t u = base; u < base + k; u++) {
            json_object_array_add(attrs, attributes(u, now));
            json_object_array_add(ev1, event(u, "viewed_item", now));
            json_object_array_add(ev2, event(u, "session_start", now));
        }
        json_object_object_add(b1, "attributes", attrs);
        json_object_object_add(b1, "events", ev1);
        json_object_object_add(b2, "events", ev2);
        run(e, b1, (int)k, (int)k);
        run(e, b2, 0, (int)k);
        json_object_put(b1);
        json_object_put(b2);
    }
    engine_columns(e); /* segment columns caught up, as the first segment would */
    double build_s = (double)(clock_mono_us() - t0) / 1e6;
    size_t rss_raw = rss_bytes();
    mem_trim();
    size_t rss1 = rss_bytes();

    eng_stats st = engine_stats(e);
    users_t *us = engine_users(e);
    size_t users_mem = users_memory(us), cols_mem = cols_memory(engine_columns(e));
    size_t blobs = 0, nblobs = 0;
    for (uint32_t r = 0; r < users_rows(us); r++) {
        profile_t *p = users_get(us, r);
        if (p->blob) {
            blobs += profile_blob_size(p->blob);
            nblobs++;
        }
    }
    if (st.live != n) {
        fprintf(stderr, "profiles: %u live profiles, expected %u\n", st.live, n);
        return 1;
    }

    t0 = clock_mono_us();
    if (engine_checkpoint_now(e, true) < 0) return 1; /* the snapshot and its write to profiles.db */
    double ckpt_s = (double)(clock_mono_us() - t0) / 1e6;
    engine_free(e);
    store_close(s);

    double open_s;
    size_t rss2;
    unsigned live2;
    char line[128] = "";
    if (write(go[1], "g", 1) != 1 || read(res[0], line, sizeof line - 1) <= 0 ||
        sscanf(line, "%lf %zu %u", &open_s, &rss2, &live2) != 3 || live2 != n) {
        fprintf(stderr, "profiles: the fresh load failed (%s)\n", line);
        return 1;
    }
    int status;
    waitpid(child, &status, 0);

    double dn = (double)n;
    printf("profiles: %u users, external_id + 10 custom attributes + 2 event summaries each, built in %.1f s "
           "(%.0f profiles/s through the engine, inline)\n", n, build_s, dn / build_s);
    printf("  %-58s %10s\n", "memory", "bytes/profile");
    printf("  %-58s %10.0f\n", "RSS growth while building (after mem_trim)", (double)(rss1 - rss0) / dn);
    printf("  %-58s %10.0f\n", "  same, before mem_trim", (double)(rss_raw - rss0) / dn);
    printf("  %-58s %10.0f\n", "engine estimate (engine_stats().memory / live)", (double)st.memory / dn);
    printf("  %-58s %10.0f\n", "  profiles: row headers, blobs, identifier indexes", (double)users_mem / dn);
    printf("  %-58s %10.0f\n", "  segment columns (core/columns.h)", (double)cols_mem / dn);
    printf("  %-58s %10.1f\n", "  the encoded blob alone (mean, without malloc overhead)",
           nblobs ? (double)blobs / (double)nblobs : 0);
    printf("  %-58s %10.0f\n", "RSS of the working set loaded afresh (another process)", (double)rss2 / dn);
    printf("  target: <= 300 bytes/profile, segment columns included: %s (fresh load)\n",
           (double)rss2 / dn <= 300 ? "met" : "not met");
    if (n < 1000000)
        printf("  (with fewer than 1M profiles, fixed costs and power-of-two table sizes weigh more per profile)\n");
    printf("  %-58s %10.2f s\n", "forced checkpoint (write every profile, drop the journal)", ckpt_s);
    printf("  %-58s %10.2f s  (%.2f s per million profiles)\n", "start-up: engine_open on the same store", open_s,
           open_s / dn * 1e6);
    return 0;
}
