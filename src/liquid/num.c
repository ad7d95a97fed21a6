/* num.c -- Liquid's number rules: Integer math, and BigDecimal for the rest.
 *
 * Liquid's math filters convert both operands with Utils.to_number: an
 * Integer stays an Integer (7 | divided_by: 2 is 3, floor division), while a
 * Float or a decimal string becomes a BigDecimal, so 0.1 | plus: 0.2 is 0.3
 * exactly and 2.675 | round: 2 is 2.68. We keep BigDecimals as an exact
 * decimal (128-bit mantissa, power-of-ten exponent) and fall back to doubles
 * only when a value does not fit, which loses digits Ruby would keep but
 * never crashes. Integers beyond 64 bits likewise turn into floats. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;

static const i128 I128_MAX = (i128)(((unsigned __int128)1 << 127) - 1);

static bool mul10(i128 *m, int k) {
    while (k-- > 0) {
        if (__builtin_mul_overflow(*m, (i128)10, m)) return false;
    }
    return true;
}

static i128 pow10i(int k) {
    i128 p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

static void from_double(double d, liq_num *n) {
    n->is_int = false;
    n->f = d;
    n->exact = isfinite(d);
    if (!n->exact) return;
    if (d == 0) {
        n->m = 0;
        n->e = 0;
        return;
    }
    char dig[32];
    int e, nd = liq_shortest(fabs(d), dig, &e);
    i128 m = 0;
    for (int i = 0; i < nd; i++) m = m * 10 + (dig[i] - '0');
    n->m = d < 0 ? -m : m;
    n->e = e - nd;
}

static bool is_space(char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || ch == '\0'; }

/* ^-?\d+\.\d+$ after strip: BigDecimal(str). */
static bool decimal_str(const char *p, size_t n, liq_num *out) {
    size_t i = 0;
    if (i < n && p[i] == '-') i++;
    size_t d0 = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == d0 || i >= n || p[i] != '.') return false;
    size_t dot = i++;
    size_t f0 = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == f0 || i != n) return false;
    out->is_int = false;
    i128 m = 0;
    bool ok = true;
    int digits = 0;
    for (size_t k = d0; k < n; k++) {
        if (k == dot) continue;
        if (m == 0 && p[k] == '0') continue;
        if (++digits > 37) ok = false;
        if (ok) m = m * 10 + (p[k] - '0');
    }
    char tmp[128];
    size_t tl = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
    memcpy(tmp, p, tl);
    tmp[tl] = '\0';
    out->f = strtod(tmp, NULL);
    out->exact = ok;
    out->m = p[0] == '-' ? -m : m;
    out->e = -(int32_t)(n - f0);
    return true;
}

/* Ruby's String#to_i: leading whitespace, a sign, digits (single
 * underscores between digits allowed), anything after ignored. */
static void ruby_to_i(const char *p, size_t n, liq_num *out) {
    size_t i = 0;
    while (i < n && is_space(p[i])) i++;
    bool neg = false;
    if (i < n && (p[i] == '-' || p[i] == '+')) neg = p[i++] == '-';
    i128 m = 0;
    bool big = false;
    /* Beyond 128 bits the value is kept as a double: its first 40 digits
     * and the count of the others. */
    char sig[48];
    size_t nsig = 0, more = 0;
    for (; i < n; i++) {
        if (p[i] == '_' && i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9' && i + 1 < n && p[i + 1] >= '0' &&
            p[i + 1] <= '9')
            continue;
        if (p[i] < '0' || p[i] > '9') break;
        if (nsig < 40) sig[nsig++] = p[i];
        else more++;
        if (!big && m > (I128_MAX - 9) / 10) big = true;
        if (!big) m = m * 10 + (p[i] - '0');
    }
    if (neg) m = -m;
    if (!big && m >= INT64_MIN && m <= INT64_MAX) {
        out->is_int = true;
        out->i = (int64_t)m;
        return;
    }
    out->is_int = false;
    out->exact = !big;
    out->m = m;
    out->e = 0;
    out->f = (double)m;
    if (big) {
        char buf[80];
        snprintf(buf, sizeof buf, "%s%.*se%zu", neg ? "-" : "", (int)nsig, sig, more);
        out->f = strtod(buf, NULL);
    }
}

