/* render.c -- walks a compiled template against a context: the render loop,
 * the core tags, the budgets and the renderer's reusable scratch.
 *
 * Everything a render writes goes through liq_out, which refuses to pass
 * max_output; every node and loop iteration goes through liq_step, which
 * enforces the step budget and, every 1024 steps, the wall-time budget;
 * every scratch allocation comes from the renderer's arena, bounded by
 * max_memory. A failing render leaves an empty output and an error with the
 * position of the node that failed. */
#include "internal.h"
#include "../lib/clock.h"
#include "../lib/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

const char *liq_strerror(int code) {
    switch (code) {
    case 0: return "success";
#define XX(name, c, msg) \
    case c: return msg;
        LIQ_ERR_MAP(XX)
#undef XX
    default: return "unknown error";
    }
}

void liq_error_format(const liq_error *e, char *out, size_t outlen) {
    if (e->line)
        snprintf(out, outlen, "%s%s%d:%d: %s", e->source, e->source[0] ? ":" : "", e->line, e->col, e->message);
    else
        snprintf(out, outlen, "%s%s%s", e->source, e->source[0] ? ": " : "", e->message);
}

int liq_fail(liq_ctx *c, int code, uint32_t pos, const char *fmt, ...) {
    liq_error *e = c->err;
    if (e->code) return e->code; /* keep the first, innermost failure */
    e->code = code;
    liq_linecol(c->tpl->src, c->tpl->len, pos, &e->line, &e->col);
    snprintf(e->source, sizeof e->source, "%s", c->srcname);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

int liq_step_slow(liq_ctx *c, uint64_t before, uint32_t pos) {
    if (c->steps > c->max_steps || c->steps < before)
        return liq_fail(c, LIQ_ESTEPS, pos, "step budget of %llu exceeded (loop or filter too large)",
                        (unsigned long long)c->max_steps);
    if ((before >> 10) != (c->steps >> 10) && clock_mono_us() > c->deadline_us)
        return liq_fail(c, LIQ_ETIME, pos, "time budget of %lld ms exceeded",
                        (long long)(c->o->max_time_us / 1000));
    return 0;
}

size_t liq_itoa(int64_t v, char *buf) {
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0) buf[k++] = '-';
    while (n) buf[k++] = tmp[--n];
    buf[k] = '\0';
    return k;
}

void *liq_alloc(liq_ctx *c, size_t n) { return liq_arena_alloc(&c->r->arena, n); }

int liq_oom(liq_ctx *c, uint32_t pos) {
    return liq_fail(c, LIQ_EMEMORY, pos, "memory budget of %zu bytes exceeded", c->r->arena.limit);
}

int liq_out(liq_ctx *c, uint32_t pos, const char *p, size_t n) {
    liq_renderer *r = c->r;
    if (n > c->max_output - r->len)
        return liq_fail(c, LIQ_EOUTPUT, pos, "output budget of %zu bytes exceeded", c->max_output);
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        if (cap > c->max_output + 1) cap = c->max_output + 1;
        r->out = xrealloc(r->out, cap);
        r->cap = cap;
    }
    memcpy(r->out + r->len, p, n);
    r->len += n;
    return 0;
}

static int out_array(liq_ctx *c, uint32_t pos, const liq_val *v, int depth) {
    /* {{ array }} prints the elements one after the other, nested arrays
     * included (Liquid's render_obj_to_output); hashes print inspected. */
    int64_t n = liq_arr_len(v);
    for (int64_t i = 0; i < n; i++) {
        liq_val x;
        liq_arr_get(v, i, &x);
        int rc = (x.t == LV_ARR || (x.t == LV_JSON && json_object_is_type(x.u.j, json_type_array)))
                     ? (depth < 64 ? out_array(c, pos, &x, depth + 1) : 0)
                     : liq_out_val(c, pos, &x);
        if (rc) return rc;
    }
    return 0;
}

int liq_out_val(liq_ctx *c, uint32_t pos, const liq_val *v) {
    char buf[32];
    if (v->t == LV_ARR || (v->t == LV_JSON && json_object_is_type(v->u.j, json_type_array)))
        return out_array(c, pos, v, 0);
    switch (v->t) {
    case LV_STR: return liq_out(c, pos, v->u.s.p, v->u.s.n);
    case LV_NIL: return 0;
    case LV_INT: return liq_out(c, pos, buf, liq_itoa(v->u.i, buf));
    default: {
        const char *p;
        size_t n;
        int rc = liq_to_str(c, v, &p, &n);
        return rc ? rc : liq_out(c, pos, p, n);
    }
    }
}

