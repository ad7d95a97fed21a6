/* cohorts.c -- partner cohort import: membership changes per second through
 * the HTTP endpoint, and the memory of a cohort of one million members.
 *
 * Three subcommands, driven by bench/cohorts.sh:
 *
 *   cohorts seed DIR N          a store with N profiles (external ids
 *                               "u0000000".., written through the engine as
 *                               /users/track commands of 75, then
 *                               checkpointed) and a data import key for
 *                               partner "heap", printed on stdout.
 *   cohorts load PORT SECRET N CONNS SECONDS
 *                               against a running server on that store:
 *                               creates cohort "bench", then CONNS
 *                               keep-alive connections each own a slice of
 *                               the N ids and send POST
 *                               /partners/heap/cohorts/users with 1,000
 *                               user_ids per request, adding their slice
 *                               block by block and then removing it, so
 *                               every id of every request is a real change
 *                               (checked from the answers' added/removed).
 *                               Then one pass adds all N ids (the fill) and
 *                               leaves a cohort of N members.
 *   cohorts memory              bitmap memory of one million members laid
 *                               out dense, at half density and sparse.
 *
 * The load generator shares the machine with the server; the figures
 * include that. */
#define _GNU_SOURCE
#include "api/api.h"
#include "api/parse.h"
#include "core/partner.h"
#include "engine/engine.h"
#include "lib/bitmap.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/partners.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 1000
#define TRACK_BATCH 75
#define MAX_SAMPLES 1000000

static void die(const char *what) {
    fprintf(stderr, "cohorts: %s\n", what);
    exit(1);
}

/* ---- seed ---------------------------------------------------------------- */

/* Every profile through the engine, inline: the journal rows are dropped
 * by the checkpoint that follows. */
static int seed_all(engine_t *e, long n) {
    buf_t b = BUF_INIT;
    for (long i = 0; i < n; i += TRACK_BATCH) {
        buf_reset(&b);
        buf_puts(&b, "{\"attributes\":[");
        for (long j = i; j < i + TRACK_BATCH && j < n; j++)
            buf_printf(&b, "%s{\"external_id\":\"u%07ld\",\"plan\":\"%s\",\"score\":%ld}", j > i ? "," : "", j,
                       j % 3 ? "free" : "pro", j % 1000);
        buf_puts(&b, "]}");
        json_object *body = json_tokener_parse(b.data);
        int rc = api_track_exec(e, body, NULL);
        json_object_put(body);
        if (rc < 0) return rc;
    }
    buf_free(&b);
    return 0;
}

static int seed(const char *dir, long n) {
    store_t *s;
    engine_t *e;
    api_legacy_register();
    if (store_open(dir, &s) < 0) die("cannot open the store");
    store_sql(store_db_for_tests(s), "PRAGMA synchronous=OFF"); /* set-up, not the measure */
    if (engine_open(s, &e) < 0) die("cannot open the store");
    int64_t t0 = clock_mono_us();
    if (seed_all(e, n) < 0) die("seeding failed");
    if (engine_checkpoint_now(e, true) < 0) die("checkpoint failed");
    partner_keygen k = {.partner = "heap"};
    if (store_exec(s, store_partner_keygen_op, &k) < 0) die("cannot create the data import key");
    fprintf(stderr, "cohorts: seeded %ld profiles in %.1f s\n", n, (double)(clock_mono_us() - t0) / 1e6);
    printf("%s\n", k.key);
    engine_free(e);
    store_close(s);
    return 0;
}

/* ---- a minimal HTTP/1.1 keep-alive client -------------------------------- */

typedef struct {
    int fd;
    char *buf;
    size_t cap, len;
} conn;

static void conn_open(conn *c, int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("cannot connect");
    c->cap = 1 << 16;
    c->buf = malloc(c->cap);
    c->len = 0;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) die("write failed");
        p += w;
        n -= (size_t)w;
    }
}

/* Sends one request; returns the status and the body (NUL-terminated, in
 * c->buf, valid until the next call). */
