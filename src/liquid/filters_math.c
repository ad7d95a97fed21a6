/* filters_math.c -- Liquid's math filters (plus, minus, times, divided_by,
 * modulo, abs, ceil, floor, round, at_least, at_most).
 *
 * Operands go through Utils.to_number (num.c): Integer op Integer stays an
 * Integer with floor division (7 | divided_by: 2 is 3, -7 is -4); anything
 * involving a Float or a decimal string is BigDecimal math printed as a
 * Float (7.0 | divided_by: 2 is 3.5). Division or modulo by zero fails the
 * render as Liquid's ZeroDivisionError does. */
#include "internal.h"

#include <math.h>

#define FILTER(name) \
    static int name(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, liq_val *out)

static int arith(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, char op, liq_val *out) {
    liq_num a, b, r;
    liq_to_number(in, &a);
    liq_to_number(liq_arg(f, args, nargs, 0), &b);
    if (liq_num_arith(op, &a, &b, &r)) return liq_fail(c, LIQ_ERENDER, f->pos, "divided by 0");
    *out = liq_num_val(&r);
    return 0;
}

FILTER(f_plus) { return arith(c, f, in, args, nargs, '+', out); }
FILTER(f_minus) { return arith(c, f, in, args, nargs, '-', out); }
FILTER(f_times) { return arith(c, f, in, args, nargs, '*', out); }
FILTER(f_divided_by) { return arith(c, f, in, args, nargs, '/', out); }
FILTER(f_modulo) { return arith(c, f, in, args, nargs, '%', out); }

static int finite_or_fail(liq_ctx *c, const liq_fcall *f, const liq_num *n) {
    if (n->is_int || n->exact || isfinite(n->f)) return 0;
    return liq_fail(c, LIQ_ERENDER, f->pos, "%s", isnan(n->f) ? "NaN" : n->f < 0 ? "-Infinity" : "Infinity");
}

FILTER(f_abs) {
    (void)args;
    (void)nargs;
    (void)c;
    (void)f;
    liq_num a, z = {.is_int = true}, r;
    liq_to_number(in, &a);
    /* 0 - a: also turns -0.0 into 0.0, as BigDecimal#abs does. */
    if (liq_num_cmp(&a, &z) <= 0) liq_num_arith('-', &z, &a, &r);
    else r = a;
    *out = liq_num_val(&r);
    return 0;
}

static int ceil_floor(liq_ctx *c, const liq_fcall *f, liq_val *in, bool up, liq_val *out) {
    liq_num a, r;
    liq_to_number(in, &a);
    int rc = finite_or_fail(c, f, &a);
    if (rc) return rc;
    liq_num_ceil_floor(&a, up, &r);
    *out = liq_num_val(&r);
    return 0;
}

FILTER(f_ceil) { (void)args; (void)nargs; return ceil_floor(c, f, in, true, out); }
FILTER(f_floor) { (void)args; (void)nargs; return ceil_floor(c, f, in, false, out); }

FILTER(f_round) {
    liq_num a, d = {.is_int = true}, r;
    liq_to_number(in, &a);
    const liq_val *da = liq_arg(f, args, nargs, 0);
    if (da) liq_to_number(da, &d);
    double dd = d.is_int ? 0 : liq_num_double(&d);
    int64_t digits = d.is_int ? d.i : dd > 1000 ? 1000 : dd < -1000 ? -1000 : dd == dd ? (int64_t)dd : 0;
    /* NaN and Infinity round to themselves, but have no Integer value. */
    int rc = digits < 1 ? finite_or_fail(c, f, &a) : 0;
    if (rc) return rc;
    liq_num_round(&a, digits, &r);
    /* BigDecimal#round(n) gives an Integer when n (to_number'd, then
     * truncated by NUM2INT) is below 1: so for no digits, 0, -1, nil,
     * false, "0" or 0.5 alike. */
    if (digits < 1 && !r.is_int) {
        liq_num fl;
        liq_num_ceil_floor(&r, false, &fl);
        r = fl;
    }
    *out = liq_num_val(&r);
    return 0;
}

static int clamp(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, bool least,
                 liq_val *out) {
    (void)c;
    liq_num a, b;
    liq_to_number(in, &a);
    liq_to_number(liq_arg(f, args, nargs, 0), &b);
    int cmp = liq_num_cmp(&b, &a);
    *out = liq_num_val((least ? cmp > 0 : cmp < 0) ? &b : &a);
    return 0;
}

FILTER(f_at_least) { return clamp(c, f, in, args, nargs, true, out); }
FILTER(f_at_most) { return clamp(c, f, in, args, nargs, false, out); }

const liq_filter_def liq_filters_math[] = {
    {"plus", f_plus, 1, 1},
    {"minus", f_minus, 1, 1},
    {"times", f_times, 1, 1},
    {"divided_by", f_divided_by, 1, 1},
    {"modulo", f_modulo, 1, 1},
    {"abs", f_abs, 0, 0},
    {"ceil", f_ceil, 0, 0},
    {"floor", f_floor, 0, 0},
    {"round", f_round, 0, 1},
    {"at_least", f_at_least, 1, 1},
    {"at_most", f_at_most, 1, 1},
    {NULL, NULL, 0, 0},
};
