/* authfail.c -- failed authentications per address (see authfail.h).
 *
 * A chained hash table of addresses under one mutex, taken only on a
 * failure or when some address is being counted: the common case (nobody
 * failed lately) is one atomic load per request. */
#include "authfail.h"
#include "../lib/cidr.h"
#include "../lib/err.h"
#include "../lib/hash.h"
#include "../lib/log.h"
#include "../lib/mem.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096 /* a power of two */

typedef struct entry {
    uint8_t addr[16]; /* IPv6: the /64 */
    int64_t start_ms; /* the window's start */
    uint32_t failures, refused, logged, unlogged;
    struct entry *next;
} entry;

struct authfail {
    authfail_config cfg;
    pthread_mutex_t lock;
    atomic_uint live; /* entries in the table */
    entry *buckets[NBUCKETS];
    int64_t last_sweep_ms, second_ms;
    unsigned lines_this_second;
    uint64_t unlogged_gone; /* of windows that ended, or of addresses not tracked */
};

int authfail_parse(const char *s, authfail_config *c) {
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (end == s || n > 1000000) return BR_EINVAL;
    unsigned window = c->window_s;
    if (*end == '/') {
        const char *w = end + 1;
        unsigned long v = strtoul(w, &end, 10);
        if (end == w || v == 0) return BR_EINVAL;
        unsigned long mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        if (!mul || end[1] || v > 86400 / mul) return BR_EINVAL;
        window = (unsigned)(v * mul);
    } else if (*end) {
        return BR_EINVAL;
    }
    c->limit = (unsigned)n;
    c->window_s = window ? window : 60;
    return 0;
}

authfail_t *authfail_new(const authfail_config *c) {
    authfail_t *a = xcalloc(1, sizeof *a);
    a->cfg = *c;
    if (!a->cfg.window_s) a->cfg.window_s = 60;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

static bool is_v4(const uint8_t addr[16]) {
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(addr, v4mapped, 12) == 0;
}

/* The address an attempt is counted under: IPv4 as is, IPv6 by its /64. */
static void addr_key(const uint8_t client[16], uint8_t out[16]) {
    memcpy(out, client, 16);
    if (!is_v4(client)) memset(out + 8, 0, 8);
}

static entry **slot_of(authfail_t *a, const uint8_t key[16]) {
    entry **pp = &a->buckets[hash_bytes(key, 16) & (NBUCKETS - 1)];
    while (*pp && memcmp((*pp)->addr, key, 16) != 0) pp = &(*pp)->next;
    return pp;
}

static int64_t window_ms(const authfail_t *a) { return (int64_t)a->cfg.window_s * 1000; }

/* Whether one more line may be written this second (caller holds lock). */
static bool line_allowed(authfail_t *a, int64_t now_ms) {
    if (now_ms - a->second_ms >= 1000) {
        a->second_ms = now_ms;
        a->lines_this_second = 0;
    }
    if (a->lines_this_second >= AUTHFAIL_LOG_PER_SECOND) return false;
    a->lines_this_second++;
    return true;
}

static void sweep_locked(authfail_t *a, int64_t now_ms) {
    a->last_sweep_ms = now_ms;
    uint64_t total = a->unlogged_gone;
    unsigned addrs = 0, top = 0;
    uint8_t top_addr[16] = {0};
    for (int b = 0; b < NBUCKETS; b++)
        for (entry **pp = &a->buckets[b]; *pp;) {
            entry *e = *pp;
            if (e->unlogged) {
                total += e->unlogged;
                addrs++;
                if (e->unlogged > top) {
                    top = e->unlogged;
                    memcpy(top_addr, e->addr, 16);
                }
                e->unlogged = 0;
            }
            if (now_ms - e->start_ms >= window_ms(a)) {
                *pp = e->next;
                free(e);
                atomic_fetch_sub(&a->live, 1);
            } else {
                pp = &e->next;
            }
        }
    a->unlogged_gone = 0;
    if (!total) return;
    char ip[INET6_ADDRSTRLEN] = "-";
    if (top) cidr_addr_str(top_addr, ip, sizeof ip);
    log_warn("http: auth failures not logged: lines=%llu addresses=%u most=%u ip=%s", (unsigned long long)total,
             addrs, top, ip);
}

void authfail_sweep(authfail_t *a, int64_t now_ms) {
    pthread_mutex_lock(&a->lock);
    sweep_locked(a, now_ms);
    pthread_mutex_unlock(&a->lock);
}

void authfail_free(authfail_t *a) {
    if (!a) return;
    sweep_locked(a, INT64_MAX / 2); /* the last summary; every window ends */
    pthread_mutex_destroy(&a->lock);
    free(a);
}

bool authfail_blocked(authfail_t *a, const uint8_t client[16], int64_t now_ms, unsigned *retry_after_s) {
    if (!a->cfg.limit || atomic_load_explicit(&a->live, memory_order_relaxed) == 0) return false;
    uint8_t key[16];
    addr_key(client, key);
    pthread_mutex_lock(&a->lock);
    if (now_ms - a->last_sweep_ms >= 1000) sweep_locked(a, now_ms);
    entry *e = *slot_of(a, key);
    bool blocked = e && now_ms - e->start_ms < window_ms(a) && e->failures >= a->cfg.limit;
    if (blocked) *retry_after_s = (unsigned)((e->start_ms + window_ms(a) - now_ms + 999) / 1000);
    pthread_mutex_unlock(&a->lock);
    return blocked;
}

bool authfail_note(authfail_t *a, const uint8_t client[16], bool refused, int64_t now_ms) {
    uint8_t key[16];
    addr_key(client, key);
    pthread_mutex_lock(&a->lock);
    if (now_ms - a->last_sweep_ms >= 1000) sweep_locked(a, now_ms);
    entry **pp = slot_of(a, key), *e = *pp;
    if (e && now_ms - e->start_ms >= window_ms(a)) { /* a new window */
        a->unlogged_gone += e->unlogged;
        e->failures = e->refused = e->logged = e->unlogged = 0;
        e->start_ms = now_ms;
    }
    if (!e && atomic_load(&a->live) < AUTHFAIL_MAX_ADDRS) {
        e = *pp = xcalloc(1, sizeof *e);
        memcpy(e->addr, key, 16);
        e->start_ms = now_ms;
        atomic_fetch_add(&a->live, 1);
    }
    bool log_it;
    if (!e) { /* table full: not throttled, still sampled */
        log_it = line_allowed(a, now_ms);
        if (!log_it) a->unlogged_gone++;
    } else {
        if (refused) e->refused++;
        else e->failures++;
        if (!refused && a->cfg.limit && e->failures == a->cfg.limit && line_allowed(a, now_ms)) {
            char ip[INET6_ADDRSTRLEN];
            cidr_addr_str(e->addr, ip, sizeof ip);
            log_warn("http: ip=%s%s refused for up to %u s after %u failed authentications", ip,
                     is_v4(e->addr) ? "" : "/64", a->cfg.window_s, e->failures);
        }
        log_it = e->logged < AUTHFAIL_LOG_FIRST && line_allowed(a, now_ms);
        if (log_it) e->logged++;
        else e->unlogged++;
    }
    pthread_mutex_unlock(&a->lock);
    return log_it;
}