/* ---------------------------------------------------------------- tables */

liq_slot *liq_table_get(liq_table *t, const char *name, size_t len, uint32_t hash) {
    if (!t->cap) return NULL;
    uint32_t mask = t->cap - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        liq_slot *s = &t->s[i];
        if (s->gen != t->gen) return NULL;
        if (s->hash == hash && s->len == len && memcmp(s->name, name, len) == 0) return s;
    }
}

static void table_grow(liq_table *t) {
    uint32_t ncap = t->cap ? t->cap * 2 : 16;
    liq_slot *ns = xcalloc(ncap, sizeof *ns);
    for (uint32_t i = 0; i < t->cap; i++) {
        liq_slot *s = &t->s[i];
        if (s->gen != t->gen) continue;
        uint32_t j = s->hash & (ncap - 1);
        while (ns[j].gen == t->gen) j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(t->s);
    t->s = ns;
    t->cap = ncap;
}

int liq_table_put(liq_table *t, const char *name, size_t len, uint32_t hash, const liq_val *v) {
    if (t->gen == 0) t->gen = 1;
    if ((t->count + 1) * 2 > t->cap) table_grow(t);
    uint32_t mask = t->cap - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        liq_slot *s = &t->s[i];
        if (s->gen != t->gen) {
            *s = (liq_slot){.name = name, .len = (uint32_t)len, .hash = hash, .gen = t->gen, .v = *v};
            t->count++;
            return 0;
        }
        if (s->hash == hash && s->len == len && memcmp(s->name, name, len) == 0) {
            s->v = *v;
            return 0;
        }
    }
}

void liq_table_reset(liq_table *t) {
    t->count = 0;
    if (++t->gen == 0) {
        /* After 2^32 renders, start over from clean slots. */
        if (t->cap) memset(t->s, 0, t->cap * sizeof *t->s);
        t->gen = 1;
    }
}

