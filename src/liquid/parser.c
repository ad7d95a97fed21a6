/* parser.c -- builds the template tree from lexer tokens: blocks and tags.
 *
 * Each tag has a parse function; block tags parse their bodies until one of
 * their delimiters (elsif/else/endif, ...). A body remembers whether it is
 * "blank" (only whitespace and tags that print nothing, like assign); as in
 * Liquid, the whitespace text of a blank if/unless/case/for is dropped so
 * that logic spread over lines does not leave empty lines in the message.
 * Nesting is bounded so that hostile input cannot exhaust the stack. */
#include "internal.h"
#include "../lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCK_DEPTH 100

int liq_perr(liq_parser *p, uint32_t pos, const char *fmt, ...) {
    if (!p->errmsg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
        va_end(ap);
        p->errpos = pos;
    }
    return LIQ_ESYNTAX;
}

void *liq_palloc(liq_parser *p, size_t n) {
    void *q = liq_arena_alloc(&p->tpl->arena, n);
    memset(q, 0, n); /* the compile arena has no limit: never NULL */
    return q;
}

liq_name liq_mkname(const char *p, size_t n) {
    return (liq_name){.p = p, .len = (uint32_t)n, .hash = liq_hash(p, n)};
}

static bool tname(const liq_parser *p, const liq_rawtok *t, const char *w) {
    return strlen(w) == t->namelen && memcmp(p->src + t->name, w, t->namelen) == 0;
}

static liq_node *new_node(liq_parser *p, int kind, uint32_t pos) {
    liq_node *n = liq_palloc(p, sizeof *n);
    n->kind = (uint8_t)kind;
    n->pos = pos;
    return n;
}

static bool all_ws(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) return false;
    return true;
}

/* Drops the text nodes of a blank body (they are whitespace only). */
static void strip_blank(liq_body *b) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < b->count; i++)
        if (b->n[i]->kind != N_TEXT) b->n[k++] = b->n[i];
    b->count = k;
}

typedef struct {
    liq_node **v;
    size_t n, cap;
} nodevec;

static void nv_push(nodevec *nv, liq_node *n) {
    if (nv->n == nv->cap) {
        nv->cap = nv->cap ? nv->cap * 2 : 16;
        nv->v = xrealloc(nv->v, nv->cap * sizeof *nv->v);
    }
    nv->v[nv->n++] = n;
}

typedef int (*tag_fn)(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank);

static int parse_body(liq_parser *p, liq_body *out, const char *const *stops, bool *blank);

/* Parses a body that must end with one of stops; returns the index of the
 * token that ended it, or a negative code (never closed -> error at open). */
static long body_until(liq_parser *p, const liq_rawtok *open, const char *tagname, liq_body *out,
                       const char *const *stops, bool *blank) {
    int rc = parse_body(p, out, stops, blank);
    if (rc) return rc;
    if (p->i >= p->toks.n) return liq_perr(p, open->pos, "'%s' tag was never closed", tagname);
    return (long)p->i++;
}

/* ------------------------------------------------------------ tags */

static int lexer_for(liq_parser *p, const liq_rawtok *t, liq_lexer *lx) {
    liq_lex_init(lx, p->src, t->start, t->end);
    return 0;
}

