/* gcg.c -- Global Control Group membership by random bucket (see gcg.h). */
#include "gcg.h"
#include "users.h"
#include "../lib/err.h"

#include <stdio.h>
#include <stdlib.h>

static bool number(const char *s, long max, long *out) {
    char *end;
    if (!s || !*s || *s == '-' || *s == '+') return false;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > max) return false;
    *out = v;
    return true;
}

int gcg_parse(const char *percent, const char *start, gcg_t *out, char *why, size_t whylen) {
    long p = 0, st;
    *out = (gcg_t){0, 0};
    if (percent && !number(percent, GCG_MAX_PERCENT, &p)) {
        snprintf(why, whylen, "the Global Control Group percentage must be 0 (none) to %d (got '%s')", GCG_MAX_PERCENT,
                 percent);
        return BR_EINVAL;
    }
    if (start && !number(start, GCG_BUCKETS - 1, &st)) {
        snprintf(why, whylen, "the Global Control Group's first bucket must be 0 to %d (got '%s')", GCG_BUCKETS - 1, start);
        return BR_EINVAL;
    }
    out->percent = (uint32_t)p;
    out->start = start ? (uint32_t)st : GCG_BUCKETS - (uint32_t)p * 100;
    if (out->start == GCG_BUCKETS) out->start = 0;
    return 0;
}

bool gcg_enabled(const gcg_t *g) { return g && g->percent > 0; }

bool gcg_has_bucket(const gcg_t *g, uint32_t bucket) {
    if (!gcg_enabled(g)) return false;
    return (bucket + GCG_BUCKETS - g->start) % GCG_BUCKETS < g->percent * 100;
}

bool gcg_has(const gcg_t *g, const users_t *u, uint32_t row) { return gcg_has_bucket(g, users_random_bucket(u, row)); }

static json_object *range(uint32_t lo, uint32_t hi) {
    json_object *f = json_object_new_object(), *v = json_object_new_array();
    json_object_object_add(f, "type", json_object_new_string("random_bucket"));
    json_object_object_add(f, "op", json_object_new_string("between"));
    json_object_array_add(v, json_object_new_int((int)lo));
    json_object_array_add(v, json_object_new_int((int)hi));
    json_object_object_add(f, "value", v);
    return f;
}

json_object *gcg_definition(const gcg_t *g) {
    if (!gcg_enabled(g)) return NULL;
    uint32_t end = g->start + g->percent * 100; /* one past the last bucket, unwrapped */
    if (end <= GCG_BUCKETS) return range(g->start, end - 1);
    json_object *any = json_object_new_object(), *list = json_object_new_array();
    json_object_array_add(list, range(g->start, GCG_BUCKETS - 1));
    json_object_array_add(list, range(0, end - GCG_BUCKETS - 1));
    json_object_object_add(any, "or", list);
    return any;
}