void liq_table_free(liq_table *t) {
    free(t->s);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ tags */

int liq_capture(liq_ctx *c, const liq_body *b, uint32_t pos, liq_val *out) {
    size_t mark = c->r->len;
    int rc = liq_render_body(c, b);
    if (rc) return rc;
    size_t n = c->r->len - mark;
    char *s = liq_alloc(c, n + 1);
    if (!s) return liq_oom(c, pos);
    memcpy(s, c->r->out + mark, n);
    s[n] = '\0';
    c->r->len = mark;
    *out = liq_str(s, n);
    return 0;
}

static int render_if(liq_ctx *c, const liq_node *n) {
    for (int i = 0; i < n->u.ifs.nb; i++) {
        const liq_branch *b = &n->u.ifs.b[i];
        bool yes = true;
        if (b->cond) {
            int rc = liq_eval_cond(c, b->cond, &yes);
            if (rc) return rc;
            if (b->negate) yes = !yes;
        }
        if (yes) return liq_render_body(c, &b->body);
    }
    return 0;
}

static int render_case(liq_ctx *c, const liq_node *n) {
    bool matched = false;
    int rc;
    /* Liquid turns each value of each when into a condition `subject ==
     * value`: every matching one renders its body (`when a, b` twice if
     * both match), the subject is evaluated again each time (so an assign
     * in one branch changes what the next compares), and a break in one
     * branch does not stop the others. An else renders where it stands if
     * no when before it matched. */
    for (int i = 0; i < n->u.cas.nw; i++) {
        const liq_when *w = &n->u.cas.w[i];
        if (w->is_else) {
            if (!matched && (rc = liq_render_body(c, &w->body))) return rc;
            continue;
        }
        for (int k = 0; k < w->nv; k++) {
            liq_val subject, v;
            if ((rc = liq_eval(c, n->u.cas.subject, &subject)) || (rc = liq_eval(c, w->vals[k], &v))) return rc;
            if (liq_cond_equal(&subject, &v)) {
                matched = true;
                if ((rc = liq_render_body(c, &w->body))) return rc;
            }
        }
    }
    return 0;
}

/* The sequence a for loop walks: arrays and ranges as they are, a hash as
 * [key, value] pairs, a non-empty string as itself once, anything else as
 * nothing. */
static int loop_items(liq_ctx *c, const liq_val *coll, uint32_t pos, liq_val *seq, int64_t *len) {
    *len = liq_arr_len(coll);
    if (*len >= 0) {
        *seq = *coll;
        return 0;
    }
    *len = 0;
    if (coll->t == LV_STR) {
        if (coll->u.s.n == 0) return 0;
        liq_val *one = liq_alloc(c, sizeof *one);
        if (!one) return liq_oom(c, pos);
        *one = *coll;
        seq->t = LV_ARR;
        seq->u.a.v = one;
        seq->u.a.n = 1;
        *len = 1;
        return 0;
    }
    if (coll->t != LV_JSON) return 0;
    size_t n = (size_t)json_object_object_length(coll->u.j), i = 0;
    int rc = liq_step(c, n, pos);
    if (rc) return rc;
    liq_val *pairs = liq_alloc(c, n * sizeof *pairs + 1), *kv = liq_alloc(c, 2 * n * sizeof *kv + 1);
    if (!pairs || !kv) return liq_oom(c, pos);
    json_object_object_foreach(coll->u.j, k, v) {
        kv[2 * i] = liq_str(k, strlen(k));
        kv[2 * i + 1] = liq_from_json(v);
        pairs[i].t = LV_ARR;
        pairs[i].u.a.v = &kv[2 * i];
        pairs[i].u.a.n = 2;
        i++;
    }
    seq->t = LV_ARR;
    seq->u.a.v = pairs;
    seq->u.a.n = n;
    *len = (int64_t)n;
    return 0;
}

static int int_attr(liq_ctx *c, const liq_expr *e, int64_t *out, bool *given) {
    *given = false;
    if (!e) return 0;
    liq_val v;
    int rc = liq_eval(c, e, &v);
    if (rc) return rc;
    if (v.t == LV_NIL) return 0;
    *given = true;
    return liq_to_integer(c, &v, e->pos, out);
}

/* tablerow's options go through to_i, unlike for's: nil, "x" and 2.5
 * are accepted (as 0, 0 and 2), and a limit given as nil is a limit of 0. */
static int tablerow_attr(liq_ctx *c, const liq_expr *e, int64_t *out, bool *given) {
    *given = e != NULL;
    *out = 0;
    if (!e) return 0;
    liq_val v;
    int rc = liq_eval(c, e, &v);
    if (rc) return rc;
    if (liq_to_i(&v, out) < 0)
        return liq_fail(c, LIQ_ERENDER, e->pos, "tablerow option: %s has no integer value", liq_type_name(&v));
    return 0;
}

static int render_loop(liq_ctx *c, const liq_node *n) {
    bool tablerow = n->kind == N_TABLEROW;
    liq_val coll, seq;
    int64_t len, from = 0, limit = 0, cols = 0;
    bool has_from, has_limit, has_cols;
    int rc = liq_eval(c, n->u.loop.coll, &coll);
    if (rc) return rc;
    /* Liquid prints no table for nil or false. */
    if (tablerow && (coll.t == LV_NIL || (coll.t == LV_BOOL && !coll.u.b))) return 0;
    if ((rc = loop_items(c, &coll, n->pos, &seq, &len))) return rc;
    if (tablerow) {
        if ((rc = tablerow_attr(c, n->u.loop.offset, &from, &has_from)) ||
            (rc = tablerow_attr(c, n->u.loop.limit, &limit, &has_limit)) ||
            (rc = tablerow_attr(c, n->u.loop.cols, &cols, &has_cols)))
            return rc;
    } else {
        if (n->u.loop.offset_continue) {
            liq_slot *s = liq_table_get(&c->r->regs, n->u.loop.reg, n->u.loop.reglen,
                                        liq_hash(n->u.loop.reg, n->u.loop.reglen));
            from = s ? s->v.u.i : 0;
        } else if ((rc = int_attr(c, n->u.loop.offset, &from, &has_from))) {
            return rc;
        }
        if ((rc = int_attr(c, n->u.loop.limit, &limit, &has_limit))) return rc;
    }
    /* Liquid keeps the items whose index i satisfies from <= i < from+limit. */
    int64_t start = from > 0 ? from : 0, end = len;
    if (has_limit) {
        int64_t to;
        if (__builtin_add_overflow(from, limit, &to)) to = limit > 0 ? INT64_MAX : INT64_MIN;
        if (to < end) end = to;
    }
    /* Liquid slices a string "collection" as [string], whatever the
     * offset and limit say. */
    if (coll.t == LV_STR && len == 1) start = 0, end = 1;
    int64_t seglen = end > start ? end - start : 0;
    if (!tablerow) {
        int64_t nx;
        if (__builtin_add_overflow(from, seglen, &nx)) nx = INT64_MAX;
        liq_val next = liq_int(nx);
        liq_table_put(&c->r->regs, n->u.loop.reg, n->u.loop.reglen, liq_hash(n->u.loop.reg, n->u.loop.reglen),
                      &next);
    }
    if (tablerow && (rc = liq_out(c, n->pos, "<tr class=\"row1\">\n", 18))) return rc;
    if (seglen == 0) {
        if (tablerow) return liq_out(c, n->pos, "</tr>\n", 6);
        return n->u.loop.els ? liq_render_body(c, n->u.loop.els) : 0;
    }
    liq_frame f = {.var = n->u.loop.var, .tablerow = tablerow, .length = seglen, .cols = cols,
                   .lname = n->u.loop.reg, .lnamelen = n->u.loop.reglen, .parent = c->frames};
    c->frames = &f;
    for (int64_t k = 0; k < seglen; k++) {
        if ((rc = liq_step(c, 1, n->pos))) break;
        int64_t idx = n->u.loop.reversed ? end - 1 - k : start + k;
        liq_arr_get(&seq, idx, &f.item);
        f.index0 = k;
        if (tablerow) {
            char buf[64];
            int64_t col = cols > 0 ? k % cols + 1 : k + 1;
            if ((rc = liq_out(c, n->pos, buf, (size_t)snprintf(buf, sizeof buf, "<td class=\"col%lld\">", (long long)col))))
                break;
        }
        if ((rc = liq_render_body(c, &n->u.loop.body))) break;
        if (tablerow) {
            if ((rc = liq_out(c, n->pos, "</td>", 5))) break;
            if (cols > 0 && (k % cols) == cols - 1 && k != seglen - 1) {
                char buf[64];
                int m = snprintf(buf, sizeof buf, "</tr>\n<tr class=\"row%lld\">", (long long)(k / cols + 2));
                if ((rc = liq_out(c, n->pos, buf, (size_t)m))) break;
            }
        }
        /* A for loop takes one pending break/continue off the stack; a
         * tablerow leaves them (Liquid's tablerow knows nothing of them, so
         * the next cells stop after their first tag and the break reaches
         * the enclosing loop, or ends the template). */
        if (!tablerow && c->ilen && c->istack[--c->ilen] == INT_BREAK) break;
    }
    c->frames = f.parent;
    if (!rc && tablerow) rc = liq_out(c, n->pos, "</tr>\n", 6);
    return rc;
}

/* Liquid keeps counters in the outermost environment, the hash the
 * template is rendered with: a counter starts from the user object's value
 * of its name (so `increment` of a name the context holds as 7 prints 7),
 * and then overlays it (counters come before the context in lookups). */
static int render_counter(liq_ctx *c, const liq_node *n) {
    const liq_name *nm = &n->u.counter;
    liq_slot *s = liq_table_get(&c->r->counters, nm->p, nm->len, nm->hash);
    liq_val v;
    int rc;
    if (s) v = s->v;
    else if ((rc = liq_context_root(c, nm->p, nm->len, n->pos, &v))) return rc;
    if (v.t == LV_NIL || (v.t == LV_BOOL && !v.u.b)) v = liq_int(0); /* `value || 0` */
    int step = n->kind == N_INCR ? 1 : -1;
    liq_val next;
    if (v.t == LV_INT && !__builtin_add_overflow(v.u.i, step, &next.u.i)) next.t = LV_INT;
    else if (v.t == LV_INT) next = liq_float((double)v.u.i + step); /* Ruby would go to a big integer */
    else if (v.t == LV_FLOAT) next = liq_float(v.u.f + step);
    else return liq_fail(c, LIQ_ERENDER, n->pos, "cannot %s a %s", step > 0 ? "increment" : "decrement", liq_type_name(&v));
    if ((rc = liq_table_put(&c->r->counters, nm->p, nm->len, nm->hash, &next))) return rc;
    /* increment prints the value before, decrement the value after. */
    return liq_out_val(c, n->pos, step > 0 ? &v : &next);
}

static int render_cycle(liq_ctx *c, const liq_node *n) {
    const char *key = n->u.cycle.key;
    size_t klen = n->u.cycle.klen;
    int rc;
    if (n->u.cycle.group) {
        /* Liquid keys a named group by its value: 1 and '1' are two
         * groups, and no group shares a key with an unnamed cycle. */
        liq_val g;
        liq_sb sb;
        liq_sb_init(&sb, c, 32);
        if ((rc = liq_eval(c, n->u.cycle.group, &g))) return rc;
        liq_sb_addc(&sb, '\x01');
        if (g.t == LV_STR) liq_sb_add(&sb, g.u.s.p, g.u.s.n);
        else liq_sb_addc(&sb, '\x02'), liq_inspect(&sb, &g, 0);
        liq_val k;
        if ((rc = liq_sb_done(&sb, n->pos, &k))) return rc;
        key = k.u.s.p;
        klen = k.u.s.n;
    }
    uint32_t h = liq_hash(key, klen);
    liq_slot *s = liq_table_get(&c->r->cycles, key, klen, h);
    /* Group names are computed, so their number must be bounded here. */
    if (!s && c->r->cycles.count >= 4096) return liq_fail(c, LIQ_ERENDER, n->pos, "more than 4096 cycle groups");
    /* The group's position is shared, but each tag has its own list: a
     * position past this list prints nothing, and the position goes back
     * to 0 when it reaches the end of the list of the tag that moved it. */
    int64_t i = s ? s->v.u.i : 0, nv = n->u.cycle.nv;
    liq_val v, next = liq_int(i + 1 >= nv ? 0 : i + 1);
    if ((rc = liq_table_put(&c->r->cycles, key, klen, h, &next))) return rc;
    if (i >= nv) return 0;
    if ((rc = liq_eval(c, n->u.cycle.vals[i], &v))) return rc;
    return liq_out_val(c, n->pos, &v);
}

static int render_ifchanged(liq_ctx *c, const liq_node *n) {
    size_t mark = c->r->len;
    int rc = liq_render_body(c, &n->u.ifchanged);
    if (rc) return rc;
    size_t len = c->r->len - mark;
    if (c->has_changed && c->changed_len == len && memcmp(c->changed, c->r->out + mark, len) == 0) {
        c->r->len = mark;
        return 0;
    }
    char *copy = liq_alloc(c, len + 1);
    if (!copy) return liq_oom(c, n->pos);
    memcpy(copy, c->r->out + mark, len);
    c->changed = copy;
    c->changed_len = len;
    c->has_changed = true;
    return 0;
}

static int push_interrupt(liq_ctx *c, uint8_t kind, uint32_t pos) {
    if (c->ilen == c->icap) {
        uint32_t cap = c->icap ? c->icap * 2 : 16;
        uint8_t *s = liq_alloc(c, cap);
        if (!s) return liq_oom(c, pos);
        if (c->ilen) memcpy(s, c->istack, c->ilen);
        c->istack = s;
        c->icap = cap;
    }
    c->istack[c->ilen++] = kind;
    return 0;
}

int liq_render_body(liq_ctx *c, const liq_body *b) {
    int rc = 0;
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        const liq_node *n = b->n[i];
        if ((rc = liq_step(c, 1, n->pos))) break;
        switch (n->kind) {
        case N_TEXT:
        case N_RAW: rc = liq_out(c, n->pos, n->u.text.p, n->u.text.n); break;
        case N_NOP: break;
        case N_OUTPUT: {
            liq_val v;
            rc = liq_eval(c, n->u.out, &v);
            if (!rc) rc = liq_out_val(c, n->pos, &v);
            break;
        }
        case N_IF: rc = render_if(c, n); break;
        case N_CASE: rc = render_case(c, n); break;
        case N_FOR:
        case N_TABLEROW: rc = render_loop(c, n); break;
        case N_ASSIGN: {
            liq_val v;
            rc = liq_eval(c, n->u.assign.val, &v);
            if (!rc) rc = liq_set_var(c, &n->u.assign.var, &v);
            break;
        }
        case N_CAPTURE: {
            liq_val v;
            rc = liq_capture(c, &n->u.capture.body, n->pos, &v);
            if (!rc) rc = liq_set_var(c, &n->u.capture.var, &v);
            break;
        }
        case N_INCR:
        case N_DECR: rc = render_counter(c, n); break;
        case N_CYCLE: rc = render_cycle(c, n); break;
        case N_BREAK: rc = push_interrupt(c, INT_BREAK, n->pos); break;
        case N_CONTINUE: rc = push_interrupt(c, INT_CONTINUE, n->pos); break;
        case N_IFCHANGED: rc = render_ifchanged(c, n); break;
        case N_ABORT:
            rc = liq_fail(c, LIQ_EABORT, n->pos, "%.*s", (int)n->u.abort.len, n->u.abort.reason);
            break;
        case N_CC: rc = liq_render_cc(c, n); break;
        case N_BLOCK: rc = liq_render_block(c, n->u.block.name, n->u.block.len, n->pos, false, NULL); break;
        }
        if (n->kind != N_TEXT && c->ilen) break;
    }
    return rc;
}