static int tag_if(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    bool unless = tname(p, t, "unless");
    const char *endname = unless ? "endunless" : "endif";
    const char *stops[] = {"elsif", "else", endname, NULL};
    liq_branch br[64];
    int nb = 0;
    liq_branch *heap = NULL, *b = br;
    int cap = 64;
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_cond *cond = liq_parse_cond(p, &lx);
    if (!cond || liq_expect_end(p, &lx, unless ? "unless" : "if")) return LIQ_ESYNTAX;
    bool all_blank = true;
    int rc = 0;
    for (;;) {
        if (nb == cap) {
            cap *= 2;
            liq_branch *nbv = xmalloc((size_t)cap * sizeof *nbv);
            memcpy(nbv, b, (size_t)nb * sizeof *nbv);
            free(heap);
            heap = b = nbv;
        }
        memset(&b[nb], 0, sizeof b[nb]);
        b[nb].cond = cond;
        b[nb].negate = unless && nb == 0;
        bool bl;
        long e = body_until(p, t, unless ? "unless" : "if", &b[nb].body, stops, &bl);
        if (e < 0) {
            rc = (int)e;
            break;
        }
        nb++;
        all_blank &= bl;
        const liq_rawtok *d = &p->toks.t[e];
        if (tname(p, d, endname)) break;
        /* Branches after an else are parsed but can never run, as in Liquid. */
        if (tname(p, d, "else")) {
            cond = NULL;
            continue;
        }
        lexer_for(p, d, &lx);
        cond = liq_parse_cond(p, &lx);
        if (!cond || liq_expect_end(p, &lx, "elsif")) {
            rc = LIQ_ESYNTAX;
            break;
        }
    }
    if (!rc) {
        liq_node *n = new_node(p, N_IF, t->pos);
        n->u.ifs.b = liq_palloc(p, (size_t)nb * sizeof *n->u.ifs.b);
        memcpy(n->u.ifs.b, b, (size_t)nb * sizeof *b);
        n->u.ifs.nb = nb;
        if (all_blank)
            for (int i = 0; i < nb; i++) strip_blank(&n->u.ifs.b[i].body);
        *blank = all_blank;
        *out = n;
    }
    free(heap);
    return rc;
}

static int parse_when_values(liq_parser *p, const liq_rawtok *d, liq_when *w) {
    liq_lexer lx;
    lexer_for(p, d, &lx);
    liq_expr *vals[256];
    int nv = 0;
    for (;;) {
        if (nv == 256) return liq_perr(p, d->pos, "too many values in 'when'");
        liq_expr *e = liq_parse_primary(p, &lx);
        if (!e) return LIQ_ESYNTAX;
        vals[nv++] = e;
        liq_tok t = liq_lex_peek(&lx);
        if (t.t == T_COMMA || t.t == T_OR || (t.t == T_IDENT && t.n == 2 && !memcmp(t.p, "or", 2))) {
            liq_lex_next(&lx);
            continue;
        }
        break;
    }
    if (liq_expect_end(p, &lx, "when")) return LIQ_ESYNTAX;
    w->vals = liq_palloc(p, (size_t)nv * sizeof *w->vals);
    memcpy(w->vals, vals, (size_t)nv * sizeof *vals);
    w->nv = nv;
    return 0;
}

static int tag_case(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    static const char *const stops[] = {"when", "else", "endcase", NULL};
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_expr *subject = liq_parse_primary(p, &lx);
    if (!subject || liq_expect_end(p, &lx, "case")) return LIQ_ESYNTAX;
    liq_node *n = new_node(p, N_CASE, t->pos);
    n->u.cas.subject = subject;
    /* Whatever stands between {% case %} and the first {% when %} is dropped. */
    liq_body junk;
    bool bl, all_blank = true;
    long e = body_until(p, t, "case", &junk, stops, &bl);
    if (e < 0) return (int)e;
    liq_when ws[64], *w = ws, *heap = NULL;
    int nw = 0, cap = 64, rc = 0;
    /* whens and elses stay in source order: an else renders where it
     * stands when no when before it matched (Liquid allows several). */
    while (!tname(p, &p->toks.t[e], "endcase")) {
        const liq_rawtok *d = &p->toks.t[e];
        if (nw == cap) {
            cap *= 2;
            liq_when *q = xmalloc((size_t)cap * sizeof *q);
            memcpy(q, w, (size_t)nw * sizeof *q);
            free(heap);
            heap = w = q;
        }
        memset(&w[nw], 0, sizeof w[nw]);
        if (tname(p, d, "else")) w[nw].is_else = true;
        else if ((rc = parse_when_values(p, d, &w[nw]))) break;
        e = body_until(p, t, "case", &w[nw].body, stops, &bl);
        if (e < 0) {
            rc = (int)e;
            break;
        }
        all_blank &= bl;
        nw++;
    }
    if (!rc) {
        n->u.cas.w = liq_palloc(p, (size_t)(nw ? nw : 1) * sizeof *w);
        memcpy(n->u.cas.w, w, (size_t)nw * sizeof *w);
        n->u.cas.nw = nw;
        if (all_blank)
            for (int i = 0; i < nw; i++) strip_blank(&n->u.cas.w[i].body);
        *blank = all_blank;
        *out = n;
    }
    free(heap);
    return rc;
}

