/* value.c -- the Ruby semantics Liquid values inherit.
 *
 * Liquid is defined by its Ruby implementation, so what a template prints
 * or decides depends on Ruby's truthiness (only nil and false are false),
 * ==, <=>, Float#to_s and Hash#inspect. This file reproduces those for the
 * engine's value type, plus the arena string builder the filters share. */
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- string builder */

void liq_sb_init(liq_sb *sb, liq_ctx *c, size_t hint) {
    sb->c = c;
    sb->len = 0;
    sb->fail = false;
    sb->cap = hint < 32 ? 32 : hint;
    sb->p = liq_alloc(c, sb->cap);
    if (!sb->p) {
        sb->fail = true;
        sb->cap = 0;
    }
}

static bool sb_reserve(liq_sb *sb, size_t extra) {
    if (sb->fail) return false;
    if (sb->cap - sb->len > extra) return true;
    size_t need = sb->len + extra + 1, cap = sb->cap * 2;
    if (need < sb->len || need > SIZE_MAX / 4) {
        sb->fail = true;
        return false;
    }
    while (cap < need) cap *= 2;
    char *q = liq_arena_grow(&sb->c->r->arena, sb->p, sb->len, cap);
    if (!q) {
        sb->fail = true;
        return false;
    }
    sb->p = q;
    sb->cap = cap;
    return true;
}

void liq_sb_add(liq_sb *sb, const char *p, size_t n) {
    if (!n || !sb_reserve(sb, n)) return;
    memcpy(sb->p + sb->len, p, n);
    sb->len += n;
}

void liq_sb_addc(liq_sb *sb, char ch) {
    if (!sb_reserve(sb, 1)) return;
    sb->p[sb->len++] = ch;
}

