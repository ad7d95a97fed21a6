/* track_body.h -- the /users/track bodies the ingest benchmarks send, and
 * the growable buffer they are built in: bench/loadgen.c (--track) against
 * brasa, bench/pg_loader.c against PostgreSQL, so both sides get the same
 * shape and the same id distribution (as bench/ingest.lua for wrk).
 * TRACK_OBJECTS attributes objects (external_id + 8 custom attributes) and
 * as many events a request, users drawn from track_users.
 *
 * Each benchmark builds on its own: this holds static functions, and the
 * includer defines die(msg) (out of memory, a bad format) before it. */
#ifndef BENCH_TRACK_BODY_H
#define BENCH_TRACK_BODY_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRACK_OBJECTS 75

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

/* ---- generated /users/track bodies ---------------------------------------- */

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

static void track_init(uint32_t users, uint64_t seed) {
    track_users = users;
    rng ^= seed;
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
        for (int i = 0; i < TRACK_OBJECTS; i++) {
            int n = snprintf(id, sizeof id, "%s{\"external_id\":\"user-%u\"", i ? "," : "",
                             (unsigned)(rnd() % track_users));
            sb_add(b, id, (size_t)n);
            const char *t = tails[rnd() % VARIANTS];
            sb_add(b, t, strlen(t));
        }
    }
    sb_add(b, "]}", 2);
}

#endif