static int tag_for(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    bool tablerow = tname(p, t, "tablerow");
    const char *what = tablerow ? "tablerow" : "for";
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_tok var = liq_lex_next(&lx);
    liq_tok in = liq_lex_next(&lx);
    if (var.t != T_IDENT || in.t != T_IDENT || in.n != 2 || memcmp(in.p, "in", 2))
        return liq_perr(p, t->pos, "syntax error in '%s': use {%% %s item in collection %%}", what, what);
    liq_node *n = new_node(p, tablerow ? N_TABLEROW : N_FOR, t->pos);
    n->u.loop.var = liq_mkname(var.p, var.n);
    size_t cstart = liq_lex_peek(&lx).pos;
    if (!(n->u.loop.coll = liq_parse_primary(p, &lx))) return LIQ_ESYNTAX;
    size_t cend = lx.has_peek ? lx.peeked.pos : lx.pos;
    while (cend > cstart && (p->src[cend - 1] == ' ' || p->src[cend - 1] == '\t' || p->src[cend - 1] == '\n'))
        cend--;
    /* offset:continue resumes the loop with the same "var-collection" name. */
    size_t rl = var.n + 1 + (cend - cstart);
    char *reg = liq_palloc(p, rl + 1);
    memcpy(reg, var.p, var.n);
    reg[var.n] = '-';
    memcpy(reg + var.n + 1, p->src + cstart, cend - cstart);
    n->u.loop.reg = reg;
    n->u.loop.reglen = rl;
    bool options = false;
    for (;;) {
        liq_tok a = liq_lex_next(&lx);
        if (a.t == T_END) break;
        if (a.t == T_COMMA) continue;
        if (a.t == T_IDENT && a.n == 8 && !memcmp(a.p, "reversed", 8)) {
            /* Liquid only sees reversed right after the collection, and
             * tablerow not at all: elsewhere it would be silently ignored. */
            if (tablerow) return liq_perr(p, a.pos, "'tablerow' has no 'reversed' option");
            if (options)
                return liq_perr(p, a.pos, "'reversed' must come before limit: and offset: (Liquid ignores it after them)");
            n->u.loop.reversed = true;
            continue;
        }
        options = true;
        liq_expr **slot = NULL;
        if (a.t == T_IDENT && a.n == 5 && !memcmp(a.p, "limit", 5)) slot = &n->u.loop.limit;
        else if (a.t == T_IDENT && a.n == 6 && !memcmp(a.p, "offset", 6)) slot = &n->u.loop.offset;
        else if (tablerow && a.t == T_IDENT && a.n == 4 && !memcmp(a.p, "cols", 4)) slot = &n->u.loop.cols;
        if (!slot || liq_lex_next(&lx).t != T_COLON) {
            if (a.t == T_ERR) return liq_perr(p, lx.errpos, "%s", lx.errmsg);
            return liq_perr(p, a.pos, "unknown '%s' option (use limit:, offset:%s%s)", what,
                            tablerow ? ", cols:" : "", tablerow ? "" : " or reversed");
        }
        liq_tok v = liq_lex_peek(&lx);
        /* tablerow has no offset:continue; there `continue` is a variable. */
        if (!tablerow && slot == &n->u.loop.offset && v.t == T_IDENT && v.n == 8 && !memcmp(v.p, "continue", 8)) {
            liq_lex_next(&lx);
            n->u.loop.offset_continue = true;
            continue;
        }
        if (!(*slot = liq_parse_primary(p, &lx))) return LIQ_ESYNTAX;
    }
    const char *endname = tablerow ? "endtablerow" : "endfor";
    const char *stops_for[] = {"else", endname, NULL}, *stops_end[] = {endname, NULL};
    bool bl, bl2 = true;
    long e = body_until(p, t, what, &n->u.loop.body, tablerow ? stops_end : stops_for, &bl);
    if (e < 0) return (int)e;
    if (!tablerow && tname(p, &p->toks.t[e], "else")) {
        n->u.loop.els = liq_palloc(p, sizeof *n->u.loop.els);
        e = body_until(p, t, what, n->u.loop.els, stops_end, &bl2);
        if (e < 0) return (int)e;
    }
    *blank = bl && bl2 && !tablerow;
    if (*blank) {
        strip_blank(&n->u.loop.body);
        if (n->u.loop.els) strip_blank(n->u.loop.els);
    }
    *out = n;
    return 0;
}