void liq_to_number(const liq_val *v, liq_num *n) {
    memset(n, 0, sizeof *n);
    switch (v->t) {
    case LV_INT:
        n->is_int = true;
        n->i = v->u.i;
        return;
    case LV_FLOAT: from_double(v->u.f, n); return;
    case LV_STR: {
        const char *p = v->u.s.p;
        size_t len = v->u.s.n;
        while (len && is_space(*p)) p++, len--;
        while (len && is_space(p[len - 1])) len--;
        if (decimal_str(p, len, n)) return;
        ruby_to_i(v->u.s.p, v->u.s.n, n);
        return;
    }
    default: n->is_int = true; n->i = 0; return;
    }
}

int liq_to_i(const liq_val *v, int64_t *out) {
    switch (v->t) {
    case LV_NIL: *out = 0; return 0;
    case LV_INT: *out = v->u.i; return 0;
    case LV_FLOAT: {
        double d = v->u.f;
        if (!isfinite(d)) return -1; /* FloatDomainError */
        *out = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
        return 0;
    }
    case LV_STR: {
        liq_num n;
        ruby_to_i(v->u.s.p, v->u.s.n, &n);
        *out = n.is_int ? n.i : n.m < 0 ? INT64_MIN : INT64_MAX;
        return 0;
    }
    default: return -1;
    }
}

static double dec_to_double(i128 m, int32_t e) {
    char buf[80];
    char *o = buf + sizeof buf;
    *--o = '\0';
    char tail[16];
    snprintf(tail, sizeof tail, "e%d", (int)e);
    size_t tl = strlen(tail);
    o -= tl;
    memcpy(o, tail, tl);
    bool neg = m < 0;
    unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)m : (unsigned __int128)m;
    do {
        *--o = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg) *--o = '-';
    return strtod(o, NULL);
}

double liq_num_double(const liq_num *n) {
    if (n->is_int) return (double)n->i;
    if (!n->exact) return n->f;
    /* An exact zero keeps its sign in f (see set_zero). */
    if (n->m == 0) return signbit(n->f) ? -0.0 : 0.0;
    return dec_to_double(n->m, n->e);
}

liq_val liq_num_val(const liq_num *n) {
    return n->is_int ? liq_int(n->i) : liq_float(liq_num_double(n));
}

static void to_dec(const liq_num *a, liq_num *d) {
    *d = *a;
    if (a->is_int) {
        d->is_int = false;
        d->exact = true;
        d->m = a->i;
        d->e = 0;
        d->f = (double)a->i;
    }
}

static void set_double(liq_num *o, double f) {
    memset(o, 0, sizeof *o);
    o->f = f;
}

static void set_dec(liq_num *o, i128 m, int32_t e) {
    memset(o, 0, sizeof *o);
    o->exact = true;
    o->m = m;
    o->e = e;
}

/* BigDecimal has a signed zero, and Liquid prints a negative one as -0.0:
 * an exact zero carries its sign in f. */
static void set_zero(liq_num *o, bool neg) {
    set_dec(o, 0, 0);
    o->f = neg ? -0.0 : 0.0;
}

static bool is_zero(const liq_num *n) {
    return n->is_int ? n->i == 0 : n->exact ? n->m == 0 : n->f == 0;
}

/* Brings a and b to the same exponent; false when that overflows. */
static bool align(const liq_num *a, const liq_num *b, i128 *ma, i128 *mb, int32_t *e) {
    *ma = a->m;
    *mb = b->m;
    *e = a->e < b->e ? a->e : b->e;
    if (a->e - *e > 40 || b->e - *e > 40) return false;
    return mul10(ma, a->e - *e) && mul10(mb, b->e - *e);
}

