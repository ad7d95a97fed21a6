/* expr.c -- parses Liquid expressions, filter chains and conditions.
 *
 * Grammar (over lexer.c's markup tokens):
 *   filtered := primary ('|' NAME (':' arg (',' arg)*)?)*
 *   arg      := NAME ':' primary | primary          (keyword or positional)
 *   primary  := STRING | NUMBER | true | false | nil | null | empty | blank
 *             | '(' primary '..' primary ')' | '{{' filtered '}}' | var
 *   var      := (NAME | '${' name '}') ('.' NAME | '.' '${' name '}' | '[' primary ']')*
 *   cond     := primary (OP primary)? (('and' | 'or' | '&&' | '||') cond)?
 * Conditions associate to the right with no precedence between and/or, as
 * in Liquid. Filters are resolved here, so an unknown filter or a wrong
 * argument count is a syntax error with a position rather than a surprise
 * at send time. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_EXPR_DEPTH 64

static bool ident_is(const liq_tok *t, const char *w) {
    return t->t == T_IDENT && strlen(w) == t->n && memcmp(t->p, w, t->n) == 0;
}

static const char *tok_desc(const liq_tok *t, char *buf, size_t n) {
    switch (t->t) {
    case T_END: return "end of markup";
    case T_IDENT:
    case T_BRAZE: snprintf(buf, n, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->p); return buf;
    case T_STR: return "a string";
    case T_INT:
    case T_FLOAT: return "a number";
    case T_DOT: return "'.'";
    case T_DOTDOT: return "'..'";
    case T_LBRACK: return "'['";
    case T_RBRACK: return "']'";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_PIPE: return "'|'";
    case T_COLON: return "':'";
    case T_COMMA: return "','";
    case T_CMP: return "a comparison";
    case T_OPEN2: return "'{{'";
    case T_CLOSE2: return "'}}'";
    case T_ASSIGN: return "'='";
    case T_AND: return "'&&'";
    case T_OR: return "'||'";
    default: return "an invalid character";
    }
}

static void *bad_tok(liq_parser *p, liq_lexer *lx, const liq_tok *t, const char *expected) {
    if (t->t == T_ERR) {
        liq_perr(p, lx->errpos, "%s", lx->errmsg ? lx->errmsg : "invalid markup");
        return NULL;
    }
    char buf[64];
    liq_perr(p, t->pos, "expected %s, got %s", expected, tok_desc(t, buf, sizeof buf));
    return NULL;
}

static liq_expr *new_expr(liq_parser *p, int kind, uint32_t pos) {
    liq_expr *e = liq_palloc(p, sizeof *e);
    e->kind = (uint8_t)kind;
    e->pos = pos;
    return e;
}

static liq_expr *lit(liq_parser *p, uint32_t pos, liq_val v) {
    liq_expr *e = new_expr(p, EX_LIT, pos);
    e->u.lit = v;
    return e;
}

int liq_expect_end(liq_parser *p, liq_lexer *lx, const char *what) {
    liq_tok t = liq_lex_next(lx);
    if (t.t == T_END) return 0;
    if (t.t == T_ERR) return liq_perr(p, lx->errpos, "%s", lx->errmsg);
    /* Quote the offending token as written. */
    size_t n = lx->pos > t.pos ? lx->pos - t.pos : 1;
    return liq_perr(p, t.pos, "unexpected \"%.*s\" in %s", (int)(n > 30 ? 30 : n), p->src + t.pos, what);
}

typedef struct {
    liq_seg *v;
    size_t n, cap;
} segvec;

static void seg_push(liq_parser *p, segvec *sv, liq_seg s) {
    if (sv->n == sv->cap) {
        size_t nc = sv->cap ? sv->cap * 2 : 4;
        liq_seg *q = liq_palloc(p, nc * sizeof *q);
        if (sv->n) memcpy(q, sv->v, sv->n * sizeof *q);
        sv->v = q;
        sv->cap = nc;
    }
    sv->v[sv->n++] = s;
}