static int http(conn *c, const char *method, const char *path, const char *auth, const char *body, size_t blen,
                const char **out) {
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%s%s%sContent-Length: %zu\r\n\r\n",
                      method, path, auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "", blen);
    write_all(c->fd, head, (size_t)hl);
    if (blen) write_all(c->fd, body, blen);
    c->len = 0;
    for (;;) {
        if (c->len + 1 >= c->cap) c->buf = realloc(c->buf, c->cap *= 2);
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
        if (r <= 0) die("connection closed");
        c->len += (size_t)r;
        c->buf[c->len] = '\0';
        char *he = strstr(c->buf, "\r\n\r\n");
        if (!he) continue;
        char *cl = strcasestr(c->buf, "content-length:");
        if (!cl || cl > he) die("no Content-Length in the answer");
        size_t need = (size_t)(he + 4 - c->buf) + strtoul(cl + 15, NULL, 10);
        if (c->len < need) continue;
        *out = he + 4;
        return atoi(c->buf + 9);
    }
}

/* ---- load ---------------------------------------------------------------- */

static int port;
static const char *secret;
static atomic_int stop;
static int64_t *lat;
static atomic_long nlat;

typedef struct {
    long first, count; /* this connection's ids */
    long requests, changes, wrong;
} worker;

static long field(const char *body, const char *name) {
    const char *p = strstr(body, name);
    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

/* Builds a users call for ids [from, from + n) into b. */
static void users_body(buf_t *b, const char *cohort, long from, long n, bool remove) {
    buf_reset(b);
    buf_printf(b, "{\"partner_api_key\":\"bench\",\"client_secret\":\"%s\",\"cohort_id\":\"%s\",\"cohort_changes\":[{\"user_ids\":[",
               secret, cohort);
    for (long i = 0; i < n; i++) buf_printf(b, "%s\"u%07ld\"", i ? "," : "", from + i);
    buf_printf(b, "],\"device_ids\":[],\"aliases\":[],\"should_remove\":%s}]}", remove ? "true" : "false");
}

static void *run(void *arg) {
    worker *w = arg;
    conn c;
    conn_open(&c, port);
    buf_t b = BUF_INIT;
    long blocks = (w->count + BATCH - 1) / BATCH;
    for (long k = 0; !atomic_load(&stop); k++) {
        long blk = k % blocks;
        bool remove = (k / blocks) % 2 == 1; /* a pass adding the slice, then one removing it */
        long from = w->first + blk * BATCH, n = w->count - blk * BATCH < BATCH ? w->count - blk * BATCH : BATCH;
        users_body(&b, "bench", from, n, remove);
        const char *resp;
        int64_t t0 = clock_mono_us();
        int st = http(&c, "POST", "/partners/heap/cohorts/users", NULL, b.data, b.len, &resp);
        int64_t us = clock_mono_us() - t0;
        long got = field(resp, remove ? "\"removed\":" : "\"added\":");
        if (st != 201 || got != n) {
            if (w->wrong++ < 3) fprintf(stderr, "cohorts: unexpected answer %d %.200s\n", st, resp);
        }
        w->requests++;
        w->changes += got > 0 ? got : 0;
        long i = atomic_fetch_add(&nlat, 1);
        if (i < MAX_SAMPLES) lat[i] = us;
    }
    buf_free(&b);
    close(c.fd);
    free(c.buf);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int load(int argc, char **argv) {
    if (argc < 7) die("usage: cohorts load PORT SECRET N CONNS SECONDS [ADMIN_KEY]");
    port = atoi(argv[2]);
    secret = argv[3];
    long n = atol(argv[4]);
    int conns = atoi(argv[5]), secs = atoi(argv[6]);
    const char *admin = argc > 7 ? argv[7] : NULL;
    conn c;
    conn_open(&c, port);
    const char *resp;
    char body[512];
    snprintf(body, sizeof body,
             "{\"partner_api_key\":\"bench\",\"client_secret\":\"%s\",\"cohort_id\":\"bench\",\"name\":\"Bench cohort\","
             "\"created_at\":\"2026-01-01T00:00:00Z\"}", secret);
    if (http(&c, "POST", "/partners/heap/cohorts", NULL, body, strlen(body), &resp) != 201) die(resp);

    /* 1. Mixed adds and removes, CONNS connections, SECONDS. */
    lat = malloc(MAX_SAMPLES * sizeof *lat);
    worker *w = calloc((size_t)conns, sizeof *w);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    long per = n / conns;
    int64_t t0 = clock_mono_us();
    for (int i = 0; i < conns; i++) {
        w[i].first = i * per;
        w[i].count = i == conns - 1 ? n - i * per : per;
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    sleep((unsigned)secs);
    atomic_store(&stop, 1);
    long reqs = 0, changes = 0, wrong = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        reqs += w[i].requests;
        changes += w[i].changes;
        wrong += w[i].wrong;
    }
    double el = (double)(clock_mono_us() - t0) / 1e6;
    long nl = atomic_load(&nlat) < MAX_SAMPLES ? atomic_load(&nlat) : MAX_SAMPLES;
    qsort(lat, (size_t)nl, sizeof *lat, cmp64);
    printf("mixed: %d connections, %.1f s: %ld requests (%.0f/s), %ld membership changes (%.0f/s), "
           "p50 %.2f ms, p99 %.2f ms, wrong answers %ld\n",
           conns, el, reqs, reqs / el, changes, changes / el, nl ? lat[nl / 2] / 1e3 : 0, nl ? lat[nl * 99 / 100] / 1e3 : 0,
           wrong);

    /* 2. The fill: every id added once (one connection per slice again). */
    snprintf(body, sizeof body,
             "{\"partner_api_key\":\"bench\",\"client_secret\":\"%s\",\"cohort_id\":\"full\",\"name\":\"One million\","
             "\"created_at\":\"2026-01-01T00:00:00Z\"}", secret);
    if (http(&c, "POST", "/partners/heap/cohorts", NULL, body, strlen(body), &resp) != 201) die(resp);
    buf_t b = BUF_INIT;
    long added = 0;
    t0 = clock_mono_us();
    for (long i = 0; i < n; i += BATCH) {
        users_body(&b, "full", i, n - i < BATCH ? n - i : BATCH, false);
        if (http(&c, "POST", "/partners/heap/cohorts/users", NULL, b.data, b.len, &resp) != 201) die(resp);
        added += field(resp, "\"added\":");
    }
    el = (double)(clock_mono_us() - t0) / 1e6;
    printf("fill: 1 connection, %ld ids added in %.1f s (%.0f/s)\n", added, el, added / el);
    if (admin && http(&c, "GET", "/admin/cohorts?partner=heap", admin, NULL, 0, &resp) == 200) {
        const char *f = strstr(resp, "\"cohort_id\":\"full\"");
        if (f)
            printf("cohort of %ld members: %ld bytes in memory (%.2f bytes/member)\n", field(f, "\"size\":"),
                   field(f, "\"memory_bytes\":"), (double)field(f, "\"memory_bytes\":") / (double)field(f, "\"size\":"));
    }
    buf_free(&b);
    close(c.fd);
    free(c.buf);
    free(w);
    free(th);
    free(lat);
    return wrong ? 1 : 0;
}

/* ---- memory -------------------------------------------------------------- */

static void layout(const char *what, uint32_t rows, uint32_t members) {
    bitmap_t *b = bitmap_new();
    uint64_t x = 88172645463325252ull;
    if (members == rows) {
        for (uint32_t i = 0; i < rows; i++) bitmap_add(b, i);
    } else {
        while (bitmap_cardinality(b) < members) { /* xorshift: a fixed pseudo-random set */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bitmap_add(b, (uint32_t)(x % rows));
        }
    }
    size_t live = bitmap_memory(b);
    bitmap_optimize(b);
    printf("  %-42s %9zu B in memory (%5.2f B/member), %9zu B after optimize, %9zu B stored\n", what, live,
           (double)live / members, bitmap_memory(b), bitmap_serialized_size(b));
    bitmap_free(b);
}

int main(int argc, char **argv) {
    log_set_level(LOG_WARN);
    if (argc >= 4 && !strcmp(argv[1], "seed")) return seed(argv[2], atol(argv[3]));
    if (argc >= 2 && !strcmp(argv[1], "load")) return load(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "memory")) {
        printf("bitmap memory of a cohort of 1,000,000 members:\n");
        layout("every row (1M of 1M profiles)", 1000000, 1000000);
        layout("random half (1M of 2M profiles)", 2000000, 1000000);
        layout("random tenth (1M of 10M profiles)", 10000000, 1000000);
        return 0;
    }
    fprintf(stderr, "usage: cohorts seed DIR N | load PORT SECRET N CONNS SECONDS [ADMIN_KEY] | memory\n");
    return 2;
}
