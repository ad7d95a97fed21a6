/* filters_array.c -- Liquid's array filters, plus size and default.
 *
 * Inputs go through Liquid's InputIterator (liq_iter_input): nested arrays
 * are flattened, a hash or a scalar counts as a one-element array, nil as
 * an empty one. Sorting is a stable merge sort with nils last (Liquid's
 * nil_safe_compare); values that do not compare fail the render as Ruby's
 * sort raises. uniq hashes values with Ruby's eql? rules (1 and 1.0
 * differ). Every element visited counts against the step budget. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define FILTER(name) \
    static int name(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, liq_val *out)

static liq_val arr(liq_val *v, size_t n) {
    liq_val a = {.t = LV_ARR};
    a.u.a.v = v;
    a.u.a.n = n;
    return a;
}

static liq_val *new_items(liq_ctx *c, size_t n) { return liq_alloc(c, (n ? n : 1) * sizeof(liq_val)); }

/* Does v answer Ruby's [] (hashes, arrays, strings, integers)? */
static bool has_index(const liq_val *v) {
    return v->t == LV_JSON || v->t == LV_ARR || v->t == LV_STR || v->t == LV_INT;
}

/* item[prop] as Ruby evaluates it in Liquid's property filters: a hash
 * looks the key up; a string answers prop when it contains it (String#[]);
 * an array or an integer asked for a string raises TypeError, which Liquid
 * reports as "cannot select the property"; values without [] give nil. */
static int prop_of(liq_ctx *c, const liq_fcall *f, const liq_val *item, const liq_val *prop_in, liq_val *out) {
    *out = LIQ_NIL;
    /* Index arguments go through to_int, so a float works as an index. */
    liq_val pf;
    const liq_val *prop = prop_in;
    if (prop->t == LV_FLOAT && item->t != LV_JSON && prop->u.f > -9e18 && prop->u.f < 9e18) {
        pf = liq_int((int64_t)prop->u.f);
        prop = &pf;
    }
    switch (item->t) {
    case LV_JSON:
        if (json_object_is_type(item->u.j, json_type_object))
            return prop->t == LV_STR ? liq_lookup_key(c, item, prop->u.s.p, prop->u.s.n, false, out) : 0;
        __attribute__((fallthrough));
    case LV_ARR:
        if (prop->t == LV_INT) {
            liq_lookup_index(item, prop->u.i, out);
            return 0;
        }
        break;
    case LV_STR:
        if (prop->t == LV_STR) {
            if (liq_memmem(item->u.s.p, item->u.s.n, prop->u.s.p, prop->u.s.n)) *out = *prop;
            return 0;
        }
        if (prop->t == LV_INT) {
            int64_t chars = (int64_t)liq_utf8_len(item->u.s.p, item->u.s.n), i = prop->u.i < 0 ? prop->u.i + chars : prop->u.i;
            if (i >= 0 && i < chars) {
                size_t b0 = liq_utf8_off(item->u.s.p, item->u.s.n, (size_t)i);
                *out = liq_str(item->u.s.p + b0, liq_utf8_off(item->u.s.p + b0, item->u.s.n - b0, 1));
            }
            return 0;
        }
        break;
    case LV_INT:
        if (prop->t == LV_INT) {
            /* Integer#[]: the bit at that position. */
            int64_t i = prop->u.i;
            *out = liq_int(i < 0 ? 0 : i > 62 ? (item->u.i < 0) : (item->u.i >> i) & 1);
            return 0;
        }
        break;
    default: return 0;
    }
    const char *p;
    size_t n;
    if (liq_to_str(c, prop, &p, &n)) return liq_oom(c, f->pos);
    return liq_fail(c, LIQ_ERENDER, f->pos, "cannot select the property '%.*s'", (int)(n > 60 ? 60 : n), p);
}