/* Keys are looked up in json-c objects, which want NUL-terminated names. */
static const char *cstr(liq_parser *p, const char *s, size_t n) {
    char *d = liq_palloc(p, n + 1);
    memcpy(d, s, n);
    return d;
}

static liq_expr *parse_var(liq_parser *p, liq_lexer *lx, const liq_tok *root) {
    liq_expr *e = new_expr(p, EX_VAR, root->pos);
    segvec sv = {0};
    const char *cname = root->p;
    size_t clen = root->n;
    if (root->t == T_BRAZE) {
        e->flags |= VAR_CTX;
        liq_braze_root(root->p, root->n, &cname, &clen);
    }
    bool ns = root->t == T_IDENT && liq_braze_namespace(root->p, root->n, &cname, &clen);
    bool is_blocks = ident_is(root, "content_blocks");
    for (;;) {
        liq_tok t = liq_lex_peek(lx);
        if (t.t == T_DOT) {
            liq_lex_next(lx);
            liq_tok k = liq_lex_next(lx);
            if (k.t != T_IDENT && k.t != T_BRAZE) return bad_tok(p, lx, &k, "a name after '.'");
            if (is_blocks && sv.n == 0) {
                /* {{content_blocks.${name}}}: the block's rendering. */
                liq_expr *b = new_expr(p, EX_BLOCK, root->pos);
                b->u.block.name = k.p;
                b->u.block.len = k.n;
                return b;
            }
            if (ns && sv.n == 0 && k.t == T_BRAZE) {
                e->flags |= VAR_CTX;
                const char *sub = ident_is(root, "subscribed_state") ? liq_braze_subscription(k.p, k.n) : NULL;
                if (sub) {
                    /* subscribed_state.${email_global} is the email_subscribe attribute. */
                    cname = sub;
                    clen = strlen(sub);
                    ns = false;
                    continue;
                }
            }
            const char *key = cstr(p, k.p, k.n);
            seg_push(p, &sv,
                     (liq_seg){.kind = SEG_KEY, .dot = k.t == T_IDENT, .key = key, .klen = k.n, .jhash = liq_json_hash(key)});
        } else if (t.t == T_LBRACK) {
            liq_lex_next(lx);
            if (++p->edepth > MAX_EXPR_DEPTH) return liq_perr(p, t.pos, "expression nested too deeply"), NULL;
            liq_expr *ix = liq_parse_primary(p, lx);
            p->edepth--;
            if (!ix) return NULL;
            liq_tok c = liq_lex_next(lx);
            if (c.t != T_RBRACK) return bad_tok(p, lx, &c, "']'");
            if (ix->kind == EX_LIT && ix->u.lit.t == LV_INT) {
                seg_push(p, &sv, (liq_seg){.kind = SEG_INDEX, .idx = ix->u.lit.u.i});
            } else if (ix->kind == EX_LIT && ix->u.lit.t == LV_STR) {
                const char *key = cstr(p, ix->u.lit.u.s.p, ix->u.lit.u.s.n);
                seg_push(p, &sv, (liq_seg){.kind = SEG_KEY, .key = key, .klen = ix->u.lit.u.s.n,
                                           .jhash = liq_json_hash(key)});
            } else {
                seg_push(p, &sv, (liq_seg){.kind = SEG_EXPR, .e = ix});
            }
        } else {
            break;
        }
    }
    e->u.var.name = root->p;
    e->u.var.len = (uint32_t)root->n;
    e->u.var.hash = liq_hash(root->p, root->n);
    e->u.var.cname = cstr(p, cname, clen);
    e->u.var.cjhash = liq_json_hash(e->u.var.cname);
    e->u.var.clen = (uint32_t)clen;
    e->u.var.seg = sv.v;
    e->u.var.nseg = (uint32_t)sv.n;
    return e;
}