static int tag_assign(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_tok var = liq_lex_next(&lx);
    liq_tok eq = liq_lex_next(&lx);
    if (var.t != T_IDENT || eq.t != T_ASSIGN)
        return liq_perr(p, t->pos, "syntax error in 'assign': use {%% assign name = value %%}");
    liq_node *n = new_node(p, N_ASSIGN, t->pos);
    n->u.assign.var = liq_mkname(var.p, var.n);
    if (!(n->u.assign.val = liq_parse_filtered(p, &lx)) || liq_expect_end(p, &lx, "assign"))
        return LIQ_ESYNTAX;
    *blank = true;
    *out = n;
    return 0;
}

static int tag_capture(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_tok var = liq_lex_next(&lx);
    if ((var.t != T_IDENT && var.t != T_STR) || liq_lex_next(&lx).t != T_END)
        return liq_perr(p, t->pos, "syntax error in 'capture': use {%% capture name %%}");
    liq_node *n = new_node(p, N_CAPTURE, t->pos);
    n->u.capture.var = liq_mkname(var.p, var.n);
    static const char *const stops[] = {"endcapture", NULL};
    bool bl;
    long e = body_until(p, t, "capture", &n->u.capture.body, stops, &bl);
    if (e < 0) return (int)e;
    *blank = true;
    *out = n;
    return 0;
}

static int tag_counter(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_tok var = liq_lex_next(&lx);
    bool incr = tname(p, t, "increment");
    if (var.t != T_IDENT || liq_lex_next(&lx).t != T_END)
        return liq_perr(p, t->pos, "syntax error in '%s': use {%% %s name %%}", incr ? "increment" : "decrement",
                        incr ? "increment" : "decrement");
    liq_node *n = new_node(p, incr ? N_INCR : N_DECR, t->pos);
    n->u.counter = liq_mkname(var.p, var.n);
    *blank = false;
    *out = n;
    return 0;
}