FILTER(f_join) {
    const char *glue = " ";
    size_t gl = 1;
    int rc;
    const liq_val *g = liq_arg(f, args, nargs, 0);
    if (g && (rc = liq_to_str(c, g, &glue, &gl))) return rc;
    liq_val *items;
    size_t n;
    if ((rc = liq_iter_input(c, in, f->pos, &items, &n))) return rc;
    liq_sb sb;
    liq_sb_init(&sb, c, 64);
    for (size_t i = 0; i < n && !sb.fail; i++) {
        const char *p;
        size_t len;
        if (i) liq_sb_add(&sb, glue, gl);
        if ((rc = liq_to_str(c, &items[i], &p, &len))) return rc;
        liq_sb_add(&sb, p, len);
    }
    return liq_sb_done(&sb, f->pos, out);
}

static int first_last(liq_ctx *c, const liq_fcall *f, liq_val *in, bool last, liq_val *out) {
    *out = LIQ_NIL;
    if (in->t == LV_JSON && json_object_is_type(in->u.j, json_type_object)) {
        /* Hash#first is its first [key, value] pair; hashes have no last. */
        if (last || json_object_object_length(in->u.j) == 0) return 0;
        liq_val *kv = new_items(c, 2);
        if (!kv) return liq_oom(c, f->pos);
        json_object_object_foreach(in->u.j, k, v) {
            kv[0] = liq_str(k, strlen(k));
            kv[1] = liq_from_json(v);
            break;
        }
        *out = arr(kv, 2);
        return 0;
    }
    if (in->t == LV_RANGE) {
        /* Range#first and #last are its bounds, even when it is empty. */
        *out = liq_int(last ? in->u.r.hi : in->u.r.lo);
        return 0;
    }
    int64_t n = liq_arr_len(in);
    if (n > 0) *out = liq_arr_at(in, last ? n - 1 : 0);
    return 0;
}

FILTER(f_first) { (void)args; (void)nargs; return first_last(c, f, in, false, out); }
FILTER(f_last) { (void)args; (void)nargs; return first_last(c, f, in, true, out); }

FILTER(f_concat) {
    const liq_val *a = liq_arg(f, args, nargs, 0);
    int64_t an = a->t == LV_RANGE ? -1 : liq_arr_len(a);
    if (an < 0) return liq_fail(c, LIQ_ERENDER, f->pos, "concat filter requires an array argument");
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc || (rc = liq_step(c, (uint64_t)an, f->pos))) return rc;
    liq_val *v = new_items(c, n + (size_t)an);
    if (!v) return liq_oom(c, f->pos);
    if (n) memcpy(v, items, n * sizeof *v);
    for (int64_t i = 0; i < an; i++) v[n + (size_t)i] = liq_arr_at(a, i);
    *out = arr(v, n + (size_t)an);
    return 0;
}

FILTER(f_index) {
    int64_t i;
    int rc = liq_to_integer(c, liq_arg(f, args, nargs, 0), f->pos, &i);
    if (rc) return rc;
    liq_lookup_index(in, i, out);
    return 0;
}

FILTER(f_map) {
    const liq_val *prop = liq_arg(f, args, nargs, 0);
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    liq_val *v = new_items(c, n);
    if (!v) return liq_oom(c, f->pos);
    for (size_t i = 0; i < n; i++) {
        v[i] = LIQ_NIL;
        if (has_index(&items[i]) && (rc = prop_of(c, f, &items[i], prop, &v[i]))) return rc;
    }
    *out = arr(v, n);
    return 0;
}

FILTER(f_reverse) {
    (void)args;
    (void)nargs;
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    liq_val *v = new_items(c, n);
    if (!v) return liq_oom(c, f->pos);
    for (size_t i = 0; i < n; i++) v[i] = items[n - 1 - i];
    *out = arr(v, n);
    return 0;
}

FILTER(f_size) {
    (void)c;
    (void)args;
    (void)nargs;
    (void)f;
    switch (in->t) {
    case LV_STR: *out = liq_int((int64_t)liq_utf8_len(in->u.s.p, in->u.s.n)); return 0;
    case LV_INT: *out = liq_int(8); return 0;
    case LV_JSON:
        *out = liq_int(json_object_is_type(in->u.j, json_type_object) ? json_object_object_length(in->u.j)
                                                                      : (int64_t)json_object_array_length(in->u.j));
        return 0;
    case LV_ARR:
    case LV_RANGE: *out = liq_int(liq_arr_len(in)); return 0;
    default: *out = liq_int(0); return 0;
    }
}

