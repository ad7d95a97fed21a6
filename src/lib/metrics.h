/* metrics.h -- latency histograms and the Prometheus text exposition
 * format (version 0.0.4), for GET /metrics.
 *
 * A histogram counts observations into fixed buckets (seconds, the unit
 * Prometheus names) and keeps their sum in microseconds. Writers on one
 * thread use mhist_add; writers on several (HTTP threads) use
 * mhist_add_atomic, and a reader may see a bucket and the count a moment
 * apart, which the format tolerates. */
#ifndef BR_METRICS_H
#define BR_METRICS_H
#include "buf.h"
#include <stdint.h>

#define MHIST_BUCKETS 15

typedef struct {
    uint64_t n[MHIST_BUCKETS + 1]; /* per bucket (not cumulative); the last is +Inf */
    uint64_t sum_us;
} mhist;

void mhist_add(mhist *h, int64_t us);
void mhist_add_atomic(mhist *h, int64_t us);

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void metrics_head(buf_t *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value; labels is "" or `a="x",b="y"`. */
void metrics_sample(buf_t *b, const char *name, const char *labels, double value);
/* A histogram's _bucket (cumulative, le="..."), _sum (seconds) and _count lines. */
void metrics_hist(buf_t *b, const char *name, const char *labels, const mhist *h);
/* Appends s as a label value (backslash, quote and newline escaped). */
void metrics_label(buf_t *b, const char *s);

#endif
