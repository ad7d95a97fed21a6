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

#define PER_REQUEST 75

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

/* ---- a growable byte buffer ---------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("out of memory");
    b->cap = cap;
}

static void sb_add(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) die("format");
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        sb_reserve(b, (size_t)n);
    }
}

/* ---- generated /users/track bodies (as bench/loadgen.c --track) ---------- */

/* One generator state per thread: the variant pools are built once, before
 * the threads start, then only read. */
static _Thread_local uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static uint32_t rnd_in(uint32_t lo, uint32_t hi) { return lo + (uint32_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
#define PICK(a) (a)[rnd() % (sizeof(a) / sizeof *(a))]

#define VARIANTS 1024
static char *attr_tails[VARIANTS], *event_tails[VARIANTS];
static uint32_t track_users;

static const char *const plans[] = {"free", "basic", "gold", "platinum", "enterprise"};
static const char *const cities[] = {"Lisbon", "Porto", "Berlin", "Paris", "S\\u00e3o Paulo",
                                     "New York", "Osaka", "Nairobi", "Lyon", "Austin"};
static const char *const tagset[] = {"sports", "news", "music", "travel", "food", "tech", "finance", "kids"};
static const char *const skus[] = {"sku-1001", "sku-2040", "sku-3310", "sku-4977", "sku-5123", "sku-6402"};

static void iso(char out[32], time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *attr_tail(time_t now) {
    sbuf b = {0};
    char when[32], tags[128] = "";
    iso(when, now - rnd_in(0, 30 * 86400));
    for (uint32_t i = 0, n = rnd_in(1, 4); i < n; i++) {
        strcat(tags, i ? ",\"" : "\"");
        strcat(tags, PICK(tagset));
        strcat(tags, "\"");
    }
    sb_printf(&b,
              ",\"plan\":\"%s\",\"home_city_custom\":\"%s\",\"visits\":%u,\"loyalty_points\":%u,"
              "\"lifetime_value\":%.2f,\"vip\":%s,\"last_purchase_at\":\"%s\",\"interests\":[%s]}",
              PICK(plans), PICK(cities), rnd_in(0, 5000), rnd_in(0, 1000000), rnd_unit() * 2000,
              rnd() & 1 ? "true" : "false", when, tags);
    return b.p;
}

static char *event_tail(time_t now) {
    sbuf b = {0}, props = {0};
    const char *name = "";
    const char *tf = rnd() & 1 ? "true" : "false";
    switch (rnd() % 5) {
    case 0:
        name = "viewed_item";
        sb_printf(&props, "{\"sku\":\"%s\",\"category\":\"%s\",\"price\":%.2f}", PICK(skus), PICK(tagset),
                  rnd_unit() * 300);
        break;
    case 1:
        name = "added_to_cart";
        sb_printf(&props, "{\"sku\":\"%s\",\"quantity\":%u,\"price\":%.2f,\"gift\":%s}", PICK(skus), rnd_in(1, 5),
                  rnd_unit() * 300, tf);
        break;
    case 2:
        name = "search";
        sb_printf(&props, "{\"query\":\"%s %s\",\"results\":%u,\"page\":%u,\"filters\":[\"%s\"]}", PICK(tagset),
                  PICK(cities), rnd_in(0, 500), rnd_in(1, 10), PICK(plans));
        break;
    case 3:
        name = "session_ping";
        sb_printf(&props, "{\"screen\":\"home\",\"duration_s\":%u,\"battery\":%.2f,\"online\":true,\"build\":%u}",
                  rnd_in(1, 3600), rnd_unit(), rnd_in(100, 999));
        break;
    default:
        name = "article_read";
        sb_printf(&props,
                  "{\"article_id\":%u,\"section\":\"%s\",\"percent\":%.1f,\"paywalled\":%s,\"author\":\"a%u\"}",
                  rnd_in(1, 100000), PICK(tagset), rnd_unit() * 100, tf, rnd_in(1, 300));
    }
    char when[32];
    iso(when, now - rnd_in(0, 7 * 86400));
    sb_printf(&b, ",\"name\":\"%s\",\"time\":\"%s\",\"properties\":%s}", name, when, props.p);
    free(props.p);
    return b.p;
}

static void track_init(uint32_t users) {
    track_users = users;
    rng ^= (uint64_t)(now_s() * 1e9);
    time_t now = time(NULL);
    for (int i = 0; i < VARIANTS; i++) {
        attr_tails[i] = attr_tail(now);
        event_tails[i] = event_tail(now);
    }
}

static void track_body(sbuf *b) {
    char id[48];
    b->len = 0;
    sb_add(b, "{\"attributes\":[", 15);
    for (int k = 0; k < 2; k++) {
        if (k) sb_add(b, "],\"events\":[", 12);
        char **tails = k ? event_tails : attr_tails;
        for (int i = 0; i < PER_REQUEST; i++) {
            int n = snprintf(id, sizeof id, "%s{\"external_id\":\"user-%u\"", i ? "," : "",
                             (unsigned)(rnd() % track_users));
            sb_add(b, id, (size_t)n);
            const char *t = tails[rnd() % VARIANTS];
            sb_add(b, t, strlen(t));
        }
    }
    sb_add(b, "]}", 2);
}

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
    entry e[PER_REQUEST];
    if (n > PER_REQUEST) die("too many attributes objects");
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
    uint32_t ids[PER_REQUEST];
    while (!atomic_load(&stop)) {
        track_body(&body);
        int users = prepare(&body, &p1, &p2, ids);
        const char *params[2] = {p1.p, p2.p};
        for (;;) {
            PGresult *r = PQexecPrepared(w->pg, "track", 2, params, NULL, NULL, 0);
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                long up = atol(PQgetvalue(r, 0, 0)), ev = atol(PQgetvalue(r, 0, 1));
                PQclear(r);
                if (up != users || ev != PER_REQUEST)
                    die("a request upserted %ld profiles (sent %d) and inserted %ld events (sent %d)", up, users, ev,
                        PER_REQUEST);
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
    track_init(users);
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
    if (ev != (long long)total * PER_REQUEST)
        die("events holds %lld rows, %llu requests committed %llu", ev, total, total * PER_REQUEST);
    if (pr != (long long)distinct) die("profiles holds %lld rows, committed requests named %llu users", pr, distinct);
    if (bad) die("%lld profiles lack an attribute or kept external_id", bad);

    double rps = (double)(c1 - c0) / (t1 - t0);
    printf("pg_loader: conns=%d seconds=%.2f requests=%llu rps=%.1f objects_per_s=%.0f committed=%llu profiles=%lld "
           "events=%lld retries=%llu\n",
           nconn, t1 - t0, c1 - c0, rps, rps * 2 * PER_REQUEST, total, pr, ev, atomic_load(&retried));
    return 0;
}
