/* pg_loader.c -- bench/ingest's /users/track bodies into PostgreSQL, the way
 * a team without brasa would store them: the yardstick of bench/ingest.sh.
 *
 * Bodies: the same shape and id distribution as bench/loadgen.c (--track):
 * 75 attributes objects (external_id + 8 custom attributes) and 75 events
 * per request, users drawn at random from USERS external ids; the per-object
 * variants are built the same way (this file copies loadgen's generator).
 *
 * The loader does what the team's HTTP handler would, without the HTTP: it
 * parses each body with json-c, merges the attributes objects that name the
 * same user (an upsert may touch a row once per statement), sorts them by
 * external_id (so concurrent upserts lock rows in one order and cannot
 * deadlock), and runs ONE prepared statement per request, which is one
 * transaction: a multi-row JSONB upsert into profiles and a multi-row insert
 * into events, both unpacked server-side with jsonb_to_recordset. The
 * statement returns its row counts, checked against what was sent.
 *
 * N connections, one thread each (blocking libpq): closed loop, every
 * connection sends its next request as soon as the previous one commits.
 * Requests that commit in the SECONDS after a WARMUP are counted. Then it
 * checks the tables: events holds 75 rows per committed request and
 * profiles one row per distinct user any committed request named, each
 * with the 8 attributes.
 *
 * Usage: pg_loader [-c CONNS] [-d SECONDS] [-w WARMUP] [-u USERS] CONNINFO
 * It creates (drops first) the tables profiles and events. Prints one
 * "pg_loader:" line of key=value pairs. Exits 1 on any failed request
 * or check, 2 on bad usage. */
#define _GNU_SOURCE
#include <json.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pg_loader: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#include "track_body.h"

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* ---- the schema and the statement ---------------------------------------- */

static const char *const schema =
    "DROP TABLE IF EXISTS profiles, events;"
    "CREATE TABLE profiles (external_id text PRIMARY KEY, attributes jsonb NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL);"
    "CREATE TABLE events (external_id text NOT NULL, name text NOT NULL, time timestamptz NOT NULL,"
    "  properties jsonb NOT NULL);"
    "CREATE INDEX events_user_time ON events (external_id, time);";

/* $1: [{"id":..,"attrs":{..}}, ...], one per distinct user, sorted by id;
 * $2: the request's events array as it came. Data-modifying CTEs run to
 * completion whether read or not; the counts are read to check them. */
static const char *const track_sql =
    "WITH up AS ("
    "  INSERT INTO profiles AS p (external_id, attributes, updated_at)"
    "  SELECT r.id, r.attrs, now() FROM jsonb_to_recordset($1::jsonb) AS r(id text, attrs jsonb)"
    "  ON CONFLICT (external_id) DO UPDATE"
    "    SET attributes = p.attributes || EXCLUDED.attributes, updated_at = EXCLUDED.updated_at"
    "  RETURNING 1),"
    " ev AS ("
    "  INSERT INTO events (external_id, name, time, properties)"
    "  SELECT e.external_id, e.name, e.time, e.properties"
    "  FROM jsonb_to_recordset($2::jsonb) AS e(external_id text, name text, time timestamptz, properties jsonb)"
    "  RETURNING 1)"
    "SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM ev)";

/* ---- the loader threads -------------------------------------------------- */

static atomic_bool stop;
static atomic_ullong committed, retried;
static _Atomic uint64_t *seen; /* bitmap of the user numbers committed requests named */

typedef struct {
    PGconn *pg;
    pthread_t th;
    uint64_t seed;
} worker;

typedef struct {
    const char *id;
    json_object *obj;
    int pos;
} entry;

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->pos - y->pos;
}

/* The two parameters of one body: attributes merged per user, sorted by
 * external_id; events as they came. Returns the number of distinct users
 * and sets their numbers in ids[]. */
static int prepare(const sbuf *body, sbuf *p1, sbuf *p2, uint32_t *ids) {
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, body->p, (int)body->len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success) die("a generated body does not parse");
    json_tokener_free(tok);
    json_object *attrs, *events;
    if (!json_object_object_get_ex(root, "attributes", &attrs) || !json_object_object_get_ex(root, "events", &events))
        die("a generated body lacks attributes or events");
    size_t n = json_object_array_length(attrs);
    entry e[TRACK_OBJECTS];
    if (n > TRACK_OBJECTS) die("too many attributes objects");
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(attrs, i), *id;
        if (!json_object_object_get_ex(o, "external_id", &id)) die("an attributes object lacks external_id");
        e[i] = (entry){json_object_get_string(id), o, (int)i};
    }
    qsort(e, n, sizeof *e, entry_cmp);
    p1->len = 0;
    sb_add(p1, "[", 1);
    int users = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        /* later objects of the same user win, key by key (external_id
         * aside: e[i].id points into it) */
        for (; j < n && !strcmp(e[j].id, e[i].id); j++) {
            json_object_object_foreach(e[j].obj, k, v) {
                if (strcmp(k, "external_id")) json_object_object_add(e[i].obj, k, json_object_get(v));
            }
        }
        ids[users] = (uint32_t)strtoul(e[i].id + 5, NULL, 10); /* "user-N" */
        sb_printf(p1, "%s{\"id\":\"%s\",\"attrs\":", users ? "," : "", e[i].id);
        json_object_object_del(e[i].obj, "external_id"); /* frees what e[i].id points to */
        sb_str(p1, json_object_to_json_string_ext(e[i].obj, JSON_C_TO_STRING_PLAIN));
        sb_add(p1, "}", 1);
        users++;
        i = j;
    }
    sb_add(p1, "]", 1);
    p2->len = 0;
    sb_str(p2, json_object_to_json_string_ext(events, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return users;
}

static void *work(void *arg) {
    worker *w = arg;
    rng ^= w->seed * 0x9e3779b97f4a7c15ull;
    sbuf body = {0}, p1 = {0}, p2 = {0};
    uint32_t ids[TRACK_OBJECTS];
    while (!atomic_load(&stop)) {
        track_body(&body);
        int users = prepare(&body, &p1, &p2, ids);
        const char *params[2] = {p1.p, p2.p};
        for (;;) {
            PGresult *r = PQexecPrepared(w->pg, "track", 2, params, NULL, NULL, 0);
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                long up = atol(PQgetvalue(r, 0, 0)), ev = atol(PQgetvalue(r, 0, 1));
                PQclear(r);
                if (up != users || ev != TRACK_OBJECTS)
                    die("a request upserted %ld profiles (sent %d) and inserted %ld events (sent %d)", up, users, ev,
                        TRACK_OBJECTS);
                break;
            }
            /* deadlocks cannot happen with sorted ids, but a team's code
             * would retry them and serialization failures anyway */
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && (!strcmp(state, "40P01") || !strcmp(state, "40001"))) {
                PQclear(r);
                atomic_fetch_add(&retried, 1);
                continue;
            }
            die("a request failed: %s", PQerrorMessage(w->pg));
        }
        for (int i = 0; i < users; i++) atomic_fetch_or(&seen[ids[i] / 64], 1ull << (ids[i] % 64));
        atomic_fetch_add(&committed, 1);
    }
    free(body.p);
    free(p1.p);
    free(p2.p);
    return NULL;
}