static i128 floor_mod(i128 a, i128 b) {
    i128 r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

static int dec_arith_signed(char op, const liq_num *xp, const liq_num *yp, liq_num *out);

/* a * b mod m for 0 <= a, b < m < 2^126, without overflowing. */
static i128 mulmod(i128 a, i128 b, i128 m) {
    i128 r = 0;
    while (b > 0) {
        if (b & 1) {
            r += a;
            if (r >= m) r -= m;
        }
        a += a;
        if (a >= m) a -= m;
        b >>= 1;
    }
    return r;
}

static i128 powmod10(int k, i128 m) {
    i128 r = 1 % m, b = 10 % m;
    while (k > 0) {
        if (k & 1) r = mulmod(r, b, m);
        b = mulmod(b, b, m);
        k >>= 1;
    }
    return r;
}

/* x % y (floor modulo) for exact decimals whose exponents are too far
 * apart to align in 128 bits. */
static void set_dec_mod(liq_num *out, const liq_num *x, const liq_num *y) {
    if (x->e >= y->e) {
        /* x = mx * 10^k * 10^ey: reduce mx * 10^k modulo |my|. */
        i128 my = y->m < 0 ? -y->m : y->m;
        i128 mx = x->m % my;
        i128 r = mulmod(mx < 0 ? mx + my : mx, powmod10(x->e - y->e, my), my);
        /* r is x mod |y| in [0, |y|); make its sign follow y (floor modulo). */
        if (r != 0 && y->m < 0) r -= my;
        set_dec(out, r, y->e);
        return;
    }
    /* |x| < |y|: x itself, or x + y when the signs differ. */
    if (x->m == 0) {
        set_zero(out, false);
        return;
    }
    if ((x->m < 0) == (y->m < 0)) {
        *out = *x;
        return;
    }
    set_double(out, liq_num_double(x) + liq_num_double(y));
}

/* Negative, or negative zero (BigDecimal keeps the sign of zero). */
static bool negative(const liq_num *n) {
    if (n->is_int) return n->i < 0;
    return n->exact ? n->m < 0 || (n->m == 0 && signbit(n->f)) : signbit(n->f);
}

static int dec_arith(char op, const liq_num *a, const liq_num *b, liq_num *out) {
    liq_num x, y;
    to_dec(a, &x);
    to_dec(b, &y);
    int rc = dec_arith_signed(op, &x, &y, out);
    if (rc || !out->exact || out->m != 0) return rc;
    /* The sign of an exact zero result, as BigDecimal (and IEEE) give it:
     * a product or quotient has the sign of the operands (-2.5 * 0 is
     * -0.0); a sum is -0 only when both terms are (-0.0 - 0.0); a modulo
     * is +0. */
    bool neg = false;
    if (op == '*' || op == '/') neg = negative(&x) != negative(&y);
    else if (op == '+') neg = is_zero(&x) && is_zero(&y) && negative(&x) && negative(&y);
    else if (op == '-') neg = is_zero(&x) && is_zero(&y) && negative(&x) && !negative(&y);
    set_zero(out, neg);
    return rc;
}

static int dec_arith_signed(char op, const liq_num *xp, const liq_num *yp, liq_num *out) {
    liq_num x = *xp, y = *yp;
    bool yzero = (y.exact && y.m == 0) || (!y.exact && y.f == 0);
    /* BigDecimal's NaN % 0 is NaN; anything else % 0 raises. */
    if (op == '%' && yzero && !x.exact && x.f != x.f) {
        set_double(out, (double)NAN);
        return 0;
    }
    if (op == '%' && yzero) return 1;
    if (op == '/' && yzero) {
        /* BigDecimal divides by zero without raising: Infinity signed by
         * both operands (2 / -0.0 is -Infinity), or NaN. */
        double fx = liq_num_double(&x);
        bool neg = (fx < 0) != negative(&y);
        set_double(out, fx == 0 || fx != fx ? (double)NAN : neg ? -HUGE_VAL : HUGE_VAL);
        return 0;
    }
    if (x.exact && y.exact) {
        i128 ma, mb, r;
        int32_t e;
        switch (op) {
        case '+':
        case '-':
            if (align(&x, &y, &ma, &mb, &e) &&
                !(op == '+' ? __builtin_add_overflow(ma, mb, &r) : __builtin_sub_overflow(ma, mb, &r))) {
                set_dec(out, r, e);
                return 0;
            }
            break;
        case '*':
            if (!__builtin_mul_overflow(x.m, y.m, &r)) {
                set_dec(out, r, x.e + y.e);
                return 0;
            }
            break;
        case '/': {
            /* Scale the dividend up as far as 128 bits allow: with a 17-digit
             * divisor that leaves 20+ significant digits, more than a double. */
            i128 m = x.m;
            int k = 0;
            while (k < 60 && m != 0 && m > -I128_MAX / 10 && m < I128_MAX / 10) {
                m *= 10;
                k++;
            }
            set_dec(out, m / y.m, x.e - k - y.e);
            return 0;
        }
        case '%':
            if (align(&x, &y, &ma, &mb, &e)) {
                set_dec(out, floor_mod(ma, mb), e);
                return 0;
            }
            break;
        }
    }
    if (op == '%' && x.exact && y.exact) {
        set_dec_mod(out, &x, &y);
        return 0;
    }
    /* Doubles from here on: only non-finite values and sums whose
     * exponents are too far apart for 128 bits get here. */
    double fa = liq_num_double(&x), fb = liq_num_double(&y), r = 0;
    switch (op) {
    case '+': r = fa + fb; break;
    case '-': r = fa - fb; break;
    case '*': r = fa * fb; break;
    case '/': r = fa / fb; break;
    case '%': r = isfinite(fa) ? fa : fa - fa; break; /* x % inf is x; inf % y is NaN */
    }
    set_double(out, r);
    return 0;
}

int liq_num_arith(char op, const liq_num *a, const liq_num *b, liq_num *out) {
    if (!a->is_int || !b->is_int) return dec_arith(op, a, b, out);
    int64_t x = a->i, y = b->i, r;
    bool ovf = false;
    switch (op) {
    case '+': ovf = __builtin_add_overflow(x, y, &r); break;
    case '-': ovf = __builtin_sub_overflow(x, y, &r); break;
    case '*': ovf = __builtin_mul_overflow(x, y, &r); break;
    case '/':
        if (y == 0) return 1;
        if (x == INT64_MIN && y == -1) {
            ovf = true;
            break;
        }
        r = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) r--;
        break;
    case '%':
        if (y == 0) return 1;
        if (y == -1) {
            r = 0;
            break;
        }
        r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    default: return 1;
    }
    if (ovf) return dec_arith(op, a, b, out);
    memset(out, 0, sizeof *out);
    out->is_int = true;
    out->i = r;
    return 0;
}

