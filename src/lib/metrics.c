/* metrics.c -- histograms and the Prometheus text format (metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

/* Upper bounds in microseconds: 0.25 ms to 10 s, the span from a cached
 * lookup to an fsync stall of a slow disk. */
static const int64_t bounds_us[MHIST_BUCKETS] = {250,    500,    1000,    2500,    5000,    10000,   25000,  50000,
                                                 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static int bucket(int64_t us) {
    int i = 0;
    while (i < MHIST_BUCKETS && us > bounds_us[i]) i++;
    return i;
}

void mhist_add(mhist *h, int64_t us) {
    if (us < 0) us = 0;
    h->n[bucket(us)]++;
    h->sum_us += (uint64_t)us;
}

void mhist_add_atomic(mhist *h, int64_t us) {
    if (us < 0) us = 0;
    __atomic_fetch_add(&h->n[bucket(us)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_us, (uint64_t)us, __ATOMIC_RELAXED);
}

void metrics_head(buf_t *b, const char *name, const char *type, const char *help) {
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Whole numbers as such (counters), others with nine digits. */
static void number(buf_t *b, double v) {
    if (v == (double)(int64_t)v && v < 9007199254740992.0 && v > -9007199254740992.0) buf_printf(b, "%lld\n", (long long)v);
    else buf_printf(b, "%.9g\n", v);
}

/* "name<suffix>{labels,more} " (no braces when both are empty). */
static void series(buf_t *b, const char *name, const char *suffix, const char *labels, const char *more) {
    if (!labels[0] && !more[0]) buf_printf(b, "%s%s ", name, suffix);
    else buf_printf(b, "%s%s{%s%s%s} ", name, suffix, labels, labels[0] && more[0] ? "," : "", more);
}

void metrics_sample(buf_t *b, const char *name, const char *labels, double value) {
    series(b, name, "", labels, "");
    number(b, value);
}

void metrics_hist(buf_t *b, const char *name, const char *labels, const mhist *h) {
    uint64_t cum = 0;
    char le[32];
    for (int i = 0; i <= MHIST_BUCKETS; i++) {
        cum += __atomic_load_n(&h->n[i], __ATOMIC_RELAXED);
        if (i < MHIST_BUCKETS) snprintf(le, sizeof le, "le=\"%g\"", (double)bounds_us[i] / 1e6);
        else snprintf(le, sizeof le, "le=\"+Inf\"");
        series(b, name, "_bucket", labels, le);
        number(b, (double)cum);
    }
    series(b, name, "_sum", labels, "");
    number(b, (double)__atomic_load_n(&h->sum_us, __ATOMIC_RELAXED) / 1e6);
    series(b, name, "_count", labels, "");
    number(b, (double)cum);
}

void metrics_label(buf_t *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') buf_puts(b, "\\\\");
        else if (*s == '"') buf_puts(b, "\\\"");
        else if (*s == '\n') buf_puts(b, "\\n");
        else buf_append(b, s, 1);
    }
}