static void exec_ok(PGconn *pg, const char *sql) {
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) die("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static long long query_num(PGconn *pg, const char *sql) {
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) die("%s: %s", sql, PQerrorMessage(pg));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static PGconn *connect_to(const char *conninfo) {
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) die("cannot connect: %s", PQerrorMessage(pg));
    return pg;
}

static void quiet(void *arg, const char *msg) {
    (void)arg;
    (void)msg;
}

static void usage(void) {
    fprintf(stderr, "usage: pg_loader [-c conns] [-d seconds] [-w warmup] [-u users] conninfo\n");
    exit(2);
}

static void nap(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts)) {}
}

int main(int argc, char **argv) {
    int nconn = 64;
    double duration = 5, warmup = 1;
    uint32_t users = 100000;
    const char *conninfo = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (conninfo) usage();
            conninfo = a;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "-c")) nconn = atoi(v);
        else if (!strcmp(a, "-d")) duration = atof(v);
        else if (!strcmp(a, "-w")) warmup = atof(v);
        else if (!strcmp(a, "-u")) users = (uint32_t)strtoul(v, NULL, 10);
        else usage();
    }
    if (!conninfo || nconn < 1 || duration <= 0 || warmup < 0 || users < 1) usage();

    PGconn *admin = connect_to(conninfo);
    PQsetNoticeProcessor(admin, quiet, NULL); /* "table does not exist, skipping" */
    exec_ok(admin, schema);
    track_init(users, (uint64_t)(now_s() * 1e9));
    seen = calloc(users / 64 + 1, sizeof *seen);
    worker *w = calloc((size_t)nconn, sizeof *w);
    if (!seen || !w) die("out of memory");
    for (int i = 0; i < nconn; i++) {
        w[i].pg = connect_to(conninfo);
        w[i].seed = (uint64_t)i + 1;
        PGresult *r = PQprepare(w[i].pg, "track", track_sql, 2, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die("prepare: %s", PQerrorMessage(w[i].pg));
        PQclear(r);
    }
    for (int i = 0; i < nconn; i++)
        if (pthread_create(&w[i].th, NULL, work, &w[i])) die("cannot start a thread");

    nap(warmup);
    unsigned long long c0 = atomic_load(&committed);
    double t0 = now_s();
    nap(duration);
    unsigned long long c1 = atomic_load(&committed);
    double t1 = now_s();
    atomic_store(&stop, true);
    for (int i = 0; i < nconn; i++) {
        pthread_join(w[i].th, NULL);
        PQfinish(w[i].pg);
    }

    /* The tables hold what the committed requests sent, and nothing else. */
    unsigned long long total = atomic_load(&committed), distinct = 0;
    for (uint32_t i = 0; i <= users / 64; i++) distinct += (unsigned long long)__builtin_popcountll(seen[i]);
    long long ev = query_num(admin, "SELECT count(*) FROM events");
    long long pr = query_num(admin, "SELECT count(*) FROM profiles");
    long long bad = query_num(admin, "SELECT count(*) FROM profiles WHERE NOT attributes ?& ARRAY['plan',"
                                     "'home_city_custom','visits','loyalty_points','lifetime_value','vip',"
                                     "'last_purchase_at','interests'] OR attributes ? 'external_id'");
    PQfinish(admin);
    if (ev != (long long)total * TRACK_OBJECTS)
        die("events holds %lld rows, %llu requests committed %llu", ev, total, total * TRACK_OBJECTS);
    if (pr != (long long)distinct) die("profiles holds %lld rows, committed requests named %llu users", pr, distinct);
    if (bad) die("%lld profiles lack an attribute or kept external_id", bad);

    double rps = (double)(c1 - c0) / (t1 - t0);
    printf("pg_loader: conns=%d seconds=%.2f requests=%llu rps=%.1f objects_per_s=%.0f committed=%llu profiles=%lld "
           "events=%lld retries=%llu\n",
           nconn, t1 - t0, c1 - c0, rps, rps * 2 * TRACK_OBJECTS, total, pr, ev, atomic_load(&retried));
    return 0;
}
