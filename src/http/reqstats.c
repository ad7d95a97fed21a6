/* reqstats.c -- per-route request counters and latency (reqstats.h). */
#include "reqstats.h"
#include "../lib/mem.h"
#include "../lib/metrics.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const http_route *route; /* NULL: the unmatched requests */
    struct {
        int code; /* 0: a free slot */
        uint64_t n;
    } codes[REQSTATS_CODES];
    uint64_t other;
    mhist latency;
} rstat;

struct reqstats {
    rstat *v;
    size_t n; /* the routes, then one for the unmatched */
};

reqstats *reqstats_new(const http_route *const *tables) {
    reqstats *s = xcalloc(1, sizeof *s);
    size_t n = 1;
    for (const http_route *const *t = tables; *t; t++)
        for (const http_route *r = *t; r->method; r++) n++;
    s->v = xcalloc(n, sizeof *s->v);
    for (const http_route *const *t = tables; *t; t++)
        for (const http_route *r = *t; r->method; r++) s->v[s->n++].route = r;
    s->n++; /* the last: route NULL */
    return s;
}

void reqstats_free(reqstats *s) {
    if (!s) return;
    free(s->v);
    free(s);
}

void reqstats_note(reqstats *s, const http_route *route, int status, int64_t us) {
    /* A linear search: some sixty routes, a few ns each, once per request. */
    size_t i = 0;
    while (i < s->n - 1 && s->v[i].route != route) i++;
    rstat *r = &s->v[i];
    mhist_add_atomic(&r->latency, us);
    for (int k = 0; k < REQSTATS_CODES; k++) {
        int code = __atomic_load_n(&r->codes[k].code, __ATOMIC_ACQUIRE), free_slot = 0;
        if (code == 0 && __atomic_compare_exchange_n(&r->codes[k].code, &free_slot, status, false, __ATOMIC_ACQ_REL,
                                                     __ATOMIC_ACQUIRE))
            code = status;
        else if (code == 0)
            code = free_slot; /* another thread claimed the slot first: for which code? */
        if (code == status) {
            __atomic_fetch_add(&r->codes[k].n, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    __atomic_fetch_add(&r->other, 1, __ATOMIC_RELAXED);
}

uint64_t reqstats_requests(reqstats *s, const char *method, const char *path) {
    uint64_t n = 0;
    for (size_t i = 0; i < s->n - 1; i++) {
        rstat *r = &s->v[i];
        if (strcmp(r->route->method, method) || strcmp(r->route->path, path)) continue;
        for (int k = 0; k < REQSTATS_CODES; k++) n += __atomic_load_n(&r->codes[k].n, __ATOMIC_RELAXED);
        n += __atomic_load_n(&r->other, __ATOMIC_RELAXED);
    }
    return n;
}

/* method="POST",route="/users/track" */
static void labels(buf_t *b, const rstat *r) {
    buf_reset(b);
    buf_puts(b, "method=\"");
    metrics_label(b, r->route ? r->route->method : "");
    buf_puts(b, "\",route=\"");
    metrics_label(b, r->route ? r->route->path : "(unmatched)");
    buf_puts(b, "\"");
}

void reqstats_write(reqstats *s, buf_t *b) {
    buf_t l = BUF_INIT, lc = BUF_INIT;
    metrics_head(b, "brasa_http_requests_total", "counter", "Requests answered, by route pattern and status code.");
    for (size_t i = 0; i < s->n; i++) {
        rstat *r = &s->v[i];
        labels(&l, r);
        for (int k = 0; k < REQSTATS_CODES; k++) {
            int code = __atomic_load_n(&r->codes[k].code, __ATOMIC_ACQUIRE);
            if (!code) break;
            buf_reset(&lc);
            buf_printf(&lc, "%s,code=\"%d\"", l.data, code);
            metrics_sample(b, "brasa_http_requests_total", lc.data, (double)__atomic_load_n(&r->codes[k].n, __ATOMIC_RELAXED));
        }
        uint64_t other = __atomic_load_n(&r->other, __ATOMIC_RELAXED);
        if (other) {
            buf_reset(&lc);
            buf_printf(&lc, "%s,code=\"other\"", l.data);
            metrics_sample(b, "brasa_http_requests_total", lc.data, (double)other);
        }
    }
    metrics_head(b, "brasa_http_request_duration_seconds", "histogram",
                 "Time from a request's arrival to its answer, by route pattern (routes with requests only).");
    for (size_t i = 0; i < s->n; i++) {
        rstat *r = &s->v[i];
        if (!__atomic_load_n(&r->codes[0].code, __ATOMIC_ACQUIRE)) continue; /* none yet */
        labels(&l, r);
        metrics_hist(b, "brasa_http_request_duration_seconds", l.data, &r->latency);
    }
    buf_free(&l);
    buf_free(&lc);
}