/* ------------------------------------------------------------------ sort */

typedef struct {
    liq_ctx *c;
    uint32_t pos;
    bool natural;
    int err;
} sorter;

static int casecmp(const char *a, size_t an, const char *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return x < y ? -1 : 1;
    }
    return an < bn ? -1 : an > bn;
}

/* Liquid's nil_safe_compare / nil_safe_casecmp on sort keys. */
static int key_cmp(sorter *s, const liq_val *a, const liq_val *b) {
    if (a->t == LV_NIL || b->t == LV_NIL) return a->t == LV_NIL ? 1 : -1;
    if (s->natural) {
        const char *p, *q;
        size_t pn, qn;
        if (liq_to_str(s->c, a, &p, &pn) || liq_to_str(s->c, b, &q, &qn)) {
            s->err = LIQ_EMEMORY;
            return 0;
        }
        return casecmp(p, pn, q, qn);
    }
    int r;
    char bn[32];
    if (liq_compare(a, b, &r)) {
        if (!s->err)
            s->err = liq_fail(s->c, LIQ_ERENDER, s->pos, "comparison of %s with %s failed", liq_type_name(a),
                              liq_cmp_name(b, bn));
        return 0;
    }
    return r;
}

typedef struct {
    liq_val item, key;
} keyed;

