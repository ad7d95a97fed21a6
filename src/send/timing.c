/* timing.c -- due waves of local-time and optimal-time sends (see timing.h). */
#include "timing.h"
#include "../lib/mem.h"
#include "../liquid/liquid.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define ZONE_SLOTS 1024 /* open addressing; more distinct zones than tzdata has */

/* The time of day of ms (also before 1970), and its day's midnight. */
static int64_t time_of_day(int64_t ms) { return (ms % DAY_MS + DAY_MS) % DAY_MS; }
static int64_t midnight(int64_t ms) { return ms - time_of_day(ms); }

int64_t timing_first(const timing *t) {
    return (t->mode == TIMING_OPTIMAL ? midnight(t->time_ms) : t->time_ms) - 14 * HOUR_MS;
}

int64_t timing_last(const timing *t) {
    return t->mode == TIMING_OPTIMAL ? midnight(t->time_ms) + DAY_MS + 12 * HOUR_MS : t->time_ms + 12 * HOUR_MS;
}

static int64_t snap(const timing *t, int64_t due) {
    int64_t first = timing_first(t), last = timing_last(t);
    if (due <= first) return first;
    int64_t w = first + (due - first + TIMING_STEP_MS - 1) / TIMING_STEP_MS * TIMING_STEP_MS;
    return w > last ? last : w;
}

int64_t timing_next(const timing *t, int64_t now_ms) {
    int64_t w = snap(t, now_ms);
    return w < now_ms ? -1 : w;
}

/* The instant a wall-clock time (read as UTC) has in zone z. A time that
 * a zone skips (spring forward) is taken at the offset after the change,
 * one it repeats at the first. */
static int64_t local_to_utc(const liq_tz *z, int64_t wall_ms) {
    int32_t off1, off2;
    char abbr[15];
    bool utc;
    int64_t w = wall_ms / 1000;
    liq_tz_at(z, w, &off1, abbr, &utc);
    liq_tz_at(z, w - off1, &off1, abbr, &utc);
    liq_tz_at(z, w - off1, &off2, abbr, &utc);
    int32_t off = off1 == off2 ? off1 : off1 < off2 ? off1 : off2;
    return wall_ms - (int64_t)off * 1000;
}

typedef struct {
    char *name; /* NULL: empty slot */
    int64_t anchor;
} zone_slot;

struct timing_zones {
    timing t;
    int64_t workspace; /* the anchor of users without a valid zone */
    zone_slot slot[ZONE_SLOTS];
    int used;
};

/* LOCAL: the user's due instant; OPTIMAL: the UTC instant their date starts. */
static int64_t anchor(const timing *t, const liq_tz *z) {
    if (t->mode == TIMING_LOCAL) return local_to_utc(z, t->time_ms);
    return local_to_utc(z, midnight(t->time_ms));
}

timing_zones *timing_zones_new(const timing *t, const char *workspace) {
    timing_zones *z = xcalloc(1, sizeof *z);
    z->t = *t;
    const liq_tz *w = workspace && *workspace ? liq_tz_get(workspace, strlen(workspace)) : NULL;
    if (!w) w = liq_tz_get("UTC", 3);
    z->workspace = anchor(t, w);
    return z;
}

void timing_zones_free(timing_zones *z) {
    if (!z) return;
    for (int i = 0; i < ZONE_SLOTS; i++) free(z->slot[i].name);
    free(z);
}

static int64_t zone_anchor(timing_zones *z, const char *name, size_t n) {
    if (!name || !n || n > 63) return z->workspace;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)name[i]) * 16777619u;
    for (uint32_t i = h % ZONE_SLOTS;; i = (i + 1) % ZONE_SLOTS) {
        zone_slot *s = &z->slot[i];
        if (s->name && !strncmp(s->name, name, n) && !s->name[n]) return s->anchor;
        if (s->name) continue;
        if (z->used == ZONE_SLOTS / 2) break; /* full: no more caching, look it up */
        const liq_tz *tz = liq_tz_get(name, n);
        s->name = xstrndup(name, n);
        s->anchor = tz ? anchor(&z->t, tz) : z->workspace;
        z->used++;
        return s->anchor;
    }
    const liq_tz *tz = liq_tz_get(name, n);
    return tz ? anchor(&z->t, tz) : z->workspace;
}

int64_t timing_due(timing_zones *z, const char *zone, size_t zl, int hour) {
    const timing *t = &z->t;
    int64_t a = zone_anchor(z, zone, zl);
    if (t->mode == TIMING_LOCAL) return snap(t, a);
    if (hour < 0) hour = t->fallback_hour;
    if (hour < 0) /* the schedule's own time of day, in the user's zone */
        return snap(t, a + time_of_day(t->time_ms));
    /* the first instant of their date at that UTC hour */
    int64_t into = time_of_day((int64_t)hour * HOUR_MS - time_of_day(a));
    return snap(t, a + into);
}