static int tag_cycle(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    liq_lexer lx;
    lexer_for(p, t, &lx);
    liq_node *n = new_node(p, N_CYCLE, t->pos);
    liq_expr *vals[256];
    int nv = 0;
    liq_expr *first = liq_parse_primary(p, &lx);
    if (!first) return LIQ_ESYNTAX;
    if (liq_lex_peek(&lx).t == T_COLON) {
        liq_lex_next(&lx);
        n->u.cycle.group = first;
        if (!(first = liq_parse_primary(p, &lx))) return LIQ_ESYNTAX;
    }
    /* Liquid drops nil literals from the list (compact). */
    liq_expr *v = first;
    for (;;) {
        if (!(v->kind == EX_LIT && v->u.lit.t == LV_NIL)) {
            if (nv == 256) return liq_perr(p, t->pos, "too many values in 'cycle'");
            vals[nv++] = v;
        }
        if (liq_lex_peek(&lx).t != T_COMMA) break;
        liq_lex_next(&lx);
        if (!(v = liq_parse_primary(p, &lx))) return LIQ_ESYNTAX;
    }
    if (liq_expect_end(p, &lx, "cycle")) return LIQ_ESYNTAX;
    n->u.cycle.vals = liq_palloc(p, (size_t)(nv ? nv : 1) * sizeof *vals);
    memcpy(n->u.cycle.vals, vals, (size_t)nv * sizeof *vals);
    n->u.cycle.nv = nv;
    /* Cycles without a group share their state when their lists print the
     * same in Ruby (Liquid keys them by the list's to_s): equal literals
     * ('a' and "a", 1.0 and 1.00) do, a variable or a range with one never
     * does (Liquid prints the lookup object). The key only has to be equal
     * when Ruby's is, so it is a tagged form of each value. */
    size_t klen = 0;
    for (int i = 0; i < nv; i++)
        klen += (vals[i]->kind == EX_LIT && vals[i]->u.lit.t == LV_STR ? vals[i]->u.lit.u.s.n : 0) + 64;
    char *key = liq_palloc(p, klen + 1), *k = key;
    for (int i = 0; i < nv; i++) {
        const liq_expr *x = vals[i];
        const liq_val *l = &x->u.lit;
        int64_t lo, hi;
        if (x->kind == EX_LIT && l->t == LV_STR) {
            k += sprintf(k, "s%zu:", l->u.s.n);
            memcpy(k, l->u.s.p, l->u.s.n);
            k += l->u.s.n;
        } else if (x->kind == EX_LIT && l->t == LV_INT) {
            k += sprintf(k, "i%lld", (long long)l->u.i);
        } else if (x->kind == EX_LIT && l->t == LV_FLOAT) {
            *k++ = 'f';
            k += liq_fmt_float(l->u.f, k);
        } else if (x->kind == EX_LIT && (l->t == LV_BOOL || l->t == LV_EMPTY || l->t == LV_BLANK)) {
            k += sprintf(k, "%s", l->t == LV_EMPTY ? "empty" : l->t == LV_BLANK ? "blank" : l->u.b ? "true" : "false");
        } else if (x->kind == EX_RANGE && (x->flags & RANGE_LIT) && liq_to_i(&x->u.range.lo->u.lit, &lo) == 0 &&
                   liq_to_i(&x->u.range.hi->u.lit, &hi) == 0) {
            k += sprintf(k, "r%lld..%lld", (long long)lo, (long long)hi);
        } else {
            k += sprintf(k, "%p", (const void *)x);
        }
        *k++ = ',';
    }
    n->u.cycle.key = key;
    n->u.cycle.klen = (size_t)(k - key);
    *blank = false;
    *out = n;
    return 0;
}

static int tag_echo(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    liq_lexer lx;
    lexer_for(p, t, &lx);
    *blank = false;
    if (liq_lex_peek(&lx).t == T_END) return 0;
    liq_node *n = new_node(p, N_OUTPUT, t->pos);
    if (!(n->u.out = liq_parse_filtered(p, &lx)) || liq_expect_end(p, &lx, "echo")) return LIQ_ESYNTAX;
    *out = n;
    return 0;
}

static int tag_interrupt(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    *out = new_node(p, tname(p, t, "break") ? N_BREAK : N_CONTINUE, t->pos);
    *blank = false;
    return 0;
}

static int tag_ifchanged(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    static const char *const stops[] = {"endifchanged", NULL};
    liq_node *n = new_node(p, N_IFCHANGED, t->pos);
    bool bl;
    long e = body_until(p, t, "ifchanged", &n->u.ifchanged, stops, &bl);
    if (e < 0) return (int)e;
    *blank = bl;
    *out = n;
    return 0;
}

static int tag_comment(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    *blank = true;
    /* A node that prints nothing: for a pending break it is a tag. */
    *out = new_node(p, N_NOP, t->pos);
    if (!t->inline_liquid || tname(p, t, "#")) return 0;
    /* comment ... endcomment inside {% liquid %}: skip whole lines. */
    int depth = 1;
    for (; p->i < p->toks.n; p->i++) {
        const liq_rawtok *d = &p->toks.t[p->i];
        if (d->kind != RT_TAG || !d->inline_liquid) continue;
        if (tname(p, d, "comment")) depth++;
        if (tname(p, d, "endcomment") && --depth == 0) {
            p->i++;
            return 0;
        }
    }
    return liq_perr(p, t->pos, "'comment' tag was never closed");
}

static int tag_unsupported(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    (void)out;
    (void)blank;
    return liq_perr(p, t->pos, "tag '%.*s' is not supported", (int)t->namelen, p->src + t->name);
}

static int tag_braze(liq_parser *p, const liq_rawtok *t, liq_node **out, bool *blank) {
    *blank = false;
    if (tname(p, t, "abort_message")) return liq_parse_abort(p, t, out);
    if (tname(p, t, "connected_content")) return liq_parse_cc(p, t, out);
    return liq_parse_block_tag(p, t, out);
}