liq_expr *liq_parse_primary(liq_parser *p, liq_lexer *lx) {
    liq_tok t = liq_lex_next(lx);
    switch (t.t) {
    case T_STR: return lit(p, t.pos, liq_str(t.p, t.n));
    case T_INT: return lit(p, t.pos, liq_int(t.i));
    case T_FLOAT: return lit(p, t.pos, liq_float(t.f));
    case T_IDENT:
        if (ident_is(&t, "true")) return lit(p, t.pos, liq_bool(true));
        if (ident_is(&t, "false")) return lit(p, t.pos, liq_bool(false));
        if (ident_is(&t, "nil") || ident_is(&t, "null")) return lit(p, t.pos, LIQ_NIL);
        if (ident_is(&t, "empty")) return lit(p, t.pos, (liq_val){.t = LV_EMPTY});
        if (ident_is(&t, "blank")) return lit(p, t.pos, (liq_val){.t = LV_BLANK});
        return parse_var(p, lx, &t);
    case T_BRAZE: return parse_var(p, lx, &t);
    case T_LPAREN: {
        if (++p->edepth > MAX_EXPR_DEPTH) return liq_perr(p, t.pos, "expression nested too deeply"), NULL;
        liq_expr *lo = liq_parse_primary(p, lx);
        if (!lo) return NULL;
        liq_tok d = liq_lex_next(lx);
        if (d.t != T_DOTDOT) return bad_tok(p, lx, &d, "'..' in a range");
        liq_expr *hi = liq_parse_primary(p, lx);
        if (!hi) return NULL;
        liq_tok c = liq_lex_next(lx);
        if (c.t != T_RPAREN) return bad_tok(p, lx, &c, "')' closing a range");
        p->edepth--;
        liq_expr *e = new_expr(p, EX_RANGE, t.pos);
        e->u.range.lo = lo;
        e->u.range.hi = hi;
        if (lo->kind == EX_LIT && hi->kind == EX_LIT) e->flags |= RANGE_LIT;
        return e;
    }
    case T_OPEN2: {
        if (++p->edepth > MAX_EXPR_DEPTH) return liq_perr(p, t.pos, "expression nested too deeply"), NULL;
        liq_expr *e = liq_parse_filtered(p, lx);
        if (!e) return NULL;
        liq_tok c = liq_lex_next(lx);
        if (c.t != T_CLOSE2) return bad_tok(p, lx, &c, "'}}'");
        p->edepth--;
        return e;
    }
    default: return bad_tok(p, lx, &t, "a value");
    }
}

typedef struct {
    liq_expr **a;
    const char **kw;
    size_t *kwlen;
    int n, cap;
} argvec;

static void arg_push(liq_parser *p, argvec *v, liq_expr *e, const char *kw, size_t kwlen) {
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 4;
        liq_expr **a = liq_palloc(p, (size_t)nc * sizeof *a);
        const char **k = liq_palloc(p, (size_t)nc * sizeof *k);
        size_t *kl = liq_palloc(p, (size_t)nc * sizeof *kl);
        if (v->n) {
            memcpy(a, v->a, (size_t)v->n * sizeof *a);
            memcpy(k, v->kw, (size_t)v->n * sizeof *k);
            memcpy(kl, v->kwlen, (size_t)v->n * sizeof *kl);
        }
        v->a = a;
        v->kw = k;
        v->kwlen = kl;
        v->cap = nc;
    }
    v->a[v->n] = e;
    v->kw[v->n] = kw;
    v->kwlen[v->n] = kwlen;
    v->n++;
}