/* -------------------------------------------------------------- renderer */

liq_renderer *liq_renderer_new(void) {
    liq_renderer *r = xcalloc(1, sizeof *r);
    liq_arena_init(&r->arena, 0, 64u << 10);
    return r;
}

static void put_owned(liq_renderer *r) {
    for (size_t i = 0; i < r->nowned; i++) json_object_put(r->owned[i]);
    r->nowned = 0;
}

void liq_renderer_free(liq_renderer *r) {
    if (!r) return;
    put_owned(r);
    free(r->owned);
    liq_blocks_free(r);
    liq_arena_free(&r->arena);
    liq_table_free(&r->vars);
    liq_table_free(&r->counters);
    liq_table_free(&r->regs);
    liq_table_free(&r->cycles);
    liq_table_free(&r->roots);
    buf_free(&r->fetched);
    free(r->out);
    free(r);
}

int liq_render(liq_renderer *r, const liq_template *t, const liq_render_opts *in, liq_result *res) {
    liq_render_opts o = in ? *in : (liq_render_opts){0};
    if (!o.max_output) o.max_output = LIQ_DEFAULT_MAX_OUTPUT;
    if (o.max_output > SIZE_MAX / 4) o.max_output = SIZE_MAX / 4;
    if (!o.max_memory) o.max_memory = LIQ_DEFAULT_MAX_MEMORY;
    if (!o.max_steps) o.max_steps = LIQ_DEFAULT_MAX_STEPS;
    if (o.max_time_us <= 0) o.max_time_us = LIQ_DEFAULT_MAX_TIME_US;
    if (o.max_fetches <= 0) o.max_fetches = LIQ_DEFAULT_MAX_FETCHES;
    if (o.context && !json_object_is_type(o.context, json_type_object)) o.context = NULL;
    liq_arena_reset(&r->arena);
    r->arena.limit = o.max_memory;
    liq_table_reset(&r->vars);
    liq_table_reset(&r->counters);
    liq_table_reset(&r->regs);
    liq_table_reset(&r->cycles);
    liq_table_reset(&r->roots);
    liq_blocks_begin(r);
    r->len = 0;
    memset(res, 0, sizeof *res);
    liq_ctx c = {
        .r = r,
        .o = &o,
        .tpl = t,
        .srcname = "",
        .max_steps = o.max_steps,
        .max_output = o.max_output,
        .deadline_us = clock_mono_us() + o.max_time_us,
        .now_ms = o.now_ms ? o.now_ms : clock_wall_ms(),
        .err = &res->err,
    };
    int rc = liq_render_body(&c, &t->body);
    put_owned(r);
    if (!r->out) {
        r->out = xmalloc(4096);
        r->cap = 4096;
    }
    if (rc) r->len = 0;
    r->out[r->len] = '\0';
    res->out = r->out;
    res->len = r->len;
    if (rc && !res->err.code) res->err.code = rc;
    return rc;
}

int liq_render_source(liq_renderer *r, const char *src, size_t len, const liq_render_opts *o, liq_result *res,
                      char *msg, size_t msglen) {
    liq_template *t = NULL;
    liq_error err;
    if (msglen) *msg = '\0';
    if (liq_compile(src, len, &t, &err) < 0) {
        memset(res, 0, sizeof *res);
        res->err = err;
        res->err.code = LIQ_ESYNTAX;
        liq_error_format(&err, msg, msglen);
        return LIQ_ESYNTAX;
    }
    int rc = liq_render(r, t, o, res);
    liq_template_free(t);
    if (rc == LIQ_EABORT) snprintf(msg, msglen, "%s", res->err.message);
    else if (rc) liq_error_format(&res->err, msg, msglen);
    return rc;
}