static const struct {
    const char *name;
    tag_fn fn;
} tags[] = {
    {"if", tag_if},
    {"unless", tag_if},
    {"case", tag_case},
    {"for", tag_for},
    {"tablerow", tag_for},
    {"assign", tag_assign},
    {"capture", tag_capture},
    {"increment", tag_counter},
    {"decrement", tag_counter},
    {"cycle", tag_cycle},
    {"echo", tag_echo},
    {"break", tag_interrupt},
    {"continue", tag_interrupt},
    {"ifchanged", tag_ifchanged},
    {"comment", tag_comment},
    {"#", tag_comment},
    {"abort_message", tag_braze},
    {"connected_content", tag_braze},
    {"content_blocks", tag_braze},
    {"include", tag_unsupported},
    {"render", tag_unsupported},
    {"layout", tag_unsupported},
    {"section", tag_unsupported},
};

static const char *const delimiters[] = {
    "else", "elsif", "when", "endif", "endunless", "endcase", "endfor", "endtablerow", "endcapture",
    "endcomment", "endraw", "endifchanged", NULL,
};

static int parse_body(liq_parser *p, liq_body *out, const char *const *stops, bool *blank) {
    nodevec nv = {0};
    int rc = 0;
    *blank = true;
    if (++p->depth > MAX_BLOCK_DEPTH) {
        p->depth--;
        return liq_perr(p, p->i < p->toks.n ? p->toks.t[p->i].pos : 0, "blocks nested too deeply");
    }
    while (p->i < p->toks.n && !rc) {
        const liq_rawtok *t = &p->toks.t[p->i];
        if (t->kind == RT_TEXT) {
            p->i++;
            if (t->end == t->start && !t->raw) continue;
            if (t->raw || !all_ws(p->src + t->start, t->end - t->start)) *blank = false;
            liq_node *n = new_node(p, t->raw ? N_RAW : N_TEXT, t->pos);
            n->u.text.p = p->src + t->start;
            n->u.text.n = t->end - t->start;
            nv_push(&nv, n);
            continue;
        }
        if (t->kind == RT_OUTPUT) {
            p->i++;
            *blank = false;
            liq_lexer lx;
            liq_lex_init(&lx, p->src, t->start, t->end);
            if (liq_lex_peek(&lx).t == T_END) continue;
            liq_node *n = new_node(p, N_OUTPUT, t->pos);
            if (!(n->u.out = liq_parse_filtered(p, &lx)) || liq_expect_end(p, &lx, "output")) {
                rc = LIQ_ESYNTAX;
                break;
            }
            nv_push(&nv, n);
            continue;
        }
        if (t->namelen == 0) {
            /* The markers around {% liquid %} lines, or a line that is not a tag. */
            p->i++;
            if (t->end > t->start)
                rc = liq_perr(p, t->pos, "expected a tag name in 'liquid'");
            continue;
        }
        bool stop = false;
        for (const char *const *s = stops; s && *s && !stop; s++) stop = tname(p, t, *s);
        if (stop) break;
        tag_fn fn = NULL;
        for (size_t k = 0; k < sizeof tags / sizeof *tags && !fn; k++)
            if (tname(p, t, tags[k].name)) fn = tags[k].fn;
        if (!fn) {
            bool delim = false;
            for (const char *const *s = delimiters; *s && !delim; s++) delim = tname(p, t, *s);
            int nl = (int)(t->namelen > 60 ? 60 : t->namelen);
            const char *last = NULL;
            for (const char *const *s = stops; s && *s; s++) last = *s;
            if (delim && last)
                rc = liq_perr(p, t->pos, "'%.*s' is not a valid delimiter here (expected '%s')", nl,
                              p->src + t->name, last);
            else if (delim)
                rc = liq_perr(p, t->pos, "unexpected '%.*s' (no open block)", nl, p->src + t->name);
            else if (tname(p, t, "raw"))
                rc = liq_perr(p, t->pos, "'raw' cannot be used inside 'liquid'");
            else
                rc = liq_perr(p, t->pos, "unknown tag '%.*s'", nl, p->src + t->name);
            break;
        }
        p->i++;
        liq_node *n = NULL;
        bool bl = true;
        if ((rc = fn(p, t, &n, &bl))) break;
        *blank &= bl;
        if (n) nv_push(&nv, n);
    }
    p->depth--;
    if (!rc) {
        out->count = (uint32_t)nv.n;
        out->n = liq_palloc(p, (nv.n ? nv.n : 1) * sizeof *out->n);
        if (nv.n) memcpy(out->n, nv.v, nv.n * sizeof *nv.v);
    }
    free(nv.v);
    return rc;
}