static int parse_filter(liq_parser *p, liq_lexer *lx, liq_fcall *f) {
    liq_tok name = liq_lex_next(lx);
    if (name.t != T_IDENT) {
        bad_tok(p, lx, &name, "a filter name after '|'");
        return LIQ_ESYNTAX;
    }
    f->pos = name.pos;
    f->def = liq_filter_find(name.p, name.n);
    if (!f->def)
        return liq_perr(p, name.pos, "unknown filter '%.*s'", (int)(name.n > 60 ? 60 : name.n), name.p);
    argvec av = {0};
    int npos = 0;
    if (liq_lex_peek(lx).t == T_COLON) {
        liq_lex_next(lx);
        for (;;) {
            /* NAME ':' starts a keyword argument: look two tokens ahead. */
            liq_lexer save = *lx;
            liq_tok k = liq_lex_next(lx);
            const char *kw = NULL;
            size_t kwlen = 0;
            if (k.t == T_IDENT && liq_lex_peek(lx).t == T_COLON) {
                liq_lex_next(lx);
                kw = k.p;
                kwlen = k.n;
            } else {
                *lx = save;
            }
            liq_expr *e = liq_parse_primary(p, lx);
            if (!e) return LIQ_ESYNTAX;
            arg_push(p, &av, e, kw, kwlen);
            if (!kw) npos++;
            if (liq_lex_peek(lx).t != T_COMMA) break;
            liq_lex_next(lx);
        }
    }
    if (npos < f->def->min || npos > f->def->max) {
        if (f->def->min == f->def->max)
            return liq_perr(p, name.pos, "filter '%s' takes %d argument%s, got %d", f->def->name, f->def->min,
                            f->def->min == 1 ? "" : "s", npos);
        return liq_perr(p, name.pos, "filter '%s' takes %d to %d arguments, got %d", f->def->name, f->def->min,
                        f->def->max, npos);
    }
    f->nargs = av.n;
    f->args = av.a;
    f->kw = av.kw;
    f->kwlen = av.kwlen;
    return 0;
}

liq_expr *liq_parse_filtered(liq_parser *p, liq_lexer *lx) {
    liq_expr *base = liq_parse_primary(p, lx);
    if (!base || liq_lex_peek(lx).t != T_PIPE) return base;
    liq_fcall *fs = NULL;
    int n = 0, cap = 0;
    while (liq_lex_peek(lx).t == T_PIPE) {
        liq_lex_next(lx);
        if (n == cap) {
            int nc = cap ? cap * 2 : 4;
            liq_fcall *q = liq_palloc(p, (size_t)nc * sizeof *q);
            if (n) memcpy(q, fs, (size_t)n * sizeof *q);
            fs = q;
            cap = nc;
        }
        memset(&fs[n], 0, sizeof fs[n]);
        if (parse_filter(p, lx, &fs[n])) return NULL;
        n++;
    }
    liq_expr *e = new_expr(p, EX_FILTERED, base->pos);
    e->u.filt.base = base;
    e->u.filt.f = fs;
    e->u.filt.nf = n;
    return e;
}

static liq_cond *parse_cmp(liq_parser *p, liq_lexer *lx) {
    liq_tok first = liq_lex_peek(lx);
    liq_expr *l = liq_parse_primary(p, lx);
    if (!l) return NULL;
    liq_cond *k = liq_palloc(p, sizeof *k);
    k->pos = first.pos;
    k->l = l;
    liq_tok t = liq_lex_peek(lx);
    if (t.t == T_CMP || ident_is(&t, "contains")) {
        liq_lex_next(lx);
        k->kind = C_CMP;
        k->op = t.t == T_CMP ? t.op : OP_CONTAINS;
        k->r = liq_parse_primary(p, lx);
        if (!k->r) return NULL;
    } else {
        k->kind = C_EXPR;
    }
    return k;
}

liq_cond *liq_parse_cond(liq_parser *p, liq_lexer *lx) {
    /* a and b or c  ==  a and (b or c): build the chain left to right,
     * each new link hanging off the previous one's right side. */
    liq_cond *head = parse_cmp(p, lx), **hole = &head;
    if (!head) return NULL;
    for (;;) {
        liq_tok t = liq_lex_peek(lx);
        int kind;
        if (t.t == T_AND || ident_is(&t, "and")) kind = C_AND;
        else if (t.t == T_OR || ident_is(&t, "or")) kind = C_OR;
        else break;
        liq_lex_next(lx);
        liq_cond *next = parse_cmp(p, lx);
        if (!next) return NULL;
        liq_cond *link = liq_palloc(p, sizeof *link);
        link->kind = (uint8_t)kind;
        link->pos = (*hole)->pos;
        link->a = *hole;
        link->b = next;
        *hole = link;
        hole = &link->b;
    }
    return head;
}
