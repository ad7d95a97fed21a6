/* eval.c -- evaluates expressions and conditions during a render.
 *
 * Name lookup follows Liquid's scopes: the innermost loop variables and
 * forloop, then assign/capture variables, then increment counters, then
 * the user object (and, for names it lacks, the resolver callback, called
 * once per name and cached). Braze's ${...} forms skip the locals and go
 * straight to the user object, so an {% assign first_name = ... %} cannot
 * change what {{${first_name}}} prints. */
#include "internal.h"

#include <pthread.h>
#include <string.h>

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static json_object *hash_probe; /* an empty object whose table gives us json-c's hash */

static void hash_init(void) { hash_probe = json_object_new_object(); }

unsigned long liq_json_hash(const char *key) {
    pthread_once(&hash_once, hash_init);
    return lh_get_hash(json_object_get_object(hash_probe), key);
}

json_object *liq_json_get(json_object *obj, const char *key, unsigned long h, bool *found) {
    struct lh_entry *e = lh_table_lookup_entry_w_hash(json_object_get_object(obj), key, h);
    *found = e != NULL;
    return e ? (json_object *)lh_entry_v(e) : NULL;
}

static bool name_eq(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

static int loop_attr(const liq_frame *f, const char *k, size_t n, liq_val *out) {
    int64_t i0 = f->index0, len = f->length;
#define IS(w) name_eq(k, n, w, sizeof w - 1)
    if (IS("index")) *out = liq_int(i0 + 1);
    else if (IS("index0")) *out = liq_int(i0);
    else if (IS("rindex")) *out = liq_int(len - i0);
    else if (IS("rindex0")) *out = liq_int(len - i0 - 1);
    else if (IS("first")) *out = liq_bool(i0 == 0);
    else if (IS("last")) *out = liq_bool(i0 == len - 1);
    else if (IS("length")) *out = liq_int(len);
    else if (!f->tablerow && IS("name")) *out = liq_str(f->lname, f->lnamelen);
    else if (!f->tablerow && IS("parentloop")) {
        const liq_frame *p = f->parent;
        while (p && p->tablerow) p = p->parent;
        if (p) {
            out->t = LV_LOOP;
            out->u.loop = p;
        } else {
            *out = LIQ_NIL;
        }
    } else if (f->tablerow && (IS("col") || IS("col0") || IS("col_first") || IS("col_last") || IS("row"))) {
        /* Without cols (or with cols < 1) Liquid's columns never wrap: col
         * counts on, the row stays 1 and no column is the last. */
        int64_t cols = f->cols;
        int64_t col0 = cols > 0 ? i0 % cols : i0;
        if (IS("col")) *out = liq_int(col0 + 1);
        else if (IS("col0")) *out = liq_int(col0);
        else if (IS("col_first")) *out = liq_bool(col0 == 0);
        else if (IS("col_last")) *out = liq_bool(cols > 0 && col0 == cols - 1);
        else *out = liq_int(cols > 0 ? i0 / cols + 1 : 1);
    } else {
        *out = LIQ_NIL;
    }
#undef IS
    return 0;
}

static bool json_get(json_object *o, const char *k, size_t n, json_object **out) {
    char buf[256];
    if (n < sizeof buf) {
        memcpy(buf, k, n);
        buf[n] = '\0';
        return json_object_object_get_ex(o, buf, out);
    }
    json_object_object_foreach(o, key, val) {
        if (strlen(key) == n && memcmp(key, k, n) == 0) {
            *out = val;
            return true;
        }
    }
    return false;
}

int liq_lookup_key(liq_ctx *c, const liq_val *v, const char *key, size_t klen, bool dot, liq_val *out) {
    *out = LIQ_NIL;
    switch (v->t) {
    case LV_JSON:
        if (json_object_is_type(v->u.j, json_type_object)) {
            json_object *j;
            if (json_get(v->u.j, key, klen, &j)) {
                liq_set_json(out, j);
                return 0;
            }
            if (dot && name_eq(key, klen, "size", 4)) *out = liq_int(json_object_object_length(v->u.j));
            if (dot && name_eq(key, klen, "first", 5) && json_object_object_length(v->u.j) > 0) {
                /* Hash#first: the first [key, value] pair. */
                liq_val *kv = liq_alloc(c, 2 * sizeof *kv);
                if (!kv) return liq_oom(c, 0);
                json_object_object_foreach(v->u.j, k0, v0) {
                    kv[0] = liq_str(k0, strlen(k0));
                    kv[1] = liq_from_json(v0);
                    break;
                }
                out->t = LV_ARR;
                out->u.a.v = kv;
                out->u.a.n = 2;
            }
            return 0;
        }
        __attribute__((fallthrough)); /* a json array */
    case LV_ARR:
    case LV_RANGE: {
        if (!dot) return 0;
        int64_t n = liq_arr_len(v);
        if (name_eq(key, klen, "size", 4)) *out = liq_int(n);
        else if (v->t == LV_RANGE && name_eq(key, klen, "first", 5)) *out = liq_int(v->u.r.lo); /* even when empty */
        else if (v->t == LV_RANGE && name_eq(key, klen, "last", 4)) *out = liq_int(v->u.r.hi);
        else if (name_eq(key, klen, "first", 5) && n > 0) *out = liq_arr_at(v, 0);
        else if (name_eq(key, klen, "last", 4) && n > 0) *out = liq_arr_at(v, n - 1);
        return 0;
    }
    case LV_STR:
        if (dot && name_eq(key, klen, "size", 4)) *out = liq_int((int64_t)liq_utf8_len(v->u.s.p, v->u.s.n));
        return 0;
    case LV_INT:
        /* Ruby's Integer#size is its width in bytes. */
        if (dot && name_eq(key, klen, "size", 4)) *out = liq_int(8);
        return 0;
    case LV_LOOP: return loop_attr(v->u.loop, key, klen, out);
    default: return 0;
    }
}

void liq_lookup_index(const liq_val *v, int64_t i, liq_val *out) {
    *out = LIQ_NIL;
    if (v->t == LV_RANGE) return;
    int64_t n = liq_arr_len(v);
    if (n < 0) return;
    if (i < 0) i += n;
    if (i >= 0 && i < n) *out = liq_arr_at(v, i);
}

/* A top-level name the user object lacks: the resolver's answer (cached
 * for the render), or nil. */
static int resolve_root(liq_ctx *c, const char *cn, uint32_t cl, uint32_t pos, liq_val *out) {
    *out = LIQ_NIL;
    if (!c->o->resolve) return 0;
    uint32_t ch = liq_hash(cn, cl);
    liq_slot *s = liq_table_get(&c->r->roots, cn, cl, ch);
    if (s) {
        *out = s->v;
        return 0;
    }
    json_object *j = NULL;
    if (c->o->resolve(c->o->resolve_ud, cn, cl, &j) < 0)
        return liq_fail(c, LIQ_ERENDER, pos, "could not resolve '%.*s'", (int)cl, cn);
    *out = liq_from_json(j);
    return liq_table_put(&c->r->roots, cn, cl, ch, out);
}

static int lookup_root(liq_ctx *c, const liq_expr *e, liq_val *out) {
    const char *name = e->u.var.name;
    uint32_t len = e->u.var.len, hash = e->u.var.hash;
    if (!(e->flags & VAR_CTX)) {
        for (liq_frame *f = c->frames; f; f = f->parent) {
            if (f->var.hash == hash && name_eq(f->var.p, f->var.len, name, len)) {
                *out = f->item;
                return 0;
            }
            if ((!f->tablerow && name_eq(name, len, "forloop", 7)) ||
                (f->tablerow && name_eq(name, len, "tablerowloop", 12))) {
                out->t = LV_LOOP;
                out->u.loop = f;
                return 0;
            }
        }
        liq_slot *s;
        if (c->r->vars.count && (s = liq_table_get(&c->r->vars, name, len, hash))) {
            *out = s->v;
            return 0;
        }
        if (c->r->counters.count && (s = liq_table_get(&c->r->counters, name, len, hash))) {
            *out = s->v;
            return 0;
        }
    }
    const char *cn = e->u.var.cname;
    uint32_t cl = e->u.var.clen;
    json_object *j;
    bool found;
    if (c->o->context && (j = liq_json_get(c->o->context, cn, e->u.var.cjhash, &found), found)) {
        liq_set_json(out, j);
        return 0;
    }
    return resolve_root(c, cn, cl, e->pos, out);
}

int liq_context_root(liq_ctx *c, const char *name, size_t len, uint32_t pos, liq_val *out) {
    json_object *j;
    if (c->o->context && json_get(c->o->context, name, len, &j)) {
        liq_set_json(out, j);
        return 0;
    }
    return resolve_root(c, name, (uint32_t)len, pos, out);
}

static int eval_var(liq_ctx *c, const liq_expr *e, liq_val *out) {
    int rc = lookup_root(c, e, out);
    if (rc) return rc;
    uint32_t i = 0;
    if (out->t == LV_JSON) {
        /* Fast path: walk json objects by precomputed key hashes, and
         * convert only the value at the end. */
        json_object *j = out->u.j;
        for (; i < e->u.var.nseg; i++) {
            const liq_seg *s = &e->u.var.seg[i];
            bool found;
            json_object *v;
            if (s->kind != SEG_KEY || !json_object_is_type(j, json_type_object) ||
                (v = liq_json_get(j, s->key, s->jhash, &found), !found))
                break;
            j = v;
            if (!j) {
                i++;
                break;
            }
        }
        liq_set_json(out, j);
    }
    for (; i < e->u.var.nseg && out->t != LV_NIL; i++) {
        const liq_seg *s = &e->u.var.seg[i];
        liq_val cur = *out;
        if (s->kind == SEG_KEY) {
            liq_lookup_key(c, &cur, s->key, s->klen, s->dot, out);
        } else if (s->kind == SEG_INDEX) {
            liq_lookup_index(&cur, s->idx, out);
        } else {
            liq_val k;
            if ((rc = liq_eval(c, s->e, &k))) return rc;
            if (k.t == LV_INT) liq_lookup_index(&cur, k.u.i, out);
            else if (k.t == LV_FLOAT && cur.t != LV_JSON && k.u.f > -9e18 && k.u.f < 9e18)
                liq_lookup_index(&cur, (int64_t)k.u.f, out);
            else if (k.t == LV_STR) liq_lookup_key(c, &cur, k.u.s.p, k.u.s.n, false, out);
            else *out = LIQ_NIL;
        }
    }
    return 0;
}

/* Liquid's RangeLookup#to_integer: nil and strings go through to_i. */
/* RangeLookup#to_integer: nil and strings by to_i ("3.7" is 3, "x" is 0),
 * anything else by Utils.to_integer (so a float is an invalid integer). */
static int range_int(liq_ctx *c, const liq_val *v, uint32_t pos, int64_t *out) {
    if (v->t == LV_NIL || v->t == LV_STR) return liq_to_i(v, out);
    return liq_to_integer(c, v, pos, out);
}

int liq_eval(liq_ctx *c, const liq_expr *e, liq_val *out) {
    int rc;
    switch (e->kind) {
    case EX_LIT: *out = e->u.lit; return 0;
    case EX_VAR: return eval_var(c, e, out);
    case EX_RANGE: {
        liq_val lo, hi;
        if ((rc = liq_eval(c, e->u.range.lo, &lo)) || (rc = liq_eval(c, e->u.range.hi, &hi))) return rc;
        out->t = LV_RANGE;
        if (e->flags & RANGE_LIT) {
            /* Liquid builds a literal range at parse time with to_i, which
             * truncates floats; with a variable in it, a float bound is an
             * invalid integer (range_int). */
            if (liq_to_i(&lo, &out->u.r.lo) < 0 || liq_to_i(&hi, &out->u.r.hi) < 0)
                return liq_fail(c, LIQ_ERENDER, e->pos, "a range bound must be a number or a string");
            return 0;
        }
        if ((rc = range_int(c, &lo, e->pos, &out->u.r.lo)) || (rc = range_int(c, &hi, e->pos, &out->u.r.hi)))
            return rc;
        return 0;
    }
    case EX_FILTERED: {
        liq_val v;
        if ((rc = liq_eval(c, e->u.filt.base, &v))) return rc;
        for (int i = 0; i < e->u.filt.nf; i++) {
            const liq_fcall *f = &e->u.filt.f[i];
            liq_val small[8], *args = small;
            if (f->nargs > 8 && !(args = liq_alloc(c, (size_t)f->nargs * sizeof *args))) return liq_oom(c, f->pos);
            for (int k = 0; k < f->nargs; k++)
                if ((rc = liq_eval(c, f->args[k], &args[k]))) return rc;
            if ((rc = liq_step(c, 1, f->pos))) return rc;
            liq_val r = LIQ_NIL;
            if ((rc = f->def->fn(c, f, &v, args, f->nargs, &r))) return rc;
            v = r;
        }
        *out = v;
        return 0;
    }
    case EX_BLOCK: return liq_render_block(c, e->u.block.name, e->u.block.len, e->pos, true, out);
    default: *out = LIQ_NIL; return 0;
    }
}

static bool responds_to_cmp(const liq_val *v) {
    return v->t == LV_INT || v->t == LV_FLOAT || v->t == LV_STR || v->t == LV_TIME;
}

static bool contains(liq_ctx *c, const liq_val *l, const liq_val *r) {
    if (r->t == LV_NIL || (r->t == LV_BOOL && !r->u.b)) return false;
    if (l->t == LV_STR) {
        const char *p;
        size_t n;
        if (liq_to_str(c, r, &p, &n)) return false;
        if (n == 0) return true;
        if (n > l->u.s.n) return false;
        return liq_memmem(l->u.s.p, l->u.s.n, p, n) != NULL;
    }
    if (l->t == LV_JSON && json_object_is_type(l->u.j, json_type_object)) {
        json_object *j;
        return r->t == LV_STR && json_get(l->u.j, r->u.s.p, r->u.s.n, &j);
    }
    if (l->t == LV_RANGE) {
        liq_val lo = liq_int(l->u.r.lo), hi = liq_int(l->u.r.hi);
        int a, b;
        if (r->t != LV_INT && r->t != LV_FLOAT) return false;
        return !liq_compare(&lo, r, &a) && !liq_compare(r, &hi, &b) && a <= 0 && b <= 0;
    }
    int64_t n = liq_arr_len(l);
    for (int64_t i = 0; i < n; i++) {
        liq_val x = liq_arr_at(l, i);
        if (liq_equal(&x, r)) return true;
    }
    return false;
}

static int simple_cond(liq_ctx *c, const liq_cond *k, bool *out) {
    liq_val l, r;
    int rc;
    if ((rc = liq_eval(c, k->l, &l))) return rc;
    if (k->kind == C_EXPR) {
        *out = liq_truthy(&l);
        return 0;
    }
    if ((rc = liq_eval(c, k->r, &r))) return rc;
    switch (k->op) {
    case OP_EQ: *out = liq_cond_equal(&l, &r); return 0;
    case OP_NE: *out = !liq_cond_equal(&l, &r); return 0;
    case OP_CONTAINS: *out = contains(c, &l, &r); return 0;
    default: break;
    }
    /* <, >, <=, >=: nil when either side does not compare (nil, booleans,
     * arrays, hashes), an error when both do but not with each other. */
    if (!responds_to_cmp(&l) || !responds_to_cmp(&r)) {
        *out = false;
        return 0;
    }
    int res;
    char rn[32];
    if (liq_compare(&l, &r, &res))
        return liq_fail(c, LIQ_ERENDER, k->pos, "comparison of %s with %s failed", liq_type_name(&l),
                        liq_cmp_name(&r, rn));
    switch (k->op) {
    case OP_LT: *out = res < 0; break;
    case OP_GT: *out = res > 0; break;
    case OP_LE: *out = res <= 0; break;
    default: *out = res >= 0; break;
    }
    return 0;
}

int liq_eval_cond(liq_ctx *c, const liq_cond *k, bool *out) {
    for (;;) {
        if (k->kind == C_EXPR || k->kind == C_CMP) return simple_cond(c, k, out);
        int rc = simple_cond(c, k->a, out);
        if (rc) return rc;
        if (k->kind == C_AND ? !*out : *out) return 0;
        k = k->b;
    }
}

int liq_set_var(liq_ctx *c, const liq_name *n, const liq_val *v) {
    return liq_table_put(&c->r->vars, n->p, n->len, n->hash, v);
}