static void merge_sort(sorter *s, keyed *v, keyed *tmp, size_t n) {
    if (n < 2 || s->err) return;
    size_t h = n / 2;
    merge_sort(s, v, tmp, h);
    merge_sort(s, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = key_cmp(s, &v[j].key, &v[i].key) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static int sort_impl(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, bool natural,
                     liq_val *out) {
    const liq_val *prop = liq_arg(f, args, nargs, 0);
    if (prop && prop->t == LV_NIL) prop = NULL;
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    uint64_t work = n;
    for (size_t m = n; m > 1; m /= 2) work += n;
    if ((rc = liq_step(c, work, f->pos))) return rc;
    if (prop)
        for (size_t i = 0; i < n; i++)
            if (!has_index(&items[i])) {
                /* Liquid sorts by a property only when every item has []. */
                *out = LIQ_NIL;
                return 0;
            }
    if (n <= 1) {
        /* Ruby's sort never compares a single element. */
        *out = arr(items, n);
        return 0;
    }
    keyed *v = liq_alloc(c, (n ? n : 1) * sizeof *v), *tmp = liq_alloc(c, (n ? n : 1) * sizeof *tmp);
    liq_val *res = new_items(c, n);
    if (!v || !tmp || !res) return liq_oom(c, f->pos);
    for (size_t i = 0; i < n; i++) {
        v[i].item = items[i];
        if (!prop) v[i].key = items[i];
        else if ((rc = prop_of(c, f, &items[i], prop, &v[i].key))) return rc;
    }
    sorter s = {.c = c, .pos = f->pos, .natural = natural};
    merge_sort(&s, v, tmp, n);
    if (s.err) return s.err == LIQ_EMEMORY ? liq_oom(c, f->pos) : s.err;
    for (size_t i = 0; i < n; i++) res[i] = v[i].item;
    *out = arr(res, n);
    return 0;
}

FILTER(f_sort) { return sort_impl(c, f, in, args, nargs, false, out); }
FILTER(f_sort_natural) { return sort_impl(c, f, in, args, nargs, true, out); }

/* ------------------------------------------------------------------ uniq */

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t vhash(const liq_val *v, int depth) {
    if (depth > 16) return 7;
    switch (v->t) {
    case LV_NIL: return 1;
    case LV_BOOL: return v->u.b ? 2 : 3;
    case LV_INT: return mix((uint64_t)v->u.i * 31 + 4);
    case LV_FLOAT: {
        double d = v->u.f == 0 ? 0 : v->u.f;
        uint64_t b;
        memcpy(&b, &d, sizeof b);
        return mix(b * 31 + 5);
    }
    case LV_STR: return liq_hash(v->u.s.p, v->u.s.n) * 0x9E3779B97F4A7C15ULL + 6;
    case LV_RANGE: return mix((uint64_t)v->u.r.lo * 31 + (uint64_t)v->u.r.hi);
    case LV_TIME: return mix((uint64_t)v->u.tm->sec);
    default: break;
    }
    if (v->t == LV_JSON && json_object_is_type(v->u.j, json_type_object)) {
        uint64_t h = 8;
        json_object_object_foreach(v->u.j, k, jv) {
            liq_val x = liq_from_json(jv);
            h += mix(liq_hash(k, strlen(k)) ^ vhash(&x, depth + 1));
        }
        return h;
    }
    int64_t n = liq_arr_len(v);
    uint64_t h = 9;
    for (int64_t i = 0; i < n; i++) {
        liq_val x = liq_arr_at(v, i);
        h = mix(h * 31 + vhash(&x, depth + 1));
    }
    return h;
}

/* Ruby's eql?: like == but an Integer never equals a Float. */
static bool veql(const liq_val *a, const liq_val *b) {
    if ((a->t == LV_INT) != (b->t == LV_INT) || (a->t == LV_FLOAT) != (b->t == LV_FLOAT)) return false;
    return liq_equal(a, b);
}

FILTER(f_uniq) {
    const liq_val *prop = liq_arg(f, args, nargs, 0);
    if (prop && prop->t == LV_NIL) prop = NULL;
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    liq_val *res = new_items(c, n), *keys = new_items(c, n);
    uint32_t *slots = liq_alloc(c, cap * sizeof *slots);
    if (!res || !keys || !slots) return liq_oom(c, f->pos);
    memset(slots, 0, cap * sizeof *slots);
    size_t kept = 0;
    if (prop && n <= 1) {
        /* Ruby's uniq never calls its block on a single element. */
        *out = arr(items, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        liq_val key = items[i];
        if (prop && !has_index(&items[i])) {
            /* Liquid returns nil as soon as an item has no [] */
            *out = LIQ_NIL;
            return 0;
        }
        if (prop && (rc = prop_of(c, f, &items[i], prop, &key))) return rc;
        uint64_t h = vhash(&key, 0);
        size_t j = (size_t)h & (cap - 1);
        bool dup = false;
        while (slots[j]) {
            if (veql(&keys[slots[j] - 1], &key)) {
                dup = true;
                break;
            }
            j = (j + 1) & (cap - 1);
        }
        if (dup) continue;
        keys[kept] = key;
        res[kept] = items[i];
        slots[j] = (uint32_t)++kept;
    }
    *out = arr(res, kept);
    return 0;
}

/* -------------------------------------------------- where/reject/find/has */

enum { SEL_WHERE, SEL_REJECT, SEL_FIND, SEL_FIND_INDEX, SEL_HAS };

static int select_impl(liq_ctx *c, const liq_fcall *f, liq_val *in, liq_val *args, int nargs, int mode,
                       liq_val *out) {
    const liq_val *prop = liq_arg(f, args, nargs, 0), *target = liq_arg(f, args, nargs, 1);
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    *out = mode == SEL_HAS ? liq_bool(false) : LIQ_NIL;
    if (n == 0) {
        if (mode == SEL_WHERE || mode == SEL_REJECT) *out = arr(NULL, 0);
        return 0;
    }
    liq_val *res = NULL;
    if (mode == SEL_WHERE || mode == SEL_REJECT) {
        if (!(res = new_items(c, n))) return liq_oom(c, f->pos);
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        liq_val v;
        if (!has_index(&items[i])) {
            /* Liquid returns nil as soon as an item has no [] */
            *out = mode == SEL_HAS ? liq_bool(false) : LIQ_NIL;
            return 0;
        }
        if ((rc = prop_of(c, f, &items[i], prop, &v))) return rc;
        bool hit = target && target->t != LV_NIL ? liq_equal(&v, target) : liq_truthy(&v);
        if (mode == SEL_REJECT) hit = !hit;
        if (!hit) continue;
        switch (mode) {
        case SEL_FIND: *out = items[i]; return 0;
        case SEL_FIND_INDEX: *out = liq_int((int64_t)i); return 0;
        case SEL_HAS: *out = liq_bool(true); return 0;
        default: res[kept++] = items[i];
        }
    }
    if (mode == SEL_WHERE || mode == SEL_REJECT) *out = arr(res, kept);
    return 0;
}

FILTER(f_where) { return select_impl(c, f, in, args, nargs, SEL_WHERE, out); }
FILTER(f_reject) { return select_impl(c, f, in, args, nargs, SEL_REJECT, out); }
FILTER(f_find) { return select_impl(c, f, in, args, nargs, SEL_FIND, out); }
FILTER(f_find_index) { return select_impl(c, f, in, args, nargs, SEL_FIND_INDEX, out); }
FILTER(f_has) { return select_impl(c, f, in, args, nargs, SEL_HAS, out); }

FILTER(f_compact) {
    const liq_val *prop = liq_arg(f, args, nargs, 0);
    if (prop && prop->t == LV_NIL) prop = NULL;
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    liq_val *res = new_items(c, n);
    if (!res) return liq_oom(c, f->pos);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        liq_val v = items[i];
        if (prop && !has_index(&items[i])) {
            *out = LIQ_NIL;
            return 0;
        }
        if (prop && (rc = prop_of(c, f, &items[i], prop, &v))) return rc;
        if (v.t != LV_NIL) res[kept++] = items[i];
    }
    *out = arr(res, kept);
    return 0;
}

FILTER(f_sum) {
    const liq_val *prop = liq_arg(f, args, nargs, 0);
    if (prop && prop->t == LV_NIL) prop = NULL;
    liq_val *items;
    size_t n;
    int rc = liq_iter_input(c, in, f->pos, &items, &n);
    if (rc) return rc;
    liq_num total = {.is_int = true};
    for (size_t i = 0; i < n; i++) {
        liq_val v = items[i];
        if (prop) {
            v = liq_int(0);
            if (has_index(&items[i]) && (rc = prop_of(c, f, &items[i], prop, &v))) return rc;
        }
        liq_num x, r;
        liq_to_number(&v, &x);
        liq_num_arith('+', &total, &x, &r);
        total = r;
    }
    *out = liq_num_val(&total);
    return 0;
}

FILTER(f_default) {
    (void)c;
    const liq_val *def = liq_arg(f, args, nargs, 0), *af = liq_kwarg(f, args, nargs, "allow_false");
    bool allow_false = af && liq_truthy(af);
    bool use = allow_false ? in->t == LV_NIL : !liq_truthy(in);
    if (!use && (in->t == LV_STR || in->t == LV_ARR || in->t == LV_JSON)) use = liq_is_empty(in);
    *out = use ? (def ? *def : liq_str("", 0)) : *in;
    return 0;
}

const liq_filter_def liq_filters_array[] = {
    {"join", f_join, 0, 1},
    {"first", f_first, 0, 0},
    {"last", f_last, 0, 0},
    {"concat", f_concat, 1, 1},
    {"index", f_index, 1, 1},
    {"map", f_map, 1, 1},
    {"reverse", f_reverse, 0, 0},
    {"size", f_size, 0, 0},
    {"sort", f_sort, 0, 1},
    {"sort_natural", f_sort_natural, 0, 1},
    {"uniq", f_uniq, 0, 1},
    {"where", f_where, 1, 2},
    {"reject", f_reject, 1, 2},
    {"find", f_find, 1, 2},
    {"find_index", f_find_index, 1, 2},
    {"has", f_has, 1, 2},
    {"compact", f_compact, 0, 1},
    {"sum", f_sum, 0, 1},
    {"default", f_default, 0, 1},
    {NULL, NULL, 0, 0},
};
