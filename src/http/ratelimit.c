/* ratelimit.c -- fixed-window counters per (key, group) (see ratelimit.h).
 *
 * A small open-addressing table under one mutex: the critical section is a
 * probe and an increment, far below the cost of the request it guards, and
 * the number of live (key, group) pairs is bounded by keys x groups. */
#include "ratelimit.h"
#include "../lib/err.h"
#include "../lib/mem.h"
#include "../lib/str.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint32_t limit, window;
} groups[RL__COUNT] = {
#define XX(id, name, limit, window) {name, limit, window},
    RL_GROUP_MAP(XX)
#undef XX
};

typedef struct {
    int64_t key; /* 0 = empty slot (key ids start at 1) */
    int64_t window_start;
    uint32_t count;
    uint8_t group;
} slot;

struct rl {
    rl_config cfg;
    pthread_mutex_t lock;
    slot *slots;
    size_t cap, used; /* cap is a power of two */
};

const char *rl_group_name(rl_group g) { return groups[g].name; }

void rl_defaults(rl_config *c) {
    for (int g = 0; g < RL__COUNT; g++) {
        c->limit[g] = groups[g].limit;
        c->window[g] = groups[g].window;
    }
}

static char *fmt_why(const char *what, const char *item, size_t len) {
    char *s = xmalloc(len + strlen(what) + 64);
    sprintf(s, "%s in rate limit '%.*s'", what, (int)len, item);
    return s;
}

int rl_parse(rl_config *c, const char *spec, char **why) {
    *why = NULL;
    const char *item;
    size_t len;
    while ((item = str_item(&spec, &len))) {
        const char *eq = memchr(item, '=', len);
        if (!eq) {
            *why = fmt_why("expected GROUP=LIMIT[/WINDOW]", item, len);
            return BR_EINVAL;
        }
        int g = -1;
        for (int i = 0; i < RL__COUNT; i++)
            if (str_ieq(item, (size_t)(eq - item), groups[i].name)) g = i;
        if (g < 0) {
            *why = fmt_why("unknown group", item, len);
            return BR_EINVAL;
        }
        char val[32];
        size_t vl = len - (size_t)(eq + 1 - item);
        if (vl == 0 || vl >= sizeof val) goto bad;
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        char *end;
        unsigned long limit = strtoul(val, &end, 10);
        if (end == val || limit > UINT32_MAX || val[0] == '-') goto bad;
        uint32_t window = c->window[g];
        if (*end == '/') {
            const char *w = end + 1;
            unsigned long n = strtoul(w, &end, 10);
            if (end == w) n = 1; /* "/h" means one hour */
            unsigned long mult = 0;
            if (!strcmp(end, "s") || !*end) mult = 1;
            else if (!strcmp(end, "m")) mult = 60;
            else if (!strcmp(end, "h")) mult = 3600;
            else if (!strcmp(end, "d")) mult = 86400;
            if (!mult || n == 0 || n * mult > 86400 * 31) goto bad;
            window = (uint32_t)(n * mult);
        } else if (*end) {
            goto bad;
        }
        c->limit[g] = (uint32_t)limit;
        c->window[g] = window;
        continue;
    bad:
        *why = fmt_why("invalid LIMIT[/WINDOW]", item, len);
        return BR_EINVAL;
    }
    return 0;
}

void rl_describe(const rl_config *c, char *out, unsigned outlen) {
    size_t n = 0;
    out[0] = '\0';
    for (int g = 0; g < RL__COUNT && n < outlen; g++)
        n += (size_t)snprintf(out + n, outlen - n, "      %-24s %u per %us (Braze default %u per %us)\n",
                              groups[g].name, c->limit[g], c->window[g], groups[g].limit,
                              groups[g].window);
}

rl_t *rl_new(const rl_config *c) {
    rl_t *r = xcalloc(1, sizeof *r);
    r->cfg = *c;
    pthread_mutex_init(&r->lock, NULL);
    r->cap = 64;
    r->slots = xcalloc(r->cap, sizeof *r->slots);
    return r;
}

void rl_free(rl_t *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->lock);
    free(r->slots);
    free(r);
}

static size_t hash(int64_t key, int g) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull ^ (uint64_t)g * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

static slot *find(rl_t *r, int64_t key, int g) {
    size_t mask = r->cap - 1;
    for (size_t i = hash(key, g) & mask;; i = (i + 1) & mask) {
        slot *s = &r->slots[i];
        if (s->key == 0 || (s->key == key && s->group == g)) return s;
    }
}

static void grow(rl_t *r) {
    slot *old = r->slots;
    size_t oldcap = r->cap;
    r->cap *= 2;
    r->slots = xcalloc(r->cap, sizeof *r->slots);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key) *find(r, old[i].key, old[i].group) = old[i];
    free(old);
}

int rl_take(rl_t *r, int64_t key, rl_group g, int64_t now, rl_state *st) {
    uint32_t limit = r->cfg.limit[g], window = r->cfg.window[g];
    if (limit == 0) {
        *st = (rl_state){0, 0, 0};
        return 0;
    }
    int64_t start = now - now % window;
    st->limit = limit;
    st->reset = start + window;
    pthread_mutex_lock(&r->lock);
    if ((r->used + 1) * 4 > r->cap * 3) grow(r);
    slot *s = find(r, key, (int)g);
    if (!s->key) {
        *s = (slot){.key = key, .group = (uint8_t)g, .window_start = start};
        r->used++;
    }
    if (s->window_start != start) {
        s->window_start = start;
        s->count = 0;
    }
    int rc = 0;
    if (s->count >= limit) rc = BR_ERATE;
    else s->count++;
    st->remaining = limit - s->count;
    pthread_mutex_unlock(&r->lock);
    return rc;
}