int liq_num_cmp(const liq_num *a, const liq_num *b) {
    if (a->is_int && b->is_int) return (a->i > b->i) - (a->i < b->i);
    liq_num x, y;
    to_dec(a, &x);
    to_dec(b, &y);
    i128 ma, mb;
    int32_t e;
    if (x.exact && y.exact && align(&x, &y, &ma, &mb, &e)) return (ma > mb) - (ma < mb);
    double fa = liq_num_double(&x), fb = liq_num_double(&y);
    return (fa > fb) - (fa < fb);
}

static void set_int_or_dec(liq_num *o, i128 m) {
    memset(o, 0, sizeof *o);
    if (m >= INT64_MIN && m <= INT64_MAX) {
        o->is_int = true;
        o->i = (int64_t)m;
    } else {
        o->exact = true;
        o->m = m;
    }
}

void liq_num_round(const liq_num *a, int64_t digits, liq_num *out) {
    if (a->is_int) {
        *out = *a;
        if (digits >= 0) return;
        if (digits < -18) {
            set_int_or_dec(out, 0);
            return;
        }
        /* Integer#round(-n): half away from zero. */
        i128 p = pow10i((int)-digits), m = a->i, q = m / p, r = m % p;
        if ((r < 0 ? -r : r) * 2 >= p) q += m < 0 ? -1 : 1;
        set_int_or_dec(out, q * p);
        return;
    }
    if (!a->exact) {
        liq_num d;
        from_double(a->f, &d);
        if (!d.exact) {
            *out = *a; /* Infinity / NaN: the caller reports them */
            return;
        }
        liq_num_round(&d, digits, out);
        return;
    }
    if (digits > 1000) digits = 1000;
    if (digits < -1000) digits = -1000;
    if (a->e >= -digits) {
        *out = *a;
        return;
    }
    int64_t drop = -digits - a->e;
    /* A negative number that rounds to zero gives -0 (-0.04 to 1 digit is
     * -0.0). */
    if (drop > 38) {
        set_zero(out, negative(a));
        return;
    }
    /* BigDecimal's default mode ROUND_HALF_UP: half away from zero. */
    i128 p = pow10i((int)drop), q = a->m / p, r = a->m % p;
    if ((r < 0 ? -r : r) * 2 >= p) q += a->m < 0 ? -1 : 1;
    if (q == 0) set_zero(out, negative(a));
    else set_dec(out, q, (int32_t)-digits);
}

void liq_num_ceil_floor(const liq_num *a, bool ceil_, liq_num *out) {
    if (a->is_int) {
        *out = *a;
        return;
    }
    if (!a->exact) {
        liq_num d;
        from_double(a->f, &d);
        if (!d.exact) {
            *out = *a;
            return;
        }
        liq_num_ceil_floor(&d, ceil_, out);
        return;
    }
    if (a->e < -38) {
        /* |a| < 1e-38 * 10^38: between -1 and 1, not zero. */
        set_int_or_dec(out, a->m > 0 ? (ceil_ ? 1 : 0) : a->m < 0 ? (ceil_ ? 0 : -1) : 0);
        return;
    }
    i128 m = a->m;
    if (a->e >= 0) {
        if (!mul10(&m, a->e)) {
            set_double(out, liq_num_double(a));
            return;
        }
        set_int_or_dec(out, m);
        return;
    }
    i128 p = pow10i(-a->e), q = m / p, r = m % p;
    if (ceil_ && r > 0) q++;
    if (!ceil_ && r < 0) q--;
    set_int_or_dec(out, q);
}
