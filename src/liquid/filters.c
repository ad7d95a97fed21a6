/* filters.c -- the filter registry and the argument helpers filters share.
 *
 * Filters live in per-area tables (filters_str.c, filters_array.c,
 * filters_math.c, filters_date.c, filters_encode.c); the parser resolves a
 * name once, at compile time, to its entry, so rendering calls a function
 * pointer and an unknown filter is a syntax error. */
#include "internal.h"

#include <string.h>

static const liq_filter_def *const tables[] = {
    liq_filters_str, liq_filters_array, liq_filters_math, liq_filters_date, liq_filters_encode,
};

const liq_filter_def *liq_filter_find(const char *name, size_t len) {
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const liq_filter_def *d = tables[t]; d->name; d++)
            if (strlen(d->name) == len && memcmp(d->name, name, len) == 0) return d;
    return NULL;
}

const liq_val *liq_kwarg(const liq_fcall *f, liq_val *args, int nargs, const char *kw) {
    size_t n = strlen(kw);
    for (int i = 0; i < nargs; i++)
        if (f->kw[i] && f->kwlen[i] == n && memcmp(f->kw[i], kw, n) == 0) return &args[i];
    return NULL;
}

const liq_val *liq_arg(const liq_fcall *f, liq_val *args, int nargs, int i) {
    for (int k = 0; k < nargs; k++) {
        if (f->kw[k]) continue;
        if (i-- == 0) return &args[k];
    }
    return NULL;
}

static bool sp(char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r'); }

/* Ruby's Integer(str): optional sign, 0x/0b/0o/0 prefixes, single
 * underscores between digits, surrounding whitespace; nothing else. */
static bool ruby_integer(const char *p, size_t n, int64_t *out) {
    size_t i = 0;
    while (i < n && sp(p[i])) i++;
    while (n > i && sp(p[n - 1])) n--;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    int base = 10;
    if (i + 1 < n && p[i] == '0') {
        char b = p[i + 1];
        if (b == 'x' || b == 'X') base = 16, i += 2;
        else if (b == 'b' || b == 'B') base = 2, i += 2;
        else if (b == 'o' || b == 'O') base = 8, i += 2;
        else if (b == 'd' || b == 'D') base = 10, i += 2;
        else base = 8, i += 1;
    }
    if (i >= n) return false;
    uint64_t v = 0;
    bool prev_digit = false;
    for (; i < n; i++) {
        char ch = p[i];
        if (ch == '_' && prev_digit && i + 1 < n) {
            prev_digit = false;
            continue;
        }
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : 99;
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
        prev_digit = true;
    }
    if (!prev_digit) return false;
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

int liq_to_integer(liq_ctx *c, const liq_val *v, uint32_t pos, int64_t *out) {
    if (v->t == LV_INT) {
        *out = v->u.i;
        return 0;
    }
    const char *p;
    size_t n;
    int rc = liq_to_str(c, v, &p, &n);
    if (rc) return rc;
    if (v->t != LV_FLOAT && ruby_integer(p, n, out)) return 0;
    return liq_fail(c, LIQ_ERENDER, pos, "invalid integer '%.*s'", (int)(n > 40 ? 40 : n), p);
}