int liq_parse_fragment(liq_parser *p, uint32_t start, uint32_t end, liq_body *out) {
    nodevec nv = {0};
    uint32_t i = start;
    int rc = 0;
    while (i < end && !rc) {
        uint32_t j = i;
        while (j + 1 < end && !(p->src[j] == '{' && p->src[j + 1] == '{')) j++;
        if (j + 1 >= end) j = end;
        if (j > i) {
            liq_node *n = new_node(p, N_TEXT, i);
            n->u.text.p = p->src + i;
            n->u.text.n = j - i;
            nv_push(&nv, n);
        }
        if (j >= end) break;
        long e = liq_scan_output_end(p->src, end, j + 2);
        if (e < 0) {
            rc = liq_perr(p, j, "output '{{' was not properly terminated with '}}'");
            break;
        }
        liq_lexer lx;
        liq_lex_init(&lx, p->src, j + 2, (size_t)e);
        if (liq_lex_peek(&lx).t != T_END) {
            liq_node *n = new_node(p, N_OUTPUT, j);
            if (!(n->u.out = liq_parse_filtered(p, &lx)) || liq_expect_end(p, &lx, "output")) {
                rc = LIQ_ESYNTAX;
                break;
            }
            nv_push(&nv, n);
        }
        i = (uint32_t)e + 2;
    }
    if (!rc) {
        out->count = (uint32_t)nv.n;
        out->n = liq_palloc(p, (nv.n ? nv.n : 1) * sizeof *out->n);
        if (nv.n) memcpy(out->n, nv.v, nv.n * sizeof *nv.v);
    }
    free(nv.v);
    return rc;
}

/* ------------------------------------------------------------ compile */

static void set_err(liq_error *err, int code, const char *src, size_t len, uint32_t pos, const char *msg) {
    if (!err) return;
    memset(err, 0, sizeof *err);
    err->code = code;
    liq_linecol(src, len, pos, &err->line, &err->col);
    snprintf(err->message, sizeof err->message, "%s", msg);
}

int liq_compile(const char *src, size_t len, liq_template **out, liq_error *err) {
    *out = NULL;
    if (err) memset(err, 0, sizeof *err);
    if (len > LIQ_MAX_SOURCE) {
        if (err) {
            err->code = LIQ_ESYNTAX;
            snprintf(err->message, sizeof err->message, "template is larger than %u bytes", LIQ_MAX_SOURCE);
        }
        return LIQ_ESYNTAX;
    }
    liq_template *t = xcalloc(1, sizeof *t);
    t->src = xmalloc(len + 1);
    if (len) memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    liq_arena_init(&t->arena, 0, len * 2 + 1024);
    liq_parser p = {.tpl = t, .src = t->src};
    const char *msg = NULL;
    int rc = liq_scan(t->src, len, &p.toks, &p.errpos, &msg);
    if (rc) {
        snprintf(p.errmsg, sizeof p.errmsg, "%s", msg);
    } else {
        bool blank;
        rc = parse_body(&p, &t->body, NULL, &blank);
    }
    free(p.toks.t);
    if (rc) {
        set_err(err, LIQ_ESYNTAX, t->src, len, p.errpos, p.errmsg);
        liq_template_free(t);
        return LIQ_ESYNTAX;
    }
    *out = t;
    return 0;
}

void liq_template_free(liq_template *t) {
    if (!t) return;
    liq_arena_free(&t->arena);
    free(t->src);
    free(t);
}