void liq_sb_printf(liq_sb *sb, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        liq_sb_add(sb, small, (size_t)n);
        return;
    }
    if (!sb_reserve(sb, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

int liq_sb_done(liq_sb *sb, uint32_t pos, liq_val *out) {
    if (sb->fail) return liq_oom(sb->c, pos);
    sb->p[sb->len] = '\0';
    *out = liq_str(sb->p, sb->len);
    return 0;
}

/* ------------------------------------------------------------ conversions */

bool liq_truthy(const liq_val *v) {
    return !(v->t == LV_NIL || (v->t == LV_BOOL && !v->u.b));
}

const char *liq_type_name(const liq_val *v) {
    switch (v->t) {
    case LV_NIL: return "NilClass";
    case LV_BOOL: return v->u.b ? "TrueClass" : "FalseClass";
    case LV_INT: return "Integer";
    case LV_FLOAT: return "Float";
    case LV_STR: return "String";
    case LV_ARR: return "Array";
    case LV_JSON: return json_object_is_type(v->u.j, json_type_array) ? "Array" : "Hash";
    case LV_RANGE: return "Range";
    case LV_TIME: return "Time";
    case LV_LOOP: return "Liquid::ForloopDrop";
    default: return "Liquid::MethodLiteral";
    }
}

int64_t liq_arr_len(const liq_val *v) {
    switch (v->t) {
    case LV_ARR: return (int64_t)v->u.a.n;
    case LV_JSON:
        return json_object_is_type(v->u.j, json_type_array) ? (int64_t)json_object_array_length(v->u.j) : -1;
    case LV_RANGE: {
        if (v->u.r.hi < v->u.r.lo) return 0;
        uint64_t n = (uint64_t)v->u.r.hi - (uint64_t)v->u.r.lo; /* no overflow in unsigned */
        return n >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n + 1;
    }
    default: return -1;
    }
}

liq_val liq_arr_at(const liq_val *v, int64_t i) {
    switch (v->t) {
    case LV_ARR: return v->u.a.v[i];
    case LV_JSON: return liq_from_json(json_object_array_get_idx(v->u.j, (size_t)i));
    case LV_RANGE: return liq_int(v->u.r.lo + i);
    default: return LIQ_NIL;
    }
}

void liq_arr_get(const liq_val *v, int64_t i, liq_val *out) {
    switch (v->t) {
    case LV_ARR: *out = v->u.a.v[i]; return;
    case LV_JSON: liq_set_json(out, json_object_array_get_idx(v->u.j, (size_t)i)); return;
    case LV_RANGE: out->t = LV_INT; out->u.i = v->u.r.lo + i; return;
    default: out->t = LV_NIL; return;
    }
}

static bool is_hash(const liq_val *v) {
    return v->t == LV_JSON && json_object_is_type(v->u.j, json_type_object);
}

bool liq_is_empty(const liq_val *v) {
    switch (v->t) {
    case LV_STR: return v->u.s.n == 0;
    case LV_ARR: return v->u.a.n == 0;
    case LV_JSON:
        return is_hash(v) ? json_object_object_length(v->u.j) == 0 : json_object_array_length(v->u.j) == 0;
    default: return false;
    }
}

bool liq_is_blank(const liq_val *v) {
    switch (v->t) {
    case LV_NIL: return true;
    case LV_BOOL: return !v->u.b;
    case LV_STR:
        for (size_t i = 0; i < v->u.s.n; i++) {
            unsigned char ch = (unsigned char)v->u.s.p[i];
            if (!(ch == ' ' || (ch >= '\t' && ch <= '\r'))) return false;
        }
        return true;
    case LV_ARR:
    case LV_JSON: return liq_is_empty(v);
    default: return false;
    }
}

/* --------------------------------------------------------------- equality */

static bool num_eq(const liq_val *a, const liq_val *b) {
    if (a->t == LV_INT && b->t == LV_INT) return a->u.i == b->u.i;
    if (a->t == LV_FLOAT && b->t == LV_FLOAT) return a->u.f == b->u.f;
    const liq_val *i = a->t == LV_INT ? a : b, *f = a->t == LV_INT ? b : a;
    /* Exact, as Ruby compares Integer with Float. */
    return (long double)i->u.i == (long double)f->u.f;
}

static bool eq_depth(const liq_val *a, const liq_val *b, int depth);

static bool json_obj_eq(json_object *x, json_object *y, int depth) {
    if (x == y) return true;
    if (json_object_object_length(x) != json_object_object_length(y)) return false;
    json_object_object_foreach(x, k, xv) {
        json_object *yv;
        if (!json_object_object_get_ex(y, k, &yv)) return false;
        liq_val a = liq_from_json(xv), b = liq_from_json(yv);
        if (!eq_depth(&a, &b, depth + 1)) return false;
    }
    return true;
}

static bool eq_depth(const liq_val *a, const liq_val *b, int depth) {
    if (depth > 64) return false;
    bool an = a->t == LV_INT || a->t == LV_FLOAT, bn = b->t == LV_INT || b->t == LV_FLOAT;
    if (an || bn) return an && bn && num_eq(a, b);
    int64_t la = a->t == LV_RANGE ? -1 : liq_arr_len(a), lb = b->t == LV_RANGE ? -1 : liq_arr_len(b);
    if (la >= 0 || lb >= 0) {
        if (la != lb) return false;
        for (int64_t i = 0; i < la; i++) {
            liq_val x = liq_arr_at(a, i), y = liq_arr_at(b, i);
            if (!eq_depth(&x, &y, depth + 1)) return false;
        }
        return true;
    }
    if (a->t != b->t) return false;
    switch (a->t) {
    case LV_NIL: return true;
    case LV_BOOL: return a->u.b == b->u.b;
    case LV_STR: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case LV_JSON: return json_obj_eq(a->u.j, b->u.j, depth);
    case LV_RANGE: return a->u.r.lo == b->u.r.lo && a->u.r.hi == b->u.r.hi;
    case LV_TIME: return a->u.tm->sec == b->u.tm->sec && a->u.tm->nsec == b->u.tm->nsec;
    case LV_LOOP: return a->u.loop == b->u.loop;
    default: return false; /* empty/blank are only equal through liq_cond_equal */
    }
}

bool liq_equal(const liq_val *a, const liq_val *b) { return eq_depth(a, b, 0); }

bool liq_cond_equal(const liq_val *a, const liq_val *b) {
    /* `x == empty` asks x.empty?, `x == blank` asks x.blank? (nil for values
     * that do not answer empty?, which is false). */
    if (a->t == LV_EMPTY || a->t == LV_BLANK) {
        const liq_val *o = b;
        if (o->t == LV_EMPTY || o->t == LV_BLANK) return a->t == o->t;
        return a->t == LV_EMPTY ? liq_is_empty(o) : liq_is_blank(o);
    }
    if (b->t == LV_EMPTY || b->t == LV_BLANK) return liq_cond_equal(b, a);
    return liq_equal(a, b);
}

/* ------------------------------------------------------------- comparison */

int liq_compare(const liq_val *a, const liq_val *b, int *res) {
    bool an = a->t == LV_INT || a->t == LV_FLOAT, bn = b->t == LV_INT || b->t == LV_FLOAT;
    if (an && bn) {
        long double x = a->t == LV_INT ? (long double)a->u.i : (long double)a->u.f;
        long double y = b->t == LV_INT ? (long double)b->u.i : (long double)b->u.f;
        if (isnan(x) || isnan(y)) return 1;
        *res = x < y ? -1 : x > y;
        return 0;
    }
    if (a->t == LV_STR && b->t == LV_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (r == 0) r = a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
        *res = r < 0 ? -1 : r > 0;
        return 0;
    }
    if (a->t == LV_TIME && b->t == LV_TIME) {
        const liq_time *x = a->u.tm, *y = b->u.tm;
        *res = x->sec != y->sec ? (x->sec < y->sec ? -1 : 1) : (x->nsec > y->nsec) - (x->nsec < y->nsec);
        return 0;
    }
    int64_t la = a->t == LV_RANGE ? -1 : liq_arr_len(a), lb = b->t == LV_RANGE ? -1 : liq_arr_len(b);
    if (la >= 0 && lb >= 0) {
        /* Array#<=>: element by element, then by length. */
        for (int64_t i = 0; i < la && i < lb; i++) {
            liq_val x = liq_arr_at(a, i), y = liq_arr_at(b, i);
            int r;
            if (liq_compare(&x, &y, &r)) return 1;
            if (r) {
                *res = r;
                return 0;
            }
        }
        *res = la < lb ? -1 : la > lb;
        return 0;
    }
    if (a->t == LV_BOOL && b->t == LV_BOOL && a->u.b == b->u.b) {
        *res = 0;
        return 0;
    }
    if (a->t == LV_NIL && b->t == LV_NIL) {
        *res = 0;
        return 0;
    }
    return 1;
}

/* ----------------------------------------------------------------- to_s */

int liq_shortest(double d, char digits[32], int *exp10) {
    /* Most numbers people store have a few decimals: find the smallest k
     * with d * 10^k an integer M that reads back (M / 10^k == d); M's
     * digits are then the shortest form. Otherwise use printf. */
    if (d > 0 && d < 1e15) {
        double p = 1;
        for (int k = 0; k <= 8; k++, p *= 10) {
            double m = d * p;
            if (m >= 9007199254740992.0) break;
            int64_t mi = (int64_t)m;
            if ((double)mi == m && (double)mi / p == d && mi > 0) {
                char tmp[24];
                int n = (int)liq_itoa(mi, tmp);
                while (n > 1 && tmp[n - 1] == '0') n--;
                memcpy(digits, tmp, (size_t)n);
                digits[n] = '\0';
                /* d = 0.DIGITS * 10^exp10: the integer part has (len(mi) - k) digits. */
                *exp10 = (int)liq_itoa(mi, tmp) - k;
                return n;
            }
        }
    }
    char buf[40];
    /* If 15 significant digits read back, the shortest form is those
     * digits without trailing zeros; otherwise 16 or 17 are needed. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (prec == 17 || strtod(buf, NULL) == d) break;
    }
    int nd = 0;
    const char *s = buf;
    if (*s == '-') s++;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    *exp10 = (*s == 'e' ? atoi(s + 1) : 0) + 1;
    return nd;
}

size_t liq_fmt_float(double d, char *buf) {
    if (isnan(d)) return (size_t)sprintf(buf, "NaN");
    if (isinf(d)) return (size_t)sprintf(buf, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return (size_t)sprintf(buf, signbit(d) ? "-0.0" : "0.0");
    char dig[32];
    int e, nd = liq_shortest(fabs(d), dig, &e);
    char *o = buf;
    if (d < 0) *o++ = '-';
    /* Ruby's flo_to_s: fixed notation while the decimal point falls within
     * 16 digits, except that a whole number needs 15 or fewer (1e15 prints
     * 1.0e+15, 1000000000000000.5 prints as it is). */
    if (e < -3 || e > 16 || (e == 16 && nd <= e)) {
        *o++ = dig[0];
        *o++ = '.';
        if (nd > 1) {
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        } else {
            *o++ = '0';
        }
        o += sprintf(o, "e%+03d", e - 1);
    } else if (e <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e; i++) *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else if (e >= nd) {
        memcpy(o, dig, (size_t)nd);
        o += nd;
        for (int i = nd; i < e; i++) *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else {
        memcpy(o, dig, (size_t)e);
        o += e;
        *o++ = '.';
        memcpy(o, dig + e, (size_t)(nd - e));
        o += nd - e;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

const char *liq_cmp_name(const liq_val *v, char *buf) {
    switch (v->t) {
    case LV_NIL: return "nil";
    case LV_BOOL: return v->u.b ? "true" : "false";
    case LV_INT: liq_itoa(v->u.i, buf); return buf;
    case LV_FLOAT: liq_fmt_float(v->u.f, buf); return buf;
    default: return liq_type_name(v);
    }
}

static void time_to_s(liq_sb *sb, const liq_time *t) {
    const char *fmt = t->utc ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M:%S %z";
    liq_strftime(sb, fmt, strlen(fmt), t);
}

static void inspect_str(liq_sb *sb, const char *p, size_t n) {
    liq_sb_addc(sb, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '"': liq_sb_add(sb, "\\\"", 2); break;
        case '\\': liq_sb_add(sb, "\\\\", 2); break;
        case '\n': liq_sb_add(sb, "\\n", 2); break;
        case '\t': liq_sb_add(sb, "\\t", 2); break;
        case '\r': liq_sb_add(sb, "\\r", 2); break;
        case '\f': liq_sb_add(sb, "\\f", 2); break;
        case '\v': liq_sb_add(sb, "\\v", 2); break;
        case '\b': liq_sb_add(sb, "\\b", 2); break;
        case '\a': liq_sb_add(sb, "\\a", 2); break;
        case 0x1b: liq_sb_add(sb, "\\e", 2); break;
        case '#':
            /* Ruby escapes what would start an interpolation. */
            if (i + 1 < n && (p[i + 1] == '{' || p[i + 1] == '$' || p[i + 1] == '@'))
                liq_sb_addc(sb, '\\');
            liq_sb_addc(sb, '#');
            break;
        default:
            if (ch < 0x20) liq_sb_printf(sb, "\\u%04X", ch);
            else if (ch == 0x7f) liq_sb_add(sb, "\\x7F", 4);
            else liq_sb_addc(sb, (char)ch);
        }
    }
    liq_sb_addc(sb, '"');
}

void liq_inspect(liq_sb *sb, const liq_val *v, int depth) {
    char num[40];
    if (depth > 64) {
        liq_sb_add(sb, "...", 3);
        return;
    }
    switch (v->t) {
    case LV_NIL: liq_sb_add(sb, "nil", 3); return;
    case LV_STR: inspect_str(sb, v->u.s.p, v->u.s.n); return;
    case LV_JSON:
        if (is_hash(v)) {
            liq_sb_addc(sb, '{');
            bool first = true;
            json_object_object_foreach(v->u.j, k, jv) {
                if (!first) liq_sb_add(sb, ", ", 2);
                first = false;
                inspect_str(sb, k, strlen(k));
                liq_sb_add(sb, "=>", 2);
                liq_val x = liq_from_json(jv);
                liq_inspect(sb, &x, depth + 1);
            }
            liq_sb_addc(sb, '}');
            return;
        }
        __attribute__((fallthrough)); /* a json array */
    case LV_ARR: {
        liq_sb_addc(sb, '[');
        int64_t n = liq_arr_len(v);
        for (int64_t i = 0; i < n; i++) {
            if (i) liq_sb_add(sb, ", ", 2);
            liq_val x = liq_arr_at(v, i);
            liq_inspect(sb, &x, depth + 1);
        }
        liq_sb_addc(sb, ']');
        return;
    }
    case LV_FLOAT: liq_sb_add(sb, num, liq_fmt_float(v->u.f, num)); return;
    case LV_TIME: time_to_s(sb, v->u.tm); return;
    default: {
        const char *p;
        size_t n;
        if (liq_to_str(sb->c, v, &p, &n) == 0) liq_sb_add(sb, p, n);
        else sb->fail = true;
    }
    }
}

/* Ruby's to_s: arrays and hashes print as their inspect form (filters see
 * ["a", 1]); only output tags concatenate array elements (liq_out_val). */
static void to_s_sb(liq_sb *sb, const liq_val *v, int depth) {
    if (v->t == LV_ARR || v->t == LV_JSON) {
        liq_inspect(sb, v, depth);
        return;
    }
    if (v->t == LV_TIME) {
        time_to_s(sb, v->u.tm);
        return;
    }
    const char *p;
    size_t len;
    if (liq_to_str(sb->c, v, &p, &len) == 0) liq_sb_add(sb, p, len);
    else sb->fail = true;
}

int liq_to_str(liq_ctx *c, const liq_val *v, const char **p, size_t *n) {
    char buf[64];
    size_t len;
    switch (v->t) {
    case LV_STR:
        *p = v->u.s.p;
        *n = v->u.s.n;
        return 0;
    case LV_NIL:
    case LV_EMPTY:
    case LV_BLANK:
        *p = "";
        *n = 0;
        return 0;
    case LV_BOOL:
        *p = v->u.b ? "true" : "false";
        *n = v->u.b ? 4 : 5;
        return 0;
    case LV_LOOP:
        *p = "Liquid::ForloopDrop";
        *n = strlen(*p);
        return 0;
    case LV_INT: len = liq_itoa(v->u.i, buf); break;
    case LV_FLOAT: len = liq_fmt_float(v->u.f, buf); break;
    case LV_RANGE:
        len = (size_t)snprintf(buf, sizeof buf, "%lld..%lld", (long long)v->u.r.lo, (long long)v->u.r.hi);
        break;
    default: {
        liq_sb sb;
        liq_sb_init(&sb, c, 64);
        to_s_sb(&sb, v, 0);
        liq_val out;
        int rc = liq_sb_done(&sb, 0, &out);
        if (rc) return rc;
        *p = out.u.s.p;
        *n = out.u.s.n;
        return 0;
    }
    }
    char *d = liq_alloc(c, len + 1);
    if (!d) return liq_oom(c, 0);
    memcpy(d, buf, len + 1);
    *p = d;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------- iteration */

static int flatten(liq_ctx *c, const liq_val *v, uint32_t pos, liq_val **items, size_t *n, size_t *cap,
                   int depth) {
    int64_t len = v->t == LV_RANGE && depth > 0 ? -1 : liq_arr_len(v);
    if (len < 0 || depth > 64) {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 8;
            liq_val *q = liq_arena_grow(&c->r->arena, *items, *cap * sizeof **items, nc * sizeof **items);
            if (!q) return liq_oom(c, pos);
            *items = q;
            *cap = nc;
        }
        (*items)[(*n)++] = *v;
        return 0;
    }
    int rc = liq_step(c, (uint64_t)len, pos);
    if (rc) return rc;
    for (int64_t i = 0; i < len; i++) {
        liq_val x = liq_arr_at(v, i);
        if ((rc = flatten(c, &x, pos, items, n, cap, depth + 1))) return rc;
    }
    return 0;
}

int liq_iter_input(liq_ctx *c, const liq_val *in, uint32_t pos, liq_val **items, size_t *n) {
    *items = NULL;
    *n = 0;
    if (in->t == LV_NIL) return 0;
    if (in->t == LV_ARR) {
        /* Arrays built by filters are already flat unless they hold arrays. */
        bool flat = true;
        for (size_t i = 0; i < in->u.a.n && flat; i++)
            if (liq_arr_len(&in->u.a.v[i]) >= 0 && in->u.a.v[i].t != LV_RANGE) flat = false;
        if (flat) {
            *items = in->u.a.v;
            *n = in->u.a.n;
            return liq_step(c, in->u.a.n, pos);
        }
    }
    size_t cap = 0;
    int64_t len = liq_arr_len(in);
    if (len > 0) {
        if ((uint64_t)len > c->max_steps) return liq_step(c, (uint64_t)len, pos);
        cap = (size_t)len;
        *items = liq_alloc(c, cap * sizeof **items);
        if (!*items) return liq_oom(c, pos);
    }
    return flatten(c, in, pos, items, n, &cap, 0);
}
